/* world.c: the memory of the machine a scene builds, and the kernel dump it ends as.
 *
 * Virtual memory is sparse: a hash map from (address space, virtual page) to a physical page
 * buffer, filled on demand. Kernel-half pages all live in space 0 and are shared by every
 * space; user-half pages belong to their space, and each space allocates user memory in its own
 * window, so a user address alone names its space (w_write, w_read and the typed stores follow
 * it). Physical pages get page frame numbers from a seeded allocator: memory is handed out in
 * chunks (four of 128 frames, then 512) whose frames are used in a scrambled order (neighbouring
 * virtual pages are not neighbouring physical pages), with holes after chunks 0, 1, 3, 7, 15...
 * (the dump's run list has a few runs). A dropped page (w_drop) keeps its PTE, which points at
 * a frame in 0x100..0x3ff: never in a run, never in the bitmap.
 * Kernel pool: 0xfffffa80`04000000.. on Windows 7 (after the PFN database), a seeded kernel-half
 * PML4 slot on later builds; x86 PAE: 0x85xx0000.. Before writing, nt!MmPteBase (when the table
 * has it) is set to the self-map's PTE base.
 *
 * Page tables are built when the dump is written, for every mapped page of every space:
 *  - x64: 4 levels of 512 8-byte entries (Intel SDM vol. 3 section 4.5): P=1, RW=2, US=4,
 *    A=0x20, D=0x40, G=0x100; the kernel half of every root (PML4 entries 256..511) is a copy of
 *    space 0's, and every root carries the Windows self-reference entry (index 0x1ED before
 *    Windows 10 1607, a seeded index in the kernel half after, as MmPteBase randomisation does);
 *  - x86 PAE: a 32-byte PDPT (4 entries with only P and the address), page directories and page
 *    tables of 512 8-byte entries (Intel SDM section 4.4); CR3 is the PDPT's physical address
 *    (32-byte aligned, several PDPTs share a page, as on Windows); the PD for 0xC0000000 has the
 *    Windows self-map in its first four entries (each space's four PDs: PTEs appear at
 *    0xC0000000, PDEs at 0xC0600000), the PD for 0x80000000 is shared, the one for 0xC0000000 is
 *    per space with the kernel entries copied.
 * Dump formats (DUMP_HEADER64 / DUMP_HEADER32, the physical memory descriptor, the FDMP bitmap
 * header): see tests/gen/gen_layout.h and its sources. */
#include "scene.h"

#include "gen.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#define CHUNK 512u             /* frames per allocation chunk (the first ones are smaller) */
#define SMALL_CHUNKS 4u        /* chunks 0..3 hold 128 frames: small scenes get several runs too */
#define FIRST_PFN 0x400u       /* first chunk at 4 MB */
#define DROP_PFN 0x100u        /* frames 0x100..0x3ff: targets of dropped pages (never in the dump) */
#define DROP_MAX 0x300u
#define X64_KERNEL 0xffff800000000000ULL
#define ADDR_MASK 0x000ffffffffff000ULL

typedef struct ppage {
    uint64_t pfn;
    uint8_t *data; /* NULL for fill pages (generated when the dump is written) */
    bool dropped, table, fill;
    uint64_t drop_pfn;
} ppage;

typedef struct vslot {
    uint64_t vpn;
    int32_t space; /* -1: empty */
    uint32_t phys;
} vslot;

typedef struct aspace {
    uint32_t root;   /* x64: the PML4 page; PAE: the page holding the PDPT */
    unsigned pdpt_off; /* PAE: offset of the PDPT in its page */
    uint64_t dtb;
    uint64_t ubase, ubump, uend;
    uint32_t pd[4];  /* PAE, at dump time */
} aspace;

struct world {
    const lay *L;
    sc_kind kind;
    uint64_t seed;
    unsigned ptr;
    bool x64;
    /* physical pages */
    ppage *ph;
    size_t nph, capph;
    uint32_t *pfn2idx; /* index + 1; 0: no page */
    size_t npfn2idx;
    uint64_t *chunk_base;
    size_t nchunks, capchunks, capchunks2;
    unsigned *chunk_size;
    unsigned chunk_used, step, offs;
    uint64_t ndropped;
    /* virtual pages */
    vslot *vs;
    size_t vcap, vcount;
    aspace *sp;
    int nsp, capsp;
    uint64_t kbump, kend;
    unsigned selfmap; /* x64 PML4 self-reference index */
    uint32_t pdpt_page;
    unsigned pdpt_used;
    bool written;
};

/* ---------------------------------------------------------------- helpers */
static uint64_t mix(uint64_t z)
{
    z += 0x9e3779b97f4a7c15ULL;
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
    return z ^ (z >> 31);
}

static void *grow(void *p, size_t *cap, size_t need, size_t elem)
{
    if (need <= *cap)
        return p;
    size_t c = *cap ? *cap : 64;
    while (c < need)
        c *= 2;
    void *q = realloc(p, c * elem);
    if (!q)
        sc_die("out of memory (%zu bytes)", c * elem);
    memset((uint8_t *)q + *cap * elem, 0, (c - *cap) * elem);
    *cap = c;
    return q;
}

static bool is_kernel(const world *w, uint64_t va)
{
    return w->x64 ? va >= X64_KERNEL : va >= 0x80000000ULL;
}

/* User windows: x64 1 GB per space from 0x20`00000000; PAE 2 MB per space from 0x01000000. */
#define X64_UBASE 0x2000000000ULL
#define X64_UWIN 0x40000000ULL
#define PAE_UBASE 0x01000000ULL
#define PAE_UWIN 0x00200000ULL

static uint64_t user_window(const world *w, int id)
{
    if (w->x64) {
        if ((uint64_t)id >= (0x7ff000000000ULL - X64_UBASE) / X64_UWIN)
            sc_die("too many address spaces for the x64 user layout");
        return X64_UBASE + (uint64_t)id * X64_UWIN;
    }
    if ((uint64_t)id >= (0x7f000000ULL - PAE_UBASE) / PAE_UWIN)
        sc_die("too many address spaces for the x86 user layout (%d)", id);
    return PAE_UBASE + (uint64_t)id * PAE_UWIN;
}

