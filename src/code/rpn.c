/* rpn.c: the evaluator of x86 FrameData programs ("$T0 .raSearch = $eip $T0 ^ = ...").
 *
 * A program is a whitespace-separated postfix expression list. Operands are numbers (decimal,
 * or 0x hex), registers ($eip $esp $ebp $eax $ebx $ecx $edx $esi $edi), temporaries ($T0..$T9,
 * and any other $name, which becomes a local temporary of this evaluation) and the values the
 * FrameData record defines (.raSearch / .raSearchStart, .cbLocals, .cbSavedRegs, .cbParams).
 * Binary operators + - * / % pop b then a and push a op b; @ aligns a down to a multiple of b
 * (a & ~(b - 1)); ^ replaces the top with the 32-bit value stored at that address; = pops a
 * value and a variable and assigns. Arithmetic is 32-bit (x86 registers). Everything runs in
 * program order, so a register assigned early is seen with its new value later, as the
 * debuggers evaluate these programs. Malformed programs give an error, never a crash: the
 * stack depth, the token length and the token count are capped. */
#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>

#include "code/unwind.h"
#include "mem/mem.h"

enum { RPN_MAX_STACK = 64, RPN_MAX_TOKENS = 4096, RPN_MAX_LOCALS = 16, RPN_TOKLEN = 32 };

typedef struct rpn_item {
    bool is_var;
    char name[RPN_TOKLEN];
    uint32_t value; /* for numbers; variables are read when an operator needs them */
} rpn_item;

typedef struct rpn_state {
    nk_rpn_env *env;
    rpn_item st[RPN_MAX_STACK];
    size_t sp;
    char lname[RPN_MAX_LOCALS][RPN_TOKLEN];
    uint32_t lval[RPN_MAX_LOCALS];
    size_t nlocals;
    char *err;
    size_t errlen;
} rpn_state;

static const char *const x86_regs[8] = {"$eax", "$ecx", "$edx", "$ebx", "$esp", "$ebp", "$esi", "$edi"};

static int reg_index(const char *name)
{
    for (int i = 0; i < 8; i++)
        if (strcmp(name, x86_regs[i]) == 0) return i;
    if (strcmp(name, "$eip") == 0) return NK_UR_X86_EIP;
    if (strcmp(name, "$efl") == 0 || strcmp(name, "$eflags") == 0) return NK_UR_X86_EFL;
    return -1;
}

static int tvar_index(const char *name)
{
    if (name[0] == '$' && name[1] == 'T' && name[2] >= '0' && name[2] <= '9' && !name[3])
        return name[2] - '0';
    return -1;
}

static nk_status fail(rpn_state *s, const char *fmt, const char *tok)
{
    if (s->err && s->errlen) snprintf(s->err, s->errlen, fmt, tok);
    return NTKD_E_FORMAT;
}

static nk_status var_get(rpn_state *s, const char *name, uint32_t *v)
{
    nk_rpn_env *e = s->env;
    int ri = reg_index(name);
    if (ri >= 0) {
        if (!e->regs || !(e->regs->valid & (1ull << ri)))
            return fail(s, "register %s is not known", name);
        *v = (uint32_t)e->regs->r[ri];
        return NTKD_OK;
    }
    int ti = tvar_index(name);
    if (ti >= 0) {
        if (!(e->t_set & (1u << ti))) return fail(s, "%s is used before it is assigned", name);
        *v = (uint32_t)e->t_vars[ti];
        return NTKD_OK;
    }
    if (strcmp(name, ".raSearch") == 0 || strcmp(name, ".raSearchStart") == 0) {
        *v = (uint32_t)e->ra_search;
        return NTKD_OK;
    }
    if (e->have_sizes) {
        if (strcmp(name, ".cbLocals") == 0) { *v = e->cb_locals; return NTKD_OK; }
        if (strcmp(name, ".cbSavedRegs") == 0) { *v = e->cb_saved_regs; return NTKD_OK; }
        if (strcmp(name, ".cbParams") == 0) { *v = e->cb_params; return NTKD_OK; }
    }
    for (size_t i = 0; i < s->nlocals; i++)
        if (strcmp(s->lname[i], name) == 0) {
            *v = s->lval[i];
            return NTKD_OK;
        }
    return fail(s, "unknown or unset variable %s", name);
}

