/* cmd_user.c: the process and thread commands of user-mode dumps (|, ~) and the exception
 * commands (.exr, .ecxr), which also serve kernel dumps that carry an exception. Output
 * follows WinDbg's shapes; every command also fills its JSON object. */
#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>

#include "cmd/cmd.h"
#include "dump/context.h"
#include "expr/expr.h"

/* An address argument: one MASM expression and nothing after it. */
static bool parse_addr(ntkd_target *t, const char *s, uint64_t *v, char *err, size_t errlen)
{
    const char *end;
    if (nk_eval(t, s, &end, v, err, errlen) != NTKD_OK) return false;
    if (*nk_skip_ws(end)) {
        snprintf(err, errlen, "Syntax error at '%s'", nk_skip_ws(end));
        return false;
    }
    return true;
}

/* ---- helpers ------------------------------------------------------------------------ */

/* The module name WinDbg uses: the file name without its directory and extension. */
static void module_short_name(const nk_module *m, char *buf, size_t len)
{
    const char *n = m->name ? m->name : "";
    const char *b = n;
    for (const char *p = n; *p; p++)
        if (*p == '\\' || *p == '/') b = p + 1;
    size_t l = strlen(b);
    const char *dot = strrchr(b, '.');
    if (dot && dot != b) l = (size_t)(dot - b);
    if (l >= len) l = len - 1;
    memcpy(buf, b, l);
    buf[l] = 0;
}

/* The symbol at an address when the symbol layer knows one ("ntdll!DbgBreakPoint"), else
 * "module+0xoff" for an address inside a loaded module, else an empty string. */
static void addr_where(ntkd_target *t, uint64_t a, char *buf, size_t len)
{
    if (nk_sym_describe_addr(t, a, buf, len)) return;
    buf[0] = 0;
    for (size_t i = 0; i < t->d.nmodules; i++) {
        const nk_module *m = &t->d.modules[i];
        if (m->unloaded || a < m->base || a - m->base >= m->size) continue;
        char nm[64];
        module_short_name(m, nm, sizeof nm);
        if (a == m->base) snprintf(buf, len, "%s", nm);
        else snprintf(buf, len, "%s+0x%llx", nm, (unsigned long long)(a - m->base));
        return;
    }
}

static size_t exception_thread_index(const ntkd_target *t)
{
    const nk_dump *d = &t->d;
    if (!d->exception.present) return SIZE_MAX;
    for (size_t i = 0; i < d->nthreads; i++)
        if (d->threads[i].id == d->exception.thread_id) return i;
    return SIZE_MAX;
}

/* The first module is the process image in a minidump's module list. */
static const nk_module *main_module(const ntkd_target *t)
{
    for (size_t i = 0; i < t->d.nmodules; i++)
        if (!t->d.modules[i].unloaded) return &t->d.modules[i];
    return NULL;
}

/* ---- | ---------------------------------------------------------------------------- */

nk_status cmd_pipe(nk_cmd_env *e, const char *a)
{
    ntkd_target *t = e->t;
    const char *arg = nk_skip_ws(a);
    if (*arg && strcmp(arg, "0") != 0 && strcmp(arg, ".") != 0 && strcmp(arg, "#") != 0 &&
        strcmp(arg, "*") != 0) {
        nk_cmd_error(e->o, "Illegal process error in '|%s': the dump holds one process (0)", arg);
        return NTKD_E_ARG;
    }
    const nk_module *m = main_module(t);
    const char *name = m && m->name && m->name[0] ? m->name : "?";
    nk_printf(e->o, ".  0\tid: %x\texamine\tname: %s\n", t->d.process_id, name);
    json_object *arr = nk_json_arr(e->o, NULL, "processes");
    json_object *j = nk_json_obj(e->o, arr, NULL);
    nk_json_int(e->o, j, "index", 0);
    nk_json_u64(e->o, j, "id", t->d.process_id);
    nk_json_str(e->o, j, "name", name);
    nk_json_str(e->o, j, "state", "examine");
    nk_json_bool(e->o, j, "current", true);
    return NTKD_OK;
}

/* ---- ~ ---------------------------------------------------------------------------- */

