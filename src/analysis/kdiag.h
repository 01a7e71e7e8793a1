/* kdiag.h: kernel diagnoses over the kernel-objects layer (src/kobj/kobj.h): the executive
 * resources and their wait-for graph (`!locks`, deadlocks), the per-processor DPC queues
 * (`!dpcs`), the timer table (`!timer`), and the facts `!analyze -v` adds for bug checks 0x9F
 * (a blocked power IRP), 0x133 (a DPC running too long) and hangs (deadlock cycles).
 *
 * Every offset comes from nt's types through nk_k_*; a field a build lacks is read in the
 * build's own form (ERESOURCE OwnerThreads[2] on XP, OwnerEntry on Vista and later; KPRCB
 * DpcListHead on XP, DpcData[] with a LIST_ENTRY head on 7/8, with a _KDPC_LIST on 8.1 and
 * later) or reported. Every walk is capped; a cut walk leaves a note in `why`.
 * The collectors share no state between calls (everything lives in the returned structures). */
#ifndef NTKD_KDIAG_H
#define NTKD_KDIAG_H

#include "base/base.h"
#include "dump/dump.h"

/* ---- executive resources ------------------------------------------------------------------ */

#define NK_KD_MAX_OWNERS 4096u   /* owner-table entries read per resource */
#define NK_KD_MAX_WAITERS 4096u  /* waiting threads kept per resource */

typedef struct nk_kd_owner {
    uint64_t raw;      /* OwnerThread as stored */
    uint64_t thread;   /* the ETHREAD: raw, or for an owner pointer the thread whose kernel stack
                          holds it; 0 when unresolved */
    uint32_t count;    /* OwnerCount */
    bool exclusive;    /* the entry of an exclusively owned resource's owner */
    bool owner_ptr;    /* ExSetResourceOwnerPointer: low two bits set, not a thread */
    bool waiting;      /* the entry's thread waits on this same resource (a pending shared
                          acquire takes its owner entry before it waits) */
} nk_kd_owner;

typedef struct nk_kd_res {
    uint64_t addr;
    int64_t active_count;
    uint32_t flag;
    bool exclusive;
    uint32_t contention, n_shared_waiters, n_excl_waiters; /* the counters as stored */
    uint64_t shared_obj, excl_obj;   /* SharedWaiters / ExclusiveWaiters pointers */
    nk_kd_owner *owners;
    size_t nowners;
    uint64_t *swait, *xwait;         /* threads found waiting (wait blocks), shared / exclusive */
    size_t nswait, nxwait;
    char sym[160];                   /* "nt!PiEngineLock" when the address is a symbol, else "" */
    char note[200];                  /* what could not be read, or "" */
    bool graph_only;                 /* internal to the scan */
} nk_kd_res;

typedef struct nk_kd_step {
    uint64_t thread;    /* waits for ... */
    uint64_t resource;  /* ... this resource, held by the next step's thread */
    bool via_owner_ptr; /* the holder was found through an owner pointer on its stack */
} nk_kd_step;

typedef struct nk_kd_cycle {
    nk_kd_step *steps;
    size_t n;           /* 1: a thread waiting for a resource it holds itself */
} nk_kd_cycle;

typedef struct nk_kd_locks {
    nk_kd_res *res;      /* the resources kept (held ones; every one with `all`; the one asked) */
    size_t nres;
    size_t total, held;  /* every resource on the list / held ones */
    nk_kd_cycle *cycles;
    size_t ncycles;
    size_t nthreads;     /* threads scanned for waits */
    bool threads_ok;     /* the thread scan ran (waiters and deadlocks are meaningful) */
    nk_strbuf why;       /* notes: cut walks, unreadable entries (one per line) */
} nk_kd_locks;

/* Walks nt!ExpSystemResourcesList. `only` != 0: keep that resource only (read directly when it
 * is not on the list); `all`: keep the resources nobody holds too. Waiters come from every
 * thread's wait blocks; cycles from the wait-for graph (waiter -> resource -> holder).
 * Fails (message in the context) only when nothing could be read. */
nk_status nk_kd_locks_scan(ntkd_target *t, uint64_t only, bool all, nk_kd_locks *out);
void nk_kd_locks_free(nk_kd_locks *l);

