/* kdiag.c: executive resources and deadlocks, DPC queues, timers, and the kernel facts of
 * `!analyze -v` (see kdiag.h). Everything is read through the kernel-objects layer with the
 * offsets of nt's own types; the forms that differ between builds are chosen by asking which
 * fields the build has (nk_k_has), never by build number.
 *
 * Facts used (public: Windows Internals, the WDK documentation, ReactOS headers, WinDbg output):
 *  - ERESOURCE: held when ActiveCount != 0; Flag bit 0x80 (ResourceOwnedExclusive) marks an
 *    exclusive owner, which is the inline entry (OwnerEntry, or OwnerThreads[0] on XP). The
 *    owner table's entry 0 holds TableSize; owners follow it. A pending shared acquire takes
 *    an owner entry before it waits on SharedWaiters, so an owner entry whose thread waits on
 *    the resource is a waiter, not a holder. ExSetResourceOwnerPointer stores an arbitrary
 *    pointer with the low two bits set in place of the thread (WinDbg: "Unknown owner");
 *    drivers usually pass a stack address, so the thread whose kernel stack holds it is the
 *    owner.
 *  - DPC queues: KPRCB.DpcData[0] is the normal queue, DpcData[1] the threaded one; KDPC is
 *    linked through DpcListEntry (LIST_ENTRY up to Windows 8, SINGLE_LIST_ENTRY from 8.1).
 *  - KTIMER.Dpc on 64-bit Windows 8 and later is stored encoded:
 *    stored = KiWaitNever ^ ror64(timer ^ bswap64(KiWaitAlways ^ dpc), KiWaitNever & 63).
 *  - Bug check 0x9F parameter 1 = 3: P2 the PDO, P4 the blocked IRP. 0x133 parameter 1 = 0:
 *    one DPC exceeded its time, 1: the queue as a whole did. */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "analysis/analyze.h"
#include "analysis/kdiag.h"
#include "analysis/kdiag_verifier.h"
#include "code/unwind.h"
#include "kobj/kobj.h"
#include "mem/mem.h"
#include "sym/sym.h"
#include "sym/sym_int.h"

#define KTHREAD_STATE_WAITING 5
#define MAX_WAIT_OBJS 64
#define MAX_THREADS_SCANNED 200000u
#define MAX_EDGES 200000u
#define MAX_CYCLES 64u
#define MAX_CYCLE_LEN 64u
#define MAX_DPCS_PER_QUEUE 65536u
#define MAX_TIMERS 200000u
#define RESOURCE_OWNED_EXCLUSIVE 0x80u

static const char *ctx_err(ntkd_target *t)
{
    return t && t->ctx && t->ctx->errmsg[0] ? t->ctx->errmsg : "unknown error";
}

/* An address as WinDbg's extensions print it: 16 (or 8) hex digits, no separator. */
static uint64_t ptr_mask(ntkd_target *t)
{
    return t->d.is64 ? ~0ull : 0xffffffffull;
}

/* ---- symbols and modules -------------------------------------------------------------------- */

static const nk_smod *smod_at(ntkd_target *t, uint64_t addr)
{
    if (!addr) return NULL;
    ptrdiff_t i = nk_sym_module_of(t, addr);
    nk_symlayer *L = nk_symlayer_get(t);
    if (i < 0 || !L || (size_t)i >= L->nmods) return NULL;
    return &L->mods[i];
}

char *nk_kd_symbol(ntkd_target *t, uint64_t addr, char *buf, size_t len)
{
    if (!len) return buf;
    buf[0] = 0;
    if (addr && nk_sym_describe(t, addr, buf, len)) return buf;
    char b[24];
    snprintf(buf, len, "%s", nk_fmt_hex(b, addr, t->d.is64));
    return buf;
}

char *nk_kd_module(ntkd_target *t, uint64_t addr, char *buf, size_t len)
{
    if (!len) return buf;
    buf[0] = 0;
    const nk_smod *m = smod_at(t, addr);
    if (m && m->name) {
        snprintf(buf, len, "%s", m->name);
        return buf;
    }
    char d[256];
    if (addr && nk_sym_describe(t, addr, d, sizeof d)) {
        size_t n = strcspn(d, "!+");
        snprintf(buf, len, "%.*s", (int)(n < 200 ? n : 200), d);
    }
    return buf;
}

char *nk_kd_image(ntkd_target *t, uint64_t addr, char *buf, size_t len)
{
    if (!len) return buf;
    buf[0] = 0;
    const nk_smod *m = smod_at(t, addr);
    if (m && m->image_name) snprintf(buf, len, "%s", m->image_name);
    return buf;
}

/* ---- executive resources -------------------------------------------------------------------- */

typedef struct wpair {
    uint64_t obj, thread;
} wpair;

typedef struct tinfo {
    uint64_t thread, limit, base;
} tinfo;

typedef struct waits {
    wpair *p;
    size_t n, cap;
    tinfo *th;
    size_t nth, capth;
    bool ok;
} waits;

static int cmp_wpair(const void *a, const void *b)
{
    const wpair *x = a, *y = b;
    if (x->obj != y->obj) return x->obj < y->obj ? -1 : 1;
    if (x->thread != y->thread) return x->thread < y->thread ? -1 : 1;
    return 0;
}

/* Every waiting thread's wait objects (and every thread's stack range). */
static void scan_waits(ntkd_target *t, waits *w, nk_strbuf *why)
{
    nk_kproc *procs = NULL;
    size_t np = 0;
    nk_strbuf pw = {0};
    if (nk_k_processes(t, &procs, &np, &pw) != NTKD_OK && !np) {
        nk_sb_printf(why, "waiters unknown: the process list could not be walked (%s)\n",
                     pw.len ? pw.s : ctx_err(t));
        nk_sb_free(&pw);
        free(procs);
        return;
    }
    if (pw.len) nk_sb_printf(why, "process list: %s\n", pw.s);
    nk_sb_free(&pw);
    w->ok = true;
    for (size_t i = 0; i < np && w->nth < MAX_THREADS_SCANNED; i++) {
        nk_kthread *th = NULL;
        size_t nt = 0;
        nk_strbuf tw = {0};
        nk_k_threads(t, procs[i].addr, &th, &nt, &tw);
        if (tw.len) {
            char b[24];
            nk_sb_printf(why, "threads of process %s: %s\n", nk_fmt_hex(b, procs[i].addr, t->d.is64), tw.s);
        }
        nk_sb_free(&tw);
        for (size_t j = 0; j < nt && w->nth < MAX_THREADS_SCANNED; j++) {
            if (!nk_grow((void **)&w->th, &w->capth, w->nth + 1, sizeof *w->th)) break;
            w->th[w->nth++] = (tinfo){th[j].addr, th[j].stack_limit, th[j].stack_base};
            if (th[j].state != KTHREAD_STATE_WAITING) continue;
            uint64_t objs[MAX_WAIT_OBJS];
            size_t no = nk_k_wait_objects(t, th[j].addr, objs, MAX_WAIT_OBJS);
            for (size_t k = 0; k < no && k < MAX_WAIT_OBJS; k++) {
                if (!objs[k]) continue;
                if (!nk_grow((void **)&w->p, &w->cap, w->n + 1, sizeof *w->p)) break;
                w->p[w->n++] = (wpair){objs[k], th[j].addr};
            }
        }
        free(th);
    }
    if (w->nth >= MAX_THREADS_SCANNED) nk_sb_printf(why, "thread scan stopped after %u threads\n", MAX_THREADS_SCANNED);
    free(procs);
    nk_sort(w->p, w->n, sizeof *w->p, cmp_wpair);
}

/* Threads waiting on obj, appended to *arr. */
static void waiters_of(const waits *w, uint64_t obj, uint64_t **arr, size_t *n)
{
    if (!obj || !w->n) return;
    size_t lo = 0, hi = w->n;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        if (w->p[mid].obj < obj) lo = mid + 1;
        else hi = mid;
    }
    size_t cap = *n;
    for (size_t i = lo; i < w->n && w->p[i].obj == obj && *n < NK_KD_MAX_WAITERS; i++) {
        bool dup = false;
        for (size_t k = 0; k < *n && !dup; k++) dup = (*arr)[k] == w->p[i].thread;
        if (dup) continue;
        if (!nk_grow((void **)arr, &cap, *n + 1, sizeof **arr)) return;
        (*arr)[(*n)++] = w->p[i].thread;
    }
}

static bool in_list(const uint64_t *a, size_t n, uint64_t v)
{
    for (size_t i = 0; i < n; i++)
        if (a[i] == v) return true;
    return false;
}

/* The thread whose stack holds addr: the kernel-objects layer's answer, else the ranges the
 * wait scan collected. */
static uint64_t thread_of_stack(ntkd_target *t, const waits *w, uint64_t addr)
{
    uint64_t th = 0;
    if (nk_k_thread_of_stack(t, addr, &th) == NTKD_OK && th) return th;
    for (size_t i = 0; i < w->nth; i++)
        if (w->th[i].limit && addr >= w->th[i].limit && addr < w->th[i].base) return w->th[i].thread;
    return 0;
}

typedef struct res_layout {
    uint64_t entry_size;        /* sizeof(_OWNER_ENTRY) */
    const char *inline_field;   /* "OwnerEntry" or "OwnerThreads" */
    uint64_t inline_off;
    unsigned ninline;
    bool has_table;
} res_layout;

