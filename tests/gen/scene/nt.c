/* nt.c: the kernel image and its globals for ntkd-genscene.
 *
 * nt's image at its base: PE headers (PE32+ for x64, PE32 for x86) with a debug directory whose
 * CodeView (RSDS) record carries the table's GUID/age and pdb name, so a reader finds the
 * kernel table by identity; code for every function a scene references, at the function's
 * RVA from the table, with .pdata RUNTIME_FUNCTIONs and UNWIND_INFO (UWOP_ALLOC_SMALL; KiPageFault:
 * UWOP_PUSH_MACHFRAME with error code, PUSH_NONVOL rbp, ALLOC_LARGE over a KTRAP_FRAME) on x64
 * and `push ebp; mov ebp, esp` prologues on x86. Drivers: PE images with export directories.
 * PsLoadedModuleList (nt first), the processors (KPCR/KPRCB, KiProcessorBlock), the bugcheck,
 * KdDebuggerDataBlock (KDDEBUGGER_DATA64, encoded with KiWaitNever/KiWaitAlways when the build
 * has KdpDataBlockEncoded) and the crashing processor's CONTEXT.
 *
 * Public facts used: PE/COFF layout (Microsoft PE format documentation), x64 UNWIND_INFO and
 * RUNTIME_FUNCTION (Microsoft "x64 exception handling"), CV_INFO_PDB70, KDDEBUGGER_DATA64 as
 * wdbgexts.h / volatility's kdbg table lay it out, and the KDBG encoding volatility's
 * kdbgscan reverses: d = bswap(rol(e ^ KiWaitNever, KiWaitNever & 0xff) ^ &KdpDataBlockEncoded)
 * ^ KiWaitAlways, applied per 8-byte word (nt.c applies the inverse). */
#include "nt_int.h"

#include "gen_layout.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

/* ------------------------------------------------------------------ small helpers */
static void p16(uint8_t *p, uint16_t v) { memcpy(p, &v, 2); }
static void p32(uint8_t *p, uint32_t v) { memcpy(p, &v, 4); }
static void p64(uint8_t *p, uint64_t v) { memcpy(p, &v, 8); }
static uint64_t align_up(uint64_t v, uint64_t a) { return (v + a - 1) & ~(a - 1); }

static uint32_t hash32(const char *s)
{
    uint32_t h = 2166136261u;
    for (; *s; s++)
        h = (h ^ (uint8_t)*s) * 16777619u;
    return h;
}

bool kn_x86(kern *k) { return lay_ptr(k->L) == 4; }

/* Pointer values as the 64-bit debugger structures hold them (x86: sign-extended). */
static uint64_t sx(kern *k, uint64_t v)
{
    if (kn_x86(k))
        return (uint64_t)(int64_t)(int32_t)(uint32_t)v;
    return v;
}

/* "usbhub.sys" -> "usbhub" (WinDbg's module name); nt's image -> "nt". */
static void module_name(const kmodule *m, char *out, size_t n)
{
    if (m->is_nt) {
        snprintf(out, n, "nt");
        return;
    }
    snprintf(out, n, "%s", m->file);
    char *dot = strrchr(out, '.');
    if (dot)
        *dot = 0;
}

/* ------------------------------------------------------------------ symbols */
static void sym_note(kpriv *kp, const char *name)
{
    for (size_t i = 0; i < kp->nsym; i++)
        if (!strcmp(kp->sym[i], name))
            return;
    if (kp->nsym == kp->csym) {
        kp->csym = kp->csym ? kp->csym * 2 : 64;
        kp->sym = realloc(kp->sym, kp->csym * sizeof *kp->sym);
        if (!kp->sym)
            sc_die("out of memory");
    }
    snprintf(kp->sym[kp->nsym++], sizeof kp->sym[0], "%s", name);
}

uint64_t k_sym_opt(kern *k, const char *name)
{
    uint64_t rva = lay_sym(k->L, name);
    if (rva == SC_NONE)
        return SC_NONE;
    sym_note(kp_of(k), name);
    return k->base + rva;
}

uint64_t k_sym(kern *k, const char *name)
{
    uint64_t va = k_sym_opt(k, name);
    if (va == SC_NONE)
        sc_die("the kernel table has no symbol %s", name);
    return va;
}

/* ------------------------------------------------------------------ functions */
static kfunc *fn_new(kpriv *kp, const char *module, const char *name, uint64_t va, uint64_t len,
                     uint64_t maxlen)
{
    if (kp->nfn == kp->cfn) {
        kp->cfn = kp->cfn ? kp->cfn * 2 : 64;
        kp->fn = realloc(kp->fn, kp->cfn * sizeof *kp->fn);
        if (!kp->fn)
            sc_die("out of memory");
    }
    kfunc *f = &kp->fn[kp->nfn++];
    memset(f, 0, sizeof *f);
    snprintf(f->module, sizeof f->module, "%s", module);
    snprintf(f->name, sizeof f->name, "%s", name);
    f->va = va;
    f->len = len;
    f->maxlen = maxlen;
    uint32_t h = hash32(name);
    if (kn_x86(&kp->k) && !strcmp(module, "nt") && !strcmp(name, "KiSwapContext")) {
        /* hand-written in every x86 kernel: sub esp,10h; saves ebx, esi, edi, ebp with
         * mov (ebp at [esp]); no frame pointer of its own */
        f->frameless = true;
        f->frame = 0x10;
        f->prolog = 18;
    } else if (kn_x86(&kp->k)) {
        f->frame = 0x10 + 4 * (h % 8); /* locals below the saved EBP */
        f->prolog = 6;                 /* push ebp; mov ebp,esp; sub esp,N */
    } else if (!strcmp(module, "nt") && !strcmp(name, "KiPageFault")) {
        /* #PF pushes an error code and a machine frame; KiPageFault pushes rbp into
         * _KTRAP_FRAME.Rbp and allocates the rest, running with rsp at the KTRAP_FRAME
         * (ErrorCode, Rip... SegSs end the structure) */
        const lay *L = kp->k.L;
        uint64_t rbp = lay_off_req(L, "_KTRAP_FRAME", "Rbp");
        if (lay_off_req(L, "_KTRAP_FRAME", "ErrorCode") != rbp + 8 ||
            lay_off_req(L, "_KTRAP_FRAME", "Rip") != rbp + 16 ||
            lay_off_req(L, "_KTRAP_FRAME", "SegSs") + 8 != lay_size(L, "_KTRAP_FRAME"))
            sc_die("KiPageFault: _KTRAP_FRAME does not end Rbp, ErrorCode, Rip ... SegSs");
        f->machframe = true;
        f->frame = (unsigned)lay_size(L, "_KTRAP_FRAME") - 8; /* the KTRAP_FRAME below SegSs */
        f->prolog = 8; /* push rbp; sub rsp,imm32 */
    } else {
        f->frame = 0x28 + 0x10 * (h % 6); /* sub rsp,N keeps RSP 16-aligned in the body */
        f->prolog = 4;
    }
    return f;
}

static kfunc *fn_find_exact(kpriv *kp, uint64_t va)
{
    for (size_t i = 0; i < kp->nfn; i++)
        if (kp->fn[i].va == va)
            return &kp->fn[i];
    return NULL;
}

const kfunc *kn_func_at(kern *k, uint64_t va)
{
    kpriv *kp = kp_of(k);
    for (size_t i = 0; i < kp->nfn; i++)
        if (va >= kp->fn[i].va && va < kp->fn[i].va + kp->fn[i].len)
            return &kp->fn[i];
    return NULL;
}

unsigned kn_frame_of(kern *k, uint64_t ret)
{
    const kfunc *f = kn_func_at(k, ret);
    if (!f)
        sc_die("return address 0x%llx is in no generated function (use k_ret)",
               (unsigned long long)ret);
    /* x64: an address inside the prologue has nothing allocated yet (the unwinder applies
     * no unwind code whose offset lies beyond it) */
    if (!kn_x86(k) && ret - f->va < f->prolog)
        return 0;
    return f->frame;
}

void kn_ret_callee(kern *k, uint64_t ret, uint64_t callee)
{
    kfunc *f = (kfunc *)kn_func_at(k, ret);
    if (!f)
        return;
    for (unsigned i = 0; i < f->nrets; i++)
        if (f->rets[i] == ret && !f->callee[i])
            f->callee[i] = callee;
}

