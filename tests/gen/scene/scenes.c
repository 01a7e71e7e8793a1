/* scenes.c: the kernel scenes of ntkd-genscene (see scene.h), composed from the k_ / ob_ / io_ /
 * ex_ builders, and the hostile variants that break some of their structures on purpose.
 *
 * Each scene reproduces a case of the seeds:
 *   9f        bugcheck 0x9F/3 (seed 000): a power IRP pending in a USB network miniport
 *             (ZTEusbnet over usbccgp's PDO), the PnP worker thread that owns the PnP engine
 *             and device-tree resources waiting in the miniport's PnP handler.
 *   133       bugcheck 0x133/1 (seeds 000, 003): netwlan!WlanDpcRoutine running on cpu 0,
 *             DPCs queued on every processor.
 *   deadlock  seed 003: a worker thread owns an ERESOURCE exclusively through an owner pointer
 *             (ExSetResourceOwnerPointer: an address in its own kernel stack with the two low
 *             bits set) and waits for it shared, with fifteen other shared waiters (sixteen).
 *   objects   seed 001: object types with objects on their type lists, directories
 *             (\Driver, \Device, \ObjectTypes, \GLOBAL??, \BaseNamedObjects), symbolic links.
 *   basic     System and a few processes and threads, drivers, devices, device nodes, an IRP,
 *             a driver-held IRP on no thread's list, a resource, DPCs and a timer; --procs N
 *             adds N processes.
 * Hostile variants (applied after the scene): cycle (the process list loops back without its
 * head, a thread's and a resource's list entries and an IRP's ThreadListEntry point at
 * themselves, a driver's device list loops), missing (a process link, a device extension, a
 * resource's owner table and a thread's IRP list point into a page left out of the dump; the top
 * page of a worker's kernel stack is left out), badtype (object headers whose TypeIndex decodes
 * to no type, or on XP whose Type points nowhere), all (every one; the process list then gets
 * the cycle only).
 * The scene-specific manifest lines written here:
 *   blocked_irp <irp> <driver object name>      long_dpc <cpu> <routine> <module file name>
 *   deadlock <thread> <resource>                 hostile <what> <address>
 */
#include "scene.h"

#include <stdio.h>
#include <string.h>

#define MAXF 24   /* frames per stack */
#define MAXT 64   /* remembered threads */

/* What a scene built that the hostile variants may break. */
typedef struct scn {
    kern *k;
    world *w;
    const lay *L;
    const sc_opts *o;
    uint64_t procs[16];
    size_t nprocs;
    uint64_t threads[MAXT];
    size_t nthreads;
    uint64_t irps[8];
    size_t nirps;
    uint64_t resources[8];
    size_t nres;
    uint64_t devices[16];
    size_t ndev;
    uint64_t objects[16];
    size_t nobj;
    uint32_t next_tid;
} scn;

typedef struct stk {
    uint64_t r[MAXF];
    size_t n;
} stk;

/* ------------------------------------------------------------------ helpers */

/* The VA of the first nt function of `names` ("A|B|C") the table has (given code and unwind
 * data by k_nt_func); 0 when the build has none of them. */
static uint64_t ntf(scn *s, const char *names)
{
    const char *p = names;
    while (*p) {
        const char *e = strchr(p, '|');
        size_t n = e ? (size_t)(e - p) : strlen(p);
        char name[128];
        if (n >= sizeof name)
            sc_die("scenes: function name too long in %s", names);
        memcpy(name, p, n);
        name[n] = 0;
        if (n && k_sym_opt(s->k, name) != SC_NONE)
            return k_nt_func(s->k, name);
        p += n + (e ? 1 : 0);
    }
    return 0;
}

/* Pushes a return address into fn (skipped when the build lacks the function). */
static void push(scn *s, stk *st, uint64_t fn, unsigned off)
{
    if (!fn)
        return;
    if (st->n >= MAXF)
        sc_die("scenes: stack of more than %d frames", MAXF);
    st->r[st->n++] = k_ret(s->k, fn, off);
}

static void push_nt(scn *s, stk *st, const char *names, unsigned off)
{
    push(s, st, ntf(s, names), off);
}

/* The frames every system thread ends with. */
static void push_system_start(scn *s, stk *st)
{
    push_nt(s, st, "ExpWorkerThread", 0x111);
    push_nt(s, st, "PspSystemThreadStartup", 0x4a);
    push_nt(s, st, "KiStartSystemThread|KiThreadStartup", 0x16);
}

/* The frames of a wait (innermost first). */
static void push_wait(scn *s, stk *st)
{
    push_nt(s, st, "KiSwapContext", 0x3a);
    push_nt(s, st, "KiCommitThreadWait", 0x1d2);
    push_nt(s, st, "KeWaitForSingleObject", 0x19f);
}

static unsigned enum_or(const lay *L, const char *en, const char *member, unsigned dflt)
{
    int64_t v;
    if (lay_enum(L, en, member, &v))
        return (unsigned)v;
    return dflt;
}

static unsigned wr(const scn *s, const char *member, unsigned dflt)
{
    return enum_or(s->L, "_KWAIT_REASON", member, dflt);
}

#define ST_READY 1u
#define ST_RUNNING 2u
#define ST_WAITING 5u

static uint64_t thread(scn *s, uint64_t proc, unsigned state, unsigned why, const stk *st)
{
    uint32_t tid = s->next_tid;
    s->next_tid += 4;
    uint64_t t = k_thread(s->k, proc, tid, state, why, st->r, st->n);
    if (s->nthreads < MAXT)
        s->threads[s->nthreads++] = t;
    return t;
}

static uint64_t process(scn *s, const char *name, uint32_t pid, uint64_t parent)
{
    uint64_t p = k_process(s->k, name, pid, parent);
    if (s->nprocs < sizeof s->procs / sizeof s->procs[0])
        s->procs[s->nprocs++] = p;
    return p;
}

static uint64_t device(scn *s, uint64_t drv, uint64_t lower, uint64_t ext, const char *name,
                       uint32_t type)
{
    uint64_t d = io_device(s->k, drv, lower, ext, name, type);
    if (s->ndev < sizeof s->devices / sizeof s->devices[0])
        s->devices[s->ndev++] = d;
    return d;
}

