/* kverifier.h: Driver Verifier state read from a kernel dump (for `!verifier`, `!gflag` and the
 * 0x1/0x20/0xC4 diagnoses).
 *
 * What each build keeps (every offset from nt's types, never hard-coded):
 *   nt!MmVerifierData (_MM_DRIVER_VERIFIER_DATA): Level and the global counters (XP and later).
 *   Verified drivers: XP: nt!MiSuspectDriverList of _MI_VERIFIER_DRIVER_ENTRY (name, loads,
 *     image range, per-driver pool counters, the PoolHash table of outstanding allocations);
 *     Vista and later: nt!VfSuspectDriversList of _VF_SUSPECT_DRIVER_ENTRY (name, loads), the
 *     per-driver counters in _VF_TARGET_VERIFIED_DRIVER_DATA, reached through the AVL tree
 *     nt!ViTargetDriversAvl (_VF_AVL_TREE -> _VF_AVL_TABLE[] -> RTL_AVL_TABLE nodes holding
 *     a _VF_TARGET_DRIVER after their _RTL_BALANCED_LINKS).
 *   Logs (Vista and later; circular arrays, a pointer global, an index and a length):
 *     pool    nt!VfPoolTraces / VfPoolTracesIndex / VfPoolTracesLength (_VF_POOL_TRACE)
 *     IRP     nt!IovIrpTraces / IovIrpTracesIndex / IovIrpTracesLength (_IOV_IRP_TRACE; builds
 *             whose types lack it cannot decode the log)
 *     crit    nt!VfKeCriticalRegionTraces / ...Index / ...Length (_VF_KE_CRITICAL_REGION_TRACE)
 *   nt!NtGlobalFlag.
 * Every walk is capped and cycle-checked; what could not be read is a line in `why`. */
#ifndef NTKD_KVERIFIER_H
#define NTKD_KVERIFIER_H

#include "base/base.h"
#include "dump/dump.h"

#define NK_KV_MAX_DRIVERS 4096u
#define NK_KV_MAX_LOG 0x40000u     /* entries read from one log */
#define NK_KV_MAX_STACK 64u
#define NK_KV_MAX_ALLOCS 0x100000u /* PoolHash entries read per driver */

/* The counters of _MM_DRIVER_VERIFIER_DATA shown by !verifier, in display order. */
#define NK_KV_NSTATS 23
extern const char *const nk_kv_stat_names[NK_KV_NSTATS];

typedef struct nk_kv_driver {
    uint64_t entry;        /* _VF_SUSPECT_DRIVER_ENTRY / _MI_VERIFIER_DRIVER_ENTRY */
    uint64_t data;         /* _VF_TARGET_VERIFIED_DRIVER_DATA (Vista+) or the entry (XP); 0: none */
    uint64_t base, size;   /* image range when known (0 otherwise) */
    char name[128];
    uint32_t loads, unloads;
    bool has_pool;         /* the counters below were read */
    uint64_t cur_paged, cur_np, peak_paged, peak_np;
    uint64_t paged, np, peak_paged_b, peak_np_b;
} nk_kv_driver;

typedef struct nk_kv_state {
    uint64_t data_va;                  /* nt!MmVerifierData */
    uint32_t level;
    uint64_t stats[NK_KV_NSTATS];
    bool has_stat[NK_KV_NSTATS];
    const char *list_sym;              /* "VfSuspectDriversList" or "MiSuspectDriverList" */
    nk_kv_driver *drv;
    size_t ndrv;
    nk_strbuf why;                     /* one line per problem */
} nk_kv_state;

/* Reads MmVerifierData and the verified drivers. Fails (message in the context) only when
 * MmVerifierData cannot be read. */
nk_status nk_kv_read(ntkd_target *t, nk_kv_state *out);
void nk_kv_free(nk_kv_state *s);
/* The option names of a verifier level, one per set bit, into out (NULL-terminated). */
size_t nk_kv_level_names(uint32_t level, const char **out, size_t max);

