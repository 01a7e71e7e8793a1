/* test_kproc.c: !handle over a handle table written into a kernel scene.
 *
 * The scenes of ntkd-genscene give processes no handle table, so this test builds one: it
 * writes a one-level table (in the unused low page of a thread's kernel stack, which the dump
 * holds), an _HANDLE_TABLE pointing at it and the System process's ObjectTable, with every
 * offset and bitfield from the layout's ISF table; handle 4 refers to another process's object
 * (its EPROCESS from the generator's manifest). Then `!handle 0 f 4` (JSON) must list exactly
 * that handle, with the object, its type "Process" and the granted access written. Both entry
 * formats are covered: ObjectPointerBits/GrantedAccessBits (19041) and Object/GrantedAccess
 * (7601). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>
#include <json-c/json.h>

#include "dump/dump.h"
#include "mem/mem.h"
#include "type/type.h"
#include "test_util.h"

#define ISFDIR NTKD_CORPUS "/isf/windows/ntkrnlmp.pdb/"

typedef struct wt {
    uint8_t *buf;
    size_t len;
    ntkd_ctx *ctx;
    ntkd_target *t;
} wt;

static void vput(wt *w, uint64_t va, uint64_t v, unsigned bytes)
{
    for (unsigned i = 0; i < bytes; i++) {
        uint64_t pa, off;
        if (nk_vtop(w->t, va + i, &pa) != NTKD_OK || !nk_phys_page_off(&w->t->d, pa >> 12, &off) ||
            off + ((pa + 0) & 0xfff) >= w->len)
            fail_msg("va %llx is not in the generated dump", (unsigned long long)(va + i));
        w->buf[off + (pa & 0xfff)] = (uint8_t)(v >> (8 * i));
    }
}

static uint64_t vget(wt *w, uint64_t va, unsigned bytes)
{
    uint8_t b[8] = {0};
    size_t got = 0;
    nk_read_virt(w->t, va, b, bytes, &got);
    assert_int_equal(got, bytes);
    uint64_t v = 0;
    for (unsigned i = 0; i < bytes; i++) v |= (uint64_t)b[i] << (8 * i);
    return v;
}

/* Sets a (bit)field of the struct at va. */
static void fput(wt *w, nk_typesrc *ts, const char *type, const char *field, uint64_t va, uint64_t v)
{
    uint64_t id;
    nk_tfield f;
    assert_true(nk_type_find(ts, type, &id));
    if (!nk_type_field(ts, id, field, &f)) fail_msg("%s.%s not in the table", type, field);
    if (!f.is_bitfield) {
        nk_tinfo ti;
        assert_true(nk_type_info(ts, f.type, &ti));
        vput(w, va + f.offset, v, ti.size >= 1 && ti.size <= 8 ? (unsigned)ti.size : 8);
        return;
    }
    uint64_t word = vget(w, va + f.offset, 8);
    uint64_t mask = (f.bit_len >= 64 ? ~0ull : ((1ull << f.bit_len) - 1)) << f.bit_pos;
    word = (word & ~mask) | ((v << f.bit_pos) & mask);
    vput(w, va + f.offset, word, 8);
}

static uint64_t foff(nk_typesrc *ts, const char *type, const char *field)
{
    uint64_t id;
    nk_tfield f;
    assert_true(nk_type_find(ts, type, &id));
    if (!nk_type_field(ts, id, field, &f)) fail_msg("%s.%s not in the table", type, field);
    return f.offset;
}

