/* ph_triage.c: placeholder, deleted when the real code lands. */
#include "dump/dump.h"
nk_status nk_triage_parse(ntkd_target *t, uint64_t off) { (void)off; return nk_fail(t->ctx, NTKD_E_UNSUPPORTED, "triage: not implemented yet"); }
