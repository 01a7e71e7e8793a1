/* kpool_seg.h: the kernel segment-heap pool of Windows 10 19H1 and later (layouts 19041,
 * 22000): the heaps of nt!ExPoolState, their segments, page-range descriptors, VS and LFH
 * subsegments, and the pool blocks inside them (/work/notes/SEGHEAP.md is the contract with the
 * scene generator).
 *
 * Facts (public: M. Yason, "Windows 10 Segment Heap Internals", Black Hat USA 2016; C. Bayet and
 * P. Fariello, "Scoop the Windows 10 pool!", SSTIC 2020):
 *  - nt!ExPoolState (_EX_POOL_HEAP_MANAGER_STATE) PoolNode[node].Heaps[0..3] point to the
 *    _SEGMENT_HEAP of NonPagedPool, NonPagedPoolNx, PagedPool (index 3 unused); Signature
 *    0xDDEEDDEE; nt!RtlpHpHeapGlobals holds HeapKey and LfhKey;
 *  - each heap has two segment contexts (_HEAP_SEG_CONTEXT: SegmentMask, UnitShift,
 *    FirstDescriptorIndex, SegmentListHead); a segment (_HEAP_PAGE_SEGMENT, aligned on the
 *    segment size) has Signature = S ^ C ^ HeapKey ^ 0xA2E64EADA2E64EAD and an array of
 *    _HEAP_PAGE_RANGE_DESCRIPTOR, one per unit: RangeFlags bit 0 allocated, bit 1 first unit of
 *    its range, bits 2-3 the kind (0 large, 8 LFH, 0xC VS); UnitSize (first unit) / UnitOffset;
 *  - a VS subsegment's chunks start with an encoded _HEAP_VS_CHUNK_HEADER (HeaderBits ^ chunk ^
 *    HeapKey): UnsafeSize, UnsafePrevSize (16-byte units), Allocated; an allocated chunk holds a
 *    _POOL_HEADER 16 bytes in;
 *  - an LFH subsegment's BlockOffsets.EncodedData ^ (u32)LfhKey ^ (u32)(R >> 12) gives
 *    BlockSize and FirstBlockOffset; BlockBitmap has 2 bits a block (bit 0: busy); an allocated
 *    block starts with its _POOL_HEADER.
 * Every offset and size comes from nt's types. Every walk is capped (segments a context
 * NK_SEG_MAX_SEGMENTS, 256 descriptors, chunks and blocks by the subsegment's size), segment
 * lists are cycle-checked, pages not in the dump are skipped with a note.
 * Besides ExPoolState's heaps, a caller may add the paged heap of a session
 * (_MM_SESSION_SPACE.HeapState -> _EX_HEAP_SESSION_STATE.PagedHeap) and the special-pool heaps
 * (ExPoolState.SpecialHeaps[]): the same decoding, the heap labelled with its region.
 *
 * Layering: uses kobj, kpool (nk_pool_block, nk_pool_tag_str), mem; used by cmd_pool.c and
 * cmd_mm.c. No state of its own: nk_segpool is filled per command. */
#ifndef NTKD_KPOOL_SEG_H
#define NTKD_KPOOL_SEG_H

#include "kobj/kpool.h"

#define NK_SEG_MAX_HEAPS 64          /* heaps read from ExPoolState */
#define NK_SEG_MAX_NODES 64          /* pool nodes read */
#define NK_SEG_MAX_SEGMENTS 4096u    /* segments walked per context */
#define NK_SEG_MAX_DESC 256u         /* descriptors per segment */
#define NK_SEG_MAX_VS_BYTES 0x100000u /* a VS subsegment's Size is a u16 of 16-byte units */

/* Where a heap comes from: nt!ExPoolState.PoolNode[].Heaps[], a session's paged heap
 * (_MM_SESSION_SPACE.HeapState -> _EX_HEAP_SESSION_STATE.PagedHeap) or
 * nt!ExPoolState.SpecialHeaps[] (added with nk_seg_add_heap and the helpers below). */
typedef enum nk_seg_heap_src { NK_SEG_SRC_POOL = 0, NK_SEG_SRC_SESSION, NK_SEG_SRC_SPECIAL } nk_seg_heap_src;

typedef struct nk_seg_heapref {
    uint64_t heap;   /* _SEGMENT_HEAP */
    unsigned node, index; /* PoolNode[node].Heaps[index]; extra heaps: index 2 when paged, 0 else;
                             special heaps: node is the SpecialHeaps[] slot */
    int src;         /* nk_seg_heap_src */
    char label[40];  /* extra heaps: the region name ("Paged session pool", "Special pool") */
    uint64_t session, session_id; /* NK_SEG_SRC_SESSION: _MM_SESSION_SPACE and its SessionId */
} nk_seg_heapref;

/* The prepared layout: fields of nt's types, the keys and the heaps. */
typedef struct nk_segpool {
    ntkd_target *t;
    uint64_t heap_key, lfh_key;
    nk_seg_heapref heaps[NK_SEG_MAX_HEAPS];
    size_t nheaps;
    /* sizes and offsets */
    uint64_t ctx_size, ctx_off, desc_size, vss_size, lfh_bitmap_off, node_size, node_off, heaps_off;
    uint64_t seg_list_off, seg_sig_off, ctx_list_off;
    nk_kfield heap_sig, c_mask, c_shift, c_first, c_heap, d_flags, d_unitsize, d_committed;
    nk_kfield vs_size, vs_sig, ch_bits, ch_size, ch_prev, ch_alloc, lfh_count, lfh_free, lfh_enc, lfh_bsize,
        lfh_first;
    nk_kfield ph_type, ph_tag, ph_bsz, ph_prev, ph_idx; /* _POOL_HEADER */
    unsigned ptr;
} nk_segpool;

