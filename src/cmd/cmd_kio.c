/* cmd_kio.c: I/O objects of a kernel dump in WinDbg's shapes.
 *
 *   !irp addr [detail]            an IRP and its stack locations (> on the current one, the cl
 *                                 column decoded: Success Error Cancel pending)
 *   !irpfind [-t|-s]              every IRP: thread IrpLists merged with a physical-memory scan
 *                                 (-t: the lists only, -s: the scan only)
 *   !drvobj name|addr [flags]     a driver object, its devices (flag 2: dispatch routines)
 *   !devobj addr|name             a device object
 *   !devstack addr                a device's stack, top to bottom, and its device node
 *   !devnode [addr|0 [flags]]     a device node, or (0 1) the device tree
 *   !object addr|path|0 Type      an object's header and name; a directory's entries; every
 *                                 object of a type
 *
 * Every offset comes from nt's types through the kernel-objects layer (kobj/kobj.h); the
 * helpers below that the layer lacks (directory entries with their hash bucket, the device
 * tree walk, stack locations) are built on nk_k_read / nk_k_field. Every walk is capped and
 * cycle-checked. Text and JSON are built in the same pass. */
#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <strings.h>
#include <time.h>

#include "cmd/cmd.h"
#include "expr/expr.h"
#include "kobj/kobj.h"
#include "kobj/kscan.h"
#include "sym/sym.h"

#define KIO_MAX_STACK 64u       /* IRP stack locations / device stack depth shown */
#define KIO_MAX_DEVICES 65536u  /* devices of one driver */
#define KIO_MAX_NODES 100000u   /* device nodes in a tree walk */
#define KIO_MAX_DEPTH 128u      /* device tree depth */
#define KIO_MAX_IRPS 100000u    /* IRPs found by !irpfind */
#define KIO_MAX_OBJECTS 200000u /* objects listed by !object 0 Type */
#define KIO_MAX_CHAIN 100000u   /* entries of one directory hash chain */

/* ---- small helpers ----------------------------------------------------------------------- */

static unsigned psz(const ntkd_target *t) { return t->d.is64 ? 8u : 4u; }

/* A pointer as WinDbg prints it in these commands: 16 (8 on 32-bit) hex digits, no backtick. */
static char *P(const ntkd_target *t, char *buf, uint64_t v)
{
    return nk_fmt_hex(buf, v, t->d.is64);
}
/* Same, but a null pointer prints as "00000000" (WinDbg's style for empty fields). */
static char *Z(const ntkd_target *t, char *buf, uint64_t v)
{
    if (!v) {
        snprintf(buf, 20, "00000000");
        return buf;
    }
    return P(t, buf, v);
}


/* The layer's last message (what nk_k_* set). */
static const char *kmsg(nk_cmd_env *e) { return e->t->ctx->errmsg[0] ? e->t->ctx->errmsg : "unknown error"; }

/* Reads a field; false on failure (the layer's message is then in kmsg()). */
static bool rd(nk_cmd_env *e, uint64_t addr, const char *type, const char *field, uint64_t *v)
{
    if (nk_k_read(e->t, addr, type, field, v) == NTKD_OK) return true;
    return false;
}

/* Names come from dump memory: a string that is not well-formed UTF-8 (garbage UTF-16,
 * unpaired surrogates) gets '?' for each byte of a bad sequence, so text and JSON stay valid. */
static char *u8fix(char *s)
{
    if (!s) return s;
    unsigned char *p = (unsigned char *)s;
    while (*p) {
        unsigned c = *p, n = 0;
        uint32_t cp = 0, min = 0;
        if (c < 0x80) {
            p++;
            continue;
        } else if ((c & 0xe0) == 0xc0) {
            n = 1, cp = c & 0x1f, min = 0x80;
        } else if ((c & 0xf0) == 0xe0) {
            n = 2, cp = c & 0x0f, min = 0x800;
        } else if ((c & 0xf8) == 0xf0) {
            n = 3, cp = c & 0x07, min = 0x10000;
        } else {
            *p++ = '?';
            continue;
        }
        unsigned k = 1;
        for (; k <= n; k++) {
            if ((p[k] & 0xc0) != 0x80) break;
            cp = (cp << 6) | (p[k] & 0x3f);
        }
        if (k <= n || cp < min || cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff)) {
            *p++ = '?'; /* the following bytes are examined on their own */
            continue;
        }
        p += n + 1;
    }
    return s;
}

/* A UNICODE_STRING field of a struct, as UTF-8 (malloc'd) or NULL. */
static char *ustr_field(ntkd_target *t, uint64_t obj, const char *type, const char *field)
{
    uint64_t off;
    if (!obj || nk_k_offset(t, type, field, &off) != NTKD_OK) return NULL;
    return u8fix(nk_k_ustr(t, obj + off));
}

/* The layer's name helpers, made well-formed. */
static char *drv_name(ntkd_target *t, uint64_t drv, char *buf, size_t len)
{
    buf[0] = 0;
    nk_k_driver_name(t, drv, buf, len);
    return u8fix(buf);
}
static char *dev_drv_name(ntkd_target *t, uint64_t dev, char *buf, size_t len)
{
    buf[0] = 0;
    nk_k_device_driver_name(t, dev, buf, len);
    return u8fix(buf);
}
static nk_status kobject(ntkd_target *t, uint64_t body, nk_kobject *ko)
{
    nk_status st = nk_k_object(t, body, ko);
    if (st == NTKD_OK) {
        ko->name[sizeof ko->name - 1] = 0;
        ko->type_name[sizeof ko->type_name - 1] = 0;
        u8fix(ko->name);
        u8fix(ko->type_name);
    }
    return st;
}

/* Evaluates one expression argument; *rest gets what follows. */
static bool eval_arg(nk_cmd_env *e, const char *s, uint64_t *v, const char **rest)
{
    char err[256];
    const char *end = s;
    if (nk_eval(e->t, s, &end, v, err, sizeof err) != NTKD_OK || end == s) {
        nk_cmd_error(e->o, "%s: %s", e->name, err[0] ? err : "bad address");
        return false;
    }
    if (rest) *rest = nk_skip_ws(end);
    return true;
}

/* Resolves "name|\\path|addr": a path when it starts with '\\'; a bare name tried under the
 * given directories first ("\\Driver\\", "\\FileSystem\\"), then as an expression. */
static bool resolve_obj(nk_cmd_env *e, const char *word, const char *const *dirs, size_t ndirs, uint64_t *out)
{
    if (word[0] == '\\') {
        if (nk_k_lookup(e->t, word, out) == NTKD_OK) return true;
        nk_cmd_error(e->o, "%s: %s not found (%s)", e->name, word, kmsg(e));
        return false;
    }
    /* a word that could be a name: tried as \Dir\word first (device names such as
     * "00000001" are hex digits too), then evaluated; 0x... and expressions are addresses */
    bool plain_name = !(word[0] == '0' && (word[1] == 'x' || word[1] == 'X'));
    bool hexlike = true;
    for (const char *p = word; *p; p++) {
        if (*p == '`' || *p == '(' || *p == '@' || *p == '!') plain_name = false;
        if (!isxdigit((unsigned char)*p)) hexlike = false;
    }
    if (plain_name) {
        for (size_t i = 0; i < ndirs; i++) {
            char path[640];
            snprintf(path, sizeof path, "%s%s", dirs[i], word);
            if (nk_k_lookup(e->t, path, out) == NTKD_OK) return true;
        }
        char err[256];
        const char *end = word;
        if (hexlike || (nk_eval(e->t, word, &end, out, err, sizeof err) == NTKD_OK && end != word)) {
            if (hexlike) return eval_arg(e, word, out, NULL);
            return true;
        }
        char tried[1200] = "";
        size_t pos = 0;
        for (size_t i = 0; i < ndirs && pos < sizeof tried; i++) {
            int k = snprintf(tried + pos, sizeof tried - pos, "%s%s%s", i ? (i + 1 == ndirs ? " or " : ", ") : "", dirs[i], word);
            if (k < 0) break;
            pos += (size_t)k;
        }
        nk_cmd_error(e->o, "%s: %s: no object %s, and not an address", e->name, word, tried);
        return false;
    }
    return eval_arg(e, word, out, NULL);
}

/* Appends "a, b" style names of set bits to buf. */
typedef struct flagname {
    uint32_t bit;
    const char *name;
} flagname;

static void decode_flags(uint32_t v, const flagname *tab, size_t n, char *buf, size_t len, nk_out *o, json_object *arr)
{
    size_t pos = 0;
    buf[0] = 0;
    uint32_t left = v;
    for (size_t i = 0; i < n; i++) {
        if (!(v & tab[i].bit)) continue;
        left &= ~tab[i].bit;
        int k = snprintf(buf + pos, len - pos, "%s%s", pos ? ", " : "", tab[i].name);
        if (k > 0 && (size_t)k < len - pos) pos += (size_t)k;
        if (arr) json_object_array_add(arr, json_object_new_string(tab[i].name));
    }
    if (left) {
        int k = snprintf(buf + pos, len - pos, "%s0x%x", pos ? ", " : "", left);
        if (k > 0 && (size_t)k < len - pos) pos += (size_t)k;
    }
    (void)o;
}

/* ---- IRP function names ------------------------------------------------------------------ */

static const char *const mj_names[] = {
    "IRP_MJ_CREATE", "IRP_MJ_CREATE_NAMED_PIPE", "IRP_MJ_CLOSE", "IRP_MJ_READ", "IRP_MJ_WRITE",
    "IRP_MJ_QUERY_INFORMATION", "IRP_MJ_SET_INFORMATION", "IRP_MJ_QUERY_EA", "IRP_MJ_SET_EA",
    "IRP_MJ_FLUSH_BUFFERS", "IRP_MJ_QUERY_VOLUME_INFORMATION", "IRP_MJ_SET_VOLUME_INFORMATION",
    "IRP_MJ_DIRECTORY_CONTROL", "IRP_MJ_FILE_SYSTEM_CONTROL", "IRP_MJ_DEVICE_CONTROL",
    "IRP_MJ_INTERNAL_DEVICE_CONTROL", "IRP_MJ_SHUTDOWN", "IRP_MJ_LOCK_CONTROL", "IRP_MJ_CLEANUP",
    "IRP_MJ_CREATE_MAILSLOT", "IRP_MJ_QUERY_SECURITY", "IRP_MJ_SET_SECURITY", "IRP_MJ_POWER",
    "IRP_MJ_SYSTEM_CONTROL", "IRP_MJ_DEVICE_CHANGE", "IRP_MJ_QUERY_QUOTA", "IRP_MJ_SET_QUOTA",
    "IRP_MJ_PNP",
};
#define NMJ (sizeof mj_names / sizeof mj_names[0])

