/* test_pe.c: the PE image reader against independent oracles run at test time.
 *
 * Oracles: llvm-readobj-14 and llvm-objdump-14 (headers, sections, exports, debug directory,
 * resources, x64 and ARM64 unwind data), llvm-pdbutil-14 (the PDB's GUID), `strings -el`
 * (version strings), the symbol-store directory names, the instruction bytes of the images
 * (prolog and epilog instructions the unwind codes describe), and the sources of small
 * Windows programs this test builds with clang-14 / lld-link-14 / llvm-rc-14 in the build
 * directory. No oracle output is stored in the repository.
 *
 * Known oracle quirks the comparisons allow for (each checked narrowly):
 *   - llvm-objdump-14 prints UOP_AllocLarge's short form as the raw slot (size / 8), omits the
 *     register number of UOP_SaveXMM128Big, and prints UOP_PushMachFrame's error-code form
 *     inverted ("w/o error code" for operation info 1).
 *   - llvm-readobj-14 prints 0xfc (pac_sign_lr) as "Bad opcode!", stops a code listing at
 *     end_c, treats packed CR=2 (chained, signed return address) as unchained, and prints the
 *     homing stores (x0-x7) of packed entries as stores where the unwind codes are nops.
 *   - LLVM 14 aborts on the version-2 unwind data of amdppm.sys and Wdf01000.sys: there the
 *     unwind codes are checked against the prolog and epilog instruction bytes instead.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <ctype.h>
#include <dirent.h>
#include <glob.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "image/pe.h"

#define CORPUS NTKD_CORPUS
#define BUILD_DIR "pe_build"

/* ---- helpers -------------------------------------------------------------------------- */

