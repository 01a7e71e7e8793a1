/* unwind_arm64.c: one ARM64 unwind step.
 *   1. the module's image (dump or symbol store) has a .pdata entry for pc: its unwind codes
 *      (packed entries arrive already converted to codes by the PE layer) are applied in
 *      unwind order, each undoing one prolog instruction: only the codes of the instructions
 *      already executed when pc is inside the prolog, and the epilog's remaining codes when
 *      pc is inside a known epilog scope; the return address is then lr;
 *   2. the image is known but has no entry for pc: a leaf function, return to lr (only while
 *      lr still holds this frame's value, i.e. in the starting frame);
 *   3. otherwise the frame-pointer chain: [fp] = caller fp, [fp+8] = lr, sp = fp + 16. */
#include <stdio.h>
#include <stdlib.h>

#include "code/unwind.h"
#include "image/pe.h"
#include "mem/mem.h"
#include "sym/sym.h"

#define BIT(i) (1ull << (i))
enum { FP = NK_UR_A64_FP, LR = NK_UR_A64_LR, SP = NK_UR_A64_SP, PC = NK_UR_A64_PC };
enum { MAX_CODES = 256 };

static uint64_t strip_pac(uint64_t v)
{
    return (v & (1ull << 55)) ? (v | 0xffff000000000000ull) : (v & 0x0000ffffffffffffull);
}

static nk_status rd64(ntkd_target *t, uint64_t va, uint64_t *v, char *note, size_t nlen,
                      const char *what)
{
    nk_status st = nk_read_u64(t, va, v);
    if (st != NTKD_OK) {
        char a[18];
        snprintf(note, nlen, "%s at %s is not in the dump", what, nk_fmt_addr64(a, va));
    }
    return st;
}

/* Restores register `reg` (x class) from `at`; d/q registers are not tracked. */
static nk_status restore(ntkd_target *t, nk_uregs *n, const nk_a64_code *c, uint64_t at,
                         char *note, size_t nlen)
{
    if (c->regclass != NK_A64_REG_X) return NTKD_OK;
    uint64_t v;
    nk_status st;
    if (c->reg <= 30) {
        if ((st = rd64(t, at, &v, note, nlen, "saved register")) != NTKD_OK) return st;
        n->r[c->reg] = v;
        n->valid |= BIT(c->reg);
    }
    if (c->pair && c->reg2 <= 30) {
        if ((st = rd64(t, at + 8, &v, note, nlen, "saved register")) != NTKD_OK) return st;
        n->r[c->reg2] = v;
        n->valid |= BIT(c->reg2);
    }
    return NTKD_OK;
}

/* Applies codes[from..count) in order (unwind order). */
static nk_status apply(ntkd_target *t, nk_uregs *n, const nk_a64_code *codes, size_t from,
                       size_t count, bool *pac, char *note, size_t nlen)
{
    for (size_t i = from; i < count; i++) {
        const nk_a64_code *c = &codes[i];
        uint64_t sp = n->r[SP];
        nk_status st;
        switch (c->op) {
        case NK_A64_ALLOC_S:
        case NK_A64_ALLOC_M:
        case NK_A64_ALLOC_L:
            n->r[SP] = sp + c->size;
            break;
        case NK_A64_SAVE_R19R20_X:
        case NK_A64_SAVE_FPLR:
        case NK_A64_SAVE_FPLR_X:
        case NK_A64_SAVE_REGP:
        case NK_A64_SAVE_REGP_X:
        case NK_A64_SAVE_REG:
        case NK_A64_SAVE_REG_X:
        case NK_A64_SAVE_LRPAIR:
        case NK_A64_SAVE_FREGP:
        case NK_A64_SAVE_FREGP_X:
        case NK_A64_SAVE_FREG:
        case NK_A64_SAVE_FREG_X:
        case NK_A64_SAVE_ANY_REG:
            if (c->writeback) {
                if ((st = restore(t, n, c, sp, note, nlen)) != NTKD_OK) return st;
                n->r[SP] = sp + (uint64_t)(-(int64_t)c->offset);
            } else {
                if ((st = restore(t, n, c, sp + (uint64_t)(int64_t)c->offset, note, nlen)) != NTKD_OK)
                    return st;
            }
            break;
        case NK_A64_SET_FP:
            if (!(n->valid & BIT(FP))) { snprintf(note, nlen, "fp is not known for set_fp"); return NTKD_E_NOTFOUND; }
            n->r[SP] = n->r[FP];
            break;
        case NK_A64_ADD_FP:
            if (!(n->valid & BIT(FP))) { snprintf(note, nlen, "fp is not known for add_fp"); return NTKD_E_NOTFOUND; }
            n->r[SP] = n->r[FP] - c->size;
            break;
        case NK_A64_PAC_SIGN_LR:
            *pac = true;
            break;
        case NK_A64_NOP:
        case NK_A64_END:
        case NK_A64_END_C:
        case NK_A64_SAVE_NEXT:
        case NK_A64_CLEAR_UNWOUND_TO_CALL:
            break;
        default:
            snprintf(note, nlen, "unwind code %s is not supported", nk_a64_op_name(c->op));
            return NTKD_E_UNSUPPORTED;
        }
    }
    return NTKD_OK;
}

