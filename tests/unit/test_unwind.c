/* test_unwind.c: x64 unwinding on a PE image built here byte by byte, opened as an image
 * target (its section holds code, .pdata, .xdata and a stack). Each function's prolog and
 * unwind codes follow the documented x64 rules; the expected registers come from laying out
 * the stack by hand the way the prolog instructions would (push, sub rsp, mov [rsp+n]), not
 * from the unwinder.
 *   A: push rbx; push rbp; sub rsp,28h     (body, inside the prolog, inside the epilog)
 *   B: a machine frame (UWOP_PUSH_MACHFRAME, without and with an error code)
 *   C: a fragment whose UNWIND_INFO only chains to A's entry
 *   D: sub rsp,38h; mov [rsp+40h],rsi        (UWOP_SAVE_NONVOL)
 *   E: push rbp; mov rbp,rsp (+ sub rsp,20h) (UWOP_SET_FPREG)
 *   leaf: no .pdata entry
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "code/unwind.h"
#include "dump/context.h"
#include "image/pe.h"
#include "mem/mem.h"
#include "sym/sym.h"

#define IMGBASE 0x140000000ull
#define SECRVA 0x1000u
#define SECSIZE 0x4000u
#define FILEHDR 0x400u

/* RVAs inside the one section */
enum {
    A_RVA = 0x1000, B_RVA = 0x1100, C_RVA = 0x1200, D_RVA = 0x1300, E_RVA = 0x1400, B2_RVA = 0x1480,
    LEAF_RVA = 0x1500, PDATA_RVA = 0x1800, XDATA_RVA = 0x1900, STACK_RVA = 0x3000
};

typedef struct img {
    uint8_t *b;
    size_t size;
} img;

static void w16(uint8_t *p, uint16_t v) { p[0] = (uint8_t)v; p[1] = (uint8_t)(v >> 8); }
static void w32(uint8_t *p, uint32_t v) { for (int i = 0; i < 4; i++) p[i] = (uint8_t)(v >> (8 * i)); }
static void w64(uint8_t *p, uint64_t v) { for (int i = 0; i < 8; i++) p[i] = (uint8_t)(v >> (8 * i)); }

static uint8_t *at(img *m, uint32_t rva) { return m->b + FILEHDR + (rva - SECRVA); }
static void stack_put(img *m, uint64_t va, uint64_t v) { w64(at(m, (uint32_t)(va - IMGBASE)), v); }

