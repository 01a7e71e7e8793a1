/* cmd_kproc.c: processes, threads and processors of kernel dumps, in WinDbg's shapes:
 *   !process [0 0 [Image] | addr|pid|-1 [flags]]   "**** NT ACTIVE PROCESS DUMP ****", one block per
 *                     process; flags 2/4/6 (0x17...) add its threads (4 alone: one line each, with 2:
 *                     full thread blocks with stacks)
 *   !thread [addr|-1|-t tid] [flags]   state, wait objects, IRPs, times, stack limits, the stack;
 *                     an address that is not a thread is read as a stack address
 *   .process [/p] [addr]   .thread [addr]   the implicit process (page tables for user addresses)
 *                     and thread (register context for k)
 *   !peb [addr]  !teb [addr]  !gle [-all]  !handle [h [flags [process]]]
 *   !pcr [cpu]  !prcb [cpu]  !irql [cpu]
 *   !list "[-e] [-m max] [-t Type.Field] [-x \"cmd\"] [-a \"args\"]" addr   runs cmd once per entry
 *                     with @$extret standing for the entry's address
 * Every structure is read through the kernel-objects layer (kobj.h) with the build's own
 * offsets; every command also fills its JSON object in the same pass. */
#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <strings.h>
#include <time.h>

#include "cmd/cmd.h"
#include "code/unwind.h"
#include "dump/context.h"
#include "expr/expr.h"
#include "kobj/kobj.h"
#include "sym/sym.h"
#include "type/type.h"

#define MAX_WAIT_OBJS 64
#define MAX_IRPS 256
#define MAX_FRAMES 256

/* ---- small helpers -------------------------------------------------------------------- */

static void kclr(ntkd_target *t)
{
    if (t->ctx) t->ctx->errmsg[0] = 0;
}

static const char *kerr(ntkd_target *t, const char *dflt)
{
    return t->ctx && t->ctx->errmsg[0] ? t->ctx->errmsg : dflt;
}

/* Pointer in WinDbg's plain style (no backtick): 16 digits on 64-bit targets, 8 on 32-bit. */
static char *hx(const ntkd_target *t, char *buf, uint64_t v)
{
    return nk_fmt_hex(buf, v, t->d.is64);
}

/* A pointer with the backtick ("fffff804`7bdf5a80") on 64-bit targets. */
static char *bt(const ntkd_target *t, char *buf, uint64_t v)
{
    return nk_fmt_ptr(buf, v, t->d.is64);
}

/* One expression filling the whole word. */
static bool eval_word(ntkd_target *t, const char *w, uint64_t *v, char *err, size_t errlen)
{
    const char *end;
    err[0] = 0;
    if (nk_eval(t, w, &end, v, err, errlen) != NTKD_OK) return false;
    if (*nk_skip_ws(end)) {
        snprintf(err, errlen, "Syntax error at '%s'", nk_skip_ws(end));
        return false;
    }
    return true;
}

static bool is_kernel_addr(const ntkd_target *t, uint64_t v)
{
    return t->d.is64 ? (v >> 47) == 0x1ffff : v >= 0x80000000u && v <= 0xffffffffu;
}

/* The thread running on the crashing processor (or what .thread chose). */
static uint64_t cur_thread(ntkd_target *t)
{
    if (t->k_cur_thread) return t->k_cur_thread;
    uint64_t prcb;
    unsigned cpu = t->d.bugcheck_cpu;
    if (cpu >= nk_k_ncpu(t)) cpu = 0;
    if (nk_k_prcb(t, cpu, &prcb) != NTKD_OK) return 0;
    return nk_k_get(t, prcb, "_KPRCB", "CurrentThread", 0);
}

/* The process of the current thread (or what .process chose). */
static uint64_t cur_process(ntkd_target *t)
{
    if (t->k_cur_process) return t->k_cur_process;
    uint64_t th = cur_thread(t);
    nk_kthread k;
    if (th && nk_k_thread_read(t, th, &k) == NTKD_OK) return k.process;
    return 0;
}

/* Page tables of `proc` for user-mode reads while a command looks into it; restore() goes
 * back to the session's choice. */
static void use_process(ntkd_target *t, uint64_t proc)
{
    if (proc) nk_k_set_process(t, proc);
}
static void restore_process(ntkd_target *t)
{
    nk_k_set_process(t, t->k_cur_process);
}

static unsigned cpu_arg(nk_cmd_env *e, const char *a, bool *ok)
{
    ntkd_target *t = e->t;
    const char *s = nk_skip_ws(a);
    unsigned n = nk_k_ncpu(t);
    *ok = true;
    unsigned cpu = t->d.bugcheck_cpu;
    if (*s) {
        uint64_t v;
        char err[256];
        if (!eval_word(t, s, &v, err, sizeof err)) {
            nk_cmd_error(e->o, "%s: bad processor number '%s' (%s)", e->name, s, err);
            *ok = false;
            return 0;
        }
        if (v >= (n ? n : 1)) {
            nk_cmd_error(e->o, "%s: processor %llu does not exist (the dump has %u)", e->name, (unsigned long long)v,
                         n);
            *ok = false;
            return 0;
        }
        cpu = (unsigned)v;
    } else if (n && cpu >= n) {
        cpu = 0;
    }
    return cpu;
}

/* ---- names -------------------------------------------------------------------------------- */

static const char *const wait_reasons[] = {
    "Executive", "FreePage", "PageIn", "PoolAllocation", "DelayExecution", "Suspended", "UserRequest",
    "WrExecutive", "WrFreePage", "WrPageIn", "WrPoolAllocation", "WrDelayExecution", "WrSuspended",
    "WrUserRequest", "WrEventPair", "WrQueue", "WrLpcReceive", "WrLpcReply", "WrVirtualMemory", "WrPageOut",
    "WrRendezvous", "WrKeyedEvent", "WrTerminated", "WrProcessInSwap", "WrCpuRateControl", "WrCalloutStack",
    "WrKernel", "WrResource", "WrPushLock", "WrMutex", "WrQuantumEnd", "WrDispatchInt", "WrPreempted",
    "WrYieldExecution", "WrFastMutex", "WrGuardedMutex", "WrRundown"};

static const char *wait_reason_name(ntkd_target *t, unsigned v, char *buf, size_t len)
{
    const char *n = nk_k_enum_name(t, "_KWAIT_REASON", v, buf, len);
    if (n && *n) return n;
    if (v < sizeof wait_reasons / sizeof wait_reasons[0]) return wait_reasons[v];
    snprintf(buf, len, "%u", v);
    return buf;
}

static const char *const thread_states[] = {"Initialized", "Ready", "Running", "Standby", "Terminated",
                                            "Waiting", "Transition", "DeferredReady", "GateWait",
                                            "WaitingForProcessInSwap"};

static const char *thread_state_name(ntkd_target *t, unsigned v, char *buf, size_t len)
{
    const char *n = nk_k_enum_name(t, "_KTHREAD_STATE", v, buf, len);
    if (n && *n) return n;
    if (v < sizeof thread_states / sizeof thread_states[0]) return thread_states[v];
    snprintf(buf, len, "%u", v);
    return buf;
}

/* Dispatcher object types (_DISPATCHER_HEADER.Type, KOBJECTS). */
static const char *dispatcher_name(unsigned v)
{
    static const char *const n[] = {"NotificationEvent", "SynchronizationEvent", "Mutant", "ProcessObject",
                                    "QueueObject", "Semaphore", "ThreadObject", "GateObject",
                                    "NotificationTimer", "SynchronizationTimer"};
    return v < sizeof n / sizeof n[0] ? n[v] : "Unknown";
}

static const char *irql_name(const ntkd_target *t, unsigned irql)
{
    if (irql == 0) return "PASSIVE_LEVEL";
    if (irql == 1) return "APC_LEVEL";
    if (irql == 2) return "DISPATCH_LEVEL";
    if (t->d.arch == NK_ARCH_X86) {
        switch (irql) {
        case 27: return "PROFILE_LEVEL";
        case 28: return "CLOCK2_LEVEL";
        case 29: return "IPI_LEVEL";
        case 30: return "POWER_LEVEL";
        case 31: return "HIGH_LEVEL";
        default: return irql < 27 ? "DEVICE_LEVEL" : "?";
        }
    }
    switch (irql) {
    case 12: return "SYNCH_LEVEL";
    case 13: return "CLOCK_LEVEL";
    case 14: return "IPI_LEVEL";
    case 15: return "HIGH_LEVEL";
    default: return irql < 12 ? "DEVICE_LEVEL" : "?";
    }
}

/* Common Win32 errors and NTSTATUS values (texts in our own words, short). */
static const char *win32_text(uint32_t v)
{
    static const struct { uint32_t v; const char *s; } m[] = {
        {0, "The operation completed successfully."},
        {1, "Incorrect function."},
        {2, "The system cannot find the file specified."},
        {3, "The system cannot find the path specified."},
        {5, "Access is denied."},
        {6, "The handle is invalid."},
        {8, "Not enough memory resources are available to process this command."},
        {14, "Not enough memory to complete this operation."},
        {32, "The file is in use by another process."},
        {87, "The parameter is incorrect."},
        {122, "The data area passed to a system call is too small."},
        {126, "The specified module could not be found."},
        {127, "The specified procedure could not be found."},
        {183, "Cannot create a file when that file already exists."},
        {203, "The system could not find the environment option that was entered."},
        {234, "More data is available."},
        {259, "No more data is available."},
        {997, "Overlapped I/O operation is in progress."},
        {1168, "Element not found."},
        {1460, "This operation returned because the timeout period expired."},
    };
    for (size_t i = 0; i < sizeof m / sizeof m[0]; i++)
        if (m[i].v == v) return m[i].s;
    return NULL;
}

static const char *ntstatus_text(uint32_t v)
{
    static const struct { uint32_t v; const char *s; } m[] = {
        {0x00000000, "STATUS_SUCCESS"},
        {0x00000102, "STATUS_TIMEOUT"},
        {0x00000103, "STATUS_PENDING"},
        {0x80000005, "STATUS_BUFFER_OVERFLOW"},
        {0x8000001a, "STATUS_NO_MORE_ENTRIES"},
        {0xc0000001, "STATUS_UNSUCCESSFUL"},
        {0xc0000005, "STATUS_ACCESS_VIOLATION"},
        {0xc0000008, "STATUS_INVALID_HANDLE"},
        {0xc000000d, "STATUS_INVALID_PARAMETER"},
        {0xc000000f, "STATUS_NO_SUCH_FILE"},
        {0xc0000017, "STATUS_NO_MEMORY"},
        {0xc0000022, "STATUS_ACCESS_DENIED"},
        {0xc0000023, "STATUS_BUFFER_TOO_SMALL"},
        {0xc0000034, "Object Name not found."},
        {0xc0000035, "Object Name already exists."},
        {0xc000003a, "Object Path Component not found."},
        {0xc0000043, "STATUS_SHARING_VIOLATION"},
        {0xc00000bb, "STATUS_NOT_SUPPORTED"},
        {0xc0000135, "STATUS_DLL_NOT_FOUND"},
        {0xc0000225, "STATUS_NOT_FOUND"},
    };
    for (size_t i = 0; i < sizeof m / sizeof m[0]; i++)
        if (m[i].v == v) return m[i].s;
    return NULL;
}

/* 100 ns units as "d:hh:mm:ss.mmm" (with_days) or "hh:mm:ss.mmm". */
static void fmt_duration(char *buf, size_t len, uint64_t t100, bool with_days)
{
    uint64_t ms = t100 / 10000, s = ms / 1000, m = s / 60, h = m / 60;
    if (with_days)
        snprintf(buf, len, "%llu:%02llu:%02llu:%02llu.%03llu", (unsigned long long)(h / 24),
                 (unsigned long long)(h % 24), (unsigned long long)(m % 60), (unsigned long long)(s % 60),
                 (unsigned long long)(ms % 1000));
    else
        snprintf(buf, len, "%02llu:%02llu:%02llu.%03llu", (unsigned long long)h, (unsigned long long)(m % 60),
                 (unsigned long long)(s % 60), (unsigned long long)(ms % 1000));
}

static bool global_u32(ntkd_target *t, const char *name, uint32_t *v)
{
    uint64_t va;
    kclr(t);
    return nk_k_global(t, name, &va) == NTKD_OK && nk_read_u32(t, va, v) == NTKD_OK;
}

/* The kernel's tick count at the crash: KeTickCount (x86) or KUSER_SHARED_DATA.TickCount. */
static bool tick_count(ntkd_target *t, uint64_t *ticks)
{
    uint32_t v;
    if (global_u32(t, "KeTickCount", &v)) {
        *ticks = v;
        return true;
    }
    uint64_t usd = t->d.is64 ? 0xfffff78000000000ull : 0xffdf0000ull;
    uint64_t off;
    kclr(t);
    if (nk_k_offset(t, "_KUSER_SHARED_DATA", "TickCount", &off) == NTKD_OK &&
        nk_read_u32(t, usd + off, &v) == NTKD_OK && v) {
        *ticks = v;
        return true;
    }
    kclr(t);
    return false;
}

/* ---- processes ---------------------------------------------------------------------------- */