static const char *const mn_pnp[] = {
    "IRP_MN_START_DEVICE", "IRP_MN_QUERY_REMOVE_DEVICE", "IRP_MN_REMOVE_DEVICE",
    "IRP_MN_CANCEL_REMOVE_DEVICE", "IRP_MN_STOP_DEVICE", "IRP_MN_QUERY_STOP_DEVICE",
    "IRP_MN_CANCEL_STOP_DEVICE", "IRP_MN_QUERY_DEVICE_RELATIONS", "IRP_MN_QUERY_INTERFACE",
    "IRP_MN_QUERY_CAPABILITIES", "IRP_MN_QUERY_RESOURCES", "IRP_MN_QUERY_RESOURCE_REQUIREMENTS",
    "IRP_MN_QUERY_DEVICE_TEXT", "IRP_MN_FILTER_RESOURCE_REQUIREMENTS", NULL,
    "IRP_MN_READ_CONFIG", "IRP_MN_WRITE_CONFIG", "IRP_MN_EJECT", "IRP_MN_SET_LOCK",
    "IRP_MN_QUERY_ID", "IRP_MN_QUERY_PNP_DEVICE_STATE", "IRP_MN_QUERY_BUS_INFORMATION",
    "IRP_MN_DEVICE_USAGE_NOTIFICATION", "IRP_MN_SURPRISE_REMOVAL", "IRP_MN_QUERY_LEGACY_BUS_INFORMATION",
    "IRP_MN_DEVICE_ENUMERATED",
};
static const char *const mn_power[] = {"IRP_MN_WAIT_WAKE", "IRP_MN_POWER_SEQUENCE", "IRP_MN_SET_POWER", "IRP_MN_QUERY_POWER"};
static const char *const mn_wmi[] = {
    "IRP_MN_QUERY_ALL_DATA", "IRP_MN_QUERY_SINGLE_INSTANCE", "IRP_MN_CHANGE_SINGLE_INSTANCE",
    "IRP_MN_CHANGE_SINGLE_ITEM", "IRP_MN_ENABLE_EVENTS", "IRP_MN_DISABLE_EVENTS",
    "IRP_MN_ENABLE_COLLECTION", "IRP_MN_DISABLE_COLLECTION", "IRP_MN_REGINFO", "IRP_MN_EXECUTE_METHOD",
    NULL, "IRP_MN_REGINFO_EX",
};

#define IRP_MJ_POWER 0x16
#define IRP_MJ_SYSTEM_CONTROL 0x17
#define IRP_MJ_PNP 0x1b

static const char *mj_name(unsigned mj) { return mj < NMJ ? mj_names[mj] : "N/A"; }

static const char *mn_name(unsigned mj, unsigned mn)
{
    const char *r = NULL;
    if (mj == IRP_MJ_PNP && mn < sizeof mn_pnp / sizeof mn_pnp[0]) r = mn_pnp[mn];
    else if (mj == IRP_MJ_POWER && mn < sizeof mn_power / sizeof mn_power[0]) r = mn_power[mn];
    else if (mj == IRP_MJ_SYSTEM_CONTROL && mn < sizeof mn_wmi / sizeof mn_wmi[0]) r = mn_wmi[mn];
    return r ? r : "N/A";
}

/* The cl column (IO_STACK_LOCATION.Control): SL_INVOKE_ON_SUCCESS 0x40, SL_INVOKE_ON_ERROR
 * 0x80, SL_INVOKE_ON_CANCEL 0x20 (what the completion routine asked to be called for), and
 * the low bits SL_PENDING_RETURNED 0x01 / SL_ERROR_RETURNED 0x02 (seed 003). */
static void cl_decode(unsigned cl, char *buf, size_t len, json_object *arr)
{
    static const flagname t[] = {
        {0x40, "Success"}, {0x80, "Error"}, {0x20, "Cancel"}, {0x01, "pending"}, {0x02, "error-returned"},
    };
    size_t pos = 0;
    buf[0] = 0;
    for (size_t i = 0; i < sizeof t / sizeof t[0]; i++) {
        if (!(cl & t[i].bit)) continue;
        int k = snprintf(buf + pos, len - pos, "%s%s", pos ? " " : "", t[i].name);
        if (k > 0 && (size_t)k < len - pos) pos += (size_t)k;
        if (arr) json_object_array_add(arr, json_object_new_string(t[i].name));
    }
}

/* ---- IRP reading ------------------------------------------------------------------------- */

typedef struct irp_geo {
    uint64_t irp_size, sl_size;
    uint64_t stack_count, current;
} irp_geo;

/* Sizes of _IRP / _IO_STACK_LOCATION and the IRP's counts; false with an error printed. */
static bool irp_geometry(nk_cmd_env *e, uint64_t irp, irp_geo *g, bool quiet)
{
    if (nk_k_sizeof(e->t, "_IRP", &g->irp_size) != NTKD_OK ||
        nk_k_sizeof(e->t, "_IO_STACK_LOCATION", &g->sl_size) != NTKD_OK) {
        if (!quiet) nk_cmd_error(e->o, "%s: %s", e->name, kmsg(e));
        return false;
    }
    if (!rd(e, irp, "_IRP", "StackCount", &g->stack_count) || !rd(e, irp, "_IRP", "CurrentLocation", &g->current)) {
        if (!quiet) nk_cmd_error(e->o, "%s: IRP %llx: %s", e->name, (unsigned long long)irp, kmsg(e));
        return false;
    }
    g->stack_count &= 0xff;
    g->current &= 0xff;
    return true;
}

static uint64_t sl_addr(const irp_geo *g, uint64_t irp, uint64_t index /* 1-based */)
{
    return irp + g->irp_size + (index - 1) * g->sl_size;
}

/* ---- !irp -------------------------------------------------------------------------------- */

