/* paging.c: virtual-to-physical translation for x64 (4-level), x86 PAE (3-level), x86
 * (2-level) and ARM64 (4 KB granule, 48-bit VA); the page-table self-map addresses WinDbg
 * prints for each level; Windows software (invalid) PTE decoding and the flag letters of
 * `!pte`. A walk allocates nothing: it reads entries straight from the mapped file through
 * a one-page-per-level cache kept in the target. */
#include "mem/mem.h"

/* ---- geometry of each paging mode -------------------------------------------------- */

typedef struct geom {
    int levels;
    unsigned esize;          /* bytes per entry */
    uint8_t shift[4];        /* va bit where each level's index starts */
    uint16_t nent[4];        /* entries per table at each level */
    uint64_t addr_mask;      /* entry bits that hold the next table's / page's address */
    const char *names[4];
} geom;

static const geom G_X64 = {4, 8, {39, 30, 21, 12}, {512, 512, 512, 512}, 0x000ffffffffff000ull,
                           {"PXE", "PPE", "PDE", "PTE"}};
static const geom G_PAE = {3, 8, {30, 21, 12, 0}, {4, 512, 512, 0}, 0x000ffffffffff000ull,
                           {"PPE", "PDE", "PTE", NULL}};
static const geom G_X86 = {2, 4, {22, 12, 0, 0}, {1024, 1024, 0, 0}, 0xfffff000ull,
                           {"PDE", "PTE", NULL, NULL}};
static const geom G_ARM64 = {4, 8, {39, 30, 21, 12}, {512, 512, 512, 512}, 0x0000fffffffff000ull,
                             {"PXE", "PPE", "PDE", "PTE"}};

static const geom *geom_of(nk_paging p)
{
    switch (p) {
    case NK_PAGING_X64_4L: return &G_X64;
    case NK_PAGING_X86_PAE: return &G_PAE;
    case NK_PAGING_X86: return &G_X86;
    case NK_PAGING_ARM64_4K: return &G_ARM64;
    default: return NULL;
    }
}

/* The table (or 32-byte PAE PDPT) a root value points to. */
static uint64_t root_base(nk_paging p, uint64_t dtb)
{
    switch (p) {
    case NK_PAGING_X86_PAE: return dtb & 0xffffffe0ull; /* CR3 bits 31:5 */
    case NK_PAGING_X86: return dtb & 0xfffff000ull;
    case NK_PAGING_ARM64_4K: return dtb & 0x0000fffffffff000ull; /* drop ASID and CnP */
    default: return dtb & 0x000ffffffffff000ull;
    }
}

/* ---- entry reads through the per-level page cache ---------------------------------- */

static bool read_entry(ntkd_target *t, int level, uint64_t pa, unsigned esize, uint64_t *v)
{
    uint64_t pfn = pa >> 12;
    const uint8_t *page = NULL;
    if (level >= 0 && level < 5 && t->pt_cache[level].pfn1 == pfn + 1) {
        page = t->pt_cache[level].page;
    } else {
        size_t avail = 0;
        page = nk_phys_ptr(t, pfn << 12, &avail);
        if (!page || avail < 4096) return false;
        if (level >= 0 && level < 5) {
            t->pt_cache[level].pfn1 = pfn + 1;
            t->pt_cache[level].page = page;
        }
    }
    const uint8_t *p = page + (pa & 0xfff);
    *v = esize == 8 ? nk_le64(p) : nk_le32(p);
    return true;
}

/* ---- self-map ----------------------------------------------------------------------- */

static inline uint64_t sext48(uint64_t v)
{
    v &= 0x0000ffffffffffffull;
    return (v & 0x0000800000000000ull) ? v | 0xffff000000000000ull : v;
}

/* Looks up (once per root) where the page tables map themselves. x64 and ARM64: the index
 * of the top-level entry that points back at the top-level table (kernel half preferred),
 * -1 when none. x86: 1 when the Windows self-map at 0xC0000000 is in place, else -1. */
