/* kverifier.c: Driver Verifier state (see kverifier.h). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "kobj/kobj_int.h"
#include "kobj/kverifier.h"
#include "mem/mem.h"
#include "sym/sym.h"
#include "sym/sym_int.h"

const char *const nk_kv_stat_names[NK_KV_NSTATS] = {
    "RaiseIrqls", "AcquireSpinLocks", "SynchronizeExecutions", "Trims",
    "AllocationsAttempted", "AllocationsSucceeded", "AllocationsSucceededSpecialPool",
    "AllocationsWithNoTag", "AllocationsFailed", "AllocationsFailedDeliberately",
    "CurrentPagedPoolAllocations", "PagedBytes", "PeakPagedPoolAllocations", "PeakPagedBytes",
    "CurrentNonPagedPoolAllocations", "NonPagedBytes", "PeakNonPagedPoolAllocations",
    "PeakNonPagedBytes", "Loads", "Unloads", "TrimRequests", "UnTrackedPool", "UserTrims",
};

/* Driver Verifier option bits (the documented /flags values), described in our words; 0x8,
 * 0x10 and 0x800 as the debugger's !verifier prints them (seeds 003, 004). */
static const struct {
    uint32_t bit;
    const char *text;
} vopts[] = {
    {0x1, "Special pool"},
    {0x2, "Force IRQL checking"},
    {0x4, "Randomized low resources simulation"},
    {0x8, "All pool allocations checked on unload"},
    {0x10, "Io subsystem checking enabled"},
    {0x20, "Deadlock detection"},
    {0x40, "Enhanced I/O verification"},
    {0x80, "DMA checking"},
    {0x100, "Security checks"},
    {0x200, "Force pending I/O requests"},
    {0x400, "IRP logging"},
    {0x800, "Miscellaneous checks enabled"},
    {0x1000, "Invariant MDL checking for stack"},
    {0x2000, "Invariant MDL checking for driver"},
    {0x4000, "Power framework delay fuzzing"},
    {0x8000, "Port/miniport interface checking"},
    {0x10000, "DDI compliance checking"},
    {0x20000, "Systematic low resources simulation"},
    {0x40000, "DDI compliance checking (additional)"},
    {0x100000, "NDIS/WIFI verification"},
    {0x800000, "Kernel synchronization delay fuzzing"},
    {0x1000000, "VM switch verification"},
    {0x2000000, "Code integrity checks"},
};

size_t nk_kv_level_names(uint32_t level, const char **out, size_t max)
{
    size_t n = 0;
    for (size_t i = 0; i < sizeof vopts / sizeof vopts[0] && n + 1 < max; i++)
        if (level & vopts[i].bit) out[n++] = vopts[i].text;
    uint32_t known = 0;
    for (size_t i = 0; i < sizeof vopts / sizeof vopts[0]; i++) known |= vopts[i].bit;
    if ((level & ~known) && n + 1 < max) out[n++] = "(other option bits not known to ntkd)";
    if (max) out[n] = NULL;
    return n;
}

/* NtGlobalFlag bits (the public gflags table: abbreviation and meaning, our wording). */
const nk_kv_gflag_name nk_kv_gflags[32] = {
    {0x00000001, "soe", "Stop on exception"},
    {0x00000002, "sls", "Show loader snaps"},
    {0x00000004, "dic", "Debug initial command"},
    {0x00000008, "shg", "Stop on hung GUI"},
    {0x00000010, "htc", "Enable heap tail checking"},
    {0x00000020, "hfc", "Enable heap free checking"},
    {0x00000040, "hpc", "Enable heap parameter checking"},
    {0x00000080, "hvc", "Enable heap validation on call"},
    {0x00000100, "vrf", "Enable application verifier"},
    {0x00000200, "", "Enable silent process exit monitoring"},
    {0x00000400, "ptg", "Enable pool tagging"},
    {0x00000800, "htg", "Enable heap tagging"},
    {0x00001000, "ust", "Create user mode stack trace database"},
    {0x00002000, "kst", "Create kernel mode stack trace database"},
    {0x00004000, "otl", "Maintain a list of objects for each type"},
    {0x00008000, "htd", "Enable heap tagging by DLL"},
    {0x00010000, "dse", "Disable stack extension"},
    {0x00020000, "d32", "Enable debugging of Win32 subsystem"},
    {0x00040000, "ksl", "Enable loading of kernel debugger symbols"},
    {0x00080000, "dps", "Disable paging of kernel stacks"},
    {0x00100000, "scb", "Enable system critical breaks"},
    {0x00200000, "dhc", "Disable heap coalesce on free"},
    {0x00400000, "ece", "Enable close exception"},
    {0x00800000, "eel", "Enable exception logging"},
    {0x01000000, "eot", "Enable object handle type tagging"},
    {0x02000000, "hpa", "Enable page heap"},
    {0x04000000, "dwl", "Debug WinLogon"},
    {0x08000000, "ddp", "Buffer DbgPrint output"},
    {0x10000000, "cse", "Early critical section event creation"},
    {0x20000000, "ltd", "Load DLLs top-down"},
    {0x40000000, "bhd", "Enable bad handles detection"},
    {0x80000000, "dpd", "Disable protected DLL verification"},
};

