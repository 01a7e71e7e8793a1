/* test_display.c: the output of the memory, register and evaluation commands.
 *  - WinDbg's own output in the seeds, reproduced from the same bytes and registers:
 *    seed 002 (`dq`, the x64 register block and `lock xadd` line), seed 003 (`dc`, `?`, the
 *    x86 register block), seed 004 (`?`, `dq`, `db`, `!db`, `!dq`), the `.formats` outputs of
 *    WinDbg quoted in Microsoft's documentation and blog posts, and WinDbg's ARM64 register
 *    layout.
 *  - Instructions in WinDbg's disassembly syntax (seeds and Microsoft's documentation).
 *  - Ranges that cross into memory the dump does not hold print question marks for that part
 *    only; fully unreadable ranges; 32-bit targets; strings; continuation; JSON.
 *  - Over a generated dump: `dq`/`db` lines against the content pattern, and a display that
 *    runs from a present page into an absent one. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <json-c/json.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cmd/cmd.h"
#include "dump/context.h"
#include "expr/expr.h"
#include "gen/pattern.h"

#define SEED 0x5eedull

/* ---- a target built in memory --------------------------------------------------------- */

typedef struct fake {
    ntkd_target t;
    uint8_t *file;
    size_t size;
    nk_vrange vr[8];
    nk_phys_run runs[4];
    uint8_t ctx[0x4d0];
} fake;

static fake *fake_new(nk_arch arch, nk_dump_kind kind)
{
    fake *f = calloc(1, sizeof *f);
    assert_non_null(f);
    f->t.d.arch = arch;
    f->t.d.is64 = arch != NK_ARCH_X86;
    f->t.d.kind = kind;
    f->t.d.vranges = f->vr;
    f->t.d.phys.runs = f->runs;
    f->t.cur_ctx = (nk_context){arch, f->ctx, nk_context_size(arch), "test"};
    return f;
}

static size_t fake_append(fake *f, size_t len, uint64_t pattern_addr)
{
    size_t off = f->size;
    f->file = realloc(f->file, f->size + len);
    assert_non_null(f->file);
    nk_gen_fill(SEED, pattern_addr, f->file + off, len);
    f->size += len;
    f->t.file.data = f->file;
    f->t.file.size = f->size;
    return off;
}

/* Virtual bytes [va, va+len) held directly, filled with the pattern of their addresses. */
static uint8_t *fake_vrange(fake *f, uint64_t va, size_t len)
{
    size_t off = fake_append(f, len, va);
    size_t n = f->t.d.nvranges++, i = n;
    while (i > 0 && f->vr[i - 1].va > va) {
        f->vr[i] = f->vr[i - 1];
        i--;
    }
    f->vr[i] = (nk_vrange){va, len, off};
    return f->file + off;
}

/* Physical pages [pfn, pfn+n), filled with the pattern of their physical addresses. */
static uint8_t *fake_phys(fake *f, uint64_t pfn, size_t n)
{
    size_t off = fake_append(f, n * 4096, pfn << 12);
    f->t.d.phys.kind = NK_PHYS_RUNS;
    f->runs[f->t.d.phys.nruns++] = (nk_phys_run){pfn, n, off};
    return f->file + off;
}

static void fake_free(fake *f)
{
    free(f->file);
    free(f);
}

static char *run(ntkd_target *t, const char *cmd, bool json)
{
    char *buf = NULL;
    size_t len = 0;
    FILE *m = open_memstream(&buf, &len);
    assert_non_null(m);
    bool quit = false;
    ntkd_execute(t, cmd, m, json ? NTKD_OUT_JSON : NTKD_OUT_TEXT, &quit);
    fclose(m);
    return buf;
}

static void expect(ntkd_target *t, const char *cmd, const char *want)
{
    char *got = run(t, cmd, false);
    if (strcmp(got, want) != 0) fail_msg("%s\n--- got:\n%s--- want:\n%s", cmd, got, want);
    free(got);
}

/* The line of `got` that starts with `prefix`, or fail. */
static void expect_line(ntkd_target *t, const char *cmd, const char *line)
{
    char *got = run(t, cmd, false);
    char *p = got;
    bool found = false;
    while (p && *p && !found) {
        char *nl = strchr(p, '\n');
        size_t n = nl ? (size_t)(nl - p) : strlen(p);
        found = n == strlen(line) && !strncmp(p, line, n);
        p = nl ? nl + 1 : NULL;
    }
    if (!found) fail_msg("%s: no line\n%s\n--- in:\n%s", cmd, line, got);
    free(got);
}

static void put64(uint8_t *p, uint64_t v)
{
    for (int i = 0; i < 8; i++) p[i] = (uint8_t)(v >> (8 * i));
}
static void put32(uint8_t *p, uint32_t v)
{
    for (int i = 0; i < 4; i++) p[i] = (uint8_t)(v >> (8 * i));
}

/* ---- seeds: memory displays ----------------------------------------------------------- */

/* seed 002: `dq ffffe00002385830` over a DPC */
static void seed002_dq(void **state)
{
    (void)state;
    fake *f = fake_new(NK_ARCH_X64, NK_KIND_KERNEL_FULL);
    static const uint64_t q[16] = {
        0x0000000002850113ull, 0, 0x20, 0xfffff80000cb5700ull, 5, 0xb0f66d37, 0x01cf5513, 0,
        0x0000000140ee0088ull, 0xffffe00002385878ull, 0xffffe00002385878ull, 0x23ba44fc,
        0xffffe00004e74950ull, 0xfffff802d3773f48ull, 0x11360faaf68c8fd6ull, 0x0000000a00000000ull};
    uint8_t *m = fake_vrange(f, 0xffffe00002385830ull, 0x80);
    for (int i = 0; i < 16; i++) put64(m + 8 * i, q[i]);
    expect(&f->t, "dq ffffe00002385830",
           "ffffe000`02385830  00000000`02850113 00000000`00000000\n"
           "ffffe000`02385840  00000000`00000020 fffff800`00cb5700\n"
           "ffffe000`02385850  00000000`00000005 00000000`b0f66d37\n"
           "ffffe000`02385860  00000000`01cf5513 00000000`00000000\n"
           "ffffe000`02385870  00000001`40ee0088 ffffe000`02385878\n"
           "ffffe000`02385880  ffffe000`02385878 00000000`23ba44fc\n"
           "ffffe000`02385890  ffffe000`04e74950 fffff802`d3773f48\n"
           "ffffe000`023858a0  11360faa`f68c8fd6 0000000a`00000000\n");
    fake_free(f);
}

