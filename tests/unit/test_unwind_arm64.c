/* test_unwind_arm64.c: ARM64 unwinding (nk_step_arm64).
 *
 * 1. triage-arm64-22000.dmp (a real Windows 11 ARM64 triage dump; corpus README): the
 *    bugcheck thread's stack. The symbol path holds x64 ISF tables only, and the triage dump
 *    holds no image bytes, so the walk runs on frame pointers. A Python script reads the
 *    dump independently (TRIAGE_DUMP header at 0x2000: ContextOffset, CallStackOffset,
 *    SizeOfCallStack, TopOfStack; the ARM64 CONTEXT's Fp/Lr/Sp/Pc at 0xf0/0xf8/0x100/0x108),
 *    follows [fp] / [fp+8] through the call-stack region, and prints each frame; every step
 *    must give the same pc, sp and fp, and the walk must end where the chain leaves the
 *    region or reaches a zero fp, with a reason.
 * 2. Unwind codes: a program built with clang-cl-14 --target=aarch64-pc-windows-msvc and
 *    lld-link-14; its prologs are read from the disassembly (llvm-objdump-14) by the test's
 *    script, which lays out the stack those prologs build; unwinding through .pdata must
 *    return the laid-out chain. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include <cmocka.h>

#include "code/unwind.h"
#include "dump/dump.h"
#include "mem/mem.h"
#include "sym/sym.h"

#define TRIAGE NTKD_CORPUS "/dumps/kernel/triage-arm64-22000.dmp"
#define BUILD_DIR "unwind_arm64_build"

static bool have_tool(const char *name)
{
    char cmd[256];
    snprintf(cmd, sizeof cmd, "command -v %s >/dev/null 2>&1", name);
    return system(cmd) == 0;
}

static void write_file(const char *path, const char *text)
{
    FILE *f = fopen(path, "w");
    assert_non_null(f);
    fputs(text, f);
    fclose(f);
}

static const char chain_py[] =
    "import struct, sys\n"
    "d = open(sys.argv[1], 'rb').read()\n"
    "h = 0x2000\n"
    "ctx_off = struct.unpack_from('<I', d, h + 0x0c)[0]\n"
    "cs_off, cs_size = struct.unpack_from('<II', d, h + 0x28)\n"
    "top = struct.unpack_from('<Q', d, h + 0x48)[0]\n"
    "fp, lr, sp, pc = struct.unpack_from('<QQQQ', d, ctx_off + 0xf0)\n"
    "print('C %x %x %x %x' % (pc, sp, fp, lr))\n"
    "print('S %x %x' % (top, cs_size))\n"
    "def rd(va):\n"
    "    if va < top or va + 8 > top + cs_size: return None\n"
    "    return struct.unpack_from('<Q', d, cs_off + (va - top))[0]\n"
    "def strip(v): return (v | 0xffff000000000000) if v & (1 << 55) else (v & 0x0000ffffffffffff)\n"
    "n = 0\n"
    "while n < 256:\n"
    "    if fp == 0: print('E zero'); break\n"
    "    a, b = rd(fp), rd(fp + 8)\n"
    "    if a is None or b is None: print('E outside'); break\n"
    "    sp, pc, fp = fp + 16, strip(b), a\n"
    "    print('F %x %x %x' % (pc, sp, fp)); n += 1\n";

static void triage_fp_chain(void **state)
{
    (void)state;
    if (!have_tool("python3")) { skip(); return; }
    mkdir(BUILD_DIR, 0755);
    write_file(BUILD_DIR "/chain.py", chain_py);
    assert_int_equal(system("python3 " BUILD_DIR "/chain.py " TRIAGE " > " BUILD_DIR "/chain.txt"), 0);
    FILE *f = fopen(BUILD_DIR "/chain.txt", "r");
    assert_non_null(f);
    unsigned long long c[4] = {0}, fr[256][3];
    size_t nf = 0;
    char line[256], end[16] = "";
    while (fgets(line, sizeof line, f)) {
        if (line[0] == 'C') assert_int_equal(sscanf(line + 2, "%llx %llx %llx %llx", &c[0], &c[1], &c[2], &c[3]), 4);
        else if (line[0] == 'F' && nf < 256) {
            assert_int_equal(sscanf(line + 2, "%llx %llx %llx", &fr[nf][0], &fr[nf][1], &fr[nf][2]), 3);
            nf++;
        } else if (line[0] == 'E') sscanf(line + 2, "%15s", end);
    }
    fclose(f);
    assert_true(nf >= 4); /* KeBugCheck2 (the context) and its callers up to KiStartSystemThread */
    assert_true(end[0]);

    ntkd_ctx *ctx = ntkd_ctx_new();
    ntkd_target *t = NULL;
    ntkd_open_opts o = {.sympath = NTKD_CORPUS "/isf"};
    assert_int_equal(ntkd_open(ctx, TRIAGE, &o, &t), NTKD_OK);
    assert_int_equal(t->d.arch, NK_ARCH_ARM64);
    nk_sym_attach(t);
    nk_uregs r;
    memset(&r, 0, sizeof r);
    r.arch = NK_ARCH_ARM64;
    r.r[NK_UR_A64_PC] = c[0]; r.r[NK_UR_A64_SP] = c[1]; r.r[NK_UR_A64_FP] = c[2]; r.r[NK_UR_A64_LR] = c[3];
    r.valid = (1ull << NK_UR_A64_PC) | (1ull << NK_UR_A64_SP) | (1ull << NK_UR_A64_FP) | (1ull << NK_UR_A64_LR);
    size_t i = 0;
    char note[128];
    nk_frame_how how;
    nk_status st;
    for (i = 0; i < nf; i++) {
        st = nk_step_arm64(t, &r, &how, note, sizeof note);
        if (st != NTKD_OK) fail_msg("step %zu: %s (%s)", i, nk_status_name(st), note);
        /* with neither image bytes nor ARM64 symbols the chain is followed by frame pointers */
        assert_int_equal(how, NK_FH_FPCHAIN);
        if (r.r[NK_UR_A64_PC] != fr[i][0] || r.r[NK_UR_A64_SP] != fr[i][1] || r.r[NK_UR_A64_FP] != fr[i][2])
            fail_msg("frame %zu: pc %llx sp %llx fp %llx, expected %llx %llx %llx", i,
                     (unsigned long long)r.r[NK_UR_A64_PC], (unsigned long long)r.r[NK_UR_A64_SP],
                     (unsigned long long)r.r[NK_UR_A64_FP], fr[i][0], fr[i][1], fr[i][2]);
    }
    /* the end, with its reason */
    st = nk_step_arm64(t, &r, &how, note, sizeof note);
    if (!strcmp(end, "zero")) {
        /* a zero fp ends the thread's chain: the last frame returns to 0 */
        assert_int_equal(st, NTKD_OK);
        assert_int_equal(r.r[NK_UR_A64_PC], 0);
        assert_non_null(strstr(note, "fp is 0"));
    } else {
        assert_int_equal(st, NTKD_E_NOTPRESENT);
        assert_non_null(strstr(note, "not in the dump"));
    }
    /* every return address is a kernel address (the chain is the kernel stack's) */
    for (size_t k = 0; k < nf; k++)
        if (fr[k][0]) assert_true(fr[k][0] >= 0xffff000000000000ull);
    ntkd_close(t);
    ntkd_ctx_free(ctx);
}


