/* type.c: the wrappers every user of a type source shares: lookups with NULL checks, field
 * paths ("a.b.c", "Array[3]"), the `dt` spelling of a type, wildcard matching. */
#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <strings.h>

#include "type/type.h"

#define MAX_DESCRIBE_DEPTH 16 /* pointer-to-pointer-to-... chains spelled out */
#define MAX_PATH_PARTS 32
#define MAX_FIELDS_SCAN 100000

/* Windows type names `dt` accepts for the primitive types (the PDB's S_UDT typedefs, which
 * an ISF table does not carry). */
static const struct {
    const char *win, *dt;
} ALIASES[] = {
    {"ULONG", "Uint4B"}, {"LONG", "Int4B"}, {"DWORD", "Uint4B"}, {"UINT", "Uint4B"}, {"INT", "Int4B"},
    {"ULONG32", "Uint4B"}, {"LONG32", "Int4B"}, {"UINT32", "Uint4B"}, {"INT32", "Int4B"},
    {"NTSTATUS", "Int4B"}, {"HRESULT", "Int4B"}, {"BOOL", "Int4B"},
    {"UCHAR", "UChar"}, {"BYTE", "UChar"}, {"BOOLEAN", "UChar"}, {"UINT8", "UChar"}, {"KIRQL", "UChar"},
    {"CHAR", "Char"}, {"CCHAR", "Char"}, {"INT8", "Char"}, {"KPROCESSOR_MODE", "Char"},
    {"USHORT", "Uint2B"}, {"WORD", "Uint2B"}, {"UINT16", "Uint2B"}, {"SHORT", "Int2B"}, {"CSHORT", "Int2B"},
    {"INT16", "Int2B"}, {"WCHAR", "Wchar"},
    {"ULONG64", "Uint8B"}, {"ULONGLONG", "Uint8B"}, {"DWORD64", "Uint8B"}, {"UINT64", "Uint8B"},
    {"QWORD", "Uint8B"}, {"LONG64", "Int8B"}, {"LONGLONG", "Int8B"}, {"INT64", "Int8B"},
    {"VOID", "Void"},
};

bool nk_type_find(nk_typesrc *s, const char *name, uint64_t *id)
{
    if (!s || !s->ops || !s->ops->find || !name || !id) return false;
    if (s->ops->find(s, name, id)) return true;
    for (size_t i = 0; i < sizeof ALIASES / sizeof ALIASES[0]; i++)
        if (strcmp(ALIASES[i].win, name) == 0) return s->ops->find(s, ALIASES[i].dt, id);
    /* pointer-sized integers follow the source's pointer size */
    if (strcmp(name, "ULONG_PTR") == 0 || strcmp(name, "SIZE_T") == 0 || strcmp(name, "UINT_PTR") == 0)
        return s->ops->find(s, s->ptr_size == 4 ? "Uint4B" : "Uint8B", id);
    if (strcmp(name, "LONG_PTR") == 0 || strcmp(name, "SSIZE_T") == 0 || strcmp(name, "INT_PTR") == 0)
        return s->ops->find(s, s->ptr_size == 4 ? "Int4B" : "Int8B", id);
    return false;
}

bool nk_type_info(nk_typesrc *s, uint64_t id, nk_tinfo *out)
{
    if (!s || !s->ops || !s->ops->info || !out) return false;
    return s->ops->info(s, id, out);
}

void nk_typesrc_close(nk_typesrc *s)
{
    if (s && s->ops && s->ops->close) s->ops->close(s);
}

bool nk_type_wildcard(const char *p, const char *s)
{
    const char *star = NULL, *resume = NULL;
    while (*s) {
        if (*p == '*') {
            star = ++p;
            resume = s;
            continue;
        }
        if (*p && (*p == '?' || tolower((unsigned char)*p) == tolower((unsigned char)*s))) {
            p++;
            s++;
            continue;
        }
        if (!star) return false;
        p = star;
        s = ++resume;
    }
    while (*p == '*') p++;
    return *p == 0;
}

/* The field named `name` (exact first, then case-insensitive) among the fields of struct_id. */
static bool field_named(nk_typesrc *s, uint64_t struct_id, const char *name, size_t n, nk_tfield *out)
{
    nk_tfield f;
    bool ci = false;
    nk_tfield cif;
    for (size_t i = 0; i < MAX_FIELDS_SCAN && s->ops->field(s, struct_id, i, &f); i++) {
        if (!f.name || strlen(f.name) != n) continue;
        if (strncmp(f.name, name, n) == 0) {
            *out = f;
            return true;
        }
        if (!ci && strncasecmp(f.name, name, n) == 0) {
            ci = true;
            cif = f;
        }
    }
    if (ci) *out = cif;
    return ci;
}

