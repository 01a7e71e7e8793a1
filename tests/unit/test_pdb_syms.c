/* test_pdb_syms.c: function extents and publics against Breakpad's .sym dumps of the same
 * PDBs (Mozilla dump_syms fixtures): every FUNC line (address, size, name) is a procedure of
 * ntkd's function index, every PUBLIC line a public symbol at that address, and `ln` inside
 * each function names it. Names in .sym files are demangled with parameter lists
 * ("test1(int*)"): they are compared where the forms agree (the part before the
 * parameter list), addresses and sizes always. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "pdb/pdb.h"

#define DS NTKD_CORPUS "/pdb-fixtures/dump_syms/"

static bool is_proc_kind(uint16_t k)
{
    return k == NK_S_GPROC32 || k == NK_S_LPROC32 || k == NK_S_GPROC32_ID || k == NK_S_LPROC32_ID ||
           k == NK_S_LPROC32_DPC || k == NK_S_LPROC32_DPC_ID;
}

/* Does ntkd's name agree with the .sym name? */
static bool names_agree(const char *ours, const char *sym)
{
    if (!strcmp(ours, sym)) return true;
    size_t l = strlen(ours);
    /* "main" vs "main(int, char**)" */
    if (!strncmp(ours, sym, l) && sym[l] == '(') return true;
    return false;
}

static void check_sym(const char *pdb, const char *sym, bool x86)
{
    ntkd_ctx *ctx = ntkd_ctx_new();
    nk_pdb *p;
    assert_int_equal(nk_pdb_open(ctx, pdb, &p), NTKD_OK);
    FILE *f = fopen(sym, "r");
    assert_non_null(f);
    char line[8192];
    size_t funcs = 0, funcs_named = 0, pubs = 0, pubs_named = 0, bad = 0, lines = 0;
    /* the MODULE line holds the PDB's GUID and age */
    assert_non_null(fgets(line, sizeof line, f));
    {
        char os[32], arch[32], id[64], g[33];
        assert_int_equal(sscanf(line, "MODULE %31s %31s %63s", os, arch, id), 3);
        char want[64];
        snprintf(want, sizeof want, "%s%X", nk_pdb_guid_hex(p, g), nk_pdb_get_info(p)->age);
        assert_string_equal(id, want);
    }
    while (fgets(line, sizeof line, f)) {
        line[strcspn(line, "\r\n")] = 0;
        unsigned long addr, size, psize;
        int n = 0;
        const char *rest = line;
        if (!strncmp(line, "FUNC ", 5)) {
            rest += 5;
            if (!strncmp(rest, "m ", 2)) rest += 2;
            if (sscanf(rest, "%lx %lx %lx %n", &addr, &size, &psize, &n) < 3) continue;
            const char *name = rest + n;
            funcs++;
            nk_pdb_func fn;
            if (nk_pdb_func_by_rva(p, (uint32_t)addr, &fn) != NTKD_OK || fn.rva != addr || fn.size != size ||
                !is_proc_kind(fn.kind)) {
                if (bad++ < 10)
                    print_message("  %s: FUNC %lx %lx %s: ntkd %s\n", sym, addr, size, name,
                                  nk_pdb_func_by_rva(p, (uint32_t)addr, &fn) == NTKD_OK ? fn.name : "(none)");
                continue;
            }
            /* ln inside the function names it */
            nk_pdb_addr_sym a;
            if (size > 1) {
                assert_int_equal(nk_pdb_addr_lookup(p, (uint32_t)(addr + size - 1), &a), NTKD_OK);
                assert_true(a.is_function);
                assert_int_equal(a.start, addr);
                assert_int_equal(a.disp, size - 1);
            }
            if (names_agree(fn.name, name)) funcs_named++;
            else if (!strchr(name, '(') && !strchr(fn.name, '<')) {
                /* same form (no parameter list) but a different name: a real difference */
                if (bad++ < 10) print_message("  %s: FUNC %lx %s, ntkd %s\n", sym, addr, name, fn.name);
            }
        } else if (!strncmp(line, "PUBLIC ", 7)) {
            rest += 7;
            if (!strncmp(rest, "m ", 2)) rest += 2;
            if (sscanf(rest, "%lx %lx %n", &addr, &psize, &n) < 2) continue;
            const char *name = rest + n;
            /* "<unknown in x.dll>": Breakpad's entry for an address the PDB does not name */
            if (!strncmp(name, "<unknown in ", 12)) continue;
            pubs++;
            nk_pdb_public pb;
            uint32_t disp;
            if (nk_pdb_public_by_rva(p, (uint32_t)addr, &pb, &disp) != NTKD_OK || disp != 0) {
                if (bad++ < 10) print_message("  %s: PUBLIC %lx %s: no public there\n", sym, addr, name);
                continue;
            }
            /* any of the publics at that address may be the one Breakpad chose */
            bool named = false;
            size_t na;
            nk_pdb_public_addr_count(p, &na);
            for (size_t i = 0; i < na && !named; i++) {
                nk_pdb_public q;
                nk_pdb_public_addr_get(p, i, &q);
                if (q.rva != addr) continue;
                char buf[4096];
                nk_pdb_undecorate(q.name, x86, buf, sizeof buf);
                if (names_agree(buf, name) || names_agree(q.name, name)) named = true;
            }
            if (named) pubs_named++;
            else if (name[0] != '<' && !strchr(name, '(') && !strchr(name, ':')) {
                if (bad++ < 10) print_message("  %s: PUBLIC %lx %s: ntkd names it %s\n", sym, addr, name, pb.name);
            }
        } else {
            lines++;
        }
    }
    fclose(f);
    /* the function index holds exactly the procedures Breakpad lists (plus thunks) */
    size_t nf, procs = 0;
    assert_int_equal(nk_pdb_func_count(p, &nf), NTKD_OK);
    for (size_t i = 0; i < nf; i++) {
        nk_pdb_func fn;
        nk_pdb_func_get(p, i, &fn);
        if (is_proc_kind(fn.kind)) procs++;
    }
    print_message("  %s: %zu FUNC (%zu same name), %zu PUBLIC (%zu same name); ntkd has %zu procedures; %zu differences\n",
                  sym + strlen(DS), funcs, funcs_named, pubs, pubs_named, procs, bad);
    assert_int_equal(bad, 0);
    assert_int_equal(procs, funcs);
    assert_true(funcs_named * 2 >= funcs);
    nk_pdb_close(p);
    ntkd_ctx_free(ctx);
}

