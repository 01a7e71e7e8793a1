/* test_paging.c: virtual-to-physical translation, software PTEs, !pte flag letters and the
 * raw-image root scan.
 *  - Flag letters, pfns, software-PTE states and protection names against WinDbg's own
 *    output in the seeds (002: x64 Win8.1 and x86 PAE !pte; 004: XP PAE !pte).
 *  - Self-map entry addresses against the seeds, on small raw images this test builds with
 *    the seed's table indices.
 *  - Every `map`, `nomap` and `pte` fact of the generator's manifests (x64 full and bitmap,
 *    ARM64, x86 PAE, x86, raw), every byte of every mapped data page read through
 *    ntkd_read_virt against the content pattern, and the raw scan's root against the
 *    manifest's dtb. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "gen/pattern.h"
#include "mem/mem.h"

/* ---- helpers ---------------------------------------------------------------------- */

static ntkd_target *fake_target(nk_arch arch, nk_paging p, uint32_t build)
{
    ntkd_target *t = calloc(1, sizeof *t);
    assert_non_null(t);
    t->d.arch = arch;
    t->d.paging = p;
    t->d.minor = build;
    t->d.is64 = arch != NK_ARCH_X86;
    return t;
}

static void check_flags(const ntkd_target *t, uint64_t pte, bool is_pde, const char *want,
                        uint64_t want_pfn)
{
    char buf[12];
    assert_string_equal(nk_pte_flags(t, pte, is_pde, buf), want);
    assert_int_equal(nk_pte_pfn(t, pte), want_pfn);
}

/* ---- seeds: flags, pfns, software PTEs --------------------------------------------- */

/* seed 002, `!pte ffffc00002b737a0` on x64 Windows 8.1 (2014) */
static void seed002_x64(void **state)
{
    (void)state;
    ntkd_target *t = fake_target(NK_ARCH_X64, NK_PAGING_X64_4L, 9600);
    check_flags(t, 0x000000000134F863ull, true, "---DA--KWEV", 0x134f);
    check_flags(t, 0x0000000001DCE863ull, true, "---DA--KWEV", 0x1dce);
    check_flags(t, 0x00000001257C2863ull, true, "---DA--KWEV", 0x1257c2);
    nk_swpte sw;
    nk_pte_decode(t, 0xFB40000129FE9882ull, &sw);
    assert_int_equal(sw.kind, NK_SWPTE_TRANSITION);
    assert_int_equal(sw.pfn, 0x129fe9);
    assert_int_equal(sw.protection, 4);
    assert_string_equal(nk_pte_protection_name(sw.protection), "ReadWrite");
    free(t);
}

/* seed 002, `!pte 0xaf792cac` on x86 PAE (Windows 7 era): an outswapped kernel stack */
static void seed002_x86pae(void **state)
{
    (void)state;
    ntkd_target *t = fake_target(NK_ARCH_X86, NK_PAGING_X86_PAE, 7601);
    check_flags(t, 0x000000005402F863ull, true, "---DA--KWEV", 0x5402f);
    nk_swpte sw;
    nk_pte_decode(t, 0x00000000A5129BE2ull, &sw);
    assert_int_equal(sw.kind, NK_SWPTE_TRANSITION);
    assert_int_equal(sw.pfn, 0xa5129);
    assert_int_equal(sw.protection, 0x1f);
    assert_string_equal(nk_pte_protection_name(sw.protection), "Outswapped kernel stack");
    free(t);
}

/* seed 004: XP PAE `!pte 0xf9a10054`, `!pte b8ae900c`, `!pte 8054099e` */
static void seed004_xp_pae(void **state)
{
    (void)state;
    ntkd_target *t = fake_target(NK_ARCH_X86, NK_PAGING_X86_PAE, 2600);
    check_flags(t, 0x000000000102D963ull, true, "-G-DA--KWEV", 0x102d);
    check_flags(t, 0x0000000002010121ull, false, "-G--A--KREV", 0x2010);
    check_flags(t, 0x000000000B880863ull, true, "---DA--KWEV", 0xb880);
    check_flags(t, 0x00000000004009E3ull, true, "-GLDA--KWEV", 0x400);
    nk_swpte sw;
    nk_pte_decode(t, 0x000B8AF500000000ull, &sw);
    assert_int_equal(sw.kind, NK_SWPTE_PAGEFILE);
    assert_int_equal(sw.pagefile, 0);
    assert_int_equal(sw.pagefile_off, 0xb8af5);
    assert_int_equal(sw.protection, 0);
    assert_string_equal(nk_pte_protection_name(0), "");
    free(t);
}

