/* test_disasm.c: the code layer's disassembler (code/disasm.h) on instruction bytes whose
 * WinDbg rendering the seeds show (seeds 000, 001, 002, 003: `u`, `ub`, `uf` and `r`
 * listings), decoding backwards (ub) on the seed-003 sequence, the flow graph (uf) on small
 * hand-assembled functions, and hostile input (truncated and undecodable bytes).
 * Decoding without a target: no symbols, so targets print as bare addresses (the seeds show
 * "sym (addr)"; the address part is what is compared). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "code/disasm.h"

static size_t unhex(const char *h, uint8_t *out, size_t cap)
{
    size_t n = 0;
    while (h[0] && h[1] && n < cap) {
        unsigned v;
        if (sscanf(h, "%2x", &v) != 1) break;
        out[n++] = (uint8_t)v;
        h += 2;
        while (*h == ' ') h++;
    }
    return n;
}

typedef struct seedcase {
    uint64_t addr;
    const char *hex;
    const char *text;
    nk_insn_kind kind;
    uint64_t target; /* branch target or memory reference (0: none) */
} seedcase;

static void check_cases(nk_arch arch, const seedcase *c, size_t n)
{
    nk_disasm *d = nk_disasm_new(NULL, arch);
    assert_non_null(d);
    for (size_t i = 0; i < n; i++) {
        uint8_t b[16];
        size_t len = unhex(c[i].hex, b, sizeof b);
        nk_insn in;
        bool ok = nk_disasm_buf(d, c[i].addr, b, len, NULL, &in);
        if (!ok || strcmp(in.text, c[i].text) || in.len != len) {
            print_error("%s: got '%s' (len %u), want '%s' (len %zu)\n", c[i].hex, in.text, in.len, c[i].text, len);
            fail();
        }
        assert_int_equal(in.kind, c[i].kind);
        if (c[i].target) {
            uint64_t got = in.has_target ? in.target : in.has_memref ? in.memref : 0;
            assert_true(got == c[i].target);
        } else {
            assert_false(in.has_target);
        }
    }
    nk_disasm_free(d);
}

