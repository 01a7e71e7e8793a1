/* io.c: the I/O manager of a scene: driver objects, device objects and their stacks, device
 * nodes under IopRootDeviceNode, IRPs with their stack locations.
 *
 * Facts (public: the WDK's wdm.h documentation of DRIVER_OBJECT, DEVICE_OBJECT, IRP,
 * IO_STACK_LOCATION; every offset from the layout):
 *  - _DRIVER_OBJECT Type 4, its _DRIVER_EXTENSION allocated right after it; MajorFunction[28]
 *    (IRP_MJ_CREATE 0 .. IRP_MJ_PNP 0x1b), unused slots at nt!IopInvalidDeviceRequest.
 *  - _DEVICE_OBJECT Type 3, Size = sizeof(DEVICE_OBJECT) + extension; the device extension
 *    follows the object, then the _DEVOBJ_EXTENSION (Type 13). New devices go to the head of
 *    the driver's DeviceObject/NextDevice list; attaching goes on top of the stack's topmost
 *    device (AttachedDevice up, DEVOBJ_EXTENSION.AttachedTo down), StackSize = lower + 1.
 *  - _IRP Type 6, Size = sizeof(IRP) + StackCount * sizeof(IO_STACK_LOCATION), the locations
 *    right after it; CurrentLocation counts down from StackCount + 1 (not yet sent) to 1, the
 *    current location is locations[CurrentLocation - 1] (Tail.Overlay.CurrentStackLocation);
 *    the first device of a stack uses the last location, each lower one the location below;
 *    locations keep their DeviceObject once they have been current. io_irp puts `top` in the
 *    current location; the scene sets the other locations it needs with io_irp_stack. A thread's IRPs hang on ETHREAD.IrpList by
 *    ThreadListEntry.
 * Driver routines: the export of the driver image named like the major function (see
 * major_routine: "DispatchPower", "ndisPowerDispatch", "UsbhFdoPower", "USBC_Dispatch"), read from the image's PE export directory in the
 * scene's memory by io_finish (nt.c writes the images' headers and exports in k_finish, so
 * ob_finish must run after them); until then every slot is nt!IopInvalidDeviceRequest. */
#include "scene.h"

#include <stdlib.h>
#include <string.h>
#include <strings.h>

#define IO_MAXDRV 128
#define IO_MAXIRP 256

typedef struct io_drv {
    uint64_t addr, base;
    char name[96];
    unsigned ndev;
} io_drv;

static struct {
    kern *k;
    io_drv drv[IO_MAXDRV];
    unsigned ndrv;
    uint64_t irp[IO_MAXIRP];
    unsigned nirp;
    uint64_t rootnode;
} S;

static void io_state(kern *k)
{
    if (S.k == k)
        return;
    memset(&S, 0, sizeof S);
    S.k = k;
}

static const char *const major_names[28] = {
    "Create",           "CreateNamedPipe",       "Close",
    "Read",             "Write",                 "QueryInformation",
    "SetInformation",   "QueryEa",               "SetEa",
    "FlushBuffers",     "QueryVolumeInformation", "SetVolumeInformation",
    "DirectoryControl", "FileSystemControl",     "DeviceControl",
    "InternalDeviceControl", "Shutdown",         "LockControl",
    "Cleanup",          "CreateMailslot",        "QuerySecurity",
    "SetSecurity",      "Power",                 "SystemControl",
    "DeviceChange",     "QueryQuota",            "SetQuota",
    "Pnp"};

