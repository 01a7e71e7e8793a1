/* cmd_sym.c: modules and symbols in WinDbg's shapes.
 *
 *   lm [options] [a addr] [m pattern | M pattern]   modules (lmv, lmvm name, lm k, lm u ...)
 *   x [options] module!pattern                      symbols matching a pattern (* and ?)
 *   ln addr                                         nearest symbols
 *   .reload [/f] [/i] [module]                       reload the module list / symbols
 *   .sympath [+] [path]   .symfix [+] [dir]          symbol path
 *   !sym noisy|quiet                                 report every location tried
 *   !for_each_module cmd                             run cmd per module (@#Base, @#End ...)
 *   s -[1]b|w|d|q|a|u range pattern                  search memory
 *
 * Time stamps print in UTC (WinDbg prints local time). */
#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <strings.h>
#include <sys/stat.h>
#include <time.h>

#include "cmd/cmd.h"
#include "dump/context.h"
#include "expr/expr.h"
#include "sym/sym_int.h"

#define SEARCH_LIMIT (256ull << 20)
#define MAX_HITS 100000
#define MS_SYMBOL_SERVER "https://msdl.microsoft.com/download/symbols"

/* ---- helpers ---------------------------------------------------------------------------- */

/* '*' and '?' wildcards, case-insensitive. */
static bool wild(const char *p, const char *s)
{
    const char *star = NULL, *ss = NULL;
    for (size_t guard = 0; guard < 1000000; guard++) {
        if (*p == '*') {
            star = p++;
            ss = s;
            continue;
        }
        if (*s && (*p == '?' || tolower((unsigned char)*p) == tolower((unsigned char)*s))) {
            p++;
            s++;
            continue;
        }
        if (!*s && !*p) return true;
        if (star && *ss) {
            p = star + 1;
            s = ++ss;
            continue;
        }
        return false;
    }
    return false;
}

static bool has_wild(const char *s) { return strchr(s, '*') || strchr(s, '?'); }

static char *fmtp(const ntkd_target *t, char *buf, uint64_t v) { return nk_fmt_ptr(buf, v, t->d.is64); }

static nk_symlayer *layer(nk_cmd_env *e)
{
    nk_symlayer *L = nk_symlayer_get(e->t);
    if (!L) nk_cmd_error(e->o, "The symbol layer is not available (out of memory, or another resolver is installed)");
    else nk_sym_modules_build(L);
    return L;
}

/* Prints a log buffer line by line (text), or stores it as an array of lines (JSON). */
static void print_log(nk_out *o, const char *key, const nk_strbuf *log)
{
    if (!log->len) return;
    nk_printf(o, "%s", log->s);
    if (log->s[log->len - 1] != '\n') nk_printf(o, "\n");
    json_object *a = nk_json_arr(o, NULL, key);
    if (!a) return;
    const char *s = log->s;
    while (*s) {
        const char *e = strchr(s, '\n');
        size_t n = e ? (size_t)(e - s) : strlen(s);
        json_object_array_add(a, json_object_new_string_len(s, (int)n));
        s += n + (e ? 1 : 0);
    }
}

static void ctime_utc(uint32_t ts, char *buf, size_t len)
{
    time_t tt = (time_t)ts;
    struct tm tm;
    if (!gmtime_r(&tt, &tm) || !strftime(buf, len, "%a %b %e %H:%M:%S %Y", &tm)) snprintf(buf, len, "?");
}

/* ---- lm --------------------------------------------------------------------------------- */

typedef struct lm_opts {
    bool verbose, kernel, user, loaded_only, with_syms, problems, names_only, sort_name, full_path, image_name;
    bool have_addr;
    uint64_t addr;
    char pattern[256];
    bool path_pattern;
} lm_opts;

static bool lm_parse_cluster(const char *c, lm_opts *op, bool *want_pattern, bool *want_addr, bool *path_pat)
{
    for (; *c; c++) {
        switch (*c) {
        case 'v': op->verbose = true; break;
        case 'k': op->kernel = true; break;
        case 'u': op->user = true; break;
        case 'o': op->loaded_only = true; break;
        case 'l': op->with_syms = true; break;
        case 'e': op->problems = true; break;
        case 'f': op->full_path = true; break;
        case 'i': case 'n': case 'p': op->image_name = true; break;
        case 'D': case 'c': case 't': break;
        case 's':
            if (c[1] != 'm') return false;
            op->sort_name = true;
            c++;
            break;
        case '1':
            if (c[1] != 'm') return false;
            op->names_only = true;
            c++;
            break;
        case 'm': *want_pattern = true; *path_pat = false; break;
        case 'M': *want_pattern = true; *path_pat = true; break;
        case 'a': *want_addr = true; break;
        default: return false;
        }
    }
    return true;
}

static bool lm_args(nk_cmd_env *e, const char *a, lm_opts *op)
{
    memset(op, 0, sizeof *op);
    bool want_pattern = false, want_addr = false, path_pat = false;
    if (!lm_parse_cluster(e->name + 2, op, &want_pattern, &want_addr, &path_pat)) {
        nk_cmd_error(e->o, "Unknown lm option in '%s'", e->name);
        return false;
    }
    for (int guard = 0; guard < 64; guard++) {
        a = nk_skip_ws(a);
        if (want_pattern) {
            char w[256];
            a = nk_next_word(a, w, sizeof w);
            if (!w[0]) {
                nk_cmd_error(e->o, "lm: a module pattern is expected after m");
                return false;
            }
            snprintf(op->pattern, sizeof op->pattern, "%s", w);
            op->path_pattern = path_pat;
            want_pattern = false;
            continue;
        }
        if (want_addr) {
            const char *end;
            char err[256];
            if (nk_eval(e->t, a, &end, &op->addr, err, sizeof err) != NTKD_OK) {
                nk_cmd_error(e->o, "%s", err);
                return false;
            }
            op->have_addr = true;
            a = end;
            want_addr = false;
            continue;
        }
        if (!*a) break;
        char w[64];
        const char *rest = nk_next_word(a, w, sizeof w);
        if (!lm_parse_cluster(w, op, &want_pattern, &want_addr, &path_pat)) {
            nk_cmd_error(e->o, "lm: unknown option '%s' (lm [v][k|u][o][l][e][1m][sm] [a addr] [m pattern])", w);
            return false;
        }
        a = rest;
    }
    if (want_pattern || want_addr) {
        nk_cmd_error(e->o, "lm: %s expected", want_addr ? "an address" : "a module pattern");
        return false;
    }
    return true;
}

