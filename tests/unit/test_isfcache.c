/* test_isfcache.c: the binary cache of parsed ISF tables (src/sym/isf_cache.c).
 * - Round trip: for two corpus kernel tables (17763 and 7601, 64-bit), the XP PAE table built
 *   next to ntkd-genscene (32-bit) and a small hand-written table, a table opened through the
 *   cache cold (a cache file appears) and warm (the file is used) answers every question
 *   exactly like the table parsed without a cache: every type id's info, every field, every
 *   enumerator, the name listing, every symbol by name, symbols by address, the identity.
 * - Hostile cache files: single flipped bytes all over the file, truncations, appended bytes,
 *   and files whose CRC is right but whose contents are not (every 32-bit word of the payload
 *   replaced with out-of-range values, then the CRC recomputed): every open still succeeds and
 *   gives the same answers as the source (ASan/UBSan watch the loads); a rejected file is
 *   rewritten and used on the next open.
 * - An unwritable cache directory and a cache file for another source are not used. */
#include <dirent.h>
#include <fcntl.h>
#include <lzma.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>

#include "sym/isf_int.h"
#include "test_util.h"
#include "isf_walk.h"

#define ISF_DIR NTKD_CORPUS "/isf/windows/ntkrnlmp.pdb"
#define ISF_17763 ISF_DIR "/8B11040A5928757B11390AC78F6B6925-1.json.xz"
#define ISF_7601 ISF_DIR "/339E74133576439CBCDF7E0229DA3773-1.json.xz"

static const char TINY[] =
    "{\"metadata\":{\"format\":\"6.1.0\",\"windows\":{\"pdb\":{\"GUID\":\"00112233445566778899aabbccddeeff\",\"age\":3,\"machine_type\":332}}},\n"
    " \"base_types\":{\"unsigned long\":{\"kind\":\"int\",\"size\":4,\"signed\":false,\"endian\":\"little\"},\n"
    "   \"unsigned char\":{\"kind\":\"char\",\"size\":1,\"signed\":false,\"endian\":\"little\"},\n"
    "   \"void\":{\"kind\":\"void\",\"size\":0,\"signed\":true,\"endian\":\"little\"},\n"
    "   \"pointer\":{\"kind\":\"int\",\"size\":4,\"signed\":false,\"endian\":\"little\"}},\n"
    " \"user_types\":{\n"
    "   \"_LIST_ENTRY\":{\"kind\":\"struct\",\"size\":8,\"fields\":{\n"
    "      \"Blink\":{\"offset\":4,\"type\":{\"kind\":\"pointer\",\"subtype\":{\"kind\":\"struct\",\"name\":\"_LIST_ENTRY\"}}},\n"
    "      \"Flink\":{\"offset\":0,\"type\":{\"kind\":\"pointer\",\"subtype\":{\"kind\":\"struct\",\"name\":\"_LIST_ENTRY\"}}}}},\n"
    "   \"_X\":{\"kind\":\"struct\",\"size\":40,\"fields\":{\n"
    "      \"Hi\":{\"offset\":0,\"type\":{\"kind\":\"bitfield\",\"bit_position\":4,\"bit_length\":28,\"type\":{\"kind\":\"base\",\"name\":\"unsigned long\"}}},\n"
    "      \"Links\":{\"offset\":4,\"type\":{\"kind\":\"struct\",\"name\":\"_LIST_ENTRY\"}},\n"
    "      \"Name\":{\"offset\":12,\"type\":{\"kind\":\"array\",\"count\":16,\"subtype\":{\"kind\":\"base\",\"name\":\"unsigned char\"}}},\n"
    "      \"Routine\":{\"offset\":28,\"type\":{\"kind\":\"pointer\",\"subtype\":{\"kind\":\"function\"}}},\n"
    "      \"Mode\":{\"offset\":32,\"type\":{\"kind\":\"enum\",\"name\":\"_MODE\"}},\n"
    "      \"Odd\":{\"offset\":36,\"type\":{\"kind\":\"base\",\"name\":\"mystery\"}},\n"
    "      \"Fwd\":{\"offset\":36,\"type\":{\"kind\":\"pointer\",\"subtype\":{\"kind\":\"struct\",\"name\":\"_NOT_DEFINED\"}}}}}},\n"
    " \"enums\":{\"_MODE\":{\"base\":\"unsigned long\",\"size\":4,\"constants\":{\"UserMode\":1,\"KernelMode\":0}}},\n"
    " \"symbols\":{\"Alpha\":{\"address\":4096},\"Beta\":{\"address\":8192},\"alpha\":{\"address\":12288}}}\n";

