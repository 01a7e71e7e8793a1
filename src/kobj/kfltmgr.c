/* kfltmgr.c: the filter manager's frames, minifilters, volumes and instances, and the
 * legacy-filter altitude diagnosis (kfltmgr.h).
 *
 * Every offset comes from fltmgr's types (nk_sym_types(t, "fltmgr")); a missing type or field
 * is reported by name. The structures' shapes (FltGlobals.FrameList of _FLTP_FRAME.Links;
 * RegisteredFilters / AttachedVolumes / InstanceList resource-list heads whose rList links
 * _FLT_OBJECT.PrimaryLink; a filter's instances through _FLT_INSTANCE.FilterLink) follow what
 * WinDbg's !fltkd prints of them (seed 004) and the filter manager's public description
 * (seed 003: frames are filter-manager device objects on each volume's file-system stack, each
 * covering an altitude range; legacy filters attach only at the top of the stack). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "kobj/kfltmgr.h"
#include "kobj/kobj_int.h"
#include "mem/mem.h"
#include "sym/sym.h"

/* ---- fltmgr's types ------------------------------------------------------------------------- */

nk_typesrc *nk_flt_types(ntkd_target *t)
{
    if (!t) return NULL;
    nk_typesrc *ts = nk_sym_types(t, "fltmgr");
    if (!ts)
        nk_fail(t->ctx, NTKD_E_NOTFOUND,
                "fltmgr's types are unavailable: !fltkd needs fltmgr.pdb on the symbol path (-y / .sympath)");
    return ts;
}

typedef struct fl_f {
    uint64_t off, size;
    bool ok;
} fl_f;

/* Everything read, resolved once per call. */
typedef struct fl_lay {
    nk_typesrc *ts;
    fl_f rl_list, rl_count;
    fl_f g_frames, g_legacy;
    fl_f lg_links, lg_drv, lg_alt;
    fl_f fr_links, fr_id, fr_lo, fr_hi, fr_filters, fr_volumes;
    fl_f fi_link, fi_frame, fi_name, fi_alt, fi_flags, fi_drv, fi_inst;
    fl_f vo_link, vo_flags, vo_fstype, vo_dev, vo_disk, vo_fz, vo_next, vo_frame, vo_name, vo_guid,
        vo_cdodev, vo_cdodrv, vo_inst, vo_targeted, vo_pc, vo_rundown, vo_oflags;
    fl_f in_link, in_volume, in_filter, in_flags, in_alt, in_name, in_flink, in_pc, in_oflags;
    bool has_legacy;
} fl_lay;

static bool fl_resolve(ntkd_target *t, nk_typesrc *ts, const char *type, const char *field, fl_f *out,
                       bool required, bool *bad)
{
    memset(out, 0, sizeof *out);
    uint64_t id;
    nk_tfield f;
    nk_tinfo ti;
    if (!nk_type_find(ts, type, &id) || !nk_type_info(ts, id, &ti) || ti.forward) {
        if (required && !*bad) {
            nk_fail(t->ctx, NTKD_E_NOTFOUND, "%s is not in fltmgr's types (%s)", type,
                    ts->origin ? ts->origin : "fltmgr");
            *bad = true;
        }
        return false;
    }
    if (!nk_type_field(ts, id, field, &f)) {
        if (required && !*bad) {
            nk_fail(t->ctx, NTKD_E_NOTFOUND, "%s.%s is not in fltmgr's types (%s)", type, field,
                    ts->origin ? ts->origin : "fltmgr");
            *bad = true;
        }
        return false;
    }
    nk_tinfo fi;
    out->off = f.offset;
    out->size = nk_type_info(ts, f.type, &fi) ? fi.size : 0;
    out->ok = true;
    return true;
}

