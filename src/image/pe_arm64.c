/* pe_arm64.c: ARM64 unwind data: packed .pdata entries (expanded to the equivalent unwind
 * codes of their canonical prolog) and .xdata records (header, epilog scopes, unwind codes,
 * exception handler), and the unwind code decoder. Facts: Microsoft's "ARM64 exception
 * handling". */
#include "image/pe_internal.h"

#include <stdio.h>
#include <stdlib.h>

#define A64_MAX_CODE_BYTES 1020 /* 255 code words */

const char *nk_a64_op_name(uint8_t op)
{
    static const char *const names[] = {
        "alloc_s",      "save_r19r20_x", "save_fplr",    "save_fplr_x",   "alloc_m",
        "save_regp",    "save_regp_x",   "save_reg",     "save_reg_x",    "save_lrpair",
        "save_fregp",   "save_fregp_x",  "save_freg",    "save_freg_x",   "alloc_l",
        "set_fp",       "add_fp",        "nop",          "end",           "end_c",
        "save_next",    "save_any_reg",  "trap_frame",   "machine_frame", "context",
        "ec_context",   "clear_unwound_to_call",         "pac_sign_lr",   "reserved",
    };
    return op < sizeof names / sizeof names[0] ? names[op] : "?";
}

/* Length in bytes of the code whose first byte is b. */
static unsigned code_len(uint8_t b)
{
    if (b < 0xc0) return 1;
    if (b < 0xe0) return 2;
    switch (b) {
    case 0xe0: return 4;
    case 0xe2: return 2;
    case 0xe7: return 3;
    case 0xf8: return 2;
    case 0xf9: return 3;
    case 0xfa: return 4;
    case 0xfb: return 5;
    }
    return 1;
}

