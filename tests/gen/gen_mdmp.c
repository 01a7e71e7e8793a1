/* gen_mdmp.c: user-mode minidumps (MDMP), x64 and x86: system info (with a CSD string), misc
 * info, a thread list with contexts, a module list with UTF-16 names, CodeView RSDS records and
 * VS_FIXEDFILEINFO, unloaded modules, handle data, an exception stream with its context, a
 * memory list (thread stacks and small ranges) and a memory64 list (large ranges, data at the
 * end of the file). Memory contents are the pattern by virtual address. */
#include "gen.h"

#include <stdlib.h>
#include <string.h>

typedef struct mod {
    const char *path;
    uint64_t base64;
    uint32_t base32;
    uint32_t size, timestamp, checksum;
    uint16_t ver[4];
    bool dll;
    const char *pdb;
    uint8_t guid[16]; /* as stored: Data1..3 little-endian, Data4 bytes */
    uint32_t age;
} mod;

/* ntdll's CodeView identity is that of the ntdll PDBs in corpus/symstore (x64: ntdll.pdb,
 * x86: wntdll.pdb), so symbol tests can load them. */
static const mod mods_x64[] = {
    {"C:\\Program Files\\Contoso\\crashme.exe", 0x00007ff6a1b20000ULL, 0, 0x2a000, 0x5f8a1c2d, 0x0003a1f4,
     {1, 2, 3, 4}, false, "crashme.pdb",
     {0x71, 0x2e, 0x0b, 0x6a, 0x4d, 0x3c, 0x5f, 0x4e, 0x80, 0x91, 0xa2, 0xb3, 0xc4, 0xd5, 0xe6, 0xf7}, 1},
    {"C:\\Windows\\System32\\ntdll.dll", 0x00007ffc3c8b0000ULL, 0, 0x1f5000, 0x8e5e4d0b, 0x001f8a3c,
     {10, 0, 19041, 804}, true, "ntdll.pdb",
     {0x61, 0xe3, 0xc0, 0xcc, 0xf4, 0x20, 0xbe, 0x24, 0x04, 0x4d, 0xe6, 0x30, 0xc3, 0xbd, 0x80, 0xc4}, 3},
    {"C:\\Windows\\System32\\kernel32.dll", 0x00007ffc3b2e0000ULL, 0, 0xbd000, 0x2d1f4a6e, 0x000c4b11,
     {10, 0, 19041, 662}, true, "kernel32.pdb",
     {0x3b, 0x9a, 0x1c, 0x5e, 0x72, 0x61, 0x4d, 0x4a, 0x9e, 0x10, 0x2f, 0x3a, 0x4b, 0x5c, 0x6d, 0x7e}, 1},
    {"C:\\Windows\\System32\\KERNELBASE.dll", 0x00007ffc3a1a0000ULL, 0, 0x2c8000, 0x7d1c2b3a, 0x002cd0e1,
     {10, 0, 19041, 804}, true, "kernelbase.pdb",
     {0xa1, 0xb2, 0xc3, 0xd4, 0xe5, 0xf6, 0x07, 0x48, 0x99, 0xaa, 0xbb, 0xcc, 0xdd, 0xee, 0xff, 0x01}, 1},
};
static const mod mods_x86[] = {
    {"C:\\Program Files (x86)\\Contoso\\crashme.exe", 0, 0x00400000u, 0x2a000, 0x5f8a1c2d, 0x0003a1f4,
     {1, 2, 3, 4}, false, "crashme.pdb",
     {0x71, 0x2e, 0x0b, 0x6a, 0x4d, 0x3c, 0x5f, 0x4e, 0x80, 0x91, 0xa2, 0xb3, 0xc4, 0xd5, 0xe6, 0xf7}, 1},
    {"C:\\Windows\\SysWOW64\\ntdll.dll", 0, 0x77a10000u, 0x1a3000, 0x4e1d2c3b, 0x001a9f2e,
     {10, 0, 19041, 804}, true, "wntdll.pdb",
     {0xd8, 0xea, 0x96, 0x1c, 0x71, 0x09, 0x6d, 0x32, 0x39, 0x67, 0xed, 0x72, 0xc9, 0x83, 0xe1, 0x64}, 3},
    {"C:\\Windows\\SysWOW64\\kernel32.dll", 0, 0x76e30000u, 0xf0000, 0x2d1f4a6e, 0x000f7a10,
     {10, 0, 19041, 662}, true, "wkernel32.pdb",
     {0x3b, 0x9a, 0x1c, 0x5e, 0x72, 0x61, 0x4d, 0x4a, 0x9e, 0x10, 0x2f, 0x3a, 0x4b, 0x5c, 0x6d, 0x7f}, 1},
    {"C:\\Windows\\SysWOW64\\KERNELBASE.dll", 0, 0x75a20000u, 0x21d000, 0x7d1c2b3a, 0x0021e0e1,
     {10, 0, 19041, 804}, true, "wkernelbase.pdb",
     {0xa1, 0xb2, 0xc3, 0xd4, 0xe5, 0xf6, 0x07, 0x48, 0x99, 0xaa, 0xbb, 0xcc, 0xdd, 0xee, 0xff, 0x02}, 1},
};
#define NMODS 4