static int selfmap_index(ntkd_target *t, nk_paging p, uint64_t dtb)
{
    if (t->selfmap_known && t->selfmap_root == dtb) return t->selfmap_index;
    int found = -1;
    uint64_t base = root_base(p, dtb), e;
    if (p == NK_PAGING_X64_4L || p == NK_PAGING_ARM64_4K) {
        size_t avail = 0;
        const uint8_t *page = nk_phys_ptr(t, base, &avail);
        uint64_t mask = geom_of(p)->addr_mask;
        for (int k = 0; page && avail >= 4096 && k < 512 && found < 0; k++) {
            int i = (k + 256) & 511; /* 256..511 first, then 0..255 */
            e = nk_le64(page + (size_t)i * 8);
            bool ok = p == NK_PAGING_ARM64_4K ? (e & 3) == 3 : (e & 1) != 0;
            if (ok && (e & mask) == base) found = i;
        }
    } else if (p == NK_PAGING_X86_PAE) {
        /* PDPT[3] maps 0xC0000000-0xFFFFFFFF; its page directory's entries 0..3 are the four
           page directories, so entry 3 points back at itself. */
        uint64_t pd3, self;
        if (read_entry(t, -1, base + 3 * 8, 8, &pd3) && (pd3 & 1) &&
            read_entry(t, -1, (pd3 & G_PAE.addr_mask) + 3 * 8, 8, &self) && (self & 1) &&
            (self & G_PAE.addr_mask) == (pd3 & G_PAE.addr_mask))
            found = 1;
    } else if (p == NK_PAGING_X86) {
        if (read_entry(t, -1, base + 0x300 * 4, 4, &e) && (e & 1) && (e & 0xfffff000ull) == base)
            found = 1;
    }
    t->selfmap_known = true;
    t->selfmap_root = dtb;
    t->selfmap_index = found;
    return found;
}

/* Base of the self-map region for a 64-bit self-reference index. */
static uint64_t selfmap_base(nk_paging p, int idx)
{
    uint64_t b = (uint64_t)idx << 39;
    return p == NK_PAGING_ARM64_4K ? (b | 0xffff000000000000ull) : sext48(b);
}

/* The VA of the PTE that maps x, in a 64-bit self-map based at `base`. */
static inline uint64_t pte_of64(uint64_t base, uint64_t x)
{
    return base + ((x >> 12) & 0xfffffffffull) * 8;
}

static void fill_entry_vas(ntkd_target *t, nk_paging p, uint64_t dtb, uint64_t va, nk_walk *w)
{
    int s = selfmap_index(t, p, dtb);
    if (s < 0) return;
    if (p == NK_PAGING_X64_4L || p == NK_PAGING_ARM64_4K) {
        uint64_t base = selfmap_base(p, s);
        uint64_t x = va;
        for (int l = 3; l >= 0; l--) {
            x = pte_of64(base, x);
            w->lvl[l].entry_va = x;
        }
    } else if (p == NK_PAGING_X86_PAE) {
        w->lvl[2].entry_va = 0xC0000000ull + (va >> 12) * 8;
        w->lvl[1].entry_va = 0xC0600000ull + (va >> 21) * 8;
        /* the PDPT itself is not in the self-map */
    } else if (p == NK_PAGING_X86) {
        w->lvl[1].entry_va = 0xC0000000ull + (va >> 12) * 4;
        w->lvl[0].entry_va = 0xC0300000ull + (va >> 22) * 4;
    }
}

bool nk_pte_addr_to_va(ntkd_target *t, uint64_t addr, uint64_t *va)
{
    nk_paging p = t->d.paging;
    if (p == NK_PAGING_NONE) return false;
    int s = selfmap_index(t, p, t->d.dtb);
    if (s < 0) return false;
    if (p == NK_PAGING_X64_4L || p == NK_PAGING_ARM64_4K) {
        uint64_t base = selfmap_base(p, s);
        if (addr < base || addr - base >= (1ull << 39)) return false;
        *va = sext48(((addr - base) / 8) << 12);
        return true;
    }
    if (p == NK_PAGING_X86_PAE) {
        if (addr < 0xC0000000ull || addr >= 0xC0800000ull) return false;
        *va = ((addr - 0xC0000000ull) / 8) << 12;
        return true;
    }
    if (addr < 0xC0000000ull || addr >= 0xC0400000ull) return false;
    *va = ((addr - 0xC0000000ull) / 4) << 12;
    return true;
}

