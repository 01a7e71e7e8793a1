/* gen_context.c: register contexts (AMD64 0x4d0, i386 0x2cc, ARM64 0x390 bytes) with distinct,
 * known register values, and their `reg` manifest lines (WinDbg register names). */
#include "gen.h"

#include <string.h>

size_t ctx_size(gen_arch a)
{
    switch (a) {
    case GA_X64: return sizeof(gd_context_amd64);
    case GA_ARM64: return sizeof(gd_context_arm64);
    case GA_X86PAE:
    case GA_X86: return sizeof(gd_context_x86);
    }
    return 0;
}

/* `reg NAME VALUE`, or `header PREFIXNAME VALUE` when a prefix is given (contexts other
 * than the first one, e.g. a minidump's exception context as header Ecxr.rip). */
static void reg_line(gen_mf *m, const char *prefix, const char *name, uint64_t v)
{
    if (!m)
        return;
    if (prefix)
        mf_line(m, "header %s%s 0x%llx", prefix, name, (unsigned long long)v);
    else
        mf_line(m, "reg %s 0x%llx", name, (unsigned long long)v);
}
#define reg(m, name, v) reg_line((m), prefix, (name), (v))

typedef struct segs {
    uint16_t cs, ss, ds, es, fs, gs;
} segs;

static size_t ctx_amd64(uint8_t *out, uint64_t pc, uint64_t sp, uint64_t salt, bool user,
                        gen_mf *m, const char *prefix)
{
    gd_context_amd64 c;
    memset(&c, 0, sizeof c);
    const uint64_t hi = user ? 0x000001c2a4e30000ULL : 0xffffd50c1a2b0000ULL;
    const uint64_t s = salt << 20;
    const segs sg = user ? (segs){0x33, 0x2b, 0x2b, 0x2b, 0x53, 0x2b}
                         : (segs){0x10, 0x18, 0x2b, 0x2b, 0x53, 0x2b};
    c.context_flags = GD_CONTEXT_AMD64 | 0x1f; /* control, integer, segments, floating, debug */
    c.mx_csr = c.mx_csr2 = 0x1f80;
    c.mx_csr_mask = 0x2ffff;
    c.control_word = 0x27f;
    c.seg_cs = sg.cs;
    c.seg_ss = sg.ss;
    c.seg_ds = sg.ds;
    c.seg_es = sg.es;
    c.seg_fs = sg.fs;
    c.seg_gs = sg.gs;
    c.eflags = user ? 0x10246 : 0x50246;
    c.rax = hi + s + 0x3c40;
    c.rbx = hi + s + 0x4d50;
    c.rcx = user ? 0x000000000000001eULL + salt : 0x1e;
    c.rdx = user ? hi + s + 0x0228 : 0xffffffffc0000005ULL;
    c.rsi = hi + s + 0x5e60;
    c.rdi = hi + s + 0x6f70;
    c.rbp = sp + 0x80;
    c.rsp = sp;
    c.r8 = hi + s + 0x8008;
    c.r9 = hi + s + 0x9009;
    c.r10 = hi + s + 0xa010;
    c.r11 = hi + s + 0xb011;
    c.r12 = 0xc012 + s;
    c.r13 = 0xd013 + s;
    c.r14 = hi + s + 0xe014;
    c.r15 = hi + s + 0xf015;
    c.rip = pc;
    memcpy(out, &c, sizeof c);
    reg(m, "rax", c.rax);
    reg(m, "rbx", c.rbx);
    reg(m, "rcx", c.rcx);
    reg(m, "rdx", c.rdx);
    reg(m, "rsi", c.rsi);
    reg(m, "rdi", c.rdi);
    reg(m, "rip", c.rip);
    reg(m, "rsp", c.rsp);
    reg(m, "rbp", c.rbp);
    reg(m, "r8", c.r8);
    reg(m, "r9", c.r9);
    reg(m, "r10", c.r10);
    reg(m, "r11", c.r11);
    reg(m, "r12", c.r12);
    reg(m, "r13", c.r13);
    reg(m, "r14", c.r14);
    reg(m, "r15", c.r15);
    reg(m, "efl", c.eflags);
    reg(m, "cs", c.seg_cs);
    reg(m, "ss", c.seg_ss);
    reg(m, "ds", c.seg_ds);
    reg(m, "es", c.seg_es);
    reg(m, "fs", c.seg_fs);
    reg(m, "gs", c.seg_gs);
    reg(m, "mxcsr", c.mx_csr);
    return sizeof c;
}

