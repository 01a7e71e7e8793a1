/* test_context.c: decoding CONTEXT records into named registers.
 *  - The real triage dump's header context (corpus README: at file offset 0x348, the
 *    trapping context with rsp ffff850429892120, rip fffff8048b58334c), decoded straight from
 *    the file bytes and through ntkd_open's current context.
 *  - Records written at the offsets of Microsoft's CONTEXT documentation for x64, x86 and
 *    ARM64: main registers, sub-registers, flag bits, `r` order.
 *  - Records cut short: the registers past the end are reported unavailable.
 *  - Every `reg` line of the generator's manifests (x64, ARM64, x86 PAE, x86 kernel dumps and
 *    x64/x86 minidumps) against the register the opened dump's context yields (for a
 *    minidump, the exception context, which the generator lists). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "dump/context.h"

static void put64(uint8_t *p, uint64_t v)
{
    for (int i = 0; i < 8; i++) p[i] = (uint8_t)(v >> (8 * i));
}
static void put32(uint8_t *p, uint32_t v)
{
    for (int i = 0; i < 4; i++) p[i] = (uint8_t)(v >> (8 * i));
}

static uint64_t reg(const nk_context *c, const char *name)
{
    uint64_t v = 0;
    if (!nk_context_get(c, name, &v)) fail_msg("register %s not available", name);
    return v;
}

static void sizes(void **state)
{
    (void)state;
    assert_int_equal(nk_context_size(NK_ARCH_X64), 0x4d0);
    assert_int_equal(nk_context_size(NK_ARCH_X86), 0x2cc);
    assert_int_equal(nk_context_size(NK_ARCH_ARM64), 0x390);
    assert_int_equal(nk_context_size(NK_ARCH_UNKNOWN), 0);
}

/* ---- the real triage dump ------------------------------------------------------------- */

static void triage_x64_file(void **state)
{
    (void)state;
    const char *path = NTKD_CORPUS "/dumps/kernel/triage-x64-19041.dmp";
    FILE *f = fopen(path, "rb");
    assert_non_null(f);
    uint8_t buf[0x4d0];
    assert_int_equal(fseek(f, 0x348, SEEK_SET), 0);
    assert_int_equal(fread(buf, 1, sizeof buf, f), sizeof buf);
    fclose(f);
    nk_context c = {NK_ARCH_X64, buf, sizeof buf, "dump header"};
    assert_int_equal(reg(&c, "rsp"), 0xffff850429892120ull);
    assert_int_equal(reg(&c, "rip"), 0xfffff8048b58334cull);
    assert_int_equal(nk_context_sp(&c), 0xffff850429892120ull);
    assert_int_equal(nk_context_pc(&c), 0xfffff8048b58334cull);
    /* kernel-mode selectors, as every x64 kernel trap shows them */
    assert_int_equal(reg(&c, "cs"), 0x10);
    assert_int_equal(reg(&c, "ss"), 0x18);
}

static void triage_x64_open(void **state)
{
    (void)state;
    ntkd_ctx *ctx = ntkd_ctx_new();
    ntkd_target *t;
    if (ntkd_open(ctx, NTKD_CORPUS "/dumps/kernel/triage-x64-19041.dmp", NULL, &t) != NTKD_OK) {
        /* the container parser has not landed in this build */
        ntkd_ctx_free(ctx);
        skip();
        return;
    }
    assert_int_equal(t->cur_ctx.arch, NK_ARCH_X64);
    assert_int_equal(nk_context_sp(&t->cur_ctx), 0xffff850429892120ull);
    assert_int_equal(nk_context_pc(&t->cur_ctx), 0xfffff8048b58334cull);
    ntkd_close(t);
    ntkd_ctx_free(ctx);
}