nk_status cmd_irp(nk_cmd_env *e, const char *a)
{
    ntkd_target *t = e->t;
    nk_out *o = e->o;
    a = nk_skip_ws(a);
    if (!*a) {
        nk_cmd_error(o, "usage: !irp addr [detail]");
        return NTKD_E_ARG;
    }
    uint64_t irp;
    const char *rest;
    if (!eval_arg(e, a, &irp, &rest)) return NTKD_E_ARG;
    bool detail = *rest != 0;
    char b1[24], b2[24], b3[24], b4[24];
    irp_geo g;
    if (!irp_geometry(e, irp, &g, false)) return NTKD_E_NOTPRESENT;
    nk_json_u64(o, NULL, "irp", irp);
    uint64_t type = nk_k_get(t, irp, "_IRP", "Type", 0);
    nk_json_int(o, NULL, "type", (int64_t)type);
    if (type != 6) nk_printf(o, "IRP signature does not match (Type %llu, an IRP has 6), probable garbage\n", (unsigned long long)type);
    if (g.stack_count == 0 || g.stack_count > KIO_MAX_STACK) {
        nk_cmd_error(o, "!irp: IRP %llx: StackCount %llu is not a plausible stack count (1..%u)",
                     (unsigned long long)irp, (unsigned long long)g.stack_count, KIO_MAX_STACK);
        return NTKD_E_FORMAT;
    }
    nk_json_int(o, NULL, "stack_count", (int64_t)g.stack_count);
    nk_json_int(o, NULL, "current_location", (int64_t)g.current);
    bool active = g.current >= 1 && g.current <= g.stack_count;
    nk_json_bool(o, NULL, "active", active);
    if (active) {
        uint64_t cur = sl_addr(&g, irp, g.current);
        nk_json_u64(o, NULL, "current_stack_location", cur);
        nk_printf(o, "Irp is active with %llu stacks %llu is current (= 0x%llx)\n", (unsigned long long)g.stack_count,
                  (unsigned long long)g.current, (unsigned long long)cur);
    } else {
        nk_printf(o, "Irp with %llu stacks has no current location (CurrentLocation %llu): %s\n",
                  (unsigned long long)g.stack_count, (unsigned long long)g.current,
                  g.current > g.stack_count ? "not yet sent, or completed" : "corrupt");
    }
    uint64_t mdl = nk_k_get(t, irp, "_IRP", "MdlAddress", 0);
    uint64_t sysbuf = nk_k_get(t, irp, "_IRP", "AssociatedIrp.SystemBuffer", 0);
    uint64_t thread = nk_k_get(t, irp, "_IRP", "Tail.Overlay.Thread", 0);
    nk_json_u64(o, NULL, "mdl", mdl);
    nk_json_u64(o, NULL, "system_buffer", sysbuf);
    nk_json_u64(o, NULL, "thread", thread);
    char mdls[48], sbs[48];
    if (mdl) snprintf(mdls, sizeof mdls, "Mdl=%s", P(t, b1, mdl));
    else snprintf(mdls, sizeof mdls, "No Mdl");
    if (sysbuf) snprintf(sbs, sizeof sbs, "System buffer=%s", P(t, b1, sysbuf));
    else snprintf(sbs, sizeof sbs, "No System Buffer");
    nk_printf(o, " %s: %s: Thread %s:  Irp stack trace.  \n", mdls, sbs, Z(t, b2, thread));
    nk_printf(o, "     cmd  flg cl Device   File     Completion-Context\n");

    json_object *locs = nk_json_arr(o, NULL, "locations");
    uint64_t o_param = 0;
    bool have_param = nk_k_offset(t, "_IO_STACK_LOCATION", "Parameters", &o_param) == NTKD_OK;
    size_t unreadable = 0;
    for (uint64_t i = 1; i <= g.stack_count; i++) {
        uint64_t sl = sl_addr(&g, irp, i);
        uint64_t mj, mn, flg, cl, dev = 0, file = 0, comp = 0, ctx = 0;
        if (!rd(e, sl, "_IO_STACK_LOCATION", "MajorFunction", &mj) || !rd(e, sl, "_IO_STACK_LOCATION", "MinorFunction", &mn) ||
            !rd(e, sl, "_IO_STACK_LOCATION", "Flags", &flg) || !rd(e, sl, "_IO_STACK_LOCATION", "Control", &cl) ||
            !rd(e, sl, "_IO_STACK_LOCATION", "DeviceObject", &dev)) {
            nk_printf(o, "%c[stack location %llu at %llx: %s]\n", i == g.current ? '>' : ' ', (unsigned long long)i,
                      (unsigned long long)sl, kmsg(e));
            json_object *jl = nk_json_obj(o, locs, NULL);
            nk_json_int(o, jl, "index", (int64_t)i);
            nk_json_u64(o, jl, "address", sl);
            nk_json_str(o, jl, "error", kmsg(e));
            unreadable++;
            continue;
        }
        file = nk_k_get(t, sl, "_IO_STACK_LOCATION", "FileObject", 0);
        comp = nk_k_get(t, sl, "_IO_STACK_LOCATION", "CompletionRoutine", 0);
        ctx = nk_k_get(t, sl, "_IO_STACK_LOCATION", "Context", 0);
        mj &= 0xff;
        mn &= 0xff;
        bool empty = !mj && !mn && !dev && !comp && !file;
        const char *mjn = empty ? "N/A" : mj_name((unsigned)mj);
        const char *mnn = empty ? "N/A" : mn_name((unsigned)mj, (unsigned)mn);
        char notes[96];
        json_object *jl = nk_json_obj(o, locs, NULL);
        json_object *jn = NULL;
        if (jl) {
            nk_json_int(o, jl, "index", (int64_t)i);
            nk_json_u64(o, jl, "address", sl);
            nk_json_bool(o, jl, "current", i == g.current);
            nk_json_int(o, jl, "major", (int64_t)mj);
            nk_json_int(o, jl, "minor", (int64_t)mn);
            nk_json_str(o, jl, "major_name", mjn);
            nk_json_str(o, jl, "minor_name", mnn);
            nk_json_int(o, jl, "flags", (int64_t)flg);
            nk_json_int(o, jl, "control", (int64_t)cl);
            jn = nk_json_arr(o, jl, "control_notes");
        }
        cl_decode((unsigned)cl, notes, sizeof notes, jn);
        nk_printf(o, "%c[%s(%llx), %s(%llx)]\n", i == g.current ? '>' : ' ', mjn, (unsigned long long)mj, mnn,
                  (unsigned long long)mn);
        nk_printf(o, "           %2llx %2llx %s %s %s-%s %s\n", (unsigned long long)flg, (unsigned long long)cl,
                  Z(t, b1, dev), Z(t, b2, file), Z(t, b3, comp), Z(t, b4, ctx), notes);
        char drv[256] = "", sym[256] = "";
        if (dev) dev_drv_name(t, dev, drv, sizeof drv);
        bool has_sym = comp && nk_sym_describe(t, comp, sym, sizeof sym);
        if (!has_sym) sym[0] = 0;
        if (dev || comp) nk_printf(o, "\t       %s\t%s\n", drv, has_sym ? sym : comp ? P(t, b1, comp) : "");
        else nk_printf(o, "\n");
        uint64_t args[4] = {0, 0, 0, 0};
        if (have_param)
            for (unsigned k = 0; k < 4; k++) {
                uint64_t v = 0;
                if (nk_read_ptr(t, sl + o_param + k * psz(t), &v) == NTKD_OK) args[k] = v;
            }
        nk_printf(o, "\t\t\tArgs: %08llx %08llx %08llx %08llx\n", (unsigned long long)args[0], (unsigned long long)args[1],
                  (unsigned long long)args[2], (unsigned long long)args[3]);
        if (jl) {
            nk_json_u64(o, jl, "device", dev);
            nk_json_u64(o, jl, "file", file);
            nk_json_u64(o, jl, "completion", comp);
            nk_json_str(o, jl, "completion_symbol", comp ? sym : "");
            nk_json_u64(o, jl, "context", ctx);
            nk_json_str(o, jl, "driver", drv);
            json_object *ja = nk_json_arr(o, jl, "args");
            for (unsigned k = 0; k < 4; k++) nk_json_u64(o, ja, NULL, args[k]);
        }
    }
    if (detail) {
        uint64_t flags = nk_k_get(t, irp, "_IRP", "Flags", 0);
        uint64_t st = nk_k_get(t, irp, "_IRP", "IoStatus.Status", 0);
        uint64_t info = nk_k_get(t, irp, "_IRP", "IoStatus.Information", 0);
        uint64_t ev = nk_k_get(t, irp, "_IRP", "UserEvent", 0);
        uint64_t iosb = nk_k_get(t, irp, "_IRP", "UserIosb", 0);
        uint64_t ub = nk_k_get(t, irp, "_IRP", "UserBuffer", 0);
        uint64_t cr = nk_k_get(t, irp, "_IRP", "CancelRoutine", 0);
        uint64_t pend = nk_k_get(t, irp, "_IRP", "PendingReturned", 0);
        uint64_t cancel = nk_k_get(t, irp, "_IRP", "Cancel", 0);
        uint64_t mode = nk_k_get(t, irp, "_IRP", "RequestorMode", 0);
        nk_printf(o, "\nIrp Flags = %08llx  RequestorMode = %s  PendingReturned = %llu  Cancel = %llu\n",
                  (unsigned long long)flags, mode ? "UserMode" : "KernelMode", (unsigned long long)pend & 0xff,
                  (unsigned long long)cancel & 0xff);
        nk_printf(o, "IoStatus.Status = %08llx  IoStatus.Information = %s\n", (unsigned long long)(st & 0xffffffffu), Z(t, b1, info));
        nk_printf(o, "UserEvent = %s  UserIosb = %s  UserBuffer = %s  CancelRoutine = %s\n", Z(t, b1, ev), Z(t, b2, iosb),
                  Z(t, b3, ub), Z(t, b4, cr));
        nk_json_u64(o, NULL, "flags", flags);
        nk_json_u64(o, NULL, "io_status", st & 0xffffffffu);
        nk_json_u64(o, NULL, "io_information", info);
        nk_json_u64(o, NULL, "user_event", ev);
        nk_json_u64(o, NULL, "user_iosb", iosb);
        nk_json_u64(o, NULL, "cancel_routine", cr);
    }
    if (unreadable == g.stack_count) {
        nk_cmd_error(o, "!irp: no stack location of IRP %llx is readable", (unsigned long long)irp);
        return NTKD_E_NOTPRESENT;
    }
    return NTKD_OK;
}

/* ---- !irpfind ---------------------------------------------------------------------------- */
/* Two sources, merged (each IRP once): every thread's IrpList (the process known from the walk),
 * and a scan of every physical page the dump holds for IRP headers (kobj/kscan.h), which also
 * finds IRPs on no thread's list (driver-held, in device extensions or queues). `-t`: the
 * thread lists only; `-s`: the scan only. Lines are printed in IRP address order. */

typedef struct irpfind_rec {
    uint64_t irp, thread, process;
    bool on_list, scanned;
} irpfind_rec;

typedef struct irpfind_ctx {
    nk_cmd_env *e;
    uint64_t process;
    nk_u64set seen;
    irpfind_rec *r;
    size_t n, cap, nsorted;
    bool capped, nomem;
    bool scanning;
} irpfind_ctx;

/* The record of an IRP the thread-list walk collected (r[0..nsorted) is sorted by address
 * before the scan starts): for IRPs found by both sources. */
static irpfind_rec *irpfind_find(irpfind_ctx *c, uint64_t irp)
{
    size_t lo = 0, hi = c->nsorted;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        if (c->r[mid].irp < irp) lo = mid + 1;
        else if (c->r[mid].irp > irp) hi = mid;
        else return &c->r[mid];
    }
    return NULL;
}

static bool irpfind_add(void *u, uint64_t irp, uint64_t thread)
{
    irpfind_ctx *c = u;
    if (!nk_u64set_add(&c->seen, irp)) {
        if (c->scanning) { /* on a thread list too */
            irpfind_rec *r = irpfind_find(c, irp);
            if (r) r->scanned = true;
        }
        return true;
    }
    if (c->n >= KIO_MAX_IRPS) {
        c->capped = true;
        return false;
    }
    if (c->n == c->cap) {
        size_t nc = c->cap ? c->cap * 2 : 64;
        irpfind_rec *nr = realloc(c->r, nc * sizeof *nr);
        if (!nr) {
            c->nomem = true;
            return false;
        }
        c->r = nr;
        c->cap = nc;
    }
    irpfind_rec *r = &c->r[c->n++];
    r->irp = irp;
    r->thread = thread;
    r->process = c->scanning ? 0 : c->process;
    r->on_list = !c->scanning;
    r->scanned = c->scanning;
    return true;
}

static int irpfind_cmp(const void *a, const void *b)
{
    uint64_t x = ((const irpfind_rec *)a)->irp, y = ((const irpfind_rec *)b)->irp;
    return x < y ? -1 : x > y;
}

/* One output line (and JSON object) per IRP. */
static void irpfind_show(nk_cmd_env *e, json_object *arr, const irpfind_rec *r)
{
    ntkd_target *t = e->t;
    nk_out *o = e->o;
    char b1[24], b2[24], b3[24], b4[24];
    uint64_t irp = r->irp, thread = r->thread;
    json_object *j = nk_json_obj(o, arr, NULL);
    nk_json_u64(o, j, "irp", irp);
    nk_json_u64(o, j, "thread", thread);
    nk_json_u64(o, j, "process", r->process);
    nk_json_bool(o, j, "on_thread_list", r->on_list);
    nk_json_bool(o, j, "found_by_scan", r->scanned);
    irp_geo g;
    if (!irp_geometry(e, irp, &g, true)) {
        nk_printf(o, "%s [%s] unreadable: %s\n", P(t, b1, irp), P(t, b2, thread), kmsg(e));
        nk_json_str(o, j, "error", kmsg(e));
        return;
    }
    nk_json_int(o, j, "stack_count", (int64_t)g.stack_count);
    nk_json_int(o, j, "current_location", (int64_t)g.current);
    uint64_t mdl = nk_k_get(t, irp, "_IRP", "MdlAddress", 0);
    nk_json_u64(o, j, "mdl", mdl);
    if (g.current < 1 || g.current > g.stack_count || g.stack_count > KIO_MAX_STACK) {
        nk_printf(o, "%s [%s] Irp is complete (CurrentLocation %llu > StackCount %llu)\n", P(t, b1, irp), P(t, b2, thread),
                  (unsigned long long)g.current, (unsigned long long)g.stack_count);
        nk_json_bool(o, j, "active", false);
        return;
    }
    uint64_t sl = sl_addr(&g, irp, g.current);
    uint64_t mj = nk_k_get(t, sl, "_IO_STACK_LOCATION", "MajorFunction", 0) & 0xff;
    uint64_t mn = nk_k_get(t, sl, "_IO_STACK_LOCATION", "MinorFunction", 0) & 0xff;
    uint64_t dev = nk_k_get(t, sl, "_IO_STACK_LOCATION", "DeviceObject", 0);
    char drv[256] = "";
    if (dev) dev_drv_name(t, dev, drv, sizeof drv);
    char mdls[24] = "";
    if (mdl) P(t, mdls, mdl);
    nk_printf(o, "%s [%s] irpStack: (%2llx,%2llx)  %s [%s] %s 0x%s\n", P(t, b1, irp), P(t, b2, thread), (unsigned long long)mj,
              (unsigned long long)mn, Z(t, b3, dev), drv, mdls, P(t, b4, r->process));
    nk_json_bool(o, j, "active", true);
    nk_json_int(o, j, "major", (int64_t)mj);
    nk_json_int(o, j, "minor", (int64_t)mn);
    nk_json_u64(o, j, "device", dev);
    nk_json_str(o, j, "driver", drv);
}