static void process_head(nk_cmd_env *e, const nk_kproc *p, json_object *jp)
{
    ntkd_target *t = e->t;
    nk_out *o = e->o;
    char a1[24], a2[24], sess[24], hc[40];
    if (p->session == UINT64_MAX) snprintf(sess, sizeof sess, "none");
    else snprintf(sess, sizeof sess, "%llu", (unsigned long long)p->session);
    uint64_t handles = 0;
    bool have_hc = false;
    kclr(t);
    if (p->object_table && nk_k_read(t, p->object_table, "_HANDLE_TABLE", "HandleCount", &handles) == NTKD_OK)
        have_hc = true;
    kclr(t);
    if (have_hc) snprintf(hc, sizeof hc, "%llu.", (unsigned long long)handles);
    else if (!p->object_table) snprintf(hc, sizeof hc, "  0.");
    else snprintf(hc, sizeof hc, "<Data Not Accessible>");
    nk_printf(o, "PROCESS %s\n", bt(t, a1, p->addr));
    nk_printf(o, "    SessionId: %s  Cid: %04llx    Peb: %08llx  ParentCid: %04llx\n", sess, (unsigned long long)p->pid,
              (unsigned long long)p->peb, (unsigned long long)p->ppid);
    nk_printf(o, "    DirBase: %08llx  ObjectTable: %s  HandleCount: %s\n", (unsigned long long)p->dtb,
              hx(t, a2, p->object_table), hc);
    nk_printf(o, "    Image: %s\n", p->image);
    nk_json_u64(o, jp, "address", p->addr);
    if (p->session == UINT64_MAX) nk_json_str(o, jp, "session", NULL);
    else nk_json_int(o, jp, "session", (int64_t)p->session);
    nk_json_int(o, jp, "pid", (int64_t)p->pid);
    nk_json_int(o, jp, "parent_pid", (int64_t)p->ppid);
    nk_json_u64(o, jp, "peb", p->peb);
    nk_json_u64(o, jp, "dirbase", p->dtb);
    nk_json_u64(o, jp, "object_table", p->object_table);
    if (have_hc) nk_json_int(o, jp, "handle_count", (int64_t)handles);
    nk_json_str(o, jp, "image", p->image);
}

static void process_details(nk_cmd_env *e, const nk_kproc *p, json_object *jp)
{
    ntkd_target *t = e->t;
    nk_out *o = e->o;
    char a1[24];
    uint64_t dm = nk_k_get(t, p->addr, "_EPROCESS", "DeviceMap", 0);
    uint64_t tok = nk_k_get(t, p->addr, "_EPROCESS", "Token", 0) & ~(uint64_t)(t->d.is64 ? 0xf : 0x7);
    uint64_t ut = nk_k_get(t, p->addr, "_KPROCESS", "UserTime", 0);
    uint64_t kt = nk_k_get(t, p->addr, "_KPROCESS", "KernelTime", 0);
    uint32_t inc = 0;
    if (!global_u32(t, "KeMaximumIncrement", &inc)) inc = 0;
    kclr(t);
    nk_printf(o, "    DeviceMap %s\n", hx(t, a1, dm));
    nk_printf(o, "    Token                             %s\n", hx(t, a1, tok));
    char d1[40], d2[40];
    if (inc) {
        fmt_duration(d1, sizeof d1, ut * inc, false);
        fmt_duration(d2, sizeof d2, kt * inc, false);
        nk_printf(o, "    UserTime                          %s\n    KernelTime                        %s\n", d1, d2);
    } else {
        nk_printf(o, "    UserTime (ticks)                  %llu\n    KernelTime (ticks)                %llu\n",
                  (unsigned long long)ut, (unsigned long long)kt);
    }
    nk_json_u64(o, jp, "device_map", dm);
    nk_json_u64(o, jp, "token", tok);
    nk_json_int(o, jp, "user_ticks", (int64_t)ut);
    nk_json_int(o, jp, "kernel_ticks", (int64_t)kt);
    nk_json_u64(o, jp, "create_time", p->create_time);
}

/* ---- threads ------------------------------------------------------------------------------ */

static void state_text(ntkd_target *t, const nk_kthread *th, char *buf, size_t len)
{
    char nb[64];
    switch (th->state) {
    case 5: {
        bool alertable = nk_k_get(t, th->addr, "_KTHREAD", "Alertable", 0) != 0;
        snprintf(buf, len, "WAIT: (%s) %s %s", wait_reason_name(t, th->wait_reason, nb, sizeof nb),
                 th->wait_mode ? "UserMode" : "KernelMode", alertable ? "Alertable" : "Non-Alertable");
        break;
    }
    case 2:
        if (th->cpu >= 0) snprintf(buf, len, "RUNNING on processor %x", (unsigned)th->cpu);
        else snprintf(buf, len, "RUNNING");
        break;
    default: {
        const char *n = thread_state_name(t, th->state, nb, sizeof nb);
        size_t k = 0;
        for (; n[k] && k + 1 < len; k++) buf[k] = (char)toupper((unsigned char)n[k]);
        buf[k] = 0;
    }
    }
}

typedef struct irp_acc {
    uint64_t irps[MAX_IRPS];
    size_t n;
} irp_acc;

static bool irp_collect(void *u, uint64_t irp, uint64_t thread)
{
    (void)thread;
    irp_acc *a = u;
    if (a->n >= MAX_IRPS) return false;
    a->irps[a->n++] = irp;
    return true;
}

/* The thread's stack from its saved registers, printed like k (no frame numbers). */
static void thread_stack(nk_cmd_env *e, const nk_kthread *th, const char *ind, json_object *jt)
{
    ntkd_target *t = e->t;
    nk_out *o = e->o;
    nk_uregs r;
    kclr(t);
    nk_status rs = nk_k_thread_regs(t, th->addr, &r);
    if (rs != NTKD_OK) {
        const char *why = kerr(t, nk_status_name(rs));
        nk_printf(o, "%sUnable to get the thread's context: %s\n", ind, why);
        nk_json_str(o, jt, "stack_error", why);
        return;
    }
    const char *rnote = nk_k_regs_note(t);
    if (rnote) {
        nk_printf(o, "%sNote: %s\n", ind, rnote);
        nk_json_str(o, jt, "stack_note", rnote);
    }
    use_process(t, th->process);
    nk_stack st;
    memset(&st, 0, sizeof st);
    rs = nk_stack_walk(t, &r, MAX_FRAMES, &st);
    if (st.n) {
        /* k's printing, each line indented like the block around it */
        char *buf = NULL;
        size_t blen = 0;
        FILE *mf = ind[0] && !o->json ? open_memstream(&buf, &blen) : NULL;
        nk_out mo = *o;
        if (mf) mo.f = mf;
        nk_cmd_print_stack(&mo, t, &st, r.arch != NK_ARCH_X86, 0, jt);
        if (mf) {
            fclose(mf);
            for (char *line = buf, *nl; line && *line; line = nl ? nl + 1 : NULL) {
                nl = strchr(line, '\n');
                nk_printf(o, "%s%.*s\n", ind, (int)(nl ? nl - line : (ptrdiff_t)strlen(line)), line);
                if (!nl) break;
            }
            free(buf);
        }
    } else {
        nk_printf(o, "%sUnable to walk the thread's stack: %s\n", ind, st.stop[0] ? st.stop : nk_status_name(rs));
        nk_json_str(o, jt, "stack_error", st.stop[0] ? st.stop : nk_status_name(rs));
    }
    nk_stack_free(&st);
    restore_process(t);
}

/* One line per thread (!process flags 4 without 2). */
static void thread_line(nk_cmd_env *e, const nk_kthread *th, json_object *jt)
{
    ntkd_target *t = e->t;
    char a1[24], a2[24], a3[24], st[128];
    state_text(t, th, st, sizeof st);
    uint64_t w32 = nk_k_get(t, th->addr, "_KTHREAD", "Win32Thread", 0);
    nk_printf(e->o, "        THREAD %s  Cid %04llx.%04llx  Teb: %s Win32Thread: %s %s\n", hx(t, a1, th->addr),
              (unsigned long long)th->pid, (unsigned long long)th->tid, hx(t, a2, th->teb), hx(t, a3, w32), st);
    nk_json_u64(e->o, jt, "address", th->addr);
    nk_json_int(e->o, jt, "pid", (int64_t)th->pid);
    nk_json_int(e->o, jt, "tid", (int64_t)th->tid);
    nk_json_u64(e->o, jt, "teb", th->teb);
    nk_json_int(e->o, jt, "state", th->state);
    nk_json_str(e->o, jt, "state_text", st);
    if (th->state == 5) nk_json_int(e->o, jt, "wait_reason", th->wait_reason);
}

/* The full thread block (!thread, !process flags 6). */
static void thread_block(nk_cmd_env *e, const nk_kthread *th, const char *ind, bool stack, json_object *jt)
{
    ntkd_target *t = e->t;
    nk_out *o = e->o;
    char a1[24], a2[24], a3[24], st[128], nb[64];
    state_text(t, th, st, sizeof st);
    uint64_t w32 = nk_k_get(t, th->addr, "_KTHREAD", "Win32Thread", 0);
    nk_printf(o, "%sTHREAD %s  Cid %04llx.%04llx  Teb: %s Win32Thread: %s %s\n", ind, hx(t, a1, th->addr),
              (unsigned long long)th->pid, (unsigned long long)th->tid, hx(t, a2, th->teb), hx(t, a3, w32), st);
    nk_json_u64(o, jt, "address", th->addr);
    nk_json_u64(o, jt, "process", th->process);
    nk_json_int(o, jt, "pid", (int64_t)th->pid);
    nk_json_int(o, jt, "tid", (int64_t)th->tid);
    nk_json_u64(o, jt, "teb", th->teb);
    nk_json_u64(o, jt, "win32_thread", w32);
    nk_json_int(o, jt, "state", th->state);
    nk_json_str(o, jt, "state_name", thread_state_name(t, th->state, nb, sizeof nb));
    nk_json_str(o, jt, "state_text", st);
    if (th->state == 2 && th->cpu >= 0) nk_json_int(o, jt, "processor", th->cpu);
    if (th->state == 5) {
        nk_json_int(o, jt, "wait_reason", th->wait_reason);
        nk_json_str(o, jt, "wait_reason_name", wait_reason_name(t, th->wait_reason, nb, sizeof nb));
        nk_json_str(o, jt, "wait_mode", th->wait_mode ? "UserMode" : "KernelMode");
        nk_json_bool(o, jt, "alertable", nk_k_get(t, th->addr, "_KTHREAD", "Alertable", 0) != 0);
        uint64_t objs[MAX_WAIT_OBJS];
        size_t n = nk_k_wait_objects(t, th->addr, objs, MAX_WAIT_OBJS);
        json_object *jw = nk_json_arr(o, jt, "wait_objects");
        for (size_t i = 0; i < n; i++) {
            uint64_t ty = nk_k_get(t, objs[i], "_DISPATCHER_HEADER", "Type", 0xff);
            char extra[96] = "";
            if (ty == 5) {
                uint64_t lim = nk_k_get(t, objs[i], "_KSEMAPHORE", "Limit", 0);
                snprintf(extra, sizeof extra, " Limit 0x%llx", (unsigned long long)(lim & 0xffffffffu));
            } else if (ty == 2) {
                uint64_t own = nk_k_get(t, objs[i], "_KMUTANT", "OwnerThread", 0);
                snprintf(extra, sizeof extra, " - owning thread %s", hx(t, a1, own));
            }
            nk_printf(o, "%s    %s  %s%s\n", ind, hx(t, a1, objs[i]), dispatcher_name((unsigned)ty), extra);
            json_object *jo = nk_json_obj(o, jw, NULL);
            nk_json_u64(o, jo, "address", objs[i]);
            nk_json_int(o, jo, "type", (int64_t)ty);
            nk_json_str(o, jo, "type_name", dispatcher_name((unsigned)ty));
        }
    }
    /* IRPs */
    irp_acc *ia = calloc(1, sizeof *ia);
    if (ia) {
        nk_strbuf why = {0};
        kclr(t);
        nk_status is = nk_k_thread_irps(t, th->addr, irp_collect, ia, &why);
        json_object *ji = nk_json_arr(o, jt, "irps");
        if (ia->n) nk_printf(o, "%sIRP List:\n", ind);
        for (size_t i = 0; i < ia->n; i++) {
            uint64_t irp = ia->irps[i];
            uint64_t ty = nk_k_get(t, irp, "_IRP", "Type", 0), sz = nk_k_get(t, irp, "_IRP", "Size", 0);
            uint64_t fl = nk_k_get(t, irp, "_IRP", "Flags", 0), mdl = nk_k_get(t, irp, "_IRP", "MdlAddress", 0);
            nk_printf(o, "%s    %s: (%04llx,%04llx) Flags: %08llx  Mdl: %08llx\n", ind, hx(t, a1, irp),
                      (unsigned long long)ty, (unsigned long long)sz, (unsigned long long)fl, (unsigned long long)mdl);
            json_object *jr = nk_json_obj(o, ji, NULL);
            nk_json_u64(o, jr, "address", irp);
            nk_json_int(o, jr, "type", (int64_t)ty);
            nk_json_int(o, jr, "size", (int64_t)sz);
            nk_json_u64(o, jr, "flags", fl);
            nk_json_u64(o, jr, "mdl", mdl);
        }
        if (is != NTKD_OK && is != NTKD_E_NOTFOUND && (why.s || t->ctx->errmsg[0])) {
            const char *w = why.s ? why.s : kerr(t, "");
            nk_printf(o, "%s    (IRP list walk stopped: %s)\n", ind, w);
            nk_json_str(o, jt, "irp_list_error", w);
        }
        nk_sb_free(&why);
        free(ia);
    }
    bool imp = nk_k_get(t, th->addr, "_ETHREAD", "ActiveImpersonationInfo", 0) != 0;
    nk_printf(o, "%s%s\n", ind, imp ? "Impersonating" : "Not impersonating");
    nk_json_bool(o, jt, "impersonating", imp);
    nk_kproc p;
    memset(&p, 0, sizeof p);
    kclr(t);
    bool have_p = nk_k_process_read(t, th->process, &p) == NTKD_OK;
    if (have_p) {
        uint64_t dm = nk_k_get(t, th->process, "_EPROCESS", "DeviceMap", 0);
        nk_printf(o, "%sDeviceMap                 %s\n", ind, hx(t, a1, dm));
        nk_json_u64(o, jt, "device_map", dm);
    }
    nk_printf(o, "%sOwning Process            %s       Image:         %s\n", ind, hx(t, a1, th->process),
              have_p ? p.image : "<Unknown>");
    nk_json_u64(o, jt, "owning_process", th->process);
    nk_json_str(o, jt, "image", have_p ? p.image : NULL);
    uint64_t att = nk_k_get(t, th->addr, "_KTHREAD", "ApcState.Process", th->process);
    if (att && att != th->process) {
        nk_kproc ap;
        bool ok = nk_k_process_read(t, att, &ap) == NTKD_OK;
        nk_printf(o, "%sAttached Process          %s       Image:         %s\n", ind, hx(t, a1, att),
                  ok ? ap.image : "<Unknown>");
        nk_json_u64(o, jt, "attached_process", att);
    } else {
        nk_printf(o, "%sAttached Process          N/A            Image:         N/A\n", ind);
    }
    uint32_t inc = 0;
    if (!global_u32(t, "KeMaximumIncrement", &inc)) inc = 0;
    uint64_t now;
    char dur[48];
    if (tick_count(t, &now) && now >= th->wait_time) {
        uint64_t ticks = now - th->wait_time;
        if (inc) {
            fmt_duration(dur, sizeof dur, ticks * inc, true);
            nk_printf(o, "%sWait Start TickCount      %u       Ticks: %llu (%s)\n", ind, th->wait_time,
                      (unsigned long long)ticks, dur);
        } else {
            nk_printf(o, "%sWait Start TickCount      %u       Ticks: %llu\n", ind, th->wait_time,
                      (unsigned long long)ticks);
        }
        nk_json_int(o, jt, "ticks", (int64_t)ticks);
    } else {
        nk_printf(o, "%sWait Start TickCount      %u\n", ind, th->wait_time);
    }
    nk_json_int(o, jt, "wait_start_tick", th->wait_time);
    uint64_t cs = nk_k_get(t, th->addr, "_KTHREAD", "ContextSwitches", 0);
    uint64_t ideal = nk_k_get(t, th->addr, "_KTHREAD", "IdealProcessor", 0);
    nk_printf(o, "%sContext Switch Count      %-14llu IdealProcessor: %llu\n", ind, (unsigned long long)cs,
              (unsigned long long)ideal);
    nk_json_int(o, jt, "context_switches", (int64_t)cs);
    uint64_t ut = nk_k_get(t, th->addr, "_KTHREAD", "UserTime", 0), kt = nk_k_get(t, th->addr, "_KTHREAD", "KernelTime", 0);
    if (inc) {
        fmt_duration(dur, sizeof dur, ut * inc, false);
        nk_printf(o, "%sUserTime                  %s\n", ind, dur);
        fmt_duration(dur, sizeof dur, kt * inc, false);
        nk_printf(o, "%sKernelTime                %s\n", ind, dur);
    } else {
        nk_printf(o, "%sUserTime (ticks)          %llu\n%sKernelTime (ticks)        %llu\n", ind, (unsigned long long)ut,
                  ind, (unsigned long long)kt);
    }
    nk_json_int(o, jt, "user_ticks", (int64_t)ut);
    nk_json_int(o, jt, "kernel_ticks", (int64_t)kt);
    char sym[512];
    uint64_t sa = th->win32_start_address ? th->win32_start_address : th->start_address;
    if (nk_sym_describe(t, sa, sym, sizeof sym))
        nk_printf(o, "%sWin32 Start Address %s (0x%s)\n", ind, sym, hx(t, a1, sa));
    else nk_printf(o, "%sWin32 Start Address 0x%s\n", ind, hx(t, a1, sa));
    nk_json_u64(o, jt, "win32_start_address", sa);
    uint64_t cb = nk_k_get(t, th->addr, "_KTHREAD", "CallbackStack", 0);
    nk_printf(o, "%sStack Init %s Current %s\n", ind, hx(t, a1, th->initial_stack), hx(t, a2, th->kernel_stack));
    nk_printf(o, "%sBase %s Limit %s Call %s\n", ind, hx(t, a1, th->stack_base), hx(t, a2, th->stack_limit),
              hx(t, a3, cb));
    nk_json_u64(o, jt, "stack_init", th->initial_stack);
    nk_json_u64(o, jt, "kernel_stack", th->kernel_stack);
    nk_json_u64(o, jt, "stack_base", th->stack_base);
    nk_json_u64(o, jt, "stack_limit", th->stack_limit);
    uint64_t ub = nk_k_get(t, th->addr, "_KTHREAD", "UnusualBoost", 0);
    uint64_t fb = nk_k_get(t, th->addr, "_KTHREAD", "ForegroundBoost", 0);
    nk_printf(o, "%sPriority %d BasePriority %d UnusualBoost %llu ForegroundBoost %llu\n", ind, th->priority,
              th->base_priority, (unsigned long long)ub, (unsigned long long)fb);
    nk_json_int(o, jt, "priority", th->priority);
    nk_json_int(o, jt, "base_priority", th->base_priority);
    kclr(t);
    /* an outswapped kernel stack (KTHREAD.KernelStackResident 0 where the build has the bit):
     * its pages are in transition or in the paging file, so no walk is tried */
    uint64_t resident = 1;
    if (stack && nk_k_has(e->t, "_KTHREAD", "KernelStackResident") &&
        nk_k_read(e->t, th->addr, "_KTHREAD", "KernelStackResident", &resident) == NTKD_OK && !resident) {
        nk_printf(e->o, "%sKernel stack not resident.\n", ind);
        nk_json_bool(e->o, jt, "kernel_stack_resident", false);
    } else if (stack)
        thread_stack(e, th, ind, jt);
}