static void triage_arm64_open(void **state)
{
    (void)state;
    ntkd_ctx *ctx = ntkd_ctx_new();
    ntkd_target *t;
    if (ntkd_open(ctx, NTKD_CORPUS "/dumps/kernel/triage-arm64-22000.dmp", NULL, &t) != NTKD_OK) {
        ntkd_ctx_free(ctx);
        skip();
        return;
    }
    if (!t->cur_ctx.len) {
        ntkd_close(t);
        ntkd_ctx_free(ctx);
        skip();
        return;
    }
    assert_int_equal(t->cur_ctx.arch, NK_ARCH_ARM64);
    /* a kernel-mode context: the pc is a kernel address and the stack 16-byte aligned */
    assert_true(nk_context_pc(&t->cur_ctx) >= 0xffff000000000000ull);
    assert_true(nk_context_sp(&t->cur_ctx) >= 0xffff000000000000ull);
    assert_int_equal(nk_context_sp(&t->cur_ctx) & 0xf, 0);
    ntkd_close(t);
    ntkd_ctx_free(ctx);
}

/* ---- records at the documented offsets ------------------------------------------------ */

static void x64_record(void **state)
{
    (void)state;
    uint8_t b[0x4d0] = {0};
    /* Rax..R15 in encoding order from 0x78, Rip 0xf8, EFlags 0x44, SegCs 0x38 .. SegSs 0x42,
       Dr0 0x48, Dr7 0x70, MxCsr 0x34 */
    static const char *const order[] = {"rax", "rcx", "rdx", "rbx", "rsp", "rbp", "rsi", "rdi",
                                        "r8", "r9", "r10", "r11", "r12", "r13", "r14", "r15"};
    for (int i = 0; i < 16; i++) put64(b + 0x78 + 8 * i, 0x1000000000000000ull * (uint64_t)(i + 1) + (uint64_t)i);
    put64(b + 0xf8, 0xfffff8047bdf5a80ull);
    put32(b + 0x44, 0x40282);
    static const uint16_t segs[] = {0x10, 0x2b, 0x2b, 0x53, 0x2b, 0x18}; /* cs ds es fs gs ss */
    for (int i = 0; i < 6; i++) b[0x38 + 2 * i] = (uint8_t)segs[i];
    put64(b + 0x48, 0xd0);
    put64(b + 0x70, 0x400);
    put32(b + 0x34, 0x1f80);
    nk_context c = {NK_ARCH_X64, b, sizeof b, "test"};
    for (int i = 0; i < 16; i++)
        assert_int_equal(reg(&c, order[i]), 0x1000000000000000ull * (uint64_t)(i + 1) + (uint64_t)i);
    assert_int_equal(reg(&c, "rip"), 0xfffff8047bdf5a80ull);
    assert_int_equal(reg(&c, "eip"), 0x7bdf5a80);
    assert_int_equal(reg(&c, "efl"), 0x40282);
    assert_int_equal(reg(&c, "cs"), 0x10);
    assert_int_equal(reg(&c, "ds"), 0x2b);
    assert_int_equal(reg(&c, "fs"), 0x53);
    assert_int_equal(reg(&c, "ss"), 0x18);
    assert_int_equal(reg(&c, "dr0"), 0xd0);
    assert_int_equal(reg(&c, "dr7"), 0x400);
    assert_int_equal(reg(&c, "mxcsr"), 0x1f80);
    /* sub-registers of rcx = 0x2000000000000001, rbx = 0x4000000000000003 */
    assert_int_equal(reg(&c, "ecx"), 1);
    assert_int_equal(reg(&c, "bl"), 3);
    assert_int_equal(reg(&c, "bh"), 0);
    assert_int_equal(reg(&c, "r15d"), 15);
    assert_int_equal(reg(&c, "sil"), 6);
    /* EFLAGS 0x40282: AC(18) set, SF(7), IF(9) */
    assert_int_equal(reg(&c, "sf"), 1);
    assert_int_equal(reg(&c, "if"), 1);
    assert_int_equal(reg(&c, "zf"), 0);
    assert_int_equal(reg(&c, "iopl"), 0);
    uint8_t bits = 0;
    uint64_t v;
    assert_int_equal(nk_context_lookup(&c, "iopl", &v, &bits), NK_REG_OK);
    assert_int_equal(bits, 2);
    assert_int_equal(nk_context_lookup(&c, "xmm0", &v, &bits), NK_REG_UNKNOWN);
    /* `r` order */
    nk_reg regs[64];
    size_t n = nk_context_regs(&c, regs, 64);
    assert_true(n >= 24);
    static const char *const rorder[] = {"rax", "rbx", "rcx", "rdx", "rsi", "rdi", "rip", "rsp", "rbp",
                                         "r8", "r9", "r10", "r11", "r12", "r13", "r14", "r15"};
    for (int i = 0; i < 17; i++) {
        assert_string_equal(regs[i].name, rorder[i]);
        assert_true(regs[i].avail);
        assert_int_equal(regs[i].bits, 64);
    }
    assert_true(nk_context_is_common(NK_ARCH_X64, "rax"));
    assert_true(nk_context_is_common(NK_ARCH_X64, "R8D"));
    assert_false(nk_context_is_common(NK_ARCH_X64, "cf"));
    assert_false(nk_context_is_common(NK_ARCH_X64, "dr7"));
}

