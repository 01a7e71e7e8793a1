/* sym.c: symbols: the symbol record stream, the publics stream (GSI hash + address map),
 * the globals stream (GSI hash), per-module symbol streams, the function-extent index, and
 * the address lookups behind `ln` and `x`. */
#include "pdb/pdb_int.h"

#include <stdio.h>
#include <stdlib.h>

#define GSI_SIG 0xffffffffu
#define GSI_VER (0xeffe0000u + 19990810u)
#define GSI_BUCKETS 4096u
#define GSI_BITMAP_WORDS ((GSI_BUCKETS + 1 + 31) / 32)
#define MAX_SYMS 0x4000000u

/* Publics stream header. */
typedef struct psgsi_header {
    uint32_t sym_hash, addr_map, num_thunks, thunk_size;
    uint16_t thunk_sect, pad;
    uint32_t thunk_off, num_sections;
} psgsi_header;
_Static_assert(sizeof(psgsi_header) == 28, "publics header is 28 bytes");

/* GSI hash header. */
typedef struct gsi_header {
    uint32_t sig, ver, hr_bytes, bucket_bytes;
} gsi_header;
_Static_assert(sizeof(gsi_header) == 16, "GSI hash header is 16 bytes");

static bool is_proc(uint16_t k)
{
    return k == NK_S_LPROC32 || k == NK_S_GPROC32 || k == NK_S_LPROC32_ID || k == NK_S_GPROC32_ID ||
           k == NK_S_LPROC32_DPC || k == NK_S_LPROC32_DPC_ID || k == 0x100a || k == 0x100b;
}

/* records that open a scope closed by S_END (or S_PROC_ID_END / S_INLINESITE_END) */
static bool opens_scope(uint16_t k)
{
    if (is_proc(k)) return true;
    switch (k) {
    case NK_S_THUNK32: case NK_S_BLOCK32: case NK_S_WITH32: case NK_S_SEPCODE: case NK_S_INLINESITE:
    case 0x0206: case 0x0207: case 0x0208:                 /* _ST thunk/block/with */
    case 0x1114: case 0x1115: case 0x1118: case 0x1119:     /* MIPS, IA64 procedures */
    case 0x1148: case 0x1149: case 0x114a: case 0x114b:
    case 0x112a: case 0x112b:                               /* managed procedures */
    case 0x1172: case 0x1173: case 0x1174: case 0x1175:     /* S_*PROC32EX */
    case 0x115d:                                            /* S_INLINESITE2 */
        return true;
    default:
        return false;
    }
}

static bool closes_scope(uint16_t k)
{
    return k == NK_S_END || k == NK_S_PROC_ID_END || k == NK_S_INLINESITE_END;
}

void pdb_sym_free(nk_pdb *p)
{
    pdb_part_free(&p->symrec_part);
    pdb_part_free(&p->pub.part);
    pdb_part_free(&p->glob.part);
    pdb_part_free(&p->pubaddr_part);
    pdb_part_free(&p->func_part);
    free(p->pub.bucket_start);
    free(p->glob.bucket_start);
    free(p->pubaddr);
    free(p->funcs);
    free(p->func_names);
}

/* ---- symbol record stream ---------------------------------------------------------- */

nk_status pdb_symrec_load(nk_pdb *p)
{
    pdb_part *pt = &p->symrec_part;
    if (pt->state > 0) return NTKD_OK;
    if (pt->state < 0) return pdb_part_replay(p, pt);
    uint16_t s = p->info.symrec_stream;
    p->symrec_size = (!p->info.dbi_present || s == NK_PDB_NO_STREAM) ? 0 : nk_pdb_stream_size(p, s);
    pt->state = 1;
    return NTKD_OK;
}

/* A record at `off` of the symbol record stream: kind, body (after kind), body length. */
static bool symrec_at(nk_pdb *p, uint32_t off, uint16_t *kind, const uint8_t **b, uint32_t *n)
{
    uint8_t h[4];
    const uint16_t s = p->info.symrec_stream;
    if (!p->symrec_size || !pdb_read_small(p, s, off, h, 4)) return false;
    uint32_t len = nk_le16(h);
    if (len < 2 || !nk_in_bounds(p->symrec_size, off + 2, len)) return false;
    const uint8_t *r = pdb_view(p, s, off, 2 + len);
    if (!r) return false;
    *kind = nk_le16(r + 2);
    *b = r + 4;
    *n = len - 2;
    return true;
}

/* Name at body position pos: C string, or Pascal for _ST records. */
static const char *sym_name(nk_pdb *p, const uint8_t *b, uint32_t n, uint32_t pos, bool pascal)
{
    if (pos > n) return NULL;
    if (pascal) {
        if (pos >= n) return NULL;
        uint32_t l = b[pos];
        if (l > n - pos - 1) return NULL;
        return pdb_arena_str(p, b + pos + 1, l);
    }
    return pdb_cstr(b, pos, n, NULL);
}

/* ---- GSI hash ----------------------------------------------------------------------- */