static void thread_line(nk_cmd_env *e, size_t i, json_object *arr)
{
    ntkd_target *t = e->t;
    const nk_thread *th = &t->d.threads[i];
    size_t xi = exception_thread_index(t);
    char mark = i == t->cur_thread ? '.' : i == xi ? '#' : ' ';
    char teb[18];
    nk_fmt_ptr(teb, th->teb, t->d.is64);
    nk_printf(e->o, "%c%3zu  Id: %x.%x Suspend: %u Teb: %s Unfrozen\n", mark, i, t->d.process_id,
              th->id, th->suspend_count, teb);
    json_object *j = nk_json_obj(e->o, arr, NULL);
    nk_json_int(e->o, j, "index", (int64_t)i);
    nk_json_u64(e->o, j, "process_id", t->d.process_id);
    nk_json_u64(e->o, j, "id", th->id);
    nk_json_int(e->o, j, "suspend", th->suspend_count);
    nk_json_u64(e->o, j, "teb", th->teb);
    nk_json_u64(e->o, j, "stack_start", th->stack_start);
    nk_json_u64(e->o, j, "stack_size", th->stack_size);
    nk_json_int(e->o, j, "priority_class", th->priority_class);
    nk_json_int(e->o, j, "priority", th->priority);
    nk_json_bool(e->o, j, "current", i == t->cur_thread);
    nk_json_bool(e->o, j, "exception", i == xi);
    nk_json_bool(e->o, j, "has_context", th->ctx.data != NULL);
}

/* Parses a thread selector: N (decimal), '.', '#', '*', or ~[id] (hex thread id). Returns
 * the index, SIZE_MAX for '*', or sets *bad. *rest points after the selector. */
static size_t thread_selector(ntkd_target *t, const char *s, const char **rest, bool *bad)
{
    *bad = false;
    s = nk_skip_ws(s);
    if (*s == '.') { *rest = s + 1; return t->cur_thread; }
    if (*s == '*') { *rest = s + 1; return SIZE_MAX; }
    if (*s == '#') {
        *rest = s + 1;
        size_t xi = exception_thread_index(t);
        if (xi == SIZE_MAX) *bad = true;
        return xi;
    }
    if (*s == '~' && s[1] == '[') {
        char *end;
        unsigned long long id = strtoull(s + 2, &end, 16);
        if (end == s + 2 || *end != ']') { *bad = true; *rest = s; return 0; }
        *rest = end + 1;
        for (size_t i = 0; i < t->d.nthreads; i++)
            if (t->d.threads[i].id == id) return i;
        *bad = true;
        return 0;
    }
    if (isdigit((unsigned char)*s)) {
        char *end;
        unsigned long long n = strtoull(s, &end, 10);
        *rest = end;
        if (n >= t->d.nthreads) *bad = true;
        return (size_t)n;
    }
    *bad = true;
    *rest = s;
    return 0;
}

/* What WinDbg shows after switching threads: the symbol line (when the symbol layer knows
 * the address) and the instruction at the thread's program counter. */
static void show_pc(nk_cmd_env *e, const nk_context *c)
{
    ntkd_target *t = e->t;
    uint64_t pc = nk_context_pc(c);
    char sym[256];
    if (nk_sym_describe_addr(t, pc, sym, sizeof sym)) nk_printf(e->o, "%s:\n", sym);
    nk_insn in;
    nk_disasm_one(t, c->arch, pc, c, &in);
    char line[512];
    nk_disasm_line(t, c->arch, &in, line, sizeof line);
    nk_printf(e->o, "%s\n", line);
    json_object *ji = nk_json_obj(e->o, NULL, "instruction");
    nk_json_u64(e->o, ji, "address", pc);
    nk_json_str(e->o, ji, "text", in.len ? in.text : NULL);
    if (sym[0]) nk_json_str(e->o, ji, "symbol", sym);
}

/* `~N cmd`, `~* cmd` (also `~* e cmd`): runs a command with each selected thread as the
 * current one (for `~*`, each after the thread's line as WinDbg prints it: "\n   0  Id: ..."), then
 * restores the current thread and context. JSON: "threads" holds each thread's fields and
 * the command's own JSON object under "result". */
