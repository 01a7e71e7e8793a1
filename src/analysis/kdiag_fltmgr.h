/* kdiag_fltmgr.h: the filter-manager diagnosis of `!analyze -v` (seed 003): a legacy file-system
 * filter attached above a filter-manager frame that holds a minifilter of higher altitude, so
 * the legacy filter sees the I/O first (for an encryption filter below an antivirus minifilter:
 * the minifilter gets still-encrypted data). The check is !fltkd's (nk_flt_diagnose, kfltmgr.c);
 * this only reports it, for any bug check, when fltmgr's types are on the symbol path. */
#ifndef NTKD_KDIAG_FLTMGR_H
#define NTKD_KDIAG_FLTMGR_H

#include "dump/dump.h"

struct nk_analysis;
/* Adds the fact FILTER_ALTITUDE_PROBLEM (each finding with its remedy) and a note line per
 * finding; nothing when fltmgr's types are unavailable or the stacks are in order. */
void nk_kd_fltmgr_analyze(ntkd_target *t, struct nk_analysis *a);

#endif
