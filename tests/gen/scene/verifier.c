/* verifier.c: Driver Verifier scenes (seeds 001, 003, 004).
 *
 *   verifier  verifier enabled at level 0xc1b: nt!MmVerifierData with its counters, two verified
 *             drivers with pool usage (Vista and later: VfSuspectDriversList + the target-driver
 *             AVL tree ViTargetDriversAvl with _VF_TARGET_VERIFIED_DRIVER_DATA; XP:
 *             MiSuspectDriverList of _MI_VERIFIER_DRIVER_ENTRY with its PoolHash), the pool
 *             allocate/free log (VfPoolTraces), the IRP log (IovIrpTraces, builds whose table
 *             has _IOV_IRP_TRACE) and the critical-region log (VfKeCriticalRegionTraces);
 *             bug check 0xE2.
 *   apc       bug check 0x20 (KERNEL_APC_PENDING_DURING_EXIT): a System worker exits with
 *             KernelApcDisable -1; the critical-region log shows BadDriver.sys entering a
 *             critical region on that thread without leaving it, Suspect.sys balanced (seed 004).
 *   apcmismatch bug check 0x1 (APC_INDEX_MISMATCH): a csrss thread returns from the system call
 *             NtDeviceIoControlFile with KernelApcDisable -1 (P1 the system function, P2 the
 *             thread's ApcStateIndex, P3 its combined SpecialApcDisable << 16 | KernelApcDisable,
 *             P4 0: a system call); the critical-region log shows BadDriver.sys entering a
 *             critical region on that thread (from its pre-read callback under fltmgr, inside the
 *             ioctl) without leaving it, Suspect.sys balanced. Manifest `apc_index <n>`.
 *   iover     bug check 0xC4/0xC5 (I/O verification: APC disable count changed by a dispatch
 *             routine, fltmgr!FltpDispatch); the log names BadDriver.sys (seed 004).
 * Every structure is laid out with the table's offsets; a build that lacks a log gets none
 * (manifest `vlog_absent`). Hostile variants: cycle/all (cyclic verified-driver list, a
 * critical-region log index past the end, a cyclic AVL node), missing (the pool log's array
 * left out of the dump).
 *
 * ---- Per-driver allocation trackers (Vista and later): the contract with the reader ----
 * Windows 7 and later keep each verified driver's outstanding allocations in pages of
 * _VI_POOL_ENTRY reached from its _VF_TARGET_VERIFIED_DRIVER_DATA (the type names and fields are
 * public in the kernel's symbols; how the pages are used is not documented, so what follows is
 * this generator's choice, and the reader, src/kobj/kverifier.c, relies on nothing else):
 *   - PoolPageHeaders (_SLIST_HEADER) lists the driver's tracker pages: each a page-aligned
 *     4 KiB page holding PAGE/sizeof(_VI_POOL_ENTRY) entries; entry 0 is the page header
 *     (_VI_POOL_PAGE_HEADER: NextPage links to the next page's entry 0, 0 ends; VerifierEntry is
 *     the driver's _VF_TARGET_VERIFIED_DRIVER_DATA; Signature is not written and not read).
 *   - PoolTrackers (_SLIST_HEADER) lists the free entries, linked through NextFree (the address
 *     of the next free entry, 0 ends). A free entry may keep stale InUse data after its link.
 *   - Every other entry 1..N-1 of a tracker page is in use: InUse.VirtualAddress (the block),
 *     NumberOfBytes, Tag, CallingAddress.
 *   - The SLIST headers are written as the build's type has them: HeaderX64.NextEntry (address
 *     >> 4) and Depth; Header16 (Windows 7) with HeaderType 1; x86: Next.Next and Depth. Depth
 *     holds the number of entries on the list.
 * Manifest: `valloc <file> <va> <size> <tag> <caller> <entry>` per in-use entry, `vtrackpage
 * <file> <page>` per tracker page, `vtrack <file> <pages> <inuse> <free>`. Hostile: cycle (the
 * first driver's last page links back to its first; its PoolPageHeaders Depth 0xffff: `hostile
 * vtrack_cycle <page>`), missing (the first driver's second tracker page left out of the dump:
 * `hostile vtrack_missing <page>`). */
#include <stdlib.h>
#include <string.h>

#include "scene.h"

typedef struct vscn {
    kern *k;
    world *w;
    const lay *L;
    const sc_base *b;
    unsigned ptr;
    uint32_t next_tid;
    const char *name;
    bool hostile_cycle, hostile_missing;
} vscn;

/* First nt function of "A|B|C" the table has, given code; 0 when none. */
static uint64_t ntf(vscn *s, const char *alts)
{
    char buf[256];
    snprintf(buf, sizeof buf, "%s", alts);
    for (char *save = NULL, *n = strtok_r(buf, "|", &save); n; n = strtok_r(NULL, "|", &save))
        if (k_sym_opt(s->k, n) != SC_NONE)
            return k_nt_func(s->k, n);
    return 0;
}

typedef struct vstk {
    uint64_t r[24];
    size_t n;
} vstk;

static void vpush(vstk *st, uint64_t fn, unsigned off, vscn *s)
{
    if (!fn || st->n >= sizeof st->r / sizeof st->r[0])
        return;
    st->r[st->n++] = k_ret(s->k, fn, off);
}

static void vpush_nt(vscn *s, vstk *st, const char *alts, unsigned off)
{
    vpush(st, ntf(s, alts), off, s);
}

static void vpush_drv(vscn *s, vstk *st, const char *mod, const char *fn, unsigned off)
{
    vpush(st, k_func(s->k, mod, fn), off, s);
}

static void vpush_start(vscn *s, vstk *st)
{
    vpush_nt(s, st, "PspSystemThreadStartup", 0x5a);
    vpush_nt(s, st, "KiStartSystemThread|KiThreadStartup", 0x16);
}

static uint64_t vthread(vscn *s, uint64_t proc, unsigned state, const vstk *st)
{
    uint32_t tid = s->next_tid;
    s->next_tid += 4;
    unsigned wr = 0;
    if (state == 5) {
        int64_t v;
        wr = lay_enum(s->L, "_KWAIT_REASON", "WrQueue", &v) ? (unsigned)v : 15;
    }
    return k_thread(s->k, proc, tid, state, wr, st->r, st->n);
}

