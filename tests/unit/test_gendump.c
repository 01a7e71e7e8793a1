/* test_gendump.c: tests of the test-dump generator itself (tests/gen, ntkd-gendump), done
 * without libntkd: every KIND/arch combination is generated, its manifest parsed with
 * manifest.h, and the file checked against it with small readers written here (signatures,
 * sizes, header fields, run lists and bitmaps, page-table walks of every map/nomap/pte line,
 * pattern contents, triage and minidump records), plus the hostile --corrupt variants. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cmocka.h>

#include "manifest.h"

static char tmpdir[64];

/* ---------------------------------------------------------------- helpers */
static int gen(const char *kind, const char *out, const char *extra)
{
    char cmd[1024];
    snprintf(cmd, sizeof cmd, "'%s' %s '%s/%s' %s >/dev/null 2>&1", NTKD_GENDUMP, kind, tmpdir,
             out, extra ? extra : "");
    int rc = system(cmd);
    return WIFEXITED(rc) ? WEXITSTATUS(rc) : -1;
}

typedef struct blob {
    uint8_t *p;
    size_t len;
} blob;

static blob slurp(const char *name)
{
    char path[256];
    snprintf(path, sizeof path, "%s/%s", tmpdir, name);
    blob b = {0};
    FILE *f = fopen(path, "rb");
    assert_non_null(f);
    fseek(f, 0, SEEK_END);
    long n = ftell(f);
    assert_true(n >= 0);
    fseek(f, 0, SEEK_SET);
    b.len = (size_t)n;
    b.p = malloc(b.len ? b.len : 1);
    assert_non_null(b.p);
    assert_int_equal(fread(b.p, 1, b.len, f), b.len);
    fclose(f);
    return b;
}

static void load(mf_manifest *m, const char *name)
{
    char path[256];
    snprintf(path, sizeof path, "%s/%s.manifest", tmpdir, name);
    int rc = mf_load(m, path);
    if (rc)
        fail_msg("%s", m->error);
}

static uint32_t r16(const blob *b, uint64_t off)
{
    assert_true(off + 2 <= b->len);
    return (uint32_t)(b->p[off] | b->p[off + 1] << 8);
}
static uint32_t r32(const blob *b, uint64_t off)
{
    assert_true(off + 4 <= b->len);
    uint32_t v;
    memcpy(&v, b->p + off, 4);
    return v;
}
static uint64_t r64(const blob *b, uint64_t off)
{
    assert_true(off + 8 <= b->len);
    uint64_t v;
    memcpy(&v, b->p + off, 8);
    return v;
}

static uint64_t hdr_u64(const mf_manifest *m, const char *name)
{
    uint64_t v = 0;
    if (!mf_header_u64(m, name, &v))
        fail_msg("manifest has no numeric header %s", name);
    return v;
}

static uint64_t reg(const mf_manifest *m, const char *name)
{
    uint64_t v = 0;
    if (!mf_reg(m, name, &v))
        fail_msg("manifest has no register %s", name);
    return v;
}

/* UTF-16LE (ASCII range) at off, n characters, equals s */
static bool utf16_eq(const blob *b, uint64_t off, uint32_t n, const char *s)
{
    if (strlen(s) != n || off + 2ull * n > b->len)
        return false;
    for (uint32_t i = 0; i < n; i++)
        if (r16(b, off + 2ull * i) != (unsigned char)s[i])
            return false;
    return true;
}

/* ---------------------------------------------------------------- physical memory */
typedef struct physidx {
    bool raw;
    uint64_t runs[16][3]; /* base, count, file offset */
    int nruns;
    const uint8_t *bitmap;
    uint64_t nbits;
    uint64_t *rank; /* file offset per pfn (UINT64_MAX = absent) for bitmap dumps */
} physidx;

static bool phys_off(const physidx *x, const blob *b, uint64_t pfn, uint64_t *off)
{
    if (x->raw) {
        *off = pfn * 4096;
        return *off + 4096 <= b->len;
    }
    if (x->rank) {
        if (pfn >= x->nbits || x->rank[pfn] == UINT64_MAX)
            return false;
        *off = x->rank[pfn];
        return *off + 4096 <= b->len;
    }
    for (int i = 0; i < x->nruns; i++)
        if (pfn - x->runs[i][0] < x->runs[i][1]) {
            *off = x->runs[i][2] + (pfn - x->runs[i][0]) * 4096;
            return *off + 4096 <= b->len;
        }
    return false;
}

static bool phys_read(const physidx *x, const blob *b, uint64_t pa, void *out, size_t n)
{
    uint64_t off;
    if ((pa & 0xfff) + n > 4096 || !phys_off(x, b, pa >> 12, &off))
        return false;
    memcpy(out, b->p + off + (pa & 0xfff), n);
    return true;
}

/* Independent page walker. Returns 0 and pa/size, 1 for an invalid entry (*last = entry),
 * 2 for a table page missing from the dump. */
