/* cmd_dt.c: `dt` (display type), `??` (C++ expressions) and the C++ evaluator that MASM's
 * @@c++(...) / @@(...) call (nk_cpp_eval, expr.h).
 *
 * dt [-r[N]] [-b] [-v] [-a[N]] [-o] [-i] [-y] [mod!]Type [addr] [field[.sub][.]...] [Prefix*]
 * dt [-v] mod!Prefix*
 * The output copies WinDbg's shapes:
 *    +0x000 Type             : UChar                          (no address: the type column)
 *    +0x000 Type             : 0n6                            (signed: decimal with 0n)
 *    +0x002 Size             : 0x238                          (unsigned: 0..9 plain, else hex)
 *    +0x008 MdlAddress       : (null)
 *    +0x020 ThreadListEntry  : _LIST_ENTRY [ 0xfffff980`1c458de0 - 0xfffff980`1c458de0 ]
 *    +0x008 Name             : _UNICODE_STRING "File"
 *    +0x041 PendingReturned  : 0 ''
 *    +0x438 ImageFileName    : [15]  "System"
 *    +0x000 Valid            : 0y1
 *    +0x000 PageFrameNumber  : 0y00000000000001000000101101 (0x102d)
 *    +0x024 PoolType         : 0 ( NonPagedPool )
 *    +0x038 DeleteProcedure  : 0x8058a87d     void  nt!PspProcessDelete+0
 * Names are padded to 16 columns (or, with field arguments, to the longest name shown);
 * nested members are indented by three more columns per level. A value the dump does not
 * hold prints as "????" and the command ends with "Memory read error <addr>".
 *
 * Types come from the symbol layer (nk_sym_types): "nt!_EPROCESS" asks the module named; a
 * bare name tries "nt", then every module of the target. */
#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <strings.h>

#include "cmd/cmd.h"
#include "expr/expr.h"
#include "sym/sym.h"
#include "type/type.h"

#define DT_MAX_LEVEL 16       /* nesting of displayed members */
#define DT_MAX_LINES 500000   /* lines one dt may print */
#define DT_MAX_SPECS 32       /* field arguments */
#define DT_MAX_COMPS 8        /* components of one field path */
#define DT_MAX_FIELDS 100000  /* members of one struct */
#define DT_MAX_ELEMS 65536    /* array elements listed with -a */
#define DT_STR_MAX 512        /* characters read for a string value */
#define DT_WIDTH 16           /* name column without field arguments */

/* ---- finding a type ------------------------------------------------------------------- */

typedef struct tref {
    nk_typesrc *s;
    uint64_t id;
    char module[64];
    bool module_given;
} tref;

/* "C:\\Windows\\System32\\ntdll.dll" -> "ntdll" */
static void module_base(const char *path, char *out, size_t len)
{
    const char *b = path;
    for (const char *p = path; *p; p++)
        if (*p == '\\' || *p == '/') b = p + 1;
    size_t n = strcspn(b, ".");
    if (n >= len) n = len - 1;
    memcpy(out, b, n);
    out[n] = 0;
}

static bool try_module(ntkd_target *t, const char *mod, const char *name, tref *r)
{
    nk_typesrc *s = nk_sym_types(t, mod);
    if (!s || !nk_type_find(s, name, &r->id)) return false;
    r->s = s;
    size_t n = strlen(mod);
    if (n >= sizeof r->module) n = sizeof r->module - 1;
    memcpy(r->module, mod, n);
    r->module[n] = 0;
    return true;
}

/* Finds "mod!Type" or "Type" (nt first, then every module). */
static bool find_type(ntkd_target *t, const char *text, size_t n, tref *r)
{
    char buf[512];
    while (n && isspace((unsigned char)*text)) text++, n--;
    while (n && isspace((unsigned char)text[n - 1])) n--;
    if (n == 0 || n >= sizeof buf) return false;
    memcpy(buf, text, n);
    buf[n] = 0;
    memset(r, 0, sizeof *r);
    char *bang = strchr(buf, '!');
    if (bang) {
        *bang = 0;
        r->module_given = true;
        return buf[0] && bang[1] && try_module(t, buf, bang + 1, r);
    }
    if (try_module(t, "nt", buf, r)) return true;
    char mod[64];
    for (size_t i = 0; i < t->d.nmodules && i < 4096; i++) {
        if (!t->d.modules[i].name || t->d.modules[i].unloaded) continue;
        module_base(t->d.modules[i].name, mod, sizeof mod);
        if (mod[0] && strcasecmp(mod, "nt") != 0 && try_module(t, mod, buf, r)) return true;
    }
    return false;
}

/* ---- number formatting ----------------------------------------------------------------- */

/* WinDbg's unsigned style: 0..9 plain, else 0x hex (64-bit values with the ` separator). */
static void fmt_unsigned(char *b, size_t n, uint64_t v)
{
    if (v < 10) snprintf(b, n, "%llu", (unsigned long long)v);
    else if (v > 0xffffffffull) snprintf(b, n, "0x%08llx`%08llx", (unsigned long long)(v >> 32), (unsigned long long)(v & 0xffffffffull));
    else snprintf(b, n, "0x%llx", (unsigned long long)v);
}

static void fmt_signed(char *b, size_t n, int64_t v) { snprintf(b, n, "0n%lld", (long long)v); }

static void fmt_pointer(char *b, size_t n, uint64_t v, bool is64)
{
    char a[24];
    if (is64) snprintf(b, n, "0x%s", nk_fmt_addr64(a, v));
    else snprintf(b, n, "0x%08llx", (unsigned long long)(v & 0xffffffffull));
}

static uint64_t load_le(const uint8_t *p, size_t n)
{
    uint64_t v = 0;
    for (size_t i = 0; i < n && i < 8; i++) v |= (uint64_t)p[i] << (8 * i);
    return v;
}

static int64_t sign_extend(uint64_t v, unsigned bytes)
{
    if (bytes == 0 || bytes >= 8) return (int64_t)v;
    unsigned bits = bytes * 8;
    uint64_t m = 1ull << (bits - 1);
    v &= (1ull << bits) - 1;
    return (int64_t)((v ^ m) - m);
}

/* ---- the dt state -------------------------------------------------------------------------- */

typedef struct spec {
    char comp[DT_MAX_COMPS][128];
    int ncomp;
    int dots;      /* trailing periods: levels of subfields to show */
    bool prefix;   /* -y, or a trailing period: the last component is a prefix */
} spec;

typedef struct dt_opts {
    int rec;       /* -r / -b: levels of embedded members to expand */
    bool b, v, o, i, y, list_arrays;
    uint64_t arr_count; /* -a N (0: all) */
} dt_opts;

typedef struct dt_ctx {
    ntkd_target *t;
    nk_out *o;
    nk_typesrc *s;
    bool have_addr;
    bool is64;
    dt_opts op;
    spec specs[DT_MAX_SPECS];
    int nspecs;
    bool read_err;
    uint64_t err_addr;
    size_t lines;
} dt_ctx;

static bool rd(dt_ctx *dc, uint64_t va, void *buf, size_t len)
{
    size_t got = 0;
    if (nk_read_virt(dc->t, va, buf, len, &got) == NTKD_OK && got == len) return true;
    if (!dc->read_err) {
        dc->read_err = true;
        dc->err_addr = va + got;
    }
    return false;
}

static bool rd_ptr(dt_ctx *dc, uint64_t va, uint64_t *v)
{
    uint8_t b[8];
    size_t n = dc->is64 ? 8 : 4;
    if (!rd(dc, va, b, n)) return false;
    *v = load_le(b, n);
    return true;
}

static bool tinfo(dt_ctx *dc, uint64_t id, nk_tinfo *ti)
{
    if (nk_type_info(dc->s, id, ti)) return true;
    memset(ti, 0, sizeof *ti);
    return false;
}

static bool is_record(const nk_tinfo *ti) { return ti->kind == NK_TK_STRUCT || ti->kind == NK_TK_UNION; }

