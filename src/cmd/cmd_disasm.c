/* cmd_disasm.c: the u family in WinDbg's shapes (the decoding is the code layer's,
 * code/disasm.h).
 *
 *   u [addr] [L n | addr2]   n instructions (8 by default) from addr; without an address,
 *                            continue after the last u (first time: the current pc)
 *       amdppm!WriteIoMemRawEx:
 *       fffff804`8b5832dc 4883ec28        sub     rsp,28h
 *       ...
 *   ub addr [L n]            the n instructions that end just before addr
 *   uf [/c] addr             the whole function containing addr: its extent from the PDB's
 *                            procedure record or the .pdata entry (primary of a chain), and
 *                            the blocks reached by jumps outside it (split functions), in
 *                            address order, a blank line and a label between blocks.
 *                            /c: only the calls:
 *       nt!Bar (fffff800`01234560)
 *         nt!Bar+0x1e (fffff800`0123457e):
 *           call to nt!Foo (fffff800`01239990)
 *
 * A label line "module!function:" (or "module!function+0x10:") comes before the first line
 * and before every instruction that starts a symbol. Unreadable bytes print as
 * "fffff804`8b58334c ??              ???". */
#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cmd/cmd.h"
#include "code/disasm.h"
#include "dump/context.h"
#include "expr/expr.h"
#include "image/pe.h"
#include "pdb/pdb.h"
#include "sym/sym.h"

#define U_DEFAULT 8
#define U_MAX 0x100000 /* instructions one command shows at most */

static nk_arch target_arch(const ntkd_target *t)
{
    if (t->d.arch != NK_ARCH_UNKNOWN) return t->d.arch;
    return t->cur_ctx.arch;
}

static bool eval_arg(nk_cmd_env *e, const char *s, const char **end, uint64_t *v)
{
    char err[256];
    if (nk_eval(e->t, s, end, v, err, sizeof err) != NTKD_OK) {
        nk_cmd_error(e->o, "%s", err);
        return false;
    }
    return true;
}

/* True when s starts an "L count" clause (after an address, any expression may follow). */
static bool is_count_clause(const char *s, bool after_addr)
{
    if (*s != 'L' && *s != 'l') return false;
    char c = s[1];
    if (c == '?' || isdigit((unsigned char)c)) return true;
    if (!after_addr) return false;
    return isxdigit((unsigned char)c) || c == '(' || c == '@' || c == '$' || c == ' ' || c == '\t';
}

typedef struct uargs {
    bool have_addr, have_count, have_end;
    uint64_t addr, count, end;
} uargs;

static bool parse_args(nk_cmd_env *e, const char *s, uargs *u)
{
    memset(u, 0, sizeof *u);
    s = nk_skip_ws(s);
    if (*s && !is_count_clause(s, false)) {
        if (!eval_arg(e, s, &s, &u->addr)) return false;
        u->have_addr = true;
        s = nk_skip_ws(s);
    }
    if (is_count_clause(s, true)) {
        s++;
        if (*s == '?') s++;
        if (!eval_arg(e, s, &s, &u->count)) return false;
        u->have_count = true;
        s = nk_skip_ws(s);
    } else if (*s && u->have_addr) {
        if (!eval_arg(e, s, &s, &u->end)) return false;
        u->have_end = true;
        s = nk_skip_ws(s);
    }
    if (*s) {
        nk_cmd_error(e->o, "Syntax error at '%s'", s);
        return false;
    }
    if (u->have_count && (u->count == 0 || u->count > U_MAX)) {
        nk_cmd_error(e->o, "%s: the count must be between 1 and 0x%x", e->name, U_MAX);
        return false;
    }
    return true;
}

/* The symbol of addr when addr starts it exactly ("nt!KeBugCheckEx"), else false. */
static bool symbol_start(ntkd_target *t, uint64_t addr, char *buf, size_t len)
{
    if (!nk_sym_describe(t, addr, buf, len)) return false;
    return strchr(buf, '!') && !strstr(buf, "+0x");
}

static void hexbytes(const nk_insn *in, char *hex, size_t len)
{
    hex[0] = 0;
    for (unsigned i = 0; i < in->len && 2 * i + 2 < len; i++) snprintf(hex + 2 * i, len - 2 * i, "%02x", in->bytes[i]);
}