static nk_status res_layout_get(ntkd_target *t, res_layout *L)
{
    memset(L, 0, sizeof *L);
    if (nk_k_sizeof(t, "_OWNER_ENTRY", &L->entry_size) != NTKD_OK || !L->entry_size || L->entry_size > 64)
        return nk_fail(t->ctx, NTKD_E_NOTFOUND, "_OWNER_ENTRY is not in this build's types");
    nk_kfield f;
    if (nk_k_has(t, "_ERESOURCE", "OwnerEntry") && nk_k_field(t, "_ERESOURCE", "OwnerEntry", &f) == NTKD_OK) {
        L->inline_field = "OwnerEntry";
        L->inline_off = f.off;
        L->ninline = 1;
    } else if (nk_k_has(t, "_ERESOURCE", "OwnerThreads") && nk_k_field(t, "_ERESOURCE", "OwnerThreads", &f) == NTKD_OK) {
        L->inline_field = "OwnerThreads";
        L->inline_off = f.off;
        uint64_t n = f.size / L->entry_size;
        L->ninline = (unsigned)(n ? (n > 4 ? 4 : n) : 1);
    } else {
        return nk_fail(t->ctx, NTKD_E_NOTFOUND,
                       "_ERESOURCE has neither OwnerEntry nor OwnerThreads in this build's types");
    }
    L->has_table = nk_k_has(t, "_ERESOURCE", "OwnerTable");
    return NTKD_OK;
}

static void add_owner(nk_kd_res *r, uint64_t raw, uint32_t count, bool excl_entry, size_t *cap)
{
    if (r->nowners >= NK_KD_MAX_OWNERS) return;
    if (!nk_grow((void **)&r->owners, cap, r->nowners + 1, sizeof *r->owners)) return;
    nk_kd_owner *o = &r->owners[r->nowners++];
    memset(o, 0, sizeof *o);
    o->raw = raw;
    o->count = count;
    o->exclusive = excl_entry;
    o->owner_ptr = (raw & 3) != 0;
    o->thread = o->owner_ptr ? 0 : raw;
}

static void res_note(nk_kd_res *r, const char *fmt, uint64_t a, bool is64)
{
    if (r->note[0]) return;
    char b[24];
    snprintf(r->note, sizeof r->note, fmt, nk_fmt_hex(b, a, is64));
}

/* Reads one ERESOURCE (owners; waiters and resolution come later). false when its header is
 * unreadable. */
static bool res_read(ntkd_target *t, const res_layout *L, uint64_t addr, nk_kd_res *r)
{
    memset(r, 0, sizeof *r);
    r->addr = addr;
    const bool is64 = t->d.is64;
    uint64_t v;
    if (nk_k_read(t, addr, "_ERESOURCE", "ActiveCount", &v) != NTKD_OK) {
        snprintf(r->note, sizeof r->note, "%.190s", ctx_err(t));
        return false;
    }
    r->active_count = (int16_t)(uint16_t)v;
    r->flag = (uint32_t)nk_k_get(t, addr, "_ERESOURCE", "Flag", 0);
    r->exclusive = (r->flag & RESOURCE_OWNED_EXCLUSIVE) != 0;
    r->contention = (uint32_t)nk_k_get(t, addr, "_ERESOURCE", "ContentionCount", 0);
    r->n_shared_waiters = (uint32_t)nk_k_get(t, addr, "_ERESOURCE", "NumberOfSharedWaiters", 0);
    r->n_excl_waiters = (uint32_t)nk_k_get(t, addr, "_ERESOURCE", "NumberOfExclusiveWaiters", 0);
    r->shared_obj = nk_k_get(t, addr, "_ERESOURCE", "SharedWaiters", 0);
    r->excl_obj = nk_k_get(t, addr, "_ERESOURCE", "ExclusiveWaiters", 0);
    size_t cap = 0;
    /* the inline entries */
    for (unsigned i = 0; i < L->ninline; i++) {
        uint64_t e = addr + L->inline_off + i * L->entry_size, raw = 0, cnt = 0;
        if (nk_k_read(t, e, "_OWNER_ENTRY", "OwnerThread", &raw) != NTKD_OK) {
            res_note(r, "owner entry at %s is unreadable", e, is64);
            break;
        }
        cnt = nk_k_get(t, e, "_OWNER_ENTRY", "OwnerCount", 0);
        raw &= ptr_mask(t);
        if (!raw || (!cnt && !r->active_count)) continue;
        add_owner(r, raw, (uint32_t)cnt, r->exclusive && i == 0, &cap);
    }
    /* the owner table: entry 0 holds its size */
    uint64_t table = L->has_table ? nk_k_get(t, addr, "_ERESOURCE", "OwnerTable", 0) & ptr_mask(t) : 0;
    if (table) {
        uint64_t size = 0, raw0 = 0;
        if (nk_k_read(t, table, "_OWNER_ENTRY", "TableSize", &size) != NTKD_OK) {
            res_note(r, "owner table at %s is unreadable", table, is64);
        } else {
            size &= 0xffffffffull;
            if (size > NK_KD_MAX_OWNERS) {
                char b[24];
                snprintf(r->note, sizeof r->note, "owner table at %s claims %llu entries: read the first %u",
                         nk_fmt_hex(b, table, is64), (unsigned long long)size, NK_KD_MAX_OWNERS);
                size = NK_KD_MAX_OWNERS;
            }
            /* entry 0 counts only when it names a thread (some writers use it) */
            if (nk_k_read(t, table, "_OWNER_ENTRY", "OwnerThread", &raw0) == NTKD_OK && (raw0 & ptr_mask(t)))
                add_owner(r, raw0 & ptr_mask(t), 1, false, &cap);
            for (uint64_t i = 1; i < size; i++) {
                uint64_t e = table + i * L->entry_size, raw = 0;
                if (nk_k_read(t, e, "_OWNER_ENTRY", "OwnerThread", &raw) != NTKD_OK) {
                    res_note(r, "owner table entry at %s is unreadable", e, is64);
                    break;
                }
                raw &= ptr_mask(t);
                uint64_t cnt = nk_k_get(t, e, "_OWNER_ENTRY", "OwnerCount", 0);
                if (raw && cnt) add_owner(r, raw, (uint32_t)cnt, false, &cap);
            }
        }
    }
    return true;
}

/* Waiters (from the wait scan), owner-pointer resolution and pending entries. */
static void res_resolve(ntkd_target *t, const waits *w, nk_kd_res *r)
{
    waiters_of(w, r->shared_obj, &r->swait, &r->nswait);
    waiters_of(w, r->excl_obj, &r->xwait, &r->nxwait);
    for (size_t i = 0; i < r->nowners; i++) {
        nk_kd_owner *o = &r->owners[i];
        if (o->owner_ptr) {
            o->thread = thread_of_stack(t, w, o->raw & ~3ull);
            continue;
        }
        if (!o->exclusive && (in_list(r->swait, r->nswait, o->thread) || in_list(r->xwait, r->nxwait, o->thread)))
            o->waiting = true;
    }
}

static void res_free(nk_kd_res *r)
{
    free(r->owners);
    free(r->swait);
    free(r->xwait);
}

void nk_kd_locks_free(nk_kd_locks *l)
{
    if (!l) return;
    for (size_t i = 0; i < l->nres; i++) res_free(&l->res[i]);
    free(l->res);
    for (size_t i = 0; i < l->ncycles; i++) free(l->cycles[i].steps);
    free(l->cycles);
    nk_sb_free(&l->why);
    memset(l, 0, sizeof *l);
}

/* ---- the wait-for graph ---------------------------------------------------------------------- */

typedef struct edge {
    uint64_t from, to, res;
    bool via_ptr;
} edge;

static int cmp_edge(const void *a, const void *b)
{
    const edge *x = a, *y = b;
    if (x->from != y->from) return x->from < y->from ? -1 : 1;
    if (x->to != y->to) return x->to < y->to ? -1 : 1;
    return x->res < y->res ? -1 : x->res > y->res;
}

/* First edge leaving `from` (edges sorted). */
static size_t edges_from(const edge *e, size_t n, uint64_t from)
{
    size_t lo = 0, hi = n;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        if (e[mid].from < from) lo = mid + 1;
        else hi = mid;
    }
    return lo;
}

static bool cycle_known(const nk_kd_locks *l, const nk_kd_step *s, size_t n)
{
    for (size_t i = 0; i < l->ncycles; i++) {
        if (l->cycles[i].n != n) continue;
        bool same = true;
        for (size_t k = 0; k < n && same; k++)
            same = l->cycles[i].steps[k].thread == s[k].thread && l->cycles[i].steps[k].resource == s[k].resource;
        if (same) return true;
    }
    return false;
}

/* Records the cycle path[from..depth) closing with edge `close`; rotated so that the lowest
 * thread address comes first (one record per cycle). */
static void add_cycle(nk_kd_locks *l, const edge *const *path, size_t from, size_t depth)
{
    size_t n = depth - from;
    if (!n || n > MAX_CYCLE_LEN || l->ncycles >= MAX_CYCLES) return;
    nk_kd_step tmp[MAX_CYCLE_LEN];
    size_t lo = 0;
    for (size_t k = 0; k < n; k++) {
        const edge *e = path[from + k];
        tmp[k] = (nk_kd_step){e->from, e->res, e->via_ptr};
        if (tmp[k].thread < tmp[lo].thread) lo = k;
    }
    nk_kd_step *s = malloc(n * sizeof *s);
    if (!s) return;
    for (size_t k = 0; k < n; k++) s[k] = tmp[(lo + k) % n];
    if (cycle_known(l, s, n)) {
        free(s);
        return;
    }
    nk_kd_cycle *nc = realloc(l->cycles, (l->ncycles + 1) * sizeof *nc);
    if (!nc) {
        free(s);
        return;
    }
    l->cycles = nc;
    l->cycles[l->ncycles++] = (nk_kd_cycle){s, n};
}