static size_t field_count(dt_ctx *dc, uint64_t id)
{
    nk_tfield f;
    size_t n = 0;
    while (n < DT_MAX_FIELDS && dc->s->ops->field(dc->s, id, n, &f)) n++;
    return n;
}

/* ---- strings -------------------------------------------------------------------------- */

/* Escapes nothing (WinDbg prints the characters as they are) but stops at control bytes. */
static void put_ascii(nk_strbuf *sb, const uint8_t *p, size_t n)
{
    for (size_t i = 0; i < n && p[i]; i++) nk_sb_printf(sb, "%c", p[i] >= 0x20 && p[i] < 0x7f ? p[i] : '.');
}

/* A NUL-terminated string of `csize`-byte characters at va: "text", or the read error. */
static void str_at(dt_ctx *dc, nk_strbuf *sb, uint64_t va, unsigned csize)
{
    uint8_t buf[DT_STR_MAX * 2];
    size_t want = (size_t)DT_STR_MAX * csize, got = 0;
    nk_read_virt(dc->t, va, buf, want, &got);
    if (got < csize) {
        char a[24];
        nk_sb_printf(sb, "\"--- memory read error at address 0x%s ---\"", dc->is64 ? nk_fmt_addr64(a, va) : (snprintf(a, sizeof a, "%08llx", (unsigned long long)va), a));
        return;
    }
    size_t n = 0;
    while (n + csize <= got && (csize == 1 ? buf[n] : (buf[n] | buf[n + 1]))) n += csize;
    nk_sb_printf(sb, "\"");
    if (csize == 1) put_ascii(sb, buf, n);
    else {
        char *u = nk_utf16_to_utf8(buf, n);
        if (u) nk_sb_printf(sb, "%s", u);
        free(u);
    }
    nk_sb_printf(sb, "\"");
}

/* Counted strings (_UNICODE_STRING, _STRING): Length and Buffer from the type's own fields. */
static bool counted_string(dt_ctx *dc, uint64_t sid, uint64_t addr, bool wide, nk_strbuf *sb)
{
    nk_tfield lf, bf;
    if (!nk_type_field(dc->s, sid, "Length", &lf) || !nk_type_field(dc->s, sid, "Buffer", &bf)) return false;
    uint8_t lb[2];
    uint64_t buf;
    if (!rd(dc, addr + lf.offset, lb, 2) || !rd_ptr(dc, addr + bf.offset, &buf)) {
        nk_sb_printf(sb, " ????");
        return true;
    }
    size_t len = nk_le16(lb);
    if (len > DT_STR_MAX * 2) len = DT_STR_MAX * 2;
    if (wide) len &= ~(size_t)1;
    uint8_t data[DT_STR_MAX * 2];
    size_t got = 0;
    if (len && (nk_read_virt(dc->t, buf, data, len, &got) != NTKD_OK || got < len)) {
        char a[24];
        nk_sb_printf(sb, " \"--- memory read error at address 0x%s ---\"",
                     dc->is64 ? nk_fmt_addr64(a, buf) : (snprintf(a, sizeof a, "%08llx", (unsigned long long)buf), a));
        return true;
    }
    nk_sb_printf(sb, " \"");
    if (wide) {
        char *u = nk_utf16_to_utf8(data, len);
        if (u) nk_sb_printf(sb, "%s", u);
        free(u);
    } else {
        for (size_t i = 0; i < len; i++) nk_sb_printf(sb, "%c", data[i] >= 0x20 && data[i] < 0x7f ? data[i] : '.');
    }
    nk_sb_printf(sb, "\"");
    return true;
}

/* ---- values ----------------------------------------------------------------------------- */

static void base_value(const nk_tinfo *bt, const uint8_t *b, nk_strbuf *sb)
{
    char num[48];
    unsigned sz = bt->size > 8 ? 8 : (unsigned)bt->size;
    uint64_t raw = load_le(b, sz);
    if (bt->is_float) {
        if (sz == 4) {
            float f;
            memcpy(&f, b, 4);
            nk_sb_printf(sb, "%g", (double)f);
        } else if (sz == 8) {
            double d;
            memcpy(&d, b, 8);
            nk_sb_printf(sb, "%g", d);
        } else {
            fmt_unsigned(num, sizeof num, raw);
            nk_sb_printf(sb, "%s", num);
        }
        return;
    }
    if (bt->is_char) {
        fmt_unsigned(num, sizeof num, raw);
        char c = raw >= 0x20 && raw < 0x7f ? (char)raw : 0;
        if (c) nk_sb_printf(sb, "%s '%c'", num, c);
        else nk_sb_printf(sb, "%s ''", num);
        return;
    }
    if (bt->is_signed) fmt_signed(num, sizeof num, sign_extend(raw, sz));
    else fmt_unsigned(num, sizeof num, raw);
    nk_sb_printf(sb, "%s", num);
}

/* Appends the value of a `type` object at addr (not a bitfield) to sb; json gets "value". */
static void value_text(dt_ctx *dc, uint64_t type, uint64_t addr, int level, nk_strbuf *sb);

static void enum_text(dt_ctx *dc, uint64_t eid, const nk_tinfo *et, uint64_t raw, nk_strbuf *sb)
{
    nk_tinfo ut;
    bool sign = tinfo(dc, et->target, &ut) && ut.is_signed;
    unsigned sz = et->size && et->size <= 8 ? (unsigned)et->size : 4;
    int64_t v = sign ? sign_extend(raw, sz) : (int64_t)(sz >= 8 ? raw : raw & ((1ull << (sz * 8)) - 1));
    char num[48];
    if (v < 0) fmt_signed(num, sizeof num, v);
    else fmt_unsigned(num, sizeof num, (uint64_t)v);
    nk_sb_printf(sb, "%s", num);
    if (!dc->s->ops->enumerator) return;
    const char *name;
    int64_t ev;
    for (size_t i = 0; i < DT_MAX_FIELDS && dc->s->ops->enumerator(dc->s, eid, i, &name, &ev); i++)
        if (ev == v || (uint64_t)ev == (uint64_t)v) {
            nk_sb_printf(sb, " ( %s )", name);
            return;
        }
}

