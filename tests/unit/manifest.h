/* manifest.h: header-only reader of ntkd-gendump manifests (OUT.dmp.manifest), for tests.
 *
 * A manifest states what a generated dump holds (see notes/GENDUMP.md): one fact per line,
 * '#' comments, numbers in hex with 0x. Free text (module names, header values such as
 * Comment) runs to the end of the line. Unknown keywords are ignored.
 *
 *   mf_manifest m;
 *   if (mf_load(&m, "x.dmp.manifest") != 0) fail(m.error);
 *   uint64_t v; mf_header_u64(&m, "PsLoadedModuleList", &v); mf_reg(&m, "rip", &v);
 *   uint8_t b; mf_expected_byte(&m, va, &b);   // what the dump must show at va
 *   mf_free(&m);
 *
 * It knows nothing of libntkd; the content pattern comes from tests/gen/pattern.h. */
#ifndef NTKD_TEST_MANIFEST_H
#define NTKD_TEST_MANIFEST_H

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/types.h>

#include "gen/pattern.h"

typedef struct mf_kv {
    char *name;
    char *text;     /* the value as written (rest of the line) */
    uint64_t value; /* its number when `numeric` */
    bool numeric;
} mf_kv;

typedef struct mf_phys {
    uint64_t pfn;
    bool table; /* false: data page (pattern by physical address) */
} mf_phys;

typedef struct mf_map {
    uint64_t va, pa, size; /* size: 0x1000, 0x200000, 0x400000 or 0x40000000 */
} mf_map;

typedef struct mf_nomap {
    uint64_t va;
    bool notindump; /* false: the walk ends at an invalid entry */
} mf_nomap;

typedef struct mf_pte {
    uint64_t va, raw;
    char kind[16]; /* transition, prototype, pagefile, demandzero */
} mf_pte;

typedef struct mf_vrange {
    uint64_t va, size;
} mf_vrange;

typedef struct mf_module {
    uint64_t base, size;
    uint32_t timestamp, checksum;
    char *name;
} mf_module;

typedef struct mf_thread {
    uint32_t id;
    uint64_t teb, stack_start, stack_size;
} mf_thread;

typedef struct mf_exception {
    bool present;
    uint32_t code;
    uint64_t address;
    uint32_t thread_id;
} mf_exception;

typedef struct mf_manifest {
    char kind[16], arch[16], paging[16], corrupt[32];
    uint64_t seed, dump_type, build, nprocs, machine, dtb;
    bool has_bugcheck;
    uint32_t bugcheck;
    uint64_t bugcheck_params[4];
    mf_kv *headers;
    size_t nheaders;
    mf_kv *regs;
    size_t nregs;
    mf_phys *phys; /* sorted by pfn */
    size_t nphys;
    uint64_t *absent; /* sorted */
    size_t nabsent;
    mf_map *maps;
    size_t nmaps;
    mf_nomap *nomaps;
    size_t nnomaps;
    mf_pte *ptes;
    size_t nptes;
    mf_vrange *vranges;
    size_t nvranges;
    mf_module *modules;
    size_t nmodules;
    mf_thread *threads;
    size_t nthreads;
    mf_exception exception;
    char error[256]; /* why mf_load failed */
} mf_manifest;

/* ---------------------------------------------------------------- internals */
static inline bool mf__num(const char *s, uint64_t *out)
{
    if (!s || s[0] != '0' || (s[1] != 'x' && s[1] != 'X') || !s[2])
        return false;
    char *end;
    unsigned long long v = strtoull(s + 2, &end, 16);
    if (*end)
        return false;
    *out = v;
    return true;
}

static inline char *mf__dup(const char *s)
{
    size_t n = strlen(s) + 1;
    char *p = (char *)malloc(n);
    if (p)
        memcpy(p, s, n);
    return p;
}

/* Capacity held for n elements (arrays grow in powers of two from 16). */
static inline size_t mf__cap(size_t n)
{
    if (!n)
        return 0;
    size_t c = 16;
    while (c < n)
        c *= 2;
    return c;
}

/* Grow an array to hold one more (zeroed) element. */
static inline void *mf__push(void *arr, size_t *n, size_t elem)
{
    if (*n + 1 > mf__cap(*n)) {
        arr = realloc(arr, mf__cap(*n + 1) * elem);
        if (!arr)
            return NULL;
    }
    memset((char *)arr + *n * elem, 0, elem);
    (*n)++;
    return arr;
}

