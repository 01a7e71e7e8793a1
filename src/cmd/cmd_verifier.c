/* cmd_verifier.c: !verifier and !gflag (kernel dumps), over src/kobj/kverifier.h.
 *
 * !verifier [flags] [addr|driver]
 *   no flags / 0: the level and its options, the global counters of nt!MmVerifierData, the
 *   verified drivers (seed 003's "Driver Verification List"); 0x1: each driver's pool counters;
 *   0x2: its outstanding allocations (XP's PoolHash; later builds: the driver's tracker pages,
 *   PoolPageHeaders / PoolTrackers of _VF_TARGET_VERIFIED_DRIVER_DATA); 0x80 [addr]: the pool allocate/free log (the entries of the block
 *   holding addr); 0x100: the IRP log; 0x200: the critical-region log, with the (thread, driver)
 *   pairs whose enters and leaves do not balance. A driver name limits the driver list.
 * !gflag: nt!NtGlobalFlag by name. */
#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "cmd/cmd.h"
#include "expr/expr.h"
#include "kobj/kobj.h"
#include "kobj/kverifier.h"
#include "mem/mem.h"
#include "sym/sym.h"



static void note_lines(nk_out *o, json_object *notes, const char *s)
{
    if (!s) return;
    while (*s) {
        size_t n = strcspn(s, "\n");
        if (n) {
            char line[512];
            snprintf(line, sizeof line, "%.*s", (int)(n < 500 ? n : 500), s);
            nk_printf(o, "ntkd: %s\n", line);
            if (notes) json_object_array_add(notes, json_object_new_string(line));
        }
        s += n;
        if (*s) s++;
    }
}

static void frame_line(nk_out *o, ntkd_target *t, json_object *arr, uint64_t a)
{
    char b[24], sym[256];
    if (!nk_sym_describe(t, a, sym, sizeof sym)) snprintf(sym, sizeof sym, "%s", nk_fmt_hex(b, a, t->d.is64));
    nk_printf(o, "%s %s\n", nk_fmt_hex(b, a, t->d.is64), sym);
    if (arr) {
        json_object *f = json_object_new_object();
        json_object_object_add(f, "address", nk_json_hex(a));
        json_object_object_add(f, "symbol", json_object_new_string(sym));
        json_object_array_add(arr, f);
    }
}

static bool name_match(const char *drv, const char *want)
{
    if (!strcasecmp(drv, want)) return true;
    size_t n = strlen(want);
    /* "myfault" matches "myfault.sys" */
    return !strncasecmp(drv, want, n) && drv[n] == '.';
}

/* ---- the summary --------------------------------------------------------------------------- */

static uint64_t stat_of(const nk_kv_state *s, const char *name, bool *has)
{
    for (size_t i = 0; i < NK_KV_NSTATS; i++)
        if (!strcmp(nk_kv_stat_names[i], name)) {
            if (has) *has = s->has_stat[i];
            return s->stats[i];
        }
    if (has) *has = false;
    return 0;
}

static void print_stat(nk_out *o, const nk_kv_state *s, const char *label, const char *name)
{
    bool has;
    uint64_t v = stat_of(s, name, &has);
    if (has) nk_printf(o, "%-38s 0x%llx\n", label, (unsigned long long)v);
}

static void print_pair(nk_out *o, const nk_kv_state *s, const char *label, const char *cnt, const char *bytes)
{
    bool h1, h2;
    uint64_t c = stat_of(s, cnt, &h1), b = stat_of(s, bytes, &h2);
    if (h1 && h2) nk_printf(o, "%-38s 0x%llx for %08llX bytes\n", label, (unsigned long long)c, (unsigned long long)b);
}

static bool frame_has(ntkd_target *t, uint64_t a, const char *word)
{
    char d[256];
    return nk_sym_describe(t, a, d, sizeof d) && strcasestr(d, word);
}