/* x64 lines of the seeds (text after the bytes column; symbols replaced by their addresses) */
static void test_x64_seed_lines(void **state)
{
    (void)state;
    static const seedcase c[] = {
        /* seed 002: u fffff800`00cb5700 */
        {0xfffff80000cb5700ull, "48895c2408", "mov     qword ptr [rsp+8],rbx", NK_IK_OTHER, 0},
        {0xfffff80000cb5705ull, "4889742418", "mov     qword ptr [rsp+18h],rsi", NK_IK_OTHER, 0},
        {0xfffff80000cb570aull, "48897c2420", "mov     qword ptr [rsp+20h],rdi", NK_IK_OTHER, 0},
        {0xfffff80000cb5714ull, "55", "push    rbp", NK_IK_OTHER, 0},
        {0xfffff80000cb5715ull, "4154", "push    r12", NK_IK_OTHER, 0},
        /* seed 000: u ndis!ndisInterruptDpc+0x269ce */
        {0xfffff801dae9e81eull, "488b75a7", "mov     rsi,qword ptr [rbp-59h]", NK_IK_OTHER, 0},
        {0xfffff801dae9e822ull, "e9e297fdff", "jmp     fffff801`dae78009", NK_IK_JMP, 0xfffff801dae78009ull},
        {0xfffff801dae9e827ull, "33d2", "xor     edx,edx", NK_IK_OTHER, 0},
        {0xfffff801dae9e829ull, "488d4dd7", "lea     rcx,[rbp-29h]", NK_IK_OTHER, 0},
        {0xfffff801dae9e82dull, "448d420d", "lea     r8d,[rdx+0Dh]", NK_IK_OTHER, 0},
        {0xfffff801dae9e831ull, "e8160c0000", "call    fffff801`dae9f44c", NK_IK_CALL, 0xfffff801dae9f44cull},
        {0xfffff801dae9e836ull, "90", "nop", NK_IK_OTHER, 0},
        /* seed 000: u nt!KeAcquireSpinLockRaiseToDpc+0x13 */
        {0xfffff800922e8383ull, "f605fcac270021", "test    byte ptr [fffff800`92563086],21h", NK_IK_OTHER, 0xfffff80092563086ull},
        {0xfffff800922e838aull, "751f", "jne     fffff800`922e83ab", NK_IK_JCC, 0xfffff800922e83abull},
        {0xfffff800922e838cull, "f0480fba2900", "lock bts qword ptr [rcx],0", NK_IK_OTHER, 0},
        {0xfffff800922e8392ull, "7209", "jb      fffff800`922e839d", NK_IK_JCC, 0xfffff800922e839dull},
        {0xfffff800922e8394ull, "0fb6c3", "movzx   eax,bl", NK_IK_OTHER, 0},
        {0xfffff800922e8397ull, "4883c420", "add     rsp,20h", NK_IK_OTHER, 0},
        {0xfffff800922e839bull, "5b", "pop     rbx", NK_IK_OTHER, 0},
        {0xfffff800922e839cull, "c3", "ret", NK_IK_RET, 0},
        /* seed 003: ub / u fffff880`04be3409 */
        {0xfffff88004be33e4ull, "488b0d6d2a0000", "mov     rcx,qword ptr [fffff880`04be5e58]", NK_IK_OTHER, 0xfffff88004be5e58ull},
        {0xfffff88004be33ebull, "4883631800", "and     qword ptr [rbx+18h],0", NK_IK_OTHER, 0},
        {0xfffff88004be33f0ull, "488bd7", "mov     rdx,rdi", NK_IK_OTHER, 0},
        {0xfffff88004be33f9ull, "bbc0d40100", "mov     ebx,1D4C0h", NK_IK_OTHER, 0},
        {0xfffff88004be33feull, "b964000000", "mov     ecx,64h", NK_IK_OTHER, 0},
        {0xfffff88004be3403ull, "ff15f70b0000", "call    qword ptr [fffff880`04be4000]", NK_IK_CALL, 0xfffff88004be4000ull},
        {0xfffff88004be3409ull, "4883eb01", "sub     rbx,1", NK_IK_OTHER, 0},
        {0xfffff88004be340dull, "75ef", "jne     fffff880`04be33fe", NK_IK_JCC, 0xfffff88004be33feull},
        {0xfffff88004be340full, "488b5c2430", "mov     rbx,qword ptr [rsp+30h]", NK_IK_OTHER, 0},
        {0xfffff88004be3418ull, "5f", "pop     rdi", NK_IK_OTHER, 0},
        {0xfffff88004be341aull, "cc", "int     3", NK_IK_STOP, 0},
        /* seed 003: ub 00000000`00e53045 */
        {0x0000000000e53020ull, "898324040000", "mov     dword ptr [rbx+424h],eax", NK_IK_OTHER, 0},
        {0x0000000000e5302eull, "4d85c0", "test    r8,r8", NK_IK_OTHER, 0},
        {0x0000000000e53031ull, "7412", "je      00000000`00e53045", NK_IK_JCC, 0x0000000000e53045ull},
        {0x0000000000e53033ull, "488d8b28040000", "lea     rcx,[rbx+428h]", NK_IK_OTHER, 0},
        {0x0000000000e5303aull, "ba00020000", "mov     edx,200h", NK_IK_OTHER, 0},
        {0x0000000000e5303full, "ff1553b40100", "call    qword ptr [00000000`00e6e498]", NK_IK_CALL, 0x0000000000e6e498ull},
        {0x0000000000e53045ull, "eb16", "jmp     00000000`00e5305d", NK_IK_JMP, 0x0000000000e5305dull},
        /* seed 001 (r): lock xadd */
        {0xfffff803b20565a3ull, "f0480fc15ed0", "lock xadd qword ptr [rsi-30h],rbx", NK_IK_OTHER, 0},
        /* seed 004: u nt!VfAfterCallDriver */
        {0xfffff80001b66824ull, "4883ec30", "sub     rsp,30h", NK_IK_OTHER, 0},
        {0xfffff80001b66828ull, "488bfa", "mov     rdi,rdx", NK_IK_OTHER, 0},
        /* amdppm!WriteIoMemRawEx+0x70 (corpus README: the faulting instruction of the triage dump) */
        {0xfffff8048b58334cull, "43891401", "mov     dword ptr [r9+r8],edx", NK_IK_OTHER, 0},
    };
    check_cases(NK_ARCH_X64, c, sizeof c / sizeof c[0]);
}

