/* isf_walk.h: every lookup of a loaded ISF table, as dt and the symbol layer use them, for a
 * table that may come from crafted input: the results are not checked, only that nothing
 * crashes or reads out of bounds (ASan/UBSan). Shared by tests/unit/test_isfcache.c and
 * fuzz/fuzz_isfcache.c; needs sym/isf_int.h included first. */
#ifndef NTKD_TEST_ISF_WALK_H
#define NTKD_TEST_ISF_WALK_H

#include <string.h>

static bool isf_walk_visit(void *u, const char *name, uint64_t id)
{
    size_t *n = u;
    (void)id;
    (void)strlen(name);
    return ++*n < 4096;
}

static void isf_walk(nk_isf *x)
{
    nk_typesrc *s = nk_isf_types(x);
    char buf[300];
    for (uint64_t id = 0; id <= x->ntypes + 1 && id < 20000; id++) {
        nk_tinfo ti;
        if (!nk_type_info(s, id, &ti)) continue;
        nk_type_describe(s, id, buf, sizeof buf);
        uint64_t again;
        if (ti.name) nk_type_find(s, ti.name, &again);
        nk_tfield f, g;
        for (size_t i = 0; i < 200 && s->ops->field(s, id, i, &f); i++) {
            nk_type_describe(s, f.type, buf, sizeof buf);
            nk_type_field(s, id, f.name, &g);
        }
        const char *en;
        int64_t v;
        for (size_t i = 0; i < 200 && s->ops->enumerator(s, id, i, &en, &v); i++) (void)strlen(en);
    }
    size_t n = 0;
    s->ops->each_name(s, "*", isf_walk_visit, &n);
    uint64_t id, rva;
    static const char *const types[] = {"Uint4B", "_x", "unsigned long", "_LIST_ENTRY"};
    for (size_t i = 0; i < sizeof types / sizeof *types; i++) nk_type_find(s, types[i], &id);
    const char *name;
    nk_isf_symbol(x, "alpha", &rva);
    nk_isf_symbol(x, "Beta", &rva);
    for (size_t i = 0; i < 2000 && nk_isf_symbol_at(x, i, &name, &rva); i++) nk_isf_symbol(x, name, &rva);
    for (uint64_t r = 0; r < 0x100000; r += 0x7ff) nk_isf_symbol_by_rva(x, r, &name, &rva);
    char guid[33];
    uint32_t age;
    nk_isf_identity(x, guid, &age);
}

#endif
