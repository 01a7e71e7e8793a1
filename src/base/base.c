/* base.c: errors, read-only file mapping, growable arrays and address formatting. */
#include "base/base.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

nk_status nk_fail(ntkd_ctx *ctx, nk_status st, const char *fmt, ...)
{
    if (ctx) {
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(ctx->errmsg, sizeof ctx->errmsg, fmt, ap);
        va_end(ap);
    }
    return st;
}

const char *nk_status_name(nk_status st)
{
    switch (st) {
    case NTKD_OK: return "ok";
    case NTKD_E_FORMAT: return "bad format";
    case NTKD_E_TRUNCATED: return "truncated";
    case NTKD_E_NOTPRESENT: return "memory not present in dump";
    case NTKD_E_NOMEM: return "out of memory";
    case NTKD_E_IO: return "I/O error";
    case NTKD_E_UNSUPPORTED: return "unsupported";
    case NTKD_E_ARG: return "bad argument";
    case NTKD_E_NOTFOUND: return "not found";
    }
    return "unknown status";
}

nk_status nk_file_map(ntkd_ctx *ctx, const char *path, nk_file *f)
{
    memset(f, 0, sizeof *f);
    f->fd = -1;
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return nk_fail(ctx, NTKD_E_IO, "%s: cannot open: %s", path, strerror(errno));
    struct stat st;
    if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) {
        close(fd);
        return nk_fail(ctx, NTKD_E_IO, "%s: not a regular file", path);
    }
    f->path = strdup(path);
    if (!f->path) {
        close(fd);
        return nk_fail(ctx, NTKD_E_NOMEM, "%s: out of memory", path);
    }
    f->size = (uint64_t)st.st_size;
    f->fd = fd;
    if (f->size == 0) {
        f->data = NULL;
        return NTKD_OK;
    }
    void *p = mmap(NULL, (size_t)f->size, PROT_READ, MAP_PRIVATE, fd, 0);
    if (p == MAP_FAILED) {
        nk_file_unmap(f);
        return nk_fail(ctx, NTKD_E_IO, "%s: cannot map: %s", path, strerror(errno));
    }
    f->data = p;
    return NTKD_OK;
}

void nk_file_unmap(nk_file *f)
{
    if (f->data && f->size && !f->borrowed) munmap((void *)f->data, (size_t)f->size);
    if (f->fd >= 0) close(f->fd);
    free(f->path);
    memset(f, 0, sizeof *f);
    f->fd = -1;
}

const char *nk_file_name(const nk_file *f)
{
    if (!f->path) return "(no file)";
    const char *s = strrchr(f->path, '/');
    return s ? s + 1 : f->path;
}

bool nk_grow(void **arr, size_t *cap, size_t need, size_t elem)
{
    if (need <= *cap) return true;
    size_t n = *cap ? *cap : 8;
    while (n < need) {
        if (n > SIZE_MAX / 2) return false;
        n *= 2;
    }
    if (elem && n > SIZE_MAX / elem) return false;
    void *p = realloc(*arr, n * elem);
    if (!p) return false;
    *arr = p;
    *cap = n;
    return true;
}

void nk_sb_printf(nk_strbuf *sb, const char *fmt, ...)
{
    va_list ap, ap2;
    va_start(ap, fmt);
    va_copy(ap2, ap);
    int n = vsnprintf(NULL, 0, fmt, ap);
    va_end(ap);
    if (n < 0) { va_end(ap2); return; }
    if (!nk_grow((void **)&sb->s, &sb->cap, sb->len + (size_t)n + 1, 1)) { va_end(ap2); return; }
    vsnprintf(sb->s + sb->len, (size_t)n + 1, fmt, ap2);
    va_end(ap2);
    sb->len += (size_t)n;
}

void nk_sb_free(nk_strbuf *sb)
{
    free(sb->s);
    memset(sb, 0, sizeof *sb);
}

char *nk_fmt_addr64(char *buf, uint64_t v)
{
    snprintf(buf, 18, "%08x`%08x", (unsigned)(v >> 32), (unsigned)(v & 0xffffffffu));
    return buf;
}

char *nk_fmt_ptr(char *buf, uint64_t v, bool is64)
{
    if (is64) return nk_fmt_addr64(buf, v);
    snprintf(buf, 18, "%08x", (unsigned)(v & 0xffffffffu));
    return buf;
}

