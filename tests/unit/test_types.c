/* test_types.c: the type layer (type.h) over its two kinds of source.
 * - Kernel types from ntdll.pdb (x64, 19041 family) through the PDB adapter equal the layouts
 *   of the 19041 ISF table of ntkrnlmp.pdb through the ISF reader, for the types both hold
 *   (_EPROCESS, _KTHREAD, _KPRCB, _IRP, _DEVICE_OBJECT and every other one): size, and for
 *   every field both hold its offset, bit position and length, the size of its type and the
 *   `dt` spelling of its type (except function pointers, whose return type ISF omits).
 * - Struct and union layouts of corpus PDBs through the PDB adapter equal llvm-pdbutil-14's
 *   `dump -types` (an independent reader): sizes, members in order, offsets, bitfields.
 * - The PDB adapter's `dt` spelling of every member equals the PDB reader's own
 *   (nk_pdb_type_name), simple types, pointer sizes, enums, field paths, case-insensitive
 *   lookups, wildcard listing. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <cmocka.h>

#include "pdb/pdb.h"
#include "type/type.h"

#define NTDLL NTKD_CORPUS "/symstore/ntdll.pdb/CCC0E36120F424BE044DE630C3BD80C43/ntdll.pdb"
#define WNTDLL NTKD_CORPUS "/symstore/wntdll.pdb/1C96EAD80971326D3967ED72C983E1643/wntdll.pdb"
#define ISF_19041 NTKD_CORPUS "/isf/windows/ntkrnlmp.pdb/5278AFF86C341677D7D7835C85B7B844-1.json.xz"
#define BASIC32 NTKD_CORPUS "/pdb-fixtures/dump_syms/basic32.pdb"
#define REGTEST64 NTKD_CORPUS "/pdb-fixtures/dump_syms/dump_syms_regtest64.pdb"

typedef struct names {
    char **v;
    size_t n, cap;
} names;

static bool collect(void *u, const char *name, uint64_t id)
{
    (void)id;
    names *nl = u;
    if (nl->n == nl->cap) {
        nl->cap = nl->cap ? nl->cap * 2 : 256;
        nl->v = realloc(nl->v, nl->cap * sizeof *nl->v);
    }
    nl->v[nl->n++] = strdup(name);
    return true;
}

static bool field_by_name(nk_typesrc *s, uint64_t id, const char *name, nk_tfield *out)
{
    for (size_t i = 0; s->ops->field(s, id, i, out); i++)
        if (strcmp(out->name, name) == 0) return true;
    return false;
}

/* ---- llvm-pdbutil-14 as an oracle --------------------------------------------------------- */

typedef struct lmember {
    char *name;
    uint32_t type;
    uint64_t offset;
} lmember;

typedef struct llist {
    uint32_t ti;
    lmember *m;
    size_t n, cap;
    bool continued;
} llist;

typedef struct ludt {
    uint32_t ti, fl;
    uint64_t size;
    bool forward;
    char *name;
} ludt;

typedef struct lbits {
    uint32_t ti;
    unsigned pos, len;
} lbits;

typedef struct oracle {
    llist *lists;
    size_t nlists, caplists;
    ludt *udts;
    size_t nudts, capudts;
    lbits *bits;
    size_t nbits, capbits;
} oracle;

static void *grow(void *p, size_t *cap, size_t n, size_t elem)
{
    if (n < *cap) return p;
    *cap = *cap ? *cap * 2 : 256;
    return realloc(p, *cap * elem);
}