/* Runs a shell command and returns its standard output (malloc'ed), or NULL when it fails. */
static char *run(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static char *run(const char *fmt, ...)
{
    char cmd[4096];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(cmd, sizeof cmd, fmt, ap);
    va_end(ap);
    FILE *p = popen(cmd, "r");
    if (!p) return NULL;
    size_t cap = 1 << 16, len = 0;
    char *buf = malloc(cap);
    size_t n;
    while (buf && (n = fread(buf + len, 1, cap - len - 1, p)) > 0) {
        len += n;
        if (cap - len < 4096) {
            cap *= 2;
            char *nb = realloc(buf, cap);
            if (!nb) {
                free(buf);
                buf = NULL;
            } else {
                buf = nb;
            }
        }
    }
    int rc = pclose(p);
    if (!buf) return NULL;
    buf[len] = 0;
    if (rc != 0) {
        free(buf);
        return NULL;
    }
    return buf;
}

static bool have_tool(const char *name)
{
    char cmd[256];
    snprintf(cmd, sizeof cmd, "command -v %s >/dev/null 2>&1", name);
    return system(cmd) == 0;
}

static bool have_llvm(void) { return have_tool("llvm-readobj-14") && have_tool("llvm-objdump-14"); }

/* Line iteration over a text buffer (modifies it). */
typedef struct lines {
    char **v;
    size_t n;
} lines;

static lines split_lines(char *text)
{
    lines L = {0};
    size_t cap = 0;
    for (char *s = text; s && *s;) {
        char *e = strchr(s, '\n');
        if (e) *e = 0;
        if (L.n == cap) {
            cap = cap ? cap * 2 : 256;
            L.v = realloc(L.v, cap * sizeof *L.v);
            assert_non_null(L.v);
        }
        L.v[L.n++] = s;
        s = e ? e + 1 : NULL;
    }
    return L;
}

static const char *skip_ws(const char *s)
{
    while (*s == ' ' || *s == '\t') s++;
    return s;
}

/* "  Key: value" → value, when the trimmed line starts with key. */
static const char *field(const char *line, const char *key)
{
    const char *s = skip_ws(line);
    size_t n = strlen(key);
    if (strncmp(s, key, n) != 0) return NULL;
    return skip_ws(s + n);
}

/* The number in "(0x1234)" or "0x1234" or "1234" at the start of s. */
static unsigned long long num(const char *s)
{
    s = skip_ws(s);
    if (*s == '(') s++;
    return strtoull(s, NULL, 0);
}

/* The number inside the first "(0x...)" of s. */
static unsigned long long paren_num(const char *s)
{
    const char *p = strstr(s, "(0x");
    return p ? strtoull(p + 1, NULL, 16) : 0;
}

typedef struct image_list {
    char *path[64];
    size_t n;
} image_list;

static void add_glob(image_list *L, const char *pattern)
{
    glob_t g;
    if (glob(pattern, 0, NULL, &g) != 0) return;
    for (size_t i = 0; i < g.gl_pathc && L->n < 64; i++) L->path[L->n++] = strdup(g.gl_pathv[i]);
    globfree(&g);
}

/* Every real image of the corpus: the SEH fixtures, the dump_syms fixtures, the symstore
 * images. */
static image_list corpus_images(void)
{
    image_list L = {0};
    add_glob(&L, CORPUS "/pdb-fixtures/seh/*/*.exe");
    add_glob(&L, CORPUS "/pdb-fixtures/seh/*/*.dll");
    add_glob(&L, CORPUS "/pdb-fixtures/dump_syms/*.dll");
    add_glob(&L, CORPUS "/pdb-fixtures/dump_syms/*.exe");
    add_glob(&L, CORPUS "/symstore/*.sys/*/*.sys");
    return L;
}

static void free_list(image_list *L)
{
    for (size_t i = 0; i < L->n; i++) free(L->path[i]);
    L->n = 0;
}

static nk_pe *open_pe(ntkd_ctx *ctx, const char *path)
{
    nk_pe *pe = NULL;
    nk_status st = nk_pe_open_file(ctx, path, &pe);
    if (st != NTKD_OK) fail_msg("%s: %s", path, ntkd_ctx_error(ctx));
    return pe;
}

/* ---- test programs built at test time ------------------------------------------------- */

static const char prog_c[] =
    "int _fltused;\n"
    "int __C_specific_handler(void *a, void *b, void *c, void *d) { (void)a; (void)b; (void)c; (void)d; return 1; }\n"
    "void __chkstk(void) {}\n"
    "__declspec(noinline) int leaf(int x) { return x * 3; }\n"
    "__declspec(noinline) int big(int n) { volatile char buf[70000]; buf[n] = 1; return buf[n / 2]; }\n"
    "__declspec(noinline) int huge(int n) { volatile char buf[600000]; buf[n] = 1; return buf[n / 3]; }\n"
    "__declspec(noinline) double fp(double *v, int n) { double s = 0, t = 1, u = 2, w = 3;\n"
    "  for (int i = 0; i < n; i++) { s += v[i] * t; t *= u + v[i]; u = w - v[i] * s; w += u * t; }\n"
    "  return s + t + u + w; }\n"
    "__declspec(noinline) int seh(volatile int *p) { int r = 0; __try { r = *p; } __except (1) { r = -1; } return r; }\n"
    "__declspec(noinline) int withfp(int n) { volatile char *b = __builtin_alloca(n); b[0] = 1; return b[n - 1] + leaf(n); }\n"
    "__declspec(dllexport) int exported(int a) { return leaf(a) + big(a) + huge(a) + (int)fp(0, a) + seh(&a) + withfp(a); }\n"
    "int mainCRTStartup(void) { return exported(3); }\n";

/* x64 assembly with every unwind operation LLVM can emit, a handler with data, a chained
 * entry, and both machine-frame forms. */
static const char prog_x64_s[] =
    "\t.text\n"
    "\t.globl f_frame\n\t.def f_frame; .scl 2; .type 32; .endef\n\t.seh_proc f_frame\nf_frame:\n"
    "\tpushq %rbp\n\t.seh_pushreg %rbp\n\tpushq %rbx\n\t.seh_pushreg %rbx\n"
    "\tsubq $0x100000, %rsp\n\t.seh_stackalloc 0x100000\n"
    "\tmovq %rsi, 0x90000(%rsp)\n\t.seh_savereg %rsi, 0x90000\n"
    "\tmovq %rdi, 0x80(%rsp)\n\t.seh_savereg %rdi, 0x80\n"
    "\tmovaps %xmm6, 0x100(%rsp)\n\t.seh_savexmm %xmm6, 0x100\n"
    "\tmovaps %xmm15, 0xa0000(%rsp)\n\t.seh_savexmm %xmm15, 0xa0000\n"
    "\tleaq 0x40(%rsp), %rbp\n\t.seh_setframe %rbp, 0x40\n\t.seh_endprologue\n"
    "\tcall f_mach\n\tleaq -0x40(%rbp), %rsp\n\taddq $0x100000, %rsp\n\tpopq %rbx\n\tpopq %rbp\n\tretq\n"
    "\t.seh_handler __C_specific_handler, @unwind, @except\n\t.seh_handlerdata\n\t.long 2\n\t.long 0x12345678\n"
    "\t.text\n\t.seh_endproc\n"
    "\t.globl f_mach\n\t.def f_mach; .scl 2; .type 32; .endef\n\t.seh_proc f_mach\nf_mach:\n"
    "\t.seh_pushframe @code\n\tpushq %rax\n\t.seh_pushreg %rax\n\tsubq $136, %rsp\n\t.seh_stackalloc 136\n"
    "\t.seh_endprologue\n\tcall f_chain\n\taddq $136, %rsp\n\tpopq %rax\n\tretq\n\t.seh_endproc\n"
    "\t.globl f_chain\n\t.def f_chain; .scl 2; .type 32; .endef\n\t.seh_proc f_chain\nf_chain:\n"
    "\tpushq %r12\n\t.seh_pushreg %r12\n\tsubq $32, %rsp\n\t.seh_stackalloc 32\n\t.seh_endprologue\n\tnop\n"
    "\t.seh_startchained\n\tmovq %r13, 16(%rsp)\n\t.seh_savereg %r13, 16\n\t.seh_endprologue\n\tnop\n\t.seh_endchained\n"
    "\taddq $32, %rsp\n\tpopq %r12\n\tretq\n\t.seh_endproc\n"
    "\t.globl f_mach0\n\t.def f_mach0; .scl 2; .type 32; .endef\n\t.seh_proc f_mach0\nf_mach0:\n"
    "\t.seh_pushframe\n\t.seh_endprologue\n\tretq\n\t.seh_endproc\n";

/* ARM64 assembly: the unwind codes LLVM 14 can emit from directives. */
static const char prog_a64_s[] =
    "\t.text\n\t.globl g_all\n\t.p2align 2\n\t.def g_all; .scl 2; .type 32; .endef\n\t.seh_proc g_all\ng_all:\n"
    "\tstp x19, x20, [sp, #-96]!\n\t.seh_save_r19r20_x 96\n"
    "\tstp x21, x22, [sp, #16]\n\t.seh_save_next\n"
    "\tstp x23, x24, [sp, #32]\n\t.seh_save_regp x23, 32\n"
    "\tstr x25, [sp, #48]\n\t.seh_save_reg x25, 48\n"
    "\tstp x27, lr, [sp, #56]\n\t.seh_save_lrpair x27, 56\n"
    "\tstp d8, d9, [sp, #-32]!\n\t.seh_save_fregp_x d8, 32\n"
    "\tstp d10, d11, [sp, #16]\n\t.seh_save_fregp d10, 16\n"
    "\tstr d12, [sp, #-16]!\n\t.seh_save_freg_x d12, 16\n"
    "\tstr d13, [sp, #8]\n\t.seh_save_freg d13, 8\n"
    "\tstr x26, [sp, #-16]!\n\t.seh_save_reg_x x26, 16\n"
    "\tstp x29, x30, [sp, #-16]!\n\t.seh_save_fplr_x 16\n"
    "\tmov x29, sp\n\t.seh_set_fp\n"
    "\tsub sp, sp, #4095, lsl #12\n\t.seh_stackalloc 0xfff000\n"
    "\tsub sp, sp, #4000\n\t.seh_stackalloc 4000\n"
    "\tsub sp, sp, #32\n\t.seh_stackalloc 32\n"
    "\tstp x29, x30, [sp, #16]\n\t.seh_save_fplr 16\n"
    "\tadd x29, sp, #16\n\t.seh_add_fp 16\n"
    "\tnop\n\t.seh_nop\n\t.seh_endprologue\n"
    "\tbl g_tail\n"
    "\t.seh_startepilogue\n\tmov sp, x29\n\t.seh_set_fp\n\tldp x29, x30, [sp], #16\n\t.seh_save_fplr_x 16\n"
    "\t.seh_endepilogue\n\tret\n"
    "\t.seh_handler __C_specific_handler, @except\n\t.seh_handlerdata\n\t.word 7\n\t.text\n\t.seh_endproc\n"
    "\t.globl g_tail\n\t.p2align 2\n\t.def g_tail; .scl 2; .type 32; .endef\n\t.seh_proc g_tail\ng_tail:\n"
    "\t.seh_trap_frame\n\t.seh_pushframe\n\t.seh_context\n\t.seh_clear_unwound_to_call\n"
    "\tsub sp, sp, #16\n\t.seh_stackalloc 16\n\t.seh_endprologue\n\tadd sp, sp, #16\n\tret\n\t.seh_endproc\n";

/* ARM64 .pdata written by hand: packed entries covering the documented cases, and .xdata
 * records with codes LLVM does not emit (end_c, pac_sign_lr, save_any_reg). */
#define PK(flag, len, regf, regi, h, cr, fs) \
    "(" #flag " | (" #len " << 2) | (" #regf " << 13) | (" #regi " << 16) | (" #h " << 20) | (" #cr " << 21) | (" #fs " << 23))"
static const char prog_pdata_s[] =
    "\t.text\n\t.p2align 2\n"
    "\t.globl p0\np0:\t.fill 64, 4, 0xd503201f\n"
    "p1:\t.fill 64, 4, 0xd503201f\np2:\t.fill 64, 4, 0xd503201f\np3:\t.fill 64, 4, 0xd503201f\n"
    "p4:\t.fill 64, 4, 0xd503201f\np5:\t.fill 64, 4, 0xd503201f\np6:\t.fill 64, 4, 0xd503201f\n"
    "p7:\t.fill 64, 4, 0xd503201f\np8:\t.fill 64, 4, 0xd503201f\np9:\t.fill 64, 4, 0xd503201f\n"
    "x1:\t.fill 16, 4, 0xd503201f\nx2:\t.fill 16, 4, 0xd503201f\nx3:\t.fill 16, 4, 0xd503201f\n"
    "\t.section .pdata,\"dr\"\n\t.p2align 2\n"
    "\t.rva p0\n\t.long 0x416101ed\n"                              /* the documentation's example 1 */
    "\t.rva p1\n\t.long " PK(1, 20, 3, 4, 1, 1, 40) "\n"           /* CR=1, FP regs, homed params */
    "\t.rva p2\n\t.long " PK(2, 20, 0, 0, 1, 0, 8) "\n"            /* fragment, homed params only */
    "\t.rva p3\n\t.long " PK(1, 30, 1, 3, 0, 0, 300) "\n"          /* locals > 4080 */
    "\t.rva p4\n\t.long " PK(1, 30, 0, 2, 0, 3, 100) "\n"          /* chained, 512 < locals */
    "\t.rva p5\n\t.long " PK(1, 30, 0, 0, 0, 1, 4) "\n"            /* lr alone, pre-decremented */
    "\t.rva p6\n\t.long " PK(1, 30, 2, 0, 0, 3, 10) "\n"           /* FP pair first */
    "\t.rva p7\n\t.long " PK(1, 30, 0, 3, 0, 1, 6) "\n"            /* odd RegI with lr: save_lrpair */
    "\t.rva p8\n\t.long " PK(1, 30, 0, 0, 0, 0, 2) "\n"            /* locals only */
    "\t.rva p9\n\t.long " PK(1, 30, 0, 2, 0, 2, 4) "\n"            /* CR=2: pacibsp */
    "\t.rva x1\n\t.rva x1_xdata\n"
    "\t.rva x2\n\t.rva x2_xdata\n"
    "\t.rva x3\n\t.rva x3_xdata\n"
    "\t.section .xdata,\"dr\"\n\t.p2align 2\n"
    /* region with a phantom prolog: end_c, then the parent's codes */
    "x1_xdata:\n\t.long (16 | (1 << 27))\n\t.byte 0xe5, 0xe1, 0x81, 0xe4\n"
    /* signed return address and an Arm64EC q-register save */
    "x2_xdata:\n\t.long (16 | (2 << 27))\n\t.byte 0xe6, 0xe7, 0x66, 0x89, 0x81, 0xfc, 0xe4, 0xe3\n"
    /* extended header word: 2 epilog scopes, one code word, handler with data */
    "x3_xdata:\n\t.long (16 | (1 << 20))\n\t.long (2 | (1 << 16))\n"
    "\t.long (10 | (0 << 22))\n\t.long (12 | (1 << 22))\n"
    "\t.byte 0x81, 0x81, 0xe4, 0xe3\n\t.rva x3\n\t.long 0xfeedf00d\n";

static const char prog_dll_c[] =
    "__declspec(dllexport) int named_one(int a) { return a + 1; }\n"
    "int by_ordinal(int a) { return a * 2; }\n"
    "int __C_specific_handler(void *a, void *b, void *c, void *d) { (void)a; (void)b; (void)c; (void)d; return 1; }\n"
    "__declspec(noinline) int guarded(volatile int *p) { int r = 0; __try { r = *p; } __except (1) { r = -1; } return r; }\n"
    "__declspec(dllexport) int calls(int a) { return guarded(&a) + by_ordinal(a); }\n";

static const char prog_rc[] =
    "1 VERSIONINFO\nFILEVERSION 1,2,3,4\nPRODUCTVERSION 5,6,7,8\nFILEFLAGSMASK 0x3f\nFILEFLAGS 0x0\n"
    "FILEOS 0x40004\nFILETYPE 0x2\nFILESUBTYPE 0x0\nBEGIN\n  BLOCK \"StringFileInfo\"\n  BEGIN\n"
    "    BLOCK \"040904B0\"\n    BEGIN\n"
    "      VALUE \"CompanyName\", \"ntkd test company\"\n"
    "      VALUE \"FileDescription\", \"PE reader fixture\"\n"
    "      VALUE \"FileVersion\", \"1.2.3.4\"\n"
    "      VALUE \"ProductName\", \"ntkd\"\n"
    "      VALUE \"OriginalFilename\", \"pe_dll.dll\"\n"
    "    END\n  END\n  BLOCK \"VarFileInfo\"\n  BEGIN\n    VALUE \"Translation\", 0x409, 1200\n  END\nEND\n";

static void write_file(const char *path, const char *text)
{
    FILE *f = fopen(path, "w");
    assert_non_null(f);
    fputs(text, f);
    fclose(f);
}

static int built_state; /* 0 not tried, 1 built, -1 tools missing */

/* Builds the test programs once into BUILD_DIR. Returns false when the toolchain is not
 * installed (the tests that need them are then skipped). */
static bool build_programs(void)
{
    if (built_state) return built_state > 0;
    built_state = -1;
    if (!have_tool("clang-cl-14") || !have_tool("clang-14") || !have_tool("lld-link-14") || !have_tool("llvm-rc-14"))
        return false;
    mkdir(BUILD_DIR, 0755);
    write_file(BUILD_DIR "/prog.c", prog_c);
    write_file(BUILD_DIR "/x64.s", prog_x64_s);
    write_file(BUILD_DIR "/a64.s", prog_a64_s);
    write_file(BUILD_DIR "/pdata.s", prog_pdata_s);
    write_file(BUILD_DIR "/dll.c", prog_dll_c);
    write_file(BUILD_DIR "/ver.rc", prog_rc);
    static const char *const cmds[] = {
        "cd " BUILD_DIR " && clang-cl-14 --target=x86_64-pc-windows-msvc /O2 /GS- /Z7 -c prog.c /Foprog64.obj",
        "cd " BUILD_DIR " && clang-14 --target=x86_64-pc-windows-msvc -c x64.s -o x64s.obj",
        "cd " BUILD_DIR " && lld-link-14 /nodefaultlib /entry:mainCRTStartup /subsystem:console /debug "
        "/out:prog64.exe prog64.obj x64s.obj",
        "cd " BUILD_DIR " && clang-cl-14 --target=aarch64-pc-windows-msvc /O2 /GS- -c prog.c /Foproga64.obj",
        "cd " BUILD_DIR " && clang-14 --target=aarch64-pc-windows-msvc -c a64.s -o a64s.obj",
        "cd " BUILD_DIR " && clang-14 --target=aarch64-pc-windows-msvc -c pdata.s -o pdata.obj",
        "cd " BUILD_DIR " && lld-link-14 /machine:arm64 /nodefaultlib /entry:mainCRTStartup /subsystem:console "
        "/out:proga64.exe proga64.obj a64s.obj pdata.obj",
        "cd " BUILD_DIR " && llvm-rc-14 /fo ver.res ver.rc",
        "cd " BUILD_DIR " && clang-cl-14 --target=x86_64-pc-windows-msvc /O2 /GS- -c dll.c /Fodll.obj",
        "cd " BUILD_DIR " && lld-link-14 /dll /nodefaultlib /noentry /out:pe_dll.dll dll.obj ver.res "
        "/export:by_ordinal,@7,NONAME /export:fwd_sleep=kernel32.Sleep /export:fwd_ord=other.#12 "
        "/export:alias=named_one",
    };
    for (size_t i = 0; i < sizeof cmds / sizeof cmds[0]; i++) {
        char cmd[1024];
        snprintf(cmd, sizeof cmd, "(%s) >/dev/null 2>" BUILD_DIR "/build.log", cmds[i]);
        if (system(cmd) != 0) {
            char *log = run("cat " BUILD_DIR "/build.log");
            fail_msg("building the test programs failed: %s\n%s", cmds[i], log ? log : "");
        }
    }
    built_state = 1;
    return true;
}

static image_list built_images(void)
{
    image_list L = {0};
    if (!build_programs()) return L;
    L.path[L.n++] = strdup(BUILD_DIR "/prog64.exe");
    L.path[L.n++] = strdup(BUILD_DIR "/proga64.exe");
    L.path[L.n++] = strdup(BUILD_DIR "/pe_dll.dll");
    return L;
}

static image_list all_images(void)
{
    image_list L = corpus_images();
    image_list B = built_images();
    for (size_t i = 0; i < B.n && L.n < 64; i++) L.path[L.n++] = B.path[i];
    return L;
}

/* ---- headers and sections vs llvm-readobj / llvm-objdump ------------------------------ */

static const char *const dir_names[16] = {
    "ExportTable", "ImportTable", "ResourceTable", "ExceptionTable", "CertificateTable", "BaseRelocationTable",
    "Debug", "Architecture", "GlobalPtr", "TLSTable", "LoadConfigTable", "BoundImport", "IAT",
    "DelayImportDescriptor", "CLRRuntimeHeader", "Reserved",
};

static void check_headers(ntkd_ctx *ctx, const char *path)
{
    char *out = run("llvm-readobj-14 --file-headers --sections '%s'", path);
    assert_non_null(out);
    nk_pe *pe = open_pe(ctx, path);
    const nk_pe_headers *h = nk_pe_hdr(pe);
    lines L = split_lines(out);
    enum { NONE, FILEH, OPTH, DOSH, SECTION } blk = NONE;
    int sec = -1, checked = 0;
    const nk_pe_section *s = NULL;
#define EQ(got, want) do { assert_int_equal((got), (want)); checked++; } while (0)
    for (size_t i = 0; i < L.n; i++) {
        const char *ln = L.v[i], *v;
        if (strcmp(ln, "ImageFileHeader {") == 0) { blk = FILEH; continue; }
        if (strcmp(ln, "ImageOptionalHeader {") == 0) { blk = OPTH; continue; }
        if (strcmp(ln, "DOSHeader {") == 0) { blk = DOSH; continue; }
        if (strcmp(ln, "  Section {") == 0) {
            blk = SECTION;
            sec++;
            s = nk_pe_section_at(pe, (size_t)sec);
            assert_non_null(s);
            continue;
        }
        if (blk == FILEH) {
            if ((v = field(ln, "Machine:"))) EQ(paren_num(v), h->machine);
            else if ((v = field(ln, "SectionCount:"))) EQ(num(v), h->nsections);
            else if ((v = field(ln, "TimeDateStamp:"))) EQ(paren_num(v), h->timestamp);
            else if ((v = field(ln, "PointerToSymbolTable:"))) EQ(num(v), h->symtab_offset);
            else if ((v = field(ln, "SymbolCount:"))) EQ(num(v), h->nsymbols);
            else if ((v = field(ln, "OptionalHeaderSize:"))) EQ(num(v), h->opt_size);
            else if ((v = field(ln, "Characteristics ["))) EQ(paren_num(v), h->characteristics);
        } else if (blk == OPTH) {
            if ((v = field(ln, "Magic:"))) EQ(num(v), h->magic);
            else if ((v = field(ln, "MajorLinkerVersion:"))) EQ(num(v), h->linker_major);
            else if ((v = field(ln, "MinorLinkerVersion:"))) EQ(num(v), h->linker_minor);
            else if ((v = field(ln, "SizeOfCode:"))) EQ(num(v), h->size_of_code);
            else if ((v = field(ln, "AddressOfEntryPoint:"))) EQ(num(v), h->entry_rva);
            else if ((v = field(ln, "BaseOfCode:"))) EQ(num(v), h->base_of_code);
            else if ((v = field(ln, "ImageBase:"))) EQ(num(v), h->image_base);
            else if ((v = field(ln, "SectionAlignment:"))) EQ(num(v), h->section_align);
            else if ((v = field(ln, "FileAlignment:"))) EQ(num(v), h->file_align);
            else if ((v = field(ln, "MajorOperatingSystemVersion:"))) EQ(num(v), h->os_major);
            else if ((v = field(ln, "MinorOperatingSystemVersion:"))) EQ(num(v), h->os_minor);
            else if ((v = field(ln, "MajorImageVersion:"))) EQ(num(v), h->image_major);
            else if ((v = field(ln, "MinorImageVersion:"))) EQ(num(v), h->image_minor);
            else if ((v = field(ln, "MajorSubsystemVersion:"))) EQ(num(v), h->subsys_major);
            else if ((v = field(ln, "MinorSubsystemVersion:"))) EQ(num(v), h->subsys_minor);
            else if ((v = field(ln, "SizeOfImage:"))) EQ(num(v), h->size_of_image);
            else if ((v = field(ln, "SizeOfHeaders:"))) EQ(num(v), h->size_of_headers);
            else if ((v = field(ln, "Subsystem:"))) EQ(paren_num(v), h->subsystem);
            else if ((v = field(ln, "Characteristics ["))) EQ(paren_num(v), h->dll_characteristics);
            else if ((v = field(ln, "SizeOfStackReserve:"))) EQ(num(v), h->stack_reserve);
            else if ((v = field(ln, "SizeOfStackCommit:"))) EQ(num(v), h->stack_commit);
            else if ((v = field(ln, "SizeOfHeapReserve:"))) EQ(num(v), h->heap_reserve);
            else if ((v = field(ln, "SizeOfHeapCommit:"))) EQ(num(v), h->heap_commit);
            else if ((v = field(ln, "NumberOfRvaAndSize:"))) EQ(num(v), h->ndirs_declared);
            else {
                for (int d = 0; d < 16; d++) {
                    char k[64];
                    snprintf(k, sizeof k, "%sRVA:", dir_names[d]);
                    if ((v = field(ln, k))) EQ(num(v), h->dirs[d].rva);
                    snprintf(k, sizeof k, "%sSize:", dir_names[d]);
                    if ((v = field(ln, k))) EQ(num(v), h->dirs[d].size);
                }
            }
        } else if (blk == DOSH) {
            if ((v = field(ln, "AddressOfNewExeHeader:"))) EQ(num(v), h->nt_offset);
        } else if (blk == SECTION) {
            if ((v = field(ln, "Name:"))) {
                char want[16];
                snprintf(want, sizeof want, "%s ", s->name);
                if (strncmp(v, want, strlen(want)) != 0) fail_msg("%s: section %d is %s, llvm-readobj says %s", path, sec, s->name, v);
                checked++;
            } else if ((v = field(ln, "VirtualSize:"))) EQ(num(v), s->virtual_size);
            else if ((v = field(ln, "VirtualAddress:"))) EQ(num(v), s->rva);
            else if ((v = field(ln, "RawDataSize:"))) EQ(num(v), s->raw_size);
            else if ((v = field(ln, "PointerToRawData:"))) EQ(num(v), s->raw_offset);
            else if ((v = field(ln, "Characteristics ["))) EQ(paren_num(v), s->characteristics);
            else if ((v = field(ln, "PointerToRelocations:")) && s->raw_size > 0x10) {
                /* rva → file offset inside the section's raw data */
                uint64_t off;
                assert_true(nk_pe_rva_to_offset(pe, s->rva + 0x10, &off));
                assert_int_equal(off, (uint64_t)s->raw_offset + 0x10);
            }
        }
    }
#undef EQ
    assert_int_equal((size_t)(sec + 1), nk_pe_section_count(pe));
    /* 7 file-header fields, 24 optional-header fields, 32 directory fields, e_lfanew, 6 per section */
    if (checked != 7 + 24 + 2 * (int)h->ndirs + 1 + 6 * (sec + 1))
        fail_msg("%s: %d header fields compared, expected %d", path, checked, 7 + 24 + 2 * (int)h->ndirs + 1 + 6 * (sec + 1));
    free(L.v);
    free(out);
    /* CheckSum is not in llvm-readobj's output: llvm-objdump -p prints it */
    out = run("llvm-objdump-14 -p '%s'", path);
    assert_non_null(out);
    const char *c = strstr(out, "\nCheckSum");
    assert_non_null(c);
    assert_int_equal(strtoul(skip_ws(c + 9), NULL, 16), h->checksum);
    free(out);
    /* and the names the listing uses */
    assert_string_not_equal(nk_pe_machine_name(h->machine), "?");
    assert_string_not_equal(nk_pe_subsystem_name(h->subsystem), "?");
    nk_pe_close(pe);
}

static void test_headers_and_sections(void **state)
{
    (void)state;
    if (!have_llvm()) skip();
    ntkd_ctx *ctx = ntkd_ctx_new();
    image_list L = all_images();
    assert_true(L.n >= 17);
    for (size_t i = 0; i < L.n; i++) check_headers(ctx, L.path[i]);
    free_list(&L);
    ntkd_ctx_free(ctx);
}

/* ---- exports vs llvm-objdump -p -------------------------------------------------------- */

static void check_exports(ntkd_ctx *ctx, const char *path)
{
    char *out = run("llvm-objdump-14 -p '%s'", path);
    assert_non_null(out);
    nk_pe *pe = open_pe(ctx, path);
    const nk_pe_exports *ex;
    nk_status st = nk_pe_exports_get(pe, &ex);
    /* llvm-objdump prints the heading alone when there is no export directory */
    char *tab = strstr(out, "Export Table:");
    if (tab && !strstr(tab, "DLL name:")) tab = NULL;
    if (!tab) {
        assert_int_equal(st, NTKD_E_NOTFOUND);
        assert_non_null(strstr(ntkd_ctx_error(ctx), "no export directory"));
        free(out);
        nk_pe_close(pe);
        return;
    }
    assert_int_equal(st, NTKD_OK);
    lines L = split_lines(tab);
    size_t seen = 0;
    bool in_list = false;
    for (size_t i = 0; i < L.n; i++) {
        const char *v;
        if ((v = field(L.v[i], "DLL name:"))) {
            assert_non_null(ex->dll_name);
            assert_string_equal(v, ex->dll_name);
        } else if ((v = field(L.v[i], "Ordinal base:"))) {
            assert_int_equal(num(v), ex->ordinal_base);
        } else if (field(L.v[i], "Ordinal      RVA")) {
            in_list = true;
        } else if (in_list) {
            if (!*skip_ws(L.v[i])) break;
            /* "     7   0x1010  name" or "    10           fwd (forwarded to dll.f)" */
            char *p;
            unsigned long ord = strtoul(L.v[i], &p, 10);
            p = (char *)skip_ws(p);
            unsigned long rva = 0;
            if (strncmp(p, "0x", 2) == 0 || isdigit((unsigned char)*p)) rva = strtoul(p, &p, 0);
            p = (char *)skip_ws(p);
            char name[512] = "", fwd[512] = "";
            char *f = strstr(p, " (forwarded to ");
            if (f) {
                snprintf(name, sizeof name, "%.*s", (int)(f - p), p);
                snprintf(fwd, sizeof fwd, "%s", f + 15);
                char *e = strrchr(fwd, ')');
                if (e) *e = 0;
            } else {
                snprintf(name, sizeof name, "%s", p);
            }
            if (rva == 0 && !*name && !*fwd) continue; /* an empty slot: not an export */
            /* find the entry with this ordinal and name */
            const nk_pe_export *hit = NULL;
            for (size_t k = 0; k < ex->count; k++)
                if (ex->v[k].ordinal == ord && strcmp(ex->v[k].name ? ex->v[k].name : "", name) == 0) hit = &ex->v[k];
            if (!hit) fail_msg("%s: export ordinal %lu '%s' not found", path, ord, name);
            if (*fwd) {
                assert_non_null(hit->forwarder);
                assert_string_equal(hit->forwarder, fwd);
            } else {
                assert_null(hit->forwarder);
                assert_int_equal(hit->rva, rva);
            }
            if (*name) {
                const nk_pe_export *byname = nk_pe_export_by_name(pe, name);
                assert_ptr_equal(byname, hit);
            }
            assert_non_null(nk_pe_export_by_ordinal(pe, (uint32_t)ord));
            if (!*fwd) {
                const nk_pe_export *below = nk_pe_export_at_or_below(pe, (uint32_t)rva + 3);
                assert_non_null(below);
                assert_true(below->rva <= rva + 3);
                assert_true(below->rva >= rva);
            }
            seen++;
        }
    }
    assert_int_equal(seen, ex->count);
    assert_false(ex->incomplete);
    free(L.v);
    free(out);
    nk_pe_close(pe);
}

static void test_exports(void **state)
{
    (void)state;
    if (!have_llvm()) skip();
    ntkd_ctx *ctx = ntkd_ctx_new();
    image_list L = all_images();
    for (size_t i = 0; i < L.n; i++) check_exports(ctx, L.path[i]);
    free_list(&L);
    ntkd_ctx_free(ctx);
}

/* The DLL built here: NONAME ordinal, aliases and forwarders, as its /export options say. */
static void test_exports_built_dll(void **state)
{
    (void)state;
    if (!build_programs()) skip();
    ntkd_ctx *ctx = ntkd_ctx_new();
    nk_pe *pe = open_pe(ctx, BUILD_DIR "/pe_dll.dll");
    const nk_pe_exports *ex;
    assert_int_equal(nk_pe_exports_get(pe, &ex), NTKD_OK);
    assert_string_equal(ex->dll_name, "pe_dll.dll");
    const nk_pe_export *e7 = nk_pe_export_by_ordinal(pe, 7);
    assert_non_null(e7);
    assert_null(e7->name); /* NONAME */
    const nk_pe_export *a = nk_pe_export_by_name(pe, "alias"), *n1 = nk_pe_export_by_name(pe, "named_one");
    assert_non_null(a);
    assert_non_null(n1);
    assert_int_equal(a->rva, n1->rva);
    const nk_pe_export *fs = nk_pe_export_by_name(pe, "fwd_sleep"), *fo = nk_pe_export_by_name(pe, "fwd_ord");
    assert_non_null(fs);
    assert_non_null(fo);
    assert_string_equal(fs->forwarder, "kernel32.Sleep");
    assert_string_equal(fo->forwarder, "other.#12");
    assert_null(nk_pe_export_by_name(pe, "by_ordinal"));
    assert_null(nk_pe_export_by_name(pe, "nonexistent"));
    /* nearest at or below never answers with a forwarder */
    const nk_pe_export *b = nk_pe_export_at_or_below(pe, 0xffffff);
    assert_non_null(b);
    assert_null(b->forwarder);
    nk_pe_close(pe);
    ntkd_ctx_free(ctx);
}

/* ---- debug directory vs llvm-readobj --coff-debug-directory ---------------------------- */

static void check_debug(ntkd_ctx *ctx, const char *path)
{
    char *out = run("llvm-readobj-14 --coff-debug-directory '%s'", path);
    assert_non_null(out);
    nk_pe *pe = open_pe(ctx, path);
    const nk_pe_debug *d;
    nk_status st = nk_pe_debug_get(pe, &d);
    if (!strstr(out, "DebugEntry {")) {
        assert_int_equal(st, NTKD_E_NOTFOUND);
        free(out);
        nk_pe_close(pe);
        return;
    }
    assert_int_equal(st, NTKD_OK);
    lines L = split_lines(out);
    int idx = -1;
    bool cv_checked = false;
    for (size_t i = 0; i < L.n; i++) {
        const char *v;
        if (field(L.v[i], "DebugEntry {")) {
            idx++;
            assert_true((size_t)idx < d->count);
        } else if (idx < 0) {
            continue;
        } else if ((v = field(L.v[i], "Characteristics:"))) {
            assert_int_equal(num(v), d->v[idx].characteristics);
        } else if ((v = field(L.v[i], "TimeDateStamp:"))) {
            assert_int_equal(paren_num(v), d->v[idx].timestamp);
        } else if ((v = field(L.v[i], "Type:"))) {
            assert_int_equal(paren_num(v), d->v[idx].type);
        } else if ((v = field(L.v[i], "SizeOfData:"))) {
            assert_int_equal(num(v), d->v[idx].size);
        } else if ((v = field(L.v[i], "AddressOfRawData:"))) {
            assert_int_equal(num(v), d->v[idx].rva);
        } else if ((v = field(L.v[i], "PointerToRawData:"))) {
            assert_int_equal(num(v), d->v[idx].file_ptr);
            assert_true(d->v[idx].data_present);
        } else if ((v = field(L.v[i], "PDBSignature:"))) {
            assert_int_equal(d->cv_index, idx);
            uint32_t sig = (uint32_t)num(v);
            assert_int_equal(d->cv.kind, sig == 0x53445352 ? NK_PE_CV_RSDS : NK_PE_CV_NB10);
        } else if ((v = field(L.v[i], "PDBGUID:"))) {
            /* the 16 bytes as stored */
            uint8_t want[16];
            const char *p = strchr(v, '(');
            assert_non_null(p);
            p++;
            for (int k = 0; k < 16; k++) want[k] = (uint8_t)strtoul(p, (char **)&p, 16);
            const nk_pe_guid *g = &d->cv.guid;
            uint8_t got[16] = {(uint8_t)g->data1, (uint8_t)(g->data1 >> 8), (uint8_t)(g->data1 >> 16),
                               (uint8_t)(g->data1 >> 24), (uint8_t)g->data2, (uint8_t)(g->data2 >> 8),
                               (uint8_t)g->data3, (uint8_t)(g->data3 >> 8)};
            memcpy(got + 8, g->data4, 8);
            assert_memory_equal(got, want, 16);
        } else if ((v = field(L.v[i], "PDBAge:"))) {
            assert_int_equal(num(v), d->cv.age);
        } else if ((v = field(L.v[i], "PDBFileName:"))) {
            assert_string_equal(v, d->cv.pdb_path);
            cv_checked = true;
        }
    }
    assert_int_equal((size_t)(idx + 1), d->count);
    if (d->cv_index >= 0) assert_true(cv_checked);
    free(L.v);
    free(out);
    nk_pe_close(pe);
}

static void test_debug_directory(void **state)
{
    (void)state;
    if (!have_llvm()) skip();
    ntkd_ctx *ctx = ntkd_ctx_new();
    image_list L = all_images();
    for (size_t i = 0; i < L.n; i++) check_debug(ctx, L.path[i]);
    free_list(&L);
    ntkd_ctx_free(ctx);
}

/* amdppm.sys's CodeView record names the PDB the symbol store holds: its key is the store's
 * directory name, and its GUID is the one llvm-pdbutil reads from the PDB itself. */
static void test_amdppm_pdb_identity(void **state)
{
    (void)state;
    ntkd_ctx *ctx = ntkd_ctx_new();
    nk_pe *pe = open_pe(ctx, CORPUS "/symstore/amdppm.sys/c9c030003b000/amdppm.sys");
    const nk_pe_debug *d;
    assert_int_equal(nk_pe_debug_get(pe, &d), NTKD_OK);
    assert_int_equal(d->cv.kind, NK_PE_CV_RSDS);
    char key[48], guid[40];
    nk_pe_pdb_key(&d->cv, key);
    nk_pe_guid_str(&d->cv.guid, guid);
    /* the store directory */
    DIR *dir = opendir(CORPUS "/symstore/amdppm.pdb");
    assert_non_null(dir);
    struct dirent *de;
    bool found = false;
    while ((de = readdir(dir)))
        if (de->d_name[0] != '.') {
            assert_string_equal(de->d_name, key);
            found = true;
        }
    closedir(dir);
    assert_true(found);
    assert_string_equal(d->cv.pdb_path, "amdppm.pdb");
    assert_int_equal(d->cv.age, 1);
    /* the PDB's own GUID */
    if (have_tool("llvm-pdbutil-14")) {
        char *out = run("llvm-pdbutil-14 dump -summary '%s'", CORPUS "/symstore/amdppm.pdb/" "1C19FDDB27BB3399D9B45973EFEAFCF31/amdppm.pdb");
        assert_non_null(out);
        const char *g = strstr(out, "GUID: {");
        assert_non_null(g);
        assert_memory_equal(g + 7, guid, 36);
        free(out);
    }
    /* the image's own store key is its directory in the store */
    char ikey[24];
    nk_pe_image_key(pe, ikey);
    for (char *p = ikey; *p; p++) *p = (char)tolower((unsigned char)*p);
    assert_string_equal(ikey, "c9c030003b000");
    nk_pe_close(pe);
    ntkd_ctx_free(ctx);
}

/* ---- version resource ------------------------------------------------------------------ */

static void check_version_vs_strings(ntkd_ctx *ctx, const char *path)
{
    nk_pe *pe = open_pe(ctx, path);
    const nk_pe_version *v;
    assert_int_equal(nk_pe_version_get(pe, &v), NTKD_OK);
    assert_true(v->has_fixed);
    /* the resource directory entry llvm-readobj finds */
    if (have_llvm()) {
        char *out = run("llvm-readobj-14 --coff-resources '%s'", path);
        assert_non_null(out);
        const char *t = strstr(out, "VERSIONINFO (ID 16)");
        assert_non_null(t);
        const char *r = strstr(t, "DataRVA:"), *s = strstr(t, "DataSize:");
        assert_non_null(r);
        assert_non_null(s);
        assert_int_equal(num(r + 8), v->data_rva);
        assert_int_equal(num(s + 9), v->data_size);
        free(out);
    }
    /* every ASCII key/value pair is a pair of consecutive UTF-16 strings in the file */
    char *out = run("strings -el '%s'", path);
    assert_non_null(out);
    lines L = split_lines(out);
    size_t pairs = 0;
    for (size_t i = 0; i < v->nstrings; i++) {
        const char *key = v->strings[i].key, *val = v->strings[i].value;
        bool ascii = true;
        for (const char *p = val; *p; p++)
            if ((unsigned char)*p >= 0x80) ascii = false;
        bool ok = false;
        for (size_t k = 0; k + 1 < L.n; k++)
            if (strcmp(L.v[k], key) == 0 && (!ascii || strcmp(L.v[k + 1], val) == 0)) ok = true;
        if (!ok) fail_msg("%s: version string %s = '%s' not in strings -el", path, key, val);
        if (ascii) pairs++;
    }
    assert_true(pairs >= 6);
    /* the fixed file version is the numeric prefix of the FileVersion string */
    const char *fv = nk_pe_version_string_get(v, "FileVersion"), *pv = nk_pe_version_string_get(v, "productversion");
    assert_non_null(fv);
    assert_non_null(pv);
    char want[64];
    snprintf(want, sizeof want, "%u.%u.%u.%u", v->file_version[0], v->file_version[1], v->file_version[2], v->file_version[3]);
    assert_memory_equal(fv, want, strlen(want));
    snprintf(want, sizeof want, "%u.%u.%u.%u", v->product_version[0], v->product_version[1], v->product_version[2],
             v->product_version[3]);
    assert_string_equal(pv, want);
    assert_int_equal(v->ntranslations, 1);
    assert_int_equal(v->translations[0], 0x040904b0u);
    free(L.v);
    free(out);
    nk_pe_close(pe);
}

static void test_version_resource(void **state)
{
    (void)state;
    ntkd_ctx *ctx = ntkd_ctx_new();
    check_version_vs_strings(ctx, CORPUS "/symstore/amdppm.sys/c9c030003b000/amdppm.sys");
    check_version_vs_strings(ctx, CORPUS "/symstore/Wdf01000.sys/a9a9d36ed1000/Wdf01000.sys");
    nk_pe *pe = open_pe(ctx, CORPUS "/symstore/amdppm.sys/c9c030003b000/amdppm.sys");
    const nk_pe_version *v;
    assert_int_equal(nk_pe_version_get(pe, &v), NTKD_OK);
    assert_string_equal(nk_pe_version_string_get(v, "CompanyName"), "Microsoft Corporation");
    assert_string_equal(nk_pe_version_string_get(v, "OriginalFilename"), "amdppm.sys");
    assert_string_equal(nk_pe_version_string_get(v, "FileVersion"), "10.0.19041.1110 (WinBuild.160101.0800)");
    assert_string_equal(nk_pe_version_string_get(v, "ProductName"), "Microsoft\xc2\xae Windows\xc2\xae Operating System");
    nk_pe_close(pe);
    /* the DLL built from ver.rc carries what the script says */
    if (build_programs()) {
        pe = open_pe(ctx, BUILD_DIR "/pe_dll.dll");
        assert_int_equal(nk_pe_version_get(pe, &v), NTKD_OK);
        uint16_t fvw[4] = {1, 2, 3, 4}, pvw[4] = {5, 6, 7, 8};
        assert_memory_equal(v->file_version, fvw, sizeof fvw);
        assert_memory_equal(v->product_version, pvw, sizeof pvw);
        assert_int_equal(v->file_os, 0x40004);
        assert_int_equal(v->file_type, 2);
        assert_int_equal(v->nstrings, 5);
        assert_string_equal(v->strings[0].table, "040904B0");
        assert_string_equal(nk_pe_version_string_get(v, "CompanyName"), "ntkd test company");
        assert_string_equal(nk_pe_version_string_get(v, "FileDescription"), "PE reader fixture");
        assert_string_equal(nk_pe_version_string_get(v, "ProductName"), "ntkd");
        assert_string_equal(nk_pe_version_string_get(v, "OriginalFilename"), "pe_dll.dll");
        assert_int_equal(v->translations[0], 0x040904b0u);
        nk_pe_close(pe);
        /* no resources at all */
        pe = open_pe(ctx, BUILD_DIR "/prog64.exe");
        assert_int_equal(nk_pe_version_get(pe, &v), NTKD_E_NOTFOUND);
        nk_pe_close(pe);
    }
    ntkd_ctx_free(ctx);
}

/* ---- x64 unwind data vs llvm-readobj --unwind ------------------------------------------ */

static void upper(char *dst, const char *src, size_t n)
{
    size_t i = 0;
    for (; src[i] && i + 1 < n; i++) dst[i] = (char)toupper((unsigned char)src[i]);
    dst[i] = 0;
}

/* The code as llvm-readobj prints it: "SAVE_NONVOL reg=RSI, offset=0x48". */
static void x64_readobj_text(const nk_x64_unwind *u, const nk_x64_code *c, char *buf, size_t n)
{
    char reg[8];
    const char *name = nk_x64_uwop_name(c->op) + 5;
    switch (c->op) {
    case NK_UWOP_PUSH_NONVOL:
        upper(reg, nk_x64_reg_name(c->info), sizeof reg);
        snprintf(buf, n, "%s reg=%s", name, reg);
        break;
    case NK_UWOP_ALLOC_LARGE:
    case NK_UWOP_ALLOC_SMALL: snprintf(buf, n, "%s size=%u", name, c->value); break;
    case NK_UWOP_SET_FPREG:
        upper(reg, nk_x64_reg_name(u->frame_reg), sizeof reg);
        snprintf(buf, n, "%s reg=%s, offset=0x%X", name, reg, c->value);
        break;
    case NK_UWOP_SAVE_NONVOL:
    case NK_UWOP_SAVE_NONVOL_FAR:
        upper(reg, nk_x64_reg_name(c->info), sizeof reg);
        snprintf(buf, n, "%s reg=%s, offset=0x%X", name, reg, c->value);
        break;
    case NK_UWOP_SAVE_XMM128:
    case NK_UWOP_SAVE_XMM128_FAR: snprintf(buf, n, "%s reg=XMM%u, offset=0x%X", name, c->info, c->value); break;
    case NK_UWOP_PUSH_MACHFRAME: snprintf(buf, n, "%s errcode=%s", name, c->info ? "yes" : "no"); break;
    default: snprintf(buf, n, "%s ?", name); break;
    }
}

typedef struct rf_block {
    uint64_t start, end, uia;
    int version, flags, prolog, count;
    long frame_reg, frame_off; /* -1: "-" */
    char codes[64][96];
    int ncodes;
    uint64_t handler;
    uint64_t chain_start, chain_end, chain_uia;
} rf_block;

/* Parses llvm-readobj --unwind output of an x64 image into blocks. */
static size_t parse_readobj_x64(char *out, rf_block **blocks)
{
    lines L = split_lines(out);
    size_t cap = 64, n = 0;
    rf_block *b = calloc(cap, sizeof *b), *cur = NULL;
    bool in_codes = false, in_chain = false;
    for (size_t i = 0; i < L.n; i++) {
        const char *ln = L.v[i], *v;
        if (field(ln, "RuntimeFunction {")) {
            if (n == cap) {
                cap *= 2;
                b = realloc(b, cap * sizeof *b);
            }
            cur = &b[n++];
            memset(cur, 0, sizeof *cur);
            cur->frame_reg = cur->frame_off = -1;
            in_codes = in_chain = false;
            continue;
        }
        if (!cur) continue;
        if (field(ln, "Chained {")) { in_chain = true; continue; }
        if (in_codes) {
            if (field(ln, "]")) { in_codes = false; continue; }
            /* "0x0F: SAVE_NONVOL reg=RSI, offset=0x48" */
            assert_true(cur->ncodes < 64);
            snprintf(cur->codes[cur->ncodes++], 96, "%s", skip_ws(ln));
            continue;
        }
        if ((v = field(ln, "StartAddress:"))) { if (in_chain) cur->chain_start = num(v); else cur->start = num(v); }
        else if ((v = field(ln, "EndAddress:"))) { if (in_chain) cur->chain_end = num(v); else cur->end = num(v); }
        else if ((v = field(ln, "UnwindInfoAddress:"))) { if (in_chain) cur->chain_uia = num(v); else cur->uia = num(v); }
        else if ((v = field(ln, "Version:"))) cur->version = (int)num(v);
        else if ((v = field(ln, "Flags ["))) cur->flags = (int)paren_num(v);
        else if ((v = field(ln, "PrologSize:"))) cur->prolog = (int)num(v);
        else if ((v = field(ln, "FrameRegister:"))) cur->frame_reg = *v == '-' ? -1 : (long)paren_num(v);
        else if ((v = field(ln, "FrameOffset:"))) cur->frame_off = *v == '-' ? -1 : (long)num(v);
        else if ((v = field(ln, "UnwindCodeCount:"))) cur->count = (int)num(v);
        else if (field(ln, "UnwindCodes [")) in_codes = true;
        else if ((v = field(ln, "Handler:"))) cur->handler = num(v);
    }
    free(L.v);
    *blocks = b;
    return n;
}

static void check_x64_readobj(ntkd_ctx *ctx, const char *path)
{
    char *out = run("llvm-readobj-14 --unwind '%s'", path);
    assert_non_null(out);
    rf_block *b;
    size_t nb = parse_readobj_x64(out, &b);
    nk_pe *pe = open_pe(ctx, path);
    uint64_t base = nk_pe_hdr(pe)->image_base;
    const nk_pe_func *f;
    size_t n, total;
    nk_status st = nk_pe_funcs(pe, &f, &n, &total);
    if (nb == 0) {
        assert_int_equal(st, NTKD_E_NOTFOUND);
        goto done;
    }
    assert_int_equal(st, NTKD_OK);
    assert_int_equal(n, nb);
    assert_int_equal(total, nb);
    nk_x64_unwind *u = malloc(sizeof *u);
    for (size_t i = 0; i < n; i++) {
        rf_block *r = &b[i];
        assert_int_equal(base + f[i].begin, r->start);
        assert_int_equal(base + f[i].end, r->end);
        assert_int_equal(base + f[i].unwind, r->uia);
        assert_int_equal(nk_pe_x64_unwind(pe, &f[i], u, NULL), NTKD_OK);
        assert_int_equal(u->version, r->version);
        assert_int_equal(u->flags, r->flags);
        assert_int_equal(u->prolog_size, r->prolog);
        assert_int_equal(u->count_of_codes, r->count);
        if (r->frame_reg < 0) {
            assert_int_equal(u->frame_reg, 0);
        } else {
            assert_int_equal(u->frame_reg, r->frame_reg);
            assert_int_equal(u->frame_offset, r->frame_off);
        }
        assert_int_equal((int)u->ncodes, r->ncodes);
        for (size_t k = 0; k < u->ncodes; k++) {
            char want[128], mine[96];
            x64_readobj_text(u, &u->codes[k], mine, sizeof mine);
            snprintf(want, sizeof want, "0x%02X: %s", u->codes[k].code_offset, mine);
            if (strcmp(want, r->codes[k]) != 0)
                fail_msg("%s: function 0x%x code %zu: ours '%s', llvm-readobj '%s'", path, f[i].begin, k, want, r->codes[k]);
        }
        if (u->has_handler) assert_int_equal(base + u->handler_rva, r->handler);
        else assert_int_equal(r->handler, 0);
        if (u->chained) {
            assert_int_equal(base + u->chain.begin, r->chain_start);
            assert_int_equal(base + u->chain.end, r->chain_end);
            assert_int_equal(base + u->chain.unwind, r->chain_uia);
        } else {
            assert_int_equal(r->chain_start, 0);
        }
        /* the lookup finds each entry from its first and last byte */
        nk_pe_func g;
        assert_int_equal(nk_pe_func_find(pe, f[i].begin, &g), NTKD_OK);
        assert_int_equal(g.begin, f[i].begin);
        assert_int_equal(nk_pe_func_find(pe, f[i].end - 1, &g), NTKD_OK);
        assert_true(g.begin <= f[i].end - 1 && f[i].end - 1 < g.end);
    }
    free(u);
done:
    free(b);
    free(out);
    nk_pe_close(pe);
}

static image_list x64_unwind_images(void)
{
    image_list L = {0};
    add_glob(&L, CORPUS "/pdb-fixtures/seh/x64/*.exe");
    add_glob(&L, CORPUS "/pdb-fixtures/seh/x64/*.dll");
    add_glob(&L, CORPUS "/pdb-fixtures/dump_syms/dump_syms_regtest64.exe");
    if (build_programs()) {
        L.path[L.n++] = strdup(BUILD_DIR "/prog64.exe");
        L.path[L.n++] = strdup(BUILD_DIR "/pe_dll.dll");
    }
    return L;
}

static void test_x64_unwind_readobj(void **state)
{
    (void)state;
    if (!have_llvm()) skip();
    ntkd_ctx *ctx = ntkd_ctx_new();
    image_list L = x64_unwind_images();
    assert_true(L.n >= 5);
    for (size_t i = 0; i < L.n; i++) check_x64_readobj(ctx, L.path[i]);
    free_list(&L);
    ntkd_ctx_free(ctx);
}

/* ---- x64 unwind data vs llvm-objdump --unwind-info ------------------------------------- */

static void x64_objdump_text(const nk_x64_code *c, char *buf, size_t n)
{
    char reg[8];
    upper(reg, nk_x64_reg_name(c->info), sizeof reg);
    switch (c->op) {
    case NK_UWOP_PUSH_NONVOL: snprintf(buf, n, "UOP_PushNonVol %s", reg); break;
    case NK_UWOP_ALLOC_LARGE: snprintf(buf, n, "UOP_AllocLarge %u", c->info == 0 ? c->value / 8 : c->value); break;
    case NK_UWOP_ALLOC_SMALL: snprintf(buf, n, "UOP_AllocSmall %u", c->value); break;
    case NK_UWOP_SET_FPREG: snprintf(buf, n, "UOP_SetFPReg "); break;
    case NK_UWOP_SAVE_NONVOL: snprintf(buf, n, "UOP_SaveNonVol %s [0x%04x]", reg, c->value); break;
    case NK_UWOP_SAVE_NONVOL_FAR: snprintf(buf, n, "UOP_SaveNonVolBig %s [0x%08x]", reg, c->value); break;
    case NK_UWOP_SAVE_XMM128: snprintf(buf, n, "UOP_SaveXMM128 XMM%u [0x%04x]", c->info, c->value); break;
    case NK_UWOP_SAVE_XMM128_FAR: /* objdump-14 writes the register number as a raw byte */
        snprintf(buf, n, "UOP_SaveXMM128Big XMM%c [0x%08x]", (char)c->info, c->value);
        break;
    case NK_UWOP_PUSH_MACHFRAME:
        snprintf(buf, n, "UOP_PushMachFrame %s", c->info ? "w/o error code" : "w error code"); /* objdump-14 inverts */
        break;
    default: snprintf(buf, n, "?"); break;
    }
}

static void check_x64_objdump(ntkd_ctx *ctx, const char *path)
{
    char *out = run("llvm-objdump-14 --unwind-info '%s'", path);
    assert_non_null(out);
    nk_pe *pe = open_pe(ctx, path);
    const nk_pe_func *f;
    size_t n = 0, total;
    nk_status st = nk_pe_funcs(pe, &f, &n, &total);
    lines L = split_lines(out);
    nk_x64_unwind *u = malloc(sizeof *u);
    long fi = -1;
    size_t code = 0;
    bool in_codes = false;
    size_t lines_checked = 0;
    for (size_t i = 0; i < L.n; i++) {
        const char *ln = L.v[i], *v;
        if (field(ln, "Function Table:")) {
            if (fi >= 0) assert_int_equal(code, u->ncodes);
            fi++;
            assert_int_equal(st, NTKD_OK);
            assert_true((size_t)fi < n);
            assert_int_equal(nk_pe_x64_unwind(pe, &f[fi], u, NULL), NTKD_OK);
            code = 0;
            in_codes = false;
            continue;
        }
        if (fi < 0) continue;
        if (in_codes) {
            if (!*skip_ws(ln)) { in_codes = false; continue; }
            assert_true(code < u->ncodes);
            char mine[96], want[128];
            x64_objdump_text(&u->codes[code], mine, sizeof mine);
            snprintf(want, sizeof want, "0x%02x: %s", u->codes[code].code_offset, mine);
            if (strcmp(skip_ws(ln), want) != 0)
                fail_msg("%s: function 0x%x code %zu: ours '%s', llvm-objdump '%s'", path, f[fi].begin, code, want, skip_ws(ln));
            code++;
            lines_checked++;
            continue;
        }
        if ((v = field(ln, "Start Address:"))) assert_int_equal(num(v), f[fi].begin);
        else if ((v = field(ln, "End Address:"))) assert_int_equal(num(v), f[fi].end);
        else if ((v = field(ln, "Unwind Info Address:"))) assert_int_equal(num(v), f[fi].unwind);
        else if ((v = field(ln, "Version:"))) assert_int_equal(num(v), u->version);
        else if ((v = field(ln, "Flags:"))) assert_int_equal(strtoul(v, NULL, 10), u->flags);
        else if ((v = field(ln, "Size of prolog:"))) assert_int_equal(num(v), u->prolog_size);
        else if ((v = field(ln, "Number of Codes:"))) assert_int_equal(num(v), u->count_of_codes);
        else if (field(ln, "No frame pointer used")) assert_int_equal(u->frame_reg, 0);
        else if ((v = field(ln, "Frame register:"))) {
            char reg[8];
            upper(reg, nk_x64_reg_name(u->frame_reg), sizeof reg);
            assert_string_equal(v, reg);
        } else if ((v = field(ln, "Frame offset:"))) assert_int_equal(num(v), 16 * u->frame_offset);
        else if (field(ln, "Unwind Codes:")) in_codes = true;
    }
    if (fi >= 0) assert_int_equal(code, u->ncodes);
    assert_int_equal((size_t)(fi + 1), st == NTKD_OK ? n : 0);
    if (n) assert_true(lines_checked > 0);
    free(u);
    free(L.v);
    free(out);
    nk_pe_close(pe);
}

static void test_x64_unwind_objdump(void **state)
{
    (void)state;
    if (!have_llvm()) skip();
    ntkd_ctx *ctx = ntkd_ctx_new();
    image_list L = x64_unwind_images();
    for (size_t i = 0; i < L.n; i++) check_x64_objdump(ctx, L.path[i]);
    free_list(&L);
    ntkd_ctx_free(ctx);
}

/* The assembly program's functions: every code LLVM emits, with the values its source states. */
static void test_x64_built_codes(void **state)
{
    (void)state;
    if (!build_programs()) skip();
    ntkd_ctx *ctx = ntkd_ctx_new();
    nk_pe *pe = open_pe(ctx, BUILD_DIR "/prog64.exe");
    const nk_pe_func *f;
    size_t n, total;
    assert_int_equal(nk_pe_funcs(pe, &f, &n, &total), NTKD_OK);
    nk_x64_unwind *u = malloc(sizeof *u);
    bool seen[11] = {0}, chained = false, handler = false, large1 = false, large0 = false, mf0 = false, mf1 = false;
    for (size_t i = 0; i < n; i++) {
        assert_int_equal(nk_pe_x64_unwind(pe, &f[i], u, NULL), NTKD_OK);
        for (size_t k = 0; k < u->ncodes; k++) {
            const nk_x64_code *c = &u->codes[k];
            seen[c->op] = true;
            if (c->op == NK_UWOP_ALLOC_LARGE && c->info == 1) large1 = c->value == 0x100000;
            if (c->op == NK_UWOP_ALLOC_LARGE && c->info == 0 && c->value == 136) large0 = true;
            if (c->op == NK_UWOP_PUSH_MACHFRAME) {
                if (c->info) mf1 = true;
                else mf0 = true;
            }
            if (c->op == NK_UWOP_SAVE_XMM128_FAR) assert_int_equal(c->info, 15), assert_int_equal(c->value, 0xa0000);
            if (c->op == NK_UWOP_SAVE_NONVOL_FAR) assert_int_equal(c->info, 6), assert_int_equal(c->value, 0x90000);
            if (c->op == NK_UWOP_SET_FPREG && u->frame_offset) assert_int_equal(c->value, 0x40);
        }
        if (u->has_handler && u->handler_data == 2) {
            /* f_frame: .long 2, .long 0x12345678 after the handler */
            uint8_t b[8];
            assert_int_equal(nk_pe_read(pe, u->handler_data_rva, b, 8, NULL), NTKD_OK);
            assert_int_equal(b[4] | b[5] << 8 | b[6] << 16 | (uint32_t)b[7] << 24, 0x12345678u);
            assert_int_equal(u->size, 4 + 2 * 16 + 8);
            handler = true;
        }
        if (u->chained) {
            /* the chained fragment lies inside its primary, which is not chained itself */
            nk_pe_func prim;
            unsigned links;
            assert_int_equal(nk_pe_x64_primary(pe, &f[i], &prim, &links), NTKD_OK);
            assert_int_equal(links, 1);
            assert_int_equal(prim.begin, u->chain.begin);
            assert_true(prim.begin < f[i].begin && f[i].end <= prim.end);
            assert_int_equal(u->size, 4 + 2 * 2 + 12);
            /* an address in the primary after the fragment still finds the primary */
            nk_pe_func g;
            assert_int_equal(nk_pe_func_find(pe, f[i].end, &g), NTKD_OK);
            assert_int_equal(g.begin, prim.begin);
            chained = true;
        }
    }
    for (int op = 0; op <= 10; op++)
        if (op != NK_UWOP_EPILOG && op != NK_UWOP_SPARE_CODE && !seen[op]) fail_msg("unwind op %d never seen", op);
    assert_true(chained && handler && large1 && large0 && mf0 && mf1);
    free(u);
    nk_pe_close(pe);
    ntkd_ctx_free(ctx);
}

/* ---- x64 version 2 unwind data (amdppm.sys, Wdf01000.sys): the instruction bytes ------- */

/* Checks a prolog code against the instruction that ends at begin + code_offset. Returns
 * false when the instruction is not of a form this check knows. */
static bool prolog_insn_matches(nk_pe *pe, uint32_t begin, const nk_x64_code *c, bool *known)
{
    uint8_t b[16];
    uint32_t end = begin + c->code_offset;
    *known = true;
    if (end < 8 || nk_pe_read(pe, end - 8, b, 8, NULL) != NTKD_OK) return false;
    const uint8_t *e = b + 8; /* e[-1] is the last byte of the instruction */
    switch (c->op) {
    case NK_UWOP_PUSH_NONVOL:
        if (c->info < 8) return e[-1] == 0x50 + c->info;
        return e[-2] == 0x41 && e[-1] == 0x50 + (c->info - 8);
    case NK_UWOP_ALLOC_SMALL:
    case NK_UWOP_ALLOC_LARGE:
        /* sub rsp, imm8 */
        if (e[-4] == 0x48 && e[-3] == 0x83 && e[-2] == 0xec) return e[-1] == c->value;
        /* sub rsp, imm32, or sub rsp, rax after a __chkstk call */
        if (e[-7] == 0x48 && e[-6] == 0x81 && e[-5] == 0xec)
            return (uint32_t)(e[-4] | e[-3] << 8 | e[-2] << 16 | (uint32_t)e[-1] << 24) == c->value;
        if (e[-3] == 0x48 && e[-2] == 0x2b && e[-1] == 0xe0) { *known = false; return true; }
        return false;
    case NK_UWOP_SAVE_NONVOL:
        /* mov [rsp+disp], reg: the displacement ends the instruction */
        if (c->value < 0x80 && e[-1] == c->value && e[-2] == 0x24) return true;
        if (e[-5] == 0x24 && (uint32_t)(e[-4] | e[-3] << 8 | e[-2] << 16 | (uint32_t)e[-1] << 24) == c->value) return true;
        /* rbp-based frames address the slot differently: not checked */
        *known = false;
        return true;
    default:
        *known = false;
        return true;
    }
}

static void check_v2_image(ntkd_ctx *ctx, const char *path, size_t *n_epilogs, size_t *n_prolog_checked)
{
    nk_pe *pe = open_pe(ctx, path);
    const nk_pe_func *f;
    size_t n, total;
    assert_int_equal(nk_pe_funcs(pe, &f, &n, &total), NTKD_OK);
    /* the entry count is the exception directory's size over 12, as llvm-readobj reads it */
    const nk_pe_headers *h = nk_pe_hdr(pe);
    assert_int_equal(n, h->dirs[NK_PE_DIR_EXCEPTION].size / 12);
    nk_x64_unwind *u = malloc(sizeof *u);
    size_t v2 = 0;
    for (size_t i = 0; i < n; i++) {
        nk_pe_func res;
        if (nk_pe_x64_unwind(pe, &f[i], u, &res) != NTKD_OK) fail_msg("%s: 0x%x: %s", path, f[i].begin, ntkd_ctx_error(ctx));
        if (u->version == 2) v2++;
        uint32_t size = 0;
        for (size_t k = 0; k < u->ncodes; k++) {
            const nk_x64_code *c = &u->codes[k];
            assert_true(c->valid);
            if (c->op == NK_UWOP_EPILOG) {
                assert_int_equal(u->version, 2);
                uint32_t at;
                if (c->epilog_first) {
                    size = c->value;
                    if (!c->epilog_at_end) continue;
                    at = f[i].end - size;
                } else {
                    if (c->value == 0) continue; /* padding */
                    at = f[i].end - c->value;
                }
                /* the epilog's last byte is its ret */
                uint8_t last;
                assert_true(size > 0 && size < 16);
                assert_int_equal(nk_pe_read(pe, at + size - 1, &last, 1, NULL), NTKD_OK);
                if (last != 0xc3) fail_msg("%s: function 0x%x: epilog at 0x%x (size %u) does not end in ret", path, f[i].begin, at, size);
                (*n_epilogs)++;
                continue;
            }
            if (c->code_offset > u->prolog_size) fail_msg("%s: 0x%x: code offset past the prolog", path, f[i].begin);
            bool known;
            if (!prolog_insn_matches(pe, res.begin, c, &known))
                fail_msg("%s: function 0x%x: %s at offset 0x%x does not match its prolog instruction", path, f[i].begin,
                         nk_x64_uwop_name(c->op), c->code_offset);
            if (known) (*n_prolog_checked)++;
        }
        if (u->chained) {
            nk_pe_func prim;
            assert_int_equal(nk_pe_x64_primary(pe, &f[i], &prim, NULL), NTKD_OK);
        }
    }
    assert_true(v2 > n / 2);
    free(u);
    nk_pe_close(pe);
}

static void test_x64_v2_instruction_bytes(void **state)
{
    (void)state;
    ntkd_ctx *ctx = ntkd_ctx_new();
    size_t ne = 0, np = 0;
    check_v2_image(ctx, CORPUS "/symstore/amdppm.sys/c9c030003b000/amdppm.sys", &ne, &np);
    assert_true(ne > 400);
    check_v2_image(ctx, CORPUS "/symstore/Wdf01000.sys/a9a9d36ed1000/Wdf01000.sys", &ne, &np);
    assert_true(ne > 3000);
    assert_true(np > 5000);
    ntkd_ctx_free(ctx);
}

/* ---- ARM64 unwind data vs llvm-readobj --unwind ---------------------------------------- */

typedef enum semk {
    S_ALLOC, S_SETFP, S_ADDFP, S_NOP, S_END, S_ENDC, S_NEXT, S_FPLR, S_REGP, S_REG, S_LRPAIR, S_FREGP, S_FREG,
    S_PAC, S_TRAP, S_MFRAME, S_CONTEXT, S_CLEAR, S_BAD, S_OTHER,
} semk;

typedef struct sem {
    semk k;
    int r1, r2;
    long off;
    bool wb;
    unsigned long size;
} sem;

static sem my_sem(const nk_a64_code *c)
{
    sem s = {S_OTHER, c->reg, c->reg2, c->offset, c->writeback, c->size};
    switch (c->op) {
    case NK_A64_ALLOC_S:
    case NK_A64_ALLOC_M:
    case NK_A64_ALLOC_L: s.k = S_ALLOC; break;
    case NK_A64_SET_FP: s.k = S_SETFP; break;
    case NK_A64_ADD_FP: s.k = S_ADDFP; break;
    case NK_A64_NOP: s.k = S_NOP; break;
    case NK_A64_END: s.k = S_END; break;
    case NK_A64_END_C: s.k = S_ENDC; break;
    case NK_A64_SAVE_NEXT: s.k = S_NEXT; break;
    case NK_A64_SAVE_R19R20_X:
    case NK_A64_SAVE_REGP:
    case NK_A64_SAVE_REGP_X: s.k = S_REGP; break;
    case NK_A64_SAVE_FPLR:
    case NK_A64_SAVE_FPLR_X: s.k = S_FPLR; break;
    case NK_A64_SAVE_REG:
    case NK_A64_SAVE_REG_X: s.k = S_REG; break;
    case NK_A64_SAVE_LRPAIR: s.k = S_LRPAIR; break;
    case NK_A64_SAVE_FREGP:
    case NK_A64_SAVE_FREGP_X: s.k = S_FREGP; break;
    case NK_A64_SAVE_FREG:
    case NK_A64_SAVE_FREG_X: s.k = S_FREG; break;
    case NK_A64_PAC_SIGN_LR: s.k = S_PAC; break;
    case NK_A64_TRAP_FRAME: s.k = S_TRAP; break;
    case NK_A64_MACHINE_FRAME: s.k = S_MFRAME; break;
    case NK_A64_CONTEXT: s.k = S_CONTEXT; break;
    case NK_A64_CLEAR_UNWOUND_TO_CALL: s.k = S_CLEAR; break;
    default: break;
    }
    return s;
}

static int reg_of(const char *t, bool *fp)
{
    *fp = false;
    if (strncmp(t, "fp", 2) == 0) return 29;
    if (strncmp(t, "lr", 2) == 0) return 30;
    if (*t == 'd' || *t == 'q') *fp = true;
    return atoi(t + 1);
}

/* One instruction as llvm-readobj prints it, as the unwind effect it describes. In packed
 * listings the homing stores of x0-x7 are nops (their pre-indexed first store allocates). */
static bool llvm_sem(const char *t, bool packed, sem *s)
{
    memset(s, 0, sizeof *s);
    t = skip_ws(t);
    static const struct { const char *text; semk k; } fixed[] = {
        {"end_c", S_ENDC}, {"end", S_END}, {"nop", S_NOP}, {"save next", S_NEXT}, {"restore next", S_NEXT},
        {"clear unwound to call", S_CLEAR}, {"context", S_CONTEXT}, {"machine frame", S_MFRAME},
        {"trap frame", S_TRAP}, {"Bad opcode!", S_BAD}, {"INVALID!", S_BAD}, {"pacibsp", S_PAC},
        {"mov fp, sp", S_SETFP}, {"mov x29, sp", S_SETFP}, {"mov sp, fp", S_SETFP},
    };
    for (size_t i = 0; i < sizeof fixed / sizeof fixed[0]; i++)
        if (strcmp(t, fixed[i].text) == 0) {
            s->k = fixed[i].k;
            return true;
        }
    const char *h = strchr(t, '#');
    if (strncmp(t, "add fp, sp, #", 13) == 0 || strncmp(t, "sub sp, fp, #", 13) == 0) {
        s->k = S_ADDFP;
        s->size = strtoul(t + 13, NULL, 0);
        return true;
    }
    if ((strncmp(t, "sub sp, ", 8) == 0 || strncmp(t, "add sp, ", 8) == 0) && h) {
        s->k = S_ALLOC;
        s->size = strtoul(h + 1, NULL, 0);
        return true;
    }
    bool ld = strncmp(t, "ldp ", 4) == 0 || strncmp(t, "ldr ", 4) == 0;
    bool st = strncmp(t, "stp ", 4) == 0 || strncmp(t, "str ", 4) == 0;
    if (!ld && !st) return false;
    bool pair = t[2] == 'p';
    const char *p = t + 4;
    bool fp1, fp2 = false;
    s->r1 = reg_of(p, &fp1);
    if (pair) {
        const char *c = strchr(p, ',');
        if (!c) return false;
        s->r2 = reg_of(skip_ws(c + 1), &fp2);
    }
    const char *br = strchr(p, '[');
    if (!br) return false;
    const char *close = strchr(br, ']');
    if (!close) return false;
    const char *hash = strchr(br, '#');
    long k = hash ? strtol(hash + 1, NULL, 0) : 0;
    if (hash && hash < close) { /* [sp, #K] or [sp, #-K]! */
        s->off = k;
        s->wb = close[1] == '!';
    } else if (hash) { /* [sp], #K: post-index, the mirror of a pre-decrement */
        s->off = -k;
        s->wb = true;
    }
    if (fp1) s->k = pair ? S_FREGP : S_FREG;
    else if (pair && s->r1 == 29 && s->r2 == 30) s->k = S_FPLR;
    else if (pair && s->r2 == 30) s->k = S_LRPAIR;
    else s->k = pair ? S_REGP : S_REG;
    if (packed && s->k == S_REGP && s->r1 < 19) {
        if (s->wb) {
            s->k = S_ALLOC;
            s->size = (unsigned long)-s->off;
        } else {
            s->k = S_NOP;
        }
    }
    return true;
}

static bool sem_equal(const sem *a, const sem *b)
{
    if (a->k != b->k) return false;
    switch (a->k) {
    case S_ALLOC:
    case S_ADDFP: return a->size == b->size;
    case S_FPLR: return a->off == b->off && a->wb == b->wb;
    case S_REGP:
    case S_FREGP: return a->r1 == b->r1 && a->r2 == b->r2 && a->off == b->off && a->wb == b->wb;
    case S_REG:
    case S_FREG:
    case S_LRPAIR: return a->r1 == b->r1 && a->off == b->off && a->wb == b->wb;
    default: return true;
    }
}

typedef struct opline {
    unsigned long long raw; /* 0 in packed listings */
    char text[96];
} opline;

typedef struct a64_block {
    uint64_t function, xdata;
    bool packed, fragment, x, e, h;
    long flen, version, epi_off, epi_scopes, bcl, regf, regi, cr, fsize;
    opline pro[64];
    int npro;
    opline epi[64]; /* the packed epilogue (E) */
    int nepi;
    struct {
        long start, index;
        opline ops[64];
        int nops;
    } scopes[16];
    int nscopes;
    uint64_t routine, parameter;
    bool has_handler;
} a64_block;

static size_t parse_readobj_a64(char *out, a64_block **blocks)
{
    lines L = split_lines(out);
    size_t cap = 64, n = 0;
    a64_block *b = calloc(cap, sizeof *b), *cur = NULL;
    opline *list = NULL;
    int *count = NULL;
    for (size_t i = 0; i < L.n; i++) {
        const char *ln = L.v[i], *v;
        if (field(ln, "RuntimeFunction {")) {
            if (n == cap) {
                cap *= 2;
                b = realloc(b, cap * sizeof *b);
            }
            cur = &b[n++];
            memset(cur, 0, sizeof *cur);
            cur->packed = true;
            list = NULL;
            continue;
        }
        if (!cur) continue;
        if (list) {
            if (field(ln, "]")) { list = NULL; continue; }
            assert_true(*count < 64);
            opline *o = &list[(*count)++];
            const char *sc = strchr(ln, ';');
            if (sc) {
                o->raw = strtoull(skip_ws(ln), NULL, 16);
                snprintf(o->text, sizeof o->text, "%s", skip_ws(sc + 1));
            } else {
                o->raw = 0;
                snprintf(o->text, sizeof o->text, "%s", skip_ws(ln));
            }
            continue;
        }
        if ((v = field(ln, "Function:"))) cur->function = strchr(v, '(') ? paren_num(v) : num(v);
        else if ((v = field(ln, "ExceptionRecord:"))) { cur->xdata = strchr(v, '(') ? paren_num(v) : num(v); cur->packed = false; }
        else if ((v = field(ln, "Fragment:"))) cur->fragment = strcmp(v, "Yes") == 0;
        else if ((v = field(ln, "FunctionLength:"))) cur->flen = (long)num(v);
        else if ((v = field(ln, "Version:"))) cur->version = (long)num(v);
        else if ((v = field(ln, "ExceptionData:"))) cur->x = strcmp(v, "Yes") == 0;
        else if ((v = field(ln, "EpiloguePacked:"))) cur->e = strcmp(v, "Yes") == 0;
        else if ((v = field(ln, "EpilogueOffset:"))) cur->epi_off = (long)num(v);
        else if ((v = field(ln, "EpilogueScopes:"))) cur->epi_scopes = (long)num(v);
        else if ((v = field(ln, "ByteCodeLength:"))) cur->bcl = (long)num(v);
        else if ((v = field(ln, "RegF:"))) cur->regf = (long)num(v);
        else if ((v = field(ln, "RegI:"))) cur->regi = (long)num(v);
        else if ((v = field(ln, "HomedParameters:"))) cur->h = strcmp(v, "Yes") == 0;
        else if ((v = field(ln, "CR:"))) cur->cr = (long)num(v);
        else if ((v = field(ln, "FrameSize:"))) cur->fsize = (long)num(v);
        else if (field(ln, "Prologue [")) { list = cur->pro; count = &cur->npro; }
        else if (field(ln, "Epilogue [")) { list = cur->epi; count = &cur->nepi; }
        else if (field(ln, "EpilogueScope {")) { assert_true(cur->nscopes < 16); cur->nscopes++; }
        else if ((v = field(ln, "StartOffset:"))) cur->scopes[cur->nscopes - 1].start = (long)num(v);
        else if ((v = field(ln, "EpilogueStartIndex:"))) cur->scopes[cur->nscopes - 1].index = (long)num(v);
        else if (field(ln, "Opcodes [")) { list = cur->scopes[cur->nscopes - 1].ops; count = &cur->scopes[cur->nscopes - 1].nops; }
        else if ((v = field(ln, "Routine:"))) { cur->routine = num(v); cur->has_handler = true; }
        else if ((v = field(ln, "Parameter:"))) cur->parameter = num(v);
    }
    free(L.v);
    *blocks = b;
    return n;
}

/* Compares a listing with our decoded sequence from `start` (LLVM 14 ends a listing at its
 * first end or end_c). */
static void cmp_seq(const char *path, uint32_t fn, const char *what, const nk_a64_unwind *u, size_t start,
                    const opline *ops, int nops, bool packed, size_t *ncmp)
{
    nk_a64_code c[256];
    bool complete;
    size_t n = nk_a64_decode_seq(u, start, c, 256, &complete);
    /* LLVM 14 does not know these codes (nor their lengths): such a sequence is compared by
     * test_arm64_built_facts instead */
    for (size_t i = 0; i < n; i++)
        if (c[i].op == NK_A64_SAVE_ANY_REG || c[i].op == NK_A64_EC_CONTEXT || c[i].op == NK_A64_RESERVED) return;
    size_t m = 0;
    while (m < n) {
        m++;
        if (c[m - 1].op == NK_A64_END || c[m - 1].op == NK_A64_END_C) break;
    }
    if ((int)m != nops) fail_msg("%s: function 0x%x %s: %zu codes, llvm-readobj lists %d", path, fn, what, m, nops);
    for (size_t i = 0; i < m; i++) {
        if (!packed && ops[i].raw != c[i].raw)
            fail_msg("%s: function 0x%x %s code %zu: bytes 0x%llx, llvm-readobj 0x%llx", path, fn, what, i,
                     (unsigned long long)c[i].raw, ops[i].raw);
        sem want, mine = my_sem(&c[i]);
        if (!llvm_sem(ops[i].text, packed, &want)) fail_msg("%s: cannot read llvm-readobj's '%s'", path, ops[i].text);
        bool ok = sem_equal(&mine, &want);
        if (!ok && want.k == S_BAD && mine.k == S_PAC) ok = true; /* LLVM 14 does not know 0xfc */
        if (!ok)
            fail_msg("%s: function 0x%x %s code %zu (%s): ours k%d r%d/%d off %ld wb %d size %lu, llvm-readobj '%s'", path, fn,
                     what, i, nk_a64_op_name(c[i].op), mine.k, mine.r1, mine.r2, mine.off, mine.wb, mine.size, ops[i].text);
        (*ncmp)++;
    }
}

static void check_a64_readobj(ntkd_ctx *ctx, const char *path, size_t *ncmp, size_t *npacked)
{
    char *out = run("llvm-readobj-14 --unwind '%s'", path);
    assert_non_null(out);
    a64_block *b;
    size_t nb = parse_readobj_a64(out, &b);
    nk_pe *pe = open_pe(ctx, path);
    uint64_t base = nk_pe_hdr(pe)->image_base;
    const nk_pe_func *f;
    size_t n, total;
    assert_int_equal(nk_pe_funcs(pe, &f, &n, &total), NTKD_OK);
    assert_int_equal(n, nb);
    nk_a64_unwind *u = malloc(sizeof *u);
    for (size_t i = 0; i < n; i++) {
        a64_block *r = &b[i];
        assert_int_equal(base + f[i].begin, r->function);
        assert_int_equal(nk_pe_a64_unwind(pe, &f[i], u), NTKD_OK);
        assert_int_equal(u->function_length, r->flen);
        assert_int_equal(f[i].end - f[i].begin, u->function_length);
        if (r->packed) {
            assert_int_equal(u->flag, r->fragment ? 2 : 1);
            assert_int_equal(u->reg_f, r->regf);
            assert_int_equal(u->reg_i, r->regi);
            assert_int_equal(u->h, r->h);
            assert_int_equal(u->cr, r->cr);
            assert_int_equal(u->frame_size, r->fsize);
            assert_true(u->synthesized);
            if (u->cr != 2) cmp_seq(path, f[i].begin, "packed prologue", u, 0, r->pro, r->npro, true, ncmp);
            (*npacked)++;
        } else {
            assert_int_equal(u->flag, 0);
            assert_int_equal(base + u->xdata_rva, r->xdata);
            assert_int_equal(u->version, r->version);
            assert_int_equal(u->x, r->x);
            assert_int_equal(u->e, r->e);
            assert_int_equal(u->ncode_bytes, r->bcl);
            cmp_seq(path, f[i].begin, "prologue", u, 0, r->pro, r->npro, false, ncmp);
            if (u->e) {
                assert_int_equal(u->epilog_index, r->epi_off);
                if (u->epilog_index) cmp_seq(path, f[i].begin, "epilogue", u, u->epilog_index, r->epi, r->nepi, false, ncmp);
            } else {
                assert_int_equal(u->epilog_count, r->epi_scopes);
                assert_int_equal(r->nscopes, (int)u->epilog_count);
                for (uint32_t k = 0; k < u->epilog_count; k++) {
                    assert_int_equal(u->epilogs[k].start_offset / 4, r->scopes[k].start);
                    assert_int_equal(u->epilogs[k].start_index, r->scopes[k].index);
                    cmp_seq(path, f[i].begin, "epilog scope", u, u->epilogs[k].start_index, r->scopes[k].ops,
                            r->scopes[k].nops, false, ncmp);
                }
            }
            assert_int_equal(u->has_handler, r->has_handler);
            if (u->has_handler) {
                assert_int_equal(base + u->handler_rva, r->routine);
                assert_true(u->handler_data_present);
                assert_int_equal(u->handler_data, r->parameter);
            }
        }
        nk_a64_unwind_free(u);
        nk_pe_func g;
        assert_int_equal(nk_pe_func_find(pe, f[i].begin + u->function_length - 1, &g), NTKD_OK);
        assert_int_equal(g.begin, f[i].begin);
    }
    free(u);
    free(b);
    free(out);
    nk_pe_close(pe);
}

static void test_arm64_unwind_readobj(void **state)
{
    (void)state;
    if (!have_llvm()) skip();
    ntkd_ctx *ctx = ntkd_ctx_new();
    image_list L = {0};
    add_glob(&L, CORPUS "/pdb-fixtures/seh/ARM64/*.exe");
    add_glob(&L, CORPUS "/pdb-fixtures/seh/ARM64/*.dll");
    if (build_programs()) L.path[L.n++] = strdup(BUILD_DIR "/proga64.exe");
    assert_true(L.n >= 4);
    size_t ncmp = 0, npacked = 0;
    for (size_t i = 0; i < L.n; i++) check_a64_readobj(ctx, L.path[i], &ncmp, &npacked);
    assert_true(ncmp > 1000);
    assert_true(npacked > 50);
    free_list(&L);
    ntkd_ctx_free(ctx);
}

/* ---- ARM64 facts stated by the documentation and by the sources built here ------------- */

static void test_arm64_decoder_doc_examples(void **state)
{
    (void)state;
    /* "ARM64 exception handling", example 2: code words 0xe42291e1 */
    static const uint8_t ex2[] = {0xe1, 0x91, 0x22, 0xe4};
    nk_a64_code c;
    assert_int_equal(nk_a64_decode(ex2, 4, 0, &c), NTKD_OK);
    assert_int_equal(c.op, NK_A64_SET_FP);
    assert_int_equal(nk_a64_decode(ex2, 4, 1, &c), NTKD_OK);
    assert_int_equal(c.op, NK_A64_SAVE_FPLR_X); /* stp fp,lr,[sp,#-0x90]! */
    assert_int_equal(c.offset, -0x90);
    assert_true(c.writeback && c.pair && c.reg == 29 && c.reg2 == 30);
    assert_int_equal(nk_a64_decode(ex2, 4, 2, &c), NTKD_OK);
    assert_int_equal(c.op, NK_A64_SAVE_R19R20_X); /* stp x19,x20,[sp,#-0x10]! */
    assert_int_equal(c.offset, -0x10);
    assert_int_equal(nk_a64_decode(ex2, 4, 3, &c), NTKD_OK);
    assert_int_equal(c.op, NK_A64_END);
    /* the Arm64EC entry thunk's "E76689: stp q6,q7,[sp,#-0xA0]!" */
    static const uint8_t any[] = {0xe7, 0x66, 0x89};
    assert_int_equal(nk_a64_decode(any, 3, 0, &c), NTKD_OK);
    assert_int_equal(c.op, NK_A64_SAVE_ANY_REG);
    assert_int_equal(c.len, 3);
    assert_int_equal(c.regclass, NK_A64_REG_Q);
    assert_int_equal(c.reg, 6);
    assert_int_equal(c.reg2, 7);
    assert_true(c.pair && c.writeback);
    assert_int_equal(c.offset, -0xa0);
    /* code lengths are known from the first byte */
    static const struct { uint8_t b; uint8_t len; uint8_t op; } lens[] = {
        {0x1f, 1, NK_A64_ALLOC_S}, {0x3f, 1, NK_A64_SAVE_R19R20_X}, {0x7f, 1, NK_A64_SAVE_FPLR},
        {0xbf, 1, NK_A64_SAVE_FPLR_X}, {0xc7, 2, NK_A64_ALLOC_M}, {0xcb, 2, NK_A64_SAVE_REGP},
        {0xcf, 2, NK_A64_SAVE_REGP_X}, {0xd3, 2, NK_A64_SAVE_REG}, {0xd5, 2, NK_A64_SAVE_REG_X},
        {0xd7, 2, NK_A64_SAVE_LRPAIR}, {0xd9, 2, NK_A64_SAVE_FREGP}, {0xdb, 2, NK_A64_SAVE_FREGP_X},
        {0xdd, 2, NK_A64_SAVE_FREG}, {0xde, 2, NK_A64_SAVE_FREG_X}, {0xe0, 4, NK_A64_ALLOC_L},
        {0xe1, 1, NK_A64_SET_FP}, {0xe2, 2, NK_A64_ADD_FP}, {0xe3, 1, NK_A64_NOP}, {0xe4, 1, NK_A64_END},
        {0xe5, 1, NK_A64_END_C}, {0xe6, 1, NK_A64_SAVE_NEXT}, {0xe8, 1, NK_A64_TRAP_FRAME},
        {0xe9, 1, NK_A64_MACHINE_FRAME}, {0xea, 1, NK_A64_CONTEXT}, {0xeb, 1, NK_A64_EC_CONTEXT},
        {0xec, 1, NK_A64_CLEAR_UNWOUND_TO_CALL}, {0xfc, 1, NK_A64_PAC_SIGN_LR}, {0xf0, 1, NK_A64_RESERVED},
        {0xf8, 2, NK_A64_RESERVED}, {0xf9, 3, NK_A64_RESERVED}, {0xfa, 4, NK_A64_RESERVED}, {0xfb, 5, NK_A64_RESERVED},
    };
    for (size_t i = 0; i < sizeof lens / sizeof lens[0]; i++) {
        uint8_t buf[5] = {lens[i].b, 0x3f, 0x3f, 0x3f, 0x3f};
        assert_int_equal(nk_a64_decode(buf, 5, 0, &c), NTKD_OK);
        if (c.len != lens[i].len || c.op != lens[i].op)
            fail_msg("code 0x%02x: len %u op %s", lens[i].b, c.len, nk_a64_op_name(c.op));
        /* and a code that runs past the array is reported, not read */
        if (lens[i].len > 1) assert_int_equal(nk_a64_decode(buf, lens[i].len - 1u, 0, &c), NTKD_E_TRUNCATED);
    }
    /* field extraction: save_reg_x x(19+11)=lr at -(3+1)*8; alloc_l */
    static const uint8_t f1[] = {0xd5, 0x63, 0xe0, 0x01, 0x02, 0x03, 0xdd, 0x41};
    assert_int_equal(nk_a64_decode(f1, sizeof f1, 0, &c), NTKD_OK);
    assert_int_equal(c.reg, 30);
    assert_int_equal(c.offset, -32);
    assert_int_equal(nk_a64_decode(f1, sizeof f1, 2, &c), NTKD_OK);
    assert_int_equal(c.size, 0x010203u * 16);
    assert_int_equal(nk_a64_decode(f1, sizeof f1, 6, &c), NTKD_OK); /* str d13, [sp, #8] */
    assert_int_equal(c.reg, 13);
    assert_int_equal(c.offset, 8);
}

static void expect_codes(nk_pe *pe, uint32_t rva, const uint8_t *want, size_t n)
{
    nk_pe_func f;
    assert_int_equal(nk_pe_func_find(pe, rva, &f), NTKD_OK);
    nk_a64_unwind u;
    assert_int_equal(nk_pe_a64_unwind(pe, &f, &u), NTKD_OK);
    if (u.ncode_bytes < n || memcmp(u.codes, want, n) != 0) {
        char got[128] = "";
        for (size_t i = 0; i < u.ncode_bytes && i < 30; i++) snprintf(got + strlen(got), sizeof got - strlen(got), " %02x", u.codes[i]);
        fail_msg("function 0x%x: codes%s", rva, got);
    }
    nk_a64_unwind_free(&u);
}

static void test_arm64_built_facts(void **state)
{
    (void)state;
    if (!build_programs()) skip();
    ntkd_ctx *ctx = ntkd_ctx_new();
    nk_pe *pe = open_pe(ctx, BUILD_DIR "/proga64.exe");
    const nk_pe_func *f;
    size_t n, total;
    assert_int_equal(nk_pe_funcs(pe, &f, &n, &total), NTKD_OK);
    /* the functions appear in source order: g_all is the first .xdata entry with a handler */
    nk_a64_unwind *u = malloc(sizeof *u);
    bool g_all = false;
    for (size_t i = 0; i < n && !g_all; i++) {
        assert_int_equal(nk_pe_a64_unwind(pe, &f[i], u), NTKD_OK);
        if (u->flag == 0 && u->has_handler && u->handler_data == 7) {
            g_all = true;
            nk_a64_code c[64];
            bool complete;
            size_t m = nk_a64_decode_seq(u, 0, c, 64, &complete);
            assert_true(complete);
            /* the source's prolog, last instruction first */
            assert_int_equal(c[0].op, NK_A64_NOP);
            assert_int_equal(c[1].op, NK_A64_ADD_FP);
            assert_int_equal(c[1].size, 16);
            assert_int_equal(c[2].op, NK_A64_SAVE_FPLR);
            assert_int_equal(c[3].size, 32);
            assert_int_equal(c[4].size, 4000);
            assert_int_equal(c[5].op, NK_A64_ALLOC_L);
            assert_int_equal(c[5].size, 0xfff000);
            /* stp x21,x22,[sp,#16] and stp x23,x24,[sp,#32] after stp x19,x20,[sp,#-96]! */
            assert_int_equal(c[m - 2].op, NK_A64_SAVE_R19R20_X);
            assert_int_equal(c[m - 2].offset, -96);
            assert_int_equal(c[m - 3].op, NK_A64_SAVE_NEXT);
            assert_int_equal(c[m - 3].reg, 21);
            assert_int_equal(c[m - 3].reg2, 22);
            assert_int_equal(c[m - 3].offset, 16);
            assert_int_equal(c[m - 4].op, NK_A64_SAVE_NEXT);
            assert_int_equal(c[m - 4].reg, 23);
            assert_int_equal(c[m - 4].offset, 32);
            assert_int_equal(c[m - 5].op, NK_A64_SAVE_REG); /* str x25, [sp, #48] */
            assert_int_equal(c[m - 5].reg, 25);
            assert_int_equal(c[m - 6].op, NK_A64_SAVE_LRPAIR); /* stp x27, lr, [sp, #56] */
            assert_int_equal(c[m - 6].reg, 27);
            assert_int_equal(c[m - 6].offset, 56);
            assert_int_equal(u->epilog_count, 1);
        }
        nk_a64_unwind_free(u);
    }
    assert_true(g_all);
    free(u);
    /* the hand-written .pdata: packed entries against the documented canonical prologs */
    const nk_pe_export *e;
    (void)e;
    uint32_t p0 = 0;
    for (size_t i = 0; i < n; i++)
        if (f[i].unwind == 0x416101edu) p0 = f[i].begin;
    assert_true(p0 != 0);
    /* example 1: str x19,[sp,#-0x10]!; sub sp,sp,#0x810; stp fp,lr,[sp]; mov fp,sp */
    static const uint8_t ex1[] = {0xe1, 0x40, 0xc0, 0x81, 0xd4, 0x01, 0xe4};
    expect_codes(pe, p0, ex1, sizeof ex1);
    /* p9 (p0 + 9 * 256): CR=2, RegI=2, frame 64: pacibsp; stp x19,x20,[sp,#-16]!;
     * stp fp,lr,[sp,#-48]!; mov fp,sp */
    static const uint8_t p9[] = {0xe1, 0x85, 0x22, 0xfc, 0xe4};
    expect_codes(pe, p0 + 9 * 256, p9, sizeof p9);
    /* p5: CR=1, nothing else, frame 64: str lr,[sp,#-16]!; sub sp,sp,#48 */
    static const uint8_t p5[] = {0x03, 0xd5, 0x61, 0xe4};
    expect_codes(pe, p0 + 5 * 256, p5, sizeof p5);
    /* p2 fragment, homed parameters only: the first homing store allocates 64 bytes */
    static const uint8_t p2[] = {0x04, 0xe3, 0xe3, 0xe3, 0x04, 0xe4};
    expect_codes(pe, p0 + 2 * 256, p2, sizeof p2);
    /* x1: phantom prolog after end_c; x2: save_next extends a q-register pair by 32 bytes */
    uint32_t x1 = p0 + 10 * 256;
    nk_pe_func fx;
    assert_int_equal(nk_pe_func_find(pe, x1, &fx), NTKD_OK);
    nk_a64_unwind ux;
    assert_int_equal(nk_pe_a64_unwind(pe, &fx, &ux), NTKD_OK);
    nk_a64_code c[16];
    bool complete;
    assert_int_equal(nk_a64_decode_seq(&ux, 0, c, 16, &complete), 4);
    assert_true(complete);
    assert_int_equal(c[0].op, NK_A64_END_C);
    assert_int_equal(c[2].op, NK_A64_SAVE_FPLR_X);
    nk_a64_unwind_free(&ux);
    assert_int_equal(nk_pe_func_find(pe, x1 + 64, &fx), NTKD_OK);
    assert_int_equal(nk_pe_a64_unwind(pe, &fx, &ux), NTKD_OK);
    assert_int_equal(nk_a64_decode_seq(&ux, 0, c, 16, &complete), 5);
    assert_int_equal(c[0].op, NK_A64_SAVE_NEXT);
    assert_int_equal(c[0].regclass, NK_A64_REG_Q);
    assert_int_equal(c[0].reg, 8);
    assert_int_equal(c[0].offset, 32);
    assert_int_equal(c[1].op, NK_A64_SAVE_ANY_REG);
    assert_int_equal(c[3].op, NK_A64_PAC_SIGN_LR);
    nk_a64_unwind_free(&ux);
    /* x3: extended header (2 scopes, 1 code word), handler and its data */
    assert_int_equal(nk_pe_func_find(pe, x1 + 128, &fx), NTKD_OK);
    assert_int_equal(nk_pe_a64_unwind(pe, &fx, &ux), NTKD_OK);
    assert_true(ux.extended);
    assert_int_equal(ux.epilog_count, 2);
    assert_int_equal(ux.code_words, 1);
    assert_int_equal(ux.epilogs[0].start_offset, 40);
    assert_int_equal(ux.epilogs[1].start_offset, 48);
    assert_int_equal(ux.epilogs[1].start_index, 1);
    assert_true(ux.has_handler);
    assert_int_equal(ux.handler_rva, x1 + 128);
    assert_int_equal(ux.handler_data, 0xfeedf00du);
    assert_int_equal(ux.xdata_size, 8 + 8 + 4 + 4);
    nk_a64_unwind_free(&ux);
    nk_pe_close(pe);
    ntkd_ctx_free(ctx);
}

static void test_x86_has_no_pdata(void **state)
{
    (void)state;
    ntkd_ctx *ctx = ntkd_ctx_new();
    image_list L = {0};
    add_glob(&L, CORPUS "/pdb-fixtures/seh/x86/*.exe");
    add_glob(&L, CORPUS "/pdb-fixtures/dump_syms/basic32.dll");
    assert_true(L.n >= 4);
    for (size_t i = 0; i < L.n; i++) {
        nk_pe *pe = open_pe(ctx, L.path[i]);
        assert_int_equal(nk_pe_hdr(pe)->machine, NK_PE_MACHINE_I386);
        assert_false(nk_pe_hdr(pe)->pe32plus);
        const nk_pe_func *f;
        size_t n, total;
        assert_int_equal(nk_pe_funcs(pe, &f, &n, &total), NTKD_E_UNSUPPORTED);
        assert_non_null(strstr(ntkd_ctx_error(ctx), "x86 images have no .pdata"));
        nk_pe_func g;
        assert_int_equal(nk_pe_func_find(pe, 0x1000, &g), NTKD_E_UNSUPPORTED);
        nk_pe_close(pe);
    }
    free_list(&L);
    ntkd_ctx_free(ctx);
}

/* ---- memory layout: an image as loaded, with pages missing ----------------------------- */

typedef struct memimg {
    uint8_t *img;
    uint64_t base, size;
    uint8_t *missing; /* per 4 KB page */
} memimg;

static nk_status mem_read(void *user, uint64_t va, void *buf, size_t len, size_t *got)
{
    memimg *m = user;
    size_t done = 0;
    while (done < len) {
        uint64_t a = va + done;
        if (a < m->base || a - m->base >= m->size) break;
        uint64_t off = a - m->base;
        if (m->missing[off >> 12]) break;
        size_t k = 0x1000 - (off & 0xfff);
        if (k > len - done) k = len - done;
        if (k > m->size - off) k = (size_t)(m->size - off);
        memcpy((uint8_t *)buf + done, m->img + off, k);
        done += k;
    }
    *got = done;
    return done == len ? NTKD_OK : NTKD_E_NOTPRESENT;
}

/* Maps a file the way the loader does, from the section table llvm-readobj reads. */
static void load_image(const char *path, uint64_t base, memimg *m)
{
    char *out = run("llvm-readobj-14 --file-headers --sections '%s'", path);
    assert_non_null(out);
    FILE *fp = fopen(path, "rb");
    assert_non_null(fp);
    fseek(fp, 0, SEEK_END);
    long fsz = ftell(fp);
    uint8_t *file = malloc((size_t)fsz);
    fseek(fp, 0, SEEK_SET);
    assert_int_equal(fread(file, 1, (size_t)fsz, fp), (size_t)fsz);
    fclose(fp);
    lines L = split_lines(out);
    uint64_t soi = 0, soh = 0, va = 0, vs = 0, rs = 0, rp = 0;
    memset(m, 0, sizeof *m);
    m->base = base;
    for (size_t i = 0; i < L.n; i++) {
        const char *v;
        if ((v = field(L.v[i], "SizeOfImage:"))) {
            soi = num(v);
            m->size = soi;
            m->img = calloc(1, soi);
            m->missing = calloc(1, soi / 4096 + 1);
        } else if ((v = field(L.v[i], "SizeOfHeaders:"))) {
            soh = num(v);
            memcpy(m->img, file, soh);
        } else if ((v = field(L.v[i], "VirtualSize:"))) vs = num(v);
        else if ((v = field(L.v[i], "VirtualAddress:"))) va = num(v);
        else if ((v = field(L.v[i], "RawDataSize:"))) rs = num(v);
        else if ((v = field(L.v[i], "PointerToRawData:"))) {
            rp = num(v);
            uint64_t k = rs < vs ? rs : vs;
            assert_true(va + k <= soi && rp + k <= (uint64_t)fsz);
            memcpy(m->img + va, file + rp, k);
        }
    }
    assert_true(soi && soh);
    free(L.v);
    free(out);
    free(file);
}

static void free_image(memimg *m)
{
    free(m->img);
    free(m->missing);
}

static void miss(memimg *m, uint32_t rva) { m->missing[rva >> 12] = 1; }

/* Everything the file layout gives, the memory layout gives too. */
static void compare_layouts(ntkd_ctx *ctx, const char *path, uint64_t base)
{
    memimg m;
    load_image(path, base, &m);
    nk_pe *pf = open_pe(ctx, path), *pm;
    assert_int_equal(nk_pe_open_mem(ctx, "mem", base, m.size, mem_read, &m, &pm), NTKD_OK);
    assert_true(nk_pe_is_mem_layout(pm));
    assert_int_equal(nk_pe_base(pm), base);
    assert_memory_equal(nk_pe_hdr(pf), nk_pe_hdr(pm), sizeof(nk_pe_headers));
    assert_int_equal(nk_pe_section_count(pf), nk_pe_section_count(pm));
    const nk_pe_exports *ef, *em;
    nk_status s1 = nk_pe_exports_get(pf, &ef), s2 = nk_pe_exports_get(pm, &em);
    assert_int_equal(s1, s2);
    if (s1 == NTKD_OK) {
        assert_int_equal(ef->count, em->count);
        for (size_t i = 0; i < ef->count; i++) {
            assert_int_equal(ef->v[i].ordinal, em->v[i].ordinal);
            assert_int_equal(ef->v[i].rva, em->v[i].rva);
            assert_string_equal(ef->v[i].name ? ef->v[i].name : "", em->v[i].name ? em->v[i].name : "");
        }
    }
    const nk_pe_debug *df, *dm;
    s1 = nk_pe_debug_get(pf, &df);
    s2 = nk_pe_debug_get(pm, &dm);
    assert_int_equal(s1, s2);
    if (s1 == NTKD_OK) {
        assert_int_equal(df->count, dm->count);
        assert_memory_equal(&df->cv, &dm->cv, sizeof df->cv);
    }
    const nk_pe_version *vf, *vm;
    s1 = nk_pe_version_get(pf, &vf);
    s2 = nk_pe_version_get(pm, &vm);
    assert_int_equal(s1, s2);
    if (s1 == NTKD_OK) {
        assert_int_equal(vf->nstrings, vm->nstrings);
        for (size_t i = 0; i < vf->nstrings; i++) assert_string_equal(vf->strings[i].value, vm->strings[i].value);
    }
    const nk_pe_func *ff, *fm;
    size_t nf, nm, tf, tm;
    s1 = nk_pe_funcs(pf, &ff, &nf, &tf);
    s2 = nk_pe_funcs(pm, &fm, &nm, &tm);
    assert_int_equal(s1, s2);
    if (s1 == NTKD_OK) {
        assert_int_equal(nf, nm);
        assert_memory_equal(ff, fm, nf * sizeof *ff);
        for (size_t i = 0; i < nf; i++) {
            if (nk_pe_hdr(pf)->machine == NK_PE_MACHINE_AMD64) {
                nk_x64_unwind a, b;
                assert_int_equal(nk_pe_x64_unwind(pf, &ff[i], &a, NULL), NTKD_OK);
                assert_int_equal(nk_pe_x64_unwind(pm, &fm[i], &b, NULL), NTKD_OK);
                assert_memory_equal(&a, &b, offsetof(nk_x64_unwind, codes) + a.ncodes * sizeof a.codes[0]);
                assert_int_equal(a.handler_rva, b.handler_rva);
                assert_int_equal(a.size, b.size);
            } else {
                nk_a64_unwind a, b;
                assert_int_equal(nk_pe_a64_unwind(pf, &ff[i], &a), NTKD_OK);
                assert_int_equal(nk_pe_a64_unwind(pm, &fm[i], &b), NTKD_OK);
                assert_int_equal(a.ncode_bytes, b.ncode_bytes);
                assert_memory_equal(a.codes, b.codes, a.ncode_bytes);
                assert_int_equal(a.epilog_count, b.epilog_count);
                nk_a64_unwind_free(&a);
                nk_a64_unwind_free(&b);
            }
        }
    }
    nk_pe_close(pf);
    nk_pe_close(pm);
    free_image(&m);
}

static void test_memory_layout(void **state)
{
    (void)state;
    if (!have_llvm()) skip();
    ntkd_ctx *ctx = ntkd_ctx_new();
    const char *amd = CORPUS "/symstore/amdppm.sys/c9c030003b000/amdppm.sys";
    compare_layouts(ctx, amd, 0xfffff8048b570000ull);
    compare_layouts(ctx, CORPUS "/pdb-fixtures/seh/ARM64/xcpt4.exe", 0x7ff600000000ull);
    compare_layouts(ctx, CORPUS "/pdb-fixtures/seh/x86/xframe_eh_dll.dll", 0x10000000ull);
    if (build_programs()) compare_layouts(ctx, BUILD_DIR "/pe_dll.dll", 0x180000000ull);

    /* pages missing from a dump */
    memimg m;
    uint64_t base = 0xfffff8048b570000ull;
    load_image(amd, base, &m);
    nk_pe *pe;
    miss(&m, 0);
    assert_int_equal(nk_pe_open_mem(ctx, "amdppm.sys", base, m.size, mem_read, &m, &pe), NTKD_E_NOTPRESENT);
    assert_non_null(strstr(ntkd_ctx_error(ctx), "not present"));
    assert_non_null(strstr(ntkd_ctx_error(ctx), "amdppm.sys"));
    m.missing[0] = 0;
    nk_pe *pf = open_pe(ctx, amd);
    const nk_pe_headers *h = nk_pe_hdr(pf);
    const nk_pe_func *ff;
    size_t nf, tf;
    assert_int_equal(nk_pe_funcs(pf, &ff, &nf, &tf), NTKD_OK);
    uint32_t pdata = h->dirs[NK_PE_DIR_EXCEPTION].rva;
    uint32_t hole = ((pdata >> 12) + 1) << 12; /* the second page of .pdata */
    miss(&m, hole);
    /* the unwind info of the first function, the CodeView record, the version resource */
    nk_x64_unwind *u = malloc(sizeof *u);
    const nk_pe_debug *d;
    assert_int_equal(nk_pe_debug_get(pf, &d), NTKD_OK);
    uint32_t cv_rva = d->v[d->cv_index].rva;
    const nk_pe_version *v;
    assert_int_equal(nk_pe_version_get(pf, &v), NTKD_OK);
    uint32_t ver_rva = v->data_rva;
    miss(&m, cv_rva);
    miss(&m, ver_rva);
    /* pick a function whose unwind info lies on a page we keep missing */
    uint32_t uw_rva = ff[0].unwind;
    miss(&m, uw_rva);
    assert_int_equal(nk_pe_open_mem(ctx, "amdppm.sys", base, m.size, mem_read, &m, &pe), NTKD_OK);
    const nk_pe_func *fm;
    size_t nm, tm;
    assert_int_equal(nk_pe_funcs(pe, &fm, &nm, &tm), NTKD_OK);
    assert_int_equal(tm, nf);
    assert_true(nm < nf && nm >= nf - 4096 / 12 - 1);
    assert_true(nk_pe_warning_count(pe) > 0);
    size_t notpresent = 0, found = 0;
    for (size_t i = 0; i < nf; i++) {
        nk_pe_func g;
        nk_status st = nk_pe_func_find(pe, ff[i].begin, &g);
        uint32_t entry_rva = pdata + 12 * ff[i].index;
        if ((entry_rva >> 12) == (hole >> 12) || ((entry_rva + 11) >> 12) == (hole >> 12)) {
            assert_int_equal(st, NTKD_E_NOTPRESENT);
            assert_non_null(strstr(ntkd_ctx_error(ctx), "not present"));
            notpresent++;
        } else {
            assert_int_equal(st, NTKD_OK);
            assert_int_equal(g.begin, ff[i].begin);
            found++;
        }
    }
    /* the second page of .pdata holds the entries from the 342nd on */
    assert_int_equal(notpresent, nf - (4096 - (pdata & 0xfff)) / 12);
    assert_true(found > 300);
    assert_int_equal(nk_pe_x64_unwind(pe, &fm[0], u, NULL), NTKD_E_NOTPRESENT);
    assert_non_null(strstr(ntkd_ctx_error(ctx), "not present in dump"));
    assert_int_equal(nk_pe_debug_get(pe, &d), NTKD_OK);
    assert_int_equal(d->cv.kind, NK_PE_CV_NONE);
    assert_false(d->v[0].data_present);
    assert_int_equal(nk_pe_version_get(pe, &v), NTKD_E_NOTPRESENT);
    assert_non_null(strstr(ntkd_ctx_error(ctx), "not present in dump"));
    nk_pe_close(pe);
    nk_pe_close(pf);
    free_image(&m);
    free(u);
    ntkd_ctx_free(ctx);
}

/* Exports of a DLL with many names, with pages of its export data missing. */
static void test_memory_layout_exports(void **state)
{
    (void)state;
    if (!build_programs() || !have_llvm()) skip();
    /* 600 exports with long names spread the name strings over several pages */
    FILE *f = fopen(BUILD_DIR "/many.c", "w");
    assert_non_null(f);
    for (int i = 0; i < 600; i++)
        fprintf(f, "__declspec(dllexport) int export_with_a_long_name_for_page_spreading_%04d(void) { return %d; }\n", i, i);
    fclose(f);
    assert_int_equal(system("cd " BUILD_DIR " && clang-cl-14 --target=x86_64-pc-windows-msvc /O1 /GS- -c many.c /Fomany.obj "
                            ">/dev/null 2>&1 && lld-link-14 /dll /nodefaultlib /noentry /out:many.dll many.obj >/dev/null 2>&1"),
                     0);
    ntkd_ctx *ctx = ntkd_ctx_new();
    nk_pe *pf = open_pe(ctx, BUILD_DIR "/many.dll");
    const nk_pe_exports *ef;
    assert_int_equal(nk_pe_exports_get(pf, &ef), NTKD_OK);
    assert_int_equal(ef->count, 600);
    /* the page holding the 300th name */
    const nk_pe_export *mid = nk_pe_export_by_name(pf, "export_with_a_long_name_for_page_spreading_0300");
    assert_non_null(mid);
    uint32_t names_rva = 0;
    uint8_t dir[40];
    assert_int_equal(nk_pe_read(pf, nk_pe_hdr(pf)->dirs[0].rva, dir, 40, NULL), NTKD_OK);
    names_rva = dir[32] | dir[33] << 8 | dir[34] << 16 | (uint32_t)dir[35] << 24;
    uint8_t p[4];
    assert_int_equal(nk_pe_read(pf, names_rva + 4 * 300, p, 4, NULL), NTKD_OK);
    uint32_t name300 = p[0] | p[1] << 8 | p[2] << 16 | (uint32_t)p[3] << 24;
    memimg m;
    load_image(BUILD_DIR "/many.dll", 0x180000000ull, &m);
    if ((name300 >> 12) == (nk_pe_hdr(pf)->dirs[0].rva >> 12)) fail_msg("test layout: names share the directory's page");
    miss(&m, name300);
    nk_pe *pm;
    assert_int_equal(nk_pe_open_mem(ctx, "many.dll", 0x180000000ull, m.size, mem_read, &m, &pm), NTKD_OK);
    const nk_pe_exports *em;
    assert_int_equal(nk_pe_exports_get(pm, &em), NTKD_OK);
    assert_true(em->incomplete);
    assert_int_equal(em->count, 600);
    size_t unnamed = 0;
    for (size_t i = 0; i < em->count; i++) {
        if (!em->v[i].name) unnamed++;
        assert_int_equal(em->v[i].rva, ef->v[i].rva);
    }
    assert_true(unnamed > 10 && unnamed < 300);
    assert_null(nk_pe_export_by_name(pm, "export_with_a_long_name_for_page_spreading_0300"));
    assert_non_null(nk_pe_export_by_name(pm, "export_with_a_long_name_for_page_spreading_0000"));
    assert_true(nk_pe_warning_count(pm) > 0);
    nk_pe_close(pm);
    nk_pe_close(pf);
    free_image(&m);
    ntkd_ctx_free(ctx);
}

/* ---- truncated and corrupted images ---------------------------------------------------- */

/* Runs every parser over an image; any failure must come with a message naming it. */
static void exercise(ntkd_ctx *ctx, const char *name, const uint8_t *data, size_t size)
{
    nk_pe *pe;
    ctx->errmsg[0] = 0;
    nk_status st = nk_pe_open_buf(ctx, name, data, size, &pe);
    if (st != NTKD_OK) {
        if (strncmp(ntkd_ctx_error(ctx), name, strlen(name)) != 0) fail_msg("open: unnamed error '%s'", ntkd_ctx_error(ctx));
        return;
    }
#define NAMED(call)                                                                                        \
    do {                                                                                                   \
        ctx->errmsg[0] = 0;                                                                                \
        nk_status s_ = (call);                                                                             \
        if (s_ != NTKD_OK && strncmp(ntkd_ctx_error(ctx), name, strlen(name)) != 0)                        \
            fail_msg("%s: unnamed error '%s' (status %d)", #call, ntkd_ctx_error(ctx), s_);                \
    } while (0)
    const nk_pe_exports *ex;
    NAMED(nk_pe_exports_get(pe, &ex));
    if (ex)
        for (size_t i = 0; i < ex->count; i++) {
            if (ex->v[i].name) assert_non_null(nk_pe_export_by_name(pe, ex->v[i].name));
            nk_pe_export_at_or_below(pe, ex->v[i].rva);
        }
    const nk_pe_debug *d;
    NAMED(nk_pe_debug_get(pe, &d));
    char key[48];
    if (d) nk_pe_pdb_key(&d->cv, key);
    const nk_pe_version *v;
    NAMED(nk_pe_version_get(pe, &v));
    const nk_pe_func *f;
    size_t n = 0, total;
    NAMED(nk_pe_funcs(pe, &f, &n, &total));
    static nk_x64_unwind xu;
    static nk_a64_unwind au;
    for (size_t i = 0; i < n && i < 4000; i++) {
        if (nk_pe_hdr(pe)->machine == NK_PE_MACHINE_AMD64) {
            NAMED(nk_pe_x64_unwind(pe, &f[i], &xu, NULL));
            nk_pe_func prim;
            NAMED(nk_pe_x64_primary(pe, &f[i], &prim, NULL));
        } else {
            ctx->errmsg[0] = 0;
            nk_status s = nk_pe_a64_unwind(pe, &f[i], &au);
            if (s != NTKD_OK) assert_int_equal(strncmp(ntkd_ctx_error(ctx), name, strlen(name)), 0);
            else {
                nk_a64_code c[64];
                bool complete;
                nk_a64_decode_seq(&au, 0, c, 64, &complete);
                for (uint32_t k = 0; k < au.epilog_count && k < 8; k++) nk_a64_decode_seq(&au, au.epilogs[k].start_index, c, 64, &complete);
            }
            nk_a64_unwind_free(&au);
        }
        nk_pe_func g;
        NAMED(nk_pe_func_find(pe, f[i].begin, &g));
    }
    uint8_t buf[64];
    NAMED(nk_pe_read(pe, nk_pe_hdr(pe)->entry_rva, buf, sizeof buf, NULL));
#undef NAMED
    nk_pe_close(pe);
}

static uint8_t *slurp(const char *path, size_t *size)
{
    FILE *f = fopen(path, "rb");
    assert_non_null(f);
    fseek(f, 0, SEEK_END);
    *size = (size_t)ftell(f);
    fseek(f, 0, SEEK_SET);
    uint8_t *b = malloc(*size ? *size : 1);
    assert_int_equal(fread(b, 1, *size, f), *size);
    fclose(f);
    return b;
}

static uint64_t rng_state = 0x9e3779b97f4a7c15ull;
static uint64_t rng(void)
{
    rng_state ^= rng_state << 13;
    rng_state ^= rng_state >> 7;
    rng_state ^= rng_state << 17;
    return rng_state;
}

static void test_truncated_and_corrupted(void **state)
{
    (void)state;
    ntkd_ctx *ctx = ntkd_ctx_new();
    image_list L = {0};
    add_glob(&L, CORPUS "/symstore/amdppm.sys/*/amdppm.sys");
    add_glob(&L, CORPUS "/pdb-fixtures/seh/x64/xcpt4.exe");
    add_glob(&L, CORPUS "/pdb-fixtures/seh/ARM64/xcpt4.exe");
    add_glob(&L, CORPUS "/pdb-fixtures/seh/x86/xframe_eh_dll.dll");
    if (build_programs()) {
        L.path[L.n++] = strdup(BUILD_DIR "/pe_dll.dll");
        L.path[L.n++] = strdup(BUILD_DIR "/proga64.exe");
    }
    assert_true(L.n >= 4);
    for (size_t i = 0; i < L.n; i++) {
        size_t size;
        uint8_t *img = slurp(L.path[i], &size);
        const char *name = strrchr(L.path[i], '/') + 1;
        /* truncations: every 61 bytes through the headers, then through the file */
        for (size_t len = 0; len < size; len += len < 0x2000 ? 61 : size / 97 + 1) {
            uint8_t *t = malloc(len ? len : 1);
            memcpy(t, img, len);
            exercise(ctx, name, t, len);
            free(t);
        }
        /* corruptions: bytes and words set at random, weighted to the headers and directories */
        uint8_t *c = malloc(size);
        for (int k = 0; k < 400; k++) {
            memcpy(c, img, size);
            for (int j = 0; j < 1 + (int)(rng() % 4); j++) {
                size_t off = rng() % 3 == 0 ? rng() % (size < 0x400 ? size : 0x400) : rng() % size;
                static const uint32_t words[] = {0, 0xffffffffu, 0x7fffffffu, 0x80000000u, 0x1000, 0xfffffff0u};
                if (rng() % 2 && off + 4 <= size) {
                    uint32_t w = rng() % 2 ? words[rng() % 6] : (uint32_t)rng();
                    memcpy(c + off, &w, 4);
                } else {
                    c[off] = (uint8_t)rng();
                }
            }
            exercise(ctx, name, c, size);
        }
        free(c);
        free(img);
    }
    free_list(&L);
    ntkd_ctx_free(ctx);
}

/* Specific corruptions give the specific, located error. */
static void expect_open_error(ntkd_ctx *ctx, const uint8_t *img, size_t size, nk_status want, const char *text)
{
    nk_pe *pe = NULL;
    assert_int_equal(nk_pe_open_buf(ctx, "bad.sys", img, size, &pe), want);
    assert_null(pe);
    if (!strstr(ntkd_ctx_error(ctx), text)) fail_msg("expected '%s' in '%s'", text, ntkd_ctx_error(ctx));
    assert_memory_equal(ntkd_ctx_error(ctx), "bad.sys: ", 9);
}

static void put32(uint8_t *p, uint32_t v) { p[0] = (uint8_t)v, p[1] = (uint8_t)(v >> 8), p[2] = (uint8_t)(v >> 16), p[3] = (uint8_t)(v >> 24); }

static void test_specific_corruptions(void **state)
{
    (void)state;
    ntkd_ctx *ctx = ntkd_ctx_new();
    size_t size;
    uint8_t *img = slurp(CORPUS "/symstore/amdppm.sys/c9c030003b000/amdppm.sys", &size);
    uint8_t *c = malloc(size);
    uint32_t lfanew = img[0x3c] | img[0x3d] << 8;
    memcpy(c, img, size), c[0] = 'X';
    expect_open_error(ctx, c, size, NTKD_E_FORMAT, "no MZ signature");
    memcpy(c, img, size), put32(c + 0x3c, 0xfffffff0u);
    expect_open_error(ctx, c, size, NTKD_E_FORMAT, "e_lfanew 0xfffffff0 at offset 0x3c");
    memcpy(c, img, size), c[lfanew + 1] = 'X';
    expect_open_error(ctx, c, size, NTKD_E_FORMAT, "no PE signature");
    memcpy(c, img, size), c[lfanew + 24] = 0x99;
    expect_open_error(ctx, c, size, NTKD_E_UNSUPPORTED, "magic");
    expect_open_error(ctx, img, lfanew + 30, NTKD_E_TRUNCATED, "past the end of the file");
    memcpy(c, img, size), c[lfanew + 20] = 8, c[lfanew + 21] = 0; /* SizeOfOptionalHeader 8 */
    expect_open_error(ctx, c, size, NTKD_E_FORMAT, "SizeOfOptionalHeader 8");
    expect_open_error(ctx, img, 0, NTKD_E_TRUNCATED, "DOS header");

    /* directory contents */
    nk_pe *pe;
    const uint32_t opt = lfanew + 24, dirs = opt + 112;
    /* exception directory larger than the image */
    memcpy(c, img, size), put32(c + dirs + 3 * 8 + 4, 0xfffffff0u);
    assert_int_equal(nk_pe_open_buf(ctx, "bad.sys", c, size, &pe), NTKD_OK);
    const nk_pe_func *f;
    size_t n, total;
    assert_int_equal(nk_pe_funcs(pe, &f, &n, &total), NTKD_E_FORMAT);
    assert_non_null(strstr(ntkd_ctx_error(ctx), "more than the image can hold"));
    /* the error stays the same on a second call */
    assert_int_equal(nk_pe_funcs(pe, &f, &n, &total), NTKD_E_FORMAT);
    assert_non_null(strstr(ntkd_ctx_error(ctx), "more than the image can hold"));
    nk_pe_close(pe);
    /* an unwind info with version 5 */
    assert_int_equal(nk_pe_open_buf(ctx, "bad.sys", img, size, &pe), NTKD_OK);
    assert_int_equal(nk_pe_funcs(pe, &f, &n, &total), NTKD_OK);
    /* the first function whose unwind info has codes */
    nk_pe_func f0 = f[0];
    nk_x64_unwind *u = malloc(sizeof *u);
    for (size_t i = 0; i < n; i++) {
        assert_int_equal(nk_pe_x64_unwind(pe, &f[i], u, NULL), NTKD_OK);
        if (u->count_of_codes >= 2) {
            f0 = f[i];
            break;
        }
    }
    uint64_t uo;
    assert_true(nk_pe_rva_to_offset(pe, f0.unwind, &uo));
    nk_pe_close(pe);
    memcpy(c, img, size), c[uo] = (uint8_t)((c[uo] & ~7) | 5);
    assert_int_equal(nk_pe_open_buf(ctx, "bad.sys", c, size, &pe), NTKD_OK);
    assert_int_equal(nk_pe_x64_unwind(pe, &f0, u, NULL), NTKD_E_UNSUPPORTED);
    assert_non_null(strstr(ntkd_ctx_error(ctx), "version 5"));
    char where[64];
    snprintf(where, sizeof where, "file offset 0x%llx", (unsigned long long)uo);
    assert_non_null(strstr(ntkd_ctx_error(ctx), where));
    nk_pe_close(pe);
    /* codes that need more slots than the count gives */
    memcpy(c, img, size), c[uo + 2] = 1, c[uo + 5] = 0x05; /* one slot holding SAVE_NONVOL_FAR */
    assert_int_equal(nk_pe_open_buf(ctx, "bad.sys", c, size, &pe), NTKD_OK);
    assert_int_equal(nk_pe_x64_unwind(pe, &f0, u, NULL), NTKD_E_FORMAT);
    if (!strstr(ntkd_ctx_error(ctx), "needs 3 slots, 1 remain")) fail_msg("got '%s'", ntkd_ctx_error(ctx));
    nk_pe_close(pe);
    free(u);
    /* version resource directory entries past the resource section */
    memcpy(c, img, size), put32(c + dirs + 2 * 8 + 4, 8);
    assert_int_equal(nk_pe_open_buf(ctx, "bad.sys", c, size, &pe), NTKD_OK);
    const nk_pe_version *v;
    assert_int_not_equal(nk_pe_version_get(pe, &v), NTKD_OK);
    assert_memory_equal(ntkd_ctx_error(ctx), "bad.sys: ", 9);
    nk_pe_close(pe);
    free(c);
    free(img);

    /* exports: NumberOfFunctions beyond reason */
    if (build_programs()) {
        img = slurp(BUILD_DIR "/pe_dll.dll", &size);
        assert_int_equal(nk_pe_open_buf(ctx, "bad.dll", img, size, &pe), NTKD_OK);
        uint64_t eo;
        assert_true(nk_pe_rva_to_offset(pe, nk_pe_hdr(pe)->dirs[0].rva, &eo));
        nk_pe_close(pe);
        c = malloc(size);
        memcpy(c, img, size), put32(c + eo + 20, 0x7fffffffu);
        assert_int_equal(nk_pe_open_buf(ctx, "bad.dll", c, size, &pe), NTKD_OK);
        const nk_pe_exports *ex;
        assert_int_equal(nk_pe_exports_get(pe, &ex), NTKD_E_FORMAT);
        assert_non_null(strstr(ntkd_ctx_error(ctx), "NumberOfFunctions 2147483647"));
        assert_null(nk_pe_export_by_name(pe, "named_one"));
        nk_pe_close(pe);
        /* AddressOfNames pointing outside every section */
        memcpy(c, img, size), put32(c + eo + 32, 0x00f00000u);
        assert_int_equal(nk_pe_open_buf(ctx, "bad.dll", c, size, &pe), NTKD_OK);
        assert_int_equal(nk_pe_exports_get(pe, &ex), NTKD_E_FORMAT);
        assert_non_null(strstr(ntkd_ctx_error(ctx), "export name pointer table"));
        assert_non_null(strstr(ntkd_ctx_error(ctx), "in no section"));
        nk_pe_close(pe);
        free(c);
        free(img);
    }
    ntkd_ctx_free(ctx);
}

/* An NB10 CodeView record (VC 6 era): written over the RSDS record of a built image. */
static void test_debug_nb10(void **state)
{
    (void)state;
    if (!build_programs()) skip();
    ntkd_ctx *ctx = ntkd_ctx_new();
    size_t size;
    uint8_t *img = slurp(BUILD_DIR "/prog64.exe", &size);
    nk_pe *pe;
    assert_int_equal(nk_pe_open_buf(ctx, "prog64.exe", img, size, &pe), NTKD_OK);
    const nk_pe_debug *d;
    assert_int_equal(nk_pe_debug_get(pe, &d), NTKD_OK);
    assert_int_equal(d->cv.kind, NK_PE_CV_RSDS);
    uint32_t off = d->v[d->cv_index].file_ptr, len = d->v[d->cv_index].size;
    nk_pe_close(pe);
    assert_true(len >= 16 + 8);
    memcpy(img + off, "NB10", 4);
    put32(img + off + 4, 0);
    put32(img + off + 8, 0x3b7d8410u);
    put32(img + off + 12, 0x2a);
    memcpy(img + off + 16, "old.pdb", 8);
    assert_int_equal(nk_pe_open_buf(ctx, "prog64.exe", img, size, &pe), NTKD_OK);
    assert_int_equal(nk_pe_debug_get(pe, &d), NTKD_OK);
    assert_int_equal(d->cv.kind, NK_PE_CV_NB10);
    assert_int_equal(d->cv.signature, 0x3b7d8410u);
    assert_int_equal(d->cv.age, 0x2a);
    assert_string_equal(d->cv.pdb_path, "old.pdb");
    char key[48];
    assert_string_equal(nk_pe_pdb_key(&d->cv, key), "3B7D84102a");
    nk_pe_close(pe);
    /* an unknown signature is reported, and the entries stay listed */
    memcpy(img + off, "XXXX", 4);
    assert_int_equal(nk_pe_open_buf(ctx, "prog64.exe", img, size, &pe), NTKD_OK);
    assert_int_equal(nk_pe_debug_get(pe, &d), NTKD_OK);
    assert_int_equal(d->cv.kind, NK_PE_CV_NONE);
    assert_int_equal(d->cv_index, -1);
    assert_true(d->count >= 1);
    assert_true(nk_pe_warning_count(pe) >= 1);
    assert_non_null(strstr(nk_pe_warning(pe, nk_pe_warning_count(pe) - 1), "neither RSDS nor NB10"));
    nk_pe_close(pe);
    free(img);
    ntkd_ctx_free(ctx);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_headers_and_sections),
        cmocka_unit_test(test_exports),
        cmocka_unit_test(test_exports_built_dll),
        cmocka_unit_test(test_debug_directory),
        cmocka_unit_test(test_amdppm_pdb_identity),
        cmocka_unit_test(test_debug_nb10),
        cmocka_unit_test(test_version_resource),
        cmocka_unit_test(test_x64_unwind_readobj),
        cmocka_unit_test(test_x64_unwind_objdump),
        cmocka_unit_test(test_x64_built_codes),
        cmocka_unit_test(test_x64_v2_instruction_bytes),
        cmocka_unit_test(test_arm64_unwind_readobj),
        cmocka_unit_test(test_arm64_decoder_doc_examples),
        cmocka_unit_test(test_arm64_built_facts),
        cmocka_unit_test(test_x86_has_no_pdata),
        cmocka_unit_test(test_memory_layout),
        cmocka_unit_test(test_memory_layout_exports),
        cmocka_unit_test(test_truncated_and_corrupted),
        cmocka_unit_test(test_specific_corruptions),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
