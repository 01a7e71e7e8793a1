/* cmd_stack.c: stacks and contexts.
 *   k, kn, kb, kv, kp, kc, kL (letters combine: kbn, kvn ...), with a frame count and
 *     `k = BasePtr StackPtr InstructionPtr`:
 *       " # Child-SP          RetAddr           Call Site"
 *       "00 ffff8504`29892120 fffff804`8b5a2e2c amdppm!WriteIoMemRawEx+0x70"
 *     A frame found by stack scan is printed like the others with "  (stack scan: guess)"
 *     appended (WinDbg has no mark); the frame that had no unwind data carries the reason,
 *     and the walk's stop reason follows the frames.
 *   .fnent addr       the RUNTIME_FUNCTION and decoded UNWIND_INFO (+ chained info, and the
 *                     primary function of a Basic-Block-Tools fragment)
 *   .cxr [addr]       switch to a CONTEXT record in memory (no address: the dump's default)
 *   .trap [addr]      switch to a KTRAP_FRAME (layout from the kernel's types)
 *   .frame [/r] [N]   select a frame; /r shows its registers (nonvolatiles recovered); `r`
 *                     then shows that frame's registers (ntkd_target.frame_ctx). */
#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>

#include "cmd/cmd.h"
#include "code/unwind.h"
#include "dump/context.h"
#include "expr/expr.h"
#include "image/pe.h"
#include "sym/sym.h"
#include "type/type.h"

/* session state of this file, in t->ext[NK_EXT_STACK] */
typedef struct stack_state {
    uint8_t *cxr_buf;    /* .cxr / .trap context bytes */
    uint8_t *frame_buf;  /* the selected frame's synthesized context */
    size_t frame_n;
} stack_state;

static void state_free(void *p)
{
    stack_state *s = p;
    if (!s) return;
    free(s->cxr_buf);
    free(s->frame_buf);
    free(s);
}

static stack_state *state_get(ntkd_target *t)
{
    return nk_target_ext(t, NK_EXT_STACK, sizeof(stack_state), state_free);
}

static void frame_reset(ntkd_target *t)
{
    memset(&t->frame_ctx, 0, sizeof t->frame_ctx);
    t->frame_of = NULL;
    stack_state *s = state_get(t);
    if (s) s->frame_n = 0;
}

static bool have_ctx(const ntkd_target *t)
{
    return t->cur_ctx.data && t->cur_ctx.len && t->cur_ctx.arch != NK_ARCH_UNKNOWN;
}

/* ---- contexts from registers ------------------------------------------------------------- */

/* Where each nk_uregs register lives in the architecture's CONTEXT (offset, bytes). */
static bool ctx_slot(nk_arch a, int i, uint32_t *off, unsigned *w)
{
    if (a == NK_ARCH_X64) {
        if (i < 16) { *off = 0x78 + 8u * (unsigned)i; *w = 8; return true; }
        if (i == NK_UR_X64_RIP) { *off = 0xf8; *w = 8; return true; }
        if (i == NK_UR_X64_EFL) { *off = 0x44; *w = 4; return true; }
        return false;
    }
    if (a == NK_ARCH_X86) {
        static const uint32_t o[10] = {0xb0, 0xac, 0xa8, 0xa4, 0xc4, 0xb4, 0xa0, 0x9c, 0xb8, 0xc0};
        if (i < 10) { *off = o[i]; *w = 4; return true; }
        return false;
    }
    if (a == NK_ARCH_ARM64) {
        if (i <= 31) { *off = 0x8 + 8u * (unsigned)i; *w = 8; return true; }
        if (i == NK_UR_A64_PC) { *off = 0x108; *w = 8; return true; }
        if (i == NK_UR_A64_CPSR) { *off = 0x4; *w = 4; return true; }
    }
    return false;
}

/* Builds a context: the template's bytes with every known register of r written in. */
static void ctx_patch(uint8_t *buf, size_t len, const nk_uregs *r)
{
    for (int i = 0; i < NK_UR_MAX; i++) {
        if (!(r->valid & (1ull << i))) continue;
        uint32_t off;
        unsigned w;
        if (!ctx_slot(r->arch, i, &off, &w) || off + w > len) continue;
        for (unsigned k = 0; k < w; k++) buf[off + k] = (uint8_t)(r->r[i] >> (8 * k));
    }
}

/* ---- the walk ---------------------------------------------------------------------------- */

