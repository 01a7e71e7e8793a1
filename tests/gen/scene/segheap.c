/* segheap.c: the kernel segment-heap pool of Windows 10 19H1 and later (layouts w19041 and
 * w22000), laid out by the contract /work/notes/SEGHEAP.md (the facts come from M. Yason,
 * "Windows 10 Segment Heap Internals", Black Hat USA 2016, and C. Bayet & P. Fariello, "Scoop
 * the Windows 10 pool!", SSTIC 2020; the values the contract marks [ours] are our choices).
 * Every offset and size comes from the kernel table through the lay_/w_ API.
 *
 * What it writes:
 *  - nt!RtlpHpHeapGlobals: HeapKey and LfhKey (nonzero, from the scene seed);
 *  - nt!KeNumberNodes = 1; nt!ExPoolState.PoolNode[0].Heaps[0..2]: three _SEGMENT_HEAP
 *    (NonPagedPool, NonPagedPoolNx, PagedPool; Heaps[3] NULL), Signature 0xDDEEDDEE, both
 *    SegContexts initialised (1-MiB and 16-MiB segments), each heap with one 1-MiB segment on
 *    SegContexts[0].SegmentListHead. The segments lie 256 GiB above the generator's kernel pool
 *    (the same PML4 slot), so that the bump allocator never hands out their unused pages: only
 *    the segment header (units 0 and 1: the _HEAP_PAGE_SEGMENT with its descriptors) and the
 *    pages of the ranges in use are in the dump. One free unit is left between ranges.
 *  - sh_layout (pool scene): NonPagedPoolNx: an LFH subsegment of 32 'Leak' blocks of 0x70
 *    bytes (4 free), a VS subsegment of mixed tags (one free chunk), a VS subsegment whose third
 *    chunk header has an inconsistent UnsafePrevSize (the corrupt case); NonPagedPool: a small VS
 *    subsegment (Thre, AcpB); PagedPool: a VS subsegment of paged tags (Toke, NfBf, Gh05).
 *    Hostile (cycle|all): the PagedPool segment's ListEntry.Flink points to itself, and an extra
 *    LFH subsegment says BlockCount 0xffff (its encoded offsets valid).
 *  - sh_alloc (any scene, e.g. mm's control areas): one block in a fresh one-unit VS subsegment
 *    of the heap (the block's chunk, then a free chunk to the end of the subsegment); the heaps
 *    are created on first use.
 * Manifest lines (scene.h): heapkey, segheap, hpseg, subseg, poolblock, poolpage, poolbad,
 * hostile segheap_cycle / lfh_count. */
#include "scene.h"

#include <string.h>

#define SH_HEAP_SIG 0xDDEEDDEEull            /* _SEGMENT_HEAP.Signature [pub] */
#define SH_SEG_SIG 0xA2E64EADA2E64EADull     /* segment signature constant [pub] */
#define SH_VS_SIG 0x2BEDu                    /* VS subsegment signature constant [pub] */
#define RF_ALLOC 0x01u
#define RF_FIRST 0x02u
#define RF_LFH 0x08u
#define RF_VS 0x0Cu
#define SH_UNIT_SHIFT 12u                    /* context 0: 4-KiB units, 1-MiB segments */
#define SH_SEG_BYTES 0x100000ull
#define SH_UNITS 256u

typedef struct shheap {
    uint64_t H, ctx0, seg;
    unsigned next_unit;
    unsigned type1; /* the pool header's PoolType: POOL_TYPE + 1 */
    const char *kind; /* nonpaged / paged (poolpage lines) */
    uint64_t session; /* the session paged heap (h[SH_SESSION]): its _MM_SESSION_SPACE */
} shheap;

#define SH_SESSION 3 /* h[3]: the session paged heap (sh_session_heap) */

typedef struct shst {
    kern *k;
    uint64_t heapkey, lfhkey;
    shheap h[4];
} shst;

/* One scene per process: the state of the heaps of the kern being built. */
static shst sh_state;