static nk_status tilde_run(nk_cmd_env *e, size_t idx, const char *cmd)
{
    ntkd_target *t = e->t;
    if (cmd[0] == 'e' && (cmd[1] == ' ' || cmd[1] == '\t')) cmd = nk_skip_ws(cmd + 1);
    if (!*cmd || *cmd == '~' || *cmd == '|') {
        nk_cmd_error(e->o, "~: no command to run for the threads (nested ~ and | are not run)");
        return NTKD_E_ARG;
    }
    size_t first = idx == SIZE_MAX ? 0 : idx, last = idx == SIZE_MAX ? t->d.nthreads : idx + 1;
    size_t saved_thread = t->cur_thread;
    nk_context saved_ctx = t->cur_ctx;
    json_object *arr = nk_json_arr(e->o, NULL, "threads");
    nk_status st = NTKD_OK;
    size_t nok = 0;
    for (size_t i = first; i < last && i < t->d.nthreads; i++) {
        const nk_thread *th = &t->d.threads[i];
        /* the thread line for `~*` (WinDbg prints none for one named thread: `~1k`); JSON
         * always names the thread */
        if (idx == SIZE_MAX && !e->o->json) nk_printf(e->o, "\n");
        if (idx == SIZE_MAX || e->o->json) thread_line(e, i, arr);
        json_object *jt = arr ? json_object_array_get_idx(arr, json_object_array_length(arr) - 1) : NULL;
        t->cur_thread = i;
        if (th->ctx.data) t->cur_ctx = th->ctx;
        else {
            memset(&t->cur_ctx, 0, sizeof t->cur_ctx);
            t->cur_ctx.arch = t->d.arch;
        }
        bool quit = false;
        nk_status r;
        if (e->o->json) {
            char *buf = NULL;
            size_t len = 0;
            FILE *m = open_memstream(&buf, &len);
            if (!m) {
                st = NTKD_E_NOMEM;
                break;
            }
            r = ntkd_execute(t, cmd, m, NTKD_OUT_JSON, &quit);
            fclose(m);
            json_object *res = buf ? json_tokener_parse(buf) : NULL;
            free(buf);
            if (jt && res) json_object_object_add(jt, "result", res);
            else json_object_put(res);
        } else {
            fflush(e->o->f);
            r = ntkd_execute(t, cmd, e->o->f, NTKD_OUT_TEXT, &quit);
        }
        if (r == NTKD_OK) nok++;
        else st = r;
        if (quit) e->quit = true;
    }
    t->cur_thread = saved_thread;
    t->cur_ctx = saved_ctx;
    /* every thread: one failing thread (no context, say) does not fail the whole command */
    return idx == SIZE_MAX && nok ? NTKD_OK : st;
}

nk_status cmd_tilde(nk_cmd_env *e, const char *a)
{
    ntkd_target *t = e->t;
    const char *s = nk_skip_ws(a);
    if (!t->d.nthreads) {
        nk_cmd_error(e->o, "The dump holds no threads");
        return NTKD_E_NOTFOUND;
    }
    size_t idx = SIZE_MAX;
    bool bad = false;
    const char *rest = s;
    if (*s) idx = thread_selector(t, s, &rest, &bad);
    rest = nk_skip_ws(rest);
    bool sw = false;
    if (*rest == 's' && !*nk_skip_ws(rest + 1)) sw = true;
    else if (*rest && !bad && *s && *rest != '~' && *rest != '|') return tilde_run(e, idx, rest);
    else if (*rest) bad = true;
    if (bad || (sw && idx == SIZE_MAX)) {
        nk_cmd_error(e->o, "Illegal thread error in '~%s' (the dump holds threads 0 to %zu)", s,
                     t->d.nthreads - 1);
        return NTKD_E_ARG;
    }
    if (sw) {
        t->cur_thread = idx;
        const nk_thread *th = &t->d.threads[idx];
        if (th->ctx.data) t->cur_ctx = th->ctx;
        else {
            memset(&t->cur_ctx, 0, sizeof t->cur_ctx);
            t->cur_ctx.arch = t->d.arch;
            nk_printf(e->o, "WARNING: thread %zu (id %x) has no register context in the dump\n",
                      idx, th->id);
        }
        nk_json_int(e->o, NULL, "current_thread", (int64_t)idx);
        nk_json_u64(e->o, NULL, "id", th->id);
        nk_json_bool(e->o, NULL, "has_context", th->ctx.data != NULL);
        if (th->ctx.data) show_pc(e, &th->ctx);
        return NTKD_OK;
    }
    json_object *arr = nk_json_arr(e->o, NULL, "threads");
    if (idx == SIZE_MAX)
        for (size_t i = 0; i < t->d.nthreads; i++) thread_line(e, i, arr);
    else
        thread_line(e, idx, arr);
    return NTKD_OK;
}

