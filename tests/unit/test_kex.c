/* test_kex.c: the kernel diagnoses of analysis/kdiag.c on scenes written by ntkd-genscene.
 *
 *  - timers: KTIMER.Dpc as the scene stores it (a plain pointer) and as 64-bit Windows 8 and
 *    later store it, encoded with nt!KiWaitNever / nt!KiWaitAlways. The encoded form is written
 *    here into the dump's bytes with the formula public decompilations of KeSetTimerEx show:
 *      stored = KiWaitNever ^ ror64(timer ^ bswap64(KiWaitAlways ^ dpc), KiWaitNever & 63)
 *    and the scan must give back the manifest's KDPC.
 *  - DPC queues: every manifest `dpc` line, per processor.
 *  - resources: the deadlock scene's self-deadlock (a thread waiting shared on a resource it
 *    owns through an owner pointer into its own stack) is one cycle of one step.
 * The facts checked are the manifest's (the generator's), never this reader's own output. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "analysis/analyze.h"
#include "analysis/kdiag.h"
#include "dump/dump.h"
#include "kobj/kobj.h"
#include "mem/mem.h"
#include "test_util.h"

#define ISF19041 TU_ISF19041
#define SCENE_SYMPATH NTKD_CORPUS "/isf;" NTKD_CORPUS "/symstore"

typedef tu_scene scene;

/* Builds the scene; `patch` (may be NULL) edits the file's bytes before the target opens. */
static void scene_open_p(scene *s, const char *name, void (*patch)(scene *s));
static void scene_open(scene *s, const char *name)
{
    scene_open_p(s, name, NULL);
}

static void scene_open_p(scene *s, const char *name, void (*patch)(scene *s))
{
    tu_scene_build(s, "kex", name);
    if (patch) patch(s);
    s->ctx = ntkd_ctx_new();
    ntkd_open_opts o = {.sympath = SCENE_SYMPATH};
    assert_int_equal(ntkd_open_mem(s->ctx, "scene.dmp", s->buf, s->len, &o, &s->t), NTKD_OK);
    assert_non_null(nk_k_types(s->t));
}

/* Writes 8 bytes at a kernel VA of the dump held in s->buf. */
static void poke64(scene *s, uint64_t va, uint64_t v)
{
    uint64_t pa = 0;
    assert_int_equal(nk_vtop(s->t, va, &pa), NTKD_OK);
    size_t avail = 0;
    const uint8_t *p = nk_phys_ptr(s->t, pa, &avail);
    assert_non_null(p);
    assert_true(avail >= 8);
    assert_true(p >= s->buf && p + 8 <= s->buf + s->len);
    size_t off = (size_t)(p - s->buf);
    for (int i = 0; i < 8; i++) s->buf[off + (size_t)i] = (uint8_t)(v >> (8 * i));
}

static uint64_t ror64(uint64_t v, unsigned n)
{
    n &= 63;
    return n ? (v >> n) | (v << (64 - n)) : v;
}

static void timers_plain_and_encoded(void **state)
{
    (void)state;
    scene s;
    scene_open(&s, "133");
    uint64_t taddr[16], tdpc[16];
    size_t nt = 0;
    for (size_t i = 0; i < s.nlines && nt < 16; i++) {
        unsigned long long a, due, d;
        if (sscanf(s.lines[i], "timer %llx %llx %llx", &a, &due, &d) == 3 && d) {
            taddr[nt] = a;
            tdpc[nt++] = d;
        }
    }
    assert_true(nt > 0);
    /* as stored (plain pointers): read as they are */
    nk_kd_timers tt;
    assert_int_equal(nk_kd_timers_scan(s.t, &tt), NTKD_OK);
    for (size_t k = 0; k < nt; k++) {
        bool found = false;
        for (size_t i = 0; i < tt.n; i++)
            if (tt.tm[i].addr == taddr[k]) {
                found = true;
                assert_int_equal(tt.tm[i].dpc, tdpc[k]);
                assert_false(tt.tm[i].dpc_encoded);
                assert_int_not_equal(tt.tm[i].routine, 0);
            }
        assert_true(found);
    }
    nk_kd_timers_free(&tt);
    /* encoded as Windows 8+ x64 stores them */
    uint64_t never = 0, always = 0, dpc_off = 0;
    assert_int_equal(nk_k_global_ptr(s.t, "KiWaitNever", &never), NTKD_OK);
    assert_int_equal(nk_k_global_ptr(s.t, "KiWaitAlways", &always), NTKD_OK);
    if (!never || !always) { /* make the rotation and both keys matter */
        uint64_t va;
        assert_int_equal(nk_k_global(s.t, "KiWaitNever", &va), NTKD_OK);
        poke64(&s, va, never = 0x5a17c3e9d2b4a61dull);
        assert_int_equal(nk_k_global(s.t, "KiWaitAlways", &va), NTKD_OK);
        poke64(&s, va, always = 0xc0ffee1234567891ull);
    }
    assert_int_equal(nk_k_offset(s.t, "_KTIMER", "Dpc", &dpc_off), NTKD_OK);
    for (size_t k = 0; k < nt; k++) {
        uint64_t enc = never ^ ror64(taddr[k] ^ __builtin_bswap64(always ^ tdpc[k]), (unsigned)(never & 0xff));
        poke64(&s, taddr[k] + dpc_off, enc);
    }
    assert_int_equal(nk_kd_timers_scan(s.t, &tt), NTKD_OK);
    for (size_t k = 0; k < nt; k++) {
        bool found = false;
        for (size_t i = 0; i < tt.n; i++)
            if (tt.tm[i].addr == taddr[k]) {
                found = true;
                assert_int_equal(tt.tm[i].dpc, tdpc[k]);
                assert_true(tt.tm[i].dpc_encoded);
            }
        assert_true(found);
    }
    nk_kd_timers_free(&tt);
    tu_scene_close(&s);
}

