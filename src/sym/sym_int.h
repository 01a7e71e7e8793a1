/* sym_int.h: internals of the per-target symbol layer, shared by symbols.c (loading and
 * lookups), modules.c (the module table), kmatch.c (ISF symbol sections and the offline
 * kernel-table match) and cmd/cmd_sym.c (lm, x, ln, .reload, .sympath, !sym ...).
 * Nothing outside those files includes it. */
#ifndef NTKD_SYM_INT_H
#define NTKD_SYM_INT_H

#include "expr/expr.h"
#include "image/pe.h"
#include "pdb/pdb.h"
#include "sym/sym.h"

/* ---- a string arena (names that need a copy) ------------------------------------------ */

typedef struct nk_arena {
    char **blocks;
    size_t nblocks, cap;
    size_t used, size; /* of the last block */
} nk_arena;
const char *nk_arena_str(nk_arena *a, const char *s, size_t len);
void nk_arena_free(nk_arena *a);

/* ---- one module's symbol index -------------------------------------------------------- */

enum nk_ssym_kind {
    NK_SS_FUNC = 0,    /* a procedure with an extent (PDB module stream) */
    NK_SS_DATA,        /* a global data symbol with a type (PDB) */
    NK_SS_PUBCODE,     /* a public marked code/function */
    NK_SS_PUBDATA,     /* a public without the code flag */
    NK_SS_ISF,         /* an ISF table symbol (no type, no kind) */
    NK_SS_EXPORT,      /* an export of the image */
};

typedef struct nk_ssym {
    uint32_t rva;
    uint32_t size;     /* functions: their length; else 0 */
    const char *name;  /* display name (undecorated for x86 C names) */
    uint32_t type_ti;  /* PDB functions and data: the type index; else 0 */
    uint8_t kind;      /* nk_ssym_kind */
    uint8_t flags;     /* NK_SSF_* */
} nk_ssym;
#define NK_SSF_ID 1    /* type_ti is an IPI id (LF_FUNC_ID / LF_MFUNC_ID), not a type */

typedef struct nk_symtab {
    nk_ssym *v;        /* sorted by rva, then kind */
    size_t n, cap;
    uint32_t *by_name; /* indexes into v, sorted case-insensitively by name */
    nk_arena names;
} nk_symtab;

void nk_symtab_free(nk_symtab *st);
/* Sorts by address, drops duplicates (same rva and name, the better kind kept) and builds
 * the name index. */
nk_status nk_symtab_finish(nk_symtab *st);
bool nk_symtab_add(nk_symtab *st, uint32_t rva, uint32_t size, const char *name,
                   uint32_t type_ti, uint8_t kind, bool copy_name);
/* Index of the last entry with rva <= `rva` (preferring the best kind among equals), or -1. */
ptrdiff_t nk_symtab_at_or_below(const nk_symtab *st, uint32_t rva);
/* Index of the first entry whose rva is > `rva`, or -1. */
ptrdiff_t nk_symtab_after(const nk_symtab *st, uint32_t rva);
/* First entry (by name index position) named `name` case-insensitively, or -1. */
ptrdiff_t nk_symtab_find(const nk_symtab *st, const char *name);

/* ---- modules --------------------------------------------------------------------------- */

typedef enum nk_symsrc {
    NK_SRC_NONE = 0,   /* nothing found (or not yet tried) */
    NK_SRC_PDB,
    NK_SRC_ISF,
    NK_SRC_EXPORT,
} nk_symsrc;

typedef struct nk_smod {
    char *name;        /* display name: "nt", "hal", "amdppm" */
    char *image_name;  /* file name: "amdppm.sys" */
    char *path;        /* full path as the target gives it, or NULL */
    uint64_t base, size;
    uint32_t timestamp, checksum;
    bool unloaded;
    bool user;         /* a user-mode address */
    bool kernel_image; /* ntoskrnl and friends */
    ptrdiff_t dm;      /* index into d.modules, -1 when from PsLoadedModuleList */

    /* symbols (loaded on first use) */
    bool tried;        /* a load was attempted */
    nk_symsrc src;
    nk_pe *pe;         /* the image (memory layout, or a file) */
    char *pe_file;     /* where the image came from when not from memory */
    nk_pe *pe_store;   /* the store's copy when pe is a partial memory image (opened on demand) */
    char *pe_store_file;
    bool pe_store_tried;
    bool pe_from_target; /* the image is the target file itself (-z IMAGE) */
    bool has_cv;
    nk_pe_codeview cv; /* the image's (or the minidump's) CodeView record */
    nk_pdb *pdb;
    char *pdb_file;
    bool pdb_private;  /* the PDB has module symbols or types beyond publics */
    char *isf_file;    /* the ISF table giving this module's symbols (and types) */
    nk_isf *isf;       /* opened for types on demand */
    bool isf_tried;
    nk_typesrc *types; /* from the PDB (owned) or the ISF handle (not owned) */
    bool types_tried;
    bool types_owned;
    nk_symtab tab;     /* built on demand */
    bool tab_built;
    char *note;        /* how the symbols were found (or why not), one line */
    bool noted;        /* the note was given to the user */
} nk_smod;