/* Finds a thread by its id in every process. */
static bool thread_by_tid(ntkd_target *t, uint64_t tid, uint64_t *ethread)
{
    nk_kproc *ps = NULL;
    size_t np = 0;
    nk_strbuf why = {0};
    bool found = false;
    nk_k_processes(t, &ps, &np, &why);
    for (size_t i = 0; i < np && !found; i++) {
        nk_kthread *ts = NULL;
        size_t nt = 0;
        nk_k_threads(t, ps[i].addr, &ts, &nt, NULL);
        for (size_t k = 0; k < nt; k++)
            if (ts[k].tid == tid) {
                *ethread = ts[k].addr;
                found = true;
                break;
            }
        free(ts);
    }
    free(ps);
    nk_sb_free(&why);
    return found;
}

nk_status cmd_thread(nk_cmd_env *e, const char *a)
{
    ntkd_target *t = e->t;
    nk_out *o = e->o;
    char w[256], err[256], a1[24];
    const char *s = nk_next_word(a, w, sizeof w);
    uint64_t addr = 0;
    bool explicit_addr = false;
    if (!w[0] || !strcmp(w, "-1")) {
        addr = cur_thread(t);
        if (!addr) {
            nk_cmd_error(o, "!thread: no current thread (%s)", kerr(t, "the crashing processor's KPRCB is unreadable"));
            return NTKD_E_NOTFOUND;
        }
    } else if (!strcmp(w, "-t")) {
        s = nk_next_word(s, w, sizeof w);
        uint64_t tid;
        if (!w[0] || !eval_word(t, w, &tid, err, sizeof err)) {
            nk_cmd_error(o, "!thread -t: bad thread id '%s'", w);
            return NTKD_E_ARG;
        }
        if (!thread_by_tid(t, tid, &addr)) {
            nk_cmd_error(o, "!thread -t: no thread with id %llx", (unsigned long long)tid);
            return NTKD_E_NOTFOUND;
        }
    } else if (!eval_word(t, w, &addr, err, sizeof err)) {
        nk_cmd_error(o, "!thread: bad address '%s' (%s)", w, err);
        return NTKD_E_ARG;
    } else {
        explicit_addr = true;
    }
    (void)s; /* flags (e, 17, 1e...) change nothing here: stacks are always shown */
    nk_json_u64(o, NULL, "argument", addr);
    if (explicit_addr) {
        /* a thread object; else an address inside some thread's kernel stack; else a KTHREAD
         * without an object header (the idle threads) known by its dispatcher header type */
        nk_kobject ob;
        memset(&ob, 0, sizeof ob);
        kclr(t);
        nk_status os = nk_k_object(t, addr, &ob);
        char oerr[512];
        snprintf(oerr, sizeof oerr, "%s", kerr(t, ""));
        bool is_thread = os == NTKD_OK && !strcmp(ob.type_name, "Thread");
        if (!is_thread) {
            uint64_t th = 0;
            kclr(t);
            nk_status ts = nk_k_thread_of_stack(t, addr, &th);
            if (ts == NTKD_OK) {
                nk_printf(o, "%s is not a thread object, interpreting as stack value...\n", hx(t, a1, addr));
                nk_json_bool(o, NULL, "stack_address", true);
                addr = th;
            } else if (os != NTKD_OK && nk_k_get(t, addr, "_DISPATCHER_HEADER", "Type", 0xff) == 6) {
                /* a KTHREAD outside the object manager (an idle thread) */
            } else {
                char terr[512];
                snprintf(terr, sizeof terr, "%s", ts == NTKD_E_NOTFOUND ? "" : kerr(t, nk_status_name(ts)));
                if (os == NTKD_OK)
                    nk_cmd_error(o, "%s is not a thread object (its type is %s), and no thread's kernel stack holds it%s%s",
                                 hx(t, a1, addr), ob.type_name[0] ? ob.type_name : "unknown", terr[0] ? ": " : "", terr);
                else
                    nk_cmd_error(o, "%s is not a thread object (%s), and no thread's kernel stack holds it%s%s",
                                 hx(t, a1, addr), oerr[0] ? oerr : "no object header", terr[0] ? ": " : "", terr);
                return NTKD_E_NOTFOUND;
            }
        }
    }
    nk_kthread k;
    kclr(t);
    nk_status rs = nk_k_thread_read(t, addr, &k);
    if (rs != NTKD_OK) {
        nk_cmd_error(o, "!thread: cannot read the thread at %s: %s", bt(t, a1, addr), kerr(t, nk_status_name(rs)));
        return rs;
    }
    json_object *jt = nk_json_obj(o, NULL, "thread");
    thread_block(e, &k, "", true, jt);
    return NTKD_OK;
}

/* ---- !process ----------------------------------------------------------------------------- */

static bool image_matches(const char *image, const char *want)
{
    if (!strcasecmp(image, want)) return true;
    /* ImageFileName keeps 15 characters (14 + NUL): a longer name matches its prefix */
    size_t li = strlen(image);
    return li >= 14 && strlen(want) > li && !strncasecmp(image, want, li);
}

static void process_threads(nk_cmd_env *e, const nk_kproc *p, unsigned flags, json_object *jp)
{
    ntkd_target *t = e->t;
    nk_out *o = e->o;
    nk_kthread *ts = NULL;
    size_t n = 0;
    nk_strbuf why = {0};
    kclr(t);
    nk_status rs = nk_k_threads(t, p->addr, &ts, &n, &why);
    json_object *ja = nk_json_arr(o, jp, "threads");
    for (size_t i = 0; i < n; i++) {
        json_object *jt = nk_json_obj(o, ja, NULL);
        if (flags & 2) {
            nk_printf(o, "\n");
            thread_block(e, &ts[i], "        ", (flags & 4) != 0, jt);
        } else {
            thread_line(e, &ts[i], jt);
        }
    }
    if (rs != NTKD_OK || why.s) {
        const char *w = why.s ? why.s : kerr(t, nk_status_name(rs));
        nk_printf(o, "        (thread list walk stopped: %s)\n", w);
        nk_json_str(o, jp, "threads_error", w);
    }
    nk_sb_free(&why);
    free(ts);
}

static void show_process(nk_cmd_env *e, const nk_kproc *p, unsigned flags, json_object *jp)
{
    process_head(e, p, jp);
    if (flags & 1) process_details(e, p, jp);
    if (flags & 6) process_threads(e, p, flags, jp);
    nk_printf(e->o, "\n");
}

nk_status cmd_process(nk_cmd_env *e, const char *a)
{
    ntkd_target *t = e->t;
    nk_out *o = e->o;
    char w1[256], w2[64], w3[256], err[256], a1[24];
    const char *s = nk_next_word(a, w1, sizeof w1);
    s = nk_next_word(s, w2, sizeof w2);
    s = nk_next_word(s, w3, sizeof w3);
    if (*s) {
        nk_cmd_error(o, "!process: unexpected '%s'", s);
        return NTKD_E_ARG;
    }
    uint64_t sel = 0, flags = 3;
    bool current = !w1[0];
    if (w1[0] && !strcmp(w1, "-1")) current = true;
    else if (w1[0] && !eval_word(t, w1, &sel, err, sizeof err)) {
        nk_cmd_error(o, "!process: bad process '%s' (%s)", w1, err);
        return NTKD_E_ARG;
    }
    if (w2[0] && !eval_word(t, w2, &flags, err, sizeof err)) {
        nk_cmd_error(o, "!process: bad flags '%s' (%s)", w2, err);
        return NTKD_E_ARG;
    }
    unsigned fl = (unsigned)(flags & 0xff);
    nk_json_u64(o, NULL, "flags", fl);
    if (current) {
        uint64_t pa = cur_process(t);
        nk_kproc p;
        kclr(t);
        if (!pa || nk_k_process_read(t, pa, &p) != NTKD_OK) {
            nk_cmd_error(o, "!process: no current process (%s)", kerr(t, "the current thread is unreadable"));
            return NTKD_E_NOTFOUND;
        }
        show_process(e, &p, fl, nk_json_obj(o, NULL, "process"));
        return NTKD_OK;
    }
    if (sel != 0 && is_kernel_addr(t, sel)) {
        nk_kproc p;
        kclr(t);
        nk_status rs = nk_k_process_read(t, sel, &p);
        if (rs != NTKD_OK) {
            nk_cmd_error(o, "!process: %s is not a readable process: %s", bt(t, a1, sel), kerr(t, nk_status_name(rs)));
            return rs;
        }
        show_process(e, &p, fl, nk_json_obj(o, NULL, "process"));
        return NTKD_OK;
    }
    /* 0: every process (optionally by image name); a small value: a process id */
    nk_kproc *ps = NULL;
    size_t n = 0;
    nk_strbuf why = {0};
    kclr(t);
    nk_status rs = nk_k_processes(t, &ps, &n, &why);
    if (!n && rs != NTKD_OK) {
        nk_cmd_error(o, "!process: cannot walk the process list: %s", why.s ? why.s : kerr(t, nk_status_name(rs)));
        nk_sb_free(&why);
        free(ps);
        return rs;
    }
    if (sel == 0) nk_printf(o, "**** NT ACTIVE PROCESS DUMP ****\n");
    json_object *ja = nk_json_arr(o, NULL, "processes");
    size_t shown = 0;
    for (size_t i = 0; i < n; i++) {
        if (sel != 0 && ps[i].pid != sel) continue;
        if (sel == 0 && w3[0] && !image_matches(ps[i].image, w3)) continue;
        show_process(e, &ps[i], fl, nk_json_obj(o, ja, NULL));
        shown++;
    }
    nk_json_int(o, NULL, "count", (int64_t)shown);
    nk_status ret = NTKD_OK;
    if (rs != NTKD_OK || why.s) {
        nk_cmd_error(o, "!process: the process list walk stopped early: %s",
                     why.s ? why.s : kerr(t, nk_status_name(rs)));
        ret = rs != NTKD_OK ? rs : NTKD_E_FORMAT;
    } else if (sel != 0 && !shown) {
        nk_cmd_error(o, "!process: no process with id %llx", (unsigned long long)sel);
        ret = NTKD_E_NOTFOUND;
    } else if (w3[0] && !shown) {
        nk_cmd_error(o, "!process: no process with image %s", w3);
        ret = NTKD_E_NOTFOUND;
    }
    nk_sb_free(&why);
    free(ps);
    return ret;
}

