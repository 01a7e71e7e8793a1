/* kobj_int.h: internals shared by the kernel-objects layer's files (kobj.c, kobj_proc.c,
 * kobj_ob.c). Not a contract: the commands use kobj.h only. */
#ifndef NTKD_KOBJ_INT_H
#define NTKD_KOBJ_INT_H

#include "kobj/kobj.h"

/* One cached answer: a field ("Type.Field"), a type size ("Type") or a type id. */
typedef struct nk_kcache_ent {
    char *key;        /* NULL: empty slot */
    bool ok;
    nk_kfield f;      /* fields; sizeof: f.size; type id: f.type */
    uint8_t rsize;    /* bytes a value read takes (arrays: one element; 0: not a value) */
    bool is_signed;
} nk_kcache_ent;

/* A set of 64-bit values (visited entries of a walk), open addressing. */

/* The per-target state in t->ext[NK_EXT_KOBJ]. */
typedef struct nk_kstate {
    nk_typesrc *ts;           /* the type source the cache was built from */
    nk_kcache_ent *tab;
    size_t cap, n;
    /* processors */
    bool cpus_done;
    unsigned ncpu;
    uint64_t *prcbs;          /* ncpu entries */
    /* objects */
    bool ob_done;
    bool has_type_index;      /* _OBJECT_HEADER.TypeIndex (Windows 7 and later) */
    bool has_cookie;
    uint8_t cookie;
    uint64_t type_table;      /* nt!ObTypeIndexTable, 0 when none */
    uint64_t root_dir;        /* *nt!ObpRootDirectoryObject, 0 when unknown */
    /* process context */
    bool dtb_saved;
    uint64_t orig_dtb;
    /* scratch for a processor's CONTEXT */
    uint8_t ctxbuf[0x800];
    char regs_note[192];      /* how the last nk_k_thread_regs found the registers, when notable */
} nk_kstate;

nk_kstate *nk_kstate_get(ntkd_target *t);
/* Forgets what the layer read from memory (processors, object-manager globals), keeping the
 * type cache: for a target whose memory bytes changed (the walkers' fuzzer). */
void nk_kstate_forget_memory(ntkd_target *t);

/* Enumerator value by name ("ProcessObject" of _KOBJECTS); false when the build lacks it. */
bool nk_k_enum_value(ntkd_target *t, const char *enum_type, const char *name, int64_t *value);
/* A signed read of a field (sign-extended from its size). */
nk_status nk_k_read_signed(ntkd_target *t, uint64_t addr, const char *type, const char *field, int64_t *v);
/* Reads `len` bytes of virtual memory translated with the page-table root `dtb` (user
 * addresses of another process). */
nk_status nk_k_read_dtb(ntkd_target *t, uint64_t dtb, uint64_t va, void *buf, size_t len);
/* A UNICODE_STRING at addr into buf as UTF-8 ("" when empty or unreadable); false when
 * unreadable. */
bool nk_k_ustr_buf(ntkd_target *t, uint64_t addr, char *buf, size_t len);
/* Pointer size of nt's types (4 or 8). */
unsigned nk_k_ptrsize(ntkd_target *t);
/* Formats an address for messages. */
const char *nk_k_fmt(ntkd_target *t, uint64_t v, char buf[20]);
/* Sets `why` (when not NULL) and the context error to the same message. */
nk_status nk_k_why(ntkd_target *t, nk_strbuf *why, nk_status st, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));
/* nk_k_why with the message as one line of `why` (ended by a newline). */
nk_status nk_k_why_ln(ntkd_target *t, nk_strbuf *why, nk_status st, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));
/* Appends one line (the formatted text and a newline; at most 399 characters) to `why`; no-op
 * when why is NULL. */
void nk_k_note(nk_strbuf *why, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* Ends `why` with a newline when it holds text that does not (a message of nk_k_why). */
void nk_k_note_eol(nk_strbuf *why);
/* An nk_k_list callback (u: an nk_k_addrs, zeroed but for bias) that appends every entry less
 * `bias` (the object holding the LIST_ENTRY) to a growing array; on allocation failure it sets
 * nomem and stops the walk. The caller frees v. */
typedef struct nk_k_addrs {
    uint64_t *v;
    size_t n, cap;
    uint64_t bias;
    bool nomem;
} nk_k_addrs;
bool nk_k_addrs_push(void *u, uint64_t entry);
/* A field's value from a buffer of len bytes holding the structure (little-endian, at most 8
 * bytes read; bitfields extracted); 0 when the field lies outside the buffer. */
uint64_t nk_k_fget_buf(const uint8_t *p, size_t len, const nk_kfield *f);

#endif