nk_status nk_kv_gflag(ntkd_target *t, uint32_t *flags)
{
    uint64_t va = 0;
    nk_status st = nk_k_global(t, "NtGlobalFlag", &va);
    if (st != NTKD_OK) return st;
    uint32_t v = 0;
    if (nk_read_u32(t, va, &v) != NTKD_OK) {
        char a[20];
        return nk_fail(t->ctx, NTKD_E_NOTPRESENT, "memory at %s (nt!NtGlobalFlag) is not in the dump",
                       nk_k_fmt(t, va, a));
    }
    *flags = v;
    return NTKD_OK;
}

/* ---- verified drivers ------------------------------------------------------------------------ */

typedef struct dwalk {
    ntkd_target *t;
    nk_kv_state *s;
    uint64_t links;     /* offset of the list links in the entry */
    const char *type;
    bool xp;
} dwalk;

static void read_pool_counters(ntkd_target *t, uint64_t a, const char *type, nk_kv_driver *d)
{
    uint64_t v;
    d->has_pool = nk_k_read(t, a, type, "CurrentPagedPoolAllocations", &v) == NTKD_OK;
    if (!d->has_pool) return;
    d->cur_paged = v;
    d->cur_np = nk_k_get(t, a, type, "CurrentNonPagedPoolAllocations", 0);
    d->peak_paged = nk_k_get(t, a, type, "PeakPagedPoolAllocations", 0);
    d->peak_np = nk_k_get(t, a, type, "PeakNonPagedPoolAllocations", 0);
    d->paged = nk_k_get(t, a, type, "PagedBytes", 0);
    d->np = nk_k_get(t, a, type, "NonPagedBytes", 0);
    d->peak_paged_b = nk_k_get(t, a, type, "PeakPagedBytes", 0);
    d->peak_np_b = nk_k_get(t, a, type, "PeakNonPagedBytes", 0);
}

static bool on_driver(void *u, uint64_t link)
{
    dwalk *w = u;
    nk_kv_state *s = w->s;
    if (s->ndrv >= NK_KV_MAX_DRIVERS) return false;
    nk_kv_driver *nd = realloc(s->drv, (s->ndrv + 1) * sizeof *nd);
    if (!nd) return false;
    s->drv = nd;
    nk_kv_driver *d = &s->drv[s->ndrv++];
    memset(d, 0, sizeof *d);
    d->entry = link - w->links;
    d->loads = (uint32_t)nk_k_get(w->t, d->entry, w->type, "Loads", 0);
    d->unloads = (uint32_t)nk_k_get(w->t, d->entry, w->type, "Unloads", 0);
    uint64_t off = 0;
    if (nk_k_offset(w->t, w->type, "BaseName", &off) != NTKD_OK ||
        !nk_k_ustr_buf(w->t, d->entry + off, d->name, sizeof d->name) || !d->name[0]) {
        char a[20];
        snprintf(d->name, sizeof d->name, "<name unreadable at %s>", nk_k_fmt(w->t, d->entry + off, a));
    }
    if (w->xp) {
        d->data = d->entry;
        d->base = nk_k_get(w->t, d->entry, w->type, "StartAddress", 0);
        uint64_t end = nk_k_get(w->t, d->entry, w->type, "EndAddress", 0);
        d->size = end > d->base ? end - d->base : 0;
        read_pool_counters(w->t, d->entry, w->type, d);
    }
    return true;
}

/* The target-driver AVL tree (Vista and later): fills base/size/data/counters of the drivers
 * whose suspect entry a node names. */
