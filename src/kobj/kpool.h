/* kpool.h: the executive pool of a kernel dump (issue 7): the pool tracker tables, the big-pool
 * table, classic pool pages (_POOL_HEADER chains) and the owners of pool tags.
 *
 * Every layout comes from nt's types (_POOL_TRACKER_TABLE, _POOL_TRACKER_BIG_PAGES,
 * _POOL_HEADER) and every table from nt's globals (PoolTrackTable / PoolTrackTableSize,
 * PoolTrackTableExpansion / PoolTrackTableExpansionSize, PoolBigPageTable /
 * PoolBigPageTableSize). Classic pool blocks are measured in units of sizeof(_POOL_HEADER)
 * (16 bytes on x64, 8 on x86); the header's PoolType is 0 for a free block, else POOL_TYPE + 1
 * (odd: nonpaged, even: paged). Builds whose types have _SEGMENT_HEAP and no _POOL_DESCRIPTOR
 * (19H1 and later) allocate small blocks from the segment heap, decoded by kpool_seg.h
 * (nk_pool_segment_heap tells which). Counts and sizes read from the dump are capped; unreadable
 * parts are reported in `why` (one line each) and the rest is kept.
 *
 * Layering: uses kobj (types, globals, lists), mem; used by src/cmd/cmd_pool.c. No state of its
 * own. */
#ifndef NTKD_KPOOL_H
#define NTKD_KPOOL_H

#include "kobj/kobj.h"

#define NK_POOL_MAX_TRACK 0x100000u  /* tracker entries read at most (each table) */
#define NK_POOL_MAX_BIG 0x400000u    /* big-pool entries read at most */
#define NK_POOL_MAX_OWNERS 4
#define NK_POOL_MAX_OWNER_PAGES 0x400000u /* image pages the owner search reads at most */

/* A module of PsLoadedModuleList. */
typedef struct nk_pool_mod {
    uint64_t base, size;
    char name[64]; /* BaseDllName ("leakydrv.sys") */
} nk_pool_mod;

typedef struct nk_pool_owner {
    size_t mod;    /* index into the module array */
    uint64_t hit;  /* first address where the tag bytes are */
    bool from_store; /* found in the store's copy of the image (the dump lacks the page) */
} nk_pool_owner;

typedef struct nk_pool_tag {
    uint32_t key;  /* the tag as stored, protected bit (0x80000000) cleared */
    bool protected_;
    char tag[5];   /* printable form ("Leak") */
    uint64_t np_allocs, np_frees, np_bytes, p_allocs, p_frees, p_bytes;
    unsigned nowners;
    nk_pool_owner owners[NK_POOL_MAX_OWNERS];
} nk_pool_tag;

/* The tag's printable form: 4 chars, a non-printable byte as '?'. */
void nk_pool_tag_str(uint32_t key, char out[5]);
/* Parses "Leak" (up to 4 chars; shorter tags are space padded as Windows does) or 0x6b61654c. */
bool nk_pool_tag_parse(const char *s, uint32_t *key);

/* Every tag of the tracker tables (main and expansion), one entry per tag (counts summed),
 * in table order. */
nk_status nk_pool_tags(ntkd_target *t, nk_pool_tag **out, size_t *n, nk_strbuf *why);

/* The tracker tables besides PoolTrackTable (facts: tests/gen/scene/pooltrack.c's header):
 * nt!ExPoolTagTables is an array of pointers indexed by PROCESSOR number (its extent equals
 * KiProcessorBlock's on every x64 build: 256, 1280, 1280, 2048 entries on 7601, 17763, 19041,
 * 22000), each to that processor's table of PoolTrackTableSize entries, slot-aligned with
 * PoolTrackTable; element 0 is PoolTrackTable. A processor's counts may hold more frees than
 * allocations; only the sums are meaningful. nk_pool_tags_ex sums PoolTrackTable, every
 * processor's table (elements 0 .. number of processors - 1, each distinct table read once)
 * and the expansion table. XP has one table (no ExPoolTagTables). */
typedef struct nk_pool_track_info {
    unsigned tables;         /* tracker tables summed (PoolTrackTable and the distinct processor tables) */
    unsigned cpu_tables;     /* processors whose table was counted (PoolTrackTable included) */
    unsigned cpu_unreadable; /* processor tables not in the dump */
    bool has_cpu_tables;     /* nt has ExPoolTagTables */
    bool expansion;          /* the expansion table was read */
    uint64_t main_table, main_count;
} nk_pool_track_info;
nk_status nk_pool_tags_ex(ntkd_target *t, nk_pool_tag **out, size_t *n, nk_pool_track_info *info, nk_strbuf *why);

/* The session pool's tags (!poolused 8): the table of the current process's session (else of
 * the first process in a session): *nt!ExpSessionPoolTrackTable where nt has it (7601, 17763,
 * 19041; on 17763/19041 it is the inline array _MM_SESSION_SPACE.PoolTags), else the table
 * _MM_SESSION_SPACE.PoolTags points at (22000); ExpSessionPoolTrackTableSize entries (capped:
 * the inline array's capacity, NK_POOL_MAX_TRACK), plus the session's expansion table
 * (_MM_SESSION_SPACE.PoolTrackTableExpansion/Size). NTKD_E_NOTFOUND with a message on builds
 * without a per-tag session table (XP). */
