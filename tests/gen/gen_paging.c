/* gen_paging.c: the physical layout of a generated machine (runs with holes, table pages among
 * data pages) and its page tables: x64 4-level (Windows self-map, 2 MB and 1 GB pages, software
 * PTEs), x86 PAE (3 levels, self-map at 0xC0000000), x86 2-level (4 MB pages, self-map at
 * 0xC0300000) and ARM64 4-level with a 4 KB granule (table/block/page descriptors).
 *
 * Encodings: Intel SDM vol. 3 ch. 4 (P=1, RW=2, A=0x20, D=0x40, PS=0x80, G=0x100, XD=bit 63;
 * PAE PDPTEs carry only P and the address); ARMv8 ARM D5 (bit0 valid, bit1 table/page,
 * AF=bit 10, SH=bits 8-9, AP[2]=bit 7, PXN=bit 53, UXN=bit 54). Windows software PTEs (x64,
 * build 19041, from the ISF table's _MMPTE_TRANSITION/_PROTOTYPE/_SOFTWARE): Protection bits
 * 5-9, Prototype bit 10, Transition bit 11, PFN bits 12-47, ProtoAddress bits 16-63,
 * PageFileLow bits 12-15, PageFileHigh bits 32-63. */
#include "gen.h"

#include <stdlib.h>
#include <string.h>

/* ---------------------------------------------------------------- physical plan */
static uint64_t umax(uint64_t a, uint64_t b) { return a > b ? a : b; }

void phys_plan(gen_phys *ph, uint64_t ndata, int ntables, int excluded, uint64_t trailing,
               bool missing_beyond)
{
    memset(ph, 0, sizeof *ph);
    if (ntables > GEN_MAX_TABLES)
        gen_die("internal: too many table pages");
    uint64_t P = ndata + (uint64_t)ntables + (uint64_t)excluded;
    uint64_t r0 = umax(P / 8, 1);
    uint64_t r1 = umax(P / 4, 2 * (uint64_t)ntables + 2);
    uint64_t r2 = umax(P / 4, 1);
    if (r0 + r1 + r2 + 2 * (uint64_t)excluded + 2 > P)
        gen_die("too few pages for the layout (use --pages 32 or more)");
    uint64_t r3 = P - r0 - r1 - r2;
    const uint64_t h0 = 3, h1 = 0x25, h2 = 0x101;
    ph->nruns = 4;
    ph->runs[0] = (gen_run){0, r0};
    ph->runs[1] = (gen_run){r0 + h0, r1};
    ph->runs[2] = (gen_run){ph->runs[1].base + r1 + h1, r2};
    ph->runs[3] = (gen_run){ph->runs[2].base + r2 + h2, r3};
    uint64_t end = ph->runs[3].base + r3;
    ph->npfn = end + trailing;
    ph->state = gen_alloc(ph->npfn);
    for (int r = 0; r < ph->nruns; r++)
        memset(ph->state + ph->runs[r].base, PH_DATA, ph->runs[r].count);
    ph->ntables = ntables;
    for (int i = 0; i < ntables; i++) {
        ph->table_pfn[i] = ph->runs[1].base + 1 + 2 * (uint64_t)i;
        ph->state[ph->table_pfn[i]] = PH_TABLE;
        ph->table_page[i] = gen_alloc(GEN_PAGE);
    }
    if (excluded) {
        uint64_t step = (r3 - 2) / (uint64_t)excluded;
        for (int k = 0; k < excluded; k++)
            ph->state[ph->runs[3].base + 1 + (uint64_t)k * step] = PH_ABSENT;
    }
    static const uint64_t in_hole[4] = {3, 9, 17, 30};
    for (int k = 0; k < 4; k++)
        ph->missing[k] = missing_beyond ? ph->npfn + 0x100 + 0x11 * (uint64_t)k
                                        : ph->runs[1].base + r1 + in_hole[k];
    ph->data = gen_alloc(sizeof(uint64_t) * (size_t)umax(ndata, 1));
    uint64_t n = 0;
    for (uint64_t p = 0; p < ph->npfn; p++) {
        if (ph->state[p] == PH_DATA)
            ph->data[n++] = p;
        if (ph->state[p] != PH_ABSENT)
            ph->npresent++;
    }
    if (n != ndata)
        gen_die("internal: planned %llu data pages, wanted %llu", (unsigned long long)n,
                (unsigned long long)ndata);
    ph->ndata = n;
}

