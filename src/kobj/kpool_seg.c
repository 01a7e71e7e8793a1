/* kpool_seg.c: the kernel segment-heap pool (see kpool_seg.h for the facts and sources). */
#include "kobj/kpool_seg.h"

#include <stdio.h>

#include "kobj/kobj_int.h"
#include "mem/mem.h"

#define SEG_SIG_XOR 0xA2E64EADA2E64EADull
#define HEAP_SIG 0xDDEEDDEEu
#define VS_SIG_XOR 0x2BEDu
#define MAX_RESYNC_STEPS (1u << 20)

/* One line of why, and a field's value from a buffer holding the structure (0 when outside):
 * the layer's shared helpers (kobj_int.h) under this file's short names. */
#define note(...) nk_k_note(__VA_ARGS__)
#define fget(p, len, f) nk_k_fget_buf(p, len, f)

/* A field of a union held in a decoded integer `v` (the union starts at bit 0 of v). */
static uint64_t vbits(uint64_t v, const nk_kfield *f)
{
    unsigned pos = (unsigned)(f->off * 8 + f->bitpos);
    unsigned len = f->bitlen ? f->bitlen : (unsigned)(f->size * 8);
    if (pos >= 64) return 0;
    v >>= pos;
    if (len < 64) v &= (1ull << len) - 1;
    return v;
}

const char *nk_seg_heap_name(unsigned index)
{
    switch (index) {
    case 0: return "NonPagedPool";
    case 1: return "NonPagedPoolNx";
    case 2: return "PagedPool";
    default: return "unknown pool";
    }
}

/* ---- layout -------------------------------------------------------------------------------- */

typedef struct need_ctx {
    ntkd_target *t;
    bool ok;
    char first[520];
} need_ctx;

static void needf(need_ctx *n, const char *T, const char *F, nk_kfield *f)
{
    memset(f, 0, sizeof *f);
    if (nk_k_field(n->t, T, F, f) != NTKD_OK && n->ok) {
        n->ok = false;
        snprintf(n->first, sizeof n->first, "%s", n->t->ctx->errmsg);
    }
}
static void needsz(need_ctx *n, const char *T, uint64_t *sz)
{
    *sz = 0;
    if (nk_k_sizeof(n->t, T, sz) != NTKD_OK && n->ok) {
        n->ok = false;
        snprintf(n->first, sizeof n->first, "%s", n->t->ctx->errmsg);
    }
}

