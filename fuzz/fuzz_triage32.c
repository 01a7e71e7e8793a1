/* fuzz_triage32.c: 32-bit small dumps: PAGEDUMP with DumpType 4 (at 0xF88) forced. */
#include "fuzz_common.h"
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static const uint8_t type4[4] = {4, 0, 0, 0};
    fuzz_run(data, size, (const uint8_t *)"PAGEDUMP", 8, 0xf88, type4, 4, NULL);
    return 0;
}
