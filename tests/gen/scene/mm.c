/* mm.c: scene "mm", the memory manager's state (seeds 001, 002, 003).
 *
 * - Control areas for a mapped data file, an image and a pagefile-backed section, each one
 *   allocation holding the _CONTROL_AREA and its subsections (as Windows allocates them: the
 *   data file's are _MSUBSECTIONs where the table has them, one on the unused-subsection list,
 *   see msub_lists; the image's and the pagefile-backed section's plain _SUBSECTIONs), a
 *   _SEGMENT with its prototype PTEs (inline ThePtes where the build has them), and for the
 *   files a _FILE_OBJECT with FileName and SectionObjectPointer.
 * - The PFN database (nt!MmPfnDatabase; Windows 7 at fffffa80`00000000): one _MMPFN per frame
 *   the dump can hold; every frame allocated when the scene is built is described (Active, with
 *   the self-map address of its PTE); chosen frames lie on the Zeroed, Free, Standby,
 *   Modified, ModifiedNoWrite, Bad and Transition lists; the section pages are prototype-PTE
 *   pages whose OriginalPte is a subsection PTE (file-backed) or a demand-zero PTE (pagefile-
 *   backed), so the control areas are reachable through the PFN database.
 * - Memory counters: Mm* globals and MiChargeCommitmentFailures[4] (XP, Windows 7), or
 *   MiSystemPartition (_MI_PARTITION.Vp / PageLists) on 1809 and later.
 * - Invalid PTEs: a kernel page in transition (Standby), one whose PTE points at a prototype
 *   PTE of the data file, one paged out to the page file, and a waiting thread whose kernel
 *   stack is outswapped (KernelStackResident 0, its stack PTEs in transition with protection
 *   0x1f, the frames on the Modified list).
 *
 * - Processes: private pages of System (kernel pages), csrss and winlogon.exe (added here),
 *   whose PFN entries' PteFrame chains lead to their process's top-level table (written at
 *   exit, see "process pages at exit"); two sessions (_MM_SESSION_SPACE with CommittedPages)
 *   named by csrss and winlogon.exe. Scene mm-commit: committed pages near the commit limit.
 *
 * Page tables are built when the dump is written (world.c), so the invalid PTEs are written
 * into the finished dump file: an exit handler walks the dump's own page tables (from its
 * header's DirectoryTableBase and run list or bitmap) to each PTE and rewrites it. It runs only
 * when the manifest was completed (the scene succeeded).
 *
 * Hostile (--hostile cycle|all): the data file's subsection chain loops back to its first
 * subsection, and a prototype-PTE frame's OriginalPte names a subsection at an address the dump
 * does not hold (mmhostile lines). */
#include "scene.h"

#include "gen_layout.h"

#include <stdlib.h>
#include <string.h>
#include <unistd.h>

/* ------------------------------------------------------------------ PTE patches at exit */
#define MM_MAX_PATCH 64

static struct {
    uint64_t va, raw;
} g_patch[MM_MAX_PATCH];
static size_t g_npatch;
static char g_out[4096];

static void patch_add(uint64_t va, uint64_t raw)
{
    if (g_npatch == MM_MAX_PATCH)
        sc_die("mm: too many PTE patches");
    g_patch[g_npatch].va = va;
    g_patch[g_npatch].raw = raw;
    g_npatch++;
}

typedef struct dmp {
    FILE *f;
    bool x64, bitmap;
    uint64_t dtb, hdr;
    uint64_t nruns;
    uint64_t rbase[86], rcount[86];
    uint8_t *bits;
    uint64_t nbits, first;
    uint64_t *rank; /* bitmap: set bits before each 64-bit word */
} dmp;

static bool off_of(const dmp *d, uint64_t pfn, uint64_t *off)
{
    if (d->bitmap) {
        if (pfn >= d->nbits || !(d->bits[pfn / 8] & (1u << (pfn % 8))))
            return false;
        uint64_t r = d->rank[pfn / 64];
        for (uint64_t p = pfn & ~63ULL; p < pfn; p++)
            r += (d->bits[p / 8] >> (p % 8)) & 1;
        *off = d->first + r * SC_PAGE;
        return true;
    }
    uint64_t idx = 0;
    for (uint64_t i = 0; i < d->nruns; i++) {
        if (pfn >= d->rbase[i] && pfn - d->rbase[i] < d->rcount[i]) {
            *off = d->hdr + (idx + pfn - d->rbase[i]) * SC_PAGE;
            return true;
        }
        idx += d->rcount[i];
    }
    return false;
}

static bool rd64(const dmp *d, uint64_t pa, uint64_t *v)
{
    uint64_t off;
    uint8_t b[8];
    if (!off_of(d, pa >> 12, &off) || fseek(d->f, (long)(off + (pa & 0xfff)), SEEK_SET) ||
        fread(b, 1, 8, d->f) != 8)
        return false;
    *v = 0;
    for (int i = 7; i >= 0; i--)
        *v = (*v << 8) | b[i];
    return true;
}

static bool wr64(const dmp *d, uint64_t pa, uint64_t v)
{
    uint64_t off;
    uint8_t b[8];
    for (int i = 0; i < 8; i++)
        b[i] = (uint8_t)(v >> (8 * i));
    return off_of(d, pa >> 12, &off) && !fseek(d->f, (long)(off + (pa & 0xfff)), SEEK_SET) &&
           fwrite(b, 1, 8, d->f) == 8;
}

/* The physical address of va's last-level PTE, walking the dump's tables. */
static bool pte_pa(const dmp *d, uint64_t va, uint64_t *pa)
{
    const uint64_t am = 0x000ffffffffff000ULL;
    uint64_t e, t;
    if (d->x64) {
        t = d->dtb & am;
        for (int shift = 39; shift > 12; shift -= 9) {
            if (!rd64(d, t + 8 * ((va >> shift) & 511), &e) || !(e & 1) || (e & 0x80))
                return false;
            t = e & am;
        }
        *pa = t + 8 * ((va >> 12) & 511);
        return true;
    }
    if (!rd64(d, (d->dtb & ~0x1fULL) + 8 * ((va >> 30) & 3), &e) || !(e & 1))
        return false;
    if (!rd64(d, (e & am) + 8 * ((va >> 21) & 511), &e) || !(e & 1) || (e & 0x80))
        return false;
    *pa = (e & am) + 8 * ((va >> 12) & 511);
    return true;
}

static void patch_fail(const char *why, uint64_t va)
{
    fprintf(stderr, "ntkd-genscene: scene mm: patching the PTE of 0x%llx in %s: %s\n",
            (unsigned long long)va, g_out, why);
    char mfp[4200];
    snprintf(mfp, sizeof mfp, "%s.manifest", g_out);
    remove(g_out);
    remove(mfp);
    _exit(1);
}

/* ------------------------------------------------------------------ process pages at exit
 * Private pages of processes (and of System, in the kernel half) get PFN entries whose
 * u4.PteFrame chain leads to their process's top-level table. The page tables are built when
 * the dump is written, so the chain is written then: the exit handler walks the dump's tables
 * from each process's DirectoryTableBase to the page, and writes the PteFrame of the page and
 * the whole entry of every table on the way (Active, share 1, PteAddress where the self-map
 * shows that table, PteFrame the next level up; x64's top-level table names itself, a PAE page
 * directory names the page holding its PDPT). Manifest: procpages lines, appended then. */
#define MM_MAX_CHAIN 32
#define MM_MAX_OWNER 8

typedef struct pfnfield {
    uint64_t off, size;
    unsigned bp, bl;
} pfnfield;

static struct {
    uint64_t dtb, va, pfn;
    uint64_t lvl[5]; /* PteAddress of the page, of its PT, PD, PDPT, PML4 (PAE: page, PT, PD) */
    int owner;
} g_chain[MM_MAX_CHAIN];
static size_t g_nchain;
static struct {
    uint64_t eprocess;
    char name[16];
} g_owner[MM_MAX_OWNER];
static int g_nowner;
static struct {
    uint64_t pfndb, esz;
    int64_t active;
    pfnfield pte, share, ref, loc, frame;
} g_pfn;

static void pfnfield_get(const lay *L, const char *name, pfnfield *f)
{
    if (!lay_field(L, "_MMPFN", name, &f->off, &f->size, &f->bp, &f->bl) || f->size > 8)
        sc_die("mm: the table has no usable _MMPFN.%s", name);
}

static void put_bits(uint8_t *b, size_t n, const pfnfield *f, uint64_t v)
{
    unsigned pos = (unsigned)f->off * 8 + (f->bl ? f->bp : 0), len = f->bl ? f->bl : (unsigned)f->size * 8;
    for (unsigned i = 0; i < len; i++) {
        unsigned bit = pos + i;
        if (bit / 8 >= n)
            return;
        if ((v >> i) & 1)
            b[bit / 8] |= (uint8_t)(1u << (bit % 8));
        else
            b[bit / 8] &= (uint8_t)~(1u << (bit % 8));
    }
}

/* The physical address of kernel va through the dump's tables. */
static bool kva_pa(const dmp *d, uint64_t va, uint64_t *pa)
{
    uint64_t ptepa, e;
    if (!pte_pa(d, va, &ptepa) || !rd64(d, ptepa, &e) || !(e & 1))
        return false;
    *pa = (e & 0x000ffffffffff000ULL) + (va & 0xfff);
    return true;
}

static bool phys_io(const dmp *d, uint64_t pa, uint8_t *b, size_t n, bool wr)
{
    uint64_t off;
    if (!off_of(d, pa >> 12, &off) || fseek(d->f, (long)(off + (pa & 0xfff)), SEEK_SET))
        return false;
    return wr ? fwrite(b, 1, n, d->f) == n : fread(b, 1, n, d->f) == n;
}

/* Reads or writes the PFN entry of frame pfn (it may straddle two pages of the database). */
static bool entry_io(const dmp *d, uint64_t pfn, uint8_t *b, bool wr)
{
    uint64_t va = g_pfn.pfndb + pfn * g_pfn.esz;
    size_t done = 0;
    while (done < g_pfn.esz) {
        uint64_t pa, v = va + done;
        size_t n = (size_t)(SC_PAGE - (v & 0xfff));
        if (n > g_pfn.esz - done)
            n = (size_t)(g_pfn.esz - done);
        if (!kva_pa(d, v, &pa) || !phys_io(d, pa, b + done, n, wr))
            return false;
        done += n;
    }
    return true;
}

