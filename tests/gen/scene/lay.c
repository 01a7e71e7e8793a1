/* lay.c: the kernel table of ntkd-genscene: a Volatility ISF file (JSON, optionally
 * xz-compressed) read with json-c and liblzma.
 *
 * ISF shape (volatility3 "schema" 6.x, as the corpus tables show): top-level "metadata"
 * (windows.pdb GUID / age / database / machine_type), "base_types" (name -> size, signed, kind),
 * "user_types" (name -> size, kind struct|union, fields: name -> {offset, type}), "enums"
 * (name -> size, base, constants) and "symbols" (name -> {address: RVA}). A field type is
 * {kind: base|pointer|struct|union|enum|array|bitfield|function, name, subtype, count,
 * bit_position, bit_length, type}. json-c keeps every object's members in a hash table, so a
 * lookup by name costs one hash probe: the parsed tree is the index. */
#include "scene.h"

#include <ctype.h>
#include <errno.h>
#include <json-c/json.h>
#include <lzma.h>
#include <stdlib.h>
#include <string.h>

struct lay {
    json_object *root;
    json_object *base_types, *user_types, *enums, *symbols;
    unsigned ptr;
    bool pae;
    uint32_t machine;
    char guid_age[64];
    char *path;
    int refs;
    /* x86 tables from pdb2isf.py: FPO and FrameData records ("x_fpo"), sorted by rva */
    lay_frame *fpo, *fd;
    size_t nfpo, nfd;
};

/* The last table opened: a second lay_open of the same path (main reads the table's identity,
 * then the scene opens it) shares it instead of parsing it again. */
static lay *g_cached;

/* ---------------------------------------------------------------- reading the file */
static uint8_t *read_file(const char *path, size_t *len)
{
    FILE *f = fopen(path, "rb");
    if (!f)
        sc_die("cannot open the table %s: %s", path, strerror(errno));
    size_t cap = 1 << 20, n = 0;
    uint8_t *p = malloc(cap);
    if (!p)
        sc_die("out of memory reading %s", path);
    for (;;) {
        if (n == cap) {
            if (cap > ((size_t)1 << 30))
                sc_die("%s: table larger than 1 GiB", path);
            cap *= 2;
            uint8_t *q = realloc(p, cap);
            if (!q)
                sc_die("out of memory reading %s", path);
            p = q;
        }
        size_t k = fread(p + n, 1, cap - n, f);
        n += k;
        if (k == 0)
            break;
    }
    if (ferror(f))
        sc_die("reading %s failed", path);
    fclose(f);
    *len = n;
    return p;
}

static uint8_t *xz_decode(const char *path, const uint8_t *in, size_t inlen, size_t *outlen)
{
    lzma_stream s = LZMA_STREAM_INIT;
    if (lzma_stream_decoder(&s, UINT64_MAX, LZMA_CONCATENATED) != LZMA_OK)
        sc_die("%s: cannot start the xz decoder", path);
    size_t cap = inlen * 8 + (1 << 20), n = 0;
    uint8_t *out = malloc(cap);
    if (!out)
        sc_die("out of memory decompressing %s", path);
    s.next_in = in;
    s.avail_in = inlen;
    for (;;) {
        if (n == cap) {
            if (cap > ((size_t)1 << 31))
                sc_die("%s: decompressed table larger than 2 GiB", path);
            cap *= 2;
            uint8_t *q = realloc(out, cap);
            if (!q)
                sc_die("out of memory decompressing %s", path);
            out = q;
        }
        s.next_out = out + n;
        s.avail_out = cap - n;
        lzma_ret r = lzma_code(&s, s.avail_in ? LZMA_RUN : LZMA_FINISH);
        n = cap - s.avail_out;
        if (r == LZMA_STREAM_END)
            break;
        if (r != LZMA_OK)
            sc_die("%s: xz data is %s (lzma error %d at input offset %zu)", path,
                   r == LZMA_BUF_ERROR ? "truncated" : "corrupt", (int)r, inlen - s.avail_in);
    }
    lzma_end(&s);
    *outlen = n;
    return out;
}

static bool ends_with(const char *s, const char *suffix)
{
    size_t a = strlen(s), b = strlen(suffix);
    return a >= b && strcmp(s + a - b, suffix) == 0;
}

static json_object *member(json_object *o, const char *name)
{
    json_object *v = NULL;
    if (!o || !json_object_is_type(o, json_type_object) || !json_object_object_get_ex(o, name, &v))
        return NULL;
    return v;
}