static nk_status walk_current(ntkd_target *t, nk_out *o, size_t max, const uint64_t *bsi, nk_stack *st)
{
    if (!have_ctx(t)) {
        nk_cmd_error(o, "no register context");
        return NTKD_E_NOTFOUND;
    }
    nk_uregs r;
    if (nk_uregs_from_context(&t->cur_ctx, &r) != NTKD_OK) {
        nk_cmd_error(o, "the context's architecture cannot be unwound");
        return NTKD_E_UNSUPPORTED;
    }
    if (bsi) { /* k = BasePtr StackPtr InstructionPtr */
        int bp = r.arch == NK_ARCH_ARM64 ? NK_UR_A64_FP : 5;
        int sp = r.arch == NK_ARCH_ARM64 ? NK_UR_A64_SP : 4;
        int ip = r.arch == NK_ARCH_X64 ? NK_UR_X64_RIP : r.arch == NK_ARCH_X86 ? NK_UR_X86_EIP : NK_UR_A64_PC;
        r.r[bp] = bsi[0];
        r.r[sp] = bsi[1];
        r.r[ip] = bsi[2];
        r.valid = (1ull << bp) | (1ull << sp) | (1ull << ip);
    }
    return nk_stack_walk(t, &r, max, st);
}

static bool is_guess(const nk_stack *st, size_t i)
{
    for (size_t k = 0; k < i; k++)
        if (st->f[k].how == NK_FH_SCAN) return true;
    return false;
}

static const char *how_name(nk_frame_how h)
{
    static const char *const n[] = {"context", "unwind", "leaf", "machframe", "fpo", "framedata",
                                    "ebp", "fpchain", "trap", "scan"};
    return (unsigned)h < sizeof n / sizeof n[0] ? n[h] : "?";
}

/* The KTRAP_FRAME holding a machine frame whose RIP slot is at mf (x64), from the kernel's
 * types; 0 when the types are not available. */
static void parse_kname(const char *name, bool *n, bool *b, bool *v, bool *c)
{
    *n = *b = *v = *c = false;
    for (const char *p = name + 1; *p; p++) {
        if (*p == 'n') *n = true;
        else if (*p == 'b') *b = true;
        else if (*p == 'v') *v = *b = true;
        else if (*p == 'c') *c = true;
    }
}

/* Prints a walked stack as k does: the column header, one line per frame and the walk's stop
 * reason; JSON: "frames" and "stop" under parent (NULL: the root). Shared with the kernel-object
 * commands (cmd_kproc.c: !thread, !process). */
