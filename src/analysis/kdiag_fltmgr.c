/* kdiag_fltmgr.c: the filter-manager diagnosis of !analyze -v (see kdiag_fltmgr.h). */
#include <stdio.h>
#include <string.h>

#include "analysis/analyze.h"
#include "analysis/kdiag_fltmgr.h"
#include "kobj/kfltmgr.h"

void nk_kd_fltmgr_analyze(ntkd_target *t, nk_analysis *a)
{
    if (!t || !a || !t->ctx) return;
    const nk_dump *dd = &t->d;
    /* kernel dumps with memory (a small dump holds no filter-manager state) */
    if (dd->kind != NK_KIND_KERNEL_FULL && dd->kind != NK_KIND_KERNEL_SUMMARY && dd->kind != NK_KIND_KERNEL_BITMAP)
        return;
    /* the check runs only with fltmgr's types; without them it stays silent (the context's
     * error message is left as it was) */
    char saved[sizeof t->ctx->errmsg];
    memcpy(saved, t->ctx->errmsg, sizeof saved);
    if (!nk_flt_types(t)) {
        memcpy(t->ctx->errmsg, saved, sizeof saved);
        return;
    }
    nk_flt_diag d;
    if (nk_flt_diagnose(t, &d) != NTKD_OK) {
        nk_an_note(a, "FILTER_ALTITUDE_CHECK: could not run: %.300s", t->ctx->errmsg);
        nk_flt_diag_free(&d);
        memcpy(t->ctx->errmsg, saved, sizeof saved);
        return;
    }
    for (size_t i = 0; i < d.nproblems; i++) {
        char finding[700], remedy[400];
        nk_flt_problem_finding(&d, i, finding, sizeof finding);
        nk_flt_problem_remedy(&d, i, remedy, sizeof remedy);
        if (!i) nk_an_fact(a, "FILTER_ALTITUDE_PROBLEM", "%s. Remedy: %s.", finding, remedy);
        else nk_an_fact_more(a, "\n%s. Remedy: %s.", finding, remedy);
        const nk_flt_problem *p = &d.problems[i];
        const nk_flt_legacy *l = &d.legacy[p->legacy];
        const char *leaf = strrchr(l->driver, '\\');
        nk_an_note(a, "FILTER_ALTITUDE_PROBLEM: legacy filter %.60s (altitude %.20s) above minifilter %.60s (altitude %.20s)",
                   leaf ? leaf + 1 : l->driver, l->altitude, p->minifilter, p->mini_altitude);
    }
    if (d.nproblems && d.notes.len) nk_an_note(a, "FILTER_ALTITUDE_CHECK: %.300s", d.notes.s);
    nk_flt_diag_free(&d);
    memcpy(t->ctx->errmsg, saved, sizeof saved);
}
