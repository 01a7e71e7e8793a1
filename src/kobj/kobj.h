/* kobj.h: the kernel-objects layer. Reads the kernel's own structures (processes, threads,
 * processors, objects, drivers, devices, IRPs, resources, DPCs) from a kernel dump, with every
 * offset taken from nt's types (PDB or ISF through nk_sym_types(t, "nt")), never hard-coded. A
 * field a build lacks is reported ("_KTHREAD.WaitBlockList is not in this build's types"), not
 * guessed. Lists are walked with cycle and length limits; unreadable memory gives a message
 * naming the address.
 *
 * Layering: uses dump, mem, sym, type, code (for thread stacks); used by the commands
 * (src/cmd/cmd_kproc.c, cmd_kio.c, cmd_kex.c) and the analysis (src/analysis).
 * State: t->ext[NK_EXT_KOBJ] (a cache of type ids and field offsets, freed with the target). */
#ifndef NTKD_KOBJ_H
#define NTKD_KOBJ_H

#include "base/base.h"
#include "dump/dump.h"
#include "type/type.h"

#define NK_EXT_KOBJ 3

/* Limits of every walk (hostile dumps). */
#define NK_K_MAX_LIST 1000000u   /* entries of any list */
#define NK_K_MAX_CPUS 2048u

/* ---- fields ------------------------------------------------------------------------------ */

/* A resolved field of an nt type. */
typedef struct nk_kfield {
    uint64_t off;      /* bytes from the struct start */
    uint64_t size;     /* bytes of the field's type (bitfields: of the underlying type) */
    uint8_t bitpos, bitlen; /* bitlen 0: not a bitfield */
    uint64_t type;     /* type id in nt's type source */
} nk_kfield;

/* nt's type source, or NULL with the error set ("nt's types are unavailable: ..."). */
nk_typesrc *nk_k_types(ntkd_target *t);
/* Field "Type.Field" or "Type.A.B" (nested). On failure sets the context error to
 * "_KTHREAD.Foo is not in this build's types" and returns NTKD_E_NOTFOUND. Cached. */
nk_status nk_k_field(ntkd_target *t, const char *type, const char *field, nk_kfield *out);
bool nk_k_has(ntkd_target *t, const char *type, const char *field);
nk_status nk_k_offset(ntkd_target *t, const char *type, const char *field, uint64_t *off);
nk_status nk_k_sizeof(ntkd_target *t, const char *type, uint64_t *size);
/* Reads a field of the struct at addr as an unsigned integer (sizes 1/2/4/8, bitfields
 * extracted; pointers sign-extended as the target's pointer size requires). Errors: missing
 * field (as above) or "memory at ADDR (_EPROCESS.UniqueProcessId) is not in the dump". */
nk_status nk_k_read(ntkd_target *t, uint64_t addr, const char *type, const char *field, uint64_t *v);
/* Same, returning `dflt` on any failure (for optional display fields). */
uint64_t nk_k_get(ntkd_target *t, uint64_t addr, const char *type, const char *field, uint64_t dflt);
/* Address of an nt global (nt!Name); NTKD_E_NOTFOUND with a message when unknown. */
nk_status nk_k_global(ntkd_target *t, const char *name, uint64_t *va);
/* The pointer-sized value stored at an nt global. */
nk_status nk_k_global_ptr(ntkd_target *t, const char *name, uint64_t *v);
/* A UNICODE_STRING at addr, as UTF-8 (malloc'd; NULL when unreadable/empty). max_bytes caps. */
char *nk_k_ustr(ntkd_target *t, uint64_t addr);

/* ---- lists ------------------------------------------------------------------------------- */

/* Walks a LIST_ENTRY list from `head` (the head is not visited): fn gets each entry's
 * LIST_ENTRY address; return false to stop. Stops with a message in `why` (may be NULL) and
 * returns NTKD_E_FORMAT on a cycle that does not return to the head, an unreadable link, or
 * more than `limit` entries (0: NK_K_MAX_LIST). Every entry is visited at most once. */
