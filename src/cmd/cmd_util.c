/* cmd_util.c: small helpers shared by the command families. */
#include <stdlib.h>
#include <string.h>

#include "cmd/cmd.h"

const char *nk_cmd_errmsg(ntkd_target *t)
{
    return t && t->ctx && t->ctx->errmsg[0] ? t->ctx->errmsg : "unknown error";
}

void nk_cmd_warnings(nk_out *o, const nk_strbuf *why, size_t max_shown)
{
    if (!why->len) return;
    json_object *arr = nk_json_arr(o, NULL, "warnings");
    const char *s = why->s;
    size_t shown = 0, more = 0;
    while (*s) {
        const char *e = strchr(s, '\n');
        size_t n = e ? (size_t)(e - s) : strlen(s);
        if (n && shown >= max_shown) {
            more++;
        } else if (n) {
            shown++;
            nk_printf(o, "WARNING: %.*s\n", (int)n, s);
            if (arr) {
                char *line = strndup(s, n);
                if (line) {
                    json_object_array_add(arr, json_object_new_string(line));
                    free(line);
                }
            }
        }
        s += n;
        if (*s == '\n') s++;
    }
    if (more) nk_printf(o, "WARNING: %zu more notes not shown\n", more);
}
