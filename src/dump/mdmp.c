/* mdmp.c: user-mode minidumps ("MDMP"). Reads the header and stream directory, then the
 * streams a debugger needs: system and process facts, threads with their register contexts,
 * loaded and unloaded modules, the memory the dump carries, the exception, handles and
 * comments. Every location (RVA and size) is checked against the file before it is read;
 * a stream that is damaged is reported as a warning and the rest of the dump stays usable.
 *
 * Layout facts: Microsoft's minidumpapiset.h documentation (MINIDUMP_* structures) and
 * rust-minidump's minidump-common/src/format.rs (Breakpad extension streams). */
#include <stdio.h>
#include <stdlib.h>

#include "dump/dump.h"

/* ---- on-disk layout (offsets inside each structure) -------------------------------- */

#define MD_SIGNATURE 0x504d444du /* "MDMP" */
#define MD_VERSION_LO 0xa793u

/* MINIDUMP_HEADER */
enum {
    MDH_SIGNATURE = 0x00, MDH_VERSION = 0x04, MDH_NSTREAMS = 0x08, MDH_DIR_RVA = 0x0c,
    MDH_CHECKSUM = 0x10, MDH_TIMESTAMP = 0x14, MDH_FLAGS = 0x18, MDH_SIZE = 0x20,
};
/* MINIDUMP_DIRECTORY: StreamType, Location { DataSize, Rva } */
enum { MDD_TYPE = 0x0, MDD_SIZE = 0x4, MDD_RVA = 0x8, MDD_ENTRY = 0xc };
/* MINIDUMP_THREAD (MINIDUMP_THREAD_EX adds BackingStore, a memory descriptor) */
enum {
    MDT_ID = 0x00, MDT_SUSPEND = 0x04, MDT_PRIOCLASS = 0x08, MDT_PRIO = 0x0c, MDT_TEB = 0x10,
    MDT_STACK_START = 0x18, MDT_STACK_SIZE = 0x20, MDT_STACK_RVA = 0x24,
    MDT_CTX_SIZE = 0x28, MDT_CTX_RVA = 0x2c, MDT_ENTRY = 0x30, MDT_EX_ENTRY = 0x40,
};
/* MINIDUMP_MODULE */
enum {
    MDM_BASE = 0x00, MDM_SIZE = 0x08, MDM_CHECKSUM = 0x0c, MDM_TIMESTAMP = 0x10,
    MDM_NAME_RVA = 0x14, MDM_VERSION = 0x18, MDM_CV_SIZE = 0x4c, MDM_CV_RVA = 0x50,
    MDM_MISC_SIZE = 0x54, MDM_MISC_RVA = 0x58, MDM_ENTRY = 0x6c,
};
/* VS_FIXEDFILEINFO (13 DWORDs) */
enum {
    VS_SIGNATURE = 0x00, VS_FILE_MS = 0x08, VS_FILE_LS = 0x0c, VS_PROD_MS = 0x10,
    VS_PROD_LS = 0x14, VS_SIZE = 0x34,
};
#define VS_FFI_SIGNATURE 0xfeef04bdu
/* MINIDUMP_UNLOADED_MODULE_LIST header and MINIDUMP_UNLOADED_MODULE */
enum { MDU_HDR_SIZE = 0x0, MDU_ENTRY_SIZE = 0x4, MDU_COUNT = 0x8, MDU_HDR = 0xc };
enum {
    MDUM_BASE = 0x00, MDUM_SIZE = 0x08, MDUM_CHECKSUM = 0x0c, MDUM_TIMESTAMP = 0x10,
    MDUM_NAME_RVA = 0x14, MDUM_ENTRY = 0x18,
};
/* MINIDUMP_MEMORY_DESCRIPTOR / MINIDUMP_MEMORY64_LIST / MINIDUMP_MEMORY_DESCRIPTOR64 */
enum { MDMD_START = 0x0, MDMD_SIZE = 0x8, MDMD_RVA = 0xc, MDMD_ENTRY = 0x10 };
enum { MD64_COUNT = 0x0, MD64_BASE_RVA = 0x8, MD64_HDR = 0x10 };
enum { MD64D_START = 0x0, MD64D_SIZE = 0x8, MD64D_ENTRY = 0x10 };
/* MINIDUMP_EXCEPTION_STREAM with its MINIDUMP_EXCEPTION at 0x08 */
enum {
    MDE_THREAD_ID = 0x00, MDE_CODE = 0x08, MDE_FLAGS = 0x0c, MDE_RECORD = 0x10,
    MDE_ADDRESS = 0x18, MDE_NPARAMS = 0x20, MDE_PARAMS = 0x28, MDE_CTX_SIZE = 0xa0,
    MDE_CTX_RVA = 0xa4, MDE_SIZE = 0xa8,
};
#define MD_EXCEPTION_MAX_PARAMS 15
/* MINIDUMP_SYSTEM_INFO */
enum {
    MDS_ARCH = 0x00, MDS_LEVEL = 0x02, MDS_REVISION = 0x04, MDS_NPROCS = 0x06,
    MDS_PRODUCT = 0x07, MDS_MAJOR = 0x08, MDS_MINOR = 0x0c, MDS_BUILD = 0x10,
    MDS_PLATFORM = 0x14, MDS_CSD_RVA = 0x18, MDS_SUITE = 0x1c, MDS_CPU = 0x20, MDS_SIZE = 0x38,
};
/* MINIDUMP_MISC_INFO and its larger versions 2..5 (each extends the previous) */
enum {
    MDX_SIZE = 0x00, MDX_FLAGS1 = 0x04, MDX_PID = 0x08, MDX_CREATE = 0x0c, MDX_USER = 0x10,
    MDX_KERNEL = 0x14, MDX_V1_END = 0x18,
    MDX_MAX_MHZ = 0x18, MDX_CUR_MHZ = 0x1c, MDX_MHZ_LIMIT = 0x20, MDX_MAX_IDLE = 0x24,
    MDX_CUR_IDLE = 0x28, MDX_V2_END = 0x2c,
    MDX_INTEGRITY = 0x2c, MDX_EXEC_FLAGS = 0x30, MDX_PROTECTED = 0x34, MDX_TZ_ID = 0x38,
    MDX_TZ = 0x3c, MDX_V3_END = 0xe8,
    MDX_BUILD_STR = 0xe8, MDX_DBG_BLD_STR = 0x2f0, MDX_V4_END = 0x340,
    MDX_XSTATE = 0x340, MDX_COOKIE = 0x550, MDX_V5_END = 0x554,
};
#define MISC1_PROCESS_ID 0x001u
#define MISC1_PROCESS_TIMES 0x002u
#define MISC1_POWER_INFO 0x004u
#define MISC3_INTEGRITY 0x010u
#define MISC3_EXECUTE_FLAGS 0x020u
#define MISC3_TIMEZONE 0x040u
#define MISC3_PROTECTED 0x080u
#define MISC4_BUILDSTRING 0x100u
#define MISC5_PROCESS_COOKIE 0x200u
/* MINIDUMP_HANDLE_DATA_STREAM and MINIDUMP_HANDLE_DESCRIPTOR(_2) */
enum { MDHD_HDR_SIZE = 0x0, MDHD_DESC_SIZE = 0x4, MDHD_COUNT = 0x8, MDHD_HDR = 0x10 };
enum {
    MDHDE_HANDLE = 0x00, MDHDE_TYPE_RVA = 0x08, MDHDE_NAME_RVA = 0x0c, MDHDE_ATTR = 0x10,
    MDHDE_ACCESS = 0x14, MDHDE_HCOUNT = 0x18, MDHDE_PCOUNT = 0x1c, MDHDE_ENTRY = 0x20,
    MDHDE2_ENTRY = 0x28,
};
/* Breakpad extensions: MINIDUMP_BREAKPAD_INFO and MINIDUMP_ASSERTION_INFO */
enum { BPI_VALIDITY = 0x0, BPI_DUMP_TID = 0x4, BPI_REQ_TID = 0x8, BPI_SIZE = 0xc };
enum { BPA_EXPR = 0x000, BPA_FUNC = 0x100, BPA_FILE = 0x200, BPA_LINE = 0x300, BPA_TYPE = 0x304, BPA_SIZE = 0x308 };

