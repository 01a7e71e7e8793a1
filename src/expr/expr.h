/* expr.h: MASM expressions as WinDbg evaluates them: numbers in the default radix 16 with
 * 0x/0n/0t/0y prefixes and ` separators, + - * / % & | ^ << >> ( ), unary - ~, comparison,
 * poi() dwo() qwo() wo() by() low() hi(), registers (@rax or rax), pseudo-registers
 * ($t0-$t19, $ptrsize, $ip, $csp), and symbols through an optional resolver that the symbol
 * layer installs. */
#ifndef NTKD_EXPR_H
#define NTKD_EXPR_H

#include "dump/dump.h"

/* Resolver hook for `module!symbol+off` and bare symbol names: returns true and the address
 * when the name is known. The symbol layer sets it in the target's ext slot NK_EXT_SYMRESOLVE. */
typedef bool (*nk_sym_resolver)(ntkd_target *t, const char *name, uint64_t *addr);
#define NK_EXT_SYMRESOLVE 0

/* The object stored in t->ext[NK_EXT_SYMRESOLVE] begins with an nk_sym_hooks (as its first
 * member), so the symbol layer may keep its own state after it. The function pointers live
 * in this struct because ISO C has no conversion between function pointers and void *. */
typedef bool (*nk_sym_describer)(ntkd_target *t, uint64_t addr, char *buf, size_t len);
typedef struct nk_sym_hooks {
    nk_sym_resolver resolve;   /* name -> address ("nt!KeBugCheckEx", "KeBugCheckEx"); may be NULL */
    nk_sym_describer describe; /* address -> "nt!KeBugCheckEx+0x10" (no offset when exact);
                                  false when no symbol covers the address; may be NULL */
} nk_sym_hooks;
static inline const nk_sym_hooks *nk_sym_hooks_of(const ntkd_target *t)
{
    return (const nk_sym_hooks *)t->ext[NK_EXT_SYMRESOLVE];
}
/* Address -> symbol text through the hook; false (buf = "") when there is none. */
bool nk_sym_describe_addr(ntkd_target *t, uint64_t addr, char *buf, size_t len);

/* C++ expressions (what `??` evaluates, and MASM's @@c++(...) / @@(...)): sizeof(mod!Type),
 * #FIELD_OFFSET(Type, Field), #RTL_FIELD_SIZE, #RTL_SIZEOF_THROUGH_FIELD, #CONTAINING_RECORD,
 * decimal/0x numbers, @registers, arithmetic. Implemented by the types layer (cmd/cmd_dt.c)
 * over the symbol layer's type sources. s[0..len) need not be NUL-terminated. */
nk_status nk_cpp_eval(ntkd_target *t, const char *s, size_t len, uint64_t *val, char *err, size_t errlen);

/* Evaluates one expression from s. On success *end points after it (stopping at whitespace
 * that is not inside the expression, so "dq addr L4" can split), *val holds the value.
 * On failure err holds a message like "Couldn't resolve error at 'foo'". */
nk_status nk_eval(ntkd_target *t, const char *s, const char **end, uint64_t *val, char *err,
                  size_t errlen);

#endif