static inline int mf__cmp_phys(const void *a, const void *b)
{
    uint64_t x = ((const mf_phys *)a)->pfn, y = ((const mf_phys *)b)->pfn;
    return x < y ? -1 : x > y;
}

static inline int mf__cmp_u64(const void *a, const void *b)
{
    uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
    return x < y ? -1 : x > y;
}

static inline void mf_free(mf_manifest *m)
{
    for (size_t i = 0; i < m->nheaders; i++) {
        free(m->headers[i].name);
        free(m->headers[i].text);
    }
    for (size_t i = 0; i < m->nregs; i++) {
        free(m->regs[i].name);
        free(m->regs[i].text);
    }
    for (size_t i = 0; i < m->nmodules; i++)
        free(m->modules[i].name);
    free(m->headers);
    free(m->regs);
    free(m->phys);
    free(m->absent);
    free(m->maps);
    free(m->nomaps);
    free(m->ptes);
    free(m->vranges);
    free(m->modules);
    free(m->threads);
    memset(m, 0, sizeof *m);
}

#define MF__FAIL(...)                                                                         \
    do {                                                                                      \
        snprintf(m->error, sizeof m->error, __VA_ARGS__);                                     \
        goto fail;                                                                            \
    } while (0)
#define MF__PUSH(arr, n)                                                                      \
    do {                                                                                      \
        void *np_ = mf__push((arr), &(n), sizeof *(arr));                                     \
        if (!np_)                                                                             \
            MF__FAIL("out of memory");                                                        \
        (arr) = np_;                                                                          \
    } while (0)

