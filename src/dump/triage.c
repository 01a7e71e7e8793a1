/* triage.c: the body of a small ("triage", DumpType 4) kernel dump, shared by the 64-bit
 * (PAGEDU64, header at 0x2000) and 32-bit (PAGEDUMP, header at 0x1000) containers.
 *
 * What a triage dump holds, all located by file offsets in the TRIAGE_DUMP header:
 *   - copies of the crashing processor's KPRCB, the current EPROCESS and ETHREAD,
 *   - the current kernel stack from its stack pointer (TopOfStack, SizeOfCallStack),
 *   - the loaded-driver list (DUMP_DRIVER_ENTRY: a string-pool offset and a fixed copy of the
 *     loader entry) and the unloaded-driver list,
 *   - a decoded copy of KDDEBUGGER_DATA64, an optional data page, and "data blocks" (any
 *     kernel memory the writer chose: virtual address, file offset, size),
 *   - after SizeOfDump: secondary data ("DumpBlob" file header, then GUID-tagged blobs).
 *
 * Layouts were checked on the bytes of the corpus dumps triage-x64-19041.dmp and
 * triage-arm64-22000.dmp (see the report of the change); the 32-bit variants follow the
 * public WDK/dbgeng definitions (TRIAGE_DUMP32 is 0x68 bytes, no IA64 BStore fields). */
#include "dump/dump.h"

#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>

/* ---- on-disk structures --------------------------------------------------------------- */

typedef struct tri64 {
    uint32_t service_pack_build, size_of_dump, valid_offset, context_offset, exception_offset,
        mm_offset, unloaded_drivers_offset, prcb_offset, process_offset, thread_offset,
        call_stack_offset, size_of_call_stack, driver_list_offset, driver_count,
        string_pool_offset, string_pool_size, broken_driver_offset, triage_options;
    uint64_t top_of_stack;
    uint32_t bstore_offset, size_of_bstore; /* IA64 only; zero elsewhere */
    uint64_t limit_of_bstore;
    uint64_t data_page_address;
    uint32_t data_page_offset, data_page_size, debugger_data_offset, debugger_data_size,
        data_blocks_offset, data_blocks_count;
} tri64;
_Static_assert(sizeof(tri64) == 0x80, "TRIAGE_DUMP64 size");
_Static_assert(offsetof(tri64, top_of_stack) == 0x48, "TRIAGE_DUMP64.TopOfStack");
_Static_assert(offsetof(tri64, data_page_address) == 0x60, "TRIAGE_DUMP64.DataPageAddress");
_Static_assert(offsetof(tri64, debugger_data_offset) == 0x70, "TRIAGE_DUMP64.DebuggerDataOffset");
_Static_assert(offsetof(tri64, data_blocks_count) == 0x7c, "TRIAGE_DUMP64.DataBlocksCount");

typedef struct tri32 {
    uint32_t service_pack_build, size_of_dump, valid_offset, context_offset, exception_offset,
        mm_offset, unloaded_drivers_offset, prcb_offset, process_offset, thread_offset,
        call_stack_offset, size_of_call_stack, driver_list_offset, driver_count,
        string_pool_offset, string_pool_size, broken_driver_offset, triage_options;
    uint32_t top_of_stack, data_page_address, data_page_offset, data_page_size,
        debugger_data_offset, debugger_data_size, data_blocks_offset, data_blocks_count;
} tri32;
_Static_assert(sizeof(tri32) == 0x68, "TRIAGE_DUMP32 size");
_Static_assert(offsetof(tri32, top_of_stack) == 0x48, "TRIAGE_DUMP32.TopOfStack");
_Static_assert(offsetof(tri32, debugger_data_offset) == 0x58, "TRIAGE_DUMP32.DebuggerDataOffset");

/* DUMP_DRIVER_ENTRY64: name offset (file offset of a DUMP_STRING), then a fixed 0x88-byte
 * loader-entry copy (the legacy KLDR_DATA_TABLE_ENTRY64 shape, whatever the kernel's own is). */
typedef struct drv64 {
    uint32_t name_offset, pad;
    uint64_t in_load_order[2], exception_table, exception_table_size, gp_value,
        non_paged_debug_info, dll_base, entry_point;
    uint32_t size_of_image, pad2;
    uint64_t full_dll_name[2], base_dll_name[2];
    uint32_t flags;
    uint16_t load_count, u1;
    uint64_t section_pointer;
    uint32_t checksum, pad3;
    uint32_t time_date_stamp, pad4;
} drv64;
_Static_assert(sizeof(drv64) == 0x90, "DUMP_DRIVER_ENTRY64 size");
_Static_assert(offsetof(drv64, dll_base) == 0x38, "DUMP_DRIVER_ENTRY64 DllBase");
_Static_assert(offsetof(drv64, size_of_image) == 0x48, "DUMP_DRIVER_ENTRY64 SizeOfImage");
_Static_assert(offsetof(drv64, checksum) == 0x80, "DUMP_DRIVER_ENTRY64 CheckSum");
_Static_assert(offsetof(drv64, time_date_stamp) == 0x88, "DUMP_DRIVER_ENTRY64 TimeDateStamp");

typedef struct drv32 {
    uint32_t name_offset;
    uint32_t in_load_order[2], exception_table, exception_table_size, gp_value,
        non_paged_debug_info, dll_base, entry_point, size_of_image;
    uint32_t full_dll_name[2], base_dll_name[2];
    uint32_t flags;
    uint16_t load_count, u1;
    uint32_t section_pointer, checksum, time_date_stamp;
} drv32;
_Static_assert(sizeof(drv32) == 0x4c, "DUMP_DRIVER_ENTRY32 size");
_Static_assert(offsetof(drv32, dll_base) == 0x1c, "DUMP_DRIVER_ENTRY32 DllBase");
_Static_assert(offsetof(drv32, checksum) == 0x44, "DUMP_DRIVER_ENTRY32 CheckSum");

/* DUMP_UNLOADED_DRIVERS64/32: UNICODE_STRING (its buffer pointer is meaningless here), the
 * name itself inline (at most 12 UTF-16 units), start and end address. The list is a ULONG
 * count, padded to pointer alignment, followed by the entries. */