static nk_status gsi_failf(nk_pdb *p, pdb_gsi *g, const char *label, uint32_t stream, uint32_t off,
                           nk_status st, const char *fmt, ...) __attribute__((format(printf, 7, 8)));
static nk_status gsi_failf(nk_pdb *p, pdb_gsi *g, const char *label, uint32_t stream, uint32_t off,
                           nk_status st, const char *fmt, ...)
{
    char msg[300];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    return pdb_part_fail(p, &g->part, st, "%s stream %u at 0x%x (file offset 0x%llx): %s", label, stream,
                         off, (unsigned long long)pdb_file_off(p, stream, off), msg);
}

static nk_status gsi_parse(nk_pdb *p, pdb_gsi *g, uint32_t stream, uint32_t len, uint32_t base,
                           const char *label)
{
    uint8_t d[16];
#define GFAIL(st, off, ...) gsi_failf(p, g, label, stream, base + (off), st, __VA_ARGS__)
    uint32_t hr_off, hr_bytes, bk_off, bk_bytes;
    bool bitmap;
    if (len == 0) {
        g->nhr = 0;
        return NTKD_OK;
    }
    if (len >= 16 && pdb_read_small(p, stream, base, d, 16) && nk_le32(d) == GSI_SIG) {
        if (nk_le32(d + 4) != GSI_VER) return GFAIL(NTKD_E_UNSUPPORTED, 4, "unknown hash version");
        hr_bytes = nk_le32(d + 8);
        bk_bytes = nk_le32(d + 12);
        hr_off = 16;
        if (!nk_in_bounds(len, 16, hr_bytes) || !nk_in_bounds(len, 16 + hr_bytes, bk_bytes))
            return GFAIL(NTKD_E_TRUNCATED, 8, "hash of %u + %u bytes runs past %u", hr_bytes, bk_bytes, len);
        bk_off = 16 + hr_bytes;
        bitmap = true;
    } else {
        /* pre-7.0 layout: hash records, then 4097 bucket offsets */
        if (len < 4 * (GSI_BUCKETS + 1)) return GFAIL(NTKD_E_FORMAT, 0, "no hash header and too short for an old hash");
        hr_off = 0;
        hr_bytes = len - 4 * (GSI_BUCKETS + 1);
        bk_off = hr_bytes;
        bk_bytes = 4 * (GSI_BUCKETS + 1);
        bitmap = false;
    }
    if (hr_bytes % 8) return GFAIL(NTKD_E_FORMAT, 8, "hash records size %u is not a multiple of 8", hr_bytes);
    g->nhr = hr_bytes / 8;
    if (g->nhr > MAX_SYMS) return GFAIL(NTKD_E_FORMAT, 8, "%u hash records", g->nhr);
    g->hr = pdb_view(p, stream, base + hr_off, hr_bytes);
    if (!g->hr) return pdb_part_fail(p, &g->part, NTKD_E_NOMEM, "out of memory for the hash records");
    g->bucket_start = malloc((GSI_BUCKETS + 2) * sizeof *g->bucket_start);
    if (!g->bucket_start) return pdb_part_fail(p, &g->part, NTKD_E_NOMEM, "out of memory");
    /* start[b] = first record of bucket b, UINT32_MAX when empty (filled below) */
    for (uint32_t b = 0; b <= GSI_BUCKETS + 1; b++) g->bucket_start[b] = UINT32_MAX;
    if (bk_bytes) {
        const uint8_t *bk = pdb_view(p, stream, base + bk_off, bk_bytes);
        if (!bk) return pdb_part_fail(p, &g->part, NTKD_E_NOMEM, "out of memory for the hash buckets");
        if (bitmap) {
            if (bk_bytes < 4 * GSI_BITMAP_WORDS) return GFAIL(NTKD_E_TRUNCATED, bk_off, "bucket bitmap truncated");
            uint32_t pos = 4 * GSI_BITMAP_WORDS;
            for (uint32_t b = 0; b <= GSI_BUCKETS; b++) {
                if (!(nk_le32(bk + 4 * (b / 32)) & (1u << (b % 32)))) continue;
                if (!nk_in_bounds(bk_bytes, pos, 4)) return GFAIL(NTKD_E_TRUNCATED, bk_off + pos, "bucket offsets truncated");
                uint32_t v = nk_le32(bk + pos);
                pos += 4;
                if (v % 12 || v / 12 > g->nhr) return GFAIL(NTKD_E_FORMAT, bk_off + pos - 4, "bucket %u offset 0x%x impossible", b, v);
                g->bucket_start[b] = v / 12;
            }
        } else {
            for (uint32_t b = 0; b <= GSI_BUCKETS; b++) {
                uint32_t v = nk_le32(bk + 4 * b);
                if (v == 0xffffffffu) continue;
                if (v % 12 || v / 12 > g->nhr) return GFAIL(NTKD_E_FORMAT, bk_off + 4 * b, "bucket %u offset 0x%x impossible", b, v);
                g->bucket_start[b] = v / 12;
            }
        }
    }
    /* empty buckets take the next bucket's start; starts must not decrease */
    uint32_t next = g->nhr;
    g->bucket_start[GSI_BUCKETS + 1] = g->nhr;
    for (uint32_t b = GSI_BUCKETS + 1; b-- > 0;) {
        if (g->bucket_start[b] == UINT32_MAX) g->bucket_start[b] = next;
        else if (g->bucket_start[b] > next) return GFAIL(NTKD_E_FORMAT, bk_off, "bucket %u starts after the next bucket", b);
        next = g->bucket_start[b];
    }
    return NTKD_OK;
#undef GFAIL
}

