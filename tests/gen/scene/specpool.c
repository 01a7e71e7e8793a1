/* specpool.c: special pool and session pool for scene "pool" (issue 7; called once from
 * scene_pool in pool.c).
 *
 * THE CONTRACT (the reader, src/kobj/kpool_special.c, relies on exactly this; nothing else is
 * shared). Public facts used: Windows Internals (special pool: one allocation per page, at the
 * end of the page to catch overruns unless MmSpecialPoolCatchOverruns is 0, the rest of the
 * page filled with a pattern byte, a header at the start of the page holding size, type and
 * tag, a guard page after it); ReactOS's special pool (ntoskrnl/mm/ARM3/special.c, BSD): the
 * header is a _POOL_HEADER whose Ulong1 holds the requested size with 0x8000 for paged and
 * whose BlockSize byte holds the pattern byte; a freed page starts with the overlaid header
 * followed by the signature 0x98764321. Where these are silent, the choices below are ours.
 *
 *  Special pool region ("is VA special pool?"), by what the build's table has:
 *   - _MI_VISIBLE_STATE.SystemVaType (1809 and later): nt!MiVisibleState is a POINTER to
 *     _MI_VISIBLE_STATE; SystemVaType[] is a byte per kernel PML4 slot, index (va >> 39) & 0xff;
 *     a slot of type MiVaSpecialPoolPaged or MiVaSpecialPoolNonPaged (_MI_SYSTEM_VA_TYPE enum
 *     values of the table) is special pool. Nonpaged special pool: slot 0x1f3
 *     (fffff980`00000000), paged: slot 0x1f4 (fffffa00`00000000). On builds without
 *     MiVaSpecialPoolNonPaged (19041, 22000) both use MiVaSpecialPoolPaged.
 *   - else nt!MiSpecialPool (_MI_SPECIAL_POOL, Windows 7): the VA that PteBase maps (self-map
 *     PTE address) is the region base; SpecialPoolPdes (_RTL_BITMAP: SizeOfBitMap bits at
 *     Buffer, ULONGs) has one bit per page table's worth of VA (512 pages, 2 MB): bit i set <=>
 *     [base + i*2MB, base + (i+1)*2MB) is special pool. Base fffff980`00000000; bits 0
 *     (nonpaged pages) and 1 (paged pages) set, bit 2 clear (SizeOfBitMap 3).
 *   - else nt!MmSpecialPoolStart / nt!MmSpecialPoolEnd (XP): [Start, End) pointers;
 *     0xb0000000..0xb0400000 (nonpaged pages from Start, paged from Start + 0x200000).
 *  Special pool page (classic-pool builds: 7601, 17763, XP), unit = sizeof(_POOL_HEADER):
 *   - nt!MmSpecialPoolCatchOverruns (ULONG) = 1: allocations lie at the page end;
 *   - page + 0: _POOL_HEADER; Ulong1 = size (bits 0..14, bytes requested, < page - unit)
 *     | 0x8000 when paged | pattern byte << 16 (the BlockSize byte); PoolTag = the tag;
 *   - data at (page + 0x1000 - size) & ~(unit - 1); every other byte of the page after the
 *     header (between header and data, after the data) is the pattern byte;
 *   - the page after it (guard) is not in the dump;
 *   - freed page: header as when allocated, then at page + unit: ULONG 0x98764321, ULONG tick,
 *     ULONG bytes requested, ULONG 1 when paged, then the data VA (pointer) at page + unit + 16.
 *   (Underrun mode, CatchOverruns 0: header at page + 0x1000 - unit, data at page + 0; the
 *   reader accepts it, the scene does not lay it out.)
 *  Segment-heap builds (19041, 22000): the region types only (nonpaged and paged special slot
 *   types as above), one present page in the paged slot, and nt!ExPoolState.SpecialHeaps[0] =
 *   the region's first VA (no heap is laid out: that is the segment-heap generator's business).
 *  Session pool: the EPROCESS of csrss has Session = a _MM_SESSION_SPACE with SessionId 1 (made
 *   here unless pooltrack.c made it) and PagedPoolStart / PagedPoolEnd = fffff900`c0000000 / fffff920`bfffffff (x64; XP:
 *   0xbc000000 / 0xbc3fffff, also in nt!MiSessionPoolStart / MiSessionPoolEnd); End is the
 *   LAST byte (inclusive). Classic builds: a classic pool page at PagedPoolStart + 0x3000 whose
 *   allocated headers carry PoolType = PagedPoolSession (33) + 1 = 0x22. Segment-heap builds:
 *   _MM_SESSION_SPACE.HeapState -> _EX_HEAP_SESSION_STATE whose PagedHeap = PagedPoolStart:
 *   a real _SEGMENT_HEAP laid out by segheap.c's sh_session_heap (one 1-MiB segment in the
 *   session's paged pool, a VS subsegment of session tags: sessblock / sesspage lines), and one
 *   present page at PagedPoolStart + 0x5000 that is in no segment of it.
 *  Hostile (--hostile any): a special-pool page whose header size is 0x7ff8 (more than a page),
 *   and a session pool page left out of the dump.
 *
 * Manifest lines (scene.h):
 *   specialpool <data_va> <size> <tag> <paged 0|1> <page> <free 0|1>
 *   specialrange <start> <end> <nonpaged|paged>   end exclusive
 *   specialoverrun <page> <first_bad_va> <nbytes>   an allocation whose fill pattern after the
 *                            data was overwritten (nbytes bytes, the first at first_bad_va)
 *   specialguard <va>        a special-pool page not in the dump (guard page)
 *   specialnot <va>          an address next to the region that is NOT special pool
 *   specialseg <va> <heap>   (segment-heap builds) a present special-pool page; SpecialHeaps[0]
 *   sessionrange <session> <start> <end_inclusive> <session_id>
 *   sessionpool <page> <session>           a classic session pool page
 *   sessblock <addr> <size> <tag> <free 0|1>   its blocks (header address, bytes with header;
 *                                          segment-heap builds: the session heap's blocks, tag '-'
 *                                          when free)
 *   sesspage <page> <session>              (segment-heap builds) a page holding sessblock blocks
 *   sessionheap <session> <paged_heap>     (segment-heap builds) HeapState->PagedHeap
 *   sessionseg <va>                        (segment-heap builds) a present session pool page
 *   hostile specialpool_badsize <page>  /  hostile sessionpool_missing <page>
 */