static void irpfind_progress(void *u, uint64_t done, uint64_t total)
{
    nk_progress *p = u;
    if (!p->total) p->total = total;
    nk_progress_update(p, done);
}

/* The thread-list walk: every thread of every process. Returns the processes listed (or -1 when
 * the process list cannot be read: the message then is in *fatal). */
static long irpfind_threads(irpfind_ctx *c, json_object *warn, size_t *nthreads, nk_strbuf *fatal)
{
    nk_cmd_env *e = c->e;
    ntkd_target *t = e->t;
    nk_out *o = e->o;
    nk_kproc *procs = NULL;
    size_t np = 0;
    nk_strbuf why = {0};
    nk_status st = nk_k_processes(t, &procs, &np, &why);
    if (st != NTKD_OK && !np) {
        nk_sb_printf(fatal, "cannot list processes: %s", why.len ? why.s : kmsg(e));
        nk_sb_free(&why);
        free(procs);
        return -1;
    }
    if (why.len) {
        nk_printf(o, "WARNING: process list: %s\n", why.s);
        nk_json_str(o, NULL, "process_list_warning", why.s);
    }
    nk_sb_free(&why);
    for (size_t i = 0; i < np && !c->capped && !c->nomem; i++) {
        nk_kthread *th = NULL;
        size_t nt = 0;
        nk_strbuf tw = {0};
        if (nk_k_threads(t, procs[i].addr, &th, &nt, &tw) != NTKD_OK && !tw.len) nk_sb_printf(&tw, "%s", kmsg(e));
        if (tw.len) {
            nk_printf(o, "WARNING: threads of process %llx: %s\n", (unsigned long long)procs[i].addr, tw.s);
            if (warn) json_object_array_add(warn, json_object_new_string(tw.s));
        }
        nk_sb_free(&tw);
        c->process = procs[i].addr;
        for (size_t k = 0; k < nt && !c->capped && !c->nomem; k++) {
            (*nthreads)++;
            nk_strbuf iw = {0};
            if (nk_k_thread_irps(t, th[k].addr, irpfind_add, c, &iw) != NTKD_OK && !iw.len && !c->capped)
                nk_sb_printf(&iw, "%s", kmsg(e));
            if (iw.len) {
                nk_printf(o, "WARNING: IRP list of thread %llx: %s\n", (unsigned long long)th[k].addr, iw.s);
                if (warn) json_object_array_add(warn, json_object_new_string(iw.s));
            }
            nk_sb_free(&iw);
        }
        free(th);
    }
    free(procs);
    return (long)np;
}

nk_status cmd_irpfind(nk_cmd_env *e, const char *a)
{
    ntkd_target *t = e->t;
    nk_out *o = e->o;
    bool do_threads = true, do_scan = true;
    a = nk_skip_ws(a);
    while (*a) {
        const char *w = a;
        while (*a && !isspace((unsigned char)*a)) a++;
        size_t n = (size_t)(a - w);
        if (n == 2 && !strncmp(w, "-t", 2)) do_scan = false;
        else if (n == 2 && !strncmp(w, "-s", 2)) do_threads = false;
        else {
            nk_cmd_error(o, "usage: !irpfind [-t | -s]   (-t: thread IRP lists only; -s: physical-memory scan only)");
            return NTKD_E_ARG;
        }
        a = nk_skip_ws(a);
    }
    if (!do_threads && !do_scan) {
        nk_cmd_error(o, "!irpfind: -t and -s exclude each other");
        return NTKD_E_ARG;
    }
    nk_json_str(o, NULL, "mode", do_threads && do_scan ? "scan+threads" : do_scan ? "scan" : "threads");
    irpfind_ctx c = {.e = e};
    json_object *warn = nk_json_arr(o, NULL, "warnings");
    size_t nthreads = 0;
    long np = 0;
    nk_strbuf tfail = {0}, sfail = {0};
    if (do_threads) np = irpfind_threads(&c, warn, &nthreads, &tfail);
    nk_kscan_stats ss = {0};
    const nk_kscan_rmap_info *ri = NULL;
    bool scanned = false;
    double scan_ms = 0, scan_cpu_ms = 0;
    if (do_scan && !c.capped && !c.nomem) {
        nk_progress pb;
        nk_progress_start(&pb, "!irpfind: scanning physical memory", 0);
        c.scanning = true;
        nk_sort(c.r, c.n, sizeof *c.r, irpfind_cmp);
        c.nsorted = c.n;
        nk_strbuf sw = {0};
        struct timespec t0, t1, c0, c1;
        clock_gettime(CLOCK_MONOTONIC, &t0);
        clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &c0);
        nk_status sst = nk_kscan_irps(t, irpfind_add, &c, irpfind_progress, &pb, &ss, &sw);
        clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &c1);
        clock_gettime(CLOCK_MONOTONIC, &t1);
        scan_ms = (double)(t1.tv_sec - t0.tv_sec) * 1e3 + (double)(t1.tv_nsec - t0.tv_nsec) / 1e6;
        scan_cpu_ms = (double)(c1.tv_sec - c0.tv_sec) * 1e3 + (double)(c1.tv_nsec - c0.tv_nsec) / 1e6;
        if (sst == NTKD_OK) {
            scanned = true;
            nk_kscan_rmap(t, &ri);
            if (sw.len) nk_sb_printf(&sfail, "%s", sw.s); /* a note (cap) */
        } else {
            nk_sb_printf(&sfail, "physical-memory scan not done: %s", sw.len ? sw.s : kmsg(e));
        }
        nk_sb_free(&sw);
        nk_progress_end(&pb);
        c.scanning = false;
    }
    if (tfail.len && (!do_scan || !scanned)) {
        nk_cmd_error(o, "!irpfind: %s%s%s", tfail.s, sfail.len ? "; " : "", sfail.len ? sfail.s : "");
        nk_sb_free(&tfail);
        nk_sb_free(&sfail);
        nk_u64set_free(&c.seen);
        free(c.r);
        return NTKD_E_NOTPRESENT;
    }
    if (sfail.len && !do_threads) {
        nk_cmd_error(o, "!irpfind: %s", sfail.s);
        nk_sb_free(&sfail);
        nk_u64set_free(&c.seen);
        free(c.r);
        return NTKD_E_NOTPRESENT;
    }
    if (tfail.len) {
        nk_printf(o, "WARNING: thread IRP lists not walked: %s\n", tfail.s);
        if (warn) json_object_array_add(warn, json_object_new_string(tfail.s));
    }
    if (sfail.len) {
        nk_printf(o, "WARNING: %s\n", sfail.s);
        if (warn) json_object_array_add(warn, json_object_new_string(sfail.s));
    }
    /* IRPs only the scan found: their process is their thread's */
    for (size_t i = 0; i < c.n; i++)
        if (!c.r[i].on_list && c.r[i].thread) {
            nk_kthread kt;
            if (nk_k_thread_read(t, c.r[i].thread, &kt) == NTKD_OK) c.r[i].process = kt.process;
        }
    nk_sort(c.r, c.n, sizeof *c.r, irpfind_cmp);
    if (do_threads) nk_printf(o, "Scanning the IRP lists of every thread (%ld processes, %zu threads)\n", np < 0 ? 0 : np, nthreads);
    if (scanned)
        nk_printf(o, "Searching physical memory: %llu pages in the dump, %llu mapped by the kernel, %llu scanned\n",
                  (unsigned long long)(ri ? ri->dump_pages : 0), (unsigned long long)(ri ? ri->mapped_pages : 0),
                  (unsigned long long)ss.pages);
    nk_printf(o, "\n");
    if (t->d.is64)
        nk_printf(o, "  Irp            [ Thread ]         irpStack: (Mj,Mn)   DevObj          [Driver]         MDL Process\n");
    else
        nk_printf(o, "  Irp    [ Thread ] irpStack: (Mj,Mn)   DevObj  [Driver]         MDL Process\n");
    json_object *arr = nk_json_arr(o, NULL, "irps");
    size_t on_list = 0, scan_only = 0;
    for (size_t i = 0; i < c.n; i++) {
        irpfind_show(e, arr, &c.r[i]);
        if (c.r[i].on_list) on_list++;
        else scan_only++;
    }
    if (c.capped) nk_printf(o, "(stopped after %u IRPs)\n", KIO_MAX_IRPS);
    if (c.nomem) nk_printf(o, "(stopped: out of memory)\n");
    if (!do_threads) nk_printf(o, "\n%zu IRPs found by the physical-memory scan\n", c.n);
    else {
        nk_printf(o, "\n%zu IRPs found: %zu on the IRP lists of %zu threads", c.n, on_list, nthreads);
        if (scanned) nk_printf(o, ", %zu only by the physical-memory scan", scan_only);
        nk_printf(o, "\n");
    }
    nk_json_int(o, NULL, "count", (int64_t)c.n);
    nk_json_int(o, NULL, "threads", (int64_t)nthreads);
    nk_json_int(o, NULL, "processes", (int64_t)(np < 0 ? 0 : np));
    nk_json_int(o, NULL, "on_thread_lists", (int64_t)on_list);
    nk_json_int(o, NULL, "scan_only", (int64_t)scan_only);
    if (scanned) {
        json_object *js = nk_json_obj(o, NULL, "scan");
        nk_json_int(o, js, "dump_pages", (int64_t)(ri ? ri->dump_pages : 0));
        nk_json_int(o, js, "mapped_pages", (int64_t)(ri ? ri->mapped_pages : 0));
        nk_json_int(o, js, "page_tables", (int64_t)(ri ? ri->tables : 0));
        nk_json_int(o, js, "absent_entries", (int64_t)(ri ? ri->absent : 0));
        nk_json_bool(o, js, "map_capped", ri && ri->capped);
        nk_json_int(o, js, "pages_scanned", (int64_t)ss.pages);
        nk_json_int(o, js, "candidates", (int64_t)ss.candidates);
        nk_json_int(o, js, "rejected", (int64_t)ss.rejected);
        nk_json_int(o, js, "found", (int64_t)ss.found);
        /* wall and CPU time of the reverse page map and the scan (JSON only: text stays
           reproducible) */
        if (js) {
            json_object_object_add(js, "elapsed_ms", json_object_new_double(scan_ms));
            json_object_object_add(js, "cpu_ms", json_object_new_double(scan_cpu_ms));
        }
    }
    nk_sb_free(&tfail);
    nk_sb_free(&sfail);
    nk_u64set_free(&c.seen);
    free(c.r);
    return NTKD_OK;
}