/* seed 003: `dc nt!MiChargeCommitmentFailures L4`, `dc fffff880`0496e3aa l1`, `?0000bd38` */
static void seed003_dc(void **state)
{
    (void)state;
    fake *f = fake_new(NK_ARCH_X64, NK_KIND_KERNEL_FULL);
    uint8_t *m = fake_vrange(f, 0xfffff80001e45ce0ull, 0x10);
    memset(m, 0, 0x10);
    put32(m + 4, 0xbd38);
    m = fake_vrange(f, 0xfffff8800496e3aaull, 4);
    put32(m, 0x3161654c);
    m = fake_vrange(f, 0xfffff800016530fcull, 4);
    put32(m, 0xffffff0f);
    expect(&f->t, "dc fffff800`01e45ce0 L4",
           "fffff800`01e45ce0  00000000 0000bd38 00000000 00000000  ....8...........\n");
    expect(&f->t, "dc fffff880`0496e3aa l1",
           "fffff880`0496e3aa  3161654c                             Lea1\n");
    expect(&f->t, "dc fffff800`016530fc l1",
           "fffff800`016530fc  ffffff0f                             ....\n");
    expect(&f->t, "?0000bd38", "Evaluate expression: 48440 = 00000000`0000bd38\n");
    fake_free(f);
}

/* seed 004: `? fffffa804b729790 + 0xa0`, `dq fffffa80`4b729830 l1` (x64) */
static void seed004_x64(void **state)
{
    (void)state;
    fake *f = fake_new(NK_ARCH_X64, NK_KIND_KERNEL_FULL);
    uint8_t *m = fake_vrange(f, 0xfffffa804b729830ull, 8);
    put64(m, 0xfffffa804a3b0060ull);
    expect(&f->t, "? fffffa804b729790 + 0xa0",
           "Evaluate expression: -6046048151504 = fffffa80`4b729830\n");
    expect(&f->t, "dq fffffa80`4b729830 l1", "fffffa80`4b729830  fffffa80`4a3b0060\n");
    expect(&f->t, "dq poi(fffffa80`4b729830)-60 l0", "");
    fake_free(f);
}

/* seed 004 (x86 PAE, Windows XP): `db 8054099e`, `!db 0054099e`, `!dq ... L1`, `?` */
static void seed004_x86(void **state)
{
    (void)state;
    static const uint8_t bytes[48] = {
        0x33, 0xdb, 0x8b, 0x75, 0x18, 0x8b, 0x7d, 0x1c, 0x0f, 0x23, 0xfb, 0x0f, 0x23, 0xc6, 0x8b, 0x5d,
        0x20, 0x0f, 0x23, 0xcf, 0x0f, 0x23, 0xd3, 0x8b, 0x75, 0x24, 0x8b, 0x7d, 0x28, 0x8b, 0x5d, 0x2c,
        0x0f, 0x23, 0xde, 0x0f, 0x23, 0xf7, 0x0f, 0x23, 0xfb, 0xe9, 0x43, 0xff, 0xff, 0xff, 0x8b, 0x44};
    fake *f = fake_new(NK_ARCH_X86, NK_KIND_KERNEL_FULL);
    uint8_t *m = fake_vrange(f, 0x8054099e, sizeof bytes);
    memcpy(m, bytes, sizeof bytes);
    uint8_t *p = fake_phys(f, 0x540, 1);
    memcpy(p + 0x99e, bytes, sizeof bytes);
    p = fake_phys(f, 0x2340, 1);
    put64(p + 0x6f0, 0x06c46801);
    p = fake_phys(f, 0x6c46, 1);
    put64(p + 0x010, 0x004009e3);
    expect(&f->t, "db 8054099e L30",
           "8054099e  33 db 8b 75 18 8b 7d 1c-0f 23 fb 0f 23 c6 8b 5d  3..u..}..#..#..]\n"
           "805409ae  20 0f 23 cf 0f 23 d3 8b-75 24 8b 7d 28 8b 5d 2c   .#..#..u$.}(.],\n"
           "805409be  0f 23 de 0f 23 f7 0f 23-fb e9 43 ff ff ff 8b 44  .#..#..#..C....D\n");
    expect(&f->t, "!db 0054099e L30",
           "#  54099e 33 db 8b 75 18 8b 7d 1c-0f 23 fb 0f 23 c6 8b 5d 3..u..}..#..#..]\n"
           "#  5409ae 20 0f 23 cf 0f 23 d3 8b-75 24 8b 7d 28 8b 5d 2c  .#..#..u$.}(.],\n"
           "#  5409be 0f 23 de 0f 23 f7 0f 23-fb e9 43 ff ff ff 8b 44 .#..#..#..C....D\n");
    /* "!dq (@cr3 & 0xffffffe0) + ( 0y10 * 8) L1" with cr3 = 023406e0 */
    f->t.d.dtb = 0x023406e0;
    expect(&f->t, "!dq (@cr3 & 0xffffffe0) + ( 0y10 * 8) L1", "# 23406f0 00000000`06c46801\n");
    expect(&f->t, "!dq (6c46801 & 0xFFFFFF000) + ( 0y000000010 * 8) L1", "# 6c46010 00000000`004009e3\n");
    expect(&f->t, "? (004009e3 & 0y11111111111000000000000000000000) + (8054099e & 0y00000000000111111111111111111111)",
           "Evaluate expression: 5507486 = 0054099e\n");
    expect(&f->t, "? 0 - 1", "Evaluate expression: -1 = ffffffff\n");
    fake_free(f);
}

