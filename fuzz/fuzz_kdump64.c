/* fuzz_kdump64.c: PAGEDU64 headers (full, summary, bitmap dumps: DumpType as given). */
#include "fuzz_common.h"
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    fuzz_run(data, size, (const uint8_t *)"PAGEDU64", 8, 0, NULL, 0, NULL);
    return 0;
}