uint64_t k_nt_func(kern *k, const char *name)
{
    kpriv *kp = kp_of(k);
    uint64_t va = k_sym(k, name);
    kfunc *f = fn_find_exact(kp, va);
    if (f)
        return va;
    fn_new(kp, "nt", name, va, 0x100, 0x1000);
    return va;
}

uint64_t k_ret(kern *k, uint64_t func_va, unsigned off)
{
    kpriv *kp = kp_of(k);
    kfunc *f = fn_find_exact(kp, func_va);
    if (!f)
        sc_die("k_ret: 0x%llx is not a generated function", (unsigned long long)func_va);
    if ((uint64_t)off + 0x10 > f->len) {
        if ((uint64_t)off + 0x10 > f->maxlen)
            sc_die("k_ret: %s+0x%x is past the room of the function (0x%llx)", f->name, off,
                   (unsigned long long)f->maxlen);
        f->len = off + 0x10;
    }
    uint64_t r = func_va + off;
    bool seen = false;
    for (unsigned i = 0; i < f->nrets; i++)
        seen |= f->rets[i] == r;
    if (!seen && f->nrets < KN_MAX_RETSITES)
        f->rets[f->nrets++] = r;
    return r;
}

static kmodule *mod_by_file(kpriv *kp, const char *file)
{
    for (size_t i = 0; i < kp->nmod; i++)
        if (!strcasecmp(kp->mod[i].file, file))
            return &kp->mod[i];
    return NULL;
}

uint64_t k_func(kern *k, const char *module_file, const char *func)
{
    kpriv *kp = kp_of(k);
    kmodule *m = mod_by_file(kp, module_file);
    if (!m)
        sc_die("k_func: no module %s", module_file);
    char mname[64];
    module_name(m, mname, sizeof mname);
    for (size_t i = 0; i < kp->nfn; i++)
        if (!strcmp(kp->fn[i].module, mname) && !strcmp(kp->fn[i].name, func))
            return kp->fn[i].va;
    if (m->is_nt)
        return k_nt_func(k, func);
    sc_die("k_func: %s has no routine %s", module_file, func);
}

/* ------------------------------------------------------------------ module list */
static const char *ldr_type(kern *k)
{
    return lay_has_type(k->L, "_KLDR_DATA_TABLE_ENTRY") ? "_KLDR_DATA_TABLE_ENTRY"
                                                         : "_LDR_DATA_TABLE_ENTRY";
}

static kmodule *mod_add(kern *k, const char *file, const char *full, uint64_t base, bool is_nt)
{
    kpriv *kp = kp_of(k);
    if (kp->nmod >= sizeof kp->mod / sizeof kp->mod[0])
        sc_die("too many modules");
    kmodule *m = &kp->mod[kp->nmod++];
    memset(m, 0, sizeof *m);
    snprintf(m->file, sizeof m->file, "%s", file);
    m->base = base;
    m->is_nt = is_nt;
    m->timestamp = 0x5a000000u + (hash32(file) & 0x0fffffffu);
    m->checksum = 0x00010000u + (hash32(full) & 0x00ffffffu);
    const char *T = ldr_type(k);
    m->ldr = w_alloc(k->w, lay_size(k->L, T), 16);
    w_set(k->w, m->ldr, T, "DllBase", base);
    w_try(k->w, m->ldr, T, "TimeDateStamp", m->timestamp);
    w_try(k->w, m->ldr, T, "CheckSum", m->checksum);
    w_try(k->w, m->ldr, T, "LoadCount", 1);
    w_try(k->w, m->ldr, T, "Flags", 0x49104000u);
    int64_t o = lay_off(k->L, T, "FullDllName");
    if (o >= 0)
        w_ustr(k->w, m->ldr + (uint64_t)o, full);
    o = lay_off(k->L, T, "BaseDllName");
    if (o >= 0)
        w_ustr(k->w, m->ldr + (uint64_t)o, file);
    w_list_tail(k->w, k_sym(k, "PsLoadedModuleList"),
                m->ldr + lay_off_req(k->L, T, "InLoadOrderLinks"));
    return m;
}

#define KN_DRV_STRIDE 0x2000u /* room per driver routine (return sites up to +0x1ff0) */

static kmodule *driver_image(kern *k, const char *file_name, const char *const *funcs, size_t nfuncs,
                             uint64_t min_size)
{
    kpriv *kp = kp_of(k);
    if (mod_by_file(kp, file_name))
        sc_die("k_driver_image: %s added twice", file_name);
    uint64_t base = kp->next_driver;
    /* layout: headers, .text (KN_DRV_STRIDE per routine), .rdata, .pdata; the size is fixed here */
    uint64_t text = align_up(KN_DRV_STRIDE * (nfuncs ? nfuncs : 1), 0x1000);
    uint64_t rdata = align_up(0x400 + nfuncs * (64 + 16 + 12) + 0x200, 0x1000);
    uint64_t size = 0x1000 + text + rdata + 0x1000;
    if (min_size > size) /* room for data at RVAs a symbol file gives, .pdata still last */
        size = align_up(min_size, 0x1000) + 0x1000;
    kp->next_driver = align_up(base + size + 0x10000, 0x10000);
    char full[160];
    snprintf(full, sizeof full, "\\SystemRoot\\system32\\drivers\\%s", file_name);
    kmodule *m = mod_add(k, file_name, full, base, false);
    m->size = size;
    w_set(k->w, m->ldr, ldr_type(k), "SizeOfImage", size);
    w_try(k->w, m->ldr, ldr_type(k), "EntryPoint", base + 0x1000);
    char mname[64];
    module_name(m, mname, sizeof mname);
    for (size_t i = 0; i < nfuncs; i++)
        fn_new(kp, mname, funcs[i], base + 0x1000 + KN_DRV_STRIDE * i, 0x180, KN_DRV_STRIDE);
    return m;
}

uint64_t k_driver_image(kern *k, const char *file_name, const char *const *funcs, size_t nfuncs)
{
    return driver_image(k, file_name, funcs, nfuncs, 0)->base;
}

uint64_t k_driver_image_pdb(kern *k, const char *file_name, const char *const *funcs, size_t nfuncs,
                            const char *guid_age, uint64_t min_size)
{
    if (!guid_age || strlen(guid_age) < 34 || strlen(guid_age) >= sizeof ((kmodule *)0)->pdb_id ||
        guid_age[32] != '-')
        sc_die("k_driver_image_pdb: %s: bad PDB identity '%s' (want 32 hex digits-age)", file_name,
               guid_age ? guid_age : "");
    kmodule *m = driver_image(k, file_name, funcs, nfuncs, min_size);
    snprintf(m->pdb_id, sizeof m->pdb_id, "%s", guid_age);
    return m->base;
}

/* ------------------------------------------------------------------ PE images */
typedef struct pe_sec {
    const char *name;
    uint32_t rva, size, chars;
} pe_sec;

#define SCN_CODE 0x60000020u  /* code, execute, read */
#define SCN_DATA 0xc0000040u  /* initialized data, read, write */
#define SCN_RDATA 0x40000040u /* initialized data, read */

