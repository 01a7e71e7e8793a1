/* cmd_mm.c: the memory-manager commands, in WinDbg's shapes (seeds 001 and 003):
 *   !vm [flags]        memory counters in pages and Kb (Mm* globals, MiSystemPartition, or
 *                      nt!MiState on 1809 and later), the pages in use by each classic pool
 *                      descriptor, WinDbg's excessive-nonpaged-pool and commit-limit warnings,
 *                      and the commit-failure count by build (MiChargeCommitmentFailures, or
 *                      MiSystemPartition on 1809 and later); Session Commit summed over the
 *                      sessions the processes name (_MM_SESSION_SPACE.CommittedPages);
 *   !ca addr           a control area, its segment and its subsections (seed 001's two
 *                      columns; the other members in the JSON only);
 *   !ca 0              the control areas in pool blocks tagged MmCa / MmCi (the big-pool table,
 *                      then classic pool pages, "Searching NonPaged pool (start : end)" where nt
 *                      has the bounds; seed 001), then, after an "ntkd: extra pass" line (not
 *                      WinDbg's), every control area the PFN database leads to (prototype-PTE
 *                      pages whose OriginalPte names a subsection);
 *   !memusage [flags]  pages per PFN list, per control area (valid, standby, dirty), per
 *                      process: private pages and page-table pages, through the PteFrame
 *                      chains of kobj/kmm.h, and the kernel's pages by what they map
 *                      (nk_mm_kclass: "driver ( name )", "( Paged Pool )", "( Nonpaged Pool )",
 *                      "( Kernel Stacks )", "( Other kernel )");
 * The PFN scans are one pass over the dump's frames (kobj/kmm.c); a progress line goes to
 * stderr only when it is a terminal and the output is text. */
#include <stdio.h>

#include "cmd/cmd.h"
#include "expr/expr.h"
#include "kobj/kmm.h"
#include "kobj/kpool.h"
#include "kobj/kpool_seg.h"

/* Pointer-sized hex without the backtick, as !ca and !memusage print addresses. */
static const char *hexp(const ntkd_target *t, uint64_t v, char b[20])
{
    snprintf(b, 20, "%0*llx", t->d.is64 ? 16 : 8, (unsigned long long)v);
    return b;
}

static bool need_types(nk_cmd_env *e)
{
    if (nk_k_types(e->t)) return true;
    nk_cmd_error(e->o, "%s: %s", e->name, e->t->ctx->errmsg);
    return false;
}

/* Optional numeric flags argument. */
static bool flags_arg(nk_cmd_env *e, const char *a, uint64_t *flags)
{
    const char *s = nk_skip_ws(a);
    *flags = 0;
    if (!*s) return true;
    char err[256] = "";
    const char *end = NULL;
    if (nk_eval(e->t, s, &end, flags, err, sizeof err) != NTKD_OK) {
        nk_cmd_error(e->o, "%s: %s", e->name, err[0] ? err : "bad flags");
        return false;
    }
    if (end && *nk_skip_ws(end)) {
        nk_cmd_error(e->o, "%s: unexpected '%s'", e->name, nk_skip_ws(end));
        return false;
    }
    return true;
}

/* ---- progress (base/progress.c: drawn only when stderr is a terminal) ------------------- */
typedef struct prog {
    nk_progress bar;
    bool on;
} prog;

static void prog_cb(void *u, uint64_t done, uint64_t total)
{
    prog *p = u;
    if (!p->on) return;
    if (!p->bar.total) p->bar.total = total;
    nk_progress_update(&p->bar, done);
}

/* ---- !vm ----------------------------------------------------------------------------------- */

/* The per-pool lines of !vm (seed 003), one a pool: "\tNonPagedPool 1 Used:   ... Kb)" with the
 * JSON key "NonPagedPool1Used" (kind "NonPagedPool", word "Used"; "PagedPool", "Usage"). */
static void vm_pool_lines(nk_out *o, json_object *jc, const char *kind, const char *word, const uint64_t *used,
                          unsigned n)
{
    for (unsigned k = 0; k < n; k++) {
        char key[40], lab[40];
        snprintf(key, sizeof key, "%s%u%s", kind, k, word);
        snprintf(lab, sizeof lab, "%s %u %s:", kind, k, word);
        json_object *j = nk_json_obj(o, jc, key);
        nk_json_int(o, j, "pages", (int64_t)used[k]);
        nk_json_int(o, j, "kb", (int64_t)(used[k] * 4));
        int pad = 28 - (int)strlen(lab);
        nk_printf(o, "\t%s%*llu (%10llu Kb)\n", lab, pad < 1 ? 1 : pad, (unsigned long long)used[k],
                  (unsigned long long)(used[k] * 4));
    }
}

