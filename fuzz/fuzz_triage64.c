/* fuzz_triage64.c: 64-bit small dumps: PAGEDU64 with DumpType 4 (at 0xF98) forced. */
#include "fuzz_common.h"
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static const uint8_t type4[4] = {4, 0, 0, 0};
    fuzz_run(data, size, (const uint8_t *)"PAGEDU64", 8, 0xf98, type4, 4, NULL);
    return 0;
}
