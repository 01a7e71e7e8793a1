/* test_isf.c: the ISF reader (src/sym/isf.c) against independent readings of the same files.
 * - Every table in corpus/isf/windows/ntkrnlmp.pdb: it opens; its identity equals the file
 *   name's GUID-age; every user type's size and kind, every field's offset, kind, bit
 *   position/length and array count, every enum's size and constants, and the RVAs of
 *   PsLoadedModuleList, PsActiveProcessHead and KdDebuggerDataBlock equal what Python's json
 *   module reads from the same file (xz -dc | python3, run now: nothing hard-coded).
 * - The 19041 table with nt's base from the triage dump's driver list reproduces the dump
 *   header's PsLoadedModuleList, PsActiveProcessHead and KdDebuggerDataBlock (read from the
 *   dump through ntkd_open).
 * - Small tables written here: base type names as dt prints them, field order, interning
 *   of derived types, the dt spelling of types, nearest-symbol lookups, plain and xz input.
 * - Broken input (truncated xz, bad JSON, wrong member types, bad bitfields, nesting bombs)
 *   fails with a message naming the file. */
#include <dirent.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <cmocka.h>

#include "dump/dump.h"
#include "type/type.h"

#define ISF_DIR NTKD_CORPUS "/isf/windows/ntkrnlmp.pdb"
#define ISF_19041 ISF_DIR "/5278AFF86C341677D7D7835C85B7B844-1.json.xz"
#define TRIAGE NTKD_CORPUS "/dumps/kernel/triage-x64-19041.dmp"

/* The oracle: Python's json module over the decompressed file, one fact per line. */
static const char ORACLE_PY[] =
    "import json,sys\n"
    "d=json.load(sys.stdin)\n"
    "m=d['metadata']['windows']['pdb']\n"
    "print('M',m['GUID'],m['age'])\n"
    "for n,t in d['user_types'].items():\n"
    "  print('T',n,t['size'],t['kind'])\n"
    "  for f,v in t.get('fields',{}).items():\n"
    "    ty=v['type']; k=ty['kind']; extra=''\n"
    "    if k=='bitfield': extra=' %d %d'%(ty['bit_position'],ty['bit_length'])\n"
    "    if k=='array': extra=' %d'%ty['count']\n"
    "    if k=='base' and ty.get('name')=='void': k='void'\n"
    "    print('F',n,f,v['offset'],k+extra)\n"
    "for n,e in d['enums'].items():\n"
    "  print('E',n,e['size'],len(e['constants']),sum(e['constants'].values()))\n"
    "for s in ('PsLoadedModuleList','PsActiveProcessHead','KdDebuggerDataBlock'):\n"
    "  print('S',s,d['symbols'][s]['address'])\n"
    "print('N',len(d['symbols']))\n";

static const char *kind_name(nk_tkind k)
{
    switch (k) {
    case NK_TK_VOID: return "void";
    case NK_TK_BASE: return "base";
    case NK_TK_POINTER: return "pointer";
    case NK_TK_ARRAY: return "array";
    case NK_TK_STRUCT: return "struct";
    case NK_TK_UNION: return "union";
    case NK_TK_ENUM: return "enum";
    case NK_TK_BITFIELD: return "bitfield";
    case NK_TK_FUNCTION: return "function";
    default: return "unknown";
    }
}

static bool find_field(nk_typesrc *s, uint64_t id, const char *name, nk_tfield *out)
{
    for (size_t i = 0; s->ops->field(s, id, i, out); i++)
        if (strcmp(out->name, name) == 0) return true;
    return false;
}