static uint64_t smix(uint64_t z)
{
    z += 0x9e3779b97f4a7c15ULL;
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
    return z ^ (z >> 31);
}

static uint64_t r16(uint64_t v) { return (v + 15) & ~(uint64_t)15; }

/* Bit position of a bitfield counted from the start of the structure. */
static unsigned bitpos(const lay *L, const char *type, const char *field)
{
    uint64_t off, size;
    unsigned bp, bl;
    if (!lay_field(L, type, field, &off, &size, &bp, &bl))
        sc_die("segheap: the table has no field %s.%s", type, field);
    return (unsigned)(off * 8 + bp);
}

static void heap_init(shheap *h);

static void sh_setup(kern *k, uint64_t seed)
{
    shst *s = &sh_state;
    if (s->k == k)
        return;
    memset(s, 0, sizeof *s);
    world *w = k->w;
    const lay *L = w_lay(w);
    if (k->build < 18362 || !lay_has_type(L, "_SEGMENT_HEAP") || w_ptr(w) != 8 ||
        lay_sym(L, "ExPoolState") == SC_NONE || lay_sym(L, "RtlpHpHeapGlobals") == SC_NONE)
        sc_die("segheap: build %u has no kernel segment-heap pool in this table", k->build);
    s->k = k;
    s->heapkey = smix(seed ^ 0x5e9bea9ull) | 0x1000000000000001ull;
    s->lfhkey = smix(seed ^ 0x1f4bea9ull) | 0x0100000000000010ull;
    uint64_t g = k_sym(k, "RtlpHpHeapGlobals");
    w_set(w, g, "_RTLP_HP_HEAP_GLOBALS", "HeapKey", s->heapkey);
    w_set(w, g, "_RTLP_HP_HEAP_GLOBALS", "LfhKey", s->lfhkey);
    mf("heapkey %#llx %#llx", (unsigned long long)s->heapkey, (unsigned long long)s->lfhkey);
    uint64_t nn = k_sym_opt(k, "KeNumberNodes");
    if (nn != SC_NONE)
        w_put(w, nn, 2, 1);

    uint64_t ps = k_sym(k, "ExPoolState");
    uint64_t node0 = ps + lay_off_req(L, "_EX_POOL_HEAP_MANAGER_STATE", "PoolNode");
    uint64_t heaps = node0 + lay_off_req(L, "_EX_HEAP_POOL_NODE", "Heaps");
    uint64_t hsz = lay_size(L, "_SEGMENT_HEAP");
    uint64_t segbase = 0;
    for (int i = 0; i < 3; i++) {
        shheap *h = &s->h[i];
        h->H = w_alloc(w, hsz, SC_PAGE);
        if (i == 0) {
            uint64_t slot = h->H & ~((1ull << 39) - 1);
            segbase = slot + (1ull << 38) + ((smix(seed ^ 0x5e65ull) % 0x800) << 21);
        }
        h->seg = segbase + (uint64_t)i * 2 * SH_SEG_BYTES;
        h->type1 = i == 2 ? 2 : 1;
        h->kind = i == 2 ? "paged" : "nonpaged";
        heap_init(h);
        w_pointer(w, heaps + (uint64_t)i * w_ptr(w), h->H);
        mf("segheap %#llx 0 %d", (unsigned long long)h->H, i);
        mf("hpseg %#llx %#llx 0", (unsigned long long)h->seg, (unsigned long long)h->H);
    }
    w_pointer(w, heaps + 3ull * w_ptr(w), 0);
}

/* A _SEGMENT_HEAP at h->H (written whole) with both contexts, and its one segment at h->seg on
 * context 0's list (the segment header present). */
