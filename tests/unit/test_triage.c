/* test_triage.c: the small (triage) kernel dump body.
 *
 * Facts come from the corpus README (bugchecks, CPU and driver counts, the two contexts of
 * triage-x64-19041.dmp), from the symbol-store images next to it (the PE TimeDateStamp and
 * SizeOfImage of amdppm.sys and Wdf01000.sys), from the raw bytes of the dump read here
 * independently of the parser, and from ntkd-gendump manifests. Negative cases corrupt
 * copies of the corpus file in a temporary directory; the corpus is never written. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cmocka.h>

#include "dump/context.h"
#include "dump/dump.h"
#include "gen/pattern.h"
#include "mem/mem.h"
#include "test_util.h"

#define X64_DUMP NTKD_CORPUS "/dumps/kernel/triage-x64-19041.dmp"
#define ARM64_DUMP NTKD_CORPUS "/dumps/kernel/triage-arm64-22000.dmp"
#define SYMSTORE NTKD_CORPUS "/symstore"

/* ---- helpers ------------------------------------------------------------------------ */

static void spit(const char *path, const uint8_t *b, size_t len)
{
    FILE *f = fopen(path, "wb");
    assert_non_null(f);
    assert_int_equal(fwrite(b, 1, len, f), len);
    fclose(f);
}

static uint32_t get32(const uint8_t *b, size_t off) { return nk_le32(b + off); }
static uint64_t get64(const uint8_t *b, size_t off) { return nk_le64(b + off); }
static void put32(uint8_t *b, size_t off, uint32_t v)
{
    for (int i = 0; i < 4; i++) b[off + i] = (uint8_t)(v >> (8 * i));
}

static char tmpdir[64];

static int make_tmpdir(void **state)
{
    (void)state;
    snprintf(tmpdir, sizeof tmpdir, "/tmp/ntkd-triage-XXXXXX");
    return mkdtemp(tmpdir) ? 0 : -1;
}

static int remove_tmpdir(void **state)
{
    (void)state;
    return tu_rm_rf(tmpdir) == 0 ? 0 : -1;
}

/* ntkd_open, or a skip when the container parser is not there yet (it reports "not a Windows
 * dump" while src/dump/kdump64.c is a placeholder). */
static ntkd_target *open_or_skip(ntkd_ctx *ctx, const char *path)
{
    ntkd_target *t = NULL;
    ntkd_status st = ntkd_open(ctx, path, NULL, &t);
    if (st != NTKD_OK && strstr(ntkd_ctx_error(ctx), "not a Windows dump")) {
        print_message("kernel dump container not available yet: %s\n", ntkd_ctx_error(ctx));
        skip();
    }
    if (st != NTKD_OK) fail_msg("ntkd_open(%s): %s", path, ntkd_ctx_error(ctx));
    return t;
}

static const nk_module *find_module(const nk_dump *d, const char *name, bool unloaded)
{
    for (size_t i = 0; i < d->nmodules; i++)
        if (d->modules[i].unloaded == unloaded && !strcasecmp(d->modules[i].name, name))
            return &d->modules[i];
    return NULL;
}

static size_t loaded_count(const nk_dump *d)
{
    size_t n = 0;
    for (size_t i = 0; i < d->nmodules; i++) n += !d->modules[i].unloaded;
    return n;
}

static const nk_context *find_context(const nk_dump *d, const char *origin)
{
    for (size_t i = 0; i < d->ncontexts; i++)
        if (!strcmp(d->contexts[i].origin, origin)) return &d->contexts[i];
    return NULL;
}

static const nk_hdr_field *find_field(const nk_dump *d, const char *section, const char *name)
{
    for (size_t i = 0; i < d->nfields; i++)
        if (!strcmp(d->fields[i].section, section) && !strcmp(d->fields[i].name, name))
            return &d->fields[i];
    return NULL;
}

/* PE TimeDateStamp and SizeOfImage of an image file (the symbol-store copies). */
static void pe_facts(const char *path, uint32_t *ts, uint32_t *size)
{
    size_t n;
    uint8_t *b = tu_slurp(path, &n);
    assert_non_null(b);
    uint32_t pe = get32(b, 0x3c);
    assert_true(pe + 0x60 < n);
    *ts = get32(b, pe + 8);
    *size = get32(b, pe + 24 + 56);
    free(b);
}

static void check_vranges_sorted(const nk_dump *d, uint64_t file_size)
{
    for (size_t i = 0; i < d->nvranges; i++) {
        assert_true(d->vranges[i].size > 0);
        assert_true(nk_in_bounds(file_size, d->vranges[i].file_off, d->vranges[i].size));
        if (i) assert_true(d->vranges[i - 1].va + d->vranges[i - 1].size <= d->vranges[i].va);
    }
}

/* ---- the real x64 dump ---------------------------------------------------------------- */