/* An export of the PE image at `base` (0 when absent or the image has no export directory). */
static uint64_t pe_export(world *w, uint64_t base, const char *name)
{
    if (!base || w_get(w, base, 2) != 0x5a4d)
        return 0;
    uint64_t nt = base + w_get(w, base + 0x3c, 4);
    if (w_get(w, nt, 4) != 0x4550)
        return 0;
    uint64_t opt = nt + 24;
    unsigned magic = (unsigned)w_get(w, opt, 2);
    uint64_t dd = opt + (magic == 0x20b ? 112 : 96);
    uint64_t ndirs = w_get(w, opt + (magic == 0x20b ? 108 : 92), 4);
    if (ndirs < 1)
        return 0;
    uint64_t erva = w_get(w, dd, 4), esize = w_get(w, dd + 4, 4);
    if (!erva || !esize)
        return 0;
    uint64_t ed = base + erva;
    uint64_t nnames = w_get(w, ed + 0x18, 4);
    uint64_t funcs = base + w_get(w, ed + 0x1c, 4);
    uint64_t names = base + w_get(w, ed + 0x20, 4);
    uint64_t ords = base + w_get(w, ed + 0x24, 4);
    if (nnames > 4096)
        return 0;
    size_t len = strlen(name);
    for (uint64_t i = 0; i < nnames; i++) {
        uint64_t s = base + w_get(w, names + i * 4, 4);
        size_t j = 0;
        for (; j <= len; j++) {
            unsigned c = (unsigned)w_get(w, s + j, 1);
            if (c != (unsigned char)name[j])
                break;
        }
        if (j == len + 1) {
            uint64_t ord = w_get(w, ords + i * 2, 2);
            uint64_t rva = w_get(w, funcs + ord * 4, 4);
            return rva ? base + rva : 0;
        }
    }
    return 0;
}

/* The exported names of the PE image at `base` with their addresses; returns the count. */
typedef struct pe_exp {
    char name[96];
    uint64_t va;
} pe_exp;

static size_t pe_export_list(world *w, uint64_t base, pe_exp *out, size_t cap)
{
    if (!base || w_get(w, base, 2) != 0x5a4d)
        return 0;
    uint64_t nt = base + w_get(w, base + 0x3c, 4);
    if (w_get(w, nt, 4) != 0x4550)
        return 0;
    uint64_t opt = nt + 24;
    unsigned magic = (unsigned)w_get(w, opt, 2);
    uint64_t dd = opt + (magic == 0x20b ? 112 : 96);
    uint64_t erva = w_get(w, dd, 4);
    if (!erva)
        return 0;
    uint64_t ed = base + erva;
    uint64_t nnames = w_get(w, ed + 0x18, 4);
    uint64_t funcs = base + w_get(w, ed + 0x1c, 4);
    uint64_t names = base + w_get(w, ed + 0x20, 4);
    uint64_t ords = base + w_get(w, ed + 0x24, 4);
    size_t n = 0;
    for (uint64_t i = 0; i < nnames && n < cap; i++) {
        uint64_t s = base + w_get(w, names + i * 4, 4);
        size_t j = 0;
        for (; j + 1 < sizeof out[n].name; j++) {
            char c = (char)w_get(w, s + j, 1);
            if (!c)
                break;
            out[n].name[j] = c;
        }
        out[n].name[j] = 0;
        uint64_t rva = w_get(w, funcs + w_get(w, ords + i * 2, 2) * 4, 4);
        if (!rva)
            continue;
        out[n++].va = base + rva;
    }
    return n;
}

static bool has_ci(const char *s, const char *sub)
{
    size_t n = strlen(sub);
    for (; *s; s++)
        if (!strncasecmp(s, sub, n))
            return true;
    return false;
}

static bool ends_ci(const char *s, const char *suf)
{
    size_t a = strlen(s), b = strlen(suf);
    return a >= b && !strcasecmp(s + a - b, suf);
}

/* The routine of major function `m` among a driver's exports: "Dispatch<Major>", else one
 * naming the major and "Dispatch" (ndisPowerDispatch), else one ending with the major
 * (UsbhFdoPower), else a generic "...Dispatch" (USBC_Dispatch, ClassDispatch); 0: none. */
static uint64_t major_routine(const pe_exp *e, size_t n, const char *major)
{
    char want[64];
    snprintf(want, sizeof want, "Dispatch%s", major);
    for (size_t i = 0; i < n; i++)
        if (!strcmp(e[i].name, want))
            return e[i].va;
    for (size_t i = 0; i < n; i++)
        if (has_ci(e[i].name, major) && has_ci(e[i].name, "Dispatch"))
            return e[i].va;
    for (size_t i = 0; i < n; i++)
        if (ends_ci(e[i].name, major))
            return e[i].va;
    for (size_t i = 0; i < n; i++)
        if (ends_ci(e[i].name, "Dispatch"))
            return e[i].va;
    return 0;
}

