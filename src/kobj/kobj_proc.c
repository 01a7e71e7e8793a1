/* kobj_proc.c: processes (PsActiveProcessHead, _EPROCESS), threads (_EPROCESS.ThreadListHead,
 * _ETHREAD/_KTHREAD), wait blocks, the thread that owns a stack address, the process context for
 * user addresses, and the registers a thread's stack walk starts from.
 *
 * Saved registers of a thread that is not running:
 *   x64: the _KSWITCH_FRAME at KTHREAD.KernelStack, when nt's types have that type: RIP is its
 *        Return field, RBP its Rbp field, RSP = KernelStack + sizeof(_KSWITCH_FRAME). Public
 *        kernel tables (the Volatility ISF files) do not carry the type; the thread's registers
 *        are then reported as unavailable rather than guessed.
 *   x86: the frame the context switch leaves at KTHREAD.KernelStack. KiSwapContext saves ebp,
 *        edi, esi, ebx in a 16-byte block (ebp lowest) and calls the switch routine, which pushes
 *        one more dword (the IRQL / flags) and the exception list before storing esp in
 *        KernelStack (as described by ReactOS's ntoskrnl/ke/i386/ctxswitch.S, which follows
 *        Windows' layout). So: [KernelStack+0] exception list, [+4] saved IRQL/flags,
 *        [+8] the return address into KiSwapContext, [+0xc] the saved ebp. The walk starts with
 *        eip = [KernelStack+8], esp = KernelStack+0xc, ebp = [KernelStack+0xc].
 *   Running threads: the dump's context for the crashing processor, else the processor's
 *        KPRCB.ProcessorState.ContextFrame. */
#include <stdio.h>
#include <strings.h>

#include "code/unwind.h"
#include "dump/context.h"
#include "kobj/kobj_int.h"
#include "mem/mem.h"

/* ---- helpers ------------------------------------------------------------------------------ */

/* Keeps the context error of the caller across optional reads. */
typedef struct errsave {
    char msg[512];
} errsave;
static void err_keep(ntkd_target *t, errsave *e) { memcpy(e->msg, t->ctx->errmsg, sizeof e->msg); }
static void err_back(ntkd_target *t, const errsave *e) { memcpy(t->ctx->errmsg, e->msg, sizeof e->msg); }

/* The first field of `names` (NULL-terminated) the build has. */
static const char *first_field(ntkd_target *t, const char *type, const char *const *names)
{
    for (size_t i = 0; names[i]; i++)
        if (nk_k_has(t, type, names[i])) return names[i];
    return NULL;
}

nk_status nk_k_read_dtb(ntkd_target *t, uint64_t dtb, uint64_t va, void *buf, size_t len)
{
    uint8_t *out = buf;
    size_t done = 0;
    while (done < len) {
        uint64_t a = va + done;
        nk_walk w;
        if (nk_vtop_walk(t, dtb, a, &w) != NTKD_OK) return NTKD_E_NOTPRESENT;
        uint64_t ps = w.page_size ? w.page_size : 0x1000;
        uint64_t in_page = ps - (a & (ps - 1));
        size_t n = len - done < in_page ? len - done : (size_t)in_page;
        size_t got = 0;
        if (nk_read_phys(t, w.pa, out + done, n, &got) != NTKD_OK || got != n) return NTKD_E_NOTPRESENT;
        done += n;
    }
    return NTKD_OK;
}

/* Is `addr` a dispatcher object of the given kind (_KOBJECTS enumerator)? true when the build
 * gives no way to tell. */
static nk_status check_dispatcher(ntkd_target *t, uint64_t addr, const char *type, const char *field,
                                  const char *kind, const char *what)
{
    int64_t want;
    if (!nk_k_enum_value(t, "_KOBJECTS", kind, &want)) return NTKD_OK;
    uint64_t v;
    nk_status st = nk_k_read(t, addr, type, field, &v);
    if (st == NTKD_E_NOTFOUND) return NTKD_OK;
    if (st != NTKD_OK) return st;
    if ((int64_t)v != want) {
        char a[20];
        return nk_fail(t->ctx, NTKD_E_NOTFOUND, "%s is not a %s (dispatcher type %llu, not %lld)",
                       nk_k_fmt(t, addr, a), what, (unsigned long long)v, (long long)want);
    }
    return NTKD_OK;
}