/* Writes a stack trace array field (pointer array) of `n` slots. */
static void put_stack(vscn *s, uint64_t at, size_t slots, const vstk *st)
{
    for (size_t i = 0; i < slots && i < st->n; i++)
        w_pointer(s->w, at + i * s->ptr, st->r[i]);
}

static uint64_t fld(vscn *s, const char *type, const char *field)
{
    return lay_off_req(s->L, type, field);
}

/* Number of pointer slots of an array field. */
static size_t slots_of(vscn *s, const char *type, const char *field)
{
    uint64_t off, size;
    unsigned bp, bl;
    if (!lay_field(s->L, type, field, &off, &size, &bp, &bl))
        sc_die("the table has no field %s.%s", type, field);
    return (size_t)(size / s->ptr);
}

/* A global ULONG when the table has it. */
static void put_u32_sym(vscn *s, const char *name, uint32_t v)
{
    uint64_t va = k_sym_opt(s->k, name);
    if (va != SC_NONE)
        w_put(s->w, va, 4, v);
}

/* ------------------------------------------------------------------ verified drivers */
typedef struct vdrv {
    const char *file;
    uint64_t base, size;
    uint32_t loads, unloads;
    uint32_t cur_paged, cur_np, peak_paged, peak_np;
    uint64_t paged, np, peak_paged_b, peak_np_b;
    uint64_t entry; /* suspect entry / XP verifier entry */
} vdrv;

typedef struct vpalloc {
    uint64_t va, size, tag, caller;
} vpalloc;

static uint64_t image_size_of(vscn *s, uint64_t base)
{
    /* SizeOfImage of the module's PsLoadedModuleList entry (the list nt.c keeps) */
    const char *T = lay_has_type(s->L, "_KLDR_DATA_TABLE_ENTRY") ? "_KLDR_DATA_TABLE_ENTRY" : "_LDR_DATA_TABLE_ENTRY";
    uint64_t head = k_sym(s->k, "PsLoadedModuleList");
    uint64_t links = lay_off_req(s->L, T, "InLoadOrderLinks");
    uint64_t e = w_get(s->w, head, s->ptr);
    for (int i = 0; i < 512 && e && e != head; i++) {
        uint64_t ent = e - links;
        if (w_field(s->w, ent, T, "DllBase") == base)
            return w_field(s->w, ent, T, "SizeOfImage");
        e = w_get(s->w, e, s->ptr);
    }
    sc_die("verifier: no PsLoadedModuleList entry for the image at %#llx", (unsigned long long)base);
}

static void mmverifier_data(vscn *s, uint32_t level, const vdrv *d, size_t nd)
{
    uint64_t v = k_sym(s->k, "MmVerifierData");
    const char *T = "_MM_DRIVER_VERIFIER_DATA";
    uint64_t cp = 0, cn = 0, pp = 0, pn = 0, pb = 0, nb = 0, ppb = 0, pnb = 0;
    for (size_t i = 0; i < nd; i++) {
        cp += d[i].cur_paged, cn += d[i].cur_np, pp += d[i].peak_paged, pn += d[i].peak_np;
        pb += d[i].paged, nb += d[i].np, ppb += d[i].peak_paged_b, pnb += d[i].peak_np_b;
    }
    static const struct {
        const char *f;
        uint32_t v;
    } c[] = {{"RaiseIrqls", 0x1c2}, {"AcquireSpinLocks", 0x5a7}, {"SynchronizeExecutions", 0x3},
             {"AllocationsAttempted", 0x1d}, {"AllocationsSucceeded", 0x1b},
             {"AllocationsSucceededSpecialPool", 0x12}, {"AllocationsWithNoTag", 0x1},
             {"TrimRequests", 0x4}, {"Trims", 0x2}, {"AllocationsFailed", 0x2},
             {"AllocationsFailedDeliberately", 0x1}, {"UnTrackedPool", 0}, {"UserTrims", 0}};
    w_set(s->w, v, T, "Level", level);
    mf("verifier_level %#x", level);
    for (size_t i = 0; i < sizeof c / sizeof c[0]; i++)
        if (w_try(s->w, v, T, c[i].f, c[i].v))
            mf("vstat %s %#x", c[i].f, c[i].v);
    w_try(s->w, v, T, "Loads", (uint32_t)nd);
    w_try(s->w, v, T, "Unloads", 0);
    w_set(s->w, v, T, "CurrentPagedPoolAllocations", cp);
    w_set(s->w, v, T, "CurrentNonPagedPoolAllocations", cn);
    w_set(s->w, v, T, "PeakPagedPoolAllocations", pp);
    w_set(s->w, v, T, "PeakNonPagedPoolAllocations", pn);
    w_set(s->w, v, T, "PagedBytes", pb);
    w_set(s->w, v, T, "NonPagedBytes", nb);
    w_set(s->w, v, T, "PeakPagedBytes", ppb);
    w_set(s->w, v, T, "PeakNonPagedBytes", pnb);
    mf("vstat CurrentPagedPoolAllocations %#llx", (unsigned long long)cp);
    mf("vstat CurrentNonPagedPoolAllocations %#llx", (unsigned long long)cn);
    mf("vstat PagedBytes %#llx", (unsigned long long)pb);
    mf("vstat NonPagedBytes %#llx", (unsigned long long)nb);
    put_u32_sym(s, "MmVerifyDriverLevel", level);
    put_u32_sym(s, "MmVerifyDriverBufferLength", 0x200);
}