static int walk(const mf_manifest *m, const physidx *x, const blob *b, uint64_t va, uint64_t *pa,
                uint64_t *size, uint64_t *last)
{
    const char *pg = m->paging;
    uint64_t e = 0;
    if (!strcmp(pg, "x64") || !strcmp(pg, "arm64")) {
        bool arm = pg[0] == 'a';
        uint64_t table = m->dtb & ~0xfffULL;
        for (int lvl = 0; lvl < 4; lvl++) {
            int shift = 39 - 9 * lvl;
            if (!phys_read(x, b, table + ((va >> shift) & 0x1ff) * 8, &e, 8))
                return 2;
            *last = e;
            if (!(e & 1))
                return 1;
            uint64_t addr = e & 0x0000fffffffff000ULL;
            bool leaf = lvl == 3 || (arm ? !(e & 2) : (lvl > 0 && (e & 0x80)));
            if (leaf) {
                if (arm)
                    assert_true(e & 0x400); /* access flag */
                uint64_t sz = 1ULL << shift;
                *pa = (addr & ~(sz - 1)) | (va & (sz - 1));
                *size = sz;
                return 0;
            }
            table = addr;
        }
        return 1;
    }
    if (!strcmp(pg, "pae")) {
        if (!phys_read(x, b, (m->dtb & ~0x1fULL) + ((va >> 30) & 3) * 8, &e, 8))
            return 2;
        *last = e;
        if (!(e & 1))
            return 1;
        uint64_t table = e & 0xffffff000ULL;
        if (!phys_read(x, b, table + ((va >> 21) & 0x1ff) * 8, &e, 8))
            return 2;
        *last = e;
        if (!(e & 1))
            return 1;
        if (e & 0x80) {
            *pa = (e & 0xfffe00000ULL) | (va & 0x1fffff);
            *size = 0x200000;
            return 0;
        }
        if (!phys_read(x, b, (e & 0xffffff000ULL) + ((va >> 12) & 0x1ff) * 8, &e, 8))
            return 2;
        *last = e;
        if (!(e & 1))
            return 1;
        *pa = (e & 0xffffff000ULL) | (va & 0xfff);
        *size = 0x1000;
        return 0;
    }
    if (!strcmp(pg, "x86")) {
        uint32_t e32;
        if (!phys_read(x, b, (m->dtb & ~0xfffULL) + ((va >> 22) & 0x3ff) * 4, &e32, 4))
            return 2;
        *last = e32;
        if (!(e32 & 1))
            return 1;
        if (e32 & 0x80) {
            *pa = (e32 & 0xffc00000u) | (va & 0x3fffff);
            *size = 0x400000;
            return 0;
        }
        if (!phys_read(x, b, (e32 & 0xfffff000u) + ((va >> 12) & 0x3ff) * 4, &e32, 4))
            return 2;
        *last = e32;
        if (!(e32 & 1))
            return 1;
        *pa = (e32 & 0xfffff000u) | (va & 0xfff);
        *size = 0x1000;
        return 0;
    }
    fail_msg("unknown paging %s", pg);
    return -1;
}

static void check_paging(const mf_manifest *m, const physidx *x, const blob *b)
{
    assert_true(m->nmaps > 0);
    bool saw_large = false, saw_1g = false;
    for (size_t i = 0; i < m->nmaps; i++) {
        const mf_map *mp = &m->maps[i];
        uint64_t offs[3] = {0, mp->size - 8, (mp->size / 3) & ~7ULL};
        for (int k = 0; k < 3; k++) {
            uint64_t pa = 0, sz = 0, last = 0;
            int r = walk(m, x, b, mp->va + offs[k], &pa, &sz, &last);
            if (r != 0 || pa != mp->pa + offs[k] || sz != mp->size)
                fail_msg("map %llx -> %llx: walk gives %d %llx size %llx",
                         (unsigned long long)mp->va, (unsigned long long)mp->pa, r,
                         (unsigned long long)pa, (unsigned long long)sz);
        }
        saw_large |= mp->size == 0x200000 || mp->size == 0x400000;
        saw_1g |= mp->size == 0x40000000;
        /* contents through the map: a data page shows the pattern of its physical address */
        uint8_t got[16], want[16];
        if (mf_phys_state(m, mp->pa >> 12) == MF_PHYS_DATA && phys_read(x, b, mp->pa, got, 16)) {
            nk_gen_fill(m->seed, mp->pa, want, 16);
            assert_memory_equal(got, want, 16);
        }
    }
    assert_true(saw_large);
    if (!strcmp(m->paging, "x64") || !strcmp(m->paging, "arm64"))
        assert_true(saw_1g);
    bool saw_inv = false, saw_nid = false;
    for (size_t i = 0; i < m->nnomaps; i++) {
        uint64_t pa, sz, last;
        int r = walk(m, x, b, m->nomaps[i].va, &pa, &sz, &last);
        assert_int_equal(r, m->nomaps[i].notindump ? 2 : 1);
        saw_inv |= !m->nomaps[i].notindump;
        saw_nid |= m->nomaps[i].notindump;
    }
    assert_true(saw_inv && saw_nid);
    for (size_t i = 0; i < m->nptes; i++) {
        uint64_t pa, sz, last = 0;
        assert_int_equal(walk(m, x, b, m->ptes[i].va, &pa, &sz, &last), 1);
        assert_true(last == m->ptes[i].raw);
    }
    if (!strcmp(m->paging, "x64"))
        assert_int_equal(m->nptes, 4);
    /* every data page is reachable through some map line */
    for (size_t i = 0; i < m->nphys; i++) {
        if (m->phys[i].table)
            continue;
        uint64_t pa = m->phys[i].pfn << 12;
        bool found = false;
        for (size_t j = 0; j < m->nmaps && !found; j++)
            found = pa - m->maps[j].pa < m->maps[j].size;
        if (!found)
            fail_msg("data pfn %llx has no map line", (unsigned long long)m->phys[i].pfn);
    }
}

/* Contents of the pages the manifest lists, against the file. */
static void check_phys(const mf_manifest *m, const physidx *x, const blob *b)
{
    assert_true(m->nphys > 0);
    uint8_t *want = malloc(4096);
    assert_non_null(want);
    size_t ntables = 0;
    for (size_t i = 0; i < m->nphys; i++) {
        uint64_t off;
        if (!phys_off(x, b, m->phys[i].pfn, &off))
            fail_msg("phys %llx is not in the file", (unsigned long long)m->phys[i].pfn);
        if (m->phys[i].table) {
            ntables++;
            continue;
        }
        if (i % 7 == 0 || i + 1 == m->nphys) {
            nk_gen_fill(m->seed, m->phys[i].pfn << 12, want, 4096);
            assert_memory_equal(b->p + off, want, 4096);
        }
    }
    assert_true(ntables >= 3);
    for (size_t i = 0; i < m->nabsent; i++) {
        uint64_t off;
        assert_false(phys_off(x, b, m->absent[i], &off));
    }
    free(want);
}

