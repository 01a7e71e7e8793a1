/* ex.c: executive resources, DPCs and timers of a scene.
 *
 * Facts (public: the WDK documentation of ERESOURCE/KDPC/KTIMER and the field names of the
 * kernel tables; every offset from the layout):
 *  - _ERESOURCE: linked on nt!ExpSystemResourcesList by SystemResourcesList; the first owner in
 *    OwnerEntry (OwnerThread, OwnerCount), further owners in OwnerTable (entry 0 is the table
 *    header whose TableSize gives the entries, owners from entry 1); ActiveCount/ActiveEntries
 *    count the owners; Flag bit 0x80 (ResourceOwnedExclusive) marks an exclusive owner.
 *    Waiters: SharedWaiters points at a KSEMAPHORE (Limit 0x7fffffff), ExclusiveWaiters at a
 *    synchronization KEVENT, with NumberOfSharedWaiters / NumberOfExclusiveWaiters and
 *    ContentionCount. XP (NT 5.x) has OwnerThreads[2] instead of OwnerEntry: [0] for the
 *    exclusive owner, [1] for a single shared owner.
 *  - _KDPC: Type DpcObject (ThreadedDpcObject), Importance MediumImportance (1), DpcData ->
 *    the processor's KPRCB.DpcData[0] (threaded DPCs: DpcData[1]). Windows 7/8: KDPC_DATA.DpcListHead is a LIST_ENTRY of KDPC.DpcListEntry;
 *    Windows 8.1+/10: KDPC_DATA.DpcList is a _KDPC_LIST (ListHead SINGLE_LIST_ENTRY, LastEntry)
 *    of single-linked KDPC.DpcListEntry; XP: KPRCB.DpcListHead / DpcQueueDepth / DpcCount.
 *  - _KTIMER: Header.Type TimerNotificationObject, DueTime, TimerListEntry on a timer-table list:
 *    Windows 7+: KPRCB.TimerTable.TimerEntries[hand] (Entry list head, Time = earliest due;
 *    two-dimensional [2][256] on Windows 10, the first row used here); XP: the global
 *    nt!KiTimerTableListHead[256] of LIST_ENTRY. hand = (DueTime / KeMaximumIncrement) % 256
 *    with the usual 156250 (15.625 ms) increment; a reader walks every list anyway. */
#include "scene.h"

#include <string.h>

#define EX_MAXRES 256
#define EX_TABLE_CAP 32 /* owner-table entries (entry 0 is the header) */

typedef struct ex_res {
    uint64_t addr;
    uint64_t owner; /* first owner */
    bool exclusive;
    unsigned nowners;
    uint64_t table;
} ex_res;

static struct {
    kern *k;
    ex_res res[EX_MAXRES];
    unsigned nres;
    bool reslist_init;
    bool timers_init;
} S;

static void ex_state(kern *k)
{
    if (S.k == k)
        return;
    memset(&S, 0, sizeof S);
    S.k = k;
}

static ex_res *res_find(uint64_t addr)
{
    for (unsigned i = 0; i < S.nres; i++)
        if (S.res[i].addr == addr)
            return &S.res[i];
    sc_die("ex: %#llx is not a resource made by ex_resource", (unsigned long long)addr);
}

static int64_t enum_or(const lay *L, const char *e, const char *m, int64_t dflt)
{
    int64_t v;
    return lay_enum(L, e, m, &v) ? v : dflt;
}

uint64_t ex_resource_at(kern *k, uint64_t va)
{
    ex_state(k);
    world *w = k->w;
    const lay *L = k->L;
    if (S.nres >= EX_MAXRES)
        sc_die("ex: too many resources");
    uint64_t head = k_sym(k, "ExpSystemResourcesList");
    if (!S.reslist_init) {
        w_list_init(w, head);
        S.reslist_init = true;
    }
    w_list_tail(w, head, va + lay_off_req(L, "_ERESOURCE", "SystemResourcesList"));
    w_set(w, va, "_ERESOURCE", "ActiveCount", 0);
    w_set(w, va, "_ERESOURCE", "Flag", 0);
    ex_res *r = &S.res[S.nres++];
    memset(r, 0, sizeof *r);
    r->addr = va;
    return va;
}