/* ---- the walk ----------------------------------------------------------------------- */

static bool canonical(nk_paging p, uint64_t va)
{
    switch (p) {
    case NK_PAGING_X64_4L: {
        uint64_t top = va >> 47;
        return top == 0 || top == 0x1ffff;
    }
    case NK_PAGING_ARM64_4K: {
        /* Windows walks kernel addresses (top 16 bits set) through TTBR1 and user addresses
           (top bits clear) through TTBR0. A dump header records one root, so it serves both
           halves here: user addresses translate only as far as that root maps them. */
        uint64_t top = va >> 48;
        return top == 0 || top == 0xffff;
    }
    default: return va <= 0xffffffffull;
    }
}

/* Is entry e at level l a valid entry, and does it map a page (large page or last level)? */
static void classify(nk_paging p, const geom *g, int l, uint64_t e, bool *valid, bool *leaf)
{
    bool last = l == g->levels - 1;
    if (p == NK_PAGING_ARM64_4K) {
        unsigned type = (unsigned)(e & 3);
        if (last) {
            *valid = type == 3; /* page descriptor */
            *leaf = true;
        } else if (l == 0) {
            *valid = type == 3; /* no level-0 blocks with a 4 KB granule */
            *leaf = false;
        } else {
            *valid = (e & 1) != 0;
            *leaf = type == 1; /* block: 1 GB at level 1, 2 MB at level 2 */
        }
        return;
    }
    *valid = (e & 1) != 0;
    if (last) *leaf = true;
    else if (p == NK_PAGING_X64_4L) *leaf = l >= 1 && (e & 0x80); /* PS in PDPTE / PDE */
    else if (p == NK_PAGING_X86_PAE) *leaf = l == 1 && (e & 0x80);
    else *leaf = (e & 0x80) != 0; /* x86 PDE: 4 MB page */
}

static nk_status walk(ntkd_target *t, nk_paging p, uint64_t dtb, uint64_t va, nk_walk *w,
                      bool want_va)
{
    memset(w, 0, sizeof *w);
    const geom *g = geom_of(p);
    if (!g) {
        w->result = NK_WALK_NO_PAGING;
        return NTKD_E_NOTPRESENT;
    }
    w->nlevels_arch = g->levels;
    for (int l = 0; l < g->levels; l++) w->lvl[l].name = g->names[l];
    if (!canonical(p, va)) {
        w->result = NK_WALK_NONCANONICAL;
        return NTKD_E_NOTPRESENT;
    }
    if (want_va) fill_entry_vas(t, p, dtb, va, w);
    uint64_t table = root_base(p, dtb);
    for (int l = 0; l < g->levels; l++) {
        nk_walk_level *lv = &w->lvl[l];
        uint64_t idx = (va >> g->shift[l]) & (g->nent[l] - 1u);
        lv->entry_pa = table + idx * g->esize;
        w->nlevels = l + 1;
        uint64_t e;
        if (!read_entry(t, l, lv->entry_pa, g->esize, &e)) {
            w->result = NK_WALK_NOT_IN_DUMP;
            return NTKD_E_NOTPRESENT;
        }
        lv->value = e;
        lv->read_ok = true;
        classify(p, g, l, e, &lv->valid, &lv->leaf);
        if (!lv->valid) {
            lv->leaf = false;
            w->result = NK_WALK_INVALID;
            return NTKD_E_NOTPRESENT;
        }
        if (lv->leaf) {
            uint64_t size = 1ull << g->shift[l];
            uint64_t base;
            if (p == NK_PAGING_X86 && l == 0) /* 4 MB page; PSE-36 puts PA bits 39:32 at 20:13 */
                base = (e & 0xffc00000ull) | (((e >> 13) & 0xffull) << 32);
            else
                base = e & g->addr_mask & ~(size - 1);
            w->pa = base | (va & (size - 1));
            w->page_size = size;
            w->result = NK_WALK_OK;
            return NTKD_OK;
        }
        table = e & g->addr_mask;
    }
    /* not reached: the last level is always a leaf */
    w->result = NK_WALK_INVALID;
    return NTKD_E_NOTPRESENT;
}

