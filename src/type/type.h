/* type.h: the types layer's contract. A type source (nk_typesrc) answers questions about the
 * types of one module, whatever the symbols came from: a PDB (src/type/pdb_types.c over
 * src/pdb) or a Volatility ISF table (src/sym/isf.c). Everything above it (dt, ?? sizeof,
 * #FIELD_OFFSET, the kernel offset tables of later layers) goes through this interface, so a
 * command never knows which kind of symbol file it reads.
 *
 * Types are named by an opaque 64-bit id valid for the life of the source. Names are the C
 * names ("_EPROCESS", "_LIST_ENTRY"); base types are named as `dt` prints them ("Uint4B",
 * "Int8B", "UChar", "Wchar", "Void", "Ptr64"...). A field that a build lacks is reported as
 * missing (lookups return false), never guessed. */
#ifndef NTKD_TYPE_H
#define NTKD_TYPE_H

#include "base/base.h"

typedef enum nk_tkind {
    NK_TK_UNKNOWN = 0,
    NK_TK_VOID,
    NK_TK_BASE,     /* integer, char, bool, float: size and signedness */
    NK_TK_POINTER,  /* target = pointee */
    NK_TK_ARRAY,    /* target = element type, count = elements */
    NK_TK_STRUCT,   /* struct or class */
    NK_TK_UNION,
    NK_TK_ENUM,     /* target = underlying base type */
    NK_TK_BITFIELD, /* target = underlying type; bit_pos, bit_len */
    NK_TK_FUNCTION, /* procedure or member function type */
} nk_tkind;

typedef struct nk_tinfo {
    nk_tkind kind;
    const char *name;  /* struct/union/enum/base name; NULL for derived types. Anonymous
                          records carry their symbol file's placeholder ("<anonymous-tag>",
                          "<unnamed-tag>", "<unnamed-enum-...>"), as `dt` prints it */
    uint64_t size;     /* bytes (pointers: the pointer size) */
    uint64_t target;   /* pointee / element / underlying type id; 0 for none (void) */
    uint64_t count;    /* arrays: element count */
    bool is_signed;    /* base types */
    bool is_float;     /* base types */
    bool is_char;      /* base types that WinDbg shows as characters (UChar, Char, Wchar) */
    bool forward;      /* a forward declaration whose definition was not found */
    uint8_t bit_pos, bit_len; /* bitfields */
    const char *c_name; /* base types: the C spelling ("unsigned long", "int64", "void"), which
                           `dt` uses for function return types; NULL otherwise */
} nk_tinfo;

typedef struct nk_tfield {
    const char *name;
    uint64_t offset;   /* bytes from the start of the struct */
    uint64_t type;     /* the member's type id (for bitfields: a NK_TK_BITFIELD type) */
    bool is_bitfield;
    uint8_t bit_pos, bit_len;
    bool is_static;    /* static members have no offset */
    bool is_base;      /* a base class subobject */
} nk_tfield;

typedef struct nk_typesrc nk_typesrc;

typedef struct nk_typesrc_ops {
    /* Finds a named struct/union/enum/typedef/base type (exact name; forward references
     * resolved to the definition). */
    bool (*find)(nk_typesrc *s, const char *name, uint64_t *id);
    bool (*info)(nk_typesrc *s, uint64_t id, nk_tinfo *out);
    /* The i-th field (i from 0) of a struct/union in declaration order; false past the end. */
    bool (*field)(nk_typesrc *s, uint64_t id, size_t i, nk_tfield *out);
    /* The i-th enumerator of an enum; false past the end. */
    bool (*enumerator)(nk_typesrc *s, uint64_t id, size_t i, const char **name, int64_t *value);
    /* Calls fn for every named struct/union/enum whose name matches the wildcard pattern
     * ('*' and '?'), until fn returns false. For `dt nt!_KP*`. */
    void (*each_name)(nk_typesrc *s, const char *pattern, bool (*fn)(void *u, const char *name, uint64_t id), void *u);
    void (*close)(nk_typesrc *s);
} nk_typesrc_ops;

struct nk_typesrc {
    const nk_typesrc_ops *ops;
    const char *origin;   /* "PDB amdppm.pdb", "ISF 5278AFF8...-1.json.xz" */
    uint8_t ptr_size;     /* 4 or 8 */
};

/* Convenience wrappers shared by every user of the layer (type.c). */
bool nk_type_find(nk_typesrc *s, const char *name, uint64_t *id);
bool nk_type_info(nk_typesrc *s, uint64_t id, nk_tinfo *out);
/* Finds a field by name; "a.b.c" walks nested structs (offsets add up). */
bool nk_type_field(nk_typesrc *s, uint64_t struct_id, const char *path, nk_tfield *out);
/* A type's name as `dt` prints it in the type column: "Ptr64 _LIST_ENTRY", "[16] UChar",
 * "_UNICODE_STRING", "Uint4B", "Pos 0, 1 Bit". */
char *nk_type_describe(nk_typesrc *s, uint64_t id, char *buf, size_t len);
void nk_typesrc_close(nk_typesrc *s);
/* WinDbg-style wildcard match ('*' any run, '?' one character), case-insensitive. */
bool nk_type_wildcard(const char *pattern, const char *name);

/* Constructors. */
struct nk_pdb;
/* The PDB is borrowed: it must outlive the source; nk_typesrc_close frees only the adapter. */
nk_status nk_typesrc_from_pdb(ntkd_ctx *ctx, struct nk_pdb *pdb, nk_typesrc **out);
/* An ISF (.json or .json.xz) table: types and symbols. isf.c. */
typedef struct nk_isf nk_isf;
nk_status nk_isf_open(ntkd_ctx *ctx, const char *path, nk_isf **out);
/* The same from bytes in memory (JSON, or an xz stream holding JSON); `name` is used in
 * messages and the origin. The bytes are not kept after the call. For fuzzing. */
nk_status nk_isf_open_mem(ntkd_ctx *ctx, const char *name, const void *data, size_t size,
                          nk_isf **out);
void nk_isf_close(nk_isf *isf);
nk_typesrc *nk_isf_types(nk_isf *isf);                 /* owned by the isf handle (its
                                                          nk_typesrc_close does nothing) */
bool nk_isf_symbol(nk_isf *isf, const char *name, uint64_t *rva);
/* Nearest symbol at or below rva (for ln). */
bool nk_isf_symbol_by_rva(nk_isf *isf, uint64_t rva, const char **name, uint64_t *sym_rva);
/* Identity from the table's metadata: PDB GUID and age ("5278AFF8...", 1), machine. */
bool nk_isf_identity(nk_isf *isf, char guid_hex[33], uint32_t *age);

#endif