nk_status cmd_vm(nk_cmd_env *e, const char *a)
{
    nk_out *o = e->o;
    uint64_t flags;
    if (!flags_arg(e, a, &flags)) return NTKD_E_ARG;
    if (!need_types(e)) return NTKD_E_NOTFOUND;
    nk_mmvm vm;
    nk_status st = nk_mm_counters(e->t, &vm);
    if (st != NTKD_OK) {
        nk_cmd_error(o, "!vm: %s", e->t->ctx->errmsg);
        return st;
    }
    nk_json_u64(o, NULL, "flags", flags);
    nk_json_str(o, NULL, "source", vm.partition ? "MiSystemPartition" : "globals");
    json_object *jc = nk_json_obj(o, NULL, "counters");
    json_object *jm = nk_json_arr(o, NULL, "unavailable");
    nk_printf(o, "\n*** Virtual Memory Usage ***\n");
    nk_strbuf missing = {0};
    json_object *jw = nk_json_arr(o, NULL, "warnings");
    const nk_mmcounter *np = nk_mm_counter(&vm, "NonPagedPoolUsage"), *npmax = nk_mm_counter(&vm, "NonPagedPoolMax");
    const nk_mmcounter *cp = nk_mm_counter(&vm, "CommittedPages"), *cl = nk_mm_counter(&vm, "CommitLimit");
    for (int i = 0; i < NK_MM_NCOUNTERS; i++) {
        const nk_mmcounter *c = &vm.c[i];
        if (!c->have) {
            if (!strcmp(c->key, "SessionCommit") && vm.session_missing)
                nk_sb_printf(&missing, "%s%s (%s)", missing.len ? ", " : "", c->key, vm.session_missing);
            else if (strcmp(c->key, "HighestPhysicalPage"))
                nk_sb_printf(&missing, "%s%s", missing.len ? ", " : "", c->key);
            if (jm) json_object_array_add(jm, json_object_new_string(c->key));
            continue;
        }
        /* per-pool lines before the totals (seed 003): nonpaged ones only with several pools */
        if (!strcmp(c->key, "NonPagedPoolUsage") && vm.n_np > 1)
            vm_pool_lines(o, jc, "NonPagedPool", "Used", vm.np_used, vm.n_np);
        if (!strcmp(c->key, "PagedPoolUsage")) vm_pool_lines(o, jc, "PagedPool", "Usage", vm.pp_used, vm.n_pp);
        json_object *j = nk_json_obj(o, jc, c->key);
        nk_json_int(o, j, "pages", (int64_t)c->pages);
        nk_json_int(o, j, "kb", (int64_t)(c->pages * 4));
        if (!strcmp(c->key, "HighestPhysicalPage")) continue; /* JSON only */
        int pad = 28 - (int)strlen(c->label);
        if (pad < 1) pad = 1;
        nk_printf(o, "\t%s%*llu (%10llu Kb)\n", c->label, pad, (unsigned long long)c->pages,
                  (unsigned long long)(c->pages * 4));
        /* Warnings, in WinDbg's shape (seed 003 flags nonpaged pool at 155371 of 191078 pages,
         * 81%, and not at 53108 of 9408956). Our thresholds: nonpaged pool in use above 80% of
         * its maximum; committed pages above 90% of the commit limit (commit nearing the limit
         * is when Windows starts failing commit charges and raises its low-memory popup). */
        if (!strcmp(c->key, "NonPagedPoolMax") && np && npmax && npmax->pages &&
            np->pages > npmax->pages - npmax->pages / 5) {
            nk_printf(o, "\t********** Excessive NonPaged Pool Usage *****\n");
            if (jw) json_object_array_add(jw, json_object_new_string("ExcessiveNonPagedPoolUsage"));
        }
        if (!strcmp(c->key, "CommitLimit") && cp && cl && cl->pages && cp->pages > cl->pages - cl->pages / 10) {
            nk_printf(o, "\t********** Committed pages near the commit limit *****\n");
            if (jw) json_object_array_add(jw, json_object_new_string("CommitNearLimit"));
        }
        if (i == 0) /* the paging files follow the physical memory */
            for (unsigned k = 0; k < vm.npagefiles; k++) {
                const nk_mmpagefile *f = &vm.pagefile[k];
                nk_printf(o, "\tPage File: %s\n", f->name[0] ? f->name : "(name not in the dump)");
                nk_printf(o, "\t  Current: %9llu Kb  Free Space: %9llu Kb\n", (unsigned long long)(f->size * 4),
                          (unsigned long long)(f->free_space * 4));
                nk_printf(o, "\t  Minimum: %9llu Kb  Maximum: %12llu Kb\n", (unsigned long long)(f->minimum * 4),
                          (unsigned long long)(f->maximum * 4));
            }
    }
    json_object *jp = nk_json_arr(o, NULL, "page_files");
    for (unsigned k = 0; k < vm.npagefiles; k++) {
        const nk_mmpagefile *f = &vm.pagefile[k];
        json_object *j = nk_json_obj(o, jp, NULL);
        nk_json_str(o, j, "name", f->name);
        nk_json_int(o, j, "size_pages", (int64_t)f->size);
        nk_json_int(o, j, "free_pages", (int64_t)f->free_space);
        nk_json_int(o, j, "minimum_pages", (int64_t)f->minimum);
        nk_json_int(o, j, "maximum_pages", (int64_t)f->maximum);
    }
    if (vm.have_failures) {
        nk_json_int(o, NULL, "commit_failures", (int64_t)vm.failure_count);
        nk_json_str(o, NULL, "commit_failure_source", vm.failure_source);
        json_object *jf = nk_json_arr(o, NULL, "commit_failure_members");
        for (int i = 0; i < 4; i++)
            if (jf) json_object_array_add(jf, json_object_new_int64(vm.failures[i]));
        if (vm.failure_count)
            nk_printf(o, "\n\t********** %llu commit requests have failed  **********\n",
                      (unsigned long long)vm.failure_count);
    } else {
        nk_printf(o, "\n\t(no commit-failure counters in this build's symbols)\n");
    }
    if (vm.session_summed) {
        json_object *js = nk_json_obj(o, NULL, "session_commit");
        nk_json_str(o, js, "source", "_MM_SESSION_SPACE.CommittedPages");
        nk_json_int(o, js, "sessions", vm.nsessions);
        nk_json_int(o, js, "unreadable_sessions", vm.sessions_bad);
        nk_json_int(o, js, "unreadable_processes", vm.session_procs_bad);
        if (vm.session_procs_bad)
            nk_printf(o, "\t(Session Commit: %u process%s' Session pointers not in the dump)\n", vm.session_procs_bad,
                      vm.session_procs_bad == 1 ? "" : "es");
        if (vm.sessions_bad) {
            char b[20];
            nk_json_u64(o, js, "first_unreadable", vm.session_bad_addr);
            nk_printf(o, "\t(Session Commit: %u session%s not readable, the first at %s)\n", vm.sessions_bad,
                      vm.sessions_bad == 1 ? "" : "s", hexp(e->t, vm.session_bad_addr, b));
        }
    }
    if (missing.len) nk_printf(o, "\t(not kept by this build: %s)\n", missing.s);
    nk_sb_free(&missing);
    return NTKD_OK;
}

/* ---- control areas --------------------------------------------------------------------------- */
static const char *base_name(const char *p)
{
    const char *b = strrchr(p, '\\');
    return b ? b + 1 : p;
}