static void set_entry(const dmp *d, uint64_t pfn, bool whole, uint64_t pte_addr, uint64_t frame)
{
    uint8_t b[256];
    if (g_pfn.esz > sizeof b || !entry_io(d, pfn, b, false))
        patch_fail("cannot read a PFN entry", pfn);
    if (whole) {
        memset(b, 0, (size_t)g_pfn.esz);
        put_bits(b, (size_t)g_pfn.esz, &g_pfn.pte, pte_addr);
        put_bits(b, (size_t)g_pfn.esz, &g_pfn.share, 1);
        put_bits(b, (size_t)g_pfn.esz, &g_pfn.ref, 1);
        put_bits(b, (size_t)g_pfn.esz, &g_pfn.loc, (uint64_t)g_pfn.active);
    }
    put_bits(b, (size_t)g_pfn.esz, &g_pfn.frame, frame);
    if (!entry_io(d, pfn, b, true) || fflush(d->f))
        patch_fail("cannot write a PFN entry", pfn);
}

static void chains_at_exit(const dmp *d, const char *mfp)
{
    if (!g_nchain)
        return;
    const uint64_t am = 0x000ffffffffff000ULL;
    uint64_t tables[MM_MAX_OWNER][64];
    unsigned ntab[MM_MAX_OWNER] = {0}, npriv[MM_MAX_OWNER] = {0};
    for (size_t i = 0; i < g_nchain; i++) {
        uint64_t va = g_chain[i].va, fr[5], e;
        unsigned nl = 0; /* fr[0] top ... fr[nl-1] the page table; then the page */
        if (d->x64) {
            uint64_t t = g_chain[i].dtb & am;
            fr[nl++] = t >> 12;
            for (int shift = 39; shift > 12; shift -= 9) {
                if (!rd64(d, t + 8 * ((va >> shift) & 511), &e) || !(e & 1))
                    patch_fail("no table maps a process page", va);
                t = e & am;
                fr[nl++] = t >> 12;
            }
            if (!rd64(d, t + 8 * ((va >> 12) & 511), &e) || !(e & 1))
                patch_fail("a process page is not mapped", va);
        } else {
            if (!rd64(d, (g_chain[i].dtb & ~0x1fULL) + 8 * ((va >> 30) & 3), &e) || !(e & 1))
                patch_fail("no page directory maps a process page", va);
            fr[nl++] = (e & am) >> 12;
            if (!rd64(d, (e & am) + 8 * ((va >> 21) & 511), &e) || !(e & 1))
                patch_fail("no page table maps a process page", va);
            fr[nl++] = (e & am) >> 12;
            if (!rd64(d, (e & am) + 8 * ((va >> 12) & 511), &e) || !(e & 1))
                patch_fail("a process page is not mapped", va);
        }
        if (((e & am) >> 12) != g_chain[i].pfn)
            patch_fail("a process page maps another frame", va);
        int o = g_chain[i].owner;
        set_entry(d, g_chain[i].pfn, false, 0, fr[nl - 1]);
        npriv[o]++;
        for (unsigned l = 0; l < nl; l++) {
            /* the table at level l (0: top): PteAddress lvl[nl - l], PteFrame the level above */
            uint64_t up = l ? fr[l - 1] : d->x64 ? fr[0] : (g_chain[i].dtb >> 12);
            set_entry(d, fr[l], true, g_chain[i].lvl[nl - l], up);
            bool seen = false;
            for (unsigned k = 0; k < ntab[o] && !seen; k++)
                seen = tables[o][k] == fr[l];
            if (!seen && ntab[o] < 64)
                tables[o][ntab[o]++] = fr[l];
        }
    }
    FILE *m = fopen(mfp, "a");
    if (!m)
        patch_fail("cannot append to the manifest", 0);
    for (int o = 0; o < g_nowner; o++)
        fprintf(m, "procpages 0x%llx %s 0x%x 0x%x\n", (unsigned long long)g_owner[o].eprocess, g_owner[o].name,
                npriv[o], ntab[o]);
    if (fclose(m))
        patch_fail("cannot append to the manifest", 0);
}

static void patch_at_exit(void)
{
    if ((!g_npatch && !g_nchain) || !g_out[0])
        return;
    char mfp[4200];
    snprintf(mfp, sizeof mfp, "%s.manifest", g_out);
    if (access(mfp, F_OK) != 0)
        return; /* the scene failed: nothing to patch */
    dmp d;
    memset(&d, 0, sizeof d);
    d.f = fopen(g_out, "r+b");
    if (!d.f)
        patch_fail("cannot open the dump", 0);
    static uint8_t h[0x2000];
    if (fread(h, 1, sizeof h, d.f) < 0x1000)
        patch_fail("short header", 0);
    d.x64 = !memcmp(h + 4, "DU64", 4);
    if (d.x64) {
        gd_header64 H;
        memcpy(&H, h, sizeof H);
        d.hdr = sizeof(gd_header64);
        d.dtb = H.directory_table_base;
        d.bitmap = H.dump_type == 5;
        gd_physdesc64 pd;
        memcpy(&pd, H.physical_memory_block, sizeof pd);
        d.nruns = pd.number_of_runs < 86 ? pd.number_of_runs : 0;
        for (uint64_t i = 0; i < d.nruns; i++) {
            gd_run64 r;
            memcpy(&r, H.physical_memory_block + sizeof pd + i * sizeof r, sizeof r);
            d.rbase[i] = r.base_page;
            d.rcount[i] = r.page_count;
        }
    } else {
        gd_header32 H;
        memcpy(&H, h, sizeof H);
        d.hdr = sizeof(gd_header32);
        d.dtb = H.directory_table_base;
        d.bitmap = H.dump_type == 5;
        gd_physdesc32 pd;
        memcpy(&pd, H.physical_memory_block, sizeof pd);
        d.nruns = pd.number_of_runs < 86 ? pd.number_of_runs : 0;
        for (uint64_t i = 0; i < d.nruns; i++) {
            gd_run32 r;
            memcpy(&r, H.physical_memory_block + sizeof pd + i * sizeof r, sizeof r);
            d.rbase[i] = r.base_page;
            d.rcount[i] = r.page_count;
        }
    }
    if (d.bitmap) {
        gd_bmp_header b;
        if (fseek(d.f, (long)d.hdr, SEEK_SET) || fread(&b, 1, sizeof b, d.f) != sizeof b)
            patch_fail("no bitmap header", 0);
        d.nbits = b.pages;
        d.first = b.first_page;
        if (d.nbits > (1ULL << 32))
            patch_fail("bitmap too large", 0);
        size_t nb = (size_t)((d.nbits + 63) / 64) * 8;
        d.bits = sc_alloc0(nb);
        d.rank = sc_alloc0((nb / 8 + 1) * sizeof *d.rank);
        if (fread(d.bits, 1, nb, d.f) != nb)
            patch_fail("short bitmap", 0);
        uint64_t r = 0;
        for (size_t wi = 0; wi < nb / 8; wi++) {
            d.rank[wi] = r;
            for (int bi = 0; bi < 8; bi++)
                r += (uint64_t)__builtin_popcount(d.bits[wi * 8 + (size_t)bi]);
        }
    }
    chains_at_exit(&d, mfp);
    for (size_t i = 0; i < g_npatch; i++) {
        uint64_t pa, back = 0;
        if (!pte_pa(&d, g_patch[i].va, &pa))
            patch_fail("no page table maps it", g_patch[i].va);
        if (!wr64(&d, pa, g_patch[i].raw) || fflush(d.f) || !rd64(&d, pa, &back) ||
            back != g_patch[i].raw)
            patch_fail("write failed", g_patch[i].va);
    }
    free(d.bits);
    free(d.rank);
    if (fclose(d.f))
        patch_fail("close failed", 0);
}

/* ------------------------------------------------------------------ the scene */
typedef struct mm {
    kern *k;
    world *w;
    const lay *L;
    bool x64;
    unsigned P;
    uint64_t ptesz;
    uint64_t pfndb, esz, bound;
    int lists[8]; /* _MMLISTS values: Zeroed Free Standby Modified ModifiedNoWrite Bad Active Transition */
    unsigned counts[8];
    unsigned nactive_lines;
} mm;

enum { L_ZERO, L_FREE, L_STANDBY, L_MOD, L_MODNW, L_BAD, L_ACTIVE, L_TRANS };
static const char *const list_names[8] = {"Zeroed", "Free", "Standby", "Modified",
                                          "ModifiedNoWrite", "Bad", "Active", "Transition"};
static const char *const list_enum[8] = {"ZeroedPageList", "FreePageList", "StandbyPageList",
                                         "ModifiedPageList", "ModifiedNoWritePageList",
                                         "BadPageList", "ActiveAndValid", "TransitionPage"};

/* v placed in the bits of Type.Field (a bitfield of a _MMPTE_* type, or a whole field). */
static uint64_t pf(const lay *L, const char *type, const char *field, uint64_t v)
{
    uint64_t off, size;
    unsigned bp, bl;
    if (!lay_field(L, type, field, &off, &size, &bp, &bl))
        sc_die("the table has no field %s.%s", type, field);
    unsigned pos = (unsigned)off * 8 + (bl ? bp : 0), len = bl ? bl : (unsigned)size * 8;
    uint64_t m = len >= 64 ? ~0ULL : ((1ULL << len) - 1);
    return (v & m) << pos;
}

static uint64_t pte_valid(uint64_t pfn) { return (pfn << 12) | 0x121; }

static uint64_t pte_transition(const mm *m, uint64_t pfn, unsigned prot)
{
    return pf(m->L, "_MMPTE_TRANSITION", "Transition", 1) |
           pf(m->L, "_MMPTE_TRANSITION", "Protection", prot) |
           pf(m->L, "_MMPTE_TRANSITION", "PageFrameNumber", pfn);
}

static uint64_t pte_pagefile(const mm *m, unsigned num, uint64_t off, unsigned prot)
{
    return pf(m->L, "_MMPTE_SOFTWARE", "PageFileLow", num) |
           pf(m->L, "_MMPTE_SOFTWARE", "PageFileHigh", off) |
           pf(m->L, "_MMPTE_SOFTWARE", "Protection", prot);
}

