/* test_unwind_trap86.c: the x86 unwind through a kernel trap frame (KTRAP_FRAME).
 *
 * A 32-bit PAE full dump from the generator (ntkd-gendump full32 --arch x86pae) is patched in
 * a private copy:
 *   - the dump header's PsLoadedModuleList, PsActiveProcessHead and KdDebuggerDataBlock are
 *     set to nt's base + the RVAs dbghelp gives for ntkrnlpa.pdb (the oracle file lists them
 *     with the image at 0x804d7000), so the offline kernel-table match picks ntkrnlpa.pdb from
 *     the corpus symbol store;
 *   - a loader list (one _LDR_DATA_TABLE_ENTRY, as XP names it, for ntkrnlpa.exe) is written at that
 *     PsLoadedModuleList, with the entry's offsets from the PDB's own types;
 *   - a stack: the starting registers have eip inside nt!KiTrap0E and ebp at a KTRAP_FRAME
 *     (offsets from the PDB's _KTRAP_FRAME) of a kernel-mode trap whose Eip lies in
 *     nt!MmAccessFault (an ebp-frame function by its FrameData record) and whose Ebp starts a
 *     chain of two more frames (the second in no module: the EBP chain) ending at a zero return.
 * The walk must go through the trap frame (how = NK_FH_TRAP), give the trap's Eip with the esp
 * a kernel-mode trap leaves (the address of HardwareEsp: the CPU did not push esp/ss), then
 * follow the frames laid out here.
 *
 * nt's base is 0x80100000 rather than 0x804d7000: the generator maps 0x80000000-0x801fffff and
 * 0x80210000-0x80400fff, and the header addresses (up to RVA 0x83158) must be readable. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "code/unwind.h"
#include "dump/dump.h"
#include "manifest.h"
#include "mem/mem.h"
#include "pdb/pdb.h"
#include "sym/sym.h"
#include "type/type.h"
#include "test_util.h"

#define STORE NTKD_CORPUS "/symstore"
#define NTPDB STORE "/ntkrnlpa.pdb/30B5FB31AE7E4ACAABA750AA241FF3312/ntkrnlpa.pdb"
#define ORACLE NTKD_CORPUS "/oracles/ntkrnlpa/publics-dbghelp-base-804d7000.txt"
#define NTBASE 0x80100000u
#define NTSIZE 0x100000u

/* The RVA dbghelp gives a public of ntkrnlpa.pdb (the oracle lists addresses at 0x804d7000). */
static uint32_t oracle_rva(const char *name)
{
    FILE *f = fopen(ORACLE, "r");
    assert_non_null(f);
    char line[1024];
    uint32_t r = 0;
    while (fgets(line, sizeof line, f)) {
        char *sp = strchr(line, ' ');
        if (!sp) continue;
        sp[strcspn(sp, "\r\n")] = 0;
        if (!strcmp(sp + 1, name)) {
            r = (uint32_t)(strtoull(line, NULL, 16) - 0x804d7000u);
            break;
        }
    }
    fclose(f);
    if (!r) fail_msg("%s is not in the oracle", name);
    return r;
}

typedef struct wt {
    uint8_t *buf;
    size_t len;
    ntkd_ctx *ctx;
    ntkd_target *t;
    mf_manifest mf;
} wt;

/* Writes bytes at a virtual address: the physical address from the generator's manifest
 * (its `map` lines), the file offset of that page from the dump's run layout. */
static void vwrite(wt *w, uint32_t va, const void *data, size_t len)
{
    const uint8_t *p = data;
    for (size_t i = 0; i < len; i++) {
        uint64_t pa, off;
        if (!mf_va_to_pa(&w->mf, va + i, &pa) || !nk_phys_page_off(&w->t->d, pa >> 12, &off))
            fail_msg("va %x is not mapped in the generated dump", (unsigned)(va + i));
        assert_true(off + (pa & 0xfff) < w->len);
        w->buf[off + (pa & 0xfff)] = p[i];
    }
}
static void vw32(wt *w, uint32_t va, uint32_t v)
{
    uint8_t b[4] = {(uint8_t)v, (uint8_t)(v >> 8), (uint8_t)(v >> 16), (uint8_t)(v >> 24)};
    vwrite(w, va, b, 4);
}
static void vw16(wt *w, uint32_t va, uint16_t v)
{
    uint8_t b[2] = {(uint8_t)v, (uint8_t)(v >> 8)};
    vwrite(w, va, b, 2);
}
/* UNICODE_STRING (x86): Length, MaximumLength, Buffer at +4 */
static void vwustr(wt *w, uint32_t us, uint32_t buf_va, const char *s)
{
    size_t l = strlen(s);
    for (size_t i = 0; i < l; i++) vw16(w, buf_va + 2 * (uint32_t)i, (uint8_t)s[i]);
    vw16(w, us, (uint16_t)(2 * l));
    vw16(w, us + 2, (uint16_t)(2 * l + 2));
    vw32(w, us + 4, buf_va);
}