static void build(img *m)
{
    m->size = FILEHDR + SECSIZE;
    m->b = calloc(1, m->size);
    uint8_t *b = m->b;
    b[0] = 'M';
    b[1] = 'Z';
    w32(b + 0x3c, 0x80);
    uint8_t *pe = b + 0x80;
    memcpy(pe, "PE\0\0", 4);
    w16(pe + 4, 0x8664);       /* Machine */
    w16(pe + 6, 1);            /* NumberOfSections */
    w16(pe + 20, 0xf0);        /* SizeOfOptionalHeader */
    w16(pe + 22, 0x22);        /* executable, large address aware */
    uint8_t *oh = pe + 24;
    w16(oh, 0x20b);
    w32(oh + 16, A_RVA);       /* AddressOfEntryPoint */
    w64(oh + 24, IMGBASE);
    w32(oh + 32, 0x1000);      /* SectionAlignment */
    w32(oh + 36, 0x200);       /* FileAlignment */
    w16(oh + 40, 6);
    w16(oh + 48, 6);
    w32(oh + 56, SECRVA + SECSIZE); /* SizeOfImage */
    w32(oh + 60, FILEHDR);     /* SizeOfHeaders */
    w16(oh + 68, 3);           /* console */
    w32(oh + 108, 16);         /* NumberOfRvaAndSizes */
    /* exception directory: 6 entries */
    w32(oh + 112 + 3 * 8, PDATA_RVA);
    w32(oh + 112 + 3 * 8 + 4, 6 * 12);
    uint8_t *sh = oh + 0xf0;
    memcpy(sh, ".text", 5);
    w32(sh + 8, SECSIZE);
    w32(sh + 12, SECRVA);
    w32(sh + 16, SECSIZE);
    w32(sh + 20, FILEHDR);
    w32(sh + 36, 0xe0000020);  /* code, RWX */

    /* A: 53 push rbx; 55 push rbp; 48 83 ec 28 sub rsp,28h; ... epilog at +0x80:
       48 83 c4 28 add rsp,28h; 5d pop rbp; 5b pop rbx; c3 ret */
    static const uint8_t a_pro[] = {0x53, 0x55, 0x48, 0x83, 0xec, 0x28};
    static const uint8_t a_epi[] = {0x48, 0x83, 0xc4, 0x28, 0x5d, 0x5b, 0xc3};
    memset(at(m, A_RVA), 0x90, 0x100);
    memcpy(at(m, A_RVA), a_pro, sizeof a_pro);
    memcpy(at(m, A_RVA + 0x80), a_epi, sizeof a_epi);
    memset(at(m, B_RVA), 0x90, 0x400);

    /* .pdata, sorted by begin */
    const uint32_t pd[6][3] = {{A_RVA, A_RVA + 0x100, XDATA_RVA},
                               {B_RVA, B_RVA + 0x80, XDATA_RVA + 0x10},
                               {C_RVA, C_RVA + 0x100, XDATA_RVA + 0x20},
                               {D_RVA, D_RVA + 0x100, XDATA_RVA + 0x40},
                               {E_RVA, E_RVA + 0x80, XDATA_RVA + 0x50},
                               {B2_RVA, B2_RVA + 0x80, XDATA_RVA + 0x60}};
    for (int i = 0; i < 6; i++)
        for (int k = 0; k < 3; k++) w32(at(m, PDATA_RVA + 12 * i + 4 * k), pd[i][k]);
    uint8_t *x = at(m, XDATA_RVA);
    /* A: version 1, prolog 6, 3 codes: ALLOC_SMALL 0x28 @6, PUSH rbp @2, PUSH rbx @1 */
    x[0] = 1; x[1] = 6; x[2] = 3; x[3] = 0;
    x[4] = 6; x[5] = (uint8_t)(((0x28 - 8) / 8) << 4 | 2);
    x[6] = 2; x[7] = (uint8_t)(5 << 4 | 0);
    x[8] = 1; x[9] = (uint8_t)(3 << 4 | 0);
    /* B: PUSH_MACHFRAME (no error code) @0 */
    x = at(m, XDATA_RVA + 0x10);
    x[0] = 1; x[1] = 0; x[2] = 1; x[3] = 0;
    x[4] = 0; x[5] = (uint8_t)(0 << 4 | 10);
    /* C: CHAININFO, no codes, then the parent RUNTIME_FUNCTION (A's) */
    x = at(m, XDATA_RVA + 0x20);
    x[0] = (uint8_t)(1 | 4 << 3); x[1] = 0; x[2] = 0; x[3] = 0;
    w32(x + 4, A_RVA); w32(x + 8, A_RVA + 0x100); w32(x + 12, XDATA_RVA);
    /* D: prolog 9: ALLOC_SMALL 0x38 @4, SAVE_NONVOL rsi at 0x40 @9 */
    x = at(m, XDATA_RVA + 0x40);
    x[0] = 1; x[1] = 9; x[2] = 3; x[3] = 0;
    x[4] = 9; x[5] = (uint8_t)(6 << 4 | 4); w16(x + 6, 0x40 / 8);
    x[8] = 4; x[9] = (uint8_t)(((0x38 - 8) / 8) << 4 | 2);
    /* E: push rbp @1; mov rbp,rsp @4 (SET_FPREG, rbp, offset 0); sub rsp,20h @8 */
    x = at(m, XDATA_RVA + 0x50);
    x[0] = 1; x[1] = 8; x[2] = 3; x[3] = 5 /* rbp, offset 0 */;
    x[4] = 8; x[5] = (uint8_t)(((0x20 - 8) / 8) << 4 | 2);
    x[6] = 4; x[7] = 3;
    x[8] = 1; x[9] = (uint8_t)(5 << 4 | 0);
    /* B2: PUSH_MACHFRAME with an error code */
    x = at(m, XDATA_RVA + 0x60);
    x[0] = 1; x[1] = 0; x[2] = 1; x[3] = 0;
    x[4] = 0; x[5] = (uint8_t)(1 << 4 | 10);
}

typedef struct fix {
    ntkd_ctx *ctx;
    ntkd_target *t;
    img m;
} fix;

static int setup(void **state)
{
    fix *f = calloc(1, sizeof *f);
    build(&f->m);
    f->ctx = ntkd_ctx_new();
    *state = f;
    return 0;
}

static int teardown(void **state)
{
    fix *f = *state;
    if (f->t) ntkd_close(f->t);
    ntkd_ctx_free(f->ctx);
    free(f->m.b);
    free(f);
    return 0;
}

static ntkd_target *open_img(fix *f)
{
    if (f->t) ntkd_close(f->t);
    f->t = NULL;
    ntkd_status st = ntkd_open_mem(f->ctx, "unwind-test.exe", f->m.b, f->m.size, NULL, &f->t);
    if (st != NTKD_OK) fprintf(stderr, "open: %s\n", ntkd_ctx_error(f->ctx));
    assert_int_equal(st, NTKD_OK);
    return f->t;
}

