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
 * x86/x64 instructions are decoded by Zydis and printed the way WinDbg prints them (Intel
 * syntax, hexadecimal with an 'h' suffix and a leading 0 before a letter, no space after a
 * comma, mnemonic padded to 7 columns); ARM64 instructions by Capstone. The symbol line above
 * the instruction ("nt!KeBugCheckEx:") comes from the symbol layer's hook when installed. */
#include <capstone/capstone.h>
#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <Zycore/Format.h>
#include <Zydis/Zydis.h>

#include "cmd/cmd.h"
#include "dump/context.h"
#include "expr/expr.h"

/* ---- text helpers ----------------------------------------------------------------------- */

/* Replaces every whole-word occurrence of `from` by `to` in s (capacity cap). */
static void replace_word(char *s, size_t cap, const char *from, const char *to)
{
    size_t fl = strlen(from), tl = strlen(to);
    char *p = s;
    while ((p = strstr(p, from)) != NULL) {
        bool left = p == s || !(isalnum((unsigned char)p[-1]) || p[-1] == '_');
        bool right = !(isalnum((unsigned char)p[fl]) || p[fl] == '_');
        if (!left || !right) {
            p += fl;
            continue;
        }
        size_t rest = strlen(p + fl);
        if ((size_t)(p - s) + tl + rest + 1 > cap) return;
        memmove(p + tl, p + fl, rest + 1);
        memcpy(p, to, tl);
        p += tl;
    }
}

/* "a, b" -> "a,b" */
static void squeeze_commas(char *s)
{
    char *w = s;
    for (const char *r = s; *r; r++) {
        *w++ = *r;
        if (*r == ',') while (r[1] == ' ') r++;
    }
    *w = 0;
}

/* WinDbg writes hexadecimal numbers below 10 without the 'h' suffix: "8h" -> "8". */
static void strip_small_hex(char *s, size_t cap)
{
    char out[256];
    size_t k = 0;
    for (size_t i = 0; s[i] && k + 1 < sizeof out; i++) {
        if (s[i] == 'h' && i > 0 && isdigit((unsigned char)s[i - 1]) &&
            !(isalnum((unsigned char)s[i + 1]) || s[i + 1] == '_')) {
            size_t b = i;
            while (b > 0 && isalnum((unsigned char)s[b - 1])) b--; /* start of the word */
            bool small = b == 0 || s[b - 1] != '_';
            for (size_t j = b; j + 1 < i && small; j++) small = s[j] == '0'; /* zeros, one digit */
            if (small) continue; /* drop the 'h' */
        }
        out[k++] = s[i];
    }
    out[k] = 0;
    snprintf(s, cap, "%s", out);
}

/* MASM writes a hexadecimal number that begins with a letter with a leading 0: "0Ch".
 * Zydis prints hexadecimal digits in upper case and registers in lower case, so an upper-case
 * word of hex digits ending in 'h' is a number. */
static void lead_zero_hex(char *s, size_t cap)
{
    for (size_t i = 0; s[i]; i++) {
        if (!(s[i] >= 'A' && s[i] <= 'F')) continue;
        if (i > 0 && (isalnum((unsigned char)s[i - 1]) || s[i - 1] == '_' || s[i - 1] == '!')) continue;
        size_t j = i;
        while ((s[j] >= '0' && s[j] <= '9') || (s[j] >= 'A' && s[j] <= 'F')) j++;
        if (s[j] != 'h' || isalnum((unsigned char)s[j + 1]) || s[j + 1] == '_') continue;
        size_t len = strlen(s);
        if (len + 2 > cap) return;
        memmove(s + i + 1, s + i, len - i + 1);
        s[i] = '0';
        i = j + 1;
    }
}

/* ---- x86 / x64 (Zydis) ------------------------------------------------------------------ */

typedef struct zy_user {
    ntkd_target *t;
    bool is64;
} zy_user;