static void print_drivers(nk_cmd_env *env, const nk_kv_state *s, unsigned flags, const char *want,
                          json_object *notes)
{
    nk_out *o = env->o;
    ntkd_target *t = env->t;
    const bool is64 = t->d.is64;
    char b1[24], b2[24];
    nk_printf(o, "\nDriver Verification List\n\n");
    nk_printf(o, "Entry     State           NonPagedPool   PagedPool   Module\n\n");
    json_object *jd = nk_json_arr(o, NULL, "drivers");
    size_t shown = 0;
    for (size_t i = 0; i < s->ndrv; i++) {
        const nk_kv_driver *d = &s->drv[i];
        if (want && !name_match(d->name, want)) continue;
        shown++;
        const char *state = d->loads > d->unloads ? "Loaded" : "Unloaded";
        nk_printf(o, "%s %-16s %08llx       %08llx    %s\n", nk_fmt_hex(b1, d->entry, is64), state,
                  (unsigned long long)d->np, (unsigned long long)d->paged, d->name);
        json_object *x = nk_json_obj(o, jd, NULL);
        nk_json_u64(o, x, "entry", d->entry);
        nk_json_str(o, x, "name", d->name);
        nk_json_str(o, x, "state", state);
        nk_json_int(o, x, "loads", d->loads);
        nk_json_int(o, x, "unloads", d->unloads);
        if (d->base) nk_json_u64(o, x, "base", d->base);
        if (d->size) nk_json_u64(o, x, "size", d->size);
        if (d->data) nk_json_u64(o, x, "verified_data", d->data);
        nk_json_bool(o, x, "has_pool_counters", d->has_pool);
        if (d->has_pool) {
            nk_json_u64(o, x, "nonpaged_bytes", d->np);
            nk_json_u64(o, x, "paged_bytes", d->paged);
            nk_json_u64(o, x, "current_nonpaged_allocations", d->cur_np);
            nk_json_u64(o, x, "current_paged_allocations", d->cur_paged);
            nk_json_u64(o, x, "peak_nonpaged_allocations", d->peak_np);
            nk_json_u64(o, x, "peak_paged_allocations", d->peak_paged);
            nk_json_u64(o, x, "peak_nonpaged_bytes", d->peak_np_b);
            nk_json_u64(o, x, "peak_paged_bytes", d->peak_paged_b);
        }
        if (flags & 0x1) {
            if (d->has_pool) {
                nk_printf(o, "\nCurrent Pool Allocations  %08llx    %08llx\n", (unsigned long long)d->cur_np,
                          (unsigned long long)d->cur_paged);
                nk_printf(o, "Current Pool Bytes        %08llx    %08llx\n", (unsigned long long)d->np,
                          (unsigned long long)d->paged);
                nk_printf(o, "Peak Pool Allocations     %08llx    %08llx\n", (unsigned long long)d->peak_np,
                          (unsigned long long)d->peak_paged);
                nk_printf(o, "Peak Pool Bytes           %08llx    %08llx\n", (unsigned long long)d->peak_np_b,
                          (unsigned long long)d->peak_paged_b);
            } else {
                nk_printf(o, "\n(no per-driver pool counters found for %s)\n", d->name);
            }
        }
        if (flags & 0x2) {
            /* the driver's own table of outstanding allocations: XP's PoolHash, later builds'
             * tracker pages (kverifier.h) */
            json_object *ja = nk_json_arr(o, x, "allocations");
            nk_kv_alloc *al = NULL;
            size_t na = 0;
            nk_strbuf why = {0};
            nk_kv_track tr;
            nk_status st = nk_kv_allocs2(t, d, &al, &na, &why, &tr);
            if (st == NTKD_OK) {
                nk_printf(o, "\nPoolAddress  SizeInBytes    Tag       CallersAddress\n");
                for (size_t k = 0; k < na; k++) {
                    char tag[5];
                    for (int c = 0; c < 4; c++) {
                        unsigned ch = (unsigned)(al[k].tag >> (8 * c)) & 0xff;
                        tag[c] = isprint((int)ch) ? (char)ch : '.';
                    }
                    tag[4] = 0;
                    nk_printf(o, "%s     0x%08llx     %s      %s\n", nk_fmt_hex(b1, al[k].va, is64),
                              (unsigned long long)al[k].size, tag, nk_fmt_hex(b2, al[k].caller, is64));
                    json_object *y = nk_json_obj(o, ja, NULL);
                    nk_json_u64(o, y, "address", al[k].va);
                    nk_json_u64(o, y, "size", al[k].size);
                    nk_json_str(o, y, "tag", tag);
                    nk_json_u64(o, y, "caller", al[k].caller);
                    nk_json_u64(o, y, "entry", al[k].entry);
                }
                if (!na) nk_printf(o, "(no outstanding allocations tracked for %s)\n", d->name);
                nk_json_str(o, x, "allocations_source", tr.source);
                if (!strcmp(tr.source, "PoolTrackers")) {
                    json_object *jt = nk_json_obj(o, x, "trackers");
                    nk_json_u64(o, jt, "pages", tr.pages);
                    nk_json_u64(o, jt, "pages_claimed", tr.pages_claimed);
                    nk_json_u64(o, jt, "free", tr.free);
                    nk_json_u64(o, jt, "free_claimed", tr.free_claimed);
                    nk_json_u64(o, jt, "pages_missing", tr.missing);
                    nk_json_bool(o, jt, "complete", !tr.cut && !tr.missing);
                }
            } else {
                nk_printf(o, "\n(%s's allocations: %s)\n", d->name, nk_cmd_errmsg(t));
                nk_json_str(o, x, "allocations_error", nk_cmd_errmsg(t));
            }
            if (why.len) note_lines(o, notes, why.s);
            nk_sb_free(&why);
            free(al);
        }
    }
    if (want && !shown) nk_printf(o, "(no verified driver named %s)\n", want);
}