static nk_uregs regs_at(uint64_t rip, uint64_t rsp)
{
    nk_uregs r = {.arch = NK_ARCH_X64};
    for (int i = 0; i < 16; i++) r.r[i] = 0x1111111111111111ull * (uint64_t)(i + 1);
    r.r[4] = rsp;
    r.r[NK_UR_X64_RIP] = rip;
    r.valid = (1ull << 18) - 1;
    return r;
}

#define STK(off) (IMGBASE + STACK_RVA + (off))

static void test_body_prolog_epilog(void **state)
{
    fix *f = *state;
    /* after A's prolog: S0 = entry rsp; [S0] ret, [S0-8] rbx, [S0-16] rbp, rsp = S0-16-0x28 */
    uint64_t s0 = STK(0x800);
    stack_put(&f->m, s0, IMGBASE + 0x1234);
    stack_put(&f->m, s0 - 8, 0xb0b0b0b0);
    stack_put(&f->m, s0 - 16, 0xbeefbeef);
    ntkd_target *t = open_img(f);
    nk_frame_how how;
    char note[160];
    /* body */
    nk_uregs r = regs_at(IMGBASE + A_RVA + 0x10, s0 - 16 - 0x28);
    assert_int_equal(nk_step_x64(t, &r, &how, note, sizeof note), NTKD_OK);
    assert_int_equal(how, NK_FH_UNWIND);
    assert_int_equal(r.r[NK_UR_X64_RIP], IMGBASE + 0x1234);
    assert_int_equal(r.r[4], s0 + 8);
    assert_int_equal(r.r[3], 0xb0b0b0b0);
    assert_int_equal(r.r[5], 0xbeefbeef);
    /* inside the prolog, after push rbx; push rbp (offset 2): the sub is not undone */
    r = regs_at(IMGBASE + A_RVA + 2, s0 - 16);
    assert_int_equal(nk_step_x64(t, &r, &how, note, sizeof note), NTKD_OK);
    assert_int_equal(r.r[4], s0 + 8);
    assert_int_equal(r.r[3], 0xb0b0b0b0);
    assert_int_equal(r.r[5], 0xbeefbeef);
    /* after the first push only (offset 1) */
    r = regs_at(IMGBASE + A_RVA + 1, s0 - 8);
    uint64_t rbp_before = r.r[5];
    assert_int_equal(nk_step_x64(t, &r, &how, note, sizeof note), NTKD_OK);
    assert_int_equal(r.r[4], s0 + 8);
    assert_int_equal(r.r[3], 0xb0b0b0b0);
    assert_int_equal(r.r[5], rbp_before);
    /* in the epilog at `pop rbp` (add rsp done): emulated, not the codes */
    r = regs_at(IMGBASE + A_RVA + 0x84, s0 - 16);
    assert_int_equal(nk_step_x64(t, &r, &how, note, sizeof note), NTKD_OK);
    assert_int_equal(r.r[NK_UR_X64_RIP], IMGBASE + 0x1234);
    assert_int_equal(r.r[4], s0 + 8);
    assert_int_equal(r.r[5], 0xbeefbeef);
    assert_int_equal(r.r[3], 0xb0b0b0b0);
    /* at the `ret` */
    r = regs_at(IMGBASE + A_RVA + 0x86, s0);
    assert_int_equal(nk_step_x64(t, &r, &how, note, sizeof note), NTKD_OK);
    assert_int_equal(r.r[NK_UR_X64_RIP], IMGBASE + 0x1234);
    assert_int_equal(r.r[4], s0 + 8);
    /* C chains to A: the same result from C's body with A's frame */
    r = regs_at(IMGBASE + C_RVA + 0x10, s0 - 16 - 0x28);
    assert_int_equal(nk_step_x64(t, &r, &how, note, sizeof note), NTKD_OK);
    assert_int_equal(r.r[NK_UR_X64_RIP], IMGBASE + 0x1234);
    assert_int_equal(r.r[4], s0 + 8);
    assert_int_equal(r.r[5], 0xbeefbeef);
}

