/* dbi.c: the DBI stream: header (the -1-signature header of every MSF 7.0 linker, and the
 * old short header), module infos, section contributions, section map, file info, the
 * optional debug header's stream indexes, the section headers (segment:offset to RVA),
 * OMAP, FPO and FrameData records. */
#include "pdb/pdb_int.h"

#include <stdio.h>
#include <stdlib.h>

/* DBI header of MSF 7.0 PDBs (VersionSignature -1). */
typedef struct dbi_header {
    int32_t ver_sig;
    uint32_t ver_hdr, age;
    uint16_t gsi, build, psi, pdb_dll, symrec, rbld;
    int32_t modi, sc, secmap, fileinfo, tsmap;
    uint32_t mfc;
    int32_t dbghdr, ec;
    uint16_t flags, machine;
    uint32_t pad;
} dbi_header;
_Static_assert(sizeof(dbi_header) == 64, "DBI header is 64 bytes");
_Static_assert(offsetof(dbi_header, modi) == 24, "module info size at 24");
_Static_assert(offsetof(dbi_header, flags) == 56, "flags at 56");

/* The fixed part of a module info record. */
typedef struct dbi_modi {
    uint32_t unused1;
    uint8_t sc[28];
    uint16_t flags, stream;
    uint32_t sym_bytes, c11_bytes, c13_bytes;
    uint16_t nfiles, pad;
    uint32_t unused2, src_ni, pdb_ni;
} dbi_modi;
_Static_assert(sizeof(dbi_modi) == 64, "module info fixed part is 64 bytes");

typedef struct img_section {
    uint8_t name[8];
    uint32_t vsize, va, raw_size, raw_ptr, reloc_ptr, lines_ptr;
    uint16_t nrelocs, nlines;
    uint32_t characteristics;
} img_section;
_Static_assert(sizeof(img_section) == 40, "IMAGE_SECTION_HEADER is 40 bytes");

#define MAX_MODULES 0x100000u
#define SC_V60 (0xeffe0000u + 19970605u)
#define SC_V2 (0xeffe0000u + 20140516u)

enum { SUB_MODI, SUB_SC, SUB_SECMAP, SUB_FILEINFO, SUB_TSMAP, SUB_EC, SUB_DBGHDR };

#define DBI_FAIL(part, st, off, ...) dbi_failf(p, part, st, off, __VA_ARGS__)

static nk_status dbi_failf(nk_pdb *p, pdb_part *part, nk_status st, uint32_t off, const char *fmt, ...)
    __attribute__((format(printf, 5, 6)));
static nk_status dbi_failf(nk_pdb *p, pdb_part *part, nk_status st, uint32_t off, const char *fmt, ...)
{
    char msg[300];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    return pdb_part_fail(p, part, st, "DBI stream at 0x%x (file offset 0x%llx): %s", off,
                         (unsigned long long)pdb_file_off(p, 3, off), msg);
}

