/* gen_layout.h: on-disk layouts written by ntkd-gendump. Declared here independently of
 * libntkd (which has its own readers), from public facts:
 *  - DUMP_HEADER64 / DUMP_HEADER32, PHYSICAL_MEMORY_DESCRIPTOR, the SDMP/FDMP bitmap header:
 *    0vercl0k/kdmp-parser src/lib/kdmp-parser-structs.h, volatility3
 *    framework/symbols/windows/crash.json, crash64.json, crash_common.json, layers/crash.py,
 *    rizinorg/rizin librz/bin/format/dmp/dmp_specs.h;
 *  - TRIAGE_DUMP64/32, driver entries, data blocks, DUMP_STRING: rizin dmp_specs.h, checked on
 *    the bytes of corpus/dumps/kernel/triage-x64-19041.dmp (header at 0x2000, driver entries
 *    0x90 bytes apart, strings 8-byte aligned, unloaded-driver records 0x38 bytes, the
 *    "DumpBlob" secondary-data records after SizeOfDump);
 *  - CONTEXT (AMD64, i386, ARM64), EXCEPTION_RECORD32/64: the Windows SDK layouts as kdmp-parser
 *    and rust-minidump minidump-common/src/format.rs spell them;
 *  - MINIDUMP_*: Microsoft's minidumpapiset.h documentation and rust-minidump format.rs;
 *  - KDDEBUGGER_DATA64 header fields: volatility3 framework/symbols/windows/kdbg.json.
 * Every structure is asserted for size and key offsets. Little-endian host required. */
#ifndef NTKD_GEN_LAYOUT_H
#define NTKD_GEN_LAYOUT_H

#include <stddef.h>
#include <stdint.h>

#if !defined(__BYTE_ORDER__) || __BYTE_ORDER__ != __ORDER_LITTLE_ENDIAN__
#error "ntkd-gendump writes structures as they lie in memory: little-endian hosts only"
#endif

#define GD_PACKED __attribute__((packed))

/* ---------------------------------------------------------------- exception records */
typedef struct gd_exception64 {
    uint32_t code;
    uint32_t flags;
    uint64_t record;
    uint64_t address;
    uint32_t nparams;
    uint32_t unused_alignment;
    uint64_t info[15];
} gd_exception64;
_Static_assert(sizeof(gd_exception64) == 0x98, "EXCEPTION_RECORD64 size");
_Static_assert(offsetof(gd_exception64, info) == 0x20, "EXCEPTION_RECORD64.ExceptionInformation");

typedef struct gd_exception32 {
    uint32_t code;
    uint32_t flags;
    uint32_t record;
    uint32_t address;
    uint32_t nparams;
    uint32_t info[15];
} gd_exception32;
_Static_assert(sizeof(gd_exception32) == 80, "EXCEPTION_RECORD32 size");

/* ---------------------------------------------------------------- kernel dump headers */
typedef struct gd_run64 {
    uint64_t base_page;
    uint64_t page_count;
} gd_run64;
_Static_assert(sizeof(gd_run64) == 16, "PHYSICAL_MEMORY_RUN64");

typedef struct gd_physdesc64 {
    uint32_t number_of_runs;
    uint32_t pad;
    uint64_t number_of_pages;
    /* gd_run64 runs[] follow */
} gd_physdesc64;
_Static_assert(sizeof(gd_physdesc64) == 16, "PHYSICAL_MEMORY_DESCRIPTOR64 head");

typedef struct gd_run32 {
    uint32_t base_page;
    uint32_t page_count;
} gd_run32;
_Static_assert(sizeof(gd_run32) == 8, "PHYSICAL_MEMORY_RUN32");

typedef struct gd_physdesc32 {
    uint32_t number_of_runs;
    uint32_t number_of_pages;
    /* gd_run32 runs[] follow */
} gd_physdesc32;
_Static_assert(sizeof(gd_physdesc32) == 8, "PHYSICAL_MEMORY_DESCRIPTOR32 head");

#define GD_PHYSBUF_SIZE 700 /* PhysicalMemoryBlockBuffer, both widths */

