/* disasm.c: instructions in WinDbg's syntax (see disasm.h). x86/x64 by Zydis, ARM64 by
 * Capstone; backwards decoding for ub and the flow graph for uf.
 *
 * Zydis is set up for Intel syntax without a hex prefix, an 'h' suffix, upper-case digits,
 * no padding and forced operand sizes ("dword ptr"); the result is then reshaped the way
 * Microsoft's disassembler writes it: "0Ch" (leading 0 before a letter), "8" (no suffix below
 * 10), "a,b" (no space after a comma), je/jne/ja/jae/jg/jge, "int     3", "rep stos dword ptr
 * [rdi]". Absolute addresses (branch targets, RIP-relative operands) go through a formatter
 * hook that writes "module!symbol+0xoff (fffff804`7bd2ab86)" when the symbol layer knows the
 * address and "fffff804`7bd2ab86" otherwise. */
#include "code/disasm.h"

#include <capstone/capstone.h>
#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <Zycore/Format.h>
#include <Zydis/Zydis.h>

#include "dump/context.h"
#include "mem/mem.h"
#include "sym/sym.h"

struct nk_disasm {
    ntkd_target *t;
    nk_arch arch;
    bool wide;         /* addresses print as 64-bit */
    bool symbols;
    nk_disasm_read_fn read;
    void *user;
    ZydisDecoder dec;
    ZydisFormatter fmt;
    csh cs;
    cs_insn *csi;
    bool cs_open;
};

/* ---- text helpers ----------------------------------------------------------------------- */

static inline bool is_word(char c) { return isalnum((unsigned char)c) || c == '_'; }

