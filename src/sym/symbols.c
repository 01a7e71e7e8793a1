/* symbols.c: per-target symbols. For each module of the module table (modules.c), on first
 * use: the image (from dump memory when its headers are there, else from the symbol store by
 * TimeDateStamp+SizeOfImage), its CodeView record, the PDB it names (store key GUID+age),
 * else an ISF table for that identity, else, for the kernel of a dump without its identity,
 * the offline kernel-table match (kmatch.c), else the image's exports. Then address -> name
 * (ln, describe), name -> address (x, expressions) and types (dt) per module, and the
 * expression hooks in t->ext[NK_EXT_SYMRESOLVE].
 *
 * The layer state is one nk_symlayer per target, stored in t->ext[NK_EXT_SYMRESOLVE] (which
 * frees it) and also in t->ext[NK_EXT_SYMBOLS] (no free function: the same object). */
#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <strings.h>
#include <sys/stat.h>

#include "mem/mem.h"
#include "sym/sym_int.h"
#include "sym/isf_int.h"

/* ---- the layer ------------------------------------------------------------------------ */

static bool hook_resolve(ntkd_target *t, const char *name, uint64_t *addr)
{
    return nk_sym_lookup(t, name, addr);
}
static bool hook_describe(ntkd_target *t, uint64_t addr, char *buf, size_t len)
{
    return nk_sym_describe(t, addr, buf, len);
}

void nk_smod_unload(nk_smod *m)
{
    if (m->types && m->types_owned) nk_typesrc_close(m->types);
    m->types = NULL;
    if (m->isf) nk_isf_close(m->isf);
    m->isf = NULL;
    if (m->pdb) nk_pdb_close(m->pdb);
    m->pdb = NULL;
    if (m->pe) nk_pe_close(m->pe);
    m->pe = NULL;
    if (m->pe_store) nk_pe_close(m->pe_store);
    m->pe_store = NULL;
    free(m->pe_file);
    free(m->pe_store_file);
    free(m->pdb_file);
    free(m->isf_file);
    free(m->note);
    m->pe_file = m->pe_store_file = m->pdb_file = m->isf_file = m->note = NULL;
    nk_symtab_free(&m->tab);
    m->tab_built = m->tried = m->types_tried = m->types_owned = m->isf_tried = false;
    m->pe_store_tried = m->pe_from_target = m->has_cv = m->pdb_private = m->noted = false;
    memset(&m->cv, 0, sizeof m->cv);
    m->src = NK_SRC_NONE;
}

static void layer_free(void *p)
{
    nk_symlayer *L = p;
    if (!L) return;
    nk_sym_modules_clear(L);
    nk_sympath_free(&L->sp);
    nk_sb_free(&L->notes);
    free(L);
}

nk_symlayer *nk_symlayer_get(ntkd_target *t)
{
    if (!t || !t->ctx) return NULL;
    if (t->ext[NK_EXT_SYMBOLS]) return t->ext[NK_EXT_SYMBOLS];
    if (t->ext[NK_EXT_SYMRESOLVE]) return NULL; /* someone else's resolver: leave it */
    nk_symlayer *L = calloc(1, sizeof *L);
    if (!L) return NULL;
    L->hooks.resolve = hook_resolve;
    L->hooks.describe = hook_describe;
    L->t = t;
    if (t->sympath && t->sympath[0] && nk_sympath_parse(t->sympath, &L->sp) != NTKD_OK)
        nk_sym_note(L, "symbol path \"%s\": %s", t->sympath, t->ctx->errmsg);
    t->ext[NK_EXT_SYMRESOLVE] = L;
    t->ext_free[NK_EXT_SYMRESOLVE] = layer_free;
    t->ext[NK_EXT_SYMBOLS] = L;
    t->ext_free[NK_EXT_SYMBOLS] = NULL;
    return L;
}

void nk_sym_attach(ntkd_target *t)
{
    /* a target with no module list and no loader list to walk has nothing to name: the
     * layer is then made only when a symbol command asks for it */
    if (!t || (!t->d.nmodules && !t->d.ps_loaded_module_list)) return;
    nk_symlayer_get(t);
}

char *nk_sym_take_notes(ntkd_target *t)
{
    nk_symlayer *L = t ? t->ext[NK_EXT_SYMBOLS] : NULL;
    if (!L || !L->notes.len) return NULL;
    char *s = L->notes.s;
    memset(&L->notes, 0, sizeof L->notes);
    return s;
}

void nk_sym_note(nk_symlayer *L, const char *fmt, ...)
{
    if (L->notes.len > (1u << 20)) return;
    char buf[2048];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(buf, sizeof buf, fmt, ap);
    va_end(ap);
    nk_sb_printf(&L->notes, "%s\n", buf);
}

nk_status nk_sym_read_cb(void *user, uint64_t va, void *buf, size_t len, size_t *got)
{
    return nk_read_virt((ntkd_target *)user, va, buf, len, got);
}

/* ---- finding files ---------------------------------------------------------------------- */

static bool file_exists(const char *p)
{
    struct stat sb;
    return stat(p, &sb) == 0 && S_ISREG(sb.st_mode);
}

static const char *base_of(const char *path)
{
    const char *b = path;
    for (const char *p = path; *p; p++)
        if (*p == '\\' || *p == '/') b = p + 1;
    return b;
}

/* The store lookup (nk_symstore_find: store trees, compressed files, file.ptr, plain
 * directories, servers), then, for an image target, the image's own directory. Every
 * location tried goes to `tried`. */