static int64_t member_int(json_object *o, const char *name, int64_t dflt)
{
    json_object *v = member(o, name);
    if (!v || !(json_object_is_type(v, json_type_int) || json_object_is_type(v, json_type_double)))
        return dflt;
    return json_object_get_int64(v);
}

static const char *member_str(json_object *o, const char *name)
{
    json_object *v = member(o, name);
    return v && json_object_is_type(v, json_type_string) ? json_object_get_string(v) : NULL;
}

/* "x_fpo": {"fpo": [...], "framedata": [...], "programs": [...]} (pdb2isf.py) */
static lay_frame *load_frame_list(const lay *L, json_object *arr, json_object *programs,
                                  int kind, size_t *count)
{
    *count = 0;
    if (!arr || !json_object_is_type(arr, json_type_array))
        return NULL;
    size_t n = json_object_array_length(arr);
    if (n > 1000000)
        sc_die("%s: x_fpo: %zu records", L->path, n);
    lay_frame *v = sc_alloc0((n ? n : 1) * sizeof *v);
    size_t np = programs && json_object_is_type(programs, json_type_array)
                    ? json_object_array_length(programs) : 0;
    for (size_t i = 0; i < n; i++) {
        json_object *r = json_object_array_get_idx(arr, i);
        lay_frame *f = &v[i];
        int64_t rva = member_int(r, "rva", -1), size = member_int(r, "size", -1);
        if (rva < 0 || size < 0 || rva > UINT32_MAX || size > UINT32_MAX)
            sc_die("%s: x_fpo record %zu lacks rva/size", L->path, i);
        f->kind = kind;
        f->rva = (uint32_t)rva;
        f->size = (uint32_t)size;
        f->locals = (uint32_t)member_int(r, "locals", 0);
        f->params = (uint32_t)member_int(r, "params", 0);
        f->regs = (uint32_t)member_int(r, "regs", 0);
        f->prolog = (uint32_t)member_int(r, "prolog", 0);
        f->flags = (uint32_t)member_int(r, "flags", 0);
        f->frame = (unsigned)member_int(r, "frame", 0);
        f->usebp = member_int(r, "usebp", 0) != 0;
        int64_t pi = member_int(r, "program", -1);
        f->program = "";
        if (kind == LAY_FRAMEDATA && pi >= 0 && (size_t)pi < np) {
            json_object *ps = json_object_array_get_idx(programs, (size_t)pi);
            if (ps && json_object_is_type(ps, json_type_string))
                f->program = json_object_get_string(ps);
        }
        if (i && f->rva < v[i - 1].rva)
            sc_die("%s: x_fpo records not sorted by rva (record %zu)", L->path, i);
    }
    *count = n;
    return v;
}

static void load_frames(lay *L, json_object *x)
{
    if (!x)
        return;
    json_object *programs = member(x, "programs");
    L->fpo = load_frame_list(L, member(x, "fpo"), NULL, LAY_FPO, &L->nfpo);
    L->fd = load_frame_list(L, member(x, "framedata"), programs, LAY_FRAMEDATA, &L->nfd);
}

/* The record covering rva in v (sorted by rva): the one starting last among those whose
 * range holds it (FrameData blocks nest inside their function's record). */
static const lay_frame *frame_find(const lay_frame *v, size_t n, uint64_t rva, size_t back)
{
    size_t lo = 0, hi = n;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        if (v[mid].rva <= rva)
            lo = mid + 1;
        else
            hi = mid;
    }
    for (size_t i = lo, k = 0; i > 0 && k < back; i--, k++)
        if (rva - v[i - 1].rva < v[i - 1].size)
            return &v[i - 1];
    return NULL;
}

bool lay_has_frames(const lay *L) { return L->nfpo || L->nfd; }

bool lay_frame_at(const lay *L, uint64_t rva, lay_frame *out)
{
    const lay_frame *f = frame_find(L->fd, L->nfd, rva, 64);
    if (f && f->program[0]) {
        *out = *f;
        return true;
    }
    f = frame_find(L->fpo, L->nfpo, rva, 8);
    if (f) {
        *out = *f;
        return true;
    }
    memset(out, 0, sizeof *out);
    return false;
}

