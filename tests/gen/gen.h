/* gen.h: internals shared by the parts of ntkd-gendump (test-only dump generator).
 * Nothing here is shared with libntkd. */
#ifndef NTKD_GEN_H
#define NTKD_GEN_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "gen_layout.h"
#include "pattern.h"

#define GEN_PAGE 4096u

typedef enum gen_kind {
    GK_FULL64,
    GK_SUMMARY64,
    GK_BITMAP64,
    GK_TRIAGE64,
    GK_FULL32,
    GK_SUMMARY32,
    GK_TRIAGE32,
    GK_MDMP,
    GK_RAW,
    GK_DEMO,
} gen_kind;

typedef enum gen_arch { GA_X64, GA_ARM64, GA_X86PAE, GA_X86 } gen_arch;

typedef enum gen_corrupt {
    GC_NONE,
    GC_RUNS_PAST_EOF,
    GC_BITMAP_PAST_EOF,
    GC_OVERLAPPING_RUNS,
    GC_HUGE_COUNTS,
    GC_BAD_OFFSETS,
} gen_corrupt;

typedef struct gen_opts {
    const char *out;
    const char *kind_name;
    gen_kind kind;
    gen_arch arch;
    uint64_t pages;
    uint64_t seed;
    uint32_t dump_type;
    uint32_t build;
    uint32_t nprocs;
    gen_corrupt corrupt;
    const char *corrupt_name;
} gen_opts;

