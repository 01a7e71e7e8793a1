/* gen_triage.c: small ("triage", DumpType 4) kernel dumps: the dump header, TRIAGE_DUMP64 at
 * 0x2000 (or TRIAGE_DUMP32 at 0x1000), MM info, unloaded drivers, PRCB/process/thread copies,
 * the call stack, the debugger data block copy, the driver list with its DUMP_STRING pool,
 * virtual data blocks, the "TRGD" valid marker, then "DumpBlob" secondary-data records after
 * SizeOfDump, as in corpus/dumps/kernel/triage-x64-19041.dmp. */
#include "gen.h"

#include <stdlib.h>
#include <string.h>

typedef struct drv {
    const char *path;
    uint64_t base64;
    uint32_t base32;
    uint32_t size, timestamp, checksum;
} drv;

/* amdppm.sys and Wdf01000.sys carry the TimeDateStamp/SizeOfImage of the images in
 * corpus/symstore, so symbol tests can find them. */
static const drv drivers[] = {
    {"\\SystemRoot\\system32\\ntoskrnl.exe", 0xfffff80372a00000ULL, 0x82a00000u, 0x1046000, 0x5e7c2a11, 0x00a5938c},
    {"\\SystemRoot\\system32\\hal.dll", 0xfffff80370e40000ULL, 0x82e70000u, 0x6000, 0x3a7f1c02, 0x0000f1a3},
    {"\\SystemRoot\\system32\\kd.dll", 0xfffff80370e50000ULL, 0x80bb4000u, 0xb000, 0x6b1d4e90, 0x0001391c},
    {"\\SystemRoot\\System32\\drivers\\CLFS.SYS", 0xfffff80370e90000ULL, 0x8b800000u, 0x6a000, 0x1c2b3a4d, 0x0006e0f2},
    {"\\SystemRoot\\System32\\drivers\\Wdf01000.sys", 0xfffff80371200000ULL, 0x8b870000u, 0xd1000, 0xa9a9d36e, 0x000d9a1e},
    {"\\SystemRoot\\System32\\drivers\\amdppm.sys", 0xfffff80375580000ULL, 0x8bc40000u, 0x3b000, 0xc9c03000, 0x0003f3a0},
    {"\\SystemRoot\\System32\\DriverStore\\FileRepository\\crashme.inf_amd64_0123456789abcdef\\crashme.sys",
     0xfffff80375600000ULL, 0x8bc80000u, 0x9000, 0x61a2b3c4, 0x0000c0de},
};
#define NDRIVERS (sizeof drivers / sizeof drivers[0])

typedef struct blk {
    uint64_t va64;
    uint32_t va32;
    uint32_t size;
} blk;

/* Virtual data blocks, in no particular order (real dumps list them unsorted). */
static const blk blocks[] = {
    {0xfffff80372a00000ULL + 0xc2a000, 0x82a00000u + 0x16a000, 0x1000}, /* PsLoadedModuleList's page */
    {0xffff9b00021ff340ULL, 0x8a21f340u, 0x4d0},
    {0xfffff80375583000ULL, 0x8bc43000u, 0x1000}, /* amdppm code around the faulting ip */
    {0xffffd48a3c5e1000ULL, 0x8c5e1000u, 0x2000},
    {0xfffff80372a00000ULL + 0x2d4180, 0x82a00000u + 0x114180, 0x9c},
    {0xffff85042a000000ULL, 0x8d000000u, 0x800}, /* exception and context records */
};
#define NBLOCKS (sizeof blocks / sizeof blocks[0])

typedef struct blobdef {
    uint8_t guid[16];
    uint32_t size, pre, post;
} blobdef;