nk_status nk_a64_decode(const uint8_t *codes, size_t n, size_t at, nk_a64_code *c)
{
    memset(c, 0, sizeof *c);
    if (at >= n) return NTKD_E_TRUNCATED;
    uint8_t b0 = codes[at];
    unsigned len = code_len(b0);
    c->len = (uint8_t)len;
    c->index = (uint16_t)at;
    if (len > n - at) return NTKD_E_TRUNCATED;
    for (unsigned i = 0; i < len; i++) c->raw = c->raw << 8 | codes[at + i];
    uint8_t b1 = len > 1 ? codes[at + 1] : 0;
    c->regclass = NK_A64_REG_X;
    if (b0 < 0x20) { /* alloc_s */
        c->op = NK_A64_ALLOC_S;
        c->size = (b0 & 0x1fu) * 16;
    } else if (b0 < 0x40) { /* save_r19r20_x */
        c->op = NK_A64_SAVE_R19R20_X;
        c->reg = 19, c->reg2 = 20, c->pair = true, c->writeback = true;
        c->offset = -(int32_t)((b0 & 0x1fu) * 8);
    } else if (b0 < 0x80) { /* save_fplr */
        c->op = NK_A64_SAVE_FPLR;
        c->reg = 29, c->reg2 = 30, c->pair = true;
        c->offset = (int32_t)((b0 & 0x3fu) * 8);
    } else if (b0 < 0xc0) { /* save_fplr_x */
        c->op = NK_A64_SAVE_FPLR_X;
        c->reg = 29, c->reg2 = 30, c->pair = true, c->writeback = true;
        c->offset = -(int32_t)(((b0 & 0x3fu) + 1) * 8);
    } else if (b0 < 0xc8) { /* alloc_m */
        c->op = NK_A64_ALLOC_M;
        c->size = (((b0 & 7u) << 8) | b1) * 16;
    } else if (b0 < 0xd0) { /* save_regp(_x) */
        unsigned x = ((b0 & 3u) << 2) | (b1 >> 6), z = b1 & 0x3fu;
        c->reg = (uint8_t)(19 + x), c->reg2 = (uint8_t)(20 + x), c->pair = true;
        if (b0 < 0xcc) {
            c->op = NK_A64_SAVE_REGP;
            c->offset = (int32_t)(z * 8);
        } else {
            c->op = NK_A64_SAVE_REGP_X;
            c->writeback = true;
            c->offset = -(int32_t)((z + 1) * 8);
        }
    } else if (b0 < 0xd4) { /* save_reg */
        unsigned x = ((b0 & 3u) << 2) | (b1 >> 6), z = b1 & 0x3fu;
        c->op = NK_A64_SAVE_REG;
        c->reg = (uint8_t)(19 + x);
        c->offset = (int32_t)(z * 8);
    } else if (b0 < 0xd6) { /* save_reg_x */
        unsigned x = ((b0 & 1u) << 3) | (b1 >> 5), z = b1 & 0x1fu;
        c->op = NK_A64_SAVE_REG_X;
        c->reg = (uint8_t)(19 + x), c->writeback = true;
        c->offset = -(int32_t)((z + 1) * 8);
    } else if (b0 < 0xd8) { /* save_lrpair */
        unsigned x = ((b0 & 1u) << 2) | (b1 >> 6), z = b1 & 0x3fu;
        c->op = NK_A64_SAVE_LRPAIR;
        c->reg = (uint8_t)(19 + 2 * x), c->reg2 = 30, c->pair = true;
        c->offset = (int32_t)(z * 8);
    } else if (b0 < 0xde) { /* save_fregp, save_fregp_x, save_freg */
        unsigned x = ((b0 & 1u) << 2) | (b1 >> 6), z = b1 & 0x3fu;
        c->regclass = NK_A64_REG_D;
        c->reg = (uint8_t)(8 + x);
        if (b0 < 0xda) {
            c->op = NK_A64_SAVE_FREGP;
            c->reg2 = (uint8_t)(9 + x), c->pair = true;
            c->offset = (int32_t)(z * 8);
        } else if (b0 < 0xdc) {
            c->op = NK_A64_SAVE_FREGP_X;
            c->reg2 = (uint8_t)(9 + x), c->pair = true, c->writeback = true;
            c->offset = -(int32_t)((z + 1) * 8);
        } else {
            c->op = NK_A64_SAVE_FREG;
            c->offset = (int32_t)(z * 8);
        }
    } else if (b0 == 0xde) { /* save_freg_x */
        unsigned x = b1 >> 5, z = b1 & 0x1fu;
        c->op = NK_A64_SAVE_FREG_X;
        c->regclass = NK_A64_REG_D;
        c->reg = (uint8_t)(8 + x), c->writeback = true;
        c->offset = -(int32_t)((z + 1) * 8);
    } else if (b0 == 0xdf) {
        c->op = NK_A64_RESERVED;
    } else {
        switch (b0) {
        case 0xe0:
            c->op = NK_A64_ALLOC_L;
            c->size = (uint32_t)(((uint32_t)codes[at + 1] << 16 | (uint32_t)codes[at + 2] << 8 | codes[at + 3]) * 16u);
            break;
        case 0xe1: c->op = NK_A64_SET_FP; break;
        case 0xe2:
            c->op = NK_A64_ADD_FP;
            c->size = b1 * 8u;
            break;
        case 0xe3: c->op = NK_A64_NOP; break;
        case 0xe4: c->op = NK_A64_END; break;
        case 0xe5: c->op = NK_A64_END_C; break;
        case 0xe6: c->op = NK_A64_SAVE_NEXT; break;
        case 0xe7: {
            uint8_t b2 = codes[at + 2];
            unsigned kind = b2 >> 6, o = b2 & 0x3fu;
            if ((b1 & 0x80) || kind == 3) {
                c->op = NK_A64_RESERVED;
                break;
            }
            c->op = NK_A64_SAVE_ANY_REG;
            c->pair = (b1 & 0x40) != 0;
            c->writeback = (b1 & 0x20) != 0;
            c->regclass = (uint8_t)kind;
            c->reg = b1 & 0x1f;
            c->reg2 = c->pair ? (uint8_t)(c->reg + 1) : 0;
            if (c->writeback) c->offset = -(int32_t)((o + 1) * 16);
            else if (c->pair || kind == NK_A64_REG_Q) c->offset = (int32_t)(o * 16);
            else c->offset = (int32_t)(o * 8);
            break;
        }
        case 0xe8: c->op = NK_A64_TRAP_FRAME; break;
        case 0xe9: c->op = NK_A64_MACHINE_FRAME; break;
        case 0xea: c->op = NK_A64_CONTEXT; break;
        case 0xeb: c->op = NK_A64_EC_CONTEXT; break;
        case 0xec: c->op = NK_A64_CLEAR_UNWOUND_TO_CALL; break;
        case 0xfc: c->op = NK_A64_PAC_SIGN_LR; break;
        default: c->op = NK_A64_RESERVED; break;
        }
    }
    return NTKD_OK;
}

