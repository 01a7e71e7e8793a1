/* pe.h: the PE image reader of libntkd.
 *
 * Contract
 * --------
 * An nk_pe is a read-only view of one PE image (PE32 or PE32+), opened in one of two layouts:
 *   - file layout: the bytes of the file on disk (nk_pe_open_file maps it with nk_file_map;
 *     nk_pe_open_buf borrows a caller's buffer). RVAs are translated to file offsets through
 *     the section table. As the loader maps it, a section spans its VirtualSize rounded up to
 *     SectionAlignment (never into the next section), and the part past its raw data reads
 *     as zeros; RVAs below the first section read the headers.
 *   - memory layout: the image as loaded at `base` (a module in dump memory), read through a
 *     callback `read(user, va, buf, len, &got)`. A page the dump does not hold yields
 *     NTKD_E_NOTPRESENT; the reader then reports that part as not present and keeps the rest.
 *     Only the headers (DOS, NT, section table) must be readable for the open to succeed.
 *
 * Everything goes through the explicit handle; there is no global state. Errors are returned
 * as an nk_status with a one-line message in the ntkd_ctx given at open (nk_fail), naming the
 * image and the offset (file layout: "file offset 0x..."; memory layout: "va ...") of the bad
 * field. Non-fatal problems (a count clamped, a name not present) are kept as warnings on the
 * handle (nk_pe_warning). Every read is bounds-checked and every loop is capped: the input is
 * hostile.
 *
 * The export table, debug directory, exception directory (.pdata) and version resource are
 * parsed lazily on first use and cached in the handle; the pointers returned stay valid until
 * nk_pe_close. Decoded unwind data is returned in caller-owned structures.
 *
 * Status conventions of the lookups:
 *   NTKD_OK            found / decoded
 *   NTKD_E_NOTFOUND    the image has no such thing (no export of that name, no .pdata entry
 *                      covering the address: a leaf function, no debug directory ...)
 *   NTKD_E_NOTPRESENT  the answer lies in memory the dump does not hold (memory layout)
 *   NTKD_E_UNSUPPORTED a variant not read (x86 images have no .pdata; unwind version 3 ...)
 *   NTKD_E_FORMAT / NTKD_E_TRUNCATED  the data is inconsistent / ends early
 */
#ifndef NTKD_IMAGE_PE_H
#define NTKD_IMAGE_PE_H

#include "base/base.h"

/* IMAGE_FILE_MACHINE values this reader knows by name. */
#define NK_PE_MACHINE_I386 0x014c
#define NK_PE_MACHINE_AMD64 0x8664
#define NK_PE_MACHINE_ARM64 0xaa64
#define NK_PE_MACHINE_ARMNT 0x01c4

/* Data directory indexes. */
enum {
    NK_PE_DIR_EXPORT = 0,
    NK_PE_DIR_IMPORT = 1,
    NK_PE_DIR_RESOURCE = 2,
    NK_PE_DIR_EXCEPTION = 3,
    NK_PE_DIR_SECURITY = 4, /* its "RVA" is a file offset */
    NK_PE_DIR_BASERELOC = 5,
    NK_PE_DIR_DEBUG = 6,
    NK_PE_DIR_LOAD_CONFIG = 10,
    NK_PE_DIR_IAT = 12,
    NK_PE_NDIRS = 16,
};

typedef struct nk_pe nk_pe;

/* Memory-layout reader: read `len` bytes at virtual address `va`. On a short read set *got to
 * the bytes read before the first missing one and return NTKD_E_NOTPRESENT. */
typedef nk_status (*nk_pe_read_fn)(void *user, uint64_t va, void *buf, size_t len, size_t *got);

typedef struct nk_pe_datadir {
    uint32_t rva;
    uint32_t size;
} nk_pe_datadir;

