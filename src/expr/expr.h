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

/* Evaluates one expression from s. On success *end points after it (stopping at whitespace
 * that is not inside the expression, so "dq addr L4" can split), *val holds the value.
 * On failure err holds a message like "Couldn't resolve error at 'foo'". */
nk_status nk_eval(ntkd_target *t, const char *s, const char **end, uint64_t *val, char *err,
                  size_t errlen);

#endif
