/* isf_cache.c: a binary cache of parsed ISF tables.
 *
 * Parsing a kernel table (xz decode, JSON tree, conversion) costs ~0.2 s; the compact form it
 * produces (isf_int.h) is a few MB of arrays and names. The cache stores that form in a file
 * named after the source's content, <dir>/isf-<crc64>-<size>.bin (the CRC-64 covers a format
 * tag and the source bytes), so a second open of the same table reads the arrays back.
 *
 * File layout (little-endian, native alignment; one format version):
 *   header (isfc_hdr, 152 bytes): magic "NTKDISF\0", version, byte-order mark, the source key
 *     (CRC-64, size), the payload size, element counts of the sections, the id-table fill
 *     counts, func/unknown ids, machine, age, pointer size, identity; last, a CRC-64 over the
 *     header before it and the whole payload.
 *   payload: the sections in order, each padded to 8 bytes:
 *     types (isfc_type), fields (isfc_field), enumerators (isfc_enumr), symbols (isfc_sym),
 *     by_rva (u32), tag slots, base slots, derived slots (u32 ids), names (NUL-terminated
 *     strings; the section ends with a NUL).
 *   Names are u32 offsets into the names section (ISFC_NONE = no name).
 *
 * A cache file is hostile input: the CRC is checked first, then every count, offset and id
 * (type ids within the table, field/enumerator ranges within their arrays, names inside the
 * names section, symbol indexes, slot tables of power-of-two size, kinds and bitfields in the
 * ranges the JSON reader produces, type targets below their own id so no chain loops). Any
 * failure is a miss: the source is parsed and the file rewritten. Writes go to a temporary file
 * renamed over the final name, so concurrent processes never see a partial file. */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <lzma.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "sym/isf_int.h"

#define ISFC_VERSION 1u
#define ISFC_BOM 0x01020304u
#define ISFC_NONE 0xffffffffu
#define ISFC_MAX_FILE (1ull << 30)      /* a cache file above 1 GB is not read */
#define ISFC_MAX_NAMES (0xfffffff0u)    /* names section (offsets are u32) */

static const char ISFC_MAGIC[8] = "NTKDISF";
/* Part of every key: a new tag gives every table a new file name. Change it (with
 * ISFC_VERSION) whenever isf.c's conversion would build a different table from the same JSON
 * (field order, interning, what is accepted), or old caches keep the old answers. */
static const char ISFC_TAG[] = "ntkd isf cache v1";

enum { S_TYPES, S_FIELDS, S_ENUMRS, S_SYMS, S_BYRVA, S_TAGS, S_BASES, S_DERIVED, S_NAMES, S_COUNT };

typedef struct isfc_hdr {
    char magic[8];
    uint32_t version;
    uint32_t bom;
    uint64_t src_crc;
    uint64_t src_size;
    uint64_t payload_size;
    uint32_t count[S_COUNT]; /* elements (names: bytes) */
    uint32_t tab_n[3];       /* tags, bases, derived: filled slots */
    uint32_t func_id, unknown_id;
    uint32_t machine, age;
    uint8_t ptr_size, has_ident, reserved[2];
    char guid[32];
    uint8_t pad[4];
    uint64_t crc;            /* CRC-64 of the header up to here and of the payload */
} isfc_hdr;
_Static_assert(sizeof(isfc_hdr) == 152, "isfc_hdr size");
_Static_assert(offsetof(isfc_hdr, crc) == 144, "isfc_hdr crc offset");

typedef struct isfc_type {
    uint64_t size, count;
    uint32_t name, c_name, isf_name, target, first, n;
    uint8_t kind, flags, bit_pos, bit_len;
    uint32_t reserved;
} isfc_type;
_Static_assert(sizeof(isfc_type) == 48, "isfc_type size");

typedef struct isfc_field {
    uint64_t offset;
    uint32_t name, type, order, reserved;
} isfc_field;
_Static_assert(sizeof(isfc_field) == 24, "isfc_field size");

typedef struct isfc_enumr {
    int64_t value;
    uint32_t name, reserved;
} isfc_enumr;
_Static_assert(sizeof(isfc_enumr) == 16, "isfc_enumr size");

