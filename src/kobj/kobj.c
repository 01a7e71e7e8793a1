/* kobj.c: the kernel-objects layer's base: the per-target state (t->ext[NK_EXT_KOBJ]), the
 * cache of nt's type ids and field offsets, typed reads, globals, UNICODE_STRINGs, the list
 * walker (a visited set: every entry at most once, cycles and cut links reported with the
 * address) and the processors (KiProcessorBlock, KPCR).
 *
 * Every offset comes from nt's types (nk_sym_types(t, "nt"), PDB or ISF); none is built in. */
#include <stdio.h>
#include <strings.h>

#include "kobj/kobj_int.h"
#include "mem/mem.h"
#include "sym/sym.h"

/* ---- the state ----------------------------------------------------------------------------- */

static void cache_clear(nk_kstate *s)
{
    for (size_t i = 0; i < s->cap; i++) free(s->tab[i].key);
    free(s->tab);
    s->tab = NULL;
    s->cap = s->n = 0;
    free(s->prcbs);
    s->prcbs = NULL;
    s->cpus_done = s->ob_done = false;
    s->ncpu = 0;
}

static void kstate_free(void *p)
{
    nk_kstate *s = p;
    if (!s) return;
    cache_clear(s);
    free(s);
}

nk_kstate *nk_kstate_get(ntkd_target *t)
{
    return nk_target_ext(t, NK_EXT_KOBJ, sizeof(nk_kstate), kstate_free);
}

void nk_kstate_forget_memory(ntkd_target *t)
{
    nk_kstate *s = t ? t->ext[NK_EXT_KOBJ] : NULL;
    if (!s) return;
    free(s->prcbs);
    s->prcbs = NULL;
    s->cpus_done = s->ob_done = false;
    s->ncpu = 0;
    s->has_cookie = s->has_type_index = false;
    s->type_table = s->root_dir = 0;
}

nk_typesrc *nk_k_types(ntkd_target *t)
{
    if (!t) return NULL;
    nk_kstate *s = nk_kstate_get(t);
    if (!s) {
        nk_fail(t->ctx, NTKD_E_NOMEM, "out of memory");
        return NULL;
    }
    nk_typesrc *ts = nk_sym_types(t, "nt");
    if (ts != s->ts) { /* first use, or symbols reloaded: everything cached is stale */
        cache_clear(s);
        s->ts = ts;
    }
    if (!ts)
        nk_fail(t->ctx, NTKD_E_NOTFOUND,
                "nt's types are unavailable: no PDB or ISF table for the kernel on the symbol path "
                "(-y / .sympath)");
    return ts;
}

unsigned nk_k_ptrsize(ntkd_target *t)
{
    nk_kstate *s = t ? t->ext[NK_EXT_KOBJ] : NULL;
    if (s && s->ts && (s->ts->ptr_size == 4 || s->ts->ptr_size == 8)) return s->ts->ptr_size;
    return t && t->d.is64 ? 8 : 4;
}

const char *nk_k_fmt(ntkd_target *t, uint64_t v, char buf[20])
{
    return nk_fmt_ptr(buf, v, nk_k_ptrsize(t) == 8);
}

/* nk_k_why and nk_k_why_ln: the message into why (ended by a newline when `line`) and the context. */
static nk_status k_why_v(ntkd_target *t, nk_strbuf *why, nk_status st, bool line, const char *fmt, va_list ap)
{
    char msg[512];
    vsnprintf(msg, sizeof msg, fmt, ap);
    if (why) nk_sb_printf(why, line ? "%s\n" : "%s", msg);
    return nk_fail(t->ctx, st, "%s", msg);
}

nk_status nk_k_why(ntkd_target *t, nk_strbuf *why, nk_status st, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    st = k_why_v(t, why, st, false, fmt, ap);
    va_end(ap);
    return st;
}

