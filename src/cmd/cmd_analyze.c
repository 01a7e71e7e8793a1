/* cmd_analyze.c: `!analyze`. `-show CODE [P1 P2 P3 P4]` prints what the bug check knowledge base
 * says about a code in WinDbg's layout ("NAME (code)", the explanation, "Arguments:" and one
 * "ArgN: value, meaning" line per parameter), with sub-code-specific meanings and decoded values
 * (status names, IRQLs, pool types, symbols). Without a code it describes the dump's own bug
 * check. `!analyze -v` (the full analysis) needs the stack layer and is not implemented yet. */
#include <stdlib.h>
#include <strings.h>

#include "analysis/bugcheck.h"
#include "cmd/cmd.h"
#include "expr/expr.h"

/* Prints text wrapped at 79 columns; the first line continues a line already `col` wide, later
 * lines start with `indent`. */
static void print_wrapped(nk_out *o, const char *text, size_t col, const char *indent)
{
    const size_t width = 79;
    size_t indent_w = (indent[0] == '\t') ? 8 : strlen(indent);
    const char *s = text;
    bool first_word = true;
    while (*s) {
        while (*s == ' ') s++;
        if (!*s) break;
        size_t n = strcspn(s, " ");
        if (!first_word && col + 1 + n > width) {
            nk_printf(o, "\n%s", indent);
            col = indent_w;
            first_word = true;
        }
        nk_printf(o, "%s%.*s", first_word ? "" : " ", (int)n, s);
        col += n + (first_word ? 0 : 1);
        first_word = false;
        s += n;
    }
    nk_printf(o, "\n");
}

/* Symbol or follow-up hint for address-like parameters (needs the target). */
static void target_decode(ntkd_target *t, nk_bc_arg *a)
{
    if (a->decoded[0] || !a->value) return;
    char buf[24], sym[96];
    const bool is64 = t->d.is64;
    switch (a->kind) {
    case NK_BCK_ADDR:
        if (nk_sym_describe_addr(t, a->value, sym, sizeof sym)) snprintf(a->decoded, sizeof a->decoded, "%s", sym);
        break;
    case NK_BCK_EXR: {
        uint8_t code[4];
        size_t got = 0;
        if (nk_read_virt(t, a->value, code, sizeof code, &got) == NTKD_OK && got == sizeof code) {
            uint32_t c = nk_le32(code);
            const char *n = nk_ntstatus_name(c, NULL);
            snprintf(a->decoded, sizeof a->decoded, "exception record, code %08x%s%s: .exr %s", c, n ? " " : "",
                     n ? n : "", nk_fmt_ptr(buf, a->value, is64));
        } else {
            snprintf(a->decoded, sizeof a->decoded, "exception record: .exr %s", nk_fmt_ptr(buf, a->value, is64));
        }
        break;
    }
    case NK_BCK_CXR:
        snprintf(a->decoded, sizeof a->decoded, "context record: .cxr %s", nk_fmt_ptr(buf, a->value, is64));
        break;
    case NK_BCK_TRAP:
        snprintf(a->decoded, sizeof a->decoded, "trap frame: .trap %s", nk_fmt_ptr(buf, a->value, is64));
        break;
    default: break;
    }
}

static nk_status show(nk_cmd_env *e, uint32_t code, const uint64_t p[4])
{
    nk_out *o = e->o;
    ntkd_target *t = e->t;
    const nk_arch arch = t ? t->d.arch : NK_ARCH_X64;
    const bool is64 = t ? t->d.is64 : true;
    nk_bc_view v;
    nk_bc_describe(code, p, arch, &v);

    const char *name = v.info ? v.info->name : NULL;
    if (name) nk_printf(o, "%s (%x)\n", name, code);
    else nk_printf(o, "Unknown bugcheck code (%x)\n", code);
    if (v.info) print_wrapped(o, v.info->text, 0, "");
    nk_json_u64(o, NULL, "code", code);
    if (name) nk_json_str(o, NULL, "name", name);
    if (v.info) nk_json_str(o, NULL, "explanation", v.info->text);
    if (v.info && v.info->ndoc < 0) nk_json_bool(o, NULL, "parameters_documented", false);

    nk_printf(o, "Arguments:\n");
    json_object *arr = nk_json_arr(o, NULL, "args");
    for (int i = 0; i < 4; i++) {
        nk_bc_arg *a = &v.args[i];
        if (t) target_decode(t, a);
        char val[24];
        if (is64) snprintf(val, sizeof val, "%016llx", (unsigned long long)a->value);
        else snprintf(val, sizeof val, "%08llx", (unsigned long long)(a->value & 0xffffffffu));
        nk_printf(o, "Arg%d: %s", i + 1, val);
        if (a->meaning || a->decoded[0]) {
            nk_strbuf sb = {0};
            if (a->meaning) nk_sb_printf(&sb, "%s", a->meaning);
            if (a->decoded[0]) nk_sb_printf(&sb, "%s(%s)", a->meaning ? " " : "", a->decoded);
            nk_printf(o, ", ");
            print_wrapped(o, sb.s ? sb.s : "", 6 + strlen(val) + 2, "\t");
            nk_sb_free(&sb);
        } else {
            nk_printf(o, "\n");
        }
        json_object *j = nk_json_obj(o, arr, NULL);
        nk_json_u64(o, j, "value", a->value);
        nk_json_str(o, j, "kind", nk_bc_kind_name(a->kind));
        if (a->meaning) nk_json_str(o, j, "meaning", a->meaning);
        else nk_json_str(o, j, "meaning", "reserved");
        if (a->decoded[0]) nk_json_str(o, j, "decoded", a->decoded);
    }
    return NTKD_OK;
}

nk_status cmd_analyze(nk_cmd_env *e, const char *a)
{
    char word[64];
    const char *s = nk_next_word(nk_skip_ws(a), word, sizeof word);
    if (strcasecmp(word, "-show") != 0) {
        nk_cmd_error(e->o, "!analyze%s%s: not implemented yet: needs stacks (issue 4); "
                     "use !analyze -show [CODE [P1 P2 P3 P4]] for the bug check description",
                     word[0] ? " " : "", word);
        return NTKD_E_UNSUPPORTED;
    }
    uint64_t vals[5] = {0};
    int n = 0;
    s = nk_skip_ws(s);
    while (*s && n < 5) {
        char err[160];
        const char *end = s;
        if (nk_eval(e->t, s, &end, &vals[n], err, sizeof err) != NTKD_OK || end == s) {
            nk_cmd_error(e->o, "!analyze -show: %s", err[0] ? err : "bad argument");
            return NTKD_E_ARG;
        }
        n++;
        s = nk_skip_ws(end);
    }
    if (*s) {
        nk_cmd_error(e->o, "!analyze -show: too many arguments (CODE and at most four parameters)");
        return NTKD_E_ARG;
    }
    if (n == 0) {
        const nk_dump *d = e->t ? &e->t->d : NULL;
        if (!d || !d->has_bugcheck) {
            nk_cmd_error(e->o, "!analyze -show: give a bug check code (the dump records none)");
            return NTKD_E_ARG;
        }
        uint64_t p[4];
        for (int i = 0; i < 4; i++) p[i] = d->bugcheck_params[i];
        return show(e, d->bugcheck_code, p);
    }
    if (vals[0] > 0xffffffffull) {
        nk_cmd_error(e->o, "!analyze -show: bug check code %llx does not fit in 32 bits",
                     (unsigned long long)vals[0]);
        return NTKD_E_ARG;
    }
    return show(e, (uint32_t)vals[0], vals + 1);
}