static void check_context(const mf_manifest *m, const blob *b, uint64_t off)
{
    if (!strcmp(m->arch, "x64")) {
        assert_int_equal(r32(b, off + 0x30), 0x10001f);
        assert_int_equal(r64(b, off + 0xf8), reg(m, "rip"));
        assert_int_equal(r64(b, off + 0x98), reg(m, "rsp"));
        assert_int_equal(r64(b, off + 0x78), reg(m, "rax"));
        assert_int_equal(r64(b, off + 0xf0), reg(m, "r15"));
        assert_int_equal(r32(b, off + 0x44), reg(m, "efl"));
        assert_int_equal(r16(b, off + 0x38), reg(m, "cs"));
        assert_int_equal(r32(b, off + 0x34), r32(b, off + 0x118)); /* MxCsr twice */
    } else if (!strcmp(m->arch, "arm64")) {
        assert_int_equal(r32(b, off) & 0xff000000u, 0);
        assert_int_equal(r32(b, off) & 0x00400000u, 0x00400000u);
        assert_int_equal(r64(b, off + 0x108), reg(m, "pc"));
        assert_int_equal(r64(b, off + 0x100), reg(m, "sp"));
        assert_int_equal(r64(b, off + 0x8), reg(m, "x0"));
        assert_int_equal(r64(b, off + 0x8 + 29 * 8), reg(m, "fp"));
        assert_int_equal(r64(b, off + 0x8 + 30 * 8), reg(m, "lr"));
        assert_int_equal(r32(b, off + 4), reg(m, "cpsr"));
    } else {
        assert_int_equal(r32(b, off) & 0x00010000u, 0x00010000u);
        assert_int_equal(r32(b, off + 0xb8), reg(m, "eip"));
        assert_int_equal(r32(b, off + 0xc4), reg(m, "esp"));
        assert_int_equal(r32(b, off + 0xb0), reg(m, "eax"));
        assert_int_equal(r32(b, off + 0xbc), reg(m, "cs"));
        assert_int_equal(r32(b, off + 0xc0), reg(m, "efl"));
    }
}

/* Fields shared by every kernel dump header. */
static void check_kernel_header(const mf_manifest *m, const blob *b, bool is64)
{
    uint64_t dtb_off = 0x10;
    assert_memory_equal(b->p, is64 ? "PAGEDU64" : "PAGEDUMP", 8);
    assert_int_equal(r32(b, 8), 0xf);
    assert_int_equal(r32(b, 12), m->build);
    assert_int_equal(r32(b, is64 ? 0xf98 : 0xf88), m->dump_type);
    assert_true(m->has_bugcheck);
    if (is64) {
        assert_int_equal(r64(b, dtb_off), m->dtb);
        assert_int_equal(r64(b, 0x20), hdr_u64(m, "PsLoadedModuleList"));
        assert_int_equal(r64(b, 0x28), hdr_u64(m, "PsActiveProcessHead"));
        assert_int_equal(r32(b, 0x30), m->machine);
        assert_int_equal(r32(b, 0x34), m->nprocs);
        assert_int_equal(r32(b, 0x38), m->bugcheck);
        for (int i = 0; i < 4; i++)
            assert_int_equal(r64(b, 0x40 + 8 * i), m->bugcheck_params[i]);
        assert_int_equal(r64(b, 0x80), hdr_u64(m, "KdDebuggerDataBlock"));
        assert_int_equal(r64(b, 0xfa0), b->len); /* RequiredDumpSpace */
        assert_int_equal(r64(b, 0xfa8), hdr_u64(m, "SystemTime"));
        assert_int_equal(r64(b, 0x1030), hdr_u64(m, "SystemUpTime"));
        assert_int_equal(r32(b, 0x1040), hdr_u64(m, "ProductType"));
        assert_int_equal(r32(b, 0x1044), hdr_u64(m, "SuiteMask"));
        assert_string_equal((const char *)b->p + 0xfb0, mf_header(m, "Comment")->text);
        check_context(m, b, 0x348);
        assert_int_equal(r32(b, 0xf00), hdr_u64(m, "ExceptionCode"));
    } else {
        assert_int_equal(r32(b, dtb_off), m->dtb);
        assert_int_equal(r32(b, 0x18), hdr_u64(m, "PsLoadedModuleList"));
        assert_int_equal(r32(b, 0x20), m->machine);
        assert_int_equal(r32(b, 0x24), m->nprocs);
        assert_int_equal(r32(b, 0x28), m->bugcheck);
        for (int i = 0; i < 4; i++)
            assert_int_equal(r32(b, 0x2c + 4 * i), m->bugcheck_params[i]);
        assert_int_equal(b->p[0x5c], !strcmp(m->arch, "x86pae") ? 1 : 0);
        assert_int_equal(r32(b, 0x60), hdr_u64(m, "KdDebuggerDataBlock"));
        assert_int_equal(r64(b, 0xfa0), b->len);
        assert_int_equal(r64(b, 0xfb8), hdr_u64(m, "SystemUpTime"));
        assert_int_equal(r64(b, 0xfc0), hdr_u64(m, "SystemTime"));
        assert_string_equal((const char *)b->p + 0x820, mf_header(m, "Comment")->text);
        check_context(m, b, 0x320);
        assert_int_equal(r32(b, 0x7d0), hdr_u64(m, "ExceptionCode"));
    }
}

