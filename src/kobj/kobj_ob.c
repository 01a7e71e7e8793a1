/* kobj_ob.c: object headers, object types, directories, path lookup, and the I/O helpers
 * (driver names, device lists and stacks, a thread's IRPs).
 *
 * Object headers:
 *   Windows 7 and later: _OBJECT_HEADER.TypeIndex indexes nt!ObTypeIndexTable; on builds with
 *   nt!ObHeaderCookie the stored index is index ^ cookie ^ ((header address >> 8) & 0xff).
 *   The optional headers lie before the header, in InfoMask bit order going down from it: the
 *   header of bit b starts sum(sizes of the present optional headers with bits <= b) bytes
 *   before the object header (Windows' ObpInfoMaskToOffset table holds those sums): creator
 *   info (0x1) right before the header, name info (0x2) before it...
 *   Windows XP: _OBJECT_HEADER.Type points at the _OBJECT_TYPE; NameInfoOffset is the byte
 *   distance from the name info back to the header (0: none); the creator info, when kept, is
 *   right before the header.
 * Object lists of a type: _OBJECT_TYPE.TypeList links the objects' _OBJECT_HEADER_CREATOR_INFO
 * (TypeList field), kept when the creator info is. Directories: _OBJECT_DIRECTORY.HashBuckets
 * (its element count from the types: 37) of _OBJECT_DIRECTORY_ENTRY chains (ChainLink). */
#include <ctype.h>
#include <stdio.h>
#include <strings.h>

#include "kobj/kobj_int.h"
#include "mem/mem.h"

#define MAX_TYPES 256u
#define MAX_DIR_ENTRIES 1000000u
#define MAX_DEPTH 64u

typedef struct errsave {
    char msg[512];
} errsave;
static void err_keep(ntkd_target *t, errsave *e) { memcpy(e->msg, t->ctx->errmsg, sizeof e->msg); }
static void err_back(ntkd_target *t, const errsave *e) { memcpy(t->ctx->errmsg, e->msg, sizeof e->msg); }

/* ---- object-manager globals ------------------------------------------------------------------ */

static nk_kstate *ob_load(ntkd_target *t)
{
    if (!nk_k_types(t)) return NULL;
    nk_kstate *s = t->ext[NK_EXT_KOBJ];
    if (s->ob_done) return s;
    s->ob_done = true;
    errsave es;
    err_keep(t, &es);
    s->has_type_index = nk_k_has(t, "_OBJECT_HEADER", "TypeIndex");
    uint64_t va;
    if (nk_k_global(t, "ObHeaderCookie", &va) == NTKD_OK) {
        uint8_t c;
        if (nk_read_u8(t, va, &c) == NTKD_OK) {
            s->has_cookie = true;
            s->cookie = c;
        } else
            nk_warn(t, "nt!ObHeaderCookie at %llx is not in the dump: object type indexes cannot be decoded",
                    (unsigned long long)va);
    }
    if (nk_k_global(t, "ObTypeIndexTable", &va) == NTKD_OK) s->type_table = va;
    uint64_t root;
    if (nk_k_global_ptr(t, "ObpRootDirectoryObject", &root) == NTKD_OK) s->root_dir = root;
    err_back(t, &es);
    return s;
}

/* The _OBJECT_TYPE of table index idx, validated (non-null, Index field matches when the build
 * has it). 0 when invalid. */
static uint64_t type_at(ntkd_target *t, nk_kstate *s, unsigned idx)
{
    if (!s->type_table || idx < 2 || idx >= MAX_TYPES) return 0;
    uint64_t p = 0;
    if (nk_read_ptr(t, s->type_table + (uint64_t)idx * nk_k_ptrsize(t), &p) != NTKD_OK || !p) return 0;
    if (nk_k_has(t, "_OBJECT_TYPE", "Index")) {
        uint64_t ix;
        if (nk_k_read(t, p, "_OBJECT_TYPE", "Index", &ix) != NTKD_OK || ix != idx) return 0;
    }
    return p;
}

/* ---- headers --------------------------------------------------------------------------------- */