static const blobdef blobs[] = {
    {{0x88, 0x48, 0xc8, 0x54, 0xd1, 0x01, 0x1e, 0x4c, 0xbe, 0xd6, 0x28, 0x2c, 0x98, 0x24, 0x13, 0x03},
     0x100, 0, 0},
    {{0x1a, 0x72, 0xfc, 0x67, 0x52, 0x28, 0x62, 0x4f, 0xa3, 0xb1, 0x2a, 0xfc, 0x53, 0x95, 0x37, 0x77},
     0x44, 0, 4},
    {{0xd2, 0x40, 0x3b, 0xe8, 0xa0, 0xb0, 0x42, 0x48, 0xab, 0xea, 0x71, 0xc9, 0xe3, 0x46, 0x3d, 0xd1},
     0x389, 8, 7},
};
#define NBLOBS (sizeof blobs / sizeof blobs[0])

static void guid_text(const uint8_t g[16], char out[37])
{
    snprintf(out, 37, "%02x%02x%02x%02x-%02x%02x-%02x%02x-%02x%02x-%02x%02x%02x%02x%02x%02x",
             g[3], g[2], g[1], g[0], g[5], g[4], g[7], g[6], g[8], g[9], g[10], g[11], g[12],
             g[13], g[14], g[15]);
}

/* DUMP_STRING: a character count, the UTF-16 characters, a NUL; 8-byte aligned. */
static uint32_t add_dump_string(gen_buf *b, const char *s)
{
    buf_align(b, 8);
    uint32_t at = (uint32_t)b->len;
    uint32_t n = (uint32_t)strlen(s);
    buf_append(b, &n, 4);
    for (uint32_t i = 0; i <= n; i++) {
        uint16_t c = (uint16_t)(unsigned char)s[i];
        buf_append(b, &c, 2);
    }
    return at;
}

static const char *base_name(const char *path)
{
    const char *b = strrchr(path, '\\');
    return b ? b + 1 : path;
}

