/* expr.c: the MASM expression evaluator, with WinDbg's rules.
 *
 * Numbers are hexadecimal unless prefixed (0x hex, 0n decimal, 0t octal, 0y binary); a
 * backtick may separate digits (fffff804`7bdf5a80) and a trailing 'h' is accepted. Binary
 * operators, from the highest precedence to the lowest (left to right within a level):
 *     * / % mod      + -      << >> >>>      = == != < > <= >=      & and      ^ xor      | or
 * Unary operators bind tighter than any binary one: + - ~ ! not hi low by wo dwo qwo poi and
 * the physical-memory forms $pby $pwo $pdwo $pqwo $ppoi. Arithmetic is on 64-bit unsigned
 * values; >> is a logical shift and >>> an arithmetic one; comparisons give 1 or 0.
 *
 * Names: '@name' is always a register or pseudo-register. Without '@', the common registers
 * (general-purpose registers and their parts, instruction and stack pointers, segment
 * registers, efl) are registers; any other name is read as a hexadecimal number when it is
 * one (so "cf" is 0xcf), else as a symbol through the symbol layer's resolver, and finally as
 * a less common register (zf, dr7, mxcsr...). Pseudo-registers: $t0-$t19, $ip, $csp,
 * $retreg, $ptrsize, $pagesize, $teb (user dumps). "." is the current instruction pointer.
 *
 * Errors follow WinDbg's wording: "Syntax error at '...'", "Couldn't resolve error at
 * '...'", "Bad register error at '...'", "Memory access error at '...'", "Operand error at
 * '...'" (division by zero), "Numeric overflow error at '...'". The quoted text is the rest
 * of the input from where the evaluator stopped. */
#include "expr/expr.h"

#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <strings.h>

#include "dump/context.h"
#include "mem/mem.h"

#define MAX_DEPTH 64     /* nesting of parentheses and unary operators */
#define MAX_NAME 256     /* longest register, pseudo-register or symbol name */

typedef struct parser {
    ntkd_target *t;
    const char *p;       /* cursor */
    char *err;
    size_t errlen;
    bool failed;
    nk_status st;
    int depth;
} parser;

bool nk_sym_describe_addr(ntkd_target *t, uint64_t addr, char *buf, size_t len)
{
    if (len) buf[0] = 0;
    const nk_sym_hooks *h = t ? nk_sym_hooks_of(t) : NULL;
    if (!h || !h->describe || !len) return false;
    if (!h->describe(t, addr, buf, len)) {
        buf[0] = 0;
        return false;
    }
    buf[len - 1] = 0;
    return buf[0] != 0;
}

/* Records the first error: "<what> at '<rest of the input from at>'". */
static void fail(parser *ps, nk_status st, const char *what, const char *at)
{
    if (ps->failed) return;
    ps->failed = true;
    ps->st = st;
    if (!ps->err || !ps->errlen) return;
    while (*at && isspace((unsigned char)*at)) at++;
    size_t n = strlen(at);
    while (n && isspace((unsigned char)at[n - 1])) n--;
    if (n > 200) n = 200;
    snprintf(ps->err, ps->errlen, "%s at '%.*s'", what, (int)n, at);
}

static const char *skip_ws(const char *s)
{
    while (*s && isspace((unsigned char)*s)) s++;
    return s;
}

static bool is_name_start(char c)
{
    return isalpha((unsigned char)c) || c == '_' || c == '$' || c == '?' || c == '!';
}

static bool is_name_char(char c)
{
    return isalnum((unsigned char)c) || c == '_' || c == '$' || c == '?' || c == '!' ||
           c == '.' || c == ':' || c == '@' || c == '`' || c == '\'';
}

/* ---- numbers -------------------------------------------------------------------------- */

typedef enum { NUM_OK, NUM_BAD, NUM_OVERFLOW } num_result;

static int digit_value(char c)
{
    if (c >= '0' && c <= '9') return c - '0';
    if (c >= 'a' && c <= 'z') return c - 'a' + 10;
    if (c >= 'A' && c <= 'Z') return c - 'A' + 10;
    return 99;
}

