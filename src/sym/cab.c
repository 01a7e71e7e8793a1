/* cab.c: symbol-server cabinets (".pd_" and friends) extracted with libmspack.
 *
 * libmspack does the cabinet parsing and the MSZIP/LZX/Quantum decompression. It reaches
 * files only through an `mspack_system` of function pointers; ours serves two "file names":
 * the cabinet (a read-only memory buffer with seek/tell) and the output (a descriptor or a
 * growable buffer, bounded: a write past the bound returns an error, which aborts the
 * extraction). All state lives in a per-call structure on the stack. */
#include "sym/cab.h"

#include <errno.h>
#include <mspack.h>
#include <stdio.h>
#include <stdlib.h>
#include <strings.h>
#include <unistd.h>

/* CFHEADER fields we check before handing the bytes to libmspack (offsets from the start). */
#define CAB_OFF_SIZE 8      /* cbCabinet, u32 */
#define CAB_OFF_FOLDERS 26  /* cFolders, u16 */
#define CAB_OFF_FILES 28    /* cFiles, u16 */
#define CAB_OFF_FLAGS 30    /* flags, u16: 1 prev cabinet, 2 next cabinet, 4 reserve present */
#define CAB_HDR_MIN 36
#define CAB_FLAG_PREV 0x1
#define CAB_FLAG_NEXT 0x2

static const char CAB_IN[] = "ntkd:cab";
static const char CAB_OUT[] = "ntkd:out";

typedef struct cab_sys {
    struct mspack_system sys; /* first: libmspack passes &sys back as `self` */
    const uint8_t *in;
    size_t in_size;
    int out_fd;               /* >= 0: write here; else to the buffer */
    uint8_t *mem;
    size_t mem_len, mem_cap;
    uint64_t written, max_out;
    bool over;                /* a write went past max_out */
    int io_errno;
} cab_sys;

typedef struct cab_file {
    cab_sys *s;
    bool is_out;
    size_t pos;
} cab_file;

static struct mspack_file *cs_open(struct mspack_system *self, const char *filename, int mode)
{
    cab_sys *s = (cab_sys *)self;
    bool out;
    if (filename && strcmp(filename, CAB_IN) == 0 && mode == MSPACK_SYS_OPEN_READ)
        out = false;
    else if (filename && strcmp(filename, CAB_OUT) == 0 && mode == MSPACK_SYS_OPEN_WRITE)
        out = true;
    else
        return NULL; /* nothing else exists: no other cabinet of a set, no real file */
    cab_file *f = calloc(1, sizeof *f);
    if (!f) return NULL;
    f->s = s;
    f->is_out = out;
    return (struct mspack_file *)f;
}

static void cs_close(struct mspack_file *file) { free(file); }

static int cs_read(struct mspack_file *file, void *buffer, int bytes)
{
    cab_file *f = (cab_file *)file;
    if (!f || f->is_out || bytes < 0) return -1;
    size_t left = f->s->in_size - f->pos;
    size_t n = (size_t)bytes < left ? (size_t)bytes : left;
    if (n) memcpy(buffer, f->s->in + f->pos, n);
    f->pos += n;
    return (int)n;
}

static int cs_write(struct mspack_file *file, void *buffer, int bytes)
{
    cab_file *f = (cab_file *)file;
    if (!f || !f->is_out || bytes < 0) return -1;
    cab_sys *s = f->s;
    if ((uint64_t)bytes > s->max_out - s->written) {
        s->over = true;
        return -1;
    }
    const uint8_t *p = buffer;
    size_t n = (size_t)bytes;
    if (s->out_fd >= 0) {
        size_t done = 0;
        for (int tries = 0; done < n && tries < 1000; tries++) {
            ssize_t w = write(s->out_fd, p + done, n - done);
            if (w < 0) {
                if (errno == EINTR) continue;
                s->io_errno = errno;
                return -1;
            }
            done += (size_t)w;
        }
        if (done < n) {
            s->io_errno = EIO;
            return -1;
        }
    } else {
        if (!nk_grow((void **)&s->mem, &s->mem_cap, s->mem_len + n, 1)) {
            s->io_errno = ENOMEM;
            return -1;
        }
        if (n) memcpy(s->mem + s->mem_len, p, n);
        s->mem_len += n;
    }
    s->written += n;
    return bytes;
}

static int cs_seek(struct mspack_file *file, off_t offset, int mode)
{
    cab_file *f = (cab_file *)file;
    if (!f || f->is_out) return -1;
    int64_t base;
    switch (mode) {
    case MSPACK_SYS_SEEK_START: base = 0; break;
    case MSPACK_SYS_SEEK_CUR: base = (int64_t)f->pos; break;
    case MSPACK_SYS_SEEK_END: base = (int64_t)f->s->in_size; break;
    default: return -1;
    }
    int64_t off = (int64_t)offset;
    if ((off < 0 && -off > base) || (off > 0 && (uint64_t)off > f->s->in_size - (uint64_t)base))
        return -1;
    f->pos = (size_t)(base + off);
    return 0;
}