static void x86_record(void **state)
{
    (void)state;
    uint8_t b[0x2cc] = {0};
    /* SegGs 0x8c SegFs 0x90 SegEs 0x94 SegDs 0x98 Edi 0x9c Esi 0xa0 Ebx 0xa4 Edx 0xa8
       Ecx 0xac Eax 0xb0 Ebp 0xb4 Eip 0xb8 SegCs 0xbc EFlags 0xc0 Esp 0xc4 SegSs 0xc8
       (values of seed 003's user-mode breakpoint) */
    put32(b + 0x8c, 0x0000); put32(b + 0x90, 0x003b); put32(b + 0x94, 0x0023);
    put32(b + 0x98, 0x0023); put32(b + 0x9c, 0x00000000); put32(b + 0xa0, 0x05abf03c);
    put32(b + 0xa4, 0x00008022); put32(b + 0xa8, 0x00000002); put32(b + 0xac, 0x7ffd8000);
    put32(b + 0xb0, 0x00000000); put32(b + 0xb4, 0x05abeb3c); put32(b + 0xb8, 0x75b88e7a);
    put32(b + 0xbc, 0x001b); put32(b + 0xc0, 0x00000246); put32(b + 0xc4, 0x05abeb20);
    put32(b + 0xc8, 0x0023);
    put32(b + 0x18, 0x155); /* Dr7 */
    nk_context c = {NK_ARCH_X86, b, sizeof b, "test"};
    assert_int_equal(reg(&c, "ebx"), 0x8022);
    assert_int_equal(reg(&c, "bh"), 0x80);
    assert_int_equal(reg(&c, "ecx"), 0x7ffd8000);
    assert_int_equal(reg(&c, "cx"), 0x8000);
    assert_int_equal(reg(&c, "esi"), 0x05abf03c);
    assert_int_equal(reg(&c, "eip"), 0x75b88e7a);
    assert_int_equal(reg(&c, "esp"), 0x05abeb20);
    assert_int_equal(reg(&c, "ebp"), 0x05abeb3c);
    assert_int_equal(reg(&c, "cs"), 0x1b);
    assert_int_equal(reg(&c, "ss"), 0x23);
    assert_int_equal(reg(&c, "fs"), 0x3b);
    assert_int_equal(reg(&c, "gs"), 0);
    assert_int_equal(reg(&c, "efl"), 0x246);
    assert_int_equal(reg(&c, "zf"), 1);
    assert_int_equal(reg(&c, "pf"), 1);
    assert_int_equal(reg(&c, "dr7"), 0x155);
    assert_int_equal(nk_context_pc(&c), 0x75b88e7a);
    assert_int_equal(nk_context_sp(&c), 0x05abeb20);
    uint64_t v;
    assert_int_equal(nk_context_lookup(&c, "rax", &v, NULL), NK_REG_UNKNOWN);
}

