/* unwind_x64.c: one x64 unwind step, following the documented rules of Windows x64
 * exception handling: the RUNTIME_FUNCTION covering RIP (none: a leaf function whose return
 * address is at [rsp]); a RIP inside an epilog is unwound by emulating the epilog's
 * instructions; otherwise the unwind codes whose prolog offset has been reached are undone
 * in order, chained info is followed, and the return address is popped unless a machine
 * frame supplied RIP and RSP. */
#include <stdio.h>
#include <stdlib.h>

#include "code/unwind.h"
#include "image/pe.h"
#include "mem/mem.h"
#include "sym/sym.h"

#define RSP 4
#define RIP NK_UR_X64_RIP

/* Code bytes at va: dump memory first, else the image (file layout from the store). */
static size_t read_code(ntkd_target *t, nk_pe *pe, uint64_t base, uint64_t va, uint8_t *buf, size_t len)
{
    size_t got = 0;
    nk_read_virt(t, va, buf, len, &got);
    if (got == len || !pe || va < base || va - base > UINT32_MAX) return got;
    size_t g2 = 0;
    char saved[sizeof t->ctx->errmsg];
    memcpy(saved, t->ctx->errmsg, sizeof saved);
    nk_pe_read(pe, (uint32_t)(va - base), buf, len, &g2);
    memcpy(t->ctx->errmsg, saved, sizeof saved);
    return g2 > got ? g2 : got;
}

static nk_status rd64(ntkd_target *t, uint64_t va, uint64_t *v, char *note, size_t nlen)
{
    if (nk_read_u64(t, va, v) != NTKD_OK) {
        snprintf(note, nlen, "stack not readable at %016llx", (unsigned long long)va);
        return NTKD_E_NOTPRESENT;
    }
    return NTKD_OK;
}

/* The module name of addr for messages ("nt", "amdppm"). */
static void module_name(ntkd_target *t, uint64_t addr, char *buf, size_t len)
{
    char d[256];
    if (!nk_sym_describe(t, addr, d, sizeof d)) {
        snprintf(buf, len, "?");
        return;
    }
    size_t n = strcspn(d, "!+");
    snprintf(buf, len, "%.*s", (int)n, d);
}

/* Recognizes an epilog starting at rip (bytes p[0..n)) and emulates it. Returns true when
 * rip is inside an epilog (and the registers were unwound). The documented epilog form:
 * [add rsp,imm | lea rsp,[reg+disp]] pop* (ret | jmp outside the function). */
static bool try_epilog(ntkd_target *t, nk_uregs *r, const uint8_t *p, size_t n, uint64_t fbegin,
                       uint64_t fend, char *note, size_t nlen, nk_status *st)
{
    size_t i = 0;
    uint64_t rsp = r->r[RSP];
    bool have_lea = false;
    int lea_reg = -1;
    int64_t lea_disp = 0;
    /* add rsp, imm8 / imm32 */
    if (n >= 4 && p[0] == 0x48 && p[1] == 0x83 && p[2] == 0xc4) {
        rsp += (uint64_t)(int64_t)(int8_t)p[3];
        i = 4;
    } else if (n >= 7 && p[0] == 0x48 && p[1] == 0x81 && p[2] == 0xc4) {
        rsp += (uint64_t)(int64_t)(int32_t)nk_le32(p + 3);
        i = 7;
    } else if (n >= 4 && (p[0] == 0x48 || p[0] == 0x49) && p[1] == 0x8d && ((p[2] >> 3) & 7) == 4 &&
               (p[2] >> 6) != 3 && (p[2] & 7) != 4) {
        /* lea rsp, [reg + disp8/disp32] (no SIB) */
        unsigned mod = p[2] >> 6;
        lea_reg = (p[2] & 7) | (p[0] == 0x49 ? 8 : 0);
        if (mod == 1) {
            lea_disp = (int8_t)p[3];
            i = 4;
        } else if (mod == 2 && n >= 7) {
            lea_disp = (int32_t)nk_le32(p + 3);
            i = 7;
        } else {
            return false;
        }
        have_lea = true;
    }
    /* pops */
    uint8_t pops[16];
    size_t npops = 0;
    for (; i < n && npops < 16;) {
        if (p[i] >= 0x58 && p[i] <= 0x5f) {
            pops[npops++] = (uint8_t)(p[i] - 0x58);
            i++;
        } else if (i + 1 < n && p[i] == 0x41 && p[i + 1] >= 0x58 && p[i + 1] <= 0x5f) {
            pops[npops++] = (uint8_t)(p[i + 1] - 0x58 + 8);
            i += 2;
        } else {
            break;
        }
    }
    /* the terminator */
    bool term = false;
    if (i < n && (p[i] == 0xc3 || p[i] == 0xc2)) term = true;
    else if (i + 1 < n && p[i] == 0xf3 && p[i + 1] == 0xc3) term = true;
    else if (i + 4 < n && p[i] == 0xe9) {
        uint64_t tgt = r->r[RIP] + i + 5 + (uint64_t)(int64_t)(int32_t)nk_le32(p + i + 1);
        term = tgt < fbegin || tgt >= fend;
    } else if (i + 1 < n && p[i] == 0xeb) {
        uint64_t tgt = r->r[RIP] + i + 2 + (uint64_t)(int64_t)(int8_t)p[i + 1];
        term = (tgt < fbegin || tgt >= fend) && (i > 0);
    } else if (i + 2 < n && p[i] == 0xff && p[i + 1] == 0x25) {
        term = true; /* jmp qword ptr [rip+disp32] */
    } else if (i + 3 < n && (p[i] & 0xf0) == 0x40 && p[i + 1] == 0xff && ((p[i + 2] >> 3) & 7) == 4 &&
               (p[i + 2] >> 6) != 3) {
        term = true; /* rex.W jmp qword ptr [...] */
    }
    if (!term) return false;
    if (have_lea) {
        if (!(r->valid & (1ull << lea_reg))) return false;
        rsp = r->r[lea_reg] + (uint64_t)lea_disp;
    }
    for (size_t k = 0; k < npops; k++) {
        uint64_t v;
        if ((*st = rd64(t, rsp, &v, note, nlen)) != NTKD_OK) return true;
        r->r[pops[k]] = v;
        r->valid |= 1ull << pops[k];
        rsp += 8;
    }
    uint64_t ret;
    if ((*st = rd64(t, rsp, &ret, note, nlen)) != NTKD_OK) return true;
    r->r[RIP] = ret;
    r->r[RSP] = rsp + 8;
    *st = NTKD_OK;
    return true;
}

