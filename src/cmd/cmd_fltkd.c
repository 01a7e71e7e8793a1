/* cmd_fltkd.c: the filter-manager commands !fltkd.filters, !fltkd.frames, !fltkd.volumes,
 * !fltkd.volume addr and !fltkd.instance addr, in the shapes WinDbg's fltkd extension prints
 * (seed 004), each also with --json; and the diagnosis of seed 003 (a legacy filter attached
 * above a frame that holds a minifilter of higher altitude), printed by !fltkd.filters,
 * !fltkd.frames and !fltkd.volumes.
 *
 * Everything is read through src/kobj/kfltmgr.c from fltmgr's own types (fltmgr.pdb on the
 * symbol path); without them the commands say so. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cmd/cmd.h"
#include "expr/expr.h"
#include "kobj/kfltmgr.h"
#include "mem/mem.h"
#include "type/type.h"

/* Addresses as fltkd prints them: all digits, no separator. */
static const char *A(ntkd_target *t, char *b, uint64_t v)
{
    snprintf(b, 24, "%0*llx", t->d.is64 ? 16 : 8, (unsigned long long)v);
    return b;
}

static const char *errmsg(nk_cmd_env *e)
{
    return e->t->ctx->errmsg[0] ? e->t->ctx->errmsg : "failed";
}

static void json_notes(nk_cmd_env *e, const nk_strbuf *why)
{
    if (why->len) {
        nk_printf(e->o, "NOTE: %s\n", why->s);
        nk_json_str(e->o, NULL, "walk_note", why->s);
    }
}

/* "\\Driver\\EncryptionLegacy" -> "EncryptionLegacy" */
static const char *leaf(const char *s)
{
    const char *p = strrchr(s, '\\');
    return p ? p + 1 : s;
}

/* ---- the diagnosis -------------------------------------------------------------------------- */

