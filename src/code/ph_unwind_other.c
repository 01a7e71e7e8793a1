/* ph_unwind_other.c: placeholder for the x86 and ARM64 step functions and the FrameData
 * evaluator; deleted when the real code lands. */
#include "code/unwind.h"
nk_status nk_step_x86(ntkd_target *t, nk_uregs *r, nk_frame_how *how, char *note, size_t nlen)
{ (void)t; (void)r; (void)how; snprintf(note, nlen, "x86 unwinding not implemented yet"); return NTKD_E_UNSUPPORTED; }
nk_status nk_step_arm64(ntkd_target *t, nk_uregs *r, nk_frame_how *how, char *note, size_t nlen)
{ (void)t; (void)r; (void)how; snprintf(note, nlen, "ARM64 unwinding not implemented yet"); return NTKD_E_UNSUPPORTED; }
nk_status nk_rpn_eval(nk_rpn_env *env, const char *program, char *err, size_t errlen)
{ (void)env; (void)program; snprintf(err, errlen, "not implemented yet"); return NTKD_E_UNSUPPORTED; }