static void print_ca(nk_cmd_env *e, const nk_mmca *c)
{
    ntkd_target *t = e->t;
    nk_out *o = e->o;
    char b1[20], b2[20];
    int w = t->d.is64 ? 16 : 8;
    nk_printf(o, "ControlArea  @ %s\n", hexp(t, c->addr, b1));
    /* seed 001:26-33: two columns (the blink, mapped views, flush count and system views are
     * in the JSON only), the file line flush left, no empty lines */
    nk_printf(o, "  Segment      %s  Flink      %s\n", hexp(t, c->segment, b1), hexp(t, c->flink, b2));
    nk_printf(o, "  Section Ref  %*llu  Pfn Ref    %*llu\n", w, (unsigned long long)c->section_refs, w,
              (unsigned long long)c->pfn_refs);
    nk_printf(o, "  User Ref     %*llu  WaitForDel %*llx\n", w, (unsigned long long)c->user_refs, w,
              (unsigned long long)c->wait_for_del);
    nk_printf(o, "  File Object  %s  ModWriteCount%*llu\n", hexp(t, c->file_object, b1), w - 2,
              (unsigned long long)c->mod_write_count);
    nk_printf(o, "  WritableRefs %*llu\n", w, (unsigned long long)c->writable_refs);
    nk_printf(o, "  Flags (%x) %s\n", c->flags, c->flag_names);
    if (c->file_object) nk_printf(o, "%s: %s\n", c->image ? "Image" : "File", c->file_name[0] ? c->file_name : "(name not in the dump)");
    else nk_printf(o, "Pagefile-backed section\n");
    json_object *r = NULL;
    nk_json_u64(o, r, "control_area", c->addr);
    nk_json_u64(o, r, "segment", c->segment);
    nk_json_u64(o, r, "flink", c->flink);
    nk_json_u64(o, r, "blink", c->blink);
    nk_json_int(o, r, "section_refs", (int64_t)c->section_refs);
    nk_json_int(o, r, "pfn_refs", (int64_t)c->pfn_refs);
    nk_json_int(o, r, "mapped_views", (int64_t)c->mapped_views);
    nk_json_int(o, r, "user_refs", (int64_t)c->user_refs);
    nk_json_u64(o, r, "wait_for_del", c->wait_for_del);
    nk_json_int(o, r, "flush_count", (int64_t)c->flush_count);
    nk_json_u64(o, r, "file_object", c->file_object);
    nk_json_int(o, r, "mod_write_count", (int64_t)c->mod_write_count);
    nk_json_int(o, r, "system_views", (int64_t)c->system_views);
    nk_json_u64(o, r, "flags", c->flags);
    nk_json_str(o, r, "flag_names", c->flag_names);
    nk_json_str(o, r, "kind", c->image ? "image" : c->file_object ? "file" : "pagefile");
    nk_json_str(o, r, "file_name", c->file_name);
    if (!c->segment) return;
    json_object *js = nk_json_obj(o, NULL, "segment_info");
    if (!c->seg_ok) {
        nk_printf(o, "Segment @ %s is not in the dump\n", hexp(t, c->segment, b1));
        nk_json_bool(o, js, "readable", false);
        return;
    }
    nk_printf(o, "Segment @ %s\n", hexp(t, c->segment, b1));
    nk_printf(o, "  ControlArea     %s  ExtendInfo    %s\n", hexp(t, c->seg_control_area, b1), hexp(t, c->extend_info, b2));
    nk_printf(o, "  Total Ptes      %*llx\n", w, (unsigned long long)c->total_ptes);
    nk_printf(o, "  Segment Size    %*llx  Committed     %*llx\n", w, (unsigned long long)c->segment_size, w,
              (unsigned long long)c->committed);
    nk_printf(o, "  Flags (%x)\n", c->seg_flags);
    if (c->seg_control_area != c->addr)
        nk_printf(o, "  WARNING: the segment names control area %s, not %s\n", hexp(t, c->seg_control_area, b1),
                  hexp(t, c->addr, b2));
    nk_json_bool(o, js, "readable", true);
    nk_json_u64(o, js, "control_area", c->seg_control_area);
    nk_json_u64(o, js, "extend_info", c->extend_info);
    nk_json_int(o, js, "total_ptes", (int64_t)c->total_ptes);
    nk_json_u64(o, js, "segment_size", c->segment_size);
    nk_json_int(o, js, "committed", (int64_t)c->committed);
    nk_json_u64(o, js, "prototype_ptes", c->proto_ptes);
    nk_json_u64(o, js, "flags", c->seg_flags);
}

static nk_status print_subsections(nk_cmd_env *e, uint64_t ca)
{
    ntkd_target *t = e->t;
    nk_out *o = e->o;
    enum { MAXSUB = 4096 };
    nk_mmsub *subs = calloc(MAXSUB, sizeof *subs);
    if (!subs) return NTKD_E_NOMEM;
    size_t n = 0;
    nk_strbuf why = {0};
    nk_status st = nk_mm_subsections(t, ca, subs, MAXSUB, &n, &why);
    json_object *ja = nk_json_arr(o, NULL, "subsections");
    char b1[20], b2[20];
    for (size_t i = 0; i < n; i++) {
        const nk_mmsub *s = &subs[i];
        /* seed 001:39-43: two columns (sectors, unused PTEs and protection: JSON only); a
         * mapped-file subsection (_MSUBSECTION) ends with its list links */
        nk_printf(o, "Subsection %zu @ %s\n", i + 1, hexp(t, s->addr, b1));
        nk_printf(o, "  ControlArea  %s  Starting Sector %8llx\n", hexp(t, s->control_area, b1),
                  (unsigned long long)s->starting_sector);
        nk_printf(o, "  Base Pte     %s  Ptes In Subsect %8llx\n", hexp(t, s->base_pte, b2), (unsigned long long)s->ptes);
        nk_printf(o, "  Flags        %*x  Sector Offset   %8x\n", t->d.is64 ? 16 : 8, s->flags, s->sector_end_offset);
        if (s->have_links)
            nk_printf(o, "  Flink        %s  Blink   %s\n", hexp(t, s->flink, b1), hexp(t, s->blink, b2));
        json_object *j = nk_json_obj(o, ja, NULL);
        nk_json_u64(o, j, "address", s->addr);
        nk_json_u64(o, j, "control_area", s->control_area);
        nk_json_u64(o, j, "base_pte", s->base_pte);
        nk_json_int(o, j, "ptes", (int64_t)s->ptes);
        nk_json_int(o, j, "starting_sector", (int64_t)s->starting_sector);
        nk_json_int(o, j, "full_sectors", (int64_t)s->full_sectors);
        nk_json_u64(o, j, "flags", s->flags);
        nk_json_int(o, j, "protection", s->protection);
        nk_json_int(o, j, "unused_ptes", (int64_t)s->unused_ptes);
        nk_json_int(o, j, "sector_offset", s->sector_end_offset);
        nk_json_u64(o, j, "next", s->next);
        if (s->have_links) {
            nk_json_u64(o, j, "flink", s->flink);
            nk_json_u64(o, j, "blink", s->blink);
        }
    }
    if (st != NTKD_OK) {
        nk_printf(o, "%s\n", why.len ? why.s : t->ctx->errmsg);
        nk_json_str(o, NULL, "subsection_error", why.len ? why.s : t->ctx->errmsg);
    }
    nk_sb_free(&why);
    free(subs);
    return NTKD_OK;
}

/* A set of control areas with per-list page counts (grown per control area, not per page). */
typedef struct caent {
    uint64_t ca;
    uint64_t valid, standby, dirty, shared, locked, other;
} caent;
typedef struct caset {
    caent *v;
    size_t n, cap;
    size_t *idx; /* open addressing: index + 1 */
    size_t icap;
    bool nomem;
} caset;

static size_t ca_hash(uint64_t v) { return (size_t)((v >> 4) * 0x9e3779b97f4a7c15ull); }

