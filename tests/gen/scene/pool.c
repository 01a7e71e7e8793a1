/* pool.c: scene "pool" (issue 7; seeds 001 "Interpreting !pool results" I and II, 002's !pool,
 * 003's !poolused /t5 2 and the owner search with !for_each_module s -a).
 *
 * A nonpaged pool leak under tag 'Leak' by one driver (leakydrv.sys, whose code holds the tag
 * bytes as an immediate operand, "mov ecx,'Leak'", so a search of the loaded images finds it),
 * other tags of a few drivers (netfilt.sys, ACPI.sys) and of nt (planted in nt's code at the
 * RVA of a thread / token / section routine of the table), and one tag no image holds:
 *  - the pool tracker table (nt!PoolTrackTable, PoolTrackTableSize entries of
 *    _POOL_TRACKER_TABLE: Key, NonPaged/Paged Allocs/Frees/Bytes) and, where the build has it,
 *    the expansion table (nt!PoolTrackTableExpansion / PoolTrackTableExpansionSize) holding
 *    one more tag;
 *  - the big-pool table (nt!PoolBigPageTable, PoolBigPageTableSize entries of
 *    _POOL_TRACKER_BIG_PAGES: Va with bit 0 set for a free entry, Key, NumberOfBytes, or on XP
 *    NumberOfPages), with live big allocations whose first bytes are not a pool header (seed 001
 *    part II) and one freed entry;
 *  - on the builds with the classic pool (no _SEGMENT_HEAP in the table: 7601, 17763, XP; 17763
 *    has the type but still the classic pool, so the build number decides: < 18362), pool
 *    pages of small blocks with _POOL_HEADER chains (PreviousSize, PoolIndex, BlockSize,
 *    PoolType = POOL_TYPE + 1 for allocated blocks, 0 for free ones; sizes in 16-byte units on
 *    x64, 8 on x86): a consistent nonpaged page, a paged page, and a nonpaged page whose third
 *    header was overwritten by an overrun of the block before it (its PreviousSize no longer
 *    matches the previous BlockSize: the walk breaks there; the blocks after it are intact).
 *    19041 and 22000 allocate small blocks from the segment heap: the scene gives them the
 *    tracker and big-pool tables only.
 * Hostile (--hostile any): PoolTrackTableSize and PoolBigPageTableSize get absurd values,
 * the expansion table pointer leads into a page left out of the dump, and a second corrupt
 * page's first header has BlockSize 0 (a walk that would not advance).
 *
 * Manifest lines (scene.h):
 *   pooltag <tag> <np_allocs> <np_frees> <np_bytes> <p_allocs> <p_frees> <p_bytes> <owner_module|->
 *   poolblock <addr> <size> <tag> <free 0|1> <page_corrupt 0|1>   (addr: the block's header)
 *   poolbad <page> <header_addr>   the header where the walk of a corrupt page breaks
 *   poolpage <page> <nonpaged|paged> <corrupt 0|1>
 *   bigpool <va> <bytes> <tag>     live big-pool entries
 */
#include "scene.h"

#include <string.h>

typedef struct ptag {
    const char *tag;
    uint64_t np_allocs, np_frees, np_bytes, p_allocs, p_frees, p_bytes;
    const char *owner; /* module file name, "ntoskrnl.exe"/"ntkrnlpa.exe" for nt, NULL: none */
    bool expansion;    /* in the expansion table (x64 builds that have one) */
} ptag;

/* "mov ecx, imm32" with the tag as the immediate, as a driver's call to
 * ExAllocatePoolWithTag passes it. */
static void plant_tag(kern *k, uint64_t va, const char *tag)
{
    uint8_t code[8] = {0xb9, 0, 0, 0, 0, 0x3b, 0xc1, 0x90};
    memcpy(code + 1, tag, 4);
    w_write(k->w, va, code, sizeof code);
}

/* The VA of the first nt routine of the list the table knows (not given code: the tag bytes
 * are written at +0x20 of its RVA), SC_NONE when none. */
static uint64_t nt_routine(kern *k, const char *const *names, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        uint64_t va = k_sym_opt(k, names[i]);
        if (va != SC_NONE)
            return va;
    }
    return SC_NONE;
}

