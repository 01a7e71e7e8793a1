/* context.c: named registers of a Windows CONTEXT record (x64, x86, ARM64).
 *
 * Each architecture has one table: a register is a little-endian field of the record at a
 * fixed offset, optionally narrowed to a bit range (sub-registers such as eax/ax/al/ah and
 * flag bits such as zf or iopl). Offsets are those of the documented CONTEXT layouts
 * (winnt.h, as described by Microsoft's documentation and rust-minidump's format.rs); the
 * _Static_asserts below pin the ones the rest of ntkd depends on. A context shorter than its
 * architecture's size yields only the fields it holds: the others are "unavailable". */
#include "dump/context.h"

#include <strings.h>

/* ---- record layouts ------------------------------------------------------------------- */

/* x64 CONTEXT (0x4d0 bytes): P1Home..P6Home, ContextFlags, MxCsr, segment selectors,
 * EFlags, debug registers, the integer registers in encoding order, Rip, then the
 * floating-point save area (XMM0 at 0x1a0) and the vector registers. */
enum {
    X64_CONTEXT_FLAGS = 0x30, X64_MXCSR = 0x34,
    X64_SEGCS = 0x38, X64_SEGDS = 0x3a, X64_SEGES = 0x3c, X64_SEGFS = 0x3e, X64_SEGGS = 0x40,
    X64_SEGSS = 0x42, X64_EFLAGS = 0x44,
    X64_DR0 = 0x48, X64_DR1 = 0x50, X64_DR2 = 0x58, X64_DR3 = 0x60, X64_DR6 = 0x68, X64_DR7 = 0x70,
    X64_RAX = 0x78, X64_RCX = 0x80, X64_RDX = 0x88, X64_RBX = 0x90, X64_RSP = 0x98,
    X64_RBP = 0xa0, X64_RSI = 0xa8, X64_RDI = 0xb0, X64_R8 = 0xb8, X64_R9 = 0xc0,
    X64_R10 = 0xc8, X64_R11 = 0xd0, X64_R12 = 0xd8, X64_R13 = 0xe0, X64_R14 = 0xe8,
    X64_R15 = 0xf0, X64_RIP = 0xf8, X64_FLTSAVE = 0x100, X64_XMM0 = 0x1a0,
    X64_SIZE = 0x4d0,
};
/* x86 CONTEXT (0x2cc bytes): ContextFlags, Dr0-3, Dr6, Dr7, FloatSave (112 bytes), the
 * segment registers, Edi..Eax, Ebp, Eip, SegCs, EFlags, Esp, SegSs, ExtendedRegisters. */
enum {
    X86_CONTEXT_FLAGS = 0x00, X86_DR0 = 0x04, X86_DR1 = 0x08, X86_DR2 = 0x0c, X86_DR3 = 0x10,
    X86_DR6 = 0x14, X86_DR7 = 0x18, X86_FLOATSAVE = 0x1c,
    X86_SEGGS = 0x8c, X86_SEGFS = 0x90, X86_SEGES = 0x94, X86_SEGDS = 0x98,
    X86_EDI = 0x9c, X86_ESI = 0xa0, X86_EBX = 0xa4, X86_EDX = 0xa8, X86_ECX = 0xac,
    X86_EAX = 0xb0, X86_EBP = 0xb4, X86_EIP = 0xb8, X86_SEGCS = 0xbc, X86_EFLAGS = 0xc0,
    X86_ESP = 0xc4, X86_SEGSS = 0xc8, X86_EXTREGS = 0xcc,
    X86_SIZE = 0x2cc,
};
/* ARM64 CONTEXT (0x390 bytes): ContextFlags, Cpsr, X0-X28, Fp, Lr, Sp, Pc, V[32] (16 bytes
 * each), Fpcr, Fpsr, Bcr[8], Bvr[8], Wcr[2], Wvr[2]. */
enum {
    A64_CONTEXT_FLAGS = 0x00, A64_CPSR = 0x04, A64_X0 = 0x08, A64_FP = 0xf0, A64_LR = 0xf8,
    A64_SP = 0x100, A64_PC = 0x108, A64_V0 = 0x110, A64_FPCR = 0x310, A64_FPSR = 0x314,
    A64_BCR = 0x318, A64_BVR = 0x338, A64_WCR = 0x378, A64_WVR = 0x380,
    A64_SIZE = 0x390,
};

