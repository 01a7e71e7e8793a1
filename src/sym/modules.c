/* modules.c: the symbol layer's module table. Built once per target (and again on
 * `.reload`) from the container's module list (triage driver list, minidump module list,
 * the image of an image target) or, for full/summary/bitmap kernel dumps, by walking
 * PsLoadedModuleList as a list of _KLDR_DATA_TABLE_ENTRY with offsets from nt's types.
 * Display names follow WinDbg: "nt" for the kernel image, "hal" for the HAL, else the file
 * name without its extension (characters other than letters, digits and '_' become '_';
 * a repeated name gets the base appended). */
#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <strings.h>

#include "mem/mem.h"
#include "sym/sym_int.h"

#define MAX_LDR_ENTRIES 4096
#define MAX_NAME_BYTES 1024

static const char *base_of(const char *path)
{
    const char *b = path;
    for (const char *p = path; *p; p++)
        if (*p == '\\' || *p == '/') b = p + 1;
    return b;
}

bool nk_sym_is_kernel_file(const char *file)
{
    const char *b = base_of(file);
    static const char *const k[] = {"ntoskrnl.exe", "ntkrnlmp.exe", "ntkrnlpa.exe", "ntkrpamp.exe",
                                    "ntkrla57.exe"};
    for (size_t i = 0; i < sizeof k / sizeof k[0]; i++)
        if (!strcasecmp(b, k[i])) return true;
    return false;
}

char *nk_sym_display_name(const char *file, char *buf, size_t len)
{
    const char *b = base_of(file);
    if (nk_sym_is_kernel_file(b)) {
        snprintf(buf, len, "nt");
        return buf;
    }
    size_t n = strlen(b);
    if (n > 4 && !strncasecmp(b, "hal", 3) && strncasecmp(b, "halext", 6) && !strcasecmp(b + n - 4, ".dll")) {
        snprintf(buf, len, "hal");
        return buf;
    }
    const char *dot = strrchr(b, '.');
    size_t keep = dot && dot != b ? (size_t)(dot - b) : n;
    if (keep >= len) keep = len - 1;
    for (size_t i = 0; i < keep; i++) {
        unsigned char c = (unsigned char)b[i];
        buf[i] = (char)(isalnum(c) || c == '_' || c >= 0x80 ? c : '_');
    }
    buf[keep] = 0;
    if (!keep) snprintf(buf, len, "module");
    return buf;
}

static bool kernel_address(const ntkd_target *t, uint64_t a)
{
    return t->d.is64 ? (a >> 63) != 0 : a >= 0x80000000u;
}

static nk_smod *add_mod(nk_symlayer *L)
{
    if (!nk_grow((void **)&L->mods, &L->cap, L->nmods + 1, sizeof *L->mods)) return NULL;
    nk_smod *m = &L->mods[L->nmods++];
    memset(m, 0, sizeof *m);
    m->dm = -1;
    return m;
}

/* Gives every module its display name, making repeated names unique. */
static void name_modules(nk_symlayer *L)
{
    for (size_t i = 0; i < L->nmods; i++) {
        nk_smod *m = &L->mods[i];
        if (m->name) continue;
        char buf[256];
        nk_sym_display_name(m->image_name ? m->image_name : "module", buf, sizeof buf);
        if (m->unloaded) { /* unloaded modules are listed by file name, outside the namespace */
            m->name = strdup(buf);
            continue;
        }
        bool dup = false;
        for (size_t j = 0; j < i && !dup; j++)
            if (!L->mods[j].unloaded && L->mods[j].name && !strcasecmp(L->mods[j].name, buf)) dup = true;
        if (dup) {
            size_t l = strlen(buf);
            snprintf(buf + l, sizeof buf - l, "_%llx", (unsigned long long)m->base);
        }
        m->name = strdup(buf);
    }
}

static int order_cmp_base(const nk_smod *a, const nk_smod *b)
{
    return a->base < b->base ? -1 : a->base > b->base;
}