/* The space that allocated user address va with w_ualloc (0 when none did). */
static int user_space(const world *w, uint64_t va)
{
    uint64_t base = w->x64 ? X64_UBASE : PAE_UBASE, win = w->x64 ? X64_UWIN : PAE_UWIN;
    if (va < base)
        return 0;
    uint64_t id = (va - base) / win;
    if (id >= (uint64_t)w->nsp || va >= w->sp[id].ubump)
        return 0;
    return (int)id;
}

/* ---------------------------------------------------------------- physical pages */
static uint64_t chunk_hole(const world *w, size_t i)
{
    /* a hole after chunks 0, 1, 3, 7, 15...: a few runs, growing slowly with the size */
    if ((i & (i + 1)) != 0)
        return 0;
    return 0x20 * (1 + mix(w->seed ^ 0x401e ^ (i << 8)) % 15);
}

static uint32_t phys_new2(world *w, bool table, bool fill)
{
    if (w->nchunks == 0 || w->chunk_used == w->chunk_size[w->nchunks - 1]) {
        w->chunk_base = grow(w->chunk_base, &w->capchunks, w->nchunks + 1, sizeof(uint64_t));
        w->chunk_size = grow(w->chunk_size, &w->capchunks2, w->nchunks + 1, sizeof(unsigned));
        size_t c = w->nchunks;
        uint64_t base = c == 0 ? FIRST_PFN
                               : w->chunk_base[c - 1] + w->chunk_size[c - 1] + chunk_hole(w, c - 1);
        unsigned size = c < SMALL_CHUNKS ? CHUNK / 4 : CHUNK;
        if (!w->x64 && base + size > (1ULL << 24))
            sc_die("physical memory past 64 GB (PAE limit)");
        w->chunk_base[c] = base;
        w->chunk_size[c] = size;
        w->nchunks++;
        w->chunk_used = 0;
    }
    unsigned csize = w->chunk_size[w->nchunks - 1];
    uint64_t pfn = w->chunk_base[w->nchunks - 1] +
                   ((uint64_t)w->chunk_used * w->step + w->offs) % csize;
    w->chunk_used++;
    if (w->nph >= UINT32_MAX - 1)
        sc_die("too many pages");
    w->ph = grow(w->ph, &w->capph, w->nph + 1, sizeof *w->ph);
    ppage *p = &w->ph[w->nph];
    p->pfn = pfn;
    p->fill = fill;
    p->data = fill ? NULL : calloc(1, SC_PAGE);
    if (!fill && !p->data)
        sc_die("out of memory");
    p->table = table;
    w->pfn2idx = grow(w->pfn2idx, &w->npfn2idx, pfn + 1, sizeof(uint32_t));
    w->pfn2idx[pfn] = (uint32_t)w->nph + 1;
    return (uint32_t)w->nph++;
}

static uint32_t phys_new(world *w, bool table) { return phys_new2(w, table, false); }

/* ---------------------------------------------------------------- virtual pages */
static size_t vhash(uint64_t vpn, int32_t space)
{
    return (size_t)mix(vpn * 0x100000001b3ULL ^ ((uint64_t)(uint32_t)space << 40));
}

static void vrehash(world *w)
{
    size_t ncap = w->vcap ? w->vcap * 2 : 4096;
    vslot *n = malloc(ncap * sizeof *n);
    if (!n)
        sc_die("out of memory");
    for (size_t i = 0; i < ncap; i++)
        n[i].space = -1;
    for (size_t i = 0; i < w->vcap; i++) {
        if (w->vs[i].space < 0)
            continue;
        size_t h = vhash(w->vs[i].vpn, w->vs[i].space) & (ncap - 1);
        while (n[h].space >= 0)
            h = (h + 1) & (ncap - 1);
        n[h] = w->vs[i];
    }
    free(w->vs);
    w->vs = n;
    w->vcap = ncap;
}

static void check_va(const world *w, uint64_t va)
{
    if (w->x64) {
        uint64_t top = va >> 47;
        if (top != 0 && top != 0x1ffff)
            sc_die("address 0x%llx is not canonical", (unsigned long long)va);
        if (((va >> 39) & 511) == w->selfmap && va >= X64_KERNEL)
            sc_die("address 0x%llx lies in the page-table self-map", (unsigned long long)va);
    } else {
        if (va > 0xffffffffULL)
            sc_die("address 0x%llx is past 4 GB on x86", (unsigned long long)va);
        if (va >= 0xc0000000ULL && va < 0xc0800000ULL)
            sc_die("address 0x%llx lies in the page-table self-map", (unsigned long long)va);
    }
}

/* The physical page of va in `space` (kernel addresses: space 0); creates it when `create`,
 * else UINT32_MAX when unmapped. */
static uint32_t vpage(world *w, int space, uint64_t va, bool create)
{
    if (space < 0 || space >= w->nsp)
        sc_die("address space %d does not exist", space);
    if (is_kernel(w, va))
        space = 0;
    uint64_t vpn = va >> 12;
    if (w->vcap) {
        size_t h = vhash(vpn, space) & (w->vcap - 1);
        while (w->vs[h].space >= 0) {
            if (w->vs[h].vpn == vpn && w->vs[h].space == space)
                return w->vs[h].phys;
            h = (h + 1) & (w->vcap - 1);
        }
    }
    if (!create)
        return UINT32_MAX;
    if (w->written)
        sc_die("memory written after the dump (0x%llx)", (unsigned long long)va);
    check_va(w, va);
    if ((w->vcount + 1) * 2 > w->vcap)
        vrehash(w);
    uint32_t p = phys_new(w, false);
    size_t h = vhash(vpn, space) & (w->vcap - 1);
    while (w->vs[h].space >= 0)
        h = (h + 1) & (w->vcap - 1);
    w->vs[h] = (vslot){vpn, space, p};
    w->vcount++;
    return p;
}

static void vwrite(world *w, int space, uint64_t va, const void *data, size_t n)
{
    if (n && va + n - 1 < va)
        sc_die("write at 0x%llx wraps around", (unsigned long long)va);
    const uint8_t *src = data;
    while (n) {
        size_t in = va & (SC_PAGE - 1), k = SC_PAGE - in;
        if (k > n)
            k = n;
        uint32_t p = vpage(w, space, va, true);
        if (!w->ph[p].data)
            sc_die("write into a fill page at 0x%llx", (unsigned long long)va);
        if (src) {
            memcpy(w->ph[p].data + in, src, k);
            src += k;
        }
        va += k;
        n -= k;
    }
}