const uint8_t *phys_table(const gen_phys *ph, uint64_t pfn)
{
    for (int i = 0; i < ph->ntables; i++)
        if (ph->table_pfn[i] == pfn)
            return ph->table_page[i];
    return NULL;
}

void phys_free(gen_phys *ph)
{
    for (int i = 0; i < ph->ntables; i++)
        free(ph->table_page[i]);
    free(ph->state);
    free(ph->data);
    memset(ph, 0, sizeof *ph);
}

/* ---------------------------------------------------------------- helpers */
int paging_tables_needed(gen_arch a)
{
    switch (a) {
    case GA_X64:
    case GA_ARM64: return 5; /* L0, L1, L2, two L3 */
    case GA_X86PAE: return 7; /* PDPT page, PD0..PD3, two PTs */
    case GA_X86: return 3;    /* PD, two PTs */
    }
    return 0;
}

static void add_map(gen_vm *vm, uint64_t va, uint64_t pa, uint64_t size)
{
    if (vm->nmaps == vm->capmaps) {
        vm->capmaps = vm->capmaps ? vm->capmaps * 2 : 1024;
        vm->maps = gen_realloc(vm->maps, vm->capmaps * sizeof *vm->maps);
    }
    vm->maps[vm->nmaps++] = (gen_map){va, pa, size};
}

static void add_nomap(gen_vm *vm, uint64_t va, bool notindump)
{
    if (vm->nnomaps < (int)(sizeof vm->nomaps / sizeof vm->nomaps[0]))
        vm->nomaps[vm->nnomaps++] = (gen_nomap){va, notindump};
}

static void add_pte(gen_vm *vm, uint64_t va, uint64_t raw, const char *kind)
{
    if (vm->nptes < (int)(sizeof vm->ptes / sizeof vm->ptes[0]))
        vm->ptes[vm->nptes++] = (gen_pte){va, raw, kind};
}

static uint64_t canon48(uint64_t va)
{
    va &= 0xffffffffffffULL;
    return (va & 0x800000000000ULL) ? (va | 0xffff000000000000ULL) : va;
}

/* A multiplier coprime with n, for scrambled (non-identity) va -> page assignments. */
static uint64_t coprime_step(uint64_t n, uint64_t start)
{
    static const uint64_t primes[] = {7, 11, 13, 17, 19, 23, 29, 31, 37, 41, 43, 47};
    for (size_t i = 0; i < sizeof primes / sizeof primes[0]; i++)
        if (primes[i] >= start && n % primes[i])
            return primes[i];
    return 1;
}

/* Entry encodings per architecture. */
static uint64_t e_table(gen_arch a, uint64_t pa)
{
    if (a == GA_ARM64)
        return pa | 0x403; /* table descriptor; AF (ignored here) makes its self-map view valid */
    return pa | 0x63; /* P RW A D */
}

static uint64_t e_page(gen_arch a, uint64_t pa, bool exec)
{
    switch (a) {
    case GA_ARM64:
        /* page descriptor, AF, inner shareable; kernel data: PXN+UXN; code: read-only, UXN */
        return exec ? (pa | 0x783 | (1ULL << 54)) : (pa | 0x703 | (3ULL << 53));
    case GA_X64:
    case GA_X86PAE:
        return exec ? (pa | 0x121) : (pa | 0x163 | (1ULL << 63));
    case GA_X86:
        return exec ? (pa | 0x121) : (pa | 0x163);
    }
    return 0;
}

static uint64_t e_large(gen_arch a, uint64_t pa)
{
    switch (a) {
    case GA_ARM64: return pa | 0x701 | (3ULL << 53); /* block descriptor */
    case GA_X64:
    case GA_X86PAE: return pa | 0x1e3 | (1ULL << 63);
    case GA_X86: return pa | 0x1e3;
    }
    return 0;
}

