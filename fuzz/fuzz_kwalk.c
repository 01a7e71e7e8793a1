/* fuzz_kwalk.c: the kernel-object walkers (src/kobj) over a kernel scene dump with hostile
 * patches. At start-up the dump named by NTKD_KWALK_DUMP (e.g. one written by ntkd-genscene)
 * is read into memory and opened once, with the symbol path NTKD_KWALK_SYMPATH (the corpus's
 * "isf;symstore" directories); a first walk records the pages that hold the kernel's
 * structures (processes, threads, objects, directory entries, processors). Each input is a list
 * of patches (u16 page selector, u16 offset in the page, u8 length-1 (low 4 bits), bytes)
 * applied in place to those pages; then every walker runs (processes, threads, their registers,
 * wait objects and IRPs, processors, objects of every type, directories recursively, path
 * lookups, device stacks; Driver Verifier with the per-driver trackers; the pool: tracker
 * tables (per processor, session), big-pool table, pool pages, segment heaps (with the session
 * and special heaps, and !pool's locate of arbitrary addresses), special and session pool; the
 * memory manager's counters, PFN scan and per-process attribution, and its kernel-page classes
 * (module images, kernel stacks, pool regions: nk_mm_kmap_init / nk_mm_kclass / nk_mm_va_region))
 * and the patches are undone.
 * None may crash or hang.
 *
 * Without NTKD_KWALK_DUMP the target runs on an empty buffer (the open fails; nothing to walk),
 * and says so once on stderr. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "code/unwind.h"
#include "dump/dump.h"
#include "kobj/kobj.h"
#include "kobj/kobj_int.h"
#include "kobj/kverifier.h"
#include "kobj/kpool.h"
#include "kobj/kpool_seg.h"
#include "kobj/kpool_special.h"
#include "kobj/kmm.h"
#include "mem/mem.h"

#define MAX_HOT 4096u
#define MAX_PATCH 64u
#define CAP 16u

typedef struct fz {
    uint8_t *buf;
    size_t len;
    ntkd_ctx *ctx;
    ntkd_target *t;
    uint64_t hot[MAX_HOT]; /* file offsets of pages */
    size_t nhot;
    /* addresses found by the first walk, looked up again by every run */
    uint64_t special[16]; /* special-pool pages (and a few that are not) */
    size_t nspecial;
    uint64_t session[16]; /* session paged-pool addresses (inside, at the ends, just past) */
    size_t nsession;
    uint64_t segprobe[32]; /* addresses in and around the segment heaps */
    size_t nsegprobe;
} fz;

static fz G;

static void hot_va(uint64_t va)
{
    if (!G.t || G.nhot >= MAX_HOT) return;
    uint64_t pa, off;
    if (nk_vtop(G.t, va, &pa) != NTKD_OK || !nk_phys_page_off(&G.t->d, pa >> 12, &off)) return;
    for (size_t i = 0; i < G.nhot; i++)
        if (G.hot[i] == off) return;
    if (off + 0x1000 <= G.len) G.hot[G.nhot++] = off;
}

typedef struct walk {
    ntkd_target *t;
    bool record;
    unsigned budget;
    unsigned depth;
} walk;

static bool obj_cb(void *u, uint64_t body)
{
    walk *w = u;
    if (!w->budget) return false;
    w->budget--;
    nk_kobject o;
    if (w->record) hot_va(body);
    if (nk_k_object(w->t, body, &o) != NTKD_OK) return true;
    if (w->record) hot_va(o.header), hot_va(o.header - 1); /* the header and the optional ones */
    char path[256];
    nk_k_object_path(w->t, body, path, sizeof path);
    if (!strcmp(o.type_name, "Directory") && w->depth < 4) {
        w->depth++;
        nk_k_dir_each(w->t, body, obj_cb, w, NULL);
        w->depth--;
    } else if (!strcmp(o.type_name, "Driver")) {
        uint64_t devs[16], stk[16];
        char name[128];
        nk_k_driver_name(w->t, body, name, sizeof name);
        size_t n = nk_k_driver_devices(w->t, body, devs, 16);
        for (size_t i = 0; i < n; i++) {
            if (w->record) hot_va(devs[i]);
            nk_k_device_stack(w->t, devs[i], stk, 16);
            nk_k_device_driver_name(w->t, devs[i], name, sizeof name);
        }
    }
    return true;
}