nk_status nk_seg_init(ntkd_target *t, nk_segpool *sp, nk_strbuf *why)
{
    memset(sp, 0, sizeof *sp);
    sp->t = t;
    sp->ptr = nk_k_ptrsize(t);
    need_ctx n = {.t = t, .ok = true};
    nk_kfield f;
    needf(&n, "_SEGMENT_HEAP", "Signature", &sp->heap_sig);
    needf(&n, "_SEGMENT_HEAP", "SegContexts", &f);
    sp->ctx_off = f.off;
    needsz(&n, "_HEAP_SEG_CONTEXT", &sp->ctx_size);
    needf(&n, "_HEAP_SEG_CONTEXT", "SegmentMask", &sp->c_mask);
    needf(&n, "_HEAP_SEG_CONTEXT", "UnitShift", &sp->c_shift);
    needf(&n, "_HEAP_SEG_CONTEXT", "FirstDescriptorIndex", &sp->c_first);
    needf(&n, "_HEAP_SEG_CONTEXT", "Heap", &sp->c_heap);
    needf(&n, "_HEAP_SEG_CONTEXT", "SegmentListHead", &f);
    sp->ctx_list_off = f.off;
    needf(&n, "_HEAP_PAGE_SEGMENT", "ListEntry", &f);
    sp->seg_list_off = f.off;
    needf(&n, "_HEAP_PAGE_SEGMENT", "Signature", &f);
    sp->seg_sig_off = f.off;
    needsz(&n, "_HEAP_PAGE_RANGE_DESCRIPTOR", &sp->desc_size);
    needf(&n, "_HEAP_PAGE_RANGE_DESCRIPTOR", "RangeFlags", &sp->d_flags);
    needf(&n, "_HEAP_PAGE_RANGE_DESCRIPTOR", "UnitSize", &sp->d_unitsize);
    needf(&n, "_HEAP_PAGE_RANGE_DESCRIPTOR", "CommittedPageCount", &sp->d_committed);
    needsz(&n, "_HEAP_VS_SUBSEGMENT", &sp->vss_size);
    needf(&n, "_HEAP_VS_SUBSEGMENT", "Size", &sp->vs_size);
    needf(&n, "_HEAP_VS_SUBSEGMENT", "Signature", &sp->vs_sig);
    needf(&n, "_HEAP_VS_CHUNK_HEADER", "Sizes.HeaderBits", &sp->ch_bits);
    needf(&n, "_HEAP_VS_CHUNK_HEADER_SIZE", "UnsafeSize", &sp->ch_size);
    needf(&n, "_HEAP_VS_CHUNK_HEADER_SIZE", "UnsafePrevSize", &sp->ch_prev);
    needf(&n, "_HEAP_VS_CHUNK_HEADER_SIZE", "Allocated", &sp->ch_alloc);
    needf(&n, "_HEAP_LFH_SUBSEGMENT", "BlockCount", &sp->lfh_count);
    needf(&n, "_HEAP_LFH_SUBSEGMENT", "FreeCount", &sp->lfh_free);
    needf(&n, "_HEAP_LFH_SUBSEGMENT", "BlockOffsets.EncodedData", &sp->lfh_enc);
    needf(&n, "_HEAP_LFH_SUBSEGMENT", "BlockBitmap", &f);
    sp->lfh_bitmap_off = f.off;
    needf(&n, "_HEAP_LFH_SUBSEGMENT_ENCODED_OFFSETS", "BlockSize", &sp->lfh_bsize);
    needf(&n, "_HEAP_LFH_SUBSEGMENT_ENCODED_OFFSETS", "FirstBlockOffset", &sp->lfh_first);
    needf(&n, "_POOL_HEADER", "PoolType", &sp->ph_type);
    needf(&n, "_POOL_HEADER", "PoolTag", &sp->ph_tag);
    needf(&n, "_POOL_HEADER", "BlockSize", &sp->ph_bsz);
    needf(&n, "_POOL_HEADER", "PreviousSize", &sp->ph_prev);
    needf(&n, "_POOL_HEADER", "PoolIndex", &sp->ph_idx);
    needsz(&n, "_EX_HEAP_POOL_NODE", &sp->node_size);
    needf(&n, "_EX_POOL_HEAP_MANAGER_STATE", "PoolNode", &f);
    sp->node_off = f.off;
    uint64_t nodes_bytes = f.size;
    needf(&n, "_EX_HEAP_POOL_NODE", "Heaps", &f);
    sp->heaps_off = f.off;
    uint64_t heaps_bytes = f.size;
    needf(&n, "_RTLP_HP_HEAP_GLOBALS", "HeapKey", &f);
    needf(&n, "_RTLP_HP_HEAP_GLOBALS", "LfhKey", &f);
    if (!n.ok) return nk_k_why_ln(t, why, NTKD_E_NOTFOUND, "segment-heap pool: %s", n.first);
    if (!sp->desc_size || sp->desc_size > 0x100 || !sp->ctx_size || sp->ctx_size > 0x1000 || !sp->node_size ||
        sp->vss_size > 0x1000 || (sp->ptr != 4 && sp->ptr != 8))
        return nk_k_why_ln(t, why, NTKD_E_FORMAT, "segment-heap pool: implausible type sizes in this build's types");
    if (sp->ch_bits.size != 8)
        return nk_k_why_ln(t, why, NTKD_E_FORMAT, "_HEAP_VS_CHUNK_HEADER.Sizes.HeaderBits is not 8 bytes");

    /* the keys */
    uint64_t g = 0;
    char a[20];
    if (nk_k_global(t, "RtlpHpHeapGlobals", &g) != NTKD_OK) {
        note(why, "%s", t->ctx->errmsg);
        return NTKD_E_NOTFOUND;
    }
    if (nk_k_read(t, g, "_RTLP_HP_HEAP_GLOBALS", "HeapKey", &sp->heap_key) != NTKD_OK ||
        nk_k_read(t, g, "_RTLP_HP_HEAP_GLOBALS", "LfhKey", &sp->lfh_key) != NTKD_OK)
        return nk_k_why_ln(t, why, NTKD_E_NOTPRESENT, "nt!RtlpHpHeapGlobals at %s (the heap keys) is not in the dump",
                        nk_k_fmt(t, g, a));

    /* the heaps */
    uint64_t st = 0;
    if (nk_k_global(t, "ExPoolState", &st) != NTKD_OK) {
        note(why, "%s", t->ctx->errmsg);
        return NTKD_E_NOTFOUND;
    }
    unsigned nodes = 1;
    uint64_t nn = 0;
    if (nk_k_global(t, "KeNumberNodes", &nn) == NTKD_OK) {
        uint8_t b[2];
        size_t got = 0;
        nk_read_virt(t, nn, b, 2, &got);
        if (got == 2) nodes = (unsigned)nk_le16(b);
        else note(why, "nt!KeNumberNodes at %s is not in the dump: reading node 0 only", nk_k_fmt(t, nn, a));
    } else {
        note(why, "nt!KeNumberNodes is unknown: reading node 0 only");
    }
    uint64_t maxnodes = nodes_bytes / sp->node_size;
    if (maxnodes > NK_SEG_MAX_NODES) maxnodes = NK_SEG_MAX_NODES;
    if (nodes == 0 || nodes > maxnodes) {
        note(why, "nt!KeNumberNodes is %u: implausible, reading %u node(s)", nodes, nodes ? (unsigned)maxnodes : 1u);
        nodes = nodes ? (unsigned)maxnodes : 1u;
    }
    unsigned per = (unsigned)(heaps_bytes / sp->ptr);
    if (per > 16) per = 16;
    for (unsigned nd = 0; nd < nodes; nd++) {
        for (unsigned i = 0; i < per; i++) {
            uint64_t slot = st + sp->node_off + nd * sp->node_size + sp->heaps_off + (uint64_t)i * sp->ptr, h = 0;
            if (nk_read_ptr(t, slot, &h) != NTKD_OK) {
                note(why, "nt!ExPoolState.PoolNode[%u].Heaps[%u] at %s is not in the dump", nd, i, nk_k_fmt(t, slot, a));
                continue;
            }
            if (!h) continue;
            uint64_t sig = 0;
            if (nk_k_read(t, h, "_SEGMENT_HEAP", "Signature", &sig) != NTKD_OK) {
                note(why, "segment heap %s (PoolNode[%u].Heaps[%u]) is not in the dump", nk_k_fmt(t, h, a), nd, i);
                continue;
            }
            if ((uint32_t)sig != HEAP_SIG) {
                note(why, "segment heap %s (PoolNode[%u].Heaps[%u]): Signature 0x%08x is not 0xddeeddee; skipped",
                     nk_k_fmt(t, h, a), nd, i, (unsigned)sig);
                continue;
            }
            if (sp->nheaps >= NK_SEG_MAX_HEAPS) break;
            sp->heaps[sp->nheaps].heap = h;
            sp->heaps[sp->nheaps].node = nd;
            sp->heaps[sp->nheaps].index = i;
            sp->nheaps++;
        }
    }
    if (!sp->nheaps) return nk_k_why_ln(t, why, NTKD_E_NOTFOUND, "no segment heap was read from nt!ExPoolState");
    return NTKD_OK;
}