static uint64_t pe_size(world *w, uint64_t base)
{
    if (!base || w_get(w, base, 2) != 0x5a4d)
        return 0;
    uint64_t nt = base + w_get(w, base + 0x3c, 4);
    if (w_get(w, nt, 4) != 0x4550)
        return 0;
    return w_get(w, nt + 24 + 56, 4);
}

static uint64_t pe_entry(world *w, uint64_t base)
{
    if (!base || w_get(w, base, 2) != 0x5a4d)
        return 0;
    uint64_t nt = base + w_get(w, base + 0x3c, 4);
    if (w_get(w, nt, 4) != 0x4550)
        return 0;
    uint64_t rva = w_get(w, nt + 24 + 16, 4);
    return rva ? base + rva : 0;
}

static const char *ldr_type(const lay *L)
{
    return lay_has_type(L, "_KLDR_DATA_TABLE_ENTRY") ? "_KLDR_DATA_TABLE_ENTRY"
                                                       : "_LDR_DATA_TABLE_ENTRY";
}

/* The loader entry of the module at `base` on PsLoadedModuleList (0 when not there). */
static uint64_t ldr_find(kern *k, uint64_t base)
{
    world *w = k->w;
    const lay *L = k->L;
    unsigned P = w_ptr(w);
    uint64_t head = k_sym_opt(k, "PsLoadedModuleList");
    if (head == SC_NONE || !base)
        return 0;
    const char *T = ldr_type(L);
    uint64_t links = lay_off_req(L, T, "InLoadOrderLinks");
    uint64_t e = w_get(w, head, P);
    for (unsigned i = 0; i < 4096 && e && e != head; i++) {
        uint64_t ldr = e - links;
        if (w_field(w, ldr, T, "DllBase") == base)
            return ldr;
        e = w_get(w, e, P);
    }
    return 0;
}

static io_drv *drv_find(uint64_t addr)
{
    for (unsigned i = 0; i < S.ndrv; i++)
        if (S.drv[i].addr == addr)
            return &S.drv[i];
    return NULL;
}

uint64_t io_driver(kern *k, const char *name, uint64_t image_base, const char *image_file)
{
    io_state(k);
    world *w = k->w;
    const lay *L = k->L;
    unsigned P = w_ptr(w);
    (void)image_file;
    if (S.ndrv >= IO_MAXDRV)
        sc_die("io: too many drivers");
    char leaf[96];
    uint64_t dir = ob_path(k, name, leaf, sizeof leaf);
    uint64_t dsz = lay_size(L, "_DRIVER_OBJECT");
    uint64_t esz = lay_size(L, "_DRIVER_EXTENSION");
    uint64_t d = ob_create(k, "Driver", leaf, dir, dsz + esz);
    uint64_t ext = d + dsz;
    w_set(w, d, "_DRIVER_OBJECT", "Type", 4);
    w_set(w, d, "_DRIVER_OBJECT", "Size", dsz);
    w_set(w, d, "_DRIVER_OBJECT", "Flags", 0x12); /* DRVO_LEGACY_DRIVER | DRVO_INITIALIZED */
    w_set(w, d, "_DRIVER_OBJECT", "DriverStart", image_base);
    w_set(w, d, "_DRIVER_OBJECT", "DriverExtension", ext);
    w_ustr(w, d + lay_off_req(L, "_DRIVER_OBJECT", "DriverName"), name);
    /* size, entry and loader entry from PsLoadedModuleList (the PE headers and exports are
     * written when the scene finishes: io_finish fills the dispatch routines from them) */
    uint64_t ldr = ldr_find(k, image_base);
    const char *T = ldr_type(L);
    w_try(w, d, "_DRIVER_OBJECT", "DriverSection", ldr);
    w_set(w, d, "_DRIVER_OBJECT", "DriverSize",
          ldr ? w_field(w, ldr, T, "SizeOfImage") : pe_size(w, image_base));
    uint64_t init = ldr ? w_field(w, ldr, T, "EntryPoint") : pe_entry(w, image_base);
    if (image_base == k->base)
        init = 0; /* the PnP manager's driver lives in nt: no DriverInit */
    w_set(w, d, "_DRIVER_OBJECT", "DriverInit", init);
    uint64_t inval = k_nt_func(k, "IopInvalidDeviceRequest");
    uint64_t mj = d + lay_off_req(L, "_DRIVER_OBJECT", "MajorFunction");
    for (unsigned i = 0; i < 28; i++)
        w_pointer(w, mj + (uint64_t)i * P, inval);
    w_set(w, ext, "_DRIVER_EXTENSION", "DriverObject", d);
    w_try(w, ext, "_DRIVER_EXTENSION", "Count", 1);
    int64_t sk = lay_off(L, "_DRIVER_EXTENSION", "ServiceKeyName");
    if (sk >= 0)
        w_ustr(w, ext + (uint64_t)sk, leaf);
    io_drv *r = &S.drv[S.ndrv++];
    r->addr = d;
    r->base = image_base;
    snprintf(r->name, sizeof r->name, "%s", name);
    return d;
}

