/* prefetch.c: populating the page tables of a mapped dump ahead of a scan that reads most of it.
 *
 * A scan over every kernel page of a multi-gigabyte dump spends its time in page faults: each
 * first touch of a page of the mapping traps into the kernel, which maps a few pages of the page
 * cache at a time. Asking the kernel to populate whole runs of pages at once (MADV_POPULATE_READ,
 * Linux 5.14) is cheaper per page, and doing it on helper threads while the scan runs overlaps
 * the two. The scan first marks the pages it will read in a bitmap over the mapping (nk_pagemask);
 * the helpers then claim windows of that bitmap in file order and populate each run of marked
 * pages. They touch nothing but the caller's read-only mapping and share only an atomic window
 * counter and a stop flag with the caller, so the engine itself stays single-threaded. Where the
 * kernel lacks the call, the helpers read one byte per page instead. Nothing here changes what a
 * scan reads or finds; for small scans, or without threads, it does nothing at all. */
#include <pthread.h>
#include <stdatomic.h>
#include <sys/mman.h>
#include <unistd.h>

#include "base/base.h"

#define PF_MAX_THREADS 4
#define PF_MIN_PAGES 8192u  /* 32 MB: below this the threads cost more than they save */
#define PF_WINDOW_WORDS 16u /* a claim: 16 bitmap words = 1024 pages = 4 MB of the mapping */
#define PG 0x1000u

bool nk_pagemask_init(nk_pagemask *m, const uint8_t *base, uint64_t size)
{
    memset(m, 0, sizeof *m);
    if (!base || size < PG || size / PG > SIZE_MAX / 2) return false;
    size_t words = (size_t)(size / PG + 63) / 64;
    m->bits = calloc(words, sizeof *m->bits);
    if (!m->bits) return false;
    m->base = base;
    m->npages = (size_t)(size / PG);
    return true;
}

void nk_pagemask_set(nk_pagemask *m, const uint8_t *p)
{
    if (!m->bits || p < m->base) return;
    size_t i = (size_t)(p - m->base) / PG;
    if (i >= m->npages) return;
    uint64_t b = 1ull << (i % 64);
    if (!(m->bits[i / 64] & b)) {
        m->bits[i / 64] |= b;
        m->marked++;
    }
}

void nk_pagemask_free(nk_pagemask *m)
{
    free(m->bits);
    memset(m, 0, sizeof *m);
}

struct nk_prefetch {
    const nk_pagemask *m;
    size_t windows;
    atomic_size_t next; /* the next window to claim */
    atomic_bool stop;
    size_t nthreads;
    pthread_t th[PF_MAX_THREADS];
};

static void populate(const uint8_t *p, size_t len)
{
#ifdef MADV_POPULATE_READ
    if (madvise((void *)p, len, MADV_POPULATE_READ) == 0) return;
#endif
    /* no such call: touch each page (a volatile read the compiler keeps) */
    for (size_t o = 0; o < len; o += PG) (void)*(const volatile uint8_t *)(p + o);
}

/* The runs of marked pages in window w, each populated; the base of a mapping is page-aligned
 * (mmap), so every run is too. */
static void window(const nk_pagemask *m, size_t w)
{
    size_t first = w * PF_WINDOW_WORDS * 64, end = first + PF_WINDOW_WORDS * 64;
    if (end > m->npages) end = m->npages;
    size_t run = SIZE_MAX;
    for (size_t i = first; i <= end; i++) {
        bool on = i < end && (m->bits[i / 64] >> (i % 64) & 1);
        if (on && run == SIZE_MAX) run = i;
        else if (!on && run != SIZE_MAX) {
            populate(m->base + run * PG, (i - run) * PG);
            run = SIZE_MAX;
        }
        if (i < end && i % 64 == 0 && !m->bits[i / 64] && run == SIZE_MAX) i += 63; /* an empty word */
    }
}

static void *worker(void *arg)
{
    nk_prefetch *pf = arg;
    while (!atomic_load_explicit(&pf->stop, memory_order_relaxed)) {
        size_t w = atomic_fetch_add_explicit(&pf->next, 1, memory_order_relaxed);
        if (w >= pf->windows) break;
        window(pf->m, w);
    }
    return NULL;
}

nk_prefetch *nk_prefetch_start(const nk_pagemask *m)
{
    if (!m || !m->bits || m->marked < PF_MIN_PAGES || ((uintptr_t)m->base & (PG - 1))) return NULL;
    long cpus = sysconf(_SC_NPROCESSORS_ONLN);
    size_t want = cpus < 1 ? 1 : cpus > PF_MAX_THREADS ? PF_MAX_THREADS : (size_t)cpus;
    nk_prefetch *pf = calloc(1, sizeof *pf);
    if (!pf) return NULL;
    pf->m = m;
    pf->windows = (m->npages + PF_WINDOW_WORDS * 64 - 1) / (PF_WINDOW_WORDS * 64);
    atomic_init(&pf->next, 0);
    atomic_init(&pf->stop, false);
    for (size_t i = 0; i < want; i++) {
        if (pthread_create(&pf->th[pf->nthreads], NULL, worker, pf) != 0) break;
        pf->nthreads++;
    }
    if (!pf->nthreads) {
        free(pf);
        return NULL;
    }
    return pf;
}

void nk_prefetch_stop(nk_prefetch *pf)
{
    if (!pf) return;
    atomic_store(&pf->stop, true);
    for (size_t i = 0; i < pf->nthreads; i++) pthread_join(pf->th[i], NULL);
    free(pf);
}
