/* exec.c: runs one command line: finds the command in the table, checks where it applies,
 * and renders its output as text or as one JSON object. */
#include <ctype.h>
#include <stdarg.h>
#include <stdlib.h>

#include "cmd/cmd.h"
#include "sym/sym.h"

void nk_printf(nk_out *o, const char *fmt, ...)
{
    if (o->json) return;
    va_list ap;
    va_start(ap, fmt);
    vfprintf(o->f, fmt, ap);
    va_end(ap);
}

void nk_cmd_error(nk_out *o, const char *fmt, ...)
{
    char buf[1024];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(buf, sizeof buf, fmt, ap);
    va_end(ap);
    o->failed = true;
    if (o->json) {
        if (o->root) json_object_object_add(o->root, "error", json_object_new_string(buf));
    } else {
        fprintf(o->f, "%s\n", buf);
    }
}

static json_object *pick(nk_out *o, json_object *obj) { return obj ? obj : o->root; }

static void attach(json_object *parent, const char *key, json_object *v)
{
    if (json_object_is_type(parent, json_type_array)) json_object_array_add(parent, v);
    else json_object_object_add(parent, key, v);
}

json_object *nk_json_hex(uint64_t v)
{
    char buf[24];
    snprintf(buf, sizeof buf, "0x%llx", (unsigned long long)v);
    return json_object_new_string(buf);
}

void nk_json_u64(nk_out *o, json_object *obj, const char *key, uint64_t v)
{
    if (o->json && pick(o, obj)) attach(pick(o, obj), key, nk_json_hex(v));
}
void nk_json_int(nk_out *o, json_object *obj, const char *key, int64_t v)
{
    if (o->json && pick(o, obj)) attach(pick(o, obj), key, json_object_new_int64(v));
}
void nk_json_str(nk_out *o, json_object *obj, const char *key, const char *v)
{
    if (o->json && pick(o, obj)) attach(pick(o, obj), key, v ? json_object_new_string(v) : NULL);
}
void nk_json_bool(nk_out *o, json_object *obj, const char *key, bool v)
{
    if (o->json && pick(o, obj)) attach(pick(o, obj), key, json_object_new_boolean(v));
}
json_object *nk_json_arr(nk_out *o, json_object *parent, const char *key)
{
    if (!o->json || !pick(o, parent)) return NULL;
    json_object *a = json_object_new_array();
    attach(pick(o, parent), key, a);
    return a;
}
json_object *nk_json_obj(nk_out *o, json_object *parent, const char *key)
{
    if (!o->json || !pick(o, parent)) return NULL;
    json_object *a = json_object_new_object();
    attach(pick(o, parent), key, a);
    return a;
}

const char *nk_skip_ws(const char *s)
{
    while (*s && isspace((unsigned char)*s)) s++;
    return s;
}

const char *nk_next_word(const char *s, char *buf, size_t len)
{
    s = nk_skip_ws(s);
    size_t n = 0;
    if (*s == '"') {
        s++;
        while (*s && *s != '"') {
            if (*s == '\\' && s[1]) s++;
            if (n + 1 < len) buf[n++] = *s;
            s++;
        }
        if (*s == '"') s++;
    } else {
        while (*s && !isspace((unsigned char)*s)) {
            if (n + 1 < len) buf[n++] = *s;
            s++;
        }
    }
    if (len) buf[n] = 0;
    return nk_skip_ws(s);
}

/* Splits "name args": the name is "?"/"??", "|", "~", or a run of command characters. */
static const char *split_name(const char *line, char *name, size_t len)
{
    const char *s = nk_skip_ws(line);
    size_t n = 0;
    if (*s == '?' || *s == '|' || *s == '~') {
        name[n++] = *s++;
        if (name[0] == '?' && *s == '?') name[n++] = *s++;
    } else {
        while (*s && !isspace((unsigned char)*s) && *s != '"' && n + 1 < len) name[n++] = *s++;
    }
    name[n] = 0;
    return nk_skip_ws(s);
}

ntkd_status ntkd_execute(ntkd_target *t, const char *cmdline, FILE *out, ntkd_outmode mode,
                         bool *quit)
{
    char name[64];
    const char *args = split_name(cmdline, name, sizeof name);
    nk_out o = {.f = out, .json = mode == NTKD_OUT_JSON};
    if (o.json) {
        o.root = json_object_new_object();
        json_object_object_add(o.root, "command", json_object_new_string(nk_skip_ws(cmdline)));
    }
    nk_status st = NTKD_OK;
    if (!name[0]) goto done;
    const nk_cmd *c = nk_cmd_find(name);
    /* "l" count glued to a display command is not a name part: "dqL4" is rare; WinDbg needs a
     * space, as we do. */
    if (!c) {
        nk_cmd_error(&o, "Unknown command: '%s' (type 'help' for the list)", name);
        st = NTKD_E_NOTFOUND;
        goto done;
    }
    if ((c->flags & NK_CMD_KERNEL) && !ntkd_is_kernel(t)) {
        nk_cmd_error(&o, "%s: only for kernel-mode targets", name);
        st = NTKD_E_ARG;
        goto done;
    }
    if ((c->flags & NK_CMD_USER) && ntkd_is_kernel(t)) {
        nk_cmd_error(&o, "%s: only for user-mode targets", name);
        st = NTKD_E_ARG;
        goto done;
    }
    nk_sym_attach(t); /* symbol layer: expression hooks before the first command */
    nk_cmd_env env = {.t = t, .o = &o, .name = c->name};
    st = c->fn(&env, args);
    char *notes = nk_sym_take_notes(t); /* what the symbol layer chose on first use */
    if (notes) {
        if (o.json) json_object_object_add(o.root, "notes", json_object_new_string(notes));
        else fputs(notes, out);
        free(notes);
    }
    if (env.quit && quit) *quit = true;
    if (st == NTKD_OK && o.failed) st = NTKD_E_ARG;
done:
    if (o.json) {
        json_object_object_add(o.root, "ok", json_object_new_boolean(st == NTKD_OK));
        fprintf(out, "%s\n", json_object_to_json_string_ext(o.root, JSON_C_TO_STRING_PLAIN | JSON_C_TO_STRING_NOSLASHESCAPE));
        json_object_put(o.root);
    }
    fflush(out);
    return st;
}