/* ---- .exr ------------------------------------------------------------------------- */

/* Names of the common exception codes, in the words WinDbg uses where it has them. */
static const char *exception_name(uint32_t code)
{
    switch (code) {
    case 0x80000001: return "Guard page violation";
    case 0x80000002: return "Data misalignment";
    case 0x80000003: return "Break instruction exception";
    case 0x80000004: return "Single step exception";
    case 0xc0000005: return "Access violation";
    case 0xc0000006: return "In-page I/O error";
    case 0xc0000008: return "Invalid handle";
    case 0xc000000d: return "Invalid parameter";
    case 0xc000001d: return "Illegal instruction";
    case 0xc0000025: return "Noncontinuable exception";
    case 0xc0000026: return "Invalid disposition";
    case 0xc000008c: return "Array bounds exceeded";
    case 0xc000008d: return "Floating-point denormal operand";
    case 0xc000008e: return "Floating-point division by zero";
    case 0xc000008f: return "Floating-point inexact result";
    case 0xc0000090: return "Floating-point invalid operation";
    case 0xc0000091: return "Floating-point overflow";
    case 0xc0000092: return "Floating-point stack check";
    case 0xc0000093: return "Floating-point underflow";
    case 0xc0000094: return "Integer divide-by-zero";
    case 0xc0000095: return "Integer overflow";
    case 0xc0000096: return "Privileged instruction";
    case 0xc00000fd: return "Stack overflow";
    case 0xc0000374: return "Heap corruption";
    case 0xc0000409: return "Security check failure or stack buffer overrun";
    case 0xc0000420: return "Assertion failure";
    case 0xe06d7363: return "C++ EH exception";
    case 0x4000001f: return "WOW64 breakpoint";
    case 0x4000001e: return "WOW64 single step exception";
    default: return NULL;
    }
}

static void print_record(nk_cmd_env *e, uint32_t code, uint32_t flags, uint64_t record,
                         uint64_t addr, uint32_t nparams, const uint64_t *params, uint32_t nshown)
{
    ntkd_target *t = e->t;
    bool is64 = t->d.is64;
    char ab[18], where[96];
    nk_fmt_ptr(ab, addr, is64);
    addr_where(t, addr, where, sizeof where);
    const char *name = exception_name(code);
    if (where[0]) nk_printf(e->o, "ExceptionAddress: %s (%s)\n", ab, where);
    else nk_printf(e->o, "ExceptionAddress: %s\n", ab);
    if (name) nk_printf(e->o, "   ExceptionCode: %08x (%s)\n", code, name);
    else nk_printf(e->o, "   ExceptionCode: %08x\n", code);
    nk_printf(e->o, "  ExceptionFlags: %08x\n", flags);
    nk_printf(e->o, "NumberParameters: %u\n", nparams);
    for (uint32_t i = 0; i < nshown; i++) {
        if (is64) nk_printf(e->o, "   Parameter[%u]: %016llx\n", i, (unsigned long long)params[i]);
        else nk_printf(e->o, "   Parameter[%u]: %08llx\n", i, (unsigned long long)(params[i] & 0xffffffffu));
    }
    const char *access = NULL;
    if ((code == 0xc0000005 || code == 0xc0000006) && nshown >= 2) {
        char pb[24];
        if (is64) snprintf(pb, sizeof pb, "%016llx", (unsigned long long)params[1]);
        else snprintf(pb, sizeof pb, "%08llx", (unsigned long long)(params[1] & 0xffffffffu));
        switch (params[0]) {
        case 0: access = "read"; nk_printf(e->o, "Attempt to read from address %s\n", pb); break;
        case 1: access = "write"; nk_printf(e->o, "Attempt to write to address %s\n", pb); break;
        case 8: access = "execute"; nk_printf(e->o, "Attempt to execute non-executable address %s\n", pb); break;
        default: break;
        }
    }
    nk_json_u64(e->o, NULL, "address", addr);
    if (where[0]) nk_json_str(e->o, NULL, "address_where", where);
    nk_json_u64(e->o, NULL, "code", code);
    if (name) nk_json_str(e->o, NULL, "code_name", name);
    nk_json_u64(e->o, NULL, "flags", flags);
    nk_json_u64(e->o, NULL, "record", record);
    nk_json_int(e->o, NULL, "number_parameters", nparams);
    json_object *pa = nk_json_arr(e->o, NULL, "parameters");
    for (uint32_t i = 0; i < nshown; i++) nk_json_u64(e->o, pa, NULL, params[i]);
    if (access) {
        json_object *j = nk_json_obj(e->o, NULL, "access");
        nk_json_str(e->o, j, "kind", access);
        nk_json_u64(e->o, j, "address", params[1]);
    }
}

