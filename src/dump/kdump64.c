/* kdump64.c: the 64-bit kernel dump container ("PAGEDU64"). A 0x2000-byte DUMP_HEADER64 holds
 * the system facts, the bug check, a register context and an exception record; what follows
 * depends on DumpType: page data in physical-memory-run order (full dumps), a summary or
 * bitmap header with a page bitmap (kernel summary and bitmap dumps), or a triage body (small
 * dumps, parsed by triage.c). The bitmap code here is shared with the 32-bit container.
 *
 * Layout facts: kdmp-parser (kdmp-parser-structs.h), volatility3 (crash64.json,
 * crash_common.json), Ghidra's pagedump loader; checked against the corpus dumps. */
#include <stdio.h>
#include <stdlib.h>

#include "dump/dump.h"

/* ---- DUMP_HEADER64: offsets from the start of the file ------------------------------ */
enum {
    H64_SIZE = 0x2000,
    H64_MAJOR = 0x08,
    H64_MINOR = 0x0c,
    H64_DTB = 0x10,
    H64_PFNDB = 0x18,
    H64_PSLOADED = 0x20,
    H64_PSACTIVE = 0x28,
    H64_MACHINE = 0x30,
    H64_NPROCS = 0x34,
    H64_BUGCODE = 0x38,
    H64_BUGPARAM = 0x40, /* four u64 */
    H64_KDDEBUGGER = 0x80,
    H64_PHYSMEM = 0x88,  /* PHYSICAL_MEMORY_DESCRIPTOR64 */
    H64_CONTEXT = 0x348, /* CONTEXT area: 3000 bytes */
    H64_CONTEXT_AREA = 3000,
    H64_EXCEPTION = 0xf00, /* EXCEPTION_RECORD64, 0x98 bytes */
    H64_DUMPTYPE = 0xf98,
    H64_REQSPACE = 0xfa0,
    H64_SYSTIME = 0xfa8,
    H64_COMMENT = 0xfb0, /* 128 bytes */
    H64_UPTIME = 0x1030,
    H64_MINIFIELDS = 0x1038,
    H64_SECONDARY = 0x103c,
    H64_PRODUCT = 0x1040,
    H64_SUITE = 0x1044,
    H64_WRITER = 0x1048,
    H64_KDSECONDARY = 0x104d, /* one byte, after Unused1 */
    H64_ATTRIBUTES = 0x1050,
    H64_BOOTID = 0x1054,
    H64_RESERVED = 0x1058, /* 4008 bytes to the end of the header */
};
/* PHYSICAL_MEMORY_DESCRIPTOR64: NumberOfRuns u32, pad, NumberOfPages u64, then
 * {BasePage u64, PageCount u64} runs up to the context area. */
enum { PMD64_NRUNS = 0x0, PMD64_NPAGES = 0x8, PMD64_RUNS = 0x10, RUN64_SIZE = 0x10 };
#define PMD64_MAX_RUNS ((H64_CONTEXT - H64_PHYSMEM - PMD64_RUNS) / RUN64_SIZE)
/* EXCEPTION_RECORD64 */
enum { EXR64_CODE = 0x0, EXR64_FLAGS = 0x4, EXR64_RECORD = 0x8, EXR64_ADDRESS = 0x10,
       EXR64_NPARAMS = 0x18, EXR64_INFO = 0x20, EXR64_SIZE = 0x98 };
enum { CTX_X64_SIZE = 0x4d0, CTX_ARM64_SIZE = 0x390, CTX_X64_FLAGS = 0x30, CTX_ARM64_FLAGS = 0x0 };

_Static_assert(PMD64_MAX_RUNS == 43, "the 64-bit run list holds 43 runs");
_Static_assert(H64_PHYSMEM + PMD64_RUNS + PMD64_MAX_RUNS * RUN64_SIZE == H64_CONTEXT,
               "runs end where the context starts");
_Static_assert(H64_CONTEXT + H64_CONTEXT_AREA <= H64_EXCEPTION, "context area before exception");
_Static_assert((int)CTX_X64_SIZE <= (int)H64_CONTEXT_AREA && (int)CTX_ARM64_SIZE <= (int)H64_CONTEXT_AREA,
               "contexts fit the header's context area");
_Static_assert(H64_EXCEPTION + EXR64_SIZE == H64_DUMPTYPE, "EXCEPTION_RECORD64 is 0x98 bytes");
_Static_assert(EXR64_INFO + 15 * 8 == EXR64_SIZE, "15 exception parameters");
_Static_assert(H64_SYSTIME + 8 == H64_COMMENT && H64_COMMENT + 128 == H64_UPTIME,
               "comment between SystemTime and SystemUpTime");
