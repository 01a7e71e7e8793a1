/* test_symstore.c: symbol paths, symbol stores, CAB files and downloads.
 *
 * Facts used (independent of our code): the corpus README's store keys (amdppm.pdb
 * 1C19FDDB27BB3399D9B45973EFEAFCF31, amdppm.sys c9c030003b000, Wdf01000.sys a9a9d36ed1000);
 * the dump_syms .sym files' MODULE lines (basic32.pdb 34060D222DBB44E5AA72243CE8326C2F2,
 * dump_syms_regtest64.pdb 72E103A85CB249078B76B2E7C06257B13); basic32.pd_ being the
 * CAB-compressed basic32.pdb (corpus README): its decompressed bytes must equal basic32.pdb.
 *
 * Everything written goes to a temporary directory under the build directory: store trees
 * (symbolic links to corpus files), caches, $HOME and $TMPDIR. Downloads come from
 * tests/unit/symsrv_server.py on 127.0.0.1 (a port picked by the system), which serves a
 * store tree with failure modes: 404s, truncated bodies, 500s, redirects. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <arpa/inet.h>
#include <errno.h>
#include <ftw.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "pdb/pdb.h"
#include "sym/cab.h"
#include "sym/sym.h"
#include "test_util.h"

#define CORPUS NTKD_CORPUS
#define STORE CORPUS "/symstore"
#define DS CORPUS "/pdb-fixtures/dump_syms"

#define AMDPPM_PDB_KEY "1C19FDDB27BB3399D9B45973EFEAFCF31"
#define AMDPPM_PDB_GUID "1C19FDDB27BB3399D9B45973EFEAFCF3"
#define AMDPPM_SYS_KEY "c9c030003b000"
#define WDF_KEY "a9a9d36ed1000"
#define BASIC32_KEY "34060D222DBB44E5AA72243CE8326C2F2"
#define REGTEST_KEY "72E103A85CB249078B76B2E7C06257B13"
#define WRONG_KEY "000000000000000000000000000000001"

/* ---- fixture ---------------------------------------------------------------------------- */

typedef struct fixture {
    char tmp[1024];       /* absolute temporary directory */
    char url[128];        /* http://127.0.0.1:PORT */
    char reqlog[1200];
    pid_t server;
    ntkd_ctx *ctx;
} fixture;

static fixture F;