static void build_order(nk_symlayer *L)
{
    free(L->order);
    L->order = malloc((L->nmods ? L->nmods : 1) * sizeof *L->order);
    L->norder = 0;
    if (!L->order) return;
    for (size_t i = 0; i < L->nmods; i++)
        if (!L->mods[i].unloaded && L->mods[i].size) L->order[L->norder++] = i;
    /* insertion sort: module lists are short and usually sorted already */
    for (size_t i = 1; i < L->norder; i++) {
        size_t v = L->order[i], j = i;
        while (j > 0 && order_cmp_base(&L->mods[L->order[j - 1]], &L->mods[v]) > 0) {
            L->order[j] = L->order[j - 1];
            j--;
        }
        L->order[j] = v;
    }
}

static void from_dump(nk_symlayer *L)
{
    ntkd_target *t = L->t;
    const nk_dump *d = &t->d;
    bool kernel_list = d->kind != NK_KIND_USER_MINI;
    bool first_loaded = true;
    for (size_t i = 0; i < d->nmodules; i++) {
        const nk_module *dm = &d->modules[i];
        nk_smod *m = add_mod(L);
        if (!m) break;
        m->dm = (ptrdiff_t)i;
        const char *nm = dm->name && dm->name[0] ? dm->name : (dm->path ? dm->path : "");
        m->image_name = strdup(base_of(nm));
        m->path = dm->path ? strdup(dm->path) : NULL;
        m->base = dm->base;
        m->size = dm->size;
        m->timestamp = dm->timestamp;
        m->checksum = dm->checksum;
        m->unloaded = dm->unloaded;
        m->user = d->kind == NK_KIND_USER_MINI || !kernel_address(t, dm->base);
        m->kernel_image = nk_sym_is_kernel_file(m->image_name ? m->image_name : "");
        if (!dm->unloaded && first_loaded && kernel_list && d->kind != NK_KIND_IMAGE) {
            /* the loader list starts with the kernel: WinDbg calls it nt whatever its file */
            if (!m->kernel_image && m->image_name && !strncasecmp(m->image_name, "nt", 2) &&
                strlen(m->image_name) > 4 && !strcasecmp(m->image_name + strlen(m->image_name) - 4, ".exe"))
                m->kernel_image = true;
        }
        if (m->kernel_image) m->name = strdup("nt");
        if (!dm->unloaded) first_loaded = false;
    }
}

/* ---- PsLoadedModuleList ------------------------------------------------------------------ */

typedef struct ldr_layout {
    uint64_t links, dll_base, size_of_image, full_name, base_name, timestamp, checksum;
    bool has_timestamp, has_checksum;
} ldr_layout;

static char *read_ustr(ntkd_target *t, uint64_t va)
{
    uint16_t len;
    uint64_t buf;
    if (nk_read_u16(t, va, &len) != NTKD_OK) return NULL;
    if (nk_read_ptr(t, va + (t->d.is64 ? 8 : 4), &buf) != NTKD_OK) return NULL;
    if (!len || !buf) return NULL;
    len &= (uint16_t)~1u;
    if (len > MAX_NAME_BYTES) len = MAX_NAME_BYTES;
    uint8_t raw[MAX_NAME_BYTES];
    size_t got = 0;
    nk_read_virt(t, buf, raw, len, &got);
    got &= ~(size_t)1;
    if (!got) return NULL;
    return nk_utf16_to_utf8(raw, got);
}