static nk_status gsi_load(nk_pdb *p, pdb_gsi *g, bool publics)
{
    if (g->part.state > 0) return NTKD_OK;
    if (g->part.state < 0) return pdb_part_replay(p, &g->part);
    nk_status st = pdb_symrec_load(p);
    if (st != NTKD_OK) return pdb_part_take(p, &g->part, st);
    uint16_t s = publics ? p->info.psi_stream : p->info.gsi_stream;
    if (!p->info.dbi_present || s == NK_PDB_NO_STREAM) {
        g->nhr = 0;
        g->part.state = 1;
        return NTKD_OK;
    }
    uint32_t n = nk_pdb_stream_size(p, s);
    uint32_t base = 0, len = n;
    if (publics) {
        uint8_t d[28];
        if (n < sizeof(psgsi_header) || !pdb_read_small(p, s, 0, d, 28))
            return pdb_part_fail(p, &g->part, NTKD_E_TRUNCATED, "publics stream %u: 28-byte header truncated (%u bytes)", s, n);
        uint32_t symhash = nk_le32(d);
        if (!nk_in_bounds(n, 28, symhash))
            return pdb_part_fail(p, &g->part, NTKD_E_TRUNCATED,
                                 "publics stream %u at 0 (file offset 0x%llx): hash of %u bytes runs past %u", s,
                                 (unsigned long long)pdb_file_off(p, s, 0), symhash, n);
        base = 28;
        len = symhash;
    }
    st = gsi_parse(p, g, s, len, base, publics ? "publics" : "globals");
    if (st != NTKD_OK) return st;
    /* every hash record must point at a record of the symbol record stream */
    for (uint32_t i = 0; i < g->nhr; i++) {
        uint32_t off = nk_le32(g->hr + 8 * i);
        uint16_t k;
        const uint8_t *b = NULL;
        uint32_t bn;
        if (off == 0 || !symrec_at(p, off - 1, &k, &b, &bn))
            return pdb_part_fail(p, &g->part, NTKD_E_FORMAT,
                                 "%s stream %u: hash record %u points at 0x%x, not a record of the %u-byte symbol record stream",
                                 publics ? "publics" : "globals", s, i, off, p->symrec_size);
    }
    g->part.state = 1;
    return NTKD_OK;
}

nk_status pdb_publics_load(nk_pdb *p) { return gsi_load(p, &p->pub, true); }
nk_status pdb_globals_load(nk_pdb *p) { return gsi_load(p, &p->glob, false); }

/* ---- publics -------------------------------------------------------------------------- */

static bool pub_decode(nk_pdb *p, uint32_t off, nk_pdb_public *o)
{
    uint16_t k;
    const uint8_t *b = NULL;
    uint32_t n = 0;
    memset(o, 0, sizeof *o);
    if (!symrec_at(p, off, &k, &b, &n)) return false;
    if ((k != NK_S_PUB32 && k != 0x1009) || n < 10) return false;
    o->flags = nk_le32(b);
    o->off = nk_le32(b + 4);
    o->seg = nk_le16(b + 8);
    o->name = sym_name(p, b, n, 10, k == 0x1009);
    if (!o->name) return false;
    o->sym_off = off;
    o->has_rva = nk_pdb_seg_to_rva(p, o->seg, o->off, &o->rva);
    return true;
}

nk_status nk_pdb_public_count(nk_pdb *p, size_t *count)
{
    *count = 0;
    nk_status st = pdb_publics_load(p);
    if (st == NTKD_OK) *count = p->pub.nhr;
    return st;
}

nk_status nk_pdb_public_get(nk_pdb *p, size_t i, nk_pdb_public *out)
{
    nk_status st = pdb_publics_load(p);
    if (st != NTKD_OK) return st;
    if (i >= p->pub.nhr) return nk_fail(p->ctx, NTKD_E_NOTFOUND, "%s: no public %zu", p->name, i);
    uint32_t off = nk_le32(p->pub.hr + 8 * i) - 1;
    if (!pub_decode(p, off, out))
        return nk_fail(p->ctx, NTKD_E_FORMAT, "%s: symbol record at 0x%x (file offset 0x%llx) is not a valid S_PUB32",
                       p->name, off, (unsigned long long)pdb_file_off(p, p->info.symrec_stream, off));
    return NTKD_OK;
}

