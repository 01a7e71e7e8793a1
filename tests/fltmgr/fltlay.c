/* fltlay.c: build-time helper for the stand-in filter-manager symbols (test-only).
 *
 *   fltlay DLL PDB OUT.json SYMDIR
 *
 * Reads the stand-in image built by clang-cl/lld-link from fltmgr_standin.c (its CodeView RSDS
 * record: the PDB's GUID and age; its export table: the RVA of FltGlobals and the FltpLayout
 * table), writes OUT.json, an ISF-shaped table (metadata.windows.pdb GUID/age, base_types,
 * user_types, symbols) of the stand-in structures, and copies the PDB into the symbol-store
 * shape SYMDIR/fltmgr.pdb/<GUID><age>/fltmgr.pdb where ntkd finds it by identity.
 * Offsets and sizes: for the x64 image, computed here with offsetof()/sizeof over the same
 * header (fltmgr_standin.h: fixed-size fields only, so the host's x86_64 layout is the Windows
 * x64 one), and checked against the table the image's compiler wrote (FltpLayout); for the x86
 * image, that table (the host cannot compute a 32-bit layout). The PDB itself is never read.
 * The scene generator reads OUT.json (tests/gen/scene/fltmgr.c). */
#include <errno.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "fltmgr_standin.h"

_Static_assert(sizeof(void *) == 8, "fltlay computes the x64 stand-in layout: build it for a 64-bit host");
_Static_assert(sizeof(FLT_OBJECT) == 0x20, "_FLT_OBJECT");
_Static_assert(sizeof(FLT_RESOURCE_LIST_HEAD) == 0x80, "_FLT_RESOURCE_LIST_HEAD");
_Static_assert(offsetof(FLT_VOLUME, InstanceList) == 0x90, "_FLT_VOLUME.InstanceList as seed 004 shows");
_Static_assert(offsetof(FLT_VOLUME, Callbacks) == 0x110, "_FLT_VOLUME.Callbacks as seed 004 shows");
_Static_assert(offsetof(FLT_VOLUME, ContextLock) == 0x4f8, "_FLT_VOLUME.ContextLock as seed 004 shows");
_Static_assert(offsetof(FLT_VOLUME, StreamListCtrls) == 0x508, "_FLT_VOLUME.StreamListCtrls as seed 004 shows");
_Static_assert(offsetof(FLT_VOLUME, NameCacheCtrl) == 0x608, "_FLT_VOLUME.NameCacheCtrl as seed 004 shows");

static void die(const char *fmt, const char *a)
{
    fprintf(stderr, "fltlay: ");
    fprintf(stderr, fmt, a);
    fputc('\n', stderr);
    exit(1);
}

/* ------------------------------------------------------------------ the types */
typedef struct ent {
    int is_type;
    const char *name, *sub; /* sub: embedded struct's type name, or NULL (then: bytes) */
    size_t off, size;
} ent;

static ent ents[] = {
#define FT(N, T) {1, #N, NULL, 0, sizeof(T)},
#define FB(T, F) {0, #F, NULL, offsetof(T, F), sizeof(((T *)0)->F)},
#define FS(T, F, SUB) {0, #F, #SUB, offsetof(T, F), sizeof(((T *)0)->F)},
#include "fltmgr_fields.h"
#undef FT
#undef FB
#undef FS
};
#define NENTS (sizeof ents / sizeof ents[0])

/* ------------------------------------------------------------------ the image */
static uint8_t *slurp(const char *path, size_t *len)
{
    FILE *f = fopen(path, "rb");
    if (!f)
        die("cannot open %s", path);
    size_t cap = 1 << 16, n = 0;
    uint8_t *p = malloc(cap);
    size_t r;
    while (p && (r = fread(p + n, 1, cap - n, f)) > 0) {
        n += r;
        if (n == cap) {
            cap *= 2;
            p = realloc(p, cap);
        }
    }
    fclose(f);
    if (!p)
        die("out of memory reading %s", path);
    *len = n;
    return p;
}

static uint32_t rd32(const uint8_t *b, size_t len, size_t off)
{
    if (off > len || len - off < 4)
        die("%s: truncated image", "stand-in");
    uint32_t v;
    memcpy(&v, b + off, 4);
    return v;
}

