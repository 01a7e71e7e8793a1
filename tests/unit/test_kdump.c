/* test_kdump.c: the kernel dump containers (PAGEDU64, PAGEDUMP).
 *
 * Facts come from outside the parser: the corpus README and the corpus files' own bytes, and
 * the manifests ntkd-gendump writes next to each dump (header values, registers, which
 * physical pages hold pattern data and which are absent). Hostile variants are made by
 * truncating generated dumps at every header boundary and by patching counts and offsets at
 * their documented locations: each must give an error or a warning, never a crash (the suite
 * runs under ASan/UBSan) and never wrong bytes. */
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

#include "dump/context.h"
#include "dump/dump.h"
#include "gen/pattern.h"
#include "test_util.h"

#define KDIR NTKD_CORPUS "/dumps/kernel/"
#define TMPDIR "kdump-tmp"

/* ---- helpers ------------------------------------------------------------------------ */

static void spit(const char *path, const uint8_t *data, size_t len)
{
    FILE *f = fopen(path, "wb");
    assert_non_null(f);
    if (len) assert_int_equal(fwrite(data, 1, len, f), len);
    fclose(f);
}

static bool has_warning(ntkd_target *t, const char *needle)
{
    for (size_t i = 0; i < ntkd_warning_count(t); i++)
        if (strstr(ntkd_warning(t, i), needle)) return true;
    return false;
}

static const nk_hdr_field *field(const nk_dump *d, const char *section, const char *name)
{
    for (size_t i = 0; i < d->nfields; i++)
        if ((!section || strcmp(d->fields[i].section, section) == 0) && strcmp(d->fields[i].name, name) == 0)
            return &d->fields[i];
    return NULL;
}

static size_t count_fields_suffix(const nk_dump *d, const char *section, const char *suffix)
{
    size_t n = 0, m = strlen(suffix);
    for (size_t i = 0; i < d->nfields; i++) {
        size_t l = strlen(d->fields[i].name);
        if (strcmp(d->fields[i].section, section) == 0 && l >= m && strcmp(d->fields[i].name + l - m, suffix) == 0)
            n++;
    }
    return n;
}

/* ---- the generator's manifest ------------------------------------------------------- */

typedef struct manifest {
    char **lines;
    size_t n;
} manifest;

static void mf_free(manifest *m)
{
    for (size_t i = 0; i < m->n; i++) free(m->lines[i]);
    free(m->lines);
    memset(m, 0, sizeof *m);
}

static bool mf_load(manifest *m, const char *dump)
{
    char path[512];
    snprintf(path, sizeof path, "%s.manifest", dump);
    FILE *f = fopen(path, "r");
    if (!f) return false;
    char line[1024];
    while (fgets(line, sizeof line, f)) {
        line[strcspn(line, "\r\n")] = 0;
        char *s = line;
        while (*s == ' ' || *s == '\t') s++;
        if (!*s || *s == '#') continue;
        m->lines = realloc(m->lines, (m->n + 1) * sizeof *m->lines);
        m->lines[m->n++] = strdup(s);
    }
    fclose(f);
    return m->n > 0;
}

/* The rest of the first line starting with `key `, or NULL. */
static const char *mf_get(const manifest *m, const char *key)
{
    size_t k = strlen(key);
    for (size_t i = 0; i < m->n; i++)
        if (strncmp(m->lines[i], key, k) == 0 && m->lines[i][k] == ' ') return m->lines[i] + k + 1;
    return NULL;
}

static uint64_t num(const char *s) { return strtoull(s, NULL, 0); }

/* Up to n numbers (any base prefix, full 64-bit range) from s; returns how many. */
static int nums(const char *s, uint64_t *v, int n)
{
    int k = 0;
    while (k < n) {
        char *end;
        while (*s == ' ' || *s == '\t') s++;
        if (!*s) break;
        v[k] = strtoull(s, &end, 0);
        if (end == s) break;
        k++;
        s = end;
    }
    return k;
}

/* Runs ntkd-gendump; the test fails when it does. */
static void gen(const char *kind, const char *out, const char *extra)
{
    mkdir(TMPDIR, 0777);
    char cmd[1024];
    snprintf(cmd, sizeof cmd, "'%s' %s '%s' %s", NTKD_GENDUMP, kind, out, extra ? extra : "");
    int rc = system(cmd);
    if (rc == -1 || !WIFEXITED(rc) || WEXITSTATUS(rc) != 0) fail_msg("generator failed: %s", cmd);
}

static ntkd_target *open_ok(ntkd_ctx *ctx, const char *path)
{
    ntkd_target *t = NULL;
    ntkd_status st = ntkd_open(ctx, path, NULL, &t);
    if (st != NTKD_OK) fail_msg("%s: %s", path, ntkd_ctx_error(ctx));
    return t;
}