/* Parses a whole token [s, s+n) as a MASM number. */
static num_result parse_number(const char *s, size_t n, uint64_t *out)
{
    unsigned radix = 16;
    size_t i = 0;
    bool suffix_ok = true;
    if (n >= 2 && s[0] == '0') {
        char c = (char)tolower((unsigned char)s[1]);
        if (c == 'x') radix = 16;
        else if (c == 'n') radix = 10;
        else if (c == 't') radix = 8;
        else if (c == 'y') radix = 2;
        if (c == 'x' || c == 'n' || c == 't' || c == 'y') {
            i = 2;
            suffix_ok = false;
        }
    }
    if (suffix_ok && n > 1 && (s[n - 1] == 'h' || s[n - 1] == 'H')) n--;
    if (i == n && i == 0) return NUM_BAD;
    uint64_t v = 0;
    bool any = false;
    for (; i < n; i++) {
        if (s[i] == '`') {
            if (!any) return NUM_BAD;
            continue;
        }
        int d = digit_value(s[i]);
        if (d >= (int)radix) return NUM_BAD;
        if (v > (UINT64_MAX - (uint64_t)d) / radix) return NUM_OVERFLOW;
        v = v * radix + (uint64_t)d;
        any = true;
    }
    if (n && s[n - 1] == '`') return NUM_BAD;
    *out = v;
    return NUM_OK;
}

/* ---- registers and pseudo-registers --------------------------------------------------- */

static bool has_context(const ntkd_target *t)
{
    return t && t->cur_ctx.data && t->cur_ctx.len;
}

/* $name (without '@'); false when unknown or unavailable. */
static bool pseudo_register(parser *ps, const char *name, uint64_t *v)
{
    ntkd_target *t = ps->t;
    if ((name[1] == 't' || name[1] == 'T') && isdigit((unsigned char)name[2])) {
        char *end;
        unsigned long i = strtoul(name + 2, &end, 10);
        if (*end || i >= 20 || (name[2] == '0' && name[3])) return false;
        *v = t ? t->pseudo_t[i] : 0;
        return t != NULL;
    }
    if (!strcasecmp(name, "$ptrsize")) {
        if (!t) return false;
        *v = t->d.is64 ? 8 : 4;
        return true;
    }
    if (!strcasecmp(name, "$pagesize")) {
        *v = 0x1000;
        return true;
    }
    if (!strcasecmp(name, "$ip")) {
        if (!has_context(t)) return false;
        *v = nk_context_pc(&t->cur_ctx);
        return true;
    }
    if (!strcasecmp(name, "$csp")) {
        if (!has_context(t)) return false;
        *v = nk_context_sp(&t->cur_ctx);
        return true;
    }
    if (!strcasecmp(name, "$retreg")) {
        if (!has_context(t)) return false;
        const char *r = t->cur_ctx.arch == NK_ARCH_X64 ? "rax" : t->cur_ctx.arch == NK_ARCH_X86 ? "eax" : "x0";
        return nk_context_get(&t->cur_ctx, r, v);
    }
    if (!strcasecmp(name, "$teb")) {
        if (!t || t->d.kind != NK_KIND_USER_MINI || t->cur_thread >= t->d.nthreads) return false;
        *v = t->d.threads[t->cur_thread].teb;
        return true;
    }
    return false;
}

/* A register of the current context; *unavail says the name exists but is not held. */
static bool context_register(parser *ps, const char *name, uint64_t *v, bool *unavail)
{
    ntkd_target *t = ps->t;
    *unavail = false;
    if (!t) return false;
    if (has_context(t)) {
        nk_reg_status rs = nk_context_lookup(&t->cur_ctx, name, v, NULL);
        if (rs == NK_REG_OK) return true;
        if (rs == NK_REG_UNAVAILABLE) {
            *unavail = true;
            return false;
        }
    }
    /* cr3: a kernel dump records the page-table root in use when it was written. */
    if (!strcasecmp(name, "cr3") && t->d.dtb && ntkd_is_kernel(t) &&
        (t->d.arch == NK_ARCH_X64 || t->d.arch == NK_ARCH_X86)) {
        *v = t->d.dtb;
        return true;
    }
    return false;
}

