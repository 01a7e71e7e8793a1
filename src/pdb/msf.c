/* msf.c: the MSF 7.0 container of a PDB (superblock, stream directory, block lists, a
 * reader that copies across block boundaries), the PDB info stream (identity, named
 * streams, feature codes), the /names string table, and the handle's life cycle. */
#include "pdb/pdb_int.h"

#include <stdio.h>
#include <stdlib.h>
#include <sys/mman.h>
#include <unistd.h>

#define MSF_MAGIC "Microsoft C/C++ MSF 7.00\r\n\x1a" "DS\0\0\0"
#define MSF_MAGIC_LEN 32
#define JG_MAGIC "Microsoft C/C++ program database 2.00\r\n\x1a" "JG"

/* The MSF superblock as stored at offset 0. */
typedef struct msf_super {
    uint8_t magic[32];
    uint32_t block_size;
    uint32_t fpm_block;
    uint32_t num_blocks;
    uint32_t dir_bytes;
    uint32_t unknown;
    uint32_t block_map_addr;
} msf_super;
_Static_assert(sizeof(msf_super) == 56, "MSF superblock is 56 bytes");
_Static_assert(offsetof(msf_super, block_map_addr) == 52, "block map address at 52");

/* Hard caps against hostile sizes. */
#define MAX_STREAMS 0x100000u
#define MAX_NAMED 0x10000u

/* ---- errors and strings ------------------------------------------------------------ */

nk_status pdb_part_fail(nk_pdb *p, pdb_part *part, nk_status st, const char *fmt, ...)
{
    char msg[400];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    nk_fail(p->ctx, st, "%s: %s", p->name, msg);
    if (part) {
        part->state = -1;
        part->err = st;
        free(part->msg);
        part->msg = strdup(p->ctx ? p->ctx->errmsg : msg);
    }
    return st;
}

nk_status pdb_part_take(nk_pdb *p, pdb_part *part, nk_status st)
{
    part->state = -1;
    part->err = st;
    free(part->msg);
    part->msg = p->ctx ? strdup(p->ctx->errmsg) : NULL;
    return st;
}

nk_status pdb_part_replay(nk_pdb *p, const pdb_part *part)
{
    if (part->msg) nk_fail(p->ctx, part->err, "%s", part->msg);
    else nk_fail(p->ctx, part->err, "%s: unreadable part", p->name);
    return part->err;
}

void pdb_part_free(pdb_part *part)
{
    free(part->msg);
    memset(part, 0, sizeof *part);
}

const char *pdb_stream_label(const nk_pdb *p, uint32_t s)
{
    if (s == 1) return "PDB info";
    if (s == 2) return "TPI";
    if (s == 3) return "DBI";
    if (s == 4) return "IPI";
    if (p->info.dbi_present) {
        if (s == p->info.gsi_stream) return "globals";
        if (s == p->info.psi_stream) return "publics";
        if (s == p->info.symrec_stream) return "symbol records";
    }
    for (unsigned i = 0; i < NK_DBG_COUNT; i++)
        if (p->dbg[i] == s) {
            static const char *const names[NK_DBG_COUNT] = {
                "FPO", "exception", "fixup", "OMAP to source", "OMAP from source",
                "section headers", "token RID map", "xdata", "pdata", "FrameData",
                "original section headers"};
            return names[i];
        }
    return "";
}

uint64_t pdb_file_off(const nk_pdb *p, uint32_t stream, uint32_t off)
{
    if (stream >= p->nstreams) return 0;
    const pdb_stream *s = &p->streams[stream];
    uint32_t bi = off / p->block_size;
    if (bi >= s->nblocks) return 0;
    return (uint64_t)nk_le32(s->blocks + 4 * bi) * p->block_size + off % p->block_size;
}

static char *arena_alloc(pdb_arena *a, size_t len)
{
    if (len + 1 > a->left) {
        size_t sz = len + 1 > 4096 ? len + 1 : 4096;
        char *b = malloc(sz);
        if (!b) return NULL;
        if (!nk_grow((void **)&a->blocks, &a->cap, a->nblocks + 1, sizeof *a->blocks)) {
            free(b);
            return NULL;
        }
        a->blocks[a->nblocks++] = b;
        a->cur = b;
        a->left = sz;
    }
    char *r = a->cur;
    a->cur += len + 1;
    a->left -= len + 1;
    return r;
}

static size_t intern_slot(const pdb_arena *a, const uint8_t *key)
{
    uint64_t h = (uint64_t)(uintptr_t)key * 0x9E3779B97F4A7C15ull;
    return (size_t)(h >> 20) & (a->icap - 1);
}

