/* test_rpn.c: the FrameData program evaluator (nk_rpn_eval).
 *
 * Programs come from real symbol files: the STACK WIN 4 lines of Breakpad's dump_syms output
 * for basic32.dll (basic32.sym, an independent tool's reading of basic32.pdb), and the same
 * records read from basic32.pdb by our reader must carry the same programs. They are
 * evaluated against a synthetic register and memory state whose results were computed by
 * hand from the program text. Malformed programs must fail with a message, never crash. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "code/unwind.h"
#include "pdb/pdb.h"

#define DSYMS NTKD_CORPUS "/pdb-fixtures/dump_syms"

/* memory: every 4-aligned word below 0x100000 holds its address + 0x1000 (a deterministic
 * "stack"), except a few cells set by the test; anything else is not present */
typedef struct mem {
    uint32_t addr[8], val[8];
    size_t n;
} mem;

static nk_status rd(void *user, uint64_t va, uint32_t *v)
{
    mem *m = user;
    for (size_t i = 0; i < m->n; i++)
        if (m->addr[i] == va) { *v = m->val[i]; return NTKD_OK; }
    if (va < 0x100000 && !(va & 3)) { *v = (uint32_t)va + 0x1000; return NTKD_OK; }
    return NTKD_E_NOTPRESENT;
}

static void env_init(nk_rpn_env *e, nk_uregs *r, mem *m, uint32_t esp, uint32_t ebp, uint32_t ra)
{
    memset(e, 0, sizeof *e);
    memset(r, 0, sizeof *r);
    r->arch = NK_ARCH_X86;
    r->r[4] = esp; r->r[5] = ebp; r->r[3] = 0x7000u; r->r[6] = 0x51515151u; r->r[7] = 0xd1d1d1d1u;
    r->r[NK_UR_X86_EIP] = 0x10001000u;
    r->valid = (1ull << 3) | (1ull << 4) | (1ull << 5) | (1ull << 6) | (1ull << 7) | (1ull << NK_UR_X86_EIP);
    e->regs = r;
    e->ra_search = ra;
    e->read32 = rd;
    e->read_user = m;
}

#define EIP(r) ((uint32_t)(r).r[NK_UR_X86_EIP])

/* The three program shapes of basic32's FrameData, hand-evaluated. */
static void basic_programs(void **state)
{
    (void)state;
    nk_rpn_env e;
    nk_uregs r;
    mem m = {0};
    char err[128];
    /* esp-relative, nothing saved */
    env_init(&e, &r, &m, 0x8000, 0x9000, 0x8010);
    assert_int_equal(nk_rpn_eval(&e, "$T0 .raSearch = $eip $T0 ^ = $esp $T0 4 + =", err, sizeof err), NTKD_OK);
    assert_int_equal(EIP(r), 0x8010 + 0x1000);
    assert_int_equal(r.r[4], 0x8014);
    assert_int_equal(r.r[5], 0x9000);                    /* untouched */
    assert_true(e.t_set & 1);
    assert_int_equal(e.t_vars[0], 0x8010);
    /* ebp saved below the return address */
    env_init(&e, &r, &m, 0x8000, 0x9000, 0x8020);
    assert_int_equal(nk_rpn_eval(&e, "$T0 .raSearch = $eip $T0 ^ = $esp $T0 4 + = $ebp $T0 4 - ^ =", err, sizeof err), NTKD_OK);
    assert_int_equal(EIP(r), 0x9020);
    assert_int_equal(r.r[4], 0x8024);
    assert_int_equal(r.r[5], 0x801c + 0x1000);
    /* ebp frame: $T0 = ebp + 4 (return address slot) */
    env_init(&e, &r, &m, 0x8000, 0x9000, 0);
    assert_int_equal(nk_rpn_eval(&e, "$T0 $ebp 4 + = $eip $T0 ^ = $esp $T0 4 + = $ebp $T0 4 - ^ =", err, sizeof err), NTKD_OK);
    assert_int_equal(EIP(r), 0x9004 + 0x1000);
    assert_int_equal(r.r[4], 0x9008);
    assert_int_equal(r.r[5], 0x9000 + 0x1000);
    /* the MSVC ebp form with a later use of the reassigned $ebp */
    env_init(&e, &r, &m, 0x8000, 0x9000, 0);
    assert_int_equal(nk_rpn_eval(&e, "$T0 $ebp = $eip $T0 4 + ^ = $ebp $T0 ^ = $esp $T0 8 + = $ebx $ebp 4 - ^ =", err, sizeof err), NTKD_OK);
    assert_int_equal(EIP(r), 0xa004);
    assert_int_equal(r.r[5], 0xa000);
    assert_int_equal(r.r[4], 0x9008);
    assert_int_equal(r.r[3], 0x9ffc + 0x1000);          /* read through the new ebp */
}

