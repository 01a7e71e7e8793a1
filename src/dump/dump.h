/* dump.h: the container layer's contract. Every container parser (64/32-bit kernel dumps,
 * bitmap, triage, user minidumps, raw images) fills one nk_target with container-neutral
 * facts: system identity, bugcheck, register contexts, where physical pages live in the file,
 * which virtual ranges the file carries directly, threads, modules, exception, and the raw
 * header fields for `.dumpdebug`. Upper layers read only these; they never parse headers. */
#ifndef NTKD_DUMP_H
#define NTKD_DUMP_H

#include "base/base.h"

typedef enum nk_arch { NK_ARCH_UNKNOWN = 0, NK_ARCH_X86, NK_ARCH_X64, NK_ARCH_ARM64 } nk_arch;

/* IMAGE_FILE_MACHINE values. */
#define NK_MACHINE_I386 0x014c
#define NK_MACHINE_AMD64 0x8664
#define NK_MACHINE_ARM64 0xaa64

typedef enum nk_dump_kind {
    NK_KIND_NONE = 0,
    NK_KIND_KERNEL_FULL,    /* DumpType 1: physical memory runs */
    NK_KIND_KERNEL_SUMMARY, /* DumpType 2: kernel summary (bitmap of kernel pages) */
    NK_KIND_KERNEL_TRIAGE,  /* DumpType 4: small dump */
    NK_KIND_KERNEL_BITMAP,  /* DumpType 5, 6, 8, 9, 0xA: bitmap full/kernel/active dumps */
    NK_KIND_USER_MINI,      /* MDMP */
    NK_KIND_RAW,            /* raw physical image */
    NK_KIND_IMAGE,          /* a PE image opened as a target (-z IMAGE): mapped at its
                               preferred base as virtual ranges (dump/image.c) */
} nk_dump_kind;

typedef enum nk_paging {
    NK_PAGING_NONE = 0,
    NK_PAGING_X64_4L,   /* x64 4-level */
    NK_PAGING_X86_PAE,  /* x86 PAE, 3-level */
    NK_PAGING_X86,      /* x86 non-PAE, 2-level */
    NK_PAGING_ARM64_4K, /* ARM64 4 KB granule, 48-bit VA */
} nk_paging;

/* Where physical pages are in the file. Lookup of a page is O(1) for bitmaps (rank index
 * over 512-bit blocks plus a popcount inside the block) and O(log runs) for run lists. */
typedef struct nk_phys_run {
    uint64_t base_pfn;
    uint64_t page_count;
    uint64_t file_off; /* file offset of the run's first page */
} nk_phys_run;

typedef enum nk_physmap_kind { NK_PHYS_NONE = 0, NK_PHYS_RUNS, NK_PHYS_BITMAP } nk_physmap_kind;

typedef struct nk_physmap {
    nk_physmap_kind kind;
    /* runs, sorted by base_pfn, non-overlapping, each entirely inside the file */
    nk_phys_run *runs;
    size_t nruns;
    /* bitmap: bit n set = page n present; present pages are stored in order from data_off */
    const uint8_t *bitmap;  /* points into the mapped file */
    uint64_t nbits;         /* pages described by the bitmap */
    uint64_t data_off;      /* file offset of the first present page */
    uint64_t npresent;      /* pages whose data lies inside the file */
    uint64_t *rank;         /* rank[i] = set bits in blocks before block i (512 bits/block) */
    uint64_t nblocks;
} nk_physmap;

/* A virtual range whose bytes the file holds directly (triage data blocks, minidump memory
 * lists). Sorted by va, non-overlapping. */
typedef struct nk_vrange {
    uint64_t va;
    uint64_t size;
    uint64_t file_off;
} nk_vrange;

/* A register context as stored in the dump (a Windows CONTEXT of the given architecture). */
typedef struct nk_context {
    nk_arch arch;
    const uint8_t *data; /* into the mapped file, or into ctx_store */
    size_t len;
    const char *origin; /* "dump header", "KPRCB", "thread 1a2c", "exception" */
} nk_context;