/* Number of instructions a code sequence stands for (every code but end/end_c). */
static size_t instr_count(const nk_a64_code *codes, size_t n)
{
    size_t k = 0;
    for (size_t i = 0; i < n; i++)
        if (codes[i].op != NK_A64_END && codes[i].op != NK_A64_END_C) k++;
    return k;
}

/* Epilog emulation. When the instructions from pc up to a `ret` are all epilog instructions
 * (loads of saved registers from sp, sp increments, mov sp, x29, autibsp), running them
 * forward gives the caller's state exactly, whatever the unwind data says about epilogs: this
 * covers a pc inside any epilog, including at the final ret, where the unwind codes would
 * restore sp twice. Returns NTKD_E_NOTFOUND when pc is not in such a sequence. */
static nk_status emulate_epilog(ntkd_target *t, nk_uregs *r, char *note, size_t nlen)
{
    nk_uregs n = *r;
    uint64_t pc = r->r[PC];
    for (int k = 0; k < 24; k++, pc += 4) {
        uint32_t in;
        if (nk_read_u32(t, pc, &in) != NTKD_OK) return NTKD_E_NOTFOUND;
        uint64_t sp = n.r[SP];
        unsigned rt = in & 31, rn = (in >> 5) & 31, rt2 = (in >> 10) & 31;
        if (in == 0xd65f03c0u || in == 0xd65f0fffu) { /* ret, retab */
            if (!(n.valid & BIT(LR))) return NTKD_E_NOTFOUND;
            n.r[PC] = strip_pac(n.r[LR]);
            n.valid |= BIT(PC);
            n.valid &= ~BIT(LR);
            *r = n;
            snprintf(note, nlen, "pc inside an epilog (emulated)");
            return NTKD_OK;
        }
        if (in == 0xd50323ffu || in == 0xd503201fu) continue; /* autibsp, nop */
        uint32_t top10 = in & 0xffc00000u;
        bool ldp_x = top10 == 0xa9400000u, ldp_x_post = top10 == 0xa8c00000u;
        bool ldp_d = top10 == 0x6d400000u, ldp_d_post = top10 == 0x6cc00000u;
        if ((ldp_x || ldp_x_post || ldp_d || ldp_d_post) && rn == 31) {
            int64_t imm = (int64_t)((in >> 15) & 0x7f);
            if (imm & 0x40) imm -= 0x80;
            imm *= 8;
            uint64_t at = ldp_x || ldp_d ? sp + (uint64_t)imm : sp;
            if (ldp_x_post || ldp_x) {
                uint64_t a, b;
                if (nk_read_u64(t, at, &a) != NTKD_OK || nk_read_u64(t, at + 8, &b) != NTKD_OK) {
                    snprintf(note, nlen, "epilog load at %llx is not in the dump", (unsigned long long)at);
                    return NTKD_E_NOTPRESENT;
                }
                if (rt < 31) { n.r[rt] = a; n.valid |= BIT(rt); }
                if (rt2 < 31) { n.r[rt2] = b; n.valid |= BIT(rt2); }
            }
            if (ldp_x_post || ldp_d_post) n.r[SP] = sp + (uint64_t)imm;
            continue;
        }
        bool ldr_x = top10 == 0xf9400000u, ldr_d = top10 == 0xfd400000u;
        if ((ldr_x || ldr_d) && rn == 31) {
            uint64_t at = sp + 8ull * ((in >> 10) & 0xfff);
            if (ldr_x && rt < 31) {
                uint64_t a;
                if (nk_read_u64(t, at, &a) != NTKD_OK) {
                    snprintf(note, nlen, "epilog load at %llx is not in the dump", (unsigned long long)at);
                    return NTKD_E_NOTPRESENT;
                }
                n.r[rt] = a;
                n.valid |= BIT(rt);
            }
            continue;
        }
        uint32_t post = in & 0xffe00c00u;
        if ((post == 0xf8400400u || post == 0xfc400400u) && rn == 31) {
            int64_t imm = (int64_t)((in >> 12) & 0x1ff);
            if (imm & 0x100) imm -= 0x200;
            if (post == 0xf8400400u && rt < 31) {
                uint64_t a;
                if (nk_read_u64(t, sp, &a) != NTKD_OK) {
                    snprintf(note, nlen, "epilog load at %llx is not in the dump", (unsigned long long)sp);
                    return NTKD_E_NOTPRESENT;
                }
                n.r[rt] = a;
                n.valid |= BIT(rt);
            }
            n.r[SP] = sp + (uint64_t)imm;
            continue;
        }
        if ((in & 0xff800000u) == 0x91000000u && rt == 31 && (rn == 31 || rn == 29)) {
            /* add sp, sp|x29, #imm{, lsl #12} (mov sp, x29 is add sp, x29, #0) */
            uint64_t imm = (in >> 10) & 0xfff;
            if (in & (1u << 22)) imm <<= 12;
            if (rn == 29 && !(n.valid & BIT(FP))) return NTKD_E_NOTFOUND;
            n.r[SP] = (rn == 31 ? sp : n.r[FP]) + imm;
            continue;
        }
        return NTKD_E_NOTFOUND; /* not an epilog instruction: pc is in the body */
    }
    return NTKD_E_NOTFOUND;
}