/* seed 003 (kernelbase!OpenFileMappingW, 32-bit) */
static void test_x86_seed_lines(void **state)
{
    (void)state;
    static const seedcase c[] = {
        {0x75b88e0d, "8bff", "mov     edi,edi", NK_IK_OTHER, 0},
        {0x75b88e79, "c9", "leave", NK_IK_OTHER, 0},
        {0x75b88e7a, "c20c00", "ret     0Ch", NK_IK_RET, 0},
        {0x0040d7c6, "ff15f8434300", "call    dword ptr [004343f8]", NK_IK_CALL, 0x004343f8},
        {0x3c001950, "b889020000", "mov     eax,289h", NK_IK_OTHER, 0},
        {0x3c001955, "e98e410014", "jmp     50005ae8", NK_IK_JMP, 0x50005ae8},
        {0x0040d7cc, "85c0", "test    eax,eax", NK_IK_OTHER, 0},
    };
    check_cases(NK_ARCH_X86, c, sizeof c / sizeof c[0]);
}

/* The whole line as the seeds print it. */
static void test_line_format(void **state)
{
    (void)state;
    nk_disasm *d = nk_disasm_new(NULL, NK_ARCH_X64);
    assert_non_null(d);
    uint8_t b[16];
    size_t n = unhex("48895c2408", b, sizeof b);
    nk_insn in;
    assert_true(nk_disasm_buf(d, 0xfffff80000cb5700ull, b, n, NULL, &in));
    char line[512];
    nk_disasm_format(d, &in, line, sizeof line);
    assert_string_equal(line, "fffff800`00cb5700 48895c2408      mov     qword ptr [rsp+8],rbx");
    n = unhex("f605fcac270021", b, sizeof b);
    assert_true(nk_disasm_buf(d, 0xfffff800922e8383ull, b, n, NULL, &in));
    nk_disasm_format(d, &in, line, sizeof line);
    assert_string_equal(line, "fffff800`922e8383 f605fcac270021  test    byte ptr [fffff800`92563086],21h");
    /* nothing readable: "??" and "???" */
    assert_false(nk_disasm_buf(d, 0xfffff8048b58334cull, b, 0, NULL, &in));
    assert_int_equal(in.len, 0);
    nk_disasm_format(d, &in, line, sizeof line);
    assert_string_equal(line, "fffff804`8b58334c ??              ???");
    nk_disasm_free(d);

    d = nk_disasm_new(NULL, NK_ARCH_X86);
    n = unhex("c20c00", b, sizeof b);
    assert_true(nk_disasm_buf(d, 0x75b88e7a, b, n, NULL, &in));
    nk_disasm_format(d, &in, line, sizeof line);
    assert_string_equal(line, "75b88e7a c20c00          ret     0Ch");
    nk_disasm_free(d);
}

