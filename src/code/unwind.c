/* unwind.c: the stack walker. From a register context it asks the architecture's step
 * function for the caller, one frame at a time. When a module has no unwind data, it scans
 * the stack upward for a value that is an address inside a known module and follows a call
 * instruction; such frames (and every frame after them) are guesses. The walk always ends
 * with a reason: a return address of 0, an unreadable stack, a stack pointer that does not
 * increase, a loop, or the frame limit. */
#include <stdio.h>
#include <stdlib.h>

#include "code/unwind.h"
#include "dump/context.h"
#include "image/pe.h"
#include "mem/mem.h"
#include "sym/sym.h"

static const char *const x64_names[NK_UR_MAX] = {
    "rax", "rcx", "rdx", "rbx", "rsp", "rbp", "rsi", "rdi", "r8", "r9", "r10", "r11",
    "r12", "r13", "r14", "r15", "rip", "efl"};
static const char *const x86_names[NK_UR_MAX] = {"eax", "ecx", "edx", "ebx", "esp", "ebp",
                                                 "esi", "edi", "eip", "efl"};
static const char *const a64_names[NK_UR_MAX] = {
    "x0", "x1", "x2", "x3", "x4", "x5", "x6", "x7", "x8", "x9", "x10", "x11",
    "x12", "x13", "x14", "x15", "x16", "x17", "x18", "x19", "x20", "x21", "x22", "x23",
    "x24", "x25", "x26", "x27", "x28", "fp", "lr", "sp", "pc", "cpsr"};

const char *const *nk_uregs_names(nk_arch a)
{
    return a == NK_ARCH_X64 ? x64_names : a == NK_ARCH_X86 ? x86_names : a == NK_ARCH_ARM64 ? a64_names : NULL;
}

nk_status nk_uregs_from_context(const nk_context *c, nk_uregs *out)
{
    memset(out, 0, sizeof *out);
    out->arch = c->arch;
    const char *const *names = nk_uregs_names(c->arch);
    if (!names || !c->data || !c->len) return NTKD_E_UNSUPPORTED;
    for (int i = 0; i < NK_UR_MAX; i++) {
        if (!names[i]) continue;
        uint64_t v;
        if (nk_context_get(c, names[i], &v)) {
            out->r[i] = v;
            out->valid |= 1ull << i;
        }
    }
    return NTKD_OK;
}

static int pc_index(nk_arch a)
{
    return a == NK_ARCH_X64 ? NK_UR_X64_RIP : a == NK_ARCH_X86 ? NK_UR_X86_EIP : NK_UR_A64_PC;
}
static int sp_index(nk_arch a) { return a == NK_ARCH_ARM64 ? NK_UR_A64_SP : 4; }

void nk_stack_free(nk_stack *s)
{
    free(s->f);
    s->f = NULL;
    s->n = s->cap = 0;
}

/* True when the bytes before ret end with a call instruction. *verified is false when the
 * bytes could not be read (neither dump memory nor the module's image). */
static bool follows_call(ntkd_target *t, uint64_t ret, bool is64, bool *verified)
{
    uint8_t b[8];
    size_t got = 0;
    *verified = false;
    if (ret < 8) return false;
    nk_read_virt(t, ret - 8, b, 8, &got);
    if (got < 8) {
        uint64_t base = 0;
        nk_pe *pe = nk_sym_image_at(t, ret, &base);
        if (!pe || ret - 8 < base || ret - base > UINT32_MAX) return true; /* unverifiable */
        char saved[sizeof t->ctx->errmsg];
        memcpy(saved, t->ctx->errmsg, sizeof saved);
        size_t g2 = 0;
        nk_pe_read(pe, (uint32_t)(ret - 8 - base), b, 8, &g2);
        memcpy(t->ctx->errmsg, saved, sizeof saved);
        if (g2 < 8) return true; /* unverifiable: accepted as a guess */
    }
    *verified = true;
    /* E8 rel32 */
    if (b[3] == 0xe8) return true;
    /* FF /2 forms: ff d0+r (2 bytes), 41 ff d0+r (3), ff 15 disp32 (6), ff 14 24 / ff 55 xx /
       ff 50+r xx (3), ff 90+r disp32 (6), ff 94 xx disp32 (7), with an optional REX (40-4f) */
    if (b[6] == 0xff && (b[7] & 0xf8) == 0xd0) return true;                         /* call reg */
    if (b[2] == 0xff && b[3] == 0x15) return true;                                  /* call [rip+d32] */
    if (b[5] == 0xff && ((b[6] >> 3) & 7) == 2 && (b[6] >> 6) == 1 && (b[6] & 7) != 4) return true; /* [r+d8] */
    if (b[4] == 0xff && ((b[5] >> 3) & 7) == 2 && (b[5] >> 6) == 1 && (b[5] & 7) == 4) return true; /* [sib+d8] */
    if (b[2] == 0xff && ((b[3] >> 3) & 7) == 2 && (b[3] >> 6) == 2 && (b[3] & 7) != 4) return true; /* [r+d32] */
    if (b[1] == 0xff && ((b[2] >> 3) & 7) == 2 && (b[2] >> 6) == 2 && (b[2] & 7) == 4) return true; /* [sib+d32] */
    if (b[6] == 0xff && ((b[7] >> 3) & 7) == 2 && (b[7] >> 6) == 0 && (b[7] & 7) != 4 && (b[7] & 7) != 5)
        return true;                                                                /* [r] */
    if (b[5] == 0xff && ((b[6] >> 3) & 7) == 2 && (b[6] >> 6) == 0 && (b[6] & 7) == 4) return true; /* [sib] */
    (void)is64;
    return false;
}