static void set_e(gen_arch a, uint8_t *table, unsigned idx, uint64_t v)
{
    if (a == GA_X86)
        put32(table + 4 * idx, (uint32_t)v);
    else
        put64(table + 8 * idx, v);
}

static uint64_t pfn_pa(uint64_t pfn) { return pfn * GEN_PAGE; }

/* The PT1 page: an invalid entry, software PTEs (x64), a valid PTE whose target page the dump
 * lacks, a PTE mapping a table page, invalid entries, then aliases of data pages. */
static void fill_pt1(gen_vm *vm, gen_phys *ph, gen_arch a, uint8_t *pt1, uint64_t va0,
                     unsigned nent, uint64_t pt0_pfn)
{
    uint64_t step = coprime_step(ph->ndata, 11);
    add_nomap(vm, va0, false);
    if (a == GA_X64) {
        uint64_t tpfn = ph->data[(ph->ndata * 2) / 3];
        uint64_t trans = (tpfn << 12) | (1ULL << 11) | (4ULL << 5);
        uint64_t proto_addr = 0xffffa80012345678ULL;
        uint64_t proto = ((proto_addr & 0xffffffffffffULL) << 16) | (1ULL << 10);
        uint64_t pagefile = (0x2a3b4ULL << 32) | (1ULL << 12) | (4ULL << 5);
        uint64_t demandzero = 4ULL << 5;
        set_e(a, pt1, 1, trans);
        set_e(a, pt1, 2, proto);
        set_e(a, pt1, 3, pagefile);
        set_e(a, pt1, 4, demandzero);
        add_pte(vm, va0 + 1 * GEN_PAGE, trans, "transition");
        add_pte(vm, va0 + 2 * GEN_PAGE, proto, "prototype");
        add_pte(vm, va0 + 3 * GEN_PAGE, pagefile, "pagefile");
        add_pte(vm, va0 + 4 * GEN_PAGE, demandzero, "demandzero");
    }
    set_e(a, pt1, 5, e_page(a, pfn_pa(ph->missing[3]), false));
    add_map(vm, va0 + 5 * GEN_PAGE, pfn_pa(ph->missing[3]), GEN_PAGE);
    set_e(a, pt1, 6, e_page(a, pfn_pa(pt0_pfn), false));
    add_map(vm, va0 + 6 * GEN_PAGE, pfn_pa(pt0_pfn), GEN_PAGE);
    add_nomap(vm, va0 + 9 * GEN_PAGE + 0x7f8, false);
    for (unsigned i = 16; i < nent; i++) {
        uint64_t pfn = ph->data[((uint64_t)i * step + 5) % ph->ndata];
        set_e(a, pt1, i, e_page(a, pfn_pa(pfn), false));
        add_map(vm, va0 + (uint64_t)i * GEN_PAGE, pfn_pa(pfn), GEN_PAGE);
    }
}

/* PT0: 4 KB pages over data pages in scrambled order; entry 1 is the executable code page. */
static void fill_pt0(gen_vm *vm, gen_phys *ph, gen_arch a, uint8_t *pt0, uint64_t va0,
                     unsigned nent)
{
    uint64_t step = coprime_step(ph->ndata, 7);
    uint64_t n0 = ph->ndata < nent ? ph->ndata : nent;
    for (uint64_t i = 0; i < n0; i++) {
        uint64_t pfn = ph->data[(i * step + 3) % ph->ndata];
        set_e(a, pt0, (unsigned)i, e_page(a, pfn_pa(pfn), i == 1));
        add_map(vm, va0 + i * GEN_PAGE, pfn_pa(pfn), GEN_PAGE);
    }
}

