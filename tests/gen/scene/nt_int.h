/* nt_int.h: state shared by nt.c and proc.c only (the kernel side of ntkd-genscene).
 * k_new allocates a kpriv whose first member is the public kern, so kern * and kpriv * are
 * the same pointer. Nothing here is part of scene.h's contract. */
#ifndef NTKD_SCENE_NT_INT_H
#define NTKD_SCENE_NT_INT_H

#include "scene.h"

#define KN_MAX_RETSITES 8
#define KN_MAX_RETS 24

/* A generated function (nt or a driver): code at va, len bytes, a fixed frame. */
typedef struct kfunc {
    char module[48];
    char name[96];
    uint64_t va, len, maxlen; /* maxlen: room before the next function (drivers) */
    unsigned frame;           /* x64: bytes the prologue subtracts; x86: locals below EBP */
    unsigned prolog;          /* prologue bytes */
    bool machframe;           /* x64 trap handler (KiPageFault): the CPU pushed a machine frame
                               * with an error code, the prologue pushes rbp and allocates the
                               * rest of a KTRAP_FRAME; unwind info UWOP_PUSH_MACHFRAME(1),
                               * PUSH_NONVOL rbp, ALLOC_LARGE; frame: the KTRAP_FRAME up to SegSs */
    bool frameless;           /* x86: no EBP frame (KiSwapContext: 4 registers saved in a
                               * 0x10-byte area, ebp at its bottom; the return address above) */
    uint64_t rets[KN_MAX_RETSITES]; /* return sites (k_ret) inside it */
    uint64_t callee[KN_MAX_RETSITES]; /* what the call before each site calls (0: itself) */
    unsigned nrets;
} kfunc;

typedef struct kmodule {
    char file[64];
    uint64_t base, size, ldr;
    uint32_t timestamp, checksum;
    bool is_nt;
    char pdb_id[48]; /* k_driver_image_pdb: the CodeView identity ("GUID-age"), else "" */
} kmodule;

typedef struct kproc {
    uint64_t eprocess;
    uint32_t pid, ppid;
    char name[16];
    int space;
    uint64_t dtb, peb;
} kproc;

typedef struct kthr {
    uint64_t ethread, process;
    uint32_t tid;
    unsigned state, wait_reason;
    uint64_t teb, base, limit, initial, kstack;
    uint64_t rets[KN_MAX_RETS];
    size_t nrets;
    uint64_t x_esp0, x_ebp0; /* x86: esp / ebp of frame 0 as laid (running threads' context) */
    uint64_t x_user_tf;      /* x86: the KTRAP_FRAME of the entry from user mode, or 0 */
    uint64_t x_user_esp;     /* x86: its user esp (k_teb: in the TEB's stack), or 0 */
    int cpu; /* running on, or -1 */
    bool idle;
} kthr;

typedef struct kpriv {
    kern k;
    kfunc *fn;
    size_t nfn, cfn;
    kmodule mod[128];
    size_t nmod;
    kproc *proc;
    size_t nproc, cproc;
    kthr *thr;
    size_t nthr, cthr;
    char (*sym)[96];
    size_t nsym, csym;
    uint64_t next_driver;
    uint64_t idle_process;
    bool have_bugcheck;
    bool hostile_modules; /* k_hostile_modules: PsLoadedModuleList loops at k_finish */
} kpriv;

static inline kpriv *kp_of(kern *k) { return (kpriv *)k; }

/* nt.c, for proc.c */
const kfunc *kn_func_at(kern *k, uint64_t va); /* the function holding va, or NULL */
unsigned kn_frame_of(kern *k, uint64_t ret);  /* its frame (dies when va is in no function) */
bool kn_x86(kern *k);
/* The call instruction ending at return site `ret` calls `callee` (first one set wins). */
void kn_ret_callee(kern *k, uint64_t ret, uint64_t callee);

/* proc.c, for nt.c */
kthr *kp_thr(kern *k, uint64_t ethread); /* NULL when not made by k_thread / kp_idle_thread */
uint64_t kp_idle_process(kern *k);        /* the Idle process (KiInitialProcess) */
uint64_t kp_idle_thread(kern *k, unsigned cpu, uint64_t at); /* ETHREAD at `at` (0: pool) */
/* Registers for a thread's current frame: running (the bugcheck frame on the crashing
 * processor: pc = KeBugCheckEx) or as left by the context switch. */
void kp_thread_regs(kern *k, kthr *t, bool crash, uint64_t bugcheck_fn, uint64_t *pc,
                    uint64_t *sp, uint64_t *fp);
void kp_finish(kern *k); /* process / thread manifest lines */

#endif