static int cmp_pubaddr(const void *a, const void *b)
{
    const pdb_pubaddr *x = a, *y = b;
    if (x->rva != y->rva) return x->rva < y->rva ? -1 : 1;
    return x->sym_off < y->sym_off ? -1 : x->sym_off > y->sym_off;
}

nk_status pdb_pubaddr_load(nk_pdb *p)
{
    pdb_part *pt = &p->pubaddr_part;
    if (pt->state > 0) return NTKD_OK;
    if (pt->state < 0) return pdb_part_replay(p, pt);
    nk_status st = pdb_publics_load(p);
    if (st == NTKD_OK) st = pdb_sections_load(p);
    if (st != NTKD_OK) return pdb_part_take(p, pt, st);
    /* the publics stream's address map (u32 record offsets in address order) */
    bool am = false;
    uint32_t am_at = 0;
    uint16_t s = p->info.psi_stream;
    if (p->pub.nhr && s != NK_PDB_NO_STREAM) {
        uint8_t d[8];
        uint32_t n = nk_pdb_stream_size(p, s);
        if (pdb_read_small(p, s, 0, d, 8)) {
            uint32_t symhash = nk_le32(d), ambytes = nk_le32(d + 4);
            uint32_t at = 28 + symhash;
            if (ambytes % 4 == 0 && nk_in_bounds(n, at, ambytes) && ambytes / 4 == p->pub.nhr) {
                am = true;
                am_at = at;
            }
        }
    }
    size_t total = p->pub.nhr;
    p->pubaddr = malloc((total ? total : 1) * sizeof *p->pubaddr);
    if (!p->pubaddr) return pdb_part_fail(p, pt, NTKD_E_NOMEM, "out of memory");
    size_t k = 0;
    bool sorted = true;
    for (size_t i = 0; i < total; i++) {
        uint32_t off = nk_le32(p->pub.hr + 8 * i) - 1;
        uint8_t e[4];
        if (am && pdb_read_small(p, s, am_at + 4 * (uint32_t)i, e, 4)) off = nk_le32(e);
        nk_pdb_public pb;
        if (!pub_decode(p, off, &pb))
            return pdb_part_fail(p, pt, NTKD_E_FORMAT,
                                 "publics address map entry %zu: 0x%x is not an S_PUB32 of the symbol record stream", i, off);
        if (!pb.has_rva) continue;
        p->pubaddr[k].rva = pb.rva;
        p->pubaddr[k].sym_off = off;
        if (k && cmp_pubaddr(&p->pubaddr[k - 1], &p->pubaddr[k]) > 0) sorted = false;
        k++;
    }
    if (!sorted) nk_sort(p->pubaddr, k, sizeof *p->pubaddr, cmp_pubaddr);
    p->npubaddr = k;
    pt->state = 1;
    return NTKD_OK;
}

nk_status nk_pdb_public_addr_count(nk_pdb *p, size_t *count)
{
    *count = 0;
    nk_status st = pdb_pubaddr_load(p);
    if (st == NTKD_OK) *count = p->npubaddr;
    return st;
}

nk_status nk_pdb_public_addr_get(nk_pdb *p, size_t i, nk_pdb_public *out)
{
    nk_status st = pdb_pubaddr_load(p);
    if (st != NTKD_OK) return st;
    if (i >= p->npubaddr) return nk_fail(p->ctx, NTKD_E_NOTFOUND, "%s: no public %zu in the address map", p->name, i);
    pub_decode(p, p->pubaddr[i].sym_off, out); /* validated when the map was built */
    out->rva = p->pubaddr[i].rva;
    return NTKD_OK;
}

nk_status nk_pdb_public_by_rva(nk_pdb *p, uint32_t rva, nk_pdb_public *out, uint32_t *disp)
{
    if (p->pubaddr_part.state != 1) {
        nk_status st = pdb_pubaddr_load(p);
        if (st != NTKD_OK) return st;
    }
    const pdb_pubaddr *a = p->pubaddr;
    size_t lo = 0, n = p->npubaddr;
    /* last entry with a[i].rva <= rva (branch-light binary search) */
    while (n > 1) {
        size_t half = n / 2;
        if (a[lo + half].rva <= rva) lo += half;
        n -= half;
    }
    if (!p->npubaddr || a[lo].rva > rva)
        return nk_fail(p->ctx, NTKD_E_NOTFOUND, "%s: no public symbol at or below RVA 0x%x", p->name, rva);
    /* the first of equal addresses */
    while (lo > 0 && a[lo - 1].rva == a[lo].rva) lo--;
    pub_decode(p, a[lo].sym_off, out);
    out->rva = a[lo].rva;
    if (disp) *disp = rva - a[lo].rva;
    return NTKD_OK;
}

