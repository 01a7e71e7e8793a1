/* test_mdmp.c: the user-minidump container (src/dump/mdmp.c) and the user-dump commands
 * (src/cmd/cmd_user.c).
 *
 * Facts asserted come from outside ntkd:
 *  - the corpus README (architecture, Windows version, exception code of each dump);
 *  - rust-minidump's tests for test.dmp, which is the corpus's breakpad-x86-xp.dmp
 *    (minidump/tests/test_minidump.rs and minidump-processor/tests/test_processor.rs in
 *    rust-minidump/rust-minidump), and Breakpad's processor test of the same dump
 *    (network_source_line_resolver_server_unittest.cc: crash reason
 *    EXCEPTION_ACCESS_VIOLATION_WRITE at 0x45, user32 version 5.1.2600.2622);
 *  - rust-minidump's test_assertion for invalid-parameter.dmp (= crashtest-x64-1803.dmp,
 *    same SHA-256 5edaec6b...) and a public record of the same file (6 threads, 31 modules,
 *    crash thread 5896);
 *  - rizin's test/db/formats/mdmp for calc.dmp (= calc-x64-win7.dmp): 13 streams, AMD64,
 *    Windows NT 6.1.7601, header flags 0x40000, 26 module bases/sizes, 9 memory ranges with
 *    their file offsets;
 *  - the generator's manifest and pattern for generated minidumps;
 *  - minidumps built byte by byte below from Microsoft's documented MINIDUMP_* layouts. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cmocka.h>
#include <json-c/json.h>

#include "dump/dump.h"
#include "gen/pattern.h"
#include "mem/mem.h"

#define USER_DIR NTKD_CORPUS "/dumps/user/"

/* ---- helpers ------------------------------------------------------------------------ */

typedef struct opened {
    ntkd_ctx *ctx;
    ntkd_target *t;
} opened;

static ntkd_status try_open(const char *path, opened *o)
{
    o->ctx = ntkd_ctx_new();
    assert_non_null(o->ctx);
    o->t = NULL;
    return ntkd_open(o->ctx, path, NULL, &o->t);
}

static void must_open(const char *path, opened *o)
{
    ntkd_status st = try_open(path, o);
    if (st != NTKD_OK) fail_msg("open %s: %s", path, ntkd_ctx_error(o->ctx));
}

static void close_opened(opened *o)
{
    ntkd_close(o->t);
    ntkd_ctx_free(o->ctx);
    o->t = NULL;
    o->ctx = NULL;
}

static uint8_t *slurp(const char *path, size_t *len)
{
    FILE *f = fopen(path, "rb");
    if (!f) fail_msg("cannot read %s", path);
    fseek(f, 0, SEEK_END);
    long n = ftell(f);
    fseek(f, 0, SEEK_SET);
    uint8_t *b = malloc((size_t)n + 1);
    assert_non_null(b);
    assert_int_equal(fread(b, 1, (size_t)n, f), (size_t)n);
    fclose(f);
    *len = (size_t)n;
    return b;
}

static void spit(const char *path, const uint8_t *b, size_t len)
{
    FILE *f = fopen(path, "wb");
    if (!f) fail_msg("cannot write %s", path);
    if (len) assert_int_equal(fwrite(b, 1, len, f), len);
    fclose(f);
}

static uint32_t le32(const uint8_t *p) { return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24; }
static uint64_t le64(const uint8_t *p) { return le32(p) | (uint64_t)le32(p + 4) << 32; }
static void put16(uint8_t *p, uint16_t v) { p[0] = (uint8_t)v; p[1] = (uint8_t)(v >> 8); }
static void put32(uint8_t *p, uint32_t v) { for (int i = 0; i < 4; i++) p[i] = (uint8_t)(v >> (8 * i)); }
static void put64(uint8_t *p, uint64_t v) { for (int i = 0; i < 8; i++) p[i] = (uint8_t)(v >> (8 * i)); }

static const nk_module *module_at(const ntkd_target *t, uint64_t base)
{
    for (size_t i = 0; i < t->d.nmodules; i++)
        if (t->d.modules[i].base == base) return &t->d.modules[i];
    return NULL;
}

static const nk_hdr_field *field(const ntkd_target *t, const char *section, const char *name)
{
    for (size_t i = 0; i < t->d.nfields; i++)
        if (strcmp(t->d.fields[i].section, section) == 0 && strcmp(t->d.fields[i].name, name) == 0)
            return &t->d.fields[i];
    return NULL;
}

static bool ends_with(const char *s, const char *suffix)
{
    size_t a = strlen(s), b = strlen(suffix);
    return a >= b && strcmp(s + a - b, suffix) == 0;
}

/* Runs one command and returns its output (malloc'ed). */
static char *run(ntkd_target *t, const char *cmd, bool json, ntkd_status *st)
{
    char *buf = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&buf, &len);
    assert_non_null(f);
    bool quit = false;
    ntkd_status s = ntkd_execute(t, cmd, f, json ? NTKD_OUT_JSON : NTKD_OUT_TEXT, &quit);
    fclose(f);
    if (st) *st = s;
    return buf;
}

static bool has_line(const char *out, const char *line)
{
    size_t n = strlen(line);
    for (const char *p = out; p && *p;) {
        const char *e = strchr(p, '\n');
        size_t l = e ? (size_t)(e - p) : strlen(p);
        if (l == n && memcmp(p, line, n) == 0) return true;
        p = e ? e + 1 : NULL;
    }
    return false;
}

/* x86 and x64 CONTEXT register offsets (winnt.h layouts, documented). */
#define X86_EIP 0xb8
#define X86_ESP 0xc4
#define X64_RSP 0x98
#define X64_RIP 0xf8

/* Every read of a dump that opened must stay inside what it claims: each memory range
 * readable end to end, each context inside the file. ASan reports any stray byte. */
static void sweep(ntkd_target *t, const uint8_t *file, size_t flen)
{
    const nk_dump *d = &t->d;
    for (size_t i = 0; i < d->nvranges; i++) {
        const nk_vrange *r = &d->vranges[i];
        assert_true(r->file_off <= flen && r->size <= flen - r->file_off);
        if (i) assert_true(d->vranges[i - 1].va + d->vranges[i - 1].size <= r->va);
        uint8_t *buf = malloc(r->size ? r->size : 1);
        assert_non_null(buf);
        size_t got = 0;
        assert_int_equal(ntkd_read_virt(t, r->va, buf, r->size, &got), NTKD_OK);
        assert_int_equal(got, r->size);
        assert_memory_equal(buf, file + r->file_off, r->size);
        free(buf);
    }
    for (size_t i = 0; i < d->nthreads; i++) {
        const nk_context *c = &d->threads[i].ctx;
        if (!c->data) continue;
        assert_true(c->data >= t->file.data && c->data + c->len <= t->file.data + t->file.size);
    }
    if (d->exception.ctx.data)
        assert_true(d->exception.ctx.data + d->exception.ctx.len <= t->file.data + t->file.size);
    for (size_t i = 0; i < d->nmodules; i++) {
        assert_non_null(d->modules[i].name);
        if (d->modules[i].cv_size)
            assert_true(d->modules[i].cv_off + d->modules[i].cv_size <= t->file.size);
    }
}

/* ---- breakpad-x86-xp.dmp (= rust-minidump testdata/test.dmp) ------------------------ */

