/* bugcheck.c: lookups in the bug check table and decoding of parameter values. The names of
 * status codes, IRQLs, pool types and trap numbers are public constants (ntstatus.h, wdm.h and the
 * processor manuals); the short descriptions are ours. */
#include <stdio.h>
#include <string.h>

#include "analysis/bugcheck.h"

static const char NOT_IN_INDEX[] = "not documented in the index";

const nk_bc_info *nk_bc_find(uint32_t code)
{
    size_t lo = 0, hi = nk_bc_count();
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        const nk_bc_info *e = nk_bc_at(mid);
        if (e->code == code) return e;
        if (e->code < code) lo = mid + 1;
        else hi = mid;
    }
    return NULL;
}

const nk_bc_info *nk_bc_params_of(uint32_t code)
{
    const nk_bc_info *e = nk_bc_find(code);
    /* One level only: the _M variants point at a base code that has its own parameters. */
    if (e && e->same_as) {
        const nk_bc_info *b = nk_bc_find(e->same_as);
        if (b && !b->same_as) return b;
    }
    return e;
}

/* ---- status codes ------------------------------------------------------------------- */

static const struct {
    uint32_t code;
    const char *name;
    const char *desc;
} statuses[] = {
    {0x00000000, "STATUS_SUCCESS", "the operation succeeded"},
    {0x00000102, "STATUS_TIMEOUT", "a wait timed out"},
    {0x00000103, "STATUS_PENDING", "the operation is still in progress"},
    {0x80000001, "STATUS_GUARD_PAGE_VIOLATION", "a guard page was touched"},
    {0x80000002, "STATUS_DATATYPE_MISALIGNMENT", "a data reference was not aligned as required"},
    {0x80000003, "STATUS_BREAKPOINT", "a breakpoint or assertion was hit with no debugger attached"},
    {0x80000004, "STATUS_SINGLE_STEP", "a single-step or debug trap"},
    {0xC0000001, "STATUS_UNSUCCESSFUL", "the operation failed"},
    {0xC0000002, "STATUS_NOT_IMPLEMENTED", "the requested operation is not implemented"},
    {0xC0000005, "STATUS_ACCESS_VIOLATION", "access violation: the code read, wrote or executed memory it may not"},
    {0xC0000006, "STATUS_IN_PAGE_ERROR", "a page could not be read in from its backing store"},
    {0xC0000008, "STATUS_INVALID_HANDLE", "an invalid handle was used"},
    {0xC000000D, "STATUS_INVALID_PARAMETER", "an invalid parameter was passed"},
    {0xC000000E, "STATUS_NO_SUCH_DEVICE", "the device does not exist"},
    {0xC0000017, "STATUS_NO_MEMORY", "not enough virtual memory or paging file quota"},
    {0xC000001D, "STATUS_ILLEGAL_INSTRUCTION", "the processor met an invalid instruction"},
    {0xC0000022, "STATUS_ACCESS_DENIED", "access was denied"},
    {0xC0000025, "STATUS_NONCONTINUABLE_EXCEPTION", "execution was resumed after a non-continuable exception"},
    {0xC0000026, "STATUS_INVALID_DISPOSITION", "an exception handler returned an invalid disposition"},
    {0xC0000032, "STATUS_DISK_CORRUPT_ERROR", "the disk structure is corrupt"},
    {0xC0000034, "STATUS_OBJECT_NAME_NOT_FOUND", "the object name was not found"},
    {0xC000008C, "STATUS_ARRAY_BOUNDS_EXCEEDED", "an array index was out of bounds"},
    {0xC000008E, "STATUS_FLOAT_DIVIDE_BY_ZERO", "floating point division by zero"},
    {0xC0000090, "STATUS_FLOAT_INVALID_OPERATION", "invalid floating point operation"},
    {0xC0000091, "STATUS_FLOAT_OVERFLOW", "floating point overflow"},
    {0xC0000094, "STATUS_INTEGER_DIVIDE_BY_ZERO", "integer division by zero"},
    {0xC0000095, "STATUS_INTEGER_OVERFLOW", "integer overflow"},
    {0xC0000096, "STATUS_PRIVILEGED_INSTRUCTION", "a privileged instruction was executed in the wrong mode"},
    {0xC000009A, "STATUS_INSUFFICIENT_RESOURCES", "system resources (often pool) ran out"},
    {0xC000009C, "STATUS_DEVICE_DATA_ERROR", "the device reported a data error"},
    {0xC000009D, "STATUS_DEVICE_NOT_CONNECTED", "the device is not connected"},
    {0xC00000B5, "STATUS_IO_TIMEOUT", "an I/O request timed out"},
    {0xC00000FD, "STATUS_STACK_OVERFLOW", "the thread ran out of stack"},
    {0xC0000102, "STATUS_FILE_CORRUPT_ERROR", "a file or directory is corrupt"},
    {0xC0000135, "STATUS_DLL_NOT_FOUND", "a required DLL was not found"},
    {0xC0000142, "STATUS_DLL_INIT_FAILED", "a DLL failed to initialize"},
    {0xC0000144, "STATUS_UNHANDLED_EXCEPTION", "an exception was not handled"},
    {0xC000016A, "STATUS_DISK_OPERATION_FAILED", "a disk operation failed"},
    {0xC0000185, "STATUS_IO_DEVICE_ERROR", "the device reported an I/O error"},
    {0xC0000194, "STATUS_POSSIBLE_DEADLOCK", "a possible deadlock was detected"},
    {0xC0000218, "STATUS_CANNOT_LOAD_REGISTRY_FILE", "a registry hive could not be loaded"},
    {0xC000021A, "STATUS_SYSTEM_PROCESS_TERMINATED", "a critical system process ended"},
    {0xC0000221, "STATUS_IMAGE_CHECKSUM_MISMATCH", "an image failed its checksum check"},
    {0xC0000374, "STATUS_HEAP_CORRUPTION", "a heap was found corrupted"},
    {0xC0000409, "STATUS_STACK_BUFFER_OVERRUN", "fail-fast: a security check failed (stack cookie, list entry, ...)"},
    {0xC0000420, "STATUS_ASSERTION_FAILURE", "an assertion failed"},
    {0xC0000602, "STATUS_FAIL_FAST_EXCEPTION", "a fail-fast exception was raised"},
    {0xE06D7363, "CPP_EH_EXCEPTION", "a C++ exception thrown by MSVC-compiled code"},
};

