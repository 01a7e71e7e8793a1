/* symtab.c: a module's symbol index (address order for ln, name order for x and
 * expressions) and the string arena its copied names live in. */
#include <stdlib.h>
#include <strings.h>

#include "sym/sym_int.h"

#define ARENA_BLOCK 65536u
#define MAX_SYMS 4000000u /* a cap for hostile symbol files */

const char *nk_arena_str(nk_arena *a, const char *s, size_t len)
{
    size_t need = len + 1;
    if (!a->nblocks || a->size - a->used < need) {
        size_t sz = need > ARENA_BLOCK ? need : ARENA_BLOCK;
        if (!nk_grow((void **)&a->blocks, &a->cap, a->nblocks + 1, sizeof *a->blocks)) return NULL;
        char *b = malloc(sz);
        if (!b) return NULL;
        a->blocks[a->nblocks++] = b;
        a->used = 0;
        a->size = sz;
    }
    char *dst = a->blocks[a->nblocks - 1] + a->used;
    memcpy(dst, s, len);
    dst[len] = 0;
    a->used += need;
    return dst;
}

void nk_arena_free(nk_arena *a)
{
    for (size_t i = 0; i < a->nblocks; i++) free(a->blocks[i]);
    free(a->blocks);
    memset(a, 0, sizeof *a);
}

void nk_symtab_free(nk_symtab *st)
{
    free(st->v);
    free(st->by_name);
    nk_arena_free(&st->names);
    memset(st, 0, sizeof *st);
}

bool nk_symtab_add(nk_symtab *st, uint32_t rva, uint32_t size, const char *name,
                   uint32_t type_ti, uint8_t kind, bool copy_name)
{
    if (!name || !name[0] || st->n >= MAX_SYMS) return false;
    if (!nk_grow((void **)&st->v, &st->cap, st->n + 1, sizeof *st->v)) return false;
    if (copy_name) {
        name = nk_arena_str(&st->names, name, strlen(name));
        if (!name) return false;
    }
    st->v[st->n++] = (nk_ssym){.rva = rva, .size = size, .name = name, .type_ti = type_ti, .kind = kind};
    return true;
}

static int by_addr(const void *a, const void *b)
{
    const nk_ssym *x = a, *y = b;
    if (x->rva != y->rva) return x->rva < y->rva ? -1 : 1;
    if (x->kind != y->kind) return x->kind < y->kind ? -1 : 1;
    return strcmp(x->name, y->name);
}

/* qsort has no user pointer: sort (name pointer, index) pairs instead. */
typedef struct name_ix {
    const char *name;
    uint32_t rva;
    uint32_t ix;
} name_ix;

static int by_name(const void *a, const void *b)
{
    const name_ix *x = a, *y = b;
    int c = strcasecmp(x->name, y->name);
    if (c) return c;
    c = strcmp(x->name, y->name);
    if (c) return c;
    return x->rva < y->rva ? -1 : x->rva > y->rva;
}

nk_status nk_symtab_finish(nk_symtab *st)
{
    free(st->by_name);
    st->by_name = NULL;
    if (!st->n) return NTKD_OK;
    nk_sort(st->v, st->n, sizeof *st->v, by_addr);
    /* same address and same name: keep the first (the better kind) */
    size_t out = 0;
    for (size_t i = 0; i < st->n; i++) {
        bool dup = false;
        for (size_t j = out; j > 0 && st->v[j - 1].rva == st->v[i].rva; j--)
            if (strcmp(st->v[j - 1].name, st->v[i].name) == 0) {
                dup = true;
                break;
            }
        if (!dup) st->v[out++] = st->v[i];
    }
    st->n = out;
    name_ix *tmp = malloc(st->n * sizeof *tmp);
    st->by_name = malloc(st->n * sizeof *st->by_name);
    if (!tmp || !st->by_name) {
        free(tmp);
        free(st->by_name);
        st->by_name = NULL;
        return NTKD_E_NOMEM;
    }
    for (size_t i = 0; i < st->n; i++) tmp[i] = (name_ix){st->v[i].name, st->v[i].rva, (uint32_t)i};
    nk_sort(tmp, st->n, sizeof *tmp, by_name);
    for (size_t i = 0; i < st->n; i++) st->by_name[i] = tmp[i].ix;
    free(tmp);
    return NTKD_OK;
}

ptrdiff_t nk_symtab_at_or_below(const nk_symtab *st, uint32_t rva)
{
    size_t lo = 0, hi = st->n;
    while (lo < hi) { /* first entry with rva > target */
        size_t mid = lo + (hi - lo) / 2;
        if (st->v[mid].rva <= rva) lo = mid + 1;
        else hi = mid;
    }
    if (lo == 0) return -1;
    size_t i = lo - 1;
    /* among entries at the same address, the first is the best kind */
    while (i > 0 && st->v[i - 1].rva == st->v[i].rva) i--;
    return (ptrdiff_t)i;
}

ptrdiff_t nk_symtab_after(const nk_symtab *st, uint32_t rva)
{
    size_t lo = 0, hi = st->n;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        if (st->v[mid].rva <= rva) lo = mid + 1;
        else hi = mid;
    }
    return lo < st->n ? (ptrdiff_t)lo : -1;
}

ptrdiff_t nk_symtab_find(const nk_symtab *st, const char *name)
{
    if (!st->by_name) return -1;
    size_t lo = 0, hi = st->n;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        if (strcasecmp(st->v[st->by_name[mid]].name, name) < 0) lo = mid + 1;
        else hi = mid;
    }
    if (lo < st->n && strcasecmp(st->v[st->by_name[lo]].name, name) == 0) {
        /* prefer an exact-case match among the case-insensitive equals */
        for (size_t i = lo; i < st->n && strcasecmp(st->v[st->by_name[i]].name, name) == 0; i++)
            if (strcmp(st->v[st->by_name[i]].name, name) == 0) return (ptrdiff_t)i;
        return (ptrdiff_t)lo;
    }
    return -1;
}
