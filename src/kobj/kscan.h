/* kscan.h: physical-memory scans of a kernel dump, the way WinDbg's !irpfind searches pool.
 *
 * 1. A reverse map, physical page -> kernel virtual address, built once per target by walking
 *    the kernel half of the dump's page tables (the header's DirectoryTableBase): x64 4-level,
 *    x86 PAE, x86 2-level and ARM64 (4 KB granule); large pages; entries pointing into pages the
 *    dump lacks are counted and skipped; every page-table page is walked at most once (the
 *    self-map and any hostile cycle are cut there), and the work is capped.
 * 2. A scan of every physical page the dump holds and the kernel maps (read in place from the
 *    mapped file, no copy, no allocation per page) for IRP headers: _IRP.Type == IO_TYPE_IRP (6),
 *    _IRP.Size == sizeof(_IRP) + StackCount * sizeof(_IO_STACK_LOCATION), 1 <= CurrentLocation
 *    <= StackCount + 1, at the pool's alignment (16 on 64-bit, 8 on 32-bit). Each candidate is
 *    then checked through its virtual address: Tail.Overlay.CurrentStackLocation agrees with
 *    CurrentLocation, Tail.Overlay.Thread is 0 or a thread (dispatcher type ThreadObject), and
 *    the current location's DeviceObject is a device (_DEVICE_OBJECT.Type 3). Every offset from
 *    nt's types (nk_k_field).
 *
 * State: t->ext[NK_EXT_KSCAN] (the reverse map, freed with the target). */
#ifndef NTKD_KSCAN_H
#define NTKD_KSCAN_H

#include "kobj/kobj.h"

#define NK_EXT_KSCAN 7

/* Limits (hostile dumps). */
#define NK_KSCAN_MAX_IRPS 1000000u    /* IRPs one scan reports */

/* What the reverse-map walk found. */
typedef struct nk_kscan_rmap_info {
    uint64_t dump_pages;    /* physical pages the dump holds */
    uint64_t mapped_pages;  /* of those, pages the kernel half maps (each once) */
    uint64_t tables;        /* page-table pages walked */
    uint64_t absent;        /* entries (tables or pages) pointing at pages the dump lacks */
    uint64_t large;         /* large-page entries */
    bool capped;            /* a work limit stopped the walk (the map is partial) */
} nk_kscan_rmap_info;

/* Builds the reverse map once (later calls return the same). NTKD_E_NOTFOUND with a message
 * when the dump has no page tables or no physical pages (triage, minidumps). */
nk_status nk_kscan_rmap(ntkd_target *t, const nk_kscan_rmap_info **info);
/* The kernel virtual address mapping physical address pa (the first mapping the walk found),
 * false when none (builds the map when needed). */
bool nk_kscan_pa_to_va(ntkd_target *t, uint64_t pa, uint64_t *va);

typedef struct nk_kscan_stats {
    uint64_t pages;        /* pages scanned (held by the dump and mapped by the kernel) */
    uint64_t candidates;   /* headers that passed the Type/Size/location test */
    uint64_t rejected;     /* candidates the virtual-address checks refused */
    uint64_t found;        /* IRPs reported */
    bool capped;           /* stopped after NK_KSCAN_MAX_IRPS */
} nk_kscan_stats;

/* Progress: called every few thousand pages with pages done and the total. */
typedef void (*nk_kscan_progress_fn)(void *u, uint64_t done, uint64_t total);

/* Scans for IRPs: fn gets each IRP's virtual address and its Tail.Overlay.Thread (return
 * false to stop). Pages are visited in dump-file order. */
nk_status nk_kscan_irps(ntkd_target *t, nk_k_irp_fn fn, void *u, nk_kscan_progress_fn prog, void *pu,
                        nk_kscan_stats *st, nk_strbuf *why);

#endif
