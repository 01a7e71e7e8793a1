/* test_symbols.c: the per-target symbol layer (module table, symbol loading, the offline
 * kernel-table match, describe/lookup, the expression hooks) and its commands.
 *
 * Facts come from outside ntkd: the corpus README (triage-x64-19041.dmp has 151 drivers; its
 * header context is at amdppm!WriteIoMemRawEx+0x70, fffff8048b58334c, the bugcheck's second
 * parameter; its PRCB context is at nt!KeBugCheckEx; the matching kernel table is
 * 5278AFF86C341677D7D7835C85B7B844-1), issue 3 (x nt!KeBugCheckEx is fffff804`7bdf5a80), the
 * PE headers of the store's amdppm.sys and Wdf01000.sys read here byte by byte, the version
 * strings found as UTF-16 in amdppm.sys, Breakpad's .sym text of dump_syms_regtest64
 * (FUNC/PUBLIC lines: RVA, size, name), rizin's statement of calc-x64-win7.dmp's ntdll
 * (0x77720000, 0x1aa000 bytes), and for the PsLoadedModuleList walker a loader list this
 * test writes itself into a generated full dump, with field offsets from the ISF reader's
 * _KLDR_DATA_TABLE_ENTRY (isf.c, a reader independent of the symbol layer's scanner). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#include <cmocka.h>
#include <json-c/json.h>

#include "dump/context.h"
#include "dump/dump.h"
#include "expr/expr.h"
#include "manifest.h"
#include "mem/mem.h"
#include "sym/isf_int.h"
#include "sym/sym.h"
#include "sym/sym_int.h"
#include "type/type.h"
#include "test_util.h"

#define TRIAGE NTKD_CORPUS "/dumps/kernel/triage-x64-19041.dmp"
#define SYMPATH NTKD_CORPUS "/symstore;" NTKD_CORPUS "/isf"
#define STORE NTKD_CORPUS "/symstore"
#define ISF5278 NTKD_CORPUS "/isf/windows/ntkrnlmp.pdb/5278AFF86C341677D7D7835C85B7B844-1.json.xz"
#define DSYMS NTKD_CORPUS "/pdb-fixtures/dump_syms"
#define CALC NTKD_CORPUS "/dumps/user/calc-x64-win7.dmp"

/* ---- helpers ----------------------------------------------------------------------------- */

typedef struct session {
    ntkd_ctx *ctx;
    ntkd_target *t;
} session;

/* with a table cache directory (NULL: none), as the CLI opens dumps */
static void open_sc(session *s, const char *path, const char *sympath, const char *cache)
{
    s->ctx = ntkd_ctx_new();
    assert_non_null(s->ctx);
    ntkd_open_opts o = {.sympath = sympath, .table_cache = cache};
    if (ntkd_open(s->ctx, path, &o, &s->t) != NTKD_OK) fail_msg("open %s: %s", path, ntkd_ctx_error(s->ctx));
}

static void open_s(session *s, const char *path, const char *sympath)
{
    s->ctx = ntkd_ctx_new();
    assert_non_null(s->ctx);
    ntkd_open_opts o = {.sympath = sympath};
    if (ntkd_open(s->ctx, path, &o, &s->t) != NTKD_OK) fail_msg("open %s: %s", path, ntkd_ctx_error(s->ctx));
}

static void close_s(session *s)
{
    ntkd_close(s->t);
    ntkd_ctx_free(s->ctx);
}

static char *run(ntkd_target *t, const char *cmd, bool json, ntkd_status *st)
{
    char *buf = NULL;
    size_t len = 0;
    FILE *m = open_memstream(&buf, &len);
    assert_non_null(m);
    bool quit = false;
    ntkd_status r = ntkd_execute(t, cmd, m, json ? NTKD_OUT_JSON : NTKD_OUT_TEXT, &quit);
    fclose(m);
    if (st) *st = r;
    return buf;
}

static json_object *run_json(ntkd_target *t, const char *cmd)
{
    char *s = run(t, cmd, true, NULL);
    json_object *j = json_tokener_parse(s);
    if (!j) fail_msg("%s: not JSON: %s", cmd, s);
    free(s);
    return j;
}

static const char *jstr(json_object *o, const char *k)
{
    json_object *v;
    return json_object_object_get_ex(o, k, &v) ? json_object_get_string(v) : NULL;
}

static uint64_t jhex(json_object *o, const char *k)
{
    const char *s = jstr(o, k);
    assert_non_null(s);
    return strtoull(s, NULL, 16);
}

/* TimeDateStamp and SizeOfImage of a PE file, read from its bytes. */
static void pe_facts(const char *path, uint32_t *ts, uint32_t *size, uint64_t *image_base)
{
    size_t n;
    uint8_t *b = tu_slurp(path, &n);
    assert_non_null(b);
    assert_true(n > 0x200 && b[0] == 'M' && b[1] == 'Z');
    uint32_t pe = nk_le32(b + 0x3c);
    assert_true(pe + 0x100 < n && !memcmp(b + pe, "PE\0\0", 4));
    *ts = nk_le32(b + pe + 8);
    uint32_t opt = pe + 24;
    *size = nk_le32(b + opt + 56);
    if (image_base) *image_base = nk_le16(b + opt) == 0x20b ? nk_le64(b + opt + 24) : nk_le32(b + opt + 28);
    free(b);
}

/* ---- triage-x64-19041.dmp --------------------------------------------------------------------- */

