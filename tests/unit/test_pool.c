/* test_pool.c: the pool layer (src/kobj/kpool.c) on the "pool" scene of ntkd-genscene (win7 and
 * w19041 x64 full, xp x86 PAE): tracker tags and owners, the big-pool table and the classic
 * pool pages against the manifest; then the page walker on mutated and random pages (every
 * block inside the page, the walk bounded, no crash), and the tag parser. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "kobj/kpool.h"
#include "kobj/kpool_seg.h"
#include "mem/mem.h"
#include "test_util.h"

#define ISFDIR NTKD_CORPUS "/isf/windows/ntkrnlmp.pdb/"
#define SCENE_SYMPATH NTKD_CORPUS "/isf;" NTKD_CORPUS "/symstore"

/* Walk invariants on any page: blocks inside the page, in order, bounded. */
static void check_walk_sane(const nk_pool_page *p)
{
    assert_true(p->n <= NK_POOL_MAX_BLOCKS);
    uint64_t last_end = p->page;
    for (size_t i = 0; i < p->n; i++) {
        const nk_pool_block *b = &p->b[i];
        assert_true(b->size > 0);
        assert_true(b->addr >= p->page && b->addr + b->size <= p->page + 0x1000);
        assert_true(b->addr >= last_end);
        last_end = b->addr + b->size;
    }
}

/* A segment-heap page (19H1+): located and walked with the segment-heap reader; every manifest
 * block of the page is among the subsegment's blocks with its size, tag and state, the region is
 * the manifest's, a corrupt page's subsegment is reported corrupt at the manifest's chunk. */
static void check_seg_page(ntkd_target *t, const tu_mfile *m, uint64_t page, const tu_mline *pl)
{
    nk_segpool sp;
    nk_strbuf why = {0};
    assert_int_equal(nk_seg_init(t, &sp, &why), NTKD_OK);
    nk_sb_free(&why);
    uint64_t probe = 0;
    for (size_t k = 0; k < m->n && !probe; k++)
        if (!strcmp(m->l[k].kind, "poolblock") && (tu_hx(m->l[k].w[0]) & ~0xfffull) == page)
            probe = tu_hx(m->l[k].w[0]);
    assert_true(probe != 0);
    nk_seg_loc loc;
    assert_int_equal(nk_seg_locate(&sp, probe, &loc), NTKD_OK);
    assert_true(loc.kind == NK_SEG_VS || loc.kind == NK_SEG_LFH);
    nk_seg_sub sub;
    memset(&sub, 0, sizeof sub);
    assert_int_equal(nk_seg_walk_sub(&sp, &loc, &sub), NTKD_OK);
    assert_int_equal(nk_seg_paged(sub.pool_index), !strcmp(pl->w[1], "paged"));
    assert_int_equal(sub.corrupt, pl->w[2][0] == '1');
    for (size_t k = 0; k < m->n; k++) {
        const tu_mline *b = &m->l[k];
        if (!strcmp(b->kind, "poolbad") && tu_hx(b->w[0]) == page) assert_int_equal(sub.bad_chunk, tu_hx(b->w[1]));
        if (strcmp(b->kind, "poolblock") || (tu_hx(b->w[0]) & ~0xfffull) != page) continue;
        bool found = false;
        for (size_t j = 0; j < sub.n; j++) {
            if (sub.b[j].addr != tu_hx(b->w[0])) continue;
            found = true;
            assert_int_equal(sub.b[j].size, tu_hx(b->w[1]));
            assert_int_equal(sub.b[j].free_, b->w[3][0] == '1');
            if (!sub.b[j].free_) {
                char tg[5];
                nk_pool_tag_str(sub.b[j].key, tg);
                assert_string_equal(tg, b->w[2]);
            }
        }
        if (!found) fail_msg("segment-heap block %s not walked", b->w[0]);
    }
    nk_seg_sub_free(&sub);
}

