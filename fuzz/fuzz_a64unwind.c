/* fuzz_a64unwind.c: ARM64 unwinding over hostile unwind data. The input is opened as a PE
 * image target (an ARM64 image's .pdata/.xdata and code, as the seed corpus gives them); the
 * last 48 bytes of the input, when present, seed the registers (pc as an offset into the
 * image, sp, fp, lr) and the stack, which is the image itself; the walk then takes up to 64
 * steps through nk_step_arm64. Every step must end with a status, and never read out of
 * bounds or loop. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "code/unwind.h"
#include "dump/dump.h"
#include "sym/sym.h"

static uint64_t le64(const uint8_t *p)
{
    uint64_t v = 0;
    for (int i = 7; i >= 0; i--) v = (v << 8) | p[i];
    return v;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 0x100) return 0;
    uint8_t *buf = malloc(size);
    if (!buf) return 0;
    memcpy(buf, data, size);
    buf[0] = 'M';
    buf[1] = 'Z';
    ntkd_ctx *ctx = ntkd_ctx_new();
    ntkd_target *t = NULL;
    if (ctx && ntkd_open_mem(ctx, "fuzz.exe", buf, size, NULL, &t) == NTKD_OK && t->d.arch == NK_ARCH_ARM64 &&
        t->d.nvranges) {
        nk_sym_attach(t);
        const uint8_t *tail = data + size - 48;
        uint64_t base = t->d.vranges[0].va;
        nk_uregs r;
        memset(&r, 0, sizeof r);
        r.arch = NK_ARCH_ARM64;
        r.r[NK_UR_A64_PC] = base + (le64(tail) & 0xfffff);
        r.r[NK_UR_A64_SP] = base + (le64(tail + 8) & 0xfffff);
        r.r[NK_UR_A64_FP] = base + (le64(tail + 16) & 0xfffff);
        r.r[NK_UR_A64_LR] = base + (le64(tail + 24) & 0xfffff);
        for (int i = 19; i < 29; i++) r.r[i] = le64(tail + 32) + (uint64_t)i;
        r.valid = ~0ull >> (64 - NK_UR_MAX);
        for (int i = 0; i < 64; i++) {
            nk_frame_how how;
            char note[96];
            if (nk_step_arm64(t, &r, &how, note, sizeof note) != NTKD_OK) break;
            if (r.r[NK_UR_A64_PC] == 0) break;
        }
    }
    if (t) ntkd_close(t);
    if (ctx) ntkd_ctx_free(ctx);
    free(buf);
    return 0;
}
