/* analyze.c: the facts behind `!analyze -v` (see analyze.h).
 *
 * Steps: the bug check (or, for user dumps, the exception stream); the exception facts the
 * parameters carry (exception record, CONTEXT record, trap frame, as the knowledge base's
 * parameter kinds say); the faulting context (the CONTEXT record when a parameter names one,
 * else the dump's exception context, else the dump's first context); the stack walked from it;
 * the blamed frame; the failure bucket and its hash.
 *
 * Blame rule (ntkd's, written after WinDbg's observed behaviour):
 *   1. walking from the top of the faulting stack, the first frame whose module is not part of
 *      Windows is blamed; framework modules (Wdf01000, verifier ...) are proxies and never
 *      blamed by this rule;
 *   2. when every frame is in a Windows module, the faulting frame (frame 0: where the
 *      exception happened, or the bugcheck caller) is blamed.
 * A module is "part of Windows" when it is on the list below, or when its image is available
 * and its version resource says CompanyName "Microsoft Corporation" with the product name
 * "Microsoft(R) Windows(R) Operating System". Inbox drivers such as amdppm.sys therefore fall
 * under rule 2, which gives WinDbg's bucket AV_amdppm!WriteIoMemRawEx for the corpus dump.
 *
 * FAILURE_ID_HASH: WinDbg formats an MD5 of the bucket string as a GUID. No MD5 is available in
 * the libraries ntkd links, so ntkd prints its own stable hash (two FNV-1a 64-bit passes with
 * different offset bases, 128 bits, GUID-formatted); it does not equal WinDbg's value. */
#include <ctype.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "analysis/analyze.h"
#include "kobj/kobj.h"
#include "analysis/bugcheck.h"
#include "analysis/kdiag.h"
#include "analysis/kdiag_fltmgr.h"
#include "code/disasm.h"
#include "code/unwind.h"
#include "dump/context.h"
#include "image/pe.h"
#include "mem/mem.h"
#include "sym/sym.h"
#include "type/type.h"

#define MAX_FRAMES 64

static void note(nk_analysis *a, const char *fmt, const char *arg)
{
    size_t n = strlen(a->notes);
    if (n + 2 >= sizeof a->notes) return;
    snprintf(a->notes + n, sizeof a->notes - n, fmt, arg);
    n = strlen(a->notes);
    if (n + 1 < sizeof a->notes) { a->notes[n] = '\n'; a->notes[n + 1] = 0; }
}

/* ---- module facts -------------------------------------------------------------------------- */

static const char *base_name(const char *p)
{
    const char *b = p;
    for (const char *s = p; *s; s++)
        if (*s == '\\' || *s == '/') b = s + 1;
    return b;
}

static const nk_module *module_at(const ntkd_target *t, uint64_t addr)
{
    for (size_t i = 0; i < t->d.nmodules && i < 100000; i++) {
        const nk_module *m = &t->d.modules[i];
        if (!m->unloaded && addr >= m->base && addr - m->base < m->size) return m;
    }
    return NULL;
}

/* "module" of a description "module!func+0x70" / "module+0x70"; func without offset. */
static void split_sym(const char *desc, char *mod, size_t mlen, char *func, size_t flen)
{
    size_t n = strcspn(desc, "!+");
    snprintf(mod, mlen, "%.*s", (int)(n < 200 ? n : 200), desc);
    func[0] = 0;
    if (desc[n] == '!') {
        const char *f = desc + n + 1;
        const char *plus = strstr(f, "+0x");
        size_t fl = plus ? (size_t)(plus - f) : strlen(f);
        snprintf(func, flen, "%.*s", (int)(fl < 400 ? fl : 400), f);
    }
}

static bool name_in(const char *mod, const char *const *list)
{
    for (size_t i = 0; list[i]; i++)
        if (!strcasecmp(mod, list[i])) return true;
    return false;
}

