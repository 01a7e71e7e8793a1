/* tpi.c: the TPI and IPI type streams: header (V70 and V80), random access to a type index
 * through the hash stream's index-offset buffer (no full scan), lookup by name through the
 * hash buckets, forward-reference resolution, decoding of every leaf MSVC emits (also the
 * 16-bit-index and length-prefixed "ST" leaves of old PDBs), field walks, sizes and WinDbg
 * type names. */
#include "pdb/pdb_int.h"

#include <stdio.h>
#include <stdlib.h>

/* Leaf numbers (CodeView). */
enum {
    LF_MODIFIER_16t = 0x0001, LF_POINTER_16t = 0x0002, LF_ARRAY_16t = 0x0003,
    LF_CLASS_16t = 0x0004, LF_STRUCTURE_16t = 0x0005, LF_UNION_16t = 0x0006,
    LF_ENUM_16t = 0x0007, LF_PROCEDURE_16t = 0x0008, LF_MFUNCTION_16t = 0x0009,
    LF_VTSHAPE = 0x000a, LF_LABEL = 0x000e,
    LF_ARGLIST_16t = 0x0201, LF_FIELDLIST_16t = 0x0204, LF_BITFIELD_16t = 0x0206,
    LF_METHODLIST_16t = 0x0207,
    LF_BCLASS_16t = 0x0400, LF_VBCLASS_16t = 0x0401, LF_IVBCLASS_16t = 0x0402,
    LF_ENUMERATE_ST = 0x0403, LF_FRIENDFCN_16t = 0x0404, LF_INDEX_16t = 0x0405,
    LF_MEMBER_16t = 0x0406, LF_STMEMBER_16t = 0x0407, LF_METHOD_16t = 0x0408,
    LF_NESTTYPE_16t = 0x0409, LF_VFUNCTAB_16t = 0x040a, LF_FRIENDCLS_16t = 0x040b,
    LF_ONEMETHOD_16t = 0x040c, LF_VFUNCOFF_16t = 0x040d,
    LF_MODIFIER = 0x1001, LF_POINTER = 0x1002, LF_ARRAY_ST = 0x1003, LF_CLASS_ST = 0x1004,
    LF_STRUCTURE_ST = 0x1005, LF_UNION_ST = 0x1006, LF_ENUM_ST = 0x1007,
    LF_PROCEDURE = 0x1008, LF_MFUNCTION = 0x1009,
    LF_ARGLIST = 0x1201, LF_FIELDLIST = 0x1203, LF_BITFIELD = 0x1205, LF_METHODLIST = 0x1206,
    LF_BCLASS = 0x1400, LF_VBCLASS = 0x1401, LF_IVBCLASS = 0x1402, LF_FRIENDFCN_ST = 0x1403,
    LF_INDEX = 0x1404, LF_MEMBER_ST = 0x1405, LF_STMEMBER_ST = 0x1406, LF_METHOD_ST = 0x1407,
    LF_NESTTYPE_ST = 0x1408, LF_VFUNCTAB = 0x1409, LF_FRIENDCLS = 0x140a,
    LF_ONEMETHOD_ST = 0x140b, LF_VFUNCOFF = 0x140c, LF_NESTTYPEEX_ST = 0x140d,
    LF_MEMBERMODIFY_ST = 0x140e,
    LF_ENUMERATE = 0x1502, LF_ARRAY = 0x1503, LF_CLASS = 0x1504, LF_STRUCTURE = 0x1505,
    LF_UNION = 0x1506, LF_ENUM = 0x1507, LF_FRIENDFCN = 0x150c, LF_MEMBER = 0x150d,
    LF_STMEMBER = 0x150e, LF_METHOD = 0x150f, LF_NESTTYPE = 0x1510, LF_ONEMETHOD = 0x1511,
    LF_NESTTYPEEX = 0x1512, LF_MEMBERMODIFY = 0x1513, LF_STRIDED_ARRAY = 0x1516,
    LF_INTERFACE = 0x1519,
};

#define TPI_V70 19990903u
#define TPI_V80 20040203u
#define MAX_DEPTH 64
#define MAX_HOPS 100000u
#define MAX_FIELDS 1000000u

/* TPI stream header as stored. */
typedef struct tpi_header {
    uint32_t version, header_size, ti_begin, ti_end, rec_bytes;
    uint16_t hash_stream, hash_aux;
    uint32_t hash_key_size, num_buckets;
    int32_t hv_off;
    uint32_t hv_len;
    int32_t io_off;
    uint32_t io_len;
    int32_t adj_off;
    uint32_t adj_len;
} tpi_header;
_Static_assert(sizeof(tpi_header) == 56, "TPI header is 56 bytes");
_Static_assert(offsetof(tpi_header, hash_key_size) == 24, "hash key size at 24");

/* ---- stream setup -------------------------------------------------------------------- */

void pdb_tpi_free(pdb_tpi *t)
{
    pdb_part_free(&t->part);
    pdb_part_free(&t->hpart);
    free(t->toff);
    free(t->chunk_done);
    free(t->hkeys);
    free(t->adj);
    t->adj = NULL;
    t->toff = NULL;
    t->chunk_done = NULL;
    t->hkeys = NULL;
}

#define TFAIL(t, st, off, ...)                                                                 \
    pdb_tpi_failf(p, t, st, off, __VA_ARGS__)

static nk_status pdb_tpi_failf(nk_pdb *p, pdb_tpi *t, nk_status st, uint32_t off,
                               const char *fmt, ...) __attribute__((format(printf, 5, 6)));
static nk_status pdb_tpi_failf(nk_pdb *p, pdb_tpi *t, nk_status st, uint32_t off,
                               const char *fmt, ...)
{
    char msg[300];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    return pdb_part_fail(p, &t->part, st, "%s stream %u at 0x%x (file offset 0x%llx): %s",
                         t->label, t->stream, off,
                         (unsigned long long)pdb_file_off(p, t->stream, off), msg);
}

nk_status pdb_tpi_ready(nk_pdb *p, pdb_tpi *t)
{
    if (t->part.state > 0) return NTKD_OK;
    if (t->part.state < 0) return pdb_part_replay(p, &t->part);
    bool want = t->stream < p->nstreams && p->streams[t->stream].size > 0;
    if (t == &p->ipi && !p->info.has_ipi) want = false;
    if (!want) {
        t->present = false;
        t->part.state = 1;
        return NTKD_OK;
    }
    uint8_t d[sizeof(tpi_header)];
    uint32_t n = nk_pdb_stream_size(p, t->stream);
    if (n < sizeof(tpi_header) || !pdb_read_small(p, t->stream, 0, d, sizeof d))
        return TFAIL(t, NTKD_E_TRUNCATED, 0, "56-byte header truncated (%u bytes)", n);
    t->version = nk_le32(d);
    t->header_size = nk_le32(d + 4);
    t->ti_begin = nk_le32(d + 8);
    t->ti_end = nk_le32(d + 12);
    t->rec_bytes = nk_le32(d + 16);
    t->hash_stream = nk_le16(d + 20);
    t->hash_aux = nk_le16(d + 22);
    t->hash_key_size = nk_le32(d + 24);
    t->num_buckets = nk_le32(d + 28);
    t->hv_off = (int32_t)nk_le32(d + 32);
    t->hv_len = nk_le32(d + 36);
    t->io_off = (int32_t)nk_le32(d + 40);
    t->io_len = nk_le32(d + 44);
    t->adj_off = (int32_t)nk_le32(d + 48);
    t->adj_len = nk_le32(d + 52);
    if (t->version != TPI_V70 && t->version != TPI_V80 && t->version != 19950410u &&
        t->version != 19951122u && t->version != 19961031u)
        return TFAIL(t, NTKD_E_UNSUPPORTED, 0, "unknown type stream version %u", t->version);
    if (t->header_size < sizeof(tpi_header) || t->header_size > n)
        return TFAIL(t, NTKD_E_FORMAT, 4, "header size %u impossible", t->header_size);
    if (!nk_in_bounds(n, t->header_size, t->rec_bytes))
        return TFAIL(t, NTKD_E_TRUNCATED, 16, "%u bytes of records declared, %u present",
                     t->rec_bytes, n - t->header_size);
    if (t->ti_begin < 0x1000 && t->ti_begin != t->ti_end)
        return TFAIL(t, NTKD_E_FORMAT, 8, "first type index 0x%x below 0x1000", t->ti_begin);
    if (t->ti_end < t->ti_begin || (uint64_t)(t->ti_end - t->ti_begin) * 4 > t->rec_bytes)
        return TFAIL(t, NTKD_E_FORMAT, 12, "type indexes 0x%x..0x%x do not fit in %u bytes",
                     t->ti_begin, t->ti_end, t->rec_bytes);
    t->count = t->ti_end - t->ti_begin;
    t->present = true;
    /* index offsets from the hash stream, when usable (else: one scan on first access) */
    if (t->hash_stream != 0xffff && t->hash_stream < p->nstreams && t->io_len >= 8 &&
        t->io_off >= 0) {
        t->io = pdb_view(p, t->hash_stream, (uint32_t)t->io_off, t->io_len & ~7u);
        if (t->io) t->io_count = t->io_len / 8;
    }
    t->part.state = 1;
    return NTKD_OK;
}