static nk_arch cur_arch(const ntkd_target *t)
{
    if (!t) return NK_ARCH_UNKNOWN;
    return t->cur_ctx.arch != NK_ARCH_UNKNOWN ? t->cur_ctx.arch : t->d.arch;
}

/* ---- memory operators ----------------------------------------------------------------- */

typedef enum { MEM_NONE = 0, MEM_BY, MEM_WO, MEM_DWO, MEM_QWO, MEM_POI } mem_kind;

static bool read_sized(parser *ps, mem_kind k, bool phys, uint64_t addr, uint64_t *v)
{
    ntkd_target *t = ps->t;
    if (!t) return false;
    size_t size = k == MEM_BY ? 1 : k == MEM_WO ? 2 : k == MEM_DWO ? 4 : k == MEM_QWO ? 8 : (t->d.is64 ? 8 : 4);
    uint8_t b[8] = {0};
    nk_status st = phys ? nk_read_phys(t, addr, b, size, NULL) : nk_read_virt(t, addr, b, size, NULL);
    if (st != NTKD_OK) return false;
    *v = size == 1 ? b[0] : size == 2 ? nk_le16(b) : size == 4 ? nk_le32(b) : nk_le64(b);
    return true;
}

/* ---- the grammar ---------------------------------------------------------------------- */

static uint64_t parse_or(parser *ps);

/* Keyword unary operators; 0 when the name is none. */
typedef enum { U_NONE = 0, U_NOT, U_HI, U_LOW, U_MEM } unary_kw;

static unary_kw keyword(const char *name, mem_kind *mk, bool *phys)
{
    static const struct { const char *name; unary_kw kw; mem_kind mk; bool phys; } kws[] = {
        {"not", U_NOT, MEM_NONE, false}, {"hi", U_HI, MEM_NONE, false},
        {"low", U_LOW, MEM_NONE, false}, {"by", U_MEM, MEM_BY, false},
        {"wo", U_MEM, MEM_WO, false},    {"dwo", U_MEM, MEM_DWO, false},
        {"qwo", U_MEM, MEM_QWO, false},  {"poi", U_MEM, MEM_POI, false},
        {"$pby", U_MEM, MEM_BY, true},   {"$pwo", U_MEM, MEM_WO, true},
        {"$pdwo", U_MEM, MEM_DWO, true}, {"$pqwo", U_MEM, MEM_QWO, true},
        {"$ppoi", U_MEM, MEM_POI, true},
    };
    for (size_t i = 0; i < sizeof kws / sizeof kws[0]; i++) {
        if (!strcasecmp(kws[i].name, name)) {
            *mk = kws[i].mk;
            *phys = kws[i].phys;
            return kws[i].kw;
        }
    }
    return U_NONE;
}

static uint64_t parse_unary(parser *ps);