static void pe_headers(kern *k, uint64_t base, uint32_t size_of_image, uint32_t entry,
                       const pe_sec *sec, unsigned nsec, const uint32_t dirs[16][2], uint32_t ts,
                       uint32_t checksum, bool driver)
{
    uint8_t h[0x1000];
    memset(h, 0, sizeof h);
    bool x86 = kn_x86(k);
    h[0] = 'M';
    h[1] = 'Z';
    p16(h + 2, 0x90);
    p16(h + 4, 3);
    p16(h + 8, 4);
    p16(h + 0x18, 0x40);
    p32(h + 0x3c, 0x100); /* e_lfanew */
    uint8_t *pe = h + 0x100;
    memcpy(pe, "PE\0\0", 4);
    uint8_t *fh = pe + 4;
    p16(fh, x86 ? 0x14c : 0x8664);
    p16(fh + 2, (uint16_t)nsec);
    p32(fh + 4, ts);
    p16(fh + 16, x86 ? 0xe0 : 0xf0);
    p16(fh + 18, x86 ? 0x010e : 0x0022); /* executable (+32-bit machine / large address aware) */
    uint8_t *oh = fh + 20;
    uint32_t code_size = 0, data_size = 0, code_base = 0x1000;
    for (unsigned i = 0; i < nsec; i++) {
        if (sec[i].chars & 0x20u) {
            if (!code_size)
                code_base = sec[i].rva;
            code_size += sec[i].size;
        } else {
            data_size += sec[i].size;
        }
    }
    p16(oh, x86 ? 0x10b : 0x20b);
    oh[2] = 14;
    oh[3] = x86 ? 0 : 20;
    p32(oh + 4, code_size);
    p32(oh + 8, data_size);
    p32(oh + 16, entry);
    p32(oh + 20, code_base);
    unsigned major = k->build >= 10000 ? 10 : k->build >= 7600 ? 6 : 5;
    unsigned minor = k->build >= 10000 ? 0 : k->build >= 7600 ? 1 : 1;
    uint8_t *rest;
    if (x86) {
        p32(oh + 24, 0x1000); /* BaseOfData (nominal) */
        p32(oh + 28, (uint32_t)base);
        rest = oh + 32;
    } else {
        p64(oh + 24, base);
        rest = oh + 32;
    }
    p32(rest + 0, 0x1000); /* SectionAlignment */
    p32(rest + 4, 0x200);  /* FileAlignment */
    p16(rest + 8, (uint16_t)major);
    p16(rest + 10, (uint16_t)minor);
    p16(rest + 12, (uint16_t)major);
    p16(rest + 14, (uint16_t)minor);
    p16(rest + 16, (uint16_t)major);
    p16(rest + 18, (uint16_t)minor);
    p32(rest + 24, size_of_image);
    p32(rest + 28, 0x600); /* SizeOfHeaders */
    p32(rest + 32, checksum);
    p16(rest + 36, 1); /* IMAGE_SUBSYSTEM_NATIVE */
    p16(rest + 38, driver ? 0x4160 : 0x4120); /* NX compat, dynamic base (+high entropy VA) */
    uint8_t *dd;
    if (x86) {
        p32(rest + 40, 0x40000);
        p32(rest + 44, 0x1000);
        p32(rest + 48, 0x100000);
        p32(rest + 52, 0x1000);
        p32(rest + 60, 16);
        dd = rest + 64;
    } else {
        p64(rest + 40, 0x80000);
        p64(rest + 48, 0x2000);
        p64(rest + 56, 0x100000);
        p64(rest + 64, 0x1000);
        p32(rest + 76, 16);
        dd = rest + 80;
    }
    for (unsigned i = 0; i < 16; i++) {
        p32(dd + 8 * i, dirs[i][0]);
        p32(dd + 8 * i + 4, dirs[i][1]);
    }
    uint8_t *st = dd + 128;
    for (unsigned i = 0; i < nsec; i++) {
        uint8_t *s = st + 40 * i;
        if ((size_t)(s + 40 - h) > sizeof h)
            sc_die("too many sections");
        memcpy(s, sec[i].name, strlen(sec[i].name) < 8 ? strlen(sec[i].name) : 8);
        p32(s + 8, sec[i].size);
        p32(s + 12, sec[i].rva);
        p32(s + 16, (uint32_t)align_up(sec[i].size, 0x200));
        p32(s + 20, sec[i].rva); /* raw offset: as the image lies in memory */
        p32(s + 36, sec[i].chars);
    }
    w_write(k->w, base, h, sizeof h);
}

/* Debug directory entry + RSDS record at rva; returns bytes used. */
static uint32_t pe_debug(kern *k, uint64_t base, uint32_t rva, const uint8_t guid[16],
                         uint32_t age, const char *pdb, uint32_t ts)
{
    uint8_t b[28 + 24 + 128];
    memset(b, 0, sizeof b);
    size_t nl = strlen(pdb);
    if (nl > 120)
        nl = 120;
    uint32_t cv_size = (uint32_t)(24 + nl + 1);
    p32(b + 4, ts);
    p32(b + 12, 2); /* IMAGE_DEBUG_TYPE_CODEVIEW */
    p32(b + 16, cv_size);
    p32(b + 20, rva + 28);
    p32(b + 24, rva + 28);
    memcpy(b + 28, "RSDS", 4);
    memcpy(b + 32, guid, 16);
    p32(b + 48, age);
    memcpy(b + 52, pdb, nl);
    w_write(k->w, base + rva, b, 28 + cv_size);
    return (uint32_t)align_up(28 + cv_size, 8);
}

/* GUID text (32 hex digits, as in the table's GUID-age) to its in-memory form. */
static void guid_parse(const char *s, uint8_t g[16], uint32_t *age)
{
    uint8_t raw[16];
    memset(raw, 0, sizeof raw);
    for (int i = 0; i < 32 && s[i]; i++) {
        char c = s[i];
        int v = c >= '0' && c <= '9' ? c - '0' : c >= 'a' && c <= 'f' ? c - 'a' + 10
                : c >= 'A' && c <= 'F' ? c - 'A' + 10 : 0;
        raw[i / 2] = (uint8_t)(raw[i / 2] | (i % 2 ? v : v << 4));
    }
    /* Data1 (u32), Data2, Data3 (u16) are little-endian in memory; Data4 bytes as written */
    g[0] = raw[3], g[1] = raw[2], g[2] = raw[1], g[3] = raw[0];
    g[4] = raw[5], g[5] = raw[4];
    g[6] = raw[7], g[7] = raw[6];
    memcpy(g + 8, raw + 8, 8);
    const char *dash = strchr(s, '-');
    *age = dash ? (uint32_t)strtoul(dash + 1, NULL, 10) : 1;
}

/* Code for one function: prologue, a call before each return site, epilogue. */
static void fn_emit(kern *k, const kfunc *f)
{
    bool x86 = kn_x86(k);
    uint64_t len = f->len;
    uint8_t *c = sc_alloc0(len);
    uint8_t *used = sc_alloc0(len);
    memset(c, 0x90, len);
    unsigned elen;
    if (x86 && f->frameless) {
        /* sub esp,10h; mov [esp+0Ch],ebx; mov [esp+8],esi; mov [esp+4],edi; mov [esp],ebp */
        const uint8_t pro[18] = {0x83, 0xec, 0x10, 0x89, 0x5c, 0x24, 0x0c, 0x89, 0x74,
                                 0x24, 0x08, 0x89, 0x7c, 0x24, 0x04, 0x89, 0x2c, 0x24};
        /* mov ebp,[esp]; mov edi,[esp+4]; mov esi,[esp+8]; mov ebx,[esp+0Ch]; add esp,10h; ret */
        const uint8_t epi[19] = {0x8b, 0x2c, 0x24, 0x8b, 0x7c, 0x24, 0x04, 0x8b, 0x74, 0x24,
                                 0x08, 0x8b, 0x5c, 0x24, 0x0c, 0x83, 0xc4, 0x10, 0xc3};
        memcpy(c, pro, sizeof pro);
        elen = sizeof epi;
        if (len < sizeof pro + sizeof epi + 8)
            sc_die("%s: too short for its code", f->name);
        memcpy(c + len - elen, epi, elen);
    } else if (x86) {
        const uint8_t pro[6] = {0x55, 0x8b, 0xec, 0x83, 0xec, (uint8_t)f->frame};
        memcpy(c, pro, 6);
        elen = 2;
        c[len - 2] = 0xc9; /* leave */
        c[len - 1] = 0xc3; /* ret */
    } else if (f->machframe) {
        /* push rbp; sub rsp,imm32 ... add rsp,imm32; pop rbp; add rsp,8 (the error code); iretq */
        uint32_t alloc = f->frame - 0x30;
        uint8_t pro[8] = {0x55, 0x48, 0x81, 0xec};
        p32(pro + 4, alloc);
        memcpy(c, pro, 8);
        uint8_t epi[14] = {0x48, 0x81, 0xc4, 0, 0, 0, 0, 0x5d, 0x48, 0x83, 0xc4, 0x08, 0x48, 0xcf};
        p32(epi + 3, alloc);
        elen = sizeof epi;
        memcpy(c + len - elen, epi, elen);
    } else {
        const uint8_t pro[4] = {0x48, 0x83, 0xec, (uint8_t)f->frame};
        memcpy(c, pro, 4);
        elen = 5;
        const uint8_t epi[5] = {0x48, 0x83, 0xc4, (uint8_t)f->frame, 0xc3};
        memcpy(c + len - 5, epi, 5);
    }
    memset(used, 1, f->prolog);
    memset(used + len - elen, 1, elen);
    for (unsigned i = 0; i < f->nrets; i++) {
        uint64_t off = f->rets[i] - f->va;
        if (off < 5 || off > len - elen)
            continue;
        bool free_ = true;
        for (uint64_t j = off - 5; j < off; j++)
            free_ &= !used[j];
        if (!free_)
            continue;
        c[off - 5] = 0xe8; /* call rel32: the next inner frame's function (or itself) */
        uint64_t target = f->callee[i] ? f->callee[i] : f->va;
        int64_t rel = (int64_t)(target - f->rets[i]);
        if (rel < INT32_MIN || rel > INT32_MAX)
            rel = -(int64_t)off;
        p32(c + off - 4, (uint32_t)(int32_t)rel);
        memset(used + off - 5, 1, 5);
    }
    w_write(k->w, f->va, c, len);
    free(c);
    free(used);
}