nk_status pdb_dbi_open(nk_pdb *p)
{
    if (p->nstreams < 4 || p->streams[3].size == 0) return NTKD_OK; /* no DBI: types only */
    uint32_t n = p->streams[3].size;
    uint8_t d[64];
    nk_pdb_info *in = &p->info;
    int32_t sizes[7];
    if (n >= 4 && pdb_read_small(p, 3, 0, d, 4) && nk_le32(d) == 0xffffffffu) {
        if (n < sizeof(dbi_header) || !pdb_read_small(p, 3, 0, d, 64))
            return DBI_FAIL(NULL, NTKD_E_TRUNCATED, 0, "64-byte header truncated (%u bytes)", n);
        in->dbi_new_header = true;
        in->dbi_version = nk_le32(d + 4);
        in->dbi_age = nk_le32(d + 8);
        in->gsi_stream = nk_le16(d + 12);
        uint16_t build = nk_le16(d + 14);
        in->build_major = (build >> 8) & 0x7f;
        in->build_minor = build & 0xff;
        in->psi_stream = nk_le16(d + 16);
        in->pdb_dll_version = nk_le16(d + 18);
        in->symrec_stream = nk_le16(d + 20);
        in->pdb_dll_rbld = nk_le16(d + 22);
        sizes[SUB_MODI] = (int32_t)nk_le32(d + 24);
        sizes[SUB_SC] = (int32_t)nk_le32(d + 28);
        sizes[SUB_SECMAP] = (int32_t)nk_le32(d + 32);
        sizes[SUB_FILEINFO] = (int32_t)nk_le32(d + 36);
        sizes[SUB_TSMAP] = (int32_t)nk_le32(d + 40);
        sizes[SUB_DBGHDR] = (int32_t)nk_le32(d + 48);
        sizes[SUB_EC] = (int32_t)nk_le32(d + 52);
        in->dbi_flags = nk_le16(d + 56);
        in->machine = nk_le16(d + 58);
        p->dbi_hdr_size = 64;
    } else {
        /* the old header: three stream numbers, padding, four substream sizes */
        if (n < 24 || !pdb_read_small(p, 3, 0, d, 24))
            return DBI_FAIL(NULL, NTKD_E_TRUNCATED, 0, "24-byte old header truncated (%u bytes)", n);
        in->gsi_stream = nk_le16(d);
        in->psi_stream = nk_le16(d + 2);
        in->symrec_stream = nk_le16(d + 4);
        sizes[SUB_MODI] = (int32_t)nk_le32(d + 8);
        sizes[SUB_SC] = (int32_t)nk_le32(d + 12);
        sizes[SUB_SECMAP] = (int32_t)nk_le32(d + 16);
        sizes[SUB_FILEINFO] = (int32_t)nk_le32(d + 20);
        sizes[SUB_TSMAP] = sizes[SUB_DBGHDR] = sizes[SUB_EC] = 0;
        p->dbi_hdr_size = 24;
    }
    in->dbi_present = true;
    /* substreams in file order: modi, sc, secmap, fileinfo, tsmap, ec, dbghdr */
    static const int order[7] = {SUB_MODI, SUB_SC, SUB_SECMAP, SUB_FILEINFO, SUB_TSMAP, SUB_EC, SUB_DBGHDR};
    static const char *const names[7] = {"module info", "section contribution", "section map",
                                         "file info", "type server map", "EC", "debug header"};
    uint32_t off = p->dbi_hdr_size;
    for (int i = 0; i < 7; i++) {
        int k = order[i];
        if (sizes[k] < 0 || !nk_in_bounds(n, off, (uint32_t)sizes[k]))
            return DBI_FAIL(NULL, NTKD_E_TRUNCATED, off, "%s substream of %d bytes runs past the stream's %u bytes",
                            names[i], sizes[k], n);
        p->sub_off[k] = off;
        p->sub_len[k] = (uint32_t)sizes[k];
        off += (uint32_t)sizes[k];
    }
    /* optional debug header: u16 stream indexes */
    uint32_t nd = p->sub_len[SUB_DBGHDR] / 2;
    for (uint32_t i = 0; i < NK_DBG_COUNT && i < nd; i++) {
        uint8_t v[2];
        if (!pdb_read_small(p, 3, p->sub_off[SUB_DBGHDR] + 2 * i, v, 2)) break;
        uint16_t s = nk_le16(v);
        p->dbg[i] = (s != 0xffff && s < p->nstreams) ? s : NK_PDB_NO_STREAM;
    }
    if (in->gsi_stream != 0xffff && in->gsi_stream >= p->nstreams) in->gsi_stream = NK_PDB_NO_STREAM;
    if (in->psi_stream != 0xffff && in->psi_stream >= p->nstreams) in->psi_stream = NK_PDB_NO_STREAM;
    if (in->symrec_stream != 0xffff && in->symrec_stream >= p->nstreams) in->symrec_stream = NK_PDB_NO_STREAM;
    return NTKD_OK;
}

/* A DBI substream as one contiguous range (see pdb_view). */
static const uint8_t *dbi_sub(nk_pdb *p, int k)
{
    return pdb_view(p, 3, p->sub_off[k], p->sub_len[k]);
}

void pdb_dbi_free(nk_pdb *p)
{
    pdb_part_free(&p->mod_part);
    pdb_part_free(&p->file_part);
    pdb_part_free(&p->sc_part);
    pdb_part_free(&p->secmap_part);
    pdb_part_free(&p->sect_part);
    pdb_part_free(&p->fpo_part);
    pdb_part_free(&p->fd_part);
    free(p->mods);
    free(p->mod_file_first);
    free(p->sc);
    free(p->sc_sorted);
    free(p->sect);
    free(p->sect_orig);
    free(p->fpo);
    free(p->fd);
}

uint16_t nk_pdb_dbg_stream(nk_pdb *p, unsigned slot)
{
    return slot < NK_DBG_COUNT ? p->dbg[slot] : NK_PDB_NO_STREAM;
}

/* ---- section headers and OMAP --------------------------------------------------------- */

