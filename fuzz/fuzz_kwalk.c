/* fuzz_kwalk.c: the kernel-object walkers (src/kobj) over a kernel scene dump with hostile
 * patches. At start-up the dump named by NTKD_KWALK_DUMP (e.g. one written by ntkd-genscene)
 * is read into memory and opened once, with the symbol path NTKD_KWALK_SYMPATH (the corpus's
 * "isf;symstore" directories); a first walk records the pages that hold the kernel's
 * structures (processes, threads, objects, directory entries, processors). Each input is a list
 * of patches (u16 page selector, u16 offset in the page, u8 length-1 (low 4 bits), bytes)
 * applied in place to those pages; then every walker runs (processes, threads, their registers,
 * wait objects and IRPs, processors, objects of every type, directories recursively, path
 * lookups, device stacks) and the patches are undone. None may crash or hang.
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

/* Pool pages (kpool.c): every page the scan finds is walked; the first ones are recorded. */
typedef struct pool_fz {
    const nk_pool_walker *w;
    nk_pool_page *pg;
    bool record;
    unsigned n;
} pool_fz;

static bool pool_fz_page(void *u, uint64_t va, const uint8_t *page)
{
    pool_fz *p = u;
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
    return true;
}

static void walk_mm(ntkd_target *t, bool record);

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
                nk_kv_alloc *al = NULL;
                size_t na = 0;
                if (nk_kv_allocs(t, &vs.drv[i], &al, &na, NULL) == NTKD_OK) free(al);
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
        nk_pool_tag *tags = NULL;
        size_t ntags = 0;
        if (nk_pool_tags(t, &tags, &ntags, NULL) == NTKD_OK) free(tags);
        nk_pool_bigtab bt;
        if (nk_pool_big_table(t, &bt, NULL) == NTKD_OK) nk_pool_bigtab_free(&bt);
        nk_pool_walker pw;
        nk_pool_page *pg = malloc(sizeof *pg);
        if (pg && nk_pool_walker_init(t, &pw) == NTKD_OK) {
            pool_fz pf = {.w = &pw, .pg = pg, .record = record};
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
                for (size_t i = 0; i < sp->nheaps; i++) hot_va(sp->heaps[i].heap);
            }
            seg_fz sf = {.sp = sp, .record = record};
            nk_seg_each_block(sp, seg_fz_block, &sf, NULL, NULL);
        }
        free(sp);
    }

    walk_mm(t, record);
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
    fprintf(stderr, "fuzz_kwalk: %zu pages of kernel structures to patch\n", G.nhot);
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