/* ---- !drvobj ----------------------------------------------------------------------------- */

static const char *const drv_dirs[] = {"\\Driver\\", "\\FileSystem\\"};
static const char *const dev_dirs[] = {"\\Device\\"};

/* The object's type name ("" when unknown); warns (text) on a decoding failure. */
static void obj_type_check(nk_cmd_env *e, uint64_t body, const char *want)
{
    nk_kobject ko;
    if (kobject(e->t, body, &ko) != NTKD_OK) {
        nk_printf(e->o, "WARNING: %s\n", kmsg(e));
        nk_json_str(e->o, NULL, "warning", kmsg(e));
        return;
    }
    if (ko.type_name[0] && strcmp(ko.type_name, want) != 0) {
        nk_printf(e->o, "WARNING: %llx is a %s object, not a %s\n", (unsigned long long)body, ko.type_name, want);
        nk_json_str(e->o, NULL, "warning", "object type mismatch");
    }
}

/* The checks !drvobj and !devobj make on their object: its object-manager type, and the I/O
 * manager's Type field (4 for a driver object, 3 for a device object); warnings only. */
static void io_obj_check(nk_cmd_env *e, uint64_t addr, bool driver)
{
    char b1[24];
    obj_type_check(e, addr, driver ? "Driver" : "Device");
    uint64_t want = driver ? 4 : 3;
    uint64_t io_type = nk_k_get(e->t, addr, driver ? "_DRIVER_OBJECT" : "_DEVICE_OBJECT", "Type", 0) & 0xffff;
    if (io_type != want) {
        nk_printf(e->o, "WARNING: %s: Type %llu is not a %s object's (%llu)\n", P(e->t, b1, addr),
                  (unsigned long long)io_type, driver ? "driver" : "device", (unsigned long long)want);
        nk_json_str(e->o, NULL, "warning",
                    driver ? "the Type field is not a driver object's" : "the Type field is not a device object's");
    }
}

static void sym_or_mod(ntkd_target *t, uint64_t v, char *buf, size_t len)
{
    buf[0] = 0;
    if (v && !nk_sym_describe(t, v, buf, len)) buf[0] = 0;
}

nk_status cmd_drvobj(nk_cmd_env *e, const char *a)
{
    ntkd_target *t = e->t;
    nk_out *o = e->o;
    char word[512];
    const char *rest = nk_next_word(a, word, sizeof word);
    if (!word[0]) {
        nk_cmd_error(o, "usage: !drvobj name|addr [flags]");
        return NTKD_E_ARG;
    }
    uint64_t drv, flags = 1;
    if (!resolve_obj(e, word, drv_dirs, 2, &drv)) return NTKD_E_NOTFOUND;
    if (*rest && !eval_arg(e, rest, &flags, NULL)) return NTKD_E_ARG;
    char b1[24], b2[24];
    uint64_t dev0;
    if (!rd(e, drv, "_DRIVER_OBJECT", "DeviceObject", &dev0)) {
        nk_cmd_error(o, "!drvobj: driver object %llx: %s", (unsigned long long)drv, kmsg(e));
        return NTKD_E_NOTPRESENT;
    }
    io_obj_check(e, drv, true);
    char name[512];
    drv_name(t, drv, name, sizeof name);
    nk_json_u64(o, NULL, "driver", drv);
    nk_json_str(o, NULL, "name", name);
    nk_printf(o, "Driver object (%s) is for:\n %s\n\n", P(t, b1, drv), name);
    /* client driver extensions */
    nk_printf(o, "Driver Extension List: (id , addr)\n");
    json_object *jx = nk_json_arr(o, NULL, "extensions");
    uint64_t dext = nk_k_get(t, drv, "_DRIVER_OBJECT", "DriverExtension", 0);
    uint64_t ce = dext ? nk_k_get(t, dext, "_DRIVER_EXTENSION", "ClientDriverExtension", 0) : 0;
    nk_u64set seen = {0};
    for (unsigned n = 0; ce && n < 256 && nk_u64set_add(&seen, ce); n++) {
        uint64_t id = nk_k_get(t, ce, "_IO_CLIENT_EXTENSION", "ClientIdentificationAddress", 0);
        uint64_t sz = 0;
        nk_k_sizeof(t, "_IO_CLIENT_EXTENSION", &sz);
        nk_printf(o, "(%s %s)  ", P(t, b1, id), P(t, b2, ce + sz));
        json_object *j = nk_json_obj(o, jx, NULL);
        nk_json_u64(o, j, "id", id);
        nk_json_u64(o, j, "addr", ce + sz);
        uint64_t next;
        if (!rd(e, ce, "_IO_CLIENT_EXTENSION", "NextExtension", &next)) break;
        ce = next;
    }
    size_t next_count = seen.n;
    nk_u64set_free(&seen);
    nk_printf(o, "%s\n", next_count ? "\n" : "");
    /* devices */
    uint64_t *devs = malloc(KIO_MAX_DEVICES * sizeof *devs);
    if (!devs) return NTKD_E_NOMEM;
    /* DeviceObject, then each NextDevice; a chain that loops or leaves the dump is cut with a
     * message (the devices before the break are shown) */
    size_t nd = 0;
    nk_u64set dseen = {0};
    uint64_t prev = drv;
    for (uint64_t d = dev0; d && nd < KIO_MAX_DEVICES;) {
        if (!nk_u64set_add(&dseen, d)) {
            nk_printf(o, "WARNING: the device list loops: NextDevice of %s is %s again; shown up to there\n",
                      P(t, b1, prev), P(t, b2, d));
            nk_json_str(o, NULL, "warning", "the device list loops");
            break;
        }
        devs[nd++] = d;
        uint64_t next;
        if (nk_k_read(t, d, "_DEVICE_OBJECT", "NextDevice", &next) != NTKD_OK) {
            nk_printf(o, "WARNING: device list cut at %s: %s\n", P(t, b1, d), kmsg(e));
            nk_json_str(o, NULL, "warning", kmsg(e));
            break;
        }
        prev = d;
        d = next;
    }
    nk_u64set_free(&dseen);
    json_object *jd = nk_json_arr(o, NULL, "devices");
    nk_printf(o, "Device Object list:\n");
    for (size_t i = 0; i < nd; i++) {
        nk_printf(o, "%s%s", P(t, b1, devs[i]), (i % 4 == 3 || i + 1 == nd) ? "\n" : "  ");
        nk_json_u64(o, jd, NULL, devs[i]);
    }
    if (nd == KIO_MAX_DEVICES) nk_printf(o, "(stopped after %u devices)\n", KIO_MAX_DEVICES);
    nk_json_int(o, NULL, "device_count", (int64_t)nd);
    if (flags & 4) {
        /* each device in detail, as !devobj shows it (JSON: one object per device) */
        json_object *jdd = nk_json_arr(o, NULL, "device_details");
        for (size_t i = 0; i < nd; i++) {
            nk_out sub = *o;
            if (o->json) sub.root = json_object_new_object();
            nk_cmd_env se = *e;
            se.o = &sub;
            char arg[32];
            snprintf(arg, sizeof arg, "0x%llx", (unsigned long long)devs[i]);
            nk_printf(o, "\n");
            cmd_devobj(&se, arg);
            if (o->json && sub.root) json_object_array_add(jdd, sub.root);
        }
    }
    free(devs);
    if (flags & 2) {
        char s[256];
        struct {
            const char *label, *key, *type, *field;
        } ep[] = {
            {"DriverEntry:  ", "driver_init", "_DRIVER_OBJECT", "DriverInit"},
            {"DriverStartIo:", "driver_start_io", "_DRIVER_OBJECT", "DriverStartIo"},
            {"DriverUnload: ", "driver_unload", "_DRIVER_OBJECT", "DriverUnload"},
            {"AddDevice:    ", "add_device", "_DRIVER_EXTENSION", "AddDevice"},
        };
        nk_printf(o, "\n");
        for (size_t i = 0; i < sizeof ep / sizeof ep[0]; i++) {
            uint64_t base = strcmp(ep[i].type, "_DRIVER_EXTENSION") == 0 ? dext : drv;
            uint64_t v = base ? nk_k_get(t, base, ep[i].type, ep[i].field, 0) : 0;
            sym_or_mod(t, v, s, sizeof s);
            nk_printf(o, "%s %s\t%s\n", ep[i].label, Z(t, b1, v), s);
            nk_json_u64(o, NULL, ep[i].key, v);
        }
        nk_kfield mf;
        if (nk_k_field(t, "_DRIVER_OBJECT", "MajorFunction", &mf) != NTKD_OK) {
            nk_printf(o, "Dispatch routines: %s\n", kmsg(e));
        } else {
            size_t n = (size_t)(mf.size / psz(t));
            if (n > 64) n = 64;
            nk_printf(o, "\nDispatch routines:\n");
            json_object *jr = nk_json_arr(o, NULL, "dispatch");
            for (size_t i = 0; i < n; i++) {
                uint64_t v = 0;
                bool ok = nk_read_ptr(t, drv + mf.off + i * psz(t), &v) == NTKD_OK;
                sym_or_mod(t, v, s, sizeof s);
                const char *mj = i < NMJ ? mj_names[i] : "IRP_MJ_?";
                if (ok) nk_printf(o, "[%02zx] %-35s %s\t%s\n", i, mj, P(t, b1, v), s);
                else nk_printf(o, "[%02zx] %-35s (memory at %llx is not in the dump)\n", i, mj,
                               (unsigned long long)(drv + mf.off + i * psz(t)));
                json_object *j = nk_json_obj(o, jr, NULL);
                nk_json_int(o, j, "index", (int64_t)i);
                nk_json_str(o, j, "name", mj);
                nk_json_u64(o, j, "routine", v);
                nk_json_str(o, j, "symbol", s);
                nk_json_bool(o, j, "readable", ok);
            }
        }
    }
    return NTKD_OK;
}