/* A name token (already known to start with a name character). */
static uint64_t parse_name(parser *ps)
{
    const char *start = ps->p;
    const char *q = start;
    bool at = false;
    if (*q == '@') {
        at = true;
        q++;
    }
    const char *nstart = q;
    while (*q && is_name_char(*q) && !(q[0] == '!' && q[1] == '=') && q - nstart < MAX_NAME) q++;
    size_t n = (size_t)(q - nstart);
    if (n == 0 || n >= MAX_NAME) {
        fail(ps, NTKD_E_ARG, "Syntax error", start);
        return 0;
    }
    char name[MAX_NAME];
    memcpy(name, nstart, n);
    name[n] = 0;
    uint64_t v = 0;
    bool unavail = false;

    if (at) {
        ps->p = q;
        if (name[0] == '$' ? pseudo_register(ps, name, &v) : context_register(ps, name, &v, &unavail))
            return v;
        fail(ps, NTKD_E_NOTFOUND, "Bad register error", start);
        return 0;
    }

    mem_kind mk;
    bool phys;
    unary_kw kw = keyword(name, &mk, &phys);
    if (kw != U_NONE) {
        const char *after = skip_ws(q);
        /* a keyword needs an operand; "poi" alone falls through to the other readings */
        if (*after && !strchr(")+*/%&|^<>=,", *after)) {
            ps->p = q;
            uint64_t x = parse_unary(ps);
            if (ps->failed) return 0;
            switch (kw) {
            case U_NOT: return x == 0;
            case U_HI: return (x >> 16) & 0xffff;
            case U_LOW: return x & 0xffff;
            default: break;
            }
            if (!read_sized(ps, mk, phys, x, &v)) {
                const char *pos = ps->p;
                if (pos > start && pos[-1] == ')') pos--;
                fail(ps, NTKD_E_NOTPRESENT, "Memory access error", pos);
                return 0;
            }
            return v;
        }
    }

    ps->p = q;
    if (name[0] == '$') {
        if (pseudo_register(ps, name, &v)) return v;
        fail(ps, NTKD_E_NOTFOUND, "Bad register error", start);
        return 0;
    }
    nk_arch arch = cur_arch(ps->t);
    if (nk_context_is_common(arch, name)) {
        if (context_register(ps, name, &v, &unavail)) return v;
        fail(ps, NTKD_E_NOTFOUND, "Bad register error", start);
        return 0;
    }
    /* a hexadecimal number wins over symbols and the less common registers */
    num_result nr = parse_number(name, n, &v);
    if (nr == NUM_OK) return v;
    if (nr == NUM_OVERFLOW) {
        fail(ps, NTKD_E_ARG, "Numeric overflow error", start);
        return 0;
    }
    const nk_sym_hooks *h = ps->t ? nk_sym_hooks_of(ps->t) : NULL;
    if (h && h->resolve && h->resolve(ps->t, name, &v)) return v;
    if (context_register(ps, name, &v, &unavail)) return v;
    if (unavail) {
        fail(ps, NTKD_E_NOTFOUND, "Bad register error", start);
        return 0;
    }
    fail(ps, NTKD_E_NOTFOUND, "Couldn't resolve error", start);
    return 0;
}

/* @@c++(...) and @@(...) hand the text in parentheses to the C++ evaluator (nk_cpp_eval, the
 * types layer); @@masm(...) evaluates it as MASM again. */
static uint64_t parse_other_evaluator(parser *ps)
{
    const char *start = ps->p;
    const char *q = ps->p + 2;
    bool masm = false;
    if (strncasecmp(q, "c++", 3) == 0) q += 3;
    else if (strncasecmp(q, "masm", 4) == 0) {
        q += 4;
        masm = true;
    }
    if (*q != '(') {
        fail(ps, NTKD_E_ARG, "Syntax error", start);
        return 0;
    }
    const char *in = ++q;
    int d = 1;
    for (; *q && q - in < 4096; q++) {
        if (*q == '(') d++;
        else if (*q == ')' && --d == 0) break;
    }
    if (*q != ')' || d != 0) {
        fail(ps, NTKD_E_ARG, "Syntax error", start);
        return 0;
    }
    size_t n = (size_t)(q - in);
    uint64_t v = 0;
    char msg[300];
    nk_status st;
    if (masm) {
        char buf[4100];
        memcpy(buf, in, n);
        buf[n] = 0;
        const char *end;
        st = nk_eval(ps->t, buf, &end, &v, msg, sizeof msg);
        if (st == NTKD_OK && *skip_ws(end)) {
            st = NTKD_E_ARG;
            snprintf(msg, sizeof msg, "Syntax error at '%s'", skip_ws(end));
        }
    } else {
        st = nk_cpp_eval(ps->t, in, n, &v, msg, sizeof msg);
    }
    if (st != NTKD_OK) {
        if (!ps->failed) {
            ps->failed = true;
            ps->st = st;
            if (ps->err && ps->errlen) snprintf(ps->err, ps->errlen, "%s", msg);
        }
        return 0;
    }
    ps->p = q + 1;
    return v;
}