typedef struct gd_header64 {
    char signature[4];  /* "PAGE" */
    char valid_dump[4]; /* "DU64" */
    uint32_t major_version;
    uint32_t minor_version;
    uint64_t directory_table_base;
    uint64_t pfn_database;
    uint64_t ps_loaded_module_list;
    uint64_t ps_active_process_head;
    uint32_t machine_image_type;
    uint32_t number_processors;
    uint32_t bugcheck_code;
    uint32_t pad0;
    uint64_t bugcheck_params[4];
    uint8_t version_user[32];
    uint64_t kd_debugger_data_block;
    uint8_t physical_memory_block[GD_PHYSBUF_SIZE];
    uint8_t pad1[4];
    uint8_t context_record[3000];
    gd_exception64 exception;
    uint32_t dump_type;
    uint32_t pad2;
    uint64_t required_dump_space;
    uint64_t system_time;
    char comment[128];
    uint64_t system_uptime;
    uint32_t minidump_fields;
    uint32_t secondary_data_state;
    uint32_t product_type;
    uint32_t suite_mask;
    uint32_t writer_status;
    uint8_t unused1;
    uint8_t kd_secondary_version;
    uint8_t unused2[2];
    uint8_t reserved0[4016];
} gd_header64;
_Static_assert(sizeof(gd_header64) == 0x2000, "DUMP_HEADER64 size");
_Static_assert(offsetof(gd_header64, directory_table_base) == 0x10, "DUMP_HEADER64.DirectoryTableBase");
_Static_assert(offsetof(gd_header64, machine_image_type) == 0x30, "DUMP_HEADER64.MachineImageType");
_Static_assert(offsetof(gd_header64, bugcheck_code) == 0x38, "DUMP_HEADER64.BugCheckCode");
_Static_assert(offsetof(gd_header64, bugcheck_params) == 0x40, "DUMP_HEADER64.BugCheckParameter");
_Static_assert(offsetof(gd_header64, kd_debugger_data_block) == 0x80, "DUMP_HEADER64.KdDebuggerDataBlock");
_Static_assert(offsetof(gd_header64, physical_memory_block) == 0x88, "DUMP_HEADER64.PhysicalMemoryBlock");
_Static_assert(offsetof(gd_header64, context_record) == 0x348, "DUMP_HEADER64.ContextRecord");
_Static_assert(offsetof(gd_header64, exception) == 0xf00, "DUMP_HEADER64.Exception");
_Static_assert(offsetof(gd_header64, dump_type) == 0xf98, "DUMP_HEADER64.DumpType");
_Static_assert(offsetof(gd_header64, required_dump_space) == 0xfa0, "DUMP_HEADER64.RequiredDumpSpace");
_Static_assert(offsetof(gd_header64, system_time) == 0xfa8, "DUMP_HEADER64.SystemTime");
_Static_assert(offsetof(gd_header64, comment) == 0xfb0, "DUMP_HEADER64.Comment");
_Static_assert(offsetof(gd_header64, system_uptime) == 0x1030, "DUMP_HEADER64.SystemUpTime");
_Static_assert(offsetof(gd_header64, product_type) == 0x1040, "DUMP_HEADER64.ProductType");
_Static_assert(offsetof(gd_header64, suite_mask) == 0x1044, "DUMP_HEADER64.SuiteMask");
_Static_assert(offsetof(gd_header64, kd_secondary_version) == 0x104d, "DUMP_HEADER64.KdSecondaryVersion");

