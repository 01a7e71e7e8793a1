/* pooltrack.c: the pool tracker tables besides nt!PoolTrackTable, for scene "pool" (called by
 * scene_pool once the main tracker table is written; issue 7, !poolused and !poolused 8).
 *
 * FACTS (what the tables are, per build) and where they come from:
 *  1. nt!ExPoolTagTables is an array of POINTERS, one per PROCESSOR (not per NUMA node):
 *     - ISF tables of the corpus (python over the ntkrnlmp.pdb ISF files): the symbol's extent (the
 *       distance to the next symbol) equals the extent of nt!KiProcessorBlock on every x64 build:
 *       0x800 bytes on 7601 (256 processors), 0x2800 on 17763 and 19041 (1280), 0x4000 on 22000
 *       (2048), while nt!KeNodeBlock spans 0x200 bytes (64 nodes) on all of them.
 *     - public decompiled listings of ntoskrnl routines in the `code` search corpus (the
 *       allocate/free tracking paths) index it with the current processor's KPRCB.Number, set
 *       its element 0 to PoolTrackTable at initialisation, create a processor's table with
 *       PoolTrackTableSize (+1) entries of _POOL_TRACKER_TABLE, and walk 0x800 elements when
 *       adding the tables to a crash dump (22000 era);
 *     - a public kdmp-parser based "poolused" tool (README in the code corpus) sums "the global
 *       and per-processor tables" of nt!ExPoolTagTables.
 *     So: ExPoolTagTables[cpu] -> that processor's table of PoolTrackTableSize entries, entry 0
 *     == PoolTrackTable (processor 0 counts into the global table). Each processor's table is
 *     slot-aligned with PoolTrackTable (a processor's empty slot takes the Key of the global
 *     table's same slot), so a tag sits at the same index in every table; a processor's counts
 *     may have more frees than allocations and "negative" byte counts (blocks freed on another
 *     processor than the one that allocated them): only the sum over the tables is meaningful.
 *     nt!KeNumberNodes plays no part: the scene leaves it alone (nothing else in the generator
 *     or libntkd reads it). XP's ntkrnlpa.pdb has no ExPoolTagTables: one table.
 *  2. Session pool (WinDbg docs, learn.microsoft.com .../debuggercmds/-poolused: "Bit 3 (0x8)
 *     Displays session pool instead of standard pool"; !session switches sessions):
 *     - 7601: nt!ExpSessionPoolTrackTable / ExpSessionPoolTrackTableSize / ...Mask point at the
 *       current session's table (session-space VA); the session's own expansion table is
 *       _MM_SESSION_SPACE.PoolTrackTableExpansion / PoolTrackTableExpansionSize;
 *     - 17763, 19041: the same globals; the table itself is the inline array
 *       _MM_SESSION_SPACE.PoolTags (8192 bytes at +0x3000 on 17763: 146 entries of 56 bytes,
 *       16384 bytes at +0x1000 on 19041), its size the power of two below what fits (public
 *       decompiled listings: Size = 128 for 146);
 *     - 22000: no ExpSessionPoolTrackTable; _MM_SESSION_SPACE.PoolTags is a POINTER to the
 *       table, ExpSessionPoolTrackTableSize (still a global) its entries;
 *     - XP (2600): no ExpSessionPoolTrackTable and no _MM_SESSION_SPACE.PoolTags: session pool
 *       is tracked per session in totals only; no per-tag session table (nothing written).
 *     The session is found through a process of the session (_EPROCESS.Session -> the
 *     _MM_SESSION_SPACE, SessionId): the scene gives csrss.exe session 1.
 *
 * What the scene writes (x64 builds with ExPoolTagTables, --cpus >= 2):
 *  - ExPoolTagTables[0] = PoolTrackTable; ExPoolTagTables[1..ncpu-1] = tables of the same size;
 *    'Leak', 'Toke', 'NfBf' counts moved in part from PoolTrackTable into processors 1 and 2
 *    (processor 2 only with --cpus >= 3; NfBf on processor 1 with more frees than allocations
 *    and a negative byte count), and a tag 'PrcT' counted on processor 1 only (its Key also in the global
 *    table's slot with zero counts, as Windows keeps it). The `pooltag` lines (pool.c, and
 *    PrcT's here) stay the SUMS over the tables.
 *  - a session (csrss.exe's _EPROCESS.Session) with a tracker table and an expansion table
 *    holding session tags.
 * Hostile (--hostile any): the last processor's table pointer leads into a page left out of
 * the dump, ExpSessionPoolTrackTableSize gets an absurd value.
 *
 * Manifest lines (scene.h):
 *   pooltagcpu <cpu> <tag> <np_allocs> <np_frees> <np_bytes> <p_allocs> <p_frees> <p_bytes>
 *   sesstag <tag> <np_allocs> <np_frees> <np_bytes> <p_allocs> <p_frees> <p_bytes>
 *   pooltables <n>                   tracker tables !poolused sums (distinct, non-null)
 *   session <id> <mm_session_space> <process>
 *   hostile pool_cpu_table_missing <va>   hostile pool_session_size <global va>
 */