static void version_str(char *buf, size_t len, const uint16_t v[4])
{
    snprintf(buf, len, "%u.%u.%u.%u", v[0], v[1], v[2], v[3]);
}

static const char *file_type_name(uint32_t t)
{
    switch (t) {
    case 1: return "App";
    case 2: return "DLL";
    case 3: return "Driver";
    case 4: return "Font";
    case 5: return "VXD";
    case 7: return "Static library";
    default: return "Unknown";
    }
}

static const char *file_os_name(uint32_t os)
{
    switch (os) {
    case 0x40004: return "NT Win32";
    case 0x40000: return "NT";
    case 0x4: return "Win32";
    case 0x10001: return "DOS Win16";
    case 0x10004: return "DOS Win32";
    default: return "Unknown";
    }
}

static bool is_repro(nk_smod *m)
{
    const nk_pe_debug *dbg = NULL;
    if (!m->pe || nk_pe_debug_get(m->pe, &dbg) != NTKD_OK) return false;
    for (size_t i = 0; i < dbg->count; i++)
        if (dbg->v[i].type == NK_PE_DEBUG_REPRO) return true;
    return false;
}

static void lm_verbose(nk_cmd_env *e, nk_symlayer *L, nk_smod *m, json_object *jm)
{
    nk_out *o = e->o;
    nk_sym_ensure(L, m);
    if (m->pe) {
        nk_printf(o, "    Loaded symbol image file: %s\n", m->image_name ? m->image_name : m->name);
        if (m->pe_file && !m->pe_from_target) nk_printf(o, "    Mapped memory image file: %s\n", m->pe_file);
        nk_json_str(o, jm, "image_file", m->pe_file ? m->pe_file : "dump memory");
    }
    if (m->path) nk_printf(o, "    Image path: %s\n", m->path);
    nk_printf(o, "    Image name: %s\n", m->image_name ? m->image_name : m->name);
    bool repro = is_repro(m);
    if (repro) nk_printf(o, "    Image was built with /Brepro flag.\n");
    char tb[64];
    if (repro) nk_printf(o, "    Timestamp:        %08X (This is a reproducible build file hash, not a timestamp)\n", m->timestamp);
    else if (m->timestamp) {
        ctime_utc(m->timestamp, tb, sizeof tb);
        nk_printf(o, "    Timestamp:        %s (%08X)\n", tb, m->timestamp);
    } else
        nk_printf(o, "    Timestamp:        unavailable (00000000)\n");
    nk_printf(o, "    CheckSum:         %08X\n", m->checksum);
    nk_printf(o, "    ImageSize:        %08llX\n", (unsigned long long)m->size);
    nk_json_bool(o, jm, "reproducible_build", repro);
    const nk_pe_version *v = nk_sym_version(L, m);
    const nk_module *dm = m->dm >= 0 && (size_t)m->dm < e->t->d.nmodules ? &e->t->d.modules[m->dm] : NULL;
    char fv[48], pv[48];
    if (v && v->has_fixed) {
        version_str(fv, sizeof fv, v->file_version);
        version_str(pv, sizeof pv, v->product_version);
    } else if (dm && dm->has_version) {
        uint16_t a[4] = {(uint16_t)(dm->file_version_ms >> 16), (uint16_t)dm->file_version_ms,
                         (uint16_t)(dm->file_version_ls >> 16), (uint16_t)dm->file_version_ls};
        uint16_t b[4] = {(uint16_t)(dm->product_version_ms >> 16), (uint16_t)dm->product_version_ms,
                         (uint16_t)(dm->product_version_ls >> 16), (uint16_t)dm->product_version_ls};
        version_str(fv, sizeof fv, a);
        version_str(pv, sizeof pv, b);
    } else
        fv[0] = pv[0] = 0;
    if (fv[0]) {
        nk_printf(o, "    File version:     %s\n", fv);
        nk_printf(o, "    Product version:  %s\n", pv);
        nk_json_str(o, jm, "file_version", fv);
        nk_json_str(o, jm, "product_version", pv);
    }
    if (v && v->has_fixed) {
        nk_printf(o, "    File flags:       %X (Mask %X)\n", v->file_flags, v->file_flags_mask);
        nk_printf(o, "    File OS:          %X %s\n", v->file_os, file_os_name(v->file_os));
        nk_printf(o, "    File type:        %X.%X %s\n", v->file_type, v->file_subtype, file_type_name(v->file_type));
        nk_printf(o, "    File date:        %08X.%08X\n", v->file_date_ms, v->file_date_ls);
    }
    if (v && v->ntranslations) {
        nk_printf(o, "    Translations:    ");
        for (size_t i = 0; i < v->ntranslations && i < 16; i++)
            nk_printf(o, " %04x.%04x", v->translations[i] >> 16, v->translations[i] & 0xffff);
        nk_printf(o, "\n");
    }
    if (v && v->nstrings) {
        nk_printf(o, "    Information from resource tables:\n");
        json_object *js = nk_json_obj(o, jm, "version_strings");
        for (size_t i = 0; i < v->nstrings; i++) {
            const nk_pe_version_string *s = &v->strings[i];
            if (!s->key) continue;
            char k[128];
            snprintf(k, sizeof k, "%s:", s->key);
            nk_printf(o, "        %-18s%s\n", k, s->value ? s->value : "");
            nk_json_str(o, js, s->key, s->value ? s->value : "");
        }
    }
    if (m->note) nk_json_str(o, jm, "symbol_note", m->note);
}

static int name_cmp(const void *a, const void *b)
{
    const nk_smod *const *x = a, *const *y = b;
    return strcasecmp((*x)->name, (*y)->name);
}