static uint64_t parse_primary(parser *ps)
{
    ps->p = skip_ws(ps->p);
    const char *start = ps->p;
    char c = *ps->p;
    if (c == '(') {
        ps->p++;
        uint64_t v = parse_or(ps);
        if (ps->failed) return 0;
        ps->p = skip_ws(ps->p);
        if (*ps->p != ')') {
            fail(ps, NTKD_E_ARG, "Syntax error", ps->p);
            return 0;
        }
        ps->p++;
        return v;
    }
    if (isdigit((unsigned char)c)) {
        const char *q = ps->p;
        while (*q && (isalnum((unsigned char)*q) || *q == '`') && q - start < 128) q++;
        if (is_name_char(*q) && *q != '!' && *q != ':') {
            fail(ps, NTKD_E_ARG, "Syntax error", start);
            return 0;
        }
        uint64_t v = 0;
        num_result nr = parse_number(start, (size_t)(q - start), &v);
        if (nr != NUM_OK) {
            fail(ps, NTKD_E_ARG, nr == NUM_OVERFLOW ? "Numeric overflow error" : "Syntax error", start);
            return 0;
        }
        ps->p = q;
        return v;
    }
    if (c == '.' && !is_name_char(ps->p[1])) {
        ps->p++;
        if (!has_context(ps->t)) {
            fail(ps, NTKD_E_NOTFOUND, "Bad register error", start);
            return 0;
        }
        return nk_context_pc(&ps->t->cur_ctx);
    }
    if (c == '@' && ps->p[1] == '@') return parse_other_evaluator(ps);
    if (c == '@' || is_name_start(c)) return parse_name(ps);
    fail(ps, NTKD_E_ARG, "Syntax error", start);
    return 0;
}

static uint64_t parse_unary(parser *ps)
{
    if (++ps->depth > MAX_DEPTH) {
        fail(ps, NTKD_E_ARG, "Syntax error", ps->p);
        ps->depth--;
        return 0;
    }
    ps->p = skip_ws(ps->p);
    char c = *ps->p;
    uint64_t v;
    if (c == '-' || c == '+' || c == '~' || (c == '!' && !is_name_start(ps->p[1]) && ps->p[1] != '=')) {
        ps->p++;
        uint64_t x = parse_unary(ps);
        v = c == '-' ? (uint64_t)0 - x : c == '+' ? x : c == '~' ? ~x : (uint64_t)(x == 0);
    } else {
        v = parse_primary(ps);
    }
    ps->depth--;
    return ps->failed ? 0 : v;
}

/* Binary operators of one precedence level. */
typedef enum {
    OP_NONE = 0, OP_MUL, OP_DIV, OP_MOD, OP_ADD, OP_SUB, OP_SHL, OP_SHR, OP_SAR,
    OP_EQ, OP_NE, OP_LT, OP_GT, OP_LE, OP_GE, OP_AND, OP_XOR, OP_OR,
} binop;

/* A word operator ("mod", "and", ...) at s: the word, then a character that ends a name. */
static bool word_at(const char *s, const char *w)
{
    size_t n = strlen(w);
    return strncasecmp(s, w, n) == 0 && !is_name_char(s[n]);
}

