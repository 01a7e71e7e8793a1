/* cmd_pte.c: the paging commands. `!pte addr` shows every paging level of a virtual
 * address in WinDbg's four-column layout (entry addresses in the page-table self-map, the
 * entries, pfn and flag letters, and the software state of an invalid entry); `!vtop
 * [dirbase] addr` walks the tables of a root and prints each step as WinDbg's
 * Amd64VtoP / X86VtoP lines. */
#include <stdio.h>

#include "cmd/cmd.h"
#include "expr/expr.h"
#include "kobj/kmm.h"

#define COLW 27 /* width of one !pte column */

static const char *result_name(nk_walk_result r)
{
    switch (r) {
    case NK_WALK_OK: return "ok";
    case NK_WALK_INVALID: return "invalid";
    case NK_WALK_NOT_IN_DUMP: return "notindump";
    case NK_WALK_NONCANONICAL: return "noncanonical";
    default: return "nopaging";
    }
}

static const char *swkind_name(nk_swpte_kind k)
{
    switch (k) {
    case NK_SWPTE_TRANSITION: return "transition";
    case NK_SWPTE_PROTOTYPE: return "prototype";
    case NK_SWPTE_PAGEFILE: return "pagefile";
    case NK_SWPTE_DEMAND_ZERO: return "demandzero";
    default: return "zero";
    }
}

/* Evaluates one address argument; on failure prints the evaluator's message. */
static bool eval_arg(nk_cmd_env *e, const char **s, uint64_t *v)
{
    char err[256] = "";
    const char *end = NULL;
    if (nk_eval(e->t, *s, &end, v, err, sizeof err) != NTKD_OK) {
        nk_cmd_error(e->o, "%s", err[0] ? err : "Syntax error");
        return false;
    }
    *s = nk_skip_ws(end ? end : *s + strlen(*s));
    /* 32-bit targets: a sign-extended address (ffffffff`8054099e) means the 32-bit one */
    if (!e->t->d.is64 && (*v >> 32) == 0xffffffffull) *v &= 0xffffffffull;
    return true;
}

static bool have_paging(nk_cmd_env *e)
{
    if (e->t->d.paging != NK_PAGING_NONE) return true;
    nk_cmd_error(e->o, "%s: this dump holds no page tables (%s)", e->name,
                 nk_kind_name(e->t->d.kind));
    return false;
}

/* One text line of the !pte table, built column by column and printed without trailing
 * blanks. */
typedef struct line {
    char s[256];
    size_t n;
} line;