void nk_cmd_print_stack(nk_out *o, ntkd_target *t, const nk_stack *st, bool is64, unsigned flags, json_object *parent)
{
    bool numbered = flags & NK_STK_NUMBERED, args = flags & NK_STK_ARGS, verbose = flags & NK_STK_VERBOSE,
         calls_only = flags & NK_STK_CALLS;
    const char *spcol = is64 ? "Child-SP          " : "ChildEBP ";
    const char *retcol = is64 ? "RetAddr           " : "RetAddr  ";
    if (calls_only) nk_printf(o, "%sCall Site\n", numbered ? " # " : "");
    else if (args && is64)
        nk_printf(o, "%s%s%s: Args to Child%59s: Call Site\n", numbered ? " # " : "", spcol, retcol, "");
    else if (args)
        nk_printf(o, "%s%s%sArgs to Child              \n", numbered ? " # " : "", spcol, retcol);
    else nk_printf(o, "%s%s%sCall Site\n", numbered ? " # " : "", spcol, retcol);
    json_object *jf = nk_json_arr(o, parent, "frames");
    for (size_t i = 0; i < st->n; i++) {
        const nk_frame *f = &st->f[i];
        char sym[512], a1[24], a2[24];
        if (!nk_sym_describe(t, f->pc, sym, sizeof sym)) nk_fmt_ptr(sym, f->pc, is64);
        bool guess = is_guess(st, i);
        char line[1024];
        size_t k = 0;
        if (numbered) k += (size_t)snprintf(line + k, sizeof line - k, "%02zx ", i);
        if (calls_only) {
            char cs[512];
            snprintf(cs, sizeof cs, "%s", sym);
            char *bang = strchr(cs, '!');
            char *plus = bang ? strstr(bang, "+0x") : NULL;
            if (plus) *plus = 0;
            k += (size_t)snprintf(line + k, sizeof line - k, "%s", cs);
        } else {
            uint64_t shown_sp = is64 ? f->sp : f->fp;
            k += (size_t)snprintf(line + k, sizeof line - k, "%s %s ", nk_fmt_ptr(a1, shown_sp, is64),
                                  nk_fmt_ptr(a2, f->ret, is64));
            if (args) {
                if (is64) k += (size_t)snprintf(line + k, sizeof line - k, ": ");
                for (int j = 0; j < (is64 ? 4 : 3); j++)
                    k += (size_t)snprintf(line + k, sizeof line - k, "%s ", nk_fmt_ptr(a1, f->args[j], is64));
                if (is64) k += (size_t)snprintf(line + k, sizeof line - k, ": ");
            }
            k += (size_t)snprintf(line + k, sizeof line - k, "%s", sym);
            if (verbose && f->trap) {
                uint64_t tf = nk_trap_of_machframe(t, f->trap);
                if (tf) k += (size_t)snprintf(line + k, sizeof line - k, " (TrapFrame @ %s)", nk_fmt_ptr(a1, tf, is64));
                else k += (size_t)snprintf(line + k, sizeof line - k, " (machine frame @ %s)", nk_fmt_ptr(a1, f->trap, is64));
            }
        }
        if (k >= sizeof line) k = sizeof line - 1;
        if (guess) k += (size_t)snprintf(line + k, sizeof line - k, "  (stack scan: guess)");
        if (k >= sizeof line) k = sizeof line - 1;
        if (f->how == NK_FH_SCAN && f->note[0] && (i == 0 || strcmp(st->f[i - 1].note, f->note)))
            snprintf(line + k, sizeof line - k, "  (%s)", f->note);
        nk_printf(o, "%s\n", line);
        if (jf) {
            json_object *fo = nk_json_obj(o, jf, NULL);
            nk_json_int(o, fo, "n", (int64_t)i);
            nk_json_u64(o, fo, "child_sp", f->sp);
            nk_json_u64(o, fo, "ret", f->ret);
            nk_json_u64(o, fo, "pc", f->pc);
            nk_json_str(o, fo, "call_site", sym);
            nk_json_str(o, fo, "how", how_name(f->how));
            nk_json_bool(o, fo, "guess", guess);
            if (f->trap) nk_json_u64(o, fo, "machine_frame", f->trap);
            if (f->note[0]) nk_json_str(o, fo, "note", f->note);
            if (args) {
                json_object *ja = nk_json_arr(o, fo, "args");
                for (int j = 0; j < 4 && ja; j++) json_object_array_add(ja, nk_json_hex(f->args[j]));
            }
        }
    }
    nk_printf(o, "(stack walk ended: %s)\n", st->stop);
    nk_json_str(o, parent, "stop", st->stop);
}

nk_status cmd_k(nk_cmd_env *e, const char *a)
{
    ntkd_target *t = e->t;
    nk_out *o = e->o;
    bool numbered, args, verbose, calls_only;
    parse_kname(e->name, &numbered, &args, &verbose, &calls_only);
    const char *s = nk_skip_ws(a);
    uint64_t bsi[3];
    bool have_bsi = false;
    char err[256];
    if (*s == '=') {
        s = nk_skip_ws(s + 1);
        for (int i = 0; i < 3; i++) {
            const char *end;
            char w[128];
            const char *rest = nk_next_word(s, w, sizeof w);
            if (!w[0] || nk_eval(t, w, &end, &bsi[i], err, sizeof err) != NTKD_OK || *end) {
                nk_cmd_error(o, "k = BasePtr StackPtr InstructionPtr: bad value '%s'", w);
                return NTKD_E_ARG;
            }
            s = nk_skip_ws(rest);
        }
        have_bsi = true;
    }
    size_t max = 256;
    if (*s) {
        const char *end;
        uint64_t v;
        /* a frame count is hexadecimal unless written otherwise (WinDbg's default radix) */
        if (nk_eval(t, s, &end, &v, err, sizeof err) != NTKD_OK || *nk_skip_ws(end) || v == 0) {
            nk_cmd_error(o, "k: bad frame count '%s'", s);
            return NTKD_E_ARG;
        }
        max = v > 100000 ? 100000 : (size_t)v;
    }
    nk_stack st;
    nk_status rs = walk_current(t, o, max, have_bsi ? bsi : NULL, &st);
    if (rs != NTKD_OK && !st.n) {
        if (rs != NTKD_E_NOTFOUND && rs != NTKD_E_UNSUPPORTED) nk_cmd_error(o, "%s", st.stop);
        nk_stack_free(&st);
        return rs;
    }
    unsigned pf = (numbered ? NK_STK_NUMBERED : 0) | (args ? NK_STK_ARGS : 0) | (verbose ? NK_STK_VERBOSE : 0) |
                  (calls_only ? NK_STK_CALLS : 0);
    nk_cmd_print_stack(o, t, &st, t->cur_ctx.arch != NK_ARCH_X86, pf, NULL);
    nk_stack_free(&st);
    return NTKD_OK;
}