uint64_t io_device(kern *k, uint64_t driver, uint64_t lower, uint64_t ext_size, const char *name,
                   uint32_t device_type)
{
    io_state(k);
    world *w = k->w;
    const lay *L = k->L;
    io_drv *dr = drv_find(driver);
    if (!dr)
        sc_die("io_device: %#llx is not a driver made by io_driver", (unsigned long long)driver);
    unsigned P = w_ptr(w);
    uint64_t align = P == 8 ? 16 : 8;
    uint64_t dsz = lay_size(L, "_DEVICE_OBJECT");
    uint64_t ext = (ext_size + align - 1) / align * align;
    uint64_t xsz = lay_size(L, "_DEVOBJ_EXTENSION");
    char leaf[96];
    uint64_t dir = 0;
    const char *oname = NULL;
    if (name) {
        if (name[0] == '\\') {
            dir = ob_path(k, name, leaf, sizeof leaf);
        } else {
            dir = ob_dir(k, ob_root(k), "Device");
            snprintf(leaf, sizeof leaf, "%s", name);
        }
        oname = leaf;
    }
    uint64_t d = ob_create(k, "Device", oname, dir, dsz + ext + xsz);
    uint64_t devext = ext_size ? d + dsz : 0;
    uint64_t dx = d + dsz + ext;
    w_set(w, d, "_DEVICE_OBJECT", "Type", 3);
    w_set(w, d, "_DEVICE_OBJECT", "Size", dsz + ext_size);
    w_set(w, d, "_DEVICE_OBJECT", "ReferenceCount", 0);
    w_set(w, d, "_DEVICE_OBJECT", "DriverObject", driver);
    w_set(w, d, "_DEVICE_OBJECT", "NextDevice", w_field(w, driver, "_DRIVER_OBJECT", "DeviceObject"));
    w_set(w, driver, "_DRIVER_OBJECT", "DeviceObject", d);
    /* DO_POWER_PAGABLE, DO_DEVICE_HAS_NAME for named devices */
    w_set(w, d, "_DEVICE_OBJECT", "Flags", 0x2000u | (name ? 0x40u : 0));
    w_set(w, d, "_DEVICE_OBJECT", "Characteristics", 0x100); /* FILE_DEVICE_SECURE_OPEN */
    w_set(w, d, "_DEVICE_OBJECT", "DeviceExtension", devext);
    w_set(w, d, "_DEVICE_OBJECT", "DeviceType", device_type);
    w_set(w, d, "_DEVICE_OBJECT", "DeviceObjectExtension", dx);
    int64_t dl = lay_off(L, "_DEVICE_OBJECT", "DeviceLock");
    if (dl >= 0) {
        w_set(w, d + (uint64_t)dl, "_DISPATCHER_HEADER", "Type", 1); /* SynchronizationEvent */
        w_try(w, d + (uint64_t)dl, "_DISPATCHER_HEADER", "Size", lay_size(L, "_KEVENT") / 4);
        w_set(w, d + (uint64_t)dl, "_DISPATCHER_HEADER", "SignalState", 1);
        w_list_init(w, d + (uint64_t)dl + lay_off_req(L, "_DISPATCHER_HEADER", "WaitListHead"));
    }
    w_set(w, dx, "_DEVOBJ_EXTENSION", "Type", 13);
    w_set(w, dx, "_DEVOBJ_EXTENSION", "Size", xsz);
    w_set(w, dx, "_DEVOBJ_EXTENSION", "DeviceObject", d);
    uint64_t top = 0;
    unsigned stack = 1;
    if (lower) {
        top = lower;
        for (unsigned i = 0; i < 64; i++) {
            uint64_t up = w_field(w, top, "_DEVICE_OBJECT", "AttachedDevice");
            if (!up)
                break;
            top = up;
        }
        w_set(w, top, "_DEVICE_OBJECT", "AttachedDevice", d);
        w_set(w, dx, "_DEVOBJ_EXTENSION", "AttachedTo", top);
        stack = (unsigned)(w_field(w, top, "_DEVICE_OBJECT", "StackSize") & 0xff) + 1;
    }
    w_set(w, d, "_DEVICE_OBJECT", "StackSize", stack);
    dr->ndev++;
    mf("device 0x%llx 0x%llx 0x%llx 0x%llx %s", (unsigned long long)d, (unsigned long long)driver,
       (unsigned long long)top, (unsigned long long)devext, name ? oname : "-");
    return d;
}

