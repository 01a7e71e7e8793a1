/* cmd_basic.c: session commands: q, help. */
#include "cmd/cmd.h"

nk_status cmd_quit(nk_cmd_env *e, const char *a)
{
    (void)a;
    e->quit = true;
    return NTKD_OK;
}

nk_status cmd_help(nk_cmd_env *e, const char *a)
{
    char want[64];
    nk_next_word(a, want, sizeof want);
    json_object *arr = nk_json_arr(e->o, NULL, "commands");
    for (size_t i = 0; i < nk_ncommands; i++) {
        const nk_cmd *c = &nk_commands[i];
        if (want[0] && strcmp(want, c->name) != 0) continue;
        if (want[0]) nk_printf(e->o, "%s\n    %s\n", c->syntax, c->help);
        else nk_printf(e->o, "%-34s %s\n", c->syntax, c->help);
        json_object *j = nk_json_obj(e->o, arr, NULL);
        nk_json_str(e->o, j, "name", c->name);
        nk_json_str(e->o, j, "syntax", c->syntax);
        nk_json_str(e->o, j, "help", c->help);
    }
    return NTKD_OK;
}