/* XP: MiSuspectDriverList of _MI_VERIFIER_DRIVER_ENTRY, each with its PoolHash table. */
static void xp_drivers(vscn *s, vdrv *d, size_t nd, const vpalloc *const *al, const size_t *nal)
{
    const char *T = "_MI_VERIFIER_DRIVER_ENTRY";
    uint64_t head = k_sym(s->k, "MiSuspectDriverList");
    w_list_init(s->w, head);
    uint64_t esz = lay_size(s->L, T), psz = lay_size(s->L, "_VI_POOL_ENTRY");
    uint64_t links = fld(s, T, "Links");
    for (size_t i = 0; i < nd; i++) {
        uint64_t e = w_alloc(s->w, esz, 0);
        d[i].entry = e;
        w_list_tail(s->w, head, e + links);
        w_set(s->w, e, T, "Loads", d[i].loads);
        w_set(s->w, e, T, "Unloads", d[i].unloads);
        w_ustr(s->w, e + fld(s, T, "BaseName"), d[i].file);
        w_set(s->w, e, T, "StartAddress", d[i].base);
        w_set(s->w, e, T, "EndAddress", d[i].base + d[i].size);
        w_set(s->w, e, T, "CurrentPagedPoolAllocations", d[i].cur_paged);
        w_set(s->w, e, T, "CurrentNonPagedPoolAllocations", d[i].cur_np);
        w_set(s->w, e, T, "PeakPagedPoolAllocations", d[i].peak_paged);
        w_set(s->w, e, T, "PeakNonPagedPoolAllocations", d[i].peak_np);
        w_set(s->w, e, T, "PagedBytes", d[i].paged);
        w_set(s->w, e, T, "NonPagedBytes", d[i].np);
        w_set(s->w, e, T, "PeakPagedBytes", d[i].peak_paged_b);
        w_set(s->w, e, T, "PeakNonPagedBytes", d[i].peak_np_b);
        /* PoolHash: in-use entries hold the allocation; free slots chain by index (a small
         * number, never a system address) */
        size_t hsz = nal[i] + 3;
        uint64_t hash = w_alloc(s->w, hsz * psz, 0);
        w_set(s->w, e, T, "PoolHash", hash);
        w_set(s->w, e, T, "PoolHashSize", hsz);
        w_set(s->w, e, T, "PoolHashFree", nal[i]);
        for (size_t j = 0; j < hsz; j++) {
            uint64_t pe = hash + j * psz;
            if (j < nal[i]) {
                const vpalloc *a = &al[i][j];
                w_set(s->w, pe, "_VI_POOL_ENTRY", "InUse.VirtualAddress", a->va);
                w_set(s->w, pe, "_VI_POOL_ENTRY", "InUse.CallingAddress", a->caller);
                w_set(s->w, pe, "_VI_POOL_ENTRY", "InUse.NumberOfBytes", a->size);
                w_set(s->w, pe, "_VI_POOL_ENTRY", "InUse.Tag", a->tag);
                mf("valloc %s %#llx %#llx %#llx %#llx %#llx", d[i].file, (unsigned long long)a->va,
                   (unsigned long long)a->size, (unsigned long long)a->tag,
                   (unsigned long long)a->caller, (unsigned long long)pe);
            } else {
                w_set(s->w, pe, "_VI_POOL_ENTRY", "FreeListNext", j + 1 < hsz ? j + 1 : 0xffffffffu);
            }
        }
    }
    if (s->hostile_cycle && nd >= 2) {
        /* the last entry's Flink points back at the first entry, not the head */
        w_pointer(s->w, d[nd - 1].entry + links, d[0].entry + links);
        mf("hostile vlist_cycle %#llx", (unsigned long long)(d[nd - 1].entry + links));
    }
}

/* An SLIST header at h: first entry `first` (0: empty), `depth` entries. */
static void put_slist(vscn *s, uint64_t h, uint64_t first, uint64_t depth)
{
    const char *SH = "_SLIST_HEADER";
    if (w_try(s->w, h, SH, "HeaderX64.NextEntry", first >> 4)) {
        w_set(s->w, h, SH, "HeaderX64.Depth", depth);
    } else if (w_try(s->w, h, SH, "Header16.NextEntry", first >> 4)) {
        w_set(s->w, h, SH, "Header16.HeaderType", 1);
        w_set(s->w, h, SH, "Header16.Depth", depth);
    } else {
        w_set(s->w, h, SH, "Next.Next", first);
        w_set(s->w, h, SH, "Depth", depth);
    }
}

/* The tracker pages of one verified driver (see the contract at the top). */
static void vf_trackers(vscn *s, uint64_t vd, const vdrv *d, const vpalloc *al, size_t nal, unsigned npages,
                        bool first_driver)
{
    const char *V = "_VF_TARGET_VERIFIED_DRIVER_DATA", *E = "_VI_POOL_ENTRY";
    if (lay_off(s->L, V, "PoolPageHeaders") < 0 || lay_off(s->L, V, "PoolTrackers") < 0 ||
        !lay_has_type(s->L, E))
        return;
    uint64_t esz = lay_size(s->L, E);
    size_t per = SC_PAGE / esz;
    uint64_t pages[4] = {0};
    if (npages > 4)
        npages = 4;
    for (unsigned p = 0; p < npages; p++) {
        pages[p] = w_alloc(s->w, SC_PAGE, SC_PAGE);
        w_set(s->w, pages[p], E, "PageHeader.VerifierEntry", vd);
        mf("vtrackpage %s %#llx", d->file, (unsigned long long)pages[p]);
    }
    for (unsigned p = 0; p + 1 < npages; p++)
        w_set(s->w, pages[p], E, "PageHeader.NextPage", pages[p + 1]);
    /* in use: allocation j on page j % npages, entry 2 + 9 * (j / npages) */
    for (size_t j = 0; j < nal; j++) {
        uint64_t e = pages[j % npages] + (2 + 9 * (j / npages)) * esz;
        w_set(s->w, e, E, "InUse.VirtualAddress", al[j].va);
        w_set(s->w, e, E, "InUse.CallingAddress", al[j].caller);
        w_set(s->w, e, E, "InUse.NumberOfBytes", al[j].size);
        w_set(s->w, e, E, "InUse.Tag", al[j].tag);
        mf("valloc %s %#llx %#llx %#llx %#llx %#llx", d->file, (unsigned long long)al[j].va,
           (unsigned long long)al[j].size, (unsigned long long)al[j].tag, (unsigned long long)al[j].caller,
           (unsigned long long)e);
    }
    /* free: every other entry, chained page by page; every fourth keeps stale data of an old
     * allocation after its link */
    uint64_t first = 0, prev = 0, nfree = 0;
    for (unsigned p = 0; p < npages; p++) {
        for (size_t i = 1; i < per; i++) {
            bool used = false;
            for (size_t j = 0; j < nal; j++)
                used |= j % npages == p && 2 + 9 * (j / npages) == i;
            if (used)
                continue;
            uint64_t e = pages[p] + i * esz;
            if (i % 4 == 1) {
                w_set(s->w, e, E, "InUse.CallingAddress", d->base + 0x1000 + i);
                w_set(s->w, e, E, "InUse.NumberOfBytes", 0x100 + i);
                w_set(s->w, e, E, "InUse.Tag", 0x656c7453 /* 'Stle' */);
            }
            if (prev)
                w_set(s->w, prev, E, "NextFree", e);
            else
                first = e;
            prev = e;
            nfree++;
        }
    }
    uint64_t pph = vd + fld(s, V, "PoolPageHeaders"), ptr = vd + fld(s, V, "PoolTrackers");
    put_slist(s, pph, pages[0], npages);
    put_slist(s, ptr, first, nfree);
    mf("vtrack %s %u %zu %llu", d->file, npages, nal, (unsigned long long)nfree);
    if (first_driver && s->hostile_cycle && npages >= 2) {
        w_set(s->w, pages[npages - 1], E, "PageHeader.NextPage", pages[0]);
        put_slist(s, pph, pages[0], 0xffff);
        mf("hostile vtrack_cycle %#llx", (unsigned long long)pages[npages - 1]);
    }
    if (first_driver && s->hostile_missing && npages >= 2) {
        w_drop(s->w, pages[1]);
        mf("hostile vtrack_missing %#llx", (unsigned long long)pages[1]);
    }
}