/* Undoes one UNWIND_INFO's codes. prolog_off: bytes of the prolog executed (UINT32_MAX: all).
 * *mach is set when a machine frame supplied RIP/RSP. */
static nk_status apply_codes(ntkd_target *t, nk_uregs *r, const nk_x64_unwind *u, uint32_t prolog_off,
                             bool *mach, uint64_t *trap, char *note, size_t nlen)
{
    /* the frame base SAVE_NONVOL offsets are relative to */
    uint64_t frame = r->r[RSP];
    if (u->frame_reg) {
        bool fp_set = false;
        for (size_t i = 0; i < u->ncodes; i++)
            if (u->codes[i].op == NK_UWOP_SET_FPREG && u->codes[i].code_offset <= prolog_off) fp_set = true;
        if (fp_set && (r->valid & (1ull << u->frame_reg)))
            frame = r->r[u->frame_reg] - 16ull * u->frame_offset;
    }
    for (size_t i = 0; i < u->ncodes; i++) {
        const nk_x64_code *c = &u->codes[i];
        if (c->op == NK_UWOP_EPILOG || !c->valid) continue;
        if (c->code_offset > prolog_off) continue; /* not executed yet */
        uint64_t v;
        nk_status st;
        switch (c->op) {
        case NK_UWOP_PUSH_NONVOL:
            if ((st = rd64(t, r->r[RSP], &v, note, nlen)) != NTKD_OK) return st;
            r->r[c->info & 15] = v;
            r->valid |= 1ull << (c->info & 15);
            r->r[RSP] += 8;
            break;
        case NK_UWOP_ALLOC_LARGE:
        case NK_UWOP_ALLOC_SMALL:
            r->r[RSP] += c->value;
            break;
        case NK_UWOP_SET_FPREG:
            if (!u->frame_reg || !(r->valid & (1ull << u->frame_reg))) {
                snprintf(note, nlen, "frame register %s unknown", nk_x64_reg_name(u->frame_reg));
                return NTKD_E_NOTPRESENT;
            }
            r->r[RSP] = r->r[u->frame_reg] - 16ull * u->frame_offset;
            break;
        case NK_UWOP_SAVE_NONVOL:
        case NK_UWOP_SAVE_NONVOL_FAR:
            if ((st = rd64(t, frame + c->value, &v, note, nlen)) != NTKD_OK) return st;
            r->r[c->info & 15] = v;
            r->valid |= 1ull << (c->info & 15);
            break;
        case NK_UWOP_SAVE_XMM128:
        case NK_UWOP_SAVE_XMM128_FAR:
            break; /* integer registers only */
        case NK_UWOP_PUSH_MACHFRAME: {
            uint64_t base = r->r[RSP] + (c->info ? 8 : 0);
            uint64_t rip, rsp, efl;
            if ((st = rd64(t, base, &rip, note, nlen)) != NTKD_OK) return st;
            if ((st = rd64(t, base + 24, &rsp, note, nlen)) != NTKD_OK) return st;
            if (rd64(t, base + 16, &efl, note, nlen) == NTKD_OK) {
                r->r[NK_UR_X64_EFL] = efl & 0xffffffffu;
                r->valid |= 1ull << NK_UR_X64_EFL;
            }
            r->r[RIP] = rip;
            r->r[RSP] = rsp;
            *mach = true;
            *trap = base;
            break;
        }
        default:
            break;
        }
    }
    return NTKD_OK;
}