/* Hostile bytes: truncated instructions, invalid opcodes, every single byte value. */
static void test_hostile(void **state)
{
    (void)state;
    nk_disasm *d = nk_disasm_new(NULL, NK_ARCH_X64);
    nk_insn in;
    uint8_t b[16];
    size_t n = unhex("488b0d6d2a00", b, sizeof b); /* one byte short */
    assert_false(nk_disasm_buf(d, 0x1000, b, n, NULL, &in));
    assert_int_equal(in.len, 1);
    assert_string_equal(in.text, "???");
    n = unhex("0f0b", b, sizeof b); /* ud2 */
    assert_true(nk_disasm_buf(d, 0x1000, b, n, NULL, &in));
    assert_int_equal(in.kind, NK_IK_STOP);
    n = unhex("06", b, sizeof b); /* push es: invalid in 64-bit mode */
    assert_false(nk_disasm_buf(d, 0x1000, b, n, NULL, &in));
    for (unsigned v = 0; v < 256; v++) {
        uint8_t one[15];
        memset(one, (int)v, sizeof one);
        nk_disasm_buf(d, 0xfffffffffffffff0ull, one, sizeof one, NULL, &in);
        assert_true(in.len >= 1 && in.len <= 15);
    }
    nk_disasm_free(d);
    d = nk_disasm_new(NULL, NK_ARCH_ARM64);
    assert_false(nk_disasm_buf(d, 0x1000, b, 3, NULL, &in)); /* short */
    n = unhex("c0035fd6", b, sizeof b);                        /* ret */
    assert_true(nk_disasm_buf(d, 0x1000, b, n, NULL, &in));
    assert_string_equal(in.text, "ret");
    assert_int_equal(in.kind, NK_IK_RET);
    n = unhex("280080d2", b, sizeof b); /* d2800028: "mov x8,#1" (the comment in cmd_regs) */
    assert_true(nk_disasm_buf(d, 0x1000, b, n, NULL, &in));
    assert_string_equal(in.text, "mov         x8,#1");
    n = unhex("fd7bbea9", b, sizeof b); /* stp x29,x30,[sp,#-0x20]! */
    assert_true(nk_disasm_buf(d, 0x1000, b, n, NULL, &in));
    assert_string_equal(in.text, "stp         fp,lr,[sp,#-0x20]!");
    n = unhex("41000054", b, sizeof b); /* b.ne +8 (llvm-objdump: 140001010 b.ne 0x140001018) */
    assert_true(nk_disasm_buf(d, 0x140001010ull, b, n, NULL, &in));
    assert_int_equal(in.kind, NK_IK_JCC);
    assert_true(in.has_target && in.target == 0x140001018ull);
    nk_disasm_free(d);
    assert_null(nk_disasm_new(NULL, NK_ARCH_UNKNOWN));
}

/* A reader over one buffer. */
typedef struct membuf {
    uint64_t va;
    const uint8_t *b;
    size_t n;
} membuf;
static nk_status mem_read(void *user, uint64_t va, void *buf, size_t len, size_t *got)
{
    const membuf *m = user;
    *got = 0;
    if (va < m->va || va - m->va >= m->n) return NTKD_E_NOTPRESENT;
    size_t off = (size_t)(va - m->va), k = m->n - off < len ? m->n - off : len;
    memcpy(buf, m->b + off, k);
    *got = k;
    return k == len ? NTKD_OK : NTKD_E_NOTPRESENT;
}

/* seed 003: `ub fffff880`04be3409` lists the 8 instructions from fffff880`04be33e0 */
static const char *const echo_seq =
    "448b4320 488b0d6d2a0000 4883631800 488bd7 ff150f260000 bbc0d40100 b964000000 ff15f70b0000"
    " 4883eb01 75ef 488b5c2430 4883c420 5f c3";

static void test_backwards(void **state)
{
    (void)state;
    uint8_t seq[64], buf[512];
    size_t n = unhex(echo_seq, seq, sizeof seq);
    const uint64_t at = 0xfffff88004be33e0ull, target = 0xfffff88004be3409ull;
    /* (a) preceded by a function's tail: "...add rsp,28h; ret" and int3 padding, then
       other code - the resynchronizing search must find the seed's start */
    size_t pre = 203; /* seven whole copies of the filler */
    static const char *const filler = "4883c428c3cccccccc48895c2408574883ec20488bf9e8102030408bd8";
    uint8_t fb[64];
    size_t fl = unhex(filler, fb, sizeof fb);
    for (size_t i = 0; i < pre; i++) buf[i] = fb[i % fl];
    memcpy(buf + pre, seq, n);
    membuf m = {at - pre, buf, pre + n};
    nk_disasm *d = nk_disasm_new(NULL, NK_ARCH_X64);
    nk_disasm_set_reader(d, mem_read, &m);
    uint64_t start = 0;
    assert_int_equal(nk_disasm_back(d, target, 8, 0, &start), 8);
    assert_true(start == at);
    assert_int_equal(nk_disasm_back(d, target, 3, 0, &start), 3);
    assert_true(start == 0xfffff88004be33f9ull); /* mov ebx / mov ecx / call */
    /* (b) a hint at the sequence start wins even over junk bytes before it */
    for (size_t i = 0; i < pre; i++) buf[i] = 0x0f;
    assert_int_equal(nk_disasm_back(d, target, 8, at, &start), 8);
    assert_true(start == at);
    assert_int_equal(nk_disasm_back(d, target, 20, at, &start), 8); /* only 8 from the hint */
    assert_true(start == at);
    /* (c) nothing readable before addr */
    membuf m2 = {target, buf + pre + 41, n - 41};
    nk_disasm_set_reader(d, mem_read, &m2);
    assert_int_equal(nk_disasm_back(d, target, 8, 0, &start), 0);
    nk_disasm_free(d);
    /* ARM64: four bytes each */
    d = nk_disasm_new(NULL, NK_ARCH_ARM64);
    assert_int_equal(nk_disasm_back(d, 0x140001018ull, 4, 0, &start), 4);
    assert_true(start == 0x140001008ull);
    nk_disasm_free(d);
}