static void triage_lm(void **state)
{
    (void)state;
    session s;
    open_s(&s, TRIAGE, SYMPATH);
    json_object *j = run_json(s.t, "lm");
    json_object *mods;
    assert_true(json_object_object_get_ex(j, "modules", &mods));
    size_t n = json_object_array_length(mods);
    assert_int_equal(n, 151); /* README: 151 drivers in the triage driver list */
    /* every driver of the container's list, with its base, size and name */
    const nk_dump *d = &s.t->d;
    size_t loaded = 0;
    for (size_t i = 0; i < d->nmodules; i++) {
        const nk_module *dm = &d->modules[i];
        if (dm->unloaded) continue;
        loaded++;
        bool found = false;
        for (size_t k = 0; k < n && !found; k++) {
            json_object *m = json_object_array_get_idx(mods, k);
            if (jhex(m, "start") != dm->base) continue;
            found = true;
            assert_int_equal(jhex(m, "end") - jhex(m, "start"), dm->size);
            assert_string_equal(jstr(m, "image_name"), dm->name);
            /* display name: nt for the kernel, else the file name without its extension */
            char want[256];
            if (!strcasecmp(dm->name, "ntoskrnl.exe")) snprintf(want, sizeof want, "nt");
            else {
                snprintf(want, sizeof want, "%s", dm->name);
                char *dot = strrchr(want, '.');
                if (dot) *dot = 0;
            }
            if (strncasecmp(dm->name, "hal", 3)) assert_string_equal(jstr(m, "name"), want);
            else assert_string_equal(jstr(m, "name"), "hal");
        }
        if (!found) fail_msg("driver %s at %llx is not listed by lm", dm->name, (unsigned long long)dm->base);
    }
    assert_int_equal(loaded, 151);
    /* sizes and time stamps against the store's images */
    static const char *const imgs[][2] = {{"amdppm", STORE "/amdppm.sys/c9c030003b000/amdppm.sys"},
                                          {"Wdf01000", STORE "/Wdf01000.sys/a9a9d36ed1000/Wdf01000.sys"}};
    for (size_t i = 0; i < 2; i++) {
        uint32_t ts, size;
        pe_facts(imgs[i][1], &ts, &size, NULL);
        bool found = false;
        for (size_t k = 0; k < n; k++) {
            json_object *m = json_object_array_get_idx(mods, k);
            if (strcmp(jstr(m, "name"), imgs[i][0])) continue;
            found = true;
            assert_int_equal(jhex(m, "end") - jhex(m, "start"), size);
            json_object *v;
            assert_true(json_object_object_get_ex(m, "timestamp", &v));
            assert_int_equal((uint32_t)json_object_get_int64(v), ts);
        }
        assert_true(found);
    }
    json_object_put(j);
    /* the text shape: header and WinDbg's columns */
    char *txt = run(s.t, "lm m amdppm", false, NULL);
    assert_non_null(strstr(txt, "start             end                 module name\n"));
    assert_non_null(strstr(txt, "   amdppm     (deferred)"));
    free(txt);
    /* lm a: the module holding the faulting address */
    txt = run(s.t, "lm a fffff804`8b58334c", false, NULL);
    assert_non_null(strstr(txt, "amdppm"));
    assert_null(strstr(txt, "Wdf01000"));
    free(txt);
    close_s(&s);
}

/* The table cache modes a triage open runs in: none (the streaming scan of each candidate),
 * then one cache directory twice (cold: parsed and written; warm: read back). */
#define CACHE_MODES 3
static const char *cache_mode(int mode, char *dir)
{
    if (mode == 0) return NULL;
    if (mode == 1) {
        strcpy(dir, "/tmp/ntkd-symcache-XXXXXX");
        assert_non_null(mkdtemp(dir));
    }
    return dir;
}

/* Returns the .reload report (every candidate's verdict), malloc'd. */
static char *kernel_match_in(const char *cache)
{
    session s;
    open_sc(&s, TRIAGE, SYMPATH, cache);
    json_object *j = run_json(s.t, ".reload");
    const char *cmdok = json_object_to_json_string(j);
    char *report = strdup(cmdok);
    assert_non_null(strstr(cmdok, "5278AFF86C341677D7D7835C85B7B844-1.json.xz: match"));
    assert_non_null(strstr(cmdok, "nt: kernel symbols from ISF 5278AFF86C341677D7D7835C85B7B844-1.json.xz "
                                  "(PsLoadedModuleList, PsActiveProcessHead, KdDebuggerDataBlock match the dump header)"));
    json_object_put(j);
    nk_symlayer *L = nk_symlayer_get(s.t);
    assert_non_null(L);
    nk_smod *nt = nk_sym_find_module(L, "nt");
    assert_non_null(nt);
    assert_int_equal(nt->src, NK_SRC_ISF);
    assert_non_null(nt->isf_file);
    assert_non_null(strstr(nt->isf_file, "5278AFF86C341677D7D7835C85B7B844-1.json.xz"));
    /* independent check with the ISF reader: base + RVA = the header's values */
    nk_isf *isf;
    assert_int_equal(nk_isf_open(s.ctx, ISF5278, &isf), NTKD_OK);
    uint64_t r1, r2, r3;
    assert_true(nk_isf_symbol(isf, "PsLoadedModuleList", &r1));
    assert_true(nk_isf_symbol(isf, "PsActiveProcessHead", &r2));
    assert_true(nk_isf_symbol(isf, "KdDebuggerDataBlock", &r3));
    assert_int_equal(nt->base + r1, s.t->d.ps_loaded_module_list);
    assert_int_equal(nt->base + r2, s.t->d.ps_active_process_head);
    assert_int_equal(nt->base + r3, s.t->d.kd_debugger_data_block);
    nk_isf_close(isf);
    /* types come from the table */
    nk_typesrc *ts = nk_sym_types(s.t, "nt");
    assert_non_null(ts);
    uint64_t id;
    assert_true(nk_type_find(ts, "_EPROCESS", &id));
    close_s(&s);
    return report;
}

static void triage_kernel_match(void **state)
{
    (void)state;
    char dir[64], *first = NULL;
    for (int mode = 0; mode < CACHE_MODES; mode++) {
        char *report = kernel_match_in(cache_mode(mode, dir));
        if (mode == 0) {
            first = report;
            continue;
        }
        /* the same verdict on every candidate, cached or scanned */
        assert_string_equal(report, first);
        free(report);
        /* the match went through the cache (the streaming scan writes nothing): the matching
           table is cached */
        ntkd_ctx *ctx = ntkd_ctx_new();
        nk_isf *x = NULL;
        bool hit = false;
        assert_int_equal(nk_isf_open_cached_ex(ctx, ISF5278, dir, &x, &hit), NTKD_OK);
        assert_true(hit);
        nk_isf_close(x);
        ntkd_ctx_free(ctx);
    }
    free(first);
    tu_rmdir_r(dir);
}