static void test_x64_corpus(void **state)
{
    (void)state;
    size_t flen;
    uint8_t *raw = tu_slurp(X64_DUMP, &flen);
    assert_non_null(raw);
    ntkd_ctx *ctx = ntkd_ctx_new();
    ntkd_target *t = open_or_skip(ctx, X64_DUMP);
    const nk_dump *d = &t->d;
    for (size_t i = 0; i < ntkd_warning_count(t); i++)
        print_message("warning: %s\n", ntkd_warning(t, i));
    assert_int_equal(ntkd_warning_count(t), 0);

    assert_int_equal(d->kind, NK_KIND_KERNEL_TRIAGE);
    assert_int_equal(d->arch, NK_ARCH_X64);
    assert_int_equal(d->minor, 19041);
    assert_int_equal(d->nprocs, 16);
    assert_int_equal(d->bugcheck_code, 0x1000007E);
    /* the NTSTATUS as the kernel passed it: sign-extended to 64 bits */
    assert_int_equal(d->bugcheck_params[0], 0xffffffffc0000005ull);
    assert_int_equal(d->bugcheck_params[1], 0xfffff8048b58334cull);
    assert_int_equal(d->bugcheck_params[2], 0xffff850429891ee8ull);
    assert_int_equal(d->bugcheck_params[3], 0xffff850429891720ull);

    /* the TRIAGE_DUMP64 header at 0x2000, as .dumpdebug fields */
    assert_true(d->triage.present);
    const nk_hdr_field *f = find_field(d, "TRIAGE_DUMP64", "ServicePackBuild");
    assert_non_null(f);
    assert_int_equal(f->offset, 0x2000);
    f = find_field(d, "TRIAGE_DUMP64", "DriverCount");
    assert_non_null(f);
    assert_int_equal(f->offset, 0x2034);
    assert_int_equal(f->value, 151);
    assert_non_null(find_field(d, "TRIAGE_DUMP64", "DataBlocksCount"));
    assert_non_null(find_field(d, "TRIAGE_DUMP64", "LimitOfBStore"));
    assert_int_equal(d->triage.driver_count, 151);
    assert_int_equal(d->triage.size_of_dump, get32(raw, 0x2004));

    /* 151 drivers; amdppm.sys holds the faulting address; names and stamps match the images */
    assert_int_equal(loaded_count(d), 151);
    const nk_module *amd = find_module(d, "amdppm.sys", false);
    const nk_module *wdf = find_module(d, "Wdf01000.sys", false);
    assert_non_null(amd);
    assert_non_null(wdf);
    assert_true(amd->base <= 0xfffff8048b58334cull && 0xfffff8048b58334cull < amd->base + amd->size);
    assert_non_null(amd->path);
    assert_non_null(strstr(amd->path, "\\amdppm.sys"));
    uint32_t ts, size;
    pe_facts(SYMSTORE "/amdppm.sys/c9c030003b000/amdppm.sys", &ts, &size);
    assert_int_equal(amd->timestamp, ts);
    assert_int_equal(amd->size, size);
    pe_facts(SYMSTORE "/Wdf01000.sys/a9a9d36ed1000/Wdf01000.sys", &ts, &size);
    assert_int_equal(wdf->timestamp, ts);
    assert_int_equal(wdf->size, size);
    assert_non_null(find_module(d, "ntoskrnl.exe", false));
    /* nt's base: the header's PsLoadedModuleList lies inside the kernel image */
    const nk_module *nt = find_module(d, "ntoskrnl.exe", false);
    assert_true(nt->base <= d->ps_loaded_module_list && d->ps_loaded_module_list < nt->base + nt->size);
    /* unloaded drivers come after, flagged */
    size_t unl = 0;
    for (size_t i = 0; i < d->nmodules; i++)
        if (d->modules[i].unloaded) {
            unl++;
            assert_true(d->modules[i].name[0]);
        } else {
            assert_int_equal(unl, 0);
        }
    assert_int_equal(unl, get32(raw, get32(raw, 0x2018)));

    /* contexts: the header's trapping context and the PRCB's (KeBugCheckEx) */
    const nk_context *hc = find_context(d, "dump header");
    assert_non_null(hc);
    assert_ptr_equal(hc, &d->contexts[0]);
    assert_int_equal(nk_context_sp(hc), 0xffff850429892120ull);
    assert_int_equal(nk_context_pc(hc), 0xfffff8048b58334cull);
    const nk_context *pc = find_context(d, "KPRCB");
    assert_non_null(pc);
    assert_int_equal(nk_context_sp(pc), 0xffff850429890ee8ull);
    assert_int_equal(d->ncontexts, 2);

    /* the call stack is readable at the header context's rsp, with the file's bytes */
    uint64_t top = get64(raw, 0x2048);
    uint64_t stack_off = get32(raw, 0x2028), stack_size = get32(raw, 0x202c);
    uint64_t rsp = nk_context_sp(hc);
    assert_true(rsp >= top && rsp < top + stack_size);
    uint8_t buf[0x200];
    size_t got = 0;
    assert_int_equal(ntkd_read_virt(t, rsp, buf, sizeof buf, &got), NTKD_OK);
    assert_int_equal(got, sizeof buf);
    assert_memory_equal(buf, raw + stack_off + (rsp - top), sizeof buf);
    /* the KeBugCheckEx frame too, and the stack's end is the end of what the dump holds */
    assert_int_equal(ntkd_read_virt(t, nk_context_sp(pc), buf, 8, &got), NTKD_OK);
    assert_int_equal(ntkd_read_virt(t, top + stack_size - 8, buf, 16, &got), NTKD_E_NOTPRESENT);
    assert_int_equal(got, 8);

    /* every data block reads back with its bytes */
    uint64_t tab = get32(raw, 0x2078), nb = get32(raw, 0x207c);
    assert_true(nb > 100);
    for (uint64_t i = 0; i < nb; i += 37) {
        uint64_t va = get64(raw, tab + 16 * i);
        uint32_t off = get32(raw, tab + 16 * i + 8), sz = get32(raw, tab + 16 * i + 12);
        if (sz > sizeof buf) sz = sizeof buf;
        assert_int_equal(ntkd_read_virt(t, va, buf, sz, &got), NTKD_OK);
        assert_memory_equal(buf, raw + off, sz);
    }
    /* the debugger data block is readable at the header's KdDebuggerDataBlock */
    assert_int_equal(ntkd_read_virt(t, d->kd_debugger_data_block, buf, 0x18, &got), NTKD_OK);
    assert_memory_equal(buf + 0x10, "KDBG", 4);

    /* PRCB/EPROCESS/ETHREAD copies: sizes to the next section, mapped at their addresses */
    assert_int_equal(d->triage.prcb_off, get32(raw, 0x201c));
    assert_int_equal(d->triage.prcb_size, get32(raw, 0x2020) - get32(raw, 0x201c));
    assert_int_equal(d->triage.process_size, get32(raw, 0x2024) - get32(raw, 0x2020));
    assert_int_equal(d->triage.thread_size, get32(raw, 0x2028) - get32(raw, 0x2024));
    assert_true(d->triage.prcb_va && d->triage.thread_va && d->triage.process_va);
    assert_int_equal(ntkd_read_virt(t, d->triage.thread_va, buf, 0x100, &got), NTKD_OK);
    assert_memory_equal(buf, raw + d->triage.thread_off, 0x100);
    assert_int_equal(ntkd_read_virt(t, d->triage.process_va, buf, 0x100, &got), NTKD_OK);
    assert_memory_equal(buf, raw + d->triage.process_off, 0x100);
    check_vranges_sorted(d, flen);

    /* secondary data after SizeOfDump */
    assert_true(d->nblobs > 0);
    uint64_t end = get32(raw, 0x2004);
    assert_memory_equal(raw + end, "DumpBlob", 8);
    for (size_t i = 0; i < d->nblobs; i++) {
        assert_true(d->blobs[i].file_off > end);
        assert_true(nk_in_bounds(flen, d->blobs[i].file_off, d->blobs[i].size));
        assert_int_equal(strlen(d->blobs[i].tag), 38);
        assert_int_equal(d->blobs[i].tag[0], '{');
    }
    /* the walk covers the file exactly: the last blob ends at EOF (PostPad aside) */
    const nk_blob *last = &d->blobs[d->nblobs - 1];
    assert_true(flen - (last->file_off + last->size) < 8);
    assert_non_null(find_field(d, "DUMP_BLOB_FILE_HEADER", "BuildNumber"));

    ntkd_close(t);
    ntkd_ctx_free(ctx);
    free(raw);
}