typedef struct nk_pe_section {
    char name[9];            /* NUL-terminated, up to 8 characters */
    uint32_t virtual_size;
    uint32_t rva;            /* VirtualAddress */
    uint32_t raw_size;       /* SizeOfRawData */
    uint32_t raw_offset;     /* PointerToRawData */
    uint32_t characteristics;
} nk_pe_section;

/* What the headers say. */
typedef struct nk_pe_headers {
    uint32_t nt_offset;      /* e_lfanew */
    /* IMAGE_FILE_HEADER */
    uint16_t machine;
    uint16_t nsections;
    uint32_t timestamp;
    uint32_t symtab_offset, nsymbols;
    uint16_t opt_size;
    uint16_t characteristics;
    /* IMAGE_OPTIONAL_HEADER32/64 */
    uint16_t magic;          /* 0x10b PE32, 0x20b PE32+ */
    bool pe32plus;
    uint8_t linker_major, linker_minor;
    uint32_t size_of_code;
    uint32_t entry_rva;      /* AddressOfEntryPoint */
    uint32_t base_of_code;
    uint64_t image_base;
    uint32_t section_align, file_align;
    uint16_t os_major, os_minor, image_major, image_minor, subsys_major, subsys_minor;
    uint32_t size_of_image;
    uint32_t size_of_headers;
    uint32_t checksum;
    uint16_t subsystem;
    uint16_t dll_characteristics;
    uint64_t stack_reserve, stack_commit, heap_reserve, heap_commit;
    uint32_t ndirs;          /* NumberOfRvaAndSizes as usable (clamped to 16 and the header) */
    uint32_t ndirs_declared; /* as stored */
    nk_pe_datadir dirs[NK_PE_NDIRS];
} nk_pe_headers;

/* ---- opening ------------------------------------------------------------------------- */

nk_status nk_pe_open_file(ntkd_ctx *ctx, const char *path, nk_pe **out);
/* File layout over a caller's buffer (kept alive by the caller until nk_pe_close). `name` is
 * used in messages. */
nk_status nk_pe_open_buf(ntkd_ctx *ctx, const char *name, const uint8_t *data, size_t size,
                         nk_pe **out);
/* Memory layout: the image loaded at `base`. `size_hint` (SizeOfImage from a module list, or
 * 0) bounds reads when the headers are unreadable or disagree. */
nk_status nk_pe_open_mem(ntkd_ctx *ctx, const char *name, uint64_t base, uint64_t size_hint,
                         nk_pe_read_fn read, void *user, nk_pe **out);
void nk_pe_close(nk_pe *pe);

const char *nk_pe_name(const nk_pe *pe);
bool nk_pe_is_mem_layout(const nk_pe *pe);
/* The base the image is read at: the memory-layout base, else ImageBase from the headers. */
uint64_t nk_pe_base(const nk_pe *pe);
const nk_pe_headers *nk_pe_hdr(const nk_pe *pe);
size_t nk_pe_section_count(const nk_pe *pe);
const nk_pe_section *nk_pe_section_at(const nk_pe *pe, size_t i);
/* The section holding rva (by virtual extent), or NULL. */
const nk_pe_section *nk_pe_section_of(const nk_pe *pe, uint32_t rva);
/* File layout: file offset of rva (headers map 1:1). False when rva lies in no section's
 * raw data (or in memory layout). */
bool nk_pe_rva_to_offset(const nk_pe *pe, uint32_t rva, uint64_t *off);
/* Reads len bytes at rva, in either layout. NTKD_OK only when every byte was read; *got (may
 * be NULL) says how many were. A failure leaves a message in the ctx. */
nk_status nk_pe_read(nk_pe *pe, uint32_t rva, void *buf, size_t len, size_t *got);

size_t nk_pe_warning_count(const nk_pe *pe);
const char *nk_pe_warning(const nk_pe *pe, size_t i);

/* Names for messages and listings. */
const char *nk_pe_machine_name(uint16_t machine);   /* "x64", "x86", "ARM64", "ARM" or "?" */
const char *nk_pe_subsystem_name(uint16_t subsystem);
/* Symbol-store key of the image: TimeDateStamp as %08X then SizeOfImage as %x (the form
 * symstore writes, e.g. "c9c030003b000" compares equal case-insensitively). buf: 24 bytes. */
