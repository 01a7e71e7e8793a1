/* kmatch.c: ISF symbol sections (streamed, without building a JSON tree) and the offline
 * kernel-table match for dumps that carry no PDB identity for the kernel (triage dumps).
 *
 * An ISF table (Volatility 3 JSON, plain or xz-compressed) is one object whose members are
 * "base_types", "enums", "metadata", "symbols" and "user_types". Only "metadata" (the PDB
 * GUID, age and machine) and "symbols" (name -> {"address": RVA, ...}) are read here; the
 * other members are skipped token by token, and the read stops as soon as both were seen,
 * so the large "user_types" member that follows the symbols in Volatility's sorted output is
 * never decompressed. Types come from the ISF reader (isf.c) when a command asks for them.
 *
 * The match: a small dump holds the kernel's base (the driver list) and three kernel
 * addresses in its header (PsLoadedModuleList, PsActiveProcessHead, KdDebuggerDataBlock).
 * A kernel table is the right one when base + its RVA of each of those symbols reproduces
 * the header's value. Every ISF table under <dir>/windows/<kernel>.pdb/ and <dir>/<kernel>.pdb/
 * and every kernel PDB in a store tree (<dir>/<kernel>.pdb/<KEY>/<kernel>.pdb) of the symbol
 * path is a candidate. A wrong table is usually rejected at KdDebuggerDataBlock, which sorts
 * before the other two, so its scan stops early. */
#include <dirent.h>
#include <lzma.h>
#include <stdio.h>
#include <stdlib.h>
#include <strings.h>
#include <sys/stat.h>

#include "sym/isf_int.h"
#include "sym/sym_int.h"

#define JBUF 65536
#define MAX_DEPTH 200
#define MAX_NAME 1024
#define MAX_OUT (2ull << 30) /* decompressed bytes read at most from one table */
#define MAX_CANDIDATES 256

/* ---- a byte source over a plain or xz-compressed file ---------------------------------- */

typedef struct jsrc {
    const uint8_t *in;
    size_t inlen;
    bool xz, z_init;
    lzma_stream z;
    uint8_t *buf;
    const uint8_t *p, *end;
    bool eof;
    const char *err;    /* first error (static text) */
    uint64_t pos;       /* decompressed offset of p */
} jsrc;

static bool refill(jsrc *s)
{
    if (s->eof || s->err) return false;
    if (!s->xz) {
        s->eof = true;
        return false;
    }
    s->pos += (uint64_t)(s->end - (const uint8_t *)s->buf) - (uint64_t)(s->end - s->p);
    for (int spins = 0; spins < 1000; spins++) {
        s->z.next_out = s->buf;
        s->z.avail_out = JBUF;
        lzma_ret r = lzma_code(&s->z, LZMA_FINISH);
        size_t got = JBUF - s->z.avail_out;
        if (r != LZMA_OK && r != LZMA_STREAM_END) {
            s->err = r == LZMA_MEMLIMIT_ERROR ? "xz memory limit exceeded"
                     : r == LZMA_DATA_ERROR   ? "corrupt xz data"
                     : r == LZMA_BUF_ERROR    ? "xz data ends early"
                                              : "xz decoder error";
            return false;
        }
        if (got) {
            s->p = s->buf;
            s->end = s->buf + got;
            if (s->pos > MAX_OUT) {
                s->err = "table too large";
                return false;
            }
            return true;
        }
        if (r == LZMA_STREAM_END) break;
    }
    s->eof = true;
    return false;
}

static inline int jpeek(jsrc *s)
{
    if (s->p == s->end && !refill(s)) return -1;
    return *s->p;
}
static inline int jget(jsrc *s)
{
    if (s->p == s->end && !refill(s)) return -1;
    return *s->p++;
}
static uint64_t jpos(const jsrc *s)
{
    return s->xz ? s->pos + (uint64_t)(s->p - (const uint8_t *)s->buf) : (uint64_t)(s->p - s->in);
}

