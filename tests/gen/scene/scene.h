/* scene.h: ntkd-genscene, the kernel-scene generator (test-only).
 *
 * It writes kernel dumps (full64, bitmap64, full32 PAE) in which the kernel's structures lie
 * where Windows puts them, laid out with the offsets of a real build read from a kernel table
 * (a Volatility ISF file; for Windows XP x86 PAE an ISF converted from ntkrnlpa.pdb by
 * tests/gen/scene/pdb2isf.py). It shares NO code with libntkd: its own ISF loader (json-c +
 * liblzma), its own page tables and dump writer (it may use tests/gen/gen_util.c and the header
 * structures of tests/gen/gen_layout.h, which are the generator's, not libntkd's).
 *
 * Usage: ntkd-genscene --table ISF --scene NAME --kind full|bitmap|pae OUT.dmp [--cpus N]
 *                      [--procs N] [--seed S] [--hostile H] [--fill-mb N]
 * writes OUT.dmp and OUT.dmp.manifest (format below). Exit 0 on success, 1 with a message.
 *
 * Scenes (scenes.c):
 *   basic     System + a few processes and threads, drivers, devices, objects (every command
 *             has something to show); --procs N adds N processes (benchmarks)
 *   9f        bugcheck 0x9F/3: a power IRP held in a USB network driver's device stack, the
 *             PnP resources owned by the waiting worker thread (seed 000)
 *   133       bugcheck 0x133/1: a DPC spinning in a wireless driver, DPC queues on several
 *             processors (seeds 000, 003)
 *   deadlock  a worker thread deadlocked on an ERESOURCE whose owner was set with
 *             ExSetResourceOwnerPointer to a stack address, sixteen shared waiters (seed 003)
 *   objects   object types with their object lists (creator-info links), directories,
 *             symbolic links (seed 001)
 *   verifier  Driver Verifier at level 0xc1b: MmVerifierData counters, two verified drivers with
 *             pool usage, the pool, IRP and critical-region logs (verifier.c; seeds 001, 003)
 *   apc       0x20 KERNEL_APC_PENDING_DURING_EXIT: an exiting System thread with KernelApcDisable
 *             -1; BadDriver.sys's unbalanced KeEnterCriticalRegion in the log (verifier.c; seed 004)
 *   mm, mm-commit  the memory manager (mm.c; manifest lines below; mm-commit: committed pages
 *             near the commit limit)
 *   iover     0xC4/0xC5: an I/O-verified dispatch routine (fltmgr!FltpDispatch) changed the
 *             thread's APC disable count; the log names BadDriver.sys (verifier.c; seed 004)
 *   trap8e    (x64) 0x8E whose third parameter is a KTRAP_FRAME in faulty!FaultyWorker (trap.c)
 *   trapd1    0xD1 from a page fault in faulty!FaultyDpcRoutine at IRQL 2: x64 through
 *             nt!KiPageFault (unwind info UWOP_PUSH_MACHFRAME with error code over a KTRAP_FRAME,
 *             nt.c), xp through nt!KiTrap0E (ebp at the KTRAP_FRAME); no parameter names the
 *             trap frame (trap.c)
 * Hostile variants (--hostile): cycle (cyclic process/thread/module/resource lists and a
 * self-referencing IRP list), missing (pointers into pages left out of the dump),
 * badtype (corrupt object-header type indexes), all.
 *
 * Manifest (text, one fact per line, '#' comments, numbers hex with 0x; tests read it):
 *   table <GUID-age> build <n> kind <k> arch x64|x86pae cpus <n> scene <name>
 *   header <field> <value>                 dump-header values (PsLoadedModuleList, KernBase...)
 *   sym <name> <va>                        every kernel global the scene wrote
 *   module <base> <size> <name>            each PsLoadedModuleList entry, in list order
 *   func <module> <name> <va>              generated code (driver routines, DPC routines...)
 *   process <eprocess> <pid> <ppid> <name> <dtb> <peb>
 *   thread <ethread> <process> <tid> <state> <waitreason> <teb> <stack_base> <stack_limit> <kernel_stack>
 *   prcb <cpu> <prcb> <pcr> <current_thread>
 *   object <body> <type> <name|-> <directory|0>   every named object and every typed object
 *   type <index> <type_object> <name> <nobjects>
 *   driver <drvobj> <name> <nt_base_of_image> <ndevices>
 *   device <devobj> <driver> <attached_to|0> <devext> <name|->
 *   devnode <node> <pdo> <instance_path> <state>
 *   irp <irp> <thread|0> <current_location> <stack_count> <major> <minor> <device_of_current>
 *   irpstack <irp> <index> <major> <minor> <device> <completion|0> <control>
 *   resource <eresource> <owner_thread|owner_ptr> <exclusive 0|1> <shared_waiters> <exclusive_waiters> <contention>
 *   waiter <eresource> <thread>
 *   dpc <cpu> <kdpc> <routine> <context>
 *   timer <ktimer> <due> <dpc|0>
 *   deadlock <thread> <resource>           facts the diagnosis must find (scene-specific)
 *   blocked_irp <irp> <driver>             (9f) the IRP the power transition waits on;
 *                                          driver: its object name (\Driver\ZTEusbnet)
 *   long_dpc <cpu> <routine> <driver>      (133) driver: the module's file name (netwlan.sys)
 *   hostile <what> <address>               where a hostile variant broke a structure
 *                                          (modcycle <ldr entry>: PsLoadedModuleList loops)
 *   stack <thread> <ret0> <ret1> ...       the return addresses laid on the thread's kernel
 *                                          stack, innermost first (ret0: where the thread
 *                                          stopped; each next one the caller's return site);
 *                                          a debugger's walk shows these frames in order (the
 *                                          crashing thread: below nt!KeBugCheckEx's frame)
 *   fltframe <addr> <id> <alt_low> <alt_high>        (fltmgr, fltmgr-split: fltmgr.c; the
 *   fltfilter <addr> <name> <altitude> <frame id>     filter manager laid out from the
 *   fltinstance <addr> <filter> <volume> <altitude>   SYNTHETIC stand-in layout of tests/fltmgr)
 *   fltvolume <addr> <name> <frame id>
 *   legacy <devobj> <driver> <above_filter>  a legacy filter device on the volume stack; driver:
 *                                          its object name; above_filter: the highest-altitude
 *                                          minifilter below it
 *   altitude_problem <legacy_driver> <minifilter>  a legacy filter above a minifilter of higher
 *                                          altitude (fltmgr only)
 *   fltlayout <path>  fltglobals <va>      the stand-in layout file; fltmgr!FltGlobals
 *   (scene mm, mm.c)
 *   pfn <pfn> <list> <share> <ref> <pte>   a PFN database entry (list: Zeroed Free Standby Modified
 *                                          ModifiedNoWrite Bad Active Transition; pte: PteAddress)
 *   pfncount <list> <n>                    entries mm.c put on a list (Zeroed and Active: at least n,
 *                                          pages allocated after the scene are Zeroed/Active)
 *   ca <addr> <kind file|image|pagefile> <file_name|-> <views> <pfn_refs>
 *   capfn <ca> <pfn>                       a page of that control area (prototype PTE page)
 *   msubsection <ca> <index> <addr> <flink> <blink>   a subsection of a mapped data file's
 *                                          control area laid out as an _MSUBSECTION (tables that
 *                                          have _MSUBSECTION.DereferenceList; none on XP): index
 *                                          1.. in NextSubsection order (as !ca numbers them), its
 *                                          address, and its DereferenceList.Flink/Blink as written:
 *                                          a subsection no view maps is on the unused-subsection
 *                                          list (nt!MmUnusedSubsectionList on Windows 7,
 *                                          MiSystemPartition.Segments.UnusedSubsectionList on 1809+),
 *                                          a mapped one linked to itself. Image and pagefile-backed
 *                                          control areas have plain _SUBSECTIONs (no lines)
 *   catag <ca> <MmCa|MmCi> <pool_page>     (classic-pool builds) the control area's pool block
 *   vmcounter <name> <value>               a memory counter as written (pages; CommitFailures:
 *                                          the count !vm reports by the build's rule)
 *   vmpool <paged|nonpaged> <index> <pages> a classic pool descriptor's pages in use (XP, 7, 1809)
 *   ptekind <va> <transition|prototype|pagefile> <raw>   the PTE of va (raw: its value)
 *   ptepagefile <va> <pagefile_number> <offset>          what that page-file PTE says
 *   outswapped <thread>                    a thread whose kernel stack is not resident
 *   pagefile <name> <size> <free> <min> <max>   a paging file (pages) as !vm shows it
 *   mmhostile <what> <address>             (--hostile cycle|all) what: pfn (a prototype-PTE frame
 *                                          whose OriginalPte names a subsection the dump lacks),
 *                                          subsection_cycle (a control area whose chain loops),
 *                                          session (smss's _EPROCESS.Session names a session the
 *                                          dump lacks) or ptecycle (two Active pages each naming
 *                                          the other as its page table: a PteFrame loop) or
 *                                          noregions (0: no pool-region global is written, so
 *                                          !memusage cannot tell pool pages apart; no pool kpages)
 *   procpages <eprocess> <name> <private_pages> <pagetable_pages>   (mm) pages whose PFN
 *                                          u4.PteFrame chain leads to the process's top-level table
 *                                          (x64: DirectoryTableBase >> 12; PAE: the page directories
 *                                          its PDPT names): its private pages (all Active; System's
 *                                          are kernel pages) and the distinct page-table pages on
 *                                          those chains, the top one included. Appended when the dump
 *                                          is finished. Processes without a line own no private page
 *                                          (their top-level table may still be an Active frame).
 *   mmsession <session> <id> <committed_pages>   (mm) an _MM_SESSION_SPACE that processes'
 *                                          _EPROCESS.Session point at; vmcounter SessionCommit is
 *                                          the sum of their CommittedPages
 *   kpages <class> <n> <exact|min>         (mm) non-prototype pages (any list but Zeroed, Free, Bad)
 *                                          a !memusage kernel line must count: class driver:<module
 *                                          file> (nt's image pages), stacks (threads' kernel stacks),
 *                                          pagedpool, nonpagedpool (the build's pool region globals /
 *                                          MiVisibleState->SystemVaType, mm.c "kernel regions"); exact,
 *                                          or min (at least n: other allocations add pages). No pool
 *                                          lines when the build keeps none of those globals. System's
 *                                          procpages private pages are kernel pages (nonpaged pool).
 *   (scene mm-commit: the mm scene with committed pages at 97% of the commit limit, so that !vm
 *   warns; the vmcounter lines say so)
 *   (verifier.c: scenes verifier, apc, iover)
 *   verifier_level <level>                 nt!MmVerifierData.Level
 *   vstat <Field> <value>                  a _MM_DRIVER_VERIFIER_DATA counter the scene set
 *   verified <file> <paged_bytes> <nonpaged_bytes> <loads> <unloads> <cur_paged> <cur_nonpaged>
 *   valloc <file> <va> <size> <tag> <caller> <entry>   an outstanding allocation of a verified
 *                                          driver: XP: its PoolHash entry; Vista+: its in-use
 *                                          _VI_POOL_ENTRY on a tracker page (contract: verifier.c)
 *   vtrackpage <file> <page>               (Vista+) a tracker page of the driver (PoolPageHeaders)
 *   vtrack <file> <pages> <inuse> <free>   (Vista+) the driver's tracker pages and entries
 *   gflag <value>                          nt!NtGlobalFlag
 *   vlog_length pool|irp|crit <n>          entries of a verifier log (array length)
 *   vlog_index pool|irp|crit <n>           the log's index as stored (entries written)
 *   vlog_absent pool|irp|crit              the build's table lacks that log
 *   vlog pool <slot> <address> <size> <thread> alloc|free <file>
 *   vlog irp <slot> <irp> <thread> <KernelApcDisable> <SpecialApcDisable> <irql> <file>
 *   vlog crit <slot> <thread> enter|leave <file>
 *   apc_thread <thread> <KernelApcDisable> <SpecialApcDisable>   (apc, iover) the crashing thread
 *   culprit <file>                         (apc, iover) the driver whose enter/leave do not balance
 *   fill <va> <npages>                     (--fill-mb) the pattern-filled pool pages' range
 *   apc_index <n>                          (apcmismatch) the thread's ApcStateIndex (bug check 0x1 P2)
 *   trap <ktrap_frame> <rip> <rsp>         (trap8e) the trap frame bug check 0x8E names;
 *                                          (trapd1) the one the crash stack's page-fault handler
 *                                          built (x86: <eip> <esp>, esp where HardwareEsp would be)
 *   culprit <image> <function>             the driver a diagnosis must blame
 *   pooltag <tag> <np_allocs> <np_frees> <np_bytes> <p_allocs> <p_frees> <p_bytes> <owner_module|->
 *                                          (pool) tracker-table counts; owner: the image file
 *                                          whose code holds the tag bytes
 *   poolblock <addr> <size> <tag> <free 0|1> <page_corrupt 0|1>   (pool) a small block: its
 *                                          header's address, size in bytes (header included)
 *   poolpage <page> <nonpaged|paged> <corrupt 0|1>   (pool) a classic pool page
 *   poolbad <page> <header_addr>           (pool) the header where the corrupt page's walk breaks
 *   bigpool <va> <bytes> <tag>             (pool) a live big-pool table entry
 *   (pool, specpool.c: special pool and session pool; contract at the top of specpool.c)
 *   specialpool <data_va> <size> <tag> <paged 0|1> <page> <free 0|1>   a special-pool page
 *   specialrange <start> <end_exclusive> <nonpaged|paged>   special pool VA as the globals say
 *   specialoverrun <page> <first_bad_va> <nbytes>   the fill pattern after the data overwritten
 *   specialguard <va>  specialnot <va>     a guard page (not in the dump); an address that is
 *                                          not special pool
 *   specialseg <va> <heap>                 (19041+) a present special-pool page; SpecialHeaps[0]
 *   sessionrange <session> <start> <end_inclusive> <session_id>   csrss's _MM_SESSION_SPACE
 *   sessionpool <page> <session>           a classic session pool page (PagedPoolSession)
 *   sessblock <addr> <size> <tag> <free 0|1>   its blocks (distinct from poolblock)
 *   sessionheap <session> <paged_heap>  sessionseg <va>   (19041+) HeapState->PagedHeap; a page
 *                                          of session paged pool in no segment of that heap
 *   (19041+, segheap.c sh_session_heap) the session paged heap is a _SEGMENT_HEAP at
 *   PagedPoolStart with one 1-MiB segment inside [PagedPoolStart, PagedPoolEnd] (an hpseg line,
 *   a subseg line for its VS subsegment); its blocks are sessblock lines (addr: the
 *   _POOL_HEADER, chunk header + 0x10; tag '-' for the free chunk), and
 *   sesspage <page> <session>              every page holding those sessblock blocks
 *   pooltagcpu <cpu> <tag> <np_allocs> <np_frees> <np_bytes> <p_allocs> <p_frees> <p_bytes>
 *                                          (pool, pooltrack.c) a nonzero entry of processor cpu's
 *                                          tracker table (nt!ExPoolTagTables[cpu]; cpu 0 is
 *                                          PoolTrackTable); counts as stored (a processor may hold
 *                                          more frees than allocations, bytes modulo 2^64);
 *                                          `pooltag` lines stay the sums over the processors
 *   pooltables <n>                         (pool) tracker tables a reader sums (1: PoolTrackTable only)
 *   sesstag <tag> <np_allocs> <np_frees> <np_bytes> <p_allocs> <p_frees> <p_bytes>
 *                                          (pool) an entry of session 1's tracker tables (main
 *                                          and expansion); none on XP (no per-tag session table)
 *   session <id> <mm_session_space> <process>  (pool) a session and a process in it
 *   (segment-heap pool, 19H1+: segheap.c, contract /work/notes/SEGHEAP.md; the pool scene and
 *   any scene allocating through sh_alloc, e.g. mm's control areas)
 *   heapkey <HeapKey> <LfhKey>             nt!RtlpHpHeapGlobals
 *   segheap <heap> <node> <index>          every heap of nt!ExPoolState (0 NonPaged, 1 NonPagedNx, 2 Paged)
 *   hpseg <segment> <heap> <ctx>           every segment on a context's SegmentListHead
 *   subseg <range_start> <lfh|vs> <segment> <bytes>  every subsegment
 *   poolblock / poolpage / poolbad         as above; poolblock addr: the _POOL_HEADER (VS: chunk
 *                                          header + 0x10), tag '-' for free blocks; poolpage: every
 *                                          page holding listed blocks; poolbad <page> <chunk_header>:
 *                                          the VS chunk whose UnsafePrevSize is inconsistent
 *   hostile segheap_cycle <segment>        (--hostile cycle|all) its ListEntry.Flink points to itself
 *   hostile lfh_count <subseg>             (--hostile cycle|all) an LFH subsegment with BlockCount 0xffff
 * Each helper adds the lines for what it builds through mf(); tests must only rely on lines
 * listed here (add new kinds here first).
 */