/* Depth-first search over the wait-for graph from every node; a back edge to a node on the
 * current path closes a cycle. Iterative, depth-capped. */
static void find_cycles(nk_kd_locks *l, edge *e, size_t ne)
{
    if (!ne) return;
    nk_sort(e, ne, sizeof *e, cmp_edge);
    /* nodes: distinct `from` values; state per edge-index range */
    typedef struct frame {
        uint64_t node;
        size_t next; /* next edge index to try */
    } frame;
    nk_u64set done = {0};
    frame st[MAX_CYCLE_LEN + 1];
    const edge *path[MAX_CYCLE_LEN + 1];
    size_t steps = 0; /* one budget for the whole search (hostile graphs) */
    for (size_t s0 = 0; s0 < ne && l->ncycles < MAX_CYCLES; s0++) {
        if (s0 && e[s0].from == e[s0 - 1].from) continue;
        uint64_t root = e[s0].from;
        size_t depth = 0;
        st[0] = (frame){root, s0};
        while (l->ncycles < MAX_CYCLES && ++steps < 2000000) {
            frame *f = &st[depth];
            if (f->next >= ne || e[f->next].from != f->node) {
                if (depth == 0) break;
                depth--;
                continue;
            }
            const edge *ed = &e[f->next++];
            path[depth] = ed;
            /* back edge to a node on the path? */
            size_t on = (size_t)-1;
            for (size_t k = 0; k <= depth; k++)
                if (st[k].node == ed->to) { on = k; break; }
            if (on != (size_t)-1) {
                add_cycle(l, path, on, depth + 1);
                continue;
            }
            if (depth + 1 >= MAX_CYCLE_LEN) continue;
            /* a node explored as an earlier root: every cycle through it is known */
            if (nk_u64set_has(&done, ed->to)) continue;
            st[++depth] = (frame){ed->to, edges_from(e, ne, ed->to)};
        }
        nk_u64set_add(&done, root);
    }
    nk_u64set_free(&done);
}

typedef struct list_walk {
    ntkd_target *t;
    const res_layout *L;
    uint64_t links_off;
    uint64_t only;
    bool all;
    nk_kd_locks *out;
    size_t cap;
    size_t nbad;        /* unreadable resources (the first few are named) */
} list_walk;

static bool keep_res(list_walk *w, const nk_kd_res *r)
{
    nk_kd_locks *l = w->out;
    if (!nk_grow((void **)&l->res, &w->cap, l->nres + 1, sizeof *l->res)) return false;
    l->res[l->nres++] = *r;
    return true;
}

static bool on_res(void *u, uint64_t entry)
{
    list_walk *w = u;
    uint64_t addr = entry - w->links_off;
    w->out->total++;
    nk_kd_res r;
    if (!res_read(w->t, w->L, addr, &r)) {
        char b[24];
        if (++w->nbad <= 16) nk_sb_printf(&w->out->why, "resource %s: %s\n", nk_fmt_hex(b, addr, w->t->d.is64), r.note);
        res_free(&r);
        return true;
    }
    bool held = r.active_count != 0;
    if (held) w->out->held++;
    bool keep = w->only ? addr == w->only : (held || w->all);
    /* held resources always take part in the deadlock search, shown or not */
    if (keep || held) {
        r.graph_only = !keep;
        if (!keep_res(w, &r)) res_free(&r);
        return true;
    }
    res_free(&r);
    return true;
}

nk_status nk_kd_locks_scan(ntkd_target *t, uint64_t only, bool all, nk_kd_locks *out)
{
    memset(out, 0, sizeof *out);
    if (!t) return NTKD_E_ARG;
    if (!nk_k_types(t)) return NTKD_E_NOTFOUND;
    res_layout L;
    nk_status st = res_layout_get(t, &L);
    if (st != NTKD_OK) return st;
    uint64_t head = 0, links = 0;
    if (nk_k_offset(t, "_ERESOURCE", "SystemResourcesList", &links) != NTKD_OK) return NTKD_E_NOTFOUND;
    list_walk w = {.t = t, .L = &L, .links_off = links, .only = only, .all = all, .out = out};
    bool walked = false;
    if (nk_k_global(t, "ExpSystemResourcesList", &head) == NTKD_OK) {
        nk_strbuf lw = {0};
        nk_status ls = nk_k_list(t, head, 0, on_res, &w, &lw);
        walked = ls == NTKD_OK || out->total > 0;
        if (lw.len) nk_sb_printf(&out->why, "ExpSystemResourcesList: %s\n", lw.s);
        else if (ls != NTKD_OK) nk_sb_printf(&out->why, "ExpSystemResourcesList: %s\n", ctx_err(t));
        nk_sb_free(&lw);
    } else {
        nk_sb_printf(&out->why, "nt!ExpSystemResourcesList: %s\n", ctx_err(t));
    }
    if (w.nbad > 16) nk_sb_printf(&out->why, "%zu more resources are unreadable\n", w.nbad - 16);
    /* a resource asked for by address that is not on the list */
    if (only) {
        bool found = false;
        for (size_t i = 0; i < out->nres && !found; i++) found = out->res[i].addr == only && !out->res[i].graph_only;
        if (!found) {
            nk_kd_res r;
            if (!res_read(t, &L, only, &r)) {
                res_free(&r);
                nk_kd_locks_free(out);
                char b[24];
                return nk_fail(t->ctx, NTKD_E_NOTFOUND, "no ERESOURCE readable at %s", nk_fmt_hex(b, only, t->d.is64));
            }
            if (walked && !r.note[0]) snprintf(r.note, sizeof r.note, "not on nt!ExpSystemResourcesList");
            if (!keep_res(&w, &r)) res_free(&r);
        }
    } else if (!walked) {
        char *msg = out->why.len ? strdup(out->why.s) : NULL;
        nk_kd_locks_free(out);
        nk_status rs = nk_fail(t->ctx, NTKD_E_NOTFOUND, "the resource list could not be walked: %s",
                               msg ? msg : "unknown reason");
        free(msg);
        return rs;
    }
    /* waiters and owners */
    waits wt = {0};
    scan_waits(t, &wt, &out->why);
    out->threads_ok = wt.ok;
    out->nthreads = wt.nth;
    for (size_t i = 0; i < out->nres; i++) res_resolve(t, &wt, &out->res[i]);
    /* the wait-for graph over held resources */
    edge *e = NULL;
    size_t ne = 0, cap = 0;
    for (size_t i = 0; i < out->nres && ne < MAX_EDGES; i++) {
        const nk_kd_res *r = &out->res[i];
        if (!r->active_count) continue;
        for (int kind = 0; kind < 2; kind++) {
            const uint64_t *wv = kind ? r->xwait : r->swait;
            size_t nw = kind ? r->nxwait : r->nswait;
            for (size_t a = 0; a < nw && ne < MAX_EDGES; a++) {
                for (size_t b = 0; b < r->nowners && ne < MAX_EDGES; b++) {
                    const nk_kd_owner *o = &r->owners[b];
                    if (o->waiting || !o->thread) continue;
                    /* a shared waiter whose own entry is a plain shared one is pending, not a holder */
                    if (o->thread == wv[a] && !o->owner_ptr && !o->exclusive) continue;
                    if (!nk_grow((void **)&e, &cap, ne + 1, sizeof *e)) break;
                    e[ne++] = (edge){wv[a], o->thread, r->addr, o->owner_ptr};
                }
            }
        }
    }
    if (ne >= MAX_EDGES) nk_sb_printf(&out->why, "wait-for graph cut at %u edges\n", MAX_EDGES);
    find_cycles(out, e, ne);
    free(e);
    free(wt.p);
    free(wt.th);
    /* drop the graph-only entries */
    size_t k = 0;
    for (size_t i = 0; i < out->nres; i++) {
        if (out->res[i].graph_only) {
            res_free(&out->res[i]);
            continue;
        }
        out->res[k++] = out->res[i];
    }
    out->nres = k;
    for (size_t i = 0; i < out->nres; i++) {
        uint64_t a = out->res[i].addr;
        char d[200];
        if (nk_sym_describe(t, a, d, sizeof d) && !strstr(d, "+0x")) snprintf(out->res[i].sym, sizeof out->res[i].sym, "%.150s", d);
    }
    return NTKD_OK;
}

/* ---- DPCs ----------------------------------------------------------------------------------- */

typedef struct dpc_walk {
    ntkd_target *t;
    nk_kd_dpcs *out;
    size_t cap;
    unsigned cpu;
    bool threaded;
    uint64_t entry_off;
} dpc_walk;

static void push_dpc(dpc_walk *w, uint64_t kdpc)
{
    if (!nk_grow((void **)&w->out->dpc, &w->cap, w->out->ndpc + 1, sizeof *w->out->dpc)) return;
    nk_kd_dpc *d = &w->out->dpc[w->out->ndpc++];
    d->cpu = w->cpu;
    d->threaded = w->threaded;
    d->kdpc = kdpc;
    d->routine = nk_k_get(w->t, kdpc, "_KDPC", "DeferredRoutine", 0);
    d->context = nk_k_get(w->t, kdpc, "_KDPC", "DeferredContext", 0);
}