/* ---- extra heaps: sessions, special pool --------------------------------------------------- */

const char *nk_seg_region(const nk_seg_heapref *hr)
{
    if (hr->label[0]) return hr->label;
    return nk_seg_paged(hr->index) ? "Paged pool" : "Nonpaged pool";
}

const char *nk_seg_heapref_name(const nk_seg_heapref *hr)
{
    return hr->label[0] ? hr->label : nk_seg_heap_name(hr->index);
}

nk_status nk_seg_add_heap(nk_segpool *sp, uint64_t heap, int src, unsigned pool_index, const char *label,
                          size_t *out_i)
{
    ntkd_target *t = sp->t;
    char a[20];
    for (size_t i = 0; i < sp->nheaps; i++)
        if (sp->heaps[i].heap == heap) {
            if (out_i) *out_i = i;
            return NTKD_OK;
        }
    if (!heap) return nk_fail(t->ctx, NTKD_E_FORMAT, "%s: the heap pointer is NULL", label ? label : "heap");
    if (sp->nheaps >= NK_SEG_MAX_HEAPS)
        return nk_fail(t->ctx, NTKD_E_NOMEM, "segment heap %s (%s): more than %d heaps; not read", nk_k_fmt(t, heap, a),
                       label ? label : "", NK_SEG_MAX_HEAPS);
    uint64_t sig = 0;
    if (nk_k_read(t, heap, "_SEGMENT_HEAP", "Signature", &sig) != NTKD_OK)
        return nk_fail(t->ctx, NTKD_E_NOTPRESENT, "segment heap %s (%s): its _SEGMENT_HEAP is not in the dump",
                       nk_k_fmt(t, heap, a), label ? label : "");
    if ((uint32_t)sig != HEAP_SIG)
        return nk_fail(t->ctx, NTKD_E_FORMAT, "segment heap %s (%s): Signature 0x%08x is not 0xddeeddee", nk_k_fmt(t, heap, a),
                       label ? label : "", (unsigned)sig);
    nk_seg_heapref *hr = &sp->heaps[sp->nheaps];
    memset(hr, 0, sizeof *hr);
    hr->heap = heap;
    hr->index = pool_index;
    hr->src = src;
    snprintf(hr->label, sizeof hr->label, "%s", label ? label : "");
    if (out_i) *out_i = sp->nheaps;
    sp->nheaps++;
    return NTKD_OK;
}

#define SEG_MAX_SESSIONS 64

size_t nk_seg_add_session_heaps(nk_segpool *sp, nk_strbuf *why)
{
    ntkd_target *t = sp->t;
    char a[20], b[20];
    if (!nk_k_has(t, "_EPROCESS", "Session") || !nk_k_has(t, "_MM_SESSION_SPACE", "HeapState") ||
        !nk_k_has(t, "_EX_HEAP_SESSION_STATE", "PagedHeap")) {
        note(why, "session pool: nt's types lack _EPROCESS.Session, _MM_SESSION_SPACE.HeapState or "
                  "_EX_HEAP_SESSION_STATE.PagedHeap: the sessions' heaps are not read");
        return 0;
    }
    nk_kproc *procs = NULL;
    size_t n = 0, added = 0;
    nk_strbuf pw = {0};
    if (nk_k_processes(t, &procs, &n, &pw) != NTKD_OK && !procs) {
        note(why, "session pool: the process list cannot be read: %s", pw.len ? pw.s : t->ctx->errmsg);
        nk_sb_free(&pw);
        return 0;
    }
    nk_sb_free(&pw);
    uint64_t seen[SEG_MAX_SESSIONS];
    unsigned nseen = 0;
    for (size_t i = 0; i < n; i++) {
        uint64_t s = 0;
        if (nk_k_read(t, procs[i].addr, "_EPROCESS", "Session", &s) != NTKD_OK || !s) continue;
        bool dup = false;
        for (unsigned j = 0; j < nseen; j++) dup |= seen[j] == s;
        if (dup) continue;
        if (nseen == SEG_MAX_SESSIONS) {
            note(why, "session pool: more than %d sessions; the others are not read", SEG_MAX_SESSIONS);
            break;
        }
        seen[nseen++] = s;
        uint64_t hs = 0, ph = 0;
        if (nk_k_read(t, s, "_MM_SESSION_SPACE", "HeapState", &hs) != NTKD_OK) {
            note(why, "session space %s (process %s): HeapState is not in the dump", nk_k_fmt(t, s, a), procs[i].image);
            continue;
        }
        if (!hs) continue;
        if (nk_k_read(t, hs, "_EX_HEAP_SESSION_STATE", "PagedHeap", &ph) != NTKD_OK) {
            note(why, "session space %s: its _EX_HEAP_SESSION_STATE %s is not in the dump", nk_k_fmt(t, s, a), nk_k_fmt(t, hs, b));
            continue;
        }
        if (!ph) continue;
        size_t at = 0;
        size_t before = sp->nheaps;
        if (nk_seg_add_heap(sp, ph, NK_SEG_SRC_SESSION, 2, "Paged session pool", &at) != NTKD_OK) {
            note(why, "session space %s (HeapState %s -> PagedHeap): %s", nk_k_fmt(t, s, a), nk_k_fmt(t, hs, b), t->ctx->errmsg);
            continue;
        }
        if (sp->nheaps > before) {
            sp->heaps[at].session = s;
            sp->heaps[at].session_id = nk_k_get(t, s, "_MM_SESSION_SPACE", "SessionId", UINT64_MAX);
            added++;
        }
    }
    free(procs);
    return added;
}