uint64_t ex_resource(kern *k)
{
    ex_state(k);
    return ex_resource_at(k, w_alloc(k->w, lay_size(k->L, "_ERESOURCE"), 0));
}

static void owner_set(world *w, uint64_t entry, uint64_t owner, unsigned count)
{
    w_set(w, entry, "_OWNER_ENTRY", "OwnerThread", owner);
    w_set(w, entry, "_OWNER_ENTRY", "OwnerCount", count);
}

void ex_resource_own(kern *k, uint64_t res, uint64_t owner, bool exclusive)
{
    ex_state(k);
    world *w = k->w;
    const lay *L = k->L;
    ex_res *r = res_find(res);
    bool xp = lay_off(L, "_ERESOURCE", "OwnerEntry") < 0;
    uint64_t osz = lay_size(L, "_OWNER_ENTRY");
    if (r->nowners == 0) {
        r->owner = owner;
        r->exclusive = exclusive;
        uint64_t e = res + (xp ? lay_off_req(L, "_ERESOURCE", "OwnerThreads") + (exclusive ? 0 : osz)
                               : lay_off_req(L, "_ERESOURCE", "OwnerEntry"));
        owner_set(w, e, owner, 1);
    } else {
        if (!r->table) {
            r->table = w_alloc(w, EX_TABLE_CAP * osz, 0);
            w_set(w, r->table, "_OWNER_ENTRY", "TableSize", EX_TABLE_CAP);
            w_set(w, res, "_ERESOURCE", "OwnerTable", r->table);
        }
        if (r->nowners >= EX_TABLE_CAP)
            sc_die("ex: too many owners of resource %#llx", (unsigned long long)res);
        owner_set(w, r->table + (uint64_t)r->nowners * osz, owner, 1);
    }
    r->nowners++;
    w_set(w, res, "_ERESOURCE", "ActiveCount", r->nowners);
    w_try(w, res, "_ERESOURCE", "ActiveEntries", r->nowners);
    if (exclusive)
        w_set(w, res, "_ERESOURCE", "Flag", w_field(w, res, "_ERESOURCE", "Flag") | 0x80);
}

void ex_resource_wait(kern *k, uint64_t res, uint64_t thread, bool exclusive)
{
    ex_state(k);
    world *w = k->w;
    const lay *L = k->L;
    res_find(res);
    const char *ptr = exclusive ? "ExclusiveWaiters" : "SharedWaiters";
    const char *num = exclusive ? "NumberOfExclusiveWaiters" : "NumberOfSharedWaiters";
    uint64_t obj = w_field(w, res, "_ERESOURCE", ptr);
    if (!obj) {
        const char *ty = exclusive ? "_KEVENT" : "_KSEMAPHORE";
        obj = w_alloc(w, lay_size(L, ty), 0);
        w_set(w, obj, "_DISPATCHER_HEADER", "Type", exclusive ? 1 : 5);
        w_try(w, obj, "_DISPATCHER_HEADER", "Size", lay_size(L, ty) / 4);
        w_set(w, obj, "_DISPATCHER_HEADER", "SignalState", 0);
        w_list_init(w, obj + lay_off_req(L, "_DISPATCHER_HEADER", "WaitListHead"));
        if (!exclusive)
            w_set(w, obj, "_KSEMAPHORE", "Limit", 0x7fffffff);
        w_set(w, res, "_ERESOURCE", ptr, obj);
    }
    w_set(w, res, "_ERESOURCE", num, w_field(w, res, "_ERESOURCE", num) + 1);
    w_set(w, res, "_ERESOURCE", "ContentionCount",
          w_field(w, res, "_ERESOURCE", "ContentionCount") + 1);
    k_thread_wait_on(k, thread, obj);
    mf("waiter 0x%llx 0x%llx", (unsigned long long)res, (unsigned long long)thread);
}

uint64_t ex_dpc(kern *k, unsigned cpu, uint64_t routine, uint64_t context)
{
    return ex_dpc_ex(k, cpu, routine, context, false);
}

