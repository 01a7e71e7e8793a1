/* cmd_analyze.c: `!analyze`. `-show CODE [P1 P2 P3 P4]` prints what the bug check knowledge base
 * says about a code in WinDbg's layout ("NAME (code)", the explanation, "Arguments:" and one
 * "ArgN: value, meaning" line per parameter), with sub-code-specific meanings and decoded values
 * (status names, IRQLs, pool types, symbols). Without a code it describes the dump's own bug
 * check. `!analyze -v` prints the full analysis (analysis/analyze.c) in WinDbg's layout: the
 * banner, the bug check description, then keyed facts (BUGCHECK_CODE, PROCESS_NAME, CONTEXT,
 * FAULTING_IP, EXCEPTION_CODE_STR, STACK_TEXT, SYMBOL_NAME, MODULE_NAME, IMAGE_NAME,
 * FAILURE_BUCKET_ID, FAILURE_ID_HASH); BLAME_RULE and NTKD_NOTES are ntkd's additions.
 * `!analyze` without an option prints the same as -v. */
#include <stdlib.h>
#include <strings.h>

#include "analysis/analyze.h"
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

static void banner(nk_out *o, const char *title)
{
    static const char stars[] = "*******************************************************************************";
    nk_printf(o, "%s\n*%77s*\n*%*s%s%*s*\n*%77s*\n%s\n\n", stars, "", (int)(77 - strlen(title)) / 2, "", title,
              (int)(77 - strlen(title) + 1) / 2, "", "", stars);
}

static void key_line(nk_out *o, const char *key, const char *val)
{
    if (val && val[0]) nk_printf(o, "%s:  %s\n\n", key, val);
}

/* Prints a multi-line block under a key ("STACK_TEXT:" then the lines). */
static void key_block(nk_out *o, const char *key, const char *text)
{
    if (text && text[0]) nk_printf(o, "%s:  \n%s\n", key, text);
}

