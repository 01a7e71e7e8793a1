/* kscan.c: the reverse page map (physical page -> kernel VA) and the IRP scan over every page a
 * kernel dump holds. See kscan.h.
 *
 * The reverse map is one array indexed by the page's position in the dump file ("slot":
 * (file offset - phase) / 4096, where phase is the offset of every page within a 4 KB file
 * block, the same for all pages of a dump), so its size is bounded by the file's, whatever
 * physical addresses a hostile header claims. The page-table walk goes level by level: every
 * table page is walked at most once, and an entry leading to a page already known as a table of
 * this level or a higher one is not followed (that cuts the self-map, PAE's page directories
 * mapping themselves and any cycle). */
#include <stdio.h>
#if defined(__SSE2__)
#include <emmintrin.h>
#endif

#include "kobj/kobj_int.h"
#include "kobj/kscan.h"
#include "mem/mem.h"

#define PG 4096u

typedef struct kscan_state {
    bool built;
    nk_status st;
    char msg[512];
    uint64_t *va;        /* per slot: kernel VA of the page, 0 when the kernel does not map it */
    uint64_t nslots;
    uint64_t phase;      /* file offset of the dump's pages modulo 4096 */
    uint64_t lookups, max_lookups;
    nk_kscan_rmap_info info;
} kscan_state;

static void kscan_free(void *p)
{
    kscan_state *s = p;
    if (!s) return;
    free(s->va);
    free(s);
}

static kscan_state *kscan_get(ntkd_target *t)
{
    return nk_target_ext(t, NK_EXT_KSCAN, sizeof(kscan_state), kscan_free);
}

/* ---- paging geometry --------------------------------------------------------------------- */

typedef struct pgeo {
    int levels;
    unsigned esize;
    uint8_t shift[4];
    unsigned nent[4];
    uint64_t amask;
    unsigned kfirst; /* first index of the top level that maps the kernel half */
    bool arm, sext;
} pgeo;

static const pgeo GX64 = {4, 8, {39, 30, 21, 12}, {512, 512, 512, 512}, 0x000ffffffffff000ull, 256, false, true};
static const pgeo GPAE = {3, 8, {30, 21, 12, 0}, {4, 512, 512, 0}, 0x000ffffffffff000ull, 2, false, false};
static const pgeo GX86 = {2, 4, {22, 12, 0, 0}, {1024, 1024, 0, 0}, 0xfffff000ull, 512, false, false};
static const pgeo GARM = {4, 8, {39, 30, 21, 12}, {512, 512, 512, 512}, 0x0000fffffffff000ull, 256, true, true};

/* The physical page of a file slot, and back. */
static bool slot_of(const kscan_state *s, const nk_dump *d, uint64_t pfn, uint64_t *slot)
{
    uint64_t off;
    if (!nk_phys_page_off(d, pfn, &off)) return false;
    if (off < s->phase || ((off - s->phase) & (PG - 1))) return false;
    uint64_t k = (off - s->phase) / PG;
    if (k >= s->nslots) return false;
    *slot = k;
    return true;
}

/* Records that va maps physical page pfn (first mapping wins). */
static void rec(ntkd_target *t, kscan_state *s, uint64_t pfn, uint64_t va)
{
    s->lookups++;
    uint64_t k;
    if (!slot_of(s, &t->d, pfn, &k)) {
        s->info.absent++;
        return;
    }
    if (!s->va[k]) {
        s->va[k] = va;
        s->info.mapped_pages++;
    }
}

typedef struct qent {
    uint64_t pa;  /* the table's physical address */
    uint64_t va;  /* the first address it maps */
} qent;

static bool is_table_known(nk_u64set *tabs, uint64_t pfn, int upto)
{
    for (int l = 0; l <= upto; l++)
        if (nk_u64set_has(tabs, (pfn << 2) | (uint64_t)l)) return true;
    return false;
}

static uint64_t sext48(uint64_t v) { return (v & (1ull << 47)) ? v | 0xffff000000000000ull : v; }

