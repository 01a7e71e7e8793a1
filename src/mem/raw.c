/* raw.c: raw physical memory images (file offset == physical address), and the search for
 * a page-table root by the self-reference every Windows root carries. */
#include <stdio.h>
#include <stdlib.h>
#include <strings.h>

#include "mem/mem.h"

/* The scan looks at no more than this many pages (64 GB of 4 KB pages). */
#define NK_DTB_SCAN_MAX_PAGES (1ull << 24)

/* ---- page access for the scan ------------------------------------------------------- */

typedef struct scan {
    const ntkd_target *t;
    bool direct;      /* raw image: page n is at file offset n * 4096 */
    uint64_t npages;  /* pages the scan considers: pfns 0 .. npages-1 */
} scan;

static const uint8_t *page_at(const scan *s, uint64_t pfn)
{
    if (pfn >= s->npages) return NULL;
    if (s->direct) return s->t->file.data + pfn * 4096;
    size_t avail = 0;
    const uint8_t *p = nk_phys_ptr(s->t, pfn << 12, &avail);
    return p && avail >= 4096 ? p : NULL;
}

static bool in_image(const scan *s, uint64_t pfn) { return page_at(s, pfn) != NULL; }

/* ---- per-mode checks ------------------------------------------------------------------ */

/* A 64-bit top-level table (x64 PML4, ARM64 level 0) at pfn: a kernel-half entry points back
 * at the page itself, and the other valid kernel-half entries point mostly at pages the image
 * holds (at least one; an image may lack a few table pages). */
static bool top64_ok(const scan *s, uint64_t pfn, const uint8_t *pg, bool arm64)
{
    const uint64_t mask = arm64 ? 0x0000fffffffff000ull : 0x000ffffffffff000ull;
    const uint64_t self = pfn << 12;
    int selfidx = -1;
    /* Windows puts the self-reference in the kernel half (0x1ed before Windows 10 1607, a
       random index in 0x100-0x1ff since), so only that half is searched. */
    for (int i = 256; i < 512 && selfidx < 0; i++) {
        uint64_t e = nk_le64(pg + (size_t)i * 8);
        bool valid = arm64 ? (e & 3) == 3 : (e & 1) != 0;
        if (valid && (e & mask) == self) selfidx = i;
    }
    if (selfidx < 0) return false;
    int in = 0, out = 0;
    for (int i = 256; i < 512; i++) {
        if (i == selfidx) continue;
        uint64_t e = nk_le64(pg + (size_t)i * 8);
        if (arm64 ? (e & 3) != 3 : !(e & 1)) continue;
        if (in_image(s, (e & mask) >> 12)) in++;
        else out++;
    }
    return in > 0 && in >= out;
}

/* x86 non-PAE page directory: entry 0x300 (0xC0000000) maps the directory itself. */
static bool pd32_ok(const scan *s, uint64_t pfn, const uint8_t *pg)
{
    uint32_t e = nk_le32(pg + 0x300 * 4);
    if (!(e & 1) || (e & 0xfffff000u) != (pfn << 12)) return false;
    int in = 0, out = 0;
    for (int i = 0x200; i < 0x400; i++) {
        if (i == 0x300) continue;
        uint32_t v = nk_le32(pg + (size_t)i * 4);
        if (!(v & 1)) continue;
        if ((v & 0x80) || in_image(s, v >> 12)) in++; /* 4 MB pages need no table */
        else out++;
    }
    return in > 0 && in >= out;
}

/* x86 PAE: the page directory for 0xC0000000 (PDPT[3]) holds the four page directories in
 * its entries 0..3, entry 3 being itself. */
static bool pd3_ok(const scan *s, uint64_t pfn, const uint8_t *pg, uint64_t pds[4])
{
    const uint64_t mask = 0x000ffffffffff000ull;
    for (int i = 0; i < 4; i++) {
        uint64_t e = nk_le64(pg + (size_t)i * 8);
        if (!(e & 1) || (e & 0x80)) return false;
        pds[i] = (e & mask) >> 12;
        if (!in_image(s, pds[i])) return false;
    }
    if (pds[3] != pfn) return false;
    for (int i = 0; i < 3; i++)
        for (int j = i + 1; j < 4; j++)
            if (pds[i] == pds[j]) return false;
    return true;
}

/* The 32-byte PDPT whose four entries point at pds[0..3]. */
static bool find_pdpt(const scan *s, const uint64_t pds[4], uint64_t *pa)
{
    const uint64_t mask = 0x000ffffffffff000ull;
    for (uint64_t pfn = 0; pfn < s->npages; pfn++) {
        const uint8_t *pg = page_at(s, pfn);
        if (!pg) continue;
        for (unsigned off = 0; off < 4096; off += 32) {
            bool ok = true;
            for (int i = 0; i < 4 && ok; i++) {
                uint64_t e = nk_le64(pg + off + (unsigned)i * 8);
                /* present, reserved bits 1-2 and 5-8 clear, the directory's address */
                ok = (e & 1) && !(e & 0x1e6) && (e & mask) == (pds[i] << 12);
            }
            if (ok) {
                *pa = (pfn << 12) | off;
                return true;
            }
        }
    }
    return false;
}

