/* kpool_special.c: special pool and session pool addresses (see kpool_special.h). */
#include "kobj/kpool_special.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "kobj/kmm.h"
#include "kobj/kobj_int.h"
#include "mem/mem.h"

#define SP_PAGE 0x1000u
#define SP_BITMAP_MAX (1u << 24) /* bits of SpecialPoolPdes looked at */

/* Keeps the context error as it was (the probes below may fail on builds without a field). */
typedef struct errsave {
    char msg[sizeof(((ntkd_ctx *)0)->errmsg)];
} errsave;
static void err_save(ntkd_target *t, errsave *s) { memcpy(s->msg, t->ctx->errmsg, sizeof s->msg); }
static void err_restore(ntkd_target *t, const errsave *s) { memcpy(t->ctx->errmsg, s->msg, sizeof s->msg); }


/* 1809+: nt!MiVisibleState->SystemVaType[(va >> 39) & 0xff] (nk_mm_va_region, kmm.c). 1: decided
 * (out->special set), 0: no such table, or its byte is not in the dump. */
static int region_by_vatype(ntkd_target *t, uint64_t addr, nk_special *out)
{
    nk_mm_varegion r;
    if (nk_mm_va_region(t, NULL, addr, &r) != NTKD_OK) return 0;
    if (!r.in_table) return 1; /* user half, or a slot beyond the table: no special pool */
    if (!strcmp(r.name, "MiVaSpecialPoolPaged") || !strcmp(r.name, "MiVaSpecialPoolNonPaged")) {
        out->special = true;
        out->region_paged = !strcmp(r.name, "MiVaSpecialPoolPaged") ? 1 : 0;
        char a[24];
        snprintf(out->how, sizeof out->how, "nt!MiVisibleState->SystemVaType[0x%x] = %s (%u) at %s", r.index, r.name,
                 (unsigned)r.type, nk_fmt_hex(a, r.entry, true));
    }
    return 1;
}

/* Windows 7: nt!MiSpecialPool.PteBase / SpecialPoolPdes. */
static int region_by_bitmap(ntkd_target *t, uint64_t addr, nk_special *out)
{
    uint64_t msp = 0, pte = 0, nbits = 0, buf = 0, base = 0, offbm = 0;
    if (nk_k_global(t, "MiSpecialPool", &msp) != NTKD_OK) return 0;
    if (nk_k_offset(t, "_MI_SPECIAL_POOL", "SpecialPoolPdes", &offbm) != NTKD_OK) return 0;
    if (nk_k_read(t, msp, "_MI_SPECIAL_POOL", "PteBase", &pte) != NTKD_OK || !pte) return 0;
    if (!nk_pte_addr_to_va(t, pte, &base)) return 0;
    if (nk_k_read(t, msp + offbm, "_RTL_BITMAP", "SizeOfBitMap", &nbits) != NTKD_OK) return 0;
    if (nk_k_read(t, msp + offbm, "_RTL_BITMAP", "Buffer", &buf) != NTKD_OK) return 0;
    /* one bit per page table: 512 PTEs of 8 bytes (x64, PAE), 1024 of 4 (x86) */
    uint64_t span = (uint64_t)(t->d.paging == NK_PAGING_X86 ? 1024 : 512) * SP_PAGE;
    if (addr < base) return 1;
    uint64_t idx = (addr - base) / span;
    if (idx >= nbits || idx >= SP_BITMAP_MAX) return 1;
    uint32_t word = 0;
    size_t got = 0;
    nk_read_virt(t, buf + (idx / 32) * 4, &word, 4, &got);
    if (got != 4) return 1;
    if ((word >> (idx % 32)) & 1) {
        out->special = true;
        char a[24], b[24];
        snprintf(out->how, sizeof out->how, "nt!MiSpecialPool: bit %llu of SpecialPoolPdes (%llu bits at %s) is set; region base %s (PteBase)",
                 (unsigned long long)idx, (unsigned long long)nbits, nk_fmt_hex(a, buf, t->d.is64),
                 nk_fmt_hex(b, base, t->d.is64));
    }
    return 1;
}

/* XP: [MmSpecialPoolStart, MmSpecialPoolEnd). */
static int region_by_range(ntkd_target *t, uint64_t addr, nk_special *out)
{
    uint64_t s = 0, e = 0;
    if (nk_k_global_ptr(t, "MmSpecialPoolStart", &s) != NTKD_OK) return 0;
    if (nk_k_global_ptr(t, "MmSpecialPoolEnd", &e) != NTKD_OK) return 0;
    if (!s || e <= s) return 1; /* special pool not initialised */
    if (addr >= s && addr < e) {
        out->special = true;
        char a[24], b[24];
        snprintf(out->how, sizeof out->how, "nt!MmSpecialPoolStart %s .. nt!MmSpecialPoolEnd %s", nk_fmt_hex(a, s, t->d.is64),
                 nk_fmt_hex(b, e, t->d.is64));
    }
    return 1;
}

