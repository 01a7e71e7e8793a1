/* ob.c: the object manager of a scene: object types in ObTypeIndexTable, object headers with
 * their optional headers, directories, symbolic links.
 *
 * Facts (public sources; every offset comes from the layout):
 *  - Windows 7 and later: _OBJECT_HEADER.TypeIndex indexes nt!ObTypeIndexTable (slot 0 NULL,
 *    slot 1 the marker 0xbad0b0b0, real types from 2, the type of types first). The optional
 *    headers lie before the header, highest InfoMask bit lowest in memory; the distance from the
 *    header back to the optional header of bit B is ObpInfoMaskToOffset[InfoMask & (B | (B-1))],
 *    i.e. the sum of the sizes of the present headers of bit B and below (volatility3
 *    framework/symbols/windows/extensions/pool.py OBJECT_HEADER.NameInfo, codemachine.com
 *    "Windows 7 object headers"). Bits in order: CREATOR 0x1, NAME 0x2, HANDLE 0x4, QUOTA 0x8,
 *    PROCESS 0x10, then (when the build has them) AUDIT, EXTENDED (HANDLE_REVOCATION on 10586),
 *    PADDING — the order volatility3 uses (_calculate_optional_header_lengths). The scene writes
 *    ObpInfoMaskToOffset itself so a reader may use either rule.
 *  - Windows 10+: the stored TypeIndex is index ^ ObHeaderCookie ^ ((header >> 8) & 0xff)
 *    (volatility3 OBJECT_HEADER.get_object_type).
 *  - Windows XP: _OBJECT_HEADER.Type points at the _OBJECT_TYPE; NameInfoOffset (and Handle/
 *    QuotaInfoOffset) are byte distances back from the header; the creator info, when
 *    Flags & OB_FLAG_CREATOR_INFO (0x04), lies directly before the header.
 *  - Directories: 37 hash buckets of _OBJECT_DIRECTORY_ENTRY chains. The bucket is chosen with
 *    the classic object-manager hash of the upcased name (h += (h << 1) + (h >> 1) + upcase(c)
 *    for each character, bucket = h % 37, as ReactOS's ObpLookupEntryDirectory computes it).
 *    Later builds may hash differently; a reader must walk every bucket anyway, so the bucket
 *    is a hint only. HashValue (where present) holds h.
 * State: the generator builds one scene per process; this file keeps its bookkeeping in one
 * static registry (not libntkd code). */
#include "scene.h"

#include <ctype.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#define OB_MAXTYPES 64
#define OB_BUCKETS 37
#define OB_TYPE_MARKER 0xbad0b0b0u

typedef struct ob_typ {
    char name[40];
    uint64_t addr;
    unsigned index;
} ob_typ;

typedef struct ob_named {
    uint64_t dir, body;
    char name[96];
} ob_named;

static struct {
    kern *k;
    bool booting;
    bool xp;              /* header has a Type pointer (no TypeIndex) */
    bool cookie_on;       /* build has ObHeaderCookie */
    uint8_t cookie;
    unsigned nopt;        /* optional headers present in the build */
    uint64_t opt_size[9]; /* their sizes, bit i */
    const char *opt_name[9];
    ob_typ types[OB_MAXTYPES];
    unsigned ntypes;
    ob_named *named;
    size_t nnamed, capnamed;
    uint64_t root, typedir;
} S;

void io_finish(kern *k);
void ex_finish(kern *k);

static uint64_t up(uint64_t v, uint64_t a) { return (v + a - 1) / a * a; }

static const struct {
    const char *type, *global;
} type_globals[] = {
    {"Type", "ObpTypeObjectType"},
    {"Type", "ObTypeObjectType"},
    {"Directory", "ObpDirectoryObjectType"},
    {"SymbolicLink", "ObpSymbolicLinkObjectType"},
    {"Process", "PsProcessType"},
    {"Thread", "PsThreadType"},
    {"Job", "PsJobType"},
    {"Device", "IoDeviceObjectType"},
    {"Driver", "IoDriverObjectType"},
    {"File", "IoFileObjectType"},
    {"Event", "ExEventObjectType"},
    {"Semaphore", "ExSemaphoreObjectType"},
    {"Mutant", "ExMutantObjectType"},
    {"Timer", "ExTimerObjectType"},
    {"Key", "CmKeyObjectType"},
    {"Token", "SeTokenObjectType"},
};