/* ---- !devobj ----------------------------------------------------------------------------- */

static const flagname doe_flags[] = {
    {0x1, "DOE_UNLOAD_PENDING"}, {0x2, "DOE_DELETE_PENDING"}, {0x4, "DOE_REMOVE_PENDING"},
    {0x8, "DOE_REMOVE_PROCESSED"}, {0x10, "DOE_START_PENDING"}, {0x800, "DOE_DEFAULT_SD_PRESENT"},
    {0x80000000u, "DOE_DESIGNATED_FDO"},
};
static const flagname chr_flags[] = {
    {0x1, "FILE_REMOVABLE_MEDIA"}, {0x2, "FILE_READ_ONLY_DEVICE"}, {0x4, "FILE_FLOPPY_DISKETTE"},
    {0x8, "FILE_WRITE_ONCE_MEDIA"}, {0x10, "FILE_REMOTE_DEVICE"}, {0x20, "FILE_DEVICE_IS_MOUNTED"},
    {0x40, "FILE_VIRTUAL_VOLUME"}, {0x80, "FILE_AUTOGENERATED_DEVICE_NAME"}, {0x100, "FILE_DEVICE_SECURE_OPEN"},
    {0x800, "FILE_CHARACTERISTIC_PNP_DEVICE"}, {0x1000, "FILE_CHARACTERISTIC_TS_DEVICE"},
    {0x2000, "FILE_CHARACTERISTIC_WEBDAV_DEVICE"}, {0x20000, "FILE_DEVICE_ALLOW_APPCONTAINER_TRAVERSAL"},
};
static const flagname do_flags[] = {
    {0x2, "DO_VERIFY_VOLUME"}, {0x4, "DO_BUFFERED_IO"}, {0x8, "DO_EXCLUSIVE"}, {0x10, "DO_DIRECT_IO"},
    {0x20, "DO_MAP_IO_BUFFER"}, {0x40, "DO_DEVICE_HAS_NAME"}, {0x80, "DO_DEVICE_INITIALIZING"},
    {0x100, "DO_SYSTEM_BOOT_PARTITION"}, {0x200, "DO_LONG_TERM_REQUESTS"}, {0x400, "DO_NEVER_LAST_DEVICE"},
    {0x800, "DO_SHUTDOWN_REGISTERED"}, {0x1000, "DO_BUS_ENUMERATED_DEVICE"}, {0x2000, "DO_POWER_PAGABLE"},
    {0x4000, "DO_POWER_INRUSH"}, {0x10000, "DO_LOW_PRIORITY_FILESYSTEM"}, {0x40000, "DO_SUPPORTS_TRANSACTIONS"},
    {0x80000, "DO_FORCE_NEITHER_IO"}, {0x100000, "DO_VOLUME_DEVICE_OBJECT"}, {0x200000, "DO_SYSTEM_SYSTEM_PARTITION"},
    {0x400000, "DO_SYSTEM_CRITICAL_PARTITION"}, {0x800000, "DO_DISALLOW_EXECUTE"},
};

/* The object's own name ("" when unnamed or unreadable). */
static void obj_name(ntkd_target *t, uint64_t body, char *buf, size_t len)
{
    nk_kobject ko;
    buf[0] = 0;
    if (kobject(t, body, &ko) == NTKD_OK) snprintf(buf, len, "%s", ko.name);
}

/* The argument of !devobj / !devstack (cmd): a device object by name or address, read far
 * enough to know it is there (its DriverObject field, in *drv). NTKD_OK, else the error is
 * written. */
static nk_status dev_arg(nk_cmd_env *e, const char *a, const char *cmd, const char *usage, uint64_t *dev,
                         uint64_t *drv)
{
    char word[512];
    nk_next_word(a, word, sizeof word);
    if (!word[0]) {
        nk_cmd_error(e->o, "usage: %s %s", cmd, usage);
        return NTKD_E_ARG;
    }
    if (!resolve_obj(e, word, dev_dirs, 1, dev)) return NTKD_E_NOTFOUND;
    if (!rd(e, *dev, "_DEVICE_OBJECT", "DriverObject", drv)) {
        nk_cmd_error(e->o, "%s: device object %llx: %s", cmd, (unsigned long long)*dev, kmsg(e));
        return NTKD_E_NOTPRESENT;
    }
    return NTKD_OK;
}

nk_status cmd_devobj(nk_cmd_env *e, const char *a)
{
    ntkd_target *t = e->t;
    nk_out *o = e->o;
    uint64_t dev, drv;
    nk_status rc = dev_arg(e, a, "!devobj", "addr|name", &dev, &drv);
    if (rc != NTKD_OK) return rc;
    char b1[24], b2[24], b3[24];
    io_obj_check(e, dev, false);
    char name[512], dname[512];
    obj_name(t, dev, name, sizeof name);
    drv_name(t, drv, dname, sizeof dname);
    uint64_t irp = nk_k_get(t, dev, "_DEVICE_OBJECT", "CurrentIrp", 0);
    int64_t ref = (int32_t)nk_k_get(t, dev, "_DEVICE_OBJECT", "ReferenceCount", 0);
    uint64_t dtype = nk_k_get(t, dev, "_DEVICE_OBJECT", "DeviceType", 0);
    uint64_t flags = nk_k_get(t, dev, "_DEVICE_OBJECT", "Flags", 0);
    uint64_t chr = nk_k_get(t, dev, "_DEVICE_OBJECT", "Characteristics", 0);
    uint64_t ext = nk_k_get(t, dev, "_DEVICE_OBJECT", "DeviceExtension", 0);
    uint64_t doe = nk_k_get(t, dev, "_DEVICE_OBJECT", "DeviceObjectExtension", 0);
    uint64_t upper = nk_k_get(t, dev, "_DEVICE_OBJECT", "AttachedDevice", 0);
    uint64_t node = doe ? nk_k_get(t, doe, "_DEVOBJ_EXTENSION", "DeviceNode", 0) : 0;
    uint64_t lower = doe ? nk_k_get(t, doe, "_DEVOBJ_EXTENSION", "AttachedTo", 0) : 0;
    uint64_t eflags = doe ? nk_k_get(t, doe, "_DEVOBJ_EXTENSION", "ExtensionFlags", 0) : 0;
    nk_printf(o, "Device object (%s) is for:\n %s %s DriverObject %s\n", P(t, b1, dev), name, dname, P(t, b2, drv));
    nk_printf(o, "Current Irp %s RefCount %lld Type %08llx Flags %08llx\n", Z(t, b1, irp), (long long)ref,
              (unsigned long long)dtype, (unsigned long long)flags);
    nk_printf(o, "DevExt %s DevObjExt %s", Z(t, b1, ext), Z(t, b2, doe));
    if (node) nk_printf(o, " DevNode %s", P(t, b3, node));
    nk_printf(o, " \n");
    char buf[1024];
    json_object *jf = nk_json_arr(o, NULL, "extension_flag_names");
    decode_flags((uint32_t)eflags, doe_flags, sizeof doe_flags / sizeof doe_flags[0], buf, sizeof buf, o, jf);
    nk_printf(o, "ExtensionFlags (0x%08llx)  %s\n", (unsigned long long)eflags, buf);
    jf = nk_json_arr(o, NULL, "characteristic_names");
    decode_flags((uint32_t)chr, chr_flags, sizeof chr_flags / sizeof chr_flags[0], buf, sizeof buf, o, jf);
    nk_printf(o, "Characteristics (0x%08llx)  %s\n", (unsigned long long)chr, buf);
    jf = nk_json_arr(o, NULL, "flag_names");
    decode_flags((uint32_t)flags, do_flags, sizeof do_flags / sizeof do_flags[0], buf, sizeof buf, o, jf);
    char un[512];
    if (upper) {
        dev_drv_name(t, upper, un, sizeof un);
        nk_printf(o, "AttachedDevice (Upper) %s %s\n", P(t, b1, upper), un);
    }
    if (lower) {
        dev_drv_name(t, lower, un, sizeof un);
        nk_printf(o, "AttachedTo (Lower) %s %s\n", P(t, b1, lower), un);
    }
    uint64_t busy = 0;
    if (nk_k_read(t, dev, "_DEVICE_OBJECT", "DeviceQueue.Busy", &busy) == NTKD_OK)
        nk_printf(o, "Device queue is %sbusy.\n", busy & 0xff ? "" : "not ");
    nk_json_u64(o, NULL, "device", dev);
    nk_json_str(o, NULL, "name", name);
    nk_json_u64(o, NULL, "driver", drv);
    nk_json_str(o, NULL, "driver_name", dname);
    nk_json_u64(o, NULL, "current_irp", irp);
    nk_json_int(o, NULL, "reference_count", ref);
    nk_json_u64(o, NULL, "device_type", dtype);
    nk_json_u64(o, NULL, "flags", flags);
    nk_json_u64(o, NULL, "characteristics", chr);
    nk_json_u64(o, NULL, "device_extension", ext);
    nk_json_u64(o, NULL, "devobj_extension", doe);
    nk_json_u64(o, NULL, "extension_flags", eflags);
    nk_json_u64(o, NULL, "devnode", node);
    nk_json_u64(o, NULL, "attached_device", upper);
    nk_json_u64(o, NULL, "attached_to", lower);
    return NTKD_OK;
}