/* ---- .formats (WinDbg output quoted by Microsoft's documentation and blog posts) ------- */

static void formats(void **state)
{
    (void)state;
    fake *f = fake_new(NK_ARCH_X86, NK_KIND_KERNEL_FULL);
    /* Microsoft's .formats page (32-bit target); the time is shown here in UTC */
    expect(&f->t, ".formats 1c407e62",
           "Evaluate expression:\n"
           "  Hex:     1c407e62\n"
           "  Decimal: 473988706\n"
           "  Decimal (unsigned) : 473988706\n"
           "  Octal:   03420077142\n"
           "  Binary:  00011100 01000000 01111110 01100010\n"
           "  Chars:   .@~b\n"
           "  Time:    Mon Jan  7 23:31:46 1985\n"
           "  Float:   low 6.36908e-022 high 0\n"
           "  Double:  2.34182e-315\n");
    /* a 32-bit kernel's cr0 (x86 PAE blog post) */
    expect(&f->t, ".formats 80010033",
           "Evaluate expression:\n"
           "  Hex:     80010033\n"
           "  Decimal: -2147418061\n"
           "  Decimal (unsigned) : 2147549235\n"
           "  Octal:   20000200063\n"
           "  Binary:  10000000 00000001 00000000 00110011\n"
           "  Chars:   ...3\n"
           "  Time:    ***** Invalid\n"
           "  Float:   low -9.1907e-041 high -1.#QNAN\n"
           "  Double:  -1.#QNAN\n");
    fake_free(f);

    f = fake_new(NK_ARCH_X64, NK_KIND_KERNEL_FULL);
    /* x64: ".formats 0x22" (blog post on PE characteristics) */
    expect(&f->t, ".formats 0x22",
           "Evaluate expression:\n"
           "  Hex:     00000000`00000022\n"
           "  Decimal: 34\n"
           "  Decimal (unsigned) : 34\n"
           "  Octal:   0000000000000000000042\n"
           "  Binary:  00000000 00000000 00000000 00000000 00000000 00000000 00000000 00100010\n"
           "  Chars:   .......\"\n"
           "  Time:    Thu Jan  1 00:00:34 1970\n"
           "  Float:   low 4.76441e-044 high 0\n"
           "  Double:  1.67982e-322\n");
    /* x64: a kernel address (KiBreakpointTrapShadow blog post) */
    expect(&f->t, ".formats FFFFF8020F3F4280",
           "Evaluate expression:\n"
           "  Hex:     fffff802`0f3f4280\n"
           "  Decimal: -8787247283584\n"
           "  Decimal (unsigned) : 18446735286462268032\n"
           "  Octal:   1777777600101717641200\n"
           "  Binary:  11111111 11111111 11111000 00000010 00001111 00111111 01000010 10000000\n"
           "  Chars:   .....?B.\n"
           "  Time:    ***** Invalid FILETIME\n"
           "  Float:   low 9.42983e-030 high -1.#QNAN\n"
           "  Double:  -1.#QNAN\n");
    /* x64: a FILETIME-range value (pool tag blog post, printed there at UTC-7) */
    expect_line(&f->t, ".formats 0x74536d4d`03880000", "  Chars:   tSmM....");
    expect_line(&f->t, ".formats 0x74536d4d`03880000", "  Time:    Sat Jan  8 03:15:00.577 28163 (UTC + 0:00)");
    expect_line(&f->t, ".formats 0x74536d4d`03880000", "  Float:   low 7.99336e-037 high 6.70039e+031");
    expect_line(&f->t, ".formats 0x74536d4d`03880000", "  Double:  2.22547e+252");
    expect_line(&f->t, ".formats 0x74536d4d`03880000", "  Octal:   0721233324640342000000");
    /* x64: cr4 (SMEP blog post) */
    expect_line(&f->t, ".formats 001506f8", "  Float:   low 1.93105e-039 high 0");
    expect_line(&f->t, ".formats 001506f8", "  Double:  6.80842e-318");
    expect_line(&f->t, ".formats 001506f8", "  Octal:   0000000000000005203370");
    /* seed 003: ".formats 200" begins with these lines */
    expect_line(&f->t, ".formats 200", "  Hex:     00000000`00000200");
    expect_line(&f->t, ".formats 200", "  Decimal: 512");
    fake_free(f);
}

/* ---- registers -------------------------------------------------------------------------- */