static nk_status fl_open(ntkd_target *t, fl_lay *L)
{
    memset(L, 0, sizeof *L);
    nk_typesrc *ts = nk_flt_types(t);
    if (!ts) return NTKD_E_NOTFOUND;
    if (!nk_k_types(t)) return NTKD_E_NOTFOUND; /* device stacks and strings need nt's */
    L->ts = ts;
    bool bad = false;
#define R(dst, T, F) fl_resolve(t, ts, T, F, &L->dst, true, &bad)
#define O(dst, T, F) fl_resolve(t, ts, T, F, &L->dst, false, &bad)
    R(rl_list, "_FLT_RESOURCE_LIST_HEAD", "rList");
    R(rl_count, "_FLT_RESOURCE_LIST_HEAD", "rCount");
    R(g_frames, "_GLOBALS", "FrameList");
    R(fr_links, "_FLTP_FRAME", "Links");
    R(fr_id, "_FLTP_FRAME", "FrameID");
    R(fr_lo, "_FLTP_FRAME", "AltitudeIntervalLow");
    R(fr_hi, "_FLTP_FRAME", "AltitudeIntervalHigh");
    R(fr_filters, "_FLTP_FRAME", "RegisteredFilters");
    R(fr_volumes, "_FLTP_FRAME", "AttachedVolumes");
    R(fi_link, "_FLT_FILTER", "Base.PrimaryLink");
    R(fi_frame, "_FLT_FILTER", "Frame");
    R(fi_name, "_FLT_FILTER", "Name");
    R(fi_alt, "_FLT_FILTER", "DefaultAltitude");
    R(fi_flags, "_FLT_FILTER", "Flags");
    R(fi_drv, "_FLT_FILTER", "DriverObject");
    R(fi_inst, "_FLT_FILTER", "InstanceList");
    R(vo_link, "_FLT_VOLUME", "Base.PrimaryLink");
    R(vo_pc, "_FLT_VOLUME", "Base.PointerCount");
    R(vo_oflags, "_FLT_VOLUME", "Base.Flags");
    R(vo_rundown, "_FLT_VOLUME", "Base.RundownRef");
    R(vo_flags, "_FLT_VOLUME", "Flags");
    R(vo_fstype, "_FLT_VOLUME", "FileSystemType");
    R(vo_dev, "_FLT_VOLUME", "DeviceObject");
    R(vo_disk, "_FLT_VOLUME", "DiskDeviceObject");
    R(vo_fz, "_FLT_VOLUME", "FrameZeroVolume");
    R(vo_next, "_FLT_VOLUME", "VolumeInNextFrame");
    R(vo_frame, "_FLT_VOLUME", "Frame");
    R(vo_name, "_FLT_VOLUME", "DeviceName");
    R(vo_inst, "_FLT_VOLUME", "InstanceList");
    O(vo_guid, "_FLT_VOLUME", "GuidName");
    O(vo_cdodev, "_FLT_VOLUME", "CDODeviceName");
    O(vo_cdodrv, "_FLT_VOLUME", "CDODriverName");
    O(vo_targeted, "_FLT_VOLUME", "TargetedOpenActiveCount");
    R(in_link, "_FLT_INSTANCE", "Base.PrimaryLink");
    R(in_pc, "_FLT_INSTANCE", "Base.PointerCount");
    R(in_oflags, "_FLT_INSTANCE", "Base.Flags");
    R(in_volume, "_FLT_INSTANCE", "Volume");
    R(in_filter, "_FLT_INSTANCE", "Filter");
    R(in_flags, "_FLT_INSTANCE", "Flags");
    R(in_alt, "_FLT_INSTANCE", "Altitude");
    R(in_name, "_FLT_INSTANCE", "Name");
    R(in_flink, "_FLT_INSTANCE", "FilterLink");
    /* legacy-filter records: only some symbol files describe them */
    L->has_legacy = O(g_legacy, "_GLOBALS", "LegacyFilterList") && O(lg_links, "_FLTP_LEGACY_FILTER", "Links") &&
                    O(lg_drv, "_FLTP_LEGACY_FILTER", "DriverObject") &&
                    O(lg_alt, "_FLTP_LEGACY_FILTER", "Altitude");
#undef R
#undef O
    return bad ? NTKD_E_NOTFOUND : NTKD_OK;
}

/* An integer field (1/2/4/8 bytes). */
static nk_status fl_rd(ntkd_target *t, uint64_t base, const fl_f *f, const char *what, uint64_t *v)
{
    *v = 0;
    uint64_t sz = f->size;
    if (sz != 1 && sz != 2 && sz != 4 && sz != 8) sz = nk_k_ptrsize(t);
    uint8_t b[8] = {0};
    size_t got = 0;
    char a[20];
    if (nk_read_virt(t, base + f->off, b, (size_t)sz, &got) != NTKD_OK || got != sz)
        return nk_fail(t->ctx, NTKD_E_NOTPRESENT, "memory at %s (%s) is not in the dump",
                       nk_k_fmt(t, base + f->off, a), what);
    uint64_t x = 0;
    for (uint64_t i = 0; i < sz; i++) x |= (uint64_t)b[i] << (8 * i);
    if (sz == 4 && nk_k_ptrsize(t) == 8 && f->size == 8) x = (uint32_t)x;
    *v = x;
    return NTKD_OK;
}

static uint64_t fl_get(ntkd_target *t, uint64_t base, const fl_f *f)
{
    uint64_t v = 0;
    if (!f->ok) return 0;
    if (fl_rd(t, base, f, "field", &v) != NTKD_OK) return 0;
    return v;
}

static void fl_str(ntkd_target *t, uint64_t base, const fl_f *f, char *buf, size_t len)
{
    buf[0] = 0;
    if (f->ok) nk_k_ustr_buf(t, base + f->off, buf, len);
}

/* ---- list walks ----------------------------------------------------------------------------- */

/* fl_walk: the objects' addresses (nk_k_addrs: entry - bias = the object) */
typedef nk_k_addrs fl_walk;