/* ---- .process / .thread ------------------------------------------------------------------- */

nk_status cmd_dotprocess(nk_cmd_env *e, const char *a)
{
    ntkd_target *t = e->t;
    nk_out *o = e->o;
    char w[256], err[256], a1[24];
    const char *s = nk_skip_ws(a);
    while (*s == '/' || (*s == '-' && isalpha((unsigned char)s[1]))) { /* /p /r /i: every page is in the dump */
        s = nk_next_word(s, w, sizeof w);
    }
    if (!*s) {
        uint64_t p = cur_process(t);
        nk_printf(o, "Implicit process is %s\n", bt(t, a1, p));
        nk_json_u64(o, NULL, "process", p);
        return NTKD_OK;
    }
    s = nk_next_word(s, w, sizeof w);
    uint64_t v;
    if (!eval_word(t, w, &v, err, sizeof err)) {
        nk_cmd_error(o, ".process: bad address '%s' (%s)", w, err);
        return NTKD_E_ARG;
    }
    if (v == 0) {
        t->k_cur_process = 0;
        nk_k_set_process(t, 0);
        v = cur_process(t);
        nk_printf(o, "Implicit process is now %s\n", bt(t, a1, v));
        nk_json_u64(o, NULL, "process", v);
        return NTKD_OK;
    }
    nk_kproc p;
    kclr(t);
    nk_status rs = nk_k_process_read(t, v, &p);
    if (rs != NTKD_OK) {
        nk_cmd_error(o, ".process: %s is not a readable process: %s", bt(t, a1, v), kerr(t, nk_status_name(rs)));
        return rs;
    }
    t->k_cur_process = v;
    nk_k_set_process(t, v);
    nk_printf(o, "Implicit process is now %s\n", bt(t, a1, v));
    nk_json_u64(o, NULL, "process", v);
    nk_json_str(o, NULL, "image", p.image);
    return NTKD_OK;
}

nk_status cmd_dotthread(nk_cmd_env *e, const char *a)
{
    ntkd_target *t = e->t;
    nk_out *o = e->o;
    char w[256], err[256], a1[24];
    const char *s = nk_skip_ws(a);
    while (*s == '/') s = nk_next_word(s, w, sizeof w);
    if (!*s) {
        /* back to the dump's own context and thread */
        t->k_cur_thread = 0;
        nk_out quiet = {.f = o->f, .json = true, .root = NULL};
        nk_cmd_env sub = *e;
        sub.o = &quiet;
        sub.name = ".cxr";
        cmd_cxr(&sub, "");
        uint64_t th = cur_thread(t);
        nk_printf(o, "Implicit thread is now %s\n", bt(t, a1, th));
        nk_json_u64(o, NULL, "thread", th);
        return NTKD_OK;
    }
    s = nk_next_word(s, w, sizeof w);
    uint64_t v;
    if (!eval_word(t, w, &v, err, sizeof err)) {
        nk_cmd_error(o, ".thread: bad address '%s' (%s)", w, err);
        return NTKD_E_ARG;
    }
    nk_kthread k;
    kclr(t);
    nk_status rs = nk_k_thread_read(t, v, &k);
    if (rs != NTKD_OK) {
        nk_cmd_error(o, ".thread: %s is not a readable thread: %s", bt(t, a1, v), kerr(t, nk_status_name(rs)));
        return rs;
    }
    nk_uregs r;
    kclr(t);
    rs = nk_k_thread_regs(t, v, &r);
    char why[512] = "";
    if (rs != NTKD_OK) snprintf(why, sizeof why, "%s", kerr(t, nk_status_name(rs)));
    else if ((rs = nk_cmd_use_regs(t, &r, "thread")) != NTKD_OK)
        snprintf(why, sizeof why, "cannot switch context (%s)", nk_status_name(rs));
    /* the implicit thread (for !teb, !gle, !thread) changes even when its registers cannot be
     * found; the register context then stays as it was, and we say so */
    t->k_cur_thread = v;
    nk_printf(o, "Implicit thread is now %s\n", bt(t, a1, v));
    nk_json_u64(o, NULL, "thread", v);
    nk_json_u64(o, NULL, "process", k.process);
    nk_json_bool(o, NULL, "context", !why[0]);
    if (why[0]) {
        nk_printf(o, "WARNING: no register context for this thread, the register context is unchanged: %s\n", why);
        nk_json_str(o, NULL, "warning", why);
    }
    return NTKD_OK;
}

/* ---- !peb / !teb -------------------------------------------------------------------------- */

static uint64_t pget(ntkd_target *t, uint64_t base, const char *type, const char *field)
{
    return nk_k_get(t, base, type, field, 0);
}

static char *ustr_at(ntkd_target *t, uint64_t base, const char *type, const char *field)
{
    uint64_t off, len;
    if (!base || nk_k_offset(t, type, field, &off) != NTKD_OK) return NULL;
    char *v = nk_k_ustr(t, base + off);
    if (!v && nk_k_read(t, base + off, "_UNICODE_STRING", "Length", &len) == NTKD_OK && len == 0) v = strdup("");
    return v;
}

typedef struct ldr_walk {
    nk_cmd_env *e;
    json_object *arr;
    size_t n;
} ldr_walk;

static bool ldr_entry(void *u, uint64_t entry)
{
    ldr_walk *lw = u;
    ntkd_target *t = lw->e->t;
    uint64_t links = 0;
    nk_k_offset(t, "_LDR_DATA_TABLE_ENTRY", "InLoadOrderLinks", &links);
    uint64_t ldr = entry - links;
    uint64_t base = pget(t, ldr, "_LDR_DATA_TABLE_ENTRY", "DllBase");
    uint32_t ts = (uint32_t)pget(t, ldr, "_LDR_DATA_TABLE_ENTRY", "TimeDateStamp");
    char *name = ustr_at(t, ldr, "_LDR_DATA_TABLE_ENTRY", "FullDllName");
    char tb[64] = "";
    time_t tt = (time_t)ts;
    struct tm tm;
    if (ts && gmtime_r(&tt, &tm)) strftime(tb, sizeof tb, "%b %d %H:%M:%S %Y", &tm);
    nk_printf(lw->e->o, "    %16llx %08x %-20s %s\n", (unsigned long long)base, ts, tb, name ? name : "");
    json_object *jm = nk_json_obj(lw->e->o, lw->arr, NULL);
    nk_json_u64(lw->e->o, jm, "base", base);
    nk_json_u64(lw->e->o, jm, "timestamp", ts);
    nk_json_str(lw->e->o, jm, "name", name);
    free(name);
    return ++lw->n < 4096;
}

/* !peb on user minidumps: the PEB the current thread's TEB points at (TEB.ProcessEnvironmentBlock),
 * or the PEB at addr. Field offsets from ntdll's types when the symbols give them, else the
 * layout every Windows version keeps for these fields (_PEB, _PEB_LDR_DATA,
 * _RTL_USER_PROCESS_PARAMETERS as the public symbols show them). A minidump holds only the
 * memory its writer chose: when the TEB or the PEB is not among it, the note says which. */
typedef struct uoff {
    const char *field;
    uint16_t o64, o32;
} uoff;

static uint64_t user_off(nk_typesrc *ts, const char *type, const uoff *f, bool x64)
{
    uint64_t id;
    nk_tfield tf;
    if (ts && nk_type_find(ts, type, &id) && nk_type_field(ts, id, f->field, &tf)) return tf.offset;
    return x64 ? f->o64 : f->o32;
}

static bool user_ptr(ntkd_target *t, uint64_t va, uint64_t *v)
{
    if (t->d.is64) return nk_read_u64(t, va, v) == NTKD_OK;
    uint32_t w;
    if (nk_read_u32(t, va, &w) != NTKD_OK) return false;
    *v = w;
    return true;
}

/* A UNICODE_STRING at us (user layout); NULL when its header or buffer is not in the dump. */
static char *user_ustr(ntkd_target *t, uint64_t us)
{
    uint16_t len;
    uint64_t buf;
    if (nk_read_u16(t, us, &len) != NTKD_OK || !user_ptr(t, us + (t->d.is64 ? 8 : 4), &buf)) return NULL;
    if (!len) return strdup("");
    if (len & 1 || !buf) return NULL;
    uint8_t *raw = malloc(len);
    if (!raw) return NULL;
    size_t got = 0;
    char *r = NULL;
    if (nk_read_virt(t, buf, raw, len, &got) == NTKD_OK && got == len) r = nk_utf16_to_utf8(raw, len);
    free(raw);
    return r;
}

/* The loader's InLoadOrderModuleList (head at `head`): one line per module, capped, a loop
 * that does not come back to the head detected (Brent), and a note where the dump lacks an
 * entry's memory. */
static void user_ldr_modules(nk_cmd_env *e, uint64_t head, nk_typesrc *ts)
{
    ntkd_target *t = e->t;
    nk_out *o = e->o;
    bool x64 = t->d.is64;
    char a1[24];
    static const uoff f_base = {"DllBase", 0x30, 0x18}, f_ts = {"TimeDateStamp", 0x80, 0x44},
                      f_name = {"FullDllName", 0x48, 0x24}, f_links = {"InLoadOrderLinks", 0, 0};
    uint64_t o_base = user_off(ts, "_LDR_DATA_TABLE_ENTRY", &f_base, x64),
             o_ts = user_off(ts, "_LDR_DATA_TABLE_ENTRY", &f_ts, x64),
             o_name = user_off(ts, "_LDR_DATA_TABLE_ENTRY", &f_name, x64),
             o_links = user_off(ts, "_LDR_DATA_TABLE_ENTRY", &f_links, x64);
    json_object *arr = nk_json_arr(o, NULL, "modules");
    nk_printf(o, "            Base TimeStamp                     Module\n");
    uint64_t link = 0, mark = head;
    size_t n = 0, power = 1, lam = 0;
    if (!user_ptr(t, head, &link)) {
        nk_printf(o, "    (module list head at %s is not in the dump)\n", hx(t, a1, head));
        return;
    }
    while (link != head) {
        if (n >= 4096) {
            nk_printf(o, "    (module list walk stopped after %zu entries)\n", n);
            return;
        }
        if (link == mark) {
            nk_printf(o, "    (module list walk stopped: the list loops at %s without returning to its head)\n",
                      hx(t, a1, link));
            return;
        }
        if (++lam == power) { /* Brent: move the mark forward at each power of two */
            mark = link;
            power *= 2;
            lam = 0;
        }
        uint64_t ent = link - o_links, base = 0, next = 0;
        uint32_t stamp = 0;
        if (!user_ptr(t, link, &next) || !user_ptr(t, ent + o_base, &base)) {
            nk_printf(o, "    (module list walk stopped: the entry at %s is not in the dump)\n", hx(t, a1, ent));
            return;
        }
        nk_read_u32(t, ent + o_ts, &stamp);
        char *name = user_ustr(t, ent + o_name);
        char tb[64] = "";
        time_t tt = (time_t)stamp;
        struct tm tm;
        if (stamp && gmtime_r(&tt, &tm)) strftime(tb, sizeof tb, "%b %d %H:%M:%S %Y", &tm);
        nk_printf(o, "    %16llx %08x %-20s %s\n", (unsigned long long)base, stamp, tb,
                  name ? name : "< Name not readable >");
        json_object *jm = nk_json_obj(o, arr, NULL);
        nk_json_u64(o, jm, "base", base);
        nk_json_u64(o, jm, "timestamp", stamp);
        nk_json_str(o, jm, "name", name);
        free(name);
        link = next;
        n++;
    }
}

