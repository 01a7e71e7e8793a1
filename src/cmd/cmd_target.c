/* cmd_target.c: the header-fact commands. `.bugcheck` (code and parameters), `vertarget`
 * (Windows version, processors, product and suite, dump kind, session time and uptimes) and
 * `.dumpdebug` (every raw header field the container parser recorded, grouped by section).
 * They read only the container-neutral facts in nk_dump. */
#include <stdlib.h>
#include <strings.h>
#include <time.h>

#include "analysis/bugcheck.h"
#include "cmd/cmd.h"

/* ---- shared formatting -------------------------------------------------------------- */

/* Seconds between 1601-01-01 (FILETIME epoch) and 1970-01-01. */
#define FILETIME_UNIX_DELTA 11644473600ull

/* "Thu Jan  7 10:47:37.346 2021" from a FILETIME (UTC). False when out of range. */
static bool fmt_filetime(char *buf, size_t len, uint64_t ft)
{
    static const char *const days[] = {"Sun", "Mon", "Tue", "Wed", "Thu", "Fri", "Sat"};
    static const char *const months[] = {"Jan", "Feb", "Mar", "Apr", "May", "Jun",
                                         "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"};
    uint64_t secs = ft / 10000000ull;
    if (secs < FILETIME_UNIX_DELTA) return false;
    unsigned ms = (unsigned)((ft / 10000ull) % 1000ull);
    time_t tt = (time_t)(secs - FILETIME_UNIX_DELTA);
    struct tm tm;
    if (!gmtime_r(&tt, &tm)) return false;
    snprintf(buf, len, "%s %s %2d %02d:%02d:%02d.%03u %d", days[tm.tm_wday % 7], months[tm.tm_mon % 12],
             tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec, ms, tm.tm_year + 1900);
    return true;
}

/* "0 days 0:12:34.567" from a duration in milliseconds. */
static void fmt_duration_ms(char *buf, size_t len, uint64_t ms)
{
    uint64_t days = ms / 86400000ull;
    uint64_t rest = ms % 86400000ull;
    snprintf(buf, len, "%llu days %u:%02u:%02u.%03u", (unsigned long long)days,
             (unsigned)(rest / 3600000ull), (unsigned)(rest / 60000ull % 60), (unsigned)(rest / 1000ull % 60),
             (unsigned)(rest % 1000ull));
}

/* A header field the parser recorded, or NULL. */
static const nk_hdr_field *find_field(const nk_dump *d, const char *section, const char *name)
{
    for (size_t i = 0; i < d->nfields; i++)
        if (d->fields[i].section && strcmp(d->fields[i].section, section) == 0 &&
            strcmp(d->fields[i].name, name) == 0)
            return &d->fields[i];
    return NULL;
}

/* True when a bitmap dump was written with the full-memory signature "FDMP". */
static bool bitmap_is_full(const nk_dump *d)
{
    const nk_hdr_field *f = find_field(d, d->is64 ? "BMP_HEADER64" : "BMP_HEADER32", "Signature");
    if (f && f->text) return strcmp(f->text, "FDMP") == 0;
    return d->dump_type == 5;
}

/* The line WinDbg prints when it loads the dump, saying what the file can answer. */
static const char *kind_line(const nk_dump *d)
{
    switch (d->kind) {
    case NK_KIND_KERNEL_FULL: return "Kernel Complete Dump File: Full address space is available";
    case NK_KIND_KERNEL_SUMMARY: return "Kernel Summary Dump File: Only kernel address space is available";
    case NK_KIND_KERNEL_TRIAGE: return "Mini Kernel Dump File: Only registers and stack trace are available";
    case NK_KIND_KERNEL_BITMAP:
        return bitmap_is_full(d) ? "Kernel Bitmap Dump File: Full address space is available"
                                 : "Kernel Bitmap Dump File: Kernel address space is available, User "
                                   "address space may not be available.";
    case NK_KIND_USER_MINI:
        return "User Mini Dump File: Only registers, stack and portions of memory are available";
    case NK_KIND_RAW: return "Raw Physical Memory Image: Only physical memory and what its page tables map are available";
    case NK_KIND_IMAGE: return "Image file: the image's headers and sections are available (no process state)";
    default: return "Unknown dump kind";
    }
}

/* ---- .bugcheck ------------------------------------------------------------------------ */