size_t nk_seg_add_special_heaps(nk_segpool *sp, nk_strbuf *why)
{
    ntkd_target *t = sp->t;
    char a[20];
    nk_kfield f;
    uint64_t ps = 0;
    if (nk_k_field(t, "_EX_POOL_HEAP_MANAGER_STATE", "SpecialHeaps", &f) != NTKD_OK) {
        note(why, "nt's types lack _EX_POOL_HEAP_MANAGER_STATE.SpecialHeaps: the special-pool heaps are not read");
        return 0;
    }
    if (nk_k_global(t, "ExPoolState", &ps) != NTKD_OK) {
        note(why, "%s", t->ctx->errmsg);
        return 0;
    }
    uint64_t n = f.size / sp->ptr, added = 0;
    if (n > 16) n = 16;
    for (uint64_t i = 0; i < n; i++) {
        uint64_t slot = ps + f.off + i * sp->ptr, h = 0;
        if (nk_read_ptr(t, slot, &h) != NTKD_OK) {
            note(why, "nt!ExPoolState.SpecialHeaps[%u] at %s is not in the dump", (unsigned)i, nk_k_fmt(t, slot, a));
            continue;
        }
        if (!h) continue;
        size_t at = 0, before = sp->nheaps;
        if (nk_seg_add_heap(sp, h, NK_SEG_SRC_SPECIAL, 0, "Special pool", &at) != NTKD_OK) {
            note(why, "nt!ExPoolState.SpecialHeaps[%u]: %s; skipped", (unsigned)i, t->ctx->errmsg);
            continue;
        }
        if (sp->nheaps > before) {
            sp->heaps[at].node = (unsigned)i;
            added++;
        }
    }
    return (size_t)added;
}

/* ---- contexts and segments ----------------------------------------------------------------- */

typedef struct segctx {
    uint64_t addr, mask, seg_bytes;
    unsigned shift, first, ndesc;
} segctx;

static bool read_ctx(nk_segpool *sp, uint64_t heap, unsigned i, segctx *c)
{
    uint8_t buf[0x1000];
    size_t len = sp->ctx_size < sizeof buf ? (size_t)sp->ctx_size : sizeof buf, got = 0;
    c->addr = heap + sp->ctx_off + i * sp->ctx_size;
    nk_read_virt(sp->t, c->addr, buf, len, &got);
    if (got < len) return false;
    c->mask = fget(buf, len, &sp->c_mask);
    c->shift = (unsigned)fget(buf, len, &sp->c_shift);
    c->first = (unsigned)fget(buf, len, &sp->c_first);
    uint64_t size = ~c->mask + 1;
    if (!c->mask || (size & (size - 1)) || size < 0x10000 || size > 0x10000000ull) return false;
    if (c->shift < 12 || c->shift > 24 || (size >> c->shift) < 2) return false;
    c->seg_bytes = size;
    uint64_t nd = size >> c->shift;
    c->ndesc = (unsigned)(nd > NK_SEG_MAX_DESC ? NK_SEG_MAX_DESC : nd);
    if (c->first >= c->ndesc) return false;
    return true;
}

static bool seg_sig_ok(nk_segpool *sp, uint64_t seg, uint64_t ctx)
{
    uint64_t sig = 0;
    if (nk_read_u64(sp->t, seg + sp->seg_sig_off, &sig) != NTKD_OK) return false;
    return sig == (seg ^ ctx ^ sp->heap_key ^ SEG_SIG_XOR);
}

/* The descriptor array of a segment (ndesc * desc_size bytes); NULL when not in the dump. */
static uint8_t *read_descs(nk_segpool *sp, uint64_t seg, const segctx *c)
{
    size_t len = (size_t)(c->ndesc * sp->desc_size), got = 0;
    uint8_t *d = malloc(len);
    if (!d) return NULL;
    nk_read_virt(sp->t, seg, d, len, &got);
    if (got < len) {
        free(d);
        return NULL;
    }
    return d;
}

static uint8_t dflags(const nk_segpool *sp, const uint8_t *d, unsigned k)
{
    return (uint8_t)fget(d + k * sp->desc_size, (size_t)sp->desc_size, &sp->d_flags);
}
static unsigned dunits(const nk_segpool *sp, const uint8_t *d, unsigned k)
{
    return (unsigned)fget(d + k * sp->desc_size, (size_t)sp->desc_size, &sp->d_unitsize);
}