const char *pdb_arena_str(nk_pdb *p, const uint8_t *s, size_t len)
{
    pdb_arena *a = &p->arena;
    if (a->icap) {
        for (size_t i = intern_slot(a, s);; i = (i + 1) & (a->icap - 1)) {
            if (!a->ikeys[i]) break;
            if (a->ikeys[i] == s) return a->ivals[i];
        }
    }
    if ((a->icount + 1) * 2 > a->icap) { /* grow and rehash */
        size_t ncap = a->icap ? a->icap * 2 : 256;
        const uint8_t **nk = calloc(ncap, sizeof *nk);
        const char **nv = calloc(ncap, sizeof *nv);
        if (!nk || !nv) {
            free(nk);
            free(nv);
            return NULL;
        }
        pdb_arena old = *a;
        a->ikeys = nk;
        a->ivals = nv;
        a->icap = ncap;
        for (size_t i = 0; i < old.icap; i++) {
            if (!old.ikeys[i]) continue;
            size_t j = intern_slot(a, old.ikeys[i]);
            while (a->ikeys[j]) j = (j + 1) & (ncap - 1);
            a->ikeys[j] = old.ikeys[i];
            a->ivals[j] = old.ivals[i];
        }
        free(old.ikeys);
        free(old.ivals);
    }
    char *r = arena_alloc(a, len);
    if (!r) return NULL;
    memcpy(r, s, len);
    r[len] = 0;
    size_t j = intern_slot(a, s);
    while (a->ikeys[j]) j = (j + 1) & (a->icap - 1);
    a->ikeys[j] = s;
    a->ivals[j] = r;
    a->icount++;
    return r;
}

uint32_t pdb_hash_v1(const char *s, size_t len)
{
    const uint8_t *b = (const uint8_t *)s;
    uint32_t h = 0;
    size_t i = 0;
    for (; i + 4 <= len; i += 4) h ^= nk_le32(b + i);
    if (len - i >= 2) {
        h ^= nk_le16(b + i);
        i += 2;
    }
    if (len - i == 1) h ^= b[i];
    h |= 0x20202020u;
    h ^= h >> 11;
    return h ^ (h >> 16);
}

bool pdb_numeric(const uint8_t *b, uint32_t end, uint32_t *pos, uint64_t *val, bool *neg)
{
    uint32_t o = *pos;
    if (!nk_in_bounds(end, o, 2)) return false;
    uint16_t leaf = nk_le16(b + o);
    o += 2;
    *neg = false;
    if (leaf < 0x8000) {
        *val = leaf;
        *pos = o;
        return true;
    }
    uint32_t n = 0;
    switch (leaf) {
    case 0x8000: /* LF_CHAR */
        if (!nk_in_bounds(end, o, 1)) return false;
        { int8_t v = (int8_t)b[o]; *neg = v < 0; *val = (uint64_t)(int64_t)v; }
        *pos = o + 1;
        return true;
    case 0x8001: /* LF_SHORT */
        if (!nk_in_bounds(end, o, 2)) return false;
        { int16_t v = (int16_t)nk_le16(b + o); *neg = v < 0; *val = (uint64_t)(int64_t)v; }
        *pos = o + 2;
        return true;
    case 0x8002: /* LF_USHORT */
        if (!nk_in_bounds(end, o, 2)) return false;
        *val = nk_le16(b + o);
        *pos = o + 2;
        return true;
    case 0x8003: /* LF_LONG */
        if (!nk_in_bounds(end, o, 4)) return false;
        { int32_t v = (int32_t)nk_le32(b + o); *neg = v < 0; *val = (uint64_t)(int64_t)v; }
        *pos = o + 4;
        return true;
    case 0x8004: /* LF_ULONG */
        if (!nk_in_bounds(end, o, 4)) return false;
        *val = nk_le32(b + o);
        *pos = o + 4;
        return true;
    case 0x8009: /* LF_QUADWORD */
        if (!nk_in_bounds(end, o, 8)) return false;
        *val = nk_le64(b + o);
        *neg = (int64_t)*val < 0;
        *pos = o + 8;
        return true;
    case 0x800a: /* LF_UQUADWORD */
        if (!nk_in_bounds(end, o, 8)) return false;
        *val = nk_le64(b + o);
        *pos = o + 8;
        return true;
    case 0x8017: /* LF_OCTWORD: low 64 bits, sign from the top byte */
    case 0x8018: /* LF_UOCTWORD */
        if (!nk_in_bounds(end, o, 16)) return false;
        *val = nk_le64(b + o);
        *neg = leaf == 0x8017 && (b[o + 15] & 0x80);
        *pos = o + 16;
        return true;
    case 0x8005: n = 4; break;  /* LF_REAL32 */
    case 0x8006: n = 8; break;  /* LF_REAL64 */
    case 0x8007: n = 10; break; /* LF_REAL80 */
    case 0x8008: n = 16; break; /* LF_REAL128 */
    case 0x800b: n = 6; break;  /* LF_REAL48 */
    case 0x800c: n = 8; break;  /* LF_COMPLEX32 */
    case 0x800d: n = 16; break; /* LF_COMPLEX64 */
    case 0x800e: n = 20; break; /* LF_COMPLEX80 */
    case 0x800f: n = 32; break; /* LF_COMPLEX128 */
    case 0x8019: n = 16; break; /* LF_DECIMAL */
    case 0x801a: n = 8; break;  /* LF_DATE */
    case 0x801c: n = 2; break;  /* LF_REAL16 */
    case 0x8010: /* LF_VARSTRING: u16 length + bytes */
        if (!nk_in_bounds(end, o, 2)) return false;
        n = 2u + nk_le16(b + o);
        break;
    case 0x801b: { /* LF_UTF8STRING: NUL-terminated */
        uint32_t after;
        if (!pdb_cstr(b, o, end, &after)) return false;
        *val = 0;
        *pos = after;
        return true;
    }
    default:
        return false;
    }
    if (!nk_in_bounds(end, o, n)) return false;
    *val = 0; /* real and other non-integer values read as 0 */
    *pos = o + n;
    return true;
}

