/* fuzz_common.h: shared body of the fuzz targets: open the bytes as a dump (after forcing the
 * container's signature so every input reaches the parser under test), then run the commands
 * that walk what the parser produced. */
#ifndef NTKD_FUZZ_COMMON_H
#define NTKD_FUZZ_COMMON_H

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ntkd/ntkd.h"

static void fuzz_run(const uint8_t *data, size_t size, const uint8_t *prefix, size_t plen,
                     size_t at2, const uint8_t *patch2, size_t p2len, const ntkd_open_opts *opts)
{
    uint8_t *buf = malloc(size ? size : 1);
    if (!buf) return;
    memcpy(buf, data, size);
    if (size >= plen) memcpy(buf, prefix, plen);
    if (patch2 && size >= at2 + p2len) memcpy(buf + at2, patch2, p2len);
    ntkd_ctx *ctx = ntkd_ctx_new();
    ntkd_target *t = NULL;
    if (ctx && ntkd_open_mem(ctx, "fuzz.dmp", buf, size, opts, &t) == NTKD_OK) {
        FILE *null = fopen("/dev/null", "w");
        static const char *const cmds[] = {
            ".dumpdebug", "vertarget", ".bugcheck", "r", "dq @rsp L20", "dd @esp L20",
            "db @rip L40", "!pte @rip", "!vtop 0 fffff80000000000", "!dq 0 L40", "|", "~",
            ".exr -1", ".ecxr", "~1s", "dps @rsp L8", "du @rsp", ".formats poi(@rsp)",
        };
        bool quit = false;
        for (size_t i = 0; null && i < sizeof cmds / sizeof cmds[0]; i++) {
            ntkd_execute(t, cmds[i], null, NTKD_OUT_TEXT, &quit);
            ntkd_execute(t, cmds[i], null, NTKD_OUT_JSON, &quit);
        }
        uint8_t page[64];
        size_t got;
        for (uint64_t pa = 0; pa < 0x40000; pa += 0x1000) ntkd_read_phys(t, pa, page, sizeof page, &got);
        if (null) fclose(null);
        ntkd_close(t);
    }
    ntkd_ctx_free(ctx);
    free(buf);
}

#endif