_Static_assert(H64_RESERVED + 4008 == H64_SIZE, "DUMP_HEADER64 is 0x2000 bytes");

/* Every DUMP_HEADER64 field, in the order WinDbg's .dumpdebug prints them. */
static const nk_kdump_fdef h64_fields[] = {
    {"MajorVersion", H64_MAJOR, 4},
    {"MinorVersion", H64_MINOR, 4},
    {"KdSecondaryVersion", H64_KDSECONDARY, 1},
    {"DirectoryTableBase", H64_DTB, 8},
    {"PfnDataBase", H64_PFNDB, 8},
    {"PsLoadedModuleList", H64_PSLOADED, 8},
    {"PsActiveProcessHead", H64_PSACTIVE, 8},
    {"MachineImageType", H64_MACHINE, 4},
    {"NumberProcessors", H64_NPROCS, 4},
    {"BugCheckCode", H64_BUGCODE, 4},
    {"BugCheckParameter1", H64_BUGPARAM, 8},
    {"BugCheckParameter2", H64_BUGPARAM + 8, 8},
    {"BugCheckParameter3", H64_BUGPARAM + 16, 8},
    {"BugCheckParameter4", H64_BUGPARAM + 24, 8},
    {"KdDebuggerDataBlock", H64_KDDEBUGGER, 8},
    {"DumpType", H64_DUMPTYPE, 4},
    {"RequiredDumpSpace", H64_REQSPACE, 8},
    {"SystemTime", H64_SYSTIME, 8},
    {"SystemUpTime", H64_UPTIME, 8},
    {"MiniDumpFields", H64_MINIFIELDS, 4},
    {"SecondaryDataState", H64_SECONDARY, 4},
    {"ProductType", H64_PRODUCT, 4},
    {"SuiteMask", H64_SUITE, 4},
    {"WriterStatus", H64_WRITER, 4},
    {"Attributes", H64_ATTRIBUTES, 4},
    {"BootId", H64_BOOTID, 4},
};

static uint64_t rd(const uint8_t *p, uint8_t width)
{
    switch (width) {
    case 1: return p[0];
    case 2: return nk_le16(p);
    case 4: return nk_le32(p);
    default: return nk_le64(p);
    }
}

void nk_kdump_record(ntkd_target *t, const char *section, const nk_kdump_fdef *defs, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        const uint8_t w = defs[i].width;
        if ((w != 1 && w != 2 && w != 4 && w != 8) || !nk_in_bounds(t->file.size, defs[i].off, w)) continue;
        nk_dump_field(t, section, defs[i].name, defs[i].off, rd(t->file.data + defs[i].off, defs[i].width),
                      defs[i].width, NULL);
    }
}

/* ---- bitmap and summary headers (shared with the 32-bit container) ---------------- */

/* One reading of a summary/bitmap header: where the bitmap and the page data start, how many
 * pages the bitmap describes and how many it says are present. */
typedef struct bmp_layout {
    bool wide;        /* u64 fields at +0x20 (BMP header / volatility's _SUMMARY_DUMP) */
    uint64_t data_off, present, bits, bmp_off;
} bmp_layout;

/* Wide layout ("SDMP"/"FDMP" + "DUMP"): FirstPage u64 +0x20, TotalPresentPages u64 +0x28,
 * Pages u64 +0x30, bitmap +0x38. Narrow layout (SUMMARY_DUMP32/64 of older kernel summary
 * dumps): DumpOptions +8, HeaderSize u32 +0xc, BitmapSize u32 +0x10, Pages u32 +0x14, an
 * RTL_BITMAP (SizeOfBitMap u32 +0x18, buffer pointer), bitmap +0x20 (32-bit) / +0x28. */
enum { BMPW_FIRSTPAGE = 0x20, BMPW_PRESENT = 0x28, BMPW_PAGES = 0x30, BMPW_BITMAP = 0x38,
       BMPN_OPTIONS = 0x8, BMPN_HEADERSIZE = 0xc, BMPN_BITMAPSIZE = 0x10, BMPN_PAGES = 0x14,
       BMPN_SIZEOFBITMAP = 0x18, BMPN_BITMAP32 = 0x20, BMPN_BITMAP64 = 0x28 };
_Static_assert(BMPW_PAGES + 8 == BMPW_BITMAP, "wide bitmap header is 0x38 bytes");

