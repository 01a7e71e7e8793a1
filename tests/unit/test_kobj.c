/* test_kobj.c: the kernel-objects layer (src/kobj) on kernel structures this test writes
 * itself into a generated full64 dump, laid out with the offsets of a real build's table (the
 * Windows 10 19041 and Windows 7 SP1 ISF files of the corpus, read here with the ISF reader),
 * including hostile cases: a cycle that misses the head, a self loop, a link into a page the
 * dump leaves out, a corrupt type index. The facts checked are the ones this test wrote.
 *
 * How the scene lands in the dump: ntkd-gendump's full64 dump maps physical memory 0..1 GB at
 * one virtual window (manifest `map VA 0x0 1g`); nt's base is chosen so that the pages holding
 * the globals the layer reads (PsActiveProcessHead, KiProcessorBlock, ObTypeIndexTable,
 * ObHeaderCookie, ObpRootDirectoryObject, PsLoadedModuleList, KdDebuggerDataBlock) fall on data
 * pages of the dump, and the header's list heads are set to the table's RVAs so that the
 * symbol layer matches the table (as test_symbols.c's loader-list test does).
 *
 * When ntkd-genscene works, the scene tests (scene_*) run it and check the manifest's facts. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#include <cmocka.h>

#include "code/unwind.h"
#include "dump/dump.h"
#include "kobj/kobj.h"
#include "manifest.h"
#include "mem/mem.h"
#include "sym/sym.h"
#include "type/type.h"
#include "test_util.h"

#define ISFDIR NTKD_CORPUS "/isf/windows/ntkrnlmp.pdb/"
#define ISF19041 ISFDIR "5278AFF86C341677D7D7835C85B7B844-1.json.xz"
#define ISF7601 ISFDIR "339E74133576439CBCDF7E0229DA3773-1.json.xz"

/* ---- the world --------------------------------------------------------------------------- */

enum { PF_NONE = 0, PF_DATA, PF_TABLE, PF_USED };

typedef struct kw {
    char dir[64], path[128];
    uint8_t *buf;
    size_t len;
    ntkd_ctx *ctx;
    ntkd_target *t;
    ntkd_ctx *ictx;
    nk_isf *isf;
    nk_typesrc *ts;
    mf_manifest mf;
    uint64_t win;          /* VA of physical 0 */
    uint8_t pf[0x1000];    /* kinds of pfns 0..0xfff */
    uint64_t ntbase;
    uint64_t cur_pfn, cur_off; /* small-allocation page */
    bool has_cookie;
} kw;

static uint64_t rva(kw *w, const char *name)
{
    uint64_t r;
    if (!nk_isf_symbol(w->isf, name, &r)) fail_msg("the table lacks %s", name);
    return r;
}

static uint64_t tid(kw *w, const char *type)
{
    uint64_t id;
    if (!nk_type_find(w->ts, type, &id)) fail_msg("the table lacks %s", type);
    return id;
}

static uint64_t off(kw *w, const char *type, const char *field)
{
    nk_tfield f;
    if (!nk_type_field(w->ts, tid(w, type), field, &f)) fail_msg("the table lacks %s.%s", type, field);
    return f.offset;
}

static bool has(kw *w, const char *type, const char *field)
{
    nk_tfield f;
    uint64_t id;
    return nk_type_find(w->ts, type, &id) && nk_type_field(w->ts, id, field, &f);
}

static uint64_t tsize(kw *w, const char *type)
{
    nk_tinfo ti;
    assert_true(nk_type_info(w->ts, tid(w, type), &ti));
    return ti.size;
}

static void vwrite(kw *w, uint64_t va, const void *data, size_t len)
{
    const uint8_t *p = data;
    for (size_t i = 0; i < len; i++) {
        uint64_t pa, o;
        if (nk_vtop(w->t, va + i, &pa) != NTKD_OK || !nk_phys_page_off(&w->t->d, pa >> 12, &o))
            fail_msg("va %llx is not mapped in the generated dump", (unsigned long long)(va + i));
        w->buf[o + (pa & 0xfff)] = p[i];
    }
}

static void vput(kw *w, uint64_t va, unsigned bytes, uint64_t v)
{
    uint8_t b[8];
    for (unsigned i = 0; i < bytes; i++) b[i] = (uint8_t)(v >> (8 * i));
    vwrite(w, va, b, bytes);
}

/* Stores a field with the size (and bit position) the table gives it. */
static void fset(kw *w, uint64_t obj, const char *type, const char *field, uint64_t v)
{
    nk_tfield f;
    if (!nk_type_field(w->ts, tid(w, type), field, &f)) fail_msg("the table lacks %s.%s", type, field);
    nk_tinfo ti;
    assert_true(nk_type_info(w->ts, f.type, &ti));
    uint64_t size = ti.size;
    if (f.is_bitfield) {
        nk_tinfo u;
        assert_true(nk_type_info(w->ts, ti.target, &u));
        size = u.size;
        uint64_t cur = 0;
        for (unsigned i = 0; i < size; i++) {
            uint64_t pa, o;
            assert_int_equal(nk_vtop(w->t, obj + f.offset + i, &pa), NTKD_OK);
            assert_true(nk_phys_page_off(&w->t->d, pa >> 12, &o));
            cur |= (uint64_t)w->buf[o + (pa & 0xfff)] << (8 * i);
        }
        uint64_t m = (f.bit_len >= 64 ? ~0ull : ((1ull << f.bit_len) - 1)) << f.bit_pos;
        v = (cur & ~m) | ((v << f.bit_pos) & m);
    }
    if (ti.kind == NK_TK_ARRAY) {
        nk_tinfo e;
        assert_true(nk_type_info(w->ts, ti.target, &e));
        size = e.size;
    }
    assert_true(size >= 1 && size <= 8);
    vput(w, obj + f.offset, (unsigned)size, v);
}

static void ptr_at(kw *w, uint64_t va, uint64_t v) { vput(w, va, 8, v); }

/* Zeroed memory on data pages (contiguous in the window). */
static uint64_t kalloc(kw *w, uint64_t size)
{
    size = (size + 15) & ~15ull;
    uint64_t va;
    if (size <= 0x800) {
        if (!w->cur_pfn || w->cur_off + size > 0x1000) {
            uint64_t p = 0;
            for (p = 1; p < 0x1000 && w->pf[p] != PF_DATA; p++) {}
            assert_true(p < 0x1000);
            w->pf[p] = PF_USED;
            w->cur_pfn = p;
            w->cur_off = 0;
        }
        va = w->win + w->cur_pfn * 0x1000 + w->cur_off;
        w->cur_off += size;
    } else {
        uint64_t n = (size + 0xfff) / 0x1000, p;
        for (p = 1; p + n < 0x1000; p++) {
            uint64_t k = 0;
            while (k < n && w->pf[p + k] == PF_DATA) k++;
            if (k == n) break;
        }
        assert_true(p + n < 0x1000);
        for (uint64_t k = 0; k < n; k++) w->pf[p + k] = PF_USED;
        va = w->win + p * 0x1000;
    }
    uint8_t z[256] = {0};
    for (uint64_t o = 0; o < size; o += sizeof z) vwrite(w, va + o, z, size - o < sizeof z ? size - o : sizeof z);
    return va;
}

static void ustr(kw *w, uint64_t us, const char *s)
{
    size_t l = strlen(s);
    uint64_t b = kalloc(w, 2 * l + 2);
    for (size_t i = 0; i < l; i++) vput(w, b + 2 * i, 2, (uint8_t)s[i]);
    fset(w, us, "_UNICODE_STRING", "Length", 2 * l);
    fset(w, us, "_UNICODE_STRING", "MaximumLength", 2 * l + 2);
    fset(w, us, "_UNICODE_STRING", "Buffer", b);
}

static void list_init(kw *w, uint64_t head)
{
    ptr_at(w, head, head);
    ptr_at(w, head + 8, head);
}

static uint64_t rd64(kw *w, uint64_t va)
{
    uint64_t v;
    assert_int_equal(nk_read_u64(w->t, va, &v), NTKD_OK);
    return v;
}

static void list_tail(kw *w, uint64_t head, uint64_t e)
{
    uint64_t last = rd64(w, head + 8);
    ptr_at(w, e, head);
    ptr_at(w, e + 8, last);
    ptr_at(w, last, e);
    ptr_at(w, head + 8, e);
}

static const char *const GLOBALS[] = {"PsLoadedModuleList", "PsActiveProcessHead", "KdDebuggerDataBlock",
                                      "KiProcessorBlock", "ObTypeIndexTable", "ObpRootDirectoryObject",
                                      "ObHeaderCookie", NULL};
/* bytes of each global the scene writes (zeroed first): the tables whole */
static const uint64_t GSIZE[] = {16, 16, 8, 64 * 8, 256 * 8, 8, 8};

