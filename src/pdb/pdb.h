/* pdb.h: the PDB reader of libntkd (MSF 7.0 program databases written by Microsoft's and
 * LLVM's linkers).
 *
 * Contract
 * - Everything goes through an nk_pdb handle; there is no global state. The handle keeps
 *   the ntkd_ctx given at open for its error messages: the context must outlive the handle.
 * - The file is mapped read-only (nk_file_map) or borrowed from the caller (nk_pdb_open_mem:
 *   the caller keeps the bytes alive and unchanged until nk_pdb_close).
 * - Opening reads only the MSF superblock, the stream directory, the PDB info stream and
 *   the DBI header. Every other part (types, their hash index, publics, globals, modules,
 *   function extents, FPO/FrameData, OMAP, section headers) is parsed on first use and
 *   kept for the life of the handle. A part that fails to parse fails the same way on
 *   every later call (NTKD_E_FORMAT / NTKD_E_TRUNCATED with a one-line message naming the
 *   file, the stream and the offset); other parts stay usable.
 * - Input is hostile: every block index, size, count and offset is checked; nothing reads
 *   outside the file; loops are capped.
 * - Nothing is copied wholesale: a record is read in place when its bytes are consecutive in
 *   the file (nearly always), else that one record is copied once into an arena owned by
 *   the handle. Indexes are compact arrays built once (no per-symbol allocation); pages
 *   read only to build an index (module symbols, FPO, hash values) are handed back to the
 *   page cache afterwards (madvise DONTNEED on the read-only mapping; never for _open_mem).
 * - Strings returned (names) are NUL-terminated and live as long as the handle. They point
 *   into the file when the record holds a NUL-terminated name, else into the arena
 *   (length-prefixed names of the old "ST" leaves, records spanning scattered blocks).
 * - Addresses are RVAs (relative to the image base). Segment:offset pairs are converted
 *   with the section headers of the DBI's section-header stream, through OMAP when the PDB
 *   carries OMAP-from-source (then the original section headers are used first).
 * - Type indexes below 0x1000 are simple (primitive) types; at or above the TPI's first
 *   index they are TPI records. IPI ("ID") records are reached with nk_pdb_id_record.
 * - Lookups never allocate per call, except the first call that builds an index and the
 *   first read of a record that spans scattered blocks (copied once, see above).
 */
#ifndef NTKD_PDB_H
#define NTKD_PDB_H

#include "base/base.h"

typedef struct nk_pdb nk_pdb;

/* ---- open / close ------------------------------------------------------------------ */

nk_status nk_pdb_open(ntkd_ctx *ctx, const char *path, nk_pdb **out);
/* A PDB held in memory (fuzzing, a CAB-decompressed .pd_). `name` is used in messages. */
nk_status nk_pdb_open_mem(ntkd_ctx *ctx, const char *name, const void *data, size_t size,
                          nk_pdb **out);
void nk_pdb_close(nk_pdb *p);
/* Parses every part now (types and their hash, DBI substreams, publics, globals, module
 * symbols, FPO, FrameData): returns the first error. For tests and fuzzing. */
nk_status nk_pdb_load_all(nk_pdb *p);

/* ---- identity ---------------------------------------------------------------------- */

typedef struct nk_pdb_info {
    uint32_t version;      /* PDB info stream version (20000404 = VC70) */
    uint32_t signature;    /* time stamp */
    uint32_t age;          /* PDB info stream age (the symbol-server key age) */
    uint8_t guid[16];      /* as stored (first three fields little-endian) */
    bool has_ipi;          /* IPI stream present and announced by a feature code */
    bool no_type_merge, minimal_debug_info; /* feature codes */
    uint32_t block_size, num_blocks, num_streams;
    /* DBI header (dbi_present false when the PDB has no DBI stream) */
    bool dbi_present;
    bool dbi_new_header;   /* header with the -1 signature (every MSF 7.0 linker) */
    uint32_t dbi_version;  /* 19990903 (V70), 20091201 (V110) */
    uint32_t dbi_age;
    uint16_t machine;      /* IMAGE_FILE_MACHINE_*; 0 in old PDBs */
    uint16_t dbi_flags;    /* bit 0 incrementally linked, bit 1 private symbols stripped */
    uint16_t build_major, build_minor, pdb_dll_version, pdb_dll_rbld;
    uint16_t gsi_stream, psi_stream, symrec_stream; /* 0xffff when absent */
} nk_pdb_info;