static nk_status step_unwind(ntkd_target *t, nk_pe *pe, const nk_pe_func *f, uint32_t rva,
                             nk_uregs *r, char *note, size_t nlen)
{
    nk_a64_unwind *u = calloc(1, sizeof *u);
    nk_a64_code *codes = calloc(MAX_CODES, sizeof *codes);
    nk_status st = NTKD_OK;
    if (!u || !codes) { st = NTKD_E_NOMEM; goto out; }
    st = nk_pe_a64_unwind(pe, f, u);
    if (st != NTKD_OK) {
        snprintf(note, nlen, "unwind data of the function at +0x%x is unreadable", f->begin);
        goto out;
    }
    uint32_t off = rva - f->begin;
    bool complete = false;
    size_t from = 0, n = 0;
    bool in_epilog = false;
    /* epilog scopes (.xdata): codes in execution order; the first k instructions ran */
    if (u->flag == 0) {
        for (uint32_t e = 0; e < u->epilog_count && e < 1024 && !in_epilog; e++) {
            const nk_a64_epilog *ep = &u->epilogs[e];
            if (off < ep->start_offset) continue;
            size_t en = nk_a64_decode_seq(u, ep->start_index, codes, MAX_CODES, &complete);
            size_t ni = instr_count(codes, en);
            if (off < ep->start_offset + 4 * ni) {
                in_epilog = true;
                n = en;
                from = (off - ep->start_offset) / 4;
            }
        }
        if (!in_epilog && u->e && u->function_length) {
            size_t en = nk_a64_decode_seq(u, u->epilog_index, codes, MAX_CODES, &complete);
            size_t ni = instr_count(codes, en);
            uint32_t start = u->function_length >= 4 * ni ? u->function_length - (uint32_t)(4 * ni) : 0;
            if (off >= start && off < u->function_length) {
                in_epilog = true;
                n = en;
                from = (off - start) / 4;
            }
        }
    }
    if (!in_epilog) {
        n = nk_a64_decode_seq(u, 0, codes, MAX_CODES, &complete);
        size_t ni = instr_count(codes, n);
        /* a fragment (packed flag 2) has no prolog of its own: all codes apply */
        if (u->flag != 2 && off / 4 < ni) {
            /* inside the prolog: only the last off/4 codes (the executed instructions) */
            from = ni - off / 4;
        }
    }
    nk_uregs nr = *r;
    bool pac = false;
    st = apply(t, &nr, codes, from, n, &pac, note, nlen);
    if (st != NTKD_OK) goto out;
    if (!(nr.valid & BIT(LR))) {
        snprintf(note, nlen, "lr is not known after the unwind");
        st = NTKD_E_NOTFOUND;
        goto out;
    }
    uint64_t lr = nr.r[LR];
    if (pac) lr = strip_pac(lr);
    nr.r[PC] = lr;
    nr.valid |= BIT(PC);
    /* lr now describes the caller's return, which the caller's own unwind restores */
    nr.valid &= ~BIT(LR);
    if (in_epilog) snprintf(note, nlen, "pc inside an epilog");
    else if (from && u->flag != 2) snprintf(note, nlen, "pc inside the prolog");
    *r = nr;
out:
    if (u) nk_a64_unwind_free(u);
    free(u);
    free(codes);
    return st;
}