static size_t ctx_i386(uint8_t *out, uint64_t pc, uint64_t sp, uint64_t salt, bool user,
                       gen_mf *m, const char *prefix)
{
    gd_context_x86 c;
    memset(&c, 0, sizeof c);
    const uint32_t hi = user ? 0x00c40000u : 0x8a1b0000u;
    const uint32_t s = (uint32_t)salt << 12;
    const segs sg = user ? (segs){0x1b, 0x23, 0x23, 0x23, 0x3b, 0x00}
                         : (segs){0x08, 0x10, 0x23, 0x23, 0x30, 0x00};
    c.context_flags = GD_CONTEXT_I386 | 0x3f; /* all, including extended registers */
    c.control_word = 0xffff027f;
    c.seg_cs = sg.cs;
    c.seg_ss = sg.ss;
    c.seg_ds = sg.ds;
    c.seg_es = sg.es;
    c.seg_fs = sg.fs;
    c.seg_gs = sg.gs;
    c.eflags = user ? 0x10246 : 0x00246;
    c.eax = hi + s + 0x2c30;
    c.ebx = hi + s + 0x3d41;
    c.ecx = user ? 0x1e + (uint32_t)salt : 0x1e;
    c.edx = user ? hi + s + 0x0228 : 0xc0000005u;
    c.esi = hi + s + 0x4e52;
    c.edi = hi + s + 0x5f63;
    c.ebp = (uint32_t)sp + 0x40;
    c.esp = (uint32_t)sp;
    c.eip = (uint32_t)pc;
    put32(c.extended_registers + 0x18, 0x1f80); /* FXSAVE MXCSR */
    memcpy(out, &c, sizeof c);
    reg(m, "eax", c.eax);
    reg(m, "ebx", c.ebx);
    reg(m, "ecx", c.ecx);
    reg(m, "edx", c.edx);
    reg(m, "esi", c.esi);
    reg(m, "edi", c.edi);
    reg(m, "eip", c.eip);
    reg(m, "esp", c.esp);
    reg(m, "ebp", c.ebp);
    reg(m, "efl", c.eflags);
    reg(m, "cs", c.seg_cs);
    reg(m, "ss", c.seg_ss);
    reg(m, "ds", c.seg_ds);
    reg(m, "es", c.seg_es);
    reg(m, "fs", c.seg_fs);
    reg(m, "gs", c.seg_gs);
    return sizeof c;
}

static size_t ctx_a64(uint8_t *out, uint64_t pc, uint64_t sp, uint64_t salt, bool user,
                      gen_mf *m, const char *prefix)
{
    gd_context_arm64 c;
    memset(&c, 0, sizeof c);
    const uint64_t hi = user ? 0x000001c2a4e30000ULL : 0xffffe00e0e4b0000ULL;
    c.context_flags = GD_CONTEXT_ARM64 | 0x7; /* control, integer, floating point */
    c.cpsr = user ? 0x60000000u : 0x60000145u;
    c.x[0] = user ? 0x1e + salt : 0x1e;
    c.x[1] = user ? hi + 0x0228 : 0xffffffffc0000005ULL;
    for (int i = 2; i < 29; i++)
        c.x[i] = hi + (salt << 20) + (uint64_t)i * 0x1110 + 0x8;
    c.x[29] = sp + 0x40;   /* fp */
    c.x[30] = pc + 0x4c4;  /* lr */
    c.sp = sp;
    c.pc = pc;
    c.fpcr = 0;
    c.fpsr = 0x10;
    memcpy(out, &c, sizeof c);
    char name[8];
    for (int i = 0; i < 29; i++) {
        snprintf(name, sizeof name, "x%d", i);
        reg(m, name, c.x[i]);
    }
    reg(m, "fp", c.x[29]);
    reg(m, "lr", c.x[30]);
    reg(m, "sp", c.sp);
    reg(m, "pc", c.pc);
    reg(m, "cpsr", c.cpsr);
    return sizeof c;
}

size_t ctx_kernel(gen_arch a, uint8_t *out, uint64_t pc, uint64_t sp, uint64_t salt, gen_mf *m)
{
    const char *prefix = NULL;
    switch (a) {
    case GA_X64: return ctx_amd64(out, pc, sp, salt, false, m, prefix);
    case GA_ARM64: return ctx_a64(out, pc, sp, salt, false, m, prefix);
    case GA_X86PAE:
    case GA_X86: return ctx_i386(out, pc, sp, salt, false, m, prefix);
    }
    return 0;
}

size_t ctx_user(gen_arch a, uint8_t *out, uint64_t pc, uint64_t sp, uint64_t salt, gen_mf *m,
                const char *prefix)
{
    switch (a) {
    case GA_X64: return ctx_amd64(out, pc, sp, salt, true, m, prefix);
    case GA_ARM64: return ctx_a64(out, pc, sp, salt, true, m, prefix);
    case GA_X86PAE:
    case GA_X86: return ctx_i386(out, pc, sp, salt, true, m, prefix);
    }
    return 0;
}