static void kw_open(kw *w, const char *isf_path)
{
    memset(w, 0, sizeof *w);
    snprintf(w->dir, sizeof w->dir, "/tmp/ntkd-kobj-XXXXXX");
    assert_non_null(mkdtemp(w->dir));
    snprintf(w->path, sizeof w->path, "%s/full.dmp", w->dir);
    char cmd[512];
    snprintf(cmd, sizeof cmd, "'%s' full64 '%s' --pages 1024 >/dev/null 2>&1", NTKD_GENDUMP, w->path);
    assert_int_equal(system(cmd), 0);
    char mp[160];
    snprintf(mp, sizeof mp, "%s.manifest", w->path);
    assert_int_equal(mf_load(&w->mf, mp), 0);
    bool win = false;
    for (size_t i = 0; i < w->mf.nmaps && !win; i++)
        if (w->mf.maps[i].size == 0x40000000ull) {
            w->win = w->mf.maps[i].va - w->mf.maps[i].pa;
            win = true;
        }
    assert_true(win);
    for (size_t i = 0; i < w->mf.nphys; i++)
        if (w->mf.phys[i].pfn < 0x1000) w->pf[w->mf.phys[i].pfn] = w->mf.phys[i].table ? PF_TABLE : PF_DATA;
    w->ictx = ntkd_ctx_new();
    assert_int_equal(nk_isf_open(w->ictx, isf_path, &w->isf), NTKD_OK);
    w->ts = nk_isf_types(w->isf);
    uint64_t r;
    w->has_cookie = nk_isf_symbol(w->isf, "ObHeaderCookie", &r);
    /* nt's base: every global's page on a data page */
    int64_t best = INT64_MIN;
    for (int64_t p = -0x1000; p < 0x1000 && best == INT64_MIN; p++) {
        bool ok = true;
        for (size_t g = 0; GLOBALS[g] && ok; g++) {
            uint64_t x;
            if (!nk_isf_symbol(w->isf, GLOBALS[g], &x)) continue;
            for (uint64_t b = x >> 12; ok && b <= (x + GSIZE[g] - 1) >> 12; b++) {
                int64_t pfn = p + (int64_t)b;
                ok = pfn > 0 && pfn < 0x1000 && (w->pf[pfn] == PF_DATA || w->pf[pfn] == PF_USED);
            }
        }
        if (ok) best = p;
    }
    assert_true(best != INT64_MIN);
    w->ntbase = w->win + (uint64_t)(best * 0x1000);
    for (size_t g = 0; GLOBALS[g]; g++) {
        uint64_t x;
        if (nk_isf_symbol(w->isf, GLOBALS[g], &x))
            for (uint64_t b = x >> 12; b <= (x + GSIZE[g] - 1) >> 12; b++) w->pf[(uint64_t)best + b] = PF_USED;
    }
    w->buf = tu_slurp(w->path, &w->len);
    assert_non_null(w->buf);
    w->ctx = ntkd_ctx_new();
    ntkd_open_opts o = {.sympath = NTKD_CORPUS "/isf"};
    assert_int_equal(ntkd_open_mem(w->ctx, "full.dmp", w->buf, w->len, &o, &w->t), NTKD_OK);
    w->t->d.ps_loaded_module_list = w->ntbase + rva(w, "PsLoadedModuleList");
    w->t->d.ps_active_process_head = w->ntbase + rva(w, "PsActiveProcessHead");
    w->t->d.kd_debugger_data_block = w->ntbase + rva(w, "KdDebuggerDataBlock");
    /* zero the globals */
    for (size_t g = 0; GLOBALS[g]; g++) {
        uint64_t x;
        if (nk_isf_symbol(w->isf, GLOBALS[g], &x))
            for (uint64_t o = 0; o < GSIZE[g]; o += 8) ptr_at(w, w->ntbase + x + o, 0);
    }
    /* the loader list: nt */
    uint64_t psl = w->ntbase + rva(w, "PsLoadedModuleList");
    list_init(w, psl);
    uint64_t id;
    const char *ldr = nk_type_find(w->ts, "_KLDR_DATA_TABLE_ENTRY", &id) ? "_KLDR_DATA_TABLE_ENTRY" : "_LDR_DATA_TABLE_ENTRY";
    uint64_t e = kalloc(w, tsize(w, ldr));
    list_tail(w, psl, e);
    fset(w, e, ldr, "DllBase", w->ntbase);
    fset(w, e, ldr, "SizeOfImage", 0x1100000);
    ustr(w, e + off(w, ldr, "BaseDllName"), "ntoskrnl.exe");
    ustr(w, e + off(w, ldr, "FullDllName"), "\\SystemRoot\\system32\\ntoskrnl.exe");
}

static void kw_close(kw *w)
{
    ntkd_close(w->t);
    ntkd_ctx_free(w->ctx);
    free(w->buf);
    nk_isf_close(w->isf);
    ntkd_ctx_free(w->ictx);
    mf_free(&w->mf);
    tu_rmdir_r(w->dir);
}

/* ---- the scene -------------------------------------------------------------------------------- */

typedef struct scene {
    uint64_t proc[3], thr[4], prcb[2];
    uint64_t types[10];          /* _OBJECT_TYPE by index */
    uint64_t root, drvdir, drv, dev[3], badobj, evt[2];
    uint64_t irp[2];
    uint64_t waitobj[2];
    uint64_t stack_base[4], stack_limit[4];
    uint64_t cpu1_rip;
} scene;

static const char *const TYPENAMES[10] = {NULL, NULL, "Type", "Directory", "SymbolicLink", "Event",
                                          "Process", "Thread", "Driver", "Device"};

/* An object: optional creator info (linked on its type's list) and name info, then the header,
 * then the body. Returns the body. */
static uint64_t object(kw *w, scene *s, unsigned tindex, const char *name, uint64_t dir, uint64_t body_size,
                       bool creator)
{
    uint64_t ci = creator ? tsize(w, "_OBJECT_HEADER_CREATOR_INFO") : 0;
    uint64_t ni = name ? tsize(w, "_OBJECT_HEADER_NAME_INFO") : 0;
    uint64_t hb = off(w, "_OBJECT_HEADER", "Body");
    uint64_t a = kalloc(w, ni + ci + hb + body_size);
    uint64_t h = a + ni + ci;
    uint8_t mask = (uint8_t)((creator ? 1 : 0) | (name ? 2 : 0));
    fset(w, h, "_OBJECT_HEADER", "PointerCount", 3);
    fset(w, h, "_OBJECT_HEADER", "HandleCount", 1);
    fset(w, h, "_OBJECT_HEADER", "InfoMask", mask);
    uint8_t stored = (uint8_t)tindex;
    if (w->has_cookie) stored = (uint8_t)(tindex ^ 0x5a ^ (uint8_t)(h >> 8));
    fset(w, h, "_OBJECT_HEADER", "TypeIndex", stored);
    if (name) {
        uint64_t n = a; /* name info: before the creator info */
        fset(w, n, "_OBJECT_HEADER_NAME_INFO", "Directory", dir);
        ustr(w, n + off(w, "_OBJECT_HEADER_NAME_INFO", "Name"), name);
    }
    if (creator && s->types[tindex])
        list_tail(w, s->types[tindex] + off(w, "_OBJECT_TYPE", "TypeList"), a + ni + off(w, "_OBJECT_HEADER_CREATOR_INFO", "TypeList"));
    return h + hb;
}

static void dir_insert(kw *w, uint64_t dir, unsigned bucket, uint64_t body)
{
    uint64_t e = kalloc(w, tsize(w, "_OBJECT_DIRECTORY_ENTRY"));
    uint64_t slot = dir + off(w, "_OBJECT_DIRECTORY", "HashBuckets") + 8ull * bucket;
    fset(w, e, "_OBJECT_DIRECTORY_ENTRY", "ChainLink", rd64(w, slot));
    fset(w, e, "_OBJECT_DIRECTORY_ENTRY", "Object", body);
    ptr_at(w, slot, e);
}

static uint64_t process(kw *w, scene *s, const char *img, uint64_t pid, uint64_t ppid)
{
    uint64_t ep = object(w, s, 6, NULL, 0, tsize(w, "_EPROCESS"), false);
    fset(w, ep, "_EPROCESS", "Pcb.Header.Type", 3); /* _KOBJECTS ProcessObject, checked below */
    fset(w, ep, "_EPROCESS", "UniqueProcessId", pid);
    fset(w, ep, "_EPROCESS", "InheritedFromUniqueProcessId", ppid);
    fset(w, ep, "_EPROCESS", "Pcb.DirectoryTableBase", w->t->d.dtb);
    fset(w, ep, "_EPROCESS", "Peb", 0x7ff600000000ull + pid);
    uint64_t n = strlen(img);
    vwrite(w, ep + off(w, "_EPROCESS", "ImageFileName"), img, n);
    list_init(w, ep + off(w, "_EPROCESS", "ThreadListHead"));
    uint64_t sess = kalloc(w, 0x40);
    fset(w, sess, "_MM_SESSION_SPACE", "SessionId", pid == 4 ? 0 : 1);
    fset(w, ep, "_EPROCESS", "Session", sess);
    list_tail(w, w->ntbase + rva(w, "PsActiveProcessHead"), ep + off(w, "_EPROCESS", "ActiveProcessLinks"));
    return ep;
}