/* Load a manifest. Returns 0, or -1 with m->error set (m is then empty). */
static inline int mf_load(mf_manifest *m, const char *path)
{
    memset(m, 0, sizeof *m);
    FILE *f = fopen(path, "r");
    if (!f) {
        snprintf(m->error, sizeof m->error, "cannot open %s", path);
        return -1;
    }
    char *line = NULL, *orig = NULL;
    size_t cap = 0;
    ssize_t len;
    unsigned lineno = 0;
    while ((len = getline(&line, &cap, f)) >= 0) {
        lineno++;
        while (len > 0 && (line[len - 1] == '\n' || line[len - 1] == '\r'))
            line[--len] = 0;
        if (!len || line[0] == '#')
            continue;
        /* keep the line whole for free text, then split it into words */
        free(orig);
        orig = mf__dup(line);
        if (!orig)
            MF__FAIL("out of memory");
        char *w[8] = {0};
        int nw = 0;
        char *p = line;
        while (*p && nw < 8) {
            while (*p == ' ' || *p == '\t')
                p++;
            if (!*p)
                break;
            w[nw++] = p;
            while (*p && *p != ' ' && *p != '\t')
                p++;
            if (*p)
                *p++ = 0;
        }
        if (!nw)
            continue;
#define REST(i) (orig + (w[i] - line)) /* text from word i to the end of the line */
        const char *kw = w[0];
        uint64_t a = 0, b = 0, c = 0, d = 0, e = 0;
#define NUM(i, out)                                                                           \
    do {                                                                                      \
        if (nw <= (i) || !mf__num(w[i], &(out)))                                              \
            MF__FAIL("%s:%u: bad number in '%s' line", path, lineno, kw);                      \
    } while (0)
        if (!strcmp(kw, "kind") && nw >= 2)
            snprintf(m->kind, sizeof m->kind, "%s", w[1]);
        else if (!strcmp(kw, "arch") && nw >= 2)
            snprintf(m->arch, sizeof m->arch, "%s", w[1]);
        else if (!strcmp(kw, "paging") && nw >= 2)
            snprintf(m->paging, sizeof m->paging, "%s", w[1]);
        else if (!strcmp(kw, "corrupt") && nw >= 2)
            snprintf(m->corrupt, sizeof m->corrupt, "%s", w[1]);
        else if (!strcmp(kw, "seed"))
            NUM(1, m->seed);
        else if (!strcmp(kw, "dump_type"))
            NUM(1, m->dump_type);
        else if (!strcmp(kw, "build"))
            NUM(1, m->build);
        else if (!strcmp(kw, "nprocs"))
            NUM(1, m->nprocs);
        else if (!strcmp(kw, "machine"))
            NUM(1, m->machine);
        else if (!strcmp(kw, "dtb"))
            NUM(1, m->dtb);
        else if (!strcmp(kw, "bugcheck")) {
            NUM(1, a);
            for (int i = 0; i < 4; i++)
                NUM(2 + i, m->bugcheck_params[i]);
            m->bugcheck = (uint32_t)a;
            m->has_bugcheck = true;
        } else if (!strcmp(kw, "header") || !strcmp(kw, "reg")) {
            if (nw < 3)
                MF__FAIL("%s:%u: '%s' needs a name and a value", path, lineno, kw);
            bool hdr = kw[0] == 'h';
            if (hdr) {
                MF__PUSH(m->headers, m->nheaders);
            } else {
                MF__PUSH(m->regs, m->nregs);
            }
            mf_kv *kv = hdr ? &m->headers[m->nheaders - 1] : &m->regs[m->nregs - 1];
            kv->name = mf__dup(w[1]);
            kv->text = mf__dup(REST(2));
            if (!kv->name || !kv->text)
                MF__FAIL("out of memory");
            kv->numeric = nw == 3 && mf__num(w[2], &kv->value);
            if (!hdr && !kv->numeric)
                MF__FAIL("%s:%u: register %s has no number", path, lineno, w[1]);
        } else if (!strcmp(kw, "phys")) {
            NUM(1, a);
            if (nw < 3 || (strcmp(w[2], "data") && strcmp(w[2], "table")))
                MF__FAIL("%s:%u: phys needs data|table", path, lineno);
            MF__PUSH(m->phys, m->nphys);
            m->phys[m->nphys - 1] = (mf_phys){a, w[2][0] == 't'};
        } else if (!strcmp(kw, "absent")) {
            NUM(1, a);
            MF__PUSH(m->absent, m->nabsent);
            m->absent[m->nabsent - 1] = a;
        } else if (!strcmp(kw, "map")) {
            NUM(1, a);
            NUM(2, b);
            if (nw < 4)
                MF__FAIL("%s:%u: map needs a page size", path, lineno);
            uint64_t sz = !strcmp(w[3], "4k")   ? 0x1000
                          : !strcmp(w[3], "2m") ? 0x200000
                          : !strcmp(w[3], "4m") ? 0x400000
                          : !strcmp(w[3], "1g") ? 0x40000000
                                                : 0;
            if (!sz)
                MF__FAIL("%s:%u: unknown page size %s", path, lineno, w[3]);
            MF__PUSH(m->maps, m->nmaps);
            m->maps[m->nmaps - 1] = (mf_map){a, b, sz};
        } else if (!strcmp(kw, "nomap")) {
            NUM(1, a);
            if (nw < 3 || (strcmp(w[2], "invalid") && strcmp(w[2], "notindump")))
                MF__FAIL("%s:%u: nomap needs invalid|notindump", path, lineno);
            MF__PUSH(m->nomaps, m->nnomaps);
            m->nomaps[m->nnomaps - 1] = (mf_nomap){a, w[2][0] == 'n'};
        } else if (!strcmp(kw, "pte")) {
            NUM(1, a);
            NUM(2, b);
            if (nw < 4)
                MF__FAIL("%s:%u: pte needs a kind", path, lineno);
            MF__PUSH(m->ptes, m->nptes);
            mf_pte *t = &m->ptes[m->nptes - 1];
            t->va = a;
            t->raw = b;
            snprintf(t->kind, sizeof t->kind, "%s", w[3]);
        } else if (!strcmp(kw, "vrange")) {
            NUM(1, a);
            NUM(2, b);
            MF__PUSH(m->vranges, m->nvranges);
            m->vranges[m->nvranges - 1] = (mf_vrange){a, b};
        } else if (!strcmp(kw, "module")) {
            NUM(1, a);
            NUM(2, b);
            NUM(3, c);
            NUM(4, d);
            if (nw < 6)
                MF__FAIL("%s:%u: module needs a name", path, lineno);
            MF__PUSH(m->modules, m->nmodules);
            mf_module *mo = &m->modules[m->nmodules - 1];
            mo->base = a;
            mo->size = b;
            mo->timestamp = (uint32_t)c;
            mo->checksum = (uint32_t)d;
            mo->name = mf__dup(REST(5));
            if (!mo->name)
                MF__FAIL("out of memory");
        } else if (!strcmp(kw, "thread")) {
            NUM(1, a);
            NUM(2, b);
            NUM(3, c);
            NUM(4, d);
            MF__PUSH(m->threads, m->nthreads);
            m->threads[m->nthreads - 1] = (mf_thread){(uint32_t)a, b, c, d};
        } else if (!strcmp(kw, "exception")) {
            NUM(1, a);
            NUM(2, b);
            NUM(3, e);
            m->exception = (mf_exception){true, (uint32_t)a, b, (uint32_t)e};
        }
#undef NUM
#undef REST
        /* other keywords: ignored */
    }
    free(line);
    free(orig);
    fclose(f);
    if (!m->kind[0]) {
        snprintf(m->error, sizeof m->error, "%s: no kind line", path);
        mf_free(m);
        return -1;
    }
    if (m->nphys)
        qsort(m->phys, m->nphys, sizeof *m->phys, mf__cmp_phys);
    if (m->nabsent)
        qsort(m->absent, m->nabsent, sizeof *m->absent, mf__cmp_u64);
    return 0;
fail : {
    char err[256];
    memcpy(err, m->error, sizeof err);
    free(line);
    free(orig);
    fclose(f);
    mf_free(m);
    memcpy(m->error, err, sizeof err);
    return -1;
}
}
#undef MF__FAIL
#undef MF__PUSH