static char *find_file(nk_symlayer *L, const char *name, const char *key, nk_strbuf *tried)
{
    ntkd_target *t = L->t;
    char *path = NULL;
    if (L->sp.n) {
        char saved[sizeof t->ctx->errmsg];
        memcpy(saved, t->ctx->errmsg, sizeof saved);
        nk_status st = nk_symstore_find(t->ctx, &L->sp, name, key, &path, tried);
        memcpy(t->ctx->errmsg, saved, sizeof saved);
        if (st == NTKD_OK && path) return path;
        free(path);
        path = NULL;
    }
    if (t->d.kind == NK_KIND_IMAGE && t->file.path) {
        char p[4096];
        const char *slash = strrchr(t->file.path, '/');
        int dl = slash ? (int)(slash - t->file.path) : 1;
        const char *dir = slash ? t->file.path : ".";
        if (snprintf(p, sizeof p, "%.*s/%s", dl, dir, name) < (int)sizeof p) {
            bool ok = file_exists(p);
            if (tried) nk_sb_printf(tried, "%s: %s (the image's directory)\n", p, ok ? "found" : "not found");
            if (ok) return strdup(p);
        }
    }
    return NULL;
}


/* Opens the store's copy of the image, checked against the module's time stamp and size. */
static nk_pe *open_store_image(nk_symlayer *L, nk_smod *m, char **file, nk_strbuf *tried)
{
    if (!m->image_name || !m->timestamp || !m->size) return NULL;
    char key[32]; /* TimeDateStamp as %08X, SizeOfImage as %x (the store matches any case) */
    snprintf(key, sizeof key, "%08X%x", m->timestamp, (unsigned)m->size);
    char *p = find_file(L, m->image_name, key, tried);
    if (!p) return NULL;
    nk_pe *pe = NULL;
    if (nk_pe_open_file(L->t->ctx, p, &pe) != NTKD_OK) {
        if (tried) nk_sb_printf(tried, "%s: not a usable image: %s\n", p, L->t->ctx->errmsg);
        free(p);
        return NULL;
    }
    const nk_pe_headers *h = nk_pe_hdr(pe);
    if (h->timestamp != m->timestamp || h->size_of_image != m->size) {
        if (tried)
            nk_sb_printf(tried, "%s: mismatched image (TimeDateStamp %08X SizeOfImage %x, the module has %08X %llx)\n",
                         p, h->timestamp, h->size_of_image, m->timestamp, (unsigned long long)m->size);
        nk_pe_close(pe);
        free(p);
        return NULL;
    }
    *file = p;
    return pe;
}

nk_pe *nk_sym_store_image(nk_symlayer *L, nk_smod *m)
{
    if (m->pe && !nk_pe_is_mem_layout(m->pe)) return m->pe;
    if (m->pe_store || m->pe_store_tried) return m->pe_store;
    m->pe_store_tried = true;
    nk_strbuf tried = {0};
    m->pe_store = open_store_image(L, m, &m->pe_store_file, L->noisy ? &tried : NULL);
    if (L->noisy && tried.len) nk_sym_note(L, "%s: image lookup:\n%s", m->name, tried.s);
    nk_sb_free(&tried);
    return m->pe_store;
}

const nk_pe_version *nk_sym_version(nk_symlayer *L, nk_smod *m)
{
    const nk_pe_version *v = NULL;
    if (m->pe && nk_pe_version_get(m->pe, &v) == NTKD_OK) return v;
    nk_pe *s = nk_sym_store_image(L, m);
    if (s && s != m->pe && nk_pe_version_get(s, &v) == NTKD_OK) return v;
    return NULL;
}

static void open_image(nk_symlayer *L, nk_smod *m, nk_strbuf *tried)
{
    ntkd_target *t = L->t;
    if (t->d.kind == NK_KIND_IMAGE && m->dm == 0) {
        if (nk_pe_open_buf(t->ctx, m->image_name ? m->image_name : "image", t->file.data, (size_t)t->file.size,
                           &m->pe) == NTKD_OK) {
            m->pe_from_target = true;
            m->pe_file = strdup(t->file.path ? t->file.path : "image");
        }
        return;
    }
    uint8_t mz[2];
    if (m->base && nk_read_virt(t, m->base, mz, 2, NULL) == NTKD_OK && mz[0] == 'M' && mz[1] == 'Z') {
        char saved[sizeof t->ctx->errmsg];
        memcpy(saved, t->ctx->errmsg, sizeof saved);
        if (nk_pe_open_mem(t->ctx, m->image_name ? m->image_name : m->name, m->base, m->size, nk_sym_read_cb, t,
                           &m->pe) == NTKD_OK) {
            const nk_pe_headers *h = nk_pe_hdr(m->pe);
            if (!m->timestamp) m->timestamp = h->timestamp;
            if (!m->checksum) m->checksum = h->checksum;
            if (!m->size) m->size = h->size_of_image;
            if (tried) nk_sb_printf(tried, "image: headers at %llx in dump memory\n", (unsigned long long)m->base);
            return;
        }
        if (tried) nk_sb_printf(tried, "image in dump memory at %llx: %s\n", (unsigned long long)m->base, t->ctx->errmsg);
        memcpy(t->ctx->errmsg, saved, sizeof saved);
        m->pe = NULL;
    } else if (tried && m->base) {
        nk_sb_printf(tried, "image: headers at %llx are not in the dump\n", (unsigned long long)m->base);
    }
    m->pe = open_store_image(L, m, &m->pe_file, tried);
    m->pe_store_tried = true;
}

/* The CodeView record of a minidump module (RSDS or NB10) in the file. */
static bool cv_from_record(const ntkd_target *t, const nk_module *dm, nk_pe_codeview *cv)
{
    if (!dm->cv_size || !nk_in_bounds(t->file.size, dm->cv_off, dm->cv_size)) return false;
    const uint8_t *p = t->file.data + dm->cv_off;
    uint32_t n = dm->cv_size;
    memset(cv, 0, sizeof *cv);
    if (n >= 24 && !memcmp(p, "RSDS", 4)) {
        cv->kind = NK_PE_CV_RSDS;
        cv->guid.data1 = nk_le32(p + 4);
        cv->guid.data2 = nk_le16(p + 8);
        cv->guid.data3 = nk_le16(p + 10);
        memcpy(cv->guid.data4, p + 12, 8);
        cv->age = nk_le32(p + 20);
        nk_copy_cstr(cv->pdb_path, sizeof cv->pdb_path, p + 24, n - 24);
        return true;
    }
    if (n >= 16 && !memcmp(p, "NB10", 4)) {
        cv->kind = NK_PE_CV_NB10;
        cv->signature = nk_le32(p + 8);
        cv->age = nk_le32(p + 12);
        nk_copy_cstr(cv->pdb_path, sizeof cv->pdb_path, p + 16, n - 16);
        return true;
    }
    return false;
}