typedef struct unl64 {
    uint16_t length, max_length;
    uint32_t pad;
    uint64_t buffer;
    uint16_t name[12];
    uint64_t start, end;
} unl64;
_Static_assert(sizeof(unl64) == 0x38, "DUMP_UNLOADED_DRIVERS64 size");
_Static_assert(offsetof(unl64, start) == 0x28, "DUMP_UNLOADED_DRIVERS64 StartAddress");

typedef struct unl32 {
    uint16_t length, max_length;
    uint32_t buffer;
    uint16_t name[12];
    uint32_t start, end;
} unl32;
_Static_assert(sizeof(unl32) == 0x28, "DUMP_UNLOADED_DRIVERS32 size");
_Static_assert(offsetof(unl32, start) == 0x20, "DUMP_UNLOADED_DRIVERS32 StartAddress");

typedef struct blk64 {
    uint64_t address;
    uint32_t offset, size;
} blk64;
_Static_assert(sizeof(blk64) == 0x10, "TRIAGE_DATA_BLOCK64 size");
typedef struct blk32 {
    uint32_t address, offset, size;
} blk32;
_Static_assert(sizeof(blk32) == 0xc, "TRIAGE_DATA_BLOCK32 size");

/* Secondary data after SizeOfDump. */
typedef struct blob_file_hdr {
    char signature[8]; /* "DumpBlob" */
    uint32_t header_size, build_number;
} blob_file_hdr;
_Static_assert(sizeof(blob_file_hdr) == 0x10, "DUMP_BLOB_FILE_HEADER size");
typedef struct blob_hdr {
    uint32_t header_size;
    uint8_t tag[16]; /* GUID */
    uint32_t data_size, pre_pad, post_pad;
} blob_hdr;
_Static_assert(sizeof(blob_hdr) == 0x20, "DUMP_BLOB_HEADER size");
_Static_assert(offsetof(blob_hdr, data_size) == 0x14, "DUMP_BLOB_HEADER.DataSize");

/* KDDEBUGGER_DATA64 (same layout on 32-bit kernels): only the kernel-provided structure
 * offsets and sizes this parser uses to follow the PRCB/thread copies. */
#define KDBG_OWNER_TAG 0x10
#define KDBG_SIZE 0x14
#define KDBG_OFF_KTHREAD_APC_PROCESS 0x2a0
#define KDBG_SIZE_EPROCESS 0x2a8
#define KDBG_SIZE_PRCB 0x2b0
#define KDBG_OFF_PRCB_CURRENT_THREAD 0x2b4
#define KDBG_SIZE_ETHREAD 0x2c0
#define KDBG_OFF_PRCB_NUMBER 0x2be  /* OffsetPrcbNumber */
#define KDBG_OFF_PRCB_CONTEXT 0x338 /* Windows 7 and later */

#define TRIAGE_VALID_MARK 0x44475254u /* "TRGD" */

/* Limits: far above what Windows writes, low enough that a hostile count cannot make us
 * allocate or loop without bound. */
#define MAX_DRIVERS 0x10000u
#define MAX_UNLOADED 1024u
#define MAX_DATA_BLOCKS 0x40000u
#define MAX_NAME_CHARS 1024u
#define MAX_BLOBS 4096u
#define MAX_BLOB_HEADER 0x1000u

/* ---- the header as fields --------------------------------------------------------------- */

typedef struct tfield {
    const char *name;
    uint8_t off64, w64; /* offset and width in TRIAGE_DUMP64 */
    uint8_t off32, w32; /* in TRIAGE_DUMP32; w32 == 0 when absent */
} tfield;

enum {
    F_SPB, F_SIZE, F_VALID, F_CONTEXT, F_EXCEPTION, F_MM, F_UNLOADED, F_PRCB, F_PROCESS,
    F_THREAD, F_STACK, F_STACK_SIZE, F_DRIVERS, F_DRIVER_COUNT, F_POOL, F_POOL_SIZE, F_BROKEN,
    F_OPTIONS, F_TOP, F_BSTORE, F_BSTORE_SIZE, F_BSTORE_LIMIT, F_PAGE_VA, F_PAGE_OFF,
    F_PAGE_SIZE, F_KDBG_OFF, F_KDBG_SIZE, F_BLOCKS, F_BLOCK_COUNT, F_COUNT
};

#define T64(f) (uint8_t) offsetof(tri64, f), (uint8_t)sizeof(((tri64 *)0)->f)
#define T32(f) (uint8_t) offsetof(tri32, f), (uint8_t)sizeof(((tri32 *)0)->f)
static const tfield tfields[F_COUNT] = {
    [F_SPB] = {"ServicePackBuild", T64(service_pack_build), T32(service_pack_build)},
    [F_SIZE] = {"SizeOfDump", T64(size_of_dump), T32(size_of_dump)},
    [F_VALID] = {"ValidOffset", T64(valid_offset), T32(valid_offset)},
    [F_CONTEXT] = {"ContextOffset", T64(context_offset), T32(context_offset)},
    [F_EXCEPTION] = {"ExceptionOffset", T64(exception_offset), T32(exception_offset)},
    [F_MM] = {"MmOffset", T64(mm_offset), T32(mm_offset)},
    [F_UNLOADED] = {"UnloadedDriversOffset", T64(unloaded_drivers_offset), T32(unloaded_drivers_offset)},
    [F_PRCB] = {"PrcbOffset", T64(prcb_offset), T32(prcb_offset)},
    [F_PROCESS] = {"ProcessOffset", T64(process_offset), T32(process_offset)},
    [F_THREAD] = {"ThreadOffset", T64(thread_offset), T32(thread_offset)},
    [F_STACK] = {"CallStackOffset", T64(call_stack_offset), T32(call_stack_offset)},
    [F_STACK_SIZE] = {"SizeOfCallStack", T64(size_of_call_stack), T32(size_of_call_stack)},
    [F_DRIVERS] = {"DriverListOffset", T64(driver_list_offset), T32(driver_list_offset)},
    [F_DRIVER_COUNT] = {"DriverCount", T64(driver_count), T32(driver_count)},
    [F_POOL] = {"StringPoolOffset", T64(string_pool_offset), T32(string_pool_offset)},
    [F_POOL_SIZE] = {"StringPoolSize", T64(string_pool_size), T32(string_pool_size)},
    [F_BROKEN] = {"BrokenDriverOffset", T64(broken_driver_offset), T32(broken_driver_offset)},
    [F_OPTIONS] = {"TriageOptions", T64(triage_options), T32(triage_options)},
    [F_TOP] = {"TopOfStack", T64(top_of_stack), T32(top_of_stack)},
    [F_BSTORE] = {"BStoreOffset", T64(bstore_offset), 0, 0},
    [F_BSTORE_SIZE] = {"SizeOfBStore", T64(size_of_bstore), 0, 0},
    [F_BSTORE_LIMIT] = {"LimitOfBStore", T64(limit_of_bstore), 0, 0},
    [F_PAGE_VA] = {"DataPageAddress", T64(data_page_address), T32(data_page_address)},
    [F_PAGE_OFF] = {"DataPageOffset", T64(data_page_offset), T32(data_page_offset)},
    [F_PAGE_SIZE] = {"DataPageSize", T64(data_page_size), T32(data_page_size)},
    [F_KDBG_OFF] = {"DebuggerDataOffset", T64(debugger_data_offset), T32(debugger_data_offset)},
    [F_KDBG_SIZE] = {"DebuggerDataSize", T64(debugger_data_size), T32(debugger_data_size)},
    [F_BLOCKS] = {"DataBlocksOffset", T64(data_blocks_offset), T32(data_blocks_offset)},
    [F_BLOCK_COUNT] = {"DataBlocksCount", T64(data_blocks_count), T32(data_blocks_count)},
};