/* Address of the optional header of InfoMask bit `bit` (Windows 7+), 0 when absent. */
static uint64_t opt_header(ntkd_target *t, uint64_t header, uint8_t mask, uint8_t bit)
{
    static const char *const types[8] = {"_OBJECT_HEADER_CREATOR_INFO", "_OBJECT_HEADER_NAME_INFO",
                                         "_OBJECT_HEADER_HANDLE_INFO", "_OBJECT_HEADER_QUOTA_INFO",
                                         "_OBJECT_HEADER_PROCESS_INFO", "_OBJECT_HEADER_AUDIT_INFO",
                                         "_OBJECT_HEADER_EXTENDED_INFO", "_OBJECT_HEADER_PADDING_INFO"};
    if (!(mask & bit)) return 0;
    uint64_t off = 0;
    for (unsigned i = 0; i < 8; i++) {
        uint8_t b = (uint8_t)(1u << i);
        if (b > bit) break;
        if (!(mask & b)) continue;
        uint64_t size;
        if (nk_k_sizeof(t, types[i], &size) != NTKD_OK) return 0;
        off += size;
    }
    return header - off;
}

static uint64_t name_info_of(ntkd_target *t, uint64_t header, uint8_t mask)
{
    nk_kstate *s = t->ext[NK_EXT_KOBJ];
    if (s && s->has_type_index) return opt_header(t, header, mask, 0x2);
    uint64_t off = nk_k_get(t, header, "_OBJECT_HEADER", "NameInfoOffset", 0);
    return off ? header - off : 0;
}

static nk_status header_of(ntkd_target *t, uint64_t body, uint64_t *header)
{
    uint64_t off;
    nk_status st = nk_k_offset(t, "_OBJECT_HEADER", "Body", &off);
    if (st == NTKD_OK) *header = body - off;
    return st;
}

/* The type name of an _OBJECT_TYPE into buf ("" when unreadable). */
static void type_name(ntkd_target *t, uint64_t type_obj, char *buf, size_t len)
{
    uint64_t off;
    buf[0] = 0;
    if (nk_k_offset(t, "_OBJECT_TYPE", "Name", &off) == NTKD_OK) nk_k_ustr_buf(t, type_obj + off, buf, len);
}

nk_status nk_k_object(ntkd_target *t, uint64_t body, nk_kobject *out)
{
    if (!t || !out) return NTKD_E_ARG;
    memset(out, 0, sizeof *out);
    out->body = body;
    nk_kstate *s = ob_load(t);
    if (!s) return NTKD_E_NOTFOUND;
    uint64_t h;
    nk_status st = header_of(t, body, &h);
    if (st != NTKD_OK) return st;
    out->header = h;
    char a[20];
    int64_t v;
    if ((st = nk_k_read_signed(t, h, "_OBJECT_HEADER", "PointerCount", &v)) != NTKD_OK) return st;
    out->pointer_count = v;
    errsave es;
    err_keep(t, &es);
    if (nk_k_read_signed(t, h, "_OBJECT_HEADER", "HandleCount", &v) == NTKD_OK) out->handle_count = v;
    out->flags = (uint8_t)nk_k_get(t, h, "_OBJECT_HEADER", "Flags", 0);
    err_back(t, &es);
    if (s->has_type_index) {
        uint64_t raw, mask;
        if ((st = nk_k_read(t, h, "_OBJECT_HEADER", "TypeIndex", &raw)) != NTKD_OK) return st;
        if ((st = nk_k_read(t, h, "_OBJECT_HEADER", "InfoMask", &mask)) != NTKD_OK) return st;
        out->info_mask = (uint8_t)mask;
        uint8_t idx = (uint8_t)raw;
        if (s->has_cookie) idx = (uint8_t)(idx ^ s->cookie ^ (uint8_t)(h >> 8));
        out->type_index = idx;
        if (!s->type_table)
            return nk_fail(t->ctx, NTKD_E_NOTFOUND, "object at %s: nt!ObTypeIndexTable is unknown", nk_k_fmt(t, body, a));
        out->type_obj = type_at(t, s, idx);
        if (!out->type_obj)
            return nk_fail(t->ctx, NTKD_E_FORMAT, "object at %s: type index 0x%x is not a valid object type",
                           nk_k_fmt(t, body, a), idx);
    } else {
        uint64_t ty;
        if ((st = nk_k_read(t, h, "_OBJECT_HEADER", "Type", &ty)) != NTKD_OK) return st;
        if (!ty) return nk_fail(t->ctx, NTKD_E_FORMAT, "object at %s: its type pointer is null", nk_k_fmt(t, body, a));
        out->type_obj = ty;
        /* the type's own index, for display */
        out->type_index = (uint8_t)nk_k_get(t, ty, "_OBJECT_TYPE", "Index", 0);
        /* XP has no InfoMask: report the optional headers present as the later bits */
        if (nk_k_get(t, h, "_OBJECT_HEADER", "NameInfoOffset", 0)) out->info_mask |= 0x2;
    }
    err_keep(t, &es);
    type_name(t, out->type_obj, out->type_name, sizeof out->type_name);
    if (s->has_type_index && !out->type_name[0]) {
        err_back(t, &es);
        return nk_fail(t->ctx, NTKD_E_FORMAT, "object at %s: type index 0x%x names an unreadable object type at %s",
                       nk_k_fmt(t, body, a), out->type_index, nk_k_fmt(t, out->type_obj, (char[20]){0}));
    }
    uint64_t ni = name_info_of(t, h, out->info_mask);
    if (ni) {
        uint64_t off;
        if (nk_k_offset(t, "_OBJECT_HEADER_NAME_INFO", "Name", &off) == NTKD_OK)
            nk_k_ustr_buf(t, ni + off, out->name, sizeof out->name);
        out->directory = nk_k_get(t, ni, "_OBJECT_HEADER_NAME_INFO", "Directory", 0);
    }
    err_back(t, &es);
    return NTKD_OK;
}

