/* bench_phys.c: open time and whole-dump physical read bandwidth of libntkd, with a count of
 * heap allocations made while reading (must be zero per page). Prints one line of numbers;
 * bench/run.sh puts them next to `cat` of the same file in the same run. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "dump/dump.h"
#include "mem/mem.h"

/* Allocation counter: the binary links with --wrap=malloc/calloc/realloc. */
static size_t g_allocs;
void *__real_malloc(size_t n);
void *__real_calloc(size_t a, size_t b);
void *__real_realloc(void *p, size_t n);
void *__wrap_malloc(size_t n) { g_allocs++; return __real_malloc(n); }
void *__wrap_calloc(size_t a, size_t b) { g_allocs++; return __real_calloc(a, b); }
void *__wrap_realloc(void *p, size_t n) { g_allocs++; return __real_realloc(p, n); }

static double now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

int main(int argc, char **argv)
{
    if (argc < 2) {
        fprintf(stderr, "usage: bench_phys DUMP [copy|ptr]\n");
        return 2;
    }
    bool use_ptr = argc > 2 && strcmp(argv[2], "ptr") == 0;
    ntkd_ctx *ctx = ntkd_ctx_new();
    ntkd_target *t;
    double t0 = now();
    if (ntkd_open(ctx, argv[1], NULL, &t) != NTKD_OK) {
        fprintf(stderr, "%s\n", ntkd_ctx_error(ctx));
        return 3;
    }
    double t1 = now();
    /* Highest page the container describes. */
    uint64_t maxpfn = 0;
    const nk_physmap *p = &t->d.phys;
    if (p->kind == NK_PHYS_BITMAP) maxpfn = p->nbits;
    for (size_t i = 0; i < p->nruns; i++)
        if (p->runs[i].base_pfn + p->runs[i].page_count > maxpfn)
            maxpfn = p->runs[i].base_pfn + p->runs[i].page_count;
    static uint8_t page[4096];
    uint64_t pages = 0, sum = 0;
    size_t allocs_before = g_allocs;
    double t2 = now();
    for (uint64_t pfn = 0; pfn < maxpfn; pfn++) {
        if (use_ptr) {
            size_t avail;
            const uint8_t *q = nk_phys_ptr(t, pfn << 12, &avail);
            if (!q) continue;
            /* touch every cache line, as a copy would */
            for (size_t i = 0; i < avail; i += 64) sum += q[i];
            pages++;
        } else {
            size_t got;
            if (ntkd_read_phys(t, pfn << 12, page, sizeof page, &got) != NTKD_OK) continue;
            sum += page[pfn & 4095];
            pages++;
        }
    }
    double t3 = now();
    size_t allocs = g_allocs - allocs_before;
    double mib = (double)pages * 4096.0 / (1024.0 * 1024.0);
    printf("open_ms=%.3f pages=%llu read_s=%.3f read_mib_s=%.1f allocs_during_read=%zu checksum=%llu\n",
           (t1 - t0) * 1e3, (unsigned long long)pages, t3 - t2, mib / (t3 - t2), allocs,
           (unsigned long long)sum);
    ntkd_close(t);
    ntkd_ctx_free(ctx);
    return 0;
}
