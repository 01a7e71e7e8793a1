/* proc.c: processes and threads for ntkd-genscene.
 *
 * EPROCESS / ETHREAD bodies come from ob_alloc (object header before the body); every field is
 * set by name from the kernel table (w_try for fields that come and go between builds).
 * Kernel stacks: 6 pages each; a waiting thread's KernelStack points at the frame the context
 * switch leaves:
 *   x64: a KSWITCH_FRAME (P1Home..P5Home, ApcBypass, Rbp, Return; Return at +0x38, 0x40 bytes;
 *        the table's _KSWITCH_FRAME offsets when it has one) whose Return is rets[0]; above it
 *        each function's frame (the size its UWOP_ALLOC_SMALL undoes) then the next return
 *        address, so a .pdata unwind from (rip = Return, rsp = KernelStack + 0x40) visits
 *        every rets[i].
 *   x86: the KSWITCHFRAME (ExceptionList, ApcBypassDisable, RetAddr = rets[0]) with frame 0
 *        starting at KernelStack + 0xc (where KiSwapContext saved the caller's ebp); each
 *        frame above is laid the way the kernel PDB's FPO / FrameData record for that
 *        function describes it (x86_classify below), driver frames as EBP frames.
 * The manifest's `stack` line lists each thread's return addresses (innermost first).
 * Public facts: the AMD64 KSWITCH_FRAME and i386 KSWITCHFRAME layouts as ReactOS's public
 * headers spell them; KiSwapContext's register save order (ebp at [esp]) likewise. */
#include "nt_int.h"

#include <stdlib.h>
#include <string.h>

#define KSTACK_SIZE 0x6000u

static uint64_t align_down(uint64_t v, uint64_t a) { return v & ~(a - 1); }

static kproc *proc_rec(kern *k, uint64_t eprocess)
{
    kpriv *kp = kp_of(k);
    for (size_t i = 0; i < kp->nproc; i++)
        if (kp->proc[i].eprocess == eprocess)
            return &kp->proc[i];
    return NULL;
}

kthr *kp_thr(kern *k, uint64_t ethread)
{
    kpriv *kp = kp_of(k);
    for (size_t i = 0; i < kp->nthr; i++)
        if (kp->thr[i].ethread == ethread)
            return &kp->thr[i];
    return NULL;
}

static kthr *thr_new(kpriv *kp)
{
    if (kp->nthr == kp->cthr) {
        kp->cthr = kp->cthr ? kp->cthr * 2 : 64;
        kp->thr = realloc(kp->thr, kp->cthr * sizeof *kp->thr);
        if (!kp->thr)
            sc_die("out of memory");
    }
    kthr *t = &kp->thr[kp->nthr++];
    memset(t, 0, sizeof *t);
    t->cpu = -1;
    return t;
}

static kproc *proc_new(kpriv *kp)
{
    if (kp->nproc == kp->cproc) {
        kp->cproc = kp->cproc ? kp->cproc * 2 : 32;
        kp->proc = realloc(kp->proc, kp->cproc * sizeof *kp->proc);
        if (!kp->proc)
            sc_die("out of memory");
    }
    kproc *p = &kp->proc[kp->nproc++];
    memset(p, 0, sizeof *p);
    return p;
}

/* Typed store into a user address space (the layout's field size; no bitfields). */
static void uset(kern *k, int space, uint64_t obj, const char *type, const char *field, uint64_t v)
{
    uint64_t off, size;
    unsigned bp, bl;
    if (!lay_field(k->L, type, field, &off, &size, &bp, &bl) || bl || size > 8)
        return;
    w_uwrite(k->w, space, obj + off, &v, (size_t)size);
}

/* A UNICODE_STRING at `us` in a user space, its buffer in the same space. */
static void ustr_user(kern *k, int space, uint64_t us, const char *s)
{
    size_t n = strlen(s);
    if (n > 1000)
        n = 1000;
    uint16_t buf[1001];
    for (size_t i = 0; i < n; i++)
        buf[i] = (uint8_t)s[i];
    buf[n] = 0;
    uint64_t b = w_ualloc(k->w, space, (n + 1) * 2);
    w_uwrite(k->w, space, b, buf, (n + 1) * 2);
    uset(k, space, us, "_UNICODE_STRING", "Length", n * 2);
    uset(k, space, us, "_UNICODE_STRING", "MaximumLength", n * 2 + 2);
    uset(k, space, us, "_UNICODE_STRING", "Buffer", b);
}

static void list_init_field(kern *k, uint64_t obj, const char *type, const char *field)
{
    int64_t o = lay_off(k->L, type, field);
    if (o >= 0)
        w_list_init(k->w, obj + (uint64_t)o);
}