static void jfail(jsrc *s, const char *what)
{
    if (!s->err) s->err = what;
}

static void jws(jsrc *s)
{
    int c;
    while ((c = jpeek(s)) == ' ' || c == '\n' || c == '\r' || c == '\t') s->p++;
}

static bool jexpect(jsrc *s, int ch)
{
    jws(s);
    if (jget(s) != ch) {
        jfail(s, ch == ':' ? "':' expected" : ch == '{' ? "'{' expected" : "syntax error");
        return false;
    }
    return true;
}

/* Reads a string (the opening quote next). Escapes other than the simple ones become '?'.
 * Longer strings are truncated (*trunc set). */
static bool jstring(jsrc *s, char *out, size_t cap, size_t *len, bool *trunc)
{
    jws(s);
    if (jget(s) != '"') {
        jfail(s, "string expected");
        return false;
    }
    size_t n = 0;
    *trunc = false;
    for (;;) {
        int c = jget(s);
        if (c < 0) {
            jfail(s, "unterminated string");
            return false;
        }
        if (c == '"') break;
        if (c == '\\') {
            int e = jget(s);
            switch (e) {
            case '"': case '\\': case '/': c = e; break;
            case 'n': c = '\n'; break;
            case 't': c = '\t'; break;
            case 'r': c = '\r'; break;
            case 'b': c = '\b'; break;
            case 'f': c = '\f'; break;
            case 'u': {
                unsigned v = 0;
                for (int i = 0; i < 4; i++) {
                    int h = jget(s);
                    if (h >= '0' && h <= '9') v = v * 16 + (unsigned)(h - '0');
                    else if (h >= 'a' && h <= 'f') v = v * 16 + (unsigned)(h - 'a' + 10);
                    else if (h >= 'A' && h <= 'F') v = v * 16 + (unsigned)(h - 'A' + 10);
                    else {
                        jfail(s, "bad \\u escape");
                        return false;
                    }
                }
                c = v >= 0x20 && v < 0x7f ? (int)v : '?';
                break;
            }
            default: jfail(s, "bad escape"); return false;
            }
        }
        if (n + 1 < cap) out[n++] = (char)c;
        else *trunc = true;
    }
    if (cap) out[n] = 0;
    if (len) *len = n;
    return true;
}

/* Reads a number; fractions and exponents are accepted and truncated. */
static bool jnumber(jsrc *s, uint64_t *v, bool *neg)
{
    jws(s);
    *v = 0;
    *neg = false;
    int c = jpeek(s);
    if (c == '-') {
        *neg = true;
        s->p++;
        c = jpeek(s);
    }
    if (c < '0' || c > '9') {
        jfail(s, "number expected");
        return false;
    }
    bool over = false;
    while ((c = jpeek(s)) >= '0' && c <= '9') {
        if (*v > (UINT64_MAX - 9) / 10) over = true;
        *v = *v * 10 + (uint64_t)(c - '0');
        s->p++;
    }
    while ((c = jpeek(s)) == '.' || c == 'e' || c == 'E' || c == '+' || c == '-' || (c >= '0' && c <= '9'))
        s->p++;
    if (over) *v = UINT64_MAX;
    return true;
}

static bool jskip(jsrc *s, int depth)
{
    if (depth > MAX_DEPTH) {
        jfail(s, "nesting too deep");
        return false;
    }
    jws(s);
    int c = jpeek(s);
    if (c == '"') {
        char tmp[8];
        bool tr;
        return jstring(s, tmp, sizeof tmp, NULL, &tr);
    }
    if (c == '{' || c == '[') {
        int close = c == '{' ? '}' : ']';
        s->p++;
        jws(s);
        if (jpeek(s) == close) {
            s->p++;
            return true;
        }
        for (;;) {
            if (c == '{') {
                char tmp[8];
                bool tr;
                if (!jstring(s, tmp, sizeof tmp, NULL, &tr) || !jexpect(s, ':')) return false;
            }
            if (!jskip(s, depth + 1)) return false;
            jws(s);
            int d = jget(s);
            if (d == close) return true;
            if (d != ',') {
                jfail(s, "',' expected");
                return false;
            }
        }
    }
    if (c == '-' || (c >= '0' && c <= '9')) {
        uint64_t v;
        bool neg;
        return jnumber(s, &v, &neg);
    }
    if (c == 't' || c == 'f' || c == 'n') {
        while ((c = jpeek(s)) >= 'a' && c <= 'z') s->p++;
        return true;
    }
    jfail(s, c < 0 ? "unexpected end of data" : "unexpected character");
    return false;
}