static void test_machframe(void **state)
{
    fix *f = *state;
    uint64_t m0 = STK(0x400);
    stack_put(&f->m, m0, 0x7ff612345678ull);      /* RIP */
    stack_put(&f->m, m0 + 8, 0x33);               /* CS */
    stack_put(&f->m, m0 + 16, 0x10246);           /* EFLAGS */
    stack_put(&f->m, m0 + 24, 0x000000e1ab2c0000ull); /* RSP */
    stack_put(&f->m, m0 + 32, 0x2b);              /* SS */
    ntkd_target *t = open_img(f);
    nk_frame_how how;
    char note[160];
    nk_uregs r = regs_at(IMGBASE + B_RVA + 8, m0);
    assert_int_equal(nk_step_x64(t, &r, &how, note, sizeof note), NTKD_OK);
    assert_int_equal(how, NK_FH_MACHFRAME);
    assert_int_equal(r.r[NK_UR_X64_RIP], 0x7ff612345678ull);
    assert_int_equal(r.r[4], 0x000000e1ab2c0000ull);
    assert_int_equal(r.r[NK_UR_X64_EFL], 0x10246);
    /* with an error code below the machine frame */
    r = regs_at(IMGBASE + B2_RVA + 8, m0 - 8);
    assert_int_equal(nk_step_x64(t, &r, &how, note, sizeof note), NTKD_OK);
    assert_int_equal(how, NK_FH_MACHFRAME);
    assert_int_equal(r.r[NK_UR_X64_RIP], 0x7ff612345678ull);
    assert_int_equal(r.r[4], 0x000000e1ab2c0000ull);
}

static void test_save_nonvol_fpreg_leaf(void **state)
{
    fix *f = *state;
    /* D: entry rsp S0: [S0] ret; sub rsp,38h -> T = S0-0x38; mov [T+40h],rsi (home slot) */
    uint64_t s0 = STK(0x900);
    uint64_t tt = s0 - 0x38;
    stack_put(&f->m, s0, IMGBASE + 0x2222);
    stack_put(&f->m, tt + 0x40, 0x5151515151ull);
    /* E: entry rsp E0: [E0] ret; push rbp -> [E0-8]; mov rbp,rsp (rbp = E0-8); sub rsp,20h */
    uint64_t e0 = STK(0xa00);
    stack_put(&f->m, e0, IMGBASE + 0x3333);
    stack_put(&f->m, e0 - 8, 0xfeedfeedull);
    /* leaf: [L] ret */
    uint64_t l0 = STK(0xb00);
    stack_put(&f->m, l0, IMGBASE + 0x4444);
    ntkd_target *t = open_img(f);
    nk_frame_how how;
    char note[160];
    nk_uregs r = regs_at(IMGBASE + D_RVA + 0x20, tt);
    assert_int_equal(nk_step_x64(t, &r, &how, note, sizeof note), NTKD_OK);
    assert_int_equal(r.r[NK_UR_X64_RIP], IMGBASE + 0x2222);
    assert_int_equal(r.r[4], s0 + 8);
    assert_int_equal(r.r[6], 0x5151515151ull);
    /* E's body with rsp moved further (alloca-like): the frame pointer decides */
    r = regs_at(IMGBASE + E_RVA + 0x20, e0 - 8 - 0x20 - 0x100);
    r.r[5] = e0 - 8;
    assert_int_equal(nk_step_x64(t, &r, &how, note, sizeof note), NTKD_OK);
    assert_int_equal(r.r[NK_UR_X64_RIP], IMGBASE + 0x3333);
    assert_int_equal(r.r[4], e0 + 8);
    assert_int_equal(r.r[5], 0xfeedfeedull);
    /* leaf */
    r = regs_at(IMGBASE + LEAF_RVA, l0);
    assert_int_equal(nk_step_x64(t, &r, &how, note, sizeof note), NTKD_OK);
    assert_int_equal(how, NK_FH_LEAF);
    assert_int_equal(r.r[NK_UR_X64_RIP], IMGBASE + 0x4444);
    assert_int_equal(r.r[4], l0 + 8);
}