/* Parser state for one call. */
typedef struct tstate {
    ntkd_target *t;
    const nk_file *f;
    const char *fn;
    bool is64;
    uint64_t hdr_off;
    uint64_t v[F_COUNT];
    size_t vcap; /* capacity of d.vranges */
    size_t mcap; /* capacity of d.modules */
    uint64_t ptr_size;
} tstate;

static uint64_t rd(const uint8_t *p, unsigned w)
{
    return w == 8 ? nk_le64(p) : w == 4 ? nk_le32(p) : w == 2 ? nk_le16(p) : p[0];
}

static size_t ctx_size(nk_arch a)
{
    switch (a) {
    case NK_ARCH_X64: return 0x4d0;
    case NK_ARCH_X86: return 0x2cc;
    case NK_ARCH_ARM64: return 0x390;
    default: return 0;
    }
}

/* ContextFlags position and the architecture bit it carries. */
static bool ctx_flags_ok(nk_arch a, const uint8_t *p)
{
    switch (a) {
    case NK_ARCH_X64: return (nk_le32(p + 0x30) & 0x00100000u) != 0;
    case NK_ARCH_X86: return (nk_le32(p) & 0x00010000u) != 0;
    case NK_ARCH_ARM64: return (nk_le32(p) & 0x00400000u) != 0;
    default: return false;
    }
}

static void add_vrange(tstate *s, uint64_t va, uint64_t size, uint64_t off)
{
    nk_dump *d = &s->t->d;
    if (!size) return;
    if (!nk_grow((void **)&d->vranges, &s->vcap, d->nvranges + 1, sizeof *d->vranges)) return;
    d->vranges[d->nvranges++] = (nk_vrange){.va = va, .size = size, .file_off = off};
}

/* Adds a region the header declares, clipping it to the file with a warning naming it. */
static void add_region(tstate *s, const char *what, uint64_t va, uint64_t size, uint64_t off)
{
    if (!size) return;
    if (!s->is64 && (va > 0xffffffffull || size > 0x100000000ull - va)) {
        nk_warn(s->t, "%s: %s at file offset 0x%llx: address %llx + 0x%llx is outside a 32-bit "
                "address space; ignored", s->fn, what, (unsigned long long)off,
                (unsigned long long)va, (unsigned long long)size);
        return;
    }
    if (!nk_in_bounds(s->f->size, off, size)) {
        uint64_t room = s->f->size > off ? s->f->size - off : 0;
        nk_warn(s->t, "%s: %s (%llx, 0x%llx bytes) at file offset 0x%llx runs past the end of "
                "the file (size 0x%llx); 0x%llx bytes kept", s->fn, what, (unsigned long long)va,
                (unsigned long long)size, (unsigned long long)off,
                (unsigned long long)s->f->size, (unsigned long long)room);
        size = room;
    }
    add_vrange(s, va, size, off);
}

/* ---- header ------------------------------------------------------------------------------ */