static uint64_t resource(scn *s)
{
    uint64_t r = ex_resource(s->k);
    if (s->nres < sizeof s->resources / sizeof s->resources[0])
        s->resources[s->nres++] = r;
    return r;
}

/* An ERESOURCE at the nt global `name` when the build has it, else a pool one. */
static uint64_t resource_global(scn *s, const char *name)
{
    uint64_t va = k_sym_opt(s->k, name);
    if (va == SC_NONE)
        return resource(s);
    uint64_t r = ex_resource_at(s->k, va);
    if (s->nres < sizeof s->resources / sizeof s->resources[0])
        s->resources[s->nres++] = r;
    return r;
}

static uint64_t irp(scn *s, uint64_t th, uint64_t top, unsigned nstack, unsigned cur,
                    uint8_t major, uint8_t minor)
{
    uint8_t ma[16], mi[16];
    if (nstack > 16)
        sc_die("scenes: IRP of %u locations", nstack);
    memset(ma, major, sizeof ma);
    memset(mi, minor, sizeof mi);
    uint64_t i = io_irp(s->k, th, top, nstack, cur, ma, mi);
    if (s->nirps < sizeof s->irps / sizeof s->irps[0])
        s->irps[s->nirps++] = i;
    return i;
}

static uint64_t object(scn *s, const char *type, const char *name, uint64_t dir, uint64_t size)
{
    uint64_t b = ob_create(s->k, type, name, dir, size);
    if (s->nobj < sizeof s->objects / sizeof s->objects[0])
        s->objects[s->nobj++] = b;
    return b;
}

/* An address inside the thread's kernel stack, a third of the way down from its base. */
static uint64_t stack_addr(scn *s, uint64_t th)
{
    uint64_t base = 0, limit = 0;
    k_thread_stack(s->k, th, &base, &limit);
    if (base <= limit)
        sc_die("scenes: thread %#llx has an empty stack", (unsigned long long)th);
    return base - (base - limit) / 3;
}

/* A KDPC not on any queue (a timer's DPC). */
static uint64_t lone_dpc(scn *s, uint64_t routine, uint64_t ctx)
{
    uint64_t d = w_alloc(s->w, lay_size(s->L, "_KDPC"), 0);
    w_set(s->w, d, "_KDPC", "Type", 0x13); /* DpcObject */
    w_try(s->w, d, "_KDPC", "Importance", 1);
    w_set(s->w, d, "_KDPC", "DeferredRoutine", routine);
    w_set(s->w, d, "_KDPC", "DeferredContext", ctx);
    return d;
}

static uint64_t system_process(scn *s)
{
    if (!s->k->system_process)
        s->k->system_process = k_process(s->k, "System", 4, 0);
    return s->k->system_process;
}

/* A System worker thread waiting for work (WrQueue). */
static uint64_t idle_worker(scn *s)
{
    stk st = {0};
    push_nt(s, &st, "KiSwapContext", 0x3a);
    push_nt(s, &st, "KiCommitThreadWait", 0x1d2);
    push_nt(s, &st, "KeRemoveQueueEx|KeRemoveQueue", 0x1a0);
    push_system_start(s, &st);
    return thread(s, system_process(s), ST_WAITING, wr(s, "WrQueue", 15), &st);
}

/* A user process with one thread waiting in NtWaitForSingleObject, and its TEB. */
static uint64_t user_process(scn *s, const char *name, uint32_t pid, uint64_t parent,
                             unsigned nthreads)
{
    uint64_t p = process(s, name, pid, parent);
    for (unsigned i = 0; i < nthreads; i++) {
        stk st = {0};
        push_wait(s, &st);
        push_nt(s, &st, "NtWaitForSingleObject", 0x6a);
        push_nt(s, &st, "KiSystemServiceCopyEnd|KiFastCallEntry", 0xb);
        uint64_t t = thread(s, p, ST_WAITING, wr(s, "UserRequest", 6), &st);
        k_teb(s->k, t, i == 0 ? 2 /* ERROR_FILE_NOT_FOUND */ : 0, i == 0 ? 0xC0000034u : 0);
    }
    return p;
}

/* A driver image with its routines and driver object. */
static uint64_t driver(scn *s, const char *file, const char *objname, const char *const *funcs,
                       size_t nfuncs)
{
    uint64_t base = k_driver_image(s->k, file, funcs, nfuncs);
    return io_driver(s->k, objname, base, file);
}

static unsigned started(const scn *s)
{
    return enum_or(s->L, "_PNP_DEVNODE_STATE", "DeviceNodeStarted", 0x308);
}

/* The common base of every scene: System with a few workers, the PCI bus and the root node. */
typedef struct basesys {
    uint64_t system, smss, csrss;
    uint64_t pci_drv, acpi_pdo, pci_fdo, pci_node;
} basesys;

static void base_system(scn *s, basesys *b)
{
    b->system = system_process(s);
    for (int i = 0; i < 3; i++)
        idle_worker(s);
    static const char *const acpi_f[] = {"ACPIDispatchIrp", "ACPIBuildDeviceExtension"};
    static const char *const pci_f[] = {"PciDispatchIrp", "PciBusEnumerate"};
    uint64_t acpi = driver(s, "ACPI.sys", "\\Driver\\ACPI", acpi_f, 2);
    b->pci_drv = driver(s, "pci.sys", "\\Driver\\pci", pci_f, 2);
    uint64_t acpi_pdo = device(s, acpi, 0, 0x100, "\\Device\\00000001", 0x32 /* ACPI */);
    b->pci_fdo = device(s, b->pci_drv, acpi_pdo, 0x200, NULL, 0x2a /* BUS_EXTENDER */);
    b->acpi_pdo = acpi_pdo;
    b->pci_node = io_devnode(s->k, 0, acpi_pdo, "ACPI\\PNP0A08\\0", started(s));
    b->smss = user_process(s, "smss.exe", 0x150, b->system, 1);
    b->csrss = user_process(s, "csrss.exe", 0x1c8, b->smss, 2);
}