nk_status cmd_lm(nk_cmd_env *e, const char *a)
{
    lm_opts op;
    if (!lm_args(e, a, &op)) return NTKD_E_ARG;
    nk_symlayer *L = layer(e);
    if (!L) return NTKD_E_NOMEM;
    ntkd_target *t = e->t;
    nk_out *o = e->o;
    bool is64 = t->d.is64;
    nk_smod **list = malloc((L->nmods + 1) * sizeof *list);
    if (!list) return NTKD_E_NOMEM;
    size_t n = 0;
    /* loaded modules in address order (as WinDbg lists them) */
    for (size_t i = 0; i < L->norder; i++) list[n++] = &L->mods[L->order[i]];
    for (size_t i = 0; i < L->nmods; i++) /* modules of size 0 are not in the address order */
        if (!L->mods[i].unloaded && !L->mods[i].size) list[n++] = &L->mods[i];
    nk_sort(list, n, sizeof *list, name_cmp);
    json_object *jmods = nk_json_arr(o, NULL, "modules");
    if (!op.names_only) nk_printf(o, is64 ? "start             end                 module name\n" : "start    end        module name\n");
    size_t shown = 0;
    for (size_t i = 0; i < n; i++) {
        nk_smod *m = list[i];
        if (op.kernel && m->user) continue;
        if (op.user && !m->user) continue;
        if (op.have_addr && !(op.addr >= m->base && op.addr - m->base < m->size)) continue;
        if (op.pattern[0]) {
            const char *subject = op.path_pattern ? (m->path ? m->path : m->image_name) : m->name;
            if (!subject || !wild(op.pattern, subject)) continue;
        }
        if (op.verbose) nk_sym_ensure(L, m);
        const char *file;
        const char *status = nk_sym_status(m, &file);
        if (op.with_syms && (m->src == NK_SRC_NONE || !m->tried)) continue;
        if (op.problems && m->tried && (m->src == NK_SRC_PDB || m->src == NK_SRC_ISF)) continue;
        shown++;
        char b1[24], b2[24];
        json_object *jm = nk_json_obj(o, jmods, NULL);
        nk_json_u64(o, jm, "start", m->base);
        nk_json_u64(o, jm, "end", m->base + m->size);
        nk_json_str(o, jm, "name", m->name);
        nk_json_str(o, jm, "image_name", m->image_name);
        nk_json_str(o, jm, "path", m->path);
        nk_json_str(o, jm, "status", status);
        nk_json_str(o, jm, "symbol_file", file);
        nk_json_int(o, jm, "timestamp", m->timestamp);
        nk_json_int(o, jm, "checksum", m->checksum);
        nk_json_int(o, jm, "size", (int64_t)m->size);
        nk_json_bool(o, jm, "user", m->user);
        if (op.names_only) {
            nk_printf(o, "%s\n", m->name);
            continue;
        }
        nk_printf(o, "%s %s   %-8s   ", fmtp(t, b1, m->base), fmtp(t, b2, m->base + m->size), m->name);
        if (op.full_path) nk_printf(o, "%s\n", m->path ? m->path : (m->image_name ? m->image_name : ""));
        else if (op.image_name) nk_printf(o, "%s\n", m->image_name ? m->image_name : "");
        else if (file) nk_printf(o, "%-22s %s\n", status, file);
        else nk_printf(o, "%-22s\n", status);
        if (op.verbose) lm_verbose(e, L, m, jm);
    }
    free(list);
    nk_json_int(o, NULL, "count", (int64_t)shown);
    /* unloaded modules */
    if (!op.loaded_only && !op.names_only && !op.user && !op.with_syms && !op.problems) {
        bool header = false;
        json_object *ju = NULL;
        for (size_t i = 0; i < L->nmods; i++) {
            nk_smod *m = &L->mods[i];
            if (!m->unloaded) continue;
            if (op.have_addr && !(op.addr >= m->base && op.addr - m->base < m->size)) continue;
            if (op.pattern[0] && !wild(op.pattern, m->name) && !(m->image_name && wild(op.pattern, m->image_name)))
                continue;
            if (!header) {
                nk_printf(o, "\nUnloaded modules:\n");
                ju = nk_json_arr(o, NULL, "unloaded");
                header = true;
            }
            char b1[24], b2[24];
            nk_printf(o, "%s %s   %s\n", fmtp(t, b1, m->base), fmtp(t, b2, m->base + m->size),
                      m->image_name ? m->image_name : m->name);
            json_object *jm = nk_json_obj(o, ju, NULL);
            nk_json_u64(o, jm, "start", m->base);
            nk_json_u64(o, jm, "end", m->base + m->size);
            nk_json_str(o, jm, "name", m->image_name ? m->image_name : m->name);
            if (op.verbose && m->timestamp) {
                char tb[64];
                ctime_utc(m->timestamp, tb, sizeof tb);
                nk_printf(o, "    Timestamp: %s (%08X)\n", tb, m->timestamp);
            }
        }
    }
    return NTKD_OK;
}

/* ---- x ---------------------------------------------------------------------------------- */

typedef struct xhit {
    nk_smod *m;
    const nk_ssym *s;
} xhit;

static int xhit_addr(const void *a, const void *b)
{
    const xhit *x = a, *y = b;
    uint64_t ax = x->m->base + x->s->rva, ay = y->m->base + y->s->rva;
    if (ax != ay) return ax < ay ? -1 : 1;
    return strcmp(x->s->name, y->s->name);
}

static int xhit_name(const void *a, const void *b)
{
    const xhit *x = a, *y = b;
    int c = strcasecmp(x->m->name, y->m->name);
    if (c) return c;
    c = strcasecmp(x->s->name, y->s->name);
    return c ? c : xhit_addr(a, b);
}