/* Windows' own modules by the names debuggers give them (module name without extension). */
static const char *const windows_modules[] = {
    "nt", "ntoskrnl", "ntkrnlmp", "ntkrnlpa", "ntkrpamp", "hal", "halmacpi", "halacpi", "kdcom",
    "kdnet", "ci", "clfs", "tm", "pshed", "ntfs", "fltmgr", "ndis", "tcpip", "netio", "acpi",
    "pci", "storport", "classpnp", "disk", "volmgr", "volmgrx", "partmgr", "mountmgr", "ksecdd",
    "cng", "win32k", "win32kbase", "win32kfull", "dxgkrnl", "dxgmms2", "msrpc", "fwpkclnt",
    "wdf01000", "wdfldr", "verifier", "ntdll", "kernel32", "kernelbase", "user32", "gdi32",
    "ole32", "combase", "rpcrt4", "msvcrt", "ucrtbase", "advapi32", "sechost", "shell32",
    "werkernel", NULL};
/* Frameworks: proxies for the driver that uses them, never blamed by rule 1. */
static const char *const framework_modules[] = {"wdf01000", "wdfldr", "verifier", "ndis", NULL};

static bool image_is_windows(ntkd_target *t, uint64_t addr)
{
    uint64_t base;
    struct nk_pe *pe = nk_sym_image_at(t, addr, &base);
    const nk_pe_version *v;
    if (!pe || nk_pe_version_get(pe, &v) != NTKD_OK) return false;
    const char *co = nk_pe_version_string_get(v, "CompanyName");
    const char *prod = nk_pe_version_string_get(v, "ProductName");
    return co && !strcmp(co, "Microsoft Corporation") && prod && strstr(prod, "Windows");
}

static bool is_windows(ntkd_target *t, const char *mod, uint64_t addr)
{
    return name_in(mod, windows_modules) || image_is_windows(t, addr);
}

/* ---- the process name -------------------------------------------------------------------- */

static void process_name(ntkd_target *t, nk_analysis *a)
{
    const nk_dump *d = &t->d;
    if (d->kind == NK_KIND_USER_MINI || (!d->has_bugcheck && d->nmodules && d->modules[0].name)) {
        if (d->nmodules && d->modules[0].name) {
            snprintf(a->process_name, sizeof a->process_name, "%s", base_name(d->modules[0].name));
            snprintf(a->process_source, sizeof a->process_source, "first module of the dump");
        }
        return;
    }
    if (!d->triage.present || !d->triage.process_off) {
        /* full and bitmap dumps: the process of the thread running on the crashing processor */
        uint64_t prcb = 0, cur = 0;
        nk_kthread th;
        nk_kproc pr;
        if (d->kind != NK_KIND_KERNEL_TRIAGE && nk_k_prcb(t, d->bugcheck_cpu, &prcb) == NTKD_OK &&
            nk_k_read(t, prcb, "_KPRCB", "CurrentThread", &cur) == NTKD_OK && cur &&
            nk_k_thread_read(t, cur, &th) == NTKD_OK && nk_k_process_read(t, th.process, &pr) == NTKD_OK &&
            pr.image[0]) {
            snprintf(a->process_name, sizeof a->process_name, "%s", pr.image);
            snprintf(a->process_source, sizeof a->process_source, "the process of the thread running on processor %u",
                     d->bugcheck_cpu);
            return;
        }
        note(a, "PROCESS_NAME: %s", d->kind == NK_KIND_KERNEL_TRIAGE ? "the dump carries no process copy"
                                                                       : "the crashing processor's current thread and "
                                                                         "its process are not readable");
        return;
    }
    nk_typesrc *ts = nk_sym_types(t, "nt");
    uint64_t id;
    nk_tfield fl;
    if (!ts || !nk_type_find(ts, "_EPROCESS", &id) || !nk_type_field(ts, id, "ImageFileName", &fl)) {
        note(a, "PROCESS_NAME: %s", "no kernel types for _EPROCESS.ImageFileName");
        return;
    }
    if (d->triage.process_size && fl.offset + 15 > d->triage.process_size) {
        note(a, "PROCESS_NAME: %s", "ImageFileName lies beyond the triage EPROCESS copy");
        return;
    }
    uint64_t off = d->triage.process_off + fl.offset;
    if (!nk_in_bounds(t->file.size, off, 15)) {
        note(a, "PROCESS_NAME: %s", "the EPROCESS copy lies outside the file");
        return;
    }
    char name[16];
    memcpy(name, t->file.data + off, 15);
    name[15] = 0;
    for (int i = 0; name[i]; i++)
        if (!isprint((unsigned char)name[i])) { name[i] = 0; break; }
    snprintf(a->process_name, sizeof a->process_name, "%s", name);
    snprintf(a->process_source, sizeof a->process_source, "triage EPROCESS copy");
}