#include "scene.h"

#include <string.h>

typedef struct cnt {
    uint64_t v[6]; /* np allocs, frees, bytes, p allocs, frees, bytes */
} cnt;

static const char *const TF[6] = {"NonPagedAllocs", "NonPagedFrees", "NonPagedBytes",
                                  "PagedAllocs",    "PagedFrees",    "PagedBytes"};

/* Mask to the field's size (win7's allocation counters are 32-bit). */
static uint64_t fmask(const lay *L, const char *f, uint64_t v)
{
    uint64_t off, size;
    unsigned bp, bl;
    if (!lay_field(L, "_POOL_TRACKER_TABLE", f, &off, &size, &bp, &bl) || size >= 8)
        return v;
    return v & ((1ull << (8 * size)) - 1);
}

static void put_counts(world *w, uint64_t e, const char *tag, const cnt *c)
{
    const lay *L = w_lay(w);
    w_set(w, e, "_POOL_TRACKER_TABLE", "Key", sc_tag(tag));
    for (int i = 0; i < 6; i++)
        w_set(w, e, "_POOL_TRACKER_TABLE", TF[i], fmask(L, TF[i], c->v[i]));
}

static cnt get_counts(world *w, uint64_t e)
{
    cnt c;
    for (int i = 0; i < 6; i++)
        c.v[i] = w_field(w, e, "_POOL_TRACKER_TABLE", TF[i]);
    return c;
}

/* The slot of `tag` in a table of n entries (SC_NONE when absent). */
static uint64_t slot_of(world *w, uint64_t table, uint64_t n, uint64_t esz, const char *tag)
{
    for (uint64_t i = 0; i < n; i++)
        if ((uint32_t)w_field(w, table + i * esz, "_POOL_TRACKER_TABLE", "Key") == sc_tag(tag))
            return i;
    return SC_NONE;
}

static uint64_t free_slot(world *w, uint64_t table, uint64_t n, uint64_t esz, uint32_t key)
{
    uint64_t s = ((uint64_t)key * 0x9e3779b1u >> 7) & (n - 1);
    for (uint64_t i = 0; i < n; i++, s = (s + 1) & (n - 1))
        if (!w_field(w, table + s * esz, "_POOL_TRACKER_TABLE", "Key"))
            return s;
    sc_die("pooltrack: tracker table full");
}

static void mf_counts(const char *kind, int cpu, const char *tag, const cnt *c)
{
    char pre[32] = "";
    if (cpu >= 0)
        snprintf(pre, sizeof pre, "%d ", cpu);
    mf("%s %s%s %#llx %#llx %#llx %#llx %#llx %#llx", kind, pre, tag, (unsigned long long)c->v[0],
       (unsigned long long)c->v[1], (unsigned long long)c->v[2], (unsigned long long)c->v[3],
       (unsigned long long)c->v[4], (unsigned long long)c->v[5]);
}