static bool is_pair_anchor(const nk_a64_code *c)
{
    switch (c->op) {
    case NK_A64_SAVE_R19R20_X:
    case NK_A64_SAVE_REGP:
    case NK_A64_SAVE_REGP_X:
    case NK_A64_SAVE_FREGP:
    case NK_A64_SAVE_FREGP_X:
        return true;
    case NK_A64_SAVE_ANY_REG:
        return c->pair;
    }
    return false;
}

size_t nk_a64_decode_seq(const nk_a64_unwind *u, size_t start, nk_a64_code *out, size_t max, bool *complete)
{
    size_t n = 0, at = start;
    bool done = false;
    while (at < u->ncode_bytes && n < max && n < A64_MAX_CODE_BYTES) {
        nk_a64_code c;
        if (nk_a64_decode(u->codes, u->ncode_bytes, at, &c) != NTKD_OK) break;
        out[n++] = c;
        at += c.len;
        if (c.op == NK_A64_END) {
            done = true;
            break;
        }
    }
    if (complete) *complete = done;
    /* save_next codes come before (in stored order) the pair save they extend: resolve each
     * to the next register pair in the next slot up */
    bool have = false;
    nk_a64_code anchor = {0};
    int32_t base = 0, step = 16;
    unsigned count = 0;
    for (size_t i = n; i-- > 0;) {
        nk_a64_code *c = &out[i];
        if (is_pair_anchor(c)) {
            anchor = *c;
            have = true;
            base = c->writeback ? 0 : c->offset;
            step = c->regclass == NK_A64_REG_Q ? 32 : 16;
            count = 0;
        } else if (c->op == NK_A64_SAVE_NEXT) {
            if (!have) continue; /* nothing to extend: left as decoded */
            count++;
            unsigned r = anchor.reg + 2 * count;
            uint8_t cls = anchor.regclass;
            if (cls == NK_A64_REG_X && anchor.op != NK_A64_SAVE_ANY_REG && r > 28) {
                /* past the last integer pair (x27, x28) come d8, d9 ... */
                cls = NK_A64_REG_D;
                r = 8 + (r - 29);
            }
            c->regclass = cls;
            c->reg = (uint8_t)r;
            c->reg2 = (uint8_t)(r + 1);
            c->pair = true;
            c->offset = base + (int32_t)(count * (unsigned)step);
        } else {
            have = false;
        }
    }
    return n;
}

/* ---- packed entries ------------------------------------------------------------------ */

typedef struct emitter {
    uint8_t b[64];
    size_t n;
    bool bad;
} emitter;

static void emit(emitter *e, const uint8_t *bytes, size_t n)
{
    if (e->n + n > sizeof e->b) {
        e->bad = true;
        return;
    }
    memcpy(e->b + e->n, bytes, n);
    e->n += n;
}

static void emit1(emitter *e, unsigned b) { uint8_t x = (uint8_t)b; emit(e, &x, 1); }
static void emit2(emitter *e, unsigned b0, unsigned b1)
{
    uint8_t x[2] = {(uint8_t)b0, (uint8_t)b1};
    emit(e, x, 2);
}