typedef struct isfc_sym {
    uint64_t rva;
    uint32_t name, reserved;
} isfc_sym;
_Static_assert(sizeof(isfc_sym) == 16, "isfc_sym size");

static const size_t ELEM[S_COUNT] = {sizeof(isfc_type), sizeof(isfc_field), sizeof(isfc_enumr), sizeof(isfc_sym), 4, 4, 4, 4, 1};

static uint64_t pad8(uint64_t n) { return (n + 7) & ~(uint64_t)7; }

/* Offsets of the sections within the payload from the counts; false on overflow. */
static bool layout(const uint32_t count[S_COUNT], uint64_t off[S_COUNT], uint64_t *total)
{
    uint64_t at = 0;
    for (int i = 0; i < S_COUNT; i++) {
        off[i] = at;
        at += pad8((uint64_t)count[i] * ELEM[i]); /* u32 * <=48: no overflow in 64 bits */
    }
    *total = at;
    return at <= ISFC_MAX_FILE;
}

uint64_t nk_isf_cache_key(const void *src, size_t size)
{
    uint64_t c = lzma_crc64((const uint8_t *)ISFC_TAG, sizeof ISFC_TAG - 1, 0);
    return lzma_crc64(src, size, c);
}

static uint64_t image_crc(const uint8_t *img, size_t payload_size)
{
    uint64_t c = lzma_crc64(img, offsetof(isfc_hdr, crc), 0);
    return lzma_crc64(img + sizeof(isfc_hdr), payload_size, c);
}

/* ---- writing ------------------------------------------------------------------------------ */

/* Names deduplicated by content: an open-addressing table of offsets into the buffer. */
typedef struct strtab {
    char *buf;
    size_t len, cap;
    uint32_t *slots; /* offset + 1; 0 empty */
    size_t nslots, used;
    bool failed;
} strtab;

static uint64_t str_hash(const char *s)
{
    uint64_t h = 1469598103934665603ull;
    for (; *s; s++) h = (h ^ (uint8_t)*s) * 1099511628211ull;
    return h;
}

static bool st_rehash(strtab *t, size_t ncap)
{
    uint32_t *ns = calloc(ncap, sizeof *ns);
    if (!ns) return false;
    for (size_t i = 0; i < t->nslots; i++) {
        if (!t->slots[i]) continue;
        size_t j = (size_t)str_hash(t->buf + t->slots[i] - 1) & (ncap - 1);
        while (ns[j]) j = (j + 1) & (ncap - 1);
        ns[j] = t->slots[i];
    }
    free(t->slots);
    t->slots = ns;
    t->nslots = ncap;
    return true;
}

static uint32_t st_add(strtab *t, const char *s)
{
    if (!s) return ISFC_NONE;
    if (t->failed) return 0;
    if ((t->used + 1) * 2 > t->nslots && !st_rehash(t, t->nslots ? t->nslots * 2 : 4096)) {
        t->failed = true;
        return 0;
    }
    size_t mask = t->nslots - 1, i = (size_t)str_hash(s) & mask;
    for (; t->slots[i]; i = (i + 1) & mask)
        if (strcmp(t->buf + t->slots[i] - 1, s) == 0) return t->slots[i] - 1;
    size_t n = strlen(s) + 1;
    if (t->len + n >= ISFC_MAX_NAMES) {
        t->failed = true;
        return 0;
    }
    if (t->len + n > t->cap) {
        size_t ncap = t->cap ? t->cap : 65536;
        while (ncap < t->len + n) ncap *= 2;
        char *nb = realloc(t->buf, ncap);
        if (!nb) {
            t->failed = true;
            return 0;
        }
        t->buf = nb;
        t->cap = ncap;
    }
    memcpy(t->buf + t->len, s, n);
    uint32_t off = (uint32_t)t->len;
    t->len += n;
    t->slots[i] = off + 1;
    t->used++;
    return off;
}

static bool fits32(size_t n) { return n <= ISF_MAX_ITEMS; }