/* Objects on the resource list head at `head` (rList), each linked by the field at `bias`. */
static nk_status fl_objects_n(ntkd_target *t, const fl_lay *L, uint64_t head, uint64_t bias, fl_walk *w,
                              size_t limit, nk_strbuf *why)
{
    memset(w, 0, sizeof *w);
    w->bias = bias;
    nk_status st = nk_k_list(t, head + L->rl_list.off, limit, nk_k_addrs_push, w, why);
    if (w->nomem) return nk_fail(t->ctx, NTKD_E_NOMEM, "out of memory");
    return st;
}

static nk_status fl_objects(ntkd_target *t, const fl_lay *L, uint64_t head, uint64_t bias, fl_walk *w,
                            nk_strbuf *why)
{
    return fl_objects_n(t, L, head, bias, w, NK_FLT_MAX, why);
}

/* ---- frames --------------------------------------------------------------------------------- */

nk_status nk_flt_frame_list(ntkd_target *t, uint64_t *head)
{
    fl_lay L;
    nk_status st = fl_open(t, &L);
    if (st != NTKD_OK) return st;
    uint64_t g = 0;
    if (!nk_sym_lookup(t, "fltmgr!FltGlobals", &g))
        return nk_fail(t->ctx, NTKD_E_NOTFOUND, "fltmgr!FltGlobals is not in fltmgr's symbols");
    *head = g + L.g_frames.off;
    return NTKD_OK;
}

static nk_status frame_read(ntkd_target *t, const fl_lay *L, uint64_t a, nk_flt_frame *f)
{
    memset(f, 0, sizeof *f);
    f->addr = a;
    uint64_t v;
    nk_status st = fl_rd(t, a, &L->fr_id, "_FLTP_FRAME.FrameID", &v);
    if (st != NTKD_OK) return st;
    f->id = (uint32_t)v;
    fl_str(t, a, &L->fr_lo, f->lo, sizeof f->lo);
    fl_str(t, a, &L->fr_hi, f->hi, sizeof f->hi);
    f->filters_head = a + L->fr_filters.off;
    f->volumes_head = a + L->fr_volumes.off;
    f->nfilters = (uint32_t)fl_get(t, f->filters_head, &L->rl_count);
    f->nvolumes = (uint32_t)fl_get(t, f->volumes_head, &L->rl_count);
    return NTKD_OK;
}

nk_status nk_flt_frame_read(ntkd_target *t, uint64_t addr, nk_flt_frame *out)
{
    fl_lay L;
    nk_status st = fl_open(t, &L);
    if (st != NTKD_OK) return st;
    return frame_read(t, &L, addr, out);
}

/* Reads every object of a list (fl_objects_n, at most `limit`) into an array of `elem`-byte
 * records with `read`; objects that cannot be read are skipped with their message in `why`. */
typedef nk_status (*fl_reader)(ntkd_target *t, const fl_lay *L, uint64_t a, void *rec);

static nk_status collect_n(ntkd_target *t, const fl_lay *L, uint64_t head, uint64_t bias, size_t limit, size_t elem,
                           fl_reader read, void **out, size_t *n, nk_strbuf *why)
{
    *out = NULL;
    *n = 0;
    fl_walk w;
    nk_status wst = fl_objects_n(t, L, head, bias, &w, limit, why);
    if (wst == NTKD_E_NOMEM) return wst;
    uint8_t *v = calloc(w.n ? w.n : 1, elem);
    if (!v) {
        free(w.v);
        return nk_fail(t->ctx, NTKD_E_NOMEM, "out of memory");
    }
    size_t k = 0;
    for (size_t i = 0; i < w.n; i++) {
        if (read(t, L, w.v[i], v + k * elem) == NTKD_OK) k++;
        else if (why) nk_sb_printf(why, "%s%s", why->len ? "; " : "", t->ctx->errmsg);
    }
    free(w.v);
    *out = v;
    *n = k;
    return k || wst == NTKD_OK ? NTKD_OK : wst;
}

static nk_status collect(ntkd_target *t, const fl_lay *L, uint64_t head, uint64_t bias, size_t elem, fl_reader read,
                         void **out, size_t *n, nk_strbuf *why)
{
    return collect_n(t, L, head, bias, NK_FLT_MAX, elem, read, out, n, why);
}

static nk_status frame_rd(ntkd_target *t, const fl_lay *L, uint64_t a, void *rec)
{
    return frame_read(t, L, a, rec);
}

static nk_status frames(ntkd_target *t, const fl_lay *L, nk_flt_frame **out, size_t *n, nk_strbuf *why)
{
    *out = NULL;
    *n = 0;
    uint64_t head = 0;
    nk_status st = nk_flt_frame_list(t, &head);
    if (st != NTKD_OK) return st;
    /* FrameList is a resource list head: its rList links the frames' Links */
    return collect_n(t, L, head, L->fr_links.off, NK_FLT_MAX_FRAMES, sizeof **out, frame_rd, (void **)out, n, why);
}