static bool on_dpc(void *u, uint64_t entry)
{
    dpc_walk *w = u;
    if (w->out->ndpc >= NK_K_MAX_LIST) return false;
    push_dpc(w, entry - w->entry_off);
    return true;
}

/* A singly linked queue (_KDPC_LIST.ListHead.Next chain), cycle-checked. */
static void walk_single(dpc_walk *w, uint64_t head, nk_strbuf *why)
{
    ntkd_target *t = w->t;
    nk_u64set seen = {0};
    uint64_t next = 0;
    char b[24];
    if (nk_read_ptr(t, head, &next) != NTKD_OK) {
        nk_sb_printf(why, "cpu %u: DPC list head at %s is unreadable\n", w->cpu, nk_fmt_hex(b, head, t->d.is64));
        return;
    }
    size_t n = 0;
    while (next) {
        if (!nk_u64set_add(&seen, next) || next == head) {
            nk_sb_printf(why, "cpu %u: DPC list loops at %s\n", w->cpu, nk_fmt_hex(b, next, t->d.is64));
            break;
        }
        if (++n > MAX_DPCS_PER_QUEUE) {
            nk_sb_printf(why, "cpu %u: DPC list cut after %u entries\n", w->cpu, MAX_DPCS_PER_QUEUE);
            break;
        }
        push_dpc(w, next - w->entry_off);
        uint64_t nx = 0;
        if (nk_read_ptr(t, next, &nx) != NTKD_OK) {
            nk_sb_printf(why, "cpu %u: DPC list link at %s is unreadable\n", w->cpu, nk_fmt_hex(b, next, t->d.is64));
            break;
        }
        next = nx;
    }
    nk_u64set_free(&seen);
}

/* A LIST_ENTRY head whose Flink is 0 was never initialized: an empty queue. */
static bool head_uninit(ntkd_target *t, uint64_t head)
{
    uint64_t fl = 1;
    return nk_read_ptr(t, head, &fl) == NTKD_OK && fl == 0;
}

static void walk_double(dpc_walk *w, uint64_t head, nk_strbuf *why)
{
    if (head_uninit(w->t, head)) return;
    nk_strbuf lw = {0};
    nk_status st = nk_k_list(w->t, head, MAX_DPCS_PER_QUEUE, on_dpc, w, &lw);
    if (lw.len) nk_sb_printf(why, "cpu %u: %s\n", w->cpu, lw.s);
    else if (st != NTKD_OK) nk_sb_printf(why, "cpu %u: %s\n", w->cpu, ctx_err(w->t));
    nk_sb_free(&lw);
}

void nk_kd_dpcs_free(nk_kd_dpcs *d)
{
    if (!d) return;
    free(d->dpc);
    free(d->cpus);
    nk_sb_free(&d->why);
    memset(d, 0, sizeof *d);
}

nk_status nk_kd_dpcs_scan(ntkd_target *t, int cpu, nk_kd_dpcs *out)
{
    memset(out, 0, sizeof *out);
    if (!t) return NTKD_E_ARG;
    if (!nk_k_types(t)) return NTKD_E_NOTFOUND;
    unsigned ncpu = nk_k_ncpu(t);
    if (!ncpu) return nk_fail(t->ctx, NTKD_E_NOTFOUND, "the processor count is unknown (%s)", ctx_err(t));
    if (cpu >= 0 && (unsigned)cpu >= ncpu)
        return nk_fail(t->ctx, NTKD_E_ARG, "processor %d does not exist (the dump has %u)", cpu, ncpu);
    uint64_t entry_off = 0;
    if (nk_k_offset(t, "_KDPC", "DpcListEntry", &entry_off) != NTKD_OK) return NTKD_E_NOTFOUND;
    /* the build's form of the queues */
    uint64_t data_off = 0, data_size = 0, head_off = 0;
    unsigned nqueues = 0;
    bool single = false;
    nk_kfield f;
    if (nk_k_has(t, "_KPRCB", "DpcData") && nk_k_field(t, "_KPRCB", "DpcData", &f) == NTKD_OK) {
        data_off = f.off;
        if (nk_k_sizeof(t, "_KDPC_DATA", &data_size) != NTKD_OK || !data_size) return NTKD_E_NOTFOUND;
        uint64_t n = f.size / data_size;
        nqueues = (unsigned)(n ? (n > 2 ? 2 : n) : 1);
        if (nk_k_has(t, "_KDPC_DATA", "DpcListHead")) {
            if (nk_k_offset(t, "_KDPC_DATA", "DpcListHead", &head_off) != NTKD_OK) return NTKD_E_NOTFOUND;
        } else if (nk_k_has(t, "_KDPC_DATA", "DpcList")) {
            uint64_t a = 0, b = 0;
            if (nk_k_offset(t, "_KDPC_DATA", "DpcList", &a) != NTKD_OK || nk_k_offset(t, "_KDPC_LIST", "ListHead", &b) != NTKD_OK)
                return NTKD_E_NOTFOUND;
            head_off = a + b;
            single = true;
        } else {
            return nk_fail(t->ctx, NTKD_E_NOTFOUND, "_KDPC_DATA has neither DpcListHead nor DpcList in this build's types");
        }
    } else if (nk_k_has(t, "_KPRCB", "DpcListHead")) {
        if (nk_k_offset(t, "_KPRCB", "DpcListHead", &head_off) != NTKD_OK) return NTKD_E_NOTFOUND;
        nqueues = 1;
    } else {
        return nk_fail(t->ctx, NTKD_E_NOTFOUND, "_KPRCB has neither DpcData nor DpcListHead in this build's types");
    }
    if (!single && nk_k_has(t, "_KDPC", "DpcListEntry")) {
        /* the entry's own type decides when the queue head's type was not conclusive */
        nk_kfield ef;
        uint64_t le = 0;
        if (nk_k_field(t, "_KDPC", "DpcListEntry", &ef) == NTKD_OK && nk_k_sizeof(t, "_LIST_ENTRY", &le) == NTKD_OK &&
            ef.size && ef.size < le)
            single = true;
    }
    const bool has_cur_routine = nk_k_has(t, "_KPRCB", "CurrentDpcRoutine");
    const bool has_active_dpc = nqueues && data_size && nk_k_has(t, "_KDPC_DATA", "ActiveDpc");
    const bool has_routine_active = nk_k_has(t, "_KPRCB", "DpcRoutineActive");
    unsigned c0 = cpu >= 0 ? (unsigned)cpu : 0, c1 = cpu >= 0 ? (unsigned)cpu + 1 : ncpu;
    out->cpus = calloc(c1 - c0, sizeof *out->cpus);
    if (!out->cpus) return NTKD_E_NOMEM;
    dpc_walk w = {.t = t, .out = out, .entry_off = entry_off};
    for (unsigned c = c0; c < c1; c++) {
        nk_kd_cpu *pc = &out->cpus[out->ncpus++];
        pc->cpu = c;
        pc->active_src = "";
        pc->first = out->ndpc;
        uint64_t prcb = 0;
        if (nk_k_prcb(t, c, &prcb) != NTKD_OK || !prcb) {
            nk_sb_printf(&out->why, "cpu %u: no KPRCB (%s)\n", c, ctx_err(t));
            continue;
        }
        pc->prcb = prcb;
        w.cpu = c;
        for (unsigned q = 0; q < nqueues; q++) {
            w.threaded = q == 1;
            uint64_t head = data_size ? prcb + data_off + q * data_size + head_off : prcb + head_off;
            if (single) walk_single(&w, head, &out->why);
            else walk_double(&w, head, &out->why);
        }
        pc->n = out->ndpc - pc->first;
        if (has_routine_active) {
            uint64_t v;
            if (nk_k_read(t, prcb, "_KPRCB", "DpcRoutineActive", &v) == NTKD_OK) {
                pc->has_dpc_active = true;
                pc->dpc_active = v != 0;
            }
        }
        if (has_active_dpc) {
            uint64_t ad = nk_k_get(t, prcb + data_off, "_KDPC_DATA", "ActiveDpc", 0);
            if (ad) {
                pc->active_dpc = ad;
                pc->active_routine = nk_k_get(t, ad, "_KDPC", "DeferredRoutine", 0);
                if (pc->active_routine) pc->active_src = "_KDPC_DATA.ActiveDpc";
            }
        }
        if (has_cur_routine) {
            uint64_t r = nk_k_get(t, prcb, "_KPRCB", "CurrentDpcRoutine", 0);
            if (r) {
                pc->active_routine = r;
                pc->active_src = "_KPRCB.CurrentDpcRoutine";
            }
        }
    }
    return NTKD_OK;
}

/* ---- timers --------------------------------------------------------------------------------- */

static uint64_t rol64(uint64_t v, unsigned n)
{
    n &= 63;
    return n ? (v << n) | (v >> (64 - n)) : v;
}

typedef struct timer_walk {
    ntkd_target *t;
    nk_kd_timers *out;
    size_t cap;
    uint64_t links_off;
    int cpu;
    unsigned table, slot;
    bool encoded, keys_missing;
    uint64_t never, always;
} timer_walk;

/* How much a pointer looks like a KDPC: 2 its routine lies in a known module, 1 readable with a
 * DPC object type (DpcObject / ThreadedDpcObject from nt's _KOBJECTS, or their usual values),
 * 0 otherwise. */