static void dpc_queues(void **state)
{
    (void)state;
    scene s;
    scene_open(&s, "133");
    nk_kd_dpcs d;
    assert_int_equal(nk_kd_dpcs_scan(s.t, -1, &d), NTKD_OK);
    size_t want = 0;
    for (size_t i = 0; i < s.nlines; i++) {
        unsigned cpu;
        unsigned long long kdpc, routine;
        if (sscanf(s.lines[i], "dpc %u %llx %llx", &cpu, &kdpc, &routine) != 3) continue;
        want++;
        bool found = false;
        for (size_t k = 0; k < d.ndpc; k++)
            if (d.dpc[k].kdpc == kdpc) {
                found = true;
                assert_int_equal(d.dpc[k].cpu, cpu);
                assert_int_equal(d.dpc[k].routine, routine);
                assert_false(d.dpc[k].threaded);
            }
        assert_true(found);
    }
    assert_true(want > 0);
    assert_int_equal(d.ndpc, want);
    /* the running DPC (KPRCB.CurrentDpcRoutine on this build) */
    for (size_t i = 0; i < s.nlines; i++) {
        unsigned cpu;
        unsigned long long routine;
        if (sscanf(s.lines[i], "long_dpc %u %llx", &cpu, &routine) != 2) continue;
        assert_true(cpu < d.ncpus);
        assert_int_equal(d.cpus[cpu].active_routine, routine);
    }
    /* one processor only, and one that does not exist */
    nk_kd_dpcs_free(&d);
    assert_int_equal(nk_kd_dpcs_scan(s.t, 1, &d), NTKD_OK);
    for (size_t k = 0; k < d.ndpc; k++) assert_int_equal(d.dpc[k].cpu, 1);
    nk_kd_dpcs_free(&d);
    assert_int_not_equal(nk_kd_dpcs_scan(s.t, 999, &d), NTKD_OK);
    /* hostile: a KDPC whose link points at itself (a loop that never returns to the head) */
    uint64_t le = 0, loopdpc = 0;
    assert_int_equal(nk_k_offset(s.t, "_KDPC", "DpcListEntry", &le), NTKD_OK);
    for (size_t i = 0; i < s.nlines && !loopdpc; i++) {
        unsigned cpu;
        unsigned long long kdpc;
        if (sscanf(s.lines[i], "dpc %u %llx", &cpu, &kdpc) == 2 && cpu == 1) loopdpc = kdpc;
    }
    assert_int_not_equal(loopdpc, 0);
    poke64(&s, loopdpc + le, loopdpc + le);
    assert_int_equal(nk_kd_dpcs_scan(s.t, 1, &d), NTKD_OK);
    assert_true(d.ndpc >= 1 && d.ndpc <= want);
    assert_non_null(d.why.s);
    char hexa[32];
    snprintf(hexa, sizeof hexa, "%016llx", (unsigned long long)(loopdpc + le));
    assert_non_null(strstr(d.why.s, hexa)); /* the message names the looping link */
    nk_kd_dpcs_free(&d);
    tu_scene_close(&s);
}