/* ---------------------------------------------------------------- fill pages (--fill-mb)
 * Extra kernel pool pages for large scenes (benchmarks): mapped in the kernel half like any pool
 * page, but holding no buffer while the scene is built; their bytes (a pattern seeded by the
 * scene seed and the frame number) are generated page by page as the dump is written, so a
 * 4 GiB scene needs about 70 bytes of generator memory per fill page. */
static uint64_t g_fill_pages; /* process-wide option of the one-shot generator */

void w_fill_option(uint64_t mb)
{
    if (mb > (1ULL << 20))
        sc_die("--fill-mb %llu: at most 1048576", (unsigned long long)mb);
    g_fill_pages = mb * (1048576 / SC_PAGE);
}

static void add_fill(world *w)
{
    uint64_t n = g_fill_pages;
    if (!n)
        return;
    uint64_t va = (w->kbump + SC_PAGE - 1) & ~(uint64_t)(SC_PAGE - 1);
    if (va < w->kbump || va > w->kend || n > (w->kend - va + 1) / SC_PAGE)
        sc_die("--fill-mb: %llu pages do not fit in the kernel pool window", (unsigned long long)n);
    w->kbump = va + n * SC_PAGE;
    for (uint64_t i = 0; i < n; i++) {
        uint64_t v = va + i * SC_PAGE;
        check_va(w, v);
        if ((w->vcount + 1) * 2 > w->vcap)
            vrehash(w);
        uint32_t p = phys_new2(w, false, true);
        size_t h = vhash(v >> 12, 0) & (w->vcap - 1);
        while (w->vs[h].space >= 0)
            h = (h + 1) & (w->vcap - 1);
        w->vs[h] = (vslot){v >> 12, 0, p};
        w->vcount++;
    }
    mf("fill 0x%llx 0x%llx", (unsigned long long)va, (unsigned long long)n);
}

/* The bytes of a fill page: xorshift64* seeded from the scene seed and the frame. */
static void fill_bytes(const world *w, uint64_t pfn, uint8_t *out)
{
    uint64_t x = mix(w->seed ^ 0xf111f111ULL ^ (pfn << 16)) | 1;
    for (unsigned i = 0; i < SC_PAGE; i += 8) {
        x ^= x >> 12;
        x ^= x << 25;
        x ^= x >> 27;
        put64(out + i, x * 0x2545f4914f6cdd1dULL);
    }
}

/* ---------------------------------------------------------------- the world */
static void new_space_root(world *w, aspace *s)
{
    if (w->x64) {
        s->root = phys_new(w, true);
        s->pdpt_off = 0;
        s->dtb = w->ph[s->root].pfn << 12;
    } else {
        /* PDPTs are 32 bytes: 127 share a page (the first slot is left unused) */
        if (w->pdpt_used == 0 || w->pdpt_used == SC_PAGE / 32) {
            w->pdpt_page = phys_new(w, true);
            w->pdpt_used = 1;
        }
        s->root = w->pdpt_page;
        s->pdpt_off = 32 * w->pdpt_used++;
        s->dtb = (w->ph[s->root].pfn << 12) + s->pdpt_off;
    }
}

int w_space_new(world *w)
{
    if (w->nsp >= 1000000)
        sc_die("too many address spaces");
    if (w->nsp == w->capsp) {
        w->capsp = w->capsp ? w->capsp * 2 : 16;
        w->sp = realloc(w->sp, (size_t)w->capsp * sizeof *w->sp);
        if (!w->sp)
            sc_die("out of memory");
    }
    int id = w->nsp++;
    aspace *s = &w->sp[id];
    memset(s, 0, sizeof *s);
    new_space_root(w, s);
    /* Each space allocates user memory in its own window (a seeded start inside it), so a
     * user address alone tells which space it belongs to (see user_space). */
    uint64_t r = mix(w->seed ^ 0xa11c ^ ((uint64_t)id << 20));
    s->ubase = user_window(w, id);
    s->ubump = s->ubase + ((r % (w->x64 ? 0x400 : 0x40)) << 12);
    s->uend = s->ubase + (w->x64 ? X64_UWIN : PAE_UWIN);
    return id;
}

world *w_new(const lay *L, sc_kind kind, uint64_t seed)
{
    world *w = sc_alloc0(sizeof *w);
    w->L = L;
    w->kind = kind;
    w->seed = seed;
    w->ptr = lay_ptr(L);
    w->x64 = kind != SC_PAE;
    if (w->x64 != (w->ptr == 8))
        sc_die("kind %s does not match the table's %u-byte pointers",
               kind == SC_PAE ? "pae" : "full/bitmap", w->ptr);
    w->step = 3 + 2 * (unsigned)(mix(seed ^ 0x57e9) % 200); /* odd: a permutation of 512 */
    w->offs = (unsigned)(mix(seed ^ 0x0ff5) % CHUNK);
    if (w->x64) {
        bool randomized = lay_sym(L, "MmPteBase") != SC_NONE;
        w->selfmap = randomized ? 0x100 + (unsigned)(mix(seed ^ 0x5e1f) % 0xe0) : 0x1ed;
        uint64_t pool_index;
        if (randomized) {
            pool_index = 0x100 + mix(seed ^ 0x9001) % 0xe0;
            if (pool_index == w->selfmap)
                pool_index = pool_index == 0x1df ? 0x100 : pool_index + 1;
        } else {
            pool_index = 0x1f5; /* 0xfffffa80`00000000: Windows 7 nonpaged pool */
        }
        w->kbump = 0xffff000000000000ULL | (pool_index << 39);
        if (!randomized)
            w->kbump |= 0x8000000000ULL;
        if (randomized)
            w->kbump += ((mix(seed ^ 0x9002) % 0x40) << 30) + ((mix(seed ^ 0x9004) % 0x4000) << 12);
        else
            /* fffffa80`04000000..: after the PFN database at fffffa80`00000000 */
            w->kbump += 0x04000000ULL + ((mix(seed ^ 0x9002) % 0x40) << 22);
        w->kend = (0xffff000000000000ULL | ((pool_index + 1) << 39)) - 1;
    } else {
        w->selfmap = UINT32_MAX;
        w->kbump = 0x85000000ULL + ((mix(seed ^ 0x9003) % 0x100) << 16);
        w->kend = 0xbfffffffULL;
    }
    int s0 = w_space_new(w);
    (void)s0;
    return w;
}