const char *nk_ntstatus_name(uint32_t status, const char **desc)
{
    for (size_t i = 0; i < sizeof statuses / sizeof statuses[0]; i++)
        if (statuses[i].code == status) {
            if (desc) *desc = statuses[i].desc;
            return statuses[i].name;
        }
    if (desc) *desc = NULL;
    return NULL;
}

/* ---- IRQLs ------------------------------------------------------------------------------ */

bool nk_irql_name(uint64_t irql, nk_arch arch, char *buf, size_t len)
{
    const char *n = NULL;
    if (len) buf[0] = 0;
    if (irql == 0) n = "PASSIVE_LEVEL";
    else if (irql == 1) n = "APC_LEVEL";
    else if (irql == 2) n = "DISPATCH_LEVEL";
    else if (arch == NK_ARCH_X86) {
        switch (irql) {
        case 27: n = "PROFILE_LEVEL"; break;
        case 28: n = "CLOCK_LEVEL"; break;
        case 29: n = "IPI_LEVEL"; break;
        case 30: n = "POWER_LEVEL"; break;
        case 31: n = "HIGH_LEVEL"; break;
        default: if (irql < 27) n = "a device IRQL (DIRQL)"; break;
        }
    } else {
        switch (irql) {
        case 12: n = "SYNCH_LEVEL"; break;
        case 13: n = "CLOCK_LEVEL"; break;
        case 14: n = "IPI_LEVEL (also POWER_LEVEL)"; break;
        case 15: n = "HIGH_LEVEL (also PROFILE_LEVEL)"; break;
        default: if (irql < 12) n = "a device IRQL (DIRQL)"; break;
        }
    }
    if (!n) return false;
    snprintf(buf, len, "%s", n);
    return true;
}