/* The object-manager name hash (see the file comment). */
static uint32_t ob_hash(const char *name)
{
    uint32_t h = 0;
    for (const unsigned char *p = (const unsigned char *)name; *p; p++)
        h += (h << 1) + (h >> 1) + (uint32_t)toupper(*p);
    return h;
}

static void ob_boot(kern *k);

static void ob_state(kern *k)
{
    if (S.k == k)
        return;
    free(S.named);
    memset(&S, 0, sizeof S);
    S.k = k;
    const lay *L = k->L;
    S.xp = lay_off(L, "_OBJECT_HEADER", "TypeIndex") < 0;
    static const char *const names[] = {"_OBJECT_HEADER_CREATOR_INFO", "_OBJECT_HEADER_NAME_INFO",
                                        "_OBJECT_HEADER_HANDLE_INFO", "_OBJECT_HEADER_QUOTA_INFO",
                                        "_OBJECT_HEADER_PROCESS_INFO", "_OBJECT_HEADER_AUDIT_INFO",
                                        "_OBJECT_HEADER_EXTENDED_INFO",
                                        "_OBJECT_HEADER_HANDLE_REVOCATION_INFO",
                                        "_OBJECT_HEADER_PADDING_INFO"};
    for (size_t i = 0; i < sizeof names / sizeof names[0] && S.nopt < 8; i++) {
        if (!lay_has_type(L, names[i]))
            continue;
        S.opt_name[S.nopt] = names[i];
        S.opt_size[S.nopt++] = lay_size(L, names[i]);
    }
    if (S.nopt < 2 || strcmp(S.opt_name[0], "_OBJECT_HEADER_CREATOR_INFO") != 0 ||
        strcmp(S.opt_name[1], "_OBJECT_HEADER_NAME_INFO") != 0)
        sc_die("ob: the table lacks _OBJECT_HEADER_CREATOR_INFO/_OBJECT_HEADER_NAME_INFO");
    if (!S.xp) {
        uint64_t c = k_sym_opt(k, "ObHeaderCookie");
        if (c != SC_NONE) {
            S.cookie_on = true;
            uint64_t x = k->base ^ (k->base >> 13) ^ (k->base >> 29) ^ 0x5au;
            S.cookie = (uint8_t)((x * 0x9du) & 0xff);
            if (S.cookie == 0)
                S.cookie = 0xa7;
            w_put(k->w, c, 1, S.cookie);
        }
        uint64_t t = k_sym_opt(k, "ObpInfoMaskToOffset");
        if (t != SC_NONE) {
            uint8_t tab[256];
            for (unsigned m = 0; m < 256; m++) {
                uint64_t s = 0;
                for (unsigned b = 0; b < S.nopt; b++)
                    if (m & (1u << b))
                        s += S.opt_size[b];
                tab[m] = (uint8_t)s;
            }
            w_write(k->w, t, tab, sizeof tab);
        }
    }
    ob_boot(k);
}

static ob_typ *type_find(const char *name)
{
    for (unsigned i = 0; i < S.ntypes; i++)
        if (strcmp(S.types[i].name, name) == 0)
            return &S.types[i];
    return NULL;
}

static const ob_named *named_find(uint64_t dir, const char *name)
{
    for (size_t i = 0; i < S.nnamed; i++)
        if (S.named[i].dir == dir && strcasecmp(S.named[i].name, name) == 0)
            return &S.named[i];
    return NULL;
}

/* Links `body` (whose name info already names `dir`) into the directory's hash chains. */
static void dir_insert(kern *k, uint64_t dir, uint64_t body, const char *name)
{
    world *w = k->w;
    const lay *L = k->L;
    unsigned P = w_ptr(w);
    uint32_t h = ob_hash(name);
    uint64_t bucket = dir + lay_off_req(L, "_OBJECT_DIRECTORY", "HashBuckets") + (h % OB_BUCKETS) * P;
    uint64_t e = w_alloc(w, lay_size(L, "_OBJECT_DIRECTORY_ENTRY"), 0);
    w_set(w, e, "_OBJECT_DIRECTORY_ENTRY", "ChainLink", w_get(w, bucket, P));
    w_set(w, e, "_OBJECT_DIRECTORY_ENTRY", "Object", body);
    w_try(w, e, "_OBJECT_DIRECTORY_ENTRY", "HashValue", h);
    w_pointer(w, bucket, e);
    if (S.nnamed == S.capnamed) {
        S.capnamed = S.capnamed ? S.capnamed * 2 : 256;
        ob_named *n = realloc(S.named, S.capnamed * sizeof *n);
        if (!n)
            sc_die("ob: out of memory");
        S.named = n;
    }
    ob_named *n = &S.named[S.nnamed++];
    n->dir = dir;
    n->body = body;
    snprintf(n->name, sizeof n->name, "%s", name);
}