static nk_status read_header(tstate *s)
{
    const char *sec = s->is64 ? "TRIAGE_DUMP64" : "TRIAGE_DUMP32";
    uint64_t hsize = s->is64 ? sizeof(tri64) : sizeof(tri32);
    if (!nk_in_bounds(s->f->size, s->hdr_off, hsize))
        return nk_fail(s->t->ctx, NTKD_E_TRUNCATED,
                       "%s: %s header at 0x%llx needs 0x%llx bytes but the file is 0x%llx bytes",
                       s->fn, sec, (unsigned long long)s->hdr_off, (unsigned long long)hsize,
                       (unsigned long long)s->f->size);
    const uint8_t *h = s->f->data + s->hdr_off;
    for (int i = 0; i < F_COUNT; i++) {
        const tfield *tf = &tfields[i];
        unsigned off = s->is64 ? tf->off64 : tf->off32;
        unsigned w = s->is64 ? tf->w64 : tf->w32;
        if (!w) continue;
        s->v[i] = rd(h + off, w);
        nk_dump_field(s->t, sec, tf->name, s->hdr_off + off, s->v[i], (uint8_t)w, NULL);
    }
    nk_triage *tr = &s->t->d.triage;
    tr->present = true;
    tr->service_pack_build = (uint32_t)s->v[F_SPB];
    tr->size_of_dump = (uint32_t)s->v[F_SIZE];
    tr->valid_offsets = (uint32_t)s->v[F_VALID];
    tr->context_off = s->v[F_CONTEXT];
    tr->exception_off = s->v[F_EXCEPTION];
    tr->mm_off = s->v[F_MM];
    tr->unloaded_drivers_off = s->v[F_UNLOADED];
    tr->prcb_off = s->v[F_PRCB];
    tr->process_off = s->v[F_PROCESS];
    tr->thread_off = s->v[F_THREAD];
    tr->call_stack_off = s->v[F_STACK];
    tr->call_stack_size = (uint32_t)s->v[F_STACK_SIZE];
    tr->driver_list_off = s->v[F_DRIVERS];
    tr->driver_count = (uint32_t)s->v[F_DRIVER_COUNT];
    tr->string_pool_off = s->v[F_POOL];
    tr->string_pool_size = (uint32_t)s->v[F_POOL_SIZE];
    tr->data_blocks_off = s->v[F_BLOCKS];
    tr->data_blocks_count = (uint32_t)s->v[F_BLOCK_COUNT];
    tr->debugger_data_off = s->v[F_KDBG_OFF];
    tr->debugger_data_size = (uint32_t)s->v[F_KDBG_SIZE];
    tr->top_of_stack = s->v[F_TOP];
    tr->bstore_size = s->v[F_BSTORE_SIZE];
    tr->top_of_bstore = s->v[F_BSTORE_LIMIT];

    /* ValidOffset is where the writer put "TRGD" once the body was complete (the last
     * ULONG of SizeOfDump on every dump seen). */
    uint32_t mark = 0;
    if (!nk_file_u32(s->f, s->v[F_VALID], &mark))
        nk_warn(s->t, "%s: %s.ValidOffset 0x%llx (at 0x%llx) is past the end of the file "
                "(size 0x%llx): the dump is truncated", s->fn, sec,
                (unsigned long long)s->v[F_VALID], (unsigned long long)s->hdr_off + 8,
                (unsigned long long)s->f->size);
    else if (mark != TRIAGE_VALID_MARK)
        nk_warn(s->t, "%s: no \"TRGD\" mark at ValidOffset 0x%llx (found 0x%08x): the triage "
                "dump may be incomplete", s->fn, (unsigned long long)s->v[F_VALID], mark);
    if (s->v[F_SIZE] > s->f->size)
        nk_warn(s->t, "%s: %s.SizeOfDump is 0x%llx but the file is 0x%llx bytes: the dump is "
                "truncated", s->fn, sec, (unsigned long long)s->v[F_SIZE],
                (unsigned long long)s->f->size);
    return NTKD_OK;
}

/* DUMP_MM_STORAGE: a few memory-manager counters, as .dumpdebug fields. */
static void read_mm(tstate *s)
{
    static const char *const names[] = {
        "Version", "Size", "MmSpecialPoolTag", "MiTriageActionTaken", "MmVerifyDriverLevel",
        "KernelVerifier", "MmMaximumNonPagedPool", "MmAllocatedNonPagedPool",
        "PagedPoolMaximum", "PagedPoolAllocated", "CommittedPages", "CommittedPagesPeak",
        "CommitLimitMaximum"};
    uint64_t off = s->v[F_MM];
    if (!off) return;
    const char *sec = s->is64 ? "DUMP_MM_STORAGE64" : "DUMP_MM_STORAGE32";
    uint32_t size;
    if (!nk_file_u32(s->f, off + 4, &size)) {
        nk_warn(s->t, "%s: Mm information at 0x%llx is past the end of the file", s->fn,
                (unsigned long long)off);
        return;
    }
    uint64_t pos = 0;
    for (size_t i = 0; i < sizeof names / sizeof names[0]; i++) {
        unsigned w = (i < 6 || !s->is64) ? 4 : 8;
        if (pos + w > size || !nk_in_bounds(s->f->size, off + pos, w)) break;
        nk_dump_field(s->t, sec, names[i], off + pos, rd(s->f->data + off + pos, w), (uint8_t)w,
                      NULL);
        pos += w;
    }
}

/* The extent of a copied structure: from its offset to the next section the header names
 * (every section is contiguous in the files Windows writes), at most to SizeOfDump/EOF. */
static uint64_t section_extent(const tstate *s, uint64_t off)
{
    static const int starts[] = {F_CONTEXT, F_EXCEPTION, F_MM, F_UNLOADED, F_PRCB, F_PROCESS,
                                 F_THREAD, F_STACK, F_DRIVERS, F_POOL, F_PAGE_OFF, F_KDBG_OFF,
                                 F_BLOCKS, F_VALID, F_SIZE};
    uint64_t end = s->f->size;
    if (s->v[F_SIZE] && s->v[F_SIZE] < end) end = s->v[F_SIZE];
    if (off >= end) return 0;
    for (size_t i = 0; i < sizeof starts / sizeof starts[0]; i++) {
        uint64_t o = s->v[starts[i]];
        if (o > off && o < end) end = o;
    }
    return end - off;
}

/* ---- contexts ------------------------------------------------------------------------------- */

static bool have_context(const nk_dump *d, const uint8_t *p, size_t len)
{
    for (size_t i = 0; i < d->ncontexts; i++)
        if (d->contexts[i].data == p || (d->contexts[i].len == len &&
                                         !memcmp(d->contexts[i].data, p, len)))
            return true;
    return false;
}

static void add_context(tstate *s, const uint8_t *p, const char *origin)
{
    nk_dump *d = &s->t->d;
    size_t len = ctx_size(d->arch);
    if (d->ncontexts >= sizeof d->contexts / sizeof d->contexts[0] || have_context(d, p, len))
        return;
    d->contexts[d->ncontexts++] = (nk_context){.arch = d->arch, .data = p, .len = len,
                                               .origin = origin};
}

/* The triage ContextOffset: on every dump seen it is the header's own context (0x348 /
 * 0x320), which the container already added; a different one is added after it. */
static void read_triage_context(tstate *s)
{
    uint64_t off = s->v[F_CONTEXT];
    size_t len = ctx_size(s->t->d.arch);
    if (!off || !len) return;
    if (!nk_in_bounds(s->f->size, off, len)) {
        nk_warn(s->t, "%s: triage context at 0x%llx (0x%zx bytes) is past the end of the file",
                s->fn, (unsigned long long)off, len);
        return;
    }
    const uint8_t *p = s->f->data + off;
    if (!ctx_flags_ok(s->t->d.arch, p)) {
        nk_warn(s->t, "%s: triage context at 0x%llx has no %s ContextFlags bit; ignored", s->fn,
                (unsigned long long)off, nk_arch_name(s->t->d.arch));
        return;
    }
    add_context(s, p, "triage context");
}

/* ---- modules ------------------------------------------------------------------------------ */