/* Builds the physical index from the container and checks its size claims. */
static void index_container(const mf_manifest *m, const blob *b, physidx *x)
{
    memset(x, 0, sizeof *x);
    if (!strcmp(m->kind, "raw")) {
        x->raw = true;
        assert_int_equal(b->len % 4096, 0);
        uint64_t maxpfn = 0;
        for (size_t i = 0; i < m->nphys; i++)
            maxpfn = m->phys[i].pfn > maxpfn ? m->phys[i].pfn : maxpfn;
        assert_int_equal(b->len, (maxpfn + 1) * 4096);
        return;
    }
    bool is64 = b->len >= 8 && !memcmp(b->p, "PAGEDU64", 8);
    uint64_t hs = is64 ? 0x2000 : 0x1000;
    if (m->dump_type == 1) {
        uint32_t nruns = r32(b, is64 ? 0x88 : 0x64);
        uint64_t npages = is64 ? r64(b, 0x90) : r32(b, 0x68);
        assert_true(nruns >= 3 && nruns <= 16);
        uint64_t off = hs, sum = 0, prev_end = 0;
        for (uint32_t i = 0; i < nruns; i++) {
            uint64_t base = is64 ? r64(b, 0x98 + 16 * i) : r32(b, 0x6c + 8 * i);
            uint64_t cnt = is64 ? r64(b, 0xa0 + 16 * i) : r32(b, 0x70 + 8 * i);
            if (i)
                assert_true(base > prev_end); /* holes between runs */
            prev_end = base + cnt;
            x->runs[i][0] = base;
            x->runs[i][1] = cnt;
            x->runs[i][2] = off;
            off += cnt * 4096;
            sum += cnt;
        }
        x->nruns = (int)nruns;
        assert_int_equal(sum, npages);
        assert_int_equal(npages, hdr_u64(m, "NumberOfPages"));
        assert_int_equal(b->len, hs + npages * 4096);
        assert_int_equal(m->nphys, npages);
        return;
    }
    /* summary / bitmap */
    const char *sig = (const char *)b->p + hs;
    assert_true(!memcmp(sig, "SDMPDUMP", 8) || !memcmp(sig, "FDMPDUMP", 8));
    uint64_t first = r64(b, hs + 0x20), present = r64(b, hs + 0x28), nbits = r64(b, hs + 0x30);
    assert_int_equal(first, hdr_u64(m, "FirstPage"));
    assert_int_equal(present, hdr_u64(m, "TotalPresentPages"));
    assert_int_equal(nbits, hdr_u64(m, "Pages"));
    assert_true(hs + 0x38 + (nbits + 7) / 8 <= first);
    assert_int_equal(first % 4096, 0);
    assert_int_equal(b->len, first + present * 4096);
    assert_int_equal(m->nphys, present);
    x->bitmap = b->p + hs + 0x38;
    x->nbits = nbits;
    x->rank = malloc(nbits * sizeof(uint64_t));
    assert_non_null(x->rank);
    uint64_t off = first, set = 0;
    for (uint64_t p = 0; p < nbits; p++) {
        if (x->bitmap[p / 8] >> (p % 8) & 1) {
            x->rank[p] = off;
            off += 4096;
            set++;
        } else {
            x->rank[p] = UINT64_MAX;
        }
    }
    assert_int_equal(set, present);
    assert_true(m->nabsent > 0);
}

static void check_kernel(const char *kind, const char *arch, const char *extra)
{
    char name[96], opts[160];
    snprintf(name, sizeof name, "%s-%s.dmp", kind, arch);
    snprintf(opts, sizeof opts, "--arch %s %s", arch, extra ? extra : "");
    assert_int_equal(gen(kind, name, opts), 0);
    mf_manifest m;
    load(&m, name);
    blob b = slurp(name);
    assert_string_equal(m.kind, kind);
    assert_string_equal(m.arch, arch);
    assert_int_equal(m.seed, 1);
    assert_int_equal(m.nprocs, 4);
    assert_string_equal(m.paging, !strcmp(arch, "x86pae") ? "pae" : arch);
    assert_int_equal(m.machine, !strcmp(arch, "x64") ? 0x8664 : !strcmp(arch, "arm64") ? 0xaa64 : 0x14c);
    size_t ndata = 0;
    for (size_t i = 0; i < m.nphys; i++)
        ndata += !m.phys[i].table;
    assert_int_equal(ndata, 512);
    if (strcmp(kind, "raw")) {
        bool is64 = strstr(kind, "64") || !strcmp(kind, "demo");
        check_kernel_header(&m, &b, is64);
    } else {
        assert_int_equal(m.dump_type, 0);
        assert_false(m.has_bugcheck);
    }
    physidx x;
    index_container(&m, &b, &x);
    check_phys(&m, &x, &b);
    check_paging(&m, &x, &b);
    if (strcmp(kind, "raw")) {
        /* the context's pc and sp are mapped to data pages */
        const char *pcn = !strcmp(arch, "x64") ? "rip" : !strcmp(arch, "arm64") ? "pc" : "eip";
        const char *spn = !strcmp(arch, "x64") ? "rsp" : !strcmp(arch, "arm64") ? "sp" : "esp";
        uint8_t v;
        assert_true(mf_expected_byte(&m, reg(&m, pcn), &v));
        assert_true(mf_expected_byte(&m, reg(&m, spn), &v));
        assert_true(mf_expected_byte(&m, hdr_u64(&m, "PsLoadedModuleList"), &v));
    }
    free(x.rank);
    free(b.p);
    mf_free(&m);
}

/* ---------------------------------------------------------------- tests */
static void test_full64(void **state)
{
    (void)state;
    check_kernel("full64", "x64", NULL);
    check_kernel("full64", "arm64", NULL);
}

static void test_summary_bitmap64(void **state)
{
    (void)state;
    check_kernel("summary64", "x64", NULL);
    check_kernel("summary64", "arm64", NULL);
    static const char *types[] = {"5", "6", "8", "9", "10"};
    for (size_t i = 0; i < 5; i++) {
        char extra[32];
        snprintf(extra, sizeof extra, "--dump-type %s", types[i]);
        check_kernel("bitmap64", i % 2 ? "arm64" : "x64", extra);
    }
}