static void arm64_record(void **state)
{
    (void)state;
    uint8_t b[0x390] = {0};
    /* ContextFlags 0, Cpsr 4, X0.. at 8, Fp 0xf0, Lr 0xf8, Sp 0x100, Pc 0x108, Fpcr 0x310,
       Fpsr 0x314 */
    put32(b + 4, 0x60000005);
    for (int i = 0; i < 29; i++) put64(b + 8 + 8 * i, 0xabc0000000000000ull + (uint64_t)i);
    put64(b + 0xf0, 0x000000293a8ffc10ull);
    put64(b + 0xf8, 0x00007ffea80f7388ull);
    put64(b + 0x100, 0x000000293a8ff9e0ull);
    put64(b + 0x108, 0x00007ffea80e30f4ull);
    put32(b + 0x310, 0x03000000);
    put32(b + 0x314, 0x10);
    nk_context c = {NK_ARCH_ARM64, b, sizeof b, "test"};
    assert_int_equal(reg(&c, "x0"), 0xabc0000000000000ull);
    assert_int_equal(reg(&c, "x28"), 0xabc000000000001cull);
    assert_int_equal(reg(&c, "w28"), 0x1c);
    assert_int_equal(reg(&c, "fp"), 0x000000293a8ffc10ull);
    assert_int_equal(reg(&c, "x29"), 0x000000293a8ffc10ull);
    assert_int_equal(reg(&c, "lr"), 0x00007ffea80f7388ull);
    assert_int_equal(reg(&c, "w30"), 0xa80f7388);
    assert_int_equal(reg(&c, "sp"), 0x000000293a8ff9e0ull);
    assert_int_equal(reg(&c, "pc"), 0x00007ffea80e30f4ull);
    assert_int_equal(reg(&c, "cpsr"), 0x60000005);
    assert_int_equal(reg(&c, "fpcr"), 0x03000000);
    assert_int_equal(reg(&c, "fpsr"), 0x10);
    assert_int_equal(reg(&c, "z"), 1);
    assert_int_equal(reg(&c, "c"), 1);
    assert_int_equal(reg(&c, "n"), 0);
    assert_int_equal(nk_context_pc(&c), 0x00007ffea80e30f4ull);
    assert_int_equal(nk_context_sp(&c), 0x000000293a8ff9e0ull);
    nk_reg regs[64];
    size_t n = nk_context_regs(&c, regs, 64);
    assert_true(n >= 34);
    assert_string_equal(regs[0].name, "x0");
    assert_string_equal(regs[29].name, "fp");
    assert_string_equal(regs[30].name, "lr");
    assert_string_equal(regs[31].name, "sp");
    assert_string_equal(regs[32].name, "pc");
}