static nk_status tpi_info_fill(nk_pdb *p, pdb_tpi *t, nk_pdb_tpi_info *out)
{
    memset(out, 0, sizeof *out);
    nk_status st = pdb_tpi_ready(p, t);
    if (st != NTKD_OK) return st;
    out->present = t->present;
    out->version = t->version;
    out->ti_begin = t->ti_begin;
    out->ti_end = t->ti_end;
    out->record_bytes = t->rec_bytes;
    out->hash_stream = t->hash_stream;
    out->hash_aux_stream = t->hash_aux;
    out->hash_key_size = t->hash_key_size;
    out->num_buckets = t->num_buckets;
    return NTKD_OK;
}

nk_status nk_pdb_tpi_info_get(nk_pdb *p, nk_pdb_tpi_info *out) { return tpi_info_fill(p, &p->tpi, out); }
nk_status nk_pdb_ipi_info_get(nk_pdb *p, nk_pdb_tpi_info *out) { return tpi_info_fill(p, &p->ipi, out); }

/* ---- record offsets ------------------------------------------------------------------ */

/* Walks records from (index i, offset off) up to index `stop` (exclusive), filling toff.
 * Returns the offset after the last record, or UINT32_MAX on a bad record. */
static uint32_t tpi_walk(nk_pdb *p, pdb_tpi *t, uint32_t i, uint32_t off, uint32_t stop)
{
    for (; i < stop; i++) {
        uint8_t h[2];
        if (!nk_in_bounds(t->rec_bytes, off, 4) || !pdb_read_small(p, t->stream, t->header_size + off, h, 2)) {
            TFAIL(t, NTKD_E_TRUNCATED, t->header_size + off,
                  "record of type 0x%x starts past the end of the %u record bytes",
                  t->ti_begin + i, t->rec_bytes);
            return UINT32_MAX;
        }
        uint32_t len = nk_le16(h);
        if (len < 2 || !nk_in_bounds(t->rec_bytes, off + 2, len)) {
            TFAIL(t, NTKD_E_FORMAT, t->header_size + off,
                  "record of type 0x%x has length %u running past the records", t->ti_begin + i, len);
            return UINT32_MAX;
        }
        t->toff[i] = off;
        off += 2 + len;
    }
    return off;
}

static nk_status tpi_full_scan(nk_pdb *p, pdb_tpi *t)
{
    if (t->full_scanned) return NTKD_OK;
    if (tpi_walk(p, t, 0, 0, t->count) == UINT32_MAX) return t->part.err;
    t->full_scanned = true;
    return NTKD_OK;
}

/* Offset (in the record bytes) of type index number `i` (0-based). */
static nk_status tpi_offset(nk_pdb *p, pdb_tpi *t, uint32_t i, uint32_t *off)
{
    if (!t->toff) {
        t->toff = malloc((size_t)t->count * sizeof *t->toff);
        if (!t->toff) return nk_fail(p->ctx, NTKD_E_NOMEM, "%s: out of memory", p->name);
        memset(t->toff, 0xff, (size_t)t->count * sizeof *t->toff);
        if (t->io_count) {
            t->chunk_done = calloc(t->io_count, 1);
            if (!t->chunk_done) return nk_fail(p->ctx, NTKD_E_NOMEM, "%s: out of memory", p->name);
        }
    }
    if (t->toff[i] != UINT32_MAX) {
        *off = t->toff[i];
        return NTKD_OK;
    }
    if (t->full_scanned) goto bad;
    if (t->io_count) {
        uint32_t ti = t->ti_begin + i;
        /* last chunk starting at or before ti */
        uint32_t lo = 0, hi = t->io_count;
        while (hi - lo > 1) {
            uint32_t mid = lo + (hi - lo) / 2;
            if (nk_le32(t->io + 8 * mid) <= ti) lo = mid;
            else hi = mid;
        }
        uint32_t cti = nk_le32(t->io + 8 * lo), coff = nk_le32(t->io + 8 * lo + 4);
        uint32_t nti = lo + 1 < t->io_count ? nk_le32(t->io + 8 * (lo + 1)) : t->ti_end;
        bool sane = !t->chunk_done[lo] && cti >= t->ti_begin && cti <= ti && nti > ti &&
                    nti <= t->ti_end && coff < t->rec_bytes;
        if (sane) {
            uint32_t end = tpi_walk(p, t, cti - t->ti_begin, coff, nti - t->ti_begin);
            if (end == UINT32_MAX) return t->part.err;
            uint32_t nxt = lo + 1 < t->io_count ? nk_le32(t->io + 8 * (lo + 1) + 4) : t->rec_bytes;
            t->chunk_done[lo] = 1;
            if (end == nxt && t->toff[i] != UINT32_MAX) {
                *off = t->toff[i];
                return NTKD_OK;
            }
        }
        /* inconsistent index buffer: forget it, scan once */
        t->io_count = 0;
        memset(t->toff, 0xff, (size_t)t->count * sizeof *t->toff);
    }
    {
        nk_status st = tpi_full_scan(p, t);
        if (st != NTKD_OK) return st;
    }
    if (t->toff[i] != UINT32_MAX) {
        *off = t->toff[i];
        return NTKD_OK;
    }
bad:
    return TFAIL(t, NTKD_E_FORMAT, t->header_size, "no record for type 0x%x", t->ti_begin + i);
}

/* The record of ti: *b points after the leaf, *n bytes. */
static nk_status tpi_rec(nk_pdb *p, pdb_tpi *t, uint32_t ti, uint16_t *leaf, const uint8_t **b,
                         uint32_t *n)
{
    nk_status st = pdb_tpi_ready(p, t);
    if (st != NTKD_OK) return st;
    if (!t->present || ti < t->ti_begin || ti >= t->ti_end)
        return nk_fail(p->ctx, NTKD_E_NOTFOUND, "%s: type index 0x%x is not in the %s (0x%x..0x%x)",
                       p->name, ti, t->label, t->ti_begin, t->ti_end);
    uint32_t off = 0;
    st = tpi_offset(p, t, ti - t->ti_begin, &off);
    if (st != NTKD_OK) return st;
    uint8_t h[2];
    if (!pdb_read_small(p, t->stream, t->header_size + off, h, 2))
        return TFAIL(t, NTKD_E_TRUNCATED, t->header_size + off, "record of type 0x%x unreadable", ti);
    uint32_t len = nk_le16(h);
    const uint8_t *r = pdb_view(p, t->stream, t->header_size + off, 2 + len);
    if (!r) return nk_fail(p->ctx, NTKD_E_NOMEM, "%s: out of memory", p->name);
    *leaf = nk_le16(r + 2);
    *b = r + 4;
    *n = len - 2;
    return NTKD_OK;
}

nk_status nk_pdb_type_record(nk_pdb *p, uint32_t ti, uint16_t *leaf, const uint8_t **data,
                             uint32_t *len)
{
    return tpi_rec(p, &p->tpi, ti, leaf, data, len);
}

nk_status nk_pdb_id_record(nk_pdb *p, uint32_t id, uint16_t *leaf, const uint8_t **data,
                           uint32_t *len)
{
    return tpi_rec(p, &p->ipi, id & 0x7fffffffu, leaf, data, len);
}