/* ------------------------------------------------------------------ scene: basic */
static void scene_basic(scn *s, basesys *b)
{
    uint64_t wininit = user_process(s, "wininit.exe", 0x200, b->smss, 1);
    uint64_t services = user_process(s, "services.exe", 0x248, wininit, 2);
    user_process(s, "lsass.exe", 0x25c, wininit, 2);
    uint64_t svchost = user_process(s, "svchost.exe", 0x2f0, services, 3);
    uint64_t explorer = user_process(s, "explorer.exe", 0x5a4, 0, 3);
    uint64_t notepad = user_process(s, "notepad.exe", 0x9e8, explorer, 1);
    (void)svchost;

    /* storage: disk over a storage-port PDO on PCI, a volume, a file system */
    static const char *const stor_f[] = {"StorPortDispatch", "RaidUnitStartIo"};
    static const char *const disk_f[] = {"DiskReadWrite", "ClassDispatch"};
    static const char *const ntfs_f[] = {"NtfsFsdRead", "NtfsFsdCreate", "NtfsCommonRead"};
    uint64_t stor = driver(s, "storahci.sys", "\\Driver\\storahci", stor_f, 2);
    uint64_t disk = driver(s, "disk.sys", "\\Driver\\disk", disk_f, 2);
    uint64_t ntfs = driver(s, "Ntfs.sys", "\\FileSystem\\Ntfs", ntfs_f, 3);
    uint64_t sata_pdo = device(s, b->pci_drv, 0, 0x100, "\\Device\\NTPNP_PCI0005", 0x22);
    uint64_t ctl = device(s, stor, sata_pdo, 0x300, "\\Device\\RaidPort0", 0x4);
    uint64_t lun = device(s, stor, 0, 0x180, "\\Device\\00000021", 0x7 /* DISK */);
    uint64_t dr0 = device(s, disk, lun, 0x400, "\\Device\\Harddisk0\\DR0", 0x7);
    uint64_t vol = device(s, ntfs, 0, 0x1000, NULL, 0x8 /* DISK_FILE_SYSTEM */);
    (void)ctl;
    uint64_t n1 = io_devnode(s->k, b->pci_node, sata_pdo,
                             "PCI\\VEN_8086&DEV_A102\\3&11583659&0&B8", started(s));
    io_devnode(s->k, n1, lun, "SCSI\\Disk&Ven_Samsung&Prod_SSD_860\\4&2c1a5c1b&0&000000",
               started(s));
    (void)vol;

    /* a read pending in the disk stack, issued by notepad's thread */
    uint64_t nt_thread = 0;
    {
        stk st = {0};
        push_wait(s, &st);
        push_nt(s, &st, "IopSynchronousServiceTail", 0x132);
        push_nt(s, &st, "NtReadFile", 0xd9);
        push_nt(s, &st, "KiSystemServiceCopyEnd|KiFastCallEntry", 0xb);
        nt_thread = thread(s, notepad, ST_WAITING, wr(s, "Executive", 0), &st);
        k_teb(s->k, nt_thread, 0x3e5 /* ERROR_IO_PENDING */, 0x103 /* STATUS_PENDING */);
    }
    /* disk passed it down (its completion routine in its location); the port driver's PDO
     * holds it pending */
    uint64_t rd = irp(s, nt_thread, dr0, 2, 1, 0x03 /* IRP_MJ_READ */, 0);
    io_irp_stack(s->k, rd, 2, dr0, k_func(s->k, "disk.sys", "ClassDispatch"), 0xe0);
    io_irp_stack(s->k, rd, 1, lun, 0, 0x01 /* SL_PENDING_RETURNED */);
    /* a driver-held IRP on no thread's IRP list (thread 0): a device-control request the port
     * driver queued in its adapter's device extension (found only by a pool scan) */
    uint64_t held = irp(s, 0, ctl, 1, 1, 0x0e /* IRP_MJ_DEVICE_CONTROL */, 0);
    w_pointer(s->w, w_field(s->w, ctl, "_DEVICE_OBJECT", "DeviceExtension") + 0x40, held);

    /* a resource owned shared by a System worker, with one exclusive waiter */
    uint64_t r = resource(s);
    uint64_t owner = idle_worker(s);
    ex_resource_own(s->k, r, owner, false);
    {
        stk st = {0};
        push_wait(s, &st);
        push_nt(s, &st, "ExpWaitForResource", 0xae);
        push_nt(s, &st, "ExAcquireResourceExclusiveLite", 0x62);
        push(s, &st, k_func(s->k, "Ntfs.sys", "NtfsCommonRead"), 0x2b8);
        push_system_start(s, &st);
        uint64_t waiter = thread(s, b->system, ST_WAITING, wr(s, "WrResource", 0), &st);
        ex_resource_wait(s->k, r, waiter, true);
    }

    /* DPCs and a timer */
    uint64_t dpcr = ntf(s, "IopTimerDispatch|ExpTimerDpcRoutine");
    for (unsigned c = 0; c < s->k->ncpu && c < 4; c++)
        ex_dpc(s->k, c, dpcr, 0);
    uint64_t tdpc = lone_dpc(s, ntf(s, "CcScanDpc|ExpTimerDpcRoutine|IopTimerDispatch"), 0);
    ex_timer(s->k, 0x01d8f2a3c4b5e600ull, tdpc);
    ex_timer(s->k, 0x01d8f2a3c4c00000ull, 0);

    /* a few named objects */
    uint64_t bno = ob_dir(s->k, ob_root(s->k), "BaseNamedObjects");
    object(s, "Event", "ShellReadyEvent", bno, lay_size(s->L, "_KEVENT"));
    object(s, "Mutant", "SessionMutex", bno, lay_size(s->L, "_KMUTANT"));

    k_bugcheck(s->k, 0xE2 /* MANUALLY_INITIATED_CRASH */, 0, 0, 0, 0);
}