/* ---- .frame -------------------------------------------------------------------------------- */

nk_status cmd_frame(nk_cmd_env *e, const char *a)
{
    ntkd_target *t = e->t;
    nk_out *o = e->o;
    const char *s = nk_skip_ws(a);
    bool regs = false;
    if (s[0] == '/' && s[1] == 'r') {
        regs = true;
        s = nk_skip_ws(s + 2);
    }
    stack_state *ss = state_get(t);
    if (!ss) return NTKD_E_NOMEM;
    size_t want = (t->frame_of == t->cur_ctx.data && t->frame_ctx.len) ? ss->frame_n : 0;
    if (*s) {
        const char *end;
        uint64_t v;
        char err[256];
        if (nk_eval(t, s, &end, &v, err, sizeof err) != NTKD_OK || *nk_skip_ws(end) || v > 100000) {
            nk_cmd_error(o, ".frame: bad frame number '%s'", s);
            return NTKD_E_ARG;
        }
        want = (size_t)v;
    }
    nk_stack st;
    nk_status rs = walk_current(t, o, want + 1, NULL, &st);
    if (rs != NTKD_OK && !st.n) {
        nk_stack_free(&st);
        return rs;
    }
    if (want >= st.n) {
        nk_cmd_error(o, "Cannot find frame 0x%zx, previous scope unchanged (%s)", want, st.stop);
        nk_stack_free(&st);
        return NTKD_E_NOTFOUND;
    }
    const nk_frame *f = &st.f[want];
    if (want == 0) {
        frame_reset(t);
    } else {
        uint8_t *nb = malloc(t->cur_ctx.len);
        if (!nb) {
            nk_stack_free(&st);
            return NTKD_E_NOMEM;
        }
        memcpy(nb, t->cur_ctx.data, t->cur_ctx.len);
        ctx_patch(nb, t->cur_ctx.len, &f->regs);
        free(ss->frame_buf);
        ss->frame_buf = nb;
        t->frame_ctx = t->cur_ctx;
        t->frame_ctx.data = nb;
        t->frame_ctx.origin = "frame";
        t->frame_of = t->cur_ctx.data;
        ss->frame_n = want;
    }
    bool is64 = t->cur_ctx.arch != NK_ARCH_X86;
    char sym[512], a1[24], a2[24];
    if (!nk_sym_describe(t, f->pc, sym, sizeof sym)) nk_fmt_ptr(sym, f->pc, is64);
    nk_printf(o, "%02zx %s %s %s%s\n", want, nk_fmt_ptr(a1, is64 ? f->sp : f->fp, is64), nk_fmt_ptr(a2, f->ret, is64), sym,
              is_guess(&st, want) ? "  (stack scan: guess)" : "");
    nk_json_int(o, NULL, "frame", (int64_t)want);
    nk_json_u64(o, NULL, "child_sp", f->sp);
    nk_json_u64(o, NULL, "ret", f->ret);
    nk_json_str(o, NULL, "call_site", sym);
    nk_json_bool(o, NULL, "guess", is_guess(&st, want));
    nk_stack_free(&st);
    if (regs) {
        nk_cmd_env sub = *e;
        sub.name = "r";
        return cmd_r(&sub, "");
    }
    return NTKD_OK;
}

/* ---- .cxr / .trap -------------------------------------------------------------------------- */

/* Makes buf (a CONTEXT of arch, len bytes; ours from here on, freed on failure) the current
 * register context, named origin, in place of the one installed before; frames start over. */