nk_status nk_k_why_ln(ntkd_target *t, nk_strbuf *why, nk_status st, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    st = k_why_v(t, why, st, true, fmt, ap);
    va_end(ap);
    return st;
}

void nk_k_note(nk_strbuf *why, const char *fmt, ...)
{
    if (!why) return;
    char buf[400];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(buf, sizeof buf, fmt, ap);
    va_end(ap);
    nk_sb_printf(why, "%s\n", buf);
}

void nk_k_note_eol(nk_strbuf *why)
{
    if (why && why->len && why->s && why->s[why->len - 1] != '\n') nk_sb_printf(why, "\n");
}

uint64_t nk_k_fget_buf(const uint8_t *p, size_t len, const nk_kfield *f)
{
    uint64_t sz = f->size > 8 ? 8 : f->size;
    if (!sz || !nk_in_bounds(len, f->off, sz)) return 0;
    uint64_t v = 0;
    switch (sz) { /* the common widths without the byte loop (pool scans call this per page) */
    case 2: v = nk_le16(p + f->off); break;
    case 4: v = nk_le32(p + f->off); break;
    case 8: v = nk_le64(p + f->off); break;
    default:
        for (uint64_t i = 0; i < sz; i++) v |= (uint64_t)p[f->off + i] << (8 * i);
    }
    if (f->bitlen) {
        v >>= f->bitpos;
        if (f->bitlen < 64) v &= (1ull << f->bitlen) - 1;
    }
    return v;
}

/* ---- the cache ----------------------------------------------------------------------------- */

static uint64_t hash_str(const char *k)
{
    uint64_t h = 0xcbf29ce484222325ull;
    for (; *k; k++) h = (h ^ (uint8_t)*k) * 0x100000001b3ull;
    return h;
}

static nk_kcache_ent *cache_find(nk_kstate *s, const char *key)
{
    if (!s->cap) return NULL;
    size_t i = (size_t)hash_str(key) & (s->cap - 1);
    for (size_t n = 0; n < s->cap; n++, i = (i + 1) & (s->cap - 1)) {
        if (!s->tab[i].key) return NULL;
        if (!strcmp(s->tab[i].key, key)) return &s->tab[i];
    }
    return NULL;
}

static nk_kcache_ent *cache_put(nk_kstate *s, const char *key)
{
    if ((s->n + 1) * 2 > s->cap) {
        size_t ncap = s->cap ? s->cap * 2 : 256;
        nk_kcache_ent *nt = calloc(ncap, sizeof *nt);
        if (!nt) return NULL;
        for (size_t i = 0; i < s->cap; i++) {
            if (!s->tab[i].key) continue;
            size_t j = (size_t)hash_str(s->tab[i].key) & (ncap - 1);
            while (nt[j].key) j = (j + 1) & (ncap - 1);
            nt[j] = s->tab[i];
        }
        free(s->tab);
        s->tab = nt;
        s->cap = ncap;
    }
    size_t i = (size_t)hash_str(key) & (s->cap - 1);
    while (s->tab[i].key) i = (i + 1) & (s->cap - 1);
    s->tab[i].key = strdup(key);
    if (!s->tab[i].key) return NULL;
    s->n++;
    return &s->tab[i];
}

/* The readable size and signedness of a type (typedef-free: base, enum, pointer, bitfield,
 * array of those). */