/* ---- processes ------------------------------------------------------------------------------ */

static nk_status process_read(ntkd_target *t, uint64_t ep, nk_kproc *out, bool check)
{
    memset(out, 0, sizeof *out);
    out->addr = ep;
    out->session = UINT64_MAX;
    nk_status st;
    if (check && (st = check_dispatcher(t, ep, "_EPROCESS", "Pcb.Header.Type", "ProcessObject", "process")) != NTKD_OK)
        return st;
    if ((st = nk_k_read(t, ep, "_EPROCESS", "UniqueProcessId", &out->pid)) != NTKD_OK) return st;
    errsave es;
    err_keep(t, &es);
    out->ppid = nk_k_get(t, ep, "_EPROCESS", "InheritedFromUniqueProcessId", 0);
    out->dtb = nk_k_get(t, ep, "_EPROCESS", "Pcb.DirectoryTableBase", 0);
    out->peb = nk_k_get(t, ep, "_EPROCESS", "Peb", 0);
    out->object_table = nk_k_get(t, ep, "_EPROCESS", "ObjectTable", 0);
    uint64_t v;
    if (nk_k_read(t, ep, "_EPROCESS", "CreateTime.QuadPart", &v) == NTKD_OK ||
        nk_k_read(t, ep, "_EPROCESS", "CreateTime", &v) == NTKD_OK)
        out->create_time = v;
    uint64_t sess = nk_k_get(t, ep, "_EPROCESS", "Session", 0);
    if (sess && nk_k_read(t, sess, "_MM_SESSION_SPACE", "SessionId", &v) == NTKD_OK) out->session = v;
    nk_kfield f;
    if (nk_k_field(t, "_EPROCESS", "ImageFileName", &f) == NTKD_OK) {
        uint8_t b[64];
        size_t n = f.size && f.size < sizeof b ? (size_t)f.size : 15, got = 0;
        if (nk_read_virt(t, ep + f.off, b, n, &got) == NTKD_OK || got) nk_copy_cstr(out->image, sizeof out->image, b, got);
    }
    err_back(t, &es);
    return NTKD_OK;
}

nk_status nk_k_process_read(ntkd_target *t, uint64_t eprocess, nk_kproc *out)
{
    if (!t || !out) return NTKD_E_ARG;
    return process_read(t, eprocess, out, true);
}

static nk_status process_head(ntkd_target *t, uint64_t *head)
{
    errsave es;
    err_keep(t, &es);
    if (nk_k_global(t, "PsActiveProcessHead", head) == NTKD_OK) return NTKD_OK;
    if (t->d.ps_active_process_head) {
        err_back(t, &es);
        *head = t->d.ps_active_process_head;
        return NTKD_OK;
    }
    return NTKD_E_NOTFOUND;
}

typedef struct proc_walk {
    ntkd_target *t;
    uint64_t links;
    nk_kproc *v;
    size_t n, cap;
    bool nomem;
} proc_walk;

static bool proc_cb(void *u, uint64_t entry)
{
    proc_walk *w = u;
    if (!nk_grow((void **)&w->v, &w->cap, w->n + 1, sizeof *w->v)) {
        w->nomem = true;
        return false;
    }
    nk_kproc *p = &w->v[w->n];
    if (process_read(w->t, entry - w->links, p, false) != NTKD_OK) {
        /* keep the entry: its address is known even when its fields are not */
        memset(p, 0, sizeof *p);
        p->addr = entry - w->links;
        p->session = UINT64_MAX;
        snprintf(p->image, sizeof p->image, "?");
    }
    w->n++;
    return true;
}

