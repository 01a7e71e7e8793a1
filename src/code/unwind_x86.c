/* unwind_x86.c: one x86 unwind step, as the Windows debuggers take it:
 *   1. the frame's eip lies in a kernel trap handler (KiTrap0E, KiSystemService...): the
 *      handler keeps ebp at the KTRAP_FRAME it built; the interrupted context comes from that
 *      frame, whose layout is read from the kernel's symbols (_KTRAP_FRAME), never assumed;
 *   2. a FrameData record of the module's PDB covers eip: its program is evaluated (rpn.c)
 *      with .raSearch = esp + callee parameters + locals + saved registers;
 *   3. an FPO record covers eip: return address at .raSearch (same formula), caller esp just
 *      above it; when the record says the function uses ebp (fUseBP) and saved registers, the
 *      caller's ebp comes from the saved-register area: from the slot where the function's
 *      own prologue (read from memory at the record's start) stores ebp, else 8 bytes below
 *      the top of the area (4 with one register: MSVC's push order, as Breakpad reads it);
 *      a record of frame type 1 (trap) keeps ebp at a KTRAP_FRAME (as in 1.), type 3
 *      (non-FPO) is an EBP frame;
 *   4. the EBP chain: return address [ebp+4], caller ebp [ebp], caller esp ebp+8.
 * The callee's parameter size (FrameData params_size / FPO cdwParams) is carried to the
 * caller frame in r[NK_UR_X86_CALLEE_PARAMS], because the caller's esp still points at the
 * arguments it pushed. */
#include <stdio.h>

#include "code/unwind.h"
#include "mem/mem.h"
#include "pdb/pdb.h"
#include "sym/sym.h"
#include "type/type.h"

#define BIT(i) (1ull << (i))
enum { EAX = 0, ECX, EDX, EBX, ESP, EBP, ESI, EDI };

static nk_status rd32(ntkd_target *t, uint64_t va, uint32_t *v, char *note, size_t nlen,
                      const char *what)
{
    nk_status st = nk_read_u32(t, va & 0xffffffffu, v);
    if (st != NTKD_OK && note && nlen)
        snprintf(note, nlen, "%s at %08x is not in the dump", what, (unsigned)(va & 0xffffffffu));
    return st;
}

/* ---- trap frames ---------------------------------------------------------------------- */

static bool is_trap_handler(ntkd_target *t, uint64_t pc)
{
    char name[256];
    if (!nk_sym_describe(t, pc, name, sizeof name)) return false;
    const char *bang = strchr(name, '!');
    const char *fn = bang ? bang + 1 : name;
    if (fn[0] == '_') fn++;
    static const char *const pfx[] = {"KiTrap", "KiSystemService", "KiFastCallEntry",
                                      "KiInterruptTemplate", "KiInterruptDispatch",
                                      "KiChainedDispatch", "KiUnexpectedInterrupt",
                                      "KiDebugService", "KiCallbackReturn"};
    for (size_t i = 0; i < sizeof pfx / sizeof pfx[0]; i++)
        if (strncmp(fn, pfx[i], strlen(pfx[i])) == 0) return true;
    return false;
}