/* ---------------------------------------------------------------- 4-level (x64, ARM64) */
static void build_4level(gen_vm *vm, gen_phys *ph, gen_arch a, uint64_t seed)
{
    const uint64_t K = 0xfffff80000000000ULL; /* L0 index 0x1f0 */
    uint8_t *l0 = ph->table_page[0], *l1 = ph->table_page[1], *l2 = ph->table_page[2];
    uint8_t *pt0 = ph->table_page[3], *pt1 = ph->table_page[4];
    uint64_t l0p = pfn_pa(ph->table_pfn[0]), l1p = pfn_pa(ph->table_pfn[1]);
    uint64_t l2p = pfn_pa(ph->table_pfn[2]), pt0p = pfn_pa(ph->table_pfn[3]);
    uint64_t pt1p = pfn_pa(ph->table_pfn[4]);
    ph->tables_used = 5;
    vm->dtb = l0p;
    vm->paging = a == GA_ARM64 ? "arm64" : "x64";
    vm->kbase = K;

    /* L0 / PML4 */
    set_e(a, l0, 0x1f0, e_table(a, l1p));
    add_nomap(vm, 0xfffff88000000000ULL, false);              /* [0x1f1] = 0 */
    set_e(a, l0, 0x1f2, e_table(a, pfn_pa(ph->missing[2]))); /* table not in dump */
    add_nomap(vm, 0xfffff90000000123ULL, true);
    add_nomap(vm, 0x0000000000010000ULL, false); /* [0] = 0 */
    uint64_t S = 0x100 + nk_gen_mix(seed ^ 0x5e1f) % 0xe0; /* 0x100..0x1df */
    vm->selfmap_index = S;
    if (a == GA_ARM64)
        set_e(a, l0, (unsigned)S, l0p | 0x403 | (3ULL << 53)); /* table desc, AF for the L3 view */
    else
        set_e(a, l0, (unsigned)S, l0p | 0x63 | (1ULL << 63));
    uint64_t pte_base = canon48(S << 39);
    uint64_t pde_base = canon48((S << 39) | (S << 30));
    uint64_t ppe_base = canon48((S << 39) | (S << 30) | (S << 21));
    uint64_t pxe_base = canon48((S << 39) | (S << 30) | (S << 21) | (S << 12));
    vm->pte_base = pte_base;
    vm->pde_base = pde_base;
    uint64_t k48 = K & 0xffffffffffffULL;
    add_map(vm, pxe_base, l0p, GEN_PAGE);                                   /* the PML4 itself */
    add_map(vm, ppe_base + ((k48 >> 39) << 12), l1p, GEN_PAGE);              /* PDPT of K */
    add_map(vm, pde_base + ((k48 >> 30) << 12), l2p, GEN_PAGE);              /* PD of K */
    add_map(vm, pte_base + ((k48 >> 21) << 12), pt0p, GEN_PAGE);             /* PT of K */
    add_map(vm, pte_base + (((k48 + 0x200000) >> 21) << 12), pt1p, GEN_PAGE); /* PT of K+2M */

    /* L1 / PDPT of K */
    set_e(a, l1, 0, e_table(a, l2p));
    set_e(a, l1, 1, e_large(a, 0)); /* 1 GB page at pa 0 */
    add_map(vm, K + (1ULL << 30), 0, 1ULL << 30);
    set_e(a, l1, 2, e_table(a, pfn_pa(ph->missing[1]))); /* PD not in dump */
    add_nomap(vm, K + (2ULL << 30) + 0x1000, true);
    add_nomap(vm, K + (3ULL << 30), false); /* [3] = 0 */
    uint64_t gbs = (ph->npfn * GEN_PAGE + (1ULL << 30) - 1) >> 30;
    for (uint64_t g = 1; g < gbs && 3 + g < 512; g++) {
        set_e(a, l1, (unsigned)(3 + g), e_large(a, g << 30));
        add_map(vm, K + ((3 + g) << 30), g << 30, 1ULL << 30);
    }

    /* L2 / PD of K */
    set_e(a, l2, 0, e_table(a, pt0p));
    set_e(a, l2, 1, e_table(a, pt1p));
    set_e(a, l2, 2, e_large(a, 0)); /* 2 MB page at pa 0 */
    add_map(vm, K + 0x400000, 0, 0x200000);
    set_e(a, l2, 3, e_table(a, pfn_pa(ph->missing[0]))); /* PT not in dump */
    add_nomap(vm, K + 0x600000 + 0x5008, true);
    vm->fault_va = K + 0x800000 + 0x28; /* [4] = 0 */
    add_nomap(vm, vm->fault_va, false);
    if (ph->npfn > 512) {
        set_e(a, l2, 5, e_large(a, 0x200000));
        add_map(vm, K + 0xa00000, 0x200000, 0x200000);
    }

    fill_pt0(vm, ph, a, pt0, K, 512);
    fill_pt1(vm, ph, a, pt1, K + 0x200000, 512, ph->table_pfn[3]);
    vm->code_va = K + 0x1000;
    vm->stack_va = K + 0x13000;
}