static bool irp_cb(void *u, uint64_t irp, uint64_t thread)
{
    walk *w = u;
    (void)thread;
    if (w->record) hot_va(irp);
    return w->budget-- > 0;
}

static void add_addr(uint64_t *v, size_t *n, size_t cap, uint64_t a)
{
    for (size_t i = 0; i < *n; i++)
        if (v[i] == a) return;
    if (*n < cap) v[(*n)++] = a;
}

/* Pool pages (kpool.c): every page the scan finds is walked; the first ones are recorded. */
typedef struct pool_fz {
    ntkd_target *t;
    const nk_pool_walker *w;
    nk_pool_page *pg;
    bool record;
    unsigned n, nplain;
} pool_fz;

static bool pool_fz_page(void *u, uint64_t va, const uint8_t *page)
{
    pool_fz *p = u;
    if (p->record && G.nspecial < 16) { /* special pool pages for walk_special (kpool_special.c) */
        nk_special sp;
        if (nk_pool_special(p->t, va, &sp) == NTKD_OK) {
            if (sp.special) {
                hot_va(va);
                add_addr(G.special, &G.nspecial, 16, va + 0x800);
            } else if (p->nplain < 2) {
                p->nplain++;
                add_addr(G.special, &G.nspecial, 16, va);
            }
        }
    }
    if (!nk_pool_page_candidate(p->w, page)) return true;
    nk_pool_walk_with(p->w, va, page, p->pg);
    if (nk_pool_page_plausible(p->pg) && p->record && p->n < 16) {
        p->n++;
        hot_va(va);
    }
    return true;
}

/* ---- segment-heap pool (src/kobj/kpool_seg.c): every block of every heap; the segment
 * headers and the first subsegments are recorded ---- */
typedef struct seg_fz {
    nk_segpool *sp;
    bool record;
    unsigned n;
    uint64_t last_sub;
} seg_fz;

static bool seg_fz_block(void *u, const nk_seg_sub *sub, const nk_pool_block *b)
{
    seg_fz *p = u;
    if (sub->start == p->last_sub || p->n >= 32) return true;
    p->last_sub = sub->start;
    p->n++;
    if (p->record) {
        hot_va(sub->start);
        hot_va(sub->segment);
        hot_va(sub->segment + 0x1000);
    }
    /* the !pool path: locate a block of the subsegment and walk it again */
    nk_seg_loc loc;
    nk_seg_sub again;
    if (p->n <= 8 && nk_seg_locate(p->sp, b->addr, &loc) == NTKD_OK && nk_seg_walk_sub(p->sp, &loc, &again) == NTKD_OK)
        nk_seg_sub_free(&again);
    if (p->record) { /* arbitrary addresses for walk_segprobe: inside a block, the subsegment and
                      * segment headers, just past the subsegment */
        add_addr(G.segprobe, &G.nsegprobe, 32, b->addr + b->size / 2 + 3);
        add_addr(G.segprobe, &G.nsegprobe, 32, sub->start);
        add_addr(G.segprobe, &G.nsegprobe, 32, sub->segment + 0x10);
        add_addr(G.segprobe, &G.nsegprobe, 32, sub->start + sub->bytes);
    }
    return true;
}

/* ---- segment heap, an arbitrary address (kpool_seg.c: nk_seg_locate + nk_seg_walk_sub, the
 * !pool path), over the addresses the first walk noted and a few that are in no heap ---- */
static void walk_segprobe(nk_segpool *sp)
{
    static const uint64_t odd[] = {0, 0xffff800000000000ull, 0xfffffffffffff000ull, 0x80000000ull};
    for (size_t i = 0; i < G.nsegprobe + sizeof odd / sizeof odd[0]; i++) {
        uint64_t a = i < G.nsegprobe ? G.segprobe[i] : odd[i - G.nsegprobe];
        nk_seg_loc loc;
        nk_seg_sub sub;
        if (nk_seg_locate(sp, a, &loc) == NTKD_OK && nk_seg_walk_sub(sp, &loc, &sub) == NTKD_OK) nk_seg_sub_free(&sub);
    }
}