/* Reads the interrupted context from the KTRAP_FRAME at `tf`. */
static nk_status step_trap(ntkd_target *t, uint64_t tf, nk_uregs *r, char *note, size_t nlen)
{
    nk_typesrc *ts = nk_sym_types(t, "nt");
    uint64_t id;
    if (!ts || !nk_type_find(ts, "_KTRAP_FRAME", &id)) {
        snprintf(note, nlen, "no _KTRAP_FRAME type in the kernel's symbols");
        return NTKD_E_NOTFOUND;
    }
    static const struct { const char *field; int reg; } map[] = {
        {"Eip", NK_UR_X86_EIP}, {"Ebp", EBP}, {"Ebx", EBX}, {"Esi", ESI}, {"Edi", EDI},
        {"Eax", EAX}, {"Ecx", ECX}, {"Edx", EDX}, {"EFlags", NK_UR_X86_EFL},
    };
    nk_uregs n = *r;
    n.valid &= ~(BIT(EAX) | BIT(ECX) | BIT(EDX) | BIT(NK_UR_X86_CALLEE_PARAMS));
    char missing[64] = "";
    for (size_t i = 0; i < sizeof map / sizeof map[0]; i++) {
        nk_tfield f;
        if (!nk_type_field(ts, id, map[i].field, &f)) {
            if (strlen(missing) + strlen(map[i].field) + 2 < sizeof missing) {
                if (missing[0]) strcat(missing, " ");
                strcat(missing, map[i].field);
            }
            n.valid &= ~BIT(map[i].reg);
            continue;
        }
        uint32_t v;
        nk_status st = rd32(t, tf + f.offset, &v, note, nlen, "trap frame field");
        if (st != NTKD_OK) return st;
        n.r[map[i].reg] = v;
        n.valid |= BIT(map[i].reg);
    }
    if (!(n.valid & BIT(NK_UR_X86_EIP))) {
        snprintf(note, nlen, "_KTRAP_FRAME lacks Eip");
        return NTKD_E_NOTFOUND;
    }
    /* esp: a trap from user mode (SegCs bit 0) or v86 mode pushed HardwareEsp; a kernel-mode
     * trap did not, and the interrupted esp is where HardwareEsp would have been. */
    nk_tfield fcs, fesp;
    bool have_cs = nk_type_field(ts, id, "SegCs", &fcs);
    if (!nk_type_field(ts, id, "HardwareEsp", &fesp)) {
        snprintf(note, nlen, "_KTRAP_FRAME lacks HardwareEsp");
        return NTKD_E_NOTFOUND;
    }
    uint32_t cs = 0;
    if (have_cs && rd32(t, tf + fcs.offset, &cs, note, nlen, "trap frame SegCs") != NTKD_OK)
        return NTKD_E_NOTPRESENT;
    bool user = have_cs ? (cs & 1) != 0 : false;
    if (user || ((n.r[NK_UR_X86_EFL] & 0x20000) && (n.valid & BIT(NK_UR_X86_EFL)))) {
        uint32_t v;
        nk_status st = rd32(t, tf + fesp.offset, &v, note, nlen, "trap frame HardwareEsp");
        if (st != NTKD_OK) return st;
        n.r[ESP] = v;
    } else {
        n.r[ESP] = (tf + fesp.offset) & 0xffffffffu;
    }
    n.valid |= BIT(ESP);
    if (missing[0]) snprintf(note, nlen, "trap frame at %08x (_KTRAP_FRAME lacks %s)", (unsigned)tf, missing);
    else snprintf(note, nlen, "trap frame at %08x%s", (unsigned)tf, have_cs ? "" : " (no SegCs: kernel mode assumed)");
    *r = n;
    return NTKD_OK;
}

/* ---- FrameData ------------------------------------------------------------------------ */

static nk_status step_framedata(ntkd_target *t, const nk_pdb_framedata *fd, nk_uregs *r,
                                char *note, size_t nlen)
{
    uint32_t callee = (r->valid & BIT(NK_UR_X86_CALLEE_PARAMS)) ? (uint32_t)r->r[NK_UR_X86_CALLEE_PARAMS] : 0;
    nk_uregs n = *r;
    nk_rpn_env env = {0};
    env.t = t;
    env.regs = &n;
    env.ra_search = (uint32_t)(r->r[ESP] + callee + fd->locals_size + fd->saved_regs_size);
    env.cb_locals = fd->locals_size;
    env.cb_saved_regs = fd->saved_regs_size;
    env.cb_params = fd->params_size;
    env.have_sizes = true;
    /* what the program assigns becomes known; eip/esp must be assigned by it */
    n.valid &= ~(BIT(NK_UR_X86_EIP) | BIT(NK_UR_X86_CALLEE_PARAMS));
    uint64_t old_esp = r->r[ESP];
    char err[96];
    nk_status st = nk_rpn_eval(&env, fd->program, err, sizeof err);
    if (st != NTKD_OK) {
        snprintf(note, nlen, "FrameData program failed: %s", err);
        return st == NTKD_E_NOTPRESENT ? NTKD_E_NOTPRESENT : NTKD_E_FORMAT;
    }
    if (!(n.valid & BIT(NK_UR_X86_EIP)) || n.r[ESP] == old_esp) {
        snprintf(note, nlen, "FrameData program did not set $eip and $esp");
        return NTKD_E_FORMAT;
    }
    n.valid &= ~(BIT(EAX) | BIT(ECX) | BIT(EDX));
    n.r[NK_UR_X86_CALLEE_PARAMS] = fd->params_size;
    n.valid |= BIT(NK_UR_X86_CALLEE_PARAMS);
    *r = n;
    return NTKD_OK;
}