uint64_t ex_dpc_ex(kern *k, unsigned cpu, uint64_t routine, uint64_t context, bool threaded)
{
    ex_state(k);
    world *w = k->w;
    const lay *L = k->L;
    unsigned P = w_ptr(w);
    if (cpu >= k->ncpu)
        sc_die("ex_dpc: cpu %u of %u", cpu, k->ncpu);
    uint64_t prcb = k->prcb[cpu];
    uint64_t dpc = w_alloc(w, lay_size(L, "_KDPC"), 0);
    int64_t dd_off = lay_off(L, "_KPRCB", "DpcData");
    if (threaded && dd_off < 0)
        sc_die("ex_dpc_ex: the build has no threaded DPCs");
    w_set(w, dpc, "_KDPC", "Type",
          (uint64_t)(threaded ? enum_or(L, "_KOBJECTS", "ThreadedDpcObject", 0x18)
                              : enum_or(L, "_KOBJECTS", "DpcObject", 0x13)));
    w_set(w, dpc, "_KDPC", "Importance", 1); /* MediumImportance */
    w_set(w, dpc, "_KDPC", "DeferredRoutine", routine);
    w_set(w, dpc, "_KDPC", "DeferredContext", context);
    uint64_t entry = dpc + lay_off_req(L, "_KDPC", "DpcListEntry");
    if (dd_off >= 0) {
        /* DpcData[0]: normal DPCs, DpcData[1]: threaded DPCs */
        uint64_t dd = prcb + (uint64_t)dd_off + (threaded ? lay_size(L, "_KDPC_DATA") : 0);
        w_set(w, dpc, "_KDPC", "DpcData", dd);
        int64_t lh = lay_off(L, "_KDPC_DATA", "DpcListHead");
        if (lh >= 0) {
            uint64_t head = dd + (uint64_t)lh;
            if (!w_get(w, head, P))
                w_list_init(w, head);
            w_list_tail(w, head, entry);
        } else {
            uint64_t first = dd + lay_off_req(L, "_KDPC_DATA", "DpcList.ListHead");
            uint64_t lastp = dd + lay_off_req(L, "_KDPC_DATA", "DpcList.LastEntry");
            uint64_t last = w_get(w, lastp, P);
            w_pointer(w, entry, 0);
            if (!last)
                w_pointer(w, first, entry);
            else
                w_pointer(w, last, entry);
            w_pointer(w, lastp, entry);
        }
        w_set(w, dd, "_KDPC_DATA", "DpcQueueDepth", w_field(w, dd, "_KDPC_DATA", "DpcQueueDepth") + 1);
        w_set(w, dd, "_KDPC_DATA", "DpcCount", w_field(w, dd, "_KDPC_DATA", "DpcCount") + 1);
    } else {
        /* XP: the queue in the KPRCB itself */
        uint64_t head = prcb + lay_off_req(L, "_KPRCB", "DpcListHead");
        if (!w_get(w, head, P))
            w_list_init(w, head);
        w_list_tail(w, head, entry);
        int64_t lk = lay_off(L, "_KPRCB", "DpcLock");
        w_try(w, dpc, "_KDPC", "Lock", lk >= 0 ? prcb + (uint64_t)lk : 0);
        w_try(w, prcb, "_KPRCB", "DpcQueueDepth", w_field(w, prcb, "_KPRCB", "DpcQueueDepth") + 1);
        w_try(w, prcb, "_KPRCB", "DpcCount", w_field(w, prcb, "_KPRCB", "DpcCount") + 1);
    }
    mf("dpc %u 0x%llx 0x%llx 0x%llx", cpu, (unsigned long long)dpc, (unsigned long long)routine,
       (unsigned long long)context);
    return dpc;
}