nk_status cmd_bugcheck(nk_cmd_env *e, const char *a)
{
    (void)a;
    const nk_dump *d = &e->t->d;
    if (!d->has_bugcheck) {
        nk_cmd_error(e->o, "No bug check information: %s", d->kind == NK_KIND_USER_MINI
                     ? "this is a user-mode dump" : "the dump does not record one");
        return NTKD_E_NOTFOUND;
    }
    nk_printf(e->o, "Bugcheck code %08X\n", d->bugcheck_code);
    nk_printf(e->o, "Arguments");
    json_object *arr = nk_json_arr(e->o, NULL, "arguments");
    nk_json_u64(e->o, NULL, "code", d->bugcheck_code);
    /* WinDbg's .bugcheck prints only the code and the arguments; the name (from the bug check
     * knowledge base, as `!analyze -show` prints it) goes into the JSON form only. */
    const nk_bc_info *bc = nk_bc_find(d->bugcheck_code);
    if (bc) nk_json_str(e->o, NULL, "name", bc->name);
    for (int i = 0; i < 4; i++) {
        char buf[24];
        uint64_t v = d->is64 ? d->bugcheck_params[i] : (d->bugcheck_params[i] & 0xffffffffu);
        nk_printf(e->o, " %s", nk_fmt_ptr(buf, v, d->is64));
        if (arr) json_object_array_add(arr, nk_json_hex(v));
    }
    nk_printf(e->o, "\n");
    return NTKD_OK;
}

/* ---- vertarget ---------------------------------------------------------------------- */

static const char *os_name_for_build(uint32_t build)
{
    if (build >= 10240) return "Windows 10";
    if (build >= 9600) return "Windows 8.1";
    if (build >= 9200) return "Windows 8";
    if (build >= 7600) return "Windows 7";
    if (build >= 6000) return "Windows Vista";
    if (build >= 3790) return "Windows Server 2003";
    if (build >= 2600) return "Windows XP";
    if (build >= 2195) return "Windows 2000";
    return "Windows NT";
}

/* User dumps give MajorVersion.MinorVersion; map the known pairs. */
static const char *os_name_for_version(uint32_t major, uint32_t minor)
{
    if (major == 10 && minor == 0) return "Windows 10";
    if (major == 6) {
        switch (minor) {
        case 0: return "Windows Vista";
        case 1: return "Windows 7";
        case 2: return "Windows 8";
        case 3: return "Windows 8.1";
        default: break;
        }
    }
    if (major == 5) {
        switch (minor) {
        case 0: return "Windows 2000";
        case 1: return "Windows XP";
        case 2: return "Windows Server 2003";
        default: break;
        }
    }
    return NULL;
}

static const char *arch_words(nk_arch a)
{
    switch (a) {
    case NK_ARCH_X64: return "x64";
    case NK_ARCH_X86: return "x86 compatible";
    case NK_ARCH_ARM64: return "ARM 64-bit (AArch64)";
    default: return "unknown architecture";
    }
}

static const char *product_name(uint32_t pt)
{
    switch (pt) {
    case 1: return "WinNt";
    case 2: return "LanManNt";
    case 3: return "Server";
    default: return NULL;
    }
}

static const struct { uint32_t bit; const char *name; } suite_names[] = {
    {0x0001, "SmallBusiness"}, {0x0002, "Enterprise"}, {0x0004, "BackOffice"},
    {0x0008, "CommunicationServer"}, {0x0010, "TerminalServer"}, {0x0020, "SmallBusinessRestricted"},
    {0x0040, "EmbeddedNT"}, {0x0080, "DataCenter"}, {0x0100, "SingleUserTS"}, {0x0200, "Personal"},
    {0x0400, "Blade"}, {0x0800, "EmbeddedRestricted"}, {0x1000, "SecurityAppliance"},
    {0x2000, "StorageServer"}, {0x4000, "ComputeServer"}, {0x8000, "WHServer"},
    {0x20000, "MultiUserTS"},
};

/* Base of the kernel image, when the container listed its modules. */
static bool kernel_base(const nk_dump *d, uint64_t *base)
{
    static const char *const names[] = {"ntoskrnl.exe", "ntkrnlmp.exe", "ntkrnlpa.exe", "ntkrpamp.exe"};
    for (size_t i = 0; i < d->nmodules; i++) {
        const nk_module *m = &d->modules[i];
        if (!m->name || m->unloaded) continue;
        const char *bn = strrchr(m->name, '\\');
        bn = bn ? bn + 1 : m->name;
        for (size_t k = 0; k < sizeof names / sizeof names[0]; k++)
            if (strcasecmp(bn, names[k]) == 0) {
                *base = m->base;
                return true;
            }
    }
    return false;
}