/* ---- logs ------------------------------------------------------------------------------------ */

static void print_pool_log(nk_cmd_env *env, const nk_kv_log *l, bool has_addr, uint64_t addr, json_object *jl)
{
    nk_out *o = env->o;
    ntkd_target *t = env->t;
    const bool is64 = t->d.is64;
    char b1[24], b2[24], b3[24];
    nk_printf(o, "Log of recent kernel pool Allocate and Free operations:\n\n");
    nk_printf(o, "There are up to 0x%llx entries in the log.\n\n", (unsigned long long)l->length);
    if (has_addr)
        nk_printf(o, "Parsing 0x%016llx log entries, searching for address 0x%s.\n\n\n", (unsigned long long)l->length,
                  nk_fmt_hex(b1, addr, is64));
    else
        nk_printf(o, "Parsing 0x%016llx log entries.\n\n\n", (unsigned long long)l->length);
    json_object *je = nk_json_arr(o, jl, "entries");
    size_t shown = 0;
    for (size_t i = 0; i < l->n; i++) {
        const nk_kv_entry *e = &l->e[i];
        if (has_addr && !(addr == e->addr || (addr > e->addr && addr - e->addr < e->size))) continue;
        shown++;
        const bool is_free = e->nstack && frame_has(t, e->stack[0], "Free");
        nk_printf(o, "======================================================================\n");
        nk_printf(o, "Pool block %s, Size %s, Thread %s\n", nk_fmt_hex(b1, e->addr, is64), nk_fmt_hex(b2, e->size, is64),
                  nk_fmt_hex(b3, e->thread, is64));
        json_object *x = nk_json_obj(o, je, NULL);
        nk_json_int(o, x, "slot", e->slot);
        nk_json_u64(o, x, "address", e->addr);
        nk_json_u64(o, x, "size", e->size);
        nk_json_u64(o, x, "thread", e->thread);
        nk_json_str(o, x, "operation", is_free ? "free" : "allocate");
        json_object *js = nk_json_arr(o, x, "stack");
        for (unsigned k = 0; k < e->nstack; k++) frame_line(o, t, js, e->stack[k]);
    }
    nk_printf(o, "Parsed entry %016llx/%016llx...\n", (unsigned long long)l->length, (unsigned long long)l->length);
    nk_printf(o, "Finished parsing all pool tracking information.\n");
    if (has_addr && !shown) nk_printf(o, "(no log entry for a block holding %s)\n", nk_fmt_hex(b1, addr, is64));
}