/* The timer lists: Windows 7+ in processor 0's KPRCB.TimerTable, XP the global array. */
static uint64_t timer_list(kern *k, unsigned hand, uint64_t *time_field)
{
    world *w = k->w;
    const lay *L = k->L;
    unsigned P = w_ptr(w);
    int64_t tt = lay_off(L, "_KPRCB", "TimerTable");
    *time_field = 0;
    if (tt >= 0) {
        uint64_t off, size;
        unsigned bp, bl;
        if (!lay_field(L, "_KTIMER_TABLE", "TimerEntries", &off, &size, &bp, &bl))
            sc_die("ex_timer: _KTIMER_TABLE.TimerEntries missing");
        uint64_t esz = lay_size(L, "_KTIMER_TABLE_ENTRY");
        uint64_t n = size / esz;
        uint64_t base = k->prcb[0] + (uint64_t)tt + off;
        uint64_t eoff = lay_off_req(L, "_KTIMER_TABLE_ENTRY", "Entry");
        if (!S.timers_init) {
            for (unsigned c = 0; c < k->ncpu; c++) {
                uint64_t b = k->prcb[c] + (uint64_t)tt + off;
                for (uint64_t i = 0; i < n; i++)
                    w_list_init(w, b + i * esz + eoff);
            }
            S.timers_init = true;
        }
        uint64_t e = base + (uint64_t)(hand % 256) * esz;
        int64_t to = lay_off(L, "_KTIMER_TABLE_ENTRY", "Time");
        if (to >= 0)
            *time_field = e + (uint64_t)to;
        return e + eoff;
    }
    uint64_t g = k_sym(k, "KiTimerTableListHead");
    if (!S.timers_init) {
        for (unsigned i = 0; i < 256; i++)
            w_list_init(w, g + (uint64_t)i * 2 * P);
        S.timers_init = true;
    }
    return g + (uint64_t)(hand % 256) * 2 * P;
}

uint64_t ex_timer(kern *k, uint64_t due_time, uint64_t dpc)
{
    ex_state(k);
    world *w = k->w;
    const lay *L = k->L;
    uint64_t t = w_alloc(w, lay_size(L, "_KTIMER"), 0);
    w_set(w, t, "_DISPATCHER_HEADER", "Type",
          (uint64_t)enum_or(L, "_KOBJECTS", "TimerNotificationObject", 8));
    w_try(w, t, "_DISPATCHER_HEADER", "Size", lay_size(L, "_KTIMER") / 4);
    w_try(w, t, "_DISPATCHER_HEADER", "Inserted", 1);
    w_set(w, t, "_DISPATCHER_HEADER", "SignalState", 0);
    w_list_init(w, t + lay_off_req(L, "_DISPATCHER_HEADER", "WaitListHead"));
    w_set(w, t, "_KTIMER", "DueTime", due_time);
    w_set(w, t, "_KTIMER", "Dpc", dpc);
    w_try(w, t, "_KTIMER", "Period", 0);
    unsigned hand = (unsigned)((due_time / 156250u) % 256u);
    uint64_t tf;
    uint64_t head = timer_list(k, hand, &tf);
    bool was_empty = w_get(w, head, w_ptr(w)) == head;
    w_list_tail(w, head, t + lay_off_req(L, "_KTIMER", "TimerListEntry"));
    if (tf && (was_empty || due_time < w_get(w, tf, 8)))
        w_put(w, tf, 8, due_time);
    mf("timer 0x%llx 0x%llx 0x%llx", (unsigned long long)t, (unsigned long long)due_time,
       (unsigned long long)dpc);
    return t;
}

void ex_finish(kern *k)
{
    if (S.k != k)
        return;
    world *w = k->w;
    for (unsigned i = 0; i < S.nres; i++) {
        ex_res *r = &S.res[i];
        mf("resource 0x%llx 0x%llx %u 0x%llx 0x%llx 0x%llx", (unsigned long long)r->addr,
           (unsigned long long)r->owner, r->nowners && r->exclusive ? 1u : 0u,
           (unsigned long long)w_field(w, r->addr, "_ERESOURCE", "NumberOfSharedWaiters"),
           (unsigned long long)w_field(w, r->addr, "_ERESOURCE", "NumberOfExclusiveWaiters"),
           (unsigned long long)w_field(w, r->addr, "_ERESOURCE", "ContentionCount"));
    }
}
