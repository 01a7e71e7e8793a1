/* api.c: public entry points over the analysis engine (ntkd_analyze_json for the batch CLI). */
#include <stdlib.h>
#include <string.h>

#include "analysis/analyze.h"

ntkd_status ntkd_analyze_json(ntkd_target *t, char **json_out)
{
    if (!t || !json_out) return NTKD_E_ARG;
    *json_out = NULL;
    nk_analysis *a = calloc(1, sizeof *a); /* large (stack text): keep it off the stack */
    if (!a) return NTKD_E_NOMEM;
    nk_status st = nk_analyze(t, a);
    if (st != NTKD_OK) {
        free(a);
        return st;
    }
    json_object *o = nk_analysis_json(a);
    free(a);
    if (!o) return NTKD_E_NOMEM;
    /* The dump's system time (FILETIME, 100 ns since 1601) for first/last occurrence. */
    if (!json_object_object_get_ex(o, "system_time", NULL))
        json_object_object_add(o, "system_time", json_object_new_int64((int64_t)t->d.system_time));
    const char *s = json_object_to_json_string_ext(o, JSON_C_TO_STRING_PLAIN);
    *json_out = s ? strdup(s) : NULL;
    json_object_put(o);
    return *json_out ? NTKD_OK : NTKD_E_NOMEM;
}