void gen_triage(const gen_opts *o)
{
    const bool is64 = o->kind == GK_TRIAGE64;
    const gen_arch a = o->arch;
    if (o->corrupt != GC_NONE && o->corrupt != GC_HUGE_COUNTS && o->corrupt != GC_BAD_OFFSETS)
        gen_die("--corrupt %s does not apply to kind %s", o->corrupt_name, o->kind_name);
    const uint64_t hdr_size = is64 ? 0x2000 : 0x1000;
    const uint64_t nt = is64 ? drivers[0].base64 : drivers[0].base32;
    const uint64_t ppm = is64 ? drivers[5].base64 : drivers[5].base32;
    const uint64_t top_of_stack = is64 ? 0xffff850429890ee8ULL : 0x8d7f0ee8ULL;
    const uint32_t stack_size = 0x2118;
    const uint64_t pc = ppm + 0x334c;
    const uint64_t sp = (top_of_stack + 0x1238) & ~(uint64_t)(a == GA_ARM64 ? 0xf : 0x7);
    const uint64_t exr = is64 ? blocks[5].va64 + 0x1e8 : blocks[5].va32 + 0x1e8;
    const uint64_t cxr = is64 ? blocks[5].va64 + 0x300 : blocks[5].va32 + 0x300;

    gen_kfacts k;
    kfacts_default(&k, o, nt);
    k.dtb = a == GA_X64 ? 0x1ad000 : a == GA_ARM64 ? 0x80a64000 : a == GA_X86PAE ? 0x2f4020 : 0x185000;
    k.ps_loaded_module_list = nt + (is64 ? 0xc2a7a0 : 0x16a7a0);
    k.ps_active_process_head = nt + (is64 ? 0xc2ae20 : 0x16ae20);
    k.kdbg = nt + (is64 ? 0xc00b20 : 0x140b20);
    k.pfn_database = is64 ? (a == GA_ARM64 ? 0xffffe28000000000ULL : 0xfffffa8000000000ULL)
                          : 0x84000000ULL;
    k.bugcheck = 0x1000007e; /* SYSTEM_THREAD_EXCEPTION_NOT_HANDLED_M */
    k.params[0] = is64 ? 0xffffffffc0000005ULL : 0xc0000005ULL;
    k.params[1] = pc;
    k.params[2] = exr;
    k.params[3] = cxr;

    gen_mf m;
    mf_open(&m, o->out);
    manifest_preamble(o, &m, 4, k.machine, "none", k.dtb);
    kfacts_manifest(&k, o, &m);

    gen_buf b = {0};
    buf_zero(&b, hdr_size);
    size_t ctx_off, exc_off;
    if (is64) {
        gd_header64 *h = (gd_header64 *)b.p;
        fill_header64(h, &k, o, 4);
        /* a triage dump describes no physical memory: the descriptor stays "PAGE"-filled */
        ctx_kernel(a, h->context_record, pc, sp, 0, &m);
        memset(&h->exception, 0, sizeof h->exception);
        h->exception.code = 0x80000003;
        h->exception.flags = 1;
        h->exception.address = nt + 0x3f5a80;
        ctx_off = offsetof(gd_header64, context_record);
        exc_off = offsetof(gd_header64, exception);
    } else {
        gd_header32 *h = (gd_header32 *)b.p;
        fill_header32(h, &k, o, 4);
        ctx_kernel(a, h->context_record, pc, sp, 0, &m);
        memset(&h->exception, 0, sizeof h->exception);
        h->exception.code = 0x80000003;
        h->exception.flags = 1;
        h->exception.address = (uint32_t)(nt + 0x13a280);
        ctx_off = offsetof(gd_header32, context_record);
        exc_off = offsetof(gd_header32, exception);
    }
    mf_line(&m, "header ExceptionCode 0x80000003");

    /* TRIAGE_DUMP header, filled in below */
    size_t tri_off = buf_zero(&b, is64 ? sizeof(gd_triage64) : sizeof(gd_triage32));

    /* MM triage information: version 1, size 0x50 */
    size_t mm_off = buf_zero(&b, 0x50);
    put32(b.p + mm_off, 1);
    put32(b.p + mm_off + 4, 0x50);

    /* unloaded drivers */
    static const struct {
        const char *name;
        uint64_t start64;
        uint32_t start32;
        uint32_t size;
    } unl[] = {
        {"dam.sys", 0xfffff80387de0000ULL, 0x8f4e0000u, 0xc000},
        {"WdBoot.sys", 0xfffff80379d30000ULL, 0x8f530000u, 0x12000},
        {"hwpolicy.sys", 0xfffff8038f2c0000ULL, 0x8f560000u, 0x11000},
    };
    const size_t nunl = sizeof unl / sizeof unl[0];
    size_t unl_off = b.len;
    if (is64) {
        uint64_t cnt = nunl;
        buf_append(&b, &cnt, 8);
    } else {
        uint32_t cnt = (uint32_t)nunl;
        buf_append(&b, &cnt, 4);
    }
    for (size_t i = 0; i < nunl; i++) {
        uint16_t chars[12] = {0};
        size_t n = gen_utf16(chars, 12, unl[i].name);
        if (is64) {
            gd_unloaded64 u;
            memset(&u, 0, sizeof u);
            u.name.length = u.name.maximum_length = (uint16_t)(2 * n);
            memcpy(u.name_chars, chars, sizeof chars);
            u.start_address = unl[i].start64;
            u.end_address = unl[i].start64 + unl[i].size;
            buf_append(&b, &u, sizeof u);
        } else {
            gd_unloaded32 u;
            memset(&u, 0, sizeof u);
            u.name.length = u.name.maximum_length = (uint16_t)(2 * n);
            memcpy(u.name_chars, chars, sizeof chars);
            u.start_address = unl[i].start32;
            u.end_address = unl[i].start32 + unl[i].size;
            buf_append(&b, &u, sizeof u);
        }
        mf_line(&m, "header Unloaded.%zu 0x%llx 0x%llx %s", i,
                (unsigned long long)(is64 ? unl[i].start64 : unl[i].start32),
                (unsigned long long)((is64 ? unl[i].start64 : unl[i].start32) + unl[i].size),
                unl[i].name);
    }

    /* PRCB, process and thread copies (contents irrelevant here: zero) */
    buf_align(&b, 8);
    size_t prcb_off = buf_zero(&b, is64 ? 0x600 : 0x400);
    size_t proc_off = buf_zero(&b, is64 ? 0x440 : 0x2c0);
    size_t thread_off = buf_zero(&b, is64 ? 0x500 : 0x380);

    /* call stack: the bytes of [TopOfStack, TopOfStack + size) */
    size_t stack_off = b.len;
    buf_pattern(&b, o->seed, top_of_stack, stack_size);
    mf_line(&m, "vrange 0x%llx 0x%x", (unsigned long long)top_of_stack, stack_size);

    /* KDDEBUGGER_DATA64 copy */
    buf_align(&b, 8);
    uint32_t kdbg_size = is64 ? 0x380 : 0x340;
    size_t kdbg_off = buf_zero(&b, kdbg_size);
    {
        gd_kdbg_head kh;
        memset(&kh, 0, sizeof kh);
        kh.owner_tag = 0x4742444b; /* "KDBG" */
        kh.size = kdbg_size;
        uint64_t sx = is64 ? 0 : 0xffffffff00000000ULL; /* 32-bit pointers sign-extended */
        kh.kern_base = nt | sx;
        kh.ps_loaded_module_list = k.ps_loaded_module_list | sx;
        kh.ps_active_process_head = k.ps_active_process_head | sx;
        kh.pae_enabled = a == GA_X86PAE;
        memcpy(b.p + kdbg_off, &kh, sizeof kh);
    }

    /* driver list, then the string pool */
    buf_align(&b, 8);
    size_t drv_off = buf_zero(&b, NDRIVERS * (is64 ? sizeof(gd_driver64) : sizeof(gd_driver32)));
    buf_align(&b, 8);
    size_t pool_off = b.len;
    for (size_t i = 0; i < NDRIVERS; i++) {
        uint32_t name_off = add_dump_string(&b, drivers[i].path);
        if (o->corrupt == GC_BAD_OFFSETS && i == 2)
            name_off = 0xfffffff0u;
        if (is64) {
            gd_driver64 d;
            memset(&d, 0, sizeof d);
            d.driver_name_offset = name_off;
            d.ldr.dll_base = drivers[i].base64;
            d.ldr.entry_point = drivers[i].base64 + 0x1010;
            d.ldr.size_of_image = drivers[i].size;
            d.ldr.checksum = drivers[i].checksum;
            d.ldr.time_date_stamp = drivers[i].timestamp;
            memcpy(b.p + drv_off + i * sizeof d, &d, sizeof d);
        } else {
            gd_driver32 d;
            memset(&d, 0, sizeof d);
            d.driver_name_offset = name_off;
            d.ldr.dll_base = drivers[i].base32;
            d.ldr.entry_point = drivers[i].base32 + 0x1010;
            d.ldr.size_of_image = drivers[i].size;
            d.ldr.checksum = drivers[i].checksum;
            d.ldr.time_date_stamp = drivers[i].timestamp;
            memcpy(b.p + drv_off + i * sizeof d, &d, sizeof d);
        }
        mf_line(&m, "module 0x%llx 0x%x 0x%x 0x%x %s",
                (unsigned long long)(is64 ? drivers[i].base64 : drivers[i].base32),
                drivers[i].size, drivers[i].timestamp, drivers[i].checksum, drivers[i].path);
        mf_line(&m, "header Driver.%zu %s", i, base_name(drivers[i].path));
    }
    buf_align(&b, 8);
    uint32_t pool_size = (uint32_t)(b.len - pool_off);

    /* data blocks: the table, then their bytes */
    size_t db_off = buf_zero(&b, NBLOCKS * (is64 ? sizeof(gd_datablock64) : sizeof(gd_datablock32)));
    for (size_t i = 0; i < NBLOCKS; i++) {
        uint64_t va = is64 ? blocks[i].va64 : blocks[i].va32;
        size_t at = b.len;
        buf_pattern(&b, o->seed, va, blocks[i].size);
        buf_align(&b, 4);
        uint32_t off = (uint32_t)at;
        if (o->corrupt == GC_BAD_OFFSETS && i == 1)
            off = 0x7ffff000u;
        if (is64) {
            gd_datablock64 d = {va, off, blocks[i].size};
            memcpy(b.p + db_off + i * sizeof d, &d, sizeof d);
        } else {
            gd_datablock32 d = {(uint32_t)va, off, blocks[i].size};
            memcpy(b.p + db_off + i * sizeof d, &d, sizeof d);
        }
        mf_line(&m, "vrange 0x%llx 0x%x", (unsigned long long)va, blocks[i].size);
    }

    /* the valid marker closes the dump proper */
    size_t valid_off = b.len;
    uint32_t trgd = 0x44475254; /* "TRGD" */
    buf_append(&b, &trgd, 4);
    uint32_t size_of_dump = (uint32_t)b.len;

    /* the triage header */
    uint32_t driver_count = (uint32_t)NDRIVERS, blocks_count = (uint32_t)NBLOCKS;
    uint32_t drv_field = (uint32_t)drv_off, pool_field = (uint32_t)pool_off;
    uint32_t stack_field = (uint32_t)stack_off;
    if (o->corrupt == GC_HUGE_COUNTS) {
        driver_count = 0x7fffffffu;
        blocks_count = 0x7fffffffu;
    }
    if (o->corrupt == GC_BAD_OFFSETS) {
        pool_field = 0xffffff00u;
        stack_field = size_of_dump - 0x10; /* the call stack runs past the dump */
    }
    if (is64) {
        gd_triage64 t;
        memset(&t, 0, sizeof t);
        t.service_pack_build = 0;
        t.size_of_dump = size_of_dump;
        t.valid_offset = (uint32_t)valid_off;
        t.context_offset = (uint32_t)ctx_off;
        t.exception_offset = (uint32_t)exc_off;
        t.mm_offset = (uint32_t)mm_off;
        t.unloaded_drivers_offset = (uint32_t)unl_off;
        t.prcb_offset = (uint32_t)prcb_off;
        t.process_offset = (uint32_t)proc_off;
        t.thread_offset = (uint32_t)thread_off;
        t.call_stack_offset = stack_field;
        t.size_of_call_stack = stack_size;
        t.driver_list_offset = drv_field;
        t.driver_count = driver_count;
        t.string_pool_offset = pool_field;
        t.string_pool_size = pool_size;
        t.broken_driver_offset = 0;
        t.triage_options = 0xffffffffu;
        t.top_of_stack = top_of_stack;
        t.debugger_data_offset = (uint32_t)kdbg_off;
        t.debugger_data_size = kdbg_size;
        t.data_blocks_offset = (uint32_t)db_off;
        t.data_blocks_count = blocks_count;
        buf_put(&b, tri_off, &t, sizeof t);
    } else {
        gd_triage32 t;
        memset(&t, 0, sizeof t);
        t.size_of_dump = size_of_dump;
        t.valid_offset = (uint32_t)valid_off;
        t.context_offset = (uint32_t)ctx_off;
        t.exception_offset = (uint32_t)exc_off;
        t.mm_offset = (uint32_t)mm_off;
        t.unloaded_drivers_offset = (uint32_t)unl_off;
        t.prcb_offset = (uint32_t)prcb_off;
        t.process_offset = (uint32_t)proc_off;
        t.thread_offset = (uint32_t)thread_off;
        t.call_stack_offset = stack_field;
        t.size_of_call_stack = stack_size;
        t.driver_list_offset = drv_field;
        t.driver_count = driver_count;
        t.string_pool_offset = pool_field;
        t.string_pool_size = pool_size;
        t.triage_options = 0xffffffffu;
        t.top_of_stack = (uint32_t)top_of_stack;
        t.debugger_data_offset = (uint32_t)kdbg_off;
        t.debugger_data_size = kdbg_size;
        t.data_blocks_offset = (uint32_t)db_off;
        t.data_blocks_count = blocks_count;
        buf_put(&b, tri_off, &t, sizeof t);
    }
    mf_line(&m, "header TriageOffset 0x%llx", (unsigned long long)tri_off);
    mf_line(&m, "header ServicePackBuild 0x0");
    mf_line(&m, "header SizeOfDump 0x%x", size_of_dump);
    mf_line(&m, "header ValidOffset 0x%zx", valid_off);
    mf_line(&m, "header ContextOffset 0x%zx", ctx_off);
    mf_line(&m, "header ExceptionOffset 0x%zx", exc_off);
    mf_line(&m, "header MmOffset 0x%zx", mm_off);
    mf_line(&m, "header UnloadedDriversOffset 0x%zx", unl_off);
    mf_line(&m, "header PrcbOffset 0x%zx", prcb_off);
    mf_line(&m, "header ProcessOffset 0x%zx", proc_off);
    mf_line(&m, "header ThreadOffset 0x%zx", thread_off);
    mf_line(&m, "header CallStackOffset 0x%zx", stack_off);
    mf_line(&m, "header SizeOfCallStack 0x%x", stack_size);
    mf_line(&m, "header TopOfStack 0x%llx", (unsigned long long)top_of_stack);
    mf_line(&m, "header DriverListOffset 0x%zx", drv_off);
    mf_line(&m, "header DriverCount 0x%zx", NDRIVERS);
    mf_line(&m, "header StringPoolOffset 0x%zx", pool_off);
    mf_line(&m, "header StringPoolSize 0x%x", pool_size);
    mf_line(&m, "header DebuggerDataOffset 0x%zx", kdbg_off);
    mf_line(&m, "header DebuggerDataSize 0x%x", kdbg_size);
    mf_line(&m, "header DataBlocksOffset 0x%zx", db_off);
    mf_line(&m, "header DataBlocksCount 0x%zx", NBLOCKS);
    mf_line(&m, "header UnloadedDriversCount 0x%zx", nunl);

    /* secondary data ("DumpBlob") after SizeOfDump */
    gd_blob_file bf;
    memcpy(bf.signature, "DumpBlob", 8);
    bf.header_size = sizeof bf;
    bf.build = o->build | 0xf0000000u;
    buf_append(&b, &bf, sizeof bf);
    for (size_t i = 0; i < NBLOBS; i++) {
        gd_blob_record r;
        r.header_size = sizeof r;
        memcpy(r.tag, blobs[i].guid, 16);
        r.data_size = blobs[i].size;
        r.pre_pad = blobs[i].pre;
        r.post_pad = blobs[i].post;
        buf_append(&b, &r, sizeof r);
        buf_zero(&b, blobs[i].pre);
        size_t payload = b.len;
        buf_pattern(&b, o->seed, 0xb10b0000ULL + i * 0x10000, blobs[i].size);
        if (i == 1)
            buf_put(&b, payload, "CrashMe", 7);
        buf_zero(&b, blobs[i].post);
        char g[37];
        guid_text(blobs[i].guid, g);
        mf_line(&m, "header Blob.%zu %s 0x%zx 0x%x", i, g, payload, blobs[i].size);
    }
    mf_line(&m, "header BlobCount 0x%zx", NBLOBS);
    mf_line(&m, "header FileSize 0x%zx", b.len);

    /* the header's RequiredDumpSpace: the whole file */
    if (is64)
        ((gd_header64 *)b.p)->required_dump_space = b.len;
    else
        ((gd_header32 *)b.p)->required_dump_space = b.len;

    gen_out out;
    out_open(&out, o->out);
    out_write(&out, b.p, b.len);
    out_close(&out);
    buf_free(&b);
    mf_close(&m);
}