static uint64_t thread(kw *w, scene *s, uint64_t ep, uint64_t tid_, unsigned state, unsigned reason, int k)
{
    uint64_t et = object(w, s, 7, NULL, 0, tsize(w, "_ETHREAD"), false);
    fset(w, et, "_ETHREAD", "Tcb.Header.Type", 6);
    fset(w, et, "_ETHREAD", "Cid.UniqueThread", tid_);
    fset(w, et, "_ETHREAD", "Cid.UniqueProcess", rd64(w, ep + off(w, "_EPROCESS", "UniqueProcessId")));
    fset(w, et, "_ETHREAD", "Tcb.Process", ep);
    fset(w, et, "_ETHREAD", "Tcb.State", state);
    fset(w, et, "_ETHREAD", "Tcb.WaitReason", reason);
    fset(w, et, "_ETHREAD", "Tcb.Priority", 8 + k);
    uint64_t stk = kalloc(w, 0x1000);
    s->stack_limit[k] = stk;
    s->stack_base[k] = stk + 0x1000;
    fset(w, et, "_ETHREAD", "Tcb.StackLimit", stk);
    fset(w, et, "_ETHREAD", "Tcb.StackBase", stk + 0x1000);
    fset(w, et, "_ETHREAD", "Tcb.InitialStack", stk + 0xf00);
    fset(w, et, "_ETHREAD", "Tcb.KernelStack", stk + 0xc00);
    fset(w, et, "_ETHREAD", "StartAddress", w->ntbase + 0x1000 + (uint64_t)k);
    list_init(w, et + off(w, "_ETHREAD", "IrpList"));
    list_tail(w, ep + off(w, "_EPROCESS", "ThreadListHead"), et + off(w, "_ETHREAD", "ThreadListEntry"));
    return et;
}

static void build(kw *w, scene *s)
{
    memset(s, 0, sizeof *s);
    /* object types: ObTypeIndexTable[2..9] */
    uint64_t table = w->ntbase + rva(w, "ObTypeIndexTable");
    for (unsigned i = 2; i < 10; i++) {
        s->types[i] = object(w, s, 2, TYPENAMES[i], 0, tsize(w, "_OBJECT_TYPE"), false);
        ustr(w, s->types[i] + off(w, "_OBJECT_TYPE", "Name"), TYPENAMES[i]);
        fset(w, s->types[i], "_OBJECT_TYPE", "Index", i);
        list_init(w, s->types[i] + off(w, "_OBJECT_TYPE", "TypeList"));
        ptr_at(w, table + 8ull * i, s->types[i]);
    }
    ptr_at(w, table + 8, 0xbad0b0b0ull); /* index 1: never a type */
    if (w->has_cookie) vput(w, w->ntbase + rva(w, "ObHeaderCookie"), 1, 0x5a);
    /* directories: \ and \Driver, a driver object \Driver\usbhub, two events in \ */
    s->root = object(w, s, 3, "\\", 0, tsize(w, "_OBJECT_DIRECTORY"), false);
    ptr_at(w, w->ntbase + rva(w, "ObpRootDirectoryObject"), s->root);
    s->drvdir = object(w, s, 3, "Driver", s->root, tsize(w, "_OBJECT_DIRECTORY"), false);
    dir_insert(w, s->root, 5, s->drvdir);
    s->drv = object(w, s, 8, "usbhub", s->drvdir, tsize(w, "_DRIVER_OBJECT"), true);
    ustr(w, s->drv + off(w, "_DRIVER_OBJECT", "DriverName"), "\\Driver\\usbhub");
    dir_insert(w, s->drvdir, 36, s->drv);
    s->evt[0] = object(w, s, 5, "EvOne", s->root, 0x18, true);
    s->evt[1] = object(w, s, 5, "EvTwo", s->root, 0x18, true);
    dir_insert(w, s->root, 5, s->evt[0]); /* same bucket as Driver: a chain of two */
    dir_insert(w, s->root, 0, s->evt[1]);
    /* devices: pdo <- mid <- top, all of usbhub */
    for (int i = 0; i < 3; i++) {
        s->dev[i] = object(w, s, 9, i == 0 ? "USBPDO-0" : NULL, i == 0 ? s->root : 0, tsize(w, "_DEVICE_OBJECT"), true);
        uint64_t ext = kalloc(w, tsize(w, "_DEVOBJ_EXTENSION"));
        fset(w, s->dev[i], "_DEVICE_OBJECT", "DeviceObjectExtension", ext);
        fset(w, s->dev[i], "_DEVICE_OBJECT", "DriverObject", s->drv);
        if (i) {
            fset(w, ext, "_DEVOBJ_EXTENSION", "AttachedTo", s->dev[i - 1]);
            fset(w, s->dev[i - 1], "_DEVICE_OBJECT", "AttachedDevice", s->dev[i]);
        }
    }
    dir_insert(w, s->root, 7, s->dev[0]);
    /* the driver's device list: top, mid, pdo (newest first, as IoCreateDevice links) */
    fset(w, s->drv, "_DRIVER_OBJECT", "DeviceObject", s->dev[2]);
    fset(w, s->dev[2], "_DEVICE_OBJECT", "NextDevice", s->dev[1]);
    fset(w, s->dev[1], "_DEVICE_OBJECT", "NextDevice", s->dev[0]);
    /* a corrupt type index */
    s->badobj = object(w, s, 5, NULL, 0, 0x18, false);
    uint64_t bh = s->badobj - off(w, "_OBJECT_HEADER", "Body");
    fset(w, bh, "_OBJECT_HEADER", "TypeIndex", 0xee);
    /* processes and threads */
    list_init(w, w->ntbase + rva(w, "PsActiveProcessHead"));
    s->proc[0] = process(w, s, "System", 4, 0);
    s->proc[1] = process(w, s, "smss.exe", 0x1a0, 4);
    s->proc[2] = process(w, s, "csrss.exe", 0x208, 0x1f8);
    s->thr[0] = thread(w, s, s->proc[0], 8, 5, 0, 0);
    s->thr[1] = thread(w, s, s->proc[0], 0xc, 2, 0, 1);
    s->thr[2] = thread(w, s, s->proc[1], 0x1a4, 5, 6, 2);
    s->thr[3] = thread(w, s, s->proc[2], 0x20c, 2, 0, 3);
    /* processors: KiProcessorBlock[0..1]; cpu0 runs thr[1], cpu1 runs thr[3] */
    uint64_t kpb = w->ntbase + rva(w, "KiProcessorBlock");
    for (int i = 0; i < 2; i++) {
        uint64_t pcr = kalloc(w, tsize(w, "_KPCR"));
        s->prcb[i] = pcr + off(w, "_KPCR", "Prcb");
        ptr_at(w, kpb + 8ull * i, s->prcb[i]);
        fset(w, s->prcb[i], "_KPRCB", "CurrentThread", s->thr[i == 0 ? 1 : 3]);
    }
    /* cpu1's saved context: CONTEXT.Rip (0xf8) and Rsp (0x98), documented offsets */
    uint64_t cf = s->prcb[1] + off(w, "_KPRCB", "ProcessorState.ContextFrame");
    s->cpu1_rip = w->ntbase + 0x4242;
    ptr_at(w, cf + 0xf8, s->cpu1_rip);
    ptr_at(w, cf + 0x98, s->stack_base[3] - 0x100);
    /* IRPs on thr[2]'s list */
    for (int i = 0; i < 2; i++) {
        s->irp[i] = kalloc(w, tsize(w, "_IRP"));
        list_tail(w, s->thr[2] + off(w, "_ETHREAD", "IrpList"), s->irp[i] + off(w, "_IRP", "ThreadListEntry"));
    }
    /* thr[2] waits on the two events */
    uint64_t wbs = tsize(w, "_KWAIT_BLOCK");
    uint64_t wb = s->thr[2] + off(w, "_ETHREAD", "Tcb.WaitBlock");
    s->waitobj[0] = s->evt[0];
    s->waitobj[1] = s->evt[1];
    fset(w, s->thr[2], "_ETHREAD", "Tcb.WaitBlockList", wb);
    for (int i = 0; i < 2; i++) fset(w, wb + wbs * (uint64_t)i, "_KWAIT_BLOCK", "Object", s->waitobj[i]);
    if (has(w, "_KWAIT_BLOCK", "NextWaitBlock")) {
        fset(w, wb, "_KWAIT_BLOCK", "NextWaitBlock", wb + wbs);
        fset(w, wb + wbs, "_KWAIT_BLOCK", "NextWaitBlock", wb);
    } else
        fset(w, s->thr[2], "_ETHREAD", "Tcb.WaitBlockCount", 2);
}

/* ---- list callbacks --------------------------------------------------------------------------- */

typedef struct collect {
    uint64_t v[64];
    size_t n;
} collect;