static void check_table(const char *path, const char *fname)
{
    ntkd_ctx *ctx = ntkd_ctx_new();
    nk_isf *x = NULL;
    nk_status st = nk_isf_open(ctx, path, &x);
    if (st != NTKD_OK) fail_msg("%s: %s", fname, ntkd_ctx_error(ctx));
    nk_typesrc *s = nk_isf_types(x);
    assert_non_null(s);
    assert_int_equal(s->ptr_size, 8);

    /* identity from the metadata equals the file name (GUID-AGE.json.xz) */
    char guid[33];
    uint32_t age;
    assert_true(nk_isf_identity(x, guid, &age));
    char want[64];
    snprintf(want, sizeof want, "%s-%u.json.xz", guid, age);
    assert_string_equal(want, fname);

    char cmd[1400];
    snprintf(cmd, sizeof cmd, "xz -dc '%s' | python3 -c \"$NTKD_ORACLE\"", path);
    setenv("NTKD_ORACLE", ORACLE_PY, 1);
    FILE *f = popen(cmd, "r");
    assert_non_null(f);
    char line[4096];
    size_t ntypes = 0, nfields = 0, nenums = 0, nsyms_checked = 0;
    bool seen_ep = false, seen_kt = false, seen_le = false, seen_meta = false;
    while (fgets(line, sizeof line, f)) {
        line[strcspn(line, "\n")] = 0;
        char tag = line[0];
        if (tag == 'M') {
            char g[64];
            unsigned a;
            assert_int_equal(sscanf(line, "M %63s %u", g, &a), 2);
            assert_string_equal(g, guid);
            assert_int_equal(a, age);
            seen_meta = true;
        } else if (tag == 'T') {
            char name[1024], kind[32];
            unsigned long long size;
            assert_int_equal(sscanf(line, "T %1023s %llu %31s", name, &size, kind), 3);
            uint64_t id;
            if (!nk_type_find(s, name, &id)) fail_msg("%s: type %s not found", fname, name);
            nk_tinfo ti;
            assert_true(nk_type_info(s, id, &ti));
            if (ti.size != size) fail_msg("%s: %s size 0x%llx, oracle 0x%llx", fname, name, (unsigned long long)ti.size, size);
            assert_string_equal(kind_name(ti.kind), strcmp(kind, "class") == 0 ? "struct" : kind);
            if (strcmp(name, "_EPROCESS") == 0) seen_ep = true;
            if (strcmp(name, "_KTHREAD") == 0) seen_kt = true;
            if (strcmp(name, "_LIST_ENTRY") == 0) {
                seen_le = true;
                assert_int_equal(ti.size, 16);
            }
            ntypes++;
        } else if (tag == 'F') {
            char tname[1024], fld[512], kind[32];
            unsigned long long off;
            unsigned a1 = 0, a2 = 0;
            int n = sscanf(line, "F %1023s %511s %llu %31s %u %u", tname, fld, &off, kind, &a1, &a2);
            assert_true(n >= 4);
            uint64_t id;
            assert_true(nk_type_find(s, tname, &id));
            nk_tfield tf;
            if (!find_field(s, id, fld, &tf)) fail_msg("%s: %s.%s missing", fname, tname, fld);
            if (tf.offset != off) fail_msg("%s: %s.%s at 0x%llx, oracle 0x%llx", fname, tname, fld, (unsigned long long)tf.offset, off);
            nk_tinfo ft;
            assert_true(nk_type_info(s, tf.type, &ft));
            const char *k = kind_name(ft.kind);
            if (strcmp(kind, "class") == 0) assert_string_equal(k, "struct");
            else if (strcmp(k, kind) != 0) fail_msg("%s: %s.%s kind %s, oracle %s", fname, tname, fld, k, kind);
            if (strcmp(kind, "bitfield") == 0) {
                assert_true(tf.is_bitfield);
                assert_int_equal(tf.bit_pos, a1);
                assert_int_equal(tf.bit_len, a2);
                assert_int_equal(ft.bit_pos, a1);
                assert_int_equal(ft.bit_len, a2);
            }
            if (strcmp(kind, "array") == 0) assert_int_equal(ft.count, a1);
            nfields++;
        } else if (tag == 'E') {
            char name[1024];
            unsigned long long size, ncon;
            long long sum;
            assert_int_equal(sscanf(line, "E %1023s %llu %llu %lld", name, &size, &ncon, &sum), 4);
            uint64_t id;
            if (!nk_type_find(s, name, &id)) fail_msg("%s: enum %s not found", fname, name);
            nk_tinfo ti;
            assert_true(nk_type_info(s, id, &ti));
            assert_int_equal(ti.kind, NK_TK_ENUM);
            assert_int_equal(ti.size, size);
            const char *en;
            int64_t v, mysum = 0;
            size_t i = 0;
            for (; s->ops->enumerator(s, id, i, &en, &v); i++) mysum += v;
            assert_int_equal(i, ncon);
            assert_int_equal(mysum, sum);
            nenums++;
        } else if (tag == 'S') {
            char name[256];
            unsigned long long addr;
            assert_int_equal(sscanf(line, "S %255s %llu", name, &addr), 2);
            uint64_t rva = 0;
            assert_true(nk_isf_symbol(x, name, &rva));
            assert_int_equal(rva, addr);
            const char *nm;
            uint64_t srva;
            assert_true(nk_isf_symbol_by_rva(x, addr, &nm, &srva));
            assert_int_equal(srva, addr);
            nsyms_checked++;
        }
    }
    assert_int_equal(pclose(f), 0);
    assert_true(seen_meta && seen_ep && seen_kt && seen_le);
    /* the smallest table (Windows 7) has 899 types, 7,534 fields, 118 enums */
    assert_true(ntypes > 800);
    assert_true(nfields > 7000);
    assert_true(nenums > 100);
    assert_int_equal(nsyms_checked, 3);
    nk_isf_close(x);
    ntkd_ctx_free(ctx);
}