static uint32_t field_off(nk_typesrc *ts, uint64_t id, const char *name)
{
    nk_tfield f;
    if (!nk_type_field(ts, id, name, &f)) fail_msg("no field %s in the PDB's type", name);
    return (uint32_t)f.offset;
}

static char *run(ntkd_target *t, const char *cmd)
{
    char *buf = NULL;
    size_t len = 0;
    FILE *m = open_memstream(&buf, &len);
    assert_non_null(m);
    bool quit = false;
    ntkd_execute(t, cmd, m, NTKD_OUT_TEXT, &quit);
    fclose(m);
    return buf;
}

static void trap_frame_walk(void **state)
{
    (void)state;
    char dir[] = "/tmp/ntkd-trap86-XXXXXX";
    assert_non_null(mkdtemp(dir));
    char path[256], mpath[300], cmd[1024];
    snprintf(path, sizeof path, "%s/full32.dmp", dir);
    snprintf(mpath, sizeof mpath, "%s.manifest", path);
    snprintf(cmd, sizeof cmd, "'%s' full32 '%s' --arch x86pae >/dev/null 2>&1", NTKD_GENDUMP, path);
    assert_int_equal(system(cmd), 0);

    /* offsets from ntkrnlpa.pdb's types */
    ntkd_ctx *pctx = ntkd_ctx_new();
    nk_pdb *pdb;
    assert_int_equal(nk_pdb_open(pctx, NTPDB, &pdb), NTKD_OK);
    nk_typesrc *ts;
    assert_int_equal(nk_typesrc_from_pdb(pctx, pdb, &ts), NTKD_OK);
    uint64_t id;
    /* XP's PDB names the loader entry _LDR_DATA_TABLE_ENTRY */
    assert_true(nk_type_find(ts, "_KLDR_DATA_TABLE_ENTRY", &id) || nk_type_find(ts, "_LDR_DATA_TABLE_ENTRY", &id));
    uint32_t o_dll = field_off(ts, id, "DllBase"), o_size = field_off(ts, id, "SizeOfImage");
    uint32_t o_full = field_off(ts, id, "FullDllName"), o_base = field_off(ts, id, "BaseDllName");
    uint32_t o_links = field_off(ts, id, "InLoadOrderLinks");
    assert_true(nk_type_find(ts, "_KTRAP_FRAME", &id));
    uint32_t t_eip = field_off(ts, id, "Eip"), t_ebp = field_off(ts, id, "Ebp");
    uint32_t t_cs = field_off(ts, id, "SegCs"), t_efl = field_off(ts, id, "EFlags");
    uint32_t t_hesp = field_off(ts, id, "HardwareEsp");
    nk_typesrc_close(ts);
    nk_pdb_close(pdb);
    ntkd_ctx_free(pctx);

    wt w = {0};
    char *mp = strdup(mpath);
    assert_int_equal(mf_load(&w.mf, mp), 0);
    free(mp);
    w.buf = tu_slurp(path, &w.len);
    assert_non_null(w.buf);
    w.ctx = ntkd_ctx_new();
    ntkd_open_opts o = {.sympath = STORE};
    assert_int_equal(ntkd_open_mem(w.ctx, "full32.dmp", w.buf, w.len, &o, &w.t), NTKD_OK);
    assert_int_equal(w.t->d.machine, NK_MACHINE_I386);
    assert_true(ntkd_is_kernel(w.t));

    /* the loader list: head -> one entry (ntkrnlpa.exe) -> head */
    uint32_t head = NTBASE + oracle_rva("PsLoadedModuleList");
    uint32_t e = 0x80210000u, names = 0x80210400u;
    vw32(&w, head, e + o_links);
    vw32(&w, head + 4, e + o_links);
    vw32(&w, e + o_links, head);
    vw32(&w, e + o_links + 4, head);
    vw32(&w, e + o_dll, NTBASE);
    vw32(&w, e + o_size, NTSIZE);
    vwustr(&w, e + o_base, names, "ntkrnlpa.exe");
    vwustr(&w, e + o_full, names + 0x100, "\\WINDOWS\\system32\\ntkrnlpa.exe");

    /* the stack */
    const uint32_t tf = 0x80220100u;           /* the KTRAP_FRAME KiTrap0E built */
    const uint32_t esp0 = tf - 0x40;           /* the handler's esp, below its frame */
    const uint32_t pc0 = NTBASE + oracle_rva("KiTrap0E") + 0x50;
    /* the trapping code: inside nt!MmAccessFault, past its prolog (a FrameData record of
     * the ebp-frame kind covers it; see mmaccessfault_framedata) */
    const uint32_t pc1 = NTBASE + oracle_rva("MmAccessFault") + 0x100;
    const uint32_t e1 = 0x80220400u, pc2 = 0x80380456u, e2 = 0x80220500u;
    vw32(&w, tf + t_eip, pc1);
    vw32(&w, tf + t_ebp, e1);
    vw32(&w, tf + t_cs, 0x8);                  /* kernel code segment: RPL 0 */
    vw32(&w, tf + t_efl, 0x10202);             /* IF, RF; not v86 */
    vw32(&w, tf + t_hesp, 0xdeadbeefu);        /* not pushed by a kernel-mode trap: must be ignored */
    vw32(&w, e1, e2);
    vw32(&w, e1 + 4, pc2);
    vw32(&w, e2, 0);
    vw32(&w, e2 + 4, 0);

    w.t->d.ps_loaded_module_list = head;
    w.t->d.ps_active_process_head = NTBASE + oracle_rva("PsActiveProcessHead");
    w.t->d.kd_debugger_data_block = NTBASE + oracle_rva("KdDebuggerDataBlock");
    char *txt = run(w.t, ".reload");
    if (!strstr(txt, "ntkrnlpa.pdb: match")) fail_msg(".reload did not match ntkrnlpa.pdb:\n%s", txt);
    free(txt);
    char name[256];
    assert_true(nk_sym_describe(w.t, pc0, name, sizeof name));
    assert_string_equal(name, "nt!KiTrap0E+0x50");

    nk_uregs r;
    memset(&r, 0, sizeof r);
    r.arch = NK_ARCH_X86;
    r.r[NK_UR_X86_EIP] = pc0;
    r.r[4] = esp0;
    r.r[5] = tf;
    r.valid = (1ull << NK_UR_X86_EIP) | (1ull << 4) | (1ull << 5);

    /* one step: through the trap frame */
    nk_uregs s = r;
    nk_frame_how how = NK_FH_CONTEXT;
    char note[160];
    assert_int_equal(nk_step_x86(w.t, &s, &how, note, sizeof note), NTKD_OK);
    assert_int_equal(how, NK_FH_TRAP);
    assert_int_equal(s.r[NK_UR_X86_EIP], pc1);
    assert_int_equal(s.r[4], tf + t_hesp);
    assert_int_equal(s.r[5], e1);

    /* the walk */
    nk_stack st = {0};
    assert_int_equal(nk_stack_walk(w.t, &r, 16, &st), NTKD_OK);
    if (st.n < 3) fail_msg("%zu frames (stop: %s)", st.n, st.stop);
    assert_int_equal(st.f[0].pc, pc0);
    assert_int_equal(st.f[0].sp, esp0);
    assert_int_equal(st.f[0].how, NK_FH_TRAP);
    assert_int_equal(st.f[1].pc, pc1);
    assert_int_equal(st.f[1].sp, tf + t_hesp);
    assert_int_equal(st.f[1].how, NK_FH_FRAMEDATA);
    assert_int_equal(st.f[2].pc, pc2);
    assert_int_equal(st.f[2].sp, e1 + 8);
    assert_int_equal(st.n, 3);
    assert_true(st.stop[0] != 0);
    nk_stack_free(&st);

    /* the same through the commands: an x86 CONTEXT in memory (ContextFlags at 0, Ebp 0xb4,
     * Eip 0xb8, SegCs 0xbc, EFlags 0xc0, Esp 0xc4, SegSs 0xc8), `.cxr` to it, then `k` */
    const uint32_t cx = 0x80230000u;
    vw32(&w, cx, 0x10007);
    vw32(&w, cx + 0xb4, tf);
    vw32(&w, cx + 0xb8, pc0);
    vw32(&w, cx + 0xbc, 8);
    vw32(&w, cx + 0xc0, 0x202);
    vw32(&w, cx + 0xc4, esp0);
    vw32(&w, cx + 0xc8, 0x10);
    txt = run(w.t, ".cxr 80230000");
    free(txt);
    txt = run(w.t, "k");
    if (getenv("TRAP86_SHOW")) fprintf(stderr, "%s", txt);
    /* x86 `k` rows: "ChildEBP RetAddr Call-site" (no frame numbers, as WinDbg's x86 `k`) */
    char row[160];
    snprintf(row, sizeof row, "\n%08x %08x nt!KiTrap0E+0x50\n", tf, pc1);
    if (!strstr(txt, row)) fail_msg("no row '%s' in:\n%s", row, txt);
    snprintf(row, sizeof row, "\n%08x %08x nt!MmAccessFault+0x100\n", e1, pc2);
    if (!strstr(txt, row)) fail_msg("no row '%s' in:\n%s", row, txt);
    snprintf(row, sizeof row, "\n%08x 00000000 %08x\n", e2, pc2);
    if (!strstr(txt, row)) fail_msg("no row '%s' in:\n%s", row, txt);
    free(txt);

    /* a user-mode trap (SegCs RPL 3): esp comes from HardwareEsp */
    vw32(&w, tf + t_cs, 0x1b);
    vw32(&w, tf + t_hesp, 0x0012ff00u);
    s = r;
    assert_int_equal(nk_step_x86(w.t, &s, &how, note, sizeof note), NTKD_OK);
    assert_int_equal(how, NK_FH_TRAP);
    assert_int_equal(s.r[4], 0x0012ff00u);

    /* without the trap handler's symbol (eip outside every module), ebp is an ordinary frame */
    s = r;
    s.r[NK_UR_X86_EIP] = 0x80380123u;
    vw32(&w, tf, 0);
    vw32(&w, tf + 4, 0x80380789u);
    assert_int_equal(nk_step_x86(w.t, &s, &how, note, sizeof note), NTKD_OK);
    assert_int_equal(how, NK_FH_EBP);
    assert_int_equal(s.r[NK_UR_X86_EIP], 0x80380789u);

    ntkd_close(w.t);
    ntkd_ctx_free(w.ctx);
    free(w.buf);
    mf_free(&w.mf);
    tu_rmdir_r(dir);
}