/* Absolute addresses (branch targets, rip-relative operands) in WinDbg's address style. */
static ZyanStatus zy_print_address_abs(const ZydisFormatter *f, ZydisFormatterBuffer *buf,
                                       ZydisFormatterContext *ctx)
{
    (void)f;
    ZyanU64 addr;
    ZYAN_CHECK(ZydisCalcAbsoluteAddress(ctx->instruction, ctx->operand, ctx->runtime_address, &addr));
    ZYAN_CHECK(ZydisFormatterBufferAppend(buf, ZYDIS_TOKEN_ADDRESS_ABS));
    ZyanString *str;
    ZYAN_CHECK(ZydisFormatterBufferGetString(buf, &str));
    const zy_user *u = ctx->user_data;
    char ab[24], sym[200];
    nk_fmt_ptr(ab, addr, u && u->is64);
    /* with symbols, WinDbg writes "je      ntdll!RtlFoo+0x21 (00007ffc`0f1d4961)" */
    if (u && u->t && nk_sym_describe_addr(u->t, addr, sym, sizeof sym))
        return ZyanStringAppendFormat(str, "%s (%s)", sym, ab);
    return ZyanStringAppendFormat(str, "%s", ab);
}

static bool zy_setup(ZydisFormatter *f)
{
    if (ZYAN_FAILED(ZydisFormatterInit(f, ZYDIS_FORMATTER_STYLE_INTEL))) return false;
    ZydisFormatterSetProperty(f, ZYDIS_FORMATTER_PROP_HEX_PREFIX, (ZyanUPointer)ZYAN_NULL);
    ZydisFormatterSetProperty(f, ZYDIS_FORMATTER_PROP_HEX_SUFFIX, (ZyanUPointer) "h");
    ZydisFormatterSetProperty(f, ZYDIS_FORMATTER_PROP_HEX_UPPERCASE, ZYAN_TRUE);
    ZydisFormatterSetProperty(f, ZYDIS_FORMATTER_PROP_DISP_PADDING, ZYDIS_PADDING_DISABLED);
    ZydisFormatterSetProperty(f, ZYDIS_FORMATTER_PROP_IMM_PADDING, ZYDIS_PADDING_DISABLED);
    ZydisFormatterSetProperty(f, ZYDIS_FORMATTER_PROP_ADDR_PADDING_ABSOLUTE, ZYDIS_PADDING_DISABLED);
    ZydisFormatterSetProperty(f, ZYDIS_FORMATTER_PROP_IMM_SIGNEDNESS, ZYDIS_SIGNEDNESS_UNSIGNED);
    ZydisFormatterSetProperty(f, ZYDIS_FORMATTER_PROP_FORCE_SIZE, ZYAN_TRUE);      /* "dword ptr" */
    ZydisFormatterSetProperty(f, ZYDIS_FORMATTER_PROP_FORCE_SCALE_ONE, ZYAN_FALSE);
    ZydisFormatterFunc fn = zy_print_address_abs;
    ZydisFormatterSetHook(f, ZYDIS_FORMATTER_FUNC_PRINT_ADDRESS_ABS, (const void **)&fn);
    return true;
}

/* The value of a Zydis register in the context (false when not held). */
static bool zy_reg_value(const nk_context *c, ZydisRegister r, uint64_t *v)
{
    if (r == ZYDIS_REGISTER_NONE) {
        *v = 0;
        return true;
    }
    const char *name = ZydisRegisterGetString(r);
    return name && nk_context_get(c, name, v);
}