static nk_status var_set(rpn_state *s, const char *name, uint32_t v)
{
    nk_rpn_env *e = s->env;
    int ri = reg_index(name);
    if (ri >= 0) {
        if (!e->regs) return fail(s, "no register set to assign %s", name);
        e->regs->r[ri] = v;
        e->regs->valid |= 1ull << ri;
        return NTKD_OK;
    }
    int ti = tvar_index(name);
    if (ti >= 0) {
        e->t_vars[ti] = v;
        e->t_set |= 1u << ti;
        return NTKD_OK;
    }
    if (name[0] != '$') return fail(s, "cannot assign to %s", name);
    for (size_t i = 0; i < s->nlocals; i++)
        if (strcmp(s->lname[i], name) == 0) {
            s->lval[i] = v;
            return NTKD_OK;
        }
    if (s->nlocals >= RPN_MAX_LOCALS) return fail(s, "too many variables (at %s)", name);
    memcpy(s->lname[s->nlocals], name, RPN_TOKLEN);
    s->lval[s->nlocals++] = v;
    return NTKD_OK;
}

static nk_status item_value(rpn_state *s, const rpn_item *it, uint32_t *v)
{
    if (!it->is_var) {
        *v = it->value;
        return NTKD_OK;
    }
    return var_get(s, it->name, v);
}

static nk_status push(rpn_state *s, const rpn_item *it, const char *tok)
{
    if (s->sp >= RPN_MAX_STACK) return fail(s, "expression stack overflow at '%s'", tok);
    s->st[s->sp++] = *it;
    return NTKD_OK;
}

static nk_status deref(rpn_state *s, uint32_t addr, uint32_t *v)
{
    nk_rpn_env *e = s->env;
    nk_status st;
    if (e->read32) {
        st = e->read32(e->read_user, addr, v);
    } else if (e->t) {
        st = nk_read_u32(e->t, addr, v);
    } else {
        st = NTKD_E_NOTPRESENT;
    }
    if (st != NTKD_OK) {
        char a[16];
        snprintf(a, sizeof a, "%08x", addr);
        if (s->err && s->errlen) snprintf(s->err, s->errlen, "memory at %s is not in the dump", a);
        return NTKD_E_NOTPRESENT;
    }
    return NTKD_OK;
}

static bool parse_number(const char *tok, uint32_t *v)
{
    const char *p = tok;
    bool neg = false;
    if (*p == '-' && p[1]) {
        neg = true;
        p++;
    }
    uint64_t x = 0;
    int base = 10;
    if (p[0] == '0' && (p[1] == 'x' || p[1] == 'X') && p[2]) {
        base = 16;
        p += 2;
    }
    if (!*p) return false;
    for (; *p; p++) {
        int d;
        if (*p >= '0' && *p <= '9') d = *p - '0';
        else if (base == 16 && isxdigit((unsigned char)*p)) d = tolower((unsigned char)*p) - 'a' + 10;
        else return false;
        x = x * (uint64_t)base + (uint64_t)d;
        if (x > 0xffffffffull) return false;
    }
    *v = neg ? (uint32_t)(0u - (uint32_t)x) : (uint32_t)x;
    return true;
}