static void value_text(dt_ctx *dc, uint64_t type, uint64_t addr, int level, nk_strbuf *sb)
{
    nk_tinfo ti;
    char num[64], desc[256];
    if (!tinfo(dc, type, &ti)) {
        nk_sb_printf(sb, "????");
        return;
    }
    switch (ti.kind) {
    case NK_TK_BASE: {
        uint8_t b[16];
        size_t sz = ti.size > sizeof b ? sizeof b : (size_t)ti.size;
        if (!sz) {
            nk_sb_printf(sb, "%s", ti.name ? ti.name : "");
            return;
        }
        if (!rd(dc, addr, b, sz)) {
            nk_sb_printf(sb, "????");
            return;
        }
        base_value(&ti, b, sb);
        return;
    }
    case NK_TK_ENUM: {
        uint8_t b[8];
        size_t sz = ti.size && ti.size <= 8 ? (size_t)ti.size : 4;
        if (!rd(dc, addr, b, sz)) {
            nk_sb_printf(sb, "????");
            return;
        }
        enum_text(dc, type, &ti, load_le(b, sz), sb);
        return;
    }
    case NK_TK_POINTER: {
        uint64_t p;
        uint8_t b[8];
        size_t psz = ti.size == 4 || ti.size == 8 ? (size_t)ti.size : (dc->is64 ? 8 : 4);
        if (!rd(dc, addr, b, psz)) {
            nk_sb_printf(sb, "????");
            return;
        }
        p = load_le(b, psz);
        if (p == 0) {
            nk_sb_printf(sb, "(null)");
            return;
        }
        fmt_pointer(num, sizeof num, p, psz == 8);
        nk_tinfo pt;
        bool have_pt = tinfo(dc, ti.target, &pt);
        if (have_pt && pt.kind == NK_TK_BASE && pt.is_char && (pt.size == 1 || pt.size == 2)) {
            nk_sb_printf(sb, "%s  ", num);
            str_at(dc, sb, p, (unsigned)pt.size);
            return;
        }
        if (have_pt && pt.kind == NK_TK_FUNCTION) {
            char sym[300];
            nk_sb_printf(sb, "%s %s", num, nk_type_describe(dc->s, ti.target, desc, sizeof desc));
            if (nk_sym_describe_addr(dc->t, p, sym, sizeof sym))
                nk_sb_printf(sb, " %s%s", sym, strchr(sym, '+') ? "" : "+0");
            return;
        }
        if (dc->op.b && level > 0) {
            nk_sb_printf(sb, "%s ", num);
            return;
        }
        nk_sb_printf(sb, "%s %s", num, ti.target ? nk_type_describe(dc->s, ti.target, desc, sizeof desc) : "Void");
        return;
    }
    case NK_TK_ARRAY: {
        nk_tinfo et;
        tinfo(dc, ti.target, &et);
        nk_sb_printf(sb, "[%llu] ", (unsigned long long)ti.count);
        if (et.kind == NK_TK_BASE && et.is_char && (et.size == 1 || et.size == 2)) {
            /* character arrays print as a string (at most the array's length) */
            size_t cnt = ti.count > DT_STR_MAX ? DT_STR_MAX : (size_t)ti.count;
            uint8_t buf[DT_STR_MAX * 2];
            size_t got = 0;
            nk_read_virt(dc->t, addr, buf, cnt * (size_t)et.size, &got);
            if (got < et.size && cnt) {
                nk_sb_printf(sb, " \"???\"");
                rd(dc, addr, buf, 1);
                return;
            }
            size_t n = 0;
            while (n + et.size <= got && (et.size == 1 ? buf[n] : (buf[n] | buf[n + 1]))) n += (size_t)et.size;
            nk_sb_printf(sb, " \"");
            if (et.size == 1) put_ascii(sb, buf, n);
            else {
                char *u = nk_utf16_to_utf8(buf, n);
                if (u) nk_sb_printf(sb, "%s", u);
                free(u);
            }
            nk_sb_printf(sb, "\"");
            return;
        }
        if (ti.count == 0) return;
        if (is_record(&et)) {
            nk_sb_printf(sb, "%s", nk_type_describe(dc->s, ti.target, desc, sizeof desc));
            return;
        }
        value_text(dc, ti.target, addr, level, sb); /* the first element */
        return;
    }
    case NK_TK_STRUCT:
    case NK_TK_UNION: {
        const char *nm = ti.name;
        nk_sb_printf(sb, "%s", nm ? nm : "<unnamed-tag>");
        if (!nm) return;
        if (strcmp(nm, "_LIST_ENTRY") == 0 || strcmp(nm, "LIST_ENTRY64") == 0 || strcmp(nm, "LIST_ENTRY32") == 0) {
            nk_tfield ff, bf;
            uint64_t fl = 0, bl = 0;
            if (nk_type_field(dc->s, type, "Flink", &ff) && nk_type_field(dc->s, type, "Blink", &bf)) {
                nk_tinfo pt;
                tinfo(dc, ff.type, &pt);
                bool p64 = pt.kind == NK_TK_POINTER ? pt.size == 8 : (pt.size == 8 || dc->is64);
                uint8_t b[8];
                bool okf = rd(dc, addr + ff.offset, b, p64 ? 8 : 4);
                fl = load_le(b, p64 ? 8 : 4);
                bool okb = rd(dc, addr + bf.offset, b, p64 ? 8 : 4);
                bl = load_le(b, p64 ? 8 : 4);
                char f1[40], b1[40];
                if (okf) fmt_pointer(f1, sizeof f1, fl, p64);
                else snprintf(f1, sizeof f1, "????");
                if (okb) fmt_pointer(b1, sizeof b1, bl, p64);
                else snprintf(b1, sizeof b1, "????");
                nk_sb_printf(sb, " [ %s - %s ]", f1, b1);
            }
            return;
        }
        if (strcmp(nm, "_UNICODE_STRING") == 0) {
            counted_string(dc, type, addr, true, sb);
            return;
        }
        if (strcmp(nm, "_STRING") == 0 || strcmp(nm, "_ANSI_STRING") == 0) {
            counted_string(dc, type, addr, false, sb);
            return;
        }
        if ((strcmp(nm, "_LARGE_INTEGER") == 0 || strcmp(nm, "_ULARGE_INTEGER") == 0) && ti.size == 8) {
            uint8_t b[8];
            if (!rd(dc, addr, b, 8)) {
                nk_sb_printf(sb, " ????");
                return;
            }
            char a[24];
            nk_sb_printf(sb, " 0x%s", nk_fmt_addr64(a, load_le(b, 8)));
        }
        return;
    }
    case NK_TK_VOID:
        nk_sb_printf(sb, "Void");
        return;
    case NK_TK_FUNCTION:
        nk_sb_printf(sb, "%s", nk_type_describe(dc->s, type, desc, sizeof desc));
        return;
    default:
        nk_sb_printf(sb, "%s", nk_type_describe(dc->s, type, desc, sizeof desc));
        return;
    }
}

/* A bitfield's value: "0y1", "0y0101 (0x5)". */
static void bitfield_text(dt_ctx *dc, const nk_tfield *f, uint64_t addr, nk_strbuf *sb)
{
    nk_tinfo bt, ut;
    tinfo(dc, f->type, &bt);
    size_t sz = 8;
    if (bt.kind == NK_TK_BITFIELD && tinfo(dc, bt.target, &ut) && ut.size >= 1 && ut.size <= 8) sz = (size_t)ut.size;
    else if (bt.size >= 1 && bt.size <= 8) sz = (size_t)bt.size;
    unsigned pos = f->bit_pos, len = f->bit_len;
    if (len == 0 || len > 64 || pos >= 64) {
        nk_sb_printf(sb, "????");
        return;
    }
    /* read enough bytes to cover the field even when it runs past the underlying size */
    size_t need = (pos + len + 7) / 8;
    if (need < sz) need = sz;
    if (need > 16) need = 16;
    uint8_t b[16] = {0};
    if (!rd(dc, addr, b, need)) {
        nk_sb_printf(sb, "????");
        return;
    }
    uint64_t v = 0;
    for (unsigned i = 0; i < len; i++) {
        unsigned bit = pos + i;
        if ((b[bit / 8] >> (bit % 8)) & 1) v |= 1ull << i;
    }
    nk_sb_printf(sb, "0y");
    for (unsigned i = len; i-- > 0;) nk_sb_printf(sb, "%c", (v >> i) & 1 ? '1' : '0');
    if (len > 1) {
        char num[48];
        fmt_unsigned(num, sizeof num, v);
        nk_sb_printf(sb, " (%s)", num);
    }
}

/* The type column without an address (and with -v, the verbose forms). */
static void type_text(dt_ctx *dc, const nk_tfield *f, nk_strbuf *sb)
{
    char desc[256];
    nk_tinfo ti;
    tinfo(dc, f->type, &ti);
    if (dc->op.v) {
        if (is_record(&ti)) {
            nk_sb_printf(sb, "%s %s, %zu elements, 0x%llx bytes", ti.kind == NK_TK_UNION ? "union" : "struct",
                         ti.name ? ti.name : "<unnamed-tag>", field_count(dc, f->type), (unsigned long long)ti.size);
            return;
        }
        if (ti.kind == NK_TK_BITFIELD) {
            nk_sb_printf(sb, "Bitfield %s", nk_type_describe(dc->s, f->type, desc, sizeof desc));
            return;
        }
    }
    nk_sb_printf(sb, "%s", nk_type_describe(dc->s, f->type, desc, sizeof desc));
}

/* ---- printing members ------------------------------------------------------------------------ */