nk_status cmd_x(nk_cmd_env *e, const char *a)
{
    nk_symlayer *L = layer(e);
    if (!L) return NTKD_E_NOMEM;
    nk_out *o = e->o;
    bool by_name = false;
    char w[512];
    a = nk_skip_ws(a);
    while (*a == '/') {
        a = nk_next_word(a, w, sizeof w);
        if (!strcmp(w, "/n") || !strcmp(w, "/N")) by_name = true;
        else if (!strcmp(w, "/a") || !strcmp(w, "/A")) by_name = false;
        /* other options (/v /t /p /d /f /0 /1 /2 /q) are accepted and ignored */
    }
    a = nk_next_word(a, w, sizeof w);
    if (!w[0]) {
        nk_cmd_error(o, "x: a pattern is expected (x module!symbol, with * and ? wildcards)");
        return NTKD_E_ARG;
    }
    char modpat[256] = "*", sympat[512];
    const char *bang = strchr(w, '!');
    if (bang) {
        snprintf(modpat, sizeof modpat, "%.*s", (int)(bang - w), w);
        snprintf(sympat, sizeof sympat, "%s", bang + 1);
        if (!modpat[0]) snprintf(modpat, sizeof modpat, "*");
    } else
        snprintf(sympat, sizeof sympat, "%s", w);
    if (!sympat[0]) snprintf(sympat, sizeof sympat, "*");
    xhit *hits = NULL;
    size_t nh = 0, ch = 0;
    size_t nmods_matched = 0;
    for (size_t i = 0; i < L->nmods; i++) {
        nk_smod *m = &L->mods[i];
        if (m->unloaded || !wild(modpat, m->name)) continue;
        nmods_matched++;
        nk_symtab *st = nk_sym_tab(L, m);
        if (!has_wild(sympat)) {
            ptrdiff_t k = nk_symtab_find(st, sympat);
            for (size_t j = k < 0 ? st->n : (size_t)k; j < st->n; j++) {
                const nk_ssym *s = &st->v[st->by_name[j]];
                if (strcasecmp(s->name, sympat)) break;
                if (nk_grow((void **)&hits, &ch, nh + 1, sizeof *hits)) hits[nh++] = (xhit){m, s};
            }
        } else {
            for (size_t j = 0; j < st->n; j++)
                if (wild(sympat, st->v[j].name) && nk_grow((void **)&hits, &ch, nh + 1, sizeof *hits))
                    hits[nh++] = (xhit){m, &st->v[j]};
        }
    }
    if (!nmods_matched && !has_wild(modpat)) {
        free(hits);
        nk_cmd_error(o, "Couldn't resolve error at '%s'", w);
        return NTKD_E_NOTFOUND;
    }
    nk_sort(hits, nh, sizeof *hits, by_name ? xhit_name : xhit_addr);
    json_object *js = nk_json_arr(o, NULL, "symbols");
    for (size_t i = 0; i < nh; i++) {
        char ab[24], sig[1024];
        uint64_t addr = hits[i].m->base + hits[i].s->rva;
        nk_sym_signature(L, hits[i].m, hits[i].s, sig, sizeof sig);
        nk_printf(o, "%s %s!%s %s\n", fmtp(e->t, ab, addr), hits[i].m->name, nk_sym_shown_name(hits[i].s->name), sig);
        json_object *j = nk_json_obj(o, js, NULL);
        nk_json_u64(o, j, "address", addr);
        nk_json_str(o, j, "module", hits[i].m->name);
        nk_json_str(o, j, "name", hits[i].s->name);
        nk_json_str(o, j, "info", sig);
        static const char *const kinds[] = {"function", "data", "public code", "public data", "isf", "export"};
        nk_json_str(o, j, "kind", hits[i].s->kind < 6 ? kinds[hits[i].s->kind] : "?");
        if (hits[i].s->size) nk_json_int(o, j, "size", hits[i].s->size);
    }
    nk_json_int(o, NULL, "count", (int64_t)nh);
    free(hits);
    return NTKD_OK;
}

/* ---- ln --------------------------------------------------------------------------------- */

nk_status cmd_ln(nk_cmd_env *e, const char *a)
{
    nk_symlayer *L = layer(e);
    if (!L) return NTKD_E_NOMEM;
    nk_out *o = e->o;
    ntkd_target *t = e->t;
    uint64_t addr;
    a = nk_skip_ws(a);
    if (!*a) {
        if (!t->cur_ctx.data) {
            nk_cmd_error(o, "ln: an address is expected (there is no register context)");
            return NTKD_E_ARG;
        }
        addr = nk_context_pc(&t->cur_ctx);
    } else {
        char err[256];
        const char *end;
        if (nk_eval(t, a, &end, &addr, err, sizeof err) != NTKD_OK) {
            nk_cmd_error(o, "%s", err);
            return NTKD_E_ARG;
        }
    }
    nk_json_u64(o, NULL, "address", addr);
    nk_smod *m = nk_sym_module_at(L, addr);
    if (!m) {
        nk_json_bool(o, NULL, "found", false);
        return NTKD_OK;
    }
    nk_symtab *st = nk_sym_tab(L, m);
    uint64_t rva = addr - m->base;
    const char *name = NULL;
    uint64_t start = 0;
    bool have = false;
    char nb[1024];
    if (rva <= UINT32_MAX && m->src == NK_SRC_PDB) {
        nk_pdb_addr_sym as;
        if (nk_pdb_addr_lookup(m->pdb, (uint32_t)rva, &as) == NTKD_OK && as.name) {
            name = as.is_function ? as.name
                                  : nk_pdb_undecorate(as.name, nk_pdb_get_info(m->pdb)->machine == NK_PE_MACHINE_I386,
                                                      nb, sizeof nb);
            start = as.start;
            have = true;
        }
    }
    if (!have && rva <= UINT32_MAX) {
        ptrdiff_t i = nk_symtab_at_or_below(st, (uint32_t)rva);
        if (i >= 0 && !nk_sym_same_section(m, st->v[i].rva, (uint32_t)rva)) i = -1;
        if (i >= 0) {
            name = st->v[i].name;
            start = st->v[i].rva;
            have = true;
        }
    }
    char b1[24], b2[24], sym[1200];
    nk_json_bool(o, NULL, "found", true);
    nk_json_str(o, NULL, "module", m->name);
    if (!have) {
        snprintf(sym, sizeof sym, "%s+0x%llx", m->name, (unsigned long long)rva);
        if (!rva) snprintf(sym, sizeof sym, "%s", m->name);
        nk_printf(o, "(%s)   %s\n", fmtp(t, b1, addr), sym);
        nk_json_str(o, NULL, "symbol", sym);
        return NTKD_OK;
    }
    uint64_t disp = rva - start;
    name = nk_sym_shown_name(name);
    if (disp) snprintf(sym, sizeof sym, "%s!%s+0x%llx", m->name, name, (unsigned long long)disp);
    else snprintf(sym, sizeof sym, "%s!%s", m->name, name);
    nk_printf(o, "(%s)   %s", fmtp(t, b1, m->base + start), sym);
    nk_json_u64(o, NULL, "start", m->base + start);
    nk_json_str(o, NULL, "symbol", sym);
    nk_json_str(o, NULL, "name", name);
    nk_json_int(o, NULL, "offset", (int64_t)disp);
    ptrdiff_t nx = start <= UINT32_MAX ? nk_symtab_after(st, (uint32_t)start) : -1;
    if (nx >= 0) {
        uint64_t na = m->base + st->v[nx].rva;
        nk_printf(o, "   |  (%s)   %s!%s", fmtp(t, b2, na), m->name, nk_sym_shown_name(st->v[nx].name));
        json_object *jn = nk_json_obj(o, NULL, "next");
        nk_json_u64(o, jn, "address", na);
        nk_json_str(o, jn, "name", st->v[nx].name);
    }
    nk_printf(o, "\n");
    if (!disp) {
        json_object *je = nk_json_arr(o, NULL, "exact");
        bool any = false;
        ptrdiff_t i = start <= UINT32_MAX ? nk_symtab_at_or_below(st, (uint32_t)start) : -1;
        for (size_t j = i < 0 ? st->n : (size_t)i; j < st->n && st->v[j].rva == start; j++) {
            if (!any) nk_printf(o, "Exact matches:\n");
            any = true;
            char sig[1024];
            nk_sym_signature(L, m, &st->v[j], sig, sizeof sig);
            nk_printf(o, "    %s!%s %s\n", m->name, nk_sym_shown_name(st->v[j].name), sig);
            if (je) {
                char line[1600];
                snprintf(line, sizeof line, "%s!%s %s", m->name, st->v[j].name, sig);
                json_object_array_add(je, json_object_new_string(line));
            }
        }
    }
    return NTKD_OK;
}