/* ------------------------------------------------------------------ scene: 9f */
static void scene_9f(scn *s, basesys *b)
{
    static const char *const hub_f[] = {"UsbhFdoPnp", "UsbhPdoPnp", "UsbhFdoPower"};
    static const char *const ccgp_f[] = {"USBC_Dispatch", "USBC_PdoPower", "USBC_FdoPnp"};
    static const char *const zte_f[] = {"MiniportInitializeEx", "MiniportDevicePnPEventNotify",
                                        "MiniportSetPower", "UsbNetWaitForPendingIo"};
    static const char *const ndis_f[] = {"ndisPnPDispatch", "NdisFDevicePnPEventNotify",
                                         "ndisSetPower", "ndisPowerDispatch", "ndisMTimerObjectDpc"};
    static const char *const usbport_f[] = {"USBPORT_Dispatch", "USBPORT_PdoPnp"};
    uint64_t usbport = driver(s, "USBPORT.SYS", "\\Driver\\usbehci", usbport_f, 2);
    uint64_t usbhub = driver(s, "usbhub.sys", "\\Driver\\usbhub", hub_f, 3);
    uint64_t ccgp = driver(s, "usbccgp.sys", "\\Driver\\usbccgp", ccgp_f, 3);
    uint64_t zte = driver(s, "ZTEusbnet.sys", "\\Driver\\ZTEusbnet", zte_f, 4);
    k_driver_image(s->k, "ndis.sys", ndis_f, 5);

    /* host controller on PCI, root hub, the composite device, the network interface */
    uint64_t hc_pdo = device(s, b->pci_drv, 0, 0x100, "\\Device\\NTPNP_PCI0009", 0x22);
    uint64_t hc_fdo = device(s, usbport, hc_pdo, 0x1000, "\\Device\\USBFDO-0", 0x22);
    (void)hc_fdo;
    uint64_t root_pdo = device(s, usbport, 0, 0x800, "\\Device\\USBPDO-0", 0x22);
    uint64_t hub_fdo = device(s, usbhub, root_pdo, 0x1400, NULL, 0x22);
    uint64_t comp_pdo = device(s, usbhub, 0, 0x600, "\\Device\\USBPDO-5", 0x22);
    uint64_t ccgp_fdo = device(s, ccgp, comp_pdo, 0x150, NULL, 0x22);
    uint64_t if_pdo = device(s, ccgp, 0, 0x150, "\\Device\\000000a8", 0x22);
    uint64_t zte_fdo = device(s, zte, if_pdo, 0x2000, "\\Device\\NDMP14", 0x17 /* NETCARD */);
    (void)hub_fdo;
    (void)ccgp_fdo;
    unsigned st_started = started(s);
    uint64_t n_hc = io_devnode(s->k, b->pci_node, hc_pdo,
                               "PCI\\VEN_8086&DEV_1E2D&SUBSYS_05351028\\3&11583659&0&D0", st_started);
    uint64_t n_root = io_devnode(s->k, n_hc, root_pdo, "USB\\ROOT_HUB20\\4&2851d18b&0", st_started);
    uint64_t n_comp = io_devnode(s->k, n_root, comp_pdo, "USB\\VID_19D2&PID_0063\\5&1a2b3c4d&0&2",
                                 st_started);
    io_devnode(s->k, n_comp, if_pdo, "USB\\VID_19D2&PID_0063&MI_04\\6&200b5242&0&0004",
               st_started);

    /* the PnP worker: owns the PnP engine lock exclusively and the device-tree lock shared,
     * waits in the miniport's PnP event handler for I/O that never drains */
    stk st = {0};
    push_wait(s, &st);
    push(s, &st, k_func(s->k, "ZTEusbnet.sys", "UsbNetWaitForPendingIo"), 0x35);
    push(s, &st, k_func(s->k, "ZTEusbnet.sys", "MiniportDevicePnPEventNotify"), 0x27);
    push(s, &st, k_func(s->k, "ndis.sys", "NdisFDevicePnPEventNotify"), 0x89);
    push(s, &st, k_func(s->k, "ndis.sys", "ndisPnPDispatch"), 0x243);
    push_nt(s, &st, "IopSynchronousCall", 0xc5);
    push_nt(s, &st, "IopRemoveDevice", 0xd1);
    push_nt(s, &st, "PnpSurpriseRemoveLockedDeviceNode", 0x128);
    push_nt(s, &st, "PnpProcessQueryRemoveAndEject|PpProcessQueryRemoveAndEject", 0x2cf);
    push_nt(s, &st, "PnpDeviceActionWorker|PipDeviceActionWorker", 0x4c);
    push_system_start(s, &st);
    uint64_t worker = thread(s, b->system, ST_WAITING, wr(s, "Executive", 0), &st);

    uint64_t engine = resource_global(s, "PiEngineLock");
    uint64_t tree = resource_global(s, "IopDeviceTreeLock");
    ex_resource_own(s->k, engine, worker, true);
    ex_resource_own(s->k, tree, worker, false);
    /* a second PnP worker queued behind the engine lock */
    {
        stk st2 = {0};
        push_wait(s, &st2);
        push_nt(s, &st2, "ExpWaitForResource", 0xae);
        push_nt(s, &st2, "ExAcquireResourceExclusiveLite", 0x62);
        push_nt(s, &st2, "PnpDeviceActionWorker|PipDeviceActionWorker", 0x3a);
        push_system_start(s, &st2);
        uint64_t w2 = thread(s, b->system, ST_WAITING, wr(s, "WrResource", 0), &st2);
        ex_resource_wait(s->k, engine, w2, true);
    }

    /* the surprise-removal IRP on the worker's IRP list, in the miniport's stack location */
    uint64_t pnp = irp(s, worker, zte_fdo, 2, 2, 0x1b /* IRP_MJ_PNP */, 0x17 /* SURPRISE_REMOVAL */);
    io_irp_stack(s->k, pnp, 2, zte_fdo, 0, 0);

    /* the power IRP (IRP_MJ_POWER / IRP_MN_SET_POWER) held pending by the miniport: three
     * locations, the top one the power manager's own (its completion routine), the miniport's
     * current, usbccgp's PDO never reached */
    uint64_t pwr = irp(s, 0, zte_fdo, 3, 2, 0x16, 0x02);
    /* on no thread's IRP list: the miniport keeps it in its device extension */
    w_pointer(s->w, w_field(s->w, zte_fdo, "_DEVICE_OBJECT", "DeviceExtension") + 0x80, pwr);
    io_irp_stack(s->k, pwr, 3, 0, ntf(s, "PopRequestCompletion|PopCompleteRequestIrp"), 0xe0);
    io_irp_stack(s->k, pwr, 2, zte_fdo, 0, 0x01 /* SL_PENDING_RETURNED */);
    mf("blocked_irp %#llx \\Driver\\ZTEusbnet", (unsigned long long)pwr);

    /* the crashing processor: the power IRP watchdog DPC bugchecks */
    stk cs = {0};
    push_nt(s, &cs, "PnpBugcheckPowerTimeout", 0x6a);
    push_nt(s, &cs, "PopIrpWatchdog|PopCheckIrpWatchdog|KiTimerListExpire", 0x1a);
    push_nt(s, &cs, "KiExecuteAllDpcs|KiTimerExpiration", 0xa8);
    push_nt(s, &cs, "KiRetireDpcList", 0xab);
    push_nt(s, &cs, "KiIdleLoop", 0x52);
    uint64_t crash = thread(s, b->system, ST_RUNNING, 0, &cs);
    k_run_on(s->k, crash, 0);

    /* P3: nt!_TRIAGE_9F_POWER on builds that have it, the FDO before */
    uint64_t p3 = zte_fdo;
    if (lay_has_type(s->L, "_TRIAGE_9F_POWER")) {
        p3 = w_alloc(s->w, lay_size(s->L, "_TRIAGE_9F_POWER"), 0);
        w_set(s->w, p3, "_TRIAGE_9F_POWER", "Signature", 0x8000);
        w_set(s->w, p3, "_TRIAGE_9F_POWER", "Revision", 1);
        uint64_t v;
        if ((v = k_sym_opt(s->k, "PopIrpList")) != SC_NONE)
            w_set(s->w, p3, "_TRIAGE_9F_POWER", "IrpList", v);
        if ((v = k_sym_opt(s->k, "PopIrpThreadList")) != SC_NONE)
            w_set(s->w, p3, "_TRIAGE_9F_POWER", "ThreadList", v);
    }
    k_bugcheck(s->k, 0x9F, 3, if_pdo, p3, pwr);
}