lay *lay_open(const char *path)
{
    if (g_cached && !strcmp(g_cached->path, path)) {
        g_cached->refs++;
        return g_cached;
    }
    size_t len;
    uint8_t *raw = read_file(path, &len);
    if (ends_with(path, ".xz") || (len >= 6 && memcmp(raw, "\xfd" "7zXZ", 5) == 0)) {
        size_t dlen;
        uint8_t *dec = xz_decode(path, raw, len, &dlen);
        free(raw);
        raw = dec;
        len = dlen;
    }
    json_tokener *tok = json_tokener_new_ex(64);
    if (!tok)
        sc_die("out of memory parsing %s", path);
    if (len > INT32_MAX)
        sc_die("%s: table too large", path);
    json_object *root = json_tokener_parse_ex(tok, (const char *)raw, (int)len);
    enum json_tokener_error err = json_tokener_get_error(tok);
    if (err == json_tokener_continue)
        sc_die("%s: JSON ends early (truncated at %zu bytes)", path, len);
    if (!root || err != json_tokener_success)
        sc_die("%s: not valid JSON (%s at offset %zu)", path, json_tokener_error_desc(err),
               json_tokener_get_parse_end(tok));
    json_tokener_free(tok);
    free(raw);

    lay *L = sc_alloc0(sizeof *L);
    L->root = root;
    L->path = strdup(path);
    L->base_types = member(root, "base_types");
    L->user_types = member(root, "user_types");
    L->enums = member(root, "enums");
    L->symbols = member(root, "symbols");
    if (!L->base_types || !L->user_types || !L->symbols)
        sc_die("%s: not an ISF table (base_types, user_types or symbols missing)", path);

    json_object *ptr = member(L->base_types, "pointer");
    int64_t ps = ptr ? member_int(ptr, "size", 0) : 0;
    if (ps != 4 && ps != 8)
        sc_die("%s: base type \"pointer\" has size %lld (want 4 or 8)", path, (long long)ps);
    L->ptr = (unsigned)ps;

    json_object *pdb = member(member(member(root, "metadata"), "windows"), "pdb");
    const char *guid = member_str(pdb, "GUID");
    int64_t age = member_int(pdb, "age", -1);
    if (!guid || age < 0)
        sc_die("%s: metadata.windows.pdb lacks GUID/age", path);
    size_t gl = strlen(guid);
    if (gl > 40)
        sc_die("%s: metadata.windows.pdb.GUID too long", path);
    for (size_t i = 0; i < gl; i++)
        L->guid_age[i] = (char)toupper((unsigned char)guid[i]);
    snprintf(L->guid_age + gl, sizeof L->guid_age - gl, "-%lld", (long long)age);
    int64_t mt = member_int(pdb, "machine_type", 0);
    L->machine = mt ? (uint32_t)mt : (L->ptr == 8 ? 0x8664u : 0x14cu);

    load_frames(L, member(root, "x_fpo"));

    json_object *mmpte = member(L->user_types, "_MMPTE");
    L->pae = L->ptr == 4 && mmpte && member_int(mmpte, "size", 0) == 8;
    L->refs = 1;
    if (!g_cached)
        g_cached = L;
    return L;
}

void lay_free(lay *L)
{
    if (!L || --L->refs > 0)
        return;
    if (g_cached == L)
        g_cached = NULL;
    json_object_put(L->root);
    free(L->fpo);
    free(L->fd);
    free(L->path);
    free(L);
}

unsigned lay_ptr(const lay *L) { return L->ptr; }
bool lay_pae(const lay *L) { return L->pae; }
const char *lay_guid_age(const lay *L) { return L->guid_age; }
uint32_t lay_machine(const lay *L) { return L->machine; }

bool lay_has_type(const lay *L, const char *type)
{
    return member(L->user_types, type) != NULL || member(L->base_types, type) != NULL ||
           member(L->enums, type) != NULL;
}

/* ---------------------------------------------------------------- type sizes */
/* Size of a field type description; false when it names something the table lacks. */
static bool type_size(const lay *L, json_object *t, uint64_t *size, int depth)
{
    if (!t || depth > 16)
        return false;
    const char *kind = member_str(t, "kind");
    const char *name = member_str(t, "name");
    if (!kind)
        return false;
    if (!strcmp(kind, "pointer")) {
        *size = L->ptr;
        return true;
    }
    if (!strcmp(kind, "base")) {
        json_object *b = member(L->base_types, name ? name : "");
        if (!b)
            return false;
        *size = (uint64_t)member_int(b, "size", 0);
        return true;
    }
    if (!strcmp(kind, "struct") || !strcmp(kind, "union") || !strcmp(kind, "class")) {
        json_object *u = member(L->user_types, name ? name : "");
        if (!u)
            return false;
        *size = (uint64_t)member_int(u, "size", 0);
        return true;
    }
    if (!strcmp(kind, "enum")) {
        json_object *e = member(L->enums, name ? name : "");
        if (!e)
            return false;
        *size = (uint64_t)member_int(e, "size", 0);
        return true;
    }
    if (!strcmp(kind, "array")) {
        uint64_t el;
        int64_t count = member_int(t, "count", -1);
        if (count < 0 || !type_size(L, member(t, "subtype"), &el, depth + 1))
            return false;
        *size = (uint64_t)count * el;
        return true;
    }
    if (!strcmp(kind, "bitfield"))
        return type_size(L, member(t, "type"), size, depth + 1);
    if (!strcmp(kind, "function")) {
        *size = 0;
        return true;
    }
    return false;
}