static bool type_offsets(nk_typesrc *ts, ldr_layout *lo, char *why, size_t whylen)
{
    uint64_t id;
    if (!nk_type_find(ts, "_KLDR_DATA_TABLE_ENTRY", &id) && !nk_type_find(ts, "_LDR_DATA_TABLE_ENTRY", &id)) {
        snprintf(why, whylen, "%s has no _KLDR_DATA_TABLE_ENTRY", ts->origin ? ts->origin : "nt's type source");
        return false;
    }
    static const char *const names[] = {"InLoadOrderLinks", "DllBase", "SizeOfImage", "FullDllName", "BaseDllName"};
    uint64_t *dst[] = {&lo->links, &lo->dll_base, &lo->size_of_image, &lo->full_name, &lo->base_name};
    for (size_t i = 0; i < 5; i++) {
        nk_tfield f;
        if (!nk_type_field(ts, id, names[i], &f)) {
            snprintf(why, whylen, "_KLDR_DATA_TABLE_ENTRY in %s has no field %s", ts->origin ? ts->origin : "nt's types",
                     names[i]);
            return false;
        }
        *dst[i] = f.offset;
    }
    nk_tfield f;
    if (nk_type_field(ts, id, "TimeDateStamp", &f)) {
        lo->timestamp = f.offset;
        lo->has_timestamp = true;
    }
    if (nk_type_field(ts, id, "CheckSum", &f)) {
        lo->checksum = f.offset;
        lo->has_checksum = true;
    }
    return true;
}