/* metadata: { ..., "windows": { "pdb": { "GUID": "...", "age": N, "database": "...",
 * "machine_type": N } } } - read by path, everything else skipped. */
static bool jmeta(jsrc *s, nk_isf_meta *m, int depth, int level)
{
    if (!jexpect(s, '{')) return false;
    jws(s);
    if (jpeek(s) == '}') {
        s->p++;
        return true;
    }
    for (;;) {
        char key[64];
        bool tr;
        if (!jstring(s, key, sizeof key, NULL, &tr) || !jexpect(s, ':')) return false;
        jws(s);
        int c = jpeek(s);
        bool ok;
        if (c == '{' && ((level == 0 && !strcmp(key, "windows")) || (level == 1 && !strcmp(key, "pdb"))))
            ok = jmeta(s, m, depth + 1, level + 1);
        else if (level == 2 && !strcmp(key, "GUID") && c == '"') {
            char g[64];
            size_t n;
            ok = jstring(s, g, sizeof g, &n, &tr);
            if (ok && n == 32 && !tr) {
                for (size_t i = 0; i < 32; i++) m->guid[i] = (char)(g[i] >= 'a' && g[i] <= 'f' ? g[i] - 32 : g[i]);
                m->guid[32] = 0;
                m->has_guid = true;
            }
        } else if (level == 2 && !strcmp(key, "database") && c == '"') {
            ok = jstring(s, m->database, sizeof m->database, NULL, &tr);
        } else if (level == 2 && (!strcmp(key, "age") || !strcmp(key, "machine_type")) &&
                   (c == '-' || (c >= '0' && c <= '9'))) {
            uint64_t v;
            bool neg;
            ok = jnumber(s, &v, &neg);
            if (ok && !neg && v <= UINT32_MAX) {
                if (key[0] == 'a') m->age = (uint32_t)v;
                else {
                    m->machine = (uint32_t)v;
                    m->has_machine = true;
                }
            }
        } else
            ok = jskip(s, depth + 1);
        if (!ok) return false;
        jws(s);
        int d = jget(s);
        if (d == '}') return true;
        if (d != ',') {
            jfail(s, "',' expected");
            return false;
        }
    }
}

/* symbols: { "Name": { "address": N, ... }, ... } */
static bool jsymbols(jsrc *s, nk_isf_sym_fn fn, void *u, bool *stopped)
{
    if (!jexpect(s, '{')) return false;
    jws(s);
    if (jpeek(s) == '}') {
        s->p++;
        return true;
    }
    char name[MAX_NAME];
    for (size_t count = 0;; count++) {
        bool ntr, tr;
        if (!jstring(s, name, sizeof name, NULL, &ntr) || !jexpect(s, ':')) return false;
        jws(s);
        bool have = false;
        uint64_t addr = 0;
        if (jpeek(s) == '{') {
            s->p++;
            jws(s);
            if (jpeek(s) == '}') s->p++;
            else
                for (;;) {
                    char key[16];
                    if (!jstring(s, key, sizeof key, NULL, &tr) || !jexpect(s, ':')) return false;
                    jws(s);
                    int c = jpeek(s);
                    if (!strcmp(key, "address") && !tr && (c == '-' || (c >= '0' && c <= '9'))) {
                        bool neg;
                        if (!jnumber(s, &addr, &neg)) return false;
                        have = !neg;
                    } else if (!jskip(s, 2))
                        return false;
                    jws(s);
                    int d = jget(s);
                    if (d == '}') break;
                    if (d != ',') {
                        jfail(s, "',' expected");
                        return false;
                    }
                }
        } else if (!jskip(s, 1))
            return false;
        if (have && !ntr && name[0] && fn && !fn(u, name, addr)) {
            *stopped = true;
            return true;
        }
        jws(s);
        int d = jget(s);
        if (d == '}') return true;
        if (d != ',') {
            jfail(s, "',' expected");
            return false;
        }
        if (count > 50000000) {
            jfail(s, "too many symbols");
            return false;
        }
    }
}