static void pathf(char *out, size_t len, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
static void pathf(char *out, size_t len, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(out, len, fmt, ap);
    va_end(ap);
    if (n < 0 || (size_t)n >= len) abort();
}

static void mkdirs(const char *path)
{
    char tmp[2048];
    pathf(tmp, sizeof tmp, "%s", path);
    for (char *p = tmp + 1; *p; p++) {
        if (*p != '/') continue;
        *p = 0;
        mkdir(tmp, 0755);
        *p = '/';
    }
    mkdir(tmp, 0755);
}

/* Places a symbolic link dir/name/KEY/file -> target under root. */
static void store_link(const char *root, const char *name, const char *key, const char *file,
                       const char *target)
{
    char d[2048], l[2300];
    pathf(d, sizeof d, "%s/%s/%s", root, name, key);
    mkdirs(d);
    pathf(l, sizeof l, "%s/%s", d, file);
    unlink(l);
    if (symlink(target, l) != 0) abort();
}

static void write_file(const char *path, const char *text)
{
    FILE *f = fopen(path, "w");
    if (!f) abort();
    fputs(text, f);
    fclose(f);
}

static bool same_bytes(const char *a, const char *b)
{
    size_t la, lb;
    uint8_t *x = tu_slurp(a, &la), *y = tu_slurp(b, &lb);
    bool eq = x && y && la == lb && memcmp(x, y, la) == 0;
    free(x);
    free(y);
    return eq;
}

/* Files under a directory tree: total, and those a cache must never keep. */
static int walk_files, walk_bad;
static int walk_cb(const char *p, const struct stat *st, int flag, struct FTW *ftw)
{
    (void)st;
    (void)ftw;
    if (flag == FTW_F || flag == FTW_SL) {
        walk_files++;
        size_t n = strlen(p);
        if (strstr(p, ".partial") || (n && p[n - 1] == '_')) walk_bad++;
    }
    return 0;
}
static int count_files(const char *dir, int *bad)
{
    walk_files = walk_bad = 0;
    struct stat st;
    if (stat(dir, &st) == 0) nftw(dir, walk_cb, 16, FTW_PHYS);
    if (bad) *bad = walk_bad;
    return walk_files;
}

static int rm_cb(const char *p, const struct stat *st, int flag, struct FTW *ftw)
{
    (void)st;
    (void)flag;
    (void)ftw;
    remove(p);
    return 0;
}
static void rm_rf(const char *dir) { nftw(dir, rm_cb, 16, FTW_DEPTH | FTW_PHYS); }

static int count_lines(const char *path)
{
    FILE *f = fopen(path, "r");
    if (!f) return 0;
    int n = 0, c;
    while ((c = fgetc(f)) != EOF)
        if (c == '\n') n++;
    fclose(f);
    return n;
}

static unsigned count_substr(const char *s, const char *sub)
{
    unsigned n = 0;
    for (const char *p = s; p && (p = strstr(p, sub)) != NULL; p += strlen(sub)) n++;
    return n;
}

/* A port nobody listens on: bound, then closed. */
static int closed_port(void)
{
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in a;
    memset(&a, 0, sizeof a);
    a.sin_family = AF_INET;
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    socklen_t al = sizeof a;
    if (fd < 0 || bind(fd, (struct sockaddr *)&a, sizeof a) != 0 ||
        getsockname(fd, (struct sockaddr *)&a, &al) != 0)
        abort();
    int port = ntohs(a.sin_port);
    close(fd);
    return port;
}

static int setup(void **state)
{
    (void)state;
    alarm(240); /* the whole test is bounded in time */
    char cwd[900];
    if (!getcwd(cwd, sizeof cwd)) return -1;
    pathf(F.tmp, sizeof F.tmp, "%s/symstore-XXXXXX", cwd);
    if (!mkdtemp(F.tmp)) return -1;
    char p[2048], q[2048];
    /* $HOME and $TMPDIR inside the temporary directory: the default cache and the private
     * temporary store land there; no proxy for 127.0.0.1 */
    pathf(p, sizeof p, "%s/home", F.tmp);
    mkdirs(p);
    setenv("HOME", p, 1);
    pathf(p, sizeof p, "%s/tmpdir", F.tmp);
    mkdirs(p);
    setenv("TMPDIR", p, 1);
    setenv("no_proxy", "*", 1);
    setenv("NO_PROXY", "*", 1);
    unsetenv("http_proxy");
    unsetenv("https_proxy");
    unsetenv("HTTP_PROXY");
    unsetenv("HTTPS_PROXY");
    unsetenv("ALL_PROXY");
    unsetenv("all_proxy");

    /* the served tree */
    pathf(p, sizeof p, "%s/srv", F.tmp);
    store_link(p, "amdppm.pdb", AMDPPM_PDB_KEY, "amdppm.pdb",
               STORE "/amdppm.pdb/" AMDPPM_PDB_KEY "/amdppm.pdb");
    store_link(p, "amdppm.pdb", WRONG_KEY, "amdppm.pdb",
               STORE "/amdppm.pdb/" AMDPPM_PDB_KEY "/amdppm.pdb");
    store_link(p, "amdppm.sys", AMDPPM_SYS_KEY, "amdppm.sys",
               STORE "/amdppm.sys/" AMDPPM_SYS_KEY "/amdppm.sys");
    store_link(p, "basic32.pdb", BASIC32_KEY, "basic32.pd_", DS "/basic32.pd_");
    store_link(p, "files", "x", "dump_syms_regtest64.pdb", DS "/dump_syms_regtest64.pdb");
    pathf(q, sizeof q, "%s/basic32-min.pdb/878E82E5E282481B88FCBBA2CFF8C7F12", p);
    mkdirs(q);
    pathf(q, sizeof q, "%s/basic32-min.pdb/878E82E5E282481B88FCBBA2CFF8C7F12/file.ptr", p);
    write_file(q, "MSG: withdrawn by the test server\n");

    /* the server */
    /* tests/unit/symsrv_server.py: NTKD_CORPUS is "<source dir>/../shared/corpus" */
    char script[2048], portfile[2048];
    pathf(script, sizeof script, "%s", NTKD_CORPUS);
    char *tail = strstr(script, "/../shared/corpus");
    if (tail && tail[strlen("/../shared/corpus")] == 0) {
        pathf(tail, sizeof script - (size_t)(tail - script), "/tests/unit/symsrv_server.py");
    } else { /* else beside this source file */
        pathf(script, sizeof script, "%s", __FILE__);
        char *slash = strrchr(script, '/');
        if (!slash) return -1;
        pathf(slash + 1, sizeof script - (size_t)(slash + 1 - script), "symsrv_server.py");
    }
    if (access(script, R_OK) != 0) {
        fprintf(stderr, "%s: not found\n", script);
        return -1;
    }
    pathf(portfile, sizeof portfile, "%s/port", F.tmp);
    pathf(F.reqlog, sizeof F.reqlog, "%s/requests.log", F.tmp);
    write_file(F.reqlog, "");
    F.server = fork();
    if (F.server < 0) return -1;
    if (F.server == 0) {
        execlp("python3", "python3", script, p, portfile, F.reqlog, (char *)NULL);
        _exit(127);
    }
    int port = 0;
    for (int i = 0; i < 200 && !port; i++) {
        FILE *f = fopen(portfile, "r");
        if (f) {
            if (fscanf(f, "%d", &port) != 1) port = 0;
            fclose(f);
        }
        if (!port) usleep(50000);
    }
    if (!port) {
        fprintf(stderr, "symsrv_server.py did not start\n");
        return -1;
    }
    pathf(F.url, sizeof F.url, "http://127.0.0.1:%d", port);

    /* a file.ptr on the server that points at an http URL of the same server */
    pathf(q, sizeof q, "%s/dump_syms_regtest64.pdb/" REGTEST_KEY, p);
    mkdirs(q);
    pathf(q, sizeof q, "%s/dump_syms_regtest64.pdb/" REGTEST_KEY "/file.ptr", p);
    char text[512];
    pathf(text, sizeof text, "PATH:%s/ok/files/x/dump_syms_regtest64.pdb\n", F.url);
    write_file(q, text);

    F.ctx = ntkd_ctx_new();
    return F.ctx ? 0 : -1;
}

static int teardown(void **state)
{
    (void)state;
    if (F.server > 0) {
        kill(F.server, SIGTERM);
        waitpid(F.server, NULL, 0);
    }
    ntkd_ctx_free(F.ctx);
    if (F.tmp[0] && !getenv("NTKD_KEEP_TMP")) rm_rf(F.tmp);
    return 0;
}

/* Finds name/key on the path text; returns the status, *out the path (caller frees). */
static nk_status find(const char *pathtext, const char *name, const char *key, char **out,
                      nk_strbuf *log)
{
    nk_sympath sp;
    assert_int_equal(nk_sympath_parse(pathtext, &sp), NTKD_OK);
    nk_status st = nk_symstore_find(F.ctx, &sp, name, key, out, log);
    nk_sympath_free(&sp);
    return st;
}

/* ---- symbol path parsing ------------------------------------------------------------- */

static void test_parse_forms(void **state)
{
    (void)state;
    nk_sympath sp;
    assert_int_equal(nk_sympath_parse(" srv*/c/sym*https://msdl.microsoft.com/download/symbols ;"
                                      ";  /plain/dir ; cache*/cache1 ; SRV*http://h/sym/ ;"
                                      "symsrv*symsrv.dll*/c2*http://h2/s;"
                                      CORPUS "/isf;srv**https://h3;srv*/store/only",
                                      &sp),
                     NTKD_OK);
    assert_int_equal(sp.n, 8);
    assert_int_equal(sp.elems[0].kind, NK_SP_SERVER);
    assert_string_equal(sp.elems[0].dir, "/c/sym");
    assert_string_equal(sp.elems[0].url, "https://msdl.microsoft.com/download/symbols");
    assert_int_equal(sp.elems[1].kind, NK_SP_DIR);
    assert_string_equal(sp.elems[1].dir, "/plain/dir");
    assert_null(sp.elems[1].url);
    assert_int_equal(sp.elems[2].kind, NK_SP_CACHE);
    assert_string_equal(sp.elems[2].dir, "/cache1");
    /* srv*url: the default downstream store (resolved at lookup), trailing '/' dropped */
    assert_int_equal(sp.elems[3].kind, NK_SP_SERVER);
    assert_null(sp.elems[3].dir);
    assert_string_equal(sp.elems[3].url, "http://h/sym");
    assert_int_equal(sp.elems[4].kind, NK_SP_SERVER);
    assert_string_equal(sp.elems[4].dir, "/c2");
    assert_string_equal(sp.elems[4].url, "http://h2/s");
    /* an ISF directory is a directory */
    assert_int_equal(sp.elems[5].kind, NK_SP_DIR);
    assert_string_equal(sp.elems[5].dir, CORPUS "/isf");
    assert_int_equal(sp.elems[6].kind, NK_SP_SERVER);
    assert_null(sp.elems[6].dir);
    assert_string_equal(sp.elems[6].url, "https://h3");
    /* srv*dir without a server: a store tree */
    assert_int_equal(sp.elems[7].kind, NK_SP_DIR);
    assert_string_equal(sp.elems[7].dir, "/store/only");
    nk_sympath_free(&sp);
    assert_int_equal(sp.n, 0);
    assert_null(sp.elems);

    /* two downstream stores: the second is searched as a store before the server */
    assert_int_equal(nk_sympath_parse("srv*/a*/b*https://h", &sp), NTKD_OK);
    assert_int_equal(sp.n, 2);
    assert_int_equal(sp.elems[0].kind, NK_SP_DIR);
    assert_string_equal(sp.elems[0].dir, "/b");
    assert_int_equal(sp.elems[1].kind, NK_SP_SERVER);
    assert_string_equal(sp.elems[1].dir, "/a");
    nk_sympath_free(&sp);

    /* cache* alone: the default cache; "~/" expands to $HOME */
    assert_int_equal(nk_sympath_parse("cache*;~/syms", &sp), NTKD_OK);
    assert_int_equal(sp.n, 2);
    assert_int_equal(sp.elems[0].kind, NK_SP_CACHE);
    assert_null(sp.elems[0].dir);
    char want[2048];
    pathf(want, sizeof want, "%s/syms", getenv("HOME"));
    assert_string_equal(sp.elems[1].dir, want);
    nk_sympath_free(&sp);

    /* empty paths */
    assert_int_equal(nk_sympath_parse("", &sp), NTKD_OK);
    assert_int_equal(sp.n, 0);
    nk_sympath_free(&sp);
    assert_int_equal(nk_sympath_parse(" ; ;\t; ", &sp), NTKD_OK);
    assert_int_equal(sp.n, 0);
    nk_sympath_free(&sp);
    assert_int_equal(nk_sympath_parse(NULL, &sp), NTKD_OK);
    assert_int_equal(sp.n, 0);

    /* malformed elements */
    assert_int_equal(nk_sympath_parse("srv*", &sp), NTKD_E_ARG);
    assert_int_equal(nk_sympath_parse("/ok;symsrv*symsrv.dll", &sp), NTKD_E_ARG);
    assert_int_equal(sp.n, 0);
    assert_int_equal(nk_sympath_parse("cache*/a*/b", &sp), NTKD_E_ARG);
    assert_int_equal(nk_sympath_parse("foo*bar", &sp), NTKD_E_ARG);
    assert_int_equal(nk_sympath_parse("srv*/c*http://h/a b", &sp), NTKD_E_ARG);
    assert_int_equal(nk_sympath_parse("/dir\x01x", &sp), NTKD_E_ARG);
    /* too long */
    size_t big = 70000;
    char *t = malloc(big + 1);
    assert_non_null(t);
    memset(t, 'a', big);
    t[0] = '/';
    t[big] = 0;
    assert_int_equal(nk_sympath_parse(t, &sp), NTKD_E_ARG);
    free(t);
}

static void test_default_cache(void **state)
{
    (void)state;
    char buf[2048], want[2048];
    pathf(want, sizeof want, "%s/.cache/ntkd/symbols", getenv("HOME"));
    assert_non_null(nk_sympath_default_cache(buf, sizeof buf));
    assert_string_equal(buf, want);
    assert_null(nk_sympath_default_cache(buf, 8));
}

/* ---- local stores --------------------------------------------------------------------- */

static void test_corpus_store(void **state)
{
    (void)state;
    nk_strbuf log = { 0 };
    char *p = NULL;
    assert_int_equal(find(STORE, "amdppm.pdb", AMDPPM_PDB_KEY, &p, &log), NTKD_OK);
    assert_string_equal(p, STORE "/amdppm.pdb/" AMDPPM_PDB_KEY "/amdppm.pdb");
    assert_non_null(strstr(log.s, "SYMSRV:  " STORE "/amdppm.pdb/" AMDPPM_PDB_KEY "/amdppm.pdb - ok"));
    free(p);
    nk_sb_free(&log);

    /* keys are matched case-insensitively in a store tree */
    assert_int_equal(find(STORE, "amdppm.pdb", "1c19fddb27bb3399d9b45973efeafcf31", &p, NULL),
                     NTKD_OK);
    assert_string_equal(p, STORE "/amdppm.pdb/" AMDPPM_PDB_KEY "/amdppm.pdb");
    free(p);

    assert_int_equal(find(STORE, "amdppm.sys", AMDPPM_SYS_KEY, &p, NULL), NTKD_OK);
    assert_string_equal(p, STORE "/amdppm.sys/" AMDPPM_SYS_KEY "/amdppm.sys");
    free(p);
    assert_int_equal(find(STORE, "Wdf01000.sys", WDF_KEY, &p, NULL), NTKD_OK);
    assert_string_equal(p, STORE "/Wdf01000.sys/" WDF_KEY "/Wdf01000.sys");
    free(p);
    assert_int_equal(find(STORE, "wdf01000.SYS", "A9A9D36ED1000", &p, NULL), NTKD_OK);
    free(p);

    /* ntdll.pdb's key carries the info-stream age (3), amdppm's the DBI age (1): both kinds
     * of key are accepted */
    assert_int_equal(find(STORE, "ntdll.pdb", "CCC0E36120F424BE044DE630C3BD80C43", &p, NULL),
                     NTKD_OK);
    free(p);

    /* a key the store does not hold: every form is tried and logged */
    assert_int_equal(find(STORE, "amdppm.pdb", WRONG_KEY, &p, &log), NTKD_E_NOTFOUND);
    assert_null(p);
    assert_non_null(strstr(log.s, "SYMSRV:  " STORE "/amdppm.pdb/" WRONG_KEY "/amdppm.pdb - not found"));
    assert_non_null(strstr(log.s, "/amdppm.pdb/" WRONG_KEY "/amdppm.pd_ - not found"));
    assert_non_null(strstr(log.s, "/amdppm.pdb/" WRONG_KEY "/file.ptr - not found"));
    assert_non_null(strstr(log.s, "DBGHELP:  " STORE "/amdppm.pdb - file not found"));
    assert_non_null(strstr(ntkd_ctx_error(F.ctx), "amdppm.pdb"));
    nk_sb_free(&log);

    /* an image key with another SizeOfImage */
    assert_int_equal(find(STORE, "amdppm.sys", "c9c030003c000", &p, NULL), NTKD_E_NOTFOUND);
}

static void test_bad_args(void **state)
{
    (void)state;
    char *p = NULL;
    const char *names[] = { "../amdppm.pdb", "a/b.pdb", "a\\b.pdb", "..", ".", "", "x:y.pdb",
                            "a%2f.pdb" };
    for (size_t i = 0; i < sizeof names / sizeof *names; i++)
        assert_int_equal(find(STORE, names[i], AMDPPM_PDB_KEY, &p, NULL), NTKD_E_ARG);
    char longname[400];
    memset(longname, 'a', sizeof longname - 5);
    strcpy(longname + sizeof longname - 5, ".pdb");
    assert_int_equal(find(STORE, longname, AMDPPM_PDB_KEY, &p, NULL), NTKD_E_ARG);
    /* keys: hex, and of the length the file kind needs */
    assert_int_equal(find(STORE, "amdppm.pdb", "1C19FDDB27BB3399D9B45973EFEAFCF3", &p, NULL),
                     NTKD_E_ARG);
    assert_int_equal(find(STORE, "amdppm.pdb", "1C19FDDB27BB3399D9B45973EFEAFCF3G", &p, NULL),
                     NTKD_E_ARG);
    assert_int_equal(find(STORE, "amdppm.pdb", "../../../../../../../../../../etc1", &p, NULL),
                     NTKD_E_ARG);
    assert_int_equal(find(STORE, "amdppm.sys", "c9c03000", &p, NULL), NTKD_E_ARG);
    assert_int_equal(find(STORE, "amdppm.sys", AMDPPM_PDB_KEY, &p, NULL), NTKD_E_ARG);
    assert_null(p);
    nk_sympath sp = { 0 };
    assert_int_equal(nk_symstore_find(F.ctx, &sp, "amdppm.pdb", AMDPPM_PDB_KEY, &p, NULL),
                     NTKD_E_NOTFOUND);
}

static void test_flat_dir(void **state)
{
    (void)state;
    char dir[2048], l[2300];
    pathf(dir, sizeof dir, "%s/flat", F.tmp);
    mkdirs(dir);
    pathf(l, sizeof l, "%s/amdppm.pdb", dir);
    assert_int_equal(symlink(STORE "/amdppm.pdb/" AMDPPM_PDB_KEY "/amdppm.pdb", l), 0);
    pathf(l, sizeof l, "%s/amdppm.sys", dir);
    assert_int_equal(symlink(STORE "/amdppm.sys/" AMDPPM_SYS_KEY "/amdppm.sys", l), 0);

    nk_strbuf log = { 0 };
    char *p = NULL;
    assert_int_equal(find(dir, "amdppm.pdb", AMDPPM_PDB_KEY, &p, &log), NTKD_OK);
    pathf(l, sizeof l, "%s/amdppm.pdb", dir);
    assert_string_equal(p, l);
    assert_non_null(strstr(log.s, "DBGHELP:"));
    free(p);
    nk_sb_free(&log);
    assert_int_equal(find(dir, "AMDPPM.SYS", AMDPPM_SYS_KEY, &p, NULL), NTKD_OK);
    free(p);

    /* the flat file is taken only when its identity matches */
    assert_int_equal(find(dir, "amdppm.pdb", WRONG_KEY, &p, &log), NTKD_E_NOTFOUND);
    assert_non_null(strstr(log.s, "GUID/age mismatch"));
    assert_non_null(strstr(log.s, AMDPPM_PDB_GUID));
    assert_non_null(strstr(ntkd_ctx_error(F.ctx), "another identity"));
    nk_sb_free(&log);
    assert_int_equal(find(dir, "amdppm.pdb", AMDPPM_PDB_GUID "2", &p, &log), NTKD_E_NOTFOUND);
    nk_sb_free(&log);
    assert_int_equal(find(dir, "amdppm.sys", "c9c030013b000", &p, &log), NTKD_E_NOTFOUND);
    assert_non_null(strstr(log.s, "TimeDateStamp/SizeOfImage mismatch"));
    nk_sb_free(&log);
}

/* ---- CAB ------------------------------------------------------------------------------- */

static void test_cab_mem(void **state)
{
    (void)state;
    size_t clen, plen;
    uint8_t *cab = tu_slurp(DS "/basic32.pd_", &clen);
    uint8_t *pdb = tu_slurp(DS "/basic32.pdb", &plen);
    assert_non_null(cab);
    assert_non_null(pdb);
    assert_true(nk_cab_is_cab(cab, clen));
    uint8_t *out = NULL;
    size_t olen = 0;
    assert_int_equal(nk_cab_extract_mem(F.ctx, "basic32.pd_", cab, clen, "basic32.pdb",
                                        NK_CAB_MAX_OUTPUT, &out, &olen),
                     NTKD_OK);
    assert_int_equal(olen, plen);
    assert_memory_equal(out, pdb, plen);
    free(out);
    /* NULL name: the only file */
    assert_int_equal(nk_cab_extract_mem(F.ctx, "basic32.pd_", cab, clen, NULL, NK_CAB_MAX_OUTPUT,
                                        &out, &olen),
                     NTKD_OK);
    assert_int_equal(olen, plen);
    free(out);
    /* bounded output */
    assert_int_not_equal(nk_cab_extract_mem(F.ctx, "basic32.pd_", cab, clen, "basic32.pdb",
                                            plen - 1, &out, &olen),
                         NTKD_OK);
    assert_null(out);
    assert_non_null(strstr(ntkd_ctx_error(F.ctx), "basic32.pd_"));
    /* truncations: every one fails cleanly */
    size_t cuts[] = { 0, 3, 20, 35, 100, clen / 2, clen - 1 };
    for (size_t i = 0; i < sizeof cuts / sizeof *cuts; i++) {
        assert_int_not_equal(nk_cab_extract_mem(F.ctx, "cut.pd_", cab, cuts[i], NULL,
                                                NK_CAB_MAX_OUTPUT, &out, &olen),
                             NTKD_OK);
        assert_null(out);
    }
    /* corrupted compressed data */
    uint8_t *bad = malloc(clen);
    assert_non_null(bad);
    memcpy(bad, cab, clen);
    for (size_t i = 200; i < clen; i += 997) bad[i] ^= 0x5a;
    nk_status st = nk_cab_extract_mem(F.ctx, "bad.pd_", bad, clen, NULL, NK_CAB_MAX_OUTPUT, &out,
                                      &olen);
    if (st == NTKD_OK) { /* LZX has no checksum: then the output must at least differ */
        assert_false(olen == plen && memcmp(out, pdb, plen) == 0);
        free(out);
    }
    /* not a cabinet */
    assert_int_equal(nk_cab_extract_mem(F.ctx, "x", pdb, plen, NULL, NK_CAB_MAX_OUTPUT, &out,
                                        &olen),
                     NTKD_E_FORMAT);
    free(bad);
    free(cab);
    free(pdb);
}

static void test_cab_store(void **state)
{
    (void)state;
    char store[2048], cache[2048], want[2300], text[4800];
    pathf(store, sizeof store, "%s/cabstore", F.tmp);
    store_link(store, "basic32.pdb", BASIC32_KEY, "basic32.pd_", DS "/basic32.pd_");
    pathf(cache, sizeof cache, "%s/cabcache", F.tmp);

    /* with a cache: decompressed into cache/name/KEY/name */
    nk_strbuf log = { 0 };
    char *p = NULL;
    pathf(text, sizeof text, "cache*%s;%s", cache, store);
    assert_int_equal(find(text, "basic32.pdb", BASIC32_KEY, &p, &log), NTKD_OK);
    pathf(want, sizeof want, "%s/basic32.pdb/" BASIC32_KEY "/basic32.pdb", cache);
    assert_string_equal(p, want);
    assert_true(same_bytes(p, DS "/basic32.pdb"));
    assert_non_null(strstr(log.s, "basic32.pd_ - ok, decompressed to"));
    free(p);
    nk_sb_free(&log);
    int bad;
    assert_int_equal(count_files(cache, &bad), 1);
    assert_int_equal(bad, 0);
    /* again: the cache answers first */
    assert_int_equal(find(text, "basic32.pdb", BASIC32_KEY, &p, &log), NTKD_OK);
    assert_string_equal(p, want);
    free(p);
    nk_sb_free(&log);

    /* without a cache: into the private temporary store under $TMPDIR */
    assert_int_equal(find(store, "basic32.pdb", BASIC32_KEY, &p, &log), NTKD_OK);
    pathf(want, sizeof want, "%s/ntkd-%u/symbols/basic32.pdb/" BASIC32_KEY "/basic32.pdb",
          getenv("TMPDIR"), (unsigned)geteuid());
    assert_string_equal(p, want);
    assert_true(same_bytes(p, DS "/basic32.pdb"));
    free(p);
    nk_sb_free(&log);
    assert_int_equal(find(store, "basic32.pdb", BASIC32_KEY, &p, &log), NTKD_OK);
    assert_non_null(strstr(log.s, "ok, decompressed copy"));
    free(p);
    nk_sb_free(&log);

    /* a .pd_ that holds another PDB (basic32's under basic32-min's key): decompressed,
     * checked, discarded */
    char cache2[2048];
    pathf(cache2, sizeof cache2, "%s/cabcache2", F.tmp);
    store_link(store, "basic32-min.pdb", "878E82E5E282481B88FCBBA2CFF8C7F12", "basic32-min.pd_",
               DS "/basic32.pd_");
    pathf(text, sizeof text, "cache*%s;%s", cache2, store);
    assert_int_equal(find(text, "basic32-min.pdb", "878E82E5E282481B88FCBBA2CFF8C7F12", &p, &log),
                     NTKD_E_NOTFOUND);
    assert_non_null(strstr(log.s, "GUID/age mismatch"));
    assert_int_equal(count_files(cache2, NULL), 0);
    nk_sb_free(&log);

    /* a corrupt .pd_ (a PDB renamed): an error in the log, nothing kept */
    store_link(store, "dump_syms_regtest64.pdb", REGTEST_KEY, "dump_syms_regtest64.pd_",
               DS "/dump_syms_regtest64.pdb");
    assert_int_equal(find(text, "dump_syms_regtest64.pdb", REGTEST_KEY, &p, &log),
                     NTKD_E_NOTFOUND);
    assert_non_null(strstr(log.s, "not a cabinet"));
    assert_int_equal(count_files(cache2, NULL), 0);
    nk_sb_free(&log);
}

static void test_file_ptr(void **state)
{
    (void)state;
    char store[2048], f[2300];
    pathf(store, sizeof store, "%s/ptrstore", F.tmp);
    pathf(f, sizeof f, "%s/basic32.pdb/" BASIC32_KEY, store);
    mkdirs(f);
    pathf(f, sizeof f, "%s/basic32.pdb/" BASIC32_KEY "/file.ptr", store);
    write_file(f, "PATH:" DS "/basic32.pdb\r\n");
    nk_strbuf log = { 0 };
    char *p = NULL;
    assert_int_equal(find(store, "basic32.pdb", BASIC32_KEY, &p, &log), NTKD_OK);
    assert_string_equal(p, DS "/basic32.pdb");
    assert_non_null(strstr(log.s, "PATH:" DS "/basic32.pdb"));
    free(p);
    nk_sb_free(&log);

    /* PATH: to a compressed file */
    pathf(f, sizeof f, "%s/basic32.pdb/" BASIC32_KEY "/file.ptr", store);
    write_file(f, "PATH:" DS "/basic32.pd_");
    char cache[2048], text[4400];
    pathf(cache, sizeof cache, "%s/ptrcache", F.tmp);
    pathf(text, sizeof text, "cache*%s;%s", cache, store);
    assert_int_equal(find(text, "basic32.pdb", BASIC32_KEY, &p, &log), NTKD_OK);
    assert_true(same_bytes(p, DS "/basic32.pdb"));
    free(p);
    nk_sb_free(&log);

    /* PATH: to a file of another identity */
    pathf(f, sizeof f, "%s/basic32-min.pdb/878E82E5E282481B88FCBBA2CFF8C7F12", store);
    mkdirs(f);
    pathf(f, sizeof f, "%s/basic32-min.pdb/878E82E5E282481B88FCBBA2CFF8C7F12/file.ptr", store);
    write_file(f, "PATH:" DS "/basic32.pdb");
    assert_int_equal(find(store, "basic32-min.pdb", "878E82E5E282481B88FCBBA2CFF8C7F12", &p, &log),
                     NTKD_E_NOTFOUND);
    assert_non_null(strstr(log.s, "GUID/age mismatch"));
    nk_sb_free(&log);

    /* MSG: */
    pathf(f, sizeof f, "%s/amdppm.pdb/" AMDPPM_PDB_KEY, store);
    mkdirs(f);
    pathf(f, sizeof f, "%s/amdppm.pdb/" AMDPPM_PDB_KEY "/file.ptr", store);
    write_file(f, "MSG: this file was removed\n");
    assert_int_equal(find(store, "amdppm.pdb", AMDPPM_PDB_KEY, &p, &log), NTKD_E_NOTFOUND);
    assert_non_null(strstr(log.s, "MSG: this file was removed"));
    nk_sb_free(&log);

    /* a Windows path cannot be followed; garbage is ignored */
    write_file(f, "PATH:\\\\server\\share\\amdppm.pdb");
    assert_int_equal(find(store, "amdppm.pdb", AMDPPM_PDB_KEY, &p, &log), NTKD_E_NOTFOUND);
    assert_non_null(strstr(log.s, "Windows path"));
    nk_sb_free(&log);
    write_file(f, "garbage");
    assert_int_equal(find(store, "amdppm.pdb", AMDPPM_PDB_KEY, &p, &log), NTKD_E_NOTFOUND);
    nk_sb_free(&log);
}

/* ---- downloads -------------------------------------------------------------------------- */

static void test_download_ok(void **state)
{
    (void)state;
    char cache[2048], text[4400], want[2400];
    pathf(cache, sizeof cache, "%s/dl-ok", F.tmp);
    pathf(text, sizeof text, "srv*%s*%s/ok", cache, F.url);
    int before = count_lines(F.reqlog);
    nk_strbuf log = { 0 };
    char *p = NULL;
    assert_int_equal(find(text, "amdppm.pdb", AMDPPM_PDB_KEY, &p, &log), NTKD_OK);
    pathf(want, sizeof want, "%s/amdppm.pdb/" AMDPPM_PDB_KEY "/amdppm.pdb", cache);
    assert_string_equal(p, want);
    assert_true(same_bytes(p, STORE "/amdppm.pdb/" AMDPPM_PDB_KEY "/amdppm.pdb"));
    char line[1024];
    pathf(line, sizeof line, "SYMSRV:  %s/ok/amdppm.pdb/" AMDPPM_PDB_KEY "/amdppm.pdb - ok",
          F.url);
    assert_non_null(strstr(log.s, line));
    /* the GUID of what the cache holds, read back */
    nk_pdb *pdb = NULL;
    assert_int_equal(nk_pdb_open(F.ctx, p, &pdb), NTKD_OK);
    char g[33];
    assert_string_equal(nk_pdb_guid_hex(pdb, g), AMDPPM_PDB_GUID);
    nk_pdb_close(pdb);
    free(p);
    nk_sb_free(&log);
    assert_int_equal(count_lines(F.reqlog), before + 1);
    int bad;
    assert_int_equal(count_files(cache, &bad), 1);
    assert_int_equal(bad, 0);

    /* a second lookup is answered by the cache: no request */
    assert_int_equal(find(text, "amdppm.pdb", AMDPPM_PDB_KEY, &p, &log), NTKD_OK);
    assert_string_equal(p, want);
    assert_int_equal(count_lines(F.reqlog), before + 1);
    free(p);
    nk_sb_free(&log);

    /* an image, through a redirect */
    pathf(text, sizeof text, "srv*%s*%s/redir", cache, F.url);
    assert_int_equal(find(text, "amdppm.sys", AMDPPM_SYS_KEY, &p, &log), NTKD_OK);
    assert_true(same_bytes(p, STORE "/amdppm.sys/" AMDPPM_SYS_KEY "/amdppm.sys"));
    free(p);
    nk_sb_free(&log);
    assert_int_equal(count_files(cache, &bad), 2);
    assert_int_equal(bad, 0);

    /* srv*url: the default cache under $HOME */
    pathf(text, sizeof text, "srv*%s/ok", F.url);
    assert_int_equal(find(text, "amdppm.sys", AMDPPM_SYS_KEY, &p, &log), NTKD_OK);
    pathf(want, sizeof want, "%s/.cache/ntkd/symbols/amdppm.sys/" AMDPPM_SYS_KEY "/amdppm.sys",
          getenv("HOME"));
    assert_string_equal(p, want);
    free(p);
    nk_sb_free(&log);

    /* a Windows downstream store (a path copied from Windows): the default cache instead,
     * nothing created in the current directory */
    pathf(text, sizeof text, "srv*c:\\symbols*%s/ok", F.url);
    assert_int_equal(find(text, "amdppm.pdb", AMDPPM_PDB_KEY, &p, &log), NTKD_OK);
    pathf(want, sizeof want, "%s/.cache/ntkd/symbols/amdppm.pdb/" AMDPPM_PDB_KEY "/amdppm.pdb",
          getenv("HOME"));
    assert_string_equal(p, want);
    assert_non_null(strstr(log.s, "c:\\symbols - a Windows path"));
    struct stat stw;
    assert_int_not_equal(stat("c:\\symbols", &stw), 0);
    free(p);
    nk_sb_free(&log);

    /* cache*dir then srv*url: the download goes to that cache */
    char cache3[2048];
    pathf(cache3, sizeof cache3, "%s/dl-cachestar", F.tmp);
    pathf(text, sizeof text, "cache*%s;srv*%s/ok", cache3, F.url);
    assert_int_equal(find(text, "amdppm.sys", AMDPPM_SYS_KEY, &p, &log), NTKD_OK);
    pathf(want, sizeof want, "%s/amdppm.sys/" AMDPPM_SYS_KEY "/amdppm.sys", cache3);
    assert_string_equal(p, want);
    free(p);
    nk_sb_free(&log);
}

static void test_download_cab(void **state)
{
    (void)state;
    char cache[2048], text[4400], want[2400], line[1024];
    pathf(cache, sizeof cache, "%s/dl-cab", F.tmp);
    pathf(text, sizeof text, "srv*%s*%s/ok", cache, F.url);
    nk_strbuf log = { 0 };
    char *p = NULL;
    assert_int_equal(find(text, "basic32.pdb", BASIC32_KEY, &p, &log), NTKD_OK);
    pathf(want, sizeof want, "%s/basic32.pdb/" BASIC32_KEY "/basic32.pdb", cache);
    assert_string_equal(p, want);
    assert_true(same_bytes(p, DS "/basic32.pdb"));
    pathf(line, sizeof line, "SYMSRV:  %s/ok/basic32.pdb/" BASIC32_KEY "/basic32.pdb - HTTP 404",
          F.url);
    assert_non_null(strstr(log.s, line));
    pathf(line, sizeof line, "SYMSRV:  %s/ok/basic32.pdb/" BASIC32_KEY "/basic32.pd_ - ok", F.url);
    assert_non_null(strstr(log.s, line));
    free(p);
    nk_sb_free(&log);
    int bad;
    assert_int_equal(count_files(cache, &bad), 1); /* no .pd_, no partial */
    assert_int_equal(bad, 0);
}

static void test_download_ptr(void **state)
{
    (void)state;
    char cache[2048], text[4400], want[2400];
    pathf(cache, sizeof cache, "%s/dl-ptr", F.tmp);
    pathf(text, sizeof text, "srv*%s*%s/ok", cache, F.url);
    nk_strbuf log = { 0 };
    char *p = NULL;
    /* file.ptr with PATH: an http URL */
    assert_int_equal(find(text, "dump_syms_regtest64.pdb", REGTEST_KEY, &p, &log), NTKD_OK);
    pathf(want, sizeof want, "%s/dump_syms_regtest64.pdb/" REGTEST_KEY "/dump_syms_regtest64.pdb",
          cache);
    assert_string_equal(p, want);
    assert_true(same_bytes(p, DS "/dump_syms_regtest64.pdb"));
    free(p);
    nk_sb_free(&log);
    /* file.ptr with MSG: */
    assert_int_equal(find(text, "basic32-min.pdb", "878E82E5E282481B88FCBBA2CFF8C7F12", &p, &log),
                     NTKD_E_NOTFOUND);
    assert_non_null(strstr(log.s, "file.ptr - MSG: withdrawn by the test server"));
    nk_sb_free(&log);
    int bad;
    assert_int_equal(count_files(cache, &bad), 1);
    assert_int_equal(bad, 0);
}

static void test_download_failures(void **state)
{
    (void)state;
    char cache[2048], text[4400], line[1024];
    pathf(cache, sizeof cache, "%s/dl-fail", F.tmp);
    nk_strbuf log = { 0 };
    char *p = NULL;
    int bad;

    /* truncated bodies (both forms are served truncated) */
    pathf(text, sizeof text, "srv*%s*%s/trunc", cache, F.url);
    assert_int_equal(find(text, "amdppm.pdb", AMDPPM_PDB_KEY, &p, &log), NTKD_E_NOTFOUND);
    assert_null(p);
    assert_non_null(strstr(log.s, "amdppm.pdb - truncated body"));
    assert_int_equal(count_files(cache, &bad), 0);
    nk_sb_free(&log);
    assert_int_equal(find(text, "basic32.pdb", BASIC32_KEY, &p, &log), NTKD_E_NOTFOUND);
    assert_non_null(strstr(log.s, "basic32.pd_ - truncated body"));
    assert_int_equal(count_files(cache, &bad), 0);
    nk_sb_free(&log);

    /* 500 on every form */
    pathf(text, sizeof text, "srv*%s*%s/e500", cache, F.url);
    assert_int_equal(find(text, "amdppm.pdb", AMDPPM_PDB_KEY, &p, &log), NTKD_E_NOTFOUND);
    assert_int_equal(count_substr(log.s, "- HTTP 500"), 3);
    assert_int_equal(count_files(cache, &bad), 0);
    nk_sb_free(&log);

    /* wrong GUID served under the requested key: downloaded, checked, discarded */
    pathf(text, sizeof text, "srv*%s*%s/ok", cache, F.url);
    assert_int_equal(find(text, "amdppm.pdb", WRONG_KEY, &p, &log), NTKD_E_NOTFOUND);
    assert_null(p);
    pathf(line, sizeof line, "SYMSRV:  %s/ok/amdppm.pdb/" WRONG_KEY "/amdppm.pdb - GUID/age mismatch",
          F.url);
    assert_non_null(strstr(log.s, line));
    assert_non_null(strstr(log.s, "discarded"));
    assert_non_null(strstr(ntkd_ctx_error(F.ctx), "another identity"));
    assert_int_equal(count_files(cache, &bad), 0);
    nk_sb_free(&log);

    /* after the failures the same cache takes a good download */
    assert_int_equal(find(text, "amdppm.pdb", AMDPPM_PDB_KEY, &p, &log), NTKD_OK);
    free(p);
    nk_sb_free(&log);
    assert_int_equal(count_files(cache, &bad), 1);
    assert_int_equal(bad, 0);

    /* a server nobody answers at: one attempt, then the server is given up */
    char dead[128];
    pathf(dead, sizeof dead, "http://127.0.0.1:%d", closed_port());
    pathf(text, sizeof text, "srv*%s*%s", cache, dead);
    time_t t0 = time(NULL);
    assert_int_equal(find(text, "basic32.pdb", BASIC32_KEY, &p, &log), NTKD_E_NOTFOUND);
    assert_true(time(NULL) - t0 < 20);
    assert_int_equal(count_substr(log.s, dead), 1);
    nk_sb_free(&log);
}

static void test_no_network(void **state)
{
    (void)state;
    char text[8192], cache[2048];
    pathf(cache, sizeof cache, "%s/nonet-cache", F.tmp);
    pathf(text, sizeof text, "cache*%s;%s;%s/flat;%s/cabstore;srv*%s/srvtree", cache, STORE,
          F.tmp, F.tmp, F.tmp);
    int before = count_lines(F.reqlog);
    nk_strbuf log = { 0 };
    char *p = NULL;
    assert_int_equal(find(text, "amdppm.pdb", WRONG_KEY, &p, &log), NTKD_E_NOTFOUND);
    assert_int_equal(find(text, "basic32-min.pdb", "878E82E5E282481B88FCBBA2CFF8C7F12", &p, &log),
                     NTKD_E_NOTFOUND);
    assert_int_equal(find(text, "amdppm.sys", AMDPPM_SYS_KEY, &p, &log), NTKD_OK);
    free(p);
    assert_null(strstr(log.s, "http"));
    assert_int_equal(count_lines(F.reqlog), before);
    nk_sb_free(&log);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_parse_forms),
        cmocka_unit_test(test_default_cache),
        cmocka_unit_test(test_corpus_store),
        cmocka_unit_test(test_bad_args),
        cmocka_unit_test(test_flat_dir),
        cmocka_unit_test(test_cab_mem),
        cmocka_unit_test(test_cab_store),
        cmocka_unit_test(test_file_ptr),
        cmocka_unit_test(test_download_ok),
        cmocka_unit_test(test_download_cab),
        cmocka_unit_test(test_download_ptr),
        cmocka_unit_test(test_download_failures),
        cmocka_unit_test(test_no_network),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