static bool gsi_name_lookup(nk_pdb *p, pdb_gsi *g, const char *name, uint32_t *recoff,
                            bool (*match)(nk_pdb *, uint32_t, const char *))
{
    uint32_t b = pdb_hash_v1(name, strlen(name)) % GSI_BUCKETS;
    for (uint32_t i = g->bucket_start[b]; i < g->bucket_start[b + 1] && i < g->nhr; i++) {
        uint32_t off = nk_le32(g->hr + 8 * i) - 1;
        if (match(p, off, name)) {
            *recoff = off;
            return true;
        }
    }
    return false;
}

static bool pub_match(nk_pdb *p, uint32_t off, const char *name)
{
    nk_pdb_public pb;
    return pub_decode(p, off, &pb) && strcmp(pb.name, name) == 0;
}

nk_status nk_pdb_public_by_name(nk_pdb *p, const char *name, nk_pdb_public *out)
{
    nk_status st = pdb_publics_load(p);
    if (st != NTKD_OK) return st;
    uint32_t off;
    if (!p->pub.nhr || !gsi_name_lookup(p, &p->pub, name, &off, pub_match))
        return nk_fail(p->ctx, NTKD_E_NOTFOUND, "%s: no public symbol %s", p->name, name);
    pub_decode(p, off, out);
    return NTKD_OK;
}

char *nk_pdb_undecorate(const char *name, bool x86, char *buf, size_t len)
{
    if (!len) return buf;
    size_t o = 0;
    const char *s = name;
    bool c_rules = x86 && s[0] != '?';
    if (c_rules && (s[0] == '_' || s[0] == '@')) s++;
    for (; *s && o + 1 < len; s++) {
        unsigned char c = (unsigned char)*s;
        if (c_rules && c == '@') {
            if (s[1] >= '0' && s[1] <= '9') break;
            continue;
        }
        buf[o++] = (c < 0x20 || c == 0x7f) ? '_' : (char)c;
    }
    buf[o] = 0;
    return buf;
}

/* ---- globals -------------------------------------------------------------------------- */

static bool glob_decode(nk_pdb *p, uint32_t off, nk_pdb_global *o)
{
    uint16_t k;
    const uint8_t *b = NULL;
    uint32_t n = 0;
    memset(o, 0, sizeof *o);
    if (!symrec_at(p, off, &k, &b, &n)) return false;
    o->kind = k;
    o->sym_off = off;
    switch (k) {
    case NK_S_GDATA32: case NK_S_LDATA32: case NK_S_GTHREAD32: case NK_S_LTHREAD32:
    case 0x1007: case 0x1008: case 0x100e: case 0x100f: /* _ST variants */
        if (n < 10) return false;
        o->type_ti = nk_le32(b);
        o->off = nk_le32(b + 4);
        o->seg = nk_le16(b + 8);
        o->name = sym_name(p, b, n, 10, k < 0x1100);
        if (k == NK_S_GDATA32 || k == NK_S_LDATA32 || k == 0x1007 || k == 0x1008)
            o->has_rva = nk_pdb_seg_to_rva(p, o->seg, o->off, &o->rva);
        break;
    case NK_S_PROCREF: case NK_S_LPROCREF: case NK_S_DATAREF: case 0x1128: case 0x1129:
        if (n < 10) return false;
        o->mod_sym_off = nk_le32(b + 4);
        o->module = (uint16_t)(nk_le16(b + 8) - 1);
        o->name = sym_name(p, b, n, 10, false);
        break;
    case NK_S_CONSTANT: case 0x1002: {
        if (n < 4) return false;
        o->type_ti = nk_le32(b);
        uint32_t pos = 4;
        if (!pdb_numeric(b, n, &pos, &o->value, &o->value_negative)) return false;
        o->name = sym_name(p, b, n, pos, k == 0x1002);
        break;
    }
    case NK_S_UDT: case 0x1003:
        if (n < 4) return false;
        o->type_ti = nk_le32(b);
        o->name = sym_name(p, b, n, 4, k == 0x1003);
        break;
    default:
        o->name = "";
        return true; /* a kind ntkd does not decode: kept with its record offset */
    }
    return o->name != NULL;
}

nk_status nk_pdb_global_count(nk_pdb *p, size_t *count)
{
    *count = 0;
    nk_status st = pdb_globals_load(p);
    if (st == NTKD_OK) *count = p->glob.nhr;
    return st;
}

nk_status nk_pdb_global_get(nk_pdb *p, size_t i, nk_pdb_global *out)
{
    nk_status st = pdb_globals_load(p);
    if (st != NTKD_OK) return st;
    if (i >= p->glob.nhr) return nk_fail(p->ctx, NTKD_E_NOTFOUND, "%s: no global %zu", p->name, i);
    uint32_t off = nk_le32(p->glob.hr + 8 * i) - 1;
    if (!glob_decode(p, off, out))
        return nk_fail(p->ctx, NTKD_E_FORMAT, "%s: global symbol record at 0x%x (file offset 0x%llx) is malformed",
                       p->name, off, (unsigned long long)pdb_file_off(p, p->info.symrec_stream, off));
    return NTKD_OK;
}