typedef struct gd_header32 {
    char signature[4];  /* "PAGE" */
    char valid_dump[4]; /* "DUMP" */
    uint32_t major_version;
    uint32_t minor_version;
    uint32_t directory_table_base;
    uint32_t pfn_database;
    uint32_t ps_loaded_module_list;
    uint32_t ps_active_process_head;
    uint32_t machine_image_type;
    uint32_t number_processors;
    uint32_t bugcheck_code;
    uint32_t bugcheck_params[4];
    uint8_t version_user[32];
    uint8_t pae_enabled;
    uint8_t kd_secondary_version;
    uint8_t version_user2[2];
    uint32_t kd_debugger_data_block;
    uint8_t physical_memory_block[GD_PHYSBUF_SIZE];
    uint8_t context_record[1200];
    gd_exception32 exception;
    char comment[128];
    uint8_t reserved0[1768];
    uint32_t dump_type;
    uint32_t minidump_fields;
    uint32_t secondary_data_state;
    uint32_t product_type;
    uint32_t suite_mask;
    uint32_t writer_status;
    uint64_t required_dump_space;
    uint8_t reserved2[16];
    uint64_t system_uptime;
    uint64_t system_time;
    uint8_t reserved3[56];
} gd_header32;
_Static_assert(sizeof(gd_header32) == 0x1000, "DUMP_HEADER32 size");
_Static_assert(offsetof(gd_header32, bugcheck_params) == 0x2c, "DUMP_HEADER32.BugCheckParameter");
_Static_assert(offsetof(gd_header32, pae_enabled) == 0x5c, "DUMP_HEADER32.PaeEnabled");
_Static_assert(offsetof(gd_header32, kd_debugger_data_block) == 0x60, "DUMP_HEADER32.KdDebuggerDataBlock");
_Static_assert(offsetof(gd_header32, physical_memory_block) == 0x64, "DUMP_HEADER32.PhysicalMemoryBlock");
_Static_assert(offsetof(gd_header32, context_record) == 0x320, "DUMP_HEADER32.ContextRecord");
_Static_assert(offsetof(gd_header32, exception) == 0x7d0, "DUMP_HEADER32.Exception");
_Static_assert(offsetof(gd_header32, comment) == 0x820, "DUMP_HEADER32.Comment");
_Static_assert(offsetof(gd_header32, dump_type) == 0xf88, "DUMP_HEADER32.DumpType");
_Static_assert(offsetof(gd_header32, product_type) == 0xf94, "DUMP_HEADER32.ProductType");
_Static_assert(offsetof(gd_header32, required_dump_space) == 0xfa0, "DUMP_HEADER32.RequiredDumpSpace");
_Static_assert(offsetof(gd_header32, system_uptime) == 0xfb8, "DUMP_HEADER32.SystemUpTime");
_Static_assert(offsetof(gd_header32, system_time) == 0xfc0, "DUMP_HEADER32.SystemTime");

/* The summary / bitmap header ("SDMP" or "FDMP", then "DUMP") that follows the dump header
 * (at 0x2000 in 64-bit dumps, 0x1000 in 32-bit ones); the bitmap follows it. */
typedef struct gd_bmp_header {
    char signature[4];
    char valid_dump[4];
    uint32_t dump_options;
    uint8_t reserved[0x14];
    uint64_t first_page;          /* file offset of the first stored page */
    uint64_t total_present_pages; /* set bits */
    uint64_t pages;               /* bits in the bitmap */
} gd_bmp_header;
_Static_assert(sizeof(gd_bmp_header) == 0x38, "SDMP header size");
_Static_assert(offsetof(gd_bmp_header, first_page) == 0x20, "SDMP.FirstPage");
_Static_assert(offsetof(gd_bmp_header, total_present_pages) == 0x28, "SDMP.TotalPresentPages");
_Static_assert(offsetof(gd_bmp_header, pages) == 0x30, "SDMP.Pages");

/* ---------------------------------------------------------------- register contexts */
typedef struct gd_m128 {
    uint64_t low, high;
} gd_m128;

typedef struct gd_context_amd64 {
    uint64_t p_home[6];
    uint32_t context_flags;
    uint32_t mx_csr;
    uint16_t seg_cs, seg_ds, seg_es, seg_fs, seg_gs, seg_ss;
    uint32_t eflags;
    uint64_t dr0, dr1, dr2, dr3, dr6, dr7;
    uint64_t rax, rcx, rdx, rbx, rsp, rbp, rsi, rdi;
    uint64_t r8, r9, r10, r11, r12, r13, r14, r15;
    uint64_t rip;
    /* XMM_SAVE_AREA32 */
    uint16_t control_word, status_word;
    uint8_t tag_word, reserved1;
    uint16_t error_opcode;
    uint32_t error_offset;
    uint16_t error_selector, reserved2;
    uint32_t data_offset;
    uint16_t data_selector, reserved3;
    uint32_t mx_csr2;
    uint32_t mx_csr_mask;
    gd_m128 float_registers[8];
    gd_m128 xmm[16];
    uint8_t reserved4[96];
    gd_m128 vector_register[26];
    uint64_t vector_control;
    uint64_t debug_control;
    uint64_t last_branch_to_rip, last_branch_from_rip;
    uint64_t last_exception_to_rip, last_exception_from_rip;
} gd_context_amd64;
_Static_assert(sizeof(gd_context_amd64) == 0x4d0, "CONTEXT (AMD64) size");
_Static_assert(offsetof(gd_context_amd64, context_flags) == 0x30, "CONTEXT.ContextFlags");
_Static_assert(offsetof(gd_context_amd64, seg_cs) == 0x38, "CONTEXT.SegCs");
_Static_assert(offsetof(gd_context_amd64, eflags) == 0x44, "CONTEXT.EFlags");
_Static_assert(offsetof(gd_context_amd64, rax) == 0x78, "CONTEXT.Rax");
_Static_assert(offsetof(gd_context_amd64, rsp) == 0x98, "CONTEXT.Rsp");
_Static_assert(offsetof(gd_context_amd64, r8) == 0xb8, "CONTEXT.R8");
_Static_assert(offsetof(gd_context_amd64, rip) == 0xf8, "CONTEXT.Rip");
_Static_assert(offsetof(gd_context_amd64, mx_csr2) == 0x118, "CONTEXT.FltSave.MxCsr");
_Static_assert(offsetof(gd_context_amd64, xmm) == 0x1a0, "CONTEXT.Xmm0");
_Static_assert(offsetof(gd_context_amd64, vector_register) == 0x300, "CONTEXT.VectorRegister");
_Static_assert(offsetof(gd_context_amd64, vector_control) == 0x4a0, "CONTEXT.VectorControl");