static void special_heaps(ntkd_target *t, nk_special *out)
{
    uint64_t ps = 0;
    nk_kfield f;
    if (nk_k_global(t, "ExPoolState", &ps) != NTKD_OK) return;
    if (nk_k_field(t, "_EX_POOL_HEAP_MANAGER_STATE", "SpecialHeaps", &f) != NTKD_OK) return;
    unsigned ptr = t->d.is64 ? 8 : 4;
    uint64_t n = f.size / ptr;
    if (n > NK_SPECIAL_MAX_HEAPS) n = NK_SPECIAL_MAX_HEAPS;
    for (uint64_t i = 0; i < n; i++) {
        uint64_t h = 0;
        if (nk_read_ptr(t, ps + f.off + i * ptr, &h) == NTKD_OK) out->heaps[out->nheaps++] = h;
    }
}

/* Reads a special-pool header candidate at offset hoff of the page. */
static bool header_at(const uint8_t *pg, unsigned hoff, unsigned unit, uint64_t tagoff, uint32_t *size, bool *paged,
                      uint32_t *key, uint8_t *pattern)
{
    uint32_t u1 = nk_le32(pg + hoff);
    *size = u1 & 0x7fff;
    *paged = (u1 & 0x8000) != 0;
    *pattern = pg[hoff + 2];
    *key = tagoff + 4 <= unit ? nk_le32(pg + hoff + tagoff) : 0;
    return *size > 0 && *size <= SP_PAGE - unit;
}

static void decode_page(ntkd_target *t, const uint8_t *pg, nk_special *out)
{
    uint64_t unit = 0, tagoff = 0;
    char a[24];
    if (nk_k_sizeof(t, "_POOL_HEADER", &unit) != NTKD_OK || unit < 8 || unit > 64 ||
        nk_k_offset(t, "_POOL_HEADER", "PoolTag", &tagoff) != NTKD_OK) {
        out->bad = true;
        snprintf(out->why, sizeof out->why, "nt's types lack _POOL_HEADER (or its PoolTag): the special-pool header is not decoded");
        return;
    }
    uint32_t size, key;
    bool paged;
    uint8_t pat;
    const uint64_t page = out->page;
    if (header_at(pg, 0, (unsigned)unit, tagoff, &size, &paged, &key, &pat)) {
        out->header = page;
        out->data = (page + SP_PAGE - size) & ~(unit - 1);
    } else {
        uint32_t s2, k2;
        bool p2;
        uint8_t pt2;
        if (!header_at(pg, SP_PAGE - (unsigned)unit, (unsigned)unit, tagoff, &s2, &p2, &k2, &pt2)) {
            out->bad = true;
            snprintf(out->why, sizeof out->why,
                     "special pool header at %s: size 0x%x is %s (a page holds 0x%llx bytes of data at most): "
                     "not a special-pool allocation, or a corrupt header",
                     nk_fmt_hex(a, page, t->d.is64), size, size ? "larger than a page can hold" : "zero",
                     (unsigned long long)(SP_PAGE - unit));
            out->size = size;
            out->key = key & 0x7fffffffu;
            return;
        }
        out->underrun = true;
        size = s2, paged = p2, key = k2, pat = pt2;
        out->header = page + SP_PAGE - unit;
        out->data = page;
    }
    out->decoded = true;
    out->size = size;
    out->paged = paged;
    out->key = key & 0x7fffffffu;
    out->protected_ = (key & 0x80000000u) != 0;
    out->pattern = pat;
    if (!out->underrun && nk_le32(pg + unit) == NK_SPECIAL_FREED_SIG) {
        out->freed = true;
        out->freed_size = nk_le32(pg + unit + 8);
        out->freed_data = t->d.is64 ? nk_le64(pg + unit + 16) : nk_le32(pg + unit + 16);
        return;
    }
    /* the pattern around the data */
    uint64_t d0 = out->data - page, d1 = d0 + size;
    uint64_t lo = out->underrun ? 0 : unit, hi = out->underrun ? SP_PAGE - unit : SP_PAGE;
    for (uint64_t i = lo; i < hi; i++) {
        if (i >= d0 && i < d1) continue;
        if (pg[i] != pat) {
            if (!out->pattern_bad) out->first_bad = page + i;
            out->pattern_bad++;
        }
    }
}