static void col(line *l, int c, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
static void col(line *l, int c, const char *fmt, ...)
{
    size_t at = (size_t)c * COLW;
    while (l->n < at && l->n + 1 < sizeof l->s) l->s[l->n++] = ' ';
    va_list ap;
    va_start(ap, fmt);
    int k = vsnprintf(l->s + l->n, sizeof l->s - l->n, fmt, ap);
    va_end(ap);
    if (k > 0) l->n += (size_t)k < sizeof l->s - l->n ? (size_t)k : sizeof l->s - l->n - 1;
}

static void emit(nk_out *o, line *l)
{
    while (l->n && l->s[l->n - 1] == ' ') l->n--;
    l->s[l->n] = 0;
    nk_printf(o, "%s\n", l->s);
    l->n = 0;
}

/* Detail lines under an invalid entry, indented to its column. */
static void sw_details(nk_cmd_env *e, int c, const nk_swpte *sw, json_object *js)
{
    int ind = c * COLW + 1;
    nk_out *o = e->o;
    bool prot = true;
    switch (sw->kind) {
    case NK_SWPTE_TRANSITION:
        /* seed 002: on a 32-bit target an empty line follows (x64: none) */
        nk_printf(o, "%*sTransition: %llx\n%s", ind, "", (unsigned long long)sw->pfn, e->t->d.is64 ? "" : "\n");
        nk_json_u64(o, js, "pfn", sw->pfn);
        break;
    case NK_SWPTE_PROTOTYPE:
        if (sw->proto_addr == 0xffffffff0000ull) {
            nk_printf(o, "%*sPrototype PTE: VAD\n", ind, "");
            nk_json_str(o, js, "proto_addr", "VAD");
        } else {
            nk_printf(o, "%*sPrototype PTE: %0*llX\n", ind, "", e->t->d.is64 ? 16 : 8,
                      (unsigned long long)sw->proto_addr);
            nk_json_u64(o, js, "proto_addr", sw->proto_addr);
        }
        break;
    case NK_SWPTE_PAGEFILE:
        nk_printf(o, "%*sPageFile:  %x\n", ind, "", sw->pagefile);
        nk_printf(o, "%*sOffset: %llx\n", ind, "", (unsigned long long)sw->pagefile_off);
        nk_json_int(o, js, "pagefile", sw->pagefile);
        nk_json_u64(o, js, "offset", sw->pagefile_off);
        break;
    case NK_SWPTE_DEMAND_ZERO:
        nk_printf(o, "%*sDemandZero\n", ind, "");
        break;
    default:
        prot = false; /* an all-zero entry: WinDbg prints only "not valid" */
        break;
    }
    nk_json_str(o, js, "kind", swkind_name(sw->kind));
    nk_json_int(o, js, "protection", sw->protection);
    nk_json_str(o, js, "protection_name", nk_pte_protection_name(sw->protection));
    if (!prot) return;
    const char *pn = nk_pte_protection_name(sw->protection);
    if (pn[0]) nk_printf(o, "%*sProtect: %x - %s\n", ind, "", sw->protection, pn);
    else nk_printf(o, "%*sProtect: %x\n", ind, "", sw->protection);
}

/* JSON facts from the memory manager (kobj/kmm.c) for an invalid PTE: the PFN list of a page in
 * transition, and the thread whose kernel stack holds an outswapped-stack page. Best effort:
 * no kernel types or no PFN database leaves them out. */
static void pte_mm_facts(nk_cmd_env *e, uint64_t va, const nk_swpte *sw, json_object *js)
{
    ntkd_target *t = e->t;
    char save[sizeof t->ctx->errmsg];
    memcpy(save, t->ctx->errmsg, sizeof save);
    if (sw->kind == NK_SWPTE_TRANSITION) {
        nk_mm_pfndb db;
        nk_mmpfn p;
        if (nk_mm_pfndb_get(t, &db) == NTKD_OK && sw->pfn <= db.highest && nk_mm_pfn(t, &db, sw->pfn, &p) == NTKD_OK)
            nk_json_str(e->o, js, "pfn_list", nk_mm_list_name(p.list));
        uint64_t th;
        if (sw->protection == 0x1f && nk_k_thread_of_stack(t, va, &th) == NTKD_OK)
            nk_json_u64(e->o, js, "outswapped_thread", th);
    }
    memcpy(t->ctx->errmsg, save, sizeof save);
}

nk_status cmd_pte(nk_cmd_env *e, const char *a)
{
    ntkd_target *t = e->t;
    nk_out *o = e->o;
    const char *s = nk_skip_ws(a);
    if (!*s) {
        nk_cmd_error(o, "usage: !pte address");
        return NTKD_E_ARG;
    }
    uint64_t va;
    if (!eval_arg(e, &s, &va)) return NTKD_E_ARG;
    if (*s) {
        nk_cmd_error(o, "!pte: unexpected '%s' (usage: !pte address)", s);
        return NTKD_E_ARG;
    }
    if (!have_paging(e)) return NTKD_E_NOTPRESENT;
    /* software PTEs decoded with the layout nt's _MMPTE_* types give (kobj/kmm.c), when known */
    nk_mm_use_type_pte_layout(t);
    /* An address inside the page-table self-map is taken as the address of a PTE. */
    uint64_t mapped;
    bool is_pte_addr = nk_pte_addr_to_va(t, va, &mapped);
    if (is_pte_addr) va = mapped;

    nk_walk w;
    nk_vtop_walk(t, t->d.dtb, va, &w);
    if (w.result == NK_WALK_NONCANONICAL) {
        nk_cmd_error(o, "!pte: %llx is not a valid %s virtual address", (unsigned long long)va,
                     nk_arch_name(t->d.arch));
        return NTKD_E_ARG;
    }
    const nk_paging pg = t->d.paging;
    const bool wide = pg != NK_PAGING_X86;       /* 64-bit entries */
    const int addrw = t->d.is64 ? 16 : 8;
    const int first = pg == NK_PAGING_X86_PAE ? 1 : 0; /* WinDbg shows PDE and PTE for PAE */
    const int ncols = w.nlevels_arch - first;

    nk_json_u64(o, NULL, "va", va);
    if (is_pte_addr) nk_json_bool(o, NULL, "from_pte_address", true);
    json_object *jl = nk_json_arr(o, NULL, "levels");

    bool any_phys = false;
    line l = {.n = 0};
    col(&l, 0, "%*sVA %0*llx", ncols >= 4 ? 43 : 20, "", addrw, (unsigned long long)va);
    emit(o, &l);
    for (int i = 0; i < ncols; i++) {
        const nk_walk_level *lv = &w.lvl[first + i];
        uint64_t where = lv->entry_va;
        if (!where) {
            where = lv->entry_pa;
            any_phys = true;
        }
        /* levels past the end of the walk have no physical address: show the self-map one */
        if (first + i >= w.nlevels && !lv->entry_va) col(&l, i, "%s at %s", lv->name, "?");
        else col(&l, i, "%s at %0*llX", lv->name, addrw, (unsigned long long)where);
    }
    emit(o, &l);

    /* "contains" row: levels the walk read, and after a large page the entries the self-map
       addresses hold (as WinDbg reads them) */
    int leaf_at = -1;
    for (int i = 0; i < w.nlevels; i++)
        if (w.lvl[i].leaf && w.lvl[i].valid) leaf_at = i;
    for (int i = 0; i < ncols; i++) {
        int li = first + i;
        const nk_walk_level *lv = &w.lvl[li];
        if (li < w.nlevels) {
            if (lv->read_ok) col(&l, i, "contains %0*llX", wide ? 16 : 8, (unsigned long long)lv->value);
            else col(&l, i, "contains %s", wide ? "????????????????" : "????????");
        } else if (leaf_at >= 0 && lv->entry_va) {
            uint64_t v = 0;
            uint8_t b[8];
            size_t got = 0;
            nk_read_virt(t, lv->entry_va, b, wide ? 8 : 4, &got);
            if (got == (wide ? 8u : 4u)) {
                v = wide ? nk_le64(b) : nk_le32(b);
                col(&l, i, "contains %0*llX", wide ? 16 : 8, (unsigned long long)v);
            }
        }
    }
    emit(o, &l);

    /* pfn / flags row, then the software state of an invalid entry */
    nk_swpte sw;
    int invalid_col = -1;
    for (int i = 0; i < ncols && first + i < w.nlevels; i++) {
        int li = first + i;
        const nk_walk_level *lv = &w.lvl[li];
        bool last = li == w.nlevels_arch - 1;
        char flags[12] = "";
        if (!lv->read_ok) {
            col(&l, i, "not in dump");
        } else if (!lv->valid) {
            col(&l, i, "not valid");
            invalid_col = i;
        } else {
            nk_pte_flags(t, lv->value, !last, flags);
            col(&l, i, "pfn %-10llx%s", (unsigned long long)nk_pte_pfn(t, lv->value), flags);
            if (lv->leaf && !last)
                col(&l, i + 1, "LARGE PAGE pfn %llx", (unsigned long long)(w.pa >> 12));
        }
    }
    emit(o, &l);
    /* JSON: every level walked (PAE's PDPT entry too, which the text does not show) */
    for (int li = 0; li < w.nlevels; li++) {
        const nk_walk_level *lv = &w.lvl[li];
        char flags[12] = "";
        if (lv->read_ok && lv->valid) nk_pte_flags(t, lv->value, li < w.nlevels_arch - 1, flags);
        json_object *j = nk_json_obj(o, jl, NULL);
        nk_json_str(o, j, "name", lv->name);
        nk_json_u64(o, j, "entry_pa", lv->entry_pa);
        nk_json_u64(o, j, "entry_va", lv->entry_va);
        nk_json_bool(o, j, "read_ok", lv->read_ok);
        if (lv->read_ok) {
            nk_json_u64(o, j, "value", lv->value);
            nk_json_u64(o, j, "pfn", nk_pte_pfn(t, lv->value));
        }
        nk_json_str(o, j, "flags", flags);
        nk_json_bool(o, j, "valid", lv->valid);
        nk_json_bool(o, j, "leaf", lv->leaf);
    }
    nk_json_str(o, NULL, "result", result_name(w.result));
    if (w.result == NK_WALK_OK) {
        nk_json_u64(o, NULL, "pa", w.pa);
        nk_json_u64(o, NULL, "page_size", w.page_size);
    }
    if (w.result == NK_WALK_INVALID) {
        const nk_walk_level *bad = &w.lvl[w.nlevels - 1];
        nk_pte_decode(t, bad->value, &sw);
        json_object *js = nk_json_obj(o, NULL, "software");
        if (invalid_col < 0) { /* PAE: an invalid PDPT entry, a column !pte does not show */
            nk_printf(o, "%s not valid: %016llX\n", bad->name, (unsigned long long)bad->value);
            invalid_col = 0;
        }
        sw_details(e, invalid_col, &sw, js);
        if (o->json) pte_mm_facts(e, va, &sw, js);
    } else if (w.result == NK_WALK_NOT_IN_DUMP) {
        const nk_walk_level *bad = &w.lvl[w.nlevels - 1];
        nk_printf(o, "%s page %llx of the page tables is not in the dump\n", bad->name,
                  (unsigned long long)(bad->entry_pa >> 12));
    }
    if (any_phys) nk_printf(o, "(no page-table self-map found: entry addresses above are physical)\n");
    return NTKD_OK;
}

/* ---- !vtop ------------------------------------------------------------------------- */

/* The highest page frame the dump describes, to tell a PFN from an address. */
static uint64_t max_pfn(const nk_dump *d)
{
    if (d->phys.kind == NK_PHYS_RUNS && d->phys.nruns)
        return d->phys.runs[d->phys.nruns - 1].base_pfn + d->phys.runs[d->phys.nruns - 1].page_count;
    if (d->phys.kind == NK_PHYS_BITMAP) return d->phys.nbits;
    return 0;
}

static const char *vtop_name(nk_paging p, int l)
{
    static const char *const x64[4] = {"PML4E", "PDPE", "PDE", "PTE"};
    static const char *const pae[3] = {"PAE PDPE", "PAE PDE", "PAE PTE"};
    static const char *const x86[2] = {"PDE", "PTE"};
    static const char *const arm[4] = {"PXE", "PPE", "PDE", "PTE"};
    switch (p) {
    case NK_PAGING_X86_PAE: return l < 3 ? pae[l] : "?";
    case NK_PAGING_X86: return l < 2 ? x86[l] : "?";
    case NK_PAGING_ARM64_4K: return l < 4 ? arm[l] : "?";
    default: return l < 4 ? x64[l] : "?";
    }
}

nk_status cmd_vtop(nk_cmd_env *e, const char *a)
{
    ntkd_target *t = e->t;
    nk_out *o = e->o;
    const nk_dump *d = &t->d;
    const char *s = nk_skip_ws(a);
    if (!*s) {
        nk_cmd_error(o, "usage: !vtop [dirbase] address");
        return NTKD_E_ARG;
    }
    uint64_t v1, v2 = 0, va, dtb;
    if (!eval_arg(e, &s, &v1)) return NTKD_E_ARG;
    bool two = *s != 0;
    if (two && !eval_arg(e, &s, &v2)) return NTKD_E_ARG;
    if (*s) {
        nk_cmd_error(o, "!vtop: unexpected '%s' (usage: !vtop [dirbase] address)", s);
        return NTKD_E_ARG;
    }
    if (!have_paging(e)) return NTKD_E_NOTPRESENT;
    if (two) {
        va = v2;
        /* WinDbg: dirbase is a page frame number, 0 the current one; a number too big to be
           a frame number of this dump is taken as the table's physical address. */
        if (v1 == 0) dtb = d->dtb;
        else if (v1 > max_pfn(d) || v1 > (UINT64_MAX >> 12)) dtb = v1;
        else dtb = v1 << 12;
    } else {
        va = v1;
        dtb = d->dtb;
    }
    if (!d->is64 && (va >> 32) == 0xffffffffull) va &= 0xffffffffull;

    nk_walk w;
    nk_vtop_walk(t, dtb, va, &w);
    const nk_paging pg = d->paging;
    const char *pfx = pg == NK_PAGING_X64_4L ? "Amd64VtoP" : pg == NK_PAGING_ARM64_4K ? "Arm64VtoP" : "X86VtoP";
    char b1[24], b2[24];
    nk_json_u64(o, NULL, "va", va);
    nk_json_u64(o, NULL, "dirbase", dtb);
    if (w.result == NK_WALK_NONCANONICAL) {
        nk_json_str(o, NULL, "result", result_name(w.result));
        nk_cmd_error(o, "%s: Virt %llx is not a canonical address", pfx, (unsigned long long)va);
        return NTKD_E_ARG;
    }
    if (d->is64)
        nk_printf(o, "%s: Virt %s, pagedir %s\n", pfx, nk_fmt_addr64(b1, va), nk_fmt_addr64(b2, dtb));
    else
        nk_printf(o, "%s: Virt %llx, pagedir %llx\n", pfx, (unsigned long long)va,
                  (unsigned long long)dtb);
    if (pg == NK_PAGING_ARM64_4K && !(va >> 63))
        nk_printf(o, "%s: note: a user address, walked with the dump's one root as TTBR0\n", pfx);
    json_object *jl = nk_json_arr(o, NULL, "levels");
    for (int l = 0; l < w.nlevels; l++) {
        const nk_walk_level *lv = &w.lvl[l];
        const char *nm = vtop_name(pg, l);
        json_object *j = nk_json_obj(o, jl, NULL);
        nk_json_str(o, j, "name", lv->name);
        nk_json_u64(o, j, "entry_pa", lv->entry_pa);
        nk_json_u64(o, j, "entry_va", lv->entry_va);
        nk_json_bool(o, j, "read_ok", lv->read_ok);
        if (!lv->read_ok) {
            nk_json_bool(o, j, "valid", false);
            if (d->is64)
                nk_printf(o, "%s: %s table page %s not in dump\n", pfx, nm,
                          nk_fmt_addr64(b1, lv->entry_pa & ~0xfffull));
            else
                nk_printf(o, "%s: %s table page %llx not in dump\n", pfx, nm,
                          (unsigned long long)(lv->entry_pa & ~0xfffull));
            break;
        }
        char flags[12] = "";
        if (lv->valid) nk_pte_flags(t, lv->value, l < w.nlevels_arch - 1, flags);
        nk_json_u64(o, j, "value", lv->value);
        nk_json_str(o, j, "flags", flags);
        nk_json_bool(o, j, "valid", lv->valid);
        nk_json_bool(o, j, "leaf", lv->leaf);
        if (d->is64) nk_printf(o, "%s: %s %s\n", pfx, nm, nk_fmt_addr64(b1, lv->entry_pa));
        else
            nk_printf(o, "%s: %s %llx - %0*llx\n", pfx, nm, (unsigned long long)lv->entry_pa,
                      pg == NK_PAGING_X86 ? 8 : 16, (unsigned long long)lv->value);
        if (!lv->valid) {
            if (lv->value == 0) nk_printf(o, "%s: zero %s\n", pfx, nm);
            else nk_printf(o, "%s: %s not valid: %0*llx\n", pfx, nm, pg == NK_PAGING_X86 ? 8 : 16,
                           (unsigned long long)lv->value);
        }
    }
    nk_json_str(o, NULL, "result", result_name(w.result));
    switch (w.result) {
    case NK_WALK_OK: {
        const char *how = w.page_size > 4096 ? "Large page mapped phys" : "Mapped phys";
        if (d->is64) nk_printf(o, "%s: %s %s\n", pfx, how, nk_fmt_addr64(b1, w.pa));
        else nk_printf(o, "%s: %s%s %llx\n", pfx, pg == NK_PAGING_X86_PAE ? "PAE " : "", how,
                       (unsigned long long)w.pa);
        nk_printf(o, "Virtual address %llx translates to physical address %llx.\n",
                  (unsigned long long)va, (unsigned long long)w.pa);
        nk_json_u64(o, NULL, "pa", w.pa);
        nk_json_u64(o, NULL, "page_size", w.page_size);
        break;
    }
    case NK_WALK_INVALID:
        nk_printf(o, "Virtual address %llx translation fails, error 0xD0000147.\n",
                  (unsigned long long)va);
        break;
    default:
        nk_printf(o, "Virtual address %llx translation fails: a page-table page is not in the dump.\n",
                  (unsigned long long)va);
        break;
    }
    return NTKD_OK;
}
