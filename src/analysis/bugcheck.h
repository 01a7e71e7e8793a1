/* bugcheck.h: what ntkd knows about Windows bug check codes. One table (bugcheck_db.c) lists
 * every code of Microsoft's bug check code reference with its name, a short explanation in our
 * own words and the meaning of its four parameters; codes whose first parameter selects the
 * meaning of the others carry a sub-code table. bugcheck.c looks codes up and decodes parameter
 * values (NTSTATUS and exception codes, IRQLs, pool types, access kinds, trap numbers, pool tags).
 * Read-only constant data; no target needed. `!analyze -show`, `.bugcheck` and `!analyze -v`
 * share it. */
#ifndef NTKD_ANALYSIS_BUGCHECK_H
#define NTKD_ANALYSIS_BUGCHECK_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "dump/dump.h"

/* How a parameter is read and decoded. */
typedef enum nk_bc_kind {
    NK_BCK_INHERIT = 0, /* sub-code rows only: same as the code's general description */
    NK_BCK_RESERVED,    /* documented as reserved, unused or always 0 */
    NK_BCK_UNDOC,       /* page not read: "not documented in the index" (text NULL), or the
                           page does not describe it (text says so) */
    NK_BCK_VALUE,       /* a number: count, size, flags, index, ticks ... */
    NK_BCK_ADDR,        /* a code or data address, symbolized when a target is open */
    NK_BCK_PTR,         /* pointer to an object (thread, process, device object, IRP, MDL ...) */
    NK_BCK_STATUS,      /* NTSTATUS or exception code (low 32 bits) */
    NK_BCK_IRQL,        /* an interrupt request level */
    NK_BCK_POOLTYPE,    /* POOL_TYPE value */
    NK_BCK_POOLTAG,     /* four-character pool tag */
    NK_BCK_EXR,         /* pointer to an EXCEPTION_RECORD */
    NK_BCK_CXR,         /* pointer to a CONTEXT record */
    NK_BCK_TRAP,        /* pointer to a KTRAP_FRAME */
    NK_BCK_SUBCODE,     /* selects the meaning of the other parameters (see subs) */
    NK_BCK_ACCESS,      /* kind of memory access: 0 read, 1 write, 2 or 8 execute */
    NK_BCK_TRAPNO,      /* x86/x64 processor trap (exception vector) number */
} nk_bc_kind;

typedef struct nk_bc_param {
    uint8_t kind;     /* nk_bc_kind */
    const char *text; /* meaning in our words; NULL for reserved / undocumented */
} nk_bc_param;

/* One documented value of Parameter 1 for a code whose P1 is a sub-code. */
typedef struct nk_bc_sub {
    uint64_t p1;
    const char *cause;   /* what this value means (printed as Arg1's meaning) */
    nk_bc_param p[3];    /* Parameters 2..4 for this value (NK_BCK_INHERIT: general text) */
} nk_bc_sub;

typedef struct nk_bc_info {
    uint32_t code;
    const char *name;    /* exactly as Microsoft's reference spells it */
    const char *text;    /* one to three sentences, our words */
    int8_t ndoc;         /* parameters with a documented meaning; -1 when the code's own page
                            was not read (parameters "not documented in the index") */
    uint32_t same_as;    /* non-zero: parameters are those of this code (the _M variants) */
    nk_bc_param p[4];
    const nk_bc_sub *subs;
    uint16_t nsubs;
} nk_bc_info;

/* The table, sorted by code. */
size_t nk_bc_count(void);
const nk_bc_info *nk_bc_at(size_t i);
/* Entry for a code, or NULL. */
const nk_bc_info *nk_bc_find(uint32_t code);
/* The entry whose parameter descriptions apply (follows same_as); NULL when unknown. */
const nk_bc_info *nk_bc_params_of(uint32_t code);

/* One parameter with its value, described and decoded. */
typedef struct nk_bc_arg {
    uint64_t value;
    uint8_t kind;        /* nk_bc_kind after resolving sub-codes (never INHERIT) */
    const char *meaning; /* NULL: reserved; otherwise the text printed after the value */
    char decoded[128];   /* "STATUS_ACCESS_VIOLATION ...", "DISPATCH_LEVEL", ... or "" */
} nk_bc_arg;

typedef struct nk_bc_view {
    uint32_t code;
    const nk_bc_info *info;   /* NULL for a code not in the table */
    const nk_bc_sub *sub;     /* the matching sub-code row, or NULL */
    nk_bc_arg args[4];
} nk_bc_view;

/* Describes a bugcheck and its parameters. Values of 32-bit targets are taken as 32-bit. The
 * decoding needs no target; addresses are left for the caller to symbolize. */
void nk_bc_describe(uint32_t code, const uint64_t params[4], nk_arch arch, nk_bc_view *v);

/* Parameter value decoders: each returns false (buf "") when the value has no known name. */
/* "STATUS_ACCESS_VIOLATION" and a short description in our words (desc may be NULL). */
const char *nk_ntstatus_name(uint32_t status, const char **desc);
/* "DISPATCH_LEVEL" etc. for the target architecture (x86 numbers differ above 2). */
bool nk_irql_name(uint64_t irql, nk_arch arch, char *buf, size_t len);
/* "NonPagedPoolNx", "PagedPool | POOL_QUOTA_FAIL_INSTEAD_OF_RAISE" ... */
bool nk_pool_type_name(uint64_t type, char *buf, size_t len);
/* One decoded parameter (kind-specific), as stored in nk_bc_arg.decoded. */
bool nk_bc_decode(uint8_t kind, uint64_t value, nk_arch arch, char *buf, size_t len);
/* Name of a kind, for JSON ("status", "irql", ...). */
const char *nk_bc_kind_name(uint8_t kind);

#endif