/* ---- streams ----------------------------------------------------------------------- */

uint32_t nk_pdb_stream_count(const nk_pdb *p) { return p->nstreams; }

uint32_t nk_pdb_stream_size(const nk_pdb *p, uint32_t idx)
{
    return idx < p->nstreams ? p->streams[idx].size : 0;
}

nk_status nk_pdb_stream_read(nk_pdb *p, uint32_t idx, uint64_t off, void *buf, size_t len)
{
    if (idx >= p->nstreams)
        return nk_fail(p->ctx, NTKD_E_NOTFOUND, "%s: no stream %u (the PDB has %u)", p->name,
                       idx, p->nstreams);
    const pdb_stream *s = &p->streams[idx];
    if (!nk_in_bounds(s->size, off, len))
        return nk_fail(p->ctx, NTKD_E_TRUNCATED,
                       "%s: read of 0x%zx bytes at 0x%llx past the end of stream %u (%s, 0x%x bytes)",
                       p->name, len, (unsigned long long)off, idx, pdb_stream_label(p, idx), s->size);
    uint8_t *o = buf;
    const uint32_t bs = p->block_size;
    while (len) {
        uint32_t bi = (uint32_t)(off / bs), bo = (uint32_t)(off % bs);
        size_t n = bs - bo;
        if (n > len) n = len;
        uint64_t fo = (uint64_t)nk_le32(s->blocks + 4 * bi) * bs + bo;
        memcpy(o, p->file.data + fo, n); /* every block index was checked at open */
        o += n;
        off += n;
        len -= n;
    }
    return NTKD_OK;
}

const uint8_t *nk_pdb_stream_ptr(nk_pdb *p, uint32_t idx, uint64_t off, size_t len)
{
    if (idx >= p->nstreams) return NULL;
    const pdb_stream *s = &p->streams[idx];
    if (!nk_in_bounds(s->size, off, len)) return NULL;
    if (s->data) return s->data + off;
    if (len == 0) return p->file.data;
    const uint32_t bs = p->block_size;
    uint32_t b0 = (uint32_t)(off / bs), b1 = (uint32_t)((off + len - 1) / bs);
    uint32_t first = nk_le32(s->blocks + 4 * b0);
    for (uint32_t b = b0 + 1; b <= b1; b++)
        if (nk_le32(s->blocks + 4 * b) != first + (b - b0)) return NULL;
    return p->file.data + (uint64_t)first * bs + off % bs;
}

nk_status nk_pdb_stream_data(nk_pdb *p, uint32_t idx, const uint8_t **data, uint32_t *size)
{
    static const uint8_t empty[1] = {0};
    if (idx >= p->nstreams)
        return nk_fail(p->ctx, NTKD_E_NOTFOUND, "%s: no stream %u (the PDB has %u)", p->name,
                       idx, p->nstreams);
    pdb_stream *s = &p->streams[idx];
    if (!s->loaded) {
        if (s->size == 0) s->data = empty;
        else if (s->contiguous) s->data = p->file.data + (uint64_t)nk_le32(s->blocks) * p->block_size;
        else {
            s->copy = malloc(s->size);
            if (!s->copy)
                return nk_fail(p->ctx, NTKD_E_NOMEM, "%s: out of memory for stream %u (0x%x bytes)",
                               p->name, idx, s->size);
            nk_status st = nk_pdb_stream_read(p, idx, 0, s->copy, s->size);
            if (st != NTKD_OK) {
                free(s->copy);
                s->copy = NULL;
                return st;
            }
            s->data = s->copy;
        }
        s->loaded = true;
    }
    *data = s->data;
    *size = s->size;
    return NTKD_OK;
}