/* Windows CONTEXT sizes, and where each keeps its ContextFlags and architecture bit. */
#define CTX_SIZE_X64 0x4d0u
#define CTX_SIZE_X86 0x2ccu
#define CTX_SIZE_ARM64 0x390u

_Static_assert(MDH_FLAGS + 8 == MDH_SIZE, "MINIDUMP_HEADER is 32 bytes");
_Static_assert(MDD_RVA + 4 == MDD_ENTRY, "MINIDUMP_DIRECTORY is 12 bytes");
_Static_assert(MDT_CTX_RVA + 4 == MDT_ENTRY, "MINIDUMP_THREAD is 48 bytes");
_Static_assert(MDT_ENTRY + MDMD_ENTRY == MDT_EX_ENTRY, "MINIDUMP_THREAD_EX adds a memory descriptor");
_Static_assert(MDM_VERSION + VS_SIZE == MDM_CV_SIZE, "VS_FIXEDFILEINFO is 52 bytes");
_Static_assert(MDM_MISC_RVA + 4 + 16 == MDM_ENTRY, "MINIDUMP_MODULE is 108 bytes");
_Static_assert(MDUM_NAME_RVA + 4 == MDUM_ENTRY, "MINIDUMP_UNLOADED_MODULE is 24 bytes");
_Static_assert(MDMD_RVA + 4 == MDMD_ENTRY, "MINIDUMP_MEMORY_DESCRIPTOR is 16 bytes");
_Static_assert(MDE_PARAMS + 8 * MD_EXCEPTION_MAX_PARAMS == MDE_CTX_SIZE, "15 exception parameters");
_Static_assert(MDE_CTX_RVA + 4 == MDE_SIZE, "MINIDUMP_EXCEPTION_STREAM is 168 bytes");
_Static_assert(MDS_CPU + 24 == MDS_SIZE, "MINIDUMP_SYSTEM_INFO is 56 bytes");
_Static_assert(MDX_TZ + 172 == MDX_V3_END, "TIME_ZONE_INFORMATION is 172 bytes");
_Static_assert(MDX_BUILD_STR + 2 * 260 == MDX_DBG_BLD_STR && MDX_DBG_BLD_STR + 2 * 40 == MDX_V4_END,
               "MINIDUMP_MISC_INFO_4 strings");
_Static_assert(MDX_XSTATE + 16 + 64 * 8 == MDX_COOKIE && MDX_COOKIE + 4 == MDX_V5_END,
               "MINIDUMP_MISC_INFO_5");
_Static_assert(MDHDE_PCOUNT + 4 == MDHDE_ENTRY && MDHDE_ENTRY + 8 == MDHDE2_ENTRY,
               "MINIDUMP_HANDLE_DESCRIPTOR is 32 bytes, _2 is 40");
_Static_assert(BPA_TYPE + 4 == BPA_SIZE, "MINIDUMP_ASSERTION_INFO is 776 bytes");

/* Stream types. */
enum {
    ST_UNUSED = 0, ST_THREAD_LIST = 3, ST_MODULE_LIST = 4, ST_MEMORY_LIST = 5, ST_EXCEPTION = 6,
    ST_SYSTEM_INFO = 7, ST_THREAD_EX_LIST = 8, ST_MEMORY64_LIST = 9, ST_COMMENT_A = 10,
    ST_COMMENT_W = 11, ST_HANDLE_DATA = 12, ST_UNLOADED_MODULES = 14, ST_MISC_INFO = 15,
};
#define ST_BREAKPAD_INFO 0x47670001u
#define ST_BREAKPAD_ASSERTION 0x47670002u

/* Limits against hostile counts (beyond the file-size bounds every count also meets). */
#define MD_MAX_STREAMS 4096u
#define MD_MAX_STRING_BYTES 0x10000u

static const char *stream_name(uint32_t type)
{
    static const char *const names[] = {
        "UnusedStream", "ReservedStream0", "ReservedStream1", "ThreadListStream",
        "ModuleListStream", "MemoryListStream", "ExceptionStream", "SystemInfoStream",
        "ThreadExListStream", "Memory64ListStream", "CommentStreamA", "CommentStreamW",
        "HandleDataStream", "FunctionTableStream", "UnloadedModuleListStream",
        "MiscInfoStream", "MemoryInfoListStream", "ThreadInfoListStream",
        "HandleOperationListStream", "TokenStream", "JavaScriptDataStream",
        "SystemMemoryInfoStream", "ProcessVmCountersStream", "IptTraceStream",
        "ThreadNamesStream",
    };
    if (type < sizeof names / sizeof names[0]) return names[type];
    switch (type) {
    case 0xffff: return "LastReservedStream";
    case 0x47670001: return "BreakpadInfoStream";
    case 0x47670002: return "BreakpadAssertionInfoStream";
    case 0x47670003: return "BreakpadLinuxCpuInfo";
    case 0x47670004: return "BreakpadLinuxProcStatus";
    case 0x47670005: return "BreakpadLinuxLsbRelease";
    case 0x47670006: return "BreakpadLinuxCmdLine";
    case 0x47670007: return "BreakpadLinuxEnviron";
    case 0x47670008: return "BreakpadLinuxAuxv";
    case 0x47670009: return "BreakpadLinuxMaps";
    case 0x4767000a: return "BreakpadLinuxDsoDebug";
    case 0x43500001: return "CrashpadInfoStream";
    default: return NULL;
    }
}

/* ---- helpers ------------------------------------------------------------------------ */

typedef struct md_stream {
    uint32_t type, size, rva;
    uint64_t dir_off; /* file offset of the directory entry, for messages */
} md_stream;

typedef struct md_parse {
    ntkd_target *t;
    const nk_file *f;
    const char *fn;
    nk_mdmp_info *info;
    md_stream *streams;
    size_t nstreams;
    size_t ctx_size; /* CONTEXT size of the dump's architecture */
    size_t ctx_min;  /* bytes up to the end of its integer registers and program counter */
    size_t tcap, lcap, mcap; /* capacities of the thread, thread-location and module arrays */
} md_parse;

static void info_free(void *p)
{
    nk_mdmp_info *info = p;
    if (!info) return;
    for (size_t i = 0; i < info->nhandles; i++) {
        free(info->handles[i].type_name);
        free(info->handles[i].object_name);
    }
    free(info->handles);
    free(info->comment_a);
    free(info->comment_w);
    free(info->build_string);
    free(info->dbg_bld_str);
    free(info->origins);
    free(info);
}

static uint32_t rd32(const md_parse *p, uint64_t off) { return nk_le32(p->f->data + off); }
static uint64_t rd64(const md_parse *p, uint64_t off) { return nk_le64(p->f->data + off); }
static uint16_t rd16(const md_parse *p, uint64_t off) { return nk_le16(p->f->data + off); }

static void fld(md_parse *p, const char *sec, const char *name, uint64_t off, uint64_t v, uint8_t w)
{
    nk_dump_field(p->t, sec, name, off, v, w, NULL);
}

/* A MINIDUMP_STRING (ULONG32 byte length, then UTF-16LE) at rva, as malloc'ed UTF-8.
 * NULL (with a warning naming `what`) when it does not lie inside the file. */