static bool foreign_at_far(void *user, uint64_t target)
{
    (void)user;
    return target >= 0x2000;
}

/* uf: blocks, fall-through splits, jump targets, a chunk placed elsewhere */
static void test_flow(void **state)
{
    (void)state;
    uint8_t img[0x3000];
    memset(img, 0xcc, sizeof img);
    /* 1000: test ecx,ecx      85c9
       1002: je 100a           7406
       1004: mov eax,1         b801000000
       1009: ret               c3
       100a: jmp 1800 (chunk)  e9f1070000
       1800: xor eax,eax       31c0
       1802: jmp 2000 (tail)   e9f9070000   -> another function's start
       2000: ret               c3 */
    const struct { uint32_t at; const char *hex; } code[] = {
        {0x1000, "85c97406b801000000c3e9f1070000"}, {0x1800, "31c0e9f9070000"}, {0x2000, "c3"}};
    for (size_t i = 0; i < 3; i++) unhex(code[i].hex, img + code[i].at, sizeof img - code[i].at);
    membuf m = {0, img, sizeof img};
    nk_disasm *d = nk_disasm_new(NULL, NK_ARCH_X64);
    nk_disasm_set_reader(d, mem_read, &m);
    nk_fgraph g;
    assert_int_equal(nk_disasm_flow(d, 0x1000, 0x1000, 0x100f, foreign_at_far, NULL, &g), NTKD_OK);
    assert_int_equal(g.n, 4);
    assert_true(g.b[0].start == 0x1000 && g.b[0].end == 0x1004 && g.b[0].ninsn == 2);
    assert_true(g.b[1].start == 0x1004 && g.b[1].end == 0x100a && g.b[1].ninsn == 2);
    assert_true(g.b[2].start == 0x100a && g.b[2].end == 0x100f && g.b[2].ninsn == 1);
    assert_true(g.b[3].start == 0x1800 && g.b[3].end == 0x1807 && g.b[3].ninsn == 2); /* the chunk */
    assert_false(g.truncated);
    nk_fgraph_free(&g);
    /* every target foreign: no chunk */
    assert_int_equal(nk_disasm_flow(d, 0x1000, 0x1000, 0x100f, NULL, NULL, &g), NTKD_OK);
    assert_int_equal(g.n, 5); /* without a foreign test everything reachable is followed */
    nk_fgraph_free(&g);
    /* code in the extent that no jump reaches (a switch case) is still covered */
    unhex("b802000000c3", img + 0x100f, 6); /* 100f: mov eax,2; ret */
    assert_int_equal(nk_disasm_flow(d, 0x1000, 0x1000, 0x1015, foreign_at_far, NULL, &g), NTKD_OK);
    assert_int_equal(g.n, 5);
    assert_true(g.b[3].start == 0x100f && g.b[3].end == 0x1015);
    nk_fgraph_free(&g);
    /* an unreadable entry: one block with nothing decoded */
    membuf none = {0x9000, img, 0};
    nk_disasm_set_reader(d, mem_read, &none);
    assert_int_equal(nk_disasm_flow(d, 0x1000, 0, 0, NULL, NULL, &g), NTKD_OK);
    assert_int_equal(g.n, 1);
    nk_fgraph_free(&g);
    nk_disasm_free(d);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_x64_seed_lines), cmocka_unit_test(test_x86_seed_lines),
        cmocka_unit_test(test_line_format),    cmocka_unit_test(test_hostile),
        cmocka_unit_test(test_backwards),      cmocka_unit_test(test_flow),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