nk_status nk_vtop_walk(ntkd_target *t, uint64_t dtb, uint64_t va, nk_walk *w)
{
    return walk(t, t->d.paging, dtb, va, w, true);
}

nk_status nk_vtop(ntkd_target *t, uint64_t va, uint64_t *pa)
{
    nk_walk w;
    nk_status st = walk(t, t->d.paging, t->d.dtb, va, &w, false);
    if (st == NTKD_OK) *pa = w.pa;
    return st;
}

/* ---- software PTEs -------------------------------------------------------------------- */

/* Built-in layouts, from the kernels' _MMPTE_* types:
 *  - x64 before build 17134 (Windows 7 / 8.1 as first released): PageFileLow at bit 1.
 *  - x64 from 17134 (and older kernels patched for L1TF, which the symbol layer can tell):
 *    SwizzleBit at 4, PageFileLow at 12 (19041 ntkrnlmp: _MMPTE_SOFTWARE PageFileLow@12:4,
 *    PageFileHigh@32:32; _MMPTE_TRANSITION PageFrameNumber@12:36; _MMPTE_PROTOTYPE
 *    ProtoAddress@16:48).
 *  - x86 PAE (XP ntkrnlpa): PageFileLow@1:4, PageFileHigh@32:32, ProtoAddress@32:32,
 *    transition PFN@12:26; from 17134 PageFileLow moves to 12 with a SwizzleBit, as on x64.
 *  - x86 non-PAE (XP ntoskrnl): PageFileLow@1:4, PageFileHigh@12:20, ProtoAddressLow@1:7
 *    and ProtoAddressHigh@11:21 of an offset from the prototype-PTE pool (0xE1000000).
 *  - ARM64 (ntoskrnl 24H2): Protection@1:5, PageFileLow@6:4, Prototype@10, Transition@11,
 *    PageFrameNumber@12:40, ProtoAddress@16:48, PageFileHigh@32:32. */
static const nk_pte_layout L_X64_OLD = {
    .name = "x64 (before 17134)", .prototype_bit = 10, .transition_bit = 11, .prot_shift = 5,
    .pfn_shift = 12, .pfn_bits = 36, .pf_num_shift = 1, .pf_num_bits = 4, .pf_off_shift = 32,
    .pf_off_bits = 32, .proto_shift = 16, .proto_bits = 48, .proto_sext48 = true,
    .swizzle_bit = -1};
static const nk_pte_layout L_X64_NEW = {
    .name = "x64 (17134 and later)", .prototype_bit = 10, .transition_bit = 11, .prot_shift = 5,
    .pfn_shift = 12, .pfn_bits = 36, .pf_num_shift = 12, .pf_num_bits = 4, .pf_off_shift = 32,
    .pf_off_bits = 32, .proto_shift = 16, .proto_bits = 48, .proto_sext48 = true,
    .swizzle_bit = 4};
static const nk_pte_layout L_PAE_OLD = {
    .name = "x86 PAE (before 17134)", .prototype_bit = 10, .transition_bit = 11,
    .prot_shift = 5, .pfn_shift = 12, .pfn_bits = 26, .pf_num_shift = 1, .pf_num_bits = 4,
    .pf_off_shift = 32, .pf_off_bits = 32, .proto_shift = 32, .proto_bits = 32,
    .swizzle_bit = -1};
static const nk_pte_layout L_PAE_NEW = {
    .name = "x86 PAE (17134 and later)", .prototype_bit = 10, .transition_bit = 11,
    .prot_shift = 5, .pfn_shift = 12, .pfn_bits = 26, .pf_num_shift = 12, .pf_num_bits = 4,
    .pf_off_shift = 32, .pf_off_bits = 32, .proto_shift = 32, .proto_bits = 32,
    .swizzle_bit = 4};