static void list_add_field(kern *k, uint64_t head_obj, const char *htype, const char *hfield,
                           uint64_t obj, const char *type, const char *field)
{
    int64_t ho = lay_off(k->L, htype, hfield), eo = lay_off(k->L, type, field);
    if (ho >= 0 && eo >= 0)
        w_list_tail(k->w, head_obj + (uint64_t)ho, obj + (uint64_t)eo);
}

/* The common part of an EPROCESS. */
static void process_init(kern *k, uint64_t e, const char *name, uint32_t pid, uint32_t ppid,
                         uint64_t dtb)
{
    world *w = k->w;
    w_try(w, e, "_EPROCESS", "Pcb.Header.Type", 3); /* ProcessObject */
    w_try(w, e, "_EPROCESS", "Pcb.Header.Size", lay_size(k->L, "_KPROCESS") / 4);
    list_init_field(k, e, "_EPROCESS", "Pcb.Header.WaitListHead");
    w_set(w, e, "_EPROCESS", "Pcb.DirectoryTableBase", dtb);
    list_init_field(k, e, "_EPROCESS", "Pcb.ThreadListHead");
    list_init_field(k, e, "_EPROCESS", "ThreadListHead");
    w_try(w, e, "_EPROCESS", "Pcb.BasePriority", pid == 4 ? 8 : 8);
    w_set(w, e, "_EPROCESS", "UniqueProcessId", pid);
    w_try(w, e, "_EPROCESS", "InheritedFromUniqueProcessId", ppid);
    int64_t o = lay_off(k->L, "_EPROCESS", "ImageFileName");
    if (o >= 0) {
        char img[15];
        memset(img, 0, sizeof img);
        strncpy(img, name, sizeof img - 1);
        w_write(w, e + (uint64_t)o, img, sizeof img);
    }
    w_try(w, e, "_EPROCESS", "CreateTime", 0x01d9c1a2b3c4d5e6ULL + (uint64_t)pid * 0x1000);
}

uint64_t kp_idle_process(kern *k)
{
    kpriv *kp = kp_of(k);
    if (kp->idle_process)
        return kp->idle_process;
    uint64_t e = k_sym_opt(k, "KiInitialProcess");
    if (e == SC_NONE)
        e = k_sym_opt(k, "KiIdleProcess"); /* XP's name for it */
    if (e == SC_NONE)
        e = w_alloc(k->w, lay_size(k->L, "_EPROCESS"), 64);
    process_init(k, e, "Idle", 0, 0, w_space_dtb(k->w, 0));
    uint64_t pi = k_sym_opt(k, "PsIdleProcess");
    if (pi != SC_NONE)
        w_pointer(k->w, pi, e);
    kp->idle_process = e;
    return e;
}

/* ------------------------------------------------------------------ x86 frames
 * Each x86 frame is laid the way the debugger will unwind it, which is the way the kernel's
 * PDB describes the real function (the records pdb2isf.py exported, lay_frame_at), tried in
 * the debugger's order:
 *   trap     a trap handler by name (KiFastCallEntry, KiTrap*...) or an FPO record of frame
 *            type 1: ebp points at a KTRAP_FRAME holding the interrupted eip/ebp/esp;
 *   EBP      a FrameData program "$T0 $ebp = ..." or an FPO record of frame type 3 (non-FPO),
 *            or no record (the EBP chain): [ebp] = caller's ebp, [ebp+4] = return address;
 *   RA       a FrameData program on .raSearch or an FPO record of frame type 0: the return
 *            address at esp + callee's parameters + locals + saved registers; when the FPO
 *            record says the function uses ebp (fUseBP) the caller's ebp is in the saved-
 *            register area: at its bottom for KiSwapContext (its code: sub esp,10h ...
 *            mov [esp],ebp), else 8 bytes below its top (4 with one register), the slot MSVC's
 *            push order gives and Breakpad's FPO walker reads.
 * A frame's parameter size (FrameData params / FPO cdwParams) is what the debugger adds to
 * the caller's esp: the arguments the caller pushed lie between the return address and the
 * caller's own frame. Driver images have no PDB here: EBP frames. */
typedef enum { XF_EBP, XF_RA, XF_TRAP } xf_kind;

typedef struct xframe {
    xf_kind kind;
    uint32_t below;  /* EBP: bytes from esp (past the callee's arguments) to the frame pointer;
                      * RA: locals + saved registers below the return address */
    uint32_t params; /* carried to the caller as the callee's parameter size */
    int ebp_slot;    /* RA: offset of the saved caller's ebp from the return-address slot
                      * (negative); 0: the function does not touch ebp */
    bool user_trap;  /* trap: the outermost frame, entered from user mode */
} xframe;

static bool trap_handler_name(const char *n)
{
    static const char *const pfx[] = {"KiTrap", "KiSystemService", "KiFastCallEntry",
                                      "KiInterruptTemplate", "KiInterruptDispatch",
                                      "KiChainedDispatch", "KiUnexpectedInterrupt",
                                      "KiDebugService", "KiCallbackReturn"};
    for (size_t i = 0; i < sizeof pfx / sizeof pfx[0]; i++)
        if (!strncmp(n, pfx[i], strlen(pfx[i])))
            return true;
    return false;
}