void w_free(world *w)
{
    if (!w)
        return;
    for (size_t i = 0; i < w->nph; i++)
        free(w->ph[i].data);
    free(w->ph);
    free(w->pfn2idx);
    free(w->chunk_base);
    free(w->chunk_size);
    free(w->vs);
    free(w->sp);
    free(w);
}

const lay *w_lay(const world *w) { return w->L; }
unsigned w_ptr(const world *w) { return w->ptr; }

uint64_t w_space_dtb(world *w, int space)
{
    if (space < 0 || space >= w->nsp)
        sc_die("address space %d does not exist", space);
    return w->sp[space].dtb;
}

uint64_t w_alloc(world *w, uint64_t size, uint64_t align)
{
    if (!align)
        align = 16;
    if (align & (align - 1))
        sc_die("w_alloc: alignment 0x%llx is not a power of two", (unsigned long long)align);
    if (size >= SC_PAGE && align < SC_PAGE)
        align = SC_PAGE; /* big allocations are page-aligned, as large pool blocks are */
    if (size == 0)
        size = 1;
    uint64_t va = (w->kbump + align - 1) & ~(align - 1);
    if (va < w->kbump || va + size < va || va + size > w->kend)
        sc_die("kernel pool exhausted (0x%llx bytes)", (unsigned long long)size);
    w->kbump = va + size;
    vwrite(w, 0, va, NULL, size);
    return va;
}

uint64_t w_ualloc(world *w, int space, uint64_t size)
{
    if (space < 0 || space >= w->nsp)
        sc_die("address space %d does not exist", space);
    aspace *s = &w->sp[space];
    uint64_t n = (size + SC_PAGE - 1) & ~(uint64_t)(SC_PAGE - 1);
    if (!n)
        n = SC_PAGE;
    if (n > s->uend - s->ubump)
        sc_die("user space %d exhausted (0x%llx bytes)", space, (unsigned long long)size);
    uint64_t va = s->ubump;
    s->ubump += n;
    vwrite(w, space, va, NULL, n);
    return va;
}

/* w_write/w_read (and the typed stores on top) name no space: a user address goes to the space
 * whose w_ualloc window holds it. */
void w_write(world *w, uint64_t va, const void *data, size_t n)
{
    vwrite(w, is_kernel(w, va) ? 0 : user_space(w, va), va, data, n);
}

void w_uwrite(world *w, int space, uint64_t va, const void *data, size_t n)
{
    vwrite(w, space, va, data, n);
}

void w_read(world *w, uint64_t va, void *out, size_t n)
{
    uint8_t *dst = out;
    while (n) {
        size_t in = va & (SC_PAGE - 1), k = SC_PAGE - in;
        if (k > n)
            k = n;
        uint32_t p = vpage(w, is_kernel(w, va) ? 0 : user_space(w, va), va, false);
        if (p == UINT32_MAX || !w->ph[p].data)
            memset(dst, 0, k);
        else
            memcpy(dst, w->ph[p].data + in, k);
        dst += k;
        va += k;
        n -= k;
    }
}

void w_put(world *w, uint64_t va, unsigned bytes, uint64_t v)
{
    if (bytes < 1 || bytes > 8)
        sc_die("w_put: %u bytes", bytes);
    uint8_t b[8];
    for (unsigned i = 0; i < 8; i++)
        b[i] = (uint8_t)(v >> (8 * i));
    w_write(w, va, b, bytes);
}

uint64_t w_get(world *w, uint64_t va, unsigned bytes)
{
    if (bytes < 1 || bytes > 8)
        sc_die("w_get: %u bytes", bytes);
    uint8_t b[8];
    w_read(w, va, b, bytes);
    uint64_t v = 0;
    for (unsigned i = 0; i < bytes; i++)
        v |= (uint64_t)b[i] << (8 * i);
    return v;
}

void w_pointer(world *w, uint64_t va, uint64_t v) { w_put(w, va, w->ptr, v); }

/* ---------------------------------------------------------------- typed stores */
static uint64_t bitmask(unsigned len)
{
    return len >= 64 ? UINT64_MAX : ((1ULL << len) - 1);
}

bool w_try(world *w, uint64_t obj, const char *type, const char *field, uint64_t v)
{
    uint64_t off, size;
    unsigned bp, bl;
    if (!lay_field(w->L, type, field, &off, &size, &bp, &bl))
        return false;
    if (size < 1 || size > 8)
        sc_die("%s.%s is 0x%llx bytes: a typed store writes 1 to 8", type, field,
               (unsigned long long)size);
    if (bl) {
        if (bp + bl > size * 8)
            sc_die("%s.%s: bitfield %u:%u outside its %llu-byte unit", type, field, bp, bl,
                   (unsigned long long)size);
        uint64_t m = bitmask(bl) << bp;
        uint64_t cur = w_get(w, obj + off, (unsigned)size);
        w_put(w, obj + off, (unsigned)size, (cur & ~m) | ((v << bp) & m));
    } else {
        w_put(w, obj + off, (unsigned)size, v);
    }
    return true;
}

void w_set(world *w, uint64_t obj, const char *type, const char *field, uint64_t v)
{
    if (!w_try(w, obj, type, field, v))
        sc_die("the table has no field %s.%s", type, field);
}

uint64_t w_field(world *w, uint64_t obj, const char *type, const char *field)
{
    uint64_t off, size;
    unsigned bp, bl;
    if (!lay_field(w->L, type, field, &off, &size, &bp, &bl))
        sc_die("the table has no field %s.%s", type, field);
    if (size < 1 || size > 8)
        sc_die("%s.%s is 0x%llx bytes: a typed read reads 1 to 8", type, field,
               (unsigned long long)size);
    uint64_t v = w_get(w, obj + off, (unsigned)size);
    return bl ? (v >> bp) & bitmask(bl) : v;
}

void w_list_init(world *w, uint64_t head)
{
    w_pointer(w, head, head);
    w_pointer(w, head + w->ptr, head);
}