static void test_kernel32(void **state)
{
    (void)state;
    check_kernel("full32", "x86pae", NULL);
    check_kernel("full32", "x86", NULL);
    check_kernel("summary32", "x86pae", NULL);
    check_kernel("summary32", "x86", NULL);
}

static void test_raw(void **state)
{
    (void)state;
    check_kernel("raw", "x64", NULL);
    check_kernel("raw", "arm64", NULL);
    check_kernel("raw", "x86pae", NULL);
    check_kernel("raw", "x86", NULL);
}

static void test_demo(void **state)
{
    (void)state;
    check_kernel("demo", "x64", NULL);
    mf_manifest m;
    load(&m, "demo-x64.dmp");
    assert_int_equal(m.bugcheck, 0x1e);
    assert_int_equal(m.bugcheck_params[0], 0xffffffffc0000005ULL);
    assert_int_equal(m.bugcheck_params[1], reg(&m, "rip"));
    uint64_t demo_va = hdr_u64(&m, "DemoVa"), pa = 0;
    assert_true(mf_va_to_pa(&m, demo_va, &pa));
    assert_int_equal(mf_phys_state(&m, pa >> 12), MF_PHYS_DATA);
    /* the faulting address (parameter 4) is not mapped */
    assert_null(mf_find_map(&m, m.bugcheck_params[3]));
    mf_free(&m);
}

static void check_triage(const char *kind, const char *arch)
{
    char name[96], opts[64];
    snprintf(name, sizeof name, "%s-%s.dmp", kind, arch);
    snprintf(opts, sizeof opts, "--arch %s", arch);
    assert_int_equal(gen(kind, name, opts), 0);
    mf_manifest m;
    load(&m, name);
    blob b = slurp(name);
    bool is64 = !strcmp(kind, "triage64");
    assert_int_equal(m.dump_type, 4);
    assert_string_equal(m.paging, "none");
    check_kernel_header(&m, &b, is64);
    uint64_t t = is64 ? 0x2000 : 0x1000;
    assert_int_equal(hdr_u64(&m, "TriageOffset"), t);
    uint32_t size_of_dump = r32(&b, t + 4), valid = r32(&b, t + 8);
    assert_int_equal(size_of_dump, hdr_u64(&m, "SizeOfDump"));
    assert_int_equal(valid + 4, size_of_dump);
    assert_memory_equal(b.p + valid, "TRGD", 4);
    assert_int_equal(r32(&b, t + 0xc), is64 ? 0x348 : 0x320); /* ContextOffset */
    assert_int_equal(r32(&b, t + 0x10), is64 ? 0xf00 : 0x7d0); /* ExceptionOffset */
    uint32_t dl = r32(&b, t + 0x30), dc = r32(&b, t + 0x34);
    assert_int_equal(dc, m.nmodules);
    assert_true(dc >= 3);
    uint32_t esz = is64 ? 0x90 : 0x4c;
    for (uint32_t i = 0; i < dc; i++) {
        uint64_t e = dl + (uint64_t)i * esz;
        uint32_t no = r32(&b, e);
        uint32_t n = r32(&b, no);
        assert_true(utf16_eq(&b, no + 4, n, m.modules[i].name));
        assert_int_equal(r16(&b, no + 4 + 2ull * n), 0);
        uint64_t ldr = e + (is64 ? 8 : 4);
        uint64_t base = is64 ? r64(&b, ldr + 0x30) : r32(&b, ldr + 0x18);
        uint32_t size = r32(&b, ldr + (is64 ? 0x40 : 0x20));
        uint32_t cs = r32(&b, ldr + (is64 ? 0x78 : 0x40));
        uint32_t ts = r32(&b, ldr + (is64 ? 0x80 : 0x44));
        assert_int_equal(base, m.modules[i].base);
        assert_int_equal(size, m.modules[i].size);
        assert_int_equal(cs, m.modules[i].checksum);
        assert_int_equal(ts, m.modules[i].timestamp);
    }
    /* call stack and data blocks */
    uint64_t tos = is64 ? r64(&b, t + 0x48) : r32(&b, t + 0x48);
    uint32_t cso = r32(&b, t + 0x28), css = r32(&b, t + 0x2c);
    assert_true(m.nvranges >= 4);
    assert_int_equal(m.vranges[0].va, tos);
    assert_int_equal(m.vranges[0].size, css);
    assert_true(nk_gen_check(m.seed, tos, b.p + cso, css));
    uint32_t dbo = r32(&b, t + (is64 ? 0x78 : 0x60)), dbc = r32(&b, t + (is64 ? 0x7c : 0x64));
    assert_int_equal(dbc + 1, m.nvranges);
    for (uint32_t i = 0; i < dbc; i++) {
        uint64_t va = is64 ? r64(&b, dbo + 16ull * i) : r32(&b, dbo + 12ull * i);
        uint32_t off = r32(&b, dbo + (is64 ? 16ull * i + 8 : 12ull * i + 4));
        uint32_t sz = r32(&b, dbo + (is64 ? 16ull * i + 12 : 12ull * i + 8));
        assert_int_equal(va, m.vranges[1 + i].va);
        assert_int_equal(sz, m.vranges[1 + i].size);
        assert_true(off + (uint64_t)sz <= size_of_dump);
        assert_true(nk_gen_check(m.seed, va, b.p + off, sz));
    }
    /* debugger data copy */
    uint32_t kdo = r32(&b, t + (is64 ? 0x70 : 0x58));
    assert_memory_equal(b.p + kdo + 0x10, "KDBG", 4);
    /* DumpBlob records after SizeOfDump, walking exactly to the end of the file */
    assert_memory_equal(b.p + size_of_dump, "DumpBlob", 8);
    uint64_t o = size_of_dump + r32(&b, size_of_dump + 8);
    unsigned nblobs = 0;
    while (o < b.len && nblobs < 100) {
        uint32_t hsz = r32(&b, o), dsz = r32(&b, o + 20), pre = r32(&b, o + 24), post = r32(&b, o + 28);
        assert_int_equal(hsz, 0x20);
        o += hsz + pre + dsz + post;
        nblobs++;
    }
    assert_int_equal(o, b.len);
    assert_int_equal(nblobs, hdr_u64(&m, "BlobCount"));
    assert_int_equal(b.len, hdr_u64(&m, "FileSize"));
    free(b.p);
    mf_free(&m);
}