static void symbols_in(const char *cache)
{
    session s;
    open_sc(&s, TRIAGE, SYMPATH, cache);
    char *txt = run(s.t, "ln fffff8048b58334c", false, NULL);
    assert_non_null(strstr(txt, "amdppm!WriteIoMemRawEx+0x70"));
    assert_true(txt[0] == '(' && strstr(txt, "   |  ("));
    free(txt);
    txt = run(s.t, "x nt!KeBugCheckEx", false, NULL);
    assert_non_null(strstr(txt, "fffff804`7bdf5a80 nt!KeBugCheckEx "));
    free(txt);
    txt = run(s.t, "x nt!kebugcheckex", false, NULL); /* case-insensitive, as WinDbg */
    assert_non_null(strstr(txt, "fffff804`7bdf5a80 nt!KeBugCheckEx "));
    free(txt);
    /* wildcards */
    json_object *j = run_json(s.t, "x nt!KeBugCheck*");
    json_object *syms;
    assert_true(json_object_object_get_ex(j, "symbols", &syms));
    assert_true(json_object_array_length(syms) >= 2);
    bool seen = false;
    for (size_t i = 0; i < json_object_array_length(syms); i++) {
        json_object *o = json_object_array_get_idx(syms, i);
        assert_int_equal(strncasecmp(jstr(o, "name"), "KeBugCheck", 10), 0);
        if (!strcmp(jstr(o, "name"), "KeBugCheckEx")) seen = jhex(o, "address") == 0xfffff8047bdf5a80ull;
    }
    assert_true(seen);
    json_object_put(j);
    /* expressions through the hooks */
    txt = run(s.t, "? amdppm!WriteIoMemRawEx+0x70", false, NULL);
    assert_non_null(strstr(txt, "= fffff804`8b58334c"));
    free(txt);
    uint64_t v;
    assert_true(nk_sym_lookup(s.t, "nt!PsLoadedModuleList", &v));
    assert_int_equal(v, s.t->d.ps_loaded_module_list);
    assert_true(nk_sym_lookup(s.t, "KeBugCheckEx", &v)); /* bare: nt first */
    assert_int_equal(v, 0xfffff8047bdf5a80ull);
    assert_true(nk_sym_lookup(s.t, "amdppm", &v));
    assert_int_equal(v, 0xfffff8048b580000ull);
    assert_false(nk_sym_lookup(s.t, "amdppm!NoSuchFunctionHere", &v));
    /* the header context is the trap in amdppm, the PRCB context the bugcheck call */
    char buf[256];
    assert_true(s.t->d.ncontexts >= 2);
    assert_true(nk_sym_describe(s.t, nk_context_pc(&s.t->d.contexts[0]), buf, sizeof buf));
    assert_string_equal(buf, "amdppm!WriteIoMemRawEx+0x70");
    assert_true(nk_sym_describe(s.t, nk_context_pc(&s.t->d.contexts[1]), buf, sizeof buf));
    assert_int_equal(strncmp(buf, "nt!KeBugCheckEx", 15), 0);
    assert_true(buf[15] == 0 || buf[15] == '+');
    /* an exact address prints without +0x0; an address in no module is not described */
    assert_true(nk_sym_describe(s.t, 0xfffff8047bdf5a80ull, buf, sizeof buf));
    assert_string_equal(buf, "nt!KeBugCheckEx");
    assert_false(nk_sym_describe(s.t, 0x1000, buf, sizeof buf));
    /* r prints the symbol of the instruction pointer */
    txt = run(s.t, "r", false, NULL);
    assert_non_null(strstr(txt, "amdppm!WriteIoMemRawEx+0x70:\n"));
    free(txt);
    close_s(&s);
}

static void triage_symbols(void **state)
{
    (void)state;
    char dir[64];
    for (int mode = 0; mode < CACHE_MODES; mode++) symbols_in(cache_mode(mode, dir));
    tu_rmdir_r(dir);
}

/* UTF-16LE occurrence of an ASCII string in a buffer. */
static bool has_utf16(const uint8_t *b, size_t n, const char *s)
{
    size_t l = strlen(s);
    uint8_t *w = malloc(2 * l);
    for (size_t i = 0; i < l; i++) {
        w[2 * i] = (uint8_t)s[i];
        w[2 * i + 1] = 0;
    }
    bool r = memmem(b, n, w, 2 * l) != NULL;
    free(w);
    return r;
}

static void triage_lmv(void **state)
{
    (void)state;
    session s;
    open_s(&s, TRIAGE, SYMPATH);
    json_object *j = run_json(s.t, "lmvm amdppm");
    json_object *mods, *m, *vs;
    assert_true(json_object_object_get_ex(j, "modules", &mods));
    assert_int_equal(json_object_array_length(mods), 1);
    m = json_object_array_get_idx(mods, 0);
    assert_true(json_object_object_get_ex(m, "version_strings", &vs));
    size_t n;
    uint8_t *img = tu_slurp(STORE "/amdppm.sys/c9c030003b000/amdppm.sys", &n);
    assert_non_null(img);
    size_t count = 0;
    json_object_object_foreach(vs, key, val) {
        const char *v = json_object_get_string(val);
        assert_true(has_utf16(img, n, key));
        bool ascii = true;
        for (const char *c = v; *c; c++) ascii = ascii && (unsigned char)*c < 0x80;
        if (ascii && *v) assert_true(has_utf16(img, n, v));
        count++;
    }
    assert_true(count >= 5);
    assert_non_null(jstr(vs, "FileVersion"));
    assert_non_null(jstr(vs, "CompanyName"));
    free(img);
    json_object_put(j);
    char *txt = run(s.t, "lmvm amdppm", false, NULL);
    assert_non_null(strstr(txt, "    Image name: amdppm.sys\n"));
    assert_non_null(strstr(txt, "    ImageSize:        0003B000\n"));
    assert_non_null(strstr(txt, "    File version:     "));
    assert_non_null(strstr(txt, "   amdppm     (pdb symbols)          ")); /* pdbcopy-stripped */
    free(txt);
    close_s(&s);
}

