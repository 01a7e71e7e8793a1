/* isf.c: Volatility 3 symbol tables ("ISF": Intermediate Symbol Format, JSON) as a type
 * source and a symbol table of equal rank with a PDB.
 *
 * A table is one JSON object:
 *   metadata   { format, producer, windows: { pdb: { GUID, age, database, machine_type } } }
 *   base_types { name: { kind: int|char|bool|float|void, size, signed, endian } }
 *   user_types { name: { kind: struct|union|class, size, fields: { name: { offset, type } } } }
 *   enums      { name: { base, size, constants: { name: value } } }
 *   symbols    { name: { address, type? } }         (address = RVA from the image base)
 * A field's type is a descriptor: {kind: base|struct|union|class|enum, name},
 * {kind: pointer, subtype}, {kind: array, count, subtype},
 * {kind: bitfield, bit_position, bit_length, type}, {kind: function}.
 *
 * The file may be plain JSON or an xz stream (decoded into memory with liblzma, size-capped).
 * json-c parses it once; the tree is converted into compact arrays (types, fields,
 * enumerators, symbols, names in an arena) and freed, so lookups never allocate. Type ids are
 * indexes + 1 into the type array; pointer, array and bitfield types, which ISF leaves
 * anonymous, are interned as derived types (one id per distinct shape).
 *
 * ISF objects keep members in name order (Volatility writes them sorted), so the declaration
 * order of fields is lost: fields are given by offset, then whole members before bitfields,
 * then bit position, then name. Enumerators are given by value.
 *
 * The converted form is what isf_cache.c stores: a change here that builds a different table from
 * the same JSON must also change that file's ISFC_TAG.
 *
 * Input is hostile: every member is type-checked, numbers are range-checked, descriptor
 * nesting and the decompressed size are capped, and any inconsistency fails the open with a
 * one-line message naming the file and the JSON path. */
#include <ctype.h>
#include <json-c/json.h>
#include <lzma.h>
#ifdef __GLIBC__
#include <malloc.h>
#endif
#include <stdio.h>
#include <stdlib.h>
#include <strings.h>

#include "sym/isf_int.h"

#define ISF_MAX_JSON (512u << 20) /* decompressed JSON cap */
#define ISF_MAX_DEPTH 48          /* nesting of type descriptors */
#define ISF_LZMA_MEMLIMIT (256u << 20)
#define ISF_MACHINE_I386 0x14c

/* ---- small helpers ---------------------------------------------------------------- */