static void test_every_table(void **state)
{
    (void)state;
    DIR *d = opendir(ISF_DIR);
    assert_non_null(d);
    struct dirent *e;
    int n = 0;
    while ((e = readdir(d))) {
        size_t l = strlen(e->d_name);
        if (l < 9 || strcmp(e->d_name + l - 8, ".json.xz") != 0) continue;
        char path[1200];
        snprintf(path, sizeof path, "%s/%.255s", ISF_DIR, e->d_name);
        check_table(path, e->d_name);
        n++;
    }
    closedir(d);
    assert_int_equal(n, 8);
}

/* The 19041 table with nt's base from the triage dump reproduces the header's addresses. */
static void test_triage_match(void **state)
{
    (void)state;
    ntkd_ctx *ctx = ntkd_ctx_new();
    ntkd_target *t;
    assert_int_equal(ntkd_open(ctx, TRIAGE, NULL, &t), NTKD_OK);
    uint64_t nt = 0;
    for (size_t i = 0; i < t->d.nmodules; i++)
        if (t->d.modules[i].name && strcasecmp(t->d.modules[i].name, "ntoskrnl.exe") == 0) nt = t->d.modules[i].base;
    assert_true(nt != 0);
    nk_isf *x;
    assert_int_equal(nk_isf_open(ctx, ISF_19041, &x), NTKD_OK);
    uint64_t a, b, c;
    assert_true(nk_isf_symbol(x, "PsLoadedModuleList", &a));
    assert_true(nk_isf_symbol(x, "PsActiveProcessHead", &b));
    assert_true(nk_isf_symbol(x, "KdDebuggerDataBlock", &c));
    assert_true(t->d.ps_loaded_module_list != 0);
    assert_int_equal(nt + a, t->d.ps_loaded_module_list);
    assert_int_equal(nt + b, t->d.ps_active_process_head);
    assert_int_equal(nt + c, t->d.kd_debugger_data_block);
    /* and the other tables do not */
    nk_isf *y;
    assert_int_equal(nk_isf_open(ctx, ISF_DIR "/8B11040A5928757B11390AC78F6B6925-1.json.xz", &y), NTKD_OK);
    assert_true(nk_isf_symbol(y, "PsLoadedModuleList", &a));
    assert_true(nt + a != t->d.ps_loaded_module_list);
    nk_isf_close(y);
    nk_isf_close(x);
    ntkd_close(t);
    ntkd_ctx_free(ctx);
}

/* ---- small tables ------------------------------------------------------------------------ */

