/* kpool.c: the executive pool (see kpool.h). Facts used (public: Windows Internals, the
 * "Interpreting !pool results" posts of seed 001, volatility's pool scanner):
 *  - the tracker table is an array of _POOL_TRACKER_TABLE (Key = tag) of PoolTrackTableSize
 *    entries at *PoolTrackTable; tags that do not fit go to the expansion table
 *    (*PoolTrackTableExpansion, PoolTrackTableExpansionSize entries) on builds that have it;
 *  - the big-pool table is an array of _POOL_TRACKER_BIG_PAGES at *PoolBigPageTable,
 *    PoolBigPageTableSize entries; Va bit 0 set marks a free entry; XP keeps NumberOfPages;
 *  - a classic pool page starts with a _POOL_HEADER; BlockSize and PreviousSize are in units of
 *    the header size; each header's PreviousSize equals the BlockSize of the header before it
 *    (0 for the first); PoolType 0 is a free block, else POOL_TYPE + 1;
 *  - a tag's high bit is PROTECTED_POOL. */
#include "kobj/kpool.h"

#include <ctype.h>
#include <stdio.h>

#include "kobj/kobj_int.h"
#include "mem/mem.h"
#include "sym/sym.h"
#include "image/pe.h"

#define PROTECTED_BIT 0x80000000u

/* ---- small helpers ----------------------------------------------------------------------- */

void nk_pool_tag_str(uint32_t key, char out[5])
{
    for (int i = 0; i < 4; i++) {
        unsigned c = (key >> (8 * i)) & 0xff;
        out[i] = (c >= 0x20 && c < 0x7f) ? (char)c : '?';
    }
    out[4] = 0;
}

static bool tag_printable(uint32_t key)
{
    key &= ~PROTECTED_BIT;
    if (!key) return false;
    for (int i = 0; i < 4; i++) {
        unsigned c = (key >> (8 * i)) & 0xff;
        if (c < 0x20 || c >= 0x7f) return false;
    }
    return true;
}

bool nk_pool_tag_parse(const char *s, uint32_t *key)
{
    if (!s || !*s) return false;
    if (s[0] == '0' && (s[1] == 'x' || s[1] == 'X') && s[2]) {
        char *end = NULL;
        unsigned long long v = strtoull(s + 2, &end, 16);
        if (end && !*end && v <= 0xffffffffull) {
            *key = (uint32_t)v;
            return true;
        }
    }
    size_t n = strlen(s);
    if (n > 4) return false;
    uint32_t k = 0;
    for (size_t i = 0; i < 4; i++) {
        unsigned c = i < n ? (unsigned char)s[i] : ' ';
        k |= (uint32_t)c << (8 * i);
    }
    *key = k;
    return true;
}

/* The value of a pointer-sized nt global ("PoolTrackTableSize"): its address and value. */
static nk_status global_val(ntkd_target *t, const char *name, uint64_t *va, uint64_t *v, nk_strbuf *why)
{
    nk_status st = nk_k_global(t, name, va);
    if (st != NTKD_OK) {
        nk_k_note(why, "%s", t->ctx->errmsg);
        return st;
    }
    if (nk_read_ptr(t, *va, v) != NTKD_OK) {
        char a[20];
        return nk_k_why_ln(t, why, NTKD_E_NOTPRESENT, "nt!%s at %s is not in the dump", name, nk_k_fmt(t, *va, a));
    }
    return NTKD_OK;
}

/* Reads `count` entries of `esz` bytes from `table` in chunks; fn gets each readable entry.
 * Stops at the first chunk that is not in the dump (noted in why). Returns entries read. */
typedef void (*entry_fn)(void *u, uint64_t addr, const uint8_t *e);
static uint64_t read_entries(ntkd_target *t, uint64_t table, uint64_t count, uint64_t esz, entry_fn fn, void *u,
                             const char *what, nk_strbuf *why)
{
    if (!esz || !count) return 0;
    const size_t chunk_entries = (size_t)(0x10000 / esz ? 0x10000 / esz : 1);
    uint8_t *buf = malloc(chunk_entries * esz);
    if (!buf) return 0;
    uint64_t done = 0;
    while (done < count) {
        uint64_t n = count - done;
        if (n > chunk_entries) n = chunk_entries;
        uint64_t at = table + done * esz;
        size_t got = 0;
        nk_read_virt(t, at, buf, (size_t)(n * esz), &got);
        uint64_t whole = got / esz;
        for (uint64_t i = 0; i < whole; i++) fn(u, at + i * esz, buf + i * esz);
        done += whole;
        if (whole < n) {
            char a[20];
            nk_k_note(why, "%s: entries from %s on are not in the dump (%llu of %llu entries read)", what,
                     nk_k_fmt(t, table + done * esz, a), (unsigned long long)done, (unsigned long long)count);
            break;
        }
    }
    free(buf);
    return done;
}

/* ---- tracker tables ---------------------------------------------------------------------- */

typedef struct track_ctx {
    nk_kfield key, npa, npf, npb, pa, pf, pb;
    uint64_t esz;
    nk_pool_tag *v;
    size_t n, cap;
    size_t *hash; /* index+1, open addressing */
    size_t hcap;
    bool nomem;
    uint64_t skipped;
} track_ctx;

static size_t hslot(uint32_t key, size_t cap) { return (size_t)((key * 0x9e3779b1u) & (cap - 1)); }

static nk_pool_tag *track_get(track_ctx *c, uint32_t key)
{
    if (c->n * 2 + 2 > c->hcap) {
        size_t ncap = c->hcap ? c->hcap * 2 : 256;
        size_t *nh = calloc(ncap, sizeof *nh);
        if (!nh) {
            c->nomem = true;
            return NULL;
        }
        for (size_t i = 0; i < c->n; i++) {
            size_t s = hslot(c->v[i].key, ncap);
            while (nh[s]) s = (s + 1) & (ncap - 1);
            nh[s] = i + 1;
        }
        free(c->hash);
        c->hash = nh;
        c->hcap = ncap;
    }
    size_t s = hslot(key, c->hcap);
    while (c->hash[s]) {
        if (c->v[c->hash[s] - 1].key == key) return &c->v[c->hash[s] - 1];
        s = (s + 1) & (c->hcap - 1);
    }
    if (!nk_grow((void **)&c->v, &c->cap, c->n + 1, sizeof *c->v)) {
        c->nomem = true;
        return NULL;
    }
    nk_pool_tag *p = &c->v[c->n];
    memset(p, 0, sizeof *p);
    p->key = key;
    nk_pool_tag_str(key, p->tag);
    c->hash[s] = ++c->n;
    return p;
}

