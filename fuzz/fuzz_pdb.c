/* fuzz_pdb.c: the PDB reader: open the bytes as a PDB (after forcing the MSF signature so
 * every input reaches the directory parser), then parse every part and run the lookups a
 * debugger makes: publics by address and name, globals, types by name, field walks with
 * type names and sizes, forward-reference resolution, module symbols, function extents. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "ntkd/ntkd.h"
#include "pdb/pdb.h"

static void walk_type(nk_pdb *p, uint32_t ti)
{
    nk_pdb_field_iter it;
    nk_pdb_field f;
    char buf[256];
    uint64_t sz;
    nk_pdb_type_size(p, ti, &sz);
    nk_pdb_type_name(p, ti, buf, sizeof buf);
    if (nk_pdb_fields_begin(p, ti, &it) != NTKD_OK) return;
    for (int k = 0; k < 2000 && nk_pdb_fields_next(&it, &f); k++) {
        nk_pdb_type_name(p, f.type_ti, buf, sizeof buf);
        nk_pdb_type_size(p, f.type_ti, &sz);
        if (f.kind == NK_FIELD_METHOD) {
            nk_pdb_method m[8];
            uint32_t n;
            nk_pdb_methodlist(p, f.mlist_ti, m, 8, &n);
        }
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static const char magic[32] = "Microsoft C/C++ MSF 7.00\r\n\x1a" "DS\0\0\0";
    uint8_t *buf = malloc(size ? size : 1);
    if (!buf) return 0;
    memcpy(buf, data, size);
    if (size >= 32) memcpy(buf, magic, 32);
    ntkd_ctx *ctx = ntkd_ctx_new();
    nk_pdb *p = NULL;
    if (ctx && nk_pdb_open_mem(ctx, "fuzz.pdb", buf, size, &p) == NTKD_OK) {
        nk_pdb_load_all(p);
        size_t n = 0;
        nk_pdb_public pb;
        uint32_t disp;
        if (nk_pdb_public_count(p, &n) == NTKD_OK)
            for (size_t i = 0; i < n && i < 64; i++)
                if (nk_pdb_public_get(p, i, &pb) == NTKD_OK) {
                    nk_pdb_public_by_name(p, pb.name, &pb);
                    nk_pdb_public_by_rva(p, pb.rva + 3, &pb, &disp);
                }
        for (uint32_t r = 0; r < 0x20000; r += 0x777) {
            nk_pdb_addr_sym a;
            nk_pdb_addr_lookup(p, r, &a);
            nk_pdb_fpo_find(p, r);
            nk_pdb_framedata_find(p, r);
            nk_pdb_contrib c;
            nk_pdb_contrib_find(p, r, &c);
        }
        nk_pdb_global g;
        if (nk_pdb_global_count(p, &n) == NTKD_OK)
            for (size_t i = 0; i < n && i < 64; i++)
                if (nk_pdb_global_get(p, i, &g) == NTKD_OK && g.name) nk_pdb_global_by_name(p, g.name, &g);
        static const char *const names[] = {"_LIST_ENTRY", "_EPROCESS", "_KTHREAD", "Foo", "A", "B"};
        uint32_t ti;
        for (size_t i = 0; i < sizeof names / sizeof names[0]; i++)
            if (nk_pdb_type_find(p, names[i], &ti) == NTKD_OK) walk_type(p, ti);
        nk_pdb_type_iter it;
        nk_pdb_typeinfo t;
        nk_pdb_types_begin(p, &it);
        for (int k = 0; k < 64 && nk_pdb_types_next(&it, &t); k++) {
            walk_type(p, nk_pdb_type_resolve(p, t.ti));
            nk_pdb_type_find(p, t.name, &ti);
        }
        nk_pdb_tpi_info tinfo;
        if (nk_pdb_tpi_info_get(p, &tinfo) == NTKD_OK && tinfo.present)
            for (uint32_t x = tinfo.ti_begin; x < tinfo.ti_end && x < tinfo.ti_begin + 256; x++) {
                nk_pdb_type_get(p, x, &t);
                if (t.kind == NK_PT_ARGLIST) {
                    uint32_t args[8], cnt;
                    nk_pdb_arglist(p, x, args, 8, &cnt);
                }
            }
        size_t nm = 0;
        if (nk_pdb_module_count(p, &nm) == NTKD_OK)
            for (size_t m = 0; m < nm && m < 16; m++) {
                nk_pdb_modsym_iter mi;
                nk_pdb_modsym s;
                if (nk_pdb_modsyms_begin(p, m, &mi) == NTKD_OK)
                    for (int k = 0; k < 4096 && nk_pdb_modsyms_next(&mi, &s); k++) {}
                size_t nf;
                if (nk_pdb_module_file_count(p, m, &nf) == NTKD_OK)
                    for (size_t i = 0; i < nf && i < 64; i++) nk_pdb_module_file(p, m, i);
            }
        for (uint32_t s = 0; s < nk_pdb_stream_count(p) && s < 64; s++) {
            uint8_t tmp[64];
            uint32_t sz = nk_pdb_stream_size(p, s);
            nk_pdb_stream_read(p, s, sz / 2, tmp, sz - sz / 2 < sizeof tmp ? sz - sz / 2 : sizeof tmp);
            nk_pdb_stream_ptr(p, s, 0, sz);
        }
        nk_pdb_names_str(p, 1);
        nk_pdb_close(p);
    }
    ntkd_ctx_free(ctx);
    free(buf);
    return 0;
}