typedef struct gd_context_x86 {
    uint32_t context_flags;
    uint32_t dr0, dr1, dr2, dr3, dr6, dr7;
    /* FLOATING_SAVE_AREA */
    uint32_t control_word, status_word, tag_word, error_offset, error_selector, data_offset,
        data_selector;
    uint8_t register_area[80];
    uint32_t cr0_npx_state;
    uint32_t seg_gs, seg_fs, seg_es, seg_ds;
    uint32_t edi, esi, ebx, edx, ecx, eax;
    uint32_t ebp, eip, seg_cs, eflags, esp, seg_ss;
    uint8_t extended_registers[512];
} gd_context_x86;
_Static_assert(sizeof(gd_context_x86) == 0x2cc, "CONTEXT (i386) size");
_Static_assert(offsetof(gd_context_x86, seg_gs) == 0x8c, "CONTEXT.SegGs");
_Static_assert(offsetof(gd_context_x86, edi) == 0x9c, "CONTEXT.Edi");
_Static_assert(offsetof(gd_context_x86, eax) == 0xb0, "CONTEXT.Eax");
_Static_assert(offsetof(gd_context_x86, eip) == 0xb8, "CONTEXT.Eip");
_Static_assert(offsetof(gd_context_x86, esp) == 0xc4, "CONTEXT.Esp");
_Static_assert(offsetof(gd_context_x86, extended_registers) == 0xcc, "CONTEXT.ExtendedRegisters");

typedef struct gd_context_arm64 {
    uint32_t context_flags;
    uint32_t cpsr;
    uint64_t x[31]; /* x0..x28, fp (x29), lr (x30) */
    uint64_t sp;
    uint64_t pc;
    gd_m128 v[32];
    uint32_t fpcr;
    uint32_t fpsr;
    uint32_t bcr[8];
    uint64_t bvr[8];
    uint32_t wcr[2];
    uint64_t wvr[2];
} gd_context_arm64;
_Static_assert(sizeof(gd_context_arm64) == 0x390, "CONTEXT (ARM64) size");
_Static_assert(offsetof(gd_context_arm64, x) == 0x8, "ARM64 CONTEXT.X0");
_Static_assert(offsetof(gd_context_arm64, sp) == 0x100, "ARM64 CONTEXT.Sp");
_Static_assert(offsetof(gd_context_arm64, pc) == 0x108, "ARM64 CONTEXT.Pc");
_Static_assert(offsetof(gd_context_arm64, v) == 0x110, "ARM64 CONTEXT.V");
_Static_assert(offsetof(gd_context_arm64, fpcr) == 0x310, "ARM64 CONTEXT.Fpcr");
_Static_assert(offsetof(gd_context_arm64, bvr) == 0x338, "ARM64 CONTEXT.Bvr");
_Static_assert(offsetof(gd_context_arm64, wvr) == 0x380, "ARM64 CONTEXT.Wvr");

#define GD_CONTEXT_AMD64 0x00100000u
#define GD_CONTEXT_I386 0x00010000u
#define GD_CONTEXT_ARM64 0x00400000u