char *nk_pe_image_key(const nk_pe *pe, char *buf);

/* ---- exports ------------------------------------------------------------------------- */

typedef struct nk_pe_export {
    uint32_t ordinal;        /* biased: Base + index */
    uint32_t rva;            /* code/data RVA; for a forwarder the RVA of its string */
    const char *name;        /* NULL when exported by ordinal only, or its name is not present */
    const char *forwarder;   /* "NTOSKRNL.ExFoo" when the entry forwards, else NULL */
} nk_pe_export;

typedef struct nk_pe_exports {
    const char *dll_name;    /* NULL when absent or not present */
    uint32_t ordinal_base;
    uint32_t timestamp;
    uint32_t nfunctions;     /* NumberOfFunctions as stored */
    uint32_t nnames;         /* NumberOfNames as stored */
    size_t count;
    nk_pe_export *v;         /* sorted by ordinal, then name; one entry per name, plus one for
                                each function slot no name refers to (empty slots skipped) */
    bool incomplete;         /* some arrays or names were not present / were clamped */
} nk_pe_exports;

/* NTKD_E_NOTFOUND when the image has no export directory. */
nk_status nk_pe_exports_get(nk_pe *pe, const nk_pe_exports **out);
/* Exact, case-sensitive name lookup (binary search over a sorted index). */
const nk_pe_export *nk_pe_export_by_name(nk_pe *pe, const char *name);
const nk_pe_export *nk_pe_export_by_ordinal(nk_pe *pe, uint32_t ordinal);
/* The non-forwarder export with the greatest rva <= rva (ln without symbols), or NULL. */
const nk_pe_export *nk_pe_export_at_or_below(nk_pe *pe, uint32_t rva);

/* ---- debug directory ----------------------------------------------------------------- */

enum {
    NK_PE_DEBUG_COFF = 1,
    NK_PE_DEBUG_CODEVIEW = 2,
    NK_PE_DEBUG_FPO = 3,
    NK_PE_DEBUG_MISC = 4,
    NK_PE_DEBUG_EXCEPTION = 5,
    NK_PE_DEBUG_FIXUP = 6,
    NK_PE_DEBUG_OMAP_TO_SRC = 7,
    NK_PE_DEBUG_OMAP_FROM_SRC = 8,
    NK_PE_DEBUG_BORLAND = 9,
    NK_PE_DEBUG_CLSID = 11,
    NK_PE_DEBUG_VC_FEATURE = 12,
    NK_PE_DEBUG_POGO = 13,
    NK_PE_DEBUG_ILTCG = 14,
    NK_PE_DEBUG_MPX = 15,
    NK_PE_DEBUG_REPRO = 16,
    NK_PE_DEBUG_EMBEDDED_PDB = 17,
    NK_PE_DEBUG_PDBCHECKSUM = 19,
    NK_PE_DEBUG_EX_DLLCHARACTERISTICS = 20,
};

typedef struct nk_pe_guid {
    uint32_t data1;
    uint16_t data2, data3;
    uint8_t data4[8];
} nk_pe_guid;

typedef enum nk_pe_cv_kind { NK_PE_CV_NONE = 0, NK_PE_CV_RSDS, NK_PE_CV_NB10 } nk_pe_cv_kind;

typedef struct nk_pe_codeview {
    nk_pe_cv_kind kind;
    nk_pe_guid guid;         /* RSDS */
    uint32_t signature;      /* NB10: the PDB's time-stamp signature */
    uint32_t age;
    char pdb_path[520];      /* as stored (UTF-8 for RSDS), NUL-terminated, truncated to fit */
} nk_pe_codeview;