static void walk_targets(ntkd_target *t, nk_kv_state *s)
{
    uint64_t tree = 0;
    char a[20];
    if (nk_k_global(t, "ViTargetDriversAvl", &tree) != NTKD_OK) {
        nk_sb_printf(&s->why, "per-driver pool counters: %s\n", t->ctx->errmsg);
        return;
    }
    uint64_t tables = 0, ntables = 0, lsz = 0, tsz = 0, root_off = 0;
    if (nk_k_read(t, tree, "_VF_AVL_TREE", "Tables", &tables) != NTKD_OK ||
        nk_k_read(t, tree, "_VF_AVL_TREE", "TablesNo", &ntables) != NTKD_OK ||
        nk_k_sizeof(t, "_RTL_BALANCED_LINKS", &lsz) != NTKD_OK || nk_k_sizeof(t, "_VF_AVL_TABLE", &tsz) != NTKD_OK ||
        nk_k_offset(t, "_VF_AVL_TABLE", "RtlTable.BalancedRoot", &root_off) != NTKD_OK) {
        nk_sb_printf(&s->why, "per-driver pool counters: nt!ViTargetDriversAvl: %s\n", t->ctx->errmsg);
        return;
    }
    if (!tables) return;
    if (ntables > 64) {
        nk_sb_printf(&s->why, "nt!ViTargetDriversAvl at %s: %llu tables (corrupt?): reading 64\n",
                     nk_k_fmt(t, tree, a), (unsigned long long)ntables);
        ntables = 64;
    }
    const char *TD = "_VF_TARGET_DRIVER", *V = "_VF_TARGET_VERIFIED_DRIVER_DATA";
    const char *pf = nk_k_has(t, TD, "TreeNode.p") ? "TreeNode.p" : "TreeNode.Base.p";
    const char *rf = nk_k_has(t, TD, "TreeNode.RangeSize") ? "TreeNode.RangeSize" : "TreeNode.Base.RangeSize";
    nk_u64set seen = {0};
    size_t visited = 0;
    bool cut = false;
    for (uint64_t ti = 0; ti < ntables && !cut; ti++) {
        uint64_t rootlinks = tables + ti * tsz + root_off;
        uint64_t stack[256], from[256];
        size_t sp = 0;
        uint64_t r = nk_k_get(t, rootlinks, "_RTL_BALANCED_LINKS", "RightChild", 0);
        if (r) stack[sp] = r, from[sp++] = rootlinks;
        while (sp) {
            sp--;
            uint64_t node = stack[sp], parent = from[sp];
            if (!nk_u64set_add(&seen, node)) {
                char a2[20];
                nk_sb_printf(&s->why, "nt!ViTargetDriversAvl: the link at node %s leads back to node %s (a cycle): "
                                      "not followed\n", nk_k_fmt(t, parent, a2), nk_k_fmt(t, node, a));
                continue;
            }
            if (++visited > NK_KV_MAX_DRIVERS * 4) {
                nk_sb_printf(&s->why, "nt!ViTargetDriversAvl: more than %u nodes: walk cut\n", NK_KV_MAX_DRIVERS * 4);
                cut = true;
                break;
            }
            uint64_t left = 0, right = 0;
            if (nk_k_read(t, node, "_RTL_BALANCED_LINKS", "LeftChild", &left) != NTKD_OK ||
                nk_k_read(t, node, "_RTL_BALANCED_LINKS", "RightChild", &right) != NTKD_OK) {
                nk_sb_printf(&s->why, "nt!ViTargetDriversAvl: node %s is not in the dump\n", nk_k_fmt(t, node, a));
                continue;
            }
            if (right && sp < 256) stack[sp] = right, from[sp++] = node;
            if (left && sp < 256) stack[sp] = left, from[sp++] = node;
            if ((left || right) && sp >= 256) {
                nk_sb_printf(&s->why, "nt!ViTargetDriversAvl: tree deeper than 256: walk cut\n");
                cut = true;
                break;
            }
            uint64_t td = node + lsz;
            uint64_t vd = nk_k_get(t, td, TD, "VerifiedData", 0);
            if (!vd) continue;
            uint64_t sus = nk_k_get(t, vd, V, "SuspectDriverEntry", 0);
            for (size_t i = 0; i < s->ndrv; i++) {
                nk_kv_driver *d = &s->drv[i];
                if (d->entry != sus) continue;
                d->data = vd;
                d->base = nk_k_get(t, td, TD, pf, 0);
                d->size = nk_k_get(t, td, TD, rf, 0);
                read_pool_counters(t, vd, V, d);
            }
        }
    }
    nk_u64set_free(&seen);
}

nk_status nk_kv_read(ntkd_target *t, nk_kv_state *out)
{
    memset(out, 0, sizeof *out);
    if (!nk_k_types(t)) return NTKD_E_NOTFOUND;
    uint64_t va = 0;
    nk_status st = nk_k_global(t, "MmVerifierData", &va);
    if (st != NTKD_OK) return st;
    out->data_va = va;
    uint64_t lv = 0;
    st = nk_k_read(t, va, "_MM_DRIVER_VERIFIER_DATA", "Level", &lv);
    if (st != NTKD_OK) return st;
    out->level = (uint32_t)lv;
    for (size_t i = 0; i < NK_KV_NSTATS; i++) {
        uint64_t v = 0;
        if (!nk_k_has(t, "_MM_DRIVER_VERIFIER_DATA", nk_kv_stat_names[i])) continue;
        if (nk_k_read(t, va, "_MM_DRIVER_VERIFIER_DATA", nk_kv_stat_names[i], &v) == NTKD_OK) {
            out->stats[i] = v;
            out->has_stat[i] = true;
        }
    }
    dwalk w = {.t = t, .s = out};
    uint64_t head = 0;
    if (nk_k_global(t, "VfSuspectDriversList", &head) == NTKD_OK) {
        out->list_sym = "VfSuspectDriversList";
        w.type = "_VF_SUSPECT_DRIVER_ENTRY";
    } else if (nk_k_global(t, "MiSuspectDriverList", &head) == NTKD_OK) {
        out->list_sym = "MiSuspectDriverList";
        w.type = "_MI_VERIFIER_DRIVER_ENTRY";
        w.xp = true;
    } else {
        nk_sb_printf(&out->why, "no verified-driver list (neither nt!VfSuspectDriversList nor nt!MiSuspectDriverList "
                                "is in this build's symbols)\n");
        return NTKD_OK;
    }
    if (nk_k_offset(t, w.type, "Links", &w.links) != NTKD_OK) {
        nk_sb_printf(&out->why, "%s\n", t->ctx->errmsg);
        return NTKD_OK;
    }
    nk_strbuf why = {0};
    if (nk_k_list(t, head, NK_KV_MAX_DRIVERS, on_driver, &w, &why) != NTKD_OK || why.len)
        nk_sb_printf(&out->why, "nt!%s: %s\n", out->list_sym, why.s ? why.s : t->ctx->errmsg);
    nk_sb_free(&why);
    if (!w.xp && out->ndrv) walk_targets(t, out);
    return NTKD_OK;
}

void nk_kv_free(nk_kv_state *s)
{
    if (!s) return;
    free(s->drv);
    nk_sb_free(&s->why);
    memset(s, 0, sizeof *s);
}