static void emit_alloc(emitter *e, uint32_t bytes)
{
    uint32_t x = bytes / 16;
    if (x < 32) emit1(e, x);
    else if (x < 2048) emit2(e, 0xc0 | (x >> 8), x & 0xff);
    else {
        uint8_t b[4] = {0xe0, (uint8_t)(x >> 16), (uint8_t)(x >> 8), (uint8_t)x};
        emit(e, b, 4);
    }
}

/* Stores with an unsigned scaled offset (z*8, z < 64) and pre-indexed ones ((z+1)*8). */
static bool zfit(int32_t off, unsigned bits) { return off >= 0 && off % 8 == 0 && off / 8 < (1 << bits); }

/* Expands packed unwind data into the codes of its canonical prolog, in unwind order (the
 * reverse of the prolog), ending with end. Follows the documented steps; cases the
 * documentation leaves open follow what the unwinder must do to restore sp. */
static nk_status expand_packed(nk_pe *pe, nk_a64_unwind *u)
{
    char w[48];
    unsigned regi = u->reg_i, regf = u->reg_f, cr = u->cr, h = u->h;
    int32_t intsz = 8 * (int32_t)regi + (cr == 1 ? 8 : 0);
    int32_t fpsz = regf ? 8 * ((int32_t)regf + 1) : 0;
    int32_t savsz = (intsz + fpsz + 64 * (int32_t)h + 15) & ~15;
    int32_t locsz = (int32_t)u->frame_size - savsz;
    const char *why = NULL;
    if (regi > 10) why = "RegI is more than 10";
    else if (locsz < 0) why = "FrameSize is smaller than the register save area";
    else if (cr == 1 && regi == 1) why = "CR=1 with RegI=1 has no unwind code equivalent";
    if (why)
        return nk_fail(pe->ctx, NTKD_E_FORMAT, "%s: packed unwind data 0x%08x of the function at rva 0x%x (.pdata %s): %s",
                       pe->name, u->word, u->begin, pe_where(pe, u->begin, w), why);
    emitter e = {.n = 0};
    bool chained = cr == 2 || cr == 3;
    /* step 6: locals and the frame record */
    if (chained) {
        emit1(&e, 0xe1); /* set_fp */
        if (locsz <= 512) {
            if (locsz < 16) e.bad = true;
            else emit1(&e, 0x80 | (unsigned)(locsz / 8 - 1)); /* save_fplr_x */
        } else {
            emit1(&e, 0x40); /* save_fplr at [sp, #0] */
        }
    }
    if (locsz > 4080) {
        emit_alloc(&e, (uint32_t)(locsz - 4080));
        emit_alloc(&e, 4080);
    } else if ((!chained && locsz > 0) || locsz > 512) {
        emit_alloc(&e, (uint32_t)locsz);
    }
    bool saved_before_home = regi > 0 || regf > 0 || cr == 1;
    /* step 5: homed parameters x0-x7; the first of the four stores allocates the save area
     * when nothing was saved before it, which only an allocation code can undo */
    if (h) {
        emit1(&e, 0xe3);
        emit1(&e, 0xe3);
        emit1(&e, 0xe3);
        if (saved_before_home) emit1(&e, 0xe3);
        else emit_alloc(&e, (uint32_t)savsz);
    }
    /* step 4: d8.. d(8+RegF) */
    unsigned nf = regf ? regf + 1 : 0;
    for (int i = (int)(nf + 1) / 2 - 1; i >= 0; i--) {
        int32_t off = intsz + 16 * i;
        unsigned x = 2u * (unsigned)i;
        if (i == (int)(nf + 1) / 2 - 1 && nf % 2 == 1) {
            if (!zfit(off, 6)) e.bad = true;
            emit2(&e, 0xdc | (x >> 2), ((x & 3) << 6) | (unsigned)(off / 8)); /* save_freg */
        } else if (i == 0 && regi == 0 && cr != 1) {
            if (!zfit(savsz - 8, 6)) e.bad = true;
            emit2(&e, 0xda | (x >> 2), ((x & 3) << 6) | (unsigned)(savsz / 8 - 1)); /* save_fregp_x */
        } else {
            if (!zfit(off, 6)) e.bad = true;
            emit2(&e, 0xd8 | (x >> 2), ((x & 3) << 6) | (unsigned)(off / 8)); /* save_fregp */
        }
    }
    /* step 3: lr alone (CR=1, even RegI) */
    if (cr == 1 && regi % 2 == 0) {
        unsigned x = 11; /* x19 + 11 = lr */
        if (regi == 0) {
            if (!zfit(savsz - 8, 5)) e.bad = true;
            emit2(&e, 0xd4 | (x >> 3), ((x & 7) << 5) | (unsigned)(savsz / 8 - 1)); /* save_reg_x */
        } else {
            emit2(&e, 0xd0 | (x >> 2), ((x & 3) << 6) | (unsigned)((intsz - 8) / 8)); /* save_reg */
        }
    }
    /* step 2: x19.. x(19+RegI-1) */
    for (int i = (int)(regi + 1) / 2 - 1; i >= 0; i--) {
        unsigned x = 2u * (unsigned)i;
        int32_t off = 16 * i;
        if (i == (int)(regi + 1) / 2 - 1 && regi % 2 == 1) {
            if (cr == 1) {
                emit2(&e, 0xd6 | (unsigned)(i >> 2), (((unsigned)i & 3) << 6) | (unsigned)(off / 8)); /* save_lrpair */
            } else if (i == 0) {
                if (!zfit(savsz - 8, 5)) e.bad = true;
                emit2(&e, 0xd4 | (x >> 3), ((x & 7) << 5) | (unsigned)(savsz / 8 - 1)); /* save_reg_x */
            } else {
                emit2(&e, 0xd0 | (x >> 2), ((x & 3) << 6) | (unsigned)(off / 8)); /* save_reg */
            }
        } else if (i == 0) {
            if (savsz <= 248) emit1(&e, 0x20 | (unsigned)(savsz / 8)); /* save_r19r20_x */
            else emit2(&e, 0xcc, (unsigned)(savsz / 8 - 1));          /* save_regp_x */
        } else {
            emit2(&e, 0xc8 | (x >> 2), ((x & 3) << 6) | (unsigned)(off / 8)); /* save_regp */
        }
    }
    if (cr == 2) emit1(&e, 0xfc); /* pac_sign_lr */
    emit1(&e, 0xe4);              /* end */
    if (e.bad)
        return nk_fail(pe->ctx, NTKD_E_FORMAT, "%s: packed unwind data 0x%08x of the function at rva 0x%x: a save offset does not fit its unwind code",
                       pe->name, u->word, u->begin);
    memcpy(u->codes, e.b, e.n);
    u->ncode_bytes = (uint32_t)e.n;
    u->synthesized = true;
    return NTKD_OK;
}