/* ------------------------------------------------------------------ scene: 133 */
static void scene_133(scn *s, basesys *b)
{
    static const char *const wlan_f[] = {"WlanDpcRoutine", "WlanInterruptRoutine",
                                         "WlanAcquireHwLock", "WlanMiniportSendNetBufferLists"};
    static const char *const ndis_f[] = {"ndisMTimerObjectDpc", "ndisInterruptDpc",
                                         "ndisMiniportDpc", "NdisMIndicateReceiveNetBufferLists"};
    static const char *const usbport_f[] = {"USBPORT_IsrDpc", "USBPORT_Dispatch"};
    uint64_t wlan = driver(s, "netwlan.sys", "\\Driver\\netwlan", wlan_f, 4);
    k_driver_image(s->k, "ndis.sys", ndis_f, 4);
    uint64_t usbport = driver(s, "USBPORT.SYS", "\\Driver\\usbehci", usbport_f, 2);
    uint64_t wlan_pdo = device(s, b->pci_drv, 0, 0x100, "\\Device\\NTPNP_PCI0012", 0x22);
    uint64_t wlan_fdo = device(s, wlan, wlan_pdo, 0x3000, "\\Device\\NDMP3", 0x17);
    io_devnode(s->k, b->pci_node, wlan_pdo,
               "PCI\\VEN_168C&DEV_0036&SUBSYS_217F103C\\4&3a2b1c0d&0&00E1", started(s));
    (void)usbport;

    uint64_t dpc_fn = k_func(s->k, "netwlan.sys", "WlanDpcRoutine");
    uint64_t devext = w_field(s->w, wlan_fdo, "_DEVICE_OBJECT", "DeviceExtension");

    /* cpu 0: the wireless driver's DPC spinning on its hardware lock */
    stk cs = {0};
    push_nt(s, &cs, "KeAccumulateTicks|KeUpdateRunTime", 0x1d);
    push_nt(s, &cs, "KeClockInterruptNotify|KeUpdateSystemTime", 0x95);
    push_nt(s, &cs, "KeAcquireSpinLockRaiseToDpc|KiDispatchInterrupt", 0x13);
    push(s, &cs, k_func(s->k, "netwlan.sys", "WlanAcquireHwLock"), 0x51);
    push(s, &cs, dpc_fn, 0x11d);
    push(s, &cs, k_func(s->k, "ndis.sys", "ndisInterruptDpc"), 0x1ce);
    push_nt(s, &cs, "KiExecuteAllDpcs", 0x170);
    push_nt(s, &cs, "KiRetireDpcList", 0xab);
    push_nt(s, &cs, "KiIdleLoop", 0x52);
    uint64_t spinner = thread(s, b->system, ST_RUNNING, 0, &cs);
    k_run_on(s->k, spinner, 0);
    ex_dpc(s->k, 0, dpc_fn, devext);
    w_try(s->w, s->k->prcb[0], "_KPRCB", "DpcRoutineActive", 1);
    w_try(s->w, s->k->prcb[0], "_KPRCB", "CurrentDpcRoutine", dpc_fn);
    mf("long_dpc 0 %#llx netwlan.sys", (unsigned long long)dpc_fn);

    /* the other processors' queues */
    uint64_t ndis_timer = k_func(s->k, "ndis.sys", "ndisMTimerObjectDpc");
    uint64_t ndis_mp = k_func(s->k, "ndis.sys", "ndisMiniportDpc");
    uint64_t usb_dpc = k_func(s->k, "USBPORT.SYS", "USBPORT_IsrDpc");
    uint64_t nt_a = ntf(s, "PpmPerfAction|IopTimerDispatch");
    uint64_t nt_b = ntf(s, "PopExecuteProcessorCallback|ExpTimerDpcRoutine");
    uint64_t nt_c = ntf(s, "KiDpcWatchdog|CcScanDpc");
    ex_dpc(s->k, 0, ndis_mp, devext);
    for (unsigned c = 1; c < s->k->ncpu; c++) {
        ex_dpc(s->k, c, ndis_timer, devext + 0x40 * c);
        if (nt_a)
            ex_dpc(s->k, c, nt_a, 0);
        if (c % 2 == 1 && nt_b)
            ex_dpc(s->k, c, nt_b, 0);
        if (c == s->k->ncpu - 1) {
            ex_dpc(s->k, c, usb_dpc, 0);
            if (nt_c)
                ex_dpc(s->k, c, nt_c, 0);
        }
    }
    /* the miniport's periodic timer */
    ex_timer(s->k, 0x01d8f2a3c4b5e600ull, lone_dpc(s, ndis_timer, devext));

    uint64_t p3 = 0;
    if (lay_has_type(s->L, "_DPC_WATCHDOG_GLOBAL_TRIAGE_BLOCK"))
        p3 = w_alloc(s->w, lay_size(s->L, "_DPC_WATCHDOG_GLOBAL_TRIAGE_BLOCK"), 0);
    k_bugcheck(s->k, 0x133, 1, 0x1e00, p3, 0);
}