static void print_irp_log(nk_cmd_env *env, const nk_kv_log *l, bool has_addr, uint64_t addr, json_object *jl)
{
    nk_out *o = env->o;
    ntkd_target *t = env->t;
    const bool is64 = t->d.is64;
    char b1[24], b2[24];
    nk_printf(o, "IRP log entries (up to 0x%llx):\n\n", (unsigned long long)l->length);
    json_object *je = nk_json_arr(o, jl, "entries");
    for (size_t i = 0; i < l->n; i++) {
        const nk_kv_entry *e = &l->e[i];
        if (has_addr && e->addr != addr && e->thread != addr) continue;
        nk_printf(o, "IRP %s, Thread %s, IRQL = %u, KernelApcDisable = %d, SpecialApcDisable = %d\n",
                  nk_fmt_hex(b1, e->addr, is64), nk_fmt_hex(b2, e->thread, is64), e->irql, e->kad, e->sad);
        json_object *x = nk_json_obj(o, je, NULL);
        nk_json_int(o, x, "slot", e->slot);
        nk_json_u64(o, x, "irp", e->addr);
        nk_json_u64(o, x, "thread", e->thread);
        nk_json_int(o, x, "irql", e->irql);
        nk_json_int(o, x, "kernel_apc_disable", e->kad);
        nk_json_int(o, x, "special_apc_disable", e->sad);
        json_object *js = nk_json_arr(o, x, "stack");
        for (unsigned k = 0; k < e->nstack; k++) frame_line(o, t, js, e->stack[k]);
        nk_printf(o, "\n");
    }
}

static void crit_balance_notes(nk_cmd_env *env, const nk_kv_log *l, json_object *jl, json_object *notes);

static void print_crit_log(nk_cmd_env *env, const nk_kv_log *l, bool has_addr, uint64_t addr, json_object *jl,
                           json_object *notes)
{
    nk_out *o = env->o;
    ntkd_target *t = env->t;
    const bool is64 = t->d.is64;
    char b1[24];
    nk_printf(o, "Enter/Leave Critical Region log:\n");
    nk_printf(o, "There are up to 0x%llx entries in the log.\n\n", (unsigned long long)l->length);
    if (has_addr) nk_printf(o, "Displaying the log entries of thread %s.\n\n", nk_fmt_hex(b1, addr, is64));
    else nk_printf(o, "Displaying all the log entries.\n\n");
    json_object *je = nk_json_arr(o, jl, "entries");
    for (size_t i = 0; i < l->n; i++) {
        const nk_kv_entry *e = &l->e[i];
        if (has_addr && e->thread != addr) continue;
        char mod[64];
        uint64_t fr = 0;
        nk_kv_crit_op op = nk_kv_crit_classify(t, e, &fr, mod, sizeof mod);
        nk_printf(o, "\nThread %s\n", nk_fmt_hex(b1, e->thread, is64));
        json_object *x = nk_json_obj(o, je, NULL);
        nk_json_int(o, x, "slot", e->slot);
        nk_json_u64(o, x, "thread", e->thread);
        nk_json_str(o, x, "operation", op == NK_KV_CRIT_ENTER ? "enter" : op == NK_KV_CRIT_LEAVE ? "leave" : "unknown");
        if (mod[0]) nk_json_str(o, x, "module", mod);
        json_object *js = nk_json_arr(o, x, "stack");
        for (unsigned k = 0; k < e->nstack; k++) frame_line(o, t, js, e->stack[k]);
    }
    crit_balance_notes(env, l, jl, notes);
}

