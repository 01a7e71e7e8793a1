/* test_pdb_leaves.c: leaves no corpus PDB carries, written here byte by byte after the
 * CodeView layouts (microsoft-pdb cvinfo.h, LLVM's CodeViewTypes documentation) into a
 * small MSF 7.0 file, then read back: the length-prefixed "ST" leaves of VC7-era PDBs
 * (LF_STRUCTURE_ST, LF_UNION_ST, LF_MEMBER_ST, LF_ENUMERATE_ST), the 16-bit-index leaves
 * (LF_ENUM_16t, LF_MODIFIER_16t, LF_POINTER_16t, LF_ARRAY_16t, LF_BITFIELD_16t,
 * LF_ARGLIST_16t, LF_PROCEDURE_16t, LF_CLASS_16t, LF_FIELDLIST_16t), LF_INDEX
 * continuations, padding bytes, every numeric leaf width, member pointers, methods and
 * method lists, vtable shapes, labels, and name lookup without a TPI hash stream. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "pdb/pdb.h"

typedef struct buf {
    uint8_t *b;
    size_t n, cap;
} buf;

static void put(buf *o, const void *p, size_t n)
{
    if (o->n + n > o->cap) {
        o->cap = (o->n + n) * 2 + 64;
        o->b = realloc(o->b, o->cap);
    }
    memcpy(o->b + o->n, p, n);
    o->n += n;
}
static void u8(buf *o, uint8_t v) { put(o, &v, 1); }
static void u16(buf *o, uint16_t v) { uint8_t b[2] = {(uint8_t)v, (uint8_t)(v >> 8)}; put(o, b, 2); }
static void u32(buf *o, uint32_t v) { u16(o, (uint16_t)v); u16(o, (uint16_t)(v >> 16)); }
static void u64(buf *o, uint64_t v) { u32(o, (uint32_t)v); u32(o, (uint32_t)(v >> 32)); }
static void sz(buf *o, const char *s) { put(o, s, strlen(s) + 1); }
static void pascal(buf *o, const char *s) { u8(o, (uint8_t)strlen(s)); put(o, s, strlen(s)); }
/* LF_PAD3 LF_PAD2 LF_PAD1 up to a 4-byte boundary (relative to the record's start) */
static void pad(buf *o, size_t start)
{
    while ((o->n - start) % 4) u8(o, (uint8_t)(0xf0 + (4 - (o->n - start) % 4)));
}

static size_t rec_start;
static void rec_begin(buf *o, uint16_t leaf)
{
    rec_start = o->n;
    u16(o, 0);
    u16(o, leaf);
}
static void rec_end(buf *o)
{
    pad(o, rec_start);
    uint16_t len = (uint16_t)(o->n - rec_start - 2);
    o->b[rec_start] = (uint8_t)len;
    o->b[rec_start + 1] = (uint8_t)(len >> 8);
}

/* An MSF 7.0 file with the given streams (block size 512, streams in order). */
static buf msf(buf *streams, uint32_t n)
{
    const uint32_t bs = 512;
    uint32_t total = 0;
    for (uint32_t i = 0; i < n; i++) total += (uint32_t)((streams[i].n + bs - 1) / bs);
    buf dir = {0};
    u32(&dir, n);
    for (uint32_t i = 0; i < n; i++) u32(&dir, (uint32_t)streams[i].n);
    uint32_t next = 3;
    for (uint32_t i = 0; i < n; i++)
        for (size_t k = 0; k < (streams[i].n + bs - 1) / bs; k++) u32(&dir, next++);
    uint32_t ndirb = (uint32_t)((dir.n + bs - 1) / bs);
    uint32_t dir0 = 3 + total, map = dir0 + ndirb, nblocks = map + 1;
    buf f = {0};
    f.cap = f.n = (size_t)nblocks * bs;
    f.b = calloc(1, f.n);
    memcpy(f.b, "Microsoft C/C++ MSF 7.00\r\n\x1a" "DS\0\0\0", 32);
    uint32_t hdr[6] = {bs, 1, nblocks, (uint32_t)dir.n, 0, map};
    memcpy(f.b + 32, hdr, sizeof hdr);
    next = 3;
    for (uint32_t i = 0; i < n; i++)
        for (size_t k = 0; k < (streams[i].n + bs - 1) / bs; k++, next++) {
            size_t len = streams[i].n - k * bs < bs ? streams[i].n - k * bs : bs;
            memcpy(f.b + (size_t)next * bs, streams[i].b + k * bs, len);
        }
    memcpy(f.b + (size_t)dir0 * bs, dir.b, dir.n);
    for (uint32_t i = 0; i < ndirb; i++) {
        uint32_t v = dir0 + i;
        memcpy(f.b + (size_t)map * bs + 4 * i, &v, 4);
    }
    free(dir.b);
    return f;
}