static void emit_line(dt_ctx *dc, int level, bool off_col, uint64_t off, const char *name, int width, const char *text)
{
    /* counted in JSON mode too: the cap bounds the work, not only the text */
    if (++dc->lines > DT_MAX_LINES || dc->o->json) return;
    int indent = dc->op.i ? 3 : 3 * (level + 1);
    nk_printf(dc->o, "%*s", indent, "");
    if (off_col && !dc->op.o) nk_printf(dc->o, "+0x%03llx ", (unsigned long long)off);
    if (text && *text) nk_printf(dc->o, "%-*s : %s\n", width, name, text);
    else nk_printf(dc->o, "%-*s :\n", width, name);
}

static bool comp_match(const char *pat, const char *name, bool prefix)
{
    if (strchr(pat, '*') || strchr(pat, '?')) return nk_type_wildcard(pat, name);
    if (prefix) return strncasecmp(pat, name, strlen(pat)) == 0;
    return strcasecmp(pat, name) == 0;
}

static void dump_record(dt_ctx *dc, uint64_t sid, uint64_t addr, int level, const spec **sp, int nsp, int clevel,
                        int more, json_object *jarr);

/* Expands a member's content one level down: a struct/union (embedded, or behind a pointer
 * when `follow` and an address is known), or an array's elements. */
static void expand(dt_ctx *dc, uint64_t type, uint64_t addr, int level, const spec **sp, int nsp, int clevel,
                   int more, bool follow, json_object *jf)
{
    if (level >= DT_MAX_LEVEL) return;
    nk_tinfo ti;
    if (!tinfo(dc, type, &ti)) return;
    if (is_record(&ti)) {
        dump_record(dc, type, addr, level, sp, nsp, clevel, more, jf ? nk_json_arr(dc->o, jf, "fields") : NULL);
        return;
    }
    if (ti.kind == NK_TK_POINTER && follow) {
        nk_tinfo pt;
        if (!tinfo(dc, ti.target, &pt) || !is_record(&pt)) return;
        uint64_t p = 0;
        if (dc->have_addr && (!rd_ptr(dc, addr, &p) || p == 0)) return;
        dump_record(dc, ti.target, p, level, sp, nsp, clevel, more, jf ? nk_json_arr(dc->o, jf, "fields") : NULL);
        return;
    }
    if (ti.kind == NK_TK_ARRAY && dc->have_addr && (dc->op.list_arrays || dc->op.b) && nsp == 0) {
        nk_tinfo et;
        if (!tinfo(dc, ti.target, &et) || (et.kind == NK_TK_BASE && et.is_char)) return;
        uint64_t n = ti.count;
        if (dc->op.arr_count && n > dc->op.arr_count) n = dc->op.arr_count;
        if (n > DT_MAX_ELEMS) n = DT_MAX_ELEMS;
        json_object *je = jf ? nk_json_arr(dc->o, jf, "elements") : NULL;
        int digits = 2;
        for (uint64_t c = ti.count > 0 ? ti.count - 1 : 0; c >= 100; c /= 10) digits++;
        for (uint64_t i = 0; i < n; i++) {
            uint64_t ea = addr + i * et.size;
            nk_strbuf sb = {0};
            if (!is_record(&et)) value_text(dc, ti.target, ea, level + 1, &sb);
            if (++dc->lines > DT_MAX_LINES) break;
            if (!dc->o->json) {
                nk_printf(dc->o, "%*s[%0*llu]", dc->op.i ? 3 : 3 * level + 1, "", digits, (unsigned long long)i);
                nk_printf(dc->o, "%s%s\n", sb.s && sb.s[0] ? " " : "", sb.s ? sb.s : "");
            }
            json_object *jo = je ? nk_json_obj(dc->o, je, NULL) : NULL;
            if (jo) {
                nk_json_int(dc->o, jo, "index", (int64_t)i);
                if (!is_record(&et)) nk_json_str(dc->o, jo, "value", sb.s ? sb.s : "");
            }
            nk_sb_free(&sb);
            if (is_record(&et))
                dump_record(dc, ti.target, ea, level, NULL, 0, 0, more, jo ? nk_json_arr(dc->o, jo, "fields") : NULL);
        }
    }
}

/* Prints the members of struct/union `sid` at addr (when dc->have_addr), level deep.
 * sp/nsp: the field arguments still matching (path component clevel is compared here);
 * none = every member. more: levels of embedded members -r/-b may still expand. */
static void dump_record(dt_ctx *dc, uint64_t sid, uint64_t addr, int level, const spec **sp, int nsp, int clevel,
                        int more, json_object *jarr)
{
    if (level >= DT_MAX_LEVEL || dc->lines > DT_MAX_LINES) return;
    nk_tfield f;
    /* name column width: 16, or the longest name shown when field arguments filter */
    int width = DT_WIDTH;
    if (nsp) {
        width = 0;
        for (size_t i = 0; i < DT_MAX_FIELDS && dc->s->ops->field(dc->s, sid, i, &f); i++) {
            if (!f.name) continue;
            for (int k = 0; k < nsp; k++) {
                const spec *s = sp[k];
                bool last = clevel == s->ncomp - 1;
                if (clevel < s->ncomp && comp_match(s->comp[clevel], f.name, last && s->prefix)) {
                    if ((int)strlen(f.name) > width) width = (int)strlen(f.name);
                    break;
                }
            }
        }
    }
    for (size_t i = 0; i < DT_MAX_FIELDS && dc->s->ops->field(dc->s, sid, i, &f); i++) {
        if (dc->lines > DT_MAX_LINES) return;
        if (!f.name) f.name = "";
        const spec *cont[DT_MAX_SPECS];
        int ncont = 0, dots = -1;
        if (nsp) {
            bool shown = false;
            for (int k = 0; k < nsp; k++) {
                const spec *s = sp[k];
                bool last = clevel == s->ncomp - 1;
                if (clevel >= s->ncomp || !comp_match(s->comp[clevel], f.name, last && s->prefix)) continue;
                shown = true;
                if (last) {
                    if (s->dots > dots) dots = s->dots;
                } else {
                    cont[ncont++] = s;
                }
            }
            if (!shown) continue;
        }
        uint64_t faddr = addr + f.offset;
        nk_tinfo ft;
        tinfo(dc, f.type, &ft);
        nk_strbuf sb = {0};
        bool path_only = nsp && ncont && dots < 0; /* an intermediate component: no value */
        if (!path_only) {
            if (dc->have_addr && !f.is_static) {
                if (f.is_bitfield) bitfield_text(dc, &f, faddr, &sb);
                else value_text(dc, f.type, faddr, level, &sb);
            } else {
                type_text(dc, &f, &sb);
            }
        }
        emit_line(dc, level, !f.is_static, f.offset, f.name, width, sb.s ? sb.s : "");
        json_object *jf = jarr ? nk_json_obj(dc->o, jarr, NULL) : NULL;
        if (jf) {
            char desc[256];
            nk_json_str(dc->o, jf, "name", f.name);
            nk_json_int(dc->o, jf, "offset", (int64_t)f.offset);
            nk_json_str(dc->o, jf, "type", nk_type_describe(dc->s, f.type, desc, sizeof desc));
            if (f.is_bitfield) {
                nk_json_int(dc->o, jf, "bit_pos", f.bit_pos);
                nk_json_int(dc->o, jf, "bit_len", f.bit_len);
            }
            if (dc->have_addr) {
                nk_json_u64(dc->o, jf, "address", faddr);
                if (!path_only) nk_json_str(dc->o, jf, "value", sb.s ? sb.s : "");
            }
        }
        nk_sb_free(&sb);
        if (f.is_static || f.is_bitfield) continue;
        /* what to show below this member */
        if (ncont) {
            expand(dc, f.type, faddr, level + 1, cont, ncont, clevel + 1, 0, true, jf);
        } else if (dots > 0) {
            int m = dots - 1 > more - 1 ? dots - 1 : more - 1;
            expand(dc, f.type, faddr, level + 1, NULL, 0, 0, m, true, jf);
        } else if (more > 0 || (dc->op.list_arrays && ft.kind == NK_TK_ARRAY)) {
            if (is_record(&ft) || ft.kind == NK_TK_ARRAY) expand(dc, f.type, faddr, level + 1, NULL, 0, 0, more - 1, false, jf);
        }
    }
}