/* ---- the real ARM64 dump -------------------------------------------------------------- */

static void test_arm64_corpus(void **state)
{
    (void)state;
    size_t flen;
    uint8_t *raw = tu_slurp(ARM64_DUMP, &flen);
    assert_non_null(raw);
    ntkd_ctx *ctx = ntkd_ctx_new();
    ntkd_target *t = open_or_skip(ctx, ARM64_DUMP);
    const nk_dump *d = &t->d;
    for (size_t i = 0; i < ntkd_warning_count(t); i++)
        print_message("warning: %s\n", ntkd_warning(t, i));
    assert_int_equal(ntkd_warning_count(t), 0);
    assert_int_equal(d->arch, NK_ARCH_ARM64);
    assert_int_equal(d->bugcheck_code, 0x1C8);
    assert_int_equal(d->nprocs, 8);
    assert_int_equal(loaded_count(d), 245);
    assert_true(d->triage.present);
    assert_int_equal(d->triage.driver_count, 245);
    assert_non_null(find_module(d, "ntoskrnl.exe", false));
    /* the stack is readable from the header context's sp */
    const nk_context *hc = find_context(d, "dump header");
    assert_non_null(hc);
    uint64_t sp = nk_context_sp(hc);
    uint64_t top = get64(raw, 0x2048);
    assert_true(sp >= top && sp < top + get32(raw, 0x202c));
    uint8_t buf[0x100];
    size_t got;
    assert_int_equal(ntkd_read_virt(t, sp, buf, sizeof buf, &got), NTKD_OK);
    assert_memory_equal(buf, raw + get32(raw, 0x2028) + (sp - top), sizeof buf);
    assert_int_equal(ntkd_read_virt(t, d->kd_debugger_data_block + 0x10, buf, 4, &got), NTKD_OK);
    assert_memory_equal(buf, "KDBG", 4);
    check_vranges_sorted(d, flen);
    assert_true(d->nblobs > 0);
    ntkd_close(t);
    ntkd_ctx_free(ctx);
    free(raw);
}