/* ---------------------------------------------------------------- PAE */
static void build_pae(gen_vm *vm, gen_phys *ph)
{
    const gen_arch a = GA_X86PAE;
    const uint64_t K = 0x80000000ULL;
    uint8_t *pdpt_page = ph->table_page[0];
    uint8_t *pd[4];
    uint64_t pdp[4];
    for (int i = 0; i < 4; i++) {
        pd[i] = ph->table_page[1 + i];
        pdp[i] = pfn_pa(ph->table_pfn[1 + i]);
    }
    uint8_t *pt0 = ph->table_page[5], *pt1 = ph->table_page[6];
    uint64_t pt0p = pfn_pa(ph->table_pfn[5]), pt1p = pfn_pa(ph->table_pfn[6]);
    ph->tables_used = 7;
    /* CR3 holds the 32-byte aligned PDPT; put it off the page start on purpose. */
    vm->dtb = pfn_pa(ph->table_pfn[0]) + 0x20;
    vm->paging = "pae";
    vm->kbase = K;
    for (int i = 0; i < 4; i++) {
        put64(pdpt_page + 0x20 + 8 * i, pdp[i] | 1);
        set_e(a, pd[3], (unsigned)i, e_table(a, pdp[i])); /* self-map: PTEs at 0xC0000000 */
    }
    vm->pte_base = 0xc0000000ULL;
    vm->pde_base = 0xc0600000ULL;
    vm->selfmap_index = UINT64_MAX; /* four PD3 entries, not one index */
    add_map(vm, 0xc0600000ULL, pdp[0], GEN_PAGE);
    add_map(vm, 0xc0603000ULL, pdp[3], GEN_PAGE);
    add_map(vm, 0xc0000000ULL + (K >> 12) * 8, pt0p, GEN_PAGE);

    set_e(a, pd[2], 0, e_table(a, pt0p));
    set_e(a, pd[2], 1, e_table(a, pt1p));
    set_e(a, pd[2], 2, e_large(a, 0));
    add_map(vm, K + 0x400000, 0, 0x200000);
    set_e(a, pd[2], 3, e_table(a, pfn_pa(ph->missing[0])));
    add_nomap(vm, K + 0x600000 + 0x3010, true);
    vm->fault_va = K + 0x800000 + 0x28;
    add_nomap(vm, vm->fault_va, false);
    add_nomap(vm, 0x00010000ULL, false);

    /* Cover all of physical memory with 2 MB pages: PD2[5..], then PD1, then PD0[1..]. */
    uint64_t chunks = (ph->npfn + 511) / 512;
    int stage = 0;
    unsigned idx = 5;
    for (uint64_t c = 0; c < chunks; c++) {
        int pdi = stage == 0 ? 2 : stage == 1 ? 1 : 0;
        if (stage > 2)
            gen_die("physical memory too large for the PAE layout");
        set_e(a, pd[pdi], idx, e_large(a, c << 21));
        add_map(vm, ((uint64_t)pdi << 30) + ((uint64_t)idx << 21), c << 21, 0x200000);
        if (++idx == 512) {
            stage++;
            idx = stage == 2 ? 1 : 0;
        }
    }

    fill_pt0(vm, ph, a, pt0, K, 512);
    fill_pt1(vm, ph, a, pt1, K + 0x200000, 512, ph->table_pfn[5]);
    vm->code_va = K + 0x1000;
    vm->stack_va = K + 0x13000;
}

