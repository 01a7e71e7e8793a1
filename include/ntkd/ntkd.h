/* ntkd.h: the public API of libntkd, a Windows crash-dump reader and debugger engine.
 *
 * Everything goes through explicit handles: an ntkd_ctx holds options and the last error,
 * an ntkd_target is one opened dump (many may be open at once, in one or many contexts).
 * There is no global state. */
#ifndef NTKD_NTKD_H
#define NTKD_NTKD_H

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>

#ifdef __cplusplus
extern "C" {
#endif

typedef struct ntkd_ctx ntkd_ctx;
typedef struct ntkd_target ntkd_target;

/* Status codes returned by every libntkd call. */
typedef enum ntkd_status {
    NTKD_OK = 0,
    NTKD_E_FORMAT,      /* the input is not in a recognised format, or is inconsistent */
    NTKD_E_TRUNCATED,   /* the input ends before a structure it declares */
    NTKD_E_NOTPRESENT,  /* memory not present in dump */
    NTKD_E_NOMEM,
    NTKD_E_IO,          /* the operating system refused to open or map the file */
    NTKD_E_UNSUPPORTED, /* recognised, but a variant ntkd does not read */
    NTKD_E_ARG,         /* a bad argument (command syntax, expression) */
    NTKD_E_NOTFOUND,    /* a named thing (command, symbol, field) does not exist */
} ntkd_status;

typedef struct ntkd_open_opts {
    bool raw;          /* open FILE as a raw physical memory image */
    bool have_dtb;     /* with raw: the page-table root to use */
    uint64_t dtb;
    const char *arch;  /* with raw: "x64" (default), "x86", "x86pae", "arm64" */
    const char *sympath; /* -y: symbol path (used by the symbol layer) */
    const char *table_cache; /* directory of parsed-table caches (ISF); NULL or "": none.
                                The library never picks one itself (the CLI does). */
} ntkd_open_opts;

/* The user's ntkd cache directory, ~/.cache/ntkd (the symbol cache is its "symbols", the
 * parsed-table cache its "tables"); NULL when there is no home directory or buf is too short. */
const char *ntkd_user_cache_dir(char *buf, size_t len);

ntkd_ctx *ntkd_ctx_new(void);
void ntkd_ctx_free(ntkd_ctx *ctx);
/* The last error, one line naming the file and offset where that applies. */
const char *ntkd_ctx_error(const ntkd_ctx *ctx);

ntkd_status ntkd_open(ntkd_ctx *ctx, const char *path, const ntkd_open_opts *opts,
                      ntkd_target **out);
/* Opens a dump held in memory (the caller keeps `data` alive until ntkd_close). `name` is
 * used in messages. For fuzzing and embedding. */
ntkd_status ntkd_open_mem(ntkd_ctx *ctx, const char *name, const void *data, size_t size,
                          const ntkd_open_opts *opts, ntkd_target **out);
void ntkd_close(ntkd_target *t);

/* The prompt WinDbg would show for this target: "0: kd> " or "0:000> ". */
void ntkd_prompt(const ntkd_target *t, char *buf, size_t len);
bool ntkd_is_kernel(const ntkd_target *t);

/* Non-fatal problems found while opening (count and text). */
size_t ntkd_warning_count(const ntkd_target *t);
const char *ntkd_warning(const ntkd_target *t, size_t i);

/* Memory reads. On a short read *got says how many bytes were read before the first byte
 * the dump does not hold, and the status is NTKD_E_NOTPRESENT. */
ntkd_status ntkd_read_phys(ntkd_target *t, uint64_t pa, void *buf, size_t len, size_t *got);
ntkd_status ntkd_read_virt(ntkd_target *t, uint64_t va, void *buf, size_t len, size_t *got);
ntkd_status ntkd_vtop(ntkd_target *t, uint64_t va, uint64_t *pa);

/* Output of commands: text to a stream, or one JSON document per command. */
typedef enum ntkd_outmode { NTKD_OUT_TEXT, NTKD_OUT_JSON } ntkd_outmode;

/* Run one command line (one command; the CLI splits on ';'). Text goes to `out`; in JSON
 * mode one JSON object per command is written to `out`, followed by a newline.
 * Returns NTKD_OK, or the command's error (already printed). Sets *quit for `q`. */
ntkd_status ntkd_execute(ntkd_target *t, const char *cmdline, FILE *out, ntkd_outmode mode,
                         bool *quit);

/* Runs the crash analysis (`!analyze -v` facts) and returns them as one JSON object on a
 * single line in *json_out (caller frees with free()). Adds "system_time" (the dump header's
 * FILETIME, 0 when absent). */
ntkd_status ntkd_analyze_json(ntkd_target *t, char **json_out);

/* The command table, for help and completion. */
typedef struct ntkd_cmd_info {
    const char *name;
    const char *syntax;
    const char *help;
} ntkd_cmd_info;
size_t ntkd_command_count(void);
bool ntkd_command(size_t i, ntkd_cmd_info *out);

#ifdef __cplusplus
}
#endif
#endif
