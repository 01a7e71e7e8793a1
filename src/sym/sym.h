/* sym.h: the symbol layer's contract (images and symbols for a target).
 *
 * Pieces:
 *  - symstore.c: symbol paths and stores. Parses "_NT_SYMBOL_PATH" syntax (srv*cache*url,
 *    srv*url, cache*dir, symsrv*symsrv.dll*..., plain directories, ';'-separated), finds a file
 *    by (name, key) in a store tree (name/KEY/name, CAB-compressed name with last char '_',
 *    file.ptr redirections), downloads from an http(s) server with libcurl when the path names
 *    one (progress bar on a terminal; cache written through a temporary file and rename;
 *    a PDB's GUID/age checked after download), and logs every path and URL tried.
 *  - symbols.c: per-target module symbols: for each module in the target's module list
 *    (nk_dump.modules, or the kernel's PsLoadedModuleList walked through types), the image
 *    (from dump memory when present, else the store: TimeDateStamp+SizeOfImage key), its
 *    PDB (CodeView RSDS key) or, for the kernel, an ISF table (matched offline for triage
 *    dumps by checking RVAs of PsLoadedModuleList, PsActiveProcessHead, KdDebuggerDataBlock
 *    against the header); address→name (ln), name→address (x, expressions), types per module
 *    (dt), and the expression resolver hook (expr.h, t->ext[NK_EXT_SYMRESOLVE]).
 * The layer state hangs off t->ext[NK_EXT_SYMBOLS] and is created lazily on first use from
 * t->sympath. Nothing here reads a dump header: module lists and memory come from below. */
#ifndef NTKD_SYM_H
#define NTKD_SYM_H

#include "dump/dump.h"
#include "type/type.h"

#define NK_EXT_SYMBOLS 2

/* ---- symbol path and store (symstore.c) --------------------------------------------- */

typedef enum nk_sympath_kind { NK_SP_DIR, NK_SP_CACHE, NK_SP_SERVER } nk_sympath_kind;
typedef struct nk_sympath_elem {
    nk_sympath_kind kind;
    char *dir;   /* plain dir, cache dir, or the server's downstream cache (may be NULL) */
    char *url;   /* NK_SP_SERVER */
} nk_sympath_elem;
typedef struct nk_sympath {
    nk_sympath_elem *elems;
    size_t n, cap;
} nk_sympath;

nk_status nk_sympath_parse(const char *text, nk_sympath *out);
void nk_sympath_free(nk_sympath *sp);
/* Default cache used by `.symfix` without a directory: $HOME/.cache/ntkd/symbols. */
const char *nk_sympath_default_cache(char *buf, size_t len);

/* Looks for `name` with store key `key` ("1C19FDDB27BB3399D9B45973EFEAFCF31" for a PDB,
 * "c9c030003b000" for an image). On success *path is a malloc'ed local path (a cached or
 * decompressed copy when needed). Every location tried is appended to `log` (one per line,
 * with the result). Every file found, local or downloaded, is checked against the key (a PDB's
 * GUID and age, an image's TimeDateStamp and SizeOfImage); a mismatch is logged and skipped. */
nk_status nk_symstore_find(ntkd_ctx *ctx, const nk_sympath *sp, const char *name,
                           const char *key, char **path, nk_strbuf *log);

/* ---- per-target symbols (symbols.c) ---------------------------------------------------- */

/* Sets the symbol path (`-y`, `.sympath`): replaces or (append) adds to it. */
nk_status nk_sym_set_path(ntkd_target *t, const char *path, bool append);
const char *nk_sym_get_path(ntkd_target *t);
/* Loads symbols for one module (name as `lm` shows it) or all; force = `.reload /f`. */
nk_status nk_sym_reload(ntkd_target *t, const char *module, bool force, nk_strbuf *log);

/* "amdppm!WriteIoMemRawEx+0x70"; "amdppm+0x1234" when only the module is known.
 * Returns false when the address is in no module. */
bool nk_sym_describe(ntkd_target *t, uint64_t addr, char *buf, size_t len);
/* Address of "module!symbol", "symbol" (searched in every module, nt first), or "module". */
bool nk_sym_lookup(ntkd_target *t, const char *name, uint64_t *addr);
/* The type source of a module ("nt" → the kernel's PDB or ISF table), loading on demand. */
nk_typesrc *nk_sym_types(ntkd_target *t, const char *module);
/* The module containing addr (index into the layer's module table), or -1. */
ptrdiff_t nk_sym_module_of(ntkd_target *t, uint64_t addr);
/* For the unwinders: the PE image of the module containing addr (dump memory when its
 * headers are there, else the symbol store) and its load base; NULL when neither has it.
 * Owned by the layer. */
struct nk_pe;
struct nk_pe *nk_sym_image_at(ntkd_target *t, uint64_t addr, uint64_t *base);
/* The module's PDB (for x86 FPO/FrameData), loading it on demand; NULL when none. */
struct nk_pdb;
struct nk_pdb *nk_sym_pdb_at(ntkd_target *t, uint64_t addr, uint64_t *base);
/* Creates the layer if needed and installs the expression hooks (resolve, describe) in
 * t->ext[NK_EXT_SYMRESOLVE]. The command dispatcher calls it before every command. */
void nk_sym_attach(ntkd_target *t);
/* Lines the layer has for the user since the last call (which symbols were chosen on
 * first use, and, with `!sym noisy`, every location tried), as a malloc'ed string the
 * caller frees; NULL when there are none. */
char *nk_sym_take_notes(ntkd_target *t);

#endif