nk_status cmd_vertarget(nk_cmd_env *e, const char *a)
{
    (void)a;
    nk_out *o = e->o;
    const nk_dump *d = &e->t->d;
    const bool user = d->kind == NK_KIND_USER_MINI;
    char buf[64], p1[24], p2[24];

    const char *kl = kind_line(d);
    nk_printf(o, "%s\n", kl);
    nk_json_str(o, NULL, "dump_kind", kl);
    nk_json_str(o, NULL, "kind", nk_kind_name(d->kind));
    if (!user && d->kind != NK_KIND_RAW) nk_json_u64(o, NULL, "dump_type", d->dump_type);
    if (d->comment[0]) {
        nk_printf(o, "Comment: '%s'\n", d->comment);
        nk_json_str(o, NULL, "comment", d->comment);
    }

    /* The version line: "<name> [Kernel ]Version <build>[ (<csd>)] MP (<n> procs) Free <arch>". */
    uint32_t build = 0;
    const char *name = NULL;
    if (user) {
        build = d->csd_build ? d->csd_build : (d->minor >= 100 ? d->minor : 0);
        name = os_name_for_version(d->major, d->minor);
        if (!name && build) name = os_name_for_build(build);
    } else if (d->kind != NK_KIND_RAW || d->minor) {
        build = d->minor;
        name = build ? os_name_for_build(build) : NULL;
    }
    const char *arch = arch_words(d->arch);
    if (name) {
        nk_strbuf sb = {0};
        nk_sb_printf(&sb, "%s %sVersion %u", name, user ? "" : "Kernel ", build);
        if (d->csd_version && d->csd_version[0]) nk_sb_printf(&sb, " (%s)", d->csd_version);
        if (d->nprocs > 1) nk_sb_printf(&sb, " MP (%u procs)", d->nprocs);
        else nk_sb_printf(&sb, " UP");
        const bool checked = !user && d->major == 0xc;
        nk_sb_printf(&sb, " %s %s", checked ? "Checked" : "Free", arch);
        nk_printf(o, "%s\n", sb.s ? sb.s : "");
        nk_json_str(o, NULL, "version", sb.s);
        nk_json_str(o, NULL, "os", name);
        nk_json_int(o, NULL, "build", build);
        nk_json_bool(o, NULL, "checked", checked);
        nk_sb_free(&sb);
    } else {
        nk_printf(o, "Windows version: not recorded in the dump (%s)\n", arch);
    }
    nk_json_str(o, NULL, "arch", nk_arch_name(d->arch));
    nk_json_int(o, NULL, "processors", d->nprocs);
    if (!user) {
        nk_json_u64(o, NULL, "major_version", d->major);
        nk_json_u64(o, NULL, "minor_version", d->minor);
    }

    /* Product and suite. */
    const char *prod = product_name(d->product_type);
    if (prod || d->suite_mask) {
        nk_strbuf sb = {0};
        nk_sb_printf(&sb, "Product: %s, suite:", prod ? prod : "unknown");
        json_object *suites = nk_json_arr(o, NULL, "suites");
        uint32_t left = d->suite_mask;
        for (size_t i = 0; i < sizeof suite_names / sizeof suite_names[0]; i++)
            if (d->suite_mask & suite_names[i].bit) {
                nk_sb_printf(&sb, " %s", suite_names[i].name);
                if (suites) json_object_array_add(suites, json_object_new_string(suite_names[i].name));
                left &= ~suite_names[i].bit;
            }
        if (left) nk_sb_printf(&sb, " 0x%x", left);
        nk_printf(o, "%s\n", sb.s);
        nk_sb_free(&sb);
        if (prod) nk_json_str(o, NULL, "product", prod);
    }
    nk_json_u64(o, NULL, "product_type", d->product_type);
    nk_json_u64(o, NULL, "suite_mask", d->suite_mask);

    /* Kernel base and module list. */
    if (!user && d->kind != NK_KIND_RAW) {
        uint64_t kb;
        bool have_kb = kernel_base(d, &kb);
        if (have_kb) {
            nk_printf(o, "Kernel base = 0x%s PsLoadedModuleList = 0x%s\n", nk_fmt_ptr(p1, kb, d->is64),
                      nk_fmt_ptr(p2, d->ps_loaded_module_list, d->is64));
            nk_json_u64(o, NULL, "kernel_base", kb);
        } else {
            nk_printf(o, "PsLoadedModuleList = 0x%s\n", nk_fmt_ptr(p2, d->ps_loaded_module_list, d->is64));
        }
        nk_json_u64(o, NULL, "ps_loaded_module_list", d->ps_loaded_module_list);
    }

    /* Times. */
    if (d->system_time && fmt_filetime(buf, sizeof buf, d->system_time)) {
        nk_printf(o, "Debug session time: %s (UTC + 0:00)\n", buf);
        nk_json_str(o, NULL, "session_time", buf);
        nk_json_u64(o, NULL, "system_time", d->system_time);
    } else {
        nk_printf(o, "Debug session time: not available\n");
    }
    if (d->system_uptime) {
        fmt_duration_ms(buf, sizeof buf, d->system_uptime / 10000ull);
        nk_printf(o, "System Uptime: %s\n", buf);
        nk_json_str(o, NULL, "system_uptime", buf);
        nk_json_u64(o, NULL, "system_uptime_100ns", d->system_uptime);
    } else {
        nk_printf(o, "System Uptime: not available\n");
    }
    if (user) {
        uint64_t now = d->system_time / 10000000ull;
        if (d->process_create_time && now > FILETIME_UNIX_DELTA &&
            now - FILETIME_UNIX_DELTA >= d->process_create_time) {
            uint64_t secs = now - FILETIME_UNIX_DELTA - d->process_create_time;
            fmt_duration_ms(buf, sizeof buf, secs > UINT64_MAX / 1000 ? UINT64_MAX : secs * 1000);
            nk_printf(o, "Process Uptime: %s\n", buf);
            nk_json_str(o, NULL, "process_uptime", buf);
            nk_json_u64(o, NULL, "process_create_time", d->process_create_time);
        } else {
            nk_printf(o, "Process Uptime: not available\n");
        }
    }
    return NTKD_OK;
}