/* The protection names WinDbg prints for the base codes, and the zero PTE. */
static void protection_names(void **state)
{
    (void)state;
    static const char *const want[8] = {"", "ReadOnly", "Execute", "ExecuteRead", "ReadWrite",
                                        "WriteCopy", "ExecuteReadWrite", "ExecuteWriteCopy"};
    for (uint32_t i = 0; i < 8; i++) assert_string_equal(nk_pte_protection_name(i), want[i]);
    ntkd_target *t = fake_target(NK_ARCH_X64, NK_PAGING_X64_4L, 19041);
    nk_swpte sw;
    nk_pte_decode(t, 0, &sw);
    assert_int_equal(sw.kind, NK_SWPTE_ZERO);
    /* 19041 (_MMPTE_SOFTWARE: Protection@5:5, PageFileLow@12:4, PageFileHigh@32:32;
       _MMPTE_PROTOTYPE: Prototype@10, ProtoAddress@16:48) */
    nk_pte_decode(t, (0x1234ull << 32) | (2ull << 12) | (4u << 5) | 0x10, &sw);
    assert_int_equal(sw.kind, NK_SWPTE_PAGEFILE);
    assert_int_equal(sw.pagefile, 2);
    assert_int_equal(sw.pagefile_off, 0x1234);
    assert_int_equal(sw.protection, 4);
    nk_pte_decode(t, (4u << 5) | 0x10, &sw);
    assert_int_equal(sw.kind, NK_SWPTE_DEMAND_ZERO);
    nk_pte_decode(t, (0xffffa00012345678ull << 16) | (1u << 10) | (1u << 5), &sw);
    assert_int_equal(sw.kind, NK_SWPTE_PROTOTYPE);
    assert_int_equal(sw.proto_addr, 0xffffa00012345678ull);
    free(t);
}

/* ---- seeds: self-map addresses on hand-built raw images ----------------------------- */

typedef struct img {
    uint8_t *b;
    size_t pages;
} img;

static void put64(img *m, uint64_t pfn, unsigned idx, uint64_t v)
{
    assert_true(pfn < m->pages);
    for (int i = 0; i < 8; i++) m->b[pfn * 4096 + idx * 8 + (unsigned)i] = (uint8_t)(v >> (8 * i));
}
static void put32(img *m, uint64_t pfn, unsigned idx, uint32_t v)
{
    assert_true(pfn < m->pages);
    for (int i = 0; i < 4; i++) m->b[pfn * 4096 + idx * 4 + (unsigned)i] = (uint8_t)(v >> (8 * i));
}

static ntkd_target *open_img(ntkd_ctx *ctx, const img *m, const char *arch, char *path)
{
    strcpy(path, "/tmp/ntkd-paging-XXXXXX");
    int fd = mkstemp(path);
    assert_true(fd >= 0);
    assert_int_equal(write(fd, m->b, m->pages * 4096), (ssize_t)(m->pages * 4096));
    close(fd);
    ntkd_open_opts o = {.raw = true, .arch = arch};
    ntkd_target *t = NULL;
    assert_int_equal(ntkd_open(ctx, path, &o, &t), NTKD_OK);
    return t;
}