static void heap_init(shheap *h)
{
    shst *s = &sh_state;
    world *w = s->k->w;
    const lay *L = w_lay(w);
    uint64_t ctxsz = lay_size(L, "_HEAP_SEG_CONTEXT");
    uint64_t ctxoff = lay_off_req(L, "_SEGMENT_HEAP", "SegContexts");
    {
        h->next_unit = 2;
        w_set(w, h->H, "_SEGMENT_HEAP", "Signature", SH_HEAP_SIG);
        uint64_t lfhc = h->H + lay_off_req(L, "_SEGMENT_HEAP", "LfhContext");
        uint64_t vsc = h->H + lay_off_req(L, "_SEGMENT_HEAP", "VsContext");
        w_list_init(w, vsc + lay_off_req(L, "_HEAP_VS_CONTEXT", "SubsegmentList"));
        for (unsigned c = 0; c < 2; c++) {
            uint64_t C = h->H + ctxoff + c * ctxsz;
            w_set(w, C, "_HEAP_SEG_CONTEXT", "SegmentMask", c ? 0xFFFFFFFFFF000000ull : 0xFFFFFFFFFFF00000ull);
            w_set(w, C, "_HEAP_SEG_CONTEXT", "UnitShift", c ? 16 : SH_UNIT_SHIFT);
            w_set(w, C, "_HEAP_SEG_CONTEXT", "PagesPerUnitShift", c ? 4 : 0);
            w_set(w, C, "_HEAP_SEG_CONTEXT", "FirstDescriptorIndex", c ? 1 : 2);
            w_try(w, C, "_HEAP_SEG_CONTEXT", "LfhContext", lfhc);
            w_try(w, C, "_HEAP_SEG_CONTEXT", "VsContext", vsc);
            w_set(w, C, "_HEAP_SEG_CONTEXT", "Heap", h->H);
            w_list_init(w, C + lay_off_req(L, "_HEAP_SEG_CONTEXT", "SegmentListHead"));
            w_set(w, C, "_HEAP_SEG_CONTEXT", "SegmentCount", 0);
        }
        h->ctx0 = h->H + ctxoff;
        /* the segment header (units 0 and 1) is present, zeroed, then filled */
        static const uint8_t zero[SC_PAGE];
        uint64_t shs = lay_size(L, "_HEAP_PAGE_SEGMENT");
        for (uint64_t o = 0; o < shs; o += SC_PAGE)
            w_write(w, h->seg + o, zero, shs - o < SC_PAGE ? shs - o : SC_PAGE);
        uint64_t le = h->seg + lay_off_req(L, "_HEAP_PAGE_SEGMENT", "ListEntry");
        w_list_tail(w, h->ctx0 + lay_off_req(L, "_HEAP_SEG_CONTEXT", "SegmentListHead"), le);
        w_set(w, h->ctx0, "_HEAP_SEG_CONTEXT", "SegmentCount", 1);
        w_set(w, h->seg, "_HEAP_PAGE_SEGMENT", "Signature", h->seg ^ h->ctx0 ^ s->heapkey ^ SH_SEG_SIG);
    }
}

/* A range of n units of heap h's segment, of kind RF_LFH / RF_VS: descriptors written, its
 * pages present (zeroed); one free unit follows it. Returns the range start. */
static uint64_t range_new(shheap *h, unsigned n, unsigned kind)
{
    world *w = sh_state.k->w;
    const lay *L = w_lay(w);
    if (n == 0 || n > 0xff || h->next_unit + n > SH_UNITS)
        sc_die("segheap: no room for %u units in segment %#llx", n, (unsigned long long)h->seg);
    uint64_t dsz = lay_size(L, "_HEAP_PAGE_RANGE_DESCRIPTOR");
    uint64_t da = h->seg + lay_off_req(L, "_HEAP_PAGE_SEGMENT", "DescArray");
    unsigned k0 = h->next_unit;
    for (unsigned j = 0; j < n; j++) {
        uint64_t D = da + (uint64_t)(k0 + j) * dsz;
        w_set(w, D, "_HEAP_PAGE_RANGE_DESCRIPTOR", "RangeFlags", RF_ALLOC | kind | (j == 0 ? RF_FIRST : 0));
        if (j == 0) {
            w_set(w, D, "_HEAP_PAGE_RANGE_DESCRIPTOR", "CommittedPageCount", n);
            w_set(w, D, "_HEAP_PAGE_RANGE_DESCRIPTOR", "UnitSize", n);
        } else {
            w_set(w, D, "_HEAP_PAGE_RANGE_DESCRIPTOR", "UnitOffset", j);
        }
    }
    uint64_t R = h->seg + ((uint64_t)k0 << SH_UNIT_SHIFT);
    static const uint8_t zero[SC_PAGE];
    for (unsigned j = 0; j < n; j++)
        w_write(w, R + (uint64_t)j * SC_PAGE, zero, SC_PAGE);
    h->next_unit += n + 1;
    return R;
}