static bool get_cv(nk_symlayer *L, nk_smod *m)
{
    const nk_pe_debug *dbg = NULL;
    if (m->pe && nk_pe_debug_get(m->pe, &dbg) == NTKD_OK && dbg->cv.kind != NK_PE_CV_NONE) {
        m->cv = dbg->cv;
        return true;
    }
    if (m->dm >= 0 && (size_t)m->dm < L->t->d.nmodules && cv_from_record(L->t, &L->t->d.modules[m->dm], &m->cv))
        return true;
    if (m->pe && nk_pe_is_mem_layout(m->pe)) { /* the debug directory may be in a page the dump lacks */
        nk_pe *s = nk_sym_store_image(L, m);
        if (s && nk_pe_debug_get(s, &dbg) == NTKD_OK && dbg->cv.kind != NK_PE_CV_NONE) {
            m->cv = dbg->cv;
            return true;
        }
    }
    return false;
}

static const char *cv_pdb_name(const nk_pe_codeview *cv) { return base_of(cv->pdb_path); }

/* The PDB's identity equals the CodeView record's. */
static bool pdb_matches(nk_pdb *p, const nk_pe_codeview *cv, char *why, size_t whylen)
{
    const nk_pdb_info *pi = nk_pdb_get_info(p);
    if (cv->kind == NK_PE_CV_RSDS) {
        char key[48], g[33];
        nk_pe_pdb_key(cv, key);
        nk_pdb_guid_hex(p, g);
        if (strncasecmp(key, g, 32)) {
            snprintf(why, whylen, "GUID %s, the image wants %.32s", g, key);
            return false;
        }
    } else if (cv->kind == NK_PE_CV_NB10 && pi->signature != cv->signature) {
        snprintf(why, whylen, "signature %08X, the image wants %08X", pi->signature, cv->signature);
        return false;
    }
    if (pi->age != cv->age && !(pi->dbi_present && pi->dbi_age == cv->age)) {
        snprintf(why, whylen, "age %u, the image wants %u", pi->age, cv->age);
        return false;
    }
    return true;
}

static bool find_pdb(nk_symlayer *L, nk_smod *m, nk_strbuf *tried)
{
    ntkd_target *t = L->t;
    const char *name = cv_pdb_name(&m->cv);
    if (!name[0]) return false;
    char key[48];
    nk_pe_pdb_key(&m->cv, key);
    /* a store tree, then plain directories: each candidate is checked */
    char *p = find_file(L, name, key, tried);
    if (!p) return false;
    nk_pdb *pdb = NULL;
    if (nk_pdb_open(t->ctx, p, &pdb) != NTKD_OK) {
        if (tried) nk_sb_printf(tried, "%s: unreadable: %s\n", p, t->ctx->errmsg);
        free(p);
        return false;
    }
    char why[160];
    if (!pdb_matches(pdb, &m->cv, why, sizeof why)) {
        if (!L->ignore_mismatch) {
            if (tried) nk_sb_printf(tried, "%s: mismatched PDB (%s)\n", p, why);
            nk_pdb_close(pdb);
            free(p);
            return false;
        }
        if (tried) nk_sb_printf(tried, "%s: mismatched PDB (%s), loaded anyway (/i)\n", p, why);
    }
    m->pdb = pdb;
    m->pdb_file = p;
    /* "private": not stripped by pdbcopy (DBI flag bit 1), with procedures or types */
    size_t nmod = 0;
    nk_pdb_tpi_info ti;
    const nk_pdb_info *pi = nk_pdb_get_info(pdb);
    bool stripped = pi->dbi_present && (pi->dbi_flags & 2);
    m->pdb_private = !stripped && ((nk_pdb_func_count(pdb, &nmod) == NTKD_OK && nmod > 0) ||
                                   (nk_pdb_tpi_info_get(pdb, &ti) == NTKD_OK && ti.present &&
                                    ti.ti_end > ti.ti_begin + 16));
    return true;
}

/* An ISF table for a known identity: <dir>/windows/<pdb>/<GUID>-<age>.json[.xz] or
 * <dir>/<pdb>/<GUID>-<age>.json[.xz]. */
static bool find_isf(nk_symlayer *L, nk_smod *m, nk_strbuf *tried)
{
    if (m->cv.kind != NK_PE_CV_RSDS) return false;
    char key[48];
    nk_pe_pdb_key(&m->cv, key);
    key[32] = 0;
    const char *name = cv_pdb_name(&m->cv);
    if (!name[0] || strstr(name, "..")) return false; /* a hostile record must not leave the directories */
    const char *dirs[64];
    size_t nd = nk_sym_path_dirs(L, dirs, 64);
    static const char *const fmts[] = {"%s/windows/%s/%s-%u.json.xz", "%s/windows/%s/%s-%u.json",
                                       "%s/%s/%s-%u.json.xz", "%s/%s/%s-%u.json"};
    for (size_t i = 0; i < nd; i++)
        for (size_t f = 0; f < 4; f++) {
            char p[4096];
            if (snprintf(p, sizeof p, fmts[f], dirs[i], name, key, m->cv.age) >= (int)sizeof p) continue;
            bool ok = file_exists(p);
            if (tried) nk_sb_printf(tried, "%s: %s\n", p, ok ? "found" : "not found");
            if (ok) {
                m->isf_file = strdup(p);
                return m->isf_file != NULL;
            }
        }
    return false;
}

static bool kernel_target(const ntkd_target *t)
{
    return t->d.kind != NK_KIND_USER_MINI && t->d.kind != NK_KIND_IMAGE;
}

