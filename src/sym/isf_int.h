/* isf_int.h: the compact in-memory form of an ISF table (isf.c), shared with its binary
 * cache (isf_cache.c). Not part of the type layer's contract. */
#ifndef NTKD_ISF_INT_H
#define NTKD_ISF_INT_H

#include "type/type.h"

#define ISF_MAX_ITEMS (1u << 24)  /* types, fields, enumerators, symbols */

enum { F_SIGNED = 1, F_FLOAT = 2, F_CHAR = 4, F_FWD = 8 };

typedef struct isf_type {
    const char *name;   /* NULL for anonymous and derived types */
    const char *c_name; /* base types */
    const char *isf_name; /* the table's own name (base types: "unsigned long") */
    uint64_t size, count;
    uint32_t target;    /* id (0 none) */
    uint32_t first, n;  /* fields (struct/union) or enumerators (enum) */
    uint8_t kind, flags, bit_pos, bit_len;
} isf_type;

typedef struct isf_field {
    const char *name;
    uint64_t offset;
    uint32_t type;
    uint32_t order;
} isf_field;

typedef struct isf_enumr {
    const char *name;
    int64_t value;
} isf_enumr;

typedef struct isf_sym {
    const char *name;
    uint64_t rva;
} isf_sym;

/* Open-addressing table of type ids (0 = empty slot). */
typedef struct id_tab {
    uint32_t *slots;
    size_t cap, n;
} id_tab;

typedef struct arena_blk {
    struct arena_blk *next;
    size_t used, cap;
    char data[];
} arena_blk;

struct nk_isf {
    nk_typesrc src; /* first member: nk_isf_types() hands it out */
    ntkd_ctx *ctx;
    char *name;
    char *origin;
    isf_type *types;
    size_t ntypes, cap_types;
    isf_field *fields;
    size_t nfields, cap_fields;
    isf_enumr *enumrs;
    size_t nenumrs, cap_enumrs;
    isf_sym *syms;      /* sorted case-insensitively, then exactly, by name */
    size_t nsyms;
    uint32_t *by_rva;   /* indexes into syms sorted by (rva, index) */
    id_tab tags;        /* user types and enums by name */
    id_tab bases;       /* base types by their ISF name */
    id_tab derived;     /* pointers, arrays, bitfields by shape */
    uint32_t func_id, unknown_id;
    arena_blk *arena;
    bool has_ident;
    char guid[33];
    uint32_t age;
    uint32_t machine;
    bool failed;        /* an error was recorded in ctx during conversion */
};

/* The i-th symbol in address order (the by_rva index); false past the end. */
static inline bool nk_isf_symbol_at(const nk_isf *x, size_t i, const char **name, uint64_t *rva)
{
    if (!x || i >= x->nsyms) return false;
    *name = x->syms[x->by_rva[i]].name;
    *rva = x->syms[x->by_rva[i]].rva;
    return true;
}

/* A table handle with its name, origin and type-source ops set and nothing loaded (isf.c). */
nk_isf *nk_isf_alloc(ntkd_ctx *ctx, const char *name);

/* Opens `path` through the table cache in `cache_dir` (NULL or "": plain nk_isf_open). The
 * cache is keyed by the source's content (CRC-64 and size); a valid cache file is loaded
 * instead of parsing; a missing or unusable one is (re)written after a successful parse.
 * Every cache failure is silent. *hit (may be NULL) tells whether the cache was used. */
nk_status nk_isf_open_cached(ntkd_ctx *ctx, const char *path, const char *cache_dir, nk_isf **out);
nk_status nk_isf_open_cached_ex(ntkd_ctx *ctx, const char *path, const char *cache_dir, nk_isf **out,
                                bool *hit);

/* The cache file's key for a source: CRC-64 of a format tag and the bytes. */
uint64_t nk_isf_cache_key(const void *src, size_t size);
/* Loads a cache image (hostile input: every count, offset and id is checked). key_crc and
 * key_size must match the header unless check_key is false (the fuzzer). Touches no error
 * state in ctx: NTKD_E_FORMAT for any mismatch or corruption. `name` names the table. */
nk_status nk_isf_cache_load_mem(ntkd_ctx *ctx, const char *name, const void *data, size_t size,
                                bool check_key, uint64_t key_crc, uint64_t key_size, nk_isf **out);
/* The cache image of a parsed table in a malloc'd buffer (*buf, *len); false when out of
 * memory or the table does not fit the format. */
bool nk_isf_cache_serialize(const nk_isf *x, uint64_t key_crc, uint64_t key_size, uint8_t **buf, size_t *len);

#endif