/* " ds:ffffffff`ffffffd0=????????????????": the first memory operand's address and value. */
static void zy_effective(ntkd_target *t, const nk_context *c, const ZydisDecodedInstruction *ins,
                         const ZydisDecodedOperand *ops, uint64_t ip, char *out, size_t len)
{
    out[0] = 0;
    if (!c || ins->mnemonic == ZYDIS_MNEMONIC_LEA || ins->mnemonic == ZYDIS_MNEMONIC_NOP) return;
    for (unsigned i = 0; i < ins->operand_count_visible; i++) {
        const ZydisDecodedOperand *op = &ops[i];
        if (op->type != ZYDIS_OPERAND_TYPE_MEMORY || op->mem.type != ZYDIS_MEMOP_TYPE_MEM) continue;
        if (op->mem.segment == ZYDIS_REGISTER_FS || op->mem.segment == ZYDIS_REGISTER_GS) return;
        unsigned size = op->size / 8;
        if (size != 1 && size != 2 && size != 4 && size != 8) return;
        uint64_t base = 0, index = 0;
        if (op->mem.base == ZYDIS_REGISTER_RIP || op->mem.base == ZYDIS_REGISTER_EIP) {
            base = ip + ins->length;
        } else if (!zy_reg_value(c, op->mem.base, &base)) {
            return;
        }
        if (!zy_reg_value(c, op->mem.index, &index)) return;
        uint64_t ea = base + index * (op->mem.scale ? op->mem.scale : 1) +
                      (op->mem.disp.has_displacement ? (uint64_t)op->mem.disp.value : 0);
        if (ins->address_width == 32) ea &= 0xffffffffull;
        else if (ins->address_width == 16) ea &= 0xffff;
        uint8_t b[8];
        bool ok = nk_read_virt(t, ea, b, size, NULL) == NTKD_OK;
        uint64_t v = ok ? (size == 1 ? b[0] : size == 2 ? nk_le16(b) : size == 4 ? nk_le32(b) : nk_le64(b)) : 0;
        char ab[24], vb[24];
        nk_fmt_ptr(ab, ea, t->d.is64);
        if (ok) snprintf(vb, sizeof vb, "%0*llx", (int)size * 2, (unsigned long long)v);
        else {
            memset(vb, '?', size * 2);
            vb[size * 2] = 0;
        }
        const char *seg = ZydisRegisterGetString(op->mem.segment);
        snprintf(out, len, "%s:%s=%s", seg ? seg : "ds", ab, vb);
        return;
    }
}

/* String instructions, which Zydis prints as "outsb" with hidden operands and WinDbg as
 * "outs    dx,byte ptr [rsi]" / "rep stos dword ptr [rdi]". False for other instructions. */
