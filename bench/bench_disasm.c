/* bench_disasm.c: disassembly throughput of the code layer (code/disasm.h) over an image's
 * .text, text formatting included: every instruction is decoded, formatted as a WinDbg line
 * ("fffff804`7bdf5a80 48894c2408      mov     qword ptr [rsp+8],rcx") and written to
 * /dev/null, in a linear sweep as llvm-objdump -d does. Symbols are off (there is no target),
 * as llvm-objdump has none for a stripped PE image.
 * Usage: bench_disasm IMAGE ... ; prints one line per image:
 *   IMAGE arch=x64 text_bytes=N insns=N best_s=S bytes_per_s=R
 * bench/disasm.sh puts llvm-objdump-14's time on the same .text next to it. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "code/disasm.h"
#include "image/pe.h"

static double now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static int bench_one(const char *path)
{
    ntkd_ctx *ctx = ntkd_ctx_new();
    nk_pe *pe;
    if (nk_pe_open_file(ctx, path, &pe) != NTKD_OK) {
        fprintf(stderr, "%s: cannot open as a PE image\n", path);
        ntkd_ctx_free(ctx);
        return 1;
    }
    const nk_pe_headers *h = nk_pe_hdr(pe);
    nk_arch arch = h->machine == NK_PE_MACHINE_AMD64 ? NK_ARCH_X64
                   : h->machine == NK_PE_MACHINE_I386 ? NK_ARCH_X86
                   : h->machine == NK_PE_MACHINE_ARM64 ? NK_ARCH_ARM64
                                                        : NK_ARCH_UNKNOWN;
    const nk_pe_section *text = NULL;
    for (size_t i = 0; i < nk_pe_section_count(pe); i++)
        if (!strcmp(nk_pe_section_at(pe, i)->name, ".text")) text = nk_pe_section_at(pe, i);
    if (!text || arch == NK_ARCH_UNKNOWN) {
        fprintf(stderr, "%s: no .text or unknown machine\n", path);
        nk_pe_close(pe);
        ntkd_ctx_free(ctx);
        return 1;
    }
    size_t size = text->virtual_size < text->raw_size ? text->virtual_size : text->raw_size;
    uint8_t *code = malloc(size + 16);
    size_t got = 0;
    nk_pe_read(pe, text->rva, code, size, &got);
    size = got;
    uint64_t va = nk_pe_base(pe) + text->rva;
    nk_disasm *d = nk_disasm_new(NULL, arch);
    FILE *sink = fopen("/dev/null", "w");
    if (!d || !sink || !code) {
        fprintf(stderr, "%s: setup failed\n", path);
        return 1;
    }
    double best = 1e9;
    size_t insns = 0;
    for (int round = 0; round < 5; round++) {
        double t0 = now();
        size_t off = 0;
        insns = 0;
        char line[512];
        nk_insn in;
        while (off < size) {
            nk_disasm_buf(d, va + off, code + off, size - off, NULL, &in);
            nk_disasm_format(d, &in, line, sizeof line);
            fputs(line, sink);
            fputc('\n', sink);
            off += in.len ? in.len : 1;
            insns++;
        }
        fflush(sink);
        double t = now() - t0;
        if (t < best) best = t;
    }
    printf("%s arch=%s text_bytes=%zu insns=%zu best_s=%.6f bytes_per_s=%.0f\n", path, nk_arch_name(arch), size,
           insns, best, (double)size / best);
    fclose(sink);
    nk_disasm_free(d);
    free(code);
    nk_pe_close(pe);
    ntkd_ctx_free(ctx);
    return 0;
}

int main(int argc, char **argv)
{
    if (argc < 2) {
        fprintf(stderr, "usage: bench_disasm IMAGE...\n");
        return 2;
    }
    int rc = 0;
    for (int i = 1; i < argc; i++) rc |= bench_one(argv[i]);
    return rc;
}
