/* fltmgr.c: the filter-manager scenes of ntkd-genscene (seed 003: "Understanding File System
 * Minifilter and Legacy Filter Load Order").
 *
 * The filter manager's structures are laid out from a STAND-IN layout, not the real fltmgr's
 * (whose PDB is not available here): tests/fltmgr/fltmgr_standin.h, built by tests/fltmgr into
 * a PDB for ntkd and into the ISF-shaped JSON read here with lay_open (path: $NTKD_FLTMGR_LAYOUT,
 * else ../../fltmgr/fltmgr.json, or fltmgr-x86.json for a 32-bit kernel, from this executable's
 * directory: <build dir>/tests/fltmgr).
 * fltmgr.sys is a driver image whose CodeView record carries the stand-in PDB's identity, so
 * ntkd finds that PDB by GUID/age on its symbol path; FltGlobals lies at the stand-in's RVA.
 *
 * Scene "fltmgr" (the state seed 003 explains): load order FileInfo (45000), EncryptionLegacy
 * (legacy, 149998.99), AVLegacy (legacy, 329998.99), AVMiniFilter (328000), luafv (135000).
 * Frame 0 started at 0..49999; when AVMiniFilter registered, the filter manager stretched it
 * over the legacy filters attached above it, to 0..329998.99, so AVMiniFilter sits below
 * EncryptionLegacy although its altitude is higher. File-system stack of \Device\HarddiskVolume2,
 * bottom up: Ntfs volume device, FltMgr (frame 0), EncryptionLegacy, AVLegacy.
 * Scene "fltmgr-split": a dummy minifilter NullFilter (160030, boot start) loaded after
 * EncryptionLegacy: frame 0 became 0..149998.99 and frame 1 was created above EncryptionLegacy;
 * AVLegacy attached above frame 1, which later stretched to 149998.99..329998.99 for
 * AVMiniFilter. Stack: Ntfs, FltMgr (frame 0), EncryptionLegacy, FltMgr (frame 1), AVLegacy.
 * (The seed's fltmc listing prints AVLegacy at 389998.99 but its table and walk-through use
 * 329998.99, the frame bound; the scene uses 329998.99.)
 *
 * Manifest lines written here (scene.h):
 *   fltframe <addr> <id> <alt_low> <alt_high>
 *   fltfilter <addr> <name> <altitude> <frame id>
 *   fltinstance <addr> <filter name> <volume addr> <altitude>
 *   fltvolume <addr> <name> <frame id>
 *   legacy <devobj> <driver object name> <the highest-altitude minifilter below it>
 *   altitude_problem <legacy driver object name> <minifilter>   (a legacy filter above a
 *                                          minifilter of higher altitude on the same stack)
 *   fltlayout <path of the stand-in JSON>
 *   fltglobals <va of fltmgr!FltGlobals> */
#include "scene.h"

#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define FL_MAXF 8

typedef struct flc {
    kern *k;
    world *w;
    lay *F;
} flc;

typedef struct flfilter {
    const char *name;
    const char *altitude;
    uint64_t drv, addr;
    int frame; /* frame id */
} flfilter;

/* ------------------------------------------------------------------ typed stores (stand-in) */
static uint64_t foff(flc *c, const char *type, const char *field)
{
    return lay_off_req(c->F, type, field);
}

static void fset(flc *c, uint64_t obj, const char *type, const char *field, uint64_t v)
{
    uint64_t off, size;
    unsigned bp, bl;
    if (!lay_field(c->F, type, field, &off, &size, &bp, &bl))
        sc_die("fltmgr stand-in layout: %s.%s missing", type, field);
    if (size != 1 && size != 2 && size != 4 && size != 8)
        sc_die("fltmgr stand-in layout: %s.%s has %llu bytes", type, field, (unsigned long long)size);
    w_put(c->w, obj + off, (unsigned)size, v);
}

static void fustr(flc *c, uint64_t obj, const char *type, const char *field, const char *s)
{
    w_ustr(c->w, obj + foff(c, type, field), s);
}

/* _FLT_RESOURCE_LIST_HEAD at head: empty list */
static void rlh_init(flc *c, uint64_t head)
{
    w_list_init(c->w, head + foff(c, "_FLT_RESOURCE_LIST_HEAD", "rList"));
    fset(c, head, "_FLT_RESOURCE_LIST_HEAD", "rCount", 0);
}