static bool collect_cb(void *u, uint64_t e)
{
    collect *c = u;
    if (c->n < 64) c->v[c->n++] = e;
    return true;
}

static bool has_v(const collect *c, uint64_t v)
{
    for (size_t i = 0; i < c->n; i++)
        if (c->v[i] == v) return true;
    return false;
}

static bool irp_cb(void *u, uint64_t irp, uint64_t thread)
{
    collect *c = u;
    if (c->n + 2 <= 64) {
        c->v[c->n++] = irp;
        c->v[c->n++] = thread;
    }
    return true;
}

/* ---- tests ------------------------------------------------------------------------------------ */

static void check_layout(const char *isf)
{
    kw w;
    kw_open(&w, isf);
    scene s;
    build(&w, &s);
    ntkd_target *t = w.t;

    /* fields */
    nk_kfield f;
    assert_int_equal(nk_k_field(t, "_EPROCESS", "UniqueProcessId", &f), NTKD_OK);
    assert_int_equal(f.off, off(&w, "_EPROCESS", "UniqueProcessId"));
    assert_int_equal(f.size, 8);
    assert_int_equal(nk_k_field(t, "_KTHREAD", "NoSuchField", &f), NTKD_E_NOTFOUND);
    assert_string_equal(ntkd_ctx_error(w.ctx), "_KTHREAD.NoSuchField is not in this build's types");
    assert_false(nk_k_has(t, "_KTHREAD", "NoSuchField"));
    assert_true(nk_k_has(t, "_ETHREAD", "Tcb.State"));
    uint64_t v;
    assert_int_equal(nk_k_sizeof(t, "_EPROCESS", &v), NTKD_OK);
    assert_int_equal(v, tsize(&w, "_EPROCESS"));
    assert_int_equal(nk_k_read(t, s.proc[1], "_EPROCESS", "UniqueProcessId", &v), NTKD_OK);
    assert_int_equal(v, 0x1a0);
    assert_int_equal(nk_k_get(t, 0xfffff6fb00000000ull, "_EPROCESS", "UniqueProcessId", 77), 77);
    assert_int_equal(nk_k_read(t, 0xfffff6fb00000000ull, "_EPROCESS", "UniqueProcessId", &v), NTKD_E_NOTPRESENT);
    assert_non_null(strstr(ntkd_ctx_error(w.ctx), "(_EPROCESS.UniqueProcessId) is not in the dump"));
    uint64_t g;
    assert_int_equal(nk_k_global(t, "PsActiveProcessHead", &g), NTKD_OK);
    assert_int_equal(g, w.ntbase + rva(&w, "PsActiveProcessHead"));
    assert_int_equal(nk_k_global_ptr(t, "ObpRootDirectoryObject", &v), NTKD_OK);
    assert_int_equal(v, s.root);
    char *str = nk_k_ustr(t, s.drv + off(&w, "_DRIVER_OBJECT", "DriverName"));
    assert_non_null(str);
    assert_string_equal(str, "\\Driver\\usbhub");
    free(str);

    /* a bitfield: _OBJECT_HEADER.KernelObject within Flags (builds that name the bits) */
    if (has(&w, "_OBJECT_HEADER", "KernelObject")) {
        nk_tfield bf;
        assert_true(nk_type_field(w.ts, tid(&w, "_OBJECT_HEADER"), "KernelObject", &bf));
        assert_true(bf.is_bitfield);
        uint64_t h = s.drv - off(&w, "_OBJECT_HEADER", "Body");
        vput(&w, h + bf.offset, 1, 1u << bf.bit_pos);
        assert_int_equal(nk_k_read(t, h, "_OBJECT_HEADER", "KernelObject", &v), NTKD_OK);
        assert_int_equal(v, 1);
        assert_int_equal(nk_k_field(t, "_OBJECT_HEADER", "KernelObject", &f), NTKD_OK);
        assert_int_equal(f.bitpos, bf.bit_pos);
        assert_int_equal(f.bitlen, 1);
        vput(&w, h + bf.offset, 1, (uint8_t)~(1u << bf.bit_pos));
        assert_int_equal(nk_k_read(t, h, "_OBJECT_HEADER", "KernelObject", &v), NTKD_OK);
        assert_int_equal(v, 0);
        vput(&w, h + bf.offset, 1, 0);
    }
    /* an array field reads its first element: _KPROCESS.DirectoryTableBase is one on x86 only;
     * here _EPROCESS.ImageFileName[0] */
    assert_int_equal(nk_k_read(t, s.proc[0], "_EPROCESS", "ImageFileName", &v), NTKD_OK);
    assert_int_equal(v, 'S');

    /* processors */
    assert_int_equal(nk_k_ncpu(t), 2); /* header says 4; KiProcessorBlock holds 2 */
    uint64_t prcb, pcr;
    assert_int_equal(nk_k_prcb(t, 1, &prcb), NTKD_OK);
    assert_int_equal(prcb, s.prcb[1]);
    assert_int_equal(nk_k_pcr(t, 1, &pcr), NTKD_OK);
    assert_int_equal(pcr, s.prcb[1] - off(&w, "_KPCR", "Prcb"));
    assert_int_not_equal(nk_k_prcb(t, 2, &prcb), NTKD_OK);

    /* processes */
    nk_kproc *ps;
    size_t np;
    assert_int_equal(nk_k_processes(t, &ps, &np, NULL), NTKD_OK);
    assert_int_equal(np, 3);
    static const char *const names[3] = {"System", "smss.exe", "csrss.exe"};
    static const uint64_t pids[3] = {4, 0x1a0, 0x208}, ppids[3] = {0, 4, 0x1f8};
    for (size_t i = 0; i < 3; i++) {
        assert_int_equal(ps[i].addr, s.proc[i]);
        assert_string_equal(ps[i].image, names[i]);
        assert_int_equal(ps[i].pid, pids[i]);
        assert_int_equal(ps[i].ppid, ppids[i]);
        assert_int_equal(ps[i].dtb, t->d.dtb);
        assert_int_equal(ps[i].peb, 0x7ff600000000ull + pids[i]);
        assert_int_equal(ps[i].session, i == 0 ? 0 : 1);
    }
    free(ps);
    nk_kproc p1;
    assert_int_equal(nk_k_process_read(t, s.proc[2], &p1), NTKD_OK);
    assert_string_equal(p1.image, "csrss.exe");
    assert_int_equal(nk_k_process_read(t, s.thr[0], &p1), NTKD_E_NOTFOUND); /* a thread is no process */

    /* threads */
    nk_kthread *ts;
    size_t nt;
    assert_int_equal(nk_k_threads(t, s.proc[0], &ts, &nt, NULL), NTKD_OK);
    assert_int_equal(nt, 2);
    assert_int_equal(ts[0].addr, s.thr[0]);
    assert_int_equal(ts[0].tid, 8);
    assert_int_equal(ts[0].state, 5);
    assert_int_equal(ts[0].cpu, -1);
    assert_int_equal(ts[1].addr, s.thr[1]);
    assert_int_equal(ts[1].cpu, 0);
    assert_int_equal(ts[1].process, s.proc[0]);
    free(ts);
    nk_kthread th;
    assert_int_equal(nk_k_thread_read(t, s.thr[2], &th), NTKD_OK);
    assert_int_equal(th.tid, 0x1a4);
    assert_int_equal(th.pid, 0x1a0);
    assert_int_equal(th.process, s.proc[1]);
    assert_int_equal(th.wait_reason, 6);
    assert_int_equal(th.priority, 10);
    assert_int_equal(th.stack_base, s.stack_base[2]);
    assert_int_equal(th.stack_limit, s.stack_limit[2]);
    assert_int_equal(th.kernel_stack, s.stack_limit[2] + 0xc00);
    assert_int_equal(th.start_address, w.ntbase + 0x1002);
    assert_int_equal(th.irp_list, s.thr[2] + off(&w, "_ETHREAD", "IrpList"));
    assert_int_equal(nk_k_thread_read(t, s.proc[0], &th), NTKD_E_NOTFOUND); /* a process is no thread */
    assert_int_equal(nk_k_thread_read(t, s.thr[3], &th), NTKD_OK);
    assert_int_equal(th.cpu, 1);
    char eb[64];
    if (has(&w, "_KTHREAD", "State") && nk_k_enum_name(t, "KTHREAD_STATE", 5, eb, sizeof eb))
        assert_string_equal(eb, "Waiting");
    assert_non_null(nk_k_enum_name(t, "_KWAIT_REASON", 6, eb, sizeof eb));
    assert_string_equal(eb, "UserRequest"); /* value 6 of the table's _KWAIT_REASON */
    uint64_t et;
    assert_int_equal(nk_k_thread_of_stack(t, s.stack_limit[2] + 0x123, &et), NTKD_OK);
    assert_int_equal(et, s.thr[2]);
    assert_int_equal(nk_k_thread_of_stack(t, s.stack_base[3] - 8, &et), NTKD_OK);
    assert_int_equal(et, s.thr[3]);
    assert_int_equal(nk_k_thread_of_stack(t, 0xfffff80012345678ull, &et), NTKD_E_NOTFOUND);
    uint64_t objs[8];
    size_t nw = nk_k_wait_objects(t, s.thr[2], objs, 8);
    assert_int_equal(nw, 2);
    assert_int_equal(objs[0], s.evt[0]);
    assert_int_equal(objs[1], s.evt[1]);

    /* thread registers: the running thread on cpu1 from its KPRCB; a waiting thread needs a
     * _KSWITCH_FRAME, which the public tables lack */
    nk_uregs r;
    assert_int_equal(nk_k_thread_regs(t, s.thr[3], &r), NTKD_OK);
    assert_int_equal(r.r[NK_UR_X64_RIP], s.cpu1_rip);
    assert_int_equal(r.r[4], s.stack_base[3] - 0x100);
    assert_int_equal(nk_k_thread_regs(t, s.thr[1], &r), NTKD_OK); /* cpu0 = the crashing one */
    uint64_t rip;
    assert_true(mf_reg(&w.mf, "rip", &rip));
    assert_int_equal(r.r[NK_UR_X64_RIP], rip);
    assert_int_equal(nk_k_thread_regs(t, s.thr[0], &r), NTKD_E_NOTFOUND);
    assert_non_null(strstr(ntkd_ctx_error(w.ctx), "_KSWITCH_FRAME is not in this build's types"));

    /* objects */
    nk_kobject o;
    assert_int_equal(nk_k_object(t, s.drv, &o), NTKD_OK);
    assert_string_equal(o.type_name, "Driver");
    assert_int_equal(o.type_index, 8);
    assert_int_equal(o.type_obj, s.types[8]);
    assert_string_equal(o.name, "usbhub");
    assert_int_equal(o.directory, s.drvdir);
    assert_int_equal(o.pointer_count, 3);
    assert_int_equal(o.handle_count, 1);
    assert_int_equal(o.info_mask, 3);
    assert_int_equal(nk_k_object(t, s.proc[1], &o), NTKD_OK);
    assert_string_equal(o.type_name, "Process");
    assert_string_equal(o.name, "");
    assert_int_equal(nk_k_object(t, s.badobj, &o), NTKD_E_FORMAT);
    assert_non_null(strstr(ntkd_ctx_error(w.ctx), "is not a valid object type"));
    uint64_t ty;
    assert_int_equal(nk_k_object_type(t, "device", &ty), NTKD_OK);
    assert_int_equal(ty, s.types[9]);
    assert_int_equal(nk_k_object_type(t, "NoSuchType", &ty), NTKD_E_NOTFOUND);
    collect c = {0};
    assert_int_equal(nk_k_objects_of_type(t, s.types[9], collect_cb, &c, NULL), NTKD_OK);
    assert_int_equal(c.n, 3);
    for (int i = 0; i < 3; i++) assert_int_equal(c.v[i], s.dev[i]);
    memset(&c, 0, sizeof c);
    assert_int_equal(nk_k_objects_of_type(t, s.types[5], collect_cb, &c, NULL), NTKD_OK);
    assert_int_equal(c.n, 2);
    memset(&c, 0, sizeof c);
    assert_int_equal(nk_k_dir_each(t, s.root, collect_cb, &c, NULL), NTKD_OK);
    assert_int_equal(c.n, 4);
    assert_true(has_v(&c, s.drvdir) && has_v(&c, s.evt[0]) && has_v(&c, s.evt[1]) && has_v(&c, s.dev[0]));
    uint64_t body;
    assert_int_equal(nk_k_lookup(t, "\\driver\\USBHUB", &body), NTKD_OK);
    assert_int_equal(body, s.drv);
    assert_int_equal(nk_k_lookup(t, "\\", &body), NTKD_OK);
    assert_int_equal(body, s.root);
    assert_int_equal(nk_k_lookup(t, "\\Driver\\nosuch", &body), NTKD_E_NOTFOUND);
    assert_int_equal(nk_k_lookup(t, "\\EvOne\\x", &body), NTKD_E_NOTFOUND); /* not a directory */
    char pb[256];
    assert_string_equal(nk_k_object_path(t, s.drv, pb, sizeof pb), "\\Driver\\usbhub");
    assert_string_equal(nk_k_object_path(t, s.evt[1], pb, sizeof pb), "\\EvTwo");
    assert_string_equal(nk_k_object_path(t, s.dev[1], pb, sizeof pb), "");

    /* I/O */
    assert_string_equal(nk_k_driver_name(t, s.drv, pb, sizeof pb), "\\Driver\\usbhub");
    assert_string_equal(nk_k_device_driver_name(t, s.dev[1], pb, sizeof pb), "\\Driver\\usbhub");
    uint64_t devs[8];
    assert_int_equal(nk_k_driver_devices(t, s.drv, devs, 8), 3);
    assert_int_equal(devs[0], s.dev[2]);
    assert_int_equal(devs[2], s.dev[0]);
    assert_int_equal(nk_k_device_stack(t, s.dev[0], devs, 8), 3);
    assert_int_equal(devs[0], s.dev[2]);
    assert_int_equal(devs[1], s.dev[1]);
    assert_int_equal(devs[2], s.dev[0]);
    assert_int_equal(nk_k_device_stack(t, s.dev[1], devs, 2), 2);
    memset(&c, 0, sizeof c);
    assert_int_equal(nk_k_thread_irps(t, s.thr[2], irp_cb, &c, NULL), NTKD_OK);
    assert_int_equal(c.n, 4);
    assert_int_equal(c.v[0], s.irp[0]);
    assert_int_equal(c.v[1], s.thr[2]);
    assert_int_equal(c.v[2], s.irp[1]);

    /* hostile lists: a cycle that misses the head, a self loop, a link into a missing page */
    uint64_t head = w.ntbase + rva(&w, "PsActiveProcessHead");
    uint64_t links = off(&w, "_EPROCESS", "ActiveProcessLinks");
    ptr_at(&w, s.proc[2] + links, s.proc[1] + links); /* csrss -> smss */
    nk_strbuf why = {0};
    memset(&c, 0, sizeof c);
    assert_int_equal(nk_k_list(t, head, 0, collect_cb, &c, &why), NTKD_E_FORMAT);
    assert_int_equal(c.n, 3); /* each entry once */
    assert_non_null(why.s);
    assert_non_null(strstr(why.s, "cycle"));
    nk_sb_free(&why);
    ptr_at(&w, s.proc[2] + links, s.proc[2] + links); /* self loop */
    nk_kproc *pp;
    assert_int_equal(nk_k_processes(t, &pp, &np, &why), NTKD_E_FORMAT);
    assert_int_equal(np, 3);
    free(pp);
    nk_sb_free(&why);
    /* the limit */
    ptr_at(&w, s.proc[2] + links, head);
    memset(&c, 0, sizeof c);
    assert_int_equal(nk_k_list(t, head, 2, collect_cb, &c, &why), NTKD_E_FORMAT);
    assert_int_equal(c.n, 2);
    assert_non_null(strstr(why.s, "more than 2 entries"));
    nk_sb_free(&why);
    /* a link into a page the dump does not hold */
    uint64_t absent = 0;
    for (size_t i = 0; i < w.mf.nabsent && !absent; i++)
        if (w.mf.absent[i] < 0x1000) absent = w.win + w.mf.absent[i] * 0x1000 + 0x10;
    assert_true(absent != 0);
    ptr_at(&w, s.proc[1] + links, absent);
    memset(&c, 0, sizeof c);
    assert_int_equal(nk_k_list(t, head, 0, collect_cb, &c, &why), NTKD_E_NOTPRESENT);
    assert_int_equal(c.n, 2);
    char ab[20];
    assert_non_null(strstr(why.s, nk_fmt_addr64(ab, absent)));
    nk_sb_free(&why);
    /* a null link */
    ptr_at(&w, s.proc[1] + links, 0);
    assert_int_equal(nk_k_list(t, head, 0, collect_cb, &c, &why), NTKD_E_FORMAT);
    assert_non_null(strstr(why.s, "null"));
    nk_sb_free(&why);
    /* a directory chain that loops */
    uint64_t slot = s.root + off(&w, "_OBJECT_DIRECTORY", "HashBuckets") + 8 * 5;
    uint64_t e1 = rd64(&w, slot);
    fset(&w, rd64(&w, e1 + off(&w, "_OBJECT_DIRECTORY_ENTRY", "ChainLink")), "_OBJECT_DIRECTORY_ENTRY", "ChainLink", e1);
    memset(&c, 0, sizeof c);
    assert_int_equal(nk_k_dir_each(t, s.root, collect_cb, &c, &why), NTKD_E_FORMAT);
    assert_non_null(strstr(why.s, "cycle"));
    nk_sb_free(&why);
    /* a type list with a self-linked object */
    uint64_t tl = s.types[9] + off(&w, "_OBJECT_TYPE", "TypeList");
    uint64_t first = rd64(&w, tl);
    ptr_at(&w, first, first);
    memset(&c, 0, sizeof c);
    assert_int_equal(nk_k_objects_of_type(t, s.types[9], collect_cb, &c, &why), NTKD_E_FORMAT);
    assert_int_equal(c.n, 1);
    nk_sb_free(&why);
    /* a device stack that loops */
    fset(&w, s.dev[2], "_DEVICE_OBJECT", "AttachedDevice", s.dev[0]);
    assert_true(nk_k_device_stack(t, s.dev[1], devs, 8) <= 3);

    kw_close(&w);
}