static void test_basic32(void **state)
{
    (void)state;
    check_sym(DS "basic32.pdb", DS "basic32.sym", true);
}

static void test_basic32_min(void **state)
{
    (void)state;
    check_sym(DS "basic32-min.pdb", DS "basic32-min.sym", true);
}

static void test_regtest64(void **state)
{
    (void)state;
    check_sym(DS "dump_syms_regtest64.pdb", DS "dump_syms_regtest64.sym", false);
}

/* FrameData of the x86 PDBs: the STACK WIN records of the .sym state them. */
static void test_framedata(void **state)
{
    (void)state;
    ntkd_ctx *ctx = ntkd_ctx_new();
    nk_pdb *p;
    assert_int_equal(nk_pdb_open(ctx, DS "basic32.pdb", &p), NTKD_OK);
    const nk_pdb_framedata *fd;
    size_t n;
    assert_int_equal(nk_pdb_framedata_all(p, &fd, &n), NTKD_OK);
    FILE *f = fopen(DS "basic32.sym", "r");
    assert_non_null(f);
    char line[8192];
    size_t recs = 0, found = 0;
    while (fgets(line, sizeof line, f)) {
        /* STACK WIN type rva code_size prolog epilog params saved locals max_stack has_program program */
        unsigned type;
        unsigned long rva, size, prolog, epilog, params, saved, locals, maxstack;
        int hasprog, k = 0;
        if (sscanf(line, "STACK WIN %x %lx %lx %lx %lx %lx %lx %lx %lx %d %n", &type, &rva, &size, &prolog, &epilog,
                   &params, &saved, &locals, &maxstack, &hasprog, &k) != 10 || type != 4)
            continue;
        recs++;
        for (size_t i = 0; i < n; i++) {
            if (fd[i].rva != rva || fd[i].code_size != size) continue;
            assert_int_equal(fd[i].prolog_size, prolog);
            assert_int_equal(fd[i].params_size, params);
            assert_int_equal(fd[i].saved_regs_size, saved);
            assert_int_equal(fd[i].locals_size, locals);
            if (hasprog) {
                char *prog = line + k;
                prog[strcspn(prog, "\r\n")] = 0;
                assert_non_null(fd[i].program);
                /* Breakpad drops the program's trailing blank */
                size_t pl = strlen(fd[i].program);
                while (pl && fd[i].program[pl - 1] == ' ') pl--;
                assert_int_equal(pl, strlen(prog));
                assert_memory_equal(fd[i].program, prog, pl);
            }
            found++;
            break;
        }
    }
    fclose(f);
    print_message("  basic32: %zu FrameData records; %zu STACK WIN 4 lines, %zu matched\n", n, recs, found);
    assert_true(recs > 100);
    assert_int_equal(found, recs);
    const nk_pdb_framedata *one = nk_pdb_framedata_find(p, fd[n / 2].rva);
    assert_non_null(one);
    nk_pdb_close(p);
    ntkd_ctx_free(ctx);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_basic32),
        cmocka_unit_test(test_basic32_min),
        cmocka_unit_test(test_regtest64),
        cmocka_unit_test(test_framedata),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