static nk_status build(ntkd_target *t, kscan_state *s)
{
    const nk_dump *d = &t->d;
    const pgeo *g;
    uint64_t root;
    /* the dump's own root, also after `.process /p` switched the one user reads use */
    uint64_t dtb = d->dtb;
    const nk_kstate *ks = t->ext[NK_EXT_KOBJ];
    if (ks && ks->dtb_saved) dtb = ks->orig_dtb;
    switch (d->paging) {
    case NK_PAGING_X64_4L: g = &GX64; root = dtb & GX64.amask; break;
    case NK_PAGING_X86_PAE: g = &GPAE; root = dtb & 0xffffffe0ull; break;
    case NK_PAGING_X86: g = &GX86; root = dtb & 0xfffff000ull; break;
    case NK_PAGING_ARM64_4K: g = &GARM; root = dtb & GARM.amask; break;
    default:
        return nk_fail(t->ctx, NTKD_E_NOTFOUND, "%s: the dump has no page tables to map physical pages to kernel addresses",
                       nk_file_name(&t->file));
    }
    const nk_physmap *pm = &d->phys;
    if (pm->kind == NK_PHYS_RUNS && pm->nruns) s->phase = pm->runs[0].file_off & (PG - 1);
    else if (pm->kind == NK_PHYS_BITMAP) s->phase = pm->data_off & (PG - 1);
    else return nk_fail(t->ctx, NTKD_E_NOTFOUND, "%s: the dump holds no physical pages", nk_file_name(&t->file));
    if (pm->kind == NK_PHYS_RUNS)
        for (size_t i = 0; i < pm->nruns; i++) s->info.dump_pages += pm->runs[i].page_count;
    else
        s->info.dump_pages = pm->npresent;
    s->nslots = t->file.size / PG + 1;
    s->va = calloc(s->nslots, sizeof *s->va);
    if (!s->va) return nk_fail(t->ctx, NTKD_E_NOMEM, "reverse page map: out of memory (%llu slots)", (unsigned long long)s->nslots);
    /* work cap: every present page may be a table walked once; large pages add lookups */
    s->max_lookups = 8 * s->info.dump_pages + (1ull << 24);

    nk_u64set tabs = {0};
    qent *cur = malloc(sizeof *cur), *next = NULL;
    size_t ncur = 1, nnext = 0, capnext = 0;
    nk_status st = NTKD_OK;
    if (!cur) {
        st = nk_fail(t->ctx, NTKD_E_NOMEM, "reverse page map: out of memory");
        goto out;
    }
    cur[0] = (qent){root, 0};
    nk_u64set_add(&tabs, (root >> 12) << 2);
    for (int l = 0; l < g->levels && ncur && !s->info.capped; l++) {
        bool last = l == g->levels - 1;
        uint64_t span = 1ull << g->shift[l];
        nnext = 0;
        for (size_t q = 0; q < ncur && !s->info.capped; q++) {
            size_t avail = 0;
            const uint8_t *tab = nk_phys_ptr(t, cur[q].pa, &avail);
            if (!tab || avail < (size_t)g->nent[l] * g->esize) {
                s->info.absent++;
                continue;
            }
            s->info.tables++;
            unsigned first = l == 0 ? g->kfirst : 0;
            for (unsigned i = first; i < g->nent[l]; i++) {
                uint64_t e = g->esize == 8 ? nk_le64(tab + (size_t)i * 8) : nk_le32(tab + (size_t)i * 4);
                uint64_t va = cur[q].va + (uint64_t)i * span;
                if (g->sext) va = sext48(va);
                bool valid, leaf;
                if (g->arm) {
                    unsigned ty = (unsigned)(e & 3);
                    valid = last || l == 0 ? ty == 3 : (e & 1) != 0;
                    leaf = last || (l > 0 && ty == 1);
                } else {
                    valid = (e & 1) != 0;
                    leaf = last || (d->paging == NK_PAGING_X64_4L && l >= 1 && (e & 0x80)) ||
                           (d->paging == NK_PAGING_X86_PAE && l == 1 && (e & 0x80)) ||
                           (d->paging == NK_PAGING_X86 && l == 0 && (e & 0x80));
                }
                if (!valid) continue;
                if (leaf && !last) {
                    /* a large page: every 4 KB page of it */
                    uint64_t base;
                    if (d->paging == NK_PAGING_X86) base = (e & 0xffc00000ull) | (((e >> 13) & 0xffull) << 32);
                    else base = e & g->amask & ~(span - 1);
                    s->info.large++;
                    for (uint64_t k = 0; k < span / PG; k++) {
                        if (s->lookups >= s->max_lookups) {
                            s->info.capped = true;
                            break;
                        }
                        rec(t, s, (base >> 12) + k, va + k * PG);
                    }
                    continue;
                }
                uint64_t pa = e & g->amask;
                if (last) {
                    if (s->lookups >= s->max_lookups) {
                        s->info.capped = true;
                        break;
                    }
                    rec(t, s, pa >> 12, va);
                    continue;
                }
                /* a lower table: follow it once, and never a table of this level or above */
                uint64_t pfn = pa >> 12;
                if (is_table_known(&tabs, pfn, l + 1)) continue;
                if (!nk_u64set_add(&tabs, (pfn << 2) | (uint64_t)(l + 1))) continue;
                if (nnext == capnext) {
                    size_t nc = capnext ? capnext * 2 : 256;
                    qent *nq = realloc(next, nc * sizeof *nq);
                    if (!nq) {
                        st = nk_fail(t->ctx, NTKD_E_NOMEM, "reverse page map: out of memory");
                        goto out;
                    }
                    next = nq;
                    capnext = nc;
                }
                next[nnext++] = (qent){pa, va};
            }
        }
        free(cur);
        cur = next;
        ncur = nnext;
        next = NULL;
        capnext = 0;
    }
out:
    free(cur);
    free(next);
    nk_u64set_free(&tabs);
    return st;
}