static buf build(void)
{
    buf t = {0};
    size_t fl;
    /* 0x1000: the second half of _OLDS's field list (reached by LF_INDEX) */
    rec_begin(&t, 0x1203);
    fl = t.n;
    u16(&t, 0x1405); u16(&t, 3); u32(&t, 0x0023); u16(&t, 0x8004); u32(&t, 0x10); pascal(&t, "Tail"); pad(&t, fl);
    rec_end(&t);
    /* 0x1001: first half: ST members, a bitfield, a pointer, then LF_INDEX -> 0x1000 */
    rec_begin(&t, 0x1203);
    fl = t.n;
    u16(&t, 0x1405); u16(&t, 3); u32(&t, 0x0075); u16(&t, 0); pascal(&t, "First"); pad(&t, fl);
    u16(&t, 0x1405); u16(&t, 3); u32(&t, 0x1003); u16(&t, 4); pascal(&t, "Bits"); pad(&t, fl);
    u16(&t, 0x1405); u16(&t, 3); u32(&t, 0x0603); u16(&t, 8); pascal(&t, "Ptr"); pad(&t, fl);
    u16(&t, 0x1404); u16(&t, 0); u32(&t, 0x1000);
    rec_end(&t);
    /* 0x1002: LF_STRUCTURE_ST _OLDS, 0x18 bytes (LF_USHORT size) */
    rec_begin(&t, 0x1005);
    u16(&t, 4); u16(&t, 0); u32(&t, 0x1001); u32(&t, 0); u32(&t, 0); u16(&t, 0x8002); u16(&t, 0x18); pascal(&t, "_OLDS");
    rec_end(&t);
    /* 0x1003: LF_BITFIELD unsigned long, 3 bits at 5 */
    rec_begin(&t, 0x1205);
    u32(&t, 0x0022); u8(&t, 3); u8(&t, 5);
    rec_end(&t);
    /* 0x1004: LF_FIELDLIST_16t with LF_ENUMERATE_ST (LF_CHAR -1, LF_QUADWORD) */
    rec_begin(&t, 0x0204);
    fl = t.n;
    u16(&t, 0x0403); u16(&t, 3); u16(&t, 0x8000); u8(&t, 0xff); pascal(&t, "Neg"); pad(&t, fl);
    u16(&t, 0x0403); u16(&t, 3); u16(&t, 0x8009); u64(&t, 0x123456789ull); pascal(&t, "Big"); pad(&t, fl);
    rec_end(&t);
    /* 0x1005: LF_ENUM_16t _COLOR over int */
    rec_begin(&t, 0x0007);
    u16(&t, 2); u16(&t, 0x0074); u16(&t, 0x1004); u16(&t, 0); pascal(&t, "_COLOR");
    rec_end(&t);
    /* 0x1006: LF_MODIFIER_16t const _OLDS */
    rec_begin(&t, 0x0001);
    u16(&t, 1); u16(&t, 0x1002);
    rec_end(&t);
    /* 0x1007: LF_POINTER_16t near32 to 0x1006 */
    rec_begin(&t, 0x0002);
    u16(&t, 0x000a); u16(&t, 0x1006);
    rec_end(&t);
    /* 0x1008: LF_ARRAY_16t of 16 unsigned chars */
    rec_begin(&t, 0x0003);
    u16(&t, 0x0020); u16(&t, 0x0022); u16(&t, 16); pascal(&t, "");
    rec_end(&t);
    /* 0x1009: LF_BITFIELD_16t 1 bit at 7 of unsigned short */
    rec_begin(&t, 0x0206);
    u8(&t, 1); u8(&t, 7); u16(&t, 0x0021);
    rec_end(&t);
    /* 0x100a: LF_ARGLIST_16t (int, Ptr32 _OLDS) */
    rec_begin(&t, 0x0201);
    u16(&t, 2); u16(&t, 0x0074); u16(&t, 0x1007);
    rec_end(&t);
    /* 0x100b: LF_PROCEDURE_16t void (...) */
    rec_begin(&t, 0x0008);
    u16(&t, 0x0003); u8(&t, 7); u8(&t, 0); u16(&t, 2); u16(&t, 0x100a);
    rec_end(&t);
    /* 0x100c: LF_POINTER 64-bit to the procedure */
    rec_begin(&t, 0x1002);
    u32(&t, 0x100b); u32(&t, (8u << 13) | 0x0c);
    rec_end(&t);
    /* 0x100d: LF_STRUCTURE Node with a unique name */
    rec_begin(&t, 0x1505);
    u16(&t, 5); u16(&t, 0x200); u32(&t, 0x100e); u32(&t, 0); u32(&t, 0x100f); u16(&t, 16); sz(&t, "Node"); sz(&t, ".?AUNode@@");
    rec_end(&t);
    /* 0x100e: Node's fields: vfunctab, an introducing virtual method, a 16t bitfield member,
     * a nested type, a static member, an overloaded method */
    rec_begin(&t, 0x1203);
    fl = t.n;
    u16(&t, 0x1409); u16(&t, 0); u32(&t, 0x1011); pad(&t, fl);
    u16(&t, 0x1511); u16(&t, (4 << 2) | 3); u32(&t, 0x1010); u32(&t, 0); sz(&t, "Run"); pad(&t, fl);
    u16(&t, 0x150d); u16(&t, 3); u32(&t, 0x1009); u16(&t, 8); sz(&t, "Flag"); pad(&t, fl);
    u16(&t, 0x1510); u16(&t, 0); u32(&t, 0x1005); sz(&t, "Color"); pad(&t, fl);
    u16(&t, 0x150e); u16(&t, 3); u32(&t, 0x0074); sz(&t, "Count"); pad(&t, fl);
    u16(&t, 0x150f); u16(&t, 2); u32(&t, 0x1013); sz(&t, "Go"); pad(&t, fl);
    rec_end(&t);
    /* 0x100f: LF_VTSHAPE with one near32 entry */
    rec_begin(&t, 0x000a);
    u16(&t, 1); u8(&t, 0x04);
    rec_end(&t);
    /* 0x1010: LF_MFUNCTION void Node::Run() */
    rec_begin(&t, 0x1009);
    u32(&t, 0x0003); u32(&t, 0x100d); u32(&t, 0x1011); u8(&t, 0); u8(&t, 0); u16(&t, 0); u32(&t, 0x1012); u32(&t, 0xfffffff8u);
    rec_end(&t);
    /* 0x1011: LF_POINTER, pointer to data member of Node (PMEM) */
    rec_begin(&t, 0x1002);
    u32(&t, 0x0074); u32(&t, (8u << 13) | (2u << 5) | 0x0c); u32(&t, 0x100d); u16(&t, 1);
    rec_end(&t);
    /* 0x1012: LF_ARGLIST () */
    rec_begin(&t, 0x1201);
    u32(&t, 0);
    rec_end(&t);
    /* 0x1013: LF_METHODLIST: an introducing virtual (with its vtable offset), a plain one */
    rec_begin(&t, 0x1206);
    u16(&t, (4 << 2) | 3); u16(&t, 0); u32(&t, 0x1010); u32(&t, 8);
    u16(&t, 3); u16(&t, 0); u32(&t, 0x1010);
    rec_end(&t);
    /* 0x1014: LF_LABEL */
    rec_begin(&t, 0x000e);
    u16(&t, 4);
    rec_end(&t);
    /* 0x1015: forward reference to Node */
    rec_begin(&t, 0x1505);
    u16(&t, 0); u16(&t, 0x280); u32(&t, 0); u32(&t, 0); u32(&t, 0); u16(&t, 0); sz(&t, "Node"); sz(&t, ".?AUNode@@");
    rec_end(&t);
    /* 0x1016: LF_UNION_ST _UU of 8 bytes (LF_LONG size) */
    rec_begin(&t, 0x1006);
    u16(&t, 1); u16(&t, 0); u32(&t, 0x1017); u16(&t, 0x8003); u32(&t, 8); pascal(&t, "_UU");
    rec_end(&t);
    /* 0x1017 */
    rec_begin(&t, 0x1203);
    fl = t.n;
    u16(&t, 0x150d); u16(&t, 3); u32(&t, 0x0077); u16(&t, 0); sz(&t, "Q"); pad(&t, fl);
    rec_end(&t);
    /* 0x1018: LF_CLASS_16t forward reference never defined */
    rec_begin(&t, 0x0004);
    u16(&t, 0); u16(&t, 0); u16(&t, 0x80); u16(&t, 0); u16(&t, 0); u16(&t, 0); pascal(&t, "Fwd6");
    rec_end(&t);
    /* 0x1019: LF_ENUM E2 */
    rec_begin(&t, 0x1507);
    u16(&t, 2); u16(&t, 0); u32(&t, 0x0074); u32(&t, 0x101a); sz(&t, "E2");
    rec_end(&t);
    /* 0x101a: LF_LONG -5 and LF_UQUADWORD max */
    rec_begin(&t, 0x1203);
    fl = t.n;
    u16(&t, 0x1502); u16(&t, 3); u16(&t, 0x8003); u32(&t, (uint32_t)-5); sz(&t, "M5"); pad(&t, fl);
    u16(&t, 0x1502); u16(&t, 3); u16(&t, 0x800a); u64(&t, UINT64_MAX); sz(&t, "Max"); pad(&t, fl);
    u16(&t, 0x1502); u16(&t, 3); u16(&t, 0x8001); u16(&t, 0x8000); sz(&t, "S16"); pad(&t, fl);
    rec_end(&t);
    uint32_t end = 0x101b;

    buf tpi = {0};
    u32(&tpi, 19990903); /* V70 */
    u32(&tpi, 56);
    u32(&tpi, 0x1000);
    u32(&tpi, end);
    u32(&tpi, (uint32_t)t.n);
    u16(&tpi, 0xffff); /* no hash stream: lookups by name hash a scan of the records */
    u16(&tpi, 0xffff);
    u32(&tpi, 4);
    u32(&tpi, 0x3ffff);
    for (int i = 0; i < 6; i++) u32(&tpi, 0);
    put(&tpi, t.b, t.n);
    free(t.b);

    buf info = {0};
    u32(&info, 20000404);
    u32(&info, 0x12345678);
    u32(&info, 7);
    for (int i = 0; i < 16; i++) u8(&info, (uint8_t)(0xa0 + i));
    u32(&info, 0); /* named stream map: empty string buffer */
    u32(&info, 0); /* size */
    u32(&info, 1); /* capacity */
    u32(&info, 0); /* present words */
    u32(&info, 0); /* deleted words */

    buf streams[3] = {{0}, info, tpi};
    buf f = msf(streams, 3);
    free(info.b);
    free(tpi.b);
    return f;
}

