/* test_expr.c: the MASM expression evaluator.
 *  - Numbers in every radix, with backticks and the 'h' suffix; operator precedence as the
 *    MASM documentation tables give it; the expressions and results of the seeds (003, 004).
 *  - Registers (and their parts) from a CONTEXT record written at the documented offsets;
 *    pseudo-registers; the hex-number-before-register rule for names such as "cf".
 *  - poi/dwo/wo/by/qwo over memory whose bytes the test chose, on 64- and 32-bit targets,
 *    and over a generated dump (pattern bytes at the manifest's mapped addresses).
 *  - Symbols through an installed resolver hook, and WinDbg's error messages. */
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
#include "expr/expr.h"
#include "gen/pattern.h"
#include "mem/mem.h"

/* ---- a target built in memory --------------------------------------------------------- */

typedef struct fake {
    ntkd_target t;
    uint8_t *mem;       /* the "file": directly-held virtual ranges */
    nk_vrange vr[4];
    uint8_t ctx[0x4d0];
} fake;

/* A user-mode style target: memory comes from vranges (one per entry of `ranges`), each
 * filled with bytes b[i] = (uint8_t)(va + i) * 3 + 1 unless the test overwrites them. */
static fake *fake_new(nk_arch arch, const uint64_t *ranges, size_t nranges, size_t range_len)
{
    fake *f = calloc(1, sizeof *f);
    assert_non_null(f);
    f->mem = calloc(nranges ? nranges : 1, range_len ? range_len : 1);
    assert_non_null(f->mem);
    for (size_t r = 0; r < nranges; r++) {
        f->vr[r] = (nk_vrange){ranges[r], range_len, r * range_len};
        for (size_t i = 0; i < range_len; i++)
            f->mem[r * range_len + i] = (uint8_t)((uint8_t)(ranges[r] + i) * 3 + 1);
    }
    f->t.file.data = f->mem;
    f->t.file.size = nranges * range_len;
    f->t.d.vranges = f->vr;
    f->t.d.nvranges = nranges;
    f->t.d.kind = NK_KIND_USER_MINI;
    f->t.d.arch = arch;
    f->t.d.is64 = arch != NK_ARCH_X86;
    f->t.cur_ctx = (nk_context){arch, f->ctx, nk_context_size(arch), "test"};
    return f;
}

static void fake_free(fake *f)
{
    free(f->mem);
    free(f);
}

static void put64(uint8_t *p, uint64_t v)
{
    for (int i = 0; i < 8; i++) p[i] = (uint8_t)(v >> (8 * i));
}
static void put32(uint8_t *p, uint32_t v)
{
    for (int i = 0; i < 4; i++) p[i] = (uint8_t)(v >> (8 * i));
}

static uint64_t ev(ntkd_target *t, const char *s)
{
    uint64_t v = 0;
    char err[256];
    const char *end;
    nk_status st = nk_eval(t, s, &end, &v, err, sizeof err);
    if (st != NTKD_OK) fail_msg("'%s': %s", s, err);
    while (*end == ' ') end++;
    if (*end) fail_msg("'%s': stopped at '%s'", s, end);
    return v;
}

static void ev_err(ntkd_target *t, const char *s, const char *want)
{
    uint64_t v = 0;
    char err[256];
    const char *end;
    nk_status st = nk_eval(t, s, &end, &v, err, sizeof err);
    if (st == NTKD_OK) fail_msg("'%s': evaluated to %llx, expected error \"%s\"", s, (unsigned long long)v, want);
    assert_string_equal(err, want);
}

/* ---- numbers and operators ------------------------------------------------------------ */