static caent *caset_get(caset *s, uint64_t ca)
{
    if (s->icap) {
        for (size_t h = ca_hash(ca) & (s->icap - 1);; h = (h + 1) & (s->icap - 1)) {
            if (!s->idx[h]) break;
            if (s->v[s->idx[h] - 1].ca == ca) return &s->v[s->idx[h] - 1];
        }
    }
    if (s->n >= 1000000) return NULL;
    if ((s->n + 1) * 2 > s->icap) {
        size_t nc = s->icap ? s->icap * 2 : 256;
        size_t *ni = calloc(nc, sizeof *ni);
        if (!ni) {
            s->nomem = true;
            return NULL;
        }
        for (size_t i = 0; i < s->n; i++) {
            size_t h = ca_hash(s->v[i].ca) & (nc - 1);
            while (ni[h]) h = (h + 1) & (nc - 1);
            ni[h] = i + 1;
        }
        free(s->idx);
        s->idx = ni;
        s->icap = nc;
    }
    if (!nk_grow((void **)&s->v, &s->cap, s->n + 1, sizeof *s->v)) {
        s->nomem = true;
        return NULL;
    }
    caent *c = &s->v[s->n];
    memset(c, 0, sizeof *c);
    c->ca = ca;
    size_t h = ca_hash(ca) & (s->icap - 1);
    while (s->idx[h]) h = (h + 1) & (s->icap - 1);
    s->idx[h] = ++s->n;
    return c;
}

static void caset_free(caset *s)
{
    free(s->v);
    free(s->idx);
}

typedef struct usage {
    ntkd_target *t;
    caset cas;
    caent pagefile, other;
    uint64_t bad_sub;       /* prototype pages whose subsection is unreadable */
    uint64_t first_bad_pfn;
    char first_bad[512];
    bool list_mnw;          /* !memusage 1: the ModifiedNoWrite pages */
    nk_out *o;
    json_object *jmnw;
    /* !memusage: private and page-table pages by process (kobj/kmm.h, the PteFrame chains) */
    bool by_process;
    nk_mm_owners own;
    const nk_mm_pfndb *db;
    caent *proc;            /* one per own.procs entry, allocated once before the scan */
    char own_note[600];     /* why the attribution is missing or partial */
    /* !memusage: kernel pages by what they map (kobj/kmm.h nk_mm_kclass) */
    bool kclass;
    nk_mm_kmap km;
    caent kc[NK_MM_K_N];
    caent *drv;             /* one per km.mods entry, allocated once before the scan */
} usage;

static void count_page(caent *c, const nk_mmpfn *p)
{
    switch (p->list) {
    case NK_MM_ACTIVE:
        c->valid++;
        if (p->share > 1) c->shared++;
        if (p->ref > p->share && p->ref > 1) c->locked++;
        break;
    case NK_MM_STANDBY: c->standby++; break;
    case NK_MM_MODIFIED:
    case NK_MM_MODNOWRITE: c->dirty++; break;
    default: c->other++; break;
    }
}

static bool usage_page(void *u, const nk_mmpfn *p)
{
    usage *g = u;
    if (g->list_mnw && p->list == NK_MM_MODNOWRITE) {
        char b[20];
        nk_printf(g->o, "%8llx  pte %s\n", (unsigned long long)p->pfn, hexp(g->t, p->pte_addr, b));
        json_object *j = nk_json_obj(g->o, g->jmnw, NULL);
        nk_json_u64(g->o, j, "pfn", p->pfn);
        nk_json_u64(g->o, j, "pte", p->pte_addr);
    }
    if (p->list == NK_MM_ZEROED || p->list == NK_MM_FREE || p->list == NK_MM_BAD) return true;
    if (!p->proto) {
        /* the owner's chain is walked for every page (it fills the page-table cache) */
        uint32_t w = g->proc ? nk_mm_page_owner(g->t, g->db, &g->own, p) : NK_MM_OWNER_NONE;
        if (g->kclass) {
            size_t mi = 0;
            unsigned k = nk_mm_kclass(g->t, &g->km, p, &mi);
            if (k == NK_MM_K_DRIVER && g->drv && mi < g->km.nmods) {
                count_page(&g->drv[mi], p);
                return true;
            }
            if (k != NK_MM_K_NONE && k != NK_MM_K_DRIVER) {
                count_page(&g->kc[k], p);
                return true;
            }
        }
        if (w != NK_MM_OWNER_NONE && w < g->own.nprocs) {
            count_page(&g->proc[w], p);
            return true;
        }
        count_page(&g->other, p);
        return true;
    }
    uint64_t ca = 0;
    char save[sizeof g->t->ctx->errmsg];
    memcpy(save, g->t->ctx->errmsg, sizeof save);
    nk_status st = nk_mm_pfn_control_area(g->t, p, &ca);
    if (st == NTKD_E_NOTFOUND) {
        count_page(&g->pagefile, p);
    } else if (st != NTKD_OK || !ca) {
        if (!g->bad_sub++) {
            g->first_bad_pfn = p->pfn;
            snprintf(g->first_bad, sizeof g->first_bad, "%s", g->t->ctx->errmsg);
        }
    } else {
        caent *c = caset_get(&g->cas, ca);
        if (c) count_page(c, p);
    }
    memcpy(g->t->ctx->errmsg, save, sizeof save);
    return true;
}

static nk_status scan_usage(nk_cmd_env *e, usage *g, nk_mm_pfndb *db, nk_mm_scan_stats *st, const char *what)
{
    nk_status s = nk_mm_pfndb_get(e->t, db);
    if (s != NTKD_OK) {
        nk_cmd_error(e->o, "%s: %s", e->name, e->t->ctx->errmsg);
        return s;
    }
    g->t = e->t;
    g->o = e->o;
    if (g->by_process) {
        nk_strbuf why = {0};
        char save[sizeof e->t->ctx->errmsg];
        memcpy(save, e->t->ctx->errmsg, sizeof save);
        if (nk_mm_owners_init(e->t, db, &g->own, &why) == NTKD_OK) {
            g->proc = calloc(g->own.nprocs ? g->own.nprocs : 1, sizeof *g->proc);
            g->db = db;
            if (!g->proc) snprintf(g->own_note, sizeof g->own_note, "out of memory");
        } else {
            snprintf(g->own_note, sizeof g->own_note, "%s", e->t->ctx->errmsg);
        }
        if (why.len && !g->own_note[0]) snprintf(g->own_note, sizeof g->own_note, "%s", why.s);
        nk_sb_free(&why);
        memcpy(e->t->ctx->errmsg, save, sizeof save);
    }
    if (g->kclass) {
        char save[sizeof e->t->ctx->errmsg];
        memcpy(save, e->t->ctx->errmsg, sizeof save);
        if (nk_mm_kmap_init(e->t, &g->km) == NTKD_OK)
            g->drv = calloc(g->km.nmods ? g->km.nmods : 1, sizeof *g->drv);
        if (!g->drv) g->kclass = false;
        memcpy(e->t->ctx->errmsg, save, sizeof save);
    }
    prog p;
    nk_progress_start(&p.bar, what, 0);
    p.on = !e->o->json;
    s = nk_mm_scan(e->t, db, usage_page, g, prog_cb, &p, st);
    nk_progress_end(&p.bar);
    if (s != NTKD_OK) nk_cmd_error(e->o, "%s: %s", e->name, e->t->ctx->errmsg);
    return s;
}