static void test_leaves(void **state)
{
    (void)state;
    buf f = build();
    ntkd_ctx *ctx = ntkd_ctx_new();
    nk_pdb *p;
    if (nk_pdb_open_mem(ctx, "leaves.pdb", f.b, f.n, &p) != NTKD_OK) print_message("%s\n", ntkd_ctx_error(ctx));
    assert_non_null(p);
    char g[33], nb[256];
    assert_string_equal(nk_pdb_guid_hex(p, g), "A3A2A1A0A5A4A7A6A8A9AAABACADAEAF");
    assert_int_equal(nk_pdb_get_info(p)->age, 7);
    assert_false(nk_pdb_get_info(p)->dbi_present);

    /* the ST structure, found by name without a hash stream; its fields cross LF_INDEX */
    uint32_t ti;
    uint64_t size;
    assert_int_equal(nk_pdb_type_find(p, "_OLDS", &ti), NTKD_OK);
    assert_int_equal(ti, 0x1002);
    assert_int_equal(nk_pdb_type_size(p, ti, &size), NTKD_OK);
    assert_int_equal(size, 0x18);
    static const struct { const char *name; uint64_t off; const char *type; } olds[] = {
        {"First", 0, "Uint4B"}, {"Bits", 4, "Pos 5, 3 Bits"}, {"Ptr", 8, "Ptr64 Void"}, {"Tail", 0x10, "Uint8B"}};
    nk_pdb_field_iter it;
    nk_pdb_field fd;
    size_t k = 0;
    assert_int_equal(nk_pdb_fields_begin(p, ti, &it), NTKD_OK);
    while (nk_pdb_fields_next(&it, &fd)) {
        assert_true(k < 4);
        assert_int_equal(fd.kind, NK_FIELD_MEMBER);
        assert_string_equal(fd.name, olds[k].name);
        assert_int_equal(fd.offset, olds[k].off);
        assert_string_equal(nk_pdb_type_name(p, fd.type_ti, nb, sizeof nb), olds[k].type);
        if (k == 1) {
            assert_true(fd.is_bitfield);
            assert_int_equal(fd.bit_pos, 5);
            assert_int_equal(fd.bit_len, 3);
            assert_int_equal(fd.bit_base_ti, 0x22);
        }
        k++;
    }
    assert_int_equal(it.status, NTKD_OK);
    assert_int_equal(k, 4);
    /* the same names are interned once: two decodes give the same pointer */
    nk_pdb_typeinfo a, b2;
    assert_int_equal(nk_pdb_type_get(p, 0x1002, &a), NTKD_OK);
    assert_int_equal(nk_pdb_type_get(p, 0x1002, &b2), NTKD_OK);
    assert_ptr_equal(a.name, b2.name);
    assert_string_equal(a.name, "_OLDS");
    assert_int_equal(a.kind, NK_PT_STRUCT);

    /* 16-bit enum and its ST enumerators (LF_CHAR, LF_QUADWORD) */
    assert_int_equal(nk_pdb_type_find(p, "_COLOR", &ti), NTKD_OK);
    assert_int_equal(ti, 0x1005);
    assert_int_equal(nk_pdb_type_size(p, ti, &size), NTKD_OK);
    assert_int_equal(size, 4);
    assert_int_equal(nk_pdb_fields_begin(p, ti, &it), NTKD_OK);
    assert_true(nk_pdb_fields_next(&it, &fd));
    assert_string_equal(fd.name, "Neg");
    assert_true(fd.value_negative);
    assert_int_equal((int64_t)fd.value, -1);
    assert_true(nk_pdb_fields_next(&it, &fd));
    assert_string_equal(fd.name, "Big");
    assert_int_equal(fd.value, 0x123456789ull);
    assert_false(nk_pdb_fields_next(&it, &fd));
    assert_int_equal(it.status, NTKD_OK);

    /* 16-bit modifier, pointer, array, procedure; 64-bit function pointer */
    assert_string_equal(nk_pdb_type_name(p, 0x1007, nb, sizeof nb), "Ptr32 _OLDS");
    assert_int_equal(nk_pdb_type_size(p, 0x1007, &size), NTKD_OK);
    assert_int_equal(size, 4);
    nk_pdb_typeinfo t;
    assert_int_equal(nk_pdb_type_get(p, 0x1006, &t), NTKD_OK);
    assert_int_equal(t.kind, NK_PT_MODIFIER);
    assert_true(t.is_const);
    assert_int_equal(t.elem_ti, 0x1002);
    assert_string_equal(nk_pdb_type_name(p, 0x1008, nb, sizeof nb), "[16] UChar");
    assert_string_equal(nk_pdb_type_name(p, 0x100c, nb, sizeof nb), "Ptr64     void ");
    assert_int_equal(nk_pdb_type_get(p, 0x100b, &t), NTKD_OK);
    assert_int_equal(t.kind, NK_PT_PROCEDURE);
    assert_int_equal(t.count, 2);
    assert_int_equal(t.field_ti, 0x100a);
    uint32_t args[4], nargs;
    assert_int_equal(nk_pdb_arglist(p, 0x100a, args, 4, &nargs), NTKD_OK);
    assert_int_equal(nargs, 2);
    assert_int_equal(args[0], 0x74);
    assert_int_equal(args[1], 0x1007);
    assert_int_equal(nk_pdb_arglist(p, 0x1012, args, 4, &nargs), NTKD_OK);
    assert_int_equal(nargs, 0);

    /* Node: unique name, fields of every kind, methods */
    assert_int_equal(nk_pdb_type_find(p, "Node", &ti), NTKD_OK);
    assert_int_equal(ti, 0x100d);
    assert_int_equal(nk_pdb_type_resolve(p, 0x1015), 0x100d);
    assert_int_equal(nk_pdb_type_resolve(p, 0x1018), 0x1018); /* no definition */
    assert_int_equal(nk_pdb_fields_begin(p, 0x1015, &it), NTKD_OK); /* through the forward reference */
    static const nk_pdb_field_kind kinds[] = {NK_FIELD_VFUNCTAB, NK_FIELD_ONEMETHOD, NK_FIELD_MEMBER,
                                              NK_FIELD_NESTED, NK_FIELD_STATIC, NK_FIELD_METHOD};
    k = 0;
    while (nk_pdb_fields_next(&it, &fd)) {
        assert_true(k < 6);
        assert_int_equal(fd.kind, kinds[k]);
        if (fd.kind == NK_FIELD_ONEMETHOD) {
            assert_string_equal(fd.name, "Run");
            assert_int_equal(fd.vtable_off, 0);
            assert_int_equal(fd.type_ti, 0x1010);
        } else if (fd.kind == NK_FIELD_MEMBER) {
            assert_string_equal(fd.name, "Flag");
            assert_true(fd.is_bitfield);
            assert_int_equal(fd.bit_pos, 7);
            assert_int_equal(fd.bit_len, 1);
            assert_string_equal(nk_pdb_type_name(p, fd.type_ti, nb, sizeof nb), "Pos 7, 1 Bit");
        } else if (fd.kind == NK_FIELD_NESTED) {
            assert_string_equal(fd.name, "Color");
            assert_int_equal(fd.type_ti, 0x1005);
        } else if (fd.kind == NK_FIELD_METHOD) {
            assert_string_equal(fd.name, "Go");
            assert_int_equal(fd.method_count, 2);
            nk_pdb_method m[4];
            uint32_t nm;
            assert_int_equal(nk_pdb_methodlist(p, fd.mlist_ti, m, 4, &nm), NTKD_OK);
            assert_int_equal(nm, 2);
            assert_int_equal(m[0].vtable_off, 8);
            assert_int_equal(m[1].vtable_off, -1);
            assert_int_equal(m[1].type_ti, 0x1010);
        }
        k++;
    }
    assert_int_equal(it.status, NTKD_OK);
    assert_int_equal(k, 6);
    assert_int_equal(nk_pdb_type_get(p, 0x1010, &t), NTKD_OK);
    assert_int_equal(t.kind, NK_PT_MFUNCTION);
    assert_int_equal(t.index_ti, 0x100d);
    assert_int_equal(t.this_adjust, -8);
    assert_int_equal(nk_pdb_type_get(p, 0x1011, &t), NTKD_OK);
    assert_int_equal(t.kind, NK_PT_POINTER);
    assert_int_equal(t.ptr_mode, NK_PTR_MODE_PMEM);
    assert_int_equal(t.index_ti, 0x100d);
    assert_int_equal(t.size, 8);
    assert_int_equal(nk_pdb_type_get(p, 0x100f, &t), NTKD_OK);
    assert_int_equal(t.kind, NK_PT_VTSHAPE);
    assert_int_equal(t.count, 1);
    assert_int_equal(nk_pdb_type_get(p, 0x1014, &t), NTKD_OK);
    assert_int_equal(t.kind, NK_PT_LABEL);

    /* ST union with an LF_LONG size; enum values LF_LONG, LF_UQUADWORD, LF_SHORT */
    assert_int_equal(nk_pdb_type_find(p, "_UU", &ti), NTKD_OK);
    assert_int_equal(nk_pdb_type_size(p, ti, &size), NTKD_OK);
    assert_int_equal(size, 8);
    assert_int_equal(nk_pdb_type_find(p, "E2", &ti), NTKD_OK);
    assert_int_equal(nk_pdb_fields_begin(p, ti, &it), NTKD_OK);
    assert_true(nk_pdb_fields_next(&it, &fd));
    assert_true(fd.value_negative);
    assert_int_equal((int64_t)fd.value, -5);
    assert_true(nk_pdb_fields_next(&it, &fd));
    assert_false(fd.value_negative);
    assert_int_equal(fd.value, UINT64_MAX);
    assert_true(nk_pdb_fields_next(&it, &fd));
    assert_true(fd.value_negative);
    assert_int_equal((int64_t)fd.value, -32768);
    assert_false(nk_pdb_fields_next(&it, &fd));

    /* a forward reference without definition is not found by name */
    assert_int_equal(nk_pdb_type_find(p, "Fwd6", &ti), NTKD_E_NOTFOUND);
    assert_non_null(strstr(ntkd_ctx_error(ctx), "leaves.pdb"));

    /* the iteration over definitions sees every struct/union/enum once */
    nk_pdb_type_iter ti_it;
    size_t defs = 0;
    nk_pdb_types_begin(p, &ti_it);
    while (nk_pdb_types_next(&ti_it, &t)) defs++;
    assert_int_equal(defs, 5); /* _OLDS, _COLOR, Node, _UU, E2 */

    /* no DBI: symbol queries answer "none" cleanly */
    size_t n;
    assert_int_equal(nk_pdb_public_count(p, &n), NTKD_OK);
    assert_int_equal(n, 0);
    nk_pdb_public pb;
    uint32_t disp;
    assert_int_equal(nk_pdb_public_by_rva(p, 0x1000, &pb, &disp), NTKD_E_NOTFOUND);
    assert_int_equal(nk_pdb_load_all(p), NTKD_OK);
    nk_pdb_close(p);
    ntkd_ctx_free(ctx);
    free(f.b);
}