static void read_shape(nk_typesrc *ts, uint64_t type, uint64_t *size, uint8_t *rsize, bool *is_signed)
{
    nk_tinfo ti;
    *size = 0;
    *rsize = 0;
    *is_signed = false;
    if (!nk_type_info(ts, type, &ti)) return;
    *size = ti.size;
    nk_tinfo el = ti;
    int depth = 0;
    /* a bitfield's storage, an array's first element, an enum's underlying integer */
    while (depth++ < 8 && (el.kind == NK_TK_BITFIELD || el.kind == NK_TK_ARRAY || el.kind == NK_TK_ENUM) && el.target) {
        nk_tinfo nx;
        if (!nk_type_info(ts, el.target, &nx)) break;
        if (el.kind == NK_TK_BITFIELD && !*size) *size = nx.size;
        if (el.kind == NK_TK_ENUM && !nx.size) nx.size = el.size;
        el = nx;
    }
    if (ti.kind == NK_TK_ENUM && el.kind != NK_TK_BASE) el = ti; /* enum without an underlying type */
    if (el.kind == NK_TK_BASE || el.kind == NK_TK_POINTER || el.kind == NK_TK_ENUM) {
        if (el.size == 1 || el.size == 2 || el.size == 4 || el.size == 8) *rsize = (uint8_t)el.size;
        *is_signed = el.kind == NK_TK_BASE && el.is_signed;
    }
    if (!*size) *size = el.size;
}

static bool type_id(ntkd_target *t, nk_typesrc *ts, const char *type, uint64_t *id, uint64_t *size)
{
    nk_kstate *s = t->ext[NK_EXT_KOBJ];
    char key[160];
    snprintf(key, sizeof key, "T:%s", type);
    nk_kcache_ent *e = cache_find(s, key);
    if (!e) {
        uint64_t tid = 0;
        bool ok = nk_type_find(ts, type, &tid);
        nk_tinfo ti;
        if (ok && nk_type_info(ts, tid, &ti) && !ti.forward) {
            e = cache_put(s, key);
            if (!e) return false;
            e->ok = true;
            e->f.type = tid;
            e->f.size = ti.size;
        } else {
            e = cache_put(s, key);
            if (!e) return false;
            e->ok = false;
        }
    }
    if (!e->ok) return false;
    if (id) *id = e->f.type;
    if (size) *size = e->f.size;
    return true;
}

/* The cache entry of "type.field" (NULL with the error set when the build lacks it). */
static const nk_kcache_ent *field_get(ntkd_target *t, const char *type, const char *field)
{
    nk_typesrc *ts = nk_k_types(t);
    if (!ts) return NULL;
    nk_kstate *s = t->ext[NK_EXT_KOBJ];
    char key[256];
    size_t tl = strlen(type), fl = strlen(field);
    if (tl + fl + 4 > sizeof key) {
        nk_fail(t->ctx, NTKD_E_ARG, "%s.%s: name too long", type, field);
        return NULL;
    }
    key[0] = 'F';
    key[1] = ':';
    memcpy(key + 2, type, tl);
    key[2 + tl] = '.';
    memcpy(key + 3 + tl, field, fl + 1);
    nk_kcache_ent *e = cache_find(s, key);
    if (!e) {
        uint64_t id;
        nk_tfield tf;
        bool ok = type_id(t, ts, type, &id, NULL) && nk_type_field(ts, id, field, &tf);
        e = cache_put(s, key);
        if (!e) {
            nk_fail(t->ctx, NTKD_E_NOMEM, "out of memory");
            return NULL;
        }
        e->ok = ok;
        if (ok) {
            read_shape(ts, tf.type, &e->f.size, &e->rsize, &e->is_signed);
            e->f.off = tf.offset;
            e->f.type = tf.type;
            e->f.bitpos = tf.is_bitfield ? tf.bit_pos : 0;
            e->f.bitlen = tf.is_bitfield ? tf.bit_len : 0;
        }
    }
    if (!e->ok) {
        nk_fail(t->ctx, NTKD_E_NOTFOUND, "%s.%s is not in this build's types", type, field);
        return NULL;
    }
    return e;
}

nk_status nk_k_field(ntkd_target *t, const char *type, const char *field, nk_kfield *out)
{
    if (!t || !type || !field) return NTKD_E_ARG;
    const nk_kcache_ent *e = field_get(t, type, field);
    if (!e) return t->ctx->errmsg[0] && strstr(t->ctx->errmsg, "out of memory") ? NTKD_E_NOMEM : NTKD_E_NOTFOUND;
    if (out) *out = e->f;
    return NTKD_OK;
}