static void track_entry(void *u, uint64_t addr, const uint8_t *e)
{
    (void)addr;
    track_ctx *c = u;
    uint32_t raw = (uint32_t)nk_k_fget_buf(e, c->esz, &c->key);
    if (!raw) return;
    if (!tag_printable(raw)) {
        c->skipped++;
        return;
    }
    uint64_t npa = nk_k_fget_buf(e, c->esz, &c->npa), npf = nk_k_fget_buf(e, c->esz, &c->npf), npb = nk_k_fget_buf(e, c->esz, &c->npb);
    uint64_t pa = nk_k_fget_buf(e, c->esz, &c->pa), pf = nk_k_fget_buf(e, c->esz, &c->pf), pb = nk_k_fget_buf(e, c->esz, &c->pb);
    if (!npa && !npf && !npb && !pa && !pf && !pb) return;
    nk_pool_tag *p = track_get(c, raw & ~PROTECTED_BIT);
    if (!p) return;
    p->protected_ |= (raw & PROTECTED_BIT) != 0;
    p->np_allocs += npa;
    p->np_frees += npf;
    p->np_bytes += npb;
    p->p_allocs += pa;
    p->p_frees += pf;
    p->p_bytes += pb;
}

/* Reads one tracker table given by a pair of globals; *table_out / *count_out get the table
 * address and the entries read (after the cap); 0 when not read. */
static void read_track_table(ntkd_target *t, track_ctx *c, const char *gtab, const char *gsize, bool optional,
                             uint64_t *table_out, uint64_t *count_out, nk_strbuf *why)
{
    uint64_t tva = 0, sva = 0, table = 0, count = 0;
    if (table_out) *table_out = 0;
    if (count_out) *count_out = 0;
    if (optional && (nk_k_global(t, gtab, &tva) != NTKD_OK || nk_k_global(t, gsize, &sva) != NTKD_OK)) return;
    if (global_val(t, gtab, &tva, &table, why) != NTKD_OK) return;
    if (global_val(t, gsize, &sva, &count, why) != NTKD_OK) return;
    if (!table || !count) {
        if (!optional) nk_k_note(why, "nt!%s is empty (pool tagging off?)", gtab);
        return;
    }
    if (count > NK_POOL_MAX_TRACK) {
        char a[20];
        nk_k_note(why, "nt!%s (at %s) is 0x%llx: implausible, reading at most 0x%x entries", gsize,
                 nk_k_fmt(t, sva, a), (unsigned long long)count, NK_POOL_MAX_TRACK);
        count = NK_POOL_MAX_TRACK;
    }
    char what[64];
    snprintf(what, sizeof what, "nt!%s", gtab);
    uint64_t got = read_entries(t, table, count, c->esz, track_entry, c, what, why);
    if (table_out) *table_out = table;
    if (count_out) *count_out = got ? count : 0;
}

static nk_status track_init(ntkd_target *t, track_ctx *c, nk_strbuf *why)
{
    memset(c, 0, sizeof *c);
    const char *T = "_POOL_TRACKER_TABLE";
    if (nk_k_sizeof(t, T, &c->esz) != NTKD_OK || nk_k_field(t, T, "Key", &c->key) != NTKD_OK ||
        nk_k_field(t, T, "NonPagedAllocs", &c->npa) != NTKD_OK || nk_k_field(t, T, "NonPagedFrees", &c->npf) != NTKD_OK ||
        nk_k_field(t, T, "NonPagedBytes", &c->npb) != NTKD_OK || nk_k_field(t, T, "PagedAllocs", &c->pa) != NTKD_OK ||
        nk_k_field(t, T, "PagedFrees", &c->pf) != NTKD_OK || nk_k_field(t, T, "PagedBytes", &c->pb) != NTKD_OK) {
        nk_k_note(why, "%s", t->ctx->errmsg);
        return NTKD_E_NOTFOUND;
    }
    if (c->esz == 0 || c->esz > 0x1000) return nk_k_why_ln(t, why, NTKD_E_FORMAT, "%s has an implausible size", T);
    return NTKD_OK;
}

/* Hands the collected tags out (or fails with `what` when none). */
static nk_status track_finish(ntkd_target *t, track_ctx *c, nk_pool_tag **out, size_t *n, const char *what,
                              nk_strbuf *why)
{
    if (c->skipped) nk_k_note(why, "%llu tracker entries with unprintable tags skipped", (unsigned long long)c->skipped);
    free(c->hash);
    c->hash = NULL;
    if (c->nomem) {
        free(c->v);
        return nk_fail(t->ctx, NTKD_E_NOMEM, "out of memory reading the %s", what);
    }
    if (!c->n) {
        free(c->v);
        if (why && !why->len) nk_k_note(why, "no %s entries were read", what);
        return nk_fail(t->ctx, NTKD_E_NOTFOUND, "no %s entries were read", what);
    }
    *out = c->v;
    *n = c->n;
    return NTKD_OK;
}

/* The per-processor tables: nt!ExPoolTagTables[cpu] (see kpool.h), each of PoolTrackTableSize
 * entries; element 0 is PoolTrackTable itself and is not read twice. */
static void read_cpu_tables(ntkd_target *t, track_ctx *c, uint64_t main_table, uint64_t main_count,
                            nk_pool_track_info *info, nk_strbuf *why)
{
    uint64_t arr = 0;
    if (nk_k_global(t, "ExPoolTagTables", &arr) != NTKD_OK) return; /* XP: one table */
    info->has_cpu_tables = true;
    if (!main_count) return; /* PoolTrackTableSize unknown: nothing sized to read */
    unsigned ps = nk_k_ptrsize(t);
    unsigned ncpu = nk_k_ncpu(t);
    if (ncpu == 0) ncpu = 1;
    if (ncpu > NK_K_MAX_CPUS) ncpu = NK_K_MAX_CPUS;
    uint64_t seen[64];
    unsigned nseen = 0;
    for (unsigned cpu = 0; cpu < ncpu; cpu++) {
        uint64_t tab = 0;
        uint8_t b[8] = {0};
        size_t got = 0;
        nk_read_virt(t, arr + (uint64_t)cpu * ps, b, ps, &got);
        char a[20];
        if (got != ps) {
            nk_k_note(why, "nt!ExPoolTagTables[%u] at %s is not in the dump", cpu, nk_k_fmt(t, arr + (uint64_t)cpu * ps, a));
            continue;
        }
        for (unsigned i = 0; i < ps; i++) tab |= (uint64_t)b[i] << (8 * i);
        if (!tab) continue; /* a processor without a table of its own */
        if (tab == main_table) {
            info->cpu_tables++;
            continue; /* processor 0's table is PoolTrackTable: read once */
        }
        bool dup = false;
        for (unsigned i = 0; i < nseen; i++) dup |= seen[i] == tab;
        if (dup) {
            nk_k_note(why, "nt!ExPoolTagTables[%u] (%s) repeats another processor's table: not counted twice", cpu,
                     nk_k_fmt(t, tab, a));
            continue;
        }
        if (nseen < 64) seen[nseen++] = tab;
        char what[64];
        snprintf(what, sizeof what, "nt!ExPoolTagTables[%u]", cpu);
        uint64_t r = read_entries(t, tab, main_count, c->esz, track_entry, c, what, why);
        if (r) {
            info->tables++;
            info->cpu_tables++;
        } else {
            info->cpu_unreadable++;
        }
    }
}