static xframe x86_classify(kern *k, uint64_t pc)
{
    const kfunc *f = kn_func_at(k, pc);
    if (!f)
        sc_die("return address 0x%llx is in no generated function (use k_ret)",
               (unsigned long long)pc);
    xframe x = {XF_EBP, f->frame, 0, 0, false};
    bool nt = !strcmp(f->module, "nt");
    if (nt && trap_handler_name(f->name)) {
        x.kind = XF_TRAP;
        return x;
    }
    lay_frame r;
    if (nt && lay_frame_at(k->L, pc - k->base, &r)) {
        if (r.kind == LAY_FRAMEDATA) {
            const char *pg = r.program;
            x.params = r.params;
            x.below = r.locals + r.regs;
            if (!strncmp(pg, "$T0 $ebp = $eip $T0 4 + ^ =", 27)) {
                x.kind = XF_EBP;
            } else if (strstr(pg, ".raSearch") && !strstr(pg, "$ebp $T")) {
                x.kind = XF_RA; /* ebp untouched ("$ebp $ebp =" or not assigned) */
            } else {
                sc_die("%s+0x%llx: FrameData program not laid by the generator: %s", f->name,
                       (unsigned long long)(pc - f->va), pg);
            }
            return x;
        }
        x.params = r.params;
        x.below = r.locals + r.regs;
        switch (r.frame) {
        case 0:
            x.kind = XF_RA;
            if (r.usebp && r.regs)
                x.ebp_slot = f->frameless ? -(int)(r.locals + r.regs)
                                          : -(int)(r.locals + (r.regs >= 8 ? 8 : 4));
            return x;
        case 1:
            x.kind = XF_TRAP;
            x.params = 0;
            return x;
        case 3:
            x.kind = XF_EBP;
            return x;
        default:
            sc_die("%s+0x%llx: FPO frame type %u (TSS) not laid by the generator", f->name,
                   (unsigned long long)(pc - f->va), r.frame);
        }
    }
    if (f->frameless) { /* KiSwapContext without records: as its code is written */
        x.kind = XF_RA;
        x.below = 0x10;
        x.ebp_slot = -0x10;
    }
    return x;
}

/* A planned x86 frame: where its pieces go, relative to the start of the layout. */
typedef struct xplan {
    xframe x;
    uint64_t esp, cp;    /* esp at the frame; callee's parameter bytes above it */
    uint64_t fp;         /* EBP: the frame pointer; trap: the KTRAP_FRAME */
    uint64_t ret_slot;   /* EBP/RA: the return address */
    uint64_t ebp;        /* ebp while the frame runs */
} xplan;

#define X86_USER_EIP 0x7c90e4f4u /* ntdll's system-call return (XP SP3) */

/* Plans frames pcs[0..n-1] from esp0 upward (cp0: parameter bytes of what pcs[0] called);
 * returns the highest byte used + 1. Writes nothing when `write` is false. */