static void scan_notes(nk_cmd_env *e, const usage *g, const nk_mm_scan_stats *st)
{
    nk_out *o = e->o;
    if (st->unreadable)
        nk_printf(o, "note: %llu frames' PFN entries are not in the dump\n", (unsigned long long)st->unreadable);
    if (st->beyond)
        nk_printf(o, "note: %llu frames of the dump lie above the highest physical page\n", (unsigned long long)st->beyond);
    if (g->bad_sub)
        nk_printf(o, "note: %llu prototype-PTE pages name unreadable subsections (first: %s)\n",
                  (unsigned long long)g->bad_sub, g->first_bad);
    if (g->cas.nomem) nk_printf(o, "note: out of memory: some control areas are not listed\n");
    nk_json_int(o, NULL, "unreadable_entries", (int64_t)st->unreadable);
    nk_json_int(o, NULL, "beyond_highest", (int64_t)st->beyond);
    nk_json_int(o, NULL, "bad_subsections", (int64_t)g->bad_sub);
    if (g->bad_sub) nk_json_str(o, NULL, "first_bad_subsection", g->first_bad);
}

/* One line of !ca 0: "addr refs   File: name" (seed 001). */
static void ca_line(nk_cmd_env *e, uint64_t addr, json_object *arr, const char *tag, const char *source)
{
    ntkd_target *t = e->t;
    nk_out *o = e->o;
    char b1[20];
    nk_mmca c;
    json_object *j = nk_json_obj(o, arr, NULL);
    nk_json_u64(o, j, "control_area", addr);
    if (tag) nk_json_str(o, j, "tag", tag);
    if (source) nk_json_str(o, j, "source", source);
    if (nk_mm_ca(t, addr, &c) != NTKD_OK) {
        nk_printf(o, "%s         (not readable: %s)\n", hexp(t, addr, b1), t->ctx->errmsg);
        nk_json_str(o, j, "error", t->ctx->errmsg);
        return;
    }
    const char *kind = c.image ? "Image" : c.file_object ? "File" : NULL;
    if (kind) nk_printf(o, "%s %-8llu%s: %s\n", hexp(t, c.addr, b1), (unsigned long long)c.section_refs, kind, c.file_name);
    else nk_printf(o, "%s %-8lluPagefile-backed section\n", hexp(t, c.addr, b1), (unsigned long long)c.section_refs);
    nk_json_int(o, j, "section_refs", (int64_t)c.section_refs);
    nk_json_str(o, j, "kind", c.image ? "image" : c.file_object ? "file" : "pagefile");
    nk_json_str(o, j, "file_name", c.file_name);
}

/* The pool-tag search of seed 001: MmCa (data files, pagefile-backed sections) and MmCi
 * (images) in the big-pool table, then in classic pool pages (a control area follows its
 * _POOL_HEADER). Segment-heap builds: the big-pool table and the segment heaps' blocks. */
typedef struct tagscan {
    const nk_pool_walker *w;
    nk_pool_page *pg;
    uint32_t key[2];
    uint64_t *hits[2];
    size_t n[2], cap[2];
    bool nomem;
} tagscan;

static bool tag_page(void *u, uint64_t va, const uint8_t *page)
{
    tagscan *s = u;
    if (!nk_pool_page_candidate(s->w, page)) return true;
    nk_pool_walk_with(s->w, va, page, s->pg);
    for (size_t i = 0; i < s->pg->n; i++) {
        const nk_pool_block *b = &s->pg->b[i];
        if (b->free_) continue;
        for (int k = 0; k < 2; k++) {
            if (b->key != s->key[k]) continue;
            if (s->n[k] >= 1000000 || !nk_grow((void **)&s->hits[k], &s->cap[k], s->n[k] + 1, sizeof(uint64_t))) {
                s->nomem = true;
                continue;
            }
            s->hits[k][s->n[k]++] = b->addr + s->w->unit;
        }
    }
    return true;
}

/* Segment-heap builds (19H1+): the MmCa / MmCi blocks of every VS / LFH subsegment (the
 * control area follows the block's _POOL_HEADER). */
typedef struct tagseg {
    tagscan *s;
    uint64_t hdr; /* sizeof(_POOL_HEADER) */
} tagseg;

static bool tag_seg_block(void *u, const nk_seg_sub *sub, const nk_pool_block *b)
{
    (void)sub;
    tagseg *g = u;
    tagscan *s = g->s;
    if (b->free_) return true;
    for (int k = 0; k < 2; k++) {
        if (b->key != s->key[k]) continue;
        if (s->n[k] >= 1000000 || !nk_grow((void **)&s->hits[k], &s->cap[k], s->n[k] + 1, sizeof(uint64_t))) {
            s->nomem = true;
            continue;
        }
        s->hits[k][s->n[k]++] = b->addr + g->hdr;
    }
    return true;
}

static bool ca_seg_search(ntkd_target *t, tagscan *s, nk_strbuf *why)
{
    tagseg g = {.s = s};
    if (nk_k_sizeof(t, "_POOL_HEADER", &g.hdr) != NTKD_OK || !g.hdr || g.hdr > 16) {
        nk_sb_printf(why, "segment heaps not searched: %s\n", t->ctx->errmsg);
        return false;
    }
    nk_segpool *sp = malloc(sizeof *sp);
    if (!sp) return false;
    bool ok = nk_seg_init(t, sp, why) == NTKD_OK && nk_seg_each_block(sp, tag_seg_block, &g, NULL, why) == NTKD_OK;
    free(sp);
    return ok;
}