/* ---- FPO ------------------------------------------------------------------------------ */

static nk_status step_ebp(ntkd_target *t, nk_uregs *r, char *note, size_t nlen);
static nk_status step_trap(ntkd_target *t, uint64_t tf, nk_uregs *r, char *note, size_t nlen);

/* Where the prologue at the FPO record's start stores the caller's ebp: its distance below the
 * return-address slot, or -1 when the code is not in the dump or is no FPO prologue. Decoded:
 * sub esp,imm8/imm32 (83 EC ib, 81 EC id), push r32 (50-57), mov [esp+disp8],r32 (89 44|r 24
 * disp8), mov [esp],r32 (89 04|r 24) and mov ebp,esp (8B EC / 89 E5); anything else ends
 * the prologue. The result counts
 * only when the prologue allocated exactly the record's locals + saved registers. */
static int prolog_ebp_slot(ntkd_target *t, uint64_t module_base, const nk_pdb_fpo *f,
                           uint32_t frame_bytes)
{
    uint8_t c[48];
    size_t got = 0;
    uint64_t va = (module_base + f->start) & 0xffffffffu;
    if (nk_read_virt(t, va, c, sizeof c, &got) != NTKD_OK || got < 4) return -1;
    uint32_t d = 0;  /* bytes the prologue has allocated so far */
    int slot = -1;   /* distance of the ebp store below the return-address slot */
    size_t i = 0;
    for (int insn = 0; insn < 16 && i < got; insn++) {
        uint8_t b = c[i];
        if (b == 0x83 && i + 2 < got && c[i + 1] == 0xec) {          /* sub esp,imm8 */
            d += c[i + 2];
            i += 3;
        } else if (b == 0x81 && i + 5 < got && c[i + 1] == 0xec) {   /* sub esp,imm32 */
            uint32_t v = (uint32_t)c[i + 2] | (uint32_t)c[i + 3] << 8 |
                         (uint32_t)c[i + 4] << 16 | (uint32_t)c[i + 5] << 24;
            if (v > 0x100000) return -1;
            d += v;
            i += 6;
        } else if ((b == 0x8b && i + 1 < got && c[i + 1] == 0xec) ||
                   (b == 0x89 && i + 1 < got && c[i + 1] == 0xe5)) {   /* mov ebp,esp */
            i += 2;
        } else if (b >= 0x50 && b <= 0x57 && b != 0x54) {             /* push r32 */
            d += 4;
            if (b == 0x55) slot = (int)d;
            i += 1;
        } else if (b == 0x89 && i + 2 < got && c[i + 2] == 0x24 &&
                   ((c[i + 1] & 0xc7) == 0x04 || (c[i + 1] & 0xc7) == 0x44)) {
            /* mov [esp],r32 / mov [esp+disp8],r32 */
            unsigned reg = (c[i + 1] >> 3) & 7;
            uint32_t disp = 0;
            if ((c[i + 1] & 0xc7) == 0x44) {
                if (i + 3 >= got) break;
                disp = c[i + 3];
                i += 4;
            } else {
                i += 3;
            }
            if (reg == EBP) {
                if (disp > d) return -1;
                slot = (int)(d - disp);
            }
        } else {
            break;
        }
    }
    if (slot < 0 || d != frame_bytes) return -1;
    return slot;
}