/* Vista and later: VfSuspectDriversList + ViTargetDriversAvl. */
static void vf_drivers(vscn *s, vdrv *d, size_t nd, const vpalloc *const *al, const size_t *nal)
{
    const char *S = "_VF_SUSPECT_DRIVER_ENTRY", *V = "_VF_TARGET_VERIFIED_DRIVER_DATA",
               *TD = "_VF_TARGET_DRIVER";
    uint64_t head = k_sym(s->k, "VfSuspectDriversList");
    w_list_init(s->w, head);
    uint64_t links = fld(s, S, "Links");
    for (size_t i = 0; i < nd; i++) {
        uint64_t e = w_alloc(s->w, lay_size(s->L, S), 0);
        d[i].entry = e;
        w_list_tail(s->w, head, e + links);
        w_set(s->w, e, S, "Loads", d[i].loads);
        w_set(s->w, e, S, "Unloads", d[i].unloads);
        w_ustr(s->w, e + fld(s, S, "BaseName"), d[i].file);
    }
    if (s->hostile_cycle && nd >= 2) {
        w_pointer(s->w, d[nd - 1].entry + links, d[0].entry + links);
        mf("hostile vlist_cycle %#llx", (unsigned long long)(d[nd - 1].entry + links));
    }
    /* the AVL tree of target drivers: one table, nodes = RTL_BALANCED_LINKS + _VF_TARGET_DRIVER */
    uint64_t tree = k_sym_opt(s->k, "ViTargetDriversAvl");
    if (tree == SC_NONE || !lay_has_type(s->L, "_VF_AVL_TREE"))
        return;
    const char *AT = "_VF_AVL_TREE", *TB = "_VF_AVL_TABLE", *BL = "_RTL_BALANCED_LINKS";
    uint64_t table = w_alloc(s->w, lay_size(s->L, TB), 0);
    w_set(s->w, tree, AT, "Tables", table);
    w_set(s->w, tree, AT, "TablesNo", 1);
    w_try(s->w, tree, AT, "NodeCount", nd);
    uint64_t root = table + fld(s, TB, "RtlTable") + fld(s, "_RTL_AVL_TABLE", "BalancedRoot");
    w_set(s->w, table, TB, "RtlTable.NumberGenericTableElements", nd);
    uint64_t lsz = lay_size(s->L, BL);
    uint64_t node[8] = {0};
    for (size_t i = 0; i < nd && i < 8; i++) {
        node[i] = w_alloc(s->w, lsz + lay_size(s->L, TD), 0);
        uint64_t td = node[i] + lsz;
        if (!w_try(s->w, td, TD, "TreeNode.p", d[i].base))
            w_set(s->w, td, TD, "TreeNode.Base.p", d[i].base);
        if (!w_try(s->w, td, TD, "TreeNode.RangeSize", d[i].size))
            w_set(s->w, td, TD, "TreeNode.Base.RangeSize", d[i].size);
        uint64_t vd = w_alloc(s->w, lay_size(s->L, V), 0);
        w_set(s->w, td, TD, "VerifiedData", vd);
        w_set(s->w, vd, V, "SuspectDriverEntry", d[i].entry);
        w_set(s->w, vd, V, "CurrentPagedPoolAllocations", d[i].cur_paged);
        w_set(s->w, vd, V, "CurrentNonPagedPoolAllocations", d[i].cur_np);
        w_set(s->w, vd, V, "PeakPagedPoolAllocations", d[i].peak_paged);
        w_set(s->w, vd, V, "PeakNonPagedPoolAllocations", d[i].peak_np);
        w_set(s->w, vd, V, "PagedBytes", d[i].paged);
        w_set(s->w, vd, V, "NonPagedBytes", d[i].np);
        w_set(s->w, vd, V, "PeakPagedBytes", d[i].peak_paged_b);
        w_set(s->w, vd, V, "PeakNonPagedBytes", d[i].peak_np_b);
        vf_trackers(s, vd, &d[i], al[i], nal[i], i == 0 ? 2 : 1, i == 0);
    }
    /* node 0 the root (right child of the table's BalancedRoot); the others chained as right
     * children (bases ascend) */
    w_set(s->w, root, BL, "RightChild", node[0]);
    w_set(s->w, node[0], BL, "Parent", root);
    for (size_t i = 1; i < nd && i < 8; i++) {
        w_set(s->w, node[i - 1], BL, "RightChild", node[i]);
        w_set(s->w, node[i], BL, "Parent", node[i - 1]);
    }
    if (s->hostile_cycle && nd >= 1) {
        w_set(s->w, node[nd - 1], BL, "LeftChild", node[0]);
        mf("hostile vavl_cycle %#llx", (unsigned long long)node[nd - 1]);
    }
}

