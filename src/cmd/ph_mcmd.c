/* ph_mcmd.c: placeholders for the issue-7 commands not yet written (delete each when implemented). */
#include "cmd/cmd.h"

nk_status cmd_pool(nk_cmd_env *e, const char *a)
{
    (void)a;
    nk_cmd_error(e->o, "!pool: not implemented yet");
    return NTKD_E_UNSUPPORTED;
}

nk_status cmd_poolused(nk_cmd_env *e, const char *a)
{
    (void)a;
    nk_cmd_error(e->o, "!poolused: not implemented yet");
    return NTKD_E_UNSUPPORTED;
}

nk_status cmd_poolfind(nk_cmd_env *e, const char *a)
{
    (void)a;
    nk_cmd_error(e->o, "!poolfind: not implemented yet");
    return NTKD_E_UNSUPPORTED;
}

nk_status cmd_vm(nk_cmd_env *e, const char *a)
{
    (void)a;
    nk_cmd_error(e->o, "!vm: not implemented yet");
    return NTKD_E_UNSUPPORTED;
}

nk_status cmd_ca(nk_cmd_env *e, const char *a)
{
    (void)a;
    nk_cmd_error(e->o, "!ca: not implemented yet");
    return NTKD_E_UNSUPPORTED;
}

nk_status cmd_memusage(nk_cmd_env *e, const char *a)
{
    (void)a;
    nk_cmd_error(e->o, "!memusage: not implemented yet");
    return NTKD_E_UNSUPPORTED;
}

nk_status cmd_verifier(nk_cmd_env *e, const char *a)
{
    (void)a;
    nk_cmd_error(e->o, "!verifier: not implemented yet");
    return NTKD_E_UNSUPPORTED;
}

nk_status cmd_gflag(nk_cmd_env *e, const char *a)
{
    (void)a;
    nk_cmd_error(e->o, "!gflag: not implemented yet");
    return NTKD_E_UNSUPPORTED;
}

nk_status cmd_fltkd_filters(nk_cmd_env *e, const char *a)
{
    (void)a;
    nk_cmd_error(e->o, "!fltkd.filters: not implemented yet");
    return NTKD_E_UNSUPPORTED;
}

nk_status cmd_fltkd_frames(nk_cmd_env *e, const char *a)
{
    (void)a;
    nk_cmd_error(e->o, "!fltkd.frames: not implemented yet");
    return NTKD_E_UNSUPPORTED;
}

nk_status cmd_fltkd_volumes(nk_cmd_env *e, const char *a)
{
    (void)a;
    nk_cmd_error(e->o, "!fltkd.volumes: not implemented yet");
    return NTKD_E_UNSUPPORTED;
}

nk_status cmd_fltkd_volume(nk_cmd_env *e, const char *a)
{
    (void)a;
    nk_cmd_error(e->o, "!fltkd.volume: not implemented yet");
    return NTKD_E_UNSUPPORTED;
}

nk_status cmd_fltkd_instance(nk_cmd_env *e, const char *a)
{
    (void)a;
    nk_cmd_error(e->o, "!fltkd.instance: not implemented yet");
    return NTKD_E_UNSUPPORTED;
}