/* Prints the legacy filters, the fltmc-like summary (when `table`) and the warnings. */
static void print_diag(nk_cmd_env *e, const nk_flt_frame *fr, size_t nf, bool table)
{
    ntkd_target *t = e->t;
    nk_out *o = e->o;
    nk_flt_diag d;
    if (nk_flt_diagnose(t, &d) != NTKD_OK) {
        nk_printf(o, "NOTE: the legacy-filter check could not run: %s\n", errmsg(e));
        nk_json_str(o, NULL, "diagnosis_error", errmsg(e));
        nk_flt_diag_free(&d);
        return;
    }
    char b1[24];
    json_object *jl = nk_json_arr(o, NULL, "legacy_filters");
    for (size_t i = 0; i < d.nlegacy; i++) {
        const nk_flt_legacy *l = &d.legacy[i];
        json_object *x = nk_json_obj(o, jl, NULL);
        nk_json_u64(o, x, "device", l->devobj);
        nk_json_u64(o, x, "driver_object", l->drvobj);
        nk_json_str(o, x, "driver", l->driver);
        nk_json_str(o, x, "volume", l->volume);
        nk_json_str(o, x, "altitude", l->altitude);
        nk_json_str(o, x, "altitude_source", l->alt_source ? l->alt_source : "");
        nk_json_int(o, x, "frame_below", l->frame_below);
        nk_json_int(o, x, "frame_above", l->frame_above);
    }
    if (d.nlegacy) {
        nk_printf(o, "\nLegacy filters on the file-system stacks (bottom up):\n");
        for (size_t i = 0; i < d.nlegacy; i++) {
            const nk_flt_legacy *l = &d.legacy[i];
            char pos[64] = "";
            if (l->frame_below >= 0 && l->frame_above >= 0)
                snprintf(pos, sizeof pos, "between frames %d and %d", l->frame_below, l->frame_above);
            else if (l->frame_below >= 0)
                snprintf(pos, sizeof pos, "above frame %d", l->frame_below);
            else
                snprintf(pos, sizeof pos, "below every frame");
            nk_printf(o, "   DEVICE: %s \"%s\" \"%s\" %s on \"%s\"%s%s\n", A(t, b1, l->devobj), l->driver,
                      l->altitude[0] ? l->altitude : "?", pos, l->volume,
                      l->altitude[0] ? "" : " (altitude unknown)", "");
        }
    }
    if (table) {
        nk_printf(o, "\n%-30s  %-13s  %-12s %s\n", "Filter Name", "Num Instances", "Altitude", "Frame");
        nk_printf(o, "------------------------------  -------------  ------------ -----\n");
        for (size_t i = d.nlegacy; i-- > 0;) {
            /* one row per legacy driver (the topmost device first) */
            bool dup = false;
            for (size_t j = i + 1; j < d.nlegacy; j++)
                if (d.legacy[j].drvobj == d.legacy[i].drvobj) dup = true;
            if (dup) continue;
            nk_printf(o, "%-30s  %-13s  %-12s %s\n", leaf(d.legacy[i].driver), "",
                      d.legacy[i].altitude[0] ? d.legacy[i].altitude : "?", "<Legacy>");
        }
        for (size_t f = nf; f-- > 0;) {
            nk_flt_filter *fl = NULL;
            size_t n = 0;
            nk_strbuf why = {0};
            if (nk_flt_filters(t, &fr[f], &fl, &n, &why) == NTKD_OK)
                for (size_t i = 0; i < n; i++)
                    nk_printf(o, "%-30s  %13u  %-12s %5u\n", fl[i].name, fl[i].ninstances, fl[i].altitude,
                              fr[f].id);
            free(fl);
            nk_sb_free(&why);
        }
    }
    json_object *jw = nk_json_arr(o, NULL, "warnings");
    for (size_t i = 0; i < d.nproblems; i++) {
        const nk_flt_problem *p = &d.problems[i];
        const nk_flt_legacy *l = &d.legacy[p->legacy];
        nk_printf(o,
                  "\nWARNING: legacy filter %s (altitude %s) is attached above frame %d, which holds "
                  "minifilter %s of higher altitude %s (on %s): %s sees the I/O before %s does, the "
                  "reverse of their altitudes (for an encryption filter: %s gets still-encrypted data).\n",
                  leaf(l->driver), l->altitude, p->frame, p->minifilter, p->mini_altitude, l->volume, p->minifilter,
                  leaf(l->driver), p->minifilter);
        nk_printf(o,
                  "  Why: legacy filters attach only at the top of the stack and so does the filter "
                  "manager's frame device; when %s registered, the filter manager stretched frame %d's "
                  "altitude range over the legacy filters already attached above it instead of creating a "
                  "frame between them.\n",
                  p->minifilter, p->frame);
        char nextpart[96] = "";
        if (p->next_altitude[0])
            snprintf(nextpart, sizeof nextpart, " and before the next legacy filter (altitude %s)", p->next_altitude);
        nk_printf(o,
                  "  Remedy: have a new frame created above %s: load a dummy minifilter at boot (start type "
                  "SERVICE_BOOT_START), in a load order group that loads after %s%s, with an altitude above "
                  "%s and below %s. The filter manager then creates a frame above %s and %s registers in it. "
                  "A production minifilter needs an altitude assigned by Microsoft.\n",
                  leaf(l->driver), leaf(l->driver), nextpart, l->altitude, p->mini_altitude, leaf(l->driver),
                  p->minifilter);
        json_object *x = nk_json_obj(o, jw, NULL);
        nk_json_str(o, x, "kind", "legacy_above_higher_minifilter");
        nk_json_str(o, x, "legacy_driver", l->driver);
        nk_json_str(o, x, "legacy_altitude", l->altitude);
        nk_json_str(o, x, "altitude_source", l->alt_source ? l->alt_source : "");
        nk_json_u64(o, x, "legacy_device", l->devobj);
        nk_json_str(o, x, "minifilter", p->minifilter);
        nk_json_str(o, x, "minifilter_altitude", p->mini_altitude);
        nk_json_u64(o, x, "instance", p->instance);
        nk_json_int(o, x, "frame", p->frame);
        nk_json_str(o, x, "volume", l->volume);
        char rem[512];
        nk_json_str(o, x, "remedy", nk_flt_problem_remedy(&d, i, rem, sizeof rem));
    }
    if (d.notes.len) {
        nk_printf(o, "NOTE: %s\n", d.notes.s);
        nk_json_str(o, NULL, "diagnosis_note", d.notes.s);
    }
    nk_flt_diag_free(&d);
}