/* The layout facts, checked against each other: each block ends where the next begins. */
_Static_assert(X64_FLTSAVE == X64_RIP + 8, "x64: FltSave follows Rip");
_Static_assert(X64_XMM0 == X64_FLTSAVE + 0xa0, "x64: XMM0 inside the XSAVE legacy area");
_Static_assert(X64_SIZE == 0x300 + 26 * 16 + 8 * 6, "x64: vector registers and tail");
_Static_assert(X64_R15 == X64_RAX + 15 * 8, "x64: sixteen integer registers");
_Static_assert(X86_SEGGS == X86_FLOATSAVE + 7 * 4 + 80 + 4, "x86: FLOATING_SAVE_AREA is 112 bytes");
_Static_assert(X86_EXTREGS == X86_SEGSS + 4, "x86: extended registers follow SegSs");
_Static_assert(X86_SIZE == X86_EXTREGS + 512, "x86: 512 bytes of extended registers");
_Static_assert(A64_FP == A64_X0 + 29 * 8, "arm64: X0-X28 then Fp");
_Static_assert(A64_FPCR == A64_V0 + 32 * 16, "arm64: V[32] then Fpcr");
_Static_assert(A64_SIZE == A64_WVR + 2 * 8, "arm64: Wvr[2] ends the record");

/* ---- register tables ------------------------------------------------------------------ */

enum { RF_COMMON = 1, RF_MAIN = 2 };

typedef struct regdef {
    const char *name;
    uint16_t off;   /* offset of the field holding the register */
    uint8_t size;   /* bytes read at off (1, 2, 4, 8) */
    uint8_t shift;  /* the register's lowest bit inside the field */
    uint8_t bits;   /* width of the register */
    uint8_t flags;  /* RF_* */
} regdef;

#define MAINREG(n, o, sz, b) {n, o, sz, 0, b, RF_COMMON | RF_MAIN}
#define MAINX(n, o, sz, b) {n, o, sz, 0, b, RF_MAIN} /* shown by `r`, but not "common" */
#define SUB(n, o, sz, sh, b) {n, o, sz, sh, b, RF_COMMON}
#define FLAG(n, o, sh, b) {n, o, 4, sh, b, 0}
#define OTHER(n, o, sz, b) {n, o, sz, 0, b, 0}