static bool string_insn(const ZydisDecodedInstruction *ins, char *mnem, size_t ml, char *opnd, size_t ol)
{
    static const struct { ZydisMnemonic m; const char *base; char size; const char *form; } tab[] = {
        {ZYDIS_MNEMONIC_MOVSB, "movs", 'b', "D,S"}, {ZYDIS_MNEMONIC_MOVSW, "movs", 'w', "D,S"},
        {ZYDIS_MNEMONIC_MOVSD, "movs", 'd', "D,S"}, {ZYDIS_MNEMONIC_MOVSQ, "movs", 'q', "D,S"},
        {ZYDIS_MNEMONIC_CMPSB, "cmps", 'b', "S,D"}, {ZYDIS_MNEMONIC_CMPSW, "cmps", 'w', "S,D"},
        {ZYDIS_MNEMONIC_CMPSD, "cmps", 'd', "S,D"}, {ZYDIS_MNEMONIC_CMPSQ, "cmps", 'q', "S,D"},
        {ZYDIS_MNEMONIC_STOSB, "stos", 'b', "D"},   {ZYDIS_MNEMONIC_STOSW, "stos", 'w', "D"},
        {ZYDIS_MNEMONIC_STOSD, "stos", 'd', "D"},   {ZYDIS_MNEMONIC_STOSQ, "stos", 'q', "D"},
        {ZYDIS_MNEMONIC_LODSB, "lods", 'b', "S"},   {ZYDIS_MNEMONIC_LODSW, "lods", 'w', "S"},
        {ZYDIS_MNEMONIC_LODSD, "lods", 'd', "S"},   {ZYDIS_MNEMONIC_LODSQ, "lods", 'q', "S"},
        {ZYDIS_MNEMONIC_SCASB, "scas", 'b', "D"},   {ZYDIS_MNEMONIC_SCASW, "scas", 'w', "D"},
        {ZYDIS_MNEMONIC_SCASD, "scas", 'd', "D"},   {ZYDIS_MNEMONIC_SCASQ, "scas", 'q', "D"},
        {ZYDIS_MNEMONIC_INSB, "ins", 'b', "D,x"},   {ZYDIS_MNEMONIC_INSW, "ins", 'w', "D,x"},
        {ZYDIS_MNEMONIC_INSD, "ins", 'd', "D,x"},   {ZYDIS_MNEMONIC_OUTSB, "outs", 'b', "x,S"},
        {ZYDIS_MNEMONIC_OUTSW, "outs", 'w', "x,S"}, {ZYDIS_MNEMONIC_OUTSD, "outs", 'd', "x,S"},
    };
    if (ins->operand_count_visible != 0) return false; /* SSE movsd/cmpsd have operands */
    for (size_t i = 0; i < sizeof tab / sizeof tab[0]; i++) {
        if (tab[i].m != ins->mnemonic) continue;
        const char *sz = tab[i].size == 'b' ? "byte" : tab[i].size == 'w' ? "word" : tab[i].size == 'd' ? "dword" : "qword";
        const char *si = ins->address_width == 64 ? "rsi" : ins->address_width == 32 ? "esi" : "si";
        const char *di = ins->address_width == 64 ? "rdi" : ins->address_width == 32 ? "edi" : "di";
        const char *pre = "";
        if (ins->attributes & ZYDIS_ATTRIB_HAS_REPNE) pre = "repne ";
        else if (ins->attributes & ZYDIS_ATTRIB_HAS_REPE) pre = "repe ";
        else if (ins->attributes & ZYDIS_ATTRIB_HAS_REP) pre = "rep ";
        snprintf(mnem, ml, "%s%s", pre, tab[i].base);
        size_t k = 0;
        opnd[0] = 0;
        for (const char *f = tab[i].form; *f && k < ol; f++) {
            int n = 0;
            if (*f == ',') n = snprintf(opnd + k, ol - k, ",");
            else if (*f == 'x') n = snprintf(opnd + k, ol - k, "dx");
            else n = snprintf(opnd + k, ol - k, "%s ptr [%s]", sz, *f == 'S' ? si : di);
            if (n > 0) k += (size_t)n;
        }
        return true;
    }
    return false;
}

/* Zydis names some condition codes differently from Microsoft's disassembler, which WinDbg
 * uses: jz/jnz/jnbe/jnb/jnle/jnl are je/jne/ja/jae/jg/jge there (also for setcc/cmovcc). */
static void masm_condition_names(char *mnem, size_t cap)
{
    static const char *const cc[][2] = {{"z", "e"}, {"nz", "ne"}, {"nbe", "a"}, {"nb", "ae"},
                                        {"nle", "g"}, {"nl", "ge"}};
    static const char *const stems[] = {"j", "set", "cmov"};
    char *word = strrchr(mnem, ' ');
    word = word ? word + 1 : mnem;
    for (size_t s = 0; s < 3; s++) {
        size_t sl = strlen(stems[s]);
        if (strncmp(word, stems[s], sl)) continue;
        for (size_t i = 0; i < sizeof cc / sizeof cc[0]; i++) {
            if (strcmp(word + sl, cc[i][0])) continue;
            size_t off = (size_t)(word - mnem) + sl;
            snprintf(mnem + off, cap - off, "%s", cc[i][1]);
            return;
        }
    }
}