/* seed 002's trap frame (x64) and seed 004's selector line */
static void regs_x64(void **state)
{
    (void)state;
    fake *f = fake_new(NK_ARCH_X64, NK_KIND_KERNEL_FULL);
    uint8_t *c = f->ctx;
    put64(c + 0x78, 0x5);                    /* rax */
    put64(c + 0x90, 0);                      /* rbx */
    put64(c + 0x80, 0xffffc00002b737a0ull);  /* rcx */
    put64(c + 0x88, 0x5);                    /* rdx */
    put64(c + 0xa8, 0);                      /* rsi */
    put64(c + 0xb0, 0);                      /* rdi */
    put64(c + 0xf8, 0xfffff803b20565a3ull);  /* rip */
    put64(c + 0x98, 0xffffd000201fc990ull);  /* rsp */
    put64(c + 0xa0, 0xfffff800017bf594ull);  /* rbp */
    put64(c + 0xb8, 0x7);                    /* r8 */
    put64(c + 0xc0, 0xfffff800017debacull);  /* r9 */
    put64(c + 0xd0, 0xffffd000201fcc70ull);  /* r11 */
    put32(c + 0x44, 0x282);
    static const uint16_t segs[] = {0x10, 0x2b, 0x2b, 0x53, 0x2b, 0x18}; /* cs ds es fs gs ss */
    for (int i = 0; i < 6; i++) c[0x38 + 2 * i] = (uint8_t)segs[i];
    static const uint8_t code[] = {0xf0, 0x48, 0x0f, 0xc1, 0x5e, 0xd0};
    memcpy(fake_vrange(f, 0xfffff803b20565a3ull, sizeof code), code, sizeof code);
    expect(&f->t, "r",
           "rax=0000000000000005 rbx=0000000000000000 rcx=ffffc00002b737a0\n"
           "rdx=0000000000000005 rsi=0000000000000000 rdi=0000000000000000\n"
           "rip=fffff803b20565a3 rsp=ffffd000201fc990 rbp=fffff800017bf594\n"
           " r8=0000000000000007  r9=fffff800017debac r10=0000000000000000\n"
           "r11=ffffd000201fcc70 r12=0000000000000000 r13=0000000000000000\n"
           "r14=0000000000000000 r15=0000000000000000\n"
           "iopl=0         nv up ei ng nz na po nc\n"
           "cs=0010  ss=0018  ds=002b  es=002b  fs=0053  gs=002b             efl=00000282\n"
           "fffff803`b20565a3 f0480fc15ed0    lock xadd qword ptr [rsi-30h],rbx ds:ffffffff`ffffffd0=????????????????\n");
    expect(&f->t, "r rcx", "rcx=ffffc00002b737a0\n");
    expect(&f->t, "r rcx, rdx", "rcx=ffffc00002b737a0\nrdx=0000000000000005\n");
    expect(&f->t, "r @r8,r9", "r8=0000000000000007\nr9=fffff800017debac\n");
    expect(&f->t, "r ecx", "ecx=02b737a0\n");
    expect(&f->t, "r cs", "cs=0010\n");
    expect(&f->t, "r efl", "efl=00000282\n");
    expect(&f->t, "r sf", "sf=1\n");
    expect(&f->t, "r foo", "Bad register error at 'foo'\n");
    expect(&f->t, "r $t3 = 2*rdx", "");
    expect(&f->t, "r $t3", "$t3=000000000000000a\n");
    expect(&f->t, "r rax=1", "r: only the pseudo-registers $t0-$t19 can be set; 'rax' stays as the dump recorded it\n");
    /* vip/vif take the columns the padding otherwise fills; AC (bit 18) does not show */
    put32(c + 0x44, 0x40282);
    expect_line(&f->t, "r", "iopl=0         nv up ei ng nz na po nc");
    put32(c + 0x44, 0x1c3cd7); /* vip vif ac, iopl 3, of, df, sf, zf, af, pf, cf; not if */
    expect_line(&f->t, "r", "iopl=3 vip vif ov dn di ng zr ac pe cy");
    fake_free(f);
}

/* seed 003's breakpoint on x86 (user mode), with the symbol line from a symbol hook */
typedef struct symstate {
    nk_sym_hooks hooks;
} symstate;

static bool describe(ntkd_target *t, uint64_t addr, char *buf, size_t len)
{
    (void)t;
    if (addr == 0x75b88e7a) {
        snprintf(buf, len, "kernelbase!OpenFileMappingW+0x90");
        return true;
    }
    if (addr == 0x00e5305d) {
        snprintf(buf, len, "ThirdPartyServiceMonitor+0x305d");
        return true;
    }
    return false;
}

static void regs_x86(void **state)
{
    (void)state;
    fake *f = fake_new(NK_ARCH_X86, NK_KIND_USER_MINI);
    uint8_t *c = f->ctx;
    put32(c + 0xb0, 0x00000000); put32(c + 0xa4, 0x00008022); put32(c + 0xac, 0x7ffd8000);
    put32(c + 0xa8, 0x00000002); put32(c + 0xa0, 0x05abf03c); put32(c + 0x9c, 0x00000000);
    put32(c + 0xb8, 0x75b88e7a); put32(c + 0xc4, 0x05abeb20); put32(c + 0xb4, 0x05abeb3c);
    put32(c + 0xbc, 0x1b); put32(c + 0xc8, 0x23); put32(c + 0x98, 0x23); put32(c + 0x94, 0x23);
    put32(c + 0x90, 0x3b); put32(c + 0x8c, 0); put32(c + 0xc0, 0x246);
    static const uint8_t code[] = {0xc2, 0x0c, 0x00};
    memcpy(fake_vrange(f, 0x75b88e7a, sizeof code), code, sizeof code);
    symstate ss = {.hooks = {.describe = describe}};
    f->t.ext[NK_EXT_SYMRESOLVE] = &ss;
    expect(&f->t, "r",
           "eax=00000000 ebx=00008022 ecx=7ffd8000 edx=00000002 esi=05abf03c edi=00000000\n"
           "eip=75b88e7a esp=05abeb20 ebp=05abeb3c iopl=0         nv up ei pl zr na pe nc\n"
           "cs=001b  ss=0023  ds=0023  es=0023  fs=003b  gs=0000             efl=00000246\n"
           "kernelbase!OpenFileMappingW+0x90:\n"
           "75b88e7a c20c00          ret     0Ch\n");
    f->t.ext[NK_EXT_SYMRESOLVE] = NULL;
    fake_free(f);
}

