/* gendump.c: ntkd-gendump, the test-only dump generator.
 *
 *   ntkd-gendump KIND OUT [--arch A] [--pages N] [--seed S] [--dump-type T] [--build B]
 *                [--nprocs P] [--corrupt WHAT]
 *
 * writes OUT and OUT.manifest (see notes/GENDUMP.md). It shares no code or headers with
 * libntkd: its on-disk layouts (gen_layout.h) come from public descriptions, so a misreading
 * cannot hide on both sides. */
#include "gen.h"

#include <stdlib.h>
#include <string.h>

static void usage(void)
{
    fputs("usage: ntkd-gendump KIND OUT [--arch x64|arm64|x86pae|x86] [--pages N] [--seed S]\n"
          "                    [--dump-type T] [--build B] [--nprocs P]\n"
          "                    [--corrupt runs-past-eof|bitmap-past-eof|overlapping-runs|huge-counts|bad-offsets]\n"
          "KIND: full64 summary64 bitmap64 triage64 full32 summary32 triage32 mdmp raw demo\n",
          stderr);
    exit(2);
}

static uint64_t parse_num(const char *opt, const char *s)
{
    char *end;
    unsigned long long v = strtoull(s, &end, 0);
    if (!*s || *end)
        gen_die("%s: not a number: %s", opt, s);
    return v;
}

static const struct {
    const char *name;
    gen_kind kind;
} kinds[] = {
    {"full64", GK_FULL64},   {"summary64", GK_SUMMARY64}, {"bitmap64", GK_BITMAP64},
    {"triage64", GK_TRIAGE64}, {"full32", GK_FULL32},     {"summary32", GK_SUMMARY32},
    {"triage32", GK_TRIAGE32}, {"mdmp", GK_MDMP},         {"raw", GK_RAW},
    {"demo", GK_DEMO},
};

static const struct {
    const char *name;
    gen_corrupt c;
} corrupts[] = {
    {"runs-past-eof", GC_RUNS_PAST_EOF},       {"bitmap-past-eof", GC_BITMAP_PAST_EOF},
    {"overlapping-runs", GC_OVERLAPPING_RUNS}, {"huge-counts", GC_HUGE_COUNTS},
    {"bad-offsets", GC_BAD_OFFSETS},
};

int main(int argc, char **argv)
{
    if (argc < 3)
        usage();
    gen_opts o;
    memset(&o, 0, sizeof o);
    o.kind_name = argv[1];
    o.out = argv[2];
    bool found = false;
    for (size_t i = 0; i < sizeof kinds / sizeof kinds[0]; i++)
        if (!strcmp(argv[1], kinds[i].name)) {
            o.kind = kinds[i].kind;
            found = true;
        }
    if (!found) {
        fprintf(stderr, "ntkd-gendump: unknown kind %s\n", argv[1]);
        usage();
    }
    const char *arch = NULL;
    bool have_type = false, have_build = false;
    o.pages = 512;
    o.seed = 1;
    o.nprocs = 4;
    o.corrupt = GC_NONE;
    for (int i = 3; i < argc; i++) {
        const char *a = argv[i];
        if (i + 1 >= argc) {
            fprintf(stderr, "ntkd-gendump: %s needs a value\n", a);
            usage();
        }
        const char *v = argv[++i];
        if (!strcmp(a, "--arch"))
            arch = v;
        else if (!strcmp(a, "--pages"))
            o.pages = parse_num(a, v);
        else if (!strcmp(a, "--seed"))
            o.seed = parse_num(a, v);
        else if (!strcmp(a, "--dump-type")) {
            o.dump_type = (uint32_t)parse_num(a, v);
            have_type = true;
        } else if (!strcmp(a, "--build")) {
            o.build = (uint32_t)parse_num(a, v);
            have_build = true;
        } else if (!strcmp(a, "--nprocs"))
            o.nprocs = (uint32_t)parse_num(a, v);
        else if (!strcmp(a, "--corrupt")) {
            bool ok = false;
            for (size_t k = 0; k < sizeof corrupts / sizeof corrupts[0]; k++)
                if (!strcmp(v, corrupts[k].name)) {
                    o.corrupt = corrupts[k].c;
                    o.corrupt_name = corrupts[k].name;
                    ok = true;
                }
            if (!ok)
                gen_die("unknown --corrupt %s", v);
        } else {
            fprintf(stderr, "ntkd-gendump: unknown option %s\n", a);
            usage();
        }
    }

    /* architecture: defaults and what each kind allows */
    bool k32 = o.kind == GK_FULL32 || o.kind == GK_SUMMARY32 || o.kind == GK_TRIAGE32;
    if (!arch)
        arch = k32 ? "x86pae" : "x64";
    if (!strcmp(arch, "x64"))
        o.arch = GA_X64;
    else if (!strcmp(arch, "arm64"))
        o.arch = GA_ARM64;
    else if (!strcmp(arch, "x86pae"))
        o.arch = GA_X86PAE;
    else if (!strcmp(arch, "x86"))
        o.arch = GA_X86;
    else
        gen_die("unknown --arch %s", arch);
    bool a32 = o.arch == GA_X86PAE || o.arch == GA_X86;
    switch (o.kind) {
    case GK_FULL64:
    case GK_SUMMARY64:
    case GK_BITMAP64:
    case GK_TRIAGE64:
        if (a32)
            gen_die("kind %s needs --arch x64 or arm64", o.kind_name);
        break;
    case GK_FULL32:
    case GK_SUMMARY32:
    case GK_TRIAGE32:
        if (!a32)
            gen_die("kind %s needs --arch x86pae or x86", o.kind_name);
        break;
    case GK_MDMP:
        if (o.arch != GA_X64 && o.arch != GA_X86)
            gen_die("kind mdmp needs --arch x64 or x86");
        break;
    case GK_DEMO:
        if (o.arch != GA_X64)
            gen_die("kind demo is x64 only");
        break;
    case GK_RAW:
        break;
    }

    /* dump type */
    if (o.kind == GK_BITMAP64) {
        if (!have_type)
            o.dump_type = 5;
        if (o.dump_type != 5 && o.dump_type != 6 && o.dump_type != 8 && o.dump_type != 9 &&
            o.dump_type != 10)
            gen_die("bitmap64 --dump-type must be 5, 6, 8, 9 or 10");
    } else if (have_type) {
        uint32_t want = (o.kind == GK_FULL64 || o.kind == GK_FULL32 || o.kind == GK_DEMO) ? 1
                        : (o.kind == GK_SUMMARY64 || o.kind == GK_SUMMARY32)               ? 2
                        : (o.kind == GK_TRIAGE64 || o.kind == GK_TRIAGE32)                 ? 4
                                                                                           : 0;
        if (o.dump_type != want)
            gen_die("kind %s has DumpType %u; --dump-type only chooses among bitmap64 types",
                    o.kind_name, want);
    }
    if (!have_build)
        o.build = o.arch == GA_ARM64 ? 22000 : 19041;
    if (o.nprocs == 0 || o.nprocs > 255)
        gen_die("--nprocs must be 1..255");
    if (o.pages < 32)
        gen_die("--pages must be at least 32");
    if (o.pages > (a32 ? 0x80000ULL : 0x4000000ULL))
        gen_die("--pages too large for this architecture");

    switch (o.kind) {
    case GK_TRIAGE64:
    case GK_TRIAGE32: gen_triage(&o); break;
    case GK_MDMP: gen_mdmp(&o); break;
    default: gen_kernel(&o); break;
    }
    return 0;
}