bool nk_isf_cache_serialize(const nk_isf *x, uint64_t key_crc, uint64_t key_size, uint8_t **out, size_t *outlen)
{
    *out = NULL;
    *outlen = 0;
    if (!fits32(x->ntypes) || !fits32(x->nfields) || !fits32(x->nenumrs) || !fits32(x->nsyms) ||
        x->tags.cap > UINT32_MAX / 8 || x->bases.cap > UINT32_MAX / 8 || x->derived.cap > UINT32_MAX / 8)
        return false;
    strtab st = {0};
    isfc_type *ty = calloc(x->ntypes ? x->ntypes : 1, sizeof *ty);
    isfc_field *fl = calloc(x->nfields ? x->nfields : 1, sizeof *fl);
    isfc_enumr *en = calloc(x->nenumrs ? x->nenumrs : 1, sizeof *en);
    isfc_sym *sy = calloc(x->nsyms ? x->nsyms : 1, sizeof *sy);
    uint8_t *img = NULL;
    bool ok = false;
    if (!ty || !fl || !en || !sy) goto done;
    for (size_t i = 0; i < x->ntypes; i++) {
        const isf_type *t = &x->types[i];
        ty[i] = (isfc_type){.size = t->size, .count = t->count, .name = st_add(&st, t->name),
                            .c_name = st_add(&st, t->c_name), .isf_name = st_add(&st, t->isf_name),
                            .target = t->target, .first = t->first, .n = t->n, .kind = t->kind,
                            .flags = t->flags, .bit_pos = t->bit_pos, .bit_len = t->bit_len};
    }
    for (size_t i = 0; i < x->nfields; i++)
        fl[i] = (isfc_field){.offset = x->fields[i].offset, .name = st_add(&st, x->fields[i].name),
                             .type = x->fields[i].type, .order = x->fields[i].order};
    for (size_t i = 0; i < x->nenumrs; i++)
        en[i] = (isfc_enumr){.value = x->enumrs[i].value, .name = st_add(&st, x->enumrs[i].name)};
    for (size_t i = 0; i < x->nsyms; i++)
        sy[i] = (isfc_sym){.rva = x->syms[i].rva, .name = st_add(&st, x->syms[i].name)};
    st_add(&st, ""); /* the section ends with a NUL (and is never empty) */
    if (st.failed) goto done;
    if (st.len == 0 || st.buf[st.len - 1] != 0) goto done;

    isfc_hdr h;
    memset(&h, 0, sizeof h);
    memcpy(h.magic, ISFC_MAGIC, sizeof h.magic);
    h.version = ISFC_VERSION;
    h.bom = ISFC_BOM;
    h.src_crc = key_crc;
    h.src_size = key_size;
    h.count[S_TYPES] = (uint32_t)x->ntypes;
    h.count[S_FIELDS] = (uint32_t)x->nfields;
    h.count[S_ENUMRS] = (uint32_t)x->nenumrs;
    h.count[S_SYMS] = (uint32_t)x->nsyms;
    h.count[S_BYRVA] = (uint32_t)x->nsyms;
    h.count[S_TAGS] = (uint32_t)x->tags.cap;
    h.count[S_BASES] = (uint32_t)x->bases.cap;
    h.count[S_DERIVED] = (uint32_t)x->derived.cap;
    h.count[S_NAMES] = (uint32_t)st.len;
    h.tab_n[0] = (uint32_t)x->tags.n;
    h.tab_n[1] = (uint32_t)x->bases.n;
    h.tab_n[2] = (uint32_t)x->derived.n;
    h.func_id = x->func_id;
    h.unknown_id = x->unknown_id;
    h.machine = x->machine;
    h.age = x->age;
    h.ptr_size = x->src.ptr_size;
    h.has_ident = x->has_ident;
    memcpy(h.guid, x->guid, 32);
    uint64_t off[S_COUNT], total;
    if (!layout(h.count, off, &total)) goto done;
    h.payload_size = total;
    img = calloc(1, sizeof h + (size_t)total);
    if (!img) goto done;
    uint8_t *p = img + sizeof h;
    const void *src[S_COUNT] = {ty, fl, en, sy, x->by_rva, x->tags.slots, x->bases.slots, x->derived.slots, st.buf};
    for (int i = 0; i < S_COUNT; i++)
        if (h.count[i]) memcpy(p + off[i], src[i], (size_t)h.count[i] * ELEM[i]);
    memcpy(img, &h, sizeof h);
    h.crc = image_crc(img, (size_t)total);
    memcpy(img, &h, sizeof h);
    *out = img;
    *outlen = sizeof h + (size_t)total;
    img = NULL;
    ok = true;
done:
    free(img);
    free(ty);
    free(fl);
    free(en);
    free(sy);
    free(st.buf);
    free(st.slots);
    return ok;
}

