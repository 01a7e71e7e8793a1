/* context.h: register contexts as Windows stores them (CONTEXT for x64, x86 and ARM64),
 * decoded into named registers. Layouts are the documented CONTEXT structures. */
#ifndef NTKD_CONTEXT_H
#define NTKD_CONTEXT_H

#include "dump/dump.h"

typedef struct nk_reg {
    const char *name; /* lower-case WinDbg name: "rax", "efl", "x0", "fp", "pc" */
    uint64_t value;
    uint8_t bits;     /* 8, 16, 32, 64 */
    bool avail;       /* false when the context is too short to hold the register */
} nk_reg;

/* Size of a CONTEXT for the architecture (x64 0x4d0, x86 0x2cc, ARM64 0x390). */
size_t nk_context_size(nk_arch a);
/* Every register of the context, in WinDbg's `r` order. Returns the count (<= max). */
size_t nk_context_regs(const nk_context *c, nk_reg *out, size_t max);
/* One register by name (case-insensitive; includes sub-registers eax, ax, al, w0...). */
bool nk_context_get(const nk_context *c, const char *name, uint64_t *v);
uint64_t nk_context_pc(const nk_context *c);
uint64_t nk_context_sp(const nk_context *c);

/* A register lookup that tells an unknown name from a register the context is too short
 * to hold. *bits (may be NULL) receives the register's width (1 or 2 for flag bits). */
typedef enum nk_reg_status { NK_REG_OK = 0, NK_REG_UNKNOWN, NK_REG_UNAVAILABLE } nk_reg_status;
nk_reg_status nk_context_lookup(const nk_context *c, const char *name, uint64_t *v,
                                uint8_t *bits);
/* True for the architecture's common registers (general-purpose registers and their parts,
 * the instruction and stack pointers, segment registers, efl), which MASM expressions read
 * as registers even without '@'. Other names are tried as numbers and symbols first. */
bool nk_context_is_common(nk_arch a, const char *name);

#endif