/* ---------------------------------------------------------------- triage (small) dumps */
typedef struct gd_triage64 {
    uint32_t service_pack_build;
    uint32_t size_of_dump;
    uint32_t valid_offset;
    uint32_t context_offset;
    uint32_t exception_offset;
    uint32_t mm_offset;
    uint32_t unloaded_drivers_offset;
    uint32_t prcb_offset;
    uint32_t process_offset;
    uint32_t thread_offset;
    uint32_t call_stack_offset;
    uint32_t size_of_call_stack;
    uint32_t driver_list_offset;
    uint32_t driver_count;
    uint32_t string_pool_offset;
    uint32_t string_pool_size;
    uint32_t broken_driver_offset;
    uint32_t triage_options;
    uint64_t top_of_stack;
    uint32_t bstore_offset;  /* ArchitectureSpecific (IA-64 only) */
    uint32_t size_of_bstore;
    uint64_t limit_of_bstore;
    uint64_t data_page_address;
    uint32_t data_page_offset;
    uint32_t data_page_size;
    uint32_t debugger_data_offset;
    uint32_t debugger_data_size;
    uint32_t data_blocks_offset;
    uint32_t data_blocks_count;
} gd_triage64;
_Static_assert(sizeof(gd_triage64) == 0x80, "TRIAGE_DUMP64 size");
_Static_assert(offsetof(gd_triage64, driver_list_offset) == 0x30, "TRIAGE_DUMP64.DriverListOffset");
_Static_assert(offsetof(gd_triage64, top_of_stack) == 0x48, "TRIAGE_DUMP64.TopOfStack");
_Static_assert(offsetof(gd_triage64, data_page_address) == 0x60, "TRIAGE_DUMP64.DataPageAddress");
_Static_assert(offsetof(gd_triage64, debugger_data_offset) == 0x70, "TRIAGE_DUMP64.DebuggerDataOffset");
_Static_assert(offsetof(gd_triage64, data_blocks_offset) == 0x78, "TRIAGE_DUMP64.DataBlocksOffset");

typedef struct gd_triage32 {
    uint32_t service_pack_build;
    uint32_t size_of_dump;
    uint32_t valid_offset;
    uint32_t context_offset;
    uint32_t exception_offset;
    uint32_t mm_offset;
    uint32_t unloaded_drivers_offset;
    uint32_t prcb_offset;
    uint32_t process_offset;
    uint32_t thread_offset;
    uint32_t call_stack_offset;
    uint32_t size_of_call_stack;
    uint32_t driver_list_offset;
    uint32_t driver_count;
    uint32_t string_pool_offset;
    uint32_t string_pool_size;
    uint32_t broken_driver_offset;
    uint32_t triage_options;
    uint32_t top_of_stack;
    uint32_t data_page_address;
    uint32_t data_page_offset;
    uint32_t data_page_size;
    uint32_t debugger_data_offset;
    uint32_t debugger_data_size;
    uint32_t data_blocks_offset;
    uint32_t data_blocks_count;
} gd_triage32;
_Static_assert(sizeof(gd_triage32) == 0x68, "TRIAGE_DUMP32 size");
_Static_assert(offsetof(gd_triage32, top_of_stack) == 0x48, "TRIAGE_DUMP32.TopOfStack");
_Static_assert(offsetof(gd_triage32, data_blocks_offset) == 0x60, "TRIAGE_DUMP32.DataBlocksOffset");

typedef struct gd_datablock64 {
    uint64_t address;
    uint32_t offset;
    uint32_t size;
} gd_datablock64;
_Static_assert(sizeof(gd_datablock64) == 16, "TRIAGE_DATA_BLOCK64");

typedef struct gd_datablock32 {
    uint32_t address;
    uint32_t offset;
    uint32_t size;
} gd_datablock32;
_Static_assert(sizeof(gd_datablock32) == 12, "TRIAGE_DATA_BLOCK32");

typedef struct gd_ustr64 {
    uint16_t length;
    uint16_t maximum_length;
    uint32_t pad;
    uint64_t buffer;
} gd_ustr64;
_Static_assert(sizeof(gd_ustr64) == 16, "UNICODE_STRING64");

typedef struct gd_ustr32 {
    uint16_t length;
    uint16_t maximum_length;
    uint32_t buffer;
} gd_ustr32;
_Static_assert(sizeof(gd_ustr32) == 8, "UNICODE_STRING32");

