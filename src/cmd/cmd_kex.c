/* cmd_kex.c: executive and scheduler state in WinDbg's shapes.
 *
 *   !locks [-v] [addr]   held ERESOURCEs (every one with -v, one with addr): owners (an owner
 *                        pointer set by ExSetResourceOwnerPointer is resolved to the thread
 *                        whose stack holds it), waiter counts, contention, the threads found
 *                        waiting; then the deadlock cycles of the wait-for graph
 *   !dpcs [cpu]          the DPC queues (normal, threaded) of every processor or one, and the
 *                        DPC running where the build records it
 *   !timer               the timer table: each KTIMER's due time, period and DPC routine
 *
 * The facts come from analysis/kdiag.c (shared with `!analyze -v`); this file only prints them,
 * text and JSON in the same pass. */
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "analysis/kdiag.h"
#include "cmd/cmd.h"
#include "expr/expr.h"




/* ---- !locks --------------------------------------------------------------------------------- */

static void print_thread_row(nk_out *o, const char *indent, const uint64_t *v, size_t n, bool is64)
{
    for (size_t i = 0; i < n; i++) {
        char b[24];
        nk_printf(o, "%s%s%s", i % 4 ? " " : indent, nk_fmt_hex(b, v[i], is64), i % 4 == 3 || i + 1 == n ? "\n" : "");
    }
}

static void print_resource(nk_cmd_env *e, const nk_kd_res *r, json_object *arr, bool verbose)
{
    nk_out *o = e->o;
    ntkd_target *t = e->t;
    const bool is64 = t->d.is64;
    char b[24], b2[24];
    json_object *jr = nk_json_obj(o, arr, NULL);
    nk_json_u64(o, jr, "address", r->addr);
    if (r->sym[0]) nk_json_str(o, jr, "symbol", r->sym);
    nk_json_int(o, jr, "active_count", r->active_count);
    nk_json_bool(o, jr, "held", r->active_count != 0);
    nk_json_bool(o, jr, "exclusive", r->exclusive);
    nk_json_u64(o, jr, "flag", r->flag);
    nk_json_int(o, jr, "contention_count", r->contention);
    nk_json_int(o, jr, "number_of_shared_waiters", r->n_shared_waiters);
    nk_json_int(o, jr, "number_of_exclusive_waiters", r->n_excl_waiters);
    if (r->sym[0]) nk_printf(o, "\nResource @ %s (0x%s)", r->sym, nk_fmt_hex(b, r->addr, is64));
    else nk_printf(o, "\nResource @ 0x%s", nk_fmt_hex(b, r->addr, is64));
    size_t holders = 0;
    for (size_t i = 0; i < r->nowners; i++) holders += !r->owners[i].waiting;
    if (!r->active_count) nk_printf(o, "    Available\n");
    else if (r->exclusive) nk_printf(o, "    Exclusively owned\n");
    else nk_printf(o, "    Shared %zu owning threads\n", holders);
    if (r->contention) nk_printf(o, "    Contention Count = %u\n", r->contention);
    if (r->n_shared_waiters) nk_printf(o, "    NumberOfSharedWaiters = %u\n", r->n_shared_waiters);
    if (r->n_excl_waiters) nk_printf(o, "    NumberOfExclusiveWaiters = %u\n", r->n_excl_waiters);
    /* owners, WinDbg's "Threads:" line: thread-count, <*> for the exclusive owner */
    json_object *jo = nk_json_arr(o, jr, "owners");
    size_t col = 0;
    for (size_t i = 0; i < r->nowners; i++) {
        const nk_kd_owner *w = &r->owners[i];
        json_object *x = nk_json_obj(o, jo, NULL);
        nk_json_u64(o, x, "owner", w->raw);
        if (w->thread) nk_json_u64(o, x, "thread", w->thread);
        nk_json_int(o, x, "count", w->count);
        nk_json_bool(o, x, "exclusive", w->exclusive);
        nk_json_bool(o, x, "owner_pointer", w->owner_ptr);
        nk_json_bool(o, x, "waiting", w->waiting);
        nk_printf(o, "%s%s-%02x%s", col == 0 ? (i == 0 ? "     Threads: " : "              ") : " ", nk_fmt_hex(b, w->raw, is64),
                  w->count & 0xff, w->exclusive ? "<*>" : "");
        col++;
        if (w->owner_ptr) {
            nk_printf(o, " *** Unknown owner, possibly FileSystem\n");
            if (w->thread)
                nk_printf(o, "              (ntkd: %s is on the kernel stack of thread %s: that thread owns it)\n",
                          nk_fmt_hex(b, w->raw & ~3ull, is64), nk_fmt_hex(b2, w->thread, is64));
            else
                nk_printf(o, "              (ntkd: %s is on no thread's kernel stack)\n", nk_fmt_hex(b, w->raw & ~3ull, is64));
            col = 0;
        } else if (col == 4 || i + 1 == r->nowners) {
            nk_printf(o, "\n");
            col = 0;
        }
    }
    if (r->active_count && !r->nowners) nk_printf(o, "     Threads: (no owner entries found)\n");
    json_object *js = nk_json_arr(o, jr, "waiting_shared");
    for (size_t i = 0; i < r->nswait; i++)
        if (js) json_object_array_add(js, nk_json_hex(r->swait[i]));
    json_object *jx = nk_json_arr(o, jr, "waiting_exclusive");
    for (size_t i = 0; i < r->nxwait; i++)
        if (jx) json_object_array_add(jx, nk_json_hex(r->xwait[i]));
    if (r->nswait) {
        nk_printf(o, "     Threads Waiting On Shared Access:\n");
        print_thread_row(o, "              ", r->swait, r->nswait, is64);
    }
    if (r->nxwait || r->n_excl_waiters) {
        nk_printf(o, "     Threads Waiting On Exclusive Access:\n");
        print_thread_row(o, "              ", r->xwait, r->nxwait, is64);
    }
    if (r->note[0]) {
        nk_printf(o, "     (%s)\n", r->note);
        nk_json_str(o, jr, "warning", r->note);
    }
    (void)verbose;
}