static void test_simple_names(void **state)
{
    (void)state;
    assert_string_equal(nk_pdb_simple_name(0x0074), "Int4B");
    assert_string_equal(nk_pdb_simple_name(0x0075), "Uint4B");
    assert_string_equal(nk_pdb_simple_name(0x0022), "Uint4B");
    assert_string_equal(nk_pdb_simple_name(0x0012), "Int4B");
    assert_string_equal(nk_pdb_simple_name(0x0020), "UChar");
    assert_string_equal(nk_pdb_simple_name(0x0070), "Char");
    assert_string_equal(nk_pdb_simple_name(0x0071), "Wchar");
    assert_string_equal(nk_pdb_simple_name(0x0021), "Uint2B");
    assert_string_equal(nk_pdb_simple_name(0x0023), "Uint8B");
    assert_string_equal(nk_pdb_simple_name(0x0013), "Int8B");
    assert_string_equal(nk_pdb_simple_name(0x0003), "Void");
    assert_string_equal(nk_pdb_simple_name(0x0403), "Ptr32 Void");
    assert_string_equal(nk_pdb_simple_name(0x0603), "Ptr64 Void");
    assert_int_equal(nk_pdb_simple_size(0x0603), 8);
    assert_int_equal(nk_pdb_simple_size(0x0403), 4);
    assert_int_equal(nk_pdb_simple_size(0x0041), 8);
    assert_int_equal(nk_pdb_simple_size(0x0014), 16);
    char b[64];
    /* x86 C decorations as dbghelp shows them; C++ and x64 names untouched */
    assert_string_equal(nk_pdb_undecorate("_KeBugCheckEx@20", true, b, sizeof b), "KeBugCheckEx");
    assert_string_equal(nk_pdb_undecorate("@KfLowerIrql@4", true, b, sizeof b), "KfLowerIrql");
    assert_string_equal(nk_pdb_undecorate("__imp__VidInitialize@4", true, b, sizeof b), "_imp__VidInitialize");
    assert_string_equal(nk_pdb_undecorate("__imp_@KfLowerIrql@4", true, b, sizeof b), "_imp_KfLowerIrql");
    assert_string_equal(nk_pdb_undecorate("?f@@YAXXZ", true, b, sizeof b), "?f@@YAXXZ");
    assert_string_equal(nk_pdb_undecorate("_guard_check_icall", false, b, sizeof b), "_guard_check_icall");
    assert_string_equal(nk_pdb_undecorate("_KeBugCheckEx@20", true, b, 5), "KeBu");
}