static nk_status step_fpo(ntkd_target *t, uint64_t module_base, const nk_pdb_fpo *f,
                          uint32_t rva, nk_uregs *r, char *note, size_t nlen)
{
    uint32_t callee = (r->valid & BIT(NK_UR_X86_CALLEE_PARAMS)) ? (uint32_t)r->r[NK_UR_X86_CALLEE_PARAMS] : 0;
    uint32_t off = rva - f->start;
    if (f->frame == 3 /* FRAME_NONFPO */) {
        nk_status st = step_ebp(t, r, note, nlen);
        if (st == NTKD_OK) {
            r->r[NK_UR_X86_CALLEE_PARAMS] = (uint32_t)f->params * 4u;
            r->valid |= BIT(NK_UR_X86_CALLEE_PARAMS);
        }
        return st;
    }
    if (f->frame == 1 /* FRAME_TRAP */ && ntkd_is_kernel(t) && (r->valid & BIT(EBP)) && r->r[EBP]) {
        /* the handler keeps ebp at the KTRAP_FRAME it built */
        return step_trap(t, r->r[EBP] & 0xffffffffu, r, note, nlen);
    }
    if (f->frame != 0) {
        snprintf(note, nlen, "FPO record of frame type %u (trap/TSS) not followed", f->frame);
        return NTKD_E_NOTFOUND;
    }
    /* The frame, from esp up: the callee's arguments, the saved registers (pushed after the
     * locals were allocated), the locals, the return address. */
    uint32_t locals = f->locals * 4u, regs = f->regs * 4u;
    if (off < f->prolog) {
        if (off == 0) locals = regs = 0; /* nothing ran: the return address is at esp */
        else snprintf(note, nlen, "eip inside the FPO prolog (+0x%x of 0x%x): frame sizes assumed complete", off, f->prolog);
    }
    uint32_t ra = (uint32_t)(r->r[ESP] + callee + locals + regs);
    uint32_t eip;
    nk_status st = rd32(t, ra, &eip, note, nlen, "return address");
    if (st != NTKD_OK) return st;
    nk_uregs n = *r;
    if (f->use_bp && regs) {
        /* fUseBP: the function took ebp for itself and saved the caller's among its registers */
        int slot = prolog_ebp_slot(t, module_base, f, f->locals * 4u + f->regs * 4u);
        uint32_t at = slot >= 0 ? (uint32_t)(ra - (uint32_t)slot)
                                : (uint32_t)(r->r[ESP] + callee + regs - (regs >= 8 ? 8u : 4u));
        uint32_t ebp;
        st = rd32(t, at, &ebp, note, nlen, "saved ebp");
        if (st != NTKD_OK) return st;
        n.r[EBP] = ebp;
        n.valid |= BIT(EBP);
    }
    n.r[NK_UR_X86_EIP] = eip;
    n.r[ESP] = (uint32_t)(ra + 4);
    n.valid |= BIT(NK_UR_X86_EIP) | BIT(ESP);
    n.valid &= ~(BIT(EAX) | BIT(ECX) | BIT(EDX));
    n.r[NK_UR_X86_CALLEE_PARAMS] = (uint32_t)f->params * 4u;
    n.valid |= BIT(NK_UR_X86_CALLEE_PARAMS);
    *r = n;
    return NTKD_OK;
}

/* ---- EBP chain ------------------------------------------------------------------------ */

static nk_status step_ebp(ntkd_target *t, nk_uregs *r, char *note, size_t nlen)
{
    if (!(r->valid & BIT(EBP))) {
        snprintf(note, nlen, "ebp is not known");
        return NTKD_E_NOTFOUND;
    }
    uint32_t ebp = (uint32_t)r->r[EBP];
    if (ebp == 0) {
        snprintf(note, nlen, "ebp is 0: end of the EBP chain");
        return NTKD_E_NOTFOUND;
    }
    if ((r->valid & BIT(ESP)) && ebp < (uint32_t)r->r[ESP]) {
        snprintf(note, nlen, "ebp %08x is below esp %08x: not a frame", ebp, (unsigned)r->r[ESP]);
        return NTKD_E_NOTFOUND;
    }
    uint32_t caller_ebp, eip;
    nk_status st = rd32(t, ebp, &caller_ebp, note, nlen, "saved ebp");
    if (st != NTKD_OK) return st;
    st = rd32(t, (uint64_t)ebp + 4, &eip, note, nlen, "return address");
    if (st != NTKD_OK) return st;
    r->r[NK_UR_X86_EIP] = eip;
    r->r[ESP] = (uint64_t)ebp + 8;
    r->r[EBP] = caller_ebp;
    r->valid |= BIT(NK_UR_X86_EIP) | BIT(ESP) | BIT(EBP);
    r->valid &= ~(BIT(EAX) | BIT(ECX) | BIT(EDX) | BIT(NK_UR_X86_CALLEE_PARAMS));
    return NTKD_OK;
}