/* ---- comparing two tables through everything they answer ---------------------------------- */

static void same_str(const char *a, const char *b, const char *what, uint64_t id)
{
    if (!a || !b) {
        if (a != b) fail_msg("%s of id %llu: %s vs %s", what, (unsigned long long)id, a ? a : "NULL", b ? b : "NULL");
        return;
    }
    if (strcmp(a, b) != 0) fail_msg("%s of id %llu: %s vs %s", what, (unsigned long long)id, a, b);
}

typedef struct namelist {
    char **v;
    size_t n;
} namelist;

static bool collect(void *u, const char *name, uint64_t id)
{
    namelist *l = u;
    char buf[1100];
    snprintf(buf, sizeof buf, "%s#%llu", name, (unsigned long long)id);
    l->v = realloc(l->v, (l->n + 1) * sizeof *l->v);
    assert_non_null(l->v);
    l->v[l->n++] = strdup(buf);
    return true;
}

static void free_names(namelist *l)
{
    for (size_t i = 0; i < l->n; i++) free(l->v[i]);
    free(l->v);
}

static void compare(nk_isf *a, nk_isf *b)
{
    nk_typesrc *s = nk_isf_types(a), *t = nk_isf_types(b);
    assert_int_equal(s->ptr_size, t->ptr_size);
    assert_string_equal(s->origin, t->origin);
    assert_int_equal(a->ntypes, b->ntypes);
    for (uint64_t id = 0; id <= a->ntypes + 2; id++) {
        nk_tinfo x, y;
        bool ha = s->ops->info(s, id, &x), hb = t->ops->info(t, id, &y);
        assert_int_equal(ha, hb);
        if (!ha) continue;
        assert_int_equal(x.kind, y.kind);
        same_str(x.name, y.name, "name", id);
        same_str(x.c_name, y.c_name, "c_name", id);
        assert_int_equal(x.size, y.size);
        assert_int_equal(x.target, y.target);
        assert_int_equal(x.count, y.count);
        assert_int_equal(x.is_signed, y.is_signed);
        assert_int_equal(x.is_float, y.is_float);
        assert_int_equal(x.is_char, y.is_char);
        assert_int_equal(x.forward, y.forward);
        assert_int_equal(x.bit_pos, y.bit_pos);
        assert_int_equal(x.bit_len, y.bit_len);
        char d1[300], d2[300];
        assert_string_equal(nk_type_describe(s, id, d1, sizeof d1), nk_type_describe(t, id, d2, sizeof d2));
        for (size_t i = 0;; i++) {
            nk_tfield f, g;
            bool fa = s->ops->field(s, id, i, &f), fb = t->ops->field(t, id, i, &g);
            assert_int_equal(fa, fb);
            if (!fa) break;
            same_str(f.name, g.name, "field", id);
            assert_int_equal(f.offset, g.offset);
            assert_int_equal(f.type, g.type);
            assert_int_equal(f.is_bitfield, g.is_bitfield);
            assert_int_equal(f.bit_pos, g.bit_pos);
            assert_int_equal(f.bit_len, g.bit_len);
        }
        for (size_t i = 0;; i++) {
            const char *n1, *n2;
            int64_t v1, v2;
            bool ea = s->ops->enumerator(s, id, i, &n1, &v1), eb = t->ops->enumerator(t, id, i, &n2, &v2);
            assert_int_equal(ea, eb);
            if (!ea) break;
            same_str(n1, n2, "enumerator", id);
            assert_int_equal(v1, v2);
        }
        /* find by the type's own name gives the same id */
        if (x.name) {
            uint64_t i1 = 0, i2 = 0;
            bool f1 = s->ops->find(s, x.name, &i1), f2 = t->ops->find(t, x.name, &i2);
            assert_int_equal(f1, f2);
            assert_int_equal(i1, i2);
        }
    }
    namelist la = {0}, lb = {0};
    s->ops->each_name(s, "*", collect, &la);
    t->ops->each_name(t, "*", collect, &lb);
    assert_int_equal(la.n, lb.n);
    for (size_t i = 0; i < la.n; i++) assert_string_equal(la.v[i], lb.v[i]);
    free_names(&la);
    free_names(&lb);

    assert_int_equal(a->nsyms, b->nsyms);
    const char *name;
    uint64_t rva, maxrva = 0;
    for (size_t i = 0; nk_isf_symbol_at(a, i, &name, &rva); i++) {
        uint64_t r1 = 0, r2 = 0;
        assert_true(nk_isf_symbol(a, name, &r1));
        assert_true(nk_isf_symbol(b, name, &r2));
        assert_int_equal(r1, r2);
        for (int d = -1; d <= 1; d++) {
            const char *n1 = NULL, *n2 = NULL;
            uint64_t s1 = 0, s2 = 0;
            bool h1 = nk_isf_symbol_by_rva(a, rva + (uint64_t)(int64_t)d, &n1, &s1);
            bool h2 = nk_isf_symbol_by_rva(b, rva + (uint64_t)(int64_t)d, &n2, &s2);
            assert_int_equal(h1, h2);
            if (h1) {
                assert_string_equal(n1, n2);
                assert_int_equal(s1, s2);
            }
        }
        if (rva > maxrva) maxrva = rva;
    }
    for (uint64_t r = 0; r < maxrva + 0x10000; r += 0x1357) {
        const char *n1 = NULL, *n2 = NULL;
        uint64_t s1 = 0, s2 = 0;
        bool h1 = nk_isf_symbol_by_rva(a, r, &n1, &s1), h2 = nk_isf_symbol_by_rva(b, r, &n2, &s2);
        assert_int_equal(h1, h2);
        if (h1) {
            assert_string_equal(n1, n2);
            assert_int_equal(s1, s2);
        }
    }
    uint64_t r1, r2;
    assert_int_equal(nk_isf_symbol(a, "NoSuchSymbolAnywhere", &r1), nk_isf_symbol(b, "NoSuchSymbolAnywhere", &r2));
    char g1[33], g2[33];
    uint32_t a1, a2;
    bool i1 = nk_isf_identity(a, g1, &a1), i2 = nk_isf_identity(b, g2, &a2);
    assert_int_equal(i1, i2);
    if (i1) {
        assert_string_equal(g1, g2);
        assert_int_equal(a1, a2);
    }
}