/* ---- pool types --------------------------------------------------------------------------- */

static const struct {
    uint32_t v;
    const char *name;
} pool_types[] = {
    {0, "NonPagedPool"}, {1, "PagedPool"}, {2, "NonPagedPoolMustSucceed"}, {3, "DontUseThisType"},
    {4, "NonPagedPoolCacheAligned"}, {5, "PagedPoolCacheAligned"}, {6, "NonPagedPoolCacheAlignedMustS"},
    {7, "MaxPoolType"}, {32, "NonPagedPoolSession"}, {33, "PagedPoolSession"},
    {34, "NonPagedPoolMustSucceedSession"}, {35, "DontUseThisTypeSession"},
    {36, "NonPagedPoolCacheAlignedSession"}, {37, "PagedPoolCacheAlignedSession"},
    {38, "NonPagedPoolCacheAlignedMustSSession"}, {512, "NonPagedPoolNx"},
    {516, "NonPagedPoolNxCacheAligned"}, {544, "NonPagedPoolSessionNx"},
};

bool nk_pool_type_name(uint64_t type, char *buf, size_t len)
{
    if (len) buf[0] = 0;
    if (type > 0xffff) return false;
    uint32_t t = (uint32_t)type, base = t & ~(8u | 16u);
    const char *name = NULL;
    for (size_t i = 0; i < sizeof pool_types / sizeof pool_types[0]; i++)
        if (pool_types[i].v == base) name = pool_types[i].name;
    if (!name) return false;
    snprintf(buf, len, "%s%s%s", name, (t & 8) ? " | POOL_QUOTA_FAIL_INSTEAD_OF_RAISE" : "",
             (t & 16) ? " | POOL_RAISE_IF_ALLOCATION_FAILURE" : "");
    return true;
}

/* ---- other kinds ---------------------------------------------------------------------------- */

static const char *const trap_names[] = {
    "divide error", "debug exception", "non-maskable interrupt", "breakpoint", "overflow",
    "bound range exceeded", "invalid opcode", "device not available (no math coprocessor)",
    "double fault", "coprocessor segment overrun", "invalid TSS", "segment not present",
    "stack-segment fault", "general protection fault", "page fault", NULL,
    "x87 floating point error", "alignment check", "machine check", "SIMD floating point exception",
    "virtualization exception", "control protection exception",
};

const char *nk_bc_kind_name(uint8_t kind)
{
    switch (kind) {
    case NK_BCK_INHERIT: return "inherit";
    case NK_BCK_RESERVED: return "reserved";
    case NK_BCK_UNDOC: return "undocumented";
    case NK_BCK_VALUE: return "value";
    case NK_BCK_ADDR: return "address";
    case NK_BCK_PTR: return "pointer";
    case NK_BCK_STATUS: return "status";
    case NK_BCK_IRQL: return "irql";
    case NK_BCK_POOLTYPE: return "pool_type";
    case NK_BCK_POOLTAG: return "pool_tag";
    case NK_BCK_EXR: return "exception_record";
    case NK_BCK_CXR: return "context_record";
    case NK_BCK_TRAP: return "trap_frame";
    case NK_BCK_SUBCODE: return "subcode";
    case NK_BCK_ACCESS: return "access";
    case NK_BCK_TRAPNO: return "trap_number";
    default: return "unknown";
    }
}

