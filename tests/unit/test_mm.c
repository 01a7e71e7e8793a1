/* test_mm.c: the memory-manager layer (src/kobj/kmm.c) on "mm" scenes from ntkd-genscene:
 * every PFN entry, control area, counter and list count the manifest states (pfn, capfn,
 * pfncount, ca, vmcounter lines), then the same walkers over the dump with random bytes
 * overwritten in the pages that hold the PFN entries and the control areas, segments and
 * subsections (seeded, restored after each round): no crash, no hang. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "dump/dump.h"
#include "kobj/kmm.h"
#include "mem/mem.h"
#include "test_util.h"

#define ISFDIR NTKD_CORPUS "/isf/windows/ntkrnlmp.pdb/"
#define SCENE_SYMPATH NTKD_CORPUS "/isf;" NTKD_CORPUS "/symstore"

static int list_index(const char *name)
{
    for (unsigned i = 0; i <= NK_MM_NLISTS; i++)
        if (!strcmp(nk_mm_list_name(i), name)) return (int)i;
    return -1;
}

typedef struct hot {
    uint64_t off[256];
    size_t n;
} hot;

static void hot_add(ntkd_target *t, hot *h, uint64_t va, size_t len)
{
    uint64_t pa, off;
    if (nk_vtop(t, va, &pa) != NTKD_OK || !nk_phys_page_off(&t->d, pa >> 12, &off)) return;
    for (size_t i = 0; i < h->n; i++)
        if (h->off[i] == off) return;
    if (h->n < 256 && off + 0x1000 <= len) h->off[h->n++] = off;
}

/* Every walker of the layer over the manifest's objects; returns the frames scanned. */
static uint64_t walk_all(ntkd_target *t, const tu_mfile *m)
{
    nk_mm_pfndb db;
    nk_mm_scan_stats st;
    memset(&st, 0, sizeof st);
    if (nk_mm_pfndb_get(t, &db) == NTKD_OK) {
        nk_mm_scan(t, &db, NULL, NULL, NULL, NULL, &st);
        for (size_t i = 0; i < m->n; i++) {
            nk_mmpfn p;
            if (!strcmp(m->l[i].kind, "capfn") && nk_mm_pfn(t, &db, tu_hx(m->l[i].w[1]), &p) == NTKD_OK) {
                uint64_t ca;
                nk_mm_pfn_control_area(t, &p, &ca);
            }
        }
    }
    for (size_t i = 0; i < m->n; i++) {
        if (strcmp(m->l[i].kind, "ca")) continue;
        nk_mmca c;
        nk_mm_ca(t, tu_hx(m->l[i].w[0]), &c);
        nk_mmsub subs[16];
        size_t n;
        nk_strbuf why = {0};
        nk_mm_subsections(t, tu_hx(m->l[i].w[0]), subs, 16, &n, &why);
        nk_sb_free(&why);
    }
    nk_mmvm vm;
    nk_mm_counters(t, &vm);
    return st.scanned;
}