static void test_triage(void **state)
{
    (void)state;
    check_triage("triage64", "x64");
    check_triage("triage64", "arm64");
    check_triage("triage32", "x86pae");
    check_triage("triage32", "x86");
}

static void check_mdmp(const char *arch)
{
    char name[96], opts[64];
    snprintf(name, sizeof name, "mdmp-%s.dmp", arch);
    snprintf(opts, sizeof opts, "--arch %s", arch);
    assert_int_equal(gen("mdmp", name, opts), 0);
    mf_manifest m;
    load(&m, name);
    blob b = slurp(name);
    bool is64 = !strcmp(arch, "x64");
    assert_int_equal(r32(&b, 0), 0x504d444d);
    assert_int_equal(r32(&b, 4) & 0xffff, 0xa793);
    assert_int_equal(b.len, hdr_u64(&m, "FileSize"));
    uint32_t ns = r32(&b, 8), dir = r32(&b, 12);
    assert_int_equal(ns, hdr_u64(&m, "NumberOfStreams"));
    uint32_t have = 0;
    uint64_t mem_total = 0;
    size_t nvr = 0;
    for (uint32_t i = 0; i < ns; i++) {
        uint32_t type = r32(&b, dir + 12ull * i), size = r32(&b, dir + 12ull * i + 4);
        uint32_t rva = r32(&b, dir + 12ull * i + 8);
        assert_true(rva + (uint64_t)size <= b.len);
        if (type < 32)
            have |= 1u << type;
        if (type == 3) { /* threads */
            assert_int_equal(r32(&b, rva), m.nthreads);
            assert_true(m.nthreads >= 2);
            for (size_t k = 0; k < m.nthreads; k++) {
                uint64_t t = rva + 4 + 48 * k;
                assert_int_equal(r32(&b, t), m.threads[k].id);
                assert_int_equal(r64(&b, t + 16), m.threads[k].teb);
                assert_int_equal(r64(&b, t + 24), m.threads[k].stack_start);
                assert_int_equal(r32(&b, t + 32), m.threads[k].stack_size);
                assert_int_equal(r32(&b, t + 40), is64 ? 0x4d0 : 0x2cc);
                assert_true(nk_gen_check(m.seed, m.threads[k].stack_start, b.p + r32(&b, t + 36),
                                         m.threads[k].stack_size));
                /* `reg` lines: the exception thread's own context (what `r` shows) */
                if (m.threads[k].id == m.exception.thread_id)
                    check_context(&m, &b, r32(&b, t + 44));
            }
        } else if (type == 4) { /* modules */
            assert_int_equal(r32(&b, rva), m.nmodules);
            assert_true(m.nmodules >= 3);
            for (size_t k = 0; k < m.nmodules; k++) {
                uint64_t mo = rva + 4 + 108 * k;
                assert_int_equal(r64(&b, mo), m.modules[k].base);
                assert_int_equal(r32(&b, mo + 8), m.modules[k].size);
                assert_int_equal(r32(&b, mo + 12), m.modules[k].checksum);
                assert_int_equal(r32(&b, mo + 16), m.modules[k].timestamp);
                uint32_t nr = r32(&b, mo + 20);
                assert_true(utf16_eq(&b, nr + 4, r32(&b, nr) / 2, m.modules[k].name));
                assert_int_equal(r32(&b, mo + 24), 0xfeef04bd);
                uint32_t cvr = r32(&b, mo + 0x50);
                assert_memory_equal(b.p + cvr, "RSDS", 4);
            }
        } else if (type == 6) { /* exception */
            assert_true(m.exception.present);
            assert_int_equal(r32(&b, rva), m.exception.thread_id);
            assert_int_equal(r32(&b, rva + 8), m.exception.code);
            assert_int_equal(r64(&b, rva + 24), m.exception.address);
            /* the exception context: `header Ecxr.<reg>` (what .ecxr shows) */
            uint32_t c = r32(&b, rva + 164);
            if (is64) {
                assert_int_equal(r64(&b, c + 0xf8), hdr_u64(&m, "Ecxr.rip"));
                assert_int_equal(r64(&b, c + 0x98), hdr_u64(&m, "Ecxr.rsp"));
            } else {
                assert_int_equal(r32(&b, c + 0xb8), hdr_u64(&m, "Ecxr.eip"));
                assert_int_equal(r32(&b, c + 0xc4), hdr_u64(&m, "Ecxr.esp"));
            }
            assert_int_equal(hdr_u64(&m, is64 ? "Ecxr.rip" : "Ecxr.eip"), m.exception.address);
        } else if (type == 5) { /* memory list */
            uint32_t n = r32(&b, rva);
            for (uint32_t k = 0; k < n; k++) {
                uint64_t va = r64(&b, rva + 4 + 16ull * k);
                uint32_t sz = r32(&b, rva + 12 + 16ull * k), at = r32(&b, rva + 16 + 16ull * k);
                assert_true(nk_gen_check(m.seed, va, b.p + at, sz));
                mem_total += sz;
                nvr++;
            }
        } else if (type == 9) { /* memory64 list */
            uint64_t n = r64(&b, rva), at = r64(&b, rva + 8);
            for (uint64_t k = 0; k < n; k++) {
                uint64_t va = r64(&b, rva + 16 + 16 * k), sz = r64(&b, rva + 24 + 16 * k);
                assert_true(at + sz <= b.len);
                assert_true(nk_gen_check(m.seed, va, b.p + at, sz));
                at += sz;
                mem_total += sz;
                nvr++;
            }
        } else if (type == 7) { /* system info */
            assert_int_equal(r16(&b, rva), is64 ? 9 : 0);
            assert_int_equal(b.p[rva + 6], m.nprocs);
            assert_int_equal(r32(&b, rva + 16), m.build);
            uint32_t csd = r32(&b, rva + 24);
            assert_true(utf16_eq(&b, csd + 4, r32(&b, csd) / 2, mf_header(&m, "CSDVersion")->text));
        } else if (type == 15) { /* misc info */
            assert_int_equal(r32(&b, rva + 8), hdr_u64(&m, "ProcessId"));
            assert_int_equal(r32(&b, rva + 12), hdr_u64(&m, "ProcessCreateTime"));
        } else if (type == 12) { /* handles */
            assert_int_equal(r32(&b, rva + 8), hdr_u64(&m, "HandleCount"));
        }
    }
    for (int t = 3; t <= 15; t++)
        if (t != 8 && t != 10 && t != 11 && t != 13)
            assert_true(have & (1u << t));
    assert_int_equal(nvr, m.nvranges);
    uint64_t vr_total = 0;
    for (size_t i = 0; i < m.nvranges; i++)
        vr_total += m.vranges[i].size;
    assert_int_equal(vr_total, mem_total);
    free(b.p);
    mf_free(&m);
}

