/* pdb_types.c: a type source (type.h) over a PDB's type stream (pdb/pdb.h).
 *
 * Ids are CodeView type indexes: below 0x1000 the simple (primitive) types, which also encode
 * pointers to primitives in their mode bits; from the TPI's first index the records. Modifiers
 * (const/volatile) are transparent and forward references are resolved to their definitions
 * wherever an id is handed out, so two fields of the same type carry the same id.
 *
 * The PDB handle is borrowed: it must outlive the source, and closing the source leaves it
 * open. Field and enumerator walks keep one iterator each, so reading the fields of a struct
 * in order costs one pass over its field list. */
#include <stdio.h>
#include <stdlib.h>
#include <strings.h>

#include "pdb/pdb.h"
#include "type/type.h"

#define MAX_CHAIN 32        /* modifier / forward-reference hops */
#define MAX_ITER 100000     /* entries of one field list */

typedef struct name_ti {
    const char *name;
    uint32_t ti;
} name_ti;

typedef struct walk {
    bool valid;
    uint64_t id;
    size_t next;            /* index of the entry the iterator yields next */
    nk_pdb_field_iter it;
} walk;

typedef struct pdb_src {
    nk_typesrc base;
    nk_pdb *pdb;
    char origin[300];
    walk fields[8];         /* nested walks (dt -r descends into members) */
    unsigned next_slot;
    walk enums;
    /* case-insensitive index of the UDT names, built on the first missed exact lookup */
    name_ti *ci;
    size_t nci;
    bool ci_built;
} pdb_src;

static pdb_src *of(nk_typesrc *s) { return (pdb_src *)s; }

/* ---- simple types --------------------------------------------------------------------- */

typedef struct simple_c {
    uint8_t kind;
    bool sign, flt, chr;
    const char *c;
} simple_c;

static const simple_c SIMPLE_C[] = {
    {0x03, false, false, false, "void"}, {0x08, true, false, false, "HRESULT"},
    {0x10, true, false, true, "char"}, {0x20, false, false, true, "unsigned char"},
    {0x68, true, false, true, "char"}, {0x69, false, false, true, "unsigned char"},
    {0x70, true, false, true, "char"}, {0x71, false, false, true, "wchar_t"},
    {0x7a, false, false, true, "char16_t"}, {0x7b, false, false, true, "char32_t"},
    {0x7c, false, false, true, "char8_t"},
    {0x11, true, false, false, "short"}, {0x21, false, false, false, "unsigned short"},
    {0x72, true, false, false, "short"}, {0x73, false, false, false, "unsigned short"},
    {0x12, true, false, false, "long"}, {0x22, false, false, false, "unsigned long"},
    {0x74, true, false, false, "int"}, {0x75, false, false, false, "unsigned int"},
    {0x13, true, false, false, "int64"}, {0x23, false, false, false, "unsigned int64"},
    {0x76, true, false, false, "int64"}, {0x77, false, false, false, "unsigned int64"},
    {0x14, true, false, false, "int128"}, {0x24, false, false, false, "unsigned int128"},
    {0x78, true, false, false, "int128"}, {0x79, false, false, false, "unsigned int128"},
    {0x40, true, true, false, "float"}, {0x41, true, true, false, "double"},
    {0x42, true, true, false, "long double"}, {0x43, true, true, false, "float128"},
    {0x44, true, true, false, "float48"}, {0x45, true, true, false, "float"},
    {0x46, true, true, false, "half"},
    {0x30, false, false, false, "bool"}, {0x31, false, false, false, "bool16"},
    {0x32, false, false, false, "bool32"}, {0x33, false, false, false, "bool64"},
};

static const simple_c *simple_c_find(uint32_t kind)
{
    for (size_t i = 0; i < sizeof SIMPLE_C / sizeof SIMPLE_C[0]; i++)
        if (SIMPLE_C[i].kind == kind) return &SIMPLE_C[i];
    return NULL;
}

/* Base type names a user may type ("Uint4B", "unsigned long") to simple type indexes. */
static const name_ti SIMPLE_NAMES[] = {
    {"Void", 0x03}, {"Char", 0x10}, {"UChar", 0x20}, {"Int2B", 0x11}, {"Uint2B", 0x21},
    {"Int4B", 0x12}, {"Uint4B", 0x22}, {"Int8B", 0x13}, {"Uint8B", 0x23}, {"Wchar", 0x71},
    {"Bool", 0x30}, {"Float", 0x40}, {"void", 0x03}, {"char", 0x10}, {"unsigned char", 0x20},
    {"short", 0x11}, {"unsigned short", 0x21}, {"long", 0x12}, {"unsigned long", 0x22},
    {"int", 0x74}, {"unsigned int", 0x75}, {"int64", 0x13}, {"unsigned int64", 0x23},
    {"__int64", 0x13}, {"unsigned __int64", 0x23}, {"wchar_t", 0x71}, {"bool", 0x30},
    {"float", 0x40}, {"double", 0x41},
};