nk_status cmd_exr(nk_cmd_env *e, const char *a)
{
    ntkd_target *t = e->t;
    const char *arg = nk_skip_ws(a);
    if (!*arg) {
        nk_cmd_error(e->o, "Usage: .exr -1 | .exr address");
        return NTKD_E_ARG;
    }
    if (strcmp(arg, "-1") == 0) {
        const nk_exception *x = &t->d.exception;
        if (!x->present) {
            nk_cmd_error(e->o, "The dump holds no exception record");
            return NTKD_E_NOTFOUND;
        }
        nk_json_u64(e->o, NULL, "thread_id", x->thread_id);
        uint32_t shown = x->nparams > 15 ? 15 : x->nparams;
        print_record(e, x->code, x->flags, x->record, x->address, x->nparams, x->params, shown);
        return NTKD_OK;
    }
    char err[160];
    uint64_t va;
    if (!parse_addr(t, arg, &va, err, sizeof err)) {
        nk_cmd_error(e->o, "%s", err);
        return NTKD_E_ARG;
    }
    bool is64 = t->d.is64;
    const size_t hdr = is64 ? NK_EXR64_HDR : NK_EXR32_HDR;
    uint8_t buf[NK_EXR64_SIZE];
    char ab[18];
    nk_fmt_ptr(ab, va, is64);
    nk_json_u64(e->o, NULL, "record_address", va);
    size_t got = 0;
    nk_read_virt(t, va, buf, is64 ? NK_EXR64_SIZE : NK_EXR32_SIZE, &got);
    if (got < hdr) {
        nk_cmd_error(e->o, "Cannot read Exception record @ %s", ab);
        return NTKD_E_NOTPRESENT;
    }
    nk_exception x;
    uint32_t shown = nk_exception_decode(buf, got, is64, &x);
    if (shown < x.nparams)
        nk_printf(e->o, "WARNING: only %u of %u parameters are in the dump\n", shown, x.nparams);
    uint32_t np = nk_le32(buf + (is64 ? 0x18 : 0x10)); /* as stored, for the count line */
    print_record(e, x.code, x.flags, x.record, x.address, np, x.params, shown);
    return NTKD_OK;
}

/* ---- .ecxr ------------------------------------------------------------------------ */

nk_status cmd_ecxr(nk_cmd_env *e, const char *a)
{
    (void)a;
    ntkd_target *t = e->t;
    const nk_exception *x = &t->d.exception;
    if (!x->present || !x->ctx.data) {
        nk_cmd_error(e->o, "Unable to get exception context: the dump holds %s",
                     x->present ? "an exception record without a context" : "no exception");
        return NTKD_E_NOTFOUND;
    }
    size_t xi = exception_thread_index(t);
    if (xi != SIZE_MAX) t->cur_thread = xi;
    t->cur_ctx = x->ctx;
    nk_json_u64(e->o, NULL, "thread_id", x->thread_id);
    if (xi != SIZE_MAX) nk_json_int(e->o, NULL, "current_thread", (int64_t)xi);
    return cmd_r(e, "");
}