/* ---- simple types ------------------------------------------------------------------- */

typedef struct simple_desc {
    uint8_t kind;
    uint8_t size;
    const char *dt;   /* WinDbg dt name */
    const char *c;    /* C spelling (function return types) */
} simple_desc;

static const simple_desc SIMPLE[] = {
    {0x00, 0, "<NoType>", "<NoType>"}, {0x03, 0, "Void", "void"}, {0x08, 4, "Int4B", "HRESULT"},
    {0x10, 1, "Char", "char"}, {0x20, 1, "UChar", "unsigned char"}, {0x70, 1, "Char", "char"},
    {0x71, 2, "Wchar", "wchar_t"}, {0x7a, 2, "Char16", "char16_t"}, {0x7b, 4, "Char32", "char32_t"},
    {0x7c, 1, "Char8", "char8_t"}, {0x68, 1, "Char", "char"}, {0x69, 1, "UChar", "unsigned char"},
    {0x11, 2, "Int2B", "short"}, {0x21, 2, "Uint2B", "unsigned short"},
    {0x72, 2, "Int2B", "short"}, {0x73, 2, "Uint2B", "unsigned short"},
    {0x12, 4, "Int4B", "long"}, {0x22, 4, "Uint4B", "unsigned long"},
    {0x74, 4, "Int4B", "int"}, {0x75, 4, "Uint4B", "unsigned int"},
    {0x13, 8, "Int8B", "int64"}, {0x23, 8, "Uint8B", "unsigned int64"},
    {0x76, 8, "Int8B", "int64"}, {0x77, 8, "Uint8B", "unsigned int64"},
    {0x14, 16, "Int16B", "int128"}, {0x24, 16, "Uint16B", "unsigned int128"},
    {0x78, 16, "Int16B", "int128"}, {0x79, 16, "Uint16B", "unsigned int128"},
    {0x46, 2, "Float16", "half"}, {0x40, 4, "Float", "float"}, {0x45, 4, "Float", "float"},
    {0x44, 6, "Float48", "float48"}, {0x41, 8, "Float", "double"}, {0x42, 10, "Float80", "long double"},
    {0x43, 16, "Float128", "float128"},
    {0x50, 8, "Complex32", "complex32"}, {0x51, 16, "Complex64", "complex64"},
    {0x52, 20, "Complex80", "complex80"}, {0x53, 32, "Complex128", "complex128"},
    {0x30, 1, "Bool", "bool"}, {0x31, 2, "Bool2B", "bool16"}, {0x32, 4, "Bool4B", "bool32"},
    {0x33, 8, "Bool8B", "bool64"}, {0x34, 16, "Bool16B", "bool128"},
};

static const simple_desc *simple_find(uint32_t kind)
{
    for (size_t i = 0; i < sizeof SIMPLE / sizeof SIMPLE[0]; i++)
        if (SIMPLE[i].kind == kind) return &SIMPLE[i];
    return NULL;
}

static uint32_t simple_ptr_size(uint32_t mode)
{
    static const uint8_t sz[8] = {0, 2, 4, 4, 4, 6, 8, 16};
    return sz[mode & 7];
}

const char *nk_pdb_simple_name(uint32_t ti)
{
    if (ti >= 0x1000) return NULL;
    uint32_t mode = (ti >> 8) & 7;
    const simple_desc *d = simple_find(ti & 0xff);
    if (!d) return NULL;
    if (mode == 0) return d->dt;
    /* pointers to simple types: only the common ones have static names */
    if (mode == 4 && (ti & 0xff) == 0x03) return "Ptr32 Void";
    if (mode == 6 && (ti & 0xff) == 0x03) return "Ptr64 Void";
    return NULL;
}

uint32_t nk_pdb_simple_size(uint32_t ti)
{
    if (ti >= 0x1000) return 0;
    uint32_t mode = (ti >> 8) & 7;
    if (mode) return simple_ptr_size(mode);
    const simple_desc *d = simple_find(ti & 0xff);
    return d ? d->size : 0;
}

/* ---- decoding ----------------------------------------------------------------------- */

/* A name at *pos: NUL-terminated, or length-prefixed for ST / 16-bit leaves. Never fails:
 * a name without its terminator is copied into the arena as far as the record goes. */
static const char *rd_name(nk_pdb *p, const uint8_t *b, uint32_t n, uint32_t *pos, bool pascal)
{
    uint32_t o = *pos;
    if (o >= n) return "";
    if (pascal) {
        uint32_t l = b[o];
        if (l > n - o - 1) l = n - o - 1;
        *pos = o + 1 + l;
        const char *s = pdb_arena_str(p, b + o + 1, l);
        return s ? s : "";
    }
    uint32_t after;
    const char *s = pdb_cstr(b, o, n, &after);
    if (s) {
        *pos = after;
        return s;
    }
    *pos = n;
    s = pdb_arena_str(p, b + o, n - o);
    return s ? s : "";
}

static bool is_st_leaf(uint16_t leaf)
{
    return (leaf >= 0x1003 && leaf <= 0x1007) || leaf == 0x1010 || (leaf >= 0x1403 && leaf <= 0x140f) ||
           leaf < 0x1000;
}

static uint32_t ptr_size_of(uint32_t kind, uint32_t attr_size)
{
    if (attr_size) return attr_size;
    switch (kind) {
    case 0x00: return 2;  /* near */
    case 0x01: case 0x02: return 4; /* far, huge */
    case 0x0a: return 4;  /* near32 */
    case 0x0b: return 6;  /* far32 */
    case 0x0c: return 8;  /* 64-bit */
    default: return 4;
    }
}