/* ---- helpers --------------------------------------------------------------------------------- */

static void mk_tmp(char *dir, size_t len)
{
    snprintf(dir, len, "/tmp/ntkd-isfcache-XXXXXX");
    assert_non_null(mkdtemp(dir));
}

/* The one cache file in dir (path into out); false when there is none. */
static bool cache_file(const char *dir, char *out, size_t len)
{
    DIR *d = opendir(dir);
    if (!d) return false;
    struct dirent *e;
    int n = 0;
    while ((e = readdir(d)))
        if (!strncmp(e->d_name, "isf-", 4) && strlen(e->d_name) > 8 && !strcmp(e->d_name + strlen(e->d_name) - 4, ".bin")) {
            snprintf(out, len, "%s/%s", dir, e->d_name);
            n++;
        }
    closedir(d);
    assert_true(n <= 1);
    return n == 1;
}

static void write_bytes(const char *path, const void *b, size_t n)
{
    FILE *f = fopen(path, "wb");
    assert_non_null(f);
    if (n) assert_int_equal(fwrite(b, 1, n, f), n);
    assert_int_equal(fclose(f), 0);
}

/* Opens through the cache; asserts success and whether the cache was used. */
static nk_isf *open_c(ntkd_ctx *ctx, const char *path, const char *dir, int want_hit)
{
    nk_isf *x = NULL;
    bool hit = false;
    nk_status st = nk_isf_open_cached_ex(ctx, path, dir, &x, &hit);
    if (st != NTKD_OK) fail_msg("%s: %s", path, ntkd_ctx_error(ctx));
    if (want_hit >= 0 && hit != (want_hit != 0)) fail_msg("%s: cache %s, expected %s", path, hit ? "used" : "not used", want_hit ? "used" : "not used");
    return x;
}