/* Opens a hostile file: an error must name the file; success must come with a warning unless
 * `may_be_clean`. Reads every page the manifest lists; with `check_bytes` (damage that moves
 * no data) a page that reads must hold its pattern. */
static void open_hostile(const char *path, const manifest *m, bool may_be_clean, bool check_bytes)
{
    ntkd_ctx *ctx = ntkd_ctx_new();
    ntkd_target *t = NULL;
    ntkd_status st = ntkd_open(ctx, path, NULL, &t);
    const char *base = strrchr(path, '/') ? strrchr(path, '/') + 1 : path;
    if (st != NTKD_OK) {
        assert_null(t);
        if (!strstr(ntkd_ctx_error(ctx), base)) fail_msg("error without the file name: %s", ntkd_ctx_error(ctx));
        ntkd_ctx_free(ctx);
        return;
    }
    if (!may_be_clean && ntkd_warning_count(t) == 0) fail_msg("%s opened without a warning", path);
    uint64_t seed = mf_get(m, "seed") ? num(mf_get(m, "seed")) : 1;
    static uint8_t page[4096], want[4096];
    for (size_t i = 0; i < m->n; i++) {
        unsigned long long pfn;
        char what[16];
        if (sscanf(m->lines[i], "phys %lli %15s", &pfn, what) != 2) continue;
        size_t got = 0;
        st = ntkd_read_phys(t, (uint64_t)pfn << 12, page, sizeof page, &got);
        assert_true(got <= sizeof page);
        if (check_bytes && st == NTKD_OK && strcmp(what, "data") == 0) {
            nk_gen_fill(seed, (uint64_t)pfn << 12, want, sizeof want);
            if (memcmp(page, want, sizeof page) != 0) fail_msg("%s: pfn 0x%llx reads wrong bytes", path, pfn);
        }
    }
    /* the header-fact commands must not crash either */
    FILE *null = fopen("/dev/null", "w");
    bool quit = false;
    ntkd_execute(t, ".bugcheck", null, NTKD_OUT_TEXT, &quit);
    ntkd_execute(t, "vertarget", null, NTKD_OUT_TEXT, &quit);
    ntkd_execute(t, ".dumpdebug", null, NTKD_OUT_JSON, &quit);
    fclose(null);
    ntkd_close(t);
    ntkd_ctx_free(ctx);
}

/* ---- corpus ------------------------------------------------------------------------- */

static void test_corpus_truncated_full(void **state)
{
    (void)state;
    const char *path = KDIR "full-x64-19045-truncated.dmp";
    ntkd_ctx *ctx = ntkd_ctx_new();
    ntkd_target *t = open_ok(ctx, path);
    const nk_dump *d = &t->d;
    /* corpus README: full dump (DumpType 1), x64, marker bugcheck 0x5454414D, 5 runs, 16 KiB */
    assert_int_equal(d->kind, NK_KIND_KERNEL_FULL);
    assert_int_equal(d->dump_type, 1);
    assert_int_equal(d->arch, NK_ARCH_X64);
    assert_int_equal(d->paging, NK_PAGING_X64_4L);
    assert_int_equal(d->bugcheck_code, 0x5454414D);
    assert_int_equal(d->bugcheck_cpu, 0);
    assert_int_equal(d->minor, 19045);
    const nk_hdr_field *nr = field(d, "Physical Memory Description", "NumberOfRuns");
    assert_non_null(nr);
    assert_int_equal(nr->value, 5);
    assert_int_equal(count_fields_suffix(d, "Physical Memory Description", ".BasePage"), 5);
    /* the runs describe far more than the file holds: a warning, and only what is there */
    assert_true(ntkd_warning_count(t) >= 1);
    assert_true(has_warning(t, "full-x64-19045-truncated.dmp"));
    assert_true(has_warning(t, "run"));
    assert_int_equal(d->ncontexts, 1);
    assert_int_equal(d->contexts[0].len, 0x4d0);
    assert_string_equal(d->contexts[0].origin, "dump header");

    /* the file's page at 0x2000 is the first page of the first run (read from the bytes) */
    size_t flen = 0;
    uint8_t *raw = tu_slurp(path, &flen);
    assert_non_null(raw);
    assert_int_equal(flen, 16384);
    uint64_t base0 = nk_le64(raw + 0x98);
    uint8_t page[8192];
    size_t got = 0;
    assert_int_equal(ntkd_read_phys(t, base0 << 12, page, 8192, &got), NTKD_OK);
    assert_int_equal(got, 8192);
    assert_memory_equal(page, raw + 0x2000, 8192);
    /* the third page of the run lies past the end of the file */
    assert_int_equal(ntkd_read_phys(t, (base0 + 2) << 12, page, 16, &got), NTKD_E_NOTPRESENT);
    assert_int_equal(got, 0);
    assert_int_equal(ntkd_read_phys(t, ((base0 + 2) << 12) - 16, page, 32, &got), NTKD_E_NOTPRESENT);
    assert_int_equal(got, 16);
    assert_memory_equal(page, raw + 0x4000 - 16, 16);
    /* the second run (base 0x100 in the header bytes) starts past the end of the file */
    uint64_t base1 = nk_le64(raw + 0xa8);
    assert_int_equal(ntkd_read_phys(t, base1 << 12, page, 1, &got), NTKD_E_NOTPRESENT);
    free(raw);
    ntkd_close(t);
    ntkd_ctx_free(ctx);
}