/* ---- the hash ------------------------------------------------------------------------------ */

static void bucket_hash(const char *s, char *out, size_t len)
{
    uint64_t h1 = 0xcbf29ce484222325ull, h2 = 0x84222325cbf29ce4ull;
    for (const char *p = s; *p; p++) {
        unsigned c = (unsigned char)tolower((unsigned char)*p);
        h1 = (h1 ^ c) * 0x100000001b3ull;
        h2 = (h2 ^ c) * 0x100000001b3ull;
        h2 ^= h2 >> 29;
    }
    snprintf(out, len, "{%08x-%04x-%04x-%04x-%012llx}", (unsigned)(h1 >> 32), (unsigned)(h1 >> 16) & 0xffff,
             (unsigned)h1 & 0xffff, (unsigned)(h2 >> 48), (unsigned long long)(h2 & 0xffffffffffffull));
}

/* ---- registers text ------------------------------------------------------------------------ */

/* The registers a trap frame saved, in the same rows (unknown ones are not printed). */
static void trap_regs_text(const nk_uregs *r, char *out, size_t len)
{
    const char *const *names = nk_uregs_names(r->arch);
    bool is64 = r->arch != NK_ARCH_X86;
    size_t k = 0, col = 0;
    out[0] = 0;
    if (!names) return;
    for (int i = 0; i < NK_UR_MAX && k < len; i++) {
        if (!names[i] || !(r->valid & (1ull << i))) continue;
        char b[24];
        k += (size_t)snprintf(out + k, len - k, "%s%s=%s", col ? " " : "", names[i], nk_fmt_ptr(b, r->r[i], is64));
        if (++col == 3 && k < len) {
            k += (size_t)snprintf(out + k, len - k, "\n");
            col = 0;
        }
    }
    if (col && k < len) snprintf(out + k, len - k, "\n");
    if (k >= len) out[len - 1] = 0;
}

static void regs_text(const nk_context *c, char *out, size_t len)
{
    out[0] = 0;
    size_t k = 0;
    if (c->arch == NK_ARCH_X64) {
        static const char *const rows[][3] = {{"rax", "rbx", "rcx"}, {"rdx", "rsi", "rdi"},
                                              {"rip", "rsp", "rbp"}, {"r8", "r9", "r10"},
                                              {"r11", "r12", "r13"}, {"r14", "r15", NULL}};
        for (size_t r = 0; r < 6; r++) {
            for (int j = 0; j < 3 && rows[r][j]; j++) {
                uint64_t v = 0;
                char b[24];
                nk_context_get(c, rows[r][j], &v);
                k += (size_t)snprintf(out + k, len - k, "%s%s=%s", j ? " " : "", rows[r][j], nk_fmt_ptr(b, v, true));
                if (k >= len) { out[len - 1] = 0; return; }
            }
            k += (size_t)snprintf(out + k, len - k, "\n");
            if (k >= len) { out[len - 1] = 0; return; }
        }
        uint64_t efl = 0;
        nk_context_get(c, "efl", &efl);
        snprintf(out + k, len - k, "efl=%08llx\n", (unsigned long long)efl);
        return;
    }
    nk_reg regs[80];
    size_t n = nk_context_regs(c, regs, 80), col = 0;
    bool is64 = c->arch != NK_ARCH_X86;
    for (size_t i = 0; i < n; i++) {
        if (!regs[i].avail || regs[i].bits < 32) continue;
        char b[24];
        k += (size_t)snprintf(out + k, len - k, "%s%s=%s", col ? " " : "", regs[i].name, nk_fmt_ptr(b, regs[i].value, is64));
        if (k >= len) { out[len - 1] = 0; return; }
        if (++col == (is64 ? 3u : 6u)) {
            k += (size_t)snprintf(out + k, len - k, "\n");
            col = 0;
            if (k >= len) { out[len - 1] = 0; return; }
        }
    }
    if (col && k + 1 < len) { out[k] = '\n'; out[k + 1] = 0; }
}