static void numbers(void **state)
{
    (void)state;
    fake *f = fake_new(NK_ARCH_X64, NULL, 0, 0);
    ntkd_target *t = &f->t;
    assert_int_equal(ev(t, "10"), 0x10);                 /* default radix 16 */
    assert_int_equal(ev(t, "0x1F"), 0x1f);
    assert_int_equal(ev(t, "0n10"), 10);
    assert_int_equal(ev(t, "0N255"), 255);
    assert_int_equal(ev(t, "0t17"), 15);
    assert_int_equal(ev(t, "0y101"), 5);
    assert_int_equal(ev(t, "10h"), 0x10);
    assert_int_equal(ev(t, "0x"), 0);                     /* the prefix alone is 0 */
    assert_int_equal(ev(t, "fffff804`7bdf5a80"), 0xfffff8047bdf5a80ull);
    assert_int_equal(ev(t, "0xfffff804`7bdf5a80"), 0xfffff8047bdf5a80ull);
    assert_int_equal(ev(t, "00000000`004009e3"), 0x4009e3);
    assert_int_equal(ev(t, "ffffffffffffffff"), UINT64_MAX);
    assert_int_equal(ev(t, "0n18446744073709551615"), UINT64_MAX);
    assert_int_equal(ev(t, "add"), 0xadd);                /* a name that is a hex number */
    assert_int_equal(ev(t, "cf"), 0xcf);                  /* ... wins over the flag */
    assert_int_equal(ev(t, "  42  "), 0x42);
    fake_free(f);
}

static void precedence(void **state)
{
    (void)state;
    fake *f = fake_new(NK_ARCH_X64, NULL, 0, 0);
    ntkd_target *t = &f->t;
    assert_int_equal(ev(t, "1+2*3"), 7);
    assert_int_equal(ev(t, "(1+2)*3"), 9);
    assert_int_equal(ev(t, "5-3-1"), 1);                  /* left to right */
    assert_int_equal(ev(t, "100/10/2"), 8);
    assert_int_equal(ev(t, "7 % 4"), 3);
    assert_int_equal(ev(t, "7 mod 4"), 3);
    assert_int_equal(ev(t, "2*3 mod 4"), 2);              /* same level: left to right */
    assert_int_equal(ev(t, "1 << 4 + 1"), 0x20);          /* + above << */
    assert_int_equal(ev(t, "-1 >> 0n60"), 0xf);           /* logical */
    assert_int_equal(ev(t, "-1 >>> 0n60"), UINT64_MAX);   /* arithmetic */
    assert_int_equal(ev(t, "8000000000000000 >>> 0n63"), UINT64_MAX);
    assert_int_equal(ev(t, "1 == 1 & 0"), 0);             /* comparison above & */
    assert_int_equal(ev(t, "1 | 2 & 3"), 3);              /* & above | */
    assert_int_equal(ev(t, "6 ^ 3 | 8"), 0xd);            /* ^ above | */
    assert_int_equal(ev(t, "1 | 1 ^ 1"), 1);
    assert_int_equal(ev(t, "3 > 2"), 1);
    assert_int_equal(ev(t, "3 < 2"), 0);
    assert_int_equal(ev(t, "3 = 3"), 1);
    assert_int_equal(ev(t, "3 != 3"), 0);
    assert_int_equal(ev(t, "2 <= 2"), 1);
    assert_int_equal(ev(t, "1 >= 2"), 0);
    assert_int_equal(ev(t, "5 and 3"), 1);
    assert_int_equal(ev(t, "5 xor 3"), 6);
    assert_int_equal(ev(t, "5 or 3"), 7);
    assert_int_equal(ev(t, "-1"), UINT64_MAX);
    assert_int_equal(ev(t, "- -5"), 5);
    assert_int_equal(ev(t, "~0"), UINT64_MAX);
    assert_int_equal(ev(t, "!0"), 1);
    assert_int_equal(ev(t, "!7"), 0);
    assert_int_equal(ev(t, "not 5"), 0);
    assert_int_equal(ev(t, "not(0)"), 1);
    assert_int_equal(ev(t, "hi(12345678)"), 0x1234);
    assert_int_equal(ev(t, "low(12345678)"), 0x5678);
    assert_int_equal(ev(t, "-2*3"), (uint64_t)-6);        /* unary binds tighter */
    assert_int_equal(ev(t, "((((1))))"), 1);
    fake_free(f);
}