static bool glob_match(nk_pdb *p, uint32_t off, const char *name)
{
    nk_pdb_global g;
    return glob_decode(p, off, &g) && g.name && strcmp(g.name, name) == 0;
}

nk_status nk_pdb_global_by_name(nk_pdb *p, const char *name, nk_pdb_global *out)
{
    nk_status st = pdb_globals_load(p);
    if (st != NTKD_OK) return st;
    uint32_t off;
    if (!p->glob.nhr || !gsi_name_lookup(p, &p->glob, name, &off, glob_match))
        return nk_fail(p->ctx, NTKD_E_NOTFOUND, "%s: no global symbol %s", p->name, name);
    glob_decode(p, off, out);
    return NTKD_OK;
}

/* ---- module symbols -------------------------------------------------------------------- */

/* The record at `pos` of a module's symbols (stream s, first `size` bytes): *rec points at
 * its length field, *total is its size with the length field. */
static bool modrec(nk_pdb *p, uint16_t s, uint32_t size, uint32_t pos, const uint8_t **rec, uint32_t *total)
{
    uint8_t h[2];
    if (!nk_in_bounds(size, pos, 4) || !pdb_read_small(p, s, pos, h, 2)) return false;
    uint32_t len = nk_le16(h);
    if (len < 2 || !nk_in_bounds(size, pos + 2, len)) return false;
    *rec = pdb_view(p, s, pos, 2 + len);
    *total = 2 + len;
    return *rec != NULL;
}

/* Decodes the record at `pos` of module stream s. */
static bool modsym_decode(nk_pdb *p, uint16_t st, uint32_t size, uint32_t pos, nk_pdb_modsym *o, uint32_t *next)
{
    memset(o, 0, sizeof *o);
    const uint8_t *rec;
    uint32_t total;
    if (!modrec(p, st, size, pos, &rec, &total)) return false;
    uint16_t k = nk_le16(rec + 2);
    const uint8_t *b = rec + 4;
    uint32_t n = total - 4;
    o->kind = k;
    o->rec_off = pos;
    o->data = b;
    o->data_len = n;
    *next = pos + total;
    if (is_proc(k)) {
        if (n < 35) return false;
        o->end_off = nk_le32(b + 4);
        o->length = nk_le32(b + 12);
        o->type_ti = nk_le32(b + 24);
        o->off = nk_le32(b + 28);
        o->seg = nk_le16(b + 32);
        o->name = sym_name(p, b, n, 35, k < 0x1100);
        o->has_rva = nk_pdb_seg_to_rva(p, o->seg, o->off, &o->rva);
    } else if (k == NK_S_THUNK32 || k == 0x0206) {
        if (n < 21) return false;
        o->end_off = nk_le32(b + 4);
        o->off = nk_le32(b + 12);
        o->seg = nk_le16(b + 16);
        o->length = nk_le16(b + 18);
        o->name = sym_name(p, b, n, 21, k == 0x0206);
        o->has_rva = nk_pdb_seg_to_rva(p, o->seg, o->off, &o->rva);
    } else if (k == NK_S_BLOCK32 || k == 0x0207) {
        if (n < 18) return false;
        o->end_off = nk_le32(b + 4);
        o->length = nk_le32(b + 8);
        o->off = nk_le32(b + 12);
        o->seg = nk_le16(b + 16);
        o->name = sym_name(p, b, n, 18, k == 0x0207);
        o->has_rva = nk_pdb_seg_to_rva(p, o->seg, o->off, &o->rva);
    } else if (k == NK_S_LDATA32 || k == NK_S_GDATA32 || k == NK_S_LTHREAD32 || k == NK_S_GTHREAD32 ||
               k == 0x1007 || k == 0x1008 || k == 0x100e || k == 0x100f) {
        if (n < 10) return false;
        o->type_ti = nk_le32(b);
        o->off = nk_le32(b + 4);
        o->seg = nk_le16(b + 8);
        o->name = sym_name(p, b, n, 10, k < 0x1100);
        if (k != NK_S_LTHREAD32 && k != NK_S_GTHREAD32 && k != 0x100e && k != 0x100f)
            o->has_rva = nk_pdb_seg_to_rva(p, o->seg, o->off, &o->rva);
    } else if (k == NK_S_LABEL32) {
        if (n < 7) return false;
        o->off = nk_le32(b);
        o->seg = nk_le16(b + 4);
        o->name = sym_name(p, b, n, 7, false);
        o->has_rva = nk_pdb_seg_to_rva(p, o->seg, o->off, &o->rva);
    } else if (k == NK_S_FRAMEPROC) {
        if (n < 26) return false;
        o->frame_size = nk_le32(b);
        o->pad_size = nk_le32(b + 4);
        o->pad_off = nk_le32(b + 8);
        o->saved_regs_size = nk_le32(b + 12);
        o->frame_flags = nk_le32(b + 22);
    } else if (opens_scope(k)) {
        if (n >= 8) o->end_off = nk_le32(b + 4);
    }
    return true;
}