/* File offset of an RVA through the section table. */
static size_t rva_off(const uint8_t *b, size_t len, size_t sect, unsigned nsect, uint32_t rva)
{
    for (unsigned i = 0; i < nsect; i++) {
        size_t s = sect + 40u * i;
        uint32_t vsz = rd32(b, len, s + 8), va = rd32(b, len, s + 12), raw = rd32(b, len, s + 16),
                 ptr = rd32(b, len, s + 20);
        uint32_t span = vsz > raw ? vsz : raw;
        if (rva >= va && rva < va + span)
            return (size_t)ptr + (rva - va);
    }
    die("%s: RVA outside every section", "stand-in");
    return 0;
}

int main(int argc, char **argv)
{
    if (argc != 5) {
        fprintf(stderr, "usage: fltlay DLL PDB OUT.json SYMDIR\n");
        return 2;
    }
    size_t len;
    uint8_t *b = slurp(argv[1], &len);
    if (len < 0x40 || b[0] != 'M' || b[1] != 'Z')
        die("%s: not a PE image", argv[1]);
    size_t pe = rd32(b, len, 0x3c);
    if (rd32(b, len, pe) != 0x4550)
        die("%s: no PE signature", argv[1]);
    unsigned nsect = (unsigned)(rd32(b, len, pe + 4) >> 16);
    unsigned ohsz = (unsigned)(rd32(b, len, pe + 20) & 0xffff);
    size_t oh = pe + 24;
    unsigned magic = rd32(b, len, oh) & 0xffff;
    if (magic != 0x20b && magic != 0x10b)
        die("%s: not a PE32 or PE32+ image", argv[1]);
    bool x86 = magic == 0x10b;
    unsigned ptr = x86 ? 4 : 8;
    size_t dd = oh + (x86 ? 96 : 112), sect = oh + ohsz;
    /* exports: FltGlobals */
    uint32_t erva = rd32(b, len, dd), dbgrva = rd32(b, len, dd + 6 * 8), dbgsz = rd32(b, len, dd + 6 * 8 + 4);
    if (!erva || !dbgrva)
        die("%s: no export or debug directory", argv[1]);
    size_t e = rva_off(b, len, sect, nsect, erva);
    uint32_t nnames = rd32(b, len, e + 24);
    size_t funcs = rva_off(b, len, sect, nsect, rd32(b, len, e + 28));
    size_t names = rva_off(b, len, sect, nsect, rd32(b, len, e + 32));
    size_t ords = rva_off(b, len, sect, nsect, rd32(b, len, e + 36));
    uint32_t globals_rva = 0, table_rva = 0;
    for (uint32_t i = 0; i < nnames && i < 64; i++) {
        size_t no = rva_off(b, len, sect, nsect, rd32(b, len, names + 4u * i));
        uint32_t ord = rd32(b, len, ords + 2u * i) & 0xffff;
        if (no + 11 <= len && !memcmp(b + no, "FltGlobals", 11))
            globals_rva = rd32(b, len, funcs + 4u * ord);
        if (no + 11 <= len && !memcmp(b + no, "FltpLayout", 11))
            table_rva = rd32(b, len, funcs + 4u * ord);
    }
    if (!globals_rva || !table_rva)
        die("%s: FltGlobals or FltpLayout is not exported", argv[1]);
    /* the image compiler's layout: check ours against it (x64) or take it (x86) */
    size_t tab = rva_off(b, len, sect, nsect, table_rva);
    for (size_t i = 0; i < NENTS; i++) {
        uint32_t a = rd32(b, len, tab + 8 * i), z = rd32(b, len, tab + 8 * i + 4);
        uint32_t want_a = (uint32_t)(ents[i].is_type ? ents[i].size : ents[i].off);
        uint32_t want_z = ents[i].is_type ? 0xffffffffu : (uint32_t)ents[i].size;
        if (x86) {
            if ((z == 0xffffffffu) != (ents[i].is_type != 0))
                die("%s: FltpLayout does not follow fltmgr_fields.h", argv[1]);
            if (ents[i].is_type)
                ents[i].size = a;
            else
                ents[i].off = a, ents[i].size = z;
        } else if (a != want_a || z != want_z) {
            fprintf(stderr, "fltlay: %s: entry %zu (%s): the image's compiler says %u/%u, offsetof here %u/%u\n",
                    argv[1], i, ents[i].name, a, z, want_a, want_z);
            exit(1);
        }
    }
    /* debug directory: the CodeView record */
    char guid[33] = "";
    uint32_t age = 0;
    size_t d = rva_off(b, len, sect, nsect, dbgrva);
    for (uint32_t i = 0; i < dbgsz / 28 && i < 16; i++) {
        size_t ent = d + 28u * i;
        if (rd32(b, len, ent + 12) != 2)
            continue;
        size_t cv = rd32(b, len, ent + 24);
        if (rd32(b, len, cv) != 0x53445352u) /* RSDS */
            continue;
        const uint8_t *g = b + cv + 4;
        if (cv + 24 > len)
            die("%s: truncated CodeView record", argv[1]);
        uint32_t d1;
        memcpy(&d1, g, 4);
        uint16_t d2 = (uint16_t)(g[4] | g[5] << 8), d3 = (uint16_t)(g[6] | g[7] << 8);
        snprintf(guid, sizeof guid, "%08X%04X%04X%02X%02X%02X%02X%02X%02X%02X%02X", d1, d2, d3, g[8],
                 g[9], g[10], g[11], g[12], g[13], g[14], g[15]);
        age = rd32(b, len, cv + 20);
    }
    if (!guid[0])
        die("%s: no RSDS record", argv[1]);
    free(b);

    /* the JSON table */
    FILE *o = fopen(argv[3], "w");
    if (!o)
        die("cannot write %s", argv[3]);
    fprintf(o, "{\n \"metadata\": {\"producer\": {\"name\": \"ntkd tests/fltmgr/fltlay.c\", "
               "\"note\": \"SYNTHETIC stand-in layout, not the real fltmgr\"},\n"
               "  \"windows\": {\"pdb\": {\"GUID\": \"%s\", \"age\": %u, \"database\": \"fltmgr.pdb\", "
               "\"machine_type\": %u}}},\n",
            guid, age, x86 ? 332u : 34404u);
    fprintf(o, " \"base_types\": {\"pointer\": {\"size\": %u, \"signed\": false, \"kind\": \"int\", "
               "\"endian\": \"little\"},\n  \"unsigned char\": {\"size\": 1, \"signed\": false, "
               "\"kind\": \"char\", \"endian\": \"little\"}},\n", ptr);
    fprintf(o, " \"enums\": {},\n \"symbols\": {\"FltGlobals\": {\"address\": %u}},\n", globals_rva);
    fprintf(o, " \"user_types\": {\n");
    for (size_t i = 0; i < NENTS;) {
        if (!ents[i].is_type)
            die("%s: fltmgr_fields.h starts with a field", "fltlay");
        fprintf(o, "%s  \"%s\": {\"kind\": \"struct\", \"size\": %zu, \"fields\": {\n", i ? ",\n" : "",
                ents[i].name, ents[i].size);
        size_t j = i + 1;
        for (; j < NENTS && !ents[j].is_type; j++) {
            const ent *f = &ents[j];
            if (f->sub)
                fprintf(o, "   \"%s\": {\"offset\": %zu, \"type\": {\"kind\": \"struct\", \"name\": \"%s\"}}",
                        f->name, f->off, f->sub);
            else
                fprintf(o, "   \"%s\": {\"offset\": %zu, \"type\": {\"kind\": \"array\", \"count\": %zu, "
                           "\"subtype\": {\"kind\": \"base\", \"name\": \"unsigned char\"}}}",
                        f->name, f->off, f->size);
            fprintf(o, "%s\n", j + 1 < NENTS && !ents[j + 1].is_type ? "," : "");
        }
        fprintf(o, "  }}");
        i = j;
    }
    fprintf(o, "\n");
    fprintf(o, " }\n}\n");
    if (fclose(o))
        die("error writing %s", argv[3]);

    /* the symbol store: SYMDIR/fltmgr.pdb/<GUID><age>/fltmgr.pdb */
    char dir[4096], path[4200];
    snprintf(dir, sizeof dir, "%s", argv[4]);
    mkdir(dir, 0755);
    snprintf(dir, sizeof dir, "%s/fltmgr.pdb", argv[4]);
    mkdir(dir, 0755);
    snprintf(dir, sizeof dir, "%s/fltmgr.pdb/%s%X", argv[4], guid, age);
    if (mkdir(dir, 0755) && errno != EEXIST)
        die("cannot create %s", dir);
    snprintf(path, sizeof path, "%s/fltmgr.pdb", dir);
    size_t plen;
    uint8_t *pdb = slurp(argv[2], &plen);
    FILE *p = fopen(path, "wb");
    if (!p || fwrite(pdb, 1, plen, p) != plen || fclose(p))
        die("cannot write %s", path);
    free(pdb);
    return 0;
}