/* Scans upward from sp for a return address into a known module that follows a call.
 * On success sets *slot (where it was found), *ret and *verified. */
static bool scan_for_return_n(ntkd_target *t, uint64_t sp, bool is64, unsigned max_slots, uint64_t *slot,
                              uint64_t *ret, bool *verified, char *why, size_t wlen)
{
    unsigned ps = is64 ? 8 : 4;
    uint64_t a = sp;
    for (unsigned i = 0; i < max_slots; i++, a += ps) {
        uint64_t v = 0;
        nk_status st = is64 ? nk_read_u64(t, a, &v) : nk_read_ptr(t, a, &v);
        if (st != NTKD_OK) {
            snprintf(why, wlen, "stack scan: stack not readable at %016llx", (unsigned long long)a);
            return false;
        }
        if (v < 0x10000 || nk_sym_module_of(t, v) < 0) continue;
        bool ver = false;
        if (!follows_call(t, v, is64, &ver)) continue;
        if (!ver) {
            /* unverifiable: at least not the first byte of a known function or of the module
               (a pointer to code, not a return address) */
            char d[256];
            if (!nk_sym_describe(t, v, d, sizeof d) || !strstr(d, "+0x")) continue;
        }
        *slot = a;
        *ret = v;
        *verified = ver;
        return true;
    }
    snprintf(why, wlen, "stack scan: no return address within %u slots", max_slots);
    return false;
}

static bool scan_for_return(ntkd_target *t, uint64_t sp, bool is64, uint64_t *slot, uint64_t *ret, bool *verified,
                            char *why, size_t wlen)
{
    return scan_for_return_n(t, sp, is64, 2048, slot, ret, verified, why, wlen);
}

bool nk_stack_scan_return(ntkd_target *t, uint64_t sp, unsigned max_slots, uint64_t *slot, uint64_t *ret)
{
    bool ver = false;
    char why[96];
    return scan_for_return_n(t, sp, t->d.is64, max_slots, slot, ret, &ver, why, sizeof why);
}

static nk_status step(ntkd_target *t, nk_uregs *r, nk_frame_how *how, char *note, size_t nlen)
{
    switch (r->arch) {
    case NK_ARCH_X64: return nk_step_x64(t, r, how, note, nlen);
    case NK_ARCH_X86: return nk_step_x86(t, r, how, note, nlen);
    case NK_ARCH_ARM64: return nk_step_arm64(t, r, how, note, nlen);
    default: snprintf(note, nlen, "unknown architecture"); return NTKD_E_UNSUPPORTED;
    }
}