static void test_breakpad_x86(void **state)
{
    (void)state;
    opened o;
    must_open(USER_DIR "breakpad-x86-xp.dmp", &o);
    const nk_dump *d = &o.t->d;
    /* corpus README: x86, Windows XP SP2 (build 2600), exception 0xC0000005 */
    assert_int_equal(d->kind, NK_KIND_USER_MINI);
    assert_int_equal(d->arch, NK_ARCH_X86);
    assert_int_equal(d->machine, NK_MACHINE_I386);
    assert_false(d->is64);
    assert_int_equal(d->paging, NK_PAGING_NONE);
    assert_int_equal(d->minor, 2600);
    assert_int_equal(d->major, 5);
    /* test_system_info: "Service Pack 2", "GenuineIntel family 6 model 13 stepping 8" */
    assert_string_equal(d->csd_version, "Service Pack 2");
    assert_int_equal(d->processor_level, 6);
    assert_int_equal(d->processor_revision, 0x0d08); /* model 13, stepping 8 */
    /* test_misc_info: process id 3932, create time 0x45d35f73 */
    assert_int_equal(d->process_id, 3932);
    assert_int_equal(d->process_create_time, 0x45d35f73);
    /* test_breakpad_info: dump thread 0x11c0, requesting thread 0xbf4 */
    const nk_mdmp_info *in = o.t->ext[NK_EXT_MDMP];
    assert_non_null(in);
    assert_true(in->has_breakpad_info);
    assert_int_equal(in->breakpad_dump_thread_id, 0x11c0);
    assert_int_equal(in->breakpad_requesting_thread_id, 0xbf4);

    /* test_module_list: 13 modules, in this order */
    static const char *const names[] = {
        "c:\\test_app.exe", "C:\\WINDOWS\\system32\\ntdll.dll",
        "C:\\WINDOWS\\system32\\kernel32.dll", "C:\\WINDOWS\\system32\\ole32.dll",
        "C:\\WINDOWS\\system32\\advapi32.dll", "C:\\WINDOWS\\system32\\rpcrt4.dll",
        "C:\\WINDOWS\\system32\\gdi32.dll", "C:\\WINDOWS\\system32\\user32.dll",
        "C:\\WINDOWS\\system32\\msvcrt.dll", "C:\\WINDOWS\\system32\\imm32.dll",
        "C:\\WINDOWS\\system32\\dbghelp.dll", "C:\\WINDOWS\\system32\\version.dll",
        "C:\\WINDOWS\\system32\\psapi.dll",
    };
    assert_int_equal(d->nmodules, 13);
    for (size_t i = 0; i < 13; i++) {
        assert_string_equal(d->modules[i].name, names[i]);
        assert_false(d->modules[i].unloaded);
    }
    /* modules[0]: base 0x400000, size 0x2d000, code id 45D35F6C2d000 (timestamp+size),
     * no version; debug file c:\test_app.pdb, debug id 5A9832E5287241C1838ED98914E9B7FF1 */
    assert_int_equal(d->modules[0].base, 0x400000);
    assert_int_equal(d->modules[0].size, 0x2d000);
    assert_int_equal(d->modules[0].timestamp, 0x45D35F6C);
    assert_false(d->modules[0].has_version);
    size_t flen;
    uint8_t *file = slurp(USER_DIR "breakpad-x86-xp.dmp", &flen);
    {
        const nk_module *m = &d->modules[0];
        assert_true(m->cv_size >= 24 + sizeof "c:\\test_app.pdb");
        const uint8_t *cv = file + m->cv_off;
        static const uint8_t guid[16] = {0xE5, 0x32, 0x98, 0x5A, 0x72, 0x28, 0xC1, 0x41,
                                         0x83, 0x8E, 0xD9, 0x89, 0x14, 0xE9, 0xB7, 0xFF};
        assert_memory_equal(cv, "RSDS", 4);
        assert_memory_equal(cv + 4, guid, 16);
        assert_int_equal(le32(cv + 20), 1);
        assert_string_equal((const char *)cv + 24, "c:\\test_app.pdb");
    }
    /* modules[12]: psapi.dll at 0x76bf0000, size 0xb000, code id 411096CAb000,
     * version 5.1.2600.2180 */
    const nk_module *ps = &d->modules[12];
    assert_int_equal(ps->base, 0x76bf0000);
    assert_int_equal(ps->size, 0xb000);
    assert_int_equal(ps->timestamp, 0x411096CA);
    assert_true(ps->has_version);
    assert_int_equal(ps->file_version_ms, (5u << 16) | 1);
    assert_int_equal(ps->file_version_ls, (2600u << 16) | 2180);
    assert_string_equal((const char *)file + ps->cv_off + 24, "psapi.pdb");
    /* Breakpad: the module at 0x77d43210 (user32) has version 5.1.2600.2622; kernel32 is
     * at 0x7c800000 */
    const nk_module *u32 = &d->modules[7];
    assert_true(0x77d43210 >= u32->base && 0x77d43210 - u32->base < u32->size);
    assert_int_equal(u32->file_version_ls, (2600u << 16) | 2622);
    assert_non_null(module_at(o.t, 0x7c800000));

    /* test_thread_list: two threads 0xbf4 and 0x11c0; thread 0's context eip 0x7c90eb94,
     * esp 0x12f320 */
    assert_int_equal(d->nthreads, 2);
    assert_int_equal(d->threads[0].id, 0xbf4);
    assert_int_equal(d->threads[1].id, 0x11c0);
    const nk_context *c0 = &d->threads[0].ctx;
    assert_non_null(c0->data);
    assert_int_equal(c0->arch, NK_ARCH_X86);
    assert_int_equal(c0->len, 0x2cc);
    assert_int_equal(le32(c0->data + X86_EIP), 0x7c90eb94);
    assert_int_equal(le32(c0->data + X86_ESP), 0x12f320);
    /* the stack memory: bytes at 0x12f31c are 0, the quadword there 0x7c90e9c000000000,
     * the last byte 0x12ffff is 0, the quadword at 0x12fff8 is 0x405443 */
    uint8_t b8[8];
    assert_int_equal(ntkd_read_virt(o.t, 0x12f31c, b8, 8, NULL), NTKD_OK);
    assert_int_equal(le64(b8), 0x7c90e9c000000000ull);
    assert_int_equal(le32(b8), 0);
    assert_int_equal(ntkd_read_virt(o.t, 0x12ffff, b8, 1, NULL), NTKD_OK);
    assert_int_equal(b8[0], 0);
    assert_int_equal(ntkd_read_virt(o.t, 0x12fff8, b8, 8, NULL), NTKD_OK);
    assert_int_equal(le64(b8), 0x405443);
    /* and nothing past the stack's end */
    size_t got = 99;
    assert_int_equal(ntkd_read_virt(o.t, 0x12fffc, b8, 8, &got), NTKD_E_NOTPRESENT);
    assert_int_equal(got, 4);

    /* test_exception: thread 0xbf4, code 0xc0000005, context eip 0x40429e esp 0x12fe84;
     * Breakpad/rust-minidump processor: write access violation, crash address 0x45 */
    const nk_exception *x = &d->exception;
    assert_true(x->present);
    assert_int_equal(x->thread_id, 0xbf4);
    assert_int_equal(x->code, 0xc0000005);
    assert_int_equal(x->nparams, 2);
    assert_int_equal(x->params[0], 1); /* write */
    assert_int_equal(x->params[1], 0x45);
    assert_int_equal(x->address, 0x40429e); /* the faulting instruction: the context's eip */
    assert_non_null(x->ctx.data);
    assert_int_equal(le32(x->ctx.data + X86_EIP), 0x40429e);
    assert_int_equal(le32(x->ctx.data + X86_ESP), 0x12fe84);
    /* the first context is the exception thread's own; the current thread is that thread */
    assert_int_equal(o.t->cur_thread, 0);
    assert_true(d->ncontexts >= 1);
    assert_ptr_equal(d->contexts[0].data, c0->data);
    assert_ptr_equal(o.t->cur_ctx.data, c0->data);

    /* .dumpdebug sees the header and every directory entry (9 in this file) */
    assert_non_null(field(o.t, "MINIDUMP_HEADER", "Signature"));
    const nk_hdr_field *ns = field(o.t, "MINIDUMP_HEADER", "NumberOfStreams");
    assert_non_null(ns);
    assert_int_equal(ns->value, le32(file + 8));
    size_t nstreamf = 0;
    for (size_t i = 0; i < d->nfields; i++) nstreamf += strcmp(d->fields[i].section, "Streams") == 0;
    assert_int_equal(nstreamf, le32(file + 8));
    assert_non_null(field(o.t, "Streams", "BreakpadInfoStream"));
    sweep(o.t, file, flen);
    free(file);
    close_opened(&o);
}

/* ---- calc-x64-win7.dmp (= rizin-testbins mdmp/calc.dmp) ----------------------------- */