/* ---- a DBI with OMAP, publics, globals and a module stream ------------------------------ */

/* The PDB name hash (LLVM's hashStringV1, documented in its PDB docs), for building buckets. */
static uint32_t hash_v1(const char *s)
{
    size_t n = strlen(s), i = 0;
    uint32_t h = 0;
    for (; i + 4 <= n; i += 4) h ^= (uint32_t)(uint8_t)s[i] | (uint32_t)(uint8_t)s[i + 1] << 8 |
                                    (uint32_t)(uint8_t)s[i + 2] << 16 | (uint32_t)(uint8_t)s[i + 3] << 24;
    if (n - i >= 2) {
        h ^= (uint32_t)(uint8_t)s[i] | (uint32_t)(uint8_t)s[i + 1] << 8;
        i += 2;
    }
    if (n - i == 1) h ^= (uint8_t)s[i];
    h |= 0x20202020u;
    h ^= h >> 11;
    return h ^ (h >> 16);
}

/* A GSI hash over records at the given symbol-record offsets. */
static void gsi(buf *o, const uint32_t *offs, const char *const *names, int n)
{
    int order[8];
    for (int i = 0; i < n; i++) order[i] = i;
    for (int i = 0; i < n; i++) /* by bucket */
        for (int j = i + 1; j < n; j++)
            if (hash_v1(names[order[j]]) % 4096 < hash_v1(names[order[i]]) % 4096) {
                int t = order[i];
                order[i] = order[j];
                order[j] = t;
            }
    uint32_t bitmap[129] = {0}, starts[8];
    int nb = 0;
    for (int i = 0; i < n; i++) {
        uint32_t b = hash_v1(names[order[i]]) % 4096;
        if (!(bitmap[b / 32] & (1u << (b % 32)))) {
            bitmap[b / 32] |= 1u << (b % 32);
            starts[nb++] = (uint32_t)i * 12;
        }
    }
    u32(o, 0xffffffffu);
    u32(o, 0xeffe0000u + 19990810u);
    u32(o, 8u * (uint32_t)n);
    u32(o, 4u * 129 + 4u * (uint32_t)nb);
    for (int i = 0; i < n; i++) {
        u32(o, offs[order[i]] + 1);
        u32(o, 1);
    }
    for (int i = 0; i < 129; i++) u32(o, bitmap[i]);
    for (int i = 0; i < nb; i++) u32(o, starts[i]);
}