/* KLDR_DATA_TABLE_ENTRY as the triage driver list copies it. */
typedef struct gd_ldr64 {
    uint64_t in_load_order_links[2];
    uint64_t exception_table;
    uint64_t exception_table_size;
    uint64_t gp_value;
    uint64_t non_paged_debug_info;
    uint64_t dll_base;
    uint64_t entry_point;
    uint32_t size_of_image;
    uint32_t pad0;
    gd_ustr64 full_dll_name;
    gd_ustr64 base_dll_name;
    uint32_t flags;
    uint16_t load_count;
    uint16_t unused5;
    uint64_t section_pointer;
    uint32_t checksum;
    uint32_t pad1;
    uint32_t time_date_stamp;
    uint32_t pad2;
} gd_ldr64;
_Static_assert(sizeof(gd_ldr64) == 0x88, "KLDR_DATA_TABLE_ENTRY64 (triage copy)");
_Static_assert(offsetof(gd_ldr64, dll_base) == 0x30, "KLDR.DllBase");
_Static_assert(offsetof(gd_ldr64, size_of_image) == 0x40, "KLDR.SizeOfImage");
_Static_assert(offsetof(gd_ldr64, full_dll_name) == 0x48, "KLDR.FullDllName");
_Static_assert(offsetof(gd_ldr64, checksum) == 0x78, "KLDR.CheckSum");
_Static_assert(offsetof(gd_ldr64, time_date_stamp) == 0x80, "KLDR.TimeDateStamp");

typedef struct gd_driver64 {
    uint32_t driver_name_offset; /* file offset of a DUMP_STRING */
    uint32_t alignment;
    gd_ldr64 ldr;
} gd_driver64;
_Static_assert(sizeof(gd_driver64) == 0x90, "DUMP_DRIVER_ENTRY64");

typedef struct gd_ldr32 {
    uint32_t in_load_order_links[2];
    uint32_t exception_table;
    uint32_t exception_table_size;
    uint32_t gp_value;
    uint32_t non_paged_debug_info;
    uint32_t dll_base;
    uint32_t entry_point;
    uint32_t size_of_image;
    gd_ustr32 full_dll_name;
    gd_ustr32 base_dll_name;
    uint32_t flags;
    uint16_t load_count;
    uint16_t unused5;
    uint32_t section_pointer;
    uint32_t checksum;
    uint32_t time_date_stamp;
} gd_ldr32;
_Static_assert(sizeof(gd_ldr32) == 0x48, "KLDR_DATA_TABLE_ENTRY32 (triage copy)");
_Static_assert(offsetof(gd_ldr32, dll_base) == 0x18, "KLDR32.DllBase");
_Static_assert(offsetof(gd_ldr32, checksum) == 0x40, "KLDR32.CheckSum");

typedef struct gd_driver32 {
    uint32_t driver_name_offset;
    gd_ldr32 ldr;
} gd_driver32;
_Static_assert(sizeof(gd_driver32) == 0x4c, "DUMP_DRIVER_ENTRY32");

/* Unloaded-driver record (list starts with a pointer-sized count). */
typedef struct gd_unloaded64 {
    gd_ustr64 name;
    uint16_t name_chars[12];
    uint64_t start_address;
    uint64_t end_address;
} gd_unloaded64;
_Static_assert(sizeof(gd_unloaded64) == 0x38, "DUMP_UNLOADED_DRIVERS64");

typedef struct gd_unloaded32 {
    gd_ustr32 name;
    uint16_t name_chars[12];
    uint32_t start_address;
    uint32_t end_address;
} gd_unloaded32;
_Static_assert(sizeof(gd_unloaded32) == 0x28, "DUMP_UNLOADED_DRIVERS32");

/* Secondary data after SizeOfDump: a file header, then tagged records. */
typedef struct gd_blob_file {
    char signature[8];  /* "DumpBlob" */
    uint32_t header_size; /* 0x10 */
    uint32_t build;       /* MinorVersion | 0xf0000000 */
} gd_blob_file;
_Static_assert(sizeof(gd_blob_file) == 0x10, "DumpBlob file header");

typedef struct gd_blob_record {
    uint32_t header_size; /* 0x20 */
    uint8_t tag[16];      /* GUID */
    uint32_t data_size;
    uint32_t pre_pad;
    uint32_t post_pad;
} gd_blob_record;
_Static_assert(sizeof(gd_blob_record) == 0x20, "DumpBlob record header");

/* The head of KDDEBUGGER_DATA64 (the copy a triage dump carries). */
typedef struct gd_kdbg_head {
    uint64_t list[2];
    uint32_t owner_tag; /* "KDBG" */
    uint32_t size;
    uint64_t kern_base;
    uint64_t breakpoint_with_status;
    uint64_t saved_context;
    uint16_t th_callback_stack;
    uint16_t next_callback;
    uint16_t frame_pointer;
    uint16_t pae_enabled;
    uint64_t ki_call_user_mode;
    uint64_t ke_user_callback_dispatcher;
    uint64_t ps_loaded_module_list;
    uint64_t ps_active_process_head;
} gd_kdbg_head;
_Static_assert(offsetof(gd_kdbg_head, kern_base) == 0x18, "KDDEBUGGER_DATA64.KernBase");
_Static_assert(offsetof(gd_kdbg_head, ps_loaded_module_list) == 0x48, "KDDEBUGGER_DATA64.PsLoadedModuleList");
_Static_assert(offsetof(gd_kdbg_head, ps_active_process_head) == 0x50, "KDDEBUGGER_DATA64.PsActiveProcessHead");