typedef struct thr {
    uint32_t id;
    uint64_t teb64, stack64;
    uint32_t teb32, stack32;
    uint32_t stack_size;
    uint32_t suspend, prio_class, prio;
} thr;

static const thr threads[] = {
    {0x1a2c, 0x000000a1b2c3d000ULL, 0x000000a1b2f7c000ULL, 0x002cc000u, 0x0019c000u, 0x4000, 0, 0x20, 0},
    {0x2b3c, 0x000000a1b2c3f000ULL, 0x000000a1b307e000ULL, 0x002cf000u, 0x0069e000u, 0x2000, 1, 0x20, 2},
    {0x0f10, 0x000000a1b2c41000ULL, 0x000000a1b317d000ULL, 0x002d2000u, 0x0079d000u, 0x3000, 0, 0x20, 15},
};
#define NTHREADS 3

typedef struct range {
    uint64_t va;
    uint32_t size;
} range;

typedef struct hnd {
    uint64_t handle;
    const char *type, *name;
    uint32_t attributes, access, handle_count, pointer_count;
} hnd;

static const hnd handles[] = {
    {0x4, "Event", NULL, 0, 0x1f0003, 1, 32769},
    {0x8, "File", "\\Device\\HarddiskVolume3\\Windows\\System32", 0, 0x100020, 1, 32768},
    {0x40, "Key", "\\REGISTRY\\MACHINE\\SOFTWARE\\Microsoft\\Windows NT\\CurrentVersion", 0, 0x20019, 1, 1},
    {0x5c, "Section", "\\BaseNamedObjects\\__ComCatalogCache__", 0, 0x4, 1, 2},
};
#define NHANDLES (sizeof handles / sizeof handles[0])