static const nk_pte_layout L_X86 = {
    .name = "x86", .prototype_bit = 10, .transition_bit = 11, .prot_shift = 5, .pfn_shift = 12,
    .pfn_bits = 20, .pf_num_shift = 1, .pf_num_bits = 4, .pf_off_shift = 12, .pf_off_bits = 20,
    .proto_shift = 11, .proto_bits = 21, .proto_pos = 9, .proto_lo_shift = 1,
    .proto_lo_bits = 7, .proto_lo_pos = 2, .proto_base = 0xE1000000ull, .swizzle_bit = -1};
static const nk_pte_layout L_ARM64 = {
    .name = "ARM64", .prototype_bit = 10, .transition_bit = 11, .prot_shift = 1,
    .pfn_shift = 12, .pfn_bits = 40, .pf_num_shift = 6, .pf_num_bits = 4, .pf_off_shift = 32,
    .pf_off_bits = 32, .proto_shift = 16, .proto_bits = 48, .proto_sext48 = true,
    .swizzle_bit = -1};

#define NK_BUILD_L1TF_LAYOUT 17134u

const nk_pte_layout *nk_pte_layout_get(const ntkd_target *t)
{
    if (t->pte_layout) return t->pte_layout;
    const nk_dump *d = &t->d;
    /* build 0 = unknown (raw images): assume a current kernel */
    bool newer = d->minor == 0 || d->minor >= NK_BUILD_L1TF_LAYOUT;
    switch (d->paging) {
    case NK_PAGING_X64_4L: return newer ? &L_X64_NEW : &L_X64_OLD;
    case NK_PAGING_X86_PAE: return newer ? &L_PAE_NEW : &L_PAE_OLD;
    case NK_PAGING_X86: return &L_X86;
    case NK_PAGING_ARM64_4K: return &L_ARM64;
    default: break;
    }
    if (d->arch == NK_ARCH_ARM64) return &L_ARM64;
    if (d->arch == NK_ARCH_X86) return newer ? &L_PAE_NEW : &L_PAE_OLD;
    return newer ? &L_X64_NEW : &L_X64_OLD;
}

static inline uint64_t field(uint64_t v, unsigned shift, unsigned bits)
{
    if (!bits || shift >= 64) return 0;
    v >>= shift;
    return bits >= 64 ? v : v & ((1ull << bits) - 1);
}

void nk_pte_decode(const ntkd_target *t, uint64_t pte, nk_swpte *out)
{
    const nk_pte_layout *L = nk_pte_layout_get(t);
    memset(out, 0, sizeof *out);
    if (!t->d.is64 && t->d.paging == NK_PAGING_X86) pte &= 0xffffffffull;
    if (L->swizzle_bit >= 0 && !((pte >> L->swizzle_bit) & 1)) pte ^= L->invalid_pte_mask;
    out->protection = (uint32_t)field(pte, L->prot_shift, 5);
    if (pte == 0) {
        out->kind = NK_SWPTE_ZERO;
        return;
    }
    if ((pte >> L->prototype_bit) & 1) {
        out->kind = NK_SWPTE_PROTOTYPE;
        uint64_t a = field(pte, L->proto_shift, L->proto_bits);
        if (L->proto_sext48) {
            /* 0xFFFFFFFF0000: "the prototype PTE is the VAD's" marker, kept as is */
            out->proto_addr = a == 0xffffffff0000ull ? a : sext48(a);
        } else {
            a <<= L->proto_pos;
            a |= field(pte, L->proto_lo_shift, L->proto_lo_bits) << L->proto_lo_pos;
            out->proto_addr = a + L->proto_base;
        }
        return;
    }
    if ((pte >> L->transition_bit) & 1) {
        out->kind = NK_SWPTE_TRANSITION;
        out->pfn = field(pte, L->pfn_shift, L->pfn_bits);
        return;
    }
    out->pagefile = (uint32_t)field(pte, L->pf_num_shift, L->pf_num_bits);
    out->pagefile_off = field(pte, L->pf_off_shift, L->pf_off_bits);
    out->kind = (out->pagefile || out->pagefile_off) ? NK_SWPTE_PAGEFILE : NK_SWPTE_DEMAND_ZERO;
}

