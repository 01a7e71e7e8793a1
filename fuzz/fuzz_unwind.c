/* fuzz_unwind.c: x64 unwind-info decoding and one unwind step over hostile bytes. The input
 * fills a PE image built here around it: bytes 0..0xff become the .xdata area (UNWIND_INFO
 * records, chained entries), 0x100..0x147 the six .pdata entries, 0x148..0x14f choose the
 * starting rip/rsp offsets, and the rest fills the code and the stack. Every .pdata entry is
 * decoded (and its chain followed), one nk_step_x64 is taken from the chosen registers, and a
 * whole walk runs, so both the decoder and the step see arbitrary codes, offsets and stacks. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "code/unwind.h"
#include "image/pe.h"

#define IMGBASE 0x140000000ull
#define FILEHDR 0x400u
#define SECSIZE 0x4000u

static void w16(uint8_t *p, uint16_t v) { p[0] = (uint8_t)v; p[1] = (uint8_t)(v >> 8); }
static void w32(uint8_t *p, uint32_t v) { for (int i = 0; i < 4; i++) p[i] = (uint8_t)(v >> (8 * i)); }
static void w64(uint8_t *p, uint64_t v) { for (int i = 0; i < 8; i++) p[i] = (uint8_t)(v >> (8 * i)); }

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    size_t isz = FILEHDR + SECSIZE;
    uint8_t *b = calloc(1, isz);
    if (!b) return 0;
    b[0] = 'M'; b[1] = 'Z';
    w32(b + 0x3c, 0x80);
    uint8_t *pe = b + 0x80;
    memcpy(pe, "PE\0\0", 4);
    w16(pe + 4, 0x8664); w16(pe + 6, 1); w16(pe + 20, 0xf0); w16(pe + 22, 0x22);
    uint8_t *oh = pe + 24;
    w16(oh, 0x20b); w32(oh + 16, 0x1000); w64(oh + 24, IMGBASE); w32(oh + 32, 0x1000); w32(oh + 36, 0x200);
    w16(oh + 40, 6); w16(oh + 48, 6); w32(oh + 56, 0x1000 + SECSIZE); w32(oh + 60, FILEHDR); w16(oh + 68, 3);
    w32(oh + 108, 16); w32(oh + 112 + 24, 0x1800); w32(oh + 112 + 28, 6 * 12);
    uint8_t *sh = oh + 0xf0;
    memcpy(sh, ".text", 5); w32(sh + 8, SECSIZE); w32(sh + 12, 0x1000); w32(sh + 16, SECSIZE); w32(sh + 20, FILEHDR);
    w32(sh + 36, 0xe0000020);
    uint8_t *sec = b + FILEHDR; /* rva 0x1000 */
    /* xdata at rva 0x1900 */
    size_t n = size < 0x100 ? size : 0x100;
    memcpy(sec + 0x900, data, n);
    /* pdata at rva 0x1800: entries from the input, else a sane default pointing at the xdata */
    for (int i = 0; i < 6; i++) {
        uint8_t *e = sec + 0x800 + 12 * i;
        w32(e, 0x1000 + 0x100 * (uint32_t)i);
        w32(e + 4, 0x1100 + 0x100 * (uint32_t)i);
        w32(e + 8, 0x1900 + 0x20 * (uint32_t)i);
        if (size >= 0x100 + 12 * (size_t)(i + 1)) memcpy(e, data + 0x100 + 12 * i, 12);
    }
    uint16_t rip_off = 0x10, sp_off = 0x100;
    if (size >= 0x150) {
        rip_off = (uint16_t)(data[0x148] | data[0x149] << 8);
        sp_off = (uint16_t)(data[0x14a] | data[0x14b] << 8);
    }
    /* code (rva 0x1000..0x1800) and stack (rva 0x2000..0x5000) from the rest */
    if (size > 0x150) {
        size_t rest = size - 0x150;
        size_t c = rest < 0x800 ? rest : 0x800;
        memcpy(sec, data + 0x150, c);
        if (rest > c) memcpy(sec + 0x1000, data + 0x150 + c, rest - c < 0x3000 ? rest - c : 0x3000);
    }
    ntkd_ctx *ctx = ntkd_ctx_new();
    ntkd_target *t = NULL;
    if (ctx && ntkd_open_mem(ctx, "fuzz.exe", b, isz, NULL, &t) == NTKD_OK) {
        nk_pe *p = NULL;
        if (nk_pe_open_buf(ctx, "fuzz.exe", b, isz, &p) == NTKD_OK) {
            const nk_pe_func *v;
            size_t nf, total;
            nk_x64_unwind *u = malloc(sizeof *u);
            if (u && nk_pe_funcs(p, &v, &nf, &total) == NTKD_OK) {
                for (size_t i = 0; i < nf; i++) {
                    nk_pe_func res, prim;
                    unsigned links;
                    if (nk_pe_x64_unwind(p, &v[i], u, &res) == NTKD_OK && u->chained) {
                        nk_pe_func nx = u->chain;
                        nk_pe_x64_unwind(p, &nx, u, NULL);
                    }
                    nk_pe_x64_primary(p, &v[i], &prim, &links);
                }
            }
            free(u);
            nk_pe_close(p);
        }
        nk_uregs r = {.arch = NK_ARCH_X64};
        for (int i = 0; i < 16; i++) r.r[i] = IMGBASE + 0x2000 + 0x80u * (unsigned)i;
        r.r[4] = IMGBASE + 0x2000 + (sp_off % 0x3000);
        r.r[NK_UR_X64_RIP] = IMGBASE + 0x1000 + (rip_off % 0x800);
        r.valid = (1ull << 18) - 1;
        nk_uregs r1 = r;
        nk_frame_how how;
        char note[160];
        nk_step_x64(t, &r1, &how, note, sizeof note);
        nk_stack st;
        if (nk_stack_walk(t, &r, 64, &st) == NTKD_OK) nk_stack_free(&st);
        else nk_stack_free(&st);
        ntkd_close(t);
    }
    ntkd_ctx_free(ctx);
    free(b);
    return 0;
}