nk_status nk_k_processes(ntkd_target *t, nk_kproc **out, size_t *n, nk_strbuf *why)
{
    if (!t || !out || !n) return NTKD_E_ARG;
    *out = NULL;
    *n = 0;
    if (!nk_k_types(t)) return NTKD_E_NOTFOUND;
    uint64_t head, links;
    nk_status st;
    if ((st = process_head(t, &head)) != NTKD_OK) return st;
    if ((st = nk_k_offset(t, "_EPROCESS", "ActiveProcessLinks", &links)) != NTKD_OK) return st;
    proc_walk w = {.t = t, .links = links};
    st = nk_k_list(t, head, 0, proc_cb, &w, why);
    if (w.nomem) st = nk_k_why(t, why, NTKD_E_NOMEM, "out of memory after %zu processes", w.n);
    *out = w.v;
    *n = w.n;
    /* a cut walk still gives what it found */
    return st;
}

/* ---- threads -------------------------------------------------------------------------------- */

static int running_cpu(ntkd_target *t, uint64_t et)
{
    unsigned n = nk_k_ncpu(t);
    errsave es;
    err_keep(t, &es);
    int cpu = -1;
    for (unsigned i = 0; i < n && cpu < 0; i++) {
        uint64_t prcb, cur;
        if (nk_k_prcb(t, i, &prcb) != NTKD_OK) continue;
        if (nk_k_read(t, prcb, "_KPRCB", "CurrentThread", &cur) == NTKD_OK && cur == et) cpu = (int)i;
    }
    err_back(t, &es);
    return cpu;
}

static nk_status thread_read(ntkd_target *t, uint64_t et, nk_kthread *out, bool check)
{
    memset(out, 0, sizeof *out);
    out->addr = et;
    out->cpu = -1;
    nk_status st;
    if (check && (st = check_dispatcher(t, et, "_ETHREAD", "Tcb.Header.Type", "ThreadObject", "thread")) != NTKD_OK)
        return st;
    if ((st = nk_k_read(t, et, "_ETHREAD", "Cid.UniqueThread", &out->tid)) != NTKD_OK) return st;
    errsave es;
    err_keep(t, &es);
    static const char *const procf[] = {"Tcb.Process", "Tcb.ApcState.Process", "ThreadsProcess", NULL};
    const char *pf = first_field(t, "_ETHREAD", procf);
    if (pf) out->process = nk_k_get(t, et, "_ETHREAD", pf, 0);
    out->pid = nk_k_get(t, et, "_ETHREAD", "Cid.UniqueProcess", 0);
    out->teb = nk_k_get(t, et, "_ETHREAD", "Tcb.Teb", 0);
    out->state = (uint8_t)nk_k_get(t, et, "_ETHREAD", "Tcb.State", 0);
    out->wait_reason = (uint8_t)nk_k_get(t, et, "_ETHREAD", "Tcb.WaitReason", 0);
    out->wait_irql = (uint8_t)nk_k_get(t, et, "_ETHREAD", "Tcb.WaitIrql", 0);
    out->wait_mode = (uint8_t)nk_k_get(t, et, "_ETHREAD", "Tcb.WaitMode", 0);
    out->priority = (int8_t)nk_k_get(t, et, "_ETHREAD", "Tcb.Priority", 0);
    out->base_priority = (int8_t)nk_k_get(t, et, "_ETHREAD", "Tcb.BasePriority", 0);
    out->kernel_stack = nk_k_get(t, et, "_ETHREAD", "Tcb.KernelStack", 0);
    out->stack_base = nk_k_get(t, et, "_ETHREAD", "Tcb.StackBase", 0);
    out->stack_limit = nk_k_get(t, et, "_ETHREAD", "Tcb.StackLimit", 0);
    out->initial_stack = nk_k_get(t, et, "_ETHREAD", "Tcb.InitialStack", 0);
    out->wait_block_list = nk_k_get(t, et, "_ETHREAD", "Tcb.WaitBlockList", 0);
    out->start_address = nk_k_get(t, et, "_ETHREAD", "StartAddress", 0);
    out->win32_start_address = nk_k_get(t, et, "_ETHREAD", "Win32StartAddress", 0);
    uint64_t off;
    if (nk_k_offset(t, "_ETHREAD", "IrpList", &off) == NTKD_OK) out->irp_list = et + off;
    out->wait_time = (uint32_t)nk_k_get(t, et, "_ETHREAD", "Tcb.WaitTime", 0);
    out->kernel_apc_disable = (int16_t)nk_k_get(t, et, "_ETHREAD", "Tcb.KernelApcDisable", 0);
    out->special_apc_disable = (int16_t)nk_k_get(t, et, "_ETHREAD", "Tcb.SpecialApcDisable", 0);
    /* the TEB's last error and status, read in the owning process's address space */
    uint64_t ole, ols;
    if (out->teb && out->process && nk_k_offset(t, "_TEB", "LastErrorValue", &ole) == NTKD_OK &&
        nk_k_offset(t, "_TEB", "LastStatusValue", &ols) == NTKD_OK) {
        uint64_t dtb = nk_k_get(t, out->process, "_EPROCESS", "Pcb.DirectoryTableBase", 0);
        uint8_t b[4];
        if (dtb && nk_k_read_dtb(t, dtb, out->teb + ole, b, 4) == NTKD_OK) {
            out->last_error = nk_le32(b);
            if (nk_k_read_dtb(t, dtb, out->teb + ols, b, 4) == NTKD_OK) {
                out->last_status = nk_le32(b);
                out->has_teb_errors = true;
            }
        }
    }
    out->cpu = running_cpu(t, et);
    err_back(t, &es);
    return NTKD_OK;
}