bool nk_k_has(ntkd_target *t, const char *type, const char *field)
{
    if (!t || !type || !field) return false;
    char save[sizeof t->ctx->errmsg];
    memcpy(save, t->ctx->errmsg, sizeof save);
    bool ok = field_get(t, type, field) != NULL;
    memcpy(t->ctx->errmsg, save, sizeof save); /* a question, not an error */
    return ok;
}

nk_status nk_k_offset(ntkd_target *t, const char *type, const char *field, uint64_t *off)
{
    nk_kfield f;
    nk_status st = nk_k_field(t, type, field, &f);
    if (st == NTKD_OK && off) *off = f.off;
    return st;
}

nk_status nk_k_sizeof(ntkd_target *t, const char *type, uint64_t *size)
{
    if (!t || !type) return NTKD_E_ARG;
    nk_typesrc *ts = nk_k_types(t);
    if (!ts) return NTKD_E_NOTFOUND;
    uint64_t sz;
    if (!type_id(t, ts, type, NULL, &sz))
        return nk_fail(t->ctx, NTKD_E_NOTFOUND, "%s is not in this build's types", type);
    if (size) *size = sz;
    return NTKD_OK;
}

static nk_status read_ent(ntkd_target *t, uint64_t addr, const char *type, const char *field, uint64_t *v,
                          bool sign)
{
    const nk_kcache_ent *e = field_get(t, type, field);
    if (!e) return NTKD_E_NOTFOUND;
    nk_kfield f = e->f;
    unsigned rsize = e->rsize;
    bool is_signed = e->is_signed;
    if (!rsize) {
        if (f.bitlen && f.size >= 1 && f.size <= 8) rsize = (unsigned)f.size;
        else
            return nk_fail(t->ctx, NTKD_E_ARG, "%s.%s is a %llu-byte structure, not a value", type, field,
                           (unsigned long long)f.size);
    }
    uint8_t b[8] = {0};
    size_t got = 0;
    if (nk_read_virt(t, addr + f.off, b, rsize, &got) != NTKD_OK || got != rsize) {
        char a[20];
        return nk_fail(t->ctx, NTKD_E_NOTPRESENT, "memory at %s (%s.%s) is not in the dump",
                       nk_k_fmt(t, addr + f.off, a), type, field);
    }
    uint64_t x = 0;
    for (unsigned i = 0; i < rsize; i++) x |= (uint64_t)b[i] << (8 * i);
    unsigned bits = rsize * 8;
    if (f.bitlen) {
        x >>= f.bitpos;
        bits = f.bitlen < 64 ? f.bitlen : 64;
        if (bits < 64) x &= (1ull << bits) - 1;
    }
    if (sign && is_signed && bits < 64 && (x >> (bits - 1)) & 1) x |= ~0ull << bits;
    *v = x;
    return NTKD_OK;
}

nk_status nk_k_read(ntkd_target *t, uint64_t addr, const char *type, const char *field, uint64_t *v)
{
    if (!t || !type || !field || !v) return NTKD_E_ARG;
    return read_ent(t, addr, type, field, v, false);
}

nk_status nk_k_read_signed(ntkd_target *t, uint64_t addr, const char *type, const char *field, int64_t *v)
{
    uint64_t x = 0;
    nk_status st = read_ent(t, addr, type, field, &x, true);
    if (st == NTKD_OK) *v = (int64_t)x;
    return st;
}

uint64_t nk_k_get(ntkd_target *t, uint64_t addr, const char *type, const char *field, uint64_t dflt)
{
    uint64_t v = 0;
    if (!t || !type || !field) return dflt;
    char save[sizeof t->ctx->errmsg];
    memcpy(save, t->ctx->errmsg, sizeof save);
    nk_status st = read_ent(t, addr, type, field, &v, false);
    memcpy(t->ctx->errmsg, save, sizeof save);
    return st == NTKD_OK ? v : dflt;
}

