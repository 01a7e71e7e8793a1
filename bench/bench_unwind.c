/* bench_unwind.c: x64 unwinding speed. Builds a PE image in memory whose one section holds a
 * function (push rbx; push rbp; sub rsp,28h, described by its UNWIND_INFO), its .pdata and
 * .xdata, and a deep stack of that function calling itself (each frame: saved rbx, rbp, the
 * return address into the function's body), opens it as an image target and walks the whole
 * stack with nk_stack_walk. Prints frames/s (best of 5). Usage: bench_unwind [frames] */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "code/unwind.h"

#define IMGBASE 0x140000000ull
#define FILEHDR 0x400u

static void w16(uint8_t *p, uint16_t v) { p[0] = (uint8_t)v; p[1] = (uint8_t)(v >> 8); }
static void w32(uint8_t *p, uint32_t v) { for (int i = 0; i < 4; i++) p[i] = (uint8_t)(v >> (8 * i)); }
static void w64(uint8_t *p, uint64_t v) { for (int i = 0; i < 8; i++) p[i] = (uint8_t)(v >> (8 * i)); }

static double now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

int main(int argc, char **argv)
{
    size_t frames = argc > 1 ? strtoul(argv[1], NULL, 0) : 100000;
    if (frames < 2 || frames > 100000) frames = 100000;
    const uint32_t frame_size = 0x40; /* ret + rbx + rbp + 0x28 */
    uint32_t stack_rva = 0x2000;
    uint32_t secsize = (uint32_t)((stack_rva - 0x1000) + frames * frame_size + 0x2000);
    secsize = (secsize + 0xfff) & ~0xfffu;
    size_t size = FILEHDR + secsize;
    uint8_t *b = calloc(1, size);
    if (!b) return 1;
    b[0] = 'M'; b[1] = 'Z';
    w32(b + 0x3c, 0x80);
    uint8_t *pe = b + 0x80;
    memcpy(pe, "PE\0\0", 4);
    w16(pe + 4, 0x8664); w16(pe + 6, 1); w16(pe + 20, 0xf0); w16(pe + 22, 0x22);
    uint8_t *oh = pe + 24;
    w16(oh, 0x20b); w32(oh + 16, 0x1000); w64(oh + 24, IMGBASE); w32(oh + 32, 0x1000); w32(oh + 36, 0x200);
    w16(oh + 40, 6); w16(oh + 48, 6); w32(oh + 56, 0x1000 + secsize); w32(oh + 60, FILEHDR); w16(oh + 68, 3);
    w32(oh + 108, 16); w32(oh + 112 + 24, 0x1800); w32(oh + 112 + 28, 12);
    uint8_t *sh = oh + 0xf0;
    memcpy(sh, ".text", 5); w32(sh + 8, secsize); w32(sh + 12, 0x1000); w32(sh + 16, secsize); w32(sh + 20, FILEHDR);
    w32(sh + 36, 0xe0000020);
#define AT(rva) (b + FILEHDR + ((rva) - 0x1000))
    static const uint8_t pro[] = {0x53, 0x55, 0x48, 0x83, 0xec, 0x28};
    memset(AT(0x1000), 0x90, 0x100);
    memcpy(AT(0x1000), pro, sizeof pro);
    w32(AT(0x1800), 0x1000); w32(AT(0x1804), 0x1100); w32(AT(0x1808), 0x1900);
    uint8_t *x = AT(0x1900);
    x[0] = 1; x[1] = 6; x[2] = 3; x[4] = 6; x[5] = (uint8_t)(4 << 4 | 2); x[6] = 2; x[7] = 5 << 4; x[8] = 1; x[9] = 3 << 4;
    /* frames from the innermost (lowest address) up */
    uint64_t sp0 = IMGBASE + stack_rva;
    for (size_t i = 0; i < frames; i++) {
        uint64_t sp = sp0 + i * frame_size;      /* Child-SP of frame i */
        uint64_t ret = i + 1 < frames ? IMGBASE + 0x1010 : 0;
        w64(AT((uint32_t)(sp - IMGBASE) + 0x28), 0xbeef0000 + i); /* rbp */
        w64(AT((uint32_t)(sp - IMGBASE) + 0x30), 0xb0b00000 + i); /* rbx */
        w64(AT((uint32_t)(sp - IMGBASE) + 0x38), ret);
    }
    ntkd_ctx *ctx = ntkd_ctx_new();
    ntkd_target *t = NULL;
    if (ntkd_open_mem(ctx, "bench.exe", b, size, NULL, &t) != NTKD_OK) {
        fprintf(stderr, "open: %s\n", ntkd_ctx_error(ctx));
        return 1;
    }
    nk_uregs r = {.arch = NK_ARCH_X64};
    r.r[4] = sp0;
    r.r[NK_UR_X64_RIP] = IMGBASE + 0x1010;
    r.valid = (1ull << 18) - 1;
    double best = 1e9;
    size_t n = 0;
    char stop[160] = "";
    for (int k = 0; k < 5; k++) {
        nk_stack st;
        double s = now();
        nk_stack_walk(t, &r, frames, &st);
        double e = now() - s;
        if (e < best) best = e;
        n = st.n;
        snprintf(stop, sizeof stop, "%s", st.stop);
        nk_stack_free(&st);
    }
    printf("bench_unwind: frames=%zu seconds=%.4f frames_per_s=%.0f stop=\"%s\"\n", n, best, (double)n / best, stop);
    ntkd_close(t);
    ntkd_ctx_free(ctx);
    free(b);
    return n == frames ? 0 : 1;
}