static const char SMALL[] =
    "{\"metadata\":{\"format\":\"6.1.0\",\"windows\":{\"pdb\":{\"GUID\":\"00112233445566778899aabbccddeeff\",\"age\":3,\"machine_type\":34404}}},\n"
    " \"base_types\":{\"unsigned long\":{\"kind\":\"int\",\"size\":4,\"signed\":false,\"endian\":\"little\"},\n"
    "   \"unsigned char\":{\"kind\":\"char\",\"size\":1,\"signed\":false,\"endian\":\"little\"},\n"
    "   \"long long\":{\"kind\":\"int\",\"size\":8,\"signed\":true,\"endian\":\"little\"},\n"
    "   \"wchar\":{\"kind\":\"int\",\"size\":2,\"signed\":true,\"endian\":\"little\"},\n"
    "   \"void\":{\"kind\":\"void\",\"size\":0,\"signed\":true,\"endian\":\"little\"},\n"
    "   \"pointer\":{\"kind\":\"int\",\"size\":8,\"signed\":false,\"endian\":\"little\"}},\n"
    " \"user_types\":{\n"
    "   \"_LIST_ENTRY\":{\"kind\":\"struct\",\"size\":16,\"fields\":{\n"
    "      \"Blink\":{\"offset\":8,\"type\":{\"kind\":\"pointer\",\"subtype\":{\"kind\":\"struct\",\"name\":\"_LIST_ENTRY\"}}},\n"
    "      \"Flink\":{\"offset\":0,\"type\":{\"kind\":\"pointer\",\"subtype\":{\"kind\":\"struct\",\"name\":\"_LIST_ENTRY\"}}}}},\n"
    "   \"_X\":{\"kind\":\"struct\",\"size\":64,\"fields\":{\n"
    "      \"All\":{\"offset\":0,\"type\":{\"kind\":\"base\",\"name\":\"unsigned long\"}},\n"
    "      \"Hi\":{\"offset\":0,\"type\":{\"kind\":\"bitfield\",\"bit_position\":4,\"bit_length\":28,\"type\":{\"kind\":\"base\",\"name\":\"unsigned long\"}}},\n"
    "      \"Lo\":{\"offset\":0,\"type\":{\"kind\":\"bitfield\",\"bit_position\":0,\"bit_length\":1,\"type\":{\"kind\":\"base\",\"name\":\"unsigned long\"}}},\n"
    "      \"Links\":{\"offset\":8,\"type\":{\"kind\":\"struct\",\"name\":\"_LIST_ENTRY\"}},\n"
    "      \"Name\":{\"offset\":24,\"type\":{\"kind\":\"array\",\"count\":16,\"subtype\":{\"kind\":\"base\",\"name\":\"unsigned char\"}}},\n"
    "      \"Routine\":{\"offset\":40,\"type\":{\"kind\":\"pointer\",\"subtype\":{\"kind\":\"function\"}}},\n"
    "      \"Ctx\":{\"offset\":48,\"type\":{\"kind\":\"pointer\",\"subtype\":{\"kind\":\"base\",\"name\":\"void\"}}},\n"
    "      \"Mode\":{\"offset\":56,\"type\":{\"kind\":\"enum\",\"name\":\"_MODE\"}},\n"
    "      \"U\":{\"offset\":60,\"type\":{\"kind\":\"union\",\"name\":\"__anonymous_12\"}},\n"
    "      \"Fwd\":{\"offset\":48,\"type\":{\"kind\":\"pointer\",\"subtype\":{\"kind\":\"struct\",\"name\":\"_NOT_DEFINED\"}}}}},\n"
    "   \"__anonymous_12\":{\"kind\":\"union\",\"size\":4,\"fields\":{\"W\":{\"offset\":0,\"type\":{\"kind\":\"base\",\"name\":\"wchar\"}}}}},\n"
    " \"enums\":{\"_MODE\":{\"base\":\"unsigned long\",\"size\":4,\"constants\":{\"UserMode\":1,\"KernelMode\":0,\"MaximumMode\":2}}},\n"
    " \"symbols\":{\"Alpha\":{\"address\":4096},\"Beta\":{\"address\":8192},\"alpha\":{\"address\":12288},\"Gamma\":{\"address\":8192}}}\n";

static nk_isf *open_small(ntkd_ctx *ctx, const char *text)
{
    nk_isf *x = NULL;
    nk_status st = nk_isf_open_mem(ctx, "small.json", text, strlen(text), &x);
    if (st != NTKD_OK) fail_msg("small: %s", ntkd_ctx_error(ctx));
    return x;
}