nk_status nk_kscan_rmap(ntkd_target *t, const nk_kscan_rmap_info **info)
{
    if (!t) return NTKD_E_ARG;
    kscan_state *s = kscan_get(t);
    if (!s) return nk_fail(t->ctx, NTKD_E_NOMEM, "reverse page map: out of memory");
    if (!s->built) {
        s->built = true;
        s->st = build(t, s);
        if (s->st != NTKD_OK) snprintf(s->msg, sizeof s->msg, "%s", t->ctx->errmsg);
    }
    if (info) *info = &s->info;
    if (s->st != NTKD_OK) return nk_fail(t->ctx, s->st, "%s", s->msg);
    return NTKD_OK;
}

bool nk_kscan_pa_to_va(ntkd_target *t, uint64_t pa, uint64_t *va)
{
    if (nk_kscan_rmap(t, NULL) != NTKD_OK) return false;
    kscan_state *s = t->ext[NK_EXT_KSCAN];
    uint64_t k;
    if (!slot_of(s, &t->d, pa >> 12, &k) || !s->va[k]) return false;
    *va = s->va[k] + (pa & (PG - 1));
    return true;
}

/* ---- the IRP scan ------------------------------------------------------------------------ */

typedef struct irpgeo {
    uint64_t o_type, o_size, o_count, o_cur, o_thread, o_csl, o_dev, o_devtype, o_thtype;
    bool has_csl, has_thtype;
    uint64_t irp_size, sl_size, hdr_end;
    int64_t thread_object;
    unsigned align, ptr;
} irpgeo;

static nk_status field(ntkd_target *t, const char *type, const char *f, uint64_t *off, uint64_t want_size)
{
    nk_kfield kf;
    nk_status st = nk_k_field(t, type, f, &kf);
    if (st != NTKD_OK) return st;
    if (want_size && kf.size != want_size)
        return nk_fail(t->ctx, NTKD_E_FORMAT, "%s.%s is %llu bytes, the scan expects %llu", type, f,
                       (unsigned long long)kf.size, (unsigned long long)want_size);
    *off = kf.off;
    return NTKD_OK;
}