/* Expressions WinDbg evaluated in the seeds, with the results it printed. */
static void seed_examples(void **state)
{
    (void)state;
    fake *f = fake_new(NK_ARCH_X64, NULL, 0, 0);
    ntkd_target *t = &f->t;
    /* seed 003: "?0000bd38" -> "Evaluate expression: 48440 = 00000000`0000bd38" */
    assert_int_equal(ev(t, "0000bd38"), 48440);
    /* seed 004: "? fffffa804b729790 + 0xa0" -> fffffa80`4b729830 (-6046048151504) */
    assert_int_equal(ev(t, "fffffa804b729790 + 0xa0"), 0xfffffa804b729830ull);
    assert_int_equal((int64_t)ev(t, "fffffa804b729790 + 0xa0"), -6046048151504ll);
    /* seed 004: "? (004009e3 & 0y111...) + (8054099e & 0y000...)" -> 0054099e (5507486) */
    assert_int_equal(ev(t, "(004009e3 & 0y11111111111000000000000000000000) + "
                           "(8054099e & 0y00000000000111111111111111111111)"), 5507486);
    /* seed 004: "!dq (6c46801 & 0xFFFFFF000) + ( 0y000000010 * 8) L1" reads at 6c46010 */
    assert_int_equal(ev(t, "(6c46801 & 0xFFFFFF000) + ( 0y000000010 * 8)"), 0x6c46010);
    /* seed 004: ".formats 0y00000000010101000000100110011110" -> Hex 0054099e */
    assert_int_equal(ev(t, "0y00000000010101000000100110011110"), 0x54099e);
    /* seed 004: ".formats (00000000`004009e3 & 0x0000000FFF)" -> binary ...00001001 11100011 */
    assert_int_equal(ev(t, "(00000000`004009e3 & 0x0000000FFF)"), 0x9e3);
    /* MASM documentation: "? @r10 + 0x10 + 0t10 + 0y10" with r10 = 0 gives 26 */
    assert_int_equal(ev(t, "@r10 + 0x10 + 0t10 + 0y10"), 26);
    fake_free(f);
}

/* The cursor stops where the expression ends, so commands can read what follows. */
static void end_pointer(void **state)
{
    (void)state;
    fake *f = fake_new(NK_ARCH_X64, NULL, 0, 0);
    ntkd_target *t = &f->t;
    const char *end;
    uint64_t v;
    char err[128];
    const char *s = "fffff800`01e45ce0 L4";
    assert_int_equal(nk_eval(t, s, &end, &v, err, sizeof err), NTKD_OK);
    assert_int_equal(v, 0xfffff80001e45ce0ull);
    assert_string_equal(end, " L4");
    s = "1 + 2 l1";
    assert_int_equal(nk_eval(t, s, &end, &v, err, sizeof err), NTKD_OK);
    assert_int_equal(v, 3);
    assert_string_equal(end, " l1");
    s = "1000 2000";
    assert_int_equal(nk_eval(t, s, &end, &v, err, sizeof err), NTKD_OK);
    assert_int_equal(v, 0x1000);
    assert_string_equal(end, " 2000");
    s = "13 and 3 xyz";
    assert_int_equal(nk_eval(t, s, &end, &v, err, sizeof err), NTKD_OK);
    assert_int_equal(v, 3);
    assert_string_equal(end, " xyz");
    fake_free(f);
}

/* ---- registers ------------------------------------------------------------------------ */

