/* pdb_int.h: internals shared by the PDB reader's files (msf.c, tpi.c, dbi.c, sym.c).
 * Not part of the contract: include pdb.h. */
#ifndef NTKD_PDB_INT_H
#define NTKD_PDB_INT_H

#include "pdb/pdb.h"

/* State of a part parsed on first use. */
typedef struct pdb_part {
    int state;      /* 0 not yet, 1 ready, -1 failed */
    nk_status err;
    char *msg;      /* the failure's message, replayed on later calls */
} pdb_part;

/* One MSF stream. */
typedef struct pdb_stream {
    uint32_t size;          /* 0 for nil streams */
    uint32_t nblocks;
    const uint8_t *blocks;  /* nblocks little-endian u32 block indexes (inside p->dir) */
    bool contiguous;        /* blocks consecutive in the file */
    const uint8_t *data;    /* whole stream once materialised (file or copy) */
    uint8_t *copy;          /* owned copy, when not contiguous */
    bool loaded;
} pdb_stream;

/* A type stream (TPI or IPI). */
typedef struct pdb_tpi {
    pdb_part part;
    uint32_t stream;        /* 2 or 4 */
    const char *label;      /* "TPI" / "IPI" */
    bool present;
    uint32_t version, header_size, ti_begin, ti_end, rec_bytes;
    uint16_t hash_stream, hash_aux;
    uint32_t hash_key_size, num_buckets;
    int32_t hv_off, io_off, adj_off;
    uint32_t hv_len, io_len, adj_len;
    uint32_t count;         /* ti_end - ti_begin */
    /* offsets of records, filled chunk by chunk through the index-offset buffer */
    uint32_t *toff;         /* count entries, UINT32_MAX = not known yet */
    uint8_t *chunk_done;    /* one byte per index-offset chunk */
    const uint8_t *io;      /* index offset buffer pairs (ti, offset) */
    uint32_t io_count;
    bool full_scanned;
    /* hash adjusters (incremental links): /names offset -> preferred type index */
    uint32_t (*adj)[2];
    uint32_t nadj;
    /* name hash index: sorted (bucket << 32 | ti) */
    pdb_part hpart;
    uint64_t *hkeys;
    uint32_t nhkeys;
    uint32_t hmod;          /* buckets used by hkeys */
} pdb_tpi;

/* A GSI hash (publics or globals): record offsets (into the symbol record stream)
 * by bucket. */
typedef struct pdb_gsi {
    pdb_part part;
    const uint8_t *hr;      /* hash records: {u32 off+1, u32 cref} */
    uint32_t nhr;
    uint32_t *bucket_start; /* 4097 entries + 1: first hash record of each bucket */
} pdb_gsi;

typedef struct pdb_pubaddr {
    uint32_t rva;
    uint32_t sym_off;
} pdb_pubaddr;

typedef struct pdb_func {
    uint32_t rva, size;
    uint32_t name_off;      /* in func_names */
    uint16_t kind, module;
    uint32_t type_ti, sym_off;
    uint32_t frame_size, saved_regs_size, frame_flags;
    bool has_frame;
} pdb_func;

/* A copy of a stream range that spans non-consecutive blocks, made once. */
typedef struct pdb_view_ent {
    uint64_t key;           /* stream << 32 | offset; 0 = free slot (stream 0 is never viewed) */
    uint32_t len;
    const uint8_t *ptr;
} pdb_view_ent;

typedef struct pdb_named {
    const char *name;       /* inside the info stream's string buffer (NUL checked) */
    uint32_t stream;
} pdb_named;

typedef struct pdb_arena {
    char **blocks;
    size_t nblocks, cap;
    char *cur;
    size_t left;
    /* interned copies keyed by their source address, so a name is copied once */
    const uint8_t **ikeys;
    const char **ivals;
    size_t icap, icount;
} pdb_arena;

struct nk_pdb {
    ntkd_ctx *ctx;
    nk_file file;
    char *name;
    nk_pdb_info info;

    uint32_t block_size, num_blocks;
    uint8_t *dir;           /* copy of the stream directory */
    uint32_t dir_size;
    uint32_t nstreams;
    pdb_stream *streams;

    /* info stream */
    pdb_named *named;
    size_t nnamed;
    pdb_part names_part;    /* /names */
    const uint8_t *names_buf;
    uint32_t names_len;

    /* types */
    pdb_tpi tpi, ipi;