static void test_corpus_triage_x64(void **state)
{
    (void)state;
    ntkd_ctx *ctx = ntkd_ctx_new();
    ntkd_target *t = open_ok(ctx, KDIR "triage-x64-19041.dmp");
    const nk_dump *d = &t->d;
    /* corpus README: triage, x64, build 19041, 16 CPUs, bugcheck 0x1000007E with these params */
    assert_int_equal(d->kind, NK_KIND_KERNEL_TRIAGE);
    assert_int_equal(d->arch, NK_ARCH_X64);
    assert_int_equal(d->machine, 0x8664);
    assert_int_equal(d->minor, 19041);
    assert_int_equal(d->nprocs, 16);
    assert_int_equal(d->bugcheck_code, 0x1000007E);
    assert_int_equal((uint32_t)d->bugcheck_params[0], 0xc0000005u);
    assert_int_equal(d->bugcheck_params[1], 0xfffff8048b58334cull);
    assert_int_equal(d->bugcheck_params[2], 0xffff850429891ee8ull);
    assert_int_equal(d->bugcheck_params[3], 0xffff850429891720ull);
    /* the header context at 0x348 is the trapping context, rsp ffff850429892120 (CONTEXT.Rsp
     * is at +0x98) */
    assert_true(d->ncontexts >= 1);
    assert_int_equal(d->contexts[0].len, 0x4d0);
    assert_ptr_equal(d->contexts[0].data, t->file.data + 0x348);
    assert_int_equal(nk_le64(d->contexts[0].data + 0x98), 0xffff850429892120ull);
    ntkd_close(t);
    ntkd_ctx_free(ctx);
}

static void test_corpus_triage_arm64(void **state)
{
    (void)state;
    ntkd_ctx *ctx = ntkd_ctx_new();
    ntkd_target *t = open_ok(ctx, KDIR "triage-arm64-22000.dmp");
    const nk_dump *d = &t->d;
    assert_int_equal(d->kind, NK_KIND_KERNEL_TRIAGE);
    assert_int_equal(d->arch, NK_ARCH_ARM64);
    assert_int_equal(d->machine, 0xaa64);
    assert_int_equal(d->minor, 22000);
    assert_int_equal(d->nprocs, 8);
    assert_int_equal(d->bugcheck_code, 0x1C8);
    assert_true(d->ncontexts >= 1);
    assert_int_equal(d->contexts[0].len, 0x390);
    ntkd_close(t);
    ntkd_ctx_free(ctx);
}

/* ---- generated dumps ---------------------------------------------------------------- */

typedef struct gcase {
    const char *kind, *arch, *extra;
    nk_dump_kind want_kind;
} gcase;

static const gcase cases[] = {
    {"full64", "x64", "", NK_KIND_KERNEL_FULL},
    {"full64", "arm64", "", NK_KIND_KERNEL_FULL},
    {"summary64", "x64", "", NK_KIND_KERNEL_SUMMARY},
    {"summary64", "arm64", "", NK_KIND_KERNEL_SUMMARY},
    {"bitmap64", "x64", "--dump-type 5", NK_KIND_KERNEL_BITMAP},
    {"bitmap64", "x64", "--dump-type 6", NK_KIND_KERNEL_BITMAP},
    {"bitmap64", "x64", "--dump-type 8", NK_KIND_KERNEL_BITMAP},
    {"bitmap64", "x64", "--dump-type 9", NK_KIND_KERNEL_BITMAP},
    {"bitmap64", "x64", "--dump-type 10", NK_KIND_KERNEL_BITMAP},
    {"bitmap64", "arm64", "--dump-type 5", NK_KIND_KERNEL_BITMAP},
    {"full32", "x86pae", "", NK_KIND_KERNEL_FULL},
    {"full32", "x86", "", NK_KIND_KERNEL_FULL},
    {"summary32", "x86pae", "", NK_KIND_KERNEL_SUMMARY},
    {"summary32", "x86", "", NK_KIND_KERNEL_SUMMARY},
};