static bool simple_info(uint32_t ti, nk_tinfo *out)
{
    uint32_t mode = (ti >> 8) & 7;
    uint32_t kind = ti & 0xff;
    if (mode) {
        out->kind = NK_TK_POINTER;
        out->size = nk_pdb_simple_size(ti);
        out->target = kind;
        return true;
    }
    if (kind == 0) {
        out->kind = NK_TK_UNKNOWN;
        out->name = "<NoType>";
        return true;
    }
    const char *nm = nk_pdb_simple_name(ti);
    const simple_c *c = simple_c_find(kind);
    if (!nm) return false;
    out->kind = kind == 0x03 ? NK_TK_VOID : NK_TK_BASE;
    out->name = nm;
    out->size = nk_pdb_simple_size(ti);
    if (c) {
        out->is_signed = c->sign;
        out->is_float = c->flt;
        out->is_char = c->chr;
        out->c_name = c->c;
    }
    return true;
}

/* ---- normalisation ----------------------------------------------------------------------- */

static bool is_tag(nk_pdb_kind k)
{
    return k == NK_PT_STRUCT || k == NK_PT_CLASS || k == NK_PT_INTERFACE || k == NK_PT_UNION || k == NK_PT_ENUM;
}

/* Strips modifiers and resolves forward references: the id handed out for `ti`. */
static uint32_t norm(nk_pdb *p, uint32_t ti)
{
    for (int hop = 0; hop < MAX_CHAIN; hop++) {
        if (ti < 0x1000) return ti;
        nk_pdb_typeinfo ty;
        if (nk_pdb_type_get(p, ti, &ty) != NTKD_OK) return ti;
        if (ty.kind == NK_PT_MODIFIER) {
            ti = ty.elem_ti;
            continue;
        }
        if (is_tag(ty.kind) && (ty.props & NK_PROP_FWDREF)) return nk_pdb_type_resolve(p, ti);
        return ti;
    }
    return ti;
}

static bool anonymous_name(const char *n)
{
    return !n || !n[0] || strncmp(n, "<unnamed-", 9) == 0 || strncmp(n, "<anonymous-", 11) == 0 ||
           strncmp(n, "__unnamed", 9) == 0;
}

/* ---- operations ------------------------------------------------------------------------ */

static bool op_info(nk_typesrc *s, uint64_t id, nk_tinfo *out)
{
    nk_pdb *p = of(s)->pdb;
    memset(out, 0, sizeof *out);
    if (id == 0 || id > UINT32_MAX) return false;
    uint32_t ti = norm(p, (uint32_t)id);
    if (ti < 0x1000) return simple_info(ti, out);
    nk_pdb_typeinfo ty;
    if (nk_pdb_type_get(p, ti, &ty) != NTKD_OK) return false;
    uint64_t sz = 0;
    switch (ty.kind) {
    case NK_PT_POINTER:
        out->kind = NK_TK_POINTER;
        out->size = ty.size;
        out->target = norm(p, ty.elem_ti);
        break;
    case NK_PT_ARRAY:
        out->kind = NK_TK_ARRAY;
        out->size = ty.size;
        out->target = norm(p, ty.elem_ti);
        if (nk_pdb_type_size(p, out->target, &sz) == NTKD_OK && sz) out->count = ty.size / sz;
        break;
    case NK_PT_STRUCT: case NK_PT_CLASS: case NK_PT_INTERFACE: case NK_PT_UNION:
        out->kind = ty.kind == NK_PT_UNION ? NK_TK_UNION : NK_TK_STRUCT;
        out->name = ty.name[0] ? ty.name : "<unnamed-tag>";
        out->size = ty.size;
        out->forward = (ty.props & NK_PROP_FWDREF) != 0;
        break;
    case NK_PT_ENUM:
        out->kind = NK_TK_ENUM;
        out->name = ty.name[0] ? ty.name : "<unnamed-tag>";
        out->target = norm(p, ty.elem_ti);
        out->forward = (ty.props & NK_PROP_FWDREF) != 0;
        if (nk_pdb_type_size(p, out->target, &sz) == NTKD_OK) out->size = sz;
        break;
    case NK_PT_BITFIELD:
        out->kind = NK_TK_BITFIELD;
        out->target = norm(p, ty.elem_ti);
        out->bit_pos = ty.bit_pos;
        out->bit_len = ty.bit_len;
        if (nk_pdb_type_size(p, out->target, &sz) == NTKD_OK) out->size = sz;
        break;
    case NK_PT_PROCEDURE: case NK_PT_MFUNCTION:
        out->kind = NK_TK_FUNCTION;
        out->target = norm(p, ty.elem_ti);
        break;
    default:
        out->kind = NK_TK_UNKNOWN;
        out->name = NULL;
        break;
    }
    return true;
}

