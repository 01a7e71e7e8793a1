/* kpool_special.h: special pool and session pool addresses (issue 7, !pool).
 *
 * Special pool (Driver Verifier / gflags): one allocation per page, a header at the page start
 * (a _POOL_HEADER whose Ulong1 holds the bytes requested in bits 0..14, 0x8000 for paged pool,
 * and the page's fill pattern in its BlockSize byte; PoolTag the tag), the data at the end of
 * the page (MmSpecialPoolCatchOverruns; underrun mode: header at the page end, data at the
 * start), every other byte the pattern, a guard page after it; a freed page keeps the header
 * and holds 0x98764321 right after it, then the tick, the bytes requested, the paged flag and
 * the data address. Sources: Windows Internals, ReactOS's special pool (BSD); where they are
 * silent, the contract at the top of tests/gen/scene/specpool.c.
 *
 * Is an address special pool? By what the build has (every offset from nt's types):
 *  - 1809 and later: *(nt!MiVisibleState) is a _MI_VISIBLE_STATE whose SystemVaType[] has a
 *    byte per kernel PML4 slot ((va >> 39) & 0xff): MiVaSpecialPoolPaged / MiVaSpecialPoolNonPaged
 *    (names from the _MI_SYSTEM_VA_TYPE enum);
 *  - Windows 7: nt!MiSpecialPool (_MI_SPECIAL_POOL): the VA PteBase maps starts the region,
 *    SpecialPoolPdes (_RTL_BITMAP) has a bit per page table of VA (512 pages x64/PAE);
 *  - XP: [nt!MmSpecialPoolStart, nt!MmSpecialPoolEnd).
 * Segment-heap builds (19041, 22000) allocate special pool from the heaps of
 * nt!ExPoolState.SpecialHeaps: the region is told here; the heaps are decoded by kpool_seg.c
 * (nk_seg_add_special_heaps) when they are segment heaps.
 *
 * Session pool: the sessions of the processes (_EPROCESS.Session -> _MM_SESSION_SPACE), each
 * with [PagedPoolStart, PagedPoolEnd] (End: the last byte). Classic builds: its pages are
 * classic pool pages (PoolType with the session bit, PagedPoolSession 33 + 1); segment-heap
 * builds: _MM_SESSION_SPACE.HeapState -> _EX_HEAP_SESSION_STATE.PagedHeap, a segment heap that
 * kpool_seg.c decodes (nk_seg_add_heap, nk_seg_add_session_heaps).
 *
 * Layering: uses kobj, kpool, kmm (nk_mm_va_region: the SystemVaType lookup), mem; used by
 * src/cmd/cmd_pool.c. No state of its own. */
#ifndef NTKD_KPOOL_SPECIAL_H
#define NTKD_KPOOL_SPECIAL_H

#include "kobj/kpool.h"

#define NK_SPECIAL_FREED_SIG 0x98764321u
#define NK_SPECIAL_MAX_HEAPS 8
#define NK_SESSION_MAX 64 /* distinct sessions looked at */

typedef struct nk_special {
    bool special;          /* addr lies in special pool VA */
    char how[200];         /* what said so ("nt!MiVisibleState->SystemVaType[0xf3] = ...") */
    int region_paged;      /* from the region: -1 unknown, 0 nonpaged, 1 paged */
    uint64_t page;
    bool present;          /* the page is in the dump */
    bool segment_heap;     /* this build's special pool is segment-heap based */
    uint64_t heaps[NK_SPECIAL_MAX_HEAPS]; /* nt!ExPoolState.SpecialHeaps[] (segment heap) */
    unsigned nheaps;
    /* the header (classic builds) */
    bool decoded;          /* a header was read */
    bool bad;              /* the header is not a special-pool header */
    char why[240];         /* why not */
    bool underrun;         /* header at the page end, data at the start */
    uint64_t header, data;
    uint32_t size;         /* bytes requested */
    bool paged;
    uint32_t key;
    bool protected_;
    uint8_t pattern;
    bool freed;            /* 0x98764321 after the header */
    uint64_t freed_data;   /* the data address the freed header records */
    uint32_t freed_size;
    /* the fill pattern around the data (allocated pages) */
    uint32_t pattern_bad;  /* bytes that differ from the pattern */
    uint64_t first_bad;    /* the first of them */
} nk_special;

/* Fills out for addr. NTKD_OK also when addr is not special pool (out->special false);
 * NTKD_E_NOTFOUND (message set) when the build's types/globals tell nothing about special
 * pool. Never fails on dump contents: a bad header is out->bad with out->why. */
nk_status nk_pool_special(ntkd_target *t, uint64_t addr, nk_special *out);

typedef struct nk_session_hit {
    bool in_session;
    uint64_t session;      /* _MM_SESSION_SPACE */
    uint64_t session_id;
    uint64_t start, end;   /* PagedPoolStart, PagedPoolEnd (inclusive) */
    uint64_t eprocess;     /* a process of the session */
    uint64_t heap_state, paged_heap; /* segment-heap builds (0 when unknown) */
    unsigned nsessions;    /* sessions looked at */
} nk_session_hit;
/* The session whose paged pool holds addr (processes walked; sessions read once each). */
nk_status nk_pool_session_of(ntkd_target *t, uint64_t addr, nk_session_hit *out, nk_strbuf *why);

#endif