/* ---- .dumpdebug --------------------------------------------------------------------- */

static void fmt_value(char *buf, size_t len, const nk_hdr_field *f)
{
    switch (f->width) {
    case 1: snprintf(buf, len, "%02x", (unsigned)(f->value & 0xff)); break;
    case 2: snprintf(buf, len, "%04x", (unsigned)(f->value & 0xffff)); break;
    case 4: snprintf(buf, len, "%08x", (unsigned)(f->value & 0xffffffffu)); break;
    default: nk_fmt_addr64(buf, f->value); break;
    }
}

static const char *banner_kind(const nk_dump *d)
{
    switch (d->kind) {
    case NK_KIND_KERNEL_FULL: return "Kernel Full Dump Analysis";
    case NK_KIND_KERNEL_SUMMARY: return "Kernel Summary Dump Analysis";
    case NK_KIND_KERNEL_TRIAGE: return "Kernel Mini Dump Analysis";
    case NK_KIND_KERNEL_BITMAP:
        return bitmap_is_full(d) ? "Kernel Bitmap Dump Analysis - Full address space is available"
                                 : "Kernel Bitmap Dump Analysis - Kernel address space is available, "
                                   "User address space may not be available.";
    default: return NULL;
    }
}

/* The run list as WinDbg lays it out: file offset, physical start and length of each run. */
static bool in_section(const nk_hdr_field *f, const char *sec)
{
    return strcmp(f->section ? f->section : "", sec) == 0;
}

static bool name_ends(const nk_hdr_field *f, const char *suffix)
{
    size_t n = strlen(f->name), m = strlen(suffix);
    return n >= m && strcmp(f->name + n - m, suffix) == 0;
}

static void print_runs(nk_out *o, const nk_dump *d, size_t first, size_t end, const char *sec)
{
    const nk_hdr_field *nr = NULL, *np = NULL;
    size_t nruns = 0;
    for (size_t i = first; i < end; i++) {
        const nk_hdr_field *f = &d->fields[i];
        if (!in_section(f, sec)) continue;
        if (strcmp(f->name, "NumberOfRuns") == 0) nr = f;
        else if (strcmp(f->name, "NumberOfPages") == 0) np = f;
        else if (name_ends(f, ".FileOffset")) nruns++;
    }
    if (nr) nk_printf(o, "Number of runs: %llu (limited to %zu)\n", (unsigned long long)nr->value, nruns);
    if (np) nk_printf(o, "Number of pages: 0x%llx\n", (unsigned long long)np->value);
    if (!nruns) return;
    nk_printf(o, d->is64 ? "          FileOffset           Start Address           Length\n"
                         : "  FileOffset  Start Address  Length\n");
    uint64_t last_file = 0, last_phys = 0;
    bool have_last = false;
    for (size_t i = first; i < end; i++) {
        const nk_hdr_field *f = &d->fields[i];
        if (!in_section(f, sec) || !name_ends(f, ".FileOffset") || i + 2 >= end ||
            !name_ends(&d->fields[i + 1], ".BasePage") || !name_ends(&d->fields[i + 2], ".PageCount"))
            continue;
        uint64_t file = f->value, base = d->fields[i + 1].value, count = d->fields[i + 2].value;
        uint64_t start = base << 12, len = count << 12;
        char b1[24], b2[24], b3[24];
        nk_printf(o, d->is64 ? "           %s %s %s\n" : "    %s     %s       %s\n",
                  nk_fmt_ptr(b1, file, d->is64), nk_fmt_ptr(b2, start, d->is64), nk_fmt_ptr(b3, len, d->is64));
        if (count) {
            last_file = file + (count - 1) * 4096;
            last_phys = start + len - 4096;
            have_last = true;
        }
    }
    if (have_last) {
        char b1[24], b2[24];
        nk_printf(o, "Last Page: %s     %s\n", nk_fmt_ptr(b1, last_file, d->is64),
                  nk_fmt_ptr(b2, last_phys, d->is64));
    }
}

