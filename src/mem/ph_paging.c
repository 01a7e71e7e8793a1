/* ph_paging.c: placeholder, deleted when the real code lands. */
#include "mem/mem.h"
nk_status nk_raw_open(ntkd_target *t, const ntkd_open_opts *o) { (void)o; return nk_fail(t->ctx, NTKD_E_UNSUPPORTED, "raw images: not implemented yet"); }
nk_status nk_vtop_walk(ntkd_target *t, uint64_t dtb, uint64_t va, nk_walk *w) { (void)t; (void)dtb; (void)va; memset(w, 0, sizeof *w); w->result = NK_WALK_NO_PAGING; return NTKD_E_NOTPRESENT; }
nk_status nk_vtop(ntkd_target *t, uint64_t va, uint64_t *pa) { (void)t; (void)va; (void)pa; return NTKD_E_NOTPRESENT; }