/* x64 with the Windows 7/8.1 self-map index 0x1ed: seed 002's !pte addresses. */
static void seed002_selfmap_x64(void **state)
{
    (void)state;
    img m = {calloc(8, 4096), 8};
    const uint64_t va = 0xffffc00002b737a0ull;
    put64(&m, 1, 0x1ed, (1ull << 12) | 0x63);                 /* self-reference */
    put64(&m, 1, (va >> 39) & 0x1ff, (2ull << 12) | 0x63);
    put64(&m, 2, (va >> 30) & 0x1ff, (3ull << 12) | 0x63);
    put64(&m, 3, (va >> 21) & 0x1ff, (4ull << 12) | 0x63);
    put64(&m, 4, (va >> 12) & 0x1ff, 0xFB40000129FE9882ull);   /* the seed's transition PTE */
    put64(&m, 4, ((va >> 12) & 0x1ff) + 1, (5ull << 12) | 0x63);
    ntkd_ctx *ctx = ntkd_ctx_new();
    char path[64];
    ntkd_target *t = open_img(ctx, &m, "x64", path);
    assert_int_equal(t->d.dtb, 0x1000);
    nk_walk w;
    assert_int_equal(nk_vtop_walk(t, t->d.dtb, va, &w), NTKD_E_NOTPRESENT);
    assert_int_equal(w.result, NK_WALK_INVALID);
    assert_int_equal(w.nlevels, 4);
    assert_int_equal(w.lvl[0].entry_va, 0xFFFFF6FB7DBEDC00ull);
    assert_int_equal(w.lvl[1].entry_va, 0xFFFFF6FB7DB80000ull);
    assert_int_equal(w.lvl[2].entry_va, 0xFFFFF6FB700000A8ull);
    assert_int_equal(w.lvl[3].entry_va, 0xFFFFF6E000015B98ull);
    assert_string_equal(w.lvl[0].name, "PXE");
    assert_string_equal(w.lvl[3].name, "PTE");
    assert_int_equal(w.lvl[3].value, 0xFB40000129FE9882ull);
    /* the next page is mapped: reading through it gives the image bytes at pfn 5 */
    uint64_t pa;
    assert_int_equal(nk_vtop(t, va + 0x1000, &pa), NTKD_OK);
    assert_int_equal(pa, 0x5000 | (va & 0xfff));
    /* `!pte` given the PTE's address means the address it maps */
    uint64_t back;
    assert_true(nk_pte_addr_to_va(t, 0xFFFFF6E000015B98ull, &back));
    assert_int_equal(back, va & ~0xfffull);
    /* not canonical */
    assert_int_equal(nk_vtop_walk(t, t->d.dtb, 0x0000800000000000ull, &w), NTKD_E_NOTPRESENT);
    assert_int_equal(w.result, NK_WALK_NONCANONICAL);
    ntkd_close(t);
    ntkd_ctx_free(ctx);
    unlink(path);
    free(m.b);
}

/* x86 PAE: seed 002's `!pte 0xaf792cac` prints PDE at C0602BD8, PTE at C057BC90. */
static void seed002_selfmap_pae(void **state)
{
    (void)state;
    img m = {calloc(8, 4096), 8};
    const uint64_t va = 0xaf792cac;
    for (unsigned i = 0; i < 4; i++) {
        put64(&m, 1, i, ((2ull + i) << 12) | 1);          /* PDPT at 0x1000 -> PDs at 2..5 */
        put64(&m, 5, i, ((2ull + i) << 12) | 0x63);       /* PD3[0..3]: the self-map */
    }
    put64(&m, 2 + (va >> 30), (va >> 21) & 0x1ff, (6ull << 12) | 0x863);
    put64(&m, 6, (va >> 12) & 0x1ff, 0x00000000A5129BE2ull);
    ntkd_ctx *ctx = ntkd_ctx_new();
    char path[64];
    ntkd_target *t = open_img(ctx, &m, "x86pae", path);
    assert_int_equal(t->d.paging, NK_PAGING_X86_PAE);
    assert_int_equal(t->d.dtb, 0x1000);
    nk_walk w;
    nk_vtop_walk(t, t->d.dtb, va, &w);
    assert_int_equal(w.result, NK_WALK_INVALID);
    assert_int_equal(w.nlevels, 3);
    assert_int_equal(w.lvl[1].entry_va, 0xC0602BD8ull);
    assert_int_equal(w.lvl[2].entry_va, 0xC057BC90ull);
    assert_int_equal(w.lvl[2].value, 0xA5129BE2ull);
    ntkd_close(t);
    ntkd_ctx_free(ctx);
    unlink(path);
    free(m.b);
}

/* x86 non-PAE: WinDbg prints "PDE at C0300000 PTE at C0000AFC" for VA 002bf810 (a public
 * !pte transcript of an x86 system); 4 MB pages. */