nk_status nk_isf_scan(ntkd_ctx *ctx, const char *path, nk_isf_meta *meta, nk_isf_sym_fn fn,
                      void *u, bool *stopped)
{
    memset(meta, 0, sizeof *meta);
    *stopped = false;
    nk_file f;
    nk_status st = nk_file_map(ctx, path, &f);
    if (st != NTKD_OK) return st;
    jsrc s = {.in = f.data, .inlen = f.size};
    size_t plen = strlen(path);
    s.xz = (plen > 3 && !strcasecmp(path + plen - 3, ".xz")) || (f.size >= 6 && !memcmp(f.data, "\xfd" "7zXZ", 6));
    if (s.xz) {
        s.buf = malloc(JBUF);
        s.z = (lzma_stream)LZMA_STREAM_INIT;
        if (!s.buf || lzma_stream_decoder(&s.z, 1ull << 30, 0) != LZMA_OK) {
            free(s.buf);
            nk_file_unmap(&f);
            return nk_fail(ctx, NTKD_E_NOMEM, "%s: cannot start the xz decoder", path);
        }
        s.z_init = true;
        s.z.next_in = f.data;
        s.z.avail_in = f.size;
        s.p = s.end = s.buf;
    } else {
        s.p = f.data;
        s.end = f.data + f.size;
    }
    bool seen_meta = false, seen_syms = false;
    if (jexpect(&s, '{')) {
        jws(&s);
        if (jpeek(&s) == '}') s.p++;
        else
            for (;;) {
                char key[32];
                bool tr, ok;
                if (!jstring(&s, key, sizeof key, NULL, &tr) || !jexpect(&s, ':')) break;
                if (!strcmp(key, "metadata")) {
                    ok = jmeta(&s, meta, 1, 0);
                    seen_meta = true;
                } else if (!strcmp(key, "symbols")) {
                    ok = jsymbols(&s, fn, u, stopped);
                    seen_syms = true;
                } else
                    ok = jskip(&s, 1);
                if (!ok || *stopped || (seen_meta && seen_syms)) break;
                jws(&s);
                int d = jget(&s);
                if (d == '}') break;
                if (d != ',') {
                    jfail(&s, "',' expected");
                    break;
                }
            }
    }
    if (!s.err && !*stopped && !seen_syms) s.err = "no \"symbols\" member";
    if (s.err)
        st = nk_fail(ctx, NTKD_E_FORMAT, "%s: ISF table: %s at offset %llu of the JSON text", path,
                     s.err, (unsigned long long)jpos(&s));
    if (s.z_init) lzma_end(&s.z);
    free(s.buf);
    nk_file_unmap(&f);
    return st;
}

static bool add_isf_sym(void *u, const char *name, uint64_t rva)
{
    nk_symtab *st = u;
    if (rva <= UINT32_MAX) nk_symtab_add(st, (uint32_t)rva, 0, name, 0, NK_SS_ISF, true);
    return true;
}

