/* fuzz_cab.c: symbol-server cabinets (".pd_"). The input is read as a cabinet (after forcing
 * the "MSCF" signature and clearing the multi-cabinet flags so most inputs reach libmspack
 * through our bounded I/O layer) and its file extracted into memory with a small output
 * bound; what comes out is then opened as a PDB, as the symbol store does with a .pd_. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "ntkd/ntkd.h"
#include "pdb/pdb.h"
#include "sym/cab.h"

#define FUZZ_MAX_OUT (16u << 20)

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    uint8_t *buf = malloc(size ? size : 1);
    if (!buf) return 0;
    memcpy(buf, data, size);
    if (size >= 4) memcpy(buf, "MSCF", 4);
    if (size >= 32) buf[30] &= (uint8_t)~3u;
    ntkd_ctx *ctx = ntkd_ctx_new();
    if (ctx) {
        uint8_t *out = NULL;
        size_t olen = 0;
        const char *want = (size && (data[size - 1] & 1)) ? "basic32.pdb" : NULL;
        if (nk_cab_extract_mem(ctx, "fuzz.pd_", buf, size, want, FUZZ_MAX_OUT, &out, &olen) ==
            NTKD_OK) {
            nk_pdb *p = NULL;
            if (nk_pdb_open_mem(ctx, "fuzz.pdb", out, olen, &p) == NTKD_OK) nk_pdb_close(p);
            free(out);
        }
        ntkd_ctx_free(ctx);
    }
    free(buf);
    return 0;
}