static void case_path(const gcase *c, char *buf, size_t len, const char *suffix)
{
    const char *dt = strstr(c->extra, "--dump-type ");
    snprintf(buf, len, TMPDIR "/%s-%s%s%s%s.dmp", c->kind, c->arch, dt ? "-t" : "", dt ? dt + 12 : "",
             suffix ? suffix : "");
}

static void gen_case(const gcase *c, char *path, size_t len, uint64_t seed)
{
    case_path(c, path, len, NULL);
    char extra[160];
    snprintf(extra, sizeof extra, "--arch %s --pages 300 --seed %llu %s", c->arch, (unsigned long long)seed,
             c->extra);
    gen(c->kind, path, extra);
}

static nk_paging paging_of(const char *s)
{
    if (!strcmp(s, "x64")) return NK_PAGING_X64_4L;
    if (!strcmp(s, "pae")) return NK_PAGING_X86_PAE;
    if (!strcmp(s, "x86")) return NK_PAGING_X86;
    if (!strcmp(s, "arm64")) return NK_PAGING_ARM64_4K;
    return NK_PAGING_NONE;
}

/* Every header fact of the manifest against what the parser found. */
static void check_facts(const char *path, ntkd_target *t, const manifest *m, const gcase *c)
{
    const nk_dump *d = &t->d;
    const char *s;
    assert_int_equal(d->kind, c->want_kind);
    if ((s = mf_get(m, "dump_type"))) assert_int_equal(d->dump_type, num(s));
    if ((s = mf_get(m, "machine"))) assert_int_equal(d->machine, num(s));
    if ((s = mf_get(m, "dtb"))) assert_int_equal(d->dtb, num(s));
    if ((s = mf_get(m, "build"))) assert_int_equal(d->minor, num(s));
    if ((s = mf_get(m, "nprocs"))) assert_int_equal(d->nprocs, num(s));
    if ((s = mf_get(m, "paging"))) assert_int_equal(d->paging, paging_of(s));
    if ((s = mf_get(m, "arch"))) {
        nk_arch want = !strcmp(s, "x64") ? NK_ARCH_X64 : !strcmp(s, "arm64") ? NK_ARCH_ARM64 : NK_ARCH_X86;
        assert_int_equal(d->arch, want);
    }
    if ((s = mf_get(m, "bugcheck"))) {
        uint64_t v[5];
        assert_int_equal(nums(s, v, 5), 5);
        assert_true(d->has_bugcheck);
        assert_int_equal(d->bugcheck_code, v[0]);
        for (int i = 0; i < 4; i++) assert_int_equal(d->bugcheck_params[i], v[i + 1]);
    }
    for (size_t i = 0; i < m->n; i++) {
        char name[64];
        int at = 0;
        if (sscanf(m->lines[i], "header %63s %n", name, &at) != 1 || !at) continue;
        char val[256];
        snprintf(val, sizeof val, "%s", m->lines[i] + at);
        size_t vl = strlen(val);
        if (vl >= 2 && (val[0] == '"' || val[0] == '\'') && val[vl - 1] == val[0]) { /* quoted text */
            memmove(val, val + 1, vl - 2);
            val[vl - 2] = 0;
        }
        /* facts about the memory image, not the dump header: other layers check them */
        static const char *const image_facts[] = {"KernBase", "SelfMapIndex", "PteBase", "PdeBase", "CodeVa"};
        bool skip = false;
        for (size_t k = 0; k < sizeof image_facts / sizeof image_facts[0]; k++) skip |= !strcmp(name, image_facts[k]);
        if (skip) continue;
        if (!strcmp(name, "ExceptionCode")) {
            assert_true(d->exception.present);
            assert_int_equal(d->exception.code, num(val));
            continue;
        }
        const nk_hdr_field *f = field(d, NULL, name);
        if (!f) fail_msg("%s: header field %s of the manifest was not recorded", path, name);
        if (f->text && !f->width) assert_string_equal(f->text, val);
        else if (f->value != num(val))
            fail_msg("%s: header %s: manifest 0x%llx, parser 0x%llx", path, name, (unsigned long long)num(val),
                     (unsigned long long)f->value);
    }
    /* registers of the first context */
    bool any_reg = false;
    for (size_t i = 0; i < m->n; i++) {
        char name[32], val[64];
        if (sscanf(m->lines[i], "reg %31s %63s", name, val) != 2) continue;
        any_reg = true;
        assert_true(d->ncontexts >= 1);
        uint64_t v = 0;
        if (!nk_context_get(&d->contexts[0], name, &v)) fail_msg("%s: register %s not in the context", path, name);
        if (v != num(val)) fail_msg("%s: %s = 0x%llx, manifest 0x%llx", path, name, (unsigned long long)v, (unsigned long long)num(val));
    }
    if (any_reg) assert_string_equal(d->contexts[0].origin, "dump header");
    if ((s = mf_get(m, "exception"))) {
        uint64_t ex[2];
        assert_int_equal(nums(s, ex, 2), 2);
        uint64_t code = ex[0], addr = ex[1];
        assert_true(d->exception.present);
        assert_int_equal(d->exception.code, code);
        assert_int_equal(d->exception.address, addr);
    }
}