typedef struct nk_pe_debug_entry {
    uint32_t characteristics;
    uint32_t timestamp;
    uint16_t major, minor;
    uint32_t type;
    uint32_t size;           /* SizeOfData */
    uint32_t rva;            /* AddressOfRawData */
    uint32_t file_ptr;       /* PointerToRawData */
    bool data_present;       /* the entry's data could be read */
} nk_pe_debug_entry;

typedef struct nk_pe_debug {
    size_t count;
    nk_pe_debug_entry *v;
    nk_pe_codeview cv;       /* the first CodeView entry that parsed (kind NONE when none) */
    int cv_index;            /* its index in v, or -1 */
} nk_pe_debug;

/* NTKD_E_NOTFOUND when the image has no debug directory. */
nk_status nk_pe_debug_get(nk_pe *pe, const nk_pe_debug **out);
const char *nk_pe_debug_type_name(uint32_t type);  /* "CODEVIEW", "POGO", ... or "?" */
/* Symbol-store key of the PDB: RSDS GUID (32 hex, Data1..Data4 as a GUID prints) followed by
 * the age in hex; NB10: signature %08X then age %x. buf: 48 bytes. */
char *nk_pe_pdb_key(const nk_pe_codeview *cv, char *buf);
/* "1C19FDDB-27BB-3399-D9B4-5973EFEAFCF3". buf: 40 bytes. */
char *nk_pe_guid_str(const nk_pe_guid *g, char *buf);

/* ---- version resource (lmv) ---------------------------------------------------------- */

typedef struct nk_pe_version_string {
    char *table;             /* StringTable key: "040904B0" (language and code page) */
    char *key;               /* "CompanyName" ... */
    char *value;
} nk_pe_version_string;

typedef struct nk_pe_version {
    uint32_t data_rva, data_size; /* where the VS_VERSIONINFO blob lies */
    bool has_fixed;          /* a VS_FIXEDFILEINFO with the 0xFEEF04BD signature */
    uint16_t file_version[4];    /* 10.0.19041.1110 → {10, 0, 19041, 1110} */
    uint16_t product_version[4];
    uint32_t struc_version, file_flags_mask, file_flags, file_os, file_type, file_subtype;
    uint32_t file_date_ms, file_date_ls;
    size_t nstrings;
    nk_pe_version_string *strings;
    size_t ntranslations;
    uint32_t translations[16];   /* language << 16 | code page */
} nk_pe_version;

/* Walks the resource directory to RT_VERSION (first name, first language) and parses it.
 * NTKD_E_NOTFOUND when the image has no resources or no version resource. */
nk_status nk_pe_version_get(nk_pe *pe, const nk_pe_version **out);
/* The value of the first string named `key` (case-insensitive), or NULL. */
const char *nk_pe_version_string_get(const nk_pe_version *v, const char *key);

/* ---- exception directory (.pdata) ---------------------------------------------------- */

enum { NK_PE_FUNC_LEN_UNKNOWN = 1 }; /* ARM64: the .xdata header holding the length is not
                                        present; `end` is the next entry's start */

/* One .pdata entry. x64: RUNTIME_FUNCTION. ARM64: function start plus the second word
 * (an .xdata RVA when its low two bits are 0, else packed unwind data); end is computed. */
typedef struct nk_pe_func {
    uint32_t begin;
    uint32_t end;            /* exclusive */
    uint32_t unwind;         /* x64: UnwindInfoAddress (bit 0: indirect entry); ARM64: word 2 */
    uint32_t index;          /* position in the table */
    uint32_t flags;          /* NK_PE_FUNC_* */
} nk_pe_func;

/* All entries that could be read, sorted as stored (by begin). NTKD_E_UNSUPPORTED for x86
 * (no .pdata: unwinding uses the PDB's FPO/FrameData) and other machines; NTKD_E_NOTFOUND
 * when the directory is empty. *total is the entry count the directory declares. */