/* Moves walk w to entry i of the list of `id` (fields when enums is false). */
static bool walk_to(nk_pdb *p, walk *w, uint64_t id, size_t i, bool enums, nk_pdb_field *out)
{
    if (!w->valid || w->id != id || i < w->next) {
        if (nk_pdb_fields_begin(p, (uint32_t)id, &w->it) != NTKD_OK) {
            w->valid = false;
            return false;
        }
        w->valid = true;
        w->id = id;
        w->next = 0;
    }
    nk_pdb_field f;
    for (size_t guard = 0; guard < MAX_ITER; guard++) {
        if (!nk_pdb_fields_next(&w->it, &f)) {
            w->valid = false;
            return false;
        }
        bool take = enums ? f.kind == NK_FIELD_ENUMERATE
                          : (f.kind == NK_FIELD_MEMBER || f.kind == NK_FIELD_STATIC || f.kind == NK_FIELD_BASE ||
                             f.kind == NK_FIELD_VFUNCTAB);
        if (!take) continue;
        if (w->next++ == i) {
            *out = f;
            return true;
        }
    }
    w->valid = false;
    return false;
}

static bool op_field(nk_typesrc *s, uint64_t id, size_t i, nk_tfield *out)
{
    pdb_src *ps = of(s);
    if (id < 0x1000 || id > UINT32_MAX) return false;
    uint32_t ti = norm(ps->pdb, (uint32_t)id);
    nk_pdb_field f;
    walk *w = NULL;
    for (size_t k = 0; k < 8 && !w; k++)
        if (ps->fields[k].valid && ps->fields[k].id == ti && ps->fields[k].next <= i) w = &ps->fields[k];
    if (!w) w = &ps->fields[ps->next_slot++ % 8];
    if (!walk_to(ps->pdb, w, ti, i, false, &f)) return false;
    memset(out, 0, sizeof *out);
    out->name = f.name;
    out->offset = f.kind == NK_FIELD_STATIC ? 0 : f.offset;
    out->type = f.is_bitfield ? f.type_ti : norm(ps->pdb, f.type_ti);
    out->is_bitfield = f.is_bitfield;
    out->bit_pos = f.bit_pos;
    out->bit_len = f.bit_len;
    out->is_static = f.kind == NK_FIELD_STATIC;
    out->is_base = f.kind == NK_FIELD_BASE;
    if (f.kind == NK_FIELD_VFUNCTAB) out->name = "__VFN_table";
    if (f.kind == NK_FIELD_BASE) {
        nk_pdb_typeinfo bt;
        out->name = nk_pdb_type_get(ps->pdb, out->type, &bt) == NTKD_OK && bt.name[0] ? bt.name : "__BaseClass";
    }
    return true;
}

static bool op_enumerator(nk_typesrc *s, uint64_t id, size_t i, const char **name, int64_t *value)
{
    pdb_src *ps = of(s);
    if (id < 0x1000 || id > UINT32_MAX) return false;
    uint32_t ti = norm(ps->pdb, (uint32_t)id);
    nk_pdb_field f;
    if (!walk_to(ps->pdb, &ps->enums, ti, i, true, &f)) return false;
    *name = f.name;
    *value = (int64_t)f.value;
    return true;
}

static int cmp_ci(const void *a, const void *b)
{
    const name_ti *x = a, *y = b;
    int c = strcasecmp(x->name, y->name);
    if (c) return c;
    return x->ti < y->ti ? -1 : x->ti > y->ti;
}

