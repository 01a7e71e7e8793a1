/* test_verifier.c: the Driver Verifier reader (src/kobj/kverifier.c) and the 0x20 diagnosis
 * and 0x1 diagnoses (src/analysis/kdiag_verifier.c) on scenes written by ntkd-genscene (w19041 table), checked
 * against the generator's manifest; and hostile edits of the dump bytes (a log length far past
 * the array, an index past the end, a cyclic verified-driver list, a log array pointing
 * nowhere) that must give notes, never a crash. */
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

#include "analysis/analyze.h"
#include "dump/dump.h"
#include "kobj/kobj.h"
#include "kobj/kverifier.h"
#include "mem/mem.h"
#include "test_util.h"

#define ISF19041 TU_ISF19041
#define SCENE_SYMPATH NTKD_CORPUS "/isf;" NTKD_CORPUS "/symstore"

typedef tu_scene scene;

static void scene_build(scene *s, const char *name)
{
    tu_scene_build(s, "vrf", name);
}

static void scene_target(scene *s)
{
    if (s->t) {
        ntkd_close(s->t);
        ntkd_ctx_free(s->ctx);
    }
    s->ctx = ntkd_ctx_new();
    ntkd_open_opts o = {.sympath = SCENE_SYMPATH};
    assert_int_equal(ntkd_open_mem(s->ctx, "scene.dmp", s->buf, s->len, &o, &s->t), NTKD_OK);
    assert_non_null(nk_k_types(s->t));
}

/* The n-th manifest line starting with `prefix` (NULL when none). */
static const char *mline(const scene *s, const char *prefix, size_t nth)
{
    size_t k = 0, pl = strlen(prefix);
    for (size_t i = 0; i < s->nlines; i++)
        if (!strncmp(s->lines[i], prefix, pl) && k++ == nth) return s->lines[i] + pl;
    return NULL;
}

static size_t mcount(const scene *s, const char *prefix)
{
    size_t k = 0;
    while (mline(s, prefix, k)) k++;
    return k;
}

static uint64_t msym(const scene *s, const char *name)
{
    char p[128];
    snprintf(p, sizeof p, "sym %s ", name);
    const char *v = mline(s, p, 0);
    assert_non_null(v);
    return strtoull(v, NULL, 0);
}

/* Writes n bytes at a kernel VA of the dump held in s->buf (the target must be open). */
static void poke(scene *s, uint64_t va, uint64_t v, unsigned n)
{
    uint64_t pa = 0;
    assert_int_equal(nk_vtop(s->t, va, &pa), NTKD_OK);
    size_t avail = 0;
    const uint8_t *p = nk_phys_ptr(s->t, pa, &avail);
    assert_non_null(p);
    assert_true(avail >= n);
    assert_true(p >= s->buf && p + n <= s->buf + s->len);
    size_t off = (size_t)(p - s->buf);
    for (unsigned i = 0; i < n; i++) s->buf[off + i] = (uint8_t)(v >> (8 * i));
}

static void verifier_state_and_logs(void **state)
{
    (void)state;
    scene s;
    scene_build(&s, "verifier");
    scene_target(&s);
    nk_kv_state vs;
    assert_int_equal(nk_kv_read(s.t, &vs), NTKD_OK);
    assert_int_equal(vs.level, strtoul(mline(&s, "verifier_level ", 0), NULL, 0));
    assert_int_equal(vs.ndrv, mcount(&s, "verified "));
    for (size_t i = 0; i < vs.ndrv; i++) {
        char name[64];
        unsigned long long paged, np;
        assert_int_equal(sscanf(mline(&s, "verified ", i), "%63s %llx %llx", name, &paged, &np), 3);
        assert_string_equal(vs.drv[i].name, name);
        assert_true(vs.drv[i].has_pool);
        assert_int_equal(vs.drv[i].paged, paged);
        assert_int_equal(vs.drv[i].np, np);
        assert_true(vs.drv[i].base != 0 && vs.drv[i].size != 0);
    }
    assert_int_equal(vs.why.len, 0);
    nk_kv_free(&vs);

    nk_kv_log l;
    assert_int_equal(nk_kv_log_read(s.t, NK_KV_LOG_POOL, &l), NTKD_OK);
    size_t np = 0;
    for (size_t i = 0; mline(&s, "vlog pool ", i); i++) np++;
    assert_int_equal(l.n, np);
    /* most recent first: the first entry is the manifest's last pool line */
    unsigned slot;
    unsigned long long addr, size, thread;
    assert_int_equal(sscanf(mline(&s, "vlog pool ", np - 1), "%x %llx %llx %llx", &slot, &addr, &size, &thread), 4);
    assert_int_equal(l.e[0].slot, slot);
    assert_int_equal(l.e[0].addr, addr);
    assert_int_equal(l.e[0].size, size);
    assert_int_equal(l.e[0].thread, thread);
    assert_true(l.e[0].nstack >= 3);
    nk_kv_log_free(&l);

    uint32_t g = 0;
    assert_int_equal(nk_kv_gflag(s.t, &g), NTKD_OK);
    assert_int_equal(g, strtoul(mline(&s, "gflag ", 0), NULL, 0));
    tu_scene_close(&s);
}