/* ---- !devstack --------------------------------------------------------------------------- */

static void devnode_strings(ntkd_target *t, uint64_t node, char **inst, char **svc)
{
    *inst = ustr_field(t, node, "_DEVICE_NODE", "InstancePath");
    *svc = ustr_field(t, node, "_DEVICE_NODE", "ServiceName");
}

nk_status cmd_devstack(nk_cmd_env *e, const char *a)
{
    ntkd_target *t = e->t;
    nk_out *o = e->o;
    uint64_t dev, chk;
    nk_status rc = dev_arg(e, a, "!devstack", "addr", &dev, &chk);
    if (rc != NTKD_OK) return rc;
    uint64_t st[KIO_MAX_STACK];
    size_t n = nk_k_device_stack(t, dev, st, KIO_MAX_STACK);
    if (n == 0) {
        st[0] = dev;
        n = 1;
    }
    char b1[24], b2[24];
    nk_json_u64(o, NULL, "device", dev);
    json_object *js = nk_json_arr(o, NULL, "stack");
    if (t->d.is64) nk_printf(o, "  !DevObj           !DrvObj            !DevExt           ObjectName\n");
    else nk_printf(o, "  !DevObj   !DrvObj            !DevExt   ObjectName\n");
    bool found = false;
    for (size_t i = 0; i < n; i++) {
        char drv[256] = "", name[512];
        dev_drv_name(t, st[i], drv, sizeof drv);
        obj_name(t, st[i], name, sizeof name);
        uint64_t ext = nk_k_get(t, st[i], "_DEVICE_OBJECT", "DeviceExtension", 0);
        bool me = st[i] == dev;
        found |= me;
        nk_printf(o, "%s%s  %-19s%s  %s\n", me ? "> " : "  ", P(t, b1, st[i]), drv, P(t, b2, ext), name);
        json_object *j = nk_json_obj(o, js, NULL);
        nk_json_u64(o, j, "device", st[i]);
        nk_json_u64(o, j, "driver", nk_k_get(t, st[i], "_DEVICE_OBJECT", "DriverObject", 0));
        nk_json_str(o, j, "driver_name", drv);
        nk_json_u64(o, j, "device_extension", ext);
        nk_json_str(o, j, "name", name);
        nk_json_bool(o, j, "selected", me);
    }
    if (n == KIO_MAX_STACK) nk_printf(o, "(stopped after %u devices: the stack may be cyclic)\n", KIO_MAX_STACK);
    if (!found) nk_printf(o, "WARNING: %s is not in the stack its links give\n", P(t, b1, dev));
    uint64_t bottom = st[n - 1];
    uint64_t doe = nk_k_get(t, bottom, "_DEVICE_OBJECT", "DeviceObjectExtension", 0);
    uint64_t node = doe ? nk_k_get(t, doe, "_DEVOBJ_EXTENSION", "DeviceNode", 0) : 0;
    nk_json_u64(o, NULL, "devnode", node);
    if (node) {
        char *inst, *svc;
        devnode_strings(t, node, &inst, &svc);
        nk_printf(o, "!DevNode %s :\n", P(t, b1, node));
        nk_printf(o, "  DeviceInst is \"%s\"\n", inst ? inst : "");
        nk_printf(o, "  ServiceName is \"%s\"\n", svc ? svc : "");
        nk_json_str(o, NULL, "instance_path", inst ? inst : "");
        nk_json_str(o, NULL, "service_name", svc ? svc : "");
        free(inst);
        free(svc);
    }
    return NTKD_OK;
}

/* ---- !devnode ---------------------------------------------------------------------------- */

typedef struct devnode_walk {
    nk_cmd_env *e;
    json_object *arr;
    nk_u64set seen;
    size_t count;
    bool cut;
} devnode_walk;

static void devnode_show(nk_cmd_env *e, uint64_t node, unsigned depth, json_object *arr, uint64_t parent, bool full)
{
    ntkd_target *t = e->t;
    nk_out *o = e->o;
    char ind[2 * KIO_MAX_DEPTH + 1];
    unsigned d = depth > KIO_MAX_DEPTH ? KIO_MAX_DEPTH : depth;
    memset(ind, ' ', 2 * d);
    ind[2 * d] = 0;
    uint64_t pdo = nk_k_get(t, node, "_DEVICE_NODE", "PhysicalDeviceObject", 0);
    uint64_t state = nk_k_get(t, node, "_DEVICE_NODE", "State", 0) & 0xffffffffu;
    uint64_t prev = nk_k_get(t, node, "_DEVICE_NODE", "PreviousState", 0) & 0xffffffffu;
    char *inst, *svc;
    devnode_strings(t, node, &inst, &svc);
    char sn[96], pn[96];
    if (!nk_k_enum_name(t, "_PNP_DEVNODE_STATE", (int64_t)state, sn, sizeof sn)) snprintf(sn, sizeof sn, "?");
    if (!nk_k_enum_name(t, "_PNP_DEVNODE_STATE", (int64_t)prev, pn, sizeof pn)) snprintf(pn, sizeof pn, "?");
    nk_printf(o, "%sDevNode 0x%llx for PDO 0x%llx\n", ind, (unsigned long long)node, (unsigned long long)pdo);
    if (full) {
        uint64_t par = nk_k_get(t, node, "_DEVICE_NODE", "Parent", 0);
        uint64_t sib = nk_k_get(t, node, "_DEVICE_NODE", "Sibling", 0);
        uint64_t chi = nk_k_get(t, node, "_DEVICE_NODE", "Child", 0);
        nk_printf(o, "%s  Parent 0x%llx   Sibling 0x%llx   Child 0x%llx\n", ind, (unsigned long long)par,
                  (unsigned long long)sib, (unsigned long long)chi);
    }
    if (inst) nk_printf(o, "%s  InstancePath is \"%s\"\n", ind, inst);
    if (svc) nk_printf(o, "%s  ServiceName is \"%s\"\n", ind, svc);
    nk_printf(o, "%s  State = %s (0x%llx)\n", ind, sn, (unsigned long long)state);
    nk_printf(o, "%s  Previous State = %s (0x%llx)\n", ind, pn, (unsigned long long)prev);
    json_object *j = nk_json_obj(o, arr, arr ? NULL : "node");
    nk_json_u64(o, j, "node", node);
    nk_json_u64(o, j, "pdo", pdo);
    nk_json_u64(o, j, "parent", parent);
    nk_json_int(o, j, "depth", depth);
    nk_json_str(o, j, "instance_path", inst ? inst : "");
    nk_json_str(o, j, "service_name", svc ? svc : "");
    nk_json_int(o, j, "state", (int64_t)state);
    nk_json_str(o, j, "state_name", sn);
    nk_json_int(o, j, "previous_state", (int64_t)prev);
    nk_json_str(o, j, "previous_state_name", pn);
    free(inst);
    free(svc);
}

/* Depth-first over Child / Sibling links without recursion on siblings; depth capped. */
static void devnode_tree(devnode_walk *w, uint64_t node, unsigned depth, uint64_t parent)
{
    nk_cmd_env *e = w->e;
    for (size_t sib = 0; node && !w->cut; sib++) {
        if (w->count >= KIO_MAX_NODES) {
            nk_printf(e->o, "(stopped after %u device nodes)\n", KIO_MAX_NODES);
            w->cut = true;
            return;
        }
        if (!nk_u64set_add(&w->seen, node)) {
            nk_printf(e->o, "WARNING: device node 0x%llx is reached twice: the tree's links form a cycle\n",
                      (unsigned long long)node);
            nk_json_str(e->o, NULL, "warning", "device tree cycle");
            w->cut = true;
            return;
        }
        uint64_t chk;
        if (nk_k_read(e->t, node, "_DEVICE_NODE", "Child", &chk) != NTKD_OK) {
            nk_printf(e->o, "WARNING: device node 0x%llx: %s\n", (unsigned long long)node, kmsg(e));
            nk_json_str(e->o, NULL, "warning", kmsg(e));
            return;
        }
        w->count++;
        devnode_show(e, node, depth, w->arr, parent, false);
        if (chk) {
            if (depth + 1 >= KIO_MAX_DEPTH) {
                nk_printf(e->o, "WARNING: the device tree is deeper than %u levels; not shown below 0x%llx\n",
                          KIO_MAX_DEPTH, (unsigned long long)node);
            } else {
                devnode_tree(w, chk, depth + 1, node);
            }
        }
        uint64_t next = 0;
        if (nk_k_read(e->t, node, "_DEVICE_NODE", "Sibling", &next) != NTKD_OK) break;
        node = next;
    }
}

nk_status cmd_devnode(nk_cmd_env *e, const char *a)
{
    ntkd_target *t = e->t;
    nk_out *o = e->o;
    uint64_t node = 0, flags = 0;
    const char *rest = nk_skip_ws(a);
    if (*rest) {
        if (!eval_arg(e, rest, &node, &rest)) return NTKD_E_ARG;
        if (*rest && !eval_arg(e, rest, &flags, NULL)) return NTKD_E_ARG;
    }
    bool root = node == 0;
    if (root) {
        if (nk_k_global_ptr(t, "IopRootDeviceNode", &node) != NTKD_OK || !node) {
            nk_cmd_error(o, "!devnode: IopRootDeviceNode: %s", node ? kmsg(e) : "null");
            return NTKD_E_NOTFOUND;
        }
        nk_printf(o, "Dumping IopRootDeviceNode (= 0x%llx)\n", (unsigned long long)node);
        nk_json_u64(o, NULL, "root", node);
    }
    uint64_t chk;
    if (nk_k_read(t, node, "_DEVICE_NODE", "Child", &chk) != NTKD_OK) {
        nk_cmd_error(o, "!devnode: device node %llx: %s", (unsigned long long)node, kmsg(e));
        return NTKD_E_NOTPRESENT;
    }
    {
        uint64_t state = nk_k_get(t, node, "_DEVICE_NODE", "State", 0) & 0xffffffffu;
        char sn[96];
        if (!nk_k_enum_name(t, "_PNP_DEVNODE_STATE", (int64_t)state, sn, sizeof sn)) {
            nk_printf(o, "WARNING: 0x%llx may not be a device node: its State 0x%llx is no _PNP_DEVNODE_STATE value\n",
                      (unsigned long long)node, (unsigned long long)state);
            nk_json_str(o, NULL, "warning", "State is no _PNP_DEVNODE_STATE value");
        }
    }
    if (!(flags & 1)) {
        devnode_show(e, node, 0, NULL, nk_k_get(t, node, "_DEVICE_NODE", "Parent", 0), true);
        return NTKD_OK;
    }
    devnode_walk w = {.e = e};
    w.arr = nk_json_arr(o, NULL, "nodes");
    /* the given node and its subtree (its siblings are not part of it) */
    if (!nk_u64set_add(&w.seen, node)) return NTKD_E_NOMEM;
    w.count = 1;
    devnode_show(e, node, 0, w.arr, nk_k_get(t, node, "_DEVICE_NODE", "Parent", 0), false);
    if (chk) devnode_tree(&w, chk, 1, node);
    nk_json_int(o, NULL, "count", (int64_t)w.count);
    nk_json_bool(o, NULL, "complete", !w.cut);
    nk_u64set_free(&w.seen);
    return NTKD_OK;
}