/* ---- !fltkd.frames / !fltkd.filters / !fltkd.volumes ---------------------------------------- */

typedef enum { SHOW_FRAMES, SHOW_FILTERS, SHOW_VOLUMES } show_kind;

static void print_instances(nk_cmd_env *e, nk_flt_instance *in, size_t n, const char *indent, json_object *arr)
{
    char b1[24];
    for (size_t i = 0; i < n; i++) {
        nk_printf(e->o, "%sFLT_INSTANCE: %s \"%s\" \"%s\"\n", indent, A(e->t, b1, in[i].addr), in[i].name,
                  in[i].altitude);
        json_object *x = nk_json_obj(e->o, arr, NULL);
        nk_json_u64(e->o, x, "addr", in[i].addr);
        nk_json_str(e->o, x, "name", in[i].name);
        nk_json_str(e->o, x, "altitude", in[i].altitude);
        nk_json_str(e->o, x, "filter", in[i].filter_name);
        nk_json_u64(e->o, x, "volume", in[i].volume);
    }
}

static nk_status show(nk_cmd_env *e, show_kind kind)
{
    ntkd_target *t = e->t;
    nk_out *o = e->o;
    char b1[24], b2[24];
    uint64_t head = 0;
    if (nk_flt_frame_list(t, &head) != NTKD_OK) {
        nk_cmd_error(o, "%s: %s", e->name, errmsg(e));
        return NTKD_E_NOTFOUND;
    }
    nk_flt_frame *fr = NULL;
    size_t nf = 0;
    nk_strbuf why = {0};
    nk_status st = nk_flt_frames(t, &fr, &nf, &why);
    if (st != NTKD_OK) {
        nk_cmd_error(o, "%s: %s", e->name, errmsg(e));
        nk_sb_free(&why);
        return st;
    }
    nk_json_u64(o, NULL, "frame_list", head);
    if (kind == SHOW_FRAMES) nk_printf(o, "Frame List: %s \n", A(t, b1, head));
    json_object *jf = nk_json_arr(o, NULL, "frames");
    for (size_t f = 0; f < nf; f++) {
        json_object *x = nk_json_obj(o, jf, NULL);
        nk_json_u64(o, x, "addr", fr[f].addr);
        nk_json_int(o, x, "id", fr[f].id);
        nk_json_str(o, x, "altitude_low", fr[f].lo);
        nk_json_str(o, x, "altitude_high", fr[f].hi);
        nk_json_int(o, x, "filter_count", fr[f].nfilters);
        nk_json_int(o, x, "volume_count", fr[f].nvolumes);
        const char *ind = "   ";
        if (kind == SHOW_FRAMES) {
            nk_printf(o, "   FLTP_FRAME: %s \"Frame %u\" \"%s to %s\"\n", A(t, b1, fr[f].addr), fr[f].id, fr[f].lo,
                      fr[f].hi);
            ind = "      ";
        } else if (kind == SHOW_FILTERS) {
            nk_printf(o, "\nFilter List: %s \"Frame %u\" \n", A(t, b1, fr[f].filters_head), fr[f].id);
        } else {
            nk_printf(o, "\nVolume List: %s \"Frame %u\" \n", A(t, b1, fr[f].volumes_head), fr[f].id);
        }
        char ind2[16];
        snprintf(ind2, sizeof ind2, "%s   ", ind);
        if (kind == SHOW_VOLUMES) {
            nk_flt_volume *v = NULL;
            size_t nv = 0;
            json_object *jv = nk_json_arr(o, x, "volumes");
            if (nk_flt_volumes(t, &fr[f], &v, &nv, &why) != NTKD_OK) {
                nk_printf(o, "%s(volumes: %s)\n", ind, errmsg(e));
                continue;
            }
            for (size_t i = 0; i < nv; i++) {
                nk_printf(o, "%sFLT_VOLUME: %s \"%s\"\n", ind, A(t, b1, v[i].addr), v[i].name);
                json_object *y = nk_json_obj(o, jv, NULL);
                nk_json_u64(o, y, "addr", v[i].addr);
                nk_json_str(o, y, "name", v[i].name);
                nk_json_u64(o, y, "device_object", v[i].devobj);
                nk_json_int(o, y, "instance_count", v[i].ninstances);
                nk_flt_instance *in = NULL;
                size_t ni = 0;
                if (nk_flt_volume_instances(t, &v[i], &in, &ni, &why) == NTKD_OK)
                    print_instances(e, in, ni, ind2, nk_json_arr(o, y, "instances"));
                free(in);
            }
            free(v);
            continue;
        }
        nk_flt_filter *fl = NULL;
        size_t n = 0;
        json_object *jfl = nk_json_arr(o, x, "filters");
        if (nk_flt_filters(t, &fr[f], &fl, &n, &why) != NTKD_OK) {
            nk_printf(o, "%s(filters: %s)\n", ind, errmsg(e));
            continue;
        }
        for (size_t i = 0; i < n; i++) {
            nk_printf(o, "%sFLT_FILTER: %s \"%s\" \"%s\"\n", ind, A(t, b1, fl[i].addr), fl[i].name, fl[i].altitude);
            json_object *y = nk_json_obj(o, jfl, NULL);
            nk_json_u64(o, y, "addr", fl[i].addr);
            nk_json_str(o, y, "name", fl[i].name);
            nk_json_str(o, y, "altitude", fl[i].altitude);
            nk_json_int(o, y, "frame", fr[f].id);
            nk_json_int(o, y, "instance_count", fl[i].ninstances);
            nk_json_u64(o, y, "driver_object", fl[i].drvobj);
            nk_flt_instance *in = NULL;
            size_t ni = 0;
            if (nk_flt_filter_instances(t, &fl[i], &in, &ni, &why) == NTKD_OK)
                print_instances(e, in, ni, ind2, nk_json_arr(o, y, "instances"));
            free(in);
        }
        free(fl);
    }
    (void)b2;
    json_notes(e, &why);
    nk_sb_free(&why);
    print_diag(e, fr, nf, kind == SHOW_FILTERS);
    free(fr);
    return NTKD_OK;
}