static void test_small_table(void **state)
{
    (void)state;
    ntkd_ctx *ctx = ntkd_ctx_new();
    nk_isf *x = open_small(ctx, SMALL);
    nk_typesrc *s = nk_isf_types(x);
    char g[33];
    uint32_t age;
    assert_true(nk_isf_identity(x, g, &age));
    assert_string_equal(g, "00112233445566778899AABBCCDDEEFF");
    assert_int_equal(age, 3);
    assert_string_equal(s->origin, "ISF small.json");

    uint64_t id, le;
    assert_true(nk_type_find(s, "_X", &id));
    assert_true(nk_type_find(s, "_list_entry", &le)); /* case-insensitive */
    nk_tinfo ti;
    assert_true(nk_type_info(s, le, &ti));
    assert_string_equal(ti.name, "_LIST_ENTRY");
    /* a name only referenced (never defined) is no type of its own */
    uint64_t nd;
    assert_false(nk_type_find(s, "_NOT_DEFINED", &nd));

    /* fields by offset, whole members before bitfields, bitfields by position */
    static const char *order[] = {"All", "Lo", "Hi", "Links", "Name", "Routine", "Ctx", "Fwd", "Mode", "U"};
    static const char *desc[] = {"Uint4B", "Pos 0, 1 Bit", "Pos 4, 28 Bits", "_LIST_ENTRY", "[16] UChar",
                                 "Ptr64     void ", "Ptr64 Void", "Ptr64 _NOT_DEFINED", "_MODE", "<unnamed-tag>"};
    nk_tfield f;
    char buf[128];
    size_t i = 0;
    for (; s->ops->field(s, id, i, &f); i++) {
        assert_true(i < 10);
        assert_string_equal(f.name, order[i]);
        assert_string_equal(nk_type_describe(s, f.type, buf, sizeof buf), desc[i]);
    }
    assert_int_equal(i, 10);

    /* derived types are interned: both pointers to _LIST_ENTRY are one id */
    nk_tfield fl, bl;
    assert_true(nk_type_find(s, "_LIST_ENTRY", &le));
    assert_true(nk_type_field(s, le, "Flink", &fl));
    assert_true(nk_type_field(s, le, "Blink", &bl));
    assert_int_equal(fl.type, bl.type);
    assert_string_equal(nk_type_describe(s, fl.type, buf, sizeof buf), "Ptr64 _LIST_ENTRY");
    nk_tinfo pt;
    assert_true(nk_type_info(s, fl.type, &pt));
    assert_int_equal(pt.kind, NK_TK_POINTER);
    assert_int_equal(pt.size, 8);
    assert_int_equal(pt.target, le);

    /* paths add offsets; arrays take decimal subscripts */
    assert_true(nk_type_field(s, id, "Links.Blink", &f));
    assert_int_equal(f.offset, 16);
    assert_true(nk_type_field(s, id, "Name[3]", &f));
    assert_int_equal(f.offset, 27);
    assert_true(nk_type_field(s, id, "U.W", &f));
    assert_int_equal(f.offset, 60);
    assert_true(nk_type_field(s, id, "hi", &f)); /* case-insensitive */
    assert_true(f.is_bitfield);
    assert_int_equal(f.bit_pos, 4);
    assert_int_equal(f.bit_len, 28);
    assert_false(nk_type_field(s, id, "Links.Nope", &f));
    assert_false(nk_type_field(s, id, "Name[16]", &f));
    assert_false(nk_type_field(s, id, "Ctx.X", &f));

    /* base types as dt names them */
    assert_true(nk_type_find(s, "Uint4B", &id));
    assert_true(nk_type_info(s, id, &ti));
    assert_int_equal(ti.kind, NK_TK_BASE);
    assert_string_equal(ti.c_name, "unsigned long");
    assert_true(nk_type_find(s, "long long", &id));
    assert_string_equal(nk_type_describe(s, id, buf, sizeof buf), "Int8B");
    assert_true(nk_type_find(s, "wchar", &id));
    assert_true(nk_type_info(s, id, &ti));
    assert_true(ti.is_char);
    assert_string_equal(ti.name, "Wchar");

    /* enums: by value, with the underlying type */
    assert_true(nk_type_find(s, "_MODE", &id));
    const char *en;
    int64_t v;
    assert_true(s->ops->enumerator(s, id, 0, &en, &v));
    assert_string_equal(en, "KernelMode");
    assert_int_equal(v, 0);
    assert_true(s->ops->enumerator(s, id, 2, &en, &v));
    assert_string_equal(en, "MaximumMode");
    assert_false(s->ops->enumerator(s, id, 3, &en, &v));

    /* symbols: exact spelling first, then any case; nearest at or below */
    uint64_t rva;
    assert_true(nk_isf_symbol(x, "alpha", &rva));
    assert_int_equal(rva, 12288);
    assert_true(nk_isf_symbol(x, "Alpha", &rva));
    assert_int_equal(rva, 4096);
    assert_true(nk_isf_symbol(x, "GAMMA", &rva));
    assert_int_equal(rva, 8192);
    assert_false(nk_isf_symbol(x, "Delta", &rva));
    const char *nm;
    assert_false(nk_isf_symbol_by_rva(x, 4095, &nm, &rva));
    assert_true(nk_isf_symbol_by_rva(x, 4096, &nm, &rva));
    assert_string_equal(nm, "Alpha");
    assert_true(nk_isf_symbol_by_rva(x, 0x2fff, &nm, &rva));
    assert_int_equal(rva, 8192);
    assert_true(strcmp(nm, "Beta") == 0 || strcmp(nm, "Gamma") == 0);
    assert_true(nk_isf_symbol_by_rva(x, 1u << 30, &nm, &rva));
    assert_int_equal(rva, 12288);

    nk_isf_close(x);
    ntkd_ctx_free(ctx);
}

