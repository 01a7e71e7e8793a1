/* trap.c: scene "trap8e" (x64 layouts): bug check 0x8E (KERNEL_MODE_EXCEPTION_NOT_HANDLED) whose
 * third parameter is a KTRAP_FRAME taken in a third-party driver's routine. The frame's Rip is
 * inside faulty!FaultyWorker and its Rsp is the stack of a system thread laid by k_thread, so
 * a walk from the trap frame's registers goes faulty!FaultyWorker -> faulty!FaultyDispatch ->
 * nt's thread start. !analyze -v must switch to that frame (faulting IP, registers, stack, blame).
 * Manifest: `trap <ktrap_frame> <rip> <rsp>`, `culprit <image> <function>`. */
#include "scene.h"

static uint64_t nt_any(kern *k, const char *a, const char *b)
{
    if (k_sym_opt(k, a) != SC_NONE) return k_nt_func(k, a);
    if (b && k_sym_opt(k, b) != SC_NONE) return k_nt_func(k, b);
    sc_die("scene trap8e: the table has neither %s nor %s", a, b ? b : "-");
}

void scene_trap(kern *k, const sc_base *b)
{
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