void nk_sym_load(nk_symlayer *L, nk_smod *m, bool force, nk_strbuf *log)
{
    if (m->tried && !force) return;
    if (m->unloaded) return;
    nk_smod_unload(m);
    m->tried = true;
    ntkd_target *t = L->t;
    nk_strbuf tried = {0};
    nk_strbuf klog = {0};
    open_image(L, m, &tried);
    m->has_cv = get_cv(L, m);
    char key[48] = "";
    if (m->has_cv) nk_pe_pdb_key(&m->cv, key);
    if (m->has_cv && find_pdb(L, m, &tried)) {
        m->src = NK_SRC_PDB;
    } else if (m->has_cv && find_isf(L, m, &tried)) {
        m->src = NK_SRC_ISF;
    } else if (m->kernel_image && !m->has_cv && kernel_target(t)) {
        nk_kmatch(L, m, &klog); /* sets src, files and the note on success */
    }
    if (m->src == NK_SRC_NONE && m->pe) {
        const nk_pe_exports *ex = NULL;
        if (nk_pe_exports_get(m->pe, &ex) == NTKD_OK && ex->count) m->src = NK_SRC_EXPORT;
    }
    /* the one-line note */
    char line[1536];
    const char *img = m->pe_from_target ? "the target file"
                      : m->pe && nk_pe_is_mem_layout(m->pe) ? "dump memory"
                      : m->pe_file ? m->pe_file : NULL;
    switch (m->src) {
    case NK_SRC_PDB:
        if (!m->note)
            snprintf(line, sizeof line, "%s: %s symbols from %s%s%s", m->name, m->pdb_private ? "private pdb" : "pdb",
                     m->pdb_file, img ? "; image from " : "", img ? img : "");
        else
            snprintf(line, sizeof line, "%s", m->note);
        break;
    case NK_SRC_ISF:
        if (!m->note)
            snprintf(line, sizeof line, "%s: symbols from ISF %s (PDB identity %s %s)", m->name, m->isf_file,
                     cv_pdb_name(&m->cv), key);
        else
            snprintf(line, sizeof line, "%s", m->note);
        break;
    case NK_SRC_EXPORT:
        snprintf(line, sizeof line, "%s: export symbols from the image (%s)%s%s%s", m->name, img ? img : "?",
                 m->has_cv ? "; PDB " : "", m->has_cv ? cv_pdb_name(&m->cv) : "",
                 m->has_cv ? " not found on the symbol path" : "");
        break;
    default:
        if (m->has_cv)
            snprintf(line, sizeof line, "%s: no symbols: %s (key %s) not found on the symbol path%s%s", m->name,
                     cv_pdb_name(&m->cv), key, img ? "; image from " : "", img ? img : "");
        else if (m->kernel_image && kernel_target(t))
            snprintf(line, sizeof line, "%s: no symbols: no PDB identity in the dump, and no kernel table on the "
                     "symbol path matches the dump header", m->name);
        else if (!m->pe)
            snprintf(line, sizeof line, "%s: no symbols: the image (%s, key %08X%x) is neither in the dump nor on "
                     "the symbol path", m->name, m->image_name ? m->image_name : "?", m->timestamp, (unsigned)m->size);
        else
            snprintf(line, sizeof line, "%s: no symbols: the image has no CodeView record and no exports", m->name);
        break;
    }
    if (!L->sp.n && m->src != NK_SRC_PDB && m->src != NK_SRC_ISF) {
        size_t l = strlen(line);
        snprintf(line + l, sizeof line - l, " (the symbol path is empty: use -y or .sympath)");
    }
    free(m->note);
    m->note = strdup(line);
    bool failed = m->src == NK_SRC_NONE || m->src == NK_SRC_EXPORT;
    if (log) {
        if (klog.len) nk_sb_printf(log, "%s", klog.s);
        if (!(klog.len && m->src != NK_SRC_NONE)) nk_sb_printf(log, "%s\n", line);
        if ((failed || L->noisy) && tried.len) {
            nk_sb_printf(log, "  locations tried:\n");
            const char *s = tried.s;
            while (*s) {
                const char *e = strchr(s, '\n');
                size_t n = e ? (size_t)(e - s) : strlen(s);
                nk_sb_printf(log, "    %.*s\n", (int)n, s);
                s += n + (e ? 1 : 0);
            }
        }
    }
    nk_sb_free(&tried);
    nk_sb_free(&klog);
}

void nk_sym_ensure(nk_symlayer *L, nk_smod *m)
{
    if (m->tried || m->unloaded) return;
    nk_strbuf lg = {0};
    nk_sym_load(L, m, false, &lg);
    if (L->noisy && lg.len) nk_sb_printf(&L->notes, "%s", lg.s);
    else if (m->kernel_image && m->note && !m->noted) nk_sym_note(L, "%s", m->note);
    m->noted = true;
    nk_sb_free(&lg);
}

/* ---- the symbol index ------------------------------------------------------------------ */

static bool is_x86(nk_symlayer *L, nk_smod *m)
{
    if (m->pdb) {
        const nk_pdb_info *pi = nk_pdb_get_info(m->pdb);
        if (pi->machine) return pi->machine == NK_PE_MACHINE_I386;
    }
    if (m->pe) return nk_pe_hdr(m->pe)->machine == NK_PE_MACHINE_I386;
    return L->t->d.machine == NK_MACHINE_I386;
}