static nk_status isf_err(nk_isf *x, nk_status st, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
static nk_status isf_err(nk_isf *x, nk_status st, const char *fmt, ...)
{
    char msg[400];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    if (!x->failed) nk_fail(x->ctx, st, "%s: %s", x->name, msg);
    x->failed = true;
    return st;
}

static const char *arena_str(nk_isf *x, const char *s, size_t n)
{
    size_t need = n + 1;
    arena_blk *b = x->arena;
    if (!b || b->cap - b->used < need) {
        size_t cap = need > 65536 ? need : 65536;
        b = malloc(sizeof *b + cap);
        if (!b) return NULL;
        b->next = x->arena;
        b->used = 0;
        b->cap = cap;
        x->arena = b;
    }
    char *d = b->data + b->used;
    memcpy(d, s, n);
    d[n] = 0;
    b->used += need;
    return d;
}

static uint64_t name_hash(const char *s)
{
    uint64_t h = 1469598103934665603ull;
    for (; *s; s++) {
        h ^= (uint8_t)tolower((unsigned char)*s);
        h *= 1099511628211ull;
    }
    return h;
}

/* Name tables: the key is the type's name under `which` (0 = name, 1 = isf_name). */
static const char *key_of(const nk_isf *x, uint32_t id, int which)
{
    const isf_type *ty = &x->types[id - 1];
    return which ? ty->isf_name : ty->name;
}

static void ntab_put(nk_isf *x, uint32_t *slots, size_t cap, uint32_t id, int which)
{
    size_t mask = cap - 1;
    size_t i = (size_t)name_hash(key_of(x, id, which)) & mask;
    while (slots[i]) i = (i + 1) & mask;
    slots[i] = id;
}

static bool ntab_insert(nk_isf *x, id_tab *t, uint32_t id, int which)
{
    if ((t->n + 1) * 2 > t->cap) {
        size_t ncap = t->cap ? t->cap * 2 : 256;
        uint32_t *ns = calloc(ncap, sizeof *ns);
        if (!ns) return false;
        for (size_t i = 0; i < t->cap; i++)
            if (t->slots[i]) ntab_put(x, ns, ncap, t->slots[i], which);
        free(t->slots);
        t->slots = ns;
        t->cap = ncap;
    }
    ntab_put(x, t->slots, t->cap, id, which);
    t->n++;
    return true;
}

/* Exact match first, else the first case-insensitive match; 0 when none. */
static uint32_t ntab_find(const nk_isf *x, const id_tab *t, const char *name, int which)
{
    if (!t->cap || !name) return 0;
    size_t mask = t->cap - 1;
    size_t i = (size_t)name_hash(name) & mask;
    uint32_t ci = 0;
    for (size_t probes = 0; t->slots[i] && probes < t->cap; probes++, i = (i + 1) & mask) {
        const char *k = key_of(x, t->slots[i], which);
        if (!k) continue;
        if (strcmp(k, name) == 0) return t->slots[i];
        if (!ci && strcasecmp(k, name) == 0) ci = t->slots[i];
    }
    return ci;
}

static uint64_t drv_hash(uint8_t kind, uint32_t target, uint64_t a, uint32_t b)
{
    uint64_t h = kind * 0x9e3779b97f4a7c15ull;
    h ^= target + 0x632be59bd9b4e019ull + (h << 6) + (h >> 2);
    h ^= a + 0x85ebca6b + (h << 6) + (h >> 2);
    h ^= b + 0xc2b2ae35 + (h << 6) + (h >> 2);
    return h * 0xff51afd7ed558ccdull;
}

static uint64_t drv_hash_of(const isf_type *t)
{
    uint64_t a = t->kind == NK_TK_ARRAY ? t->count : 0;
    uint32_t b = t->kind == NK_TK_BITFIELD ? (uint32_t)t->bit_pos << 8 | t->bit_len : 0;
    return drv_hash(t->kind, t->target, a, b);
}

static uint32_t new_type(nk_isf *x)
{
    if (x->ntypes >= ISF_MAX_ITEMS) {
        isf_err(x, NTKD_E_FORMAT, "more than %u types", ISF_MAX_ITEMS);
        return 0;
    }
    if (!nk_grow((void **)&x->types, &x->cap_types, x->ntypes + 1, sizeof *x->types)) {
        isf_err(x, NTKD_E_NOMEM, "out of memory for types");
        return 0;
    }
    memset(&x->types[x->ntypes], 0, sizeof x->types[0]);
    x->ntypes++;
    return (uint32_t)x->ntypes;
}

static uint64_t type_size(const nk_isf *x, uint32_t id)
{
    return id && id <= x->ntypes ? x->types[id - 1].size : 0;
}

/* A derived type (pointer, array, bitfield) of the given shape, created once. */
static uint32_t intern(nk_isf *x, uint8_t kind, uint32_t target, uint64_t count, uint8_t pos, uint8_t len)
{
    id_tab *t = &x->derived;
    uint32_t b = kind == NK_TK_BITFIELD ? (uint32_t)pos << 8 | len : 0;
    uint64_t a = kind == NK_TK_ARRAY ? count : 0;
    if (t->cap) {
        size_t mask = t->cap - 1;
        size_t i = (size_t)drv_hash(kind, target, a, b) & mask;
        for (size_t probes = 0; t->slots[i] && probes < t->cap; probes++, i = (i + 1) & mask) {
            const isf_type *ty = &x->types[t->slots[i] - 1];
            if (ty->kind == kind && ty->target == target &&
                (kind != NK_TK_ARRAY || ty->count == count) &&
                (kind != NK_TK_BITFIELD || (ty->bit_pos == pos && ty->bit_len == len)))
                return t->slots[i];
        }
    }
    uint32_t id = new_type(x);
    if (!id) return 0;
    isf_type *ty = &x->types[id - 1];
    ty->kind = kind;
    ty->target = target;
    uint64_t tsz = type_size(x, target);
    if (kind == NK_TK_POINTER) {
        ty->size = x->src.ptr_size;
    } else if (kind == NK_TK_ARRAY) {
        ty->count = count;
        ty->size = (tsz && count > UINT64_MAX / tsz) ? 0 : tsz * count;
    } else {
        ty->bit_pos = pos;
        ty->bit_len = len;
        ty->size = tsz;
    }
    /* insert (grow and rehash when half full) */
    if (t->n * 2 >= t->cap) {
        uint32_t *old = t->slots;
        size_t ocap = t->cap;
        size_t ncap = ocap ? ocap * 2 : 1024;
        uint32_t *ns = calloc(ncap, sizeof *ns);
        if (!ns) {
            isf_err(x, NTKD_E_NOMEM, "out of memory for derived types");
            return 0;
        }
        t->slots = ns;
        t->cap = ncap;
        t->n = 0;
        for (size_t i = 0; i < ocap; i++) {
            if (!old[i]) continue;
            size_t j = (size_t)drv_hash_of(&x->types[old[i] - 1]) & (ncap - 1);
            while (ns[j]) j = (j + 1) & (ncap - 1);
            ns[j] = old[i];
            t->n++;
        }
        free(old);
    }
    size_t mask = t->cap - 1;
    size_t i = (size_t)drv_hash(kind, target, a, b) & mask;
    while (t->slots[i]) i = (i + 1) & mask;
    t->slots[i] = id;
    t->n++;
    return id;
}

/* ---- JSON access ------------------------------------------------------------------- */

static json_object *member(json_object *o, const char *key)
{
    json_object *v = NULL;
    if (!o || !json_object_is_type(o, json_type_object)) return NULL;
    return json_object_object_get_ex(o, key, &v) ? v : NULL;
}

static bool get_i64(json_object *o, const char *key, int64_t *v)
{
    json_object *m = member(o, key);
    if (!m || !json_object_is_type(m, json_type_int)) return false;
    *v = json_object_get_int64(m);
    return true;
}

static const char *get_str(json_object *o, const char *key)
{
    json_object *m = member(o, key);
    return m && json_object_is_type(m, json_type_string) ? json_object_get_string(m) : NULL;
}

/* ---- base types -------------------------------------------------------------------- */

typedef struct base_map {
    const char *isf, *dt, *c;
} base_map;

/* ISF base type names (Volatility's spelling of the PDB's simple types) as `dt` prints them
 * and as a C return type reads. */
static const base_map BASES[] = {
    {"char", "Char", "char"}, {"unsigned char", "UChar", "unsigned char"},
    {"signed char", "Char", "char"}, {"short", "Int2B", "short"},
    {"unsigned short", "Uint2B", "unsigned short"}, {"int", "Int4B", "int"},
    {"unsigned int", "Uint4B", "unsigned int"}, {"long", "Int4B", "long"},
    {"unsigned long", "Uint4B", "unsigned long"}, {"long long", "Int8B", "int64"},
    {"unsigned long long", "Uint8B", "unsigned int64"}, {"wchar", "Wchar", "wchar_t"},
    {"wchar_t", "Wchar", "wchar_t"}, {"void", "Void", "void"}, {"bool", "Bool", "bool"},
    {"double", "Float", "double"}, {"float", "Float", "float"}, {"f32", "Float", "float"},
    {"f64", "Float", "double"}, {"HRESULT", "Int4B", "HRESULT"},
    {"__int8", "Char", "char"}, {"unsigned __int8", "UChar", "unsigned char"},
    {"__int16", "Int2B", "short"}, {"unsigned __int16", "Uint2B", "unsigned short"},
    {"__int32", "Int4B", "long"}, {"unsigned __int32", "Uint4B", "unsigned long"},
    {"__int64", "Int8B", "int64"}, {"unsigned __int64", "Uint8B", "unsigned int64"},
};

/* dt name from kind, size and sign for names the table above does not know. */
static const char *generic_dt(const char *kind, uint64_t size, bool sign)
{
    if (strcmp(kind, "void") == 0) return "Void";
    if (strcmp(kind, "float") == 0) return size == 4 || size == 8 ? "Float" : size == 10 ? "Float80" : "Float";
    if (strcmp(kind, "bool") == 0) return size == 1 ? "Bool" : size == 2 ? "Bool2B" : size == 4 ? "Bool4B" : "Bool8B";
    if (strcmp(kind, "char") == 0) return sign ? "Char" : "UChar";
    switch (size) {
    case 1: return sign ? "Char" : "UChar";
    case 2: return sign ? "Int2B" : "Uint2B";
    case 4: return sign ? "Int4B" : "Uint4B";
    case 8: return sign ? "Int8B" : "Uint8B";
    case 16: return sign ? "Int16B" : "Uint16B";
    default: return "<unknown>";
    }
}

static nk_status load_bases(nk_isf *x, json_object *bt)
{
    if (!bt) return NTKD_OK;
    if (!json_object_is_type(bt, json_type_object))
        return isf_err(x, NTKD_E_FORMAT, "base_types is not an object");
    json_object_object_foreach(bt, name, d) {
        if (!json_object_is_type(d, json_type_object))
            return isf_err(x, NTKD_E_FORMAT, "base_types.%s is not an object", name);
        const char *kind = get_str(d, "kind");
        int64_t size = 0;
        if (!kind || !get_i64(d, "size", &size) || size < 0 || size > 64)
            return isf_err(x, NTKD_E_FORMAT, "base_types.%s: missing or bad kind/size", name);
        json_object *sg = member(d, "signed");
        bool sign = sg && json_object_is_type(sg, json_type_boolean) && json_object_get_boolean(sg);
        if (strcmp(name, "pointer") == 0 && (size == 4 || size == 8)) x->src.ptr_size = (uint8_t)size;
        uint32_t id = new_type(x);
        if (!id) return NTKD_E_NOMEM;
        isf_type *ty = &x->types[id - 1];
        ty->size = (uint64_t)size;
        ty->kind = strcmp(kind, "void") == 0 ? NK_TK_VOID : NK_TK_BASE;
        if (sign) ty->flags |= F_SIGNED;
        if (strcmp(kind, "float") == 0) ty->flags |= F_FLOAT;
        const base_map *m = NULL;
        for (size_t i = 0; i < sizeof BASES / sizeof BASES[0]; i++)
            if (strcmp(BASES[i].isf, name) == 0) m = &BASES[i];
        /* a 1-byte char (and a 2-byte wchar) display as characters */
        if ((strcmp(kind, "char") == 0 && size == 1) || strcmp(name, "wchar") == 0 || strcmp(name, "wchar_t") == 0)
            ty->flags |= F_CHAR;
        ty->isf_name = arena_str(x, name, strlen(name));
        ty->name = m ? m->dt : generic_dt(kind, (uint64_t)size, sign);
        ty->c_name = m ? m->c : ty->isf_name;
        if (!ty->isf_name) return isf_err(x, NTKD_E_NOMEM, "out of memory");
        if (!ntab_find(x, &x->bases, name, 1) && !ntab_insert(x, &x->bases, id, 1))
            return isf_err(x, NTKD_E_NOMEM, "out of memory");
    }
    return NTKD_OK;
}

/* ---- user types and enums ------------------------------------------------------------ */

static bool anonymous_name(const char *n)
{
    return !n[0] || strncmp(n, "__anonymous_", 12) == 0 || strncmp(n, "<unnamed-", 9) == 0 ||
           strncmp(n, "<anonymous-", 11) == 0 || strncmp(n, "__unnamed", 9) == 0;
}

/* A struct/union/enum by name; an undefined name gets a forward placeholder (kind given). */
static uint32_t tag_ref(nk_isf *x, const char *name, uint8_t kind)
{
    uint32_t id = ntab_find(x, &x->tags, name, 0);
    if (id && strcmp(x->types[id - 1].name ? x->types[id - 1].name : "", name) == 0) return id;
    /* a case-insensitive hit is not the same C tag: look for an exact placeholder */
    id = new_type(x);
    if (!id) return 0;
    isf_type *ty = &x->types[id - 1];
    ty->kind = kind;
    ty->flags = F_FWD;
    ty->name = arena_str(x, name, strlen(name));
    if (!ty->name || !ntab_insert(x, &x->tags, id, 0)) {
        isf_err(x, NTKD_E_NOMEM, "out of memory");
        return 0;
    }
    return id;
}

static uint32_t base_ref(nk_isf *x, const char *name)
{
    uint32_t id = ntab_find(x, &x->bases, name, 1);
    if (id && strcmp(x->types[id - 1].isf_name, name) == 0) return id;
    id = new_type(x);
    if (!id) return 0;
    isf_type *ty = &x->types[id - 1];
    ty->kind = NK_TK_UNKNOWN;
    ty->isf_name = arena_str(x, name, strlen(name));
    ty->name = ty->isf_name;
    if (!ty->isf_name || !ntab_insert(x, &x->bases, id, 1)) {
        isf_err(x, NTKD_E_NOMEM, "out of memory");
        return 0;
    }
    return id;
}

/* Resolves a type descriptor to an id; 0 on error (message recorded). */
static uint32_t resolve_desc(nk_isf *x, json_object *d, int depth, const char *where)
{
    if (depth > ISF_MAX_DEPTH) {
        isf_err(x, NTKD_E_FORMAT, "%s: type descriptors nested deeper than %d", where, ISF_MAX_DEPTH);
        return 0;
    }
    if (!d || !json_object_is_type(d, json_type_object)) {
        isf_err(x, NTKD_E_FORMAT, "%s: type descriptor is not an object", where);
        return 0;
    }
    const char *kind = get_str(d, "kind");
    if (!kind) {
        isf_err(x, NTKD_E_FORMAT, "%s: type descriptor without a kind", where);
        return 0;
    }
    if (strcmp(kind, "base") == 0 || strcmp(kind, "struct") == 0 || strcmp(kind, "union") == 0 ||
        strcmp(kind, "class") == 0 || strcmp(kind, "enum") == 0) {
        const char *name = get_str(d, "name");
        if (!name) {
            isf_err(x, NTKD_E_FORMAT, "%s: %s descriptor without a name", where, kind);
            return 0;
        }
        if (kind[0] == 'b') return base_ref(x, name);
        return tag_ref(x, name, kind[0] == 'u' ? NK_TK_UNION : kind[0] == 'e' ? NK_TK_ENUM : NK_TK_STRUCT);
    }
    if (strcmp(kind, "pointer") == 0) {
        uint32_t t = resolve_desc(x, member(d, "subtype"), depth + 1, where);
        return t ? intern(x, NK_TK_POINTER, t, 0, 0, 0) : 0;
    }
    if (strcmp(kind, "array") == 0) {
        int64_t count = 0;
        if (!get_i64(d, "count", &count) || count < 0 || count > (int64_t)1 << 40) {
            isf_err(x, NTKD_E_FORMAT, "%s: array without a valid count", where);
            return 0;
        }
        uint32_t t = resolve_desc(x, member(d, "subtype"), depth + 1, where);
        return t ? intern(x, NK_TK_ARRAY, t, (uint64_t)count, 0, 0) : 0;
    }
    if (strcmp(kind, "bitfield") == 0) {
        int64_t pos = 0, len = 0;
        if (!get_i64(d, "bit_position", &pos) || !get_i64(d, "bit_length", &len) || pos < 0 || len < 1 ||
            len > 64 || pos > 128 - len) { /* (json-c gives INT64_MAX for a longer number: no sum) */
            isf_err(x, NTKD_E_FORMAT, "%s: bitfield without a valid bit_position/bit_length", where);
            return 0;
        }
        uint32_t t = resolve_desc(x, member(d, "type"), depth + 1, where);
        return t ? intern(x, NK_TK_BITFIELD, t, 0, (uint8_t)pos, (uint8_t)len) : 0;
    }
    if (strcmp(kind, "function") == 0) return x->func_id;
    return x->unknown_id;
}

static int cmp_field(const void *a, const void *b, void *u)
{
    const nk_isf *x = u;
    const isf_field *p = a, *q = b;
    if (p->offset != q->offset) return p->offset < q->offset ? -1 : 1;
    const isf_type *tp = &x->types[p->type - 1], *tq = &x->types[q->type - 1];
    int bp = tp->kind == NK_TK_BITFIELD, bq = tq->kind == NK_TK_BITFIELD;
    if (bp != bq) return bp - bq;
    if (bp && tp->bit_pos != tq->bit_pos) return tp->bit_pos < tq->bit_pos ? -1 : 1;
    return p->order < q->order ? -1 : p->order > q->order;
}

static nk_status declare_tags(nk_isf *x, json_object *ut, json_object *en)
{
    if (ut && !json_object_is_type(ut, json_type_object))
        return isf_err(x, NTKD_E_FORMAT, "user_types is not an object");
    if (en && !json_object_is_type(en, json_type_object))
        return isf_err(x, NTKD_E_FORMAT, "enums is not an object");
    if (ut) {
        json_object_object_foreach(ut, name, d) {
            const char *kind = get_str(d, "kind");
            int64_t size = 0;
            if (!kind || !get_i64(d, "size", &size) || size < 0 || size > (int64_t)1 << 40)
                return isf_err(x, NTKD_E_FORMAT, "user_types.%s: missing or bad kind/size", name);
            uint8_t k = strcmp(kind, "union") == 0 ? NK_TK_UNION : NK_TK_STRUCT;
            if (ntab_find(x, &x->tags, name, 0) && strcmp(x->types[ntab_find(x, &x->tags, name, 0) - 1].name, name) == 0)
                continue; /* duplicate name: the first definition wins */
            uint32_t id = new_type(x);
            if (!id) return NTKD_E_NOMEM;
            isf_type *ty = &x->types[id - 1];
            ty->kind = k;
            ty->size = (uint64_t)size;
            ty->name = arena_str(x, name, strlen(name));
            if (!ty->name || !ntab_insert(x, &x->tags, id, 0)) return isf_err(x, NTKD_E_NOMEM, "out of memory");
        }
    }
    if (en) {
        json_object_object_foreach(en, name, d) {
            int64_t size = 0;
            const char *base = get_str(d, "base");
            if (!base || !get_i64(d, "size", &size) || size < 0 || size > 16)
                return isf_err(x, NTKD_E_FORMAT, "enums.%s: missing or bad base/size", name);
            json_object *cs = member(d, "constants");
            if (cs && !json_object_is_type(cs, json_type_object))
                return isf_err(x, NTKD_E_FORMAT, "enums.%s.constants is not an object", name);
            uint32_t existing = ntab_find(x, &x->tags, name, 0);
            if (existing && strcmp(x->types[existing - 1].name, name) == 0) continue;
            uint32_t bid = base_ref(x, base);
            if (!bid) return NTKD_E_NOMEM;
            uint32_t id = new_type(x);
            if (!id) return NTKD_E_NOMEM;
            size_t first = x->nenumrs;
            if (cs) {
                json_object_object_foreach(cs, cname, cv) {
                    if (!json_object_is_type(cv, json_type_int))
                        return isf_err(x, NTKD_E_FORMAT, "enums.%s.constants.%s is not an integer", name, cname);
                    if (x->nenumrs >= ISF_MAX_ITEMS) return isf_err(x, NTKD_E_FORMAT, "too many enumerators");
                    if (!nk_grow((void **)&x->enumrs, &x->cap_enumrs, x->nenumrs + 1, sizeof *x->enumrs))
                        return isf_err(x, NTKD_E_NOMEM, "out of memory");
                    isf_enumr *e = &x->enumrs[x->nenumrs++];
                    e->name = arena_str(x, cname, strlen(cname));
                    /* values above INT64_MAX (unsigned 64-bit enums) keep their bits */
                    e->value = json_object_get_int64(cv);
                    if (e->value == INT64_MAX) e->value = (int64_t)json_object_get_uint64(cv);
                    if (!e->name) return isf_err(x, NTKD_E_NOMEM, "out of memory");
                }
            }
            isf_type *ty = &x->types[id - 1];
            ty->kind = NK_TK_ENUM;
            ty->size = (uint64_t)size;
            ty->target = bid;
            ty->first = (uint32_t)first;
            ty->n = (uint32_t)(x->nenumrs - first);
            ty->name = arena_str(x, name, strlen(name));
            if (!ty->name || !ntab_insert(x, &x->tags, id, 0)) return isf_err(x, NTKD_E_NOMEM, "out of memory");
        }
    }
    return NTKD_OK;
}

static int cmp_enumr(const void *a, const void *b)
{
    const isf_enumr *p = a, *q = b;
    if (p->value != q->value) return p->value < q->value ? -1 : 1;
    return strcmp(p->name, q->name);
}

static nk_status load_fields(nk_isf *x, json_object *ut)
{
    if (!ut) return NTKD_OK;
    char where[300];
    json_object_object_foreach(ut, name, d) {
        uint32_t id = ntab_find(x, &x->tags, name, 0);
        if (!id || x->types[id - 1].kind == NK_TK_ENUM || x->types[id - 1].n || (x->types[id - 1].flags & F_FWD))
            continue; /* a duplicate or an enum of the same name */
        json_object *fs = member(d, "fields");
        if (!fs) continue;
        if (!json_object_is_type(fs, json_type_object))
            return isf_err(x, NTKD_E_FORMAT, "user_types.%s.fields is not an object", name);
        size_t first = x->nfields;
        uint32_t order = 0;
        json_object_object_foreach(fs, fname, fd) {
            snprintf(where, sizeof where, "user_types.%.120s.fields.%.120s", name, fname);
            int64_t off = 0;
            if (!get_i64(fd, "offset", &off) || off < 0 || off > (int64_t)1 << 40)
                return isf_err(x, NTKD_E_FORMAT, "%s: missing or bad offset", where);
            uint32_t tid = resolve_desc(x, member(fd, "type"), 0, where);
            if (!tid) return NTKD_E_FORMAT;
            if (x->nfields >= ISF_MAX_ITEMS) return isf_err(x, NTKD_E_FORMAT, "too many fields");
            if (!nk_grow((void **)&x->fields, &x->cap_fields, x->nfields + 1, sizeof *x->fields))
                return isf_err(x, NTKD_E_NOMEM, "out of memory");
            isf_field *f = &x->fields[x->nfields++];
            f->name = arena_str(x, fname, strlen(fname));
            f->offset = (uint64_t)off;
            f->type = tid;
            f->order = order++;
            if (!f->name) return isf_err(x, NTKD_E_NOMEM, "out of memory");
        }
        isf_type *ty = &x->types[id - 1];
        ty->first = (uint32_t)first;
        ty->n = (uint32_t)(x->nfields - first);
        if (ty->n) nk_sort_r(x->fields + first, ty->n, sizeof *x->fields, cmp_field, x);
    }
    return NTKD_OK;
}

/* ---- symbols ----------------------------------------------------------------------- */

static int cmp_sym(const void *a, const void *b)
{
    const isf_sym *p = a, *q = b;
    int c = strcasecmp(p->name, q->name);
    return c ? c : strcmp(p->name, q->name);
}

static int cmp_rva(const void *a, const void *b, void *u)
{
    const isf_sym *s = u;
    uint32_t i = *(const uint32_t *)a, j = *(const uint32_t *)b;
    if (s[i].rva != s[j].rva) return s[i].rva < s[j].rva ? -1 : 1;
    return i < j ? -1 : i > j;
}

static nk_status load_symbols(nk_isf *x, json_object *sy)
{
    if (!sy) return NTKD_OK;
    if (!json_object_is_type(sy, json_type_object)) return isf_err(x, NTKD_E_FORMAT, "symbols is not an object");
    size_t n = (size_t)json_object_object_length(sy);
    if (n > ISF_MAX_ITEMS) return isf_err(x, NTKD_E_FORMAT, "more than %u symbols", ISF_MAX_ITEMS);
    x->syms = calloc(n ? n : 1, sizeof *x->syms);
    if (!x->syms) return isf_err(x, NTKD_E_NOMEM, "out of memory");
    json_object_object_foreach(sy, name, d) {
        json_object *a = member(d, "address");
        if (!a) continue; /* a symbol without an address (constant data only) */
        if (!json_object_is_type(a, json_type_int) || json_object_get_int64(a) < 0)
            return isf_err(x, NTKD_E_FORMAT, "symbols.%.200s.address is not an unsigned integer", name);
        isf_sym *s = &x->syms[x->nsyms++];
        s->name = arena_str(x, name, strlen(name));
        s->rva = json_object_get_uint64(a);
        if (!s->name) return isf_err(x, NTKD_E_NOMEM, "out of memory");
    }
    nk_sort(x->syms, x->nsyms, sizeof *x->syms, cmp_sym);
    x->by_rva = malloc((x->nsyms ? x->nsyms : 1) * sizeof *x->by_rva);
    if (!x->by_rva) return isf_err(x, NTKD_E_NOMEM, "out of memory");
    for (size_t i = 0; i < x->nsyms; i++) x->by_rva[i] = (uint32_t)i;
    nk_sort_r(x->by_rva, x->nsyms, sizeof *x->by_rva, cmp_rva, x->syms);
    return NTKD_OK;
}

/* ---- metadata ---------------------------------------------------------------------- */

static void load_metadata(nk_isf *x, json_object *md)
{
    json_object *pdb = member(member(md, "windows"), "pdb");
    const char *g = get_str(pdb, "GUID");
    int64_t age = 0, mt = 0;
    if (g && strlen(g) == 32 && get_i64(pdb, "age", &age) && age >= 0 && age <= UINT32_MAX) {
        bool hex = true;
        for (int i = 0; i < 32; i++) {
            if (!isxdigit((unsigned char)g[i])) hex = false;
            x->guid[i] = (char)toupper((unsigned char)g[i]);
        }
        x->guid[32] = 0;
        x->age = (uint32_t)age;
        x->has_ident = hex;
    }
    if (get_i64(pdb, "machine_type", &mt) && mt >= 0 && mt <= 0xffff) x->machine = (uint32_t)mt;
}

/* ---- decompression ----------------------------------------------------------------- */

static nk_status xz_decode(nk_isf *x, const uint8_t *in, size_t n, char **out, size_t *outn)
{
    lzma_stream s = LZMA_STREAM_INIT;
    if (lzma_stream_decoder(&s, ISF_LZMA_MEMLIMIT, LZMA_CONCATENATED) != LZMA_OK)
        return isf_err(x, NTKD_E_NOMEM, "cannot start the xz decoder");
    size_t cap = n < (ISF_MAX_JSON / 16) ? n * 12 + 4096 : ISF_MAX_JSON;
    if (cap > (size_t)ISF_MAX_JSON + 1) cap = (size_t)ISF_MAX_JSON + 1;
    char *buf = malloc(cap + 1);
    if (!buf) {
        lzma_end(&s);
        return isf_err(x, NTKD_E_NOMEM, "out of memory for %zu bytes of JSON", cap);
    }
    size_t len = 0;
    s.next_in = in;
    s.avail_in = n;
    nk_status st = NTKD_OK;
    for (;;) {
        if (len == cap) {
            if (cap > ISF_MAX_JSON) {
                st = isf_err(x, NTKD_E_UNSUPPORTED, "decompressed JSON larger than %u MB", ISF_MAX_JSON >> 20);
                break;
            }
            size_t ncap = cap * 2 > (size_t)ISF_MAX_JSON + 1 ? (size_t)ISF_MAX_JSON + 1 : cap * 2;
            char *nb = realloc(buf, ncap + 1);
            if (!nb) {
                st = isf_err(x, NTKD_E_NOMEM, "out of memory for %zu bytes of JSON", ncap);
                break;
            }
            buf = nb;
            cap = ncap;
        }
        s.next_out = (uint8_t *)buf + len;
        s.avail_out = cap - len;
        lzma_ret r = lzma_code(&s, LZMA_FINISH);
        len = cap - s.avail_out;
        if (r == LZMA_STREAM_END) break;
        if (r == LZMA_OK) continue;
        uint64_t at = (uint64_t)(n - s.avail_in);
        switch (r) {
        case LZMA_BUF_ERROR:
            st = isf_err(x, NTKD_E_TRUNCATED, "xz stream ends early (at byte 0x%llx of the file)", (unsigned long long)at);
            break;
        case LZMA_MEM_ERROR: case LZMA_MEMLIMIT_ERROR:
            st = isf_err(x, NTKD_E_NOMEM, "xz stream needs too much memory to decode");
            break;
        case LZMA_OPTIONS_ERROR: case LZMA_UNSUPPORTED_CHECK:
            st = isf_err(x, NTKD_E_UNSUPPORTED, "xz stream uses unsupported options (at byte 0x%llx)", (unsigned long long)at);
            break;
        default:
            st = isf_err(x, NTKD_E_FORMAT, "xz data is corrupt near byte 0x%llx of the file", (unsigned long long)at);
            break;
        }
        break;
    }
    lzma_end(&s);
    if (st != NTKD_OK) {
        free(buf);
        return st;
    }
    buf[len] = 0;
    *out = buf;
    *outn = len;
    return NTKD_OK;
}

/* ---- the type source ----------------------------------------------------------------- */

static nk_isf *of(nk_typesrc *s) { return (nk_isf *)s; }

static const isf_type *type_at(const nk_isf *x, uint64_t id)
{
    return id && id <= x->ntypes ? &x->types[id - 1] : NULL;
}

static bool op_find(nk_typesrc *s, const char *name, uint64_t *id)
{
    nk_isf *x = of(s);
    if (!name || !*name) return false;
    uint32_t t = ntab_find(x, &x->tags, name, 0);
    if (t && !(x->types[t - 1].flags & F_FWD)) {
        *id = t;
        return true;
    }
    /* base types by their table name ("unsigned long") or their dt name ("Uint4B") */
    t = ntab_find(x, &x->bases, name, 1);
    if (t && x->types[t - 1].kind != NK_TK_UNKNOWN) {
        *id = t;
        return true;
    }
    for (size_t i = 0; i < x->bases.cap; i++) {
        uint32_t b = x->bases.slots[i];
        if (b && x->types[b - 1].kind != NK_TK_UNKNOWN && strcmp(x->types[b - 1].name, name) == 0) {
            *id = b;
            return true;
        }
    }
    return false;
}

static bool op_info(nk_typesrc *s, uint64_t id, nk_tinfo *out)
{
    const isf_type *ty = type_at(of(s), id);
    memset(out, 0, sizeof *out);
    if (!ty) return false;
    out->kind = (nk_tkind)ty->kind;
    /* Volatility renames anonymous records "__anonymous_<index>"; dt shows a placeholder */
    out->name = ty->name && ty->kind != NK_TK_POINTER && ty->kind != NK_TK_ARRAY && ty->kind != NK_TK_BITFIELD
                    ? (anonymous_name(ty->name) ? "<unnamed-tag>" : ty->name)
                    : NULL;
    out->size = ty->size;
    out->target = ty->target;
    out->count = ty->count;
    out->is_signed = ty->flags & F_SIGNED;
    out->is_float = ty->flags & F_FLOAT;
    out->is_char = ty->flags & F_CHAR;
    out->forward = ty->flags & F_FWD;
    out->bit_pos = ty->bit_pos;
    out->bit_len = ty->bit_len;
    out->c_name = ty->kind == NK_TK_BASE || ty->kind == NK_TK_VOID ? ty->c_name : NULL;
    if (ty->kind == NK_TK_UNKNOWN) out->name = ty->name; /* a base name the table does not define */
    return true;
}

static bool op_field(nk_typesrc *s, uint64_t id, size_t i, nk_tfield *out)
{
    nk_isf *x = of(s);
    const isf_type *ty = type_at(x, id);
    if (!ty || (ty->kind != NK_TK_STRUCT && ty->kind != NK_TK_UNION) || i >= ty->n) return false;
    const isf_field *f = &x->fields[ty->first + i];
    memset(out, 0, sizeof *out);
    out->name = f->name;
    out->offset = f->offset;
    out->type = f->type;
    const isf_type *ft = &x->types[f->type - 1];
    if (ft->kind == NK_TK_BITFIELD) {
        out->is_bitfield = true;
        out->bit_pos = ft->bit_pos;
        out->bit_len = ft->bit_len;
    }
    return true;
}

static bool op_enumerator(nk_typesrc *s, uint64_t id, size_t i, const char **name, int64_t *value)
{
    nk_isf *x = of(s);
    const isf_type *ty = type_at(x, id);
    if (!ty || ty->kind != NK_TK_ENUM || i >= ty->n) return false;
    *name = x->enumrs[ty->first + i].name;
    *value = x->enumrs[ty->first + i].value;
    return true;
}

static void op_each_name(nk_typesrc *s, const char *pattern, bool (*fn)(void *u, const char *name, uint64_t id), void *u)
{
    nk_isf *x = of(s);
    for (size_t i = 0; i < x->ntypes; i++) {
        const isf_type *ty = &x->types[i];
        if ((ty->kind != NK_TK_STRUCT && ty->kind != NK_TK_UNION && ty->kind != NK_TK_ENUM) || !ty->name ||
            (ty->flags & F_FWD) || anonymous_name(ty->name))
            continue;
        if (!nk_type_wildcard(pattern, ty->name)) continue;
        if (!fn(u, ty->name, i + 1)) return;
    }
}

static void op_close(nk_typesrc *s)
{
    (void)s; /* owned by the nk_isf handle: nk_isf_close frees it */
}

static const nk_typesrc_ops ISF_OPS = {
    .find = op_find,
    .info = op_info,
    .field = op_field,
    .enumerator = op_enumerator,
    .each_name = op_each_name,
    .close = op_close,
};

/* ---- open / close ---------------------------------------------------------------------- */

void nk_isf_close(nk_isf *x)
{
    if (!x) return;
    free(x->types);
    free(x->fields);
    free(x->enumrs);
    free(x->syms);
    free(x->by_rva);
    free(x->tags.slots);
    free(x->bases.slots);
    free(x->derived.slots);
    while (x->arena) {
        arena_blk *n = x->arena->next;
        free(x->arena);
        x->arena = n;
    }
    free(x->name);
    free(x->origin);
    free(x);
}

static nk_status convert(nk_isf *x, json_object *root)
{
    if (!json_object_is_type(root, json_type_object))
        return isf_err(x, NTKD_E_FORMAT, "the top level is not a JSON object");
    json_object *md = member(root, "metadata");
    json_object *bt = member(root, "base_types"), *ut = member(root, "user_types");
    json_object *en = member(root, "enums"), *sy = member(root, "symbols");
    if (!md || (!bt && !ut && !en && !sy))
        return isf_err(x, NTKD_E_FORMAT, "not a symbol table (no metadata, base_types, user_types, enums or symbols)");
    load_metadata(x, md);
    x->src.ptr_size = x->machine == ISF_MACHINE_I386 ? 4 : 8;
    nk_status st = load_bases(x, bt);
    if (st != NTKD_OK) return st;
    /* the function and unknown placeholders */
    x->func_id = new_type(x);
    x->unknown_id = new_type(x);
    if (!x->func_id || !x->unknown_id) return NTKD_E_NOMEM;
    x->types[x->func_id - 1].kind = NK_TK_FUNCTION;
    x->types[x->unknown_id - 1].kind = NK_TK_UNKNOWN;
    if ((st = declare_tags(x, ut, en)) != NTKD_OK) return st;
    if ((st = load_fields(x, ut)) != NTKD_OK) return st;
    /* enumerators by value */
    for (size_t i = 0; i < x->ntypes; i++) {
        const isf_type *ty = &x->types[i];
        if (ty->kind == NK_TK_ENUM && ty->n > 1) nk_sort(x->enumrs + ty->first, ty->n, sizeof *x->enumrs, cmp_enumr);
    }
    return load_symbols(x, sy);
}

nk_isf *nk_isf_alloc(ntkd_ctx *ctx, const char *name)
{
    nk_isf *x = calloc(1, sizeof *x);
    if (!x) return NULL;
    x->ctx = ctx;
    x->name = strdup(name ? name : "ISF");
    size_t ol = strlen(x->name ? x->name : "") + 8;
    x->origin = malloc(ol);
    if (!x->name || !x->origin) {
        nk_isf_close(x);
        return NULL;
    }
    snprintf(x->origin, ol, "ISF %s", x->name);
    x->src.ops = &ISF_OPS;
    x->src.origin = x->origin;
    x->src.ptr_size = 8;
    return x;
}

nk_status nk_isf_open_mem(ntkd_ctx *ctx, const char *name, const void *data, size_t size, nk_isf **out)
{
    *out = NULL;
    nk_isf *x = nk_isf_alloc(ctx, name);
    if (!x) return nk_fail(ctx, NTKD_E_NOMEM, "%s: out of memory", name ? name : "ISF");

    const uint8_t *p = data;
    char *text = NULL;
    size_t tlen = 0;
    nk_status st = NTKD_OK;
    static const uint8_t xz_magic[6] = {0xfd, '7', 'z', 'X', 'Z', 0};
    if (size >= 6 && memcmp(p, xz_magic, 6) == 0) {
        st = xz_decode(x, p, size, &text, &tlen);
    } else {
        if (size > ISF_MAX_JSON) {
            st = isf_err(x, NTKD_E_UNSUPPORTED, "JSON larger than %u MB", ISF_MAX_JSON >> 20);
        } else {
            text = malloc(size + 1);
            if (!text) st = isf_err(x, NTKD_E_NOMEM, "out of memory");
            else {
                if (size) memcpy(text, p, size);
                text[size] = 0;
                tlen = size;
            }
        }
    }
    if (st != NTKD_OK) {
        nk_isf_close(x);
        return st;
    }
    /* skip a UTF-8 byte order mark and leading white space */
    size_t start = 0;
    if (tlen >= 3 && (uint8_t)text[0] == 0xef && (uint8_t)text[1] == 0xbb && (uint8_t)text[2] == 0xbf) start = 3;
    while (start < tlen && isspace((unsigned char)text[start])) start++;
    if (start >= tlen || text[start] != '{') {
        free(text);
        st = isf_err(x, NTKD_E_FORMAT, "not a JSON symbol table (no '{' at byte 0x%zx)", start);
        nk_isf_close(x);
        return st;
    }
    json_tokener *tok = json_tokener_new_ex(ISF_MAX_DEPTH + 16);
    if (!tok) {
        free(text);
        nk_isf_close(x);
        return nk_fail(ctx, NTKD_E_NOMEM, "%s: out of memory", name);
    }
    json_object *root = json_tokener_parse_ex(tok, text + start, (int)(tlen - start));
    enum json_tokener_error jerr = json_tokener_get_error(tok);
    size_t end = start + json_tokener_get_parse_end(tok);
    json_tokener_free(tok);
    if (!root || jerr != json_tokener_success) {
        if (root) json_object_put(root);
        st = isf_err(x, jerr == json_tokener_continue ? NTKD_E_TRUNCATED : NTKD_E_FORMAT,
                     "JSON error at byte 0x%zx: %s", end,
                     jerr == json_tokener_continue ? "the text ends inside a value" : json_tokener_error_desc(jerr));
        free(text);
        nk_isf_close(x);
        return st;
    }
    while (end < tlen && isspace((unsigned char)text[end])) end++;
    free(text);
    if (end < tlen) {
        json_object_put(root);
        st = isf_err(x, NTKD_E_FORMAT, "text after the JSON object at byte 0x%zx", end);
        nk_isf_close(x);
        return st;
    }
    st = convert(x, root);
    json_object_put(root);
#ifdef __GLIBC__
    /* the JSON tree of a kernel table is ~80 MB of small blocks, the compact form ~3 MB: hand
     * the freed heap back rather than keep it resident for the session */
    malloc_trim(0);
#endif
    if (st != NTKD_OK) {
        nk_isf_close(x);
        return st;
    }
    *out = x;
    return NTKD_OK;
}

nk_status nk_isf_open(ntkd_ctx *ctx, const char *path, nk_isf **out)
{
    *out = NULL;
    nk_file f;
    nk_status st = nk_file_map(ctx, path, &f);
    if (st != NTKD_OK) return st;
    st = nk_isf_open_mem(ctx, nk_file_name(&f), f.data, (size_t)f.size, out);
    nk_file_unmap(&f);
    return st;
}

nk_typesrc *nk_isf_types(nk_isf *isf) { return isf ? &isf->src : NULL; }

bool nk_isf_symbol(nk_isf *x, const char *name, uint64_t *rva)
{
    if (!x || !name || !x->nsyms) return false;
    size_t lo = 0, hi = x->nsyms;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        if (strcasecmp(x->syms[mid].name, name) < 0) lo = mid + 1;
        else hi = mid;
    }
    /* lo: the first case-insensitive match (if any); prefer the exact spelling */
    size_t first = lo;
    for (size_t i = lo; i < x->nsyms && strcasecmp(x->syms[i].name, name) == 0; i++)
        if (strcmp(x->syms[i].name, name) == 0) {
            *rva = x->syms[i].rva;
            return true;
        }
    if (first < x->nsyms && strcasecmp(x->syms[first].name, name) == 0) {
        *rva = x->syms[first].rva;
        return true;
    }
    return false;
}

bool nk_isf_symbol_by_rva(nk_isf *x, uint64_t rva, const char **name, uint64_t *sym_rva)
{
    if (!x || !x->nsyms) return false;
    size_t lo = 0, hi = x->nsyms; /* first index with rva > target */
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        if (x->syms[x->by_rva[mid]].rva <= rva) lo = mid + 1;
        else hi = mid;
    }
    if (lo == 0) return false;
    size_t i = lo - 1;
    uint64_t r = x->syms[x->by_rva[i]].rva;
    while (i > 0 && x->syms[x->by_rva[i - 1]].rva == r) i--;
    *name = x->syms[x->by_rva[i]].name;
    *sym_rva = r;
    return true;
}

bool nk_isf_identity(nk_isf *x, char guid_hex[33], uint32_t *age)
{
    if (!x || !x->has_ident) return false;
    memcpy(guid_hex, x->guid, 33);
    *age = x->age;
    return true;
}