nk_status cmd_fltkd_frames(nk_cmd_env *e, const char *a)
{
    (void)a;
    return show(e, SHOW_FRAMES);
}

nk_status cmd_fltkd_filters(nk_cmd_env *e, const char *a)
{
    (void)a;
    return show(e, SHOW_FILTERS);
}

nk_status cmd_fltkd_volumes(nk_cmd_env *e, const char *a)
{
    (void)a;
    return show(e, SHOW_VOLUMES);
}

/* ---- !fltkd.volume / !fltkd.instance -------------------------------------------------------- */

static bool eval_arg(nk_cmd_env *e, const char *a, uint64_t *v)
{
    char err[256] = "";
    const char *s = nk_skip_ws(a ? a : "");
    const char *end = s;
    if (!*s) {
        nk_cmd_error(e->o, "usage: %s addr", e->name);
        return false;
    }
    if (nk_eval(e->t, s, &end, v, err, sizeof err) != NTKD_OK || end == s) {
        nk_cmd_error(e->o, "%s: %s", e->name, err[0] ? err : "bad address");
        return false;
    }
    return true;
}

/* "[04000000] Volume" from the _FLT_OBJECT_FLAGS names ("TypeVolume" -> "Volume"). */
static void object_flags(ntkd_target *t, uint64_t flags, char *buf, size_t len)
{
    char names[256];
    nk_flt_flag_names(t, "_FLT_OBJECT_FLAGS", flags, names, sizeof names);
    size_t k = 0;
    buf[0] = 0;
    for (char *tok = strtok(names, " "); tok; tok = strtok(NULL, " ")) {
        const char *n = strncmp(tok, "Type", 4) || !tok[4] ? tok : tok + 4;
        int w = snprintf(buf + k, len - k, "%s%s", k ? " " : "", n);
        if (w < 0 || (size_t)w >= len - k) break;
        k += (size_t)w;
    }
}