nk_status nk_step_x64(ntkd_target *t, nk_uregs *r, nk_frame_how *how, char *note, size_t nlen)
{
    if (note && nlen) note[0] = 0;
    uint64_t rip = r->r[RIP];
    uint64_t base = 0;
    nk_pe *pe = nk_sym_image_at(t, rip, &base);
    if (!pe) {
        char m[80];
        if (nk_sym_module_of(t, rip) < 0) {
            snprintf(note, nlen, "no unwind data: %016llx is in no known module", (unsigned long long)rip);
        } else {
            module_name(t, rip, m, sizeof m);
            snprintf(note, nlen, "no unwind data: %s image not in dump or symbol store", m);
        }
        return NTKD_E_NOTFOUND;
    }
    if (rip - base > UINT32_MAX) return NTKD_E_NOTFOUND;
    uint32_t rva = (uint32_t)(rip - base);
    nk_pe_func f;
    char saved[sizeof t->ctx->errmsg];
    memcpy(saved, t->ctx->errmsg, sizeof saved);
    nk_status st = nk_pe_func_find(pe, rva, &f);
    if (st == NTKD_E_NOTFOUND && nk_pe_is_mem_layout(pe)) {
        /* "no entry" only counts when the whole table was readable */
        const nk_pe_func *v;
        size_t nf = 0, total = 0;
        if (nk_pe_funcs(pe, &v, &nf, &total) != NTKD_OK || nf < total) st = NTKD_E_NOTPRESENT;
    }
    memcpy(t->ctx->errmsg, saved, sizeof saved);
    if (st == NTKD_E_NOTFOUND) {
        /* a leaf function: the return address is at [rsp] */
        uint64_t ret;
        if ((st = rd64(t, r->r[RSP], &ret, note, nlen)) != NTKD_OK) return st;
        r->r[RIP] = ret;
        r->r[RSP] += 8;
        *how = NK_FH_LEAF;
        return NTKD_OK;
    }
    if (st != NTKD_OK) {
        char m[80];
        module_name(t, rip, m, sizeof m);
        if (nk_pe_is_mem_layout(pe))
            snprintf(note, nlen, "no unwind data: %s image not in dump or symbol store", m);
        else
            snprintf(note, nlen, "no unwind data: %s .pdata not readable", m);
        return NTKD_E_NOTFOUND;
    }
    nk_x64_unwind *u = malloc(sizeof *u);
    if (!u) return NTKD_E_NOMEM;
    nk_pe_func res = f;
    st = nk_pe_x64_unwind(pe, &f, u, &res);
    memcpy(t->ctx->errmsg, saved, sizeof saved);
    if (st != NTKD_OK) {
        char m[80];
        module_name(t, rip, m, sizeof m);
        snprintf(note, nlen, "no unwind data: %s unwind info at rva %x not readable", m, f.unwind & ~1u);
        free(u);
        return NTKD_E_NOTFOUND;
    }
    /* an epilog? */
    uint8_t code[64];
    size_t n = read_code(t, pe, base, rip, code, sizeof code);
    if (n) {
        nk_status est = NTKD_OK;
        nk_uregs tmp = *r;
        if (try_epilog(t, &tmp, code, n, base + f.begin, base + f.end, note, nlen, &est)) {
            free(u);
            if (est != NTKD_OK) return est;
            *r = tmp;
            *how = NK_FH_UNWIND;
            return NTKD_OK;
        }
    }
    uint32_t off = rva - res.begin;
    bool mach = false;
    uint64_t trap = 0;
    for (unsigned link = 0; link < 32; link++) {
        st = apply_codes(t, r, u, off, &mach, &trap, note, nlen);
        if (st != NTKD_OK || !u->chained) break;
        nk_pe_func next = u->chain;
        st = nk_pe_x64_unwind(pe, &next, u, NULL);
        memcpy(t->ctx->errmsg, saved, sizeof saved);
        if (st != NTKD_OK) {
            snprintf(note, nlen, "chained unwind info not readable");
            break;
        }
        off = UINT32_MAX; /* the parent's prolog has run */
    }
    free(u);
    if (st != NTKD_OK) return st == NTKD_E_NOTFOUND ? NTKD_E_FORMAT : st;
    if (mach) {
        *how = NK_FH_MACHFRAME;
        /* the walker reads the machine frame's address back from this note */
        snprintf(note, nlen, "machine frame @ %016llx", (unsigned long long)trap);
        return NTKD_OK;
    }
    uint64_t ret;
    if ((st = rd64(t, r->r[RSP], &ret, note, nlen)) != NTKD_OK) return st;
    r->r[RIP] = ret;
    r->r[RSP] += 8;
    *how = NK_FH_UNWIND;
    return NTKD_OK;
}