static void triage_commands(void **state)
{
    (void)state;
    session s;
    open_s(&s, TRIAGE, SYMPATH);
    /* s: the MZ header of amdppm is in the dump (db shape, then ASCII) */
    char *txt = run(s.t, "s -a fffff804`8b580000 L100 \"MZ\"", false, NULL);
    assert_non_null(strstr(txt, "fffff804`8b580000  4d 5a "));
    free(txt);
    txt = run(s.t, "s -b fffff804`8b580000 L100 4d 5a 90", false, NULL);
    assert_non_null(strstr(txt, "fffff804`8b580000  4d 5a 90"));
    free(txt);
    json_object *j = run_json(s.t, "s -[1]b fffff804`8b580000 L1000 4d 5a");
    json_object *hits;
    assert_true(json_object_object_get_ex(j, "hits", &hits));
    assert_int_equal(json_object_array_length(hits), 1);
    json_object_put(j);
    /* !for_each_module with s: every hit is at a module's base that lm lists */
    j = run_json(s.t, "!for_each_module s -[1]a @#Base @#Base+1 \"MZ\"");
    json_object *res;
    assert_true(json_object_object_get_ex(j, "results", &res));
    assert_int_equal(json_object_array_length(res), 151);
    size_t with_hit = 0;
    for (size_t i = 0; i < json_object_array_length(res); i++) {
        json_object *r = json_object_array_get_idx(res, i), *h;
        if (json_object_object_get_ex(r, "hits", &h) && json_object_array_length(h)) with_hit++;
    }
    assert_true(with_hit >= 2); /* nt and amdppm at least */
    json_object_put(j);
    txt = run(s.t, "!for_each_module ? @#Base", false, NULL);
    assert_non_null(strstr(txt, "= fffff804`8b580000"));
    free(txt);
    /* .sympath shows and sets the path */
    txt = run(s.t, ".sympath", false, NULL);
    assert_non_null(strstr(txt, "Symbol search path is: " SYMPATH));
    free(txt);
    txt = run(s.t, ".sympath+ /nonexistent-ntkd-dir", false, NULL);
    assert_non_null(strstr(txt, "Error"));
    assert_non_null(strstr(txt, "/nonexistent-ntkd-dir"));
    free(txt);
    assert_non_null(strstr(nk_sym_get_path(s.t), ";/nonexistent-ntkd-dir"));
    txt = run(s.t, "!sym noisy", false, NULL);
    assert_string_equal(txt, "noisy mode - symbol prompts on\n");
    free(txt);
    /* a failed lookup lists every location tried */
    txt = run(s.t, ".reload /f Wdf01000", false, NULL);
    assert_non_null(strstr(txt, "Wdf01000: "));
    assert_non_null(strstr(txt, "locations tried:"));
    assert_non_null(strstr(txt, "Wdf01000.pdb"));
    free(txt);
    close_s(&s);
}

static void triage_no_path(void **state)
{
    (void)state;
    session s;
    open_s(&s, TRIAGE, NULL);
    char buf[256];
    /* without symbols, addresses are module+offset */
    assert_true(nk_sym_describe(s.t, 0xfffff8048b58334cull, buf, sizeof buf));
    assert_string_equal(buf, "amdppm+0x334c");
    char *txt = run(s.t, "ln fffff8048b58334c", false, NULL);
    assert_non_null(strstr(txt, "amdppm+0x334c"));
    free(txt);
    close_s(&s);
}

/* ---- an image as a target ------------------------------------------------------------------- */

static void image_target(void **state)
{
    (void)state;
    const char *exe = DSYMS "/dump_syms_regtest64.exe";
    uint32_t ts, size;
    uint64_t base;
    pe_facts(exe, &ts, &size, &base);
    session s;
    open_s(&s, exe, DSYMS);
    assert_int_equal(s.t->d.kind, NK_KIND_IMAGE);
    assert_int_equal(s.t->d.arch, NK_ARCH_X64);
    json_object *j = run_json(s.t, "lm");
    json_object *mods;
    assert_true(json_object_object_get_ex(j, "modules", &mods));
    assert_int_equal(json_object_array_length(mods), 1);
    json_object *m = json_object_array_get_idx(mods, 0);
    assert_int_equal(jhex(m, "start"), base);
    assert_int_equal(jhex(m, "end"), base + size);
    assert_string_equal(jstr(m, "name"), "dump_syms_regtest64");
    json_object_put(j);
    /* the headers are mapped at the preferred base */
    uint8_t mz[2];
    assert_int_equal(nk_read_virt(s.t, base, mz, 2, NULL), NTKD_OK);
    assert_memory_equal(mz, "MZ", 2);
    /* every FUNC and PUBLIC line of Breakpad's .sym */
    FILE *f = fopen(DSYMS "/dump_syms_regtest64.sym", "r");
    assert_non_null(f);
    char line[4096];
    size_t nfunc = 0, npub = 0;
    while (fgets(line, sizeof line, f)) {
        bool func = !strncmp(line, "FUNC ", 5), pub = !strncmp(line, "PUBLIC ", 7);
        if (!func && !pub) continue;
        if (func) nfunc++;
        else npub++;
        char *p = line + (func ? 5 : 7);
        if (func && !strncmp(p, "m ", 2)) p += 2;
        unsigned long long rva = strtoull(p, &p, 16);
        unsigned long long fsize = func ? strtoull(p, &p, 16) : 0;
        strtoull(p, &p, 16); /* parameter size */
        while (*p == ' ') p++;
        p[strcspn(p, "\n")] = 0;
        char name[2048];
        snprintf(name, sizeof name, "%s", p);
        if (name[0] == '<') continue; /* Breakpad's placeholder for an address without a name */
        char *paren = strchr(name, '(');
        if (paren && paren != name) *paren = 0; /* Breakpad appends the parameter list */
        char want[2200], got[2200];
        snprintf(want, sizeof want, "dump_syms_regtest64!%s", name);
        assert_true(nk_sym_describe(s.t, base + rva, got, sizeof got));
        if (strcmp(got, want)) fail_msg("%s at rva %llx: got %s", want, rva, got);
        if (func && fsize > 1) {
            snprintf(want, sizeof want, "dump_syms_regtest64!%s+0x%llx", name, fsize - 1);
            assert_true(nk_sym_describe(s.t, base + rva + fsize - 1, got, sizeof got));
            if (strcmp(got, want)) fail_msg("end of %s: got %s", want, got);
        }
        /* x finds the name at that address (overloads: among the matches) */
        char cmd[2300];
        snprintf(cmd, sizeof cmd, "x dump_syms_regtest64!%s", name);
        if (!strchr(name, ' ') && !strchr(name, '*') && !strchr(name, '?')) {
            json_object *x = run_json(s.t, cmd);
            json_object *syms;
            assert_true(json_object_object_get_ex(x, "symbols", &syms));
            bool hit = false;
            for (size_t i = 0; i < json_object_array_length(syms); i++)
                hit = hit || jhex(json_object_array_get_idx(syms, i), "address") == base + rva;
            if (!hit) fail_msg("%s: x does not list %llx", cmd, base + rva);
            json_object_put(x);
        }
    }
    fclose(f);
    assert_int_equal(nfunc, 246);
    assert_int_equal(npub, 3);
    /* ln on a function start: exact match with its parameters from the PDB */
    char *txt = run(s.t, "ln dump_syms_regtest64!main", false, NULL);
    assert_non_null(strstr(txt, "dump_syms_regtest64!main   |  ("));
    assert_non_null(strstr(txt, "Exact matches:\n    dump_syms_regtest64!main (int, char **)\n"));
    free(txt);
    close_s(&s);
}