static void test_mdmp(void **state)
{
    (void)state;
    check_mdmp("x64");
    check_mdmp("x86");
}

static void test_corrupt(void **state)
{
    (void)state;
    static const char *kinds[] = {"full64", "full32", "demo", "summary64", "bitmap64",
                                  "summary32", "triage64", "triage32", "mdmp", "raw"};
    static const char *what[] = {"runs-past-eof", "bitmap-past-eof", "overlapping-runs",
                                 "huge-counts", "bad-offsets"};
    /* which corruption applies to which kind (bit per entry of `what`) */
    static const unsigned ok[] = {0x0d, 0x0d, 0x0d, 0x1a, 0x1a, 0x1a, 0x18, 0x18, 0x18, 0x00};
    for (size_t k = 0; k < sizeof kinds / sizeof kinds[0]; k++)
        for (size_t w = 0; w < 5; w++) {
            char name[96], opts[64];
            snprintf(name, sizeof name, "bad-%s-%s.dmp", kinds[k], what[w]);
            snprintf(opts, sizeof opts, "--corrupt %s", what[w]);
            int rc = gen(kinds[k], name, opts);
            bool applies = ok[k] >> w & 1;
            if (!applies) {
                assert_int_not_equal(rc, 0);
                continue;
            }
            assert_int_equal(rc, 0);
            mf_manifest m;
            load(&m, name);
            assert_string_equal(m.corrupt, what[w]);
            blob b = slurp(name);
            bool is64 = !memcmp(b.p, "PAGEDU64", 8);
            uint64_t hs = is64 ? 0x2000 : 0x1000;
            if (!strcmp(what[w], "runs-past-eof")) {
                uint32_t nruns = r32(&b, is64 ? 0x88 : 0x64);
                uint64_t sum = 0;
                for (uint32_t i = 0; i < nruns; i++)
                    sum += is64 ? r64(&b, 0xa0 + 16 * i) : r32(&b, 0x70 + 8 * i);
                assert_true(hs + sum * 4096 > b.len);
            } else if (!strcmp(what[w], "overlapping-runs")) {
                uint64_t b1 = is64 ? r64(&b, 0x98 + 16) : r32(&b, 0x6c + 8);
                uint64_t c1 = is64 ? r64(&b, 0xa0 + 16) : r32(&b, 0x70 + 8);
                uint64_t b2 = is64 ? r64(&b, 0x98 + 32) : r32(&b, 0x6c + 16);
                assert_true(b2 < b1 + c1);
            } else if (!strcmp(what[w], "bitmap-past-eof")) {
                assert_true(r64(&b, hs + 0x20) + r64(&b, hs + 0x28) * 4096 > b.len);
            } else if (!strcmp(what[w], "huge-counts")) {
                if (!strcmp(kinds[k], "mdmp"))
                    assert_true(r32(&b, 8) > 0x1000000);
                else if (strstr(kinds[k], "triage"))
                    assert_true(r32(&b, hs + 0x34) > 0x1000000);
                else if (m.dump_type == 1)
                    assert_int_equal(r32(&b, is64 ? 0x88 : 0x64), 0xffffffffu);
                else
                    assert_true(r64(&b, hs + 0x30) > 0x100000000ULL);
            } else if (!strcmp(what[w], "bad-offsets")) {
                if (!strcmp(kinds[k], "mdmp")) {
                    bool past = false;
                    uint32_t dir = r32(&b, 12);
                    for (uint32_t i = 0; i < r32(&b, 8); i++)
                        past |= r32(&b, dir + 12ull * i + 8) >= b.len;
                    assert_true(past);
                } else if (strstr(kinds[k], "triage")) {
                    assert_true(r32(&b, hs + 0x38) >= b.len); /* StringPoolOffset */
                } else {
                    assert_true(r64(&b, hs + 0x20) >= b.len); /* FirstPage */
                }
            }
            free(b.p);
            mf_free(&m);
        }
}