/* ---- the parser called directly (no container) ----------------------------------------- */

/* A target over a file with just the facts a container would give the triage parser. */
static ntkd_target *shim_open_arch(ntkd_ctx *ctx, const char *path, bool is64, nk_status *st)
{
    ntkd_target *t = calloc(1, sizeof *t);
    assert_non_null(t);
    t->ctx = ctx;
    assert_int_equal(nk_file_map(ctx, path, &t->file), NTKD_OK);
    t->d.arch = is64 ? NK_ARCH_X64 : NK_ARCH_X86;
    t->d.is64 = is64;
    t->d.kind = NK_KIND_KERNEL_TRIAGE;
    uint64_t coff = is64 ? 0x348 : 0x320, clen = is64 ? 0x4d0 : 0x2cc;
    if (t->file.size >= coff + clen) {
        t->d.contexts[0] = (nk_context){t->d.arch, t->file.data + coff, clen, "dump header"};
        t->d.ncontexts = 1;
    }
    if (is64 && t->file.size >= 0x88) t->d.kd_debugger_data_block = get64(t->file.data, 0x80);
    ctx->errmsg[0] = 0;
    *st = nk_triage_parse(t, is64 ? 0x2000 : 0x1000);
    return t;
}

static ntkd_target *shim_open(ntkd_ctx *ctx, const char *path, nk_status *st)
{
    return shim_open_arch(ctx, path, true, st);
}

static void put16(uint8_t *b, size_t off, uint16_t v)
{
    b[off] = (uint8_t)v;
    b[off + 1] = (uint8_t)(v >> 8);
}

static void put_utf16(uint8_t *b, size_t off, const char *s)
{
    for (size_t i = 0; s[i]; i++) put16(b, off + 2 * i, (uint8_t)s[i]);
}

/* A 32-bit triage body laid out by hand from the public TRIAGE_DUMP32 definition (WDK:
 * 26 ULONGs; TopOfStack 0x48, DataPageAddress/Offset/Size 0x4c/0x50/0x54, DebuggerData
 * 0x58/0x5c, DataBlocks 0x60/0x64), DUMP_DRIVER_ENTRY32 (name offset, then the 32-bit
 * loader entry: DllBase +0x18, SizeOfImage +0x20, CheckSum +0x40, TimeDateStamp +0x44),
 * DUMP_UNLOADED_DRIVERS32 (0x28 bytes) and 12-byte data blocks. */