const nk_pdb_info *nk_pdb_get_info(const nk_pdb *p);
/* GUID as the symbol server key writes it: 32 upper-case hex digits (buf: 33 bytes). */
char *nk_pdb_guid_hex(const nk_pdb *p, char *buf);
/* File name used in messages. */
const char *nk_pdb_name(const nk_pdb *p);

/* ---- MSF streams ------------------------------------------------------------------- */

#define NK_PDB_NO_STREAM 0xffffu

uint32_t nk_pdb_stream_count(const nk_pdb *p);
/* Size in bytes (0 for a nil stream or an index out of range). */
uint32_t nk_pdb_stream_size(const nk_pdb *p, uint32_t idx);
/* Copies [off, off+len) of stream idx across block boundaries. */
nk_status nk_pdb_stream_read(nk_pdb *p, uint32_t idx, uint64_t off, void *buf, size_t len);
/* Zero-copy pointer to [off, off+len) when the range's blocks are consecutive in the file,
 * else NULL (then use nk_pdb_stream_read). */
const uint8_t *nk_pdb_stream_ptr(nk_pdb *p, uint32_t idx, uint64_t off, size_t len);
/* The whole stream as one contiguous buffer: the file itself when its blocks are
 * consecutive, else a copy made once and kept by the handle. */
nk_status nk_pdb_stream_data(nk_pdb *p, uint32_t idx, const uint8_t **data, uint32_t *size);
/* Stream index of a named stream ("/names", "/LinkInfo", "/src/headerblock"...), or
 * NK_PDB_NO_STREAM. */
uint32_t nk_pdb_named_stream(const nk_pdb *p, const char *name);
size_t nk_pdb_named_stream_count(const nk_pdb *p);
bool nk_pdb_named_stream_at(const nk_pdb *p, size_t i, const char **name, uint32_t *stream);
/* A string of the /names string table at byte offset `off` (FrameData programs, file
 * names), or NULL. */
const char *nk_pdb_names_str(nk_pdb *p, uint32_t off);

/* ---- types (TPI) --------------------------------------------------------------------- */

/* Leaf kinds, as nk_pdb_typeinfo.kind (the raw leaf number is in .leaf). */
typedef enum nk_pdb_kind {
    NK_PT_NONE = 0,
    NK_PT_BASE,       /* simple type index < 0x1000 (may be a pointer to a base type) */
    NK_PT_POINTER,
    NK_PT_MODIFIER,
    NK_PT_ARRAY,
    NK_PT_STRUCT,
    NK_PT_CLASS,
    NK_PT_INTERFACE,
    NK_PT_UNION,
    NK_PT_ENUM,
    NK_PT_BITFIELD,
    NK_PT_PROCEDURE,
    NK_PT_MFUNCTION,
    NK_PT_ARGLIST,
    NK_PT_FIELDLIST,
    NK_PT_VTSHAPE,
    NK_PT_METHODLIST,
    NK_PT_LABEL,
    NK_PT_OTHER,      /* a leaf read only as raw bytes */
} nk_pdb_kind;

/* CV_prop_t bits of struct/union/enum records. */
#define NK_PROP_PACKED 0x0001
#define NK_PROP_FWDREF 0x0080
#define NK_PROP_SCOPED 0x0100
#define NK_PROP_UNIQUE_NAME 0x0200

/* Pointer modes (nk_pdb_typeinfo.ptr_mode). */
enum { NK_PTR_MODE_PTR = 0, NK_PTR_MODE_LVREF = 1, NK_PTR_MODE_PMEM = 2, NK_PTR_MODE_PMFUNC = 3,
       NK_PTR_MODE_RVREF = 4 };