static char *md_string(md_parse *p, uint32_t rva, const char *what)
{
    uint32_t len;
    if (!nk_file_u32(p->f, rva, &len)) {
        nk_warn(p->t, "%s: %s: string at 0x%x lies outside the file", p->fn, what, rva);
        return NULL;
    }
    if (len > MD_MAX_STRING_BYTES) {
        nk_warn(p->t, "%s: %s: string at 0x%x claims 0x%x bytes (limit 0x%x); cut", p->fn, what,
                rva, len, MD_MAX_STRING_BYTES);
        len = MD_MAX_STRING_BYTES;
    }
    if (!nk_in_bounds(p->f->size, (uint64_t)rva + 4, len)) {
        nk_warn(p->t, "%s: %s: string at 0x%x (0x%x bytes) runs past the end of the file", p->fn,
                what, rva, len);
        return NULL;
    }
    return nk_utf16_to_utf8(p->f->data + rva + 4, len & ~1u);
}

static size_t arch_ctx_size(nk_arch a)
{
    switch (a) {
    case NK_ARCH_X64: return CTX_SIZE_X64;
    case NK_ARCH_X86: return CTX_SIZE_X86;
    case NK_ARCH_ARM64: return CTX_SIZE_ARM64;
    default: return 0;
    }
}

/* x86: through SegSs (0xcc); x64: through Rip (0x100); ARM64: through Pc (0x110). */
static size_t arch_ctx_min(nk_arch a)
{
    switch (a) {
    case NK_ARCH_X64: return 0x100;
    case NK_ARCH_X86: return 0xcc;
    case NK_ARCH_ARM64: return 0x110;
    default: return 0;
    }
}

static nk_arch arch_from_ctx_size(uint32_t size)
{
    if (size == CTX_SIZE_X64) return NK_ARCH_X64;
    if (size == CTX_SIZE_X86) return NK_ARCH_X86;
    if (size == CTX_SIZE_ARM64) return NK_ARCH_ARM64;
    return NK_ARCH_UNKNOWN;
}

static void set_arch(nk_dump *d, nk_arch a)
{
    d->arch = a;
    switch (a) {
    case NK_ARCH_X64: d->machine = NK_MACHINE_AMD64; d->is64 = true; break;
    case NK_ARCH_X86: d->machine = NK_MACHINE_I386; d->is64 = false; break;
    case NK_ARCH_ARM64: d->machine = NK_MACHINE_ARM64; d->is64 = true; break;
    default: break;
    }
}

/* Points *out at the CONTEXT a location descriptor gives, after checking it: it must lie in
 * the file and hold at least a whole CONTEXT of the dump's architecture. */
static bool ctx_at(md_parse *p, uint32_t size, uint32_t rva, uint64_t desc_off, const char *what,
                   const char *origin, nk_context *out)
{
    memset(out, 0, sizeof *out);
    if (size == 0 && rva == 0) return false;
    /* A context shorter than a whole CONTEXT is kept when it holds the integer registers
     * (x86 without ExtendedRegisters, for instance); the register layer reports what is
     * missing. */
    if (size < p->ctx_min) {
        nk_warn(p->t, "%s: %s: context descriptor at 0x%llx gives 0x%x bytes at 0x%x, too few for "
                "the %s integer registers (0x%zx); no registers for it", p->fn, what,
                (unsigned long long)desc_off, size, rva, nk_arch_name(p->t->d.arch), p->ctx_min);
        return false;
    }
    size_t len = size < p->ctx_size ? size : p->ctx_size;
    if (!nk_in_bounds(p->f->size, rva, len)) {
        nk_warn(p->t, "%s: %s: context at 0x%x (0x%zx bytes, descriptor at 0x%llx) lies past the "
                "end of the file; no registers for it", p->fn, what, rva, len,
                (unsigned long long)desc_off);
        return false;
    }
    if (len < p->ctx_size)
        nk_warn(p->t, "%s: %s: context at 0x%x is 0x%zx bytes, shorter than a whole %s CONTEXT "
                "(0x%zx)", p->fn, what, rva, len, nk_arch_name(p->t->d.arch), p->ctx_size);
    const uint8_t *c = p->f->data + rva;
    /* The architecture bit of ContextFlags: at 0x30 for x64, at 0 for x86 and ARM64. */
    uint32_t flags = 0, want = 0;
    switch (p->t->d.arch) {
    case NK_ARCH_X64: flags = nk_le32(c + 0x30); want = 0x00100000; break;
    case NK_ARCH_X86: flags = nk_le32(c); want = 0x00010000; break;
    case NK_ARCH_ARM64: flags = nk_le32(c); want = 0x00400000; break;
    default: break;
    }
    if (want && !(flags & want))
        nk_warn(p->t, "%s: %s: context at 0x%x has ContextFlags 0x%08x without the %s bit 0x%x",
                p->fn, what, rva, flags, nk_arch_name(p->t->d.arch), want);
    out->arch = p->t->d.arch;
    out->data = c;
    out->len = len;
    out->origin = origin;
    return true;
}

/* First stream of a type; later ones of the same type are reported and ignored. */
static const md_stream *find_stream(md_parse *p, uint32_t type)
{
    const md_stream *first = NULL;
    for (size_t i = 0; i < p->nstreams; i++) {
        if (p->streams[i].type != type) continue;
        if (!first) first = &p->streams[i];
        else
            nk_warn(p->t, "%s: a second %s (directory entry at 0x%llx) is ignored", p->fn,
                    stream_name(type), (unsigned long long)p->streams[i].dir_off);
    }
    return first;
}

/* Entries of a list stream: a count of `count_bytes` at its start, then `esz`-byte entries.
 * Some writers put 4 bytes of padding after a 32-bit count; that is recognised by the stream
 * size. Returns the entry count that lies inside the stream, warning when the count claims
 * more. */
static uint64_t list_entries(md_parse *p, const md_stream *s, uint64_t count, uint32_t hdr,
                             uint32_t esz, uint64_t *first)
{
    uint64_t room = s->size > hdr ? s->size - hdr : 0;
    *first = (uint64_t)s->rva + hdr;
    if (hdr == 4 && count <= UINT32_MAX && room >= 4 && (room - 4) == count * esz) {
        *first += 4; /* padded header */
        room -= 4;
    }
    uint64_t fit = room / esz;
    if (count > fit) {
        nk_warn(p->t, "%s: %s at 0x%x claims %llu entries but its 0x%x bytes hold %llu; the "
                "rest are ignored", p->fn, stream_name(s->type), s->rva,
                (unsigned long long)count, s->size, (unsigned long long)fit);
        count = fit;
    }
    return count;
}

/* ---- streams ------------------------------------------------------------------------ */