nk_status nk_isf_load_symtab(ntkd_ctx *ctx, const char *path, nk_symtab *st, nk_isf_meta *meta)
{
    bool stopped;
    nk_status s = nk_isf_scan(ctx, path, meta, add_isf_sym, st, &stopped);
    if (s != NTKD_OK) {
        nk_symtab_free(st);
        return s;
    }
    return nk_symtab_finish(st);
}

/* ---- the match ------------------------------------------------------------------------- */

static const char *const kernel_pdbs[] = {"ntkrnlmp.pdb", "ntoskrnl.pdb", "ntkrnlpa.pdb", "ntkrpamp.pdb"};
static const char *const want_names[3] = {"PsLoadedModuleList", "PsActiveProcessHead", "KdDebuggerDataBlock"};

typedef struct cand {
    char *path;
    bool isf;
} cand;

static int cand_cmp(const void *a, const void *b)
{
    const cand *x = a, *y = b;
    const char *bx = strrchr(x->path, '/'), *by = strrchr(y->path, '/');
    int c = strcmp(bx ? bx : x->path, by ? by : y->path);
    return c ? c : strcmp(x->path, y->path);
}

static bool is_dir(const char *p)
{
    struct stat sb;
    return stat(p, &sb) == 0 && S_ISDIR(sb.st_mode);
}
static bool is_file(const char *p)
{
    struct stat sb;
    return stat(p, &sb) == 0 && S_ISREG(sb.st_mode);
}

static void add_cand(cand **v, size_t *n, size_t *cap, const char *path, bool isf)
{
    if (*n >= MAX_CANDIDATES) return;
    for (size_t i = 0; i < *n; i++)
        if (!strcmp((*v)[i].path, path)) return;
    if (!nk_grow((void **)v, cap, *n + 1, sizeof **v)) return;
    char *p = strdup(path);
    if (!p) return;
    (*v)[(*n)++] = (cand){p, isf};
}

static bool has_suffix(const char *s, const char *suf)
{
    size_t a = strlen(s), b = strlen(suf);
    return a >= b && !strcasecmp(s + a - b, suf);
}

/* ISF tables in dir; PDBs in KEY subdirectories (a store tree) when pdbname is given. */
static void scan_dir(const char *dir, const char *pdbname, cand **v, size_t *n, size_t *cap)
{
    DIR *dp = opendir(dir);
    if (!dp) return;
    struct dirent *de;
    size_t guard = 0;
    while ((de = readdir(dp)) && guard++ < 100000) {
        if (de->d_name[0] == '.') continue;
        char p[4096];
        if (snprintf(p, sizeof p, "%s/%s", dir, de->d_name) >= (int)sizeof p) continue;
        if (has_suffix(de->d_name, ".json.xz") || has_suffix(de->d_name, ".json")) {
            if (is_file(p)) add_cand(v, n, cap, p, true);
        } else if (pdbname && is_dir(p)) {
            char q[4096];
            if (snprintf(q, sizeof q, "%s/%s", p, pdbname) < (int)sizeof q && is_file(q))
                add_cand(v, n, cap, q, false);
        }
    }
    closedir(dp);
}

size_t nk_sym_path_dirs(nk_symlayer *L, const char **dirs, size_t max)
{
    size_t n = 0;
    for (size_t i = 0; i < L->sp.n && n < max; i++)
        if (L->sp.elems[i].dir && L->sp.elems[i].dir[0]) dirs[n++] = L->sp.elems[i].dir;
    return n;
}

typedef struct check {
    nk_symtab tab;        /* every symbol read (kept for the winner) */
    uint64_t rva[3];
    bool have[3];
    const uint64_t *hdr;  /* header values (0: unknown) */
    uint64_t base;        /* nt's base, 0 when unknown */
    const nk_isf_meta *meta;
    uint32_t machine;
    bool mismatch, wrong_machine;
    int bad;              /* first symbol that did not match, -1 */
} check;