nk_status nk_flt_frames(ntkd_target *t, nk_flt_frame **out, size_t *n, nk_strbuf *why)
{
    fl_lay L;
    *out = NULL;
    *n = 0;
    nk_status st = fl_open(t, &L);
    if (st != NTKD_OK) return st;
    return frames(t, &L, out, n, why);
}

/* ---- filters -------------------------------------------------------------------------------- */

static nk_status filter_read(ntkd_target *t, const fl_lay *L, uint64_t a, nk_flt_filter *f)
{
    memset(f, 0, sizeof *f);
    f->addr = a;
    uint64_t v;
    nk_status st = fl_rd(t, a, &L->fi_frame, "_FLT_FILTER.Frame", &v);
    if (st != NTKD_OK) return st;
    f->frame = v;
    fl_str(t, a, &L->fi_name, f->name, sizeof f->name);
    fl_str(t, a, &L->fi_alt, f->altitude, sizeof f->altitude);
    f->flags = (uint32_t)fl_get(t, a, &L->fi_flags);
    f->drvobj = fl_get(t, a, &L->fi_drv);
    f->instances_head = a + L->fi_inst.off;
    f->ninstances = (uint32_t)fl_get(t, f->instances_head, &L->rl_count);
    return NTKD_OK;
}

static nk_status filter_rd(ntkd_target *t, const fl_lay *L, uint64_t a, void *rec)
{
    return filter_read(t, L, a, rec);
}

static nk_status filters(ntkd_target *t, const fl_lay *L, const nk_flt_frame *fr, nk_flt_filter **out, size_t *n,
                         nk_strbuf *why)
{
    return collect(t, L, fr->filters_head, L->fi_link.off, sizeof **out, filter_rd, (void **)out, n, why);
}

nk_status nk_flt_filters(ntkd_target *t, const nk_flt_frame *fr, nk_flt_filter **out, size_t *n, nk_strbuf *why)
{
    fl_lay L;
    *out = NULL;
    *n = 0;
    nk_status st = fl_open(t, &L);
    if (st != NTKD_OK) return st;
    return filters(t, &L, fr, out, n, why);
}

/* ---- volumes -------------------------------------------------------------------------------- */

static nk_status volume_read(ntkd_target *t, const fl_lay *L, uint64_t a, nk_flt_volume *v)
{
    memset(v, 0, sizeof *v);
    v->addr = a;
    uint64_t x;
    nk_status st = fl_rd(t, a, &L->vo_dev, "_FLT_VOLUME.DeviceObject", &x);
    if (st != NTKD_OK) return st;
    v->devobj = x;
    v->frame = fl_get(t, a, &L->vo_frame);
    v->disk = fl_get(t, a, &L->vo_disk);
    v->frame_zero = fl_get(t, a, &L->vo_fz);
    v->next_frame = fl_get(t, a, &L->vo_next);
    v->flags = (uint32_t)fl_get(t, a, &L->vo_flags);
    v->fstype = (uint32_t)fl_get(t, a, &L->vo_fstype);
    v->pointer_count = (uint32_t)fl_get(t, a, &L->vo_pc);
    v->object_flags = (uint32_t)fl_get(t, a, &L->vo_oflags);
    v->rundown = fl_get(t, a, &L->vo_rundown);
    fl_f fl = L->vo_link, bl = L->vo_link;
    fl.size = bl.size = nk_k_ptrsize(t);
    bl.off += nk_k_ptrsize(t);
    v->link_flink = fl_get(t, a, &fl);
    v->link_blink = fl_get(t, a, &bl);
    fl_str(t, a, &L->vo_name, v->name, sizeof v->name);
    fl_str(t, a, &L->vo_guid, v->guid, sizeof v->guid);
    fl_str(t, a, &L->vo_cdodev, v->cdo_device, sizeof v->cdo_device);
    fl_str(t, a, &L->vo_cdodrv, v->cdo_driver, sizeof v->cdo_driver);
    v->instances_head = a + L->vo_inst.off;
    v->ninstances = (uint32_t)fl_get(t, v->instances_head, &L->rl_count);
    v->has_targeted = L->vo_targeted.ok;
    v->targeted_opens = (uint32_t)fl_get(t, a, &L->vo_targeted);
    return NTKD_OK;
}

nk_status nk_flt_volume_read(ntkd_target *t, uint64_t addr, nk_flt_volume *out)
{
    fl_lay L;
    nk_status st = fl_open(t, &L);
    if (st != NTKD_OK) return st;
    return volume_read(t, &L, addr, out);
}

static nk_status volume_rd(ntkd_target *t, const fl_lay *L, uint64_t a, void *rec)
{
    return volume_read(t, L, a, rec);
}

static nk_status volumes(ntkd_target *t, const fl_lay *L, const nk_flt_frame *fr, nk_flt_volume **out, size_t *n,
                         nk_strbuf *why)
{
    return collect(t, L, fr->volumes_head, L->vo_link.off, sizeof **out, volume_rd, (void **)out, n, why);
}