/* Main registers first, in WinDbg's `r` order; then the parts and flags. */
static const regdef x64_regs[] = {
    MAINREG("rax", X64_RAX, 8, 64), MAINREG("rbx", X64_RBX, 8, 64), MAINREG("rcx", X64_RCX, 8, 64),
    MAINREG("rdx", X64_RDX, 8, 64), MAINREG("rsi", X64_RSI, 8, 64), MAINREG("rdi", X64_RDI, 8, 64),
    MAINREG("rip", X64_RIP, 8, 64), MAINREG("rsp", X64_RSP, 8, 64), MAINREG("rbp", X64_RBP, 8, 64),
    MAINREG("r8", X64_R8, 8, 64), MAINREG("r9", X64_R9, 8, 64), MAINREG("r10", X64_R10, 8, 64),
    MAINREG("r11", X64_R11, 8, 64), MAINREG("r12", X64_R12, 8, 64), MAINREG("r13", X64_R13, 8, 64),
    MAINREG("r14", X64_R14, 8, 64), MAINREG("r15", X64_R15, 8, 64),
    MAINREG("cs", X64_SEGCS, 2, 16), MAINREG("ss", X64_SEGSS, 2, 16), MAINREG("ds", X64_SEGDS, 2, 16),
    MAINREG("es", X64_SEGES, 2, 16), MAINREG("fs", X64_SEGFS, 2, 16), MAINREG("gs", X64_SEGGS, 2, 16),
    MAINREG("efl", X64_EFLAGS, 4, 32),
    MAINX("dr0", X64_DR0, 8, 64), MAINX("dr1", X64_DR1, 8, 64), MAINX("dr2", X64_DR2, 8, 64),
    MAINX("dr3", X64_DR3, 8, 64), MAINX("dr6", X64_DR6, 8, 64), MAINX("dr7", X64_DR7, 8, 64),
    MAINX("mxcsr", X64_MXCSR, 4, 32),
    /* 32-, 16- and 8-bit parts */
    SUB("eax", X64_RAX, 4, 0, 32), SUB("ebx", X64_RBX, 4, 0, 32), SUB("ecx", X64_RCX, 4, 0, 32),
    SUB("edx", X64_RDX, 4, 0, 32), SUB("esi", X64_RSI, 4, 0, 32), SUB("edi", X64_RDI, 4, 0, 32),
    SUB("ebp", X64_RBP, 4, 0, 32), SUB("esp", X64_RSP, 4, 0, 32), SUB("eip", X64_RIP, 4, 0, 32),
    SUB("ax", X64_RAX, 2, 0, 16), SUB("bx", X64_RBX, 2, 0, 16), SUB("cx", X64_RCX, 2, 0, 16),
    SUB("dx", X64_RDX, 2, 0, 16), SUB("si", X64_RSI, 2, 0, 16), SUB("di", X64_RDI, 2, 0, 16),
    SUB("bp", X64_RBP, 2, 0, 16), SUB("sp", X64_RSP, 2, 0, 16), SUB("ip", X64_RIP, 2, 0, 16),
    SUB("al", X64_RAX, 1, 0, 8), SUB("bl", X64_RBX, 1, 0, 8), SUB("cl", X64_RCX, 1, 0, 8),
    SUB("dl", X64_RDX, 1, 0, 8), SUB("sil", X64_RSI, 1, 0, 8), SUB("dil", X64_RDI, 1, 0, 8),
    SUB("bpl", X64_RBP, 1, 0, 8), SUB("spl", X64_RSP, 1, 0, 8),
    SUB("ah", X64_RAX + 1, 1, 0, 8), SUB("bh", X64_RBX + 1, 1, 0, 8),
    SUB("ch", X64_RCX + 1, 1, 0, 8), SUB("dh", X64_RDX + 1, 1, 0, 8),
    SUB("r8d", X64_R8, 4, 0, 32), SUB("r9d", X64_R9, 4, 0, 32), SUB("r10d", X64_R10, 4, 0, 32),
    SUB("r11d", X64_R11, 4, 0, 32), SUB("r12d", X64_R12, 4, 0, 32), SUB("r13d", X64_R13, 4, 0, 32),
    SUB("r14d", X64_R14, 4, 0, 32), SUB("r15d", X64_R15, 4, 0, 32),
    SUB("r8w", X64_R8, 2, 0, 16), SUB("r9w", X64_R9, 2, 0, 16), SUB("r10w", X64_R10, 2, 0, 16),
    SUB("r11w", X64_R11, 2, 0, 16), SUB("r12w", X64_R12, 2, 0, 16), SUB("r13w", X64_R13, 2, 0, 16),
    SUB("r14w", X64_R14, 2, 0, 16), SUB("r15w", X64_R15, 2, 0, 16),
    SUB("r8b", X64_R8, 1, 0, 8), SUB("r9b", X64_R9, 1, 0, 8), SUB("r10b", X64_R10, 1, 0, 8),
    SUB("r11b", X64_R11, 1, 0, 8), SUB("r12b", X64_R12, 1, 0, 8), SUB("r13b", X64_R13, 1, 0, 8),
    SUB("r14b", X64_R14, 1, 0, 8), SUB("r15b", X64_R15, 1, 0, 8),
    /* EFLAGS bits, by WinDbg's names */
    FLAG("cf", X64_EFLAGS, 0, 1), FLAG("pf", X64_EFLAGS, 2, 1), FLAG("af", X64_EFLAGS, 4, 1),
    FLAG("zf", X64_EFLAGS, 6, 1), FLAG("sf", X64_EFLAGS, 7, 1), FLAG("tf", X64_EFLAGS, 8, 1),
    FLAG("if", X64_EFLAGS, 9, 1), FLAG("df", X64_EFLAGS, 10, 1), FLAG("of", X64_EFLAGS, 11, 1),
    FLAG("iopl", X64_EFLAGS, 12, 2), FLAG("vif", X64_EFLAGS, 19, 1), FLAG("vip", X64_EFLAGS, 20, 1),
};