static nk_status step_fpchain(ntkd_target *t, nk_uregs *r, char *note, size_t nlen)
{
    if (!(r->valid & BIT(FP))) {
        snprintf(note, nlen, "fp is not known");
        return NTKD_E_NOTFOUND;
    }
    uint64_t fp = r->r[FP];
    if (fp == 0) {
        /* Windows ends every thread's chain with a zero frame pointer (the thread's first
         * frame record): there is no caller; the walk ends at return address 0 */
        snprintf(note, nlen, "fp is 0: end of the frame-pointer chain");
        r->r[PC] = 0;
        r->valid |= BIT(PC);
        r->valid &= ~BIT(LR);
        return NTKD_OK;
    }
    if (fp & 7) {
        snprintf(note, nlen, "fp is not 8-byte aligned: not a frame record");
        return NTKD_E_NOTFOUND;
    }
    if ((r->valid & BIT(SP)) && fp < r->r[SP]) {
        snprintf(note, nlen, "fp is below sp: not a frame record");
        return NTKD_E_NOTFOUND;
    }
    uint64_t cfp, lr;
    nk_status st = rd64(t, fp, &cfp, note, nlen, "frame record");
    if (st != NTKD_OK) return st;
    if ((st = rd64(t, fp + 8, &lr, note, nlen, "frame record")) != NTKD_OK) return st;
    r->r[FP] = cfp;
    r->r[PC] = strip_pac(lr);
    r->r[SP] = fp + 16;
    r->valid |= BIT(FP) | BIT(PC) | BIT(SP);
    r->valid &= ~BIT(LR);
    return NTKD_OK;
}

nk_status nk_step_arm64(ntkd_target *t, nk_uregs *r, nk_frame_how *how, char *note, size_t nlen)
{
    char dummy[8];
    if (!note || !nlen) { note = dummy; nlen = sizeof dummy; }
    note[0] = 0;
    if (!t || !r || !how) return NTKD_E_ARG;
    if (!(r->valid & BIT(PC)) || !(r->valid & BIT(SP))) {
        snprintf(note, nlen, "pc or sp is not known");
        return NTKD_E_NOTFOUND;
    }
    uint64_t pc = r->r[PC], base = 0;
    nk_pe *pe = nk_sym_image_at(t, pc, &base);
    if (pe && pc >= base && pc - base <= 0xffffffffu) {
        uint32_t rva = (uint32_t)(pc - base);
        nk_pe_func f;
        nk_status st = nk_pe_func_find(pe, rva, &f);
        if (st == NTKD_OK) {
            nk_uregs n = *r;
            st = emulate_epilog(t, &n, note, nlen);
            if (st == NTKD_OK) {
                *r = n;
                *how = NK_FH_UNWIND;
                return NTKD_OK;
            }
            if (st == NTKD_E_NOTPRESENT) return st;
            n = *r;
            st = step_unwind(t, pe, &f, rva, &n, note, nlen);
            if (st == NTKD_OK) {
                *r = n;
                *how = NK_FH_UNWIND;
                return NTKD_OK;
            }
            if (st == NTKD_E_NOTPRESENT) return st;
        } else if (st == NTKD_E_NOTFOUND && (r->valid & BIT(LR)) && r->r[LR] != pc) {
            /* a leaf: no entry, lr still holds the return address */
            r->r[PC] = strip_pac(r->r[LR]);
            r->valid &= ~BIT(LR);
            *how = NK_FH_LEAF;
            snprintf(note, nlen, "no .pdata entry: leaf function, returned to lr");
            return NTKD_OK;
        }
    }
    nk_uregs n = *r;
    char n2[96] = "";
    nk_status st = step_fpchain(t, &n, n2, sizeof n2);
    if (st == NTKD_OK) {
        *r = n;
        *how = NK_FH_FPCHAIN;
        if (n2[0]) snprintf(note, nlen, "%s", n2);
        else if (!note[0]) snprintf(note, nlen, "%s", pe ? "frame-pointer chain" : "no image for this module: frame-pointer chain");
        return NTKD_OK;
    }
    if (note[0]) {
        size_t l = strlen(note);
        snprintf(note + l, nlen - l, "; %s", n2);
    } else {
        snprintf(note, nlen, "%s", n2);
    }
    return st;
}