static void roundtrip(const char *path)
{
    ntkd_ctx *ctx = ntkd_ctx_new();
    char dir[64], cf[600];
    mk_tmp(dir, sizeof dir);
    nk_isf *ref = NULL;
    if (nk_isf_open(ctx, path, &ref) != NTKD_OK) fail_msg("%s: %s", path, ntkd_ctx_error(ctx));
    assert_false(cache_file(dir, cf, sizeof cf));
    nk_isf *cold = open_c(ctx, path, dir, 0);
    assert_true(cache_file(dir, cf, sizeof cf));
    struct stat sb;
    assert_int_equal(stat(cf, &sb), 0);
    assert_int_equal(sb.st_mode & 0777, 0600);
    nk_isf *warm = open_c(ctx, path, dir, 1);
    compare(ref, cold);
    compare(ref, warm);
    nk_isf_close(cold);
    nk_isf_close(warm);
    nk_isf_close(ref);
    tu_rmdir_r(dir);
    ntkd_ctx_free(ctx);
}

static void tiny_path(char *dir, size_t dlen, char *path, size_t plen)
{
    mk_tmp(dir, dlen);
    snprintf(path, plen, "%s/tiny.json", dir);
    write_bytes(path, TINY, strlen(TINY));
}

/* ---- tests ------------------------------------------------------------------------------------ */

static void test_roundtrip_17763(void **state)
{
    (void)state;
    roundtrip(ISF_17763);
}

static void test_roundtrip_7601(void **state)
{
    (void)state;
    roundtrip(ISF_7601);
}

static void test_roundtrip_xp(void **state)
{
    (void)state;
    char xp[1024];
    assert_non_null(tu_xp_table(xp, sizeof xp));
    if (access(xp, R_OK) != 0) {
        print_message("no XP table at %s (built with ntkd-genscene): skipped\n", xp);
        skip();
    }
    ntkd_ctx *ctx = ntkd_ctx_new();
    nk_isf *x;
    assert_int_equal(nk_isf_open(ctx, xp, &x), NTKD_OK);
    assert_int_equal(nk_isf_types(x)->ptr_size, 4);
    nk_isf_close(x);
    ntkd_ctx_free(ctx);
    roundtrip(xp);
}

static void test_roundtrip_tiny(void **state)
{
    (void)state;
    char dir[64], path[128];
    tiny_path(dir, sizeof dir, path, sizeof path);
    roundtrip(path);
    tu_rmdir_r(dir);
}

/* Rewrites the image's CRC after an edit. */
static void fix_crc(uint8_t *img, size_t n)
{
    uint64_t c = lzma_crc64(img, 144, 0);
    c = lzma_crc64(img + 152, n - 152, c);
    memcpy(img + 144, &c, 8);
}