static void layout_19041(void **state)
{
    (void)state;
    check_layout(ISF19041);
}

static void layout_win7(void **state)
{
    (void)state;
    check_layout(ISF7601);
}

/* Without kernel types every entry point fails with a message, never a crash. */
static void no_types(void **state)
{
    (void)state;
    char dir[] = "/tmp/ntkd-kobjn-XXXXXX";
    assert_non_null(mkdtemp(dir));
    char path[128], cmd[512];
    snprintf(path, sizeof path, "%s/f.dmp", dir);
    snprintf(cmd, sizeof cmd, "'%s' full64 '%s' >/dev/null 2>&1", NTKD_GENDUMP, path);
    assert_int_equal(system(cmd), 0);
    ntkd_ctx *ctx = ntkd_ctx_new();
    ntkd_target *t;
    ntkd_open_opts o = {0};
    assert_int_equal(ntkd_open(ctx, path, &o, &t), NTKD_OK);
    nk_kfield f;
    assert_int_not_equal(nk_k_field(t, "_EPROCESS", "UniqueProcessId", &f), NTKD_OK);
    assert_non_null(strstr(ntkd_ctx_error(ctx), "nt's types are unavailable"));
    nk_kproc *ps = NULL;
    size_t n = 5;
    assert_int_not_equal(nk_k_processes(t, &ps, &n, NULL), NTKD_OK);
    assert_int_equal(n, 0);
    nk_kobject ob;
    assert_int_not_equal(nk_k_object(t, 0xfffff80000001000ull, &ob), NTKD_OK);
    nk_uregs r;
    assert_int_not_equal(nk_k_thread_regs(t, 0xfffff80000001000ull, &r), NTKD_OK);
    char b[64];
    assert_null(nk_k_enum_name(t, "_KWAIT_REASON", 0, b, sizeof b));
    ntkd_close(t);
    ntkd_ctx_free(ctx);
    tu_rmdir_r(dir);
}