/* Offset of a member (a dotted path) of one of fltmgr's types; false when the types lack it. */
static bool member_off(ntkd_target *t, const char *type, const char *path, uint64_t *off)
{
    nk_typesrc *ts = nk_flt_types(t);
    uint64_t id;
    nk_tfield f;
    if (!ts || !nk_type_find(ts, type, &id) || !nk_type_field(ts, id, path, &f) || f.is_static) return false;
    *off = f.offset;
    return true;
}

/* The lines !fltkd.volume prints between TargetedOpenCount and InstanceList (seed 004): the
 * addresses of the volume's callback, context and stream/file/name-cache list members, with the
 * counts it knows (VolumeContexts: Count=0 when the pointer is NULL; the resource lists: rCount).
 * A member the types lack is left out; an unreadable count is shown as '?'. */
static void volume_members(nk_cmd_env *e, const nk_flt_volume *v)
{
    ntkd_target *t = e->t;
    nk_out *o = e->o;
    char save[sizeof t->ctx->errmsg];
    memcpy(save, t->ctx->errmsg, sizeof save);
    static const struct {
        const char *member, *label;
        int count; /* 0 none, 1 VolumeContexts' Count, 2 a resource list's rCount */
    } m[] = {
        {"Callbacks", "Callbacks", 0},         {"ContextLock", "ContextLock", 0},
        {"VolumeContexts", "VolumeContexts", 1}, {"StreamListCtrls", "StreamListCtrls", 2},
        {"FileListCtrls", "FileListCtrls", 2}, {"NameCacheCtrl", "NameCacheCtrl", 0},
    };
    char b1[24];
    uint64_t rc_off = 0;
    bool have_rc = member_off(t, "_FLT_RESOURCE_LIST_HEAD", "rCount", &rc_off);
    json_object *jm = nk_json_obj(o, NULL, "members");
    for (size_t i = 0; i < sizeof m / sizeof m[0]; i++) {
        uint64_t off;
        if (!member_off(t, "_FLT_VOLUME", m[i].member, &off)) continue;
        uint64_t at = v->addr + off;
        char cnt[48] = "";
        json_object *x = nk_json_obj(o, jm, m[i].member);
        nk_json_u64(o, x, "addr", at);
        if (m[i].count == 1) {
            uint64_t p = 0;
            if (nk_read_ptr(t, at, &p) == NTKD_OK) {
                nk_json_u64(o, x, "value", p);
                if (!p) {
                    snprintf(cnt, sizeof cnt, "  Count=0");
                    nk_json_int(o, x, "count", 0);
                }
            }
        } else if (m[i].count == 2) {
            uint32_t n = 0;
            if (have_rc && nk_read_u32(t, at + rc_off, &n) == NTKD_OK) {
                snprintf(cnt, sizeof cnt, "  rCount=%u", n);
                nk_json_int(o, x, "rcount", n);
            } else {
                snprintf(cnt, sizeof cnt, "  rCount=?");
            }
        }
        nk_printf(o, "   %-25s: (%s)%s\n", m[i].label, A(t, b1, at), cnt);
    }
    memcpy(t->ctx->errmsg, save, sizeof save);
}