static nk_status parse_system_info(md_parse *p, const md_stream *s)
{
    nk_dump *d = &p->t->d;
    const char *sec = "MINIDUMP_SYSTEM_INFO";
    if (s->size < MDS_SIZE) {
        nk_warn(p->t, "%s: SystemInfoStream at 0x%x is 0x%x bytes, less than 0x%x; ignored", p->fn,
                s->rva, s->size, (unsigned)MDS_SIZE);
        return NTKD_E_FORMAT;
    }
    uint64_t o = s->rva;
    uint16_t pa = rd16(p, o + MDS_ARCH);
    p->info->processor_arch = pa;
    fld(p, sec, "ProcessorArchitecture", o + MDS_ARCH, pa, 2);
    d->processor_level = rd16(p, o + MDS_LEVEL);
    fld(p, sec, "ProcessorLevel", o + MDS_LEVEL, d->processor_level, 2);
    d->processor_revision = rd16(p, o + MDS_REVISION);
    fld(p, sec, "ProcessorRevision", o + MDS_REVISION, d->processor_revision, 2);
    d->nprocs = p->f->data[o + MDS_NPROCS];
    fld(p, sec, "NumberOfProcessors", o + MDS_NPROCS, d->nprocs, 1);
    d->product_type = p->f->data[o + MDS_PRODUCT];
    fld(p, sec, "ProductType", o + MDS_PRODUCT, d->product_type, 1);
    d->major = rd32(p, o + MDS_MAJOR);
    fld(p, sec, "MajorVersion", o + MDS_MAJOR, d->major, 4);
    p->info->os_minor = rd32(p, o + MDS_MINOR);
    fld(p, sec, "MinorVersion", o + MDS_MINOR, p->info->os_minor, 4);
    d->minor = rd32(p, o + MDS_BUILD);
    fld(p, sec, "BuildNumber", o + MDS_BUILD, d->minor, 4);
    d->platform_id = rd32(p, o + MDS_PLATFORM);
    fld(p, sec, "PlatformId", o + MDS_PLATFORM, d->platform_id, 4);
    uint32_t csd = rd32(p, o + MDS_CSD_RVA);
    d->suite_mask = rd16(p, o + MDS_SUITE);
    fld(p, sec, "SuiteMask", o + MDS_SUITE, d->suite_mask, 2);
    if (csd) {
        d->csd_version = md_string(p, csd, "SystemInfoStream CSDVersion");
        nk_dump_field(p->t, sec, "CSDVersion", csd, csd, 4, d->csd_version ? d->csd_version : "");
    }
    if (pa == 0x8003)
        return nk_fail(p->t->ctx, NTKD_E_UNSUPPORTED,
                       "%s: SystemInfoStream at 0x%x: processor architecture 0x8003 (Breakpad's "
                       "old ARM64 context) is not supported", p->fn, s->rva);
    nk_arch a = pa == 9 ? NK_ARCH_X64 : (pa == 0 || pa == 10) ? NK_ARCH_X86
              : pa == 12 ? NK_ARCH_ARM64 : NK_ARCH_UNKNOWN;
    if (a == NK_ARCH_UNKNOWN)
        return nk_fail(p->t->ctx, NTKD_E_UNSUPPORTED,
                       "%s: SystemInfoStream at 0x%x: processor architecture %u is none of x86 "
                       "(0), x64 (9), ARM64 (12)", p->fn, s->rva, pa);
    set_arch(d, a);
    return NTKD_OK;
}

static void parse_misc_info(md_parse *p, const md_stream *s)
{
    nk_dump *d = &p->t->d;
    nk_mdmp_info *in = p->info;
    const char *sec = "MINIDUMP_MISC_INFO";
    if (s->size < MDX_V1_END) {
        nk_warn(p->t, "%s: MiscInfoStream at 0x%x is 0x%x bytes, less than 0x%x; ignored", p->fn,
                s->rva, s->size, (unsigned)MDX_V1_END);
        return;
    }
    uint64_t o = s->rva;
    uint32_t declared = rd32(p, o + MDX_SIZE);
    uint32_t have = declared < s->size ? declared : s->size; /* bytes both agree on */
    if (declared != s->size)
        nk_warn(p->t, "%s: MiscInfoStream at 0x%x: SizeOfInfo 0x%x differs from the stream size "
                "0x%x; reading 0x%x bytes", p->fn, s->rva, declared, s->size, have);
    in->misc_size = declared;
    fld(p, sec, "SizeOfInfo", o + MDX_SIZE, declared, 4);
    uint32_t fl = rd32(p, o + MDX_FLAGS1);
    in->misc_flags1 = fl;
    fld(p, sec, "Flags1", o + MDX_FLAGS1, fl, 4);
    if (have < MDX_V1_END) return;
    if (fl & MISC1_PROCESS_ID) {
        d->process_id = rd32(p, o + MDX_PID);
        fld(p, sec, "ProcessId", o + MDX_PID, d->process_id, 4);
    }
    if (fl & MISC1_PROCESS_TIMES) {
        d->process_create_time = rd32(p, o + MDX_CREATE);
        in->process_user_time = rd32(p, o + MDX_USER);
        in->process_kernel_time = rd32(p, o + MDX_KERNEL);
        fld(p, sec, "ProcessCreateTime", o + MDX_CREATE, d->process_create_time, 4);
        fld(p, sec, "ProcessUserTime", o + MDX_USER, in->process_user_time, 4);
        fld(p, sec, "ProcessKernelTime", o + MDX_KERNEL, in->process_kernel_time, 4);
    }
    if (have >= MDX_V2_END && (fl & MISC1_POWER_INFO)) {
        in->processor_max_mhz = rd32(p, o + MDX_MAX_MHZ);
        in->processor_current_mhz = rd32(p, o + MDX_CUR_MHZ);
        in->processor_mhz_limit = rd32(p, o + MDX_MHZ_LIMIT);
        in->processor_max_idle_state = rd32(p, o + MDX_MAX_IDLE);
        in->processor_current_idle_state = rd32(p, o + MDX_CUR_IDLE);
        fld(p, sec, "ProcessorMaxMhz", o + MDX_MAX_MHZ, in->processor_max_mhz, 4);
        fld(p, sec, "ProcessorCurrentMhz", o + MDX_CUR_MHZ, in->processor_current_mhz, 4);
        fld(p, sec, "ProcessorMhzLimit", o + MDX_MHZ_LIMIT, in->processor_mhz_limit, 4);
        fld(p, sec, "ProcessorMaxIdleState", o + MDX_MAX_IDLE, in->processor_max_idle_state, 4);
        fld(p, sec, "ProcessorCurrentIdleState", o + MDX_CUR_IDLE, in->processor_current_idle_state, 4);
    }
    if (have >= MDX_V3_END) {
        if (fl & MISC3_INTEGRITY) {
            in->process_integrity_level = rd32(p, o + MDX_INTEGRITY);
            fld(p, sec, "ProcessIntegrityLevel", o + MDX_INTEGRITY, in->process_integrity_level, 4);
        }
        if (fl & MISC3_EXECUTE_FLAGS) {
            in->process_execute_flags = rd32(p, o + MDX_EXEC_FLAGS);
            fld(p, sec, "ProcessExecuteFlags", o + MDX_EXEC_FLAGS, in->process_execute_flags, 4);
        }
        if (fl & MISC3_PROTECTED) {
            in->protected_process = rd32(p, o + MDX_PROTECTED);
            fld(p, sec, "ProtectedProcess", o + MDX_PROTECTED, in->protected_process, 4);
        }
        if (fl & MISC3_TIMEZONE) {
            in->time_zone_id = rd32(p, o + MDX_TZ_ID);
            fld(p, sec, "TimeZoneId", o + MDX_TZ_ID, in->time_zone_id, 4);
        }
    }
    if (have >= MDX_V4_END && (fl & MISC4_BUILDSTRING)) {
        in->build_string = nk_utf16_to_utf8(p->f->data + o + MDX_BUILD_STR, 2 * 260);
        in->dbg_bld_str = nk_utf16_to_utf8(p->f->data + o + MDX_DBG_BLD_STR, 2 * 40);
        nk_dump_field(p->t, sec, "BuildString", o + MDX_BUILD_STR, 0, 0,
                      in->build_string ? in->build_string : "");
        nk_dump_field(p->t, sec, "DbgBldStr", o + MDX_DBG_BLD_STR, 0, 0,
                      in->dbg_bld_str ? in->dbg_bld_str : "");
    }
    if (have >= MDX_V5_END && (fl & MISC5_PROCESS_COOKIE)) {
        in->process_cookie = rd32(p, o + MDX_COOKIE);
        fld(p, sec, "ProcessCookie", o + MDX_COOKIE, in->process_cookie, 4);
    }
}