/* ---------------------------------------------------------------- util (gen_util.c) */
_Noreturn void gen_die(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
void *gen_alloc(size_t n); /* zeroed; dies on failure */
void *gen_realloc(void *p, size_t n);
const char *gen_arch_name(gen_arch a);

/* A growable byte buffer for the small containers built in memory. */
typedef struct gen_buf {
    uint8_t *p;
    size_t len, cap;
} gen_buf;
size_t buf_append(gen_buf *b, const void *data, size_t n); /* returns the offset written at */
size_t buf_zero(gen_buf *b, size_t n);
void buf_align(gen_buf *b, size_t a);
void buf_pattern(gen_buf *b, uint64_t seed, uint64_t addr, size_t n);
void buf_put(gen_buf *b, size_t off, const void *data, size_t n); /* overwrite in place */
void buf_free(gen_buf *b);

/* Sequential file writer with large buffered writes. */
typedef struct gen_out {
    int fd;
    const char *path;
    uint8_t *buf;
    size_t len, cap;
    uint64_t pos; /* logical position (bytes written so far) */
} gen_out;
void out_open(gen_out *o, const char *path);
void out_write(gen_out *o, const void *data, size_t n);
void out_zero(gen_out *o, uint64_t n);
void out_pattern(gen_out *o, uint64_t seed, uint64_t addr, uint64_t n);
void out_flush(gen_out *o);
void out_pwrite(gen_out *o, const void *data, size_t n, uint64_t off); /* flushes first */
void out_truncate(gen_out *o, uint64_t len);
void out_close(gen_out *o);

/* The manifest: OUT.manifest. */
typedef struct gen_mf {
    FILE *f;
} gen_mf;
void mf_open(gen_mf *m, const char *dump_path);
void mf_line(gen_mf *m, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
void mf_close(gen_mf *m);

/* UTF-16LE of an ASCII string into dst (no terminator); returns chars. */
size_t gen_utf16(uint16_t *dst, size_t cap, const char *s);
/* Writes a little-endian value into p. */
void put16(void *p, uint16_t v);
void put32(void *p, uint32_t v);
void put64(void *p, uint64_t v);
uint64_t get64(const void *p);
/* Fills n bytes with the repeated "PAGE" marker real dump headers carry in unused fields. */
void fill_page_marker(void *p, size_t n);

/* ---------------------------------------------------------------- physical memory (gen_paging.c) */
enum { PH_ABSENT = 0, PH_DATA = 1, PH_TABLE = 2 };
#define GEN_MAX_TABLES 16
#define GEN_MAX_RUNS 8

typedef struct gen_run {
    uint64_t base, count;
} gen_run;

typedef struct gen_phys {
    uint64_t npfn;   /* pfns described: [0, npfn) */
    uint8_t *state;  /* PH_* per pfn */
    gen_run runs[GEN_MAX_RUNS];
    int nruns;
    uint64_t table_pfn[GEN_MAX_TABLES];
    uint8_t *table_page[GEN_MAX_TABLES];
    int ntables, tables_used;
    uint64_t missing[4]; /* absent pfns used for tables/targets the dump does not hold */
    uint64_t *data;      /* data pfns, ascending */
    uint64_t ndata;
    uint64_t npresent;   /* data + table pages */
} gen_phys;

/* Lays out ndata data pages plus ntables table pages in runs with holes between them.
 * excluded: pfns inside runs that are left out of the dump (bitmap kinds);
 * trailing: absent pfns described after the last run (bitmap kinds);
 * missing_beyond: put the "missing" pfns after the end (raw images) instead of in a hole. */
void phys_plan(gen_phys *ph, uint64_t ndata, int ntables, int excluded, uint64_t trailing,
               bool missing_beyond);
const uint8_t *phys_table(const gen_phys *ph, uint64_t pfn); /* NULL when not a table */
void phys_free(gen_phys *ph);

/* ---------------------------------------------------------------- paging (gen_paging.c) */
typedef struct gen_map {
    uint64_t va, pa, size;
} gen_map;
typedef struct gen_nomap {
    uint64_t va;
    bool notindump;
} gen_nomap;
typedef struct gen_pte {
    uint64_t va, raw;
    const char *kind;
} gen_pte;

typedef struct gen_vm {
    gen_arch arch;
    const char *paging; /* manifest name */
    uint64_t dtb;
    gen_map *maps;
    size_t nmaps, capmaps;
    gen_nomap nomaps[32];
    int nnomaps;
    gen_pte ptes[8];
    int nptes;
    uint64_t selfmap_index; /* UINT64_MAX when none (PAE) */
    uint64_t pte_base, pde_base; /* self-map windows (x86/PAE: PTE and PDE bases) */
    /* interesting virtual addresses (all 4 KB mapped to data pages unless noted) */
    uint64_t kbase;     /* start of the 4 KB-mapped kernel region */
    uint64_t code_va;   /* an executable data page */
    uint64_t stack_va;  /* a page used as stack */
    uint64_t fault_va;  /* an address whose walk ends at an invalid entry */
} gen_vm;

/* Number of table pages the paging builder needs for an architecture. */
int paging_tables_needed(gen_arch a);
/* Builds page tables into ph's table pages; fills vm. */
void paging_build(gen_vm *vm, gen_phys *ph, gen_arch a, uint64_t seed);
void paging_manifest(const gen_vm *vm, gen_mf *m);
void vm_free(gen_vm *vm);

/* ---------------------------------------------------------------- contexts (gen_context.c) */
/* Build a CONTEXT of the arch into out (size returned) and write `reg` lines when m != NULL
 * (`header PREFIXname` lines instead when prefix != NULL). */
size_t ctx_kernel(gen_arch a, uint8_t *out, uint64_t pc, uint64_t sp, uint64_t salt, gen_mf *m);
size_t ctx_user(gen_arch a, uint8_t *out, uint64_t pc, uint64_t sp, uint64_t salt, gen_mf *m,
                const char *prefix);
size_t ctx_size(gen_arch a);

/* ---------------------------------------------------------------- containers */
void gen_kernel(const gen_opts *o);  /* full/summary/bitmap/raw/demo, 64 and 32 bit */
void gen_triage(const gen_opts *o);  /* triage64 / triage32 */
void gen_mdmp(const gen_opts *o);    /* user minidump */

/* Shared header facts of kernel dumps (gen_kernel.c). */
typedef struct gen_kfacts {
    uint32_t machine;
    uint32_t bugcheck;
    uint64_t params[4];
    uint64_t dtb, pfn_database, ps_loaded_module_list, ps_active_process_head, kdbg, kernbase;
    uint64_t system_time, system_uptime;
    uint32_t product_type, suite_mask;
    const char *comment;
} gen_kfacts;
void kfacts_default(gen_kfacts *k, const gen_opts *o, uint64_t kbase);
void kfacts_manifest(const gen_kfacts *k, const gen_opts *o, gen_mf *m);
void fill_header64(gd_header64 *h, const gen_kfacts *k, const gen_opts *o, uint32_t dump_type);
void fill_header32(gd_header32 *h, const gen_kfacts *k, const gen_opts *o, uint32_t dump_type);
void manifest_preamble(const gen_opts *o, gen_mf *m, uint32_t dump_type, uint32_t machine,
                       const char *paging, uint64_t dtb);

#endif