/* ---- Vista and later: the per-driver tracker pages ---------------------------------------------
 * _VF_TARGET_VERIFIED_DRIVER_DATA.PoolPageHeaders is an SLIST of tracker pages (4 KiB, page
 * aligned, entry 0 the _VI_POOL_PAGE_HEADER: NextPage, VerifierEntry = the driver's data);
 * PoolTrackers an SLIST of the free _VI_POOL_ENTRYs (NextFree). Every other entry 1..N-1 of a
 * page is in use unless its first pointer is 0 (never used) or points into one of the driver's
 * tracker pages (a free link the free list did not reach). How Windows uses the pages is not
 * documented; this reading is the contract tests/gen/scene/verifier.c writes. */
#define KV_TPAGE 0x1000u

/* First entry and depth of the _SLIST_HEADER at h (x64 HeaderX64 / Header16, x86 Next.Next). */
static nk_status slist_read(ntkd_target *t, uint64_t h, uint64_t *first, uint64_t *depth)
{
    const char *SH = "_SLIST_HEADER";
    uint64_t v = 0, ty = 1;
    *depth = 0;
    if (nk_k_has(t, SH, "HeaderX64.NextEntry")) {
        nk_status st = nk_k_read(t, h, SH, "HeaderX64.NextEntry", &v);
        if (st != NTKD_OK) return st;
        *first = v << 4;
        *depth = nk_k_get(t, h, SH, "HeaderX64.Depth", 0);
        return NTKD_OK;
    }
    if (nk_k_has(t, SH, "Header16.NextEntry")) {
        if (nk_k_has(t, SH, "Header16.HeaderType")) {
            nk_status st = nk_k_read(t, h, SH, "Header16.HeaderType", &ty);
            if (st != NTKD_OK) return st;
        }
        if (!ty) {
            char a[20];
            return nk_fail(t->ctx, NTKD_E_UNSUPPORTED,
                           "the SLIST header at %s is in the 8-byte format (Header8), which ntkd does not decode",
                           nk_k_fmt(t, h, a));
        }
        nk_status st = nk_k_read(t, h, SH, "Header16.NextEntry", &v);
        if (st != NTKD_OK) return st;
        *first = v << 4;
        *depth = nk_k_get(t, h, SH, "Header16.Depth", 0);
        return NTKD_OK;
    }
    nk_status st = nk_k_read(t, h, SH, "Next.Next", &v);
    if (st != NTKD_OK) return st;
    *first = v;
    *depth = nk_k_get(t, h, SH, "Depth", 0);
    return NTKD_OK;
}

static bool in_pages(const uint64_t *pg, size_t np, uint64_t a)
{
    for (size_t i = 0; i < np; i++)
        if (a >= pg[i] && a - pg[i] < KV_TPAGE) return true;
    return false;
}

