/* ph_pte.c: placeholder, deleted when the real code lands. */
#include "cmd/cmd.h"
#define NOT_YET(fn) nk_status fn(nk_cmd_env *e, const char *a) { (void)a; nk_cmd_error(e->o, "%s: not implemented yet", e->name); return NTKD_E_UNSUPPORTED; }
NOT_YET(cmd_pte)
NOT_YET(cmd_vtop)
