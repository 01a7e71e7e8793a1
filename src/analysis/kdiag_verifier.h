/* kdiag_verifier.h: the Driver Verifier diagnosis of `!analyze -v` for bug checks 0x1
 * (APC_INDEX_MISMATCH), 0x20 (KERNEL_APC_PENDING_DURING_EXIT) and 0xC4/0xC5 (an I/O-verified
 * dispatch routine changed the thread's APC disable count): the crashing thread's APC disable
 * counts, the critical-region log's (thread, driver) pairs whose enters and leaves do not
 * balance, the IRP log's entries issued with APCs disabled, and the blamed driver. */
#ifndef NTKD_KDIAG_VERIFIER_H
#define NTKD_KDIAG_VERIFIER_H

#include "dump/dump.h"

struct nk_analysis;
/* Does nothing for other bug checks. Called by nk_kd_analyze (kdiag.c). */
void nk_kd_verifier_analyze(ntkd_target *t, struct nk_analysis *a);

#endif