typedef bool (*nk_k_list_fn)(void *u, uint64_t entry);
nk_status nk_k_list(ntkd_target *t, uint64_t head, size_t limit, nk_k_list_fn fn, void *u, nk_strbuf *why);

/* ---- processors -------------------------------------------------------------------------- */
/* Number of processors (header NumberProcessors, checked against KiProcessorBlock). */
unsigned nk_k_ncpu(ntkd_target *t);
/* KPRCB of a processor (KiProcessorBlock[cpu]) and its KPCR (x64: Prcb - offset of
 * _KPCR.Prcb; x86: _KPCR.PrcbData). */
nk_status nk_k_prcb(ntkd_target *t, unsigned cpu, uint64_t *prcb);
nk_status nk_k_pcr(ntkd_target *t, unsigned cpu, uint64_t *pcr);

/* ---- processes and threads --------------------------------------------------------------- */
typedef struct nk_kproc {
    uint64_t addr;        /* EPROCESS */
    uint64_t pid, ppid;
    uint64_t dtb;         /* Pcb.DirectoryTableBase */
    uint64_t peb;
    uint64_t object_table;
    uint64_t session;     /* session id, or UINT64_MAX when unknown */
    uint64_t create_time;
    uint32_t nthreads;    /* from the thread list walk (0 when not walked) */
    char image[64];       /* ImageFileName (15 chars in the structure) */
} nk_kproc;
/* Every process on PsActiveProcessHead (array malloc'd; *why gets a note on a cut walk). */
nk_status nk_k_processes(ntkd_target *t, nk_kproc **out, size_t *n, nk_strbuf *why);
nk_status nk_k_process_read(ntkd_target *t, uint64_t eprocess, nk_kproc *out);
/* The process whose EPROCESS is addr, or NTKD_E_NOTFOUND when addr is none. */

typedef struct nk_kthread {
    uint64_t addr;        /* ETHREAD */
    uint64_t process;     /* owning EPROCESS */
    uint64_t pid, tid;    /* Cid */
    uint64_t teb;
    uint8_t state;        /* KTHREAD.State */
    uint8_t wait_reason;
    uint8_t wait_irql, wait_mode;
    int8_t priority, base_priority;
    uint64_t kernel_stack, stack_base, stack_limit, initial_stack;
    uint64_t wait_block_list;
    uint64_t start_address, win32_start_address;
    uint64_t irp_list;    /* address of ETHREAD.IrpList head */
    uint32_t wait_time;   /* tick count of the last wait */
    int16_t kernel_apc_disable, special_apc_disable;
    uint32_t last_error, last_status; /* from the TEB when readable (has_teb_errors) */
    bool has_teb_errors;
    int cpu;              /* processor it runs on (state Running), else -1 */
} nk_kthread;
nk_status nk_k_thread_read(ntkd_target *t, uint64_t ethread, nk_kthread *out);
/* Threads of a process (ThreadListHead). */
nk_status nk_k_threads(ntkd_target *t, uint64_t eprocess, nk_kthread **out, size_t *n, nk_strbuf *why);
/* The thread whose kernel stack [StackLimit, StackBase) holds addr (every process walked);
 * NTKD_E_NOTFOUND when none. */
nk_status nk_k_thread_of_stack(ntkd_target *t, uint64_t addr, uint64_t *ethread);
/* The objects a thread waits on (its wait blocks); up to max. */
size_t nk_k_wait_objects(ntkd_target *t, uint64_t ethread, uint64_t *objs, size_t max);
/* Names of enum values from nt's types: KTHREAD_STATE, KWAIT_REASON ("Executive"...). */
const char *nk_k_enum_name(ntkd_target *t, const char *enum_type, int64_t value, char *buf, size_t len);
/* The registers a thread's stack walk starts from (for nk_stack_walk, code/unwind.h): running
 * threads: their processor's context (the dump's context for the crashing processor, else
 * PRCB ProcessorState); waiting threads: the switch frame at KernelStack (layouts from nt's
 * types: _KSWITCH_FRAME where the build has it). NTKD_E_NOTFOUND with a reason when the
 * build lacks what is needed. */