/* ---- the analysis -------------------------------------------------------------------------- */

static bool is_exception_code(uint32_t c)
{
    c &= 0x0fffffffu;
    return c == 0x1e || c == 0x7e || c == 0x8e || c == 0x3b || c == 0x50 || c == 0xa || c == 0xd1 ||
           c == 0x1000007e;
}

static void append(char *buf, size_t len, const char *line)
{
    size_t n = strlen(buf);
    if (n < len) snprintf(buf + n, len - n, "%s", line);
}

nk_status nk_analyze(ntkd_target *t, nk_analysis *a)
{
    memset(a, 0, sizeof *a);
    if (!t) return NTKD_E_ARG;
    nk_dump *d = &t->d;
    const bool is64 = d->is64;
    nk_bc_view v;
    memset(&v, 0, sizeof v);
    if (d->has_bugcheck) {
        a->code = d->bugcheck_code;
        for (int i = 0; i < 4; i++) a->params[i] = d->bugcheck_params[i];
        nk_bc_describe(a->code, a->params, d->arch, &v);
        if (v.info && v.info->name) snprintf(a->name, sizeof a->name, "%s", v.info->name);
    }
    process_name(t, a);

    /* exception facts: from the parameters (kernel) or the exception stream (user) */
    uint8_t *cxr_buf = NULL;
    nk_context ctx = {0};
    if (d->has_bugcheck) {
        bool exc = is_exception_code(a->code);
        for (int i = 0; i < 4; i++) {
            const nk_bc_arg *g = &v.args[i];
            if (g->kind == NK_BCK_EXR && g->value) a->exception_record = g->value;
            else if (g->kind == NK_BCK_CXR && g->value) a->context_record = g->value;
            else if (g->kind == NK_BCK_TRAP && g->value) a->trap_frame = g->value;
            else if (g->kind == NK_BCK_STATUS && exc && !a->has_exception && i == 0) {
                a->has_exception = true;
                a->exception_code = (uint32_t)g->value;
            } else if (g->kind == NK_BCK_ADDR && exc && !a->exception_address) {
                a->exception_address = g->value;
            }
        }
        if (a->context_record) {
            size_t n = nk_context_size(d->arch), got = 0;
            cxr_buf = n ? malloc(n) : NULL;
            if (cxr_buf && nk_read_virt(t, a->context_record, cxr_buf, n, &got) == NTKD_OK && got == n) {
                ctx.arch = d->arch;
                ctx.data = cxr_buf;
                ctx.len = n;
                ctx.origin = "context record";
            } else {
                note(a, "CONTEXT: %s", "the context record is not readable in the dump; using the dump's context");
            }
        }
    } else if (d->exception.present) {
        a->has_exception = true;
        a->exception_code = d->exception.code;
        a->exception_address = d->exception.address;
    }
    if (!ctx.data) {
        if (d->exception.present && d->exception.ctx.data) ctx = d->exception.ctx;
        else if (d->ncontexts) ctx = d->contexts[0];
        else if (d->nthreads) ctx = d->threads[0].ctx;
    }

    /* The trap frame: a parameter names it (0x8E...), or, for the faults taken in kernel mode
     * (0xA, 0xD1, 0x50, 0x1E...), the first frame of the crash stack that unwound through a
     * machine frame lies in it. The faulting context is the trap frame's. */
    nk_uregs trap_r;
    bool have_trap = false;
    nk_stack crash_st = {0}; /* the walk from the dump's context, when the trap search made it */
    bool crash_walked = false;
    if (d->has_bugcheck && !a->context_record) {
        uint32_t base_code = a->code & ~0x10000000u;
        bool stack_trap = base_code == 0xA || base_code == 0xD1 || base_code == 0x50 || base_code == 0x1E ||
                          base_code == 0xBE || base_code == 0xFC || base_code == 0xD5 || base_code == 0xD6;
        if (!a->trap_frame && stack_trap && ctx.data && nk_uregs_from_context(&ctx, &trap_r) == NTKD_OK) {
            nk_stack_walk(t, &trap_r, MAX_FRAMES, &crash_st);
            crash_walked = true;
            for (size_t i = 0; i < crash_st.n && !a->trap_frame; i++)
                if (crash_st.f[i].trap) a->trap_frame = nk_trap_of_machframe(t, crash_st.f[i].trap);
        }
        if (a->trap_frame) {
            if (nk_trap_regs(t, a->trap_frame, d->arch, &trap_r) == NTKD_OK) have_trap = true;
            else note(a, "TRAP_FRAME: %.400s", t->ctx->errmsg);
        }
    }

    /* faulting IP and instruction */
    uint64_t pc = ctx.data ? nk_context_pc(&ctx) : 0;
    if (have_trap) {
        unsigned pci = d->arch == NK_ARCH_X86 ? NK_UR_X86_EIP : d->arch == NK_ARCH_ARM64 ? NK_UR_A64_PC : NK_UR_X64_RIP;
        if (trap_r.valid & (1ull << pci)) {
            pc = trap_r.r[pci];
            /* the faulting address is where the trap was taken, not the bug check's caller
             * (0x8E and 0x1E carry it as a parameter, which is kept) */
            uint32_t bc = a->code & ~0x10000000u;
            if (bc != 0x8E && bc != 0x1E) a->exception_address = 0;
        }
    }
    a->faulting_ip = a->exception_address ? a->exception_address : pc;
    if (a->faulting_ip) {
        if (!nk_sym_describe(t, a->faulting_ip, a->faulting_ip_sym, sizeof a->faulting_ip_sym))
            nk_fmt_ptr(a->faulting_ip_sym, a->faulting_ip, is64);
        nk_insn in;
        if (nk_disasm_one(t, d->arch, a->faulting_ip, ctx.data ? &ctx : NULL, &in) || in.len)
            nk_disasm_line(t, d->arch, &in, a->faulting_insn, sizeof a->faulting_insn);
        else note(a, "FAULTING_IP: %s", "the code bytes are not in the dump or the symbol store");
    }
    if (have_trap) trap_regs_text(&trap_r, a->context_regs, sizeof a->context_regs);
    else if (ctx.data) regs_text(&ctx, a->context_regs, sizeof a->context_regs);

    /* the stack */
    nk_stack st = {0};
    nk_uregs r;
    bool walked = false;
    if (crash_walked) {
        /* a trap frame found on the crash stack (0xA, 0xD1, 0x50...): WinDbg's STACK_TEXT is
         * that whole stack, nt!KeBugCheckEx first, through the trap handler's machine frame
         * into the faulting frame; the same walk from the same context is reused */
        st = crash_st;
        memset(&crash_st, 0, sizeof crash_st);
        walked = st.n > 0;
    } else if (have_trap) { /* a parameter names the trap frame (0x8E): its context's stack */
        r = trap_r;
        nk_stack_walk(t, &r, MAX_FRAMES, &st);
        walked = st.n > 0;
    } else if (ctx.data && nk_uregs_from_context(&ctx, &r) == NTKD_OK) {
        nk_stack_walk(t, &r, MAX_FRAMES, &st);
        walked = st.n > 0;
    } else {
        note(a, "STACK_TEXT: %s", "no register context to walk from");
    }
    char mod[256] = "", func[512] = "", desc[512] = "";
    size_t blamed = (size_t)-1;
    bool guess = false; /* frames after one found by stack scan are guesses (as `k` marks them) */
    for (size_t i = 0; i < st.n; i++) {
        const nk_frame *f = &st.f[i];
        char b1[24], b2[24], line[1024];
        if (!nk_sym_describe(t, f->pc, desc, sizeof desc)) nk_fmt_ptr(desc, f->pc, is64);
        if (is64) {
            char a0[24], a1[24], a2[24], a3[24];
            snprintf(line, sizeof line, "%s %s : %s %s %s %s : %s%s\n", nk_fmt_ptr(b1, f->sp, true),
                     nk_fmt_ptr(b2, f->ret, true), nk_fmt_ptr(a0, f->args[0], true), nk_fmt_ptr(a1, f->args[1], true),
                     nk_fmt_ptr(a2, f->args[2], true), nk_fmt_ptr(a3, f->args[3], true), desc,
                     guess ? "  (stack scan: guess)" : "");
        } else {
            snprintf(line, sizeof line, "%s %s %s%s\n", nk_fmt_ptr(b1, f->fp, false), nk_fmt_ptr(b2, f->ret, false), desc,
                     guess ? "  (stack scan: guess)" : "");
        }
        append(a->stack_text, sizeof a->stack_text, line);
        if (f->how == NK_FH_SCAN) guess = true;
        /* rule 1: the first non-Windows, non-framework module from the top */
        if (blamed == (size_t)-1 && (strchr(desc, '!') || nk_sym_module_of(t, f->pc) >= 0)) {
            split_sym(desc, mod, sizeof mod, func, sizeof func);
            if (!name_in(mod, framework_modules) && !is_windows(t, mod, f->pc)) blamed = i;
        }
    }
    if (walked && st.stop[0]) {
        char line[200];
        snprintf(line, sizeof line, "(stack walk ended: %s)\n", st.stop);
        append(a->stack_text, sizeof a->stack_text, line);
    }

    /* the blamed frame */
    uint64_t blame_pc = 0;
    if (blamed != (size_t)-1) {
        blame_pc = st.f[blamed].pc;
        snprintf(a->blame_rule, sizeof a->blame_rule,
                 "first frame from the top in a module that is not part of Windows (frame %zu)", blamed);
    } else if (a->faulting_ip) {
        blame_pc = a->faulting_ip;
        snprintf(a->blame_rule, sizeof a->blame_rule, "%s",
                 walked ? "every frame is in a Windows module: the faulting frame's module is blamed"
                        : "no stack frames: the faulting frame's module is blamed");
    } else if (st.n) {
        blame_pc = st.f[0].pc;
        snprintf(a->blame_rule, sizeof a->blame_rule, "no faulting address: the top frame is blamed");
    }
    nk_stack_free(&st);
    nk_stack_free(&crash_st);
    free(cxr_buf);

    if (blame_pc && nk_sym_describe(t, blame_pc, desc, sizeof desc)) {
        split_sym(desc, mod, sizeof mod, func, sizeof func);
        snprintf(a->module_name, sizeof a->module_name, "%s", mod);
        const char *plus = strstr(desc, "+0x");
        if (func[0] && plus)
            snprintf(a->symbol_name, sizeof a->symbol_name, "%s!%s+%s", mod, func, plus + 3);
        else if (func[0])
            snprintf(a->symbol_name, sizeof a->symbol_name, "%s!%s", mod, func);
        else
            snprintf(a->symbol_name, sizeof a->symbol_name, "%s", mod);
        const nk_module *m = module_at(t, blame_pc);
        if (m && m->name) {
            snprintf(a->image_name, sizeof a->image_name, "%s", base_name(m->name));
            a->image_timestamp = m->timestamp;
            if (m->has_version)
                snprintf(a->image_version, sizeof a->image_version, "%u.%u.%u.%u", m->file_version_ms >> 16,
                         m->file_version_ms & 0xffff, m->file_version_ls >> 16, m->file_version_ls & 0xffff);
        }
        /* kernel dumps: the dump carries no module list of its own; the loaded-module list
         * the symbol layer read names the image (faulty.sys) */
        if (!a->image_name[0]) nk_kd_image(t, blame_pc, a->image_name, sizeof a->image_name);
        if (!a->image_version[0]) {
            uint64_t base;
            struct nk_pe *pe = nk_sym_image_at(t, blame_pc, &base);
            const nk_pe_version *pv;
            if (pe && nk_pe_version_get(pe, &pv) == NTKD_OK && pv->has_fixed)
                snprintf(a->image_version, sizeof a->image_version, "%u.%u.%u.%u", pv->file_version[0],
                         pv->file_version[1], pv->file_version[2], pv->file_version[3]);
        }
        if (!func[0]) note(a, "SYMBOL_NAME: no function symbols for %s: the bucket names the module only", mod);
    } else if (blame_pc) {
        note(a, "MODULE_NAME: %s", "the blamed address is in no known module");
    }

    /* kernel diagnoses (kdiag.c): a blocked IRP (0x9F/3), a long DPC (0x133), deadlocks; may
       blame a driver and set the bucket */
    nk_kd_analyze(t, a);
    nk_kd_fltmgr_analyze(t, a); /* a legacy filter above a higher minifilter (kdiag_fltmgr.c) */

    /* the bucket: _M codes (0x1000007E) bucket as their base code, as WinDbg does */
    const uint32_t bcode = (a->code & 0xf0000000u) == 0x10000000u ? a->code & 0x0fffffffu : a->code;
    char where[400];
    if (func[0] && a->module_name[0]) snprintf(where, sizeof where, "%s!%s", a->module_name, func);
    else if (a->module_name[0]) snprintf(where, sizeof where, "%s", a->module_name);
    else snprintf(where, sizeof where, "UNKNOWN");
    if (!a->module_name[0]) func[0] = 0;
    if (a->bucket[0]) {
        /* set by the kernel diagnosis */
    } else if (d->has_bugcheck) {
        if ((a->has_exception && a->exception_code == 0xc0000005u) ||
            (have_trap && (bcode == 0xA || bcode == 0xD1)))
            /* an access violation, or a page fault at raised IRQL taken through a trap frame:
             * WinDbg buckets both AV_<module>!<function> */
            snprintf(a->bucket, sizeof a->bucket, "AV_%.200s", where);
        else if (a->has_exception)
            snprintf(a->bucket, sizeof a->bucket, "0x%X_%08x_%.200s", bcode, a->exception_code, where);
        else
            snprintf(a->bucket, sizeof a->bucket, "0x%X_%.200s", bcode, where);
    } else if (a->has_exception) {
        /* user mode, WinDbg's style: CLASS_<code>_<image>!<function>, the image with its
         * extension; an access violation's class from its parameters (kind of access, and
         * whether the address lies in the first 64 KiB) */
        char uwhere[400];
        if (a->image_name[0] && func[0]) snprintf(uwhere, sizeof uwhere, "%.120s!%.250s", a->image_name, func);
        else if (a->image_name[0]) snprintf(uwhere, sizeof uwhere, "%.120s", a->image_name);
        else snprintf(uwhere, sizeof uwhere, "%.200s", where);
        const nk_exception *x = &d->exception;
        if (a->exception_code == 0x80000003u) {
            snprintf(a->bucket, sizeof a->bucket, "BREAKPOINT_80000003_%.200s", uwhere);
        } else if (a->exception_code == 0xc0000005u && x->nparams >= 2) {
            const char *kind = x->params[0] == 1 ? "WRITE" : x->params[0] == 8 ? "EXECUTE" : "READ";
            snprintf(a->bucket, sizeof a->bucket, "%s_POINTER_%s_c0000005_%.200s",
                     x->params[1] < 0x10000 ? "NULL" : "INVALID", kind, uwhere);
        } else {
            snprintf(a->bucket, sizeof a->bucket, "APPLICATION_FAULT_%08x_%.200s", a->exception_code, uwhere);
        }
    } else {
        snprintf(a->bucket, sizeof a->bucket, "NO_EXCEPTION_%.200s", where);
    }
    bucket_hash(a->bucket, a->bucket_hash, sizeof a->bucket_hash);
    return NTKD_OK;
}