void sc_pool_page(kern *k, uint64_t page, const sc_blk *b, size_t n, unsigned type1, uint64_t *hdr,
                  uint32_t *sizes)
{
    const lay *L = w_lay(k->w);
    unsigned unit = w_ptr(k->w) == 8 ? 16u : 8u;
    uint32_t off = 0, prev = 0;
    for (size_t i = 0; i < n; i++) {
        uint32_t sz = i + 1 == n ? SC_PAGE - off : b[i].size;
        if (sz % unit || sz / unit == 0 || off + sz > SC_PAGE)
            sc_die("pool page: block %zu of 0x%x bytes does not fit", i, sz);
        uint64_t h = page + off;
        w_set(k->w, h, "_POOL_HEADER", "PreviousSize", prev / unit);
        w_set(k->w, h, "_POOL_HEADER", "PoolIndex", 0);
        w_set(k->w, h, "_POOL_HEADER", "BlockSize", sz / unit);
        w_set(k->w, h, "_POOL_HEADER", "PoolType", b[i].free_ ? 0 : type1);
        w_set(k->w, h, "_POOL_HEADER", "PoolTag", sc_tag(b[i].tag));
        /* a little body content (never the tag bytes: only images hold those) */
        uint64_t hs = lay_size(L, "_POOL_HEADER");
        if (sz > hs + 8)
            w_put(k->w, h + hs, 8, 0x0000000100000000ull + (uint64_t)i);
        hdr[i] = h;
        sizes[i] = sz;
        prev = sz;
        off += sz;
    }
}