/* A pool header at p for a block of `size` bytes (header included). */
static void pool_hdr(shheap *h, uint64_t p, uint32_t size, const char *tag, unsigned serial)
{
    world *w = sh_state.k->w;
    const lay *L = w_lay(w);
    if (size % 16 || size / 16 == 0 || size / 16 > 0xff)
        sc_die("segheap: a pool block of %#x bytes does not fit _POOL_HEADER.BlockSize", size);
    w_set(w, p, "_POOL_HEADER", "PreviousSize", 0);
    w_set(w, p, "_POOL_HEADER", "PoolIndex", 0);
    w_set(w, p, "_POOL_HEADER", "BlockSize", size / 16);
    w_set(w, p, "_POOL_HEADER", "PoolType", h->type1);
    w_set(w, p, "_POOL_HEADER", "PoolTag", sc_tag(tag));
    uint64_t hs = lay_size(L, "_POOL_HEADER");
    if (size >= hs + 8)
        w_put(w, p + hs, 8, 0x0000000200000000ull + serial); /* some data, never tag bytes */
}

/* Manifest: poolpage once per page (pages come in increasing order within a subsegment). */
static void page_line(shheap *h, uint64_t addr, uint64_t *last, int corrupt)
{
    uint64_t pg = addr & ~(uint64_t)(SC_PAGE - 1);
    if (pg != *last)
        mf("poolpage %#llx %s %d", (unsigned long long)pg, h->kind, corrupt);
    *last = pg;
}

typedef struct shblk {
    uint32_t size; /* pool block bytes (pool header included); 0: the rest of the subsegment */
    const char *tag;
    bool free_;
} shblk;

/* A VS subsegment of n units holding chunks for the blocks b[] (the last one with size 0 takes
 * the rest). bad >= 0: that chunk's UnsafePrevSize is wrong (the corrupt case; the subsegment's
 * pages are marked corrupt and that chunk is left out of the poolblock lines). out[i]: the pool
 * block address of b[i]. Returns the range start. */
