/* fuzz_raw.c: raw physical images: the page-table self-reference scan and the page walk. */
#include "fuzz_common.h"
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    ntkd_open_opts o = {.raw = true};
    fuzz_run(data, size, (const uint8_t *)"", 0, 0, NULL, 0, &o);
    return 0;
}