static nk_status vf_allocs(ntkd_target *t, const nk_kv_driver *d, nk_kv_alloc **out, size_t *n, nk_strbuf *why,
                           nk_kv_track *tr)
{
    const char *V = "_VF_TARGET_VERIFIED_DRIVER_DATA", *E = "_VI_POOL_ENTRY";
    uint64_t off_pph = 0, off_ptr = 0, esz = 0;
    nk_kfield fva, fca, fnb, ftag, fnf, fnp, fve;
    if (nk_k_offset(t, V, "PoolPageHeaders", &off_pph) != NTKD_OK || nk_k_offset(t, V, "PoolTrackers", &off_ptr) != NTKD_OK ||
        nk_k_sizeof(t, E, &esz) != NTKD_OK || nk_k_field(t, E, "InUse.VirtualAddress", &fva) != NTKD_OK ||
        nk_k_field(t, E, "InUse.CallingAddress", &fca) != NTKD_OK || nk_k_field(t, E, "InUse.NumberOfBytes", &fnb) != NTKD_OK ||
        nk_k_field(t, E, "InUse.Tag", &ftag) != NTKD_OK || nk_k_field(t, E, "NextFree", &fnf) != NTKD_OK ||
        nk_k_field(t, E, "PageHeader.NextPage", &fnp) != NTKD_OK ||
        nk_k_field(t, E, "PageHeader.VerifierEntry", &fve) != NTKD_OK) {
        char m[300];
        snprintf(m, sizeof m, "%.290s", t->ctx->errmsg);
        return nk_fail(t->ctx, NTKD_E_UNSUPPORTED, "this build's per-driver allocation trackers cannot be read: %s", m);
    }
    const unsigned ps = nk_k_ptrsize(t);
    if (esz < 2u * ps || esz > KV_TPAGE / 4 || fva.off + ps > esz || fca.off + ps > esz || fnb.off + fnb.size > esz ||
        ftag.off + ftag.size > esz || fnf.off + ps > esz || fnp.off + ps > esz || fve.off + ps > esz)
        return nk_fail(t->ctx, NTKD_E_FORMAT, "_VI_POOL_ENTRY of 0x%llx bytes: its fields do not fit",
                       (unsigned long long)esz);
    if (!d->data)
        return nk_fail(t->ctx, NTKD_E_NOTFOUND,
                       "no _VF_TARGET_VERIFIED_DRIVER_DATA found for %s (nt!ViTargetDriversAvl names none)", d->name);
    char a[20], a2[20];
    uint64_t first = 0, depth = 0;
    nk_status st = slist_read(t, d->data + off_pph, &first, &depth);
    if (st != NTKD_OK) return st;
    tr->pages_claimed = depth;
    /* the pages */
    uint64_t *pg = NULL;
    size_t npg = 0, cap = 0;
    nk_u64set seen = {0};
    for (uint64_t p = first; p;) {
        if (npg >= NK_KV_MAX_TRACKER_PAGES) {
            if (why) nk_sb_printf(why, "%s: more than %u tracker pages: walk cut\n", d->name, NK_KV_MAX_TRACKER_PAGES);
            tr->cut = true;
            break;
        }
        if (p & (KV_TPAGE - 1)) {
            if (why) nk_sb_printf(why, "%s: tracker page link %s is not page-aligned: walk cut\n", d->name, nk_k_fmt(t, p, a));
            tr->cut = true;
            break;
        }
        if (!nk_u64set_add(&seen, p)) {
            if (why) nk_sb_printf(why, "%s: the tracker page list leads back to page %s (a cycle): walk cut\n", d->name,
                                  nk_k_fmt(t, p, a));
            tr->cut = true;
            break;
        }
        uint64_t ve = 0, next = 0;
        if (nk_read_ptr(t, p + fve.off, &ve) != NTKD_OK || nk_read_ptr(t, p + fnp.off, &next) != NTKD_OK) {
            if (why) nk_sb_printf(why, "%s: tracker page %s is not in the dump: its allocations and the rest of the page list are unknown\n",
                                  d->name, nk_k_fmt(t, p, a));
            tr->missing++;
            tr->cut = true;
            break;
        }
        if (ve != d->data) {
            if (why) nk_sb_printf(why, "%s: tracker page %s belongs to %s, not to this driver's data %s: skipped\n", d->name,
                                  nk_k_fmt(t, p, a), nk_k_fmt(t, ve, a2), nk_k_fmt(t, d->data, a2));
        } else if (nk_grow((void **)&pg, &cap, npg + 1, sizeof *pg)) {
            pg[npg++] = p;
        }
        /* NextPage points at the next page's header (its entry 0) */
        p = next ? next - fnp.off : 0;
    }
    nk_u64set_free(&seen);
    tr->pages = npg;
    if ((!tr->cut || depth > NK_KV_MAX_TRACKER_PAGES) && depth != npg && why)
        nk_sb_printf(why, "%s: PoolPageHeaders claims 0x%llx tracker pages, %zu found\n", d->name, (unsigned long long)depth, npg);
    /* the free list */
    const size_t per = KV_TPAGE / esz;
    nk_u64set freeset = {0};
    uint64_t ffirst = 0, fdepth = 0;
    if (slist_read(t, d->data + off_ptr, &ffirst, &fdepth) != NTKD_OK) {
        if (why) nk_sb_printf(why, "%s: PoolTrackers: %s\n", d->name, t->ctx->errmsg);
        ffirst = 0;
    }
    size_t nfree = 0;
    bool fcut = false;
    for (uint64_t e = ffirst; e;) {
        if (nfree > npg * per + 1 || nfree >= NK_KV_MAX_ALLOCS) {
            if (why) nk_sb_printf(why, "%s: the free-tracker list is longer than the tracker pages hold: walk cut\n", d->name);
            fcut = true;
            break;
        }
        if (!nk_u64set_add(&freeset, e)) {
            if (why) nk_sb_printf(why, "%s: the free-tracker list leads back to entry %s (a cycle): walk cut\n", d->name,
                                  nk_k_fmt(t, e, a));
            fcut = true;
            break;
        }
        nfree++;
        uint64_t nx = 0;
        if (nk_read_ptr(t, e + fnf.off, &nx) != NTKD_OK) {
            if (why) nk_sb_printf(why, "%s: free tracker entry %s is not in the dump: the free list is cut there\n",
                                  d->name, nk_k_fmt(t, e, a));
            fcut = true;
            break;
        }
        e = nx ? nx - fnf.off : 0;
    }
    tr->free = nfree;
    tr->free_claimed = fdepth;
    if (((!fcut && !tr->cut) || fdepth > (uint64_t)NK_KV_MAX_TRACKER_PAGES * per) && fdepth != nfree && why)
        nk_sb_printf(why, "%s: PoolTrackers claims 0x%llx free entries, %zu found\n", d->name, (unsigned long long)fdepth, nfree);
    /* the in-use entries */
    nk_kv_alloc *v = NULL;
    size_t nv = 0, vcap = 0;
    uint8_t *buf = malloc(KV_TPAGE);
    if (!buf) {
        free(pg);
        nk_u64set_free(&freeset);
        return NTKD_E_NOMEM;
    }
    for (size_t k = 0; k < npg && nv < NK_KV_MAX_ALLOCS; k++) {
        size_t got = 0;
        if (nk_read_virt(t, pg[k], buf, KV_TPAGE, &got) != NTKD_OK || got != KV_TPAGE) {
            if (why) nk_sb_printf(why, "%s: tracker page %s is only partly in the dump: skipped\n", d->name, nk_k_fmt(t, pg[k], a));
            tr->missing++;
            continue;
        }
        for (size_t i = 1; i < per; i++) {
            uint64_t e = pg[k] + i * esz;
            if (nk_u64set_has(&freeset, e)) continue;
            const uint8_t *b = buf + i * esz;
            uint64_t pva = 0, pca = 0, nb = 0, tag = 0;
            memcpy(&pva, b + fva.off, ps);
            memcpy(&pca, b + fca.off, ps);
            memcpy(&nb, b + fnb.off, fnb.size < 8 ? fnb.size : 8);
            memcpy(&tag, b + ftag.off, ftag.size < 8 ? ftag.size : 8);
            if (!pva) continue;
            if (in_pages(pg, npg, pva)) {
                tr->unlisted_free++;
                continue;
            }
            if (!nk_grow((void **)&v, &vcap, nv + 1, sizeof *v)) break;
            v[nv++] = (nk_kv_alloc){pva, nb, tag, pca, e};
        }
    }
    free(buf);
    free(pg);
    nk_u64set_free(&freeset);
    if (tr->unlisted_free && why)
        nk_sb_printf(why, "%s: %zu tracker entries are on no free list but hold a link into the tracker pages: taken as free\n",
                     d->name, tr->unlisted_free);
    *out = v;
    *n = nv;
    return NTKD_OK;
}

