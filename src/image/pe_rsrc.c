/* pe_rsrc.c: the resource directory walk to RT_VERSION and the VS_VERSIONINFO parser
 * (VS_FIXEDFILEINFO, StringFileInfo strings, VarFileInfo translations) behind `lmv`. */
#include "image/pe_internal.h"

#include <stdio.h>
#include <stdlib.h>
#include <strings.h>

#define RSRC_MAX_ENTRIES 4096      /* per directory */
#define VER_MAX_BYTES 0x10000u     /* a version blob is a few KB */
#define VER_MAX_STRINGS 1024

void pe_version_free(nk_pe *pe)
{
    nk_pe_version *v = &pe->version;
    for (size_t i = 0; i < v->nstrings; i++) {
        free(v->strings[i].table);
        free(v->strings[i].key);
        free(v->strings[i].value);
    }
    free(v->strings);
    memset(v, 0, sizeof *v);
}

/* ---- resource directory -------------------------------------------------------------- */

typedef struct rsrc {
    nk_pe *pe;
    uint32_t rva, size;
} rsrc;

/* Reads directory `off` (relative to the resource root) and picks an entry: the one whose id
 * is `want_id` (want_id >= 0), else the first one. want_subdir says which kind the entry must
 * point to. Returns its OffsetToData (flag bit cleared) in *target. */
static nk_status rsrc_pick(rsrc *r, uint32_t off, int want_id, bool want_subdir, uint32_t *target, uint32_t *id_out,
                           const char *level)
{
    nk_pe *pe = r->pe;
    char w[48];
    if (!nk_in_bounds(r->size, off, sizeof(pe_resource_directory)))
        return nk_fail(pe->ctx, NTKD_E_FORMAT, "%s: resource %s directory at offset 0x%x lies outside the resource directory (0x%x bytes)",
                       pe->name, level, off, r->size);
    uint8_t d[sizeof(pe_resource_directory)];
    nk_status st = pe_read_what(pe, r->rva + off, d, sizeof d, "resource directory");
    if (st != NTKD_OK) return st;
    uint32_t n = (uint32_t)nk_le16(d + offsetof(pe_resource_directory, NumberOfNamedEntries)) +
                 nk_le16(d + offsetof(pe_resource_directory, NumberOfIdEntries));
    if (n > RSRC_MAX_ENTRIES) n = RSRC_MAX_ENTRIES;
    uint32_t eoff = off + (uint32_t)sizeof(pe_resource_directory);
    if (!nk_in_bounds(r->size, eoff, (uint64_t)n * sizeof(pe_resource_entry))) {
        uint32_t fit = eoff < r->size ? (r->size - eoff) / (uint32_t)sizeof(pe_resource_entry) : 0;
        pe_warn(pe, "%s: resource %s directory at %s: %u entries do not fit the resource directory; reading %u",
                pe->name, level, pe_where(pe, r->rva + off, w), n, fit);
        n = fit;
    }
    for (uint32_t i = 0; i < n; i++) {
        uint8_t e[sizeof(pe_resource_entry)];
        st = pe_read_what(pe, r->rva + eoff + i * (uint32_t)sizeof e, e, sizeof e, "resource directory entry");
        if (st != NTKD_OK) return st;
        uint32_t name = nk_le32(e + offsetof(pe_resource_entry, Name));
        uint32_t data = nk_le32(e + offsetof(pe_resource_entry, OffsetToData));
        bool is_named = (name & 0x80000000u) != 0;
        bool is_dir = (data & 0x80000000u) != 0;
        if (want_id >= 0 && (is_named || name != (uint32_t)want_id)) continue;
        if (is_dir != want_subdir) {
            if (want_id >= 0)
                return nk_fail(pe->ctx, NTKD_E_FORMAT, "%s: resource %s entry at %s points to a %s where a %s belongs", pe->name,
                               level, pe_where(pe, r->rva + eoff + i * 8, w), is_dir ? "directory" : "data entry",
                               want_subdir ? "directory" : "data entry");
            continue;
        }
        *target = data & 0x7fffffffu;
        if (id_out) *id_out = name;
        return NTKD_OK;
    }
    return nk_fail(pe->ctx, NTKD_E_NOTFOUND, "%s: no %s entry in the resource directory", pe->name, level);
}