/* ---------------------------------------------------------------- user minidumps */
#define GD_MDMP_SIGNATURE 0x504d444du /* "MDMP" */
#define GD_MDMP_VERSION 0xa793u

typedef struct GD_PACKED gd_md_header {
    uint32_t signature;
    uint32_t version;
    uint32_t number_of_streams;
    uint32_t stream_directory_rva;
    uint32_t checksum;
    uint32_t time_date_stamp;
    uint64_t flags;
} gd_md_header;
_Static_assert(sizeof(gd_md_header) == 32, "MINIDUMP_HEADER");

typedef struct GD_PACKED gd_md_location {
    uint32_t data_size;
    uint32_t rva;
} gd_md_location;
_Static_assert(sizeof(gd_md_location) == 8, "MINIDUMP_LOCATION_DESCRIPTOR");

typedef struct GD_PACKED gd_md_directory {
    uint32_t stream_type;
    gd_md_location location;
} gd_md_directory;
_Static_assert(sizeof(gd_md_directory) == 12, "MINIDUMP_DIRECTORY");

typedef struct GD_PACKED gd_md_memory_descriptor {
    uint64_t start_of_memory_range;
    gd_md_location memory;
} gd_md_memory_descriptor;
_Static_assert(sizeof(gd_md_memory_descriptor) == 16, "MINIDUMP_MEMORY_DESCRIPTOR");

typedef struct GD_PACKED gd_md_memory_descriptor64 {
    uint64_t start_of_memory_range;
    uint64_t data_size;
} gd_md_memory_descriptor64;
_Static_assert(sizeof(gd_md_memory_descriptor64) == 16, "MINIDUMP_MEMORY_DESCRIPTOR64");

typedef struct GD_PACKED gd_md_thread {
    uint32_t thread_id;
    uint32_t suspend_count;
    uint32_t priority_class;
    uint32_t priority;
    uint64_t teb;
    gd_md_memory_descriptor stack;
    gd_md_location thread_context;
} gd_md_thread;
_Static_assert(sizeof(gd_md_thread) == 48, "MINIDUMP_THREAD");
_Static_assert(offsetof(gd_md_thread, stack) == 0x18, "MINIDUMP_THREAD.Stack");

typedef struct GD_PACKED gd_vs_fixedfileinfo {
    uint32_t signature; /* 0xfeef04bd */
    uint32_t struc_version;
    uint32_t file_version_ms;
    uint32_t file_version_ls;
    uint32_t product_version_ms;
    uint32_t product_version_ls;
    uint32_t file_flags_mask;
    uint32_t file_flags;
    uint32_t file_os;
    uint32_t file_type;
    uint32_t file_subtype;
    uint32_t file_date_ms;
    uint32_t file_date_ls;
} gd_vs_fixedfileinfo;
_Static_assert(sizeof(gd_vs_fixedfileinfo) == 52, "VS_FIXEDFILEINFO");

typedef struct GD_PACKED gd_md_module {
    uint64_t base_of_image;
    uint32_t size_of_image;
    uint32_t checksum;
    uint32_t time_date_stamp;
    uint32_t module_name_rva;
    gd_vs_fixedfileinfo version_info;
    gd_md_location cv_record;
    gd_md_location misc_record;
    uint64_t reserved0;
    uint64_t reserved1;
} gd_md_module;
_Static_assert(sizeof(gd_md_module) == 108, "MINIDUMP_MODULE");
_Static_assert(offsetof(gd_md_module, version_info) == 0x18, "MINIDUMP_MODULE.VersionInfo");
_Static_assert(offsetof(gd_md_module, cv_record) == 0x4c, "MINIDUMP_MODULE.CvRecord");

typedef struct GD_PACKED gd_md_exception {
    uint32_t exception_code;
    uint32_t exception_flags;
    uint64_t exception_record;
    uint64_t exception_address;
    uint32_t number_parameters;
    uint32_t unused_alignment;
    uint64_t exception_information[15];
} gd_md_exception;
_Static_assert(sizeof(gd_md_exception) == 152, "MINIDUMP_EXCEPTION");

