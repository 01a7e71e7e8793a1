/* pe_exports.c: the export directory: DLL name, ordinal base, functions, names and
 * forwarders, with lookups by name, by ordinal and by address (nearest at or below). */
#include "image/pe_internal.h"

#include <stdio.h>
#include <stdlib.h>

#define EXP_MAX_ENTRIES 0x100000u  /* no real image exports a million functions */
#define EXP_MAX_NAME 4096

void pe_exports_free(nk_pe *pe)
{
    free(pe->exports.v);
    free(pe->export_strings);
    free(pe->by_name);
    free(pe->by_rva);
    memset(&pe->exports, 0, sizeof pe->exports);
    pe->export_strings = NULL;
    pe->by_name = pe->by_rva = NULL;
    pe->nby_name = pe->nby_rva = 0;
}

/* Strings are collected as offsets into one arena, then turned into pointers. */
typedef struct arena {
    char *s;
    size_t len, cap;
} arena;

static bool arena_add(arena *a, const char *str, size_t *off)
{
    size_t n = strlen(str) + 1;
    if (!nk_grow((void **)&a->s, &a->cap, a->len + n, 1)) return false;
    memcpy(a->s + a->len, str, n);
    *off = a->len;
    a->len += n;
    return true;
}

#define NO_STR ((uintptr_t)-1)

static int cmp_ordinal(const void *a, const void *b)
{
    const nk_pe_export *x = a, *y = b;
    if (x->ordinal != y->ordinal) return x->ordinal < y->ordinal ? -1 : 1;
    if (!x->name || !y->name) return x->name ? -1 : (y->name ? 1 : 0);
    return strcmp(x->name, y->name);
}

/* qsort has no context argument in C11: sort index arrays through a small wrapper record. */
typedef struct idx_rec {
    const nk_pe_export *e;
    uint32_t i;
} idx_rec;

static int cmp_rec_name(const void *a, const void *b)
{
    const idx_rec *x = a, *y = b;
    int c = strcmp(x->e->name, y->e->name);
    if (c) return c;
    return x->i < y->i ? -1 : (x->i > y->i);
}

static int cmp_rec_rva(const void *a, const void *b)
{
    const idx_rec *x = a, *y = b;
    if (x->e->rva != y->e->rva) return x->e->rva < y->e->rva ? -1 : 1;
    return x->i < y->i ? -1 : (x->i > y->i);
}

static nk_status build_index(nk_pe *pe, bool by_name, uint32_t **out, size_t *nout)
{
    nk_pe_exports *ex = &pe->exports;
    idx_rec *r = malloc((ex->count ? ex->count : 1) * sizeof *r);
    if (!r) return nk_fail(pe->ctx, NTKD_E_NOMEM, "%s: out of memory", pe->name);
    size_t n = 0;
    for (size_t i = 0; i < ex->count; i++) {
        const nk_pe_export *e = &ex->v[i];
        if (by_name ? e->name != NULL : (e->forwarder == NULL && e->rva != 0)) {
            r[n].e = e;
            r[n].i = (uint32_t)i;
            n++;
        }
    }
    nk_sort(r, n, sizeof *r, by_name ? cmp_rec_name : cmp_rec_rva);
    uint32_t *ix = malloc((n ? n : 1) * sizeof *ix);
    if (!ix) {
        free(r);
        return nk_fail(pe->ctx, NTKD_E_NOMEM, "%s: out of memory", pe->name);
    }
    for (size_t i = 0; i < n; i++) ix[i] = r[i].i;
    free(r);
    *out = ix;
    *nout = n;
    return NTKD_OK;
}