static uint64_t vs_build(int hi, unsigned n, const shblk *b, size_t nb, int bad, uint64_t *out)
{
    shst *s = &sh_state;
    shheap *h = &s->h[hi];
    world *w = s->k->w;
    const lay *L = w_lay(w);
    uint64_t R = range_new(h, n, RF_VS);
    uint64_t bytes = (uint64_t)n << SH_UNIT_SHIFT;
    uint64_t size16 = bytes >> 4;
    w_set(w, R, "_HEAP_VS_SUBSEGMENT", "Size", size16);
    w_set(w, R, "_HEAP_VS_SUBSEGMENT", "Signature", (size16 ^ SH_VS_SIG) & 0x7fff);
    w_set(w, R, "_HEAP_VS_SUBSEGMENT", "FullCommit", 1);
    uint64_t vsl = h->H + lay_off_req(L, "_SEGMENT_HEAP", "VsContext") +
                   lay_off_req(L, "_HEAP_VS_CONTEXT", "SubsegmentList");
    w_list_tail(w, vsl, R + lay_off_req(L, "_HEAP_VS_SUBSEGMENT", "ListEntry"));
    mf("subseg %#llx vs %#llx %#llx", (unsigned long long)R, (unsigned long long)h->seg,
       (unsigned long long)bytes);

    const char *CH = "_HEAP_VS_CHUNK_HEADER";
    uint64_t chs = lay_size(L, CH);
    uint64_t hb = lay_off_req(L, CH, "Sizes.HeaderBits");
    unsigned p_size = bitpos(L, "_HEAP_VS_CHUNK_HEADER_SIZE", "UnsafeSize");
    unsigned p_prev = bitpos(L, "_HEAP_VS_CHUNK_HEADER_SIZE", "UnsafePrevSize");
    unsigned p_alloc = bitpos(L, "_HEAP_VS_CHUNK_HEADER_SIZE", "Allocated");
    uint64_t end = R + bytes;
    uint64_t c = R + r16(lay_size(L, "_HEAP_VS_SUBSEGMENT"));
    uint64_t prev16 = 0, lastpage = 0;
    for (size_t i = 0; i < nb; i++) {
        uint64_t csz = b[i].size ? b[i].size + chs : end - c;
        if (csz % 16 || csz <= chs || c + csz > end || (i + 1 == nb && c + csz != end))
            sc_die("segheap: VS chunk %zu (%#llx bytes) does not fit subsegment %#llx", i,
                   (unsigned long long)csz, (unsigned long long)R);
        uint64_t psz = csz - chs;
        uint64_t prev_w = (int)i == bad ? (prev16 + 0x41) & 0xffff : prev16;
        uint64_t dec = (csz / 16) << p_size | prev_w << p_prev | (uint64_t)(b[i].free_ ? 0 : 1) << p_alloc;
        w_put(w, c + hb, 8, dec ^ c ^ s->heapkey);
        w_set(w, c, CH, "EncodedSegmentPageOffset", (((c - h->seg) >> 12) ^ (c & 0xff)) & 0xff);
        w_set(w, c, CH, "UnusedBytes", 0);
        w_set(w, c, CH, "SkipDuringWalk", 0);
        uint64_t p = c + chs;
        if (!b[i].free_)
            pool_hdr(h, p, (uint32_t)psz, b[i].tag, (unsigned)i);
        if (out)
            out[i] = p;
        if ((int)i == bad) {
            mf("poolbad %#llx %#llx", (unsigned long long)(c & ~(uint64_t)(SC_PAGE - 1)),
               (unsigned long long)c);
        } else if (h->session) {
            uint64_t pg = p & ~(uint64_t)(SC_PAGE - 1);
            if (pg != lastpage)
                mf("sesspage %#llx %#llx", (unsigned long long)pg, (unsigned long long)h->session);
            lastpage = pg;
            mf("sessblock %#llx %#llx %s %d", (unsigned long long)p, (unsigned long long)psz,
               b[i].free_ ? "-" : b[i].tag, b[i].free_ ? 1 : 0);
        } else {
            page_line(h, p, &lastpage, bad >= 0);
            mf("poolblock %#llx %#llx %s %d %d", (unsigned long long)p, (unsigned long long)psz,
               b[i].free_ ? "-" : b[i].tag, b[i].free_ ? 1 : 0, bad >= 0 ? 1 : 0);
        }
        prev16 = csz / 16;
        c += csz;
    }
    return R;
}

/* An LFH subsegment of n units: count blocks of bsize bytes tagged `tag`, the ones in freei[]
 * free. list: write poolblock/poolpage lines. Returns the range start. */