nk_status nk_pe_funcs(nk_pe *pe, const nk_pe_func **v, size_t *n, size_t *total);
/* The entry covering rva (binary search). NTKD_E_NOTFOUND: no entry (a leaf function);
 * NTKD_E_NOTPRESENT: the entries that would cover it are in a page the dump lacks. */
nk_status nk_pe_func_find(nk_pe *pe, uint32_t rva, nk_pe_func *out);

/* ---- x64 unwind data ----------------------------------------------------------------- */

enum {
    NK_UWOP_PUSH_NONVOL = 0,
    NK_UWOP_ALLOC_LARGE = 1,
    NK_UWOP_ALLOC_SMALL = 2,
    NK_UWOP_SET_FPREG = 3,
    NK_UWOP_SAVE_NONVOL = 4,
    NK_UWOP_SAVE_NONVOL_FAR = 5,
    NK_UWOP_EPILOG = 6,          /* version 2; in version 1 the slot is reserved */
    NK_UWOP_SPARE_CODE = 7,
    NK_UWOP_SAVE_XMM128 = 8,
    NK_UWOP_SAVE_XMM128_FAR = 9,
    NK_UWOP_PUSH_MACHFRAME = 10,
};

enum { NK_UNW_EHANDLER = 1, NK_UNW_UHANDLER = 2, NK_UNW_CHAININFO = 4 };

typedef struct nk_x64_code {
    uint8_t slot;            /* index of its first slot in the code array */
    uint8_t nslots;          /* slots it occupies: 1, 2 or 3 */
    uint8_t code_offset;     /* offset in prolog (end of the instruction) */
    uint8_t op;              /* NK_UWOP_* */
    uint8_t info;            /* operation info: register, ALLOC_LARGE form, MACHFRAME error
                                code flag, EPILOG flags (first) or high offset bits (others) */
    bool valid;              /* false: an opcode this version does not define */
    /* Decoded value, in bytes:
     *   ALLOC_LARGE / ALLOC_SMALL: the allocation size
     *   SAVE_NONVOL(_FAR), SAVE_XMM128(_FAR): the offset of the save slot
     *   SET_FPREG: the frame register offset (16 * FrameOffset)
     *   EPILOG, first code: the epilog size (code_offset); later codes: the epilog's distance
     *     back from the function end, info << 8 | code_offset (0 marks padding)
     *   PUSH_MACHFRAME: 40, or 48 with an error code */
    uint32_t value;
    bool epilog_first;       /* EPILOG: the first (size and flags) code */
    bool epilog_at_end;      /* first EPILOG code: info bit 0, an epilog ends the function */
} nk_x64_code;

typedef struct nk_x64_unwind {
    uint32_t rva;            /* of the UNWIND_INFO */
    uint8_t version;
    uint8_t flags;           /* NK_UNW_* */
    uint8_t prolog_size;
    uint8_t count_of_codes;  /* slots */
    uint8_t frame_reg;       /* 0: none */
    uint8_t frame_offset;    /* scaled (the field); bytes = 16 * frame_offset */
    size_t ncodes;
    nk_x64_code codes[255];
    bool has_handler;
    uint32_t handler_rva;
    uint32_t handler_data_rva;   /* where the language-specific data starts */
    bool handler_data_present;
    uint32_t handler_data;       /* its first 32-bit word (WinDbg's "data") */
    bool chained;
    nk_pe_func chain;            /* the RUNTIME_FUNCTION this one chains to */
    uint32_t size;           /* bytes, as WinDbg's ".fnent" counts them: header, codes, and
                                (rounded to an even slot count) handler + first data word or the
                                chained entry */
} nk_x64_unwind;

/* Decodes the UNWIND_INFO at unwind_rva. */
nk_status nk_pe_x64_unwind_at(nk_pe *pe, uint32_t unwind_rva, nk_x64_unwind *out);
/* Decodes f's unwind info, following an indirect entry (UnwindInfoAddress bit 0) to the
 * RUNTIME_FUNCTION it names first; *resolved (may be NULL) receives that entry. */