typedef struct names {
    char list[16][64];
    size_t n;
} names;

static bool collect(void *u, const char *name, uint64_t id)
{
    (void)id;
    names *nl = u;
    if (nl->n < 16) snprintf(nl->list[nl->n++], 64, "%s", name);
    return true;
}

static void test_each_name(void **state)
{
    (void)state;
    ntkd_ctx *ctx = ntkd_ctx_new();
    nk_isf *x = open_small(ctx, SMALL);
    nk_typesrc *s = nk_isf_types(x);
    names nl = {0};
    s->ops->each_name(s, "_*", collect, &nl);
    /* named structs and enums; anonymous types and forward placeholders are not listed */
    assert_int_equal(nl.n, 3);
    bool le = false, xx = false, mode = false;
    for (size_t i = 0; i < nl.n; i++) {
        le |= strcmp(nl.list[i], "_LIST_ENTRY") == 0;
        xx |= strcmp(nl.list[i], "_X") == 0;
        mode |= strcmp(nl.list[i], "_MODE") == 0;
    }
    assert_true(le && xx && mode);
    memset(&nl, 0, sizeof nl);
    s->ops->each_name(s, "_l?st*", collect, &nl);
    assert_int_equal(nl.n, 1);
    assert_true(nk_type_wildcard("_KP*", "_kprcb"));
    assert_true(nk_type_wildcard("*", ""));
    assert_true(nk_type_wildcard("a*b*c", "aXXbYYc"));
    assert_false(nk_type_wildcard("a*b*c", "aXXbYY"));
    assert_false(nk_type_wildcard("?", ""));
    nk_isf_close(x);
    ntkd_ctx_free(ctx);
}