static void operators(void **state)
{
    (void)state;
    nk_rpn_env e;
    nk_uregs r;
    mem m = {.addr = {0x2000}, .val = {0xdeadbeef}, .n = 1};
    char err[128];
    env_init(&e, &r, &m, 0x8000, 0x9000, 0x8123);
    /* alignment: MSVC's "$T1 ... 8 @" aligned frames */
    assert_int_equal(nk_rpn_eval(&e, "$T1 .raSearch 8 @ = $T2 $T1 16 @ = $T3 100 7 % = $T4 100 7 / = $T5 3 5 - = $T6 6 7 * =", err, sizeof err), NTKD_OK);
    assert_int_equal(e.t_vars[1], 0x8120);
    assert_int_equal(e.t_vars[2], 0x8120);
    assert_int_equal(e.t_vars[3], 2);
    assert_int_equal(e.t_vars[4], 14);
    assert_int_equal(e.t_vars[5], 0xfffffffeu);         /* 32-bit wraparound */
    assert_int_equal(e.t_vars[6], 42);
    /* dereference of a set cell and of a variable; hex numbers; chained temporaries */
    assert_int_equal(nk_rpn_eval(&e, "$T7 0x2000 ^ = $T8 $T7 1 + = $T9 $T1 ^ =", err, sizeof err), NTKD_OK);
    assert_int_equal(e.t_vars[7], 0xdeadbeef);
    assert_int_equal(e.t_vars[8], 0xdeadbef0);
    assert_int_equal(e.t_vars[9], 0x8120 + 0x1000);
    /* sizes of the record */
    e.have_sizes = true; e.cb_locals = 0x10; e.cb_saved_regs = 8; e.cb_params = 12;
    assert_int_equal(nk_rpn_eval(&e, "$T0 $esp .cbLocals + .cbSavedRegs + .cbParams + =", err, sizeof err), NTKD_OK);
    assert_int_equal(e.t_vars[0], 0x8000 + 0x10 + 8 + 12);
    /* a local $name */
    assert_int_equal(nk_rpn_eval(&e, "$L 5 = $P $L 2 * = $eip $P =", err, sizeof err), NTKD_OK);
    assert_int_equal(EIP(r), 10);
}

static void malformed(void **state)
{
    (void)state;
    static const char *const bad[] = {
        "+", "1 +", "$T0 =", "=", "^", "1 2 =", "$T0 1 0 / =", "$T0 1 0 % =", "$T0 5 3 @ =",
        "$T0 $T3 =", "$T0 .raSearch", "$eip 0x7ffffff0 ^ =", "$T0 1", "$T0 junk =", "$ 1 =",
        "$T0 99999999999 =", "$T0 0x =", ".raSearch 1 =", "$eax 1 =" /* valid: see below */,
        "$T0 $eax =" /* eax is not known */,
        "$T0 aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa =",
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        nk_rpn_env e;
        nk_uregs r;
        mem m = {0};
        char err[128] = "";
        env_init(&e, &r, &m, 0x8000, 0x9000, 0x8010);
        nk_status st = nk_rpn_eval(&e, bad[i], err, sizeof err);
        if (!strcmp(bad[i], "$eax 1 =")) { assert_int_equal(st, NTKD_OK); continue; }
        if (st == NTKD_OK) fail_msg("'%s' was accepted", bad[i]);
        assert_true(err[0] != 0);
    }
    /* a deep stack */
    char *deep = malloc(100000);
    assert_non_null(deep);
    size_t n = 0;
    for (int i = 0; i < 20000 && n + 8 < 100000; i++) n += (size_t)sprintf(deep + n, "1 ");
    nk_rpn_env e;
    nk_uregs r;
    mem m = {0};
    char err[128];
    env_init(&e, &r, &m, 0x8000, 0x9000, 0x8010);
    assert_int_not_equal(nk_rpn_eval(&e, deep, err, sizeof err), NTKD_OK);
    /* no registers, no memory */
    nk_rpn_env e0 = {0};
    assert_int_not_equal(nk_rpn_eval(&e0, "$eip $esp ^ =", err, sizeof err), NTKD_OK);
    assert_int_not_equal(nk_rpn_eval(&e0, NULL, err, sizeof err), NTKD_OK);
    free(deep);
}

