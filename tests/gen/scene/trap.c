/* trap.c: scenes "trap8e" (x64 layouts) and "trapd1" (x64 layouts and xp).
 *
 * trap8e: bug check 0x8E (KERNEL_MODE_EXCEPTION_NOT_HANDLED) whose
 * third parameter is a KTRAP_FRAME taken in a third-party driver's routine. The frame's Rip is
 * inside faulty!FaultyWorker and its Rsp is the stack of a system thread laid by k_thread, so
 * a walk from the trap frame's registers goes faulty!FaultyWorker -> faulty!FaultyDispatch ->
 * nt's thread start. !analyze -v must switch to that frame (faulting IP, registers, stack, blame).
 *
 * trapd1: bug check 0xD1 DRIVER_IRQL_NOT_LESS_OR_EQUAL raised from nt!KiPageFault: a DPC routine
 * of a third-party driver (faulty!FaultyDpcRoutine, IRQL 2) read a pageable address that is not
 * resident. The crashing processor runs a thread whose stack holds, innermost first:
 * KeBugCheckEx's return into nt!KiBugCheckDispatch, its return into nt!KiPageFault, then the
 * KTRAP_FRAME the page fault built (KiPageFault's unwind info: UWOP_PUSH_MACHFRAME with the
 * error code, PUSH_NONVOL rbp, ALLOC_LARGE; nt.c), whose Rip is inside FaultyDpcRoutine and
 * whose Rsp is that routine's frame, above it the DPC dispatch frames of nt. No parameter names
 * the trap frame: a debugger finds it by unwinding the crash stack through the machine frame.
 * Parameters: P1 the address referenced, P2 the IRQL (2), P3 0 (a read), P4 the faulting rip.
 * On xp (x86 PAE) the same crash goes through nt!KiTrap0E, which keeps ebp at the KTRAP_FRAME it
 * built below the interrupted stack (a kernel-mode trap pushes no esp); proc.c lays that frame
 * when it lays the crash stack and nt.c writes its `trap` line (esp: the interrupted esp).
 *
 * Manifest: `trap <ktrap_frame> <rip> <rsp>`, `culprit <image> <function>`. */
#include "scene.h"

#include <string.h>

static uint64_t nt_any(kern *k, const char *a, const char *b)
{
    if (k_sym_opt(k, a) != SC_NONE) return k_nt_func(k, a);
    if (b && k_sym_opt(k, b) != SC_NONE) return k_nt_func(k, b);
    sc_die("scene trap8e: the table has neither %s nor %s", a, b ? b : "-");
}

static void scene_trapd1(kern *k, const sc_base *b);

void scene_trap(kern *k, const sc_base *b)
{
    if (b->o && b->o->scene && !strcmp(b->o->scene, "trapd1")) {
        scene_trapd1(k, b);
        return;
    }
    const lay *L = k->L;
    if (lay_ptr(L) != 8) sc_die("scene trap8e: x64 layouts only");
    static const char *const fns[] = {"FaultyDispatch", "FaultyWorker"};
    k_driver_image(k, "faulty.sys", fns, 2);
    uint64_t worker = k_func(k, "faulty.sys", "FaultyWorker");
    uint64_t disp = k_func(k, "faulty.sys", "FaultyDispatch");
    uint64_t rets[4];
    rets[0] = k_ret(k, worker, 0x12);
    rets[1] = k_ret(k, disp, 0x1c);
    rets[2] = k_ret(k, nt_any(k, "PspSystemThreadStartup", NULL), 0x4a);
    rets[3] = k_ret(k, nt_any(k, "KiStartSystemThread", "KiThreadStartup"), 0x16);
    /* a system thread; its saved switch frame is below the frames the trap frame points at */
    uint64_t th = k_thread(k, b->system, 0x9c, 5 /* Waiting */, 0 /* Executive */, rets, 4);
    uint64_t ks = w_field(k->w, th, "_KTHREAD", "KernelStack");
    /* The registers at the fault: inside FaultyWorker, with the stack as the callee left it
     * (the frames k_thread laid above the 0x40-byte switch frame). */
    uint64_t rip = rets[0];
    uint64_t rsp = ks + 0x40;
    uint64_t tf = w_alloc(k->w, lay_size(L, "_KTRAP_FRAME"), 16);
    w_set(k->w, tf, "_KTRAP_FRAME", "Rip", rip);
    w_set(k->w, tf, "_KTRAP_FRAME", "Rsp", rsp);
    w_set(k->w, tf, "_KTRAP_FRAME", "Rbp", 0);
    w_set(k->w, tf, "_KTRAP_FRAME", "Rax", 0);                      /* the null pointer read */
    w_set(k->w, tf, "_KTRAP_FRAME", "Rcx", 0xfffff80012345678ull);
    w_set(k->w, tf, "_KTRAP_FRAME", "SegCs", 0x10);
    w_set(k->w, tf, "_KTRAP_FRAME", "SegSs", 0x18);
    w_set(k->w, tf, "_KTRAP_FRAME", "EFlags", 0x10246);
    k_bugcheck(k, 0x8E, 0xC0000005u, rip, tf, 0);
    mf("trap 0x%llx 0x%llx 0x%llx", (unsigned long long)tf, (unsigned long long)rip, (unsigned long long)rsp);
    mf("culprit faulty.sys FaultyWorker");
}