static nk_status read_sections(nk_pdb *p, uint16_t s, nk_pdb_section **out, size_t *count)
{
    *out = NULL;
    *count = 0;
    if (s == NK_PDB_NO_STREAM) return NTKD_OK;
    uint32_t n = nk_pdb_stream_size(p, s);
    if (n % 40)
        return pdb_part_fail(p, &p->sect_part, NTKD_E_FORMAT,
                             "section header stream %u: %u bytes is not a whole number of 40-byte headers", s, n);
    size_t k = n / 40;
    nk_pdb_section *a = calloc(k ? k : 1, sizeof *a);
    if (!a) return pdb_part_fail(p, &p->sect_part, NTKD_E_NOMEM, "out of memory");
    for (size_t i = 0; i < k; i++) {
        uint8_t h[40];
        if (!pdb_read_small(p, s, 40 * (uint32_t)i, h, 40)) {
            free(a);
            return pdb_part_fail(p, &p->sect_part, NTKD_E_TRUNCATED, "section header stream %u: header %zu unreadable", s, i);
        }
        memcpy(a[i].name, h, 8);
        a[i].name[8] = 0;
        a[i].virtual_size = nk_le32(h + 8);
        a[i].rva = nk_le32(h + 12);
        a[i].raw_size = nk_le32(h + 16);
        a[i].raw_ptr = nk_le32(h + 20);
        a[i].characteristics = nk_le32(h + 36);
    }
    *out = a;
    *count = k;
    return NTKD_OK;
}

static nk_status read_omap(nk_pdb *p, uint16_t s, const uint8_t **out, size_t *count)
{
    *out = NULL;
    *count = 0;
    if (s == NK_PDB_NO_STREAM) return NTKD_OK;
    const uint8_t *d = NULL;
    uint32_t n = 0;
    nk_status st = nk_pdb_stream_data(p, s, &d, &n);
    if (st != NTKD_OK) return pdb_part_fail(p, &p->sect_part, st, "OMAP stream %u unreadable", s);
    if (n % 8)
        return pdb_part_fail(p, &p->sect_part, NTKD_E_FORMAT, "OMAP stream %u: %u bytes is not a whole number of entries",
                             s, n);
    for (uint32_t i = 8; i < n; i += 8)
        if (nk_le32(d + i) < nk_le32(d + i - 8))
            return pdb_part_fail(p, &p->sect_part, NTKD_E_FORMAT,
                                 "OMAP stream %u at 0x%x (file offset 0x%llx): entries not sorted", s, i,
                                 (unsigned long long)pdb_file_off(p, s, i));
    *out = d;
    *count = n / 8;
    return NTKD_OK;
}

nk_status pdb_sections_load(nk_pdb *p)
{
    pdb_part *pt = &p->sect_part;
    if (pt->state > 0) return NTKD_OK;
    if (pt->state < 0) return pdb_part_replay(p, pt);
    nk_status st = read_sections(p, p->dbg[NK_DBG_SECTION_HDR], &p->sect, &p->nsect);
    if (st != NTKD_OK) return st;
    nk_pdb_section *tmp;
    size_t ntmp;
    st = read_omap(p, p->dbg[NK_DBG_OMAP_FROM_SRC], &p->omap_from, &p->nomap_from);
    if (st == NTKD_OK) st = read_omap(p, p->dbg[NK_DBG_OMAP_TO_SRC], &p->omap_to, &p->nomap_to);
    if (st == NTKD_OK && p->nomap_from) {
        st = read_sections(p, p->dbg[NK_DBG_SECTION_HDR_ORIG], &tmp, &ntmp);
        if (st == NTKD_OK) {
            p->sect_orig = tmp;
            p->nsect_orig = ntmp;
        }
    }
    if (st != NTKD_OK) return st;
    pt->state = 1;
    return NTKD_OK;
}

nk_status nk_pdb_section_count(nk_pdb *p, size_t *count)
{
    *count = 0;
    nk_status st = pdb_sections_load(p);
    if (st == NTKD_OK) *count = p->nsect;
    return st;
}

nk_status nk_pdb_section_get(nk_pdb *p, size_t i, nk_pdb_section *out)
{
    nk_status st = pdb_sections_load(p);
    if (st != NTKD_OK) return st;
    if (i >= p->nsect) return nk_fail(p->ctx, NTKD_E_NOTFOUND, "%s: no section %zu", p->name, i + 1);
    *out = p->sect[i];
    return NTKD_OK;
}

static bool omap_lookup(const uint8_t *t, size_t n, uint32_t rva, uint32_t *out)
{
    if (!n) {
        *out = rva;
        return true;
    }
    /* last entry with from <= rva */
    size_t lo = 0, hi = n;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        if (nk_le32(t + 8 * mid) <= rva) lo = mid + 1;
        else hi = mid;
    }
    if (lo == 0) return false;
    uint32_t from = nk_le32(t + 8 * (lo - 1)), to = nk_le32(t + 8 * (lo - 1) + 4);
    if (to == 0) return false;
    *out = to + (rva - from);
    return true;
}