static bool disasm_x86(ntkd_target *t, nk_arch arch, const nk_context *c, nk_insn *in,
                       const uint8_t *buf, size_t avail)
{
    ZydisDecoder dec;
    bool is64 = arch == NK_ARCH_X64;
    if (ZYAN_FAILED(ZydisDecoderInit(&dec, is64 ? ZYDIS_MACHINE_MODE_LONG_64 : ZYDIS_MACHINE_MODE_LEGACY_32,
                                     is64 ? ZYDIS_STACK_WIDTH_64 : ZYDIS_STACK_WIDTH_32)))
        return false;
    ZydisDecodedInstruction ins;
    ZydisDecodedOperand ops[ZYDIS_MAX_OPERAND_COUNT];
    if (ZYAN_FAILED(ZydisDecoderDecodeFull(&dec, buf, avail, &ins, ops))) return false;
    ZydisFormatter fmt;
    if (!zy_setup(&fmt)) return false;
    char full[256];
    zy_user u = {.t = t, .is64 = t->d.is64 || is64};
    if (ZYAN_FAILED(ZydisFormatterFormatInstruction(&fmt, &ins, ops, ins.operand_count_visible, full,
                                                    sizeof full, in->addr, &u)))
        return false;
    in->len = ins.length;
    memcpy(in->bytes, buf, ins.length);
    /* split "prefixes mnemonic" from the operands */
    const char *mn = ZydisMnemonicGetString(ins.mnemonic);
    char *ops_text = NULL;
    if (mn) {
        size_t ml = strlen(mn);
        for (char *p = full; (p = strstr(p, mn)) != NULL; p++) {
            bool left = p == full || p[-1] == ' ';
            if (left && (p[ml] == ' ' || p[ml] == 0)) {
                ops_text = p[ml] ? p + ml + 1 : p + ml;
                p[ml] = 0;
                break;
            }
        }
    }
    if (!ops_text) ops_text = full + strlen(full);
    char mnem[64], opnd[256];
    snprintf(mnem, sizeof mnem, "%s", full);
    snprintf(opnd, sizeof opnd, "%s", ops_text);
    if (string_insn(&ins, mnem, sizeof mnem, opnd, sizeof opnd)) {
        /* WinDbg's form, built above */
    } else if (!strcmp(mnem, "int3")) {
        snprintf(mnem, sizeof mnem, "int");
        snprintf(opnd, sizeof opnd, "3");
    }
    masm_condition_names(mnem, sizeof mnem);
    squeeze_commas(opnd);
    strip_small_hex(opnd, sizeof opnd);
    lead_zero_hex(opnd, sizeof opnd);
    if (opnd[0]) snprintf(in->text, sizeof in->text, "%-7s %.120s", mnem, opnd);
    else snprintf(in->text, sizeof in->text, "%s", mnem);
    zy_effective(t, c, &ins, ops, in->addr, in->effective, sizeof in->effective);
    return true;
}

/* ---- ARM64 (Capstone) ------------------------------------------------------------------- */

/* Immediates below 10 without the 0x: "#0x1" -> "#1", "#-0x8" -> "#-8" (as WinDbg writes). */
static void arm_small_imm(char *s)
{
    char *w = s;
    for (char *r = s; *r;) {
        if (r[0] == '#') {
            char *q = r + 1;
            bool neg = *q == '-';
            if (neg) q++;
            if (q[0] == '0' && q[1] == 'x' && isdigit((unsigned char)q[2]) && !isxdigit((unsigned char)q[3])) {
                *w++ = '#';
                if (neg) *w++ = '-';
                *w++ = q[2];
                r = q + 3;
                continue;
            }
        }
        *w++ = *r++;
    }
    *w = 0;
}