typedef struct nk_pdb_typeinfo {
    uint32_t ti;
    nk_pdb_kind kind;
    uint16_t leaf;          /* LF_* (0 for simple types) */
    const char *name;       /* struct/union/enum/class/array name; "" when none */
    const char *unique_name;/* decorated unique name, or NULL */
    uint64_t size;          /* bytes: records that state a size, pointers, simple types */
    uint32_t elem_ti;       /* pointee, array element, modified type, enum underlying type,
                               bitfield base, procedure return, simple pointer's base */
    uint32_t index_ti;      /* array index type, member-pointer class, mfunction class */
    uint32_t field_ti;      /* field list (struct/union/enum), argument list (procedures) */
    uint32_t derived_ti, vshape_ti, this_ti;
    uint32_t count;         /* members (struct/union/enum), parameters, arglist entries */
    uint16_t props;         /* CV_prop_t (NK_PROP_*) */
    /* pointers */
    uint8_t ptr_kind;       /* CV_ptrtype: 0x0a near32, 0x0c 64-bit... */
    uint8_t ptr_mode;       /* NK_PTR_MODE_* */
    bool is_const, is_volatile, is_unaligned, is_restrict;
    /* bitfields */
    uint8_t bit_pos, bit_len;
    /* procedures */
    uint8_t call_conv, func_attr;
    int32_t this_adjust;
    /* simple types */
    uint8_t simple_mode;    /* 0 direct, 4 32-bit pointer, 6 64-bit pointer... */
    uint16_t simple_kind;   /* low byte of the index (0x74 = int, 0x03 = void...) */
    /* raw record (after the 2-byte leaf), for leaves a caller wants to read itself */
    const uint8_t *data;
    uint32_t data_len;
} nk_pdb_typeinfo;

/* TPI facts. */
typedef struct nk_pdb_tpi_info {
    bool present;
    uint32_t version;       /* 19990903 (V70), 20040203 (V80) */
    uint32_t ti_begin, ti_end;
    uint32_t record_bytes;
    uint16_t hash_stream, hash_aux_stream;
    uint32_t hash_key_size, num_buckets;
} nk_pdb_tpi_info;

nk_status nk_pdb_tpi_info_get(nk_pdb *p, nk_pdb_tpi_info *out);
nk_status nk_pdb_ipi_info_get(nk_pdb *p, nk_pdb_tpi_info *out);

/* Decodes one type (simple or TPI record). Forward references are NOT resolved here. */
nk_status nk_pdb_type_get(nk_pdb *p, uint32_t ti, nk_pdb_typeinfo *out);
/* A forward reference's full definition (looked up by name through the hash), or `ti`
 * itself when it is not a forward reference or no definition exists. */
uint32_t nk_pdb_type_resolve(nk_pdb *p, uint32_t ti);
/* Struct/class/union/enum/interface definition named `name`, found through the TPI hash
 * buckets without a scan of the records (hash adjusters of incremental links first). Scoped
 * (function-local) types are hashed by their unique (decorated) name: pass that to find
 * them. Without a TPI hash stream the first call hashes the definitions in one scan. */
nk_status nk_pdb_type_find(nk_pdb *p, const char *name, uint32_t *ti);
/* Size of a type in bytes, after resolving forward references and modifiers. */
nk_status nk_pdb_type_size(nk_pdb *p, uint32_t ti, uint64_t *size);
/* WinDbg `dt` spelling of a type: "Uint4B", "Ptr64 _LIST_ENTRY", "[4] UChar",
 * "Pos 3, 2 Bits", "_KTHREAD", "Ptr64     void ". Returns buf. */
char *nk_pdb_type_name(nk_pdb *p, uint32_t ti, char *buf, size_t len);
/* Name of a simple type index as `dt` prints it ("Uint4B", "Ptr32 Void"), or NULL. */
const char *nk_pdb_simple_name(uint32_t ti);
/* Size of a simple type (0 for void / unknown); pointer modes give the pointer's size. */
uint32_t nk_pdb_simple_size(uint32_t ti);
/* Raw record of an IPI index (LF_FUNC_ID, LF_STRING_ID...): leaf and bytes after the leaf. */
nk_status nk_pdb_id_record(nk_pdb *p, uint32_t id, uint16_t *leaf, const uint8_t **data,
                           uint32_t *len);
/* Raw record of a TPI index. */
nk_status nk_pdb_type_record(nk_pdb *p, uint32_t ti, uint16_t *leaf, const uint8_t **data,
                             uint32_t *len);