static int dpc_score(ntkd_target *t, uint64_t dpc)
{
    if (!dpc) return 0;
    uint64_t r = 0, type = 0;
    if (nk_k_read(t, dpc, "_KDPC", "DeferredRoutine", &r) != NTKD_OK) return 0;
    if (r && nk_sym_module_of(t, r) >= 0) return 2;
    if (nk_k_read(t, dpc, "_KDPC", "Type", &type) != NTKD_OK) return 0;
    return type == 0x13 || type == 0x18 || type == 0x1a ? 1 : 0;
}

static bool on_timer(void *u, uint64_t entry)
{
    timer_walk *w = u;
    if (w->out->n >= MAX_TIMERS) return false;
    if (!nk_grow((void **)&w->out->tm, &w->cap, w->out->n + 1, sizeof *w->out->tm)) return false;
    ntkd_target *t = w->t;
    nk_kd_timer *tm = &w->out->tm[w->out->n++];
    memset(tm, 0, sizeof *tm);
    tm->addr = entry - w->links_off;
    tm->cpu = w->cpu;
    tm->table = w->table;
    tm->slot = w->slot;
    nk_kfield df;
    uint64_t due = 0;
    if (nk_k_field(t, "_KTIMER", "DueTime", &df) == NTKD_OK) nk_read_u64(t, tm->addr + df.off, &due);
    tm->due = due;
    tm->period = (uint32_t)nk_k_get(t, tm->addr, "_KTIMER", "Period", 0);
    uint64_t raw = nk_k_get(t, tm->addr, "_KTIMER", "Dpc", 0);
    uint64_t dpc = raw;
    /* a build that encodes, keys not in the dump, and a stored value that is no kernel pointer */
    if (raw && w->keys_missing && (raw >> 48) != 0xffff) {
        tm->dpc = raw;
        tm->dpc_unknown = true;
        return true;
    }
    if (raw && w->encoded) {
        uint64_t dec = w->always ^ __builtin_bswap64(tm->addr ^ rol64(w->never ^ raw, (unsigned)(w->never & 0xff)));
        /* the decoded form when it names a likelier KDPC than the stored value (a writer that
           stores the plain pointer is read as it is) */
        if (dpc_score(t, dec) > dpc_score(t, raw)) {
            dpc = dec;
            tm->dpc_encoded = true;
        }
    }
    tm->dpc = dpc;
    if (dpc) tm->routine = nk_k_get(t, dpc, "_KDPC", "DeferredRoutine", 0);
    return true;
}

void nk_kd_timers_free(nk_kd_timers *tt)
{
    if (!tt) return;
    free(tt->tm);
    nk_sb_free(&tt->why);
    memset(tt, 0, sizeof *tt);
}

static void walk_timer_list(timer_walk *w, uint64_t head)
{
    if (head_uninit(w->t, head)) return;
    nk_strbuf lw = {0};
    nk_status st = nk_k_list(w->t, head, MAX_TIMERS, on_timer, w, &lw);
    if (lw.len || st != NTKD_OK) {
        char b[24];
        nk_sb_printf(&w->out->why, "timer list at %s: %s\n", nk_fmt_hex(b, head, w->t->d.is64), lw.len ? lw.s : ctx_err(w->t));
    }
    nk_sb_free(&lw);
}

nk_status nk_kd_timers_scan(ntkd_target *t, nk_kd_timers *out)
{
    memset(out, 0, sizeof *out);
    if (!t) return NTKD_E_ARG;
    if (!nk_k_types(t)) return NTKD_E_NOTFOUND;
    timer_walk w = {.t = t, .out = out};
    if (nk_k_offset(t, "_KTIMER", "TimerListEntry", &w.links_off) != NTKD_OK) return NTKD_E_NOTFOUND;
    /* 64-bit Windows 8 and later store KTIMER.Dpc encoded */
    if (t->d.is64 && t->d.minor >= 9200) {
        if (nk_k_global_ptr(t, "KiWaitNever", &w.never) == NTKD_OK && nk_k_global_ptr(t, "KiWaitAlways", &w.always) == NTKD_OK)
            w.encoded = true;
        else
            w.keys_missing = true;
    }
    if (nk_k_has(t, "_KPRCB", "TimerTable")) {
        uint64_t tt_off = 0, ent_off = 0, ent_size = 0, head_off = 0;
        nk_kfield ef;
        if (nk_k_offset(t, "_KPRCB", "TimerTable", &tt_off) != NTKD_OK ||
            nk_k_field(t, "_KTIMER_TABLE", "TimerEntries", &ef) != NTKD_OK ||
            nk_k_sizeof(t, "_KTIMER_TABLE_ENTRY", &ent_size) != NTKD_OK || !ent_size ||
            nk_k_offset(t, "_KTIMER_TABLE_ENTRY", "Entry", &head_off) != NTKD_OK)
            return NTKD_E_NOTFOUND;
        ent_off = ef.off;
        uint64_t nent = ef.size / ent_size;
        if (!nent || nent > 4096) return nk_fail(t->ctx, NTKD_E_FORMAT, "_KTIMER_TABLE.TimerEntries has an unexpected size");
        unsigned ncpu = nk_k_ncpu(t);
        if (!ncpu) return nk_fail(t->ctx, NTKD_E_NOTFOUND, "the processor count is unknown (%s)", ctx_err(t));
        for (unsigned c = 0; c < ncpu && out->n < MAX_TIMERS; c++) {
            uint64_t prcb = 0;
            if (nk_k_prcb(t, c, &prcb) != NTKD_OK || !prcb) {
                nk_sb_printf(&out->why, "cpu %u: no KPRCB (%s)\n", c, ctx_err(t));
                continue;
            }
            w.cpu = (int)c;
            for (uint64_t i = 0; i < nent && out->n < MAX_TIMERS; i++) {
                w.table = (unsigned)(i / 256);
                w.slot = (unsigned)(i % 256);
                walk_timer_list(&w, prcb + tt_off + ent_off + i * ent_size + head_off);
            }
        }
        return NTKD_OK;
    }
    uint64_t head = 0;
    if (nk_k_global(t, "KiTimerTableListHead", &head) != NTKD_OK)
        return nk_fail(t->ctx, NTKD_E_NOTFOUND,
                       "neither _KPRCB.TimerTable nor nt!KiTimerTableListHead is in this build's symbols");
    /* XP: 256 LIST_ENTRY heads; 2003/Vista: 512 _KTIMER_TABLE_ENTRY */
    uint64_t stride = 0, hoff = 0, n = 256;
    if (nk_k_sizeof(t, "_KTIMER_TABLE_ENTRY", &stride) == NTKD_OK && stride &&
        nk_k_offset(t, "_KTIMER_TABLE_ENTRY", "Entry", &hoff) == NTKD_OK) {
        n = 512;
    } else if (nk_k_sizeof(t, "_LIST_ENTRY", &stride) != NTKD_OK || !stride) {
        return NTKD_E_NOTFOUND;
    }
    w.cpu = -1;
    for (uint64_t i = 0; i < n && out->n < MAX_TIMERS; i++) {
        w.table = 0;
        w.slot = (unsigned)i;
        walk_timer_list(&w, head + i * stride + hoff);
    }
    return NTKD_OK;
}

/* ---- !analyze -v ---------------------------------------------------------------------------- */




/* Modules never blamed for a DPC or a held IRP when something else is known. */
static bool is_os_module(const char *m)
{
    static const char *const os[] = {"nt", "ntoskrnl", "ntkrnlmp", "ntkrnlpa", "ntkrpamp", "hal", "halmacpi",
                                     "halacpi", "ndis", "wdf01000", "wdfldr", "verifier", NULL};
    for (size_t i = 0; os[i]; i++)
        if (!strcasecmp(m, os[i])) return true;
    return false;
}

void nk_kd_blame(ntkd_target *t, nk_analysis *a, uint64_t addr, const char *mod, const char *func,
                  const char *bucket, const char *rule)
{
    snprintf(a->module_name, sizeof a->module_name, "%s", mod);
    char img[64];
    nk_kd_image(t, addr, img, sizeof img);
    if (img[0]) snprintf(a->image_name, sizeof a->image_name, "%s", img);
    else snprintf(a->image_name, sizeof a->image_name, "%.58s.sys", mod);
    const nk_smod *m = smod_at(t, addr);
    a->image_timestamp = m ? m->timestamp : 0;
    a->image_version[0] = 0;
    if (func[0]) snprintf(a->symbol_name, sizeof a->symbol_name, "%.60s!%.90s", mod, func);
    else snprintf(a->symbol_name, sizeof a->symbol_name, "%.60s", mod);
    snprintf(a->bucket, sizeof a->bucket, "%s", bucket);
    snprintf(a->blame_rule, sizeof a->blame_rule, "%s", rule);
}

void nk_kd_func_of(const char *desc, char *out, size_t len)
{
    out[0] = 0;
    const char *bang = strchr(desc, '!');
    if (!bang) return;
    const char *f = bang + 1;
    const char *plus = strstr(f, "+0x");
    size_t n = plus ? (size_t)(plus - f) : strlen(f);
    snprintf(out, len, "%.*s", (int)(n < 200 ? n : 200), f);
}

static bool irp_ok(ntkd_target *t, uint64_t irp)
{
    uint64_t type = 0;
    return irp && nk_k_read(t, irp, "_IRP", "Type", &type) == NTKD_OK && type == 6; /* IO_TYPE_IRP */
}

typedef struct irp_find {
    ntkd_target *t;
    uint64_t *stack;
    size_t nstack;
    uint64_t found, thread;
} irp_find;