void scene_pool(kern *k, const sc_base *b)
{
    world *w = k->w;
    const lay *L = w_lay(w);
    const bool x64 = w_ptr(w) == 8;
    const bool hostile = b->o && b->o->hostile;
    const char *ntname = x64 ? "ntoskrnl.exe" : "ntkrnlpa.exe";

    /* ---- drivers whose code holds their tags */
    static const char *const leak_f[] = {"LeakDispatchDeviceControl", "LeakWorkItemRoutine"};
    static const char *const nf_f[] = {"NfClassifyFn", "NfNotifyFn"};
    uint64_t leakbase = k_driver_image(k, "leakydrv.sys", leak_f, 2);
    io_driver(k, "\\Driver\\leakydrv", leakbase, "leakydrv.sys");
    uint64_t nfbase = k_driver_image(k, "netfilt.sys", nf_f, 2);
    io_driver(k, "\\Driver\\netfilt", nfbase, "netfilt.sys");
    /* two call sites in the leaking routine, as seed 003's search finds */
    uint64_t lf = k_func(k, "leakydrv.sys", "LeakWorkItemRoutine");
    plant_tag(k, lf + 0x3a9, "Leak");
    plant_tag(k, lf + 0x620, "Leak");
    uint64_t nf = k_func(k, "netfilt.sys", "NfClassifyFn");
    plant_tag(k, nf + 0x2c1, "NfBf");
    plant_tag(k, k_func(k, "netfilt.sys", "NfNotifyFn") + 0x301, "NfEx");
    plant_tag(k, k_func(k, "ACPI.sys", "ACPIBuildDeviceExtension") + 0x411, "AcpB");
    /* nt's tags in nt's code */
    static const char *const thre_r[] = {"PspAllocateThread", "PspCreateThread", "NtCreateThread"};
    static const char *const toke_r[] = {"SepCreateToken", "SepDuplicateToken", "NtCreateToken"};
    static const char *const mmca_r[] = {"MiCreateDataFileMap", "MiCreateImageFileMap",
                                         "MmCreateSection"};
    struct {
        const char *tag;
        const char *const *names;
        size_t n;
        bool planted;
    } ntt[] = {{"Thre", thre_r, 3, false}, {"Toke", toke_r, 3, false}, {"MmCa", mmca_r, 3, false}};
    for (size_t i = 0; i < sizeof ntt / sizeof ntt[0]; i++) {
        uint64_t va = nt_routine(k, ntt[i].names, ntt[i].n);
        if (va != SC_NONE) {
            plant_tag(k, va + 0x20, ntt[i].tag);
            ntt[i].planted = true;
        }
    }

    ptag tags[] = {
        {"Leak", 0x3e8, 0x19, 0x3e8 * 0x1000ull - 0x19 * 0x1000ull + 0x2a0, 0, 0, 0, "leakydrv.sys", false},
        {"NfBf", 0x1f4, 0x1a0, 0x54 * 0x200ull, 0x10, 0x0c, 0x800, "netfilt.sys", false},
        {"NfEx", 0x20, 0x18, 0x8 * 0x100ull, 0, 0, 0, "netfilt.sys", true},
        {"AcpB", 0x90, 0x10, 0x80 * 0xa0ull, 0, 0, 0, "ACPI.sys", false},
        {"Thre", 0x900, 0x880, 0x80 * 0x500ull, 0, 0, 0, ntt[0].planted ? ntname : NULL, false},
        {"Toke", 0, 0, 0, 0x700, 0x500, 0x200 * 0x800ull, ntt[1].planted ? ntname : NULL, false},
        {"MmCa", 0x300, 0x100, 0x200 * 0x80ull, 0, 0, 0, ntt[2].planted ? ntname : NULL, false},
        {"Gh05", 0x40, 0x3c, 0x4 * 0x60ull, 0x2, 0x1, 0x90, NULL, false},
    };
    const size_t ntags = sizeof tags / sizeof tags[0];

    /* ---- tracker tables */
    uint64_t esz = lay_size(L, "_POOL_TRACKER_TABLE");
    const uint64_t nslots = 0x100;
    uint64_t table = w_alloc(w, nslots * esz, SC_PAGE);
    uint64_t exp_va = k_sym_opt(k, "PoolTrackTableExpansion");
    uint64_t exp_sz_va = k_sym_opt(k, "PoolTrackTableExpansionSize");
    bool have_exp = x64 && exp_va != SC_NONE && exp_sz_va != SC_NONE;
    const uint64_t nexp = 0x10;
    uint64_t exptab = have_exp ? w_alloc(w, nexp * esz, SC_PAGE) : 0;
    size_t used_exp = 0;
    for (size_t i = 0; i < ntags; i++) {
        const ptag *t = &tags[i];
        uint64_t e;
        if (t->expansion && have_exp) {
            e = exptab + esz * used_exp++;
        } else {
            /* a hash of the tag, linear probing on collisions */
            uint32_t v = sc_tag(t->tag);
            uint64_t slot = ((uint64_t)v * 0x9e3779b1u >> 7) & (nslots - 1);
            while (w_field(w, table + slot * esz, "_POOL_TRACKER_TABLE", "Key") != 0)
                slot = (slot + 1) & (nslots - 1);
            e = table + slot * esz;
        }
        w_set(w, e, "_POOL_TRACKER_TABLE", "Key", sc_tag(t->tag));
        w_set(w, e, "_POOL_TRACKER_TABLE", "NonPagedAllocs", t->np_allocs);
        w_set(w, e, "_POOL_TRACKER_TABLE", "NonPagedFrees", t->np_frees);
        w_set(w, e, "_POOL_TRACKER_TABLE", "NonPagedBytes", t->np_bytes);
        w_set(w, e, "_POOL_TRACKER_TABLE", "PagedAllocs", t->p_allocs);
        w_set(w, e, "_POOL_TRACKER_TABLE", "PagedFrees", t->p_frees);
        w_set(w, e, "_POOL_TRACKER_TABLE", "PagedBytes", t->p_bytes);
        mf("pooltag %s %#llx %#llx %#llx %#llx %#llx %#llx %s", t->tag,
           (unsigned long long)t->np_allocs, (unsigned long long)t->np_frees,
           (unsigned long long)t->np_bytes, (unsigned long long)t->p_allocs,
           (unsigned long long)t->p_frees, (unsigned long long)t->p_bytes,
           t->owner ? t->owner : "-");
    }
    /* the last slot: the catch-all entry Windows keeps, Key 0 ("") */
    w_pointer(w, k_sym(k, "PoolTrackTable"), table);
    w_pointer(w, k_sym(k, "PoolTrackTableSize"), nslots);
    if (have_exp) {
        w_pointer(w, exp_va, exptab);
        w_pointer(w, exp_sz_va, nexp);
    }
    scene_pooltrack(k, b, table, nslots); /* pooltrack.c: per-processor and session tables */

    /* ---- big-pool table */
    uint64_t bsz = lay_size(L, "_POOL_TRACKER_BIG_PAGES");
    const uint64_t nbig = 0x80;
    uint64_t big = w_alloc(w, nbig * bsz, SC_PAGE);
    bool has_bytes = lay_off(L, "_POOL_TRACKER_BIG_PAGES", "NumberOfBytes") >= 0;
    for (uint64_t i = 0; i < nbig; i++)
        w_pointer(w, big + i * bsz, 1); /* free, never used */
    struct {
        const char *tag;
        uint64_t bytes;
        unsigned type; /* POOL_TYPE: 0 nonpaged, 1 paged */
        bool freed;
    } bigs[] = {
        {"Leak", 0x2000, 0, false}, {"Leak", 0x3000, 0, false}, {"Leak", 0x5000, 0, false},
        {"NfBf", 0x2000, 0, false}, {"Toke", 0x1000, 1, false}, {"Leak", 0x2000, 0, true},
    };
    unsigned inuse = 0;
    for (size_t i = 0; i < sizeof bigs / sizeof bigs[0]; i++) {
        uint64_t va = w_alloc(w, bigs[i].bytes, SC_PAGE);
        /* the caller's data: its first bytes are no pool header */
        w_put(w, va, 8, 0x4d4d4d4d00000000ull | (0x1000u * (unsigned)i + 0x41u));
        w_put(w, va + 8, 8, va);
        uint64_t slot = ((va >> 12) * 0x9e37u + i) & (nbig - 1);
        while ((w_get(w, big + slot * bsz, w_ptr(w)) & 1) == 0)
            slot = (slot + 1) & (nbig - 1);
        uint64_t e = big + slot * bsz;
        w_pointer(w, e, va | (bigs[i].freed ? 1 : 0));
        w_set(w, e, "_POOL_TRACKER_BIG_PAGES", "Key", sc_tag(bigs[i].tag));
        if (has_bytes)
            w_set(w, e, "_POOL_TRACKER_BIG_PAGES", "NumberOfBytes", bigs[i].bytes);
        else
            w_set(w, e, "_POOL_TRACKER_BIG_PAGES", "NumberOfPages", bigs[i].bytes / SC_PAGE);
        w_try(w, e, "_POOL_TRACKER_BIG_PAGES", "PoolType", bigs[i].type);
        if (!bigs[i].freed) {
            inuse++;
            mf("bigpool %#llx %#llx %s", (unsigned long long)va, (unsigned long long)bigs[i].bytes,
               bigs[i].tag);
        }
    }
    w_pointer(w, k_sym(k, "PoolBigPageTable"), big);
    w_pointer(w, k_sym(k, "PoolBigPageTableSize"), nbig);
    uint64_t biu = k_sym_opt(k, "ExpPoolBigEntriesInUse");
    if (biu != SC_NONE)
        w_put(w, biu, 4, inuse);

    /* ---- classic pool pages (not on the segment-heap builds) */
    bool classic = k->build < 18362;
    uint64_t bad_hdr = 0, bad_next = 0;
    if (classic) {
        uint64_t hdr[8];
        uint32_t sizes[8];
        /* a consistent nonpaged page */
        static const sc_blk pa[] = {{0x60, "Leak", false}, {0x80, "Thre", false}, {0x40, "Leak", true},
                                 {0x160, "Leak", false}, {0x30, "NfBf", false}, {0x200, "Leak", false},
                                 {0, "AcpB", false}};
        uint64_t page = w_alloc(w, SC_PAGE, SC_PAGE);
        sc_pool_page(k, page, pa, 7, 1, hdr, sizes);
        mf("poolpage %#llx nonpaged 0", (unsigned long long)page);
        for (size_t i = 0; i < 7; i++)
            mf("poolblock %#llx %#x %s %d 0", (unsigned long long)hdr[i], sizes[i], pa[i].tag,
               pa[i].free_ ? 1 : 0);
        /* a paged page */
        static const sc_blk pp[] = {{0x100, "Toke", false}, {0xa0, "Toke", true}, {0x330, "NfBf", false},
                                 {0, "Toke", false}};
        page = w_alloc(w, SC_PAGE, SC_PAGE);
        sc_pool_page(k, page, pp, 4, 2, hdr, sizes);
        mf("poolpage %#llx paged 0", (unsigned long long)page);
        for (size_t i = 0; i < 4; i++)
            mf("poolblock %#llx %#x %s %d 0", (unsigned long long)hdr[i], sizes[i], pp[i].tag,
               pp[i].free_ ? 1 : 0);
        /* a corrupt nonpaged page: block 1 overran into block 2's header */
        static const sc_blk pc[] = {{0x50, "Leak", false}, {0x90, "Leak", false}, {0xa0, "Thre", false},
                                 {0x70, "NfBf", false}, {0x40, "Leak", true},  {0, "Leak", false}};
        page = w_alloc(w, SC_PAGE, SC_PAGE);
        sc_pool_page(k, page, pc, 6, 1, hdr, sizes);
        uint8_t smash[8];
        memset(smash, 0x41, sizeof smash);
        uint64_t hs = lay_size(L, "_POOL_HEADER");
        w_write(w, hdr[2] - 0x10, smash, 8); /* the end of block 1's data ... */
        w_write(w, hdr[2], smash, hs < 8 ? hs : 8); /* ... and block 2's header */
        mf("poolpage %#llx nonpaged 1", (unsigned long long)page);
        mf("poolbad %#llx %#llx", (unsigned long long)page, (unsigned long long)hdr[2]);
        bad_hdr = hdr[2];
        bad_next = hdr[3];
        for (size_t i = 0; i < 6; i++)
            if (i != 2)
                mf("poolblock %#llx %#x %s %d 1", (unsigned long long)hdr[i], sizes[i], pc[i].tag,
                   pc[i].free_ ? 1 : 0);
        if (hostile) {
            /* a page whose first header has BlockSize 0 */
            static const sc_blk pz[] = {{0x40, "Leak", false}, {0, "Leak", false}};
            page = w_alloc(w, SC_PAGE, SC_PAGE);
            sc_pool_page(k, page, pz, 2, 1, hdr, sizes);
            w_set(w, hdr[0], "_POOL_HEADER", "BlockSize", 0);
            mf("hostile pool_blocksize0 %#llx", (unsigned long long)page);
        }
    } else if (lay_has_type(L, "_SEGMENT_HEAP") && x64) {
        /* 19H1+: small blocks in the segment heap (segheap.c, /work/notes/SEGHEAP.md) */
        sh_layout(k, b->o ? b->o->seed : 0,
                  hostile && (!strcmp(b->o->hostile, "cycle") || !strcmp(b->o->hostile, "all")));
    }

    scene_specpool(k, b); /* specpool.c: special pool and session pool */
    if (hostile) {
        w_pointer(w, k_sym(k, "PoolTrackTableSize"), x64 ? 0x7fffffffffffull : 0x7fffffffull);
        mf("hostile pool_track_size %#llx", (unsigned long long)k_sym(k, "PoolTrackTableSize"));
        w_pointer(w, k_sym(k, "PoolBigPageTableSize"), x64 ? 0x100000000000ull : 0x40000000ull);
        mf("hostile pool_big_size %#llx", (unsigned long long)k_sym(k, "PoolBigPageTableSize"));
        if (have_exp) {
            uint64_t hole = w_alloc(w, SC_PAGE, SC_PAGE);
            w_put(w, hole, 4, 0);
            w_drop(w, hole);
            w_pointer(w, exp_va, hole);
            mf("hostile pool_expansion_missing %#llx", (unsigned long long)hole);
        }
    }
    if (classic)
        k_bugcheck(k, 0x19 /* BAD_POOL_HEADER */, 0x20, bad_hdr, bad_next, 0);
    else
        k_bugcheck(k, 0xE2 /* MANUALLY_INITIATED_CRASH */, 0, 0, 0, 0);
}