/* WinDbg's ARM64 layout (user mode, EL0) */
static void regs_arm64(void **state)
{
    (void)state;
    fake *f = fake_new(NK_ARCH_ARM64, NK_KIND_USER_MINI);
    static const uint64_t x[29] = {
        0x0000000000000078ull, 0x000002037b0069e0ull, 0x0000000000000010ull, 0x000000293a8ff9f0ull,
        0x000000293a8ffb90ull, 0x000000293a8ff9ebull, 0, 0,
        0x0000000000000072ull, 0, 0, 0xffffffffff817aa9ull,
        0x00007ffea822efe0ull, 0x0000000000000967ull, 0x00007ffea8241b1eull, 0x00007ffea822f008ull,
        0, 0, 0, 0x000002037b006d60ull,
        0x000002037b0069e0ull, 0x000002037b004c10ull, 0x0000000000000010ull, 0x000000007ffe03c0ull,
        0x0000000000000001ull, 0, 0x000000293a8ff9e0ull, 0x0000000000000010ull, 0};
    uint8_t *c = f->ctx;
    put32(c + 4, 0x60000000);
    for (int i = 0; i < 29; i++) put64(c + 8 + 8 * i, x[i]);
    put64(c + 0xf0, 0x000000293a8ffc10ull);
    put64(c + 0xf8, 0x00007ffea80f7388ull);
    put64(c + 0x100, 0x000000293a8ff9e0ull);
    put64(c + 0x108, 0x00007ffea80e30f4ull);
    static const uint8_t code[] = {0xfd, 0x7b, 0xbf, 0xa9}; /* stp x29, x30, [sp, #-0x10]! */
    memcpy(fake_vrange(f, 0x00007ffea80e30f4ull, sizeof code), code, sizeof code);
    expect(&f->t, "r",
           " x0=0000000000000078   x1=000002037b0069e0   x2=0000000000000010   x3=000000293a8ff9f0\n"
           " x4=000000293a8ffb90   x5=000000293a8ff9eb   x6=0000000000000000   x7=0000000000000000\n"
           " x8=0000000000000072   x9=0000000000000000  x10=0000000000000000  x11=ffffffffff817aa9\n"
           "x12=00007ffea822efe0  x13=0000000000000967  x14=00007ffea8241b1e  x15=00007ffea822f008\n"
           "x16=0000000000000000  x17=0000000000000000  x18=0000000000000000  x19=000002037b006d60\n"
           "x20=000002037b0069e0  x21=000002037b004c10  x22=0000000000000010  x23=000000007ffe03c0\n"
           "x24=0000000000000001  x25=0000000000000000  x26=000000293a8ff9e0  x27=0000000000000010\n"
           "x28=0000000000000000   fp=000000293a8ffc10   lr=00007ffea80f7388   sp=000000293a8ff9e0\n"
           " pc=00007ffea80e30f4  psr=60000000 -ZC- EL0\n"
           "00007ffe`a80e30f4 a9bf7bfd stp         fp,lr,[sp,#-0x10]!\n");
    expect(&f->t, "r x1, lr", "x1=000002037b0069e0\nlr=00007ffea80f7388\n");
    fake_free(f);
}

/* A context too short for some registers, and no context at all. */
static void regs_unavailable(void **state)
{
    (void)state;
    fake *f = fake_new(NK_ARCH_X64, NK_KIND_KERNEL_TRIAGE);
    put64(f->ctx + 0x78, 0x5);
    f->t.cur_ctx.len = 0x80;
    expect_line(&f->t, "r", "rax=0000000000000005 rbx=???????????????? rcx=????????????????");
    expect(&f->t, "r rax", "rax=0000000000000005\n");
    f->t.cur_ctx = (nk_context){0};
    expect(&f->t, "r", "r: the dump holds no register context\n");
    fake_free(f);
}

/* ---- disassembly ---------------------------------------------------------------------- */

static void disasm_one(nk_arch arch, uint64_t va, const uint8_t *code, size_t n, const char *want)
{
    fake *f = fake_new(arch, NK_KIND_USER_MINI);
    memcpy(fake_vrange(f, va, n), code, n);
    nk_insn in;
    nk_disasm_one(&f->t, arch, va, NULL, &in);
    char line[512];
    nk_disasm_line(&f->t, arch, &in, line, sizeof line);
    if (strcmp(line, want)) fail_msg("got  '%s'\nwant '%s'", line, want);
    fake_free(f);
}

#define DIS(arch, va, want, ...)                                             \
    do {                                                                     \
        static const uint8_t b_[] = {__VA_ARGS__};                           \
        disasm_one(arch, va, b_, sizeof b_, want);                           \
    } while (0)