/* Fills loc's range fields for unit k of a segment. */
static void range_of(const nk_segpool *sp, const uint8_t *d, const segctx *c, uint64_t seg, unsigned k, nk_seg_loc *l)
{
    l->unit = k;
    l->unit_shift = c->shift;
    if (k < c->first) {
        l->kind = NK_SEG_META;
        l->first_unit = 0;
        l->range = seg;
        l->range_bytes = (uint64_t)c->first << c->shift;
        l->flags = 0;
        return;
    }
    uint8_t fl = dflags(sp, d, k);
    unsigned first = k;
    if (fl && !(fl & 2)) {
        unsigned back = dunits(sp, d, k); /* UnitOffset shares the byte */
        if (back <= k - c->first && (dflags(sp, d, k - back) & 2)) first = k - back;
    }
    uint8_t ff = dflags(sp, d, first);
    unsigned units = (ff & 2) ? dunits(sp, d, first) : 1;
    if (!units) units = 1;
    if (first + units > c->ndesc) units = c->ndesc - first;
    if (first + units <= k) { /* the first unit's size does not reach k: treat k alone */
        first = k;
        units = 1;
        ff = fl;
    }
    l->first_unit = first;
    l->range = seg + ((uint64_t)first << c->shift);
    l->range_bytes = (uint64_t)units << c->shift;
    l->flags = ff;
    l->kind = (ff & 1) ? (int)(ff & 0x0c) : NK_SEG_FREE;
    if (l->kind == 4) l->kind = NK_SEG_LARGE; /* kind 4 is none we know: treat as a large range */
}

nk_status nk_seg_locate(nk_segpool *sp, uint64_t addr, nk_seg_loc *out)
{
    ntkd_target *t = sp->t;
    memset(out, 0, sizeof *out);
    out->addr = addr;
    char a[20], b[20];
    for (size_t h = 0; h < sp->nheaps; h++) {
        for (unsigned i = 0; i < 2; i++) {
            segctx c;
            if (!read_ctx(sp, sp->heaps[h].heap, i, &c)) continue;
            uint64_t seg = addr & c.mask;
            if (!seg_sig_ok(sp, seg, c.addr)) continue;
            out->heap_i = h;
            out->ctx_i = i;
            out->ctx = c.addr;
            out->segment = seg;
            uint8_t *d = read_descs(sp, seg, &c);
            if (!d)
                return nk_fail(t->ctx, NTKD_E_NOTPRESENT,
                               "the descriptors of segment %s (heap %s, context %u) are not in the dump",
                               nk_k_fmt(t, seg, a), nk_k_fmt(t, sp->heaps[h].heap, b), i);
            unsigned k = (unsigned)((addr - seg) >> c.shift);
            if (k >= c.ndesc) {
                free(d);
                return nk_fail(t->ctx, NTKD_E_NOTFOUND, "%s is past the descriptors of segment %s", nk_k_fmt(t, addr, a),
                               nk_k_fmt(t, seg, b));
            }
            range_of(sp, d, &c, seg, k, out);
            free(d);
            return NTKD_OK;
        }
    }
    return nk_fail(t->ctx, NTKD_E_NOTFOUND, "%s is in no segment of the pool's %zu segment heaps", nk_k_fmt(t, addr, a),
                   sp->nheaps);
}

/* ---- subsegments ----------------------------------------------------------------------------- */

void nk_seg_sub_free(nk_seg_sub *s)
{
    if (!s) return;
    free(s->b);
    s->b = NULL;
    s->n = s->cap = 0;
    nk_sb_free(&s->notes);
}

static bool add_blk(nk_seg_sub *s, uint64_t addr, uint32_t size, const uint8_t *ph, size_t phlen, const nk_segpool *sp,
                    bool free_, bool resync)
{
    if (s->n >= 0x20000 || !nk_grow((void **)&s->b, &s->cap, s->n + 1, sizeof *s->b)) return false;
    nk_pool_block *b = &s->b[s->n++];
    memset(b, 0, sizeof *b);
    b->addr = addr;
    b->size = size;
    b->free_ = free_;
    b->after_resync = resync;
    if (!free_ && ph) {
        uint32_t tag = (uint32_t)fget(ph, phlen, &sp->ph_tag);
        b->key = tag & 0x7fffffffu;
        b->protected_ = (tag & 0x80000000u) != 0;
        b->pool_type = (uint8_t)fget(ph, phlen, &sp->ph_type);
        b->pool_index = (uint8_t)fget(ph, phlen, &sp->ph_idx);
        b->prev_size = (uint32_t)fget(ph, phlen, &sp->ph_prev) * 16u;
    }
    return true;
}

typedef struct vsbuf {
    const uint8_t *buf;
    const bool *present; /* per page */
    uint64_t R, end;     /* end: bytes of the subsegment walked */
} vsbuf;

typedef struct chunk {
    unsigned size, prev, alloc;
} chunk;

static bool vs_present(const vsbuf *v, uint64_t off, uint64_t len)
{
    if (off + len > v->end) return false;
    for (uint64_t p = off >> 12; p <= (off + len - 1) >> 12; p++)
        if (!v->present[p]) return false;
    return true;
}

static bool vs_decode(const nk_segpool *sp, const vsbuf *v, uint64_t off, chunk *c)
{
    if (!vs_present(v, off, 16)) return false;
    uint64_t raw = nk_le64(v->buf + off + sp->ch_bits.off);
    uint64_t dec = raw ^ (v->R + off) ^ sp->heap_key;
    c->size = (unsigned)vbits(dec, &sp->ch_size);
    c->prev = (unsigned)vbits(dec, &sp->ch_prev);
    c->alloc = (unsigned)vbits(dec, &sp->ch_alloc);
    return true;
}

/* True when a chain of sane, consistent chunk headers runs from off to the end. */
static bool vs_chain_ok(const nk_segpool *sp, const vsbuf *v, uint64_t off, unsigned *budget)
{
    bool first = true;
    unsigned last = 0;
    while (off < v->end) {
        if (!*budget) return false;
        (*budget)--;
        chunk c;
        if (!vs_decode(sp, v, off, &c)) return false;
        if (c.size < 2 || off + (uint64_t)c.size * 16 > v->end) return false;
        if (!first && c.prev != last) return false;
        first = false;
        last = c.size;
        off += (uint64_t)c.size * 16;
    }
    return off == v->end;
}