struct nk_uregs;
nk_status nk_k_thread_regs(ntkd_target *t, uint64_t ethread, struct nk_uregs *out);
/* A note on how the last nk_k_thread_regs call found the registers when they are not certain
 * (x64 builds whose types lack _KSWITCH_FRAME: the first return address found by a scan), or
 * NULL. */
const char *nk_k_regs_note(ntkd_target *t);
/* Switches the process context for user-mode reads (.process /p): the DTB used for user
 * addresses. 0 restores the dump's. */
void nk_k_set_process(ntkd_target *t, uint64_t eprocess);

/* ---- objects ----------------------------------------------------------------------------- */
typedef struct nk_kobject {
    uint64_t body, header;
    uint8_t type_index;   /* decoded (ObHeaderCookie applied where the build has it) */
    uint64_t type_obj;    /* _OBJECT_TYPE address, 0 when the index is invalid */
    char type_name[64];   /* "Device", or "" when unknown */
    char name[512];       /* name from the name info, or "" */
    uint64_t directory;   /* the directory holding it (name info), or 0 */
    int64_t pointer_count, handle_count;
    uint8_t info_mask, flags;
} nk_kobject;
/* Decodes the header before `body`. A corrupt type index gives NTKD_E_FORMAT with a
 * message ("object at X: type index 0x5a is not a valid object type"). */
nk_status nk_k_object(ntkd_target *t, uint64_t body, nk_kobject *out);
/* The object type named `name` ("Device"): its _OBJECT_TYPE address. */
nk_status nk_k_object_type(ntkd_target *t, const char *name, uint64_t *type_obj);
/* Objects of a type, through the creator-info list (TypeList) on every build that keeps it.
 * fn gets each object's body. */
typedef bool (*nk_k_obj_fn)(void *u, uint64_t body);
nk_status nk_k_objects_of_type(ntkd_target *t, uint64_t type_obj, nk_k_obj_fn fn, void *u, nk_strbuf *why);
/* Entries of an object directory (hash buckets of _OBJECT_DIRECTORY_ENTRY chains). */
nk_status nk_k_dir_each(ntkd_target *t, uint64_t dir, nk_k_obj_fn fn, void *u, nk_strbuf *why);
/* Resolves a path ("\\Driver\\usbhub", "\\"), following directories from ObpRootDirectoryObject
 * (case-insensitive). */
nk_status nk_k_lookup(ntkd_target *t, const char *path, uint64_t *body);
/* The full path of a named object ("\\Driver\\usbhub"); "" when unnamed. */
char *nk_k_object_path(ntkd_target *t, uint64_t body, char *buf, size_t len);

/* ---- I/O --------------------------------------------------------------------------------- */
/* Driver name (DriverName UNICODE_STRING, "\\Driver\\usbhub") into buf. */
char *nk_k_driver_name(ntkd_target *t, uint64_t drvobj, char *buf, size_t len);
/* A device's driver name, or a "devobj XXX" fallback. */
char *nk_k_device_driver_name(ntkd_target *t, uint64_t devobj, char *buf, size_t len);
/* Devices of a driver (DeviceObject / NextDevice chain). */
size_t nk_k_driver_devices(ntkd_target *t, uint64_t drvobj, uint64_t *out, size_t max);
/* The device stack of a device: from the top (AttachedDevice chain up) to the bottom
 * (DeviceObjectExtension->AttachedTo chain down); out[0] is the top. */
size_t nk_k_device_stack(ntkd_target *t, uint64_t devobj, uint64_t *out, size_t max);
/* IRP scan: every IRP on every thread's IrpList. fn gets (irp, thread). */
typedef bool (*nk_k_irp_fn)(void *u, uint64_t irp, uint64_t thread);
nk_status nk_k_thread_irps(ntkd_target *t, uint64_t ethread, nk_k_irp_fn fn, void *u, nk_strbuf *why);

#endif