/* Notes on the (thread, driver) pairs of a critical-region log whose enters and leaves do not
 * balance; JSON "unbalanced" under jl. */
static void crit_balance_notes(nk_cmd_env *env, const nk_kv_log *l, json_object *jl, json_object *notes)
{
    nk_out *o = env->o;
    ntkd_target *t = env->t;
    const bool is64 = t->d.is64;
    char b1[24];
    nk_kv_balance *b = NULL;
    size_t nb = 0;
    if (nk_kv_crit_balance(t, l, &b, &nb) != NTKD_OK) return;
    json_object *ju = nk_json_arr(o, jl, "unbalanced");
    bool any = false;
    for (size_t i = 0; i < nb; i++) {
        if (b[i].enters == b[i].leaves) continue;
        any = true;
        char line[300];
        snprintf(line, sizeof line, "critical region %s by %s on thread %s: %u enter%s, %u leave%s in the log",
                 b[i].enters > b[i].leaves ? "entered and not left" : "left more often than entered",
                 b[i].module[0] ? b[i].module : "(no driver frame)", nk_fmt_hex(b1, b[i].thread, is64), b[i].enters,
                 b[i].enters == 1 ? "" : "s", b[i].leaves, b[i].leaves == 1 ? "" : "s");
        note_lines(o, notes, line);
        json_object *x = nk_json_obj(o, ju, NULL);
        nk_json_u64(o, x, "thread", b[i].thread);
        nk_json_str(o, x, "module", b[i].module);
        nk_json_int(o, x, "enters", b[i].enters);
        nk_json_int(o, x, "leaves", b[i].leaves);
        if (b[i].frame) nk_json_u64(o, x, "frame", b[i].frame);
    }
    if (!any && l->n) note_lines(o, notes, "every critical region in the log is balanced (per thread and driver)");
    free(b);
}

static void do_log(nk_cmd_env *env, nk_kv_logkind kind, bool has_addr, uint64_t addr, json_object *notes)
{
    nk_out *o = env->o;
    ntkd_target *t = env->t;
    static const char *const keys[] = {"pool_log", "irp_log", "critical_region_log"};
    nk_kv_log l;
    nk_status st = nk_kv_log_read(t, kind, &l);
    json_object *jl = nk_json_obj(o, NULL, keys[kind]);
    if (st != NTKD_OK) {
        nk_printf(o, "%s\n", nk_cmd_errmsg(t));
        nk_json_str(o, jl, "error", nk_cmd_errmsg(t));
        nk_kv_log_free(&l);
        return;
    }
    nk_json_u64(o, jl, "array", l.array);
    nk_json_u64(o, jl, "length", l.length);
    nk_json_u64(o, jl, "index", l.index);
    if (!l.array || !l.length) {
        nk_printf(o, "The %s log is empty: nt!%s is not allocated (the option is off).\n", nk_kv_log_name(kind),
                  l.array_sym);
    } else if (kind == NK_KV_LOG_POOL) {
        print_pool_log(env, &l, has_addr, addr, jl);
    } else if (kind == NK_KV_LOG_IRP) {
        print_irp_log(env, &l, has_addr, addr, jl);
    } else {
        print_crit_log(env, &l, has_addr, addr, jl, notes);
    }
    if (l.why.len) note_lines(o, notes, l.why.s);
    nk_kv_log_free(&l);
}