static uint64_t irp_cur_loc(ntkd_target *t, uint64_t irp, uint64_t *cur, uint64_t *cnt)
{
    *cur = nk_k_get(t, irp, "_IRP", "CurrentLocation", 0) & 0xff;
    *cnt = nk_k_get(t, irp, "_IRP", "StackCount", 0) & 0xff;
    if (!*cur || *cur > *cnt) return 0;
    uint64_t loc = nk_k_get(t, irp, "_IRP", "Tail.Overlay.CurrentStackLocation", 0);
    uint64_t isz = 0, lsz = 0;
    if (nk_k_sizeof(t, "_IRP", &isz) == NTKD_OK && nk_k_sizeof(t, "_IO_STACK_LOCATION", &lsz) == NTKD_OK && lsz) {
        uint64_t computed = irp + isz + (*cur - 1) * lsz;
        if (!loc || loc < irp || loc - irp > isz + *cnt * lsz) loc = computed;
    }
    return loc;
}

static bool on_irp_find(void *u, uint64_t irp, uint64_t thread)
{
    irp_find *f = u;
    uint64_t cur, cnt;
    uint64_t loc = irp_cur_loc(f->t, irp, &cur, &cnt);
    if (!loc) return true;
    uint64_t dev = nk_k_get(f->t, loc, "_IO_STACK_LOCATION", "DeviceObject", 0);
    if (dev && in_list(f->stack, f->nstack, dev)) {
        f->found = irp;
        f->thread = thread;
        return false;
    }
    return true;
}

/* An IRP held in the device stack of `pdo` (every thread's IRP list scanned). */
static uint64_t find_irp_in_stack(ntkd_target *t, uint64_t pdo)
{
    uint64_t stack[32];
    size_t ns = nk_k_device_stack(t, pdo, stack, 32);
    if (!ns) return 0;
    irp_find f = {.t = t, .stack = stack, .nstack = ns};
    nk_kproc *procs = NULL;
    size_t np = 0;
    nk_k_processes(t, &procs, &np, NULL);
    for (size_t i = 0; i < np && !f.found; i++) {
        nk_kthread *th = NULL;
        size_t nt = 0;
        nk_k_threads(t, procs[i].addr, &th, &nt, NULL);
        for (size_t j = 0; j < nt && !f.found; j++) nk_k_thread_irps(t, th[j].addr, on_irp_find, &f, NULL);
        free(th);
    }
    free(procs);
    return f.found;
}

static const char *irp_mj_name(unsigned mj)
{
    static const char *const n[] = {"IRP_MJ_CREATE", "IRP_MJ_CREATE_NAMED_PIPE", "IRP_MJ_CLOSE", "IRP_MJ_READ",
        "IRP_MJ_WRITE", "IRP_MJ_QUERY_INFORMATION", "IRP_MJ_SET_INFORMATION", "IRP_MJ_QUERY_EA", "IRP_MJ_SET_EA",
        "IRP_MJ_FLUSH_BUFFERS", "IRP_MJ_QUERY_VOLUME_INFORMATION", "IRP_MJ_SET_VOLUME_INFORMATION",
        "IRP_MJ_DIRECTORY_CONTROL", "IRP_MJ_FILE_SYSTEM_CONTROL", "IRP_MJ_DEVICE_CONTROL",
        "IRP_MJ_INTERNAL_DEVICE_CONTROL", "IRP_MJ_SHUTDOWN", "IRP_MJ_LOCK_CONTROL", "IRP_MJ_CLEANUP",
        "IRP_MJ_CREATE_MAILSLOT", "IRP_MJ_QUERY_SECURITY", "IRP_MJ_SET_SECURITY", "IRP_MJ_POWER",
        "IRP_MJ_SYSTEM_CONTROL", "IRP_MJ_DEVICE_CHANGE", "IRP_MJ_QUERY_QUOTA", "IRP_MJ_SET_QUOTA", "IRP_MJ_PNP"};
    return mj < sizeof n / sizeof n[0] ? n[mj] : "IRP_MJ_?";
}

static void diag_9f(ntkd_target *t, nk_analysis *a)
{
    const bool is64 = t->d.is64;
    char b1[24], b2[24];
    nk_an_fact(a, "DRVPOWERSTATE_SUBCODE", "3");
    uint64_t irp = a->params[3] & ptr_mask(t), how = 0;
    if (!irp_ok(t, irp)) {
        uint64_t found = find_irp_in_stack(t, a->params[1] & ptr_mask(t));
        if (found) {
            nk_an_note(a, "IRP_ADDRESS: parameter 4 (%s) is not a readable IRP; found the IRP held in the PDO's device stack",
                  nk_fmt_hex(b1, irp, is64));
            irp = found;
            how = 1;
        } else {
            nk_an_note(a, "IRP_ADDRESS: parameter 4 (%s) is not a readable IRP and no IRP was found in the PDO's device stack",
                  nk_fmt_hex(b1, irp, is64));
            return;
        }
    }
    nk_an_fact(a, "IRP_ADDRESS", "%s%s", nk_fmt_hex(b1, irp, is64), how ? " (found in the PDO's device stack)" : "");
    uint64_t cur = 0, cnt = 0;
    uint64_t loc = irp_cur_loc(t, irp, &cur, &cnt);
    uint64_t thread = nk_k_get(t, irp, "_IRP", "Tail.Overlay.Thread", 0);
    if (thread) nk_an_fact(a, "IRP_THREAD", "%s", nk_fmt_hex(b1, thread, is64));
    if (!loc) {
        nk_an_fact(a, "IRP_CURRENT_LOCATION", "%llu of %llu (not in any driver)", (unsigned long long)cur, (unsigned long long)cnt);
        nk_an_note(a, "IRP_ADDRESS: the IRP's current location %llu is outside its %llu stack locations",
              (unsigned long long)cur, (unsigned long long)cnt);
        return;
    }
    nk_an_fact(a, "IRP_CURRENT_LOCATION", "%llu of %llu (stack location %s)", (unsigned long long)cur, (unsigned long long)cnt,
         nk_fmt_hex(b1, loc, is64));
    uint64_t mj = nk_k_get(t, loc, "_IO_STACK_LOCATION", "MajorFunction", 0) & 0xff;
    uint64_t mn = nk_k_get(t, loc, "_IO_STACK_LOCATION", "MinorFunction", 0) & 0xff;
    static const char *const power_mn[] = {"IRP_MN_WAIT_WAKE", "IRP_MN_POWER_SEQUENCE", "IRP_MN_SET_POWER",
                                           "IRP_MN_QUERY_POWER"};
    nk_an_fact(a, "IRP_MAJOR_MINOR", "[%llx,%llx] %s%s%s%s", (unsigned long long)mj, (unsigned long long)mn,
         irp_mj_name((unsigned)mj), mj == 0x16 && mn < 4 ? " (" : "", mj == 0x16 && mn < 4 ? power_mn[mn] : "",
         mj == 0x16 && mn < 4 ? ")" : "");
    uint64_t dev = nk_k_get(t, loc, "_IO_STACK_LOCATION", "DeviceObject", 0);
    if (!dev) {
        nk_an_note(a, "IRP_ADDRESS: the current stack location names no device");
        return;
    }
    uint64_t drv = nk_k_get(t, dev, "_DEVICE_OBJECT", "DriverObject", 0);
    char dname[160] = "";
    if (drv) nk_k_driver_name(t, drv, dname, sizeof dname);
    nk_an_fact(a, "DEVICE_OBJECT", "%s", nk_fmt_hex(b1, dev, is64));
    if (drv) nk_an_fact(a, "DRIVER_OBJECT", "%s %s", nk_fmt_hex(b1, drv, is64), dname);
    /* the device stack it sits in */
    uint64_t stack[32];
    size_t ns = nk_k_device_stack(t, dev, stack, 32);
    if (ns) {
        nk_an_fact(a, "DEVICE_STACK", "%s", "");
        for (size_t i = 0; i < ns && i < 32; i++) {
            char dn[160] = "";
            nk_k_device_driver_name(t, stack[i], dn, sizeof dn);
            nk_an_fact_more(a, "%s%s %s  %s", i ? "\n" : "", stack[i] == dev ? ">" : " ", nk_fmt_hex(b2, stack[i], is64), dn);
        }
    }
    /* the driver that holds it */
    uint64_t start = drv ? nk_k_get(t, drv, "_DRIVER_OBJECT", "DriverStart", 0) : 0;
    char mod[64] = "";
    if (start) nk_kd_module(t, start, mod, sizeof mod);
    if (!mod[0] && dname[0]) {
        const char *s = strrchr(dname, '\\');
        snprintf(mod, sizeof mod, "%.60s", s ? s + 1 : dname);
    }
    if (!mod[0]) {
        nk_an_note(a, "BLOCKING_DRIVER: the driver of device %s is unknown", nk_fmt_hex(b1, dev, is64));
        return;
    }
    nk_an_fact(a, "BLOCKING_DRIVER", "%s%s%s", mod, dname[0] ? " " : "", dname);
    char img[64];
    nk_kd_image(t, start, img, sizeof img);
    char bucket[256];
    snprintf(bucket, sizeof bucket, "0x9F_3_%.60s_IMAGE_%.60s", mod, img[0] ? img : mod);
    nk_kd_blame(t, a, start, mod, "",  bucket, "0x9F/3: the driver whose device holds the blocked IRP's current stack location");
    if (!img[0]) snprintf(a->bucket, sizeof a->bucket, "0x9F_3_%.60s_IMAGE_%.60s", mod, a->image_name);
}