static void test_synthetic32(void **state)
{
    (void)state;
    enum { H = 0x1000, SIZE = 0x2800, LEN = 0x2840, SEED = 5 };
    uint8_t *b = calloc(1, LEN);
    assert_non_null(b);
    put32(b, 0x320, 0x1003f); /* x86 ContextFlags */
    const uint32_t hdr[26] = {
        [1] = SIZE, [2] = SIZE - 4, [3] = 0x320, [6] = 0x1100, [10] = 0x1600, [11] = 0x200,
        [12] = 0x1200, [13] = 2, [14] = 0x1400, [15] = 0x100, [17] = 0xffffffff,
        [18] = 0x8a000e00, [19] = 0x82000000, [20] = 0x1b00, [21] = 0x100,
        [24] = 0x1800, [25] = 2};
    for (int i = 0; i < 26; i++) put32(b, H + 4 * i, hdr[i]);
    memcpy(b + SIZE - 4, "TRGD", 4);
    /* unloaded drivers: count, then one entry */
    put32(b, 0x1100, 1);
    put16(b, 0x1104, 14);
    put16(b, 0x1106, 14);
    put_utf16(b, 0x1104 + 8, "old.sys");
    put32(b, 0x1104 + 0x20, 0x80a00000);
    put32(b, 0x1104 + 0x24, 0x80a10000);
    /* two drivers and their strings */
    const char *names[2] = {"\\SystemRoot\\system32\\ntkrnlpa.exe", "\\x\\drv.sys"};
    uint32_t pool = 0x1400;
    for (int i = 0; i < 2; i++) {
        size_t e = 0x1200 + 0x4c * (size_t)i;
        put32(b, e, pool);
        put32(b, e + 4 + 0x18, 0x80800000u + 0x100000u * (uint32_t)i);
        put32(b, e + 4 + 0x20, 0x20000u + 0x1000u * (uint32_t)i);
        put32(b, e + 4 + 0x40, 0x1234u + (uint32_t)i);
        put32(b, e + 4 + 0x44, 0x5f000000u + (uint32_t)i);
        put32(b, pool, (uint32_t)strlen(names[i]));
        put_utf16(b, pool + 4, names[i]);
        pool += 4 + 2 * ((uint32_t)strlen(names[i]) + 1);
    }
    /* the stack, two data blocks and the data page, each with the pattern of its address */
    nk_gen_fill(SEED, 0x8a000e00, b + 0x1600, 0x200);
    put32(b, 0x1800, 0x81000000);
    put32(b, 0x1804, 0x1900);
    put32(b, 0x1808, 0x100);
    put32(b, 0x180c, 0x81000800);
    put32(b, 0x1810, 0x1a00);
    put32(b, 0x1814, 0x80);
    nk_gen_fill(SEED, 0x81000000, b + 0x1900, 0x100);
    nk_gen_fill(SEED, 0x81000800, b + 0x1a00, 0x80);
    nk_gen_fill(SEED, 0x82000000, b + 0x1b00, 0x100);
    /* secondary data: file header, one blob of 16 bytes */
    memcpy(b + SIZE, "DumpBlob", 8);
    put32(b, SIZE + 8, 16);
    put32(b, SIZE + 12, 0xf0000a28);
    put32(b, SIZE + 16, 0x20);
    const uint8_t guid[16] = {0x88, 0x48, 0xc8, 0x54, 0xd1, 0x01, 0x1e, 0x4c,
                              0xbe, 0xd6, 0x28, 0x2c, 0x98, 0x24, 0x13, 0x03};
    memcpy(b + SIZE + 20, guid, 16);
    put32(b, SIZE + 36, 16);
    char path[128];
    snprintf(path, sizeof path, "%s/synthetic32.dmp", tmpdir);
    spit(path, b, LEN);

    ntkd_ctx *ctx = ntkd_ctx_new();
    nk_status st;
    ntkd_target *t = shim_open_arch(ctx, path, false, &st);
    assert_int_equal(st, NTKD_OK);
    for (size_t i = 0; i < t->nwarnings; i++) print_message("warning: %s\n", t->warnings[i]);
    assert_int_equal(t->nwarnings, 0);
    const nk_dump *d = &t->d;
    assert_int_equal(loaded_count(d), 2);
    const nk_module *m = find_module(d, "ntkrnlpa.exe", false);
    assert_non_null(m);
    assert_string_equal(m->path, names[0]);
    assert_int_equal(m->base, 0x80800000);
    assert_int_equal(m->size, 0x20000);
    assert_int_equal(m->checksum, 0x1234);
    assert_int_equal(m->timestamp, 0x5f000000);
    m = find_module(d, "drv.sys", false);
    assert_non_null(m);
    assert_int_equal(m->base, 0x80900000);
    assert_int_equal(m->timestamp, 0x5f000001);
    m = find_module(d, "old.sys", true);
    assert_non_null(m);
    assert_int_equal(m->base, 0x80a00000);
    assert_int_equal(m->size, 0x10000);
    const uint64_t ranges[][2] = {{0x8a000e00, 0x200}, {0x81000000, 0x100},
                                  {0x81000800, 0x80}, {0x82000000, 0x100}};
    uint8_t buf[0x200];
    size_t got;
    for (int i = 0; i < 4; i++) {
        assert_int_equal(nk_read_virt(t, ranges[i][0], buf, ranges[i][1], &got), NTKD_OK);
        assert_true(nk_gen_check(SEED, ranges[i][0], buf, ranges[i][1]));
    }
    assert_int_equal(nk_read_virt(t, 0x81000100, buf, 1, &got), NTKD_E_NOTPRESENT);
    const nk_hdr_field *f = find_field(d, "TRIAGE_DUMP32", "DataPageAddress");
    assert_non_null(f);
    assert_int_equal(f->offset, H + 0x4c);
    assert_int_equal(f->value, 0x82000000);
    assert_null(find_field(d, "TRIAGE_DUMP32", "LimitOfBStore"));
    assert_int_equal(d->nblobs, 1);
    assert_string_equal(d->blobs[0].tag, "{54C84888-01D1-4C1E-BED6-282C98241303}");
    assert_int_equal(d->blobs[0].file_off, SIZE + 0x30);
    assert_int_equal(d->blobs[0].size, 16);
    assert_int_equal(d->ncontexts, 1);
    ntkd_close(t);

    /* hostile variants of the 32-bit body: random words over its tables; never a crash */
    uint8_t *c = malloc(LEN);
    assert_non_null(c);
    uint64_t seed = 11;
    for (int iter = 0; iter < 200; iter++) {
        memcpy(c, b, LEN);
        for (int k = 0; k < 3; k++) {
            seed = nk_gen_mix(seed + (uint64_t)iter);
            size_t off = (H + (size_t)(seed % (SIZE + 0x40 - H))) & ~(size_t)3;
            uint32_t v = (uint32_t)(seed >> 32);
            if ((seed >> 16) & 1) v &= 0x3fff;
            put32(c, off, v);
        }
        spit(path, c, LEN - (iter % 7 == 0 ? (size_t)(seed >> 40) % 0x800 : 0));
        t = shim_open_arch(ctx, path, false, &st);
        if (st == NTKD_OK) {
            check_vranges_sorted(&t->d, t->file.size);
            for (size_t i = 0; i < t->d.nmodules; i++) assert_non_null(t->d.modules[i].name);
        }
        ntkd_close(t);
    }
    free(c);
    ntkd_ctx_free(ctx);
    free(b);
}

