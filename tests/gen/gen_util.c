/* gen_util.c: buffers, the buffered file writer, the manifest writer and small helpers. */
#include "gen.h"

#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

_Noreturn void gen_die(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    fputs("ntkd-gendump: ", stderr);
    vfprintf(stderr, fmt, ap);
    fputc('\n', stderr);
    va_end(ap);
    exit(1);
}

void *gen_alloc(size_t n)
{
    void *p = calloc(1, n ? n : 1);
    if (!p)
        gen_die("out of memory (%zu bytes)", n);
    return p;
}

void *gen_realloc(void *p, size_t n)
{
    void *q = realloc(p, n ? n : 1);
    if (!q)
        gen_die("out of memory (%zu bytes)", n);
    return q;
}

const char *gen_arch_name(gen_arch a)
{
    switch (a) {
    case GA_X64: return "x64";
    case GA_ARM64: return "arm64";
    case GA_X86PAE: return "x86pae";
    case GA_X86: return "x86";
    }
    return "?";
}

/* ---------------------------------------------------------------- gen_buf */
static void buf_reserve(gen_buf *b, size_t n)
{
    if (b->len + n <= b->cap)
        return;
    size_t cap = b->cap ? b->cap : 4096;
    while (cap < b->len + n)
        cap *= 2;
    b->p = gen_realloc(b->p, cap);
    memset(b->p + b->cap, 0, cap - b->cap);
    b->cap = cap;
}

size_t buf_append(gen_buf *b, const void *data, size_t n)
{
    buf_reserve(b, n);
    size_t at = b->len;
    if (n)
        memcpy(b->p + at, data, n);
    b->len += n;
    return at;
}

size_t buf_zero(gen_buf *b, size_t n)
{
    buf_reserve(b, n);
    size_t at = b->len;
    memset(b->p + at, 0, n);
    b->len += n;
    return at;
}

void buf_align(gen_buf *b, size_t a)
{
    size_t pad = (a - (b->len % a)) % a;
    buf_zero(b, pad);
}

void buf_pattern(gen_buf *b, uint64_t seed, uint64_t addr, size_t n)
{
    buf_reserve(b, n);
    nk_gen_fill(seed, addr, b->p + b->len, n);
    b->len += n;
}

void buf_put(gen_buf *b, size_t off, const void *data, size_t n)
{
    if (off + n > b->len)
        gen_die("internal: buf_put past end");
    memcpy(b->p + off, data, n);
}

void buf_free(gen_buf *b)
{
    free(b->p);
    b->p = NULL;
    b->len = b->cap = 0;
}

/* ---------------------------------------------------------------- gen_out */
#define OUT_CAP (8u << 20)

void out_open(gen_out *o, const char *path)
{
    memset(o, 0, sizeof *o);
    o->fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0644);
    if (o->fd < 0)
        gen_die("cannot create %s: %s", path, strerror(errno));
    o->path = path;
    o->cap = OUT_CAP;
    o->buf = gen_alloc(o->cap);
}

static void write_all(gen_out *o, const uint8_t *p, size_t n)
{
    while (n) {
        ssize_t w = write(o->fd, p, n);
        if (w < 0) {
            if (errno == EINTR)
                continue;
            gen_die("write %s: %s", o->path, strerror(errno));
        }
        p += w;
        n -= (size_t)w;
    }
}

void out_flush(gen_out *o)
{
    if (o->len)
        write_all(o, o->buf, o->len);
    o->len = 0;
}

void out_write(gen_out *o, const void *data, size_t n)
{
    const uint8_t *p = data;
    o->pos += n;
    if (n >= o->cap) {
        out_flush(o);
        write_all(o, p, n);
        return;
    }
    if (o->len + n > o->cap)
        out_flush(o);
    memcpy(o->buf + o->len, p, n);
    o->len += n;
}

void out_zero(gen_out *o, uint64_t n)
{
    while (n) {
        if (o->len == o->cap)
            out_flush(o);
        size_t k = o->cap - o->len;
        if (k > n)
            k = (size_t)n;
        memset(o->buf + o->len, 0, k);
        o->len += k;
        o->pos += k;
        n -= k;
    }
}

void out_pattern(gen_out *o, uint64_t seed, uint64_t addr, uint64_t n)
{
    while (n) {
        if (o->len == o->cap)
            out_flush(o);
        size_t k = o->cap - o->len;
        if (k > n)
            k = (size_t)n;
        nk_gen_fill(seed, addr, o->buf + o->len, k);
        o->len += k;
        o->pos += k;
        addr += k;
        n -= k;
    }
}

void out_pwrite(gen_out *o, const void *data, size_t n, uint64_t off)
{
    out_flush(o);
    const uint8_t *p = data;
    while (n) {
        ssize_t w = pwrite(o->fd, p, n, (off_t)off);
        if (w < 0) {
            if (errno == EINTR)
                continue;
            gen_die("write %s: %s", o->path, strerror(errno));
        }
        p += w;
        n -= (size_t)w;
        off += (uint64_t)w;
    }
}

void out_truncate(gen_out *o, uint64_t len)
{
    out_flush(o);
    if (ftruncate(o->fd, (off_t)len) != 0)
        gen_die("truncate %s: %s", o->path, strerror(errno));
    o->pos = len;
}

void out_close(gen_out *o)
{
    out_flush(o);
    if (close(o->fd) != 0)
        gen_die("close %s: %s", o->path, strerror(errno));
    free(o->buf);
    o->buf = NULL;
}

/* ---------------------------------------------------------------- manifest */
void mf_open(gen_mf *m, const char *dump_path)
{
    size_t n = strlen(dump_path) + sizeof(".manifest");
    char *p = gen_alloc(n);
    snprintf(p, n, "%s.manifest", dump_path);
    m->f = fopen(p, "w");
    if (!m->f)
        gen_die("cannot create %s: %s", p, strerror(errno));
    setvbuf(m->f, NULL, _IOFBF, 1 << 20);
    free(p);
}

void mf_line(gen_mf *m, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vfprintf(m->f, fmt, ap);
    va_end(ap);
    fputc('\n', m->f);
}

void mf_close(gen_mf *m)
{
    if (ferror(m->f) || fclose(m->f) != 0)
        gen_die("writing the manifest failed");
}

/* ---------------------------------------------------------------- little helpers */
size_t gen_utf16(uint16_t *dst, size_t cap, const char *s)
{
    size_t n = 0;
    for (; s[n] && n < cap; n++)
        dst[n] = (uint16_t)(unsigned char)s[n];
    return n;
}

void put16(void *p, uint16_t v) { memcpy(p, &v, 2); }
void put32(void *p, uint32_t v) { memcpy(p, &v, 4); }
void put64(void *p, uint64_t v) { memcpy(p, &v, 8); }
uint64_t get64(const void *p)
{
    uint64_t v;
    memcpy(&v, p, 8);
    return v;
}

void fill_page_marker(void *p, size_t n)
{
    static const char marker[4] = {'P', 'A', 'G', 'E'};
    uint8_t *q = p;
    for (size_t i = 0; i < n; i++)
        q[i] = (uint8_t)marker[i & 3];
}