nk_status nk_rpn_eval(nk_rpn_env *env, const char *program, char *err, size_t errlen)
{
    if (err && errlen) err[0] = 0;
    if (!env || !program) {
        if (err && errlen) snprintf(err, errlen, "no program");
        return NTKD_E_ARG;
    }
    rpn_state *s = calloc(1, sizeof *s);
    if (!s) return NTKD_E_NOMEM;
    s->env = env;
    s->err = err;
    s->errlen = errlen;
    nk_status st = NTKD_OK;
    const char *p = program;
    size_t ntok = 0;
    char tok[RPN_TOKLEN];
    for (;;) {
        while (*p && isspace((unsigned char)*p)) p++;
        if (!*p) break;
        const char *b = p;
        while (*p && !isspace((unsigned char)*p)) p++;
        size_t len = (size_t)(p - b);
        if (++ntok > RPN_MAX_TOKENS) { st = fail(s, "program too long%s", ""); break; }
        if (len >= RPN_TOKLEN) {
            memcpy(tok, b, RPN_TOKLEN - 4);
            memcpy(tok + RPN_TOKLEN - 4, "...", 4);
            st = fail(s, "token too long: '%s'", tok);
            break;
        }
        memcpy(tok, b, len);
        tok[len] = 0;

        if (len == 1 && strchr("+-*/%@", tok[0])) {
            if (s->sp < 2) { st = fail(s, "operator '%s' needs two operands", tok); break; }
            uint32_t a, c;
            if ((st = item_value(s, &s->st[s->sp - 2], &a)) != NTKD_OK) break;
            if ((st = item_value(s, &s->st[s->sp - 1], &c)) != NTKD_OK) break;
            uint32_t r = 0;
            switch (tok[0]) {
            case '+': r = a + c; break;
            case '-': r = a - c; break;
            case '*': r = a * c; break;
            case '/':
            case '%':
                if (c == 0) { st = fail(s, "division by zero at '%s'", tok); break; }
                /* signed, as the debuggers evaluate these programs */
                if ((int32_t)c == -1) r = tok[0] == '/' ? 0u - a : 0;
                else r = tok[0] == '/' ? (uint32_t)((int32_t)a / (int32_t)c)
                                       : (uint32_t)((int32_t)a % (int32_t)c);
                break;
            case '@':
                if (c == 0 || (c & (c - 1))) { st = fail(s, "alignment '%s' by a value that is not a power of two", tok); break; }
                r = a & ~(c - 1);
                break;
            }
            if (st != NTKD_OK) break;
            s->sp -= 2;
            rpn_item it = {.is_var = false, .value = r};
            s->st[s->sp++] = it;
        } else if (len == 1 && tok[0] == '^') {
            if (s->sp < 1) { st = fail(s, "operator '%s' needs an operand", tok); break; }
            uint32_t a, v;
            if ((st = item_value(s, &s->st[s->sp - 1], &a)) != NTKD_OK) break;
            if ((st = deref(s, a, &v)) != NTKD_OK) break;
            s->st[s->sp - 1] = (rpn_item){.is_var = false, .value = v};
        } else if (len == 1 && tok[0] == '=') {
            if (s->sp < 2) { st = fail(s, "operator '%s' needs a variable and a value", tok); break; }
            uint32_t v;
            if ((st = item_value(s, &s->st[s->sp - 1], &v)) != NTKD_OK) break;
            const rpn_item *dst = &s->st[s->sp - 2];
            if (!dst->is_var) { st = fail(s, "'%s' assigns to a number", tok); break; }
            if ((st = var_set(s, dst->name, v)) != NTKD_OK) break;
            s->sp -= 2;
        } else if (tok[0] == '$' || tok[0] == '.') {
            if (len < 2) { st = fail(s, "bad variable name '%s'", tok); break; }
            rpn_item it = {.is_var = true};
            memcpy(it.name, tok, len + 1);
            if ((st = push(s, &it, tok)) != NTKD_OK) break;
        } else {
            uint32_t v;
            if (!parse_number(tok, &v)) { st = fail(s, "unknown token '%s'", tok); break; }
            rpn_item it = {.is_var = false, .value = v};
            if ((st = push(s, &it, tok)) != NTKD_OK) break;
        }
    }
    if (st == NTKD_OK && s->sp != 0) st = fail(s, "%s values left on the stack at the end", "unassigned");
    free(s);
    return st;
}