static void test_calc_x64(void **state)
{
    (void)state;
    opened o;
    must_open(USER_DIR "calc-x64-win7.dmp", &o);
    const nk_dump *d = &o.t->d;
    /* README: x64, Windows 7 SP1 (build 7601), exception 0x80000003; rizin: AMD64,
     * "Windows NT Workstation 6.1.7601", flags 0x00040000, 13 streams */
    assert_int_equal(d->arch, NK_ARCH_X64);
    assert_int_equal(d->machine, NK_MACHINE_AMD64);
    assert_true(d->is64);
    assert_int_equal(d->minor, 7601);
    assert_int_equal(d->major, 6);
    const nk_mdmp_info *in = o.t->ext[NK_EXT_MDMP];
    assert_int_equal(in->os_minor, 1);
    assert_int_equal(in->flags, 0x40000);
    assert_int_equal(d->product_type, 1); /* Workstation */
    assert_string_equal(d->csd_version, "Service Pack 1");
    assert_true(d->exception.present);
    assert_int_equal(d->exception.code, 0x80000003);
    const nk_hdr_field *ns = field(o.t, "MINIDUMP_HEADER", "NumberOfStreams");
    assert_int_equal(ns->value, 13);

    /* rizin "mdmp sections": every module base and size */
    static const struct { uint64_t base, size; const char *file; } mods[] = {
        {0xfffe0000, 0xe3000, "calc.exe"},          {0x77720000, 0x1aa000, "ntdll.dll"},
        {0x77500000, 0x11f000, "kernel32.dll"},     {0x7fefd4a0000, 0x6a000, "KERNELBASE.dll"},
        {0x7fefeca0000, 0xd8a000, "shell32.dll"},   {0x7fefdab0000, 0x9f000, "msvcrt.dll"},
        {0x7fefd890000, 0x71000, "shlwapi.dll"},    {0x7fefdb50000, 0x67000, "gdi32.dll"},
        {0x77620000, 0xfa000, "user32.dll"},        {0x7fefdbc0000, 0xe000, "lpk.dll"},
        {0x7fefe450000, 0xca000, "usp10.dll"},      {0x7fefea90000, 0x203000, "ole32.dll"},
        {0x7fefe8d0000, 0x12d000, "rpcrt4.dll"},    {0x7fefd9d0000, 0xdb000, "advapi32.dll"},
        {0x7fefdff0000, 0x1f000, "sechost.dll"},    {0x7fefe520000, 0xda000, "oleaut32.dll"},
        {0x7fefbb40000, 0x56000, "uxtheme.dll"},    {0x7fefa140000, 0x3b000, "winmm.dll"},
        {0x7fefc330000, 0xc000, "version.dll"},     {0x7fefea00000, 0x2e000, "imm32.dll"},
        {0x7fefe340000, 0x109000, "msctf.dll"},     {0x7fefb560000, 0x161000, "WindowsCodecs.dll"},
        {0x7fefb710000, 0x18000, "dwmapi.dll"},     {0x7fefd2b0000, 0xf000, "CRYPTBASE.dll"},
        {0x7fefddb0000, 0x99000, "clbcatq.dll"},    {0x7fef62b0000, 0x54000, "oleacc.dll"},
    };
    for (size_t i = 0; i < sizeof mods / sizeof mods[0]; i++) {
        const nk_module *m = module_at(o.t, mods[i].base);
        if (!m) fail_msg("no module at %llx", (unsigned long long)mods[i].base);
        assert_int_equal(m->size, mods[i].size);
        char want[64];
        snprintf(want, sizeof want, "\\System32\\%s", mods[i].file);
        if (!ends_with(m->name, want)) fail_msg("module at %llx is %s", (unsigned long long)m->base, m->name);
    }
    assert_string_equal(d->modules[0].name, "C:\\Windows\\System32\\calc.exe");

    /* rizin "mdmp maps": the 9 memory ranges, with their file offsets */
    static const struct { uint64_t off, va, last; } maps[] = {
        {0x43ac, 0x0398f9b8, 0x0398ffff}, {0x49f4, 0x77639dea, 0x77639ee9},
        {0x4af4, 0x032cf638, 0x032cffff}, {0x54bc, 0x0367f868, 0x0367ffff},
        {0x5c54, 0x000bd0d8, 0x000bffff}, {0x8b7c, 0x03a7ff08, 0x03a7ffff},
        {0x8c74, 0x7776ad90, 0x7776ae8f}, {0x8d74, 0x7776bafa, 0x7776bbf9},
        {0x8e74, 0x7776c06a, 0x7776c169},
    };
    size_t flen;
    uint8_t *file = slurp(USER_DIR "calc-x64-win7.dmp", &flen);
    assert_int_equal(d->nvranges, 9);
    for (size_t i = 0; i < 9; i++) {
        size_t len = (size_t)(maps[i].last - maps[i].va + 1);
        uint8_t *buf = malloc(len);
        size_t got = 0;
        assert_int_equal(ntkd_read_virt(o.t, maps[i].va, buf, len, &got), NTKD_OK);
        assert_memory_equal(buf, file + maps[i].off, len);
        assert_int_equal(ntkd_read_virt(o.t, maps[i].last + 1, buf, 1, &got), NTKD_E_NOTPRESENT);
        free(buf);
    }
    /* the exception (a breakpoint) lies in ntdll, whose code the dump carries around it */
    const nk_module *nt = module_at(o.t, 0x77720000);
    assert_true(d->exception.address - nt->base < nt->size);
    /* the current thread is the exception's */
    assert_int_equal(d->threads[o.t->cur_thread].id, d->exception.thread_id);
    assert_non_null(d->exception.ctx.data);
    assert_int_equal(d->exception.ctx.len, 0x4d0);
    sweep(o.t, file, flen);
    free(file);
    close_opened(&o);
}

/* ---- crashtest-x64-1803.dmp (= rust-minidump testdata/invalid-parameter.dmp) -------- */

static void test_crashtest_x64(void **state)
{
    (void)state;
    opened o;
    must_open(USER_DIR "crashtest-x64-1803.dmp", &o);
    const nk_dump *d = &o.t->d;
    /* README: x64, build 17134, exception 0xC000000D, extra streams */
    assert_int_equal(d->arch, NK_ARCH_X64);
    assert_int_equal(d->minor, 17134);
    assert_int_equal(d->major, 10);
    assert_int_equal(d->exception.code, 0xc000000d);
    /* 6 threads, 31 modules, crash thread 5896 */
    assert_int_equal(d->nthreads, 6);
    assert_int_equal(d->nmodules, 31);
    assert_int_equal(d->exception.thread_id, 5896);
    assert_int_equal(d->threads[o.t->cur_thread].id, 5896);
    /* rust-minidump test_assertion: the Breakpad assertion stream */
    const nk_hdr_field *f;
    assert_non_null(f = field(o.t, "MINIDUMP_ASSERTION_INFO", "Expression"));
    assert_string_equal(f->text, "format != nullptr");
    assert_non_null(f = field(o.t, "MINIDUMP_ASSERTION_INFO", "Function"));
    assert_string_equal(f->text, "common_vfprintf");
    assert_non_null(f = field(o.t, "MINIDUMP_ASSERTION_INFO", "File"));
    assert_string_equal(f->text, "minkernel\\crts\\ucrt\\src\\appcrt\\stdio\\output.cpp");
    assert_non_null(f = field(o.t, "MINIDUMP_ASSERTION_INFO", "Line"));
    assert_int_equal(f->value, 32);
    assert_non_null(f = field(o.t, "MINIDUMP_ASSERTION_INFO", "Type"));
    assert_int_equal(f->value, 1); /* InvalidParameter */
    /* the extension streams are listed with their type numbers */
    size_t flen;
    uint8_t *file = slurp(USER_DIR "crashtest-x64-1803.dmp", &flen);
    uint32_t n = le32(file + 8), dir = le32(file + 12);
    size_t ext = 0;
    for (uint32_t i = 0; i < n; i++) {
        uint32_t type = le32(file + dir + 12 * i);
        if (type < 0x10000) continue;
        ext++;
        char want[40];
        snprintf(want, sizeof want, "type 0x%08x", type);
        bool found = false;
        for (size_t k = 0; k < d->nfields; k++)
            if (strcmp(d->fields[k].section, "Streams") == 0 && d->fields[k].text &&
                strstr(d->fields[k].text, want))
                found = true;
        assert_true(found);
    }
    assert_true(ext >= 1);
    sweep(o.t, file, flen);
    free(file);
    close_opened(&o);
}

/* ---- commands --------------------------------------------------------------------- */

static void test_commands_breakpad(void **state)
{
    (void)state;
    opened o;
    must_open(USER_DIR "breakpad-x86-xp.dmp", &o);
    ntkd_status st;
    /* | : process 3932 (0xf5c), the first module is the process image */
    char *out = run(o.t, "|", false, &st);
    assert_int_equal(st, NTKD_OK);
    assert_true(has_line(out, ".  0\tid: f5c\texamine\tname: c:\\test_app.exe"));
    free(out);
    /* ~ : two threads, the current one (the exception's) marked '.' */
    out = run(o.t, "~", false, &st);
    assert_int_equal(st, NTKD_OK);
    assert_non_null(strstr(out, ".  0  Id: f5c.bf4 Suspend: "));
    assert_non_null(strstr(out, "\n   1  Id: f5c.11c0 Suspend: "));
    assert_non_null(strstr(out, "Teb: 7ffdf000 Unfrozen"));
    free(out);
    /* ~1s switches thread and context; ~ then marks the exception thread with '#' */
    out = run(o.t, "~1s", false, &st);
    assert_int_equal(st, NTKD_OK);
    free(out);
    assert_int_equal(o.t->cur_thread, 1);
    assert_ptr_equal(o.t->cur_ctx.data, o.t->d.threads[1].ctx.data);
    out = run(o.t, "~", false, NULL);
    assert_non_null(strstr(out, "#  0  Id: f5c.bf4 "));
    assert_non_null(strstr(out, ".  1  Id: f5c.11c0 "));
    free(out);
    out = run(o.t, "~1", false, NULL);
    assert_non_null(strstr(out, ".  1  Id: f5c.11c0 "));
    assert_null(strstr(out, "bf4"));
    free(out);
    out = run(o.t, "~~[bf4]s", false, &st);
    assert_int_equal(st, NTKD_OK);
    free(out);
    assert_int_equal(o.t->cur_thread, 0);
    out = run(o.t, "~7s", false, &st);
    assert_int_not_equal(st, NTKD_OK);
    free(out);
    assert_int_equal(o.t->cur_thread, 0);
    /* .exr -1: write access violation at 0x45 by the instruction at 0x40429e in test_app */
    out = run(o.t, ".exr -1", false, &st);
    assert_int_equal(st, NTKD_OK);
    assert_true(has_line(out, "ExceptionAddress: 0040429e (test_app+0x429e)"));
    assert_true(has_line(out, "   ExceptionCode: c0000005 (Access violation)"));
    assert_true(has_line(out, "NumberParameters: 2"));
    assert_true(has_line(out, "   Parameter[0]: 00000001"));
    assert_true(has_line(out, "   Parameter[1]: 00000045"));
    assert_true(has_line(out, "Attempt to write to address 00000045"));
    free(out);
    out = run(o.t, ".exr -1", true, &st);
    json_object *j = json_tokener_parse(out);
    assert_non_null(j);
    json_object *v;
    assert_true(json_object_object_get_ex(j, "code", &v));
    assert_string_equal(json_object_get_string(v), "0xc0000005");
    assert_true(json_object_object_get_ex(j, "parameters", &v));
    assert_int_equal(json_object_array_length(v), 2);
    assert_string_equal(json_object_get_string(json_object_array_get_idx(v, 1)), "0x45");
    assert_true(json_object_object_get_ex(j, "access", &v));
    json_object *k;
    assert_true(json_object_object_get_ex(v, "kind", &k));
    assert_string_equal(json_object_get_string(k), "write");
    json_object_put(j);
    free(out);
    /* .ecxr makes the exception context current (its eip is 0x40429e) */
    out = run(o.t, "~1s", false, NULL);
    free(out);
    out = run(o.t, ".ecxr", false, NULL);
    free(out);
    assert_ptr_equal(o.t->cur_ctx.data, o.t->d.exception.ctx.data);
    assert_int_equal(le32(o.t->cur_ctx.data + X86_EIP), 0x40429e);
    assert_int_equal(o.t->cur_thread, 0);
    /* ~ in JSON */
    out = run(o.t, "~", true, &st);
    j = json_tokener_parse(out);
    assert_non_null(j);
    assert_true(json_object_object_get_ex(j, "threads", &v));
    assert_int_equal(json_object_array_length(v), 2);
    assert_true(json_object_object_get_ex(json_object_array_get_idx(v, 1), "id", &k));
    assert_string_equal(json_object_get_string(k), "0x11c0");
    json_object_put(j);
    free(out);
    /* .exr at an address the dump does not hold */
    out = run(o.t, ".exr 10", false, &st);
    assert_int_not_equal(st, NTKD_OK);
    assert_non_null(strstr(out, "Cannot read Exception record @ 00000010"));
    free(out);
    close_opened(&o);
}