static nk_status type_decode(nk_pdb *p, uint32_t ti, nk_pdb_typeinfo *o)
{
    memset(o, 0, sizeof *o);
    o->ti = ti;
    o->name = "";
    if (ti < 0x1000) {
        o->kind = NK_PT_BASE;
        o->simple_kind = ti & 0xff;
        o->simple_mode = (ti >> 8) & 7;
        o->size = nk_pdb_simple_size(ti);
        if (o->simple_mode) o->elem_ti = ti & 0xff;
        const char *nm = nk_pdb_simple_name(ti & 0xff);
        o->name = nm ? nm : "";
        if (!simple_find(ti & 0xff) && (ti & 0xff) != 0)
            return nk_fail(p->ctx, NTKD_E_FORMAT, "%s: unknown simple type index 0x%x", p->name, ti);
        return NTKD_OK;
    }
    uint16_t leaf = 0;
    const uint8_t *b = NULL;
    uint32_t n = 0;
    nk_status st = tpi_rec(p, &p->tpi, ti, &leaf, &b, &n);
    if (st != NTKD_OK) return st;
    o->leaf = leaf;
    o->data = b;
    o->data_len = n;
    uint32_t pos;
    uint64_t v;
    bool neg;
    bool pascal = is_st_leaf(leaf);
#define NEED(k)                                                                                \
    do {                                                                                       \
        if (n < (k)) goto short_rec;                                                           \
    } while (0)
#define NUMERIC()                                                                              \
    do {                                                                                       \
        if (!pdb_numeric(b, n, &pos, &v, &neg)) goto bad_num;                                  \
    } while (0)
    switch (leaf) {
    case LF_MODIFIER:
        NEED(6);
        o->kind = NK_PT_MODIFIER;
        o->elem_ti = nk_le32(b);
        {
            uint16_t m = nk_le16(b + 4);
            o->is_const = m & 1;
            o->is_volatile = (m >> 1) & 1;
            o->is_unaligned = (m >> 2) & 1;
        }
        break;
    case LF_MODIFIER_16t:
        NEED(4);
        o->kind = NK_PT_MODIFIER;
        o->elem_ti = nk_le16(b + 2);
        o->is_const = b[0] & 1;
        o->is_volatile = (b[0] >> 1) & 1;
        o->is_unaligned = (b[0] >> 2) & 1;
        break;
    case LF_POINTER: {
        NEED(8);
        o->kind = NK_PT_POINTER;
        o->elem_ti = nk_le32(b);
        uint32_t a = nk_le32(b + 4);
        o->ptr_kind = a & 0x1f;
        o->ptr_mode = (a >> 5) & 7;
        o->is_volatile = (a >> 9) & 1;
        o->is_const = (a >> 10) & 1;
        o->is_unaligned = (a >> 11) & 1;
        o->is_restrict = (a >> 12) & 1;
        o->size = ptr_size_of(o->ptr_kind, (a >> 13) & 0x3f);
        if ((o->ptr_mode == NK_PTR_MODE_PMEM || o->ptr_mode == NK_PTR_MODE_PMFUNC) && n >= 12)
            o->index_ti = nk_le32(b + 8);
        break;
    }
    case LF_POINTER_16t: {
        NEED(4);
        o->kind = NK_PT_POINTER;
        uint16_t a = nk_le16(b);
        o->elem_ti = nk_le16(b + 2);
        o->ptr_kind = a & 0x1f;
        o->ptr_mode = (a >> 5) & 7;
        o->is_volatile = (a >> 9) & 1;
        o->is_const = (a >> 10) & 1;
        o->is_unaligned = (a >> 11) & 1;
        o->size = ptr_size_of(o->ptr_kind, 0);
        if ((o->ptr_mode == NK_PTR_MODE_PMEM || o->ptr_mode == NK_PTR_MODE_PMFUNC) && n >= 6)
            o->index_ti = nk_le16(b + 4);
        break;
    }
    case LF_ARRAY:
    case LF_ARRAY_ST:
        NEED(8);
        o->kind = NK_PT_ARRAY;
        o->elem_ti = nk_le32(b);
        o->index_ti = nk_le32(b + 4);
        pos = 8;
        NUMERIC();
        o->size = v;
        o->name = rd_name(p, b, n, &pos, pascal);
        break;
    case LF_STRIDED_ARRAY:
        NEED(12);
        o->kind = NK_PT_ARRAY;
        o->elem_ti = nk_le32(b);
        o->index_ti = nk_le32(b + 4);
        pos = 12;
        NUMERIC();
        o->size = v;
        o->name = rd_name(p, b, n, &pos, false);
        break;
    case LF_ARRAY_16t:
        NEED(4);
        o->kind = NK_PT_ARRAY;
        o->elem_ti = nk_le16(b);
        o->index_ti = nk_le16(b + 2);
        pos = 4;
        NUMERIC();
        o->size = v;
        o->name = rd_name(p, b, n, &pos, true);
        break;
    case LF_CLASS: case LF_STRUCTURE: case LF_INTERFACE: case LF_CLASS_ST: case LF_STRUCTURE_ST:
        NEED(16);
        o->kind = (leaf == LF_CLASS || leaf == LF_CLASS_ST) ? NK_PT_CLASS
                  : leaf == LF_INTERFACE                   ? NK_PT_INTERFACE
                                                           : NK_PT_STRUCT;
        o->count = nk_le16(b);
        o->props = nk_le16(b + 2);
        o->field_ti = nk_le32(b + 4);
        o->derived_ti = nk_le32(b + 8);
        o->vshape_ti = nk_le32(b + 12);
        pos = 16;
        NUMERIC();
        o->size = v;
        o->name = rd_name(p, b, n, &pos, pascal);
        if ((o->props & NK_PROP_UNIQUE_NAME) && pos < n) o->unique_name = rd_name(p, b, n, &pos, pascal);
        break;
    case LF_CLASS_16t: case LF_STRUCTURE_16t:
        NEED(10);
        o->kind = leaf == LF_CLASS_16t ? NK_PT_CLASS : NK_PT_STRUCT;
        o->count = nk_le16(b);
        o->field_ti = nk_le16(b + 2);
        o->props = nk_le16(b + 4);
        o->derived_ti = nk_le16(b + 6);
        o->vshape_ti = nk_le16(b + 8);
        pos = 10;
        NUMERIC();
        o->size = v;
        o->name = rd_name(p, b, n, &pos, true);
        break;
    case LF_UNION: case LF_UNION_ST:
        NEED(8);
        o->kind = NK_PT_UNION;
        o->count = nk_le16(b);
        o->props = nk_le16(b + 2);
        o->field_ti = nk_le32(b + 4);
        pos = 8;
        NUMERIC();
        o->size = v;
        o->name = rd_name(p, b, n, &pos, pascal);
        if ((o->props & NK_PROP_UNIQUE_NAME) && pos < n) o->unique_name = rd_name(p, b, n, &pos, pascal);
        break;
    case LF_UNION_16t:
        NEED(6);
        o->kind = NK_PT_UNION;
        o->count = nk_le16(b);
        o->field_ti = nk_le16(b + 2);
        o->props = nk_le16(b + 4);
        pos = 6;
        NUMERIC();
        o->size = v;
        o->name = rd_name(p, b, n, &pos, true);
        break;
    case LF_ENUM: case LF_ENUM_ST:
        NEED(12);
        o->kind = NK_PT_ENUM;
        o->count = nk_le16(b);
        o->props = nk_le16(b + 2);
        o->elem_ti = nk_le32(b + 4);
        o->field_ti = nk_le32(b + 8);
        pos = 12;
        o->name = rd_name(p, b, n, &pos, pascal);
        if ((o->props & NK_PROP_UNIQUE_NAME) && pos < n) o->unique_name = rd_name(p, b, n, &pos, pascal);
        o->size = nk_pdb_simple_size(o->elem_ti);
        break;
    case LF_ENUM_16t:
        NEED(8);
        o->kind = NK_PT_ENUM;
        o->count = nk_le16(b);
        o->elem_ti = nk_le16(b + 2);
        o->field_ti = nk_le16(b + 4);
        o->props = nk_le16(b + 6);
        pos = 8;
        o->name = rd_name(p, b, n, &pos, true);
        o->size = nk_pdb_simple_size(o->elem_ti);
        break;
    case LF_PROCEDURE:
        NEED(12);
        o->kind = NK_PT_PROCEDURE;
        o->elem_ti = nk_le32(b);
        o->call_conv = b[4];
        o->func_attr = b[5];
        o->count = nk_le16(b + 6);
        o->field_ti = nk_le32(b + 8);
        break;
    case LF_PROCEDURE_16t:
        NEED(8);
        o->kind = NK_PT_PROCEDURE;
        o->elem_ti = nk_le16(b);
        o->call_conv = b[2];
        o->count = nk_le16(b + 4);
        o->field_ti = nk_le16(b + 6);
        break;
    case LF_MFUNCTION:
        NEED(24);
        o->kind = NK_PT_MFUNCTION;
        o->elem_ti = nk_le32(b);
        o->index_ti = nk_le32(b + 4);
        o->this_ti = nk_le32(b + 8);
        o->call_conv = b[12];
        o->func_attr = b[13];
        o->count = nk_le16(b + 14);
        o->field_ti = nk_le32(b + 16);
        o->this_adjust = (int32_t)nk_le32(b + 20);
        break;
    case LF_MFUNCTION_16t:
        NEED(16);
        o->kind = NK_PT_MFUNCTION;
        o->elem_ti = nk_le16(b);
        o->index_ti = nk_le16(b + 2);
        o->this_ti = nk_le16(b + 4);
        o->call_conv = b[6];
        o->count = nk_le16(b + 8);
        o->field_ti = nk_le16(b + 10);
        o->this_adjust = (int32_t)nk_le32(b + 12);
        break;
    case LF_ARGLIST:
        NEED(4);
        o->kind = NK_PT_ARGLIST;
        o->count = nk_le32(b);
        if ((uint64_t)o->count * 4 > n - 4) goto short_rec;
        break;
    case LF_ARGLIST_16t:
        NEED(2);
        o->kind = NK_PT_ARGLIST;
        o->count = nk_le16(b);
        if ((uint64_t)o->count * 2 > n - 2) goto short_rec;
        break;
    case LF_FIELDLIST:
    case LF_FIELDLIST_16t:
        o->kind = NK_PT_FIELDLIST;
        break;
    case LF_BITFIELD:
        NEED(6);
        o->kind = NK_PT_BITFIELD;
        o->elem_ti = nk_le32(b);
        o->bit_len = b[4];
        o->bit_pos = b[5];
        break;
    case LF_BITFIELD_16t:
        NEED(4);
        o->kind = NK_PT_BITFIELD;
        o->bit_len = b[0];
        o->bit_pos = b[1];
        o->elem_ti = nk_le16(b + 2);
        break;
    case LF_VTSHAPE:
        NEED(2);
        o->kind = NK_PT_VTSHAPE;
        o->count = nk_le16(b);
        if ((o->count + 1u) / 2 > n - 2) goto short_rec;
        break;
    case LF_METHODLIST:
    case LF_METHODLIST_16t:
        o->kind = NK_PT_METHODLIST;
        break;
    case LF_LABEL:
        NEED(2);
        o->kind = NK_PT_LABEL;
        o->count = nk_le16(b);
        break;
    default:
        o->kind = NK_PT_OTHER;
        break;
    }
    return NTKD_OK;
short_rec:
    return nk_fail(p->ctx, NTKD_E_FORMAT, "%s: TPI record 0x%x (leaf 0x%04x) is too short (%u bytes)",
                   p->name, ti, leaf, n);
bad_num:
    return nk_fail(p->ctx, NTKD_E_FORMAT, "%s: TPI record 0x%x (leaf 0x%04x): bad numeric leaf at +0x%x",
                   p->name, ti, leaf, pos + 4);
#undef NEED
#undef NUMERIC
}