static void ca_pool_search(nk_cmd_env *e)
{
    ntkd_target *t = e->t;
    nk_out *o = e->o;
    static const char *const tags[2] = {"MmCa", "MmCi"};
    char b1[20], b2[20];
    tagscan s;
    memset(&s, 0, sizeof s);
    for (int k = 0; k < 2; k++) nk_pool_tag_parse(tags[k], &s.key[k]);
    json_object *ja = nk_json_arr(o, NULL, "pool_control_areas");
    nk_strbuf why = {0};
    nk_pool_bigtab bt;
    memset(&bt, 0, sizeof bt);
    char save[sizeof t->ctx->errmsg];
    memcpy(save, t->ctx->errmsg, sizeof save);
    bool have_big = nk_pool_big_table(t, &bt, &why) == NTKD_OK;
    bool seg = nk_pool_segment_heap(t);
    nk_pool_walker w;
    bool have_walk = !seg && nk_pool_walker_init(t, &w) == NTKD_OK;
    bool have_seg = seg && ca_seg_search(t, &s, &why);
    uint64_t npages = 0;
    if (have_walk) {
        s.w = &w;
        s.pg = malloc(sizeof *s.pg);
        if (s.pg) nk_pool_scan_kernel_pages(t, tag_page, &s, &npages, &why);
        else have_walk = false;
    }
    /* the nonpaged pool bounds for seed 001's "Searching NonPaged pool (start : end)" line */
    uint64_t nps = 0, npe = 0;
    bool have_np = have_walk && nk_k_global_ptr(t, "MmNonPagedPoolStart", &nps) == NTKD_OK && nps &&
                   (nk_k_global_ptr(t, "MiNonPagedPoolEnd", &npe) == NTKD_OK ||
                    nk_k_global_ptr(t, "MmNonPagedPoolEnd", &npe) == NTKD_OK) &&
                   npe > nps;
    memcpy(t->ctx->errmsg, save, sizeof save);
    uint64_t bsz = 0;
    if (have_big && nk_k_sizeof(t, "_POOL_TRACKER_BIG_PAGES", &bsz) != NTKD_OK) bsz = 0;
    memcpy(t->ctx->errmsg, save, sizeof save);
    for (int k = 0; k < 2; k++) {
        if (have_big) {
            nk_printf(o, "Scanning large pool allocation table for Tag: %s (%s : %s)\n", tags[k], hexp(t, bt.table, b1),
                      hexp(t, bt.table + bt.count * bsz, b2));
            for (size_t i = 0; i < bt.n; i++)
                if (!bt.v[i].free_ && bt.v[i].key == s.key[k]) ca_line(e, bt.v[i].va, ja, tags[k], "bigpool");
        }
        if (have_walk && have_np) {
            nk_printf(o, "Searching NonPaged pool (%s : %s) for Tag: %s\n", hexp(t, nps, b1), hexp(t, npe, b2), tags[k]);
            size_t outside = 0;
            for (size_t i = 0; i < s.n[k]; i++) {
                ca_line(e, s.hits[k][i], ja, tags[k], "pool");
                outside += s.hits[k][i] < nps || s.hits[k][i] > npe;
            }
            /* ntkd searches every kernel pool page the dump holds, not only that range */
            if (outside)
                nk_printf(o, "ntkd: %zu of these lie outside the nonpaged pool bounds (the search covers all %llu kernel pool pages)\n",
                          outside, (unsigned long long)npages);
        } else if (have_walk) {
            nk_printf(o, "Searching pool pages (%llu kernel pages) for Tag: %s\n", (unsigned long long)npages, tags[k]);
            for (size_t i = 0; i < s.n[k]; i++) ca_line(e, s.hits[k][i], ja, tags[k], "pool");
        }
        if (have_seg) {
            nk_printf(o, "Searching the pool's segment heaps (VS and LFH subsegments) for Tag: %s\n", tags[k]);
            for (size_t i = 0; i < s.n[k]; i++) ca_line(e, s.hits[k][i], ja, tags[k], "segment_heap");
        }
    }
    if (seg && !have_seg) nk_printf(o, "(the pool's segment heaps could not be searched: only the large pool table was)\n");
    else if (!seg && !have_walk) nk_printf(o, "(pool pages not searched: %s)\n", t->ctx->errmsg);
    if (why.len) {
        nk_printf(o, "%s%s", why.s, why.s[why.len - 1] == '\n' ? "" : "\n");
        nk_json_str(o, NULL, "pool_notes", why.s);
    }
    if (s.nomem) nk_printf(o, "note: out of memory: some pool hits are not listed\n");
    nk_sb_free(&why);
    nk_pool_bigtab_free(&bt);
    free(s.pg);
    for (int k = 0; k < 2; k++) free(s.hits[k]);
}

static nk_status ca_scan(nk_cmd_env *e)
{
    ntkd_target *t = e->t;
    nk_out *o = e->o;
    usage g;
    memset(&g, 0, sizeof g);
    nk_mm_pfndb db;
    nk_mm_scan_stats st;
    nk_status s = scan_usage(e, &g, &db, &st, "Scanning PFN database");
    if (s != NTKD_OK) {
        caset_free(&g.cas);
        return s;
    }
    char b1[20], b2[20];
    ca_pool_search(e);
    /* not WinDbg's !ca 0 (seed 001:76: that is !memusage's method): ntkd's extra pass, after the
     * WinDbg-shaped part and introduced as such */
    nk_printf(o, "ntkd: extra pass (not part of WinDbg's !ca 0): the PFN database (%s : %s) names %zu file and image control area%s through its prototype-PTE pages%s\n",
              hexp(t, db.base, b1), hexp(t, db.base + (db.highest + 1) * db.esz, b2), g.cas.n, g.cas.n == 1 ? "" : "s",
              g.cas.n ? ":" : "");
    nk_json_u64(o, NULL, "pfn_database", db.base);
    nk_json_int(o, NULL, "pfn_pass_control_areas", (int64_t)g.cas.n);
    json_object *ja = nk_json_arr(o, NULL, "control_areas");
    for (size_t i = 0; i < g.cas.n; i++) ca_line(e, g.cas.v[i].ca, ja, NULL, NULL);
    if (g.pagefile.valid + g.pagefile.standby + g.pagefile.dirty)
        nk_printf(o, "(%llu prototype-PTE pages of pagefile-backed sections: their control areas are not named by the PFN database)\n",
                  (unsigned long long)(g.pagefile.valid + g.pagefile.standby + g.pagefile.dirty));
    scan_notes(e, &g, &st);
    caset_free(&g.cas);
    return NTKD_OK;
}

nk_status cmd_ca(nk_cmd_env *e, const char *a)
{
    ntkd_target *t = e->t;
    nk_out *o = e->o;
    const char *s = nk_skip_ws(a);
    if (!*s) {
        nk_cmd_error(o, "usage: !ca address | !ca 0");
        return NTKD_E_ARG;
    }
    char err[256] = "";
    const char *end = NULL;
    uint64_t addr;
    if (nk_eval(t, s, &end, &addr, err, sizeof err) != NTKD_OK) {
        nk_cmd_error(o, "!ca: %s", err[0] ? err : "Syntax error");
        return NTKD_E_ARG;
    }
    if (end && *nk_skip_ws(end)) {
        nk_cmd_error(o, "!ca: unexpected '%s' (usage: !ca address | !ca 0)", nk_skip_ws(end));
        return NTKD_E_ARG;
    }
    if (!t->d.is64 && (addr >> 32) == 0xffffffffull) addr &= 0xffffffffull;
    if (!need_types(e)) return NTKD_E_NOTFOUND;
    nk_mm_use_type_pte_layout(t);
    if (addr == 0) return ca_scan(e);
    nk_mmca c;
    nk_status st = nk_mm_ca(t, addr, &c);
    if (st != NTKD_OK) {
        nk_cmd_error(o, "!ca: %s", t->ctx->errmsg);
        return st;
    }
    print_ca(e, &c);
    return print_subsections(e, addr);
}

/* ---- !memusage ----------------------------------------------------------------------------- */
static uint64_t sub0(uint64_t a, uint64_t b) { return a > b ? a - b : 0; }

