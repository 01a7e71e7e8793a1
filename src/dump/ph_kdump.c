/* ph_kdump.c: placeholder, deleted when the real code lands. */
#include "dump/dump.h"
nk_status nk_kdump64_open(ntkd_target *t) { (void)t; return NTKD_E_FORMAT; }
nk_status nk_kdump32_open(ntkd_target *t) { (void)t; return NTKD_E_FORMAT; }