void w_list_tail(world *w, uint64_t head, uint64_t entry)
{
    uint64_t last = w_get(w, head + w->ptr, w->ptr);
    if (!last)
        sc_die("list head 0x%llx is not initialised", (unsigned long long)head);
    w_pointer(w, entry, head);
    w_pointer(w, entry + w->ptr, last);
    w_pointer(w, last, entry);
    w_pointer(w, head + w->ptr, entry);
}

/* UTF-8 to UTF-16LE code units (BMP; others become U+FFFD). */
static size_t utf16(const char *s, uint16_t *out, size_t cap)
{
    size_t n = 0;
    const unsigned char *p = (const unsigned char *)s;
    while (*p && n < cap) {
        uint32_t c = *p++;
        if (c >= 0x80) {
            int more = c >= 0xf0 ? 3 : c >= 0xe0 ? 2 : c >= 0xc0 ? 1 : 0;
            c &= more == 3 ? 0x07 : more == 2 ? 0x0f : 0x1f;
            for (int i = 0; i < more && (*p & 0xc0) == 0x80; i++)
                c = (c << 6) | (*p++ & 0x3f);
            if (more == 0 || c > 0xffff)
                c = 0xfffd;
        }
        out[n++] = (uint16_t)c;
    }
    return n;
}

void w_ustr(world *w, uint64_t us, const char *s)
{
    size_t len = strlen(s);
    if (len > 32000)
        sc_die("w_ustr: string of %zu bytes", len);
    uint16_t *u = sc_alloc0((len + 1) * sizeof *u);
    size_t n = utf16(s, u, len);
    uint64_t bytes = n * 2;
    uint64_t buf = w_alloc(w, bytes + 2, w->ptr);
    for (size_t i = 0; i < n; i++)
        w_put(w, buf + 2 * i, 2, u[i]);
    free(u);
    int64_t lo = lay_off(w->L, "_UNICODE_STRING", "Length");
    int64_t mo = lay_off(w->L, "_UNICODE_STRING", "MaximumLength");
    int64_t bo = lay_off(w->L, "_UNICODE_STRING", "Buffer");
    w_put(w, us + (uint64_t)(lo >= 0 ? lo : 0), 2, bytes);
    w_put(w, us + (uint64_t)(mo >= 0 ? mo : 2), 2, bytes + 2);
    w_pointer(w, us + (uint64_t)(bo >= 0 ? bo : w->ptr), buf);
}

void w_drop(world *w, uint64_t va)
{
    uint32_t p = vpage(w, is_kernel(w, va) ? 0 : user_space(w, va), va, true);
    if (w->ph[p].dropped)
        return;
    if (w->ndropped >= DROP_MAX)
        sc_die("too many dropped pages");
    w->ph[p].dropped = true;
    /* the PTE will point at a frame the dump does not hold */
    w->ph[p].drop_pfn = DROP_PFN + (w->ndropped * 0x61 + (mix(w->seed) % DROP_MAX)) % DROP_MAX;
    w->ndropped++;
}

/* ---------------------------------------------------------------- page tables */
static uint64_t tget(world *w, uint32_t t, unsigned off) { return get64(w->ph[t].data + off); }
static void tput(world *w, uint32_t t, unsigned off, uint64_t v) { put64(w->ph[t].data + off, v); }

static uint32_t idx_of_pfn(world *w, uint64_t pfn)
{
    if (pfn >= w->npfn2idx || !w->pfn2idx[pfn])
        sc_die("internal: no page at frame 0x%llx", (unsigned long long)pfn);
    return w->pfn2idx[pfn] - 1;
}

/* The table under entry `i` of table t, created when absent. */
static uint32_t child(world *w, uint32_t t, unsigned i, uint64_t flags)
{
    uint64_t e = tget(w, t, 8 * i);
    if (e & 1)
        return idx_of_pfn(w, (e & ADDR_MASK) >> 12);
    uint32_t c = phys_new(w, true);
    tput(w, t, 8 * i, (w->ph[c].pfn << 12) | flags);
    return c;
}

static uint64_t leaf_pfn(const world *w, uint32_t p)
{
    return w->ph[p].dropped ? w->ph[p].drop_pfn : w->ph[p].pfn;
}

static void build_x64(world *w)
{
    for (size_t i = 0; i < w->vcap; i++) {
        if (w->vs[i].space < 0)
            continue;
        uint64_t va = w->vs[i].vpn << 12;
        bool user = !is_kernel(w, va);
        uint64_t tf = user ? 0x867 : 0x63;
        uint32_t t = w->sp[w->vs[i].space].root;
        t = child(w, t, (unsigned)((va >> 39) & 511), tf);
        t = child(w, t, (unsigned)((va >> 30) & 511), tf);
        t = child(w, t, (unsigned)((va >> 21) & 511), tf);
        uint64_t leaf = (leaf_pfn(w, w->vs[i].phys) << 12) | (user ? 0x867 : 0x963);
        tput(w, t, 8 * (unsigned)((va >> 12) & 511), leaf);
    }
    uint64_t nx = w->selfmap == 0x1ed ? 0 : (1ULL << 63);
    for (int s = 0; s < w->nsp; s++) {
        uint32_t r = w->sp[s].root;
        if (s > 0)
            memcpy(w->ph[r].data + 256 * 8, w->ph[w->sp[0].root].data + 256 * 8, 256 * 8);
        tput(w, r, 8 * w->selfmap, (w->ph[r].pfn << 12) | 0x63 | nx);
    }
}

static void build_pae(world *w)
{
    for (int s = 0; s < w->nsp; s++) {
        aspace *sp = &w->sp[s];
        for (int i = 0; i < 4; i++)
            sp->pd[i] = (s > 0 && i == 2) ? w->sp[0].pd[2] : phys_new(w, true);
        sp = &w->sp[s]; /* (phys_new does not move spaces; kept for clarity) */
        for (int i = 0; i < 4; i++)
            tput(w, sp->root, sp->pdpt_off + 8 * (unsigned)i, (w->ph[sp->pd[i]].pfn << 12) | 1);
    }
    for (size_t i = 0; i < w->vcap; i++) {
        if (w->vs[i].space < 0)
            continue;
        uint64_t va = w->vs[i].vpn << 12;
        bool user = !is_kernel(w, va);
        uint64_t tf = user ? 0x67 : 0x63;
        uint32_t pd = w->sp[w->vs[i].space].pd[(va >> 30) & 3];
        uint32_t pt = child(w, pd, (unsigned)((va >> 21) & 511), tf);
        uint64_t leaf = (leaf_pfn(w, w->vs[i].phys) << 12) | (user ? 0x67 : 0x163);
        tput(w, pt, 8 * (unsigned)((va >> 12) & 511), leaf);
    }
    for (int s = 0; s < w->nsp; s++) {
        aspace *sp = &w->sp[s];
        if (s > 0)
            memcpy(w->ph[sp->pd[3]].data, w->ph[w->sp[0].pd[3]].data, SC_PAGE);
        for (int i = 0; i < 4; i++)
            tput(w, sp->pd[3], 8 * (unsigned)i, (w->ph[sp->pd[i]].pfn << 12) | 0x63);
    }
}