/* ---- types ----------------------------------------------------------------------------------- */

nk_status nk_k_object_type(ntkd_target *t, const char *name, uint64_t *type_obj)
{
    if (!t || !name) return NTKD_E_ARG;
    nk_kstate *s = ob_load(t);
    if (!s) return NTKD_E_NOTFOUND;
    if (s->type_table) {
        errsave es;
        err_keep(t, &es);
        unsigned misses = 0;
        for (unsigned i = 2; i < MAX_TYPES && misses < 4; i++) {
            uint64_t ty = type_at(t, s, i);
            if (!ty) {
                misses++;
                continue;
            }
            misses = 0;
            char n[64];
            type_name(t, ty, n, sizeof n);
            if (!strcasecmp(n, name)) {
                err_back(t, &es);
                if (type_obj) *type_obj = ty;
                return NTKD_OK;
            }
        }
        err_back(t, &es);
    }
    /* builds without the index table (XP): \ObjectTypes\Name */
    char path[128];
    snprintf(path, sizeof path, "\\ObjectTypes\\%s", name);
    uint64_t body;
    errsave es;
    err_keep(t, &es);
    if (nk_k_lookup(t, path, &body) == NTKD_OK) {
        err_back(t, &es);
        if (type_obj) *type_obj = body;
        return NTKD_OK;
    }
    err_back(t, &es);
    return nk_fail(t->ctx, NTKD_E_NOTFOUND, "no object type named \"%s\"", name);
}

typedef struct type_walk {
    ntkd_target *t;
    uint64_t tl_off, ci_size, body_off;
    nk_k_obj_fn fn;
    void *u;
} type_walk;

static bool type_cb(void *u, uint64_t entry)
{
    type_walk *w = u;
    uint64_t header = entry - w->tl_off + w->ci_size;
    return w->fn(w->u, header + w->body_off);
}