/* Replaces every whole-word occurrence of `from` by `to` in s (capacity cap). */
static void replace_word(char *s, size_t cap, const char *from, const char *to)
{
    size_t fl = strlen(from), tl = strlen(to);
    char *p = s;
    while ((p = strstr(p, from)) != NULL) {
        bool left = p == s || !is_word(p[-1]);
        bool right = !is_word(p[fl]);
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

/* Reshapes Zydis' operand text in one pass (src -> dst, capacity cap):
 *  - "a, b" -> "a,b";
 *  - hexadecimal numbers: Zydis writes upper-case digits with an 'h' suffix (registers and
 *    symbols are lower/mixed case and never end a run of upper-case hex digits with 'h');
 *    below 10 the suffix goes ("8h" -> "8"), a number starting with a letter gets a leading
 *    zero ("0Ch"). Text inside a symbol ("nt!Foo+0x1A (...)") is copied as is. */
static void reshape_operands(const char *src, char *dst, size_t cap)
{
    size_t k = 0;
    bool in_sym = false; /* inside "module!name+0x.. (addr)" written by the hook */
    for (size_t i = 0; src[i] && k + 3 < cap;) {
        char c = src[i];
        if (c == '\x01') { /* hook markers around a symbolized address */
            in_sym = !in_sym;
            i++;
            continue;
        }
        if (in_sym) {
            dst[k++] = c;
            i++;
            continue;
        }
        if (c == ',' ) {
            dst[k++] = ',';
            i++;
            while (src[i] == ' ') i++;
            continue;
        }
        if ((i == 0 || !is_word(src[i - 1])) && ((c >= '0' && c <= '9') || (c >= 'A' && c <= 'F'))) {
            size_t j = i;
            while ((src[j] >= '0' && src[j] <= '9') || (src[j] >= 'A' && src[j] <= 'F')) j++;
            if (src[j] == 'h' && !is_word(src[j + 1])) {
                size_t b = i;
                while (b + 1 < j && src[b] == '0') b++; /* significant digits start */
                bool small = j - b == 1 && src[b] <= '9';
                if (small) {
                    dst[k++] = src[b];
                } else {
                    if (src[i] >= 'A') dst[k++] = '0';
                    for (size_t q = i; q <= j && k + 2 < cap; q++) dst[k++] = src[q];
                }
                i = j + 1;
                continue;
            }
            /* a word that is not a number: copy it whole */
            while (is_word(src[i]) && k + 2 < cap) dst[k++] = src[i++];
            continue;
        }
        if (is_word(c)) {
            while (is_word(src[i]) && k + 2 < cap) dst[k++] = src[i++];
            continue;
        }
        dst[k++] = c;
        i++;
    }
    dst[k] = 0;
}

/* ---- x86 / x64 (Zydis) ------------------------------------------------------------------ */

/* "nk!Sym+0x10 (fffff804`7bd2ab86)" or "fffff804`7bd2ab86" (into out). */
static void addr_text(nk_disasm *d, uint64_t addr, char *out, size_t len)
{
    char ab[24], sym[300];
    nk_fmt_ptr(ab, addr, d->wide);
    if (d->symbols && d->t && nk_sym_describe(d->t, addr, sym, sizeof sym))
        snprintf(out, len, "%s (%s)", sym, ab);
    else
        snprintf(out, len, "%s", ab);
}

static ZyanStatus zy_print_address_abs(const ZydisFormatter *f, ZydisFormatterBuffer *buf,
                                       ZydisFormatterContext *ctx)
{
    (void)f;
    ZyanU64 addr;
    ZYAN_CHECK(ZydisCalcAbsoluteAddress(ctx->instruction, ctx->operand, ctx->runtime_address, &addr));
    ZYAN_CHECK(ZydisFormatterBufferAppend(buf, ZYDIS_TOKEN_ADDRESS_ABS));
    ZyanString *str;
    ZYAN_CHECK(ZydisFormatterBufferGetString(buf, &str));
    char text[360];
    addr_text(ctx->user_data, addr, text, sizeof text);
    /* \1 ... \1 protect the text from the number reshaping */
    return ZyanStringAppendFormat(str, "\x01%s\x01", text);
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
    ZydisFormatterSetProperty(f, ZYDIS_FORMATTER_PROP_FORCE_SIZE, ZYAN_TRUE); /* "dword ptr" */
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
static void zy_effective(nk_disasm *d, const nk_context *c, const ZydisDecodedInstruction *ins,
                         const ZydisDecodedOperand *ops, uint64_t ip, char *out, size_t len)
{
    out[0] = 0;
    if (!c || !d->t || ins->mnemonic == ZYDIS_MNEMONIC_LEA || ins->mnemonic == ZYDIS_MNEMONIC_NOP) return;
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
        bool ok = nk_read_virt(d->t, ea, b, size, NULL) == NTKD_OK;
        uint64_t v = ok ? (size == 1 ? b[0] : size == 2 ? nk_le16(b) : size == 4 ? nk_le32(b) : nk_le64(b)) : 0;
        char ab[24], vb[24];
        nk_fmt_ptr(ab, ea, d->t->d.is64);
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

static void zy_flow(const ZydisDecodedInstruction *ins, const ZydisDecodedOperand *ops, uint64_t va,
                    nk_insn *in)
{
    switch (ins->meta.category) {
    case ZYDIS_CATEGORY_CALL: in->kind = NK_IK_CALL; break;
    case ZYDIS_CATEGORY_UNCOND_BR: in->kind = NK_IK_JMP; break;
    case ZYDIS_CATEGORY_COND_BR: in->kind = NK_IK_JCC; break;
    case ZYDIS_CATEGORY_RET: in->kind = NK_IK_RET; break;
    default:
        if (ins->mnemonic == ZYDIS_MNEMONIC_IRET || ins->mnemonic == ZYDIS_MNEMONIC_IRETD ||
            ins->mnemonic == ZYDIS_MNEMONIC_IRETQ || ins->mnemonic == ZYDIS_MNEMONIC_SYSRET ||
            ins->mnemonic == ZYDIS_MNEMONIC_SYSEXIT)
            in->kind = NK_IK_RET;
        else if (ins->mnemonic == ZYDIS_MNEMONIC_INT3 || ins->mnemonic == ZYDIS_MNEMONIC_UD2 ||
                 ins->mnemonic == ZYDIS_MNEMONIC_HLT ||
                 (ins->mnemonic == ZYDIS_MNEMONIC_INT && ins->raw.imm[0].value.u == 0x29))
            in->kind = NK_IK_STOP;
        break;
    }
    for (unsigned i = 0; i < ins->operand_count_visible; i++) {
        const ZydisDecodedOperand *op = &ops[i];
        ZyanU64 a;
        if (op->type == ZYDIS_OPERAND_TYPE_IMMEDIATE && op->imm.is_relative &&
            in->kind != NK_IK_OTHER && !in->has_target) {
            if (ZYAN_SUCCESS(ZydisCalcAbsoluteAddress(ins, op, va, &a))) {
                in->has_target = true;
                in->target = a;
            }
        } else if (op->type == ZYDIS_OPERAND_TYPE_MEMORY && op->mem.type == ZYDIS_MEMOP_TYPE_MEM &&
                   !in->has_memref &&
                   (op->mem.base == ZYDIS_REGISTER_RIP || op->mem.base == ZYDIS_REGISTER_EIP ||
                    (op->mem.base == ZYDIS_REGISTER_NONE && op->mem.index == ZYDIS_REGISTER_NONE &&
                     op->mem.segment != ZYDIS_REGISTER_FS && op->mem.segment != ZYDIS_REGISTER_GS))) {
            if (ZYAN_SUCCESS(ZydisCalcAbsoluteAddress(ins, op, va, &a))) {
                in->has_memref = true;
                in->memref = a;
            }
        }
    }
}

static bool disasm_x86(nk_disasm *d, const nk_context *c, nk_insn *in, const uint8_t *buf, size_t avail)
{
    ZydisDecodedInstruction ins;
    ZydisDecodedOperand ops[ZYDIS_MAX_OPERAND_COUNT];
    if (ZYAN_FAILED(ZydisDecoderDecodeFull(&d->dec, buf, avail, &ins, ops))) return false;
    char full[512];
    if (ZYAN_FAILED(ZydisFormatterFormatInstruction(&d->fmt, &ins, ops, ins.operand_count_visible, full,
                                                    sizeof full, in->addr, d)))
        return false;
    in->len = ins.length;
    memcpy(in->bytes, buf, ins.length);
    zy_flow(&ins, ops, in->addr, in);
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
    char mnem[64], opnd[400];
    snprintf(mnem, sizeof mnem, "%s", full);
    if (string_insn(&ins, mnem, sizeof mnem, opnd, sizeof opnd)) {
        /* WinDbg's form, built above */
    } else if (!strcmp(mnem, "int3")) {
        snprintf(mnem, sizeof mnem, "int");
        snprintf(opnd, sizeof opnd, "3");
    } else {
        reshape_operands(ops_text, opnd, sizeof opnd);
        /* the multi-byte NOP (0F 1F /0) shows its memory operand only: "nop     dword ptr [rax+rax]" */
        if (ins.mnemonic == ZYDIS_MNEMONIC_NOP) {
            char *comma = strchr(opnd, ',');
            if (comma) *comma = 0;
        }
    }
    masm_condition_names(mnem, sizeof mnem);
    if (opnd[0]) snprintf(in->text, sizeof in->text, "%-7s %.300s", mnem, opnd);
    else snprintf(in->text, sizeof in->text, "%s", mnem);
    zy_effective(d, c, &ins, ops, in->addr, in->effective, sizeof in->effective);
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

static void arm_flow(const char *m, nk_insn *in)
{
    if (!strcmp(m, "bl") || !strcmp(m, "blr") || !strncmp(m, "blra", 4)) in->kind = NK_IK_CALL;
    else if (!strcmp(m, "b") || !strcmp(m, "br") || !strncmp(m, "bra", 3)) in->kind = NK_IK_JMP;
    else if (!strncmp(m, "b.", 2) || !strcmp(m, "cbz") || !strcmp(m, "cbnz") || !strcmp(m, "tbz") ||
             !strcmp(m, "tbnz"))
        in->kind = NK_IK_JCC;
    else if (!strcmp(m, "ret") || !strncmp(m, "reta", 4) || !strcmp(m, "eret")) in->kind = NK_IK_RET;
    else if (!strcmp(m, "brk") || !strcmp(m, "udf") || !strcmp(m, "hlt")) in->kind = NK_IK_STOP;
}

static bool disasm_arm64(nk_disasm *d, nk_insn *in, const uint8_t *buf, size_t avail)
{
    if (avail < 4 || !d->cs_open) return false;
    const uint8_t *code = buf;
    size_t size = 4;
    uint64_t addr = in->addr;
    if (!cs_disasm_iter(d->cs, &code, &size, &addr, d->csi)) {
        /* UDF #imm16 (0000xxxx, permanently undefined), which this Capstone does not name */
        uint32_t w = nk_le32(buf);
        if (w >> 16) return false;
        if (w < 10) snprintf(in->text, sizeof in->text, "%-11s #%u", "udf", (unsigned)w);
        else snprintf(in->text, sizeof in->text, "%-11s #0x%x", "udf", (unsigned)w);
        in->kind = NK_IK_STOP;
        in->len = 4;
        memcpy(in->bytes, buf, 4);
        return true;
    }
    cs_insn *ci = d->csi;
    char opnd[400];
    snprintf(opnd, sizeof opnd, "%s", ci->op_str);
    char tmp[400];
    /* "a, b" -> "a,b" */
    size_t k = 0;
    for (size_t i = 0; opnd[i] && k + 1 < sizeof tmp; i++) {
        tmp[k++] = opnd[i];
        if (opnd[i] == ',') while (opnd[i + 1] == ' ') i++;
    }
    tmp[k] = 0;
    memcpy(opnd, tmp, k + 1);
    arm_small_imm(opnd);
    replace_word(opnd, sizeof opnd, "x29", "fp");
    replace_word(opnd, sizeof opnd, "x30", "lr");
    const char *m = ci->mnemonic;
    arm_flow(m, in);
    /* branch and address-forming targets as addresses */
    if (in->kind == NK_IK_CALL || in->kind == NK_IK_JMP || in->kind == NK_IK_JCC || !strcmp(m, "adr") ||
        !strcmp(m, "adrp")) {
        char *h0 = strrchr(opnd, '#');
        if (h0 && h0[1] == '0' && h0[2] == 'x') {
            uint64_t target = strtoull(h0 + 3, NULL, 16);
            char at[360];
            if (in->kind != NK_IK_OTHER) {
                in->has_target = true;
                in->target = target;
                addr_text(d, target, at, sizeof at);
            } else {
                in->has_memref = true;
                in->memref = target;
                nk_fmt_ptr(at, target, d->wide);
            }
            snprintf(h0, sizeof opnd - (size_t)(h0 - opnd), "%s", at);
        }
    }
    /* Microsoft's disassembler writes MOVZ without a shift as its alias MOV ("d2800028 mov x8,#1") */
    if (!strcmp(m, "movz") && !strstr(opnd, "lsl")) m = "mov";
    if (opnd[0]) snprintf(in->text, sizeof in->text, "%-11s %.300s", m, opnd);
    else snprintf(in->text, sizeof in->text, "%s", m);
    in->len = 4;
    memcpy(in->bytes, buf, 4);
    return true;
}

/* ---- the handle ------------------------------------------------------------------------- */

nk_disasm *nk_disasm_new(ntkd_target *t, nk_arch arch)
{
    if (arch != NK_ARCH_X64 && arch != NK_ARCH_X86 && arch != NK_ARCH_ARM64) return NULL;
    nk_disasm *d = calloc(1, sizeof *d);
    if (!d) return NULL;
    d->t = t;
    d->arch = arch;
    d->wide = t ? t->d.is64 : arch != NK_ARCH_X86;
    d->symbols = t != NULL;
    if (arch == NK_ARCH_ARM64) {
        if (cs_open(CS_ARCH_ARM64, CS_MODE_ARM, &d->cs) != CS_ERR_OK) {
            free(d);
            return NULL;
        }
        d->cs_open = true;
        d->csi = cs_malloc(d->cs);
        if (!d->csi) {
            nk_disasm_free(d);
            return NULL;
        }
    } else {
        bool is64 = arch == NK_ARCH_X64;
        if (ZYAN_FAILED(ZydisDecoderInit(&d->dec, is64 ? ZYDIS_MACHINE_MODE_LONG_64 : ZYDIS_MACHINE_MODE_LEGACY_32,
                                         is64 ? ZYDIS_STACK_WIDTH_64 : ZYDIS_STACK_WIDTH_32)) ||
            !zy_setup(&d->fmt)) {
            free(d);
            return NULL;
        }
    }
    return d;
}

void nk_disasm_free(nk_disasm *d)
{
    if (!d) return;
    if (d->csi) cs_free(d->csi, 1);
    if (d->cs_open) cs_close(&d->cs);
    free(d);
}

void nk_disasm_set_reader(nk_disasm *d, nk_disasm_read_fn read, void *user)
{
    d->read = read;
    d->user = user;
}

void nk_disasm_set_symbols(nk_disasm *d, bool on) { d->symbols = on && d->t; }
nk_arch nk_disasm_arch(const nk_disasm *d) { return d->arch; }

bool nk_disasm_buf(nk_disasm *d, uint64_t va, const uint8_t *buf, size_t avail, const nk_context *ctx,
                   nk_insn *in)
{
    in->addr = va;
    in->len = 0;
    in->effective[0] = 0;
    in->kind = NK_IK_OTHER;
    in->has_target = in->has_memref = false;
    in->target = in->memref = 0;
    if (!d->wide) in->addr = va &= 0xffffffffull;
    if (!avail) {
        snprintf(in->text, sizeof in->text, "???");
        return false;
    }
    bool ok = d->arch == NK_ARCH_ARM64 ? disasm_arm64(d, in, buf, avail) : disasm_x86(d, ctx, in, buf, avail);
    if (!ok) {
        /* readable but not an instruction: the bytes, then "???" */
        in->len = (uint8_t)(d->arch == NK_ARCH_ARM64 ? 4 : 1);
        if (in->len > avail) in->len = (uint8_t)avail;
        memcpy(in->bytes, buf, in->len);
        in->kind = NK_IK_OTHER;
        in->has_target = in->has_memref = false;
        snprintf(in->text, sizeof in->text, "???");
    }
    return ok;
}

static size_t read_code(nk_disasm *d, uint64_t va, uint8_t *buf, size_t len)
{
    size_t got = 0;
    if (d->read) d->read(d->user, va, buf, len, &got);
    else if (d->t) nk_read_virt(d->t, va, buf, len, &got);
    return got > len ? len : got;
}

bool nk_disasm_at(nk_disasm *d, uint64_t va, const nk_context *ctx, nk_insn *in)
{
    uint8_t buf[16];
    size_t got = read_code(d, va, buf, d->arch == NK_ARCH_ARM64 ? 4 : 15);
    return nk_disasm_buf(d, va, buf, got, ctx, in);
}

static void format_line(bool wide, nk_arch arch, const nk_insn *in, char *buf, size_t len)
{
    char ab[24], hex[40];
    nk_fmt_ptr(ab, in->addr, wide);
    if (!in->len) snprintf(hex, sizeof hex, "??");
    else if (arch == NK_ARCH_ARM64 && in->len == 4) snprintf(hex, sizeof hex, "%08x", nk_le32(in->bytes));
    else {
        static const char digits[] = "0123456789abcdef";
        size_t k = 0;
        for (unsigned i = 0; i < in->len && k + 3 < sizeof hex; i++) {
            hex[k++] = digits[in->bytes[i] >> 4];
            hex[k++] = digits[in->bytes[i] & 15];
        }
        hex[k] = 0;
    }
    if (arch == NK_ARCH_ARM64) snprintf(buf, len, "%s %-8s %s", ab, hex, in->text);
    else snprintf(buf, len, "%s %-15s %s", ab, hex, in->text);
    if (in->effective[0]) {
        size_t n = strlen(buf);
        snprintf(buf + n, len > n ? len - n : 0, " %s", in->effective);
    }
}

void nk_disasm_format(const nk_disasm *d, const nk_insn *in, char *buf, size_t len)
{
    format_line(d->wide, d->arch, in, buf, len);
}

/* ---- compatibility (r) ------------------------------------------------------------------- */

bool nk_disasm_one(ntkd_target *t, nk_arch arch, uint64_t va, const nk_context *ctx, nk_insn *in)
{
    memset(in, 0, sizeof *in);
    in->addr = va;
    snprintf(in->text, sizeof in->text, "???");
    nk_disasm *d = nk_disasm_new(t, arch);
    if (!d) return false;
    bool ok = nk_disasm_at(d, va, ctx, in);
    nk_disasm_free(d);
    return ok;
}

void nk_disasm_line(const ntkd_target *t, nk_arch arch, const nk_insn *in, char *buf, size_t len)
{
    format_line(t ? t->d.is64 : arch != NK_ARCH_X86, arch, in, buf, len);
}

/* ---- backwards (ub) ----------------------------------------------------------------------- */

#define BACK_MAX_HINT 0x10000u /* decode forward from a hint at most this far */

/* Decodes forward from `from`; true when an instruction boundary falls exactly on addr. *count
 * receives the instructions in [from, addr). */
static bool chain_lands(nk_disasm *d, const uint8_t *buf, uint64_t bufva, size_t buflen, uint64_t from,
                        uint64_t addr, size_t *count, bool strict)
{
    uint64_t pc = from;
    size_t n = 0;
    nk_insn in;
    for (size_t guard = 0; pc < addr && guard < BACK_MAX_HINT; guard++) {
        size_t off = (size_t)(pc - bufva);
        if (off >= buflen) return false;
        bool ok = nk_disasm_buf(d, pc, buf + off, buflen - off, NULL, &in);
        if (!ok && strict) return false;
        if (!in.len) return false;
        pc += in.len;
        n++;
    }
    *count = n;
    return pc == addr;
}

size_t nk_disasm_back(nk_disasm *d, uint64_t addr, size_t n, uint64_t hint, uint64_t *start)
{
    *start = addr;
    if (!n) return 0;
    if (n > 4096) n = 4096;
    if (d->arch == NK_ARCH_ARM64) {
        *start = addr - 4 * n;
        return n;
    }
    bool syms = d->symbols;
    d->symbols = false; /* lengths only: no symbol lookups while searching */
    size_t window = n * 15;
    uint64_t lo = addr >= window ? addr - window : 0;
    if (hint && hint < addr && addr - hint <= BACK_MAX_HINT && hint < lo) lo = hint;
    size_t buflen = (size_t)(addr - lo) + 15;
    uint8_t *buf = malloc(buflen);
    size_t found = 0;
    if (!buf) goto out;
    /* read what is readable just below addr (a missing page cuts the window) */
    size_t got = read_code(d, lo, buf, buflen);
    for (unsigned guard = 0; got < (size_t)(addr - lo) && lo < addr && guard < 8192; guard++) {
        /* the start of the window is not readable: move up page by page (16 bytes at a time
           in the last page, for readers of finer grain) */
        uint64_t next = (lo | 0xfff) + 1;
        if (next >= addr) next = lo + 16;
        if (next >= addr) break;
        size_t shift = (size_t)(next - lo);
        lo = next;
        buflen -= shift;
        got = read_code(d, lo, buf, buflen);
    }
    if (got < (size_t)(addr - lo)) goto out;
    size_t cnt;
    if (hint && hint >= lo && hint < addr && chain_lands(d, buf, lo, got, hint, addr, &cnt, false)) {
        /* decode from the function start and keep the last n */
        uint64_t pc = hint;
        size_t skip = cnt > n ? cnt - n : 0;
        nk_insn in;
        for (size_t i = 0; i < skip; i++) {
            nk_disasm_buf(d, pc, buf + (pc - lo), got - (size_t)(pc - lo), NULL, &in);
            pc += in.len ? in.len : 1;
        }
        *start = pc;
        found = cnt - skip;
        goto out;
    }
    /* every start offset: the furthest one that lands exactly with at least n instructions
       wins; else the one with the most instructions */
    uint64_t best = addr;
    size_t best_n = 0;
    uint64_t wlo = addr >= window ? addr - window : 0;
    if (wlo < lo) wlo = lo;
    for (uint64_t s = wlo; s < addr; s++) {
        if (!chain_lands(d, buf, lo, got, s, addr, &cnt, true)) continue;
        if (cnt >= n) {
            best = s;
            best_n = cnt;
            break;
        }
        if (cnt > best_n) {
            best = s;
            best_n = cnt;
        }
    }
    if (best_n) {
        uint64_t pc = best;
        nk_insn in;
        for (size_t i = 0; best_n > n && i < best_n - n; i++) {
            nk_disasm_buf(d, pc, buf + (pc - lo), got - (size_t)(pc - lo), NULL, &in);
            pc += in.len ? in.len : 1;
        }
        *start = pc;
        found = best_n > n ? n : best_n;
    }
out:
    free(buf);
    d->symbols = syms;
    return found;
}

/* ---- flow graph (uf) ---------------------------------------------------------------------- */

#define FLOW_MAX_INSNS 65536u
#define FLOW_MAX_LEADERS 16384u

typedef struct frec {
    uint64_t addr;
    uint8_t len, kind;
    bool leader;
} frec;

typedef struct flow {
    frec *v;
    size_t n, cap;
    uint64_t *hash; /* open addressing: addr+1 (0 empty) -> index+1 in the upper part */
    uint32_t *hidx;
    size_t hcap;
    uint64_t *work;
    size_t nwork, capwork;
} flow;

static size_t hslot(uint64_t a, size_t cap) { return (size_t)((a * 0x9E3779B97F4A7C15ull) >> 20) & (cap - 1); }

static ptrdiff_t flow_find(const flow *f, uint64_t a)
{
    for (size_t i = hslot(a, f->hcap), g = 0; g < f->hcap; i = (i + 1) & (f->hcap - 1), g++) {
        if (!f->hash[i]) return -1;
        if (f->hash[i] == a + 1) return (ptrdiff_t)f->hidx[i];
    }
    return -1;
}

static bool flow_add(flow *f, const frec *r)
{
    if (f->n == f->cap) {
        size_t nc = f->cap ? f->cap * 2 : 256;
        frec *nv = realloc(f->v, nc * sizeof *nv);
        if (!nv) return false;
        f->v = nv;
        f->cap = nc;
    }
    if ((f->n + 1) * 2 > f->hcap) {
        size_t nc = f->hcap ? f->hcap * 2 : 1024;
        uint64_t *nh = calloc(nc, sizeof *nh);
        uint32_t *ni = calloc(nc, sizeof *ni);
        if (!nh || !ni) {
            free(nh);
            free(ni);
            return false;
        }
        for (size_t i = 0; i < f->hcap; i++) {
            if (!f->hash[i]) continue;
            size_t j = hslot(f->hash[i] - 1, nc);
            while (nh[j]) j = (j + 1) & (nc - 1);
            nh[j] = f->hash[i];
            ni[j] = f->hidx[i];
        }
        free(f->hash);
        free(f->hidx);
        f->hash = nh;
        f->hidx = ni;
        f->hcap = nc;
    }
    size_t j = hslot(r->addr, f->hcap);
    while (f->hash[j]) j = (j + 1) & (f->hcap - 1);
    f->hash[j] = r->addr + 1;
    f->hidx[j] = (uint32_t)f->n;
    f->v[f->n++] = *r;
    return true;
}

static bool flow_push(flow *f, uint64_t a)
{
    if (f->nwork == f->capwork) {
        size_t nc = f->capwork ? f->capwork * 2 : 64;
        if (nc > FLOW_MAX_LEADERS) return false;
        uint64_t *nw = realloc(f->work, nc * sizeof *nw);
        if (!nw) return false;
        f->work = nw;
        f->capwork = nc;
    }
    f->work[f->nwork++] = a;
    return true;
}

static int cmp_frec(const void *a, const void *b)
{
    const frec *x = a, *y = b;
    return x->addr < y->addr ? -1 : x->addr > y->addr;
}

void nk_fgraph_free(nk_fgraph *g)
{
    free(g->b);
    memset(g, 0, sizeof *g);
}

static bool graph_add(nk_fgraph *g, uint64_t start, uint64_t end, uint32_t n)
{
    if (g->n == g->cap) {
        size_t nc = g->cap ? g->cap * 2 : 16;
        nk_fblock *nb = realloc(g->b, nc * sizeof *nb);
        if (!nb) return false;
        g->b = nb;
        g->cap = nc;
    }
    g->b[g->n++] = (nk_fblock){start, end, n};
    return true;
}

nk_status nk_disasm_flow(nk_disasm *d, uint64_t entry, uint64_t lo, uint64_t hi,
                         nk_disasm_foreign_fn is_foreign, void *user, nk_fgraph *out)
{
    memset(out, 0, sizeof *out);
    flow f = {0};
    nk_status st = NTKD_OK;
    bool syms = d->symbols;
    d->symbols = false;
    /* leaders pending a mark (targets met before their instruction was decoded) */
    uint64_t *marks = NULL;
    uint8_t *cov = NULL;
    size_t nmarks = 0, capmarks = 0;
    if (!flow_push(&f, entry)) {
        st = NTKD_E_NOMEM;
        goto done;
    }
    /* bytes of [lo, hi) covered by decoded instructions: code inside the extent that no
       direct jump reaches (switch cases behind a jump table) is decoded from the first
       uncovered byte, so the blocks cover the whole extent */
    uint64_t ext = hi > lo && hi - lo <= (1u << 24) ? hi - lo : 0, cursor = 0;
    if (ext) cov = calloc((size_t)(ext + 7) / 8, 1);
    for (unsigned round = 0; round < FLOW_MAX_LEADERS; round++) {
    bool gap = false; /* linear decoding of uncovered bytes: its jump targets are not
                         followed (data misread as code must not start blocks elsewhere) */
    if (!f.nwork && cov) {
        gap = true;
        while (cursor < ext && (cov[cursor / 8] >> (cursor % 8) & 1)) cursor++;
        if (cursor >= ext) break;
        if (!flow_push(&f, lo + cursor)) break;
        if (nmarks < capmarks) marks[nmarks++] = lo + cursor;
    }
    if (!f.nwork) break;
    while (f.nwork) {
        uint64_t pc = f.work[--f.nwork];
        ptrdiff_t at = flow_find(&f, pc);
        if (at >= 0) {
            f.v[at].leader = true;
            continue;
        }
        bool first = true;
        for (;;) {
            if (f.n >= FLOW_MAX_INSNS) {
                out->truncated = true;
                break;
            }
            ptrdiff_t seen = flow_find(&f, pc);
            if (seen >= 0) {
                if (first) f.v[seen].leader = true;
                break;
            }
            nk_insn in;
            bool ok = nk_disasm_at(d, pc, NULL, &in);
            frec r = {.addr = pc, .len = in.len, .kind = ok ? in.kind : NK_IK_STOP, .leader = first};
            if (!in.len) r.len = 0;
            if (!flow_add(&f, &r)) {
                st = NTKD_E_NOMEM;
                goto done;
            }
            first = false;
            if (cov) {
                uint64_t len = in.len ? in.len : 1;
                for (uint64_t q = pc - lo; pc >= lo && q < ext && q < pc - lo + len; q++) cov[q / 8] |= (uint8_t)(1u << (q % 8));
            }
            if (!ok || !in.len) break;
            if ((in.kind == NK_IK_JCC || in.kind == NK_IK_JMP) && in.has_target && !gap) {
                uint64_t tg = in.target;
                bool inside = tg >= lo && tg < hi;
                bool follow = inside || !is_foreign || !is_foreign(user, tg);
                if (follow) {
                    if (!flow_push(&f, tg)) {
                        out->truncated = true;
                    } else if (nmarks < FLOW_MAX_LEADERS) {
                        if (nmarks == capmarks) {
                            size_t nc = capmarks ? capmarks * 2 : 64;
                            uint64_t *nm = realloc(marks, nc * sizeof *nm);
                            if (nm) {
                                marks = nm;
                                capmarks = nc;
                            }
                        }
                        if (nmarks < capmarks) marks[nmarks++] = tg;
                    }
                }
            }
            pc += in.len;
            if (in.kind == NK_IK_JCC && !gap) {
                /* the fall-through starts a block of its own */
                if (!flow_push(&f, pc)) out->truncated = true;
                break;
            }
            if (in.kind == NK_IK_JMP || in.kind == NK_IK_RET || in.kind == NK_IK_STOP) break;
        }
    }
    }
    for (size_t i = 0; i < nmarks; i++) {
        ptrdiff_t at = flow_find(&f, marks[i]);
        if (at >= 0) f.v[at].leader = true;
    }
    nk_sort(f.v, f.n, sizeof *f.v, cmp_frec);
    for (size_t i = 0; i < f.n;) {
        size_t j = i + 1;
        uint64_t end = f.v[i].addr + (f.v[i].len ? f.v[i].len : 1);
        while (j < f.n && !f.v[j].leader && f.v[j].addr == end) {
            uint8_t pk = f.v[j - 1].kind;
            if (pk == NK_IK_JCC || pk == NK_IK_JMP || pk == NK_IK_RET || pk == NK_IK_STOP) break;
            end = f.v[j].addr + (f.v[j].len ? f.v[j].len : 1);
            j++;
        }
        if (!graph_add(out, f.v[i].addr, end, (uint32_t)(j - i))) {
            st = NTKD_E_NOMEM;
            break;
        }
        i = j;
    }
done:
    free(cov);
    free(marks);
    free(f.v);
    free(f.hash);
    free(f.hidx);
    free(f.work);
    d->symbols = syms;
    if (st != NTKD_OK) nk_fgraph_free(out);
    return st;
}
