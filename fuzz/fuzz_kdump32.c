/* fuzz_kdump32.c: PAGEDUMP headers (32-bit full and summary dumps, PAE and non-PAE). */
#include "fuzz_common.h"
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    fuzz_run(data, size, (const uint8_t *)"PAGEDUMP", 8, 0, NULL, 0, NULL);
    return 0;
}
