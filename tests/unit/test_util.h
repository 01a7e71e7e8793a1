/* test_util.h: helpers shared by the cmocka unit tests (header-only: every tests/unit/test_*.c
 * is its own executable, so this file is not a test and needs no link step).
 *
 *   tu_slurp(path, &len)                      whole file in a malloc'd buffer (NULL on failure)
 *   tu_rm_rf(dir) / tu_rmdir_r(dir)           remove a temporary directory (status / asserted)
 *   tu_mfile m; tu_mf_load(&m, path)          a manifest as lines of words: l[i].kind, l[i].w[]
 *   tu_hx("0x1f")                             a manifest number (hex)
 *   tu_scene_gen(tag, table, scene, kind, extra, dir, dlen, out, olen)
 *                                             ntkd-genscene into a fresh /tmp/ntkd-TAG-XXXXXX
 *   tu_xp_table(buf, len)                     path of the XP table built next to ntkd-genscene
 *   tu_scene s; tu_scene_build(&s, tag, name) a w19041 full scene: bytes and raw manifest lines
 *
 * The scene helpers need NTKD_GENSCENE and NTKD_CORPUS (tests/CMakeLists.txt defines both). */
#ifndef NTKD_TEST_UTIL_H
#define NTKD_TEST_UTIL_H

#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "ntkd/ntkd.h"

/* The whole file; NULL when it cannot be opened or read (then *len is 0). An empty file gives
 * a 1-byte buffer and *len 0. */
static inline uint8_t *tu_slurp(const char *path, size_t *len)
{
    *len = 0;
    FILE *f = fopen(path, "rb");
    if (!f) return NULL;
    fseek(f, 0, SEEK_END);
    long n = ftell(f);
    fseek(f, 0, SEEK_SET);
    if (n < 0) n = 0;
    uint8_t *b = malloc(n > 0 ? (size_t)n : 1);
    if (b && n > 0 && fread(b, 1, (size_t)n, f) != (size_t)n) {
        free(b);
        b = NULL;
    }
    fclose(f);
    if (b) *len = (size_t)n;
    return b;
}

/* rm -rf DIR; the status of system(). */
static inline int tu_rm_rf(const char *dir)
{
    char cmd[300];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
    return system(cmd);
}

/* rm -rf DIR, which must succeed. */
static inline void tu_rmdir_r(const char *dir)
{
    assert_int_equal(tu_rm_rf(dir), 0);
}

/* ---- manifests as words --------------------------------------------------------------------- */

#define TU_MAXW 12

typedef struct tu_mline {
    char kind[16];        /* the first word */
    char w[TU_MAXW][200]; /* the next ones (at most TU_MAXW) */
    size_t n;
} tu_mline;

typedef struct tu_mfile {
    tu_mline *l;
    size_t n;
} tu_mfile;

/* Every line of the manifest but blanks and '#' comments, split at spaces. */
static inline void tu_mf_load(tu_mfile *m, const char *path)
{
    memset(m, 0, sizeof *m);
    FILE *f = fopen(path, "r");
    assert_non_null(f);
    char line[2048];
    size_t cap = 0;
    while (fgets(line, sizeof line, f)) {
        line[strcspn(line, "\r\n")] = 0;
        if (!line[0] || line[0] == '#') continue;
        if (m->n == cap) {
            cap = cap ? cap * 2 : 256;
            m->l = realloc(m->l, cap * sizeof *m->l);
            assert_non_null(m->l);
        }
        tu_mline *x = &m->l[m->n++];
        memset(x, 0, sizeof *x);
        char *save = NULL, *tok = strtok_r(line, " ", &save);
        snprintf(x->kind, sizeof x->kind, "%s", tok ? tok : "");
        while ((tok = strtok_r(NULL, " ", &save)) && x->n < TU_MAXW)
            snprintf(x->w[x->n++], sizeof x->w[0], "%s", tok);
    }
    fclose(f);
}

static inline void tu_mf_free(tu_mfile *m)
{
    free(m->l);
    memset(m, 0, sizeof *m);
}

static inline uint64_t tu_hx(const char *s) { return strtoull(s, NULL, 16); }

/* ---- ntkd-genscene -------------------------------------------------------------------------- */