/* ---- a minidump built from the documented layouts ----------------------------------- */

/* Writes a UTF-16 MINIDUMP_STRING at off; returns the offset after it. */
static size_t put_mdstring(uint8_t *b, size_t off, const char *s)
{
    size_t n = strlen(s);
    put32(b + off, (uint32_t)(2 * n));
    for (size_t i = 0; i < n; i++) put16(b + off + 4 + 2 * i, (uint8_t)s[i]);
    put16(b + off + 4 + 2 * n, 0);
    return off + 4 + 2 * n + 2;
}

#define SYN_SIZE 0x8000
#define SYN_CTX 0x1000     /* x64 CONTEXT */
#define SYN_MEM64 0x4000   /* Memory64 data */
#define SYN_RECORD_VA 0x10100

/* Streams: SystemInfo, ThreadExList, Memory64List, UnloadedModuleList, HandleData,
 * CommentA, CommentW, MiscInfo, Exception, ModuleList (with the 4-byte padding some writers
 * put after the count). */
static uint8_t *build_synthetic(size_t *len)
{
    uint8_t *b = calloc(1, SYN_SIZE);
    assert_non_null(b);
    const uint32_t nstreams = 10;
    memcpy(b, "MDMP", 4);
    put32(b + 4, 0xa793);
    put32(b + 8, nstreams);
    put32(b + 12, 0x20);
    size_t dir = 0x20, at = 0x200;
#define STREAM(i, type, off, size) (put32(b + dir + 12 * (i), (type)), put32(b + dir + 12 * (i) + 4, (size)), put32(b + dir + 12 * (i) + 8, (uint32_t)(off)))
    /* SystemInfo: x64, 4 processors, 10.0.19041 */
    size_t si = at;
    put16(b + si, 9);
    b[si + 6] = 4;
    put32(b + si + 8, 10);
    put32(b + si + 0x10, 19041);
    put32(b + si + 0x14, 2);
    STREAM(0, 7, si, 0x38);
    at += 0x40;
    /* ThreadExList: one thread, id 0x42, context at SYN_CTX */
    size_t tl = at;
    put32(b + tl, 1);
    uint8_t *th = b + tl + 4;
    put32(th, 0x42);
    put32(th + 4, 2);
    put64(th + 0x10, 0x7ff000);
    put64(th + 0x18, 0x10000);
    put32(th + 0x20, 0x100);
    put32(th + 0x24, SYN_MEM64);
    put32(th + 0x28, 0x4d0);
    put32(th + 0x2c, SYN_CTX);
    STREAM(1, 8, tl, 4 + 0x40);
    at += 0x48;
    put32(b + SYN_CTX + 0x30, 0x10000b);
    put64(b + SYN_CTX + X64_RSP, 0x10080);
    put64(b + SYN_CTX + X64_RIP, 0x140001000);
    /* Memory64: [0x10000,+0x1000) [0x20000,+0x800) [0x20400,+0x800) (the last two overlap) */
    size_t m64 = at;
    put64(b + m64, 3);
    put64(b + m64 + 8, SYN_MEM64);
    static const uint64_t r64[3][2] = {{0x10000, 0x1000}, {0x20000, 0x800}, {0x20400, 0x800}};
    for (int i = 0; i < 3; i++) {
        put64(b + m64 + 16 + 16 * i, r64[i][0]);
        put64(b + m64 + 24 + 16 * i, r64[i][1]);
    }
    STREAM(2, 9, m64, 16 + 3 * 16);
    at += 0x40;
    for (size_t i = 0; i < 0x2000; i++) b[SYN_MEM64 + i] = (uint8_t)(i * 7 + (i >> 8));
    /* an EXCEPTION_RECORD64 inside the first range at SYN_RECORD_VA */
    uint8_t *er = b + SYN_MEM64 + (SYN_RECORD_VA - 0x10000);
    memset(er, 0, 0x98);
    put32(er, 0xc0000005);
    put32(er + 4, 1);
    put64(er + 0x10, 0x140001000);
    put32(er + 0x18, 2);
    put64(er + 0x20, 8);
    put64(er + 0x28, 0x140001000);
    /* UnloadedModuleList: header 12, entry 24, two modules */
    size_t ul = at;
    put32(b + ul, 12);
    put32(b + ul + 4, 24);
    put32(b + ul + 8, 2);
    put64(b + ul + 12, 0x180000000);
    put32(b + ul + 20, 0x5000);
    put32(b + ul + 32, 0x3000); /* name rva */
    put64(b + ul + 36, 0x190000000);
    put32(b + ul + 44, 0x6000);
    put32(b + ul + 56, 0x3040);
    STREAM(3, 14, ul, 12 + 48);
    at += 0x40;
    put_mdstring(b, 0x3000, "C:\\gone\\first.dll");
    put_mdstring(b, 0x3040, "second.dll");
    /* HandleData: header 16, descriptor 40 (_2), two handles */
    size_t hd = at;
    put32(b + hd, 16);
    put32(b + hd + 4, 40);
    put32(b + hd + 8, 2);
    put64(b + hd + 16, 0x4);
    put32(b + hd + 24, 0x3080);
    put32(b + hd + 28, 0x30c0);
    put32(b + hd + 36, 0x120089);
    put64(b + hd + 56, 0x8);
    STREAM(4, 12, hd, 16 + 80);
    at += 0x60;
    put_mdstring(b, 0x3080, "File");
    put_mdstring(b, 0x30c0, "\\Device\\HarddiskVolume3\\x.txt");
    /* comments */
    memcpy(b + at, "ansi comment", 13);
    STREAM(5, 10, at, 13);
    at += 0x10;
    size_t cw = at;
    const char *wc = "wide comment";
    for (size_t i = 0; wc[i]; i++) put16(b + cw + 2 * i, (uint8_t)wc[i]);
    STREAM(6, 11, cw, 2 * (uint32_t)strlen(wc) + 2);
    at += 0x20;
    /* MiscInfo (version 1): process id 0x1234, create time 0x5000000 */
    size_t mi = at;
    put32(b + mi, 0x18);
    put32(b + mi + 4, 3);
    put32(b + mi + 8, 0x1234);
    put32(b + mi + 12, 0x5000000);
    STREAM(7, 15, mi, 0x18);
    at += 0x20;
    /* Exception: thread 0x42, breakpoint at 0x140001000, context = the thread's */
    size_t ex = at;
    put32(b + ex, 0x42);
    put32(b + ex + 8, 0x80000003);
    put64(b + ex + 0x18, 0x140001000);
    put32(b + ex + 0x20, 1);
    put32(b + ex + 0xa0, 0x4d0);
    put32(b + ex + 0xa4, SYN_CTX);
    STREAM(8, 6, ex, 0xa8);
    at += 0xb0;
    /* ModuleList with padding after the count: one module at 0x140000000 */
    size_t ml = at;
    put32(b + ml, 1);
    uint8_t *m = b + ml + 8;
    put64(m, 0x140000000);
    put32(m + 8, 0x20000);
    put32(m + 0x10, 0x5f000000);
    put32(m + 0x14, 0x3100);
    put32(m + 0x18, 0xfeef04bd);
    put32(m + 0x20, 0x000a0000);
    put32(m + 0x24, 0x4a610001);
    STREAM(9, 4, ml, 8 + 108);
    put_mdstring(b, 0x3100, "C:\\app\\synth.exe");
#undef STREAM
    *len = SYN_SIZE;
    return b;
}

static char tmpdir[256];

static void tmp_path(char *buf, size_t len, const char *name)
{
    snprintf(buf, len, "%s/%s", tmpdir, name);
}