static void walk_mm(ntkd_target *t, bool record);
static void walk_kmap(ntkd_target *t, bool record);

/* Marks a global, and optionally the page its pointer value names (+ off), as hot. */
static void hot_global(ntkd_target *t, const char *name, bool deref, uint64_t off)
{
    uint64_t va, p;
    if (nk_k_global(t, name, &va) != NTKD_OK) return;
    hot_va(va);
    if (deref && nk_read_ptr(t, va, &p) == NTKD_OK && p) hot_va(p + off);
}

/* ---- special pool and session pool (src/kobj/kpool_special.c: the region tables of each build,
 * the special-pool header of a page, the session whose paged pool holds an address) ---- */
static void walk_special(ntkd_target *t, bool record)
{
    if (record) {
        nk_kfield f;
        uint64_t off = 0, msp, buf;
        hot_global(t, "MiVisibleState", true,
                   nk_k_field(t, "_MI_VISIBLE_STATE", "SystemVaType", &f) == NTKD_OK ? f.off : 0);
        hot_global(t, "MmSpecialPoolStart", false, 0);
        hot_global(t, "MmSpecialPoolEnd", false, 0);
        hot_global(t, "MiSpecialPool", false, 0);
        if (nk_k_global(t, "MiSpecialPool", &msp) == NTKD_OK &&
            nk_k_offset(t, "_MI_SPECIAL_POOL", "SpecialPoolPdes", &off) == NTKD_OK &&
            nk_k_read(t, msp + off, "_RTL_BITMAP", "Buffer", &buf) == NTKD_OK && buf)
            hot_va(buf);
        if (nk_k_global(t, "ExPoolState", &msp) == NTKD_OK &&
            nk_k_offset(t, "_EX_POOL_HEAP_MANAGER_STATE", "SpecialHeaps", &off) == NTKD_OK)
            hot_va(msp + off);
        /* the sessions: their _MM_SESSION_SPACE fields and addresses of their paged pool */
        nk_kproc *ps = NULL;
        size_t np = 0;
        nk_k_processes(t, &ps, &np, NULL);
        static const char *const sf[] = {"PagedPoolStart", "PagedPoolEnd", "SessionId", "HeapState", "PoolTags",
                                         "PoolTrackTableExpansion", "CommittedPages"};
        for (size_t i = 0; i < np && G.nsession < 12; i++) {
            uint64_t s = 0, lo = 0, hi = 0;
            if (nk_k_read(t, ps[i].addr, "_EPROCESS", "Session", &s) != NTKD_OK || !s) continue;
            for (size_t k = 0; k < sizeof sf / sizeof sf[0]; k++)
                if (nk_k_offset(t, "_MM_SESSION_SPACE", sf[k], &off) == NTKD_OK) hot_va(s + off);
            if (nk_k_read(t, s, "_MM_SESSION_SPACE", "PagedPoolStart", &lo) != NTKD_OK ||
                nk_k_read(t, s, "_MM_SESSION_SPACE", "PagedPoolEnd", &hi) != NTKD_OK || !lo || hi < lo)
                continue;
            add_addr(G.session, &G.nsession, 16, lo);
            add_addr(G.session, &G.nsession, 16, lo + (hi - lo) / 2);
            add_addr(G.session, &G.nsession, 16, hi);
            add_addr(G.session, &G.nsession, 16, hi + 1);
        }
        free(ps);
    }
    for (size_t i = 0; i < G.nspecial; i++) {
        nk_special sp;
        nk_pool_special(t, G.special[i], &sp);
    }
    for (size_t i = 0; i < G.nsession; i++) {
        nk_session_hit h;
        nk_pool_session_of(t, G.session[i], &h, NULL);
    }
}

/* ---- pool tracker tables besides PoolTrackTable (src/kobj/kpool.c: nk_pool_tags_ex with the
 * per-processor tables of nt!ExPoolTagTables, nk_pool_session_tags with the session's table) ---- */