static uint64_t x86_plan(kern *k, kthr *t, const uint64_t *pcs, size_t n, uint64_t esp0,
                         uint64_t cp0, xplan *pl, bool write)
{
    world *w = k->w;
    uint64_t esp = esp0, cp = cp0, top = esp0;
    uint64_t tf_size = lay_size(k->L, "_KTRAP_FRAME");
    uint64_t hw_esp = lay_off_req(k->L, "_KTRAP_FRAME", "HardwareEsp");
    for (size_t i = 0; i < n; i++) {
        xplan *p = &pl[i];
        p->x = x86_classify(k, pcs[i]);
        p->esp = esp;
        p->cp = cp;
        switch (p->x.kind) {
        case XF_EBP:
            p->fp = esp + cp + p->x.below;
            p->ret_slot = p->fp + 4;
            esp = p->fp + 8;
            cp = p->x.params;
            break;
        case XF_RA:
            p->ret_slot = esp + cp + p->x.below;
            esp = p->ret_slot + 4;
            cp = p->x.params;
            break;
        case XF_TRAP:
            p->fp = esp + cp;
            p->x.user_trap = i + 1 == n;
            esp = p->fp + hw_esp; /* a kernel-mode trap pushed no esp: the interrupted one */
            cp = 0;
            if (p->fp + tf_size > top)
                top = p->fp + tf_size;
            break;
        }
        if (esp > top)
            top = esp;
    }
    top += 8;
    if (!write)
        return top;
    /* ebp values, outermost first: the caller of the outermost frame has ebp 0 */
    uint64_t ebp = 0;
    for (size_t i = n; i-- > 0;) {
        xplan *p = &pl[i];
        uint64_t ret = i + 1 < n ? pcs[i + 1] : 0;
        switch (p->x.kind) {
        case XF_EBP:
            w_put(w, p->fp, 4, ebp);
            w_put(w, p->ret_slot, 4, ret);
            ebp = p->fp;
            break;
        case XF_RA:
            w_put(w, p->ret_slot, 4, ret);
            if (p->x.ebp_slot) {
                uint64_t slot = p->ret_slot + (uint64_t)(int64_t)p->x.ebp_slot;
                /* the other saved registers: values that are no stack addresses */
                for (uint64_t a = p->ret_slot - p->x.below; a < p->ret_slot; a += 4)
                    if (a != slot)
                        w_put(w, a, 4, t->ethread);
                w_put(w, slot, 4, ebp);
            }
            break; /* ebp passes through (restored before the return) */
        case XF_TRAP: {
            uint64_t tf = p->fp;
            w_set(w, tf, "_KTRAP_FRAME", "Ebp", ebp);
            w_try(w, tf, "_KTRAP_FRAME", "EFlags", 0x202);
            if (p->x.user_trap) {
                w_set(w, tf, "_KTRAP_FRAME", "Eip", X86_USER_EIP);
                w_set(w, tf, "_KTRAP_FRAME", "SegCs", 0x1b);
                w_try(w, tf, "_KTRAP_FRAME", "HardwareSegSs", 0x23);
                /* the user stack: k_teb moves it into the stack the TEB describes */
                w_set(w, tf, "_KTRAP_FRAME", "HardwareEsp", t->x_user_esp ? t->x_user_esp : 0x0006fe00u);
                w_set(w, tf, "_KTRAP_FRAME", "Ebp", 0);
                t->x_user_tf = tf;
            } else {
                w_set(w, tf, "_KTRAP_FRAME", "Eip", ret);
                w_set(w, tf, "_KTRAP_FRAME", "SegCs", 0x08);
            }
            ebp = tf;
            break;
        }
        }
        p->ebp = ebp;
    }
    return top;
}

/* Lays the thread's kernel stack (switch frame + the chain of rets); sets KernelStack. */
static void stack_layout(kern *k, kthr *t)
{
    world *w = k->w;
    if (!t->nrets)
        sc_die("thread 0x%llx: no return addresses", (unsigned long long)t->ethread);
    if (!kn_x86(k)) {
        uint64_t need = 0x40;
        for (size_t i = 0; i < t->nrets; i++)
            need += kn_frame_of(k, t->rets[i]) + 16;
        need += 0x40;
        if (need + 0x100 > t->initial - t->limit)
            sc_die("thread 0x%llx: stack chain too deep", (unsigned long long)t->ethread);
        uint64_t ks = align_down(t->initial - need, 16);
        t->kstack = ks;
        int64_t ro = lay_off(k->L, "_KSWITCH_FRAME", "Return");
        uint64_t ret_off = ro >= 0 ? (uint64_t)ro : 0x38;
        uint64_t p = ks + ret_off; /* the slot holding rets[0] */
        for (size_t i = 0; i < t->nrets; i++) {
            w_put(w, p, 8, t->rets[i]);
            p += 8 + kn_frame_of(k, t->rets[i]);
        }
        w_put(w, p, 8, 0); /* end of the chain */
        if (p + 8 > t->initial)
            sc_die("thread 0x%llx: stack layout overflow", (unsigned long long)t->ethread);
        w_set(w, t->ethread, "_KTHREAD", "KernelStack", ks);
        return;
    }
    /* x86: KernelStack -> the switch frame (ExceptionList, ApcBypassDisable, RetAddr =
     * rets[0]); frame 0 starts above it at KernelStack + 0xc, where KiSwapContext saved the
     * caller's ebp (the debugger reads ebp there) */
    xplan pl[KN_MAX_RETS];
    uint64_t extent = x86_plan(k, t, t->rets, t->nrets, 0, 0, pl, false);
    if (extent + 0xc + 0x40 > t->initial - t->limit)
        sc_die("thread 0x%llx: stack chain too deep", (unsigned long long)t->ethread);
    uint64_t ks = align_down(t->initial - extent - 0xc - 0x20, 16);
    t->kstack = ks;
    uint64_t esp0 = ks + 0xc;
    x86_plan(k, t, t->rets, t->nrets, esp0, 0, pl, true);
    w_put(w, ks + 0, 4, 0xffffffffu); /* ExceptionList: end of the SEH chain */
    w_put(w, ks + 4, 4, 0);           /* ApcBypassDisable */
    w_put(w, ks + 8, 4, t->rets[0]);  /* RetAddr */
    const xplan *p0 = &pl[0];
    bool slot_at_esp = p0->x.kind == XF_RA && p0->x.ebp_slot &&
                       p0->ret_slot + (uint64_t)(int64_t)p0->x.ebp_slot == esp0;
    if (!slot_at_esp) {
        bool taken = (p0->x.kind == XF_EBP && p0->fp == esp0) ||
                     (p0->x.kind == XF_RA && p0->ret_slot == esp0);
        if (taken && w_get(w, esp0, 4) != (p0->ebp & 0xffffffffu))
            sc_die("thread 0x%llx: frame 0 (0x%llx) leaves no room for the switch frame's ebp",
                   (unsigned long long)t->ethread, (unsigned long long)t->rets[0]);
        w_put(w, esp0, 4, p0->ebp);
    }
    t->x_esp0 = esp0;
    t->x_ebp0 = p0->ebp;
    w_set(w, t->ethread, "_KTHREAD", "KernelStack", ks);
}