nk_status nk_pool_tags_ex(ntkd_target *t, nk_pool_tag **out, size_t *n, nk_pool_track_info *info, nk_strbuf *why)
{
    *out = NULL;
    *n = 0;
    nk_pool_track_info dummy;
    if (!info) info = &dummy;
    memset(info, 0, sizeof *info);
    track_ctx c;
    nk_status st = track_init(t, &c, why);
    if (st != NTKD_OK) return st;
    uint64_t main_table = 0, main_count = 0, et = 0, ec = 0;
    read_track_table(t, &c, "PoolTrackTable", "PoolTrackTableSize", false, &main_table, &main_count, why);
    if (main_count) info->tables++;
    info->main_table = main_table;
    info->main_count = main_count;
    read_cpu_tables(t, &c, main_table, main_count, info, why);
    read_track_table(t, &c, "PoolTrackTableExpansion", "PoolTrackTableExpansionSize", true, &et, &ec, why);
    if (ec) info->expansion = true;
    return track_finish(t, &c, out, n, "pool tracker table", why);
}

nk_status nk_pool_tags(ntkd_target *t, nk_pool_tag **out, size_t *n, nk_strbuf *why)
{
    return nk_pool_tags_ex(t, out, n, NULL, why);
}

/* ---- the session tracker table ----------------------------------------------------------- */

/* The _MM_SESSION_SPACE of the current process (the crashing processor's current thread), else
 * of the first process on the process list that has one. */
static uint64_t find_session(ntkd_target *t, uint64_t *process, nk_strbuf *why)
{
    *process = 0;
    uint64_t prcb = 0, th = 0, pr = 0, sess = 0;
    unsigned cpu = t->d.bugcheck_cpu < nk_k_ncpu(t) ? t->d.bugcheck_cpu : 0;
    if (nk_k_prcb(t, cpu, &prcb) == NTKD_OK && nk_k_read(t, prcb, "_KPRCB", "CurrentThread", &th) == NTKD_OK && th &&
        nk_k_read(t, th, "_KTHREAD", "ApcState.Process", &pr) == NTKD_OK && pr &&
        nk_k_read(t, pr, "_EPROCESS", "Session", &sess) == NTKD_OK && sess) {
        *process = pr;
        return sess;
    }
    nk_kproc *ps = NULL;
    size_t np = 0;
    nk_strbuf w2 = {0};
    if (nk_k_processes(t, &ps, &np, &w2) == NTKD_OK) {
        for (size_t i = 0; i < np && !sess; i++)
            if (nk_k_read(t, ps[i].addr, "_EPROCESS", "Session", &sess) == NTKD_OK && sess) {
                *process = ps[i].addr;
                if (pr) {
                    char a[20];
                    nk_kproc cur;
                    bool named = nk_k_process_read(t, pr, &cur) == NTKD_OK && cur.image[0];
                    nk_k_note(why, "the current process (%s %s) is in no session: the session of %s is shown",
                             named ? cur.image : "EPROCESS", nk_k_fmt(t, pr, a), ps[i].image);
                }
            }
    }
    free(ps);
    nk_sb_free(&w2);
    return sess;
}