/* Every data page reads back with the pattern, every absent page is not present, and reads
 * across a present/absent boundary stop exactly there. */
static void check_pages(const char *path, ntkd_target *t, const manifest *m)
{
    uint64_t seed = mf_get(m, "seed") ? num(mf_get(m, "seed")) : 1;
    static uint8_t page[4096], want[4096];
    size_t ndata = 0, nabsent = 0, nedges = 0;
    /* the set of present and absent pfns, for the boundary reads */
    uint64_t *pres = calloc(m->n + 1, sizeof *pres), *abs = calloc(m->n + 1, sizeof *abs);
    size_t npres = 0, nabs = 0;
    for (size_t i = 0; i < m->n; i++) {
        unsigned long long pfn;
        char what[16];
        size_t got = 99;
        if (sscanf(m->lines[i], "phys %lli %15s", &pfn, what) == 2) {
            pres[npres++] = pfn;
            ntkd_status st = ntkd_read_phys(t, (uint64_t)pfn << 12, page, sizeof page, &got);
            if (st != NTKD_OK) fail_msg("%s: pfn 0x%llx (%s) not readable", path, pfn, what);
            assert_int_equal(got, sizeof page);
            if (strcmp(what, "data") == 0) {
                nk_gen_fill(seed, (uint64_t)pfn << 12, want, sizeof want);
                if (memcmp(page, want, sizeof page) != 0) fail_msg("%s: pfn 0x%llx has wrong bytes", path, pfn);
                ndata++;
            }
        } else if (sscanf(m->lines[i], "absent %lli", &pfn) == 1) {
            abs[nabs++] = pfn;
            assert_int_equal(ntkd_read_phys(t, (uint64_t)pfn << 12, page, 1, &got), NTKD_E_NOTPRESENT);
            assert_int_equal(got, 0);
            assert_int_equal(ntkd_read_phys(t, ((uint64_t)pfn << 12) + 0xff8, page, 8, &got), NTKD_E_NOTPRESENT);
            assert_int_equal(got, 0);
            nabsent++;
        }
    }
    for (size_t i = 0; i < npres; i++)
        for (size_t k = 0; k < nabs; k++) {
            size_t got = 99;
            if (abs[k] == pres[i] + 1) { /* present then absent: 16 bytes, then stop */
                assert_int_equal(ntkd_read_phys(t, (abs[k] << 12) - 16, page, 32, &got), NTKD_E_NOTPRESENT);
                assert_int_equal(got, 16);
                nedges++;
            } else if (pres[i] == abs[k] + 1) { /* absent then present: nothing */
                assert_int_equal(ntkd_read_phys(t, (pres[i] << 12) - 16, page, 32, &got), NTKD_E_NOTPRESENT);
                assert_int_equal(got, 0);
                nedges++;
            }
        }
    /* two adjacent data pages read across their boundary in one go */
    for (size_t i = 0; i + 1 < npres; i++)
        if (pres[i + 1] == pres[i] + 1) {
            size_t got = 0;
            uint8_t two[64];
            assert_int_equal(ntkd_read_phys(t, (pres[i + 1] << 12) - 32, two, 64, &got), NTKD_OK);
            assert_int_equal(got, 64);
            break;
        }
    free(pres);
    free(abs);
    if (!ndata) fail_msg("%s: the manifest lists no data pages", path);
    (void)nabsent;
    (void)nedges;
}

static void test_generated(void **state)
{
    (void)state;
    for (size_t c = 0; c < sizeof cases / sizeof cases[0]; c++) {
        char path[256];
        gen_case(&cases[c], path, sizeof path, 7 + c);
        manifest m = {0};
        if (!mf_load(&m, path)) fail_msg("%s: no manifest", path);
        ntkd_ctx *ctx = ntkd_ctx_new();
        ntkd_target *t = open_ok(ctx, path);
        for (size_t i = 0; i < ntkd_warning_count(t); i++)
            fail_msg("%s: unexpected warning: %s", path, ntkd_warning(t, i));
        check_facts(path, t, &m, &cases[c]);
        check_pages(path, t, &m);
        ntkd_close(t);
        ntkd_ctx_free(ctx);
        mf_free(&m);
    }
}

/* ---- hostile variants --------------------------------------------------------------- */

/* Truncation at every header boundary: before the header ends it is an error, after it a
 * warning (pages the file no longer holds read as not present, the rest still right). */
