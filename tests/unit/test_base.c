/* test_base.c: small helpers of src/base that every layer relies on. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

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

int main(void)
{
    const struct CMUnitTest tests[] = {cmocka_unit_test(utf16)};
    return cmocka_run_group_tests(tests, NULL, NULL);
}