/* ---- !object ----------------------------------------------------------------------------- */

/* Header, type and name of one object (the shape WinDbg prints). */
static bool object_show(nk_cmd_env *e, uint64_t body, json_object *j, nk_kobject *ko)
{
    ntkd_target *t = e->t;
    nk_out *o = e->o;
    char b1[24], b2[24];
    if (kobject(t, body, ko) != NTKD_OK) {
        nk_printf(o, "Object: %s  %s\n", P(t, b1, body), kmsg(e));
        nk_json_u64(o, j, "object", body);
        nk_json_str(o, j, "error", kmsg(e));
        return false;
    }
    bool newver = nk_k_has(t, "_OBJECT_HEADER", "TypeIndex");
    nk_printf(o, "Object: %s  Type: (%s) %s\n", P(t, b1, body), P(t, b2, ko->type_obj), ko->type_name);
    nk_printf(o, "    ObjectHeader: %s%s\n", P(t, b1, ko->header), newver ? " (new version)" : "");
    nk_printf(o, "    HandleCount: %lld  PointerCount: %lld\n", (long long)ko->handle_count, (long long)ko->pointer_count);
    if (ko->name[0] || ko->directory)
        nk_printf(o, "    Directory Object: %s  Name: %s\n", Z(t, b1, ko->directory), ko->name);
    nk_json_u64(o, j, "object", body);
    nk_json_u64(o, j, "header", ko->header);
    nk_json_u64(o, j, "type_object", ko->type_obj);
    nk_json_int(o, j, "type_index", ko->type_index);
    nk_json_str(o, j, "type", ko->type_name);
    nk_json_str(o, j, "name", ko->name);
    nk_json_u64(o, j, "directory", ko->directory);
    nk_json_int(o, j, "handle_count", ko->handle_count);
    nk_json_int(o, j, "pointer_count", ko->pointer_count);
    if (!ko->type_name[0]) {
        /* the layer decoded the header but found no type name: a corrupt type pointer/index */
        char msg[160];
        if (newver)
            snprintf(msg, sizeof msg, "object at %llx: its type index 0x%x is not a valid object type",
                     (unsigned long long)body, ko->type_index);
        else
            snprintf(msg, sizeof msg, "object at %llx: its type pointer %llx is not a valid object type",
                     (unsigned long long)body, (unsigned long long)ko->type_obj);
        nk_printf(o, "    WARNING: %s\n", msg);
        nk_json_str(o, j, "error", msg);
        if (!j) o->failed = true;
    }
    if (strcmp(ko->type_name, "SymbolicLink") == 0) {
        char *tg = ustr_field(t, body, "_OBJECT_SYMBOLIC_LINK", "LinkTarget");
        if (tg) {
            nk_printf(o, "    Target String is '%s'\n", tg);
            nk_json_str(o, j, "target", tg);
            free(tg);
        }
    }
    return true;
}

/* A directory's entries with their hash bucket (nk_k_dir_each does not give the bucket). */
static void directory_list(nk_cmd_env *e, uint64_t dir)
{
    ntkd_target *t = e->t;
    nk_out *o = e->o;
    char b1[24];
    nk_kfield hb;
    if (nk_k_field(t, "_OBJECT_DIRECTORY", "HashBuckets", &hb) != NTKD_OK) {
        nk_printf(o, "    (no directory entries: %s)\n", kmsg(e));
        nk_json_str(o, NULL, "directory_error", kmsg(e));
        return;
    }
    size_t nb = (size_t)(hb.size / psz(t));
    if (nb > 1024) nb = 1024;
    json_object *ja = nk_json_arr(o, NULL, "entries");
    nk_printf(o, "\n    Hash Address          Type                      Name\n");
    nk_printf(o, "    ---- -------          ----                      ----\n");
    nk_u64set seen = {0};
    size_t total = 0;
    for (size_t b = 0; b < nb; b++) {
        uint64_t ent = 0;
        if (nk_read_ptr(t, dir + hb.off + b * psz(t), &ent) != NTKD_OK) {
            nk_printf(o, "     %02zu  (bucket at %llx is not in the dump)\n", b, (unsigned long long)(dir + hb.off + b * psz(t)));
            continue;
        }
        bool first = true;
        for (size_t n = 0; ent; n++) {
            if (n >= KIO_MAX_CHAIN || !nk_u64set_add(&seen, ent)) {
                nk_printf(o, "     %02zu  WARNING: the chain at entry %llx loops or is too long; stopped\n", b,
                          (unsigned long long)ent);
                nk_json_str(o, NULL, "warning", "directory chain cycle");
                break;
            }
            uint64_t obj, next;
            if (nk_k_read(t, ent, "_OBJECT_DIRECTORY_ENTRY", "Object", &obj) != NTKD_OK ||
                nk_k_read(t, ent, "_OBJECT_DIRECTORY_ENTRY", "ChainLink", &next) != NTKD_OK) {
                nk_printf(o, "     %02zu  %s\n", b, kmsg(e));
                break;
            }
            nk_kobject ko;
            const char *tn = "?", *nm = "";
            bool ok = kobject(t, obj, &ko) == NTKD_OK;
            if (ok) {
                tn = ko.type_name[0] ? ko.type_name : "?";
                nm = ko.name;
            }
            if (first) nk_printf(o, "     %02zu  %s %-25s %s\n", b, P(t, b1, obj), tn, ok ? nm : kmsg(e));
            else nk_printf(o, "         %s %-25s %s\n", P(t, b1, obj), tn, ok ? nm : kmsg(e));
            first = false;
            json_object *j = nk_json_obj(o, ja, NULL);
            nk_json_int(o, j, "hash", (int64_t)b);
            nk_json_u64(o, j, "object", obj);
            nk_json_str(o, j, "type", ok ? ko.type_name : "");
            nk_json_str(o, j, "name", nm);
            if (!ok) nk_json_str(o, j, "error", kmsg(e));
            total++;
            ent = next;
        }
    }
    nk_u64set_free(&seen);
    nk_json_int(o, NULL, "entry_count", (int64_t)total);
}

typedef struct objtype_walk {
    nk_cmd_env *e;
    json_object *arr;
    size_t n;
    bool capped;
} objtype_walk;

static bool objtype_one(void *u, uint64_t body)
{
    objtype_walk *w = u;
    if (w->n >= KIO_MAX_OBJECTS) {
        w->capped = true;
        return false;
    }
    w->n++;
    nk_kobject ko;
    object_show(w->e, body, nk_json_obj(w->e->o, w->arr, NULL), &ko);
    nk_printf(w->e->o, "\n");
    return true;
}

nk_status cmd_object(nk_cmd_env *e, const char *a)
{
    ntkd_target *t = e->t;
    nk_out *o = e->o;
    char word[512];
    const char *rest = nk_next_word(a, word, sizeof word);
    if (!word[0]) snprintf(word, sizeof word, "\\");
    uint64_t body = 0;
    bool is_zero = false;
    if (word[0] != '\\') {
        if (!eval_arg(e, word, &body, NULL)) return NTKD_E_ARG;
        is_zero = body == 0;
    }
    if (is_zero) {
        char tname[128];
        nk_next_word(rest, tname, sizeof tname);
        if (!tname[0]) {
            nk_cmd_error(o, "usage: !object 0 TypeName");
            return NTKD_E_ARG;
        }
        uint64_t tobj;
        if (nk_k_object_type(t, tname, &tobj) != NTKD_OK) {
            nk_cmd_error(o, "!object: %s", kmsg(e));
            return NTKD_E_NOTFOUND;
        }
        uint64_t total = nk_k_get(t, tobj, "_OBJECT_TYPE", "TotalNumberOfObjects", 0) & 0xffffffffu;
        nk_json_str(o, NULL, "type", tname);
        nk_json_u64(o, NULL, "type_object", tobj);
        nk_json_int(o, NULL, "total_number_of_objects", (int64_t)total);
        nk_printf(o, "Scanning %llu objects of type '%s'\n", (unsigned long long)total, tname);
        objtype_walk w = {.e = e};
        w.arr = nk_json_arr(o, NULL, "objects");
        nk_strbuf why = {0};
        nk_status st = nk_k_objects_of_type(t, tobj, objtype_one, &w, &why);
        if (w.capped) nk_printf(o, "(stopped after %u objects)\n", KIO_MAX_OBJECTS);
        if (st != NTKD_OK) {
            const char *m = why.len ? why.s : kmsg(e);
            if (w.n) {
                nk_printf(o, "WARNING: %s\n", m);
                nk_json_str(o, NULL, "warning", m);
            } else {
                nk_cmd_error(o, "!object: %s", m);
                nk_sb_free(&why);
                return st;
            }
        }
        nk_sb_free(&why);
        nk_printf(o, "%zu objects of type '%s' found\n", w.n, tname);
        nk_json_int(o, NULL, "count", (int64_t)w.n);
        return NTKD_OK;
    }
    if (word[0] == '\\' && nk_k_lookup(t, word, &body) != NTKD_OK) {
        nk_cmd_error(o, "!object: %s not found: %s", word, kmsg(e));
        return NTKD_E_NOTFOUND;
    }
    nk_kobject ko;
    if (!object_show(e, body, NULL, &ko)) {
        o->failed = true;
        return NTKD_E_FORMAT;
    }
    if (strcmp(ko.type_name, "Directory") == 0) directory_list(e, body);
    return ko.type_name[0] ? NTKD_OK : NTKD_E_FORMAT;
}