/* ---- minidump ---------------------------------------------------------------------------------- */

static void minidump_lm(void **state)
{
    (void)state;
    session s;
    open_s(&s, CALC, NULL);
    json_object *j = run_json(s.t, "lm");
    json_object *mods;
    assert_true(json_object_object_get_ex(j, "modules", &mods));
    size_t loaded = 0;
    for (size_t i = 0; i < s.t->d.nmodules; i++) loaded += !s.t->d.modules[i].unloaded;
    assert_true(loaded > 0);
    assert_int_equal(json_object_array_length(mods), loaded);
    bool ntdll = false, calc = false;
    for (size_t i = 0; i < loaded; i++) {
        json_object *m = json_object_array_get_idx(mods, i);
        if (!strcmp(jstr(m, "name"), "ntdll")) {
            ntdll = true;
            assert_int_equal(jhex(m, "start"), 0x77720000);         /* rizin's mdmp test */
            assert_int_equal(jhex(m, "end"), 0x77720000 + 0x1aa000);
        }
        calc = calc || !strcmp(jstr(m, "name"), "calc");
    }
    assert_true(ntdll && calc);
    json_object_put(j);
    char buf[128];
    assert_true(nk_sym_describe(s.t, 0x77720000 + 0x1234, buf, sizeof buf));
    assert_string_equal(buf, "ntdll+0x1234");
    close_s(&s);
}

/* ---- PsLoadedModuleList in a generated full dump -------------------------------------------- */

static int gen(const char *kind, const char *out)
{
    char cmd[1024];
    snprintf(cmd, sizeof cmd, "'%s' %s '%s' >/dev/null 2>&1", NTKD_GENDUMP, kind, out);
    return system(cmd);
}

typedef struct wtarget {
    uint8_t *buf;
    size_t len;
    ntkd_ctx *ctx;
    ntkd_target *t;
} wtarget;

/* Writes bytes at a virtual address of the dump (through its page tables, into our copy). */
static void vwrite(wtarget *w, uint64_t va, const void *data, size_t len)
{
    const uint8_t *p = data;
    for (size_t i = 0; i < len; i++) {
        uint64_t pa, off;
        if (nk_vtop(w->t, va + i, &pa) != NTKD_OK || !nk_phys_page_off(&w->t->d, pa >> 12, &off))
            fail_msg("va %llx is not mapped in the generated dump", (unsigned long long)(va + i));
        w->buf[off + (pa & 0xfff)] = p[i];
    }
    w->t->selfmap_known = false;
    memset(w->t->pt_cache, 0, sizeof w->t->pt_cache);
}
static void vw64(wtarget *w, uint64_t va, uint64_t v)
{
    uint8_t b[8];
    for (int i = 0; i < 8; i++) b[i] = (uint8_t)(v >> (8 * i));
    vwrite(w, va, b, 8);
}
static void vw32(wtarget *w, uint64_t va, uint32_t v)
{
    uint8_t b[4];
    for (int i = 0; i < 4; i++) b[i] = (uint8_t)(v >> (8 * i));
    vwrite(w, va, b, 4);
}
static void vwustr(wtarget *w, uint64_t us, uint64_t buf_va, const char *s)
{
    size_t l = strlen(s);
    uint8_t tmp[512];
    for (size_t i = 0; i < l; i++) {
        tmp[2 * i] = (uint8_t)s[i];
        tmp[2 * i + 1] = 0;
    }
    vwrite(w, buf_va, tmp, 2 * l);
    uint8_t hdr[4] = {(uint8_t)(2 * l), 0, (uint8_t)(2 * l + 2), 0};
    vwrite(w, us, hdr, 4);
    vw64(w, us + 8, buf_va);
}