nk_status nk_flt_volumes(ntkd_target *t, const nk_flt_frame *fr, nk_flt_volume **out, size_t *n, nk_strbuf *why)
{
    fl_lay L;
    *out = NULL;
    *n = 0;
    nk_status st = fl_open(t, &L);
    if (st != NTKD_OK) return st;
    return volumes(t, &L, fr, out, n, why);
}

/* ---- instances ------------------------------------------------------------------------------ */

static nk_status instance_read(ntkd_target *t, const fl_lay *L, uint64_t a, nk_flt_instance *in)
{
    memset(in, 0, sizeof *in);
    in->addr = a;
    uint64_t x;
    nk_status st = fl_rd(t, a, &L->in_filter, "_FLT_INSTANCE.Filter", &x);
    if (st != NTKD_OK) return st;
    in->filter = x;
    in->volume = fl_get(t, a, &L->in_volume);
    in->flags = (uint32_t)fl_get(t, a, &L->in_flags);
    in->pointer_count = (uint32_t)fl_get(t, a, &L->in_pc);
    in->object_flags = (uint32_t)fl_get(t, a, &L->in_oflags);
    fl_str(t, a, &L->in_name, in->name, sizeof in->name);
    fl_str(t, a, &L->in_alt, in->altitude, sizeof in->altitude);
    if (in->filter) fl_str(t, in->filter, &L->fi_name, in->filter_name, sizeof in->filter_name);
    return NTKD_OK;
}

nk_status nk_flt_instance_read(ntkd_target *t, uint64_t addr, nk_flt_instance *out)
{
    fl_lay L;
    nk_status st = fl_open(t, &L);
    if (st != NTKD_OK) return st;
    return instance_read(t, &L, addr, out);
}

static nk_status instance_rd(ntkd_target *t, const fl_lay *L, uint64_t a, void *rec)
{
    return instance_read(t, L, a, rec);
}

static nk_status instances(ntkd_target *t, const fl_lay *L, uint64_t head, uint64_t bias, nk_flt_instance **out,
                           size_t *n, nk_strbuf *why)
{
    return collect(t, L, head, bias, sizeof **out, instance_rd, (void **)out, n, why);
}

nk_status nk_flt_volume_instances(ntkd_target *t, const nk_flt_volume *v, nk_flt_instance **out, size_t *n,
                                  nk_strbuf *why)
{
    fl_lay L;
    *out = NULL;
    *n = 0;
    nk_status st = fl_open(t, &L);
    if (st != NTKD_OK) return st;
    return instances(t, &L, v->instances_head, L.in_link.off, out, n, why);
}

nk_status nk_flt_filter_instances(ntkd_target *t, const nk_flt_filter *f, nk_flt_instance **out, size_t *n,
                                  nk_strbuf *why)
{
    fl_lay L;
    *out = NULL;
    *n = 0;
    nk_status st = fl_open(t, &L);
    if (st != NTKD_OK) return st;
    return instances(t, &L, f->instances_head, L.in_flink.off, out, n, why);
}

/* ---- finding a volume ----------------------------------------------------------------------- */

nk_status nk_flt_find_volume(ntkd_target *t, uint64_t addr, uint64_t *volume)
{
    fl_lay L;
    nk_status st = fl_open(t, &L);
    if (st != NTKD_OK) return st;
    nk_flt_frame *fr = NULL;
    size_t nf = 0;
    st = frames(t, &L, &fr, &nf, NULL);
    if (st != NTKD_OK) return st;
    bool found = false;
    for (size_t i = 0; i < nf && !found; i++) {
        nk_flt_volume *v = NULL;
        size_t nv = 0;
        if (volumes(t, &L, &fr[i], &v, &nv, NULL) != NTKD_OK) continue;
        for (size_t j = 0; j < nv && !found; j++)
            if (v[j].addr == addr || v[j].devobj == addr) {
                *volume = v[j].addr;
                found = true;
            }
        free(v);
    }
    free(fr);
    if (found) return NTKD_OK;
    char a[20];
    return nk_fail(t->ctx, NTKD_E_NOTFOUND,
                   "%s is neither a filter-manager volume nor the device object of one (no frame lists it)",
                   nk_k_fmt(t, addr, a));
}

/* ---- enum names ----------------------------------------------------------------------------- */

char *nk_flt_enum_name(ntkd_target *t, const char *enum_type, uint64_t v, char *buf, size_t len)
{
    buf[0] = 0;
    nk_typesrc *ts = nk_sym_types(t, "fltmgr");
    uint64_t id;
    if (!ts || !ts->ops->enumerator || !nk_type_find(ts, enum_type, &id)) return buf;
    const char *n;
    int64_t x;
    for (size_t i = 0; i < 4096 && ts->ops->enumerator(ts, id, i, &n, &x); i++)
        if (n && (uint64_t)x == v) {
            snprintf(buf, len, "%s", n);
            break;
        }
    return buf;
}