/* Walks the built tables from a space's root for va, as the processor would: the frame it maps,
 * or UINT64_MAX when a level is not present. */
static uint64_t walk(world *w, int s, uint64_t va)
{
    uint64_t e;
    uint32_t t;
    if (w->x64) {
        t = w->sp[s].root;
        for (int shift = 39; shift >= 12; shift -= 9) {
            e = tget(w, t, 8 * (unsigned)((va >> shift) & 511));
            if (!(e & 1))
                return UINT64_MAX;
            if (shift == 12)
                return (e & ADDR_MASK) >> 12;
            t = idx_of_pfn(w, (e & ADDR_MASK) >> 12);
        }
        return UINT64_MAX;
    }
    uint64_t dtb = w->sp[s].dtb;
    t = idx_of_pfn(w, dtb >> 12);
    e = tget(w, t, (unsigned)(dtb & 0xfe0) + 8 * (unsigned)((va >> 30) & 3));
    if (!(e & 1))
        return UINT64_MAX;
    t = idx_of_pfn(w, (e & ADDR_MASK) >> 12);
    e = tget(w, t, 8 * (unsigned)((va >> 21) & 511));
    if (!(e & 1))
        return UINT64_MAX;
    t = idx_of_pfn(w, (e & ADDR_MASK) >> 12);
    e = tget(w, t, 8 * (unsigned)((va >> 12) & 511));
    return (e & 1) ? (e & ADDR_MASK) >> 12 : UINT64_MAX;
}

/* Every mapped page resolves, through the tables just built, to its frame: user pages in their
 * space, kernel pages in space 0 and in the newest space (the shared kernel half). */
static void verify_tables(world *w)
{
    for (size_t i = 0; i < w->vcap; i++) {
        if (w->vs[i].space < 0)
            continue;
        uint64_t va = w->vs[i].vpn << 12;
        uint64_t want = leaf_pfn(w, w->vs[i].phys);
        int s1 = w->vs[i].space, s2 = is_kernel(w, va) ? w->nsp - 1 : s1;
        if (walk(w, s1, va) != want || walk(w, s2, va) != want)
            sc_die("internal: page tables map 0x%llx (space %d) wrongly", (unsigned long long)va, s1);
    }
}

/* ---------------------------------------------------------------- the dump */
typedef struct run {
    uint64_t base, count;
} run;

typedef struct dfile {
    FILE *f;
    const char *path;
    uint64_t pos;
} dfile;

static void dwrite(dfile *d, const void *p, size_t n)
{
    if (n && fwrite(p, 1, n, d->f) != n)
        sc_die("writing %s: %s", d->path, strerror(errno));
    d->pos += n;
}

static void dzero(dfile *d, uint64_t n)
{
    static const uint8_t z[SC_PAGE];
    while (n) {
        size_t k = n > SC_PAGE ? SC_PAGE : (size_t)n;
        dwrite(d, z, k);
        n -= k;
    }
}

/* The page stored at frame pfn, NULL when none (free frame or a dropped page's old frame).
 * Fill pages are generated into `scratch` (SC_PAGE bytes; NULL: only whether there is one). */
static const uint8_t *frame(const world *w, uint64_t pfn, uint8_t *scratch)
{
    static const uint8_t present_marker;
    if (pfn >= w->npfn2idx || !w->pfn2idx[pfn])
        return NULL;
    const ppage *p = &w->ph[w->pfn2idx[pfn] - 1];
    if (p->dropped)
        return NULL;
    if (p->fill) {
        if (!scratch)
            return &present_marker;
        fill_bytes(w, pfn, scratch);
        return scratch;
    }
    return p->data;
}

static size_t make_runs(const world *w, run *r, size_t max)
{
    size_t n = 0;
    for (size_t c = 0; c < w->nchunks; c++) {
        uint64_t b = w->chunk_base[c];
        if (n && r[n - 1].base + r[n - 1].count == b) {
            r[n - 1].count += w->chunk_size[c];
            continue;
        }
        if (n == max)
            sc_die("too many physical memory runs (%zu)", n + 1);
        r[n++] = (run){b, w->chunk_size[c]};
    }
    return n;
}

static uint64_t ctx_pc(const sc_header *h, bool x64)
{
    uint64_t pc = 0;
    if (x64 && h->context_size >= 0x100)
        memcpy(&pc, h->context + 0xf8, 8); /* CONTEXT.Rip */
    else if (!x64 && h->context_size >= 0xbc)
        memcpy(&pc, h->context + 0xb8, 4); /* CONTEXT.Eip */
    return pc;
}