static const regdef x86_regs[] = {
    MAINREG("eax", X86_EAX, 4, 32), MAINREG("ebx", X86_EBX, 4, 32), MAINREG("ecx", X86_ECX, 4, 32),
    MAINREG("edx", X86_EDX, 4, 32), MAINREG("esi", X86_ESI, 4, 32), MAINREG("edi", X86_EDI, 4, 32),
    MAINREG("eip", X86_EIP, 4, 32), MAINREG("esp", X86_ESP, 4, 32), MAINREG("ebp", X86_EBP, 4, 32),
    /* selectors are stored in 32-bit slots; only the low 16 bits are the register */
    MAINREG("cs", X86_SEGCS, 2, 16), MAINREG("ss", X86_SEGSS, 2, 16), MAINREG("ds", X86_SEGDS, 2, 16),
    MAINREG("es", X86_SEGES, 2, 16), MAINREG("fs", X86_SEGFS, 2, 16), MAINREG("gs", X86_SEGGS, 2, 16),
    MAINREG("efl", X86_EFLAGS, 4, 32),
    MAINX("dr0", X86_DR0, 4, 32), MAINX("dr1", X86_DR1, 4, 32), MAINX("dr2", X86_DR2, 4, 32),
    MAINX("dr3", X86_DR3, 4, 32), MAINX("dr6", X86_DR6, 4, 32), MAINX("dr7", X86_DR7, 4, 32),
    SUB("ax", X86_EAX, 2, 0, 16), SUB("bx", X86_EBX, 2, 0, 16), SUB("cx", X86_ECX, 2, 0, 16),
    SUB("dx", X86_EDX, 2, 0, 16), SUB("si", X86_ESI, 2, 0, 16), SUB("di", X86_EDI, 2, 0, 16),
    SUB("bp", X86_EBP, 2, 0, 16), SUB("sp", X86_ESP, 2, 0, 16), SUB("ip", X86_EIP, 2, 0, 16),
    SUB("al", X86_EAX, 1, 0, 8), SUB("bl", X86_EBX, 1, 0, 8), SUB("cl", X86_ECX, 1, 0, 8),
    SUB("dl", X86_EDX, 1, 0, 8),
    SUB("ah", X86_EAX + 1, 1, 0, 8), SUB("bh", X86_EBX + 1, 1, 0, 8),
    SUB("ch", X86_ECX + 1, 1, 0, 8), SUB("dh", X86_EDX + 1, 1, 0, 8),
    FLAG("cf", X86_EFLAGS, 0, 1), FLAG("pf", X86_EFLAGS, 2, 1), FLAG("af", X86_EFLAGS, 4, 1),
    FLAG("zf", X86_EFLAGS, 6, 1), FLAG("sf", X86_EFLAGS, 7, 1), FLAG("tf", X86_EFLAGS, 8, 1),
    FLAG("if", X86_EFLAGS, 9, 1), FLAG("df", X86_EFLAGS, 10, 1), FLAG("of", X86_EFLAGS, 11, 1),
    FLAG("iopl", X86_EFLAGS, 12, 2), FLAG("vif", X86_EFLAGS, 19, 1), FLAG("vip", X86_EFLAGS, 20, 1),
};

#define A64X(n, i) MAINREG(n, A64_X0 + 8 * (i), 8, 64)
#define A64W(n, i) SUB(n, A64_X0 + 8 * (i), 4, 0, 32)
static const regdef a64_regs[] = {
    A64X("x0", 0), A64X("x1", 1), A64X("x2", 2), A64X("x3", 3), A64X("x4", 4), A64X("x5", 5),
    A64X("x6", 6), A64X("x7", 7), A64X("x8", 8), A64X("x9", 9), A64X("x10", 10), A64X("x11", 11),
    A64X("x12", 12), A64X("x13", 13), A64X("x14", 14), A64X("x15", 15), A64X("x16", 16),
    A64X("x17", 17), A64X("x18", 18), A64X("x19", 19), A64X("x20", 20), A64X("x21", 21),
    A64X("x22", 22), A64X("x23", 23), A64X("x24", 24), A64X("x25", 25), A64X("x26", 26),
    A64X("x27", 27), A64X("x28", 28),
    MAINREG("fp", A64_FP, 8, 64), MAINREG("lr", A64_LR, 8, 64), MAINREG("sp", A64_SP, 8, 64),
    MAINREG("pc", A64_PC, 8, 64), MAINREG("cpsr", A64_CPSR, 4, 32),
    MAINX("fpcr", A64_FPCR, 4, 32), MAINX("fpsr", A64_FPSR, 4, 32),
    SUB("x29", A64_FP, 8, 0, 64), SUB("x30", A64_LR, 8, 0, 64), SUB("psr", A64_CPSR, 4, 0, 32),
    A64W("w0", 0), A64W("w1", 1), A64W("w2", 2), A64W("w3", 3), A64W("w4", 4), A64W("w5", 5),
    A64W("w6", 6), A64W("w7", 7), A64W("w8", 8), A64W("w9", 9), A64W("w10", 10), A64W("w11", 11),
    A64W("w12", 12), A64W("w13", 13), A64W("w14", 14), A64W("w15", 15), A64W("w16", 16),
    A64W("w17", 17), A64W("w18", 18), A64W("w19", 19), A64W("w20", 20), A64W("w21", 21),
    A64W("w22", 22), A64W("w23", 23), A64W("w24", 24), A64W("w25", 25), A64W("w26", 26),
    A64W("w27", 27), A64W("w28", 28), A64W("w29", 29), A64W("w30", 30),
    /* NZCV condition flags of the PSTATE */
    FLAG("v", A64_CPSR, 28, 1), FLAG("c", A64_CPSR, 29, 1), FLAG("z", A64_CPSR, 30, 1),
    FLAG("n", A64_CPSR, 31, 1),
    OTHER("contextflags", A64_CONTEXT_FLAGS, 4, 32),
};