    /* DBI */
    uint32_t dbi_hdr_size;
    uint32_t sub_off[8], sub_len[8]; /* modi, sc, secmap, fileinfo, tsmap, ec, dbghdr */
    uint16_t dbg[NK_DBG_COUNT];
    pdb_part mod_part;
    nk_pdb_module *mods;
    size_t nmods;
    pdb_part file_part;
    uint32_t *mod_file_first; /* nmods + 1 entries: index into file_offs */
    const uint8_t *file_offs;
    uint32_t nfile_offs;
    const uint8_t *file_names;
    uint32_t file_names_len;
    pdb_part sc_part;
    nk_pdb_contrib *sc;
    size_t nsc;
    uint32_t *sc_sorted;    /* indexes of sc with an RVA, sorted by RVA */
    size_t nsc_sorted;
    pdb_part secmap_part;
    const uint8_t *secmap;
    size_t nsecmap;
    pdb_part sect_part;
    nk_pdb_section *sect, *sect_orig;
    size_t nsect, nsect_orig;
    const uint8_t *omap_to, *omap_from;
    size_t nomap_to, nomap_from;
    pdb_part fpo_part;
    nk_pdb_fpo *fpo;
    size_t nfpo;
    pdb_part fd_part;
    nk_pdb_framedata *fd;
    size_t nfd;

    /* symbols */
    pdb_part symrec_part;
    uint32_t symrec_size;
    pdb_gsi pub, glob;
    pdb_part pubaddr_part;
    pdb_pubaddr *pubaddr;
    size_t npubaddr;
    pdb_part func_part;
    pdb_func *funcs;
    size_t nfuncs;
    char *func_names;
    size_t func_names_len;

    pdb_arena arena;
    pdb_view_ent *views;
    size_t vcap, vcount;
};

/* errors */
nk_status pdb_part_fail(nk_pdb *p, pdb_part *part, nk_status st, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));
/* Marks a part failed with the message already in the context (from a lower layer). */
nk_status pdb_part_take(nk_pdb *p, pdb_part *part, nk_status st);
/* Replays a failed part's message; returns its status. */
nk_status pdb_part_replay(nk_pdb *p, const pdb_part *part);
void pdb_part_free(pdb_part *part);
/* File offset of byte `off` of a stream (for messages); 0 when unknown. */
uint64_t pdb_file_off(const nk_pdb *p, uint32_t stream, uint32_t off);
const char *pdb_stream_label(const nk_pdb *p, uint32_t stream);

/* Bytes [off, off+len) of a stream as one contiguous range: a pointer into the file when
 * the range's blocks are consecutive (nearly always for small ranges), else a copy made once
 * and kept by the handle. NULL when the range is outside the stream. Stable for the life of
 * the handle. */
const uint8_t *pdb_view(nk_pdb *p, uint32_t stream, uint32_t off, uint32_t len);
/* Copies a small range (record headers) out of a stream; false when out of bounds. */
bool pdb_read_small(nk_pdb *p, uint32_t stream, uint32_t off, void *buf, uint32_t len);
/* Drops the pages of a stream range from the process (they stay in the page cache and come
 * back on the next access): for ranges read once to build an index. Mapped files only. */
void pdb_release(nk_pdb *p, uint32_t stream, uint32_t off, uint32_t len);

/* strings: a NUL-terminated copy of [s, s+len) owned by the handle, made once per source
 * address (later calls with the same s return the same copy) */
const char *pdb_arena_str(nk_pdb *p, const uint8_t *s, size_t len);
/* NUL-terminated name at [pos, end): pointer or NULL when no NUL before end. */
static inline const char *pdb_cstr(const uint8_t *base, uint32_t pos, uint32_t end, uint32_t *after)
{
    if (pos > end) return NULL;
    const uint8_t *z = memchr(base + pos, 0, end - pos);
    if (!z) return NULL;
    if (after) *after = (uint32_t)(z - base) + 1;
    return (const char *)(base + pos);
}

/* numeric leaves: reads at *pos (bounded by end); false when malformed */
bool pdb_numeric(const uint8_t *b, uint32_t end, uint32_t *pos, uint64_t *val, bool *neg);

/* hash of names (the PDB's hashStringV1) */
uint32_t pdb_hash_v1(const char *s, size_t len);

/* loaders (each returns NTKD_OK when ready) */
nk_status pdb_symrec_load(nk_pdb *p);
nk_status pdb_sections_load(nk_pdb *p);
nk_status pdb_modules_load(nk_pdb *p);
nk_status pdb_dbi_open(nk_pdb *p);
void pdb_dbi_free(nk_pdb *p);
void pdb_tpi_free(pdb_tpi *t);
void pdb_sym_free(nk_pdb *p);
nk_status pdb_tpi_ready(nk_pdb *p, pdb_tpi *t);
nk_status pdb_tpi_hash_ready(nk_pdb *p, pdb_tpi *t);
nk_status pdb_publics_load(nk_pdb *p);
nk_status pdb_pubaddr_load(nk_pdb *p);
nk_status pdb_globals_load(nk_pdb *p);
nk_status pdb_funcs_load(nk_pdb *p);
nk_status pdb_fileinfo_load(nk_pdb *p);
nk_status pdb_contribs_load(nk_pdb *p);
nk_status pdb_secmap_load(nk_pdb *p);
nk_status pdb_fpo_load(nk_pdb *p);
nk_status pdb_framedata_load(nk_pdb *p);

#endif