static uint64_t node_new(kern *k, uint64_t parent, uint64_t pdo, const char *instance,
                         const char *service, unsigned state)
{
    world *w = k->w;
    const lay *L = k->L;
    uint64_t n = w_alloc(w, lay_size(L, "_DEVICE_NODE"), 0);
    w_set(w, n, "_DEVICE_NODE", "Parent", parent);
    if (parent) {
        uint64_t last = w_field(w, parent, "_DEVICE_NODE", "LastChild");
        if (last)
            w_set(w, last, "_DEVICE_NODE", "Sibling", n);
        else
            w_set(w, parent, "_DEVICE_NODE", "Child", n);
        w_try(w, parent, "_DEVICE_NODE", "LastChild", n);
        w_try(w, n, "_DEVICE_NODE", "Level", w_field(w, parent, "_DEVICE_NODE", "Level") + 1);
    }
    w_set(w, n, "_DEVICE_NODE", "PhysicalDeviceObject", pdo);
    w_ustr(w, n + lay_off_req(L, "_DEVICE_NODE", "InstancePath"), instance);
    int64_t sn = lay_off(L, "_DEVICE_NODE", "ServiceName");
    if (sn >= 0 && service)
        w_ustr(w, n + (uint64_t)sn, service);
    w_set(w, n, "_DEVICE_NODE", "State", state);
    w_try(w, n, "_DEVICE_NODE", "PreviousState", state > 0x301 ? state - 1 : state);
    if (pdo) {
        uint64_t dx = w_field(w, pdo, "_DEVICE_OBJECT", "DeviceObjectExtension");
        w_set(w, dx, "_DEVOBJ_EXTENSION", "DeviceNode", n);
    }
    mf("devnode 0x%llx 0x%llx %s 0x%x", (unsigned long long)n, (unsigned long long)pdo, instance, state);
    return n;
}

/* The leaf of a driver's name: "\Driver\usbhub" -> "usbhub". */
static const char *drv_leaf(const io_drv *d)
{
    const char *s = strrchr(d->name, '\\');
    return s ? s + 1 : d->name;
}

static uint64_t root_node(kern *k)
{
    if (S.rootnode)
        return S.rootnode;
    /* the root: \Driver\PnpManager's unnamed device, instance HTREE\ROOT\0, started */
    uint64_t drv = io_driver(k, "\\Driver\\PnpManager", k->base, "ntoskrnl.exe");
    uint64_t pdo = io_device(k, drv, 0, 0, NULL, 0x4 /* FILE_DEVICE_CONTROLLER */);
    S.rootnode = node_new(k, 0, pdo, "HTREE\\ROOT\\0", NULL, 0x308);
    uint64_t g = k_sym_opt(k, "IopRootDeviceNode");
    if (g != SC_NONE) {
        w_pointer(k->w, g, S.rootnode);
    }
    return S.rootnode;
}