static void selfmap_x86(void **state)
{
    (void)state;
    img m = {calloc(8, 4096), 8};
    const uint64_t va = 0x002bf810;
    put32(&m, 1, 0x300, (1u << 12) | 0x63);      /* self-map */
    put32(&m, 1, 0x200, (3u << 12) | 0x63);      /* a kernel-half table */
    put32(&m, 1, 0, (2u << 12) | 0x67);
    put32(&m, 2, (va >> 12) & 0x3ff, (7u << 12) | 0x25);
    put32(&m, 1, 0x201, 0x00400000u | 0x1e3);    /* 4 MB page at 0x400000 for 0x80400000 */
    ntkd_ctx *ctx = ntkd_ctx_new();
    char path[64];
    ntkd_target *t = open_img(ctx, &m, "x86", path);
    assert_int_equal(t->d.dtb, 0x1000);
    nk_walk w;
    assert_int_equal(nk_vtop_walk(t, t->d.dtb, va, &w), NTKD_OK);
    assert_int_equal(w.lvl[0].entry_va, 0xC0300000ull);
    assert_int_equal(w.lvl[1].entry_va, 0xC0000AFCull);
    assert_int_equal(w.pa, 0x7000 | (va & 0xfff));
    assert_int_equal(w.page_size, 0x1000);
    assert_int_equal(nk_vtop_walk(t, t->d.dtb, 0x80412345, &w), NTKD_OK);
    assert_int_equal(w.pa, 0x412345);
    assert_int_equal(w.page_size, 0x400000);
    char buf[12];
    assert_string_equal(nk_pte_flags(t, w.lvl[0].value, true, buf), "-GLDA--KWEV");
    /* the same transcript: PDE 7B314867 "pfn 7b314 ---DA--UWEV", PTE 7EDE6025
       "pfn 7ede6 ----A--UREV" (no NX bit without PAE: E always shows) */
    check_flags(t, 0x7B314867, true, "---DA--UWEV", 0x7b314);
    check_flags(t, 0x7EDE6025, false, "----A--UREV", 0x7ede6);
    ntkd_close(t);
    ntkd_ctx_free(ctx);
    unlink(path);
    free(m.b);
}

/* ---- generator manifests -------------------------------------------------------------- */

typedef struct fact {
    char kind[8];   /* map nomap pte */
    uint64_t va, a; /* map: pa; pte: raw value */
    uint64_t size;  /* map: page size */
    char what[16];  /* nomap: invalid|notindump; pte: kind */
} fact;

typedef struct manifest {
    uint64_t dtb, seed;
    char paging[16], arch[16];
    fact *f;
    size_t nf;
    uint64_t *data; /* sorted pfns of data pages */
    size_t ndata;
} manifest;

static int cmp_u64(const void *a, const void *b)
{
    uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
    return x < y ? -1 : x > y;
}

static uint64_t page_size_of(const char *s)
{
    if (!strcmp(s, "4k")) return 0x1000;
    if (!strcmp(s, "2m")) return 0x200000;
    if (!strcmp(s, "4m")) return 0x400000;
    if (!strcmp(s, "1g")) return 0x40000000;
    fail_msg("unknown page size %s", s);
    return 0;
}

static void load_manifest(const char *path, manifest *m)
{
    memset(m, 0, sizeof *m);
    FILE *f = fopen(path, "r");
    assert_non_null(f);
    char line[512];
    size_t capf = 0, capd = 0;
    while (fgets(line, sizeof line, f)) {
        char k[32] = "", a1[64] = "", a2[64] = "", a3[64] = "";
        if (line[0] == '#' || sscanf(line, "%31s %63s %63s %63s", k, a1, a2, a3) < 1) continue;
        if (!strcmp(k, "dtb")) m->dtb = strtoull(a1, NULL, 0);
        else if (!strcmp(k, "seed")) m->seed = strtoull(a1, NULL, 0);
        else if (!strcmp(k, "paging")) snprintf(m->paging, sizeof m->paging, "%s", a1);
        else if (!strcmp(k, "arch")) snprintf(m->arch, sizeof m->arch, "%s", a1);
        else if (!strcmp(k, "phys") && !strcmp(a2, "data")) {
            if (m->ndata == capd) m->data = realloc(m->data, (capd = capd * 2 + 64) * sizeof *m->data);
            m->data[m->ndata++] = strtoull(a1, NULL, 0);
        } else if (!strcmp(k, "map") || !strcmp(k, "nomap") || !strcmp(k, "pte")) {
            if (m->nf == capf) m->f = realloc(m->f, (capf = capf * 2 + 64) * sizeof *m->f);
            fact *x = &m->f[m->nf++];
            memset(x, 0, sizeof *x);
            snprintf(x->kind, sizeof x->kind, "%s", k);
            x->va = strtoull(a1, NULL, 0);
            if (!strcmp(k, "map")) {
                x->a = strtoull(a2, NULL, 0);
                x->size = page_size_of(a3);
            } else if (!strcmp(k, "nomap")) {
                snprintf(x->what, sizeof x->what, "%s", a2);
            } else {
                x->a = strtoull(a2, NULL, 0);
                snprintf(x->what, sizeof x->what, "%s", a3);
            }
        }
    }
    fclose(f);
    qsort(m->data, m->ndata, sizeof *m->data, cmp_u64);
}