static uint64_t lfh_build(int hi, unsigned n, uint32_t bsize, unsigned count, const char *tag,
                          const unsigned *freei, size_t nfree, bool list)
{
    shst *s = &sh_state;
    shheap *h = &s->h[hi];
    world *w = s->k->w;
    const lay *L = w_lay(w);
    const char *LS = "_HEAP_LFH_SUBSEGMENT";
    uint64_t R = range_new(h, n, RF_LFH);
    uint64_t bytes = (uint64_t)n << SH_UNIT_SHIFT;
    uint64_t words = (2ull * count + 63) / 64;
    uint64_t bmo = lay_off_req(L, LS, "BlockBitmap");
    uint64_t first = r16(bmo + 8 * words);
    if (bsize % 16 || bsize == 0 || first + (uint64_t)count * bsize > bytes || first > 0xffff)
        sc_die("segheap: %u LFH blocks of %#x bytes do not fit %u units", count, bsize, n);
    uint32_t enc = ((uint32_t)bsize | (uint32_t)first << 16) ^ (uint32_t)s->lfhkey ^ ((uint32_t)R >> 12);
    w_set(w, R, LS, "BlockOffsets.EncodedData", enc);
    w_set(w, R, LS, "BlockCount", count);
    w_set(w, R, LS, "FreeCount", nfree);
    mf("subseg %#llx lfh %#llx %#llx", (unsigned long long)R, (unsigned long long)h->seg,
       (unsigned long long)bytes);
    uint64_t lastpage = 0;
    for (unsigned i = 0; i < count; i++) {
        bool fr = false;
        for (size_t j = 0; j < nfree; j++)
            fr |= freei[j] == i;
        uint64_t p = R + first + (uint64_t)i * bsize;
        if (!fr) {
            uint64_t wa = R + bmo + (2ull * i / 64) * 8;
            w_put(w, wa, 8, w_get(w, wa, 8) | 1ull << (2 * i % 64));
            pool_hdr(h, p, bsize, tag, i);
        }
        if (list) {
            page_line(h, p, &lastpage, 0);
            mf("poolblock %#llx %#x %s %d 0", (unsigned long long)p, bsize, fr ? "-" : tag, fr ? 1 : 0);
        }
    }
    return R;
}

uint64_t sh_alloc(kern *k, int heap_index, uint32_t size, const char *tag)
{
    if (heap_index < 0 || heap_index > 2)
        sc_die("sh_alloc: heap index %d", heap_index);
    sh_setup(k, smix(k->base ^ k->build));
    uint64_t chs = lay_size(k->L, "_HEAP_VS_CHUNK_HEADER");
    uint64_t bsz = r16(lay_size(k->L, "_POOL_HEADER") + size);
    uint64_t room = SC_PAGE - r16(lay_size(k->L, "_HEAP_VS_SUBSEGMENT"));
    if (bsz + chs > room)
        sc_die("sh_alloc: %#x bytes do not fit a one-unit VS subsegment", size);
    shblk b[2] = {{(uint32_t)bsz, tag, false}, {0, NULL, true}};
    size_t nb = 2;
    if (room - (bsz + chs) < chs + 16) { /* no room for a free chunk: the block takes the rest */
        b[0].size = 0;
        nb = 1;
    }
    uint64_t out[2];
    vs_build(heap_index, 1, b, nb, -1, out);
    return out[0];
}

uint64_t sh_session_heap(kern *k, uint64_t session)
{
    sh_setup(k, smix(k->base ^ k->build));
    shst *s = &sh_state;
    world *w = k->w;
    const lay *L = w_lay(w);
    const char *S = "_MM_SESSION_SPACE";
    shheap *h = &s->h[SH_SESSION];
    if (h->H)
        sc_die("sh_session_heap: the session heap exists already");
    if (!lay_has_type(L, "_EX_HEAP_SESSION_STATE") || lay_off(L, S, "HeapState") < 0)
        sc_die("sh_session_heap: the table lacks _EX_HEAP_SESSION_STATE or _MM_SESSION_SPACE.HeapState");
    uint64_t start = w_field(w, session, S, "PagedPoolStart"), end = w_field(w, session, S, "PagedPoolEnd");
    uint64_t hsz = lay_size(L, "_SEGMENT_HEAP");
    /* the heap at PagedPoolStart, its segment on the first 1-MiB boundary after it */
    uint64_t seg = (start + hsz + SH_SEG_BYTES - 1) & ~(SH_SEG_BYTES - 1);
    if (!start || start & (SC_PAGE - 1) || seg + SH_SEG_BYTES - 1 > end)
        sc_die("sh_session_heap: no room for a segment in session paged pool %#llx..%#llx", (unsigned long long)start,
               (unsigned long long)end);
    static const uint8_t zero[SC_PAGE];
    for (uint64_t o = 0; o < hsz; o += SC_PAGE)
        w_write(w, start + o, zero, hsz - o < SC_PAGE ? hsz - o : SC_PAGE);
    h->H = start;
    h->seg = seg;
    h->type1 = 33 + 1; /* PagedPoolSession + 1, as the classic session page */
    h->kind = "paged";
    h->session = session;
    heap_init(h);
    uint64_t hs = w_field(w, session, S, "HeapState");
    if (!hs) {
        hs = w_alloc(w, lay_size(L, "_EX_HEAP_SESSION_STATE"), SC_PAGE);
        w_set(w, session, S, "HeapState", hs);
    }
    w_set(w, hs, "_EX_HEAP_SESSION_STATE", "PagedHeap", h->H);
    mf("hpseg %#llx %#llx 0", (unsigned long long)h->seg, (unsigned long long)h->H);
    /* a VS subsegment of session tags, one free chunk */
    static const shblk sb[] = {{0x200, "Gla5", false}, {0x60, "Usqm", false}, {0x1c0, "Gfnt", false},
                               {0x100, "Usqm", true},  {0x90, "Usqm", false}, {0x0, "Gla5", false}};
    vs_build(SH_SESSION, 1, sb, sizeof sb / sizeof sb[0], -1, NULL);
    return h->H;
}