/* ------------------------------------------------------------------ the logs */
typedef struct vlog {
    const char *kind;          /* pool irp crit */
    const char *arr, *idx, *len, *type;
    uint64_t base;             /* the array */
    uint64_t esz;
    uint32_t length, next;
} vlog;

static bool log_open(vscn *s, vlog *l, const char *kind, const char *arr, const char *idx,
                     const char *len, const char *type, uint32_t length)
{
    memset(l, 0, sizeof *l);
    l->kind = kind, l->arr = arr, l->idx = idx, l->len = len, l->type = type;
    if (k_sym_opt(s->k, arr) == SC_NONE || k_sym_opt(s->k, idx) == SC_NONE ||
        k_sym_opt(s->k, len) == SC_NONE || !lay_has_type(s->L, type)) {
        mf("vlog_absent %s", kind);
        return false;
    }
    l->esz = lay_size(s->L, type);
    l->length = length;
    l->base = w_alloc(s->w, l->esz * length, 0x1000);
    w_pointer(s->w, k_sym(s->k, arr), l->base);
    w_put(s->w, k_sym(s->k, len), 4, length);
    mf("vlog_length %s %#x", kind, length);
    return true;
}

static uint64_t log_slot(vlog *l, unsigned *slot)
{
    *slot = l->next % l->length;
    l->next++;
    return l->base + (uint64_t)*slot * l->esz;
}

static void log_close(vscn *s, vlog *l)
{
    if (!l->base)
        return;
    w_put(s->w, k_sym(s->k, l->idx), 4, l->next);
    mf("vlog_index %s %#x", l->kind, l->next);
}

/* The module file of a driver frame address: which of the names. */
static void crit_entry(vscn *s, vlog *l, uint64_t thread, bool enter, const char *drv,
                       const vstk *callers)
{
    if (!l->base)
        return;
    unsigned slot;
    uint64_t e = log_slot(l, &slot);
    const char *T = "_VF_KE_CRITICAL_REGION_TRACE";
    w_set(s->w, e, T, "Thread", thread);
    vstk st = {0};
    vpush_nt(s, &st, enter ? "VerifierKeEnterCriticalRegion" : "VerifierKeLeaveCriticalRegion",
             enter ? 0x52 : 0x63);
    for (size_t i = 0; i < callers->n && st.n < sizeof st.r / sizeof st.r[0]; i++)
        st.r[st.n++] = callers->r[i];
    put_stack(s, e + fld(s, T, "StackTrace"), slots_of(s, T, "StackTrace"), &st);
    mf("vlog crit %#x %#llx %s %s", slot, (unsigned long long)thread, enter ? "enter" : "leave", drv);
}

static void pool_entry(vscn *s, vlog *l, uint64_t thread, uint64_t addr, uint64_t size, bool alloc,
                       const char *drv, const vstk *st)
{
    if (!l->base)
        return;
    unsigned slot;
    uint64_t e = log_slot(l, &slot);
    const char *T = "_VF_POOL_TRACE";
    w_set(s->w, e, T, "Address", addr);
    w_set(s->w, e, T, "Size", size);
    w_set(s->w, e, T, "Thread", thread);
    put_stack(s, e + fld(s, T, "StackTrace"), slots_of(s, T, "StackTrace"), st);
    mf("vlog pool %#x %#llx %#llx %#llx %s %s", slot, (unsigned long long)addr,
       (unsigned long long)size, (unsigned long long)thread, alloc ? "alloc" : "free", drv);
}

static void irp_entry(vscn *s, vlog *l, uint64_t irp, uint64_t thread, int kad, int sad, unsigned irql,
                      const char *drv, const vstk *st)
{
    if (!l->base)
        return;
    unsigned slot;
    uint64_t e = log_slot(l, &slot);
    const char *T = "_IOV_IRP_TRACE";
    w_set(s->w, e, T, "Irp", irp);
    w_set(s->w, e, T, "Thread", thread);
    w_set(s->w, e, T, "KernelApcDisable", (uint16_t)(int16_t)kad);
    w_set(s->w, e, T, "SpecialApcDisable", (uint16_t)(int16_t)sad);
    w_set(s->w, e, T, "Irql", irql);
    put_stack(s, e + fld(s, T, "StackTrace"), slots_of(s, T, "StackTrace"), st);
    mf("vlog irp %#x %#llx %#llx %d %d %u %s", slot, (unsigned long long)irp,
       (unsigned long long)thread, kad, sad, irql, drv);
}

/* ------------------------------------------------------------------ the scenes */
static void set_apc_disable(vscn *s, uint64_t thread, int kad, int sad)
{
    w_set(s->w, thread, "_KTHREAD", "KernelApcDisable", (uint64_t)(int64_t)kad);
    w_try(s->w, thread, "_KTHREAD", "SpecialApcDisable", (uint64_t)(int64_t)sad);
    mf("apc_thread %#llx %d %d", (unsigned long long)thread, kad, sad);
}