static nk_status parse_exports(nk_pe *pe)
{
    const char *fn = pe->name;
    nk_pe_exports *ex = &pe->exports;
    if (pe->hdr.ndirs <= NK_PE_DIR_EXPORT || pe->hdr.dirs[NK_PE_DIR_EXPORT].rva == 0 ||
        pe->hdr.dirs[NK_PE_DIR_EXPORT].size == 0)
        return nk_fail(pe->ctx, NTKD_E_NOTFOUND, "%s: the image has no export directory", fn);
    uint32_t drva = pe->hdr.dirs[NK_PE_DIR_EXPORT].rva, dsize = pe->hdr.dirs[NK_PE_DIR_EXPORT].size;
    uint8_t d[sizeof(pe_export_directory)];
    nk_status st = pe_read_what(pe, drva, d, sizeof d, "export directory");
    if (st != NTKD_OK) return st;
    ex->timestamp = nk_le32(d + offsetof(pe_export_directory, TimeDateStamp));
    ex->ordinal_base = nk_le32(d + offsetof(pe_export_directory, Base));
    ex->nfunctions = nk_le32(d + offsetof(pe_export_directory, NumberOfFunctions));
    ex->nnames = nk_le32(d + offsetof(pe_export_directory, NumberOfNames));
    uint32_t name_rva = nk_le32(d + offsetof(pe_export_directory, Name));
    uint32_t afuncs = nk_le32(d + offsetof(pe_export_directory, AddressOfFunctions));
    uint32_t anames = nk_le32(d + offsetof(pe_export_directory, AddressOfNames));
    uint32_t aords = nk_le32(d + offsetof(pe_export_directory, AddressOfNameOrdinals));
    char w[48];
    uint32_t nf = ex->nfunctions, nn = ex->nnames;
    uint64_t img = pe->hdr.size_of_image ? pe->hdr.size_of_image : (uint64_t)UINT32_MAX + 1;
    if (nf > EXP_MAX_ENTRIES || (uint64_t)nf * 4 > img)
        return nk_fail(pe->ctx, NTKD_E_FORMAT, "%s: export directory at %s: NumberOfFunctions %u is more than the image can hold",
                       fn, pe_where(pe, drva + 20, w), nf);
    if (nn > EXP_MAX_ENTRIES || (uint64_t)nn * 6 > img)
        return nk_fail(pe->ctx, NTKD_E_FORMAT, "%s: export directory at %s: NumberOfNames %u is more than the image can hold",
                       fn, pe_where(pe, drva + 24, w), nn);

    arena ar = {0};
    uint32_t *funcs = calloc(nf ? nf : 1, 4);
    uint32_t *names = calloc(nn ? nn : 1, 4);
    uint16_t *ords = calloc(nn ? nn : 1, 2);
    uint8_t *fpres = calloc(nf ? nf : 1, 1), *npres = calloc(nn ? nn : 1, 1), *opres = calloc(nn ? nn : 1, 1);
    uint8_t *used = calloc(nf ? nf : 1, 1);
    uintptr_t *name_off = NULL, *fwd_off = NULL;
    size_t dll_off = NO_STR;
    nk_pe_export *v = NULL;
    size_t nv = 0, capv = 0;
    st = NTKD_OK;
    if (!funcs || !names || !ords || !fpres || !npres || !opres || !used) {
        st = nk_fail(pe->ctx, NTKD_E_NOMEM, "%s: out of memory", fn);
        goto out;
    }
    if (name_rva) {
        char buf[EXP_MAX_NAME];
        if (pe_read_cstr(pe, name_rva, buf, sizeof buf, NULL) == NTKD_OK) {
            size_t off;
            if (!arena_add(&ar, buf, &off)) goto nomem;
            dll_off = off;
        } else {
            pe_warn(pe, "%s", pe->ctx ? pe->ctx->errmsg : "export DLL name unreadable");
            ex->incomplete = true;
        }
    }
    st = pe_read_array(pe, afuncs, 4, nf, funcs, fpres, "export address table");
    if (st == NTKD_E_NOTPRESENT) {
        pe_warn(pe, "%s", pe->ctx->errmsg);
        ex->incomplete = true;
    } else if (st != NTKD_OK) {
        goto out;
    }
    st = pe_read_array(pe, anames, 4, nn, names, npres, "export name pointer table");
    if (st == NTKD_E_NOTPRESENT) {
        pe_warn(pe, "%s", pe->ctx->errmsg);
        ex->incomplete = true;
    } else if (st != NTKD_OK) {
        goto out;
    }
    st = pe_read_array(pe, aords, 2, nn, ords, opres, "export ordinal table");
    if (st == NTKD_E_NOTPRESENT) {
        pe_warn(pe, "%s", pe->ctx->errmsg);
        ex->incomplete = true;
    } else if (st != NTKD_OK) {
        goto out;
    }
    st = NTKD_OK;
    name_off = malloc(((size_t)nf + nn + 1) * sizeof *name_off);
    fwd_off = malloc(((size_t)nf + nn + 1) * sizeof *fwd_off);
    if (!name_off || !fwd_off) goto nomem;

    /* one entry per name */
    size_t bad_ord = 0, name_missing = 0;
    for (uint32_t j = 0; j < nn; j++) {
        if (!opres[j]) continue;
        uint32_t idx = ords[j];
        if (idx >= nf) {
            bad_ord++;
            continue;
        }
        used[idx] = 1;
        if (!nk_grow((void **)&v, &capv, nv + 1, sizeof *v)) goto nomem;
        nk_pe_export *e = &v[nv];
        memset(e, 0, sizeof *e);
        e->ordinal = ex->ordinal_base + idx;
        e->rva = fpres[idx] ? funcs[idx] : 0;
        name_off[nv] = NO_STR;
        fwd_off[nv] = NO_STR;
        if (npres[j]) {
            char buf[EXP_MAX_NAME];
            if (pe_read_cstr(pe, names[j], buf, sizeof buf, NULL) == NTKD_OK) {
                size_t off;
                if (!arena_add(&ar, buf, &off)) goto nomem;
                name_off[nv] = off;
            } else {
                name_missing++;
            }
        } else {
            name_missing++;
        }
        nv++;
    }
    /* function slots no name refers to */
    for (uint32_t i = 0; i < nf; i++) {
        if (used[i] || !fpres[i] || funcs[i] == 0) continue;
        if (!nk_grow((void **)&v, &capv, nv + 1, sizeof *v)) goto nomem;
        nk_pe_export *e = &v[nv];
        memset(e, 0, sizeof *e);
        e->ordinal = ex->ordinal_base + i;
        e->rva = funcs[i];
        name_off[nv] = NO_STR;
        fwd_off[nv] = NO_STR;
        nv++;
    }
    /* forwarders: an address inside the export directory names "DLL.Function" */
    size_t fwd_missing = 0;
    for (size_t k = 0; k < nv; k++) {
        uint32_t r = v[k].rva;
        if (r >= drva && (uint64_t)r < (uint64_t)drva + dsize) {
            char buf[EXP_MAX_NAME];
            if (pe_read_cstr(pe, r, buf, sizeof buf, NULL) == NTKD_OK) {
                size_t off;
                if (!arena_add(&ar, buf, &off)) goto nomem;
                fwd_off[k] = off;
            } else {
                fwd_off[k] = NO_STR - 1; /* a forwarder whose text is missing */
                fwd_missing++;
            }
        }
    }
    if (bad_ord)
        pe_warn(pe, "%s: export ordinal table at %s: %zu entries index past NumberOfFunctions %u", fn,
                pe_where(pe, aords, w), bad_ord, nf);
    if (name_missing) {
        pe_warn(pe, "%s: %zu export names are not readable", fn, name_missing);
        ex->incomplete = true;
    }
    if (fwd_missing) {
        pe_warn(pe, "%s: %zu forwarder strings are not readable", fn, fwd_missing);
        ex->incomplete = true;
    }
    /* arena is final: turn offsets into pointers */
    pe->export_strings = ar.s;
    ar.s = NULL;
    ex->dll_name = dll_off == NO_STR ? NULL : pe->export_strings + dll_off;
    static const char missing_fwd[] = "?";
    for (size_t k = 0; k < nv; k++) {
        v[k].name = name_off[k] == NO_STR ? NULL : pe->export_strings + name_off[k];
        v[k].forwarder = fwd_off[k] == NO_STR ? NULL
                         : fwd_off[k] == NO_STR - 1 ? missing_fwd
                                                     : pe->export_strings + fwd_off[k];
    }
    nk_sort(v, nv, sizeof *v, cmp_ordinal);
    ex->v = v;
    ex->count = nv;
    v = NULL;
    st = build_index(pe, true, &pe->by_name, &pe->nby_name);
    if (st == NTKD_OK) st = build_index(pe, false, &pe->by_rva, &pe->nby_rva);
    goto out;
nomem:
    st = nk_fail(pe->ctx, NTKD_E_NOMEM, "%s: out of memory reading exports", fn);
out:
    free(ar.s);
    free(funcs);
    free(names);
    free(ords);
    free(fpres);
    free(npres);
    free(opres);
    free(used);
    free(name_off);
    free(fwd_off);
    free(v);
    return st;
}