/* The process lines of the usage summary: each process's private pages (valid, standby,
 * dirty; its page-table pages apart, in PageTables) in the shape of WinDbg's documented
 * example (Shared and Locked as dashes), with the EPROCESS after the name:
 *   --------  valid standby dirty ----- ----- pagetables  process ( name ) eprocess
 * Kernel-half pages that nk_mm_kclass classes (driver images, stacks, pool, other kernel) are
 * on the kernel lines instead (print_kernel); page-table pages stay with their process. */
static void print_processes(nk_cmd_env *e, const usage *g)
{
    ntkd_target *t = e->t;
    nk_out *o = e->o;
    json_object *ja = nk_json_arr(o, NULL, "processes");
    json_object *jn = nk_json_obj(o, NULL, "process_attribution");
    nk_json_bool(o, jn, "available", g->proc != NULL);
    if (!g->proc) {
        nk_printf(o, "(pages not attributed to processes: %s)\n", g->own_note[0] ? g->own_note : "no process list");
        nk_json_str(o, jn, "error", g->own_note);
        return;
    }
    nk_json_int(o, jn, "broken_chains", (int64_t)g->own.broken);
    nk_json_bool(o, jn, "cache_full", g->own.full);
    if (g->own_note[0]) nk_json_str(o, jn, "note", g->own_note);
    char b[20];
    for (size_t i = 0; i < g->own.nprocs; i++) {
        const caent *c = &g->proc[i];
        uint64_t tb[NK_MM_NLISTS + 1] = {0};
        nk_mm_owner_tables(&g->own, (uint32_t)i, tb);
        uint64_t ntables = 0;
        for (int k = 0; k <= NK_MM_NLISTS; k++) ntables += tb[k];
        uint64_t valid = sub0(c->valid, tb[NK_MM_ACTIVE]), standby = sub0(c->standby, tb[NK_MM_STANDBY]);
        uint64_t dirty = sub0(c->dirty, tb[NK_MM_MODIFIED] + tb[NK_MM_MODNOWRITE]);
        uint64_t rest = sub0(c->other, ntables - tb[NK_MM_ACTIVE] - tb[NK_MM_STANDBY] - tb[NK_MM_MODIFIED] -
                                           tb[NK_MM_MODNOWRITE]);
        uint64_t priv = valid + standby + dirty + rest;
        if (!priv && !ntables) continue;
        const nk_kproc *p = &g->own.procs[i];
        nk_printf(o, "%-*s %5llu %7llu %5llu %6s %6s %10llu  process ( %s ) %s\n", t->d.is64 ? 16 : 8, "--------",
                  (unsigned long long)(valid * 4), (unsigned long long)(standby * 4), (unsigned long long)(dirty * 4),
                  "-----", "-----", (unsigned long long)(ntables * 4), p->image, hexp(t, p->addr, b));
        json_object *j = nk_json_obj(o, ja, NULL);
        nk_json_u64(o, j, "eprocess", p->addr);
        nk_json_u64(o, j, "pid", p->pid);
        nk_json_str(o, j, "name", p->image);
        nk_json_int(o, j, "private_pages", (int64_t)priv);
        nk_json_int(o, j, "pagetable_pages", (int64_t)ntables);
        nk_json_int(o, j, "valid", (int64_t)valid);
        nk_json_int(o, j, "standby", (int64_t)standby);
        nk_json_int(o, j, "dirty", (int64_t)dirty);
        nk_json_int(o, j, "locked", (int64_t)c->locked);
    }
    if (g->own.broken)
        nk_printf(o, "note: %llu page-table chains end in an unreadable PFN entry or loop\n",
                  (unsigned long long)g->own.broken);
    if (g->own.full) nk_printf(o, "note: too many page-table frames: some are counted as private pages\n");
}

/* One kernel line: "--------  valid standby dirty ------ locked          0  what". */
static void kernel_line(nk_cmd_env *e, const caent *c, const char *what, json_object *j)
{
    nk_out *o = e->o;
    nk_printf(o, "%-*s %5llu %7llu %5llu %6s %6llu %10d  %s\n", e->t->d.is64 ? 16 : 8, "--------",
              (unsigned long long)(c->valid * 4), (unsigned long long)(c->standby * 4),
              (unsigned long long)(c->dirty * 4), "------", (unsigned long long)(c->locked * 4), 0, what);
    nk_json_int(o, j, "pages", (int64_t)(c->valid + c->standby + c->dirty + c->other));
    nk_json_int(o, j, "valid", (int64_t)c->valid);
    nk_json_int(o, j, "standby", (int64_t)c->standby);
    nk_json_int(o, j, "dirty", (int64_t)c->dirty);
    nk_json_int(o, j, "locked", (int64_t)c->locked);
}

/* The kernel's pages by what they map (kobj/kmm.h nk_mm_kclass): one "driver ( name )" line
 * per loaded module with pages, then "( Paged Pool )", "( Nonpaged Pool )", "( Kernel Stacks )"
 * and "( Other kernel )" (kernel pages in none of those: system PTEs, the system cache, the
 * PFN database, HAL...). A class the build's globals cannot decide is named on a note line. */
static void print_kernel(nk_cmd_env *e, const usage *g)
{
    nk_out *o = e->o;
    json_object *jk = nk_json_obj(o, NULL, "kernel");
    nk_json_bool(o, jk, "available", g->kclass);
    if (!g->kclass) {
        nk_printf(o, "(kernel pages not classified: no module, thread or pool information)\n");
        return;
    }
    const nk_mm_kmap *km = &g->km;
    json_object *jd = nk_json_arr(o, jk, "drivers");
    for (size_t i = 0; i < km->nmods; i++) {
        const caent *c = &g->drv[i];
        if (!(c->valid + c->standby + c->dirty + c->other)) continue;
        char what[96];
        snprintf(what, sizeof what, "driver ( %s )", km->mods[i].name);
        json_object *j = nk_json_obj(o, jd, NULL);
        nk_json_str(o, j, "name", km->mods[i].name);
        nk_json_u64(o, j, "base", km->mods[i].base);
        kernel_line(e, c, what, j);
    }
    bool pools = km->vatype || km->npaged || km->nnonpaged;
    static const struct {
        unsigned k;
        const char *key, *what;
    } cls[] = {{NK_MM_K_PAGED, "paged_pool", "( Paged Pool )"},
               {NK_MM_K_NONPAGED, "nonpaged_pool", "( Nonpaged Pool )"},
               {NK_MM_K_STACKS, "kernel_stacks", "( Kernel Stacks )"},
               {NK_MM_K_OTHER, "other_kernel", "( Other kernel )"}};
    for (size_t i = 0; i < sizeof cls / sizeof cls[0]; i++) {
        bool known = cls[i].k == NK_MM_K_STACKS || cls[i].k == NK_MM_K_OTHER ||
                     (cls[i].k == NK_MM_K_PAGED ? (km->vatype ? km->vt_paged >= 0 : km->npaged > 0)
                                                 : (km->vatype ? km->vt_nonpaged >= 0 : km->nnonpaged > 0));
        if (!known) continue;
        kernel_line(e, &g->kc[cls[i].k], cls[i].what, nk_json_obj(o, jk, cls[i].key));
    }
    nk_json_str(o, jk, "pool_source", km->pool_source ? km->pool_source : "");
    if (km->note[0]) {
        nk_printf(o, "note: %s%s\n", km->note, pools ? "" : " (their pages are on the Other kernel line)");
        nk_json_str(o, jk, "note", km->note);
    }
}