static void read_oracle(const char *pdb, oracle *o)
{
    char cmd[1024];
    snprintf(cmd, sizeof cmd, "llvm-pdbutil-14 dump -types '%s'", pdb);
    FILE *f = popen(cmd, "r");
    assert_non_null(f);
    char line[8192];
    enum { NONE, UDT, LIST, BITS } cur = NONE;
    while (fgets(line, sizeof line, f)) {
        unsigned ti;
        char leaf[64];
        if (sscanf(line, " 0x%x | %63s", &ti, leaf) == 2 && strstr(line, " | LF_")) {
            cur = NONE;
            if (!strcmp(leaf, "LF_STRUCTURE") || !strcmp(leaf, "LF_CLASS") || !strcmp(leaf, "LF_UNION")) {
                o->udts = grow(o->udts, &o->capudts, o->nudts, sizeof *o->udts);
                ludt *u = &o->udts[o->nudts++];
                memset(u, 0, sizeof *u);
                u->ti = ti;
                const char *q = strchr(line, '`');
                const char *e = q ? strrchr(line, '`') : NULL;
                u->name = q && e > q ? strndup(q + 1, (size_t)(e - q - 1)) : strdup("");
                cur = UDT;
            } else if (!strcmp(leaf, "LF_FIELDLIST")) {
                o->lists = grow(o->lists, &o->caplists, o->nlists, sizeof *o->lists);
                llist *l = &o->lists[o->nlists++];
                memset(l, 0, sizeof *l);
                l->ti = ti;
                cur = LIST;
            } else if (!strcmp(leaf, "LF_BITFIELD")) {
                o->bits = grow(o->bits, &o->capbits, o->nbits, sizeof *o->bits);
                o->bits[o->nbits].ti = ti;
                o->nbits++;
                cur = BITS;
            }
            continue;
        }
        if (cur == UDT) {
            ludt *u = &o->udts[o->nudts - 1];
            const char *q = strstr(line, "field list: ");
            if (q) {
                unsigned fl = 0;
                if (sscanf(q, "field list: 0x%x", &fl) == 1) u->fl = fl;
            }
            if (strstr(line, "options:")) {
                if (strstr(line, "forward ref")) u->forward = true;
                const char *z = strstr(line, "sizeof ");
                if (z) u->size = strtoull(z + 7, NULL, 10);
            }
        } else if (cur == LIST) {
            llist *l = &o->lists[o->nlists - 1];
            if (strstr(line, "- LF_INDEX")) l->continued = true;
            const char *q = strstr(line, "- LF_MEMBER [name = `");
            if (!q) continue;
            q += strlen("- LF_MEMBER [name = `");
            const char *e = strstr(q, "`, Type = 0x");
            assert_non_null(e);
            unsigned type;
            unsigned long long off;
            const char *offp = strstr(e, "offset = ");
            assert_non_null(offp);
            assert_int_equal(sscanf(e, "`, Type = 0x%x", &type), 1);
            assert_int_equal(sscanf(offp, "offset = %llu", &off), 1);
            l->m = grow(l->m, &l->cap, l->n, sizeof *l->m);
            l->m[l->n].name = strndup(q, (size_t)(e - q));
            l->m[l->n].type = type;
            l->m[l->n].offset = off;
            l->n++;
        } else if (cur == BITS) {
            unsigned pos, len;
            const char *q = strstr(line, "bit offset = ");
            if (q && sscanf(q, "bit offset = %u, # bits = %u", &pos, &len) == 2) {
                o->bits[o->nbits - 1].pos = pos;
                o->bits[o->nbits - 1].len = len;
            }
        }
    }
    assert_int_equal(pclose(f), 0);
}

static void free_oracle(oracle *o)
{
    for (size_t i = 0; i < o->nlists; i++) {
        for (size_t j = 0; j < o->lists[i].n; j++) free(o->lists[i].m[j].name);
        free(o->lists[i].m);
    }
    for (size_t i = 0; i < o->nudts; i++) free(o->udts[i].name);
    free(o->lists);
    free(o->udts);
    free(o->bits);
}

static const llist *find_list(const oracle *o, uint32_t ti)
{
    for (size_t i = 0; i < o->nlists; i++)
        if (o->lists[i].ti == ti) return &o->lists[i];
    return NULL;
}

static const lbits *find_bits(const oracle *o, uint32_t ti)
{
    for (size_t i = 0; i < o->nbits; i++)
        if (o->bits[i].ti == ti) return &o->bits[i];
    return NULL;
}