/* The same table through xz (made by the xz tool) reads the same. */
static void test_xz_roundtrip(void **state)
{
    (void)state;
    char dir[] = "/tmp/ntkd-isf-XXXXXX";
    assert_non_null(mkdtemp(dir));
    char jp[256], xp[256], cmd[700];
    snprintf(jp, sizeof jp, "%s/t.json", dir);
    snprintf(xp, sizeof xp, "%s/t.json.xz", dir);
    FILE *f = fopen(jp, "w");
    assert_non_null(f);
    fputs(SMALL, f);
    fclose(f);
    snprintf(cmd, sizeof cmd, "xz -k -c '%s' > '%s'", jp, xp);
    assert_int_equal(system(cmd), 0);
    ntkd_ctx *ctx = ntkd_ctx_new();
    nk_isf *a, *b;
    assert_int_equal(nk_isf_open(ctx, jp, &a), NTKD_OK);
    assert_int_equal(nk_isf_open(ctx, xp, &b), NTKD_OK);
    uint64_t ia, ib;
    assert_true(nk_type_find(nk_isf_types(a), "_X", &ia));
    assert_true(nk_type_find(nk_isf_types(b), "_X", &ib));
    nk_tfield fa, fb;
    assert_true(nk_type_field(nk_isf_types(a), ia, "Routine", &fa));
    assert_true(nk_type_field(nk_isf_types(b), ib, "Routine", &fb));
    assert_int_equal(fa.offset, fb.offset);
    assert_string_equal(nk_isf_types(b)->origin, "ISF t.json.xz");
    nk_isf_close(a);
    nk_isf_close(b);

    /* a truncated xz stream */
    FILE *in = fopen(xp, "rb");
    assert_non_null(in);
    uint8_t data[8192];
    size_t n = fread(data, 1, sizeof data, in);
    fclose(in);
    assert_true(n > 100);
    nk_isf *c = NULL;
    nk_status st = nk_isf_open_mem(ctx, "cut.json.xz", data, n / 2, &c);
    assert_int_equal(st, NTKD_E_TRUNCATED);
    assert_null(c);
    assert_non_null(strstr(ntkd_ctx_error(ctx), "cut.json.xz"));
    /* a flipped byte inside the compressed data */
    data[n / 2] ^= 0x55;
    st = nk_isf_open_mem(ctx, "bad.json.xz", data, n, &c);
    assert_int_not_equal(st, NTKD_OK);
    assert_non_null(strstr(ntkd_ctx_error(ctx), "bad.json.xz"));
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
    assert_int_equal(system(cmd), 0);
    ntkd_ctx_free(ctx);
}

static void expect_fail(ntkd_ctx *ctx, const char *text, const char *needle)
{
    nk_isf *x = NULL;
    nk_status st = nk_isf_open_mem(ctx, "broken.json", text, strlen(text), &x);
    if (st == NTKD_OK) fail_msg("accepted: %s", text);
    assert_null(x);
    const char *msg = ntkd_ctx_error(ctx);
    if (!strstr(msg, "broken.json") || (needle && !strstr(msg, needle)))
        fail_msg("message '%s' lacks '%s'", msg, needle ? needle : "broken.json");
}