nk_status nk_k_objects_of_type(ntkd_target *t, uint64_t type_obj, nk_k_obj_fn fn, void *u, nk_strbuf *why)
{
    if (!t || !fn) return NTKD_E_ARG;
    if (!ob_load(t)) return NTKD_E_NOTFOUND;
    type_walk w = {.t = t, .fn = fn, .u = u};
    uint64_t head;
    nk_status st;
    if ((st = nk_k_offset(t, "_OBJECT_TYPE", "TypeList", &head)) != NTKD_OK ||
        (st = nk_k_offset(t, "_OBJECT_HEADER_CREATOR_INFO", "TypeList", &w.tl_off)) != NTKD_OK ||
        (st = nk_k_sizeof(t, "_OBJECT_HEADER_CREATOR_INFO", &w.ci_size)) != NTKD_OK ||
        (st = nk_k_offset(t, "_OBJECT_HEADER", "Body", &w.body_off)) != NTKD_OK) {
        if (why) nk_sb_printf(why, "%s", t->ctx->errmsg);
        return st;
    }
    return nk_k_list(t, type_obj + head, 0, type_cb, &w, why);
}

/* ---- directories ----------------------------------------------------------------------------- */

nk_status nk_k_dir_each(ntkd_target *t, uint64_t dir, nk_k_obj_fn fn, void *u, nk_strbuf *why)
{
    if (!t || !fn) return NTKD_E_ARG;
    if (!ob_load(t)) return NTKD_E_NOTFOUND;
    nk_kfield hb;
    nk_status st = nk_k_field(t, "_OBJECT_DIRECTORY", "HashBuckets", &hb);
    if (st != NTKD_OK) {
        if (why) nk_sb_printf(why, "%s", t->ctx->errmsg);
        return st;
    }
    nk_tinfo ti;
    nk_typesrc *ts = nk_k_types(t);
    unsigned ps = nk_k_ptrsize(t);
    uint64_t nb = hb.size / ps;
    if (ts && nk_type_info(ts, hb.type, &ti) && ti.kind == NK_TK_ARRAY && ti.count) nb = ti.count;
    if (nb > 4096) nb = 4096;
    char a[20], b[20];
    nk_u64set seen = {0};
    size_t total = 0;
    st = NTKD_OK;
    bool stop = false;
    for (uint64_t i = 0; i < nb && !stop && st == NTKD_OK; i++) {
        uint64_t slot = dir + hb.off + i * ps, e = 0;
        if (nk_read_ptr(t, slot, &e) != NTKD_OK) {
            st = nk_k_why(t, why, NTKD_E_NOTPRESENT, "directory %s: hash bucket %llu at %s is not in the dump",
                          nk_k_fmt(t, dir, a), (unsigned long long)i, nk_k_fmt(t, slot, b));
            break;
        }
        while (e) {
            if (++total > MAX_DIR_ENTRIES) {
                st = nk_k_why(t, why, NTKD_E_FORMAT, "directory %s: more than %u entries; walk cut", nk_k_fmt(t, dir, a),
                              MAX_DIR_ENTRIES);
                break;
            }
            if (!nk_u64set_add(&seen, e)) {
                st = nk_k_why(t, why, NTKD_E_FORMAT, "directory %s: bucket %llu: entry %s is reached twice (a cycle)",
                              nk_k_fmt(t, dir, a), (unsigned long long)i, nk_k_fmt(t, e, b));
                break;
            }
            uint64_t obj, next;
            if (nk_k_read(t, e, "_OBJECT_DIRECTORY_ENTRY", "Object", &obj) != NTKD_OK ||
                nk_k_read(t, e, "_OBJECT_DIRECTORY_ENTRY", "ChainLink", &next) != NTKD_OK) {
                st = nk_k_why(t, why, NTKD_E_NOTPRESENT, "directory %s: bucket %llu: entry %s is not in the dump",
                              nk_k_fmt(t, dir, a), (unsigned long long)i, nk_k_fmt(t, e, b));
                break;
            }
            if (obj && !fn(u, obj)) {
                stop = true;
                break;
            }
            e = next;
        }
    }
    nk_u64set_free(&seen);
    return st;
}

typedef struct dir_find {
    ntkd_target *t;
    const char *name;
    size_t nlen;
    uint64_t found;
} dir_find;