static void disasm(void **state)
{
    (void)state;
    const nk_arch X = NK_ARCH_X64;
    /* seed 002 `u fffff800`00cb5700` */
    DIS(X, 0xfffff80000cb5700ull, "fffff800`00cb5700 48895c2408      mov     qword ptr [rsp+8],rbx", 0x48, 0x89, 0x5c, 0x24, 0x08);
    DIS(X, 0xfffff80000cb5705ull, "fffff800`00cb5705 4889742418      mov     qword ptr [rsp+18h],rsi", 0x48, 0x89, 0x74, 0x24, 0x18);
    DIS(X, 0xfffff80000cb5714ull, "fffff800`00cb5714 55              push    rbp", 0x55);
    /* seed 002: "dec dword ptr [rbx+18h]", "mov qword ptr [rsp+10h],rdx" */
    DIS(X, 0xfffff802d34dbc6dull, "fffff802`d34dbc6d ff4b18          dec     dword ptr [rbx+18h]", 0xff, 0x4b, 0x18);
    DIS(X, 0xfffff802d34f6420ull, "fffff802`d34f6420 4889542410      mov     qword ptr [rsp+10h],rdx", 0x48, 0x89, 0x54, 0x24, 0x10);
    /* seed 004 `u nt!VfAfterCallDriver` and the breakpoint */
    DIS(X, 0xfffff80001b66824ull, "fffff800`01b66824 4883ec30        sub     rsp,30h", 0x48, 0x83, 0xec, 0x30);
    DIS(X, 0xfffff80001b66828ull, "fffff800`01b66828 488bfa          mov     rdi,rdx", 0x48, 0x8b, 0xfa);
    DIS(X, 0xfffff80001b66820ull, "fffff800`01b66820 4154            push    r12", 0x41, 0x54);
    DIS(X, 0xfffff80001b66b4eull, "fffff800`01b66b4e cc              int     3", 0xcc);
    /* WinDbg on cr4 (SMEP blog post) */
    DIS(X, 0xffff8c05a9a9a3f0ull, "ffff8c05`a9a9a3f0 0f20e0          mov     rax,cr4", 0x0f, 0x20, 0xe0);
    DIS(X, 0xffff8c05a9a9a3f3ull, "ffff8c05`a9a9a3f3 4825ffffefff    and     rax,0FFFFFFFFFFEFFFFFh", 0x48, 0x25, 0xff, 0xff, 0xef, 0xff);
    DIS(X, 0xffff8c05a9a9a3f9ull, "ffff8c05`a9a9a3f9 0f22e0          mov     cr4,rax", 0x0f, 0x22, 0xe0);
    /* Microsoft's address-range page (`u 00007ffc`0f1d48fa L3`), without symbols */
    DIS(X, 0x00007ffc0f1d48faull, "00007ffc`0f1d48fa 6e              outs    dx,byte ptr [rsi]", 0x6e);
    DIS(X, 0x00007ffc0f1d48fbull, "00007ffc`0f1d48fb 7464            je      00007ffc`0f1d4961", 0x74, 0x64);
    DIS(X, 0x00007ffc0f1d48fdull, "00007ffc`0f1d48fd 6c              ins     byte ptr [rdi],dx", 0x6c);
    /* seed 003's jmp (x64 user mode), without symbols */
    DIS(X, 0x0000000000e53045ull, "00000000`00e53045 eb16            jmp     00000000`00e5305d", 0xeb, 0x16);
    /* MASM documentation `u` of COMCTL32!DllMainCRTStartup */
    DIS(X, 0x00007ff959269e8aull, "00007ff9`59269e8a 57              push    rdi", 0x57);
    /* x86: seed 003 "ret 0Ch" */
    DIS(NK_ARCH_X86, 0x75b88e7a, "75b88e7a c20c00          ret     0Ch", 0xc2, 0x0c, 0x00);
    /* ARM64 (WinDbg output in a dumpanalysis.org post: "d2800028 mov x8,#1",
       "f9533f69 ldr x9,[x27,#0x2678]", "f9000128 str x8,[x9]") */
    const nk_arch A = NK_ARCH_ARM64;
    DIS(A, 0x00007ff7d061afe0ull, "00007ff7`d061afe0 d2800028 mov         x8,#1", 0x28, 0x00, 0x80, 0xd2);
    DIS(A, 0x00007ff7d061afdcull, "00007ff7`d061afdc f9533f69 ldr         x9,[x27,#0x2678]", 0x69, 0x3f, 0x53, 0xf9);
    DIS(A, 0x00007ff7d061afe4ull, "00007ff7`d061afe4 f9000128 str         x8,[x9]", 0x28, 0x01, 0x00, 0xf9);
    /* nothing readable */
    fake *f = fake_new(X, NK_KIND_USER_MINI);
    nk_insn in;
    assert_false(nk_disasm_one(&f->t, X, 0x1000, NULL, &in));
    char line[256];
    nk_disasm_line(&f->t, X, &in, line, sizeof line);
    assert_string_equal(line, "00000000`00001000 ??              ???");
    fake_free(f);
}

/* ---- shapes, gaps, strings, continuation, JSON ------------------------------------------ */

static void fmt_q(char *buf, uint64_t v)
{
    sprintf(buf, "%08x`%08x", (unsigned)(v >> 32), (unsigned)v);
}

static void gaps(void **state)
{
    (void)state;
    fake *f = fake_new(NK_ARCH_X64, NK_KIND_USER_MINI);
    fake_vrange(f, 0x10000, 0x1000);
    fake_vrange(f, 0x12000, 0x1000); /* 0x11000-0x11fff is not in the dump */
    char a[24], b[24], want[512];
    /* a range crossing into the missing page */
    fmt_q(a, nk_gen_qword(SEED, 0x10ff0));
    fmt_q(b, nk_gen_qword(SEED, 0x10ff8));
    snprintf(want, sizeof want,
             "00000000`00010ff0  %s %s\n"
             "00000000`00011000  ????????`???????? ????????`????????\n", a, b);
    expect(&f->t, "dq 10ff0 L4", want);
    /* ... and out of it again: the part after the gap shows */
    uint64_t q = nk_gen_qword(SEED, 0x12000);
    snprintf(want, sizeof want, "00000000`00011ff8  ???????? ???????? %08x %08x\n", (unsigned)q,
             (unsigned)(q >> 32));
    expect(&f->t, "dd 11ff8 L4", want);
    /* db: question marks in the values and the ASCII column */
    char line[256];
    size_t k = (size_t)snprintf(line, sizeof line, "00000000`00010ff8  ");
    char asc[17];
    for (int i = 0; i < 16; i++) {
        uint8_t by = nk_gen_byte(SEED, 0x10ff8 + (uint64_t)i);
        if (i < 8) k += (size_t)snprintf(line + k, sizeof line - k, i ? " %02x" : "%02x", by);
        else k += (size_t)snprintf(line + k, sizeof line - k, i == 8 ? "-??" : " ??");
        asc[i] = i < 8 ? (by >= 0x20 && by < 0x7f ? (char)by : '.') : '?';
    }
    asc[16] = 0;
    snprintf(line + k, sizeof line - k, "  %s\n", asc);
    expect(&f->t, "db 10ff8 L10", line);
    /* fully unreadable */
    expect(&f->t, "dq 50000 L3",
           "00000000`00050000  ????????`???????? ????????`????????\n"
           "00000000`00050010  ????????`????????\n");
    expect(&f->t, "dw 50000 L2", "00000000`00050000  ???? ????\n");
    /* JSON: the missing units are null and listed */
    char *js = run(&f->t, "dq 10ff8 L2 ", true);
    json_object *root = json_tokener_parse(js);
    assert_non_null(root);
    json_object *lines, *l0, *vals, *miss, *ok;
    assert_true(json_object_object_get_ex(root, "ok", &ok));
    assert_true(json_object_get_boolean(ok));
    assert_true(json_object_object_get_ex(root, "lines", &lines));
    l0 = json_object_array_get_idx(lines, 0);
    assert_true(json_object_object_get_ex(l0, "values", &vals));
    char hx[24];
    snprintf(hx, sizeof hx, "0x%llx", (unsigned long long)nk_gen_qword(SEED, 0x10ff8));
    assert_string_equal(json_object_get_string(json_object_array_get_idx(vals, 0)), hx);
    assert_null(json_object_array_get_idx(vals, 1));
    assert_true(json_object_object_get_ex(l0, "missing", &miss));
    assert_int_equal(json_object_get_int(json_object_array_get_idx(miss, 0)), 1);
    json_object_put(root);
    free(js);
    fake_free(f);
}