/* ---- scene dumps (ntkd-genscene) ------------------------------------------------------------ */

#define SCENE_SYMPATH NTKD_CORPUS "/isf;" NTKD_CORPUS "/symstore"

typedef struct set_cb {
    uint64_t *v;
    size_t n, cap;
} set_cb;

static bool set_add_cb(void *u, uint64_t x)
{
    set_cb *s = u;
    if (s->n == s->cap) {
        s->cap = s->cap ? s->cap * 2 : 64;
        s->v = realloc(s->v, s->cap * sizeof *s->v);
        if (!s->v) return false;
    }
    s->v[s->n++] = x;
    return true;
}

static bool in_set(const set_cb *s, uint64_t x)
{
    for (size_t i = 0; i < s->n; i++)
        if (s->v[i] == x) return true;
    return false;
}

/* Every process, thread, processor and object fact of the manifest, through the layer. */
static void check_scene(const char *table, const char *scene, const char *kind)
{
    char path[128], dir[64];
    if (!tu_scene_gen("kscene", table, scene, kind, NULL, dir, sizeof dir, path, sizeof path)) fail_msg("no scene");
    char mp[160];
    snprintf(mp, sizeof mp, "%s.manifest", path);
    tu_mfile m;
    tu_mf_load(&m, mp);
    ntkd_ctx *ctx = ntkd_ctx_new();
    ntkd_target *t;
    ntkd_open_opts o = {.sympath = SCENE_SYMPATH};
    assert_int_equal(ntkd_open(ctx, path, &o, &t), NTKD_OK);
    if (!nk_k_types(t)) fail_msg("%s: %s", table, ntkd_ctx_error(ctx));

    /* processes, in list order */
    nk_kproc *ps;
    size_t np, k = 0;
    nk_strbuf why = {0};
    if (nk_k_processes(t, &ps, &np, &why) != NTKD_OK) fail_msg("processes: %s", ntkd_ctx_error(ctx));
    size_t nthreads_seen = 0;
    for (size_t i = 0; i < m.n; i++) {
        tu_mline *l = &m.l[i];
        if (strcmp(l->kind, "process")) continue;
        assert_true(k < np);
        assert_int_equal(ps[k].addr, tu_hx(l->w[0]));
        assert_int_equal(ps[k].pid, tu_hx(l->w[1]));
        assert_int_equal(ps[k].ppid, tu_hx(l->w[2]));
        assert_string_equal(ps[k].image, l->w[3]);
        assert_int_equal(ps[k].dtb, tu_hx(l->w[4]));
        assert_int_equal(ps[k].peb, tu_hx(l->w[5]));
        nk_kproc one;
        assert_int_equal(nk_k_process_read(t, ps[k].addr, &one), NTKD_OK);
        assert_int_equal(one.pid, ps[k].pid);
        /* its address space: the PEB is readable with the process's page tables */
        if (one.peb) {
            uint64_t d0 = t->d.dtb;
            uint8_t pb[8];
            size_t got = 0;
            nk_k_set_process(t, one.addr);
            assert_int_equal(t->d.dtb, one.dtb);
            if (nk_read_virt(t, one.peb, pb, sizeof pb, &got) != NTKD_OK)
                fail_msg("%s: PEB %llx unreadable in its process", one.image, (unsigned long long)one.peb);
            nk_k_set_process(t, 0);
            assert_int_equal(t->d.dtb, d0);
        }
        /* its threads: exactly the manifest's, in order */
        nk_kthread *th;
        size_t nt, q = 0;
        assert_int_equal(nk_k_threads(t, ps[k].addr, &th, &nt, NULL), NTKD_OK);
        for (size_t j = 0; j < m.n; j++) {
            tu_mline *x = &m.l[j];
            if (strcmp(x->kind, "thread") || tu_hx(x->w[1]) != ps[k].addr) continue;
            assert_true(q < nt);
            assert_int_equal(th[q].addr, tu_hx(x->w[0]));
            q++;
        }
        assert_int_equal(q, nt);
        nthreads_seen += nt;
        free(th);
        k++;
    }
    assert_int_equal(k, np);
    assert_true(np > 0);
    free(ps);
    assert_true(nthreads_seen > 0);
    /* every thread line, read by address */
    for (size_t i = 0; i < m.n; i++) {
        tu_mline *l = &m.l[i];
        if (strcmp(l->kind, "thread")) continue;
        nk_kthread th;
        uint64_t et = tu_hx(l->w[0]);
        if (nk_k_thread_read(t, et, &th) != NTKD_OK) fail_msg("thread %llx: %s", (unsigned long long)et, ntkd_ctx_error(ctx));
        assert_int_equal(th.process, tu_hx(l->w[1]));
        assert_int_equal(th.tid, tu_hx(l->w[2]));
        assert_int_equal(th.state, tu_hx(l->w[3]));
        assert_int_equal(th.wait_reason, tu_hx(l->w[4]));
        assert_int_equal(th.teb, tu_hx(l->w[5]));
        assert_int_equal(th.stack_base, tu_hx(l->w[6]));
        assert_int_equal(th.stack_limit, tu_hx(l->w[7]));
        assert_int_equal(th.kernel_stack, tu_hx(l->w[8]));
        if (th.teb) assert_true(th.has_teb_errors); /* read through the owner's page tables */
        uint64_t owner;
        assert_int_equal(nk_k_thread_of_stack(t, th.kernel_stack, &owner), NTKD_OK);
        assert_int_equal(owner, et);
        /* a waiting thread's registers: x86 from the switch frame (the return address is in a
         * module); x64 only with the build's _KSWITCH_FRAME */
        if (th.state == 5 && th.cpu < 0) {
            nk_uregs r;
            nk_status rs = nk_k_thread_regs(t, et, &r);
            if (t->d.arch == NK_ARCH_X86) {
                assert_int_equal(rs, NTKD_OK);
                assert_int_equal(r.r[4], th.kernel_stack + 0xc);
                char d[256];
                if (!nk_sym_describe(t, r.r[NK_UR_X86_EIP], d, sizeof d))
                    fail_msg("thread %llx: eip %llx is in no module", (unsigned long long)et,
                             (unsigned long long)r.r[NK_UR_X86_EIP]);
            } else if (!nk_k_has(t, "_KSWITCH_FRAME", "Return")) {
                /* no switch-frame layout in the types: the first return address above
                 * KernelStack, found by a scan and said so */
                assert_int_equal(rs, NTKD_OK);
                assert_non_null(nk_k_regs_note(t));
                assert_non_null(strstr(nk_k_regs_note(t), "_KSWITCH_FRAME"));
                assert_true(r.r[4] > th.kernel_stack && r.r[4] < th.stack_base);
                char d[256];
                if (!nk_sym_describe(t, r.r[NK_UR_X64_RIP], d, sizeof d))
                    fail_msg("thread %llx: rip %llx is in no module", (unsigned long long)et,
                             (unsigned long long)r.r[NK_UR_X64_RIP]);
            } else
                assert_int_equal(rs, NTKD_OK);
        }
    }
    /* the other processors' running threads: their KPRCB's saved context, in a module */
    for (size_t i = 0; i < m.n; i++) {
        tu_mline *l = &m.l[i];
        if (strcmp(l->kind, "prcb") || tu_hx(l->w[0]) == t->d.bugcheck_cpu) continue;
        nk_uregs r;
        if (nk_k_thread_regs(t, tu_hx(l->w[3]), &r) != NTKD_OK) fail_msg("cpu %s: %s", l->w[0], ntkd_ctx_error(ctx));
        char d[256];
        uint64_t pc = r.r[t->d.arch == NK_ARCH_X86 ? NK_UR_X86_EIP : NK_UR_X64_RIP];
        if (!nk_sym_describe(t, pc, d, sizeof d)) fail_msg("cpu %s: pc %llx in no module", l->w[0], (unsigned long long)pc);
        for (size_t j = 0; j < m.n; j++) { /* the stack pointer lies in the thread's stack */
            tu_mline *x = &m.l[j];
            if (strcmp(x->kind, "thread") || tu_hx(x->w[0]) != tu_hx(l->w[3])) continue;
            assert_true(r.r[4] >= tu_hx(x->w[7]) && r.r[4] < tu_hx(x->w[6]));
        }
    }
    /* the crashing processor's running thread: the dump's context */
    for (size_t i = 0; i < m.n; i++) {
        tu_mline *l = &m.l[i];
        if (strcmp(l->kind, "prcb") || tu_hx(l->w[0]) != t->d.bugcheck_cpu) continue;
        for (size_t j = 0; j < m.n; j++) {
            tu_mline *h = &m.l[j];
            if (strcmp(h->kind, "header") || (strcmp(h->w[0], "rip") && strcmp(h->w[0], "eip"))) continue;
            nk_uregs r;
            assert_int_equal(nk_k_thread_regs(t, tu_hx(l->w[3]), &r), NTKD_OK);
            assert_int_equal(r.r[t->d.arch == NK_ARCH_X86 ? NK_UR_X86_EIP : NK_UR_X64_RIP], tu_hx(h->w[1]));
        }
    }
    /* processors */
    unsigned ncpu = 0;
    for (size_t i = 0; i < m.n; i++) {
        tu_mline *l = &m.l[i];
        if (strcmp(l->kind, "prcb")) continue;
        unsigned cpu = (unsigned)tu_hx(l->w[0]);
        uint64_t prcb, pcr;
        assert_int_equal(nk_k_prcb(t, cpu, &prcb), NTKD_OK);
        assert_int_equal(prcb, tu_hx(l->w[1]));
        assert_int_equal(nk_k_pcr(t, cpu, &pcr), NTKD_OK);
        assert_int_equal(pcr, tu_hx(l->w[2]));
        nk_kthread th;
        assert_int_equal(nk_k_thread_read(t, tu_hx(l->w[3]), &th), NTKD_OK);
        assert_int_equal(th.cpu, (int)cpu);
        ncpu++;
    }
    assert_int_equal(nk_k_ncpu(t), ncpu);
    /* objects: type, name, directory; named objects by path; objects of each type */
    size_t nobj = 0;
    for (size_t i = 0; i < m.n; i++) {
        tu_mline *l = &m.l[i];
        if (strcmp(l->kind, "object")) continue;
        uint64_t body = tu_hx(l->w[0]);
        nk_kobject ob;
        if (nk_k_object(t, body, &ob) != NTKD_OK) fail_msg("object %llx: %s", (unsigned long long)body, ntkd_ctx_error(ctx));
        assert_string_equal(ob.type_name, l->w[1]);
        assert_string_equal(ob.name, strcmp(l->w[2], "-") ? l->w[2] : "");
        assert_int_equal(ob.directory, tu_hx(l->w[3]));
        if (strcmp(l->w[2], "-") && tu_hx(l->w[3])) {
            char pb[512];
            nk_k_object_path(t, body, pb, sizeof pb);
            uint64_t found;
            if (nk_k_lookup(t, pb, &found) != NTKD_OK) fail_msg("lookup %s: %s", pb, ntkd_ctx_error(ctx));
            assert_int_equal(found, body);
        }
        nobj++;
    }
    assert_true(nobj > 0);
    /* objects of a type: every manifest object of the type is on its list */
    static const char *const tn[] = {"Process", "Thread", "Driver", "Device", "Directory", "Type", NULL};
    for (size_t q = 0; tn[q]; q++) {
        uint64_t ty;
        if (nk_k_object_type(t, tn[q], &ty) != NTKD_OK) fail_msg("type %s: %s", tn[q], ntkd_ctx_error(ctx));
        set_cb sc = {0};
        if (nk_k_objects_of_type(t, ty, set_add_cb, &sc, NULL) != NTKD_OK)
            fail_msg("objects of %s: %s", tn[q], ntkd_ctx_error(ctx));
        size_t want = 0;
        for (size_t i = 0; i < m.n; i++) {
            tu_mline *l = &m.l[i];
            if (strcmp(l->kind, "object") || strcmp(l->w[1], tn[q])) continue;
            want++;
            if (!in_set(&sc, tu_hx(l->w[0]))) fail_msg("%s object %s is not on its type's list", tn[q], l->w[0]);
        }
        assert_int_equal(sc.n, want);
        free(sc.v);
    }
    /* type lines: the type object by name, its object count, the index its objects carry */
    for (size_t i = 0; i < m.n; i++) {
        tu_mline *l = &m.l[i];
        if (strcmp(l->kind, "type")) continue;
        uint64_t ty;
        if (nk_k_object_type(t, l->w[2], &ty) != NTKD_OK) fail_msg("type %s: %s", l->w[2], ntkd_ctx_error(ctx));
        assert_int_equal(ty, tu_hx(l->w[1]));
        set_cb sc = {0};
        assert_int_equal(nk_k_objects_of_type(t, ty, set_add_cb, &sc, NULL), NTKD_OK);
        if (sc.n != tu_hx(l->w[3]))
            fail_msg("type %s: %zu objects on its list, the scene made %s", l->w[2], sc.n, l->w[3]);
        for (size_t q = 0; q < sc.n; q++) {
            nk_kobject ob;
            assert_int_equal(nk_k_object(t, sc.v[q], &ob), NTKD_OK);
            assert_string_equal(ob.type_name, l->w[2]);
            assert_int_equal(ob.type_obj, ty);
            if (nk_k_has(t, "_OBJECT_HEADER", "TypeIndex")) assert_int_equal(ob.type_index, tu_hx(l->w[0]));
        }
        free(sc.v);
    }
    /* drivers: name and device count */
    for (size_t i = 0; i < m.n; i++) {
        tu_mline *l = &m.l[i];
        if (strcmp(l->kind, "driver")) continue;
        char nb[256];
        nk_k_driver_name(t, tu_hx(l->w[0]), nb, sizeof nb);
        assert_string_equal(nb, l->w[1]);
        uint64_t devs[64];
        assert_int_equal(nk_k_driver_devices(t, tu_hx(l->w[0]), devs, 64), tu_hx(l->w[3]));
        uint64_t found;
        assert_int_equal(nk_k_lookup(t, l->w[1], &found), NTKD_OK);
        assert_int_equal(found, tu_hx(l->w[0]));
    }
    /* IRPs queued on threads */
    for (size_t i = 0; i < m.n; i++) {
        tu_mline *l = &m.l[i];
        if (strcmp(l->kind, "irp") || !tu_hx(l->w[1])) continue;
        collect c = {0};
        assert_int_equal(nk_k_thread_irps(t, tu_hx(l->w[1]), irp_cb, &c, NULL), NTKD_OK);
        bool seen = false;
        for (size_t q = 0; q + 1 < c.n; q += 2)
            seen = seen || (c.v[q] == tu_hx(l->w[0]) && c.v[q + 1] == tu_hx(l->w[1]));
        assert_true(seen);
    }
    /* devices: driver and attachment */
    for (size_t i = 0; i < m.n; i++) {
        tu_mline *l = &m.l[i];
        if (strcmp(l->kind, "device")) continue;
        uint64_t dev = tu_hx(l->w[0]), stk[32];
        size_t n = nk_k_device_stack(t, dev, stk, 32);
        assert_true(n >= 1);
        bool seen = false;
        for (size_t q = 0; q < n; q++) seen = seen || stk[q] == dev;
        assert_true(seen);
        if (tu_hx(l->w[2])) { /* attached to: the next one down the stack */
            for (size_t q = 0; q + 1 < n; q++)
                if (stk[q] == dev) assert_int_equal(stk[q + 1], tu_hx(l->w[2]));
        }
        uint64_t devs[64];
        size_t nd = nk_k_driver_devices(t, tu_hx(l->w[1]), devs, 64);
        seen = false;
        for (size_t q = 0; q < nd; q++) seen = seen || devs[q] == dev;
        assert_true(seen);
    }
    nk_sb_free(&why);
    ntkd_close(t);
    ntkd_ctx_free(ctx);
    free(m.l);
    tu_rmdir_r(dir);
}