typedef struct nk_module {
    uint64_t base;
    uint64_t size;
    uint32_t timestamp;
    uint32_t checksum;
    char *name;      /* as the dump gives it (full path for minidumps, file name for drivers) */
    char *path;      /* full path when known, else NULL */
    bool unloaded;
    /* minidump extras */
    uint32_t file_version_ms, file_version_ls, product_version_ms, product_version_ls;
    bool has_version;
    /* CodeView record location in the file (when the container carries it) */
    uint64_t cv_off;
    uint32_t cv_size;
} nk_module;

typedef struct nk_thread {
    uint32_t id;
    uint64_t teb;
    uint64_t stack_start;
    uint64_t stack_size;
    uint32_t suspend_count;
    uint32_t priority_class;
    uint32_t priority;
    nk_context ctx;
} nk_thread;

typedef struct nk_exception {
    bool present;
    uint32_t thread_id;
    uint32_t code;
    uint32_t flags;
    uint64_t record;  /* nested ExceptionRecord pointer */
    uint64_t address;
    uint32_t nparams;
    uint64_t params[15];
    nk_context ctx;   /* the exception's context, when the dump gives one */
} nk_exception;

/* One raw header field for `.dumpdebug`: printed as "Name   value" within its section. */
typedef struct nk_hdr_field {
    const char *section; /* "DUMP_HEADER64", "TRIAGE_DUMP64", "Physical Memory Description" */
    char name[40];
    uint64_t value;
    uint8_t width;       /* bytes: 1, 2, 4, 8 (how the value prints) */
    uint64_t offset;     /* file offset of the field */
    char *text;          /* free-form value (strings, runs); NULL when `value` is the value */
} nk_hdr_field;

/* A named binary record found in the file beyond the dump proper (TRGD/DumpBlob secondary
 * data after SizeOfDump), or a minidump stream. */
typedef struct nk_blob {
    char tag[40];      /* "DumpBlob" GUID as text, or stream name */
    uint64_t file_off; /* offset of the payload */
    uint64_t size;
} nk_blob;

/* Triage (small dump) facts, for the symbol and analysis layers. */
typedef struct nk_triage {
    bool present;
    uint32_t service_pack_build, size_of_dump, valid_offsets;
    uint64_t context_off, exception_off, mm_off, unloaded_drivers_off, prcb_off, process_off,
        thread_off, call_stack_off, driver_list_off, string_pool_off, data_blocks_off,
        debugger_data_off, bugcheck_data_off;
    uint32_t call_stack_size, driver_count, string_pool_size, data_blocks_count, debugger_data_size;
    uint64_t top_of_stack;   /* the call-stack region's virtual start */
    uint64_t bstore_size, top_of_bstore; /* unused on x64, kept for completeness */
    /* copies of PRCB/EPROCESS/ETHREAD as bytes in the file; their virtual addresses come
     * from the header or the context when known (0 when not). */
    uint64_t prcb_va, process_va, thread_va;
    uint32_t prcb_size, process_size, thread_size;
} nk_triage;