/* ---- built program ------------------------------------------------------------------------ */

static const char prog_c[] =
    "volatile long long sink;\n"
    "__declspec(noinline) long long leaf3(long long a, long long b) { volatile long long buf[40]; for (int i = 0; i < 40; i++) buf[i] = a * i + b; sink = buf[3]; return buf[5] + a; }\n"
    "__declspec(noinline) long long mid2(long long a) { long long r = 0, s = 7, u = 9; for (long long i = 0; i < a; i++) { r += leaf3(i, a) * 3; s ^= r; u += s; } return r + s + u; }\n"
    "__declspec(noinline) long long top1(long long a, long long b, long long c) { volatile char big[3000]; big[a] = 1; long long x = mid2(a + b); sink = x + big[b]; return x + c + mid2(c); }\n"
    "int mainCRTStartup(void) { return (int)top1(1, 2, 3); }\n";

/* The oracle: simulates each function's prolog from the disassembly (sub sp / stp / str with
 * and without pre-index, mov/add x29), follows the first bl of each function from the entry
 * point, gives every callee-saved register a distinct value per frame, and prints
 *   M addr value        stack words (8 bytes)
 *   R pc sp x19..x30    the starting registers (innermost frame; `stop` instructions into
 *                       its prolog, or after it when stop is -1)
 *   F pc sp x19..x29    the expected frames, innermost first */