static void set_note(nk_symlayer *L, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void set_note(nk_symlayer *L, const char *fmt, ...)
{
    char buf[1024];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(buf, sizeof buf, fmt, ap);
    va_end(ap);
    free(L->modlist_note);
    L->modlist_note = strdup(buf);
}

/* nt's base without any structure offset: the list head lives in nt's data, so the nearest
 * image below it whose SizeOfImage covers it is the kernel (headers at a page boundary, at most
 * 64 MB below). 0 when not found (the header pages are often left out of small dumps). */
static uint64_t scan_kernel_base(ntkd_target *t, uint64_t head)
{
    uint64_t page = head & ~0xfffull;
    for (uint64_t back = 0; back <= (64ull << 20) && back <= page; back += 0x1000) {
        uint64_t va = page - back;
        uint8_t h[0x40];
        if (nk_read_virt(t, va, h, sizeof h, NULL) != NTKD_OK || h[0] != 'M' || h[1] != 'Z') continue;
        uint32_t lfanew = nk_le32(h + 0x3c);
        if (lfanew < 0x40 || lfanew > 0xf00) continue;
        uint8_t nt[0x58];
        if (nk_read_virt(t, va + lfanew, nt, sizeof nt, NULL) != NTKD_OK || memcmp(nt, "PE\0\0", 4)) continue;
        uint32_t size = nk_le32(nt + 0x50); /* OptionalHeader.SizeOfImage, same place in PE32/PE32+ */
        if (head - va < size) return va;
    }
    return 0;
}

static void walk_psl(nk_symlayer *L)
{
    ntkd_target *t = L->t;
    bool is64 = t->d.is64;
    uint64_t head = t->d.ps_loaded_module_list;
    char hb[24], eb[24];
    nk_fmt_ptr(hb, head, is64);
    uint64_t first;
    if (nk_read_ptr(t, head, &first) != NTKD_OK) {
        set_note(L, "PsLoadedModuleList at %s is not in the dump: no module list", hb);
        nk_sym_note(L, "%s", L->modlist_note);
        return;
    }
    /* nt first, so that its symbols (and the _KLDR_DATA_TABLE_ENTRY layout) can be found: its
     * base from the image around the list head, or (nk_kmatch) from the kernel table whose
     * RVAs reproduce the dump header. The list is then walked with the offsets of nt's types;
     * without them it is not walked at all (no offsets are assumed). */
    nk_smod *nt = add_mod(L);
    if (!nt) return;
    nt->image_name = strdup("ntoskrnl.exe");
    nt->kernel_image = true;
    nt->name = strdup("nt");
    nt->base = scan_kernel_base(t, head);
    build_order(L);
    L->modules_built = true; /* lets nk_sym_types find "nt" while the list is walked */
    nk_typesrc *ts = nk_sym_types(t, "nt");
    nt = &L->mods[0];
    ldr_layout lo;
    memset(&lo, 0, sizeof lo);
    char why[256] = "";
    bool typed = false;
    if (ts) typed = type_offsets(ts, &lo, why, sizeof why);
    else snprintf(why, sizeof why, "nt's types are unavailable (no PDB or ISF table for nt on the symbol path)");
    if (!typed) {
        set_note(L, "PsLoadedModuleList at %s cannot be walked: %s; the offsets of _KLDR_DATA_TABLE_ENTRY come "
                 "from nt's types", hb, why);
        nk_sym_note(L, "%s", L->modlist_note);
        if (!nt->base) { /* nothing is known about nt: no row */
            nk_smod_unload(nt);
            free(nt->name);
            free(nt->image_name);
            L->nmods = 0;
        }
        return;
    }
    uint64_t *seen = malloc(MAX_LDR_ENTRIES * sizeof *seen);
    size_t nseen = 0;
    uint64_t cur = first;
    size_t count = 0;
    const char *stop = NULL;
    while (cur != head) {
        if (count >= MAX_LDR_ENTRIES) {
            stop = "more entries than the limit";
            break;
        }
        bool loop = false;
        for (size_t i = 0; seen && i < nseen && !loop; i++) loop = seen[i] == cur;
        if (loop) {
            stop = "the list loops without returning to its head";
            break;
        }
        if (seen) seen[nseen++] = cur;
        uint64_t e = cur - lo.links;
        uint64_t base = 0, next = 0;
        uint32_t size = 0, ts32 = 0, ck = 0;
        if (nk_read_ptr(t, e + lo.dll_base, &base) != NTKD_OK || nk_read_u32(t, e + lo.size_of_image, &size) != NTKD_OK) {
            nk_fmt_ptr(eb, e, is64);
            stop = "an entry is not in the dump";
            set_note(L, "PsLoadedModuleList: the entry at %s is not in the dump; %zu modules read", eb, count);
            break;
        }
        if (lo.has_timestamp) nk_read_u32(t, e + lo.timestamp, &ts32);
        if (lo.has_checksum) nk_read_u32(t, e + lo.checksum, &ck);
        nk_smod *m;
        if (count == 0) {
            m = &L->mods[0]; /* the kernel */
            if (base != m->base) {
                char b1[24], b2[24];
                nk_fmt_ptr(b1, base, is64);
                nk_fmt_ptr(b2, m->base, is64);
                nk_sym_note(L, "nt: PsLoadedModuleList gives base %s, symbols were placed at %s; the list's base is used",
                            b1, b2);
                m->base = base;
            }
            char *b = read_ustr(t, e + lo.base_name);
            if (b) {
                free(m->image_name);
                m->image_name = b;
            }
            free(m->path);
            m->path = read_ustr(t, e + lo.full_name);
        } else {
            m = add_mod(L);
            if (!m) break;
            m->base = base;
            char *b = read_ustr(t, e + lo.base_name);
            if (!b) {
                char tmp[48];
                snprintf(tmp, sizeof tmp, "Unknown_Module_%016llx", (unsigned long long)base);
                b = strdup(tmp);
            }
            m->image_name = b;
            m->path = read_ustr(t, e + lo.full_name);
            m->user = !kernel_address(t, base);
        }
        m->size = size;
        m->timestamp = ts32;
        m->checksum = ck;
        count++;
        if (nk_read_ptr(t, cur, &next) != NTKD_OK) {
            nk_fmt_ptr(eb, cur, is64);
            stop = "a link is not in the dump";
            set_note(L, "PsLoadedModuleList: the link at %s is not in the dump; %zu modules read", eb, count);
            break;
        }
        cur = next;
    }
    free(seen);
    if (!L->modlist_note) {
        if (stop) set_note(L, "PsLoadedModuleList at %s: walk stopped (%s) after %zu modules", hb, stop, count);
        else set_note(L, "PsLoadedModuleList at %s: %zu modules (offsets from %s)", hb, count,
                      ts->origin ? ts->origin : "nt's types");
    }
    if (stop) nk_sym_note(L, "%s", L->modlist_note);
}

void nk_sym_modules_build(nk_symlayer *L)
{
    if (L->modules_built || L->building) return;
    L->building = true;
    ntkd_target *t = L->t;
    const nk_dump *d = &t->d;
    bool walkable = d->kind == NK_KIND_KERNEL_FULL || d->kind == NK_KIND_KERNEL_SUMMARY ||
                    d->kind == NK_KIND_KERNEL_BITMAP || d->kind == NK_KIND_RAW;
    bool any_loaded = false;
    for (size_t i = 0; i < d->nmodules; i++) any_loaded = any_loaded || !d->modules[i].unloaded;
    if (any_loaded || !walkable || !d->ps_loaded_module_list) {
        from_dump(L);
        const char *src = d->kind == NK_KIND_KERNEL_TRIAGE ? "the triage driver list"
                          : d->kind == NK_KIND_USER_MINI   ? "the minidump module list"
                          : d->kind == NK_KIND_IMAGE       ? "the image"
                                                           : "the dump";
        size_t nun = 0;
        for (size_t i = 0; i < L->nmods; i++) nun += L->mods[i].unloaded;
        if (nun) set_note(L, "%zu modules and %zu unloaded modules from %s", L->nmods - nun, nun, src);
        else set_note(L, "%zu modules from %s", L->nmods, src);
    } else {
        walk_psl(L);
        /* unloaded modules the container lists */
        for (size_t i = 0; i < d->nmodules; i++)
            if (d->modules[i].unloaded) {
                nk_smod *m = add_mod(L);
                if (!m) break;
                m->dm = (ptrdiff_t)i;
                m->image_name = strdup(base_of(d->modules[i].name ? d->modules[i].name : ""));
                m->base = d->modules[i].base;
                m->size = d->modules[i].size;
                m->timestamp = d->modules[i].timestamp;
                m->unloaded = true;
            }
    }
    name_modules(L);
    build_order(L);
    L->modules_built = true;
    L->building = false;
}

void nk_sym_modules_clear(nk_symlayer *L)
{
    for (size_t i = 0; i < L->nmods; i++) {
        nk_smod *m = &L->mods[i];
        nk_smod_unload(m);
        free(m->name);
        free(m->image_name);
        free(m->path);
    }
    free(L->mods);
    free(L->order);
    free(L->modlist_note);
    L->mods = NULL;
    L->order = NULL;
    L->modlist_note = NULL;
    L->nmods = L->cap = L->norder = 0;
    L->modules_built = false;
}

nk_smod *nk_sym_find_module(nk_symlayer *L, const char *name)
{
    nk_sym_modules_build(L);
    if (!name || !name[0]) return NULL;
    for (size_t i = 0; i < L->nmods; i++)
        if (!L->mods[i].unloaded && L->mods[i].name && !strcasecmp(L->mods[i].name, name)) return &L->mods[i];
    /* the image name, with or without its extension */
    for (size_t i = 0; i < L->nmods; i++) {
        nk_smod *m = &L->mods[i];
        if (m->unloaded || !m->image_name) continue;
        if (!strcasecmp(m->image_name, name)) return m;
        const char *dot = strrchr(m->image_name, '.');
        size_t n = dot ? (size_t)(dot - m->image_name) : strlen(m->image_name);
        if (strlen(name) == n && !strncasecmp(m->image_name, name, n)) return m;
    }
    return NULL;
}

nk_smod *nk_sym_module_at(nk_symlayer *L, uint64_t addr)
{
    nk_sym_modules_build(L);
    size_t lo = 0, hi = L->norder;
    while (lo < hi) { /* first module with base > addr */
        size_t mid = lo + (hi - lo) / 2;
        if (L->mods[L->order[mid]].base <= addr) lo = mid + 1;
        else hi = mid;
    }
    /* the closest base below may be a small module inside a larger range: check a few */
    for (size_t k = lo, tries = 0; k > 0 && tries < 8; k--, tries++) {
        nk_smod *m = &L->mods[L->order[k - 1]];
        if (addr - m->base < m->size) return m;
    }
    return NULL;
}