void kp_thread_regs(kern *k, kthr *t, bool crash, uint64_t bugcheck_fn, uint64_t *pc,
                    uint64_t *sp, uint64_t *fp)
{
    uint64_t ks = t->kstack;
    if (!kn_x86(k)) {
        int64_t ro = lay_off(k->L, "_KSWITCH_FRAME", "Return");
        uint64_t slot = ks + (ro >= 0 ? (uint64_t)ro : 0x38);
        if (crash) { /* KeBugCheckEx entered: [rsp] = return into rets[0]'s function */
            *pc = bugcheck_fn;
            *sp = slot;
        } else {
            *pc = t->rets[0];
            *sp = slot + 8;
        }
        *fp = 0;
        return;
    }
    if (!crash) {
        *pc = t->rets[0];
        *sp = t->x_esp0;
        *fp = t->x_ebp0;
        return;
    }
    /* the crashing thread: KeBugCheckEx (past its prologue) on top of rets; the stack is laid
     * again from below the old switch frame */
    uint64_t pcs[KN_MAX_RETS + 1];
    xplan pl[KN_MAX_RETS + 1];
    if (t->nrets + 1 > KN_MAX_RETS + 1)
        sc_die("thread 0x%llx: too many frames", (unsigned long long)t->ethread);
    pcs[0] = bugcheck_fn + 0x20;
    memcpy(pcs + 1, t->rets, t->nrets * sizeof *pcs);
    size_t n = t->nrets + 1;
    uint64_t extent = x86_plan(k, t, pcs, n, 0, 0, pl, false);
    if (extent + 0x40 > t->initial - t->limit)
        sc_die("thread 0x%llx: stack chain too deep", (unsigned long long)t->ethread);
    uint64_t esp = align_down(t->initial - extent - 0x20, 16);
    x86_plan(k, t, pcs, n, esp, 0, pl, true);
    *pc = pcs[0];
    *sp = esp;
    *fp = pl[0].ebp;
}

/* The thread's stack as the manifest's `stack` line lists it. */
static void stack_line(const kthr *t)
{
    char buf[KN_MAX_RETS * 20 + 64];
    size_t o = 0;
    o += (size_t)snprintf(buf + o, sizeof buf - o, "stack 0x%llx", (unsigned long long)t->ethread);
    for (size_t i = 0; i < t->nrets && o < sizeof buf; i++)
        o += (size_t)snprintf(buf + o, sizeof buf - o, " 0x%llx", (unsigned long long)t->rets[i]);
    mf("%s", buf);
}

static bool is_thunk(const char *n)
{
    static const char *const th[] = {"KiStartSystemThread", "PspSystemThreadStartup",
                                     "KiThreadStartup", "PspUserThreadStartup",
                                     "RtlUserThreadStart", "KiStartUserThread",
                                     "PspThreadStartup"};
    for (size_t i = 0; i < sizeof th / sizeof th[0]; i++)
        if (!strcmp(n, th[i]))
            return true;
    return false;
}