nk_status nk_pe_x64_unwind(nk_pe *pe, const nk_pe_func *f, nk_x64_unwind *out,
                           nk_pe_func *resolved);
/* Follows CHAININFO links from f to the primary entry (at most 32 links). */
nk_status nk_pe_x64_primary(nk_pe *pe, const nk_pe_func *f, nk_pe_func *primary,
                            unsigned *links);
const char *nk_x64_uwop_name(uint8_t op);      /* "UWOP_PUSH_NONVOL" ... */
const char *nk_x64_reg_name(uint8_t reg);      /* "rax" ... "r15" (unwind numbering) */

/* ---- ARM64 unwind data --------------------------------------------------------------- */

typedef enum nk_a64_op {
    NK_A64_ALLOC_S = 0,      /* 000xxxxx                 sub sp, #x*16 */
    NK_A64_SAVE_R19R20_X,    /* 001zzzzz                 stp x19,x20,[sp,#-z*8]! */
    NK_A64_SAVE_FPLR,        /* 01zzzzzz                 stp x29,lr,[sp,#z*8] */
    NK_A64_SAVE_FPLR_X,      /* 10zzzzzz                 stp x29,lr,[sp,#-(z+1)*8]! */
    NK_A64_ALLOC_M,          /* 11000xxx xxxxxxxx        sub sp, #x*16 */
    NK_A64_SAVE_REGP,        /* 110010xx xxzzzzzz        stp x(19+x),x(20+x),[sp,#z*8] */
    NK_A64_SAVE_REGP_X,      /* 110011xx xxzzzzzz        ... [sp,#-(z+1)*8]! */
    NK_A64_SAVE_REG,         /* 110100xx xxzzzzzz        str x(19+x),[sp,#z*8] */
    NK_A64_SAVE_REG_X,       /* 1101010x xxxzzzzz        str x(19+x),[sp,#-(z+1)*8]! */
    NK_A64_SAVE_LRPAIR,      /* 1101011x xxzzzzzz        stp x(19+2x),lr,[sp,#z*8] */
    NK_A64_SAVE_FREGP,       /* 1101100x xxzzzzzz        stp d(8+x),d(9+x),[sp,#z*8] */
    NK_A64_SAVE_FREGP_X,     /* 1101101x xxzzzzzz        ... [sp,#-(z+1)*8]! */
    NK_A64_SAVE_FREG,        /* 1101110x xxzzzzzz        str d(8+x),[sp,#z*8] */
    NK_A64_SAVE_FREG_X,      /* 11011110 xxxzzzzz        str d(8+x),[sp,#-(z+1)*8]! */
    NK_A64_ALLOC_L,          /* 11100000 x*24            sub sp, #x*16 */
    NK_A64_SET_FP,           /* 11100001                 mov x29, sp */
    NK_A64_ADD_FP,           /* 11100010 xxxxxxxx        add x29, sp, #x*8 */
    NK_A64_NOP,              /* 11100011 */
    NK_A64_END,              /* 11100100 */
    NK_A64_END_C,            /* 11100101 end of this chained scope */
    NK_A64_SAVE_NEXT,        /* 11100110 next register pair */
    NK_A64_SAVE_ANY_REG,     /* 11100111 0pxrrrrr ffoooooo */
    NK_A64_TRAP_FRAME,       /* 11101000 MSFT_OP_TRAP_FRAME */
    NK_A64_MACHINE_FRAME,    /* 11101001 MSFT_OP_MACHINE_FRAME */
    NK_A64_CONTEXT,          /* 11101010 MSFT_OP_CONTEXT */
    NK_A64_EC_CONTEXT,       /* 11101011 MSFT_OP_EC_CONTEXT */
    NK_A64_CLEAR_UNWOUND_TO_CALL, /* 11101100 */
    NK_A64_PAC_SIGN_LR,      /* 11111100 pacibsp */
    NK_A64_RESERVED,         /* any other encoding (its length is still known) */
} nk_a64_op;