static void test_synthetic(void **state)
{
    (void)state;
    size_t len;
    uint8_t *b = build_synthetic(&len);
    char path[512];
    tmp_path(path, sizeof path, "synthetic.dmp");
    spit(path, b, len);
    opened o;
    must_open(path, &o);
    const nk_dump *d = &o.t->d;
    const nk_mdmp_info *in = o.t->ext[NK_EXT_MDMP];
    assert_int_equal(d->arch, NK_ARCH_X64);
    assert_int_equal(d->nprocs, 4);
    assert_int_equal(d->minor, 19041);
    assert_int_equal(d->process_id, 0x1234);
    assert_int_equal(d->process_create_time, 0x5000000);
    /* ThreadExList */
    assert_int_equal(d->nthreads, 1);
    assert_int_equal(d->threads[0].id, 0x42);
    assert_int_equal(d->threads[0].suspend_count, 2);
    assert_int_equal(d->threads[0].teb, 0x7ff000);
    assert_int_equal(d->threads[0].stack_start, 0x10000);
    assert_ptr_equal(d->threads[0].ctx.data, o.t->file.data + SYN_CTX);
    assert_int_equal(le64(o.t->cur_ctx.data + X64_RIP), 0x140001000);
    /* Memory64: data consecutive from BaseRva; the overlap reads from the lower range */
    uint8_t buf[0x1000];
    assert_int_equal(ntkd_read_virt(o.t, 0x10000, buf, 0x1000, NULL), NTKD_OK);
    assert_memory_equal(buf, b + SYN_MEM64, 0x1000);
    assert_int_equal(ntkd_read_virt(o.t, 0x20000, buf, 0x800, NULL), NTKD_OK);
    assert_memory_equal(buf, b + SYN_MEM64 + 0x1000, 0x800);
    assert_int_equal(ntkd_read_virt(o.t, 0x20800, buf, 0x400, NULL), NTKD_OK);
    assert_memory_equal(buf, b + SYN_MEM64 + 0x1800 + 0x400, 0x400);
    size_t got;
    assert_int_equal(ntkd_read_virt(o.t, 0x20bf0, buf, 0x20, &got), NTKD_E_NOTPRESENT);
    assert_int_equal(got, 0x10);
    /* modules: the loaded one (padded list) with its version, then the unloaded ones */
    assert_int_equal(d->nmodules, 3);
    assert_string_equal(d->modules[0].name, "C:\\app\\synth.exe");
    assert_int_equal(d->modules[0].base, 0x140000000);
    assert_int_equal(d->modules[0].size, 0x20000);
    assert_int_equal(d->modules[0].timestamp, 0x5f000000);
    assert_true(d->modules[0].has_version);
    assert_int_equal(d->modules[0].file_version_ms, 0x000a0000);
    assert_false(d->modules[0].unloaded);
    assert_true(d->modules[1].unloaded);
    assert_string_equal(d->modules[1].name, "C:\\gone\\first.dll");
    assert_int_equal(d->modules[1].base, 0x180000000);
    assert_int_equal(d->modules[1].size, 0x5000);
    assert_true(d->modules[2].unloaded);
    assert_string_equal(d->modules[2].name, "second.dll");
    /* handles */
    assert_true(in->has_handles);
    assert_int_equal(in->handle_count, 2);
    assert_int_equal(in->nhandles, 2);
    assert_int_equal(in->handles[0].handle, 4);
    assert_string_equal(in->handles[0].type_name, "File");
    assert_string_equal(in->handles[0].object_name, "\\Device\\HarddiskVolume3\\x.txt");
    assert_int_equal(in->handles[0].granted_access, 0x120089);
    assert_int_equal(in->handles[1].handle, 8);
    assert_null(in->handles[1].type_name);
    assert_null(in->handles[1].object_name);
    /* comments */
    assert_string_equal(in->comment_a, "ansi comment");
    assert_string_equal(in->comment_w, "wide comment");
    assert_string_equal(d->comment, "ansi comment");
    /* exception */
    assert_true(d->exception.present);
    assert_int_equal(d->exception.code, 0x80000003);
    assert_ptr_equal(d->exception.ctx.data, o.t->file.data + SYN_CTX);
    assert_int_equal(ntkd_warning_count(o.t), 0);

    /* commands on it: .exr at an address, x64 shapes, an execute access violation */
    ntkd_status st;
    char *out = run(o.t, ".exr 10100", false, &st);
    assert_int_equal(st, NTKD_OK);
    assert_true(has_line(out, "ExceptionAddress: 00000001`40001000 (synth+0x1000)"));
    assert_true(has_line(out, "   ExceptionCode: c0000005 (Access violation)"));
    assert_true(has_line(out, "  ExceptionFlags: 00000001"));
    assert_true(has_line(out, "NumberParameters: 2"));
    assert_true(has_line(out, "   Parameter[0]: 0000000000000008"));
    assert_true(has_line(out, "   Parameter[1]: 0000000140001000"));
    assert_true(has_line(out, "Attempt to execute non-executable address 0000000140001000"));
    free(out);
    out = run(o.t, ".exr -1", false, &st);
    assert_true(has_line(out, "ExceptionAddress: 00000001`40001000 (synth+0x1000)"));
    assert_true(has_line(out, "   ExceptionCode: 80000003 (Break instruction exception)"));
    assert_true(has_line(out, "NumberParameters: 1"));
    assert_true(has_line(out, "   Parameter[0]: 0000000000000000"));
    free(out);
    out = run(o.t, "|", false, &st);
    assert_true(has_line(out, ".  0\tid: 1234\texamine\tname: C:\\app\\synth.exe"));
    free(out);
    out = run(o.t, "~", false, &st);
    assert_true(has_line(out, ".  0  Id: 1234.42 Suspend: 2 Teb: 00000000`007ff000 Unfrozen"));
    free(out);
    close_opened(&o);

    /* the same dump without SystemInfoStream: the context size tells x64, with a warning */
    put32(b + 0x20, 0); /* entry 0 becomes UnusedStream */
    spit(path, b, len);
    must_open(path, &o);
    assert_int_equal(o.t->d.arch, NK_ARCH_X64);
    assert_true(ntkd_warning_count(o.t) >= 1);
    close_opened(&o);
    unlink(path);
    free(b);
}

/* ---- hostile input -------------------------------------------------------------------- */

/* Opens a mutated copy: either it opens and every structure stays inside the file, or it
 * fails with a one-line message naming the file. Returns the open status; *nwarn gets the
 * warning count when it opened. */
static ntkd_status open_mutant(const uint8_t *b, size_t len, const char *name, size_t *nwarn,
                               char *err, size_t errlen)
{
    char path[512];
    tmp_path(path, sizeof path, name);
    spit(path, b, len);
    opened o;
    ntkd_status st = try_open(path, &o);
    if (nwarn) *nwarn = 0;
    if (st == NTKD_OK) {
        sweep(o.t, b, len);
        if (nwarn) *nwarn = ntkd_warning_count(o.t);
        for (size_t i = 0; i < ntkd_warning_count(o.t); i++)
            assert_non_null(strstr(ntkd_warning(o.t, i), name));
        /* the commands run on whatever is left */
        char *out;
        static const char *const cmds[] = {"|", "~", ".exr -1", ".ecxr", "~0s", "~#"};
        for (size_t i = 0; i < sizeof cmds / sizeof cmds[0]; i++) {
            out = run(o.t, cmds[i], false, NULL);
            free(out);
            out = run(o.t, cmds[i], true, NULL);
            free(out);
        }
        close_opened(&o);
    } else {
        const char *msg = ntkd_ctx_error(o.ctx);
        if (!strstr(msg, name) || !strstr(msg, "0x") || strchr(msg, '\n'))
            fail_msg("error does not name the file and an offset: %s", msg);
        if (err) snprintf(err, errlen, "%s", msg);
        ntkd_ctx_free(o.ctx);
    }
    unlink(path);
    return st;
}

static const char *const corpus_files[] = {"breakpad-x86-xp.dmp", "calc-x64-win7.dmp",
                                           "crashtest-x64-1803.dmp"};

static int u64_cmp(const void *a, const void *b)
{
    uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
    return x < y ? -1 : x > y;
}

static void test_truncations(void **state)
{
    (void)state;
    for (size_t fi = 0; fi < 3; fi++) {
        char src[512];
        snprintf(src, sizeof src, USER_DIR "%s", corpus_files[fi]);
        size_t flen;
        uint8_t *file = slurp(src, &flen);
        uint32_t n = le32(file + 8), dir = le32(file + 12);
        /* every stream boundary, the header and the directory, and the first memory
         * descriptors' data */
        uint64_t cuts[512];
        size_t nc = 0;
        cuts[nc++] = 0;
        cuts[nc++] = 4;
        cuts[nc++] = 0x1f;
        cuts[nc++] = dir + 12ull * n - 1;
        cuts[nc++] = dir + 12ull * n;
        uint64_t last_end = 0;
        for (uint32_t i = 0; i < n && nc + 4 < 512; i++) {
            uint32_t type = le32(file + dir + 12 * i), size = le32(file + dir + 12 * i + 4);
            uint32_t rva = le32(file + dir + 12 * i + 8);
            if (!type) continue;
            cuts[nc++] = rva;
            cuts[nc++] = rva + 1;
            cuts[nc++] = rva + size - 1;
            cuts[nc++] = rva + size;
            if (rva + size > last_end) last_end = rva + size;
        }
        qsort(cuts, nc, sizeof cuts[0], u64_cmp);
        for (size_t i = 0; i < nc; i++) {
            if (cuts[i] >= flen || (i && cuts[i] == cuts[i - 1])) continue;
            size_t nwarn;
            ntkd_status st = open_mutant(file, cuts[i], corpus_files[fi], &nwarn, NULL, 0);
            if (cuts[i] < dir + 12ull * n) {
                assert_int_not_equal(st, NTKD_OK);
            } else if (st == NTKD_OK && cuts[i] < last_end) {
                /* a stream is cut: that is reported */
                if (nwarn == 0) fail_msg("%s cut at 0x%llx: no warning", corpus_files[fi], (unsigned long long)cuts[i]);
            }
        }
        free(file);
    }
}