static void registers_x64(void **state)
{
    (void)state;
    fake *f = fake_new(NK_ARCH_X64, NULL, 0, 0);
    ntkd_target *t = &f->t;
    /* CONTEXT (x64) offsets from winnt.h: Rax 0x78, Rcx 0x80, Rsp 0x98, R8 0xb8, Rip 0xf8,
       EFlags 0x44 */
    put64(f->ctx + 0x78, 0x1122334455667788ull);
    put64(f->ctx + 0x80, 0xffffe00002385830ull);
    put64(f->ctx + 0x98, 0xffffd000201fc990ull);
    put64(f->ctx + 0xb8, 0x00000000aabbccddull);
    put64(f->ctx + 0xf8, 0xfffff803b20565a3ull);
    put32(f->ctx + 0x44, 0x246);
    assert_int_equal(ev(t, "rax"), 0x1122334455667788ull);
    assert_int_equal(ev(t, "@rax"), 0x1122334455667788ull);
    assert_int_equal(ev(t, "eax"), 0x55667788);
    assert_int_equal(ev(t, "ax"), 0x7788);
    assert_int_equal(ev(t, "al"), 0x88);
    assert_int_equal(ev(t, "ah"), 0x77);
    assert_int_equal(ev(t, "rcx"), 0xffffe00002385830ull);
    assert_int_equal(ev(t, "r8d"), 0xaabbccdd);
    assert_int_equal(ev(t, "r8w"), 0xccdd);
    assert_int_equal(ev(t, "r8b"), 0xdd);
    assert_int_equal(ev(t, "@rip+8"), 0xfffff803b20565abull);
    assert_int_equal(ev(t, "rsp+0x10"), 0xffffd000201fc9a0ull);
    assert_int_equal(ev(t, "$ip"), 0xfffff803b20565a3ull);
    assert_int_equal(ev(t, "@$ip"), 0xfffff803b20565a3ull);
    assert_int_equal(ev(t, "."), 0xfffff803b20565a3ull);
    assert_int_equal(ev(t, "$csp"), 0xffffd000201fc990ull);
    assert_int_equal(ev(t, "$retreg"), 0x1122334455667788ull);
    assert_int_equal(ev(t, "efl"), 0x246);
    assert_int_equal(ev(t, "@zf"), 1);                    /* 0x246: ZF, PF, IF set */
    assert_int_equal(ev(t, "zf"), 1);                     /* not a number: register */
    assert_int_equal(ev(t, "@cf"), 0);
    assert_int_equal(ev(t, "cf"), 0xcf);                  /* a hex number first */
    assert_int_equal(ev(t, "@pf + @if"), 2);
    assert_int_equal(ev(t, "iopl"), 0);
    assert_int_equal(ev(t, "RAX"), 0x1122334455667788ull); /* case-insensitive */
    /* pseudo-registers */
    t->pseudo_t[0] = 0x1234;
    t->pseudo_t[19] = 5;
    assert_int_equal(ev(t, "$t0"), 0x1234);
    assert_int_equal(ev(t, "@$t0 + 1"), 0x1235);
    assert_int_equal(ev(t, "$t19*2"), 10);
    assert_int_equal(ev(t, "$ptrsize"), 8);
    assert_int_equal(ev(t, "$pagesize"), 0x1000);
    ev_err(t, "$t20", "Bad register error at '$t20'");
    ev_err(t, "@foo", "Bad register error at '@foo'");
    ev_err(t, "@eflags", "Bad register error at '@eflags'");
    fake_free(f);
}