nk_status nk_pool_session_tags(ntkd_target *t, nk_pool_tag **out, size_t *n, nk_pool_session_info *info,
                               nk_strbuf *why)
{
    *out = NULL;
    *n = 0;
    nk_pool_session_info dummy;
    if (!info) info = &dummy;
    memset(info, 0, sizeof *info);
    info->session_id = UINT64_MAX;
    const char *S = "_MM_SESSION_SPACE";
    uint64_t gtab_va = 0, gsize_va = 0;
    bool has_gtab = nk_k_global(t, "ExpSessionPoolTrackTable", &gtab_va) == NTKD_OK;
    bool has_gsize = nk_k_global(t, "ExpSessionPoolTrackTableSize", &gsize_va) == NTKD_OK;
    nk_kfield pooltags;
    bool has_pooltags = nk_k_types(t) && nk_k_has(t, S, "PoolTags") && nk_k_field(t, S, "PoolTags", &pooltags) == NTKD_OK;
    if (!has_gtab && !has_pooltags)
        return nk_fail(t->ctx, NTKD_E_NOTFOUND,
                       "this build keeps no per-tag session pool table (nt has no ExpSessionPoolTrackTable and "
                        "_MM_SESSION_SPACE has no PoolTags)");
    track_ctx c;
    nk_status st = track_init(t, &c, why);
    if (st != NTKD_OK) return st;
    char a[20];
    uint64_t proc = 0;
    uint64_t sess = find_session(t, &proc, why);
    info->session = sess;
    info->process = proc;
    if (sess) {
        uint64_t id = 0;
        if (nk_k_read(t, sess, S, "SessionId", &id) == NTKD_OK) info->session_id = id;
    }
    /* the table */
    uint64_t table = 0, count = 0, cap = 0;
    if (has_gtab && nk_read_ptr(t, gtab_va, &table) == NTKD_OK && table) {
        snprintf(info->source, sizeof info->source, "nt!ExpSessionPoolTrackTable");
        /* 17763, 19041: the global points at the session's inline PoolTags array */
        if (sess && has_pooltags && pooltags.size != nk_k_ptrsize(t) && table == sess + pooltags.off)
            cap = pooltags.size / c.esz;
    } else if (has_pooltags && sess) {
        unsigned ps = nk_k_ptrsize(t);
        if (pooltags.size == ps) {
            if (nk_k_read(t, sess, S, "PoolTags", &table) != NTKD_OK) {
                nk_k_note(why, "%s", t->ctx->errmsg);
                return NTKD_E_NOTPRESENT;
            }
            snprintf(info->source, sizeof info->source, "_MM_SESSION_SPACE.PoolTags (%s)", nk_k_fmt(t, sess, a));
        } else {
            table = sess + pooltags.off;
            cap = pooltags.size / c.esz;
            snprintf(info->source, sizeof info->source, "_MM_SESSION_SPACE %s +0x%llx PoolTags", nk_k_fmt(t, sess, a),
                     (unsigned long long)pooltags.off);
        }
    }
    if (!table) {
        if (!sess) return nk_fail(t->ctx, NTKD_E_NOTFOUND, "no process of the dump is in a session (_EPROCESS.Session)");
        return nk_fail(t->ctx, NTKD_E_NOTFOUND, "the session tracker table is not set (null)");
    }
    /* its size */
    if (has_gsize) {
        if (nk_read_ptr(t, gsize_va, &count) != NTKD_OK) {
            nk_k_note(why, "nt!ExpSessionPoolTrackTableSize at %s is not in the dump", nk_k_fmt(t, gsize_va, a));
            count = cap;
        }
    } else {
        count = cap;
    }
    if (cap && count > cap) {
        nk_k_note(why, "nt!ExpSessionPoolTrackTableSize (at %s) is 0x%llx: implausible, larger than the PoolTags "
                      "array; reading its 0x%llx entries",
                 nk_k_fmt(t, gsize_va, a), (unsigned long long)count, (unsigned long long)cap);
        count = cap;
    } else if (count > NK_POOL_MAX_TRACK) {
        nk_k_note(why, "nt!ExpSessionPoolTrackTableSize (at %s) is 0x%llx: implausible, reading at most 0x%x entries",
                 nk_k_fmt(t, gsize_va, a), (unsigned long long)count, NK_POOL_MAX_TRACK);
        count = NK_POOL_MAX_TRACK;
    }
    info->table = table;
    info->count = count;
    if (count && read_entries(t, table, count, c.esz, track_entry, &c, "the session tracker table", why)) info->tables++;
    /* the session's expansion table */
    uint64_t xt = 0, xn = 0;
    if (sess && nk_k_has(t, S, "PoolTrackTableExpansion") &&
        nk_k_read(t, sess, S, "PoolTrackTableExpansion", &xt) == NTKD_OK && xt &&
        nk_k_read(t, sess, S, "PoolTrackTableExpansionSize", &xn) == NTKD_OK && xn) {
        if (xn > NK_POOL_MAX_TRACK) {
            nk_k_note(why, "_MM_SESSION_SPACE.PoolTrackTableExpansionSize (session at %s) is 0x%llx: implausible, reading "
                          "at most 0x%x entries",
                     nk_k_fmt(t, sess, a), (unsigned long long)xn, NK_POOL_MAX_TRACK);
            xn = NK_POOL_MAX_TRACK;
        }
        if (read_entries(t, xt, xn, c.esz, track_entry, &c, "the session expansion table", why)) info->tables++;
    }
    return track_finish(t, &c, out, n, "session pool tracker table", why);
}

/* ---- modules and owners ------------------------------------------------------------------ */

typedef struct mod_walk {
    ntkd_target *t;
    const char *T;
    uint64_t links_off;
    nk_pool_mod *v;
    size_t n, cap;
    bool nomem;
} mod_walk;

static bool mod_one(void *u, uint64_t entry)
{
    mod_walk *m = u;
    uint64_t e = entry - m->links_off;
    uint64_t base = 0, size = 0, name_off = 0;
    if (nk_k_read(m->t, e, m->T, "DllBase", &base) != NTKD_OK) return true;
    if (nk_k_read(m->t, e, m->T, "SizeOfImage", &size) != NTKD_OK) return true;
    if (!base || !size || size > 0x40000000ull) return true;
    if (!nk_grow((void **)&m->v, &m->cap, m->n + 1, sizeof *m->v)) {
        m->nomem = true;
        return false;
    }
    nk_pool_mod *p = &m->v[m->n++];
    memset(p, 0, sizeof *p);
    p->base = base;
    p->size = size;
    if (nk_k_offset(m->t, m->T, "BaseDllName", &name_off) != NTKD_OK ||
        !nk_k_ustr_buf(m->t, e + name_off, p->name, sizeof p->name) || !p->name[0])
        snprintf(p->name, sizeof p->name, "module_%llx", (unsigned long long)base);
    return m->n < 100000;
}

nk_status nk_pool_modules(ntkd_target *t, nk_pool_mod **out, size_t *n, nk_strbuf *why)
{
    *out = NULL;
    *n = 0;
    uint64_t head = 0;
    if (nk_k_global(t, "PsLoadedModuleList", &head) != NTKD_OK) {
        if (!t->d.ps_loaded_module_list) return nk_k_why_ln(t, why, NTKD_E_NOTFOUND, "PsLoadedModuleList is not known");
        head = t->d.ps_loaded_module_list;
    }
    mod_walk m = {.t = t, .T = "_KLDR_DATA_TABLE_ENTRY"};
    if (!nk_k_has(t, m.T, "DllBase")) m.T = "_LDR_DATA_TABLE_ENTRY";
    if (nk_k_offset(t, m.T, "InLoadOrderLinks", &m.links_off) != NTKD_OK) {
        nk_k_note(why, "%s", t->ctx->errmsg);
        return NTKD_E_NOTFOUND;
    }
    nk_status st = nk_k_list(t, head, 100000, mod_one, &m, why);
    nk_k_note_eol(why); /* nk_k_list's message is not a line */
    if (m.nomem) {
        free(m.v);
        return nk_fail(t->ctx, NTKD_E_NOMEM, "out of memory");
    }
    (void)st;
    *out = m.v;
    *n = m.n;
    return m.n ? NTKD_OK : nk_k_why_ln(t, why, NTKD_E_NOTFOUND, "no module was read from PsLoadedModuleList");
}

typedef struct own_ctx {
    nk_pool_tag *tags;
    size_t n;
    size_t *hash; /* tag index + 1 by key */
    size_t hcap;
} own_ctx;