/* ---- per-processor tables */
static void cpu_tables(kern *k, const sc_base *b, uint64_t table, uint64_t nslots)
{
    world *w = k->w;
    const lay *L = w_lay(w);
    const bool hostile = b->o && b->o->hostile;
    uint64_t arr = k_sym_opt(k, "ExPoolTagTables");
    if (arr == SC_NONE || w_ptr(w) != 8) {
        mf("pooltables 1");
        return;
    }
    uint64_t esz = lay_size(L, "_POOL_TRACKER_TABLE");
    unsigned ncpu = k->ncpu;
    w_pointer(w, arr, table); /* processor 0 counts into the global table */
    uint64_t tabs[32] = {table};
    for (unsigned c = 1; c < ncpu && c < 32; c++) {
        tabs[c] = w_alloc(w, (nslots + 1) * esz, SC_PAGE);
        w_pointer(w, arr + 8ull * c, tabs[c]);
    }
    unsigned ntab = ncpu < 32 ? ncpu : 32;
    /* moves: tag, processor, and the part of each count that processor holds (v: counts to
     * move; a processor with more frees than allocations gets them here) */
    struct mv {
        const char *tag;
        unsigned cpu;
        cnt part; /* allocs/frees/bytes that processor holds */
    } mv[] = {
        {"Leak", 1, {{0x150, 0x8, 0x150 * 0x1000ull - 0x8 * 0x1000ull, 0, 0, 0}}},
        {"Leak", 2, {{0x90, 0x3, 0x90 * 0x1000ull - 0x3 * 0x1000ull + 0x2a0, 0, 0, 0}}},
        {"Toke", 1, {{0, 0, 0, 0x200, 0x1c0, 0x40 * 0x800ull}}},
        /* processor 1 freed more NfBf blocks than it allocated: bytes "negative" */
        {"NfBf", 1, {{0x20, 0x60, (uint64_t)-(int64_t)(0x40 * 0x200ull), 0, 0, 0}}},
    };
    for (size_t i = 0; i < sizeof mv / sizeof mv[0]; i++) {
        if (mv[i].cpu >= ntab)
            continue;
        uint64_t s = slot_of(w, table, nslots, esz, mv[i].tag);
        if (s == SC_NONE)
            sc_die("pooltrack: tag %s is not in PoolTrackTable", mv[i].tag);
        cnt g = get_counts(w, table + s * esz);
        for (int f = 0; f < 6; f++)
            g.v[f] = fmask(L, TF[f], g.v[f] - mv[i].part.v[f]);
        put_counts(w, table + s * esz, mv[i].tag, &g);
        uint64_t ce = tabs[mv[i].cpu] + s * esz;
        cnt have = get_counts(w, ce);
        for (int f = 0; f < 6; f++)
            have.v[f] = fmask(L, TF[f], have.v[f] + mv[i].part.v[f]);
        put_counts(w, ce, mv[i].tag, &have);
    }
    /* PrcT: counted on processor 1 only; the global table keeps its Key with zero counts */
    if (ntab > 1) {
        cnt z = {{0, 0, 0, 0, 0, 0}}, c1 = {{0x31, 0x11, 0x20 * 0x180ull, 0x5, 0x1, 0x4 * 0x40ull}};
        uint64_t s = free_slot(w, table, nslots, esz, sc_tag("PrcT"));
        put_counts(w, table + s * esz, "PrcT", &z);
        put_counts(w, tabs[1] + s * esz, "PrcT", &c1);
        mf("pooltag PrcT %#llx %#llx %#llx %#llx %#llx %#llx -", (unsigned long long)c1.v[0],
           (unsigned long long)c1.v[1], (unsigned long long)c1.v[2], (unsigned long long)c1.v[3],
           (unsigned long long)c1.v[4], (unsigned long long)c1.v[5]);
    }
    /* the per-processor facts: every nonzero entry of every table */
    for (unsigned c = 0; c < ntab; c++)
        for (uint64_t i = 0; i < nslots; i++) {
            uint64_t e = tabs[c] + i * esz;
            uint32_t key = (uint32_t)w_field(w, e, "_POOL_TRACKER_TABLE", "Key");
            if (!key)
                continue;
            cnt v = get_counts(w, e);
            if (!v.v[0] && !v.v[1] && !v.v[2] && !v.v[3] && !v.v[4] && !v.v[5])
                continue;
            char t4[5];
            memcpy(t4, &key, 4);
            t4[4] = 0;
            mf_counts("pooltagcpu", (int)c, t4, &v);
        }
    unsigned counted = ntab;
    if (hostile && ntab > 1) {
        uint64_t hole = w_alloc(w, SC_PAGE, SC_PAGE);
        w_put(w, hole, 4, 0);
        w_drop(w, hole);
        w_pointer(w, arr + 8ull * (ntab - 1), hole);
        mf("hostile pool_cpu_table_missing %#llx", (unsigned long long)hole);
    }
    mf("pooltables %u", counted);
}