static void psl_walk(void **state)
{
    (void)state;
    char dir[] = "/tmp/ntkd-symtest-XXXXXX";
    assert_non_null(mkdtemp(dir));
    char path[256];
    snprintf(path, sizeof path, "%s/full.dmp", dir);
    assert_int_equal(gen("full64", path), 0);
    mf_manifest mf;
    char mpath[300];
    snprintf(mpath, sizeof mpath, "%s.manifest", path);
    char *mp = strdup(mpath); /* (a pointer of unknown size for the reader's messages) */
    assert_int_equal(mf_load(&mf, mp), 0);
    free(mp);
    uint64_t kern, head;
    assert_true(mf_header_u64(&mf, "KernBase", &kern));
    assert_true(mf_header_u64(&mf, "PsLoadedModuleList", &head));
    /* offsets of the entry from the ISF reader */
    ntkd_ctx *ictx = ntkd_ctx_new();
    nk_isf *isf;
    assert_int_equal(nk_isf_open(ictx, ISF5278, &isf), NTKD_OK);
    nk_typesrc *ts = nk_isf_types(isf);
    uint64_t id;
    assert_true(nk_type_find(ts, "_KLDR_DATA_TABLE_ENTRY", &id));
    nk_tfield f;
    uint64_t o_dll, o_size, o_full, o_base, o_ts, o_ck;
    assert_true(nk_type_field(ts, id, "DllBase", &f)); o_dll = f.offset;
    assert_true(nk_type_field(ts, id, "SizeOfImage", &f)); o_size = f.offset;
    assert_true(nk_type_field(ts, id, "FullDllName", &f)); o_full = f.offset;
    assert_true(nk_type_field(ts, id, "BaseDllName", &f)); o_base = f.offset;
    assert_true(nk_type_field(ts, id, "TimeDateStamp", &f)); o_ts = f.offset;
    assert_true(nk_type_field(ts, id, "CheckSum", &f)); o_ck = f.offset;
    uint64_t r_psl, r_pah, r_kd;
    assert_true(nk_isf_symbol(isf, "PsLoadedModuleList", &r_psl));
    assert_true(nk_isf_symbol(isf, "PsActiveProcessHead", &r_pah));
    assert_true(nk_isf_symbol(isf, "KdDebuggerDataBlock", &r_kd));
    nk_isf_close(isf);
    ntkd_ctx_free(ictx);

    for (int pass = 0; pass < 3; pass++) { /* 0: typed (ISF match), 1: no types: not walked, 2: a loop */
        wtarget w = {0};
        w.buf = tu_slurp(path, &w.len);
        assert_non_null(w.buf);
        w.ctx = ntkd_ctx_new();
        ntkd_open_opts o = {.sympath = pass != 1 ? NTKD_CORPUS "/isf" : NULL};
        assert_int_equal(ntkd_open_mem(w.ctx, "full.dmp", w.buf, w.len, &o, &w.t), NTKD_OK);
        /* three entries in the kernel's first pages, after the head */
        uint64_t e[3] = {kern + 0x2000, kern + 0x2200, kern + 0x2400};
        uint64_t names = kern + 0x3000;
        /* nt's base: chosen so that the table's RVAs give the header values (pass 0) */
        /* (page-aligned as real images are; the list head then lies in the kernel's first page) */
        uint64_t ntbase = kern - (r_psl & ~0xfffull);
        head = ntbase + r_psl;
        w.t->d.ps_loaded_module_list = head;
        uint64_t bases[3] = {ntbase, 0xfffff80005000000ull, 0xfffff80006000000ull};
        uint32_t sizes[3] = {0x1046000, 0x3b000, 0xd1000};
        const char *bn[3] = {"ntoskrnl.exe", "amdppm.sys", "Wdf01000.sys"};
        vw64(&w, head, e[0]);
        vw64(&w, head + 8, e[2]);
        for (int i = 0; i < 3; i++) {
            uint64_t next = i < 2 ? e[i + 1] : (pass == 2 ? e[1] : head);
            vw64(&w, e[i], next);
            vw64(&w, e[i] + 8, i ? e[i - 1] : head);
            vw64(&w, e[i] + o_dll, bases[i]);
            vw32(&w, e[i] + o_size, sizes[i]);
            vw32(&w, e[i] + o_ts, 0x11110000u + (uint32_t)i);
            vw32(&w, e[i] + o_ck, 0x2220u + (uint32_t)i);
            char full[128];
            snprintf(full, sizeof full, "\\SystemRoot\\system32\\%s", bn[i]);
            vwustr(&w, e[i] + o_base, names + (uint64_t)i * 0x100, bn[i]);
            vwustr(&w, e[i] + o_full, names + 0x400 + (uint64_t)i * 0x100, full);
        }
        if (pass != 1) {
            w.t->d.ps_active_process_head = ntbase + r_pah;
            w.t->d.kd_debugger_data_block = ntbase + r_kd;
        }
        json_object *j = run_json(w.t, "lm");
        json_object *mods;
        assert_true(json_object_object_get_ex(j, "modules", &mods));
        size_t n = json_object_array_length(mods);
        const char *all = json_object_to_json_string(j);
        if (pass == 1) {
            /* without nt's types no offsets are known: the list is not walked */
            assert_int_equal(n, 0);
            assert_non_null(strstr(all, "cannot be walked"));
            assert_non_null(strstr(all, "nt's types are unavailable"));
            json_object_put(j);
            ntkd_close(w.t);
            ntkd_ctx_free(w.ctx);
            free(w.buf);
            continue;
        }
        assert_int_equal(n, 3);
        static const char *const disp[3] = {"nt", "amdppm", "Wdf01000"};
        for (size_t k = 0; k < n; k++) {
            json_object *m = json_object_array_get_idx(mods, k);
            size_t i = 0;
            while (i < 3 && jhex(m, "start") != bases[i]) i++;
            assert_true(i < 3);
            assert_string_equal(jstr(m, "name"), disp[i]);
            assert_int_equal(jhex(m, "end") - jhex(m, "start"), sizes[i]);
            json_object *v;
            assert_true(json_object_object_get_ex(m, "timestamp", &v));
            assert_int_equal((uint32_t)json_object_get_int64(v), 0x11110000u + i);
            char full[128];
            snprintf(full, sizeof full, "\\SystemRoot\\system32\\%s", bn[i]);
            assert_string_equal(jstr(m, "path"), full);
        }
        if (pass == 2) assert_non_null(strstr(all, "loops"));
        json_object_put(j);
        if (pass == 0) {
            char b[128];
            assert_true(nk_sym_describe(w.t, ntbase + 0x5000, b, sizeof b));
            assert_int_equal(strncmp(b, "nt!", 3), 0);
        }
        ntkd_close(w.t);
        ntkd_ctx_free(w.ctx);
        free(w.buf);
    }
    mf_free(&mf);
    tu_rmdir_r(dir);
}

/* ---- the kernel match with a PDB candidate (x86) ----------------------------------------------- */

