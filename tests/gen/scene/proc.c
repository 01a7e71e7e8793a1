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
 *   x86: the KSWITCHFRAME (ExceptionList, ApcBypassDisable, RetAddr = rets[0]) then the saved
 *        EBP at KernelStack + 0xc (what KiSwapContext pushes first) pointing into an EBP chain:
 *        [ebp] = caller's ebp, [ebp+4] = return address, ending with a zero frame.
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

/* Lays the thread's kernel stack (switch frame + the chain of rets); sets KernelStack. */
static void stack_layout(kern *k, kthr *t)
{
    world *w = k->w;
    unsigned ps = lay_ptr(k->L);
    if (!t->nrets)
        sc_die("thread 0x%llx: no return addresses", (unsigned long long)t->ethread);
    uint64_t need = 0x40;
    for (size_t i = 0; i < t->nrets; i++)
        need += kn_frame_of(k, t->rets[i]) + 2 * ps;
    need += 0x40;
    if (need + 0x100 > t->initial - t->limit)
        sc_die("thread 0x%llx: stack chain too deep", (unsigned long long)t->ethread);
    uint64_t ks = align_down(t->initial - need, 16);
    t->kstack = ks;
    if (!kn_x86(k)) {
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
    } else {
        /* frame i runs in F_i at rets[i] with esp[i]; an EBP function's frame pointer is
         * g = esp + its locals, holding [caller's ebp][return into the caller]; a frameless
         * one (KiSwapContext) keeps the return just above its register area and leaves ebp
         * to its caller (ebp[i] = ebp[i + 1]). */
        size_t n = t->nrets;
        uint64_t esp[KN_MAX_RETS + 1], slot[KN_MAX_RETS], ebp[KN_MAX_RETS + 1];
        bool fl[KN_MAX_RETS];
        esp[0] = ks + 12; /* above ExceptionList, ApcBypassDisable, RetAddr */
        for (size_t i = 0; i < n; i++) {
            const kfunc *f = kn_func_at(k, t->rets[i]);
            fl[i] = f && f->frameless;
            unsigned fr = kn_frame_of(k, t->rets[i]);
            slot[i] = fl[i] ? esp[i] + fr : esp[i] + fr + 4; /* the return into F_{i+1} */
            esp[i + 1] = slot[i] + 4;
        }
        if (esp[n] + 8 > t->initial)
            sc_die("thread 0x%llx: stack layout overflow", (unsigned long long)t->ethread);
        ebp[n] = 0;
        for (size_t i = n; i-- > 0;)
            ebp[i] = fl[i] ? ebp[i + 1] : slot[i] - 4;
        w_put(w, ks + 0, 4, 0xffffffffu); /* ExceptionList: end of the SEH chain */
        w_put(w, ks + 4, 4, 0);           /* ApcBypassDisable */
        w_put(w, ks + 8, 4, t->rets[0]);  /* RetAddr */
        for (size_t i = 0; i < n; i++) {
            w_put(w, slot[i], 4, i + 1 < n ? t->rets[i + 1] : 0);
            if (fl[i]) {
                w_put(w, esp[i], 4, ebp[i + 1]);      /* the caller's ebp, saved at [esp] */
                w_put(w, esp[i] + 4, 4, t->ethread);  /* edi, esi, ebx: any values */
                w_put(w, esp[i] + 8, 4, t->process);
                w_put(w, esp[i] + 12, 4, t->initial);
            } else {
                w_put(w, slot[i] - 4, 4, ebp[i + 1]); /* [ebp] = caller's ebp */
            }
        }
        /* K1 / WinDbg read ebp at KernelStack + 0xc: frame 0's ebp (EBP function: inside
         * its locals; KiSwapContext: its saved ebp, written above) */
        if (!fl[0])
            w_put(w, ks + 12, 4, ebp[0]);
    }
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
    uint64_t g0 = w_get(k->w, ks + 12, 4);
    if (crash) {
        /* KeBugCheckEx called from rets[0]'s function: its frame sits where the switch
         * frame's ApcBypassDisable was (saved ebp at KernelStack + 4). */
        w_put(k->w, ks + 4, 4, g0);
        *fp = ks + 4;
        *sp = ks + 4 - kn_frame_of(k, bugcheck_fn + 0x20);
        *pc = bugcheck_fn + 0x20;
    } else {
        const kfunc *f0 = kn_func_at(k, t->rets[0]);
        *pc = t->rets[0];
        *fp = g0;
        *sp = f0 && f0->frameless ? ks + 12 : g0 - kn_frame_of(k, t->rets[0]);
    }
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
    }
}