/* The prefix every enumerator of the enum shares, up to an underscore ("VOLFL_", "FLT_OBFL_"). */
static size_t enum_prefix(nk_typesrc *ts, uint64_t id)
{
    const char *first = NULL, *n;
    int64_t x;
    size_t common = 0;
    for (size_t i = 0; i < 4096 && ts->ops->enumerator(ts, id, i, &n, &x); i++) {
        if (!n) continue;
        if (!first) {
            first = n;
            common = strlen(n);
            continue;
        }
        size_t k = 0;
        while (k < common && n[k] && n[k] == first[k]) k++;
        common = k;
    }
    if (!first) return 0;
    while (common && first[common - 1] != '_') common--;
    return common;
}

/* "SETUP_NOTIFY_CALLED" -> "SetupNotifyCalled" */
static void camel(const char *p, char *out, size_t len)
{
    size_t k = 0;
    bool up = true;
    for (; *p && k + 1 < len; p++) {
        if (*p == '_') {
            up = true;
            continue;
        }
        char c = *p;
        if (up && c >= 'a' && c <= 'z') c = (char)(c - 32);
        if (!up && c >= 'A' && c <= 'Z') c = (char)(c + 32);
        out[k++] = c;
        up = false;
    }
    out[k] = 0;
}

char *nk_flt_flag_names(ntkd_target *t, const char *enum_type, uint64_t v, char *buf, size_t len)
{
    buf[0] = 0;
    nk_typesrc *ts = nk_sym_types(t, "fltmgr");
    uint64_t id;
    if (!ts || !ts->ops->enumerator || !nk_type_find(ts, enum_type, &id)) return buf;
    size_t k = 0, pre = enum_prefix(ts, id);
    for (unsigned bit = 0; bit < 64; bit++) {
        uint64_t m = 1ull << bit;
        if (!(v & m)) continue;
        const char *n;
        int64_t x;
        for (size_t i = 0; i < 4096 && ts->ops->enumerator(ts, id, i, &n, &x); i++)
            if (n && (uint64_t)x == m) {
                char c[96];
                camel(strlen(n) > pre ? n + pre : n, c, sizeof c);
                int w = snprintf(buf + k, len - k, "%s%s", k ? " " : "", c);
                if (w < 0 || (size_t)w >= len - k) return buf;
                k += (size_t)w;
                break;
            }
    }
    return buf;
}

/* ---- the diagnosis -------------------------------------------------------------------------- */

#define FL_MAXSTACK 64

typedef struct fl_fvol {
    nk_flt_volume v;
    nk_flt_frame *frame; /* into the frames array */
} fl_fvol;

void nk_flt_diag_free(nk_flt_diag *d)
{
    if (!d) return;
    free(d->legacy);
    free(d->problems);
    nk_sb_free(&d->notes);
    memset(d, 0, sizeof *d);
}

static bool push_legacy(nk_flt_diag *d, const nk_flt_legacy *l)
{
    nk_flt_legacy *p = realloc(d->legacy, (d->nlegacy + 1) * sizeof *p);
    if (!p) return false;
    d->legacy = p;
    d->legacy[d->nlegacy++] = *l;
    return true;
}

static bool push_problem(nk_flt_diag *d, const nk_flt_problem *x)
{
    nk_flt_problem *p = realloc(d->problems, (d->nproblems + 1) * sizeof *p);
    if (!p) return false;
    d->problems = p;
    d->problems[d->nproblems++] = *x;
    return true;
}

/* The altitude the filter manager recorded for a legacy driver (legacy-filter records). */
static bool legacy_record_altitude(ntkd_target *t, const fl_lay *L, uint64_t drv, char *alt, size_t len)
{
    if (!L->has_legacy) return false;
    uint64_t g = 0;
    if (!nk_sym_lookup(t, "fltmgr!FltGlobals", &g)) return false;
    fl_walk w;
    bool ok = false;
    if (fl_objects(t, L, g + L->g_legacy.off, L->lg_links.off, &w, NULL) == NTKD_E_NOMEM) return false;
    for (size_t i = 0; i < w.n && !ok; i++)
        if (fl_get(t, w.v[i], &L->lg_drv) == drv) {
            fl_str(t, w.v[i], &L->lg_alt, alt, len);
            ok = alt[0] != 0;
        }
    free(w.v);
    return ok;
}

static double alt_val(const char *s) { return strtod(s, NULL); }

