/* kdump32.c: the 32-bit (x86) kernel dump container ("PAGEDUMP"). A 0x1000-byte DUMP_HEADER32
 * with 32-bit pointers, a PaeEnabled flag that selects the paging mode, an x86 CONTEXT and an
 * EXCEPTION_RECORD32; then page data in run order (full dumps), a summary/bitmap header at
 * 0x1000 (shared code in kdump64.c), or a triage body at 0x1000 (triage.c).
 *
 * Layout facts: volatility3 crash.json, Ghidra's pagedump loader, the Windows SDK metadata
 * of DUMP_HEADER32 (Attributes, BootId). */
#include <stdio.h>
#include <stdlib.h>

#include "dump/dump.h"

enum {
    H32_SIZE = 0x1000,
    H32_MAJOR = 0x08,
    H32_MINOR = 0x0c,
    H32_DTB = 0x10,
    H32_PFNDB = 0x14,
    H32_PSLOADED = 0x18,
    H32_PSACTIVE = 0x1c,
    H32_MACHINE = 0x20,
    H32_NPROCS = 0x24,
    H32_BUGCODE = 0x28,
    H32_BUGPARAM = 0x2c,    /* four u32 */
    H32_VERSIONUSER = 0x3c, /* 32 bytes */
    H32_PAE = 0x5c,
    H32_KDSECONDARY = 0x5d,
    H32_KDDEBUGGER = 0x60,
    H32_PHYSMEM = 0x64,     /* PHYSICAL_MEMORY_DESCRIPTOR32, a 700-byte area */
    H32_PHYSMEM_AREA = 700,
    H32_CONTEXT = 0x320,    /* 1200-byte area */
    H32_CONTEXT_AREA = 1200,
    H32_EXCEPTION = 0x7d0,  /* EXCEPTION_RECORD32, 0x50 bytes */
    H32_COMMENT = 0x820,
    H32_ATTRIBUTES = 0x8a0,
    H32_BOOTID = 0x8a4,
    H32_RESERVED0 = 0x8a8,  /* 1760 bytes */
    H32_DUMPTYPE = 0xf88,
    H32_MINIFIELDS = 0xf8c,
    H32_SECONDARY = 0xf90,
    H32_PRODUCT = 0xf94,
    H32_SUITE = 0xf98,
    H32_WRITER = 0xf9c,
    H32_REQSPACE = 0xfa0,
    H32_UPTIME = 0xfb8,
    H32_SYSTIME = 0xfc0,
    H32_RESERVED3 = 0xfc8,  /* 56 bytes to the end of the header */
};
enum { PMD32_NRUNS = 0x0, PMD32_NPAGES = 0x4, PMD32_RUNS = 0x8, RUN32_SIZE = 0x8 };
#define PMD32_MAX_RUNS ((H32_PHYSMEM_AREA - PMD32_RUNS) / RUN32_SIZE)
enum { EXR32_CODE = 0x0, EXR32_FLAGS = 0x4, EXR32_RECORD = 0x8, EXR32_ADDRESS = 0xc,
       EXR32_NPARAMS = 0x10, EXR32_INFO = 0x14, EXR32_SIZE = 0x50 };
enum { CTX_X86_SIZE = 0x2cc, CTX_X86_FLAGS = 0x0 };

_Static_assert(H32_VERSIONUSER + 32 == H32_PAE, "PaeEnabled follows VersionUser");
_Static_assert(H32_PHYSMEM + H32_PHYSMEM_AREA == H32_CONTEXT, "context follows the run area");
_Static_assert(PMD32_MAX_RUNS == 86, "the 32-bit run list holds 86 runs");
_Static_assert(H32_CONTEXT + H32_CONTEXT_AREA == H32_EXCEPTION, "exception follows the context");
_Static_assert((int)CTX_X86_SIZE <= (int)H32_CONTEXT_AREA, "x86 CONTEXT fits its area");
_Static_assert(H32_EXCEPTION + EXR32_SIZE == H32_COMMENT, "EXCEPTION_RECORD32 is 0x50 bytes");
_Static_assert(EXR32_INFO + 15 * 4 == EXR32_SIZE, "15 exception parameters");
_Static_assert(H32_COMMENT + 128 == H32_ATTRIBUTES, "Attributes follow the comment");
_Static_assert(H32_RESERVED0 + 1760 == H32_DUMPTYPE, "DumpType at 0xf88");
_Static_assert(H32_REQSPACE + 8 + 16 == H32_UPTIME, "SystemUpTime after _reserved2");
_Static_assert(H32_RESERVED3 + 56 == H32_SIZE, "DUMP_HEADER32 is 0x1000 bytes");

