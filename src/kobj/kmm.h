/* kmm.h: the memory manager's state in a kernel dump: the PFN database (nt!MmPfnDatabase,
 * _MMPFN), control areas (_CONTROL_AREA, _SEGMENT, _SUBSECTION, the file object's name), the
 * memory counters !vm shows (Mm* globals on XP and Windows 7, nt!MiSystemPartition's
 * _MI_PARTITION.Vp / PageLists on 1809 and later) and the commit-failure count by build, and the
 * software-PTE layout read from nt's _MMPTE_* types. Every offset from nt's types
 * (nk_k_field); a field or global a build lacks is reported, never guessed.
 *
 * The PFN scan is one pass over the physical pages the dump holds (its runs or bitmap, in
 * frame order), reading each frame's _MMPFN through a one-page window of the database with no
 * allocation per page.
 *
 * Layering: uses kobj (kobj.h), mem, dump; used by src/cmd/cmd_mm.c and cmd_pte.c.
 * State: none of its own (nt's field cache lives in the kobj layer). */
#ifndef NTKD_KMM_H
#define NTKD_KMM_H

#include "kobj/kobj.h"

/* PFN lists (_MMLISTS) in WinDbg's order and names. */
enum {
    NK_MM_ZEROED = 0, NK_MM_FREE, NK_MM_STANDBY, NK_MM_MODIFIED, NK_MM_MODNOWRITE, NK_MM_BAD,
    NK_MM_ACTIVE, NK_MM_TRANSITION, NK_MM_NLISTS
};
/* "Zeroed", "Free", "Standby", "Modified", "ModifiedNoWrite", "Bad", "Active", "Transition". */
const char *nk_mm_list_name(unsigned list);

/* Where the PFN database is and how its entries are laid out. */
typedef struct nk_mm_pfndb {
    uint64_t base;      /* *nt!MmPfnDatabase */
    uint64_t esz;       /* sizeof(_MMPFN) */
    uint64_t highest;   /* highest physical page (MmHighestPhysicalPage / Vp.HighestPhysicalPage) */
    nk_kfield pte_addr, share, ref, location, modified, orig_pte, pte_frame, proto;
    bool proto_in_u4;
    int64_t list_value[NK_MM_NLISTS]; /* _MMLISTS value of each list */
} nk_mm_pfndb;

nk_status nk_mm_pfndb_get(ntkd_target *t, nk_mm_pfndb *db);

typedef struct nk_mmpfn {
    uint64_t pfn;
    unsigned list;       /* NK_MM_*; NK_MM_NLISTS when the location value is unknown */
    uint64_t share, ref, pte_addr, orig_pte, pte_frame;
    bool proto, modified;
} nk_mmpfn;

/* Decodes the entry of one frame (reads it from the dump). */
nk_status nk_mm_pfn(ntkd_target *t, const nk_mm_pfndb *db, uint64_t pfn, nk_mmpfn *out);

typedef struct nk_mm_scan_stats {
    uint64_t count[NK_MM_NLISTS + 1]; /* [NK_MM_NLISTS]: unknown location */
    uint64_t scanned;                 /* frames whose entry was read */
    uint64_t unreadable;              /* frames whose entry the dump does not hold */
    uint64_t beyond;                  /* dump frames above the highest physical page */
} nk_mm_scan_stats;
typedef bool (*nk_mm_pfn_fn)(void *u, const nk_mmpfn *e);
typedef void (*nk_mm_progress_fn)(void *u, uint64_t done, uint64_t total);
/* Every frame the dump holds, in frame order (fn may be NULL; return false to stop). */
nk_status nk_mm_scan(ntkd_target *t, const nk_mm_pfndb *db, nk_mm_pfn_fn fn, void *u,
                     nk_mm_progress_fn prog, void *pu, nk_mm_scan_stats *st);

/* The control area a prototype-PTE page belongs to, through its OriginalPte (a subsection PTE:
 * _MMPTE_SUBSECTION.SubsectionAddress -> _SUBSECTION.ControlArea). NTKD_E_NOTFOUND when the
 * page is not file-backed (pagefile-backed section pages keep a demand-zero OriginalPte);
 * NTKD_E_NOTPRESENT with a message when the subsection is unreadable. */
nk_status nk_mm_pfn_control_area(ntkd_target *t, const nk_mmpfn *e, uint64_t *ca);