static nk_status ctx_install(ntkd_target *t, uint8_t *buf, size_t len, nk_arch arch, const char *origin)
{
    stack_state *ss = state_get(t);
    if (!ss) {
        free(buf);
        return NTKD_E_NOMEM;
    }
    frame_reset(t);
    uint8_t *old = ss->cxr_buf;
    ss->cxr_buf = buf;
    t->cur_ctx.arch = arch;
    t->cur_ctx.data = buf;
    t->cur_ctx.len = len;
    t->cur_ctx.origin = origin;
    free(old);
    return NTKD_OK;
}

static nk_status switch_to(ntkd_target *t, nk_cmd_env *e, uint8_t *buf, size_t len, const char *origin)
{
    nk_status st = ctx_install(t, buf, len, t->cur_ctx.arch != NK_ARCH_UNKNOWN ? t->cur_ctx.arch : t->d.arch, origin);
    if (st != NTKD_OK) return st;
    nk_cmd_env sub = *e;
    sub.name = "r";
    return cmd_r(&sub, "");
}

static bool parse_addr(nk_cmd_env *e, const char *s, uint64_t *v)
{
    const char *end;
    char err[256];
    if (nk_eval(e->t, s, &end, v, err, sizeof err) != NTKD_OK || *nk_skip_ws(end)) {
        nk_cmd_error(e->o, "%s", err[0] ? err : "bad address");
        return false;
    }
    return true;
}

nk_status cmd_cxr(nk_cmd_env *e, const char *a)
{
    ntkd_target *t = e->t;
    const char *s = nk_skip_ws(a);
    if (!*s) {
        /* back to the dump's default context */
        stack_state *ss = state_get(t);
        frame_reset(t);
        if (t->d.ncontexts) t->cur_ctx = t->d.contexts[0];
        if (ss) {
            free(ss->cxr_buf);
            ss->cxr_buf = NULL;
        }
        nk_printf(e->o, "Resetting default scope\n");
        return NTKD_OK;
    }
    if (s[0] == '/' && s[1] == 'c') {
        /* ntkd extension: the dump's own saved contexts (header, KPRCB, ...) */
        s = nk_skip_ws(s + 2);
        if (!*s) {
            for (size_t i = 0; i < t->d.ncontexts; i++) {
                char ab[24];
                nk_printf(e->o, "%zu: %s, pc %s\n", i, t->d.contexts[i].origin ? t->d.contexts[i].origin : "?",
                          nk_fmt_ptr(ab, nk_context_pc(&t->d.contexts[i]), t->d.is64));
            }
            return NTKD_OK;
        }
        char *end;
        unsigned long i = strtoul(s, &end, 0);
        if (*nk_skip_ws(end) || i >= t->d.ncontexts) {
            nk_cmd_error(e->o, ".cxr /c: no saved context %s (the dump has %zu)", s, t->d.ncontexts);
            return NTKD_E_ARG;
        }
        frame_reset(t);
        t->cur_ctx = t->d.contexts[i];
        nk_cmd_env sub = *e;
        sub.name = "r";
        return cmd_r(&sub, "");
    }
    uint64_t addr;
    if (!parse_addr(e, s, &addr)) return NTKD_E_ARG;
    nk_arch arch = t->cur_ctx.arch != NK_ARCH_UNKNOWN ? t->cur_ctx.arch : t->d.arch;
    size_t len = nk_context_size(arch);
    if (!len) {
        nk_cmd_error(e->o, ".cxr: unknown architecture");
        return NTKD_E_UNSUPPORTED;
    }
    uint8_t *buf = malloc(len);
    if (!buf) return NTKD_E_NOMEM;
    size_t got = 0;
    nk_read_virt(t, addr, buf, len, &got);
    if (got < len) {
        char ab[24];
        nk_cmd_error(e->o, ".cxr: context at %s not readable (%zu of %zu bytes)", nk_fmt_ptr(ab, addr, t->d.is64), got, len);
        free(buf);
        return NTKD_E_NOTPRESENT;
    }
    t->cur_ctx.arch = arch;
    return switch_to(t, e, buf, len, ".cxr");
}

/* .trap: the KTRAP_FRAME's registers placed into a CONTEXT of the architecture. The layout
 * comes from the kernel's _KTRAP_FRAME type. */