static void thread_init(kern *k, kthr *t, uint64_t e, uint64_t process, uint32_t tid,
                        unsigned state, unsigned wait_reason, const uint64_t *rets, size_t nrets)
{
    world *w = k->w;
    t->ethread = e;
    t->process = process;
    t->tid = tid;
    t->state = state;
    t->wait_reason = wait_reason;
    if (nrets > KN_MAX_RETS)
        sc_die("k_thread: %zu return addresses (at most %d)", nrets, KN_MAX_RETS);
    memcpy(t->rets, rets, nrets * sizeof *rets);
    t->nrets = nrets;
    for (size_t i = 1; i < nrets; i++) { /* each frame called the next inner one */
        const kfunc *inner = kn_func_at(k, rets[i - 1]);
        if (inner)
            kn_ret_callee(k, rets[i], inner->va);
    }
    uint64_t pid = w_field(w, process, "_EPROCESS", "UniqueProcessId");
    w_try(w, e, "_KTHREAD", "Header.Type", 6); /* ThreadObject */
    w_try(w, e, "_KTHREAD", "Header.Size", lay_size(k->L, "_KTHREAD") / 4);
    list_init_field(k, e, "_KTHREAD", "Header.WaitListHead");
    w_try(w, e, "_KTHREAD", "Process", process);
    w_try(w, e, "_KTHREAD", "ApcState.Process", process);
    w_try(w, e, "_ETHREAD", "ThreadsProcess", process);
    list_init_field(k, e, "_KTHREAD", "ApcState.ApcListHead");
    w_try(w, e, "_ETHREAD", "Cid.UniqueProcess", pid);
    w_try(w, e, "_ETHREAD", "Cid.UniqueThread", tid);
    w_set(w, e, "_KTHREAD", "State", state);
    w_try(w, e, "_KTHREAD", "WaitReason", wait_reason);
    w_try(w, e, "_KTHREAD", "WaitIrql", 0);
    w_try(w, e, "_KTHREAD", "WaitMode", 0);
    bool sys = pid == 4 || pid == 0;
    w_try(w, e, "_KTHREAD", "Priority", sys ? 13 : 8);
    w_try(w, e, "_KTHREAD", "BasePriority", sys ? 13 : 8);
    w_try(w, e, "_KTHREAD", "WaitTime", 0x1a2b3 + tid);
    w_try(w, e, "_KTHREAD", "KernelStackResident", 1);
    w_try(w, e, "_KTHREAD", "SystemThread", sys ? 1 : 0);
    list_init_field(k, e, "_ETHREAD", "IrpList");
    /* stack */
    t->limit = w_alloc(w, KSTACK_SIZE, 0x1000);
    t->base = t->limit + KSTACK_SIZE;
    t->initial = t->base - (kn_x86(k) ? 0x210 : 0x1d0);
    w_try(w, e, "_KTHREAD", "StackBase", t->base);
    w_set(w, e, "_KTHREAD", "StackLimit", t->limit);
    w_set(w, e, "_KTHREAD", "InitialStack", t->initial);
    stack_layout(k, t);
    /* start address: the outermost routine that is not a thread-start thunk */
    uint64_t start = 0;
    for (size_t i = nrets; i-- > 0;) {
        const kfunc *f = kn_func_at(k, rets[i]);
        if (f && !is_thunk(f->name)) {
            start = f->va;
            break;
        }
    }
    if (start) {
        w_try(w, e, "_ETHREAD", "StartAddress", start);
        w_try(w, e, "_ETHREAD", "Win32StartAddress", start);
    }
    /* thread lists */
    list_add_field(k, process, "_EPROCESS", "Pcb.ThreadListHead", e, "_KTHREAD",
                   "ThreadListEntry");
    list_add_field(k, process, "_EPROCESS", "ThreadListHead", e, "_ETHREAD", "ThreadListEntry");
    int64_t at = lay_off(k->L, "_EPROCESS", "ActiveThreads");
    if (at >= 0)
        w_put(w, process + (uint64_t)at, 4, w_get(w, process + (uint64_t)at, 4) + 1);
}

uint64_t kp_idle_thread(kern *k, unsigned cpu, uint64_t at)
{
    kpriv *kp = kp_of(k);
    uint64_t e = at ? at : w_alloc(k->w, lay_size(k->L, "_ETHREAD"), 64);
    uint64_t idle = k_nt_func(k, "KiIdleLoop");
    uint64_t rets[1] = {k_ret(k, idle, 0x2a)};
    kthr *t = thr_new(kp);
    thread_init(k, t, e, kp_idle_process(k), 0, 2 /* Running */, 0, rets, 1);
    t->idle = true;
    t->cpu = (int)cpu;
    w_try(k->w, e, "_KTHREAD", "NextProcessor", cpu);
    w_try(k->w, e, "_KTHREAD", "Running", 1);
    return e;
}