static void test_walk_and_stops(void **state)
{
    fix *f = *state;
    /* A's body -> leaf -> return address 0 */
    uint64_t s0 = STK(0xc00);
    stack_put(&f->m, s0, IMGBASE + LEAF_RVA);
    stack_put(&f->m, s0 - 8, 1);
    stack_put(&f->m, s0 - 16, 2);
    stack_put(&f->m, s0 + 8, 0);
    /* a self loop: leaf whose return address is itself, same sp impossible; use an rsp that
       wraps: unreadable stack stops */
    ntkd_target *t = open_img(f);
    nk_uregs r = regs_at(IMGBASE + A_RVA + 0x10, s0 - 16 - 0x28);
    nk_stack st;
    assert_int_equal(nk_stack_walk(t, &r, 64, &st), NTKD_OK);
    assert_int_equal(st.n, 2);
    assert_int_equal(st.f[0].pc, IMGBASE + A_RVA + 0x10);
    assert_int_equal(st.f[0].ret, IMGBASE + LEAF_RVA);
    assert_int_equal(st.f[1].sp, s0 + 8);
    assert_int_equal(st.f[1].ret, 0);
    assert_int_equal(st.f[1].how, NK_FH_LEAF);
    assert_string_equal(st.stop, "return address 0");
    nk_stack_free(&st);
    /* frame limit */
    assert_int_equal(nk_stack_walk(t, &r, 1, &st), NTKD_OK);
    assert_int_equal(st.n, 1);
    assert_non_null(strstr(st.stop, "frame limit"));
    nk_stack_free(&st);
    /* an unreadable stack */
    r = regs_at(IMGBASE + LEAF_RVA, 0x10);
    assert_int_equal(nk_stack_walk(t, &r, 64, &st), NTKD_OK);
    assert_int_equal(st.n, 1);
    assert_non_null(strstr(st.stop, "not readable"));
    nk_stack_free(&st);
    /* pc 0 */
    r = regs_at(0, s0);
    assert_int_equal(nk_stack_walk(t, &r, 64, &st), NTKD_OK);
    assert_string_equal(st.stop, "instruction pointer 0");
    nk_stack_free(&st);
}

static void test_uregs_from_context(void **state)
{
    (void)state;
    uint8_t b[0x4d0] = {0};
    for (int i = 0; i < 16; i++) w64(b + 0x78 + 8 * i, 0x100 + (uint64_t)i); /* Rax..R15 */
    w64(b + 0xf8, 0xfffff8047bdf5a80ull);
    w32(b + 0x44, 0x286);
    nk_context c = {NK_ARCH_X64, b, sizeof b, "test"};
    nk_uregs r;
    assert_int_equal(nk_uregs_from_context(&c, &r), NTKD_OK);
    for (int i = 0; i < 16; i++) assert_int_equal(r.r[i], 0x100 + (uint64_t)i);
    assert_int_equal(r.r[NK_UR_X64_RIP], 0xfffff8047bdf5a80ull);
    assert_int_equal(r.r[NK_UR_X64_EFL], 0x286);
    assert_int_equal(r.valid & 0x3ffff, 0x3ffff);
    nk_context none = {NK_ARCH_UNKNOWN, NULL, 0, "x"};
    assert_int_not_equal(nk_uregs_from_context(&none, &r), NTKD_OK);
}

/* The symbol layer's accessors for the unwinders, on the corpus triage dump: amdppm's image
 * (file layout from the store: its .pdata is complete) and PDB (corpus README: the store holds
 * both); ntoskrnl has neither a PDB identity nor a store image (README), so no PDB. */
static void test_sym_accessors(void **state)
{
    (void)state;
    ntkd_ctx *ctx = ntkd_ctx_new();
    ntkd_target *t = NULL;
    ntkd_open_opts o = {.sympath = NTKD_CORPUS "/symstore;" NTKD_CORPUS "/isf"};
    assert_int_equal(ntkd_open(ctx, NTKD_CORPUS "/dumps/kernel/triage-x64-19041.dmp", &o, &t), NTKD_OK);
    const uint64_t fault = 0xfffff8048b58334cull; /* bug check parameter 2 */
    uint64_t base = 0, pbase = 0;
    struct nk_pe *pe = nk_sym_image_at(t, fault, &base);
    assert_non_null(pe);
    assert_false(nk_pe_is_mem_layout(pe));
    assert_true(base <= fault && fault - base < nk_pe_hdr(pe)->size_of_image);
    nk_pe_func f;
    assert_int_equal(nk_pe_func_find(pe, (uint32_t)(fault - base), &f), NTKD_OK);
    assert_non_null(nk_sym_pdb_at(t, fault, &pbase));
    assert_int_equal(pbase, base);
    /* KeBugCheckEx (the KPRCB context's rip, README) */
    uint64_t nt_addr = nk_context_pc(&t->d.contexts[1]);
    assert_null(nk_sym_pdb_at(t, nt_addr, NULL));
    assert_null(nk_sym_image_at(t, 0x10, NULL));
    ntkd_close(t);
    ntkd_ctx_free(ctx);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_body_prolog_epilog, setup, teardown),
        cmocka_unit_test_setup_teardown(test_machframe, setup, teardown),
        cmocka_unit_test_setup_teardown(test_save_nonvol_fpreg_leaf, setup, teardown),
        cmocka_unit_test_setup_teardown(test_walk_and_stops, setup, teardown),
        cmocka_unit_test(test_uregs_from_context),
        cmocka_unit_test(test_sym_accessors),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