static void check_layout(const char *table, const char *kind)
{
    char path[128], dir[64];
    if (!tu_scene_gen("pool", table, "pool", kind, NULL, dir, sizeof dir, path, sizeof path))
        fail_msg("ntkd-genscene failed for %s", table);
    char mp[160];
    snprintf(mp, sizeof mp, "%s.manifest", path);
    tu_mfile m;
    tu_mf_load(&m, mp);
    ntkd_ctx *ctx = ntkd_ctx_new();
    ntkd_target *t;
    ntkd_open_opts o = {.sympath = SCENE_SYMPATH};
    assert_int_equal(ntkd_open(ctx, path, &o, &t), NTKD_OK);
    nk_strbuf why = {0};

    /* tracker tags and owners */
    nk_pool_tag *tags = NULL;
    size_t n = 0;
    if (nk_pool_tags(t, &tags, &n, &why) != NTKD_OK) fail_msg("nk_pool_tags: %s / %s", ntkd_ctx_error(ctx), why.s);
    nk_pool_mod *mods = NULL;
    size_t nmods = 0;
    assert_int_equal(nk_pool_modules(t, &mods, &nmods, &why), NTKD_OK);
    assert_int_equal(nk_pool_find_owners(t, tags, n, mods, nmods, &why), NTKD_OK);
    size_t nmf = 0;
    for (size_t i = 0; i < m.n; i++) {
        tu_mline *l = &m.l[i];
        if (strcmp(l->kind, "pooltag")) continue;
        nmf++;
        uint32_t key = 0;
        assert_true(nk_pool_tag_parse(l->w[0], &key));
        nk_pool_tag *g = NULL;
        for (size_t j = 0; j < n; j++)
            if (tags[j].key == key) g = &tags[j];
        if (!g) fail_msg("tag %s not read", l->w[0]);
        assert_int_equal(g->np_allocs, tu_hx(l->w[1]));
        assert_int_equal(g->np_frees, tu_hx(l->w[2]));
        assert_int_equal(g->np_bytes, tu_hx(l->w[3]));
        assert_int_equal(g->p_allocs, tu_hx(l->w[4]));
        assert_int_equal(g->p_frees, tu_hx(l->w[5]));
        assert_int_equal(g->p_bytes, tu_hx(l->w[6]));
        if (!strcmp(l->w[7], "-")) {
            assert_int_equal(g->nowners, 0);
        } else {
            assert_true(g->nowners >= 1);
            assert_string_equal(mods[g->owners[0].mod].name, l->w[7]);
            assert_true(g->owners[0].hit >= mods[g->owners[0].mod].base &&
                        g->owners[0].hit < mods[g->owners[0].mod].base + mods[g->owners[0].mod].size);
        }
    }
    assert_int_equal(nmf, n);

    /* big-pool table: every live entry of the manifest, and no other live one */
    nk_pool_bigtab big;
    assert_int_equal(nk_pool_big_table(t, &big, &why), NTKD_OK);
    size_t live = 0;
    for (size_t j = 0; j < big.n; j++) live += !big.v[j].free_;
    size_t nbig = 0;
    for (size_t i = 0; i < m.n; i++) {
        tu_mline *l = &m.l[i];
        if (strcmp(l->kind, "bigpool")) continue;
        nbig++;
        bool found = false;
        for (size_t j = 0; j < big.n; j++) {
            if (big.v[j].free_ || big.v[j].va != tu_hx(l->w[0])) continue;
            found = true;
            assert_int_equal(big.v[j].bytes, tu_hx(l->w[1]));
            char tg[5];
            nk_pool_tag_str(big.v[j].key, tg);
            assert_string_equal(tg, l->w[2]);
        }
        if (!found) fail_msg("big allocation %s not read", l->w[0]);
    }
    assert_int_equal(live, nbig);
    nk_pool_bigtab_free(&big);

    /* classic pages */
    nk_pool_page *pg = malloc(sizeof *pg);
    assert_non_null(pg);
    bool seg = nk_pool_segment_heap(t);
    size_t npages = 0;
    for (size_t i = 0; i < m.n; i++) {
        tu_mline *l = &m.l[i];
        if (strcmp(l->kind, "poolpage")) continue;
        npages++;
        uint64_t page = tu_hx(l->w[0]);
        if (seg) {
            check_seg_page(t, &m, page, l);
            continue;
        }
        assert_int_equal(nk_pool_walk_page(t, page + 0x10, pg), NTKD_OK);
        check_walk_sane(pg);
        assert_int_equal(pg->corrupt, l->w[2][0] == '1');
        assert_int_equal(pg->region, !strcmp(l->w[1], "nonpaged") ? 1 : 2);
        for (size_t k = 0; k < m.n; k++) {
            tu_mline *b = &m.l[k];
            if (!strcmp(b->kind, "poolbad") && tu_hx(b->w[0]) == page) assert_int_equal(pg->bad_hdr, tu_hx(b->w[1]));
            if (strcmp(b->kind, "poolblock") || (tu_hx(b->w[0]) & ~0xfffull) != page) continue;
            bool found = false;
            for (size_t j = 0; j < pg->n; j++) {
                if (pg->b[j].addr != tu_hx(b->w[0])) continue;
                found = true;
                assert_int_equal(pg->b[j].size, tu_hx(b->w[1]));
                char tg[5];
                nk_pool_tag_str(pg->b[j].key, tg);
                assert_string_equal(tg, b->w[2]);
                assert_int_equal(pg->b[j].free_, b->w[3][0] == '1');
            }
            if (!found) fail_msg("block %s not walked", b->w[0]);
        }
        /* mutations of the page: the walk stays sane */
        uint8_t buf[0x1000], mut[0x1000];
        size_t got = 0;
        nk_read_virt(t, page, buf, sizeof buf, &got);
        assert_int_equal(got, sizeof buf);
        uint64_t r = 0x9e3779b97f4a7c15ull ^ page;
        for (int it = 0; it < 3000; it++) {
            memcpy(mut, buf, sizeof mut);
            int nflip = 1 + it % 8;
            for (int f = 0; f < nflip; f++) {
                r ^= r << 13, r ^= r >> 7, r ^= r << 17;
                unsigned off = (unsigned)(r % 0x1000);
                /* mostly header bytes */
                if (it % 3) off = (unsigned)((r >> 20) % 0x300) & ~0x7u;
                mut[off] = (uint8_t)(r >> 40);
            }
            assert_int_equal(nk_pool_walk_buf(t, page, mut, pg), NTKD_OK);
            check_walk_sane(pg);
        }
    }
    assert_true(npages > 0);
    /* random and degenerate pages */
    uint8_t rnd[0x1000];
    uint64_t r = 12345;
    for (int it = 0; it < 500; it++) {
        for (size_t i = 0; i < sizeof rnd; i++) {
            r ^= r << 13, r ^= r >> 7, r ^= r << 17;
            rnd[i] = it % 2 ? (uint8_t)(r & 0x03) : (uint8_t)r; /* small values make long chains */
        }
        assert_int_equal(nk_pool_walk_buf(t, 0x1000, rnd, pg), NTKD_OK);
        check_walk_sane(pg);
    }
    memset(rnd, 0, sizeof rnd);
    assert_int_equal(nk_pool_walk_buf(t, 0x1000, rnd, pg), NTKD_OK);
    assert_true(pg->corrupt);
    assert_false(nk_pool_page_plausible(pg));
    free(pg);

    free(tags);
    free(mods);
    nk_sb_free(&why);
    ntkd_close(t);
    ntkd_ctx_free(ctx);
    free(m.l);
    tu_rmdir_r(dir);
}

