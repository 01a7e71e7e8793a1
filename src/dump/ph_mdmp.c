/* ph_mdmp.c: placeholder, deleted when the real code lands. */
#include "dump/dump.h"
nk_status nk_mdmp_open(ntkd_target *t) { (void)t; return NTKD_E_FORMAT; }