static int fn_cmp(const void *a, const void *b)
{
    const kfunc *x = a, *y = b;
    return x->va < y->va ? -1 : x->va > y->va;
}

/* Sorts the functions and trims each so none runs into the next one. */
static void fn_settle(kern *k)
{
    kpriv *kp = kp_of(k);
    qsort(kp->fn, kp->nfn, sizeof *kp->fn, fn_cmp);
    for (size_t i = 0; i + 1 < kp->nfn; i++) {
        kfunc *f = &kp->fn[i];
        uint64_t room = kp->fn[i + 1].va - f->va;
        if (f->len > room) {
            for (unsigned j = 0; j < f->nrets; j++)
                if (f->rets[j] + 8 > f->va + room && kn_x86(k))
                    /* x86: the site stays valid (frames are laid after the PDB's records for
                     * its address, which the debugger reads too); its symbol moves */
                    fprintf(stderr,
                            "ntkd-genscene: warning: %s!%s+0x%llx lies in %s!%s (the build's "
                            "function is shorter)\n",
                            f->module, f->name, (unsigned long long)(f->rets[j] - f->va),
                            kp->fn[i + 1].module, kp->fn[i + 1].name);
                else if (f->rets[j] + 8 > f->va + room)
                    sc_die("%s!%s: return site +0x%llx overlaps %s!%s", f->module, f->name,
                           (unsigned long long)(f->rets[j] - f->va), kp->fn[i + 1].module,
                           kp->fn[i + 1].name);
            f->len = room;
        }
        if (f->len < 0x10)
            sc_die("%s!%s and %s!%s are too close", f->module, f->name, kp->fn[i + 1].module,
                   kp->fn[i + 1].name);
    }
}

/* UNWIND_INFO of f: 8 bytes (header + one UWOP_ALLOC_SMALL slot + padding slot), or 12 for a
 * machine-frame trap handler (codes in reverse prologue order: ALLOC_LARGE (two slots),
 * PUSH_NONVOL rbp, PUSH_MACHFRAME with the error-code flag). */
static uint32_t unwind_size(const kfunc *f) { return f->machframe ? 12 : 8; }

static void unwind_info(uint8_t *p, const kfunc *f)
{
    if (f->machframe) {
        uint32_t alloc = f->frame - 0x30;
        p[0] = 1;          /* version 1, no flags */
        p[1] = (uint8_t)f->prolog;
        p[2] = 4;          /* four code slots */
        p[3] = 0;          /* no frame register */
        p[4] = 8;          /* after sub rsp,imm32 */
        p[5] = 1;          /* UWOP_ALLOC_LARGE, info 0: size/8 in the next slot */
        p16(p + 6, (uint16_t)(alloc / 8));
        p[8] = 1;          /* after push rbp */
        p[9] = (uint8_t)(0 | (5u << 4)); /* UWOP_PUSH_NONVOL rbp */
        p[10] = 0;         /* the CPU's push, before the first instruction */
        p[11] = (uint8_t)(10 | (1u << 4)); /* UWOP_PUSH_MACHFRAME, error code pushed */
        return;
    }
    p[0] = 1;         /* version 1, no flags */
    p[1] = (uint8_t)f->prolog;
    p[2] = 1;         /* one code slot */
    p[3] = 0;         /* no frame register */
    p[4] = (uint8_t)f->prolog;                            /* code offset: end of sub rsp */
    p[5] = (uint8_t)(2u | (((f->frame - 8) / 8) << 4));   /* UWOP_ALLOC_SMALL */
    p[6] = 0;
    p[7] = 0;
}

/* Writes .xdata (at rva; returns its byte count) and .pdata (at pdata_at) for the functions
 * of `mname`; *pdata_rva / *pdata_size get the exception directory (0 on x86). */
static uint32_t pe_unwind(kern *k, uint64_t base, const char *mname, uint32_t rva,
                          uint32_t pdata_at, uint32_t *pdata_rva, uint32_t *pdata_size)
{
    kpriv *kp = kp_of(k);
    size_t n = 0;
    for (size_t i = 0; i < kp->nfn; i++)
        n += !strcmp(kp->fn[i].module, mname);
    *pdata_rva = *pdata_size = 0;
    if (!n || kn_x86(k))
        return 0;
    uint32_t xrva = rva, prva = pdata_at; /* .xdata in .rdata; .pdata its own section */
    uint8_t *x = sc_alloc0(12 * n), *pd = sc_alloc0(12 * n);
    size_t j = 0;
    uint32_t xo = 0;
    for (size_t i = 0; i < kp->nfn; i++) { /* fn[] is sorted: .pdata comes out sorted */
        const kfunc *f = &kp->fn[i];
        if (strcmp(f->module, mname))
            continue;
        unwind_info(x + xo, f);
        p32(pd + 12 * j, (uint32_t)(f->va - base));
        p32(pd + 12 * j + 4, (uint32_t)(f->va + f->len - base));
        p32(pd + 12 * j + 8, xrva + xo);
        xo += unwind_size(f);
        j++;
    }
    w_write(k->w, base + xrva, x, xo);
    w_write(k->w, base + prva, pd, 12 * n);
    free(x);
    free(pd);
    *pdata_rva = prva;
    *pdata_size = (uint32_t)(12 * n);
    return xo;
}

static int str_cmp(const void *a, const void *b)
{
    return strcmp(*(const char *const *)a, *(const char *const *)b);
}

/* Export directory of a driver at rva; returns bytes used. */
static uint32_t pe_exports(kern *k, const kmodule *m, const char *mname, uint32_t rva,
                           uint32_t *size)
{
    kpriv *kp = kp_of(k);
    const char *names[512];
    uint64_t vas[512];
    size_t n = 0;
    for (size_t i = 0; i < kp->nfn && n < 512; i++)
        if (!strcmp(kp->fn[i].module, mname))
            names[n++] = kp->fn[i].name;
    qsort(names, n, sizeof *names, str_cmp);
    for (size_t i = 0; i < n; i++)
        for (size_t j = 0; j < kp->nfn; j++)
            if (!strcmp(kp->fn[j].module, mname) && kp->fn[j].name == names[i])
                vas[i] = kp->fn[j].va;
    uint32_t funcs = rva + 40, nameptrs = funcs + 4 * (uint32_t)n, ords = nameptrs + 4 * (uint32_t)n;
    uint32_t strs = (uint32_t)align_up(ords + 2 * n, 4);
    uint8_t buf[40];
    memset(buf, 0, sizeof buf);
    p32(buf + 4, m->timestamp);
    p32(buf + 12, strs); /* Name: the image's file name */
    p32(buf + 16, 1);    /* ordinal base */
    p32(buf + 20, (uint32_t)n);
    p32(buf + 24, (uint32_t)n);
    p32(buf + 28, funcs);
    p32(buf + 32, nameptrs);
    p32(buf + 36, ords);
    w_write(k->w, m->base + rva, buf, 40);
    uint32_t s = strs;
    w_write(k->w, m->base + s, m->file, strlen(m->file) + 1);
    s += (uint32_t)strlen(m->file) + 1;
    for (size_t i = 0; i < n; i++) {
        w_put(k->w, m->base + funcs + 4 * i, 4, vas[i] - m->base);
        w_put(k->w, m->base + nameptrs + 4 * i, 4, s);
        w_put(k->w, m->base + ords + 2 * i, 2, i);
        w_write(k->w, m->base + s, names[i], strlen(names[i]) + 1);
        s += (uint32_t)strlen(names[i]) + 1;
    }
    *size = s - rva;
    return (uint32_t)align_up(s - rva, 16);
}

