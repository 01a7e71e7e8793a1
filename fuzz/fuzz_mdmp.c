/* fuzz_mdmp.c: user-mode minidumps (MDMP header forced). */
#include "fuzz_common.h"
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static const uint8_t sig[6] = {'M', 'D', 'M', 'P', 0x93, 0xa7};
    fuzz_run(data, size, sig, sizeof sig, 0, NULL, 0, NULL);
    return 0;
}