typedef struct GD_PACKED gd_md_exception_stream {
    uint32_t thread_id;
    uint32_t alignment;
    gd_md_exception exception_record;
    gd_md_location thread_context;
} gd_md_exception_stream;
_Static_assert(sizeof(gd_md_exception_stream) == 168, "MINIDUMP_EXCEPTION_STREAM");

typedef struct GD_PACKED gd_md_system_info {
    uint16_t processor_architecture;
    uint16_t processor_level;
    uint16_t processor_revision;
    uint8_t number_of_processors;
    uint8_t product_type;
    uint32_t major_version;
    uint32_t minor_version;
    uint32_t build_number;
    uint32_t platform_id;
    uint32_t csd_version_rva;
    uint16_t suite_mask;
    uint16_t reserved2;
    uint32_t vendor_id[3]; /* CPU_INFORMATION.X86CpuInfo */
    uint32_t version_information;
    uint32_t feature_information;
    uint32_t amd_extended_cpu_features;
} gd_md_system_info;
_Static_assert(sizeof(gd_md_system_info) == 56, "MINIDUMP_SYSTEM_INFO");
_Static_assert(offsetof(gd_md_system_info, csd_version_rva) == 0x18, "MINIDUMP_SYSTEM_INFO.CSDVersionRva");

typedef struct GD_PACKED gd_md_misc_info2 {
    uint32_t size_of_info;
    uint32_t flags1;
    uint32_t process_id;
    uint32_t process_create_time;
    uint32_t process_user_time;
    uint32_t process_kernel_time;
    uint32_t processor_max_mhz;
    uint32_t processor_current_mhz;
    uint32_t processor_mhz_limit;
    uint32_t processor_max_idle_state;
    uint32_t processor_current_idle_state;
} gd_md_misc_info2;
_Static_assert(sizeof(gd_md_misc_info2) == 44, "MINIDUMP_MISC_INFO_2");

typedef struct GD_PACKED gd_md_unloaded_list {
    uint32_t size_of_header;
    uint32_t size_of_entry;
    uint32_t number_of_entries;
} gd_md_unloaded_list;
_Static_assert(sizeof(gd_md_unloaded_list) == 12, "MINIDUMP_UNLOADED_MODULE_LIST");

typedef struct GD_PACKED gd_md_unloaded_module {
    uint64_t base_of_image;
    uint32_t size_of_image;
    uint32_t checksum;
    uint32_t time_date_stamp;
    uint32_t module_name_rva;
} gd_md_unloaded_module;
_Static_assert(sizeof(gd_md_unloaded_module) == 24, "MINIDUMP_UNLOADED_MODULE");

typedef struct GD_PACKED gd_md_handle_stream {
    uint32_t size_of_header;
    uint32_t size_of_descriptor;
    uint32_t number_of_descriptors;
    uint32_t reserved;
} gd_md_handle_stream;
_Static_assert(sizeof(gd_md_handle_stream) == 16, "MINIDUMP_HANDLE_DATA_STREAM");

typedef struct GD_PACKED gd_md_handle_descriptor2 {
    uint64_t handle;
    uint32_t type_name_rva;
    uint32_t object_name_rva;
    uint32_t attributes;
    uint32_t granted_access;
    uint32_t handle_count;
    uint32_t pointer_count;
    uint32_t object_info_rva;
    uint32_t reserved0;
} gd_md_handle_descriptor2;
_Static_assert(sizeof(gd_md_handle_descriptor2) == 40, "MINIDUMP_HANDLE_DESCRIPTOR_2");

typedef struct GD_PACKED gd_cv_rsds {
    uint32_t signature; /* "RSDS" */
    uint8_t guid[16];
    uint32_t age;
    /* NUL-terminated PDB file name follows */
} gd_cv_rsds;
_Static_assert(sizeof(gd_cv_rsds) == 24, "CV_INFO_PDB70 head");

enum {
    GD_MD_UNUSED = 0,
    GD_MD_THREAD_LIST = 3,
    GD_MD_MODULE_LIST = 4,
    GD_MD_MEMORY_LIST = 5,
    GD_MD_EXCEPTION = 6,
    GD_MD_SYSTEM_INFO = 7,
    GD_MD_MEMORY64_LIST = 9,
    GD_MD_HANDLE_DATA = 12,
    GD_MD_UNLOADED_MODULE_LIST = 14,
    GD_MD_MISC_INFO = 15,
};

#endif