/* Field-list members. */
typedef enum nk_pdb_field_kind {
    NK_FIELD_MEMBER = 1,   /* data member (possibly a bitfield) */
    NK_FIELD_STATIC,       /* static data member */
    NK_FIELD_BASE,         /* direct base class */
    NK_FIELD_VBASE,        /* direct virtual base */
    NK_FIELD_IVBASE,       /* indirect virtual base */
    NK_FIELD_ENUMERATE,    /* enumerator */
    NK_FIELD_NESTED,       /* nested type */
    NK_FIELD_ONEMETHOD,
    NK_FIELD_METHOD,       /* overloaded method (list in mlist_ti) */
    NK_FIELD_VFUNCTAB,     /* virtual function table pointer */
    NK_FIELD_FRIENDFCN, NK_FIELD_FRIENDCLS, NK_FIELD_VFUNCOFF, NK_FIELD_OTHER,
} nk_pdb_field_kind;

typedef struct nk_pdb_field {
    nk_pdb_field_kind kind;
    uint16_t leaf;
    uint16_t attr;          /* CV_fldattr_t: access in bits 0-1, method property in 2-4 */
    const char *name;       /* "" for unnamed entries (base classes, vfunctab) */
    uint32_t type_ti;       /* member type (the LF_BITFIELD index for bitfields), base class,
                               nested type, method type, vfunctab pointer type */
    uint64_t offset;        /* member/base offset; vbptr offset for virtual bases */
    uint64_t value;         /* enumerator value (two's complement when negative),
                               virtual-base displacement index */
    bool value_negative;
    bool is_bitfield;
    uint8_t bit_pos, bit_len;
    uint32_t bit_base_ti;   /* bitfield's underlying type */
    uint32_t vbptr_ti;      /* virtual bases: type of the vbptr */
    uint32_t mlist_ti;      /* NK_FIELD_METHOD: LF_METHODLIST index */
    uint32_t method_count;
    int32_t vtable_off;     /* introducing virtual methods; -1 otherwise */
} nk_pdb_field;

typedef struct nk_pdb_field_iter {
    nk_pdb *p;
    const uint8_t *rec;     /* current field list's bytes after the leaf */
    uint32_t len, pos;
    uint32_t hops, yielded;
    bool old16;             /* 16-bit-index field list (LF_FIELDLIST_16t) */
    nk_status status;       /* NTKD_OK at a clean end */
} nk_pdb_field_iter;

/* Starts a walk over the fields of a struct/class/union/interface/enum (forward references
 * resolved) or of a field list. LF_INDEX continuations are followed. */
nk_status nk_pdb_fields_begin(nk_pdb *p, uint32_t ti, nk_pdb_field_iter *it);
/* Next field; false at the end (it->status NTKD_OK) or on a bad record (status set, and
 * the context's message names the record). */
bool nk_pdb_fields_next(nk_pdb_field_iter *it, nk_pdb_field *f);
/* Finds a member by name (first match) among the fields of a struct/union. */
nk_status nk_pdb_field_find(nk_pdb *p, uint32_t ti, const char *name, nk_pdb_field *out);

/* Arguments of an LF_ARGLIST (count and type indexes through *args, at most max). */
nk_status nk_pdb_arglist(nk_pdb *p, uint32_t ti, uint32_t *args, uint32_t max, uint32_t *count);
/* Entries of an LF_METHODLIST: attr, type index, vtable offset (-1 when absent). */
typedef struct nk_pdb_method {
    uint16_t attr;
    uint32_t type_ti;
    int32_t vtable_off;
} nk_pdb_method;
nk_status nk_pdb_methodlist(nk_pdb *p, uint32_t ti, nk_pdb_method *out, uint32_t max,
                            uint32_t *count);

/* Iteration over all TPI records of UDT kinds (for `dt mod!Prefix*`): a full scan. */
typedef struct nk_pdb_type_iter {
    nk_pdb *p;
    uint32_t next;
} nk_pdb_type_iter;
void nk_pdb_types_begin(nk_pdb *p, nk_pdb_type_iter *it);
/* Next struct/class/union/enum/interface definition (forward references skipped). */
bool nk_pdb_types_next(nk_pdb_type_iter *it, nk_pdb_typeinfo *out);

/* ---- DBI: modules, sections, contributions ---------------------------------------- */

