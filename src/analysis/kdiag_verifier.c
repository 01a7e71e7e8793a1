/* kdiag_verifier.c: the verifier diagnosis for 0x1 / 0x20 / 0xC4(0xC5) (see kdiag_verifier.h). */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "analysis/analyze.h"
#include "analysis/kdiag.h"
#include "analysis/kdiag_verifier.h"
#include "kobj/kobj.h"
#include "kobj/kverifier.h"
#include "sym/sym.h"
#include "sym/sym_int.h"




static const char *errmsg(ntkd_target *t)
{
    return t && t->ctx && t->ctx->errmsg[0] ? t->ctx->errmsg : "unknown error";
}

static void vblame(ntkd_target *t, nk_analysis *a, uint64_t addr, const char *prefix, const char *rule)
{
    char mod[64], sym[256], func[200], bucket[400];
    nk_kd_module(t, addr, mod, sizeof mod);
    if (!mod[0]) return;
    nk_kd_symbol(t, addr, sym, sizeof sym);
    nk_kd_func_of(sym, func, sizeof func);
    if (func[0]) snprintf(bucket, sizeof bucket, "%s_%.60s!%.120s", prefix, mod, func);
    else snprintf(bucket, sizeof bucket, "%s_%.60s", prefix, mod);
    nk_kd_blame(t, a, addr, mod, func, bucket, rule);
}