/* ---- the session tracker table */
static void session_table(kern *k, const sc_base *b)
{
    world *w = k->w;
    const lay *L = w_lay(w);
    const bool hostile = b->o && b->o->hostile;
    const char *S = "_MM_SESSION_SPACE";
    uint64_t g_tab = k_sym_opt(k, "ExpSessionPoolTrackTable");
    uint64_t g_size = k_sym_opt(k, "ExpSessionPoolTrackTableSize");
    uint64_t g_mask = k_sym_opt(k, "ExpSessionPoolTrackTableMask");
    uint64_t pt_off = 0, pt_size = 0;
    unsigned bp, bl;
    bool has_pooltags = lay_field(L, S, "PoolTags", &pt_off, &pt_size, &bp, &bl);
    if (!lay_has_type(L, S) || g_size == SC_NONE || (g_tab == SC_NONE && !has_pooltags) ||
        lay_off(L, "_EPROCESS", "Session") < 0 || !b->csrss)
        return; /* XP: no per-tag session table */
    uint64_t esz = lay_size(L, "_POOL_TRACKER_TABLE");
    uint64_t sess = w_alloc(w, lay_size(L, S), SC_PAGE);
    w_set(w, sess, S, "SessionId", 1);
    w_set(w, b->csrss, "_EPROCESS", "Session", sess);
    mf("session 0x1 %#llx %#llx", (unsigned long long)sess, (unsigned long long)b->csrss);
    uint64_t table, n;
    bool inline_ = has_pooltags && pt_size != w_ptr(w);
    if (inline_) {
        /* the array inside the session space: the power of two below what fits */
        uint64_t fit = pt_size / esz;
        n = 1;
        while (n * 2 <= fit)
            n *= 2;
        table = sess + pt_off;
    } else {
        n = 0x80;
        table = w_alloc(w, n * esz, SC_PAGE);
        if (has_pooltags)
            w_pointer(w, sess + pt_off, table); /* 22000: PoolTags points at the table */
    }
    if (g_tab != SC_NONE)
        w_pointer(w, g_tab, table);
    w_pointer(w, g_size, n);
    if (g_mask != SC_NONE)
        w_pointer(w, g_mask, n - 1);
    struct {
        const char *tag;
        cnt c;
        bool exp;
    } st[] = {
        {"Usqm", {{0, 0, 0, 0x1a0, 0x40, 0x160 * 0x30ull}}, false},
        {"Gfnt", {{0, 0, 0, 0x58, 0x10, 0x48 * 0x1c0ull}}, false},
        {"Ustm", {{0x22, 0x2, 0x20 * 0x80ull, 0x3, 0x3, 0}}, false},
        {"Gla5", {{0, 0, 0, 0x900, 0x100, 0x800 * 0x60ull}}, false},
        {"Uscu", {{0, 0, 0, 0x12, 0x2, 0x10 * 0x90ull}}, true},
    };
    const size_t nst = sizeof st / sizeof st[0];
    uint64_t exptab = 0, nexp = 4;
    bool have_exp = lay_off(L, S, "PoolTrackTableExpansion") >= 0 &&
                    lay_off(L, S, "PoolTrackTableExpansionSize") >= 0;
    if (have_exp) {
        exptab = w_alloc(w, nexp * esz, SC_PAGE);
        w_set(w, sess, S, "PoolTrackTableExpansion", exptab);
        w_set(w, sess, S, "PoolTrackTableExpansionSize", nexp);
    }
    size_t used = 0;
    for (size_t i = 0; i < nst; i++) {
        uint64_t e;
        if (st[i].exp) {
            if (!have_exp)
                continue;
            e = exptab + esz * used++;
        } else {
            e = table + free_slot(w, table, n, esz, sc_tag(st[i].tag)) * esz;
        }
        put_counts(w, e, st[i].tag, &st[i].c);
        mf_counts("sesstag", -1, st[i].tag, &st[i].c);
    }
    if (hostile) {
        w_pointer(w, g_size, 0x7fffffffffffull);
        mf("hostile pool_session_size %#llx", (unsigned long long)g_size);
    }
}

void scene_pooltrack(kern *k, const sc_base *b, uint64_t track_table, uint64_t nslots)
{
    cpu_tables(k, b, track_table, nslots);
    session_table(k, b);
}