/* Everything a container parser learns. Owned by the target. */
typedef struct nk_dump {
    nk_dump_kind kind;
    nk_arch arch;
    uint32_t machine;      /* IMAGE_FILE_MACHINE */
    bool is64;             /* pointer size 8 */
    uint32_t dump_type;    /* header DumpType (kernel dumps) */
    uint32_t major, minor; /* MajorVersion (0xf free, 0xc checked), MinorVersion = build */
    uint32_t nprocs;
    uint32_t bugcheck_code;
    uint64_t bugcheck_params[4];
    bool has_bugcheck;
    uint64_t dtb;                 /* page-table root (CR3 / TTBR) */
    nk_paging paging;
    uint64_t pfn_database, ps_loaded_module_list, ps_active_process_head, kd_debugger_data_block;
    uint32_t product_type, suite_mask;
    uint64_t system_time;         /* FILETIME, 0 when absent */
    uint64_t system_uptime;       /* 100 ns units, 0 when absent */
    char comment[129];
    uint32_t bugcheck_cpu;        /* processor the prompt shows; 0 when unknown */
    /* user dumps: OS facts from MINIDUMP_SYSTEM_INFO */
    uint32_t platform_id, csd_build, processor_level, processor_revision, process_id;
    char *csd_version;
    uint64_t process_create_time; /* time_t, 0 when absent */

    nk_physmap phys;
    nk_vrange *vranges;
    size_t nvranges;

    nk_context contexts[4]; /* [0] = the one shown first (header/exception), more follow */
    size_t ncontexts;

    nk_module *modules;
    size_t nmodules;
    nk_thread *threads;
    size_t nthreads;
    nk_exception exception;
    nk_triage triage;

    nk_hdr_field *fields;
    size_t nfields, cap_fields;
    nk_blob *blobs;
    size_t nblobs, cap_blobs;
    /* bytes the parser had to synthesize (e.g. a context assembled from pieces) */
    uint8_t *ctx_store;
} nk_dump;

/* An opened dump: the file, what the parser found, session state and warnings. */
struct ntkd_target {
    ntkd_ctx *ctx;
    char *sympath;          /* symbol path given at open (-y / _NT_SYMBOL_PATH); may be NULL */
    char *table_cache;      /* opts.table_cache (parsed ISF tables); may be NULL */
    nk_file file;
    nk_dump d;
    char **warnings;
    size_t nwarnings, cap_warnings;
    /* session state the commands change */
    size_t cur_thread;      /* user dumps: index into d.threads */
    nk_context cur_ctx;     /* the register context commands use now */
    uint64_t pseudo_t[20];  /* $t0..$t19 */
    void *ext[8];           /* per-layer state owned by upper layers (symbols, ...); see
                               NK_EXT_* in their headers; freed through ext_free */
    void (*ext_free[8])(void *);
    /* paging state (mem/paging.c): the page-table page last read at each walk level (pfn+1,
       0 = empty; pointers into the mapped file), the self-map index found for one root,
       and the software-PTE layout the symbol layer may install from _MMPTE_* types (NULL:
       paging.c's built-in table by architecture and build). */
    struct { uint64_t pfn1; const uint8_t *page; } pt_cache[5];
    bool selfmap_known;
    uint64_t selfmap_root;
    int selfmap_index;      /* -1: the root has no self-reference entry */
    const struct nk_pte_layout *pte_layout;
    /* display commands (cmd/cmd_memory.c): where a d* / !d* command without an address
       continues, and the last d* command (what a bare `d` repeats) */
    uint64_t disp_next, disp_phys_next;
    bool disp_have, disp_phys_have;
    char disp_last[8];
    /* stack commands (cmd/cmd_stack.c): the registers of the frame `.frame N` selected, as a
       context `r` shows instead of cur_ctx (len 0: none). Valid only while cur_ctx.data ==
       frame_of (a command that switches contexts makes it stale). */
    nk_context frame_ctx;
    const uint8_t *frame_of;
    /* disassembly (cmd/cmd_disasm.c): where `u` without an address continues */
    uint64_t u_next;
    bool u_have;
    /* kernel-object commands (cmd/cmd_kproc.c): the EPROCESS / ETHREAD that .process and
       .thread selected (0: the dump's current ones, from the crashing processor) */
    uint64_t k_cur_process, k_cur_thread;
};

/* User minidumps: facts beyond nk_dump that the MDMP parser (mdmp.c) keeps in
 * t->ext[NK_EXT_MDMP] (freed through ext_free). NULL for every other container. */
#define NK_EXT_MDMP 1

typedef struct nk_mdmp_handle {
    uint64_t handle;
    char *type_name;   /* UTF-8, NULL when the descriptor gives none */
    char *object_name; /* UTF-8, NULL when the descriptor gives none */
    uint32_t attributes, granted_access, handle_count, pointer_count;
} nk_mdmp_handle;