/* ---- control areas ------------------------------------------------------------------------ */
typedef struct nk_mmca {
    uint64_t addr, segment, flink, blink;
    uint64_t section_refs, pfn_refs, mapped_views, user_refs, flush_count, mod_write_count;
    uint64_t system_views, writable_refs, wait_for_del;
    uint64_t file_object;   /* FilePointer with the _EX_FAST_REF count bits cleared */
    uint32_t flags;         /* u.LongFlags */
    char flag_names[256];   /* names of the set 1-bit fields of _MMSECTION_FLAGS */
    bool file, image;
    char file_name[512];    /* "" when none or unreadable */
    /* segment */
    uint64_t seg_control_area, total_ptes, segment_size, committed, extend_info, proto_ptes;
    uint32_t seg_flags;
    bool seg_ok;
} nk_mmca;
nk_status nk_mm_ca(ntkd_target *t, uint64_t ca, nk_mmca *out);

typedef struct nk_mmsub {
    uint64_t addr, control_area, base_pte, next;
    uint64_t ptes, starting_sector, full_sectors, unused_ptes;
    uint32_t flags, protection, sector_end_offset;
    bool have_links;       /* a mapped-file subsection (_MSUBSECTION.DereferenceList) */
    uint64_t flink, blink;
} nk_mmsub;
/* The subsections after the control area (NextSubsection chain from CA + sizeof CA; a cycle or
 * an unreadable one ends the walk with a note in why). Returns the count in *n. The subsections
 * of a mapped data file (u.Flags.File set, Image clear) are _MSUBSECTIONs: their
 * DereferenceList links are read (have_links) where nt's types have that field. */
nk_status nk_mm_subsections(ntkd_target *t, uint64_t ca, nk_mmsub *out, size_t max, size_t *n,
                            nk_strbuf *why);

/* ---- counters ------------------------------------------------------------------------------ */
typedef struct nk_mmcounter {
    const char *key;    /* "AvailablePages" (the scene manifest's names) */
    const char *label;  /* WinDbg's "Available Pages:" */
    uint64_t pages;
    bool have;
} nk_mmcounter;
#define NK_MM_NCOUNTERS 20
typedef struct nk_mmpagefile {
    char name[260];             /* PageFileName ("\\??\\C:\\pagefile.sys") */
    uint64_t size, free_space, minimum, maximum; /* pages */
} nk_mmpagefile;
typedef struct nk_mmvm {
    nk_mmcounter c[NK_MM_NCOUNTERS];
    nk_mmpagefile pagefile[16]; /* MmPagingFile[] / MiSystemPartition.Vp.PagingFile[] */
    unsigned npagefiles;
    bool have_failures;
    uint32_t failures[4];       /* the four members */
    uint64_t failure_count;     /* [0] + [1] + ([2] up to build 3790, else [3]) */
    const char *failure_source; /* "MiChargeCommitmentFailures" / "MiSystemPartition.Vp.ChargeCommitmentFailures" */
    bool partition;             /* counters from MiSystemPartition */
    bool mistate;               /* some counters from nt!MiState (_MI_SYSTEM_INFORMATION) */
    /* classic pool descriptors (XP, 7, 1809: ExpNonPagedPoolDescriptor[] / ExpPagedPoolDescriptor[],
     * pointer arrays): pages in use by each (TotalPages + TotalBigPages, or the allocated minus
     * the deallocated pages and big pages on builds that count both) */
    unsigned n_np, n_pp;
    uint64_t np_used[16], pp_used[17];
    /* Session Commit when the build keeps no global for it: the sum of
     * _MM_SESSION_SPACE.CommittedPages over the sessions the processes' _EPROCESS.Session
     * pointers name (each session once). session_missing names what the types lack. */
    bool session_summed;
    unsigned nsessions, sessions_bad;   /* sessions summed; session pointers not readable */
    uint64_t session_bad_addr;          /* the first unreadable one */
    unsigned session_procs_bad;         /* processes whose _EPROCESS.Session is not readable */
    const char *session_missing;        /* "_MM_SESSION_SPACE.CommittedPages" or NULL */
} nk_mmvm;
/* A counter by its key ("NonPagedPoolUsage"); NULL when unknown or not kept by the build. */
const nk_mmcounter *nk_mm_counter(const nk_mmvm *vm, const char *key);
nk_status nk_mm_counters(ntkd_target *t, nk_mmvm *out);

