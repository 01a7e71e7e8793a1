/* test_isf_regress.c: ISF inputs that once broke the reader (found by fuzz_isf). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <cmocka.h>

#include "type/type.h"

/* A struct whose "fields" object is empty: the reader sorted an empty, unallocated field
 * array (undefined behaviour caught by UBSan). It must load, with no fields. */
static void empty_field_list(void **state)
{
    (void)state;
    static const char json[] =
        "{\"metadata\":{\"format\":\"6.2.0\"},"
        "\"base_types\":{\"int\":{\"kind\":\"int\",\"size\":4,\"signed\":true,\"endian\":\"little\"}},"
        "\"user_types\":{\"_S\":{\"kind\":\"struct\",\"size\":8,\"fields\":{}}},"
        "\"enums\":{},\"symbols\":{}}";
    ntkd_ctx *ctx = ntkd_ctx_new();
    nk_isf *isf = NULL;
    assert_int_equal(nk_isf_open_mem(ctx, "empty.json", json, sizeof json - 1, &isf), NTKD_OK);
    nk_typesrc *ts = nk_isf_types(isf);
    uint64_t id;
    assert_true(nk_type_find(ts, "_S", &id));
    nk_tinfo ti;
    assert_true(nk_type_info(ts, id, &ti));
    assert_int_equal(ti.size, 8);
    nk_tfield f;
    assert_false(ts->ops->field(ts, id, 0, &f));
    nk_isf_close(isf);
    ntkd_ctx_free(ctx);
}

int main(void)
{
    const struct CMUnitTest tests[] = {cmocka_unit_test(empty_field_list)};
    return cmocka_run_group_tests(tests, NULL, NULL);
}