/* ---- .xdata -------------------------------------------------------------------------- */

static nk_status parse_xdata(nk_pe *pe, nk_a64_unwind *u)
{
    char w[48];
    uint32_t x = u->xdata_rva;
    uint8_t b[4];
    nk_status st = pe_read_what(pe, x, b, 4, ".xdata header");
    if (st != NTKD_OK) return st;
    uint32_t w0 = nk_le32(b);
    u->function_length = (w0 & 0x3ffffu) * 4;
    u->version = (uint8_t)((w0 >> 18) & 3);
    u->x = (w0 >> 20) & 1;
    u->e = (w0 >> 21) & 1;
    uint32_t ep = (w0 >> 22) & 0x1f, cw = (w0 >> 27) & 0x1f;
    uint32_t off = 4;
    if (ep == 0 && cw == 0) {
        st = pe_read_what(pe, x + 4, b, 4, ".xdata extension word");
        if (st != NTKD_OK) return st;
        uint32_t w1 = nk_le32(b);
        ep = w1 & 0xffff;
        cw = (w1 >> 16) & 0xff;
        u->extended = true;
        off = 8;
    }
    if (u->version != 0)
        return nk_fail(pe->ctx, NTKD_E_UNSUPPORTED, "%s: .xdata at %s has version %u (only 0 is defined)", pe->name,
                       pe_where(pe, x, w), u->version);
    u->code_words = cw;
    if (u->e) {
        u->epilog_index = ep;
        u->epilog_count = 0;
    } else {
        u->epilog_count = ep;
        if (ep) {
            uint8_t *raw = malloc((size_t)ep * 4);
            u->epilogs = calloc(ep, sizeof *u->epilogs);
            if (!raw || !u->epilogs) {
                free(raw);
                return nk_fail(pe->ctx, NTKD_E_NOMEM, "%s: out of memory", pe->name);
            }
            st = pe_read_what(pe, x + off, raw, (size_t)ep * 4, ".xdata epilog scopes");
            if (st != NTKD_OK) {
                free(raw);
                return st;
            }
            for (uint32_t i = 0; i < ep; i++) {
                uint32_t s = nk_le32(raw + 4 * i);
                u->epilogs[i].start_offset = (s & 0x3ffffu) * 4;
                u->epilogs[i].reserved = (uint8_t)((s >> 18) & 0xf);
                u->epilogs[i].start_index = (uint16_t)(s >> 22);
            }
            free(raw);
            off += ep * 4;
        }
    }
    u->ncode_bytes = cw * 4;
    if (u->ncode_bytes) {
        st = pe_read_what(pe, x + off, u->codes, u->ncode_bytes, ".xdata unwind codes");
        if (st != NTKD_OK) return st;
    }
    off += u->ncode_bytes;
    if (u->x) {
        st = pe_read_what(pe, x + off, b, 4, ".xdata exception handler");
        if (st != NTKD_OK) return st;
        u->has_handler = true;
        u->handler_rva = nk_le32(b);
        u->handler_data_rva = x + off + 4;
        if (pe_read_quiet(pe, x + off + 4, b, 4) == NTKD_OK) {
            u->handler_data_present = true;
            u->handler_data = nk_le32(b);
        }
        off += 4;
    }
    u->xdata_size = off;
    if (u->e && u->epilog_index >= u->ncode_bytes && u->ncode_bytes)
        pe_warn(pe, "%s: .xdata at %s: epilog code index %u is past the %u code bytes", pe->name, pe_where(pe, x, w),
                u->epilog_index, u->ncode_bytes);
    for (uint32_t i = 0; i < u->epilog_count; i++)
        if (u->epilogs[i].start_index >= u->ncode_bytes) {
            pe_warn(pe, "%s: .xdata at %s: epilog scope %u starts at code index %u, past the %u code bytes", pe->name,
                    pe_where(pe, x, w), i, u->epilogs[i].start_index, u->ncode_bytes);
            break;
        }
    return NTKD_OK;
}