static void registers_x86_arm64(void **state)
{
    (void)state;
    fake *f = fake_new(NK_ARCH_X86, NULL, 0, 0);
    ntkd_target *t = &f->t;
    /* CONTEXT (x86): Eax 0xb0, Eip 0xb8, Esp 0xc4, EFlags 0xc0, SegCs 0xbc */
    put32(f->ctx + 0xb0, 0x00008022);
    put32(f->ctx + 0xb8, 0x75b88e7a);
    put32(f->ctx + 0xc4, 0x05abeb20);
    put32(f->ctx + 0xc0, 0x246);
    put32(f->ctx + 0xbc, 0x1b);
    assert_int_equal(ev(t, "eax"), 0x8022);
    assert_int_equal(ev(t, "ah"), 0x80);
    assert_int_equal(ev(t, "eip"), 0x75b88e7a);
    assert_int_equal(ev(t, "$ip"), 0x75b88e7a);
    assert_int_equal(ev(t, "$csp"), 0x05abeb20);
    assert_int_equal(ev(t, "cs"), 0x1b);
    assert_int_equal(ev(t, "$ptrsize"), 4);
    ev_err(t, "@rax", "Bad register error at '@rax'");
    fake_free(f);

    f = fake_new(NK_ARCH_ARM64, NULL, 0, 0);
    t = &f->t;
    /* CONTEXT (ARM64): Cpsr 0x4, X0 0x8, Fp 0xf0, Lr 0xf8, Sp 0x100, Pc 0x108 */
    put32(f->ctx + 0x4, 0x60000000);
    put64(f->ctx + 0x8, 0x1e);
    put64(f->ctx + 0x8 + 8 * 5, 0xffffe00e0e4b5558ull);
    put64(f->ctx + 0xf0, 0xffffe00e0e4b1000ull);
    put64(f->ctx + 0xf8, 0xfffff8000abcd4c4ull);
    put64(f->ctx + 0x100, 0xffffe00e0e4b0fc0ull);
    put64(f->ctx + 0x108, 0xfffff8000abcd000ull);
    assert_int_equal(ev(t, "x0"), 0x1e);
    assert_int_equal(ev(t, "x5"), 0xffffe00e0e4b5558ull);
    assert_int_equal(ev(t, "w5"), 0x0e4b5558);
    assert_int_equal(ev(t, "fp"), 0xffffe00e0e4b1000ull);
    assert_int_equal(ev(t, "x29"), 0xffffe00e0e4b1000ull);
    assert_int_equal(ev(t, "lr"), 0xfffff8000abcd4c4ull);
    assert_int_equal(ev(t, "@x30"), 0xfffff8000abcd4c4ull);
    assert_int_equal(ev(t, "sp"), 0xffffe00e0e4b0fc0ull);
    assert_int_equal(ev(t, "pc"), 0xfffff8000abcd000ull);
    assert_int_equal(ev(t, "$ip"), 0xfffff8000abcd000ull);
    assert_int_equal(ev(t, "@z"), 1);
    assert_int_equal(ev(t, "@n"), 0);
    ev_err(t, "rax", "Couldn't resolve error at 'rax'");   /* not an ARM64 register */
    fake_free(f);
}

/* A context cut short: registers past its end are unavailable, not zero. */
static void truncated_context(void **state)
{
    (void)state;
    fake *f = fake_new(NK_ARCH_X64, NULL, 0, 0);
    ntkd_target *t = &f->t;
    put64(f->ctx + 0x78, 0x77);
    put64(f->ctx + 0x80, 0x88);
    t->cur_ctx.len = 0x80; /* holds Rax (0x78..0x80), not Rcx */
    assert_int_equal(ev(t, "rax"), 0x77);
    ev_err(t, "rcx", "Bad register error at 'rcx'");
    ev_err(t, "@rip", "Bad register error at '@rip'");
    fake_free(f);
}

/* ---- memory operators ----------------------------------------------------------------- */

static void memory_reads(void **state)
{
    (void)state;
    const uint64_t ranges[] = {0x10000};
    fake *f = fake_new(NK_ARCH_X64, ranges, 1, 0x1000);
    ntkd_target *t = &f->t;
    put64(f->mem + 0x100, 0x0000000000010200ull);   /* a pointer to 0x10200 */
    put64(f->mem + 0x200, 0x8877665544332211ull);
    put64(f->mem + 0xff8, 0x0123456789abcdefull);
    assert_int_equal(ev(t, "poi(10100)"), 0x10200);
    assert_int_equal(ev(t, "poi(poi(10100))"), 0x8877665544332211ull);
    assert_int_equal(ev(t, "qwo(10200)"), 0x8877665544332211ull);
    assert_int_equal(ev(t, "dwo(10200)"), 0x44332211);
    assert_int_equal(ev(t, "wo(10200)"), 0x2211);
    assert_int_equal(ev(t, "by(10200)"), 0x11);
    assert_int_equal(ev(t, "by(10201)"), 0x22);
    assert_int_equal(ev(t, "poi 10100"), 0x10200);      /* operators without parentheses */
    assert_int_equal(ev(t, "poi(10100)+8"), 0x10208);
    assert_int_equal(ev(t, "dwo(10ffc)"), 0x01234567);
    /* a read that runs off the end of the held range */
    ev_err(t, "poi(10ffc)", "Memory access error at ')'");
    ev_err(t, "poi(0)", "Memory access error at ')'");
    ev_err(t, "by(20000) + 1", "Memory access error at ') + 1'");
    fake_free(f);

    /* 32-bit target: poi reads 4 bytes */
    f = fake_new(NK_ARCH_X86, ranges, 1, 0x1000);
    t = &f->t;
    put64(f->mem + 0x200, 0x8877665544332211ull);
    assert_int_equal(ev(t, "poi(10200)"), 0x44332211);
    assert_int_equal(ev(t, "qwo(10200)"), 0x8877665544332211ull);
    fake_free(f);
}