static size_t view_slot(const nk_pdb *p, uint64_t key)
{
    return (size_t)((key * 0x9E3779B97F4A7C15ull) >> 24) & (p->vcap - 1);
}

const uint8_t *pdb_view(nk_pdb *p, uint32_t si, uint32_t off, uint32_t len)
{
    static const uint8_t empty[1] = {0};
    if (si >= p->nstreams) return NULL;
    pdb_stream *s = &p->streams[si];
    if (!nk_in_bounds(s->size, off, len)) return NULL;
    if (s->data) return s->data + off;
    if (len == 0) return empty;
    const uint32_t bs = p->block_size;
    uint32_t b0 = off / bs, b1 = (uint32_t)(((uint64_t)off + len - 1) / bs);
    uint32_t first = nk_le32(s->blocks + 4 * b0);
    uint32_t b = b0 + 1;
    while (b <= b1 && nk_le32(s->blocks + 4 * b) == first + (b - b0)) b++;
    if (b > b1) return p->file.data + (uint64_t)first * bs + off % bs;
    /* scattered: one copy per (stream, offset, length) */
    uint64_t key = ((uint64_t)si << 32) | off;
    if (p->vcap) {
        for (size_t i = view_slot(p, key);; i = (i + 1) & (p->vcap - 1)) {
            if (!p->views[i].key) break;
            if (p->views[i].key == key && p->views[i].len == len) return p->views[i].ptr;
        }
    }
    if ((p->vcount + 1) * 2 > p->vcap) {
        size_t ncap = p->vcap ? p->vcap * 2 : 64;
        pdb_view_ent *nv = calloc(ncap, sizeof *nv);
        if (!nv) return NULL;
        pdb_view_ent *old = p->views;
        size_t ocap = p->vcap;
        p->views = nv;
        p->vcap = ncap;
        for (size_t i = 0; i < ocap; i++) {
            if (!old[i].key) continue;
            size_t j = view_slot(p, old[i].key);
            while (p->views[j].key) j = (j + 1) & (ncap - 1);
            p->views[j] = old[i];
        }
        free(old);
    }
    uint8_t *copy = (uint8_t *)arena_alloc(&p->arena, len);
    if (!copy || nk_pdb_stream_read(p, si, off, copy, len) != NTKD_OK) return NULL;
    size_t j = view_slot(p, key);
    while (p->views[j].key) j = (j + 1) & (p->vcap - 1);
    p->views[j].key = key;
    p->views[j].len = len;
    p->views[j].ptr = copy;
    p->vcount++;
    return copy;
}

bool pdb_read_small(nk_pdb *p, uint32_t si, uint32_t off, void *buf, uint32_t len)
{
    if (si >= p->nstreams) return false;
    const pdb_stream *s = &p->streams[si];
    if (!nk_in_bounds(s->size, off, len)) return false;
    if (s->data) {
        memcpy(buf, s->data + off, len);
        return true;
    }
    const uint32_t bs = p->block_size;
    if (off % bs + len <= bs) {
        memcpy(buf, p->file.data + (uint64_t)nk_le32(s->blocks + 4 * (off / bs)) * bs + off % bs, len);
        return true;
    }
    return nk_pdb_stream_read(p, si, off, buf, len) == NTKD_OK;
}

void pdb_release(nk_pdb *p, uint32_t si, uint32_t off, uint32_t len)
{
    if (p->file.borrowed || !p->file.data || si >= p->nstreams) return;
    const pdb_stream *s = &p->streams[si];
    if (s->data || !nk_in_bounds(s->size, off, len) || !len) return;
    long pg = sysconf(_SC_PAGESIZE);
    const uint32_t bs = p->block_size;
    if (pg <= 0 || bs % (uint32_t)pg) return; /* blocks smaller than a page share pages */
    for (uint32_t b = off / bs; b <= (uint32_t)(((uint64_t)off + len - 1) / bs); b++) {
        uint64_t fo = (uint64_t)nk_le32(s->blocks + 4 * b) * bs;
        madvise((void *)(uintptr_t)(p->file.data + fo), bs, MADV_DONTNEED);
    }
}

/* ---- directory ---------------------------------------------------------------------- */