nk_status nk_flt_diagnose(ntkd_target *t, nk_flt_diag *d)
{
    memset(d, 0, sizeof *d);
    fl_lay L;
    nk_status st = fl_open(t, &L);
    if (st != NTKD_OK) return st;
    nk_flt_frame *fr = NULL;
    size_t nf = 0;
    st = frames(t, &L, &fr, &nf, &d->notes);
    if (st != NTKD_OK) return st;
    /* every frame's volumes */
    fl_fvol *fv = NULL;
    size_t nfv = 0;
    for (size_t i = 0; i < nf; i++) {
        nk_flt_volume *v = NULL;
        size_t nv = 0;
        if (volumes(t, &L, &fr[i], &v, &nv, &d->notes) != NTKD_OK) continue;
        if (nfv + nv > NK_FLT_MAX_VOLUMES) {
            nk_sb_printf(&d->notes, "%smore than %u volumes in all frames: the check stops at frame %u",
                         d->notes.len ? "\n" : "", NK_FLT_MAX_VOLUMES, fr[i].id);
            free(v);
            break;
        }
        fl_fvol *p = realloc(fv, (nfv + nv + 1) * sizeof *p);
        if (!p) {
            free(v);
            st = nk_fail(t->ctx, NTKD_E_NOMEM, "out of memory");
            goto out;
        }
        fv = p;
        for (size_t j = 0; j < nv; j++) fv[nfv++] = (fl_fvol){v[j], &fr[i]};
        free(v);
    }
    /* each volume's stack, once: from the frame-zero volumes */
    for (size_t i = 0; i < nfv; i++) {
        const nk_flt_volume *v0 = &fv[i].v;
        if (v0->frame_zero && v0->frame_zero != v0->addr) continue;
        if (!v0->devobj) continue;
        uint64_t stk[FL_MAXSTACK];
        size_t n = nk_k_device_stack(t, v0->devobj, stk, FL_MAXSTACK);
        if (!n) continue;
        /* bottom up: pos 0 is the bottom */
        int frame_at[FL_MAXSTACK]; /* index into fv, -1: not a frame */
        for (size_t p = 0; p < n; p++) {
            uint64_t dev = stk[n - 1 - p];
            frame_at[p] = -1;
            for (size_t j = 0; j < nfv; j++)
                if (fv[j].v.devobj == dev) frame_at[p] = (int)j;
        }
        size_t first_legacy = d->nlegacy;
        for (size_t p = 1; p < n; p++) {
            if (frame_at[p] >= 0) continue;
            nk_flt_legacy l;
            memset(&l, 0, sizeof l);
            l.devobj = stk[n - 1 - p];
            l.drvobj = nk_k_get(t, l.devobj, "_DEVICE_OBJECT", "DriverObject", 0);
            nk_k_device_driver_name(t, l.devobj, l.driver, sizeof l.driver);
            snprintf(l.volume, sizeof l.volume, "%s", v0->name);
            l.frame_below = l.frame_above = -1;
            int below = -1, above = -1;
            for (size_t q = 0; q < p; q++)
                if (frame_at[q] >= 0) below = frame_at[q];
            for (size_t q = n; q-- > p + 1;)
                if (frame_at[q] >= 0) above = frame_at[q];
            if (below >= 0) l.frame_below = (int)fv[below].frame->id;
            if (above >= 0) l.frame_above = (int)fv[above].frame->id;
            if (below < 0) { /* below every frame: no minifilter under it */
                l.alt_source = "below every frame";
            } else if (legacy_record_altitude(t, &L, l.drvobj, l.altitude, sizeof l.altitude)) {
                l.alt_source = "the filter manager's legacy-filter record";
            } else if (p + 1 < n && frame_at[p + 1] >= 0 && fv[frame_at[p + 1]].frame->lo[0]) {
                snprintf(l.altitude, sizeof l.altitude, "%s", fv[frame_at[p + 1]].frame->lo);
                l.alt_source = "the low bound of the frame right above it";
            } else {
                bool topmost = above < 0;
                for (size_t q = p + 1; q < n && topmost; q++)
                    if (frame_at[q] < 0) topmost = false;
                if (topmost && fv[below].frame->hi[0]) {
                    snprintf(l.altitude, sizeof l.altitude, "%s", fv[below].frame->hi);
                    l.alt_source = "the high bound of the frame below it (stretched up to the topmost legacy filter)";
                } else {
                    l.alt_source = "unknown";
                }
            }
            if (!push_legacy(d, &l)) {
                st = nk_fail(t->ctx, NTKD_E_NOMEM, "out of memory");
                goto out;
            }
        }
        /* the problems: minifilters in frames below a legacy filter, with a higher altitude */
        for (size_t li = first_legacy; li < d->nlegacy; li++) {
            nk_flt_legacy *l = &d->legacy[li];
            if (!l->altitude[0] && l->frame_below >= 0) {
                /* altitude unknown: name the minifilters below it, the candidates */
                size_t lp = 0;
                for (size_t p = 1; p < n; p++)
                    if (stk[n - 1 - p] == l->devobj) lp = p;
                nk_sb_printf(&d->notes, "%sthe altitude of legacy filter %s (device %llx) on %s is unknown: "
                             "fltmgr's types have no legacy-filter records and no frame bound gives it; "
                             "minifilters below it (any of higher altitude than its own is on the wrong side of it):",
                             d->notes.len ? "\n" : "", l->driver, (unsigned long long)l->devobj, l->volume);
                size_t cnt = 0;
                for (size_t q = 0; q < lp; q++) {
                    if (frame_at[q] < 0) continue;
                    const fl_fvol *f = &fv[frame_at[q]];
                    nk_flt_instance *in = NULL;
                    size_t ni = 0;
                    if (instances(t, &L, f->v.instances_head, L.in_link.off, &in, &ni, NULL) != NTKD_OK) continue;
                    for (size_t k = 0; k < ni; k++, cnt++)
                        nk_sb_printf(&d->notes, "%s %s (%s, frame %u)", cnt ? "," : "",
                                     in[k].filter_name[0] ? in[k].filter_name : in[k].name, in[k].altitude,
                                     f->frame->id);
                    free(in);
                }
                if (!cnt) nk_sb_printf(&d->notes, " none");
            }
            if (!l->altitude[0] || l->frame_below < 0) continue;
            double la = alt_val(l->altitude);
            /* the next legacy filter above it with a known altitude */
            const char *next = "";
            for (size_t lj = li + 1; lj < d->nlegacy && !next[0]; lj++)
                if (d->legacy[lj].altitude[0]) next = d->legacy[lj].altitude;
            size_t lp = 0;
            for (size_t p = 1; p < n; p++)
                if (stk[n - 1 - p] == l->devobj) lp = p;
            for (size_t q = 0; q < lp; q++) {
                if (frame_at[q] < 0) continue;
                const fl_fvol *f = &fv[frame_at[q]];
                nk_flt_instance *in = NULL;
                size_t ni = 0;
                if (instances(t, &L, f->v.instances_head, L.in_link.off, &in, &ni, &d->notes) != NTKD_OK) continue;
                for (size_t k = 0; k < ni; k++) {
                    if (!in[k].altitude[0] || alt_val(in[k].altitude) <= la) continue;
                    nk_flt_problem x;
                    memset(&x, 0, sizeof x);
                    x.legacy = li;
                    snprintf(x.minifilter, sizeof x.minifilter, "%s",
                             in[k].filter_name[0] ? in[k].filter_name : in[k].name);
                    snprintf(x.mini_altitude, sizeof x.mini_altitude, "%s", in[k].altitude);
                    snprintf(x.next_altitude, sizeof x.next_altitude, "%s", next);
                    x.instance = in[k].addr;
                    x.frame = (int)f->frame->id;
                    if (!push_problem(d, &x)) {
                        free(in);
                        st = nk_fail(t->ctx, NTKD_E_NOMEM, "out of memory");
                        goto out;
                    }
                }
                free(in);
            }
        }
    }
    st = NTKD_OK;
out:
    free(fv);
    free(fr);
    if (st != NTKD_OK) {
        nk_strbuf keep = d->notes;
        d->notes = (nk_strbuf){0};
        nk_flt_diag_free(d);
        d->notes = keep;
    }
    return st;
}