nk_status cmd_locks(nk_cmd_env *e, const char *a)
{
    nk_out *o = e->o;
    ntkd_target *t = e->t;
    bool verbose = false;
    uint64_t only = 0;
    const char *s = nk_skip_ws(a);
    while (*s) {
        if (s[0] == '-' || s[0] == '/') {
            char w[32];
            s = nk_skip_ws(nk_next_word(s, w, sizeof w));
            if (!strcasecmp(w + 1, "v")) verbose = true;
            else if (!strcasecmp(w + 1, "p") || !strcasecmp(w + 1, "d")) { /* accepted, no effect */ }
            else {
                nk_cmd_error(o, "!locks: unknown option '%s' (use -v or an address)", w);
                return NTKD_E_ARG;
            }
            continue;
        }
        char err[160] = "";
        const char *end = s;
        if (nk_eval(t, s, &end, &only, err, sizeof err) != NTKD_OK || end == s) {
            nk_cmd_error(o, "!locks: %s", err[0] ? err : "bad address");
            return NTKD_E_ARG;
        }
        if (!only) {
            nk_cmd_error(o, "!locks: the address is 0");
            return NTKD_E_ARG;
        }
        s = nk_skip_ws(end);
    }
    nk_kd_locks l;
    nk_status st = nk_kd_locks_scan(t, only, verbose, &l);
    if (st != NTKD_OK) {
        nk_cmd_error(o, "!locks: %s", nk_cmd_errmsg(t));
        return st;
    }
    const bool is64 = t->d.is64;
    nk_printf(o, "**** DUMP OF ALL RESOURCE OBJECTS ****\nKD: Scanning for held locks..\n");
    json_object *arr = nk_json_arr(o, NULL, "resources");
    for (size_t i = 0; i < l.nres; i++) print_resource(e, &l.res[i], arr, verbose);
    nk_printf(o, "KD: Scanning for held locks.\n\n");
    nk_printf(o, "%zu total locks, %zu locks currently held\n", l.total, l.held);
    nk_json_int(o, NULL, "total_locks", (int64_t)l.total);
    nk_json_int(o, NULL, "held_locks", (int64_t)l.held);
    nk_json_bool(o, NULL, "waiters_scanned", l.threads_ok);
    nk_json_int(o, NULL, "threads_scanned", (int64_t)l.nthreads);
    /* the deadlock section */
    json_object *jd = nk_json_arr(o, NULL, "deadlocks");
    nk_printf(o, "\nDeadlock:\n");
    if (!l.threads_ok)
        nk_printf(o, "    not determined: the threads' waits could not be read\n");
    else if (!l.ncycles)
        nk_printf(o, "    none found (%zu threads scanned for waits on held resources)\n", l.nthreads);
    for (size_t c = 0; c < l.ncycles; c++) {
        const nk_kd_cycle *cy = &l.cycles[c];
        char b1[24], b2[24], b3[24];
        json_object *jc = nk_json_obj(o, jd, NULL);
        json_object *js = nk_json_arr(o, jc, "steps");
        nk_json_bool(o, jc, "self", cy->n == 1);
        nk_printf(o, "    Cycle %zu (%zu thread%s):\n", c + 1, cy->n, cy->n == 1 ? "" : "s");
        for (size_t k = 0; k < cy->n; k++) {
            const nk_kd_step *p = &cy->steps[k];
            uint64_t holder = cy->steps[(k + 1) % cy->n].thread;
            json_object *x = nk_json_obj(o, js, NULL);
            nk_json_u64(o, x, "thread", p->thread);
            nk_json_u64(o, x, "resource", p->resource);
            nk_json_u64(o, x, "owner", holder);
            nk_json_bool(o, x, "owner_pointer", p->via_owner_ptr);
            if (cy->n == 1)
                nk_printf(o, "      thread %s waits for resource %s, which it owns itself%s\n", nk_fmt_hex(b1, p->thread, is64),
                          nk_fmt_hex(b2, p->resource, is64),
                          p->via_owner_ptr ? " (owner pointer on its own stack: ExSetResourceOwnerPointer)" : "");
            else
                nk_printf(o, "      thread %s waits for resource %s owned by thread %s%s\n", nk_fmt_hex(b1, p->thread, is64),
                          nk_fmt_hex(b2, p->resource, is64), nk_fmt_hex(b3, holder, is64),
                          p->via_owner_ptr ? " (through an owner pointer on its stack)" : "");
        }
    }
    nk_cmd_warnings(o, &l.why, 32);
    nk_kd_locks_free(&l);
    return NTKD_OK;
}