/* The object itself: pool header, creator info, name info, header, body. */
static uint64_t ob_new(kern *k, ob_typ *t, const char *name, uint64_t dir, uint64_t body_size,
                       bool quiet)
{
    world *w = k->w;
    const lay *L = k->L;
    unsigned P = w_ptr(w);
    uint64_t align = P == 8 ? 16 : 8;
    uint64_t hsize = lay_off_req(L, "_OBJECT_HEADER", "Body");
    uint64_t creator = S.opt_size[0], nsize = name ? S.opt_size[1] : 0;
    uint64_t opt = creator + nsize;
    uint64_t pool = lay_has_type(L, "_POOL_HEADER") ? lay_size(L, "_POOL_HEADER") : 0;
    if (body_size < P)
        body_size = P;
    uint64_t total = up(pool + opt + hsize + body_size, align);
    uint64_t base = w_alloc(w, total, align);
    uint64_t hdr = base + pool + opt, body = hdr + hsize;
    if (!t->addr) { /* the type of types describes itself */
        t->addr = body;
        w_list_init(w, body + lay_off_req(L, "_OBJECT_TYPE", "TypeList"));
    }

    if (pool) {
        w_try(w, base, "_POOL_HEADER", "BlockSize", total / align);
        /* NonPagedPool as the pool header stores it: 2 on Vista+, 1 on XP */
        w_try(w, base, "_POOL_HEADER", "PoolType", S.xp ? 1 : 2);
        w_try(w, base, "_POOL_HEADER", "PoolTag", sc_tag(t->name));
    }
    w_set(w, hdr, "_OBJECT_HEADER", "PointerCount", name ? 2 : 1);
    w_set(w, hdr, "_OBJECT_HEADER", "HandleCount", 0);
    if (S.xp) {
        w_set(w, hdr, "_OBJECT_HEADER", "Type", t->addr);
        if (name)
            w_set(w, hdr, "_OBJECT_HEADER", "NameInfoOffset", opt);
        w_set(w, hdr, "_OBJECT_HEADER", "Flags", 0x04 | 0x02); /* CREATOR_INFO | KERNEL_OBJECT */
    } else {
        uint8_t ti = (uint8_t)t->index;
        if (S.cookie_on)
            ti ^= (uint8_t)(S.cookie ^ ((hdr >> 8) & 0xff));
        w_set(w, hdr, "_OBJECT_HEADER", "TypeIndex", ti);
        w_set(w, hdr, "_OBJECT_HEADER", "InfoMask", name ? 0x3 : 0x1);
        w_set(w, hdr, "_OBJECT_HEADER", "Flags", 0x02); /* KernelObject */
    }
    /* creator info, directly before the header; linked on the type's object list */
    uint64_t ci = hdr - creator;
    uint64_t head = t->addr + lay_off_req(L, "_OBJECT_TYPE", "TypeList");
    w_list_tail(w, head, ci + lay_off_req(L, "_OBJECT_HEADER_CREATOR_INFO", "TypeList"));
    w_try(w, ci, "_OBJECT_HEADER_CREATOR_INFO", "CreatorUniqueProcess", 4);
    if (name) {
        uint64_t ni = hdr - opt;
        w_set(w, ni, "_OBJECT_HEADER_NAME_INFO", "Directory", dir);
        w_ustr(w, ni + lay_off_req(L, "_OBJECT_HEADER_NAME_INFO", "Name"), name);
        w_try(w, ni, "_OBJECT_HEADER_NAME_INFO", "ReferenceCount", 0);
    }
    uint64_t n = w_field(w, t->addr, "_OBJECT_TYPE", "TotalNumberOfObjects") + 1;
    w_set(w, t->addr, "_OBJECT_TYPE", "TotalNumberOfObjects", n);
    w_try(w, t->addr, "_OBJECT_TYPE", "HighWaterNumberOfObjects", n);
    if (name && dir)
        dir_insert(k, dir, body, name);
    if (!quiet)
        mf("object 0x%llx %s %s 0x%llx", (unsigned long long)body, t->name, name ? name : "-",
           (unsigned long long)(name ? dir : 0));
    return body;
}