static bool find_cb(void *u, uint64_t body)
{
    dir_find *f = u;
    nk_kobject o;
    errsave es;
    err_keep(f->t, &es);
    nk_status st = nk_k_object(f->t, body, &o);
    err_back(f->t, &es);
    if (st != NTKD_OK) return true;
    if (strlen(o.name) == f->nlen && !strncasecmp(o.name, f->name, f->nlen)) {
        f->found = body;
        return false;
    }
    return true;
}

nk_status nk_k_lookup(ntkd_target *t, const char *path, uint64_t *body)
{
    if (!t || !path) return NTKD_E_ARG;
    nk_kstate *s = ob_load(t);
    if (!s) return NTKD_E_NOTFOUND;
    if (!s->root_dir) {
        uint64_t r;
        nk_status st = nk_k_global_ptr(t, "ObpRootDirectoryObject", &r);
        if (st != NTKD_OK) return st;
        if (!r) return nk_fail(t->ctx, NTKD_E_NOTFOUND, "nt!ObpRootDirectoryObject is null");
        s->root_dir = r;
    }
    uint64_t cur = s->root_dir;
    const char *p = path;
    if (*p != '\\') return nk_fail(t->ctx, NTKD_E_ARG, "%s: an object path starts with \\", path);
    unsigned depth = 0;
    while (*p) {
        while (*p == '\\') p++;
        if (!*p) break;
        size_t n = strcspn(p, "\\");
        if (++depth > MAX_DEPTH) return nk_fail(t->ctx, NTKD_E_ARG, "%s: too deep", path);
        dir_find f = {.t = t, .name = p, .nlen = n};
        errsave es;
        err_keep(t, &es);
        nk_status st = nk_k_dir_each(t, cur, find_cb, &f, NULL);
        if (!f.found) {
            if (st != NTKD_OK) return st;
            err_back(t, &es);
            return nk_fail(t->ctx, NTKD_E_NOTFOUND, "%s: \"%.*s\" is not in its directory", path, (int)n, p);
        }
        err_back(t, &es);
        cur = f.found;
        p += n;
        if (*p) { /* more to come: this must be a directory */
            nk_kobject o;
            if (nk_k_object(t, cur, &o) != NTKD_OK) return NTKD_E_FORMAT;
            if (strcasecmp(o.type_name, "Directory"))
                return nk_fail(t->ctx, NTKD_E_NOTFOUND, "%s: \"%.*s\" is a %s, not a directory", path, (int)n, p - n,
                               o.type_name[0] ? o.type_name : "object of unknown type");
        }
    }
    if (body) *body = cur;
    return NTKD_OK;
}

char *nk_k_object_path(ntkd_target *t, uint64_t body, char *buf, size_t len)
{
    if (!t || !buf || !len) return buf;
    buf[0] = 0;
    nk_kstate *s = ob_load(t);
    if (!s) return buf;
    errsave es;
    err_keep(t, &es);
    char *parts[MAX_DEPTH];
    unsigned n = 0;
    uint64_t cur = body;
    bool rooted = false;
    nk_u64set seen = {0};
    while (n < MAX_DEPTH && nk_u64set_add(&seen, cur)) {
        if (s->root_dir && cur == s->root_dir) {
            rooted = true;
            break;
        }
        nk_kobject o;
        if (nk_k_object(t, cur, &o) != NTKD_OK || !o.name[0]) break;
        if (!(parts[n] = strdup(o.name))) break;
        n++;
        if (!o.directory) break;
        cur = o.directory;
    }
    nk_u64set_free(&seen);
    err_back(t, &es);
    if (!n) {
        if (rooted) snprintf(buf, len, "\\");
        return buf;
    }
    size_t used = 0;
    for (unsigned i = n; i-- > 0;) {
        int w = used >= len ? -1
                            : snprintf(buf + used, len - used, "%s%s", (i == n - 1 && !rooted) ? "" : "\\", parts[i]);
        if (w > 0) used += (size_t)w;
        free(parts[i]);
    }
    return buf;
}

/* ---- I/O ------------------------------------------------------------------------------------- */