static void shapes(void **state)
{
    (void)state;
    fake *f = fake_new(NK_ARCH_X64, NK_KIND_USER_MINI);
    uint8_t *m = fake_vrange(f, 0x20000, 0x200);
    for (int i = 0; i < 0x200; i++) m[i] = (uint8_t)i;
    expect(&f->t, "dw 20000 L9",
           "00000000`00020000  0100 0302 0504 0706 0908 0b0a 0d0c 0f0e\n"
           "00000000`00020010  1110\n");
    expect(&f->t, "dd 20000 L5",
           "00000000`00020000  03020100 07060504 0b0a0908 0f0e0d0c\n"
           "00000000`00020010  13121110\n");
    expect(&f->t, "dp 20000 L1", "00000000`00020000  07060504`03020100\n");
    expect(&f->t, "dqs 20000 L2", "00000000`00020000  07060504`03020100\n"
                                  "00000000`00020008  0f0e0d0c`0b0a0908\n");
    expect(&f->t, "dds 20000 L1", "00000000`00020000  03020100\n");
    expect(&f->t, "db 20040 L4", "00000000`00020040  40 41 42 43                                      @ABC\n");
    expect(&f->t, "dd 20000 20007", "00000000`00020000  03020100 07060504\n"); /* inclusive end */
    expect(&f->t, "dd /c 2 20000 L3", "00000000`00020000  03020100 07060504\n"
                                      "00000000`00020008  0b0a0908\n");
    expect(&f->t, "dd 20010 L-2", "00000000`00020008  0b0a0908 0f0e0d0c\n");
    /* continuation: no address continues after the last display; `d` repeats the command */
    expect(&f->t, "dd 20000 L2", "00000000`00020000  03020100 07060504\n");
    expect(&f->t, "dd L1", "00000000`00020008  0b0a0908\n");
    expect(&f->t, "d L1", "00000000`0002000c  0f0e0d0c\n");
    /* strings */
    memcpy(m + 0x100, "This program cannot be run in DOS mode.\r\r\n$", 44);
    m[0x100 + 44] = 0;
    expect(&f->t, "da 20100",
           "00000000`00020100  \"This program cannot be run in DO\"\n"
           "00000000`00020120  \"S mode....$\"\n");
    expect(&f->t, "da 20100 L4", "00000000`00020100  \"This\"\n");
    static const char w[] = "C\0:\0\\\0W\0i\0n\0\0";
    memcpy(m + 0x180, w, sizeof w);
    expect(&f->t, "du 20180", "00000000`00020180  \"C:\\Win\"\n");
    expect(&f->t, "da 90000 L4", "00000000`00090000  \"????\"\n");
    /* errors */
    expect(&f->t, "dq 20000 L?0", "");
    expect(&f->t, "dq 20000 L20000000", "Range error: 0x20000000 units of 8 bytes exceed the 256 MB limit (use L? to lift it)\n");
    expect(&f->t, "dq 20000 1000", "Range error: 1000 is below the start 20000\n");
    expect(&f->t, "dq foo", "Couldn't resolve error at 'foo'\n");
    expect(&f->t, "dq 20000 L2 junk", "Syntax error at 'junk'\n");
    fake_free(f);

    /* 32-bit targets print 8-digit addresses; dp is dd */
    f = fake_new(NK_ARCH_X86, NK_KIND_USER_MINI);
    m = fake_vrange(f, 0x1000, 0x10);
    for (int i = 0; i < 0x10; i++) m[i] = (uint8_t)(0xa0 + i);
    expect(&f->t, "dp 1000 L2", "00001000  a3a2a1a0 a7a6a5a4\n");
    expect(&f->t, "dps 1000 L1", "00001000  a3a2a1a0\n");
    expect(&f->t, "dq 1000 L1", "00001000  a7a6a5a4`a3a2a1a0\n");
    expect(&f->t, "? 1000", "Evaluate expression: 4096 = 00001000\n");
    fake_free(f);
}

/* ---- a generated dump ----------------------------------------------------------------- */

static bool gen(const char *kind, const char *out, const char *opts)
{
    char cmd[1024];
    snprintf(cmd, sizeof cmd, "'%s' %s '%s' %s >/dev/null 2>&1", NTKD_GENDUMP, kind, out, opts);
    return system(cmd) == 0;
}

typedef struct gmap {
    uint64_t va, pa, size;
} gmap;

/* True when va translates (per the manifest) to a page the dump holds. */
static bool readable(const gmap *maps, size_t nm, const uint64_t *present, size_t np, uint64_t va)
{
    for (size_t i = 0; i < nm; i++) {
        if (va < maps[i].va || va - maps[i].va >= maps[i].size) continue;
        uint64_t pfn = (maps[i].pa + (va - maps[i].va)) >> 12;
        for (size_t j = 0; j < np; j++)
            if (present[j] == pfn) return true;
    }
    return false;
}