static void test_corrupt_files(void **state)
{
    (void)state;
    char dir[64], path[128], cf[600];
    tiny_path(dir, sizeof dir, path, sizeof path);
    ntkd_ctx *ctx = ntkd_ctx_new();
    nk_isf *ref;
    assert_int_equal(nk_isf_open(ctx, path, &ref), NTKD_OK);
    nk_isf_close(open_c(ctx, path, dir, 0));
    assert_true(cache_file(dir, cf, sizeof cf));
    size_t n;
    uint8_t *good = tu_slurp(cf, &n);
    assert_non_null(good);
    assert_true(n > 152);
    uint8_t *img = malloc(n + 64);
    assert_non_null(img);
    size_t cases = 0;

    /* one flipped byte at every offset (header, each section, the names) */
    for (size_t off = 0; off < n; off++) {
        memcpy(img, good, n);
        img[off] ^= (uint8_t)(1u << (off % 8));
        write_bytes(cf, img, n);
        nk_isf *x = open_c(ctx, path, dir, 0);
        compare(ref, x);
        nk_isf_close(x);
        cases++;
    }
    /* the file was rewritten after the last miss: it is used again */
    nk_isf_close(open_c(ctx, path, dir, 1));

    /* truncations and appended bytes */
    size_t cuts[] = {0, 1, 7, 8, 100, 151, 152, 153, n / 2, n - 9, n - 1};
    for (size_t i = 0; i < sizeof cuts / sizeof cuts[0]; i++) {
        write_bytes(cf, good, cuts[i]);
        nk_isf *x = open_c(ctx, path, dir, 0);
        compare(ref, x);
        nk_isf_close(x);
        cases++;
    }
    memcpy(img, good, n);
    memset(img + n, 0x41, 64);
    write_bytes(cf, img, n + 64);
    nk_isf *x = open_c(ctx, path, dir, 0);
    compare(ref, x);
    nk_isf_close(x);

    /* a CRC-correct file with an out-of-range field type: the loader refuses it, the open
     * falls back to the source */
    memcpy(img, good, n);
    uint32_t counts[9];
    memcpy(counts, img + 40, sizeof counts); /* count[] follows magic, version, bom, 3 x u64 */
    assert_int_equal(counts[0], ref->ntypes);
    assert_true(counts[1] > 0);
    size_t fields_at = 152 + (((size_t)counts[0] * 48 + 7) & ~(size_t)7);
    uint32_t bad = counts[0] + 1;
    memcpy(img + fields_at + 12, &bad, 4); /* isfc_field: offset u64, name u32, type u32 */
    fix_crc(img, n);
    x = NULL;
    assert_int_not_equal(nk_isf_cache_load_mem(ctx, "t", img, n, false, 0, 0, &x), NTKD_OK);
    assert_null(x);
    write_bytes(cf, img, n);
    x = open_c(ctx, path, dir, 0);
    compare(ref, x);
    nk_isf_close(x);

    /* CRC-correct crafted files: each payload word replaced by hostile values. Whatever the
     * loader accepts must be safe to use (ASan/UBSan), and the file path falls back. */
    static const uint32_t vals[] = {0, 1, 0x7f, 0xff, 0xffff, 0x7fffffff, 0xffffffffu, 0xfffffffe};
    size_t accepted = 0;
    for (size_t off = 0; off + 4 <= n; off += 4) {
        for (size_t v = 0; v < sizeof vals / sizeof vals[0]; v++) {
            if (off >= 144 && off < 152) continue; /* the CRC itself */
            memcpy(img, good, n);
            uint32_t w = vals[v];
            if (off >= 152 && v == 1) memcpy(&w, good + off, 4), w += counts[0];
            memcpy(img + off, &w, 4);
            fix_crc(img, n);
            x = NULL;
            if (nk_isf_cache_load_mem(ctx, "t", img, n, false, 0, 0, &x) == NTKD_OK) {
                isf_walk(x);
                nk_isf_close(x);
                accepted++;
            }
            cases++;
        }
    }
    print_message("%zu corrupt cases, %zu crafted images accepted (harmless values)\n", cases, accepted);
    /* crafted words through the file path too (a sample): a refused file gives the source's
     * answers; one the loader accepts (a CRC-correct size or RVA is data, not structure) is
     * only required to be safe */
    for (size_t off = 152; off < n; off += 97) {
        memcpy(img, good, n);
        uint32_t w = 0xfffffff0u;
        memcpy(img + off - off % 4, &w, 4);
        fix_crc(img, n);
        write_bytes(cf, img, n);
        bool hit = false;
        x = NULL;
        assert_int_equal(nk_isf_open_cached_ex(ctx, path, dir, &x, &hit), NTKD_OK);
        if (hit) isf_walk(x);
        else compare(ref, x);
        nk_isf_close(x);
    }
    free(img);
    free(good);
    nk_isf_close(ref);
    ntkd_ctx_free(ctx);
    tu_rmdir_r(dir);
}

static void test_unwritable_dir(void **state)
{
    (void)state;
    char dir[64], path[128], cdir[200];
    tiny_path(dir, sizeof dir, path, sizeof path);
    ntkd_ctx *ctx = ntkd_ctx_new();
    nk_isf *ref;
    assert_int_equal(nk_isf_open(ctx, path, &ref), NTKD_OK);
    /* a directory under a regular file can never be made */
    snprintf(cdir, sizeof cdir, "%s/sub/cache", path);
    nk_isf *x = open_c(ctx, path, cdir, 0);
    compare(ref, x);
    nk_isf_close(x);
    x = open_c(ctx, path, cdir, 0);
    nk_isf_close(x);
    /* an empty or NULL directory: no cache at all */
    x = open_c(ctx, path, "", 0);
    compare(ref, x);
    nk_isf_close(x);
    x = open_c(ctx, path, NULL, 0);
    nk_isf_close(x);
    /* a missing source is an error as without the cache */
    assert_int_not_equal(nk_isf_open_cached(ctx, "/nonexistent/x.json", dir, &x), NTKD_OK);
    assert_null(x);
    nk_isf_close(ref);
    ntkd_ctx_free(ctx);
    tu_rmdir_r(dir);
}