static uint64_t pte_proto(const mm *m, uint64_t addr)
{
    return pf(m->L, "_MMPTE_PROTOTYPE", "Prototype", 1) |
           pf(m->L, "_MMPTE_PROTOTYPE", "ProtoAddress", addr);
}

static uint64_t pte_subsection(const mm *m, uint64_t sub, unsigned prot)
{
    return pf(m->L, "_MMPTE_SUBSECTION", "Prototype", 1) |
           pf(m->L, "_MMPTE_SUBSECTION", "SubsectionAddress", sub) |
           pf(m->L, "_MMPTE_SUBSECTION", "Protection", prot);
}

static void put_pte(mm *m, uint64_t at, uint64_t v) { w_put(m->w, at, (unsigned)m->ptesz, v); }

/* A _FILE_OBJECT named `name` whose section pointers name the control area. */
static uint64_t file_object(mm *m, const char *name, uint64_t ca, bool image)
{
    const lay *L = m->L;
    uint64_t fo = ob_create(m->k, "File", NULL, 0, lay_size(L, "_FILE_OBJECT"));
    w_try(m->w, fo, "_FILE_OBJECT", "Type", 5);
    w_try(m->w, fo, "_FILE_OBJECT", "Size", lay_size(L, "_FILE_OBJECT"));
    w_ustr(m->w, fo + lay_off_req(L, "_FILE_OBJECT", "FileName"), name);
    if (lay_has_type(L, "_SECTION_OBJECT_POINTERS")) {
        uint64_t sop = w_alloc(m->w, lay_size(L, "_SECTION_OBJECT_POINTERS"), m->P);
        w_set(m->w, sop, "_SECTION_OBJECT_POINTERS", image ? "ImageSectionObject" : "DataSectionObject", ca);
        w_try(m->w, fo, "_FILE_OBJECT", "SectionObjectPointer", sop);
    }
    return fo;
}

/* An allocation tagged `tag`: on the builds with the classic pool (before 18362), alone in a
 * pool page (its _POOL_HEADER, then a free block to the end of the page), as !ca 0's pool-tag
 * search finds control areas (seed 001); on segment-heap builds (19H1+) a block of the
 * NonPagedPoolNx segment heap (segheap.c's sh_alloc: a VS chunk, its _POOL_HEADER, the data). */
static uint64_t pool_alloc(mm *m, uint64_t size, const char *tag)
{
    world *w = m->w;
    const lay *L = m->L;
    if (m->k->build >= 18362 && m->x64 && lay_has_type(L, "_SEGMENT_HEAP") &&
        lay_has_type(L, "_POOL_HEADER") && k_sym_opt(m->k, "ExPoolState") != SC_NONE) {
        uint64_t ph = sh_alloc(m->k, 1, (uint32_t)size, tag);
        mf("catag 0x%llx %s 0x%llx", (unsigned long long)(ph + lay_size(L, "_POOL_HEADER")), tag,
           (unsigned long long)(ph & ~(uint64_t)(SC_PAGE - 1)));
        return ph + lay_size(L, "_POOL_HEADER");
    }
    if (m->k->build >= 18362 || !lay_has_type(L, "_POOL_HEADER"))
        return w_alloc(w, size, 16);
    uint64_t hs = lay_size(L, "_POOL_HEADER");
    unsigned unit = m->x64 ? 16u : 8u;
    uint64_t first = (hs + size + unit - 1) / unit * unit;
    if (first + unit > SC_PAGE)
        sc_die("mm: a control area of 0x%llx bytes does not fit a pool page", (unsigned long long)size);
    uint64_t page = w_alloc(w, SC_PAGE, SC_PAGE);
    uint64_t tv = sc_tag(tag);
    w_set(w, page, "_POOL_HEADER", "PreviousSize", 0);
    w_set(w, page, "_POOL_HEADER", "PoolIndex", 0);
    w_set(w, page, "_POOL_HEADER", "BlockSize", first / unit);
    w_set(w, page, "_POOL_HEADER", "PoolType", 1); /* NonPagedPool + 1 */
    w_set(w, page, "_POOL_HEADER", "PoolTag", tv);
    uint64_t h2 = page + first;
    w_set(w, h2, "_POOL_HEADER", "PreviousSize", first / unit);
    w_set(w, h2, "_POOL_HEADER", "PoolIndex", 0);
    w_set(w, h2, "_POOL_HEADER", "BlockSize", (SC_PAGE - first) / unit);
    w_set(w, h2, "_POOL_HEADER", "PoolType", 0); /* free */
    w_set(w, h2, "_POOL_HEADER", "PoolTag", 0x65657246); /* "Free" */
    mf("catag 0x%llx %s 0x%llx", (unsigned long long)(page + hs), tag, (unsigned long long)page);
    return page + hs;
}

typedef struct sect {
    uint64_t ca, seg, protos, sub[2], fo;
    unsigned nptes, nsub, sub_ptes[2];
    bool msub; /* the subsections are _MSUBSECTIONs (a mapped data file on a build that has them) */
} sect;

/* The size of one subsection of a control area of `kind` (0 data file, 1 image, 2 pagefile):
 * Windows allocates a mapped data file's subsections as _MSUBSECTIONs (a _SUBSECTION, then the
 * mapped-file fields: DereferenceList, NumberOfMappedViews, NumberOfPfnReferences...), images'
 * and pagefile-backed sections' as plain _SUBSECTIONs. Tables without _MSUBSECTION (XP): plain
 * _SUBSECTIONs for all. The _SUBSECTION part lies at the start of the _MSUBSECTION (Windows 7:
 * the same leading fields; 1809 and later: _MSUBSECTION.Core), checked here. */
static bool uses_msub(const lay *L, int kind)
{
    if (kind != 0 || !lay_has_type(L, "_MSUBSECTION") || lay_off(L, "_MSUBSECTION", "DereferenceList") < 0)
        return false;
    int64_t core = lay_off(L, "_MSUBSECTION", "Core");
    int64_t ca = core >= 0 ? core + lay_off(L, "_SUBSECTION", "ControlArea") : lay_off(L, "_MSUBSECTION", "ControlArea");
    int64_t nx = core >= 0 ? core + lay_off(L, "_SUBSECTION", "NextSubsection")
                           : lay_off(L, "_MSUBSECTION", "NextSubsection");
    if (ca != lay_off(L, "_SUBSECTION", "ControlArea") || nx != lay_off(L, "_SUBSECTION", "NextSubsection") ||
        lay_size(L, "_MSUBSECTION") < lay_size(L, "_SUBSECTION"))
        sc_die("mm: _MSUBSECTION does not begin with a _SUBSECTION in this table");
    return true;
}

/* A control area with `nsub` subsections (sub_ptes PTEs each) and its segment. kind: 0 data
 * file, 1 image, 2 pagefile-backed. */
static void section(mm *m, sect *s, int kind, const char *name, unsigned nsub, const unsigned *sub_ptes,
                    unsigned views, unsigned pfn_refs)
{
    world *w = m->w;
    const lay *L = m->L;
    memset(s, 0, sizeof *s);
    s->nsub = nsub;
    for (unsigned i = 0; i < nsub; i++) {
        s->sub_ptes[i] = sub_ptes[i];
        s->nptes += sub_ptes[i];
    }
    s->msub = uses_msub(L, kind);
    uint64_t casz = lay_size(L, "_CONTROL_AREA"), subsz = lay_size(L, s->msub ? "_MSUBSECTION" : "_SUBSECTION");
    s->ca = pool_alloc(m, casz + nsub * subsz, kind == 1 ? "MmCi" : "MmCa");
    int64_t the = lay_off(L, "_SEGMENT", "ThePtes");
    if (the >= 0) {
        s->seg = w_alloc(w, (uint64_t)the + s->nptes * m->ptesz, 16);
        s->protos = s->seg + (uint64_t)the;
    } else {
        s->seg = w_alloc(w, lay_size(L, "_SEGMENT"), 16);
        s->protos = w_alloc(w, s->nptes * m->ptesz, 16);
    }
    /* segment */
    w_set(w, s->seg, "_SEGMENT", "ControlArea", s->ca);
    w_set(w, s->seg, "_SEGMENT", "TotalNumberOfPtes", s->nptes);
    w_set(w, s->seg, "_SEGMENT", "SizeOfSegment", (uint64_t)s->nptes * SC_PAGE - (kind == 0 ? 0x2f0 : 0));
    w_set(w, s->seg, "_SEGMENT", "PrototypePte", s->protos);
    if (kind == 2)
        w_set(w, s->seg, "_SEGMENT", "NumberOfCommittedPages", s->nptes);
    /* control area */
    w_set(w, s->ca, "_CONTROL_AREA", "Segment", s->seg);
    if (lay_off(L, "_CONTROL_AREA", "DereferenceList") >= 0)
        w_list_init(w, s->ca + lay_off_req(L, "_CONTROL_AREA", "DereferenceList"));
    else if (lay_off(L, "_CONTROL_AREA", "ListHead") >= 0)
        w_list_init(w, s->ca + lay_off_req(L, "_CONTROL_AREA", "ListHead"));
    w_set(w, s->ca, "_CONTROL_AREA", "NumberOfSectionReferences", 1);
    w_set(w, s->ca, "_CONTROL_AREA", "NumberOfPfnReferences", pfn_refs);
    w_set(w, s->ca, "_CONTROL_AREA", "NumberOfMappedViews", views);
    w_set(w, s->ca, "_CONTROL_AREA", "NumberOfUserReferences", views + (kind == 1));
    if (!w_try(w, s->ca, "_CONTROL_AREA", "NumberOfSubsections", nsub))
        w_try(w, s->ca, "_CONTROL_AREA", "u2.e2.NumberOfSubsections", nsub);
    if (!w_try(w, s->ca, "_CONTROL_AREA", "NumberOfSystemCacheViews", kind == 0))
        w_try(w, s->ca, "_CONTROL_AREA", "u2.e2.NumberOfSystemCacheViews", kind == 0);
    if (kind == 0)
        w_set(w, s->ca, "_CONTROL_AREA", "u.Flags.File", 1);
    if (kind == 1) {
        w_set(w, s->ca, "_CONTROL_AREA", "u.Flags.File", 1);
        w_set(w, s->ca, "_CONTROL_AREA", "u.Flags.Image", 1);
    }
    if (kind == 2)
        w_set(w, s->ca, "_CONTROL_AREA", "u.Flags.Commit", 1);
    w_try(w, s->ca, "_CONTROL_AREA", "u.Flags.Accessed", 1); /* XP: bit 27 */
    if (kind != 2) {
        s->fo = file_object(m, name, s->ca, kind == 1);
        /* _EX_FAST_REF on Windows 7 and later: the low bits hold a reference count */
        w_set(w, s->ca, "_CONTROL_AREA", "FilePointer", s->fo | (m->x64 ? 3 : 0));
    } else {
        w_try(w, s->ca, "_CONTROL_AREA", "u.Flags.FilePointerNull", 1);
    }
    /* subsections, right after the control area, one after another (each subsz bytes) */
    uint64_t first = 0;
    for (unsigned i = 0; i < nsub; i++) {
        uint64_t sub = s->ca + casz + i * subsz;
        s->sub[i] = sub;
        w_set(w, sub, "_SUBSECTION", "ControlArea", s->ca);
        w_set(w, sub, "_SUBSECTION", "SubsectionBase", s->protos + first * m->ptesz);
        w_set(w, sub, "_SUBSECTION", "PtesInSubsection", sub_ptes[i]);
        w_set(w, sub, "_SUBSECTION", "NextSubsection", i + 1 < nsub ? sub + subsz : 0);
        w_set(w, sub, "_SUBSECTION", "StartingSector", kind == 2 ? 0 : (uint32_t)(first * 8));
        w_set(w, sub, "_SUBSECTION", "NumberOfFullSectors", kind == 2 ? 0 : sub_ptes[i] * 8);
        unsigned prot = kind == 1 ? (i == 0 ? 1 : 3) : 4; /* ReadOnly / ExecuteRead / ReadWrite */
        w_set(w, sub, "_SUBSECTION", "u.SubsectionFlags.Protection", prot);
        first += sub_ptes[i];
    }
}