static void test_corruptions(void **state)
{
    (void)state;
    char err[512];
    for (size_t fi = 0; fi < 3; fi++) {
        char src[512];
        snprintf(src, sizeof src, USER_DIR "%s", corpus_files[fi]);
        const char *fn = corpus_files[fi];
        size_t flen;
        uint8_t *orig = slurp(src, &flen);
        uint8_t *b = malloc(flen);
        uint32_t n = le32(orig + 8), dir = le32(orig + 12);
#define RESET() memcpy(b, orig, flen)
        /* header: stream count, directory, version */
        RESET();
        put32(b + 8, 0xffffffff);
        assert_int_not_equal(open_mutant(b, flen, fn, NULL, err, sizeof err), NTKD_OK);
        assert_non_null(strstr(err, "NumberOfStreams"));
        RESET();
        put32(b + 8, 4000);
        assert_int_not_equal(open_mutant(b, flen, fn, NULL, err, sizeof err), NTKD_OK);
        assert_non_null(strstr(err, "stream directory"));
        RESET();
        put32(b + 12, 0xfffffff0);
        assert_int_not_equal(open_mutant(b, flen, fn, NULL, NULL, 0), NTKD_OK);
        RESET();
        put32(b + 4, 0xa794);
        assert_int_not_equal(open_mutant(b, flen, fn, NULL, err, sizeof err), NTKD_OK);
        assert_non_null(strstr(err, "Version"));
        for (uint32_t i = 0; i < n; i++) {
            uint8_t *e = b + dir + 12 * i;
            uint32_t type = le32(orig + dir + 12 * i), rva = le32(orig + dir + 12 * i + 8);
            uint32_t size = le32(orig + dir + 12 * i + 4);
            if (!type) continue;
            size_t nwarn;
            /* the stream's RVA past the end; its size past the end */
            RESET();
            put32(e + 8, 0xfffffff0);
            if (open_mutant(b, flen, fn, &nwarn, NULL, 0) == NTKD_OK) assert_true(nwarn > 0);
            RESET();
            put32(e + 4, 0xffffffff);
            if (open_mutant(b, flen, fn, &nwarn, NULL, 0) == NTKD_OK) assert_true(nwarn > 0);
            /* list counts: huge */
            if (type == 3 || type == 4 || type == 5) {
                RESET();
                put32(b + rva, 0xffffffff);
                assert_int_equal(open_mutant(b, flen, fn, &nwarn, NULL, 0), NTKD_OK);
                assert_true(nwarn > 0);
                RESET();
                put32(b + rva, le32(orig + rva) + 1);
                assert_int_equal(open_mutant(b, flen, fn, &nwarn, NULL, 0), NTKD_OK);
                assert_true(nwarn > 0);
            }
            /* every thread's context and stack RVA past the end; every module name past the
             * end; every memory descriptor's RVA past the end, and overlapping ranges */
            if (type == 3) {
                uint32_t cnt = le32(orig + rva);
                for (uint32_t k = 0; k < cnt; k++) {
                    uint8_t *th = b + rva + 4 + 48 * k;
                    RESET();
                    put32(th + 0x2c, 0xffffff00);
                    assert_int_equal(open_mutant(b, flen, fn, &nwarn, NULL, 0), NTKD_OK);
                    assert_true(nwarn > 0);
                    RESET();
                    put32(th + 0x28, 0x20); /* too small for a context */
                    assert_int_equal(open_mutant(b, flen, fn, &nwarn, NULL, 0), NTKD_OK);
                    assert_true(nwarn > 0);
                    RESET();
                    put32(th + 0x24, (uint32_t)flen - 4);
                    put64(th + 0x18, 0xdead0000);
                    assert_int_equal(open_mutant(b, flen, fn, NULL, NULL, 0), NTKD_OK);
                }
            }
            if (type == 4) {
                uint32_t cnt = le32(orig + rva);
                for (uint32_t k = 0; k < cnt; k += 5) {
                    uint8_t *m = b + rva + 4 + 108 * k;
                    RESET();
                    put32(m + 0x14, (uint32_t)flen - 2);
                    assert_int_equal(open_mutant(b, flen, fn, &nwarn, NULL, 0), NTKD_OK);
                    assert_true(nwarn > 0);
                    RESET();
                    put32(m + 0x14, le32(orig + rva + 4 + 108 * k + 0x14));
                    put32(b + le32(orig + rva + 4 + 108 * k + 0x14), 0x7fffffff);
                    assert_int_equal(open_mutant(b, flen, fn, &nwarn, NULL, 0), NTKD_OK);
                    assert_true(nwarn > 0);
                    RESET();
                    put32(m + 0x4c, 0x1000);
                    put32(m + 0x50, (uint32_t)flen - 0x10);
                    assert_int_equal(open_mutant(b, flen, fn, &nwarn, NULL, 0), NTKD_OK);
                    assert_true(nwarn > 0);
                }
            }
            if (type == 5) {
                uint32_t cnt = le32(orig + rva);
                for (uint32_t k = 0; k < cnt; k++) {
                    uint8_t *md = b + rva + 4 + 16 * k;
                    RESET();
                    put32(md + 12, (uint32_t)flen - 8);
                    assert_int_equal(open_mutant(b, flen, fn, &nwarn, NULL, 0), NTKD_OK);
                    assert_true(nwarn > 0);
                    if (k) {
                        RESET();
                        put64(md, le64(orig + rva + 4) + 8); /* overlaps range 0 */
                        assert_int_equal(open_mutant(b, flen, fn, NULL, NULL, 0), NTKD_OK);
                    }
                }
            }
            if (type == 6) {
                RESET();
                put32(b + rva + 0x20, 0xffff);
                assert_int_equal(open_mutant(b, flen, fn, &nwarn, NULL, 0), NTKD_OK);
                assert_true(nwarn > 0);
                RESET();
                put32(b + rva, 0x31337); /* a thread the list does not have */
                assert_int_equal(open_mutant(b, flen, fn, &nwarn, NULL, 0), NTKD_OK);
                assert_true(nwarn > 0);
                RESET();
                put32(b + rva + 0xa4, 0xfffffff0);
                assert_int_equal(open_mutant(b, flen, fn, &nwarn, NULL, 0), NTKD_OK);
                assert_true(nwarn > 0);
            }
            if (type == 7) {
                RESET();
                put16(b + rva, 0x1234);
                assert_int_not_equal(open_mutant(b, flen, fn, NULL, err, sizeof err), NTKD_OK);
                assert_non_null(strstr(err, "architecture"));
                RESET();
                put32(b + rva + 0x18, 0xfffffff0); /* CSDVersion */
                assert_int_equal(open_mutant(b, flen, fn, &nwarn, NULL, 0), NTKD_OK);
                assert_true(nwarn > 0);
            }
            if (type == 15 && size >= 4) {
                RESET();
                put32(b + rva, 0xffffffff);
                assert_int_equal(open_mutant(b, flen, fn, &nwarn, NULL, 0), NTKD_OK);
                assert_true(nwarn > 0);
            }
        }
        /* a sweep of single-byte damage over the header, the directory and every stream */
        for (uint32_t i = 0; i < n; i++) {
            uint32_t size = le32(orig + dir + 12 * i + 4), rva = le32(orig + dir + 12 * i + 8);
            if (!le32(orig + dir + 12 * i)) continue;
            for (uint32_t off = 0; off < size && off < 0x400; off += 7) {
                RESET();
                b[rva + off] ^= 0xa5;
                open_mutant(b, flen, fn, NULL, NULL, 0);
            }
        }
#undef RESET
        free(b);
        free(orig);
    }
}

/* ---- generated minidumps -------------------------------------------------------------- */

typedef struct manifest {
    uint64_t seed;
    char arch[16];
    struct { uint64_t base, size, ts, ck; char name[256]; } mods[256];
    size_t nmods;
    struct { uint64_t id, teb, stack, stack_size; } threads[256];
    size_t nthreads;
    struct { uint64_t va, size; } vr[1024];
    size_t nvr;
    bool has_exc;
    uint64_t exc_code, exc_addr, exc_tid;
    struct { char name[16]; uint64_t v; } regs[64];
    size_t nregs;
    struct { char key[64]; char val[512]; } hdr[256];
    size_t nhdr;
} manifest;