nk_status nk_k_global(ntkd_target *t, const char *name, uint64_t *va)
{
    if (!t || !name || !name[0]) return NTKD_E_ARG;
    char full[200];
    const char *bare = strncasecmp(name, "nt!", 3) ? name : name + 3;
    snprintf(full, sizeof full, "nt!%s", bare);
    uint64_t a;
    if (!nk_sym_lookup(t, full, &a))
        return nk_fail(t->ctx, NTKD_E_NOTFOUND, "%s is not known (no kernel symbols, or this build lacks it)", full);
    if (va) *va = a;
    return NTKD_OK;
}

nk_status nk_k_global_ptr(ntkd_target *t, const char *name, uint64_t *v)
{
    uint64_t va = 0;
    nk_status st = nk_k_global(t, name, &va);
    if (st != NTKD_OK) return st;
    uint64_t x = 0;
    if (nk_read_ptr(t, va, &x) != NTKD_OK) {
        char a[20];
        return nk_fail(t->ctx, NTKD_E_NOTPRESENT, "memory at %s (nt!%s) is not in the dump", nk_k_fmt(t, va, a),
                       strncasecmp(name, "nt!", 3) ? name : name + 3);
    }
    if (v) *v = x;
    return NTKD_OK;
}

/* A UNICODE_STRING's bytes (malloc'd, *nbytes) or NULL. */
static uint8_t *ustr_bytes(ntkd_target *t, uint64_t addr, size_t *nbytes)
{
    uint64_t len = 0, buf = 0;
    if (nk_k_read(t, addr, "_UNICODE_STRING", "Length", &len) != NTKD_OK) return NULL;
    if (nk_k_read(t, addr, "_UNICODE_STRING", "Buffer", &buf) != NTKD_OK) return NULL;
    len &= 0xfffe;
    if (!len || !buf) return NULL;
    uint8_t *b = malloc(len);
    if (!b) return NULL;
    size_t got = 0;
    if (nk_read_virt(t, buf, b, len, &got) != NTKD_OK || got != len) {
        free(b);
        char a[20];
        char c[20];
        nk_fail(t->ctx, NTKD_E_NOTPRESENT, "memory at %s (the text of the UNICODE_STRING at %s) is not in the dump",
                nk_k_fmt(t, buf, a), nk_k_fmt(t, addr, c));
        return NULL;
    }
    *nbytes = len;
    return b;
}

char *nk_k_ustr(ntkd_target *t, uint64_t addr)
{
    if (!t) return NULL;
    size_t n = 0;
    uint8_t *b = ustr_bytes(t, addr, &n);
    if (!b) return NULL;
    char *s = nk_utf16_to_utf8(b, n);
    free(b);
    return s;
}

bool nk_k_ustr_buf(ntkd_target *t, uint64_t addr, char *buf, size_t len)
{
    if (!len) return false;
    buf[0] = 0;
    uint64_t l = 0;
    if (nk_k_read(t, addr, "_UNICODE_STRING", "Length", &l) != NTKD_OK) return false;
    if (!(l & 0xfffe)) return true;
    char *s = nk_k_ustr(t, addr);
    if (!s) return false;
    snprintf(buf, len, "%s", s);
    free(s);
    return true;
}

bool nk_k_enum_value(ntkd_target *t, const char *enum_type, const char *name, int64_t *value)
{
    nk_typesrc *ts = nk_k_types(t);
    if (!ts || !enum_type || !name) return false;
    uint64_t id;
    char alt[128];
    snprintf(alt, sizeof alt, "_%s", enum_type);
    if (!nk_type_find(ts, enum_type, &id) && !nk_type_find(ts, alt, &id)) return false;
    if (!ts->ops->enumerator) return false;
    const char *n;
    int64_t v;
    for (size_t i = 0; i < 4096 && ts->ops->enumerator(ts, id, i, &n, &v); i++)
        if (n && !strcmp(n, name)) {
            *value = v;
            return true;
        }
    return false;
}