uint64_t lay_size(const lay *L, const char *type)
{
    json_object *o = member(L->user_types, type);
    if (!o)
        o = member(L->enums, type);
    if (!o)
        o = member(L->base_types, type);
    if (!o)
        sc_die("table %s has no type %s", L->path, type);
    return (uint64_t)member_int(o, "size", 0);
}

/* ---------------------------------------------------------------- fields */
/* Resolves "A.B[2].C": each component a field of the current struct/union, an optional [n]
 * indexing an array field. */
static bool resolve(const lay *L, const char *type, const char *path, uint64_t *off, json_object **ftype)
{
    json_object *ut = member(L->user_types, type);
    if (!ut)
        return false;
    uint64_t o = 0;
    json_object *t = NULL;
    const char *p = path;
    char comp[256];
    for (int depth = 0; depth < 32; depth++) {
        const char *dot = strchr(p, '.');
        size_t n = dot ? (size_t)(dot - p) : strlen(p);
        if (n == 0 || n >= sizeof comp)
            return false;
        memcpy(comp, p, n);
        comp[n] = 0;
        long long index = -1;
        char *br = strchr(comp, '[');
        if (br) {
            char *end;
            index = strtoll(br + 1, &end, 0);
            if (end == br + 1 || *end != ']' || end[1] || index < 0)
                return false;
            *br = 0;
        }
        json_object *f = member(member(ut, "fields"), comp);
        if (!f)
            return false;
        int64_t fo = member_int(f, "offset", -1);
        if (fo < 0)
            return false;
        o += (uint64_t)fo;
        t = member(f, "type");
        if (index >= 0) {
            const char *k = member_str(t, "kind");
            if (!k || strcmp(k, "array") != 0 || index >= member_int(t, "count", 0))
                return false;
            json_object *sub = member(t, "subtype");
            uint64_t el;
            if (!type_size(L, sub, &el, 0))
                return false;
            o += (uint64_t)index * el;
            t = sub;
        }
        if (!dot)
            break;
        const char *k = member_str(t, "kind");
        if (!k || (strcmp(k, "struct") && strcmp(k, "union")))
            return false;
        ut = member(L->user_types, member_str(t, "name") ? member_str(t, "name") : "");
        if (!ut)
            return false;
        p = dot + 1;
        if (depth == 31)
            return false;
    }
    *off = o;
    *ftype = t;
    return true;
}

int64_t lay_off(const lay *L, const char *type, const char *field)
{
    uint64_t off;
    json_object *t;
    if (!resolve(L, type, field, &off, &t))
        return -1;
    return (int64_t)off;
}

uint64_t lay_off_req(const lay *L, const char *type, const char *field)
{
    int64_t o = lay_off(L, type, field);
    if (o < 0)
        sc_die("table %s: %s has no field %s", L->path, type, field);
    return (uint64_t)o;
}

bool lay_field(const lay *L, const char *type, const char *field, uint64_t *off, uint64_t *size,
               unsigned *bitpos, unsigned *bitlen)
{
    uint64_t o, sz;
    json_object *t;
    if (!resolve(L, type, field, &o, &t) || !type_size(L, t, &sz, 0))
        return false;
    unsigned bp = 0, bl = 0;
    const char *k = member_str(t, "kind");
    if (k && !strcmp(k, "bitfield")) {
        bp = (unsigned)member_int(t, "bit_position", 0);
        bl = (unsigned)member_int(t, "bit_length", 0);
    }
    if (off)
        *off = o;
    if (size)
        *size = sz;
    if (bitpos)
        *bitpos = bp;
    if (bitlen)
        *bitlen = bl;
    return true;
}

uint64_t lay_sym(const lay *L, const char *name)
{
    json_object *s = member(L->symbols, name);
    if (!s)
        return SC_NONE;
    int64_t a = member_int(s, "address", -1);
    return a < 0 ? SC_NONE : (uint64_t)a;
}

bool lay_enum(const lay *L, const char *enum_name, const char *member_name, int64_t *value)
{
    json_object *c = member(member(member(L->enums, enum_name), "constants"), member_name);
    if (!c || !json_object_is_type(c, json_type_int))
        return false;
    if (value)
        *value = json_object_get_int64(c);
    return true;
}
