/* mem.h: the memory layer. Physical reads go through the container's page index; virtual
 * reads first use ranges the file carries directly (triage data blocks, minidump memory),
 * then the page tables of the dump's architecture. A read never invents bytes: it stops at
 * the first byte the dump does not hold and reports NTKD_E_NOTPRESENT with the count read. */
#ifndef NTKD_MEM_H
#define NTKD_MEM_H

#include "dump/dump.h"

/* A pointer into the mapped file for physical address pa, valid for *avail bytes (to the end
 * of its page, at most), or NULL when the page is not in the dump. Zero-copy. */
const uint8_t *nk_phys_ptr(const ntkd_target *t, uint64_t pa, size_t *avail);

nk_status nk_read_phys(ntkd_target *t, uint64_t pa, void *buf, size_t len, size_t *got);
nk_status nk_read_virt(ntkd_target *t, uint64_t va, void *buf, size_t len, size_t *got);
/* Typed virtual reads: NTKD_OK only when every byte was read. */
nk_status nk_read_u8(ntkd_target *t, uint64_t va, uint8_t *v);
nk_status nk_read_u16(ntkd_target *t, uint64_t va, uint16_t *v);
nk_status nk_read_u32(ntkd_target *t, uint64_t va, uint32_t *v);
nk_status nk_read_u64(ntkd_target *t, uint64_t va, uint64_t *v);
/* Pointer-sized read (4 or 8 bytes by the target's pointer size), zero-extended. */
nk_status nk_read_ptr(ntkd_target *t, uint64_t va, uint64_t *v);

/* ---- paging (paging.c) -------------------------------------------------------------- */

typedef struct nk_walk_level {
    const char *name;   /* WinDbg's names: "PXE", "PPE", "PDE", "PTE" */
    uint64_t entry_pa;  /* physical address of the entry */
    uint64_t entry_va;  /* its virtual address in the page-table self-map, 0 when unknown */
    uint64_t value;     /* the entry (for x86 non-PAE, 32 bits zero-extended) */
    bool read_ok;       /* the entry's page is in the dump */
    bool valid;         /* hardware valid / present bit */
    bool leaf;          /* this level maps the page (last level, or a large page) */
} nk_walk_level;

typedef enum nk_walk_result {
    NK_WALK_OK = 0,        /* translated: pa and page_size are set */
    NK_WALK_INVALID,       /* an entry is not valid (a software PTE: see nk_pte_decode) */
    NK_WALK_NOT_IN_DUMP,   /* a page-table page is not in the dump */
    NK_WALK_NONCANONICAL,  /* the address cannot be translated by this architecture */
    NK_WALK_NO_PAGING,     /* the dump has no page tables (triage, minidump) */
} nk_walk_result;

typedef struct nk_walk {
    nk_walk_level lvl[5];
    int nlevels;           /* levels visited (filled up to the one that ended the walk) */
    int nlevels_arch;      /* levels the architecture has (4 for x64, 3 PAE, 2 x86) */
    nk_walk_result result;
    uint64_t pa;
    uint64_t page_size;
} nk_walk;

/* Walks the page tables rooted at dtb for va. Fills every level it reads; the name and
 * self-map address (entry_va) are filled for every level of the architecture, also those
 * the walk did not reach. Returns NTKD_OK when translated, else NTKD_E_NOTPRESENT with
 * w->result saying why. */
nk_status nk_vtop_walk(ntkd_target *t, uint64_t dtb, uint64_t va, nk_walk *w);
/* Translates with the dump's own page-table root. */
nk_status nk_vtop(ntkd_target *t, uint64_t va, uint64_t *pa);

/* Software (invalid) PTE states, decoded for `!pte`. The bit layout depends on the
 * architecture and Windows build; the symbol layer may supply it from _MMPTE_* types. */