/* One instruction line (and its JSON element). */
static void put_insn(nk_cmd_env *e, nk_disasm *d, const nk_insn *in, json_object *arr, const char *label)
{
    char line[600];
    nk_disasm_format(d, in, line, sizeof line);
    nk_printf(e->o, "%s\n", line);
    if (!arr) return;
    json_object *j = nk_json_obj(e->o, arr, NULL);
    nk_json_u64(e->o, j, "address", in->addr);
    char hex[40];
    hexbytes(in, hex, sizeof hex);
    nk_json_str(e->o, j, "bytes", in->len ? hex : NULL);
    nk_json_str(e->o, j, "text", in->text);
    if (label && label[0]) nk_json_str(e->o, j, "label", label);
    if (in->has_target) nk_json_u64(e->o, j, "target", in->target);
    if (in->has_memref) nk_json_u64(e->o, j, "memory", in->memref);
}

/* Lists n instructions from addr (or up to `end`, exclusive, when end > addr); returns the
 * address after the last one. */
static uint64_t list_from(nk_cmd_env *e, nk_disasm *d, uint64_t addr, uint64_t n, uint64_t end,
                          json_object *arr)
{
    ntkd_target *t = e->t;
    uint64_t pc = addr;
    char sym[400];
    nk_arch arch = nk_disasm_arch(d);
    for (uint64_t i = 0; i < U_MAX && (end ? pc < end : i < n); i++) {
        const char *label = NULL;
        if (i == 0 ? nk_sym_describe(t, pc, sym, sizeof sym) : symbol_start(t, pc, sym, sizeof sym)) {
            nk_printf(e->o, "%s:\n", sym);
            label = sym;
        }
        nk_insn in;
        nk_disasm_at(d, pc, NULL, &in);
        put_insn(e, d, &in, arr, label);
        uint64_t step = in.len ? in.len : (arch == NK_ARCH_ARM64 ? 4 : 1);
        pc += step;
        if (!t->d.is64) pc &= 0xffffffffull;
    }
    return pc;
}

static nk_disasm *open_disasm(nk_cmd_env *e)
{
    nk_arch arch = target_arch(e->t);
    nk_disasm *d = nk_disasm_new(e->t, arch);
    if (!d) nk_cmd_error(e->o, "%s: no disassembler for this target's architecture (%s)", e->name, nk_arch_name(arch));
    return d;
}

nk_status cmd_u(nk_cmd_env *e, const char *a)
{
    ntkd_target *t = e->t;
    uargs u;
    if (!parse_args(e, a, &u)) return NTKD_E_ARG;
    if (!u.have_addr) {
        if (t->u_have) u.addr = t->u_next;
        else if (t->cur_ctx.data && t->cur_ctx.len) u.addr = nk_context_pc(&t->cur_ctx);
        else {
            nk_cmd_error(e->o, "u: no address given and no current instruction");
            return NTKD_E_ARG;
        }
    }
    if (!t->d.is64) u.addr &= 0xffffffffull;
    if (u.have_end && (u.end <= u.addr || u.end - u.addr > 16 * (uint64_t)U_MAX)) {
        nk_cmd_error(e->o, "Range error");
        return NTKD_E_ARG;
    }
    nk_disasm *d = open_disasm(e);
    if (!d) return NTKD_E_UNSUPPORTED;
    nk_json_u64(e->o, NULL, "address", u.addr);
    json_object *arr = nk_json_arr(e->o, NULL, "instructions");
    t->u_next = list_from(e, d, u.addr, u.have_count ? u.count : U_DEFAULT, u.have_end ? u.end : 0, arr);
    t->u_have = true;
    nk_disasm_free(d);
    return NTKD_OK;
}

/* The function containing addr: extent [lo, hi) and entry. From the PDB's procedure records
 * first, then the image's .pdata (the primary entry of a chain). False when neither knows. */
static bool func_extent(ntkd_target *t, uint64_t addr, uint64_t *lo, uint64_t *hi, const char **how)
{
    uint64_t base = 0;
    struct nk_pdb *pdb = nk_sym_pdb_at(t, addr, &base);
    if (pdb && addr >= base && addr - base <= UINT32_MAX) {
        nk_pdb_func f;
        if (nk_pdb_func_by_rva(pdb, (uint32_t)(addr - base), &f) == NTKD_OK && f.size) {
            *lo = base + f.rva;
            *hi = *lo + f.size;
            *how = "pdb";
            return true;
        }
    }
    nk_pe *pe = nk_sym_image_at(t, addr, &base);
    if (pe && addr >= base && addr - base <= UINT32_MAX) {
        nk_pe_func f, prim;
        if (nk_pe_func_find(pe, (uint32_t)(addr - base), &f) == NTKD_OK) {
            if (nk_pe_hdr(pe)->machine == NK_PE_MACHINE_AMD64 && nk_pe_x64_primary(pe, &f, &prim, NULL) == NTKD_OK)
                f = prim;
            *lo = base + f.begin;
            *hi = base + f.end;
            *how = "pdata";
            return true;
        }
    }
    return false;
}