static void walk_pooltags(ntkd_target *t, bool record)
{
    if (record) {
        uint64_t arr, tab;
        hot_global(t, "ExPoolTagTables", false, 0);
        hot_global(t, "ExpSessionPoolTrackTable", true, 0);
        hot_global(t, "ExpSessionPoolTrackTableSize", false, 0);
        unsigned ps = nk_k_ptrsize(t);
        if (nk_k_global(t, "ExPoolTagTables", &arr) == NTKD_OK)
            for (unsigned cpu = 0; cpu < 4 && cpu < nk_k_ncpu(t); cpu++)
                if (nk_read_ptr(t, arr + (uint64_t)cpu * ps, &tab) == NTKD_OK && tab) hot_va(tab);
    }
    nk_pool_tag *tags = NULL;
    size_t ntags = 0;
    nk_pool_track_info ti;
    if (nk_pool_tags_ex(t, &tags, &ntags, &ti, NULL) == NTKD_OK) free(tags);
    nk_pool_session_info si;
    tags = NULL;
    if (nk_pool_session_tags(t, &tags, &ntags, &si, NULL) == NTKD_OK) {
        free(tags);
        if (record && si.table) hot_va(si.table), hot_va(si.session);
    }
}

static void walk_all(ntkd_target *t, bool record)
{
    walk w = {.t = t, .record = record, .budget = 4096};
    unsigned n = nk_k_ncpu(t);
    for (unsigned i = 0; i < n && i < CAP; i++) {
        uint64_t prcb, pcr;
        if (nk_k_prcb(t, i, &prcb) == NTKD_OK && record) hot_va(prcb);
        nk_k_pcr(t, i, &pcr);
    }
    nk_kproc *ps = NULL;
    size_t np = 0;
    nk_strbuf why = {0};
    nk_k_processes(t, &ps, &np, &why);
    nk_sb_free(&why);
    for (size_t i = 0; i < np && i < CAP; i++) {
        if (record) hot_va(ps[i].addr);
        nk_kproc p;
        nk_k_process_read(t, ps[i].addr, &p);
        nk_kobject o;
        nk_k_object(t, ps[i].addr, &o);
        nk_kthread *th = NULL;
        size_t nt = 0;
        nk_k_threads(t, ps[i].addr, &th, &nt, NULL);
        for (size_t k = 0; k < nt && k < CAP; k++) {
            if (record) hot_va(th[k].addr), hot_va(th[k].kernel_stack);
            nk_kthread x;
            nk_k_thread_read(t, th[k].addr, &x);
            uint64_t objs[8];
            nk_k_wait_objects(t, th[k].addr, objs, 8);
            nk_k_thread_irps(t, th[k].addr, irp_cb, &w, NULL);
            nk_uregs r;
            nk_k_thread_regs(t, th[k].addr, &r);
            uint64_t et;
            if (k == 0 && i < 2) nk_k_thread_of_stack(t, th[k].kernel_stack, &et);
        }
        free(th);
    }
    free(ps);
    static const char *const types[] = {"Type", "Directory", "SymbolicLink", "Process", "Thread", "Event",
                                        "Driver", "Device", "File", "Key", "Mutant", "Semaphore", NULL};
    for (size_t i = 0; types[i]; i++) {
        uint64_t ty;
        if (nk_k_object_type(t, types[i], &ty) != NTKD_OK) continue;
        if (record) hot_va(ty);
        w.budget = record ? 1024 : 48;
        nk_k_objects_of_type(t, ty, obj_cb, &w, NULL);
    }
    uint64_t root;
    if (nk_k_lookup(t, "\\", &root) == NTKD_OK) {
        w.budget = record ? 4096 : 128;
        nk_k_dir_each(t, root, obj_cb, &w, NULL);
    }
    nk_k_lookup(t, "\\Driver\\usbhub", &root);
    nk_k_lookup(t, "\\ObjectTypes\\Device", &root);

    /* ---- Driver Verifier (src/kobj/kverifier.c: verified drivers, logs, gflag) ---- */
    {
        nk_kv_state vs;
        if (nk_kv_read(t, &vs) == NTKD_OK) {
            if (record) hot_va(vs.data_va);
            for (size_t i = 0; i < vs.ndrv && i < 8; i++) {
                if (record) hot_va(vs.drv[i].entry);
                if (record && vs.drv[i].data) hot_va(vs.drv[i].data);
                /* the outstanding allocations (XP: PoolHash; Vista+: the tracker pages of the
                 * per-driver data, whose entries are recorded) */
                nk_kv_alloc *al = NULL;
                size_t na = 0;
                nk_kv_track tr;
                if (nk_kv_allocs2(t, &vs.drv[i], &al, &na, NULL, &tr) == NTKD_OK) {
                    for (size_t k = 0; record && k < na && k < 64; k++) hot_va(al[k].entry);
                    free(al);
                }
            }
        }
        nk_kv_free(&vs);
        static const char *const vglobals[] = {"VfKeCriticalRegionTracesIndex", "VfPoolTracesIndex",
                                               "IovIrpTracesIndex", "VfSuspectDriversList", "MiSuspectDriverList"};
        for (size_t i = 0; record && i < sizeof vglobals / sizeof vglobals[0]; i++) {
            uint64_t va;
            if (nk_k_global(t, vglobals[i], &va) == NTKD_OK) hot_va(va);
        }
        for (int k = NK_KV_LOG_POOL; k <= NK_KV_LOG_CRIT; k++) {
            nk_kv_log l;
            if (nk_kv_log_read(t, (nk_kv_logkind)k, &l) == NTKD_OK) {
                if (record && l.array) hot_va(l.array);
                nk_kv_balance *b = NULL;
                size_t nb = 0;
                if (k == NK_KV_LOG_CRIT && nk_kv_crit_balance(t, &l, &b, &nb) == NTKD_OK) free(b);
            }
            nk_kv_log_free(&l);
        }
        uint32_t g;
        nk_kv_gflag(t, &g);
    }

    /* ---- pool (src/kobj/kpool.c: tracker and big-pool tables, pool pages) ---- */
    {
        static const char *const pglobals[] = {"PoolTrackTable", "PoolTrackTableSize", "PoolBigPageTable",
                                               "PoolBigPageTableSize", "PoolTrackTableExpansion"};
        for (size_t i = 0; record && i < sizeof pglobals / sizeof pglobals[0]; i++) {
            uint64_t va, p;
            if (nk_k_global(t, pglobals[i], &va) != NTKD_OK) continue;
            hot_va(va);
            if (i % 2 == 0 && nk_read_ptr(t, va, &p) == NTKD_OK && p) hot_va(p);
        }
        /* the tracker tables: walk_pooltags (nk_pool_tags is nk_pool_tags_ex without info) */
        nk_pool_bigtab bt;
        if (nk_pool_big_table(t, &bt, NULL) == NTKD_OK) nk_pool_bigtab_free(&bt);
        nk_pool_walker pw;
        nk_pool_page *pg = malloc(sizeof *pg);
        if (pg && nk_pool_walker_init(t, &pw) == NTKD_OK) {
            pool_fz pf = {.t = t, .w = &pw, .pg = pg, .record = record};
            nk_pool_scan_kernel_pages(t, pool_fz_page, &pf, NULL, NULL);
        }
        free(pg);
    }

    /* ---- segment-heap pool (src/kobj/kpool_seg.c: heaps, segments, VS/LFH subsegments) ---- */
    {
        nk_segpool *sp = malloc(sizeof *sp);
        if (sp && nk_seg_init(t, sp, NULL) == NTKD_OK) {
            if (record) {
                uint64_t va;
                if (nk_k_global(t, "ExPoolState", &va) == NTKD_OK) hot_va(va + sp->node_off);
            }
            /* the session and special-pool heaps besides ExPoolState's (kpool_seg.c) */
            nk_seg_add_session_heaps(sp, NULL);
            nk_seg_add_special_heaps(sp, NULL);
            for (size_t i = 0; record && i < sp->nheaps; i++) hot_va(sp->heaps[i].heap);
            seg_fz sf = {.sp = sp, .record = record};
            nk_seg_each_block(sp, seg_fz_block, &sf, NULL, NULL);
            walk_segprobe(sp);
        }
        free(sp);
    }

    walk_pooltags(t, record);
    walk_special(t, record);
    walk_mm(t, record);
    walk_kmap(t, record);
}