static void apc_balance_and_blame(void **state)
{
    (void)state;
    scene s;
    scene_build(&s, "apc");
    scene_target(&s);
    unsigned long long th;
    assert_int_equal(sscanf(mline(&s, "apc_thread ", 0), "%llx", &th), 1);
    nk_kv_log l;
    assert_int_equal(nk_kv_log_read(s.t, NK_KV_LOG_CRIT, &l), NTKD_OK);
    assert_int_equal(l.n, mcount(&s, "vlog crit "));
    nk_kv_balance *b = NULL;
    size_t nb = 0;
    assert_int_equal(nk_kv_crit_balance(s.t, &l, &b, &nb), NTKD_OK);
    bool found = false;
    for (size_t i = 0; i < nb; i++) {
        if (b[i].enters == b[i].leaves) continue;
        /* the only unbalanced pair: the culprit on the crashing thread */
        assert_int_equal(b[i].thread, th);
        assert_string_equal(b[i].module, "BadDriver");
        assert_int_equal(b[i].enters, 1);
        assert_int_equal(b[i].leaves, 0);
        found = true;
    }
    assert_true(found);
    free(b);
    nk_kv_log_free(&l);
    nk_analysis a;
    assert_int_equal(nk_analyze(s.t, &a), NTKD_OK);
    assert_int_equal(a.code, 0x20);
    assert_string_equal(a.module_name, "BadDriver");
    assert_string_equal(a.image_name, "BadDriver.sys");
    tu_scene_close(&s);
}

/* bug check 0x1 (APC_INDEX_MISMATCH): the parameters as the manifest's header records them
 * (P1 nt!NtDeviceIoControlFile, P2 the thread's ApcStateIndex, P3 its CombinedApcDisable,
 * P4 0: a system call) and the culprit of the critical-region log blamed. */
static void apcmismatch_blame(void **state)
{
    (void)state;
    scene s;
    scene_build(&s, "apcmismatch");
    scene_target(&s);
    unsigned long long p[4], code, fn, idx;
    assert_int_equal(sscanf(mline(&s, "header BugCheckCode ", 0), "%llx", &code), 1);
    for (int i = 0; i < 4; i++) {
        char pre[40];
        snprintf(pre, sizeof pre, "header BugCheckParameter%d ", i + 1);
        assert_int_equal(sscanf(mline(&s, pre, 0), "%llx", &p[i]), 1);
    }
    assert_int_equal(sscanf(mline(&s, "func nt NtDeviceIoControlFile ", 0), "%llx", &fn), 1);
    assert_int_equal(sscanf(mline(&s, "apc_index ", 0), "%llu", &idx), 1);
    assert_int_equal(code, 0x1);
    assert_int_equal(p[0], fn);
    assert_int_equal(p[1], idx);
    assert_int_equal(p[2] & 0xffff, 0xffff); /* KernelApcDisable -1 */
    assert_int_equal(p[3], 0);
    nk_analysis a;
    assert_int_equal(nk_analyze(s.t, &a), NTKD_OK);
    assert_int_equal(a.code, 0x1);
    for (int i = 0; i < 4; i++) assert_int_equal(a.params[i], p[i]);
    assert_string_equal(a.module_name, "BadDriver");
    assert_string_equal(a.image_name, "BadDriver.sys");
    assert_non_null(strstr(a.bucket, "0x1_CRITICAL_REGION_BadDriver!"));
    bool culprit = false;
    for (size_t i = 0; i < a.nkfacts; i++)
        if (!strcmp(a.kfacts[i].key, "CRITICAL_REGION_CULPRIT") && strstr(a.kfacts[i].value, "BadDriver") &&
            strstr(a.kfacts[i].value, "on the crashing thread"))
            culprit = true;
    assert_true(culprit);
    tu_scene_close(&s);
}

static void hostile_edits(void **state)
{
    (void)state;
    scene s;
    scene_build(&s, "apc");
    scene_target(&s);
    /* critical-region log: a huge length and an index past the end */
    poke(&s, msym(&s, "VfKeCriticalRegionTracesLength"), 0x7fffffff, 4);
    poke(&s, msym(&s, "VfKeCriticalRegionTracesIndex"), 0xfffffff0u, 4);
    /* the first verified driver's Flink points at itself (a cycle not returning to the head) */
    uint64_t head = msym(&s, "VfSuspectDriversList");
    uint64_t first = 0;
    assert_int_equal(nk_read_u64(s.t, head, &first), NTKD_OK);
    poke(&s, first, first, 8);
    /* the IRP log's array points at an address outside the dump */
    poke(&s, msym(&s, "IovIrpTraces"), 0xffffc00000000000ull, 8);
    scene_target(&s);

    nk_kv_log l;
    assert_int_equal(nk_kv_log_read(s.t, NK_KV_LOG_CRIT, &l), NTKD_OK);
    assert_non_null(l.why.s);
    assert_non_null(strstr(l.why.s, "claims 0x7fffffff entries"));
    assert_non_null(strstr(l.why.s, "past its"));
    assert_non_null(strstr(l.why.s, "not in the dump"));
    nk_kv_log_free(&l);

    assert_int_equal(nk_kv_log_read(s.t, NK_KV_LOG_IRP, &l), NTKD_OK);
    assert_int_equal(l.n, 0);
    assert_non_null(l.why.s);
    assert_non_null(strstr(l.why.s, "not in the dump"));
    nk_kv_log_free(&l);

    nk_kv_state vs;
    assert_int_equal(nk_kv_read(s.t, &vs), NTKD_OK);
    assert_int_equal(vs.ndrv, 1);
    assert_non_null(vs.why.s);
    assert_non_null(strstr(vs.why.s, "VfSuspectDriversList"));
    nk_kv_free(&vs);
    nk_analysis a;
    assert_int_equal(nk_analyze(s.t, &a), NTKD_OK);
    tu_scene_close(&s);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(verifier_state_and_logs),
        cmocka_unit_test(apc_balance_and_blame),
        cmocka_unit_test(apcmismatch_blame),
        cmocka_unit_test(hostile_edits),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