static nk_status irp_geo(ntkd_target *t, irpgeo *g)
{
    memset(g, 0, sizeof *g);
    nk_status st;
    if ((st = nk_k_sizeof(t, "_IRP", &g->irp_size)) != NTKD_OK) return st;
    if ((st = nk_k_sizeof(t, "_IO_STACK_LOCATION", &g->sl_size)) != NTKD_OK) return st;
    if ((st = field(t, "_IRP", "Type", &g->o_type, 2)) != NTKD_OK) return st;
    if ((st = field(t, "_IRP", "Size", &g->o_size, 2)) != NTKD_OK) return st;
    if ((st = field(t, "_IRP", "StackCount", &g->o_count, 1)) != NTKD_OK) return st;
    if ((st = field(t, "_IRP", "CurrentLocation", &g->o_cur, 1)) != NTKD_OK) return st;
    if ((st = field(t, "_IRP", "Tail.Overlay.Thread", &g->o_thread, 0)) != NTKD_OK) return st;
    if ((st = field(t, "_IO_STACK_LOCATION", "DeviceObject", &g->o_dev, 0)) != NTKD_OK) return st;
    if ((st = field(t, "_DEVICE_OBJECT", "Type", &g->o_devtype, 2)) != NTKD_OK) return st;
    g->has_csl = field(t, "_IRP", "Tail.Overlay.CurrentStackLocation", &g->o_csl, 0) == NTKD_OK;
    g->has_thtype = field(t, "_KTHREAD", "Header.Type", &g->o_thtype, 1) == NTKD_OK;
    t->ctx->errmsg[0] = 0;
    if (!nk_k_enum_value(t, "_KOBJECTS", "ThreadObject", &g->thread_object)) g->thread_object = 6;
    g->ptr = t->d.is64 ? 8 : 4;
    g->align = g->ptr == 8 ? 16 : 8;
    uint64_t e = 0;
    uint64_t ends[4] = {g->o_type + 2, g->o_size + 2, g->o_count + 1, g->o_cur + 1};
    for (int i = 0; i < 4; i++)
        if (ends[i] > e) e = ends[i];
    g->hdr_end = e;
    if (g->irp_size == 0 || g->sl_size == 0 || e > 256 || g->o_type + 2 > PG)
        return nk_fail(t->ctx, NTKD_E_FORMAT, "_IRP layout is not usable for a scan (size %llu, header %llu bytes)",
                       (unsigned long long)g->irp_size, (unsigned long long)e);
    return NTKD_OK;
}

/* The checks through the candidate's virtual address; *thread gets Tail.Overlay.Thread. */
static bool irp_valid(ntkd_target *t, const irpgeo *g, uint64_t irp, unsigned count, unsigned cur, uint64_t *thread)
{
    uint64_t v;
    if (g->has_csl) {
        if (nk_read_ptr(t, irp + g->o_csl, &v) != NTKD_OK) return false;
        if (v != irp + g->irp_size + (uint64_t)(cur - 1) * g->sl_size) return false;
    }
    if (nk_read_ptr(t, irp + g->o_thread, thread) != NTKD_OK) return false;
    if (*thread) {
        uint8_t ty;
        if (!g->has_thtype || nk_read_u8(t, *thread + g->o_thtype, &ty) != NTKD_OK) return false;
        if (ty != (uint8_t)g->thread_object) return false;
    }
    if (cur <= count) {
        uint64_t sl = irp + g->irp_size + (uint64_t)(cur - 1) * g->sl_size;
        uint16_t dt;
        if (nk_read_ptr(t, sl + g->o_dev, &v) != NTKD_OK || !v) return false;
        if (nk_read_u16(t, v + g->o_devtype, &dt) != NTKD_OK || dt != 3 /* IO_TYPE_DEVICE */) return false;
    }
    return true;
}

/* The exact test of the slots [from, to) of one page (from, to multiples of the alignment):
 * header fields, then the checks through the virtual address. True: stop the scan. */
static bool scan_range(ntkd_target *t, const irpgeo *g, const uint8_t *pg, uint64_t va, uint64_t from, uint64_t to,
                       nk_k_irp_fn fn, void *u, nk_kscan_stats *st, nk_strbuf *why)
{
    const uint64_t ot = g->o_type;
    for (uint64_t i = from; i < to && i + ot + 2 <= PG; i += g->align) {
        if (pg[i + ot] != 6 || pg[i + ot + 1] != 0) continue; /* IO_TYPE_IRP */
        uint8_t hb[256];
        const uint8_t *h = pg + i;
        if (i + g->hdr_end > PG) { /* the header runs into the next virtual page */
            if (nk_read_virt(t, va + i, hb, g->hdr_end, NULL) != NTKD_OK) continue;
            h = hb;
        }
        unsigned count = h[g->o_count], cur = h[g->o_cur];
        uint64_t size = nk_le16(h + g->o_size);
        if (!count || size != g->irp_size + count * g->sl_size || cur < 1 || cur > count + 1) continue;
        st->candidates++;
        uint64_t thread = 0;
        if (!irp_valid(t, g, va + i, count, cur, &thread)) {
            st->rejected++;
            continue;
        }
        if (st->found >= NK_KSCAN_MAX_IRPS) {
            st->capped = true;
            if (why) nk_sb_printf(why, "stopped after %u IRPs", NK_KSCAN_MAX_IRPS);
            return true;
        }
        st->found++;
        if (!fn(u, va + i, thread)) return true;
    }
    return false;
}

