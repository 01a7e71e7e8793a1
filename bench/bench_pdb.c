/* bench_pdb.c: the PDB reader's cost for a debugger: time from open to the first `ln`
 * answer (index ready: superblock, directory, DBI, section headers, publics address map), to
 * the first `dt` answer (type found through the hash, its fields walked with their type
 * names), `ln` lookups per second (random addresses, publics and function extents), and the
 * resident memory the process gained (mapped pages touched plus the indexes) against the
 * file's size. Usage: bench_pdb FILE.pdb[:Type] ... ; prints one line per file. bench/pdb.sh
 * puts llvm-pdbutil's time on the same files next to it. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

#include "pdb/pdb.h"

static double now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* Resident set size of this process in KiB (VmRSS). */
static long rss_kib(void)
{
    FILE *f = fopen("/proc/self/status", "r");
    if (!f) return -1;
    char line[256];
    long v = -1;
    while (fgets(line, sizeof line, f))
        if (!strncmp(line, "VmRSS:", 6)) v = strtol(line + 6, NULL, 10);
    fclose(f);
    return v;
}

static int bench_one(const char *arg)
{
    char path[4096];
    snprintf(path, sizeof path, "%s", arg);
    const char *type = NULL;
    char *colon = strrchr(path, ':');
    if (colon) {
        *colon = 0;
        type = colon + 1;
    }
    struct stat sb;
    if (stat(path, &sb) != 0) {
        fprintf(stderr, "%s: cannot stat\n", path);
        return 1;
    }
    ntkd_ctx *ctx = ntkd_ctx_new();
    double best_ln = 1e9, best_dt = 1e9;
    /* lookups and memory first, in a fresh process (nothing mapped or allocated yet) */
    long rss0 = rss_kib();
    nk_pdb *p;
    if (nk_pdb_open(ctx, path, &p) != NTKD_OK) return 1;
    size_t n = 0;
    nk_pdb_public_addr_count(p, &n);
    uint32_t lo = 0, hi = 0;
    nk_pdb_public pb;
    if (n) {
        nk_pdb_public_addr_get(p, 0, &pb);
        lo = pb.rva;
        nk_pdb_public_addr_get(p, n - 1, &pb);
        hi = pb.rva + 0x100;
    }
    const long N = 10000000;
    uint32_t x = 12345, acc = 0;
    double t0 = now();
    for (long i = 0; i < N; i++) {
        x = x * 1664525u + 1013904223u;
        uint32_t rva = lo + (hi > lo ? x % (hi - lo) : 0);
        uint32_t disp;
        if (nk_pdb_public_by_rva(p, rva, &pb, &disp) == NTKD_OK) acc += disp;
    }
    double t1 = now();
    /* ln as the debugger asks it: function extents first, publics otherwise */
    const long N2 = 2000000;
    nk_pdb_addr_sym a;
    nk_pdb_addr_lookup(p, lo, &a); /* builds the function index */
    double t2 = now();
    for (long i = 0; i < N2; i++) {
        x = x * 1664525u + 1013904223u;
        uint32_t rva = lo + (hi > lo ? x % (hi - lo) : 0);
        if (nk_pdb_addr_lookup(p, rva, &a) == NTKD_OK) acc += a.disp;
    }
    double t3 = now();
    if (type) {
        uint32_t ti;
        nk_pdb_type_find(p, type, &ti);
        nk_pdb_field_iter it;
        nk_pdb_field f;
        char buf[256];
        if (nk_pdb_fields_begin(p, ti, &it) == NTKD_OK)
            while (nk_pdb_fields_next(&it, &f)) nk_pdb_type_name(p, f.type_ti, buf, sizeof buf);
    }
    long rss1 = rss_kib();
    size_t nf = 0;
    nk_pdb_func_count(p, &nf);
    nk_pdb_close(p);
    /* open -> first ln, best of 7 (page cache warm after the first) */
    for (int rep = 0; rep < 7; rep++) {
        nk_pdb *p;
        double t0 = now();
        if (nk_pdb_open(ctx, path, &p) != NTKD_OK) {
            fprintf(stderr, "%s\n", ntkd_ctx_error(ctx));
            return 1;
        }
        nk_pdb_public pb;
        uint32_t disp;
        nk_pdb_public_by_rva(p, 0x1234, &pb, &disp);
        double t1 = now();
        if (t1 - t0 < best_ln) best_ln = t1 - t0;
        nk_pdb_close(p);
    }
    for (int rep = 0; type && rep < 7; rep++) {
        nk_pdb *p;
        double t0 = now();
        if (nk_pdb_open(ctx, path, &p) != NTKD_OK) return 1;
        uint32_t ti;
        if (nk_pdb_type_find(p, type, &ti) != NTKD_OK) {
            fprintf(stderr, "%s\n", ntkd_ctx_error(ctx));
            return 1;
        }
        nk_pdb_field_iter it;
        nk_pdb_field f;
        char buf[256];
        size_t members = 0;
        uint64_t sz;
        nk_pdb_type_size(p, ti, &sz);
        if (nk_pdb_fields_begin(p, ti, &it) == NTKD_OK)
            while (nk_pdb_fields_next(&it, &f)) {
                nk_pdb_type_name(p, f.type_ti, buf, sizeof buf);
                members++;
            }
        double t1 = now();
        if (t1 - t0 < best_dt) best_dt = t1 - t0;
        nk_pdb_close(p);
        (void)members;
    }

    const char *base = strrchr(path, '/');
    printf("%s: size_kib=%lld publics=%zu functions=%zu first_ln_ms=%.3f first_dt_ms=%.3f ln_per_s=%.2fM "
           "ln_with_functions_per_s=%.2fM rss_gain_kib=%ld rss_ratio=%.2f (checksum %u)\n",
           base ? base + 1 : path, (long long)sb.st_size / 1024, n, nf, best_ln * 1e3, type ? best_dt * 1e3 : 0.0,
           N / (t1 - t0) / 1e6, N2 / (t3 - t2) / 1e6, rss1 - rss0, (double)(rss1 - rss0) * 1024.0 / (double)sb.st_size,
           acc);
    ntkd_ctx_free(ctx);
    return 0;
}

int main(int argc, char **argv)
{
    if (argc < 2) {
        fprintf(stderr, "usage: bench_pdb FILE.pdb[:Type] ...\n");
        return 2;
    }
    int rc = 0;
    for (int i = 1; i < argc; i++) rc |= bench_one(argv[i]);
    return rc;
}