/* The independent check of the layout above: llvm-pdbutil's dump of the PDB's FrameData
 * ("New FPO") has a record at MmAccessFault's RVA whose program is the ebp frame's:
 * $T0 = $ebp, eip = [$T0+4], ebp = [$T0], esp = $T0 + 8; and its code covers +0x100. */
static void mmaccessfault_framedata(void **state)
{
    (void)state;
    if (system("command -v llvm-pdbutil-14 >/dev/null 2>&1") != 0) {
        skip();
        return;
    }
    char cmd[600];
    snprintf(cmd, sizeof cmd, "llvm-pdbutil-14 dump --fpo '%s' 2>/dev/null | grep -i '^%08X '", NTPDB,
             oracle_rva("MmAccessFault"));
    FILE *p = popen(cmd, "r");
    assert_non_null(p);
    char line[1024] = "";
    bool got = fgets(line, sizeof line, p) != NULL;
    pclose(p);
    assert_true(got);
    assert_non_null(strstr(line, "$T0 $ebp = $eip $T0 4 + ^ = $ebp $T0 ^ = $esp $T0 8 + ="));
    unsigned rva, code, locals, params, stack, prolog;
    assert_int_equal(sscanf(line, "%x | %u | %u | %u | %u | %u", &rva, &code, &locals, &params, &stack, &prolog), 6);
    assert_true(prolog < 0x100 && code > 0x100);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(trap_frame_walk),
        cmocka_unit_test(mmaccessfault_framedata),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