static void check(const char *table, const char *kind)
{
    char dir[] = "/tmp/ntkd-mm-XXXXXX";
    assert_non_null(mkdtemp(dir));
    char path[128], cmd[1024], mp[160];
    snprintf(path, sizeof path, "%s/s.dmp", dir);
    snprintf(cmd, sizeof cmd, "'%s' --table '%s' --scene mm --kind %s '%s' --hostile cycle >'%s/log' 2>&1",
             NTKD_GENSCENE, table, kind, path, dir);
    int rc = system(cmd);
    if (rc != 0) {
        snprintf(cmd, sizeof cmd, "cat '%s/log' >&2", dir);
        (void)!system(cmd);
        fail_msg("ntkd-genscene failed for %s", table);
    }
    snprintf(mp, sizeof mp, "%s.manifest", path);
    tu_mfile m;
    tu_mf_load(&m, mp);
    size_t len;
    uint8_t *buf = tu_slurp(path, &len);
    assert_non_null(buf);
    ntkd_ctx *ctx = ntkd_ctx_new();
    ntkd_target *t;
    ntkd_open_opts o = {.sympath = SCENE_SYMPATH};
    assert_int_equal(ntkd_open_mem(ctx, "mm.dmp", buf, len, &o, &t), NTKD_OK);
    if (!nk_k_types(t)) fail_msg("%s: %s", table, ntkd_ctx_error(ctx));

    /* ---- the facts */
    nk_mm_pfndb db;
    assert_int_equal(nk_mm_pfndb_get(t, &db), NTKD_OK);
    nk_mm_scan_stats st;
    assert_int_equal(nk_mm_scan(t, &db, NULL, NULL, NULL, NULL, &st), NTKD_OK);
    assert_true(st.scanned > 0);
    assert_int_equal(st.unreadable, 0);
    uint64_t hostile_pfn = 0;
    for (size_t i = 0; i < m.n; i++) {
        const tu_mline *l = &m.l[i];
        if (!strcmp(l->kind, "pfncount")) {
            int li = list_index(l->w[0]);
            assert_true(li >= 0);
            if (!strcmp(l->w[0], "Zeroed") || !strcmp(l->w[0], "Active")) assert_true(st.count[li] >= tu_hx(l->w[1]));
            else assert_int_equal(st.count[li], tu_hx(l->w[1]));
        } else if (!strcmp(l->kind, "pfn")) {
            nk_mmpfn p;
            assert_int_equal(nk_mm_pfn(t, &db, tu_hx(l->w[0]), &p), NTKD_OK);
            assert_string_equal(nk_mm_list_name(p.list), l->w[1]);
            assert_int_equal(p.share, tu_hx(l->w[2]));
            assert_int_equal(p.ref, tu_hx(l->w[3]));
            assert_int_equal(p.pte_addr, tu_hx(l->w[4]));
        } else if (!strcmp(l->kind, "vmcounter") && strcmp(l->w[0], "CommitFailures")) {
            nk_mmvm vm;
            assert_int_equal(nk_mm_counters(t, &vm), NTKD_OK);
            bool found = false;
            for (int k = 0; k < NK_MM_NCOUNTERS; k++)
                if (!strcmp(vm.c[k].key, l->w[0])) {
                    found = true;
                    assert_true(vm.c[k].have);
                    assert_int_equal(vm.c[k].pages, tu_hx(l->w[1]));
                }
            assert_true(found);
        } else if (!strcmp(l->kind, "vmcounter")) {
            nk_mmvm vm;
            assert_int_equal(nk_mm_counters(t, &vm), NTKD_OK);
            assert_true(vm.have_failures);
            assert_int_equal(vm.failure_count, tu_hx(l->w[1]));
        } else if (!strcmp(l->kind, "ca")) {
            nk_mmca c;
            uint64_t a = tu_hx(l->w[0]);
            assert_int_equal(nk_mm_ca(t, a, &c), NTKD_OK);
            assert_int_equal(c.mapped_views, tu_hx(l->w[3]));
            assert_int_equal(c.pfn_refs, tu_hx(l->w[4]));
            assert_true(c.seg_ok);
            assert_int_equal(c.seg_control_area, a);
            if (!strcmp(l->w[1], "pagefile")) {
                assert_int_equal(c.file_object, 0);
            } else {
                assert_string_equal(c.file_name, l->w[2]);
                assert_int_equal(c.image, !strcmp(l->w[1], "image"));
            }
        } else if (!strcmp(l->kind, "capfn")) {
            nk_mmpfn p;
            uint64_t a = tu_hx(l->w[0]), ca = 0;
            assert_int_equal(nk_mm_pfn(t, &db, tu_hx(l->w[1]), &p), NTKD_OK);
            assert_true(p.proto);
            nk_status s = nk_mm_pfn_control_area(t, &p, &ca);
            bool pagefile = false;
            for (size_t j = 0; j < m.n; j++)
                if (!strcmp(m.l[j].kind, "ca") && tu_hx(m.l[j].w[0]) == a) pagefile = !strcmp(m.l[j].w[1], "pagefile");
            if (pagefile) assert_int_equal(s, NTKD_E_NOTFOUND);
            else {
                assert_int_equal(s, NTKD_OK);
                assert_int_equal(ca, a);
            }
        }
    }
    /* hostile: the looping subsection chain is reported, not followed forever */
    size_t loops = 0;
    for (size_t i = 0; i < m.n; i++) {
        if (strcmp(m.l[i].kind, "ca")) continue;
        nk_mmsub subs[16];
        size_t n;
        nk_strbuf why = {0};
        if (nk_mm_subsections(t, tu_hx(m.l[i].w[0]), subs, 16, &n, &why) != NTKD_OK) {
            assert_non_null(strstr(why.s, "loops back"));
            loops++;
        }
        nk_sb_free(&why);
    }
    assert_int_equal(loops, 1);
    (void)hostile_pfn;

    /* ---- a PFN database pointer into memory the dump lacks: every entry unreadable, no crash */
    {
        uint64_t g, pa, off;
        assert_int_equal(nk_k_global(t, "MmPfnDatabase", &g), NTKD_OK);
        assert_int_equal(nk_vtop(t, g, &pa), NTKD_OK);
        assert_true(nk_phys_page_off(&t->d, pa >> 12, &off));
        off += pa & 0xfff;
        unsigned ps = t->d.is64 ? 8 : 4;
        uint8_t save[8];
        memcpy(save, buf + off, ps);
        uint64_t bogus = t->d.is64 ? 0xfffff8a0dead0000ull : 0xbadd0000ull;
        memcpy(buf + off, &bogus, ps);
        nk_mm_pfndb db2;
        assert_int_equal(nk_mm_pfndb_get(t, &db2), NTKD_OK);
        nk_mm_scan_stats st2;
        assert_int_equal(nk_mm_scan(t, &db2, NULL, NULL, NULL, NULL, &st2), NTKD_OK);
        assert_int_equal(st2.scanned, 0);
        assert_true(st2.unreadable > 0);
        memcpy(buf + off, save, ps);
    }

    /* ---- mutations */
    hot h = {.n = 0};
    for (size_t i = 0; i < m.n; i++) {
        const tu_mline *l = &m.l[i];
        if (!strcmp(l->kind, "pfn")) hot_add(t, &h, db.base + tu_hx(l->w[0]) * db.esz, len);
        if (!strcmp(l->kind, "ca")) {
            nk_mmca c;
            hot_add(t, &h, tu_hx(l->w[0]), len);
            if (nk_mm_ca(t, tu_hx(l->w[0]), &c) == NTKD_OK) {
                hot_add(t, &h, c.segment, len);
                hot_add(t, &h, c.proto_ptes, len);
                hot_add(t, &h, c.file_object, len);
            }
        }
    }
    assert_true(h.n > 2);
    uint64_t x = 0x9e3779b97f4a7c15ull;
    for (int round = 0; round < 1500; round++) {
        uint8_t save[16];
        x ^= x << 13, x ^= x >> 7, x ^= x << 17;
        uint64_t off = h.off[x % h.n] + ((x >> 20) % (0x1000 - 16));
        unsigned n = 1 + (unsigned)((x >> 40) % 16);
        memcpy(save, buf + off, n);
        for (unsigned k = 0; k < n; k++) {
            x ^= x << 13, x ^= x >> 7, x ^= x << 17;
            buf[off + k] = (x >> 32) & 1 ? 0xff : (uint8_t)x;
        }
        walk_all(t, &m);
        memcpy(buf + off, save, n);
    }
    assert_true(walk_all(t, &m) == st.scanned);
    ntkd_close(t);
    ntkd_ctx_free(ctx);
    free(buf);
    free(m.l);
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
    assert_int_equal(system(cmd), 0);
}

static void mm_win7(void **s)
{
    (void)s;
    check(ISFDIR "339E74133576439CBCDF7E0229DA3773-1.json.xz", "bitmap");
}
static void mm_w19041(void **s)
{
    (void)s;
    check(ISFDIR "5278AFF86C341677D7D7835C85B7B844-1.json.xz", "full");
}
static void mm_w22000(void **s)
{
    (void)s;
    check(ISFDIR "32C1A669D5FFEFD41091F636CFDB6E99-1.json.xz", "full");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(mm_win7),
        cmocka_unit_test(mm_w19041),
        cmocka_unit_test(mm_w22000),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