static void test_broken(void **state)
{
    (void)state;
    ntkd_ctx *ctx = ntkd_ctx_new();
    const char *M = "\"metadata\":{\"format\":\"6.1.0\"}";
    char buf[8192];
    expect_fail(ctx, "", "not a JSON symbol table");
    expect_fail(ctx, "[1,2,3]", "not a JSON symbol table");
    expect_fail(ctx, "{\"metadata\":{}, \"user_types\":{", "ends inside");
    expect_fail(ctx, "{\"metadata\":{}, \"user_types\":{}} trailing", "after the JSON");
    expect_fail(ctx, "{\"a\":1}", "not a symbol table");
    snprintf(buf, sizeof buf, "{%s,\"user_types\":[]}", M);
    expect_fail(ctx, buf, "user_types is not an object");
    snprintf(buf, sizeof buf, "{%s,\"user_types\":{\"A\":{\"kind\":\"struct\"}}}", M);
    expect_fail(ctx, buf, "user_types.A");
    snprintf(buf, sizeof buf, "{%s,\"user_types\":{\"A\":{\"kind\":\"struct\",\"size\":4,\"fields\":{\"f\":{\"type\":{\"kind\":\"base\",\"name\":\"int\"}}}}}}", M);
    expect_fail(ctx, buf, "user_types.A.fields.f");
    snprintf(buf, sizeof buf, "{%s,\"user_types\":{\"A\":{\"kind\":\"struct\",\"size\":4,\"fields\":{\"f\":{\"offset\":-4,\"type\":{\"kind\":\"base\",\"name\":\"int\"}}}}}}", M);
    expect_fail(ctx, buf, "bad offset");
    snprintf(buf, sizeof buf, "{%s,\"user_types\":{\"A\":{\"kind\":\"struct\",\"size\":4,\"fields\":{\"f\":{\"offset\":0,\"type\":{\"kind\":\"bitfield\",\"bit_position\":0,\"bit_length\":0,\"type\":{\"kind\":\"base\",\"name\":\"int\"}}}}}}}", M);
    expect_fail(ctx, buf, "bitfield");
    /* a bit position past any integer (json-c saturates it at INT64_MAX; found by fuzzing) */
    snprintf(buf, sizeof buf, "{%s,\"user_types\":{\"A\":{\"kind\":\"struct\",\"size\":4,\"fields\":{\"f\":{\"offset\":0,\"type\":{\"kind\":\"bitfield\",\"bit_position\":22222222222222222222222222223,\"bit_length\":5,\"type\":{\"kind\":\"base\",\"name\":\"int\"}}}}}}}", M);
    expect_fail(ctx, buf, "bitfield without a valid bit_position");
    snprintf(buf, sizeof buf, "{%s,\"user_types\":{\"A\":{\"kind\":\"struct\",\"size\":4,\"fields\":{\"f\":{\"offset\":0,\"type\":{\"kind\":\"array\",\"count\":-1,\"subtype\":{\"kind\":\"base\",\"name\":\"int\"}}}}}}}", M);
    expect_fail(ctx, buf, "count");
    snprintf(buf, sizeof buf, "{%s,\"user_types\":{\"A\":{\"kind\":\"struct\",\"size\":4,\"fields\":{\"f\":{\"offset\":0,\"type\":{\"kind\":\"pointer\"}}}}}}", M);
    expect_fail(ctx, buf, "not an object");
    snprintf(buf, sizeof buf, "{%s,\"base_types\":{\"int\":{\"kind\":\"int\",\"size\":\"4\"}}}", M);
    expect_fail(ctx, buf, "base_types.int");
    snprintf(buf, sizeof buf, "{%s,\"enums\":{\"E\":{\"base\":\"int\",\"size\":4,\"constants\":{\"A\":\"x\"}}}}", M);
    expect_fail(ctx, buf, "enums.E.constants.A");
    snprintf(buf, sizeof buf, "{%s,\"symbols\":{\"s\":{\"address\":-1}}}", M);
    expect_fail(ctx, buf, "symbols.s");
    /* descriptors nested far deeper than any table needs */
    size_t n = (size_t)snprintf(buf, sizeof buf, "{%s,\"user_types\":{\"A\":{\"kind\":\"struct\",\"size\":4,\"fields\":{\"f\":{\"offset\":0,\"type\":", M);
    for (int i = 0; i < 100; i++) n += (size_t)snprintf(buf + n, sizeof buf - n, "{\"kind\":\"pointer\",\"subtype\":");
    n += (size_t)snprintf(buf + n, sizeof buf - n, "{\"kind\":\"base\",\"name\":\"int\"}");
    for (int i = 0; i < 100; i++) n += (size_t)snprintf(buf + n, sizeof buf - n, "}");
    snprintf(buf + n, sizeof buf - n, "}}}}}");
    expect_fail(ctx, buf, NULL);
    /* an unknown descriptor kind and an undefined base are kept as unknown types */
    snprintf(buf, sizeof buf, "{%s,\"user_types\":{\"A\":{\"kind\":\"struct\",\"size\":4,\"fields\":{\"f\":{\"offset\":0,\"type\":{\"kind\":\"mystery\"}},\"g\":{\"offset\":0,\"type\":{\"kind\":\"base\",\"name\":\"int\"}}}}}}", M);
    nk_isf *x = open_small(ctx, buf);
    nk_typesrc *s = nk_isf_types(x);
    uint64_t id;
    nk_tfield f;
    nk_tinfo ti;
    assert_true(nk_type_find(s, "A", &id));
    assert_true(nk_type_field(s, id, "f", &f));
    assert_true(nk_type_info(s, f.type, &ti));
    assert_int_equal(ti.kind, NK_TK_UNKNOWN);
    assert_true(nk_type_field(s, id, "g", &f));
    assert_true(nk_type_info(s, f.type, &ti));
    assert_int_equal(ti.kind, NK_TK_UNKNOWN);
    assert_string_equal(ti.name, "int");
    assert_false(nk_isf_identity(x, (char[33]){0}, &(uint32_t){0}));
    nk_isf_close(x);
    ntkd_ctx_free(ctx);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_small_table),
        cmocka_unit_test(test_each_name),
        cmocka_unit_test(test_xz_roundtrip),
        cmocka_unit_test(test_broken),
        cmocka_unit_test(test_triage_match),
        cmocka_unit_test(test_every_table),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
