/* ph_kcmd.c: placeholders for kernel-object commands not yet written (delete each when implemented). */
#include "cmd/cmd.h"

nk_status cmd_process(nk_cmd_env *e, const char *a)
{
    (void)a;
    nk_cmd_error(e->o, "!process: not implemented yet");
    return NTKD_E_UNSUPPORTED;
}

nk_status cmd_thread(nk_cmd_env *e, const char *a)
{
    (void)a;
    nk_cmd_error(e->o, "!thread: not implemented yet");
    return NTKD_E_UNSUPPORTED;
}

nk_status cmd_dotprocess(nk_cmd_env *e, const char *a)
{
    (void)a;
    nk_cmd_error(e->o, ".process: not implemented yet");
    return NTKD_E_UNSUPPORTED;
}

nk_status cmd_dotthread(nk_cmd_env *e, const char *a)
{
    (void)a;
    nk_cmd_error(e->o, ".thread: not implemented yet");
    return NTKD_E_UNSUPPORTED;
}

nk_status cmd_peb(nk_cmd_env *e, const char *a)
{
    (void)a;
    nk_cmd_error(e->o, "!peb: not implemented yet");
    return NTKD_E_UNSUPPORTED;
}

nk_status cmd_teb(nk_cmd_env *e, const char *a)
{
    (void)a;
    nk_cmd_error(e->o, "!teb: not implemented yet");
    return NTKD_E_UNSUPPORTED;
}

nk_status cmd_gle(nk_cmd_env *e, const char *a)
{
    (void)a;
    nk_cmd_error(e->o, "!gle: not implemented yet");
    return NTKD_E_UNSUPPORTED;
}

nk_status cmd_handle(nk_cmd_env *e, const char *a)
{
    (void)a;
    nk_cmd_error(e->o, "!handle: not implemented yet");
    return NTKD_E_UNSUPPORTED;
}

nk_status cmd_pcr(nk_cmd_env *e, const char *a)
{
    (void)a;
    nk_cmd_error(e->o, "!pcr: not implemented yet");
    return NTKD_E_UNSUPPORTED;
}

nk_status cmd_prcb(nk_cmd_env *e, const char *a)
{
    (void)a;
    nk_cmd_error(e->o, "!prcb: not implemented yet");
    return NTKD_E_UNSUPPORTED;
}

nk_status cmd_irql(nk_cmd_env *e, const char *a)
{
    (void)a;
    nk_cmd_error(e->o, "!irql: not implemented yet");
    return NTKD_E_UNSUPPORTED;
}

nk_status cmd_list(nk_cmd_env *e, const char *a)
{
    (void)a;
    nk_cmd_error(e->o, "!list: not implemented yet");
    return NTKD_E_UNSUPPORTED;
}

nk_status cmd_irp(nk_cmd_env *e, const char *a)
{
    (void)a;
    nk_cmd_error(e->o, "!irp: not implemented yet");
    return NTKD_E_UNSUPPORTED;
}

nk_status cmd_irpfind(nk_cmd_env *e, const char *a)
{
    (void)a;
    nk_cmd_error(e->o, "!irpfind: not implemented yet");
    return NTKD_E_UNSUPPORTED;
}

nk_status cmd_devobj(nk_cmd_env *e, const char *a)
{
    (void)a;
    nk_cmd_error(e->o, "!devobj: not implemented yet");
    return NTKD_E_UNSUPPORTED;
}

nk_status cmd_drvobj(nk_cmd_env *e, const char *a)
{
    (void)a;
    nk_cmd_error(e->o, "!drvobj: not implemented yet");
    return NTKD_E_UNSUPPORTED;
}

nk_status cmd_devstack(nk_cmd_env *e, const char *a)
{
    (void)a;
    nk_cmd_error(e->o, "!devstack: not implemented yet");
    return NTKD_E_UNSUPPORTED;
}

nk_status cmd_devnode(nk_cmd_env *e, const char *a)
{
    (void)a;
    nk_cmd_error(e->o, "!devnode: not implemented yet");
    return NTKD_E_UNSUPPORTED;
}

nk_status cmd_object(nk_cmd_env *e, const char *a)
{
    (void)a;
    nk_cmd_error(e->o, "!object: not implemented yet");
    return NTKD_E_UNSUPPORTED;
}

nk_status cmd_locks(nk_cmd_env *e, const char *a)
{
    (void)a;
    nk_cmd_error(e->o, "!locks: not implemented yet");
    return NTKD_E_UNSUPPORTED;
}

nk_status cmd_dpcs(nk_cmd_env *e, const char *a)
{
    (void)a;
    nk_cmd_error(e->o, "!dpcs: not implemented yet");
    return NTKD_E_UNSUPPORTED;
}

nk_status cmd_timer(nk_cmd_env *e, const char *a)
{
    (void)a;
    nk_cmd_error(e->o, "!timer: not implemented yet");
    return NTKD_E_UNSUPPORTED;
}
