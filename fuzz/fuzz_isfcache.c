/* fuzz_isfcache.c: the ISF table cache reader (src/sym/isf_cache.c). The bytes are loaded as
 * a cache image (the key is not checked), then again with the header's CRC recomputed over
 * them, so the structure checks behind the CRC are fuzzed too. A loaded table is walked the way
 * dt and the symbol layer use it. An input that is a JSON table is parsed, written as a cache
 * image and loaded back (the writer's round trip); with NTKD_FUZZ_ISFCACHE_OUT=FILE that image
 * is also saved (tools/test.sh makes its seed so). */
#include <lzma.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "sym/isf_int.h"
#include "../tests/unit/isf_walk.h"

static void roundtrip(ntkd_ctx *ctx, const uint8_t *data, size_t size)
{
    nk_isf *x = NULL, *y = NULL;
    if (nk_isf_open_mem(ctx, "fuzz.json", data, size, &x) != NTKD_OK) return;
    uint8_t *img;
    size_t len;
    if (nk_isf_cache_serialize(x, 1, size, &img, &len)) {
        const char *out = getenv("NTKD_FUZZ_ISFCACHE_OUT");
        FILE *f = out ? fopen(out, "wb") : NULL;
        if (f) {
            fwrite(img, 1, len, f);
            fclose(f);
        }
        if (nk_isf_cache_load_mem(ctx, "fuzz.json", img, len, true, 1, size, &y) != NTKD_OK) abort();
        if (y->ntypes != x->ntypes || y->nsyms != x->nsyms) abort();
        isf_walk(y);
        nk_isf_close(y);
        free(img);
    }
    nk_isf_close(x);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    ntkd_ctx *ctx = ntkd_ctx_new();
    if (!ctx) return 0;
    nk_isf *x = NULL;
    if (size && data[0] == '{') roundtrip(ctx, data, size);
    if (nk_isf_cache_load_mem(ctx, "fuzz.bin", data, size, false, 0, 0, &x) == NTKD_OK) {
        isf_walk(x);
        nk_isf_close(x);
    }
    /* the same bytes with the CRC made right (header: 144 bytes, CRC, then the payload) */
    if (size >= 152) {
        uint8_t *c = malloc(size);
        if (c) {
            memcpy(c, data, size);
            uint64_t crc = lzma_crc64(c, 144, 0);
            crc = lzma_crc64(c + 152, size - 152, crc);
            memcpy(c + 144, &crc, 8);
            x = NULL;
            if (nk_isf_cache_load_mem(ctx, "fuzz.bin", c, size, false, 0, 0, &x) == NTKD_OK) {
                isf_walk(x);
                nk_isf_close(x);
            }
            free(c);
        }
    }
    ntkd_ctx_free(ctx);
    return 0;
}