static void rlh_add(flc *c, uint64_t head, uint64_t link)
{
    w_list_tail(c->w, head + foff(c, "_FLT_RESOURCE_LIST_HEAD", "rList"), link);
    uint64_t n = w_get(c->w, head + foff(c, "_FLT_RESOURCE_LIST_HEAD", "rCount"), 4);
    fset(c, head, "_FLT_RESOURCE_LIST_HEAD", "rCount", n + 1);
}

static void object_base(flc *c, uint64_t obj, uint64_t flags)
{
    fset(c, obj, "_FLT_OBJECT", "Flags", flags);
    fset(c, obj, "_FLT_OBJECT", "PointerCount", 1);
    w_put(c->w, obj + foff(c, "_FLT_OBJECT", "RundownRef"), 8, 0x20a);
}

/* ------------------------------------------------------------------ the filter manager's objects */
static uint64_t frame_new(flc *c, uint64_t globals, unsigned id, const char *lo, const char *hi)
{
    uint64_t f = w_alloc(c->w, lay_size(c->F, "_FLTP_FRAME"), 16);
    fset(c, f, "_FLTP_FRAME", "Type.Signature", 0xf100 + id);
    fset(c, f, "_FLTP_FRAME", "Type.Size", lay_size(c->F, "_FLTP_FRAME"));
    fset(c, f, "_FLTP_FRAME", "FrameID", id);
    fustr(c, f, "_FLTP_FRAME", "AltitudeIntervalLow", lo);
    fustr(c, f, "_FLTP_FRAME", "AltitudeIntervalHigh", hi);
    fset(c, f, "_FLTP_FRAME", "LargeIrpCtrlStackSize", 2);
    fset(c, f, "_FLTP_FRAME", "SmallIrpCtrlStackSize", 1);
    rlh_init(c, f + foff(c, "_FLTP_FRAME", "RegisteredFilters"));
    rlh_init(c, f + foff(c, "_FLTP_FRAME", "AttachedVolumes"));
    w_list_init(c->w, f + foff(c, "_FLTP_FRAME", "MountingVolumes"));
    rlh_add(c, globals + foff(c, "_GLOBALS", "FrameList"), f + foff(c, "_FLTP_FRAME", "Links"));
    mf("fltframe %#llx %u %s %s", (unsigned long long)f, id, lo, hi);
    return f;
}

static uint64_t filter_new(flc *c, uint64_t frame, unsigned frame_id, const flfilter *d)
{
    uint64_t f = w_alloc(c->w, lay_size(c->F, "_FLT_FILTER"), 16);
    object_base(c, f, 0x2000000); /* the filter object type */
    fset(c, f, "_FLT_FILTER", "Frame", frame);
    fustr(c, f, "_FLT_FILTER", "Name", d->name);
    fustr(c, f, "_FLT_FILTER", "DefaultAltitude", d->altitude);
    fset(c, f, "_FLT_FILTER", "Flags", 0x2);
    fset(c, f, "_FLT_FILTER", "DriverObject", d->drv);
    rlh_init(c, f + foff(c, "_FLT_FILTER", "InstanceList"));
    rlh_add(c, frame + foff(c, "_FLTP_FRAME", "RegisteredFilters"), f + foff(c, "_FLT_OBJECT", "PrimaryLink"));
    mf("fltfilter %#llx %s %s %u", (unsigned long long)f, d->name, d->altitude, frame_id);
    return f;
}