static void handle_case(const char *guid)
{
    char dir[64], path[256], isf[512];
    snprintf(isf, sizeof isf, ISFDIR "%s.json.xz", guid);
    if (!tu_scene_gen("kproc", isf, "basic", "full", NULL, dir, sizeof dir, path, sizeof path)) fail();
    /* facts: the first two processes, and a thread's kernel stack */
    char mpath[300];
    snprintf(mpath, sizeof mpath, "%s.manifest", path);
    FILE *mf = fopen(mpath, "r");
    assert_non_null(mf);
    uint64_t procs[2] = {0, 0}, stack_limit = 0;
    size_t np = 0;
    char line[1024];
    while (fgets(line, sizeof line, mf)) {
        unsigned long long a, b, c, d, e, f, g, h, i;
        char name[64];
        if (np < 2 && sscanf(line, "process %llx %llx %llx %63s", &a, &b, &c, name) == 4) procs[np++] = a;
        if (!stack_limit && sscanf(line, "thread %llx %llx %llx %llx %llx %llx %llx %llx %llx", &a, &b, &c, &d, &e, &f,
                                   &g, &h, &i) == 9 && g - h >= 0x4000)
            stack_limit = h;
    }
    fclose(mf);
    assert_int_equal(np, 2);
    assert_true(stack_limit != 0);

    wt w = {0};
    w.buf = tu_slurp(path, &w.len);
    assert_non_null(w.buf);
    w.ctx = ntkd_ctx_new();
    ntkd_open_opts o = {.sympath = NTKD_CORPUS "/isf"};
    assert_int_equal(ntkd_open_mem(w.ctx, "s.dmp", w.buf, w.len, &o, &w.t), NTKD_OK);
    ntkd_ctx *ictx = ntkd_ctx_new();
    nk_isf *is;
    assert_int_equal(nk_isf_open(ictx, isf, &is), NTKD_OK);
    nk_typesrc *ts = nk_isf_types(is);

    uint64_t table = stack_limit, ht = stack_limit + 0x1000, entsz;
    uint64_t id;
    nk_tinfo ti;
    assert_true(nk_type_find(ts, "_HANDLE_TABLE_ENTRY", &id) && nk_type_info(ts, id, &ti));
    entsz = ti.size;
    bool newfmt = nk_type_field(ts, id, "ObjectPointerBits", &(nk_tfield){0});
    uint64_t body = procs[1], hdr = body - foff(ts, "_OBJECT_HEADER", "Body");
    uint64_t ent = table + 1 * entsz; /* handle 4 */
    for (uint64_t k = 0; k < 0x1000; k += 8) vput(&w, table + k, 0, 8);
    if (newfmt) {
        fput(&w, ts, "_HANDLE_TABLE_ENTRY", "ObjectPointerBits", ent, hdr >> 4);
        fput(&w, ts, "_HANDLE_TABLE_ENTRY", "GrantedAccessBits", ent, 0x1fffff);
    } else {
        fput(&w, ts, "_HANDLE_TABLE_ENTRY", "Object", ent, hdr | 1); /* low bits: entry flags */
        fput(&w, ts, "_HANDLE_TABLE_ENTRY", "GrantedAccess", ent, 0x1fffff);
    }
    fput(&w, ts, "_HANDLE_TABLE", "TableCode", ht, table); /* level 0 */
    fput(&w, ts, "_HANDLE_TABLE", "NextHandleNeedingPool", ht, 0x400);
    fput(&w, ts, "_EPROCESS", "ObjectTable", procs[0], ht);
    nk_isf_close(is);
    ntkd_ctx_free(ictx);

    char *out = NULL;
    size_t olen = 0;
    FILE *f = open_memstream(&out, &olen);
    assert_non_null(f);
    char c[128];
    snprintf(c, sizeof c, "!handle 0 f %llx", (unsigned long long)procs[0]);
    ntkd_execute(w.t, c, f, NTKD_OUT_JSON, NULL);
    fclose(f);
    json_object *j = json_tokener_parse(out);
    assert_non_null(j);
    json_object *hs, *x;
    if (!json_object_object_get_ex(j, "handles", &hs)) fail_msg("no handles: %s", out);
    assert_int_equal(json_object_array_length(hs), 1);
    json_object *h0 = json_object_array_get_idx(hs, 0);
    assert_true(json_object_object_get_ex(h0, "handle", &x));
    assert_int_equal(strtoull(json_object_get_string(x), NULL, 16), 4);
    assert_true(json_object_object_get_ex(h0, "object", &x));
    assert_int_equal(strtoull(json_object_get_string(x), NULL, 16), body);
    assert_true(json_object_object_get_ex(h0, "granted_access", &x));
    assert_int_equal(strtoull(json_object_get_string(x), NULL, 16), 0x1fffff);
    assert_true(json_object_object_get_ex(h0, "type", &x));
    assert_string_equal(json_object_get_string(x), "Process");
    json_object_put(j);
    free(out);

    /* one handle asked for: 4 found, 8 not in use */
    out = NULL;
    f = open_memstream(&out, &olen);
    snprintf(c, sizeof c, "!handle 8 f %llx", (unsigned long long)procs[0]);
    ntkd_execute(w.t, c, f, NTKD_OUT_JSON, NULL);
    fclose(f);
    assert_non_null(strstr(out, "not in use"));
    free(out);

    ntkd_close(w.t);
    ntkd_ctx_free(w.ctx);
    free(w.buf);
    tu_rmdir_r(dir);
}

static void handle_19041(void **state)
{
    (void)state;
    handle_case("5278AFF86C341677D7D7835C85B7B844-1");
}

static void handle_7601(void **state)
{
    (void)state;
    handle_case("339E74133576439CBCDF7E0229DA3773-1");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(handle_19041),
        cmocka_unit_test(handle_7601),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