static void test_options(void **state)
{
    (void)state;
    assert_int_not_equal(gen("nosuchkind", "x.dmp", NULL), 0);
    assert_int_not_equal(gen("full64", "x.dmp", "--arch x86"), 0);
    assert_int_not_equal(gen("full32", "x.dmp", "--arch x64"), 0);
    assert_int_not_equal(gen("demo", "x.dmp", "--arch arm64"), 0);
    assert_int_not_equal(gen("mdmp", "x.dmp", "--arch arm64"), 0);
    assert_int_not_equal(gen("bitmap64", "x.dmp", "--dump-type 7"), 0);
    assert_int_not_equal(gen("full64", "x.dmp", "--dump-type 2"), 0);
    assert_int_not_equal(gen("full64", "x.dmp", "--pages 3"), 0);
    assert_int_not_equal(gen("full64", "x.dmp", "--corrupt nonsense"), 0);

    /* --build, --nprocs, --seed, --pages */
    assert_int_equal(gen("full64", "opt.dmp", "--build 22621 --nprocs 12 --seed 0x77 --pages 3000"), 0);
    mf_manifest m;
    load(&m, "opt.dmp");
    assert_int_equal(m.build, 22621);
    assert_int_equal(m.nprocs, 12);
    assert_int_equal(m.seed, 0x77);
    size_t ndata = 0;
    for (size_t i = 0; i < m.nphys; i++)
        ndata += !m.phys[i].table;
    assert_int_equal(ndata, 3000);
    blob b = slurp("opt.dmp");
    assert_int_equal(r32(&b, 12), 22621);
    assert_int_equal(r32(&b, 0x34), 12);
    physidx x;
    index_container(&m, &b, &x);
    check_phys(&m, &x, &b);
    check_paging(&m, &x, &b);
    free(b.p);
    mf_free(&m);

    /* the same seed gives the same file; another seed other data */
    assert_int_equal(gen("full64", "s1a.dmp", "--seed 5"), 0);
    assert_int_equal(gen("full64", "s1b.dmp", "--seed 5"), 0);
    assert_int_equal(gen("full64", "s2.dmp", "--seed 6"), 0);
    blob a1 = slurp("s1a.dmp"), a2 = slurp("s1b.dmp"), a3 = slurp("s2.dmp");
    assert_int_equal(a1.len, a2.len);
    assert_memory_equal(a1.p, a2.p, a1.len);
    assert_int_equal(a1.len, a3.len);
    assert_true(memcmp(a1.p + 0x2000, a3.p + 0x2000, 4096) != 0);
    free(a1.p);
    free(a2.p);
    free(a3.p);
}

static void test_manifest_reader(void **state)
{
    (void)state;
    char path[256];
    snprintf(path, sizeof path, "%s/hand.manifest", tmpdir);
    FILE *f = fopen(path, "w");
    assert_non_null(f);
    fputs("# comment\nkind mdmp\narch x64\nseed 0x2a\n"
          "header Comment  two  spaces and more\nheader N 0x10\nreg rip 0xfffff80000001000\n"
          "module 0x1000 0x2000 0x3 0x4 C:\\Program Files\\a b.dll\nphys 0x5 table\nphys 0x3 data\n"
          "absent 0x4\nmap 0x10000 0x3000 4k\nvrange 0x7000 0x10\nfuture-keyword 1 2 3\n",
          f);
    fclose(f);
    mf_manifest m;
    assert_int_equal(mf_load(&m, path), 0);
    assert_string_equal(m.kind, "mdmp");
    assert_int_equal(m.seed, 0x2a);
    assert_string_equal(mf_header(&m, "Comment")->text, "two  spaces and more");
    assert_false(mf_header(&m, "Comment")->numeric);
    assert_int_equal(hdr_u64(&m, "N"), 0x10);
    assert_int_equal(reg(&m, "rip"), 0xfffff80000001000ULL);
    assert_string_equal(m.modules[0].name, "C:\\Program Files\\a b.dll");
    assert_int_equal(mf_phys_state(&m, 3), MF_PHYS_DATA);
    assert_int_equal(mf_phys_state(&m, 5), MF_PHYS_TABLE);
    assert_int_equal(mf_phys_state(&m, 4), MF_PHYS_ABSENT);
    assert_int_equal(mf_phys_state(&m, 6), MF_PHYS_UNKNOWN);
    uint8_t v;
    assert_true(mf_expected_byte(&m, 0x10008, &v));
    assert_int_equal(v, nk_gen_byte(0x2a, 0x3008));
    assert_true(mf_expected_byte(&m, 0x700f, &v));
    assert_int_equal(v, nk_gen_byte(0x2a, 0x700f));
    assert_false(mf_expected_byte(&m, 0x7010, &v));
    mf_free(&m);

    f = fopen(path, "w");
    assert_non_null(f);
    fputs("kind full64\nmap 0x10 zz 4k\n", f);
    fclose(f);
    assert_int_equal(mf_load(&m, path), -1);
    assert_true(strstr(m.error, "bad number") != NULL);

    /* the pattern: quadword at an aligned address is the mix of seed ^ (addr >> 3) */
    uint8_t q[8];
    nk_gen_fill(9, 0x1238, q, 8);
    uint64_t w;
    memcpy(&w, q, 8);
    assert_int_equal(w, nk_gen_mix(9 ^ (0x1238 >> 3)));
    assert_int_equal(nk_gen_mix(0), 0); /* splitmix64's finaliser fixes 0 */
}

static int setup(void **state)
{
    (void)state;
    snprintf(tmpdir, sizeof tmpdir, "/tmp/ntkd-gendump-test-XXXXXX");
    return mkdtemp(tmpdir) ? 0 : -1;
}

static int teardown(void **state)
{
    (void)state;
    char cmd[128];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", tmpdir);
    return system(cmd) == 0 ? 0 : -1;
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_manifest_reader),
        cmocka_unit_test(test_full64),
        cmocka_unit_test(test_summary_bitmap64),
        cmocka_unit_test(test_kernel32),
        cmocka_unit_test(test_raw),
        cmocka_unit_test(test_demo),
        cmocka_unit_test(test_triage),
        cmocka_unit_test(test_mdmp),
        cmocka_unit_test(test_corrupt),
        cmocka_unit_test(test_options),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