static nk_status peb_user(nk_cmd_env *e, const char *s)
{
    ntkd_target *t = e->t;
    nk_out *o = e->o;
    char err[256], a1[24], a2[24];
    bool x64 = t->d.is64;
    nk_typesrc *ts = nk_sym_types(t, "ntdll");
    uint64_t peb = 0;
    if (*s) {
        if (!eval_word(t, s, &peb, err, sizeof err)) {
            nk_cmd_error(o, "!peb: bad address '%s' (%s)", s, err);
            return NTKD_E_ARG;
        }
    } else {
        if (t->cur_thread >= t->d.nthreads) {
            nk_cmd_error(o, "!peb: the dump has no current thread (the PEB is found through its TEB)");
            return NTKD_E_NOTFOUND;
        }
        const nk_thread *th = &t->d.threads[t->cur_thread];
        uint64_t teb = th->teb;
        nk_json_int(o, NULL, "thread_id", th->id);
        nk_json_u64(o, NULL, "teb", teb);
        if (!teb) {
            nk_cmd_error(o, "!peb: thread %x has no TEB address in the dump: the PEB address is not known", th->id);
            return NTKD_E_NOTFOUND;
        }
        static const uoff pf = {"ProcessEnvironmentBlock", 0x60, 0x30};
        uint64_t at = teb + user_off(ts, "_TEB", &pf, x64);
        if (!user_ptr(t, at, &peb)) {
            nk_cmd_error(o, "!peb: the PEB address is not known: the TEB of thread %x at %s (its "
                         "ProcessEnvironmentBlock at %s) is not in the dump",
                         th->id, hx(t, a1, teb), hx(t, a2, at));
            return NTKD_E_NOTPRESENT;
        }
        if (!peb) {
            nk_cmd_error(o, "!peb: the TEB at %s has no PEB pointer (0)", hx(t, a1, teb));
            return NTKD_E_NOTFOUND;
        }
    }
    static const uoff f_iba = {"ImageBaseAddress", 0x10, 0x8};
    uint64_t image_base;
    if (!user_ptr(t, peb + user_off(ts, "_PEB", &f_iba, x64), &image_base)) {
        nk_printf(o, "PEB at %s\n", hx(t, a1, peb));
        nk_json_u64(o, NULL, "peb", peb);
        nk_cmd_error(o, "!peb: the PEB at %s is not in the dump (the minidump does not hold that memory)",
                     hx(t, a1, peb));
        return NTKD_E_NOTPRESENT;
    }
    nk_printf(o, "PEB at %s\n", hx(t, a1, peb));
    nk_json_u64(o, NULL, "peb", peb);
    static const struct { const char *label; uoff f; } yn[] = {
        {"InheritedAddressSpace:   ", {"InheritedAddressSpace", 0, 0}},
        {"ReadImageFileExecOptions:", {"ReadImageFileExecOptions", 1, 1}},
        {"BeingDebugged:           ", {"BeingDebugged", 2, 2}}};
    for (size_t i = 0; i < 3; i++) {
        uint8_t v = 0;
        bool ok = nk_read_u8(t, peb + user_off(ts, "_PEB", &yn[i].f, x64), &v) == NTKD_OK;
        nk_printf(o, "    %s %s\n", yn[i].label, !ok ? "?" : v ? "Yes" : "No");
        nk_json_bool(o, NULL, yn[i].f.field, v != 0);
    }
    nk_printf(o, "    ImageBaseAddress:         %s\n", hx(t, a1, image_base));
    nk_json_u64(o, NULL, "image_base", image_base);
    static const uoff f_gf = {"NtGlobalFlag", 0xbc, 0x68}, f_ldr = {"Ldr", 0x18, 0xc},
                      f_pp = {"ProcessParameters", 0x20, 0x10}, f_ssd = {"SubSystemData", 0x28, 0x14},
                      f_heap = {"ProcessHeap", 0x30, 0x18};
    uint32_t gf = 0;
    if (nk_read_u32(t, peb + user_off(ts, "_PEB", &f_gf, x64), &gf) == NTKD_OK)
        nk_printf(o, "    NtGlobalFlag:             %x\n", gf);
    nk_json_u64(o, NULL, "nt_global_flag", gf);
    uint64_t ldr = 0, pp = 0, ssd = 0, heap = 0;
    user_ptr(t, peb + user_off(ts, "_PEB", &f_ldr, x64), &ldr);
    user_ptr(t, peb + user_off(ts, "_PEB", &f_pp, x64), &pp);
    user_ptr(t, peb + user_off(ts, "_PEB", &f_ssd, x64), &ssd);
    user_ptr(t, peb + user_off(ts, "_PEB", &f_heap, x64), &heap);
    nk_printf(o, "    Ldr                       %s\n", hx(t, a1, ldr));
    nk_json_u64(o, NULL, "ldr", ldr);
    if (ldr) {
        static const struct { const char *label; uoff f; } lists[] = {
            {"Ldr.InInitializationOrderModuleList:", {"InInitializationOrderModuleList", 0x30, 0x1c}},
            {"Ldr.InLoadOrderModuleList:", {"InLoadOrderModuleList", 0x10, 0xc}},
            {"Ldr.InMemoryOrderModuleList:", {"InMemoryOrderModuleList", 0x20, 0x14}}};
        uint8_t init = 0;
        static const uoff f_init = {"Initialized", 4, 4};
        if (nk_read_u8(t, ldr + user_off(ts, "_PEB_LDR_DATA", &f_init, x64), &init) != NTKD_OK) {
            nk_printf(o, "    (the loader data at %s is not in the dump)\n", hx(t, a1, ldr));
        } else {
            nk_printf(o, "    Ldr.Initialized:          %s\n", init ? "Yes" : "No");
            for (size_t i = 0; i < 3; i++) {
                uint64_t h = ldr + user_off(ts, "_PEB_LDR_DATA", &lists[i].f, x64), fl = 0, bl = 0;
                user_ptr(t, h, &fl);
                user_ptr(t, h + (x64 ? 8 : 4), &bl);
                nk_printf(o, "    %-37s%s . %s\n", lists[i].label, hx(t, a1, fl), hx(t, a2, bl));
            }
            user_ldr_modules(e, ldr + user_off(ts, "_PEB_LDR_DATA", &lists[1].f, x64), ts);
        }
    }
    nk_printf(o, "    SubSystemData:     %s\n", hx(t, a1, ssd));
    nk_printf(o, "    ProcessHeap:       %s\n", hx(t, a1, heap));
    nk_printf(o, "    ProcessParameters: %s\n", hx(t, a1, pp));
    nk_json_u64(o, NULL, "process_heap", heap);
    nk_json_u64(o, NULL, "process_parameters", pp);
    if (pp) {
        static const struct { const char *label, *key; uoff f; } strs[] = {
            {"CurrentDirectory:  ", "current_directory", {"CurrentDirectory.DosPath", 0x38, 0x24}},
            {"WindowTitle:  ", "window_title", {"WindowTitle", 0xb0, 0x70}},
            {"ImageFile:    ", "image_file", {"ImagePathName", 0x60, 0x38}},
            {"CommandLine:  ", "command_line", {"CommandLine", 0x70, 0x40}},
            {"DllPath:      ", "dll_path", {"DllPath", 0x50, 0x30}}};
        for (size_t i = 0; i < sizeof strs / sizeof strs[0]; i++) {
            char *v = user_ustr(t, pp + user_off(ts, "_RTL_USER_PROCESS_PARAMETERS", &strs[i].f, x64));
            nk_printf(o, "    %s'%s'\n", strs[i].label, v ? v : "< Name not readable >");
            nk_json_str(o, NULL, strs[i].key, v);
            free(v);
        }
    }
    return NTKD_OK;
}

/* Kernel !peb / !teb (cmd): switches to proc's address space and reads one field of the PEB
 * or TEB (what, type _what) at addr as the proof that it is mapped; then its "PEB at ..." line
 * and JSON key (cmd without '!'). On failure the error is written and the process restored. */
static nk_status user_block_open(nk_cmd_env *e, const char *cmd, const char *what, uint64_t proc, uint64_t addr,
                                 const char *field, uint64_t *probe)
{
    ntkd_target *t = e->t;
    nk_out *o = e->o;
    char a1[24], type[16];
    snprintf(type, sizeof type, "_%s", what);
    use_process(t, proc);
    kclr(t);
    nk_status rs = nk_k_read(t, addr, type, field, probe);
    if (rs != NTKD_OK) {
        nk_cmd_error(o, "%s: %s at %s is not readable: %s", cmd, what, hx(t, a1, addr), kerr(t, nk_status_name(rs)));
        restore_process(t);
        return rs;
    }
    nk_printf(o, "%s at %s\n", what, hx(t, a1, addr));
    nk_json_u64(o, NULL, cmd + 1, addr);
    return NTKD_OK;
}

nk_status cmd_peb(nk_cmd_env *e, const char *a)
{
    ntkd_target *t = e->t;
    nk_out *o = e->o;
    char err[256], a1[24], a2[24];
    const char *s = nk_skip_ws(a);
    if (!ntkd_is_kernel(t)) return peb_user(e, s);
    uint64_t proc = cur_process(t), peb = 0;
    if (*s) {
        if (!eval_word(t, s, &peb, err, sizeof err)) {
            nk_cmd_error(o, "!peb: bad address '%s' (%s)", s, err);
            return NTKD_E_ARG;
        }
    } else {
        nk_kproc p;
        kclr(t);
        if (!proc || nk_k_process_read(t, proc, &p) != NTKD_OK) {
            nk_cmd_error(o, "!peb: no current process (%s)", kerr(t, "unreadable"));
            return NTKD_E_NOTFOUND;
        }
        peb = p.peb;
        nk_json_u64(o, NULL, "process", proc);
        if (!peb) {
            nk_cmd_error(o, "!peb: process %s (%s) has no PEB", bt(t, a1, proc), p.image);
            return NTKD_E_NOTFOUND;
        }
    }
    uint64_t probe;
    nk_status rs = user_block_open(e, "!peb", "PEB", proc, peb, "ImageBaseAddress", &probe);
    if (rs != NTKD_OK) return rs;
    if (*s) nk_json_u64(o, NULL, "process", proc);
    static const struct { const char *label, *field; } yn[] = {
        {"InheritedAddressSpace:   ", "InheritedAddressSpace"},
        {"ReadImageFileExecOptions:", "ReadImageFileExecOptions"},
        {"BeingDebugged:           ", "BeingDebugged"}};
    for (size_t i = 0; i < 3; i++) {
        uint64_t v = pget(t, peb, "_PEB", yn[i].field);
        nk_printf(o, "    %s %s\n", yn[i].label, v ? "Yes" : "No");
        nk_json_bool(o, NULL, yn[i].field, v != 0);
    }
    nk_printf(o, "    ImageBaseAddress:         %s\n", hx(t, a1, probe));
    nk_json_u64(o, NULL, "image_base", probe);
    uint64_t gf = pget(t, peb, "_PEB", "NtGlobalFlag");
    nk_printf(o, "    NtGlobalFlag:             %llx\n", (unsigned long long)gf);
    uint64_t ldr = pget(t, peb, "_PEB", "Ldr");
    nk_printf(o, "    Ldr                       %s\n", hx(t, a1, ldr));
    nk_json_u64(o, NULL, "ldr", ldr);
    if (ldr) {
        nk_printf(o, "    Ldr.Initialized:          %s\n", pget(t, ldr, "_PEB_LDR_DATA", "Initialized") ? "Yes" : "No");
        static const char *const lists[] = {"InInitializationOrderModuleList", "InLoadOrderModuleList",
                                            "InMemoryOrderModuleList"};
        for (size_t i = 0; i < 3; i++) {
            char f1[64], f2[64];
            snprintf(f1, sizeof f1, "%s.Flink", lists[i]);
            snprintf(f2, sizeof f2, "%s.Blink", lists[i]);
            char lab[64];
            snprintf(lab, sizeof lab, "Ldr.%s:", lists[i]);
            nk_printf(o, "    %-37s%s . %s\n", lab, hx(t, a1, pget(t, ldr, "_PEB_LDR_DATA", f1)),
                      hx(t, a2, pget(t, ldr, "_PEB_LDR_DATA", f2)));
        }
        nk_printf(o, "            Base TimeStamp                     Module\n");
        uint64_t off;
        if (nk_k_offset(t, "_PEB_LDR_DATA", "InLoadOrderModuleList", &off) == NTKD_OK) {
            ldr_walk lw = {.e = e, .arr = nk_json_arr(o, NULL, "modules")};
            nk_strbuf why = {0};
            kclr(t);
            if (nk_k_list(t, ldr + off, 4096, ldr_entry, &lw, &why) != NTKD_OK)
                nk_printf(o, "    (module list walk stopped: %s)\n", why.s ? why.s : kerr(t, "unreadable"));
            nk_sb_free(&why);
        }
    }
    uint64_t pp = pget(t, peb, "_PEB", "ProcessParameters");
    nk_printf(o, "    SubSystemData:     %s\n", hx(t, a1, pget(t, peb, "_PEB", "SubSystemData")));
    nk_printf(o, "    ProcessHeap:       %s\n", hx(t, a1, pget(t, peb, "_PEB", "ProcessHeap")));
    nk_printf(o, "    ProcessParameters: %s\n", hx(t, a1, pp));
    nk_json_u64(o, NULL, "process_parameters", pp);
    if (pp) {
        static const struct { const char *label, *field, *key; } strs[] = {
            {"CurrentDirectory:  ", "CurrentDirectory.DosPath", "current_directory"},
            {"WindowTitle:  ", "WindowTitle", "window_title"},
            {"ImageFile:    ", "ImagePathName", "image_file"},
            {"CommandLine:  ", "CommandLine", "command_line"},
            {"DllPath:      ", "DllPath", "dll_path"}};
        for (size_t i = 0; i < sizeof strs / sizeof strs[0]; i++) {
            char *v = ustr_at(t, pp, "_RTL_USER_PROCESS_PARAMETERS", strs[i].field);
            nk_printf(o, "    %s'%s'\n", strs[i].label, v ? v : "< Name not readable >");
            nk_json_str(o, NULL, strs[i].key, v);
            free(v);
        }
    }
    kclr(t);
    restore_process(t);
    return NTKD_OK;
}

/* !teb on user minidumps: the TEB of the current thread (or at addr), with the layout from
 * ntdll's types when the symbols give them, else the _TEB layout every Windows version keeps
 * for these fields (they have never moved). */