static void tab_from_pdb(nk_symlayer *L, nk_smod *m)
{
    nk_pdb *p = m->pdb;
    nk_symtab *st = &m->tab;
    bool x86 = is_x86(L, m);
    size_t n = 0;
    if (nk_pdb_func_count(p, &n) == NTKD_OK)
        for (size_t i = 0; i < n; i++) {
            nk_pdb_func f;
            if (nk_pdb_func_get(p, i, &f) != NTKD_OK || !f.name) continue;
            bool id = f.kind == NK_S_GPROC32_ID || f.kind == NK_S_LPROC32_ID || f.kind == NK_S_LPROC32_DPC_ID;
            if (nk_symtab_add(st, f.rva, f.size, f.name, f.kind == NK_S_THUNK32 ? 0 : f.type_ti, NK_SS_FUNC, false) && id)
                st->v[st->n - 1].flags |= NK_SSF_ID;
        }
    if (nk_pdb_global_count(p, &n) == NTKD_OK)
        for (size_t i = 0; i < n; i++) {
            nk_pdb_global g;
            if (nk_pdb_global_get(p, i, &g) != NTKD_OK || !g.has_rva || !g.name) continue;
            if (g.kind != NK_S_GDATA32 && g.kind != NK_S_LDATA32) continue;
            nk_symtab_add(st, g.rva, 0, g.name, g.type_ti, NK_SS_DATA, false);
        }
    if (nk_pdb_public_addr_count(p, &n) == NTKD_OK)
        for (size_t i = 0; i < n; i++) {
            nk_pdb_public pub;
            if (nk_pdb_public_addr_get(p, i, &pub) != NTKD_OK || !pub.has_rva || !pub.name) continue;
            char buf[1024];
            nk_pdb_undecorate(pub.name, x86, buf, sizeof buf);
            bool same = !strcmp(buf, pub.name);
            nk_symtab_add(st, pub.rva, 0, same ? pub.name : buf, 0,
                          pub.flags & (NK_PUB_CODE | NK_PUB_FUNCTION) ? NK_SS_PUBCODE : NK_SS_PUBDATA, !same);
        }
}

static void tab_from_exports(nk_smod *m)
{
    const nk_pe_exports *ex = NULL;
    if (!m->pe || nk_pe_exports_get(m->pe, &ex) != NTKD_OK) return;
    for (size_t i = 0; i < ex->count; i++) {
        const nk_pe_export *e = &ex->v[i];
        if (e->forwarder || !e->rva) continue;
        if (e->name) nk_symtab_add(&m->tab, e->rva, 0, e->name, 0, NK_SS_EXPORT, true);
        else {
            char b[32];
            snprintf(b, sizeof b, "Ordinal%u", e->ordinal);
            nk_symtab_add(&m->tab, e->rva, 0, b, 0, NK_SS_EXPORT, true);
        }
    }
}

/* The module's ISF table opened through the table cache (also its types, as nk_sym_types
 * would); its symbols, the ones the streaming scan (nk_isf_load_symtab) takes, into m->tab.
 * The names are borrowed from the table, which lives as long as the module. */
static bool tab_from_isf(nk_symlayer *L, nk_smod *m)
{
    ntkd_target *t = L->t;
    if (!m->isf && !m->types && !m->types_tried) {
        /* a table that does not parse is left to the scan here, and to nk_sym_types to report */
        char saved[sizeof t->ctx->errmsg];
        memcpy(saved, t->ctx->errmsg, sizeof saved);
        if (nk_isf_open_cached(t->ctx, m->isf_file, t->table_cache, &m->isf) == NTKD_OK) {
            m->types_tried = true;
            m->types = nk_isf_types(m->isf);
        } else {
            m->isf = NULL;
            memcpy(t->ctx->errmsg, saved, sizeof saved);
        }
    }
    if (!m->isf) return false;
    const char *name;
    uint64_t rva;
    for (size_t i = 0; nk_isf_symbol_at(m->isf, i, &name, &rva); i++)
        if (rva <= UINT32_MAX && strlen(name) < 1023) nk_symtab_add(&m->tab, (uint32_t)rva, 0, name, 0, NK_SS_ISF, false);
    if (nk_symtab_finish(&m->tab) != NTKD_OK) nk_symtab_free(&m->tab);
    return true;
}

nk_symtab *nk_sym_tab(nk_symlayer *L, nk_smod *m)
{
    nk_sym_ensure(L, m);
    if (m->tab_built) return &m->tab;
    m->tab_built = true;
    switch (m->src) {
    case NK_SRC_PDB: tab_from_pdb(L, m); break;
    case NK_SRC_ISF: {
        /* with a table cache the parsed table is cheaper than scanning the JSON again */
        if (L->t->table_cache && tab_from_isf(L, m)) return &m->tab;
        nk_isf_meta meta;
        if (nk_isf_load_symtab(L->t->ctx, m->isf_file, &m->tab, &meta) != NTKD_OK)
            nk_sym_note(L, "%s: %s", m->name, L->t->ctx->errmsg);
        return &m->tab;
    }
    case NK_SRC_EXPORT: tab_from_exports(m); break;
    default: break;
    }
    if (nk_symtab_finish(&m->tab) != NTKD_OK) nk_symtab_free(&m->tab);
    return &m->tab;
}

/* ---- addresses and names --------------------------------------------------------------- */

/* WinDbg shows the compiler's string-literal symbols (??_C@...) as `string'. */
static const char *shown_name(const char *name)
{
    return name && !strncmp(name, "??_C@", 5) ? "`string'" : name;
}

static void put_sym(char *buf, size_t len, const char *mod, const char *name, uint64_t disp)
{
    name = shown_name(name);
    if (!name) {
        if (disp) snprintf(buf, len, "%s+0x%llx", mod, (unsigned long long)disp);
        else snprintf(buf, len, "%s", mod);
    } else if (disp)
        snprintf(buf, len, "%s!%s+0x%llx", mod, name, (unsigned long long)disp);
    else
        snprintf(buf, len, "%s!%s", mod, name);
}

bool nk_sym_same_section(nk_smod *m, uint32_t sym_rva, uint32_t rva)
{
    /* without function extents, a symbol never covers an address of another section */
    if (!m->pe) return true;
    const nk_pe_section *a = nk_pe_section_of(m->pe, sym_rva), *b = nk_pe_section_of(m->pe, rva);
    return a == b;
}

const char *nk_sym_shown_name(const char *name) { return shown_name(name); }