nk_status cmd_fltkd_volume(nk_cmd_env *e, const char *a)
{
    ntkd_target *t = e->t;
    nk_out *o = e->o;
    uint64_t addr, va;
    if (!eval_arg(e, a, &addr)) return NTKD_E_ARG;
    if (nk_flt_find_volume(t, addr, &va) != NTKD_OK) {
        nk_cmd_error(o, "%s: %s", e->name, errmsg(e));
        return NTKD_E_NOTFOUND;
    }
    nk_flt_volume v;
    if (nk_flt_volume_read(t, va, &v) != NTKD_OK) {
        nk_cmd_error(o, "%s: %s", e->name, errmsg(e));
        return NTKD_E_NOTPRESENT;
    }
    char b1[24], b2[24], fl[256], of[256], fs[64];
    uint64_t oflags = 0;
    nk_flt_frame fr;
    bool have_frame = v.frame && nk_flt_frame_read(t, v.frame, &fr) == NTKD_OK;
    nk_flt_flag_names(t, "_FLT_VOLUME_FLAGS", v.flags, fl, sizeof fl);
    nk_flt_enum_name(t, "_FLT_FILESYSTEM_TYPE", v.fstype, fs, sizeof fs);
    oflags = v.object_flags;
    object_flags(t, oflags, of, sizeof of);
    nk_printf(o, "\nFLT_VOLUME: %s \"%s\"\n", A(t, b1, v.addr), v.name);
    nk_printf(o, "   FLT_OBJECT: %s  [%08llx] %s\n", A(t, b1, v.addr), (unsigned long long)oflags, of);
    nk_printf(o, "      RundownRef               : 0x%016llx (%llu)\n", (unsigned long long)v.rundown,
              (unsigned long long)(v.rundown >> 1));
    nk_printf(o, "      PointerCount             : 0x%08x\n", v.pointer_count);
    nk_printf(o, "      PrimaryLink              : [%s-%s]\n", A(t, b1, v.link_flink), A(t, b2, v.link_blink));
    if (have_frame)
        nk_printf(o, "   Frame                    : %s \"Frame %u\"\n", A(t, b1, v.frame), fr.id);
    else
        nk_printf(o, "   Frame                    : %s\n", A(t, b1, v.frame));
    nk_printf(o, "   Flags                    : [%08x] %s\n", v.flags, fl);
    nk_printf(o, "   FileSystemType           : [%08x] %s\n", v.fstype, fs);
    nk_printf(o, "   VolumeLink               : [%s-%s]\n", A(t, b1, v.link_flink), A(t, b2, v.link_blink));
    nk_printf(o, "   DeviceObject             : %s\n", A(t, b1, v.devobj));
    nk_printf(o, "   DiskDeviceObject         : %s\n", A(t, b1, v.disk));
    nk_printf(o, "   FrameZeroVolume          : %s\n", A(t, b1, v.frame_zero));
    nk_printf(o, "   VolumeInNextFrame        : %s\n", A(t, b1, v.next_frame));
    nk_printf(o, "   Guid                     : \"%s\"\n", v.guid);
    nk_printf(o, "   CDODeviceName            : \"%s\"\n", v.cdo_device);
    nk_printf(o, "   CDODriverName            : \"%s\"\n", v.cdo_driver);
    if (v.has_targeted) nk_printf(o, "   TargetedOpenCount        : %u\n", v.targeted_opens);
    volume_members(e, &v);
    nk_printf(o, "   InstanceList             : (%s)\n", A(t, b1, v.instances_head));
    nk_json_u64(o, NULL, "addr", v.addr);
    nk_json_str(o, NULL, "name", v.name);
    nk_json_u64(o, NULL, "object_flags", oflags);
    nk_json_u64(o, NULL, "frame", v.frame);
    if (have_frame) nk_json_int(o, NULL, "frame_id", fr.id);
    nk_json_u64(o, NULL, "flags", v.flags);
    nk_json_str(o, NULL, "flag_names", fl);
    nk_json_int(o, NULL, "file_system_type", v.fstype);
    nk_json_str(o, NULL, "file_system", fs);
    nk_json_u64(o, NULL, "device_object", v.devobj);
    nk_json_u64(o, NULL, "disk_device_object", v.disk);
    nk_json_u64(o, NULL, "frame_zero_volume", v.frame_zero);
    nk_json_u64(o, NULL, "volume_in_next_frame", v.next_frame);
    nk_json_str(o, NULL, "guid", v.guid);
    nk_json_str(o, NULL, "cdo_device_name", v.cdo_device);
    nk_json_str(o, NULL, "cdo_driver_name", v.cdo_driver);
    nk_json_u64(o, NULL, "instance_list", v.instances_head);
    nk_flt_instance *in = NULL;
    size_t ni = 0;
    nk_strbuf why = {0};
    if (nk_flt_volume_instances(t, &v, &in, &ni, &why) == NTKD_OK)
        print_instances(e, in, ni, "      ", nk_json_arr(o, NULL, "instances"));
    else
        nk_printf(o, "      (instances: %s)\n", errmsg(e));
    free(in);
    json_notes(e, &why);
    nk_sb_free(&why);
    return NTKD_OK;
}