nk_status nk_pdb_type_get(nk_pdb *p, uint32_t ti, nk_pdb_typeinfo *out)
{
    return type_decode(p, ti, out);
}

/* ---- name hash ---------------------------------------------------------------------- */

static bool is_udt(nk_pdb_kind k)
{
    return k == NK_PT_STRUCT || k == NK_PT_CLASS || k == NK_PT_INTERFACE || k == NK_PT_UNION ||
           k == NK_PT_ENUM;
}

static int cmp_u64(const void *a, const void *b)
{
    uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
    return x < y ? -1 : x > y;
}

nk_status pdb_tpi_hash_ready(nk_pdb *p, pdb_tpi *t)
{
    nk_status st = pdb_tpi_ready(p, t);
    if (st != NTKD_OK) return st;
    pdb_part *hp = &t->hpart;
    if (hp->state > 0) return NTKD_OK;
    if (hp->state < 0) return pdb_part_replay(p, hp);
    if (!t->present || t->count == 0) {
        hp->state = 1;
        return NTKD_OK;
    }
    bool hv = false;
    uint32_t ks = t->hash_key_size;
    if (t->hash_stream != 0xffff && t->hash_stream < p->nstreams && (ks == 2 || ks == 4) &&
        t->num_buckets > 0 && t->num_buckets <= 0x40000u && t->hv_off >= 0 &&
        (uint64_t)t->hv_len == (uint64_t)t->count * ks &&
        nk_in_bounds(nk_pdb_stream_size(p, t->hash_stream), (uint32_t)t->hv_off, t->hv_len))
        hv = true;
    t->hkeys = malloc((size_t)t->count * sizeof *t->hkeys);
    if (!t->hkeys) return pdb_part_fail(p, hp, NTKD_E_NOMEM, "out of memory for the type hash");
    if (hv) {
        /* stored hash values: a stable counting sort by bucket keeps index order */
        t->hmod = t->num_buckets;
        uint32_t *cnt = calloc((size_t)t->hmod + 1, sizeof *cnt);
        if (!cnt) return pdb_part_fail(p, hp, NTKD_E_NOMEM, "out of memory for the type hash");
        /* pass 1 keeps each value in hkeys, pass 2 places them */
        for (uint32_t i = 0; i < t->count; i++) {
            uint8_t v[4] = {0};
            pdb_read_small(p, t->hash_stream, (uint32_t)t->hv_off + ks * i, v, ks);
            uint32_t h = (ks == 2 ? nk_le16(v) : nk_le32(v)) % t->hmod;
            t->hkeys[i] = h;
            cnt[h + 1]++;
        }
        for (uint32_t b = 0; b < t->hmod; b++) cnt[b + 1] += cnt[b];
        uint64_t *sorted = malloc((size_t)t->count * sizeof *sorted);
        if (!sorted) {
            free(cnt);
            return pdb_part_fail(p, hp, NTKD_E_NOMEM, "out of memory for the type hash");
        }
        for (uint32_t i = 0; i < t->count; i++) {
            uint32_t h = (uint32_t)t->hkeys[i];
            sorted[cnt[h]++] = ((uint64_t)h << 32) | (t->ti_begin + i);
        }
        free(t->hkeys);
        t->hkeys = sorted;
        free(cnt);
        t->nhkeys = t->count;
        pdb_release(p, t->hash_stream, (uint32_t)t->hv_off, t->hv_len); /* read once */
    } else {
        /* no usable hash stream: hash the names of the definitions in one scan */
        t->hmod = 0x3ffff;
        uint32_t k = 0;
        for (uint32_t i = 0; i < t->count; i++) {
            nk_pdb_typeinfo ty;
            if (type_decode(p, t->ti_begin + i, &ty) != NTKD_OK) {
                if (t->part.state < 0) return pdb_part_take(p, hp, t->part.err);
                continue;
            }
            if (!is_udt(ty.kind) || (ty.props & NK_PROP_FWDREF)) continue;
            const char *nm = ((ty.props & NK_PROP_SCOPED) && ty.unique_name) ? ty.unique_name : ty.name;
            uint32_t h = pdb_hash_v1(nm, strlen(nm)) % t->hmod;
            t->hkeys[k++] = ((uint64_t)h << 32) | ty.ti;
        }
        nk_sort(t->hkeys, k, sizeof *t->hkeys, cmp_u64);
        t->nhkeys = k;
    }
    /* hash adjusters: a serialized hash table (size, capacity, present and deleted bit
     * vectors, then `size` pairs of /names offset and type index) */
    if (t->adj_off >= 0 && t->adj_len >= 16 && t->adj_len != 0xffffffffu && t->hash_stream < p->nstreams) {
        const uint8_t *a = pdb_view(p, t->hash_stream, (uint32_t)t->adj_off, t->adj_len);
        uint32_t n = t->adj_len, pos = 8;
        if (a) {
            uint32_t size = nk_le32(a), capn = nk_le32(a + 4);
            bool ok = size <= capn && capn <= 0x100000u;
            for (int v = 0; v < 2 && ok; v++) { /* present, deleted */
                if (!nk_in_bounds(n, pos, 4)) ok = false;
                else {
                    uint32_t words = nk_le32(a + pos);
                    pos += 4;
                    if (words > capn / 32 + 1 || !nk_in_bounds(n, pos, 4ull * words)) ok = false;
                    else pos += 4 * words;
                }
            }
            if (ok && nk_in_bounds(n, pos, 8ull * size) && size) {
                t->adj = malloc(size * sizeof *t->adj);
                if (t->adj) {
                    for (uint32_t i = 0; i < size; i++) {
                        t->adj[i][0] = nk_le32(a + pos + 8 * i);
                        t->adj[i][1] = nk_le32(a + pos + 8 * i + 4);
                    }
                    t->nadj = size;
                }
            }
        }
    }
    hp->state = 1;
    return NTKD_OK;
}

/* Definitions (not forward references) of kind-class `want` named name (or unique name). */
static uint32_t hash_find(nk_pdb *p, const char *name, const char *uname, int want_kind)
{
    pdb_tpi *t = &p->tpi;
    const char *keys[2] = {name, uname};
    for (int k = 0; k < 2; k++) {
        const char *key = keys[k];
        if (!key || !*key) continue;
        uint64_t bucket = pdb_hash_v1(key, strlen(key)) % t->hmod;
        /* first key >= bucket << 32 */
        uint32_t lo = 0, hi = t->nhkeys;
        while (lo < hi) {
            uint32_t mid = lo + (hi - lo) / 2;
            if ((t->hkeys[mid] >> 32) < bucket) lo = mid + 1;
            else hi = mid;
        }
        for (uint32_t i = lo; i < t->nhkeys && (t->hkeys[i] >> 32) == bucket; i++) {
            nk_pdb_typeinfo ty;
            uint32_t ti = (uint32_t)t->hkeys[i];
            if (type_decode(p, ti, &ty) != NTKD_OK) continue;
            if (!is_udt(ty.kind) || (ty.props & NK_PROP_FWDREF)) continue;
            if (want_kind >= 0) {
                bool want_rec = want_kind == NK_PT_STRUCT || want_kind == NK_PT_CLASS ||
                                want_kind == NK_PT_INTERFACE;
                bool is_rec = ty.kind == NK_PT_STRUCT || ty.kind == NK_PT_CLASS ||
                              ty.kind == NK_PT_INTERFACE;
                if (want_rec ? !is_rec : (int)ty.kind != want_kind) continue;
            }
            if (k == 0 && strcmp(ty.name, key) == 0) {
                if (uname && ty.unique_name && strcmp(ty.unique_name, uname) != 0) continue;
                return ti;
            }
            if (k == 1 && ty.unique_name && strcmp(ty.unique_name, key) == 0) return ti;
        }
    }
    return 0;
}