static void own_hit(own_ctx *c, uint32_t key, size_t mod, uint64_t va, bool store)
{
    size_t s = hslot(key, c->hcap);
    while (c->hash[s]) {
        nk_pool_tag *p = &c->tags[c->hash[s] - 1];
        if (p->key == key) {
            if (p->nowners && p->owners[p->nowners - 1].mod == mod) return;
            if (p->nowners < NK_POOL_MAX_OWNERS) {
                p->owners[p->nowners].mod = mod;
                p->owners[p->nowners].hit = va;
                p->owners[p->nowners].from_store = store;
                p->nowners++;
            }
            return;
        }
        s = (s + 1) & (c->hcap - 1);
    }
}

/* Scans `len` bytes at va (with up to 3 bytes of the previous chunk before, `carry`). */
static void own_scan(own_ctx *c, size_t mod, uint64_t va, const uint8_t *p, size_t len, bool store)
{
    for (size_t i = 0; i + 4 <= len; i++) {
        uint32_t k = nk_le32(p + i);
        if (!(k & 0xe0e0e0e0u)) continue; /* quick reject: some byte below 0x20 */
        if (!c->hash[hslot(k, c->hcap)]) continue;
        own_hit(c, k, mod, va + i, store);
    }
}

nk_status nk_pool_find_owners(ntkd_target *t, nk_pool_tag *tags, size_t n, const nk_pool_mod *mods, size_t nmods,
                              nk_strbuf *why)
{
    own_ctx c = {.tags = tags, .n = n};
    c.hcap = 64;
    while (c.hcap < n * 2 + 2) c.hcap *= 2;
    c.hash = calloc(c.hcap, sizeof *c.hash);
    if (!c.hash) return nk_fail(t->ctx, NTKD_E_NOMEM, "out of memory");
    for (size_t i = 0; i < n; i++) {
        tags[i].nowners = 0;
        if (!tag_printable(tags[i].key)) continue;
        size_t s = hslot(tags[i].key, c.hcap);
        while (c.hash[s]) s = (s + 1) & (c.hcap - 1);
        c.hash[s] = i + 1;
    }
    uint8_t *buf = malloc(0x1000 + 3);
    if (!buf) {
        free(c.hash);
        return nk_fail(t->ctx, NTKD_E_NOMEM, "out of memory");
    }
    nk_strbuf miss = {0};
    size_t nmiss_mods = 0;
    uint64_t scanned = 0;
    uint64_t missing_all = 0;
    for (size_t m = 0; m < nmods; m++) {
        uint64_t base = mods[m].base, size = mods[m].size;
        if (size > 0x10000000ull) size = 0x10000000ull;
        uint64_t missing = 0, from_store = 0;
        nk_pe *pe = NULL;
        bool pe_tried = false;
        size_t carry = 0;
        for (uint64_t off = 0; off < size; off += 0x1000) {
            if (++scanned > NK_POOL_MAX_OWNER_PAGES) {
                nk_k_note(why, "the tag search stopped after 0x%x image pages (in %s)", NK_POOL_MAX_OWNER_PAGES, mods[m].name);
                m = nmods;
                break;
            }
            size_t want = (size_t)(size - off < 0x1000 ? size - off : 0x1000);
            size_t got = 0;
            nk_read_virt(t, base + off, buf + carry, want, &got);
            bool store = false;
            if (got < want) {
                if (!pe_tried) {
                    pe_tried = true;
                    uint64_t pbase = 0;
                    pe = nk_sym_image_at(t, base, &pbase);
                    if (pe && (nk_pe_is_mem_layout(pe) || pbase != base)) pe = NULL;
                }
                size_t got2 = 0;
                if (pe && nk_pe_read(pe, (uint32_t)off, buf + carry, want, &got2) == NTKD_OK && got2 == want) {
                    got = want;
                    store = true;
                    from_store++;
                } else {
                    missing++;
                }
            }
            if (got == want) {
                own_scan(&c, m, base + off - carry, buf, carry + want, store);
                /* keep the last three bytes for a tag that straddles pages */
                size_t tot = carry + want;
                carry = tot >= 3 ? 3 : tot;
                memmove(buf, buf + tot - carry, carry);
            } else {
                carry = 0;
            }
        }
        if (missing && m < nmods) {
            if (nmiss_mods < 4)
                nk_sb_printf(&miss, "%s%s %llu/%llu", nmiss_mods ? ", " : "", mods[m].name, (unsigned long long)missing,
                             (unsigned long long)((size + 0xfff) / 0x1000));
            nmiss_mods++;
            missing_all += missing;
        }
        (void)from_store;
    }
    if (nmiss_mods)
        nk_k_note(why, "the tag search skipped %llu image pages that neither the dump nor the symbol store holds "
                 "(%zu modules: %s%s)", (unsigned long long)missing_all, nmiss_mods, miss.s ? miss.s : "",
                 nmiss_mods > 4 ? ", ..." : "");
    nk_sb_free(&miss);
    free(buf);
    free(c.hash);
    return NTKD_OK;
}

/* ---- big-pool table ---------------------------------------------------------------------- */

typedef struct big_ctx {
    nk_kfield va, key, bytes, pages, ptype;
    bool has_bytes, has_type;
    unsigned ptr;
    uint64_t esz;
    nk_pool_bigtab *out;
    size_t cap;
    bool nomem;
    uint64_t junk;
} big_ctx;

static void big_entry(void *u, uint64_t addr, const uint8_t *e)
{
    big_ctx *c = u;
    uint64_t va = nk_k_fget_buf(e, c->esz, &c->va);
    if (c->ptr == 4) va &= 0xffffffffull;
    if (va <= 1) return; /* never used */
    if (c->out->n >= NK_POOL_MAX_BIG) return;
    /* big allocations are page-aligned kernel addresses of a plausible size */
    uint64_t bytes = c->has_bytes ? nk_k_fget_buf(e, c->esz, &c->bytes) : nk_k_fget_buf(e, c->esz, &c->pages) * 0x1000;
    uint64_t kmin = c->ptr == 8 ? 0xffff800000000000ull : 0x80000000ull;
    uint64_t bmax = c->ptr == 8 ? 0x10000000000ull : 0x80000000ull;
    if (((va & ~1ull) & 0xfff) || (va & ~1ull) < kmin || !bytes || bytes > bmax) {
        c->junk++;
        return;
    }
    if (!nk_grow((void **)&c->out->v, &c->cap, c->out->n + 1, sizeof *c->out->v)) {
        c->nomem = true;
        return;
    }
    nk_pool_big *b = &c->out->v[c->out->n++];
    memset(b, 0, sizeof *b);
    b->entry = addr;
    b->free_ = va & 1;
    b->va = va & ~1ull;
    uint32_t key = (uint32_t)nk_k_fget_buf(e, c->esz, &c->key);
    b->key = key & ~PROTECTED_BIT;
    b->protected_ = (key & PROTECTED_BIT) != 0;
    b->bytes = bytes;
    if (c->has_type) {
        b->has_type = true;
        b->pool_type = (uint32_t)nk_k_fget_buf(e, c->esz, &c->ptype);
    }
}