nk_status nk_pe_a64_unwind(nk_pe *pe, const nk_pe_func *f, nk_a64_unwind *u)
{
    memset(u, 0, offsetof(nk_a64_unwind, codes));
    u->begin = f->begin;
    u->word = f->unwind;
    u->flag = (uint8_t)(f->unwind & 3);
    if (u->flag == 3)
        return nk_fail(pe->ctx, NTKD_E_UNSUPPORTED, "%s: .pdata entry %u (function at rva 0x%x) uses the reserved flag 3",
                       pe->name, f->index, f->begin);
    if (u->flag == 0) {
        u->xdata_rva = f->unwind;
        nk_status st = parse_xdata(pe, u);
        if (st != NTKD_OK) nk_a64_unwind_free(u);
        return st;
    }
    u->function_length = ((f->unwind >> 2) & 0x7ffu) * 4;
    u->reg_f = (uint8_t)((f->unwind >> 13) & 7);
    u->reg_i = (uint8_t)((f->unwind >> 16) & 0xf);
    u->h = (uint8_t)((f->unwind >> 20) & 1);
    u->cr = (uint8_t)((f->unwind >> 21) & 3);
    u->frame_size = ((f->unwind >> 23) & 0x1ffu) * 16;
    return expand_packed(pe, u);
}

void nk_a64_unwind_free(nk_a64_unwind *u)
{
    free(u->epilogs);
    u->epilogs = NULL;
}