uint64_t k_process(kern *k, const char *image_name, uint32_t pid, uint64_t parent_eprocess)
{
    kpriv *kp = kp_of(k);
    world *w = k->w;
    uint64_t e = ob_alloc(k, "Process", NULL, 0, lay_size(k->L, "_EPROCESS"));
    bool first = !k->system_process;
    int space = first ? 0 : w_space_new(w);
    uint64_t dtb = w_space_dtb(w, space);
    uint32_t ppid = 0;
    if (parent_eprocess) {
        kproc *pp = proc_rec(k, parent_eprocess);
        ppid = pp ? pp->pid : (uint32_t)w_field(w, parent_eprocess, "_EPROCESS", "UniqueProcessId");
    }
    process_init(k, e, image_name, pid, ppid, dtb);
    list_add_field(k, k_sym(k, "PsActiveProcessHead"), "_LIST_ENTRY", "Flink", e, "_EPROCESS",
                   "ActiveProcessLinks");
    uint64_t peb = 0;
    if (!first && lay_has_type(k->L, "_PEB")) {
        peb = w_ualloc(w, space, lay_size(k->L, "_PEB"));
        uint64_t img_base = kn_x86(k) ? 0x00400000ULL : 0x00007ff6a1b20000ULL;
        uset(k, space, peb, "_PEB", "ImageBaseAddress", img_base);
        uset(k, space, peb, "_PEB", "OSMajorVersion", k->build >= 10000 ? 10 : k->build >= 7600 ? 6 : 5);
        uset(k, space, peb, "_PEB", "OSMinorVersion", k->build >= 10000 ? 0 : 1);
        uset(k, space, peb, "_PEB", "OSBuildNumber", k->build);
        uset(k, space, peb, "_PEB", "SessionId", 1);
        if (lay_has_type(k->L, "_RTL_USER_PROCESS_PARAMETERS")) {
            uint64_t pp = w_ualloc(w, space, lay_size(k->L, "_RTL_USER_PROCESS_PARAMETERS"));
            uset(k, space, peb, "_PEB", "ProcessParameters", pp);
            char path[160], cmd[200];
            snprintf(path, sizeof path, "C:\\Windows\\System32\\%s", image_name);
            snprintf(cmd, sizeof cmd, "\"%s\"", path);
            int64_t o = lay_off(k->L, "_RTL_USER_PROCESS_PARAMETERS", "ImagePathName");
            if (o >= 0)
                ustr_user(k, space, pp + (uint64_t)o, path);
            o = lay_off(k->L, "_RTL_USER_PROCESS_PARAMETERS", "CommandLine");
            if (o >= 0)
                ustr_user(k, space, pp + (uint64_t)o, cmd);
        }
        w_try(w, e, "_EPROCESS", "Peb", peb);
    }
    kproc *p = proc_new(kp);
    p->eprocess = e;
    p->pid = pid;
    p->ppid = ppid;
    snprintf(p->name, sizeof p->name, "%.14s", image_name);
    p->space = space;
    p->dtb = dtb;
    p->peb = peb;
    if (first) {
        k->system_process = e;
        uint64_t ps = k_sym_opt(k, "PsInitialSystemProcess");
        if (ps != SC_NONE)
            w_pointer(w, ps, e);
    }
    return e;
}

uint64_t k_thread(kern *k, uint64_t process, uint32_t tid, unsigned state, unsigned wait_reason,
                  const uint64_t *rets, size_t nrets)
{
    kpriv *kp = kp_of(k);
    uint64_t e = ob_alloc(k, "Thread", NULL, 0, lay_size(k->L, "_ETHREAD"));
    kthr *t = thr_new(kp);
    thread_init(k, t, e, process, tid, state, wait_reason, rets, nrets);
    return e;
}

void k_thread_stack(kern *k, uint64_t thread, uint64_t *base, uint64_t *limit)
{
    kthr *t = kp_thr(k, thread);
    if (!t)
        sc_die("k_thread_stack: 0x%llx is not a thread", (unsigned long long)thread);
    if (base)
        *base = t->base;
    if (limit)
        *limit = t->limit;
}

void k_thread_wait_on(kern *k, uint64_t thread, uint64_t object)
{
    world *w = k->w;
    kthr *t = kp_thr(k, thread);
    if (!t)
        sc_die("k_thread_wait_on: 0x%llx is not a thread", (unsigned long long)thread);
    int64_t wbo = lay_off(k->L, "_KTHREAD", "WaitBlock");
    if (wbo < 0)
        sc_die("k_thread_wait_on: the table has no _KTHREAD.WaitBlock");
    uint64_t bsz = lay_size(k->L, "_KWAIT_BLOCK");
    uint64_t first = thread + (uint64_t)wbo;
    /* the next free wait block (WaitBlock[0..2]) */
    unsigned idx = 0;
    while (idx < 3 && w_field(w, first + idx * bsz, "_KWAIT_BLOCK", "Object"))
        idx++;
    if (idx == 3)
        sc_die("k_thread_wait_on: thread 0x%llx already waits on 3 objects",
               (unsigned long long)thread);
    uint64_t wb = first + idx * bsz;
    w_set(w, wb, "_KWAIT_BLOCK", "Thread", thread);
    w_set(w, wb, "_KWAIT_BLOCK", "Object", object);
    w_try(w, wb, "_KWAIT_BLOCK", "WaitKey", idx);
    w_try(w, wb, "_KWAIT_BLOCK", "WaitType", 1); /* WaitAny */
    int64_t active;
    if (lay_enum(k->L, "_KWAIT_BLOCK_STATE", "WaitBlockActive", &active))
        w_try(w, wb, "_KWAIT_BLOCK", "BlockState", (uint64_t)active);
    /* NextWaitBlock (older builds): a circular list of the thread's blocks */
    if (lay_off(k->L, "_KWAIT_BLOCK", "NextWaitBlock") >= 0) {
        w_set(w, wb, "_KWAIT_BLOCK", "NextWaitBlock", first);
        if (idx)
            w_set(w, first + (idx - 1) * bsz, "_KWAIT_BLOCK", "NextWaitBlock", wb);
    }
    w_try(w, thread, "_KTHREAD", "WaitBlockList", first);
    int64_t wl = lay_off(k->L, "_DISPATCHER_HEADER", "WaitListHead");
    int64_t we = lay_off(k->L, "_KWAIT_BLOCK", "WaitListEntry");
    if (wl >= 0 && we >= 0) {
        uint64_t head = object + (uint64_t)wl;
        if (!w_get(w, head, lay_ptr(k->L)))
            w_list_init(w, head);
        w_list_tail(w, head, wb + (uint64_t)we);
    }
    if (t->state != 5) {
        t->state = 5;
        w_set(w, thread, "_KTHREAD", "State", 5);
    }
}