uint64_t io_devnode(kern *k, uint64_t parent, uint64_t pdo, const char *instance, unsigned state)
{
    io_state(k);
    if (!parent)
        parent = root_node(k);
    /* the service: the driver of the device right above the PDO (the function driver in a
     * stack without lower filters), else the PDO's own driver */
    const char *service = NULL;
    if (pdo) {
        uint64_t fdo = w_field(k->w, pdo, "_DEVICE_OBJECT", "AttachedDevice");
        uint64_t drv = w_field(k->w, fdo ? fdo : pdo, "_DEVICE_OBJECT", "DriverObject");
        io_drv *d = drv_find(drv);
        if (d)
            service = drv_leaf(d);
    }
    return node_new(k, parent, pdo, instance, service, state);
}

uint64_t io_irp(kern *k, uint64_t thread, uint64_t top, unsigned nstack, unsigned cur,
                const uint8_t *majors, const uint8_t *minors)
{
    io_state(k);
    world *w = k->w;
    const lay *L = k->L;
    if (nstack < 1 || nstack > 64 || cur < 1 || cur > nstack + 1)
        sc_die("io_irp: bad stack count %u / current location %u", nstack, cur);
    if (S.nirp >= IO_MAXIRP)
        sc_die("io: too many IRPs");
    uint64_t isz = lay_size(L, "_IRP"), ssz = lay_size(L, "_IO_STACK_LOCATION");
    uint64_t irp = w_alloc(w, isz + nstack * ssz, 0);
    uint64_t loc0 = irp + isz;
    w_set(w, irp, "_IRP", "Type", 6);
    w_set(w, irp, "_IRP", "Size", isz + nstack * ssz);
    w_set(w, irp, "_IRP", "StackCount", nstack);
    w_set(w, irp, "_IRP", "CurrentLocation", cur);
    w_set(w, irp, "_IRP", "Flags", 0);
    w_set(w, irp, "_IRP", "Tail.Overlay.CurrentStackLocation", loc0 + (uint64_t)(cur - 1) * ssz);
    w_set(w, irp, "_IRP", "Tail.Overlay.Thread", thread);
    uint64_t tle = irp + lay_off_req(L, "_IRP", "ThreadListEntry");
    if (thread) {
        uint64_t head = thread + lay_off_req(L, "_ETHREAD", "IrpList");
        if (!w_get(w, head, w_ptr(w)))
            w_list_init(w, head);
        w_list_tail(w, head, tle);
    } else {
        w_list_init(w, tle);
    }
    for (unsigned idx = nstack; idx >= 1; idx--) {
        uint64_t loc = loc0 + (uint64_t)(idx - 1) * ssz;
        uint8_t mj = majors ? majors[idx - 1] : 0, mn = minors ? minors[idx - 1] : 0;
        w_set(w, loc, "_IO_STACK_LOCATION", "MajorFunction", mj);
        w_set(w, loc, "_IO_STACK_LOCATION", "MinorFunction", mn);
        if (idx == cur)
            w_set(w, loc, "_IO_STACK_LOCATION", "DeviceObject", top);
        if (mj == 0x16 && (mn == 2 || mn == 3)) {
            /* IRP_MJ_POWER SET_POWER / QUERY_POWER: a device power IRP to D3 for sleep */
            w_try(w, loc, "_IO_STACK_LOCATION", "Parameters.Power.Type", 1); /* DevicePowerState */
            w_try(w, loc, "_IO_STACK_LOCATION", "Parameters.Power.State", 4); /* PowerDeviceD3 */
            w_try(w, loc, "_IO_STACK_LOCATION", "Parameters.Power.ShutdownType", 2); /* Sleep */
        }
    }
    S.irp[S.nirp++] = irp;
    return irp;
}

void io_irp_stack(kern *k, uint64_t irp, unsigned index, uint64_t device, uint64_t completion,
                  uint8_t control)
{
    io_state(k);
    world *w = k->w;
    const lay *L = k->L;
    uint64_t n = w_field(w, irp, "_IRP", "StackCount") & 0xff;
    if (index < 1 || index > n)
        sc_die("io_irp_stack: location %u of an IRP with %llu", index, (unsigned long long)n);
    uint64_t loc = irp + lay_size(L, "_IRP") + (index - 1) * lay_size(L, "_IO_STACK_LOCATION");
    w_set(w, loc, "_IO_STACK_LOCATION", "DeviceObject", device);
    w_set(w, loc, "_IO_STACK_LOCATION", "CompletionRoutine", completion);
    w_set(w, loc, "_IO_STACK_LOCATION", "Control", control);
}