/* ---- !dpcs ---------------------------------------------------------------------------------- */

nk_status cmd_dpcs(nk_cmd_env *e, const char *a)
{
    nk_out *o = e->o;
    ntkd_target *t = e->t;
    int cpu = -1;
    const char *s = nk_skip_ws(a);
    if (*s) {
        char w[32];
        const char *rest = nk_skip_ws(nk_next_word(s, w, sizeof w));
        char *end = NULL;
        unsigned long v = strtoul(w, &end, 10);
        if (!w[0] || !end || *end || v > 4096 || *rest) {
            nk_cmd_error(o, "!dpcs: expected a processor number, got '%s'", s);
            return NTKD_E_ARG;
        }
        cpu = (int)v;
    }
    nk_kd_dpcs d;
    nk_status st = nk_kd_dpcs_scan(t, cpu, &d);
    if (st != NTKD_OK) {
        nk_cmd_error(o, "!dpcs: %s", nk_cmd_errmsg(t));
        return st;
    }
    const bool is64 = t->d.is64;
    char b1[24], b2[24], sym[256], mod[64], img[64];
    json_object *jd = nk_json_arr(o, NULL, "dpcs");
    if (d.ndpc) nk_printf(o, "CPU Type      KDPC       Function\n");
    for (size_t i = 0; i < d.ndpc; i++) {
        const nk_kd_dpc *p = &d.dpc[i];
        nk_kd_symbol(t, p->routine, sym, sizeof sym);
        nk_kd_module(t, p->routine, mod, sizeof mod);
        nk_kd_image(t, p->routine, img, sizeof img);
        nk_printf(o, "%2u: %-8s: 0x%s 0x%s %s\n", p->cpu, p->threaded ? "Threaded" : "Normal", nk_fmt_hex(b1, p->kdpc, is64),
                  nk_fmt_hex(b2, p->routine, is64), p->routine ? sym : "(no routine)");
        json_object *x = nk_json_obj(o, jd, NULL);
        nk_json_int(o, x, "cpu", p->cpu);
        nk_json_str(o, x, "type", p->threaded ? "Threaded" : "Normal");
        nk_json_u64(o, x, "kdpc", p->kdpc);
        nk_json_u64(o, x, "routine", p->routine);
        nk_json_str(o, x, "symbol", sym);
        if (mod[0]) nk_json_str(o, x, "module", mod);
        if (img[0]) nk_json_str(o, x, "image", img);
        nk_json_u64(o, x, "context", p->context);
    }
    if (!d.ndpc && cpu >= 0) nk_printf(o, "No DPCs queued on processor %d\n", cpu);
    else if (!d.ndpc) nk_printf(o, "No DPCs queued\n");
    /* the running DPC per processor */
    json_object *jc = nk_json_arr(o, NULL, "processors");
    bool header = false;
    for (size_t i = 0; i < d.ncpus; i++) {
        const nk_kd_cpu *c = &d.cpus[i];
        json_object *x = nk_json_obj(o, jc, NULL);
        nk_json_int(o, x, "cpu", c->cpu);
        nk_json_u64(o, x, "prcb", c->prcb);
        nk_json_int(o, x, "queued", (int64_t)c->n);
        if (c->has_dpc_active) nk_json_bool(o, x, "dpc_routine_active", c->dpc_active);
        if (c->active_dpc) nk_json_u64(o, x, "active_dpc", c->active_dpc);
        if (c->active_routine) {
            nk_kd_symbol(t, c->active_routine, sym, sizeof sym);
            nk_kd_image(t, c->active_routine, img, sizeof img);
            nk_json_u64(o, x, "active_routine", c->active_routine);
            nk_json_str(o, x, "active_symbol", sym);
            if (img[0]) nk_json_str(o, x, "active_image", img);
            nk_json_str(o, x, "active_source", c->active_src);
            if (!header) nk_printf(o, "\nRunning DPCs:\n");
            header = true;
            nk_printf(o, "%2u: 0x%s %s%s%s%s  (%s)\n", c->cpu, nk_fmt_hex(b1, c->active_routine, is64), sym, img[0] ? " [" : "", img,
                      img[0] ? "]" : "", c->active_src);
        } else if (c->dpc_active) {
            if (!header) nk_printf(o, "\nRunning DPCs:\n");
            header = true;
            nk_printf(o, "%2u: a DPC routine is running (KPRCB DpcRoutineActive); this build does not record which\n",
                      c->cpu);
        }
    }
    nk_cmd_warnings(o, &d.why, 32);
    nk_kd_dpcs_free(&d);
    return NTKD_OK;
}