/* The address dbghelp gives a public of ntkrnlpa.pdb with the image at 0x804d7000. */
static uint64_t oracle_rva(const char *name)
{
    FILE *f = fopen(NTKD_CORPUS "/oracles/ntkrnlpa/publics-dbghelp-base-804d7000.txt", "r");
    assert_non_null(f);
    char line[1024];
    uint64_t r = 0;
    while (fgets(line, sizeof line, f)) {
        char *sp = strchr(line, ' ');
        if (!sp) continue;
        sp[strcspn(sp, "\r\n")] = 0;
        if (!strcmp(sp + 1, name)) {
            r = strtoull(line, NULL, 16) - 0x804d7000u;
            break;
        }
    }
    fclose(f);
    assert_true(r != 0);
    return r;
}

static void kmatch_pdb_x86(void **state)
{
    (void)state;
    char dir[] = "/tmp/ntkd-symx86-XXXXXX";
    assert_non_null(mkdtemp(dir));
    char path[256];
    snprintf(path, sizeof path, "%s/t32.dmp", dir);
    assert_int_equal(gen("triage32", path), 0);
    session s;
    open_s(&s, path, STORE);
    assert_true(s.t->d.nmodules > 0);
    assert_int_equal(s.t->d.machine, NK_MACHINE_I386);
    uint64_t base = s.t->d.modules[0].base; /* ntoskrnl.exe, first in the driver list */
    s.t->d.ps_loaded_module_list = base + oracle_rva("PsLoadedModuleList");
    s.t->d.ps_active_process_head = base + oracle_rva("PsActiveProcessHead");
    s.t->d.kd_debugger_data_block = base + oracle_rva("KdDebuggerDataBlock");
    char *txt = run(s.t, ".reload", false, NULL);
    assert_non_null(strstr(txt, "  ntkrnlpa.pdb: match\n"));
    assert_non_null(strstr(txt, "nt: kernel symbols from PDB ntkrnlpa.pdb (PsLoadedModuleList, PsActiveProcessHead, "
                                "KdDebuggerDataBlock match the dump header)"));
    free(txt);
    uint64_t v;
    assert_true(nk_sym_lookup(s.t, "nt!KeBugCheckEx", &v));
    assert_int_equal(v, base + oracle_rva("KeBugCheckEx"));
    char buf[128];
    assert_true(nk_sym_describe(s.t, base + oracle_rva("KiQuantumEnd"), buf, sizeof buf));
    assert_string_equal(buf, "nt!KiQuantumEnd");
    /* a header that matches nothing: no table is chosen, every candidate says why */
    s.t->d.kd_debugger_data_block += 0x1000;
    txt = run(s.t, ".reload", false, NULL);
    assert_non_null(strstr(txt, "ntkrnlpa.pdb: no match: KdDebuggerDataBlock"));
    assert_non_null(strstr(txt, "no kernel table on the symbol path matches this dump"));
    free(txt);
    close_s(&s);
    tu_rmdir_r(dir);
}

/* ---- s over page tables: a generated full dump's pattern bytes ---------------------------------- */

static void search_paged(void **state)
{
    (void)state;
    char dir[] = "/tmp/ntkd-symsearch-XXXXXX";
    assert_non_null(mkdtemp(dir));
    char path[256];
    snprintf(path, sizeof path, "%s/full.dmp", dir);
    assert_int_equal(gen("full64", path), 0);
    mf_manifest mf;
    char mpath[300];
    snprintf(mpath, sizeof mpath, "%s.manifest", path);
    char *mp = strdup(mpath);
    assert_int_equal(mf_load(&mf, mp), 0);
    free(mp);
    /* a 4 KB-mapped data page: 16 bytes in its middle, aligned to 8 */
    uint64_t va = 0;
    uint8_t want[16];
    for (size_t i = 0; i < mf.nmaps && !va; i++) {
        if (mf.maps[i].size != 0x1000) continue;
        uint64_t cand = mf.maps[i].va + 0x7f8;
        bool ok = true;
        for (int k = 0; k < 16 && ok; k++) ok = mf_expected_byte(&mf, cand + (uint64_t)k, &want[k]);
        if (ok) va = cand;
    }
    assert_true(va != 0);
    session s;
    open_s(&s, path, NULL);
    char cmd[512], hex[128] = "";
    for (int k = 0; k < 16; k++) snprintf(hex + strlen(hex), sizeof hex - strlen(hex), " %02x", want[k]);
    /* bytes: the range spans the page and the next; the hit is where the manifest says */
    snprintf(cmd, sizeof cmd, "s -b %llx L2000%s", (unsigned long long)(va & ~0xfffull), hex);
    json_object *j = run_json(s.t, cmd);
    json_object *hits;
    assert_true(json_object_object_get_ex(j, "hits", &hits));
    bool found = false;
    for (size_t i = 0; i < json_object_array_length(hits); i++)
        found = found || jhex(json_object_array_get_idx(hits, i), "address") == va;
    assert_true(found);
    json_object_put(j);
    /* the text: one db line at the hit */
    char *txt = run(s.t, cmd, false, NULL);
    char ab[24];
    nk_fmt_addr64(ab, va);
    char line[128];
    snprintf(line, sizeof line, "%s  %02x %02x %02x", ab, want[0], want[1], want[2]);
    assert_non_null(strstr(txt, line));
    free(txt);
    /* a quad word: found at its (aligned) address; -q does not match at odd offsets */
    uint64_t q = 0, q1 = 0;
    for (int k = 0; k < 8; k++) q |= (uint64_t)want[k] << (8 * k);
    for (int k = 0; k < 8; k++) q1 |= (uint64_t)want[k + 1] << (8 * k);
    snprintf(cmd, sizeof cmd, "s -q %llx L200 %llx", (unsigned long long)(va & ~0xfffull), (unsigned long long)q);
    j = run_json(s.t, cmd);
    assert_true(json_object_object_get_ex(j, "hits", &hits));
    found = false;
    for (size_t i = 0; i < json_object_array_length(hits); i++)
        found = found || jhex(json_object_array_get_idx(hits, i), "address") == va;
    assert_true(found);
    json_object_put(j);
    snprintf(cmd, sizeof cmd, "s -q %llx L200 %llx", (unsigned long long)(va & ~0xfffull), (unsigned long long)q1);
    j = run_json(s.t, cmd);
    assert_true(json_object_object_get_ex(j, "hits", &hits));
    for (size_t i = 0; i < json_object_array_length(hits); i++)
        assert_int_not_equal(jhex(json_object_array_get_idx(hits, i), "address"), va + 1);
    json_object_put(j);
    /* a search across an unmapped hole continues after it */
    uint64_t hole = 0;
    for (uint64_t cand = va & ~0xfffull; cand > (va & ~0xfffull) - 0x100000 && !hole; cand -= 0x1000) {
        uint8_t b;
        if (!mf_find_map(&mf, cand) && !mf_expected_byte(&mf, cand, &b)) hole = cand;
    }
    if (hole) {
        snprintf(cmd, sizeof cmd, "s -b %llx %llx%s", (unsigned long long)hole, (unsigned long long)(va + 0x100), hex);
        j = run_json(s.t, cmd);
        assert_true(json_object_object_get_ex(j, "hits", &hits));
        found = false;
        for (size_t i = 0; i < json_object_array_length(hits); i++)
            found = found || jhex(json_object_array_get_idx(hits, i), "address") == va;
        assert_true(found);
        json_object_put(j);
    }
    close_s(&s);
    mf_free(&mf);
    tu_rmdir_r(dir);
}