static bool add_thread(md_parse *p, uint64_t e)
{
    nk_dump *d = &p->t->d;
    if (!nk_grow((void **)&d->threads, &p->tcap, d->nthreads + 1, sizeof *d->threads)) return false;
    nk_thread *th = &d->threads[d->nthreads++];
    memset(th, 0, sizeof *th);
    th->id = rd32(p, e + MDT_ID);
    th->suspend_count = rd32(p, e + MDT_SUSPEND);
    th->priority_class = rd32(p, e + MDT_PRIOCLASS);
    th->priority = rd32(p, e + MDT_PRIO);
    th->teb = rd64(p, e + MDT_TEB);
    th->stack_start = rd64(p, e + MDT_STACK_START);
    th->stack_size = rd32(p, e + MDT_STACK_SIZE);
    return true;
}

/* Threads from ThreadListStream, or from ThreadExListStream when the dump has no plain list.
 * Stacks become memory ranges (unless the memory lists already hold them); contexts are
 * attached once the architecture is known. */
typedef struct md_thread_loc {
    uint32_t ctx_size, ctx_rva;
    uint64_t desc_off;
    uint32_t stack_rva;
} md_thread_loc;

static nk_status parse_threads(md_parse *p, const md_stream *s, uint32_t esz, md_thread_loc **locs,
                               size_t *nlocs)
{
    if (s->size < 4) {
        nk_warn(p->t, "%s: %s at 0x%x is too small for its count", p->fn, stream_name(s->type), s->rva);
        return NTKD_OK;
    }
    uint64_t first;
    uint64_t n = list_entries(p, s, rd32(p, s->rva), 4, esz, &first);
    for (uint64_t i = 0; i < n; i++) {
        uint64_t e = first + i * esz;
        if (!add_thread(p, e) || !nk_grow((void **)locs, &p->lcap, *nlocs + 1, sizeof **locs))
            return nk_fail(p->t->ctx, NTKD_E_NOMEM, "%s: out of memory for threads", p->fn);
        md_thread_loc *nl = *locs;
        nl[*nlocs].ctx_size = rd32(p, e + MDT_CTX_SIZE);
        nl[*nlocs].ctx_rva = rd32(p, e + MDT_CTX_RVA);
        nl[*nlocs].desc_off = e + MDT_CTX_SIZE;
        nl[*nlocs].stack_rva = rd32(p, e + MDT_STACK_RVA);
        (*nlocs)++;
    }
    return NTKD_OK;
}

static bool add_module(md_parse *p, nk_module *m)
{
    nk_dump *d = &p->t->d;
    if (!nk_grow((void **)&d->modules, &p->mcap, d->nmodules + 1, sizeof *d->modules)) return false;
    d->modules[d->nmodules++] = *m;
    return true;
}

static nk_status parse_modules(md_parse *p, const md_stream *s)
{
    if (s->size < 4) {
        nk_warn(p->t, "%s: ModuleListStream at 0x%x is too small for its count", p->fn, s->rva);
        return NTKD_OK;
    }
    uint64_t first;
    uint64_t n = list_entries(p, s, rd32(p, s->rva), 4, MDM_ENTRY, &first);
    for (uint64_t i = 0; i < n; i++) {
        uint64_t e = first + i * MDM_ENTRY;
        nk_module m;
        memset(&m, 0, sizeof m);
        m.base = rd64(p, e + MDM_BASE);
        m.size = rd32(p, e + MDM_SIZE);
        m.checksum = rd32(p, e + MDM_CHECKSUM);
        m.timestamp = rd32(p, e + MDM_TIMESTAMP);
        char what[48];
        snprintf(what, sizeof what, "module %llu name", (unsigned long long)i);
        m.name = md_string(p, rd32(p, e + MDM_NAME_RVA), what);
        if (!m.name) m.name = strdup("");
        m.path = strdup(m.name ? m.name : "");
        uint64_t v = e + MDM_VERSION;
        if (rd32(p, v + VS_SIGNATURE) == VS_FFI_SIGNATURE) {
            m.has_version = true;
            m.file_version_ms = rd32(p, v + VS_FILE_MS);
            m.file_version_ls = rd32(p, v + VS_FILE_LS);
            m.product_version_ms = rd32(p, v + VS_PROD_MS);
            m.product_version_ls = rd32(p, v + VS_PROD_LS);
        }
        uint32_t cvs = rd32(p, e + MDM_CV_SIZE), cvr = rd32(p, e + MDM_CV_RVA);
        if (cvs) {
            if (nk_in_bounds(p->f->size, cvr, cvs)) {
                m.cv_off = cvr;
                m.cv_size = cvs;
            } else {
                nk_warn(p->t, "%s: module %llu (%s): CodeView record at 0x%x (0x%x bytes) lies "
                        "past the end of the file; ignored", p->fn, (unsigned long long)i,
                        m.name ? m.name : "?", cvr, cvs);
            }
        }
        if (!m.name || !m.path || !add_module(p, &m)) {
            free(m.name);
            free(m.path);
            return nk_fail(p->t->ctx, NTKD_E_NOMEM, "%s: out of memory for modules", p->fn);
        }
    }
    return NTKD_OK;
}

static nk_status parse_unloaded(md_parse *p, const md_stream *s)
{
    if (s->size < MDU_HDR) {
        nk_warn(p->t, "%s: UnloadedModuleListStream at 0x%x is too small for its header", p->fn, s->rva);
        return NTKD_OK;
    }
    uint32_t hsz = rd32(p, s->rva + MDU_HDR_SIZE), esz = rd32(p, s->rva + MDU_ENTRY_SIZE);
    uint32_t cnt = rd32(p, s->rva + MDU_COUNT);
    if (hsz < MDU_HDR || hsz > s->size || esz < MDUM_ENTRY) {
        nk_warn(p->t, "%s: UnloadedModuleListStream at 0x%x: header size 0x%x / entry size 0x%x "
                "are not usable; ignored", p->fn, s->rva, hsz, esz);
        return NTKD_OK;
    }
    uint64_t first;
    uint64_t n = list_entries(p, s, cnt, hsz, esz, &first);
    for (uint64_t i = 0; i < n; i++) {
        uint64_t e = first + i * esz;
        nk_module m;
        memset(&m, 0, sizeof m);
        m.unloaded = true;
        m.base = rd64(p, e + MDUM_BASE);
        m.size = rd32(p, e + MDUM_SIZE);
        m.checksum = rd32(p, e + MDUM_CHECKSUM);
        m.timestamp = rd32(p, e + MDUM_TIMESTAMP);
        char what[48];
        snprintf(what, sizeof what, "unloaded module %llu name", (unsigned long long)i);
        m.name = md_string(p, rd32(p, e + MDUM_NAME_RVA), what);
        if (!m.name) m.name = strdup("");
        m.path = strdup(m.name ? m.name : "");
        if (!m.name || !m.path || !add_module(p, &m)) {
            free(m.name);
            free(m.path);
            return nk_fail(p->t->ctx, NTKD_E_NOMEM, "%s: out of memory for modules", p->fn);
        }
    }
    return NTKD_OK;
}