/* ---- !timer --------------------------------------------------------------------------------- */

nk_status cmd_timer(nk_cmd_env *e, const char *a)
{
    nk_out *o = e->o;
    ntkd_target *t = e->t;
    if (*nk_skip_ws(a)) {
        nk_cmd_error(o, "!timer: unexpected argument '%s'", nk_skip_ws(a));
        return NTKD_E_ARG;
    }
    nk_kd_timers tt;
    nk_status st = nk_kd_timers_scan(t, &tt);
    if (st != NTKD_OK) {
        nk_cmd_error(o, "!timer: %s", nk_cmd_errmsg(t));
        return st;
    }
    const bool is64 = t->d.is64;
    char b1[24], b2[24], sym[256], img[64];
    nk_printf(o, "Dump system timers\n\n");
    json_object *jt = nk_json_arr(o, NULL, "timers");
    int last_cpu = -2;
    for (size_t i = 0; i < tt.n; i++) {
        const nk_kd_timer *p = &tt.tm[i];
        if (p->cpu != last_cpu) {
            if (p->cpu >= 0) nk_printf(o, "PROCESSOR %d (nt!_KTIMER_TABLE)\n", p->cpu);
            else nk_printf(o, "nt!KiTimerTableListHead\n");
            nk_printf(o, "List Timer%*s Interrupt Low/High  Period     DPC/routine\n", is64 ? 14 : 6, "");
            last_cpu = p->cpu;
        }
        char per[32] = "";
        if (p->period) snprintf(per, sizeof per, "%ums", p->period);
        nk_printf(o, "%4u %s  %08x %08x  %-10s ", p->table * 256 + p->slot, nk_fmt_hex(b1, p->addr, is64), (unsigned)(p->due & 0xffffffffu),
                  (unsigned)(p->due >> 32), per);
        json_object *x = nk_json_obj(o, jt, NULL);
        nk_json_u64(o, x, "timer", p->addr);
        nk_json_int(o, x, "cpu", p->cpu);
        nk_json_int(o, x, "list", p->table * 256 + p->slot);
        nk_json_u64(o, x, "due_time", p->due);
        nk_json_int(o, x, "period_ms", p->period);
        if (p->dpc) {
            nk_json_u64(o, x, p->dpc_unknown ? "dpc_stored" : "dpc", p->dpc);
            nk_json_bool(o, x, "dpc_encoded", p->dpc_encoded || p->dpc_unknown);
        }
        if (p->dpc_unknown) {
            nk_json_bool(o, x, "dpc_undecodable", true);
            nk_printf(o, "(DPC stored encoded as %s: nt!KiWaitNever/KiWaitAlways are not in the dump)\n", nk_fmt_hex(b2, p->dpc, is64));
        } else if (p->routine) {
            nk_kd_symbol(t, p->routine, sym, sizeof sym);
            nk_kd_image(t, p->routine, img, sizeof img);
            nk_json_u64(o, x, "routine", p->routine);
            nk_json_str(o, x, "symbol", sym);
            if (img[0]) nk_json_str(o, x, "image", img);
            nk_printf(o, "%s (DPC @ %s)\n", sym, nk_fmt_hex(b2, p->dpc, is64));
        } else if (p->dpc) {
            nk_printf(o, "(DPC @ %s: routine unreadable)\n", nk_fmt_hex(b2, p->dpc, is64));
        } else {
            nk_printf(o, "(no DPC)\n");
        }
    }
    nk_printf(o, "\nTotal Timers: %zu\n", tt.n);
    nk_json_int(o, NULL, "total_timers", (int64_t)tt.n);
    nk_cmd_warnings(o, &tt.why, 32);
    nk_kd_timers_free(&tt);
    return NTKD_OK;
}
