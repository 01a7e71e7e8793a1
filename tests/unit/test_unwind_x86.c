/* test_unwind_x86.c: x86 unwinding (nk_step_x86) over stacks laid out in memory.
 *
 * 1. A program built here with clang-cl-14 (i686, /O2 /Oy: no frame pointers, so the PDB
 *    carries FrameData programs) and lld-link-14 /DEBUG. A Python script reads the program's
 *    disassembly (llvm-objdump-14, an independent oracle) and, following the call chain from
 *    the entry point, tracks the stack depth of every call site (push/pop/sub/add esp); it
 *    lays out the stack those calls build and prints the expected (eip, esp) of every frame.
 *    The image is opened as a target with the stack appended as a virtual range, and the
 *    unwind must return exactly that chain.
 * 2. The EBP chain over a laid-out chain of frames (pc in no module).
 * 3. FPO: the records llvm-pdbutil-14 dumps for the seh x86 fixtures' PDBs.
 * 4. The seh x86 fixture's FrameData program ("$T0 $ebp = ...": an ebp frame). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>

#include "code/unwind.h"
#include "dump/dump.h"
#include "mem/mem.h"
#include "sym/sym.h"
#include "pdb/pdb.h"

#define BUILD_DIR "unwind_x86_build"
#define SEH NTKD_CORPUS "/pdb-fixtures/seh/x86"
#define STACK_SIZE 0x10000u
#define DSYMS NTKD_CORPUS "/pdb-fixtures/dump_syms"
#define STACK_VA (g.sva)

typedef struct tgt {
    ntkd_ctx *ctx;
    ntkd_target *t;
    uint8_t *buf;
    size_t img_len;
    uint32_t sva; /* where the laid-out stack is mapped: above every range of the image */
} tgt;

static uint8_t *read_all(const char *path, size_t *len)
{
    FILE *f = fopen(path, "rb");
    if (!f) return NULL;
    fseek(f, 0, SEEK_END);
    long n = ftell(f);
    fseek(f, 0, SEEK_SET);
    uint8_t *b = malloc((size_t)n + STACK_SIZE);
    if (b && fread(b, 1, (size_t)n, f) != (size_t)n) { free(b); b = NULL; }
    fclose(f);
    *len = (size_t)n;
    return b;
}

/* Opens the image as a target and maps STACK_SIZE zero bytes at STACK_VA. */
static void open_img(tgt *g, const char *exe, const char *sympath)
{
    memset(g, 0, sizeof *g);
    g->buf = read_all(exe, &g->img_len);
    assert_non_null(g->buf);
    memset(g->buf + g->img_len, 0, STACK_SIZE);
    g->ctx = ntkd_ctx_new();
    ntkd_open_opts o = {.sympath = sympath};
    assert_int_equal(ntkd_open_mem(g->ctx, "img.exe", g->buf, g->img_len + STACK_SIZE, &o, &g->t), NTKD_OK);
    nk_dump *d = &g->t->d;
    uint64_t end = 0;
    for (size_t i = 0; i < d->nvranges; i++)
        if (d->vranges[i].va + d->vranges[i].size > end) end = d->vranges[i].va + d->vranges[i].size;
    g->sva = (uint32_t)(((end + 0xfff) & ~0xfffull) + 0x100000);
    d->vranges = realloc(d->vranges, (d->nvranges + 1) * sizeof *d->vranges);
    assert_non_null(d->vranges);
    d->vranges[d->nvranges++] = (nk_vrange){.va = g->sva, .size = STACK_SIZE, .file_off = g->img_len};
    nk_sym_attach(g->t);
}

static void close_img(tgt *g)
{
    ntkd_close(g->t);
    ntkd_ctx_free(g->ctx);
    free(g->buf);
}

static void poke(tgt *g, uint32_t va, uint32_t v)
{
    assert_true(va >= g->sva && va + 4 <= g->sva + STACK_SIZE);
    uint8_t *p = g->buf + g->img_len + (va - g->sva);
    p[0] = (uint8_t)v; p[1] = (uint8_t)(v >> 8); p[2] = (uint8_t)(v >> 16); p[3] = (uint8_t)(v >> 24);
}

static void regs_init(nk_uregs *r, uint32_t eip, uint32_t esp, uint32_t ebp)
{
    memset(r, 0, sizeof *r);
    r->arch = NK_ARCH_X86;
    r->r[NK_UR_X86_EIP] = eip; r->r[4] = esp; r->r[5] = ebp;
    r->valid = (1ull << NK_UR_X86_EIP) | (1ull << 4) | (1ull << 5);
}