static nk_module *new_module(tstate *s)
{
    nk_dump *d = &s->t->d;
    if (!nk_grow((void **)&d->modules, &s->mcap, d->nmodules + 1, sizeof *d->modules))
        return NULL;
    nk_module *m = &d->modules[d->nmodules];
    memset(m, 0, sizeof *m);
    return m;
}

static const char *base_name(const char *path)
{
    const char *b = path;
    for (const char *p = path; *p; p++)
        if (*p == '\\' || *p == '/') b = p + 1;
    return b;
}

/* Reads the DUMP_STRING at `off`: a ULONG count of UTF-16 units, the units, a NUL. */
static char *pool_string(tstate *s, uint64_t off, uint64_t lo, uint64_t hi, const char **why)
{
    uint32_t n;
    if (off < lo || off >= hi || hi - off < 4 || !nk_file_u32(s->f, off, &n)) {
        *why = "is outside the string pool";
        return NULL;
    }
    if (n > MAX_NAME_CHARS) {
        *why = "has an implausible length";
        return NULL;
    }
    if ((uint64_t)n * 2 > hi - off - 4) {
        *why = "runs past the end of the string pool";
        return NULL;
    }
    char *str = nk_utf16_to_utf8(s->f->data + off + 4, (size_t)n * 2);
    if (!str) *why = "could not be converted (out of memory)";
    return str;
}

static void read_drivers(tstate *s)
{
    nk_dump *d = &s->t->d;
    uint64_t list = s->v[F_DRIVERS];
    uint64_t count = s->v[F_DRIVER_COUNT];
    uint64_t stride = s->is64 ? sizeof(drv64) : sizeof(drv32);
    if (!count) return;
    if (count > MAX_DRIVERS) {
        nk_warn(s->t, "%s: driver list at 0x%llx: DriverCount %llu (at 0x%llx) is more than %u; "
                "the driver list is ignored", s->fn, (unsigned long long)list,
                (unsigned long long)count,
                (unsigned long long)s->hdr_off + tfields[F_DRIVER_COUNT].off64, MAX_DRIVERS);
        return;
    }
    if (!list || list >= s->f->size) {
        nk_warn(s->t, "%s: driver list offset 0x%llx (for %llu drivers) is outside the file "
                "(size 0x%llx); no driver list", s->fn, (unsigned long long)list,
                (unsigned long long)count, (unsigned long long)s->f->size);
        return;
    }
    uint64_t fit = (s->f->size - list) / stride;
    if (fit < count) {
        nk_warn(s->t, "%s: driver list at 0x%llx: entry %llu of %llu (at 0x%llx) is past the end "
                "of the file (size 0x%llx); %llu drivers read", s->fn, (unsigned long long)list,
                (unsigned long long)fit + 1, (unsigned long long)count,
                (unsigned long long)(list + fit * stride), (unsigned long long)s->f->size,
                (unsigned long long)fit);
        count = fit;
    }
    /* The string pool, clipped to the file. Names must lie inside it. */
    uint64_t lo = s->v[F_POOL], hi = lo + s->v[F_POOL_SIZE];
    if (!lo || !s->v[F_POOL_SIZE] || lo >= s->f->size) {
        nk_warn(s->t, "%s: string pool at 0x%llx (0x%llx bytes) is empty or outside the file; "
                "driver names are read from anywhere in the file", s->fn,
                (unsigned long long)lo, (unsigned long long)s->v[F_POOL_SIZE]);
        lo = 0;
        hi = s->f->size;
    } else if (hi > s->f->size) {
        nk_warn(s->t, "%s: string pool at 0x%llx (0x%llx bytes) runs past the end of the file "
                "(size 0x%llx)", s->fn, (unsigned long long)lo,
                (unsigned long long)s->v[F_POOL_SIZE], (unsigned long long)s->f->size);
        hi = s->f->size;
    }
    uint64_t bad = 0, first_bad = 0;
    const char *first_why = NULL;
    for (uint64_t i = 0; i < count; i++) {
        uint64_t e = list + i * stride;
        const uint8_t *p = s->f->data + e;
        uint64_t name_off, base, size;
        uint32_t cks, ts;
        if (s->is64) {
            name_off = nk_le32(p + offsetof(drv64, name_offset));
            base = nk_le64(p + offsetof(drv64, dll_base));
            size = nk_le32(p + offsetof(drv64, size_of_image));
            cks = nk_le32(p + offsetof(drv64, checksum));
            ts = nk_le32(p + offsetof(drv64, time_date_stamp));
        } else {
            name_off = nk_le32(p + offsetof(drv32, name_offset));
            base = nk_le32(p + offsetof(drv32, dll_base));
            size = nk_le32(p + offsetof(drv32, size_of_image));
            cks = nk_le32(p + offsetof(drv32, checksum));
            ts = nk_le32(p + offsetof(drv32, time_date_stamp));
        }
        nk_module *m = new_module(s);
        if (!m) break;
        const char *why = NULL;
        char *path = pool_string(s, name_off, lo, hi, &why);
        if (!path) {
            if (!bad++) {
                first_bad = i;
                first_why = why;
            }
            char buf[48];
            snprintf(buf, sizeof buf, "Unknown_Module_%016llx", (unsigned long long)base);
            m->name = strdup(buf);
        } else {
            m->name = strdup(base_name(path));
            m->path = path;
        }
        if (!m->name) {
            free(m->path);
            break;
        }
        m->base = base;
        m->size = size;
        m->checksum = cks;
        m->timestamp = ts;
        d->nmodules++;
    }
    if (bad)
        nk_warn(s->t, "%s: driver list at 0x%llx: the name of entry %llu of %llu (at 0x%llx) %s "
                "(string pool 0x%llx..0x%llx); %llu names unreadable", s->fn,
                (unsigned long long)list, (unsigned long long)first_bad + 1,
                (unsigned long long)count, (unsigned long long)(list + first_bad * stride),
                first_why, (unsigned long long)lo, (unsigned long long)hi,
                (unsigned long long)bad);
}