bool nk_sym_describe(ntkd_target *t, uint64_t addr, char *buf, size_t len)
{
    if (len) buf[0] = 0;
    nk_symlayer *L = nk_symlayer_get(t);
    if (!L || !len) return false;
    nk_smod *m = nk_sym_module_at(L, addr);
    if (!m) return false;
    nk_sym_ensure(L, m);
    uint64_t rva = addr - m->base;
    if (rva <= UINT32_MAX) {
        if (m->src == NK_SRC_PDB) {
            nk_pdb_addr_sym as;
            if (nk_pdb_addr_lookup(m->pdb, (uint32_t)rva, &as) == NTKD_OK && as.name) {
                char nb[1024];
                const char *nm = as.name;
                if (!as.is_function) nm = nk_pdb_undecorate(as.name, is_x86(L, m), nb, sizeof nb);
                put_sym(buf, len, m->name, nm, as.disp);
                return true;
            }
        } else if (m->src != NK_SRC_NONE) {
            nk_symtab *st = nk_sym_tab(L, m);
            ptrdiff_t i = nk_symtab_at_or_below(st, (uint32_t)rva);
            if (i >= 0 && !nk_sym_same_section(m, st->v[i].rva, (uint32_t)rva)) i = -1;
            if (i >= 0) {
                put_sym(buf, len, m->name, st->v[i].name, rva - st->v[i].rva);
                return true;
            }
        }
    }
    put_sym(buf, len, m->name, NULL, rva);
    return true;
}

ptrdiff_t nk_sym_module_of(ntkd_target *t, uint64_t addr)
{
    nk_symlayer *L = nk_symlayer_get(t);
    if (!L) return -1;
    nk_smod *m = nk_sym_module_at(L, addr);
    return m ? m - L->mods : -1;
}

static bool lookup_in(nk_symlayer *L, nk_smod *m, const char *sym, uint64_t *addr)
{
    nk_symtab *st = nk_sym_tab(L, m);
    ptrdiff_t i = nk_symtab_find(st, sym);
    if (i >= 0) {
        *addr = m->base + st->v[st->by_name[i]].rva;
        return true;
    }
    if (m->pdb) { /* a decorated name typed as stored */
        nk_pdb_public pub;
        if (nk_pdb_public_by_name(m->pdb, sym, &pub) == NTKD_OK && pub.has_rva) {
            *addr = m->base + pub.rva;
            return true;
        }
    }
    return false;
}

bool nk_sym_lookup(ntkd_target *t, const char *name, uint64_t *addr)
{
    nk_symlayer *L = nk_symlayer_get(t);
    if (!L || !name || !name[0]) return false;
    nk_sym_modules_build(L);
    const char *bang = strchr(name, '!');
    if (bang) {
        char mod[256];
        size_t n = (size_t)(bang - name);
        if (n >= sizeof mod) return false;
        memcpy(mod, name, n);
        mod[n] = 0;
        nk_smod *m = nk_sym_find_module(L, mod);
        if (!m) return false;
        if (!bang[1]) {
            *addr = m->base;
            return true;
        }
        return lookup_in(L, m, bang + 1, addr);
    }
    nk_smod *m = nk_sym_find_module(L, name);
    if (m) {
        *addr = m->base;
        return true;
    }
    /* a bare symbol: nt first, then every module in order */
    nk_smod *nt = nk_sym_find_module(L, "nt");
    if (nt && lookup_in(L, nt, name, addr)) return true;
    for (size_t i = 0; i < L->nmods; i++) {
        nk_smod *x = &L->mods[i];
        if (x == nt || x->unloaded) continue;
        if (lookup_in(L, x, name, addr)) return true;
    }
    return false;
}

nk_typesrc *nk_sym_types(ntkd_target *t, const char *module)
{
    nk_symlayer *L = nk_symlayer_get(t);
    if (!L) return NULL;
    nk_smod *m = nk_sym_find_module(L, module && module[0] ? module : "nt");
    if (!m) return NULL;
    nk_sym_ensure(L, m);
    if (m->types || m->types_tried) return m->types;
    m->types_tried = true;
    if (m->pdb) {
        if (nk_typesrc_from_pdb(t->ctx, m->pdb, &m->types) == NTKD_OK) m->types_owned = true;
        else {
            m->types = NULL;
            nk_sym_note(L, "%s: types: %s", m->name, t->ctx->errmsg);
        }
    } else if (m->isf_file) {
        if (nk_isf_open_cached(t->ctx, m->isf_file, t->table_cache, &m->isf) == NTKD_OK) m->types = nk_isf_types(m->isf);
        else {
            m->isf = NULL;
            nk_sym_note(L, "%s: types: %s", m->name, t->ctx->errmsg);
        }
    }
    return m->types;
}

/* ---- the path and .reload ---------------------------------------------------------------- */

nk_status nk_sym_set_path(ntkd_target *t, const char *path, bool append)
{
    nk_symlayer *L = nk_symlayer_get(t);
    if (!L) return nk_fail(t->ctx, NTKD_E_NOMEM, "out of memory");
    const char *old = t->sympath ? t->sympath : "";
    size_t n = strlen(old) + strlen(path ? path : "") + 2;
    char *s = malloc(n);
    if (!s) return nk_fail(t->ctx, NTKD_E_NOMEM, "out of memory");
    if (append && old[0] && path && path[0]) snprintf(s, n, "%s;%s", old, path);
    else if (append && old[0]) snprintf(s, n, "%s", old);
    else snprintf(s, n, "%s", path ? path : "");
    nk_sympath sp;
    memset(&sp, 0, sizeof sp);
    if (s[0] && nk_sympath_parse(s, &sp) != NTKD_OK) {
        free(s);
        return NTKD_E_ARG;
    }
    nk_sympath_free(&L->sp);
    L->sp = sp;
    free(t->sympath);
    t->sympath = s;
    /* modules that found nothing try again on next use */
    for (size_t i = 0; i < L->nmods; i++)
        if (L->mods[i].tried && (L->mods[i].src == NK_SRC_NONE || L->mods[i].src == NK_SRC_EXPORT))
            nk_smod_unload(&L->mods[i]);
    return NTKD_OK;
}

const char *nk_sym_get_path(ntkd_target *t) { return t->sympath ? t->sympath : ""; }