#include "scene.h"

#include <string.h>

#define SP_PATTERN_NP 0x3d
#define SP_PATTERN_P 0x5b
#define SP_FREED_SIG 0x98764321u

/* One special-pool page (overrun mode). Returns the data VA. */
static uint64_t sp_page(kern *k, uint64_t page, uint32_t size, const char *tag, bool paged, bool freed,
                        uint8_t pattern)
{
    world *w = k->w;
    unsigned unit = w_ptr(w) == 8 ? 16u : 8u;
    uint8_t buf[SC_PAGE];
    memset(buf, pattern, sizeof buf);
    memset(buf, 0, unit);
    uint64_t data = (page + SC_PAGE - size) & ~(uint64_t)(unit - 1);
    for (uint32_t i = 0; i < size; i++)
        buf[data - page + i] = (uint8_t)(0x10 + i * 7);
    if (freed) {
        memset(buf + unit, pattern, 32);
        uint32_t f[4] = {SP_FREED_SIG, 0x1234, size, paged ? 1u : 0u};
        memcpy(buf + unit, f, sizeof f);
    }
    w_write(w, page, buf, sizeof buf);
    w_put(w, page, 4, (uint64_t)size | (paged ? 0x8000u : 0) | (uint64_t)pattern << 16);
    w_set(w, page, "_POOL_HEADER", "PoolTag", sc_tag(tag));
    if (freed)
        w_pointer(w, page + unit + 16, data);
    return data;
}

static void sp_manifest(uint64_t data, uint32_t size, const char *tag, bool paged, uint64_t page, bool freed)
{
    mf("specialpool %#llx %#x %s %d %#llx %d", (unsigned long long)data, size, tag, paged ? 1 : 0,
       (unsigned long long)page, freed ? 1 : 0);
}

/* A classic pool page of session blocks (PagedPoolSession + 1; the last block takes the rest of
 * the page), stated in the manifest when `emit`. */
static void sess_page(kern *k, uint64_t page, bool emit)
{
    static const sc_blk bl[] = {{0x80, "SesA", false}, {0x40, "SesF", true}, {0x200, "Gla5", false}, {0, "SesB", false}};
    enum { N = sizeof bl / sizeof bl[0] };
    uint64_t hdr[N];
    uint32_t sizes[N];
    sc_pool_page(k, page, bl, N, 33 + 1, hdr, sizes);
    for (size_t i = 0; i < N && emit; i++)
        mf("sessblock %#llx %#x %s %d", (unsigned long long)hdr[i], sizes[i], bl[i].tag, bl[i].free_ ? 1 : 0);
}