static void self_deadlock(void **state)
{
    (void)state;
    scene s;
    scene_open(&s, "deadlock");
    unsigned long long th = 0, res = 0;
    for (size_t i = 0; i < s.nlines; i++)
        if (sscanf(s.lines[i], "deadlock %llx %llx", &th, &res) == 2) break;
    assert_int_not_equal(th, 0);
    size_t nwait = 0;
    for (size_t i = 0; i < s.nlines; i++) {
        unsigned long long r, w;
        if (sscanf(s.lines[i], "waiter %llx %llx", &r, &w) == 2 && r == res) nwait++;
    }
    nk_kd_locks l;
    assert_int_equal(nk_kd_locks_scan(s.t, 0, false, &l), NTKD_OK);
    assert_true(l.threads_ok);
    assert_int_equal(l.ncycles, 1);
    assert_int_equal(l.cycles[0].n, 1);
    assert_int_equal(l.cycles[0].steps[0].thread, th);
    assert_int_equal(l.cycles[0].steps[0].resource, res);
    assert_true(l.cycles[0].steps[0].via_owner_ptr);
    bool found = false;
    for (size_t i = 0; i < l.nres; i++) {
        const nk_kd_res *r = &l.res[i];
        if (r->addr != res) continue;
        found = true;
        assert_true(r->exclusive);
        assert_int_equal(r->nswait + r->nxwait, nwait);
        assert_int_equal(r->n_shared_waiters, nwait);
        assert_true(r->nowners >= 1);
        assert_true(r->owners[0].owner_ptr);
        assert_int_equal(r->owners[0].thread, th);
    }
    assert_true(found);
    nk_kd_locks_free(&l);
    /* one resource by address; an address that holds none */
    assert_int_equal(nk_kd_locks_scan(s.t, res, false, &l), NTKD_OK);
    assert_int_equal(l.nres, 1);
    assert_int_equal(l.res[0].addr, res);
    nk_kd_locks_free(&l);
    assert_int_not_equal(nk_kd_locks_scan(s.t, 0x10, false, &l), NTKD_OK);
    tu_scene_close(&s);
}

/* ---- a two-thread deadlock (A waits for B's resource, B for A's) -------------------------------
 * The 9f scene: the worker owns the engine resource exclusively and the device-tree resource
 * shared; a second thread waits for the engine resource. This test hands the device-tree
 * resource to that second thread and makes the worker wait on it (the resource's
 * ExclusiveWaiters now names the object the worker waits on): a cycle of two. */
static void two_thread_cycle(void **state)
{
    (void)state;
    scene s;
    scene_open(&s, "9f");
    unsigned long long engine = 0, tree = 0, worker = 0, w2 = 0;
    for (size_t i = 0; i < s.nlines; i++) {
        unsigned long long r, o, nsw, nxw, c;
        unsigned ex;
        if (sscanf(s.lines[i], "resource %llx %llx %u %llx %llx %llx", &r, &o, &ex, &nsw, &nxw, &c) == 6 && o) {
            if (ex) engine = r, worker = o;
            else tree = r;
        }
    }
    for (size_t i = 0; i < s.nlines; i++) {
        unsigned long long r, w;
        if (sscanf(s.lines[i], "waiter %llx %llx", &r, &w) == 2 && r == engine) w2 = w;
    }
    assert_true(engine && tree && worker && w2);
    /* the worker waits (state Waiting) without a wait block: give it one, in its own
       KTHREAD.WaitBlock[0], on a dummy event object the device-tree resource names */
    uint64_t oe = 0, ot = 0, xw = 0, wbl = 0, wb0 = 0, wobj = 0;
    assert_int_equal(nk_k_offset(s.t, "_ERESOURCE", "OwnerEntry", &oe), NTKD_OK);
    assert_int_equal(nk_k_offset(s.t, "_OWNER_ENTRY", "OwnerThread", &ot), NTKD_OK);
    assert_int_equal(nk_k_offset(s.t, "_ERESOURCE", "ExclusiveWaiters", &xw), NTKD_OK);
    assert_int_equal(nk_k_offset(s.t, "_KTHREAD", "WaitBlockList", &wbl), NTKD_OK);
    assert_int_equal(nk_k_offset(s.t, "_KTHREAD", "WaitBlock", &wb0), NTKD_OK);
    assert_int_equal(nk_k_offset(s.t, "_KWAIT_BLOCK", "Object", &wobj), NTKD_OK);
    const uint64_t event = worker + 0x10; /* any address: waits match by object address */
    poke64(&s, worker + wbl, worker + wb0);
    poke64(&s, worker + wb0 + wobj, event);
    uint64_t objs[8];
    size_t no = nk_k_wait_objects(s.t, worker, objs, 8);
    assert_int_equal(no, 1);
    assert_int_equal(objs[0], event);
    poke64(&s, tree + oe + ot, w2);
    poke64(&s, tree + xw, event);
    nk_kd_locks l;
    assert_int_equal(nk_kd_locks_scan(s.t, 0, false, &l), NTKD_OK);
    assert_int_equal(l.ncycles, 1);
    assert_int_equal(l.cycles[0].n, 2);
    bool a = false, b = false;
    for (size_t k = 0; k < 2; k++) {
        const nk_kd_step *st = &l.cycles[0].steps[k];
        a |= st->thread == worker && st->resource == tree;
        b |= st->thread == w2 && st->resource == engine;
        assert_false(st->via_owner_ptr);
    }
    assert_true(a && b);
    nk_kd_locks_free(&l);
    tu_scene_close(&s);
}