/* ---- parsing dt's arguments -------------------------------------------------------------------- */

static bool parse_option(dt_opts *op, const char *w)
{
    if (w[0] != '-' || !w[1]) return false;
    for (const char *p = w + 1; *p; p++) {
        switch (*p) {
        case 'r':
            if (isdigit((unsigned char)p[1])) {
                op->rec = p[1] - '0';
                p++;
            } else {
                op->rec = DT_MAX_LEVEL;
            }
            break;
        case 'b': op->b = true; op->rec = DT_MAX_LEVEL; break;
        case 'v': op->v = true; break;
        case 'o': op->o = true; break;
        case 'i': op->i = true; break;
        case 'y': op->y = true; break;
        case 'n': case 'c': case 'e': case 't': break;
        case 'a': {
            op->list_arrays = true;
            uint64_t n = 0;
            while (isdigit((unsigned char)p[1])) {
                n = n * 10 + (uint64_t)(p[1] - '0');
                if (n > DT_MAX_ELEMS) n = DT_MAX_ELEMS;
                p++;
            }
            op->arr_count = n;
            break;
        }
        default: return false;
        }
    }
    return true;
}

static bool parse_spec(const char *w, bool prefix, spec *s)
{
    memset(s, 0, sizeof *s);
    size_t n = strlen(w);
    while (n && w[n - 1] == '.') {
        s->dots++;
        n--;
    }
    if (n == 0) return false;
    s->prefix = prefix || s->dots > 0;
    const char *p = w;
    const char *end = w + n;
    while (p < end) {
        const char *q = p;
        while (q < end && *q != '.') q++;
        if (q == p || s->ncomp >= DT_MAX_COMPS || (size_t)(q - p) >= sizeof s->comp[0]) return false;
        memcpy(s->comp[s->ncomp], p, (size_t)(q - p));
        s->comp[s->ncomp][q - p] = 0;
        s->ncomp++;
        p = q < end ? q + 1 : q;
    }
    /* "->*" style suffixes are not supported; "[n]" subscripts neither */
    for (int i = 0; i < s->ncomp; i++)
        for (const char *c = s->comp[i]; *c; c++)
            if (!(isalnum((unsigned char)*c) || *c == '_' || *c == '*' || *c == '?' || *c == '$' || *c == '<' ||
                  *c == '>' || *c == '-'))
                return false;
    return true;
}

/* Does the first component of s name at least one member of sid? */
static bool spec_matches(dt_ctx *dc, uint64_t sid, const spec *s)
{
    nk_tfield f;
    for (size_t i = 0; i < DT_MAX_FIELDS && dc->s->ops->field(dc->s, sid, i, &f); i++)
        if (f.name && comp_match(s->comp[0], f.name, s->ncomp == 1 && s->prefix)) return true;
    return false;
}

typedef struct list_ctx {
    nk_out *o;
    const char *module;
    json_object *arr;
    size_t n;
} list_ctx;

static bool list_one(void *u, const char *name, uint64_t id)
{
    (void)id;
    list_ctx *lc = u;
    if (lc->n++ > 200000) return false;
    nk_printf(lc->o, "          %s!%s\n", lc->module, name);
    if (lc->arr) json_object_array_add(lc->arr, json_object_new_string(name));
    return true;
}

static void print_read_error(dt_ctx *dc)
{
    if (!dc->read_err) return;
    char a[24];
    if (dc->is64) nk_printf(dc->o, "Memory read error %s\n", nk_fmt_addr64(a, dc->err_addr));
    else nk_printf(dc->o, "Memory read error %08llx\n", (unsigned long long)dc->err_addr);
    nk_json_u64(dc->o, NULL, "read_error", dc->err_addr);
}

nk_status cmd_dt(nk_cmd_env *e, const char *a)
{
    ntkd_target *t = e->t;
    nk_out *o = e->o;
    dt_ctx *dc = calloc(1, sizeof *dc);
    if (!dc) {
        nk_cmd_error(o, "dt: out of memory");
        return NTKD_E_NOMEM;
    }
    dc->t = t;
    dc->o = o;
    char word[512], tname[512] = "";
    bool have_type = false;
    uint64_t addr = 0;
    tref tr;
    nk_status st = NTKD_OK;
    /* options may stand anywhere ("dt _X addr -b"): take them out first, so that an address
     * expression never reads "-b" as a subtraction */
    char *args = strdup(a);
    if (!args) {
        free(dc);
        nk_cmd_error(o, "dt: out of memory");
        return NTKD_E_NOMEM;
    }
    for (char *q = args; *q;) {
        while (*q && isspace((unsigned char)*q)) q++;
        char *ts = q;
        int depth = 0;
        while (*q && (depth > 0 || !isspace((unsigned char)*q))) {
            if (*q == '(') depth++;
            else if (*q == ')' && depth > 0) depth--;
            q++;
        }
        size_t tl = (size_t)(q - ts);
        if (tl > 1 && tl < sizeof word && ts[0] == '-' && isalpha((unsigned char)ts[1])) {
            memcpy(word, ts, tl);
            word[tl] = 0;
            dt_opts probe = dc->op;
            if (parse_option(&probe, word)) {
                dc->op = probe;
                memset(ts, ' ', tl);
            }
        }
    }
    const char *p = nk_skip_ws(args);
    for (int guard = 0; *p && guard < 256; guard++) {
        const char *next = nk_next_word(p, word, sizeof word);
        if (!have_type) {
            size_t wl = strlen(word);
            bool wildcard = wl && word[wl - 1] == '*';
            if (wildcard || find_type(t, word, wl, &tr)) {
                snprintf(tname, sizeof tname, "%s", word);
                have_type = true;
                p = next;
                if (wildcard) break;
                continue;
            }
            if (!dc->have_addr) {
                char err[300];
                const char *end;
                uint64_t v;
                if (nk_eval(t, p, &end, &v, err, sizeof err) == NTKD_OK) {
                    addr = v;
                    dc->have_addr = true;
                    p = nk_skip_ws(end);
                    continue;
                }
            }
            nk_cmd_error(o, "Symbol %s not found.", word);
            st = NTKD_E_NOTFOUND;
            goto out;
        }
        /* after the type: a field argument, or the address expression */
        spec sp;
        if (dc->nspecs < DT_MAX_SPECS && parse_spec(word, dc->op.y, &sp)) {
            dc->s = tr.s;
            nk_tinfo ti;
            if (tinfo(dc, tr.id, &ti) && is_record(&ti) && spec_matches(dc, tr.id, &sp)) {
                dc->specs[dc->nspecs++] = sp;
                dc->op.y = false;
                p = next;
                continue;
            }
        }
        if (!dc->have_addr) {
            char err[300];
            const char *end;
            uint64_t v;
            if (nk_eval(t, p, &end, &v, err, sizeof err) == NTKD_OK) {
                addr = v;
                dc->have_addr = true;
                p = nk_skip_ws(end);
                continue;
            }
            if (isalpha((unsigned char)word[0]) || word[0] == '_') nk_cmd_error(o, "Cannot find specified field members.");
            else nk_cmd_error(o, "%s", err);
            st = NTKD_E_ARG;
            goto out;
        }
        nk_cmd_error(o, "Cannot find specified field members.");
        st = NTKD_E_NOTFOUND;
        goto out;
    }
    if (!have_type) {
        nk_cmd_error(o, "dt: a type name is needed (dt [-r[N]] [-b] [-v] [-a[N]] [mod!]Type [addr] [field...])");
        st = NTKD_E_ARG;
        goto out;
    }
    size_t tl = strlen(tname);
    if (tl && tname[tl - 1] == '*') {
        /* dt mod!Prefix*: list the matching types */
        char mod[64] = "nt";
        const char *pat = tname;
        const char *bang = strchr(tname, '!');
        if (bang) {
            size_t ml = (size_t)(bang - tname);
            if (ml >= sizeof mod) ml = sizeof mod - 1;
            memcpy(mod, tname, ml);
            mod[ml] = 0;
            pat = bang + 1;
        }
        nk_typesrc *s = nk_sym_types(t, mod);
        if (!s) {
            nk_cmd_error(o, "Couldn't resolve error at '%s'", tname);
            st = NTKD_E_NOTFOUND;
            goto out;
        }
        list_ctx lc = {.o = o, .module = mod, .arr = nk_json_arr(o, NULL, "types")};
        nk_json_str(o, NULL, "module", mod);
        if (s->ops->each_name) s->ops->each_name(s, pat, list_one, &lc);
        goto out;
    }
    dc->s = tr.s;
    dc->is64 = tr.s->ptr_size == 8;
    nk_tinfo ti;
    if (!tinfo(dc, tr.id, &ti)) {
        nk_cmd_error(o, "Symbol %s not found.", tname);
        st = NTKD_E_NOTFOUND;
        goto out;
    }
    char full[600];
    const char *bare = strchr(tname, '!') ? strchr(tname, '!') + 1 : tname;
    snprintf(full, sizeof full, "%s!%s", tr.module, ti.name ? ti.name : bare);
    nk_json_str(o, NULL, "type", full);
    nk_json_str(o, NULL, "origin", tr.s->origin);
    nk_json_int(o, NULL, "size", (int64_t)ti.size);
    if (dc->have_addr) nk_json_u64(o, NULL, "address", addr);
    if (!tr.module_given) nk_printf(o, "%s\n", full);
    if (is_record(&ti)) {
        if (dc->op.v)
            nk_printf(o, "%s %s, %zu elements, 0x%llx bytes\n", ti.kind == NK_TK_UNION ? "union" : "struct",
                      ti.name ? ti.name : "<unnamed-tag>", field_count(dc, tr.id), (unsigned long long)ti.size);
        const spec *sp[DT_MAX_SPECS];
        for (int i = 0; i < dc->nspecs; i++) sp[i] = &dc->specs[i];
        json_object *jarr = nk_json_arr(o, NULL, "fields");
        dump_record(dc, tr.id, addr, 0, sp, dc->nspecs, 0, dc->op.rec, jarr);
        if (dc->lines > DT_MAX_LINES) nk_printf(o, "(output stopped after %u lines)\n", DT_MAX_LINES);
        print_read_error(dc);
        goto out;
    }
    if (ti.kind == NK_TK_ENUM && !dc->have_addr) {
        const char *name;
        int64_t v;
        json_object *ja = nk_json_arr(o, NULL, "enumerators");
        for (size_t i = 0; i < DT_MAX_FIELDS && tr.s->ops->enumerator && tr.s->ops->enumerator(tr.s, tr.id, i, &name, &v); i++) {
            nk_printf(o, "   %s = 0n%lld\n", name, (long long)v);
            json_object *je = ja ? nk_json_obj(o, ja, NULL) : NULL;
            if (je) {
                nk_json_str(o, je, "name", name);
                nk_json_int(o, je, "value", v);
            }
        }
        goto out;
    }
    /* a scalar type: its value at the address, or its spelling */
    {
        nk_strbuf sb = {0};
        char desc[256];
        if (dc->have_addr) value_text(dc, tr.id, addr, 0, &sb);
        else nk_sb_printf(&sb, "%s", nk_type_describe(tr.s, tr.id, desc, sizeof desc));
        nk_printf(o, "%s\n", sb.s ? sb.s : "");
        nk_json_str(o, NULL, "value", sb.s ? sb.s : "");
        nk_sb_free(&sb);
        print_read_error(dc);
    }
out:
    free(args);
    free(dc);
    return st;
}