nk_status nk_pool_big_table(ntkd_target *t, nk_pool_bigtab *out, nk_strbuf *why)
{
    memset(out, 0, sizeof *out);
    big_ctx c;
    memset(&c, 0, sizeof c);
    c.out = out;
    c.ptr = t->d.is64 ? 8 : 4;
    const char *T = "_POOL_TRACKER_BIG_PAGES";
    if (nk_k_sizeof(t, T, &c.esz) != NTKD_OK || nk_k_field(t, T, "Va", &c.va) != NTKD_OK ||
        nk_k_field(t, T, "Key", &c.key) != NTKD_OK) {
        nk_k_note(why, "%s", t->ctx->errmsg);
        return NTKD_E_NOTFOUND;
    }
    c.has_bytes = nk_k_has(t, T, "NumberOfBytes") && nk_k_field(t, T, "NumberOfBytes", &c.bytes) == NTKD_OK;
    if (!c.has_bytes && (!nk_k_has(t, T, "NumberOfPages") || nk_k_field(t, T, "NumberOfPages", &c.pages) != NTKD_OK))
        return nk_k_why_ln(t, why, NTKD_E_NOTFOUND, "%s has neither NumberOfBytes nor NumberOfPages in this build's types", T);
    c.has_type = nk_k_has(t, T, "PoolType") && nk_k_field(t, T, "PoolType", &c.ptype) == NTKD_OK;
    if (c.esz == 0 || c.esz > 0x100) return nk_k_why_ln(t, why, NTKD_E_FORMAT, "%s has an implausible size", T);
    uint64_t tva = 0, sva = 0;
    nk_status st = global_val(t, "PoolBigPageTable", &tva, &out->table, why);
    if (st != NTKD_OK) return st;
    st = global_val(t, "PoolBigPageTableSize", &sva, &out->count, why);
    if (st != NTKD_OK) return st;
    uint64_t count = out->count;
    if (!out->table || !count) {
        nk_k_note(why, "nt!PoolBigPageTable is empty");
        return NTKD_OK;
    }
    if (count > NK_POOL_MAX_BIG) {
        char a[20];
        nk_k_note(why, "nt!PoolBigPageTableSize (at %s) is 0x%llx: implausible, reading at most 0x%x entries",
                 nk_k_fmt(t, sva, a), (unsigned long long)count, NK_POOL_MAX_BIG);
        count = NK_POOL_MAX_BIG;
    }
    out->read = read_entries(t, out->table, count, c.esz, big_entry, &c, "nt!PoolBigPageTable", why);
    if (c.junk)
        nk_k_note(why, "nt!PoolBigPageTable: %llu entries skipped (not a page-aligned kernel address, or an implausible size)",
                 (unsigned long long)c.junk);
    if (c.nomem) {
        nk_pool_bigtab_free(out);
        return nk_fail(t->ctx, NTKD_E_NOMEM, "out of memory reading the big-pool table");
    }
    return NTKD_OK;
}

void nk_pool_bigtab_free(nk_pool_bigtab *b)
{
    if (!b) return;
    free(b->v);
    b->v = NULL;
    b->n = 0;
}

bool nk_pool_segment_heap(ntkd_target *t)
{
    uint64_t sz = 0;
    char save[sizeof t->ctx->errmsg];
    memcpy(save, t->ctx->errmsg, sizeof save);
    bool seg = nk_k_sizeof(t, "_SEGMENT_HEAP", &sz) == NTKD_OK && nk_k_sizeof(t, "_POOL_DESCRIPTOR", &sz) != NTKD_OK;
    memcpy(t->ctx->errmsg, save, sizeof save);
    return seg;
}

/* ---- classic pool pages ------------------------------------------------------------------ */

nk_status nk_pool_walker_init(ntkd_target *t, nk_pool_walker *h)
{
    const char *T = "_POOL_HEADER";
    uint64_t sz = 0;
    memset(h, 0, sizeof *h);
    h->t = t;
    if (nk_k_sizeof(t, T, &sz) != NTKD_OK || nk_k_field(t, T, "PreviousSize", &h->prev) != NTKD_OK ||
        nk_k_field(t, T, "PoolIndex", &h->idx) != NTKD_OK || nk_k_field(t, T, "BlockSize", &h->bsz) != NTKD_OK ||
        nk_k_field(t, T, "PoolType", &h->type) != NTKD_OK || nk_k_field(t, T, "PoolTag", &h->tag) != NTKD_OK)
        return NTKD_E_NOTFOUND;
    if (sz != 8 && sz != 16) return nk_fail(t->ctx, NTKD_E_FORMAT, "_POOL_HEADER is 0x%llx bytes: not 8 or 16", (unsigned long long)sz);
    h->unit = (unsigned)sz;
    return NTKD_OK;
}

typedef struct rawhdr {
    unsigned prev, bsz, type, idx;
    uint32_t tag;
} rawhdr;

static rawhdr hdr_at(const nk_pool_walker *h, const uint8_t *buf, unsigned off)
{
    rawhdr r;
    const uint8_t *p = buf + off;
    size_t len = 0x1000 - off;
    r.prev = (unsigned)nk_k_fget_buf(p, len, &h->prev);
    r.bsz = (unsigned)nk_k_fget_buf(p, len, &h->bsz);
    r.type = (unsigned)nk_k_fget_buf(p, len, &h->type);
    r.idx = (unsigned)nk_k_fget_buf(p, len, &h->idx);
    r.tag = (uint32_t)nk_k_fget_buf(p, len, &h->tag);
    return r;
}

bool nk_pool_page_candidate(const nk_pool_walker *w, const uint8_t *buf)
{
    rawhdr r = hdr_at(w, buf, 0);
    if (r.prev || !r.bsz || r.bsz * w->unit > 0x1000) return false;
    if (r.bsz * w->unit == 0x1000) return true;
    rawhdr n = hdr_at(w, buf, r.bsz * w->unit);
    return n.prev == r.bsz;
}

