/* cmd_regs.c: `r` in WinDbg's shapes, and the one-instruction disassembler it shows.
 *
 * x64:
 *   rax=0000000000000005 rbx=0000000000000000 rcx=ffffc00002b737a0
 *   ... (rdx rsi rdi / rip rsp rbp / r8 r9 r10 / r11 r12 r13 / r14 r15)
 *   iopl=0         nv up ei ng nz na po nc
 *   cs=0010  ss=0018  ds=002b  es=002b  fs=0053  gs=002b             efl=00000282
 *   fffff803`b20565a3 f0480fc15ed0    lock xadd qword ptr [rsi-30h],rbx ds:ffffffff`ffffffd0=????????????????
 * x86:
 *   eax=00000000 ebx=00008022 ecx=7ffd8000 edx=00000002 esi=05abf03c edi=00000000
 *   eip=75b88e7a esp=05abeb20 ebp=05abeb3c iopl=0         nv up ei pl zr na pe nc
 *   cs=001b  ss=0023  ds=0023  es=0023  fs=003b  gs=0000             efl=00000246
 * ARM64:
 *    x0=...   x1=...   x2=...   x3=...        (four a line, to "x28 fp lr sp")
 *    pc=00007ffea80e30f4  psr=60000000 -ZC- EL0
 *
 * The instruction line comes from the code layer's disassembler (code/disasm.h). The symbol
 * line above the instruction ("nt!KeBugCheckEx:") comes from the symbol layer's hook when
 * installed. */
#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>

#include "cmd/cmd.h"
#include "dump/context.h"
#include "expr/expr.h"

/* ---- r ---------------------------------------------------------------------------------- */

static const char *x86_flags_text(uint64_t efl, char *buf, size_t len)
{
    snprintf(buf, len, "%s %s %s %s %s %s %s %s", (efl >> 11) & 1 ? "ov" : "nv",
             (efl >> 10) & 1 ? "dn" : "up", (efl >> 9) & 1 ? "ei" : "di", (efl >> 7) & 1 ? "ng" : "pl",
             (efl >> 6) & 1 ? "zr" : "nz", (efl >> 4) & 1 ? "ac" : "na", (efl >> 2) & 1 ? "pe" : "po",
             efl & 1 ? "cy" : "nc");
    return buf;
}

/* "name=value" with the value as wide as the register ('?' when the context lacks it). */
static void put_reg(nk_strbuf *sb, const nk_context *c, const char *name, int namew)
{
    uint64_t v = 0;
    uint8_t bits = 64;
    nk_reg_status st = nk_context_lookup(c, name, &v, &bits);
    int digits = bits >= 8 ? bits / 4 : 1;
    if (st == NK_REG_OK) nk_sb_printf(sb, "%*s=%0*llx", namew, name, digits, (unsigned long long)v);
    else nk_sb_printf(sb, "%*s=%.*s", namew, name, digits, "????????????????");
}

static uint64_t reg_or0(const nk_context *c, const char *name)
{
    uint64_t v = 0;
    nk_context_get(c, name, &v);
    return v;
}

/* The registers `r` shows: the frame `.frame N` selected (cmd_stack.c), else cur_ctx. */
static const nk_context *shown_ctx(const ntkd_target *t)
{
    return (t->frame_ctx.len && t->frame_ctx.data && t->frame_of == t->cur_ctx.data) ? &t->frame_ctx : &t->cur_ctx;
}

