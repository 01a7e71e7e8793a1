/* test_base.c: small helpers of src/base that every layer relies on. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>
#include <stdio.h>
#include <sys/mman.h>
#include <time.h>
#include <unistd.h>

#include "base/base.h"

static char *conv(const uint16_t *u, size_t n)
{
    uint8_t b[64];
    for (size_t i = 0; i < n; i++) {
        b[2 * i] = (uint8_t)u[i];
        b[2 * i + 1] = (uint8_t)(u[i] >> 8);
    }
    return nk_utf16_to_utf8(b, 2 * n);
}

static void utf16(void **state)
{
    (void)state;
    /* ASCII, a two-byte and a three-byte character (UTF-8 by the Unicode standard) */
    uint16_t a[] = {'A', 0xe9, 0x20ac};
    char *s = conv(a, 3);
    assert_string_equal(s, "A\xc3\xa9\xe2\x82\xac");
    free(s);
    /* a surrogate pair: U+1F600 */
    uint16_t p[] = {0xd83d, 0xde00};
    s = conv(p, 2);
    assert_string_equal(s, "\xf0\x9f\x98\x80");
    free(s);
    /* unpaired surrogates (hostile names) become U+FFFD, never invalid UTF-8 */
    uint16_t h[] = {0xd800, 'x', 0xdc00, 0xdbff};
    s = conv(h, 4);
    assert_string_equal(s, "\xef\xbf\xbdx\xef\xbf\xbd\xef\xbf\xbd");
    free(s);
    /* stops at a NUL */
    uint16_t z[] = {'a', 0, 'b'};
    s = conv(z, 3);
    assert_string_equal(s, "a");
    free(s);
}

/* The page mask counts each page once and ignores pointers outside its mapping. */
static void pagemask(void **state)
{
    (void)state;
    static uint8_t mem[0x12000] __attribute__((aligned(0x1000)));
    uint8_t *buf = mem + 0x1000; /* the mask covers mem[0x1000, 0x11000) */
    nk_pagemask m;
    assert_true(nk_pagemask_init(&m, buf, 0x10000));
    assert_int_equal(m.npages, 16);
    nk_pagemask_set(&m, buf);
    nk_pagemask_set(&m, buf + 0xfff);   /* the same page */
    nk_pagemask_set(&m, buf + 0xf000);  /* the last page */
    nk_pagemask_set(&m, buf + 0x10000); /* one past the end */
    nk_pagemask_set(&m, mem);           /* before the start */
    assert_int_equal(m.marked, 2);
    assert_int_equal(m.bits[0], 0x8001);
    /* too little to prefetch: no threads */
    assert_null(nk_prefetch_start(&m));
    nk_prefetch_stop(NULL);
    nk_pagemask_free(&m);
    assert_false(nk_pagemask_init(&m, buf, 0x800)); /* less than a page */
}

/* The resident size of the mapping that starts at `p`, from /proc/self/smaps (-1: not found). */
static long rss_kb(const void *p)
{
    FILE *f = fopen("/proc/self/smaps", "r");
    if (!f) return -1;
    char line[512];
    long kb = -1;
    bool in = false;
    while (fgets(line, sizeof line, f)) {
        unsigned long a, b;
        if (sscanf(line, "%lx-%lx ", &a, &b) == 2 && strchr(line, '-') < strchr(line, ' ')) {
            in = a == (unsigned long)(uintptr_t)p;
            continue;
        }
        if (in && sscanf(line, "Rss: %ld kB", &kb) == 1) break;
    }
    fclose(f);
    return kb;
}

/* The helpers map the marked pages of a file mapping (every other page of 80 MB) without the
 * caller touching it: the mapping's resident size grows from nothing to at least the marked pages
 * (the kernel may map neighbours with them), and every page reads back what was written. */
static void prefetch_maps_marked_pages(void **state)
{
    (void)state;
    char path[] = "/tmp/ntkd-prefetch-XXXXXX";
    int fd = mkstemp(path);
    assert_true(fd >= 0);
    const size_t size = 80u << 20, pages = size / 0x1000;
    uint8_t pg[0x1000];
    for (size_t i = 0; i < pages; i++) {
        memset(pg, (int)(i & 0xff), sizeof pg);
        assert_int_equal(write(fd, pg, sizeof pg), (ssize_t)sizeof pg);
    }
    close(fd);
    nk_file f;
    assert_int_equal(nk_file_map(NULL, path, &f), NTKD_OK);
    unlink(path);
    assert_int_equal(rss_kb(f.data), 0);
    nk_pagemask m;
    assert_true(nk_pagemask_init(&m, f.data, f.size));
    for (size_t i = 0; i < pages; i += 2) nk_pagemask_set(&m, f.data + i * 0x1000);
    assert_int_equal(m.marked, pages / 2);
    nk_prefetch *pf = nk_prefetch_start(&m);
    assert_non_null(pf);
    /* wait for the helpers (at most 20 s), reading nothing ourselves */
    long want = (long)(pages / 2) * 4, kb = 0;
    for (int i = 0; i < 2000 && (kb = rss_kb(f.data)) < want; i++) nanosleep(&(struct timespec){0, 10000000}, NULL);
    nk_prefetch_stop(pf);
    assert_true(kb >= want);
    for (size_t i = 0; i < pages; i++) assert_int_equal(f.data[i * 0x1000 + 7], (uint8_t)(i & 0xff));
    nk_pagemask_free(&m);
    nk_file_unmap(&f);
}

int main(void)
{
    const struct CMUnitTest tests[] = {cmocka_unit_test(utf16), cmocka_unit_test(pagemask),
                                       cmocka_unit_test(prefetch_maps_marked_pages)};
    return cmocka_run_group_tests(tests, NULL, NULL);
}