typedef enum nk_swpte_kind {
    NK_SWPTE_ZERO = 0,     /* all zero: demand zero / never touched */
    NK_SWPTE_TRANSITION,   /* page still in memory on a standby or modified list */
    NK_SWPTE_PROTOTYPE,    /* points to a prototype PTE */
    NK_SWPTE_PAGEFILE,     /* paged out: page file number and offset */
    NK_SWPTE_DEMAND_ZERO,  /* protection set, no page file offset */
} nk_swpte_kind;

typedef struct nk_swpte {
    nk_swpte_kind kind;
    uint64_t pfn;          /* transition: the page frame */
    uint64_t proto_addr;   /* prototype: address of the prototype PTE (0xffffffff0000 when
                              the proto PTE address is the VAD's) */
    uint32_t pagefile;     /* page file number */
    uint64_t pagefile_off; /* page file offset (in pages) */
    uint32_t protection;   /* MM protection code 0..31 */
} nk_swpte;

/* Where the fields of an invalid PTE lie (Windows _MMPTE_TRANSITION, _MMPTE_PROTOTYPE,
 * _MMPTE_SOFTWARE). paging.c keeps a built-in table keyed by paging mode and build range;
 * the symbol layer may install one built from the kernel's own _MMPTE_* types by pointing
 * ntkd_target.pte_layout at it (it must outlive the target). Field = (pte >> shift) masked
 * to bits. */
typedef struct nk_pte_layout {
    const char *name;
    uint8_t prototype_bit, transition_bit;
    uint8_t prot_shift;                  /* Protection, 5 bits */
    uint8_t pfn_shift, pfn_bits;         /* _MMPTE_TRANSITION.PageFrameNumber */
    uint8_t pf_num_shift, pf_num_bits;   /* _MMPTE_SOFTWARE.PageFileLow */
    uint8_t pf_off_shift, pf_off_bits;   /* _MMPTE_SOFTWARE.PageFileHigh */
    uint8_t proto_shift, proto_bits, proto_pos;          /* ProtoAddress(High) -> address bit */
    uint8_t proto_lo_shift, proto_lo_bits, proto_lo_pos; /* ProtoAddressLow (x86 non-PAE) */
    bool proto_sext48;                   /* ProtoAddress is a signed 48-bit address (64-bit) */
    uint64_t proto_base;                 /* added to the address (x86 non-PAE) */
    int8_t swizzle_bit;                  /* SwizzleBit, -1 when the layout has none */
    uint64_t invalid_pte_mask;           /* MiState.Hardware.InvalidPteMask (0: unknown):
                                            XORed into a PTE whose swizzle bit is clear */
} nk_pte_layout;

/* The layout nk_pte_decode uses for this target (installed one, else the built-in one). */
const nk_pte_layout *nk_pte_layout_get(const ntkd_target *t);
void nk_pte_decode(const ntkd_target *t, uint64_t pte, nk_swpte *out);
/* "ReadWrite", "ExecuteReadWrite", "Outswapped kernel stack" (0x1f on x86) ... */
const char *nk_pte_protection_name(uint32_t prot);
/* The page frame an entry points to (its address bits for the paging mode, >> 12). */
uint64_t nk_pte_pfn(const ntkd_target *t, uint64_t pte);
/* The flag letters !pte prints for a valid entry, e.g. "---DA--KWEV". buf: 12 bytes. */
char *nk_pte_flags(const ntkd_target *t, uint64_t pte, bool is_pde, char *buf);

/* When addr lies in the page-table self-map of the dump's root (x64, ARM64: the region the
 * self-reference entry maps; x86: 0xC0000000 up), the virtual address whose PTE sits at
 * addr (what WinDbg's `!pte PTE` shows). False otherwise. */
bool nk_pte_addr_to_va(ntkd_target *t, uint64_t addr, uint64_t *va);

/* Raw images: find a page-table root by a self-reference scan (raw.c). */
nk_status nk_find_dtb(ntkd_target *t, uint64_t *dtb);

#endif