/* A type object; the type of types must exist first (except when creating it). */
static ob_typ *type_new(kern *k, const char *name)
{
    world *w = k->w;
    const lay *L = k->L;
    if (S.ntypes >= OB_MAXTYPES)
        sc_die("ob: too many object types");
    ob_typ *t = &S.types[S.ntypes];
    snprintf(t->name, sizeof t->name, "%s", name);
    t->index = S.ntypes + (S.xp ? 1 : 2); /* XP numbers types from 1, 7+ from 2 */
    t->addr = 0;
    S.ntypes++;
    if (S.ntypes == 1) {
        ob_new(k, t, name, S.typedir, lay_size(L, "_OBJECT_TYPE"), S.booting);
    } else {
        uint64_t body =
            ob_new(k, &S.types[0], name, S.typedir, lay_size(L, "_OBJECT_TYPE"), S.booting);
        t->addr = body;
        w_list_init(w, t->addr + lay_off_req(L, "_OBJECT_TYPE", "TypeList"));
    }
    uint64_t o = t->addr;
    w_ustr(w, o + lay_off_req(L, "_OBJECT_TYPE", "Name"), name);
    w_try(w, o, "_OBJECT_TYPE", "Index", t->index);
    w_try(w, o, "_OBJECT_TYPE", "Key", sc_tag(name));
    w_try(w, o, "_OBJECT_TYPE", "TypeInfo.Length", lay_has_type(L, "_OBJECT_TYPE_INITIALIZER")
                                                         ? lay_size(L, "_OBJECT_TYPE_INITIALIZER")
                                                         : 0);
    w_try(w, o, "_OBJECT_TYPE", "TypeInfo.MaintainTypeList", 1);
    w_try(w, o, "_OBJECT_TYPE", "TypeInfo.PoolType", 0);
    int64_t cl = lay_off(L, "_OBJECT_TYPE", "CallbackList");
    if (cl >= 0)
        w_list_init(w, o + (uint64_t)cl);
    /* ObTypeIndexTable slot */
    uint64_t tab = k_sym_opt(k, "ObTypeIndexTable");
    if (tab != SC_NONE)
        w_pointer(w, tab + (uint64_t)t->index * w_ptr(w), o);
    for (size_t i = 0; i < sizeof type_globals / sizeof type_globals[0]; i++) {
        if (strcmp(type_globals[i].type, name) != 0)
            continue;
        uint64_t g = k_sym_opt(k, type_globals[i].global);
        if (g != SC_NONE) {
            w_pointer(w, g, o);
        }
    }
    return t;
}

static uint64_t dir_new(kern *k, const char *name, uint64_t parent)
{
    ob_typ *t = type_find("Directory");
    return ob_new(k, t, name, parent, lay_size(k->L, "_OBJECT_DIRECTORY"), false);
}

static void ob_boot(kern *k)
{
    world *w = k->w;
    S.booting = true;
    uint64_t tab = k_sym_opt(k, "ObTypeIndexTable");
    if (tab != SC_NONE) {
        w_pointer(w, tab + w_ptr(w), OB_TYPE_MARKER);
    }
    type_new(k, "Type");
    type_new(k, "Directory");
    type_new(k, "SymbolicLink");
    /* the root directory (named "\") and \ObjectTypes */
    S.root = dir_new(k, "\\", 0);
    uint64_t g = k_sym_opt(k, "ObpRootDirectoryObject");
    if (g != SC_NONE) {
        w_pointer(w, g, S.root);
    }
    S.typedir = dir_new(k, "ObjectTypes", S.root);
    g = k_sym_opt(k, "ObpTypeDirectoryObject");
    if (g != SC_NONE) {
        w_pointer(w, g, S.typedir);
    }
    uint64_t hsize = lay_off_req(k->L, "_OBJECT_HEADER", "Body");
    for (unsigned i = 0; i < S.ntypes; i++) {
        uint64_t o = S.types[i].addr;
        uint64_t ni = o - hsize - S.opt_size[0] - S.opt_size[1];
        w_set(w, ni, "_OBJECT_HEADER_NAME_INFO", "Directory", S.typedir);
        dir_insert(k, S.typedir, o, S.types[i].name);
        mf("object 0x%llx Type %s 0x%llx", (unsigned long long)o, S.types[i].name,
           (unsigned long long)S.typedir);
    }
    S.booting = false;
}

