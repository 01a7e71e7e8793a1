/* cab.h: the CAB files of symbol servers (".pd_", ".sy_", ".dl_": a Microsoft cabinet that
 * holds one file, the PDB or image under its real name). Decompression goes through
 * libmspack's mscab decompressor with an I/O layer of our own: the cabinet is read from
 * memory, the output goes to a file descriptor or a growable buffer, and the output is
 * bounded (a write past the bound fails the extraction). No global state.
 *
 * Internal to the symbol layer (symstore.c) and the fuzz target. */
#ifndef NTKD_SYM_CAB_H
#define NTKD_SYM_CAB_H

#include "base/base.h"

/* Largest cabinet read, and largest file extracted (the CAB format stores 32-bit sizes). */
#define NK_CAB_MAX_INPUT ((uint64_t)1 << 32)
#define NK_CAB_MAX_OUTPUT ((uint64_t)0xffffffffu)

/* True when the bytes start with the cabinet signature "MSCF". */
bool nk_cab_is_cab(const uint8_t *data, size_t size);

/* Extracts the file named `want` (compared case-insensitively, after any directory part
 * inside the cabinet; NULL, or no such file in a one-file cabinet: the only file) of the
 * cabinet `cab` (cab_size bytes; `name` is used in messages) into `out_fd`, which must be
 * open for writing at offset 0. At most `max_out` bytes are written. *out_size (may be NULL)
 * receives the size written. On failure the descriptor may hold partial output: the caller
 * discards it. */
nk_status nk_cab_extract_fd(ntkd_ctx *ctx, const char *name, const uint8_t *cab, size_t cab_size,
                            const char *want, uint64_t max_out, int out_fd, uint64_t *out_size);

/* Same, into a malloc'ed buffer (*out, *out_size; *out is NULL on failure). */
nk_status nk_cab_extract_mem(ntkd_ctx *ctx, const char *name, const uint8_t *cab, size_t cab_size,
                             const char *want, uint64_t max_out, uint8_t **out, size_t *out_size);

#endif