static bool gen_mdmp(const char *arch, const char *path, manifest *m)
{
    char cmd[1024];
    snprintf(cmd, sizeof cmd, "'%s' mdmp '%s' --arch %s --seed 7 >/dev/null 2>&1", NTKD_GENDUMP, path, arch);
    int rc = system(cmd);
    if (rc != 0) return false;
    char mp[600];
    snprintf(mp, sizeof mp, "%s.manifest", path);
    FILE *f = fopen(mp, "r");
    if (!f) return false;
    memset(m, 0, sizeof *m);
    char line[1024];
    while (fgets(line, sizeof line, f)) {
        line[strcspn(line, "\n")] = 0;
        unsigned long long a, b, c, d;
        char name[256];
        int pos = 0;
        if (sscanf(line, "seed %llx", &a) == 1) m->seed = a;
        else if (sscanf(line, "arch %15s", m->arch) == 1) {}
        else if (sscanf(line, "module %llx %llx %llx %llx %n", &a, &b, &c, &d, &pos) == 4 && pos && m->nmods < 256) {
            m->mods[m->nmods].base = a; m->mods[m->nmods].size = b;
            m->mods[m->nmods].ts = c; m->mods[m->nmods].ck = d;
            snprintf(m->mods[m->nmods].name, sizeof m->mods[m->nmods].name, "%s", line + pos);
            m->nmods++;
        } else if (sscanf(line, "thread %llx %llx %llx %llx", &a, &b, &c, &d) == 4 && m->nthreads < 256) {
            m->threads[m->nthreads].id = a; m->threads[m->nthreads].teb = b;
            m->threads[m->nthreads].stack = c; m->threads[m->nthreads].stack_size = d;
            m->nthreads++;
        } else if (sscanf(line, "vrange %llx %llx", &a, &b) == 2 && m->nvr < 1024) {
            m->vr[m->nvr].va = a; m->vr[m->nvr].size = b; m->nvr++;
        } else if (sscanf(line, "exception %llx %llx %llx", &a, &b, &c) == 3) {
            m->has_exc = true; m->exc_code = a; m->exc_addr = b; m->exc_tid = c;
        } else if (sscanf(line, "reg %15s %llx", name, &a) == 2 && m->nregs < 64) {
            snprintf(m->regs[m->nregs].name, sizeof m->regs[m->nregs].name, "%.15s", name);
            m->regs[m->nregs].v = a;
            m->nregs++;
        } else if (sscanf(line, "header %63s %n", name, &pos) == 1 && pos && m->nhdr < 256) {
            snprintf(m->hdr[m->nhdr].key, sizeof m->hdr[m->nhdr].key, "%.63s", name);
            snprintf(m->hdr[m->nhdr].val, sizeof m->hdr[m->nhdr].val, "%.511s", line + pos);
            m->nhdr++;
        }
    }
    fclose(f);
    return true;
}

static uint64_t hexval(const char *s)
{
    char *end;
    uint64_t v = strtoull(s, &end, 16);
    if (end == s) fail_msg("manifest value '%s' is not a number", s);
    return v;
}

/* The module whose path ends with "\<file>". */
static const nk_module *module_named(const ntkd_target *t, const char *file, bool unloaded)
{
    char suffix[300];
    snprintf(suffix, sizeof suffix, "\\%s", file);
    for (size_t i = 0; i < t->d.nmodules; i++)
        if (t->d.modules[i].unloaded == unloaded &&
            (strcmp(t->d.modules[i].name, file) == 0 || ends_with(t->d.modules[i].name, suffix)))
            return &t->d.modules[i];
    return NULL;
}

static uint64_t ctx_pc(const nk_context *c)
{
    return c->arch == NK_ARCH_X64 ? le64(c->data + X64_RIP) : le32(c->data + X86_EIP);
}
static uint64_t ctx_sp(const nk_context *c)
{
    return c->arch == NK_ARCH_X64 ? le64(c->data + X64_RSP) : le32(c->data + X86_ESP);
}

/* x64 and x86 CONTEXT offsets of the registers a manifest names (winnt.h layouts). */
static bool ctx_reg(const nk_context *c, const char *name, uint64_t *v)
{
    static const struct { const char *n; uint16_t off; uint8_t w; } x64[] = {
        {"rax", 0x78, 8}, {"rcx", 0x80, 8}, {"rdx", 0x88, 8}, {"rbx", 0x90, 8}, {"rsp", 0x98, 8},
        {"rbp", 0xa0, 8}, {"rsi", 0xa8, 8}, {"rdi", 0xb0, 8}, {"r8", 0xb8, 8}, {"r9", 0xc0, 8},
        {"r10", 0xc8, 8}, {"r11", 0xd0, 8}, {"r12", 0xd8, 8}, {"r13", 0xe0, 8}, {"r14", 0xe8, 8},
        {"r15", 0xf0, 8}, {"rip", 0xf8, 8}, {"efl", 0x44, 4}, {"cs", 0x38, 2}, {"ds", 0x3a, 2},
        {"es", 0x3c, 2}, {"fs", 0x3e, 2}, {"gs", 0x40, 2}, {"ss", 0x42, 2}, {"mxcsr", 0x34, 4},
    }, x86[] = {
        {"gs", 0x8c, 4}, {"fs", 0x90, 4}, {"es", 0x94, 4}, {"ds", 0x98, 4}, {"edi", 0x9c, 4},
        {"esi", 0xa0, 4}, {"ebx", 0xa4, 4}, {"edx", 0xa8, 4}, {"ecx", 0xac, 4}, {"eax", 0xb0, 4},
        {"ebp", 0xb4, 4}, {"eip", 0xb8, 4}, {"cs", 0xbc, 4}, {"efl", 0xc0, 4}, {"esp", 0xc4, 4},
        {"ss", 0xc8, 4},
    };
    const bool is64 = c->arch == NK_ARCH_X64;
    size_t n = is64 ? sizeof x64 / sizeof x64[0] : sizeof x86 / sizeof x86[0];
    for (size_t i = 0; i < n; i++) {
        const char *rn = is64 ? x64[i].n : x86[i].n;
        if (strcmp(rn, name) != 0) continue;
        uint16_t off = is64 ? x64[i].off : x86[i].off;
        uint8_t w = is64 ? x64[i].w : x86[i].w;
        *v = w == 8 ? le64(c->data + off) : w == 4 ? le32(c->data + off) : (uint64_t)(c->data[off] | c->data[off + 1] << 8);
        return true;
    }
    return false;
}

