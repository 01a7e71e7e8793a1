/* cmd_memory.c: displaying memory in WinDbg's shapes.
 *
 *   db dw dd dq dp dc    values (and ASCII for db/dc), one line per 16 bytes (dq: 2 quads)
 *   da du                ASCII / UTF-16 strings, up to 32 characters a line, to the first NUL
 *   dps dqs dds          one pointer-sized / 64-bit / 32-bit value a line, with its symbol
 *   !db !dw !dd !dq !dc  the same over physical addresses ("#  54099e 33 db ...")
 *   d                    repeats the last d* command where it left off
 *
 * Range syntax: `addr`, `addr L count`, `addr L?count` (no 256 MB limit), `addr L-count`
 * (count units ending at addr), `addr addr2` (inclusive), or nothing (continue after the
 * last display; first time: the current instruction pointer). `/c N` sets the values per
 * line; `/p` (kernel dumps) reads physical memory. Bytes the dump does not hold print as
 * question marks, unit by unit, and the display goes on with the bytes that follow. */
#include <ctype.h>
#include <stdlib.h>

#include "cmd/cmd.h"
#include "dump/context.h"
#include "expr/expr.h"

#define RANGE_LIMIT (256ull << 20)   /* WinDbg's automatic range limit */
#define MAX_COLS 256                 /* /c cap: a line never holds more than this many units */
#define STR_CHARS_PER_LINE 32
#define STR_DEFAULT_CHARS 128

typedef enum { F_VALUES, F_ASCII_STR, F_UNICODE_STR, F_SYMBOLS } dkind;

typedef struct dspec {
    dkind kind;
    unsigned unit;      /* bytes per value / character */
    unsigned per_line;  /* values per line */
    bool ascii;         /* db, dc: ASCII column */
    uint64_t def_count; /* units shown when no count is given */
} dspec;

/* The display format of a command name ("db", "!dq", "dps"...); false when unknown. */
static bool spec_for(const ntkd_target *t, const char *name, dspec *sp)
{
    if (name[0] == '!') name++;
    unsigned ptr = t->d.is64 ? 8 : 4;
    memset(sp, 0, sizeof *sp);
    sp->kind = F_VALUES;
    if (!strcmp(name, "db")) *sp = (dspec){F_VALUES, 1, 16, true, 128};
    else if (!strcmp(name, "dw")) *sp = (dspec){F_VALUES, 2, 8, false, 64};
    else if (!strcmp(name, "dd")) *sp = (dspec){F_VALUES, 4, 4, false, 32};
    else if (!strcmp(name, "dc")) *sp = (dspec){F_VALUES, 4, 4, true, 32};
    else if (!strcmp(name, "dq")) *sp = (dspec){F_VALUES, 8, 2, false, 16};
    else if (!strcmp(name, "dp")) *sp = (dspec){F_VALUES, ptr, 16 / ptr, false, 128 / ptr};
    else if (!strcmp(name, "da")) *sp = (dspec){F_ASCII_STR, 1, STR_CHARS_PER_LINE, false, STR_DEFAULT_CHARS};
    else if (!strcmp(name, "du")) *sp = (dspec){F_UNICODE_STR, 2, STR_CHARS_PER_LINE, false, STR_DEFAULT_CHARS};
    else if (!strcmp(name, "dps")) *sp = (dspec){F_SYMBOLS, ptr, 1, false, 128 / ptr};
    else if (!strcmp(name, "dqs")) *sp = (dspec){F_SYMBOLS, 8, 1, false, 16};
    else if (!strcmp(name, "dds")) *sp = (dspec){F_SYMBOLS, 4, 1, false, 32};
    else return false;
    return true;
}

/* ---- reading with a per-byte validity map --------------------------------------------- */

/* First directly-held virtual range starting after va (UINT64_MAX when none). */
static uint64_t next_vrange_start(const nk_dump *d, uint64_t va)
{
    size_t lo = 0, hi = d->nvranges;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        if (d->vranges[mid].va <= va) lo = mid + 1;
        else hi = mid;
    }
    return lo < d->nvranges ? d->vranges[lo].va : UINT64_MAX;
}

/* Reads len bytes at addr into buf; valid[i] says whether byte i came from the dump. A gap
 * is skipped to the next page (or the next directly-held range), so data after a missing
 * page still shows. Returns the number of valid bytes. */