static uint64_t bmp_bytes(uint64_t bits) { return bits / 8 + ((bits & 7) != 0); }

/* A layout is plausible when it describes some pages, at most as many present as described,
 * and its data starts page-aligned just after the bitmap. */
static bool bmp_plausible(const bmp_layout *l)
{
    if (!l->bits || l->bits > (1ull << 52) || l->present > l->bits) return false;
    uint64_t end = l->bmp_off + bmp_bytes(l->bits);
    uint64_t end_page = (end + 0xfff) & ~0xfffull;
    return (l->data_off & 0xfff) == 0 && l->data_off >= end && l->data_off <= end_page + 0x100000;
}

nk_status nk_kdump_bitmap(ntkd_target *t, uint64_t hoff, uint32_t dump_type, bool is64)
{
    const nk_file *f = &t->file;
    const char *fn = nk_file_name(f);
    const bool summary = dump_type == 2;
    const char *section = summary ? (is64 ? "SUMMARY_DUMP64" : "SUMMARY_DUMP32")
                                  : (is64 ? "BMP_HEADER64" : "BMP_HEADER32");
    if (!nk_in_bounds(f->size, hoff, 8)) {
        nk_warn(t, "%s: %s at 0x%llx truncated: the file ends at 0x%llx; no physical memory is available",
                fn, section, (unsigned long long)hoff, (unsigned long long)f->size);
        return NTKD_OK;
    }
    const uint8_t *p = f->data + hoff;
    char sig[5], valid[5];
    nk_copy_cstr(sig, sizeof sig, p, 4);
    nk_copy_cstr(valid, sizeof valid, p + 4, 4);
    nk_dump_field(t, section, "Signature", hoff, nk_le32(p), 4, sig);
    nk_dump_field(t, section, "ValidDump", hoff + 4, nk_le32(p + 4), 4, valid);
    if ((memcmp(p, "SDMP", 4) != 0 && memcmp(p, "FDMP", 4) != 0) || memcmp(p + 4, "DUMP", 4) != 0) {
        nk_warn(t, "%s: %s at 0x%llx: signature \"%s%s\" is neither SDMPDUMP nor FDMPDUMP; no physical "
                "memory is available", fn, section, (unsigned long long)hoff, sig, valid);
        return NTKD_OK;
    }

    bmp_layout wide = {0}, narrow = {0};
    const bool have_wide = nk_in_bounds(f->size, hoff, BMPW_BITMAP);
    if (have_wide)
        wide = (bmp_layout){true, nk_le64(p + BMPW_FIRSTPAGE), nk_le64(p + BMPW_PRESENT),
                            nk_le64(p + BMPW_PAGES), hoff + BMPW_BITMAP};
    const uint64_t nhdr = is64 ? BMPN_BITMAP64 : BMPN_BITMAP32;
    const bool have_narrow = summary && nk_in_bounds(f->size, hoff, nhdr);
    if (have_narrow) {
        uint32_t sob = nk_le32(p + BMPN_SIZEOFBITMAP);
        narrow = (bmp_layout){false, nk_le32(p + BMPN_HEADERSIZE), nk_le32(p + BMPN_PAGES),
                              sob ? sob : nk_le32(p + BMPN_BITMAPSIZE), hoff + nhdr};
    }
    bmp_layout l;
    if (have_wide && (!summary || bmp_plausible(&wide))) l = wide;
    else if (have_narrow && bmp_plausible(&narrow)) l = narrow;
    else if (have_wide) l = wide;
    else {
        nk_warn(t, "%s: %s at 0x%llx truncated: need 0x%x bytes, the file ends at 0x%llx; no physical "
                "memory is available", fn, section, (unsigned long long)hoff, BMPW_BITMAP,
                (unsigned long long)f->size);
        return NTKD_OK;
    }
    if (l.wide) {
        const nk_kdump_fdef defs[] = {
            {"DumpOptions", (uint32_t)hoff + BMPN_OPTIONS, 4},
            {"FirstPage", (uint32_t)hoff + BMPW_FIRSTPAGE, 8},
            {"TotalPresentPages", (uint32_t)hoff + BMPW_PRESENT, 8},
            {"Pages", (uint32_t)hoff + BMPW_PAGES, 8},
        };
        nk_kdump_record(t, section, defs, sizeof defs / sizeof defs[0]);
    } else {
        const nk_kdump_fdef defs[] = {
            {"DumpOptions", (uint32_t)hoff + BMPN_OPTIONS, 4},
            {"HeaderSize", (uint32_t)hoff + BMPN_HEADERSIZE, 4},
            {"BitmapSize", (uint32_t)hoff + BMPN_BITMAPSIZE, 4},
            {"Pages", (uint32_t)hoff + BMPN_PAGES, 4},
            {"Bitmap.SizeOfBitMap", (uint32_t)hoff + BMPN_SIZEOFBITMAP, 4},
        };
        nk_kdump_record(t, section, defs, sizeof defs / sizeof defs[0]);
    }

    if (!l.bits) {
        nk_warn(t, "%s: %s at 0x%llx describes no pages; no physical memory is available", fn, section,
                (unsigned long long)hoff);
        return NTKD_OK;
    }
    if ((l.data_off & 0xfff) || l.data_off <= l.bmp_off) {
        nk_warn(t, "%s: %s at 0x%llx: page data offset 0x%llx is not page aligned or lies inside the "
                "header (the bitmap starts at 0x%llx); no physical memory is available", fn, section,
                (unsigned long long)hoff, (unsigned long long)l.data_off, (unsigned long long)l.bmp_off);
        return NTKD_OK;
    }
    uint64_t nbits = l.bits;
    const uint64_t room = l.data_off - l.bmp_off; /* the bitmap ends where the page data starts */
    if (bmp_bytes(nbits) > room) {
        nbits = room * 8;
        nk_warn(t, "%s: %s at 0x%llx: 0x%llx pages need a bitmap of 0x%llx bytes but the page data starts "
                "at 0x%llx; only the first 0x%llx pages are described", fn, section, (unsigned long long)hoff,
                (unsigned long long)l.bits, (unsigned long long)bmp_bytes(l.bits),
                (unsigned long long)l.data_off, (unsigned long long)nbits);
    }
    if (!nk_in_bounds(f->size, l.bmp_off, bmp_bytes(nbits))) {
        uint64_t have = f->size > l.bmp_off ? f->size - l.bmp_off : 0;
        nk_warn(t, "%s: bitmap at 0x%llx describes 0x%llx pages (0x%llx bytes) but the file ends at 0x%llx; "
                "only the first 0x%llx pages are described", fn, (unsigned long long)l.bmp_off,
                (unsigned long long)nbits, (unsigned long long)bmp_bytes(nbits), (unsigned long long)f->size,
                (unsigned long long)(have * 8));
        nbits = have * 8;
    }
    nk_physmap *pm = &t->d.phys;
    pm->kind = NK_PHYS_BITMAP;
    pm->bitmap = f->data + l.bmp_off;
    pm->nbits = nbits;
    pm->data_off = l.data_off;
    nk_status st = nk_physmap_index_bitmap(t);
    if (st != NTKD_OK) {
        pm->kind = NK_PHYS_NONE;
        return st;
    }
    uint64_t marked = pm->rank[pm->nblocks];
    if (nbits == l.bits && marked != l.present)
        nk_warn(t, "%s: %s at 0x%llx counts 0x%llx present pages but its bitmap marks 0x%llx; the bitmap is "
                "used", fn, section, (unsigned long long)hoff, (unsigned long long)l.present,
                (unsigned long long)marked);
    return NTKD_OK;
}