static void read_unloaded(tstate *s)
{
    nk_dump *d = &s->t->d;
    uint64_t off = s->v[F_UNLOADED];
    if (!off) return;
    uint32_t count;
    if (!nk_file_u32(s->f, off, &count)) {
        nk_warn(s->t, "%s: unloaded-driver list at 0x%llx is past the end of the file", s->fn,
                (unsigned long long)off);
        return;
    }
    if (count > MAX_UNLOADED) {
        nk_warn(s->t, "%s: unloaded-driver list at 0x%llx: count %u is more than %u; ignored",
                s->fn, (unsigned long long)off, count, MAX_UNLOADED);
        return;
    }
    uint64_t first = off + s->ptr_size; /* the ULONG count, padded to pointer alignment */
    uint64_t stride = s->is64 ? sizeof(unl64) : sizeof(unl32);
    uint64_t fit = first < s->f->size ? (s->f->size - first) / stride : 0;
    if (fit < count) {
        nk_warn(s->t, "%s: unloaded-driver list at 0x%llx: entry %llu of %u (at 0x%llx) is past "
                "the end of the file; %llu read", s->fn, (unsigned long long)off,
                (unsigned long long)fit + 1, count, (unsigned long long)(first + fit * stride),
                (unsigned long long)fit);
        count = (uint32_t)fit;
    }
    for (uint32_t i = 0; i < count; i++) {
        const uint8_t *p = s->f->data + first + i * stride;
        uint16_t len;
        const uint8_t *name;
        uint64_t start, end;
        if (s->is64) {
            len = nk_le16(p + offsetof(unl64, length));
            name = p + offsetof(unl64, name);
            start = nk_le64(p + offsetof(unl64, start));
            end = nk_le64(p + offsetof(unl64, end));
        } else {
            len = nk_le16(p + offsetof(unl32, length));
            name = p + offsetof(unl32, name);
            start = nk_le32(p + offsetof(unl32, start));
            end = nk_le32(p + offsetof(unl32, end));
        }
        size_t nbytes = len && len < 24 ? len : 24; /* the inline copy holds 12 units */
        nk_module *m = new_module(s);
        if (!m) break;
        m->name = nk_utf16_to_utf8(name, nbytes);
        if (!m->name) break;
        m->base = start;
        m->size = end > start ? end - start : 0;
        m->unloaded = true;
        d->nmodules++;
    }
}

/* ---- memory the dump carries --------------------------------------------------------------- */

static void read_data_blocks(tstate *s)
{
    uint64_t tab = s->v[F_BLOCKS];
    uint64_t count = s->v[F_BLOCK_COUNT];
    uint64_t stride = s->is64 ? sizeof(blk64) : sizeof(blk32);
    if (!count) return;
    if (count > MAX_DATA_BLOCKS) {
        nk_warn(s->t, "%s: data-block table at 0x%llx: DataBlocksCount %llu is more than %u; "
                "only the first %u are read", s->fn, (unsigned long long)tab,
                (unsigned long long)count, MAX_DATA_BLOCKS, MAX_DATA_BLOCKS);
        count = MAX_DATA_BLOCKS;
    }
    uint64_t fit = tab && tab < s->f->size ? (s->f->size - tab) / stride : 0;
    if (fit < count) {
        nk_warn(s->t, "%s: data-block table at 0x%llx: block %llu of %llu (at 0x%llx) is past the "
                "end of the file (size 0x%llx); %llu blocks read", s->fn,
                (unsigned long long)tab, (unsigned long long)fit + 1, (unsigned long long)count,
                (unsigned long long)(tab + fit * stride), (unsigned long long)s->f->size,
                (unsigned long long)fit);
        count = fit;
    }
    uint64_t bad = 0, first_bad = 0;
    for (uint64_t i = 0; i < count; i++) {
        const uint8_t *p = s->f->data + tab + i * stride;
        uint64_t va, off, size;
        if (s->is64) {
            va = nk_le64(p + offsetof(blk64, address));
            off = nk_le32(p + offsetof(blk64, offset));
            size = nk_le32(p + offsetof(blk64, size));
        } else {
            va = nk_le32(p + offsetof(blk32, address));
            off = nk_le32(p + offsetof(blk32, offset));
            size = nk_le32(p + offsetof(blk32, size));
        }
        if (!size) continue;
        if (!nk_in_bounds(s->f->size, off, size)) {
            if (!bad++) first_bad = i;
            size = off < s->f->size ? s->f->size - off : 0;
        }
        if (size > UINT64_MAX - va) size = UINT64_MAX - va;
        add_vrange(s, va, size, off);
    }
    if (bad)
        nk_warn(s->t, "%s: data-block table at 0x%llx: block %llu (at 0x%llx) runs past the end "
                "of the file (size 0x%llx); %llu blocks clipped", s->fn, (unsigned long long)tab,
                (unsigned long long)first_bad + 1, (unsigned long long)(tab + first_bad * stride),
                (unsigned long long)s->f->size, (unsigned long long)bad);
}

/* The decoded KDDEBUGGER_DATA64 copy, when the file holds it: its bytes and length. */
static const uint8_t *kdbg_copy(tstate *s, uint64_t *len)
{
    uint64_t off = s->v[F_KDBG_OFF], size = s->v[F_KDBG_SIZE];
    if (!off || size < KDBG_SIZE + 4) return NULL;
    if (!nk_in_bounds(s->f->size, off, size)) {
        nk_warn(s->t, "%s: debugger data at 0x%llx (0x%llx bytes) runs past the end of the file",
                s->fn, (unsigned long long)off, (unsigned long long)size);
        return NULL;
    }
    const uint8_t *p = s->f->data + off;
    if (memcmp(p + KDBG_OWNER_TAG, "KDBG", 4)) {
        nk_warn(s->t, "%s: debugger data at 0x%llx has no \"KDBG\" owner tag", s->fn,
                (unsigned long long)off);
        return NULL;
    }
    uint32_t own = nk_le32(p + KDBG_SIZE);
    *len = own < size ? own : size;
    return p;
}

static uint16_t kdbg_u16(const uint8_t *k, uint64_t klen, uint64_t off)
{
    return k && off + 2 <= klen ? nk_le16(k + off) : 0;
}

/* A pointer-sized value inside a copied structure (offset, extent), 0 when outside it. */
static uint64_t copy_ptr(tstate *s, uint64_t off, uint64_t extent, uint64_t at)
{
    if (!off || !at || at + s->ptr_size > extent) return 0;
    if (!nk_in_bounds(s->f->size, off + at, s->ptr_size)) return 0;
    return rd(s->f->data + off + at, (unsigned)s->ptr_size);
}