bool nk_pdb_omap_map(nk_pdb *p, bool from_src, uint32_t rva, uint32_t *out)
{
    if (pdb_sections_load(p) != NTKD_OK) {
        *out = rva;
        return true;
    }
    return from_src ? omap_lookup(p->omap_from, p->nomap_from, rva, out)
                    : omap_lookup(p->omap_to, p->nomap_to, rva, out);
}

nk_status nk_pdb_omap(nk_pdb *p, bool from_src, const uint32_t **pairs, size_t *count)
{
    *pairs = NULL;
    *count = 0;
    nk_status st = pdb_sections_load(p);
    if (st != NTKD_OK) return st;
    /* the tables are little-endian u32 pairs; hosts ntkd runs on are little-endian, and
     * the pointer is 4-aligned when the stream starts a block (always) */
    const uint8_t *t = from_src ? p->omap_from : p->omap_to;
    if (((uintptr_t)t & 3) != 0) return nk_fail(p->ctx, NTKD_E_UNSUPPORTED, "%s: unaligned OMAP table", p->name);
    *pairs = (const uint32_t *)(const void *)t;
    *count = from_src ? p->nomap_from : p->nomap_to;
    return NTKD_OK;
}

bool nk_pdb_seg_to_rva(nk_pdb *p, uint16_t seg, uint32_t off, uint32_t *rva)
{
    if (pdb_sections_load(p) != NTKD_OK) return false;
    if (p->nomap_from && p->nsect_orig) {
        if (seg == 0 || seg > p->nsect_orig) return false;
        uint32_t src = p->sect_orig[seg - 1].rva + off;
        return omap_lookup(p->omap_from, p->nomap_from, src, rva);
    }
    if (seg == 0 || seg > p->nsect) return false;
    *rva = p->sect[seg - 1].rva + off;
    return true;
}

/* ---- module infos --------------------------------------------------------------------- */

static void sc_decode(nk_pdb *p, const uint8_t *b, nk_pdb_contrib *c)
{
    c->section = nk_le16(b);
    c->offset = nk_le32(b + 4);
    c->size = nk_le32(b + 8);
    c->characteristics = nk_le32(b + 12);
    c->module = nk_le16(b + 16);
    c->data_crc = nk_le32(b + 20);
    c->reloc_crc = nk_le32(b + 24);
    uint32_t r = 0;
    c->rva = nk_pdb_seg_to_rva(p, c->section, c->offset, &r) ? r : 0;
}

nk_status pdb_modules_load(nk_pdb *p)
{
    pdb_part *pt = &p->mod_part;
    if (pt->state > 0) return NTKD_OK;
    if (pt->state < 0) return pdb_part_replay(p, pt);
    if (!p->info.dbi_present || !p->info.dbi_new_header) {
        pt->state = 1; /* no DBI, or the old header whose module records ntkd does not read */
        return NTKD_OK;
    }
    const uint8_t *d = dbi_sub(p, SUB_MODI);
    if (!d) return pdb_part_fail(p, pt, NTKD_E_NOMEM, "out of memory for the module infos");
    const uint32_t base = p->sub_off[SUB_MODI]; /* for messages: offsets below are relative */
    uint32_t off = 0, end = p->sub_len[SUB_MODI];
    size_t cap = 0;
    while (off < end) {
        if (p->nmods >= MAX_MODULES) return DBI_FAIL(pt, NTKD_E_FORMAT, base + off, "more than %u modules", MAX_MODULES);
        if (!nk_in_bounds(end, off, sizeof(dbi_modi)))
            return DBI_FAIL(pt, NTKD_E_TRUNCATED, base + off, "module info %zu truncated", p->nmods);
        if (!nk_grow((void **)&p->mods, &cap, p->nmods + 1, sizeof *p->mods))
            return pdb_part_fail(p, pt, NTKD_E_NOMEM, "out of memory");
        nk_pdb_module *m = &p->mods[p->nmods];
        memset(m, 0, sizeof *m);
        const uint8_t *r = d + off;
        sc_decode(p, r + 4, &m->contrib);
        m->flags = nk_le16(r + 32);
        m->sym_stream = nk_le16(r + 34);
        m->sym_bytes = nk_le32(r + 36);
        m->c11_bytes = nk_le32(r + 40);
        m->c13_bytes = nk_le32(r + 44);
        m->num_files = nk_le16(r + 48);
        m->src_file_ni = nk_le32(r + 56);
        m->pdb_file_ni = nk_le32(r + 60);
        uint32_t pos = off + 64, after;
        m->name = pdb_cstr(d, pos, end, &after);
        if (!m->name) return DBI_FAIL(pt, NTKD_E_FORMAT, base + pos, "module %zu: name not terminated", p->nmods);
        pos = after;
        m->obj_name = pdb_cstr(d, pos, end, &after);
        if (!m->obj_name) return DBI_FAIL(pt, NTKD_E_FORMAT, base + pos, "module %zu: object name not terminated", p->nmods);
        if (m->sym_stream != 0xffff && m->sym_stream >= p->nstreams)
            return DBI_FAIL(pt, NTKD_E_FORMAT, base + off + 34, "module %zu: symbol stream %u past the directory",
                            p->nmods, m->sym_stream);
        if (m->sym_stream != 0xffff &&
            (uint64_t)m->sym_bytes + m->c11_bytes + m->c13_bytes > p->streams[m->sym_stream].size)
            return DBI_FAIL(pt, NTKD_E_FORMAT, base + off + 36,
                            "module %zu: symbol and line sizes exceed its stream %u (%u bytes)", p->nmods,
                            m->sym_stream, p->streams[m->sym_stream].size);
        off = (after + 3u) & ~3u;
        p->nmods++;
    }
    pt->state = 1;
    return NTKD_OK;
}