#ifdef NTKD_GENSCENE
/* Builds a scene into a fresh /tmp/ntkd-TAG-XXXXXX (in dir); the dump is dir/s.dmp (in out), the
 * generator's output dir/log. False, with the log printed, when the generator fails. */
static inline bool tu_scene_gen(const char *tag, const char *table, const char *scene, const char *kind,
                                const char *extra, char *dir, size_t dlen, char *out, size_t olen)
{
    snprintf(dir, dlen, "/tmp/ntkd-%s-XXXXXX", tag);
    assert_non_null(mkdtemp(dir));
    snprintf(out, olen, "%s/s.dmp", dir);
    char cmd[2048];
    snprintf(cmd, sizeof cmd, "'%s' --table '%s' --scene %s --kind %s '%s' %s >'%s/log' 2>&1", NTKD_GENSCENE, table,
             scene, kind, out, extra ? extra : "", dir);
    if (system(cmd) != 0) {
        char l[300];
        snprintf(l, sizeof l, "%s/log", dir);
        size_t n;
        uint8_t *b = tu_slurp(l, &n);
        print_message("ntkd-genscene --table %s --scene %s --kind %s %s failed: %.*s\n", table, scene, kind,
                      extra ? extra : "", b ? (int)(n < 500 ? n : 500) : 0, b ? (char *)b : "");
        free(b);
        return false;
    }
    return true;
}

/* The XP kernel table pdb2isf.py writes next to the generator at build time
 * (.../scene/xp/ntkrnlpa.json) into buf; NULL when NTKD_GENSCENE has no directory part. Whether
 * the file exists is the caller's question. */
static inline char *tu_xp_table(char *buf, size_t len)
{
    snprintf(buf, len, "%s", NTKD_GENSCENE);
    char *sl = strrchr(buf, '/');
    if (!sl) return NULL;
    snprintf(sl + 1, len - (size_t)(sl + 1 - buf), "xp/ntkrnlpa.json");
    return buf;
}

/* A scene of the w19041 table (full kind) held in memory with its manifest's raw lines. */
typedef struct tu_scene {
    char dir[64], path[128];
    uint8_t *buf;
    size_t len;
    ntkd_ctx *ctx;
    ntkd_target *t;
    char **lines; /* manifest lines, as read (with their '\n') */
    size_t nlines;
} tu_scene;

#define TU_ISF19041 NTKD_CORPUS "/isf/windows/ntkrnlmp.pdb/5278AFF86C341677D7D7835C85B7B844-1.json.xz"

/* Builds scene NAME (w19041, full) into /tmp/ntkd-TAG-XXXXXX/NAME.dmp, reads its manifest lines
 * and its bytes; no target is opened. */
static inline void tu_scene_build(tu_scene *s, const char *tag, const char *name)
{
    memset(s, 0, sizeof *s);
    snprintf(s->dir, sizeof s->dir, "/tmp/ntkd-%s-XXXXXX", tag);
    assert_non_null(mkdtemp(s->dir));
    snprintf(s->path, sizeof s->path, "%s/%s.dmp", s->dir, name);
    char cmd[1024];
    snprintf(cmd, sizeof cmd, "'%s' --table '%s' --scene %s --kind full '%s' >/dev/null 2>&1", NTKD_GENSCENE,
             TU_ISF19041, name, s->path);
    assert_int_equal(system(cmd), 0);
    char mp[160];
    snprintf(mp, sizeof mp, "%s.manifest", s->path);
    FILE *f = fopen(mp, "r");
    assert_non_null(f);
    char line[512];
    while (fgets(line, sizeof line, f)) {
        s->lines = realloc(s->lines, (s->nlines + 1) * sizeof *s->lines);
        assert_non_null(s->lines);
        s->lines[s->nlines++] = strdup(line);
    }
    fclose(f);
    s->buf = tu_slurp(s->path, &s->len);
    assert_non_null(s->buf);
}

/* Closes the target (when open), frees everything, removes the directory. */
static inline void tu_scene_close(tu_scene *s)
{
    if (s->t) ntkd_close(s->t);
    if (s->ctx) ntkd_ctx_free(s->ctx);
    free(s->buf);
    for (size_t i = 0; i < s->nlines; i++) free(s->lines[i]);
    free(s->lines);
    if (tu_rm_rf(s->dir) != 0) fprintf(stderr, "could not remove %s\n", s->dir);
}
#endif

#endif