nk_status nk_pe_exports_get(nk_pe *pe, const nk_pe_exports **out)
{
    if (!pe->exports_done) {
        pe->exports_done = true;
        pe->exports_status = pe_remember(pe, pe->exports_err, parse_exports(pe));
        if (pe->exports_status != NTKD_OK) pe_exports_free(pe);
    } else if (pe->exports_status != NTKD_OK) {
        pe_recall(pe, pe->exports_err, pe->exports_status);
    }
    *out = pe->exports_status == NTKD_OK ? &pe->exports : NULL;
    return pe->exports_status;
}

const nk_pe_export *nk_pe_export_by_name(nk_pe *pe, const char *name)
{
    const nk_pe_exports *ex;
    if (nk_pe_exports_get(pe, &ex) != NTKD_OK || !name) return NULL;
    size_t lo = 0, hi = pe->nby_name;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        int c = strcmp(ex->v[pe->by_name[mid]].name, name);
        if (c < 0) lo = mid + 1;
        else hi = mid;
    }
    if (lo < pe->nby_name && strcmp(ex->v[pe->by_name[lo]].name, name) == 0) return &ex->v[pe->by_name[lo]];
    return NULL;
}

const nk_pe_export *nk_pe_export_by_ordinal(nk_pe *pe, uint32_t ordinal)
{
    const nk_pe_exports *ex;
    if (nk_pe_exports_get(pe, &ex) != NTKD_OK) return NULL;
    size_t lo = 0, hi = ex->count;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        if (ex->v[mid].ordinal < ordinal) lo = mid + 1;
        else hi = mid;
    }
    return lo < ex->count && ex->v[lo].ordinal == ordinal ? &ex->v[lo] : NULL;
}

const nk_pe_export *nk_pe_export_at_or_below(nk_pe *pe, uint32_t rva)
{
    const nk_pe_exports *ex;
    if (nk_pe_exports_get(pe, &ex) != NTKD_OK) return NULL;
    /* first index whose rva > target, then step back to the first of that rva */
    size_t lo = 0, hi = pe->nby_rva;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        if (ex->v[pe->by_rva[mid]].rva <= rva) lo = mid + 1;
        else hi = mid;
    }
    if (lo == 0) return NULL;
    uint32_t r = ex->v[pe->by_rva[lo - 1]].rva;
    size_t k = lo - 1;
    while (k > 0 && ex->v[pe->by_rva[k - 1]].rva == r) k--;
    return &ex->v[pe->by_rva[k]];
}