/* Every STACK WIN 4 program of basic32.sym evaluates; its .raSearch or ebp forms give the
 * results computed from the program's shape; and basic32.pdb holds the same program for the
 * same RVA. */
static void sym_programs(void **state)
{
    (void)state;
    FILE *f = fopen(DSYMS "/basic32.sym", "r");
    assert_non_null(f);
    ntkd_ctx *ctx = ntkd_ctx_new();
    nk_pdb *pdb = NULL;
    assert_int_equal(nk_pdb_open(ctx, DSYMS "/basic32.pdb", &pdb), NTKD_OK);
    char line[2048];
    size_t n = 0, same = 0;
    while (fgets(line, sizeof line, f)) {
        if (strncmp(line, "STACK WIN 4 ", 12)) continue;
        unsigned rva, size, prolog, epilog, params, saved, locals, maxst, hasprog;
        int off = 0;
        if (sscanf(line + 12, "%x %x %x %x %x %x %x %x %x %n", &rva, &size, &prolog, &epilog, &params,
                   &saved, &locals, &maxst, &hasprog, &off) != 9 || !hasprog) continue;
        char *prog = line + 12 + off;
        prog[strcspn(prog, "\r\n")] = 0;
        const nk_pdb_framedata *fd = nk_pdb_framedata_find(pdb, rva);
        assert_non_null(fd);
        if (fd->rva == rva && fd->program) {
            /* dump_syms trims the trailing blank of the /names string */
            size_t l = strlen(prog);
            if (!strncmp(fd->program, prog, l)) same++;
        }
        nk_rpn_env e;
        nk_uregs r;
        mem m = {0};
        char err[128];
        uint32_t esp = 0x8000, ebp = 0x9000, ra = esp + locals + saved;
        env_init(&e, &r, &m, esp, ebp, ra);
        nk_status st = nk_rpn_eval(&e, prog, err, sizeof err);
        if (st != NTKD_OK) fail_msg("%x '%s': %s", rva, prog, err);
        if (!strncmp(prog, "$T0 .raSearch = $eip $T0 ^ = $esp $T0 4 + =", 43)) {
            assert_int_equal(EIP(r), ra + 0x1000);
            assert_int_equal(r.r[4], ra + 4);
        } else if (!strncmp(prog, "$T0 $ebp 4 + = $eip $T0 ^ = $esp $T0 4 + =", 42) ||
                   !strncmp(prog, "$T0 $ebp = $eip $T0 4 + ^ = $ebp $T0 ^ = $esp $T0 8 + =", 55)) {
            assert_int_equal(EIP(r), ebp + 4 + 0x1000);
            assert_int_equal(r.r[4], ebp + 8);
        }
        n++;
    }
    fclose(f);
    assert_true(n >= 20);
    assert_int_equal(same, n);
    nk_pdb_close(pdb);
    ntkd_ctx_free(ctx);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(basic_programs),
        cmocka_unit_test(operators),
        cmocka_unit_test(malformed),
        cmocka_unit_test(sym_programs),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