uint64_t ob_type(kern *k, const char *name)
{
    ob_state(k);
    ob_typ *t = type_find(name);
    if (!t)
        t = type_new(k, name);
    return t->addr;
}

static uint64_t ob_make(kern *k, const char *type, const char *name, uint64_t dir,
                        uint64_t body_size)
{
    ob_state(k);
    ob_type(k, type);
    ob_typ *t = type_find(type);
    return ob_new(k, t, name, dir, body_size, false);
}

uint64_t ob_create(kern *k, const char *type, const char *name, uint64_t dir, uint64_t body_size)
{
    uint64_t body = ob_make(k, type, name, dir, body_size);
    /* dispatcher objects start as such */
    world *w = k->w;
    static const struct {
        const char *type;
        unsigned dtype, size;
    } disp[] = {{"Event", 0, 0x18}, {"Semaphore", 5, 0x20}, {"Mutant", 2, 0x38}, {"Timer", 8, 0x40}};
    for (size_t i = 0; i < sizeof disp / sizeof disp[0]; i++) {
        if (strcmp(disp[i].type, type) != 0)
            continue;
        w_set(w, body, "_DISPATCHER_HEADER", "Type", disp[i].dtype);
        w_try(w, body, "_DISPATCHER_HEADER", "Size", disp[i].size / 4);
        w_list_init(w, body + lay_off_req(k->L, "_DISPATCHER_HEADER", "WaitListHead"));
        if (strcmp(type, "Semaphore") == 0)
            w_try(w, body, "_KSEMAPHORE", "Limit", 0x7fffffff);
    }
    return body;
}

uint64_t ob_alloc(kern *k, const char *type, const char *name, uint64_t dir, uint64_t body_size)
{
    return ob_make(k, type, name, dir, body_size);
}

uint64_t ob_root(kern *k)
{
    ob_state(k);
    return S.root;
}

uint64_t ob_dir(kern *k, uint64_t parent, const char *name)
{
    ob_state(k);
    if (!parent)
        parent = S.root;
    const ob_named *n = named_find(parent, name);
    if (n)
        return n->body;
    return dir_new(k, name, parent);
}

void ob_symlink(kern *k, uint64_t dir, const char *name, const char *target)
{
    ob_state(k);
    if (!dir)
        dir = S.root;
    uint64_t o = ob_make(k, "SymbolicLink", name, dir, lay_size(k->L, "_OBJECT_SYMBOLIC_LINK"));
    w_set(k->w, o, "_OBJECT_SYMBOLIC_LINK", "CreationTime", 0x01d9a0c0e2b4c000ull);
    w_ustr(k->w, o + lay_off_req(k->L, "_OBJECT_SYMBOLIC_LINK", "LinkTarget"), target);
}

uint64_t ob_path(kern *k, const char *path, char *leaf, size_t leafsz)
{
    /* "\A\B\C" -> directory \A\B (created on first use), leaf "C" */
    ob_state(k);
    uint64_t dir = S.root;
    const char *p = path;
    while (*p == '\\')
        p++;
    for (;;) {
        const char *s = strchr(p, '\\');
        if (!s) {
            snprintf(leaf, leafsz, "%s", p);
            return dir;
        }
        char part[96];
        size_t n = (size_t)(s - p);
        if (n >= sizeof part)
            n = sizeof part - 1;
        memcpy(part, p, n);
        part[n] = 0;
        dir = ob_dir(k, dir, part);
        p = s + 1;
    }
}

void ob_finish(kern *k)
{
    if (S.k == k) {
        for (unsigned i = 0; i < S.ntypes; i++)
            mf("type 0x%x 0x%llx %s 0x%llx", S.types[i].index, (unsigned long long)S.types[i].addr,
               S.types[i].name,
               (unsigned long long)w_field(k->w, S.types[i].addr, "_OBJECT_TYPE",
                                           "TotalNumberOfObjects"));
    }
    io_finish(k);
    ex_finish(k);
}