void scene_specpool(kern *k, const sc_base *b)
{
    world *w = k->w;
    const lay *L = w_lay(w);
    const bool x64 = w_ptr(w) == 8;
    const bool hostile = b->o && b->o->hostile;
    const bool seg = k->build >= 18362;

    /* ---------------------------------------------------------------- special pool region */
    uint64_t np_base, p_base, reg_end_np, reg_end_p, not_va;
    uint64_t vis_ptr = k_sym_opt(k, "MiVisibleState");
    uint64_t msp = k_sym_opt(k, "MiSpecialPool");
    uint64_t xp_start = k_sym_opt(k, "MmSpecialPoolStart"), xp_end = k_sym_opt(k, "MmSpecialPoolEnd");
    int64_t vt_off = lay_has_type(L, "_MI_VISIBLE_STATE") ? lay_off(L, "_MI_VISIBLE_STATE", "SystemVaType") : -1;
    if (x64 && vis_ptr != SC_NONE && vt_off >= 0) {
        int64_t t_np = -1, t_p = -1;
        if (!lay_enum(L, "_MI_SYSTEM_VA_TYPE", "MiVaSpecialPoolPaged", &t_p))
            sc_die("specpool: _MI_SYSTEM_VA_TYPE lacks MiVaSpecialPoolPaged");
        if (!lay_enum(L, "_MI_SYSTEM_VA_TYPE", "MiVaSpecialPoolNonPaged", &t_np))
            t_np = t_p;
        uint64_t vis = w_get(w, vis_ptr, 8);
        if (!vis) {
            vis = w_alloc(w, lay_size(L, "_MI_VISIBLE_STATE"), SC_PAGE);
            w_pointer(w, vis_ptr, vis);
        }
        np_base = 0xfffff98000000000ULL;
        p_base = 0xfffffa0000000000ULL;
        w_put(w, vis + (uint64_t)vt_off + ((np_base >> 39) & 0xff), 1, (uint64_t)t_np);
        w_put(w, vis + (uint64_t)vt_off + ((p_base >> 39) & 0xff), 1, (uint64_t)t_p);
        reg_end_np = np_base + (1ULL << 39);
        reg_end_p = p_base + (1ULL << 39);
        not_va = p_base + (1ULL << 39) + 0x2000; /* slot 0x1f5: type 0 */
    } else if (x64 && msp != SC_NONE && lay_off(L, "_MI_SPECIAL_POOL", "SpecialPoolPdes") >= 0) {
        np_base = 0xfffff98000000000ULL;
        p_base = np_base + 0x200000;
        w_pointer(w, msp + lay_off_req(L, "_MI_SPECIAL_POOL", "PteBase"), w_pte_va(w, np_base));
        uint64_t bm = msp + lay_off_req(L, "_MI_SPECIAL_POOL", "SpecialPoolPdes");
        uint64_t bits = w_alloc(w, 16, 16);
        w_put(w, bits, 4, 0x3); /* bits 0 and 1 */
        w_set(w, bm, "_RTL_BITMAP", "SizeOfBitMap", 3);
        w_set(w, bm, "_RTL_BITMAP", "Buffer", bits);
        reg_end_np = np_base + 0x200000;
        reg_end_p = p_base + 0x200000;
        not_va = np_base + 0x400000 + 0x2000; /* bit 2: clear */
    } else if (!x64 && xp_start != SC_NONE && xp_end != SC_NONE) {
        np_base = 0xb0000000ULL;
        p_base = 0xb0200000ULL;
        w_pointer(w, xp_start, np_base);
        w_pointer(w, xp_end, np_base + 0x400000);
        reg_end_np = p_base;
        reg_end_p = np_base + 0x400000;
        not_va = np_base + 0x400000 + 0x2000;
    } else {
        sc_die("specpool: the table has none of MiVisibleState.SystemVaType, MiSpecialPool, MmSpecialPoolStart");
    }
    uint64_t cov = k_sym_opt(k, "MmSpecialPoolCatchOverruns");
    if (cov != SC_NONE)
        w_put(w, cov, 4, 1);
    mf("specialrange %#llx %#llx nonpaged", (unsigned long long)np_base, (unsigned long long)reg_end_np);
    mf("specialrange %#llx %#llx paged", (unsigned long long)p_base, (unsigned long long)reg_end_p);
    mf("specialnot %#llx", (unsigned long long)not_va);

    if (!seg) {
        uint64_t pg = np_base + 0x2000;
        uint64_t d = sp_page(k, pg, 0x5c, "SpcN", false, false, SP_PATTERN_NP);
        sp_manifest(d, 0x5c, "SpcN", false, pg, false);
        mf("specialguard %#llx", (unsigned long long)(pg + SC_PAGE));
        pg = p_base + 0x4000;
        d = sp_page(k, pg, 0x1e8, "SpcP", true, false, SP_PATTERN_P);
        sp_manifest(d, 0x1e8, "SpcP", true, pg, false);
        pg = np_base + 0x6000;
        d = sp_page(k, pg, 0x30, "SpcF", false, true, SP_PATTERN_NP);
        sp_manifest(d, 0x30, "SpcF", false, pg, true);
        /* an overrun caught by the pattern: 3 bytes written past the data's end */
        pg = np_base + 0xa000;
        d = sp_page(k, pg, 0x54, "SpcO", false, false, SP_PATTERN_NP);
        sp_manifest(d, 0x54, "SpcO", false, pg, false);
        uint8_t smash[3] = {0x41, 0x42, 0x43};
        w_write(w, d + 0x54 + 1, smash, sizeof smash);
        mf("specialoverrun %#llx %#llx 3", (unsigned long long)pg, (unsigned long long)(d + 0x54 + 1));
        if (hostile) {
            pg = np_base + 0x8000;
            sp_page(k, pg, 0x40, "SpcH", false, false, SP_PATTERN_NP);
            w_put(w, pg, 4, 0x7ff8u | (uint64_t)SP_PATTERN_NP << 16);
            mf("hostile specialpool_badsize %#llx", (unsigned long long)pg);
        }
    } else {
        uint64_t pg = p_base + 0x4000;
        uint8_t bytes[64];
        memset(bytes, 0x77, sizeof bytes);
        w_write(w, pg, bytes, sizeof bytes);
        uint64_t ps = k_sym_opt(k, "ExPoolState");
        int64_t sh = lay_off(L, "_EX_POOL_HEAP_MANAGER_STATE", "SpecialHeaps");
        if (ps != SC_NONE && sh >= 0) {
            w_pointer(w, ps + (uint64_t)sh, p_base);
            w_write(w, p_base, bytes, sizeof bytes);
        }
        mf("specialseg %#llx %#llx", (unsigned long long)pg, (unsigned long long)(ps != SC_NONE && sh >= 0 ? p_base : 0));
    }

    /* ---------------------------------------------------------------- session pool */
    uint64_t sstart = x64 ? 0xfffff900c0000000ULL : 0xbc000000ULL;
    uint64_t send = x64 ? 0xfffff920bfffffffULL : 0xbc3fffffULL;
    /* csrss's session: pooltrack.c may have made it already (session tracker tables) */
    uint64_t sess = w_field(w, b->csrss, "_EPROCESS", "Session");
    if (!sess) {
        sess = w_alloc(w, lay_size(L, "_MM_SESSION_SPACE"), SC_PAGE);
        w_set(w, sess, "_MM_SESSION_SPACE", "SessionId", 1);
        w_set(w, b->csrss, "_EPROCESS", "Session", sess);
    }
    w_set(w, sess, "_MM_SESSION_SPACE", "PagedPoolStart", sstart);
    w_set(w, sess, "_MM_SESSION_SPACE", "PagedPoolEnd", send);
    uint64_t g;
    if ((g = k_sym_opt(k, "MiSessionPoolStart")) != SC_NONE)
        w_pointer(w, g, sstart);
    if ((g = k_sym_opt(k, "MiSessionPoolEnd")) != SC_NONE)
        w_pointer(w, g, send);
    mf("sessionrange %#llx %#llx %#llx 1", (unsigned long long)sess, (unsigned long long)sstart,
       (unsigned long long)send);
    if (!seg) {
        uint64_t page = sstart + 0x3000;
        sess_page(k, page, true);
        mf("sessionpool %#llx %#llx", (unsigned long long)page, (unsigned long long)sess);
    } else {
        if (lay_has_type(L, "_EX_HEAP_SESSION_STATE") && lay_off(L, "_MM_SESSION_SPACE", "HeapState") >= 0 && x64) {
            /* segheap.c: a _SEGMENT_HEAP at PagedPoolStart, its segment and session blocks */
            uint64_t ph = sh_session_heap(k, sess);
            mf("sessionheap %#llx %#llx", (unsigned long long)sess, (unsigned long long)ph);
        }
        w_put(w, sstart + 0x5000, 8, 0x5e55da7aULL);
        mf("sessionseg %#llx", (unsigned long long)(sstart + 0x5000));
    }
    if (hostile) {
        uint64_t page = sstart + 0x9000;
        if (!seg)
            sess_page(k, page, false);
        else
            w_put(w, page, 8, 1);
        w_drop(w, page);
        mf("hostile sessionpool_missing %#llx", (unsigned long long)page);
    }
}