static bool have_tool(const char *name)
{
    char cmd[256];
    snprintf(cmd, sizeof cmd, "command -v %s >/dev/null 2>&1", name);
    return system(cmd) == 0;
}

static const char prog_c[] =
    "volatile int sink;\n"
    "__declspec(noinline) int leaf3(int a, int b) { volatile int buf[8]; for (int i = 0; i < 8; i++) buf[i] = a * i + b; sink = buf[3]; return buf[5] + a; }\n"
    "__declspec(noinline) int mid2(int a) { int r = 0; for (int i = 0; i < a; i++) r += leaf3(i, a) * 3; return r + 1; }\n"
    "__declspec(noinline) int top1(int a, int b, int c) { int x = mid2(a + b); sink = x; return x + c + mid2(c); }\n"
    "int mainCRTStartup(void) { return top1(1, 2, 3); }\n";

/* The oracle: from the disassembly alone, follow the first call of each function from the
 * entry point down to the innermost function (one without calls), stop there a few
 * instructions past its stack allocation, and lay out the stack. Prints
 *   F <eip> <esp>     expected frames, innermost first
 *   M <addr> <value>  memory words to write
 *   R <eip> <esp>     the starting registers */
static const char layout_py[] =
    "import re, subprocess, sys\n"
    "exe, top = sys.argv[1], int(sys.argv[2], 16)\n"
    "hdr = subprocess.run(['llvm-objdump-14', '-f', exe], capture_output=True, text=True).stdout\n"
    "entry = int(re.search(r'start address: 0x([0-9a-f]+)', hdr).group(1), 16)\n"
    "pe = subprocess.run(['llvm-objdump-14', '-p', exe], capture_output=True, text=True).stdout\n"
    "base = int(re.search(r'ImageBase\\s+([0-9a-fA-F]+)', pe).group(1), 16)\n"
    "if entry < base: entry += base\n"
    "dis = subprocess.run(['llvm-objdump-14', '-d', '--no-show-raw-insn', '--x86-asm-syntax=intel', exe], capture_output=True, text=True).stdout\n"
    "ins = []\n"
    "for l in dis.splitlines():\n"
    "    m = re.match(r'\\s*([0-9a-f]+):\\s+(\\S+)\\s*(.*)', l)\n"
    "    if m: ins.append((int(m.group(1), 16), m.group(2), m.group(3).strip()))\n"
    "idx = {a: i for i, (a, _, _) in enumerate(ins)}\n"
    "def delta(op, arg):\n"
    "    if op == 'push': return 4\n"
    "    if op == 'pop': return -4\n"
    "    m = re.match(r'(sub|add)\\s+esp, (\\d+)$', op + ' ' + arg)\n"
    "    if m: return int(m.group(2)) * (1 if m.group(1) == 'sub' else -1)\n"
    "    return 0\n"
    "def walk(fn):\n"
    "    # returns (call address, next address, depth at the call, target) or the leaf stop\n"
    "    d, i = 0, idx[fn]\n"
    "    allocated = False\n"
    "    n_after = 0\n"
    "    while True:\n"
    "        a, op, arg = ins[i]\n"
    "        if op == 'call':\n"
    "            return ('call', a, ins[i + 1][0], d, int(arg.split()[0], 16))\n"
    "        if op == 'ret': raise SystemExit('no stop point in %x' % fn)\n"
    "        if allocated:\n"
    "            n_after += 1\n"
    "            if n_after == 3: return ('stop', a, None, d, None)\n"
    "        d += delta(op, arg)\n"
    "        if op == 'sub' and arg.startswith('esp'): allocated = True\n"
    "        i += 1\n"
    "esp_entry = top  # esp at the entry of the entry point (its return address is at top)\n"
    "print('M %x 0' % top)\n"
    "frames = []\n"
    "fn = entry\n"
    "while True:\n"
    "    kind, a, nxt, d, tgt = walk(fn)\n"
    "    if kind == 'stop':\n"
    "        frames.append((a, esp_entry - d)); break\n"
    "    frames.append((a, esp_entry - d))\n"
    "    ra_slot = esp_entry - d - 4\n"
    "    print('M %x %x' % (ra_slot, nxt))\n"
    "    esp_entry = ra_slot\n"
    "    fn = tgt\n"
    "print('R %x %x' % frames[-1])\n"
    "# after a return, the caller's eip is the address after its call\n"
    "for k in range(len(frames) - 1, -1, -1):\n"
    "    a, esp = frames[k]\n"
    "    if k == len(frames) - 1: print('F %x %x' % (a, esp))\n"
    "    else: print('F %x %x' % (ins[idx[a] + 1][0], esp))\n"
    "print('F 0 %x' % (top + 4))\n";