nk_status cmd_fltkd_instance(nk_cmd_env *e, const char *a)
{
    ntkd_target *t = e->t;
    nk_out *o = e->o;
    uint64_t addr;
    if (!eval_arg(e, a, &addr)) return NTKD_E_ARG;
    nk_flt_instance in;
    if (nk_flt_instance_read(t, addr, &in) != NTKD_OK) {
        nk_cmd_error(o, "%s: %s", e->name, errmsg(e));
        return NTKD_E_NOTPRESENT;
    }
    char b1[24], of[256], fl[256], vname[256] = "";
    uint64_t oflags = 0;
    oflags = in.object_flags;
    object_flags(t, oflags, of, sizeof of);
    if (!(oflags & 0x1000000) && strstr(of, "Instance") == NULL && of[0])
        nk_printf(o, "WARNING: %s: the object flags say %s, not an instance\n", A(t, b1, addr), of);
    nk_flt_flag_names(t, "_FLT_INSTANCE_FLAGS", in.flags, fl, sizeof fl);
    nk_flt_volume v;
    if (in.volume && nk_flt_volume_read(t, in.volume, &v) == NTKD_OK) snprintf(vname, sizeof vname, "%s", v.name);
    nk_printf(o, "\nFLT_INSTANCE: %s \"%s\" \"%s\"\n", A(t, b1, addr), in.name, in.altitude);
    nk_printf(o, "   FLT_OBJECT: %s  [%08llx] %s\n", A(t, b1, addr), (unsigned long long)oflags, of);
    nk_printf(o, "      PointerCount             : 0x%08x\n", in.pointer_count);
    nk_printf(o, "   Flags                    : [%08x] %s\n", in.flags, fl);
    nk_printf(o, "   Volume                   : %s \"%s\"\n", A(t, b1, in.volume), vname);
    nk_printf(o, "   Filter                   : %s \"%s\"\n", A(t, b1, in.filter), in.filter_name);
    nk_printf(o, "   Altitude                 : \"%s\"\n", in.altitude);
    nk_printf(o, "   Name                     : \"%s\"\n", in.name);
    nk_json_u64(o, NULL, "addr", addr);
    nk_json_str(o, NULL, "name", in.name);
    nk_json_str(o, NULL, "altitude", in.altitude);
    nk_json_u64(o, NULL, "object_flags", oflags);
    nk_json_u64(o, NULL, "flags", in.flags);
    nk_json_str(o, NULL, "flag_names", fl);
    nk_json_u64(o, NULL, "volume", in.volume);
    nk_json_str(o, NULL, "volume_name", vname);
    nk_json_u64(o, NULL, "filter", in.filter);
    nk_json_str(o, NULL, "filter_name", in.filter_name);
    return NTKD_OK;
}