static nk_status teb_user(nk_cmd_env *e, const char *s)
{
    ntkd_target *t = e->t;
    nk_out *o = e->o;
    char err[256], a1[24], a2[24];
    bool x64 = t->d.is64;
    uint64_t teb = 0;
    if (*s) {
        if (!eval_word(t, s, &teb, err, sizeof err)) {
            nk_cmd_error(o, "!teb: bad address '%s' (%s)", s, err);
            return NTKD_E_ARG;
        }
    } else {
        if (t->cur_thread >= t->d.nthreads) {
            nk_cmd_error(o, "!teb: the dump has no current thread");
            return NTKD_E_NOTFOUND;
        }
        teb = t->d.threads[t->cur_thread].teb;
        nk_json_int(o, NULL, "thread_id", t->d.threads[t->cur_thread].id);
    }
    static const struct { const char *label, *field, *key; uint16_t o64, o32; bool word; } f[] = {
        {"ExceptionList:        ", "NtTib.ExceptionList", "exception_list", 0x0, 0x0, false},
        {"StackBase:            ", "NtTib.StackBase", "stack_base", 0x8, 0x4, false},
        {"StackLimit:           ", "NtTib.StackLimit", "stack_limit", 0x10, 0x8, false},
        {"SubSystemTib:         ", "NtTib.SubSystemTib", "subsystem_tib", 0x18, 0xc, false},
        {"FiberData:            ", "NtTib.FiberData", "fiber_data", 0x20, 0x10, false},
        {"ArbitraryUserPointer: ", "NtTib.ArbitraryUserPointer", "arbitrary_user_pointer", 0x28, 0x14, false},
        {"Self:                 ", "NtTib.Self", "self", 0x30, 0x18, false},
        {"EnvironmentPointer:   ", "EnvironmentPointer", "environment_pointer", 0x38, 0x1c, false},
        {"ClientId:             ", "ClientId.UniqueProcess", "client_pid", 0x40, 0x20, false},
        {NULL, "ClientId.UniqueThread", "client_tid", 0x48, 0x24, false},
        {"RpcHandle:            ", "ActiveRpcHandle", "rpc_handle", 0x50, 0x28, false},
        {"Tls Storage:          ", "ThreadLocalStoragePointer", "tls_storage", 0x58, 0x2c, false},
        {"PEB Address:          ", "ProcessEnvironmentBlock", "peb", 0x60, 0x30, false},
        {"LastErrorValue:       ", "LastErrorValue", "last_error", 0x68, 0x34, true},
        {"LastStatusValue:      ", "LastStatusValue", "last_status", 0x1250, 0xbf4, true},
        {"Count Owned Locks:    ", "CountOfOwnedCriticalSections", "owned_locks", 0x6c, 0x38, true}};
    nk_typesrc *ts = nk_sym_types(t, "ntdll");
    uint64_t tid = 0;
    bool typed = ts && nk_type_find(ts, "_TEB", &tid);
    uint64_t v[sizeof f / sizeof f[0]];
    for (size_t i = 0; i < sizeof f / sizeof f[0]; i++) {
        uint64_t off = x64 ? f[i].o64 : f[i].o32;
        nk_tfield tf;
        if (typed && nk_type_field(ts, tid, f[i].field, &tf)) off = tf.offset;
        v[i] = 0;
        nk_status rs;
        if (f[i].word || !x64) {
            uint32_t w;
            rs = nk_read_u32(t, teb + off, &w);
            v[i] = w;
        } else {
            rs = nk_read_u64(t, teb + off, &v[i]);
        }
        if (rs != NTKD_OK && i == 0) {
            nk_cmd_error(o, "!teb: TEB at %s is not in the dump", hx(t, a1, teb));
            return NTKD_E_NOTPRESENT;
        }
    }
    nk_printf(o, "TEB at %s\n", hx(t, a1, teb));
    nk_json_u64(o, NULL, "teb", teb);
    for (size_t i = 0; i < sizeof f / sizeof f[0]; i++) {
        if (!strcmp(f[i].key, "client_pid"))
            nk_printf(o, "    %s%s . %s\n", f[i].label, hx(t, a1, v[i]), hx(t, a2, v[i + 1]));
        else if (!f[i].label) {
            /* UniqueThread: printed on the ClientId line */
        }
        else if (!strcmp(f[i].key, "last_status")) nk_printf(o, "    %s%llx\n", f[i].label, (unsigned long long)v[i]);
        else if (f[i].word) nk_printf(o, "    %s%llu\n", f[i].label, (unsigned long long)v[i]);
        else nk_printf(o, "    %s%s\n", f[i].label, hx(t, a1, v[i]));
        if (f[i].word && strcmp(f[i].key, "last_status")) nk_json_int(o, NULL, f[i].key, (int64_t)v[i]);
        else nk_json_u64(o, NULL, f[i].key, v[i]);
    }
    return NTKD_OK;
}

nk_status cmd_teb(nk_cmd_env *e, const char *a)
{
    ntkd_target *t = e->t;
    nk_out *o = e->o;
    char err[256], a1[24], a2[24];
    const char *s = nk_skip_ws(a);
    if (!ntkd_is_kernel(t)) return teb_user(e, s);
    uint64_t th = cur_thread(t), teb = 0, proc = 0;
    nk_kthread k;
    memset(&k, 0, sizeof k);
    kclr(t);
    bool have_th = th && nk_k_thread_read(t, th, &k) == NTKD_OK;
    if (have_th) proc = k.process;
    if (*s) {
        if (!eval_word(t, s, &teb, err, sizeof err)) {
            nk_cmd_error(o, "!teb: bad address '%s' (%s)", s, err);
            return NTKD_E_ARG;
        }
        proc = cur_process(t);
    } else {
        if (!have_th) {
            nk_cmd_error(o, "!teb: no current thread (%s)", kerr(t, "unreadable"));
            return NTKD_E_NOTFOUND;
        }
        teb = k.teb;
        nk_json_u64(o, NULL, "thread", th);
        if (!teb) {
            nk_cmd_error(o, "!teb: thread %s has no TEB (a system thread)", hx(t, a1, th));
            return NTKD_E_NOTFOUND;
        }
    }
    uint64_t self;
    nk_status rs = user_block_open(e, "!teb", "TEB", proc, teb, "NtTib.Self", &self);
    if (rs != NTKD_OK) return rs;
    static const struct { const char *label, *field, *key; } f[] = {
        {"ExceptionList:       ", "NtTib.ExceptionList", "exception_list"},
        {"StackBase:           ", "NtTib.StackBase", "stack_base"},
        {"StackLimit:          ", "NtTib.StackLimit", "stack_limit"},
        {"SubSystemTib:        ", "NtTib.SubSystemTib", "subsystem_tib"},
        {"FiberData:           ", "NtTib.FiberData", "fiber_data"},
        {"ArbitraryUserPointer:", "NtTib.ArbitraryUserPointer", "arbitrary_user_pointer"},
        {"Self:                ", "NtTib.Self", "self"},
        {"EnvironmentPointer:  ", "EnvironmentPointer", "environment_pointer"}};
    for (size_t i = 0; i < sizeof f / sizeof f[0]; i++) {
        uint64_t v = pget(t, teb, "_TEB", f[i].field);
        nk_printf(o, "    %s %s\n", f[i].label, hx(t, a1, v));
        nk_json_u64(o, NULL, f[i].key, v);
    }
    uint64_t up = pget(t, teb, "_TEB", "ClientId.UniqueProcess"), ut = pget(t, teb, "_TEB", "ClientId.UniqueThread");
    nk_printf(o, "    ClientId:             %s . %s\n", hx(t, a1, up), hx(t, a2, ut));
    nk_json_u64(o, NULL, "client_pid", up);
    nk_json_u64(o, NULL, "client_tid", ut);
    static const struct { const char *label, *field, *key; } g[] = {
        {"RpcHandle:            ", "ActiveRpcHandle", "rpc_handle"},
        {"Tls Storage:          ", "ThreadLocalStoragePointer", "tls_storage"},
        {"PEB Address:          ", "ProcessEnvironmentBlock", "peb"}};
    for (size_t i = 0; i < sizeof g / sizeof g[0]; i++) {
        uint64_t v = pget(t, teb, "_TEB", g[i].field);
        nk_printf(o, "    %s%s\n", g[i].label, hx(t, a1, v));
        nk_json_u64(o, NULL, g[i].key, v);
    }
    uint64_t le = pget(t, teb, "_TEB", "LastErrorValue"), ls = pget(t, teb, "_TEB", "LastStatusValue");
    nk_printf(o, "    LastErrorValue:       %llu\n", (unsigned long long)le);
    nk_printf(o, "    LastStatusValue:      %llx\n", (unsigned long long)ls);
    nk_printf(o, "    Count Owned Locks:    %llu\n", (unsigned long long)pget(t, teb, "_TEB", "CountOfOwnedCriticalSections"));
    nk_printf(o, "    HardErrorMode:        %llu\n", (unsigned long long)pget(t, teb, "_TEB", "HardErrorMode"));
    nk_json_int(o, NULL, "last_error", (int64_t)le);
    nk_json_u64(o, NULL, "last_status", ls);
    kclr(t);
    restore_process(t);
    return NTKD_OK;
}

/* ---- !gle ----------------------------------------------------------------------------------- */

static void gle_print(nk_out *o, uint32_t le, uint32_t ls, json_object *j)
{
    const char *m = win32_text(le);
    nk_printf(o, "LastErrorValue: (Win32) 0x%x (%u) - %s\n", le, le, m ? m : "<Unable to get error code text>");
    const char *n = ntstatus_text(ls);
    if (n) nk_printf(o, "LastStatusValue: (NTSTATUS) 0x%x - %s\n", ls, n);
    else nk_printf(o, "LastStatusValue: (NTSTATUS) 0x%x - <Unable to get error code text>\n", ls);
    nk_json_int(o, j, "last_error", le);
    nk_json_str(o, j, "last_error_text", m);
    nk_json_u64(o, j, "last_status", ls);
    nk_json_str(o, j, "last_status_text", n);
}

/* User dumps: the TEB's LastErrorValue / LastStatusValue offsets from ntdll's types when the
 * symbols give them, else the layout every Windows version keeps (x64 0x68/0x1250, x86
 * 0x34/0xbf4). */
static void user_teb_offsets(ntkd_target *t, uint64_t *le, uint64_t *ls)
{
    bool x64 = t->d.is64;
    *le = x64 ? 0x68 : 0x34;
    *ls = x64 ? 0x1250 : 0xbf4;
    nk_typesrc *ts = nk_sym_types(t, "ntdll");
    uint64_t id;
    nk_tfield f1, f2;
    if (ts && nk_type_find(ts, "_TEB", &id) && nk_type_field(ts, id, "LastErrorValue", &f1) &&
        nk_type_field(ts, id, "LastStatusValue", &f2)) {
        *le = f1.offset;
        *ls = f2.offset;
    }
}

static nk_status gle_user(nk_cmd_env *e, bool all)
{
    ntkd_target *t = e->t;
    nk_out *o = e->o;
    char a1[24];
    if (!t->d.nthreads) {
        nk_cmd_error(o, "!gle: the dump has no thread list");
        return NTKD_E_NOTFOUND;
    }
    uint64_t ole, ols;
    user_teb_offsets(t, &ole, &ols);
    size_t first = all ? 0 : t->cur_thread, last = all ? t->d.nthreads : t->cur_thread + 1;
    if (first >= t->d.nthreads) {
        nk_cmd_error(o, "!gle: no current thread");
        return NTKD_E_NOTFOUND;
    }
    json_object *ja = all ? nk_json_arr(o, NULL, "threads") : NULL;
    nk_status ret = NTKD_OK;
    for (size_t i = first; i < last; i++) {
        const nk_thread *th = &t->d.threads[i];
        json_object *j = all ? nk_json_obj(o, ja, NULL) : NULL;
        if (all) nk_printf(o, "Last error for thread %zx:\n", i);
        nk_json_int(o, j, "thread_id", th->id);
        nk_json_u64(o, j, "teb", th->teb);
        uint32_t le, ls;
        if (!th->teb || nk_read_u32(t, th->teb + ole, &le) != NTKD_OK || nk_read_u32(t, th->teb + ols, &ls) != NTKD_OK) {
            if (all) nk_printf(o, "TEB at %s is not in the dump\n\n", hx(t, a1, th->teb));
            else nk_cmd_error(o, "!gle: TEB at %s of thread %x is not in the dump", hx(t, a1, th->teb), th->id);
            ret = all ? ret : NTKD_E_NOTPRESENT;
            continue;
        }
        gle_print(o, le, ls, j);
        if (all) nk_printf(o, "\n");
    }
    return ret;
}

/* The last error of a kernel thread (from its TEB, read in its process's address space). */
static bool gle_kthread(ntkd_target *t, const nk_kthread *k, uint32_t *le, uint32_t *ls)
{
    if (!k->teb) return false;
    use_process(t, k->process);
    uint64_t v1, v2;
    kclr(t);
    bool ok = nk_k_read(t, k->teb, "_TEB", "LastErrorValue", &v1) == NTKD_OK &&
              nk_k_read(t, k->teb, "_TEB", "LastStatusValue", &v2) == NTKD_OK;
    restore_process(t);
    if (ok) {
        *le = (uint32_t)v1;
        *ls = (uint32_t)v2;
        return true;
    }
    if (k->has_teb_errors) {
        *le = k->last_error;
        *ls = k->last_status;
        return true;
    }
    return false;
}

nk_status cmd_gle(nk_cmd_env *e, const char *a)
{
    ntkd_target *t = e->t;
    nk_out *o = e->o;
    char a1[24];
    const char *s = nk_skip_ws(a);
    bool all = false;
    if (*s) {
        if (!strcmp(s, "-all")) all = true;
        else {
            nk_cmd_error(o, "!gle: unknown option '%s' (!gle [-all])", s);
            return NTKD_E_ARG;
        }
    }
    if (!ntkd_is_kernel(t)) return gle_user(e, all);
    if (!all) {
        uint64_t th = cur_thread(t);
        nk_kthread k;
        kclr(t);
        if (!th || nk_k_thread_read(t, th, &k) != NTKD_OK) {
            nk_cmd_error(o, "!gle: no current thread (%s)", kerr(t, "unreadable"));
            return NTKD_E_NOTFOUND;
        }
        nk_json_u64(o, NULL, "thread", th);
        nk_json_u64(o, NULL, "teb", k.teb);
        if (!k.teb) {
            nk_cmd_error(o, "!gle: thread %s has no TEB (a system thread): no last error", hx(t, a1, th));
            return NTKD_E_NOTFOUND;
        }
        uint32_t le, ls;
        if (!gle_kthread(t, &k, &le, &ls)) {
            nk_cmd_error(o, "!gle: TEB at %s is not readable: %s", hx(t, a1, k.teb), kerr(t, "not in the dump"));
            return NTKD_E_NOTPRESENT;
        }
        gle_print(o, le, ls, NULL);
        return NTKD_OK;
    }
    uint64_t proc = cur_process(t);
    nk_kthread *ts = NULL;
    size_t n = 0;
    nk_strbuf why = {0};
    kclr(t);
    nk_status rs = nk_k_threads(t, proc, &ts, &n, &why);
    json_object *ja = nk_json_arr(o, NULL, "threads");
    for (size_t i = 0; i < n; i++) {
        json_object *j = nk_json_obj(o, ja, NULL);
        nk_json_u64(o, j, "thread", ts[i].addr);
        nk_json_int(o, j, "tid", (int64_t)ts[i].tid);
        nk_printf(o, "Last error for thread %llx (%s):\n", (unsigned long long)ts[i].tid, hx(t, a1, ts[i].addr));
        uint32_t le, ls;
        if (!ts[i].teb) nk_printf(o, "No TEB (a system thread)\n");
        else if (!gle_kthread(t, &ts[i], &le, &ls)) nk_printf(o, "TEB at %s is not readable\n", hx(t, a1, ts[i].teb));
        else gle_print(o, le, ls, j);
        nk_printf(o, "\n");
    }
    if (rs != NTKD_OK || why.s) nk_cmd_error(o, "!gle -all: thread list walk stopped: %s", why.s ? why.s : kerr(t, "?"));
    nk_sb_free(&why);
    free(ts);
    return rs;
}