nk_status nk_kv_allocs(ntkd_target *t, const nk_kv_driver *d, nk_kv_alloc **out, size_t *n, nk_strbuf *why)
{
    nk_kv_track tr;
    return nk_kv_allocs2(t, d, out, n, why, &tr);
}

nk_status nk_kv_allocs2(ntkd_target *t, const nk_kv_driver *d, nk_kv_alloc **out, size_t *n, nk_strbuf *why,
                        nk_kv_track *tr)
{
    *out = NULL;
    *n = 0;
    memset(tr, 0, sizeof *tr);
    const char *T = "_MI_VERIFIER_DRIVER_ENTRY";
    if (!nk_k_has(t, T, "PoolHash")) {
        tr->source = "PoolTrackers";
        return vf_allocs(t, d, out, n, why, tr);
    }
    tr->source = "PoolHash";
    uint64_t hash = nk_k_get(t, d->entry, T, "PoolHash", 0);
    uint64_t size = nk_k_get(t, d->entry, T, "PoolHashSize", 0);
    uint64_t esz = 0, off_va = 0, off_ca = 0, off_nb = 0, off_tag = 0;
    nk_kfield fva, fnb, ftag, fca;
    if (nk_k_sizeof(t, "_VI_POOL_ENTRY", &esz) != NTKD_OK || !esz ||
        nk_k_field(t, "_VI_POOL_ENTRY", "InUse.VirtualAddress", &fva) != NTKD_OK ||
        nk_k_field(t, "_VI_POOL_ENTRY", "InUse.CallingAddress", &fca) != NTKD_OK ||
        nk_k_field(t, "_VI_POOL_ENTRY", "InUse.NumberOfBytes", &fnb) != NTKD_OK ||
        nk_k_field(t, "_VI_POOL_ENTRY", "InUse.Tag", &ftag) != NTKD_OK)
        return NTKD_E_NOTFOUND;
    off_va = fva.off, off_ca = fca.off, off_nb = fnb.off, off_tag = ftag.off;
    if (!hash || !size) return NTKD_OK;
    char a[20];
    if (size > NK_KV_MAX_ALLOCS) {
        if (why) nk_sb_printf(why, "%s: PoolHashSize 0x%llx is implausible: reading 0x%x entries\n", d->name,
                              (unsigned long long)size, NK_KV_MAX_ALLOCS);
        size = NK_KV_MAX_ALLOCS;
    }
    const unsigned ps = nk_k_ptrsize(t);
    const uint64_t kmin = ps == 8 ? 0xffff800000000000ull : 0x80000000ull;
    nk_kv_alloc *v = NULL;
    size_t nv = 0, cap = 0;
    uint8_t buf[256];
    if (esz > sizeof buf) return nk_fail(t->ctx, NTKD_E_FORMAT, "_VI_POOL_ENTRY of 0x%llx bytes", (unsigned long long)esz);
    for (uint64_t i = 0; i < size; i++) {
        size_t got = 0;
        uint64_t ea = hash + i * esz;
        if (nk_read_virt(t, ea, buf, esz, &got) != NTKD_OK || got != esz) {
            if (why) nk_sb_printf(why, "%s: PoolHash entry %llu at %s is not in the dump: stopped\n", d->name,
                                  (unsigned long long)i, nk_k_fmt(t, ea, a));
            break;
        }
        uint64_t pva = 0, pca = 0, nb = 0, tag = 0;
        memcpy(&pva, buf + off_va, ps);
        memcpy(&pca, buf + off_ca, ps);
        memcpy(&nb, buf + off_nb, fnb.size < 8 ? fnb.size : 8);
        memcpy(&tag, buf + off_tag, ftag.size < 8 ? ftag.size : 8);
        /* free slots hold a free-list link (an index, or all ones at the list's end), in-use ones
         * a system address of pool (8-byte aligned at least) */
        const uint64_t ones = ps == 8 ? ~0ull : 0xffffffffull;
        if (pva < kmin || pva == ones || (pva & 7)) continue;
        if (!nk_grow((void **)&v, &cap, nv + 1, sizeof *v)) break;
        v[nv++] = (nk_kv_alloc){pva, nb, tag, pca, ea};
    }
    *out = v;
    *n = nv;
    return NTKD_OK;
}

/* ---- logs ------------------------------------------------------------------------------------ */

