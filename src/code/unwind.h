/* unwind.h: the stack layer's contract. A stack is walked from a register context, one frame
 * at a time, by the architecture's step function, exactly as Windows unwinds:
 *   x64   RUNTIME_FUNCTION/UNWIND_INFO from the module's .pdata (image from the dump or the
 *         symbol store), chained info, machine frames (trap/exception frames), a RIP in a
 *         prolog or epilog, leaf functions;
 *   x86   FrameData programs and FPO records from the module's PDB, else the EBP chain;
 *         KTRAP_FRAME across system-call and interrupt transitions;
 *   ARM64 packed/unpacked unwind data from .pdata, else the frame-pointer chain.
 * When a module has no unwind data, the walker says so on that frame and continues with a
 * stack scan for return addresses into known modules that follow a call instruction; such
 * frames are marked as guesses. The walker never presents a made-up frame as certain, and
 * it always ends with a reason. */
#ifndef NTKD_UNWIND_H
#define NTKD_UNWIND_H

#include "dump/dump.h"

/* Register file used while unwinding, indexed per architecture:
 *   x64:   0..15 in unwind-code numbering (rax rcx rdx rbx rsp rbp rsi rdi r8..r15),
 *          NK_UR_X64_RIP, NK_UR_X64_EFL
 *   x86:   0..7 (eax ecx edx ebx esp ebp esi edi), NK_UR_X86_EIP, NK_UR_X86_EFL
 *   ARM64: 0..28 = x0..x28, 29 fp, 30 lr, 31 sp, NK_UR_A64_PC, NK_UR_A64_CPSR */
enum {
    NK_UR_X64_RIP = 16, NK_UR_X64_EFL = 17,
    NK_UR_X86_EIP = 8, NK_UR_X86_EFL = 9,
    NK_UR_X86_CALLEE_PARAMS = 10, /* x86: bytes of parameters the callee frame had (FrameData
                                     params_size), so the caller's .raSearch skips them */
    NK_UR_A64_FP = 29, NK_UR_A64_LR = 30, NK_UR_A64_SP = 31, NK_UR_A64_PC = 32, NK_UR_A64_CPSR = 33,
    NK_UR_MAX = 34
};

/* cmd/cmd_stack.c keeps its session state (.cxr/.trap/.frame buffers) in t->ext[NK_EXT_STACK]. */
#define NK_EXT_STACK 6

typedef struct nk_uregs {
    nk_arch arch;
    uint64_t r[NK_UR_MAX];
    uint64_t valid;   /* bit i set: r[i] is known (recovered or from the context) */
} nk_uregs;

typedef enum nk_frame_how {
    NK_FH_CONTEXT = 0,  /* the starting context */
    NK_FH_UNWIND,       /* x64/ARM64 unwind data */
    NK_FH_LEAF,         /* x64 leaf: no .pdata entry, return address at [rsp] */
    NK_FH_MACHFRAME,    /* through a machine frame (trap or exception frame) */
    NK_FH_FPO,          /* x86 FPO record */
    NK_FH_FRAMEDATA,    /* x86 FrameData program */
    NK_FH_EBP,          /* x86 EBP chain */
    NK_FH_FPCHAIN,      /* ARM64 frame-pointer chain */
    NK_FH_TRAP,         /* through a KTRAP_FRAME */
    NK_FH_SCAN,         /* stack scan: a guess */
} nk_frame_how;

typedef struct nk_frame {
    uint64_t pc;        /* the frame's instruction pointer ("Call Site") */
    uint64_t sp;        /* the frame's stack pointer ("Child-SP") */
    uint64_t ret;       /* its return address ("RetAddr"); 0 for the last frame */
    uint64_t fp;        /* frame/base pointer where meaningful (x86 ebp, ARM64 fp) */
    uint64_t args[4];   /* `kb`: the first stack arguments or home slots as WinDbg shows them */
    nk_frame_how how;   /* how this frame's caller was found */
    uint64_t trap;      /* address of a trap/machine frame this frame unwound through, or 0
                         * (x64: the machine frame, its RIP slot; x86: the KTRAP_FRAME) */
    nk_uregs regs;      /* the registers in this frame (nonvolatiles recovered) */
    char note[96];      /* e.g. "no unwind data for Foo.sys (image not in dump or store)" */
} nk_frame;

typedef struct nk_stack {
    nk_frame *f;
    size_t n, cap;
    char stop[160];     /* why the walk ended ("reached the stack base", "return address 0", ...) */
} nk_stack;

nk_status nk_uregs_from_context(const nk_context *c, nk_uregs *out);
/* Walks at most max_frames from `start`. */
nk_status nk_stack_walk(ntkd_target *t, const nk_uregs *start, size_t max_frames, nk_stack *out);
void nk_stack_free(nk_stack *s);
/* The registers a KTRAP_FRAME at addr saved (layout from nt's _KTRAP_FRAME; x86 kernel-mode
 * traps: esp is the end of the frame). trap.c */
nk_status nk_trap_regs(ntkd_target *t, uint64_t addr, nk_arch arch, nk_uregs *out);
/* The KTRAP_FRAME holding a machine frame (x64: the machine frame is its Rip..SegSs tail; x86:
 * nk_frame.trap is the KTRAP_FRAME already, returned as is), 0 without nt's types. */
uint64_t nk_trap_of_machframe(ntkd_target *t, uint64_t mf);
/* The first return address at or above sp within max_slots pointer-sized slots: a value inside
 * a loaded module that follows a call instruction (the stack scan the walker falls back on).
 * Sets *slot (its address) and *ret. */
bool nk_stack_scan_return(ntkd_target *t, uint64_t sp, unsigned max_slots, uint64_t *slot, uint64_t *ret);
/* Register names by nk_uregs index for the architecture ("rax".."r15", "rip", "efl"; NULL
 * entries for unused slots), as nk_context_get knows them. NULL for an unknown arch. */
const char *const *nk_uregs_names(nk_arch a);

/* One step per architecture: from the registers of a frame to its caller's. Returns NTKD_OK
 * with *how set, NTKD_E_NOTFOUND when this method has no data for the pc (the walker then
 * tries the next method, ending with a scan), or another status when the stack is unreadable.
 * `note` receives a short explanation when useful. */
nk_status nk_step_x64(ntkd_target *t, nk_uregs *r, nk_frame_how *how, char *note, size_t nlen);
nk_status nk_step_x86(ntkd_target *t, nk_uregs *r, nk_frame_how *how, char *note, size_t nlen);
nk_status nk_step_arm64(ntkd_target *t, nk_uregs *r, nk_frame_how *how, char *note, size_t nlen);

/* FrameData programs (x86): evaluates an RPN program such as
 * "$T0 .raSearch = $eip $T0 ^ = $esp $T0 4 + = " against registers and memory. */
typedef struct nk_rpn_env {
    ntkd_target *t;
    nk_uregs *regs;
    uint64_t ra_search;  /* .raSearch */
    uint64_t t_vars[10]; /* $T0..$T9 */
    uint32_t t_set;
    /* optional (zero = unavailable): the record's sizes, for .cbLocals .cbSavedRegs .cbParams */
    uint32_t cb_locals, cb_saved_regs, cb_params;
    bool have_sizes;
    /* optional memory hook used by `^` instead of the target (tests, fuzzing): 4 bytes at va */
    nk_status (*read32)(void *user, uint64_t va, uint32_t *v);
    void *read_user;
} nk_rpn_env;
nk_status nk_rpn_eval(nk_rpn_env *env, const char *program, char *err, size_t errlen);

#endif