json_object *nk_analysis_json(const nk_analysis *a)
{
    json_object *o = json_object_new_object();
    if (!o) return NULL;
    char b[32];
#define HEX(k, v) (snprintf(b, sizeof b, "0x%llx", (unsigned long long)(v)), json_object_object_add(o, k, json_object_new_string(b)))
#define STR(k, v) do { if ((v)[0]) json_object_object_add(o, k, json_object_new_string(v)); } while (0)
    HEX("bugcheck_code", a->code);
    STR("bugcheck_name", a->name);
    json_object *p = json_object_new_array();
    for (int i = 0; i < 4 && p; i++) {
        snprintf(b, sizeof b, "0x%llx", (unsigned long long)a->params[i]);
        json_object_array_add(p, json_object_new_string(b));
    }
    if (p) json_object_object_add(o, "bugcheck_params", p);
    STR("process_name", a->process_name);
    json_object_object_add(o, "has_exception", json_object_new_boolean(a->has_exception));
    if (a->has_exception) {
        snprintf(b, sizeof b, "%08x", a->exception_code);
        json_object_object_add(o, "exception_code", json_object_new_string(b));
        const char *n = nk_ntstatus_name(a->exception_code, NULL);
        if (n) json_object_object_add(o, "exception_code_str", json_object_new_string(n));
        HEX("exception_address", a->exception_address);
    }
    if (a->exception_record) HEX("exception_record", a->exception_record);
    if (a->context_record) HEX("context_record", a->context_record);
    if (a->trap_frame) HEX("trap_frame", a->trap_frame);
    if (a->faulting_ip) HEX("faulting_ip", a->faulting_ip);
    STR("faulting_ip_symbol", a->faulting_ip_sym);
    STR("faulting_instruction", a->faulting_insn);
    STR("stack_text", a->stack_text);
    STR("symbol_name", a->symbol_name);
    STR("module_name", a->module_name);
    STR("image_name", a->image_name);
    STR("image_version", a->image_version);
    if (a->image_timestamp) HEX("image_timestamp", a->image_timestamp);
    STR("failure_bucket_id", a->bucket);
    STR("failure_id_hash", a->bucket_hash);
    json_object_object_add(o, "failure_id_hash_kind", json_object_new_string("ntkd FNV-1a 128-bit (not WinDbg's MD5)"));
    STR("blame_rule", a->blame_rule);
    STR("notes", a->notes);
    if (a->nkfacts) {
        json_object *kf = json_object_new_object();
        for (size_t i = 0; kf && i < a->nkfacts && i < NK_AN_MAX_KFACTS; i++)
            json_object_object_add(kf, a->kfacts[i].key, json_object_new_string(a->kfacts[i].value));
        if (kf) json_object_object_add(o, "kernel_facts", kf);
    }
#undef HEX
#undef STR
    return o;
}

void nk_an_fact(nk_analysis *a, const char *key, const char *fmt, ...)
{
    if (a->nkfacts >= NK_AN_MAX_KFACTS) return;
    nk_afact *f = &a->kfacts[a->nkfacts++];
    snprintf(f->key, sizeof f->key, "%s", key);
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(f->value, sizeof f->value, fmt, ap);
    va_end(ap);
}

void nk_an_fact_more(nk_analysis *a, const char *fmt, ...)
{
    if (!a->nkfacts) return;
    nk_afact *f = &a->kfacts[a->nkfacts - 1];
    size_t n = strlen(f->value);
    if (n + 1 >= sizeof f->value) return;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(f->value + n, sizeof f->value - n, fmt, ap);
    va_end(ap);
}

void nk_an_note(nk_analysis *a, const char *fmt, ...)
{
    size_t n = strlen(a->notes);
    if (n + 2 >= sizeof a->notes) return;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(a->notes + n, sizeof a->notes - n, fmt, ap);
    va_end(ap);
    n = strlen(a->notes);
    if (n + 1 < sizeof a->notes) {
        a->notes[n] = '\n';
        a->notes[n + 1] = 0;
    }
}