typedef struct nk_symlayer {
    nk_sym_hooks hooks; /* first member: t->ext[NK_EXT_SYMRESOLVE] points here */
    ntkd_target *t;
    nk_sympath sp;
    bool modules_built, building;
    nk_smod *mods;
    size_t nmods, cap;
    size_t *order;      /* loaded (not unloaded) modules sorted by base */
    size_t norder;
    bool noisy;
    bool ignore_mismatch; /* .reload /i */
    nk_strbuf notes;    /* lines for the user, given out by nk_sym_take_notes */
    char *modlist_note; /* how the module table was built (PsLoadedModuleList walk ...) */
} nk_symlayer;

/* The layer (created on first use). NULL only when out of memory. */
nk_symlayer *nk_symlayer_get(ntkd_target *t);
/* Builds the module table if needed. */
void nk_sym_modules_build(nk_symlayer *L);
/* Frees the module table and every module's symbols (for .reload). */
void nk_sym_modules_clear(nk_symlayer *L);
void nk_smod_unload(nk_smod *m);
/* The module named `name` (display name, or image name with/without extension;
 * case-insensitive), or NULL. Unloaded modules are not considered. */
nk_smod *nk_sym_find_module(nk_symlayer *L, const char *name);
/* The module containing addr (loaded modules only), or NULL. */
nk_smod *nk_sym_module_at(nk_symlayer *L, uint64_t addr);
/* WinDbg's display name for a module file name ("ntkrnlmp.exe" -> "nt"). buf: 64 bytes. */
char *nk_sym_display_name(const char *file, char *buf, size_t len);
bool nk_sym_is_kernel_file(const char *file);

/* Loads a module's symbols (once unless force). Lines describing what was tried and chosen
 * go to `log` (may be NULL); in noisy mode every location tried is included. */
void nk_sym_load(nk_symlayer *L, nk_smod *m, bool force, nk_strbuf *log);
/* The image from the store (file layout) when the memory image lacks a part, or the
 * file-layout image itself; NULL when none. */
nk_pe *nk_sym_store_image(nk_symlayer *L, nk_smod *m);
/* The version resource (memory image first, then the store's image); NULL when none. */
const nk_pe_version *nk_sym_version(nk_symlayer *L, nk_smod *m);
/* Ensures a module's symbols are loaded; a first load reports to the user's notes. */
void nk_sym_ensure(nk_symlayer *L, nk_smod *m);
/* The module's symbol index (built on demand after loading). */
nk_symtab *nk_sym_tab(nk_symlayer *L, nk_smod *m);
/* "(pdb symbols)", "(deferred)", ... and the symbol file shown after it (may be NULL). */
const char *nk_sym_status(const nk_smod *m, const char **file);
/* Parameter text x and ln print after a symbol: "(void)", "(unsigned long, void *)",
 * "(<no parameter info>)", "= <no type information>". */
void nk_sym_signature(nk_symlayer *L, nk_smod *m, const nk_ssym *s, char *buf, size_t len);
/* False when the image's section table puts the two RVAs in different sections (a symbol
 * without an extent never covers the next section). True without an image. */
bool nk_sym_same_section(nk_smod *m, uint32_t sym_rva, uint32_t rva);
/* The name as WinDbg shows it ("??_C@..." string literals as `string'). */
const char *nk_sym_shown_name(const char *name);
void nk_sym_note(nk_symlayer *L, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* Reads target memory for the PE reader (nk_pe_read_fn over nk_read_virt). */
nk_status nk_sym_read_cb(void *user, uint64_t va, void *buf, size_t len, size_t *got);

/* ---- ISF symbol sections and the offline kernel match (kmatch.c) ---------------------- */

typedef struct nk_isf_meta {
    char guid[33];
    uint32_t age;
    uint32_t machine;
    char database[64];
    bool has_guid, has_machine;
} nk_isf_meta;

/* Reads an ISF table's metadata and symbols section (".json" or ".json.xz"), streaming:
 * the user_types and other sections are skipped, and the read stops once the symbols
 * section ends. `fn` is called for each symbol with an address; returning false stops the
 * scan early (then *stopped is set). */
typedef bool (*nk_isf_sym_fn)(void *u, const char *name, uint64_t rva);
nk_status nk_isf_scan(ntkd_ctx *ctx, const char *path, nk_isf_meta *meta, nk_isf_sym_fn fn,
                      void *u, bool *stopped);
/* Loads a table's symbols into st (finished). */
nk_status nk_isf_load_symtab(ntkd_ctx *ctx, const char *path, nk_symtab *st, nk_isf_meta *meta);

/* Finds the kernel table on the symbol path for module m (the kernel) by the dump header's
 * PsLoadedModuleList / PsActiveProcessHead / KdDebuggerDataBlock. On success sets
 * m->isf_file or m->pdb/m->pdb_file and m->note; reports every candidate to log. */
bool nk_kmatch(nk_symlayer *L, nk_smod *m, nk_strbuf *log);
/* Candidate directories of the symbol path (plain dirs and caches), for ISF lookups. */
size_t nk_sym_path_dirs(nk_symlayer *L, const char **dirs, size_t max);

#endif