/* ---- .reload / .sympath / .symfix / !sym ----------------------------------------------------- */

nk_status cmd_reload(nk_cmd_env *e, const char *a)
{
    nk_symlayer *L = layer(e);
    if (!L) return NTKD_E_NOMEM;
    bool force = false;
    char mod[256] = "";
    char w[256];
    for (int guard = 0; guard < 32; guard++) {
        a = nk_skip_ws(a);
        if (!*a) break;
        a = nk_next_word(a, w, sizeof w);
        if (w[0] == '/' || w[0] == '-') {
            for (const char *c = w + 1; *c; c++) {
                if (*c == 'f') force = true;
                else if (*c == 'i') L->ignore_mismatch = true;
                /* /v /n /s /u /o /user /unl: accepted */
            }
        } else {
            char *eq = strchr(w, '='); /* "module=base,size": only the name is used */
            if (eq) *eq = 0;
            snprintf(mod, sizeof mod, "%s", w);
        }
    }
    nk_strbuf log = {0};
    bool kernel = ntkd_is_kernel(e->t) && e->t->d.kind != NK_KIND_IMAGE;
    if (!mod[0]) nk_printf(e->o, kernel ? "Loading Kernel Symbols\n" : "Loading Symbols\n");
    nk_status st = nk_sym_reload(e->t, mod[0] ? mod : NULL, force, &log);
    if (st != NTKD_OK) {
        nk_sb_free(&log);
        nk_cmd_error(e->o, "%s", e->t->ctx->errmsg);
        return st;
    }
    print_log(e->o, "log", &log);
    nk_sb_free(&log);
    nk_json_int(e->o, NULL, "modules", (int64_t)L->norder);
    return NTKD_OK;
}

static void path_summary(nk_cmd_env *e, nk_symlayer *L, bool validate)
{
    nk_out *o = e->o;
    const char *p = nk_sym_get_path(e->t);
    nk_printf(o, "Symbol search path is: %s\n", p[0] ? p : "<empty>");
    nk_json_str(o, NULL, "path", p);
    nk_strbuf ex = {0};
    for (size_t i = 0; i < L->sp.n; i++) {
        const nk_sympath_elem *el = &L->sp.elems[i];
        if (i) nk_sb_printf(&ex, ";");
        if (el->kind == NK_SP_SERVER) nk_sb_printf(&ex, "SRV*%s%s%s", el->dir ? el->dir : "", el->dir ? "*" : "", el->url ? el->url : "");
        else if (el->kind == NK_SP_CACHE) nk_sb_printf(&ex, "cache*%s", el->dir ? el->dir : "");
        else nk_sb_printf(&ex, "%s", el->dir ? el->dir : "");
    }
    nk_printf(o, "Expanded Symbol search path is: %s\n", ex.len ? ex.s : "<empty>");
    nk_json_str(o, NULL, "expanded", ex.len ? ex.s : "");
    nk_sb_free(&ex);
    if (!validate || !L->sp.n) return;
    nk_printf(o, "\n************* Path validation summary **************\n");
    nk_printf(o, "Response                         Time (ms)     Location\n");
    json_object *jv = nk_json_arr(o, NULL, "validation");
    for (size_t i = 0; i < L->sp.n; i++) {
        const nk_sympath_elem *el = &L->sp.elems[i];
        const char *resp;
        char loc[4200];
        if (el->kind == NK_SP_SERVER) {
            resp = "Deferred";
            snprintf(loc, sizeof loc, "srv*%s%s%s", el->dir ? el->dir : "", el->dir ? "*" : "", el->url ? el->url : "");
        } else {
            struct stat sb;
            resp = el->dir && stat(el->dir, &sb) == 0 && S_ISDIR(sb.st_mode) ? "OK" : "Error";
            snprintf(loc, sizeof loc, "%s%s", el->kind == NK_SP_CACHE ? "cache*" : "", el->dir ? el->dir : "");
        }
        nk_printf(o, "%-47s%s\n", resp, loc);
        json_object *j = nk_json_obj(o, jv, NULL);
        nk_json_str(o, j, "response", resp);
        nk_json_str(o, j, "location", loc);
    }
}