static uint64_t volume_new(flc *c, uint64_t frame, unsigned frame_id, uint64_t devobj, uint64_t disk,
                           uint64_t frame_zero, const char *name)
{
    uint64_t v = w_alloc(c->w, lay_size(c->F, "_FLT_VOLUME"), 16);
    object_base(c, v, 0x4000000); /* the volume object type */
    fset(c, v, "_FLT_VOLUME", "Flags", 0x64); /* setup notify called, name caching, filter attached */
    fset(c, v, "_FLT_VOLUME", "FileSystemType", 2); /* FLT_FSTYPE_NTFS */
    fset(c, v, "_FLT_VOLUME", "DeviceObject", devobj);
    fset(c, v, "_FLT_VOLUME", "DiskDeviceObject", disk);
    fset(c, v, "_FLT_VOLUME", "FrameZeroVolume", frame_zero ? frame_zero : v);
    fset(c, v, "_FLT_VOLUME", "VolumeInNextFrame", 0);
    fset(c, v, "_FLT_VOLUME", "Frame", frame);
    fustr(c, v, "_FLT_VOLUME", "DeviceName", name);
    fustr(c, v, "_FLT_VOLUME", "GuidName", "\\??\\Volume{552791b0-455d-11de-b7b9-00145eed6acc}");
    fustr(c, v, "_FLT_VOLUME", "CDODeviceName", "\\Ntfs");
    fustr(c, v, "_FLT_VOLUME", "CDODriverName", "\\FileSystem\\Ntfs");
    rlh_init(c, v + foff(c, "_FLT_VOLUME", "InstanceList"));
    rlh_init(c, v + foff(c, "_FLT_VOLUME", "StreamListCtrls"));
    rlh_init(c, v + foff(c, "_FLT_VOLUME", "FileListCtrls"));
    rlh_init(c, v + foff(c, "_FLT_VOLUME", "NameCacheCtrl"));
    fset(c, v, "_FLT_VOLUME", "TargetedOpenActiveCount", 258);
    if (frame_zero)
        fset(c, frame_zero, "_FLT_VOLUME", "VolumeInNextFrame", v);
    rlh_add(c, frame + foff(c, "_FLTP_FRAME", "AttachedVolumes"), v + foff(c, "_FLT_OBJECT", "PrimaryLink"));
    mf("fltvolume %#llx %s %u", (unsigned long long)v, name, frame_id);
    return v;
}

static uint64_t instance_new(flc *c, uint64_t filter, uint64_t volume, const flfilter *d)
{
    uint64_t i = w_alloc(c->w, lay_size(c->F, "_FLT_INSTANCE"), 16);
    object_base(c, i, 0x1000000); /* the instance object type */
    fset(c, i, "_FLT_INSTANCE", "Volume", volume);
    fset(c, i, "_FLT_INSTANCE", "Filter", filter);
    fset(c, i, "_FLT_INSTANCE", "Flags", 0x1);
    fustr(c, i, "_FLT_INSTANCE", "Altitude", d->altitude);
    char name[96];
    snprintf(name, sizeof name, "%s Instance", d->name);
    fustr(c, i, "_FLT_INSTANCE", "Name", name);
    rlh_add(c, volume + foff(c, "_FLT_VOLUME", "InstanceList"), i + foff(c, "_FLT_OBJECT", "PrimaryLink"));
    rlh_add(c, filter + foff(c, "_FLT_FILTER", "InstanceList"), i + foff(c, "_FLT_INSTANCE", "FilterLink"));
    mf("fltinstance %#llx %s %#llx %s", (unsigned long long)i, d->name, (unsigned long long)volume, d->altitude);
    return i;
}

/* SYNTHETIC record of the stand-in (fltmgr_standin.h): a legacy filter's altitude. */
static void legacy_record(flc *c, uint64_t globals, uint64_t drv, const char *name, const char *alt)
{
    uint64_t r = w_alloc(c->w, lay_size(c->F, "_FLTP_LEGACY_FILTER"), 16);
    fset(c, r, "_FLTP_LEGACY_FILTER", "DriverObject", drv);
    fustr(c, r, "_FLTP_LEGACY_FILTER", "Name", name);
    fustr(c, r, "_FLTP_LEGACY_FILTER", "Altitude", alt);
    rlh_add(c, globals + foff(c, "_GLOBALS", "LegacyFilterList"), r + foff(c, "_FLTP_LEGACY_FILTER", "Links"));
}