/* ---- loading ------------------------------------------------------------------------------ */

typedef struct ldr {
    uint32_t nnames; /* bytes in the names section */
} ldr;

/* A name offset to a pointer into the loaded names block; false when out of range. The
 * section ends with a NUL, so every in-range offset starts a NUL-terminated string. */
static bool name_at(const ldr *l, const char *block, uint32_t off, const char **out)
{
    if (off == ISFC_NONE) {
        *out = NULL;
        return true;
    }
    if (off >= l->nnames) return false;
    *out = block + off;
    return true;
}

static bool slots_ok(const uint32_t *s, uint32_t cap, uint32_t n, uint32_t ntypes)
{
    if (cap && (cap & (cap - 1))) return false; /* ntab_find masks with cap - 1 */
    if (n > cap) return false;
    uint32_t used = 0;
    for (uint32_t i = 0; i < cap; i++) {
        if (s[i] > ntypes) return false;
        if (s[i]) used++;
    }
    return used == n;
}

nk_status nk_isf_cache_load_mem(ntkd_ctx *ctx, const char *name, const void *data, size_t size, bool check_key,
                                uint64_t key_crc, uint64_t key_size, nk_isf **out)
{
    *out = NULL;
    const uint8_t *img = data;
    isfc_hdr h;
    if (!data || size < sizeof h) return NTKD_E_FORMAT;
    memcpy(&h, img, sizeof h);
    if (memcmp(h.magic, ISFC_MAGIC, sizeof h.magic) != 0 || h.version != ISFC_VERSION || h.bom != ISFC_BOM)
        return NTKD_E_FORMAT;
    if (check_key && (h.src_crc != key_crc || h.src_size != key_size)) return NTKD_E_FORMAT;
    uint64_t off[S_COUNT], total;
    if (!layout(h.count, off, &total) || h.payload_size != total || total != size - sizeof h) return NTKD_E_FORMAT;
    if (image_crc(img, (size_t)total) != h.crc) return NTKD_E_FORMAT;

    uint32_t nt = h.count[S_TYPES], nf = h.count[S_FIELDS], ne = h.count[S_ENUMRS], ns = h.count[S_SYMS];
    if (nt > ISF_MAX_ITEMS || nf > ISF_MAX_ITEMS || ne > ISF_MAX_ITEMS || ns > ISF_MAX_ITEMS ||
        h.count[S_BYRVA] != ns || h.count[S_NAMES] == 0)
        return NTKD_E_FORMAT;
    if (h.ptr_size != 4 && h.ptr_size != 8) return NTKD_E_FORMAT;
    if (h.has_ident > 1 || h.machine > 0xffff) return NTKD_E_FORMAT;
    if (!h.func_id || h.func_id > nt || !h.unknown_id || h.unknown_id > nt) return NTKD_E_FORMAT;
    const uint8_t *p = img + sizeof h;
    const char *names = (const char *)p + off[S_NAMES];
    uint32_t nnames = h.count[S_NAMES];
    if (names[nnames - 1] != 0) return NTKD_E_FORMAT;
    if (h.has_ident)
        for (int i = 0; i < 32; i++) {
            char c = h.guid[i];
            if (!((c >= '0' && c <= '9') || (c >= 'A' && c <= 'F'))) return NTKD_E_FORMAT;
        }

    nk_isf *x = nk_isf_alloc(ctx, name);
    if (!x) return NTKD_E_NOMEM;
    ldr l = {.nnames = nnames};
    arena_blk *b = malloc(sizeof *b + nnames);
    x->types = malloc((nt ? nt : 1) * sizeof *x->types);
    x->fields = malloc((nf ? nf : 1) * sizeof *x->fields);
    x->enumrs = malloc((ne ? ne : 1) * sizeof *x->enumrs);
    x->syms = malloc((ns ? ns : 1) * sizeof *x->syms);
    x->by_rva = malloc((ns ? ns : 1) * sizeof *x->by_rva);
    uint32_t caps[3] = {h.count[S_TAGS], h.count[S_BASES], h.count[S_DERIVED]};
    id_tab *tabs[3] = {&x->tags, &x->bases, &x->derived};
    bool mem = b && x->types && x->fields && x->enumrs && x->syms && x->by_rva;
    for (int i = 0; i < 3 && mem; i++) {
        if (!caps[i]) continue;
        tabs[i]->slots = malloc((size_t)caps[i] * sizeof(uint32_t));
        mem = tabs[i]->slots != NULL;
    }
    if (b) {
        b->next = NULL;
        b->used = b->cap = nnames;
        memcpy(b->data, names, nnames);
        x->arena = b;
    }
    if (!mem) {
        nk_isf_close(x);
        return NTKD_E_NOMEM;
    }
    const char *blk = b->data;
    x->ntypes = x->cap_types = nt;
    x->nfields = x->cap_fields = nf;
    x->nenumrs = x->cap_enumrs = ne;
    x->nsyms = ns;
    bool ok = true;

    for (uint32_t i = 0; i < nt && ok; i++) {
        isfc_type d;
        memcpy(&d, p + off[S_TYPES] + (size_t)i * sizeof d, sizeof d);
        isf_type *t = &x->types[i];
        memset(t, 0, sizeof *t);
        ok = name_at(&l, blk, d.name, &t->name) && name_at(&l, blk, d.c_name, &t->c_name) &&
             name_at(&l, blk, d.isf_name, &t->isf_name);
        if (!ok) break;
        uint32_t id = i + 1;
        t->size = d.size;
        t->count = d.count;
        t->target = d.target;
        t->first = d.first;
        t->n = d.n;
        t->kind = d.kind;
        t->flags = d.flags;
        t->bit_pos = d.bit_pos;
        t->bit_len = d.bit_len;
        if (d.kind > NK_TK_FUNCTION || (d.flags & ~(F_SIGNED | F_FLOAT | F_CHAR | F_FWD))) ok = false;
        /* targets point back (derived types and enums are made after what they refer to) */
        bool has_target = d.kind == NK_TK_POINTER || d.kind == NK_TK_ARRAY || d.kind == NK_TK_BITFIELD ||
                          d.kind == NK_TK_ENUM;
        if (has_target ? d.target >= id : d.target != 0) ok = false;
        if (d.kind == NK_TK_BITFIELD) {
            if (d.bit_len < 1 || d.bit_len > 64 || d.bit_pos + d.bit_len > 128) ok = false;
        } else if (d.bit_pos || d.bit_len) {
            ok = false;
        }
        if (d.kind == NK_TK_STRUCT || d.kind == NK_TK_UNION) {
            if (d.first > nf || d.n > nf - d.first || !t->name) ok = false;
        } else if (d.kind == NK_TK_ENUM) {
            if (d.first > ne || d.n > ne - d.first || !t->name) ok = false;
        } else if (d.first || d.n) {
            ok = false;
        }
        if ((d.kind == NK_TK_BASE || d.kind == NK_TK_VOID) && (!t->name || !t->c_name || !t->isf_name)) ok = false;
        if (d.kind != NK_TK_ARRAY && d.count) ok = false;
    }
    if (ok && (x->types[h.func_id - 1].kind != NK_TK_FUNCTION || x->types[h.unknown_id - 1].kind != NK_TK_UNKNOWN))
        ok = false;
    for (uint32_t i = 0; i < nf && ok; i++) {
        isfc_field d;
        memcpy(&d, p + off[S_FIELDS] + (size_t)i * sizeof d, sizeof d);
        isf_field *f = &x->fields[i];
        f->offset = d.offset;
        f->type = d.type;
        f->order = d.order;
        ok = name_at(&l, blk, d.name, &f->name) && f->name && d.type >= 1 && d.type <= nt;
    }
    for (uint32_t i = 0; i < ne && ok; i++) {
        isfc_enumr d;
        memcpy(&d, p + off[S_ENUMRS] + (size_t)i * sizeof d, sizeof d);
        x->enumrs[i].value = d.value;
        ok = name_at(&l, blk, d.name, &x->enumrs[i].name) && x->enumrs[i].name;
    }
    for (uint32_t i = 0; i < ns && ok; i++) {
        isfc_sym d;
        memcpy(&d, p + off[S_SYMS] + (size_t)i * sizeof d, sizeof d);
        x->syms[i].rva = d.rva;
        ok = name_at(&l, blk, d.name, &x->syms[i].name) && x->syms[i].name;
    }
    if (ok && ns) {
        memcpy(x->by_rva, p + off[S_BYRVA], (size_t)ns * sizeof *x->by_rva);
        for (uint32_t i = 0; i < ns && ok; i++)
            if (x->by_rva[i] >= ns) ok = false;
    }
    static const size_t sec[3] = {S_TAGS, S_BASES, S_DERIVED};
    for (int i = 0; i < 3 && ok; i++) {
        id_tab *t = tabs[i];
        t->cap = caps[i];
        t->n = h.tab_n[i];
        if (caps[i]) memcpy(t->slots, p + off[sec[i]], (size_t)caps[i] * sizeof(uint32_t));
        ok = slots_ok(t->slots, caps[i], h.tab_n[i], nt);
        /* the lookups read the key of every id they meet: tags by name, bases by isf_name
         * and (op_find's scan) by name */
        for (uint32_t j = 0; j < caps[i] && ok; j++) {
            uint32_t id = t->slots[j];
            if (!id) continue;
            const isf_type *ty = &x->types[id - 1];
            if (i == 0 && !ty->name) ok = false;
            if (i == 1 && (!ty->isf_name || !ty->name)) ok = false;
        }
    }
    if (!ok) {
        nk_isf_close(x);
        return NTKD_E_FORMAT;
    }
    x->func_id = h.func_id;
    x->unknown_id = h.unknown_id;
    x->machine = h.machine;
    x->age = h.age;
    x->has_ident = h.has_ident;
    memcpy(x->guid, h.guid, 32);
    x->guid[32] = 0;
    x->src.ptr_size = h.ptr_size;
    *out = x;
    return NTKD_OK;
}

