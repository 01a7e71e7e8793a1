/* fuzz_pe.c: the PE image reader. The input is opened in file layout (after forcing the MZ
 * and PE signatures so most inputs reach the header parser) and every part is walked: exports
 * and their lookups, the debug directory, the version resource, and the unwind data of every
 * .pdata entry (x64 and ARM64). The same bytes are then read as a loaded image through a
 * memory callback with some pages missing, as a dump would give them. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "image/pe.h"

typedef struct fuzz_mem {
    const uint8_t *data;
    size_t size;
    uint64_t base;
    uint32_t missing_mask; /* page n is missing when bit (n % 32) is set */
} fuzz_mem;

static nk_status fuzz_read(void *user, uint64_t va, void *buf, size_t len, size_t *got)
{
    fuzz_mem *m = user;
    size_t done = 0;
    while (done < len) {
        uint64_t a = va + done;
        if (a < m->base || a - m->base >= m->size) break;
        uint64_t off = a - m->base;
        if (off >= 0x1000 && (m->missing_mask >> ((off >> 12) % 32)) & 1) break;
        size_t k = 0x1000 - (off & 0xfff);
        if (k > len - done) k = len - done;
        if (k > m->size - off) k = (size_t)(m->size - off);
        memcpy((uint8_t *)buf + done, m->data + off, k);
        done += k;
    }
    *got = done;
    return done == len ? NTKD_OK : NTKD_E_NOTPRESENT;
}

static void walk(nk_pe *pe)
{
    const nk_pe_exports *ex;
    if (nk_pe_exports_get(pe, &ex) == NTKD_OK) {
        for (size_t i = 0; i < ex->count && i < 2000; i++) {
            if (ex->v[i].name) nk_pe_export_by_name(pe, ex->v[i].name);
            nk_pe_export_by_ordinal(pe, ex->v[i].ordinal);
            nk_pe_export_at_or_below(pe, ex->v[i].rva + 1);
        }
    }
    const nk_pe_debug *d;
    if (nk_pe_debug_get(pe, &d) == NTKD_OK) {
        char key[48], guid[40];
        nk_pe_pdb_key(&d->cv, key);
        nk_pe_guid_str(&d->cv.guid, guid);
        for (size_t i = 0; i < d->count; i++) nk_pe_debug_type_name(d->v[i].type);
    }
    const nk_pe_version *v;
    if (nk_pe_version_get(pe, &v) == NTKD_OK) nk_pe_version_string_get(v, "FileVersion");
    const nk_pe_func *f;
    size_t n = 0, total;
    if (nk_pe_funcs(pe, &f, &n, &total) == NTKD_OK) {
        static nk_x64_unwind xu;
        static nk_a64_unwind au;
        static nk_a64_code codes[512];
        for (size_t i = 0; i < n && i < 4096; i++) {
            nk_pe_func g;
            nk_pe_func_find(pe, f[i].begin, &g);
            nk_pe_func_find(pe, f[i].end, &g);
            if (nk_pe_hdr(pe)->machine == NK_PE_MACHINE_AMD64) {
                nk_pe_func res, prim;
                nk_pe_x64_unwind(pe, &f[i], &xu, &res);
                nk_pe_x64_primary(pe, &f[i], &prim, NULL);
            } else if (nk_pe_a64_unwind(pe, &f[i], &au) == NTKD_OK) {
                bool complete;
                nk_a64_decode_seq(&au, 0, codes, 512, &complete);
                if (au.e) nk_a64_decode_seq(&au, au.epilog_index, codes, 512, &complete);
                for (uint32_t k = 0; k < au.epilog_count && k < 64; k++)
                    nk_a64_decode_seq(&au, au.epilogs[k].start_index, codes, 512, &complete);
                nk_a64_unwind_free(&au);
            }
        }
    }
    uint8_t buf[32];
    nk_pe_read(pe, nk_pe_hdr(pe)->entry_rva, buf, sizeof buf, NULL);
    char ik[24];
    nk_pe_image_key(pe, ik);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    uint8_t *buf = malloc(size ? size : 1);
    if (!buf) return 0;
    memcpy(buf, data, size);
    if (size >= 64) {
        buf[0] = 'M', buf[1] = 'Z';
        uint32_t lfanew = (uint32_t)buf[60] | (uint32_t)buf[61] << 8;
        if (lfanew < 64 || (size_t)lfanew + 24 > size) lfanew = 64;
        buf[60] = (uint8_t)lfanew, buf[61] = (uint8_t)(lfanew >> 8), buf[62] = buf[63] = 0;
        if ((size_t)lfanew + 4 <= size) memcpy(buf + lfanew, "PE\0\0", 4);
    }
    ntkd_ctx *ctx = ntkd_ctx_new();
    nk_pe *pe;
    if (ctx && nk_pe_open_buf(ctx, "fuzz.sys", buf, size, &pe) == NTKD_OK) {
        walk(pe);
        nk_pe_close(pe);
    }
    fuzz_mem m = {buf, size, 0xfffff80000000000ull, size >= 8 ? (uint32_t)buf[size - 1] << 1 : 0};
    if (ctx && nk_pe_open_mem(ctx, "fuzz.sys", m.base, size, fuzz_read, &m, &pe) == NTKD_OK) {
        walk(pe);
        nk_pe_close(pe);
    }
    ntkd_ctx_free(ctx);
    free(buf);
    return 0;
}