static void truncate_case(const gcase *c, const uint64_t *cuts, size_t ncuts, uint64_t hdr_size)
{
    char path[256];
    gen_case(c, path, sizeof path, 3);
    manifest m = {0};
    assert_true(mf_load(&m, path));
    size_t len = 0;
    uint8_t *raw = tu_slurp(path, &len);
    assert_non_null(raw);
    for (size_t i = 0; i < ncuts; i++) {
        uint64_t cut = cuts[i];
        if (cut == UINT64_MAX - 1) cut = hdr_size + 0x38 + (len > hdr_size + 0x100 ? 0x10 : 0); /* mid-bitmap */
        if (cut == UINT64_MAX) cut = len - 4096 - 100;                                     /* mid-data */
        if (cut >= len) continue;
        char tpath[300], sfx[32];
        snprintf(sfx, sizeof sfx, "-cut%llx", (unsigned long long)cut);
        case_path(c, tpath, sizeof tpath, sfx);
        spit(tpath, raw, (size_t)cut);
        ntkd_ctx *ctx = ntkd_ctx_new();
        ntkd_target *t = NULL;
        ntkd_status st = ntkd_open(ctx, tpath, NULL, &t);
        if (cut < 8) {
            assert_int_equal(st, NTKD_E_FORMAT);
            assert_non_null(strstr(ntkd_ctx_error(ctx), "not a Windows dump"));
        } else if (cut < hdr_size) {
            assert_int_equal(st, NTKD_E_TRUNCATED);
            assert_non_null(strstr(ntkd_ctx_error(ctx), "truncated at 0x"));
            assert_non_null(strstr(ntkd_ctx_error(ctx), hdr_size == 0x2000 ? "need 0x2000 bytes" : "need 0x1000 bytes"));
        } else {
            if (st != NTKD_OK) fail_msg("%s: %s", tpath, ntkd_ctx_error(ctx));
            if (!ntkd_warning_count(t)) fail_msg("%s: truncated at 0x%llx without a warning", tpath, (unsigned long long)cut);
        }
        if (t) ntkd_close(t);
        ntkd_ctx_free(ctx);
        open_hostile(tpath, &m, cut < hdr_size, true);
    }
    free(raw);
    mf_free(&m);
}

static void test_truncated(void **state)
{
    (void)state;
    const uint64_t cuts64[] = {0, 8, 0x88, 0x348, 0xf00, 0x1000, 0x2000, 0x2008, UINT64_MAX - 1, UINT64_MAX};
    const uint64_t cuts32[] = {0, 8, 0x64, 0x320, 0x7d0, 0xf88, 0x1000, 0x1008, UINT64_MAX - 1, UINT64_MAX};
    truncate_case(&cases[0], cuts64, 10, 0x2000);  /* full64 */
    truncate_case(&cases[2], cuts64, 10, 0x2000);  /* summary64 */
    truncate_case(&cases[4], cuts64, 10, 0x2000);  /* bitmap64 type 5 */
    truncate_case(&cases[10], cuts32, 10, 0x1000); /* full32 PAE */
    truncate_case(&cases[12], cuts32, 10, 0x1000); /* summary32 PAE */
}

static void put32(uint8_t *p, uint32_t v) { for (int i = 0; i < 4; i++) p[i] = (uint8_t)(v >> (8 * i)); }
static void put64(uint8_t *p, uint64_t v) { for (int i = 0; i < 8; i++) p[i] = (uint8_t)(v >> (8 * i)); }

typedef struct patch {
    const char *what;
    uint32_t off;
    uint8_t width;
    uint64_t value;
    int expect; /* 0: an error or a warning; 1: opens with a warning naming `needle`;
                   2: an error naming `needle` */
    const char *needle;
    bool moves; /* the damage moves page data: bytes may legitimately differ */
} patch;