nk_status cmd_trap(nk_cmd_env *e, const char *a)
{
    ntkd_target *t = e->t;
    const char *s = nk_skip_ws(a);
    if (!*s) return cmd_cxr(e, "");
    uint64_t addr;
    if (!parse_addr(e, s, &addr)) return NTKD_E_ARG;
    nk_arch arch = t->cur_ctx.arch != NK_ARCH_UNKNOWN ? t->cur_ctx.arch : t->d.arch;
    nk_typesrc *ts = nk_sym_types(t, "nt");
    uint64_t id;
    if (!ts || !nk_type_find(ts, "_KTRAP_FRAME", &id)) {
        nk_cmd_error(e->o, ".trap: the kernel's _KTRAP_FRAME type is not available (symbols for nt)");
        return NTKD_E_NOTFOUND;
    }
    size_t len = nk_context_size(arch);
    if (!len) {
        nk_cmd_error(e->o, ".trap: unknown architecture");
        return NTKD_E_UNSUPPORTED;
    }
    nk_uregs r;
    if (nk_trap_regs(t, addr, arch, &r) != NTKD_OK) {
        nk_cmd_error(e->o, ".trap: %s", t->ctx->errmsg);
        return NTKD_E_NOTPRESENT;
    }
    uint8_t *buf = calloc(1, len);
    if (!buf) return NTKD_E_NOMEM;
    /* segment registers and flags the trap frame holds, written where the CONTEXT has them */
    ctx_patch(buf, len, &r);
    if (arch == NK_ARCH_X64) {
        static const struct { const char *f; uint32_t off; } segs[] = {
            {"SegCs", 0x38}, {"SegDs", 0x3a}, {"SegEs", 0x3c}, {"SegFs", 0x3e}, {"SegGs", 0x40}, {"SegSs", 0x42}};
        for (size_t k = 0; k < sizeof segs / sizeof segs[0]; k++) {
            nk_tfield fl;
            uint16_t v;
            if (nk_type_field(ts, id, segs[k].f, &fl) && nk_read_u16(t, addr + fl.offset, &v) == NTKD_OK) {
                buf[segs[k].off] = (uint8_t)v;
                buf[segs[k].off + 1] = (uint8_t)(v >> 8);
            }
        }
    }
    t->cur_ctx.arch = arch;
    return switch_to(t, e, buf, len, ".trap");
}

/* Makes a context built from registers the current one (the dump's context of the same
 * architecture as template, every known register of r written in), as .cxr does; `origin`
 * names it. Shared with the kernel-object commands (cmd_kproc.c: .thread). */
nk_status nk_cmd_use_regs(ntkd_target *t, const nk_uregs *r, const char *origin)
{
    size_t len = nk_context_size(r->arch);
    if (!len) return NTKD_E_UNSUPPORTED;
    uint8_t *buf = calloc(1, len);
    if (!buf) return NTKD_E_NOMEM;
    for (size_t i = 0; i < t->d.ncontexts; i++) {
        const nk_context *c = &t->d.contexts[i];
        if (c->arch == r->arch && c->data && c->len >= len) {
            memcpy(buf, c->data, len);
            break;
        }
    }
    ctx_patch(buf, len, r);
    return ctx_install(t, buf, len, r->arch, origin);
}

/* ---- .fnent -------------------------------------------------------------------------------- */