static void test_direct(void **state)
{
    (void)state;
    ntkd_ctx *ctx = ntkd_ctx_new();
    nk_status st;
    ntkd_target *t = shim_open(ctx, X64_DUMP, &st);
    assert_int_equal(st, NTKD_OK);
    assert_int_equal(t->nwarnings, 0);
    assert_int_equal(loaded_count(&t->d), 151);
    assert_non_null(find_context(&t->d, "KPRCB"));
    ntkd_close(t);

    /* a header cut short is an error naming the file and the header's offset */
    size_t n;
    uint8_t *raw = tu_slurp(X64_DUMP, &n);
    char path[128];
    snprintf(path, sizeof path, "%s/short.dmp", tmpdir);
    spit(path, raw, 0x2040);
    t = shim_open(ctx, path, &st);
    assert_int_equal(st, NTKD_E_TRUNCATED);
    assert_non_null(strstr(ntkd_ctx_error(ctx), "short.dmp"));
    assert_non_null(strstr(ntkd_ctx_error(ctx), "0x2000"));
    ntkd_close(t);
    free(raw);
    ntkd_ctx_free(ctx);
}

/* ---- hostile copies of the x64 dump ------------------------------------------------------ */

typedef struct corruption {
    const char *name;
    size_t cut;          /* truncate to this length (0: keep) */
    size_t off;          /* write `val` here (0: none) */
    uint32_t val;
    const char *expect;  /* a substring of some warning or of the error (NULL: any) */
} corruption;

/* Opens a corrupted copy; it must fail with a message naming the file or open with a
 * warning. Returns the target (or NULL) for further checks. */
static ntkd_target *open_corrupt(ntkd_ctx *ctx, const uint8_t *raw, size_t len,
                                 const corruption *c)
{
    uint8_t *b = malloc(len);
    assert_non_null(b);
    memcpy(b, raw, len);
    size_t n = c->cut ? c->cut : len;
    if (c->off && c->off + 4 <= n) put32(b, c->off, c->val);
    char path[128];
    snprintf(path, sizeof path, "%s/%s.dmp", tmpdir, c->name);
    spit(path, b, n);
    free(b);
    ntkd_target *t = NULL;
    ntkd_status st = ntkd_open(ctx, path, NULL, &t);
    if (st != NTKD_OK && strstr(ntkd_ctx_error(ctx), "not a Windows dump") && !c->cut) skip();
    if (st != NTKD_OK) {
        print_message("%s: error: %s\n", c->name, ntkd_ctx_error(ctx));
        assert_non_null(strstr(ntkd_ctx_error(ctx), c->name));
        if (c->expect) assert_non_null(strstr(ntkd_ctx_error(ctx), c->expect));
        return NULL;
    }
    bool seen = c->expect == NULL;
    for (size_t i = 0; i < ntkd_warning_count(t); i++) {
        print_message("%s: warning: %s\n", c->name, ntkd_warning(t, i));
        if (c->expect && strstr(ntkd_warning(t, i), c->expect)) seen = true;
    }
    if (!ntkd_warning_count(t)) fail_msg("%s: opened without a warning", c->name);
    if (!seen) fail_msg("%s: no warning mentions \"%s\"", c->name, c->expect);
    check_vranges_sorted(&t->d, t->file.size);
    /* whatever was kept must be readable without tripping the sanitizers */
    uint8_t buf[64];
    size_t got;
    for (size_t i = 0; i < t->d.nvranges; i += 1 + t->d.nvranges / 16)
        (void)ntkd_read_virt(t, t->d.vranges[i].va, buf, sizeof buf, &got);
    for (size_t i = 0; i < t->d.nmodules; i++) assert_non_null(t->d.modules[i].name);
    return t;
}