/* ---- the 64-bit header -------------------------------------------------------------- */

bool nk_kdump_comment_set(const uint8_t *c)
{
    if (!c[0]) return false;
    for (size_t i = 0; i < 128; i += 4)
        if (memcmp(c + i, "PAGE", 4) != 0) return true;
    return false; /* all filler */
}

nk_status nk_kdump_runs(ntkd_target *t, const nk_kdump_runs_layout *l)
{
    const char *fn = nk_file_name(&t->file);
    const char *sec = "Physical Memory Description";
    const uint8_t *h = t->file.data;
    nk_dump *d = &t->d;
    const uint32_t nruns_at = l->desc_off, npages_at = l->desc_off + l->npages_off;
    uint32_t nruns = nk_le32(h + nruns_at);
    uint64_t npages = rd(h + npages_at, l->width);
    nk_dump_field(t, sec, "NumberOfRuns", nruns_at, nruns, 4, NULL);
    nk_dump_field(t, sec, "NumberOfPages", npages_at, npages, l->width, NULL);
    d->phys.kind = NK_PHYS_RUNS;
    if (nk_kdump_unset32(nruns)) {
        nk_warn(t, "%s: NumberOfRuns at 0x%x was never written (it holds the PAGE filler); no physical "
                "memory is available", fn, nruns_at);
        return NTKD_OK;
    }
    if (nruns > l->max_runs) {
        nk_warn(t, "%s: NumberOfRuns %u at 0x%x is more than the %u runs the descriptor can hold before "
                "the context at 0x%x; reading %u", fn, nruns, nruns_at, l->max_runs, l->ctx_off,
                l->max_runs);
        nruns = l->max_runs;
    }
    if (!nruns)
        nk_warn(t, "%s: NumberOfRuns at 0x%x is 0: the dump describes no physical memory", fn, nruns_at);
    d->phys.runs = calloc(nruns ? nruns : 1, sizeof *d->phys.runs);
    if (!d->phys.runs) return nk_fail(t->ctx, NTKD_E_NOMEM, "%s: out of memory", fn);
    uint64_t off = l->data_off, sum = 0;
    for (uint32_t i = 0; i < nruns; i++) {
        uint64_t at = l->desc_off + l->runs_off + (uint64_t)i * 2 * l->width;
        uint64_t base = rd(h + at, l->width), count = rd(h + at + l->width, l->width);
        char name[40];
        snprintf(name, sizeof name, "Run[%u].FileOffset", i);
        nk_dump_field(t, sec, name, at, off, 8, NULL);
        snprintf(name, sizeof name, "Run[%u].BasePage", i);
        nk_dump_field(t, sec, name, at, base, l->width, NULL);
        snprintf(name, sizeof name, "Run[%u].PageCount", i);
        nk_dump_field(t, sec, name, at + l->width, count, l->width, NULL);
        d->phys.runs[i] = (nk_phys_run){base, count, off};
        off = count > (UINT64_MAX - off) / 4096 ? UINT64_MAX : off + count * 4096;
        sum = count > UINT64_MAX - sum ? UINT64_MAX : sum + count;
    }
    d->phys.nruns = nruns;
    if (sum != npages)
        nk_warn(t, "%s: NumberOfPages 0x%llx at 0x%x differs from the 0x%llx pages its runs describe", fn,
                (unsigned long long)npages, npages_at, (unsigned long long)sum);
    return nk_physmap_check_runs(t);
}