/* ---- C++ expressions ------------------------------------------------------------------------- */

typedef enum ctype { CT_INT, CT_LONG, CT_I64, CT_U64 } ctype;

typedef struct cval {
    uint64_t v;
    ctype ty;
} cval;

typedef struct cpp {
    ntkd_target *t;
    const char *p, *end;
    char *err;
    size_t errlen;
    bool failed;
    nk_status st;
    int depth;
} cpp;

static void cfail(cpp *c, nk_status st, const char *what, const char *at)
{
    if (c->failed) return;
    c->failed = true;
    c->st = st;
    if (!c->err || !c->errlen) return;
    while (at < c->end && isspace((unsigned char)*at)) at++;
    int n = (int)(c->end - at);
    if (n > 200) n = 200;
    snprintf(c->err, c->errlen, "%s at '%.*s'", what, n, at);
}

static void cws(cpp *c)
{
    while (c->p < c->end && isspace((unsigned char)*c->p)) c->p++;
}

static bool cpeek(cpp *c, const char *s)
{
    cws(c);
    size_t n = strlen(s);
    return (size_t)(c->end - c->p) >= n && memcmp(c->p, s, n) == 0;
}

static bool ceat(cpp *c, const char *s)
{
    if (!cpeek(c, s)) return false;
    c->p += strlen(s);
    return true;
}

static bool is_signed_ct(ctype t) { return t != CT_U64; }

static ctype promote(ctype a, ctype b)
{
    if (a == CT_U64 || b == CT_U64) return CT_U64;
    if (a == CT_I64 || b == CT_I64) return CT_I64;
    if (a == CT_LONG || b == CT_LONG) return CT_LONG;
    return CT_INT;
}

/* Truncates a result to its type's width (int and long are 32-bit). */
static cval norm_cv(cval x)
{
    if (x.ty == CT_INT || x.ty == CT_LONG) x.v = (uint64_t)(int64_t)(int32_t)(uint32_t)x.v;
    return x;
}

static cval c_expr(cpp *c);

/* Text up to the matching ')' (exclusive) from c->p; c->p moves past it. */
static bool c_paren_text(cpp *c, const char **s, size_t *n)
{
    const char *start = c->p;
    int d = 1;
    const char *q = c->p;
    for (; q < c->end; q++) {
        if (*q == '(') d++;
        else if (*q == ')' && --d == 0) break;
    }
    if (q >= c->end) {
        cfail(c, NTKD_E_ARG, "Syntax error", start);
        return false;
    }
    *s = start;
    *n = (size_t)(q - start);
    c->p = q + 1;
    return true;
}

/* Splits "a, b[, c]" at top-level commas. */
static int c_split(const char *s, size_t n, const char **parts, size_t *lens, int max)
{
    int k = 0, d = 0;
    const char *st = s;
    for (size_t i = 0; i <= n; i++) {
        if (i < n && (s[i] == '(' || s[i] == '[' || s[i] == '<')) d++;
        else if (i < n && (s[i] == ')' || s[i] == ']' || s[i] == '>')) d--;
        else if (i == n || (s[i] == ',' && d == 0)) {
            if (k >= max) return k + 1;
            parts[k] = st;
            lens[k] = (size_t)(s + i - st);
            k++;
            st = s + i + 1;
        }
    }
    return k;
}

static bool c_type(cpp *c, const char *s, size_t n, tref *r, bool *is_ptr)
{
    *is_ptr = false;
    while (n && isspace((unsigned char)s[n - 1])) n--;
    if (n && s[n - 1] == '*') {
        *is_ptr = true;
        n--;
    }
    /* "struct _X" / "union _X" / "enum _X" */
    while (n && isspace((unsigned char)*s)) s++, n--;
    static const char *const kw[] = {"struct ", "union ", "enum ", "class "};
    for (size_t i = 0; i < 4; i++) {
        size_t l = strlen(kw[i]);
        if (n > l && strncmp(s, kw[i], l) == 0) {
            s += l;
            n -= l;
        }
    }
    if (!find_type(c->t, s, n, r)) {
        cfail(c, NTKD_E_NOTFOUND, "Couldn't resolve error", s);
        return false;
    }
    return true;
}