static void vs_walk(nk_segpool *sp, const nk_seg_loc *loc, nk_seg_sub *s)
{
    ntkd_target *t = sp->t;
    char a[20];
    uint64_t R = loc->range;
    uint64_t bytes = loc->range_bytes > NK_SEG_MAX_VS_BYTES ? NK_SEG_MAX_VS_BYTES : loc->range_bytes;
    size_t npages = (size_t)((bytes + 0xfff) >> 12);
    uint8_t *buf = calloc(1, (size_t)bytes ? (size_t)bytes : 1);
    bool *present = calloc(npages ? npages : 1, sizeof *present);
    if (!buf || !present) {
        free(buf);
        free(present);
        snprintf(s->why, sizeof s->why, "out of memory reading the VS subsegment at %s", nk_k_fmt(t, R, a));
        s->corrupt = true;
        return;
    }
    size_t missing = 0;
    for (size_t p = 0; p < npages; p++) {
        size_t want = (size_t)(bytes - p * 0x1000 < 0x1000 ? bytes - p * 0x1000 : 0x1000), got = 0;
        nk_read_virt(t, R + p * 0x1000, buf + p * 0x1000, want, &got);
        present[p] = got == want;
        missing += !present[p];
    }
    vsbuf v = {.buf = buf, .present = present, .R = R, .end = bytes};
    if (!present[0] || sp->vss_size > bytes) {
        s->corrupt = true;
        s->bad_chunk = R;
        s->bad_end = R + bytes;
        snprintf(s->why, sizeof s->why, "the VS subsegment header at %s (_HEAP_VS_SUBSEGMENT) is not in the dump",
                 nk_k_fmt(t, R, a));
        goto out;
    }
    unsigned size = (unsigned)fget(buf, (size_t)bytes, &sp->vs_size);
    unsigned sig = (unsigned)fget(buf, (size_t)bytes, &sp->vs_sig);
    if (sig != ((size ^ VS_SIG_XOR) & 0x7fffu))
        note(&s->notes, "VS subsegment %s: Signature 0x%x is not Size 0x%x ^ 0x2bed", nk_k_fmt(t, R, a), sig, size);
    if (!size || (uint64_t)size * 16 > bytes) {
        note(&s->notes, "VS subsegment %s: Size 0x%x (16-byte units) does not fit its range of 0x%llx bytes; walking the range",
             nk_k_fmt(t, R, a), size, (unsigned long long)bytes);
    } else {
        v.end = (uint64_t)size * 16;
    }
    if (missing) note(&s->notes, "VS subsegment %s: %zu of its %zu pages are not in the dump", nk_k_fmt(t, R, a), missing, npages);
    uint64_t off = (sp->vss_size + 15) & ~15ull;
    unsigned last = 0;
    bool known_last = true, resync = false;
    unsigned budget = MAX_RESYNC_STEPS;
    for (unsigned guard = 0; off < v.end && guard < 0x20000; guard++) {
        chunk c = {0, 0, 0};
        const char *bad = NULL;
        char msg[200];
        if (!vs_decode(sp, &v, off, &c)) {
            snprintf(msg, sizeof msg, "VS chunk header @%s is on a page not in the dump", nk_k_fmt(t, R + off, a));
            bad = msg;
        } else if (c.size < 2 || off + (uint64_t)c.size * 16 > v.end) {
            snprintf(msg, sizeof msg,
                     "Bad VS chunk header @%s (_HEAP_VS_CHUNK_HEADER): UnsafeSize 0x%x is %s", nk_k_fmt(t, R + off, a),
                     c.size, c.size < 2 ? "too small" : "past the subsegment end");
            bad = msg;
        } else if (known_last && c.prev != last) {
            snprintf(msg, sizeof msg,
                     "Bad VS chunk header @%s (_HEAP_VS_CHUNK_HEADER): UnsafePrevSize 0x%x, the previous chunk's "
                     "UnsafeSize is 0x%x",
                     nk_k_fmt(t, R + off, a), c.prev, last);
            bad = msg;
        }
        if (bad) {
            if (!s->corrupt) {
                s->corrupt = true;
                s->bad_chunk = R + off;
                snprintf(s->why, sizeof s->why, "%s", bad);
            } else {
                note(&s->notes, "%s", bad);
            }
            /* the chunk's own size is trusted when a consistent chain runs from it to the end */
            bool own = c.size >= 2 && vs_present(&v, off, 16) && off + (uint64_t)c.size * 16 <= v.end &&
                       vs_chain_ok(sp, &v, off, &budget);
            if (!own) {
                uint64_t r = off + 16;
                for (; r + 16 <= v.end && budget; r += 16)
                    if (vs_chain_ok(sp, &v, r, &budget)) break;
                if (s->bad_chunk == R + off) s->bad_end = R + (r + 16 <= v.end ? r : v.end);
                if (r + 16 > v.end || !budget) {
                    note(&s->notes, "VS subsegment %s: no later chunk header starts a consistent chain: the rest is not walked",
                         nk_k_fmt(t, R, a));
                    break;
                }
                if (s->bad_chunk == R + off) s->resync_at = R + r;
                off = r;
                known_last = false;
                resync = true;
                continue;
            }
            /* as the classic walk does, the block of the bad header is not listed: the walk
             * resumes at the next chunk, which the chain from the bad one reaches */
            if (s->bad_chunk == R + off) {
                s->bad_end = R + off + (uint64_t)c.size * 16;
                if (off + (uint64_t)c.size * 16 < v.end) s->resync_at = s->bad_end;
            }
            last = c.size;
            known_last = true;
            resync = true;
            off += (uint64_t)c.size * 16;
            continue;
        }
        const uint8_t *ph = vs_present(&v, off + 16, 16) ? buf + off + 16 : NULL;
        if (!add_blk(s, R + off + 16, c.size * 16 - 16, ph, 16, sp, c.alloc == 0, resync)) break;
        last = c.size;
        known_last = true;
        off += (uint64_t)c.size * 16;
    }
out:
    free(buf);
    free(present);
}