static void image_driver(kern *k, kmodule *m)
{
    char mname[64];
    module_name(m, mname, sizeof mname);
    kpriv *kp = kp_of(k);
    for (size_t i = 0; i < kp->nfn; i++)
        if (!strcmp(kp->fn[i].module, mname))
            fn_emit(k, &kp->fn[i]);
    uint32_t dirs[16][2];
    memset(dirs, 0, sizeof dirs);
    uint32_t rdata_rva = 0;
    /* the .text size is everything up to .rdata: find the first free page after the routines */
    uint64_t last = m->base + 0x1000;
    for (size_t i = 0; i < kp->nfn; i++)
        if (!strcmp(kp->fn[i].module, mname) && kp->fn[i].va + KN_DRV_STRIDE > last)
            last = kp->fn[i].va + KN_DRV_STRIDE;
    rdata_rva = (uint32_t)align_up(last - m->base, 0x1000);
    uint32_t r = rdata_rva, esize = 0;
    dirs[0][0] = r;
    r += pe_exports(k, m, mname, r, &esize);
    dirs[0][1] = esize;
    uint8_t guid[16];
    uint32_t age = 1;
    uint32_t h = hash32(m->file);
    for (int i = 0; i < 16; i++)
        guid[i] = (uint8_t)((h >> (8 * (i % 4))) ^ (uint8_t)(0x3d * i + 0x11));
    if (m->pdb_id[0])
        guid_parse(m->pdb_id, guid, &age);
    char pdb[80];
    snprintf(pdb, sizeof pdb, "%s.pdb", mname);
    dirs[6][0] = r;
    dirs[6][1] = 28;
    r += pe_debug(k, m->base, r, guid, age, pdb, m->timestamp);
    uint32_t prva, psize, pdata_at = (uint32_t)(m->size - 0x1000);
    r += pe_unwind(k, m->base, mname, r, pdata_at, &prva, &psize);
    dirs[3][0] = prva;
    dirs[3][1] = psize;
    if (r > pdata_at || psize > 0x1000)
        sc_die("%s: image layout overflow", m->file);
    pe_sec sec[3] = {
        {".text", 0x1000, rdata_rva - 0x1000, SCN_CODE},
        {".rdata", rdata_rva, pdata_at - rdata_rva, SCN_RDATA},
        {".pdata", pdata_at, 0x1000, SCN_RDATA},
    };
    pe_headers(k, m->base, (uint32_t)m->size, 0x1000, sec, kn_x86(k) ? 2 : 3, dirs, m->timestamp,
               m->checksum, true);
    const char *T = ldr_type(k);
    if (prva) {
        w_try(k->w, m->ldr, T, "ExceptionTable", m->base + prva);
        w_try(k->w, m->ldr, T, "ExceptionTableSize", psize);
    }
}

/* nt: the globals' extent decides SizeOfImage; then .rdata (debug record, .xdata) and .pdata. */
static void image_nt(kern *k)
{
    kpriv *kp = kp_of(k);
    kmodule *m = &kp->mod[0];
    static const char *const probe[] = {
        "KiProcessorBlock", "KiWaitAlways", "KiWaitNever", "KdDebuggerDataBlock",
        "KdpDataBlockEncoded", "PsLoadedModuleList", "PsActiveProcessHead", "KiInitialThread",
        "KiInitialProcess", "PsIdleProcess", "MmPfnDatabase", "KeNumberProcessors",
        "ObpRootDirectoryObject", "PspCidTable", "KiBugCheckData", "NtBuildLab",
        "KdVersionBlock", "MmSystemRangeStart", "PsInitialSystemProcess", "ObTypeIndexTable",
        "IopRootDeviceNode", "ExpSystemResourcesList", "KiTimerTableListHead",
        "KiSystemStartup", "KiIdleThread0"};
    uint64_t max = 0x2000;
    for (size_t i = 0; i < sizeof probe / sizeof probe[0]; i++) {
        uint64_t r = lay_sym(k->L, probe[i]);
        if (r != SC_NONE && r + 0x100 > max)
            max = r + 0x100;
    }
    for (size_t i = 0; i < kp->nsym; i++) {
        uint64_t r = lay_sym(k->L, kp->sym[i]);
        if (r != SC_NONE && r + 0x100 > max)
            max = r + 0x100;
    }
    for (size_t i = 0; i < kp->nfn; i++)
        if (!strcmp(kp->fn[i].module, "nt") && kp->fn[i].va + kp->fn[i].len - k->base > max)
            max = kp->fn[i].va + kp->fn[i].len - k->base;
    uint32_t data_end = (uint32_t)align_up(max + 0x1000, 0x10000);
    for (size_t i = 0; i < kp->nfn; i++)
        if (!strcmp(kp->fn[i].module, "nt"))
            fn_emit(k, &kp->fn[i]);
    uint32_t dirs[16][2];
    memset(dirs, 0, sizeof dirs);
    uint8_t guid[16];
    uint32_t age;
    guid_parse(lay_guid_age(k->L), guid, &age);
    uint32_t r = data_end;
    dirs[6][0] = r;
    dirs[6][1] = 28;
    r += pe_debug(k, k->base, r, guid, age, kn_x86(k) ? "ntkrnlpa.pdb" : "ntkrnlmp.pdb",
                  m->timestamp);
    size_t nnt = 0;
    for (size_t i = 0; i < kp->nfn; i++)
        nnt += !strcmp(kp->fn[i].module, "nt");
    size_t nmach = 0; /* their .xdata: 8 bytes each, 12 for machine-frame handlers */
    for (size_t i = 0; i < kp->nfn; i++)
        nmach += !strcmp(kp->fn[i].module, "nt") && kp->fn[i].machframe;
    uint32_t pdata_at = (uint32_t)align_up(r + 8 * nnt + 4 * nmach + 0x100, 0x1000);
    uint32_t prva, psize;
    r += pe_unwind(k, k->base, "nt", r, pdata_at, &prva, &psize);
    dirs[3][0] = prva;
    dirs[3][1] = psize;
    uint32_t size = (uint32_t)align_up(pdata_at + 12 * nnt + 0x100, 0x1000);
    pe_sec sec[3] = {
        {".text", 0x1000, data_end - 0x1000, SCN_CODE | SCN_DATA},
        {".rdata", data_end, pdata_at - data_end, SCN_RDATA},
        {".pdata", pdata_at, size - pdata_at, SCN_RDATA},
    };
    uint64_t entry = lay_sym(k->L, "KiSystemStartup");
    pe_headers(k, k->base, size, (uint32_t)(entry != SC_NONE ? entry : 0x1000), sec,
               kn_x86(k) ? 2 : 3, dirs, m->timestamp, m->checksum, false);
    m->size = size;
    k->size = size;
    const char *T = ldr_type(k);
    w_set(k->w, m->ldr, T, "SizeOfImage", size);
    if (prva) {
        w_try(k->w, m->ldr, T, "ExceptionTable", k->base + prva);
        w_try(k->w, m->ldr, T, "ExceptionTableSize", psize);
    }
}

/* ------------------------------------------------------------------ processors, globals */
static uint32_t build_of(const lay *L)
{
    static const struct {
        const char *guid;
        uint32_t build;
    } known[] = {
        {"339E74133576439CBCDF7E0229DA3773", 7601}, {"22597D0B40394E23936F6A24C6C52D5B", 9600},
        {"517E128F7B7C4EA79491DE6B9B9CE190", 14393}, {"8B11040A5928757B11390AC78F6B6925", 17763},
        {"35A038B1F6E2E8CAF642111E6EC66F57", 18362}, {"5278AFF86C341677D7D7835C85B7B844", 19041},
        {"C2EADB24A615E9472CE47C8ADD31F130", 20348}, {"32C1A669D5FFEFD41091F636CFDB6E99", 22000},
        {"30B5FB31AE7E4ACAABA750AA241FF331", 2600},
    };
    const char *g = lay_guid_age(L);
    for (size_t i = 0; i < sizeof known / sizeof known[0]; i++)
        if (!strncasecmp(g, known[i].guid, 32))
            return known[i].build;
    if (lay_ptr(L) == 4)
        return 2600;
    return lay_has_type(L, "_KLDR_DATA_TABLE_ENTRY") ? 19041 : 7601;
}