/* #FIELD_OFFSET(T, F), #RTL_FIELD_SIZE(T, F), #RTL_SIZEOF_THROUGH_FIELD(T, F),
 * #CONTAINING_RECORD(addr, T, F) */
static cval c_macro(cpp *c, const char *at)
{
    cval r = {0, CT_LONG};
    const char *name = c->p;
    while (c->p < c->end && (isalnum((unsigned char)*c->p) || *c->p == '_')) c->p++;
    size_t nl = (size_t)(c->p - name);
    if (!ceat(c, "(")) {
        cfail(c, NTKD_E_ARG, "Syntax error", at);
        return r;
    }
    const char *args;
    size_t alen;
    if (!c_paren_text(c, &args, &alen)) return r;
    const char *parts[3];
    size_t lens[3];
    int np = c_split(args, alen, parts, lens, 3);
    bool cr = nl == 17 && strncasecmp(name, "CONTAINING_RECORD", 17) == 0;
    if ((cr && np != 3) || (!cr && np != 2)) {
        cfail(c, NTKD_E_ARG, "Syntax error", at);
        return r;
    }
    tref tr;
    bool ptr;
    if (!c_type(c, parts[cr ? 1 : 0], lens[cr ? 1 : 0], &tr, &ptr)) return r;
    char fname[256];
    const char *fs = parts[cr ? 2 : 1];
    size_t fl = lens[cr ? 2 : 1];
    while (fl && isspace((unsigned char)*fs)) fs++, fl--;
    while (fl && isspace((unsigned char)fs[fl - 1])) fl--;
    if (fl == 0 || fl >= sizeof fname) {
        cfail(c, NTKD_E_ARG, "Syntax error", at);
        return r;
    }
    memcpy(fname, fs, fl);
    fname[fl] = 0;
    nk_tfield f;
    if (!nk_type_field(tr.s, tr.id, fname, &f)) {
        cfail(c, NTKD_E_NOTFOUND, "Couldn't resolve error", fs);
        return r;
    }
    nk_tinfo fti;
    nk_type_info(tr.s, f.type, &fti);
    if (nl == 12 && strncasecmp(name, "FIELD_OFFSET", 12) == 0) {
        r.v = f.offset;
        r.ty = CT_LONG;
    } else if (nl == 14 && strncasecmp(name, "RTL_FIELD_SIZE", 14) == 0) {
        r.v = fti.size;
        r.ty = CT_U64;
    } else if (nl == 24 && strncasecmp(name, "RTL_SIZEOF_THROUGH_FIELD", 24) == 0) {
        r.v = f.offset + fti.size;
        r.ty = CT_U64;
    } else if (cr) {
        cpp sub = {.t = c->t, .p = parts[0], .end = parts[0] + lens[0], .err = c->err, .errlen = c->errlen, .depth = c->depth + 1};
        cval a = c_expr(&sub);
        if (sub.failed) {
            c->failed = true;
            c->st = sub.st;
            return r;
        }
        r.v = a.v - f.offset;
        r.ty = CT_U64;
    } else {
        cfail(c, NTKD_E_NOTFOUND, "Couldn't resolve error", at);
    }
    return r;
}

static cval c_number(cpp *c)
{
    cval r = {0, CT_INT};
    const char *s = c->p;
    uint64_t v = 0;
    int base = 10;
    if (c->end - s > 2 && s[0] == '0' && (s[1] == 'x' || s[1] == 'X')) {
        base = 16;
        s += 2;
    } else if (c->end - s > 1 && s[0] == '0' && isdigit((unsigned char)s[1])) {
        base = 8;
        s++;
    }
    const char *ds = s;
    while (s < c->end) {
        int d;
        char ch = *s;
        if (ch == '`') {
            s++;
            continue;
        }
        if (isdigit((unsigned char)ch)) d = ch - '0';
        else if (isxdigit((unsigned char)ch) && base == 16) d = tolower((unsigned char)ch) - 'a' + 10;
        else break;
        if (d >= base) {
            cfail(c, NTKD_E_ARG, "Syntax error", c->p);
            return r;
        }
        if (v > (UINT64_MAX - (uint64_t)d) / (uint64_t)base) {
            cfail(c, NTKD_E_ARG, "Numeric overflow error", c->p);
            return r;
        }
        v = v * (uint64_t)base + (uint64_t)d;
        s++;
    }
    if (s == ds && base == 16) {
        cfail(c, NTKD_E_ARG, "Syntax error", c->p);
        return r;
    }
    /* suffixes: u, l, ll, i64, ui64 */
    bool u = false;
    int l = 0;
    while (s < c->end && strchr("uUlLi", *s)) {
        if (*s == 'u' || *s == 'U') u = true;
        else if (*s == 'l' || *s == 'L') l++;
        else if (*s == 'i' && c->end - s >= 3 && s[1] == '6' && s[2] == '4') {
            l = 2;
            s += 2;
        }
        s++;
    }
    c->p = s;
    r.v = v;
    if (u || v > INT64_MAX) r.ty = CT_U64;
    else if (l >= 2 || v > 0x7fffffff) r.ty = CT_I64;
    else r.ty = l ? CT_LONG : CT_INT;
    return r;
}

static cval c_unary(cpp *c);

static cval c_primary(cpp *c)
{
    cval r = {0, CT_INT};
    cws(c);
    const char *at = c->p;
    if (c->p >= c->end) {
        cfail(c, NTKD_E_ARG, "Syntax error", at);
        return r;
    }
    if (ceat(c, "(")) {
        r = c_expr(c);
        if (c->failed) return r;
        if (!ceat(c, ")")) cfail(c, NTKD_E_ARG, "Syntax error", c->p);
        return r;
    }
    if (*c->p == '#') {
        c->p++;
        return c_macro(c, at);
    }
    if (isdigit((unsigned char)*c->p)) return c_number(c);
    if (c->end - c->p >= 6 && strncmp(c->p, "sizeof", 6) == 0 && !(c->end - c->p > 6 && (isalnum((unsigned char)c->p[6]) || c->p[6] == '_'))) {
        c->p += 6;
        r.ty = CT_U64;
        if (!ceat(c, "(")) {
            cfail(c, NTKD_E_ARG, "Syntax error", at);
            return r;
        }
        const char *s;
        size_t n;
        if (!c_paren_text(c, &s, &n)) return r;
        tref tr;
        bool ptr;
        if (!c_type(c, s, n, &tr, &ptr)) return r;
        nk_tinfo ti;
        nk_type_info(tr.s, tr.id, &ti);
        r.v = ptr ? tr.s->ptr_size : ti.size;
        return r;
    }
    if (*c->p == '@' && c->end - c->p > 1 && c->p[1] == '@') {
        /* @@masm(...) inside C++ */
        const char *q = c->p + 2;
        if (c->end - q >= 5 && strncasecmp(q, "masm(", 5) == 0) {
            c->p = q + 5;
            const char *s;
            size_t n;
            if (!c_paren_text(c, &s, &n)) return r;
            char buf[1024];
            if (n >= sizeof buf) {
                cfail(c, NTKD_E_ARG, "Syntax error", at);
                return r;
            }
            memcpy(buf, s, n);
            buf[n] = 0;
            const char *end;
            if (nk_eval(c->t, buf, &end, &r.v, c->err, c->errlen) != NTKD_OK) {
                c->failed = true;
                c->st = NTKD_E_ARG;
                return r;
            }
            r.ty = CT_U64;
            return r;
        }
    }
    if (*c->p == '@' || *c->p == '$') {
        /* registers and pseudo-registers, read by the MASM evaluator */
        char buf[128];
        size_t n = 0;
        const char *q = c->p;
        if (*q == '@') buf[n++] = *q++;
        while (q < c->end && (isalnum((unsigned char)*q) || *q == '$' || *q == '_') && n + 1 < sizeof buf) buf[n++] = *q++;
        buf[n] = 0;
        const char *end;
        if (nk_eval(c->t, buf, &end, &r.v, c->err, c->errlen) != NTKD_OK) {
            c->failed = true;
            c->st = NTKD_E_ARG;
            return r;
        }
        c->p = q;
        r.ty = CT_U64;
        return r;
    }
    cfail(c, NTKD_E_NOTFOUND, "Couldn't resolve error", at);
    return r;
}