#ifndef NTKD_SCENE_H
#define NTKD_SCENE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#define SC_PAGE 4096u
#define SC_NONE UINT64_MAX

_Noreturn void sc_die(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
void *sc_alloc0(size_t n); /* zeroed, dies on failure */

/* ================================================================ layout (lay.c) */
typedef struct lay lay;
lay *lay_open(const char *path);            /* .json or .json.xz; dies with a message */
void lay_free(lay *L);
unsigned lay_ptr(const lay *L);             /* 4 or 8 (from the pointer base type) */
bool lay_pae(const lay *L);                 /* x86 table with an 8-byte _MMPTE */
const char *lay_guid_age(const lay *L);     /* "339E7413...-1" from metadata.windows.pdb */
uint32_t lay_machine(const lay *L);         /* 0x8664 / 0x14c */
bool lay_has_type(const lay *L, const char *type);
uint64_t lay_size(const lay *L, const char *type);             /* dies when missing */
/* Field offset ("A.B" descends into embedded structs/unions); -1 when the build lacks it. */
int64_t lay_off(const lay *L, const char *type, const char *field);
uint64_t lay_off_req(const lay *L, const char *type, const char *field); /* dies when missing */
/* Field details: size in bytes of the field's type (pointers: lay_ptr; arrays: whole array),
 * and the bit position/length for bitfields (len 0 for plain fields). false when missing. */
bool lay_field(const lay *L, const char *type, const char *field, uint64_t *off, uint64_t *size,
               unsigned *bitpos, unsigned *bitlen);
uint64_t lay_sym(const lay *L, const char *name);  /* RVA; SC_NONE when missing */
bool lay_enum(const lay *L, const char *enum_name, const char *member, int64_t *value);
/* x86 tables converted by pdb2isf.py carry the PDB's FPO and FrameData records ("x_fpo"):
 * how the real function at an RVA keeps its frame, so that the generator lays stacks the way
 * a debugger reading the same PDB unwinds them. Sizes in bytes. */
enum { LAY_NOFRAME = 0, LAY_FRAMEDATA = 1, LAY_FPO = 2 };
typedef struct lay_frame {
    int kind;                 /* LAY_FRAMEDATA / LAY_FPO */
    uint32_t rva, size;       /* the code range */
    uint32_t locals, params;  /* bytes of locals; bytes of parameters the function takes */
    uint32_t regs;            /* bytes of saved registers */
    uint32_t prolog, flags;   /* prolog bytes; FrameData flags */
    unsigned frame;           /* FPO frame type: 0 FPO, 1 trap, 2 TSS, 3 non-FPO */
    bool usebp;               /* FPO: the function uses ebp (and saved the caller's) */
    const char *program;      /* FrameData program ("" for FPO records) */
} lay_frame;
bool lay_has_frames(const lay *L);
/* The FrameData record covering rva (the innermost one, when it has a program), else the FPO
 * record covering it: the debugger's choice. false (kind LAY_NOFRAME) when none does. */
bool lay_frame_at(const lay *L, uint64_t rva, lay_frame *out);

/* ================================================================ the world (world.c)
 * Sparse virtual memory of the system being built: writing anywhere in kernel space maps the
 * page on demand (zero-filled) to a fresh physical page. Address spaces: 0 is the kernel (and
 * the System process); sc_space_new gives a process its own user half (its own page-table
 * root) sharing the kernel half. */
typedef enum sc_kind { SC_FULL64, SC_BITMAP64, SC_PAE } sc_kind;

typedef struct world world;
world *w_new(const lay *L, sc_kind kind, uint64_t seed);
void w_free(world *w);
const lay *w_lay(const world *w);
unsigned w_ptr(const world *w);
int w_space_new(world *w);                  /* a new process address space; returns its id */
uint64_t w_space_dtb(world *w, int space);   /* its page-table root (physical address) */
/* Kernel pool allocator: fresh zeroed mapped kernel VA, aligned (16 by default when 0). */
uint64_t w_alloc(world *w, uint64_t size, uint64_t align);
/* Allocation in a user address space (PEB, TEB, user stacks). */
uint64_t w_ualloc(world *w, int space, uint64_t size);
void w_write(world *w, uint64_t va, const void *data, size_t n);          /* kernel space */
void w_uwrite(world *w, int space, uint64_t va, const void *data, size_t n); /* user space */
void w_read(world *w, uint64_t va, void *out, size_t n);                  /* what was written */
void w_put(world *w, uint64_t va, unsigned bytes, uint64_t v);            /* little-endian */
uint64_t w_get(world *w, uint64_t va, unsigned bytes);
void w_pointer(world *w, uint64_t va, uint64_t v);                        /* pointer size */
/* Typed stores: the field's size (and bit position) from the layout. w_set dies when the build
 * lacks the field; w_try returns false instead (for fields that come and go between builds). */
void w_set(world *w, uint64_t obj, const char *type, const char *field, uint64_t v);
bool w_try(world *w, uint64_t obj, const char *type, const char *field, uint64_t v);
uint64_t w_field(world *w, uint64_t obj, const char *type, const char *field); /* read back */
/* LIST_ENTRY helpers (addresses of the LIST_ENTRY itself). */
void w_list_init(world *w, uint64_t head);
void w_list_tail(world *w, uint64_t head, uint64_t entry);
/* A UNICODE_STRING at `us` pointing at a fresh buffer holding s (UTF-16LE). */
void w_ustr(world *w, uint64_t us, const char *s);
/* Leaves the page holding va out of the dump (hostile: pointers into missing pages). */
void w_drop(world *w, uint64_t va);
/* Memory-manager scene helpers (world.c's appended block, for mm.c): the frame of a mapped page,
 * a frame no address maps (in the dump), a write into such a frame, the self-map address of a
 * page's PTE, the PFN-database size needed after `more` more frames, and every frame so far. */
uint64_t w_pfn_of(world *w, uint64_t va);
uint64_t w_frame_new(world *w);
void w_frame_write(world *w, uint64_t pfn, unsigned off, const void *data, size_t n);
uint64_t w_pte_va(world *w, uint64_t va);
uint64_t w_pfn_bound(world *w, uint64_t more);
void w_each_frame(world *w, void (*fn)(void *u, uint64_t pfn, uint64_t va, bool table), void *u);
/* Writes the dump. */
typedef struct sc_header {
    uint32_t build, ncpu;
    uint32_t bugcheck;
    uint64_t params[4];
    uint64_t kernbase, ps_loaded_module_list, ps_active_process_head, kdbg, pfn_database;
    uint8_t context[0x4d0]; /* the crashing processor's CONTEXT (as written by nt.c) */
    size_t context_size;
} sc_header;
void w_write_dump(world *w, const sc_header *h, const char *path);
/* --fill-mb N: N MiB of extra kernel pool pages (a seeded pattern, generated while the dump is
 * written, never held in memory) mapped after the scene's pool; manifest line `fill`. */
void w_fill_option(uint64_t mb);

/* ================================================================ the manifest (genscene.c) */
void mf(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

/* ================================================================ the kernel (nt.c)
 * nt's image at its base (PE headers with the RSDS record of the table, so the reader finds
 * the ISF by GUID; .pdata/unwind info and code for every function the scene references, at
 * the function's RVA from the table), the globals at their RVAs, PsLoadedModuleList, the
 * processors (KPCR/KPRCB, KiProcessorBlock), KdDebuggerDataBlock encoded as Windows does
 * when KdpDataBlockEncoded is set (KiWaitNever/KiWaitAlways). */
typedef struct kern {
    world *w;
    const lay *L;
    sc_kind kind;
    uint32_t build;
    unsigned ncpu;
    uint64_t base, size;     /* nt */
    uint64_t prcb[32], pcr[32];
    uint64_t system_process; /* EPROCESS of System (proc.c) */
    uint64_t idle_thread[32];
    sc_header hdr;
} kern;
kern *k_new(world *w, sc_kind kind, unsigned ncpu);
/* The VA of an nt global (base + RVA); dies when the table lacks it. k_sym_opt: SC_NONE. */
uint64_t k_sym(kern *k, const char *name);
uint64_t k_sym_opt(kern *k, const char *name);
/* A function of nt by name (its RVA from the table), given code and unwind data so that stacks
 * through it unwind; returns its VA. */
uint64_t k_nt_func(kern *k, const char *name);
/* A driver image: a PE at a fresh kernel base with the given exported routines (each with code
 * and .pdata), linked on PsLoadedModuleList; returns the image base. */
uint64_t k_driver_image(kern *k, const char *file_name, const char *const *funcs, size_t nfuncs);
/* The same with the PDB identity `guid_age` ("<32 hex digits>-<age>", e.g. of a symbol file
 * built for the tests) in its CodeView record, and a SizeOfImage of at least min_size (room for
 * data at the RVAs that symbol file gives; the routines' code stays at the start). */
uint64_t k_driver_image_pdb(kern *k, const char *file_name, const char *const *funcs, size_t nfuncs,
                            const char *guid_age, uint64_t min_size);
/* The VA of routine `func` of a module added with k_driver_image (dies when unknown). */
uint64_t k_func(kern *k, const char *module_file, const char *func);
/* Address of the middle of a function (for return addresses on stacks). */
uint64_t k_ret(kern *k, uint64_t func_va, unsigned off);
void k_bugcheck(kern *k, uint32_t code, uint64_t p1, uint64_t p2, uint64_t p3, uint64_t p4);
/* Hostile: k_finish links the last PsLoadedModuleList entry back to the second one (a cycle
 * that never returns to the head); manifest line `hostile modcycle <last entry>`. */
void k_hostile_modules(kern *k);
/* Finishes: module list, KdDebuggerDataBlock, the crashing processor's context; writes the dump. */
void k_finish(kern *k, const char *path);

/* ================================================================ processes, threads (proc.c) */
typedef struct sc_frame {
    uint64_t ret; /* return addresses, innermost first */
} sc_frame;
uint64_t k_process(kern *k, const char *image_name, uint32_t pid, uint64_t parent_eprocess);
/* A thread of `process` in state (KTHREAD_STATE value: 5 Waiting, 2 Running, 1 Ready...),
 * wait reason (KWAIT_REASON value), with a kernel stack whose saved frame unwinds through the
 * return addresses `rets` (innermost first, ending in nt!KiStartSystemThread or similar). */
uint64_t k_thread(kern *k, uint64_t process, uint32_t tid, unsigned state, unsigned wait_reason,
                  const uint64_t *rets, size_t nrets);
/* The thread's kernel stack range and an address inside its stack (for !thread STACKADDR and
 * ExSetResourceOwnerPointer-style owners). */
void k_thread_stack(kern *k, uint64_t thread, uint64_t *base, uint64_t *limit);
/* Makes the thread wait on a dispatcher object (wait block list). */
void k_thread_wait_on(kern *k, uint64_t thread, uint64_t object);
/* Runs `thread` on `cpu` (KPRCB.CurrentThread). */
void k_run_on(kern *k, uint64_t thread, unsigned cpu);
/* The user-mode side: a PEB (with image path / command line) and a TEB with LastErrorValue and
 * LastStatusValue; returns the TEB address. */
uint64_t k_teb(kern *k, uint64_t thread, uint32_t last_error, uint32_t last_status);

/* ================================================================ objects (ob.c) */
/* The object type `name` ("Process", "Thread", "Device", "Driver", "Directory",
 * "SymbolicLink", "Event", "File", "Key"...), created on first use in ObTypeIndexTable; returns
 * the _OBJECT_TYPE address. */
uint64_t ob_type(kern *k, const char *name);
/* An object of type `type` with a header, optional name info (name != NULL, in directory
 * `dir` or 0) and creator info linking it on its type's object list; body of body_size bytes.
 * Returns the body address. Type indexes are encoded with ObHeaderCookie on builds that have it. */
uint64_t ob_create(kern *k, const char *type, const char *name, uint64_t dir, uint64_t body_size);
/* Gives an existing body (EPROCESS/ETHREAD allocated by proc.c) its header: proc.c allocates
 * with ob_alloc so the header precedes the body. */
uint64_t ob_alloc(kern *k, const char *type, const char *name, uint64_t dir, uint64_t body_size);
uint64_t ob_root(kern *k);                          /* \ (ObpRootDirectoryObject) */
uint64_t ob_dir(kern *k, uint64_t parent, const char *name); /* created on first use */
void ob_symlink(kern *k, uint64_t dir, const char *name, const char *target);
/* "\\Driver\\usbhub": the directory \Driver (created on first use) and the leaf "usbhub". */
uint64_t ob_path(kern *k, const char *path, char *leaf, size_t leafsz);
/* Writes the manifest lines whose values change while the scene is built (type, driver,
 * resource, irp, irpstack) and fills the drivers' MajorFunction/DriverUnload/AddDevice from
 * their images' exports: k_finish calls it once, after writing the driver images (PE headers
 * and export directories) and before the dump is written. */
void ob_finish(kern *k);
void io_finish(kern *k); /* called by ob_finish */
void ex_finish(kern *k); /* called by ob_finish */

/* ================================================================ I/O (io.c) */
uint64_t io_driver(kern *k, const char *name /* "\\Driver\\usbhub" */, uint64_t image_base,
                   const char *image_file);
/* A device of `driver` attached on top of `lower` (0: a PDO / bottom of stack); ext_size bytes
 * of device extension; name NULL for unnamed. */
uint64_t io_device(kern *k, uint64_t driver, uint64_t lower, uint64_t ext_size, const char *name,
                   uint32_t device_type);
/* A device node for `pdo` under `parent` node (0: IopRootDeviceNode), with instance path and
 * PNP_DEVNODE_STATE value. */
uint64_t io_devnode(kern *k, uint64_t parent, uint64_t pdo, const char *instance, unsigned state);
/* An IRP with `nstack` locations sent down the stack from `top` device; current location
 * `cur` (1..nstack; nstack+1 = not yet sent); queued on `thread`'s IrpList when thread != 0.
 * Each location's major/minor from the arrays; completion routines and control flags may be
 * set per location with io_irp_stack. */
uint64_t io_irp(kern *k, uint64_t thread, uint64_t top, unsigned nstack, unsigned cur,
                const uint8_t *majors, const uint8_t *minors);
/* index: 1..nstack, numbered like CurrentLocation (the array element index - 1); io_irp puts
 * `top` in the current location only. The manifest's irpstack lines use the same numbering. */
void io_irp_stack(kern *k, uint64_t irp, unsigned index, uint64_t device, uint64_t completion,
                  uint8_t control);

/* ================================================================ executive (ex.c) */
/* An ERESOURCE on ExpSystemResourcesList; owner 0 for none. */
uint64_t ex_resource(kern *k);
/* An ERESOURCE at a given address (a global such as nt!PiEngineLock), on ExpSystemResourcesList. */
uint64_t ex_resource_at(kern *k, uint64_t va);
void ex_resource_own(kern *k, uint64_t res, uint64_t owner /* thread or any pointer */, bool exclusive);
void ex_resource_wait(kern *k, uint64_t res, uint64_t thread, bool exclusive);
/* A KDPC queued on cpu's DPC queue. */
uint64_t ex_dpc(kern *k, unsigned cpu, uint64_t routine, uint64_t context);
/* The same, threaded (ThreadedDpcObject on KPRCB.DpcData[1]) when `threaded`; Vista+ only. */
uint64_t ex_dpc_ex(kern *k, unsigned cpu, uint64_t routine, uint64_t context, bool threaded);
/* A KTIMER inserted in the timer table, with optional DPC. */
uint64_t ex_timer(kern *k, uint64_t due_time, uint64_t dpc);

/* ================================================================ scenes (scenes.c) */
typedef struct sc_opts {
    const char *table, *scene, *out, *hostile;
    sc_kind kind;
    unsigned cpus, procs;
    uint64_t seed;
} sc_opts;
void scene_build(const sc_opts *o); /* dies on unknown scene */

/* Scenes of the memory/pool/verifier/filter-manager issue, each in its own file; called by
 * scene_build after the base system (System, idle workers, ACPI/pci drivers, smss, csrss) exists. */
typedef struct sc_base {
    uint64_t system, smss, csrss;  /* EPROCESS */
    uint64_t pci_drv, acpi_pdo, pci_fdo, pci_node;
    const sc_opts *o;
} sc_base;
/* A pool tag's 32-bit value: its four characters, first in the low byte; a shorter name is
 * padded with spaces, as Windows pads its tags. */
static inline uint32_t sc_tag(const char *name)
{
    uint32_t v = 0;
    for (unsigned i = 0, end = 0; i < 4; i++) {
        end = end || !name[i];
        v |= (uint32_t)(uint8_t)(end ? ' ' : name[i]) << (8 * i);
    }
    return v;
}

void scene_pool(kern *k, const sc_base *b);      /* pool.c: scene "pool" */
/* A block of a classic pool page: size in bytes (header included), tag, free. */
typedef struct sc_blk {
    uint32_t size;
    const char *tag;
    bool free_;
} sc_blk;
/* pool.c: writes a classic pool page of blocks at `page` (the last one takes the rest of the
 * page; each carries a little body content, never tag bytes); the header addresses and sizes
 * go to hdr[] and sizes[]. type1: the header's PoolType for allocated blocks (POOL_TYPE + 1). */
void sc_pool_page(kern *k, uint64_t page, const sc_blk *b, size_t n, unsigned type1, uint64_t *hdr,
                  uint32_t *sizes);
/* pooltrack.c: the per-processor tracker tables and the session tracker table of scene "pool"
 * (scene_pool calls it once PoolTrackTable, nslots entries at track_table, is written). */
void scene_pooltrack(kern *k, const sc_base *b, uint64_t track_table, uint64_t nslots);
void scene_verifier(kern *k, const sc_base *b);  /* verifier.c: scenes "verifier", "apc" (0x20), "iover" (0xC4) */
void scene_mm(kern *k, const sc_base *b);        /* mm.c: scene "mm" */
void scene_fltmgr(kern *k, const sc_base *b);    /* fltmgr.c: scenes "fltmgr" and "fltmgr-split" */
void scene_trap(kern *k, const sc_base *b);      /* trap.c: scenes "trap8e" (x64), "trapd1" */
void scene_specpool(kern *k, const sc_base *b);  /* specpool.c: special/session pool, from scene_pool */

/* Segment-heap pool of 19H1+ (segheap.c; builds >= 18362 with _SEGMENT_HEAP, x64 only).
 * sh_layout: the heaps, their segments and the pool scene's subsegments (hostile: a segment
 * list cycle and an LFH subsegment with an absurd BlockCount). sh_alloc: a block of `size`
 * bytes of caller data (pool header not included) in heap `heap_index` (0 NonPagedPool,
 * 1 NonPagedPoolNx, 2 PagedPool), alone in a new one-unit VS subsegment (then a free chunk);
 * returns its _POOL_HEADER address (data follows the header); creates the heaps on first use. */
void sh_layout(kern *k, uint64_t seed, bool hostile);
uint64_t sh_alloc(kern *k, int heap_index, uint32_t size, const char *tag);
/* The paged heap of a session (_MM_SESSION_SPACE at `session`, PagedPoolStart/End set): a
 * _SEGMENT_HEAP at PagedPoolStart, one 1-MiB segment in the session's paged pool holding a VS
 * subsegment of session tags (Gla5, Usqm, Gfnt) and one free chunk; HeapState (allocated when
 * NULL) -> _EX_HEAP_SESSION_STATE.PagedHeap points at it. Manifest: hpseg, subseg, sessblock,
 * sesspage. Returns the heap. */
uint64_t sh_session_heap(kern *k, uint64_t session);

#endif