/* ---- VS_VERSIONINFO ------------------------------------------------------------------ */

typedef struct vblock {
    uint32_t off, end;       /* the block: [off, end) inside the blob */
    uint16_t value_len, type;
    uint32_t key_off, key_units;
    uint32_t value_off;
    uint32_t child_off;
} vblock;

static uint32_t align4(uint32_t x) { return (x + 3u) & ~3u; }

/* Parses the block header at off, bounded by limit. False when it does not fit. */
static bool vblock_parse(const uint8_t *b, uint32_t limit, uint32_t off, vblock *v)
{
    if (!nk_in_bounds(limit, off, sizeof(pe_version_block))) return false;
    uint16_t len = nk_le16(b + off + offsetof(pe_version_block, wLength));
    if (len < sizeof(pe_version_block) || !nk_in_bounds(limit, off, len)) return false;
    v->off = off;
    v->end = off + len;
    v->value_len = nk_le16(b + off + offsetof(pe_version_block, wValueLength));
    v->type = nk_le16(b + off + offsetof(pe_version_block, wType));
    v->key_off = off + (uint32_t)sizeof(pe_version_block);
    uint32_t p = v->key_off;
    v->key_units = 0;
    while (p + 2 <= v->end && nk_le16(b + p) != 0) {
        p += 2;
        v->key_units++;
    }
    p += 2; /* the NUL */
    v->value_off = align4(p);
    if (v->value_off > v->end) v->value_off = v->end;
    uint32_t vbytes = v->type == 1 ? 2u * v->value_len : v->value_len;
    if (vbytes > v->end - v->value_off) vbytes = v->end - v->value_off;
    v->child_off = align4(v->value_off + vbytes);
    if (v->child_off > v->end) v->child_off = v->end;
    return true;
}

static bool key_is(const uint8_t *b, const vblock *v, const char *ascii)
{
    size_t n = strlen(ascii);
    if (v->key_units != n) return false;
    for (size_t i = 0; i < n; i++)
        if (nk_le16(b + v->key_off + 2 * i) != (uint8_t)ascii[i]) return false;
    return true;
}

/* A UTF-16 string of at most max_units units at off, stopped at its NUL, as UTF-8. */
static char *utf16z(const uint8_t *b, uint32_t off, uint32_t max_units)
{
    uint32_t n = 0;
    while (n < max_units && nk_le16(b + off + 2 * n) != 0) n++;
    return nk_utf16_to_utf8(b + off, 2u * n);
}

static nk_status add_string(nk_pe *pe, const char *table, char *key, char *value)
{
    nk_pe_version *v = &pe->version;
    size_t cap = v->nstrings; /* grow one at a time: few strings */
    if (!key || !value || !nk_grow((void **)&v->strings, &cap, v->nstrings + 1, sizeof *v->strings)) {
        free(key);
        free(value);
        return nk_fail(pe->ctx, NTKD_E_NOMEM, "%s: out of memory", pe->name);
    }
    nk_pe_version_string *s = &v->strings[v->nstrings];
    s->table = strdup(table);
    s->key = key;
    s->value = value;
    if (!s->table) {
        free(key);
        free(value);
        return nk_fail(pe->ctx, NTKD_E_NOMEM, "%s: out of memory", pe->name);
    }
    v->nstrings++;
    return NTKD_OK;
}

static nk_status parse_string_file_info(nk_pe *pe, const uint8_t *b, const vblock *sfi)
{
    uint32_t off = sfi->child_off;
    for (int guard = 0; off < sfi->end && guard < 64; guard++) {
        vblock tab;
        if (!vblock_parse(b, sfi->end, off, &tab)) break;
        char *tkey = utf16z(b, tab.key_off, tab.key_units);
        if (!tkey) return nk_fail(pe->ctx, NTKD_E_NOMEM, "%s: out of memory", pe->name);
        uint32_t so = tab.child_off;
        for (int g2 = 0; so < tab.end && g2 < VER_MAX_STRINGS; g2++) {
            vblock str;
            if (!vblock_parse(b, tab.end, so, &str)) break;
            if (pe->version.nstrings >= VER_MAX_STRINGS) break;
            char *k = utf16z(b, str.key_off, str.key_units);
            uint32_t units = (str.end - str.value_off) / 2;
            char *val = str.value_len ? utf16z(b, str.value_off, units) : strdup("");
            nk_status st = add_string(pe, tkey, k, val);
            if (st != NTKD_OK) {
                free(tkey);
                return st;
            }
            so = align4(str.end);
        }
        free(tkey);
        off = align4(tab.end);
    }
    return NTKD_OK;
}