static void patch_case(const gcase *c, const patch *ps, size_t n)
{
    char path[256];
    gen_case(c, path, sizeof path, 5);
    manifest m = {0};
    assert_true(mf_load(&m, path));
    size_t len = 0;
    uint8_t *raw = tu_slurp(path, &len);
    assert_non_null(raw);
    uint8_t *copy = malloc(len);
    for (size_t i = 0; i < n; i++) {
        memcpy(copy, raw, len);
        assert_true(ps[i].off + ps[i].width <= len);
        if (ps[i].width == 4) put32(copy + ps[i].off, (uint32_t)ps[i].value);
        else put64(copy + ps[i].off, ps[i].value);
        char tpath[300], sfx[48];
        snprintf(sfx, sizeof sfx, "-p%zu", i);
        case_path(c, tpath, sizeof tpath, sfx);
        spit(tpath, copy, len);
        if (ps[i].expect == 1) {
            ntkd_ctx *ctx = ntkd_ctx_new();
            ntkd_target *t = NULL;
            if (ntkd_open(ctx, tpath, NULL, &t) != NTKD_OK) fail_msg("%s (%s): %s", tpath, ps[i].what, ntkd_ctx_error(ctx));
            if (!has_warning(t, ps[i].needle)) {
                for (size_t k = 0; k < ntkd_warning_count(t); k++) print_message("  warning: %s\n", ntkd_warning(t, k));
                fail_msg("%s (%s): no warning mentioning \"%s\"", tpath, ps[i].what, ps[i].needle);
            }
            ntkd_close(t);
            ntkd_ctx_free(ctx);
        } else if (ps[i].expect == 2) {
            ntkd_ctx *ctx = ntkd_ctx_new();
            ntkd_target *t = NULL;
            if (ntkd_open(ctx, tpath, NULL, &t) == NTKD_OK) fail_msg("%s (%s): opened", tpath, ps[i].what);
            if (!strstr(ntkd_ctx_error(ctx), ps[i].needle)) fail_msg("%s (%s): error \"%s\"", tpath, ps[i].what, ntkd_ctx_error(ctx));
            ntkd_ctx_free(ctx);
        }
        open_hostile(tpath, &m, false, !ps[i].moves);
    }
    free(copy);
    free(raw);
    mf_free(&m);
}

static void test_corrupt(void **state)
{
    (void)state;
    /* DUMP_HEADER64: NumberOfRuns 0x88, NumberOfPages 0x90, runs {base, count} from 0x98;
     * MachineImageType 0x30, DumpType 0xf98. */
    const patch full64[] = {
        {"runs above what fits", 0x88, 4, 0x300, 1, "43 runs", false},
        {"runs never written", 0x88, 4, 0x45474150, 1, "NumberOfRuns", false},
        {"page count mismatch", 0x90, 8, 0x123456, 1, "NumberOfPages", false},
        {"first run huge", 0xa0, 8, 0xffffffffffffull, 1, "run", true},
        {"first run overflows", 0x98, 8, 0xfffffffffffffff0ull, 1, "overflows", false},
        {"second run overlaps the first", 0xa8, 8, 0, 0, NULL, true},
        {"bad DumpType", 0xf98, 4, 3, 2, "DumpType", false},
        {"garbage DumpType", 0xf98, 4, 0x45474150, 2, "DumpType", false},
        {"bad machine", 0x30, 4, 0x1234, 2, "MachineImageType", false},
    };
    patch_case(&cases[0], full64, sizeof full64 / sizeof full64[0]);
    /* BMP header at 0x2000: FirstPage +0x20, TotalPresentPages +0x28, Pages +0x30. */
    const patch bmp64[] = {
        {"bitmap larger than the file", 0x2030, 8, 0x7fffffffffull, 1, "bitmap", false},
        {"first page inside the header", 0x2020, 8, 0x2000, 1, "page data offset", false},
        {"first page unaligned", 0x2020, 8, 0x3010, 1, "page data offset", false},
        {"first page past the end", 0x2020, 8, 0x7fff0000000ull, 1, "bitmap", false},
        {"present count wrong", 0x2028, 8, 3, 1, "present", false},
        {"no pages", 0x2030, 8, 0, 1, "no pages", false},
        {"bad signature", 0x2000, 4, 0x41414141, 1, "signature", false},
    };
    patch_case(&cases[4], bmp64, sizeof bmp64 / sizeof bmp64[0]);
    /* DUMP_HEADER32: NumberOfRuns 0x64, NumberOfPages 0x68, runs {base, count} from 0x6c. */
    const patch full32[] = {
        {"runs above what fits", 0x64, 4, 0x1000, 1, "86 runs", false},
        {"page count mismatch", 0x68, 4, 0x5, 1, "NumberOfPages", false},
        {"first run huge", 0x70, 4, 0xffffffffu, 1, "run", true},
        {"second run overlaps", 0x74, 4, 0, 0, NULL, true},
        {"bad DumpType", 0xf88, 4, 7, 2, "DumpType", false},
        {"bad machine", 0x20, 4, 0x8664, 2, "MachineImageType", false},
    };
    patch_case(&cases[10], full32, sizeof full32 / sizeof full32[0]);
}

/* The generator's own damage (--corrupt): each opens with a warning; pages it still lists
 * read right, pages it marks absent are not present. */