const char *nk_k_enum_name(ntkd_target *t, const char *enum_type, int64_t value, char *buf, size_t len)
{
    if (!t || !enum_type || !buf || !len) return NULL;
    char save[sizeof t->ctx->errmsg];
    memcpy(save, t->ctx->errmsg, sizeof save);
    nk_typesrc *ts = nk_k_types(t);
    memcpy(t->ctx->errmsg, save, sizeof save);
    if (!ts || !ts->ops->enumerator) return NULL;
    uint64_t id;
    char alt[128];
    snprintf(alt, sizeof alt, "_%s", enum_type[0] == '_' ? enum_type + 1 : enum_type);
    if (!nk_type_find(ts, enum_type, &id) && !nk_type_find(ts, alt, &id) &&
        !(enum_type[0] == '_' && nk_type_find(ts, enum_type + 1, &id)))
        return NULL;
    const char *n;
    int64_t v;
    for (size_t i = 0; i < 4096 && ts->ops->enumerator(ts, id, i, &n, &v); i++)
        if (v == value && n) {
            snprintf(buf, len, "%s", n);
            return buf;
        }
    return NULL;
}

/* ---- the visited set ------------------------------------------------------------------------ */

/* ---- lists ---------------------------------------------------------------------------------- */

bool nk_k_addrs_push(void *u, uint64_t entry)
{
    nk_k_addrs *w = u;
    if (!nk_grow((void **)&w->v, &w->cap, w->n + 1, sizeof *w->v)) {
        w->nomem = true;
        return false;
    }
    w->v[w->n++] = entry - w->bias;
    return true;
}

nk_status nk_k_list(ntkd_target *t, uint64_t head, size_t limit, nk_k_list_fn fn, void *u, nk_strbuf *why)
{
    if (!t || !fn) return NTKD_E_ARG;
    if (!limit || limit > NK_K_MAX_LIST) limit = NK_K_MAX_LIST;
    char h[20], a[20], b[20];
    nk_k_fmt(t, head, h);
    uint64_t e = 0;
    if (nk_read_ptr(t, head, &e) != NTKD_OK)
        return nk_k_why(t, why, NTKD_E_NOTPRESENT, "list head at %s is not in the dump", h);
    nk_u64set seen = {0};
    nk_status st = NTKD_OK;
    size_t count = 0;
    uint64_t prev = head;
    while (e != head) {
        if (!e) {
            st = nk_k_why(t, why, NTKD_E_FORMAT, "list at %s: the link at %s (after %zu entries) is null", h,
                          nk_k_fmt(t, prev, a), count);
            break;
        }
        if (count >= limit) {
            st = nk_k_why(t, why, NTKD_E_FORMAT, "list at %s: more than %zu entries; walk cut", h, limit);
            break;
        }
        if (nk_u64set_has(&seen, e)) {
            st = nk_k_why(t, why, NTKD_E_FORMAT,
                          "list at %s: the link at %s leads back to %s (a cycle that does not return to the "
                          "head) after %zu entries",
                          h, nk_k_fmt(t, prev, a), nk_k_fmt(t, e, b), count);
            break;
        }
        uint64_t next = 0;
        if (nk_read_ptr(t, e, &next) != NTKD_OK) {
            st = nk_k_why(t, why, NTKD_E_NOTPRESENT,
                          "list at %s: entry %s (linked from %s, after %zu entries) is not in the dump", h,
                          nk_k_fmt(t, e, a), nk_k_fmt(t, prev, b), count);
            break;
        }
        if (!nk_u64set_add(&seen, e) && !nk_u64set_has(&seen, e)) {
            st = nk_k_why(t, why, NTKD_E_NOMEM, "list at %s: out of memory after %zu entries", h, count);
            break;
        }
        count++;
        if (!fn(u, e)) break;
        prev = e;
        e = next;
    }
    nk_u64set_free(&seen);
    return st;
}