/* ---- memory manager (src/kobj/kmm.c: counters and sessions, the PFN scan and the PteFrame
 * chains that attribute pages to processes) ---- */
typedef struct mm_fz {
    ntkd_target *t;
    const nk_mm_pfndb *db;
    nk_mm_owners *ow;
    bool record;
} mm_fz;

static bool mm_fz_page(void *u, const nk_mmpfn *e)
{
    mm_fz *m = u;
    if (!nk_mm_process_page(e)) return true;
    uint32_t w = nk_mm_page_owner(m->t, m->db, m->ow, e);
    if (m->record && w != NK_MM_OWNER_NONE) {
        hot_va(m->db->base + e->pfn * m->db->esz);
        if (e->pte_frame <= m->db->highest) hot_va(m->db->base + e->pte_frame * m->db->esz);
    }
    return true;
}

static void walk_mm(ntkd_target *t, bool record)
{
    nk_mmvm vm;
    nk_mm_counters(t, &vm);
    nk_mm_pfndb db;
    if (nk_mm_pfndb_get(t, &db) != NTKD_OK) return;
    nk_mm_owners ow;
    if (nk_mm_owners_init(t, &db, &ow, NULL) == NTKD_OK) {
        mm_fz m = {.t = t, .db = &db, .ow = &ow, .record = record};
        nk_mm_scan_stats st;
        nk_mm_scan(t, &db, mm_fz_page, &m, NULL, NULL, &st);
        uint64_t tb[NK_MM_NLISTS + 1] = {0};
        for (size_t i = 0; i < ow.nprocs; i++) nk_mm_owner_tables(&ow, (uint32_t)i, tb);
    }
    nk_mm_owners_free(&ow);
}