/* The virtual address of a copied structure, found as a data block holding the same bytes
 * (the first min(block, copy, 4 KB) bytes, at least 0x100 of them, not all zero); 0 when
 * there is none or the blocks disagree. The 4 KB bound keeps a hostile table of many
 * identical blocks cheap. */
static uint64_t va_by_identity(tstate *s, uint64_t off, uint64_t extent)
{
    const nk_dump *d = &s->t->d;
    if (!off || extent < 0x100 || !nk_in_bounds(s->f->size, off, 0x100)) return 0;
    bool zero = true;
    for (uint64_t j = 0; j < 0x100 && zero; j++) zero = s->f->data[off + j] == 0;
    if (zero) return 0;
    uint64_t found = 0;
    for (size_t i = 0; i < d->nvranges; i++) {
        const nk_vrange *r = &d->vranges[i];
        uint64_t n = r->size < extent ? r->size : extent;
        if (n > 0x1000) n = 0x1000;
        if (n < 0x100 || r->file_off == off || !nk_in_bounds(s->f->size, off, n)) continue;
        if (memcmp(s->f->data + r->file_off, s->f->data + off, (size_t)n)) continue;
        if (found && found != r->va) return 0;
        found = r->va;
    }
    return found;
}

/* PRCB, current thread and process: their sizes, virtual addresses and mappings. The
 * kernel itself states the offsets needed (CurrentThread in the PRCB, ApcState.Process in
 * the thread, the PRCB's context pointer) in its debugger data block, which the dump copies;
 * no structure offset is assumed here. */
static void locate_copies(tstate *s, const uint8_t *kdbg, uint64_t klen)
{
    nk_triage *tr = &s->t->d.triage;
    uint64_t prcb_ext = tr->prcb_off ? section_extent(s, tr->prcb_off) : 0;
    uint64_t proc_ext = tr->process_off ? section_extent(s, tr->process_off) : 0;
    uint64_t thr_ext = tr->thread_off ? section_extent(s, tr->thread_off) : 0;
    uint16_t sz;
    if ((sz = kdbg_u16(kdbg, klen, KDBG_SIZE_PRCB)) && sz < prcb_ext) prcb_ext = sz;
    if ((sz = kdbg_u16(kdbg, klen, KDBG_SIZE_EPROCESS)) && sz < proc_ext) proc_ext = sz;
    if ((sz = kdbg_u16(kdbg, klen, KDBG_SIZE_ETHREAD)) && sz < thr_ext) thr_ext = sz;
    tr->prcb_size = (uint32_t)prcb_ext;
    tr->process_size = (uint32_t)proc_ext;
    tr->thread_size = (uint32_t)thr_ext;

    tr->prcb_va = va_by_identity(s, tr->prcb_off, prcb_ext);
    if (kdbg) {
        tr->thread_va = copy_ptr(s, tr->prcb_off, prcb_ext,
                                 kdbg_u16(kdbg, klen, KDBG_OFF_PRCB_CURRENT_THREAD));
        tr->process_va = copy_ptr(s, tr->thread_off, thr_ext,
                                  kdbg_u16(kdbg, klen, KDBG_OFF_KTHREAD_APC_PROCESS));
    }
    /* The processor that bugchecked is the one whose PRCB the dump copied: its number is at
     * the offset the debugger data names (the prompt shows it, "5: kd>"). */
    uint16_t num_at = kdbg ? kdbg_u16(kdbg, klen, KDBG_OFF_PRCB_NUMBER) : 0;
    if (num_at && tr->prcb_off && num_at + 2u <= prcb_ext &&
        nk_in_bounds(s->f->size, tr->prcb_off + num_at, 2)) {
        uint16_t cpu = nk_le16(s->f->data + tr->prcb_off + num_at);
        if (!s->t->d.nprocs || cpu < s->t->d.nprocs) s->t->d.bugcheck_cpu = cpu;
        else nk_warn(s->t, "%s: PRCB copy at 0x%llx: processor number %u is not below the "
                     "processor count %u", nk_file_name(&s->t->file),
                     (unsigned long long)tr->prcb_off, cpu, s->t->d.nprocs);
    }
    if (!tr->thread_va) tr->thread_va = va_by_identity(s, tr->thread_off, thr_ext);
    if (!tr->process_va) tr->process_va = va_by_identity(s, tr->process_off, proc_ext);
    if (tr->prcb_va) add_region(s, "PRCB copy", tr->prcb_va, prcb_ext, tr->prcb_off);
    if (tr->process_va) add_region(s, "EPROCESS copy", tr->process_va, proc_ext, tr->process_off);
    if (tr->thread_va) add_region(s, "ETHREAD copy", tr->thread_va, thr_ext, tr->thread_off);
}

/* The context the PRCB points to (what KeBugCheckEx captured), when its bytes are in the
 * dump. Called after the ranges are sorted. */
static void read_prcb_context(tstate *s, const uint8_t *kdbg, uint64_t klen)
{
    nk_dump *d = &s->t->d;
    nk_triage *tr = &d->triage;
    uint16_t at = kdbg_u16(kdbg, klen, KDBG_OFF_PRCB_CONTEXT);
    uint64_t va = copy_ptr(s, tr->prcb_off, tr->prcb_size, at);
    size_t len = ctx_size(d->arch);
    if (!va || !len) return;
    for (size_t i = 0; i < d->nvranges; i++) {
        const nk_vrange *r = &d->vranges[i];
        if (va < r->va || va - r->va >= r->size) continue;
        if (r->size - (va - r->va) < len) return;
        const uint8_t *p = s->f->data + r->file_off + (va - r->va);
        if (ctx_flags_ok(d->arch, p)) add_context(s, p, "KPRCB");
        return;
    }
}

/* ---- secondary data ------------------------------------------------------------------------- */

static void guid_text(const uint8_t *g, char out[40])
{
    snprintf(out, 40, "{%08X-%04X-%04X-%02X%02X-%02X%02X%02X%02X%02X%02X}", nk_le32(g),
             nk_le16(g + 4), nk_le16(g + 6), g[8], g[9], g[10], g[11], g[12], g[13], g[14],
             g[15]);
}