#define KN_WAIT_NEVER 0x9e3779b97f4a7c15ULL  /* low byte 0x15: rotate by 21 */
#define KN_WAIT_ALWAYS 0xc2b2ae3d27d4eb4fULL

kern *k_new(world *w, sc_kind kind, unsigned ncpu)
{
    kpriv *kp = sc_alloc0(sizeof *kp);
    kern *k = &kp->k;
    k->w = w;
    k->L = w_lay(w);
    k->kind = kind;
    k->ncpu = ncpu < 1 ? 1 : ncpu > 32 ? 32 : ncpu;
    k->build = build_of(k->L);
    bool x86 = kn_x86(k);
    if (x86) {
        k->base = 0x804d7000ULL;
        kp->next_driver = 0xf7400000ULL;
    } else if (k->build < 9200) {
        k->base = 0xfffff80002a00000ULL;
        kp->next_driver = 0xfffff88000e00000ULL;
    } else {
        k->base = 0xfffff8047b600000ULL;
        kp->next_driver = 0xfffff80480000000ULL;
    }
    /* lists that exist before anything is linked on them */
    w_list_init(w, k_sym(k, "PsLoadedModuleList"));
    w_list_init(w, k_sym(k, "PsActiveProcessHead"));
    mod_add(k, x86 ? "ntkrnlpa.exe" : "ntoskrnl.exe",
            x86 ? "\\WINDOWS\\system32\\ntkrnlpa.exe" : "\\SystemRoot\\system32\\ntoskrnl.exe",
            k->base, true);
    w_set(w, kp->mod[0].ldr, ldr_type(k), "SizeOfImage", 0x1000); /* final at k_finish */
    /* globals */
    uint64_t va;
    if ((va = k_sym_opt(k, "NtBuildNumber")) != SC_NONE)
        w_put(w, va, 4, 0xf0000000u | k->build);
    if ((va = k_sym_opt(k, "KeNumberProcessors")) != SC_NONE)
        w_put(w, va, x86 ? 1 : 4, k->ncpu);
    if ((va = k_sym_opt(k, "KiWaitNever")) != SC_NONE)
        w_put(w, va, 8, KN_WAIT_NEVER);
    if ((va = k_sym_opt(k, "KiWaitAlways")) != SC_NONE)
        w_put(w, va, 8, KN_WAIT_ALWAYS);
    if ((va = k_sym_opt(k, "MmSystemRangeStart")) != SC_NONE)
        w_pointer(w, va, x86 ? 0x80000000ULL : 0xffff800000000000ULL);
    if ((va = k_sym_opt(k, "MmHighestUserAddress")) != SC_NONE)
        w_pointer(w, va, x86 ? 0x7ffeffffULL : 0x7ffffffeffffULL);
    /* processors */
    uint64_t kpb = k_sym(k, "KiProcessorBlock");
    kp_idle_process(k); /* the Idle process the idle threads belong to */
    for (unsigned c = 0; c < k->ncpu; c++) {
        uint64_t pcr, prcb;
        if (x86) {
            pcr = c == 0 ? 0xffdff000ULL : w_alloc(w, lay_size(k->L, "_KPCR"), 0x1000);
            prcb = pcr + lay_off_req(k->L, "_KPCR", "PrcbData");
            w_try(w, pcr, "_KPCR", "SelfPcr", pcr);
            w_try(w, pcr, "_KPCR", "Prcb", prcb);
            w_try(w, pcr, "_KPCR", "Number", c);
            w_try(w, pcr, "_KPCR", "MajorVersion", 1);
            w_try(w, pcr, "_KPCR", "MinorVersion", 1);
        } else {
            uint64_t initial = c == 0 ? k_sym_opt(k, "KiInitialPCR") : SC_NONE;
            pcr = initial != SC_NONE ? initial : w_alloc(w, lay_size(k->L, "_KPCR"), 0x1000);
            prcb = pcr + lay_off_req(k->L, "_KPCR", "Prcb");
            w_try(w, pcr, "_KPCR", "Self", pcr);
            w_try(w, pcr, "_KPCR", "CurrentPrcb", prcb);
            w_try(w, pcr, "_KPCR", "MajorVersion", 1);
            w_try(w, pcr, "_KPCR", "MinorVersion", 1);
        }
        uint64_t kvb = k_sym_opt(k, "KdVersionBlock");
        if (kvb != SC_NONE)
            w_try(w, pcr, "_KPCR", "KdVersionBlock", kvb);
        k->pcr[c] = pcr;
        k->prcb[c] = prcb;
        w_try(w, prcb, "_KPRCB", "Number", c);
        w_try(w, prcb, "_KPRCB", "SetMember", 1ULL << c);
        w_try(w, prcb, "_KPRCB", "GroupSetMember", 1ULL << c);
        w_try(w, prcb, "_KPRCB", "GroupIndex", c);
        w_try(w, prcb, "_KPRCB", "MHz", 2904);
        w_try(w, prcb, "_KPRCB", "CpuType", 6);
        int64_t vs = lay_off(k->L, "_KPRCB", "VendorString");
        if (vs >= 0)
            w_write(w, prcb + (uint64_t)vs, "GenuineIntel", 13);
        w_pointer(w, kpb + (uint64_t)c * lay_ptr(k->L), prcb);
        uint64_t at = 0;
        if (c == 0) {
            uint64_t it = k_sym_opt(k, "KiInitialThread");
            if (it == SC_NONE)
                it = k_sym_opt(k, "KiIdleThread0"); /* XP's name for it */
            at = it == SC_NONE ? 0 : it;
        }
        uint64_t th = kp_idle_thread(k, c, at);
        k->idle_thread[c] = th;
        w_set(w, prcb, "_KPRCB", "IdleThread", th);
        w_set(w, prcb, "_KPRCB", "CurrentThread", th);
    }
    return k;
}

void k_bugcheck(kern *k, uint32_t code, uint64_t p1, uint64_t p2, uint64_t p3, uint64_t p4)
{
    kpriv *kp = kp_of(k);
    k->hdr.bugcheck = code;
    k->hdr.params[0] = p1;
    k->hdr.params[1] = p2;
    k->hdr.params[2] = p3;
    k->hdr.params[3] = p4;
    kp->have_bugcheck = true;
    uint64_t bd = k_sym_opt(k, "KiBugCheckData");
    if (bd != SC_NONE) {
        unsigned ps = lay_ptr(k->L);
        w_put(k->w, bd, 4, code);
        w_pointer(k->w, bd + ps, p1);
        w_pointer(k->w, bd + 2 * ps, p2);
        w_pointer(k->w, bd + 3 * ps, p3);
        w_pointer(k->w, bd + 4 * ps, p4);
    }
}

/* ------------------------------------------------------------------ debugger data */
static uint64_t bswap64(uint64_t v) { return __builtin_bswap64(v); }
static uint64_t rol64(uint64_t v, unsigned n)
{
    n &= 63;
    return n ? (v << n) | (v >> (64 - n)) : v;
}
static uint64_t ror64(uint64_t v, unsigned n)
{
    n &= 63;
    return n ? (v >> n) | (v << (64 - n)) : v;
}

static uint16_t off16(kern *k, const char *type, const char *field)
{
    int64_t o = lay_off(k->L, type, field);
    return o < 0 ? 0 : (uint16_t)o;
}