typedef struct nk_pdb_contrib {
    uint16_t section;       /* 1-based */
    uint16_t module;
    uint32_t offset, size, characteristics, data_crc, reloc_crc;
    uint32_t rva;           /* converted, 0 when the section is unknown */
} nk_pdb_contrib;

typedef struct nk_pdb_module {
    const char *name;       /* module (object) name */
    const char *obj_name;   /* object or library file */
    uint16_t sym_stream;    /* NK_PDB_NO_STREAM when stripped */
    uint16_t flags;
    uint32_t sym_bytes, c11_bytes, c13_bytes;
    uint16_t num_files;
    uint32_t src_file_ni, pdb_file_ni;
    nk_pdb_contrib contrib; /* the module's first section contribution */
} nk_pdb_module;

nk_status nk_pdb_module_count(nk_pdb *p, size_t *count);
nk_status nk_pdb_module_get(nk_pdb *p, size_t i, nk_pdb_module *out);
/* Source files of a module (file info substream). */
nk_status nk_pdb_module_file_count(nk_pdb *p, size_t mod, size_t *count);
const char *nk_pdb_module_file(nk_pdb *p, size_t mod, size_t i);

nk_status nk_pdb_contrib_count(nk_pdb *p, size_t *count);
nk_status nk_pdb_contrib_get(nk_pdb *p, size_t i, nk_pdb_contrib *out);
/* The contribution holding `rva` (sorted index), for module-of-address lookups. */
nk_status nk_pdb_contrib_find(nk_pdb *p, uint32_t rva, nk_pdb_contrib *out);

typedef struct nk_pdb_secmap {
    uint16_t flags, ovl, group, frame, name, class_name;
    uint32_t offset, length;
} nk_pdb_secmap;
nk_status nk_pdb_secmap_count(nk_pdb *p, size_t *count);
nk_status nk_pdb_secmap_get(nk_pdb *p, size_t i, nk_pdb_secmap *out);

/* Optional debug header slots. */
enum {
    NK_DBG_FPO = 0, NK_DBG_EXCEPTION, NK_DBG_FIXUP, NK_DBG_OMAP_TO_SRC, NK_DBG_OMAP_FROM_SRC,
    NK_DBG_SECTION_HDR, NK_DBG_TOKEN_RID_MAP, NK_DBG_XDATA, NK_DBG_PDATA, NK_DBG_NEW_FPO,
    NK_DBG_SECTION_HDR_ORIG, NK_DBG_COUNT
};
/* Stream index of a debug header slot, or NK_PDB_NO_STREAM. */
uint16_t nk_pdb_dbg_stream(nk_pdb *p, unsigned slot);

typedef struct nk_pdb_section {
    char name[9];
    uint32_t virtual_size, rva, raw_size, raw_ptr, characteristics;
} nk_pdb_section;
nk_status nk_pdb_section_count(nk_pdb *p, size_t *count);
nk_status nk_pdb_section_get(nk_pdb *p, size_t i, nk_pdb_section *out);
/* Segment (1-based section number) : offset to RVA, OMAP applied. False when the segment
 * is not a section (absolute symbols) or OMAP maps the address to nothing. */
bool nk_pdb_seg_to_rva(nk_pdb *p, uint16_t seg, uint32_t off, uint32_t *rva);
/* OMAP tables (to source / from source): pairs {from, to}; count 0 when absent. */
nk_status nk_pdb_omap(nk_pdb *p, bool from_src, const uint32_t **pairs, size_t *count);
/* Maps an RVA through an OMAP table the way the debuggers do; returns false when the
 * table maps it to nothing. Without a table, *out = rva. */
bool nk_pdb_omap_map(nk_pdb *p, bool from_src, uint32_t rva, uint32_t *out);

/* ---- FPO and FrameData (x86 unwinding) ----------------------------------------------- */

typedef struct nk_pdb_fpo {
    uint32_t start, size;   /* RVA and length of the code range */
    uint32_t locals;        /* DWORDs of locals */
    uint16_t params;        /* DWORDs of parameters */
    uint8_t prolog;         /* bytes of prolog */
    uint8_t regs;           /* registers saved */
    bool has_seh, use_bp;
    uint8_t frame;          /* 0 FPO, 1 TRAP, 2 TSS, 3 NONFPO */
} nk_pdb_fpo;