void k_run_on(kern *k, uint64_t thread, unsigned cpu)
{
    kthr *t = kp_thr(k, thread);
    if (!t)
        sc_die("k_run_on: 0x%llx is not a thread", (unsigned long long)thread);
    if (cpu >= k->ncpu)
        sc_die("k_run_on: no processor %u", cpu);
    /* the thread that ran there before is no longer running */
    uint64_t prev = w_field(k->w, k->prcb[cpu], "_KPRCB", "CurrentThread");
    kthr *pt = kp_thr(k, prev);
    if (pt && pt != t) { /* an idle thread too: READY on its processor */
        pt->state = 1; /* Ready */
        pt->cpu = -1;
        w_set(k->w, prev, "_KTHREAD", "State", 1);
        w_try(k->w, prev, "_KTHREAD", "Running", 0);
    }
    w_set(k->w, k->prcb[cpu], "_KPRCB", "CurrentThread", thread);
    t->state = 2;
    t->cpu = (int)cpu;
    w_set(k->w, thread, "_KTHREAD", "State", 2);
    w_try(k->w, thread, "_KTHREAD", "Running", 1);
    w_try(k->w, thread, "_KTHREAD", "NextProcessor", cpu);
    w_try(k->w, thread, "_KTHREAD", "WaitBlockList", 0);
}

uint64_t k_teb(kern *k, uint64_t thread, uint32_t last_error, uint32_t last_status)
{
    kthr *t = kp_thr(k, thread);
    if (!t)
        sc_die("k_teb: 0x%llx is not a thread", (unsigned long long)thread);
    kproc *p = proc_rec(k, t->process);
    if (!p)
        sc_die("k_teb: thread 0x%llx has no process made by k_process", (unsigned long long)thread);
    int space = p->space;
    if (!lay_has_type(k->L, "_TEB"))
        sc_die("k_teb: the table has no _TEB");
    uint64_t teb = w_ualloc(k->w, space, lay_size(k->L, "_TEB"));
    uint64_t ustack = w_ualloc(k->w, space, 0x3000);
    uset(k, space, teb, "_TEB", "NtTib.ExceptionList", kn_x86(k) ? 0xffffffffULL : 0);
    uset(k, space, teb, "_TEB", "NtTib.StackBase", ustack + 0x3000);
    uset(k, space, teb, "_TEB", "NtTib.StackLimit", ustack);
    if (t->x_user_tf) { /* the system call's trap frame: esp inside this user stack */
        t->x_user_esp = ustack + 0x3000 - 0x100;
        w_set(k->w, t->x_user_tf, "_KTRAP_FRAME", "HardwareEsp", t->x_user_esp);
    }
    uset(k, space, teb, "_TEB", "NtTib.Self", teb);
    uset(k, space, teb, "_TEB", "ClientId.UniqueProcess", p->pid);
    uset(k, space, teb, "_TEB", "ClientId.UniqueThread", t->tid);
    uset(k, space, teb, "_TEB", "ProcessEnvironmentBlock", p->peb);
    uset(k, space, teb, "_TEB", "LastErrorValue", last_error);
    uset(k, space, teb, "_TEB", "LastStatusValue", last_status);
    w_set(k->w, thread, "_KTHREAD", "Teb", teb);
    t->teb = teb;
    return teb;
}

void kp_finish(kern *k)
{
    kpriv *kp = kp_of(k);
    for (size_t i = 0; i < kp->nproc; i++) {
        const kproc *p = &kp->proc[i];
        mf("process 0x%llx 0x%x 0x%x %s 0x%llx 0x%llx", (unsigned long long)p->eprocess, p->pid,
           p->ppid, p->name, (unsigned long long)p->dtb, (unsigned long long)p->peb);
    }
    for (size_t i = 0; i < kp->nthr; i++) {
        const kthr *t = &kp->thr[i];
        mf("thread 0x%llx 0x%llx 0x%x 0x%x 0x%x 0x%llx 0x%llx 0x%llx 0x%llx",
           (unsigned long long)t->ethread, (unsigned long long)t->process, t->tid, t->state,
           t->wait_reason, (unsigned long long)t->teb, (unsigned long long)t->base,
           (unsigned long long)t->limit, (unsigned long long)t->kstack);
        stack_line(t);
    }
}