/* ------------------------------------------------------------------ scene: deadlock */
static void scene_deadlock(scn *s, basesys *b)
{
    static const char *const sis_f[] = {"SipDereferenceCSFile", "SipDereferencePerLink",
                                        "SiFilterContextFreedCallback", "SipOpenCSFile"};
    static const char *const ntfs_f[] = {"NtfsCommonClose", "NtfsFspClose", "NtfsCommonCreate",
                                         "NtfsFsdCreate", "NtfsCommonRead"};
    static const char *const flt_f[] = {"FltpCreate", "FltpDispatch"};
    uint64_t sis = driver(s, "sis.sys", "\\FileSystem\\sis", sis_f, 4);
    uint64_t ntfs = driver(s, "Ntfs.sys", "\\FileSystem\\Ntfs", ntfs_f, 5);
    uint64_t flt = driver(s, "fltmgr.sys", "\\FileSystem\\FltMgr", flt_f, 2);
    uint64_t vol = device(s, ntfs, 0, 0x1000, NULL, 0x8);
    uint64_t fltdev = device(s, flt, vol, 0x80, NULL, 0x8);
    uint64_t sisdev = device(s, sis, fltdev, 0x80, NULL, 0x8);
    unsigned wres = wr(s, "WrResource", 0);

    /* the worker: took the resource, handed its ownership to a stack address with
     * ExSetResourceOwnerPointer, re-entered and now waits for it shared */
    stk st = {0};
    push_wait(s, &st);
    push_nt(s, &st, "ExpWaitForResource", 0xae);
    push_nt(s, &st, "ExAcquireSharedStarveExclusive", 0x9c);
    push(s, &st, k_func(s->k, "sis.sys", "SipDereferenceCSFile"), 0x40);
    push(s, &st, k_func(s->k, "sis.sys", "SipDereferencePerLink"), 0x62);
    push(s, &st, k_func(s->k, "sis.sys", "SiFilterContextFreedCallback"), 0xaf);
    push(s, &st, k_func(s->k, "Ntfs.sys", "NtfsCommonClose"), 0x153);
    push(s, &st, k_func(s->k, "Ntfs.sys", "NtfsFspClose"), 0x15f);
    push(s, &st, k_func(s->k, "Ntfs.sys", "NtfsCommonCreate"), 0x13f);
    push(s, &st, k_func(s->k, "Ntfs.sys", "NtfsFsdCreate"), 0x1b0);
    push(s, &st, k_func(s->k, "fltmgr.sys", "FltpCreate"), 0xa6);
    push(s, &st, k_func(s->k, "sis.sys", "SipOpenCSFile"), 0x21);
    push_system_start(s, &st);
    uint64_t worker = thread(s, b->system, ST_WAITING, wres, &st);

    uint64_t res = resource(s);
    uint64_t owner = (stack_addr(s, worker) & ~(uint64_t)3) | 3;
    ex_resource_own(s->k, res, owner, true);
    ex_resource_wait(s->k, res, worker, false);
    for (int i = 0; i < 15; i++) {
        stk sw = {0};
        push_wait(s, &sw);
        push_nt(s, &sw, "ExpWaitForResource", 0xae);
        push_nt(s, &sw, "ExAcquireResourceSharedLite", 0xa0);
        push(s, &sw, k_func(s->k, "Ntfs.sys", "NtfsCommonRead"), 0x2b8 + 8 * (unsigned)i);
        push_system_start(s, &sw);
        uint64_t t = thread(s, b->system, ST_WAITING, wres, &sw);
        ex_resource_wait(s->k, res, t, false);
    }
    /* the create IRP the worker is processing: sis over the filter manager over Ntfs's
     * volume device, Ntfs's location current */
    uint64_t ci = irp(s, worker, sisdev, 3, 1, 0x00 /* IRP_MJ_CREATE */, 0);
    io_irp_stack(s->k, ci, 3, sisdev, 0, 0);
    io_irp_stack(s->k, ci, 2, fltdev, k_func(s->k, "fltmgr.sys", "FltpDispatch"), 0xe0);
    io_irp_stack(s->k, ci, 1, vol, 0, 0);
    mf("deadlock %#llx %#llx", (unsigned long long)worker, (unsigned long long)res);
    k_bugcheck(s->k, 0xE2, 0, 0, 0, 0);
}