nk_status cmd_dumpdebug(nk_cmd_env *e, const char *a)
{
    (void)a;
    nk_out *o = e->o;
    const nk_dump *d = &e->t->d;
    char banner[160];
    const char *bk = banner_kind(d);
    if (bk) snprintf(banner, sizeof banner, "----- %d bit %s", d->is64 ? 64 : 32, bk);
    else if (d->kind == NK_KIND_USER_MINI) snprintf(banner, sizeof banner, "----- User Mini Dump Analysis");
    else if (d->kind == NK_KIND_RAW) snprintf(banner, sizeof banner, "----- Raw Physical Memory Image");
    else snprintf(banner, sizeof banner, "----- Dump Analysis");
    nk_printf(o, "%s\n", banner);
    nk_json_str(o, NULL, "banner", banner);

    json_object *sections = nk_json_arr(o, NULL, "sections");
    /* Sections in the order the parser first recorded them; fields in recorded order. */
    for (size_t i = 0; i < d->nfields; i++) {
        const char *sec = d->fields[i].section ? d->fields[i].section : "";
        bool seen = false;
        for (size_t k = 0; k < i && !seen; k++)
            seen = strcmp(d->fields[k].section ? d->fields[k].section : "", sec) == 0;
        if (seen) continue;
        size_t width = 0;
        for (size_t k = i; k < d->nfields; k++)
            if (strcmp(d->fields[k].section ? d->fields[k].section : "", sec) == 0 &&
                strlen(d->fields[k].name) > width)
                width = strlen(d->fields[k].name);
        nk_printf(o, "\n%s:\n", sec);
        json_object *js = nk_json_obj(o, sections, NULL);
        nk_json_str(o, js, "name", sec);
        json_object *jf = nk_json_arr(o, js, "fields");
        const bool runs = strcmp(sec, "Physical Memory Description") == 0;
        if (runs) print_runs(o, d, i, d->nfields, sec);
        for (size_t k = i; k < d->nfields; k++) {
            const nk_hdr_field *f = &d->fields[k];
            if (strcmp(f->section ? f->section : "", sec) != 0) continue;
            char val[40];
            fmt_value(val, sizeof val, f);
            if (!runs) {
                if (f->text) nk_printf(o, "%-*s %s%s%s\n", (int)width, f->name, f->width ? "" : "'", f->text,
                                       f->width ? "" : "'");
                else nk_printf(o, "%-*s %s\n", (int)width, f->name, val);
            }
            json_object *j = nk_json_obj(o, jf, NULL);
            nk_json_str(o, j, "name", f->name);
            nk_json_u64(o, j, "offset", f->offset);
            nk_json_int(o, j, "width", f->width);
            if (f->width) nk_json_u64(o, j, "value", f->value);
            if (f->text) nk_json_str(o, j, "text", f->text);
        }
    }
    if (d->nblobs) {
        nk_printf(o, "\nSecondary data:\n");
        json_object *jb = nk_json_arr(o, NULL, "blobs");
        for (size_t i = 0; i < d->nblobs; i++) {
            const nk_blob *b = &d->blobs[i];
            nk_printf(o, "  %-38s at 0x%llx, 0x%llx bytes\n", b->tag, (unsigned long long)b->file_off,
                      (unsigned long long)b->size);
            json_object *j = nk_json_obj(o, jb, NULL);
            nk_json_str(o, j, "tag", b->tag);
            nk_json_u64(o, j, "offset", b->file_off);
            nk_json_u64(o, j, "size", b->size);
        }
    }
    return NTKD_OK;
}