nk_status cmd_ub(nk_cmd_env *e, const char *a)
{
    ntkd_target *t = e->t;
    uargs u;
    if (!parse_args(e, a, &u)) return NTKD_E_ARG;
    if (!u.have_addr) {
        if (t->cur_ctx.data && t->cur_ctx.len) u.addr = nk_context_pc(&t->cur_ctx);
        else {
            nk_cmd_error(e->o, "ub: no address given and no current instruction");
            return NTKD_E_ARG;
        }
    }
    if (u.have_end) {
        nk_cmd_error(e->o, "ub: takes an address and an optional L count");
        return NTKD_E_ARG;
    }
    if (!t->d.is64) u.addr &= 0xffffffffull;
    uint64_t n = u.have_count ? u.count : U_DEFAULT;
    if (n > 4096) n = 4096;
    nk_disasm *d = open_disasm(e);
    if (!d) return NTKD_E_UNSUPPORTED;
    /* a hint: the start of the function holding the instruction before addr, or of the
       symbol there */
    uint64_t hint = 0, lo, hi;
    const char *how;
    if (u.addr && func_extent(t, u.addr - 1, &lo, &hi, &how) && lo < u.addr) hint = lo;
    if (!hint) {
        char sym[400];
        if (u.addr && nk_sym_describe(t, u.addr - 1, sym, sizeof sym)) {
            const char *plus = strstr(sym, "+0x");
            if (strchr(sym, '!')) hint = u.addr - 1 - (plus ? strtoull(plus + 3, NULL, 16) : 0);
        }
    }
    uint64_t start;
    size_t found = nk_disasm_back(d, u.addr, (size_t)n, hint, &start);
    nk_json_u64(e->o, NULL, "address", u.addr);
    json_object *arr = nk_json_arr(e->o, NULL, "instructions");
    if (!found) {
        /* nothing decodes to addr (unreadable bytes before it): show them as WinDbg does */
        uint64_t step = nk_disasm_arch(d) == NK_ARCH_ARM64 ? 4 : 1;
        start = u.addr - n * step;
        list_from(e, d, start, n, u.addr, arr);
    } else {
        list_from(e, d, start, found, u.addr, arr);
    }
    t->u_next = u.addr;
    t->u_have = true;
    nk_disasm_free(d);
    return NTKD_OK;
}

/* uf: a jump target outside the function's extent is another function's (not followed) when
 * a symbol or a .pdata entry of another primary function starts exactly there. */
typedef struct foreign_ctx {
    ntkd_target *t;
    uint64_t lo, hi;
    bool have_extent;
} foreign_ctx;

static bool is_foreign(void *user, uint64_t target)
{
    foreign_ctx *fc = user;
    char sym[400];
    if (symbol_start(fc->t, target, sym, sizeof sym)) return true;
    uint64_t lo, hi;
    const char *how;
    if (func_extent(fc->t, target, &lo, &hi, &how)) {
        if (fc->have_extent) return lo != fc->lo; /* a chunk chained to our function is ours */
        return lo == target;
    }
    return false;
}

