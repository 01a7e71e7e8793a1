/* cmd.h: the command layer's contract. One table (table.c) lists every command with its
 * syntax and help; each command family lives in its own file (cmd_*.c). A command reads the
 * target only through the memory, container-neutral and (later) symbol layers, and prints
 * through nk_out, which gives text in WinDbg's shapes or one JSON object per command. */
#ifndef NTKD_CMD_H
#define NTKD_CMD_H

#include <json-c/json.h>
#include <stdio.h>

#include "dump/dump.h"
#include "mem/mem.h"
#include "code/disasm.h"

typedef struct nk_out {
    FILE *f;
    bool json;
    json_object *root; /* JSON mode: the command's result object ("command", ... fields) */
    bool failed;
} nk_out;

/* Text output (ignored in JSON mode). */
void nk_printf(nk_out *o, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* An error message: text mode prints it as a line; JSON mode stores it under "error". */
void nk_cmd_error(nk_out *o, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* JSON helpers (no-ops in text mode); `obj` NULL means the root object. */
void nk_json_u64(nk_out *o, json_object *obj, const char *key, uint64_t v); /* as "0x..." hex string */
void nk_json_int(nk_out *o, json_object *obj, const char *key, int64_t v);
void nk_json_str(nk_out *o, json_object *obj, const char *key, const char *v);
void nk_json_bool(nk_out *o, json_object *obj, const char *key, bool v);
/* New array/object attached under key (or appended when parent is an array); NULL in text mode. */
json_object *nk_json_arr(nk_out *o, json_object *parent, const char *key);
json_object *nk_json_obj(nk_out *o, json_object *parent, const char *key);
/* "0x..." string value for arrays. */
json_object *nk_json_hex(uint64_t v);

typedef struct nk_cmd_env {
    ntkd_target *t;
    nk_out *o;
    const char *name; /* the command name as typed (e.g. "dq") */
    bool quit;
} nk_cmd_env;

typedef nk_status (*nk_cmd_fn)(nk_cmd_env *env, const char *args);

enum nk_cmd_flags {
    NK_CMD_ANY = 0,
    NK_CMD_KERNEL = 1, /* kernel dumps only */
    NK_CMD_USER = 2,   /* user dumps only */
};

typedef struct nk_cmd {
    const char *name;
    nk_cmd_fn fn;
    unsigned flags;
    const char *syntax;
    const char *help;
} nk_cmd;

extern const nk_cmd nk_commands[];
extern const size_t nk_ncommands;
const nk_cmd *nk_cmd_find(const char *name);

/* Helpers shared by the command families (cmd_util.c): the context's last error (or "unknown
 * error"); a collector's notes (one per line) as "WARNING: ..." lines and a JSON array
 * "warnings", at most max_shown of them. Addresses without the backtick: nk_fmt_hex (base.h). */
const char *nk_cmd_errmsg(ntkd_target *t);
void nk_cmd_warnings(nk_out *o, const nk_strbuf *why, size_t max_shown);

/* Argument helpers shared by commands. */
const char *nk_skip_ws(const char *s);
/* Splits the next whitespace-separated word (quotes respected) into buf. Returns the rest. */
const char *nk_next_word(const char *s, char *buf, size_t len);

/* ---- command functions, one family per file ---------------------------------------- */
/* cmd_basic.c */
nk_status cmd_quit(nk_cmd_env *e, const char *a);
nk_status cmd_help(nk_cmd_env *e, const char *a);
/* cmd_target.c: header facts */
nk_status cmd_bugcheck(nk_cmd_env *e, const char *a);
nk_status cmd_vertarget(nk_cmd_env *e, const char *a);
nk_status cmd_dumpdebug(nk_cmd_env *e, const char *a);
/* cmd_regs.c */
nk_status cmd_r(nk_cmd_env *e, const char *a);
/* nk_insn, nk_disasm_one and nk_disasm_line (the one-instruction disassembler `r` shows)
 * live in the code layer: code/disasm.h, included above. */
/* cmd_memory.c: display memory */
nk_status cmd_display(nk_cmd_env *e, const char *a);      /* db dw dd dq dp dc da du dps dqs dds */
nk_status cmd_display_phys(nk_cmd_env *e, const char *a); /* !db !dw !dd !dq !dc */
/* cmd_eval.c */
nk_status cmd_eval(nk_cmd_env *e, const char *a);    /* ? */
nk_status cmd_formats(nk_cmd_env *e, const char *a); /* .formats */
/* cmd_pte.c */
nk_status cmd_pte(nk_cmd_env *e, const char *a);
nk_status cmd_vtop(nk_cmd_env *e, const char *a);
/* cmd_user.c: user-mode dumps */
nk_status cmd_pipe(nk_cmd_env *e, const char *a);   /* | */
nk_status cmd_tilde(nk_cmd_env *e, const char *a);  /* ~ */
nk_status cmd_exr(nk_cmd_env *e, const char *a);    /* .exr */
nk_status cmd_ecxr(nk_cmd_env *e, const char *a);   /* .ecxr */
/* cmd_sym.c: modules and symbols */
nk_status cmd_lm(nk_cmd_env *e, const char *a);           /* lm and its option forms (lmv, lmvm ...) */
nk_status cmd_x(nk_cmd_env *e, const char *a);            /* x mod!pattern */
nk_status cmd_ln(nk_cmd_env *e, const char *a);           /* ln addr */
nk_status cmd_reload(nk_cmd_env *e, const char *a);       /* .reload */
nk_status cmd_sympath(nk_cmd_env *e, const char *a);      /* .sympath */
nk_status cmd_symfix(nk_cmd_env *e, const char *a);       /* .symfix */
nk_status cmd_bang_sym(nk_cmd_env *e, const char *a);     /* !sym */
nk_status cmd_for_each_module(nk_cmd_env *e, const char *a); /* !for_each_module */
nk_status cmd_search(nk_cmd_env *e, const char *a);       /* s */
/* cmd_dt.c: types */
nk_status cmd_dt(nk_cmd_env *e, const char *a);      /* dt */
nk_status cmd_cppeval(nk_cmd_env *e, const char *a); /* ?? */
/* cmd_analyze.c: bug check analysis */
nk_status cmd_analyze(nk_cmd_env *e, const char *a); /* !analyze -show CODE [P1..P4] */
/* cmd_stack.c: stacks, frames and contexts */
nk_status cmd_k(nk_cmd_env *e, const char *a);      /* k kn kb kv kp kc kL and combinations */
nk_status cmd_frame(nk_cmd_env *e, const char *a);  /* .frame [/r] [N] */
nk_status cmd_cxr(nk_cmd_env *e, const char *a);    /* .cxr [addr] */
nk_status cmd_trap(nk_cmd_env *e, const char *a);   /* .trap [addr] */
nk_status cmd_fnent(nk_cmd_env *e, const char *a);  /* .fnent addr */
/* Shared by the kernel-object commands (defined in cmd_stack.c): k's frame printing
 * (flags NK_STK_*; JSON "frames"/"stop" under parent, NULL: the root) and switching the
 * current context to a register set (.thread). */
struct nk_stack;
struct nk_uregs;
enum { NK_STK_NUMBERED = 1, NK_STK_ARGS = 2, NK_STK_VERBOSE = 4, NK_STK_CALLS = 8 };
void nk_cmd_print_stack(nk_out *o, ntkd_target *t, const struct nk_stack *st, bool is64, unsigned flags,
                        json_object *parent);
nk_status nk_cmd_use_regs(ntkd_target *t, const struct nk_uregs *r, const char *origin);
/* cmd_disasm.c: disassembly */
nk_status cmd_u(nk_cmd_env *e, const char *a);  /* u [addr] [L n] */
nk_status cmd_ub(nk_cmd_env *e, const char *a); /* ub addr [L n] */
nk_status cmd_uf(nk_cmd_env *e, const char *a); /* uf [/c] addr */

/* kernel objects (src/cmd/cmd_kproc.c) */
nk_status cmd_process(nk_cmd_env *e, const char *a);
nk_status cmd_thread(nk_cmd_env *e, const char *a);
nk_status cmd_dotprocess(nk_cmd_env *e, const char *a);
nk_status cmd_dotthread(nk_cmd_env *e, const char *a);
nk_status cmd_peb(nk_cmd_env *e, const char *a);
nk_status cmd_teb(nk_cmd_env *e, const char *a);
nk_status cmd_gle(nk_cmd_env *e, const char *a);
nk_status cmd_handle(nk_cmd_env *e, const char *a);
nk_status cmd_pcr(nk_cmd_env *e, const char *a);
nk_status cmd_prcb(nk_cmd_env *e, const char *a);
nk_status cmd_irql(nk_cmd_env *e, const char *a);
nk_status cmd_list(nk_cmd_env *e, const char *a);
/* I/O objects (src/cmd/cmd_kio.c) */
nk_status cmd_irp(nk_cmd_env *e, const char *a);
nk_status cmd_irpfind(nk_cmd_env *e, const char *a);
nk_status cmd_devobj(nk_cmd_env *e, const char *a);
nk_status cmd_drvobj(nk_cmd_env *e, const char *a);
nk_status cmd_devstack(nk_cmd_env *e, const char *a);
nk_status cmd_devnode(nk_cmd_env *e, const char *a);
nk_status cmd_object(nk_cmd_env *e, const char *a);
/* executive (src/cmd/cmd_kex.c) */
nk_status cmd_locks(nk_cmd_env *e, const char *a);
nk_status cmd_dpcs(nk_cmd_env *e, const char *a);
nk_status cmd_timer(nk_cmd_env *e, const char *a);

/* memory and pool (src/cmd/cmd_pool.c) */
nk_status cmd_pool(nk_cmd_env *e, const char *a);
nk_status cmd_poolused(nk_cmd_env *e, const char *a);
nk_status cmd_poolfind(nk_cmd_env *e, const char *a);
/* memory manager (src/cmd/cmd_mm.c) */
nk_status cmd_vm(nk_cmd_env *e, const char *a);
nk_status cmd_ca(nk_cmd_env *e, const char *a);
nk_status cmd_memusage(nk_cmd_env *e, const char *a);
/* verifier (src/cmd/cmd_verifier.c) */
nk_status cmd_verifier(nk_cmd_env *e, const char *a);
nk_status cmd_gflag(nk_cmd_env *e, const char *a);
/* filter manager (src/cmd/cmd_fltkd.c) */
nk_status cmd_fltkd_filters(nk_cmd_env *e, const char *a);
nk_status cmd_fltkd_frames(nk_cmd_env *e, const char *a);
nk_status cmd_fltkd_volumes(nk_cmd_env *e, const char *a);
nk_status cmd_fltkd_volume(nk_cmd_env *e, const char *a);
nk_status cmd_fltkd_instance(nk_cmd_env *e, const char *a);

#endif