typedef struct nk_mdmp_info {
    uint32_t version;          /* header Version (low word 0xa793) */
    uint32_t timestamp;        /* header TimeDateStamp, time_t */
    uint64_t flags;            /* header Flags (MINIDUMP_TYPE) */
    uint32_t os_minor;         /* SystemInfo MinorVersion (major is d.major, build d.minor) */
    uint16_t processor_arch;   /* SystemInfo ProcessorArchitecture as stored */
    /* HandleDataStream */
    bool has_handles;
    uint32_t handle_count;     /* NumberOfDescriptors as stored */
    nk_mdmp_handle *handles;   /* the descriptors that lie inside the file */
    size_t nhandles;
    /* CommentStreamA / CommentStreamW, UTF-8, NULL when absent */
    char *comment_a, *comment_w;
    /* MiscInfoStream (valid per misc_flags1 bits; 0 when absent) */
    uint32_t misc_size, misc_flags1;
    uint32_t process_user_time, process_kernel_time;
    uint32_t processor_max_mhz, processor_current_mhz, processor_mhz_limit,
        processor_max_idle_state, processor_current_idle_state;
    uint32_t process_integrity_level, process_execute_flags, protected_process, time_zone_id;
    char *build_string, *dbg_bld_str; /* MISC_INFO_4, UTF-8 */
    uint32_t process_cookie;          /* MISC_INFO_5 */
    /* Breakpad info stream (0x47670001) */
    bool has_breakpad_info;
    uint32_t breakpad_validity, breakpad_dump_thread_id, breakpad_requesting_thread_id;
    /* storage for the thread contexts' origin strings ("thread 1a2c") */
    char (*origins)[24];
} nk_mdmp_info;

/* Container parsers. Each checks its signature first and returns NTKD_E_FORMAT with no
 * message when the file is not its kind (so the next parser can try); any other failure
 * sets the context error, naming the file and the offset. */
nk_status nk_kdump64_open(ntkd_target *t);   /* PAGEDU64: full, summary, bitmap, triage */
nk_status nk_kdump32_open(ntkd_target *t);   /* PAGEDUMP: full, summary, triage (x86) */
nk_status nk_mdmp_open(ntkd_target *t);      /* MDMP */
nk_status nk_raw_open(ntkd_target *t, const ntkd_open_opts *o); /* raw physical image */
nk_status nk_image_open(ntkd_target *t);     /* "MZ": a PE image as a target (dump/image.c) */
/* Triage body parser, shared by the 64- and 32-bit containers: hdr_off is the offset of the
 * TRIAGE_DUMP header (0x2000 for 64-bit, 0x1000 for 32-bit). */
nk_status nk_triage_parse(ntkd_target *t, uint64_t hdr_off);

/* EXCEPTION_RECORD64 (0x98 bytes: Code, Flags, Record, Address, NumberParameters, pad,
 * Information[15]) or EXCEPTION_RECORD32 (0x50 bytes, 4-byte pointers, no pad). */
#define NK_EXR64_SIZE 0x98u
#define NK_EXR32_SIZE 0x50u
#define NK_EXR64_HDR 0x20u
#define NK_EXR32_HDR 0x14u
/* Decodes a record from the `len` bytes at p (at least the header). Sets out->nparams to the
 * record's own count (capped at 15) and returns how many of those parameters were within
 * `len`; only those are filled. */
uint32_t nk_exception_decode(const uint8_t *p, size_t len, bool is64, nk_exception *out);