static void show_all(nk_cmd_env *e)
{
    ntkd_target *t = e->t;
    nk_out *o = e->o;
    const nk_context *c = shown_ctx(t);
    nk_strbuf sb = {0};
    char fl[64];
    if (c->arch == NK_ARCH_X64) {
        static const char *const rows[6][3] = {{"rax", "rbx", "rcx"}, {"rdx", "rsi", "rdi"},
                                               {"rip", "rsp", "rbp"}, {"r8", "r9", "r10"},
                                               {"r11", "r12", "r13"}, {"r14", "r15", NULL}};
        for (int r = 0; r < 6; r++) {
            for (int k = 0; k < 3 && rows[r][k]; k++) {
                if (k) nk_sb_printf(&sb, " ");
                put_reg(&sb, c, rows[r][k], 3);
            }
            nk_sb_printf(&sb, "\n");
        }
    } else if (c->arch == NK_ARCH_X86) {
        static const char *const r1[] = {"eax", "ebx", "ecx", "edx", "esi", "edi"};
        static const char *const r2[] = {"eip", "esp", "ebp"};
        for (int k = 0; k < 6; k++) {
            if (k) nk_sb_printf(&sb, " ");
            put_reg(&sb, c, r1[k], 3);
        }
        nk_sb_printf(&sb, "\n");
        for (int k = 0; k < 3; k++) {
            put_reg(&sb, c, r2[k], 3);
            nk_sb_printf(&sb, " ");
        }
    }
    if (c->arch == NK_ARCH_X64 || c->arch == NK_ARCH_X86) {
        uint64_t efl = reg_or0(c, "efl");
        nk_sb_printf(&sb, "iopl=%x%s%s %s\n", (unsigned)((efl >> 12) & 3), (efl >> 20) & 1 ? " vip" : "    ",
                     (efl >> 19) & 1 ? " vif" : "    ", x86_flags_text(efl, fl, sizeof fl));
        static const char *const segs[] = {"cs", "ss", "ds", "es", "fs", "gs"};
        for (int k = 0; k < 6; k++) {
            put_reg(&sb, c, segs[k], 2);
            nk_sb_printf(&sb, "  ");
        }
        nk_sb_printf(&sb, "           ");
        put_reg(&sb, c, "efl", 3);
        nk_sb_printf(&sb, "\n");
        nk_json_str(o, NULL, "flags", fl);
    } else if (c->arch == NK_ARCH_ARM64) {
        static const char *const names[] = {"x0", "x1", "x2", "x3", "x4", "x5", "x6", "x7", "x8",
                                            "x9", "x10", "x11", "x12", "x13", "x14", "x15", "x16",
                                            "x17", "x18", "x19", "x20", "x21", "x22", "x23", "x24",
                                            "x25", "x26", "x27", "x28", "fp", "lr", "sp"};
        for (int i = 0; i < 32; i++) {
            if (i % 4) nk_sb_printf(&sb, "  ");
            put_reg(&sb, c, names[i], 3);
            if (i % 4 == 3) nk_sb_printf(&sb, "\n");
        }
        uint64_t psr = reg_or0(c, "cpsr");
        snprintf(fl, sizeof fl, "%c%c%c%c", (psr >> 31) & 1 ? 'N' : '-', (psr >> 30) & 1 ? 'Z' : '-',
                 (psr >> 29) & 1 ? 'C' : '-', (psr >> 28) & 1 ? 'V' : '-');
        put_reg(&sb, c, "pc", 3);
        nk_sb_printf(&sb, "  ");
        put_reg(&sb, c, "psr", 3);
        nk_sb_printf(&sb, " %s EL%u\n", fl, (unsigned)((psr >> 2) & 3));
        nk_json_str(o, NULL, "nzcv", fl);
    }
    nk_printf(o, "%s", sb.s ? sb.s : "");
    nk_sb_free(&sb);

    json_object *jr = nk_json_obj(o, NULL, "registers");
    nk_reg regs[64];
    size_t n = nk_context_regs(c, regs, 64);
    for (size_t i = 0; i < n; i++) {
        if (regs[i].avail) nk_json_u64(o, jr, regs[i].name, regs[i].value);
        else if (jr) json_object_object_add(jr, regs[i].name, NULL);
    }

    /* the instruction at the program counter */
    uint64_t pc;
    if (!nk_context_get(c, c->arch == NK_ARCH_X64 ? "rip" : c->arch == NK_ARCH_X86 ? "eip" : "pc", &pc))
        return;
    char sym[256];
    if (nk_sym_describe_addr(t, pc, sym, sizeof sym)) nk_printf(o, "%s:\n", sym);
    nk_insn in;
    nk_disasm_one(t, c->arch, pc, c, &in);
    char linebuf[512];
    nk_disasm_line(t, c->arch, &in, linebuf, sizeof linebuf);
    nk_printf(o, "%s\n", linebuf);
    json_object *ji = nk_json_obj(o, NULL, "instruction");
    nk_json_u64(o, ji, "address", pc);
    char hex[40] = "";
    for (unsigned i = 0; i < in.len && 2 * i + 2 < sizeof hex; i++)
        snprintf(hex + 2 * i, sizeof hex - 2 * i, "%02x", in.bytes[i]);
    nk_json_str(o, ji, "bytes", in.len ? hex : NULL);
    nk_json_str(o, ji, "text", in.text);
    if (sym[0]) nk_json_str(o, ji, "symbol", sym);
    if (in.effective[0]) nk_json_str(o, ji, "effective", in.effective);
}