static void test_hostile(void **state)
{
    (void)state;
    size_t len;
    uint8_t *raw = tu_slurp(X64_DUMP, &len);
    assert_non_null(raw);
    const uint32_t sod = get32(raw, 0x2004), pool = get32(raw, 0x2038);
    const uint32_t drivers = get32(raw, 0x2030), blocks = get32(raw, 0x2078);
    const uint32_t last_name = get32(raw, drivers + 0x90 * 150);
    const corruption cases[] = {
        {"drvcount-huge", 0, 0x2034, 0x20000, "DriverCount"},
        {"drvlist-at-eof", 0, 0x2030, (uint32_t)len - 0x90 * 10, "entry 11 of 151"},
        {"drvlist-past-eof", 0, 0x2030, 0xfffffff0u, "driver list offset"},
        {"pool-tiny", 0, 0x203c, 0x10, "string pool"},
        {"pool-past-eof", 0, 0x2038, 0xffffff00u, "string pool"},
        {"name-offset-bad", 0, drivers, 0xfffffff0u, "entry 1 of 151"},
        {"name-length-huge", 0, pool, 0x7fffffff, "implausible length"},
        {"name-length-long", 0, last_name, 0x3ff, "past the end of the string pool"},
        {"blocks-count-huge", 0, 0x207c, 0xffffffffu, "DataBlocksCount"},
        {"block-offset-bad", 0, blocks + 8, 0xfffffff0u, "data-block table"},
        {"block-size-bad", 0, blocks + 12, 0xfffffff0u, "data-block table"},
        {"stack-past-eof", 0, 0x2028, (uint32_t)len - 0x10, "call stack"},
        {"unloaded-count-huge", 0, get32(raw, 0x2018), 0xffffffffu, "unloaded-driver list"},
        {"unloaded-past-eof", 0, 0x2018, 0xfffffff0u, "unloaded-driver list"},
        {"kdbg-tag", 0, get32(raw, 0x2070) + 0x10, 0x41414141, "KDBG"},
        {"kdbg-past-eof", 0, 0x2070, 0xfffffff0u, "debugger data"},
        {"valid-mark", 0, get32(raw, 0x2008), 0, "TRGD"},
        {"blob-header-size", 0, sod + 16, 0, "HeaderSize"},
        {"blob-data-size", 0, sod + 16 + 0x14, 0x7fffffff, "DumpBlob record 1"},
        {"blob-file-header-size", 0, sod + 8, 0xffffffffu, "HeaderSize"},
        {"blob-signature", 0, sod, 0x41414141, "DumpBlob"},
        {"cut-in-drivers", drivers + 0x90 * 50 + 7, 0, 0, NULL},
        {"cut-in-pool", pool + 0x100, 0, 0, NULL},
        {"cut-in-blocks", blocks + 16 * 100 + 3, 0, 0, NULL},
        {"cut-at-sizeofdump", sod - 4, 0, 0, "ValidOffset"},
        {"cut-in-blob", sod + 0x30, 0, 0, "DumpBlob record 1"},
        {"cut-in-triage-header", 0x2040, 0, 0, NULL},
    };
    ntkd_ctx *ctx = ntkd_ctx_new();
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        ntkd_target *t = open_corrupt(ctx, raw, len, &cases[i]);
        if (t && !strcmp(cases[i].name, "drvcount-huge")) assert_int_equal(loaded_count(&t->d), 0);
        if (t && !strcmp(cases[i].name, "drvlist-at-eof")) assert_int_equal(loaded_count(&t->d), 10);
        if (t && !strcmp(cases[i].name, "kdbg-tag")) assert_null(find_context(&t->d, "KPRCB"));
        if (t && !strcmp(cases[i].name, "name-offset-bad")) {
            assert_int_equal(loaded_count(&t->d), 151);
            assert_non_null(strstr(t->d.modules[0].name, "Unknown_Module_"));
        }
        ntkd_close(t);
    }
    ntkd_ctx_free(ctx);
    free(raw);
}

/* Random 32-bit values written over the triage header and its tables: never a crash. */
static void test_fuzz(void **state)
{
    (void)state;
    size_t len;
    uint8_t *raw = tu_slurp(X64_DUMP, &len);
    assert_non_null(raw);
    uint8_t *b = malloc(len);
    assert_non_null(b);
    ntkd_ctx *ctx = ntkd_ctx_new();
    char path[128];
    snprintf(path, sizeof path, "%s/fuzz.dmp", tmpdir);
    /* interesting places: the header, the driver list, the unloaded list, blocks, blobs */
    const uint32_t spots[] = {0x2000, get32(raw, 0x2030), get32(raw, 0x2018), get32(raw, 0x2078),
                              get32(raw, 0x2004), get32(raw, 0x2038), get32(raw, 0x2070)};
    const uint32_t spans[] = {0x80, 0x200, 0x40, 0x200, 0x80, 0x40, 0x340};
    uint64_t seed = 7;
    for (int iter = 0; iter < 150; iter++) {
        memcpy(b, raw, len);
        for (int k = 0; k < 4; k++) {
            seed = nk_gen_mix(seed + (uint64_t)iter);
            size_t s = (size_t)(seed % (sizeof spots / sizeof spots[0]));
            size_t off = spots[s] + (size_t)((seed >> 8) % spans[s]);
            uint32_t v = (uint32_t)(seed >> 32);
            if ((seed >> 20) & 1) v &= 0xffff; /* small values reach more code */
            if (off + 4 <= len) put32(b, off & ~(size_t)3, v);
        }
        spit(path, b, len);
        ntkd_target *t = NULL;
        if (ntkd_open(ctx, path, NULL, &t) == NTKD_OK) {
            check_vranges_sorted(&t->d, t->file.size);
            uint8_t buf[32];
            size_t got;
            for (size_t i = 0; i < t->d.nvranges; i += 1 + t->d.nvranges / 8)
                (void)ntkd_read_virt(t, t->d.vranges[i].va + t->d.vranges[i].size - 1, buf,
                                     sizeof buf, &got);
            ntkd_close(t);
        } else if (strstr(ntkd_ctx_error(ctx), "not a Windows dump")) {
            skip();
        }
    }
    ntkd_ctx_free(ctx);
    free(b);
    free(raw);
}

/* ---- generated dumps --------------------------------------------------------------------- */

/* Runs the generator; false when it cannot write this kind (not there yet). */
static bool gendump(const char *kind, const char *arch, const char *out)
{
    char cmd[512];
    snprintf(cmd, sizeof cmd, "'%s' %s '%s' --arch %s >/dev/null 2>&1", NTKD_GENDUMP, kind, out,
             arch);
    int rc = system(cmd);
    return rc != -1 && WIFEXITED(rc) && WEXITSTATUS(rc) == 0;
}