/* ---- pages by process ----------------------------------------------------------------------
 * A private page's _MMPFN.u4.PteFrame names the page-table page holding its PTE; that page's
 * own PteFrame names the next level up, to the top-level table, which is a process's
 * Pcb.DirectoryTableBase >> 12 (x86 PAE: the page directories its PDPT names, as several
 * PDPTs share a page). Kernel-half pages lead to the top-level table of the process that
 * built that part of the kernel's tables (System): they are attributed to it, as WinDbg lists
 * them under "process ( System )". Where two processes name the same top frame (PAE's shared
 * kernel page directory), the first process on PsActiveProcessHead owns it.
 * A frame -> owner cache (open addressing, grown by doubling, capped at NK_MM_OWNER_CAP
 * frames) holds every page-table frame met, so once a table is known each page costs one
 * lookup; no allocation per page. */
#define NK_MM_OWNER_NONE UINT32_MAX
#define NK_MM_OWNER_CAP (1u << 21)
typedef struct nk_mm_frame_owner {
    uint64_t key;     /* frame + 1; 0: an empty slot */
    uint32_t owner;   /* index into procs, or NK_MM_OWNER_NONE */
    uint8_t list;     /* the frame's own list (NK_MM_*, NK_MM_NLISTS: unknown) */
    bool counted;     /* the frame is itself a page nk_mm_process_page counts */
} nk_mm_frame_owner;
typedef struct nk_mm_owners {
    nk_kproc *procs;
    size_t nprocs;
    nk_mm_frame_owner *tab;
    size_t cap, n;
    bool full;          /* the cache reached its cap: some table pages count as private */
    uint64_t broken;    /* chains cut by an unreadable PFN entry or longer than the levels */
} nk_mm_owners;
/* Pages a process owns in the scan's sense: neither Zeroed, Free nor Bad, not prototype-PTE
 * pages (those belong to their control areas). */
bool nk_mm_process_page(const nk_mmpfn *e);
/* The processes and their top-level table frames; why gets a note on a cut process walk. */
nk_status nk_mm_owners_init(ntkd_target *t, const nk_mm_pfndb *db, nk_mm_owners *o, nk_strbuf *why);
/* The process (index into o->procs) whose tables the page's PteFrame chain leads to, or
 * NK_MM_OWNER_NONE (a chain ending in a frame no process names, or broken). */
uint32_t nk_mm_page_owner(ntkd_target *t, const nk_mm_pfndb *db, nk_mm_owners *o, const nk_mmpfn *e);
/* The page-table frames the cache knows for `owner` that are themselves counted pages, by
 * their list (by_list[NK_MM_NLISTS + 1], added to). */
void nk_mm_owner_tables(const nk_mm_owners *o, uint32_t owner, uint64_t *by_list);
void nk_mm_owners_free(nk_mm_owners *o);

/* Installs the software-PTE layout that nt's _MMPTE_* types describe (when it is one of the
 * known ones and differs from the built-in choice), so that nk_pte_decode follows the kernel
 * (Windows 7 kernels patched for L1TF moved PageFileLow). No-op without nt's types. */
void nk_mm_use_type_pte_layout(ntkd_target *t);

/* ---- system VA regions (1809 and later, x64) ------------------------------------------------
 * *(nt!MiVisibleState) is a _MI_VISIBLE_STATE whose SystemVaType[] holds one _MI_SYSTEM_VA_TYPE
 * byte per kernel PML4 slot ((va >> 39) & 0xff); offsets and names from nt's types. Used by the
 * kernel-page classes below and by the special-pool check (kpool_special.c). Older builds keep
 * no such table: their regions are ranges in globals, which each caller reads for the regions
 * it needs (pool ranges here, special pool in kpool_special.c). */
typedef struct nk_mm_vatab {
    uint64_t addr;      /* of SystemVaType[0] */
    size_t n;           /* entries (the field's size, at most 256) */
    uint8_t vt[256];
    bool state_zero;    /* NTKD_E_NOTFOUND because *nt!MiVisibleState is 0 */
} nk_mm_vatab;
/* Reads the whole table. NTKD_E_NOTFOUND: the build has none (32-bit, the types or the global
 * lack it, or *MiVisibleState is 0: state_zero); NTKD_E_NOTPRESENT: not in the dump. May leave
 * a message in the context's errmsg (callers that go on keep their own). */
nk_status nk_mm_va_table(ntkd_target *t, nk_mm_vatab *tab);