static const ludt *oracle_udt(const oracle *o, const char *name)
{
    for (size_t i = 0; i < o->nudts; i++)
        if (!o->udts[i].forward && o->udts[i].fl && strcmp(o->udts[i].name, name) == 0) return &o->udts[i];
    return NULL;
}

static const lmember *oracle_member(const oracle *o, const ludt *u, const char *name)
{
    const llist *l = find_list(o, u->fl);
    for (size_t i = 0; l && i < l->n; i++)
        if (strcmp(l->m[i].name, name) == 0) return &l->m[i];
    return NULL;
}

static void check_against_llvm(const char *path, size_t min_udts)
{
    oracle o = {0};
    read_oracle(path, &o);
    ntkd_ctx *ctx = ntkd_ctx_new();
    nk_pdb *p;
    assert_int_equal(nk_pdb_open(ctx, path, &p), NTKD_OK);
    nk_typesrc *s;
    assert_int_equal(nk_typesrc_from_pdb(ctx, p, &s), NTKD_OK);
    size_t udts = 0, members = 0, bitfields = 0;
    for (size_t i = 0; i < o.nudts; i++) {
        const ludt *u = &o.udts[i];
        if (u->forward || !u->fl) continue;
        const llist *l = find_list(&o, u->fl);
        assert_non_null(l);
        if (l->continued) continue;
        nk_tinfo ti;
        assert_true(nk_type_info(s, u->ti, &ti));
        if (ti.size != u->size) fail_msg("%s 0x%x: size %llu, llvm %llu", u->name, u->ti, (unsigned long long)ti.size, (unsigned long long)u->size);
        assert_false(ti.forward);
        size_t k = 0;
        nk_tfield f;
        for (size_t j = 0; s->ops->field(s, u->ti, j, &f); j++) {
            if (f.is_static || f.is_base || strcmp(f.name, "__VFN_table") == 0) continue;
            if (k >= l->n) fail_msg("%s: extra member %s", u->name, f.name);
            const lmember *m = &l->m[k++];
            if (strcmp(f.name, m->name) != 0) fail_msg("%s: member %s, llvm %s", u->name, f.name, m->name);
            if (f.offset != m->offset) fail_msg("%s.%s: offset %llu, llvm %llu", u->name, f.name, (unsigned long long)f.offset, (unsigned long long)m->offset);
            const lbits *b = find_bits(&o, m->type);
            assert_int_equal(f.is_bitfield, b != NULL);
            if (b) {
                assert_int_equal(f.bit_pos, b->pos);
                assert_int_equal(f.bit_len, b->len);
                nk_tinfo bt;
                assert_true(nk_type_info(s, f.type, &bt));
                assert_int_equal(bt.kind, NK_TK_BITFIELD);
                bitfields++;
            }
            /* the adapter's dt spelling equals the PDB reader's own */
            char a[512], c[512];
            nk_type_describe(s, f.type, a, sizeof a);
            nk_pdb_type_name(p, m->type, c, sizeof c);
            if (strcmp(a, c) != 0) fail_msg("%s.%s: '%s', reader '%s'", u->name, f.name, a, c);
            members++;
        }
        if (k != l->n) fail_msg("%s: %zu members, llvm %zu", u->name, k, l->n);
        udts++;
    }
    if (udts < min_udts) fail_msg("%s: only %zu structs compared", path, udts);
    assert_true(members > 0);
    (void)bitfields;
    nk_typesrc_close(s);
    nk_pdb_close(p);
    ntkd_ctx_free(ctx);
    free_oracle(&o);
}

static void test_llvm_basic32(void **state)
{
    (void)state;
    check_against_llvm(BASIC32, 100);
}

static void test_llvm_regtest64(void **state)
{
    (void)state;
    check_against_llvm(REGTEST64, 20);
}

static void test_llvm_ntdll(void **state)
{
    (void)state;
    check_against_llvm(NTDLL, 500);
}