/* The processor that crashed: the header's, else the one whose DPC stack or current thread's
 * stack holds the context's stack pointer, else one with a DPC running. */
static unsigned crash_cpu(ntkd_target *t, const nk_kd_dpcs *dq)
{
    if (t->d.bugcheck_cpu) return t->d.bugcheck_cpu;
    uint64_t sp = 0;
    if (t->d.ncontexts) {
        nk_uregs r;
        if (nk_uregs_from_context(&t->d.contexts[0], &r) == NTKD_OK) {
            /* the stack pointer register: x64 rsp is r[4], x86 esp r[4], arm64 sp r[31] */
            sp = t->d.arch == NK_ARCH_ARM64 ? r.r[31] : r.r[4];
        }
    }
    for (size_t i = 0; sp && i < dq->ncpus; i++) {
        uint64_t prcb = dq->cpus[i].prcb;
        if (!prcb) continue;
        uint64_t ds = nk_k_get(t, prcb, "_KPRCB", "DpcStack", 0);
        if (ds && sp <= ds && ds - sp < 0x10000) return dq->cpus[i].cpu;
        uint64_t th = nk_k_get(t, prcb, "_KPRCB", "CurrentThread", 0);
        nk_kthread kt;
        if (th && nk_k_thread_read(t, th, &kt) == NTKD_OK && sp >= kt.stack_limit && sp < kt.stack_base)
            return dq->cpus[i].cpu;
    }
    for (size_t i = 0; i < dq->ncpus; i++)
        if (dq->cpus[i].active_routine || dq->cpus[i].dpc_active) return dq->cpus[i].cpu;
    return 0;
}

static bool is_dispatcher(const char *d);

/* The DPC routine the crashing stack shows: the frame the kernel's DPC dispatcher called, or,
 * when that is an OS framework's (ndis, Wdf01000 ...), the first driver frame it called in turn. */
static uint64_t dpc_from_stack(ntkd_target *t)
{
    if (!t->d.ncontexts) return 0;
    nk_uregs r;
    if (nk_uregs_from_context(&t->d.contexts[0], &r) != NTKD_OK) return 0;
    nk_stack st = {0};
    nk_stack_walk(t, &r, 64, &st);
    uint64_t found = 0;
    for (size_t i = 1; i < st.n && !found; i++) {
        char d[256];
        if (!nk_sym_describe(t, st.f[i].pc, d, sizeof d)) continue;
        bool disp = is_dispatcher(d);
        if (!disp) continue;
        found = st.f[i - 1].pc;
        for (size_t j = i; j-- > 0;) {
            char m[64];
            nk_kd_module(t, st.f[j].pc, m, sizeof m);
            if (!m[0]) continue;
            if (!is_os_module(m)) {
                found = st.f[j].pc;
                break;
            }
            if (!strcasecmp(m, "nt") || !strcasecmp(m, "hal")) break; /* back in the kernel: keep the first */
        }
    }
    nk_stack_free(&st);
    return found;
}

static bool is_dispatcher(const char *d)
{
    static const char *const dispatchers[] = {"nt!KiExecuteAllDpcs", "nt!KiRetireDpcList", "nt!KiProcessExpiredTimerList",
                                              "nt!KiTimerExpiration", "nt!KiExpireTimerTable", NULL};
    for (size_t k = 0; dispatchers[k]; k++) {
        size_t n = strlen(dispatchers[k]);
        if (!strncasecmp(d, dispatchers[k], n) && (d[n] == 0 || d[n] == '+')) return true;
    }
    return false;
}

/* When the walk does not reach the dispatcher: a scan of the crashing stack for values inside
 * known modules up to a return address into the DPC dispatcher; the first driver value below
 * it names the DPC routine (a guess, reported as such). */
static uint64_t dpc_from_stack_scan(ntkd_target *t)
{
    if (!t->d.ncontexts) return 0;
    nk_uregs r;
    if (nk_uregs_from_context(&t->d.contexts[0], &r) != NTKD_OK) return 0;
    const unsigned P = t->d.is64 ? 8 : 4;
    uint64_t sp = t->d.arch == NK_ARCH_ARM64 ? r.r[NK_UR_A64_SP] : r.r[4];
    if (!sp) return 0;
    uint64_t vals[256];
    size_t nv = 0;
    uint8_t buf[0x4000];
    size_t got = 0;
    if (nk_read_virt(t, sp & ~(uint64_t)(P - 1), buf, sizeof buf, &got) != NTKD_OK && !got) return 0;
    for (size_t off = 0; off + P <= got && nv < 256; off += P) {
        uint64_t v = P == 8 ? nk_le64(buf + off) : nk_le32(buf + off);
        if (!v || nk_sym_module_of(t, v) < 0) continue;
        char d[256];
        if (!nk_sym_describe(t, v, d, sizeof d)) continue;
        if (is_dispatcher(d)) {
            for (size_t j = nv; j-- > 0;) {
                char m[64];
                nk_kd_module(t, vals[j], m, sizeof m);
                if (!m[0]) continue;
                if (!is_os_module(m)) return vals[j];
                if (!strcasecmp(m, "nt") || !strcasecmp(m, "hal")) return 0;
            }
            return 0;
        }
        vals[nv++] = v;
    }
    return 0;
}

static void diag_133(ntkd_target *t, nk_analysis *a)
{
    const bool is64 = t->d.is64;
    char b1[24], b2[24], sym[256];
    nk_an_fact(a, "DPC_TIMEOUT_TYPE", "%s", a->params[0] == 0 ? "SINGLE_DPC_TIMEOUT_EXCEEDED"
                                      : a->params[0] == 1 ? "DPC_QUEUE_EXECUTION_TIMEOUT_EXCEEDED" : "OTHER");
    nk_kd_dpcs dq;
    if (nk_kd_dpcs_scan(t, -1, &dq) != NTKD_OK) {
        nk_an_note(a, "DPC_RUNNING: the DPC queues could not be read (%s)", ctx_err(t));
        memset(&dq, 0, sizeof dq);
    }
    unsigned cpu = crash_cpu(t, &dq);
    uint64_t routine = 0;
    const char *src = "";
    for (size_t i = 0; i < dq.ncpus; i++)
        if (dq.cpus[i].cpu == cpu && dq.cpus[i].active_routine) {
            routine = dq.cpus[i].active_routine;
            src = dq.cpus[i].active_src;
        }
    uint64_t from_stack = dpc_from_stack(t);
    if (!routine && from_stack) {
        routine = from_stack;
        src = "the crashing stack (the frame called by the DPC dispatcher)";
    }
    if (!routine && (routine = dpc_from_stack_scan(t)) != 0)
        src = "a scan of the crashing stack (a guess: the walk did not reach the DPC dispatcher)";
    if (routine) {
        nk_kd_symbol(t, routine, sym, sizeof sym);
        nk_an_fact(a, "DPC_RUNNING", "%s (%s) on processor %u, from %s", sym, nk_fmt_hex(b1, routine, is64), cpu, src);
    } else {
        nk_an_note(a, "DPC_RUNNING: neither the PRCB of processor %u nor the crashing stack names the DPC routine", cpu);
    }
    /* the other processors' queues */
    if (dq.ndpc) {
        nk_an_fact(a, "DPC_QUEUES", "%s", "");
        bool first = true;
        for (size_t i = 0; i < dq.ndpc; i++) {
            const nk_kd_dpc *d = &dq.dpc[i];
            nk_kd_symbol(t, d->routine, sym, sizeof sym);
            nk_an_fact_more(a, "%s%2u: %-8s: %s %s %s", first ? "" : "\n", d->cpu, d->threaded ? "Threaded" : "Normal",
                      nk_fmt_hex(b1, d->kdpc, is64), nk_fmt_hex(b2, d->routine, is64), sym);
            first = false;
        }
    }
    nk_kd_dpcs_free(&dq);
    if (!routine) return;
    char mod[64], func[160];
    nk_kd_module(t, routine, mod, sizeof mod);
    nk_kd_symbol(t, routine, sym, sizeof sym);
    nk_kd_func_of(sym, func, sizeof func);
    if (!mod[0]) {
        nk_an_note(a, "DPC_DRIVER: the DPC routine %s is in no known module", nk_fmt_hex(b1, routine, is64));
        return;
    }
    char img[64];
    nk_kd_image(t, routine, img, sizeof img);
    nk_an_fact(a, "DPC_DRIVER", "%s%s%s%s", mod, img[0] ? " (" : "", img, img[0] ? ")" : "");
    if (is_os_module(mod)) return; /* keep the stack's blame (the driver the OS routine called) */
    char bucket[256];
    if (func[0]) snprintf(bucket, sizeof bucket, "0x133_DPC_%.60s!%.120s", mod, func);
    else snprintf(bucket, sizeof bucket, "0x133_DPC_%.60s", mod);
    nk_kd_blame(t, a, routine, mod, func, bucket, "0x133: the driver of the DPC routine running on the crashing processor");
}

static bool driver_module(const char *m)
{
    return m[0] && !is_os_module(m) && strcasecmp(m, "ntfs") && strcasecmp(m, "fltmgr");
}

/* The first frame of a thread's stack in a module that is not the OS's: from a walk of its
 * stack, else (no saved registers) from a scan of its kernel stack for values inside driver
 * modules (*guess set). */