static bool disasm_arm64(ntkd_target *t, nk_insn *in, const uint8_t *buf, size_t avail)
{
    if (avail < 4) return false;
    csh h;
    if (cs_open(CS_ARCH_ARM64, CS_MODE_ARM, &h) != CS_ERR_OK) return false;
    cs_insn *insn = NULL;
    size_t n = cs_disasm(h, buf, 4, in->addr, 1, &insn);
    bool ok = n == 1;
    if (ok) {
        char opnd[192];
        snprintf(opnd, sizeof opnd, "%s", insn[0].op_str);
        squeeze_commas(opnd);
        arm_small_imm(opnd);
        replace_word(opnd, sizeof opnd, "x29", "fp");
        replace_word(opnd, sizeof opnd, "x30", "lr");
        /* branch and address-forming targets as addresses */
        const char *m = insn[0].mnemonic;
        if (m[0] == 'b' || !strcmp(m, "cbz") || !strcmp(m, "cbnz") || !strcmp(m, "tbz") ||
            !strcmp(m, "tbnz") || !strcmp(m, "adr") || !strcmp(m, "adrp")) {
            char *h0 = strrchr(opnd, '#');
            if (h0 && h0[1] == '0' && h0[2] == 'x') {
                uint64_t target = strtoull(h0 + 3, NULL, 16);
                char ab[24];
                nk_fmt_ptr(ab, target, t->d.is64);
                snprintf(h0, sizeof opnd - (size_t)(h0 - opnd), "%s", ab);
            }
        }
        /* Microsoft's disassembler writes MOVZ without a shift as its alias MOV
           ("d2800028 mov x8,#1") */
        if (!strcmp(m, "movz") && !strstr(opnd, "lsl")) m = "mov";
        if (opnd[0]) snprintf(in->text, sizeof in->text, "%-11s %.150s", m, opnd);
        else snprintf(in->text, sizeof in->text, "%s", m);
        in->len = 4;
        memcpy(in->bytes, buf, 4);
    }
    if (insn) cs_free(insn, n);
    cs_close(&h);
    return ok;
}

bool nk_disasm_one(ntkd_target *t, nk_arch arch, uint64_t va, const nk_context *ctx, nk_insn *in)
{
    memset(in, 0, sizeof *in);
    in->addr = va;
    snprintf(in->text, sizeof in->text, "???");
    uint8_t buf[16];
    size_t got = 0;
    nk_read_virt(t, va, buf, arch == NK_ARCH_ARM64 ? 4 : 15, &got);
    if (!got) return false;
    bool ok = arch == NK_ARCH_ARM64 ? disasm_arm64(t, in, buf, got)
              : (arch == NK_ARCH_X64 || arch == NK_ARCH_X86) ? disasm_x86(t, arch, ctx, in, buf, got)
                                                             : false;
    if (!ok) {
        /* readable but not an instruction: the bytes, then "???" */
        in->len = (uint8_t)(arch == NK_ARCH_ARM64 ? 4 : 1);
        if (in->len > got) in->len = (uint8_t)got;
        memcpy(in->bytes, buf, in->len);
        snprintf(in->text, sizeof in->text, "???");
    }
    return ok;
}

void nk_disasm_line(const ntkd_target *t, nk_arch arch, const nk_insn *in, char *buf, size_t len)
{
    char ab[24], hex[40];
    nk_fmt_ptr(ab, in->addr, t->d.is64);
    if (!in->len) snprintf(hex, sizeof hex, "??");
    else if (arch == NK_ARCH_ARM64 && in->len == 4) snprintf(hex, sizeof hex, "%08x", nk_le32(in->bytes));
    else {
        size_t k = 0;
        for (unsigned i = 0; i < in->len && k + 3 < sizeof hex; i++)
            k += (size_t)snprintf(hex + k, sizeof hex - k, "%02x", in->bytes[i]);
    }
    if (arch == NK_ARCH_ARM64) snprintf(buf, len, "%s %-8s %s", ab, hex, in->text);
    else snprintf(buf, len, "%s %-15s %s", ab, hex, in->text);
    if (in->effective[0]) {
        size_t n = strlen(buf);
        snprintf(buf + n, len > n ? len - n : 0, " %s", in->effective);
    }
}

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

static void show_all(nk_cmd_env *e)
{
    ntkd_target *t = e->t;
    nk_out *o = e->o;
    const nk_context *c = &t->cur_ctx;
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
                nk_reg_status st = have_ctx ? nk_context_lookup(&t->cur_ctx, name, &v, &bits) : NK_REG_UNKNOWN;
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