/* ---- symbols and errors --------------------------------------------------------------- */

typedef struct symstate {
    nk_sym_hooks hooks; /* first member, as expr.h requires */
    int calls;
} symstate;

static bool test_resolve(ntkd_target *t, const char *name, uint64_t *addr)
{
    symstate *s = (symstate *)t->ext[NK_EXT_SYMRESOLVE];
    s->calls++;
    if (!strcmp(name, "nt!KeBugCheckEx")) { *addr = 0xfffff8047bdf5a80ull; return true; }
    if (!strcmp(name, "NDIS!ndisTrackNblOwner")) { *addr = 0xfffff88000ef1a30ull; return true; }
    if (!strcmp(name, "add")) { *addr = 0x1111; return true; }
    if (!strcmp(name, "zf")) { *addr = 0x2222; return true; }
    return false;
}

static void symbols(void **state)
{
    (void)state;
    fake *f = fake_new(NK_ARCH_X64, NULL, 0, 0);
    ntkd_target *t = &f->t;
    put32(f->ctx + 0x44, 0x246);
    ev_err(t, "nt!KeBugCheckEx", "Couldn't resolve error at 'nt!KeBugCheckEx'");
    symstate ss = {.hooks = {.resolve = test_resolve}};
    t->ext[NK_EXT_SYMRESOLVE] = &ss;
    assert_int_equal(ev(t, "nt!KeBugCheckEx"), 0xfffff8047bdf5a80ull);
    assert_int_equal(ev(t, "nt!KeBugCheckEx+0x10"), 0xfffff8047bdf5a90ull);
    assert_int_equal(ev(t, "NDIS!ndisTrackNblOwner"), 0xfffff88000ef1a30ull);
    assert_int_equal(ev(t, "add"), 0xadd);        /* hex wins over a symbol */
    assert_int_equal(ev(t, "zf"), 0x2222);        /* a symbol wins over a less common register */
    assert_int_equal(ev(t, "@zf"), 1);            /* '@' forces the register */
    ev_err(t, "nt!Nope+1", "Couldn't resolve error at 'nt!Nope+1'");
    t->ext[NK_EXT_SYMRESOLVE] = NULL;
    fake_free(f);
}

static void errors(void **state)
{
    (void)state;
    fake *f = fake_new(NK_ARCH_X64, NULL, 0, 0);
    ntkd_target *t = &f->t;
    ev_err(t, "", "Syntax error at ''");
    ev_err(t, "1+", "Syntax error at ''");
    ev_err(t, "(1", "Syntax error at ''");
    ev_err(t, "1+*2", "Syntax error at '*2'");
    ev_err(t, "foo", "Couldn't resolve error at 'foo'");
    ev_err(t, "1 + foo*2", "Couldn't resolve error at 'foo*2'");
    ev_err(t, "0y12", "Syntax error at '0y12'");
    ev_err(t, "0n1f", "Syntax error at '0n1f'");
    ev_err(t, "12xyz", "Syntax error at '12xyz'");
    ev_err(t, "1/0", "Operand error at '0'");
    ev_err(t, "5 % (1-1)", "Operand error at '(1-1)'");
    ev_err(t, "11112222333344445", "Numeric overflow error at '11112222333344445'");
    ev_err(t, "0n18446744073709551616", "Numeric overflow error at '0n18446744073709551616'");
    ev_err(t, "$foo", "Bad register error at '$foo'");
    /* deep nesting is refused, not a stack overflow */
    char deep[400];
    memset(deep, '(', 300);
    strcpy(deep + 300, "1");
    uint64_t v;
    char err[64];
    assert_int_not_equal(nk_eval(t, deep, NULL, &v, err, sizeof err), NTKD_OK);
    /* a NULL target: numbers still work, registers do not */
    assert_int_equal(nk_eval(NULL, "1+1", NULL, &v, err, sizeof err), NTKD_OK);
    assert_int_equal(v, 2);
    assert_int_not_equal(nk_eval(NULL, "@rax", NULL, &v, err, sizeof err), NTKD_OK);
    fake_free(f);
}