nk_status cmd_uf(nk_cmd_env *e, const char *a)
{
    ntkd_target *t = e->t;
    const char *s = nk_skip_ws(a);
    bool calls = false;
    while (*s == '/' || *s == '-') {
        if ((s[1] == 'c' || s[1] == 'C') && (!s[2] || isspace((unsigned char)s[2]))) calls = true;
        else if (!((s[1] == 'o' || s[1] == 'O' || s[1] == 'i' || s[1] == 'I') && (!s[2] || isspace((unsigned char)s[2])))) {
            nk_cmd_error(e->o, "uf: unknown option '%.3s' (/c: calls only)", s);
            return NTKD_E_ARG;
        }
        s = nk_skip_ws(s + 2);
    }
    uint64_t addr;
    const char *end;
    if (!*s) {
        nk_cmd_error(e->o, "uf: an address is required");
        return NTKD_E_ARG;
    }
    if (!eval_arg(e, s, &end, &addr)) return NTKD_E_ARG;
    if (*nk_skip_ws(end)) {
        nk_cmd_error(e->o, "Syntax error at '%s'", nk_skip_ws(end));
        return NTKD_E_ARG;
    }
    if (!t->d.is64) addr &= 0xffffffffull;
    nk_disasm *d = open_disasm(e);
    if (!d) return NTKD_E_UNSUPPORTED;
    foreign_ctx fc = {.t = t};
    const char *how = "flow";
    uint64_t entry = addr;
    if (func_extent(t, addr, &fc.lo, &fc.hi, &how)) {
        fc.have_extent = true;
        entry = fc.lo;
    } else {
        /* no extent: start at the symbol that covers addr when there is one */
        char sym[400];
        if (nk_sym_describe(t, addr, sym, sizeof sym) && strchr(sym, '!')) {
            const char *plus = strstr(sym, "+0x");
            uint64_t off = plus ? strtoull(plus + 3, NULL, 16) : 0;
            if (off < 0x100000) entry = addr - off;
        }
        how = "flow";
    }
    nk_fgraph g;
    nk_status st = nk_disasm_flow(d, entry, fc.lo, fc.hi, is_foreign, &fc, &g);
    if (st != NTKD_OK) {
        nk_disasm_free(d);
        nk_cmd_error(e->o, "uf: out of memory");
        return st;
    }
    nk_json_u64(e->o, NULL, "address", addr);
    nk_json_u64(e->o, NULL, "entry", entry);
    nk_json_str(e->o, NULL, "extent_from", how);
    if (fc.have_extent) {
        nk_json_u64(e->o, NULL, "begin", fc.lo);
        nk_json_u64(e->o, NULL, "end", fc.hi);
    }
    json_object *jb = nk_json_arr(e->o, NULL, calls ? "calls" : "blocks");
    char sym[400], ab[24];
    if (calls) {
        nk_fmt_ptr(ab, entry, t->d.is64);
        if (!nk_sym_describe(t, entry, sym, sizeof sym)) snprintf(sym, sizeof sym, "%s", ab);
        nk_printf(e->o, "%s (%s)\n", sym, ab);
    }
    for (size_t b = 0; b < g.n; b++) {
        const nk_fblock *bl = &g.b[b];
        json_object *jarr = NULL;
        if (!calls) {
            if (b) nk_printf(e->o, "\n");
            if (nk_sym_describe(t, bl->start, sym, sizeof sym)) nk_printf(e->o, "%s:\n", sym);
            json_object *jo = nk_json_obj(e->o, jb, NULL);
            nk_json_u64(e->o, jo, "start", bl->start);
            nk_json_u64(e->o, jo, "end", bl->end);
            if (sym[0]) nk_json_str(e->o, jo, "label", sym);
            jarr = nk_json_arr(e->o, jo, "instructions");
        }
        uint64_t pc = bl->start;
        for (uint32_t i = 0; i < bl->ninsn && pc < bl->end; i++) {
            nk_insn in;
            nk_disasm_at(d, pc, NULL, &in);
            if (!calls) {
                put_insn(e, d, &in, jarr, NULL);
            } else if (in.kind == NK_IK_CALL) {
                const char *op = in.text;
                while (*op && *op != ' ') op++;
                op = nk_skip_ws(op);
                nk_fmt_ptr(ab, pc, t->d.is64);
                if (!nk_sym_describe(t, pc, sym, sizeof sym)) snprintf(sym, sizeof sym, "%s", ab);
                nk_printf(e->o, "  %s (%s):\n    call to %s\n", sym, ab, op);
                json_object *jc = nk_json_obj(e->o, jb, NULL);
                nk_json_u64(e->o, jc, "address", pc);
                nk_json_str(e->o, jc, "site", sym);
                nk_json_str(e->o, jc, "callee", op);
                if (in.has_target) nk_json_u64(e->o, jc, "target", in.target);
                if (in.has_memref) nk_json_u64(e->o, jc, "memory", in.memref);
            }
            pc += in.len ? in.len : 1;
        }
    }
    if (g.truncated) nk_printf(e->o, "(uf: stopped at the instruction limit; the function is larger than ntkd follows)\n");
    nk_json_bool(e->o, NULL, "truncated", g.truncated);
    nk_fgraph_free(&g);
    nk_disasm_free(d);
    return NTKD_OK;
}