nk_status nk_pdb_type_find(nk_pdb *p, const char *name, uint32_t *ti)
{
    nk_status st = pdb_tpi_hash_ready(p, &p->tpi);
    if (st != NTKD_OK) return st;
    /* an incremental link's adjuster names the current definition */
    for (uint32_t i = 0; i < p->tpi.nadj; i++) {
        const char *an = nk_pdb_names_str(p, p->tpi.adj[i][0]);
        uint32_t at = p->tpi.adj[i][1];
        nk_pdb_typeinfo ty;
        if (an && !strcmp(an, name) && at >= p->tpi.ti_begin && at < p->tpi.ti_end && type_decode(p, at, &ty) == NTKD_OK) {
            *ti = at;
            return NTKD_OK;
        }
    }
    uint32_t r = p->tpi.present && p->tpi.nhkeys ? hash_find(p, name, NULL, -1) : 0;
    if (!r && p->tpi.nhkeys) r = hash_find(p, NULL, name, -1); /* a unique (decorated) name */
    if (!r) return nk_fail(p->ctx, NTKD_E_NOTFOUND, "%s: no type named %s", p->name, name);
    *ti = r;
    return NTKD_OK;
}

uint32_t nk_pdb_type_resolve(nk_pdb *p, uint32_t ti)
{
    nk_pdb_typeinfo ty;
    if (ti < 0x1000 || type_decode(p, ti, &ty) != NTKD_OK) return ti;
    if (!is_udt(ty.kind) || !(ty.props & NK_PROP_FWDREF)) return ti;
    if (pdb_tpi_hash_ready(p, &p->tpi) != NTKD_OK || !p->tpi.nhkeys) return ti;
    uint32_t r = 0;
    if (!(ty.props & NK_PROP_SCOPED) && ty.name[0]) r = hash_find(p, ty.name, ty.unique_name, ty.kind);
    if (!r && ty.unique_name) r = hash_find(p, NULL, ty.unique_name, ty.kind);
    return r ? r : ti;
}

/* ---- sizes and names ---------------------------------------------------------------- */

static nk_status size_rec(nk_pdb *p, uint32_t ti, uint64_t *size, int depth)
{
    if (depth > MAX_DEPTH)
        return nk_fail(p->ctx, NTKD_E_FORMAT, "%s: type 0x%x: type chain deeper than %d", p->name, ti,
                       MAX_DEPTH);
    nk_pdb_typeinfo ty;
    ti = nk_pdb_type_resolve(p, ti);
    nk_status st = type_decode(p, ti, &ty);
    if (st != NTKD_OK) return st;
    switch (ty.kind) {
    case NK_PT_MODIFIER:
    case NK_PT_BITFIELD:
        return size_rec(p, ty.elem_ti, size, depth + 1);
    case NK_PT_ENUM:
        if (ty.elem_ti >= 0x1000) return size_rec(p, ty.elem_ti, size, depth + 1);
        *size = ty.size;
        return NTKD_OK;
    default:
        *size = ty.size;
        return NTKD_OK;
    }
}

nk_status nk_pdb_type_size(nk_pdb *p, uint32_t ti, uint64_t *size)
{
    *size = 0;
    return size_rec(p, ti, size, 0);
}

typedef struct namebuf {
    char *b;
    size_t len, pos;
} namebuf;

static void nb_put(namebuf *nb, const char *s)
{
    size_t l = strlen(s);
    if (nb->pos + 1 >= nb->len) return;
    size_t room = nb->len - nb->pos - 1;
    if (l > room) l = room;
    memcpy(nb->b + nb->pos, s, l);
    nb->pos += l;
    nb->b[nb->pos] = 0;
}

static void name_rec(nk_pdb *p, uint32_t ti, namebuf *nb, int depth, bool c_style);

/* C spelling of a return type. */
static void c_name(nk_pdb *p, uint32_t ti, namebuf *nb, int depth)
{
    if (ti < 0x1000 && ((ti >> 8) & 7) == 0) {
        const simple_desc *d = simple_find(ti & 0xff);
        nb_put(nb, d ? d->c : "<unknown>");
        return;
    }
    name_rec(p, ti, nb, depth + 1, true);
}

static void name_rec(nk_pdb *p, uint32_t ti, namebuf *nb, int depth, bool c_style)
{
    char tmp[48];
    if (depth > MAX_DEPTH) {
        nb_put(nb, "...");
        return;
    }
    if (ti < 0x1000) {
        uint32_t mode = (ti >> 8) & 7;
        const simple_desc *d = simple_find(ti & 0xff);
        if (mode) {
            nb_put(nb, mode == 6 ? "Ptr64 " : mode == 7 ? "Ptr128 " : mode >= 4 ? "Ptr32 " : "Ptr16 ");
            nb_put(nb, d ? d->dt : "<unknown>");
        } else {
            nb_put(nb, d ? (c_style ? d->c : d->dt) : "<unknown>");
        }
        return;
    }
    nk_pdb_typeinfo ty;
    if (type_decode(p, ti, &ty) != NTKD_OK) {
        snprintf(tmp, sizeof tmp, "<type 0x%x>", ti);
        nb_put(nb, tmp);
        return;
    }
    switch (ty.kind) {
    case NK_PT_POINTER:
        nb_put(nb, ty.size == 8 ? "Ptr64 " : ty.size == 2 ? "Ptr16 " : "Ptr32 ");
        name_rec(p, ty.elem_ti, nb, depth + 1, false);
        break;
    case NK_PT_MODIFIER:
        name_rec(p, ty.elem_ti, nb, depth + 1, c_style);
        break;
    case NK_PT_ARRAY: {
        uint64_t esz = 0;
        uint64_t cnt = 0;
        if (nk_pdb_type_size(p, ty.elem_ti, &esz) == NTKD_OK && esz) cnt = ty.size / esz;
        snprintf(tmp, sizeof tmp, "[%llu] ", (unsigned long long)cnt);
        nb_put(nb, tmp);
        name_rec(p, ty.elem_ti, nb, depth + 1, false);
        break;
    }
    case NK_PT_BITFIELD:
        snprintf(tmp, sizeof tmp, "Pos %u, %u Bit%s", ty.bit_pos, ty.bit_len, ty.bit_len == 1 ? "" : "s");
        nb_put(nb, tmp);
        break;
    case NK_PT_PROCEDURE:
    case NK_PT_MFUNCTION:
        nb_put(nb, "    ");
        c_name(p, ty.elem_ti, nb, depth);
        nb_put(nb, " ");
        break;
    case NK_PT_STRUCT: case NK_PT_CLASS: case NK_PT_INTERFACE: case NK_PT_UNION: case NK_PT_ENUM:
        nb_put(nb, ty.name[0] ? ty.name : "<unnamed-tag>");
        break;
    default:
        snprintf(tmp, sizeof tmp, "<leaf 0x%04x>", ty.leaf);
        nb_put(nb, tmp);
        break;
    }
}

char *nk_pdb_type_name(nk_pdb *p, uint32_t ti, char *buf, size_t len)
{
    namebuf nb = {buf, len, 0};
    if (len) buf[0] = 0;
    name_rec(p, ti, &nb, 0, false);
    return buf;
}

/* ---- field lists -------------------------------------------------------------------- */