/* ---- DPCs --------------------------------------------------------------------------------- */

typedef struct nk_kd_dpc {
    unsigned cpu;
    bool threaded;
    uint64_t kdpc, routine, context;
} nk_kd_dpc;

typedef struct nk_kd_cpu {
    unsigned cpu;
    uint64_t prcb;
    bool dpc_active;          /* KPRCB DpcRoutineActive */
    bool has_dpc_active;
    uint64_t active_routine;  /* KPRCB CurrentDpcRoutine (19041+) or the routine of
                                 _KDPC_DATA.ActiveDpc (8.1+), 0 when the build records none */
    uint64_t active_dpc;      /* _KDPC_DATA.ActiveDpc, 0 when none */
    const char *active_src;   /* which field said so, "" when none */
    size_t first, n;          /* its DPCs in the nk_kd_dpcs array */
} nk_kd_cpu;

typedef struct nk_kd_dpcs {
    nk_kd_dpc *dpc;
    size_t ndpc;
    nk_kd_cpu *cpus;
    size_t ncpus;
    nk_strbuf why;
} nk_kd_dpcs;

/* The DPC queues of every processor (cpu < 0) or one. */
nk_status nk_kd_dpcs_scan(ntkd_target *t, int cpu, nk_kd_dpcs *out);
void nk_kd_dpcs_free(nk_kd_dpcs *d);

/* ---- timers ------------------------------------------------------------------------------- */

typedef struct nk_kd_timer {
    uint64_t addr;
    int cpu;              /* processor whose table holds it, -1 for XP's global table */
    unsigned table, slot; /* table index (19041+ has two per processor) and hand slot */
    uint64_t due;         /* DueTime (interrupt time, 100 ns) */
    uint32_t period;      /* ms, 0 for one-shot */
    uint64_t dpc;         /* the KDPC (decoded where the build encodes it), 0 when none */
    uint64_t routine;     /* its DeferredRoutine, 0 when none/unreadable */
    bool dpc_encoded;     /* KTIMER.Dpc was stored encoded (KiWaitNever/KiWaitAlways) and decoded */
    bool dpc_unknown;     /* stored encoded, but the keys are not in the dump: dpc holds the
                             stored value, routine is 0 */
} nk_kd_timer;

typedef struct nk_kd_timers {
    nk_kd_timer *tm;
    size_t n;
    nk_strbuf why;
} nk_kd_timers;

nk_status nk_kd_timers_scan(ntkd_target *t, nk_kd_timers *out);
void nk_kd_timers_free(nk_kd_timers *tt);

/* ---- helpers shared with the commands ----------------------------------------------------- */

/* "ndis!ndisMTimerObjectDpc" (or "ndis+0x1234", or the address) into buf. */
char *nk_kd_symbol(ntkd_target *t, uint64_t addr, char *buf, size_t len);
/* The module (as `lm` names it, without extension) holding addr into buf; "" when none. */
char *nk_kd_module(ntkd_target *t, uint64_t addr, char *buf, size_t len);
/* The image file name ("athwbx.sys") of the module holding addr; "" when none. */
char *nk_kd_image(ntkd_target *t, uint64_t addr, char *buf, size_t len);
/* "func" of "mod!func+0x12" ("" when there is no '!'). */
void nk_kd_func_of(const char *desc, char *out, size_t len);
/* Blames the module at addr: sets MODULE_NAME, IMAGE_NAME (and its time stamp), SYMBOL_NAME
 * (mod!func, or mod when func is ""), the bucket and the blame rule of the analysis. */
struct nk_analysis;
void nk_kd_blame(ntkd_target *t, struct nk_analysis *a, uint64_t addr, const char *mod, const char *func,
                 const char *bucket, const char *rule);

/* ---- !analyze -v -------------------------------------------------------------------------- */

struct nk_analysis;
/* Adds the kernel diagnosis to an analysis (called by nk_analyze before the bucket is made):
 * facts as "KEY: value" lines in a->kfacts, notes on what could not be read; for 0x9F/3 and
 * 0x133 the blamed driver (module, image, symbol, bucket). Kernel dumps only; does nothing on
 * others. */
void nk_kd_analyze(ntkd_target *t, struct nk_analysis *a);

#endif