nk_status nk_k_thread_read(ntkd_target *t, uint64_t ethread, nk_kthread *out)
{
    if (!t || !out) return NTKD_E_ARG;
    return thread_read(t, ethread, out, true);
}

typedef struct thr_walk {
    ntkd_target *t;
    uint64_t links;
    nk_kthread *v;
    size_t n, cap;
    bool nomem;
} thr_walk;

static bool thr_cb(void *u, uint64_t entry)
{
    thr_walk *w = u;
    if (!nk_grow((void **)&w->v, &w->cap, w->n + 1, sizeof *w->v)) {
        w->nomem = true;
        return false;
    }
    nk_kthread *p = &w->v[w->n];
    if (thread_read(w->t, entry - w->links, p, false) != NTKD_OK) {
        memset(p, 0, sizeof *p);
        p->addr = entry - w->links;
        p->cpu = -1;
    }
    w->n++;
    return true;
}

nk_status nk_k_threads(ntkd_target *t, uint64_t eprocess, nk_kthread **out, size_t *n, nk_strbuf *why)
{
    if (!t || !out || !n) return NTKD_E_ARG;
    *out = NULL;
    *n = 0;
    uint64_t head, links;
    nk_status st;
    if ((st = nk_k_offset(t, "_EPROCESS", "ThreadListHead", &head)) != NTKD_OK) return st;
    if ((st = nk_k_offset(t, "_ETHREAD", "ThreadListEntry", &links)) != NTKD_OK) return st;
    thr_walk w = {.t = t, .links = links};
    st = nk_k_list(t, eprocess + head, 0, thr_cb, &w, why);
    if (w.nomem) st = nk_k_why(t, why, NTKD_E_NOMEM, "out of memory after %zu threads", w.n);
    *out = w.v;
    *n = w.n;
    return st;
}

typedef struct stack_find {
    ntkd_target *t;
    uint64_t addr, found, tlinks, thead;
    size_t visited;
} stack_find;

static bool in_stack(ntkd_target *t, uint64_t et, uint64_t addr)
{
    uint64_t base = nk_k_get(t, et, "_ETHREAD", "Tcb.StackBase", 0);
    uint64_t limit = nk_k_get(t, et, "_ETHREAD", "Tcb.StackLimit", 0);
    return base && limit < base && addr >= limit && addr < base;
}

