/* pe_internal.h: the nk_pe handle and the helpers the PE reader's files share. */
#ifndef NTKD_IMAGE_PE_INTERNAL_H
#define NTKD_IMAGE_PE_INTERNAL_H

#include "image/pe.h"
#include "image/pe_format.h"

#define PE_MAX_WARNINGS 32

struct nk_pe {
    ntkd_ctx *ctx;
    char *name;
    bool mem;                    /* memory layout */
    /* file layout */
    nk_file file;                /* mapped (open_file) or borrowed (open_buf) */
    /* memory layout */
    uint64_t base;
    uint64_t size_hint;
    nk_pe_read_fn read;
    void *user;

    nk_pe_headers hdr;
    nk_pe_section *sections;
    size_t nsections;
    uint32_t *sec_order;         /* section indexes sorted by rva */
    uint64_t *sec_vext;          /* each section's mapped extent (by section index) */
    uint64_t limit;              /* highest readable rva + 1 (memory layout) */

    char *warnings[PE_MAX_WARNINGS];
    size_t nwarnings;

    /* lazily parsed caches: *_done says the parse ran; *_status is its result */
    bool exports_done;
    nk_status exports_status;
    char exports_err[512];
    nk_pe_exports exports;
    char *export_strings;        /* one arena holding every name and forwarder */
    uint32_t *by_name;           /* indexes into exports.v sorted by name */
    size_t nby_name;
    uint32_t *by_rva;            /* indexes sorted by rva (forwarders excluded) */
    size_t nby_rva;

    bool debug_done;
    nk_status debug_status;
    char debug_err[512];
    nk_pe_debug debug;

    bool version_done;
    nk_status version_status;
    char version_err[512];
    nk_pe_version version;

    bool funcs_done;
    nk_status funcs_status;
    char funcs_err[512];
    nk_pe_func *funcs;
    size_t nfuncs;
    size_t funcs_total;
};

/* Where an rva is, for messages: "file offset 0x400" or "va fffff804`7bdf5a80". buf: 48. */
const char *pe_where(const nk_pe *pe, uint32_t rva, char *buf);
/* Reads exactly len bytes at rva; on failure records "<name>: <what> at <where>: ..." in the
 * ctx and returns the status (NOTPRESENT for missing memory, TRUNCATED past the file's end,
 * FORMAT for an rva outside the image). */
nk_status pe_read_what(nk_pe *pe, uint32_t rva, void *buf, size_t len, const char *what);
/* Reads a NUL-terminated byte string of at most max-1 bytes at rva into dst. Returns NTKD_OK
 * (a string cut at max-1 bytes is still OK; *cut tells), or the read status. */
nk_status pe_read_cstr(nk_pe *pe, uint32_t rva, char *dst, size_t max, bool *cut);
/* Reads n elements of `elem` bytes at rva. In memory layout with missing pages, fills
 * present[i] (when not NULL), zeroes missing elements and returns NTKD_E_NOTPRESENT with
 * the rest read; any other failure returns its status with a message. */
nk_status pe_read_array(nk_pe *pe, uint32_t rva, size_t elem, size_t n, void *out, uint8_t *present,
                        const char *what);
/* Reads exactly len bytes at rva without touching the ctx's message. */
nk_status pe_read_quiet(nk_pe *pe, uint32_t rva, void *buf, size_t len);
void pe_warn(nk_pe *pe, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* Records a lazily parsed part's failure so a later call returns the same message. */
nk_status pe_remember(nk_pe *pe, char *slot, nk_status st);
nk_status pe_recall(nk_pe *pe, const char *slot, nk_status st);

void pe_exports_free(nk_pe *pe);
void pe_debug_free(nk_pe *pe);
void pe_version_free(nk_pe *pe);
void pe_funcs_free(nk_pe *pe);

#endif