static void read_blobs(tstate *s)
{
    static const char sec[] = "DUMP_BLOB_FILE_HEADER";
    uint64_t start = s->v[F_SIZE];
    if (!start || start >= s->f->size) return;
    uint64_t left = s->f->size - start;
    const uint8_t *p = s->f->data + start;
    if (left < sizeof(blob_file_hdr) || memcmp(p, "DumpBlob", 8)) {
        bool zero = true;
        for (uint64_t i = 0; i < left && i < 16 && zero; i++) zero = p[i] == 0;
        if (!zero)
            nk_warn(s->t, "%s: 0x%llx bytes after SizeOfDump (0x%llx) are not \"DumpBlob\" "
                    "secondary data; ignored", s->fn, (unsigned long long)left,
                    (unsigned long long)start);
        return;
    }
    uint32_t hsize = nk_le32(p + offsetof(blob_file_hdr, header_size));
    uint32_t build = nk_le32(p + offsetof(blob_file_hdr, build_number));
    nk_dump_field(s->t, sec, "Signature", start, 0, 8, "DumpBlob");
    nk_dump_field(s->t, sec, "HeaderSize", start + 8, hsize, 4, NULL);
    nk_dump_field(s->t, sec, "BuildNumber", start + 12, build, 4, NULL);
    if (hsize < sizeof(blob_file_hdr) || hsize > MAX_BLOB_HEADER || hsize > left) {
        nk_warn(s->t, "%s: DumpBlob header at 0x%llx: HeaderSize 0x%x is invalid; secondary data "
                "ignored", s->fn, (unsigned long long)start, hsize);
        return;
    }
    s->t->d.triage.bugcheck_data_off = start;
    uint64_t off = start + hsize;
    unsigned n = 0;
    while (off < s->f->size) {
        if (n >= MAX_BLOBS) {
            nk_warn(s->t, "%s: more than %u DumpBlob records (next at 0x%llx); the rest are "
                    "ignored", s->fn, MAX_BLOBS, (unsigned long long)off);
            break;
        }
        uint64_t room = s->f->size - off;
        if (room < sizeof(blob_hdr)) {
            nk_warn(s->t, "%s: DumpBlob record %u at 0x%llx: only 0x%llx bytes left for its "
                    "0x%zx-byte header", s->fn, n + 1, (unsigned long long)off,
                    (unsigned long long)room, sizeof(blob_hdr));
            break;
        }
        const uint8_t *b = s->f->data + off;
        uint32_t bh = nk_le32(b + offsetof(blob_hdr, header_size));
        uint32_t dsize = nk_le32(b + offsetof(blob_hdr, data_size));
        uint32_t pre = nk_le32(b + offsetof(blob_hdr, pre_pad));
        uint32_t post = nk_le32(b + offsetof(blob_hdr, post_pad));
        if (bh < sizeof(blob_hdr) || bh > MAX_BLOB_HEADER) {
            nk_warn(s->t, "%s: DumpBlob record %u at 0x%llx: HeaderSize 0x%x is invalid; the "
                    "rest of the secondary data is ignored", s->fn, n + 1,
                    (unsigned long long)off, bh);
            break;
        }
        uint64_t data = off + bh + pre;
        uint64_t size = dsize;
        bool cut = !nk_in_bounds(s->f->size, data, size);
        if (cut) {
            nk_warn(s->t, "%s: DumpBlob record %u at 0x%llx: 0x%x bytes of data at 0x%llx run past "
                    "the end of the file (size 0x%llx)", s->fn, n + 1, (unsigned long long)off,
                    dsize, (unsigned long long)data, (unsigned long long)s->f->size);
            size = data < s->f->size ? s->f->size - data : 0;
        }
        char tag[40], text[96];
        guid_text(b + offsetof(blob_hdr, tag), tag);
        nk_dump_blob(s->t, tag, data, size);
        char name[24];
        snprintf(name, sizeof name, "Blob %u", n);
        snprintf(text, sizeof text, "%s 0x%x bytes at 0x%llx", tag, dsize,
                 (unsigned long long)data);
        nk_dump_field(s->t, sec, name, off, dsize, 4, text);
        n++;
        if (cut) break;
        off = data + size + post;
    }
}

/* ---- entry --------------------------------------------------------------------------------- */

nk_status nk_triage_parse(ntkd_target *t, uint64_t hdr_off)
{
    nk_dump *d = &t->d;
    tstate s = {.t = t, .f = &t->file, .fn = nk_file_name(&t->file), .is64 = d->is64,
                .hdr_off = hdr_off, .vcap = d->nvranges, .mcap = d->nmodules,
                .ptr_size = d->is64 ? 8 : 4};
    if (d->kind == NK_KIND_NONE) d->kind = NK_KIND_KERNEL_TRIAGE;
    nk_status st = read_header(&s);
    if (st != NTKD_OK) return st;
    read_mm(&s);
    read_triage_context(&s);
    read_drivers(&s);
    read_unloaded(&s);

    /* the kernel stack from the captured stack pointer upwards */
    if (s.v[F_STACK] && s.v[F_STACK_SIZE])
        add_region(&s, "call stack", s.v[F_TOP], s.v[F_STACK_SIZE], s.v[F_STACK]);
    else if (s.v[F_STACK_SIZE])
        nk_warn(t, "%s: SizeOfCallStack is 0x%llx but CallStackOffset is 0", s.fn,
                (unsigned long long)s.v[F_STACK_SIZE]);
    read_data_blocks(&s);
    if (s.v[F_PAGE_VA] && s.v[F_PAGE_OFF] && s.v[F_PAGE_SIZE])
        add_region(&s, "data page", s.v[F_PAGE_VA], s.v[F_PAGE_SIZE], s.v[F_PAGE_OFF]);
    uint64_t klen = 0;
    const uint8_t *kdbg = kdbg_copy(&s, &klen);
    if (kdbg && d->kd_debugger_data_block)
        add_region(&s, "debugger data", d->kd_debugger_data_block, klen, s.v[F_KDBG_OFF]);
    locate_copies(&s, kdbg, klen);
    nk_vranges_check(t);
    read_prcb_context(&s, kdbg, klen);
    read_blobs(&s);
    return NTKD_OK;
}