static void kdbg_fill(kern *k, uint64_t kdbg)
{
    bool x86 = kn_x86(k);
    uint32_t size = x86 ? 0x290 : k->build < 9200 ? 0x340 : k->build < 17763 ? 0x368 : 0x380;
    uint8_t *b = sc_alloc0(size);
    memcpy(b + 0x10, "KDBG", 4);
    p32(b + 0x14, size);
    /* Header.List: a self-linked LIST_ENTRY64 */
    p64(b + 0x00, sx(k, kdbg));
    p64(b + 0x08, sx(k, kdbg));
    p64(b + 0x18, sx(k, k->base));
    static const struct {
        unsigned off;
        const char *sym;
    } ptrs[] = {
        {0x20, "RtlpBreakWithStatusInstruction"}, {0x38, "KiCallUserMode"},
        {0x40, "KeUserCallbackDispatcher"}, {0x48, "PsLoadedModuleList"},
        {0x50, "PsActiveProcessHead"}, {0x58, "PspCidTable"}, {0x60, "ExpSystemResourcesList"},
        {0x68, "ExpPagedPoolDescriptor"}, {0x70, "ExpNumberOfPagedPools"},
        {0x78, "KeTimeIncrement"}, {0x80, "KeBugCheckCallbackListHead"},
        {0x88, "KiBugCheckData"}, {0x90, "IopErrorLogListHead"},
        {0x98, "ObpRootDirectoryObject"}, {0xa0, "ObpTypeObjectType"},
        {0xc0, "MmPfnDatabase"}, {0xe0, "MmNumberOfPagingFiles"},
        {0xe8, "MmLowestPhysicalPage"}, {0xf0, "MmHighestPhysicalPage"},
        {0xf8, "MmNumberOfPhysicalPages"}, {0x1a8, "MmAvailablePages"},
        {0x1b0, "MmResidentAvailablePages"}, {0x1b8, "PoolTrackTable"},
        {0x1c8, "MmHighestUserAddress"}, {0x1d0, "MmSystemRangeStart"},
        {0x1d8, "MmUserProbeAddress"}, {0x200, "MmLoadedUserImageList"},
        {0x208, "NtBuildLab"}, {0x218, "KiProcessorBlock"}, {0x220, "MmUnloadedDrivers"},
        {0x228, "MmLastUnloadedDriver"}, {0x268, "CmNtCSDVersion"},
        {0x270, "MmPhysicalMemoryBlock"}, {0x2d8, "KeLoaderBlock"},
    };
    for (size_t i = 0; i < sizeof ptrs / sizeof ptrs[0]; i++) {
        if (ptrs[i].off + 8 > size)
            continue;
        uint64_t va = lay_sym(k->L, ptrs[i].sym);
        if (va != SC_NONE)
            p64(b + ptrs[i].off, sx(k, k->base + va));
    }
    p16(b + 0x36, x86 && lay_pae(k->L) ? 1 : 0); /* PaeEnabled */
    p64(b + 0x138, 0x1000);                      /* MmPageSize */
    if (size >= 0x2c2) {
        p16(b + 0x298, off16(k, "_KTHREAD", "NextProcessor"));
        p16(b + 0x29a, off16(k, "_KTHREAD", "Teb"));
        p16(b + 0x29c, off16(k, "_KTHREAD", "KernelStack"));
        p16(b + 0x29e, off16(k, "_KTHREAD", "InitialStack"));
        p16(b + 0x2a0, off16(k, "_KTHREAD", "ApcState.Process"));
        p16(b + 0x2a2, off16(k, "_KTHREAD", "State"));
        p16(b + 0x2a8, (uint16_t)lay_size(k->L, "_EPROCESS"));
        p16(b + 0x2aa, off16(k, "_EPROCESS", "Peb"));
        p16(b + 0x2ac, off16(k, "_EPROCESS", "InheritedFromUniqueProcessId"));
        p16(b + 0x2ae, off16(k, "_KPROCESS", "DirectoryTableBase"));
        p16(b + 0x2b0, (uint16_t)lay_size(k->L, "_KPRCB"));
        p16(b + 0x2b4, off16(k, "_KPRCB", "CurrentThread"));
        p16(b + 0x2b6, off16(k, "_KPRCB", "MHz"));
        p16(b + 0x2b8, off16(k, "_KPRCB", "CpuType"));
        p16(b + 0x2ba, off16(k, "_KPRCB", "VendorString"));
        p16(b + 0x2bc, off16(k, "_KPRCB", "ProcessorState.ContextFrame"));
        p16(b + 0x2be, off16(k, "_KPRCB", "Number"));
        p16(b + 0x2c0, (uint16_t)lay_size(k->L, "_ETHREAD"));
    }
    if (size >= 0x2f0) {
        p16(b + 0x2e0, (uint16_t)lay_size(k->L, "_KPCR"));
        p16(b + 0x2e2, off16(k, "_KPCR", "Self"));
        p16(b + 0x2e4, off16(k, "_KPCR", "CurrentPrcb"));
        p16(b + 0x2e6, off16(k, "_KPCR", "Prcb"));
    }
    if (size >= 0x360) {
        p32(b + 0x340, off16(k, "_KTHREAD", "StackLimit"));
        p32(b + 0x344, off16(k, "_KTHREAD", "StackBase"));
        p32(b + 0x34c, off16(k, "_ETHREAD", "IrpList"));
        p16(b + 0x350, off16(k, "_KPRCB", "IdleThread"));
        p16(b + 0x35c, off16(k, "_KTHREAD", "WaitReason"));
    }
    uint64_t enc = k_sym_opt(k, "KdpDataBlockEncoded");
    if (enc != SC_NONE && !x86 && k_sym_opt(k, "KiWaitNever") != SC_NONE &&
        k_sym_opt(k, "KiWaitAlways") != SC_NONE) {
        uint64_t never = w_get(k->w, k_sym(k, "KiWaitNever"), 8);
        uint64_t always = w_get(k->w, k_sym(k, "KiWaitAlways"), 8);
        for (uint32_t i = 0; i + 8 <= size; i += 8) {
            uint64_t v;
            memcpy(&v, b + i, 8);
            v ^= always;
            v = bswap64(v);
            v ^= enc | 0xffff000000000000ULL;
            v = ror64(v, (unsigned)(never & 0xff));
            v ^= never;
            memcpy(b + i, &v, 8);
        }
        w_put(k->w, enc, 1, 1);
        /* self-check: the decoding a reader applies gives the plain block back */
        uint64_t first;
        memcpy(&first, b + 0x10, 8);
        uint64_t d = bswap64(rol64(first ^ never, (unsigned)(never & 0xff)) ^
                             (enc | 0xffff000000000000ULL)) ^ always;
        if (memcmp(&d, "KDBG", 4))
            sc_die("KDBG encoding self-check failed");
    }
    w_write(k->w, kdbg, b, size);
    free(b);
}

static void version_block(kern *k)
{
    uint64_t v = k_sym_opt(k, "KdVersionBlock");
    if (v == SC_NONE || !lay_has_type(k->L, "_DBGKD_GET_VERSION64"))
        return;
    const char *T = "_DBGKD_GET_VERSION64";
    w_try(k->w, v, T, "MajorVersion", 0xf);
    w_try(k->w, v, T, "MinorVersion", k->build);
    w_try(k->w, v, T, "ProtocolVersion", 6);
    w_try(k->w, v, T, "KdSecondaryVersion", 2);
    w_try(k->w, v, T, "Flags", kn_x86(k) ? 0x47 : 0x46);
    w_try(k->w, v, T, "MachineType", lay_machine(k->L));
    w_try(k->w, v, T, "MaxPacketType", 0xc);
    w_try(k->w, v, T, "MaxStateChange", 3);
    w_try(k->w, v, T, "MaxManipulate", 0x33);
    w_try(k->w, v, T, "KernBase", sx(k, k->base));
    w_try(k->w, v, T, "PsLoadedModuleList", sx(k, k_sym(k, "PsLoadedModuleList")));
    uint64_t kd = k_sym_opt(k, "KdDebuggerDataBlock");
    if (kd != SC_NONE)
        w_try(k->w, v, T, "DebuggerDataList", sx(k, kd));
}

/* ------------------------------------------------------------------ contexts */
static size_t make_context(kern *k, uint8_t *out, uint64_t pc, uint64_t sp, uint64_t fp)
{
    if (kn_x86(k)) {
        gd_context_x86 c;
        memset(&c, 0, sizeof c);
        c.context_flags = GD_CONTEXT_I386 | 0x3f;
        c.control_word = 0xffff027f;
        c.seg_cs = 0x08;
        c.seg_ss = 0x10;
        c.seg_ds = 0x23;
        c.seg_es = 0x23;
        c.seg_fs = 0x30;
        c.eflags = 0x00000282;
        c.eip = (uint32_t)pc;
        c.esp = (uint32_t)sp;
        c.ebp = (uint32_t)fp;
        c.ecx = 0x1;
        memcpy(out, &c, sizeof c);
        return sizeof c;
    }
    gd_context_amd64 c;
    memset(&c, 0, sizeof c);
    c.context_flags = GD_CONTEXT_AMD64 | 0x1f;
    c.mx_csr = c.mx_csr2 = 0x1f80;
    c.mx_csr_mask = 0xffff;
    c.control_word = 0x27f;
    c.seg_cs = 0x10;
    c.seg_ss = 0x18;
    c.seg_ds = 0x2b;
    c.seg_es = 0x2b;
    c.seg_fs = 0x53;
    c.seg_gs = 0x2b;
    c.eflags = 0x00000282;
    c.rip = pc;
    c.rsp = sp;
    c.rbp = fp;
    c.rcx = k->hdr.bugcheck;
    c.rdx = k->hdr.params[0];
    c.r8 = k->hdr.params[1];
    c.r9 = k->hdr.params[2];
    memcpy(out, &c, sizeof c);
    return sizeof c;
}