nk_status nk_stack_walk(ntkd_target *t, const nk_uregs *start, size_t max_frames, nk_stack *out)
{
    memset(out, 0, sizeof *out);
    nk_uregs r = *start;
    nk_arch a = r.arch;
    if (a != NK_ARCH_X64 && a != NK_ARCH_X86 && a != NK_ARCH_ARM64) {
        snprintf(out->stop, sizeof out->stop, "no register context");
        return NTKD_E_UNSUPPORTED;
    }
    bool is64 = a != NK_ARCH_X86;
    int pci = pc_index(a), spi = sp_index(a);
    if (max_frames > 100000) max_frames = 100000;
    for (size_t n = 0;; n++) {
        if (n >= max_frames) {
            snprintf(out->stop, sizeof out->stop, "frame limit (%zu) reached", max_frames);
            break;
        }
        if (!nk_grow((void **)&out->f, &out->cap, n + 1, sizeof *out->f)) return NTKD_E_NOMEM;
        nk_frame *f = &out->f[n];
        memset(f, 0, sizeof *f);
        out->n = n + 1;
        f->pc = r.r[pci];
        f->sp = r.r[spi];
        f->fp = a == NK_ARCH_X86 ? r.r[5] : a == NK_ARCH_ARM64 ? r.r[NK_UR_A64_FP] : r.r[5];
        f->regs = r;
        f->how = NK_FH_CONTEXT;
        if (f->pc == 0) {
            snprintf(out->stop, sizeof out->stop, "instruction pointer 0");
            break;
        }
        nk_uregs nr = r;
        nk_frame_how how = NK_FH_CONTEXT;
        char note[160] = "";
        nk_status st = step(t, &nr, &how, note, sizeof note);
        if (st == NTKD_E_NOTFOUND || st == NTKD_E_UNSUPPORTED) {
            /* no unwind data: scan for a return address */
            snprintf(f->note, sizeof f->note, "%s", note);
            uint64_t slot = 0, ret = 0;
            bool ver = false;
            char why[160];
            if (!scan_for_return(t, f->sp, is64, &slot, &ret, &ver, why, sizeof why)) {
                snprintf(out->stop, sizeof out->stop, "%.90s; %.60s", note[0] ? note : "no unwind data", why);
                break;
            }
            nr.valid = 0;
            memset(nr.r, 0, sizeof nr.r);
            nr.r[pci] = ret;
            nr.r[spi] = slot + (is64 ? 8 : 4);
            nr.valid = (1ull << pci) | (1ull << spi);
            if (a == NK_ARCH_X86) { /* the caller's frame pointer is unknown */ }
            how = NK_FH_SCAN;
            size_t nl = strlen(f->note);
            snprintf(f->note + nl, sizeof f->note - nl, "%s%s", nl ? "; " : "",
                     ver ? "scanned" : "scanned, call unverified");
        } else if (st != NTKD_OK) {
            snprintf(out->stop, sizeof out->stop, "%s", note[0] ? note : nk_status_name(st));
            break;
        } else if (how == NK_FH_MACHFRAME || how == NK_FH_TRAP) {
            unsigned long long tr = 0;
            if (sscanf(note, "machine frame @ %llx", &tr) == 1) f->trap = tr;
            else if (sscanf(note, "trap frame at %llx", &tr) == 1) f->trap = tr; /* x86: the KTRAP_FRAME */
        } else if (note[0]) {
            snprintf(f->note, sizeof f->note, "%s", note);
        }
        f->how = how;
        f->ret = nr.r[pci];
        /* the function's home slots (x64) / arguments (x86): above the return address */
        if (a == NK_ARCH_X64 && how != NK_FH_MACHFRAME) {
            for (int k = 0; k < 4; k++) nk_read_u64(t, nr.r[spi] + 8ull * k, &f->args[k]);
        } else if (a == NK_ARCH_X86) {
            for (int k = 0; k < 4; k++) {
                uint32_t v = 0;
                nk_read_u32(t, (uint32_t)(f->fp + 8 + 4 * k), &v);
                f->args[k] = v;
            }
        }
        if (f->ret == 0) {
            snprintf(out->stop, sizeof out->stop, "return address 0");
            break;
        }
        uint64_t nsp = nr.r[spi];
        if (how != NK_FH_MACHFRAME && how != NK_FH_TRAP && nsp <= f->sp) {
            snprintf(out->stop, sizeof out->stop, "stack pointer did not increase (%016llx after %016llx)",
                     (unsigned long long)nsp, (unsigned long long)f->sp);
            /* keep the frame's return address but do not add the next frame */
            break;
        }
        /* a loop: the same (pc, sp) seen in the last frames */
        bool loop = false;
        for (size_t k = n + 1 > 64 ? n + 1 - 64 : 0; k <= n; k++)
            if (out->f[k].pc == nr.r[pci] && out->f[k].sp == nsp) loop = true;
        if (loop) {
            snprintf(out->stop, sizeof out->stop, "loop: frame at %016llx repeats", (unsigned long long)nsp);
            break;
        }
        r = nr;
    }
    return NTKD_OK;
}