/* A cache file for one source, placed under another source's name, is not used. */
static void test_other_source(void **state)
{
    (void)state;
    char dir[64], path[128], path2[140], cf[600], cf2[600];
    tiny_path(dir, sizeof dir, path, sizeof path);
    /* the same table with one symbol moved: another key */
    snprintf(path2, sizeof path2, "%s/tiny2.json", dir);
    char *t2 = strdup(TINY);
    char *p = strstr(t2, "\"address\":8192");
    assert_non_null(p);
    p[strlen("\"address\":8")] = '3'; /* 8392 */
    write_bytes(path2, t2, strlen(t2));
    free(t2);
    char cdir[100], cdir2[100];
    snprintf(cdir, sizeof cdir, "%s/c1", dir);
    snprintf(cdir2, sizeof cdir2, "%s/c2", dir);
    ntkd_ctx *ctx = ntkd_ctx_new();
    nk_isf_close(open_c(ctx, path, cdir, 0));
    nk_isf_close(open_c(ctx, path2, cdir2, 0));
    assert_true(cache_file(cdir, cf, sizeof cf));
    assert_true(cache_file(cdir2, cf2, sizeof cf2));
    assert_string_not_equal(strrchr(cf, '/'), strrchr(cf2, '/'));
    /* table 1's cache under table 2's name */
    assert_int_equal(rename(cf, cf2), 0);
    nk_isf *ref2;
    assert_int_equal(nk_isf_open(ctx, path2, &ref2), NTKD_OK);
    nk_isf *x = open_c(ctx, path2, cdir2, 0);
    compare(ref2, x);
    uint64_t rva;
    assert_true(nk_isf_symbol(x, "Beta", &rva));
    assert_int_equal(rva, 8392);
    nk_isf_close(x);
    nk_isf_close(open_c(ctx, path2, cdir2, 1));
    nk_isf_close(ref2);
    ntkd_ctx_free(ctx);
    tu_rmdir_r(dir);
}

/* A writer that died leaves its temporary file: the next write into the directory removes it
 * once it is an hour old; a recent one (a writer at work) and every other file stay. */
static void test_stale_temp(void **state)
{
    (void)state;
    char dir[64], path[128], cdir[100], old[160], fresh[160], other[160];
    tiny_path(dir, sizeof dir, path, sizeof path);
    snprintf(cdir, sizeof cdir, "%s/c", dir);
    assert_int_equal(mkdir(cdir, 0700), 0);
    snprintf(old, sizeof old, "%s/.isf-AbC123", cdir);
    snprintf(fresh, sizeof fresh, "%s/.isf-XyZ789", cdir);
    snprintf(other, sizeof other, "%s/.isf-notmine.txt", cdir);
    write_bytes(old, "x", 1);
    write_bytes(fresh, "x", 1);
    write_bytes(other, "x", 1);
    struct timespec two_hours_ago[2] = {{time(NULL) - 7200, 0}, {time(NULL) - 7200, 0}};
    assert_int_equal(utimensat(AT_FDCWD, old, two_hours_ago, 0), 0);
    assert_int_equal(utimensat(AT_FDCWD, other, two_hours_ago, 0), 0);
    ntkd_ctx *ctx = ntkd_ctx_new();
    nk_isf_close(open_c(ctx, path, cdir, 0)); /* a miss: the table is written */
    assert_int_not_equal(access(old, F_OK), 0);
    assert_int_equal(access(fresh, F_OK), 0);
    assert_int_equal(access(other, F_OK), 0);
    nk_isf_close(open_c(ctx, path, cdir, 1));
    ntkd_ctx_free(ctx);
    tu_rmdir_r(dir);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_roundtrip_tiny),
        cmocka_unit_test(test_roundtrip_17763),
        cmocka_unit_test(test_roundtrip_7601),
        cmocka_unit_test(test_roundtrip_xp),
        cmocka_unit_test(test_corrupt_files),
        cmocka_unit_test(test_unwritable_dir),
        cmocka_unit_test(test_other_source),
        cmocka_unit_test(test_stale_temp),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