char *nk_fmt_hex(char *buf, uint64_t v, bool is64)
{
    if (is64) snprintf(buf, 24, "%016llx", (unsigned long long)v);
    else snprintf(buf, 24, "%08llx", (unsigned long long)(v & 0xffffffffull));
    return buf;
}

void nk_copy_cstr(char *dst, size_t dstlen, const uint8_t *src, size_t max)
{
    if (!dstlen) return;
    size_t n = 0;
    while (n < max && n + 1 < dstlen && src[n]) {
        dst[n] = (src[n] >= 0x20 && src[n] < 0x7f) ? (char)src[n] : '?';
        n++;
    }
    dst[n] = 0;
}

char *nk_utf16_to_utf8(const uint8_t *src, size_t nbytes)
{
    size_t nunits = nbytes / 2;
    char *out = malloc(nunits * 3 + 1);
    if (!out) return NULL;
    size_t o = 0;
    for (size_t i = 0; i < nunits; i++) {
        uint32_t c = nk_le16(src + 2 * i);
        if (c == 0) break;
        if (c >= 0xd800 && c < 0xdc00 && i + 1 < nunits) {
            uint32_t lo = nk_le16(src + 2 * i + 2);
            if (lo >= 0xdc00 && lo < 0xe000) {
                c = 0x10000 + ((c - 0xd800) << 10) + (lo - 0xdc00);
                i++;
            }
        }
        if (c >= 0xd800 && c < 0xe000) c = 0xfffd; /* an unpaired surrogate: the replacement character */
        if (c < 0x80) out[o++] = (char)c;
        else if (c < 0x800) { out[o++] = (char)(0xc0 | (c >> 6)); out[o++] = (char)(0x80 | (c & 0x3f)); }
        else if (c < 0x10000) {
            out[o++] = (char)(0xe0 | (c >> 12)); out[o++] = (char)(0x80 | ((c >> 6) & 0x3f));
            out[o++] = (char)(0x80 | (c & 0x3f));
        } else { /* a surrogate pair: two units in, four bytes out, within 3 per unit */
            out[o++] = (char)(0xf0 | (c >> 18)); out[o++] = (char)(0x80 | ((c >> 12) & 0x3f));
            out[o++] = (char)(0x80 | ((c >> 6) & 0x3f)); out[o++] = (char)(0x80 | (c & 0x3f));
        }
    }
    out[o] = 0;
    return out;
}

/* ---- the u64 set ------------------------------------------------------------------------- */

static size_t u64_mix(uint64_t v)
{
    v ^= v >> 33;
    v *= 0xff51afd7ed558ccdull;
    v ^= v >> 33;
    return (size_t)v;
}

bool nk_u64set_has(const nk_u64set *s, uint64_t v)
{
    if (!v) return s->has0;
    if (!s->cap) return false;
    for (size_t i = u64_mix(v) & (s->cap - 1);; i = (i + 1) & (s->cap - 1)) {
        if (!s->v[i]) return false;
        if (s->v[i] == v) return true;
    }
}

bool nk_u64set_add(nk_u64set *s, uint64_t v)
{
    if (!v) {
        if (s->has0) return false;
        s->n++;
        return s->has0 = true;
    }
    if ((s->n + 1) * 2 > s->cap) {
        size_t ncap = s->cap ? s->cap * 2 : 64;
        uint64_t *nv = calloc(ncap, sizeof *nv);
        if (!nv) return false;
        for (size_t i = 0; i < s->cap; i++) {
            if (!s->v[i]) continue;
            size_t j = u64_mix(s->v[i]) & (ncap - 1);
            while (nv[j]) j = (j + 1) & (ncap - 1);
            nv[j] = s->v[i];
        }
        free(s->v);
        s->v = nv;
        s->cap = ncap;
    }
    size_t i = u64_mix(v) & (s->cap - 1);
    for (; s->v[i]; i = (i + 1) & (s->cap - 1))
        if (s->v[i] == v) return false;
    s->v[i] = v;
    s->n++;
    return true;
}

void nk_u64set_free(nk_u64set *s)
{
    free(s->v);
    memset(s, 0, sizeof *s);
}