void w_write_dump(world *w, const sc_header *h, const char *path)
{
    if (w->written)
        sc_die("w_write_dump called twice");
    if (h->context_size > sizeof h->context)
        sc_die("context of %zu bytes", h->context_size);
    /* nt!MmPteBase (Windows 10 1607 and later) holds the self-map's PTE base */
    uint64_t ptebase_rva = w->x64 ? lay_sym(w->L, "MmPteBase") : SC_NONE;
    if (ptebase_rva != SC_NONE && h->kernbase) {
        uint64_t v = 0xffff000000000000ULL | ((uint64_t)w->selfmap << 39);
        w_put(w, h->kernbase + ptebase_rva, 8, v);
        mf("sym MmPteBase 0x%llx", (unsigned long long)(h->kernbase + ptebase_rva));
    }
    add_fill(w);
    if (w->x64)
        build_x64(w);
    else
        build_pae(w);
    verify_tables(w);
    w->written = true;

    run runs[86];
    size_t maxruns = w->x64 ? (GD_PHYSBUF_SIZE - sizeof(gd_physdesc64)) / sizeof(gd_run64)
                            : (GD_PHYSBUF_SIZE - sizeof(gd_physdesc32)) / sizeof(gd_run32);
    size_t nruns = make_runs(w, runs, maxruns);
    uint64_t run_pages = 0;
    for (size_t i = 0; i < nruns; i++)
        run_pages += runs[i].count;
    uint64_t present = 0;
    for (size_t i = 0; i < w->nph; i++)
        present += !w->ph[i].dropped;
    const bool bitmap = w->kind == SC_BITMAP64;
    const uint64_t hdr_size = w->x64 ? sizeof(gd_header64) : sizeof(gd_header32);
    const uint64_t nbits = runs[nruns - 1].base + runs[nruns - 1].count;
    const uint64_t bmp_bytes = ((nbits + 63) / 64) * 8;
    const uint64_t first_page =
        (hdr_size + sizeof(gd_bmp_header) + bmp_bytes + SC_PAGE - 1) & ~(uint64_t)(SC_PAGE - 1);
    const uint64_t file_size = bitmap ? first_page + present * SC_PAGE : hdr_size + run_pages * SC_PAGE;
    const uint32_t dump_type = bitmap ? 5 : 1;
    const uint64_t dtb = w->sp[0].dtb;
    const uint64_t pc = ctx_pc(h, w->x64);
    const uint64_t system_time = 0x01da000000000000ULL + (mix(w->seed ^ 0x7173) % (1ULL << 48));
    const uint64_t uptime = 0x0000000b2d05e000ULL + (mix(w->seed ^ 0x0b7) % (1ULL << 32));

    uint8_t *hdr = sc_alloc0(hdr_size);
    fill_page_marker(hdr, hdr_size);
    if (w->x64) {
        gd_header64 *H = (gd_header64 *)hdr;
        memcpy(H->signature, "PAGE", 4);
        memcpy(H->valid_dump, "DU64", 4);
        H->major_version = 0xf;
        H->minor_version = h->build;
        H->directory_table_base = dtb;
        H->pfn_database = h->pfn_database;
        H->ps_loaded_module_list = h->ps_loaded_module_list;
        H->ps_active_process_head = h->ps_active_process_head;
        H->machine_image_type = 0x8664;
        H->number_processors = h->ncpu;
        H->bugcheck_code = h->bugcheck;
        H->pad0 = 0;
        for (int i = 0; i < 4; i++)
            H->bugcheck_params[i] = h->params[i];
        H->kd_debugger_data_block = h->kdbg;
        gd_physdesc64 d = {(uint32_t)nruns, 0x45474150u, run_pages};
        memcpy(H->physical_memory_block, &d, sizeof d);
        for (size_t i = 0; i < nruns; i++) {
            gd_run64 r = {runs[i].base, runs[i].count};
            memcpy(H->physical_memory_block + sizeof d + i * sizeof r, &r, sizeof r);
        }
        size_t cs = h->context_size < sizeof H->context_record ? h->context_size
                                                                : sizeof H->context_record;
        memcpy(H->context_record, h->context, cs);
        /* as Windows writes it: the fields set, the rest (parameters, comment, padding,
         * reserved space) left with the "PAGE" fill */
        H->exception.code = 0x80000003; /* the breakpoint KeBugCheckEx raises */
        H->exception.flags = 1;
        H->exception.record = 0;
        H->exception.address = pc;
        H->exception.nparams = 0;
        H->dump_type = dump_type;
        H->required_dump_space = file_size;
        H->system_time = system_time;
        H->system_uptime = uptime;
        H->minidump_fields = 0;
        H->product_type = 1;
        H->suite_mask = 0x110;
    } else {
        gd_header32 *H = (gd_header32 *)hdr;
        memcpy(H->signature, "PAGE", 4);
        memcpy(H->valid_dump, "DUMP", 4);
        H->major_version = 0xf;
        H->minor_version = h->build;
        H->directory_table_base = (uint32_t)dtb;
        H->pfn_database = (uint32_t)h->pfn_database;
        H->ps_loaded_module_list = (uint32_t)h->ps_loaded_module_list;
        H->ps_active_process_head = (uint32_t)h->ps_active_process_head;
        H->machine_image_type = 0x14c;
        H->number_processors = h->ncpu;
        H->bugcheck_code = h->bugcheck;
        for (int i = 0; i < 4; i++)
            H->bugcheck_params[i] = (uint32_t)h->params[i];
        H->pae_enabled = 1;
        H->kd_secondary_version = 0;
        H->kd_debugger_data_block = (uint32_t)h->kdbg;
        gd_physdesc32 d = {(uint32_t)nruns, (uint32_t)run_pages};
        memcpy(H->physical_memory_block, &d, sizeof d);
        for (size_t i = 0; i < nruns; i++) {
            gd_run32 r = {(uint32_t)runs[i].base, (uint32_t)runs[i].count};
            memcpy(H->physical_memory_block + sizeof d + i * sizeof r, &r, sizeof r);
        }
        size_t cs = h->context_size < sizeof H->context_record ? h->context_size
                                                                : sizeof H->context_record;
        memcpy(H->context_record, h->context, cs);
        H->exception.code = 0x80000003;
        H->exception.flags = 1;
        H->exception.record = 0;
        H->exception.address = (uint32_t)pc;
        H->exception.nparams = 0;
        H->dump_type = dump_type;
        H->minidump_fields = 0;
        H->secondary_data_state = 0;
        H->product_type = 1;
        H->suite_mask = 0x110;
        H->required_dump_space = file_size;
        H->system_uptime = uptime;
        H->system_time = system_time;
    }

    dfile d = {fopen(path, "wb"), path, 0};
    if (!d.f)
        sc_die("cannot create %s: %s", path, strerror(errno));
    setvbuf(d.f, NULL, _IOFBF, 8u << 20);
    uint8_t *scratch = sc_alloc0(SC_PAGE);
    dwrite(&d, hdr, hdr_size);
    free(hdr);
    if (bitmap) {
        gd_bmp_header b;
        memset(&b, 0, sizeof b);
        memcpy(b.signature, "FDMP", 4);
        memcpy(b.valid_dump, "DUMP", 4);
        b.first_page = first_page;
        b.total_present_pages = present;
        b.pages = nbits;
        dwrite(&d, &b, sizeof b);
        uint8_t *bits = sc_alloc0(bmp_bytes);
        uint64_t set = 0;
        for (uint64_t p = 0; p < nbits; p++)
            if (frame(w, p, NULL)) {
                bits[p / 8] |= (uint8_t)(1u << (p % 8));
                set++;
            }
        if (set != present)
            sc_die("internal: %llu pages in the bitmap, %llu present", (unsigned long long)set,
                   (unsigned long long)present);
        dwrite(&d, bits, bmp_bytes);
        free(bits);
        dzero(&d, first_page - d.pos);
        for (uint64_t p = 0; p < nbits; p++) {
            const uint8_t *f = frame(w, p, scratch);
            if (f)
                dwrite(&d, f, SC_PAGE);
        }
    } else {
        for (size_t i = 0; i < nruns; i++)
            for (uint64_t p = runs[i].base; p < runs[i].base + runs[i].count; p++) {
                const uint8_t *f = frame(w, p, scratch);
                if (f)
                    dwrite(&d, f, SC_PAGE);
                else
                    dzero(&d, SC_PAGE);
            }
    }
    free(scratch);
    if (d.pos != file_size)
        sc_die("internal: wrote 0x%llx bytes, planned 0x%llx", (unsigned long long)d.pos,
               (unsigned long long)file_size);
    if (ferror(d.f) | fclose(d.f))
        sc_die("writing %s failed", path);

    /* (nt.c writes the KernBase, list heads, KdDebuggerDataBlock, bug check and processor lines) */
    mf("build 0x%x", h->build);
    mf("header MajorVersion 0xf");
    mf("header MinorVersion 0x%x", h->build);
    mf("header DumpType 0x%x", dump_type);
    mf("header DirectoryTableBase 0x%llx", (unsigned long long)dtb);
    mf("header PfnDataBase 0x%llx", (unsigned long long)h->pfn_database);
    mf("header MachineImageType 0x%x", w->x64 ? 0x8664u : 0x14cu);
    mf("header SystemTime 0x%llx", (unsigned long long)system_time);
    mf("header SystemUpTime 0x%llx", (unsigned long long)uptime);
    mf("header RequiredDumpSpace 0x%llx", (unsigned long long)file_size);
    mf("header NumberOfRuns 0x%zx", nruns);
    mf("header NumberOfPages 0x%llx", (unsigned long long)run_pages);
    if (bitmap) {
        mf("header FirstPage 0x%llx", (unsigned long long)first_page);
        mf("header TotalPresentPages 0x%llx", (unsigned long long)present);
        mf("header Pages 0x%llx", (unsigned long long)nbits);
    }
    if (w->x64)
        mf("header SelfMapIndex 0x%x", w->selfmap);
}