static void thread_driver(ntkd_target *t, uint64_t thread, char *mod, size_t len, uint64_t *pc, bool *guess)
{
    mod[0] = 0;
    *pc = 0;
    *guess = false;
    nk_uregs r;
    if (nk_k_thread_regs(t, thread, &r) == NTKD_OK) {
        nk_stack st = {0};
        nk_stack_walk(t, &r, 64, &st);
        for (size_t i = 0; i < st.n; i++) {
            char m[64];
            nk_kd_module(t, st.f[i].pc, m, sizeof m);
            if (driver_module(m)) {
                snprintf(mod, len, "%s", m);
                *pc = st.f[i].pc;
                break;
            }
        }
        nk_stack_free(&st);
        if (mod[0]) return;
    }
    nk_kthread kt;
    if (nk_k_thread_read(t, thread, &kt) != NTKD_OK) return;
    uint64_t from = kt.kernel_stack, to = kt.stack_base;
    if (!from || to <= from || to - from > 0x100000) return;
    const unsigned P = t->d.is64 ? 8 : 4;
    uint8_t buf[0x4000];
    size_t n = (size_t)(to - from < sizeof buf ? to - from : sizeof buf), got = 0;
    if (nk_read_virt(t, from & ~(uint64_t)(P - 1), buf, n, &got) != NTKD_OK && !got) return;
    for (size_t off = 0; off + P <= got; off += P) {
        uint64_t v = P == 8 ? nk_le64(buf + off) : nk_le32(buf + off);
        if (!v || nk_sym_module_of(t, v) < 0) continue;
        char m[64];
        nk_kd_module(t, v, m, sizeof m);
        if (driver_module(m)) {
            snprintf(mod, len, "%s", m);
            *pc = v;
            *guess = true;
            return;
        }
    }
}

typedef struct irp_list {
    uint64_t irp[8];
    size_t n;
} irp_list;

static bool on_thread_irp(void *u, uint64_t irp, uint64_t thread)
{
    (void)thread;
    irp_list *l = u;
    if (l->n < 8) l->irp[l->n++] = irp;
    return l->n < 8;
}

/* 0x9F/4: the power transition waits for the PnP lock; P3 is the thread that holds it (seed
 * 000). Its IRPs and the first driver frame on its stack name the driver it waits in. */
static void diag_9f_4(ntkd_target *t, nk_analysis *a)
{
    const bool is64 = t->d.is64;
    char b1[24], b2[24];
    nk_an_fact(a, "DRVPOWERSTATE_SUBCODE", "4");
    uint64_t thread = a->params[2] & ptr_mask(t);
    nk_kthread kt;
    if (!thread || nk_k_thread_read(t, thread, &kt) != NTKD_OK) {
        nk_an_note(a, "PNP_LOCK_OWNER: parameter 3 (%s) is not a readable thread", nk_fmt_hex(b1, thread, is64));
        return;
    }
    char wr[64] = "";
    nk_k_enum_name(t, "_KWAIT_REASON", kt.wait_reason, wr, sizeof wr);
    nk_an_fact(a, "PNP_LOCK_OWNER_THREAD", "%s%s%s", nk_fmt_hex(b1, thread, is64), wr[0] ? " WAIT: " : "", wr);
    irp_list il = {{0}, 0};
    nk_k_thread_irps(t, thread, on_thread_irp, &il, NULL);
    for (size_t i = 0; i < il.n; i++) {
        uint64_t cur, cnt, loc = irp_cur_loc(t, il.irp[i], &cur, &cnt);
        uint64_t dev = loc ? nk_k_get(t, loc, "_IO_STACK_LOCATION", "DeviceObject", 0) : 0;
        char dn[160] = "";
        if (dev) nk_k_device_driver_name(t, dev, dn, sizeof dn);
        if (!i) nk_an_fact(a, "THREAD_IRPS", "%s", "");
        nk_an_fact_more(a, "%s%s: current location %llu of %llu, device %s %s", i ? "\n" : "", nk_fmt_hex(b1, il.irp[i], is64),
                  (unsigned long long)cur, (unsigned long long)cnt, nk_fmt_hex(b2, dev, is64), dn);
    }
    char mod[64];
    uint64_t pc = 0;
    bool guess = false;
    thread_driver(t, thread, mod, sizeof mod, &pc, &guess);
    if (!mod[0]) {
        nk_an_note(a, "BLOCKING_DRIVER: no driver frame on the stack of thread %s", nk_fmt_hex(b1, thread, is64));
        return;
    }
    char sym[256], func[160], img[64], bucket[256];
    nk_kd_symbol(t, pc, sym, sizeof sym);
    nk_kd_func_of(sym, func, sizeof func);
    nk_an_fact(a, "BLOCKING_DRIVER", "%s (%s on the stack of the PnP lock owner%s)", mod, sym,
         guess ? "; found by a stack scan: a guess" : "");
    nk_kd_image(t, pc, img, sizeof img);
    snprintf(bucket, sizeof bucket, "0x9F_4_%.60s_IMAGE_%.60s", mod, img[0] ? img : mod);
    nk_kd_blame(t, a, pc, mod, func, bucket, "0x9F/4: the first driver frame on the stack of the thread holding the PnP lock");
}

static void diag_deadlock(ntkd_target *t, nk_analysis *a)
{
    nk_kd_locks l;
    if (nk_kd_locks_scan(t, 0, false, &l) != NTKD_OK) return; /* no resources: nothing to say */
    const bool is64 = t->d.is64;
    char b1[24], b2[24], b3[24];
    for (size_t c = 0; c < l.ncycles; c++) {
        const nk_kd_cycle *cy = &l.cycles[c];
        char key[48];
        snprintf(key, sizeof key, l.ncycles > 1 ? "DEADLOCK_%zu" : "DEADLOCK", c + 1);
        nk_an_fact(a, key, "%s", "");
        for (size_t k = 0; k < cy->n; k++) {
            const nk_kd_step *s = &cy->steps[k];
            uint64_t holder = cy->steps[(k + 1) % cy->n].thread;
            if (cy->n == 1)
                nk_an_fact_more(a, "thread %s waits for resource %s that it owns itself%s", nk_fmt_hex(b1, s->thread, is64),
                          nk_fmt_hex(b2, s->resource, is64),
                          s->via_owner_ptr ? " through an owner pointer on its own stack (ExSetResourceOwnerPointer)" : "");
            else
                nk_an_fact_more(a, "%sthread %s waits for resource %s owned by thread %s%s", k ? "\n" : "",
                          nk_fmt_hex(b1, s->thread, is64), nk_fmt_hex(b2, s->resource, is64), nk_fmt_hex(b3, holder, is64),
                          s->via_owner_ptr ? " (owner pointer on its stack)" : "");
        }
    }
    if (l.ncycles) {
        char mod[64];
        uint64_t pc = 0;
        bool guess = false;
        thread_driver(t, l.cycles[0].steps[0].thread, mod, sizeof mod, &pc, &guess);
        if (mod[0]) {
            char sym[256];
            nk_kd_symbol(t, pc, sym, sizeof sym);
            nk_an_fact(a, "DEADLOCK_DRIVER", "%s (%s on the stack of thread %s%s)", mod, sym, nk_fmt_hex(b1, l.cycles[0].steps[0].thread, is64),
                 guess ? "; found by a stack scan: a guess" : "");
            /* a hang names no faulting driver of its own: blame the deadlocked one */
            if (!a->module_name[0] || is_os_module(a->module_name)) {
                char func[160], bucket[256];
                nk_kd_func_of(sym, func, sizeof func);
                snprintf(bucket, sizeof bucket, "0x%X_DEADLOCK_%.60s%s%.120s", a->code, mod, func[0] ? "!" : "", func);
                nk_kd_blame(t, a, pc, mod, func, bucket, "deadlock: the first driver frame on the stack of a deadlocked thread");
            }
        }
    }
    (void)b3;
    nk_kd_locks_free(&l);
}

void nk_kd_analyze(ntkd_target *t, nk_analysis *a)
{
    if (!t || !a) return;
    const nk_dump *d = &t->d;
    const bool kernel = d->kind == NK_KIND_KERNEL_FULL || d->kind == NK_KIND_KERNEL_SUMMARY ||
                        d->kind == NK_KIND_KERNEL_BITMAP || d->kind == NK_KIND_KERNEL_TRIAGE;
    if (!kernel || !d->has_bugcheck) return;
    const uint32_t code = a->code & 0x0fffffffu;
    const bool is9f = code == 0x9f && a->params[0] == 3, is9f4 = code == 0x9f && a->params[0] == 4;
    const bool is133 = code == 0x133;
    if (!is9f && !is9f4 && !is133 && d->kind == NK_KIND_KERNEL_TRIAGE) return; /* too little memory for a lock scan */
    char saved[512];
    snprintf(saved, sizeof saved, "%s", t->ctx ? t->ctx->errmsg : "");
    if (!nk_k_types(t)) {
        if (is9f || is9f4 || is133) nk_an_note(a, "KERNEL_DIAGNOSIS: %s", ctx_err(t));
        goto out;
    }
    if (is9f) diag_9f(t, a);
    else if (is9f4) diag_9f_4(t, a);
    else if (is133) diag_133(t, a);
    nk_kd_verifier_analyze(t, a); /* 0x1 / 0x20 / 0xC4-0xC5 (kdiag_verifier.c) */
    if (d->kind != NK_KIND_KERNEL_TRIAGE) diag_deadlock(t, a);
out:
    if (t->ctx) snprintf(t->ctx->errmsg, sizeof t->ctx->errmsg, "%s", saved);
}