/* ---- the adapter's own behaviour ---------------------------------------------------------- */

static void test_pdb_adapter(void **state)
{
    (void)state;
    ntkd_ctx *ctx = ntkd_ctx_new();
    nk_pdb *p;
    assert_int_equal(nk_pdb_open(ctx, NTDLL, &p), NTKD_OK);
    nk_typesrc *s;
    assert_int_equal(nk_typesrc_from_pdb(ctx, p, &s), NTKD_OK);
    uint64_t id, le;
    char buf[256];
    /* WinDbg finds types whatever the case */
    assert_true(nk_type_find(s, "_eprocess", &id));
    nk_tinfo ti;
    assert_true(nk_type_info(s, id, &ti));
    assert_string_equal(ti.name, "_EPROCESS");
    assert_int_equal(ti.kind, NK_TK_STRUCT);
    assert_false(nk_type_find(s, "_NO_SUCH_TYPE_ANYWHERE", &le));
    /* paths through embedded members */
    nk_tfield f, g;
    assert_true(nk_type_field(s, id, "Pcb.Header", &f));
    assert_int_equal(f.offset, 0);
    assert_true(nk_type_field(s, id, "ActiveProcessLinks", &f));
    assert_true(nk_type_field(s, id, "ActiveProcessLinks.Blink", &g));
    assert_int_equal(g.offset, f.offset + 8);
    assert_string_equal(nk_type_describe(s, g.type, buf, sizeof buf), "Ptr64 _LIST_ENTRY");
    assert_true(nk_type_field(s, id, "ImageFileName", &f));
    assert_string_equal(nk_type_describe(s, f.type, buf, sizeof buf), "[15] UChar");
    nk_tfield h;
    assert_true(nk_type_field(s, id, "ImageFileName[14]", &h));
    assert_int_equal(h.offset, f.offset + 14);
    nk_tinfo at;
    assert_true(nk_type_info(s, f.type, &at));
    assert_int_equal(at.kind, NK_TK_ARRAY);
    assert_int_equal(at.count, 15);
    assert_true(nk_type_info(s, at.target, &ti));
    assert_true(ti.is_char);
    assert_int_equal(ti.size, 1);
    /* function pointers: the C return type */
    assert_true(nk_type_find(s, "_KDPC", &id));
    assert_true(nk_type_field(s, id, "DeferredRoutine", &f));
    assert_string_equal(nk_type_describe(s, f.type, buf, sizeof buf), "Ptr64     void ");
    assert_true(nk_type_field(s, id, "DeferredContext", &f));
    assert_string_equal(nk_type_describe(s, f.type, buf, sizeof buf), "Ptr64 Void");
    /* bitfields */
    assert_true(nk_type_find(s, "_DISPATCHER_HEADER", &id));
    assert_true(nk_type_field(s, id, "Absolute", &f));
    assert_true(f.is_bitfield);
    assert_int_equal(f.offset, 1); /* the ISF table says Absolute is bit 0 of byte 1 */
    assert_int_equal(f.bit_pos, 0);
    assert_int_equal(f.bit_len, 1);
    assert_string_equal(nk_type_describe(s, f.type, buf, sizeof buf), "Pos 0, 1 Bit");
    /* enums: underlying type and enumerators */
    assert_true(nk_type_find(s, "_POOL_TYPE", &id));
    assert_true(nk_type_info(s, id, &ti));
    assert_int_equal(ti.kind, NK_TK_ENUM);
    assert_int_equal(ti.size, 4);
    const char *en;
    int64_t v;
    bool paged = false;
    for (size_t i = 0; s->ops->enumerator(s, id, i, &en, &v); i++)
        if (strcmp(en, "PagedPool") == 0) paged = v == 1;
    assert_true(paged);
    /* base type names */
    assert_true(nk_type_find(s, "Uint4B", &id));
    assert_true(nk_type_info(s, id, &ti));
    assert_int_equal(ti.kind, NK_TK_BASE);
    assert_int_equal(ti.size, 4);
    assert_false(ti.is_signed);
    /* Windows type names map to the dt base types */
    assert_true(nk_type_find(s, "ULONG", &id));
    assert_string_equal(nk_type_describe(s, id, buf, sizeof buf), "Uint4B");
    assert_true(nk_type_find(s, "LONG64", &id));
    assert_string_equal(nk_type_describe(s, id, buf, sizeof buf), "Int8B");
    /* listing by wildcard */
    names nl = {0};
    s->ops->each_name(s, "_KP*", collect, &nl);
    bool prcb = false;
    for (size_t i = 0; i < nl.n; i++) {
        assert_true(strncasecmp(nl.v[i], "_KP", 3) == 0);
        prcb |= strcmp(nl.v[i], "_KPRCB") == 0;
        free(nl.v[i]);
    }
    free(nl.v);
    assert_true(prcb);
    nk_typesrc_close(s);
    nk_pdb_close(p);

    /* the x86 ntdll: 4-byte pointers */
    assert_int_equal(nk_pdb_open(ctx, WNTDLL, &p), NTKD_OK);
    assert_int_equal(nk_typesrc_from_pdb(ctx, p, &s), NTKD_OK);
    assert_int_equal(s->ptr_size, 4);
    assert_true(nk_type_find(s, "_LIST_ENTRY", &id));
    assert_true(nk_type_info(s, id, &ti));
    assert_int_equal(ti.size, 8);
    assert_true(nk_type_field(s, id, "Blink", &f));
    assert_int_equal(f.offset, 4);
    assert_string_equal(nk_type_describe(s, f.type, buf, sizeof buf), "Ptr32 _LIST_ENTRY");
    nk_typesrc_close(s);
    nk_pdb_close(p);
    ntkd_ctx_free(ctx);
}