nk_status nk_pdb_module_count(nk_pdb *p, size_t *count)
{
    *count = 0;
    nk_status st = pdb_modules_load(p);
    if (st == NTKD_OK) *count = p->nmods;
    return st;
}

nk_status nk_pdb_module_get(nk_pdb *p, size_t i, nk_pdb_module *out)
{
    nk_status st = pdb_modules_load(p);
    if (st != NTKD_OK) return st;
    if (i >= p->nmods) return nk_fail(p->ctx, NTKD_E_NOTFOUND, "%s: no module %zu", p->name, i);
    *out = p->mods[i];
    return NTKD_OK;
}

/* ---- file info ------------------------------------------------------------------------ */

nk_status pdb_fileinfo_load(nk_pdb *p)
{
    pdb_part *pt = &p->file_part;
    if (pt->state > 0) return NTKD_OK;
    if (pt->state < 0) return pdb_part_replay(p, pt);
    nk_status st = pdb_modules_load(p);
    if (st != NTKD_OK) return pdb_part_take(p, pt, st);
    uint32_t off = p->sub_off[SUB_FILEINFO], len = p->sub_len[SUB_FILEINFO];
    if (len == 0 || !p->nmods) {
        pt->state = 1;
        return NTKD_OK;
    }
    const uint8_t *d = dbi_sub(p, SUB_FILEINFO);
    if (!d) return pdb_part_fail(p, pt, NTKD_E_NOMEM, "out of memory for the file info");
    if (len < 4) return DBI_FAIL(pt, NTKD_E_TRUNCATED, off, "file info header truncated");
    uint32_t nm = nk_le16(d);
    /* the module count here is 16-bit: when the program has more modules it wraps */
    if (nm != (p->nmods & 0xffff))
        return DBI_FAIL(pt, NTKD_E_FORMAT, off, "file info lists %u modules, the module list %zu", nm, p->nmods);
    nm = (uint32_t)p->nmods;
    uint64_t need = 4 + 4ull * nm;
    if (need > len) return DBI_FAIL(pt, NTKD_E_TRUNCATED, off, "file info module arrays truncated");
    p->mod_file_first = malloc((nm + 1) * sizeof *p->mod_file_first);
    if (!p->mod_file_first) return pdb_part_fail(p, pt, NTKD_E_NOMEM, "out of memory");
    uint32_t total = 0;
    for (uint32_t i = 0; i < nm; i++) {
        p->mod_file_first[i] = total;
        total += nk_le16(d + 4 + 2 * nm + 2 * i);
    }
    p->mod_file_first[nm] = total;
    if (!nk_in_bounds(len, need, 4ull * total))
        return DBI_FAIL(pt, NTKD_E_TRUNCATED, off + (uint32_t)need, "file name offsets (%u) truncated", total);
    p->file_offs = d + need;
    p->nfile_offs = total;
    p->file_names = d + need + 4ull * total;
    p->file_names_len = len - (uint32_t)(need + 4ull * total);
    pt->state = 1;
    return NTKD_OK;
}