static const regdef *table_for(nk_arch a, size_t *n)
{
    switch (a) {
    case NK_ARCH_X64: *n = sizeof x64_regs / sizeof x64_regs[0]; return x64_regs;
    case NK_ARCH_X86: *n = sizeof x86_regs / sizeof x86_regs[0]; return x86_regs;
    case NK_ARCH_ARM64: *n = sizeof a64_regs / sizeof a64_regs[0]; return a64_regs;
    default: *n = 0; return NULL;
    }
}

static const regdef *find_def(nk_arch a, const char *name)
{
    size_t n;
    const regdef *tab = table_for(a, &n);
    for (size_t i = 0; i < n; i++)
        if (strcasecmp(tab[i].name, name) == 0) return &tab[i];
    return NULL;
}

/* Reads a register; false when the context does not hold its field. */
static bool read_def(const nk_context *c, const regdef *d, uint64_t *v)
{
    if (!c->data || !nk_in_bounds(c->len, d->off, d->size)) return false;
    const uint8_t *p = c->data + d->off;
    uint64_t x;
    switch (d->size) {
    case 1: x = p[0]; break;
    case 2: x = nk_le16(p); break;
    case 4: x = nk_le32(p); break;
    default: x = nk_le64(p); break;
    }
    x >>= d->shift;
    if (d->bits < 64) x &= (1ull << d->bits) - 1;
    *v = x;
    return true;
}

/* ---- public functions ----------------------------------------------------------------- */

size_t nk_context_size(nk_arch a)
{
    switch (a) {
    case NK_ARCH_X64: return X64_SIZE;
    case NK_ARCH_X86: return X86_SIZE;
    case NK_ARCH_ARM64: return A64_SIZE;
    default: return 0;
    }
}

size_t nk_context_regs(const nk_context *c, nk_reg *out, size_t max)
{
    size_t n, k = 0;
    const regdef *tab = table_for(c->arch, &n);
    for (size_t i = 0; i < n && k < max; i++) {
        if (!(tab[i].flags & RF_MAIN)) continue;
        nk_reg *r = &out[k++];
        r->name = tab[i].name;
        r->bits = tab[i].bits;
        r->value = 0;
        r->avail = read_def(c, &tab[i], &r->value);
    }
    return k;
}

nk_reg_status nk_context_lookup(const nk_context *c, const char *name, uint64_t *v,
                                uint8_t *bits)
{
    const regdef *d = find_def(c->arch, name);
    if (!d) return NK_REG_UNKNOWN;
    if (bits) *bits = d->bits;
    uint64_t x = 0;
    if (!read_def(c, d, &x)) return NK_REG_UNAVAILABLE;
    if (v) *v = x;
    return NK_REG_OK;
}

bool nk_context_get(const nk_context *c, const char *name, uint64_t *v)
{
    return nk_context_lookup(c, name, v, NULL) == NK_REG_OK;
}

bool nk_context_is_common(nk_arch a, const char *name)
{
    const regdef *d = find_def(a, name);
    return d && (d->flags & RF_COMMON);
}

uint64_t nk_context_pc(const nk_context *c)
{
    uint64_t v = 0;
    switch (c->arch) {
    case NK_ARCH_X64: nk_context_get(c, "rip", &v); break;
    case NK_ARCH_X86: nk_context_get(c, "eip", &v); break;
    case NK_ARCH_ARM64: nk_context_get(c, "pc", &v); break;
    default: break;
    }
    return v;
}

uint64_t nk_context_sp(const nk_context *c)
{
    uint64_t v = 0;
    switch (c->arch) {
    case NK_ARCH_X64: nk_context_get(c, "rsp", &v); break;
    case NK_ARCH_X86: nk_context_get(c, "esp", &v); break;
    case NK_ARCH_ARM64: nk_context_get(c, "sp", &v); break;
    default: break;
    }
    return v;
}