static void test_win7(void **state)
{
    (void)state;
    check_layout(ISFDIR "339E74133576439CBCDF7E0229DA3773-1.json.xz", "full");
}

static void test_w19041(void **state)
{
    (void)state;
    check_layout(ISFDIR "5278AFF86C341677D7D7835C85B7B844-1.json.xz", "bitmap");
}

static void test_xp(void **state)
{
    (void)state;
    char table[1024];
    assert_non_null(tu_xp_table(table, sizeof table));
    if (access(table, R_OK) != 0) skip();
    check_layout(table, "pae");
}

static void test_tag_parse(void **state)
{
    (void)state;
    uint32_t k = 0;
    assert_true(nk_pool_tag_parse("Leak", &k));
    assert_int_equal(k, 0x6b61654cu);
    assert_true(nk_pool_tag_parse("Ab", &k));
    assert_int_equal(k, 0x20206241u);
    assert_true(nk_pool_tag_parse("0x6b61654c", &k));
    assert_int_equal(k, 0x6b61654cu);
    assert_false(nk_pool_tag_parse("Toolong", &k));
    assert_false(nk_pool_tag_parse("", &k));
    char s[5];
    nk_pool_tag_str(0x0100654cu, s);
    assert_string_equal(s, "Le??");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_tag_parse),
        cmocka_unit_test(test_win7),
        cmocka_unit_test(test_w19041),
        cmocka_unit_test(test_xp),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