void io_finish(kern *k)
{
    if (S.k != k)
        return;
    world *w = k->w;
    const lay *L = k->L;
    unsigned P = w_ptr(w);
    static pe_exp exps[512];
    for (unsigned i = 0; i < S.ndrv; i++) {
        /* the driver's own routines, now that its image (exports) is written */
        uint64_t d = S.drv[i].addr, base = S.drv[i].base;
        if (!base || base == k->base)
            continue;
        uint64_t mj = d + lay_off_req(L, "_DRIVER_OBJECT", "MajorFunction");
        size_t ne = pe_export_list(w, base, exps, sizeof exps / sizeof exps[0]);
        for (unsigned m = 0; m < 28; m++) {
            uint64_t f = major_routine(exps, ne, major_names[m]);
            if (f)
                w_pointer(w, mj + (uint64_t)m * P, f);
        }
        uint64_t f = pe_export(w, base, "DriverEntry");
        if (f)
            w_set(w, d, "_DRIVER_OBJECT", "DriverInit", f);
        f = pe_export(w, base, "DriverUnload");
        if (f)
            w_set(w, d, "_DRIVER_OBJECT", "DriverUnload", f);
        f = pe_export(w, base, "StartIo");
        if (f)
            w_try(w, d, "_DRIVER_OBJECT", "DriverStartIo", f);
        f = pe_export(w, base, "AddDevice");
        uint64_t ext = w_field(w, d, "_DRIVER_OBJECT", "DriverExtension");
        if (f && ext)
            w_try(w, ext, "_DRIVER_EXTENSION", "AddDevice", f);
    }
    for (unsigned i = 0; i < S.ndrv; i++)
        mf("driver 0x%llx %s 0x%llx 0x%x", (unsigned long long)S.drv[i].addr, S.drv[i].name,
           (unsigned long long)S.drv[i].base, S.drv[i].ndev);
    uint64_t isz = lay_size(L, "_IRP"), ssz = lay_size(L, "_IO_STACK_LOCATION");
    for (unsigned i = 0; i < S.nirp; i++) {
        uint64_t irp = S.irp[i];
        unsigned n = (unsigned)(w_field(w, irp, "_IRP", "StackCount") & 0xff);
        unsigned cur = (unsigned)(w_field(w, irp, "_IRP", "CurrentLocation") & 0xff);
        uint64_t mj = 0, mn = 0, dev = 0;
        if (cur >= 1 && cur <= n) {
            uint64_t loc = irp + isz + (uint64_t)(cur - 1) * ssz;
            mj = w_field(w, loc, "_IO_STACK_LOCATION", "MajorFunction");
            mn = w_field(w, loc, "_IO_STACK_LOCATION", "MinorFunction");
            dev = w_field(w, loc, "_IO_STACK_LOCATION", "DeviceObject");
        }
        mf("irp 0x%llx 0x%llx 0x%x 0x%x 0x%llx 0x%llx 0x%llx", (unsigned long long)irp,
           (unsigned long long)w_field(w, irp, "_IRP", "Tail.Overlay.Thread"), cur, n,
           (unsigned long long)mj, (unsigned long long)mn, (unsigned long long)dev);
        for (unsigned j = 0; j < n; j++) {
            uint64_t loc = irp + isz + (uint64_t)j * ssz;
            mf("irpstack 0x%llx 0x%x 0x%llx 0x%llx 0x%llx 0x%llx 0x%llx", (unsigned long long)irp, j + 1,
               (unsigned long long)w_field(w, loc, "_IO_STACK_LOCATION", "MajorFunction"),
               (unsigned long long)w_field(w, loc, "_IO_STACK_LOCATION", "MinorFunction"),
               (unsigned long long)w_field(w, loc, "_IO_STACK_LOCATION", "DeviceObject"),
               (unsigned long long)w_field(w, loc, "_IO_STACK_LOCATION", "CompletionRoutine"),
               (unsigned long long)w_field(w, loc, "_IO_STACK_LOCATION", "Control"));
        }
    }
}