char *nk_k_driver_name(ntkd_target *t, uint64_t drvobj, char *buf, size_t len)
{
    if (!t || !buf || !len) return buf;
    buf[0] = 0;
    errsave es;
    err_keep(t, &es);
    uint64_t off;
    if (nk_k_offset(t, "_DRIVER_OBJECT", "DriverName", &off) == NTKD_OK) nk_k_ustr_buf(t, drvobj + off, buf, len);
    if (!buf[0]) nk_k_object_path(t, drvobj, buf, len);
    err_back(t, &es);
    return buf;
}

char *nk_k_device_driver_name(ntkd_target *t, uint64_t devobj, char *buf, size_t len)
{
    if (!t || !buf || !len) return buf;
    buf[0] = 0;
    errsave es;
    err_keep(t, &es);
    uint64_t drv = nk_k_get(t, devobj, "_DEVICE_OBJECT", "DriverObject", 0);
    if (drv) nk_k_driver_name(t, drv, buf, len);
    err_back(t, &es);
    if (!buf[0]) {
        char a[20];
        snprintf(buf, len, "devobj %s", nk_k_fmt(t, devobj, a));
    }
    return buf;
}

size_t nk_k_driver_devices(ntkd_target *t, uint64_t drvobj, uint64_t *out, size_t max)
{
    if (!t || !out || !max) return 0;
    errsave es;
    err_keep(t, &es);
    size_t n = 0;
    nk_u64set seen = {0};
    uint64_t d = nk_k_get(t, drvobj, "_DRIVER_OBJECT", "DeviceObject", 0);
    while (d && n < max && nk_u64set_add(&seen, d)) {
        out[n++] = d;
        uint64_t next;
        if (nk_k_read(t, d, "_DEVICE_OBJECT", "NextDevice", &next) != NTKD_OK) break;
        d = next;
    }
    nk_u64set_free(&seen);
    err_back(t, &es);
    return n;
}

size_t nk_k_device_stack(ntkd_target *t, uint64_t devobj, uint64_t *out, size_t max)
{
    if (!t || !out || !max) return 0;
    errsave es;
    err_keep(t, &es);
    nk_u64set seen = {0};
    /* up to the top through AttachedDevice */
    uint64_t top = devobj;
    nk_u64set_add(&seen, top);
    for (unsigned i = 0; i < MAX_DEPTH; i++) {
        uint64_t up;
        if (nk_k_read(t, top, "_DEVICE_OBJECT", "AttachedDevice", &up) != NTKD_OK || !up || !nk_u64set_add(&seen, up)) break;
        top = up;
    }
    nk_u64set_free(&seen);
    /* down through DeviceObjectExtension->AttachedTo */
    size_t n = 0;
    uint64_t d = top;
    while (d && n < max && nk_u64set_add(&seen, d)) {
        out[n++] = d;
        uint64_t ext = nk_k_get(t, d, "_DEVICE_OBJECT", "DeviceObjectExtension", 0), down = 0;
        if (!ext || nk_k_read(t, ext, "_DEVOBJ_EXTENSION", "AttachedTo", &down) != NTKD_OK) break;
        d = down;
    }
    nk_u64set_free(&seen);
    err_back(t, &es);
    return n;
}

typedef struct irp_walk {
    uint64_t off, thread;
    nk_k_irp_fn fn;
    void *u;
} irp_walk;

static bool irp_cb(void *u, uint64_t entry)
{
    irp_walk *w = u;
    return w->fn(w->u, entry - w->off, w->thread);
}

nk_status nk_k_thread_irps(ntkd_target *t, uint64_t ethread, nk_k_irp_fn fn, void *u, nk_strbuf *why)
{
    if (!t || !fn) return NTKD_E_ARG;
    uint64_t head, off;
    nk_status st;
    if ((st = nk_k_offset(t, "_ETHREAD", "IrpList", &head)) != NTKD_OK ||
        (st = nk_k_offset(t, "_IRP", "ThreadListEntry", &off)) != NTKD_OK) {
        if (why) nk_sb_printf(why, "%s", t->ctx->errmsg);
        return st;
    }
    irp_walk w = {.off = off, .thread = ethread, .fn = fn, .u = u};
    return nk_k_list(t, ethread + head, 0, irp_cb, &w, why);
}
