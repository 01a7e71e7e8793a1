/* fuzz_isf.c: the ISF reader (Volatility 3 JSON symbol tables, plain or xz). The bytes are
 * opened as a table; when they parse, every named type is walked the way dt does: its info,
 * every field with its dt spelling and its path lookup, every enumerator, the listing by
 * wildcard, and symbol lookups by name and by address. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "type/type.h"

typedef struct walk {
    nk_isf *x;
    nk_typesrc *s;
    size_t n;
} walk;

static bool visit(void *u, const char *name, uint64_t id)
{
    walk *w = u;
    if (++w->n > 4096) return false;
    nk_typesrc *s = w->s;
    nk_tinfo ti;
    nk_tfield f, g;
    char buf[256];
    uint64_t again;
    nk_type_find(s, name, &again);
    nk_type_info(s, id, &ti);
    nk_type_describe(s, id, buf, sizeof buf);
    for (size_t i = 0; i < 2000 && s->ops->field(s, id, i, &f); i++) {
        nk_type_describe(s, f.type, buf, sizeof buf);
        nk_type_info(s, f.type, &ti);
        if (ti.kind == NK_TK_POINTER || ti.kind == NK_TK_ARRAY) nk_type_info(s, ti.target, &ti);
        nk_type_field(s, id, f.name, &g);
        snprintf(buf, sizeof buf, "%s.%s", f.name, f.name);
        nk_type_field(s, id, buf, &g);
        snprintf(buf, sizeof buf, "%s[1]", f.name);
        nk_type_field(s, id, buf, &g);
    }
    const char *en;
    int64_t v;
    for (size_t i = 0; i < 2000 && s->ops->enumerator(s, id, i, &en, &v); i++) nk_isf_symbol(w->x, en, (uint64_t *)&v);
    return true;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    ntkd_ctx *ctx = ntkd_ctx_new();
    if (!ctx) return 0;
    nk_isf *x = NULL;
    if (nk_isf_open_mem(ctx, "fuzz.json", data, size, &x) == NTKD_OK) {
        walk w = {.x = x, .s = nk_isf_types(x)};
        w.s->ops->each_name(w.s, "*", visit, &w);
        w.s->ops->each_name(w.s, "_K?*", visit, &w);
        uint64_t id, rva;
        nk_type_find(w.s, "Uint4B", &id);
        nk_type_find(w.s, "ULONG_PTR", &id);
        nk_isf_symbol(x, "PsLoadedModuleList", &rva);
        const char *name;
        for (uint64_t r = 0; r < 0x100000; r += 0x3333) nk_isf_symbol_by_rva(x, r, &name, &rva);
        char guid[33];
        uint32_t age;
        nk_isf_identity(x, guid, &age);
        nk_isf_close(x);
    }
    ntkd_ctx_free(ctx);
    return 0;
}