enum { NK_A64_REG_X = 0, NK_A64_REG_D = 1, NK_A64_REG_Q = 2 };

typedef struct nk_a64_code {
    uint8_t op;              /* nk_a64_op */
    uint8_t len;             /* bytes: 1 to 5 */
    uint16_t index;          /* byte index in the code array */
    uint64_t raw;            /* the code's bytes, first byte most significant */
    uint8_t regclass;        /* NK_A64_REG_* of the saved register(s) */
    uint8_t reg;             /* first register number: x19.., 29 = fp, 30 = lr, or d/q n */
    uint8_t reg2;            /* second register of a pair (30 for the lr pairs) */
    bool pair;
    bool writeback;          /* pre-indexed store (the _x forms): offset is negative */
    int32_t offset;          /* save offset from sp in bytes (negative: pre-decrement) */
    uint32_t size;           /* alloc_s/m/l: bytes; add_fp: bytes */
} nk_a64_code;

typedef struct nk_a64_epilog {
    uint32_t start_offset;   /* bytes from the function start */
    uint16_t start_index;    /* byte index of its first unwind code */
    uint8_t reserved;        /* the 4 Res bits (should be 0) */
} nk_a64_epilog;

typedef struct nk_a64_unwind {
    uint32_t begin;          /* function start RVA */
    uint32_t word;           /* the .pdata second word */
    uint8_t flag;            /* 0: .xdata, 1: packed, 2: packed fragment (no prolog/epilog) */
    uint32_t function_length;    /* bytes */
    /* packed (flag 1 and 2) */
    uint8_t reg_f, reg_i, h, cr;
    uint32_t frame_size;     /* bytes */
    /* .xdata (flag 0) */
    uint32_t xdata_rva;
    uint32_t xdata_size;     /* header, scopes, codes and the handler RVA */
    uint8_t version;
    bool x, e;
    bool extended;           /* a second header word holds the counts */
    uint32_t epilog_count;   /* scopes that follow the header (0 when e) */
    uint32_t epilog_index;   /* e: code index of the single epilog */
    uint32_t code_words;
    nk_a64_epilog *epilogs;  /* heap: epilog_count scopes (free with nk_a64_unwind_free) */
    bool has_handler;
    uint32_t handler_rva;
    uint32_t handler_data_rva;
    bool handler_data_present;
    uint32_t handler_data;   /* first word of the handler data */
    /* Unwind codes: the .xdata code bytes, or for packed entries the codes equivalent to
     * the canonical prolog of the documentation's table (synthesized, in unwind order, ending
     * with end; CR=2 adds pac_sign_lr). The homing stores of x0-x7 are nops, except that the
     * first one becomes alloc_s of the save area when nothing was saved before it (it is the
     * store that moved sp). A packed entry's single epilog mirrors these codes without
     * set_fp; it is not synthesized separately. */
    bool synthesized;
    uint32_t ncode_bytes;
    uint8_t codes[1024];
} nk_a64_unwind;

/* Decodes the .pdata entry f: packed fields or the .xdata record. */
nk_status nk_pe_a64_unwind(nk_pe *pe, const nk_pe_func *f, nk_a64_unwind *out);
void nk_a64_unwind_free(nk_a64_unwind *u);
/* Decodes one code at byte index `at`. NTKD_E_TRUNCATED when it runs past n bytes. */
nk_status nk_a64_decode(const uint8_t *codes, size_t n, size_t at, nk_a64_code *out);
/* Decodes the sequence starting at byte index `start` through its `end` code (end_c does not
 * stop it). Returns the number of codes stored (at most max); *complete says whether an end
 * was reached inside the code bytes. save_next is resolved to the register pair it saves. */
size_t nk_a64_decode_seq(const nk_a64_unwind *u, size_t start, nk_a64_code *out, size_t max,
                         bool *complete);
const char *nk_a64_op_name(uint8_t op);        /* "save_fplr_x" ... */

#endif