static off_t cs_tell(struct mspack_file *file)
{
    cab_file *f = (cab_file *)file;
    if (!f) return -1;
    if (f->is_out) return (off_t)f->s->written;
    return (off_t)f->pos;
}

static void cs_message(struct mspack_file *file, const char *format, ...)
{
    (void)file;
    (void)format; /* libmspack's warnings are informational; failures come back as codes */
}

static void *cs_alloc(struct mspack_system *self, size_t bytes)
{
    (void)self;
    return malloc(bytes ? bytes : 1);
}

static void cs_free(void *ptr) { free(ptr); }

static void cs_copy(void *src, void *dest, size_t bytes) { memmove(dest, src, bytes); }

static const char *mspack_err_name(int e)
{
    switch (e) {
    case MSPACK_ERR_OK: return "ok";
    case MSPACK_ERR_ARGS: return "bad arguments";
    case MSPACK_ERR_OPEN: return "cannot open";
    case MSPACK_ERR_READ: return "read past the end";
    case MSPACK_ERR_WRITE: return "write failed";
    case MSPACK_ERR_SEEK: return "seek out of range";
    case MSPACK_ERR_NOMEMORY: return "out of memory";
    case MSPACK_ERR_SIGNATURE: return "bad signature";
    case MSPACK_ERR_DATAFORMAT: return "bad data format";
    case MSPACK_ERR_CHECKSUM: return "checksum mismatch";
    case MSPACK_ERR_DECRUNCH: return "decompression failed";
    default: return "error";
    }
}

bool nk_cab_is_cab(const uint8_t *data, size_t size)
{
    return data && size >= 4 && memcmp(data, "MSCF", 4) == 0;
}

static const char *base_name_in_cab(const char *n)
{
    const char *b = n;
    for (const char *p = n; *p; p++)
        if (*p == '\\' || *p == '/') b = p + 1;
    return b;
}