bool nk_bc_decode(uint8_t kind, uint64_t value, nk_arch arch, char *buf, size_t len)
{
    if (!len) return false;
    buf[0] = 0;
    switch (kind) {
    case NK_BCK_STATUS: {
        const char *desc;
        const char *n = nk_ntstatus_name((uint32_t)value, &desc);
        if (!n) return false;
        snprintf(buf, len, "%s: %s", n, desc);
        return true;
    }
    case NK_BCK_IRQL: return nk_irql_name(value, arch, buf, len);
    case NK_BCK_POOLTYPE: return nk_pool_type_name(value, buf, len);
    case NK_BCK_POOLTAG: {
        char tag[5];
        for (int i = 0; i < 4; i++) {
            unsigned char c = (unsigned char)(value >> (8 * i));
            if (c < 0x20 || c > 0x7e) return false;
            tag[i] = (char)c;
        }
        tag[4] = 0;
        if (value >> 32) return false;
        snprintf(buf, len, "'%s'", tag);
        return true;
    }
    case NK_BCK_ACCESS:
        if (value == 0) snprintf(buf, len, "read");
        else if (value == 1) snprintf(buf, len, "write");
        else if (value == 2 || value == 8 || value == 9) snprintf(buf, len, "execute");
        else return false;
        return true;
    case NK_BCK_TRAPNO:
        if (value >= sizeof trap_names / sizeof trap_names[0] || !trap_names[value]) return false;
        snprintf(buf, len, "%s", trap_names[value]);
        return true;
    default: return false;
    }
}

/* ---- describe ----------------------------------------------------------------------------- */

static void set_arg(nk_bc_arg *a, const nk_bc_param *p, nk_arch arch)
{
    a->kind = p->kind;
    switch (p->kind) {
    case NK_BCK_RESERVED: a->meaning = NULL; break;
    case NK_BCK_UNDOC: a->meaning = p->text ? p->text : NOT_IN_INDEX; break;
    default: a->meaning = p->text; break;
    }
    nk_bc_decode(a->kind, a->value, arch, a->decoded, sizeof a->decoded);
}

void nk_bc_describe(uint32_t code, const uint64_t params[4], nk_arch arch, nk_bc_view *v)
{
    memset(v, 0, sizeof *v);
    v->code = code;
    v->info = nk_bc_find(code);
    const bool is32 = arch == NK_ARCH_X86;
    for (int i = 0; i < 4; i++) v->args[i].value = is32 ? (params[i] & 0xffffffffu) : params[i];
    const nk_bc_info *pi = nk_bc_params_of(code);
    if (!pi) {
        static const nk_bc_param unknown = {NK_BCK_UNDOC, "unknown bug check code"};
        for (int i = 0; i < 4; i++) set_arg(&v->args[i], &unknown, arch);
        return;
    }
    for (uint16_t k = 0; k < pi->nsubs && pi->subs; k++)
        if (pi->subs[k].p1 == v->args[0].value) {
            v->sub = &pi->subs[k];
            break;
        }
    set_arg(&v->args[0], &pi->p[0], arch);
    if (v->sub) {
        v->args[0].meaning = v->sub->cause;
        v->args[0].decoded[0] = 0; /* the row's cause says it all (0 is no STATUS_SUCCESS here) */
        if (pi->p[0].kind == NK_BCK_TRAPNO)
            nk_bc_decode(NK_BCK_TRAPNO, v->args[0].value, arch, v->args[0].decoded, sizeof v->args[0].decoded);
    } else if (pi->nsubs && pi->p[0].kind == NK_BCK_SUBCODE) {
        snprintf(v->args[0].decoded, sizeof v->args[0].decoded, "value not in ntkd's sub-code table");
    }
    for (int i = 1; i < 4; i++) {
        const nk_bc_param *p = &pi->p[i];
        if (v->sub && v->sub->p[i - 1].kind != NK_BCK_INHERIT) p = &v->sub->p[i - 1];
        set_arg(&v->args[i], p, arch);
    }
}