static bool add_vrange(md_parse *p, size_t *cap, uint64_t va, uint64_t size, uint64_t off)
{
    nk_dump *d = &p->t->d;
    if (!d->is64 && size) {
        /* a 32-bit process has no memory at or above 4 GB */
        if (va > 0xffffffffull) {
            nk_warn(p->t, "%s: memory range %llx (0x%llx bytes, file offset 0x%llx) lies above "
                    "4 GB in a 32-bit dump; ignored", p->fn, (unsigned long long)va,
                    (unsigned long long)size, (unsigned long long)off);
            return true;
        }
        if (size > 0x100000000ull - va) {
            nk_warn(p->t, "%s: memory range %llx (0x%llx bytes) crosses 4 GB in a 32-bit dump; "
                    "cut at 4 GB", p->fn, (unsigned long long)va, (unsigned long long)size);
            size = 0x100000000ull - va;
        }
    }
    if (!nk_grow((void **)&d->vranges, cap, d->nvranges + 1, sizeof *d->vranges)) return false;
    d->vranges[d->nvranges++] = (nk_vrange){.va = va, .size = size, .file_off = off};
    return true;
}

static nk_status parse_memory_list(md_parse *p, const md_stream *s, size_t *cap)
{
    if (s->size < 4) {
        nk_warn(p->t, "%s: MemoryListStream at 0x%x is too small for its count", p->fn, s->rva);
        return NTKD_OK;
    }
    uint64_t first;
    uint64_t n = list_entries(p, s, rd32(p, s->rva), 4, MDMD_ENTRY, &first);
    for (uint64_t i = 0; i < n; i++) {
        uint64_t e = first + i * MDMD_ENTRY;
        if (!add_vrange(p, cap, rd64(p, e + MDMD_START), rd32(p, e + MDMD_SIZE), rd32(p, e + MDMD_RVA)))
            return nk_fail(p->t->ctx, NTKD_E_NOMEM, "%s: out of memory for memory ranges", p->fn);
    }
    return NTKD_OK;
}

static nk_status parse_memory64_list(md_parse *p, const md_stream *s, size_t *cap)
{
    if (s->size < MD64_HDR) {
        nk_warn(p->t, "%s: Memory64ListStream at 0x%x is too small for its header", p->fn, s->rva);
        return NTKD_OK;
    }
    uint64_t cnt = rd64(p, s->rva + MD64_COUNT), off = rd64(p, s->rva + MD64_BASE_RVA);
    uint64_t first;
    uint64_t n = list_entries(p, s, cnt, MD64_HDR, MD64D_ENTRY, &first);
    for (uint64_t i = 0; i < n; i++) {
        uint64_t e = first + i * MD64D_ENTRY;
        uint64_t va = rd64(p, e + MD64D_START), size = rd64(p, e + MD64D_SIZE);
        if (off >= p->f->size) {
            nk_warn(p->t, "%s: Memory64ListStream: range %llu (%llx, 0x%llx bytes) starts at file "
                    "offset 0x%llx, past the end of the file; it and the %llu after it are not "
                    "in the dump", p->fn, (unsigned long long)i, (unsigned long long)va,
                    (unsigned long long)size, (unsigned long long)off,
                    (unsigned long long)(n - i - 1));
            break;
        }
        if (!add_vrange(p, cap, va, size, off))
            return nk_fail(p->t->ctx, NTKD_E_NOMEM, "%s: out of memory for memory ranges", p->fn);
        if (size > UINT64_MAX - off) off = UINT64_MAX;
        else off += size;
    }
    return NTKD_OK;
}

static void parse_exception(md_parse *p, const md_stream *s, uint32_t *ctx_size, uint32_t *ctx_rva)
{
    nk_exception *x = &p->t->d.exception;
    const char *sec = "MINIDUMP_EXCEPTION_STREAM";
    *ctx_size = *ctx_rva = 0;
    if (s->size < MDE_SIZE) {
        nk_warn(p->t, "%s: ExceptionStream at 0x%x is 0x%x bytes, less than 0x%x; ignored", p->fn,
                s->rva, s->size, (unsigned)MDE_SIZE);
        return;
    }
    uint64_t o = s->rva;
    x->present = true;
    x->thread_id = rd32(p, o + MDE_THREAD_ID);
    x->code = rd32(p, o + MDE_CODE);
    x->flags = rd32(p, o + MDE_FLAGS);
    x->record = rd64(p, o + MDE_RECORD);
    x->address = rd64(p, o + MDE_ADDRESS);
    x->nparams = rd32(p, o + MDE_NPARAMS);
    fld(p, sec, "ThreadId", o + MDE_THREAD_ID, x->thread_id, 4);
    fld(p, sec, "ExceptionCode", o + MDE_CODE, x->code, 4);
    fld(p, sec, "ExceptionFlags", o + MDE_FLAGS, x->flags, 4);
    fld(p, sec, "ExceptionRecord", o + MDE_RECORD, x->record, 8);
    fld(p, sec, "ExceptionAddress", o + MDE_ADDRESS, x->address, 8);
    fld(p, sec, "NumberParameters", o + MDE_NPARAMS, x->nparams, 4);
    if (x->nparams > MD_EXCEPTION_MAX_PARAMS) {
        nk_warn(p->t, "%s: ExceptionStream at 0x%x: NumberParameters %u exceeds 15; 15 kept",
                p->fn, s->rva, x->nparams);
        x->nparams = MD_EXCEPTION_MAX_PARAMS;
    }
    for (uint32_t i = 0; i < MD_EXCEPTION_MAX_PARAMS; i++) {
        x->params[i] = rd64(p, o + MDE_PARAMS + 8u * i);
        if (i < x->nparams) {
            char nm[32];
            snprintf(nm, sizeof nm, "ExceptionInformation[%u]", i);
            fld(p, sec, nm, o + MDE_PARAMS + 8u * i, x->params[i], 8);
        }
    }
    *ctx_size = rd32(p, o + MDE_CTX_SIZE);
    *ctx_rva = rd32(p, o + MDE_CTX_RVA);
    fld(p, sec, "ThreadContext.DataSize", o + MDE_CTX_SIZE, *ctx_size, 4);
    fld(p, sec, "ThreadContext.Rva", o + MDE_CTX_RVA, *ctx_rva, 4);
}

static nk_status parse_handles(md_parse *p, const md_stream *s)
{
    nk_mdmp_info *in = p->info;
    if (s->size < MDHD_HDR) {
        nk_warn(p->t, "%s: HandleDataStream at 0x%x is too small for its header", p->fn, s->rva);
        return NTKD_OK;
    }
    uint32_t hsz = rd32(p, s->rva + MDHD_HDR_SIZE), dsz = rd32(p, s->rva + MDHD_DESC_SIZE);
    uint32_t cnt = rd32(p, s->rva + MDHD_COUNT);
    in->has_handles = true;
    in->handle_count = cnt;
    if (hsz < MDHD_HDR || hsz > s->size || dsz < MDHDE_ENTRY) {
        nk_warn(p->t, "%s: HandleDataStream at 0x%x: header size 0x%x / descriptor size 0x%x are "
                "not usable; handles ignored", p->fn, s->rva, hsz, dsz);
        return NTKD_OK;
    }
    uint64_t first;
    uint64_t n = list_entries(p, s, cnt, hsz, dsz, &first);
    if (!n) return NTKD_OK;
    in->handles = calloc((size_t)n, sizeof *in->handles);
    if (!in->handles) return nk_fail(p->t->ctx, NTKD_E_NOMEM, "%s: out of memory for handles", p->fn);
    for (uint64_t i = 0; i < n; i++) {
        uint64_t e = first + i * dsz;
        nk_mdmp_handle *h = &in->handles[in->nhandles++];
        h->handle = rd64(p, e + MDHDE_HANDLE);
        uint32_t tr = rd32(p, e + MDHDE_TYPE_RVA), nr = rd32(p, e + MDHDE_NAME_RVA);
        if (tr) h->type_name = md_string(p, tr, "handle type name");
        if (nr) h->object_name = md_string(p, nr, "handle object name");
        h->attributes = rd32(p, e + MDHDE_ATTR);
        h->granted_access = rd32(p, e + MDHDE_ACCESS);
        h->handle_count = rd32(p, e + MDHDE_HCOUNT);
        h->pointer_count = rd32(p, e + MDHDE_PCOUNT);
    }
    return NTKD_OK;
}