static nk_status cab_extract(ntkd_ctx *ctx, const char *name, const uint8_t *cab, size_t cab_size,
                             const char *want, uint64_t max_out, cab_sys *s)
{
    if (!name) name = "(cab)";
    if (!nk_cab_is_cab(cab, cab_size))
        return nk_fail(ctx, NTKD_E_FORMAT, "%s: offset 0x0: not a cabinet (no MSCF signature)", name);
    if ((uint64_t)cab_size > NK_CAB_MAX_INPUT)
        return nk_fail(ctx, NTKD_E_UNSUPPORTED, "%s: cabinet of %zu bytes is larger than the limit",
                       name, cab_size);
    if (cab_size < CAB_HDR_MIN)
        return nk_fail(ctx, NTKD_E_TRUNCATED, "%s: offset 0x0: cabinet header truncated (%zu bytes)",
                       name, cab_size);
    uint32_t declared = nk_le32(cab + CAB_OFF_SIZE);
    uint16_t nfolders = nk_le16(cab + CAB_OFF_FOLDERS);
    uint16_t nfiles = nk_le16(cab + CAB_OFF_FILES);
    uint16_t flags = nk_le16(cab + CAB_OFF_FLAGS);
    if (declared > cab_size)
        return nk_fail(ctx, NTKD_E_TRUNCATED,
                       "%s: offset 0x%x: cabinet declares %u bytes, file holds %zu", name,
                       CAB_OFF_SIZE, declared, cab_size);
    if (flags & (CAB_FLAG_PREV | CAB_FLAG_NEXT))
        return nk_fail(ctx, NTKD_E_UNSUPPORTED,
                       "%s: offset 0x%x: part of a multi-cabinet set (flags 0x%x)", name,
                       CAB_OFF_FLAGS, flags);
    if (nfolders == 0 || nfiles == 0)
        return nk_fail(ctx, NTKD_E_FORMAT, "%s: offset 0x%x: cabinet holds %u folders, %u files",
                       name, CAB_OFF_FOLDERS, nfolders, nfiles);

    int selftest;
    MSPACK_SYS_SELFTEST(selftest);
    if (selftest != MSPACK_ERR_OK)
        return nk_fail(ctx, NTKD_E_UNSUPPORTED, "%s: libmspack self-test failed (%d)", name, selftest);

    s->sys.open = cs_open;
    s->sys.close = cs_close;
    s->sys.read = cs_read;
    s->sys.write = cs_write;
    s->sys.seek = cs_seek;
    s->sys.tell = cs_tell;
    s->sys.message = cs_message;
    s->sys.alloc = cs_alloc;
    s->sys.free = cs_free;
    s->sys.copy = cs_copy;
    s->sys.null_ptr = NULL;
    s->in = cab;
    s->in_size = cab_size;
    s->max_out = max_out;

    struct mscab_decompressor *d = mspack_create_cab_decompressor(&s->sys);
    if (!d) return nk_fail(ctx, NTKD_E_NOMEM, "%s: cannot create the cabinet decompressor", name);
    nk_status st = NTKD_OK;
    struct mscabd_cabinet *c = d->open(d, CAB_IN);
    if (!c) {
        int e = d->last_error(d);
        st = nk_fail(ctx, e == MSPACK_ERR_READ ? NTKD_E_TRUNCATED : NTKD_E_FORMAT,
                     "%s: bad cabinet: %s", name, mspack_err_name(e));
        goto out;
    }

    /* Pick the file: the one named `want`, else the only one. */
    struct mscabd_file *pick = NULL, *only = NULL;
    unsigned count = 0;
    for (struct mscabd_file *f = c->files; f && count < 65536; f = f->next, count++) {
        only = f;
        if (want && f->filename && strcasecmp(base_name_in_cab(f->filename), want) == 0) {
            pick = f;
            break;
        }
    }
    if (!pick && count == 1) pick = only;
    if (!pick) {
        st = nk_fail(ctx, NTKD_E_NOTFOUND, "%s: the cabinet holds no file named %s (%u files)",
                     name, want ? want : "(any)", count);
        goto out_close;
    }
    if ((uint64_t)pick->length > max_out || (uint64_t)pick->offset > max_out - pick->length) {
        st = nk_fail(ctx, NTKD_E_UNSUPPORTED,
                     "%s: file %s of %u bytes at folder offset %u exceeds the limit of %llu bytes",
                     name, pick->filename ? pick->filename : "?", pick->length, pick->offset,
                     (unsigned long long)max_out);
        goto out_close;
    }
    int e = d->extract(d, pick, CAB_OUT);
    if (e != MSPACK_ERR_OK || s->over || s->io_errno) {
        if (s->over)
            st = nk_fail(ctx, NTKD_E_FORMAT, "%s: decompressed data exceeds %llu bytes", name,
                         (unsigned long long)max_out);
        else if (s->io_errno)
            st = nk_fail(ctx, NTKD_E_IO, "%s: writing the decompressed file: %s", name,
                         strerror(s->io_errno));
        else
            st = nk_fail(ctx, e == MSPACK_ERR_READ ? NTKD_E_TRUNCATED : NTKD_E_FORMAT,
                         "%s: extracting %s: %s", name, pick->filename ? pick->filename : "?",
                         mspack_err_name(e));
        goto out_close;
    }
    if (s->written != pick->length)
        st = nk_fail(ctx, NTKD_E_TRUNCATED, "%s: %s decompressed to %llu bytes, cabinet says %u",
                     name, pick->filename ? pick->filename : "?",
                     (unsigned long long)s->written, pick->length);
out_close:
    d->close(d, c);
out:
    mspack_destroy_cab_decompressor(d);
    return st;
}

nk_status nk_cab_extract_fd(ntkd_ctx *ctx, const char *name, const uint8_t *cab, size_t cab_size,
                            const char *want, uint64_t max_out, int out_fd, uint64_t *out_size)
{
    cab_sys s;
    memset(&s, 0, sizeof s);
    s.out_fd = out_fd;
    if (out_fd < 0) return nk_fail(ctx, NTKD_E_ARG, "%s: no output file", name ? name : "(cab)");
    nk_status st = cab_extract(ctx, name, cab, cab_size, want, max_out, &s);
    if (out_size) *out_size = s.written;
    return st;
}

nk_status nk_cab_extract_mem(ntkd_ctx *ctx, const char *name, const uint8_t *cab, size_t cab_size,
                             const char *want, uint64_t max_out, uint8_t **out, size_t *out_size)
{
    cab_sys s;
    memset(&s, 0, sizeof s);
    s.out_fd = -1;
    *out = NULL;
    if (out_size) *out_size = 0;
    nk_status st = cab_extract(ctx, name, cab, cab_size, want, max_out, &s);
    if (st != NTKD_OK) {
        free(s.mem);
        return st;
    }
    if (!s.mem) s.mem = malloc(1); /* an empty file still gives a buffer */
    if (!s.mem) return nk_fail(ctx, NTKD_E_NOMEM, "%s: out of memory", name ? name : "(cab)");
    *out = s.mem;
    if (out_size) *out_size = s.mem_len;
    return NTKD_OK;
}