static nk_status msf_open(nk_pdb *p)
{
    const nk_file *f = &p->file;
    if (f->size >= sizeof JG_MAGIC - 1 && memcmp(f->data, JG_MAGIC, sizeof JG_MAGIC - 1) == 0)
        return nk_fail(p->ctx, NTKD_E_UNSUPPORTED,
                       "%s: PDB 2.00 format (\"Microsoft C/C++ program database 2.00\", "
                       "VC++ 6 and older) is not supported; only MSF 7.0 PDBs are read",
                       p->name);
    if (f->size < sizeof(msf_super))
        return nk_fail(p->ctx, NTKD_E_TRUNCATED,
                       "%s: %llu bytes is too short for an MSF superblock (56 bytes at offset 0)",
                       p->name, (unsigned long long)f->size);
    if (memcmp(f->data, MSF_MAGIC, MSF_MAGIC_LEN) != 0)
        return nk_fail(p->ctx, NTKD_E_FORMAT,
                       "%s: not a PDB: no \"Microsoft C/C++ MSF 7.00\" signature at offset 0",
                       p->name);
    const uint8_t *sb = f->data;
    uint32_t bs = nk_le32(sb + 32), nblocks = nk_le32(sb + 40), dir_bytes = nk_le32(sb + 44),
             map_addr = nk_le32(sb + 52);
    if (bs < 512 || bs > 65536 || (bs & (bs - 1)))
        return nk_fail(p->ctx, NTKD_E_FORMAT,
                       "%s: superblock at 0x20: block size %u is not a power of two in 512..65536",
                       p->name, bs);
    if (nblocks == 0 || (uint64_t)nblocks * bs > f->size)
        return nk_fail(p->ctx, NTKD_E_TRUNCATED,
                       "%s: superblock at 0x28: %u blocks of %u bytes (%llu bytes) but the file has "
                       "%llu bytes (truncated?)",
                       p->name, nblocks, bs, (unsigned long long)nblocks * bs,
                       (unsigned long long)f->size);
    p->block_size = bs;
    p->num_blocks = nblocks;
    p->info.block_size = bs;
    p->info.num_blocks = nblocks;
    if (dir_bytes < 4 || dir_bytes > (uint64_t)nblocks * bs)
        return nk_fail(p->ctx, NTKD_E_FORMAT,
                       "%s: superblock at 0x2c: stream directory size %u is impossible", p->name,
                       dir_bytes);
    uint32_t ndirb = (uint32_t)(((uint64_t)dir_bytes + bs - 1) / bs);
    if (map_addr == 0 || map_addr >= nblocks ||
        !nk_in_bounds((uint64_t)nblocks * bs, (uint64_t)map_addr * bs, (uint64_t)ndirb * 4))
        return nk_fail(p->ctx, NTKD_E_FORMAT,
                       "%s: superblock at 0x34: block map address %u is outside the %u blocks",
                       p->name, map_addr, nblocks);
    p->dir = malloc(dir_bytes);
    if (!p->dir) return nk_fail(p->ctx, NTKD_E_NOMEM, "%s: out of memory", p->name);
    p->dir_size = dir_bytes;
    const uint8_t *map = f->data + (uint64_t)map_addr * bs;
    for (uint32_t i = 0; i < ndirb; i++) {
        uint32_t b = nk_le32(map + 4 * i);
        if (b == 0 || b >= nblocks)
            return nk_fail(p->ctx, NTKD_E_FORMAT,
                           "%s: directory block map at 0x%llx: entry %u is block %u, outside the %u blocks",
                           p->name, (unsigned long long)map_addr * bs + 4 * i, i, b, nblocks);
        uint32_t n = dir_bytes - i * bs < bs ? dir_bytes - i * bs : bs;
        memcpy(p->dir + (size_t)i * bs, f->data + (uint64_t)b * bs, n);
    }
    /* directory: count, sizes, block lists */
    const uint8_t *d = p->dir;
    uint32_t ns = nk_le32(d);
    if (ns == 0 || ns > MAX_STREAMS || (uint64_t)4 + 4ull * ns > dir_bytes)
        return nk_fail(p->ctx, NTKD_E_FORMAT,
                       "%s: stream directory (file offset 0x%llx): %u streams do not fit in its %u bytes",
                       p->name, (unsigned long long)nk_le32(map) * bs, ns, dir_bytes);
    p->streams = calloc(ns, sizeof *p->streams);
    if (!p->streams) return nk_fail(p->ctx, NTKD_E_NOMEM, "%s: out of memory", p->name);
    p->nstreams = ns;
    p->info.num_streams = ns;
    uint64_t pos = 4 + 4ull * ns;
    for (uint32_t i = 0; i < ns; i++) {
        uint32_t sz = nk_le32(d + 4 + 4 * i);
        pdb_stream *s = &p->streams[i];
        if (sz == 0xffffffffu) sz = 0; /* nil stream */
        uint32_t nb = (uint32_t)(((uint64_t)sz + bs - 1) / bs);
        if (!nk_in_bounds(dir_bytes, pos, 4ull * nb))
            return nk_fail(p->ctx, NTKD_E_FORMAT,
                           "%s: stream directory at 0x%llx: stream %u (%u bytes) needs %u block "
                           "indexes past the directory's end (%u bytes)",
                           p->name, (unsigned long long)pos, i, sz, nb, dir_bytes);
        s->size = sz;
        s->nblocks = nb;
        s->blocks = d + pos;
        s->contiguous = true;
        for (uint32_t j = 0; j < nb; j++) {
            uint32_t b = nk_le32(d + pos + 4 * j);
            if (b >= nblocks)
                return nk_fail(p->ctx, NTKD_E_FORMAT,
                               "%s: stream directory at 0x%llx: block %u of stream %u is %u, "
                               "outside the file's %u blocks",
                               p->name, (unsigned long long)(pos + 4 * j), j, i, b, nblocks);
            if (j && b != nk_le32(d + pos + 4 * (j - 1)) + 1) s->contiguous = false;
        }
        pos += 4ull * nb;
    }
    return NTKD_OK;
}

