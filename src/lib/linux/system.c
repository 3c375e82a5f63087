// SPDX-License-Identifier: LGPL-2.1-or-later
/* system.c - system-wide kernel state as /proc shows it (being written). */