static bool stack_thr_cb(void *u, uint64_t entry)
{
    stack_find *f = u;
    uint64_t et = entry - f->tlinks;
    if (++f->visited > NK_K_MAX_LIST) return false; /* total work over every list */
    if (in_stack(f->t, et, f->addr)) {
        f->found = et;
        return false;
    }
    return true;
}

static bool stack_proc_cb(void *u, uint64_t entry)
{
    stack_find *f = u;
    uint64_t ep = entry;
    /* entry is the EPROCESS here (see below) */
    nk_k_list(f->t, ep + f->thead, 0, stack_thr_cb, f, NULL);
    return !f->found && ++f->visited <= NK_K_MAX_LIST;
}

typedef struct proc_addr_walk {
    stack_find *f;
    uint64_t plinks;
} proc_addr_walk;

static bool stack_plist_cb(void *u, uint64_t entry)
{
    proc_addr_walk *w = u;
    return stack_proc_cb(w->f, entry - w->plinks);
}

nk_status nk_k_thread_of_stack(ntkd_target *t, uint64_t addr, uint64_t *ethread)
{
    if (!t) return NTKD_E_ARG;
    if (!nk_k_types(t)) return NTKD_E_NOTFOUND;
    errsave es;
    err_keep(t, &es);
    stack_find f = {.t = t, .addr = addr};
    /* threads running or idle on a processor first (idle threads are on no process list) */
    unsigned n = nk_k_ncpu(t);
    for (unsigned i = 0; i < n && !f.found; i++) {
        uint64_t prcb, th;
        if (nk_k_prcb(t, i, &prcb) != NTKD_OK) continue;
        static const char *const fl[] = {"CurrentThread", "NextThread", "IdleThread"};
        for (size_t k = 0; k < 3 && !f.found; k++)
            if (nk_k_read(t, prcb, "_KPRCB", fl[k], &th) == NTKD_OK && th && in_stack(t, th, addr)) f.found = th;
    }
    uint64_t head, plinks;
    if (!f.found && process_head(t, &head) == NTKD_OK &&
        nk_k_offset(t, "_EPROCESS", "ActiveProcessLinks", &plinks) == NTKD_OK &&
        nk_k_offset(t, "_EPROCESS", "ThreadListHead", &f.thead) == NTKD_OK &&
        nk_k_offset(t, "_ETHREAD", "ThreadListEntry", &f.tlinks) == NTKD_OK) {
        proc_addr_walk w = {.f = &f, .plinks = plinks};
        nk_k_list(t, head, 0, stack_plist_cb, &w, NULL);
    }
    err_back(t, &es);
    if (!f.found) {
        char a[20];
        return nk_fail(t->ctx, NTKD_E_NOTFOUND, "%s is in no thread's kernel stack", nk_k_fmt(t, addr, a));
    }
    if (ethread) *ethread = f.found;
    return NTKD_OK;
}

size_t nk_k_wait_objects(ntkd_target *t, uint64_t ethread, uint64_t *objs, size_t max)
{
    if (!t || !objs || !max) return 0;
    errsave es;
    err_keep(t, &es);
    size_t n = 0;
    uint64_t wb = nk_k_get(t, ethread, "_ETHREAD", "Tcb.WaitBlockList", 0);
    uint64_t wbsize = 0;
    if (wb && nk_k_sizeof(t, "_KWAIT_BLOCK", &wbsize) == NTKD_OK && wbsize) {
        if (nk_k_has(t, "_KWAIT_BLOCK", "NextWaitBlock")) {
            /* a ring of wait blocks through NextWaitBlock (Windows 7 and earlier) */
            nk_u64set seen = {0};
            uint64_t cur = wb;
            for (size_t i = 0; i < 64 && cur && n < max && nk_u64set_add(&seen, cur); i++) {
                uint64_t o;
                if (nk_k_read(t, cur, "_KWAIT_BLOCK", "Object", &o) != NTKD_OK) break;
                if (o) objs[n++] = o;
                if (nk_k_read(t, cur, "_KWAIT_BLOCK", "NextWaitBlock", &cur) != NTKD_OK || cur == wb) break;
            }
            nk_u64set_free(&seen);
        } else {
            /* an array of WaitBlockCount blocks (Windows 8 and later) */
            uint64_t cnt = nk_k_get(t, ethread, "_ETHREAD", "Tcb.WaitBlockCount", 1);
            if (cnt == 0) cnt = 1;
            if (cnt > 64) cnt = 64;
            for (uint64_t i = 0; i < cnt && n < max; i++) {
                uint64_t o;
                if (nk_k_read(t, wb + i * wbsize, "_KWAIT_BLOCK", "Object", &o) != NTKD_OK) break;
                if (o) objs[n++] = o;
            }
        }
    }
    err_back(t, &es);
    return n;
}