/* MM protection codes (MM_READONLY = 1 ... MM_EXECUTE_WRITECOPY = 7; +8 no-cache,
 * +0x10 guard, +0x18 write-combine; 0x10 alone = decommitted, 0x18 alone = no access,
 * 0x1f = an outswapped kernel stack). The names follow WinDbg's !pte ("4 - ReadWrite",
 * "1f - Outswapped kernel stack"); 0 has no name (WinDbg prints "Protect: 0"). */
const char *nk_pte_protection_name(uint32_t prot)
{
    static const char *const names[32] = {
        "", "ReadOnly", "Execute", "ExecuteRead", "ReadWrite", "WriteCopy",
        "ExecuteReadWrite", "ExecuteWriteCopy",
        "NoCache", "ReadOnly NoCache", "Execute NoCache", "ExecuteRead NoCache",
        "ReadWrite NoCache", "WriteCopy NoCache", "ExecuteReadWrite NoCache",
        "ExecuteWriteCopy NoCache",
        "Decommitted", "ReadOnly Guard", "Execute Guard", "ExecuteRead Guard",
        "ReadWrite Guard", "WriteCopy Guard", "ExecuteReadWrite Guard", "ExecuteWriteCopy Guard",
        "NoAccess", "ReadOnly WriteCombine", "Execute WriteCombine",
        "ExecuteRead WriteCombine", "ReadWrite WriteCombine", "WriteCopy WriteCombine",
        "ExecuteReadWrite WriteCombine", "Outswapped kernel stack"};
    return names[prot & 0x1f];
}

uint64_t nk_pte_pfn(const ntkd_target *t, uint64_t pte)
{
    const geom *g = geom_of(t->d.paging);
    uint64_t mask = g ? g->addr_mask : 0x000ffffffffff000ull;
    return (pte & mask) >> 12;
}

/* WinDbg's 11 flag letters, left to right: C(opy-on-write) G(lobal) L(arge) D(irty)
 * A(ccessed) N(o cache) T(write-through) U/K(owner) W/R E(xecutable) V(alid); a dash
 * when the bit is clear. x86/x64: bits 9 8 7 6 5 4 3 2, W from the hardware write bit (1)
 * or Windows' software Write bit (11), E unless NX (bit 63; always E without PAE). ARM64
 * (Windows' _MMPTE_HARDWARE): CopyOnWrite 56, NonGlobal 11, block descriptor = L, NotDirty 7
 * clear = D (and writable), Accessed 10, Owner 6, Writable 55, PXN 53 / UXN 54. */
char *nk_pte_flags(const ntkd_target *t, uint64_t pte, bool is_pde, char *buf)
{
    memset(buf, '-', 11);
    buf[11] = 0;
#define B(n) ((pte >> (n)) & 1)
    if (t->d.paging == NK_PAGING_ARM64_4K || (t->d.paging == NK_PAGING_NONE && t->d.arch == NK_ARCH_ARM64)) {
        bool user = B(6);
        if (B(56)) buf[0] = 'C';
        if (!B(11)) buf[1] = 'G';
        if (is_pde && (pte & 3) == 1) buf[2] = 'L';
        if (!B(7)) buf[3] = 'D';
        if (B(10)) buf[4] = 'A';
        buf[7] = user ? 'U' : 'K';
        buf[8] = (B(55) || !B(7)) ? 'W' : 'R';
        if (!(user ? B(54) : B(53))) buf[9] = 'E';
        if (B(0)) buf[10] = 'V';
        return buf;
    }
    if (B(9)) buf[0] = 'C';
    if (B(8)) buf[1] = 'G';
    if (is_pde && B(7)) buf[2] = 'L';
    if (B(6)) buf[3] = 'D';
    if (B(5)) buf[4] = 'A';
    if (B(4)) buf[5] = 'N';
    if (B(3)) buf[6] = 'T';
    buf[7] = B(2) ? 'U' : 'K';
    buf[8] = (B(1) || B(11)) ? 'W' : 'R';
    if (t->d.paging == NK_PAGING_X86 || !B(63)) buf[9] = 'E';
    if (B(0)) buf[10] = 'V';
#undef B
    return buf;
}