static bool is_data(const manifest *m, uint64_t pfn)
{
    return bsearch(&pfn, m->data, m->ndata, sizeof pfn, cmp_u64) != NULL;
}

static void gen_case(const char *kind, const char *arch, bool raw, const char *rawarch,
                     nk_paging want_paging)
{
    char dir[] = "/tmp/ntkd-paging-gen-XXXXXX";
    assert_non_null(mkdtemp(dir));
    char out[128], man[160], cmd[512];
    snprintf(out, sizeof out, "%s/%s-%s.dmp", dir, kind, arch);
    snprintf(man, sizeof man, "%s.manifest", out);
    snprintf(cmd, sizeof cmd, "'%s' %s '%s' --arch %s --pages 256 --seed 7 >/dev/null",
             NTKD_GENDUMP, kind, out, arch);
    int rc = system(cmd);
    if (rc != 0) fail_msg("generator failed (%d): %s", rc, cmd);
    manifest m;
    load_manifest(man, &m);

    ntkd_ctx *ctx = ntkd_ctx_new();
    ntkd_open_opts o = {.raw = raw, .arch = rawarch};
    ntkd_target *t = NULL;
    if (ntkd_open(ctx, out, &o, &t) != NTKD_OK) fail_msg("open %s: %s", out, ntkd_ctx_error(ctx));
    assert_int_equal(t->d.paging, want_paging);
    assert_int_equal(t->d.dtb, m.dtb); /* raw: found by the self-reference scan */

    size_t nmap = 0, nnomap = 0, npte = 0, npages_read = 0, nselfmap = 0;
    uint8_t *buf = malloc(4096);
    for (size_t i = 0; i < m.nf; i++) {
        const fact *x = &m.f[i];
        nk_walk w;
        nk_status st = nk_vtop_walk(t, t->d.dtb, x->va, &w);
        if (!strcmp(x->kind, "map")) {
            nmap++;
            if (st != NTKD_OK || w.pa != x->a || w.page_size != x->size)
                fail_msg("map %llx: want pa %llx size %llx, got result %d pa %llx size %llx",
                         (unsigned long long)x->va, (unsigned long long)x->a,
                         (unsigned long long)x->size, w.result, (unsigned long long)w.pa,
                         (unsigned long long)w.page_size);
            /* each level's self-map address translates, through the same tables, to the
               physical address of that level's entry */
            for (int l = 0; l < w.nlevels; l++) {
                if (!w.lvl[l].entry_va) continue;
                uint64_t epa = 0;
                if (nk_vtop(t, w.lvl[l].entry_va, &epa) != NTKD_OK || epa != w.lvl[l].entry_pa)
                    fail_msg("map %llx: %s at %llx translates to %llx, entry is at pa %llx",
                             (unsigned long long)x->va, w.lvl[l].name,
                             (unsigned long long)w.lvl[l].entry_va, (unsigned long long)epa,
                             (unsigned long long)w.lvl[l].entry_pa);
                nselfmap++;
            }
            /* every data page of the mapping reads back as its physical pattern */
            uint64_t vbase = x->va & ~(x->size - 1), pbase = x->a & ~(x->size - 1);
            for (uint64_t off = 0; off < x->size; off += 4096) {
                uint64_t pa = pbase + off;
                if (!is_data(&m, pa >> 12)) continue;
                size_t got = 0;
                nk_status rs = ntkd_read_virt(t, vbase + off, buf, 4096, &got);
                if (rs != NTKD_OK || got != 4096)
                    fail_msg("read %llx (pa %llx): status %d, %zu bytes",
                             (unsigned long long)(vbase + off), (unsigned long long)pa, rs, got);
                if (!nk_gen_check(m.seed, pa, buf, 4096))
                    fail_msg("bytes at va %llx differ from the pattern of pa %llx",
                             (unsigned long long)(vbase + off), (unsigned long long)pa);
                npages_read++;
            }
        } else if (!strcmp(x->kind, "nomap")) {
            nnomap++;
            nk_walk_result want = !strcmp(x->what, "invalid") ? NK_WALK_INVALID : NK_WALK_NOT_IN_DUMP;
            if (st == NTKD_OK || w.result != want)
                fail_msg("nomap %llx %s: got result %d", (unsigned long long)x->va, x->what, w.result);
            uint8_t b;
            assert_int_not_equal(ntkd_read_virt(t, x->va, &b, 1, NULL), NTKD_OK);
        } else {
            npte++;
            if (w.result != NK_WALK_INVALID || w.lvl[w.nlevels - 1].value != x->a)
                fail_msg("pte %llx: result %d, entry %llx (want %llx)", (unsigned long long)x->va,
                         w.result, (unsigned long long)w.lvl[w.nlevels - 1].value,
                         (unsigned long long)x->a);
            nk_swpte sw;
            nk_pte_decode(t, x->a, &sw);
            bool ok = (!strcmp(x->what, "transition") && sw.kind == NK_SWPTE_TRANSITION) ||
                      (!strcmp(x->what, "prototype") && sw.kind == NK_SWPTE_PROTOTYPE) ||
                      (!strcmp(x->what, "pagefile") && sw.kind == NK_SWPTE_PAGEFILE) ||
                      (!strcmp(x->what, "demandzero") &&
                       (sw.kind == NK_SWPTE_DEMAND_ZERO || sw.kind == NK_SWPTE_ZERO));
            if (!ok) fail_msg("pte %llx = %llx: want %s, decoded kind %d", (unsigned long long)x->va,
                              (unsigned long long)x->a, x->what, sw.kind);
        }
    }
    print_message("%s %s: %zu map (%zu pages read, %zu self-map entries), %zu nomap, %zu pte "
                  "facts\n", kind, arch, nmap, npages_read, nselfmap, nnomap, npte);
    assert_true(nmap > 0);
    assert_true(nselfmap > 0);
    assert_true(npages_read > 0);
    free(buf);
    ntkd_close(t);
    ntkd_ctx_free(ctx);
    free(m.f);
    free(m.data);
    unlink(out);
    unlink(man);
    rmdir(dir);
}