static nk_status set_path(nk_cmd_env *e, nk_symlayer *L, const char *path, bool append)
{
    if (nk_sym_set_path(e->t, path, append) != NTKD_OK) {
        nk_cmd_error(e->o, "Symbol path error: %s", e->t->ctx->errmsg);
        return NTKD_E_ARG;
    }
    path_summary(e, L, true);
    return NTKD_OK;
}

nk_status cmd_sympath(nk_cmd_env *e, const char *a)
{
    nk_symlayer *L = layer(e);
    if (!L) return NTKD_E_NOMEM;
    a = nk_skip_ws(a);
    bool append = e->name[strlen(e->name) - 1] == '+'; /* ".sympath+ dir" */
    if (*a == '+') {
        append = true;
        a = nk_skip_ws(a + 1);
    }
    if (!*a) {
        path_summary(e, L, false);
        return NTKD_OK;
    }
    char path[4096];
    snprintf(path, sizeof path, "%s", a);
    size_t n = strlen(path);
    while (n && isspace((unsigned char)path[n - 1])) path[--n] = 0;
    if (n >= 2 && path[0] == '"' && path[n - 1] == '"') {
        memmove(path, path + 1, n - 2);
        path[n - 2] = 0;
    }
    return set_path(e, L, path, append);
}

nk_status cmd_symfix(nk_cmd_env *e, const char *a)
{
    nk_symlayer *L = layer(e);
    if (!L) return NTKD_E_NOMEM;
    a = nk_skip_ws(a);
    bool append = e->name[strlen(e->name) - 1] == '+'; /* ".sympath+ dir" */
    if (*a == '+') {
        append = true;
        a = nk_skip_ws(a + 1);
    }
    char dir[2048];
    nk_next_word(a, dir, sizeof dir);
    if (!dir[0] && !nk_sympath_default_cache(dir, sizeof dir)) {
        nk_cmd_error(e->o, ".symfix: no cache directory given and no default ($HOME is not set)");
        return NTKD_E_ARG;
    }
    char path[4200];
    snprintf(path, sizeof path, "srv*%s*%s", dir, MS_SYMBOL_SERVER);
    return set_path(e, L, path, append);
}

nk_status cmd_bang_sym(nk_cmd_env *e, const char *a)
{
    nk_symlayer *L = layer(e);
    if (!L) return NTKD_E_NOMEM;
    char w[64];
    nk_next_word(a, w, sizeof w);
    if (!strcasecmp(w, "noisy")) L->noisy = true;
    else if (!strcasecmp(w, "quiet")) L->noisy = false;
    else if (w[0] && strcasecmp(w, "prompts")) {
        nk_cmd_error(e->o, "!sym: unknown option '%s' (!sym noisy | quiet)", w);
        return NTKD_E_ARG;
    }
    nk_printf(e->o, "%s mode - symbol prompts on\n", L->noisy ? "noisy" : "quiet");
    nk_json_bool(e->o, NULL, "noisy", L->noisy);
    return NTKD_OK;
}

/* ---- !for_each_module ------------------------------------------------------------------------ */

static void subst(const char *tmpl, nk_strbuf *out, nk_symlayer *L, nk_smod *m)
{
    const ntkd_target *t = L->t;
    char b[64];
    const char *file;
    const char *status = nk_sym_status(m, &file);
    for (const char *p = tmpl; *p;) {
        if (p[0] == '@' && p[1] == '#') {
            static const char *const keys[] = {"Base", "End", "ModuleName", "ImageName", "ImagePath", "LoadedImageName",
                                               "Size", "TimeStamp", "Checksum", "SymbolType", "SymbolFileName"};
            size_t k, best = SIZE_MAX, blen = 0;
            for (k = 0; k < sizeof keys / sizeof keys[0]; k++) {
                size_t l = strlen(keys[k]);
                if (!strncasecmp(p + 2, keys[k], l) && l > blen) {
                    best = k;
                    blen = l;
                }
            }
            if (best != SIZE_MAX) {
                switch (best) {
                case 0: nk_sb_printf(out, "%s", nk_fmt_ptr(b, m->base, t->d.is64)); break;
                case 1: nk_sb_printf(out, "%s", nk_fmt_ptr(b, m->base + m->size, t->d.is64)); break;
                case 2: nk_sb_printf(out, "%s", m->name); break;
                case 3: case 5: nk_sb_printf(out, "%s", m->image_name ? m->image_name : m->name); break;
                case 4: nk_sb_printf(out, "%s", m->path ? m->path : (m->image_name ? m->image_name : m->name)); break;
                case 6: nk_sb_printf(out, "%llx", (unsigned long long)m->size); break;
                case 7: nk_sb_printf(out, "%08x", m->timestamp); break;
                case 8: nk_sb_printf(out, "%08x", m->checksum); break;
                case 9: nk_sb_printf(out, "%s", status); break;
                case 10: nk_sb_printf(out, "%s", file ? file : ""); break;
                }
                p += 2 + blen;
                continue;
            }
        }
        nk_sb_printf(out, "%c", *p++);
    }
}