bool nk_type_field(nk_typesrc *s, uint64_t struct_id, const char *path, nk_tfield *out)
{
    if (!s || !s->ops || !s->ops->field || !path || !out) return false;
    uint64_t cur = struct_id;
    uint64_t base = 0;
    const char *p = path;
    for (int part = 0; part < MAX_PATH_PARTS; part++) {
        while (*p == ' ') p++;
        size_t n = strcspn(p, ".[ ");
        if (n == 0) return false;
        nk_tinfo ti;
        if (!nk_type_info(s, cur, &ti) || (ti.kind != NK_TK_STRUCT && ti.kind != NK_TK_UNION)) return false;
        nk_tfield f;
        if (!field_named(s, cur, p, n, &f)) return false;
        if (f.is_static) return false;
        f.offset += base;
        p += n;
        while (*p == ' ') p++;
        /* array subscripts: "Field[3]" (decimal, as WinDbg reads them) */
        while (*p == '[') {
            char *end;
            unsigned long long idx = strtoull(p + 1, &end, 10);
            if (end == p + 1 || *end != ']') return false;
            nk_tinfo at;
            if (!nk_type_info(s, f.type, &at) || at.kind != NK_TK_ARRAY || idx >= at.count) return false;
            nk_tinfo et;
            if (!nk_type_info(s, at.target, &et)) return false;
            f.offset += idx * et.size;
            f.type = at.target;
            f.is_bitfield = false;
            f.bit_pos = f.bit_len = 0;
            p = end + 1;
        }
        while (*p == ' ') p++;
        if (*p == 0) {
            *out = f;
            return true;
        }
        if (*p != '.') return false;
        p++;
        base = f.offset;
        cur = f.type;
    }
    return false;
}

/* ---- dt spelling ------------------------------------------------------------------------ */

typedef struct sbuf {
    char *b;
    size_t len, pos;
} sbuf;

static void put(sbuf *o, const char *s)
{
    if (!o->len) return;
    size_t n = strlen(s);
    if (o->pos + 1 >= o->len) return;
    size_t room = o->len - 1 - o->pos;
    if (n > room) n = room;
    memcpy(o->b + o->pos, s, n);
    o->pos += n;
    o->b[o->pos] = 0;
}

static void describe(nk_typesrc *s, uint64_t id, sbuf *o, int depth)
{
    char tmp[64];
    if (depth > MAX_DESCRIBE_DEPTH) {
        put(o, "...");
        return;
    }
    nk_tinfo ti;
    if (id == 0) {
        put(o, "Void");
        return;
    }
    if (!nk_type_info(s, id, &ti)) {
        put(o, "<unknown>");
        return;
    }
    switch (ti.kind) {
    case NK_TK_VOID:
        put(o, "Void");
        break;
    case NK_TK_BASE:
        put(o, ti.name ? ti.name : "<unknown>");
        break;
    case NK_TK_POINTER:
        put(o, ti.size == 8 ? "Ptr64 " : ti.size == 2 ? "Ptr16 " : "Ptr32 ");
        describe(s, ti.target, o, depth + 1);
        break;
    case NK_TK_ARRAY:
        snprintf(tmp, sizeof tmp, "[%llu] ", (unsigned long long)ti.count);
        put(o, tmp);
        describe(s, ti.target, o, depth + 1);
        break;
    case NK_TK_STRUCT:
    case NK_TK_UNION:
    case NK_TK_ENUM:
        put(o, ti.name ? ti.name : "<unnamed-tag>");
        break;
    case NK_TK_BITFIELD:
        snprintf(tmp, sizeof tmp, "Pos %u, %u Bit%s", ti.bit_pos, ti.bit_len, ti.bit_len == 1 ? "" : "s");
        put(o, tmp);
        break;
    case NK_TK_FUNCTION: {
        /* WinDbg: "    void " — four spaces, the C return type, a space */
        put(o, "    ");
        nk_tinfo rt;
        if (ti.target == 0) put(o, "void");
        else if (nk_type_info(s, ti.target, &rt) && (rt.kind == NK_TK_BASE || rt.kind == NK_TK_VOID) && rt.c_name)
            put(o, rt.c_name);
        else describe(s, ti.target, o, depth + 1);
        put(o, " ");
        break;
    }
    default:
        put(o, ti.name ? ti.name : "<unknown>");
        break;
    }
}

char *nk_type_describe(nk_typesrc *s, uint64_t id, char *buf, size_t len)
{
    sbuf o = {buf, len, 0};
    if (len) buf[0] = 0;
    if (!s) return buf;
    describe(s, id, &o, 0);
    return buf;
}