/* Returns false when the generator cannot make this kind of dump (yet). */
static bool check_generated(const char *kind, const char *arch)
{
    char dmp[96], opts[96];
    snprintf(dmp, sizeof dmp, "display_%s_%s.dmp", kind, arch);
    snprintf(opts, sizeof opts, "--arch %s --pages 64 --seed 3", arch);
    if (!gen(kind, dmp, opts)) return false;
    ntkd_ctx *ctx = ntkd_ctx_new();
    ntkd_target *t;
    if (ntkd_open(ctx, dmp, NULL, &t) != NTKD_OK) fail_msg("open: %s", ntkd_ctx_error(ctx));
    char mf[128];
    snprintf(mf, sizeof mf, "%s.manifest", dmp);
    FILE *m = fopen(mf, "r");
    assert_non_null(m);
    /* the pages the dump holds (pattern data or paging structures) and the translations */
    static uint64_t data[8192], present[8192];
    static gmap maps[8192];
    uint64_t seed = 3;
    size_t nd = 0, np = 0, nm = 0;
    char line[256];
    while (fgets(line, sizeof line, m)) {
        unsigned long long a, b;
        char k[16];
        if (sscanf(line, "seed %llx", &a) == 1) seed = a;
        else if (sscanf(line, "phys %llx %15s", &a, k) == 2 && np < 8192) {
            present[np++] = a;
            if (!strcmp(k, "data")) data[nd++] = a;
        } else if (sscanf(line, "map %llx %llx %15s", &a, &b, k) == 3 && nm < 8192) {
            uint64_t size = !strcmp(k, "4k") ? 0x1000 : !strcmp(k, "2m") ? 0x200000
                          : !strcmp(k, "4m") ? 0x400000 : 0x40000000;
            maps[nm++] = (gmap){a, b, size};
        }
    }
    fclose(m);
    int checked = 0, crossed = 0;
    for (size_t i = 0; i < nm; i++) {
        if (maps[i].size != 0x1000) continue;
        uint64_t pfn = maps[i].pa >> 12;
        bool is_data = false;
        for (size_t j = 0; j < nd && !is_data; j++) is_data = data[j] == pfn;
        if (!is_data) continue;
        char cmd[128], want[256], a[24], b[24], addr[24];
        if (checked < 16) {
            /* physical: !dq at the page start */
            fmt_q(a, nk_gen_qword(seed, maps[i].pa));
            fmt_q(b, nk_gen_qword(seed, maps[i].pa + 8));
            snprintf(cmd, sizeof cmd, "!dq %llx L2", (unsigned long long)maps[i].pa);
            snprintf(want, sizeof want, "#%8llx %s %s\n", (unsigned long long)maps[i].pa, a, b);
            expect(t, cmd, want);
            /* virtual: dq and db through the page tables */
            nk_fmt_ptr(addr, maps[i].va + 0x40, t->d.is64);
            fmt_q(a, nk_gen_qword(seed, maps[i].pa + 0x40));
            fmt_q(b, nk_gen_qword(seed, maps[i].pa + 0x48));
            snprintf(cmd, sizeof cmd, "dq %llx L2", (unsigned long long)maps[i].va + 0x40);
            snprintf(want, sizeof want, "%s  %s %s\n", addr, a, b);
            expect(t, cmd, want);
            size_t k = (size_t)snprintf(want, sizeof want, "%s  ", addr);
            char asc[17];
            for (int j = 0; j < 16; j++) {
                uint8_t by = nk_gen_byte(seed, maps[i].pa + 0x40 + (uint64_t)j);
                k += (size_t)snprintf(want + k, sizeof want - k, j == 0 ? "%02x" : j == 8 ? "-%02x" : " %02x", by);
                asc[j] = by >= 0x20 && by < 0x7f ? (char)by : '.';
            }
            asc[16] = 0;
            snprintf(want + k, sizeof want - k, "  %s\n", asc);
            snprintf(cmd, sizeof cmd, "db %llx L10", (unsigned long long)maps[i].va + 0x40);
            expect(t, cmd, want);
            checked++;
        }
        /* a data page followed by a virtual page the dump cannot give: the display that runs
           into it shows question marks for that part only */
        uint64_t nva = maps[i].va + 0x1000;
        if (nva && !readable(maps, nm, present, np, nva)) {
            nk_fmt_ptr(addr, maps[i].va + 0xff8, t->d.is64);
            fmt_q(a, nk_gen_qword(seed, maps[i].pa + 0xff8));
            snprintf(cmd, sizeof cmd, "dq %llx L2", (unsigned long long)maps[i].va + 0xff8);
            snprintf(want, sizeof want, "%s  %s ????????`????????\n", addr, a);
            expect(t, cmd, want);
            crossed++;
        }
    }
    if (!checked || !crossed) fail_msg("%s %s: %d pages checked, %d crossings", kind, arch, checked, crossed);
    ntkd_close(t);
    ntkd_ctx_free(ctx);
    unlink(dmp);
    unlink(mf);
    return true;
}

static void generated(void **state)
{
    (void)state;
    static const char *const cases[][2] = {
        {"full64", "x64"}, {"full64", "arm64"}, {"bitmap64", "x64"}, {"full32", "x86pae"}, {"full32", "x86"},
    };
    int ran = 0;
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++)
        ran += check_generated(cases[i][0], cases[i][1]);
    if (!ran) skip();
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(seed002_dq),   cmocka_unit_test(seed003_dc),
        cmocka_unit_test(seed004_x64),  cmocka_unit_test(seed004_x86),
        cmocka_unit_test(formats),      cmocka_unit_test(regs_x64),
        cmocka_unit_test(regs_x86),     cmocka_unit_test(regs_arm64),
        cmocka_unit_test(regs_unavailable), cmocka_unit_test(disasm),
        cmocka_unit_test(gaps),         cmocka_unit_test(shapes),
        cmocka_unit_test(generated),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