/* ---- the diagnosis in words (shared by !fltkd and !analyze -v) ------------------------------- */

static const char *flt_leaf(const char *s)
{
    const char *p = strrchr(s, '\\');
    return p ? p + 1 : s;
}

/* Problem i and its legacy filter, buf emptied; false (nothing to write) when i or its filter is
 * out of range or buf has no room. */
static bool flt_problem_at(const nk_flt_diag *d, size_t i, char *buf, size_t len, const nk_flt_problem **p,
                           const nk_flt_legacy **l)
{
    if (!len) return false;
    buf[0] = 0;
    if (i >= d->nproblems || d->problems[i].legacy >= d->nlegacy) return false;
    *p = &d->problems[i];
    *l = &d->legacy[(*p)->legacy];
    return true;
}

char *nk_flt_problem_finding(const nk_flt_diag *d, size_t i, char *buf, size_t len)
{
    const nk_flt_problem *p;
    const nk_flt_legacy *l;
    if (!flt_problem_at(d, i, buf, len, &p, &l)) return buf;
    snprintf(buf, len,
             "legacy filter %s (altitude %s) is attached above frame %d, which holds minifilter %s of higher "
             "altitude %s (on %s): %s sees the I/O before %s does, the reverse of their altitudes",
             flt_leaf(l->driver), l->altitude[0] ? l->altitude : "?", p->frame, p->minifilter, p->mini_altitude,
             l->volume, flt_leaf(l->driver), p->minifilter);
    return buf;
}

char *nk_flt_problem_remedy(const nk_flt_diag *d, size_t i, char *buf, size_t len)
{
    const nk_flt_problem *p;
    const nk_flt_legacy *l;
    if (!flt_problem_at(d, i, buf, len, &p, &l)) return buf;
    snprintf(buf, len,
             "load a boot-start dummy minifilter, in a load order group loading after %s, with an altitude "
             "between %s and %s, so that the filter manager creates a frame above %s",
             flt_leaf(l->driver), l->altitude, p->mini_altitude, flt_leaf(l->driver));
    return buf;
}