static void gen_full64_x64(void **s) { (void)s; gen_case("full64", "x64", false, NULL, NK_PAGING_X64_4L); }
static void gen_bitmap64_x64(void **s) { (void)s; gen_case("bitmap64", "x64", false, NULL, NK_PAGING_X64_4L); }
static void gen_full64_arm64(void **s) { (void)s; gen_case("full64", "arm64", false, NULL, NK_PAGING_ARM64_4K); }
static void gen_full32_pae(void **s) { (void)s; gen_case("full32", "x86pae", false, NULL, NK_PAGING_X86_PAE); }
static void gen_full32_x86(void **s) { (void)s; gen_case("full32", "x86", false, NULL, NK_PAGING_X86); }
static void gen_raw_x64(void **s) { (void)s; gen_case("raw", "x64", true, "x64", NK_PAGING_X64_4L); }

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(seed002_x64),
        cmocka_unit_test(seed002_x86pae),
        cmocka_unit_test(seed004_xp_pae),
        cmocka_unit_test(protection_names),
        cmocka_unit_test(seed002_selfmap_x64),
        cmocka_unit_test(seed002_selfmap_pae),
        cmocka_unit_test(selfmap_x86),
        cmocka_unit_test(gen_full64_x64),
        cmocka_unit_test(gen_bitmap64_x64),
        cmocka_unit_test(gen_full64_arm64),
        cmocka_unit_test(gen_full32_pae),
        cmocka_unit_test(gen_full32_x86),
        cmocka_unit_test(gen_raw_x64),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