static bool check_sym(void *u, const char *name, uint64_t rva)
{
    check *c = u;
    if (c->meta->has_machine && c->machine && c->meta->machine != c->machine) {
        c->wrong_machine = true;
        return false;
    }
    for (int i = 0; i < 3; i++)
        if (!strcmp(name, want_names[i])) {
            c->rva[i] = rva;
            c->have[i] = true;
            if (c->base && c->hdr[i] && c->base + rva != c->hdr[i]) {
                c->mismatch = true;
                if (c->bad < 0) c->bad = i;
                return false;
            }
        }
    add_isf_sym(&c->tab, name, rva);
    return true;
}

static uint64_t hdr_val(uint64_t v, bool is64)
{
    if (is64 ? nk_kdump_unset64(v) : nk_kdump_unset32((uint32_t)v)) return 0;
    return v;
}

/* Decides a candidate with all known RVAs read: the base (known, or derived from the first
 * header value) reproduces every header value. */
static bool decide(check *c, uint64_t *base_out)
{
    uint64_t base = c->base;
    int known = 0;
    for (int i = 0; i < 3; i++) {
        if (!c->hdr[i]) continue;
        if (!c->have[i]) {
            if (c->bad < 0) c->bad = i;
            return false;
        }
        known++;
        if (!base) {
            base = c->hdr[i] - c->rva[i];
            if (base & 0xfff) {
                if (c->bad < 0) c->bad = i;
                return false;
            }
        }
        if (base + c->rva[i] != c->hdr[i]) {
            if (c->bad < 0) c->bad = i;
            return false;
        }
    }
    *base_out = base;
    return known > 0;
}

static void fmt_a(char *b, uint64_t v, bool is64) { nk_fmt_ptr(b, v, is64); }

/* A candidate ISF table through the table cache (t->table_cache): the parsed table, whose
 * lookups replace the streaming scan (a cache hit costs a few ms; a miss parses the table once
 * and caches it for the next dump). Fills what the scan would: the metadata (the PDB name from
 * the table's directory, <dir>/ntkrnlmp.pdb/<file>) and the RVAs of the wanted symbols. */
static nk_status check_cached(ntkd_target *t, const char *path, check *c, nk_isf_meta *meta, nk_isf **out)
{
    nk_isf *x;
    nk_status st = nk_isf_open_cached(t->ctx, path, t->table_cache, &x);
    if (st != NTKD_OK) return st;
    meta->has_guid = nk_isf_identity(x, meta->guid, &meta->age);
    meta->machine = x->machine;
    meta->has_machine = x->machine != 0;
    const char *e = strrchr(path, '/'), *b = e;
    while (b && b > path && b[-1] != '/') b--;
    if (b && e - b > 4 && (size_t)(e - b) < sizeof meta->database && !strncasecmp(e - 4, ".pdb", 4))
        snprintf(meta->database, sizeof meta->database, "%.*s", (int)(e - b), b);
    if (meta->has_machine && c->machine && meta->machine != c->machine) c->wrong_machine = true;
    else {
        for (int i = 0; i < 3; i++) c->have[i] = nk_isf_symbol(x, want_names[i], &c->rva[i]);
        /* with nt's base known, the first symbol in the table's (name) order that misses the
           header, as the scan meets them */
        int ord[3] = {0, 1, 2};
        for (int a = 1; a < 3; a++)
            for (int b = a; b > 0 && strcmp(want_names[ord[b - 1]], want_names[ord[b]]) > 0; b--) {
                int tmp = ord[b];
                ord[b] = ord[b - 1];
                ord[b - 1] = tmp;
            }
        for (int k = 0; k < 3 && c->base; k++) {
            int i = ord[k];
            if (c->have[i] && c->hdr[i] && c->base + c->rva[i] != c->hdr[i]) {
                c->mismatch = true;
                c->bad = i;
                break;
            }
        }
    }
    *out = x;
    return NTKD_OK;
}