static const struct {
    const char *arr, *idx, *len, *type, *name;
} logdef[] = {
    [NK_KV_LOG_POOL] = {"VfPoolTraces", "VfPoolTracesIndex", "VfPoolTracesLength", "_VF_POOL_TRACE", "pool"},
    [NK_KV_LOG_IRP] = {"IovIrpTraces", "IovIrpTracesIndex", "IovIrpTracesLength", "_IOV_IRP_TRACE", "IRP"},
    [NK_KV_LOG_CRIT] = {"VfKeCriticalRegionTraces", "VfKeCriticalRegionTracesIndex",
                        "VfKeCriticalRegionTracesLength", "_VF_KE_CRITICAL_REGION_TRACE", "critical-region"},
};

const char *nk_kv_log_name(nk_kv_logkind kind)
{
    return (unsigned)kind < 3 ? logdef[kind].name : "?";
}

static uint64_t le_get(const uint8_t *b, uint64_t off, uint64_t size, uint64_t esz)
{
    if (off + size > esz || size > 8) return 0;
    uint64_t v = 0;
    memcpy(&v, b + off, size);
    return v;
}

nk_status nk_kv_log_read(ntkd_target *t, nk_kv_logkind kind, nk_kv_log *out)
{
    memset(out, 0, sizeof *out);
    if ((unsigned)kind > NK_KV_LOG_CRIT) return NTKD_E_ARG;
    out->kind = kind;
    out->array_sym = logdef[kind].arr;
    out->type = logdef[kind].type;
    if (!nk_k_types(t)) return NTKD_E_NOTFOUND;
    uint64_t parr = 0, pidx = 0, plen = 0;
    char saved[64];
    snprintf(saved, sizeof saved, "%s", logdef[kind].arr);
    if (nk_k_global(t, logdef[kind].arr, &parr) != NTKD_OK || nk_k_global(t, logdef[kind].idx, &pidx) != NTKD_OK ||
        nk_k_global(t, logdef[kind].len, &plen) != NTKD_OK)
        return nk_fail(t->ctx, NTKD_E_NOTFOUND, "this build keeps no %s log (nt!%s is not in its symbols)",
                       logdef[kind].name, saved);
    uint64_t esz = 0;
    if (nk_k_sizeof(t, logdef[kind].type, &esz) != NTKD_OK || !esz)
        return nk_fail(t->ctx, NTKD_E_NOTFOUND,
                       "this build's %s log (nt!%s) cannot be decoded: %s is not in its types", logdef[kind].name,
                       saved, logdef[kind].type);
    out->entry_size = esz;
    char a[20];
    uint32_t idx = 0, len = 0;
    if (nk_read_ptr(t, parr, &out->array) != NTKD_OK || nk_read_u32(t, pidx, &idx) != NTKD_OK ||
        nk_read_u32(t, plen, &len) != NTKD_OK)
        return nk_fail(t->ctx, NTKD_E_NOTPRESENT, "the %s log's globals (nt!%s at %s) are not in the dump",
                       logdef[kind].name, saved, nk_k_fmt(t, parr, a));
    out->index = idx;
    out->length = len;
    if (!out->array || !len) return NTKD_OK; /* the option is off: no log allocated */
    uint64_t n = len;
    if (n > NK_KV_MAX_LOG) {
        nk_sb_printf(&out->why, "the %s log claims 0x%llx entries: reading the last 0x%x\n", logdef[kind].name,
                     (unsigned long long)n, NK_KV_MAX_LOG);
        n = NK_KV_MAX_LOG;
    }
    if (idx >= len)
        nk_sb_printf(&out->why, "the %s log's index 0x%x is past its 0x%x entries: taken modulo the length\n",
                     logdef[kind].name, idx, len);
    /* fields */
    nk_kfield fth, fst, fad = {0}, fsz = {0}, fka = {0}, fsa = {0}, fir = {0};
    const char *T = logdef[kind].type;
    if (nk_k_field(t, T, "Thread", &fth) != NTKD_OK || nk_k_field(t, T, "StackTrace", &fst) != NTKD_OK)
        return NTKD_E_NOTFOUND;
    if (kind == NK_KV_LOG_POOL && (nk_k_field(t, T, "Address", &fad) != NTKD_OK || nk_k_field(t, T, "Size", &fsz) != NTKD_OK))
        return NTKD_E_NOTFOUND;
    if (kind == NK_KV_LOG_IRP) {
        if (nk_k_field(t, T, "Irp", &fad) != NTKD_OK) return NTKD_E_NOTFOUND;
        if (nk_k_field(t, T, "KernelApcDisable", &fka) != NTKD_OK) fka.size = 0;
        if (nk_k_field(t, T, "SpecialApcDisable", &fsa) != NTKD_OK) fsa.size = 0;
        if (nk_k_field(t, T, "Irql", &fir) != NTKD_OK) fir.size = 0;
    }
    const unsigned ps = nk_k_ptrsize(t);
    uint64_t nslots = fst.size / ps;
    if (nslots > NK_KV_MAX_STACK) nslots = NK_KV_MAX_STACK;
    uint8_t *buf = malloc(esz);
    if (!buf) return NTKD_E_NOMEM;
    size_t cap = 0, unreadable = 0;
    uint64_t first_bad = 0;
    uint64_t start = (uint64_t)(idx % len); /* the next slot to write: the oldest */
    for (uint64_t k = 0; k < n; k++) {
        uint64_t slot = (start + len - 1 - k) % len; /* most recent first */
        uint64_t ea = out->array + slot * esz;
        size_t got = 0;
        if (nk_read_virt(t, ea, buf, esz, &got) != NTKD_OK || got != esz) {
            if (!unreadable++) first_bad = ea;
            if (unreadable >= 4096) break;
            continue;
        }
        nk_kv_entry e;
        memset(&e, 0, sizeof e);
        e.slot = (uint32_t)slot;
        e.thread = le_get(buf, fth.off, ps, esz);
        if (fad.size) e.addr = le_get(buf, fad.off, ps, esz);
        if (fsz.size) e.size = le_get(buf, fsz.off, fsz.size, esz);
        if (fka.size) e.kad = (int16_t)le_get(buf, fka.off, fka.size, esz);
        if (fsa.size) e.sad = (int16_t)le_get(buf, fsa.off, fsa.size, esz);
        if (fir.size) e.irql = (uint8_t)le_get(buf, fir.off, 1, esz);
        for (uint64_t i = 0; i < nslots; i++) {
            uint64_t r = le_get(buf, fst.off + i * ps, ps, esz);
            if (!r) break;
            e.stack[e.nstack++] = r;
        }
        if (!e.thread && !e.addr && !e.nstack) continue; /* never written */
        if (!nk_grow((void **)&out->e, &cap, out->n + 1, sizeof *out->e)) {
            free(buf);
            return NTKD_E_NOMEM;
        }
        out->e[out->n++] = e;
    }
    free(buf);
    if (unreadable)
        nk_sb_printf(&out->why, "%zu%s %s log entries are not in the dump (the first at %s)\n", unreadable,
                     unreadable >= 4096 ? "+" : "", logdef[kind].name, nk_k_fmt(t, first_bad, a));
    return NTKD_OK;
}