/* ---- processors ----------------------------------------------------------------------------- */

static void cpus_load(ntkd_target *t)
{
    nk_kstate *s = nk_kstate_get(t);
    if (!s || s->cpus_done) return;
    if (!nk_k_types(t)) return; /* (types reset the state: check again below) */
    s = t->ext[NK_EXT_KOBJ];
    if (s->cpus_done) return;
    s->cpus_done = true;
    unsigned want = t->d.nprocs;
    if (want > NK_K_MAX_CPUS) want = NK_K_MAX_CPUS;
    uint64_t tab = 0;
    char save[sizeof t->ctx->errmsg];
    memcpy(save, t->ctx->errmsg, sizeof save);
    bool have = nk_k_global(t, "KiProcessorBlock", &tab) == NTKD_OK;
    memcpy(t->ctx->errmsg, save, sizeof save);
    if (!have) {
        s->ncpu = want;
        return;
    }
    unsigned limit = want ? want : NK_K_MAX_CPUS;
    s->prcbs = calloc(limit ? limit : 1, sizeof *s->prcbs);
    if (!s->prcbs) return;
    unsigned ps = nk_k_ptrsize(t), n = 0;
    for (; n < limit; n++) {
        uint64_t p = 0;
        if (nk_read_ptr(t, tab + (uint64_t)n * ps, &p) != NTKD_OK || !p) break;
        s->prcbs[n] = p;
    }
    if (want && n < want && n > 0) {
        nk_warn(t, "the dump header says %u processors, nt!KiProcessorBlock holds %u", want, n);
        s->ncpu = n;
    } else
        s->ncpu = n ? n : want;
}

unsigned nk_k_ncpu(ntkd_target *t)
{
    if (!t) return 0;
    cpus_load(t);
    nk_kstate *s = t->ext[NK_EXT_KOBJ];
    return s ? s->ncpu : t->d.nprocs;
}

nk_status nk_k_prcb(ntkd_target *t, unsigned cpu, uint64_t *prcb)
{
    if (!t) return NTKD_E_ARG;
    cpus_load(t);
    nk_kstate *s = t->ext[NK_EXT_KOBJ];
    if (!s || !s->ts) return nk_k_types(t) ? NTKD_E_NOTFOUND : NTKD_E_NOTFOUND;
    if (cpu >= s->ncpu)
        return nk_fail(t->ctx, NTKD_E_ARG, "processor %u does not exist (%u processors)", cpu, s->ncpu);
    if (!s->prcbs || !s->prcbs[cpu]) {
        uint64_t tab = 0;
        if (nk_k_global(t, "KiProcessorBlock", &tab) != NTKD_OK) return NTKD_E_NOTFOUND;
        char a[20];
        return nk_fail(t->ctx, NTKD_E_NOTPRESENT, "nt!KiProcessorBlock[%u] at %s is not in the dump or null", cpu,
                       nk_k_fmt(t, tab + (uint64_t)cpu * nk_k_ptrsize(t), a));
    }
    if (prcb) *prcb = s->prcbs[cpu];
    return NTKD_OK;
}

nk_status nk_k_pcr(ntkd_target *t, unsigned cpu, uint64_t *pcr)
{
    uint64_t prcb = 0;
    nk_status st = nk_k_prcb(t, cpu, &prcb);
    if (st != NTKD_OK) return st;
    uint64_t off = 0;
    /* x86: the KPRCB is embedded as PrcbData (Prcb is a pointer there); x64: Prcb */
    if (nk_k_has(t, "_KPCR", "PrcbData")) st = nk_k_offset(t, "_KPCR", "PrcbData", &off);
    else st = nk_k_offset(t, "_KPCR", "Prcb", &off);
    if (st != NTKD_OK) return st;
    if (pcr) *pcr = prcb - off;
    return NTKD_OK;
}
