/* table.c: the one command table. Every command ntkd knows is a row here: its name, the
 * function that runs it, where it applies, its syntax and its help text. */
#include "cmd/cmd.h"

const nk_cmd nk_commands[] = {
    /* target and header facts */
    {".bugcheck", cmd_bugcheck, NK_CMD_ANY, ".bugcheck", "Show the bug check code and its four parameters."},
    {"vertarget", cmd_vertarget, NK_CMD_ANY, "vertarget", "Show the target's Windows version, processors, dump kind and times."},
    {".dumpdebug", cmd_dumpdebug, NK_CMD_ANY, ".dumpdebug", "Show every field of the dump's headers (including the triage header, runs, streams)."},
    {"!analyze", cmd_analyze, NK_CMD_ANY, "!analyze -show [CODE [P1 P2 P3 P4]] | !analyze -v", "-show: describe a bug check code (the dump's own without CODE): name, explanation and each parameter's meaning with decoded values. -v: full analysis (faulting context, stack, blamed frame, failure bucket)."},
    /* registers */
    {"r", cmd_r, NK_CMD_ANY, "r [reg[,reg...]]", "Show the registers of the current context, or the named registers."},
    /* memory */
    {"db", cmd_display, NK_CMD_ANY, "db [addr] [L count | addr2]", "Display bytes and ASCII."},
    {"dw", cmd_display, NK_CMD_ANY, "dw [addr] [L count | addr2]", "Display 16-bit words."},
    {"dd", cmd_display, NK_CMD_ANY, "dd [addr] [L count | addr2]", "Display 32-bit double words."},
    {"dq", cmd_display, NK_CMD_ANY, "dq [addr] [L count | addr2]", "Display 64-bit quad words."},
    {"dp", cmd_display, NK_CMD_ANY, "dp [addr] [L count | addr2]", "Display pointer-sized values."},
    {"dc", cmd_display, NK_CMD_ANY, "dc [addr] [L count | addr2]", "Display double words and ASCII."},
    {"da", cmd_display, NK_CMD_ANY, "da [addr] [L count]", "Display an ASCII string."},
    {"du", cmd_display, NK_CMD_ANY, "du [addr] [L count]", "Display a UTF-16 string."},
    {"dps", cmd_display, NK_CMD_ANY, "dps [addr] [L count]", "Display pointers with their symbols."},
    {"dqs", cmd_display, NK_CMD_ANY, "dqs [addr] [L count]", "Display quad words with their symbols."},
    {"dds", cmd_display, NK_CMD_ANY, "dds [addr] [L count]", "Display double words with their symbols."},
    {"d", cmd_display, NK_CMD_ANY, "d [addr] [L count | addr2]", "Repeat the last d* display command; without an address, continue where it stopped."},
    {"!db", cmd_display_phys, NK_CMD_KERNEL, "!db [flags] physaddr [L count]", "Display physical memory as bytes."},
    {"!dw", cmd_display_phys, NK_CMD_KERNEL, "!dw physaddr [L count]", "Display physical memory as words."},
    {"!dd", cmd_display_phys, NK_CMD_KERNEL, "!dd physaddr [L count]", "Display physical memory as double words."},
    {"!dq", cmd_display_phys, NK_CMD_KERNEL, "!dq physaddr [L count]", "Display physical memory as quad words."},
    {"!dc", cmd_display_phys, NK_CMD_KERNEL, "!dc physaddr [L count]", "Display physical memory as double words and ASCII."},
    /* paging */
    {"!pte", cmd_pte, NK_CMD_KERNEL, "!pte addr", "Decode every paging level of a virtual address, with flags and software PTE states."},
    {"!vtop", cmd_vtop, NK_CMD_KERNEL, "!vtop [dirbase] addr", "Translate a virtual address to a physical one."},
    /* expressions */
    {"?", cmd_eval, NK_CMD_ANY, "? expression", "Evaluate a MASM expression."},
    {".formats", cmd_formats, NK_CMD_ANY, ".formats expression", "Show a value in hex, decimal, octal, binary, chars, time and float."},
    /* types */
    {"dt", cmd_dt, NK_CMD_ANY, "dt [-r[N]] [-b] [-v] [-a[N]] [mod!]Type [addr] [field[.sub]...] | dt mod!Prefix*", "Display a type's layout, or an instance of it at an address (fields, nested members, bitfields, enums, strings)."},
    {"??", cmd_cppeval, NK_CMD_ANY, "?? expression", "Evaluate a C++ expression: sizeof(mod!Type), #FIELD_OFFSET(Type, Field), #RTL_FIELD_SIZE, #CONTAINING_RECORD, arithmetic."},
    /* user-mode dumps */
    {"|", cmd_pipe, NK_CMD_USER, "|", "Show the process the dump was taken of."},
    {"~", cmd_tilde, NK_CMD_USER, "~ | ~Ns | ~N cmd | ~* cmd", "List threads; ~Ns makes thread N current; ~N cmd / ~* cmd (e.g. ~*k) runs cmd for thread N / every thread, then restores the current thread."},
    {".exr", cmd_exr, NK_CMD_ANY, ".exr -1 | .exr addr", "Show the dump's exception record (-1) or one at an address."},
    {".ecxr", cmd_ecxr, NK_CMD_ANY, ".ecxr", "Switch to the exception's context record and show its registers."},
    /* modules and symbols (cmd_sym.c) */
    {"lm", cmd_lm, NK_CMD_ANY, "lm [v][k|u][o][l][e][f][1m][sm] [a addr] [m pattern | M pattern]", "List modules with their symbol status; v adds image details and version strings; k/u kernel/user modules; a: the module holding an address; m: names matching a pattern."},
    {"lmv", cmd_lm, NK_CMD_ANY, "lmv [m pattern]", "Same as lm v: modules with image details and version information."},
    {"lmvm", cmd_lm, NK_CMD_ANY, "lmvm pattern", "Same as lm v m pattern: one module in detail (image path, timestamp, checksum, size, versions)."},
    {"lmm", cmd_lm, NK_CMD_ANY, "lmm pattern", "Same as lm m pattern."},
    {"lmk", cmd_lm, NK_CMD_ANY, "lmk", "Same as lm k: kernel-mode modules."},
    {"lmu", cmd_lm, NK_CMD_ANY, "lmu", "Same as lm u: user-mode modules."},
    {"lmo", cmd_lm, NK_CMD_ANY, "lmo", "Same as lm o: loaded modules only."},
    {"lml", cmd_lm, NK_CMD_ANY, "lml", "Same as lm l: modules whose symbols are loaded."},
    {"lmf", cmd_lm, NK_CMD_ANY, "lmf", "Same as lm f: modules with their full image paths."},
    {"lmsm", cmd_lm, NK_CMD_ANY, "lmsm", "Same as lm sm: modules sorted by name."},
    {"lm1m", cmd_lm, NK_CMD_ANY, "lm1m", "Same as lm 1m: module names only."},
    {"x", cmd_x, NK_CMD_ANY, "x [/a|/n] module!pattern", "List symbols matching a pattern (* and ? wildcards) with their addresses and parameter information."},
    {"ln", cmd_ln, NK_CMD_ANY, "ln [addr]", "Show the symbols nearest to an address (the one at or below it and the next one)."},
    {".reload", cmd_reload, NK_CMD_ANY, ".reload [/f] [/i] [module]", "Rebuild the module list and reload the kernel's symbols; /f loads now (all modules, or the one named), /i accepts mismatched PDBs. Prints what was tried and chosen."},
    {".sympath", cmd_sympath, NK_CMD_ANY, ".sympath [+] [path]", "Show or set (+: append to) the symbol path: directories, cache*dir, srv*cache*url; ISF tables are found under its directories."},
    {".sympath+", cmd_sympath, NK_CMD_ANY, ".sympath+ path", "Append to the symbol path."},
    {".symfix", cmd_symfix, NK_CMD_ANY, ".symfix [+] [dir]", "Set (+: append) the Microsoft symbol server with a local cache (default $HOME/.cache/ntkd/symbols)."},
    {".symfix+", cmd_symfix, NK_CMD_ANY, ".symfix+ [dir]", "Append the Microsoft symbol server with a local cache to the symbol path."},
    {"!sym", cmd_bang_sym, NK_CMD_ANY, "!sym noisy | quiet", "noisy: report every path and URL tried while loading symbols; quiet: only the outcome."},
    {"!for_each_module", cmd_for_each_module, NK_CMD_ANY, "!for_each_module command", "Run a command once per module with @#Base, @#End, @#ModuleName, @#ImageName, @#ImagePath, @#Size, @#TimeStamp, @#Checksum, @#SymbolType, @#SymbolFileName replaced."},
    {"s", cmd_search, NK_CMD_ANY, "s [-[1]b|w|d|q|a|u] start end|L count pattern", "Search memory for bytes, words, dwords, qwords, an ASCII or a UTF-16 string; -[1] prints addresses only."},
    /* stacks and contexts (cmd_stack.c) */
    /* kernel objects (src/cmd/cmd_kproc.c) */
    {"!process", cmd_process, NK_CMD_KERNEL, "!process [0 0 [ImageName] | addr|pid [flags]]", "List processes (0 0: one summary per process) or show one process; flags 2/4/6/0x17 add its threads and their stacks, as WinDbg does."},
    {"!thread", cmd_thread, NK_CMD_KERNEL, "!thread [addr] [flags]", "Show a thread: state, wait reason and objects, IRPs, times, stack limits and its call stack. An address that is not a thread is read as a stack address and its thread found."},
    {".process", cmd_dotprocess, NK_CMD_KERNEL, ".process [/p] [addr]", "Set the process context used for user-mode addresses (its page tables)."},
    {".thread", cmd_dotthread, NK_CMD_KERNEL, ".thread [addr]", "Set the implicit thread (for !thread, !teb, !gle) and the register context to its saved context (for k); without an address, back to the dump's own."},
    {"!peb", cmd_peb, NK_CMD_ANY, "!peb [addr]", "Show the current process's PEB: image, command line, loader data, process parameters (user dumps: through the current thread's TEB)."},
    {"!teb", cmd_teb, NK_CMD_ANY, "!teb [addr]", "Show the current thread's TEB: stack limits, client id, last error (kernel dumps: read in the thread's process; user dumps: the minidump's current thread)."},
    {"!gle", cmd_gle, NK_CMD_ANY, "!gle [-all]", "Show the last error value and last status of the current thread (-all: every thread); kernel dumps: from the thread's TEB, user dumps: the minidump's current thread."},
    {"!handle", cmd_handle, NK_CMD_KERNEL, "!handle [handle [flags [process]]]", "Show a process's handle table entries: object, granted access, type and name."},
    {"!pcr", cmd_pcr, NK_CMD_KERNEL, "!pcr [cpu]", "Show a processor's KPCR: NT_TIB fields, IRQL, IDT/GDT/TSS, current, next and idle threads (queued DPCs: !dpcs)."},
    {"!prcb", cmd_prcb, NK_CMD_KERNEL, "!prcb [cpu]", "Show a processor's KPRCB address and its current, next and idle threads."},
    {"!irql", cmd_irql, NK_CMD_KERNEL, "!irql [cpu]", "Show a processor's IRQL saved at the crash."},
    {"!list", cmd_list, NK_CMD_KERNEL, "!list \"-t|-x cmd ...\" addr", "Walk a LIST_ENTRY list from addr running a command on each entry (@$extret holds the entry)."},
    /* I/O objects (src/cmd/cmd_kio.c) */
    {"!irp", cmd_irp, NK_CMD_KERNEL, "!irp addr [detail]", "Show an IRP: its thread, status, each stack location with the > marker on the current one, completion routines and the cl column decoded."},
    {"!irpfind", cmd_irpfind, NK_CMD_KERNEL, "!irpfind [-t | -s]", "Find IRPs: a scan of every physical page in the dump for IRP headers (found through the kernel's page tables; also IRPs on no thread's list) merged with every thread's IRP list, each IRP once; one line per IRP with its thread and the driver of its current location. -t: the thread IRP lists only; -s: the scan only."},
    {"!devobj", cmd_devobj, NK_CMD_KERNEL, "!devobj addr|name", "Show a device object: driver, extension, attached devices, flags, characteristics."},
    {"!drvobj", cmd_drvobj, NK_CMD_KERNEL, "!drvobj [name|addr] [flags]", "Show a driver object and its devices (flag 2: entry points and dispatch routines with symbols; flag 4: each device in detail, as !devobj)."},
    {"!devstack", cmd_devstack, NK_CMD_KERNEL, "!devstack addr", "Show a device's stack from top to bottom, the > marker on the given device, and the device node."},
    {"!devnode", cmd_devnode, NK_CMD_KERNEL, "!devnode [addr|0 [flags]]", "Show a device node or (0 1) the device tree from IopRootDeviceNode with instance paths and states."},
    {"!object", cmd_object, NK_CMD_KERNEL, "!object [addr | path | 0 TypeName]", "Show an object's header, type and name; a directory's entries; or (0 TypeName) every object of a type."},
    /* executive (src/cmd/cmd_kex.c) */
    {"!locks", cmd_locks, NK_CMD_KERNEL, "!locks [-v] [addr]", "Show held ERESOURCEs: owners, shared and exclusive waiters, contention; an owner that is a stack address is resolved to its thread; deadlock cycles are reported."},
    {"!dpcs", cmd_dpcs, NK_CMD_KERNEL, "!dpcs [cpu]", "Show the DPCs queued on every processor (or one), with routines and their drivers."},
    {"!timer", cmd_timer, NK_CMD_KERNEL, "!timer", "Show the kernel timer table: due times, periods, DPC routines."},
    /* memory and pool (src/cmd/cmd_pool.c) */
    {"!pool", cmd_pool, NK_CMD_KERNEL, "!pool addr [flags]", "Show the pool page holding addr: every allocation with its size, tag and state (big-pool table first, then the page walk with previous-size checks; special pool; segment-heap pools on the builds that use them)."},
    {"!poolused", cmd_poolused, NK_CMD_KERNEL, "!poolused [flags] [/t N] [tag]", "Pool usage per tag from the pool tracker table, sorted (flags 2 nonpaged, 4 paged, as WinDbg), with each tag's likely owner driver."},
    {"!poolfind", cmd_poolfind, NK_CMD_KERNEL, "!poolfind tag [pooltype]", "Scan the pools for allocations with a tag (big-pool table and pool pages)."},
    /* memory manager (src/cmd/cmd_mm.c) */
    {"!vm", cmd_vm, NK_CMD_KERNEL, "!vm [flags]", "Virtual memory counters: physical memory, available and commit charge, pools, commit failures (MiChargeCommitmentFailures by build)."},
    {"!ca", cmd_ca, NK_CMD_KERNEL, "!ca addr | !ca 0", "Show a control area (segment, subsections, file object, mapped views) or (0) every control area found through the PFN database."},
    {"!memusage", cmd_memusage, NK_CMD_KERNEL, "!memusage [flags]", "Physical memory use from the PFN database: pages per list and per control area."},
    /* verifier (src/cmd/cmd_verifier.c) */
    {"!verifier", cmd_verifier, NK_CMD_KERNEL, "!verifier [flags] [addr|driver]", "Driver Verifier: level and options, statistics, verified drivers and their pool; 0x80 pool log, 0x100 IRP log, 0x200 critical-region log."},
    {"!gflag", cmd_gflag, NK_CMD_KERNEL, "!gflag", "Show the kernel's global flags (NtGlobalFlag) by name."},
    /* filter manager (src/cmd/cmd_fltkd.c) */
    {"!fltkd.filters", cmd_fltkd_filters, NK_CMD_KERNEL, "!fltkd.filters", "Show the filter manager's frames and their minifilters with altitudes and instances; warns when a legacy filter sits above a minifilter of higher altitude."},
    {"!fltkd.frames", cmd_fltkd_frames, NK_CMD_KERNEL, "!fltkd.frames", "Show the filter manager's frames with their altitude ranges."},
    {"!fltkd.volumes", cmd_fltkd_volumes, NK_CMD_KERNEL, "!fltkd.volumes", "Show every volume the filter manager attached to, per frame."},
    {"!fltkd.volume", cmd_fltkd_volume, NK_CMD_KERNEL, "!fltkd.volume addr", "Show one filter-manager volume and its instances."},
    {"!fltkd.instance", cmd_fltkd_instance, NK_CMD_KERNEL, "!fltkd.instance addr", "Show one minifilter instance: filter, volume, altitude, flags."},
    {"k", cmd_k, NK_CMD_ANY, "k [= BasePtr StackPtr InstructionPtr] [count]", "Show the call stack: Child-SP, RetAddr, Call Site. A frame found by stack scan (no unwind data) is marked as a guess; the walk's stop reason follows."},
    {"kn", cmd_k, NK_CMD_ANY, "kn [= BasePtr StackPtr InstructionPtr] [count]", "Same as k with frame numbers. A frame found by stack scan (no unwind data) is marked as a guess; the walk's stop reason follows."},
    {"kb", cmd_k, NK_CMD_ANY, "kb [= BasePtr StackPtr InstructionPtr] [count]", "Same as k with the first four arguments (home slots on x64). A frame found by stack scan (no unwind data) is marked as a guess; the walk's stop reason follows."},
    {"kv", cmd_k, NK_CMD_ANY, "kv [= BasePtr StackPtr InstructionPtr] [count]", "Same as kb with trap frame information. A frame found by stack scan (no unwind data) is marked as a guess; the walk's stop reason follows."},
    {"kp", cmd_k, NK_CMD_ANY, "kp [= BasePtr StackPtr InstructionPtr] [count]", "Same as k (parameter values need private type information; shown like k). A frame found by stack scan (no unwind data) is marked as a guess; the walk's stop reason follows."},
    {"kc", cmd_k, NK_CMD_ANY, "kc [= BasePtr StackPtr InstructionPtr] [count]", "Call sites only (module!function). A frame found by stack scan (no unwind data) is marked as a guess; the walk's stop reason follows."},
    {"kL", cmd_k, NK_CMD_ANY, "kL [= BasePtr StackPtr InstructionPtr] [count]", "Same as k (source lines are not shown). A frame found by stack scan (no unwind data) is marked as a guess; the walk's stop reason follows."},
    {"kbn", cmd_k, NK_CMD_ANY, "kbn [= BasePtr StackPtr InstructionPtr] [count]", "kb with frame numbers. A frame found by stack scan (no unwind data) is marked as a guess; the walk's stop reason follows."},
    {"kvn", cmd_k, NK_CMD_ANY, "kvn [= BasePtr StackPtr InstructionPtr] [count]", "kv with frame numbers. A frame found by stack scan (no unwind data) is marked as a guess; the walk's stop reason follows."},
    {"kpn", cmd_k, NK_CMD_ANY, "kpn [= BasePtr StackPtr InstructionPtr] [count]", "kp with frame numbers. A frame found by stack scan (no unwind data) is marked as a guess; the walk's stop reason follows."},
    {"kcn", cmd_k, NK_CMD_ANY, "kcn [= BasePtr StackPtr InstructionPtr] [count]", "kc with frame numbers. A frame found by stack scan (no unwind data) is marked as a guess; the walk's stop reason follows."},
    {"kpL", cmd_k, NK_CMD_ANY, "kpL [= BasePtr StackPtr InstructionPtr] [count]", "Same as kp. A frame found by stack scan (no unwind data) is marked as a guess; the walk's stop reason follows."},
    {"knL", cmd_k, NK_CMD_ANY, "knL [= BasePtr StackPtr InstructionPtr] [count]", "Same as kn. A frame found by stack scan (no unwind data) is marked as a guess; the walk's stop reason follows."},
    {".frame", cmd_frame, NK_CMD_ANY, ".frame [/r] [N]", "Select stack frame N (r then shows its registers, nonvolatiles recovered by the unwind); /r prints them."},
    {".cxr", cmd_cxr, NK_CMD_ANY, ".cxr [addr] | .cxr /c [N]", "Use the CONTEXT record at addr as the current context (no address: back to the dump's default); /c lists the dump's saved contexts, /c N selects one (ntkd extension)."},
    {".trap", cmd_trap, NK_CMD_ANY, ".trap [addr]", "Use the KTRAP_FRAME at addr (layout from the kernel's _KTRAP_FRAME type) as the current context."},
    {".fnent", cmd_fnent, NK_CMD_ANY, ".fnent addr", "Show the function table entry (RUNTIME_FUNCTION) and decoded unwind info for an address, chained info, and the primary function of a fragment."},
    /* disassembly (cmd_disasm.c) */
    {"u", cmd_u, NK_CMD_ANY, "u [addr] [L count | addr2]", "Disassemble count instructions (8 by default) from addr; without an address, continue after the last u (first time: the current instruction). Call and jump targets and RIP-relative operands are shown with their symbols."},
    {"ub", cmd_ub, NK_CMD_ANY, "ub [addr] [L count]", "Disassemble the count instructions (8 by default) that end just before addr (decoding backwards from the function start or by resynchronizing)."},
    {"uf", cmd_uf, NK_CMD_ANY, "uf [/c] addr", "Disassemble the whole function containing addr (extent from the PDB or .pdata, blocks reached by jumps outside it included, in address order); /c lists only its calls."},
    /* session */
    {"q", cmd_quit, NK_CMD_ANY, "q", "Quit."},
    {"help", cmd_help, NK_CMD_ANY, "help [command]", "List commands, or show one command's syntax and help."},
    {".help", cmd_help, NK_CMD_ANY, ".help", "Same as help."},
};
const size_t nk_ncommands = sizeof nk_commands / sizeof nk_commands[0];

const nk_cmd *nk_cmd_find(const char *name)
{
    for (size_t i = 0; i < nk_ncommands; i++)
        if (strcmp(nk_commands[i].name, name) == 0) return &nk_commands[i];
    return NULL;
}

size_t ntkd_command_count(void) { return nk_ncommands; }

bool ntkd_command(size_t i, ntkd_cmd_info *out)
{
    if (i >= nk_ncommands) return false;
    out->name = nk_commands[i].name;
    out->syntax = nk_commands[i].syntax;
    out->help = nk_commands[i].help;
    return true;
}