nk_status cmd_memusage(nk_cmd_env *e, const char *a)
{
    ntkd_target *t = e->t;
    nk_out *o = e->o;
    uint64_t flags;
    if (!flags_arg(e, a, &flags)) return NTKD_E_ARG;
    if (!need_types(e)) return NTKD_E_NOTFOUND;
    nk_mm_use_type_pte_layout(t);
    usage g;
    memset(&g, 0, sizeof g);
    g.list_mnw = flags == 1;
    g.by_process = flags != 8 && flags != 1;
    g.kclass = g.by_process;
    if (g.list_mnw) {
        g.jmnw = nk_json_arr(o, NULL, "modified_no_write");
        nk_printf(o, "Modified no-write pages:\n");
    }
    nk_mm_pfndb db;
    nk_mm_scan_stats st;
    nk_status s = scan_usage(e, &g, &db, &st, "Scanning PFN database");
    if (s != NTKD_OK) {
        caset_free(&g.cas);
        free(g.proc);
        free(g.drv);
        nk_mm_kmap_free(&g.km);
        nk_mm_owners_free(&g.own);
        return s;
    }
    nk_json_u64(o, NULL, "flags", flags);
    nk_json_u64(o, NULL, "pfn_database", db.base);
    nk_json_u64(o, NULL, "highest_page", db.highest);
    static const unsigned order[] = {NK_MM_ZEROED, NK_MM_FREE, NK_MM_STANDBY, NK_MM_MODIFIED,
                                     NK_MM_MODNOWRITE, NK_MM_ACTIVE, NK_MM_TRANSITION, NK_MM_BAD};
    static const char *const label[] = {"Zeroed", "Free", "Standby", "Modified", "ModifiedNoWrite",
                                        "Active/Valid", "Transition", "Bad"};
    json_object *jl = nk_json_obj(o, NULL, "lists");
    if (flags != 2 && flags != 1) {
        nk_printf(o, " loading PFN database\n");
        for (size_t i = 0; i < sizeof order / sizeof order[0]; i++) {
            uint64_t n = st.count[order[i]];
            nk_printf(o, "%19s: %6llu (%8llu kb)\n", label[i], (unsigned long long)n, (unsigned long long)(n * 4));
            nk_json_int(o, jl, nk_mm_list_name(order[i]), (int64_t)n);
        }
        nk_printf(o, "%19s: %6llu (%8llu kb)\n", "Unknown", (unsigned long long)st.count[NK_MM_NLISTS],
                  (unsigned long long)(st.count[NK_MM_NLISTS] * 4));
        nk_printf(o, "%19s: %6llu (%8llu kb)\n", "TOTAL", (unsigned long long)st.scanned,
                  (unsigned long long)(st.scanned * 4));
        nk_json_int(o, jl, "Unknown", (int64_t)st.count[NK_MM_NLISTS]);
        nk_json_int(o, NULL, "total", (int64_t)st.scanned);
    }
    if (flags != 8 && flags != 1) {
        char b[20];
        nk_printf(o, "\n  Usage Summary (in Kb):\n");
        nk_printf(o, "%-*s Valid Standby Dirty Shared Locked PageTables  name\n", t->d.is64 ? 16 : 8, "Control");
        json_object *ja = nk_json_arr(o, NULL, "control_areas");
        for (size_t i = 0; i < g.cas.n; i++) {
            const caent *c = &g.cas.v[i];
            nk_mmca ca;
            const char *name = "(control area not readable)";
            bool ok = nk_mm_ca(t, c->ca, &ca) == NTKD_OK;
            if (ok) name = ca.file_name[0] ? base_name(ca.file_name) : ca.file_object ? "No Name for File" : "Pagefile-backed section";
            nk_printf(o, "%s %5llu %7llu %5llu %6llu %6llu %10d  mapped_file( %s )\n", hexp(t, c->ca, b),
                      (unsigned long long)(c->valid * 4), (unsigned long long)(c->standby * 4),
                      (unsigned long long)(c->dirty * 4), (unsigned long long)(c->shared * 4),
                      (unsigned long long)(c->locked * 4), 0, name);
            json_object *j = nk_json_obj(o, ja, NULL);
            nk_json_u64(o, j, "control_area", c->ca);
            nk_json_str(o, j, "name", ok ? ca.file_name : "");
            nk_json_str(o, j, "kind", ok ? (ca.image ? "image" : ca.file_object ? "file" : "pagefile") : "?");
            nk_json_int(o, j, "valid", (int64_t)c->valid);
            nk_json_int(o, j, "standby", (int64_t)c->standby);
            nk_json_int(o, j, "dirty", (int64_t)c->dirty);
            nk_json_int(o, j, "shared", (int64_t)c->shared);
            nk_json_int(o, j, "locked", (int64_t)c->locked);
        }
        print_processes(e, &g);
        print_kernel(e, &g);
        const caent *pf = &g.pagefile, *ot = &g.other;
        nk_printf(o, "%-*s %5llu %7llu %5llu ------ %6llu %10d  pagefile-backed sections\n", t->d.is64 ? 16 : 8,
                  "--------", (unsigned long long)(pf->valid * 4), (unsigned long long)(pf->standby * 4),
                  (unsigned long long)(pf->dirty * 4), (unsigned long long)(pf->locked * 4), 0);
        nk_printf(o, "%-*s %5llu %7llu %5llu ------ %6llu %10d  not in a section nor a process\n",
                  t->d.is64 ? 16 : 8, "--------", (unsigned long long)(ot->valid * 4),
                  (unsigned long long)(ot->standby * 4), (unsigned long long)(ot->dirty * 4),
                  (unsigned long long)(ot->locked * 4), 0);
        json_object *jp = nk_json_obj(o, NULL, "pagefile_sections");
        nk_json_int(o, jp, "valid", (int64_t)pf->valid);
        nk_json_int(o, jp, "standby", (int64_t)pf->standby);
        nk_json_int(o, jp, "dirty", (int64_t)pf->dirty);
        json_object *jo = nk_json_obj(o, NULL, "not_in_section");
        nk_json_int(o, jo, "valid", (int64_t)ot->valid);
        nk_json_int(o, jo, "standby", (int64_t)ot->standby);
        nk_json_int(o, jo, "dirty", (int64_t)ot->dirty);
    }
    scan_notes(e, &g, &st);
    caset_free(&g.cas);
    free(g.proc);
    free(g.drv);
    nk_mm_kmap_free(&g.km);
    nk_mm_owners_free(&g.own);
    return NTKD_OK;
}