nk_status nk_pdb_module_file_count(nk_pdb *p, size_t mod, size_t *count)
{
    *count = 0;
    nk_status st = pdb_fileinfo_load(p);
    if (st != NTKD_OK) return st;
    if (mod >= p->nmods) return nk_fail(p->ctx, NTKD_E_NOTFOUND, "%s: no module %zu", p->name, mod);
    if (p->mod_file_first) *count = p->mod_file_first[mod + 1] - p->mod_file_first[mod];
    return NTKD_OK;
}

const char *nk_pdb_module_file(nk_pdb *p, size_t mod, size_t i)
{
    size_t n;
    if (nk_pdb_module_file_count(p, mod, &n) != NTKD_OK || i >= n) return NULL;
    uint32_t k = p->mod_file_first[mod] + (uint32_t)i;
    return pdb_cstr(p->file_names, nk_le32(p->file_offs + 4 * k), p->file_names_len, NULL);
}

/* ---- section contributions ---------------------------------------------------------- */

static int cmp_sc(const void *a, const void *b, void *arg)
{
    const nk_pdb_contrib *sc = arg;
    uint32_t x = sc[*(const uint32_t *)a].rva, y = sc[*(const uint32_t *)b].rva;
    if (x != y) return x < y ? -1 : 1;
    return *(const uint32_t *)a < *(const uint32_t *)b ? -1 : 1;
}

nk_status pdb_contribs_load(nk_pdb *p)
{
    pdb_part *pt = &p->sc_part;
    if (pt->state > 0) return NTKD_OK;
    if (pt->state < 0) return pdb_part_replay(p, pt);
    uint32_t off = p->sub_off[SUB_SC], len = p->sub_len[SUB_SC];
    if (!p->info.dbi_present || len == 0 || !p->info.dbi_new_header) {
        pt->state = 1;
        return NTKD_OK;
    }
    uint8_t vb[4];
    if (len < 4 || !pdb_read_small(p, 3, off, vb, 4))
        return DBI_FAIL(pt, NTKD_E_TRUNCATED, off, "section contribution version truncated");
    uint32_t ver = nk_le32(vb), esz;
    if (ver == SC_V60) esz = 28;
    else if (ver == SC_V2) esz = 32;
    else return DBI_FAIL(pt, NTKD_E_UNSUPPORTED, off, "section contribution version 0x%x unknown", ver);
    if ((len - 4) % esz)
        return DBI_FAIL(pt, NTKD_E_FORMAT, off, "section contributions: %u bytes is not a whole number of %u-byte entries",
                        len - 4, esz);
    size_t k = (len - 4) / esz;
    p->sc = calloc(k ? k : 1, sizeof *p->sc);
    p->sc_sorted = calloc(k ? k : 1, sizeof *p->sc_sorted);
    if (!p->sc || !p->sc_sorted) return pdb_part_fail(p, pt, NTKD_E_NOMEM, "out of memory");
    for (size_t i = 0; i < k; i++) {
        uint8_t e[32];
        if (!pdb_read_small(p, 3, off + 4 + esz * (uint32_t)i, e, esz))
            return DBI_FAIL(pt, NTKD_E_TRUNCATED, off + 4 + esz * (uint32_t)i, "section contribution %zu unreadable", i);
        sc_decode(p, e, &p->sc[i]);
        uint32_t r;
        if (p->sc[i].size && nk_pdb_seg_to_rva(p, p->sc[i].section, p->sc[i].offset, &r))
            p->sc_sorted[p->nsc_sorted++] = (uint32_t)i;
    }
    p->nsc = k;
    nk_sort_r(p->sc_sorted, p->nsc_sorted, sizeof *p->sc_sorted, cmp_sc, p->sc);
    pt->state = 1;
    return NTKD_OK;
}

nk_status nk_pdb_contrib_count(nk_pdb *p, size_t *count)
{
    *count = 0;
    nk_status st = pdb_contribs_load(p);
    if (st == NTKD_OK) *count = p->nsc;
    return st;
}

nk_status nk_pdb_contrib_get(nk_pdb *p, size_t i, nk_pdb_contrib *out)
{
    nk_status st = pdb_contribs_load(p);
    if (st != NTKD_OK) return st;
    if (i >= p->nsc) return nk_fail(p->ctx, NTKD_E_NOTFOUND, "%s: no section contribution %zu", p->name, i);
    *out = p->sc[i];
    return NTKD_OK;
}

nk_status nk_pdb_contrib_find(nk_pdb *p, uint32_t rva, nk_pdb_contrib *out)
{
    nk_status st = pdb_contribs_load(p);
    if (st != NTKD_OK) return st;
    size_t lo = 0, hi = p->nsc_sorted;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        if (p->sc[p->sc_sorted[mid]].rva <= rva) lo = mid + 1;
        else hi = mid;
    }
    if (lo) {
        const nk_pdb_contrib *c = &p->sc[p->sc_sorted[lo - 1]];
        if (rva - c->rva < c->size) {
            *out = *c;
            return NTKD_OK;
        }
    }
    return nk_fail(p->ctx, NTKD_E_NOTFOUND, "%s: no section contribution holds RVA 0x%x", p->name, rva);
}