static void parse_comment(md_parse *p, const md_stream *s, bool wide)
{
    nk_dump *d = &p->t->d;
    char **dst = wide ? &p->info->comment_w : &p->info->comment_a;
    const uint8_t *b = p->f->data + s->rva;
    uint32_t n = s->size > MD_MAX_STRING_BYTES ? MD_MAX_STRING_BYTES : s->size;
    if (wide) {
        *dst = nk_utf16_to_utf8(b, n & ~1u);
    } else {
        size_t len = 0;
        while (len < n && b[len]) len++;
        *dst = malloc(len + 1);
        if (*dst) {
            for (size_t i = 0; i < len; i++) (*dst)[i] = (b[i] >= 0x20 && b[i] < 0x7f) ? (char)b[i] : '?';
            (*dst)[len] = 0;
        }
    }
    if (*dst && !d->comment[0]) snprintf(d->comment, sizeof d->comment, "%s", *dst);
    if (*dst) nk_dump_field(p->t, "Comment", wide ? "CommentStreamW" : "CommentStreamA", s->rva, 0, 0, *dst);
}

static void parse_breakpad_info(md_parse *p, const md_stream *s)
{
    const char *sec = "MINIDUMP_BREAKPAD_INFO";
    if (s->size < BPI_SIZE) {
        nk_warn(p->t, "%s: BreakpadInfoStream at 0x%x is too small; ignored", p->fn, s->rva);
        return;
    }
    nk_mdmp_info *in = p->info;
    in->has_breakpad_info = true;
    in->breakpad_validity = rd32(p, s->rva + BPI_VALIDITY);
    in->breakpad_dump_thread_id = rd32(p, s->rva + BPI_DUMP_TID);
    in->breakpad_requesting_thread_id = rd32(p, s->rva + BPI_REQ_TID);
    fld(p, sec, "Validity", s->rva + BPI_VALIDITY, in->breakpad_validity, 4);
    fld(p, sec, "DumpThreadId", s->rva + BPI_DUMP_TID, in->breakpad_dump_thread_id, 4);
    fld(p, sec, "RequestingThreadId", s->rva + BPI_REQ_TID, in->breakpad_requesting_thread_id, 4);
}

static void parse_breakpad_assertion(md_parse *p, const md_stream *s)
{
    const char *sec = "MINIDUMP_ASSERTION_INFO";
    if (s->size < BPA_SIZE) {
        nk_warn(p->t, "%s: BreakpadAssertionInfoStream at 0x%x is too small; ignored", p->fn, s->rva);
        return;
    }
    static const struct { const char *name; uint32_t off; } strs[] = {
        {"Expression", BPA_EXPR}, {"Function", BPA_FUNC}, {"File", BPA_FILE}};
    for (size_t i = 0; i < 3; i++) {
        char *v = nk_utf16_to_utf8(p->f->data + s->rva + strs[i].off, 0x100);
        nk_dump_field(p->t, sec, strs[i].name, s->rva + strs[i].off, 0, 0, v ? v : "");
        free(v);
    }
    fld(p, sec, "Line", s->rva + BPA_LINE, rd32(p, s->rva + BPA_LINE), 4);
    fld(p, sec, "Type", s->rva + BPA_TYPE, rd32(p, s->rva + BPA_TYPE), 4);
}

/* Whether va lies in one of the n sorted, non-overlapping ranges. */
static bool vrange_covers(const nk_vrange *v, size_t n, uint64_t va)
{
    size_t lo = 0, hi = n;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        const nk_vrange *r = &v[mid];
        if (va < r->va) hi = mid;
        else if (va - r->va >= r->size) lo = mid + 1;
        else return true;
    }
    return false;
}

/* ---- the container ------------------------------------------------------------------ */