/* A mapped data file's _MSUBSECTIONs: the views and PFN references of each (views[i],
 * pfn_refs[i]), and its DereferenceList. A subsection no view maps whose pages are still in
 * memory is an unused subsection: Windows keeps it on the unused-subsection list, nt's
 * MmUnusedSubsectionList (Windows 7) or MiSystemPartition.Segments.UnusedSubsectionList (1809
 * and later), appended in subsection order (the head made an empty list first when it is not
 * one yet); a mapped subsection is on no list, its DereferenceList linked to itself (as every
 * subsection's when the table has neither head). Manifest: msubsection lines (scene.h). */
static void msub_lists(mm *m, const sect *s, const unsigned *views, const unsigned *pfn_refs)
{
    if (!s->msub)
        return;
    world *w = m->w;
    const lay *L = m->L;
    uint64_t head = SC_NONE, part = k_sym_opt(m->k, "MiSystemPartition");
    int64_t lo = lay_has_type(L, "_MI_PARTITION") ? lay_off(L, "_MI_PARTITION", "Segments.UnusedSubsectionList") : -1;
    if (part != SC_NONE && lo >= 0)
        head = part + (uint64_t)lo;
    else if (k_sym_opt(m->k, "MmUnusedSubsectionList") != SC_NONE)
        head = k_sym(m->k, "MmUnusedSubsectionList");
    if (head != SC_NONE && !w_get(w, head, m->P))
        w_list_init(w, head);
    uint64_t dl = lay_off_req(L, "_MSUBSECTION", "DereferenceList");
    for (unsigned i = 0; i < s->nsub; i++) {
        w_try(w, s->sub[i], "_MSUBSECTION", "NumberOfMappedViews", views[i]);
        w_try(w, s->sub[i], "_MSUBSECTION", "NumberOfPfnReferences", pfn_refs[i]);
        if (views[i] || !pfn_refs[i] || head == SC_NONE)
            w_list_init(w, s->sub[i] + dl);
        else
            w_list_tail(w, head, s->sub[i] + dl);
    }
    for (unsigned i = 0; i < s->nsub; i++)
        mf("msubsection 0x%llx 0x%x 0x%llx 0x%llx 0x%llx", (unsigned long long)s->ca, i + 1,
           (unsigned long long)s->sub[i], (unsigned long long)w_get(w, s->sub[i] + dl, m->P),
           (unsigned long long)w_get(w, s->sub[i] + dl + m->P, m->P));
}

static void pfn_set(mm *m, uint64_t pfn, const char *field, uint64_t v)
{
    w_set(m->w, m->pfndb + pfn * m->esz, "_MMPFN", field, v);
}

/* One PFN database entry; `list` an L_* index; proto: a prototype-PTE page. */
static void pfn_entry(mm *m, uint64_t pfn, int list, uint64_t share, uint64_t ref, uint64_t pte_addr,
                      uint64_t orig, uint64_t pte_frame, bool proto, bool line)
{
    if (pfn >= m->bound)
        sc_die("mm: frame 0x%llx past the PFN database", (unsigned long long)pfn);
    uint64_t e = m->pfndb + pfn * m->esz;
    uint8_t zero[64] = {0};
    w_write(m->w, e, zero, (size_t)m->esz);
    pfn_set(m, pfn, "PteAddress", pte_addr);
    pfn_set(m, pfn, "u2.ShareCount", share);
    pfn_set(m, pfn, "u3.e2.ReferenceCount", ref);
    pfn_set(m, pfn, "u3.e1.PageLocation", (uint64_t)m->lists[list]);
    if (list == L_MOD || list == L_MODNW)
        pfn_set(m, pfn, "u3.e1.Modified", 1);
    if (list == L_TRANS)
        pfn_set(m, pfn, "u3.e1.ReadInProgress", 1);
    w_put(m->w, e + lay_off_req(m->L, "_MMPFN", "OriginalPte"), (unsigned)m->ptesz, orig);
    pfn_set(m, pfn, "u4.PteFrame", pte_frame);
    if (proto && !w_try(m->w, e, "_MMPFN", "u4.PrototypePte", 1))
        pfn_set(m, pfn, "u3.e1.PrototypePte", 1);
    m->counts[list]++;
    if (line)
        mf("pfn 0x%llx %s 0x%llx 0x%llx 0x%llx", (unsigned long long)pfn, list_names[list],
           (unsigned long long)share, (unsigned long long)ref, (unsigned long long)pte_addr);
}

static bool is_kernel_va(const mm *m, uint64_t va)
{
    return m->x64 ? va >= 0xffff800000000000ULL : va >= 0x80000000ULL;
}

static void default_entry(void *u, uint64_t pfn, uint64_t va, bool table)
{
    mm *m = u;
    uint64_t pte = va ? w_pte_va(m->w, va) : 0;
    uint64_t orig = pf(m->L, "_MMPTE_SOFTWARE", "Protection", 4);
    (void)table;
    if (va && !is_kernel_va(m, va))
        orig = pf(m->L, "_MMPTE_SOFTWARE", "Protection", 4);
    pfn_entry(m, pfn, L_ACTIVE, 1, 1, pte, orig, 0, false, va && m->nactive_lines < 4);
    if (va && m->nactive_lines < 4)
        m->nactive_lines++;
}

/* A page of pattern text. */
static void frame_text(world *w, uint64_t pfn, const char *text)
{
    w_frame_write(w, pfn, 0, text, strlen(text));
}

static uint64_t text_frame(world *w, const char *text)
{
    uint64_t pfn = w_frame_new(w);
    frame_text(w, pfn, text);
    return pfn;
}

/* A counter: its value written where the build keeps it, and its manifest line. */
static void counter(mm *m, const char *mname, const char *global, const char *part_field, uint64_t v)
{
    uint64_t part = k_sym_opt(m->k, "MiSystemPartition");
    bool ok = false;
    if (part != SC_NONE && part_field)
        ok = w_try(m->w, part, "_MI_PARTITION", part_field, v);
    else if (part == SC_NONE && global) {
        uint64_t g = k_sym_opt(m->k, global);
        if (g != SC_NONE) {
            w_pointer(m->w, g, v);
            ok = true;
        }
    }
    if (ok && mname)
        mf("vmcounter %s 0x%llx", mname, (unsigned long long)v);
}

static void list_total(mm *m, const char *global, const char *part_field, uint64_t v)
{
    uint64_t part = k_sym_opt(m->k, "MiSystemPartition");
    if (part != SC_NONE) {
        char f[96];
        snprintf(f, sizeof f, "%s.Total", part_field);
        w_try(m->w, part, "_MI_PARTITION", f, v);
    } else {
        uint64_t g = k_sym_opt(m->k, global);
        if (g != SC_NONE)
            w_set(m->w, g, "_MMPFNLIST", "Total", v);
    }
}

/* A counter kept in any of: a global of pages, a global of bytes, a field of a global structure
 * (g_struct's type/field), a field of nt!MiState (_MI_SYSTEM_INFORMATION, 1809 and later). It is
 * written in every one of them the build has, the same value, so that a reader taking any of
 * them finds it; no manifest line when the build has none. */
static void counter_any(mm *m, const char *mname, const char *g_pages, const char *g_bytes, const char *g_struct,
                        const char *stype, const char *sfield, const char *state_field, uint64_t v)
{
    bool ok = false;
    uint64_t g;
    if (g_pages && (g = k_sym_opt(m->k, g_pages)) != SC_NONE) {
        w_pointer(m->w, g, v);
        ok = true;
    }
    if (g_bytes && (g = k_sym_opt(m->k, g_bytes)) != SC_NONE) {
        w_pointer(m->w, g, v * SC_PAGE);
        ok = true;
    }
    if (g_struct && (g = k_sym_opt(m->k, g_struct)) != SC_NONE && lay_off(m->L, stype, sfield) >= 0)
        ok |= w_try(m->w, g, stype, sfield, v);
    if (state_field && (g = k_sym_opt(m->k, "MiState")) != SC_NONE)
        ok |= w_try(m->w, g, "_MI_SYSTEM_INFORMATION", state_field, v);
    if (ok)
        mf("vmcounter %s 0x%llx", mname, (unsigned long long)v);
}