static void parse_var_file_info(nk_pe *pe, const uint8_t *b, const vblock *vfi)
{
    nk_pe_version *v = &pe->version;
    uint32_t off = vfi->child_off;
    for (int guard = 0; off < vfi->end && guard < 64; guard++) {
        vblock var;
        if (!vblock_parse(b, vfi->end, off, &var)) break;
        if (key_is(b, &var, "Translation")) {
            uint32_t vb = var.value_len;
            if (vb > var.end - var.value_off) vb = var.end - var.value_off;
            for (uint32_t p = 0; p + 4 <= vb && v->ntranslations < 16; p += 4) {
                uint16_t lang = nk_le16(b + var.value_off + p), cp = nk_le16(b + var.value_off + p + 2);
                v->translations[v->ntranslations++] = (uint32_t)lang << 16 | cp;
            }
        }
        off = align4(var.end);
    }
}

static nk_status parse_versioninfo(nk_pe *pe, const uint8_t *b, uint32_t len)
{
    nk_pe_version *v = &pe->version;
    char w[48];
    vblock root;
    if (!vblock_parse(b, len, 0, &root))
        return nk_fail(pe->ctx, NTKD_E_FORMAT, "%s: version resource at %s: the VS_VERSIONINFO header does not fit its %u bytes",
                       pe->name, pe_where(pe, v->data_rva, w), len);
    if (!key_is(b, &root, "VS_VERSION_INFO"))
        return nk_fail(pe->ctx, NTKD_E_FORMAT, "%s: version resource at %s does not start with a VS_VERSION_INFO block", pe->name,
                       pe_where(pe, v->data_rva, w));
    if (root.value_len >= sizeof(pe_fixed_file_info) && nk_in_bounds(root.end, root.value_off, sizeof(pe_fixed_file_info))) {
        const uint8_t *f = b + root.value_off;
        if (nk_le32(f + offsetof(pe_fixed_file_info, dwSignature)) == PE_VS_FFI_SIGNATURE) {
            v->has_fixed = true;
            uint32_t fms = nk_le32(f + offsetof(pe_fixed_file_info, dwFileVersionMS));
            uint32_t fls = nk_le32(f + offsetof(pe_fixed_file_info, dwFileVersionLS));
            uint32_t pms = nk_le32(f + offsetof(pe_fixed_file_info, dwProductVersionMS));
            uint32_t pls = nk_le32(f + offsetof(pe_fixed_file_info, dwProductVersionLS));
            v->file_version[0] = (uint16_t)(fms >> 16);
            v->file_version[1] = (uint16_t)fms;
            v->file_version[2] = (uint16_t)(fls >> 16);
            v->file_version[3] = (uint16_t)fls;
            v->product_version[0] = (uint16_t)(pms >> 16);
            v->product_version[1] = (uint16_t)pms;
            v->product_version[2] = (uint16_t)(pls >> 16);
            v->product_version[3] = (uint16_t)pls;
            v->struc_version = nk_le32(f + offsetof(pe_fixed_file_info, dwStrucVersion));
            v->file_flags_mask = nk_le32(f + offsetof(pe_fixed_file_info, dwFileFlagsMask));
            v->file_flags = nk_le32(f + offsetof(pe_fixed_file_info, dwFileFlags));
            v->file_os = nk_le32(f + offsetof(pe_fixed_file_info, dwFileOS));
            v->file_type = nk_le32(f + offsetof(pe_fixed_file_info, dwFileType));
            v->file_subtype = nk_le32(f + offsetof(pe_fixed_file_info, dwFileSubtype));
            v->file_date_ms = nk_le32(f + offsetof(pe_fixed_file_info, dwFileDateMS));
            v->file_date_ls = nk_le32(f + offsetof(pe_fixed_file_info, dwFileDateLS));
        } else {
            pe_warn(pe, "%s: VS_FIXEDFILEINFO at %s lacks the 0xFEEF04BD signature", pe->name,
                    pe_where(pe, v->data_rva + root.value_off, w));
        }
    }
    uint32_t off = root.child_off;
    for (int guard = 0; off < root.end && guard < 16; guard++) {
        vblock c;
        if (!vblock_parse(b, root.end, off, &c)) break;
        if (key_is(b, &c, "StringFileInfo")) {
            nk_status st = parse_string_file_info(pe, b, &c);
            if (st != NTKD_OK) return st;
        } else if (key_is(b, &c, "VarFileInfo")) {
            parse_var_file_info(pe, b, &c);
        }
        off = align4(c.end);
    }
    return NTKD_OK;
}