#define ISF1809 ISFDIR "8B11040A5928757B11390AC78F6B6925-1.json.xz"
#define ISF22000 ISFDIR "32C1A669D5FFEFD41091F636CFDB6E99-1.json.xz"
static void scene_19041_full(void **state)
{
    (void)state;
    check_scene(ISF19041, "basic", "full");
    check_scene(ISF19041, "objects", "full");
    check_scene(ISF19041, "9f", "full");
    check_scene(ISF19041, "deadlock", "full");
}
static void scene_19041_bitmap(void **state) { (void)state; check_scene(ISF19041, "basic", "bitmap"); }
static void scene_win7_full(void **state)
{
    (void)state;
    check_scene(ISF7601, "basic", "full");
    check_scene(ISF7601, "objects", "bitmap");
}
static void scene_1809_full(void **state)
{
    (void)state;
    check_scene(ISF1809, "basic", "full");
    check_scene(ISF1809, "objects", "bitmap");
}
static void scene_22000_full(void **state)
{
    (void)state;
    check_scene(ISF22000, "objects", "full");
    check_scene(ISF22000, "133", "bitmap");
}
static void hostile_variant(const char *table, const char *kind, const char *variant);
static void scene_xp_pae(void **state)
{
    (void)state;
    char table[600];
    assert_non_null(tu_xp_table(table, sizeof table));
    if (access(table, R_OK) != 0) fail_msg("no XP table at %s (pdb2isf.py at build time)", table);
    check_scene(table, "basic", "pae");
    check_scene(table, "objects", "pae");
    check_scene(table, "9f", "pae");
    hostile_variant(table, "pae", "cycle");
    hostile_variant(table, "pae", "missing");
}

