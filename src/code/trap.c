/* trap.c: the registers a KTRAP_FRAME saved, read with the layout nt's types give (never fixed
 * offsets). Used by .trap (cmd_stack.c) and by !analyze -v, which switches to the trap frame of
 * bug checks that carry one (0x8E, 0xA, 0xD1, 0x50, 0x1E ...) to show the faulting context. */
#include <ctype.h>
#include <string.h>

#include "code/unwind.h"
#include "mem/mem.h"
#include "sym/sym.h"
#include "type/type.h"

static bool read_field(ntkd_target *t, nk_typesrc *ts, uint64_t id, uint64_t addr, const char *name, uint64_t *v,
                       uint64_t *off)
{
    nk_tfield fl;
    nk_tinfo ti;
    if (!nk_type_field(ts, id, name, &fl) || fl.is_bitfield) return false;
    unsigned w = 8;
    if (nk_type_info(ts, fl.type, &ti) && ti.size >= 1 && ti.size <= 8) w = (unsigned)ti.size;
    uint8_t b[8] = {0};
    size_t got = 0;
    nk_read_virt(t, addr + fl.offset, b, w, &got);
    if (got < w) return false;
    *v = 0;
    for (unsigned k = 0; k < w; k++) *v |= (uint64_t)b[k] << (8 * k);
    if (off) *off = fl.offset;
    return true;
}

nk_status nk_trap_regs(ntkd_target *t, uint64_t addr, nk_arch arch, nk_uregs *out)
{
    memset(out, 0, sizeof *out);
    out->arch = arch;
    nk_typesrc *ts = nk_sym_types(t, "nt");
    uint64_t id;
    if (!ts || !nk_type_find(ts, "_KTRAP_FRAME", &id))
        return nk_fail(t->ctx, NTKD_E_NOTFOUND, "the kernel's _KTRAP_FRAME type is not available (symbols for nt)");
    const char *const *names = nk_uregs_names(arch);
    if (!names) return nk_fail(t->ctx, NTKD_E_UNSUPPORTED, "no register names for this architecture");
    size_t nread = 0;
    for (int i = 0; i < NK_UR_MAX; i++) {
        if (!names[i]) continue;
        /* field names as the kernel spells them: Rax, Rip, EFlags, Eax, X0, Fp, Lr, Sp, Pc */
        char fname[16];
        snprintf(fname, sizeof fname, "%s", names[i]);
        fname[0] = (char)toupper((unsigned char)fname[0]);
        if (!strcmp(names[i], "efl")) snprintf(fname, sizeof fname, "EFlags");
        if (!strcmp(names[i], "cpsr")) snprintf(fname, sizeof fname, "Spsr");
        if (!strcmp(names[i], "esp")) snprintf(fname, sizeof fname, "HardwareEsp");
        uint64_t v;
        if (!read_field(t, ts, id, addr, fname, &v, NULL)) continue;
        out->r[i] = v;
        out->valid |= 1ull << i;
        nread++;
    }
    if (!nread) {
        char ab[24];
        return nk_fail(t->ctx, NTKD_E_NOTPRESENT, "trap frame at %s not readable", nk_fmt_ptr(ab, addr, t->d.is64));
    }
    if (arch == NK_ARCH_X86) {
        /* A trap taken in kernel mode pushes no esp: the interrupted stack pointer is where the
         * frame's HardwareEsp field would start (the frame ends there), as the x86 trap layout
         * defines. SegCs's low bits give the mode. */
        uint64_t cs = 0, off = 0, dummy;
        if (read_field(t, ts, id, addr, "SegCs", &cs, NULL) && !(cs & 1) &&
            read_field(t, ts, id, addr, "HardwareEsp", &dummy, &off)) {
            out->r[4] = addr + off;
            out->valid |= 1ull << 4;
        }
    }
    return NTKD_OK;
}

uint64_t nk_trap_of_machframe(ntkd_target *t, uint64_t mf)
{
    nk_typesrc *ts = nk_sym_types(t, "nt");
    uint64_t id;
    nk_tfield fl;
    if (!ts || !nk_type_find(ts, "_KTRAP_FRAME", &id)) return 0;
    if (!nk_type_field(ts, id, "Rip", &fl))
        return t->d.arch == NK_ARCH_X86 ? mf : 0; /* x86: the walker records the KTRAP_FRAME itself */
    return mf - fl.offset;
}