/* The outstanding allocations of a verified driver. XP: its PoolHash table. Vista and later:
 * the tracker pages of its _VF_TARGET_VERIFIED_DRIVER_DATA (PoolPageHeaders: an SLIST of 4 KiB
 * pages of _VI_POOL_ENTRY, entry 0 the page header; PoolTrackers: an SLIST of the free entries;
 * every other entry with a VirtualAddress is in use; see kverifier.c). A build whose types lack a
 * needed field: NTKD_E_UNSUPPORTED with a message naming it. Problems with the pages (missing,
 * cyclic, counts that disagree) are lines in `why`; what could be read is returned. */
#define NK_KV_MAX_TRACKER_PAGES 4096u
typedef struct nk_kv_alloc {
    uint64_t va, size, tag, caller;
    uint64_t entry;        /* the PoolHash entry / _VI_POOL_ENTRY */
} nk_kv_alloc;
typedef struct nk_kv_track {
    const char *source;    /* "PoolHash" (XP) or "PoolTrackers" (Vista and later) */
    size_t pages, free, missing, unlisted_free;
    uint64_t pages_claimed, free_claimed; /* the SLIST headers' Depth */
    bool cut;              /* the page list could not be followed to its end */
} nk_kv_track;
nk_status nk_kv_allocs(ntkd_target *t, const nk_kv_driver *d, nk_kv_alloc **out, size_t *n, nk_strbuf *why);
nk_status nk_kv_allocs2(ntkd_target *t, const nk_kv_driver *d, nk_kv_alloc **out, size_t *n, nk_strbuf *why,
                        nk_kv_track *tr);

/* ---- logs ---------------------------------------------------------------------------------- */
typedef enum nk_kv_logkind { NK_KV_LOG_POOL, NK_KV_LOG_IRP, NK_KV_LOG_CRIT } nk_kv_logkind;

typedef struct nk_kv_entry {
    uint32_t slot;
    uint64_t thread;
    uint64_t addr;         /* pool: the block; IRP: the IRP */
    uint64_t size;         /* pool */
    int16_t kad, sad;      /* IRP: KernelApcDisable, SpecialApcDisable */
    uint8_t irql;
    uint64_t stack[NK_KV_MAX_STACK];
    unsigned nstack;
} nk_kv_entry;

typedef struct nk_kv_log {
    nk_kv_logkind kind;
    const char *array_sym, *type;
    uint64_t array, length, index;  /* as stored */
    uint64_t entry_size;
    nk_kv_entry *e;                 /* most recent first; empty slots skipped */
    size_t n;
    nk_strbuf why;
} nk_kv_log;

/* Reads a log. NTKD_E_NOTFOUND with a message ("this build keeps no critical-region log
 * (nt!VfKeCriticalRegionTraces is not in its symbols)") when the build lacks it. */
nk_status nk_kv_log_read(ntkd_target *t, nk_kv_logkind kind, nk_kv_log *out);
void nk_kv_log_free(nk_kv_log *l);
const char *nk_kv_log_name(nk_kv_logkind kind); /* "pool", "IRP", "critical-region" */

/* ---- critical-region balance --------------------------------------------------------------- */
typedef enum nk_kv_crit_op { NK_KV_CRIT_UNKNOWN, NK_KV_CRIT_ENTER, NK_KV_CRIT_LEAVE } nk_kv_crit_op;
/* An entry's operation (from its first frame's symbol: ...EnterCriticalRegion /
 * ...LeaveCriticalRegion) and the first frame outside nt (the calling driver). */
nk_kv_crit_op nk_kv_crit_classify(ntkd_target *t, const nk_kv_entry *e, uint64_t *driver_frame,
                                  char *module, size_t modlen);

typedef struct nk_kv_balance {
    uint64_t thread;
    char module[64];       /* "BadDriver" (lm name); "" when no frame outside nt */
    uint64_t frame;        /* a frame of the driver (the last enter's) */
    unsigned enters, leaves;
} nk_kv_balance;
/* Per (thread, module) enter/leave counts of a critical-region log (malloc'd array). */
nk_status nk_kv_crit_balance(ntkd_target *t, const nk_kv_log *l, nk_kv_balance **out, size_t *n);

/* nt!NtGlobalFlag. */
nk_status nk_kv_gflag(ntkd_target *t, uint32_t *flags);
typedef struct nk_kv_gflag_name {
    uint32_t bit;
    const char *abbr, *text;
} nk_kv_gflag_name;
extern const nk_kv_gflag_name nk_kv_gflags[32];

#endif