/* True when a chain starting at `off` is consistent to the end of the page. */
static bool chain_to_end(const nk_pool_walker *h, const uint8_t *buf, unsigned off)
{
    unsigned last = 0;
    bool first = true;
    for (unsigned guard = 0; off < 0x1000 && guard < 0x1000; guard++) {
        rawhdr r = hdr_at(h, buf, off);
        if (!r.bsz || off + r.bsz * h->unit > 0x1000) return false;
        if (!first && r.prev != last) return false;
        if (r.type && !tag_printable(r.tag)) return false;
        first = false;
        last = r.bsz;
        off += r.bsz * h->unit;
    }
    return off == 0x1000;
}

static void add_block(nk_pool_page *p, uint64_t page, unsigned off, const rawhdr *r, unsigned unit, bool resync)
{
    if (p->n >= NK_POOL_MAX_BLOCKS) return;
    nk_pool_block *b = &p->b[p->n++];
    memset(b, 0, sizeof *b);
    b->addr = page + off;
    b->size = r->bsz * unit;
    b->prev_size = r->prev * unit;
    b->key = r->tag & ~PROTECTED_BIT;
    b->protected_ = (r->tag & PROTECTED_BIT) != 0;
    b->pool_type = (uint8_t)r->type;
    b->pool_index = (uint8_t)r->idx;
    b->free_ = r->type == 0;
    b->after_resync = resync;
    if (!b->free_ && !p->region) p->region = (r->type & 1) ? 1 : 2;
}

void nk_pool_walk_with(const nk_pool_walker *h, uint64_t page, const uint8_t *buf, nk_pool_page *out)
{
    ntkd_target *t = h->t;
    out->n = 0;
    out->corrupt = false;
    out->bad_hdr = 0;
    out->why[0] = 0;
    out->resync_at = 0;
    out->region = 0;
    out->page = page;
    out->unit = h->unit;
    unsigned off = 0, last = 0;
    char a[20];
    for (unsigned guard = 0; off < 0x1000 && guard < 0x1000; guard++) {
        rawhdr r = hdr_at(h, buf, off);
        if (r.prev != last) {
            out->corrupt = true;
            out->bad_hdr = page + off;
            snprintf(out->why, sizeof out->why, "Bad previous allocation size @%s, last size was %x",
                     nk_k_fmt(t, page + off, a), last);
            break;
        }
        if (!r.bsz) {
            out->corrupt = true;
            out->bad_hdr = page + off;
            snprintf(out->why, sizeof out->why, "Bad allocation size @%s, zero is invalid", nk_k_fmt(t, page + off, a));
            break;
        }
        if (off + r.bsz * h->unit > 0x1000) {
            out->corrupt = true;
            out->bad_hdr = page + off;
            snprintf(out->why, sizeof out->why, "Bad allocation size @%s, too large (0x%x bytes past the page end)",
                     nk_k_fmt(t, page + off, a), off + r.bsz * h->unit - 0x1000);
            break;
        }
        add_block(out, page, off, &r, h->unit, false);
        last = r.bsz;
        off += r.bsz * h->unit;
    }
    if (out->corrupt) {
        /* the other direction: the first later header from which a consistent chain reaches
         * the end of the page */
        unsigned bad = (unsigned)(out->bad_hdr - page);
        for (unsigned c = bad + h->unit; c + h->unit <= 0x1000; c += h->unit) {
            if (!chain_to_end(h, buf, c)) continue;
            out->resync_at = page + c;
            unsigned o = c;
            for (unsigned guard = 0; o < 0x1000 && guard < 0x1000; guard++) {
                rawhdr r = hdr_at(h, buf, o);
                if (!r.bsz) break;
                add_block(out, page, o, &r, h->unit, true);
                o += r.bsz * h->unit;
            }
            break;
        }
    }
}

nk_status nk_pool_walk_buf(ntkd_target *t, uint64_t page, const uint8_t *buf, nk_pool_page *out)
{
    nk_pool_walker w;
    nk_status st = nk_pool_walker_init(t, &w);
    if (st != NTKD_OK) return st;
    nk_pool_walk_with(&w, page, buf, out);
    return NTKD_OK;
}

nk_status nk_pool_walk_page(ntkd_target *t, uint64_t addr, nk_pool_page *out)
{
    uint64_t page = addr & ~0xfffull;
    uint8_t *buf = malloc(0x1000);
    if (!buf) return nk_fail(t->ctx, NTKD_E_NOMEM, "out of memory");
    size_t got = 0;
    nk_read_virt(t, page, buf, 0x1000, &got);
    if (got < 0x1000) {
        char a[20];
        free(buf);
        return nk_fail(t->ctx, NTKD_E_NOTPRESENT, "the pool page %s is not in the dump%s", nk_k_fmt(t, page, a),
                       got ? " (only partly)" : "");
    }
    nk_status st = nk_pool_walk_buf(t, page, buf, out);
    free(buf);
    return st;
}

bool nk_pool_page_plausible(const nk_pool_page *p)
{
    if (!p->n) return false;
    if (p->b[0].prev_size != 0 || p->b[0].addr != p->page) return false;
    size_t before = 0;
    for (size_t i = 0; i < p->n; i++) before += !p->b[i].after_resync;
    for (size_t i = 0; i < p->n; i++)
        if (!p->b[i].free_ && !tag_printable(p->b[i].key | (p->b[i].protected_ ? PROTECTED_BIT : 0))) return false;
    if (!p->corrupt) return true;
    return before >= 2;
}

/* ---- kernel page enumeration ------------------------------------------------------------- */

typedef struct scan_ctx {
    ntkd_target *t;
    nk_pool_page_fn fn;
    void *u;
    uint64_t pages;
    bool stop;
    uint64_t missing_tables;
    nk_pagemask *collect; /* the first pass: where each page is, for the read-ahead */
} scan_ctx;

static const uint8_t *phys_page(ntkd_target *t, uint64_t pa)
{
    size_t avail = 0;
    const uint8_t *p = nk_phys_ptr(t, pa & ~0xfffull, &avail);
    return p && avail >= 0x1000 ? p : NULL;
}

static void visit(scan_ctx *s, uint64_t va, uint64_t pa)
{
    if (s->stop) return;
    const uint8_t *p = phys_page(s->t, pa);
    if (!p) return;
    if (s->collect) {
        nk_pagemask_set(s->collect, p);
        return;
    }
    s->pages++;
    if (!s->fn(s->u, va, p)) s->stop = true;
}