nk_status cmd_verifier(nk_cmd_env *env, const char *a)
{
    nk_out *o = env->o;
    ntkd_target *t = env->t;
    unsigned flags = 0;
    bool has_addr = false;
    uint64_t addr = 0;
    char want[128] = "";
    const char *s = nk_skip_ws(a);
    if (*s) {
        char w[64];
        s = nk_skip_ws(nk_next_word(s, w, sizeof w));
        char *end = NULL;
        unsigned long long v = strtoull(w, &end, 16);
        if (!w[0] || !end || *end || v > 0xffffffffull) {
            nk_cmd_error(o, "!verifier: flags must be a hex number, got '%s'", w);
            return NTKD_E_ARG;
        }
        flags = (unsigned)v;
        if (*s) {
            char w2[128];
            const char *rest = nk_skip_ws(nk_next_word(s, w2, sizeof w2));
            if (*rest) {
                nk_cmd_error(o, "!verifier: unexpected '%s'", rest);
                return NTKD_E_ARG;
            }
            /* with a log flag, an address (a block, an IRP or a thread); else a driver name */
            const char *end2 = NULL;
            char err[160];
            if ((flags & (0x80 | 0x100 | 0x200)) && !strchr(w2, '.') &&
                nk_eval(t, w2, &end2, &addr, err, sizeof err) == NTKD_OK && end2 && !*end2)
                has_addr = true;
            else
                snprintf(want, sizeof want, "%s", w2);
        }
    }
    nk_json_u64(o, NULL, "flags", flags);
    if (has_addr) nk_json_u64(o, NULL, "address", addr);
    if (want[0]) nk_json_str(o, NULL, "driver", want);
    json_object *notes = nk_json_arr(o, NULL, "verifier_notes");
    nk_printf(o, "\n"); /* WinDbg's !verifier output starts with an empty line (seeds 003, 004) */
    const unsigned logbits = 0x80 | 0x100 | 0x200;
    if (flags & logbits) {
        if (flags & 0x80) do_log(env, NK_KV_LOG_POOL, has_addr, addr, notes);
        if (flags & 0x100) do_log(env, NK_KV_LOG_IRP, has_addr, addr, notes);
        if (flags & 0x200) do_log(env, NK_KV_LOG_CRIT, has_addr, addr, notes);
        if (!(flags & ~logbits)) return NTKD_OK;
        nk_printf(o, "\n");
    }
    nk_kv_state vs;
    nk_status st = nk_kv_read(t, &vs);
    if (st != NTKD_OK) {
        nk_cmd_error(o, "!verifier: %s", nk_cmd_errmsg(t));
        nk_kv_free(&vs);
        return st;
    }
    const char *opts[40];
    size_t no = nk_kv_level_names(vs.level, opts, 40);
    nk_printf(o, "Verify Level %x ... enabled options are:\n", vs.level);
    nk_json_u64(o, NULL, "level", vs.level);
    nk_json_u64(o, NULL, "verifier_data", vs.data_va);
    json_object *jo = nk_json_arr(o, NULL, "options");
    for (size_t i = 0; i < no; i++) {
        nk_printf(o, "      %s\n", opts[i]);
        if (jo) json_object_array_add(jo, json_object_new_string(opts[i]));
    }
    if (!vs.level) nk_printf(o, "      (none: Driver Verifier is not enabled)\n");
    nk_printf(o, "\nSummary of All Verifier Statistics\n\n");
    print_stat(o, &vs, "RaiseIrqls", "RaiseIrqls");
    print_stat(o, &vs, "AcquireSpinLocks", "AcquireSpinLocks");
    print_stat(o, &vs, "Synch Executions", "SynchronizeExecutions");
    print_stat(o, &vs, "Trims", "Trims");
    nk_printf(o, "\n");
    print_stat(o, &vs, "Pool Allocations Attempted", "AllocationsAttempted");
    print_stat(o, &vs, "Pool Allocations Succeeded", "AllocationsSucceeded");
    print_stat(o, &vs, "Pool Allocations Succeeded SpecialPool", "AllocationsSucceededSpecialPool");
    print_stat(o, &vs, "Pool Allocations With NO TAG", "AllocationsWithNoTag");
    print_stat(o, &vs, "Pool Allocations Failed", "AllocationsFailed");
    bool has;
    uint64_t fd = stat_of(&vs, "AllocationsFailedDeliberately", &has);
    if (has) nk_printf(o, "Resource Allocations Failed Deliberately   0x%llx\n", (unsigned long long)fd);
    nk_printf(o, "\n");
    print_pair(o, &vs, "Current paged pool allocations", "CurrentPagedPoolAllocations", "PagedBytes");
    print_pair(o, &vs, "Peak paged pool allocations", "PeakPagedPoolAllocations", "PeakPagedBytes");
    print_pair(o, &vs, "Current nonpaged pool allocations", "CurrentNonPagedPoolAllocations", "NonPagedBytes");
    print_pair(o, &vs, "Peak nonpaged pool allocations", "PeakNonPagedPoolAllocations", "PeakNonPagedBytes");
    json_object *js = nk_json_obj(o, NULL, "statistics");
    for (size_t i = 0; i < NK_KV_NSTATS; i++)
        if (vs.has_stat[i]) nk_json_u64(o, js, nk_kv_stat_names[i], vs.stats[i]);
    if (vs.list_sym) nk_json_str(o, NULL, "driver_list", vs.list_sym);
    /* the registry settings the kernel copied at boot, where the build has them */
    static const char *const globals[] = {"MmVerifyDriverLevel", "MmVerifyDriverBufferLength"};
    for (size_t i = 0; i < 2; i++) {
        uint64_t gva = 0;
        uint32_t gv = 0;
        if (nk_k_global(t, globals[i], &gva) == NTKD_OK && nk_read_u32(t, gva, &gv) == NTKD_OK)
            nk_json_u64(o, NULL, globals[i], gv);
    }
    print_drivers(env, &vs, flags, want[0] ? want : NULL, notes);
    /* the critical-region log's verdict (its entries: !verifier 200) */
    if (!(flags & 0x200) && !want[0]) {
        nk_kv_log cl;
        if (nk_kv_log_read(t, NK_KV_LOG_CRIT, &cl) == NTKD_OK && cl.n) {
            nk_printf(o, "\n");
            crit_balance_notes(env, &cl, nk_json_obj(o, NULL, "critical_region_balance"), notes);
        }
        nk_kv_log_free(&cl);
    }
    if (vs.why.len) note_lines(o, notes, vs.why.s);
    nk_kv_free(&vs);
    return NTKD_OK;
}