/* Looks for an operator of `level` after optional whitespace; advances past it when found. */
static binop peek_op(parser *ps, int level)
{
    const char *s = skip_ws(ps->p);
    binop op = OP_NONE;
    size_t len = 0;
    switch (level) {
    case 0: /* multiplicative */
        if (*s == '*') op = OP_MUL, len = 1;
        else if (*s == '/') op = OP_DIV, len = 1;
        else if (*s == '%') op = OP_MOD, len = 1;
        else if (word_at(s, "mod")) op = OP_MOD, len = 3;
        break;
    case 1:
        if (*s == '+') op = OP_ADD, len = 1;
        else if (*s == '-') op = OP_SUB, len = 1;
        break;
    case 2:
        if (!strncmp(s, "<<", 2)) op = OP_SHL, len = 2;
        else if (!strncmp(s, ">>>", 3)) op = OP_SAR, len = 3;
        else if (!strncmp(s, ">>", 2)) op = OP_SHR, len = 2;
        break;
    case 3:
        if (!strncmp(s, "==", 2)) op = OP_EQ, len = 2;
        else if (!strncmp(s, "!=", 2)) op = OP_NE, len = 2;
        else if (!strncmp(s, "<=", 2)) op = OP_LE, len = 2;
        else if (!strncmp(s, ">=", 2)) op = OP_GE, len = 2;
        else if (*s == '=') op = OP_EQ, len = 1;
        else if (*s == '<' && s[1] != '<') op = OP_LT, len = 1;
        else if (*s == '>' && s[1] != '>') op = OP_GT, len = 1;
        break;
    case 4:
        if (*s == '&') op = OP_AND, len = 1;
        else if (word_at(s, "and")) op = OP_AND, len = 3;
        break;
    case 5:
        if (*s == '^') op = OP_XOR, len = 1;
        else if (word_at(s, "xor")) op = OP_XOR, len = 3;
        break;
    case 6:
        if (*s == '|') op = OP_OR, len = 1;
        else if (word_at(s, "or")) op = OP_OR, len = 2;
        break;
    }
    if (op != OP_NONE) ps->p = s + len;
    return op;
}

static uint64_t parse_level(parser *ps, int level)
{
    uint64_t v = level == 0 ? parse_unary(ps) : parse_level(ps, level - 1);
    while (!ps->failed) {
        binop op = peek_op(ps, level);
        if (op == OP_NONE) break;
        const char *rhs_at = ps->p;
        uint64_t r = level == 0 ? parse_unary(ps) : parse_level(ps, level - 1);
        if (ps->failed) break;
        switch (op) {
        case OP_MUL: v *= r; break;
        case OP_DIV:
        case OP_MOD:
            if (r == 0) {
                fail(ps, NTKD_E_ARG, "Operand error", rhs_at);
                return 0;
            }
            v = op == OP_DIV ? v / r : v % r;
            break;
        case OP_ADD: v += r; break;
        case OP_SUB: v -= r; break;
        case OP_SHL: v = r >= 64 ? 0 : v << r; break;
        case OP_SHR: v = r >= 64 ? 0 : v >> r; break;
        case OP_SAR: {
            uint64_t sign = v >> 63 ? ~(uint64_t)0 : 0;
            if (r >= 64) v = sign;
            else if (r) v = (v >> r) | (sign << (64 - r));
            break;
        }
        case OP_EQ: v = v == r; break;
        case OP_NE: v = v != r; break;
        case OP_LT: v = v < r; break;
        case OP_GT: v = v > r; break;
        case OP_LE: v = v <= r; break;
        case OP_GE: v = v >= r; break;
        case OP_AND: v &= r; break;
        case OP_XOR: v ^= r; break;
        case OP_OR: v |= r; break;
        default: break;
        }
    }
    return ps->failed ? 0 : v;
}

static uint64_t parse_or(parser *ps) { return parse_level(ps, 6); }

nk_status nk_eval(ntkd_target *t, const char *s, const char **end, uint64_t *val, char *err,
                  size_t errlen)
{
    parser ps = {.t = t, .p = s ? s : "", .err = err, .errlen = errlen};
    if (err && errlen) err[0] = 0;
    ps.p = skip_ws(ps.p);
    uint64_t v = 0;
    if (!*ps.p) fail(&ps, NTKD_E_ARG, "Syntax error", ps.p);
    else v = parse_or(&ps);
    if (end) *end = ps.p;
    if (ps.failed) return ps.st ? ps.st : NTKD_E_ARG;
    if (val) *val = v;
    return NTKD_OK;
}