/* ------------------------------------------------------------------ scene: objects */
static void scene_objects(scn *s, basesys *b)
{
    (void)b;
    kern *k = s->k;
    uint64_t root = ob_root(k);
    ob_dir(k, root, "ObjectTypes");
    uint64_t global = ob_dir(k, root, "GLOBAL??");
    uint64_t bno = ob_dir(k, root, "BaseNamedObjects");
    uint64_t kobj = ob_dir(k, root, "KernelObjects");
    static const char *const types[] = {"Directory", "SymbolicLink", "Event", "Mutant",
                                        "Semaphore", "Section", "File", "Key", "Driver",
                                        "Device", "Process", "Thread"};
    for (size_t i = 0; i < sizeof types / sizeof types[0]; i++)
        ob_type(k, types[i]);

    static const char *const null_f[] = {"NullDispatch"};
    static const char *const beep_f[] = {"BeepDeviceControl", "BeepOpen"};
    static const char *const disk_f[] = {"ClassDispatch"};
    uint64_t nul = driver(s, "null.sys", "\\Driver\\Null", null_f, 1);
    uint64_t beep = driver(s, "beep.sys", "\\Driver\\Beep", beep_f, 2);
    uint64_t disk = driver(s, "disk.sys", "\\Driver\\disk", disk_f, 1);
    device(s, nul, 0, 0, "\\Device\\Null", 0x15);
    device(s, beep, 0, 0x40, "\\Device\\Beep", 0x1);
    device(s, disk, 0, 0x400, "\\Device\\HarddiskVolume2", 0x7);

    ob_symlink(k, global, "C:", "\\Device\\HarddiskVolume2");
    ob_symlink(k, global, "NUL", "\\Device\\Null");
    ob_symlink(k, global, "PhysicalDrive0", "\\Device\\Harddisk0\\DR0");
    ob_symlink(k, root, "DosDevices", "\\??");

    uint64_t ev = lay_size(s->L, "_KEVENT");
    object(s, "Event", "LowMemoryCondition", kobj, ev);
    object(s, "Event", "HighMemoryCondition", kobj, ev);
    object(s, "Event", "ShellReadyEvent", bno, ev);
    object(s, "Mutant", "SessionMutex", bno, lay_size(s->L, "_KMUTANT"));
    object(s, "Semaphore", "PerfSemaphore", bno, lay_size(s->L, "_KSEMAPHORE"));
    uint64_t fo = lay_size(s->L, "_FILE_OBJECT");
    for (int i = 0; i < 5; i++)
        object(s, "File", NULL, 0, fo);
    for (int i = 0; i < 3; i++)
        object(s, "Event", NULL, 0, ev);
    user_process(s, "svchost.exe", 0x2f0, s->k->system_process, 1);
    k_bugcheck(k, 0xE2, 0, 0, 0, 0);
}

/* ------------------------------------------------------------------ hostile variants */
static void hostile_line(const char *what, uint64_t va)
{
    mf("hostile %s %#llx", what, (unsigned long long)va);
}

static void hostile_cycle(scn *s)
{
    world *w = s->w;
    k_hostile_modules(s->k); /* PsLoadedModuleList: last entry -> second (nt.c, at k_finish) */
    /* process list: the last process's Flink back to the second one (a cycle without the head) */
    if (s->nprocs >= 3) {
        int64_t lo = lay_off(s->L, "_EPROCESS", "ActiveProcessLinks");
        if (lo >= 0) {
            uint64_t last = s->procs[s->nprocs - 1] + (uint64_t)lo;
            w_pointer(w, last, s->procs[1] + (uint64_t)lo);
            hostile_line("process_cycle", s->procs[s->nprocs - 1]);
        }
    }
    /* thread list: a thread's list entry pointing at itself */
    if (s->nthreads >= 2) {
        int64_t to = lay_off(s->L, "_ETHREAD", "ThreadListEntry");
        if (to >= 0) {
            uint64_t t = s->threads[s->nthreads - 1];
            w_pointer(w, t + (uint64_t)to, t + (uint64_t)to);
            hostile_line("thread_cycle", t);
        }
        int64_t kto = lay_off(s->L, "_KTHREAD", "ThreadListEntry");
        if (kto >= 0) {
            uint64_t t = s->threads[s->nthreads - 1];
            w_pointer(w, t + (uint64_t)kto, t + (uint64_t)kto);
        }
    }
    /* resource list: an ERESOURCE's SystemResourcesList pointing at itself */
    if (s->nres >= 1) {
        int64_t ro = lay_off(s->L, "_ERESOURCE", "SystemResourcesList");
        if (ro >= 0) {
            uint64_t r = s->resources[0];
            w_pointer(w, r + (uint64_t)ro, r + (uint64_t)ro);
            hostile_line("resource_cycle", r);
        }
    }
    /* IRP list: an IRP's ThreadListEntry pointing at itself */
    for (size_t i = 0; i < s->nirps; i++) {
        int64_t io = lay_off(s->L, "_IRP", "ThreadListEntry");
        if (io < 0)
            break;
        uint64_t p = s->irps[i];
        w_pointer(w, p + (uint64_t)io, p + (uint64_t)io);
        w_pointer(w, p + (uint64_t)io + w_ptr(w), p + (uint64_t)io);
        hostile_line("irp_self", p);
        break;
    }
    /* device list: a driver's second device's NextDevice back to the first */
    if (s->ndev >= 2) {
        uint64_t d = s->devices[s->ndev - 1];
        w_set(w, d, "_DEVICE_OBJECT", "NextDevice", d);
        hostile_line("device_cycle", d);
    }
}

/* with_process: also the process list (not with "all", where the process list gets the
 * cycle instead, which a link into a missing page would hide) */
static void hostile_missing(scn *s, bool with_process)
{
    world *w = s->w;
    /* a page of its own, left out of the dump; pointers lead into it */
    uint64_t hole = w_alloc(w, SC_PAGE, SC_PAGE);
    w_put(w, hole, 4, 0);
    if (with_process && s->nprocs >= 2) {
        int64_t lo = lay_off(s->L, "_EPROCESS", "ActiveProcessLinks");
        if (lo >= 0) {
            w_pointer(w, s->procs[s->nprocs - 1] + (uint64_t)lo, hole + 0x100);
            hostile_line("missing_process_link", hole + 0x100);
        }
    }
    if (s->ndev >= 1) {
        w_set(w, s->devices[0], "_DEVICE_OBJECT", "DeviceExtension", hole + 0x200);
        hostile_line("missing_devext", hole + 0x200);
    }
    if (s->nres >= 1) {
        w_set(w, s->resources[0], "_ERESOURCE", "OwnerTable", hole + 0x300);
        hostile_line("missing_owner_table", hole + 0x300);
    }
    if (s->nthreads >= 1) {
        int64_t io = lay_off(s->L, "_ETHREAD", "IrpList");
        if (io >= 0) {
            w_pointer(w, s->threads[0] + (uint64_t)io, hole + 0x400);
            hostile_line("missing_irp_list", hole + 0x400);
        }
    }
    w_drop(w, hole);
    hostile_line("missing_page", hole);
    /* the top page of a worker's kernel stack (its saved frames) */
    if (s->nthreads >= 2) {
        uint64_t base = 0, limit = 0;
        k_thread_stack(s->k, s->threads[1], &base, &limit);
        if (base > limit + SC_PAGE) {
            w_drop(w, base - SC_PAGE);
            hostile_line("missing_stack", s->threads[1]);
        }
    }
}