/* The symbol stream and byte count of a module (stream NK_PDB_NO_STREAM when none). */
static nk_status modsyms_stream(nk_pdb *p, size_t mod, uint16_t *stream, uint32_t *size)
{
    *stream = NK_PDB_NO_STREAM;
    *size = 0;
    nk_status st = pdb_modules_load(p);
    if (st != NTKD_OK) return st;
    if (mod >= p->nmods) return nk_fail(p->ctx, NTKD_E_NOTFOUND, "%s: no module %zu", p->name, mod);
    const nk_pdb_module *m = &p->mods[mod];
    if (m->sym_stream == 0xffff || m->sym_bytes < 4) return NTKD_OK;
    uint8_t sg[4];
    if (!pdb_read_small(p, m->sym_stream, 0, sg, 4))
        return nk_fail(p->ctx, NTKD_E_TRUNCATED, "%s: module %zu stream %u: symbols unreadable", p->name, mod, m->sym_stream);
    uint32_t sig = nk_le32(sg);
    if (sig != 4 && sig != 1 && sig != 2)
        return nk_fail(p->ctx, NTKD_E_UNSUPPORTED, "%s: module %zu stream %u at 0 (file offset 0x%llx): symbol signature %u unknown",
                       p->name, mod, m->sym_stream, (unsigned long long)pdb_file_off(p, m->sym_stream, 0), sig);
    *stream = m->sym_stream;
    *size = m->sym_bytes;
    return NTKD_OK;
}

nk_status nk_pdb_modsyms_begin(nk_pdb *p, size_t mod, nk_pdb_modsym_iter *it)
{
    memset(it, 0, sizeof *it);
    it->p = p;
    it->mod = mod;
    it->pos = 4;
    nk_status st = modsyms_stream(p, mod, &it->stream, &it->size);
    it->status = st;
    return st;
}

bool nk_pdb_modsyms_next(nk_pdb_modsym_iter *it, nk_pdb_modsym *out)
{
    nk_pdb *p = it->p;
    if (it->stream == NK_PDB_NO_STREAM || it->status != NTKD_OK || it->pos + 4 > it->size) return false;
    if (++it->count > MAX_SYMS) {
        it->status = nk_fail(p->ctx, NTKD_E_FORMAT, "%s: module %zu: too many symbols", p->name, it->mod);
        return false;
    }
    uint32_t next;
    if (!modsym_decode(p, it->stream, it->size, it->pos, out, &next)) {
        it->status = nk_fail(p->ctx, NTKD_E_FORMAT,
                             "%s: module %zu stream %u at 0x%x (file offset 0x%llx): malformed symbol record",
                             p->name, it->mod, it->stream, it->pos, (unsigned long long)pdb_file_off(p, it->stream, it->pos));
        return false;
    }
    if (closes_scope(out->kind) && it->depth) it->depth--;
    out->depth = it->depth;
    if (opens_scope(out->kind)) it->depth++;
    it->pos = next;
    return true;
}

/* ---- function index ----------------------------------------------------------------- */

static int cmp_func(const void *a, const void *b)
{
    const pdb_func *x = a, *y = b;
    if (x->rva != y->rva) return x->rva < y->rva ? -1 : 1;
    if (x->module != y->module) return x->module < y->module ? -1 : 1;
    return x->sym_off < y->sym_off ? -1 : x->sym_off > y->sym_off;
}