typedef struct nk_pdb_framedata {
    uint32_t rva, code_size;
    uint32_t locals_size, params_size, max_stack_size;
    const char *program;    /* frame program from /names ("$T0 .raSearch = ..."), or NULL */
    uint32_t program_ni;
    uint16_t prolog_size, saved_regs_size;
    uint32_t flags;         /* bit 0 SEH, bit 1 C++ EH, bit 2 function start */
} nk_pdb_framedata;

/* Arrays sorted by start RVA (stable for equal starts). */
nk_status nk_pdb_fpo_all(nk_pdb *p, const nk_pdb_fpo **arr, size_t *count);
nk_status nk_pdb_framedata_all(nk_pdb *p, const nk_pdb_framedata **arr, size_t *count);
/* The record whose range holds rva (the last such for FrameData), or NULL. */
const nk_pdb_fpo *nk_pdb_fpo_find(nk_pdb *p, uint32_t rva);
const nk_pdb_framedata *nk_pdb_framedata_find(nk_pdb *p, uint32_t rva);

/* ---- public symbols ------------------------------------------------------------------ */

/* S_PUB32 flags */
#define NK_PUB_CODE 0x1
#define NK_PUB_FUNCTION 0x2
#define NK_PUB_MANAGED 0x4
#define NK_PUB_MSIL 0x8

typedef struct nk_pdb_public {
    const char *name;       /* as stored (decorated) */
    uint32_t flags;
    uint16_t seg;
    uint32_t off;
    uint32_t rva;
    bool has_rva;           /* false for absolute symbols and unmapped OMAP ranges */
    uint32_t sym_off;       /* offset of the record in the symbol record stream */
} nk_pdb_public;

/* Publics in the order of the publics hash records (every public, mapped or not). */
nk_status nk_pdb_public_count(nk_pdb *p, size_t *count);
nk_status nk_pdb_public_get(nk_pdb *p, size_t i, nk_pdb_public *out);
/* The address map: publics with an RVA, sorted by RVA (then record offset). */
nk_status nk_pdb_public_addr_count(nk_pdb *p, size_t *count);
nk_status nk_pdb_public_addr_get(nk_pdb *p, size_t i, nk_pdb_public *out);
/* Nearest public at or below rva (`ln`): NTKD_E_NOTFOUND when none. *disp = rva - start. */
nk_status nk_pdb_public_by_rva(nk_pdb *p, uint32_t rva, nk_pdb_public *out, uint32_t *disp);
/* Exact (decorated) name through the publics hash (`x`). */
nk_status nk_pdb_public_by_name(nk_pdb *p, const char *name, nk_pdb_public *out);

/* dbghelp-style undecoration of C names for display: on x86 a leading '_' or '@' goes,
 * an '@' followed by a digit ends the name ("_KeBugCheckEx@20" -> "KeBugCheckEx"), other
 * '@' are dropped; control bytes become '_'. C++ names ('?') and other machines' names are
 * copied unchanged. Returns buf. */
char *nk_pdb_undecorate(const char *name, bool x86, char *buf, size_t len);

/* ---- global symbols ------------------------------------------------------------------ */

/* Symbol record kinds (CodeView S_*). */
#define NK_S_END 0x0006
#define NK_S_FRAMEPROC 0x1012
#define NK_S_OBJNAME 0x1101
#define NK_S_THUNK32 0x1102
#define NK_S_BLOCK32 0x1103
#define NK_S_WITH32 0x1104
#define NK_S_LABEL32 0x1105
#define NK_S_CONSTANT 0x1107
#define NK_S_UDT 0x1108
#define NK_S_LDATA32 0x110c
#define NK_S_GDATA32 0x110d
#define NK_S_PUB32 0x110e
#define NK_S_LPROC32 0x110f
#define NK_S_GPROC32 0x1110
#define NK_S_LTHREAD32 0x1112
#define NK_S_GTHREAD32 0x1113
#define NK_S_PROCREF 0x1125
#define NK_S_DATAREF 0x1126
#define NK_S_LPROCREF 0x1127
#define NK_S_SEPCODE 0x1132
#define NK_S_LPROC32_ID 0x1146
#define NK_S_GPROC32_ID 0x1147
#define NK_S_INLINESITE 0x114d
#define NK_S_INLINESITE_END 0x114e
#define NK_S_PROC_ID_END 0x114f
#define NK_S_LPROC32_DPC 0x1155
#define NK_S_LPROC32_DPC_ID 0x1156