static void gen_corrupt_case(const char *kind, const char *arch, const char *extra, const char *what,
                             bool data_kept)
{
    char path[256], args[256];
    snprintf(path, sizeof path, TMPDIR "/c-%s-%s-%s%s.dmp", kind, arch, what, extra[0] ? "-t" : "");
    snprintf(args, sizeof args, "--arch %s --pages 200 --seed 9 --corrupt %s %s", arch, what, extra);
    gen(kind, path, args);
    manifest m = {0};
    assert_true(mf_load(&m, path));
    ntkd_ctx *ctx = ntkd_ctx_new();
    ntkd_target *t = open_ok(ctx, path);
    if (!ntkd_warning_count(t)) fail_msg("%s: --corrupt %s opened without a warning", path, what);
    uint64_t seed = num(mf_get(&m, "seed"));
    static uint8_t page[4096], want[4096];
    for (size_t i = 0; i < m.n; i++) {
        unsigned long long pfn;
        char st[16];
        size_t got = 0;
        if (sscanf(m.lines[i], "phys %lli %15s", &pfn, st) == 2 && !strcmp(st, "data")) {
            ntkd_status rs = ntkd_read_phys(t, (uint64_t)pfn << 12, page, sizeof page, &got);
            if (data_kept && rs != NTKD_OK) fail_msg("%s: pfn 0x%llx lost", path, pfn);
            if (rs == NTKD_OK && data_kept) {
                nk_gen_fill(seed, (uint64_t)pfn << 12, want, sizeof want);
                if (memcmp(page, want, sizeof page)) fail_msg("%s: pfn 0x%llx wrong bytes", path, pfn);
            }
        } else if (sscanf(m.lines[i], "absent %lli", &pfn) == 1 && data_kept) {
            if (ntkd_read_phys(t, (uint64_t)pfn << 12, page, 1, &got) != NTKD_E_NOTPRESENT)
                fail_msg("%s: absent pfn 0x%llx reads", path, pfn);
        }
    }
    ntkd_close(t);
    ntkd_ctx_free(ctx);
    mf_free(&m);
}

static void test_gen_corrupt(void **state)
{
    (void)state;
    gen_corrupt_case("full64", "x64", "", "runs-past-eof", true);
    gen_corrupt_case("full64", "x64", "", "huge-counts", true);
    gen_corrupt_case("full64", "x64", "", "overlapping-runs", false);
    gen_corrupt_case("full64", "arm64", "", "runs-past-eof", true);
    gen_corrupt_case("full32", "x86pae", "", "runs-past-eof", true);
    gen_corrupt_case("full32", "x86", "", "huge-counts", true);
    gen_corrupt_case("full32", "x86pae", "", "overlapping-runs", false);
    gen_corrupt_case("bitmap64", "x64", "--dump-type 5", "bitmap-past-eof", true);
    gen_corrupt_case("bitmap64", "x64", "--dump-type 5", "huge-counts", true);
    gen_corrupt_case("bitmap64", "x64", "--dump-type 6", "bad-offsets", false);
    gen_corrupt_case("summary64", "x64", "", "bitmap-past-eof", true);
    gen_corrupt_case("summary32", "x86pae", "", "bitmap-past-eof", true);
    gen_corrupt_case("summary32", "x86", "", "bad-offsets", false);
}

/* Random byte damage in the headers: never a crash, never wrong page bytes. */
static void test_fuzz_headers(void **state)
{
    (void)state;
    const size_t which[] = {0, 2, 4, 10, 12};
    uint64_t rng = 0x1234567;
    for (size_t w = 0; w < sizeof which / sizeof which[0]; w++) {
        const gcase *c = &cases[which[w]];
        char path[256];
        gen_case(c, path, sizeof path, 11);
        manifest m = {0};
        assert_true(mf_load(&m, path));
        size_t len = 0;
        uint8_t *raw = tu_slurp(path, &len);
        uint8_t *copy = malloc(len);
        size_t hdr = strstr(c->kind, "32") ? 0x1000 : 0x2000;
        for (int iter = 0; iter < 40; iter++) {
            memcpy(copy, raw, len);
            for (int k = 0; k < 8; k++) {
                rng = nk_gen_mix(rng + 0x9e3779b97f4a7c15ull);
                size_t off = 8 + (size_t)(rng % (hdr + 0x80 - 8));
                if (off < len) copy[off] = (uint8_t)(rng >> 40);
            }
            char tpath[300];
            case_path(c, tpath, sizeof tpath, "-fuzz");
            spit(tpath, copy, len);
            open_hostile(tpath, &m, true, false);
        }
        free(copy);
        free(raw);
        mf_free(&m);
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_corpus_truncated_full),
        cmocka_unit_test(test_corpus_triage_x64),
        cmocka_unit_test(test_corpus_triage_arm64),
        cmocka_unit_test(test_generated),
        cmocka_unit_test(test_truncated),
        cmocka_unit_test(test_corrupt),
        cmocka_unit_test(test_gen_corrupt),
        cmocka_unit_test(test_fuzz_headers),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