/* LFH: whether BlockOffsets decoded one way (see lfh_walk) give a layout that fits the
 * subsegment: a block size of at least 16 and a first block after the bitmap, inside the range. */
static bool lfh_plausible(const nk_segpool *sp, uint32_t dec, uint64_t bytes, unsigned *bs, unsigned *fo)
{
    *bs = (unsigned)vbits(dec, &sp->lfh_bsize);
    *fo = (unsigned)vbits(dec, &sp->lfh_first);
    return *bs >= 16 && *fo >= sp->lfh_bitmap_off + 8 && *fo < bytes && *bs <= bytes;
}

static void lfh_walk(nk_segpool *sp, const nk_seg_loc *loc, nk_seg_sub *s)
{
    ntkd_target *t = sp->t;
    char a[20];
    uint64_t R = loc->range, bytes = loc->range_bytes;
    uint8_t hdr[0x100];
    size_t hl = (size_t)(sp->lfh_bitmap_off < sizeof hdr ? sp->lfh_bitmap_off : sizeof hdr), got = 0;
    nk_read_virt(t, R, hdr, hl, &got);
    if (got < hl || hl < 8) {
        s->corrupt = true;
        s->bad_chunk = R;
        s->bad_end = R + bytes;
        snprintf(s->why, sizeof s->why, "the LFH subsegment header at %s (_HEAP_LFH_SUBSEGMENT) is not in the dump",
                 nk_k_fmt(t, R, a));
        return;
    }
    unsigned count = (unsigned)fget(hdr, hl, &sp->lfh_count), freec = (unsigned)fget(hdr, hl, &sp->lfh_free);
    uint32_t enc = (uint32_t)fget(hdr, hl, &sp->lfh_enc);
    unsigned bs = 0, fo = 0;
    /* the key: LfhKey and the subsegment's low 32 address bits shifted right 12 (the form a
       public segment-heap walker, DbgHelpUtils, decodes real heaps with); the 64-bit address
       shifted then truncated is tried second */
    if (!lfh_plausible(sp, enc ^ (uint32_t)sp->lfh_key ^ ((uint32_t)R >> 12), bytes, &bs, &fo)) {
        if (lfh_plausible(sp, enc ^ (uint32_t)sp->lfh_key ^ (uint32_t)(R >> 12), bytes, &bs, &fo)) {
            note(&s->notes, "LFH subsegment %s: BlockOffsets decoded with (u32)(R >> 12)", nk_k_fmt(t, R, a));
        } else {
            s->corrupt = true;
            s->bad_chunk = R;
            s->bad_end = R + bytes;
            snprintf(s->why, sizeof s->why,
                     "Bad LFH subsegment @%s (_HEAP_LFH_SUBSEGMENT): BlockOffsets decode to BlockSize 0x%x, "
                     "FirstBlockOffset 0x%x: not inside its range of 0x%llx bytes",
                     nk_k_fmt(t, R, a), bs, fo, (unsigned long long)bytes);
            return;
        }
    }
    s->block_size = bs;
    s->first_offset = fo;
    s->block_count = count;
    s->free_count = freec;
    uint64_t fit = (bytes - fo) / bs;
    if (!count || count > fit) {
        s->corrupt = true;
        s->bad_chunk = R;
        s->bad_end = R;
        snprintf(s->why, sizeof s->why,
                 "Bad LFH subsegment @%s (_HEAP_LFH_SUBSEGMENT): BlockCount 0x%x blocks of 0x%x bytes from +0x%x "
                 "do not fit its range of 0x%llx bytes; walking the 0x%llx that fit",
                 nk_k_fmt(t, R, a), count, bs, fo, (unsigned long long)bytes, (unsigned long long)fit);
        count = (unsigned)fit;
    }
    /* the bitmap: 2 bits a block, before the first block */
    size_t bmbytes = ((size_t)count * 2 + 63) / 64 * 8;
    if (sp->lfh_bitmap_off + bmbytes > fo) {
        note(&s->notes, "LFH subsegment %s: the bitmap of 0x%x blocks overlaps the first block; blocks reported as allocated",
             nk_k_fmt(t, R, a), count);
        bmbytes = 0;
    }
    uint8_t *bm = bmbytes ? malloc(bmbytes) : NULL;
    if (bmbytes && bm) {
        got = 0;
        nk_read_virt(t, R + sp->lfh_bitmap_off, bm, bmbytes, &got);
        if (got < bmbytes) {
            note(&s->notes, "LFH subsegment %s: its bitmap is not in the dump; blocks reported as allocated", nk_k_fmt(t, R, a));
            free(bm);
            bm = NULL;
        }
    }
    unsigned nfree = 0, missing = 0;
    for (unsigned i = 0; i < count; i++) {
        uint64_t ba = R + fo + (uint64_t)i * bs;
        bool busy = bm ? (bm[(2 * i) / 8] >> ((2 * i) % 8)) & 1 : true;
        nfree += !busy;
        uint8_t ph[16];
        const uint8_t *p = NULL;
        if (busy) {
            got = 0;
            nk_read_virt(t, ba, ph, sizeof ph, &got);
            if (got == sizeof ph) p = ph;
            else missing++;
        }
        if (!add_blk(s, ba, bs, p, sizeof ph, sp, !busy, false)) break;
    }
    if (missing) note(&s->notes, "LFH subsegment %s: %u allocated blocks are on pages not in the dump", nk_k_fmt(t, R, a), missing);
    if (bm && nfree != freec && count == s->block_count)
        note(&s->notes, "LFH subsegment %s: FreeCount %u, the bitmap has %u free blocks", nk_k_fmt(t, R, a), freec, nfree);
    free(bm);
}