/* ---- PDB info stream ---------------------------------------------------------------- */

static nk_status info_open(nk_pdb *p)
{
    if (p->nstreams < 2 || p->streams[1].size == 0)
        return nk_fail(p->ctx, NTKD_E_FORMAT, "%s: no PDB info stream (stream 1)", p->name);
    const uint8_t *d = NULL;
    uint32_t n = 0;
    nk_status st = nk_pdb_stream_data(p, 1, &d, &n);
    if (st != NTKD_OK) return st;
#define INFO_FAIL(off, ...)                                                                    \
    nk_fail(p->ctx, NTKD_E_FORMAT, "%s: PDB info stream at 0x%x (file offset 0x%llx): %s",     \
            p->name, (unsigned)(off), (unsigned long long)pdb_file_off(p, 1, (off)), __VA_ARGS__)
    if (n < 12) return INFO_FAIL(0, "12-byte header truncated");
    p->info.version = nk_le32(d);
    p->info.signature = nk_le32(d + 4);
    p->info.age = nk_le32(d + 8);
    uint32_t pos = 12;
    if (p->info.version >= 20000404u) { /* VC70 and later carry a GUID */
        if (n < 28) return INFO_FAIL(12, "GUID truncated");
        memcpy(p->info.guid, d + 12, 16);
        pos = 28;
    }
    /* named stream map: string buffer, then a hash table of (offset, stream) */
    if (!nk_in_bounds(n, pos, 4)) return NTKD_OK; /* no map at all: tolerated */
    uint32_t sbuf_len = nk_le32(d + pos);
    pos += 4;
    if (!nk_in_bounds(n, pos, sbuf_len)) return INFO_FAIL(pos - 4, "named stream string buffer runs past the end");
    const uint8_t *sbuf = d + pos;
    pos += sbuf_len;
    if (!nk_in_bounds(n, pos, 8)) return INFO_FAIL(pos, "named stream hash table truncated");
    uint32_t hsize = nk_le32(d + pos), hcap = nk_le32(d + pos + 4);
    pos += 8;
    if (hsize > hcap || hcap > MAX_NAMED)
        return INFO_FAIL(pos - 8, "named stream table: size/capacity impossible");
    /* present bit vector */
    if (!nk_in_bounds(n, pos, 4)) return INFO_FAIL(pos, "present bit vector truncated");
    uint32_t pwords = nk_le32(d + pos);
    pos += 4;
    if (pwords > (hcap + 31) / 32 + 1 || !nk_in_bounds(n, pos, 4ull * pwords))
        return INFO_FAIL(pos - 4, "present bit vector size impossible");
    const uint8_t *present = d + pos;
    pos += 4 * pwords;
    if (!nk_in_bounds(n, pos, 4)) return INFO_FAIL(pos, "deleted bit vector truncated");
    uint32_t dwords = nk_le32(d + pos);
    pos += 4;
    if (dwords > (hcap + 31) / 32 + 1 || !nk_in_bounds(n, pos, 4ull * dwords))
        return INFO_FAIL(pos - 4, "deleted bit vector size impossible");
    pos += 4 * dwords;
    uint32_t npresent = 0;
    for (uint32_t i = 0; i < pwords * 32u; i++)
        if (present[i / 8] & (1u << (i % 8))) npresent++;
    if (npresent != hsize) return INFO_FAIL(pos, "named stream table: present bits do not match its size");
    if (!nk_in_bounds(n, pos, 8ull * npresent)) return INFO_FAIL(pos, "named stream entries truncated");
    p->named = calloc(npresent ? npresent : 1, sizeof *p->named);
    if (!p->named) return nk_fail(p->ctx, NTKD_E_NOMEM, "%s: out of memory", p->name);
    for (uint32_t i = 0; i < npresent; i++) {
        uint32_t key = nk_le32(d + pos), val = nk_le32(d + pos + 4);
        const char *nm = pdb_cstr(sbuf, key, sbuf_len, NULL);
        if (!nm) return INFO_FAIL(pos, "named stream entry: name offset outside the string buffer");
        if (val >= p->nstreams) return INFO_FAIL(pos + 4, "named stream entry: stream index past the directory");
        p->named[p->nnamed].name = nm;
        p->named[p->nnamed].stream = val;
        p->nnamed++;
        pos += 8;
    }
    /* a trailing u32 (number of "NMT" entries, always 0) may precede the feature codes */
    for (; pos + 4 <= n; pos += 4) {
        uint32_t code = nk_le32(d + pos);
        if (code == 20091201u || code == 20140508u) p->info.has_ipi = true;
        else if (code == 0x4D544F4Eu) p->info.no_type_merge = true;
        else if (code == 0x494E494Du) p->info.minimal_debug_info = true;
    }
    if (p->info.has_ipi && (p->nstreams <= 4 || p->streams[4].size == 0)) p->info.has_ipi = false;
#undef INFO_FAIL
    return NTKD_OK;
}