nk_status nk_mdmp_open(ntkd_target *t)
{
    const nk_file *f = &t->file;
    nk_dump *d = &t->d;
    uint32_t sig;
    if (!nk_file_u32(f, 0, &sig) || sig != MD_SIGNATURE) return NTKD_E_FORMAT;
    md_parse P = {.t = t, .f = f, .fn = nk_file_name(f)};
    md_parse *p = &P;
    if (f->size < MDH_SIZE)
        return nk_fail(t->ctx, NTKD_E_TRUNCATED,
                       "%s: MINIDUMP_HEADER at 0x0 needs 0x20 bytes but the file has 0x%llx",
                       p->fn, (unsigned long long)f->size);
    uint32_t version = rd32(p, MDH_VERSION), nstreams = rd32(p, MDH_NSTREAMS);
    uint32_t dir = rd32(p, MDH_DIR_RVA);
    if ((version & 0xffff) != MD_VERSION_LO)
        return nk_fail(t->ctx, NTKD_E_FORMAT,
                       "%s: MINIDUMP_HEADER Version 0x%08x at offset 0x4: low word is not 0xa793",
                       p->fn, version);
    if (nstreams > MD_MAX_STREAMS)
        return nk_fail(t->ctx, NTKD_E_FORMAT,
                       "%s: NumberOfStreams %u at offset 0x8 exceeds the limit of %u", p->fn,
                       nstreams, MD_MAX_STREAMS);
    if (!nk_in_bounds(f->size, dir, (uint64_t)nstreams * MDD_ENTRY))
        return nk_fail(t->ctx, NTKD_E_TRUNCATED,
                       "%s: stream directory at 0x%x (%u entries, 0x%llx bytes; StreamDirectoryRva "
                       "at offset 0xc) runs past the end of the file (0x%llx bytes)", p->fn, dir,
                       nstreams, (unsigned long long)nstreams * MDD_ENTRY,
                       (unsigned long long)f->size);

    nk_mdmp_info *info = calloc(1, sizeof *info);
    if (!info) return nk_fail(t->ctx, NTKD_E_NOMEM, "%s: out of memory", p->fn);
    t->ext[NK_EXT_MDMP] = info;
    t->ext_free[NK_EXT_MDMP] = info_free;
    p->info = info;

    d->kind = NK_KIND_USER_MINI;
    d->paging = NK_PAGING_NONE;
    info->version = version;
    info->timestamp = rd32(p, MDH_TIMESTAMP);
    info->flags = rd64(p, MDH_FLAGS);
    if (info->timestamp) d->system_time = ((uint64_t)info->timestamp + 11644473600ull) * 10000000ull;

    const char *hs = "MINIDUMP_HEADER";
    nk_dump_field(t, hs, "Signature", MDH_SIGNATURE, sig, 4, "MDMP");
    fld(p, hs, "Version", MDH_VERSION, version, 4);
    fld(p, hs, "NumberOfStreams", MDH_NSTREAMS, nstreams, 4);
    fld(p, hs, "StreamDirectoryRva", MDH_DIR_RVA, dir, 4);
    fld(p, hs, "CheckSum", MDH_CHECKSUM, rd32(p, MDH_CHECKSUM), 4);
    fld(p, hs, "TimeDateStamp", MDH_TIMESTAMP, info->timestamp, 4);
    fld(p, hs, "Flags", MDH_FLAGS, info->flags, 8);

    md_stream *streams = calloc(nstreams ? nstreams : 1, sizeof *streams);
    if (!streams) return nk_fail(t->ctx, NTKD_E_NOMEM, "%s: out of memory", p->fn);
    p->streams = streams;
    p->nstreams = nstreams;
    for (uint32_t i = 0; i < nstreams; i++) {
        uint64_t e = (uint64_t)dir + (uint64_t)i * MDD_ENTRY;
        md_stream *s = &streams[i];
        s->type = rd32(p, e + MDD_TYPE);
        s->size = rd32(p, e + MDD_SIZE);
        s->rva = rd32(p, e + MDD_RVA);
        s->dir_off = e;
        const char *nm = stream_name(s->type);
        char name[40], text[96];
        if (nm) snprintf(name, sizeof name, "%s", nm);
        else snprintf(name, sizeof name, "Stream 0x%08x", s->type);
        snprintf(text, sizeof text, "type 0x%08x  rva 0x%08x  size 0x%08x%s", s->type, s->rva,
                 s->size, nm ? "" : "  (unknown)");
        nk_dump_field(t, "Streams", name, e, s->rva, 4, text);
        if (s->type != ST_UNUSED) nk_dump_blob(t, name, s->rva, s->size);
        if (s->type == ST_UNUSED) continue;
        if (!nk_in_bounds(f->size, s->rva, s->size)) {
            uint32_t keep = s->rva < f->size ? (uint32_t)(f->size - s->rva) : 0;
            nk_warn(t, "%s: %s (directory entry at 0x%llx) at 0x%x, 0x%x bytes, runs past the end "
                    "of the file; 0x%x bytes kept", p->fn, name, (unsigned long long)e, s->rva,
                    s->size, keep);
            s->size = keep;
            if (!keep) s->rva = 0;
        }
    }

    nk_status st = NTKD_OK;
    md_thread_loc *locs = NULL;
    size_t nlocs = 0, vcap = 0;

    /* System facts first: they give the architecture every context needs. */
    const md_stream *s;
    if ((s = find_stream(p, ST_SYSTEM_INFO)) && s->size) {
        st = parse_system_info(p, s);
        if (st == NTKD_E_FORMAT) st = NTKD_OK; /* too small: warned, architecture guessed below */
        if (st != NTKD_OK) goto out;
    }
    if ((s = find_stream(p, ST_MISC_INFO)) && s->size) parse_misc_info(p, s);

    if ((s = find_stream(p, ST_THREAD_LIST)) && s->size &&
        (st = parse_threads(p, s, MDT_ENTRY, &locs, &nlocs)) != NTKD_OK)
        goto out;
    if ((s = find_stream(p, ST_THREAD_EX_LIST)) && s->size && !d->nthreads &&
        (st = parse_threads(p, s, MDT_EX_ENTRY, &locs, &nlocs)) != NTKD_OK)
        goto out;

    uint32_t xctx_size = 0, xctx_rva = 0;
    const md_stream *xs = find_stream(p, ST_EXCEPTION);
    if (xs && xs->size) parse_exception(p, xs, &xctx_size, &xctx_rva);

    if (d->arch == NK_ARCH_UNKNOWN) {
        /* No usable SystemInfoStream: the size of a stored CONTEXT tells the architecture. */
        nk_arch a = arch_from_ctx_size(xctx_size);
        for (size_t i = 0; i < nlocs && a == NK_ARCH_UNKNOWN; i++) a = arch_from_ctx_size(locs[i].ctx_size);
        if (a == NK_ARCH_UNKNOWN) {
            st = nk_fail(t->ctx, NTKD_E_FORMAT,
                         "%s: the stream directory at 0x%x has no usable SystemInfoStream and no "
                         "thread context whose size tells the processor architecture", p->fn, dir);
            goto out;
        }
        nk_warn(t, "%s: no usable SystemInfoStream; architecture %s taken from the size of a "
                "thread context", p->fn, nk_arch_name(a));
        set_arch(d, a);
    }
    p->ctx_size = arch_ctx_size(d->arch);
    p->ctx_min = arch_ctx_min(d->arch);

    if (d->nthreads) {
        info->origins = calloc(d->nthreads, sizeof *info->origins);
        if (!info->origins) {
            st = nk_fail(t->ctx, NTKD_E_NOMEM, "%s: out of memory", p->fn);
            goto out;
        }
    }
    for (size_t i = 0; i < d->nthreads; i++) {
        snprintf(info->origins[i], sizeof info->origins[i], "thread %x", d->threads[i].id);
        char what[40];
        snprintf(what, sizeof what, "thread %zu (id %x)", i, d->threads[i].id);
        ctx_at(p, locs[i].ctx_size, locs[i].ctx_rva, locs[i].desc_off, what, info->origins[i],
               &d->threads[i].ctx);
    }
    if (d->exception.present)
        ctx_at(p, xctx_size, xctx_rva, xs->rva + MDE_CTX_SIZE, "exception", "exception",
               &d->exception.ctx);

    if ((s = find_stream(p, ST_MODULE_LIST)) && s->size && (st = parse_modules(p, s)) != NTKD_OK) goto out;
    if ((s = find_stream(p, ST_UNLOADED_MODULES)) && s->size && (st = parse_unloaded(p, s)) != NTKD_OK)
        goto out;
    if ((s = find_stream(p, ST_MEMORY_LIST)) && s->size &&
        (st = parse_memory_list(p, s, &vcap)) != NTKD_OK)
        goto out;
    if ((s = find_stream(p, ST_MEMORY64_LIST)) && s->size &&
        (st = parse_memory64_list(p, s, &vcap)) != NTKD_OK)
        goto out;
    nk_vranges_check(t);
    /* Thread stacks the memory lists do not already hold (their bytes are the same memory). */
    size_t listed = d->nvranges;
    for (size_t i = 0; i < d->nthreads; i++) {
        const nk_thread *th = &d->threads[i];
        if (!th->stack_size || !locs[i].stack_rva) continue;
        if (vrange_covers(d->vranges, listed, th->stack_start)) continue;
        if (!add_vrange(p, &vcap, th->stack_start, th->stack_size, locs[i].stack_rva)) {
            st = nk_fail(t->ctx, NTKD_E_NOMEM, "%s: out of memory for memory ranges", p->fn);
            goto out;
        }
    }
    if (d->nvranges != listed) nk_vranges_check(t);

    if ((s = find_stream(p, ST_HANDLE_DATA)) && s->size && (st = parse_handles(p, s)) != NTKD_OK) goto out;
    if ((s = find_stream(p, ST_COMMENT_A)) && s->size) parse_comment(p, s, false);
    if ((s = find_stream(p, ST_COMMENT_W)) && s->size) parse_comment(p, s, true);
    if ((s = find_stream(p, ST_BREAKPAD_INFO)) && s->size) parse_breakpad_info(p, s);
    if ((s = find_stream(p, ST_BREAKPAD_ASSERTION)) && s->size) parse_breakpad_assertion(p, s);

    /* The first context: the exception thread's own context when there is an exception (its
     * exception-time context is what .ecxr shows), else thread 0's. */
    t->cur_thread = 0;
    size_t xi = d->nthreads;
    if (d->exception.present) {
        for (size_t i = 0; i < d->nthreads; i++)
            if (d->threads[i].id == d->exception.thread_id) { xi = i; break; }
        if (xi == d->nthreads && d->nthreads)
            nk_warn(t, "%s: the exception's thread id %x is not in the thread list", p->fn,
                    d->exception.thread_id);
    }
    if (xi < d->nthreads) t->cur_thread = xi;
    d->ncontexts = 0;
    if (d->nthreads && d->threads[t->cur_thread].ctx.data)
        d->contexts[d->ncontexts++] = d->threads[t->cur_thread].ctx;
    if (d->exception.present && d->exception.ctx.data) d->contexts[d->ncontexts++] = d->exception.ctx;

out:
    free(locs);
    free(streams);
    p->streams = NULL;
    return st;
}