void nk_kd_verifier_analyze(ntkd_target *t, nk_analysis *a)
{
    const uint32_t code = a->code & 0x0fffffffu;
    const bool is1 = code == 0x1, is20 = code == 0x20, isc5 = code == 0xc4 && a->params[0] == 0xc5;
    if (!is1 && !is20 && !isc5) return;
    const bool is64 = t->d.is64;
    char b1[24], b2[24], sym[256];

    /* the counts the bug check reports */
    if (is20) {
        nk_an_fact(a, "APC_DISABLE_COUNT", "%d (parameter 2: the exiting thread's APC disable count; a negative "
                                      "value: a driver disabled APCs (KeEnterCriticalRegion, FsRtlEnterFileSystem, "
                                      "a mutex) and never re-enabled them)",
              (int16_t)(a->params[1] & 0xffff));
    } else if (isc5) {
        nk_kd_symbol(t, a->params[1], sym, sizeof sym);
        nk_an_fact(a, "APC_DISABLE_COUNT", "%d after the dispatch routine, %d before it (parameters 3 and 4)",
              (int16_t)(a->params[2] & 0xffff), (int16_t)(a->params[3] & 0xffff));
        char img[64];
        nk_kd_image(t, a->params[1], img, sizeof img);
        nk_an_fact(a, "DISPATCH_ROUTINE", "%s (%s)%s", sym, img[0] ? img : "no module",
              strncasecmp(sym, "fltmgr!", 7) ? ""
                                            : ": the filter manager's dispatch: one of its minifilters changed "
                                              "the count (!fltkd.volume on the device names them)");
    } else {
        /* 0x1: P3 is CombinedApcDisable (SpecialApcDisable << 16 | KernelApcDisable) where the
         * thread has one; builds without SpecialApcDisable (XP) pass the ULONG KernelApcDisable */
        if (nk_k_has(t, "_KTHREAD", "SpecialApcDisable"))
            nk_an_fact(a, "APC_DISABLE_COUNT", "KernelApcDisable %d, SpecialApcDisable %d (parameter 3)",
                  (int16_t)(a->params[2] & 0xffff), (int16_t)((a->params[2] >> 16) & 0xffff));
        else
            nk_an_fact(a, "APC_DISABLE_COUNT", "KernelApcDisable %d (parameter 3; this build has no SpecialApcDisable)",
                  (int32_t)(uint32_t)(a->params[2] & 0xffffffffu));
        nk_kd_symbol(t, a->params[0], sym, sizeof sym);
        nk_an_fact(a, "SYSTEM_FUNCTION", "%s (%s), returning from a %s", sym[0] ? sym : "(no symbol)",
              nk_fmt_hex(b1, a->params[0], is64),
              a->params[3] == 0 ? "system call" : a->params[3] == 1 ? "worker routine" : "call of unknown type (parameter 4)");
        if (a->params[1])
            nk_an_fact(a, "APC_STATE_INDEX", "%llu (parameter 2): the thread is still attached to another process "
                                          "(KeStackAttachProcess/KeAttachProcess without the detach)",
                  (unsigned long long)a->params[1]);
    }

    /* the crashing thread's own counts */
    uint64_t thread = 0, prcb = 0;
    if (nk_k_prcb(t, t->d.bugcheck_cpu, &prcb) == NTKD_OK)
        thread = nk_k_get(t, prcb, "_KPRCB", "CurrentThread", 0);
    if (thread) {
        nk_kthread kt;
        if (nk_k_thread_read(t, thread, &kt) == NTKD_OK)
            nk_an_fact(a, "THREAD_APC_DISABLE", "thread %s: KernelApcDisable %d, SpecialApcDisable %d",
                  nk_fmt_hex(b1, thread, is64), kt.kernel_apc_disable, kt.special_apc_disable);
        else
            nk_an_note(a, "THREAD_APC_DISABLE: thread %s: %s", nk_fmt_hex(b1, thread, is64), errmsg(t));
    }

    /* the critical-region log */
    nk_kv_log l;
    uint64_t culprit = 0;
    char culprit_mod[64] = "";
    if (nk_kv_log_read(t, NK_KV_LOG_CRIT, &l) == NTKD_OK) {
        nk_kv_balance *b = NULL;
        size_t nb = 0;
        if (!l.array || !l.n) {
            nk_an_note(a, "CRITICAL_REGION_LOG: empty (Driver Verifier's miscellaneous checks were off, or the "
                     "drivers' KeEnterCriticalRegion calls were inlined)");
        } else if (nk_kv_crit_balance(t, &l, &b, &nb) == NTKD_OK) {
            bool header = false;
            int best = 0;
            bool best_on_thread = false;
            for (size_t i = 0; i < nb; i++) {
                if (b[i].enters == b[i].leaves) continue;
                if (!header) {
                    nk_an_fact(a, "CRITICAL_REGION_LOG", "unbalanced KeEnterCriticalRegion/KeLeaveCriticalRegion "
                                                   "(nt!VfKeCriticalRegionTraces, 0x%llx entries):",
                          (unsigned long long)l.n);
                    header = true;
                }
                nk_an_fact_more(a, "\n%s on thread %s%s: %u enter%s, %u leave%s", b[i].module[0] ? b[i].module : "(no driver)",
                      nk_fmt_hex(b1, b[i].thread, is64), b[i].thread == thread ? " (the crashing thread)" : "",
                      b[i].enters, b[i].enters == 1 ? "" : "s", b[i].leaves, b[i].leaves == 1 ? "" : "s");
                int diff = (int)b[i].enters - (int)b[i].leaves;
                bool on = b[i].thread == thread;
                if (b[i].module[0] && diff > 0 && ((on && !best_on_thread) || (on == best_on_thread && diff > best))) {
                    best = diff;
                    best_on_thread = on;
                    culprit = b[i].frame;
                    snprintf(culprit_mod, sizeof culprit_mod, "%s", b[i].module);
                }
            }
            if (!header) nk_an_note(a, "CRITICAL_REGION_LOG: every enter in the log has its leave (per thread and driver)");
            if (culprit) {
                nk_kd_symbol(t, culprit, sym, sizeof sym);
                nk_an_fact(a, "CRITICAL_REGION_CULPRIT", "%s entered a critical region %s and did not leave it (%s)",
                      culprit_mod, best_on_thread ? "on the crashing thread" : "(the crashing thread is not in the log)",
                      sym);
            }
        }
        free(b);
        if (l.why.len) nk_an_note(a, "CRITICAL_REGION_LOG: %.*s", (int)strcspn(l.why.s, "\n"), l.why.s);
    } else {
        nk_an_note(a, "CRITICAL_REGION_LOG: %s", errmsg(t));
    }
    nk_kv_log_free(&l);

    /* the IRP log: I/O issued by the crashing thread (or any) with APCs disabled */
    if (nk_kv_log_read(t, NK_KV_LOG_IRP, &l) == NTKD_OK && l.n) {
        bool header = false;
        size_t shown = 0;
        for (size_t i = 0; i < l.n && shown < 8; i++) {
            const nk_kv_entry *e = &l.e[i];
            if (!e->kad && !e->sad) continue;
            if (!header) {
                nk_an_fact(a, "IRP_LOG_APC_DISABLED", "IRPs sent with APCs disabled (nt!IovIrpTraces):");
                header = true;
            }
            char mod[64] = "";
            for (unsigned k = 0; k < e->nstack && !mod[0]; k++) {
                nk_kd_module(t, e->stack[k], mod, sizeof mod);
                if (!strcasecmp(mod, "nt") || !strcasecmp(mod, "fltmgr") || !strcasecmp(mod, "mountmgr")) mod[0] = 0;
            }
            nk_an_fact_more(a, "\nIRP %s thread %s: KernelApcDisable %d, SpecialApcDisable %d, from %s", nk_fmt_hex(b1, e->addr, is64),
                  nk_fmt_hex(b2, e->thread, is64), e->kad, e->sad, mod[0] ? mod : "(no driver frame)");
            shown++;
        }
    }
    nk_kv_log_free(&l);

    /* the blame */
    if (culprit) {
        vblame(t, a, culprit, is20 ? "0x20_CRITICAL_REGION" : isc5 ? "0xc4_c5_VRF_CRITICAL_REGION" : "0x1_CRITICAL_REGION",
               "verifier: the driver whose KeEnterCriticalRegion in the critical-region log has no matching leave");
    } else if (isc5 && a->params[1]) {
        vblame(t, a, a->params[1], "0xc4_c5_VRF",
               "0xC4/0xC5: the driver of the dispatch routine that changed the APC disable count (no "
               "critical-region log names a driver)");
    }
}
