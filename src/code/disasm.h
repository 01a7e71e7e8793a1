/* disasm.h: the code layer's disassembler. x86/x64 instructions are decoded by Zydis, ARM64
 * instructions by Capstone, and printed the way WinDbg prints them:
 *   fffff804`7bdf5a80 48894c2408      mov     qword ptr [rsp+8],rcx
 *   fffff801`dae9e831 e8160c0000      call    ndis!ndisPcwEndCycleCounter (fffff801`dae9f44c)
 *   fffff800`922e8383 f605fcac270021  test    byte ptr [nt!PerfGlobalGroupMask+0x6 (fffff800`92563086)],21h
 * (Intel syntax, MASM hexadecimal "0Ch" with small numbers bare, no space after a comma, the
 * mnemonic padded to 7 columns, je/jne/ja/jae/jg/jge condition names, string instructions
 * with their memory operands, call/jump targets and RIP-relative operands as addresses with
 * their symbol when the target's symbol layer knows one).
 *
 * A decoder handle (nk_disasm) caches the decoder, formatter and Capstone handle; it reads
 * code through the target's memory layer (nk_read_virt) or through a caller's reader.
 * Above the single instruction it offers what the u-family commands need: decoding backwards
 * to a given address (ub), and the flow graph of a function (uf). Nothing here keeps global
 * state; every loop is capped. */
#ifndef NTKD_CODE_DISASM_H
#define NTKD_CODE_DISASM_H

#include "dump/dump.h"

/* What kind of control transfer an instruction is. */
typedef enum nk_insn_kind {
    NK_IK_OTHER = 0,
    NK_IK_CALL,  /* call, bl, blr */
    NK_IK_JMP,   /* unconditional jump (direct or indirect) */
    NK_IK_JCC,   /* conditional jump (jcc, jcxz, loop, b.cond, cbz, tbz ...) */
    NK_IK_RET,   /* ret, iret, sysret, eret */
    NK_IK_STOP,  /* ends the flow without a return: int3, ud2, hlt, brk, int 29h (fastfail) */
} nk_insn_kind;

/* One decoded instruction, text in WinDbg's syntax: "mov     qword ptr [rsp+8],rcx". */
typedef struct nk_insn {
    uint64_t addr;
    uint8_t len;         /* bytes decoded (undecodable: the bytes shown before "???");
                            0 when nothing is readable */
    uint8_t bytes[16];
    char text[384];
    char effective[64];  /* with a context: the memory operand, "ds:ffffd000`207bbf18=00000001" */
    /* control flow (filled for decodable instructions) */
    uint8_t kind;        /* nk_insn_kind */
    bool has_target;     /* a direct branch or call: its target */
    uint64_t target;
    bool has_memref;     /* a RIP-relative (or absolute) memory operand: its address */
    uint64_t memref;
} nk_insn;

/* Reads code bytes: like nk_read_virt, *got = bytes read from va before the first missing one. */
typedef nk_status (*nk_disasm_read_fn)(void *user, uint64_t va, void *buf, size_t len, size_t *got);

typedef struct nk_disasm nk_disasm;

/* A decoder for arch (NK_ARCH_X64, NK_ARCH_X86, NK_ARCH_ARM64). t may be NULL (no memory
 * reads unless a reader is set, no symbols). Addresses print 64-bit wide when the target is
 * 64-bit (or, without a target, when arch is). NULL when out of memory or the arch is unknown. */
nk_disasm *nk_disasm_new(ntkd_target *t, nk_arch arch);
void nk_disasm_free(nk_disasm *d);
/* Code comes from `read` instead of the target's memory. */
void nk_disasm_set_reader(nk_disasm *d, nk_disasm_read_fn read, void *user);
/* Symbolize branch targets and memory operands (default: on when there is a target). */
void nk_disasm_set_symbols(nk_disasm *d, bool on);
nk_arch nk_disasm_arch(const nk_disasm *d);

/* Decodes one instruction from buf (avail bytes) as if at va. False when undecodable: then
 * in->len is the bytes shown before "???" (1 on x86, 4 on ARM64, at most avail). ctx (may be
 * NULL) supplies registers for `effective`. */
bool nk_disasm_buf(nk_disasm *d, uint64_t va, const uint8_t *buf, size_t avail,
                   const nk_context *ctx, nk_insn *in);
/* Reads and decodes the instruction at va. False when unreadable (in->len == 0) or
 * undecodable. */
bool nk_disasm_at(nk_disasm *d, uint64_t va, const nk_context *ctx, nk_insn *in);
/* "fffff804`7bdf5a80 48894c2408      mov     qword ptr [rsp+8],rcx" (+ " effective");
 * "fffff804`8b58334c ??              ???" when nothing was readable. */
void nk_disasm_format(const nk_disasm *d, const nk_insn *in, char *buf, size_t len);

/* Decoding backwards (ub): the start of the n instructions that end exactly at `addr`.
 * Candidates: `hint` (a function or symbol start at or below addr, 0 when none) and every
 * start offset up to n*15 bytes (x86) before addr; the chain that lands exactly on addr and
 * began furthest back (most self-synchronized) wins, a hint that lands always wins. ARM64:
 * addr - 4n. Returns the number of instructions found (< n when fewer decode to addr) and
 * their start in *start; 0 when none. */
size_t nk_disasm_back(nk_disasm *d, uint64_t addr, size_t n, uint64_t hint, uint64_t *start);

/* A function's flow graph (uf): basic blocks reached from `entry` by fall-through and direct
 * jumps. A jump target outside [lo, hi) is followed only when it does not begin another
 * symbol (split functions: chunks placed elsewhere); `is_foreign` (may be NULL) decides
 * that. Blocks are sorted by address. */
typedef struct nk_fblock {
    uint64_t start, end;  /* [start, end) */
    uint32_t ninsn;
} nk_fblock;
typedef struct nk_fgraph {
    nk_fblock *b;
    size_t n, cap;
    bool truncated;       /* a cap was reached (instructions or blocks) */
} nk_fgraph;
typedef bool (*nk_disasm_foreign_fn)(void *user, uint64_t target);
nk_status nk_disasm_flow(nk_disasm *d, uint64_t entry, uint64_t lo, uint64_t hi,
                         nk_disasm_foreign_fn is_foreign, void *user, nk_fgraph *out);
void nk_fgraph_free(nk_fgraph *g);

/* Compatibility with the first version (declared for cmd_regs.c in cmd.h): one instruction
 * through a temporary handle, and its line. */
bool nk_disasm_one(ntkd_target *t, nk_arch arch, uint64_t va, const nk_context *ctx, nk_insn *in);
void nk_disasm_line(const ntkd_target *t, nk_arch arch, const nk_insn *in, char *buf, size_t len);

#endif