static const char layout_py[] =
    "import re, subprocess, sys\n"
    "exe, top, stop = sys.argv[1], int(sys.argv[2], 16), int(sys.argv[3])\n"
    "hdr = subprocess.run(['llvm-objdump-14', '-p', exe], capture_output=True, text=True).stdout\n"
    "entry = int(re.search(r'AddressOfEntryPoint\\s+([0-9a-fA-F]+)', hdr).group(1), 16) + int(re.search(r'ImageBase\\s+([0-9a-fA-F]+)', hdr).group(1), 16)\n"
    "dis = subprocess.run(['llvm-objdump-14', '-d', '--no-show-raw-insn', exe], capture_output=True, text=True).stdout\n"
    "ins = []\n"
    "for l in dis.splitlines():\n"
    "    m = re.match(r'\\s*([0-9a-f]+):\\s+(\\S+)\\s*(.*)', l)\n"
    "    if m: ins.append((int(m.group(1), 16), m.group(2), m.group(3).strip()))\n"
    "idx = {a: i for i, (a, _, _) in enumerate(ins)}\n"
    "mem = {}\n"
    "regs = {r: 0x1000 * r + 0xaa for r in range(19, 31)}\n"
    "regs[30] = 0\n"
    "def reg(n):\n"
    "    n = n.strip()\n"
    "    if n in ('fp', 'x29'): return 29\n"
    "    if n in ('lr', 'x30'): return 30\n"
    "    return int(n[1:])\n"
    "def prolog(i, sp, limit):\n"
    "    saved = []\n"
    "    k = 0\n"
    "    while limit < 0 or k < limit:\n"
    "        a, op, arg = ins[i]\n"
    "        m = re.match(r'(x\\d+|fp|lr), (x\\d+|fp|lr), \\[sp, #(-?\\d+)\\](!?)$', arg)\n"
    "        m1 = re.match(r'(x\\d+|fp|lr), \\[sp, #(-?\\d+)\\](!?)$', arg)\n"
    "        if op == 'sub' and re.match(r'sp, sp, #(\\d+)$', arg): sp -= int(arg.split('#')[1])\n"
    "        elif op == 'stp' and m:\n"
    "            off = int(m.group(3))\n"
    "            if m.group(4): sp += off; off = 0\n"
    "            for j, r in enumerate((reg(m.group(1)), reg(m.group(2)))): mem[sp + off + 8 * j] = regs[r]; saved.append(r)\n"
    "        elif op == 'str' and m1 and m1.group(1).startswith(('x', 'l', 'f')):\n"
    "            off = int(m1.group(2))\n"
    "            if m1.group(3): sp += off; off = 0\n"
    "            r = reg(m1.group(1)); mem[sp + off] = regs[r]; saved.append(r)\n"
    "        elif op == 'mov' and arg in ('x29, sp', 'fp, sp'): regs[29] = sp\n"
    "        elif op == 'add' and re.match(r'(x29|fp), sp, #(\\d+)$', arg): regs[29] = sp + int(arg.split('#')[1])\n"
    "        else: break\n"
    "        i += 1; k += 1\n"
    "    return i, sp, saved\n"
    "frames = []\n"
    "fn, sp, depth = entry, top, 0\n"
    "while True:\n"
    "    i = idx[fn]\n"
    "    # is this the innermost function (no bl before its ret)?\n"
    "    j = i\n"
    "    while ins[j][1] not in ('bl', 'ret'): j += 1\n"
    "    innermost = ins[j][1] == 'ret'\n"
    "    i, sp, saved = prolog(i, sp, stop if innermost else -1)\n"
    "    for r in saved:\n"
    "        if r < 29 or (r == 29 and 29 in saved): regs[r] = 0x77000000 + 0x100 * depth + r\n"
    "    if innermost:\n"
    "        e = j\n"
    "        while ins[e - 1][1] in ('ldp', 'ldr', 'add') and ('[sp' in ins[e - 1][2] or ins[e - 1][2].startswith('sp, sp')): e -= 1\n"
    "        print('X %x %x' % (ins[e][0], ins[j][0]))\n"
    "        frames.append((ins[i][0], sp, dict(regs))); break\n"
    "    while ins[i][1] != 'bl': i += 1\n"
    "    frames.append((ins[i + 1][0], sp, dict(regs)))\n"
    "    regs[30] = ins[i + 1][0]\n"
    "    fn = int(ins[i][2].split()[0], 16)\n"
    "    depth += 1\n"
    "for a, v in sorted(mem.items()): print('M %x %x' % (a, v))\n"
    "a, sp, rg = frames[-1]\n"
    "print('R %x %x ' % (a, sp) + ' '.join('%x' % rg[r] for r in range(19, 31)))\n"
    "for a, sp, rg in reversed(frames): print('F %x %x ' % (a, sp) + ' '.join('%x' % rg[r] for r in range(19, 30)))\n";