static void check_generated(const char *kind, const char *arch)
{
    char path[160], mpath[180];
    snprintf(path, sizeof path, "%s/%s-%s.dmp", tmpdir, kind, arch);
    if (!gendump(kind, arch, path)) {
        print_message("ntkd-gendump %s --arch %s: not available\n", kind, arch);
        skip();
    }
    snprintf(mpath, sizeof mpath, "%s.manifest", path);
    FILE *m = fopen(mpath, "r");
    assert_non_null(m);
    ntkd_ctx *ctx = ntkd_ctx_new();
    ntkd_target *t = open_or_skip(ctx, path);
    const nk_dump *d = &t->d;
    for (size_t i = 0; i < ntkd_warning_count(t); i++)
        print_message("warning: %s\n", ntkd_warning(t, i));
    assert_int_equal(d->kind, NK_KIND_KERNEL_TRIAGE);
    assert_true(d->triage.present);
    uint64_t seed = 1;
    size_t nmod = 0, nvr = 0;
    char line[512];
    while (fgets(line, sizeof line, m)) {
        char key[32], name[256];
        unsigned long long a, b2, c, e, p[4];
        if (line[0] == '#' || sscanf(line, "%31s", key) != 1) continue;
        if (!strcmp(key, "seed") && sscanf(line, "%*s %llx", &a) == 1) seed = a;
        else if (!strcmp(key, "module") &&
                 sscanf(line, "%*s %llx %llx %llx %llx %255s", &a, &b2, &c, &e, name) == 5) {
            const nk_module *mod = NULL;
            for (size_t i = 0; i < d->nmodules && !mod; i++)
                if (!d->modules[i].unloaded && d->modules[i].base == a) mod = &d->modules[i];
            if (!mod) fail_msg("module %s at %llx missing", name, a);
            assert_int_equal(mod->size, b2);
            assert_int_equal(mod->timestamp, c);
            assert_int_equal(mod->checksum, e);
            const char *bn = strrchr(name, '\\');
            assert_string_equal(mod->name, bn ? bn + 1 : name);
            nmod++;
        } else if (!strcmp(key, "vrange") && sscanf(line, "%*s %llx %llx", &a, &b2) == 2) {
            size_t n = b2 > 0x10000 ? 0x10000 : (size_t)b2;
            uint8_t *buf = malloc(n ? n : 1);
            size_t got = 0;
            assert_int_equal(ntkd_read_virt(t, a, buf, n, &got), NTKD_OK);
            if (!nk_gen_check(seed, a, buf, n)) fail_msg("vrange %llx: pattern mismatch", a);
            free(buf);
            nvr++;
        } else if (!strcmp(key, "bugcheck") &&
                   sscanf(line, "%*s %llx %llx %llx %llx %llx", &a, &p[0], &p[1], &p[2], &p[3]) == 5) {
            assert_int_equal(d->bugcheck_code, a);
            for (int i = 0; i < 4; i++) assert_int_equal(d->bugcheck_params[i], p[i]);
        } else if (!strcmp(key, "header") && sscanf(line, "%*s %255s %llx", name, &a) == 2) {
            /* triage header fields the manifest states must read back as .dumpdebug fields */
            const nk_hdr_field *hf = find_field(d, d->is64 ? "TRIAGE_DUMP64" : "TRIAGE_DUMP32", name);
            if (hf) assert_int_equal(hf->value, a);
        } else if (!strcmp(key, "reg") && sscanf(line, "%*s %255s %llx", name, &a) == 2) {
            uint64_t v;
            assert_true(d->ncontexts > 0);
            if (!nk_context_get(&d->contexts[0], name, &v)) fail_msg("register %s missing", name);
            assert_int_equal(v, a);
        }
    }
    fclose(m);
    size_t loaded = loaded_count(d);
    assert_int_equal(loaded, nmod);
    print_message("%s/%s: %zu modules, %zu ranges checked\n", kind, arch, nmod, nvr);
    ntkd_close(t);
    ntkd_ctx_free(ctx);
}

static void test_gen_triage64_x64(void **s) { (void)s; check_generated("triage64", "x64"); }
static void test_gen_triage64_arm64(void **s) { (void)s; check_generated("triage64", "arm64"); }
static void test_gen_triage32_pae(void **s) { (void)s; check_generated("triage32", "x86pae"); }
static void test_gen_triage32_x86(void **s) { (void)s; check_generated("triage32", "x86"); }

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_x64_corpus),
        cmocka_unit_test(test_arm64_corpus),
        cmocka_unit_test(test_direct),
        cmocka_unit_test(test_synthetic32),
        cmocka_unit_test(test_hostile),
        cmocka_unit_test(test_fuzz),
        cmocka_unit_test(test_gen_triage64_x64),
        cmocka_unit_test(test_gen_triage64_arm64),
        cmocka_unit_test(test_gen_triage32_pae),
        cmocka_unit_test(test_gen_triage32_x86),
    };
    return cmocka_run_group_tests(tests, make_tmpdir, remove_tmpdir);
}