/* ------------------------------------------------------------------ the layout file */
static const char *layout_path(char *buf, size_t len, bool x86)
{
    const char *env = getenv("NTKD_FLTMGR_LAYOUT");
    if (env && env[0])
        return env;
    char exe[4096];
    ssize_t n = readlink("/proc/self/exe", exe, sizeof exe - 1);
    if (n <= 0)
        sc_die("scene fltmgr: cannot find this executable's directory (set NTKD_FLTMGR_LAYOUT)");
    exe[n] = 0;
    char *slash = strrchr(exe, '/');
    if (slash)
        *slash = 0;
    snprintf(buf, len, "%s/../../fltmgr/fltmgr%s.json", exe, x86 ? "-x86" : "");
    if (access(buf, R_OK))
        sc_die("scene fltmgr: the stand-in filter-manager layout %s is missing (built by tests/fltmgr "
               "with clang-cl and lld-link; or set NTKD_FLTMGR_LAYOUT)", buf);
    return buf;
}

static double alt_num(const char *s) { return strtod(s, NULL); }

/* ------------------------------------------------------------------ the scenes */
void scene_fltmgr(kern *k, const sc_base *b)
{
    bool split = b->o && b->o->scene && !strcmp(b->o->scene, "fltmgr-split");
    char pbuf[4200];
    const char *path = layout_path(pbuf, sizeof pbuf, lay_ptr(k->L) == 4);
    flc c = {.k = k, .w = k->w, .F = lay_open(path)};
    if (lay_ptr(c.F) != lay_ptr(k->L))
        sc_die("%s: a %u-bit filter-manager layout for a %u-bit kernel", path, 8 * lay_ptr(c.F), 8 * lay_ptr(k->L));
    mf("fltlayout %s", path);

    /* fltmgr.sys with the stand-in's identity; FltGlobals at its RVA, above the code */
    uint64_t grva = lay_sym(c.F, "FltGlobals");
    uint64_t gsize = lay_size(c.F, "_GLOBALS");
    static const char *const flt_f[] = {"FltpDispatch", "FltpCreate", "FltpFsControl"};
    if (grva == SC_NONE || grva < 0x1000 + 0x2000 * 3 + 0x2000)
        sc_die("%s: FltGlobals' RVA %#llx is missing or inside the generated code", path,
               (unsigned long long)grva);
    uint64_t fbase = k_driver_image_pdb(k, "fltmgr.sys", flt_f, 3, lay_guid_age(c.F), grva + gsize);
    uint64_t fltdrv = io_driver(k, "\\FileSystem\\FltMgr", fbase, "fltmgr.sys");
    uint64_t g = fbase + grva;
    mf("fltglobals %#llx", (unsigned long long)g);

    static const char *const ntfs_f[] = {"NtfsFsdCreate", "NtfsFsdRead"};
    static const char *const vol_f[] = {"VmReadWrite"};
    static const char *const mini_f[] = {"DriverEntry", "PreOperationCallback"};
    static const char *const leg_f[] = {"DriverEntry", "LegacyDispatch"};
    uint64_t ntfs = io_driver(k, "\\FileSystem\\Ntfs", k_driver_image(k, "Ntfs.sys", ntfs_f, 2), "Ntfs.sys");
    uint64_t volmgr = io_driver(k, "\\Driver\\volmgr", k_driver_image(k, "volmgr.sys", vol_f, 1), "volmgr.sys");
    uint64_t encdrv = io_driver(k, "\\Driver\\EncryptionLegacy",
                                k_driver_image(k, "EncryptionLegacy.sys", leg_f, 2), "EncryptionLegacy.sys");
    uint64_t avldrv = io_driver(k, "\\Driver\\AVLegacy", k_driver_image(k, "AVLegacy.sys", leg_f, 2),
                                "AVLegacy.sys");

    /* the minifilters, by altitude (descending: the order fltmgr keeps) */
    flfilter fl[FL_MAXF] = {
        {"AVMiniFilter", "328000", 0, 0, split ? 1 : 0},
        {"NullFilter", "160030", 0, 0, 1},
        {"luafv", "135000", 0, 0, 0},
        {"FileInfo", "45000", 0, 0, 0},
    };
    size_t nfl = 4;
    static const char *const files[] = {"AVMiniFilter.sys", "NullFilter.sys", "luafv.sys", "fileinfo.sys"};
    static const char *const objs[] = {"\\Driver\\AVMiniFilter", "\\Driver\\NullFilter", "\\FileSystem\\luafv",
                                       "\\FileSystem\\FileInfo"};
    for (size_t i = 0; i < nfl; i++) {
        if (!split && !strcmp(fl[i].name, "NullFilter"))
            continue;
        fl[i].drv = io_driver(k, objs[i], k_driver_image(k, files[i], mini_f, 2), files[i]);
    }

    /* the file-system stack of the volume, bottom up */
    uint64_t disk = io_device(k, volmgr, 0, 0x100, "\\Device\\HarddiskVolume2", 0x7 /* DISK */);
    uint64_t vdo = io_device(k, ntfs, 0, 0x1000, NULL, 0x8 /* DISK_FILE_SYSTEM */);
    uint64_t cdo = io_device(k, fltdrv, 0, 0, "\\FileSystem\\Filters\\FltMgr", 0x8);
    uint64_t flt0 = io_device(k, fltdrv, vdo, 0x58, NULL, 0x8);
    uint64_t enc = io_device(k, encdrv, flt0, 0x40, NULL, 0x8);
    uint64_t flt1 = split ? io_device(k, fltdrv, enc, 0x58, NULL, 0x8) : 0;
    uint64_t avl = io_device(k, avldrv, split ? flt1 : enc, 0x40, NULL, 0x8);

    /* FltGlobals */
    fset(&c, g, "_GLOBALS", "NumProcessors", k->ncpu);
    fset(&c, g, "_GLOBALS", "ControlDeviceObject", cdo);
    fset(&c, g, "_GLOBALS", "DriverObject", fltdrv);
    rlh_init(&c, g + foff(&c, "_GLOBALS", "FrameList"));
    if (lay_off(c.F, "_GLOBALS", "LegacyFilterList") >= 0) { /* the stand-in variant has them */
        rlh_init(&c, g + foff(&c, "_GLOBALS", "LegacyFilterList"));
        legacy_record(&c, g, encdrv, "EncryptionLegacy", "149998.99");
        legacy_record(&c, g, avldrv, "AVLegacy", "329998.99");
    }

    /* frames, volumes, filters, instances */
    uint64_t frame[2], vol[2];
    frame[0] = frame_new(&c, g, 0, "0", split ? "149998.99" : "329998.99");
    vol[0] = volume_new(&c, frame[0], 0, flt0, disk, 0, "\\Device\\HarddiskVolume2");
    if (split) {
        frame[1] = frame_new(&c, g, 1, "149998.99", "329998.99");
        vol[1] = volume_new(&c, frame[1], 1, flt1, disk, vol[0], "\\Device\\HarddiskVolume2");
    }
    for (size_t i = 0; i < nfl; i++) {
        if (!fl[i].drv)
            continue;
        int f = fl[i].frame;
        fl[i].addr = filter_new(&c, frame[f], (unsigned)f, &fl[i]);
        instance_new(&c, fl[i].addr, vol[f], &fl[i]);
    }

    /* the facts the diagnosis must find: each legacy device and the minifilters below it */
    struct {
        uint64_t dev, drv;
        const char *obj, *alt;
        int frames_below; /* frames 0..frames_below-1 lie below it */
    } leg[2] = {
        {enc, encdrv, "\\Driver\\EncryptionLegacy", "149998.99", 1},
        {avl, avldrv, "\\Driver\\AVLegacy", "329998.99", split ? 2 : 1},
    };
    for (int i = 0; i < 2; i++) {
        const char *top = "-";
        double best = -1;
        for (size_t j = 0; j < nfl; j++)
            if (fl[j].drv && fl[j].frame < leg[i].frames_below && alt_num(fl[j].altitude) > best) {
                best = alt_num(fl[j].altitude);
                top = fl[j].name;
            }
        mf("legacy %#llx %s %s", (unsigned long long)leg[i].dev, leg[i].obj, top);
        for (size_t j = 0; j < nfl; j++)
            if (fl[j].drv && fl[j].frame < leg[i].frames_below &&
                alt_num(fl[j].altitude) > alt_num(leg[i].alt))
                mf("altitude_problem %s %s", leg[i].obj, fl[j].name);
    }
    k_bugcheck(k, 0xE2, 0, 0, 0, 0); /* MANUALLY_INITIATED_CRASH */
    lay_free(c.F);
}
