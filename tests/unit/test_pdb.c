/* test_pdb.c: the PDB reader against llvm-pdbutil-14 (an independent reader) on every
 * well-formed PDB of the corpus: identity, type records (kind and size of every record,
 * struct/union/class names, sizes, field lists, forward-reference targets, lookup by name),
 * modules, public and global symbols. Also: the corrupt fixtures, truncated files, PDBs
 * re-laid out with another block size and scattered blocks (same answers), and streams cut
 * short (clear errors, no crash; the suite runs under ASan/UBSan). */
#include <dirent.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>

#include <cmocka.h>

#include "pdb/pdb.h"
#include "test_util.h"

/* ---- helpers ------------------------------------------------------------------------ */

typedef struct strlist {
    char **v;
    size_t n, cap;
} strlist;

static void sl_add(strlist *l, const char *s)
{
    if (l->n == l->cap) {
        l->cap = l->cap ? l->cap * 2 : 64;
        l->v = realloc(l->v, l->cap * sizeof *l->v);
        assert_non_null(l->v);
    }
    l->v[l->n++] = strdup(s);
}

static void sl_addf(strlist *l, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void sl_addf(strlist *l, const char *fmt, ...)
{
    char buf[4096];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(buf, sizeof buf, fmt, ap);
    va_end(ap);
    sl_add(l, buf);
}

static void sl_free(strlist *l)
{
    for (size_t i = 0; i < l->n; i++) free(l->v[i]);
    free(l->v);
    memset(l, 0, sizeof *l);
}

static int cmp_str(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

/* Compares two lists as multisets; prints the first differences. */
static size_t sl_diff(strlist *a, strlist *b, const char *what, const char *file)
{
    if (a->n) qsort(a->v, a->n, sizeof *a->v, cmp_str);
    if (b->n) qsort(b->v, b->n, sizeof *b->v, cmp_str);
    size_t i = 0, j = 0, diffs = 0;
    while (i < a->n || j < b->n) {
        int c = i >= a->n ? 1 : j >= b->n ? -1 : strcmp(a->v[i], b->v[j]);
        if (c == 0) {
            i++;
            j++;
            continue;
        }
        if (diffs++ < 5)
            print_message("  %s %s: %s only in %s: %s\n", file, what, c < 0 ? "" : "", c < 0 ? "ntkd" : "oracle",
                          c < 0 ? a->v[i] : b->v[j]);
        if (c < 0) i++;
        else j++;
    }
    return diffs;
}

static char *slurp_cmd(const char *cmd, int *status)
{
    FILE *f = popen(cmd, "r");
    if (!f) return NULL;
    size_t cap = 1 << 20, len = 0;
    char *buf = malloc(cap);
    size_t n;
    while (buf && (n = fread(buf + len, 1, cap - len - 1, f)) > 0) {
        len += n;
        if (len + 1 == cap) {
            cap *= 2;
            buf = realloc(buf, cap);
        }
    }
    if (buf) buf[len] = 0;
    *status = pclose(f);
    return buf;
}

static bool have_llvm_pdbutil(void)
{
    int st;
    char *o = slurp_cmd("llvm-pdbutil-14 --version 2>&1", &st);
    free(o);
    return st == 0;
}

static void find_pdbs(const char *dir, strlist *out)
{
    DIR *d = opendir(dir);
    if (!d) return;
    struct dirent *e;
    while ((e = readdir(d))) {
        if (e->d_name[0] == '.') continue;
        char path[4096];
        snprintf(path, sizeof path, "%s/%s", dir, e->d_name);
        struct stat st;
        if (stat(path, &st) != 0) continue;
        if (S_ISDIR(st.st_mode)) find_pdbs(path, out);
        else {
            size_t l = strlen(e->d_name);
            if (l > 4 && strcmp(e->d_name + l - 4, ".pdb") == 0) sl_add(out, path);
        }
    }
    closedir(d);
}

static const char *base_name(const char *p)
{
    const char *s = strrchr(p, '/');
    return s ? s + 1 : p;
}

/* Corrupt on purpose (corpus README). */
static bool is_negative(const char *path)
{
    const char *b = base_name(path);
    return !strcmp(b, "fuzzed.pdb") || !strcmp(b, "bad-block-size.pdb") || !strcmp(b, "tmphwtYNU.fil") ||
           !strcmp(b, "tmpxLmbbg.fil");
}

/* ---- the llvm-pdbutil oracle ---------------------------------------------------------- */

typedef struct orc_member {
    char *name;
    uint32_t type;
    uint64_t offset;
} orc_member;

typedef struct orc_fieldlist {
    uint32_t ti;
    uint32_t cont; /* LF_INDEX continuation, 0 when none */
    orc_member *m;
    size_t n, cap;
    size_t nenum;
} orc_fieldlist;

typedef struct orc_udt {
    uint32_t ti;
    char leaf[32];
    char *name;
    uint32_t field;   /* 0 = <no type> */
    bool fwd, scoped;
    uint32_t fwd_to;  /* forward ref (-> X); = ti itself when "(= X)" */
    uint64_t size;
} orc_udt;

typedef struct orc_rec {
    uint32_t ti;
    char leaf[32];
    uint32_t size;
} orc_rec;

typedef struct oracle {
    char guid[40];
    unsigned age;
    bool have_types;
    unsigned long nrecords;
    orc_rec *recs;
    size_t nrecs;
    orc_udt *udts;
    size_t nudts;
    orc_fieldlist *fls;
    size_t nfls;
    strlist publics; /* "off|name|seg:off" */
    strlist globals; /* "off|kind|name" */
    strlist modules; /* "idx|name|obj|stream" */
    strlist adjusters; /* "name|ti" */
} oracle;

static void oracle_free(oracle *o)
{
    free(o->recs);
    for (size_t i = 0; i < o->nudts; i++) free(o->udts[i].name);
    free(o->udts);
    for (size_t i = 0; i < o->nfls; i++) {
        for (size_t j = 0; j < o->fls[i].n; j++) free(o->fls[i].m[j].name);
        free(o->fls[i].m);
    }
    free(o->fls);
    sl_free(&o->publics);
    sl_free(&o->globals);
    sl_free(&o->modules);
    sl_free(&o->adjusters);
}

/* `text` between the first pair of backticks after s into out. */
static bool backtick(const char *s, char *out, size_t len)
{
    const char *a = strchr(s, '`');
    if (!a) return false;
    const char *b = strchr(a + 1, '`');
    /* names may hold backticks (`string'): take up to the last backtick of the line */
    const char *eol = strchr(a + 1, '\n');
    const char *last = b;
    for (const char *q = b; q && (!eol || q < eol); q = strchr(q + 1, '`')) last = q;
    if (!last) return false;
    size_t n = (size_t)(last - a - 1);
    if (n >= len) n = len - 1;
    memcpy(out, a + 1, n);
    out[n] = 0;
    return true;
}

static char *next_line(char **cur)
{
    char *s = *cur;
    if (!s || !*s) return NULL;
    char *e = strchr(s, '\n');
    if (e) {
        *e = 0;
        *cur = e + 1;
    } else *cur = s + strlen(s);
    return s;
}

static bool oracle_load(const char *path, oracle *o)
{
    memset(o, 0, sizeof *o);
    char cmd[4200];
    snprintf(cmd, sizeof cmd, "llvm-pdbutil-14 dump -summary -publics -globals -types -type-extras -modules '%s' 2>&1", path);
    int st;
    char *out = slurp_cmd(cmd, &st);
    if (!out) return false;
    if (st != 0 || strstr(out, "PLEASE submit a bug report") || strstr(out, "llvm-pdbutil: ") ||
        strstr(out, "Unexpected error")) {
        print_message("  %s: llvm-pdbutil-14 failed (status %d): oracle skipped\n", base_name(path), st);
        free(out);
        return false;
    }
    enum { NONE, MODS, TYPES, PUBS, GLOBS, OTHER } sec = NONE;
    char *cur = out, *line;
    orc_udt *udt = NULL;
    orc_fieldlist *fl = NULL;
    size_t ucap = 0, fcap = 0, rcap = 0;
    char name[8192], mname[8192] = "", mobj[8192] = "";
    char pending[8192];
    unsigned long pend_off = 0;
    bool have_pending = false;
    long modidx = -1;
    while ((line = next_line(&cur))) {
        const char *t = line + strspn(line, " ");
        for (size_t l = strlen(line); l > 0 && line[l - 1] == ' '; l--) line[l - 1] = 0;
        if (!strncmp(t, "Modules", 7) && !t[7]) { sec = MODS; continue; }
        if (!strncmp(t, "Types (TPI Stream)", 18)) { sec = TYPES; o->have_types = true; continue; }
        if (!strncmp(t, "Public Symbols", 14)) { sec = PUBS; continue; }
        if (!strncmp(t, "Global Symbols", 14)) { sec = GLOBS; continue; }
        if (!strncmp(t, "Summary", 7) && !t[7]) { sec = OTHER; continue; }
        if (!strncmp(t, "GUID: {", 7)) {
            size_t k = 0;
            for (const char *q = t + 7; *q && *q != '}' && k + 1 < sizeof o->guid; q++)
                if (*q != '-') o->guid[k++] = *q;
            o->guid[k] = 0;
        } else if (!strncmp(t, "Age: ", 5) && sec == OTHER) {
            o->age = (unsigned)strtoul(t + 5, NULL, 10);
        }
        if (sec == MODS) {
            if (!strncmp(t, "Mod ", 4) && backtick(t, name, sizeof name)) {
                modidx = strtol(t + 4, NULL, 10);
                snprintf(mname, sizeof mname, "%s", name);
            } else if (!strncmp(t, "Obj: ", 5) && backtick(t, name, sizeof name)) {
                snprintf(mobj, sizeof mobj, "%s", name);
            } else if (!strncmp(t, "debug stream: ", 14)) {
                long s = strtol(t + 14, NULL, 10);
                sl_addf(&o->modules, "%ld|%s|%s|%ld", modidx, mname, mobj, s < 0 ? 65535 : s);
            }
        } else if (sec == TYPES) {
            unsigned long n;
            unsigned ti, size;
            char leaf[32];
            if (sscanf(t, "Showing %lu", &n) == 1) {
                /* "Showing 9,915 records" */
                char digits[32];
                size_t k = 0;
                for (const char *q = t + 8; *q && *q != ' ' && k + 1 < sizeof digits; q++)
                    if (*q != ',') digits[k++] = *q;
                digits[k] = 0;
                o->nrecords = strtoul(digits, NULL, 10);
            } else if (sscanf(t, "0x%x | %31s [size = %u]", &ti, leaf, &size) == 3) {
                if (o->nrecs == rcap) {
                    rcap = rcap ? rcap * 2 : 256;
                    o->recs = realloc(o->recs, rcap * sizeof *o->recs);
                }
                orc_rec *r = &o->recs[o->nrecs++];
                r->ti = ti;
                snprintf(r->leaf, sizeof r->leaf, "%s", leaf);
                r->size = size;
                udt = NULL;
                fl = NULL;
                if (!strcmp(leaf, "LF_STRUCTURE") || !strcmp(leaf, "LF_CLASS") || !strcmp(leaf, "LF_UNION") ||
                    !strcmp(leaf, "LF_INTERFACE") || !strcmp(leaf, "LF_ENUM")) {
                    if (o->nudts == ucap) {
                        ucap = ucap ? ucap * 2 : 256;
                        o->udts = realloc(o->udts, ucap * sizeof *o->udts);
                    }
                    udt = &o->udts[o->nudts++];
                    memset(udt, 0, sizeof *udt);
                    udt->ti = ti;
                    snprintf(udt->leaf, sizeof udt->leaf, "%s", leaf);
                    udt->name = strdup(backtick(t, name, sizeof name) ? name : "");
                } else if (!strcmp(leaf, "LF_FIELDLIST")) {
                    if (o->nfls == fcap) {
                        fcap = fcap ? fcap * 2 : 256;
                        o->fls = realloc(o->fls, fcap * sizeof *o->fls);
                    }
                    fl = &o->fls[o->nfls++];
                    memset(fl, 0, sizeof *fl);
                    fl->ti = ti;
                }
            } else if (t[0] == '`' && strstr(t, "` -> 0x")) { /* hash adjuster */
                const char *q = strstr(t, "` -> 0x");
                sl_addf(&o->adjusters, "%.*s|%lx", (int)(q - t - 1), t + 1, strtoul(q + 7, NULL, 16));
            } else if (udt && !strncmp(t, "vtable: ", 8)) {
                const char *q = strstr(t, "field list: ");
                if (q && !strncmp(q + 12, "0x", 2)) udt->field = (uint32_t)strtoul(q + 12, NULL, 16);
            } else if (udt && !strncmp(t, "field list: ", 12)) { /* enums */
                if (!strncmp(t + 12, "0x", 2)) udt->field = (uint32_t)strtoul(t + 12, NULL, 16);
            } else if (udt && !strncmp(t, "options: ", 9)) {
                const char *q;
                if ((q = strstr(t, "forward ref (-> 0x")) || (q = strstr(t, "forward ref (<- 0x"))) {
                    udt->fwd = true;
                    udt->fwd_to = (uint32_t)strtoul(q + 18, NULL, 16);
                } else if ((q = strstr(t, "forward ref (= 0x"))) {
                    udt->fwd = true;
                    udt->fwd_to = udt->ti;
                } else if (strstr(t, "forward ref")) {
                    udt->fwd = true;
                    udt->fwd_to = udt->ti;
                }
                udt->scoped = strstr(t, "scoped") != NULL;
                if ((q = strstr(t, "sizeof "))) udt->size = strtoull(q + 7, NULL, 10);
            } else if (fl && !strncmp(t, "- LF_INDEX continuation = 0x", 28)) {
                fl->cont = (uint32_t)strtoul(t + 28, NULL, 16);
            } else if (fl && !strncmp(t, "- LF_MEMBER [name = `", 21)) {
                const char *q = strstr(t, "`, Type = ");
                const char *r = strstr(t, ", offset = ");
                if (q && r) {
                    if (fl->n == fl->cap) {
                        fl->cap = fl->cap ? fl->cap * 2 : 16;
                        fl->m = realloc(fl->m, fl->cap * sizeof *fl->m);
                    }
                    orc_member *m = &fl->m[fl->n++];
                    m->name = strndup(t + 21, (size_t)(q - (t + 21)));
                    m->type = !strncmp(q + 10, "0x", 2) ? (uint32_t)strtoul(q + 12, NULL, 16) : 0;
                    m->offset = strtoull(r + 11, NULL, 10);
                }
            } else if (fl && !strncmp(t, "- LF_ENUMERATE [", 16)) {
                fl->nenum++;
            }
        } else if (sec == PUBS || sec == GLOBS) {
            unsigned long off;
            unsigned size;
            char kind[32];
            if (sscanf(t, "%lu | %31s [size = %u]", &off, kind, &size) == 3) {
                if (!backtick(t, name, sizeof name)) name[0] = 0;
                if (sec == GLOBS) sl_addf(&o->globals, "%lu|%s|%s", off, kind, name);
                else {
                    snprintf(pending, sizeof pending, "%s", name);
                    pend_off = off;
                    have_pending = true;
                }
            } else if (sec == PUBS && have_pending && !strncmp(t, "flags = ", 8)) {
                const char *q = strstr(t, "addr = ");
                unsigned seg = 0, so = 0;
                if (q) sscanf(q + 7, "%u:%u", &seg, &so);
                sl_addf(&o->publics, "%lu|%s|%u:%u", pend_off, pending, seg, so);
                have_pending = false;
            }
        }
    }
    free(out);
    return true;
}

/* llvm's names for leaf numbers (the ones its dumper prints). */
static const char *leaf_name(uint16_t leaf)
{
    static const struct { uint16_t v; const char *n; } t[] = {
        {0x1001, "LF_MODIFIER"}, {0x1002, "LF_POINTER"}, {0x1008, "LF_PROCEDURE"}, {0x1009, "LF_MFUNCTION"},
        {0x1201, "LF_ARGLIST"}, {0x1203, "LF_FIELDLIST"}, {0x1205, "LF_BITFIELD"}, {0x1206, "LF_METHODLIST"},
        {0x1503, "LF_ARRAY"}, {0x1504, "LF_CLASS"}, {0x1505, "LF_STRUCTURE"}, {0x1506, "LF_UNION"},
        {0x1507, "LF_ENUM"}, {0x1519, "LF_INTERFACE"}, {0x000a, "LF_VTSHAPE"}, {0x000e, "LF_LABEL"},
        {0x1515, "LF_TYPESERVER2"}, {0x151d, "LF_VFTABLE"}, {0x150a, "LF_ALIAS"}, {0x1509, "LF_PRECOMP"},
        {0x0014, "LF_ENDPRECOMP"},
    };
    for (size_t i = 0; i < sizeof t / sizeof t[0]; i++)
        if (t[i].v == leaf) return t[i].n;
    return "?";
}

static const char *sym_kind_name(uint16_t k)
{
    switch (k) {
    case 0x110c: return "S_LDATA32";
    case 0x110d: return "S_GDATA32";
    case 0x1112: return "S_LTHREAD32";
    case 0x1113: return "S_GTHREAD32";
    case 0x1125: return "S_PROCREF";
    case 0x1127: return "S_LPROCREF";
    case 0x1126: return "S_DATAREF";
    case 0x1107: return "S_CONSTANT";
    case 0x1108: return "S_UDT";
    default: return "?";
    }
}

/* ---- comparisons for one PDB ---------------------------------------------------------- */

typedef struct totals {
    size_t files, compared, skipped, records, udts, fieldlists, members, publics, globals, modules, finds, adjusters;
} totals;

static size_t compare_one(const char *path, totals *tot)
{
    oracle o;
    if (!oracle_load(path, &o)) {
        tot->skipped++;
        return 0;
    }
    ntkd_ctx *ctx = ntkd_ctx_new();
    nk_pdb *p = NULL;
    size_t bad = 0;
    const char *fn = base_name(path);
    if (nk_pdb_open(ctx, path, &p) != NTKD_OK) {
        print_message("  %s: open failed: %s\n", fn, ntkd_ctx_error(ctx));
        oracle_free(&o);
        ntkd_ctx_free(ctx);
        return 1;
    }
    tot->compared++;
    /* identity */
    char g[33];
    if (strcmp(o.guid, nk_pdb_guid_hex(p, g)) != 0) {
        print_message("  %s: GUID %s, oracle %s\n", fn, g, o.guid);
        bad++;
    }
    if (o.age != nk_pdb_get_info(p)->age) {
        print_message("  %s: age %u, oracle %u\n", fn, nk_pdb_get_info(p)->age, o.age);
        bad++;
    }
    /* types: count, then every record's leaf and size */
    nk_pdb_tpi_info ti;
    if (nk_pdb_tpi_info_get(p, &ti) != NTKD_OK) {
        print_message("  %s: TPI: %s\n", fn, ntkd_ctx_error(ctx));
        bad++;
    } else if (o.have_types) {
        unsigned long n = ti.present ? ti.ti_end - ti.ti_begin : 0;
        if (n != o.nrecords) {
            print_message("  %s: %lu type records, oracle %lu\n", fn, n, o.nrecords);
            bad++;
        }
        /* visit in a scattered order so random access is exercised */
        for (size_t k = 0; k < o.nrecs; k++) {
            size_t i = (k * 7919u) % o.nrecs;
            const orc_rec *r = &o.recs[i];
            uint16_t leaf;
            const uint8_t *d;
            uint32_t len;
            if (nk_pdb_type_record(p, r->ti, &leaf, &d, &len) != NTKD_OK) {
                if (bad++ < 20) print_message("  %s: type 0x%x: %s\n", fn, r->ti, ntkd_ctx_error(ctx));
                continue;
            }
            const char *ln = leaf_name(leaf);
            if (strcmp(ln, "?") && strcmp(ln, r->leaf)) {
                if (bad++ < 20) print_message("  %s: type 0x%x is %s, oracle %s\n", fn, r->ti, ln, r->leaf);
            }
            if (len + 4 != r->size) {
                if (bad++ < 20) print_message("  %s: type 0x%x size %u, oracle %u\n", fn, r->ti, len + 4, r->size);
            }
            tot->records++;
        }
        /* struct/class/union/enum records */
        for (size_t i = 0; i < o.nudts; i++) {
            const orc_udt *u = &o.udts[i];
            nk_pdb_typeinfo t;
            if (nk_pdb_type_get(p, u->ti, &t) != NTKD_OK) {
                if (bad++ < 20) print_message("  %s: type 0x%x: %s\n", fn, u->ti, ntkd_ctx_error(ctx));
                continue;
            }
            tot->udts++;
            if (strcmp(t.name, u->name) || t.field_ti != u->field || ((t.props & NK_PROP_FWDREF) != 0) != u->fwd ||
                (strcmp(u->leaf, "LF_ENUM") && t.size != u->size)) {
                if (bad++ < 20)
                    print_message("  %s: type 0x%x: %s field 0x%x fwd %d size %llu; oracle %s 0x%x %d %llu\n", fn, u->ti,
                                  t.name, t.field_ti, !!(t.props & NK_PROP_FWDREF), (unsigned long long)t.size, u->name,
                                  u->field, u->fwd, (unsigned long long)u->size);
            }
            if (u->fwd) {
                uint32_t r = nk_pdb_type_resolve(p, u->ti);
                if (r != u->fwd_to) {
                    if (bad++ < 20) print_message("  %s: forward ref 0x%x resolves to 0x%x, oracle 0x%x\n", fn, u->ti, r, u->fwd_to);
                }
            } else if (!u->scoped && strcmp(u->name, "<unnamed-tag>") && strcmp(u->name, "__unnamed") &&
                       !strstr(u->name, "::<unnamed-tag>") && !strstr(u->name, "<unnamed-type-")) {
                /* lookup by name: when the name is unique among definitions, the hash finds it */
                size_t same = 0;
                for (size_t j = 0; j < o.nudts; j++)
                    if (!o.udts[j].fwd && !strcmp(o.udts[j].name, u->name)) same++;
                if (same == 1) {
                    uint32_t found = 0;
                    if (nk_pdb_type_find(p, u->name, &found) != NTKD_OK || found != u->ti) {
                        if (bad++ < 20) print_message("  %s: find(%s) = 0x%x, oracle 0x%x\n", fn, u->name, found, u->ti);
                    }
                    tot->finds++;
                }
            }
        }
        /* hash adjusters: the name finds the adjusted type */
        for (size_t i = 0; i < o.adjusters.n; i++) {
            char *bar = strrchr(o.adjusters.v[i], '|');
            *bar = 0;
            uint32_t want = (uint32_t)strtoul(bar + 1, NULL, 16), found = 0;
            if (nk_pdb_type_find(p, o.adjusters.v[i], &found) != NTKD_OK || found != want) {
                if (bad++ < 20) print_message("  %s: adjusted %s = 0x%x, oracle 0x%x\n", fn, o.adjusters.v[i], found, want);
            }
            *bar = '|';
            tot->adjusters++;
        }
        /* field lists: the members (name, type, offset) in order, and enumerator counts */
        for (size_t i = 0; i < o.nfls; i++) {
            orc_fieldlist fx = o.fls[i], *f = &fx;
            /* the oracle prints each record; ntkd follows LF_INDEX continuations */
            fx.m = NULL;
            fx.n = fx.cap = 0;
            for (const orc_fieldlist *c = &o.fls[i]; c;) {
                for (size_t j = 0; j < c->n; j++) {
                    if (fx.n == fx.cap) {
                        fx.cap = fx.cap ? fx.cap * 2 : 16;
                        fx.m = realloc(fx.m, fx.cap * sizeof *fx.m);
                    }
                    fx.m[fx.n++] = c->m[j];
                }
                if (c != &o.fls[i]) fx.nenum += c->nenum;
                uint32_t next = c->cont;
                c = NULL;
                for (size_t j = 0; next && j < o.nfls; j++)
                    if (o.fls[j].ti == next) c = &o.fls[j];
            }
            nk_pdb_field_iter it;
            nk_pdb_field fd;
            if (nk_pdb_fields_begin(p, f->ti, &it) != NTKD_OK) {
                if (bad++ < 20) print_message("  %s: field list 0x%x: %s\n", fn, f->ti, ntkd_ctx_error(ctx));
                free(fx.m);
                continue;
            }
            size_t k = 0, ne = 0;
            bool ok = true;
            while (nk_pdb_fields_next(&it, &fd)) {
                if (fd.kind == NK_FIELD_ENUMERATE) ne++;
                if (fd.kind != NK_FIELD_MEMBER) continue;
                if (k >= f->n || strcmp(fd.name, f->m[k].name) || fd.type_ti != f->m[k].type || fd.offset != f->m[k].offset) {
                    if (ok && bad < 20)
                        print_message("  %s: field list 0x%x member %zu: %s 0x%x +%llu; oracle %s 0x%x +%llu\n", fn, f->ti,
                                      k, fd.name, fd.type_ti, (unsigned long long)fd.offset, k < f->n ? f->m[k].name : "-",
                                      k < f->n ? f->m[k].type : 0, k < f->n ? (unsigned long long)f->m[k].offset : 0ull);
                    ok = false;
                }
                k++;
            }
            if (it.status != NTKD_OK || k != f->n || ne != f->nenum) {
                if (ok && bad < 20)
                    print_message("  %s: field list 0x%x: %zu members %zu enumerators, oracle %zu %zu (%s)\n", fn, f->ti, k,
                                  ne, f->n, f->nenum, it.status ? ntkd_ctx_error(ctx) : "ok");
                ok = false;
            }
            if (!ok) bad++;
            tot->fieldlists++;
            tot->members += k;
            free(fx.m);
        }
    }
    /* modules */
    {
        strlist mine = {0};
        size_t n = 0;
        if (nk_pdb_module_count(p, &n) != NTKD_OK) {
            print_message("  %s: modules: %s\n", fn, ntkd_ctx_error(ctx));
            bad++;
        }
        for (size_t i = 0; i < n; i++) {
            nk_pdb_module m;
            if (nk_pdb_module_get(p, i, &m) == NTKD_OK) sl_addf(&mine, "%zu|%s|%s|%u", i, m.name, m.obj_name, m.sym_stream);
        }
        bad += sl_diff(&mine, &o.modules, "module", fn);
        tot->modules += n;
        sl_free(&mine);
    }
    /* publics: every record (offset, name, segment:offset); ln and x on each */
    {
        strlist mine = {0};
        size_t n = 0;
        if (nk_pdb_public_count(p, &n) != NTKD_OK) {
            print_message("  %s: publics: %s\n", fn, ntkd_ctx_error(ctx));
            bad++;
        }
        for (size_t i = 0; i < n; i++) {
            nk_pdb_public pb, q;
            if (nk_pdb_public_get(p, i, &pb) != NTKD_OK) {
                if (bad++ < 20) print_message("  %s: public %zu: %s\n", fn, i, ntkd_ctx_error(ctx));
                continue;
            }
            sl_addf(&mine, "%u|%s|%u:%u", pb.sym_off, pb.name, pb.seg, pb.off);
            uint32_t disp;
            if (pb.has_rva && (nk_pdb_public_by_rva(p, pb.rva, &q, &disp) != NTKD_OK || q.rva != pb.rva || disp != 0)) {
                if (bad++ < 20) print_message("  %s: ln 0x%x (%s) failed\n", fn, pb.rva, pb.name);
            }
            if (nk_pdb_public_by_name(p, pb.name, &q) != NTKD_OK || strcmp(q.name, pb.name)) {
                if (bad++ < 20) print_message("  %s: x %s failed: %s\n", fn, pb.name, ntkd_ctx_error(ctx));
            }
        }
        bad += sl_diff(&mine, &o.publics, "public", fn);
        tot->publics += n;
        sl_free(&mine);
    }
    /* globals: offset, kind, name */
    {
        strlist mine = {0};
        size_t n = 0;
        if (nk_pdb_global_count(p, &n) != NTKD_OK) {
            print_message("  %s: globals: %s\n", fn, ntkd_ctx_error(ctx));
            bad++;
        }
        for (size_t i = 0; i < n; i++) {
            nk_pdb_global gl, q;
            if (nk_pdb_global_get(p, i, &gl) != NTKD_OK) {
                if (bad++ < 20) print_message("  %s: global %zu: %s\n", fn, i, ntkd_ctx_error(ctx));
                continue;
            }
            sl_addf(&mine, "%u|%s|%s", gl.sym_off, sym_kind_name(gl.kind), gl.name);
            if (gl.name[0] && (nk_pdb_global_by_name(p, gl.name, &q) != NTKD_OK || strcmp(q.name, gl.name))) {
                if (bad++ < 20) print_message("  %s: global lookup %s failed\n", fn, gl.name);
            }
        }
        /* kinds outside the decoded set print as their llvm name in the oracle: compare only
         * the decoded ones */
        strlist orc = {0};
        for (size_t i = 0; i < o.globals.n; i++) {
            const char *k = strchr(o.globals.v[i], '|') + 1;
            bool known = !strncmp(k, "S_LDATA32|", 10) || !strncmp(k, "S_GDATA32|", 10) || !strncmp(k, "S_LTHREAD32|", 12) ||
                         !strncmp(k, "S_GTHREAD32|", 12) || !strncmp(k, "S_PROCREF|", 10) || !strncmp(k, "S_LPROCREF|", 11) ||
                         !strncmp(k, "S_DATAREF|", 10) || !strncmp(k, "S_CONSTANT|", 11) || !strncmp(k, "S_UDT|", 6);
            if (known) sl_add(&orc, o.globals.v[i]);
        }
        strlist mine2 = {0};
        for (size_t i = 0; i < mine.n; i++)
            if (!strstr(mine.v[i], "|?|")) sl_add(&mine2, mine.v[i]);
        bad += sl_diff(&mine2, &orc, "global", fn);
        tot->globals += n;
        sl_free(&orc);
        sl_free(&mine2);
        sl_free(&mine);
    }
    nk_status st = nk_pdb_load_all(p);
    if (st != NTKD_OK) {
        print_message("  %s: load_all: %s\n", fn, ntkd_ctx_error(ctx));
        bad++;
    }
    nk_pdb_close(p);
    ntkd_ctx_free(ctx);
    oracle_free(&o);
    if (bad) print_message("  %s: %zu differences from llvm-pdbutil\n", fn, bad);
    return bad;
}

static void test_llvm_oracle(void **state)
{
    (void)state;
    if (!have_llvm_pdbutil()) {
        print_message("llvm-pdbutil-14 not installed: oracle comparisons skipped\n");
        skip();
    }
    strlist files = {0};
    find_pdbs(NTKD_CORPUS "/pdb-fixtures", &files);
    find_pdbs(NTKD_CORPUS "/symstore", &files);
    qsort(files.v, files.n, sizeof *files.v, cmp_str);
    assert_true(files.n >= 50);
    totals tot = {0};
    size_t bad = 0;
    for (size_t i = 0; i < files.n; i++) {
        if (is_negative(files.v[i])) continue;
        tot.files++;
        bad += compare_one(files.v[i], &tot);
    }
    print_message("llvm oracle: %zu PDBs, %zu compared, %zu skipped (oracle failed); %zu type records, %zu UDTs, "
                  "%zu name lookups (%zu through hash adjusters), %zu field lists (%zu members), %zu modules, %zu publics, "
                  "%zu globals\n",
                  tot.files, tot.compared, tot.skipped, tot.records, tot.udts, tot.finds, tot.adjusters, tot.fieldlists,
                  tot.members, tot.modules, tot.publics, tot.globals);
    sl_free(&files);
    assert_int_equal(bad, 0);
    assert_true(tot.compared >= 45);
    assert_true(tot.publics > 10000 && tot.records > 10000 && tot.members > 5000);
}

/* ---- FPO and FrameData against llvm-pdbutil's -fpo dump -------------------------------- */

static char *trim(char *s)
{
    while (*s == ' ') s++;
    size_t l = strlen(s);
    while (l && s[l - 1] == ' ') s[--l] = 0;
    return s;
}

static void test_fpo_oracle(void **state)
{
    (void)state;
    if (!have_llvm_pdbutil()) {
        print_message("llvm-pdbutil-14 not installed: FPO comparison skipped\n");
        skip();
    }
    strlist files = {0};
    find_pdbs(NTKD_CORPUS "/pdb-fixtures", &files);
    find_pdbs(NTKD_CORPUS "/symstore", &files);
    size_t nfiles = 0, nold = 0, nnew = 0, bad = 0;
    for (size_t f = 0; f < files.n; f++) {
        if (is_negative(files.v[f])) continue;
        ntkd_ctx *ctx = ntkd_ctx_new();
        nk_pdb *p;
        if (nk_pdb_open(ctx, files.v[f], &p) != NTKD_OK) {
            ntkd_ctx_free(ctx);
            continue;
        }
        const nk_pdb_fpo *fpo;
        const nk_pdb_framedata *fd;
        size_t nf = 0, nd = 0;
        assert_int_equal(nk_pdb_fpo_all(p, &fpo, &nf), NTKD_OK);
        assert_int_equal(nk_pdb_framedata_all(p, &fd, &nd), NTKD_OK);
        if (!nf && !nd) {
            nk_pdb_close(p);
            ntkd_ctx_free(ctx);
            continue;
        }
        char cmd[4200];
        snprintf(cmd, sizeof cmd, "llvm-pdbutil-14 dump -fpo '%s' 2>&1", files.v[f]);
        int st;
        char *out = slurp_cmd(cmd, &st);
        if (!out || st != 0) {
            print_message("  %s: llvm-pdbutil-14 -fpo failed: oracle skipped\n", base_name(files.v[f]));
            free(out);
            nk_pdb_close(p);
            ntkd_ctx_free(ctx);
            continue;
        }
        nfiles++;
        strlist oo = {0}, on = {0}, mo = {0}, mn = {0};
        int sec = 0;
        char *cur = out, *line;
        while ((line = next_line(&cur))) {
            if (strstr(line, "Old FPO Data")) sec = 1;
            else if (strstr(line, "New FPO Data")) sec = 2;
            char *col[12];
            int nc = 0;
            for (char *tok = line; nc < 12;) {
                col[nc++] = tok;
                char *bar = strchr(tok, '|');
                if (!bar) break;
                *bar = 0;
                tok = bar + 1;
            }
            for (int i = 0; i < nc; i++) col[i] = trim(col[i]);
            /* old FPO: llvm-pdbutil 14 reads cbProlog as 4 bits and fHasSEH/fUseBP from bits 9
             * and 10, where winnt.h's FPO_DATA has 8 bits and bits 11 and 12: compare the
             * prolog's low 4 bits and leave the two flags out */
            if (sec == 1 && nc == 9 && strcmp(col[0], "RVA"))
                sl_addf(&oo, "%s|%s|%s|%s|%lu|%s|%s", col[0], col[1], col[2], col[3], strtoul(col[4], NULL, 10) & 0xf, col[5],
                        col[8]);
            else if (sec == 2 && nc == 11 && strcmp(col[0], "RVA"))
                sl_addf(&on, "%s|%s|%s|%s|%s|%s|%s|%s|%s|%s|%s", col[0], col[1], col[2], col[3], col[4], col[5], col[6], col[7],
                        col[8], col[9], col[10]);
        }
        free(out);
        static const char *const ft[4] = {"FPO", "Trap", "TSS", "NonFPO"};
        for (size_t i = 0; i < nf; i++)
            sl_addf(&mo, "%08X|%u|%u|%u|%u|%u|%s", fpo[i].start, fpo[i].size, fpo[i].locals, fpo[i].params, fpo[i].prolog & 0xfu,
                    fpo[i].regs, ft[fpo[i].frame & 3]);
        for (size_t i = 0; i < nd; i++) {
            char prog[4096];
            snprintf(prog, sizeof prog, "%s", fd[i].program ? fd[i].program : "");
            sl_addf(&mn, "%08X|%u|%u|%u|%u|%u|%u|%s|%s|%s|%s", fd[i].rva, fd[i].code_size, fd[i].locals_size, fd[i].params_size,
                    fd[i].max_stack_size, fd[i].prolog_size, fd[i].saved_regs_size, (fd[i].flags & 1) ? "true" : "false",
                    (fd[i].flags & 2) ? "true" : "false", (fd[i].flags & 4) ? "true" : "false", trim(prog));
        }
        bad += sl_diff(&mo, &oo, "old FPO", base_name(files.v[f]));
        bad += sl_diff(&mn, &on, "FrameData", base_name(files.v[f]));
        nold += nf;
        nnew += nd;
        /* lookups: the record whose range holds an address inside it */
        for (size_t i = 0; i < nf; i++)
            if (fpo[i].size) assert_non_null(nk_pdb_fpo_find(p, fpo[i].start + fpo[i].size - 1));
        for (size_t i = 0; i < nd; i++)
            if (fd[i].code_size) assert_non_null(nk_pdb_framedata_find(p, fd[i].rva));
        sl_free(&oo);
        sl_free(&on);
        sl_free(&mo);
        sl_free(&mn);
        nk_pdb_close(p);
        ntkd_ctx_free(ctx);
    }
    print_message("FPO oracle: %zu PDBs with FPO or FrameData, %zu FPO and %zu FrameData records compared, %zu differences\n",
                  nfiles, nold, nnew, bad);
    sl_free(&files);
    assert_int_equal(bad, 0);
    assert_true(nold > 1000 && nnew > 10000);
}

/* ---- negative fixtures ---------------------------------------------------------------- */

static void test_negative_fixtures(void **state)
{
    (void)state;
    static const char *const files[] = {
        NTKD_CORPUS "/pdb-fixtures/llvm/lld/test/COFF/Inputs/bad-block-size.pdb",
        NTKD_CORPUS "/pdb-fixtures/llvm/llvm/test/DebugInfo/PDB/Inputs/bad-block-size.pdb",
        NTKD_CORPUS "/pdb-fixtures/rizin/fuzzed.pdb",
    };
    for (size_t i = 0; i < sizeof files / sizeof files[0]; i++) {
        ntkd_ctx *ctx = ntkd_ctx_new();
        nk_pdb *p = NULL;
        nk_status st = nk_pdb_open(ctx, files[i], &p);
        /* these are corrupt: opening (or, at the latest, loading every part) must fail with a
         * message that names the file */
        if (st == NTKD_OK) st = nk_pdb_load_all(p);
        print_message("  %s: %s\n", base_name(files[i]), ntkd_ctx_error(ctx));
        assert_int_not_equal(st, NTKD_OK);
        assert_non_null(strstr(ntkd_ctx_error(ctx), base_name(files[i])));
        nk_pdb_close(p);
        ntkd_ctx_free(ctx);
    }
    /* the rizin .fil inputs (not PDBs at all, or broken ones): never a crash */
    static const char *const fils[] = {"tmphwtYNU.fil", "tmpxLmbbg.fil"};
    for (size_t i = 0; i < 2; i++) {
        char path[4096];
        snprintf(path, sizeof path, "%s/pdb-fixtures/rizin/%s", NTKD_CORPUS, fils[i]);
        struct stat sb;
        if (stat(path, &sb) != 0) continue;
        ntkd_ctx *ctx = ntkd_ctx_new();
        nk_pdb *p = NULL;
        nk_status st = nk_pdb_open(ctx, path, &p);
        if (st == NTKD_OK) st = nk_pdb_load_all(p);
        print_message("  %s: %s\n", fils[i], st == NTKD_OK ? "read" : ntkd_ctx_error(ctx));
        if (st != NTKD_OK) assert_non_null(strstr(ntkd_ctx_error(ctx), fils[i]));
        nk_pdb_close(p);
        ntkd_ctx_free(ctx);
    }
    /* the old PDB 2.00 format */
    {
        uint8_t jg[256] = "Microsoft C/C++ program database 2.00\r\n\x1aJG\0\0";
        ntkd_ctx *ctx = ntkd_ctx_new();
        nk_pdb *p = NULL;
        assert_int_equal(nk_pdb_open_mem(ctx, "old.pdb", jg, sizeof jg, &p), NTKD_E_UNSUPPORTED);
        assert_non_null(strstr(ntkd_ctx_error(ctx), "2.00"));
        ntkd_ctx_free(ctx);
    }
}

/* ---- MSF rewriting: other block sizes, scattered blocks, cut streams ------------------ */

typedef struct msf_image {
    uint8_t *data;
    size_t size;
} msf_image;

/* Writes streams into a new MSF file: block size bs; when scatter, stream blocks are
 * placed in a shuffled order; `cut_stream`/`cut_len` shorten one stream. */
static msf_image msf_write(uint8_t **sdata, uint32_t *ssize, uint32_t nstreams, uint32_t bs, bool scatter,
                           uint32_t cut_stream, uint32_t cut_len, uint32_t seed)
{
    uint32_t *sz = malloc(nstreams * sizeof *sz);
    uint64_t total = 0;
    for (uint32_t i = 0; i < nstreams; i++) {
        sz[i] = ssize[i];
        if (i == cut_stream && sz[i] != 0xffffffffu && cut_len < sz[i]) sz[i] = cut_len;
        if (sz[i] != 0xffffffffu) total += (sz[i] + bs - 1) / bs;
    }
    uint64_t dir_bytes = 4 + 4ull * nstreams + 4 * total;
    uint64_t ndirb = (dir_bytes + bs - 1) / bs;
    uint64_t nmapb = (4 * ndirb + bs - 1) / bs;
    uint64_t nblocks = 3 + total + ndirb + nmapb;
    msf_image im;
    im.size = nblocks * bs;
    im.data = calloc(1, im.size);
    /* data blocks: 3 .. 3+total-1, shuffled when asked */
    uint32_t *pool = malloc((total ? total : 1) * sizeof *pool);
    for (uint64_t i = 0; i < total; i++) pool[i] = (uint32_t)(3 + i);
    if (scatter) {
        uint32_t r = seed | 1;
        for (uint64_t i = total; i > 1; i--) {
            r = r * 1103515245u + 12345u;
            uint64_t j = (r >> 8) % i;
            uint32_t t = pool[i - 1];
            pool[i - 1] = pool[j];
            pool[j] = t;
        }
    }
    uint8_t *dir = calloc(1, ndirb * bs);
    uint32_t *d32 = (uint32_t *)dir;
    d32[0] = nstreams;
    uint64_t pos = 1 + nstreams, k = 0;
    for (uint32_t i = 0; i < nstreams; i++) {
        d32[1 + i] = sz[i];
        if (sz[i] == 0xffffffffu) continue;
        uint32_t nb = (sz[i] + bs - 1) / bs;
        for (uint32_t j = 0; j < nb; j++) {
            uint32_t b = pool[k++];
            d32[pos++] = b;
            uint32_t n = sz[i] - j * bs < bs ? sz[i] - j * bs : bs;
            memcpy(im.data + (uint64_t)b * bs, sdata[i] + (uint64_t)j * bs, n);
        }
    }
    uint64_t dir0 = 3 + total, map0 = dir0 + ndirb;
    for (uint64_t i = 0; i < ndirb; i++) {
        memcpy(im.data + (dir0 + i) * bs, dir + i * bs, bs);
        uint32_t v = (uint32_t)(dir0 + i);
        memcpy(im.data + map0 * bs + 4 * i, &v, 4);
    }
    memcpy(im.data, "Microsoft C/C++ MSF 7.00\r\n\x1a" "DS\0\0\0", 32);
    uint32_t hdr[6] = {bs, 1, (uint32_t)nblocks, (uint32_t)dir_bytes, 0, (uint32_t)map0};
    memcpy(im.data + 32, hdr, sizeof hdr);
    memset(im.data + bs, 0xff, bs); /* free block map: ignored by the reader */
    free(dir);
    free(pool);
    free(sz);
    return im;
}

/* Reads every stream of a PDB through the public stream reader. */
static uint32_t read_streams(nk_pdb *p, uint8_t ***sdata, uint32_t **ssize)
{
    uint32_t n = nk_pdb_stream_count(p);
    *sdata = calloc(n, sizeof **sdata);
    *ssize = calloc(n, sizeof **ssize);
    for (uint32_t i = 0; i < n; i++) {
        uint32_t sz = nk_pdb_stream_size(p, i);
        (*ssize)[i] = sz;
        (*sdata)[i] = malloc(sz ? sz : 1);
        assert_int_equal(nk_pdb_stream_read(p, i, 0, (*sdata)[i], sz), NTKD_OK);
    }
    return n;
}

/* A digest of everything a debugger asks: publics, ln at each, a struct walk, modules,
 * functions. Two PDBs with the same content give the same digest. */
static uint64_t digest(nk_pdb *p, ntkd_ctx *ctx, bool *ok)
{
    uint64_t h = 1469598103934665603ull;
#define MIX(v) (h = (h ^ (uint64_t)(v)) * 1099511628211ull)
    size_t n;
    *ok = true;
    if (nk_pdb_public_count(p, &n) != NTKD_OK) *ok = false;
    else
        for (size_t i = 0; i < n; i++) {
            nk_pdb_public pb;
            if (nk_pdb_public_get(p, i, &pb) != NTKD_OK) { *ok = false; break; }
            for (const char *c = pb.name; *c; c++) MIX(*c);
            MIX(pb.rva);
            nk_pdb_addr_sym a;
            if (pb.has_rva && nk_pdb_addr_lookup(p, pb.rva + 1, &a) == NTKD_OK) MIX(a.start);
        }
    if (nk_pdb_func_count(p, &n) != NTKD_OK) *ok = false;
    else
        for (size_t i = 0; i < n; i++) {
            nk_pdb_func f;
            nk_pdb_func_get(p, i, &f);
            MIX(f.rva);
            MIX(f.size);
        }
    nk_pdb_type_iter it;
    nk_pdb_typeinfo t;
    nk_pdb_types_begin(p, &it);
    size_t walked = 0;
    while (nk_pdb_types_next(&it, &t) && walked < 400) {
        nk_pdb_field_iter fi;
        nk_pdb_field f;
        char buf[256];
        MIX(t.ti);
        MIX(t.size);
        if (nk_pdb_fields_begin(p, t.ti, &fi) != NTKD_OK) continue;
        while (nk_pdb_fields_next(&fi, &f)) {
            MIX(f.offset);
            MIX(f.type_ti);
            nk_pdb_type_name(p, f.type_ti, buf, sizeof buf);
            for (const char *c = buf; *c; c++) MIX(*c);
        }
        walked++;
    }
    if (nk_pdb_load_all(p) != NTKD_OK) *ok = false;
    (void)ctx;
#undef MIX
    return h;
}

static void test_relayout(void **state)
{
    (void)state;
    static const char *const files[] = {
        NTKD_CORPUS "/pdb-fixtures/dump_syms/dump_syms_regtest64.pdb",
        NTKD_CORPUS "/pdb-fixtures/llvm/llvm/test/DebugInfo/PDB/Inputs/every-type.pdb",
        NTKD_CORPUS "/symstore/ntkrnlpa.pdb/30B5FB31AE7E4ACAABA750AA241FF3312/ntkrnlpa.pdb",
    };
    for (size_t f = 0; f < sizeof files / sizeof files[0]; f++) {
        ntkd_ctx *ctx = ntkd_ctx_new();
        nk_pdb *p;
        assert_int_equal(nk_pdb_open(ctx, files[f], &p), NTKD_OK);
        bool ok;
        uint64_t want = digest(p, ctx, &ok);
        assert_true(ok);
        uint8_t **sd;
        uint32_t *ss;
        uint32_t ns = read_streams(p, &sd, &ss);
        nk_pdb_close(p);
        static const uint32_t sizes[] = {512, 1024, 4096, 8192};
        for (size_t b = 0; b < 4; b++) {
            msf_image im = msf_write(sd, ss, ns, sizes[b], b != 2, UINT32_MAX, 0, 77 + (uint32_t)b);
            nk_pdb *q;
            assert_int_equal(nk_pdb_open_mem(ctx, "relayout.pdb", im.data, im.size, &q), NTKD_OK);
            assert_int_equal(nk_pdb_get_info(q)->block_size, sizes[b]);
            uint64_t got = digest(q, ctx, &ok);
            if (!ok) print_message("  relayout %s bs %u: %s\n", base_name(files[f]), sizes[b], ntkd_ctx_error(ctx));
            assert_true(ok);
            assert_true(got == want);
            nk_pdb_close(q);
            free(im.data);
        }
        print_message("  %s: same answers with block sizes 512/1024/4096/8192, scattered blocks\n", base_name(files[f]));
        for (uint32_t i = 0; i < ns; i++) free(sd[i]);
        free(sd);
        free(ss);
        ntkd_ctx_free(ctx);
    }
}

/* Exercises everything; returns the first error status. Never crashes on bad input. */
static nk_status exercise(nk_pdb *p)
{
    nk_status first = nk_pdb_load_all(p);
    size_t n = 0;
    nk_pdb_public pb;
    uint32_t disp;
    if (nk_pdb_public_addr_count(p, &n) == NTKD_OK)
        for (uint32_t r = 0; r < 0x200000; r += 0x3001) nk_pdb_public_by_rva(p, r, &pb, &disp);
    if (nk_pdb_public_count(p, &n) == NTKD_OK)
        for (size_t i = 0; i < n && i < 200; i++)
            if (nk_pdb_public_get(p, i, &pb) == NTKD_OK) nk_pdb_public_by_name(p, pb.name, &pb);
    uint32_t ti;
    static const char *const names[] = {"_LIST_ENTRY", "_EPROCESS", "_KTHREAD", "_IRP", "Foo", "A"};
    for (size_t i = 0; i < 6; i++)
        if (nk_pdb_type_find(p, names[i], &ti) == NTKD_OK) {
            nk_pdb_field_iter it;
            nk_pdb_field f;
            char buf[128];
            uint64_t sz;
            nk_pdb_type_size(p, ti, &sz);
            if (nk_pdb_fields_begin(p, ti, &it) == NTKD_OK)
                while (nk_pdb_fields_next(&it, &f)) nk_pdb_type_name(p, f.type_ti, buf, sizeof buf);
        }
    nk_pdb_type_iter it;
    nk_pdb_typeinfo t;
    nk_pdb_types_begin(p, &it);
    for (int k = 0; k < 300 && nk_pdb_types_next(&it, &t); k++) nk_pdb_type_resolve(p, t.ti);
    nk_pdb_addr_sym a;
    for (uint32_t r = 0; r < 0x100000; r += 0x1003) nk_pdb_addr_lookup(p, r, &a);
    size_t nm = 0;
    if (nk_pdb_module_count(p, &nm) == NTKD_OK)
        for (size_t m = 0; m < nm && m < 50; m++) {
            nk_pdb_modsym_iter mi;
            nk_pdb_modsym s;
            if (nk_pdb_modsyms_begin(p, m, &mi) == NTKD_OK)
                while (nk_pdb_modsyms_next(&mi, &s)) {}
            size_t nf;
            if (nk_pdb_module_file_count(p, m, &nf) == NTKD_OK)
                for (size_t i = 0; i < nf; i++) nk_pdb_module_file(p, m, i);
        }
    return first;
}

static void test_cut_streams(void **state)
{
    (void)state;
    const char *path = NTKD_CORPUS "/pdb-fixtures/dump_syms/dump_syms_regtest64.pdb";
    ntkd_ctx *ctx = ntkd_ctx_new();
    nk_pdb *p;
    assert_int_equal(nk_pdb_open(ctx, path, &p), NTKD_OK);
    uint8_t **sd;
    uint32_t *ss;
    uint32_t ns = read_streams(p, &sd, &ss);
    size_t fsize;
    uint8_t *raw = tu_slurp(path, &fsize);
    assert_non_null(raw);
    nk_pdb_close(p);
    /* stream-level cuts: each stream shortened to 0, 1, 13, half, and one byte short */
    size_t opened = 0, failed = 0, errors = 0;
    for (uint32_t s = 1; s < ns; s++) {
        if (ss[s] == 0 || ss[s] == 0xffffffffu) continue;
        uint32_t lens[5] = {0, 1, 13, ss[s] / 2, ss[s] - 1};
        for (int k = 0; k < 5; k++) {
            msf_image im = msf_write(sd, ss, ns, 512, true, s, lens[k], s * 5 + (uint32_t)k);
            nk_pdb *q = NULL;
            nk_status st = nk_pdb_open_mem(ctx, "cut.pdb", im.data, im.size, &q);
            if (st == NTKD_OK) {
                opened++;
                st = exercise(q);
                if (st != NTKD_OK) errors++;
                nk_pdb_close(q);
            } else failed++;
            if (st != NTKD_OK) {
                /* a clear error: it names the file */
                if (!strstr(ntkd_ctx_error(ctx), "cut.pdb")) print_message("  unclear: %s\n", ntkd_ctx_error(ctx));
                assert_non_null(strstr(ntkd_ctx_error(ctx), "cut.pdb"));
            }
            free(im.data);
        }
    }
    print_message("  cut streams: %zu variants refused at open, %zu opened (%zu of them reported an error later)\n",
                  failed, opened, errors);
    assert_true(failed + errors > 0);
    /* the file truncated where every stream starts and where it ends: open refuses it with
     * a "truncated" error naming the file */
    nk_pdb *m;
    assert_int_equal(nk_pdb_open_mem(ctx, "whole.pdb", raw, fsize, &m), NTKD_OK);
    size_t truncs = 0;
    for (uint32_t s = 0; s < ns; s++) {
        uint32_t sz = nk_pdb_stream_size(m, s);
        if (!sz) continue;
        const uint8_t *first = nk_pdb_stream_ptr(m, s, 0, 1), *last = nk_pdb_stream_ptr(m, s, sz - 1, 1);
        size_t at[2] = {(size_t)(first - raw), (size_t)(last - raw) + 1};
        for (int k = 0; k < 2; k++) {
            if (at[k] >= fsize) continue;
            nk_pdb *q = NULL;
            nk_status st = nk_pdb_open_mem(ctx, "trunc.pdb", raw, at[k], &q);
            if (st == NTKD_OK) {
                exercise(q);
                nk_pdb_close(q);
            } else {
                assert_non_null(strstr(ntkd_ctx_error(ctx), "trunc.pdb"));
                truncs++;
            }
        }
    }
    nk_pdb_close(m);
    print_message("  file truncated at %zu stream boundaries: all refused with a clear error\n", truncs);
    assert_true(truncs > 100);
    free(raw);
    for (uint32_t i = 0; i < ns; i++) free(sd[i]);
    free(sd);
    free(ss);
    ntkd_ctx_free(ctx);
}

static void test_open_mem_equals_file(void **state)
{
    (void)state;
    const char *path = NTKD_CORPUS "/pdb-fixtures/dump_syms/basic32.pdb";
    size_t size;
    uint8_t *buf = tu_slurp(path, &size);
    assert_non_null(buf);
    ntkd_ctx *ctx = ntkd_ctx_new();
    nk_pdb *a, *b;
    assert_int_equal(nk_pdb_open(ctx, path, &a), NTKD_OK);
    assert_int_equal(nk_pdb_open_mem(ctx, "basic32.pdb", buf, size, &b), NTKD_OK);
    bool ok1, ok2;
    assert_true(digest(a, ctx, &ok1) == digest(b, ctx, &ok2));
    assert_true(ok1 && ok2);
    nk_pdb_close(a);
    nk_pdb_close(b);
    ntkd_ctx_free(ctx);
    free(buf);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_negative_fixtures),
        cmocka_unit_test(test_open_mem_equals_file),
        cmocka_unit_test(test_relayout),
        cmocka_unit_test(test_cut_streams),
        cmocka_unit_test(test_llvm_oracle),
        cmocka_unit_test(test_fpo_oracle),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