/* ---- pieces ------------------------------------------------------------------------------------ */

static void display_names(void **state)
{
    (void)state;
    char b[64];
    assert_string_equal(nk_sym_display_name("ntoskrnl.exe", b, sizeof b), "nt");
    assert_string_equal(nk_sym_display_name("ntkrnlmp.exe", b, sizeof b), "nt");
    assert_string_equal(nk_sym_display_name("ntkrnlpa.exe", b, sizeof b), "nt");
    assert_string_equal(nk_sym_display_name("ntkrpamp.exe", b, sizeof b), "nt");
    assert_string_equal(nk_sym_display_name("hal.dll", b, sizeof b), "hal");
    assert_string_equal(nk_sym_display_name("halmacpi.dll", b, sizeof b), "hal");
    assert_string_equal(nk_sym_display_name("amdppm.sys", b, sizeof b), "amdppm");
    assert_string_equal(nk_sym_display_name("Wdf01000.sys", b, sizeof b), "Wdf01000");
    assert_string_equal(nk_sym_display_name("C:\\Windows\\System32\\calc.exe", b, sizeof b), "calc");
    assert_string_equal(nk_sym_display_name("api-ms-win-core-synch-l1-2-0.dll", b, sizeof b),
                        "api_ms_win_core_synch_l1_2_0");
}

static void isf_scan_errors(void **state)
{
    (void)state;
    char dir[] = "/tmp/ntkd-isf-XXXXXX";
    assert_non_null(mkdtemp(dir));
    static const char *const bad[] = {
        "", "{", "{\"symbols\": {\"A\": {\"address\": }}}", "{\"symbols\": [1,2]",
        "{\"metadata\": {\"windows\": {\"pdb\": {\"GUID\": 5}}}, \"symbols\": {\"A\": {\"address\": 1}",
        "[]", "{\"symbols\": {\"A\": {\"address\": 1}} junk", "{\"symbols\": {\"A\": \"x\\q\"}}",
    };
    ntkd_ctx *ctx = ntkd_ctx_new();
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        char p[128];
        snprintf(p, sizeof p, "%s/t%zu.json", dir, i);
        FILE *f = fopen(p, "w");
        fputs(bad[i], f);
        fclose(f);
        nk_symtab st = {0};
        nk_isf_meta meta;
        nk_status r = nk_isf_load_symtab(ctx, p, &st, &meta);
        if (r == NTKD_OK) fail_msg("case %zu accepted", i);
        nk_symtab_free(&st);
    }
    /* a good small table */
    char p[128];
    snprintf(p, sizeof p, "%s/good.json", dir);
    FILE *f = fopen(p, "w");
    fputs("{\"base_types\": {\"x\": [1, {\"y\": null}]}, \"metadata\": {\"windows\": {\"pdb\": {\"GUID\": "
          "\"0123456789abcdef0123456789ABCDEF\", \"age\": 2, \"machine_type\": 34404}}}, "
          "\"symbols\": {\"B\": {\"address\": 32}, \"A\\u0041\": {\"address\": 16, \"type\": {\"kind\": \"x\"}}, "
          "\"C\": {\"linkage_name\": \"c\"}}, \"user_types\": {}}", f);
    fclose(f);
    nk_symtab st = {0};
    nk_isf_meta meta;
    assert_int_equal(nk_isf_load_symtab(ctx, p, &st, &meta), NTKD_OK);
    assert_int_equal(st.n, 2);
    assert_string_equal(st.v[0].name, "AA");
    assert_int_equal(st.v[0].rva, 16);
    assert_string_equal(meta.guid, "0123456789ABCDEF0123456789ABCDEF");
    assert_int_equal(meta.age, 2);
    assert_int_equal(meta.machine, 0x8664);
    assert_int_equal(nk_symtab_at_or_below(&st, 31), 0);
    assert_int_equal(nk_symtab_after(&st, 16), 1);
    ptrdiff_t k = nk_symtab_find(&st, "b"); /* a position in the name order */
    assert_true(k >= 0);
    assert_string_equal(st.v[st.by_name[k]].name, "B");
    nk_symtab_free(&st);
    ntkd_ctx_free(ctx);
    tu_rmdir_r(dir);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(display_names),
        cmocka_unit_test(isf_scan_errors),
        cmocka_unit_test(triage_lm),
        cmocka_unit_test(triage_kernel_match),
        cmocka_unit_test(triage_symbols),
        cmocka_unit_test(triage_lmv),
        cmocka_unit_test(triage_commands),
        cmocka_unit_test(triage_no_path),
        cmocka_unit_test(image_target),
        cmocka_unit_test(minidump_lm),
        cmocka_unit_test(psl_walk),
        cmocka_unit_test(search_paged),
        cmocka_unit_test(kmatch_pdb_x86),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