/* ---- process context ------------------------------------------------------------------------ */

void nk_k_set_process(ntkd_target *t, uint64_t eprocess)
{
    nk_kstate *s = nk_kstate_get(t);
    if (!s) return;
    if (!eprocess) {
        if (s->dtb_saved) t->d.dtb = s->orig_dtb;
        s->dtb_saved = false;
        return;
    }
    uint64_t dtb;
    if (nk_k_read(t, eprocess, "_EPROCESS", "Pcb.DirectoryTableBase", &dtb) != NTKD_OK || !dtb) return;
    if (!s->dtb_saved) {
        s->orig_dtb = t->d.dtb;
        s->dtb_saved = true;
    }
    t->d.dtb = dtb;
}

/* ---- thread registers ----------------------------------------------------------------------- */

static void ureg_set(nk_uregs *r, unsigned i, uint64_t v)
{
    r->r[i] = v;
    r->valid |= 1ull << i;
}

nk_status nk_k_thread_regs(ntkd_target *t, uint64_t ethread, struct nk_uregs *out)
{
    if (!t || !out) return NTKD_E_ARG;
    memset(out, 0, sizeof *out);
    nk_kstate *ks0 = nk_kstate_get(t);
    if (ks0) ks0->regs_note[0] = 0;
    nk_kthread th;
    nk_status st = thread_read(t, ethread, &th, false);
    if (st != NTKD_OK) return st;
    char a[20], b[20];
    nk_arch arch = t->d.arch;
    out->arch = arch;
    if (th.cpu >= 0) {
        if ((uint32_t)th.cpu == t->d.bugcheck_cpu && t->d.ncontexts > 0 && t->d.contexts[0].data)
            return nk_uregs_from_context(&t->d.contexts[0], out);
        uint64_t prcb, off;
        if ((st = nk_k_prcb(t, (unsigned)th.cpu, &prcb)) != NTKD_OK) return st;
        if ((st = nk_k_offset(t, "_KPRCB", "ProcessorState.ContextFrame", &off)) != NTKD_OK) return st;
        nk_kstate *s = t->ext[NK_EXT_KOBJ];
        size_t len = nk_context_size(arch);
        if (!len || len > sizeof s->ctxbuf)
            return nk_fail(t->ctx, NTKD_E_UNSUPPORTED, "no register context layout for this architecture");
        size_t got = 0;
        if (nk_read_virt(t, prcb + off, s->ctxbuf, len, &got) != NTKD_OK || got != len)
            return nk_fail(t->ctx, NTKD_E_NOTPRESENT, "memory at %s (_KPRCB.ProcessorState.ContextFrame of processor %d) is not in the dump",
                           nk_k_fmt(t, prcb + off, a), th.cpu);
        nk_context c = {.arch = arch, .data = s->ctxbuf, .len = len, .origin = "KPRCB"};
        if ((st = nk_uregs_from_context(&c, out)) != NTKD_OK) return st;
        unsigned pc = arch == NK_ARCH_X86 ? NK_UR_X86_EIP : arch == NK_ARCH_ARM64 ? NK_UR_A64_PC : NK_UR_X64_RIP;
        unsigned sp = arch == NK_ARCH_ARM64 ? NK_UR_A64_SP : 4;
        if (!out->r[pc] && !out->r[sp])
            return nk_fail(t->ctx, NTKD_E_NOTFOUND,
                           "thread %s runs on processor %d, whose _KPRCB.ProcessorState holds no saved context",
                           nk_k_fmt(t, ethread, a), th.cpu);
        return NTKD_OK;
    }
    uint64_t ks = th.kernel_stack;
    if (!ks)
        return nk_fail(t->ctx, NTKD_E_NOTFOUND, "thread %s has no saved kernel stack (KernelStack is 0)", nk_k_fmt(t, ethread, a));
    if (arch == NK_ARCH_X64) {
        uint64_t size, oret, rip;
        errsave es;
        err_keep(t, &es);
        if (nk_k_sizeof(t, "_KSWITCH_FRAME", &size) != NTKD_OK || nk_k_offset(t, "_KSWITCH_FRAME", "Return", &oret) != NTKD_OK) {
            /* The public kernel symbols do not describe the switch frame: no offset is assumed.
             * The first return address above KernelStack (a value in a loaded module that
             * follows a call) starts the walk, and the note says it was found by a scan. */
            err_back(t, &es);
            uint64_t slot, ret;
            if (!nk_stack_scan_return(t, ks, 32, &slot, &ret))
                return nk_fail(t->ctx, NTKD_E_NOTFOUND,
                               "_KSWITCH_FRAME is not in this build's types and no return address lies within 32 "
                               "slots above KernelStack %s of waiting thread %s",
                               nk_k_fmt(t, ks, b), nk_k_fmt(t, ethread, a));
            ureg_set(out, NK_UR_X64_RIP, ret);
            ureg_set(out, 4, slot + 8); /* rsp after the return */
            snprintf(nk_kstate_get(t)->regs_note, sizeof nk_kstate_get(t)->regs_note,
                     "this build's types have no _KSWITCH_FRAME: the first return address above KernelStack "
                     "(at %s) was found by a stack scan", nk_k_fmt(t, slot, b));
            return NTKD_OK;
        }
        err_back(t, &es);
        if ((st = nk_k_read(t, ks, "_KSWITCH_FRAME", "Return", &rip)) != NTKD_OK) return st;
        ureg_set(out, NK_UR_X64_RIP, rip);
        ureg_set(out, 4, ks + size); /* rsp */
        uint64_t rbp;
        if (nk_k_has(t, "_KSWITCH_FRAME", "Rbp") && nk_k_read(t, ks, "_KSWITCH_FRAME", "Rbp", &rbp) == NTKD_OK)
            ureg_set(out, 5, rbp);
        return NTKD_OK;
    }
    if (arch == NK_ARCH_X86) {
        /* The i386 switch frame: ExceptionList, ApcBypassDisable, RetAddr (into KiSwapContext);
         * the thread's esp after SwapContext returns is KernelStack + 0xc, where KiSwapContext
         * saved its caller's ebp (sub esp,10h ... mov [esp],ebp), the ebp it runs with. The
         * unwinder then follows KiSwapContext's FPO record (fUseBP, four registers) from there. */
        uint32_t eip, ebp;
        if (nk_read_u32(t, ks + 8, &eip) != NTKD_OK || nk_read_u32(t, ks + 0xc, &ebp) != NTKD_OK)
            return nk_fail(t->ctx, NTKD_E_NOTPRESENT, "memory at %s (the switch frame at KernelStack of thread %s) is not in the dump",
                           nk_k_fmt(t, ks, a), nk_k_fmt(t, ethread, b));
        ureg_set(out, NK_UR_X86_EIP, eip);
        ureg_set(out, 4, ks + 0xc); /* esp */
        ureg_set(out, 5, ebp);
        return NTKD_OK;
    }
    return nk_fail(t->ctx, NTKD_E_UNSUPPORTED, "the saved registers of a waiting thread are not read for %s",
                   nk_arch_name(arch));
}

const char *nk_k_regs_note(ntkd_target *t)
{
    nk_kstate *s = t ? nk_kstate_get(t) : NULL;
    return s && s->regs_note[0] ? s->regs_note : NULL;
}