/* ---- 0x9F/4: the PnP lock owner ------------------------------------------------------------- */

static const char *mf_find(scene *s, const char *kind, unsigned long long key)
{
    size_t kl = strlen(kind);
    for (size_t i = 0; i < s->nlines; i++) {
        unsigned long long v;
        if (!strncmp(s->lines[i], kind, kl) && s->lines[i][kl] == ' ' && sscanf(s->lines[i] + kl, "%llx", &v) == 1 &&
            v == key)
            return s->lines[i];
    }
    return NULL;
}

static unsigned long long pnp_owner; /* the thread the patch puts in P3 */

/* The 9f scene's dump re-labelled 0x9F/4 with P3 = the thread that owns the PnP IRP (a full64
 * DUMP_HEADER64: BugCheckCode at 0x38, parameters from 0x40). */
static void patch_9f4(scene *s)
{
    assert_true(s->len > 0x60);
    assert_int_equal(s->buf[0x38], 0x9f);
    assert_int_equal(s->buf[0x40], 3);
    pnp_owner = 0;
    for (size_t i = 0; i < s->nlines && !pnp_owner; i++) {
        unsigned long long irp, th;
        if (sscanf(s->lines[i], "irp %llx %llx", &irp, &th) == 2 && th) pnp_owner = th;
    }
    assert_int_not_equal(pnp_owner, 0);
    s->buf[0x40] = 4;
    for (int i = 0; i < 8; i++) s->buf[0x50 + i] = (uint8_t)(pnp_owner >> (8 * i));
}

static void analyze_9f4(void **state)
{
    (void)state;
    scene s;
    scene_open_p(&s, "9f", patch_9f4);
    /* the expected driver: the one whose device holds that thread's IRP (manifest irp/device/driver) */
    char want[64] = "";
    for (size_t i = 0; i < s.nlines && !want[0]; i++) {
        unsigned long long irp, th, cur, cnt, mj, mn, dev;
        if (sscanf(s.lines[i], "irp %llx %llx %llx %llx %llx %llx %llx", &irp, &th, &cur, &cnt, &mj, &mn, &dev) != 7 ||
            th != pnp_owner)
            continue;
        const char *dl = mf_find(&s, "device", dev);
        assert_non_null(dl);
        unsigned long long d, drv;
        assert_int_equal(sscanf(dl, "device %llx %llx", &d, &drv), 2);
        const char *rl = mf_find(&s, "driver", drv);
        assert_non_null(rl);
        char name[128];
        assert_int_equal(sscanf(rl, "driver %*s %127s", name), 1);
        const char *b = strrchr(name, '\\');
        snprintf(want, sizeof want, "%.60s", b ? b + 1 : name);
    }
    assert_true(want[0]);
    nk_analysis *a = calloc(1, sizeof *a);
    assert_non_null(a);
    assert_int_equal(nk_analyze(s.t, a), NTKD_OK);
    assert_int_equal(a->code, 0x9f);
    assert_int_equal(a->params[0], 4);
    bool owner = false;
    for (size_t i = 0; i < a->nkfacts; i++) {
        if (!strcmp(a->kfacts[i].key, "PNP_LOCK_OWNER_THREAD")) {
            unsigned long long v = strtoull(a->kfacts[i].value, NULL, 16);
            assert_int_equal(v, pnp_owner);
            owner = true;
        }
    }
    assert_true(owner);
    assert_string_equal(a->module_name, want);
    char bucket[128];
    snprintf(bucket, sizeof bucket, "0x9F_4_%s_IMAGE_", want);
    assert_memory_equal(a->bucket, bucket, strlen(bucket));
    free(a);
    tu_scene_close(&s);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(timers_plain_and_encoded),
        cmocka_unit_test(dpc_queues),
        cmocka_unit_test(self_deadlock),
        cmocka_unit_test(two_thread_cycle),
        cmocka_unit_test(analyze_9f4),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