static void build_ci(pdb_src *ps)
{
    ps->ci_built = true;
    nk_pdb_type_iter it;
    nk_pdb_typeinfo ty;
    size_t cap = 0;
    nk_pdb_types_begin(ps->pdb, &it);
    while (nk_pdb_types_next(&it, &ty)) {
        if (!ty.name || !ty.name[0]) continue;
        if (!nk_grow((void **)&ps->ci, &cap, ps->nci + 1, sizeof *ps->ci)) break;
        ps->ci[ps->nci].name = ty.name;
        ps->ci[ps->nci].ti = ty.ti;
        ps->nci++;
    }
    nk_sort(ps->ci, ps->nci, sizeof *ps->ci, cmp_ci);
}

static bool op_find(nk_typesrc *s, const char *name, uint64_t *id)
{
    pdb_src *ps = of(s);
    if (!name || !*name) return false;
    uint32_t ti = 0;
    if (nk_pdb_type_find(ps->pdb, name, &ti) == NTKD_OK && ti) {
        *id = norm(ps->pdb, ti);
        return true;
    }
    for (size_t i = 0; i < sizeof SIMPLE_NAMES / sizeof SIMPLE_NAMES[0]; i++)
        if (strcmp(SIMPLE_NAMES[i].name, name) == 0) {
            *id = SIMPLE_NAMES[i].ti;
            return true;
        }
    /* WinDbg matches type names without regard to case */
    if (!ps->ci_built) build_ci(ps);
    size_t lo = 0, hi = ps->nci;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        if (strcasecmp(ps->ci[mid].name, name) < 0) lo = mid + 1;
        else hi = mid;
    }
    if (lo < ps->nci && strcasecmp(ps->ci[lo].name, name) == 0) {
        *id = norm(ps->pdb, ps->ci[lo].ti);
        return true;
    }
    return false;
}

static void op_each_name(nk_typesrc *s, const char *pattern, bool (*fn)(void *u, const char *name, uint64_t id), void *u)
{
    pdb_src *ps = of(s);
    nk_pdb_type_iter it;
    nk_pdb_typeinfo ty;
    nk_pdb_types_begin(ps->pdb, &it);
    while (nk_pdb_types_next(&it, &ty)) {
        if (anonymous_name(ty.name) || !nk_type_wildcard(pattern, ty.name)) continue;
        if (!fn(u, ty.name, ty.ti)) return;
    }
}

static void op_close(nk_typesrc *s)
{
    pdb_src *ps = of(s);
    free(ps->ci);
    free(ps);
}

static const nk_typesrc_ops PDB_OPS = {
    .find = op_find,
    .info = op_info,
    .field = op_field,
    .enumerator = op_enumerator,
    .each_name = op_each_name,
    .close = op_close,
};

nk_status nk_typesrc_from_pdb(ntkd_ctx *ctx, nk_pdb *pdb, nk_typesrc **out)
{
    *out = NULL;
    if (!pdb) return nk_fail(ctx, NTKD_E_ARG, "no PDB for a type source");
    nk_pdb_tpi_info tpi;
    nk_status st = nk_pdb_tpi_info_get(pdb, &tpi);
    if (st != NTKD_OK) return st;
    if (!tpi.present) return nk_fail(ctx, NTKD_E_NOTFOUND, "%s: the PDB has no type stream", nk_pdb_name(pdb));
    pdb_src *ps = calloc(1, sizeof *ps);
    if (!ps) return nk_fail(ctx, NTKD_E_NOMEM, "%s: out of memory", nk_pdb_name(pdb));
    ps->pdb = pdb;
    ps->base.ops = &PDB_OPS;
    snprintf(ps->origin, sizeof ps->origin, "PDB %s", nk_pdb_name(pdb));
    ps->base.origin = ps->origin;
    /* pointer size: the DBI's machine, else the size of a _LIST_ENTRY (two pointers) */
    const nk_pdb_info *pi = nk_pdb_get_info(pdb);
    uint16_t m = pi ? pi->machine : 0;
    if (m == 0x014c || m == 0x01c4 || m == 0x01c2) ps->base.ptr_size = 4;
    else if (m == 0x8664 || m == 0xaa64 || m == 0x0200) ps->base.ptr_size = 8;
    else {
        uint32_t le;
        uint64_t sz = 0;
        ps->base.ptr_size = 8;
        if (nk_pdb_type_find(pdb, "_LIST_ENTRY", &le) == NTKD_OK && nk_pdb_type_size(pdb, le, &sz) == NTKD_OK &&
            sz == 8)
            ps->base.ptr_size = 4;
    }
    *out = &ps->base;
    return NTKD_OK;
}