/* Helpers every parser uses. */
void nk_warn(ntkd_target *t, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* The per-target state an upper layer keeps in slot `slot` of t->ext: allocated zeroed (`size`
 * bytes, freed with `free_fn` when the target closes) on first use; NULL when t is NULL or out
 * of memory. */
void *nk_target_ext(ntkd_target *t, unsigned slot, size_t size, void (*free_fn)(void *));
/* Records a `.dumpdebug` field. text may be NULL; it is copied. */
void nk_dump_field(ntkd_target *t, const char *section, const char *name, uint64_t off,
                   uint64_t value, uint8_t width, const char *text);
void nk_dump_blob(ntkd_target *t, const char *tag, uint64_t off, uint64_t size);
/* Builds the rank index over a bitmap (phys.bitmap/nbits set); counts npresent and clamps
 * to what the file holds, warning when the bitmap claims more than the file has. */
nk_status nk_physmap_index_bitmap(ntkd_target *t);
/* Sorts and validates runs: drops or clips runs past EOF and overlapping runs, with warnings. */
nk_status nk_physmap_check_runs(ntkd_target *t);
/* Sorts vranges and drops overlaps and ranges past EOF, with warnings. */
void nk_vranges_check(ntkd_target *t);
/* File offset of physical page `pfn`, or false when the dump does not hold it. */
bool nk_phys_page_off(const nk_dump *d, uint64_t pfn, uint64_t *file_off);

const char *nk_arch_name(nk_arch a);
const char *nk_kind_name(nk_dump_kind k);

/* ---- internals shared by the 64- and 32-bit kernel containers (kdump64.c) ----------- */

/* One fixed header field: name, file offset, width in bytes (1, 2, 4 or 8). */
typedef struct nk_kdump_fdef {
    const char *name;
    uint32_t off;
    uint8_t width;
} nk_kdump_fdef;
/* Records every field of a table for `.dumpdebug` (fields past the end of the file, or of
 * another width, are skipped). */
void nk_kdump_record(ntkd_target *t, const char *section, const nk_kdump_fdef *defs, size_t n);
/* Parses the bitmap / summary header at hdr_off (DumpType 2, 5, 6, 8, 9, 0xA) and indexes
 * its pages. Problems that leave the header facts usable are warnings (NTKD_OK); only an
 * allocation failure is an error. */
nk_status nk_kdump_bitmap(ntkd_target *t, uint64_t hdr_off, uint32_t dump_type, bool is64);
/* PHYSICAL_MEMORY_DESCRIPTOR layout of one header kind (32- or 64-bit fields). */
typedef struct nk_kdump_runs_layout {
    uint32_t desc_off;     /* descriptor's file offset */
    uint32_t npages_off;   /* NumberOfPages, relative to the descriptor */
    uint32_t runs_off;     /* first run, relative to the descriptor */
    uint8_t width;         /* 4 or 8: NumberOfPages and each run's BasePage/PageCount */
    uint32_t max_runs;     /* runs that fit before the context area */
    uint32_t ctx_off;      /* the context area (for messages) */
    uint32_t data_off;     /* file offset of the first run's pages (the header size) */
} nk_kdump_runs_layout;
/* Where the facts common to DUMP_HEADER32 and DUMP_HEADER64 are, and the pointer width. */
typedef struct nk_kdump_hdr_layout {
    const char *section; /* "DUMP_HEADER32" / "DUMP_HEADER64" */
    uint8_t ptr;         /* 4 or 8: DirectoryTableBase, the list heads, bugcheck parameters */
    uint32_t major, minor, dtb, pfndb, psloaded, psactive, nprocs, bugcode, bugparam, kddebugger,
        dumptype, product, suite, systime, uptime, comment;
} nk_kdump_hdr_layout;
/* Fills the header facts of t->d (versions, page-table root, list heads, bugcheck, product,
 * times, comment) from the mapped header, treating the "PAGE" filler as unset. */
void nk_kdump_header_facts(ntkd_target *t, const nk_kdump_hdr_layout *l);
/* Reads the run list of a full dump (DumpType 1), records it for `.dumpdebug` and indexes it. */
nk_status nk_kdump_runs(ntkd_target *t, const nk_kdump_runs_layout *l);
/* True when a 128-byte header comment holds more than the "PAGE" filler. */
bool nk_kdump_comment_set(const uint8_t *c);
/* True for the "PAGE" filler Windows leaves in header fields it did not set. */
static inline bool nk_kdump_unset32(uint32_t v) { return v == 0x45474150u; }
static inline bool nk_kdump_unset64(uint64_t v) { return v == 0x4547415045474150ull; }

#endif