static const nk_kdump_hdr_layout hdr64 = {
    .section = "DUMP_HEADER64", .ptr = 8, .major = H64_MAJOR, .minor = H64_MINOR, .dtb = H64_DTB,
    .pfndb = H64_PFNDB, .psloaded = H64_PSLOADED, .psactive = H64_PSACTIVE, .nprocs = H64_NPROCS,
    .bugcode = H64_BUGCODE, .bugparam = H64_BUGPARAM, .kddebugger = H64_KDDEBUGGER,
    .dumptype = H64_DUMPTYPE, .product = H64_PRODUCT, .suite = H64_SUITE, .systime = H64_SYSTIME,
    .uptime = H64_UPTIME, .comment = H64_COMMENT,
};

void nk_kdump_header_facts(ntkd_target *t, const nk_kdump_hdr_layout *l)
{
    nk_dump *d = &t->d;
    const uint8_t *h = t->file.data;
    d->dump_type = nk_le32(h + l->dumptype);
    d->major = nk_le32(h + l->major);
    d->minor = nk_le32(h + l->minor);
    d->nprocs = nk_le32(h + l->nprocs);
    d->dtb = rd(h + l->dtb, l->ptr);
    d->pfn_database = rd(h + l->pfndb, l->ptr);
    d->ps_loaded_module_list = rd(h + l->psloaded, l->ptr);
    d->ps_active_process_head = rd(h + l->psactive, l->ptr);
    d->kd_debugger_data_block = rd(h + l->kddebugger, l->ptr);
    d->has_bugcheck = true;
    d->bugcheck_code = nk_le32(h + l->bugcode);
    for (int i = 0; i < 4; i++) d->bugcheck_params[i] = rd(h + l->bugparam + l->ptr * i, l->ptr);
    d->bugcheck_cpu = 0;
    uint32_t v32 = nk_le32(h + l->product);
    d->product_type = nk_kdump_unset32(v32) ? 0 : v32;
    v32 = nk_le32(h + l->suite);
    d->suite_mask = nk_kdump_unset32(v32) ? 0 : v32;
    uint64_t v64 = nk_le64(h + l->systime);
    d->system_time = nk_kdump_unset64(v64) ? 0 : v64;
    v64 = nk_le64(h + l->uptime);
    d->system_uptime = nk_kdump_unset64(v64) ? 0 : v64;
    if (nk_kdump_comment_set(h + l->comment)) {
        nk_copy_cstr(d->comment, sizeof d->comment, h + l->comment, 128);
        nk_dump_field(t, l->section, "Comment", l->comment, 0, 0, d->comment);
    }
}