/* Breaks the object header's type: a TypeIndex that decodes (with ObHeaderCookie and the
 * header address's second byte on builds that have the cookie) to an index no type has, or
 * on XP a Type pointer to an unmapped address. */
static void badtype_one(scn *s, uint64_t body, unsigned idx)
{
    world *w = s->w;
    uint64_t hdr = body - lay_off_req(s->L, "_OBJECT_HEADER", "Body");
    if (lay_off(s->L, "_OBJECT_HEADER", "TypeIndex") >= 0) {
        uint64_t c = k_sym_opt(s->k, "ObHeaderCookie");
        unsigned enc = idx;
        if (c != SC_NONE)
            enc ^= (unsigned)w_get(w, c, 1) ^ (unsigned)((hdr >> 8) & 0xff);
        w_set(w, hdr, "_OBJECT_HEADER", "TypeIndex", enc & 0xff);
    } else {
        w_set(w, hdr, "_OBJECT_HEADER", "Type", 0x41414140u + 0x10u * (idx & 0xf));
    }
    hostile_line("badtype", body);
}

static void hostile_badtype(scn *s)
{
    for (size_t i = 0; i < s->nobj && i < 3; i++)
        badtype_one(s, s->objects[i], 0xEE - (unsigned)i);
    if (s->nprocs >= 2)
        badtype_one(s, s->procs[s->nprocs - 1], 0xFF);
}

static void hostile(scn *s, const char *h)
{
    bool all = !strcmp(h, "all");
    if (!all && strcmp(h, "cycle") && strcmp(h, "missing") && strcmp(h, "badtype"))
        sc_die("unknown --hostile %s (cycle, missing, badtype, all)", h);
    if (all || !strcmp(h, "badtype"))
        hostile_badtype(s);
    if (all || !strcmp(h, "missing"))
        hostile_missing(s, !all);
    if (all || !strcmp(h, "cycle"))
        hostile_cycle(s);
}

/* ------------------------------------------------------------------ the scenes in other files */
static void scene_ext(scn *s, basesys *b)
{
    sc_base e = {.system = b->system, .smss = b->smss, .csrss = b->csrss, .pci_drv = b->pci_drv,
                 .acpi_pdo = b->acpi_pdo, .pci_fdo = b->pci_fdo, .pci_node = b->pci_node, .o = s->o};
    const char *n = s->o->scene;
    if (!strcmp(n, "pool")) scene_pool(s->k, &e);
    else if (!strcmp(n, "verifier") || !strcmp(n, "apc") || !strcmp(n, "iover") ||
             !strcmp(n, "apcmismatch"))
        scene_verifier(s->k, &e);
    else if (!strcmp(n, "mm") || !strcmp(n, "mm-commit")) scene_mm(s->k, &e);
    else if (!strcmp(n, "trap8e") || !strcmp(n, "trapd1")) scene_trap(s->k, &e);
    else scene_fltmgr(s->k, &e);
}

/* ------------------------------------------------------------------ entry */
void scene_build(const sc_opts *o)
{
    static const struct {
        const char *name;
        void (*fn)(scn *, basesys *);
    } scenes[] = {
        {"basic", scene_basic},   {"9f", scene_9f},           {"133", scene_133},
        {"deadlock", scene_deadlock}, {"objects", scene_objects},
        {"pool", scene_ext},      {"verifier", scene_ext},    {"apc", scene_ext},
        {"iover", scene_ext},     {"mm", scene_ext},          {"fltmgr", scene_ext},
        {"fltmgr-split", scene_ext}, {"trap8e", scene_ext}, {"trapd1", scene_ext},
        {"apcmismatch", scene_ext},
        {"mm-commit", scene_ext},
    };
    void (*fn)(scn *, basesys *) = NULL;
    for (size_t i = 0; i < sizeof scenes / sizeof scenes[0]; i++)
        if (o->scene && !strcmp(o->scene, scenes[i].name))
            fn = scenes[i].fn;
    if (!fn)
        sc_die("unknown scene '%s' (basic, 9f, 133, deadlock, objects, pool, verifier, apc, apcmismatch, iover, mm, mm-commit, "
               "fltmgr, fltmgr-split, trap8e, trapd1)", o->scene ? o->scene : "");
    if (o->hostile && strcmp(o->hostile, "all") && strcmp(o->hostile, "cycle") &&
        strcmp(o->hostile, "missing") && strcmp(o->hostile, "badtype"))
        sc_die("unknown --hostile %s (cycle, missing, badtype, all)", o->hostile);
    if (!o->table || !o->out)
        sc_die("scene_build: no --table or output path");

    lay *L = lay_open(o->table);
    world *w = w_new(L, o->kind, o->seed);
    unsigned ncpu = o->cpus ? o->cpus : 4;
    if (ncpu > 32)
        sc_die("--cpus %u: at most 32", ncpu);
    scn s;
    memset(&s, 0, sizeof s);
    s.k = k_new(w, o->kind, ncpu);
    s.w = w;
    s.L = L;
    s.o = o;
    s.next_tid = 0x40;
    basesys b;
    memset(&b, 0, sizeof b);
    base_system(&s, &b);
    fn(&s, &b);
    /* --procs N: N more processes (no threads: the 10,000-process benchmark stays small) */
    for (unsigned i = 0; i < o->procs; i++) {
        char name[16];
        snprintf(name, sizeof name, "bench%05u.exe", i % 100000);
        k_process(s.k, name, 0x10000u + 4u * i, b.smss);
    }
    if (o->hostile)
        hostile(&s, o->hostile);
    k_finish(s.k, o->out);
    w_free(w);
    lay_free(L);
}