/* ---------------------------------------------------------------- queries */
static inline const mf_kv *mf_header(const mf_manifest *m, const char *name)
{
    for (size_t i = 0; i < m->nheaders; i++)
        if (!strcmp(m->headers[i].name, name))
            return &m->headers[i];
    return NULL;
}

static inline bool mf_header_u64(const mf_manifest *m, const char *name, uint64_t *out)
{
    const mf_kv *kv = mf_header(m, name);
    if (!kv || !kv->numeric)
        return false;
    *out = kv->value;
    return true;
}

static inline bool mf_reg(const mf_manifest *m, const char *name, uint64_t *out)
{
    for (size_t i = 0; i < m->nregs; i++)
        if (!strcmp(m->regs[i].name, name)) {
            *out = m->regs[i].value;
            return true;
        }
    return false;
}

enum { MF_PHYS_UNKNOWN = 0, MF_PHYS_DATA = 1, MF_PHYS_TABLE = 2, MF_PHYS_ABSENT = 3 };

/* What the manifest says about a pfn. */
static inline int mf_phys_state(const mf_manifest *m, uint64_t pfn)
{
    size_t lo = 0, hi = m->nphys;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        if (m->phys[mid].pfn == pfn)
            return m->phys[mid].table ? MF_PHYS_TABLE : MF_PHYS_DATA;
        if (m->phys[mid].pfn < pfn)
            lo = mid + 1;
        else
            hi = mid;
    }
    lo = 0;
    hi = m->nabsent;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        if (m->absent[mid] == pfn)
            return MF_PHYS_ABSENT;
        if (m->absent[mid] < pfn)
            lo = mid + 1;
        else
            hi = mid;
    }
    return MF_PHYS_UNKNOWN;
}

/* The map line whose page holds va, or NULL. */
static inline const mf_map *mf_find_map(const mf_manifest *m, uint64_t va)
{
    for (size_t i = 0; i < m->nmaps; i++)
        if (va - m->maps[i].va < m->maps[i].size)
            return &m->maps[i];
    return NULL;
}

/* The physical address the manifest's maps give va (false when no map line covers it). */
static inline bool mf_va_to_pa(const mf_manifest *m, uint64_t va, uint64_t *pa)
{
    const mf_map *mp = mf_find_map(m, va);
    if (!mp)
        return false;
    *pa = mp->pa + (va - mp->va);
    return true;
}

/* The byte a reader must show at virtual address va: through a map line onto a data page, or
 * inside a vrange. False when the manifest does not determine it. */
static inline bool mf_expected_byte(const mf_manifest *m, uint64_t va, uint8_t *out)
{
    for (size_t i = 0; i < m->nvranges; i++)
        if (va - m->vranges[i].va < m->vranges[i].size) {
            *out = nk_gen_byte(m->seed, va);
            return true;
        }
    uint64_t pa;
    if (mf_va_to_pa(m, va, &pa) && mf_phys_state(m, pa >> 12) == MF_PHYS_DATA) {
        *out = nk_gen_byte(m->seed, pa);
        return true;
    }
    return false;
}

/* The byte at physical address pa when it lies in a data page. */
static inline bool mf_expected_phys_byte(const mf_manifest *m, uint64_t pa, uint8_t *out)
{
    if (mf_phys_state(m, pa >> 12) != MF_PHYS_DATA)
        return false;
    *out = nk_gen_byte(m->seed, pa);
    return true;
}

#endif