/* x86: when the crashing thread's innermost caller is a trap handler (scene trapd1: nt!KiTrap0E
 * called KeBugCheckEx), proc.c laid its KTRAP_FRAME above KeBugCheckEx's return slot and
 * parameters, with Eip = the next return address and SegCs 8; the manifest's `trap` line names
 * it (esp: where HardwareEsp would be, the interrupted esp of a kernel-mode trap). */
static void x86_trap_line(kern *k, const kthr *t, uint64_t sp)
{
    if (t->nrets < 2)
        return;
    const kfunc *f = kn_func_at(k, t->rets[0]);
    if (!f || strcmp(f->module, "nt") || strncmp(f->name, "KiTrap", 6))
        return;
    uint64_t oeip = lay_off_req(k->L, "_KTRAP_FRAME", "Eip");
    uint64_t ocs = lay_off_req(k->L, "_KTRAP_FRAME", "SegCs");
    uint64_t oesp = lay_off_req(k->L, "_KTRAP_FRAME", "HardwareEsp");
    uint64_t slot = 0;
    for (uint64_t a = sp; a < sp + 0x200 && !slot; a += 4)
        if (w_get(k->w, a, 4) == (t->rets[0] & 0xffffffffu))
            slot = a;
    for (uint64_t a = slot + 4; slot && a < slot + 0x100; a += 4)
        if (w_get(k->w, a + oeip, 4) == (t->rets[1] & 0xffffffffu) && w_get(k->w, a + ocs, 4) == 8) {
            mf("trap 0x%llx 0x%llx 0x%llx", (unsigned long long)a, (unsigned long long)t->rets[1],
               (unsigned long long)(a + oesp));
            return;
        }
    sc_die("%s: the crash stack's KTRAP_FRAME was not found", f->name);
}

static void contexts(kern *k, unsigned crash_cpu, uint64_t bugcheck_fn)
{
    int64_t cf = lay_off(k->L, "_KPRCB", "ProcessorState.ContextFrame");
    for (unsigned c = 0; c < k->ncpu; c++) {
        uint64_t th = w_field(k->w, k->prcb[c], "_KPRCB", "CurrentThread");
        kthr *t = kp_thr(k, th);
        uint64_t pc = 0, sp = 0, fp = 0;
        if (t)
            kp_thread_regs(k, t, c == crash_cpu, bugcheck_fn, &pc, &sp, &fp);
        uint8_t ctx[0x4d0];
        memset(ctx, 0, sizeof ctx);
        size_t n = make_context(k, ctx, pc, sp, fp);
        if (cf >= 0)
            w_write(k->w, k->prcb[c] + (uint64_t)cf, ctx, n);
        if (c == crash_cpu && t && kn_x86(k))
            x86_trap_line(k, t, sp);
        if (c == crash_cpu) {
            memcpy(k->hdr.context, ctx, n);
            k->hdr.context_size = n;
            const char *x = kn_x86(k) ? "e" : "r";
            mf("header %sip 0x%llx", x, (unsigned long long)pc);
            mf("header %ssp 0x%llx", x, (unsigned long long)sp);
            mf("header %sbp 0x%llx", x, (unsigned long long)fp);
            mf("header CurrentThread 0x%llx", (unsigned long long)th);
        }
    }
}

/* ------------------------------------------------------------------ finish */
void k_hostile_modules(kern *k) { kp_of(k)->hostile_modules = true; }

/* The last PsLoadedModuleList entry's Flink to the second entry: a loop without the head. */
static void module_cycle(kern *k)
{
    kpriv *kp = kp_of(k);
    if (!kp->hostile_modules || kp->nmod < 3)
        return;
    uint64_t lo = lay_off_req(k->L, ldr_type(k), "InLoadOrderLinks");
    uint64_t last = kp->mod[kp->nmod - 1].ldr;
    w_pointer(k->w, last + lo, kp->mod[1].ldr + lo);
    mf("hostile modcycle 0x%llx", (unsigned long long)last);
}

void k_finish(kern *k, const char *path)
{
    kpriv *kp = kp_of(k);
    bool x86 = kn_x86(k);
    uint64_t bug = k_nt_func(k, "KeBugCheckEx");
    if (x86)
        k_ret(k, bug, 0x20); /* the frame's pc on x86: after the prologue */
    kthr *ct = kp_thr(k, w_field(k->w, k->prcb[0], "_KPRCB", "CurrentThread"));
    if (ct && ct->nrets) /* the crashing frame called KeBugCheckEx */
        kn_ret_callee(k, ct->rets[0], bug);
    fn_settle(k);
    image_nt(k);
    for (size_t i = 1; i < kp->nmod; i++)
        image_driver(k, &kp->mod[i]);
    version_block(k);
    module_cycle(k);
    uint64_t kdbg = k_sym(k, "KdDebuggerDataBlock");
    if (!kp->have_bugcheck)
        k_bugcheck(k, 0xe2, 0, 0, 0, 0); /* MANUALLY_INITIATED_CRASH */
    contexts(k, 0, bug);
    kdbg_fill(k, kdbg);
    /* header */
    sc_header *h = &k->hdr;
    h->build = k->build;
    h->ncpu = k->ncpu;
    h->kernbase = k->base;
    h->ps_loaded_module_list = k_sym(k, "PsLoadedModuleList");
    h->ps_active_process_head = k_sym(k, "PsActiveProcessHead");
    h->kdbg = kdbg;
    uint64_t pfn = k_sym_opt(k, "MmPfnDatabase");
    h->pfn_database = pfn != SC_NONE ? w_get(k->w, pfn, lay_ptr(k->L)) : 0;
    /* manifest */
    mf("header KernBase 0x%llx", (unsigned long long)h->kernbase);
    mf("header PsLoadedModuleList 0x%llx", (unsigned long long)h->ps_loaded_module_list);
    mf("header PsActiveProcessHead 0x%llx", (unsigned long long)h->ps_active_process_head);
    mf("header KdDebuggerDataBlock 0x%llx", (unsigned long long)h->kdbg);
    mf("header BugCheckCode 0x%x", h->bugcheck);
    for (int i = 0; i < 4; i++)
        mf("header BugCheckParameter%d 0x%llx", i + 1, (unsigned long long)h->params[i]);
    mf("header NumberProcessors 0x%x", h->ncpu);
    k_sym(k, "KiProcessorBlock");
    for (size_t i = 0; i < kp->nsym; i++)
        mf("sym %s 0x%llx", kp->sym[i], (unsigned long long)(k->base + lay_sym(k->L, kp->sym[i])));
    for (size_t i = 0; i < kp->nmod; i++)
        mf("module 0x%llx 0x%llx %s", (unsigned long long)kp->mod[i].base,
           (unsigned long long)kp->mod[i].size, kp->mod[i].file);
    for (size_t i = 0; i < kp->nfn; i++)
        mf("func %s %s 0x%llx", kp->fn[i].module, kp->fn[i].name,
           (unsigned long long)kp->fn[i].va);
    for (unsigned c = 0; c < k->ncpu; c++)
        mf("prcb %u 0x%llx 0x%llx 0x%llx", c, (unsigned long long)k->prcb[c],
           (unsigned long long)k->pcr[c],
           (unsigned long long)w_field(k->w, k->prcb[c], "_KPRCB", "CurrentThread"));
    kp_finish(k);
    ob_finish(k); /* drivers' dispatch tables, type lists, manifest lines of ob/io/ex (lead) */
    w_write_dump(k->w, h, path);
}