static cval c_unary(cpp *c)
{
    if (++c->depth > 64) {
        cfail(c, NTKD_E_ARG, "Syntax error", c->p);
        return (cval){0, CT_INT};
    }
    cws(c);
    cval r;
    if (c->p < c->end && (*c->p == '-' || *c->p == '+' || *c->p == '~' || (*c->p == '!' && !cpeek(c, "!=")))) {
        char op = *c->p++;
        r = c_unary(c);
        if (op == '-') r.v = (uint64_t)0 - r.v;
        else if (op == '~') r.v = ~r.v;
        else if (op == '!') {
            r.v = r.v == 0;
            r.ty = CT_INT;
        }
        if (r.ty == CT_INT || r.ty == CT_LONG) r = norm_cv(r);
    } else {
        r = c_primary(c);
    }
    c->depth--;
    return r;
}

/* Binary operators by precedence level, lowest first. */
static const char *const LEVELS[][6] = {
    {"||", NULL}, {"&&", NULL}, {"|", NULL}, {"^", NULL}, {"&", NULL},
    {"==", "!=", NULL}, {"<=", ">=", "<", ">", NULL}, {"<<", ">>", NULL},
    {"+", "-", NULL}, {"*", "/", "%", NULL},
};
#define NLEVELS ((int)(sizeof LEVELS / sizeof LEVELS[0]))

static const char *c_op(cpp *c, int lvl)
{
    for (int i = 0; LEVELS[lvl][i]; i++) {
        const char *op = LEVELS[lvl][i];
        if (!cpeek(c, op)) continue;
        size_t n = strlen(op);
        /* "|" is not "||", "&" not "&&", "<" not "<<" or "<=" */
        if (n == 1 && c->p + 1 < c->end && (c->p[1] == op[0] || (strchr("<>", op[0]) && c->p[1] == '=') ||
                                              (strchr("<>!=", op[0]) && c->p[1] == '=')))
            continue;
        return op;
    }
    return NULL;
}

static cval c_level(cpp *c, int lvl)
{
    if (lvl >= NLEVELS) return c_unary(c);
    cval l = c_level(c, lvl + 1);
    for (int guard = 0; !c->failed && guard < 4096; guard++) {
        const char *op = c_op(c, lvl);
        if (!op) break;
        const char *at = c->p;
        c->p += strlen(op);
        cval r = c_level(c, lvl + 1);
        if (c->failed) return l;
        ctype ty = promote(l.ty, r.ty);
        bool sg = is_signed_ct(ty);
        int64_t a = (int64_t)l.v, b = (int64_t)r.v;
        uint64_t v = 0;
        if (!strcmp(op, "||")) v = l.v || r.v, ty = CT_INT;
        else if (!strcmp(op, "&&")) v = l.v && r.v, ty = CT_INT;
        else if (!strcmp(op, "|")) v = l.v | r.v;
        else if (!strcmp(op, "^")) v = l.v ^ r.v;
        else if (!strcmp(op, "&")) v = l.v & r.v;
        else if (!strcmp(op, "==")) v = l.v == r.v, ty = CT_INT;
        else if (!strcmp(op, "!=")) v = l.v != r.v, ty = CT_INT;
        else if (!strcmp(op, "<=")) v = sg ? a <= b : l.v <= r.v, ty = CT_INT;
        else if (!strcmp(op, ">=")) v = sg ? a >= b : l.v >= r.v, ty = CT_INT;
        else if (!strcmp(op, "<")) v = sg ? a < b : l.v < r.v, ty = CT_INT;
        else if (!strcmp(op, ">")) v = sg ? a > b : l.v > r.v, ty = CT_INT;
        else if (!strcmp(op, "<<")) v = r.v >= 64 ? 0 : l.v << r.v, ty = l.ty;
        else if (!strcmp(op, ">>")) v = r.v >= 64 ? 0 : (is_signed_ct(l.ty) ? (uint64_t)(a >> r.v) : l.v >> r.v), ty = l.ty;
        else if (!strcmp(op, "+")) v = l.v + r.v;
        else if (!strcmp(op, "-")) v = l.v - r.v;
        else if (!strcmp(op, "*")) v = l.v * r.v;
        else if (!strcmp(op, "/") || !strcmp(op, "%")) {
            if (r.v == 0 || (sg && b == -1 && a == INT64_MIN)) {
                cfail(c, NTKD_E_ARG, "Divide by zero error", at);
                return l;
            }
            if (op[0] == '/') v = sg ? (uint64_t)(a / b) : l.v / r.v;
            else v = sg ? (uint64_t)(a % b) : l.v % r.v;
        }
        l = norm_cv((cval){v, ty});
    }
    return l;
}

/* cond ? a : b (the lowest precedence the evaluator reads; both arms are evaluated) */
static cval c_expr(cpp *c)
{
    if (++c->depth > 64) {
        cfail(c, NTKD_E_ARG, "Syntax error", c->p);
        return (cval){0, CT_INT};
    }
    cval v = c_level(c, 0);
    if (!c->failed && ceat(c, "?")) {
        cval a = c_expr(c);
        if (!c->failed && !ceat(c, ":")) cfail(c, NTKD_E_ARG, "Syntax error", c->p);
        cval b = c->failed ? a : c_expr(c);
        cval r = v.v ? a : b;
        r.ty = promote(a.ty, b.ty);
        v = norm_cv(r);
    }
    c->depth--;
    return v;
}

static nk_status cpp_eval_full(ntkd_target *t, const char *s, size_t len, cval *out, char *err, size_t errlen)
{
    cpp c = {.t = t, .p = s, .end = s + len, .err = err, .errlen = errlen};
    if (err && errlen) err[0] = 0;
    cws(&c);
    if (c.p >= c.end) {
        cfail(&c, NTKD_E_ARG, "Syntax error", c.p);
        return c.st;
    }
    cval v = c_expr(&c);
    cws(&c);
    if (!c.failed && c.p < c.end) cfail(&c, NTKD_E_ARG, "Syntax error", c.p);
    if (c.failed) return c.st ? c.st : NTKD_E_ARG;
    *out = v;
    return NTKD_OK;
}

nk_status nk_cpp_eval(ntkd_target *t, const char *s, size_t len, uint64_t *val, char *err, size_t errlen)
{
    cval v;
    nk_status st = cpp_eval_full(t, s, len, &v, err, errlen);
    if (st == NTKD_OK) *val = v.v;
    return st;
}

nk_status cmd_cppeval(nk_cmd_env *e, const char *a)
{
    nk_out *o = e->o;
    char err[400];
    cval v;
    const char *s = nk_skip_ws(a);
    nk_status st = cpp_eval_full(e->t, s, strlen(s), &v, err, sizeof err);
    if (st != NTKD_OK) {
        nk_cmd_error(o, "%s", err[0] ? err : "Syntax error");
        return st;
    }
    const char *tn = v.ty == CT_U64 ? "unsigned int64" : v.ty == CT_I64 ? "int64" : v.ty == CT_LONG ? "long" : "int";
    char num[48];
    if (v.ty == CT_U64) fmt_unsigned(num, sizeof num, v.v);
    else fmt_signed(num, sizeof num, (int64_t)v.v);
    nk_printf(o, "%s %s\n", tn, num);
    nk_json_str(o, NULL, "type", tn);
    if (v.ty == CT_U64) nk_json_u64(o, NULL, "value", v.v);
    else nk_json_int(o, NULL, "value", (int64_t)v.v);
    return NTKD_OK;
}