/* ---- section map ---------------------------------------------------------------------- */

nk_status pdb_secmap_load(nk_pdb *p)
{
    pdb_part *pt = &p->secmap_part;
    if (pt->state > 0) return NTKD_OK;
    if (pt->state < 0) return pdb_part_replay(p, pt);
    uint32_t off = p->sub_off[SUB_SECMAP], len = p->sub_len[SUB_SECMAP];
    if (!p->info.dbi_present || len == 0) {
        pt->state = 1;
        return NTKD_OK;
    }
    const uint8_t *d = dbi_sub(p, SUB_SECMAP);
    if (!d) return pdb_part_fail(p, pt, NTKD_E_NOMEM, "out of memory for the section map");
    if (len < 4) return DBI_FAIL(pt, NTKD_E_TRUNCATED, off, "section map header truncated");
    uint32_t cnt = nk_le16(d);
    if (!nk_in_bounds(len, 4, 20ull * cnt))
        return DBI_FAIL(pt, NTKD_E_TRUNCATED, off, "section map: %u entries do not fit in %u bytes", cnt, len);
    p->secmap = d + 4;
    p->nsecmap = cnt;
    pt->state = 1;
    return NTKD_OK;
}

nk_status nk_pdb_secmap_count(nk_pdb *p, size_t *count)
{
    *count = 0;
    nk_status st = pdb_secmap_load(p);
    if (st == NTKD_OK) *count = p->nsecmap;
    return st;
}

nk_status nk_pdb_secmap_get(nk_pdb *p, size_t i, nk_pdb_secmap *out)
{
    nk_status st = pdb_secmap_load(p);
    if (st != NTKD_OK) return st;
    if (i >= p->nsecmap) return nk_fail(p->ctx, NTKD_E_NOTFOUND, "%s: no section map entry %zu", p->name, i);
    const uint8_t *e = p->secmap + 20 * i;
    out->flags = nk_le16(e);
    out->ovl = nk_le16(e + 2);
    out->group = nk_le16(e + 4);
    out->frame = nk_le16(e + 6);
    out->name = nk_le16(e + 8);
    out->class_name = nk_le16(e + 10);
    out->offset = nk_le32(e + 12);
    out->length = nk_le32(e + 16);
    return NTKD_OK;
}

/* ---- FPO and FrameData ------------------------------------------------------------------ */

static int cmp_fpo(const void *a, const void *b)
{
    const nk_pdb_fpo *x = a, *y = b;
    if (x->start != y->start) return x->start < y->start ? -1 : 1;
    return 0;
}

nk_status pdb_fpo_load(nk_pdb *p)
{
    pdb_part *pt = &p->fpo_part;
    if (pt->state > 0) return NTKD_OK;
    if (pt->state < 0) return pdb_part_replay(p, pt);
    uint16_t s = p->dbg[NK_DBG_FPO];
    if (s == NK_PDB_NO_STREAM) {
        pt->state = 1;
        return NTKD_OK;
    }
    uint32_t n = nk_pdb_stream_size(p, s);
    if (n % 16)
        return pdb_part_fail(p, pt, NTKD_E_FORMAT, "FPO stream %u: %u bytes is not a whole number of 16-byte records", s, n);
    size_t k = n / 16;
    p->fpo = calloc(k ? k : 1, sizeof *p->fpo);
    if (!p->fpo) return pdb_part_fail(p, pt, NTKD_E_NOMEM, "out of memory");
    bool sorted = true;
    for (size_t i = 0; i < k; i++) {
        uint8_t r[16];
        if (!pdb_read_small(p, s, 16 * (uint32_t)i, r, 16))
            return pdb_part_fail(p, pt, NTKD_E_TRUNCATED, "FPO stream %u: record %zu unreadable", s, i);
        nk_pdb_fpo *f = &p->fpo[i];
        f->start = nk_le32(r);
        f->size = nk_le32(r + 4);
        f->locals = nk_le32(r + 8);
        f->params = nk_le16(r + 12);
        uint16_t bits = nk_le16(r + 14);
        f->prolog = bits & 0xff;
        f->regs = (bits >> 8) & 7;
        f->has_seh = (bits >> 11) & 1;
        f->use_bp = (bits >> 12) & 1;
        f->frame = (bits >> 14) & 3;
        if (i && f->start < p->fpo[i - 1].start) sorted = false;
    }
    p->nfpo = k;
    if (!sorted) nk_sort(p->fpo, k, sizeof *p->fpo, cmp_fpo);
    pdb_release(p, s, 0, n);
    pt->state = 1;
    return NTKD_OK;
}