nk_status nk_kscan_irps(ntkd_target *t, nk_k_irp_fn fn, void *u, nk_kscan_progress_fn prog, void *pu,
                        nk_kscan_stats *stats, nk_strbuf *why)
{
    nk_kscan_stats dummy;
    nk_kscan_stats *st = stats ? stats : &dummy;
    memset(st, 0, sizeof *st);
    const nk_kscan_rmap_info *ri;
    nk_status r = nk_kscan_rmap(t, &ri);
    if (r != NTKD_OK) {
        if (why) nk_sb_printf(why, "%s", t->ctx->errmsg);
        return r;
    }
    irpgeo g;
    if ((r = irp_geo(t, &g)) != NTKD_OK) {
        if (why) nk_sb_printf(why, "%s", t->ctx->errmsg);
        return r;
    }
    kscan_state *s = t->ext[NK_EXT_KSCAN];
    const uint8_t *base = t->file.data;
    const uint64_t fsize = t->file.size;
    const uint64_t total = ri->mapped_pages;
    const uint64_t ot = g.o_type;
    /* the pages are read in place through the file mapping, in file order; helper threads map
       the kernel's pages ahead of the scan (nk_prefetch: populating on the scanning thread itself,
       and MADV_HUGEPAGE, were measured on a 4 GiB dump: no gain over the plain faults) */
    nk_pagemask mask;
    nk_prefetch *pf = NULL;
    if (nk_pagemask_init(&mask, base, fsize)) {
        for (uint64_t k = 0; k < s->nslots; k++)
            if (s->va[k] && nk_in_bounds(fsize, s->phase + k * PG, PG)) nk_pagemask_set(&mask, base + s->phase + k * PG);
        pf = nk_prefetch_start(&mask);
    }
    for (uint64_t k = 0; k < s->nslots; k++) {
        uint64_t va = s->va[k];
        if (!va) continue;
        uint64_t off = s->phase + k * PG;
        if (!nk_in_bounds(fsize, off, PG)) continue;
        const uint8_t *pg = base + off;
        st->pages++;
        if (prog && (st->pages & 8191) == 0) prog(pu, st->pages, total);
#if defined(__SSE2__)
        if (ot == 0) {
            /* 64 bytes at a time: any 16-bit 0x0006 at a slot start (bytes 0-1 of each 16-byte
               lane; also 8-9 with 8-byte alignment) sends the block to the exact check */
            const int lanes = g.align == 16 ? 0x0003 : 0x0303;
            const __m128i six = _mm_set1_epi16(6);
            for (uint64_t i = 0; i < PG; i += 64) {
                __m128i hit = _mm_or_si128(
                    _mm_or_si128(_mm_cmpeq_epi16(_mm_loadu_si128((const __m128i *)(pg + i)), six),
                                 _mm_cmpeq_epi16(_mm_loadu_si128((const __m128i *)(pg + i + 16)), six)),
                    _mm_or_si128(_mm_cmpeq_epi16(_mm_loadu_si128((const __m128i *)(pg + i + 32)), six),
                                 _mm_cmpeq_epi16(_mm_loadu_si128((const __m128i *)(pg + i + 48)), six)));
                if (!(_mm_movemask_epi8(hit) & lanes)) continue;
                if (scan_range(t, &g, pg, va, i, i + 64, fn, u, st, why)) goto done;
            }
            continue;
        }
#endif
        if (scan_range(t, &g, pg, va, 0, PG, fn, u, st, why)) goto done;
    }
done:
    nk_prefetch_stop(pf);
    nk_pagemask_free(&mask);
    if (prog) prog(pu, st->pages, total);
    return NTKD_OK;
}