static void write_file(const char *path, const char *text)
{
    FILE *f = fopen(path, "w");
    assert_non_null(f);
    fputs(text, f);
    fclose(f);
}

static void built_chain(void **state)
{
    (void)state;
    if (!have_tool("clang-cl-14") || !have_tool("lld-link-14") || !have_tool("llvm-objdump-14") ||
        !have_tool("python3") || !have_tool("llvm-pdbutil-14")) {
        skip();
        return;
    }
    mkdir(BUILD_DIR, 0755);
    write_file(BUILD_DIR "/p.c", prog_c);
    write_file(BUILD_DIR "/layout.py", layout_py);
    assert_int_equal(system("cd " BUILD_DIR " && clang-cl-14 --target=i686-pc-windows-msvc /O2 /Oy /GS- /Z7 -c p.c /Fop.obj >/dev/null 2>&1 && "
                            "lld-link-14 /nodefaultlib /entry:mainCRTStartup /subsystem:console /debug /out:p.exe p.obj >/dev/null 2>&1"), 0);
    /* the PDB has FrameData programs */
    assert_int_equal(system("llvm-pdbutil-14 dump -fpo " BUILD_DIR "/p.pdb | grep -q '\\$T0 .raSearch ='"), 0);
    tgt g;
    open_img(&g, BUILD_DIR "/p.exe", BUILD_DIR);
    char cmd[256];
    snprintf(cmd, sizeof cmd, "python3 " BUILD_DIR "/layout.py " BUILD_DIR "/p.exe %x > " BUILD_DIR "/layout.txt", STACK_VA + 0x8000);
    assert_int_equal(system(cmd), 0);
    FILE *f = fopen(BUILD_DIR "/layout.txt", "r");
    assert_non_null(f);
    char line[128];
    uint32_t fe[16], fs[16];
    size_t nf = 0;
    uint32_t r_eip = 0, r_esp = 0;
    while (fgets(line, sizeof line, f)) {
        unsigned a, b;
        if (sscanf(line + 2, "%x %x", &a, &b) != 2) continue;
        if (line[0] == 'M') poke(&g, a, b);
        else if (line[0] == 'R') { r_eip = a; r_esp = b; }
        else if (line[0] == 'F' && nf < 16) { fe[nf] = a; fs[nf] = b; nf++; }
    }
    fclose(f);
    assert_true(nf >= 4); /* leaf3, mid2, top1, mainCRTStartup, then the end */
    nk_uregs r;
    regs_init(&r, r_eip, r_esp, 0x12345678u); /* ebp holds garbage: /Oy code does not use it */
    assert_int_equal((uint32_t)r.r[NK_UR_X86_EIP], fe[0]);
    assert_int_equal((uint32_t)r.r[4], fs[0]);
    for (size_t i = 1; i < nf; i++) {
        nk_frame_how how;
        char note[128];
        nk_status st = nk_step_x86(g.t, &r, &how, note, sizeof note);
        if (st != NTKD_OK) fail_msg("step %zu: %s (%s)", i, nk_status_name(st), note);
        assert_int_equal(how, NK_FH_FRAMEDATA);
        assert_int_equal((uint32_t)r.r[NK_UR_X86_EIP], fe[i]);
        assert_int_equal((uint32_t)r.r[4], fs[i]);
    }
    close_img(&g);
}