/* ------------------------------------------------------------------ trapd1 */
static void scene_trapd1(kern *k, const sc_base *b)
{
    const lay *L = k->L;
    world *w = k->w;
    static const char *const fns[] = {"FaultyDpcRoutine"};
    k_driver_image(k, "faulty.sys", fns, 1);
    uint64_t dpc = k_func(k, "faulty.sys", "FaultyDpcRoutine");
    if (lay_ptr(L) == 4) {
        /* x86 (XP): nt!KiTrap0E built the KTRAP_FRAME (ebp at it) and called KeBugCheckEx;
         * proc.c lays the frame above KeBugCheckEx's parameters when the crash stack is laid
         * (k_finish), with Eip = the next return address (the faulting eip) and the
         * interrupted esp where HardwareEsp would be; nt.c writes the `trap` line then. */
        uint64_t eip = dpc + 0x1a; /* past the 6-byte push ebp; mov ebp,esp; sub esp,N */
        uint64_t xr[4] = {k_ret(k, k_nt_func(k, "KiTrap0E"), 0x233), eip,
                          k_ret(k, k_nt_func(k, "KiRetireDpcList"), 0x46),
                          k_ret(k, k_nt_func(k, "KiIdleLoop"), 0x2a)};
        uint64_t th = k_thread(k, b->system, 0xa4, 2 /* Running */, 0 /* Executive */, xr, 4);
        k_run_on(k, th, 0);
        w_try(w, k->pcr[0], "_KPCR", "Irql", 2);
        k_bugcheck(k, 0xD1, 0xe1234568u, 2, 0, eip);
        mf("culprit faulty.sys FaultyDpcRoutine");
        return;
    }
    /* the faulting instruction: inside the routine's body (past its 4-byte prologue), not a
     * return site */
    uint64_t rip = dpc + 0x1a;
    uint64_t rets[6];
    size_t n = 0;
    rets[n++] = k_ret(k, k_nt_func(k, "KiBugCheckDispatch"), 0x69);
    rets[n++] = k_ret(k, k_nt_func(k, "KiPageFault"), 0x260);
    rets[n++] = rip;
    if (k->build >= 9200 && k_sym_opt(k, "KiExecuteAllDpcs") != SC_NONE)
        rets[n++] = k_ret(k, k_nt_func(k, "KiExecuteAllDpcs"), 0x30e);
    rets[n++] = k_ret(k, k_nt_func(k, "KiRetireDpcList"), 0x1bc);
    rets[n++] = k_ret(k, k_nt_func(k, "KiIdleLoop"), 0x5a);
    /* a System thread running on processor 0, the crashing one (k_finish lays KeBugCheckEx's
     * frame below rets[0]); k_thread lays each frame above the previous return slot, so the
     * KiPageFault "frame" (the KTRAP_FRAME up to SegSs, nt.c) ends where the CPU pushed SegSs,
     * and the slot after it (rets[2]'s) is the trap frame's SegSs, which is written below */
    uint64_t th = k_thread(k, b->system, 0xa4, 2 /* Running */, 0 /* Executive */, rets, n);
    k_run_on(k, th, 0);
    uint64_t ks = w_field(w, th, "_KTHREAD", "KernelStack");
    uint64_t slot1 = 0;
    for (uint64_t a = ks; a < ks + 0x400 && !slot1; a += 8)
        if (w_get(w, a, 8) == rets[1])
            slot1 = a;
    if (!slot1) sc_die("scene trapd1: KiPageFault's return slot not found on the stack");
    uint64_t tf = slot1 + 8;
    uint64_t tfsize = lay_size(L, "_KTRAP_FRAME");
    uint64_t rsp = tf + tfsize; /* 16-aligned: the CPU pushed SegSs..ErrorCode below it */
    if ((tf & 15) || w_get(w, tf + tfsize - 8, 8) != rip)
        sc_die("scene trapd1: the trap frame at 0x%llx does not line up with the stack", (unsigned long long)tf);
    /* the paged-pool address the routine read (not resident: never written, so not in the dump) */
    uint64_t va = k->build < 9200 ? 0xfffff8a0012345f0ull : 0xffffb88c012345f0ull;
    w_set(w, tf, "_KTRAP_FRAME", "Rip", rip);
    w_set(w, tf, "_KTRAP_FRAME", "Rsp", rsp);
    w_set(w, tf, "_KTRAP_FRAME", "SegCs", 0x10);
    w_set(w, tf, "_KTRAP_FRAME", "SegSs", 0x18);
    w_set(w, tf, "_KTRAP_FRAME", "EFlags", 0x10286);
    w_set(w, tf, "_KTRAP_FRAME", "ErrorCode", 0); /* kernel-mode read, page not present */
    w_set(w, tf, "_KTRAP_FRAME", "Rbp", 0);
    w_set(w, tf, "_KTRAP_FRAME", "Rcx", va);       /* mov eax,[rcx] */
    w_set(w, tf, "_KTRAP_FRAME", "Rax", 0);
    w_set(w, tf, "_KTRAP_FRAME", "Rdx", 0x2f);
    w_try(w, tf, "_KTRAP_FRAME", "FaultAddress", va);
    w_try(w, tf, "_KTRAP_FRAME", "PreviousIrql", 2);
    w_try(w, tf, "_KTRAP_FRAME", "PreviousMode", 0);
    w_try(w, k->pcr[0], "_KPCR", "Irql", 2);
    w_try(w, k->prcb[0], "_KPRCB", "DpcRoutineActive", 1);
    k_bugcheck(k, 0xD1, va, 2, 0, rip);
    mf("trap 0x%llx 0x%llx 0x%llx", (unsigned long long)tf, (unsigned long long)rip, (unsigned long long)rsp);
    mf("culprit faulty.sys FaultyDpcRoutine");
}