typedef struct nk_pool_session_info {
    uint64_t session;        /* _MM_SESSION_SPACE, 0 when none was found */
    uint64_t session_id;     /* UINT64_MAX when unknown */
    uint64_t process;        /* the process whose session it is */
    uint64_t table, count;   /* the main session table and its entries (after caps) */
    unsigned tables;         /* tables read (main, expansion) */
    char source[96];         /* "nt!ExpSessionPoolTrackTable", "_MM_SESSION_SPACE.PoolTags (...)" */
} nk_pool_session_info;
nk_status nk_pool_session_tags(ntkd_target *t, nk_pool_tag **out, size_t *n, nk_pool_session_info *info,
                               nk_strbuf *why);
/* The loaded modules (PsLoadedModuleList). */
nk_status nk_pool_modules(ntkd_target *t, nk_pool_mod **out, size_t *n, nk_strbuf *why);
/* Searches every module's image (dump memory; for pages the dump lacks, the symbol store's
 * copy of the image when there is one) for each tag's four bytes, as
 * `!for_each_module s -a @#Base @#End "Tag"` does; fills tags[i].owners in module order. */
nk_status nk_pool_find_owners(ntkd_target *t, nk_pool_tag *tags, size_t n, const nk_pool_mod *mods,
                              size_t nmods, nk_strbuf *why);

/* The big-pool table. */
typedef struct nk_pool_big {
    uint64_t entry;  /* the table entry's address */
    uint64_t va;     /* allocation address (free bit cleared) */
    uint64_t bytes;  /* NumberOfBytes, or NumberOfPages * page size */
    uint32_t key;
    bool protected_;
    bool free_;      /* Va bit 0 */
    bool has_type;
    uint32_t pool_type; /* POOL_TYPE (0 nonpaged, 1 paged ...) when has_type */
} nk_pool_big;
typedef struct nk_pool_bigtab {
    uint64_t table, count; /* as the globals give them */
    uint64_t read;         /* entries actually read */
    nk_pool_big *v;        /* entries with a Va (free ones included), table order */
    size_t n;
} nk_pool_bigtab;
nk_status nk_pool_big_table(ntkd_target *t, nk_pool_bigtab *out, nk_strbuf *why);
void nk_pool_bigtab_free(nk_pool_bigtab *b);

/* True when small pool blocks live in segment heaps on this build (types: _SEGMENT_HEAP and
 * no _POOL_DESCRIPTOR). */
bool nk_pool_segment_heap(ntkd_target *t);

/* A classic pool page walked from its first header. */
typedef struct nk_pool_block {
    uint64_t addr;       /* the header */
    uint32_t size;       /* bytes, header included */
    uint32_t prev_size;  /* bytes */
    uint32_t key;
    bool protected_;
    uint8_t pool_type, pool_index; /* as in the header (0: free) */
    bool free_;
    bool after_resync;   /* found by the walk that resumed after a corrupt header */
} nk_pool_block;
#define NK_POOL_MAX_BLOCKS 512
typedef struct nk_pool_page {
    uint64_t page;
    unsigned unit;       /* block unit (sizeof _POOL_HEADER) */
    nk_pool_block b[NK_POOL_MAX_BLOCKS];
    size_t n;
    bool corrupt;
    uint64_t bad_hdr;    /* where the walk broke */
    char why[200];       /* "Bad previous allocation size @X, last size was N" ... */
    uint64_t resync_at;  /* where the walk resumed (0: it did not) */
    int region;          /* 1 nonpaged, 2 paged, 0 unknown (no allocated block) */
} nk_pool_page;
/* A prepared _POOL_HEADER layout (for walking many pages). */
typedef struct nk_pool_walker {
    ntkd_target *t;
    nk_kfield prev, idx, bsz, type, tag;
    unsigned unit;
} nk_pool_walker;
/* NTKD_E_NOTFOUND with a message when nt's types lack a _POOL_HEADER field. */
nk_status nk_pool_walker_init(ntkd_target *t, nk_pool_walker *w);
/* Walks a page already read (4096 bytes at buf). */
void nk_pool_walk_with(const nk_pool_walker *w, uint64_t page, const uint8_t *buf, nk_pool_page *out);
/* A cheap test before walking: the first header has PreviousSize 0 and a BlockSize inside the
 * page, and the next header (if any) has PreviousSize equal to it. */
bool nk_pool_page_candidate(const nk_pool_walker *w, const uint8_t *buf);

/* Walks the page holding addr. NTKD_E_NOTPRESENT when the page is not in the dump,
 * NTKD_E_NOTFOUND with a message when nt's types lack _POOL_HEADER fields. A corrupt chain
 * is NTKD_OK with corrupt set. */
nk_status nk_pool_walk_page(ntkd_target *t, uint64_t addr, nk_pool_page *out);
/* The same on a page already read (4096 bytes). */
nk_status nk_pool_walk_buf(ntkd_target *t, uint64_t page, const uint8_t *buf, nk_pool_page *out);
/* True when the walk looks like a pool page (first header PreviousSize 0, the chain reaches the
 * end of the page, or breaks after at least two consistent headers). */
bool nk_pool_page_plausible(const nk_pool_page *p);

/* Every present kernel-half page (page-table walk of the dump's root; the page-table self-map
 * skipped): fn gets its VA and its 4096 bytes; return false to stop. */
typedef bool (*nk_pool_page_fn)(void *u, uint64_t va, const uint8_t *page);
nk_status nk_pool_scan_kernel_pages(ntkd_target *t, nk_pool_page_fn fn, void *u, uint64_t *npages,
                                    nk_strbuf *why);

#endif