/* ---------------------------------------------------------------- x86 2-level */
static void build_x86(gen_vm *vm, gen_phys *ph)
{
    const gen_arch a = GA_X86;
    const uint64_t K = 0x80000000ULL; /* PD index 0x200 */
    uint8_t *pd = ph->table_page[0], *pt0 = ph->table_page[1], *pt1 = ph->table_page[2];
    uint64_t pdp = pfn_pa(ph->table_pfn[0]), pt0p = pfn_pa(ph->table_pfn[1]);
    uint64_t pt1p = pfn_pa(ph->table_pfn[2]);
    ph->tables_used = 3;
    vm->dtb = pdp;
    vm->paging = "x86";
    vm->kbase = K;
    set_e(a, pd, 0x300, e_table(a, pdp)); /* self-map: PTEs at 0xC0000000, PDEs at 0xC0300000 */
    vm->selfmap_index = 0x300;
    vm->pte_base = 0xc0000000ULL;
    vm->pde_base = 0xc0300000ULL;
    add_map(vm, 0xc0300000ULL, pdp, GEN_PAGE);
    add_map(vm, 0xc0000000ULL + (K >> 12) * 4, pt0p, GEN_PAGE);

    set_e(a, pd, 0x200, e_table(a, pt0p));
    set_e(a, pd, 0x201, e_table(a, pt1p));
    set_e(a, pd, 0x202, e_large(a, 0)); /* 4 MB page at pa 0 */
    add_map(vm, K + 0x800000, 0, 0x400000);
    set_e(a, pd, 0x203, e_table(a, pfn_pa(ph->missing[0])));
    add_nomap(vm, K + 0xc00000 + 0x2004, true);
    vm->fault_va = K + 0x1000000 + 0x28; /* [0x204] = 0 */
    add_nomap(vm, vm->fault_va, false);
    add_nomap(vm, 0x00010000ULL, false);

    uint64_t chunks = (ph->npfn + 1023) / 1024;
    unsigned idx = 0x205;
    int stage = 0;
    for (uint64_t c = 0; c < chunks; c++) {
        if (stage > 2)
            gen_die("physical memory too large for the x86 layout");
        set_e(a, pd, idx, e_large(a, c << 22));
        add_map(vm, (uint64_t)idx << 22, c << 22, 0x400000);
        idx++;
        if (stage == 0 && idx == 0x300) {
            stage = 1;
            idx = 0x100;
        } else if (stage == 1 && idx == 0x200) {
            stage = 2;
            idx = 1;
        } else if (stage == 2 && idx == 0x100) {
            stage = 3;
        }
    }

    fill_pt0(vm, ph, a, pt0, K, 1024);
    fill_pt1(vm, ph, a, pt1, K + 0x400000, 1024, ph->table_pfn[1]);
    vm->code_va = K + 0x1000;
    vm->stack_va = K + 0x13000;
}

void paging_build(gen_vm *vm, gen_phys *ph, gen_arch a, uint64_t seed)
{
    memset(vm, 0, sizeof *vm);
    vm->arch = a;
    if (ph->ntables < paging_tables_needed(a))
        gen_die("internal: not enough table pages");
    switch (a) {
    case GA_X64:
    case GA_ARM64: build_4level(vm, ph, a, seed); break;
    case GA_X86PAE: build_pae(vm, ph); break;
    case GA_X86: build_x86(vm, ph); break;
    }
}

static const char *size_name(uint64_t s)
{
    switch (s) {
    case 0x1000: return "4k";
    case 0x200000: return "2m";
    case 0x400000: return "4m";
    case 0x40000000: return "1g";
    }
    return "?";
}

void paging_manifest(const gen_vm *vm, gen_mf *m)
{
    for (size_t i = 0; i < vm->nmaps; i++)
        mf_line(m, "map 0x%llx 0x%llx %s", (unsigned long long)vm->maps[i].va,
                (unsigned long long)vm->maps[i].pa, size_name(vm->maps[i].size));
    for (int i = 0; i < vm->nnomaps; i++)
        mf_line(m, "nomap 0x%llx %s", (unsigned long long)vm->nomaps[i].va,
                vm->nomaps[i].notindump ? "notindump" : "invalid");
    for (int i = 0; i < vm->nptes; i++)
        mf_line(m, "pte 0x%llx 0x%llx %s", (unsigned long long)vm->ptes[i].va,
                (unsigned long long)vm->ptes[i].raw, vm->ptes[i].kind);
}

void vm_free(gen_vm *vm)
{
    free(vm->maps);
    vm->maps = NULL;
}