nk_status cmd_for_each_module(nk_cmd_env *e, const char *a)
{
    nk_symlayer *L = layer(e);
    if (!L) return NTKD_E_NOMEM;
    a = nk_skip_ws(a);
    char tmpl[4096];
    snprintf(tmpl, sizeof tmpl, "%s", a);
    size_t n = strlen(tmpl);
    while (n && isspace((unsigned char)tmpl[n - 1])) tmpl[--n] = 0;
    if (!n) {
        nk_cmd_error(e->o, "!for_each_module: a command is expected (@#Base, @#End, @#ModuleName, @#ImageName ... "
                     "are replaced per module)");
        return NTKD_E_ARG;
    }
    json_object *jr = nk_json_arr(e->o, NULL, "results");
    nk_status rc = NTKD_OK;
    for (size_t i = 0; i < L->norder; i++) {
        nk_smod *m = &L->mods[L->order[i]];
        nk_strbuf line = {0};
        subst(tmpl, &line, L, m);
        if (!line.len) continue;
        /* the command name: "?", or a run of non-blank characters */
        const char *s = nk_skip_ws(line.s);
        char name[64];
        size_t k = 0;
        if (*s == '?') name[k++] = *s++;
        else
            while (*s && !isspace((unsigned char)*s) && *s != '"' && k + 1 < sizeof name) name[k++] = *s++;
        name[k] = 0;
        const nk_cmd *c = nk_cmd_find(name);
        nk_out sub = {.f = e->o->f, .json = e->o->json};
        if (sub.json) {
            sub.root = json_object_new_object();
            json_object_object_add(sub.root, "module", json_object_new_string(m->name));
            json_object_object_add(sub.root, "command", json_object_new_string(line.s));
        }
        nk_status st;
        if (!c) {
            nk_cmd_error(&sub, "Unknown command: '%s'", name);
            st = NTKD_E_NOTFOUND;
        } else if (c->fn == cmd_for_each_module) {
            nk_cmd_error(&sub, "!for_each_module cannot run itself");
            st = NTKD_E_ARG;
        } else {
            nk_cmd_env env = {.t = e->t, .o = &sub, .name = c->name};
            st = c->fn(&env, nk_skip_ws(s));
        }
        if (sub.json) {
            json_object_object_add(sub.root, "ok", json_object_new_boolean(st == NTKD_OK && !sub.failed));
            if (jr) json_object_array_add(jr, sub.root);
            else json_object_put(sub.root);
        }
        nk_sb_free(&line);
        if (st != NTKD_OK && st != NTKD_E_NOTPRESENT) rc = st;
        if (!c) break;
    }
    return rc == NTKD_E_NOTFOUND ? NTKD_E_NOTFOUND : NTKD_OK;
}

/* ---- s ----------------------------------------------------------------------------------------- */

typedef struct sspec {
    char type;          /* b w d q a u */
    unsigned unit;
    bool addr_only;     /* -[1] */
} sspec;

static bool parse_pattern(nk_cmd_env *e, const sspec *sp, const char *a, uint8_t *pat, size_t *plen, size_t cap)
{
    a = nk_skip_ws(a);
    *plen = 0;
    if (sp->type == 'a' || sp->type == 'u') {
        char str[1024];
        nk_next_word(a, str, sizeof str);
        if (!str[0]) return false;
        for (const char *c = str; *c; c++) {
            if (*plen + (sp->type == 'u' ? 2 : 1) > cap) break;
            pat[(*plen)++] = (uint8_t)*c;
            if (sp->type == 'u') pat[(*plen)++] = 0;
        }
        return *plen > 0;
    }
    for (int guard = 0; guard < 256 && *a; guard++) {
        if (*a == '"' || *a == '\'') { /* a quoted string as bytes */
            char str[1024];
            a = nk_next_word(a, str, sizeof str);
            for (const char *c = str; *c && *plen < cap; c++) pat[(*plen)++] = (uint8_t)*c;
            continue;
        }
        uint64_t v;
        const char *end;
        char err[256];
        if (nk_eval(e->t, a, &end, &v, err, sizeof err) != NTKD_OK) {
            nk_cmd_error(e->o, "%s", err);
            return false;
        }
        if (sp->unit < 8 && v >> (sp->unit * 8)) {
            nk_cmd_error(e->o, "Search pattern value %llx does not fit in %u byte%s", (unsigned long long)v, sp->unit,
                         sp->unit == 1 ? "" : "s");
            return false;
        }
        if (*plen + sp->unit > cap) break;
        for (unsigned i = 0; i < sp->unit; i++) pat[(*plen)++] = (uint8_t)(v >> (8 * i));
        a = nk_skip_ws(end);
    }
    return *plen > 0;
}

static void show_hit(nk_cmd_env *e, const sspec *sp, uint64_t addr)
{
    char ab[24];
    if (sp->addr_only) {
        nk_printf(e->o, "%s\n", fmtp(e->t, ab, addr));
        return;
    }
    const char *dname = sp->type == 'w' ? "dw" : sp->type == 'd' ? "dd" : sp->type == 'q' ? "dq" : "db";
    const nk_cmd *c = nk_cmd_find(dname);
    if (!c) return;
    unsigned count = 16 / (sp->type == 'a' || sp->type == 'u' ? 1 : sp->unit);
    char args[64];
    snprintf(args, sizeof args, "%s L%x", fmtp(e->t, ab, addr), count);
    nk_out sub = {.f = e->o->f, .json = false};
    nk_cmd_env env = {.t = e->t, .o = &sub, .name = c->name};
    /* the display commands remember where they stopped: searching must not move that */
    uint64_t dn = e->t->disp_next;
    bool dh = e->t->disp_have;
    char last[sizeof e->t->disp_last];
    memcpy(last, e->t->disp_last, sizeof last);
    c->fn(&env, args);
    e->t->disp_next = dn;
    e->t->disp_have = dh;
    memcpy(e->t->disp_last, last, sizeof last);
}

/* The next address after `miss` (which the dump does not hold) that may be readable: the
 * next directly-held range, or the end of the region the paging entry that ended the walk
 * covers (an invalid top-level entry skips 512 GB at once on x64). */
static uint64_t next_readable(ntkd_target *t, uint64_t miss)
{
    const nk_dump *d = &t->d;
    uint64_t best = UINT64_MAX;
    size_t lo = 0, hi = d->nvranges;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        if (d->vranges[mid].va <= miss) lo = mid + 1;
        else hi = mid;
    }
    if (lo < d->nvranges) best = d->vranges[lo].va;
    uint64_t page = (miss | 0xfff) + 1;
    if (page <= miss) page = UINT64_MAX;
    if (d->paging == NK_PAGING_NONE) return best;
    nk_walk w;
    memset(&w, 0, sizeof w);
    if (nk_vtop_walk(t, d->dtb, miss, &w) == NTKD_OK) return page < best ? page : best;
    uint64_t next = page;
    if (w.result == NK_WALK_NONCANONICAL && d->paging == NK_PAGING_X64_4L && miss < 0xffff800000000000ull)
        next = 0xffff800000000000ull;
    else if ((w.result == NK_WALK_INVALID || w.result == NK_WALK_NOT_IN_DUMP) && w.nlevels > 0) {
        unsigned bits = d->paging == NK_PAGING_X86 ? 10 : 9;
        int below = w.nlevels_arch - w.nlevels; /* levels under the one that ended the walk */
        if (w.result == NK_WALK_NOT_IN_DUMP) below++; /* its table page is missing: that entry's span */
        unsigned shift = 12 + bits * (unsigned)(below > 0 ? below : 0);
        if (shift < 64) {
            uint64_t span = 1ull << shift;
            uint64_t n = (miss & ~(span - 1)) + span;
            if (n > miss) next = n > next ? n : next;
        }
    }
    return next < best ? next : best;
}