uint32_t nk_pdb_named_stream(const nk_pdb *p, const char *name)
{
    for (size_t i = 0; i < p->nnamed; i++)
        if (strcmp(p->named[i].name, name) == 0) return p->named[i].stream;
    return NK_PDB_NO_STREAM;
}

size_t nk_pdb_named_stream_count(const nk_pdb *p) { return p->nnamed; }

bool nk_pdb_named_stream_at(const nk_pdb *p, size_t i, const char **name, uint32_t *stream)
{
    if (i >= p->nnamed) return false;
    *name = p->named[i].name;
    *stream = p->named[i].stream;
    return true;
}

static nk_status names_load(nk_pdb *p)
{
    pdb_part *pt = &p->names_part;
    if (pt->state > 0) return NTKD_OK;
    if (pt->state < 0) return pdb_part_replay(p, pt);
    uint32_t s = nk_pdb_named_stream(p, "/names");
    if (s == NK_PDB_NO_STREAM) {
        p->names_buf = NULL;
        p->names_len = 0;
        pt->state = 1;
        return NTKD_OK;
    }
    uint8_t hdr[12];
    uint32_t n = nk_pdb_stream_size(p, s);
    if (!pdb_read_small(p, s, 0, hdr, 12) || nk_le32(hdr) != 0xEFFEEFFEu)
        return pdb_part_fail(p, pt, NTKD_E_FORMAT,
                             "/names stream %u at 0 (file offset 0x%llx): no 0xEFFEEFFE signature",
                             s, (unsigned long long)pdb_file_off(p, s, 0));
    uint32_t len = nk_le32(hdr + 8);
    if (!nk_in_bounds(n, 12, len))
        return pdb_part_fail(p, pt, NTKD_E_TRUNCATED,
                             "/names stream %u at 8: string buffer of %u bytes runs past the end", s, len);
    p->names_buf = pdb_view(p, s, 12, len);
    if (!p->names_buf) return pdb_part_fail(p, pt, NTKD_E_NOMEM, "out of memory for /names");
    p->names_len = len;
    pt->state = 1;
    return NTKD_OK;
}

const char *nk_pdb_names_str(nk_pdb *p, uint32_t off)
{
    if (names_load(p) != NTKD_OK || !p->names_buf) return NULL;
    return pdb_cstr(p->names_buf, off, p->names_len, NULL);
}

/* ---- handle ------------------------------------------------------------------------- */

const nk_pdb_info *nk_pdb_get_info(const nk_pdb *p) { return &p->info; }
const char *nk_pdb_name(const nk_pdb *p) { return p->name; }

char *nk_pdb_guid_hex(const nk_pdb *p, char *buf)
{
    const uint8_t *g = p->info.guid;
    snprintf(buf, 33, "%08X%04X%04X%02X%02X%02X%02X%02X%02X%02X%02X", nk_le32(g), nk_le16(g + 4),
             nk_le16(g + 6), g[8], g[9], g[10], g[11], g[12], g[13], g[14], g[15]);
    return buf;
}