bool nk_kmatch(nk_symlayer *L, nk_smod *m, nk_strbuf *log)
{
    ntkd_target *t = L->t;
    nk_dump *d = &t->d;
    bool is64 = d->is64;
    uint64_t hdr[3] = {hdr_val(d->ps_loaded_module_list, is64), hdr_val(d->ps_active_process_head, is64),
                       hdr_val(d->kd_debugger_data_block, is64)};
    if (!hdr[0] && !hdr[1] && !hdr[2]) {
        if (log) nk_sb_printf(log, "%s: no kernel table match: the dump header gives none of %s, %s, %s\n",
                              m->name, want_names[0], want_names[1], want_names[2]);
        return false;
    }
    const char *dirs[64];
    size_t nd = nk_sym_path_dirs(L, dirs, 64);
    cand *cv = NULL;
    size_t nc = 0, cc = 0;
    for (size_t i = 0; i < nd; i++)
        for (size_t k = 0; k < sizeof kernel_pdbs / sizeof kernel_pdbs[0]; k++) {
            char p[4096];
            if (snprintf(p, sizeof p, "%s/windows/%s", dirs[i], kernel_pdbs[k]) < (int)sizeof p)
                scan_dir(p, NULL, &cv, &nc, &cc);
            if (snprintf(p, sizeof p, "%s/%s", dirs[i], kernel_pdbs[k]) < (int)sizeof p)
                scan_dir(p, kernel_pdbs[k], &cv, &nc, &cc);
        }
    nk_sort(cv, nc, sizeof *cv, cand_cmp);
    char ab[24], hb[24];
    if (log) {
        nk_sb_printf(log, "%s: the dump holds no PDB identity for the kernel; matching %zu kernel table%s "
                     "on the symbol path against the dump header", m->name, nc, nc == 1 ? "" : "s");
        if (m->base) nk_sb_printf(log, " (nt base %s from the module list)", (fmt_a(ab, m->base, is64), ab));
        nk_sb_printf(log, "\n");
    }
    bool found = false;
    for (size_t i = 0; i < nc && !found; i++) {
        const char *fname = strrchr(cv[i].path, '/') ? strrchr(cv[i].path, '/') + 1 : cv[i].path;
        check c = {.hdr = hdr, .base = m->base, .machine = d->machine, .bad = -1};
        nk_isf_meta meta;
        memset(&meta, 0, sizeof meta);
        c.meta = &meta;
        nk_pdb *pdb = NULL;
        nk_isf *isf = NULL;
        uint64_t base = 0;
        bool ok = false;
        if (cv[i].isf && t->table_cache) {
            if (check_cached(t, cv[i].path, &c, &meta, &isf) != NTKD_OK) {
                if (log) nk_sb_printf(log, "  %s: unreadable: %s\n", cv[i].path, t->ctx->errmsg);
                continue;
            }
        } else if (cv[i].isf) {
            bool stopped;
            nk_status st = nk_isf_scan(t->ctx, cv[i].path, &meta, check_sym, &c, &stopped);
            if (st != NTKD_OK) {
                if (log) nk_sb_printf(log, "  %s: unreadable: %s\n", cv[i].path, t->ctx->errmsg);
                nk_symtab_free(&c.tab);
                continue;
            }
        } else {
            if (nk_pdb_open(t->ctx, cv[i].path, &pdb) != NTKD_OK) {
                if (log) nk_sb_printf(log, "  %s: unreadable: %s\n", cv[i].path, t->ctx->errmsg);
                continue;
            }
            const nk_pdb_info *pi = nk_pdb_get_info(pdb);
            if (pi->machine && d->machine && pi->machine != d->machine) c.wrong_machine = true;
            for (int k = 0; k < 3 && !c.wrong_machine; k++) {
                nk_pdb_public pub;
                char nm[64];
                snprintf(nm, sizeof nm, "%s%s", d->machine == NK_MACHINE_I386 ? "_" : "", want_names[k]);
                if (nk_pdb_public_by_name(pdb, nm, &pub) == NTKD_OK && pub.has_rva) {
                    c.rva[k] = pub.rva;
                    c.have[k] = true;
                }
            }
        }
        if (c.wrong_machine) {
            if (log) nk_sb_printf(log, "  %s: skipped: machine 0x%x, the dump's is 0x%x\n", fname,
                                  cv[i].isf ? meta.machine : nk_pdb_get_info(pdb)->machine, d->machine);
        } else if (!c.mismatch && decide(&c, &base)) {
            ok = true;
        } else if (log) {
            int b = c.bad >= 0 ? c.bad : 0;
            if (!c.have[b])
                nk_sb_printf(log, "  %s: no match: it has no symbol %s\n", fname, want_names[b]);
            else {
                uint64_t bb = c.base ? c.base : base;
                nk_sb_printf(log, "  %s: no match: %s at RVA 0x%llx gives %s, the header says %s\n", fname,
                             want_names[b], (unsigned long long)c.rva[b],
                             bb ? (fmt_a(ab, bb + c.rva[b], is64), ab) : "(no base)",
                             (fmt_a(hb, hdr[b], is64), hb));
            }
        }
        if (ok) {
            found = true;
            char which[128] = "";
            for (int k = 0; k < 3; k++)
                if (hdr[k]) {
                    size_t l = strlen(which);
                    snprintf(which + l, sizeof which - l, "%s%s", l ? ", " : "", want_names[k]);
                }
            char note[1024];
            snprintf(note, sizeof note, "%s: kernel symbols from %s %s (%s match%s the dump header%s%s)", m->name,
                     cv[i].isf ? "ISF" : "PDB", fname, which, strchr(which, ',') ? "" : "es",
                     m->base ? "" : "; nt base derived: ",
                     m->base ? "" : (fmt_a(ab, base, is64), ab));
            free(m->note);
            m->note = strdup(note);
            if (log) nk_sb_printf(log, "  %s: match\n%s\n", fname, note);
            if (!m->base) m->base = base;
            if (cv[i].isf) {
                free(m->isf_file);
                m->isf_file = strdup(cv[i].path);
                m->src = NK_SRC_ISF;
                if (isf) {
                    /* the table is open already: its types, and (nk_sym_tab) its symbols */
                    if (!m->isf && !m->types) {
                        m->isf = isf;
                        m->types = nk_isf_types(isf);
                        m->types_tried = true;
                        isf = NULL;
                        nk_symtab_free(&m->tab);
                        m->tab_built = false;
                    }
                } else if (nk_symtab_finish(&c.tab) == NTKD_OK) {
                    nk_symtab_free(&m->tab);
                    m->tab = c.tab;
                    m->tab_built = true;
                    memset(&c.tab, 0, sizeof c.tab);
                }
                if (meta.has_guid && !m->has_cv) {
                    /* the identity the table states, for lmv */
                    m->cv.kind = NK_PE_CV_RSDS;
                    m->cv.age = meta.age;
                    snprintf(m->cv.pdb_path, sizeof m->cv.pdb_path, "%s", meta.database[0] ? meta.database : "ntkrnlmp.pdb");
                }
            } else {
                m->pdb = pdb;
                pdb = NULL;
                free(m->pdb_file);
                m->pdb_file = strdup(cv[i].path);
                m->src = NK_SRC_PDB;
            }
        }
        nk_symtab_free(&c.tab);
        if (pdb) nk_pdb_close(pdb);
        nk_isf_close(isf);
    }
    if (!found && log)
        nk_sb_printf(log, "%s: no kernel table on the symbol path matches this dump%s\n", m->name,
                     nc ? "" : " (none found: ISF tables are looked for as <dir>/windows/ntkrnlmp.pdb/*.json.xz "
                               "and <dir>/ntkrnlmp.pdb/*.json.xz, PDBs as <dir>/ntkrnlmp.pdb/<KEY>/ntkrnlmp.pdb)");
    for (size_t i = 0; i < nc; i++) free(cv[i].path);
    free(cv);
    return found;
}