nk_status nk_seg_walk_sub(nk_segpool *sp, const nk_seg_loc *loc, nk_seg_sub *out)
{
    memset(out, 0, sizeof *out);
    char a[20];
    if (loc->kind != NK_SEG_VS && loc->kind != NK_SEG_LFH)
        return nk_fail(sp->t->ctx, NTKD_E_FORMAT, "the range at %s is no VS or LFH subsegment (RangeFlags 0x%x)",
                       nk_k_fmt(sp->t, loc->range, a), loc->flags);
    out->start = loc->range;
    out->bytes = loc->range_bytes;
    out->lfh = loc->kind == NK_SEG_LFH;
    out->segment = loc->segment;
    out->heap = loc->heap_i < sp->nheaps ? sp->heaps[loc->heap_i].heap : 0;
    out->pool_index = loc->heap_i < sp->nheaps ? sp->heaps[loc->heap_i].index : 0;
    out->heap_i = loc->heap_i;
    if (out->lfh) lfh_walk(sp, loc, out);
    else vs_walk(sp, loc, out);
    return NTKD_OK;
}

/* ---- enumeration ------------------------------------------------------------------------------ */

nk_status nk_seg_each_block(nk_segpool *sp, nk_seg_block_fn fn, void *u, nk_seg_stats *st, nk_strbuf *why)
{
    ntkd_target *t = sp->t;
    nk_seg_stats dummy;
    if (!st) st = &dummy;
    memset(st, 0, sizeof *st);
    char a[20], b[20];
    bool stop = false;
    for (size_t h = 0; h < sp->nheaps && !stop; h++) {
        for (unsigned i = 0; i < 2 && !stop; i++) {
            segctx c;
            if (!read_ctx(sp, sp->heaps[h].heap, i, &c)) {
                note(why, "heap %s (%s) context %u: unreadable or implausible _HEAP_SEG_CONTEXT", nk_k_fmt(t, sp->heaps[h].heap, a),
                     nk_seg_heapref_name(&sp->heaps[h]), i);
                continue;
            }
            nk_k_addrs l = {0};
            nk_strbuf lw = {0};
            nk_status ls = nk_k_list(t, c.addr + sp->ctx_list_off, NK_SEG_MAX_SEGMENTS, nk_k_addrs_push, &l, &lw);
            if (ls != NTKD_OK || l.nomem)
                note(why, "heap %s context %u: segment list: %s", nk_k_fmt(t, sp->heaps[h].heap, a), i,
                     lw.len ? lw.s : "out of memory");
            nk_sb_free(&lw);
            for (size_t s = 0; s < l.n && !stop; s++) {
                uint64_t seg = l.v[s] - sp->seg_list_off;
                if (seg & ~c.mask) {
                    note(why, "heap %s context %u: segment %s is not aligned on 0x%llx; skipped", nk_k_fmt(t, sp->heaps[h].heap, a), i,
                         nk_k_fmt(t, seg, b), (unsigned long long)c.seg_bytes);
                    continue;
                }
                if (!seg_sig_ok(sp, seg, c.addr)) {
                    note(why, "segment %s (heap %s context %u): bad or unreadable _HEAP_PAGE_SEGMENT.Signature; skipped",
                         nk_k_fmt(t, seg, a), nk_k_fmt(t, sp->heaps[h].heap, b), i);
                    continue;
                }
                uint8_t *d = read_descs(sp, seg, &c);
                if (!d) {
                    note(why, "segment %s: its descriptors are not in the dump; skipped", nk_k_fmt(t, seg, a));
                    continue;
                }
                st->segments++;
                for (unsigned k = c.first; k < c.ndesc && !stop;) {
                    uint8_t fl = dflags(sp, d, k);
                    unsigned units = dunits(sp, d, k);
                    if ((fl & 3) != 3 || ((fl & 0x0c) != NK_SEG_VS && (fl & 0x0c) != NK_SEG_LFH)) {
                        k += ((fl & 3) == 3 && units) ? units : 1;
                        continue;
                    }
                    nk_seg_loc loc;
                    memset(&loc, 0, sizeof loc);
                    loc.heap_i = h;
                    loc.ctx_i = i;
                    loc.ctx = c.addr;
                    loc.segment = seg;
                    range_of(sp, d, &c, seg, k, &loc);
                    loc.addr = loc.range;
                    nk_seg_sub sub;
                    if (nk_seg_walk_sub(sp, &loc, &sub) == NTKD_OK) {
                        st->subsegments++;
                        if (sub.corrupt) {
                            st->corrupt_subsegments++;
                            note(why, "%s", sub.why);
                        }
                        if (why && sub.notes.len) nk_sb_printf(why, "%s", sub.notes.s);
                        for (size_t j = 0; j < sub.n && !stop; j++) {
                            st->blocks++;
                            if (!fn(u, &sub, &sub.b[j])) stop = true;
                        }
                    }
                    nk_seg_sub_free(&sub);
                    k += units ? units : 1;
                }
                free(d);
            }
            free(l.v);
        }
    }
    return NTKD_OK;
}