/* The classic pool descriptors (XP, 7, 1809): ExpNumberOfPagedPools paged pools plus the
 * prototype pool 0 (seed 003's second !vm: pools 0..4), and two nonpaged pools (its first !vm:
 * "NonPagedPool 0 Used" / "1 Used"), each an allocated _POOL_DESCRIPTOR whose pointer is in
 * ExpPagedPoolDescriptor[] / ExpNonPagedPoolDescriptor[]. Pages in use: TotalPages (+
 * TotalBigPages) on XP and 7, PagesAllocated - PagesDeallocated on 1809. The paged pools add up
 * to the PagedPoolUsage counter (0x7e88), as in the seed. */
static void pool_desc_one(mm *m, uint64_t arr, unsigned i, unsigned type, uint64_t pages)
{
    const lay *L = m->L;
    uint64_t d = w_alloc(m->w, lay_size(L, "_POOL_DESCRIPTOR"), 64);
    w_try(m->w, d, "_POOL_DESCRIPTOR", "PoolType", type);
    w_try(m->w, d, "_POOL_DESCRIPTOR", "PoolIndex", i);
    if (lay_off(L, "_POOL_DESCRIPTOR", "TotalPages") >= 0) {
        w_set(m->w, d, "_POOL_DESCRIPTOR", "TotalPages", pages - pages / 8);
        w_try(m->w, d, "_POOL_DESCRIPTOR", "TotalBigPages", pages / 8);
    } else {
        w_set(m->w, d, "_POOL_DESCRIPTOR", "PagesAllocated", pages + 0x100 + i);
        w_set(m->w, d, "_POOL_DESCRIPTOR", "PagesDeallocated", 0x100 + i);
        w_try(m->w, d, "_POOL_DESCRIPTOR", "BigPagesAllocated", 0x33);
        w_try(m->w, d, "_POOL_DESCRIPTOR", "BigPagesDeallocated", 0x33);
    }
    w_pointer(m->w, arr + (uint64_t)i * (m->x64 ? 8 : 4), d);
    mf("vmpool %s %u 0x%llx", type ? "paged" : "nonpaged", i, (unsigned long long)pages);
}

static void pool_descriptors(mm *m)
{
    const lay *L = m->L;
    if (!lay_has_type(L, "_POOL_DESCRIPTOR") || lay_off(L, "_POOL_DESCRIPTOR", "PoolType") < 0 ||
        (lay_off(L, "_POOL_DESCRIPTOR", "TotalPages") < 0 && lay_off(L, "_POOL_DESCRIPTOR", "PagesAllocated") < 0))
        return;
    uint64_t npp = k_sym_opt(m->k, "ExpNumberOfPagedPools"), pp = k_sym_opt(m->k, "ExpPagedPoolDescriptor");
    uint64_t nnp = k_sym_opt(m->k, "ExpNumberOfNonPagedPools"), np = k_sym_opt(m->k, "ExpNonPagedPoolDescriptor");
    static const uint64_t paged[5] = {27618, 3848, 299, 283, 344}, nonpaged[2] = {19544, 22308};
    if (npp != SC_NONE && pp != SC_NONE) {
        w_put(m->w, npp, 4, 4);
        for (unsigned i = 0; i < 5; i++)
            pool_desc_one(m, pp, i, 1, paged[i]);
    }
    if (nnp != SC_NONE && np != SC_NONE) {
        w_put(m->w, nnp, 4, 2);
        for (unsigned i = 0; i < 2; i++)
            pool_desc_one(m, np, i, 0, nonpaged[i]);
    }
}

/* One paging file (\??\C:\pagefile.sys), in MmPagingFile[] or MiSystemPartition.Vp.PagingFile[]. */
static void paging_file(mm *m)
{
    world *w = m->w;
    const lay *L = m->L;
    if (!lay_has_type(L, "_MMPAGING_FILE"))
        return;
    const uint64_t size = 0x40000, freep = 0x3f5e7, minp = 0x40000, maxp = 0x100000;
    uint64_t pf = w_alloc(w, lay_size(L, "_MMPAGING_FILE"), 16);
    w_set(w, pf, "_MMPAGING_FILE", "Size", size);
    w_set(w, pf, "_MMPAGING_FILE", "FreeSpace", freep);
    w_set(w, pf, "_MMPAGING_FILE", "MinimumSize", minp);
    w_set(w, pf, "_MMPAGING_FILE", "MaximumSize", maxp);
    w_ustr(w, pf + lay_off_req(L, "_MMPAGING_FILE", "PageFileName"), "\\??\\C:\\pagefile.sys");
    uint64_t part = k_sym_opt(m->k, "MiSystemPartition");
    if (part != SC_NONE) {
        int64_t arr = lay_off(L, "_MI_PARTITION", "Vp.PagingFile");
        if (arr < 0 || !w_try(w, part, "_MI_PARTITION", "Vp.NumberOfPagingFiles", 1))
            return;
        w_pointer(w, part + (uint64_t)arr, pf);
    } else {
        uint64_t n = k_sym_opt(m->k, "MmNumberOfPagingFiles"), a = k_sym_opt(m->k, "MmPagingFile");
        if (n == SC_NONE || a == SC_NONE)
            return;
        w_put(w, n, 4, 1);
        w_pointer(w, a, pf);
    }
    mf("pagefile \\??\\C:\\pagefile.sys 0x%llx 0x%llx 0x%llx 0x%llx", (unsigned long long)size,
       (unsigned long long)freep, (unsigned long long)minp, (unsigned long long)maxp);
}

/* ------------------------------------------------------------------ process pages, sessions */
/* The address space of a process, from where its PEB lies (world.c gives each space its own
 * user window: x64 1 GB from 0x20`00000000, PAE 2 MB from 0x01000000), checked against its
 * DirectoryTableBase. -1 when the process has no PEB. */
static int space_of(mm *m, uint64_t eproc)
{
    if (lay_off(m->L, "_EPROCESS", "Peb") < 0)
        return -1;
    uint64_t peb = w_field(m->w, eproc, "_EPROCESS", "Peb");
    uint64_t base = m->x64 ? 0x2000000000ULL : 0x01000000ULL, win = m->x64 ? 0x40000000ULL : 0x200000ULL;
    if (!peb || peb < base)
        return -1;
    uint64_t id = (peb - base) / win;
    if (id > 1000000)
        return -1;
    uint64_t dtb = w_field(m->w, eproc, "_EPROCESS", "Pcb.DirectoryTableBase");
    if (w_space_dtb(m->w, (int)id) != dtb)
        sc_die("mm: the PEB of process 0x%llx is not in its own address space", (unsigned long long)eproc);
    return (int)id;
}

static int owner_new(mm *m, uint64_t eproc)
{
    if (g_nowner == MM_MAX_OWNER)
        sc_die("mm: too many page owners");
    int o = g_nowner++;
    g_owner[o].eprocess = eproc;
    int64_t off = lay_off(m->L, "_EPROCESS", "ImageFileName");
    char name[16] = "";
    if (off >= 0)
        w_read(m->w, eproc + (uint64_t)off, name, 15);
    name[15] = 0;
    snprintf(g_owner[o].name, sizeof g_owner[o].name, "%s", name[0] ? name : "-");
    return o;
}

/* A page of `owner` mapped at va in the space whose root is dtb (its PFN entry is written
 * with the others; its chain at exit). */
static void own_page(mm *m, int owner, uint64_t dtb, uint64_t va)
{
    if (g_nchain == MM_MAX_CHAIN)
        sc_die("mm: too many process pages");
    size_t i = g_nchain++;
    g_chain[i].dtb = dtb;
    g_chain[i].va = va;
    g_chain[i].pfn = w_pfn_of(m->w, va);
    g_chain[i].owner = owner;
    g_chain[i].lvl[0] = w_pte_va(m->w, va);
    for (int l = 1; l < 5; l++)
        g_chain[i].lvl[l] = w_pte_va(m->w, g_chain[i].lvl[l - 1]);
}

/* Private pages: two kernel pages of System, three of csrss, five of winlogon.exe (a process
 * of session 1 this scene adds). */
static void proc_pages(mm *m, const sc_base *b, uint64_t winlogon)
{
    world *w = m->w;
    int sys = owner_new(m, b->system);
    for (int i = 0; i < 2; i++) {
        uint64_t va = w_alloc(w, SC_PAGE, SC_PAGE);
        w_write(w, va, "a System private page", 21);
        own_page(m, sys, w_space_dtb(w, 0), va);
    }
    const struct {
        uint64_t e;
        unsigned n;
    } ps[2] = {{b->csrss, 3}, {winlogon, 5}};
    for (int p = 0; p < 2; p++) {
        int sp = space_of(m, ps[p].e);
        if (sp < 0)
            continue;
        int o = owner_new(m, ps[p].e);
        uint64_t va = w_ualloc(w, sp, ps[p].n * SC_PAGE);
        for (unsigned i = 0; i < ps[p].n; i++) {
            char text[64];
            int n = snprintf(text, sizeof text, "private page %u of process %d", i, p);
            w_uwrite(w, sp, va + i * SC_PAGE, text, (size_t)n);
            own_page(m, o, w_space_dtb(w, sp), va + i * SC_PAGE);
        }
    }
}

/* Sessions (builds without nt!MmSessionCommit, i.e. all of ours): two _MM_SESSION_SPACEs with
 * CommittedPages, named by csrss (session 0) and winlogon.exe (session 1); !vm's Session
 * Commit is their sum. Hostile: smss names a session the dump does not hold. */
static void sessions(mm *m, const sc_base *b, uint64_t winlogon, bool hostile)
{
    const lay *L = m->L;
    world *w = m->w;
    if (!lay_has_type(L, "_MM_SESSION_SPACE") || lay_off(L, "_MM_SESSION_SPACE", "CommittedPages") < 0 ||
        lay_off(L, "_EPROCESS", "Session") < 0 || k_sym_opt(m->k, "MmSessionCommit") != SC_NONE)
        return;
    static const uint64_t committed[2] = {0x1a2, 0x1cb2};
    uint64_t procs[2] = {b->csrss, winlogon}, sum = 0;
    for (int i = 0; i < 2; i++) {
        uint64_t s = w_alloc(w, lay_size(L, "_MM_SESSION_SPACE"), 64);
        w_try(w, s, "_MM_SESSION_SPACE", "ReferenceCount", 1);
        w_set(w, s, "_MM_SESSION_SPACE", "SessionId", (uint64_t)i);
        w_set(w, s, "_MM_SESSION_SPACE", "CommittedPages", committed[i]);
        w_set(w, procs[i], "_EPROCESS", "Session", s);
        mf("mmsession 0x%llx %d 0x%llx", (unsigned long long)s, i, (unsigned long long)committed[i]);
        sum += committed[i];
    }
    mf("vmcounter SessionCommit 0x%llx", (unsigned long long)sum);
    if (hostile) {
        uint64_t nowhere = m->x64 ? 0xfffff8a0beef0000ULL : 0xbeef0000ULL;
        w_set(w, b->smss, "_EPROCESS", "Session", nowhere);
        mf("mmhostile session 0x%llx", (unsigned long long)nowhere);
    }
}