nk_status nk_step_x86(ntkd_target *t, nk_uregs *r, nk_frame_how *how, char *note, size_t nlen)
{
    if (note && nlen) note[0] = 0;
    char dummy[8];
    if (!note || !nlen) { note = dummy; nlen = sizeof dummy; }
    if (!t || !r || !how) return NTKD_E_ARG;
    if (!(r->valid & BIT(NK_UR_X86_EIP)) || !(r->valid & BIT(ESP))) {
        snprintf(note, nlen, "eip or esp is not known");
        return NTKD_E_NOTFOUND;
    }
    uint32_t pc = (uint32_t)r->r[NK_UR_X86_EIP];

    /* 1. kernel trap handlers keep ebp at their KTRAP_FRAME (kernel targets, kernel pc) */
    if (ntkd_is_kernel(t) && pc >= 0x80000000u && (r->valid & BIT(EBP)) && r->r[EBP] &&
        is_trap_handler(t, pc)) {
        nk_uregs n = *r;
        nk_status st = step_trap(t, r->r[EBP] & 0xffffffffu, &n, note, nlen);
        if (st == NTKD_OK) {
            *r = n;
            *how = NK_FH_TRAP;
            return NTKD_OK;
        }
        if (st != NTKD_E_NOTFOUND) return st;
    }

    uint64_t base = 0;
    nk_pdb *pdb = nk_sym_pdb_at(t, pc, &base);
    if (pdb && pc >= base && pc - base <= 0xffffffffu) {
        uint32_t rva = (uint32_t)(pc - base);
        /* 2. FrameData */
        const nk_pdb_framedata *fd = nk_pdb_framedata_find(pdb, rva);
        if (fd && fd->program && fd->program[0]) {
            nk_uregs n = *r;
            nk_status st = step_framedata(t, fd, &n, note, nlen);
            if (st == NTKD_OK) {
                *r = n;
                *how = NK_FH_FRAMEDATA;
                return NTKD_OK;
            }
            if (st == NTKD_E_NOTPRESENT) return st;
            /* a program that failed: fall through to FPO / EBP with the note kept */
        }
        /* 3. FPO */
        const nk_pdb_fpo *f = nk_pdb_fpo_find(pdb, rva);
        if (f) {
            nk_uregs n = *r;
            char n2[96];
            nk_status st = step_fpo(t, base, f, rva, &n, n2, sizeof n2);
            if (st == NTKD_OK) {
                *r = n;
                *how = f->frame == 3 ? NK_FH_EBP : f->frame == 1 ? NK_FH_TRAP : NK_FH_FPO;
                if (n2[0] && !note[0]) snprintf(note, nlen, "%s", n2);
                return NTKD_OK;
            }
            if (st == NTKD_E_NOTPRESENT) {
                snprintf(note, nlen, "%s", n2);
                return st;
            }
        }
    }
    /* 4. EBP chain */
    nk_uregs n = *r;
    char n3[96];
    nk_status st = step_ebp(t, &n, n3, sizeof n3);
    if (st == NTKD_OK) {
        *r = n;
        *how = NK_FH_EBP;
        if (!pdb && !note[0]) snprintf(note, nlen, "no PDB for this module: EBP chain");
        return NTKD_OK;
    }
    snprintf(note, nlen, "%s", n3);
    return st;
}