typedef struct nk_pdb_global {
    uint16_t kind;          /* NK_S_* */
    const char *name;
    uint32_t type_ti;       /* data, constants, UDTs */
    uint16_t seg;
    uint32_t off;
    uint32_t rva;
    bool has_rva;
    uint64_t value;         /* S_CONSTANT */
    bool value_negative;
    uint16_t module;        /* S_PROCREF / S_LPROCREF: 0-based module index */
    uint32_t mod_sym_off;   /* ... and the offset of the S_*PROC32 in the module stream */
    uint32_t sym_off;       /* offset in the symbol record stream */
} nk_pdb_global;

nk_status nk_pdb_global_count(nk_pdb *p, size_t *count);
nk_status nk_pdb_global_get(nk_pdb *p, size_t i, nk_pdb_global *out);
/* First global of that exact name through the globals hash. */
nk_status nk_pdb_global_by_name(nk_pdb *p, const char *name, nk_pdb_global *out);

/* ---- module symbols and function extents ------------------------------------------- */

typedef struct nk_pdb_modsym {
    uint16_t kind;          /* NK_S_* */
    uint32_t rec_off;       /* offset of the record in the module stream */
    uint32_t depth;         /* scope depth (0 = module level) */
    const char *name;       /* NULL for records without a name */
    uint16_t seg;
    uint32_t off, length;   /* procedures, thunks, blocks */
    uint32_t rva;
    bool has_rva;
    uint32_t type_ti;       /* procedures, data */
    uint32_t end_off;       /* scope records: offset of the matching end record */
    /* S_FRAMEPROC */
    uint32_t frame_size, pad_size, pad_off, saved_regs_size, frame_flags;
    const uint8_t *data;    /* record bytes after kind */
    uint32_t data_len;
} nk_pdb_modsym;

typedef struct nk_pdb_modsym_iter {
    nk_pdb *p;
    uint16_t stream;        /* the module's symbol stream (NK_PDB_NO_STREAM: none) */
    uint32_t size, pos, depth, count;
    size_t mod;
    nk_status status;
} nk_pdb_modsym_iter;

nk_status nk_pdb_modsyms_begin(nk_pdb *p, size_t mod, nk_pdb_modsym_iter *it);
bool nk_pdb_modsyms_next(nk_pdb_modsym_iter *it, nk_pdb_modsym *out);

typedef struct nk_pdb_func {
    const char *name;       /* as the compiler wrote it (undecorated C++ qualified name) */
    uint32_t rva, size;
    uint16_t kind;          /* S_GPROC32, S_LPROC32, *_ID, S_THUNK32 */
    uint16_t module;
    uint32_t type_ti;
    uint32_t sym_off;       /* record offset in the module stream */
    /* S_FRAMEPROC of the procedure when present */
    bool has_frame;
    uint32_t frame_size, saved_regs_size, frame_flags;
} nk_pdb_func;

/* Function extents from every module stream, sorted by RVA. */
nk_status nk_pdb_func_count(nk_pdb *p, size_t *count);
nk_status nk_pdb_func_get(nk_pdb *p, size_t i, nk_pdb_func *out);
/* The function whose [rva, rva+size) holds `rva`: NTKD_E_NOTFOUND when none. */
nk_status nk_pdb_func_by_rva(nk_pdb *p, uint32_t rva, nk_pdb_func *out);

/* What `ln` shows: the function containing rva when the PDB has one, else the nearest
 * public at or below. */
typedef struct nk_pdb_addr_sym {
    const char *name;
    uint32_t start;         /* RVA of the symbol */
    uint32_t disp;
    uint32_t size;          /* function size; 0 for publics */
    bool is_function;       /* from a module's procedure (undecorated name) */
} nk_pdb_addr_sym;
nk_status nk_pdb_addr_lookup(nk_pdb *p, uint32_t rva, nk_pdb_addr_sym *out);

#endif