nk_status nk_sym_reload(ntkd_target *t, const char *module, bool force, nk_strbuf *log)
{
    nk_symlayer *L = nk_symlayer_get(t);
    if (!L) return nk_fail(t->ctx, NTKD_E_NOMEM, "out of memory");
    if (!module || !module[0]) {
        nk_sym_modules_clear(L);
        nk_sym_modules_build(L);
        if (log && L->modlist_note) nk_sb_printf(log, "%s\n", L->modlist_note);
        for (size_t i = 0; i < L->nmods; i++) {
            nk_smod *m = &L->mods[i];
            if (m->unloaded) continue;
            if (force || (m->kernel_image && kernel_target(t))) {
                nk_sym_load(L, m, true, log);
                m->noted = true;
            }
        }
        return NTKD_OK;
    }
    nk_smod *m = nk_sym_find_module(L, module);
    if (!m) return nk_fail(t->ctx, NTKD_E_NOTFOUND, "\"%s\" is not a loaded module", module);
    nk_sym_load(L, m, true, log);
    m->noted = true;
    return NTKD_OK;
}

/* ---- what lm, x and ln print --------------------------------------------------------------- */

const char *nk_sym_status(const nk_smod *m, const char **file)
{
    *file = NULL;
    if (!m->tried) return "(deferred)";
    switch (m->src) {
    case NK_SRC_PDB:
        *file = m->pdb_file;
        return m->pdb_private ? "(private pdb symbols)" : "(pdb symbols)";
    case NK_SRC_ISF: *file = m->isf_file; return "(isf symbols)";
    case NK_SRC_EXPORT: *file = m->image_name; return "(export symbols)";
    default: return "(no symbols)";
    }
}

/* buf = a + b, truncated to fit. */
static void cat2(char *buf, size_t len, const char *a, const char *b)
{
    if (!len) return;
    size_t n = 0;
    for (const char *s = a; *s && n + 1 < len; s++) buf[n++] = *s;
    for (const char *s = b; *s && n + 1 < len; s++) buf[n++] = *s;
    buf[n] = 0;
}

/* C spelling of a PDB type as WinDbg prints parameters: "unsigned long", "void *",
 * "struct _DEVICE_OBJECT *", "unsigned int64". */
static void c_type(nk_pdb *p, uint32_t ti, char *buf, size_t len, int depth)
{
    if (len) buf[0] = 0;
    if (depth > 16) {
        snprintf(buf, len, "?");
        return;
    }
    if (ti < 0x1000) {
        unsigned kind = ti & 0xff, mode = (ti >> 8) & 0xf;
        const char *b;
        switch (kind) {
        case 0x00: b = "<notype>"; break;
        case 0x03: b = "void"; break;
        case 0x08: b = "HRESULT"; break;
        case 0x10: case 0x68: b = "char"; break;
        case 0x20: case 0x69: b = "unsigned char"; break;
        case 0x70: b = "char"; break;
        case 0x71: b = "wchar_t"; break;
        case 0x7a: b = "char16_t"; break;
        case 0x7b: b = "char32_t"; break;
        case 0x11: case 0x72: b = "short"; break;
        case 0x21: case 0x73: b = "unsigned short"; break;
        case 0x12: b = "long"; break;
        case 0x22: b = "unsigned long"; break;
        case 0x74: b = "int"; break;
        case 0x75: b = "unsigned int"; break;
        case 0x13: case 0x76: b = "int64"; break;
        case 0x23: case 0x77: b = "unsigned int64"; break;
        case 0x30: b = "bool"; break;
        case 0x40: b = "float"; break;
        case 0x41: b = "double"; break;
        default: b = "<unknown>"; break;
        }
        snprintf(buf, len, "%s%s", b, mode ? " *" : "");
        return;
    }
    nk_pdb_typeinfo ti_;
    if (nk_pdb_type_get(p, ti, &ti_) != NTKD_OK) {
        snprintf(buf, len, "<type 0x%x>", ti);
        return;
    }
    char inner[512];
    switch (ti_.kind) {
    case NK_PT_POINTER:
        c_type(p, ti_.elem_ti, inner, sizeof inner, depth + 1);
    {
        size_t il = strlen(inner);
        bool glue = il && (inner[il - 1] == '*' || inner[il - 1] == '&');
        const char *suf = ti_.ptr_mode == NK_PTR_MODE_LVREF ? "&" : ti_.ptr_mode == NK_PTR_MODE_RVREF ? "&&" : "*";
        cat2(buf, len, inner, glue ? suf : (suf[0] == '*' ? " *" : suf[1] ? " &&" : " &"));
    }
        return;
    case NK_PT_MODIFIER:
        c_type(p, ti_.elem_ti, buf, len, depth + 1);
        return;
    case NK_PT_ARRAY:
        c_type(p, ti_.elem_ti, inner, sizeof inner, depth + 1);
        cat2(buf, len, inner, " []");
        return;
    case NK_PT_STRUCT: snprintf(buf, len, "struct %s", ti_.name); return;
    case NK_PT_CLASS: snprintf(buf, len, "class %s", ti_.name); return;
    case NK_PT_INTERFACE: snprintf(buf, len, "struct %s", ti_.name); return;
    case NK_PT_UNION: snprintf(buf, len, "union %s", ti_.name); return;
    case NK_PT_ENUM: snprintf(buf, len, "enum %s", ti_.name); return;
    case NK_PT_PROCEDURE:
    case NK_PT_MFUNCTION: snprintf(buf, len, "<function>"); return;
    case NK_PT_BITFIELD: c_type(p, ti_.elem_ti, buf, len, depth + 1); return;
    default: snprintf(buf, len, "<type 0x%x>", ti); return;
    }
}

/* The procedure type of a function symbol (through LF_FUNC_ID / LF_MFUNC_ID). */
static uint32_t func_type(nk_pdb *p, const nk_ssym *s)
{
    if (!(s->flags & NK_SSF_ID)) return s->type_ti;
    uint16_t leaf;
    const uint8_t *d;
    uint32_t len;
    if (nk_pdb_id_record(p, s->type_ti, &leaf, &d, &len) != NTKD_OK || len < 8) return 0;
    if (leaf == 0x1601 || leaf == 0x1602) return nk_le32(d + 4); /* LF_FUNC_ID, LF_MFUNC_ID */
    return 0;
}