/* ---- memory manager: kernel pages by what they map (src/kobj/kmm.c: nk_mm_kmap_init with the
 * module list, the threads' kernel stacks, the pool regions by SystemVaType or the range globals;
 * nk_mm_kclass on every page of a PFN scan; nk_mm_va_region with and without the table) ---- */
typedef struct kmap_fz {
    ntkd_target *t;
    const nk_mm_kmap *km;
    uint64_t n[NK_MM_K_N];
} kmap_fz;

static bool kmap_fz_page(void *u, const nk_mmpfn *e)
{
    kmap_fz *k = u;
    size_t mod = SIZE_MAX;
    unsigned c = nk_mm_kclass(k->t, k->km, e, &mod);
    if (c >= NK_MM_K_N || (c == NK_MM_K_DRIVER && mod >= k->km->nmods)) abort(); /* a class or module out of range */
    k->n[c]++;
    return true;
}

static void walk_kmap(ntkd_target *t, bool record)
{
    if (record) {
        hot_global(t, "MiVisibleState", true, 0);
        hot_global(t, "MmPagedPoolInfo", false, 0);
        hot_global(t, "MmNonPagedPoolStart", false, 0);
        hot_global(t, "MiNonPagedPoolEnd", false, 0);
        hot_global(t, "MmPagedPoolEnd", false, 0);
    }
    nk_mm_pfndb db;
    if (nk_mm_pfndb_get(t, &db) != NTKD_OK) return;
    nk_mm_kmap km;
    if (nk_mm_kmap_init(t, &km) == NTKD_OK) {
        if (km.nmods > NK_MM_KMAP_MAX_MODS || km.nstacks > NK_MM_KMAP_MAX_STACKS || km.npaged > 2 || km.nnonpaged > 3 ||
            !memchr(km.note, 0, sizeof km.note))
            abort(); /* the map's bounds */
        kmap_fz k = {.t = t, .km = &km};
        nk_mm_scan_stats st;
        nk_mm_scan(t, &db, kmap_fz_page, &k, NULL, NULL, &st);
    }
    nk_mm_kmap_free(&km);
    /* the SystemVaType lookup shared with the special-pool check, table and one-byte forms */
    nk_mm_vatab tab;
    bool have = nk_mm_va_table(t, &tab) == NTKD_OK;
    static const uint64_t probe[] = {0, 0x7fffffffffffull, 0xffff800000000000ull, 0xfffff80000000000ull,
                                     0xffffc00000000000ull, 0xffffffffffffffffull};
    for (size_t i = 0; i < sizeof probe / sizeof probe[0]; i++) {
        nk_mm_varegion r;
        nk_mm_va_region(t, NULL, probe[i], &r);
        if (r.in_table && (r.index > 255 || !memchr(r.name, 0, sizeof r.name))) abort();
        if (have) {
            nk_mm_va_region(t, &tab, probe[i], &r);
            if (r.in_table && r.index >= tab.n) abort();
        }
    }
}