static nk_status field_list_of(nk_pdb *p, uint32_t ti, uint32_t *fl)
{
    nk_pdb_typeinfo ty;
    ti = nk_pdb_type_resolve(p, ti);
    nk_status st = type_decode(p, ti, &ty);
    if (st != NTKD_OK) return st;
    if (ty.kind == NK_PT_FIELDLIST) {
        *fl = ti;
        return NTKD_OK;
    }
    if (!is_udt(ty.kind))
        return nk_fail(p->ctx, NTKD_E_ARG, "%s: type 0x%x (leaf 0x%04x) has no fields", p->name, ti, ty.leaf);
    *fl = ty.field_ti;
    return NTKD_OK;
}

static nk_status iter_enter(nk_pdb_field_iter *it, uint32_t fl)
{
    nk_pdb *p = it->p;
    it->rec = NULL;
    it->len = it->pos = 0;
    if (fl == 0) return NTKD_OK; /* forward reference without a definition: no fields */
    uint16_t leaf = 0;
    const uint8_t *b = NULL;
    uint32_t n = 0;
    nk_status st = tpi_rec(p, &p->tpi, fl, &leaf, &b, &n);
    if (st != NTKD_OK) return st;
    if (leaf != LF_FIELDLIST && leaf != LF_FIELDLIST_16t)
        return nk_fail(p->ctx, NTKD_E_FORMAT, "%s: type 0x%x: leaf 0x%04x where a field list was expected",
                       p->name, fl, leaf);
    it->rec = b;
    it->len = n;
    it->old16 = leaf == LF_FIELDLIST_16t;
    return NTKD_OK;
}

nk_status nk_pdb_fields_begin(nk_pdb *p, uint32_t ti, nk_pdb_field_iter *it)
{
    memset(it, 0, sizeof *it);
    it->p = p;
    uint32_t fl = 0;
    nk_status st = field_list_of(p, ti, &fl);
    if (st == NTKD_OK) st = iter_enter(it, fl);
    it->status = st;
    return st;
}

static bool iter_err(nk_pdb_field_iter *it, uint16_t leaf, const char *what)
{
    nk_pdb *p = it->p;
    it->status = nk_fail(p->ctx, NTKD_E_FORMAT, "%s: field list: %s in subfield 0x%04x at +0x%x",
                         p->name, what, leaf, it->pos);
    it->rec = NULL;
    return false;
}

bool nk_pdb_fields_next(nk_pdb_field_iter *it, nk_pdb_field *f)
{
    nk_pdb *p = it->p;
    for (;;) {
        if (!it->rec || it->status != NTKD_OK) return false;
        const uint8_t *b = it->rec;
        uint32_t n = it->len;
        /* skip padding bytes (LF_PAD0..15) */
        while (it->pos < n && b[it->pos] >= 0xf0) {
            uint32_t skip = b[it->pos] & 0x0f;
            it->pos += skip ? skip : 1;
        }
        if (it->pos + 2 > n) return false;
        if (++it->yielded > MAX_FIELDS) return iter_err(it, 0, "too many fields");
        uint32_t pos = it->pos;
        uint16_t leaf = nk_le16(b + pos);
        pos += 2;
        memset(f, 0, sizeof *f);
        f->leaf = leaf;
        f->name = "";
        f->vtable_off = -1;
        bool pascal = is_st_leaf(leaf);
        uint64_t v;
        bool neg;
#define NEED(k)                                                                                \
    do {                                                                                       \
        if (!nk_in_bounds(n, pos, (k))) return iter_err(it, leaf, "truncated");               \
    } while (0)
#define NUM(dst)                                                                               \
    do {                                                                                       \
        if (!pdb_numeric(b, n, &pos, &v, &neg)) return iter_err(it, leaf, "bad numeric leaf"); \
        dst = v;                                                                               \
    } while (0)
        switch (leaf) {
        case LF_MEMBER: case LF_MEMBER_ST:
            NEED(6);
            f->kind = NK_FIELD_MEMBER;
            f->attr = nk_le16(b + pos);
            f->type_ti = nk_le32(b + pos + 2);
            pos += 6;
            NUM(f->offset);
            f->name = rd_name(p, b, n, &pos, pascal);
            break;
        case LF_MEMBER_16t:
            NEED(4);
            f->kind = NK_FIELD_MEMBER;
            f->type_ti = nk_le16(b + pos);
            f->attr = nk_le16(b + pos + 2);
            pos += 4;
            NUM(f->offset);
            f->name = rd_name(p, b, n, &pos, true);
            break;
        case LF_STMEMBER: case LF_STMEMBER_ST:
            NEED(6);
            f->kind = NK_FIELD_STATIC;
            f->attr = nk_le16(b + pos);
            f->type_ti = nk_le32(b + pos + 2);
            pos += 6;
            f->name = rd_name(p, b, n, &pos, pascal);
            break;
        case LF_STMEMBER_16t:
            NEED(4);
            f->kind = NK_FIELD_STATIC;
            f->type_ti = nk_le16(b + pos);
            f->attr = nk_le16(b + pos + 2);
            pos += 4;
            f->name = rd_name(p, b, n, &pos, true);
            break;
        case LF_ENUMERATE: case LF_ENUMERATE_ST:
            NEED(2);
            f->kind = NK_FIELD_ENUMERATE;
            f->attr = nk_le16(b + pos);
            pos += 2;
            NUM(f->value);
            f->value_negative = neg;
            f->name = rd_name(p, b, n, &pos, pascal);
            break;
        case LF_BCLASS:
            NEED(6);
            f->kind = NK_FIELD_BASE;
            f->attr = nk_le16(b + pos);
            f->type_ti = nk_le32(b + pos + 2);
            pos += 6;
            NUM(f->offset);
            break;
        case LF_BCLASS_16t:
            NEED(4);
            f->kind = NK_FIELD_BASE;
            f->type_ti = nk_le16(b + pos);
            f->attr = nk_le16(b + pos + 2);
            pos += 4;
            NUM(f->offset);
            break;
        case LF_VBCLASS: case LF_IVBCLASS:
            NEED(10);
            f->kind = leaf == LF_VBCLASS ? NK_FIELD_VBASE : NK_FIELD_IVBASE;
            f->attr = nk_le16(b + pos);
            f->type_ti = nk_le32(b + pos + 2);
            f->vbptr_ti = nk_le32(b + pos + 6);
            pos += 10;
            NUM(f->offset);
            NUM(f->value);
            break;
        case LF_VBCLASS_16t: case LF_IVBCLASS_16t:
            NEED(6);
            f->kind = leaf == LF_VBCLASS_16t ? NK_FIELD_VBASE : NK_FIELD_IVBASE;
            f->type_ti = nk_le16(b + pos);
            f->vbptr_ti = nk_le16(b + pos + 2);
            f->attr = nk_le16(b + pos + 4);
            pos += 6;
            NUM(f->offset);
            NUM(f->value);
            break;
        case LF_INDEX: case LF_INDEX_16t: {
            uint32_t next;
            if (leaf == LF_INDEX) {
                NEED(6);
                next = nk_le32(b + pos + 2);
            } else {
                NEED(2);
                next = nk_le16(b + pos);
            }
            if (++it->hops > MAX_HOPS) return iter_err(it, leaf, "too many continuations");
            nk_status st = iter_enter(it, next);
            if (st != NTKD_OK) {
                it->status = st;
                it->rec = NULL;
                return false;
            }
            continue;
        }
        case LF_NESTTYPE: case LF_NESTTYPE_ST:
            NEED(6);
            f->kind = NK_FIELD_NESTED;
            f->type_ti = nk_le32(b + pos + 2);
            pos += 6;
            f->name = rd_name(p, b, n, &pos, pascal);
            break;
        case LF_NESTTYPE_16t:
            NEED(2);
            f->kind = NK_FIELD_NESTED;
            f->type_ti = nk_le16(b + pos);
            pos += 2;
            f->name = rd_name(p, b, n, &pos, true);
            break;
        case LF_NESTTYPEEX: case LF_NESTTYPEEX_ST: case LF_MEMBERMODIFY: case LF_MEMBERMODIFY_ST:
            NEED(6);
            f->kind = NK_FIELD_NESTED;
            f->attr = nk_le16(b + pos);
            f->type_ti = nk_le32(b + pos + 2);
            pos += 6;
            f->name = rd_name(p, b, n, &pos, pascal);
            if (leaf == LF_MEMBERMODIFY || leaf == LF_MEMBERMODIFY_ST) f->kind = NK_FIELD_OTHER;
            break;
        case LF_ONEMETHOD: case LF_ONEMETHOD_ST: case LF_ONEMETHOD_16t: {
            f->kind = NK_FIELD_ONEMETHOD;
            if (leaf == LF_ONEMETHOD_16t) {
                NEED(4);
                f->attr = nk_le16(b + pos);
                f->type_ti = nk_le16(b + pos + 2);
                pos += 4;
            } else {
                NEED(6);
                f->attr = nk_le16(b + pos);
                f->type_ti = nk_le32(b + pos + 2);
                pos += 6;
            }
            uint32_t mprop = (f->attr >> 2) & 7;
            if (mprop == 4 || mprop == 6) {
                NEED(4);
                f->vtable_off = (int32_t)nk_le32(b + pos);
                pos += 4;
            }
            f->name = rd_name(p, b, n, &pos, pascal);
            break;
        }
        case LF_METHOD: case LF_METHOD_ST:
            NEED(6);
            f->kind = NK_FIELD_METHOD;
            f->method_count = nk_le16(b + pos);
            f->mlist_ti = nk_le32(b + pos + 2);
            pos += 6;
            f->name = rd_name(p, b, n, &pos, pascal);
            break;
        case LF_METHOD_16t:
            NEED(4);
            f->kind = NK_FIELD_METHOD;
            f->method_count = nk_le16(b + pos);
            f->mlist_ti = nk_le16(b + pos + 2);
            pos += 4;
            f->name = rd_name(p, b, n, &pos, true);
            break;
        case LF_VFUNCTAB:
            NEED(6);
            f->kind = NK_FIELD_VFUNCTAB;
            f->type_ti = nk_le32(b + pos + 2);
            pos += 6;
            break;
        case LF_VFUNCTAB_16t:
            NEED(2);
            f->kind = NK_FIELD_VFUNCTAB;
            f->type_ti = nk_le16(b + pos);
            pos += 2;
            break;
        case LF_FRIENDFCN: case LF_FRIENDFCN_ST:
            NEED(6);
            f->kind = NK_FIELD_FRIENDFCN;
            f->type_ti = nk_le32(b + pos + 2);
            pos += 6;
            f->name = rd_name(p, b, n, &pos, pascal);
            break;
        case LF_FRIENDFCN_16t:
            NEED(2);
            f->kind = NK_FIELD_FRIENDFCN;
            f->type_ti = nk_le16(b + pos);
            pos += 2;
            f->name = rd_name(p, b, n, &pos, true);
            break;
        case LF_FRIENDCLS:
            NEED(6);
            f->kind = NK_FIELD_FRIENDCLS;
            f->type_ti = nk_le32(b + pos + 2);
            pos += 6;
            break;
        case LF_FRIENDCLS_16t:
            NEED(2);
            f->kind = NK_FIELD_FRIENDCLS;
            f->type_ti = nk_le16(b + pos);
            pos += 2;
            break;
        case LF_VFUNCOFF:
            NEED(10);
            f->kind = NK_FIELD_VFUNCOFF;
            f->type_ti = nk_le32(b + pos + 2);
            f->offset = nk_le32(b + pos + 6);
            pos += 10;
            break;
        case LF_VFUNCOFF_16t:
            NEED(6);
            f->kind = NK_FIELD_VFUNCOFF;
            f->type_ti = nk_le16(b + pos);
            f->offset = nk_le32(b + pos + 2);
            pos += 6;
            break;
        default:
            return iter_err(it, leaf, "unknown subfield leaf");
        }
#undef NEED
#undef NUM
        it->pos = pos;
        if (f->kind == NK_FIELD_MEMBER && f->type_ti >= 0x1000) {
            nk_pdb_typeinfo bt;
            if (type_decode(p, f->type_ti, &bt) == NTKD_OK && bt.kind == NK_PT_BITFIELD) {
                f->is_bitfield = true;
                f->bit_pos = bt.bit_pos;
                f->bit_len = bt.bit_len;
                f->bit_base_ti = bt.elem_ti;
            }
        }
        return true;
    }
}