/* ---- !handle -------------------------------------------------------------------------------- */

typedef struct htab {
    uint64_t entsize, ptrsize;
    bool new_fmt;           /* ObjectPointerBits / GrantedAccessBits (8.1 and later) */
    uint64_t body_off;      /* _OBJECT_HEADER.Body */
    nk_kfield obj_bits, access;
} htab;

/* Decodes one handle table entry: the object body (0: free) and the granted access. */
static bool hte_decode(ntkd_target *t, const htab *h, uint64_t ent, uint64_t *body, uint64_t *access)
{
    uint64_t v;
    *body = 0;
    if (h->new_fmt) {
        if (nk_k_read(t, ent, "_HANDLE_TABLE_ENTRY", "ObjectPointerBits", &v) != NTKD_OK) return false;
        if (!v) return true;
        uint64_t hdr = (v << 4) | 0xffff000000000000ull;
        *body = hdr + h->body_off;
        *access = nk_k_get(t, ent, "_HANDLE_TABLE_ENTRY", "GrantedAccessBits", 0);
        return true;
    }
    if (nk_k_read(t, ent, "_HANDLE_TABLE_ENTRY", "Object", &v) != NTKD_OK) return false;
    v &= ~(uint64_t)7;
    if (!v) return true;
    *body = v + h->body_off;
    *access = nk_k_get(t, ent, "_HANDLE_TABLE_ENTRY", "GrantedAccess", 0);
    return true;
}

typedef struct hwalk {
    nk_cmd_env *e;
    htab h;
    uint64_t want;     /* one handle, or 0 for all */
    uint64_t limit;    /* NextHandleNeedingPool */
    size_t shown, budget;
    json_object *arr;
} hwalk;

static void handle_one(hwalk *hw, uint64_t handle, uint64_t ent)
{
    ntkd_target *t = hw->e->t;
    nk_out *o = hw->e->o;
    uint64_t body, acc = 0;
    if (!hte_decode(t, &hw->h, ent, &body, &acc) || !body) return;
    char a1[24], a2[24];
    nk_kobject ob;
    memset(&ob, 0, sizeof ob);
    kclr(t);
    nk_status os = nk_k_object(t, body, &ob);
    nk_printf(o, "%04llx: Object: %s  GrantedAccess: %08llx Entry: %s\n", (unsigned long long)handle, hx(t, a1, body),
              (unsigned long long)acc, hx(t, a2, ent));
    json_object *j = nk_json_obj(o, hw->arr, NULL);
    nk_json_u64(o, j, "handle", handle);
    nk_json_u64(o, j, "object", body);
    nk_json_u64(o, j, "granted_access", acc);
    nk_json_u64(o, j, "entry", ent);
    if (os == NTKD_OK) {
        nk_printf(o, "Object: %s  Type: (%s) %s\n", hx(t, a1, body), hx(t, a2, ob.type_obj), ob.type_name);
        nk_printf(o, "    ObjectHeader: %s\n", hx(t, a1, ob.header));
        nk_printf(o, "        HandleCount: %lld  PointerCount: %lld\n", (long long)ob.handle_count,
                  (long long)ob.pointer_count);
        if (ob.name[0]) nk_printf(o, "        Directory Object: %s  Name: %s\n", hx(t, a1, ob.directory), ob.name);
        nk_json_str(o, j, "type", ob.type_name);
        nk_json_str(o, j, "name", ob.name[0] ? ob.name : NULL);
    } else {
        nk_printf(o, "    (object header unreadable: %s)\n", kerr(t, nk_status_name(os)));
    }
    nk_printf(o, "\n");
    hw->shown++;
}

/* Walks one table page of entries (level 0) or of pointers (levels 1, 2). */
static bool handle_level(hwalk *hw, uint64_t page, unsigned level, uint64_t first_handle, uint64_t span)
{
    ntkd_target *t = hw->e->t;
    if (level == 0) {
        uint64_t n = 4096 / hw->h.entsize;
        for (uint64_t i = 0; i < n; i++) {
            uint64_t handle = first_handle + i * 4;
            if (handle >= hw->limit || hw->budget == 0) return false;
            hw->budget--;
            if (!handle) continue;
            if (hw->want && handle != hw->want) continue;
            handle_one(hw, handle, page + i * hw->h.entsize);
        }
        return true;
    }
    uint64_t n = 4096 / hw->h.ptrsize;
    for (uint64_t i = 0; i < n; i++) {
        uint64_t start = first_handle + i * span;
        if (start >= hw->limit) return false;
        if (hw->want && (hw->want < start || hw->want >= start + span)) continue;
        uint64_t sub;
        if (nk_read_ptr(t, page + i * hw->h.ptrsize, &sub) != NTKD_OK || !sub) continue;
        uint64_t sub_span = level == 2 ? span / n : 0;
        if (!handle_level(hw, sub, level - 1, start, sub_span)) return false;
    }
    return true;
}

nk_status cmd_handle(nk_cmd_env *e, const char *a)
{
    ntkd_target *t = e->t;
    nk_out *o = e->o;
    char w1[128], w2[64], w3[128], err[256], a1[24];
    const char *s = nk_next_word(a, w1, sizeof w1);
    s = nk_next_word(s, w2, sizeof w2);
    s = nk_next_word(s, w3, sizeof w3);
    uint64_t want = 0, flags = 3, pv = 0;
    if (w1[0] && !eval_word(t, w1, &want, err, sizeof err)) {
        nk_cmd_error(o, "!handle: bad handle '%s' (%s)", w1, err);
        return NTKD_E_ARG;
    }
    if (w2[0] && !eval_word(t, w2, &flags, err, sizeof err)) {
        nk_cmd_error(o, "!handle: bad flags '%s' (%s)", w2, err);
        return NTKD_E_ARG;
    }
    (void)flags;
    uint64_t proc = cur_process(t);
    if (w3[0]) {
        if (!eval_word(t, w3, &pv, err, sizeof err)) {
            nk_cmd_error(o, "!handle: bad process '%s' (%s)", w3, err);
            return NTKD_E_ARG;
        }
        if (is_kernel_addr(t, pv)) proc = pv;
        else {
            nk_kproc *ps = NULL;
            size_t n = 0;
            proc = 0;
            nk_k_processes(t, &ps, &n, NULL);
            for (size_t i = 0; i < n; i++)
                if (ps[i].pid == pv) proc = ps[i].addr;
            free(ps);
            if (!proc) {
                nk_cmd_error(o, "!handle: no process with id %llx", (unsigned long long)pv);
                return NTKD_E_NOTFOUND;
            }
        }
    }
    nk_kproc p;
    kclr(t);
    if (!proc || nk_k_process_read(t, proc, &p) != NTKD_OK) {
        nk_cmd_error(o, "!handle: no readable process (%s)", kerr(t, "none current"));
        return NTKD_E_NOTFOUND;
    }
    process_head(e, &p, nk_json_obj(o, NULL, "process"));
    if (!p.object_table) {
        nk_cmd_error(o, "!handle: process %s has no handle table", bt(t, a1, proc));
        return NTKD_E_NOTFOUND;
    }
    hwalk hw = {.e = e, .want = want, .budget = 1u << 20, .arr = NULL};
    hw.h.ptrsize = t->d.is64 ? 8 : 4;
    kclr(t);
    if (nk_k_sizeof(t, "_HANDLE_TABLE_ENTRY", &hw.h.entsize) != NTKD_OK || hw.h.entsize == 0 || hw.h.entsize > 64 ||
        nk_k_offset(t, "_OBJECT_HEADER", "Body", &hw.h.body_off) != NTKD_OK) {
        nk_cmd_error(o, "!handle: %s", kerr(t, "the handle table types are not available"));
        return NTKD_E_NOTFOUND;
    }
    hw.h.new_fmt = nk_k_has(t, "_HANDLE_TABLE_ENTRY", "ObjectPointerBits");
    uint64_t code, next;
    kclr(t);
    if (nk_k_read(t, p.object_table, "_HANDLE_TABLE", "TableCode", &code) != NTKD_OK) {
        nk_cmd_error(o, "!handle: %s", kerr(t, "TableCode unreadable"));
        return NTKD_E_NOTPRESENT;
    }
    next = nk_k_get(t, p.object_table, "_HANDLE_TABLE", "NextHandleNeedingPool", 0);
    unsigned level = (unsigned)(code & 3);
    uint64_t base = code & ~(uint64_t)7;
    uint64_t per_leaf = 4096 / hw.h.entsize * 4, per_ptr = 4096 / hw.h.ptrsize;
    if (!next || next > (1ull << 26)) next = per_leaf * (level == 0 ? 1 : level == 1 ? per_ptr : per_ptr * per_ptr);
    hw.limit = next;
    nk_printf(o, "Handle table at %s with level %u (handles below %llx)\n\n", hx(t, a1, base), level,
              (unsigned long long)next);
    nk_json_u64(o, NULL, "table", base);
    nk_json_int(o, NULL, "levels", level);
    if (level > 2) {
        nk_cmd_error(o, "!handle: TableCode %llx has an invalid level %u", (unsigned long long)code, level);
        return NTKD_E_FORMAT;
    }
    hw.arr = nk_json_arr(o, NULL, "handles");
    use_process(t, proc);
    handle_level(&hw, base, level, 0, level == 2 ? per_leaf * per_ptr : per_leaf);
    restore_process(t);
    if (!hw.budget) {
        nk_printf(o, "(stopped after %u entries)\n", 1u << 20);
        nk_json_str(o, NULL, "warning", "stopped after 1048576 entries");
    }
    nk_json_int(o, NULL, "count", (int64_t)hw.shown);
    if (want && !hw.shown) {
        nk_cmd_error(o, "!handle: handle %llx is not in use in this process", (unsigned long long)want);
        return NTKD_E_NOTFOUND;
    }
    if (!want) nk_printf(o, "%zu handles shown\n", hw.shown);
    return NTKD_OK;
}

/* ---- !pcr / !prcb / !irql ------------------------------------------------------------------ */

nk_status cmd_pcr(nk_cmd_env *e, const char *a)
{
    ntkd_target *t = e->t;
    nk_out *o = e->o;
    char a1[24];
    bool ok;
    unsigned cpu = cpu_arg(e, a, &ok);
    if (!ok) return NTKD_E_ARG;
    uint64_t pcr, prcb;
    kclr(t);
    if (nk_k_pcr(t, cpu, &pcr) != NTKD_OK || nk_k_prcb(t, cpu, &prcb) != NTKD_OK) {
        nk_cmd_error(o, "!pcr: no KPCR for processor %u: %s", cpu, kerr(t, "unreadable"));
        return NTKD_E_NOTFOUND;
    }
    bool x86 = t->d.arch == NK_ARCH_X86;
    nk_printf(o, "KPCR for Processor %u at %s:\n", cpu, hx(t, a1, pcr));
    nk_printf(o, "    Major %llu Minor %llu\n", (unsigned long long)pget(t, pcr, "_KPCR", "MajorVersion"),
              (unsigned long long)pget(t, pcr, "_KPCR", "MinorVersion"));
    nk_json_int(o, NULL, "processor", cpu);
    nk_json_u64(o, NULL, "pcr", pcr);
    nk_json_u64(o, NULL, "prcb", prcb);
    static const struct { const char *label, *field; } tib[] = {
        {"NtTib.ExceptionList", "NtTib.ExceptionList"}, {"NtTib.StackBase", "NtTib.StackBase"},
        {"NtTib.StackLimit", "NtTib.StackLimit"},       {"NtTib.SubSystemTib", "NtTib.SubSystemTib"},
        {"NtTib.Version", "NtTib.Version"},             {"NtTib.UserPointer", "NtTib.ArbitraryUserPointer"},
        {"NtTib.SelfTib", "NtTib.Self"}};
    for (size_t i = 0; i < sizeof tib / sizeof tib[0]; i++)
        nk_printf(o, "%25s: %s\n", tib[i].label, hx(t, a1, pget(t, pcr, "_KPCR", tib[i].field)));
    nk_printf(o, "\n");
    nk_printf(o, "%25s: %s\n", "SelfPcr", hx(t, a1, pget(t, pcr, "_KPCR", x86 ? "SelfPcr" : "Self")));
    nk_printf(o, "%25s: %s\n", "Prcb", hx(t, a1, prcb));
    uint64_t irql = pget(t, pcr, "_KPCR", "Irql");
    nk_printf(o, "%25s: %s\n", "Irql", hx(t, a1, irql));
    nk_json_int(o, NULL, "irql", (int64_t)irql);
    if (x86) {
        nk_printf(o, "%25s: %s\n", "IRR", hx(t, a1, pget(t, pcr, "_KPCR", "IRR")));
        nk_printf(o, "%25s: %s\n", "IDR", hx(t, a1, pget(t, pcr, "_KPCR", "IDR")));
        nk_printf(o, "%25s: %s\n", "InterruptMode", hx(t, a1, pget(t, pcr, "_KPCR", "InterruptMode")));
        nk_printf(o, "%25s: %s\n", "IDT", hx(t, a1, pget(t, pcr, "_KPCR", "IDT")));
        nk_printf(o, "%25s: %s\n", "GDT", hx(t, a1, pget(t, pcr, "_KPCR", "GDT")));
        nk_printf(o, "%25s: %s\n", "TSS", hx(t, a1, pget(t, pcr, "_KPCR", "TSS")));
    } else {
        nk_printf(o, "%25s: %s\n", "IDT", hx(t, a1, pget(t, pcr, "_KPCR", "IdtBase")));
        nk_printf(o, "%25s: %s\n", "GDT", hx(t, a1, pget(t, pcr, "_KPCR", "GdtBase")));
        nk_printf(o, "%25s: %s\n", "TSS", hx(t, a1, pget(t, pcr, "_KPCR", "TssBase")));
    }
    nk_printf(o, "\n");
    static const struct { const char *label, *field, *key; } th[] = {
        {"CurrentThread", "CurrentThread", "current_thread"},
        {"NextThread", "NextThread", "next_thread"},
        {"IdleThread", "IdleThread", "idle_thread"}};
    for (size_t i = 0; i < 3; i++) {
        uint64_t v = pget(t, prcb, "_KPRCB", th[i].field);
        nk_printf(o, "%25s: %s\n", th[i].label, hx(t, a1, v));
        nk_json_u64(o, NULL, th[i].key, v);
    }
    kclr(t);
    return NTKD_OK;
}