void nk_kv_log_free(nk_kv_log *l)
{
    if (!l) return;
    free(l->e);
    nk_sb_free(&l->why);
    memset(l, 0, sizeof *l);
}

/* ---- critical regions ------------------------------------------------------------------------ */

static const nk_smod *mod_at(ntkd_target *t, uint64_t addr)
{
    if (!addr) return NULL;
    ptrdiff_t i = nk_sym_module_of(t, addr);
    nk_symlayer *L = nk_symlayer_get(t);
    if (i < 0 || !L || (size_t)i >= L->nmods) return NULL;
    return &L->mods[i];
}

static bool is_kernel_mod(const nk_smod *m)
{
    if (!m) return false;
    if (m->kernel_image) return true;
    return m->name && (!strcasecmp(m->name, "nt") || !strncasecmp(m->name, "hal", 3));
}

nk_kv_crit_op nk_kv_crit_classify(ntkd_target *t, const nk_kv_entry *e, uint64_t *driver_frame, char *module,
                                  size_t modlen)
{
    if (module && modlen) module[0] = 0;
    if (driver_frame) *driver_frame = 0;
    if (!e->nstack) return NK_KV_CRIT_UNKNOWN;
    nk_kv_crit_op op = NK_KV_CRIT_UNKNOWN;
    char d[256];
    if (nk_sym_describe(t, e->stack[0], d, sizeof d)) {
        if (strstr(d, "EnterCriticalRegion")) op = NK_KV_CRIT_ENTER;
        else if (strstr(d, "LeaveCriticalRegion")) op = NK_KV_CRIT_LEAVE;
    }
    for (unsigned i = 0; i < e->nstack; i++) {
        const nk_smod *m = mod_at(t, e->stack[i]);
        if (!m || is_kernel_mod(m)) continue;
        if (driver_frame) *driver_frame = e->stack[i];
        if (module && modlen) snprintf(module, modlen, "%s", m->name ? m->name : "");
        break;
    }
    return op;
}

nk_status nk_kv_crit_balance(ntkd_target *t, const nk_kv_log *l, nk_kv_balance **out, size_t *n)
{
    *out = NULL;
    *n = 0;
    nk_kv_balance *b = NULL;
    size_t nb = 0, cap = 0;
    /* oldest first so that `frame` ends as the most recent enter's */
    for (size_t k = l->n; k-- > 0;) {
        const nk_kv_entry *e = &l->e[k];
        char mod[64];
        uint64_t fr = 0;
        nk_kv_crit_op op = nk_kv_crit_classify(t, e, &fr, mod, sizeof mod);
        if (op == NK_KV_CRIT_UNKNOWN) continue;
        size_t i;
        for (i = 0; i < nb; i++)
            if (b[i].thread == e->thread && !strcasecmp(b[i].module, mod)) break;
        if (i == nb) {
            if (!nk_grow((void **)&b, &cap, nb + 1, sizeof *b)) {
                free(b);
                return NTKD_E_NOMEM;
            }
            memset(&b[nb], 0, sizeof b[nb]);
            b[nb].thread = e->thread;
            snprintf(b[nb].module, sizeof b[nb].module, "%s", mod);
            nb++;
        }
        if (op == NK_KV_CRIT_ENTER) {
            b[i].enters++;
            b[i].frame = fr;
        } else {
            b[i].leaves++;
            if (!b[i].frame) b[i].frame = fr;
        }
    }
    *out = b;
    *n = nb;
    return NTKD_OK;
}