nk_status cmd_r(nk_cmd_env *e, const char *a)
{
    ntkd_target *t = e->t;
    nk_out *o = e->o;
    const char *s = nk_skip_ws(a);
    bool have_ctx = t->cur_ctx.data && t->cur_ctx.len && t->cur_ctx.arch != NK_ARCH_UNKNOWN;
    if (!*s) {
        if (!have_ctx) {
            nk_cmd_error(o, "r: the dump holds no register context");
            return NTKD_E_NOTFOUND;
        }
        show_all(e);
        return NTKD_OK;
    }
    json_object *jr = nk_json_obj(o, NULL, "registers");
    for (int guard = 0; *s && guard < 256; guard++) {
        const char *start = s;
        char name[64];
        size_t n = 0;
        if (*s == '@') s++;
        while (*s && (isalnum((unsigned char)*s) || *s == '$' || *s == '_') && n + 1 < sizeof name)
            name[n++] = (char)tolower((unsigned char)*s++);
        name[n] = 0;
        s = nk_skip_ws(s);
        if (!n) {
            nk_cmd_error(o, "Syntax error at '%s'", start);
            return NTKD_E_ARG;
        }
        if (*s == '=') {
            /* assignments: only the $t0-$t19 pseudo-registers; a dump's registers stay as
               the dump recorded them */
            const char *end;
            uint64_t v;
            char err[256];
            if (nk_eval(t, s + 1, &end, &v, err, sizeof err) != NTKD_OK) {
                nk_cmd_error(o, "%s", err);
                return NTKD_E_ARG;
            }
            char *numend;
            unsigned long idx = (name[0] == '$' && name[1] == 't') ? strtoul(name + 2, &numend, 10) : 99;
            if (idx >= 20 || *numend || !isdigit((unsigned char)name[2])) {
                nk_cmd_error(o, "r: only the pseudo-registers $t0-$t19 can be set; '%s' stays as the dump recorded it", name);
                return NTKD_E_ARG;
            }
            t->pseudo_t[idx] = v;
            nk_json_u64(o, jr, name, v);
            s = nk_skip_ws(end);
        } else {
            uint64_t v = 0;
            int digits;
            if (name[0] == '$') {
                char err[256];
                const char *end;
                if (nk_eval(t, name, &end, &v, err, sizeof err) != NTKD_OK || *end) {
                    nk_cmd_error(o, "Bad register error at '%s'", start);
                    return NTKD_E_NOTFOUND;
                }
                digits = t->d.is64 ? 16 : 8;
            } else {
                uint8_t bits = 64;
                nk_reg_status st = have_ctx ? nk_context_lookup(shown_ctx(t), name, &v, &bits) : NK_REG_UNKNOWN;
                if (st == NK_REG_UNAVAILABLE) {
                    nk_cmd_error(o, "r: %s is not in this dump's context (%zu bytes)", name, t->cur_ctx.len);
                    return NTKD_E_NOTPRESENT;
                }
                if (st != NK_REG_OK) {
                    nk_cmd_error(o, "Bad register error at '%s'", start);
                    return NTKD_E_NOTFOUND;
                }
                digits = bits >= 8 ? bits / 4 : 1;
            }
            nk_printf(o, "%s=%0*llx\n", name, digits, (unsigned long long)v);
            nk_json_u64(o, jr, name, v);
        }
        if (*s == ',') s = nk_skip_ws(s + 1);
    }
    return NTKD_OK;
}