static size_t read_mapped(ntkd_target *t, bool phys, uint64_t addr, uint8_t *buf, bool *valid,
                          size_t len)
{
    size_t done = 0, nvalid = 0;
    memset(buf, 0, len);
    memset(valid, 0, len * sizeof *valid);
    while (done < len) {
        uint64_t cur = addr + done;
        size_t got = 0;
        if (phys) nk_read_phys(t, cur, buf + done, len - done, &got);
        else nk_read_virt(t, cur, buf + done, len - done, &got);
        for (size_t i = 0; i < got; i++) valid[done + i] = true;
        nvalid += got;
        done += got;
        if (done >= len) break;
        cur = addr + done;
        uint64_t next = (cur | 0xfff) + 1;
        if (!phys) {
            uint64_t vr = next_vrange_start(&t->d, cur);
            if (vr < next) next = vr;
        }
        if (next <= cur) break; /* top of the address space */
        uint64_t skip = next - cur;
        if (skip >= len - done) break;
        done += (size_t)skip;
    }
    return nvalid;
}

/* ---- line building -------------------------------------------------------------------- */

typedef struct line {
    char s[MAX_COLS * 18 + MAX_COLS * 8 + 64];
    size_t n;
} line;

static void lput(line *l, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void lput(line *l, const char *fmt, ...)
{
    if (l->n >= sizeof l->s - 1) return;
    va_list ap;
    va_start(ap, fmt);
    int k = vsnprintf(l->s + l->n, sizeof l->s - l->n, fmt, ap);
    va_end(ap);
    if (k > 0) l->n += (size_t)k;
    if (l->n >= sizeof l->s) l->n = sizeof l->s - 1;
}

static void lpad(line *l, size_t col)
{
    while (l->n < col && l->n < sizeof l->s - 1) l->s[l->n++] = ' ';
    l->s[l->n] = 0;
}

/* The address column: "ffffe000`02385830  " (64-bit), "8054099e  " (32-bit), "#  54099e "
 * (physical). */
static void put_addr(line *l, const ntkd_target *t, bool phys, uint64_t a)
{
    char buf[24];
    if (phys) lput(l, "#%8llx ", (unsigned long long)a);
    else lput(l, "%s  ", nk_fmt_ptr(buf, a, t->d.is64));
}

static uint64_t load_le(const uint8_t *p, unsigned unit)
{
    switch (unit) {
    case 1: return p[0];
    case 2: return nk_le16(p);
    case 4: return nk_le32(p);
    default: return nk_le64(p);
    }
}

static void put_value(line *l, uint64_t v, unsigned unit, bool ok)
{
    switch (unit) {
    case 1: lput(l, ok ? "%02x" : "??", (unsigned)v); break;
    case 2: lput(l, ok ? "%04x" : "????", (unsigned)v); break;
    case 4: lput(l, ok ? "%08x" : "????????", (unsigned)v); break;
    default:
        if (ok) lput(l, "%08x`%08x", (unsigned)(v >> 32), (unsigned)v);
        else lput(l, "????????`????????");
        break;
    }
}

static char ascii_of(uint8_t b) { return b >= 0x20 && b < 0x7f ? (char)b : '.'; }

/* ---- range arguments ------------------------------------------------------------------ */

typedef struct drange {
    uint64_t addr;
    uint64_t count;     /* units */
    bool have_addr, have_count;
    unsigned cols;      /* /c, 0 = default */
    bool phys;          /* /p */
} drange;

static bool eval_arg(nk_cmd_env *e, const char *s, const char **end, uint64_t *v)
{
    char err[256];
    if (nk_eval(e->t, s, end, v, err, sizeof err) != NTKD_OK) {
        nk_cmd_error(e->o, "%s", err);
        return false;
    }
    return true;
}

/* True when s starts an "L count" clause; at the address position only digits, '?' and '-'
 * may follow the L, so a symbol beginning with L stays a symbol. */
static bool is_count_clause(const char *s, bool after_addr)
{
    if (*s != 'L' && *s != 'l') return false;
    char c = s[1];
    if (c == '?' || c == '-' || isdigit((unsigned char)c)) return true;
    if (!after_addr) return false;
    return isxdigit((unsigned char)c) || c == '(' || c == '@' || c == '$' || c == ' ' || c == '\t';
}

static bool parse_range(nk_cmd_env *e, const char *a, const dspec *sp, drange *r, bool allow_opts)
{
    memset(r, 0, sizeof *r);
    const char *s = nk_skip_ws(a);
    while (allow_opts && *s == '/') {
        if ((s[1] == 'c' || s[1] == 'C') && (isspace((unsigned char)s[2]) || isdigit((unsigned char)s[2]))) {
            uint64_t c;
            if (!eval_arg(e, s + 2, &s, &c)) return false;
            if (c == 0 || c > MAX_COLS) {
                nk_cmd_error(e->o, "%s: /c takes 1 to %d columns", e->name, MAX_COLS);
                return false;
            }
            r->cols = (unsigned)c;
        } else if ((s[1] == 'p' || s[1] == 'P') && (!s[2] || isspace((unsigned char)s[2]) || s[2] == '[')) {
            if (!ntkd_is_kernel(e->t)) {
                nk_cmd_error(e->o, "%s: /p needs a kernel-mode target", e->name);
                return false;
            }
            r->phys = true;
            s += 2;
            if (*s == '[') { /* [c] [uc] [wc]: caching attributes mean nothing in a dump */
                const char *close = strchr(s, ']');
                s = close ? close + 1 : s + strlen(s);
            }
        } else {
            nk_cmd_error(e->o, "Syntax error at '%s'", s);
            return false;
        }
        s = nk_skip_ws(s);
    }
    if (*s && !is_count_clause(s, false)) {
        if (!eval_arg(e, s, &s, &r->addr)) return false;
        r->have_addr = true;
        s = nk_skip_ws(s);
    }
    if (is_count_clause(s, true)) {
        s++;
        bool nolimit = false, back = false;
        if (*s == '?') nolimit = true, s++;
        else if (*s == '-') back = true, s++;
        uint64_t c;
        if (!eval_arg(e, s, &s, &c)) return false;
        s = nk_skip_ws(s);
        if (!nolimit && (c > RANGE_LIMIT / sp->unit)) {
            nk_cmd_error(e->o, "Range error: 0x%llx units of %u bytes exceed the 256 MB limit "
                         "(use L? to lift it)", (unsigned long long)c, sp->unit);
            return false;
        }
        if (c > UINT64_MAX / sp->unit) {
            nk_cmd_error(e->o, "Range error");
            return false;
        }
        if (back) {
            if (!r->have_addr) {
                nk_cmd_error(e->o, "%s: L- needs an address", e->name);
                return false;
            }
            r->addr -= c * sp->unit;
        }
        r->count = c;
        r->have_count = true;
    } else if (*s && r->have_addr) {
        uint64_t end;
        if (!eval_arg(e, s, &s, &end)) return false;
        s = nk_skip_ws(s);
        if (end < r->addr) {
            nk_cmd_error(e->o, "Range error: %llx is below the start %llx", (unsigned long long)end,
                         (unsigned long long)r->addr);
            return false;
        }
        uint64_t units = (end - r->addr) / sp->unit + 1;
        if (units > RANGE_LIMIT / sp->unit) {
            nk_cmd_error(e->o, "Range error: the range exceeds the 256 MB limit (use L? to lift it)");
            return false;
        }
        r->count = units;
        r->have_count = true;
    }
    if (*s) {
        nk_cmd_error(e->o, "Syntax error at '%s'", s);
        return false;
    }
    return true;
}

/* ---- the displays --------------------------------------------------------------------- */

/* db dw dd dq dp dc dps dqs dds and their physical forms. Returns the bytes covered. */
static uint64_t show_values(nk_cmd_env *e, const dspec *sp, bool phys, uint64_t addr,
                            uint64_t count, unsigned cols)
{
    ntkd_target *t = e->t;
    nk_out *o = e->o;
    unsigned per_line = cols ? cols : sp->per_line;
    unsigned unit = sp->unit;
    uint64_t total = count * unit;
    uint64_t limit = (!phys && !t->d.is64) ? 0xffffffffull : UINT64_MAX;
    if (addr > limit) return 0;
    if (total && total - 1 > limit - addr) total = limit - addr + 1; /* stop at the top */
    total -= total % unit;

    uint8_t buf[MAX_COLS * 8];
    bool valid[MAX_COLS * 8];
    size_t width = (size_t)per_line * (2 * unit + (unit == 8) + 1) - 1; /* value column */
    json_object *jlines = nk_json_arr(o, NULL, "lines");
    uint64_t missing_total = 0;
    for (uint64_t done = 0; done < total;) {
        uint64_t cur = addr + done;
        size_t n = (size_t)(total - done < (uint64_t)per_line * unit ? total - done : (uint64_t)per_line * unit);
        read_mapped(t, phys, cur, buf, valid, n);
        line l = {.n = 0};
        l.s[0] = 0;
        put_addr(&l, t, phys, cur);
        size_t col0 = l.n;
        json_object *jl = nk_json_obj(o, jlines, NULL);
        nk_json_u64(o, jl, "address", cur);
        json_object *jv = nk_json_arr(o, jl, "values");
        json_object *jm = NULL;
        size_t nunits = n / unit;
        for (size_t i = 0; i < nunits; i++) {
            bool ok = true;
            for (unsigned b = 0; b < unit; b++) ok = ok && valid[i * unit + b];
            uint64_t v = load_le(buf + i * unit, unit);
            if (i) lput(&l, "%c", (per_line == 16 && unit == 1 && i == 8) ? '-' : ' ');
            put_value(&l, v, unit, ok);
            if (o->json) json_object_array_add(jv, ok ? nk_json_hex(v) : NULL);
            if (!ok) {
                missing_total++;
                if (!jm) jm = nk_json_arr(o, jl, "missing");
                if (jm) json_object_array_add(jm, json_object_new_int64((int64_t)i));
            }
            if (sp->kind == F_SYMBOLS && ok) {
                char sym[256];
                if (nk_sym_describe_addr(t, v, sym, sizeof sym)) {
                    lput(&l, " %s", sym);
                    nk_json_str(o, jl, "symbol", sym);
                }
            }
        }
        if (sp->ascii) {
            char asc[MAX_COLS * 8 + 1];
            for (size_t i = 0; i < n; i++) asc[i] = valid[i] ? ascii_of(buf[i]) : '?';
            asc[n] = 0;
            lpad(&l, col0 + width);
            lput(&l, "%s%s", phys ? " " : "  ", asc);
            nk_json_str(o, jl, "ascii", asc);
        }
        nk_printf(o, "%s\n", l.s);
        done += n;
    }
    nk_json_int(o, NULL, "missing", (int64_t)missing_total);
    return total;
}

/* da du: strings up to a NUL, `count` characters at most. Returns the bytes covered. */
static uint64_t show_string(nk_cmd_env *e, const dspec *sp, uint64_t addr, uint64_t count)
{
    ntkd_target *t = e->t;
    nk_out *o = e->o;
    unsigned unit = sp->unit;
    nk_strbuf all = {0};
    uint64_t chars = 0;
    bool ended = false, missing = false;
    uint8_t buf[STR_CHARS_PER_LINE * 2];
    bool valid[STR_CHARS_PER_LINE * 2];
    uint64_t limit = t->d.is64 ? UINT64_MAX : 0xffffffffull;
    if (addr > limit) count = 0;
    do {
        uint64_t cur = addr + chars * unit;
        uint64_t want = count - chars < STR_CHARS_PER_LINE ? count - chars : STR_CHARS_PER_LINE;
        if (cur > limit || (want && cur + want * unit - 1 < cur)) want = 0;
        size_t n = (size_t)want * unit;
        read_mapped(t, false, cur, buf, valid, n);
        line l = {.n = 0};
        l.s[0] = 0;
        put_addr(&l, t, false, cur);
        lput(&l, "\"");
        size_t k = 0;
        for (; k < want; k++) {
            const uint8_t *p = buf + k * unit;
            bool ok = valid[k * unit] && (unit == 1 || valid[k * unit + 1]);
            if (!ok) {
                missing = true;
                break;
            }
            uint32_t c = unit == 1 ? p[0] : nk_le16(p);
            if (c == 0) {
                ended = true;
                break;
            }
            char u8[8];
            if (c < 0x80) {
                u8[0] = ascii_of((uint8_t)c);
                u8[1] = 0;
            } else if (unit == 1 || (c >= 0xd800 && c < 0xe000)) {
                strcpy(u8, ".");
            } else if (c < 0x800) {
                u8[0] = (char)(0xc0 | (c >> 6));
                u8[1] = (char)(0x80 | (c & 0x3f));
                u8[2] = 0;
            } else {
                u8[0] = (char)(0xe0 | (c >> 12));
                u8[1] = (char)(0x80 | ((c >> 6) & 0x3f));
                u8[2] = (char)(0x80 | (c & 0x3f));
                u8[3] = 0;
            }
            lput(&l, "%s", u8);
            nk_sb_printf(&all, "%s", u8);
        }
        bool first = chars == 0;
        if (missing && k == 0 && first) {
            /* nothing readable at the start: question marks, as WinDbg shows them */
            for (uint64_t q = 0; q < (want ? want : 1); q++) lput(&l, "?");
        }
        chars += k;
        if (k > 0 || first) {
            lput(&l, "\"");
            nk_printf(o, "%s\n", l.s);
        }
        if (k == 0) break;
    } while (!ended && !missing && chars < count);
    nk_json_u64(o, NULL, "address", addr);
    nk_json_str(o, NULL, "string", all.s ? all.s : "");
    nk_json_int(o, NULL, "length", (int64_t)chars);
    nk_json_bool(o, NULL, "terminated", ended);
    nk_json_bool(o, NULL, "missing", missing);
    nk_sb_free(&all);
    return (chars + ended) * unit;
}

static nk_status display(nk_cmd_env *e, const char *a, const char *name, bool phys_cmd)
{
    ntkd_target *t = e->t;
    dspec sp;
    if (!spec_for(t, name, &sp)) {
        nk_cmd_error(e->o, "%s: unknown display format", name);
        return NTKD_E_ARG;
    }
    drange r;
    if (!parse_range(e, a, &sp, &r, !phys_cmd)) return NTKD_E_ARG;
    bool phys = phys_cmd || r.phys;
    if (phys && sp.kind != F_VALUES) {
        nk_cmd_error(e->o, "%s: physical addresses are not supported for this format", name);
        return NTKD_E_ARG;
    }
    if (!r.have_addr) {
        if (phys ? t->disp_phys_have : t->disp_have) {
            r.addr = phys ? t->disp_phys_next : t->disp_next;
        } else if (!phys && t->cur_ctx.data && t->cur_ctx.len) {
            r.addr = nk_context_pc(&t->cur_ctx);
        } else {
            nk_cmd_error(e->o, "%s: no address given and no previous display to continue", name);
            return NTKD_E_ARG;
        }
    }
    if (!phys && !t->d.is64) r.addr &= 0xffffffffull;
    if (!r.have_count) r.count = sp.def_count;
    nk_json_u64(e->o, NULL, "address", r.addr);
    nk_json_int(e->o, NULL, "unit_size", sp.unit);
    nk_json_bool(e->o, NULL, "physical", phys);
    uint64_t covered;
    if (sp.kind == F_ASCII_STR || sp.kind == F_UNICODE_STR) {
        covered = show_string(e, &sp, r.addr, r.count);
    } else {
        nk_json_int(e->o, NULL, "count", (int64_t)r.count);
        covered = show_values(e, &sp, phys, r.addr, r.count, r.cols);
    }
    if (phys) {
        t->disp_phys_next = r.addr + covered;
        t->disp_phys_have = true;
    } else {
        t->disp_next = r.addr + covered;
        t->disp_have = true;
        snprintf(t->disp_last, sizeof t->disp_last, "%s", name);
    }
    return NTKD_OK;
}

nk_status cmd_display(nk_cmd_env *e, const char *a)
{
    const char *name = e->name;
    if (!strcmp(name, "d")) name = e->t->disp_last[0] ? e->t->disp_last : "db";
    return display(e, a, name, false);
}

nk_status cmd_display_phys(nk_cmd_env *e, const char *a)
{
    const char *s = nk_skip_ws(a);
    /* caching flags ([c], [uc], [wc]) mean nothing for a dump: accepted and ignored */
    if (*s == '[') {
        const char *close = strchr(s, ']');
        s = close ? close + 1 : s + strlen(s);
    }
    return display(e, s, e->name, true);
}