nk_status nk_pool_special(ntkd_target *t, uint64_t addr, nk_special *out)
{
    if (!t || !out) return NTKD_E_ARG;
    memset(out, 0, sizeof *out);
    out->region_paged = -1;
    out->page = addr & ~(uint64_t)(SP_PAGE - 1);
    if (!nk_k_types(t)) return NTKD_E_NOTFOUND;
    errsave es;
    err_save(t, &es);
    int r = region_by_vatype(t, addr, out);
    if (!r) r = region_by_bitmap(t, addr, out);
    if (!r) r = region_by_range(t, addr, out);
    err_restore(t, &es);
    if (!r)
        return nk_fail(t->ctx, NTKD_E_NOTFOUND,
                       "this build's types and globals tell no special pool range (no MiVisibleState->SystemVaType, "
                       "MiSpecialPool.SpecialPoolPdes or MmSpecialPoolStart/End)");
    if (!out->special) return NTKD_OK;
    out->segment_heap = nk_pool_segment_heap(t);
    if (out->segment_heap) {
        err_save(t, &es);
        special_heaps(t, out);
        err_restore(t, &es);
    }
    uint8_t *pg = malloc(SP_PAGE);
    if (!pg) return NTKD_E_NOMEM;
    size_t got = 0;
    nk_read_virt(t, out->page, pg, SP_PAGE, &got);
    out->present = got == SP_PAGE;
    if (out->present && !out->segment_heap) decode_page(t, pg, out);
    free(pg);
    return NTKD_OK;
}

/* ---- session pool ------------------------------------------------------------------------- */

nk_status nk_pool_session_of(ntkd_target *t, uint64_t addr, nk_session_hit *out, nk_strbuf *why)
{
    if (!t || !out) return NTKD_E_ARG;
    memset(out, 0, sizeof *out);
    if (!nk_k_has(t, "_EPROCESS", "Session") || !nk_k_has(t, "_MM_SESSION_SPACE", "PagedPoolStart") ||
        !nk_k_has(t, "_MM_SESSION_SPACE", "PagedPoolEnd"))
        return nk_fail(t->ctx, NTKD_E_NOTFOUND, "nt's types lack _EPROCESS.Session or _MM_SESSION_SPACE.PagedPoolStart/End");
    nk_kproc *procs = NULL;
    size_t n = 0;
    nk_status st = nk_k_processes(t, &procs, &n, why);
    if (st != NTKD_OK && !procs) return st;
    uint64_t seen[NK_SESSION_MAX];
    unsigned nseen = 0;
    errsave es;
    err_save(t, &es);
    for (size_t i = 0; i < n && !out->in_session; i++) {
        uint64_t s = 0;
        if (nk_k_read(t, procs[i].addr, "_EPROCESS", "Session", &s) != NTKD_OK || !s) continue;
        bool dup = false;
        for (unsigned j = 0; j < nseen; j++) dup |= seen[j] == s;
        if (dup) continue;
        if (nseen == NK_SESSION_MAX) break;
        seen[nseen++] = s;
        uint64_t ps = 0, pe = 0;
        if (nk_k_read(t, s, "_MM_SESSION_SPACE", "PagedPoolStart", &ps) != NTKD_OK ||
            nk_k_read(t, s, "_MM_SESSION_SPACE", "PagedPoolEnd", &pe) != NTKD_OK) {
            if (why) {
                char a[24];
                nk_sb_printf(why, "session space %s (process %s): PagedPoolStart/End not readable\n",
                             nk_fmt_hex(a, s, t->d.is64), procs[i].image);
            }
            continue;
        }
        if (!ps || pe < ps || addr < ps || addr > pe) continue;
        out->in_session = true;
        out->session = s;
        out->start = ps;
        out->end = pe;
        out->eprocess = procs[i].addr;
        out->session_id = nk_k_get(t, s, "_MM_SESSION_SPACE", "SessionId", UINT64_MAX);
        uint64_t hs = nk_k_get(t, s, "_MM_SESSION_SPACE", "HeapState", 0);
        if (hs) {
            out->heap_state = hs;
            out->paged_heap = nk_k_get(t, hs, "_EX_HEAP_SESSION_STATE", "PagedHeap", 0);
        }
    }
    err_restore(t, &es);
    out->nsessions = nseen;
    free(procs);
    return NTKD_OK;
}