/* Forgets what the layer learnt from memory (processors, object globals). */
static void reset_layer(ntkd_target *t)
{
    nk_kstate_forget_memory(t);
    t->selfmap_known = false;
    memset(t->pt_cache, 0, sizeof t->pt_cache);
}

int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    (void)argc;
    (void)argv;
    const char *path = getenv("NTKD_KWALK_DUMP");
    if (!path) {
        fprintf(stderr, "fuzz_kwalk: set NTKD_KWALK_DUMP to a kernel scene dump (ntkd-genscene) and "
                        "NTKD_KWALK_SYMPATH to its symbol path; running on nothing\n");
        return 0;
    }
    FILE *f = fopen(path, "rb");
    if (!f) return 0;
    fseek(f, 0, SEEK_END);
    long n = ftell(f);
    fseek(f, 0, SEEK_SET);
    G.buf = malloc(n > 0 ? (size_t)n : 1);
    if (!G.buf || fread(G.buf, 1, (size_t)n, f) != (size_t)n) {
        fclose(f);
        free(G.buf);
        G.buf = NULL;
        return 0;
    }
    fclose(f);
    G.len = (size_t)n;
    G.ctx = ntkd_ctx_new();
    ntkd_open_opts o = {.sympath = getenv("NTKD_KWALK_SYMPATH")};
    if (ntkd_open_mem(G.ctx, "scene.dmp", G.buf, G.len, &o, &G.t) != NTKD_OK) {
        fprintf(stderr, "fuzz_kwalk: %s: %s\n", path, ntkd_ctx_error(G.ctx));
        G.t = NULL;
        return 0;
    }
    walk_all(G.t, true);
    fprintf(stderr,
            "fuzz_kwalk: %zu pages of kernel structures to patch; %zu pool addresses for the special-pool, "
            "%zu for the session-pool and %zu for the segment-heap lookups\n",
            G.nhot, G.nspecial, G.nsession, G.nsegprobe);
    return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (!G.t || !G.nhot) return 0;
    uint8_t saved[MAX_PATCH][16];
    uint64_t where[MAX_PATCH];
    uint8_t lens[MAX_PATCH];
    size_t np = 0, i = 0;
    while (np < MAX_PATCH && i + 5 <= size) {
        uint16_t sel = (uint16_t)(data[i] | data[i + 1] << 8);
        uint16_t po = (uint16_t)((data[i + 2] | data[i + 3] << 8) & 0xfff);
        uint8_t len = (uint8_t)((data[i + 4] & 0xf) + 1);
        i += 5;
        if (i + len > size) len = (uint8_t)(size - i);
        if (!len) break;
        uint64_t off = G.hot[sel % G.nhot] + po;
        if (off + len > G.len) len = (uint8_t)(G.len - off);
        memcpy(saved[np], G.buf + off, len);
        memcpy(G.buf + off, data + i, len);
        where[np] = off;
        lens[np] = len;
        np++;
        i += len;
    }
    reset_layer(G.t);
    walk_all(G.t, false);
    /* undo, newest first (patches may overlap) */
    while (np-- > 0) memcpy(G.buf + where[np], saved[np], lens[np]);
    reset_layer(G.t);
    return 0;
}