typedef struct tgt {
    ntkd_ctx *ctx;
    ntkd_target *t;
    uint8_t *buf;
    size_t img_len;
    uint64_t sva;
} tgt;

#define STACK_SIZE 0x10000u

static void open_img(tgt *g, const char *exe)
{
    memset(g, 0, sizeof *g);
    FILE *f = fopen(exe, "rb");
    assert_non_null(f);
    fseek(f, 0, SEEK_END);
    long n = ftell(f);
    fseek(f, 0, SEEK_SET);
    g->buf = calloc(1, (size_t)n + STACK_SIZE);
    assert_non_null(g->buf);
    assert_int_equal(fread(g->buf, 1, (size_t)n, f), (size_t)n);
    fclose(f);
    g->img_len = (size_t)n;
    g->ctx = ntkd_ctx_new();
    ntkd_open_opts o = {.sympath = BUILD_DIR};
    assert_int_equal(ntkd_open_mem(g->ctx, "p.exe", g->buf, g->img_len + STACK_SIZE, &o, &g->t), NTKD_OK);
    nk_dump *d = &g->t->d;
    uint64_t end = 0;
    for (size_t i = 0; i < d->nvranges; i++)
        if (d->vranges[i].va + d->vranges[i].size > end) end = d->vranges[i].va + d->vranges[i].size;
    g->sva = ((end + 0xfff) & ~0xfffull) + 0x100000;
    d->vranges = realloc(d->vranges, (d->nvranges + 1) * sizeof *d->vranges);
    assert_non_null(d->vranges);
    d->vranges[d->nvranges++] = (nk_vrange){.va = g->sva, .size = STACK_SIZE, .file_off = g->img_len};
    nk_sym_attach(g->t);
}

static void poke64(tgt *g, uint64_t va, uint64_t v)
{
    assert_true(va >= g->sva && va + 8 <= g->sva + STACK_SIZE);
    uint8_t *p = g->buf + g->img_len + (va - g->sva);
    for (int i = 0; i < 8; i++) p[i] = (uint8_t)(v >> (8 * i));
}

static bool built_state_ok(void)
{
    static int st;
    if (st) return st > 0;
    st = -1;
    if (!have_tool("clang-cl-14") || !have_tool("lld-link-14") || !have_tool("llvm-objdump-14") || !have_tool("python3"))
        return false;
    mkdir(BUILD_DIR, 0755);
    write_file(BUILD_DIR "/p.c", prog_c);
    write_file(BUILD_DIR "/layout.py", layout_py);
    assert_int_equal(system("cd " BUILD_DIR " && clang-cl-14 --target=aarch64-pc-windows-msvc /O2 /GS- /Z7 -c p.c /Fop.obj >/dev/null 2>&1 && "
                            "lld-link-14 /machine:arm64 /nodefaultlib /entry:mainCRTStartup /subsystem:console /debug /out:p.exe p.obj >/dev/null 2>&1"), 0);
    st = 1;
    return true;
}

/* Runs the chain with the innermost frame `stop` instructions into its prolog (-1: after);
 * epi 1: the innermost frame at the first instruction of its epilog, 2: at its ret (with the
 * state the epilog left: caller's registers, lr the return address, sp restored). */