void nk_sym_signature(nk_symlayer *L, nk_smod *m, const nk_ssym *s, char *buf, size_t len)
{
    if (len) buf[0] = 0;
    switch (s->kind) {
    case NK_SS_FUNC: {
        uint32_t ft = m->pdb ? func_type(m->pdb, s) : 0;
        nk_pdb_typeinfo fi;
        if (!ft || nk_pdb_type_get(m->pdb, ft, &fi) != NTKD_OK ||
            (fi.kind != NK_PT_PROCEDURE && fi.kind != NK_PT_MFUNCTION)) {
            snprintf(buf, len, "(<no parameter info>)");
            return;
        }
        uint32_t args[64], n = 0;
        if (nk_pdb_arglist(m->pdb, fi.field_ti, args, 64, &n) != NTKD_OK) {
            snprintf(buf, len, "(<no parameter info>)");
            return;
        }
        if (n == 0) {
            snprintf(buf, len, "(void)");
            return;
        }
        size_t o = 0;
        o += (size_t)snprintf(buf + o, len - o, "(");
        for (uint32_t i = 0; i < n && i < 64 && o < len; i++) {
            char tb[512];
            if (args[i] == 0) snprintf(tb, sizeof tb, "...");
            else c_type(m->pdb, args[i], tb, sizeof tb, 0);
            o += (size_t)snprintf(buf + o, len - o, "%s%s", i ? ", " : "", tb);
        }
        if (o < len) snprintf(buf + o, len - o, ")");
        return;
    }
    case NK_SS_DATA: {
        if (!m->pdb || !s->type_ti) {
            snprintf(buf, len, "= <no type information>");
            return;
        }
        uint32_t ti = nk_pdb_type_resolve(m->pdb, s->type_ti);
        nk_pdb_typeinfo tinfo;
        bool ok = nk_pdb_type_get(m->pdb, ti, &tinfo) == NTKD_OK;
        while (ok && tinfo.kind == NK_PT_MODIFIER) {
            ti = nk_pdb_type_resolve(m->pdb, tinfo.elem_ti);
            ok = nk_pdb_type_get(m->pdb, ti, &tinfo) == NTKD_OK;
        }
        uint64_t va = m->base + s->rva;
        bool is_ptr = ok && (tinfo.kind == NK_PT_POINTER || (tinfo.kind == NK_PT_BASE && tinfo.simple_mode));
        if (ok && (is_ptr || (tinfo.kind == NK_PT_BASE && tinfo.size && tinfo.size <= 8) || tinfo.kind == NK_PT_ENUM)) {
            uint64_t size = is_ptr ? (L->t->d.is64 ? 8 : 4) : tinfo.size ? tinfo.size : 4;
            uint8_t raw[8] = {0};
            if (size > 8 || nk_read_virt(L->t, va, raw, (size_t)size, NULL) != NTKD_OK) {
                snprintf(buf, len, "= <Memory access error>");
                return;
            }
            uint64_t v = 0;
            for (unsigned i = 0; i < size; i++) v |= (uint64_t)raw[i] << (8 * i);
            if (is_ptr) {
                char ab[24];
                snprintf(buf, len, "= 0x%s", nk_fmt_ptr(ab, v, L->t->d.is64));
            } else if (tinfo.kind == NK_PT_BASE && tinfo.simple_kind != 0x40 && tinfo.simple_kind != 0x41) {
                bool sgn = tinfo.simple_kind == 0x10 || tinfo.simple_kind == 0x11 || tinfo.simple_kind == 0x12 ||
                           tinfo.simple_kind == 0x13 || (tinfo.simple_kind >= 0x68 && tinfo.simple_kind <= 0x76 &&
                                                          (tinfo.simple_kind & 1) == 0 && tinfo.simple_kind != 0x70);
                if (sgn && size < 8 && (v >> (size * 8 - 1)) & 1) v |= ~0ull << (size * 8);
                if (sgn) snprintf(buf, len, "= 0n%lld", (long long)v);
                else snprintf(buf, len, "= 0x%llx", (unsigned long long)v);
            } else {
                snprintf(buf, len, "= 0x%llx", (unsigned long long)v);
            }
            return;
        }
        char tb[512];
        c_type(m->pdb, ti, tb, sizeof tb, 0);
        snprintf(buf, len, "= %s", tb);
        return;
    }
    case NK_SS_PUBDATA: snprintf(buf, len, "= <no type information>"); return;
    default: {
        /* ISF tables and exports do not say code or data: the image's section does */
        const nk_pe_section *sec = m->pe ? nk_pe_section_of(m->pe, s->rva) : NULL;
        if (sec && !(sec->characteristics & 0x20000000u)) /* IMAGE_SCN_MEM_EXECUTE */
            snprintf(buf, len, "= <no type information>");
        else
            snprintf(buf, len, "(<no parameter info>)");
        return;
    }
    }
}

/* ---- for the unwinders ------------------------------------------------------------------ */

nk_pe *nk_sym_image_at(ntkd_target *t, uint64_t addr, uint64_t *base)
{
    nk_symlayer *L = nk_symlayer_get(t);
    if (!L) return NULL;
    nk_smod *m = nk_sym_module_at(L, addr);
    if (!m) return NULL;
    nk_sym_ensure(L, m);
    if (base) *base = m->base;
    /* the complete file-layout image first (a memory image often lacks .pdata pages) */
    nk_pe *s = nk_sym_store_image(L, m);
    return s ? s : m->pe;
}

struct nk_pdb *nk_sym_pdb_at(ntkd_target *t, uint64_t addr, uint64_t *base)
{
    nk_symlayer *L = nk_symlayer_get(t);
    if (!L) return NULL;
    nk_smod *m = nk_sym_module_at(L, addr);
    if (!m) return NULL;
    nk_sym_ensure(L, m);
    if (base) *base = m->base;
    return m->pdb;
}