/* ---- files -------------------------------------------------------------------------------- */

/* The whole cache file, or NULL (missing, not a regular file, too large, unreadable). */
static uint8_t *read_file(const char *path, size_t *len)
{
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0) return NULL;
    struct stat sb;
    uint8_t *buf = NULL;
    if (fstat(fd, &sb) == 0 && S_ISREG(sb.st_mode) && sb.st_size >= (off_t)sizeof(isfc_hdr) &&
        (uint64_t)sb.st_size <= ISFC_MAX_FILE + sizeof(isfc_hdr)) {
        size_t n = (size_t)sb.st_size, got = 0;
        buf = malloc(n);
        while (buf && got < n) {
            ssize_t r = read(fd, buf + got, n - got);
            if (r < 0 && errno == EINTR) continue;
            if (r <= 0) break;
            got += (size_t)r;
        }
        if (buf && got != n) {
            free(buf);
            buf = NULL;
        }
        *len = n;
    }
    close(fd);
    return buf;
}

/* mkdir -p with mode 0700 for the missing parts; false when the directory is not there after. */
static bool make_dirs(const char *dir)
{
    char p[PATH_MAX];
    size_t n = strlen(dir);
    if (!n || n >= sizeof p) return false;
    memcpy(p, dir, n + 1);
    for (size_t i = 1; i <= n; i++) {
        if (p[i] != '/' && p[i] != 0) continue;
        char c = p[i];
        p[i] = 0;
        if (mkdir(p, 0700) != 0 && errno != EEXIST) return false;
        p[i] = c;
    }
    struct stat sb;
    return stat(dir, &sb) == 0 && S_ISDIR(sb.st_mode);
}

