// SPDX-License-Identifier: LGPL-2.1-or-later
/* task_detail.c - per-process details beyond the task walker (being written). */
