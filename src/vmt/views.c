// SPDX-License-Identifier: LGPL-2.1-or-later
/* views.c - the views that saw a task, module or socket, as text and JSON (cli.h). */
#include <json-c/json.h>
#include <stdio.h>

#include "cli.h"

const char *cli_views_str(uint32_t bits, unsigned count, cli_view_name_fn name, char *buf,
			  size_t cap)
{
	size_t n = 0;

	buf[0] = '\0';
	for (unsigned i = 0; i < count && i < 32; i++)
		if (bits & (1u << i))
			n += (size_t)snprintf(buf + n, n < cap ? cap - n : 0, "%s%s", n ? "," : "",
					      name(1u << i));
	return buf;
}

struct json_object *cli_views_json(uint32_t bits, unsigned count, cli_view_name_fn name)
{
	json_object *a = json_object_new_array();

	for (unsigned i = 0; i < count && i < 32; i++)
		if (bits & (1u << i))
			json_object_array_add(a, json_object_new_string(name(1u << i)));
	return a;
}
