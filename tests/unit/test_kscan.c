/* test_kscan.c: the reverse page map and the IRP scan (src/kobj/kscan.c) on scenes written by
 * ntkd-genscene (w19041 full, win7 full, w22000 bitmap, XP PAE). Facts from the generator's
 * manifest: every object, thread, process, device, driver and IRP address translates to a
 * physical page the map sends back to that same address; the scan finds every `irp` line with
 * its thread (also the one on no thread's list); a scene whose pages were left out of the dump
 * (--hostile missing) counts entries into missing pages and still scans. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "kobj/kscan.h"
#include "mem/mem.h"
#include "test_util.h"

#define ISF NTKD_CORPUS "/isf/windows/ntkrnlmp.pdb/"

typedef struct found {
    uint64_t irp[64], thread[64];
    size_t n;
} found;

static bool on_irp(void *u, uint64_t irp, uint64_t thread)
{
    found *f = u;
    if (f->n < 64) {
        f->irp[f->n] = irp;
        f->thread[f->n] = thread;
        f->n++;
    }
    return true;
}

/* Checks one scene; hostile: the scene has pages left out of the dump. */
static void check(const char *table, const char *scene, const char *kind, const char *extra, bool hostile)
{
    char dir[64], path[128];
    if (!tu_scene_gen("kscan", table, scene, kind, extra, dir, sizeof dir, path, sizeof path)) fail();
    ntkd_ctx *ctx = ntkd_ctx_new();
    ntkd_open_opts o = {.sympath = NTKD_CORPUS "/isf;" NTKD_CORPUS "/symstore"};
    ntkd_target *t = NULL;
    assert_int_equal(ntkd_open(ctx, path, &o, &t), NTKD_OK);
    const nk_kscan_rmap_info *ri = NULL;
    assert_int_equal(nk_kscan_rmap(t, &ri), NTKD_OK);
    assert_true(ri->mapped_pages > 0 && ri->mapped_pages <= ri->dump_pages);
    assert_true(ri->tables >= 3);
    assert_false(ri->capped);
    if (hostile) assert_true(ri->absent > 0); /* the dropped pages' PTEs */
    else assert_int_equal(ri->absent, 0);

    found f = {0};
    nk_kscan_stats st;
    nk_strbuf why = {0};
    assert_int_equal(nk_kscan_irps(t, on_irp, &f, NULL, NULL, &st, &why), NTKD_OK);
    assert_true(st.pages > 0 && st.pages == ri->mapped_pages);

    char mpath[160], line[1024];
    snprintf(mpath, sizeof mpath, "%s.manifest", path);
    FILE *m = fopen(mpath, "r");
    assert_non_null(m);
    size_t trips = 0, irps = 0, threadless = 0;
    while (fgets(line, sizeof line, m)) {
        char kind_[32];
        unsigned long long va, thr;
        int k = sscanf(line, "%31s %llx %llx", kind_, &va, &thr);
        if (k < 2) continue;
        static const char *const kinds[] = {"process", "thread", "device", "driver", "irp", "object"};
        bool want = false;
        for (size_t i = 0; i < sizeof kinds / sizeof kinds[0]; i++) want |= !strcmp(kind_, kinds[i]);
        if (!want) continue;
        uint64_t pa, back;
        if (nk_vtop(t, va, &pa) != NTKD_OK) {
            assert_true(hostile); /* only a hostile scene leaves objects out */
            continue;
        }
        if (!nk_kscan_pa_to_va(t, pa, &back)) {
            print_message("%s %llx (pa %llx) has no kernel address in the map\n", kind_, va, (unsigned long long)pa);
            fail();
        }
        if (back != va) {
            print_message("%s %llx -> pa %llx -> %llx\n", kind_, va, (unsigned long long)pa, (unsigned long long)back);
            fail();
        }
        trips++;
        if (!strcmp(kind_, "irp") && k == 3) {
            irps++;
            if (!thr) threadless++;
            size_t i;
            for (i = 0; i < f.n && f.irp[i] != va; i++) {}
            if (i == f.n) {
                print_message("the scan did not find IRP %llx (thread %llx)\n", va, thr);
                fail();
            }
            assert_int_equal(f.thread[i], thr);
        }
    }
    fclose(m);
    assert_true(trips >= 20);
    assert_true(irps >= 2);
    assert_true(threadless >= 1);
    assert_int_equal(f.n, st.found);
    nk_sb_free(&why);
    ntkd_close(t);
    ntkd_ctx_free(ctx);
    tu_rmdir_r(dir);
}

static void test_w19041_full(void **st)
{
    (void)st;
    check(ISF "5278AFF86C341677D7D7835C85B7B844-1.json.xz", "9f", "full", NULL, false);
}
static void test_win7_full(void **st)
{
    (void)st;
    check(ISF "339E74133576439CBCDF7E0229DA3773-1.json.xz", "9f", "full", NULL, false);
}
static void test_w22000_bitmap(void **st)
{
    (void)st;
    check(ISF "32C1A669D5FFEFD41091F636CFDB6E99-1.json.xz", "basic", "bitmap", "--fill-mb 8", false);
}
static void test_xp_pae(void **st)
{
    (void)st;
    char t[512];
    if (!tu_xp_table(t, sizeof t) || access(t, R_OK) != 0) skip();
    check(t, "9f", "pae", NULL, false);
}
static void test_missing_pages(void **st)
{
    (void)st;
    check(ISF "5278AFF86C341677D7D7835C85B7B844-1.json.xz", "9f", "full", "--hostile missing", true);
}

/* A dump without page tables: a message, no map. */
static void test_no_paging(void **st)
{
    (void)st;
    ntkd_ctx *ctx = ntkd_ctx_new();
    ntkd_open_opts o = {0};
    ntkd_target *t = NULL;
    if (ntkd_open(ctx, NTKD_CORPUS "/dumps/kernel/triage-x64-19041.dmp", &o, &t) != NTKD_OK) {
        ntkd_ctx_free(ctx);
        skip();
    }
    const nk_kscan_rmap_info *ri = NULL;
    assert_int_equal(nk_kscan_rmap(t, &ri), NTKD_E_NOTFOUND);
    assert_non_null(strstr(ntkd_ctx_error(ctx), "page tables"));
    uint64_t va;
    assert_false(nk_kscan_pa_to_va(t, 0x1000, &va));
    ntkd_close(t);
    ntkd_ctx_free(ctx);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_w19041_full), cmocka_unit_test(test_win7_full), cmocka_unit_test(test_w22000_bitmap),
        cmocka_unit_test(test_xp_pae),      cmocka_unit_test(test_missing_pages), cmocka_unit_test(test_no_paging),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
