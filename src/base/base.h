/* base.h: the bottom layer of libntkd: status and error reporting, read-only mapped files,
 * bounds-checked little-endian readers, and address formatting shared by every layer. */
#ifndef NTKD_BASE_H
#define NTKD_BASE_H

#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "ntkd/ntkd.h"

typedef ntkd_status nk_status;

/* ---- errors ------------------------------------------------------------------------ */

/* The library context: the only place an error message lives. */
struct ntkd_ctx {
    char errmsg[512];
};

/* Formats the last error into ctx->errmsg and returns `st`, so callers write
 * `return nk_fail(ctx, NTKD_E_FORMAT, "%s: header at 0x%llx: ...", ...)`. */
nk_status nk_fail(ntkd_ctx *ctx, nk_status st, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
const char *nk_status_name(nk_status st);

/* ---- mapped files ------------------------------------------------------------------ */

/* A file mapped read-only (PROT_READ, MAP_PRIVATE). The file is never written. */
typedef struct nk_file {
    const uint8_t *data;
    uint64_t size;
    char *path;
    int fd;
    bool borrowed; /* data belongs to the caller (ntkd_open_mem): never unmapped */
} nk_file;

nk_status nk_file_map(ntkd_ctx *ctx, const char *path, nk_file *f);
void nk_file_unmap(nk_file *f);
/* Base name of the path, for messages. */
const char *nk_file_name(const nk_file *f);

/* True when [off, off+len) lies inside a buffer of `size` bytes (overflow-safe). */
static inline bool nk_in_bounds(uint64_t size, uint64_t off, uint64_t len)
{
    return off <= size && len <= size - off;
}

/* Little-endian loads from a byte pointer the caller has bounds-checked. */
static inline uint16_t nk_le16(const uint8_t *p) { return (uint16_t)(p[0] | (p[1] << 8)); }
static inline uint32_t nk_le32(const uint8_t *p)
{
    return (uint32_t)p[0] | ((uint32_t)p[1] << 8) | ((uint32_t)p[2] << 16) | ((uint32_t)p[3] << 24);
}
static inline uint64_t nk_le64(const uint8_t *p)
{
    return (uint64_t)nk_le32(p) | ((uint64_t)nk_le32(p + 4) << 32);
}

/* Bounds-checked loads from a file: false when the field is past the end. */
static inline bool nk_file_u32(const nk_file *f, uint64_t off, uint32_t *v)
{
    if (!nk_in_bounds(f->size, off, 4)) return false;
    *v = nk_le32(f->data + off);
    return true;
}
static inline bool nk_file_u64(const nk_file *f, uint64_t off, uint64_t *v)
{
    if (!nk_in_bounds(f->size, off, 8)) return false;
    *v = nk_le64(f->data + off);
    return true;
}

/* ---- sorting ------------------------------------------------------------------------ */

/* qsort / qsort_r that accept an empty (possibly NULL) array: the C library requires a valid
 * pointer even for zero elements. Every sort in libntkd goes through these. */
static inline void nk_sort(void *base, size_t n, size_t size, int (*cmp)(const void *, const void *))
{
    if (n > 1) qsort(base, n, size, cmp);
}
static inline void nk_sort_r(void *base, size_t n, size_t size,
                             int (*cmp)(const void *, const void *, void *), void *arg)
{
    if (n > 1) qsort_r(base, n, size, cmp, arg);
}

/* ---- growable arrays and strings --------------------------------------------------- */

/* Grows *arr (element size `elem`) so that it holds at least `need` elements.
 * Returns false on overflow or allocation failure. */
bool nk_grow(void **arr, size_t *cap, size_t need, size_t elem);

/* A set of 64-bit values (addresses visited by a walk: cycle checks). Open addressing, grows;
 * zero-initialise it. add() returns false when the value was there already, and also when
 * memory ran out (a walk then stops as on a cycle). */
typedef struct nk_u64set {
    uint64_t *v;      /* 0 marks an empty slot; the value 0 itself is kept in has0 */
    size_t cap, n;    /* n: members */
    bool has0;
} nk_u64set;
bool nk_u64set_add(nk_u64set *s, uint64_t v);
bool nk_u64set_has(const nk_u64set *s, uint64_t v);
void nk_u64set_free(nk_u64set *s);

typedef struct nk_strbuf {
    char *s;
    size_t len, cap;
} nk_strbuf;
void nk_sb_printf(nk_strbuf *sb, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
void nk_sb_free(nk_strbuf *sb);

/* ---- read-ahead (prefetch.c) --------------------------------------------------------- */

/* The 4 KB pages of a mapping (page-aligned `base`, `size` bytes) that a scan is about to read:
 * one bit a page (128 KB for a 4 GB dump). set() ignores pointers outside the mapping. init
 * returns false when memory ran out (the caller then scans without read-ahead). */
typedef struct nk_pagemask {
    const uint8_t *base;
    size_t npages, marked;
    uint64_t *bits;
} nk_pagemask;
bool nk_pagemask_init(nk_pagemask *m, const uint8_t *base, uint64_t size);
void nk_pagemask_set(nk_pagemask *m, const uint8_t *p);
void nk_pagemask_free(nk_pagemask *m);

/* Populates the page tables of the marked pages, in file order, on helper threads while the
 * caller scans them (the scan reads the same memory; this only makes its first touches cheap).
 * NULL when there is too little to gain or no thread could start; the scan proceeds the same
 * either way. The mask is borrowed until nk_prefetch_stop, which stops the helpers and waits. */
typedef struct nk_prefetch nk_prefetch;
nk_prefetch *nk_prefetch_start(const nk_pagemask *m);
void nk_prefetch_stop(nk_prefetch *pf);

/* ---- formatting -------------------------------------------------------------------- */

/* WinDbg's 64-bit address style: "fffff804`7bdf5a80". buf needs 18 bytes. */
char *nk_fmt_addr64(char *buf, uint64_t v);
/* Pointer-sized: 64-bit style for 64-bit targets, "8053c4d0" for 32-bit. buf: 18 bytes. */
char *nk_fmt_ptr(char *buf, uint64_t v, bool is64);
/* A pointer without the backtick, as WinDbg's extensions print it: 16 digits (8 on 32-bit).
 * buf: 24 bytes. */
char *nk_fmt_hex(char *buf, uint64_t v, bool is64);

/* Copies a NUL-terminated string of at most max bytes out of a fixed field. */
void nk_copy_cstr(char *dst, size_t dstlen, const uint8_t *src, size_t max);
/* UTF-16LE (bounded) to UTF-8; returns a malloc'ed string (never NULL on success). */
char *nk_utf16_to_utf8(const uint8_t *src, size_t nbytes);

/* ---- progress (progress.c) ----------------------------------------------------------- */

/* A progress bar on stderr for long scans, drawn only when stderr is a terminal. */
typedef struct nk_progress {
    bool tty, drawn;
    int last;          /* last percentage drawn */
    uint64_t total;
    const char *label;
} nk_progress;
void nk_progress_start(nk_progress *p, const char *label, uint64_t total);
void nk_progress_update(nk_progress *p, uint64_t done);
void nk_progress_end(nk_progress *p); /* erases the bar */

#endif