/* A record shorter than its architecture's size decodes only what it holds. */
static void truncated(void **state)
{
    (void)state;
    uint8_t b[0x100] = {0};
    put64(b + 0x78, 0x5);
    put64(b + 0xf0, 0xf15);
    nk_context c = {NK_ARCH_X64, b, 0xf8, "short"}; /* ends before Rip */
    uint64_t v;
    assert_int_equal(nk_context_lookup(&c, "rax", &v, NULL), NK_REG_OK);
    assert_int_equal(v, 5);
    assert_int_equal(nk_context_lookup(&c, "r15", &v, NULL), NK_REG_OK);
    assert_int_equal(v, 0xf15);
    assert_int_equal(nk_context_lookup(&c, "rip", &v, NULL), NK_REG_UNAVAILABLE);
    assert_int_equal(nk_context_lookup(&c, "eip", &v, NULL), NK_REG_UNAVAILABLE);
    assert_false(nk_context_get(&c, "rip", &v));
    assert_int_equal(nk_context_pc(&c), 0);
    nk_reg regs[64];
    size_t n = nk_context_regs(&c, regs, 64);
    bool saw_rip = false;
    for (size_t i = 0; i < n; i++) {
        if (!strcmp(regs[i].name, "rip")) {
            saw_rip = true;
            assert_false(regs[i].avail);
        }
        if (!strcmp(regs[i].name, "rax")) assert_true(regs[i].avail);
    }
    assert_true(saw_rip);
    /* nothing at all */
    nk_context z = {NK_ARCH_X64, NULL, 0, "none"};
    assert_int_equal(nk_context_lookup(&z, "rax", &v, NULL), NK_REG_UNAVAILABLE);
    nk_context w = {NK_ARCH_ARM64, b, 8, "arm64 stub"}; /* flags and cpsr only */
    assert_int_equal(nk_context_lookup(&w, "cpsr", &v, NULL), NK_REG_OK);
    assert_int_equal(nk_context_lookup(&w, "x0", &v, NULL), NK_REG_UNAVAILABLE);
    /* max bounds the output */
    nk_reg few[3];
    assert_int_equal(nk_context_regs(&c, few, 3), 3);
}

/* ---- generated dumps ------------------------------------------------------------------ */

static int check_manifest_regs(const char *kind, const char *arch)
{
    char dmp[128], mf[160], cmd[512];
    snprintf(dmp, sizeof dmp, "ctx_%s_%s.dmp", kind, arch);
    snprintf(mf, sizeof mf, "%s.manifest", dmp);
    snprintf(cmd, sizeof cmd, "'%s' %s '%s' --arch %s --pages 32 >/dev/null 2>&1", NTKD_GENDUMP,
             kind, dmp, arch);
    if (system(cmd) != 0) return -1;
    ntkd_ctx *ctx = ntkd_ctx_new();
    ntkd_target *t;
    if (ntkd_open(ctx, dmp, NULL, &t) != NTKD_OK) fail_msg("open %s: %s", dmp, ntkd_ctx_error(ctx));
    FILE *m = fopen(mf, "r");
    assert_non_null(m);
    char line[256];
    int n = 0;
    /* the manifest lists the dump's first context (for a minidump, the exception thread's
     * own context, which `r` shows on opening) */
    const nk_context *c = &t->cur_ctx;
    while (fgets(line, sizeof line, m)) {
        char name[32];
        unsigned long long v;
        if (sscanf(line, "reg %31s %llx", name, &v) != 2) continue;
        uint64_t got = 0;
        if (!nk_context_get(c, name, &got))
            fail_msg("%s %s: register %s not in the context", kind, arch, name);
        if (got != v)
            fail_msg("%s %s: %s = %llx, manifest says %llx", kind, arch, name,
                     (unsigned long long)got, v);
        n++;
    }
    fclose(m);
    ntkd_close(t);
    ntkd_ctx_free(ctx);
    unlink(dmp);
    unlink(mf);
    return n;
}

static void generated(void **state)
{
    (void)state;
    static const char *const cases[][2] = {
        {"full64", "x64"}, {"full64", "arm64"}, {"full32", "x86pae"}, {"full32", "x86"},
        {"triage64", "x64"}, {"mdmp", "x64"}, {"mdmp", "x86"},
    };
    int ran = 0;
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        int n = check_manifest_regs(cases[i][0], cases[i][1]);
        if (n < 0) continue; /* this kind is not generated yet */
        assert_true(n >= 16); /* every architecture lists its main registers */
        ran++;
    }
    if (!ran) skip();
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(sizes),           cmocka_unit_test(triage_x64_file),
        cmocka_unit_test(triage_x64_open), cmocka_unit_test(triage_arm64_open),
        cmocka_unit_test(x64_record),      cmocka_unit_test(x86_record),
        cmocka_unit_test(arm64_record),    cmocka_unit_test(truncated),
        cmocka_unit_test(generated),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