static int cmp_fd(const void *a, const void *b)
{
    const nk_pdb_framedata *x = a, *y = b;
    if (x->rva != y->rva) return x->rva < y->rva ? -1 : 1;
    return 0;
}

nk_status pdb_framedata_load(nk_pdb *p)
{
    pdb_part *pt = &p->fd_part;
    if (pt->state > 0) return NTKD_OK;
    if (pt->state < 0) return pdb_part_replay(p, pt);
    uint16_t s = p->dbg[NK_DBG_NEW_FPO];
    if (s == NK_PDB_NO_STREAM) {
        pt->state = 1;
        return NTKD_OK;
    }
    uint32_t n = nk_pdb_stream_size(p, s);
    if (n % 32)
        return pdb_part_fail(p, pt, NTKD_E_FORMAT, "FrameData stream %u: %u bytes is not a whole number of 32-byte records",
                             s, n);
    size_t k = n / 32;
    p->fd = calloc(k ? k : 1, sizeof *p->fd);
    if (!p->fd) return pdb_part_fail(p, pt, NTKD_E_NOMEM, "out of memory");
    bool sorted = true;
    for (size_t i = 0; i < k; i++) {
        uint8_t r[32];
        if (!pdb_read_small(p, s, 32 * (uint32_t)i, r, 32))
            return pdb_part_fail(p, pt, NTKD_E_TRUNCATED, "FrameData stream %u: record %zu unreadable", s, i);
        nk_pdb_framedata *f = &p->fd[i];
        f->rva = nk_le32(r);
        f->code_size = nk_le32(r + 4);
        f->locals_size = nk_le32(r + 8);
        f->params_size = nk_le32(r + 12);
        f->max_stack_size = nk_le32(r + 16);
        f->program_ni = nk_le32(r + 20);
        f->prolog_size = nk_le16(r + 24);
        f->saved_regs_size = nk_le16(r + 26);
        f->flags = nk_le32(r + 28);
        f->program = nk_pdb_names_str(p, f->program_ni);
        if (i && f->rva < p->fd[i - 1].rva) sorted = false;
    }
    p->nfd = k;
    if (!sorted) nk_sort(p->fd, k, sizeof *p->fd, cmp_fd);
    pdb_release(p, s, 0, n);
    pt->state = 1;
    return NTKD_OK;
}

nk_status nk_pdb_fpo_all(nk_pdb *p, const nk_pdb_fpo **arr, size_t *count)
{
    *arr = NULL;
    *count = 0;
    nk_status st = pdb_fpo_load(p);
    if (st != NTKD_OK) return st;
    *arr = p->fpo;
    *count = p->nfpo;
    return NTKD_OK;
}

nk_status nk_pdb_framedata_all(nk_pdb *p, const nk_pdb_framedata **arr, size_t *count)
{
    *arr = NULL;
    *count = 0;
    nk_status st = pdb_framedata_load(p);
    if (st != NTKD_OK) return st;
    *arr = p->fd;
    *count = p->nfd;
    return NTKD_OK;
}

const nk_pdb_fpo *nk_pdb_fpo_find(nk_pdb *p, uint32_t rva)
{
    if (pdb_fpo_load(p) != NTKD_OK) return NULL;
    size_t lo = 0, hi = p->nfpo;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        if (p->fpo[mid].start <= rva) lo = mid + 1;
        else hi = mid;
    }
    /* ranges do not nest; check a few entries back for equal starts */
    for (size_t i = lo, k = 0; i > 0 && k < 8; i--, k++) {
        const nk_pdb_fpo *f = &p->fpo[i - 1];
        if (rva - f->start < f->size) return f;
    }
    return NULL;
}

const nk_pdb_framedata *nk_pdb_framedata_find(nk_pdb *p, uint32_t rva)
{
    if (pdb_framedata_load(p) != NTKD_OK) return NULL;
    size_t lo = 0, hi = p->nfd;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        if (p->fd[mid].rva <= rva) lo = mid + 1;
        else hi = mid;
    }
    /* FrameData ranges may nest (a block inside a function): take the innermost, which
     * starts last */
    for (size_t i = lo, k = 0; i > 0 && k < 64; i--, k++) {
        const nk_pdb_framedata *f = &p->fd[i - 1];
        if (rva - f->rva < f->code_size) return f;
    }
    return NULL;
}