#define ISFC_STALE_TMP_SECS 3600 /* a temporary file this old lost its writer */
#define ISFC_SWEEP_MAX 4096      /* directory entries looked at in one sweep */

/* Removes the temporary files (".isf-XXXXXX") of writers that died before their rename, once an
 * hour old; the final files are left alone. Runs only when a table is being written. */
static void sweep_stale(const char *dir)
{
    DIR *d = opendir(dir);
    if (!d) return;
    time_t now = time(NULL);
    struct dirent *e;
    for (int n = 0; n < ISFC_SWEEP_MAX && (e = readdir(d)); n++) {
        if (strncmp(e->d_name, ".isf-", 5) != 0 || strlen(e->d_name) != 11) continue;
        char p[PATH_MAX];
        struct stat sb;
        int l = snprintf(p, sizeof p, "%s/%s", dir, e->d_name);
        if (l < 0 || (size_t)l >= sizeof p || lstat(p, &sb) != 0 || !S_ISREG(sb.st_mode)) continue;
        if (now - sb.st_mtime > ISFC_STALE_TMP_SECS) unlink(p);
    }
    closedir(d);
}

static void save(const nk_isf *x, const char *dir, const char *final, uint64_t key_crc, uint64_t key_size)
{
    if (!make_dirs(dir)) return;
    sweep_stale(dir);
    uint8_t *img;
    size_t len;
    if (!nk_isf_cache_serialize(x, key_crc, key_size, &img, &len)) return;
    char tmp[PATH_MAX];
    int n = snprintf(tmp, sizeof tmp, "%s/.isf-XXXXXX", dir);
    if (n < 0 || (size_t)n >= sizeof tmp) {
        free(img);
        return;
    }
    int fd = mkstemp(tmp);
    if (fd < 0) {
        free(img);
        return;
    }
    size_t done = 0;
    while (done < len) {
        ssize_t w = write(fd, img + done, len - done);
        if (w < 0 && errno == EINTR) continue;
        if (w <= 0) break;
        done += (size_t)w;
    }
    free(img);
    if (close(fd) != 0 || done != len || rename(tmp, final) != 0) unlink(tmp);
}