/* ---- ntdll.pdb against the 19041 ISF table ------------------------------------------------ */

static void test_pdb_vs_isf(void **state)
{
    (void)state;
    ntkd_ctx *ctx = ntkd_ctx_new();
    nk_pdb *p;
    assert_int_equal(nk_pdb_open(ctx, NTDLL, &p), NTKD_OK);
    nk_typesrc *ps;
    assert_int_equal(nk_typesrc_from_pdb(ctx, p, &ps), NTKD_OK);
    assert_int_equal(ps->ptr_size, 8);
    assert_string_equal(ps->origin, "PDB ntdll.pdb");
    nk_isf *x;
    assert_int_equal(nk_isf_open(ctx, ISF_19041, &x), NTKD_OK);
    nk_typesrc *is = nk_isf_types(x);

    names nl = {0};
    is->ops->each_name(is, "*", collect, &nl);
    assert_true(nl.n > 1500);
    oracle o = {0};
    read_oracle(NTDLL, &o);
    size_t types = 0, fields = 0, described = 0, differ = 0, differ_types = 0;
    static const char *must[] = {"_EPROCESS", "_KTHREAD", "_KPRCB", "_IRP", "_DEVICE_OBJECT", "_ETHREAD",
                                 "_KPROCESS", "_DRIVER_OBJECT", "_FILE_OBJECT", "_DISPATCHER_HEADER",
                                 "_KDPC", "_PEB", "_TEB", "_KAPC_STATE", "_LIST_ENTRY"};
    bool seen[sizeof must / sizeof must[0]] = {0};
    size_t must_differ[sizeof must / sizeof must[0]] = {0};
    for (size_t k = 0; k < nl.n; k++) {
        uint64_t iid, pid;
        assert_true(nk_type_find(is, nl.v[k], &iid));
        nk_tinfo it, pt;
        assert_true(nk_type_info(is, iid, &it));
        if (!nk_type_find(ps, nl.v[k], &pid)) continue;
        assert_true(nk_type_info(ps, pid, &pt));
        if (pt.forward || strcmp(pt.name ? pt.name : "", nl.v[k]) != 0) continue;
        int must_i = -1;
        for (size_t m = 0; m < sizeof must / sizeof must[0]; m++)
            if (strcmp(nl.v[k], must[m]) == 0) must_i = (int)m;
        /* ntdll.pdb comes from a later build of the family than the table: a few types moved
         * members. Every difference must be the PDB's own, as llvm-pdbutil reads it. */
        const ludt *lu = oracle_udt(&o, nl.v[k]);
        if (it.size != pt.size || it.kind != pt.kind) {
            if (!lu || lu->size != pt.size) fail_msg("%s: size ISF 0x%llx, PDB 0x%llx unexplained", nl.v[k], (unsigned long long)it.size, (unsigned long long)pt.size);
            if (must_i >= 0) fail_msg("%s: size ISF 0x%llx, PDB 0x%llx", nl.v[k], (unsigned long long)it.size, (unsigned long long)pt.size);
            differ_types++;
            continue;
        }
        types++;
        size_t matched = 0, total = 0;
        nk_tfield f, g;
        for (size_t i = 0; is->ops->field(is, iid, i, &f); i++) {
            total++;
            if (!field_by_name(ps, pid, f.name, &g)) continue;
            matched++;
            fields++;
            nk_tinfo ft, gt;
            assert_true(nk_type_info(is, f.type, &ft));
            assert_true(nk_type_info(ps, g.type, &gt));
            char a[256], b[256];
            nk_type_describe(is, f.type, a, sizeof a);
            nk_type_describe(ps, g.type, b, sizeof b);
            /* ISF keeps no function return types and renames anonymous records */
            bool cmp_desc = !strstr(a, "    ") && !strchr(a, '<') && !strchr(b, '<');
            bool same = f.offset == g.offset && f.is_bitfield == g.is_bitfield && f.bit_pos == g.bit_pos &&
                        f.bit_len == g.bit_len && ft.size == gt.size && ft.kind == gt.kind &&
                        (!cmp_desc || strcmp(a, b) == 0);
            if (!same) {
                const lmember *lm = lu ? oracle_member(&o, lu, f.name) : NULL;
                if (!lm || lm->offset != g.offset)
                    fail_msg("%s.%s: ISF +0x%llx %s, PDB +0x%llx %s, not as llvm-pdbutil reads it", nl.v[k], f.name,
                             (unsigned long long)f.offset, a, (unsigned long long)g.offset, b);
                differ++;
                if (must_i >= 0) must_differ[must_i]++;
                continue;
            }
            if (cmp_desc) described++;
        }
        if (must_i >= 0) {
            seen[must_i] = true;
            /* the kernel's central objects: (nearly) every field of the table is in the PDB, at
             * the same place */
            if (matched * 100 < total * 95 || must_differ[must_i] * 20 > total)
                fail_msg("%s: %zu of %zu fields in the PDB, %zu moved", nl.v[k], matched, total, must_differ[must_i]);
            assert_true(total > 0);
        }
    }
    print_message("ntdll.pdb vs ISF 19041: %zu types and %zu fields equal (%zu type spellings); %zu types and %zu "
                  "fields differ (later build)\n", types, fields - differ, described, differ_types, differ);
    assert_true(differ * 100 <= fields);
    assert_true(differ_types * 20 <= types);
    for (size_t m = 0; m < sizeof must / sizeof must[0]; m++)
        if (!seen[m]) fail_msg("%s: not compared", must[m]);
    assert_true(types > 500);
    assert_true(fields > 5000);
    assert_true(described > 4500);
    for (size_t k = 0; k < nl.n; k++) free(nl.v[k]);
    free(nl.v);
    free_oracle(&o);
    nk_isf_close(x);
    nk_typesrc_close(ps);
    nk_pdb_close(p);
    ntkd_ctx_free(ctx);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_pdb_adapter),
        cmocka_unit_test(test_llvm_basic32),
        cmocka_unit_test(test_llvm_regtest64),
        cmocka_unit_test(test_llvm_ntdll),
        cmocka_unit_test(test_pdb_vs_isf),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