/* MINIDUMP_STRING: byte length (without the NUL), UTF-16 characters, a NUL. */
static uint32_t add_md_string(gen_buf *b, const char *s)
{
    buf_align(b, 4);
    uint32_t at = (uint32_t)b->len;
    uint32_t n = (uint32_t)strlen(s);
    uint32_t bytes = 2 * n;
    buf_append(b, &bytes, 4);
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

void gen_mdmp(const gen_opts *o)
{
    const gen_arch a = o->arch;
    const bool is64 = a == GA_X64;
    if (o->corrupt != GC_NONE && o->corrupt != GC_HUGE_COUNTS && o->corrupt != GC_BAD_OFFSETS)
        gen_die("--corrupt %s does not apply to kind mdmp", o->corrupt_name);
    const mod *mods = is64 ? mods_x64 : mods_x86;
    const uint32_t machine = is64 ? 0x8664 : 0x14c;
    const size_t csz = ctx_size(a);
#define MBASE(i) (is64 ? mods[i].base64 : (uint64_t)mods[i].base32)
#define TSTACK(i) (is64 ? threads[i].stack64 : (uint64_t)threads[i].stack32)
#define TTEB(i) (is64 ? threads[i].teb64 : (uint64_t)threads[i].teb32)

    const uint64_t exc_pc = MBASE(0) + 0x1a3c;
    const uint64_t exc_sp = TSTACK(0) + 0x2e58 - (is64 ? 0 : 0x8);
    const uint64_t fault_addr = 0x10;

    gen_mf m;
    mf_open(&m, o->out);
    manifest_preamble(o, &m, 0, machine, "none", 0);

    /* memory: thread stacks and small ranges in the memory list; large ranges in memory64 */
    range small[NTHREADS + 2];
    size_t nsmall = 0;
    for (int i = 0; i < NTHREADS; i++)
        small[nsmall++] = (range){TSTACK(i), threads[i].stack_size};
    small[nsmall++] = (range){exc_pc - 0x100, 0x200};        /* code around the fault */
    small[nsmall++] = (range){MBASE(0), 0x1000};             /* crashme's headers */
    range big[4];
    size_t nbig = 0;
    big[nbig++] = (range){is64 ? 0x000001c2a4e30000ULL : 0x00c40000u, 0x8000}; /* heap */
    big[nbig++] = (range){MBASE(1) + 0x1000, 0x3000};                          /* ntdll code */
    big[nbig++] = (range){MBASE(2) + 0x1000, 0x2000};                          /* kernel32 */
    big[nbig++] = (range){TTEB(0) - 0x2000, 0x1000};                           /* PEB */

    enum { S_SYSINFO, S_MISC, S_THREADS, S_MODULES, S_UNLOADED, S_HANDLES, S_EXCEPTION, S_MEMORY,
           S_MEMORY64, S_UNUSED, NSTREAMS };
    static const uint32_t stream_type[NSTREAMS] = {
        GD_MD_SYSTEM_INFO, GD_MD_MISC_INFO,   GD_MD_THREAD_LIST, GD_MD_MODULE_LIST,
        GD_MD_UNLOADED_MODULE_LIST, GD_MD_HANDLE_DATA, GD_MD_EXCEPTION, GD_MD_MEMORY_LIST,
        GD_MD_MEMORY64_LIST, GD_MD_UNUSED};
    gd_md_directory dir[NSTREAMS];
    memset(dir, 0, sizeof dir);

    gen_buf b = {0};
    buf_zero(&b, sizeof(gd_md_header));
    size_t dir_off = buf_zero(&b, sizeof dir);

    /* system info */
    {
        buf_align(&b, 8);
        size_t at = buf_zero(&b, sizeof(gd_md_system_info));
        uint32_t csd = add_md_string(&b, "Service Pack 1");
        gd_md_system_info si;
        memset(&si, 0, sizeof si);
        si.processor_architecture = is64 ? 9 : 0; /* AMD64 / INTEL */
        si.processor_level = 6;
        si.processor_revision = 0x9e0a;
        si.number_of_processors = (uint8_t)o->nprocs;
        si.product_type = 1;
        si.major_version = 10;
        si.minor_version = 0;
        si.build_number = o->build;
        si.platform_id = 2; /* VER_PLATFORM_WIN32_NT */
        si.csd_version_rva = csd;
        si.suite_mask = 0x100;
        memcpy(si.vendor_id, "GenuineIntel", 12);
        si.version_information = 0x000906ea;
        si.feature_information = 0xbfebfbff;
        buf_put(&b, at, &si, sizeof si);
        dir[S_SYSINFO].location = (gd_md_location){sizeof si, (uint32_t)at};
        mf_line(&m, "header ProcessorArchitecture 0x%x", si.processor_architecture);
        mf_line(&m, "header MajorVersion 0xa");
        mf_line(&m, "header MinorVersion 0x0");
        mf_line(&m, "header BuildNumber 0x%x", o->build);
        mf_line(&m, "header PlatformId 0x2");
        mf_line(&m, "header ProductType 0x1");
        mf_line(&m, "header SuiteMask 0x100");
        mf_line(&m, "header CSDVersion Service Pack 1");
    }
    /* misc info */
    {
        buf_align(&b, 8);
        gd_md_misc_info2 mi;
        memset(&mi, 0, sizeof mi);
        mi.size_of_info = sizeof mi;
        mi.flags1 = 0x7; /* process id, process times, processor power info */
        mi.process_id = 0x1f44;
        mi.process_create_time = 0x5f8a1c80;
        mi.process_user_time = 2;
        mi.process_kernel_time = 1;
        mi.processor_max_mhz = mi.processor_current_mhz = mi.processor_mhz_limit = 3600;
        mi.processor_max_idle_state = mi.processor_current_idle_state = 1;
        size_t at = buf_append(&b, &mi, sizeof mi);
        dir[S_MISC].location = (gd_md_location){sizeof mi, (uint32_t)at};
        mf_line(&m, "header ProcessId 0x%x", mi.process_id);
        mf_line(&m, "header ProcessCreateTime 0x%x", mi.process_create_time);
    }

    /* contexts: the exception context (`header Ecxr.<reg>`: what .ecxr shows), then the
     * thread-list contexts; thread 0 (the exception thread) gives the `reg` lines, the
     * registers `r` shows when the dump is opened */
    buf_align(&b, 16);
    size_t exc_ctx = buf_zero(&b, csz);
    ctx_user(a, b.p + exc_ctx, exc_pc, exc_sp, 0, &m, "Ecxr.");
    size_t tctx[NTHREADS];
    for (int i = 0; i < NTHREADS; i++) {
        buf_align(&b, 16);
        tctx[i] = buf_zero(&b, csz);
        /* thread 0 sits in the exception dispatcher below the faulting frame */
        uint64_t pc = MBASE(1) + 0x9d0e4 + 0x40 * (uint64_t)i;
        uint64_t sp = TSTACK(i) + threads[i].stack_size - 0x1000 + 0x28 * (uint64_t)i -
                      (i == 0 ? 0x9d8 : 0);
        if (is64)
            sp &= ~0xfULL;
        ctx_user(a, b.p + tctx[i], pc, sp, (uint64_t)i + 1, i == 0 ? &m : NULL, NULL);
        mf_line(&m, "header Thread.0x%x.pc 0x%llx", threads[i].id, (unsigned long long)pc);
        mf_line(&m, "header Thread.0x%x.sp 0x%llx", threads[i].id, (unsigned long long)sp);
    }

    /* memory list (data follows the descriptors) */
    size_t mem_data[NTHREADS + 2];
    {
        buf_align(&b, 8);
        size_t at = b.len;
        uint32_t n = (uint32_t)nsmall;
        if (o->corrupt == GC_HUGE_COUNTS)
            n = 0xffffffffu;
        buf_append(&b, &n, 4);
        size_t desc = buf_zero(&b, nsmall * sizeof(gd_md_memory_descriptor));
        dir[S_MEMORY].location = (gd_md_location){(uint32_t)(4 + nsmall * sizeof(gd_md_memory_descriptor)),
                                                  (uint32_t)at};
        for (size_t i = 0; i < nsmall; i++) {
            buf_align(&b, 8);
            mem_data[i] = b.len;
            buf_pattern(&b, o->seed, small[i].va, small[i].size);
            uint32_t rva = (uint32_t)mem_data[i];
            if (o->corrupt == GC_BAD_OFFSETS && i == nsmall - 1)
                rva = 0x7ffffff0u;
            gd_md_memory_descriptor d = {small[i].va, {small[i].size, rva}};
            buf_put(&b, desc + i * sizeof d, &d, sizeof d);
        }
    }

    /* thread list */
    {
        buf_align(&b, 8);
        size_t at = b.len;
        uint32_t n = NTHREADS;
        if (o->corrupt == GC_HUGE_COUNTS)
            n = 0x0fffffffu;
        buf_append(&b, &n, 4);
        for (int i = 0; i < NTHREADS; i++) {
            gd_md_thread t;
            memset(&t, 0, sizeof t);
            t.thread_id = threads[i].id;
            t.suspend_count = threads[i].suspend;
            t.priority_class = threads[i].prio_class;
            t.priority = threads[i].prio;
            t.teb = TTEB(i);
            t.stack.start_of_memory_range = TSTACK(i);
            t.stack.memory = (gd_md_location){threads[i].stack_size, (uint32_t)mem_data[i]};
            t.thread_context = (gd_md_location){(uint32_t)csz, (uint32_t)tctx[i]};
            buf_append(&b, &t, sizeof t);
            mf_line(&m, "thread 0x%x 0x%llx 0x%llx 0x%x", t.thread_id, (unsigned long long)t.teb,
                    (unsigned long long)t.stack.start_of_memory_range, threads[i].stack_size);
        }
        dir[S_THREADS].location = (gd_md_location){(uint32_t)(4 + NTHREADS * sizeof(gd_md_thread)),
                                                   (uint32_t)at};
    }

    /* module list: records, then names and CodeView records */
    {
        buf_align(&b, 8);
        size_t at = b.len;
        uint32_t n = NMODS;
        buf_append(&b, &n, 4);
        size_t recs = buf_zero(&b, NMODS * sizeof(gd_md_module));
        dir[S_MODULES].location = (gd_md_location){(uint32_t)(4 + NMODS * sizeof(gd_md_module)),
                                                   (uint32_t)at};
        for (int i = 0; i < NMODS; i++) {
            uint32_t name = add_md_string(&b, mods[i].path);
            buf_align(&b, 4);
            gd_cv_rsds cv;
            cv.signature = 0x53445352; /* "RSDS" */
            memcpy(cv.guid, mods[i].guid, 16);
            cv.age = mods[i].age;
            size_t cv_at = buf_append(&b, &cv, sizeof cv);
            buf_append(&b, mods[i].pdb, strlen(mods[i].pdb) + 1);
            uint32_t cv_size = (uint32_t)(sizeof cv + strlen(mods[i].pdb) + 1);
            gd_md_module r;
            memset(&r, 0, sizeof r);
            r.base_of_image = MBASE(i);
            r.size_of_image = mods[i].size;
            r.checksum = mods[i].checksum;
            r.time_date_stamp = mods[i].timestamp;
            r.module_name_rva = name;
            if (o->corrupt == GC_BAD_OFFSETS && i == 2)
                r.module_name_rva = 0xfffffff0u;
            r.version_info.signature = 0xfeef04bd;
            r.version_info.struc_version = 0x00010000;
            r.version_info.file_version_ms = (uint32_t)mods[i].ver[0] << 16 | mods[i].ver[1];
            r.version_info.file_version_ls = (uint32_t)mods[i].ver[2] << 16 | mods[i].ver[3];
            r.version_info.product_version_ms = r.version_info.file_version_ms;
            r.version_info.product_version_ls = r.version_info.file_version_ls;
            r.version_info.file_flags_mask = 0x3f;
            r.version_info.file_os = 0x40004; /* VOS_NT_WINDOWS32 */
            r.version_info.file_type = mods[i].dll ? 2 : 1;
            r.cv_record = (gd_md_location){cv_size, (uint32_t)cv_at};
            buf_put(&b, recs + (size_t)i * sizeof r, &r, sizeof r);
            mf_line(&m, "module 0x%llx 0x%x 0x%x 0x%x %s", (unsigned long long)MBASE(i),
                    mods[i].size, mods[i].timestamp, mods[i].checksum, mods[i].path);
            /* symbol-store key: GUID (Data1-3 as numbers, Data4 bytes) + age */
            const uint8_t *g = mods[i].guid;
            mf_line(&m,
                    "header Cv.%s %s/%02X%02X%02X%02X%02X%02X%02X%02X%02X%02X%02X%02X%02X%02X%02X%02X%X",
                    base_name(mods[i].path), mods[i].pdb, g[3], g[2], g[1], g[0], g[5], g[4], g[7],
                    g[6], g[8], g[9], g[10], g[11], g[12], g[13], g[14], g[15], mods[i].age);
            mf_line(&m, "header Ver.%s %u.%u.%u.%u", base_name(mods[i].path), mods[i].ver[0],
                    mods[i].ver[1], mods[i].ver[2], mods[i].ver[3]);
        }
    }

    /* unloaded modules */
    {
        static const struct {
            const char *path;
            uint64_t base64;
            uint32_t base32, size, ts, cs;
        } unl[] = {
            {"C:\\Windows\\System32\\oldplugin.dll", 0x00007ffc30a00000ULL, 0x6f800000u, 0x35000, 0x4a5b6c7d, 0x3a1f0},
            {"C:\\Windows\\System32\\dbgcore.dll", 0x00007ffc2ee00000ULL, 0x6f700000u, 0x2c000, 0x1b2c3d4e, 0x2f0e1},
        };
        const size_t nunl = sizeof unl / sizeof unl[0];
        buf_align(&b, 8);
        size_t at = b.len;
        gd_md_unloaded_list h = {sizeof h, sizeof(gd_md_unloaded_module), (uint32_t)nunl};
        buf_append(&b, &h, sizeof h);
        size_t recs = buf_zero(&b, nunl * sizeof(gd_md_unloaded_module));
        dir[S_UNLOADED].location =
            (gd_md_location){(uint32_t)(sizeof h + nunl * sizeof(gd_md_unloaded_module)), (uint32_t)at};
        for (size_t i = 0; i < nunl; i++) {
            gd_md_unloaded_module u;
            u.base_of_image = is64 ? unl[i].base64 : unl[i].base32;
            u.size_of_image = unl[i].size;
            u.checksum = unl[i].cs;
            u.time_date_stamp = unl[i].ts;
            u.module_name_rva = add_md_string(&b, unl[i].path);
            buf_put(&b, recs + i * sizeof u, &u, sizeof u);
            mf_line(&m, "header Unloaded.%zu 0x%llx 0x%x 0x%x %s", i,
                    (unsigned long long)u.base_of_image, u.size_of_image, u.time_date_stamp,
                    unl[i].path);
        }
    }

    /* handle data */
    {
        buf_align(&b, 8);
        size_t at = b.len;
        gd_md_handle_stream h = {sizeof h, sizeof(gd_md_handle_descriptor2), (uint32_t)NHANDLES, 0};
        buf_append(&b, &h, sizeof h);
        size_t recs = buf_zero(&b, NHANDLES * sizeof(gd_md_handle_descriptor2));
        dir[S_HANDLES].location =
            (gd_md_location){(uint32_t)(sizeof h + NHANDLES * sizeof(gd_md_handle_descriptor2)),
                             (uint32_t)at};
        for (size_t i = 0; i < NHANDLES; i++) {
            gd_md_handle_descriptor2 d;
            memset(&d, 0, sizeof d);
            d.handle = handles[i].handle;
            d.type_name_rva = add_md_string(&b, handles[i].type);
            d.object_name_rva = handles[i].name ? add_md_string(&b, handles[i].name) : 0;
            d.attributes = handles[i].attributes;
            d.granted_access = handles[i].access;
            d.handle_count = handles[i].handle_count;
            d.pointer_count = handles[i].pointer_count;
            buf_put(&b, recs + i * sizeof d, &d, sizeof d);
            mf_line(&m, "header Handle.0x%llx %s%s%s", (unsigned long long)d.handle,
                    handles[i].type, handles[i].name ? " " : "",
                    handles[i].name ? handles[i].name : "");
        }
        mf_line(&m, "header HandleCount 0x%zx", NHANDLES);
    }

    /* exception stream */
    {
        buf_align(&b, 8);
        gd_md_exception_stream e;
        memset(&e, 0, sizeof e);
        e.thread_id = threads[0].id;
        e.exception_record.exception_code = 0xc0000005;
        e.exception_record.exception_flags = 0;
        e.exception_record.exception_address = exc_pc;
        e.exception_record.number_parameters = 2;
        e.exception_record.exception_information[0] = 1; /* write */
        e.exception_record.exception_information[1] = fault_addr;
        e.thread_context = (gd_md_location){(uint32_t)csz, (uint32_t)exc_ctx};
        size_t at = buf_append(&b, &e, sizeof e);
        dir[S_EXCEPTION].location = (gd_md_location){sizeof e, (uint32_t)at};
        mf_line(&m, "exception 0xc0000005 0x%llx 0x%x", (unsigned long long)exc_pc, threads[0].id);
        mf_line(&m, "header ExceptionParam.0 0x1");
        mf_line(&m, "header ExceptionParam.1 0x%llx", (unsigned long long)fault_addr);
    }

    /* memory64 list: descriptors, then all data contiguously from BaseRva at the end */
    {
        buf_align(&b, 8);
        size_t at = b.len;
        uint64_t n = nbig;
        if (o->corrupt == GC_HUGE_COUNTS)
            n = 0x4000000000000000ULL;
        buf_append(&b, &n, 8);
        size_t base_rva_at = buf_zero(&b, 8);
        for (size_t i = 0; i < nbig; i++) {
            gd_md_memory_descriptor64 d = {big[i].va, big[i].size};
            buf_append(&b, &d, sizeof d);
        }
        dir[S_MEMORY64].location = (gd_md_location){(uint32_t)(b.len - at), (uint32_t)at};
        buf_align(&b, 16);
        uint64_t base_rva = b.len;
        for (size_t i = 0; i < nbig; i++)
            buf_pattern(&b, o->seed, big[i].va, big[i].size);
        if (o->corrupt == GC_BAD_OFFSETS)
            base_rva = b.len + 0x1000; /* data "starts" past EOF */
        buf_put(&b, base_rva_at, &base_rva, 8);
    }

    for (size_t i = 0; i < nsmall; i++)
        mf_line(&m, "vrange 0x%llx 0x%x", (unsigned long long)small[i].va, small[i].size);
    for (size_t i = 0; i < nbig; i++)
        mf_line(&m, "vrange 0x%llx 0x%x", (unsigned long long)big[i].va, big[i].size);

    /* directory and header */
    for (int i = 0; i < NSTREAMS; i++)
        dir[i].stream_type = stream_type[i];
    if (o->corrupt == GC_BAD_OFFSETS)
        dir[S_HANDLES].location.rva = (uint32_t)b.len + 0x40; /* past EOF */
    buf_put(&b, dir_off, dir, sizeof dir);
    gd_md_header h;
    memset(&h, 0, sizeof h);
    h.signature = GD_MDMP_SIGNATURE;
    h.version = GD_MDMP_VERSION | (0x000au << 16);
    h.number_of_streams = NSTREAMS;
    if (o->corrupt == GC_HUGE_COUNTS)
        h.number_of_streams = 0x7fffffffu;
    h.stream_directory_rva = (uint32_t)dir_off;
    h.time_date_stamp = 0x5f8a1d00;
    h.flags = 0x1026; /* full memory, handle data, unloaded modules, thread info */
    buf_put(&b, 0, &h, sizeof h);
    mf_line(&m, "header NumberOfStreams 0x%x", NSTREAMS);
    mf_line(&m, "header TimeDateStamp 0x%x", 0x5f8a1d00);
    mf_line(&m, "header Flags 0x1026");
    mf_line(&m, "header FileSize 0x%zx", b.len);

    gen_out out;
    out_open(&out, o->out);
    out_write(&out, b.p, b.len);
    out_close(&out);
    buf_free(&b);
    mf_close(&m);
#undef MBASE
#undef TSTACK
#undef TTEB
}