nk_status cmd_prcb(nk_cmd_env *e, const char *a)
{
    ntkd_target *t = e->t;
    nk_out *o = e->o;
    char a1[24], a2[24], a3[24];
    bool ok;
    unsigned cpu = cpu_arg(e, a, &ok);
    if (!ok) return NTKD_E_ARG;
    uint64_t prcb, pcr = 0;
    kclr(t);
    if (nk_k_prcb(t, cpu, &prcb) != NTKD_OK) {
        nk_cmd_error(o, "!prcb: no KPRCB for processor %u: %s", cpu, kerr(t, "unreadable"));
        return NTKD_E_NOTFOUND;
    }
    nk_k_pcr(t, cpu, &pcr);
    uint64_t cur = pget(t, prcb, "_KPRCB", "CurrentThread"), next = pget(t, prcb, "_KPRCB", "NextThread"),
             idle = pget(t, prcb, "_KPRCB", "IdleThread");
    nk_printf(o, "PRCB for Processor %u at %s:\n", cpu, hx(t, a1, prcb));
    if (pcr) nk_printf(o, "Current IRQL -- %llu\n", (unsigned long long)pget(t, pcr, "_KPCR", "Irql"));
    nk_printf(o, "Threads--  Current %s Next %s Idle %s\n", hx(t, a1, cur), hx(t, a2, next), hx(t, a3, idle));
    uint64_t num = pget(t, prcb, "_KPRCB", "Number");
    nk_printf(o, "Processor Index %llu\n", (unsigned long long)num);
    if (nk_k_has(t, "_KPRCB", "InterruptCount"))
        nk_printf(o, "Interrupt Count -- %08llx\n", (unsigned long long)pget(t, prcb, "_KPRCB", "InterruptCount"));
    if (nk_k_has(t, "_KPRCB", "DpcTime"))
        nk_printf(o, "Times -- Dpc    %08llx Interrupt %08llx \n         Kernel %08llx User      %08llx \n",
                  (unsigned long long)pget(t, prcb, "_KPRCB", "DpcTime"),
                  (unsigned long long)pget(t, prcb, "_KPRCB", "InterruptTime"),
                  (unsigned long long)pget(t, prcb, "_KPRCB", "KernelTime"),
                  (unsigned long long)pget(t, prcb, "_KPRCB", "UserTime"));
    nk_json_int(o, NULL, "processor", cpu);
    nk_json_u64(o, NULL, "prcb", prcb);
    nk_json_u64(o, NULL, "pcr", pcr);
    nk_json_u64(o, NULL, "current_thread", cur);
    nk_json_u64(o, NULL, "next_thread", next);
    nk_json_u64(o, NULL, "idle_thread", idle);
    nk_json_int(o, NULL, "number", (int64_t)num);
    kclr(t);
    return NTKD_OK;
}

nk_status cmd_irql(nk_cmd_env *e, const char *a)
{
    ntkd_target *t = e->t;
    nk_out *o = e->o;
    bool ok;
    unsigned cpu = cpu_arg(e, a, &ok);
    if (!ok) return NTKD_E_ARG;
    uint64_t prcb = 0, pcr = 0, v = 0;
    kclr(t);
    bool have = false;
    const char *src = NULL;
    if (nk_k_prcb(t, cpu, &prcb) == NTKD_OK && nk_k_has(t, "_KPRCB", "DebuggerSavedIRQL") &&
        nk_k_read(t, prcb, "_KPRCB", "DebuggerSavedIRQL", &v) == NTKD_OK) {
        have = true;
        src = "_KPRCB.DebuggerSavedIRQL";
    }
    kclr(t);
    if (!have && nk_k_pcr(t, cpu, &pcr) == NTKD_OK && nk_k_read(t, pcr, "_KPCR", "Irql", &v) == NTKD_OK) {
        have = true;
        src = "_KPCR.Irql";
    }
    if (!have) {
        nk_cmd_error(o, "!irql: the IRQL of processor %u is not readable: %s", cpu, kerr(t, "no KPRCB/KPCR"));
        return NTKD_E_NOTFOUND;
    }
    nk_printf(o, "Debugger saved IRQL for processor 0x%x -- %llu (%s)\n", cpu, (unsigned long long)v,
              irql_name(t, (unsigned)v));
    nk_json_int(o, NULL, "processor", cpu);
    nk_json_int(o, NULL, "irql", (int64_t)v);
    nk_json_str(o, NULL, "name", irql_name(t, (unsigned)v));
    nk_json_str(o, NULL, "source", src);
    kclr(t);
    return NTKD_OK;
}

/* ---- !list ---------------------------------------------------------------------------------- */

/* Replaces every @$extret / $extret in cmd by the address (hex). */
static char *subst_extret(const char *cmd, uint64_t addr)
{
    char num[24];
    snprintf(num, sizeof num, "0x%llx", (unsigned long long)addr);
    size_t cap = strlen(cmd) * 2 + 64, n = 0;
    char *out = malloc(cap);
    if (!out) return NULL;
    for (const char *p = cmd; *p;) {
        size_t skip = 0;
        if (!strncasecmp(p, "@$extret", 8)) skip = 8;
        else if (!strncasecmp(p, "$extret", 7)) skip = 7;
        size_t add = skip ? strlen(num) : 1;
        if (n + add + 1 > cap) {
            cap = cap * 2 + add + 1;
            char *nb = realloc(out, cap);
            if (!nb) {
                free(out);
                return NULL;
            }
            out = nb;
        }
        if (skip) {
            memcpy(out + n, num, add);
            n += add;
            p += skip;
        } else {
            out[n++] = *p++;
        }
    }
    out[n] = 0;
    return out;
}

static bool has_extret(const char *s)
{
    for (; *s; s++)
        if (!strncasecmp(s, "$extret", 7)) return true;
    return false;
}

/* Runs one command line through the table, its output into `o` (JSON: under `jobj`). */
static void run_nested(nk_cmd_env *e, const char *line, json_object *jobj)
{
    const char *s = nk_skip_ws(line);
    char name[64];
    size_t n = 0;
    if (*s == '?' || *s == '|' || *s == '~') {
        name[n++] = *s++;
        if (name[0] == '?' && *s == '?') name[n++] = *s++;
    } else {
        while (*s && !isspace((unsigned char)*s) && *s != '"' && n + 1 < sizeof name) name[n++] = *s++;
    }
    name[n] = 0;
    nk_out sub_o = {.f = e->o->f, .json = e->o->json, .root = jobj};
    nk_json_str(&sub_o, jobj, "command", nk_skip_ws(line));
    const nk_cmd *c = name[0] ? nk_cmd_find(name) : NULL;
    if (!c) {
        nk_cmd_error(&sub_o, "Unknown command: '%s'", name);
        return;
    }
    if (c->fn == cmd_list) {
        nk_cmd_error(&sub_o, "!list: nested !list is not supported");
        return;
    }
    if ((c->flags & NK_CMD_USER) && ntkd_is_kernel(e->t)) {
        nk_cmd_error(&sub_o, "%s: only for user-mode targets", name);
        return;
    }
    nk_cmd_env sub = *e;
    sub.o = &sub_o;
    sub.name = c->name;
    nk_status st = c->fn(&sub, nk_skip_ws(s));
    nk_json_bool(&sub_o, jobj, "ok", st == NTKD_OK && !sub_o.failed);
    if (sub.quit) e->quit = true;
}

nk_status cmd_list(nk_cmd_env *e, const char *a)
{
    ntkd_target *t = e->t;
    nk_out *o = e->o;
    const char *s = nk_skip_ws(a);
    char opts[4096], err[256], a1[24];
    opts[0] = 0;
    if (*s == '"') s = nk_next_word(s, opts, sizeof opts);
    /* options: -e -m N -t Type.Field -x "cmd" -a "args" */
    bool echo = false;
    uint64_t maxn = 0x10000, next_off = 0;
    char cmd[2048] = "", extra[512] = "", inner_addr[2048] = "";
    const char *p = opts;
    while (*nk_skip_ws(p)) {
        char w[2048];
        p = nk_next_word(p, w, sizeof w);
        if (!strcmp(w, "-e")) echo = true;
        else if (!strcmp(w, "-x")) p = nk_next_word(p, cmd, sizeof cmd);
        else if (!strcmp(w, "-a")) p = nk_next_word(p, extra, sizeof extra);
        else if (!strcmp(w, "-m")) {
            p = nk_next_word(p, w, sizeof w);
            if (!eval_word(t, w, &maxn, err, sizeof err) || !maxn) {
                nk_cmd_error(o, "!list: bad -m count '%s'", w);
                return NTKD_E_ARG;
            }
        } else if (!strcmp(w, "-t")) {
            p = nk_next_word(p, w, sizeof w);
            char *bang = strchr(w, '!');
            char *ty = bang ? bang + 1 : w;
            char *dot = strchr(ty, '.');
            if (!dot) {
                nk_cmd_error(o, "!list: -t needs Type.Field (the field holding the next pointer)");
                return NTKD_E_ARG;
            }
            *dot = 0;
            kclr(t);
            if (nk_k_offset(t, ty, dot + 1, &next_off) != NTKD_OK) {
                nk_cmd_error(o, "!list: %s", kerr(t, "unknown field"));
                return NTKD_E_ARG;
            }
        } else if (w[0] != '-' && !inner_addr[0]) {
            /* the start address may sit inside the quoted options (as WinDbg allows) */
            snprintf(inner_addr, sizeof inner_addr, "%s", w);
        } else {
            nk_cmd_error(o, "!list: unknown option '%s' (-e, -m max, -t Type.Field, -x \"cmd\", -a \"args\")", w);
            return NTKD_E_ARG;
        }
    }
    s = nk_skip_ws(s);
    if (!*s) s = inner_addr;
    else if (inner_addr[0]) {
        nk_cmd_error(o, "!list: two start addresses ('%s' and '%s')", inner_addr, s);
        return NTKD_E_ARG;
    }
    if (!*s) {
        nk_cmd_error(o, "!list: a start address is required");
        return NTKD_E_ARG;
    }
    uint64_t start;
    if (!eval_word(t, s, &start, err, sizeof err)) {
        nk_cmd_error(o, "!list: bad address '%s' (%s)", s, err);
        return NTKD_E_ARG;
    }
    if (maxn > NK_K_MAX_LIST) maxn = NK_K_MAX_LIST;
    if (!cmd[0]) snprintf(cmd, sizeof cmd, "dp");
    bool has_ref = has_extret(cmd);
    nk_json_u64(o, NULL, "start", start);
    json_object *ja = nk_json_arr(o, NULL, "entries");
    nk_u64set vs = {0};
    uint64_t cur = start;
    size_t count = 0;
    nk_status ret = NTKD_OK;
    char stop[256] = "";
    while (1) {
        if (count >= maxn) {
            snprintf(stop, sizeof stop, "stopped after %llu entries (-m)", (unsigned long long)maxn);
            break;
        }
        if (!nk_u64set_add(&vs, cur)) {
            snprintf(stop, sizeof stop, "cycle: entry %s was already visited", bt(t, a1, cur));
            ret = NTKD_E_FORMAT;
            break;
        }
        char line[4096];
        if (has_ref) snprintf(line, sizeof line, "%s%s%s", cmd, extra[0] ? " " : "", extra);
        else snprintf(line, sizeof line, "%s 0x%llx%s%s", cmd, (unsigned long long)cur, extra[0] ? " " : "", extra);
        char *run = subst_extret(line, cur);
        if (!run) return NTKD_E_NOMEM;
        if (echo) nk_printf(o, "%s\n", line);
        json_object *je = nk_json_obj(o, ja, NULL);
        nk_json_u64(o, je, "address", cur);
        run_nested(e, run, je);
        free(run);
        nk_printf(o, "\n");
        count++;
        uint64_t next;
        if (nk_read_ptr(t, cur + next_off, &next) != NTKD_OK) {
            snprintf(stop, sizeof stop, "the next pointer at %s is not in the dump", bt(t, a1, cur + next_off));
            ret = NTKD_E_NOTPRESENT;
            break;
        }
        if (next == 0 || next == start) break;
        cur = next;
    }
    nk_u64set_free(&vs);
    nk_json_int(o, NULL, "count", (int64_t)count);
    if (stop[0]) {
        if (ret != NTKD_OK) nk_cmd_error(o, "!list: %s", stop);
        else {
            nk_printf(o, "(%s)\n", stop);
            nk_json_str(o, NULL, "stop", stop);
        }
    }
    return ret;
}