/* ------------------------------------------------------------------ kernel regions
 * !memusage's kernel lines (scene.h: kpages). The pool regions as the build keeps them:
 *  - 1809 and later: *(nt!MiVisibleState) (allocated when 0) ->SystemVaType[(va >> 39) & 0xff]:
 *    the kernel allocator's PML4 slot (world.c) MiVaNonPagedPool, slot 0x1e8
 *    (fffff400`00000000) MiVaPagedPool;
 *  - Windows 7 x64: nonpaged [MmNonPagedPoolStart = fffffa80`04000000, MiNonPagedPoolEnd =
 *    fffffaff`ffffffff (last byte)], paged [the VA of MmPagedPoolInfo.FirstPteForPagedPool =
 *    PTE of fffff8a0`00000000, MmPagedPoolEnd = fffff8bf`ffffffff (last byte)];
 *  - XP: nonpaged [MmNonPagedPoolStart = 0x85000000, + MmSizeOfNonPagedPoolInBytes 0x1b000000)
 *    and [MmNonPagedPoolExpansionStart 0xa0000000, MmNonPagedPoolEnd 0xb0000000), paged
 *    [MmPagedPoolStart 0xe1000000, MmPagedPoolEnd 0xf0ffffff (last byte)].
 * Three pages written in paged pool and four allocated in nonpaged pool (Active, PteAddress the
 * self-map's). Returns the paged pool VA used, 0 when the build keeps none of these. */
#define MM_NPAGED 3u
#define MM_NNONPAGED 4u
static bool kernel_regions(mm *m, uint64_t *paged_va)
{
    kern *k = m->k;
    world *w = m->w;
    const lay *L = m->L;
    uint64_t vis_ptr = k_sym_opt(k, "MiVisibleState");
    int64_t vt_off = lay_has_type(L, "_MI_VISIBLE_STATE") ? lay_off(L, "_MI_VISIBLE_STATE", "SystemVaType") : -1;
    uint64_t np_probe = w_alloc(w, 16, 16);
    *paged_va = 0;
    if (m->x64 && vis_ptr != SC_NONE && vt_off >= 0) {
        int64_t t_np, t_p;
        if (!lay_enum(L, "_MI_SYSTEM_VA_TYPE", "MiVaNonPagedPool", &t_np) ||
            !lay_enum(L, "_MI_SYSTEM_VA_TYPE", "MiVaPagedPool", &t_p))
            return false;
        uint64_t vis = w_get(w, vis_ptr, 8);
        if (!vis) {
            vis = w_alloc(w, lay_size(L, "_MI_VISIBLE_STATE"), SC_PAGE);
            w_pointer(w, vis_ptr, vis);
        }
        *paged_va = 0xfffff40000000000ULL + 0x100000;
        if (((np_probe >> 39) & 0xff) == ((*paged_va >> 39) & 0xff))
            sc_die("mm: the kernel allocator's slot is the paged pool slot");
        w_put(w, vis + (uint64_t)vt_off + ((np_probe >> 39) & 0xff), 1, (uint64_t)t_np);
        w_put(w, vis + (uint64_t)vt_off + ((*paged_va >> 39) & 0xff), 1, (uint64_t)t_p);
    } else if (m->x64 && k_sym_opt(k, "MmNonPagedPoolStart") != SC_NONE && k_sym_opt(k, "MiNonPagedPoolEnd") != SC_NONE &&
               k_sym_opt(k, "MmPagedPoolEnd") != SC_NONE && k_sym_opt(k, "MmPagedPoolInfo") != SC_NONE &&
               lay_off(L, "_MM_PAGED_POOL_INFO", "FirstPteForPagedPool") >= 0) {
        if (np_probe < 0xfffffa8004000000ULL || np_probe > 0xfffffaffffffffffULL)
            sc_die("mm: the kernel allocator is not in Windows 7's nonpaged pool");
        w_pointer(w, k_sym(k, "MmNonPagedPoolStart"), 0xfffffa8004000000ULL);
        w_pointer(w, k_sym(k, "MiNonPagedPoolEnd"), 0xfffffaffffffffffULL);
        w_set(w, k_sym(k, "MmPagedPoolInfo"), "_MM_PAGED_POOL_INFO", "FirstPteForPagedPool",
              w_pte_va(w, 0xfffff8a000000000ULL));
        w_pointer(w, k_sym(k, "MmPagedPoolEnd"), 0xfffff8bfffffffffULL);
        *paged_va = 0xfffff8a000100000ULL;
    } else if (!m->x64 && k_sym_opt(k, "MmNonPagedPoolStart") != SC_NONE && k_sym_opt(k, "MmPagedPoolStart") != SC_NONE &&
               k_sym_opt(k, "MmNonPagedPoolEnd") != SC_NONE && k_sym_opt(k, "MmPagedPoolEnd") != SC_NONE &&
               k_sym_opt(k, "MmNonPagedPoolExpansionStart") != SC_NONE &&
               k_sym_opt(k, "MmSizeOfNonPagedPoolInBytes") != SC_NONE) {
        if (np_probe < 0x85000000ULL || np_probe >= 0xa0000000ULL)
            sc_die("mm: the kernel allocator is not in XP's initial nonpaged pool");
        w_pointer(w, k_sym(k, "MmNonPagedPoolStart"), 0x85000000ULL);
        w_pointer(w, k_sym(k, "MmSizeOfNonPagedPoolInBytes"), 0x1b000000ULL);
        w_pointer(w, k_sym(k, "MmNonPagedPoolExpansionStart"), 0xa0000000ULL);
        w_pointer(w, k_sym(k, "MmNonPagedPoolEnd"), 0xb0000000ULL);
        w_pointer(w, k_sym(k, "MmPagedPoolStart"), 0xe1000000ULL);
        w_pointer(w, k_sym(k, "MmPagedPoolEnd"), 0xf0ffffffULL);
        *paged_va = 0xe1010000ULL;
    } else {
        return false;
    }
    for (unsigned i = 0; i < MM_NPAGED; i++)
        w_write(w, *paged_va + i * SC_PAGE, "a paged pool page", 17);
    for (unsigned i = 0; i < MM_NNONPAGED; i++) {
        uint64_t va = w_alloc(w, SC_PAGE, SC_PAGE);
        w_write(w, va, "a nonpaged pool page", 20);
    }
    return true;
}

/* The frames of nt's image at the PFN pass (exact: frames mapped later get no Active entry). */
typedef struct ntcount {
    uint64_t lo, hi;
    unsigned n;
} ntcount;
static void count_nt(void *u, uint64_t pfn, uint64_t va, bool table)
{
    ntcount *c = u;
    (void)pfn;
    if (!table && va >= c->lo && va < c->hi)
        c->n++;
}

static uint64_t nt_ret(kern *k, const char *a, const char *b, unsigned off)
{
    const char *n = k_sym_opt(k, a) != SC_NONE ? a : b;
    if (!n || k_sym_opt(k, n) == SC_NONE)
        return 0;
    return k_ret(k, k_nt_func(k, n), off);
}

