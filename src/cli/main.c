/* main.c: the ntkd command line: open a dump, run -c commands or a prompt with history. */
#include <editline/readline.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cli/cli.h"
#include "ntkd/ntkd.h"

enum { EXIT_OKAY = 0, EXIT_CMDFAIL = 1, EXIT_USAGE = 2, EXIT_OPEN = 3 };

static void usage(FILE *f)
{
    fprintf(f,
            "usage: ntkd -z DUMP [-c \"cmd; cmd; q\"] [--json] [-y SYMPATH]\n"
            "       ntkd --raw IMAGE [--dtb ADDR] [--arch x64|x86|x86pae|arm64] [-c ...]\n"
            "       ntkd analyze FILE|DIR... [--jobs N] [--format text|jsonl|csv] [-y SYMPATH]\n"
            "\n"
            "  -z FILE      open a crash dump (kernel: full, summary, bitmap, small; user minidump)\n"
            "  --raw FILE   open a raw physical memory image (page-table root found by scan,\n"
            "               or given with --dtb)\n"
            "  -c CMDS      run commands separated by ';' and exit (q ends early)\n"
            "  --json       print each command's result as one JSON object per line\n"
            "  -y PATH      symbol path\n"
            "  -q           do not print the opening banner\n"
            "  -h, --help   this text;  ntkd -z FILE -c help lists the commands\n");
}

/* Splits a -c string on ';' outside double quotes, running each piece. */
static int run_script(ntkd_target *t, const char *script, ntkd_outmode mode, bool *quit)
{
    int rc = EXIT_OKAY;
    size_t n = strlen(script);
    char *buf = malloc(n + 1);
    if (!buf) return EXIT_CMDFAIL;
    size_t i = 0;
    bool inq = false;
    while (i <= n && !*quit) {
        size_t len = 0;
        for (; i < n; i++) {
            char c = script[i];
            if (c == '\\' && inq && i + 1 < n) { buf[len++] = c; buf[len++] = script[++i]; continue; }
            if (c == '"') inq = !inq;
            if (c == ';' && !inq) break;
            buf[len++] = c;
        }
        i++;
        buf[len] = 0;
        char *s = buf;
        while (*s == ' ' || *s == '\t') s++;
        if (!*s) continue;
        if (mode == NTKD_OUT_TEXT && !isatty(STDOUT_FILENO)) {
            char prompt[32];
            ntkd_prompt(t, prompt, sizeof prompt);
            printf("%s%s\n", prompt, s);
        }
        if (ntkd_execute(t, s, stdout, mode, quit) != NTKD_OK) rc = EXIT_CMDFAIL;
    }
    free(buf);
    return rc;
}

static void banner(ntkd_target *t, const char *path)
{
    printf("Loading Dump File [%s]\n", path);
    bool quit = false;
    ntkd_execute(t, "vertarget", stdout, NTKD_OUT_TEXT, &quit);
    for (size_t i = 0; i < ntkd_warning_count(t); i++) printf("WARNING: %s\n", ntkd_warning(t, i));
    printf("\n");
}

const char *ntkd_cli_table_cache(char *buf, size_t len)
{
    const char *env = getenv("NTKD_CACHE_DIR");
    int n;
    if (env) {
        if (!env[0] || !strcmp(env, "off")) return NULL;
        n = snprintf(buf, len, "%s", env);
    } else if ((env = getenv("XDG_CACHE_HOME")) && env[0] == '/') {
        n = snprintf(buf, len, "%s/ntkd/tables", env);
    } else {
        if (!ntkd_user_cache_dir(buf, len)) return NULL;
        size_t l = strlen(buf);
        n = snprintf(buf + l, len - l, "/tables");
        if (n >= 0) n += (int)l;
    }
    return n > 0 && (size_t)n < len ? buf : NULL;
}

int main(int argc, char **argv)
{
    if (argc > 1 && !strcmp(argv[1], "analyze")) return batch_main(argc - 1, argv + 1);
    const char *dump = NULL, *script = NULL, *sympath = NULL, *arch = NULL, *dtb = NULL;
    bool json = false, raw = false, quiet = false;
    static const struct option longopts[] = {
        {"json", no_argument, 0, 'J'}, {"raw", required_argument, 0, 'R'},
        {"dtb", required_argument, 0, 'D'}, {"arch", required_argument, 0, 'A'},
        {"help", no_argument, 0, 'h'}, {0, 0, 0, 0}};
    int c;
    while ((c = getopt_long(argc, argv, "z:c:y:qh", longopts, NULL)) != -1) {
        switch (c) {
        case 'z': dump = optarg; break;
        case 'c': script = optarg; break;
        case 'y': sympath = optarg; break;
        case 'q': quiet = true; break;
        case 'J': json = true; break;
        case 'R': dump = optarg; raw = true; break;
        case 'D': dtb = optarg; break;
        case 'A': arch = optarg; break;
        case 'h': usage(stdout); return EXIT_OKAY;
        default: usage(stderr); return EXIT_USAGE;
        }
    }
    if (optind < argc && !dump) dump = argv[optind++];
    if (!dump || optind < argc) {
        usage(stderr);
        return EXIT_USAGE;
    }
    if (!sympath) sympath = getenv("_NT_SYMBOL_PATH");
    char cache_dir[4096];
    ntkd_open_opts opts = {.raw = raw, .arch = arch, .sympath = sympath,
                           .table_cache = ntkd_cli_table_cache(cache_dir, sizeof cache_dir)};
    if (dtb) {
        char *end;
        opts.dtb = strtoull(dtb, &end, 16);
        if (*end) {
            fprintf(stderr, "ntkd: --dtb: not a hex address: %s\n", dtb);
            return EXIT_USAGE;
        }
        opts.have_dtb = true;
    }
    ntkd_ctx *ctx = ntkd_ctx_new();
    if (!ctx) return EXIT_OPEN;
    ntkd_target *t;
    if (ntkd_open(ctx, dump, &opts, &t) != NTKD_OK) {
        fprintf(stderr, "ntkd: %s\n", ntkd_ctx_error(ctx));
        ntkd_ctx_free(ctx);
        return EXIT_OPEN;
    }
    ntkd_outmode mode = json ? NTKD_OUT_JSON : NTKD_OUT_TEXT;
    if (!json && !quiet && !script) banner(t, dump);
    else if (json || script)
        for (size_t i = 0; i < ntkd_warning_count(t); i++) fprintf(stderr, "WARNING: %s\n", ntkd_warning(t, i));
    int rc = EXIT_OKAY;
    bool quit = false;
    if (script) {
        rc = run_script(t, script, mode, &quit);
    } else {
        using_history();
        char prompt[32];
        while (!quit) {
            ntkd_prompt(t, prompt, sizeof prompt);
            char *line = isatty(STDIN_FILENO) ? readline(prompt) : NULL;
            if (!isatty(STDIN_FILENO)) { /* piped commands: one per line */
                static char buf[4096];
                if (!fgets(buf, sizeof buf, stdin)) break;
                buf[strcspn(buf, "\n")] = 0;
                line = strdup(buf);
            }
            if (!line) break;
            if (*line) add_history(line);
            run_script(t, line, mode, &quit);
            free(line);
        }
    }
    ntkd_close(t);
    ntkd_ctx_free(ctx);
    return rc;
}