static void check_generated(const char *arch)
{
    char path[512];
    char name[64];
    snprintf(name, sizeof name, "gen-mdmp-%s.dmp", arch);
    tmp_path(path, sizeof path, name);
    manifest *m = calloc(1, sizeof *m);
    assert_non_null(m);
    if (!gen_mdmp(arch, path, m)) {
        free(m);
        fail_msg("ntkd-gendump mdmp --arch %s failed", arch);
    }
    opened o;
    must_open(path, &o);
    const nk_dump *d = &o.t->d;
    const nk_mdmp_info *in = o.t->ext[NK_EXT_MDMP];
    const bool is64 = strcmp(arch, "x64") == 0;
    assert_int_equal(d->kind, NK_KIND_USER_MINI);
    assert_int_equal(d->arch, is64 ? NK_ARCH_X64 : NK_ARCH_X86);
    assert_int_equal(ntkd_warning_count(o.t), 0);
    assert_true(m->nmods > 0 && m->nthreads > 0);
    for (size_t i = 0; i < m->nmods; i++) {
        const nk_module *mod = module_at(o.t, m->mods[i].base);
        if (!mod) fail_msg("manifest module %s at %llx missing", m->mods[i].name, (unsigned long long)m->mods[i].base);
        assert_false(mod->unloaded);
        assert_int_equal(mod->size, m->mods[i].size);
        assert_int_equal(mod->timestamp, m->mods[i].ts);
        assert_int_equal(mod->checksum, m->mods[i].ck);
        assert_string_equal(mod->name, m->mods[i].name);
    }
    assert_int_equal(d->nthreads, m->nthreads);
    for (size_t i = 0; i < m->nthreads; i++) {
        assert_int_equal(d->threads[i].id, m->threads[i].id);
        assert_int_equal(d->threads[i].teb, m->threads[i].teb);
        assert_int_equal(d->threads[i].stack_start, m->threads[i].stack);
        assert_int_equal(d->threads[i].stack_size, m->threads[i].stack_size);
        assert_non_null(d->threads[i].ctx.data);
    }
    assert_int_equal(d->exception.present, m->has_exc);
    if (m->has_exc) {
        assert_int_equal(d->exception.code, m->exc_code);
        assert_int_equal(d->exception.address, m->exc_addr);
        assert_int_equal(d->exception.thread_id, m->exc_tid);
        assert_int_equal(d->threads[o.t->cur_thread].id, m->exc_tid);
        assert_non_null(d->exception.ctx.data);
    }
    /* every byte of every manifest range, through the public read */
    assert_true(m->nvr > 0);
    for (size_t i = 0; i < m->nvr; i++) {
        uint8_t *buf = malloc(m->vr[i].size);
        assert_non_null(buf);
        size_t got = 0;
        assert_int_equal(ntkd_read_virt(o.t, m->vr[i].va, buf, m->vr[i].size, &got), NTKD_OK);
        if (!nk_gen_check(m->seed, m->vr[i].va, buf, m->vr[i].size))
            fail_msg("range %llx (0x%llx bytes) does not hold the pattern", (unsigned long long)m->vr[i].va,
                     (unsigned long long)m->vr[i].size);
        free(buf);
    }
    /* the manifest's `reg` lines are the context `r` shows on opening: the exception thread's
     * own context from the thread list (as WinDbg); `header Ecxr.<reg>` lines are the
     * exception stream's context, the one .ecxr switches to */
    const nk_context *rc = &o.t->cur_ctx;
    assert_true(m->nregs > 0);
    for (size_t i = 0; i < m->nregs; i++) {
        uint64_t v;
        if (!ctx_reg(rc, m->regs[i].name, &v)) continue; /* a register this test does not decode */
        if (v != m->regs[i].v)
            fail_msg("register %s = %llx, manifest %llx", m->regs[i].name, (unsigned long long)v,
                     (unsigned long long)m->regs[i].v);
    }
    size_t ecxr_seen = 0;
    for (size_t i = 0; i < m->nhdr; i++) {
        if (strncmp(m->hdr[i].key, "Ecxr.", 5) != 0) continue;
        uint64_t v;
        if (!ctx_reg(&d->exception.ctx, m->hdr[i].key + 5, &v)) continue;
        if (v != strtoull(m->hdr[i].val, NULL, 0))
            fail_msg("exception context %s = %llx, manifest %s", m->hdr[i].key + 5,
                     (unsigned long long)v, m->hdr[i].val);
        ecxr_seen++;
    }
    if (m->has_exc) assert_true(ecxr_seen > 0);
    /* header facts */
    size_t unloaded_seen = 0, handles_seen = 0;
    for (size_t i = 0; i < m->nhdr; i++) {
        const char *k = m->hdr[i].key, *v = m->hdr[i].val;
        const nk_hdr_field *f;
        unsigned long long tid;
        char sub[8], file[128];
        if (strcmp(k, "ProcessorArchitecture") == 0) assert_int_equal(in->processor_arch, hexval(v));
        else if (strcmp(k, "MajorVersion") == 0) assert_int_equal(d->major, hexval(v));
        else if (strcmp(k, "MinorVersion") == 0) assert_int_equal(in->os_minor, hexval(v));
        else if (strcmp(k, "BuildNumber") == 0) assert_int_equal(d->minor, hexval(v));
        else if (strcmp(k, "PlatformId") == 0) assert_int_equal(d->platform_id, hexval(v));
        else if (strcmp(k, "ProductType") == 0) assert_int_equal(d->product_type, hexval(v));
        else if (strcmp(k, "SuiteMask") == 0) assert_int_equal(d->suite_mask, hexval(v));
        else if (strcmp(k, "CSDVersion") == 0) assert_string_equal(d->csd_version, v);
        else if (strcmp(k, "ProcessId") == 0) assert_int_equal(d->process_id, hexval(v));
        else if (strcmp(k, "ProcessCreateTime") == 0) assert_int_equal(d->process_create_time, hexval(v));
        else if (strcmp(k, "TimeDateStamp") == 0) assert_int_equal(in->timestamp, hexval(v));
        else if (strcmp(k, "Flags") == 0) assert_int_equal(in->flags, hexval(v));
        else if (strcmp(k, "FileSize") == 0) assert_int_equal(o.t->file.size, hexval(v));
        else if (strcmp(k, "NumberOfStreams") == 0) {
            assert_non_null(f = field(o.t, "MINIDUMP_HEADER", "NumberOfStreams"));
            assert_int_equal(f->value, hexval(v));
        } else if (strcmp(k, "HandleCount") == 0) {
            assert_true(in->has_handles);
            assert_int_equal(in->handle_count, hexval(v));
            assert_int_equal(in->nhandles, hexval(v));
        } else if (sscanf(k, "Thread.%llx.%7s", &tid, sub) == 2) {
            const nk_thread *th = NULL;
            for (size_t t = 0; t < d->nthreads; t++)
                if (d->threads[t].id == tid) th = &d->threads[t];
            assert_non_null(th);
            if (strcmp(sub, "pc") == 0) assert_int_equal(ctx_pc(&th->ctx), hexval(v));
            else if (strcmp(sub, "sp") == 0) assert_int_equal(ctx_sp(&th->ctx), hexval(v));
            else fail_msg("unknown manifest fact %s", k);
        } else if (sscanf(k, "Cv.%127s", file) == 1) {
            const nk_module *mod = module_named(o.t, file, false);
            assert_non_null(mod);
            assert_true(mod->cv_size >= 25);
            const uint8_t *cv = o.t->file.data + mod->cv_off;
            assert_memory_equal(cv, "RSDS", 4);
            char id[600];
            snprintf(id, sizeof id, "%.*s/%08X%04X%04X%02X%02X%02X%02X%02X%02X%02X%02X%X",
                     (int)strnlen((const char *)cv + 24, mod->cv_size - 24), (const char *)cv + 24,
                     le32(cv + 4), cv[8] | cv[9] << 8, cv[10] | cv[11] << 8, cv[12], cv[13], cv[14],
                     cv[15], cv[16], cv[17], cv[18], cv[19], le32(cv + 20));
            assert_string_equal(id, v);
        } else if (sscanf(k, "Ver.%127s", file) == 1) {
            const nk_module *mod = module_named(o.t, file, false);
            assert_non_null(mod);
            unsigned a, b, c, e;
            assert_int_equal(sscanf(v, "%u.%u.%u.%u", &a, &b, &c, &e), 4);
            assert_true(mod->has_version);
            assert_int_equal(mod->file_version_ms, a << 16 | b);
            assert_int_equal(mod->file_version_ls, c << 16 | e);
        } else if (strncmp(k, "Unloaded.", 9) == 0) {
            unsigned long long base, size, ts;
            int pos = 0;
            assert_int_equal(sscanf(v, "%llx %llx %llx %n", &base, &size, &ts, &pos), 3);
            const nk_module *mod = module_at(o.t, base);
            assert_non_null(mod);
            assert_true(mod->unloaded);
            assert_int_equal(mod->size, size);
            assert_int_equal(mod->timestamp, ts);
            assert_string_equal(mod->name, v + pos);
            unloaded_seen++;
        } else if (strncmp(k, "Handle.", 7) == 0) {
            uint64_t h = hexval(k + 7);
            const nk_mdmp_handle *hd = NULL;
            for (size_t j = 0; j < in->nhandles; j++)
                if (in->handles[j].handle == h) hd = &in->handles[j];
            assert_non_null(hd);
            char type[64];
            int pos = 0;
            assert_int_equal(sscanf(v, "%63s %n", type, &pos), 1);
            assert_non_null(hd->type_name);
            assert_string_equal(hd->type_name, type);
            if (pos && v[pos]) {
                assert_non_null(hd->object_name);
                assert_string_equal(hd->object_name, v + pos);
            } else {
                assert_true(!hd->object_name || !hd->object_name[0]);
            }
            handles_seen++;
        } else if (strncmp(k, "ExceptionParam.", 15) == 0) {
            unsigned long long idx = strtoull(k + 15, NULL, 10);
            assert_true(idx < d->exception.nparams);
            assert_int_equal(d->exception.params[idx], hexval(v));
        } else {
            print_message("note: manifest fact %s not checked\n", k);
        }
    }
    size_t nunl = 0;
    for (size_t i = 0; i < d->nmodules; i++) nunl += d->modules[i].unloaded;
    assert_int_equal(nunl, unloaded_seen);
    assert_int_equal(in->nhandles, handles_seen);
    /* the commands on it */
    char *out = run(o.t, ".exr -1", false, NULL);
    char want[64];
    snprintf(want, sizeof want, "   ExceptionCode: %08llx", (unsigned long long)m->exc_code);
    assert_non_null(strstr(out, want));
    free(out);
    close_opened(&o);
    unlink(path);
    char mp[600];
    snprintf(mp, sizeof mp, "%s.manifest", path);
    unlink(mp);
    free(m);
}

static void test_generated_x64(void **state) { (void)state; check_generated("x64"); }
static void test_generated_x86(void **state) { (void)state; check_generated("x86"); }

/* ---- not a minidump ----------------------------------------------------------------- */

static void test_not_mdmp(void **state)
{
    (void)state;
    uint8_t b[64] = "MDMX";
    char path[512];
    tmp_path(path, sizeof path, "notmdmp.dmp");
    spit(path, b, sizeof b);
    opened o;
    assert_int_not_equal(try_open(path, &o), NTKD_OK);
    assert_null(strstr(ntkd_ctx_error(o.ctx), "MINIDUMP"));
    ntkd_ctx_free(o.ctx);
    /* MDMP and nothing more */
    spit(path, (const uint8_t *)"MDMP", 4);
    assert_int_not_equal(try_open(path, &o), NTKD_OK);
    assert_non_null(strstr(ntkd_ctx_error(o.ctx), "notmdmp.dmp"));
    ntkd_ctx_free(o.ctx);
    unlink(path);
}

static int setup(void **state)
{
    (void)state;
    snprintf(tmpdir, sizeof tmpdir, "test_mdmp_tmp_%ld", (long)getpid());
    char cmd[300];
    snprintf(cmd, sizeof cmd, "mkdir -p '%s'", tmpdir);
    return system(cmd) == 0 ? 0 : -1;
}

static int teardown(void **state)
{
    (void)state;
    char cmd[300];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", tmpdir);
    return system(cmd) == 0 ? 0 : -1;
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_breakpad_x86),
        cmocka_unit_test(test_calc_x64),
        cmocka_unit_test(test_crashtest_x64),
        cmocka_unit_test(test_commands_breakpad),
        cmocka_unit_test(test_synthetic),
        cmocka_unit_test(test_not_mdmp),
        cmocka_unit_test(test_truncations),
        cmocka_unit_test(test_corruptions),
        cmocka_unit_test(test_generated_x64),
        cmocka_unit_test(test_generated_x86),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