/* Reads the types, the keys and the heap list. NTKD_E_NOTFOUND with a message (also in why)
 * when the build lacks a needed type, field or global; heaps that fail their signature are
 * skipped with a note in why. */
nk_status nk_seg_init(ntkd_target *t, nk_segpool *sp, nk_strbuf *why);

/* Adds a heap besides ExPoolState's (sp prepared by nk_seg_init): its Signature must be
 * 0xDDEEDDEE. src: nk_seg_heap_src; pool_index 2 for paged, 0 for nonpaged (nk_seg_paged);
 * label: the region name !pool prints. NTKD_OK also when the heap is already there (*out_i
 * set, may be NULL); NTKD_E_NOTPRESENT / NTKD_E_FORMAT / NTKD_E_NOMEM (too many heaps) with a
 * message naming the heap. */
nk_status nk_seg_add_heap(nk_segpool *sp, uint64_t heap, int src, unsigned pool_index, const char *label,
                          size_t *out_i);
/* The paged heap of every session of the processes (_EPROCESS.Session, distinct sessions,
 * capped), labelled "Paged session pool". Returns how many heaps were added; problems (types
 * the build lacks, heaps that fail the signature) one line each in why. */
size_t nk_seg_add_session_heaps(nk_segpool *sp, nk_strbuf *why);
/* nt!ExPoolState.SpecialHeaps[] that are non-NULL, labelled "Special pool". Returns how many
 * were added; a slot that is no readable segment heap is reported in why. */
size_t nk_seg_add_special_heaps(nk_segpool *sp, nk_strbuf *why);
/* The region !pool names for a heap: its label, else "Paged pool" / "Nonpaged pool". */
const char *nk_seg_region(const nk_seg_heapref *hr);
/* The heap's name: its label, else nk_seg_heap_name(index). */
const char *nk_seg_heapref_name(const nk_seg_heapref *hr);

/* Where an address lies. */
/* META: the segment's own header (descriptor array); FREE: an unallocated range. */
typedef enum nk_seg_kind { NK_SEG_META = -2, NK_SEG_FREE = -1, NK_SEG_LARGE = 0, NK_SEG_LFH = 8, NK_SEG_VS = 12 } nk_seg_kind;
typedef struct nk_seg_loc {
    uint64_t addr;
    size_t heap_i;        /* index into sp->heaps */
    unsigned ctx_i;       /* 0 or 1 */
    uint64_t ctx, segment;
    unsigned unit_shift;
    unsigned unit;        /* descriptor index of addr */
    unsigned first_unit;  /* descriptor index of the range's first unit */
    uint64_t range, range_bytes; /* range start and size */
    uint8_t flags;        /* RangeFlags of the first unit */
    int kind;             /* nk_seg_kind */
} nk_seg_loc;
/* Finds the heap, context, segment and page range of addr by the segment signature.
 * NTKD_E_NOTFOUND (message set) when addr is in no segment of the pool's heaps;
 * NTKD_E_NOTPRESENT when the segment's descriptors are not in the dump. */
nk_status nk_seg_locate(nk_segpool *sp, uint64_t addr, nk_seg_loc *out);

/* A subsegment walked: its pool blocks in address order (nk_pool_block: prev_size 0, pool_type
 * and key from the _POOL_HEADER of allocated blocks; free blocks key 0). */
typedef struct nk_seg_sub {
    uint64_t start, bytes;  /* the range */
    bool lfh;
    uint64_t segment, heap;
    unsigned pool_index;    /* Heaps[] index: 0/1 nonpaged, 2 paged */
    size_t heap_i;          /* index into sp->heaps */
    nk_pool_block *b;
    size_t n, cap;
    /* LFH */
    unsigned block_size, first_offset, block_count, free_count;
    /* corruption (the first problem found) */
    bool corrupt;
    uint64_t bad_chunk;     /* VS: the chunk header; LFH: the subsegment */
    uint64_t bad_end;       /* end of the region that could not be decoded */
    uint64_t resync_at;     /* VS: the chunk where the walk resumed after the bad one (0: none) */
    char why[240];
    nk_strbuf notes;        /* further notes (pages not in the dump, signature mismatches) */
} nk_seg_sub;
/* Walks the subsegment of a located range (kind VS or LFH). NTKD_E_FORMAT with a message for
 * a range that is no subsegment; problems inside are reported in out (corrupt/why/notes). */
nk_status nk_seg_walk_sub(nk_segpool *sp, const nk_seg_loc *loc, nk_seg_sub *out);
void nk_seg_sub_free(nk_seg_sub *s);

/* Every pool block of every heap (segment lists of both contexts, every VS and LFH
 * subsegment). fn gets each block and the subsegment it is in; return false to stop. Problems
 * (cycles, bad signatures, corrupt subsegments, missing pages) go to why, one line each. */
typedef bool (*nk_seg_block_fn)(void *u, const nk_seg_sub *sub, const nk_pool_block *b);
typedef struct nk_seg_stats {
    uint64_t segments, subsegments, blocks, corrupt_subsegments;
} nk_seg_stats;
nk_status nk_seg_each_block(nk_segpool *sp, nk_seg_block_fn fn, void *u, nk_seg_stats *st, nk_strbuf *why);

/* "NonPagedPool", "NonPagedPoolNx", "PagedPool" for a Heaps[] index. */
const char *nk_seg_heap_name(unsigned index);
/* True for Heaps[] indexes of paged pool. */
static inline bool nk_seg_paged(unsigned index) { return index == 2; }

#endif