/* EBP chain: three frames, pc outside every module. */
static void ebp_chain(void **state)
{
    (void)state;
    tgt g;
    open_img(&g, SEH "/xcpt4.exe", SEH);
    uint32_t e1 = STACK_VA + 0x100, e2 = STACK_VA + 0x180, e3 = STACK_VA + 0x200;
    poke(&g, e1, e2); poke(&g, e1 + 4, 0x11111111u);
    poke(&g, e2, e3); poke(&g, e2 + 4, 0x22222222u);
    poke(&g, e3, 0);  poke(&g, e3 + 4, 0x33333333u);
    nk_uregs r;
    regs_init(&r, 0x10000000u, STACK_VA + 0xf0, e1);
    nk_frame_how how;
    char note[128];
    const uint32_t want_eip[3] = {0x11111111u, 0x22222222u, 0x33333333u};
    const uint32_t want_esp[3] = {e1 + 8, e2 + 8, e3 + 8};
    const uint32_t want_ebp[3] = {e2, e3, 0};
    for (int i = 0; i < 3; i++) {
        assert_int_equal(nk_step_x86(g.t, &r, &how, note, sizeof note), NTKD_OK);
        assert_int_equal(how, NK_FH_EBP);
        assert_int_equal(r.r[NK_UR_X86_EIP], want_eip[i]);
        assert_int_equal(r.r[4], want_esp[i]);
        assert_int_equal(r.r[5], want_ebp[i]);
    }
    /* ebp 0 ends the chain with a reason */
    assert_int_equal(nk_step_x86(g.t, &r, &how, note, sizeof note), NTKD_E_NOTFOUND);
    assert_non_null(strstr(note, "ebp is 0"));
    /* an ebp outside the dump: not present, said so */
    regs_init(&r, 0x10000000u, 0x100, 0x7000);
    assert_int_equal(nk_step_x86(g.t, &r, &how, note, sizeof note), NTKD_E_NOTPRESENT);
    assert_non_null(strstr(note, "not in the dump"));
    close_img(&g);
}

/* FPO records of basic32.pdb as Breakpad's dump_syms (through DIA) wrote them in basic32.sym
 * ("STACK WIN 0" lines), for the ranges no FrameData record ("STACK WIN 4") covers, since
 * FrameData is preferred where both exist: with eip just past the prolog, the return address
 * sits at esp + locals + saved registers and the caller's esp is just above it. Where DIA
 * says the function allocates ebp, the caller's ebp is read from the saved-register area,
 * 8 bytes below its top (Breakpad's documented rule for MSVC frames). */
static void fpo_records(void **state)
{
    (void)state;
    FILE *f = fopen(DSYMS "/basic32.sym", "r");
    assert_non_null(f);
    static unsigned w0[4096][9];
    unsigned w4s[8192], w4n[8192];
    size_t n0 = 0, n4 = 0;
    char line[2048];
    while (fgets(line, sizeof line, f)) {
        unsigned v[11];
        int type;
        if (sscanf(line, "STACK WIN %d %x %x %x %x %x %x %x %x %x %x", &type, &v[0], &v[1], &v[2], &v[3],
                   &v[4], &v[5], &v[6], &v[7], &v[8], &v[9]) < 10) continue;
        if (type == 4 && n4 < 8192) { w4s[n4] = v[0]; w4n[n4] = v[1]; n4++; }
        /* rva size prolog epilog params saved locals maxstack has_program allocates_bp */
        if (type == 0 && n0 < 4096 && v[8] == 0) memcpy(w0[n0++], v, sizeof w0[0]), w0[n0 - 1][8] = v[9];
    }
    fclose(f);
    tgt g;
    open_img(&g, DSYMS "/basic32.dll", DSYMS);
    uint32_t base = (uint32_t)g.t->d.modules[0].base;
    size_t checked = 0, with_bp = 0;
    for (size_t i = 0; i < n0; i++) {
        unsigned rva = w0[i][0], size = w0[i][1], prolog = w0[i][2], saved = w0[i][5], locals = w0[i][6];
        bool abp = w0[i][8] != 0;
        if (size <= prolog) continue;
        bool covered = false;
        for (size_t k = 0; k < n4 && !covered; k++) covered = rva >= w4s[k] && rva < w4s[k] + w4n[k];
        if (covered) continue;
        uint32_t pc = base + rva + prolog;   /* just past the prolog */
        uint32_t esp = STACK_VA + 0x400;
        uint32_t ra_at = esp + locals + saved;
        poke(&g, ra_at, 0x0c0ffee0u + (uint32_t)checked);
        bool bp = abp && saved;
        /* the caller's ebp: where the function's code saved it. A function whose first
         * instruction is push ebp (0x55) keeps it in the highest saved slot, just below the
         * return address; otherwise the slot MSVC's usual push order gives (8 below the top of
         * the saved-register area, 4 with one register). The other saved slots get a decoy. */
        uint8_t op = 0;
        size_t got = 0;
        nk_read_virt(g.t, base + rva, &op, 1, &got);
        uint32_t ebp_at = got == 1 && op == 0x55 ? ra_at - 4
                                                 : esp + saved - (saved >= 8 ? 8 : 4);
        if (bp) {
            for (uint32_t a = esp; a < esp + saved; a += 4) poke(&g, a, 0x11111111u);
            poke(&g, ebp_at, 0x0ebbebb0u);
        }
        nk_uregs r;
        regs_init(&r, pc, esp, 0x5555);
        nk_frame_how how;
        char note[128];
        nk_status st = nk_step_x86(g.t, &r, &how, note, sizeof note);
        if (st != NTKD_OK) fail_msg("FPO %x: %s", rva, note);
        assert_int_equal(how, NK_FH_FPO);
        assert_int_equal(r.r[NK_UR_X86_EIP], 0x0c0ffee0u + (uint32_t)checked);
        assert_int_equal(r.r[4], ra_at + 4);
        if (bp) assert_int_equal(r.r[5], 0x0ebbebb0u);
        poke(&g, ra_at, 0);
        if (bp) {
            for (uint32_t a = esp; a < esp + saved; a += 4) poke(&g, a, 0);
            with_bp++;
        }
        checked++;
    }
    assert_true(checked >= 10);
    assert_true(with_bp >= 1);
    close_img(&g);
}