static nk_status analyze_v(nk_cmd_env *e)
{
    nk_out *o = e->o;
    ntkd_target *t = e->t;
    if (!t) {
        nk_cmd_error(o, "!analyze -v: no target");
        return NTKD_E_ARG;
    }
    nk_analysis *a = calloc(1, sizeof *a);
    if (!a) return NTKD_E_NOMEM;
    nk_analyze(t, a);
    const bool is64 = t->d.is64;
    char buf[64], b2[160];
    banner(o, t->d.has_bugcheck ? "Bugcheck Analysis" : "Exception Analysis");
    if (t->d.has_bugcheck) {
        show(e, a->code, a->params); /* JSON: code, name, explanation, args at the root */
        nk_printf(o, "\nDebugging Details:\n------------------\n\n");
        snprintf(buf, sizeof buf, "%x", a->code);
        key_line(o, "BUGCHECK_CODE", buf);
        for (int i = 0; i < 4; i++) {
            char k[16];
            snprintf(k, sizeof k, "BUGCHECK_P%d", i + 1);
            snprintf(buf, sizeof buf, "%llx", (unsigned long long)a->params[i]);
            nk_printf(o, "%s: %s\n", k, buf);
        }
        nk_printf(o, "\n");
    } else {
        nk_printf(o, "Debugging Details:\n------------------\n\n");
    }
    key_line(o, "PROCESS_NAME", a->process_name);
    if (a->exception_record) {
        snprintf(b2, sizeof b2, "%s -- (.exr %#llx)", nk_fmt_ptr(buf, a->exception_record, is64),
                 (unsigned long long)a->exception_record);
        key_line(o, "EXCEPTION_RECORD", b2);
    }
    if (!t->d.has_bugcheck && t->d.exception.present) { /* user dumps: the exception stream */
        const nk_exception *x = &t->d.exception;
        nk_printf(o, "EXCEPTION_RECORD:  (.exr -1)\nExceptionAddress: %s", nk_fmt_ptr(buf, x->address, is64));
        if (x->address && x->address == a->faulting_ip && a->faulting_ip_sym[0])
            nk_printf(o, " (%s)", a->faulting_ip_sym);
        nk_printf(o, "\n");
        nk_printf(o, "   ExceptionCode: %08x\n  ExceptionFlags: %08x\nNumberParameters: %u\n", x->code, x->flags,
                  x->nparams);
        for (uint32_t i = 0; i < x->nparams && i < 15; i++)
            nk_printf(o, "   Parameter[%u]: %s\n", i, nk_fmt_ptr(buf, x->params[i], is64));
        nk_printf(o, "\n");
    }
    if (a->trap_frame) {
        snprintf(b2, sizeof b2, "%s -- (.trap %#llx)", nk_fmt_ptr(buf, a->trap_frame, is64),
                 (unsigned long long)a->trap_frame);
        key_line(o, "TRAP_FRAME", b2);
        if (!a->context_record && a->context_regs[0]) {
            nk_printf(o, "%s%s\n", a->context_regs, a->faulting_insn);
            nk_printf(o, "Resetting default scope\n\n");
        }
    }
    if (a->context_record) {
        snprintf(b2, sizeof b2, "%s -- (.cxr %#llx)", nk_fmt_ptr(buf, a->context_record, is64),
                 (unsigned long long)a->context_record);
        nk_printf(o, "CONTEXT:  %s\n", b2);
        nk_printf(o, "%s%s\n", a->context_regs, a->faulting_insn);
        nk_printf(o, "Resetting default scope\n\n");
    }
    if (a->faulting_ip) {
        nk_printf(o, "FAULTING_IP: \n%s\n%s\n\n", a->faulting_ip_sym, a->faulting_insn);
    }
    if (a->has_exception) {
        snprintf(buf, sizeof buf, "%08x", a->exception_code);
        const char *n = nk_ntstatus_name(a->exception_code, NULL);
        if (n) snprintf(b2, sizeof b2, "%.20s (%.100s)", buf, n);
        else snprintf(b2, sizeof b2, "%s", buf);
        key_line(o, "EXCEPTION_CODE_STR", b2);
    }
    for (size_t i = 0; i < a->nkfacts && i < NK_AN_MAX_KFACTS; i++) { /* kernel diagnosis (kdiag.c) */
        const nk_afact *f = &a->kfacts[i];
        if (strchr(f->value, '\n')) nk_printf(o, "%s:  \n%s\n\n", f->key, f->value);
        else key_line(o, f->key, f->value);
    }
    key_block(o, "STACK_TEXT", a->stack_text);
    key_line(o, "SYMBOL_NAME", a->symbol_name);
    key_line(o, "MODULE_NAME", a->module_name);
    key_line(o, "IMAGE_NAME", a->image_name);
    key_line(o, "IMAGE_VERSION", a->image_version);
    if (a->image_timestamp) {
        snprintf(buf, sizeof buf, "%x", a->image_timestamp);
        key_line(o, "DEBUG_FLR_IMAGE_TIMESTAMP", buf);
    }
    key_line(o, "FAILURE_BUCKET_ID", a->bucket);
    if (a->bucket_hash[0]) {
        snprintf(b2, sizeof b2, "%.48s (ntkd's own hash, not WinDbg's)", a->bucket_hash);
        key_line(o, "FAILURE_ID_HASH", b2);
    }
    key_line(o, "BLAME_RULE", a->blame_rule);
    key_block(o, "NTKD_NOTES", a->notes);
    if (o->json && o->root) {
        json_object *j = nk_analysis_json(a);
        if (j) json_object_object_add(o->root, "analysis", j);
    }
    free(a);
    return NTKD_OK;
}

nk_status cmd_analyze(nk_cmd_env *e, const char *a)
{
    char word[64];
    const char *s = nk_next_word(nk_skip_ws(a), word, sizeof word);
    if (!strcasecmp(word, "-v") || !word[0]) {
        if (*nk_skip_ws(s)) {
            nk_cmd_error(e->o, "!analyze -v: unexpected argument '%s'", nk_skip_ws(s));
            return NTKD_E_ARG;
        }
        return analyze_v(e);
    }
    if (strcasecmp(word, "-show") != 0) {
        nk_cmd_error(e->o, "!analyze: unknown option '%s' (use -v or -show [CODE [P1 P2 P3 P4]])", word);
        return NTKD_E_ARG;
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