void scene_verifier(kern *k, const sc_base *b)
{
    vscn sv = {.k = k, .w = k->w, .L = k->L, .b = b, .next_tid = 0x1100, .name = b->o->scene};
    vscn *s = &sv;
    s->ptr = w_ptr(k->w);
    const char *h = b->o->hostile;
    s->hostile_cycle = h && (!strcmp(h, "cycle") || !strcmp(h, "all"));
    s->hostile_missing = h && (!strcmp(h, "missing") || !strcmp(h, "all"));
    const bool is_v = !strcmp(s->name, "verifier"), is_apc = !strcmp(s->name, "apc");
    const bool is_io = !strcmp(s->name, "iover"), is_am = !strcmp(s->name, "apcmismatch");
    uint64_t am_sysfn = 0;
    unsigned am_index = 0;

    /* drivers */
    static const char *const myf_f[] = {"MyfaultDeviceControl", "MyfaultDispatch", "MyfaultUnload"};
    static const char *const flt_f[] = {"FltrAllocContext", "FltrFreeContext", "FltrPreCreate"};
    static const char *const sus_f[] = {"SusAcquireState", "SusReleaseState", "SusWorker"};
    static const char *const bad_f[] = {"BdPreRead", "BdImageNotify", "BdLockVolume", "BdUnlockVolume"};
    static const char *const fm_f[] = {"FltpDispatch", "FltpPerformPreCallbacks", "FltGetVolumeGuidName"};
    static const char *const srv_f[] = {"SrvProcWorkerThread", "SrvProcTerminateWorkerThreadInternal",
                                        "Smb2ExecuteRead", "SrvProcessPacket"};
    static const char *const mm_f[] = {"MountMgrDeviceControl", "MountMgrSendDeviceControl"};
    uint64_t fm_base = k_driver_image(k, "fltmgr.sys", fm_f, 3);
    io_driver(k, "\\FileSystem\\FltMgr", fm_base, "fltmgr.sys");
    uint64_t srv_base = k_driver_image(k, "srv2.sys", srv_f, 4);
    io_driver(k, "\\Driver\\srv2", srv_base, "srv2.sys");
    k_driver_image(k, "mountmgr.sys", mm_f, 2);

    vdrv d[2];
    memset(d, 0, sizeof d);
    size_t nd = 2;
    vpalloc al0[4], al1[2];
    const vpalloc *al[2] = {al0, al1};
    size_t nal[2] = {0, 0};
    uint32_t level;
    if (is_v) {
        level = 0xc1b;
        d[0].file = "myfault.sys";
        d[0].base = k_driver_image(k, "myfault.sys", myf_f, 3);
        io_driver(k, "\\Driver\\myfault", d[0].base, "myfault.sys");
        d[1].file = "fltrdrv.sys";
        d[1].base = k_driver_image(k, "fltrdrv.sys", flt_f, 3);
        io_driver(k, "\\Driver\\fltrdrv", d[1].base, "fltrdrv.sys");
        /* myfault: four nonpaged 'Leak' blocks; fltrdrv: one paged block left */
        uint64_t caller = k_ret(k, k_func(k, "myfault.sys", "MyfaultDeviceControl"), 0x358);
        for (int i = 0; i < 4; i++) {
            al0[i] = (vpalloc){w_alloc(s->w, 0x2000, 0x1000), 0x2000, 0x6b61654c /* 'Leak' */, caller};
        }
        nal[0] = 4;
        al1[0] = (vpalloc){w_alloc(s->w, 0x180, 0x10), 0x180, 0x72746c46 /* 'Fltr' */,
                          k_ret(k, k_func(k, "fltrdrv.sys", "FltrAllocContext"), 0x2e)};
        nal[1] = 1;
        d[0].cur_np = 4, d[0].peak_np = 4, d[0].np = 0x8000, d[0].peak_np_b = 0x8000;
        d[0].peak_paged = 1, d[0].peak_paged_b = 0x80;
        d[1].cur_paged = 1, d[1].peak_paged = 2, d[1].paged = 0x180, d[1].peak_paged_b = 0x300;
    } else {
        level = is_apc || is_am ? 0x800 : 0x810;
        d[0].file = "Suspect.sys";
        d[0].base = k_driver_image(k, "Suspect.sys", sus_f, 3);
        io_driver(k, "\\Driver\\Suspect", d[0].base, "Suspect.sys");
        d[1].file = "BadDriver.sys";
        d[1].base = k_driver_image(k, "BadDriver.sys", bad_f, 4);
        io_driver(k, "\\FileSystem\\BadDriver", d[1].base, "BadDriver.sys");
        d[0].cur_np = 1, d[0].peak_np = 1, d[0].np = 0x40, d[0].peak_np_b = 0x40;
        d[1].cur_paged = 2, d[1].peak_paged = 3, d[1].paged = 0x2a0, d[1].peak_paged_b = 0x3f0;
        /* the blocks those counters count (the drivers' trackers / XP's PoolHash) */
        al0[0] = (vpalloc){w_alloc(s->w, 0x40, 0x10), 0x40, 0x70737553 /* 'Susp' */,
                           k_ret(k, k_func(k, "Suspect.sys", "SusAcquireState"), 0x31)};
        nal[0] = 1;
        for (int i = 0; i < 2; i++)
            al1[i] = (vpalloc){w_alloc(s->w, 0x150, 0x10), 0x150, 0x72446442 /* 'BdDr' */,
                               k_ret(k, k_func(k, "BadDriver.sys", i ? "BdLockVolume" : "BdImageNotify"), 0x5c)};
        nal[1] = 2;
    }
    for (size_t i = 0; i < nd; i++) {
        d[i].size = image_size_of(s, d[i].base);
        d[i].loads = 1;
        mf("verified %s %#llx %#llx %u %u %u %u", d[i].file, (unsigned long long)d[i].paged,
           (unsigned long long)d[i].np, d[i].loads, d[i].unloads, d[i].cur_paged, d[i].cur_np);
    }
    mmverifier_data(s, level, d, nd);
    if (lay_has_type(s->L, "_MI_VERIFIER_DRIVER_ENTRY") && k_sym_opt(k, "MiSuspectDriverList") != SC_NONE)
        xp_drivers(s, d, nd, al, nal);
    else
        vf_drivers(s, d, nd, al, nal);

    uint32_t gflag = is_v ? 0x4400 : 0x0;
    put_u32_sym(s, "NtGlobalFlag", gflag);
    mf("gflag %#x", gflag);

    /* a worker thread in each scene */
    vstk ws = {0};
    vpush_nt(s, &ws, "KiSwapContext", 0x3a);
    vpush_nt(s, &ws, "KiCommitThreadWait", 0x1d2);
    vpush_nt(s, &ws, "KeRemoveQueueEx|KeRemoveQueue", 0x1a0);
    vpush_nt(s, &ws, "ExpWorkerThread", 0x111);
    vpush_start(s, &ws);
    uint64_t worker = vthread(s, b->system, 5, &ws);
    uint64_t worker2 = vthread(s, b->system, 5, &ws);

    vlog cl, pl, il;
    log_open(s, &cl, "crit", "VfKeCriticalRegionTraces", "VfKeCriticalRegionTracesIndex",
             "VfKeCriticalRegionTracesLength", "_VF_KE_CRITICAL_REGION_TRACE", 0x80);
    log_open(s, &pl, "pool", "VfPoolTraces", "VfPoolTracesIndex", "VfPoolTracesLength", "_VF_POOL_TRACE",
             0x40);
    log_open(s, &il, "irp", "IovIrpTraces", "IovIrpTracesIndex", "IovIrpTracesLength", "_IOV_IRP_TRACE",
             0x40);

    /* Suspect-style noise: balanced enter/leave pairs on a worker (load/unload path) */
    const char *noisy = is_v ? "fltrdrv.sys" : "Suspect.sys";
    const char *nacq = is_v ? "FltrAllocContext" : "SusAcquireState";
    const char *nrel = is_v ? "FltrFreeContext" : "SusReleaseState";
    for (int i = 0; i < 3; i++) {
        vstk c = {0};
        vpush_drv(s, &c, noisy, nacq, 0x62 + i);
        vpush_nt(s, &c, "IopLoadUnloadDriver", 0x1c);
        vpush_nt(s, &c, "ExpWorkerThread", 0x111);
        vpush_start(s, &c);
        crit_entry(s, &cl, worker, true, noisy, &c);
        vstk r = {0};
        vpush_drv(s, &r, noisy, nrel, 0x2a);
        vpush_nt(s, &r, "IopLoadUnloadDriver", 0x1c);
        vpush_nt(s, &r, "ExpWorkerThread", 0x111);
        vpush_start(s, &r);
        crit_entry(s, &cl, worker, false, noisy, &r);
    }

    uint64_t crash = 0;
    if (is_apc || is_io || is_am) {
        /* BadDriver: balanced on worker2, then an enter without its leave on the crashing thread */
        vstk c = {0};
        vpush_drv(s, &c, "BadDriver.sys", "BdLockVolume", 0x44);
        vpush_drv(s, &c, "BadDriver.sys", "BdImageNotify", 0x91);
        vpush_nt(s, &c, "ExpWorkerThread", 0x111);
        vpush_start(s, &c);
        vstk r = {0};
        vpush_drv(s, &r, "BadDriver.sys", "BdUnlockVolume", 0x1f);
        vpush_drv(s, &r, "BadDriver.sys", "BdImageNotify", 0xc4);
        vpush_nt(s, &r, "ExpWorkerThread", 0x111);
        vpush_start(s, &r);
        crit_entry(s, &cl, worker2, true, "BadDriver.sys", &c);
        crit_entry(s, &cl, worker2, false, "BadDriver.sys", &r);

        vstk cs = {0};
        if (is_apc) {
            vpush_nt(s, &cs, "PspExitThread", 0x2e9);
            vpush_nt(s, &cs, "PspTerminateThreadByPointer", 0x4d);
            vpush_nt(s, &cs, "PsTerminateSystemThread", 0x22);
            vpush_drv(s, &cs, "srv2.sys", "SrvProcTerminateWorkerThreadInternal", 0x99);
            vpush_drv(s, &cs, "srv2.sys", "SrvProcWorkerThread", 0x1b6);
        } else if (is_am) {
            /* the system-service exit finds the count still raised: KiBugCheckDispatch from the
             * exit path; the user side (ntdll) is not in the table */
            vpush_nt(s, &cs, "KiBugCheckDispatch", 0x69);
            vpush_nt(s, &cs, "KiSystemServiceExitPico|KiSystemServiceExit|KiServiceExit|KiFastCallEntry", 0x1ee);
        } else {
            vpush_nt(s, &cs, "VfBugCheckNoStackUsage", 0x30);
            vpush_nt(s, &cs, "VfAfterCallDriver", 0x3e);
            vpush_nt(s, &cs, "IovCallDriver|IofCallDriver", 0x5e);
            vpush_drv(s, &cs, "srv2.sys", "Smb2ExecuteRead", 0x9a6);
            vpush_drv(s, &cs, "srv2.sys", "SrvProcessPacket", 0xa0);
            vpush_drv(s, &cs, "srv2.sys", "SrvProcWorkerThread", 0x2fb);
        }
        if (!is_am)
            vpush_start(s, &cs);
        crash = vthread(s, is_am ? b->csrss : b->system, 2, &cs);
        k_run_on(k, crash, 0);
        set_apc_disable(s, crash, -1, 0);
        if (is_am) {
            /* the thread runs attached to nothing: ApcStateIndex 0 (OriginalApcEnvironment) */
            w_set(s->w, crash, "_KTHREAD", "ApcStateIndex", am_index);
            mf("apc_index %u", am_index);
            am_sysfn = ntf(s, "NtDeviceIoControlFile");
            if (!am_sysfn)
                sc_die("apcmismatch: the table has no nt!NtDeviceIoControlFile");
        }

        vstk e = {0};
        vpush_drv(s, &e, "BadDriver.sys", "BdPreRead", 0x3a);
        vpush_drv(s, &e, "fltmgr.sys", "FltpPerformPreCallbacks", 0x2f7);
        vpush_drv(s, &e, "fltmgr.sys", "FltpDispatch", 0xb7);
        vpush_nt(s, &e, "IovCallDriver|IofCallDriver", 0x66);
        if (is_am) {
            vpush_nt(s, &e, "IopXxxControlFile", 0x607);
            vpush_nt(s, &e, "NtDeviceIoControlFile", 0x56);
            vpush_nt(s, &e, "KiSystemServiceCopyEnd|KiFastCallEntry", 0x13);
        } else {
            vpush_drv(s, &e, "srv2.sys", "Smb2ExecuteRead", 0x9a6);
            vpush_drv(s, &e, "srv2.sys", "SrvProcessPacket", 0xa0);
        }
        crit_entry(s, &cl, crash, true, "BadDriver.sys", &e);
        /* noise after the culprit */
        for (int i = 0; i < 2; i++) {
            vstk c2 = {0};
            vpush_drv(s, &c2, "Suspect.sys", "SusWorker", 0x18 + i);
            vpush_nt(s, &c2, "ExpWorkerThread", 0x111);
            vpush_start(s, &c2);
            crit_entry(s, &cl, worker, i == 0, "Suspect.sys", &c2);
        }
        if (cl.base)
            mf("culprit BadDriver.sys");
    }

    /* the pool log */
    uint64_t ioctl_thread = 0;
    {
        vstk us = {0};
        vpush_nt(s, &us, "KiSwapContext", 0x3a);
        vpush_nt(s, &us, "KiCommitThreadWait", 0x1d2);
        vpush_nt(s, &us, "KeWaitForSingleObject", 0x19f);
        vpush_nt(s, &us, "NtWaitForSingleObject", 0x6a);
        vpush_nt(s, &us, "KiSystemServiceCopyEnd|KiFastCallEntry", 0x13);
        ioctl_thread = vthread(s, b->csrss, 5, &us);
    }
    if (is_v) {
        for (size_t i = 0; i < nal[0]; i++) {
            vstk st = {0};
            vpush_nt(s, &st, "VeAllocatePoolWithTagPriority|VerifierExAllocatePoolWithTagPriority", 0x2b6);
            vpush_nt(s, &st, "VerifierExAllocatePoolEx|VerifierExAllocatePoolWithTag", 0x1d);
            vpush_drv(s, &st, "myfault.sys", "MyfaultDeviceControl", 0x358);
            vpush_drv(s, &st, "myfault.sys", "MyfaultDispatch", 0xb7);
            vpush_nt(s, &st, "IovCallDriver|IofCallDriver", 0xa0);
            vpush_nt(s, &st, "IopXxxControlFile", 0x607);
            vpush_nt(s, &st, "NtDeviceIoControlFile", 0x56);
            vpush_nt(s, &st, "KiSystemServiceCopyEnd|KiFastCallEntry", 0x13);
            pool_entry(s, &pl, ioctl_thread, al0[i].va, al0[i].size, true, "myfault.sys", &st);
        }
        /* fltrdrv: a block allocated and freed, then the one still held */
        uint64_t freed = w_alloc(s->w, 0x180, 0x10);
        for (int pass = 0; pass < 3; pass++) {
            bool alloc = pass != 1;
            uint64_t a = pass == 2 ? al1[0].va : freed;
            vstk st = {0};
            if (alloc) {
                vpush_nt(s, &st, "VeAllocatePoolWithTagPriority|VerifierExAllocatePoolWithTagPriority", 0x2b6);
                vpush_nt(s, &st, "VerifierExAllocatePoolEx|VerifierExAllocatePoolWithTag", 0x1d);
                vpush_drv(s, &st, "fltrdrv.sys", "FltrAllocContext", 0x2e);
            } else {
                vpush_nt(s, &st, "VerifierExFreePoolWithTag|VerifierExFreePool", 0x3c);
                vpush_drv(s, &st, "fltrdrv.sys", "FltrFreeContext", 0x1a);
            }
            vpush_drv(s, &st, "fltrdrv.sys", "FltrPreCreate", 0x71);
            vpush_drv(s, &st, "fltmgr.sys", "FltpPerformPreCallbacks", 0x2f7);
            vpush_drv(s, &st, "fltmgr.sys", "FltpDispatch", 0xb7);
            vpush_nt(s, &st, "IovCallDriver|IofCallDriver", 0xa0);
            pool_entry(s, &pl, worker, a, 0x180, alloc, "fltrdrv.sys", &st);
        }
    }

    /* the IRP log: BadDriver (or myfault) sending I/O while APCs are disabled */
    if (il.base) {
        const char *mod = is_v ? "myfault.sys" : "BadDriver.sys";
        const char *fn = is_v ? "MyfaultDeviceControl" : "BdImageNotify";
        uint64_t th = is_v ? ioctl_thread : worker2;
        for (int i = 0; i < 3; i++) {
            uint8_t ma[2] = {0x0e, 0x0e}, mi[2] = {0, 0};
            uint64_t irp = io_irp(k, 0, b->pci_fdo, 1, 2, ma, mi);
            vstk st = {0};
            vpush_nt(s, &st, "IovAllocateIrp", 0x28);
            vpush_nt(s, &st, "IoBuildDeviceIoControlRequest", 0x32);
            vpush_nt(s, &st, "IovBuildDeviceIoControlRequest", 0x4e);
            if (i > 0) {
                vpush_drv(s, &st, "mountmgr.sys", "MountMgrSendDeviceControl", 0x73);
                vpush_drv(s, &st, "mountmgr.sys", "MountMgrDeviceControl", 0xe9);
                vpush_nt(s, &st, "IovCallDriver|IofCallDriver", 0x66);
            }
            vpush_drv(s, &st, "fltmgr.sys", "FltGetVolumeGuidName", 0x18c + 0x20 * (unsigned)(i > 0));
            vpush_drv(s, &st, mod, fn, 0x1e1);
            irp_entry(s, &il, irp, th, i == 0 ? -4 : -5, -1, 0, mod, &st);
        }
    }

    /* hostile logs */
    if (s->hostile_cycle && cl.base) {
        cl.next = 0xfffffff0u; /* an index far past the log's end */
        mf("hostile vlog_index %#llx", (unsigned long long)k_sym(k, cl.idx));
    }
    if (s->hostile_missing && pl.base) {
        w_drop(s->w, pl.base);
        mf("hostile vlog_missing %#llx", (unsigned long long)pl.base);
    }
    log_close(s, &cl);
    log_close(s, &pl);
    log_close(s, &il);

    if (is_apc) {
        k_bugcheck(k, 0x20, 0, 0xffff, 0, 1);
    } else if (is_am) {
        /* P3: the thread's CombinedApcDisable (SpecialApcDisable << 16 | (USHORT)KernelApcDisable)
         * as written; builds without it (XP) pass the ULONG KernelApcDisable itself */
        uint64_t p3 = lay_off(s->L, "_KTHREAD", "CombinedApcDisable") >= 0
                          ? w_field(s->w, crash, "_KTHREAD", "CombinedApcDisable")
                          : w_field(s->w, crash, "_KTHREAD", "KernelApcDisable");
        k_bugcheck(k, 0x1, am_sysfn, am_index, p3, 0);
    } else if (is_io) {
        k_bugcheck(k, 0xC4, 0xC5, k_func(k, "fltmgr.sys", "FltpDispatch"), 0xffff, 0);
    } else {
        vstk cs = {0};
        vpush_nt(s, &cs, "KiDispatchInterrupt|KiIdleLoop", 0x52);
        crash = vthread(s, b->system, 2, &cs);
        k_run_on(k, crash, 0);
        k_bugcheck(k, 0xE2, 0, 0, 0, 0);
    }
}