static void visit_large(scan_ctx *s, uint64_t va, uint64_t pa, uint64_t size)
{
    for (uint64_t o = 0; o < size && !s->stop; o += 0x1000) visit(s, va + o, pa + o);
}

static uint64_t sext48(uint64_t v) { return (v & 0x0000800000000000ull) ? (v | 0xffff000000000000ull) : v; }

/* A page-table page (physical address pa), counted missing when it is not in the dump. */
static const uint8_t *table(scan_ctx *s, uint64_t pa)
{
    const uint8_t *p = phys_page(s->t, pa);
    if (!p) s->missing_tables++;
    return p;
}

/* What the page-directory entry pde (mapping va, `large` bytes when a large page) maps: the
 * large page, or every present page of its page table of `esize`-byte entries; am masks an
 * entry's physical address. */
static void scan_pde(scan_ctx *s, uint64_t va, uint64_t pde, uint64_t am, unsigned esize, uint64_t large)
{
    if (pde & 0x80) {
        visit_large(s, va, pde & am & ~(large - 1), large);
        return;
    }
    const uint8_t *pt = table(s, pde & am);
    if (!pt) return;
    for (unsigned l = 0; l < 0x1000 / esize && !s->stop; l++) {
        uint64_t e1 = esize == 8 ? nk_le64(pt + 8 * l) : nk_le32(pt + 4 * l);
        if (e1 & 1) visit(s, va | (uint64_t)l << 12, e1 & am);
    }
}

static void scan_x64(scan_ctx *s)
{
    ntkd_target *t = s->t;
    const uint64_t AM = 0x000ffffffffff000ull;
    uint64_t root = t->d.dtb & AM;
    const uint8_t *l4 = table(s, root);
    if (!l4) return;
    for (unsigned i = 256; i < 512 && !s->stop; i++) {
        uint64_t e4 = nk_le64(l4 + 8 * i);
        if (!(e4 & 1) || (e4 & AM) == root) continue; /* not present, or the self-map */
        const uint8_t *l3 = table(s, e4 & AM);
        if (!l3) continue;
        for (unsigned j = 0; j < 512 && !s->stop; j++) {
            uint64_t e3 = nk_le64(l3 + 8 * j);
            if (!(e3 & 1)) continue;
            uint64_t va3 = sext48((uint64_t)i << 39 | (uint64_t)j << 30);
            if (e3 & 0x80) continue; /* 1 GB pages: not pool */
            const uint8_t *l2 = table(s, e3 & AM);
            if (!l2) continue;
            for (unsigned k = 0; k < 512 && !s->stop; k++) {
                uint64_t e2 = nk_le64(l2 + 8 * k);
                if (e2 & 1) scan_pde(s, va3 | (uint64_t)k << 21, e2, AM, 8, 0x200000);
            }
        }
    }
}

static void scan_pae(scan_ctx *s)
{
    ntkd_target *t = s->t;
    const uint64_t AM = 0x0000000ffffff000ull;
    uint8_t pdpt[32];
    size_t got = 0;
    if (nk_read_phys(t, t->d.dtb & ~0x1full, pdpt, sizeof pdpt, &got) != NTKD_OK || got < sizeof pdpt) {
        s->missing_tables++;
        return;
    }
    for (unsigned i = 2; i < 4 && !s->stop; i++) {
        uint64_t e3 = nk_le64(pdpt + 8 * i);
        if (!(e3 & 1)) continue;
        const uint8_t *pd = table(s, e3 & AM);
        if (!pd) continue;
        for (unsigned k = 0; k < 512 && !s->stop; k++) {
            uint64_t va2 = (uint64_t)i << 30 | (uint64_t)k << 21;
            if (va2 >= 0xc0000000ull && va2 < 0xc0800000ull) continue; /* the page-table self-map */
            uint64_t e2 = nk_le64(pd + 8 * k);
            if (e2 & 1) scan_pde(s, va2, e2, AM, 8, 0x200000);
        }
    }
}

static void scan_x86(scan_ctx *s)
{
    ntkd_target *t = s->t;
    const uint8_t *pd = table(s, t->d.dtb & ~0xfffull);
    if (!pd) return;
    for (unsigned k = 512; k < 1024 && !s->stop; k++) {
        uint64_t va2 = (uint64_t)k << 22;
        if (va2 >= 0xc0000000ull && va2 < 0xc0400000ull) continue;
        uint32_t e2 = nk_le32(pd + 4 * k);
        if (e2 & 1) scan_pde(s, va2, e2, 0xfffff000u, 4, 0x400000);
    }
}

static void scan_tables(scan_ctx *s)
{
    switch (s->t->d.paging) {
    case NK_PAGING_X64_4L: scan_x64(s); break;
    case NK_PAGING_X86_PAE: scan_pae(s); break;
    default: scan_x86(s); break;
    }
}

/* Every present kernel page, in page-table order. Two passes over the page tables: the first
 * only notes where each page lies in the dump, so that helper threads can map those pages
 * (nk_prefetch) while the second pass hands them to fn. */
nk_status nk_pool_scan_kernel_pages(ntkd_target *t, nk_pool_page_fn fn, void *u, uint64_t *npages, nk_strbuf *why)
{
    if (t->d.paging != NK_PAGING_X64_4L && t->d.paging != NK_PAGING_X86_PAE && t->d.paging != NK_PAGING_X86)
        return nk_k_why_ln(t, why, NTKD_E_UNSUPPORTED, "the kernel pages of this dump cannot be enumerated (%s)",
                        t->d.paging == NK_PAGING_NONE ? "no page tables" : "paging mode not supported by the pool scan");
    nk_pagemask where;
    nk_prefetch *pf = NULL;
    if (nk_pagemask_init(&where, t->file.data, t->file.size)) {
        scan_ctx first = {.t = t, .collect = &where};
        scan_tables(&first);
        pf = nk_prefetch_start(&where);
    }
    scan_ctx s = {.t = t, .fn = fn, .u = u};
    scan_tables(&s);
    nk_prefetch_stop(pf);
    nk_pagemask_free(&where);
    if (s.missing_tables)
        nk_k_note(why, "%llu page-table pages are not in the dump: the pages they map were not scanned",
                 (unsigned long long)s.missing_tables);
    if (npages) *npages = s.pages;
    return NTKD_OK;
}