nk_status pdb_funcs_load(nk_pdb *p)
{
    pdb_part *pt = &p->func_part;
    if (pt->state > 0) return NTKD_OK;
    if (pt->state < 0) return pdb_part_replay(p, pt);
    nk_status st = pdb_modules_load(p);
    if (st == NTKD_OK) st = pdb_sections_load(p);
    if (st != NTKD_OK) return pdb_part_take(p, pt, st);
    size_t cap = 0, ncap = 0;
    for (size_t m = 0; m < p->nmods; m++) {
        uint16_t ms;
        uint32_t size;
        st = modsyms_stream(p, m, &ms, &size);
        if (st != NTKD_OK) return pdb_part_take(p, pt, st);
        uint32_t pos = 4, depth = 0, count = 0;
        size_t cur = SIZE_MAX; /* index of the top-level procedure being walked */
        while (ms != NK_PDB_NO_STREAM && pos + 4 <= size) {
            nk_pdb_modsym s;
            uint32_t next;
            if (++count > MAX_SYMS || !modsym_decode(p, ms, size, pos, &s, &next)) {
                uint16_t sn = ms;
                return pdb_part_fail(p, pt, NTKD_E_FORMAT,
                                     "module %zu stream %u at 0x%x (file offset 0x%llx): malformed symbol record",
                                     m, sn, pos, (unsigned long long)pdb_file_off(p, sn, pos));
            }
            if (closes_scope(s.kind) && depth) depth--;
            if ((is_proc(s.kind) || s.kind == NK_S_THUNK32 || s.kind == 0x0206) && s.has_rva && s.name) {
                if (!nk_grow((void **)&p->funcs, &cap, p->nfuncs + 1, sizeof *p->funcs))
                    return pdb_part_fail(p, pt, NTKD_E_NOMEM, "out of memory");
                size_t l = strlen(s.name);
                if (!nk_grow((void **)&p->func_names, &ncap, p->func_names_len + l + 1, 1))
                    return pdb_part_fail(p, pt, NTKD_E_NOMEM, "out of memory");
                memcpy(p->func_names + p->func_names_len, s.name, l + 1);
                pdb_func *f = &p->funcs[p->nfuncs];
                memset(f, 0, sizeof *f);
                f->rva = s.rva;
                f->size = s.length;
                f->name_off = (uint32_t)p->func_names_len;
                f->kind = s.kind;
                f->module = (uint16_t)m;
                f->type_ti = s.type_ti;
                f->sym_off = s.rec_off;
                p->func_names_len += l + 1;
                if (depth == 0 && is_proc(s.kind)) cur = p->nfuncs;
                p->nfuncs++;
            } else if (s.kind == NK_S_FRAMEPROC && cur != SIZE_MAX && depth >= 1) {
                pdb_func *f = &p->funcs[cur];
                if (!f->has_frame) {
                    f->has_frame = true;
                    f->frame_size = s.frame_size;
                    f->saved_regs_size = s.saved_regs_size;
                    f->frame_flags = s.frame_flags;
                }
            }
            if (opens_scope(s.kind)) depth++;
            if (depth == 0) cur = SIZE_MAX;
            pos = next;
        }
        /* read once for the index: not kept resident */
        if (ms != NK_PDB_NO_STREAM) pdb_release(p, ms, 0, size);
    }
    nk_sort(p->funcs, p->nfuncs, sizeof *p->funcs, cmp_func);
    pt->state = 1;
    return NTKD_OK;
}

static void func_out(const nk_pdb *p, const pdb_func *f, nk_pdb_func *o)
{
    o->name = p->func_names + f->name_off;
    o->rva = f->rva;
    o->size = f->size;
    o->kind = f->kind;
    o->module = f->module;
    o->type_ti = f->type_ti;
    o->sym_off = f->sym_off;
    o->has_frame = f->has_frame;
    o->frame_size = f->frame_size;
    o->saved_regs_size = f->saved_regs_size;
    o->frame_flags = f->frame_flags;
}

nk_status nk_pdb_func_count(nk_pdb *p, size_t *count)
{
    *count = 0;
    nk_status st = pdb_funcs_load(p);
    if (st == NTKD_OK) *count = p->nfuncs;
    return st;
}

nk_status nk_pdb_func_get(nk_pdb *p, size_t i, nk_pdb_func *out)
{
    nk_status st = pdb_funcs_load(p);
    if (st != NTKD_OK) return st;
    if (i >= p->nfuncs) return nk_fail(p->ctx, NTKD_E_NOTFOUND, "%s: no function %zu", p->name, i);
    func_out(p, &p->funcs[i], out);
    return NTKD_OK;
}

nk_status nk_pdb_func_by_rva(nk_pdb *p, uint32_t rva, nk_pdb_func *out)
{
    if (p->func_part.state != 1) {
        nk_status st = pdb_funcs_load(p);
        if (st != NTKD_OK) return st;
    }
    size_t lo = 0, hi = p->nfuncs;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        if (p->funcs[mid].rva <= rva) lo = mid + 1;
        else hi = mid;
    }
    /* the nearest starts first; a thunk or nested procedure may start before and end after */
    for (size_t i = lo, k = 0; i > 0 && k < 16; i--, k++) {
        const pdb_func *f = &p->funcs[i - 1];
        if (rva - f->rva < f->size) {
            /* among equal starts take the first (sorted by module, record) */
            size_t j = i - 1;
            while (j > 0 && p->funcs[j - 1].rva == f->rva && rva - p->funcs[j - 1].rva < p->funcs[j - 1].size) j--;
            func_out(p, &p->funcs[j], out);
            return NTKD_OK;
        }
    }
    return nk_fail(p->ctx, NTKD_E_NOTFOUND, "%s: no function holds RVA 0x%x", p->name, rva);
}

nk_status nk_pdb_addr_lookup(nk_pdb *p, uint32_t rva, nk_pdb_addr_sym *out)
{
    memset(out, 0, sizeof *out);
    nk_pdb_func f;
    if (nk_pdb_func_by_rva(p, rva, &f) == NTKD_OK) {
        out->name = f.name;
        out->start = f.rva;
        out->disp = rva - f.rva;
        out->size = f.size;
        out->is_function = true;
        return NTKD_OK;
    }
    nk_pdb_public pb;
    uint32_t disp;
    nk_status st = nk_pdb_public_by_rva(p, rva, &pb, &disp);
    if (st != NTKD_OK) return st;
    out->name = pb.name;
    out->start = pb.rva;
    out->disp = disp;
    return NTKD_OK;
}
