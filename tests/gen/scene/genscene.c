/* genscene.c: the ntkd-genscene command line, the manifest writer and the error exit.
 *
 * ntkd-genscene --table ISF --scene NAME --kind full|bitmap|pae OUT.dmp [--cpus N] [--procs N]
 *               [--seed S] [--hostile H] [--fill-mb N]
 * --fill-mb N adds N MiB of pattern-filled kernel pool pages (large dumps for benchmarks).
 * The manifest is written to OUT.dmp.manifest.tmp and renamed to OUT.dmp.manifest once the scene
 * is complete; on any error both OUT.dmp and the manifest are removed, so a cached scene is
 * always whole. */
#include "scene.h"

#include <errno.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

/* Process-wide state of the generator (a one-shot command, not library code). */
static FILE *g_mf;
static char *g_mf_tmp, *g_mf_final, *g_out;

_Noreturn void sc_die(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    fputs("ntkd-genscene: ", stderr);
    vfprintf(stderr, fmt, ap);
    fputc('\n', stderr);
    va_end(ap);
    if (g_mf) {
        fclose(g_mf);
        g_mf = NULL;
    }
    if (g_mf_tmp)
        unlink(g_mf_tmp);
    if (g_mf_final)
        unlink(g_mf_final);
    if (g_out)
        unlink(g_out);
    exit(1);
}

void *sc_alloc0(size_t n)
{
    void *p = calloc(1, n ? n : 1);
    if (!p)
        sc_die("out of memory (%zu bytes)", n);
    return p;
}

void mf(const char *fmt, ...)
{
    if (!g_mf)
        return;
    va_list ap;
    va_start(ap, fmt);
    vfprintf(g_mf, fmt, ap);
    va_end(ap);
    fputc('\n', g_mf);
}

static _Noreturn void usage(const char *msg, int status)
{
    fprintf(status ? stderr : stdout,
            "ntkd-genscene: %s\n"
            "usage: ntkd-genscene --table ISF --scene NAME --kind full|bitmap|pae OUT.dmp\n"
            "                     [--cpus N] [--procs N] [--seed S] [--hostile cycle|missing|badtype|all]\n"
            "                     [--fill-mb N]\n",
            msg);
    exit(status);
}

static uint64_t num(const char *opt, const char *s, uint64_t max)
{
    char *end;
    errno = 0;
    unsigned long long v = strtoull(s, &end, 0);
    if (errno || end == s || *end || s[0] == '-' || v > max)
        sc_die("%s: bad number \"%s\" (0..%llu)", opt, s, (unsigned long long)max);
    return v;
}

static char *cat(const char *a, const char *b)
{
    size_t n = strlen(a) + strlen(b) + 1;
    char *p = sc_alloc0(n);
    snprintf(p, n, "%s%s", a, b);
    return p;
}

int main(int argc, char **argv)
{
    sc_opts o;
    memset(&o, 0, sizeof o);
    o.cpus = 2;
    o.seed = 1;
    const char *kind = NULL;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        if (!strcmp(a, "-h") || !strcmp(a, "--help"))
            usage("writes a kernel dump of a scene built with a real kernel layout", 0);
        if (a[0] == '-' && a[1] == '-') {
            if (i + 1 >= argc)
                usage("option needs a value", 1);
            const char *v = argv[++i];
            if (!strcmp(a, "--table"))
                o.table = v;
            else if (!strcmp(a, "--scene"))
                o.scene = v;
            else if (!strcmp(a, "--kind"))
                kind = v;
            else if (!strcmp(a, "--cpus"))
                o.cpus = (unsigned)num(a, v, 32);
            else if (!strcmp(a, "--procs"))
                o.procs = (unsigned)num(a, v, 100000);
            else if (!strcmp(a, "--seed"))
                o.seed = num(a, v, UINT64_MAX);
            else if (!strcmp(a, "--hostile"))
                o.hostile = v;
            else if (!strcmp(a, "--fill-mb"))
                w_fill_option(num(a, v, 1u << 20));
            else {
                fprintf(stderr, "ntkd-genscene: unknown option %s\n", a);
                usage("bad option", 1);
            }
        } else if (!o.out) {
            o.out = a;
        } else {
            usage("more than one output file given", 1);
        }
    }
    if (!o.table || !o.scene || !kind || !o.out)
        usage("--table, --scene, --kind and OUT are required", 1);
    if (o.cpus < 1)
        sc_die("--cpus: at least 1");
    if (!strcmp(kind, "full"))
        o.kind = SC_FULL64;
    else if (!strcmp(kind, "bitmap"))
        o.kind = SC_BITMAP64;
    else if (!strcmp(kind, "pae"))
        o.kind = SC_PAE;
    else
        sc_die("--kind: \"%s\" is not full, bitmap or pae", kind);
    if (o.hostile && strcmp(o.hostile, "cycle") && strcmp(o.hostile, "missing") &&
        strcmp(o.hostile, "badtype") && strcmp(o.hostile, "all"))
        sc_die("--hostile: \"%s\" is not cycle, missing, badtype or all", o.hostile);

    /* the table must match the kind: 64-bit tables for full/bitmap, an x86 PAE one for pae */
    lay *L = lay_open(o.table);
    bool want64 = o.kind != SC_PAE;
    if (want64 && lay_ptr(L) != 8)
        sc_die("--kind %s needs a 64-bit table; %s has %u-byte pointers", kind, o.table, lay_ptr(L));
    if (!want64 && (lay_ptr(L) != 4 || !lay_pae(L)))
        sc_die("--kind pae needs an x86 PAE table (8-byte _MMPTE); %s is not one", o.table);

    g_out = strdup(o.out);
    g_mf_final = cat(o.out, ".manifest");
    g_mf_tmp = cat(o.out, ".manifest.tmp");
    unlink(g_out);
    unlink(g_mf_final);
    g_mf = fopen(g_mf_tmp, "w");
    if (!g_mf)
        sc_die("cannot create %s: %s", g_mf_tmp, strerror(errno));
    setvbuf(g_mf, NULL, _IOFBF, 1 << 20);

    mf("# ntkd-genscene manifest of %s", o.out);
    mf("table %s", lay_guid_age(L));
    mf("kind %s", kind);
    mf("arch %s", want64 ? "x64" : "x86pae");
    mf("cpus 0x%x", o.cpus);
    mf("scene %s", o.scene);
    mf("seed 0x%llx", (unsigned long long)o.seed);
    if (o.hostile)
        mf("# hostile variant %s", o.hostile);
    scene_build(&o); /* opens the table again: lay_open shares the parsed one */
    lay_free(L);

    FILE *f = g_mf;
    g_mf = NULL;
    if (ferror(f) | fclose(f))
        sc_die("writing %s failed", g_mf_tmp);
    if (rename(g_mf_tmp, g_mf_final) != 0)
        sc_die("cannot rename %s: %s", g_mf_tmp, strerror(errno));
    free(g_out);
    free(g_mf_tmp);
    free(g_mf_final);
    return 0;
}