/* Hostile scenes: every walker ends with a message, never a crash or a hang. */
static void scene_hostile(void **state)
{
    (void)state;
    char path[128], dir[64];
    if (!tu_scene_gen("kscene", ISF19041, "basic", "full", "--hostile all", dir, sizeof dir, path, sizeof path))
        fail_msg("no scene");
    ntkd_ctx *ctx = ntkd_ctx_new();
    ntkd_target *t;
    ntkd_open_opts o = {.sympath = SCENE_SYMPATH};
    assert_int_equal(ntkd_open(ctx, path, &o, &t), NTKD_OK);
    nk_kproc *ps;
    size_t np;
    nk_strbuf why = {0};
    nk_status st = nk_k_processes(t, &ps, &np, &why);
    if (st != NTKD_OK) assert_non_null(why.s);
    for (size_t i = 0; i < np; i++) {
        nk_kthread *th;
        size_t nt;
        nk_strbuf w2 = {0};
        nk_k_threads(t, ps[i].addr, &th, &nt, &w2);
        for (size_t k = 0; k < nt; k++) {
            nk_uregs r;
            nk_k_thread_regs(t, th[k].addr, &r);
            uint64_t objs[8];
            nk_k_wait_objects(t, th[k].addr, objs, 8);
        }
        free(th);
        nk_sb_free(&w2);
        nk_kobject ob;
        nk_k_object(t, ps[i].addr, &ob);
    }
    free(ps);
    nk_sb_free(&why);
    static const char *const tn[] = {"Process", "Thread", "Driver", "Device", "Directory", "Type", NULL};
    for (size_t q = 0; tn[q]; q++) {
        uint64_t ty;
        if (nk_k_object_type(t, tn[q], &ty) != NTKD_OK) continue;
        set_cb sc = {0};
        nk_k_objects_of_type(t, ty, set_add_cb, &sc, NULL);
        for (size_t i = 0; i < sc.n; i++) {
            nk_kobject ob;
            nk_k_object(t, sc.v[i], &ob);
        }
        free(sc.v);
    }
    /* the hostile facts: a broken type index is reported as such */
    char mp[160];
    snprintf(mp, sizeof mp, "%s.manifest", path);
    tu_mfile m;
    tu_mf_load(&m, mp);
    for (size_t i = 0; i < m.n; i++) {
        tu_mline *l = &m.l[i];
        if (strcmp(l->kind, "hostile")) continue;
        if (strstr(l->w[0], "type")) {
            nk_kobject ob;
            if (nk_k_object(t, tu_hx(l->w[1]), &ob) == NTKD_OK)
                fail_msg("hostile %s %s: decoded as %s", l->w[0], l->w[1], ob.type_name);
        }
    }
    free(m.l);
    ntkd_close(t);
    ntkd_ctx_free(ctx);
    tu_rmdir_r(dir);
}

/* One hostile variant: the walk of each broken list ends with the status and a message naming
 * the place. */
static void hostile_variant(const char *table, const char *kind, const char *variant)
{
    char path[128], dir[64], extra[64];
    snprintf(extra, sizeof extra, "--hostile %s", variant);
    if (!tu_scene_gen("kscene", table, "basic", kind, extra, dir, sizeof dir, path, sizeof path)) fail_msg("no scene");
    char mp[160];
    snprintf(mp, sizeof mp, "%s.manifest", path);
    tu_mfile m;
    tu_mf_load(&m, mp);
    ntkd_ctx *ctx = ntkd_ctx_new();
    ntkd_target *t;
    ntkd_open_opts o = {.sympath = SCENE_SYMPATH};
    assert_int_equal(ntkd_open(ctx, path, &o, &t), NTKD_OK);
    size_t checked = 0;
    for (size_t i = 0; i < m.n; i++) {
        tu_mline *l = &m.l[i];
        if (strcmp(l->kind, "hostile")) continue;
        const char *what = l->w[0];
        uint64_t a = tu_hx(l->w[1]);
        nk_strbuf why = {0};
        if (!strcmp(what, "process_cycle") || !strcmp(what, "missing_process_link")) {
            nk_kproc *ps;
            size_t np;
            nk_status st = nk_k_processes(t, &ps, &np, &why);
            assert_int_equal(st, what[0] == 'p' ? NTKD_E_FORMAT : NTKD_E_NOTPRESENT);
            assert_non_null(why.s);
            assert_non_null(strstr(why.s, what[0] == 'p' ? "cycle" : "not in the dump"));
            assert_true(np > 0);
            free(ps);
            checked++;
        } else if (!strcmp(what, "thread_cycle")) {
            nk_kthread th;
            assert_int_equal(nk_k_thread_read(t, a, &th), NTKD_OK);
            nk_kthread *tv;
            size_t nt;
            assert_int_equal(nk_k_threads(t, th.process, &tv, &nt, &why), NTKD_E_FORMAT);
            assert_non_null(strstr(why.s, "cycle"));
            free(tv);
            checked++;
        } else if (!strcmp(what, "badtype")) {
            nk_kobject ob;
            assert_int_equal(nk_k_object(t, a, &ob), NTKD_E_FORMAT);
            assert_non_null(strstr(ntkd_ctx_error(ctx), "is not a valid object type"));
            checked++;
        } else if (!strcmp(what, "device_cycle")) {
            uint64_t stk[64];
            assert_true(nk_k_device_stack(t, a, stk, 64) < 64);
            checked++;
        }
        nk_sb_free(&why);
    }
    assert_true(checked > 0);
    free(m.l);
    ntkd_close(t);
    ntkd_ctx_free(ctx);
    tu_rmdir_r(dir);
}

static void scene_hostile_cycle(void **state)
{
    (void)state;
    hostile_variant(ISF19041, "full", "cycle");
    hostile_variant(ISF7601, "bitmap", "cycle");
}
static void scene_hostile_missing(void **state)
{
    (void)state;
    hostile_variant(ISF19041, "full", "missing");
    hostile_variant(ISF22000, "full", "missing");
}
static void scene_hostile_badtype(void **state)
{
    (void)state;
    hostile_variant(ISF19041, "full", "badtype");
    hostile_variant(ISF1809, "full", "badtype");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(layout_19041),
        cmocka_unit_test(layout_win7),
        cmocka_unit_test(no_types),
        cmocka_unit_test(scene_19041_full),
        cmocka_unit_test(scene_19041_bitmap),
        cmocka_unit_test(scene_win7_full),
        cmocka_unit_test(scene_1809_full),
        cmocka_unit_test(scene_22000_full),
        cmocka_unit_test(scene_xp_pae),
        cmocka_unit_test(scene_hostile),
        cmocka_unit_test(scene_hostile_cycle),
        cmocka_unit_test(scene_hostile_missing),
        cmocka_unit_test(scene_hostile_badtype),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