static void print_unwind(nk_out *o, ntkd_target *t, nk_pe *pe, uint64_t base, const nk_pe_func *f,
                         const nk_x64_unwind *u, json_object *ju)
{
    char ab[24];
    nk_printf(o, "BeginAddress      = %s\n", nk_fmt_addr64(ab, f->begin));
    nk_printf(o, "EndAddress        = %s\n", nk_fmt_addr64(ab, f->end));
    nk_printf(o, "UnwindInfoAddress = %s\n\n", nk_fmt_addr64(ab, f->unwind));
    nk_json_u64(o, ju, "begin", f->begin);
    nk_json_u64(o, ju, "end", f->end);
    nk_json_u64(o, ju, "unwind_info", f->unwind);
    nk_printf(o, "Unwind info at %s, %x bytes\n", nk_fmt_addr64(ab, base + u->rva), u->size);
    nk_printf(o, "  version %u, flags %x, prolog %x, codes %x\n", u->version, u->flags, u->prolog_size,
              u->count_of_codes);
    if (u->frame_reg || u->frame_offset) nk_printf(o, "  frame reg %x, frame offs %x\n", u->frame_reg, u->frame_offset);
    nk_json_int(o, ju, "version", u->version);
    nk_json_int(o, ju, "flags", u->flags);
    nk_json_int(o, ju, "prolog", u->prolog_size);
    nk_json_int(o, ju, "codes", u->count_of_codes);
    nk_json_int(o, ju, "frame_reg", u->frame_reg);
    nk_json_int(o, ju, "frame_offset", u->frame_offset);
    if (u->has_handler) {
        char hs[512];
        uint64_t h = base + u->handler_rva;
        if (!nk_sym_describe(t, h, hs, sizeof hs)) nk_fmt_addr64(hs, h);
        nk_printf(o, "  handler routine: %s (%s), data %x\n", hs, nk_fmt_addr64(ab, h), u->handler_data);
        nk_json_str(o, ju, "handler", hs);
        nk_json_u64(o, ju, "handler_address", h);
        nk_json_u64(o, ju, "handler_data", u->handler_data);
    }
    json_object *jc = nk_json_arr(o, ju, "unwind_codes");
    for (size_t i = 0; i < u->ncodes; i++) {
        const nk_x64_code *c = &u->codes[i];
        char extra[160] = "";
        const char *nm = nk_x64_uwop_name(c->op);
        switch (c->op) {
        case NK_UWOP_PUSH_NONVOL: snprintf(extra, sizeof extra, " reg: %s.", nk_x64_reg_name(c->info)); break;
        case NK_UWOP_ALLOC_LARGE: snprintf(extra, sizeof extra, " FrameOffset: %x.", c->value); break;
        case NK_UWOP_ALLOC_SMALL: snprintf(extra, sizeof extra, "."); break;
        case NK_UWOP_SET_FPREG: snprintf(extra, sizeof extra, "."); break;
        case NK_UWOP_SAVE_NONVOL:
        case NK_UWOP_SAVE_NONVOL_FAR:
            snprintf(extra, sizeof extra, " FrameOffset: %x reg: %s.", c->value, nk_x64_reg_name(c->info));
            break;
        case NK_UWOP_SAVE_XMM128:
        case NK_UWOP_SAVE_XMM128_FAR:
            snprintf(extra, sizeof extra, " FrameOffset: %x reg: xmm%u.", c->value, c->info);
            break;
        case NK_UWOP_PUSH_MACHFRAME: snprintf(extra, sizeof extra, "%s", c->info ? " (with error code)." : "."); break;
        case NK_UWOP_EPILOG:
            if (u->version < 2) break;
            if (c->epilog_first) snprintf(extra, sizeof extra, " Length: %x. Flags: %x", c->code_offset, c->info);
            else if (c->value)
                snprintf(extra, sizeof extra, " Offset from end: %x (%016llX)", c->value,
                         (unsigned long long)(base + f->end - c->value));
            else snprintf(extra, sizeof extra, " (padding)");
            break;
        default: break;
        }
        nk_printf(o, "  %02x: offs %x, unwind op %u, op info %x\t%s%s\n", c->slot, c->code_offset, c->op, c->info,
                  nm ? nm : "?", extra);
        if (jc) {
            json_object *co = nk_json_obj(o, jc, NULL);
            nk_json_int(o, co, "slot", c->slot);
            nk_json_int(o, co, "offset", c->code_offset);
            nk_json_int(o, co, "op", c->op);
            nk_json_int(o, co, "info", c->info);
            nk_json_str(o, co, "name", nm);
            nk_json_int(o, co, "value", c->value);
        }
    }
    (void)pe;
}