static nk_status pdb_finish_open(nk_pdb *p, nk_pdb **out)
{
    p->tpi.stream = 2;
    p->tpi.label = "TPI";
    p->ipi.stream = 4;
    p->ipi.label = "IPI";
    for (unsigned i = 0; i < NK_DBG_COUNT; i++) p->dbg[i] = NK_PDB_NO_STREAM;
    p->info.gsi_stream = p->info.psi_stream = p->info.symrec_stream = NK_PDB_NO_STREAM;
    nk_status st = msf_open(p);
    if (st == NTKD_OK) st = info_open(p);
    if (st == NTKD_OK) st = pdb_dbi_open(p);
    if (st != NTKD_OK) {
        nk_pdb_close(p);
        return st;
    }
    *out = p;
    return NTKD_OK;
}

nk_status nk_pdb_open(ntkd_ctx *ctx, const char *path, nk_pdb **out)
{
    *out = NULL;
    nk_pdb *p = calloc(1, sizeof *p);
    if (!p) return nk_fail(ctx, NTKD_E_NOMEM, "%s: out of memory", path);
    p->ctx = ctx;
    nk_status st = nk_file_map(ctx, path, &p->file);
    if (st != NTKD_OK) {
        free(p);
        return st;
    }
    p->name = strdup(nk_file_name(&p->file));
    if (!p->name) {
        nk_file_unmap(&p->file);
        free(p);
        return nk_fail(ctx, NTKD_E_NOMEM, "%s: out of memory", path);
    }
    return pdb_finish_open(p, out);
}

nk_status nk_pdb_open_mem(ntkd_ctx *ctx, const char *name, const void *data, size_t size,
                          nk_pdb **out)
{
    *out = NULL;
    if (!name) name = "(memory)";
    if (!data && size) return nk_fail(ctx, NTKD_E_ARG, "%s: no data", name);
    nk_pdb *p = calloc(1, sizeof *p);
    if (!p) return nk_fail(ctx, NTKD_E_NOMEM, "%s: out of memory", name);
    p->ctx = ctx;
    p->file.data = data;
    p->file.size = size;
    p->file.fd = -1;
    p->file.borrowed = true;
    p->name = strdup(name);
    if (!p->name) {
        free(p);
        return nk_fail(ctx, NTKD_E_NOMEM, "%s: out of memory", name);
    }
    return pdb_finish_open(p, out);
}

void nk_pdb_close(nk_pdb *p)
{
    if (!p) return;
    pdb_sym_free(p);
    pdb_dbi_free(p);
    pdb_tpi_free(&p->tpi);
    pdb_tpi_free(&p->ipi);
    pdb_part_free(&p->names_part);
    for (uint32_t i = 0; i < p->nstreams; i++) free(p->streams[i].copy);
    free(p->streams);
    free(p->dir);
    free(p->named);
    for (size_t i = 0; i < p->arena.nblocks; i++) free(p->arena.blocks[i]);
    free(p->arena.blocks);
    free(p->arena.ikeys);
    free(p->arena.ivals);
    free(p->views);
    nk_file_unmap(&p->file);
    free(p->name);
    free(p);
}

nk_status nk_pdb_load_all(nk_pdb *p)
{
    nk_status first = NTKD_OK;
    char firstmsg[512] = "";
#define STEP(call)                                                                             \
    do {                                                                                       \
        nk_status st_ = (call);                                                                \
        if (st_ != NTKD_OK && first == NTKD_OK) {                                              \
            first = st_;                                                                       \
            if (p->ctx) snprintf(firstmsg, sizeof firstmsg, "%s", p->ctx->errmsg);             \
        }                                                                                      \
    } while (0)
    STEP(names_load(p));
    STEP(pdb_tpi_ready(p, &p->tpi));
    STEP(pdb_tpi_hash_ready(p, &p->tpi));
    STEP(pdb_tpi_ready(p, &p->ipi));
    STEP(pdb_modules_load(p));
    STEP(pdb_fileinfo_load(p));
    STEP(pdb_contribs_load(p));
    STEP(pdb_secmap_load(p));
    STEP(pdb_sections_load(p));
    STEP(pdb_fpo_load(p));
    STEP(pdb_framedata_load(p));
    STEP(pdb_publics_load(p));
    STEP(pdb_pubaddr_load(p));
    STEP(pdb_globals_load(p));
    STEP(pdb_funcs_load(p));
#undef STEP
    if (first != NTKD_OK && p->ctx) nk_fail(p->ctx, first, "%s", firstmsg);
    return first;
}