static void run_chain_e(int stop, int epi)
{
    tgt g;
    open_img(&g, BUILD_DIR "/p.exe");
    char cmd[256];
    snprintf(cmd, sizeof cmd, "python3 " BUILD_DIR "/layout.py " BUILD_DIR "/p.exe %llx %d > " BUILD_DIR "/layout.txt",
             (unsigned long long)(g.sva + 0x8000), stop);
    unsigned long long xs = 0, xr = 0;
    assert_int_equal(system(cmd), 0);
    FILE *f = fopen(BUILD_DIR "/layout.txt", "r");
    assert_non_null(f);
    char line[512];
    unsigned long long fr[16][13];
    size_t nf = 0;
    nk_uregs r;
    memset(&r, 0, sizeof r);
    r.arch = NK_ARCH_ARM64;
    while (fgets(line, sizeof line, f)) {
        unsigned long long v[14];
        char *p = line + 2;
        int k = 0;
        while (k < 14) {
            char *e;
            v[k] = strtoull(p, &e, 16);
            if (e == p) break;
            p = e;
            k++;
        }
        if (line[0] == 'M' && k == 2) poke64(&g, v[0], v[1]);
        else if (line[0] == 'X' && k == 2) { xs = v[0]; xr = v[1]; }
        else if (line[0] == 'R' && k == 14) {
            r.r[NK_UR_A64_PC] = v[0]; r.r[NK_UR_A64_SP] = v[1];
            for (int i = 19; i <= 30; i++) r.r[i] = v[2 + i - 19];
            r.valid = (1ull << NK_UR_A64_PC) | (1ull << NK_UR_A64_SP);
            for (int i = 19; i <= 30; i++) r.valid |= 1ull << i;
        } else if (line[0] == 'F' && k == 13 && nf < 16) {
            memcpy(fr[nf], v, sizeof fr[0]);
            nf++;
        }
    }
    fclose(f);
    assert_int_equal(nf, 4); /* leaf3, mid2, top1, mainCRTStartup */
    assert_int_equal(r.r[NK_UR_A64_PC], fr[0][0]);
    if (epi == 1) {
        assert_true(xs > fr[0][0] && xr > xs);
        r.r[NK_UR_A64_PC] = xs;
        r.r[NK_UR_A64_LR] = 0x5a5a5a5a; /* clobbered by the body */
    } else if (epi == 2) {
        r.r[NK_UR_A64_PC] = xr;
        r.r[NK_UR_A64_SP] = fr[1][1];
        r.r[NK_UR_A64_LR] = fr[1][0];
        for (int k = 19; k <= 29; k++) r.r[k] = fr[1][2 + k - 19];
    }
    for (size_t i = 1; i < nf; i++) {
        nk_frame_how how;
        char note[128];
        nk_status st = nk_step_arm64(g.t, &r, &how, note, sizeof note);
        if (st != NTKD_OK) fail_msg("stop %d step %zu: %s (%s)", stop, i, nk_status_name(st), note);
        assert_int_equal(how, NK_FH_UNWIND);
        if (r.r[NK_UR_A64_PC] != fr[i][0] || r.r[NK_UR_A64_SP] != fr[i][1])
            fail_msg("stop %d frame %zu: pc %llx sp %llx, expected %llx %llx", stop, i,
                     (unsigned long long)r.r[NK_UR_A64_PC], (unsigned long long)r.r[NK_UR_A64_SP], fr[i][0], fr[i][1]);
        for (int k = 19; k <= 29; k++) {
            if (!(r.valid & (1ull << k))) fail_msg("frame %zu: x%d lost", i, k);
            if (r.r[k] != fr[i][2 + k - 19])
                fail_msg("stop %d frame %zu: x%d = %llx, expected %llx", stop, i, k, (unsigned long long)r.r[k], fr[i][2 + k - 19]);
        }
    }
    /* mainCRTStartup returns to lr 0: the chain ends */
    nk_frame_how how;
    char note[128];
    nk_status st = nk_step_arm64(g.t, &r, &how, note, sizeof note);
    assert_true(st != NTKD_OK || r.r[NK_UR_A64_PC] == 0);
    ntkd_close(g.t);
    ntkd_ctx_free(g.ctx);
    free(g.buf);
}

static void run_chain(int stop) { run_chain_e(stop, 0); }

static void built_chain_epilog(void **state)
{
    (void)state;
    if (!built_state_ok()) { skip(); return; }
    run_chain_e(-1, 1); /* innermost frame at its epilog's first instruction */
    run_chain_e(-1, 2); /* at its ret: sp already restored, must not be restored twice */
}

static void built_chain(void **state)
{
    (void)state;
    if (!built_state_ok()) { skip(); return; }
    run_chain(-1); /* after the innermost prolog */
}

static void built_chain_in_prolog(void **state)
{
    (void)state;
    if (!built_state_ok()) { skip(); return; }
    run_chain(0); /* at the innermost function's first instruction: return to lr */
    run_chain(1); /* after its first prolog instruction */
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(triage_fp_chain),
        cmocka_unit_test(built_chain),
        cmocka_unit_test(built_chain_in_prolog),
        cmocka_unit_test(built_chain_epilog),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