static void sym_begin(buf *o, uint16_t kind)
{
    rec_begin(o, kind);
}

static buf build_dbi(void)
{
    /* 7: symbol records */
    buf sr = {0};
    uint32_t off_foo = (uint32_t)sr.n;
    sym_begin(&sr, 0x110e); u32(&sr, 2); u32(&sr, 0x10); u16(&sr, 1); sz(&sr, "_foo@4"); rec_end(&sr);
    uint32_t off_bar = (uint32_t)sr.n;
    sym_begin(&sr, 0x110e); u32(&sr, 0); u32(&sr, 0); u16(&sr, 2); sz(&sr, "bar"); rec_end(&sr);
    uint32_t off_gone = (uint32_t)sr.n;
    sym_begin(&sr, 0x110e); u32(&sr, 2); u32(&sr, 0x40); u16(&sr, 1); sz(&sr, "gone"); rec_end(&sr);
    uint32_t off_gvar = (uint32_t)sr.n;
    sym_begin(&sr, 0x110d); u32(&sr, 0x74); u32(&sr, 8); u16(&sr, 2); sz(&sr, "gvar"); rec_end(&sr);
    uint32_t off_ref = (uint32_t)sr.n;
    sym_begin(&sr, 0x1125); u32(&sr, 0); u32(&sr, 4); u16(&sr, 1); sz(&sr, "foo"); rec_end(&sr);
    /* 5: publics: header, hash, address map */
    buf pub = {0};
    buf ph = {0};
    const uint32_t poffs[3] = {off_foo, off_bar, off_gone};
    const char *const pnames[3] = {"_foo@4", "bar", "gone"};
    gsi(&ph, poffs, pnames, 3);
    u32(&pub, (uint32_t)ph.n);
    u32(&pub, 12);
    for (int i = 0; i < 5; i++) u32(&pub, 0);
    put(&pub, ph.b, ph.n);
    u32(&pub, off_foo); /* address order: 1:0x10, 1:0x40, 2:0 */
    u32(&pub, off_gone);
    u32(&pub, off_bar);
    /* 6: globals */
    buf glob = {0};
    const uint32_t goffs[2] = {off_gvar, off_ref};
    const char *const gnames[2] = {"gvar", "foo"};
    gsi(&glob, goffs, gnames, 2);
    /* 8: module symbols: procedure with frame info and a nested block, data, a thunk in an
     * unmapped OMAP range */
    buf ms = {0};
    u32(&ms, 4);
    size_t proc = ms.n;
    sym_begin(&ms, 0x1110); u32(&ms, 0); u32(&ms, 0); u32(&ms, 0); u32(&ms, 0x20); u32(&ms, 0); u32(&ms, 0x20);
    u32(&ms, 0); u32(&ms, 0x10); u16(&ms, 1); u8(&ms, 0); sz(&ms, "foo"); rec_end(&ms);
    sym_begin(&ms, 0x1012); u32(&ms, 0x48); u32(&ms, 0); u32(&ms, 0); u32(&ms, 8); u32(&ms, 0); u16(&ms, 0); u32(&ms, 0x4000); rec_end(&ms);
    sym_begin(&ms, 0x1103); u32(&ms, (uint32_t)proc); u32(&ms, 0); u32(&ms, 4); u32(&ms, 0x14); u16(&ms, 1); sz(&ms, ""); rec_end(&ms);
    sym_begin(&ms, 0x0006); rec_end(&ms);
    size_t pend = ms.n;
    sym_begin(&ms, 0x0006); rec_end(&ms);
    memcpy(ms.b + proc + 8, &(uint32_t){(uint32_t)pend}, 4); /* pEnd */
    sym_begin(&ms, 0x110c); u32(&ms, 0x74); u32(&ms, 0x0c); u16(&ms, 2); sz(&ms, "lvar"); rec_end(&ms);
    sym_begin(&ms, 0x1102); u32(&ms, 0); u32(&ms, 0); u32(&ms, 0); u32(&ms, 0x40); u16(&ms, 1); u16(&ms, 5); u8(&ms, 0); sz(&ms, "thk"); rec_end(&ms);
    sym_begin(&ms, 0x0006); rec_end(&ms);
    uint32_t sym_bytes = (uint32_t)ms.n;
    /* 3: DBI */
    buf modi = {0};
    u32(&modi, 0);
    u16(&modi, 1); u16(&modi, 0); u32(&modi, 0); u32(&modi, 0x30); u32(&modi, 0x60000020); u16(&modi, 0); u16(&modi, 0);
    u32(&modi, 0); u32(&modi, 0);
    u16(&modi, 0); u16(&modi, 8); u32(&modi, sym_bytes); u32(&modi, 0); u32(&modi, 0); u16(&modi, 1); u16(&modi, 0);
    u32(&modi, 0); u32(&modi, 0); u32(&modi, 0);
    sz(&modi, "a.obj");
    sz(&modi, "a.lib");
    while (modi.n % 4) u8(&modi, 0);
    buf sc = {0};
    u32(&sc, 0xeffe0000u + 19970605u);
    u16(&sc, 1); u16(&sc, 0); u32(&sc, 0); u32(&sc, 0x30); u32(&sc, 0x60000020); u16(&sc, 0); u16(&sc, 0); u32(&sc, 0); u32(&sc, 0);
    buf sm = {0};
    u16(&sm, 1); u16(&sm, 1);
    u16(&sm, 0x10d); u16(&sm, 0); u16(&sm, 0); u16(&sm, 1); u16(&sm, 0xffff); u16(&sm, 0xffff); u32(&sm, 0); u32(&sm, 0x30);
    buf fi = {0};
    u16(&fi, 1); u16(&fi, 1); u16(&fi, 0); u16(&fi, 1); u32(&fi, 0); sz(&fi, "a.c");
    while (fi.n % 4) u8(&fi, 0);
    buf dh = {0};
    const uint16_t slots[11] = {9, 0xffff, 0xffff, 10, 11, 12, 0xffff, 0xffff, 0xffff, 0xffff, 13};
    for (int i = 0; i < 11; i++) u16(&dh, slots[i]);
    buf dbi = {0};
    u32(&dbi, 0xffffffffu); u32(&dbi, 19990903); u32(&dbi, 7);
    u16(&dbi, 6); u16(&dbi, 0x8e00); u16(&dbi, 5); u16(&dbi, 0); u16(&dbi, 7); u16(&dbi, 0);
    u32(&dbi, (uint32_t)modi.n); u32(&dbi, (uint32_t)sc.n); u32(&dbi, (uint32_t)sm.n); u32(&dbi, (uint32_t)fi.n);
    u32(&dbi, 0); u32(&dbi, 0); u32(&dbi, (uint32_t)dh.n); u32(&dbi, 0);
    u16(&dbi, 0); u16(&dbi, 0x14c); u32(&dbi, 0);
    put(&dbi, modi.b, modi.n);
    put(&dbi, sc.b, sc.n);
    put(&dbi, sm.b, sm.n);
    put(&dbi, fi.b, fi.n);
    put(&dbi, dh.b, dh.n);
    /* 9: FPO: 0x1010, 0x20 bytes, 2 locals, 1 param, prolog 3, 2 regs, SEH, BP, non-FPO */
    buf fpo = {0};
    u32(&fpo, 0x1010); u32(&fpo, 0x20); u32(&fpo, 2); u16(&fpo, 1);
    u16(&fpo, (uint16_t)(3 | (2 << 8) | (1 << 11) | (1 << 12) | (3 << 14)));
    /* 10, 11: OMAP (image -> source, source -> image); 12, 13: sections (image, original) */
    buf omt = {0}, omf = {0};
    u32(&omt, 0x5000); u32(&omt, 0x1000); u32(&omt, 0x9000); u32(&omt, 0x2000);
    u32(&omf, 0x1000); u32(&omf, 0x5000); u32(&omf, 0x1030); u32(&omf, 0); u32(&omf, 0x2000); u32(&omf, 0x9000);
    buf sh = {0}, sho = {0};
    const char *sn[2] = {".text", ".data"};
    const uint32_t va[2] = {0x5000, 0x9000}, vo[2] = {0x1000, 0x2000};
    for (int i = 0; i < 2; i++) {
        char name[8] = {0};
        memcpy(name, sn[i], strlen(sn[i]));
        put(&sh, name, 8); u32(&sh, 0x1000); u32(&sh, va[i]); for (int k = 0; k < 6; k++) u32(&sh, 0);
        put(&sho, name, 8); u32(&sho, 0x1000); u32(&sho, vo[i]); for (int k = 0; k < 6; k++) u32(&sho, 0);
    }
    buf tpi = {0};
    u32(&tpi, 20040203); u32(&tpi, 56); u32(&tpi, 0x1000); u32(&tpi, 0x1000); u32(&tpi, 0);
    u16(&tpi, 0xffff); u16(&tpi, 0xffff); u32(&tpi, 4); u32(&tpi, 0x3ffff);
    for (int i = 0; i < 6; i++) u32(&tpi, 0);
    buf info = {0};
    u32(&info, 20000404); u32(&info, 1); u32(&info, 7);
    for (int i = 0; i < 16; i++) u8(&info, (uint8_t)i);
    u32(&info, 0); u32(&info, 0); u32(&info, 1); u32(&info, 0); u32(&info, 0);
    buf streams[14] = {{0}, info, tpi, dbi, {0}, pub, glob, sr, ms, fpo, omt, omf, sh, sho};
    buf f = msf(streams, 14);
    for (int i = 1; i < 14; i++) free(streams[i].b);
    free(ph.b);
    free(modi.b);
    free(sc.b);
    free(sm.b);
    free(fi.b);
    free(dh.b);
    return f;
}