nk_status cmd_search(nk_cmd_env *e, const char *a)
{
    nk_out *o = e->o;
    ntkd_target *t = e->t;
    sspec sp = {.type = 'b', .unit = 1};
    a = nk_skip_ws(a);
    while (*a == '-') {
        char w[32];
        a = nk_next_word(a, w, sizeof w);
        for (const char *c = w + 1; *c; c++) {
            if (*c == '[') { /* flags: [1] addresses only; others (w, s, n...) accepted */
                for (c++; *c && *c != ']'; c++)
                    if (*c == '1') sp.addr_only = true;
                if (!*c) break;
                continue;
            }
            switch (*c) {
            case 'b': sp.type = 'b'; sp.unit = 1; break;
            case 'w': sp.type = 'w'; sp.unit = 2; break;
            case 'd': sp.type = 'd'; sp.unit = 4; break;
            case 'q': sp.type = 'q'; sp.unit = 8; break;
            case 'a': sp.type = 'a'; sp.unit = 1; break;
            case 'u': sp.type = 'u'; sp.unit = 2; break;
            default:
                nk_cmd_error(o, "s: unknown search type '%c' (use -b -w -d -q -a -u)", *c);
                return NTKD_E_ARG;
            }
        }
        a = nk_skip_ws(a);
    }
    uint64_t start, end_or_len;
    const char *end;
    char err[256];
    if (!*a || nk_eval(t, a, &end, &start, err, sizeof err) != NTKD_OK) {
        nk_cmd_error(o, "%s", *a ? err : "s: a range is expected (s -a start end \"text\" | s -b start L len 4c 65)");
        return NTKD_E_ARG;
    }
    a = nk_skip_ws(end);
    bool is_len = false, nolimit = false;
    if ((*a == 'L' || *a == 'l') && (a[1] == '?' || isxdigit((unsigned char)a[1]) || a[1] == ' ' || a[1] == '0')) {
        is_len = true;
        a++;
        if (*a == '?') {
            nolimit = true;
            a++;
        }
    }
    if (!*a || nk_eval(t, a, &end, &end_or_len, err, sizeof err) != NTKD_OK) {
        nk_cmd_error(o, "%s", *a ? err : "s: the end of the range is expected");
        return NTKD_E_ARG;
    }
    a = end;
    uint64_t len;
    if (is_len) {
        if (end_or_len > UINT64_MAX / sp.unit) {
            nk_cmd_error(o, "Range error: the length overflows");
            return NTKD_E_ARG;
        }
        len = end_or_len * (sp.type == 'a' || sp.type == 'u' ? 1 : sp.unit);
    } else {
        if (end_or_len < start) {
            nk_cmd_error(o, "Range error: the end %llx is below the start %llx", (unsigned long long)end_or_len,
                         (unsigned long long)start);
            return NTKD_E_ARG;
        }
        len = end_or_len - start + 1;
        if (!len) len = UINT64_MAX;
    }
    if (len > SEARCH_LIMIT && !nolimit) {
        nk_cmd_error(o, "Range error: the range exceeds the 256 MB limit (use L? to lift it)");
        return NTKD_E_ARG;
    }
    uint8_t pat[1024];
    size_t plen;
    if (!parse_pattern(e, &sp, a, pat, &plen, sizeof pat)) {
        if (!o->failed) nk_cmd_error(o, "s: a search pattern is expected");
        return NTKD_E_ARG;
    }
    nk_json_u64(o, NULL, "start", start);
    nk_json_u64(o, NULL, "length", len);
    json_object *jh = nk_json_arr(o, NULL, "hits");
    enum { CHUNK = 65536 };
    uint8_t *buf = malloc(CHUNK + sizeof pat);
    if (!buf) return NTKD_E_NOMEM;
    size_t carry = 0;     /* bytes of the previous chunk kept at the start of buf */
    uint64_t carry_va = 0;
    uint64_t done = 0, nhits = 0, present = 0;
    unsigned align = sp.type == 'a' || sp.type == 'u' ? 1 : sp.unit;
    bool stopped = false;
    while (done < len && !stopped) {
        uint64_t cur = start + done;
        if (cur < start) break; /* wrapped */
        size_t want = (size_t)(len - done < CHUNK ? len - done : CHUNK);
        size_t got = 0;
        nk_read_virt(t, cur, buf + carry, want, &got);
        present += got;
        size_t avail = carry + got;
        uint64_t win_va = carry ? carry_va : cur;
        for (size_t i = 0; i + plen <= avail; i++) {
            uint64_t hva = win_va + i;
            if ((hva - start) % align) continue;
            if (memcmp(buf + i, pat, plen)) continue;
            if (hva - start >= len) break;
            nhits++;
            if (o->json) {
                json_object *j = nk_json_obj(o, jh, NULL);
                nk_json_u64(o, j, "address", hva);
                char ab[24];
                nk_json_str(o, j, "text", fmtp(t, ab, hva));
            } else
                show_hit(e, &sp, hva);
            if (nhits >= MAX_HITS) {
                stopped = true;
                break;
            }
        }
        if (got == want) {
            size_t keep = plen - 1 < avail ? plen - 1 : avail;
            memmove(buf, buf + avail - keep, keep);
            carry = keep;
            carry_va = win_va + avail - keep;
            done += want;
        } else {
            /* skip past the region around the first byte the dump does not hold */
            uint64_t miss = cur + got;
            uint64_t next = next_readable(t, miss);
            if (next <= miss || next - start >= len || next == UINT64_MAX) break;
            done = next - start;
            carry = 0;
        }
    }
    free(buf);
    if (stopped) nk_printf(o, "Search stopped after %d hits\n", MAX_HITS);
    nk_json_int(o, NULL, "count", (int64_t)nhits);
    nk_json_int(o, NULL, "bytes_present", (int64_t)present);
    return NTKD_OK;
}