static nk_status parse_version(nk_pe *pe)
{
    const char *fn = pe->name;
    if (pe->hdr.ndirs <= NK_PE_DIR_RESOURCE || pe->hdr.dirs[NK_PE_DIR_RESOURCE].rva == 0 ||
        pe->hdr.dirs[NK_PE_DIR_RESOURCE].size == 0)
        return nk_fail(pe->ctx, NTKD_E_NOTFOUND, "%s: the image has no resources", fn);
    rsrc r = {pe, pe->hdr.dirs[NK_PE_DIR_RESOURCE].rva, pe->hdr.dirs[NK_PE_DIR_RESOURCE].size};
    uint32_t l2, l3, dataent;
    nk_status st = rsrc_pick(&r, 0, PE_RT_VERSION, true, &l2, NULL, "RT_VERSION type");
    if (st != NTKD_OK) return st;
    st = rsrc_pick(&r, l2, -1, true, &l3, NULL, "version name");
    if (st != NTKD_OK) return st;
    st = rsrc_pick(&r, l3, -1, false, &dataent, NULL, "version language");
    if (st != NTKD_OK) return st;
    char w[48];
    if (!nk_in_bounds(r.size, dataent, sizeof(pe_resource_data)))
        return nk_fail(pe->ctx, NTKD_E_FORMAT, "%s: version data entry at offset 0x%x lies outside the resource directory", fn,
                       dataent);
    uint8_t de[sizeof(pe_resource_data)];
    st = pe_read_what(pe, r.rva + dataent, de, sizeof de, "resource data entry");
    if (st != NTKD_OK) return st;
    nk_pe_version *v = &pe->version;
    v->data_rva = nk_le32(de + offsetof(pe_resource_data, OffsetToData));
    v->data_size = nk_le32(de + offsetof(pe_resource_data, Size));
    uint32_t len = v->data_size;
    if (len > VER_MAX_BYTES) {
        pe_warn(pe, "%s: version resource at %s is 0x%x bytes; reading 0x%x", fn, pe_where(pe, v->data_rva, w), len,
                VER_MAX_BYTES);
        len = VER_MAX_BYTES;
    }
    if (len < sizeof(pe_version_block))
        return nk_fail(pe->ctx, NTKD_E_FORMAT, "%s: version resource at %s is %u bytes, too short", fn,
                       pe_where(pe, v->data_rva, w), len);
    uint8_t *b = malloc(len);
    if (!b) return nk_fail(pe->ctx, NTKD_E_NOMEM, "%s: out of memory", fn);
    st = pe_read_what(pe, v->data_rva, b, len, "version resource");
    if (st == NTKD_OK) st = parse_versioninfo(pe, b, len);
    free(b);
    return st;
}

nk_status nk_pe_version_get(nk_pe *pe, const nk_pe_version **out)
{
    if (!pe->version_done) {
        pe->version_done = true;
        pe->version_status = pe_remember(pe, pe->version_err, parse_version(pe));
        if (pe->version_status != NTKD_OK) pe_version_free(pe);
    } else if (pe->version_status != NTKD_OK) {
        pe_recall(pe, pe->version_err, pe->version_status);
    }
    *out = pe->version_status == NTKD_OK ? &pe->version : NULL;
    return pe->version_status;
}

const char *nk_pe_version_string_get(const nk_pe_version *v, const char *key)
{
    for (size_t i = 0; v && i < v->nstrings; i++)
        if (strcasecmp(v->strings[i].key, key) == 0) return v->strings[i].value;
    return NULL;
}