static void test_dbi_omap(void **state)
{
    (void)state;
    buf f = build_dbi();
    ntkd_ctx *ctx = ntkd_ctx_new();
    nk_pdb *p = NULL;
    if (nk_pdb_open_mem(ctx, "dbi.pdb", f.b, f.n, &p) != NTKD_OK) print_message("%s\n", ntkd_ctx_error(ctx));
    assert_non_null(p);
    const nk_pdb_info *in = nk_pdb_get_info(p);
    assert_true(in->dbi_present && in->dbi_new_header);
    assert_int_equal(in->machine, 0x14c);
    assert_int_equal(in->build_major, 14);
    assert_int_equal(nk_pdb_dbg_stream(p, NK_DBG_OMAP_FROM_SRC), 11);
    /* segment:offset through the original sections and OMAP */
    uint32_t rva;
    assert_true(nk_pdb_seg_to_rva(p, 1, 0x10, &rva));
    assert_int_equal(rva, 0x5010);
    assert_true(nk_pdb_seg_to_rva(p, 2, 4, &rva));
    assert_int_equal(rva, 0x9004);
    assert_false(nk_pdb_seg_to_rva(p, 1, 0x40, &rva)); /* mapped to nothing */
    assert_false(nk_pdb_seg_to_rva(p, 3, 0, &rva));    /* no such section */
    assert_true(nk_pdb_omap_map(p, false, 0x5004, &rva));
    assert_int_equal(rva, 0x1004);
    size_t n;
    assert_int_equal(nk_pdb_section_count(p, &n), NTKD_OK);
    assert_int_equal(n, 2);
    nk_pdb_section sec;
    assert_int_equal(nk_pdb_section_get(p, 1, &sec), NTKD_OK);
    assert_string_equal(sec.name, ".data");
    assert_int_equal(sec.rva, 0x9000);
    /* publics: all three; the address map holds the two with an address */
    assert_int_equal(nk_pdb_public_count(p, &n), NTKD_OK);
    assert_int_equal(n, 3);
    assert_int_equal(nk_pdb_public_addr_count(p, &n), NTKD_OK);
    assert_int_equal(n, 2);
    nk_pdb_public pb;
    uint32_t disp;
    assert_int_equal(nk_pdb_public_by_rva(p, 0x9004, &pb, &disp), NTKD_OK);
    assert_string_equal(pb.name, "bar");
    assert_int_equal(disp, 4);
    assert_int_equal(nk_pdb_public_by_rva(p, 0x5010, &pb, &disp), NTKD_OK);
    assert_string_equal(pb.name, "_foo@4");
    assert_int_equal(pb.flags, NK_PUB_FUNCTION);
    assert_int_equal(nk_pdb_public_by_rva(p, 0x4fff, &pb, &disp), NTKD_E_NOTFOUND);
    assert_int_equal(nk_pdb_public_by_name(p, "gone", &pb), NTKD_OK);
    assert_false(pb.has_rva);
    assert_int_equal(nk_pdb_public_by_name(p, "_foo@4", &pb), NTKD_OK);
    assert_int_equal(pb.rva, 0x5010);
    assert_int_equal(nk_pdb_public_by_name(p, "nothere", &pb), NTKD_E_NOTFOUND);
    /* globals */
    nk_pdb_global g;
    assert_int_equal(nk_pdb_global_by_name(p, "gvar", &g), NTKD_OK);
    assert_int_equal(g.kind, NK_S_GDATA32);
    assert_int_equal(g.rva, 0x9008);
    assert_int_equal(g.type_ti, 0x74);
    assert_int_equal(nk_pdb_global_by_name(p, "foo", &g), NTKD_OK);
    assert_int_equal(g.kind, NK_S_PROCREF);
    assert_int_equal(g.module, 0);
    assert_int_equal(g.mod_sym_off, 4);
    /* modules, files, contributions, section map */
    nk_pdb_module m;
    assert_int_equal(nk_pdb_module_count(p, &n), NTKD_OK);
    assert_int_equal(n, 1);
    assert_int_equal(nk_pdb_module_get(p, 0, &m), NTKD_OK);
    assert_string_equal(m.name, "a.obj");
    assert_string_equal(m.obj_name, "a.lib");
    assert_int_equal(m.sym_stream, 8);
    assert_int_equal(m.contrib.rva, 0x5000);
    assert_int_equal(nk_pdb_module_file_count(p, 0, &n), NTKD_OK);
    assert_int_equal(n, 1);
    assert_string_equal(nk_pdb_module_file(p, 0, 0), "a.c");
    nk_pdb_contrib c;
    assert_int_equal(nk_pdb_contrib_find(p, 0x5020, &c), NTKD_OK);
    assert_int_equal(c.size, 0x30);
    assert_int_equal(nk_pdb_contrib_find(p, 0x5030, &c), NTKD_E_NOTFOUND);
    nk_pdb_secmap smp;
    assert_int_equal(nk_pdb_secmap_count(p, &n), NTKD_OK);
    assert_int_equal(n, 1);
    assert_int_equal(nk_pdb_secmap_get(p, 0, &smp), NTKD_OK);
    assert_int_equal(smp.length, 0x30);
    /* module symbols with scope depths */
    nk_pdb_modsym_iter it;
    nk_pdb_modsym s;
    static const struct { uint16_t kind; uint32_t depth; } want[] = {
        {NK_S_GPROC32, 0}, {NK_S_FRAMEPROC, 1}, {NK_S_BLOCK32, 1}, {NK_S_END, 1}, {NK_S_END, 0},
        {NK_S_LDATA32, 0}, {NK_S_THUNK32, 0}, {NK_S_END, 0}};
    size_t k = 0;
    assert_int_equal(nk_pdb_modsyms_begin(p, 0, &it), NTKD_OK);
    while (nk_pdb_modsyms_next(&it, &s)) {
        assert_true(k < 8);
        assert_int_equal(s.kind, want[k].kind);
        assert_int_equal(s.depth, want[k].depth);
        if (s.kind == NK_S_GPROC32) {
            assert_string_equal(s.name, "foo");
            assert_int_equal(s.rva, 0x5010);
            assert_int_equal(s.length, 0x20);
        }
        if (s.kind == NK_S_LDATA32) {
            assert_string_equal(s.name, "lvar");
            assert_int_equal(s.rva, 0x900c);
        }
        if (s.kind == NK_S_THUNK32) assert_false(s.has_rva);
        k++;
    }
    assert_int_equal(it.status, NTKD_OK);
    assert_int_equal(k, 8);
    /* function extents: foo (with its frame), the unmapped thunk left out */
    assert_int_equal(nk_pdb_func_count(p, &n), NTKD_OK);
    assert_int_equal(n, 1);
    nk_pdb_func fn;
    assert_int_equal(nk_pdb_func_by_rva(p, 0x502f, &fn), NTKD_OK);
    assert_string_equal(fn.name, "foo");
    assert_true(fn.has_frame);
    assert_int_equal(fn.frame_size, 0x48);
    assert_int_equal(fn.saved_regs_size, 8);
    assert_int_equal(fn.frame_flags, 0x4000);
    assert_int_equal(nk_pdb_func_by_rva(p, 0x5030, &fn), NTKD_E_NOTFOUND);
    nk_pdb_addr_sym a;
    assert_int_equal(nk_pdb_addr_lookup(p, 0x5015, &a), NTKD_OK);
    assert_true(a.is_function);
    assert_string_equal(a.name, "foo");
    assert_int_equal(a.disp, 5);
    assert_int_equal(nk_pdb_addr_lookup(p, 0x9010, &a), NTKD_OK);
    assert_false(a.is_function);
    assert_string_equal(a.name, "bar");
    assert_int_equal(a.disp, 0x10);
    /* FPO as winnt.h lays it out */
    const nk_pdb_fpo *fp = nk_pdb_fpo_find(p, 0x1020);
    assert_non_null(fp);
    assert_int_equal(fp->start, 0x1010);
    assert_int_equal(fp->locals, 2);
    assert_int_equal(fp->params, 1);
    assert_int_equal(fp->prolog, 3);
    assert_int_equal(fp->regs, 2);
    assert_true(fp->has_seh);
    assert_true(fp->use_bp);
    assert_int_equal(fp->frame, 3);
    assert_null(nk_pdb_fpo_find(p, 0x1030));
    assert_int_equal(nk_pdb_load_all(p), NTKD_OK);
    nk_pdb_close(p);
    ntkd_ctx_free(ctx);
    free(f.b);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_leaves),
        cmocka_unit_test(test_simple_names),
        cmocka_unit_test(test_dbi_omap),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