void scene_mm(kern *k, const sc_base *b)
{
    mm M;
    memset(&M, 0, sizeof M);
    mm *m = &M;
    m->k = k;
    m->w = k->w;
    m->L = k->L;
    m->P = lay_ptr(k->L);
    m->x64 = m->P == 8;
    m->ptesz = lay_size(k->L, "_MMPTE");
    world *w = m->w;
    const lay *L = m->L;
    for (int i = 0; i < 8; i++) {
        int64_t v;
        m->lists[i] = lay_enum(L, "_MMLISTS", list_enum[i], &v) ? (int)v : i;
    }
    bool hostile = b->o->hostile && (!strcmp(b->o->hostile, "cycle") || !strcmp(b->o->hostile, "all"));

    /* ---- sections */
    sect data, img, pfs;
    static const unsigned data_ptes[2] = {2, 2}, img_ptes[2] = {1, 3}, pf_ptes[1] = {2};
    section(m, &data, 0, "\\Windows\\Fonts\\couri.ttf", 2, data_ptes, 1, 3);
    /* the system view maps subsection 1 (page 0 valid, page 1 standby); subsection 2 is mapped
       by no view, its page 2 modified: an unused subsection */
    static const unsigned data_views[2] = {1, 0}, data_refs[2] = {2, 1};
    msub_lists(m, &data, data_views, data_refs);
    section(m, &img, 1, "\\Windows\\System32\\urlmon.dll", 2, img_ptes, 2, 3);
    section(m, &pfs, 2, NULL, 1, pf_ptes, 1, 2);
    mf("ca 0x%llx file \\Windows\\Fonts\\couri.ttf 0x1 0x3", (unsigned long long)data.ca);
    mf("ca 0x%llx image \\Windows\\System32\\urlmon.dll 0x2 0x3", (unsigned long long)img.ca);
    mf("ca 0x%llx pagefile - 0x1 0x2", (unsigned long long)pfs.ca);

    /* ---- pages of the sections */
    /* data file: [0] valid (the page of a system view, va_proto), [1] standby, [2] modified,
       [3] not resident (a subsection PTE) */
    uint64_t va_proto = w_alloc(w, SC_PAGE, SC_PAGE);
    w_write(w, va_proto, "couri.ttf page 0: mapped data file", 35);
    uint64_t dA = w_pfn_of(w, va_proto);
    uint64_t dB = text_frame(w, "couri.ttf page 1 (standby)");
    uint64_t dC = text_frame(w, "couri.ttf page 2 (modified)");
    put_pte(m, data.protos + 0 * m->ptesz, pte_valid(dA));
    put_pte(m, data.protos + 1 * m->ptesz, pte_transition(m, dB, 4));
    put_pte(m, data.protos + 2 * m->ptesz, pte_transition(m, dC, 4));
    put_pte(m, data.protos + 3 * m->ptesz, pte_subsection(m, data.sub[1], 4));
    /* image: headers [0] valid, .text [1] valid, [2] standby, [3] not resident */
    uint64_t iH = text_frame(w, "MZ urlmon.dll headers");
    uint64_t iX0 = text_frame(w, "urlmon.dll .text page 0");
    uint64_t iX1 = text_frame(w, "urlmon.dll .text page 1 (standby)");
    put_pte(m, img.protos + 0 * m->ptesz, pte_valid(iH));
    put_pte(m, img.protos + 1 * m->ptesz, pte_valid(iX0));
    put_pte(m, img.protos + 2 * m->ptesz, pte_transition(m, iX1, 3));
    put_pte(m, img.protos + 3 * m->ptesz, pte_subsection(m, img.sub[1], 3));
    /* pagefile-backed: [0] valid, [1] modified */
    uint64_t pD = text_frame(w, "pagefile-backed section page 0");
    uint64_t pE = text_frame(w, "pagefile-backed section page 1 (modified)");
    put_pte(m, pfs.protos + 0 * m->ptesz, pte_valid(pD));
    put_pte(m, pfs.protos + 1 * m->ptesz, pte_transition(m, pE, 4));

    /* ---- kernel pages with invalid PTEs */
    uint64_t va_trans = w_alloc(w, SC_PAGE, SC_PAGE);
    w_write(w, va_trans, "a paged-pool page in transition", 31);
    uint64_t fT = w_pfn_of(w, va_trans);
    uint64_t va_pf = w_alloc(w, SC_PAGE, SC_PAGE);
    uint64_t fP = w_pfn_of(w, va_pf);
    uint64_t raw_trans = pte_transition(m, fT, 4);
    uint64_t raw_proto = pte_proto(m, data.protos);
    uint64_t raw_pf = pte_pagefile(m, 1, 0x1a2b3, 4); /* page file 1: PageFileLow moved in L1TF kernels */
    patch_add(va_trans, raw_trans);
    patch_add(va_proto, raw_proto);
    patch_add(va_pf, raw_pf);
    mf("ptekind 0x%llx transition 0x%llx", (unsigned long long)va_trans, (unsigned long long)raw_trans);
    mf("ptekind 0x%llx prototype 0x%llx", (unsigned long long)va_proto, (unsigned long long)raw_proto);
    mf("ptekind 0x%llx pagefile 0x%llx", (unsigned long long)va_pf, (unsigned long long)raw_pf);
    mf("ptepagefile 0x%llx 0x1 0x1a2b3", (unsigned long long)va_pf);

    /* ---- a thread with an outswapped kernel stack (waiting in UserMode) */
    uint64_t rets[4];
    size_t nr = 0;
    uint64_t r;
    if ((r = nt_ret(k, "KiSwapContext", NULL, 0x3a)))
        rets[nr++] = r;
    if ((r = nt_ret(k, "KiCommitThreadWait", NULL, 0x1d2)))
        rets[nr++] = r;
    if ((r = nt_ret(k, "KeWaitForSingleObject", NULL, 0x19f)))
        rets[nr++] = r;
    if ((r = nt_ret(k, "KiStartSystemThread", "KiThreadStartup", 0x16)))
        rets[nr++] = r;
    if (!nr)
        sc_die("scene mm: nt has none of the wait functions");
    int64_t ur;
    unsigned user_request = lay_enum(L, "_KWAIT_REASON", "UserRequest", &ur) ? (unsigned)ur : 6;
    uint64_t oth = k_thread(k, b->csrss, 0x7c4, 5, user_request, rets, nr);
    w_try(w, oth, "_KTHREAD", "WaitMode", 1);
    w_set(w, oth, "_KTHREAD", "KernelStackResident", 0);
    uint64_t sbase, slimit;
    k_thread_stack(k, oth, &sbase, &slimit);
    mf("outswapped 0x%llx", (unsigned long long)oth);
    uint64_t stack_frames[16];
    size_t nstack = 0;
    for (uint64_t va = slimit & ~(uint64_t)(SC_PAGE - 1); va < sbase && nstack < 16; va += SC_PAGE) {
        uint64_t f = w_pfn_of(w, va);
        stack_frames[nstack++] = f;
        uint64_t raw = pte_transition(m, f, 0x1f);
        patch_add(va, raw);
        if (va + SC_PAGE >= sbase)
            mf("ptekind 0x%llx transition 0x%llx", (unsigned long long)(sbase - 0x100),
               (unsigned long long)raw);
    }

    /* ---- lone frames for the other lists */
    uint64_t z[3], fr[2], mnw, bad, trans;
    for (int i = 0; i < 3; i++)
        z[i] = w_frame_new(w);
    fr[0] = text_frame(w, "a freed page");
    fr[1] = text_frame(w, "another freed page");
    mnw = text_frame(w, "modified, not to be written");
    bad = w_frame_new(w);
    trans = w_frame_new(w);
    uint64_t corrupt = hostile ? text_frame(w, "corrupt pfn entry") : 0;
    uint64_t loopa = hostile ? text_frame(w, "PteFrame loop a") : 0, loopb = hostile ? text_frame(w, "PteFrame loop b") : 0;

    /* ---- processes: private pages (chains written at exit), sessions */
    uint64_t winlogon = k_process(k, "winlogon.exe", 0x1f4, b->smss);
    proc_pages(m, b, winlogon);
    sessions(m, b, winlogon, hostile);
    uint64_t paged_va = 0;
    /* hostile: the build's pool-region globals left unset (MiVisibleState 0; Windows 7 / XP
       pool range globals 0): the pool lines give way to a note */
    bool regions = !hostile && kernel_regions(m, &paged_va);
    if (hostile)
        mf("mmhostile noregions 0x0");

    /* ---- counters (pages) */
    uint64_t part = k_sym_opt(k, "MiSystemPartition");
    unsigned failures[4] = {0x11, 0xbd38, 0x222, 0x3};
    bool xp_rule = k->build <= 3790; /* seed 003: [2] counted on XP/2003, [3] after */
    uint64_t nfail = (uint64_t)failures[0] + failures[1] + (xp_rule ? failures[2] : failures[3]);
    if (part != SC_NONE) {
        int64_t fo = lay_off(L, "_MI_PARTITION", "Vp.ChargeCommitmentFailures");
        if (fo >= 0)
            for (int i = 0; i < 4; i++)
                w_put(w, part + (uint64_t)fo + 4u * (unsigned)i, 4, failures[i]);
        if (fo >= 0)
            mf("vmcounter CommitFailures 0x%llx", (unsigned long long)nfail);
    } else {
        uint64_t g = k_sym_opt(k, "MiChargeCommitmentFailures");
        if (g != SC_NONE) {
            for (int i = 0; i < 4; i++)
                w_put(w, g + 4u * (unsigned)i, 4, failures[i]);
            mf("vmcounter CommitFailures 0x%llx", (unsigned long long)nfail);
        }
    }
    counter(m, "ResAvailPages", "MmResidentAvailablePages", "Vp.ResidentAvailablePages", 0x3a2c1);
    /* mm-commit: committed pages at 97% of the commit limit (!vm's warning) */
    bool near_limit = b->o->scene && !strcmp(b->o->scene, "mm-commit");
    counter(m, "CommittedPages", "MmTotalCommittedPages", "Vp.TotalCommittedPages", near_limit ? 0x9e000 : 0x4fb40);
    counter(m, "CommitLimit", "MmTotalCommitLimit", "Vp.TotalCommitLimit", 0xa298e);
    counter(m, "SharedCommit", "MmSharedCommit", "Vp.SharedCommit", 0x18e3);
    counter(m, "PagedPoolCommit", "MmPagedPoolCommit", NULL, 0x7e8a);
    /* XP: MmTotalFreeSystemPtes; 7: nt!MiSystemPteInfo.TotalFreeSystemPtes; 1809+: nt!MiState.Vs.SystemPteInfo */
    counter_any(m, "FreeSystemPtes", "MmTotalFreeSystemPtes", NULL, "MiSystemPteInfo", "_MI_SYSTEM_PTE_TYPE",
                "TotalFreeSystemPtes", "Vs.SystemPteInfo.TotalFreeSystemPtes", 0x1ff5b);
    counter(m, "LockedIoPages", "MmSystemLockPagesCount", NULL, 0x1c);
    counter(m, "ModifiedPfPages", "MmTotalPagesForPagingFile", "Vp.TotalPagesForPagingFile", 0x6);
    /* Pool and commit counters kept in globals (XP, Windows 7) or in nt!MiState (1809 and
     * later). The nonpaged pool values are seed 003's second !vm (155371 of 191078 pages in
     * use, 81%), which WinDbg flags as excessive; the paged pool ones are its 32392 pages in
     * use. Session Commit: no build's table has MmSessionCommit, so nothing is written for it
     * unless one does. */
    counter_any(m, "DriverCommit", "MmDriverCommit", NULL, NULL, NULL, NULL, "Vs.DriverCommit", 0x99a);
    counter_any(m, "ProcessCommit", "MmProcessCommit", NULL, NULL, NULL, NULL, "Vs.ProcessCommit", 0x155f);
    counter_any(m, "SpecialPool", "MmSpecialPagesInUse", NULL, NULL, NULL, NULL, "Vs.SpecialPagesInUse", 0x2a);
    counter_any(m, "NonPagedPoolUsage", "MmAllocatedNonPagedPool", NULL, NULL, NULL, NULL,
                "Pools.AllocatedNonPagedPool", 0x25eeb);
    counter_any(m, "NonPagedPoolMax", "MmMaximumNonPagedPoolInPages", "MmMaximumNonPagedPoolInBytes", NULL, NULL,
                NULL, "Vs.MaximumNonPagedPoolInPages", 0x2ea66);
    counter_any(m, "PagedPoolUsage", NULL, NULL, "MmPagedPoolInfo", "_MM_PAGED_POOL_INFO", "AllocatedPagedPool",
                "Vs.PagedPoolInfo.AllocatedPagedPool", 0x7e88);
    counter_any(m, "PagedPoolMaximum", "MmSizeOfPagedPoolInPages", "MmSizeOfPagedPoolInBytes", NULL, NULL, NULL,
                "Vs.SizeOfPagedPoolInPages", 0x20000);
    pool_descriptors(m);
    if (k_sym_opt(k, "MmSessionCommit") != SC_NONE)
        counter_any(m, "SessionCommit", "MmSessionCommit", NULL, NULL, NULL, NULL, NULL, 0x1e54);
    paging_file(m);
    /* an empty big-pool table (the "pool" scene fills one), so that the pool-tag search of
       !ca 0 finds a table to read */
    uint64_t bpt = k_sym_opt(k, "PoolBigPageTable"), bps = k_sym_opt(k, "PoolBigPageTableSize");
    if (bpt != SC_NONE && bps != SC_NONE && lay_has_type(L, "_POOL_TRACKER_BIG_PAGES")) {
        uint64_t tab = w_alloc(w, 8 * lay_size(L, "_POOL_TRACKER_BIG_PAGES"), SC_PAGE);
        w_pointer(w, bpt, tab);
        w_pointer(w, bps, 8);
    }

    /* ---- the PFN database: sized for every frame the dump can hold, the last allocation */
    const lay *Lp = L;
    m->esz = lay_size(Lp, "_MMPFN");
    uint64_t margin = 2048 + 8ULL * b->o->procs;
    uint64_t bound = w_pfn_bound(w, margin), prev = 0;
    for (int it = 0; it < 16 && bound != prev; it++) {
        prev = bound;
        bound = w_pfn_bound(w, margin + (bound * m->esz + SC_PAGE - 1) / SC_PAGE + 2);
    }
    m->bound = bound;
    uint64_t dbsize = bound * m->esz;
    if (m->x64 && k->build < 9200) {
        m->pfndb = 0xfffffa8000000000ULL; /* Windows 7: below the pool (world.c) */
        w_write(w, m->pfndb, NULL, dbsize);
    } else {
        m->pfndb = w_alloc(w, dbsize, SC_PAGE);
    }
    uint64_t g = k_sym(k, "MmPfnDatabase");
    w_pointer(w, g, m->pfndb);
    mf("vmcounter HighestPhysicalPage 0x%llx", (unsigned long long)(bound - 1));
    if (part != SC_NONE)
        w_try(w, part, "_MI_PARTITION", "Vp.HighestPhysicalPage", bound - 1);
    else if ((g = k_sym_opt(k, "MmHighestPhysicalPage")) != SC_NONE)
        w_pointer(w, g, bound - 1);
    if (w_pfn_bound(w, 0) > bound)
        sc_die("scene mm: the PFN database is too small");

    /* every frame so far: Active */
    w_each_frame(w, default_entry, m);
    /* !memusage's kernel lines: nt's image pages (exact), the outswapped thread's stack pages
       (at least: other threads' stacks add theirs), the pool pages (paged exact; nonpaged at
       least: the scene's kernel allocations are nonpaged pool, System's private pages too) */
    ntcount ntc = {k->base, k->base + 0x2000000, 0}; /* nt's final size is set at k_finish; the
                                                        next image lies past 32 MB (nt.c) */
    w_each_frame(w, count_nt, &ntc);
    mf("kpages driver:%s 0x%x exact", m->x64 ? "ntoskrnl.exe" : "ntkrnlpa.exe", ntc.n);
    mf("kpages stacks 0x%llx min", (unsigned long long)nstack);
    if (regions) {
        mf("kpages pagedpool 0x%x exact", MM_NPAGED);
        mf("kpages nonpagedpool 0x%x min", MM_NNONPAGED + 2);
    }
    /* the chosen ones (counts of the default pass taken back) */
    memset(m->counts, 0, sizeof m->counts);
    uint64_t orig_rw = pf(L, "_MMPTE_SOFTWARE", "Protection", 4);
    /* process pages: Active, PteFrame written at exit with their tables' entries */
    for (size_t i = 0; i < g_nchain; i++)
        pfn_entry(m, g_chain[i].pfn, L_ACTIVE, 1, 1, g_chain[i].lvl[0], orig_rw, 0, false, false);
    g_pfn.pfndb = m->pfndb;
    g_pfn.esz = m->esz;
    g_pfn.active = m->lists[L_ACTIVE];
    pfnfield_get(L, "PteAddress", &g_pfn.pte);
    pfnfield_get(L, "u2.ShareCount", &g_pfn.share);
    pfnfield_get(L, "u3.e2.ReferenceCount", &g_pfn.ref);
    pfnfield_get(L, "u3.e1.PageLocation", &g_pfn.loc);
    pfnfield_get(L, "u4.PteFrame", &g_pfn.frame);
    uint64_t fpd = w_pfn_of(w, data.protos), fpi = w_pfn_of(w, img.protos), fpp = w_pfn_of(w, pfs.protos);
    pfn_entry(m, dA, L_ACTIVE, 1, 1, data.protos, pte_subsection(m, data.sub[0], 4), fpd, true, true);
    pfn_entry(m, dB, L_STANDBY, 0, 0, data.protos + m->ptesz, pte_subsection(m, data.sub[0], 4), fpd, true, true);
    pfn_entry(m, dC, L_MOD, 0, 0, data.protos + 2 * m->ptesz, pte_subsection(m, data.sub[1], 4), fpd, true, true);
    pfn_entry(m, iH, L_ACTIVE, 1, 1, img.protos, pte_subsection(m, img.sub[0], 1), fpi, true, true);
    pfn_entry(m, iX0, L_ACTIVE, 1, 1, img.protos + m->ptesz, pte_subsection(m, img.sub[1], 3), fpi, true, true);
    pfn_entry(m, iX1, L_STANDBY, 0, 0, img.protos + 2 * m->ptesz, pte_subsection(m, img.sub[1], 3), fpi, true, true);
    pfn_entry(m, pD, L_ACTIVE, 1, 1, pfs.protos, orig_rw, fpp, true, true);
    pfn_entry(m, pE, L_MOD, 0, 0, pfs.protos + m->ptesz, orig_rw, fpp, true, true);
    uint64_t capfn[][2] = {{data.ca, dA}, {data.ca, dB}, {data.ca, dC}, {img.ca, iH},
                           {img.ca, iX0}, {img.ca, iX1}, {pfs.ca, pD}, {pfs.ca, pE}};
    for (size_t i = 0; i < sizeof capfn / sizeof capfn[0]; i++)
        mf("capfn 0x%llx 0x%llx", (unsigned long long)capfn[i][0], (unsigned long long)capfn[i][1]);
    pfn_entry(m, fT, L_STANDBY, 0, 0, w_pte_va(w, va_trans), orig_rw, 0, false, true);
    pfn_entry(m, fP, L_FREE, 0, 0, 0, 0, 0, false, true);
    for (size_t i = 0; i < nstack; i++)
        pfn_entry(m, stack_frames[i], L_MOD, 0, 0, w_pte_va(w, (slimit & ~(uint64_t)(SC_PAGE - 1)) + i * SC_PAGE),
                  pf(L, "_MMPTE_SOFTWARE", "Protection", 0x1f), 0, false, true);
    for (int i = 0; i < 3; i++)
        pfn_entry(m, z[i], L_ZERO, 0, 0, 0, 0, 0, false, true);
    for (int i = 0; i < 2; i++)
        pfn_entry(m, fr[i], L_FREE, 0, 0, 0, 0, 0, false, true);
    pfn_entry(m, mnw, L_MODNW, 0, 0, 0, orig_rw, 0, false, true);
    pfn_entry(m, bad, L_BAD, 0, 0, 0, 0, 0, false, true);
    pfn_entry(m, trans, L_TRANS, 0, 1, 0, orig_rw, 0, false, true);
    for (int i = 0; i < 8; i++)
        if (i != L_ACTIVE && i != L_ZERO)
            mf("pfncount %s 0x%x", list_names[i], m->counts[i]);
    mf("pfncount Zeroed 0x%x", m->counts[L_ZERO]);
    mf("pfncount Active 0x%x", m->counts[L_ACTIVE]);
    /* list heads and the page counters that follow from the lists */
    list_total(m, "MmZeroedPageListHead", "PageLists.ZeroedPageListHead", m->counts[L_ZERO]);
    list_total(m, "MmFreePageListHead", "PageLists.FreePageListHead", m->counts[L_FREE]);
    list_total(m, "MmStandbyPageListHead", "PageLists.StandbyPageListHead", m->counts[L_STANDBY]);
    list_total(m, "MmModifiedPageListHead", "Vp.ModifiedPageListHead", m->counts[L_MOD]);
    list_total(m, "MmModifiedNoWritePageListHead", "Vp.ModifiedNoWritePageListHead", m->counts[L_MODNW]);
    list_total(m, "MmBadPageListHead", "PageLists.BadPageListHead", m->counts[L_BAD]);
    mf("vmcounter ModifiedPages 0x%x", m->counts[L_MOD]);
    counter(m, "AvailablePages", "MmAvailablePages", "Vp.AvailablePages",
            m->counts[L_ZERO] + m->counts[L_FREE] + m->counts[L_STANDBY]);
    counter(m, "PhysicalMemory", "MmNumberOfPhysicalPages", "Vp.NumberOfPhysicalPages", bound - 0x400);

    /* ---- hostile */
    if (hostile) {
        /* the data file's subsection chain loops */
        w_set(w, data.sub[1], "_SUBSECTION", "NextSubsection", data.sub[0]);
        mf("mmhostile subsection_cycle 0x%llx", (unsigned long long)data.ca);
        /* a prototype-PTE page naming a subsection the dump does not hold */
        uint64_t nowhere = m->x64 ? 0xfffff8a0dead0000ULL : 0xbadd0000ULL;
        pfn_entry(m, corrupt, L_ACTIVE, 0xffffffffULL, 1, nowhere + 0x40,
                  pte_subsection(m, nowhere, 4), 0, true, false);
        mf("mmhostile pfn 0x%llx", (unsigned long long)corrupt);
        /* two Active pages each naming the other as its page table: a PteFrame loop */
        pfn_entry(m, loopa, L_ACTIVE, 1, 1, 0, orig_rw, loopb, false, false);
        pfn_entry(m, loopb, L_ACTIVE, 1, 1, 0, orig_rw, loopa, false, false);
        mf("mmhostile ptecycle 0x%llx", (unsigned long long)loopa);
    }

    /* the invalid PTEs are written into the finished dump */
    snprintf(g_out, sizeof g_out, "%s", b->o->out);
    static bool registered;
    if (!registered) {
        registered = true;
        atexit(patch_at_exit);
    }
}