nk_status nk_isf_open_cached_ex(ntkd_ctx *ctx, const char *path, const char *cache_dir, nk_isf **out, bool *hit)
{
    *out = NULL;
    if (hit) *hit = false;
    if (!cache_dir || !cache_dir[0]) return nk_isf_open(ctx, path, out);
    nk_file f;
    nk_status st = nk_file_map(ctx, path, &f);
    if (st != NTKD_OK) return st;
    uint64_t key = nk_isf_cache_key(f.data, (size_t)f.size);
    char final[PATH_MAX];
    int n = snprintf(final, sizeof final, "%s/isf-%016llx-%llx.bin", cache_dir, (unsigned long long)key,
                     (unsigned long long)f.size);
    bool named = n > 0 && (size_t)n < sizeof final;
    if (named) {
        size_t len = 0;
        uint8_t *img = read_file(final, &len);
        if (img) {
            st = nk_isf_cache_load_mem(ctx, nk_file_name(&f), img, len, true, key, f.size, out);
            free(img);
            if (st == NTKD_OK) {
                nk_file_unmap(&f);
                if (hit) *hit = true;
                return NTKD_OK;
            }
        }
    }
    st = nk_isf_open_mem(ctx, nk_file_name(&f), f.data, (size_t)f.size, out);
    if (st == NTKD_OK && named) save(*out, cache_dir, final, key, f.size);
    nk_file_unmap(&f);
    return st;
}

nk_status nk_isf_open_cached(ntkd_ctx *ctx, const char *path, const char *cache_dir, nk_isf **out)
{
    return nk_isf_open_cached_ex(ctx, path, cache_dir, out, NULL);
}