nk_status cmd_fnent(nk_cmd_env *e, const char *a)
{
    ntkd_target *t = e->t;
    nk_out *o = e->o;
    const char *s = nk_skip_ws(a);
    uint64_t addr;
    if (!*s) {
        nk_cmd_error(o, ".fnent: an address is required");
        return NTKD_E_ARG;
    }
    if (!parse_addr(e, s, &addr)) return NTKD_E_ARG;
    uint64_t base = 0;
    nk_pe *pe = nk_sym_image_at(t, addr, &base);
    char ab[24];
    if (!pe) {
        nk_cmd_error(o, "No function entry for %s (%s)", nk_fmt_addr64(ab, addr),
                     nk_sym_module_of(t, addr) < 0 ? "no module there" : "the image is neither in the dump nor in the symbol store");
        return NTKD_E_NOTFOUND;
    }
    nk_pe_func f;
    nk_status fs = addr - base > UINT32_MAX ? NTKD_E_NOTFOUND : nk_pe_func_find(pe, (uint32_t)(addr - base), &f);
    if (fs != NTKD_OK) {
        nk_cmd_error(o, "No function entry for %s%s", nk_fmt_addr64(ab, addr),
                     fs == NTKD_E_NOTPRESENT ? " (the image's .pdata is not in the dump, and the image is not in the symbol store)"
                     : fs == NTKD_E_NOTFOUND ? " (no .pdata entry covers it: a leaf function)" : "");
        return fs == NTKD_E_NOTPRESENT ? fs : NTKD_E_NOTFOUND;
    }
    const nk_pe_headers *h = nk_pe_hdr(pe);
    if (h->machine != NK_PE_MACHINE_AMD64) {
        nk_cmd_error(o, ".fnent: only x64 unwind data is decoded here (image machine %s)", nk_pe_machine_name(h->machine));
        return NTKD_E_UNSUPPORTED;
    }
    nk_x64_unwind *u = malloc(sizeof *u);
    if (!u) return NTKD_E_NOMEM;
    uint64_t entry = base + h->dirs[NK_PE_DIR_EXCEPTION].rva + 12ull * f.index;
    nk_printf(o, "Debugger function entry %s for:\n", nk_fmt_addr64(ab, entry));
    nk_json_u64(o, NULL, "entry", entry);
    if (!o->json) {
        char lnarg[40];
        snprintf(lnarg, sizeof lnarg, "0x%llx", (unsigned long long)addr);
        nk_cmd_env sub = *e;
        sub.name = "ln";
        cmd_ln(&sub, lnarg);
    }
    char sym[512];
    if (nk_sym_describe(t, addr, sym, sizeof sym)) nk_json_str(o, NULL, "symbol", sym);
    nk_printf(o, "\n");
    nk_pe_func res = f;
    nk_status st = nk_pe_x64_unwind(pe, &f, u, &res);
    if (st != NTKD_OK) {
        nk_printf(o, "BeginAddress      = %s\n", nk_fmt_addr64(ab, f.begin));
        nk_printf(o, "EndAddress        = %s\n", nk_fmt_addr64(ab, f.end));
        nk_printf(o, "UnwindInfoAddress = %s\n\n", nk_fmt_addr64(ab, f.unwind));
        nk_cmd_error(o, "Unwind info at %s not readable (%s)", nk_fmt_addr64(ab, base + (f.unwind & ~1u)), nk_status_name(st));
        free(u);
        return st;
    }
    print_unwind(o, t, pe, base, &f, u, nk_json_obj(o, NULL, "function"));
    bool chained = u->chained;
    json_object *jch = nk_json_arr(o, NULL, "chained");
    for (unsigned link = 0; u->chained && link < 32; link++) {
        nk_pe_func next = u->chain;
        nk_printf(o, "\nChained info:\n");
        if (nk_pe_x64_unwind(pe, &next, u, NULL) != NTKD_OK) {
            nk_printf(o, "BeginAddress      = %s\n", nk_fmt_addr64(ab, next.begin));
            nk_printf(o, "EndAddress        = %s\n", nk_fmt_addr64(ab, next.end));
            nk_printf(o, "UnwindInfoAddress = %s\n\n", nk_fmt_addr64(ab, next.unwind));
            nk_printf(o, "Unwind info at %s not readable\n", nk_fmt_addr64(ab, base + next.unwind));
            break;
        }
        print_unwind(o, t, pe, base, &next, u, nk_json_obj(o, jch, NULL));
    }
    /* a Basic-Block-Tools fragment: name the primary function through the chain */
    bool fragment = chained || strstr(sym, "?? ::") != NULL;
    if (fragment) {
        nk_pe_func prim;
        unsigned links = 0;
        if (nk_pe_x64_primary(pe, &f, &prim, &links) == NTKD_OK && links > 0) {
            char ps[512];
            uint64_t pa = base + prim.begin;
            if (!nk_sym_describe(t, pa, ps, sizeof ps)) nk_fmt_addr64(ps, pa);
            nk_printf(o, "\nPrimary function (through %u chain link%s): %s (%s), BeginAddress %s\n", links,
                      links == 1 ? "" : "s", ps, nk_fmt_addr64(ab, pa), nk_fmt_addr64(sym, prim.begin));
            nk_json_str(o, NULL, "primary", ps);
            nk_json_u64(o, NULL, "primary_address", pa);
        }
    }
    free(u);
    return NTKD_OK;
}