typedef struct nk_mm_varegion {
    bool in_table;      /* va is a kernel address whose slot the table holds */
    unsigned index;     /* its PML4 slot */
    uint64_t entry;     /* the address of its SystemVaType byte */
    int64_t type;       /* its _MI_SYSTEM_VA_TYPE value (-1 when !in_table) */
    char name[64];      /* the value's name in the enum ("" when the enum lacks it) */
} nk_mm_varegion;
/* The region of va by SystemVaType: from tab (a table nk_mm_va_table read) or, with tab NULL,
 * by reading va's one byte. Status as nk_mm_va_table; NTKD_OK with in_table false for a
 * user-half address or a slot beyond the table. */
nk_status nk_mm_va_region(ntkd_target *t, const nk_mm_vatab *tab, uint64_t va, nk_mm_varegion *out);

/* ---- kernel pages by what they map ---------------------------------------------------------
 * !memusage's kernel lines: a non-prototype page whose PteAddress lies in the page-table
 * self-map maps the virtual address the self-map gives; a kernel-half address that is not
 * itself in the self-map (a page-table page) is classed, in this order, as a loaded module's
 * image (PsLoadedModuleList), a thread's kernel stack ([StackLimit, StackBase) of every thread
 * of every process), paged or nonpaged pool, or another kernel page. Pool (and, on 1809 and
 * later, kernel-stack) regions by what the build has:
 *  - 1809 and later: *(nt!MiVisibleState)->SystemVaType[(va >> 39) & 0xff] (one byte per
 *    kernel PML4 slot, read once), the _MI_SYSTEM_VA_TYPE names MiVaPagedPool,
 *    MiVaNonPagedPool / MiVaSecureNonPagedPool, MiVaKernelStacks;
 *  - XP: [MmPagedPoolStart, MmPagedPoolEnd], nonpaged [MmNonPagedPoolStart, + MmSizeOfNonPagedPoolInBytes)
 *    and [MmNonPagedPoolExpansionStart, MmNonPagedPoolEnd) (without the expansion global:
 *    [MmNonPagedPoolStart, MmNonPagedPoolEnd));
 *  - Windows 7 x64: paged [VA of nt!MmPagedPoolInfo.FirstPteForPagedPool, MmPagedPoolEnd],
 *    nonpaged [MmNonPagedPoolStart, MiNonPagedPoolEnd].
 * An end value whose low 12 bits are all set is the last byte (inclusive), else exclusive.
 * What a build lacks is named in note (one line) and its class stays empty. */
enum { NK_MM_K_NONE = 0, NK_MM_K_DRIVER, NK_MM_K_STACKS, NK_MM_K_PAGED, NK_MM_K_NONPAGED, NK_MM_K_OTHER, NK_MM_K_N };
#define NK_MM_KMAP_MAX_MODS 4096u
#define NK_MM_KMAP_MAX_STACKS 65536u
typedef struct nk_mm_krange {
    uint64_t lo, hi; /* [lo, hi) */
} nk_mm_krange;
typedef struct nk_mm_kmod {
    uint64_t base, end;
    char name[64];
} nk_mm_kmod;
typedef struct nk_mm_kmap {
    nk_mm_kmod *mods;      /* sorted by base */
    size_t nmods;
    nk_mm_krange *stacks;  /* sorted, merged */
    size_t nstacks;
    nk_mm_krange paged[2], nonpaged[3];
    unsigned npaged, nnonpaged;
    bool vatype;           /* SystemVaType was read */
    uint8_t vt[256];
    int64_t vt_paged, vt_nonpaged, vt_nonpaged2, vt_stacks; /* -1: the enum lacks it */
    uint64_t kernel_start;
    const char *pool_source; /* "MiVisibleState->SystemVaType", "MmPagedPoolStart/End ..." or NULL */
    char note[400];        /* what is missing ("" when nothing) */
} nk_mm_kmap;
nk_status nk_mm_kmap_init(ntkd_target *t, nk_mm_kmap *km);
/* The class of a non-prototype page (NK_MM_K_NONE: not a kernel-half mapped page, or a
 * page-table page); *mod the module index for NK_MM_K_DRIVER. */
unsigned nk_mm_kclass(ntkd_target *t, const nk_mm_kmap *km, const nk_mmpfn *e, size_t *mod);
void nk_mm_kmap_free(nk_mm_kmap *km);

#endif