nk_status nk_find_dtb(ntkd_target *t, uint64_t *dtb)
{
    scan s = {.t = t, .direct = t->d.kind == NK_KIND_RAW};
    if (s.direct) {
        s.npages = t->file.size / 4096;
    } else if (t->d.phys.kind == NK_PHYS_RUNS && t->d.phys.nruns) {
        const nk_phys_run *r = &t->d.phys.runs[t->d.phys.nruns - 1];
        s.npages = r->base_pfn + r->page_count;
    } else if (t->d.phys.kind == NK_PHYS_BITMAP) {
        s.npages = t->d.phys.nbits;
    }
    if (s.npages > NK_DTB_SCAN_MAX_PAGES) s.npages = NK_DTB_SCAN_MAX_PAGES;
    nk_paging p = t->d.paging;
    int pdpt_searches = 0; /* each is a pass over the image: a hostile image gets a few */
    for (uint64_t pfn = 0; pfn < s.npages; pfn++) {
        const uint8_t *pg = page_at(&s, pfn);
        if (!pg) continue;
        switch (p) {
        case NK_PAGING_X64_4L:
        case NK_PAGING_ARM64_4K:
            if (top64_ok(&s, pfn, pg, p == NK_PAGING_ARM64_4K)) {
                *dtb = pfn << 12;
                return NTKD_OK;
            }
            break;
        case NK_PAGING_X86:
            if (pd32_ok(&s, pfn, pg)) {
                *dtb = pfn << 12;
                return NTKD_OK;
            }
            break;
        case NK_PAGING_X86_PAE: {
            uint64_t pds[4];
            if (pdpt_searches < 8 && pd3_ok(&s, pfn, pg, pds)) {
                pdpt_searches++;
                if (find_pdpt(&s, pds, dtb)) return NTKD_OK;
            }
            break;
        }
        default: return NTKD_E_NOTFOUND;
        }
    }
    return NTKD_E_NOTFOUND;
}

/* ---- opening ------------------------------------------------------------------------- */

nk_status nk_raw_open(ntkd_target *t, const ntkd_open_opts *o)
{
    nk_dump *d = &t->d;
    const char *fn = nk_file_name(&t->file);
    const char *arch = o && o->arch ? o->arch : "x64";
    nk_paging paging;
    if (!strcasecmp(arch, "x64") || !strcasecmp(arch, "amd64")) {
        d->arch = NK_ARCH_X64, d->machine = NK_MACHINE_AMD64, d->is64 = true;
        paging = NK_PAGING_X64_4L;
    } else if (!strcasecmp(arch, "x86pae") || !strcasecmp(arch, "pae")) {
        d->arch = NK_ARCH_X86, d->machine = NK_MACHINE_I386, d->is64 = false;
        paging = NK_PAGING_X86_PAE;
    } else if (!strcasecmp(arch, "x86")) {
        d->arch = NK_ARCH_X86, d->machine = NK_MACHINE_I386, d->is64 = false;
        paging = NK_PAGING_X86;
    } else if (!strcasecmp(arch, "arm64")) {
        d->arch = NK_ARCH_ARM64, d->machine = NK_MACHINE_ARM64, d->is64 = true;
        paging = NK_PAGING_ARM64_4K;
    } else {
        return nk_fail(t->ctx, NTKD_E_ARG, "%s: --arch %s: not one of x64, x86, x86pae, arm64",
                       fn, arch);
    }
    if (t->file.size < 4096)
        return nk_fail(t->ctx, NTKD_E_FORMAT,
                       "%s: a raw image must hold at least one 4 KB page (the file has %llu bytes)",
                       fn, (unsigned long long)t->file.size);
    d->kind = NK_KIND_RAW;
    d->paging = paging;
    d->phys.kind = NK_PHYS_RUNS;
    d->phys.runs = calloc(1, sizeof *d->phys.runs);
    if (!d->phys.runs) return nk_fail(t->ctx, NTKD_E_NOMEM, "%s: out of memory", fn);
    d->phys.nruns = 1;
    d->phys.runs[0].page_count = t->file.size / 4096;
    if (t->file.size % 4096)
        nk_warn(t, "%s: the image is 0x%llx bytes, not a whole number of pages; the last 0x%llx "
                "bytes (from offset 0x%llx) are not used", fn, (unsigned long long)t->file.size,
                (unsigned long long)(t->file.size % 4096),
                (unsigned long long)(t->file.size & ~0xfffull));
    nk_status st = nk_physmap_check_runs(t);
    if (st != NTKD_OK) return st;

    const char *sec = "Raw image";
    nk_dump_field(t, sec, "Size", 0, t->file.size, 8, NULL);
    nk_dump_field(t, sec, "Pages", 0, d->phys.runs[0].page_count, 8, NULL);
    if (o && o->have_dtb) {
        d->dtb = o->dtb;
        size_t avail;
        if (!nk_phys_ptr(t, o->dtb & ~0xfffull, &avail))
            nk_warn(t, "%s: the page-table root 0x%llx given with --dtb lies outside the image "
                    "(0x%llx bytes); virtual addresses will not translate", fn,
                    (unsigned long long)o->dtb, (unsigned long long)t->file.size);
    } else if (nk_find_dtb(t, &d->dtb) == NTKD_OK) {
        nk_warn(t, "DTB found by self-reference scan at 0x%llx", (unsigned long long)d->dtb);
    } else {
        d->paging = NK_PAGING_NONE;
        d->dtb = 0;
        nk_warn(t, "%s: no %s page-table root found by self-reference scan; only physical "
                "memory commands work (give the root with --dtb)", fn, arch);
    }
    nk_dump_field(t, sec, "DirectoryTableBase", 0, d->dtb, 8, NULL);
    return NTKD_OK;
}