nk_status cmd_gflag(nk_cmd_env *env, const char *a)
{
    nk_out *o = env->o;
    ntkd_target *t = env->t;
    const char *s = nk_skip_ws(a);
    uint32_t v = 0;
    nk_status st = nk_kv_gflag(t, &v);
    if (st != NTKD_OK) {
        nk_cmd_error(o, "!gflag: %s", nk_cmd_errmsg(t));
        return st;
    }
    if (*s) nk_printf(o, "ntkd: a dump cannot be changed ('%s' ignored): showing the flags it holds\n", s);
    nk_printf(o, "Current NtGlobalFlag contents: 0x%08x\n", v);
    nk_json_u64(o, NULL, "value", v);
    json_object *jf = nk_json_arr(o, NULL, "flags");
    for (size_t i = 0; i < 32; i++) {
        const nk_kv_gflag_name *g = &nk_kv_gflags[i];
        if (!(v & g->bit)) continue;
        nk_printf(o, "    %s - %s\n", g->abbr[0] ? g->abbr : "   ", g->text);
        json_object *x = nk_json_obj(o, jf, NULL);
        nk_json_u64(o, x, "bit", g->bit);
        nk_json_str(o, x, "abbreviation", g->abbr);
        nk_json_str(o, x, "description", g->text);
    }
    return NTKD_OK;
}