static const nk_kdump_fdef h32_fields[] = {
    {"MajorVersion", H32_MAJOR, 4},
    {"MinorVersion", H32_MINOR, 4},
    {"KdSecondaryVersion", H32_KDSECONDARY, 1},
    {"DirectoryTableBase", H32_DTB, 4},
    {"PfnDataBase", H32_PFNDB, 4},
    {"PsLoadedModuleList", H32_PSLOADED, 4},
    {"PsActiveProcessHead", H32_PSACTIVE, 4},
    {"MachineImageType", H32_MACHINE, 4},
    {"NumberProcessors", H32_NPROCS, 4},
    {"BugCheckCode", H32_BUGCODE, 4},
    {"BugCheckParameter1", H32_BUGPARAM, 4},
    {"BugCheckParameter2", H32_BUGPARAM + 4, 4},
    {"BugCheckParameter3", H32_BUGPARAM + 8, 4},
    {"BugCheckParameter4", H32_BUGPARAM + 12, 4},
    {"PaeEnabled", H32_PAE, 1},
    {"KdDebuggerDataBlock", H32_KDDEBUGGER, 4},
    {"DumpType", H32_DUMPTYPE, 4},
    {"RequiredDumpSpace", H32_REQSPACE, 8},
    {"SystemTime", H32_SYSTIME, 8},
    {"SystemUpTime", H32_UPTIME, 8},
    {"MiniDumpFields", H32_MINIFIELDS, 4},
    {"SecondaryDataState", H32_SECONDARY, 4},
    {"ProductType", H32_PRODUCT, 4},
    {"SuiteMask", H32_SUITE, 4},
    {"WriterStatus", H32_WRITER, 4},
    {"Attributes", H32_ATTRIBUTES, 4},
    {"BootId", H32_BOOTID, 4},
};

static const nk_kdump_hdr_layout hdr32 = {
    .section = "DUMP_HEADER32", .ptr = 4, .major = H32_MAJOR, .minor = H32_MINOR, .dtb = H32_DTB,
    .pfndb = H32_PFNDB, .psloaded = H32_PSLOADED, .psactive = H32_PSACTIVE, .nprocs = H32_NPROCS,
    .bugcode = H32_BUGCODE, .bugparam = H32_BUGPARAM, .kddebugger = H32_KDDEBUGGER,
    .dumptype = H32_DUMPTYPE, .product = H32_PRODUCT, .suite = H32_SUITE, .systime = H32_SYSTIME,
    .uptime = H32_UPTIME, .comment = H32_COMMENT,
};

static const nk_kdump_runs_layout runs32 = {
    .desc_off = H32_PHYSMEM, .npages_off = PMD32_NPAGES, .runs_off = PMD32_RUNS, .width = 4,
    .max_runs = PMD32_MAX_RUNS, .ctx_off = H32_CONTEXT, .data_off = H32_SIZE,
};

nk_status nk_kdump32_open(ntkd_target *t)
{
    const nk_file *f = &t->file;
    if (f->size < 8 || memcmp(f->data, "PAGEDUMP", 8) != 0) return NTKD_E_FORMAT;
    const char *fn = nk_file_name(f);
    if (f->size < H32_SIZE)
        return nk_fail(t->ctx, NTKD_E_TRUNCATED,
                       "%s: DUMP_HEADER32 truncated at 0x%llx: need 0x%x bytes, file has 0x%llx", fn,
                       (unsigned long long)f->size, H32_SIZE, (unsigned long long)f->size);
    const uint8_t *h = f->data;
    nk_dump *d = &t->d;

    d->machine = nk_le32(h + H32_MACHINE);
    if (d->machine != NK_MACHINE_I386)
        return nk_fail(t->ctx, NTKD_E_UNSUPPORTED, "%s: MachineImageType 0x%x at 0x%x is not x86 (0x14c)",
                       fn, d->machine, H32_MACHINE);
    nk_kdump_record(t, "DUMP_HEADER32", h32_fields, sizeof h32_fields / sizeof h32_fields[0]);

    d->arch = NK_ARCH_X86;
    d->is64 = false;
    d->paging = h[H32_PAE] ? NK_PAGING_X86_PAE : NK_PAGING_X86;
    nk_kdump_header_facts(t, &hdr32);

    if (!nk_kdump_unset32(nk_le32(h + H32_CONTEXT + CTX_X86_FLAGS))) {
        d->contexts[0] = (nk_context){NK_ARCH_X86, h + H32_CONTEXT, CTX_X86_SIZE, "dump header"};
        d->ncontexts = 1;
    }

    const uint8_t *x = h + H32_EXCEPTION;
    uint32_t code = nk_le32(x + EXR32_CODE);
    if (code && !nk_kdump_unset32(code))
        nk_exception_decode(x, EXR32_SIZE, false, &d->exception);

    switch (d->dump_type) {
    case 1:
        d->kind = NK_KIND_KERNEL_FULL;
        return nk_kdump_runs(t, &runs32);
    case 2:
        d->kind = NK_KIND_KERNEL_SUMMARY;
        return nk_kdump_bitmap(t, H32_SIZE, d->dump_type, false);
    case 4: {
        d->kind = NK_KIND_KERNEL_TRIAGE;
        d->paging = NK_PAGING_NONE;
        nk_status st = nk_triage_parse(t, H32_SIZE);
        if (st == NTKD_OK || st == NTKD_E_NOMEM) return st;
        nk_warn(t, "%s; only the dump header is available", t->ctx->errmsg[0] ? t->ctx->errmsg : fn);
        t->ctx->errmsg[0] = 0;
        return NTKD_OK;
    }
    case 5: case 6: case 8: case 9: case 0xa:
        d->kind = NK_KIND_KERNEL_BITMAP;
        return nk_kdump_bitmap(t, H32_SIZE, d->dump_type, false);
    default:
        return nk_fail(t->ctx, NTKD_E_UNSUPPORTED,
                       "%s: DumpType 0x%x at 0x%x is not one ntkd reads (1 full, 2 kernel summary, "
                       "4 small, 5/6/8/9/0xA bitmap)", fn, d->dump_type, H32_DUMPTYPE);
    }
}