nk_status nk_pdb_field_find(nk_pdb *p, uint32_t ti, const char *name, nk_pdb_field *out)
{
    nk_pdb_field_iter it;
    nk_status st = nk_pdb_fields_begin(p, ti, &it);
    if (st != NTKD_OK) return st;
    while (nk_pdb_fields_next(&it, out))
        if ((out->kind == NK_FIELD_MEMBER || out->kind == NK_FIELD_STATIC) && strcmp(out->name, name) == 0)
            return NTKD_OK;
    if (it.status != NTKD_OK) return it.status;
    return nk_fail(p->ctx, NTKD_E_NOTFOUND, "%s: type 0x%x has no field %s", p->name, ti, name);
}

nk_status nk_pdb_arglist(nk_pdb *p, uint32_t ti, uint32_t *args, uint32_t max, uint32_t *count)
{
    nk_pdb_typeinfo ty;
    nk_status st = type_decode(p, ti, &ty);
    if (st != NTKD_OK) return st;
    if (ty.kind != NK_PT_ARGLIST)
        return nk_fail(p->ctx, NTKD_E_ARG, "%s: type 0x%x is not an argument list", p->name, ti);
    *count = ty.count;
    bool old = ty.leaf == LF_ARGLIST_16t;
    for (uint32_t i = 0; i < ty.count && i < max; i++)
        args[i] = old ? nk_le16(ty.data + 2 + 2 * i) : nk_le32(ty.data + 4 + 4 * i);
    return NTKD_OK;
}

nk_status nk_pdb_methodlist(nk_pdb *p, uint32_t ti, nk_pdb_method *out, uint32_t max,
                            uint32_t *count)
{
    nk_pdb_typeinfo ty;
    nk_status st = type_decode(p, ti, &ty);
    if (st != NTKD_OK) return st;
    if (ty.kind != NK_PT_METHODLIST)
        return nk_fail(p->ctx, NTKD_E_ARG, "%s: type 0x%x is not a method list", p->name, ti);
    bool old = ty.leaf == LF_METHODLIST_16t;
    const uint8_t *b = ty.data;
    uint32_t n = ty.data_len, pos = 0, k = 0;
    while (pos < n) {
        uint32_t need = old ? 4 : 8;
        if (!nk_in_bounds(n, pos, need))
            return nk_fail(p->ctx, NTKD_E_FORMAT, "%s: method list 0x%x truncated at +0x%x", p->name, ti, pos);
        nk_pdb_method m;
        m.attr = nk_le16(b + pos);
        m.type_ti = old ? nk_le16(b + pos + 2) : nk_le32(b + pos + 4);
        m.vtable_off = -1;
        pos += need;
        uint32_t mprop = (m.attr >> 2) & 7;
        if (mprop == 4 || mprop == 6) {
            if (!nk_in_bounds(n, pos, 4))
                return nk_fail(p->ctx, NTKD_E_FORMAT, "%s: method list 0x%x truncated at +0x%x", p->name, ti, pos);
            m.vtable_off = (int32_t)nk_le32(b + pos);
            pos += 4;
        }
        if (k < max) out[k] = m;
        k++;
    }
    *count = k;
    return NTKD_OK;
}

/* ---- type iteration ------------------------------------------------------------------ */

void nk_pdb_types_begin(nk_pdb *p, nk_pdb_type_iter *it)
{
    it->p = p;
    it->next = 0;
    if (pdb_tpi_ready(p, &p->tpi) == NTKD_OK && p->tpi.present) it->next = p->tpi.ti_begin;
}

bool nk_pdb_types_next(nk_pdb_type_iter *it, nk_pdb_typeinfo *out)
{
    nk_pdb *p = it->p;
    if (!it->next || !p->tpi.present) return false;
    while (it->next < p->tpi.ti_end) {
        uint32_t ti = it->next++;
        if (type_decode(p, ti, out) != NTKD_OK) {
            if (p->tpi.part.state < 0) return false;
            continue;
        }
        if (is_udt(out->kind) && !(out->props & NK_PROP_FWDREF)) return true;
    }
    return false;
}