void sh_layout(kern *k, uint64_t seed, bool hostile)
{
    sh_setup(k, seed);
    shst *s = &sh_state;
    world *w = k->w;
    const lay *L = w_lay(w);

    /* NonPagedPoolNx: 32 'Leak' blocks of 0x70 bytes, 4 free */
    static const unsigned lfree[] = {3, 11, 12, 25};
    lfh_build(1, 1, 0x70, 32, "Leak", lfree, 4, true);
    /* a VS subsegment of mixed tags, one free chunk, two pages */
    static const shblk mixed[] = {
        {0x80, "Thre", false}, {0x200, "NfBf", false}, {0xa0, "AcpB", false}, {0x100, "Leak", true},
        {0x160, "Leak", false}, {0x90, "MmCa", false}, {0x60, "Gh05", false}, {0x50, "NfEx", false},
        {0x3f0, "Leak", false}, {0x240, "NfBf", false}, {0x2a0, "Thre", false}, {0x1b0, "Leak", false},
        {0x120, "AcpB", false}, {0x400, "Leak", false}, {0x250, "MmCa", false}, {0x0, "Leak", false},
    };
    vs_build(1, 2, mixed, sizeof mixed / sizeof mixed[0], -1, NULL);
    /* the corrupt subsegment: block 1 overran into chunk 2's header (UnsafePrevSize) */
    static const shblk bad[] = {{0x50, "Leak", false}, {0x90, "Leak", false}, {0xa0, "Thre", false},
                                {0x70, "NfBf", false}, {0x40, "Leak", true},  {0x0, "Leak", false}};
    vs_build(1, 1, bad, sizeof bad / sizeof bad[0], 2, NULL);
    /* NonPagedPool */
    static const shblk np[] = {{0x130, "Thre", false}, {0xa0, "AcpB", false}, {0x0, "Thre", false}};
    vs_build(0, 1, np, sizeof np / sizeof np[0], -1, NULL);
    /* PagedPool */
    static const shblk pg[] = {{0x100, "Toke", false}, {0xa0, "Toke", true}, {0x330, "NfBf", false},
                               {0x90, "Gh05", false},  {0x200, "Toke", false}, {0x0, "Toke", false}};
    vs_build(2, 1, pg, sizeof pg / sizeof pg[0], -1, NULL);

    if (hostile) {
        shheap *h = &s->h[2];
        uint64_t le = h->seg + lay_off_req(L, "_HEAP_PAGE_SEGMENT", "ListEntry");
        w_pointer(w, le, le); /* Flink to itself: the walk never returns to the head */
        mf("hostile segheap_cycle %#llx", (unsigned long long)h->seg);
        static const unsigned none[] = {0};
        uint64_t R = lfh_build(1, 1, 0x40, 8, "Leak", none, 0, false);
        w_set(w, R, "_HEAP_LFH_SUBSEGMENT", "BlockCount", 0xffff);
        mf("hostile lfh_count %#llx", (unsigned long long)R);
    }
}