static const nk_kdump_runs_layout runs64 = {
    .desc_off = H64_PHYSMEM, .npages_off = PMD64_NPAGES, .runs_off = PMD64_RUNS, .width = 8,
    .max_runs = PMD64_MAX_RUNS, .ctx_off = H64_CONTEXT, .data_off = H64_SIZE,
};

nk_status nk_kdump64_open(ntkd_target *t)
{
    const nk_file *f = &t->file;
    if (f->size < 8 || memcmp(f->data, "PAGEDU64", 8) != 0) return NTKD_E_FORMAT;
    const char *fn = nk_file_name(f);
    if (f->size < H64_SIZE)
        return nk_fail(t->ctx, NTKD_E_TRUNCATED,
                       "%s: DUMP_HEADER64 truncated at 0x%llx: need 0x%x bytes, file has 0x%llx", fn,
                       (unsigned long long)f->size, H64_SIZE, (unsigned long long)f->size);
    const uint8_t *h = f->data;
    nk_dump *d = &t->d;

    d->machine = nk_le32(h + H64_MACHINE);
    size_t ctx_len, ctx_flags_off;
    switch (d->machine) {
    case NK_MACHINE_AMD64:
        d->arch = NK_ARCH_X64;
        d->paging = NK_PAGING_X64_4L;
        ctx_len = CTX_X64_SIZE;
        ctx_flags_off = CTX_X64_FLAGS;
        break;
    case NK_MACHINE_ARM64:
        d->arch = NK_ARCH_ARM64;
        d->paging = NK_PAGING_ARM64_4K;
        ctx_len = CTX_ARM64_SIZE;
        ctx_flags_off = CTX_ARM64_FLAGS;
        break;
    default:
        return nk_fail(t->ctx, NTKD_E_UNSUPPORTED,
                       "%s: MachineImageType 0x%x at 0x%x is neither x64 (0x8664) nor ARM64 (0xaa64)", fn,
                       d->machine, H64_MACHINE);
    }
    nk_kdump_record(t, "DUMP_HEADER64", h64_fields, sizeof h64_fields / sizeof h64_fields[0]);

    d->is64 = true;
    nk_kdump_header_facts(t, &hdr64);

    /* The header's register context (ContextFlags never holds the filler when it was written). */
    if (!nk_kdump_unset32(nk_le32(h + H64_CONTEXT + ctx_flags_off))) {
        d->contexts[0] = (nk_context){d->arch, h + H64_CONTEXT, ctx_len, "dump header"};
        d->ncontexts = 1;
    }

    /* The exception record, when one was written. */
    const uint8_t *x = h + H64_EXCEPTION;
    uint32_t code = nk_le32(x + EXR64_CODE);
    if (code && !nk_kdump_unset32(code))
        nk_exception_decode(x, EXR64_SIZE, true, &d->exception);

    switch (d->dump_type) {
    case 1:
        d->kind = NK_KIND_KERNEL_FULL;
        return nk_kdump_runs(t, &runs64);
    case 2:
        d->kind = NK_KIND_KERNEL_SUMMARY;
        return nk_kdump_bitmap(t, H64_SIZE, d->dump_type, true);
    case 4: {
        d->kind = NK_KIND_KERNEL_TRIAGE;
        d->paging = NK_PAGING_NONE; /* a small dump holds no page tables */
        nk_status st = nk_triage_parse(t, H64_SIZE);
        if (st == NTKD_OK || st == NTKD_E_NOMEM) return st;
        /* The header facts stay usable without the triage body. */
        nk_warn(t, "%s; only the dump header is available", t->ctx->errmsg[0] ? t->ctx->errmsg : fn);
        t->ctx->errmsg[0] = 0;
        return NTKD_OK;
    }
    case 5: case 6: case 8: case 9: case 0xa:
        d->kind = NK_KIND_KERNEL_BITMAP;
        return nk_kdump_bitmap(t, H64_SIZE, d->dump_type, true);
    default:
        return nk_fail(t->ctx, NTKD_E_UNSUPPORTED,
                       "%s: DumpType 0x%x at 0x%x is not one ntkd reads (1 full, 2 kernel summary, "
                       "4 small, 5/6/8/9/0xA bitmap)", fn, d->dump_type, H64_DUMPTYPE);
    }
}