/* ================================================================ memory-manager scene helpers
 * (helper MM, used by mm.c; an appended block: nothing above changed). Frames, their mapping
 * addresses and where a page's PTE appears in the page-table self-map, for the PFN database. */

/* The frame a mapped page was given (dies when va is not mapped). */
uint64_t w_pfn_of(world *w, uint64_t va)
{
    uint32_t p = vpage(w, is_kernel(w, va) ? 0 : user_space(w, va), va, false);
    if (p == UINT32_MAX)
        sc_die("w_pfn_of: 0x%llx is not mapped", (unsigned long long)va);
    return w->ph[p].pfn;
}

/* A fresh frame no address maps (written to the dump like any page). */
uint64_t w_frame_new(world *w)
{
    if (w->written)
        sc_die("w_frame_new after the dump was written");
    uint32_t p = phys_new(w, false);
    return w->ph[p].pfn;
}

void w_frame_write(world *w, uint64_t pfn, unsigned off, const void *data, size_t n)
{
    if (pfn >= w->npfn2idx || !w->pfn2idx[pfn])
        sc_die("w_frame_write: no page at frame 0x%llx", (unsigned long long)pfn);
    ppage *p = &w->ph[w->pfn2idx[pfn] - 1];
    if (!p->data || off > SC_PAGE || n > SC_PAGE - off)
        sc_die("w_frame_write: bad write at frame 0x%llx+0x%x", (unsigned long long)pfn, off);
    memcpy(p->data + off, data, n);
}

/* Where the PTE of va appears in the self-map (x64: the PML4 self-reference slot; PAE:
 * 0xC0000000 + 8 per page). */
uint64_t w_pte_va(world *w, uint64_t va)
{
    if (!w->x64)
        return 0xC0000000ULL + ((va & 0xffffffffULL) >> 12) * 8;
    uint64_t base = 0xffff000000000000ULL | ((uint64_t)w->selfmap << 39);
    return base + ((va & 0x0000ffffffffffffULL) >> 12) * 8;
}

/* 1 + the highest frame the dump's runs can reach after `more` more frames are allocated
 * (the fill pages of --fill-mb included): the size a PFN database must have. */
uint64_t w_pfn_bound(world *w, uint64_t more)
{
    more += g_fill_pages;
    size_t c = w->nchunks;
    if (c == 0)
        sc_die("w_pfn_bound: no frame allocated yet");
    uint64_t base = w->chunk_base[c - 1];
    uint64_t size = w->chunk_size[c - 1], used = w->chunk_used;
    while (more > size - used) {
        more -= size - used;
        base += size + chunk_hole(w, c - 1);
        size = c < SMALL_CHUNKS ? CHUNK / 4 : CHUNK;
        used = 0;
        c++;
    }
    return base + size;
}

/* Every frame allocated so far: its frame number, the address mapping it (0 when none; user
 * pages: their space's address) and whether it holds a page table. */
void w_each_frame(world *w, void (*fn)(void *u, uint64_t pfn, uint64_t va, bool table), void *u)
{
    uint64_t *va = sc_alloc0((w->nph ? w->nph : 1) * sizeof *va);
    for (size_t i = 0; i < w->vcap; i++)
        if (w->vs[i].space >= 0)
            va[w->vs[i].phys] = w->vs[i].vpn << 12;
    size_t n = w->nph;
    for (size_t i = 0; i < n; i++)
        fn(u, w->ph[i].pfn, va[i], w->ph[i].table);
    free(va);
}