/* ---- a generated dump ----------------------------------------------------------------- */

/* Runs the generator; false (the test skips) when it is not usable yet. */
static bool gen(const char *kind, const char *arch, const char *out)
{
    char cmd[1024];
    snprintf(cmd, sizeof cmd, "'%s' %s '%s' --arch %s --pages 64 --seed 7 >/dev/null 2>&1",
             NTKD_GENDUMP, kind, out, arch);
    return system(cmd) == 0;
}

static void generated_poi(void **state)
{
    (void)state;
    const char *dmp = "expr_full64.dmp";
    if (!gen("full64", "x64", dmp)) {
        skip();
        return;
    }
    ntkd_ctx *ctx = ntkd_ctx_new();
    ntkd_target *t;
    if (ntkd_open(ctx, dmp, NULL, &t) != NTKD_OK) fail_msg("open %s: %s", dmp, ntkd_ctx_error(ctx));
    char mf[256];
    snprintf(mf, sizeof mf, "%s.manifest", dmp);
    /* pass 1: the seed and the physical pages that hold pattern data */
    FILE *m = fopen(mf, "r");
    assert_non_null(m);
    char line[512];
    uint64_t seed = 7;
    uint64_t *data = NULL;
    size_t ndata = 0;
    while (fgets(line, sizeof line, m)) {
        unsigned long long a;
        char kind[16];
        if (sscanf(line, "seed %llx", &a) == 1) seed = a;
        if (sscanf(line, "phys %llx %15s", &a, kind) == 2 && !strcmp(kind, "data")) {
            data = realloc(data, (ndata + 1) * sizeof *data);
            assert_non_null(data);
            data[ndata++] = a;
        }
    }
    /* pass 2: poi() at mapped addresses, and every register of the manifest */
    rewind(m);
    int maps = 0, regs = 0;
    while (fgets(line, sizeof line, m)) {
        unsigned long long a, b;
        char name[64], psz[16];
        if (sscanf(line, "map %llx %llx %15s", &a, &b, psz) == 3 && maps < 200) {
            uint64_t va = (a + 0x18) & ~7ull, pa = (b + 0x18) & ~7ull;
            bool is_data = false;
            for (size_t i = 0; i < ndata && !is_data; i++) is_data = data[i] == pa >> 12;
            if (!is_data) continue;
            char expr[128];
            snprintf(expr, sizeof expr, "poi(%llx)", (unsigned long long)va);
            assert_int_equal(ev(t, expr), nk_gen_qword(seed, pa));
            snprintf(expr, sizeof expr, "by(%llx+3)", (unsigned long long)va);
            assert_int_equal(ev(t, expr), nk_gen_byte(seed, pa + 3));
            maps++;
        }
        if (sscanf(line, "reg %63s %llx", name, &a) == 2) {
            char expr[80];
            snprintf(expr, sizeof expr, "@%s", name);
            assert_int_equal(ev(t, expr), (uint64_t)a);
            regs++;
        }
    }
    fclose(m);
    free(data);
    assert_true(regs > 0);
    assert_true(maps > 0);
    ntkd_close(t);
    ntkd_ctx_free(ctx);
    unlink(dmp);
    unlink(mf);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(numbers),           cmocka_unit_test(precedence),
        cmocka_unit_test(seed_examples),     cmocka_unit_test(end_pointer),
        cmocka_unit_test(registers_x64),     cmocka_unit_test(registers_x86_arm64),
        cmocka_unit_test(truncated_context), cmocka_unit_test(memory_reads),
        cmocka_unit_test(symbols),           cmocka_unit_test(errors),
        cmocka_unit_test(generated_poi),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