/* xframe_eh_exe.pdb's FrameData record "$T0 $ebp = $eip $T0 4 + ^ = $ebp $T0 ^ = $esp $T0 8 + =" */
static void seh_framedata(void **state)
{
    (void)state;
    if (!have_tool("llvm-pdbutil-14")) { skip(); return; }
    static const char *const names[] = {"nested_collided", "xcpt4", "xframe_eh_exe"};
    size_t done = 0;
    for (size_t k = 0; k < 3; k++) {
        char cmd[512], exe[512], line[512];
        snprintf(cmd, sizeof cmd, "llvm-pdbutil-14 dump -fpo " SEH "/%s.pdb", names[k]);
        snprintf(exe, sizeof exe, SEH "/%s.exe", names[k]);
        FILE *p = popen(cmd, "r");
        assert_non_null(p);
        tgt g;
        open_img(&g, exe, SEH);
        uint32_t base = (uint32_t)g.t->d.modules[0].base;
        static unsigned starts[4096];
        static char lines[4096][400];
        size_t nl = 0;
        while (fgets(line, sizeof line, p) && nl < 4096) {
            unsigned rva, code;
            if (sscanf(line, "%x | %u |", &rva, &code) != 2) continue;
            starts[nl] = rva;
            snprintf(lines[nl++], sizeof lines[0], "%.390s", line);
        }
        for (size_t li = 0; li < nl; li++) {
            unsigned rva, code, locals, params, stk, prolog;
            if (sscanf(lines[li], "%x | %u | %u | %u | %u | %u |", &rva, &code, &locals, &params, &stk, &prolog) != 6) continue;
            if (!strstr(lines[li], "| $T0 $ebp = $eip $T0 4 + ^ = $ebp $T0 ^ = $esp $T0 8 + =")) continue;
            if (prolog >= code) continue;
            bool inner = false;
            for (size_t k = 0; k < nl; k++) inner |= starts[k] > rva && starts[k] <= rva + prolog;
            if (inner) continue;
            uint32_t ebp = STACK_VA + 0x800;
            poke(&g, ebp, STACK_VA + 0x900);
            poke(&g, ebp + 4, 0x00401234u);
            nk_uregs r;
            regs_init(&r, base + rva + prolog, STACK_VA + 0x700, ebp);
            nk_frame_how how;
            char note[128];
            nk_status st = nk_step_x86(g.t, &r, &how, note, sizeof note);
            if (st != NTKD_OK) fail_msg("%s +%x: %s", names[k], rva, note);
            assert_int_equal(how, NK_FH_FRAMEDATA);
            if (r.r[NK_UR_X86_EIP] != 0x00401234u) fail_msg("%s +%x: eip %llx esp %llx ebp %llx base %x", names[k], rva, (unsigned long long)r.r[8], (unsigned long long)r.r[4], (unsigned long long)r.r[5], base);
            assert_int_equal(r.r[4], ebp + 8);
            assert_int_equal(r.r[5], STACK_VA + 0x900);
            done++;
        }
        pclose(p);
        close_img(&g);
    }
    assert_true(done >= 1);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(built_chain),
        cmocka_unit_test(ebp_chain),
        cmocka_unit_test(fpo_records),
        cmocka_unit_test(seh_framedata),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
