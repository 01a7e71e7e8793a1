/* batch.c: `ntkd analyze FILE|DIR ...` — batch triage of many dumps.
 *
 * Inputs are expanded (directories recursively, regular files only, no filtering by name: a
 * file that is not a dump fails in ntkd_open and is listed as failed). Each dump is analysed
 * in its own forked process (crash isolation; at most --jobs at once) with its own ntkd_ctx;
 * the child sends one JSON line back over a pipe. A child that dies from a signal is reported
 * as failed with that signal; one that runs past --timeout seconds is killed.
 *
 * Test hooks (for tests/cli/batch.sh only; read in the worker child only):
 *   NTKD_TEST_CRASH_ON=<basename>  the worker raises SIGSEGV for that file
 *   NTKD_TEST_HANG_ON=<basename>   the worker sleeps forever for that file (timeout test)
 */
#include <dirent.h>
#include <errno.h>
#include <getopt.h>
#include <json-c/json.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "cli/cli.h"
#include "ntkd/ntkd.h"


enum { FMT_TEXT, FMT_JSONL, FMT_CSV };
#define MAX_DEPTH 64
#define MAX_FILES 10000000

typedef struct {
    char **v;
    size_t n, cap;
} strvec;

static int sv_push(strvec *s, const char *p)
{
    if (s->n >= MAX_FILES) return -1;
    if (s->n == s->cap) {
        size_t nc = s->cap ? s->cap * 2 : 64;
        char **nv = realloc(s->v, nc * sizeof *nv);
        if (!nv) return -1;
        s->v = nv;
        s->cap = nc;
    }
    if (!(s->v[s->n] = strdup(p))) return -1;
    s->n++;
    return 0;
}

static int cmp_str(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

/* Adds `path` (a file, or a directory walked recursively) to `files`. */
static void expand(const char *path, int depth, strvec *files)
{
    struct stat st;
    if (stat(path, &st) != 0 || !S_ISDIR(st.st_mode) || depth >= MAX_DEPTH) {
        /* missing or unreadable paths are kept: the worker reports the error */
        if (stat(path, &st) != 0 || S_ISREG(st.st_mode) || !S_ISDIR(st.st_mode)) sv_push(files, path);
        return;
    }
    DIR *d = opendir(path);
    if (!d) {
        sv_push(files, path);
        return;
    }
    strvec names = {0};
    struct dirent *e;
    while ((e = readdir(d)) != NULL) {
        if (!strcmp(e->d_name, ".") || !strcmp(e->d_name, "..")) continue;
        size_t len = strlen(path) + strlen(e->d_name) + 2;
        char *full = malloc(len);
        if (!full) break;
        snprintf(full, len, "%s/%s", path, e->d_name);
        struct stat cs;
        if (stat(full, &cs) == 0 && (S_ISREG(cs.st_mode) || S_ISDIR(cs.st_mode))) sv_push(&names, full);
        free(full);
    }
    closedir(d);
    if (names.n) qsort(names.v, names.n, sizeof *names.v, cmp_str);
    for (size_t i = 0; i < names.n; i++) {
        struct stat cs;
        if (stat(names.v[i], &cs) == 0 && S_ISDIR(cs.st_mode)) expand(names.v[i], depth + 1, files);
        else sv_push(files, names.v[i]);
        free(names.v[i]);
    }
    free(names.v);
}

static const char *base_name(const char *p)
{
    const char *s = strrchr(p, '/');
    return s ? s + 1 : p;
}

static void write_all(int fd, const char *s, size_t n)
{
    while (n) {
        ssize_t w = write(fd, s, n);
        if (w < 0) {
            if (errno == EINTR) continue;
            return;
        }
        s += w;
        n -= (size_t)w;
    }
}

/* The worker: analyse one dump, write one JSON line to fd, exit. */
static void worker(const char *path, const char *sympath, int fd)
{
    const char *crash = getenv("NTKD_TEST_CRASH_ON");
    if (crash && *crash && !strcmp(crash, base_name(path))) {
        signal(SIGSEGV, SIG_DFL); /* past any sanitizer handler */
        raise(SIGSEGV);
    }
    const char *hang = getenv("NTKD_TEST_HANG_ON");
    if (hang && *hang && !strcmp(hang, base_name(path)))
        for (;;) pause();
    json_object *o = json_object_new_object();
    ntkd_ctx *ctx = ntkd_ctx_new();
    char cache_dir[4096];
    ntkd_open_opts opts = {.sympath = sympath, .table_cache = ntkd_cli_table_cache(cache_dir, sizeof cache_dir)};
    ntkd_target *t = NULL;
    char *aj = NULL;
    if (!ctx) {
        json_object_object_add(o, "ok", json_object_new_boolean(0));
        json_object_object_add(o, "error", json_object_new_string("out of memory"));
    } else if (ntkd_open(ctx, path, &opts, &t) != NTKD_OK) {
        json_object_object_add(o, "ok", json_object_new_boolean(0));
        json_object_object_add(o, "error", json_object_new_string(ntkd_ctx_error(ctx)));
    } else if (ntkd_analyze_json(t, &aj) != NTKD_OK || !aj) {
        json_object_object_add(o, "ok", json_object_new_boolean(0));
        const char *err = ntkd_ctx_error(ctx);
        json_object_object_add(o, "error", json_object_new_string(err && *err ? err : "analysis failed"));
    } else {
        json_object_object_add(o, "ok", json_object_new_boolean(1));
        json_object *a = json_tokener_parse(aj);
        if (a) json_object_object_add(o, "analysis", a);
    }
    const char *s = json_object_to_json_string_ext(o, JSON_C_TO_STRING_PLAIN);
    write_all(fd, s, strlen(s));
    write_all(fd, "\n", 1);
    free(aj);
    if (t) ntkd_close(t);
    if (ctx) ntkd_ctx_free(ctx);
    json_object_put(o);
}

typedef struct {
    pid_t pid;
    int fd;
    size_t idx;
    double start;
    char *buf;
    size_t len, cap;
    bool timed_out;
} slot;

typedef struct {
    bool done, ok;
    char *error;
    char *bucket;
    uint64_t systime;
} result;

typedef struct {
    char *bucket;
    size_t count;
    uint64_t first, last;
    size_t ex[3];
    size_t nex;
} bucket;

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* A string field of an analysis object, trying several names; "" when absent. */
static const char *jstr(json_object *a, const char *const *names)
{
    for (; a && *names; names++) {
        json_object *v;
        if (json_object_object_get_ex(a, *names, &v) && v) return json_object_get_string(v);
    }
    return "";
}
static const char *const K_BUCKET[] = {"failure_bucket_id", "FAILURE_BUCKET_ID", "bucket", NULL};
static const char *const K_CODE[] = {"bugcheck_code", "BUGCHECK_CODE", "code", NULL};
static const char *const K_NAME[] = {"bugcheck_name", "name", NULL};
static const char *const K_MODULE[] = {"module_name", "MODULE_NAME", NULL};
static const char *const K_IMAGE[] = {"image_name", "IMAGE_NAME", NULL};
static const char *const K_SYMBOL[] = {"symbol_name", "SYMBOL_NAME", NULL};
static const char *const K_PROC[] = {"process_name", "PROCESS_NAME", NULL};

static void fmt_filetime(uint64_t ft, char *buf, size_t len)
{
    if (!ft || ft < 116444736000000000ULL) {
        snprintf(buf, len, "-");
        return;
    }
    time_t secs = (time_t)((ft - 116444736000000000ULL) / 10000000ULL);
    struct tm tm;
    if (!gmtime_r(&secs, &tm)) {
        snprintf(buf, len, "-");
        return;
    }
    strftime(buf, len, "%Y-%m-%d %H:%M:%S UTC", &tm);
}

static void csv_field(FILE *f, const char *s)
{
    fputc('"', f);
    for (; *s; s++) {
        if (*s == '"') fputc('"', f);
        if (*s == '\n' || *s == '\r') fputc(' ', f);
        else fputc(*s, f);
    }
    fputc('"', f);
}

static const char *const CSV_COLS[] = {"file", "ok", "error", "bugcheck_code", "bugcheck_name",
                                       "failure_bucket_id", "module_name", "image_name",
                                       "symbol_name", "process_name", "system_time"};

static void emit_one(FILE *out, int fmt, const char *file, json_object *msg)
{
    json_object *okv = NULL, *errv = NULL, *a = NULL;
    json_object_object_get_ex(msg, "ok", &okv);
    json_object_object_get_ex(msg, "error", &errv);
    json_object_object_get_ex(msg, "analysis", &a);
    bool ok = okv && json_object_get_boolean(okv);
    const char *err = errv ? json_object_get_string(errv) : "";
    if (fmt == FMT_JSONL) {
        json_object *o = json_object_new_object();
        json_object_object_add(o, "file", json_object_new_string(file));
        json_object_object_add(o, "ok", json_object_new_boolean(ok));
        json_object_object_add(o, "error", ok ? NULL : json_object_new_string(err));
        if (a) {
            json_object_object_foreach(a, k, v) {
                if (!strcmp(k, "file") || !strcmp(k, "ok") || !strcmp(k, "error")) continue;
                json_object_object_add(o, k, json_object_get(v));
            }
        }
        fprintf(out, "%s\n", json_object_to_json_string_ext(o, JSON_C_TO_STRING_PLAIN));
        json_object_put(o);
    } else if (fmt == FMT_CSV) {
        csv_field(out, file);
        fprintf(out, ",%s,", ok ? "true" : "false");
        csv_field(out, ok ? "" : err);
        const char *const *keys[] = {K_CODE, K_NAME, K_BUCKET, K_MODULE, K_IMAGE, K_SYMBOL, K_PROC};
        for (size_t i = 0; i < sizeof keys / sizeof *keys; i++) {
            fputc(',', out);
            csv_field(out, ok ? jstr(a, keys[i]) : "");
        }
        json_object *tv;
        fprintf(out, ",%llu\n",
                (unsigned long long)(ok && a && json_object_object_get_ex(a, "system_time", &tv)
                                         ? (uint64_t)json_object_get_int64(tv) : 0));
    } else {
        if (ok)
            fprintf(out, "%s: %s %s %s\n", file, jstr(a, K_BUCKET), jstr(a, K_CODE), jstr(a, K_NAME));
        else
            fprintf(out, "%s: FAILED: %s\n", file, err);
    }
}

static int cmp_bucket(const void *x, const void *y)
{
    const bucket *a = x, *b = y;
    if (a->count != b->count) return a->count > b->count ? -1 : 1;
    return strcmp(a->bucket, b->bucket);
}

static void progress(size_t done, size_t total, double t0)
{
    double el = now_s() - t0, rate = el > 0 ? (double)done / el : 0;
    double eta = rate > 0 ? (double)(total - done) / rate : 0;
    int w = 30, fill = total ? (int)((double)w * (double)done / (double)total) : w;
    char bar[64];
    for (int i = 0; i < w; i++) bar[i] = i < fill ? '#' : '.';
    bar[w] = 0;
    fprintf(stderr, "\r[%s] %zu/%zu  %.1f dumps/s  ETA %.0fs ", bar, done, total, rate, eta);
    fflush(stderr);
}

static void usage(FILE *f)
{
    fprintf(f, "usage: ntkd analyze FILE|DIR ... [--jobs N] [--format text|jsonl|csv] [-y SYMPATH]\n"
               "                    [--summary-only] [--timeout SECONDS]\n"
               "  --json is --format jsonl. Default --jobs: the core count; --timeout: 60 s per dump.\n");
}

int batch_main(int argc, char **argv)
{
    long jobs = sysconf(_SC_NPROCESSORS_ONLN);
    double timeout = 60;
    int fmt = FMT_TEXT;
    bool summary_only = false;
    const char *sympath = NULL;
    static const struct option lo[] = {
        {"jobs", required_argument, 0, 'j'}, {"format", required_argument, 0, 'f'},
        {"summary-only", no_argument, 0, 'S'}, {"timeout", required_argument, 0, 'T'},
        {"json", no_argument, 0, 'J'}, {"help", no_argument, 0, 'h'}, {0, 0, 0, 0}};
    int c;
    optind = 1;
    while ((c = getopt_long(argc, argv, "j:y:h", lo, NULL)) != -1) {
        char *end;
        switch (c) {
        case 'j':
            jobs = strtol(optarg, &end, 10);
            if (*end || jobs < 1 || jobs > 1024) {
                fprintf(stderr, "ntkd analyze: --jobs: expected 1..1024: %s\n", optarg);
                return 2;
            }
            break;
        case 'T':
            timeout = strtod(optarg, &end);
            if (*end || !(timeout > 0)) {
                fprintf(stderr, "ntkd analyze: --timeout: expected seconds > 0: %s\n", optarg);
                return 2;
            }
            break;
        case 'f':
            if (!strcmp(optarg, "text")) fmt = FMT_TEXT;
            else if (!strcmp(optarg, "jsonl")) fmt = FMT_JSONL;
            else if (!strcmp(optarg, "csv")) fmt = FMT_CSV;
            else {
                fprintf(stderr, "ntkd analyze: --format: text, jsonl or csv: %s\n", optarg);
                return 2;
            }
            break;
        case 'y': sympath = optarg; break;
        case 'J': fmt = FMT_JSONL; break; /* the issue's `ntkd analyze --json` */
        case 'S': summary_only = true; break;
        case 'h': usage(stdout); return 0;
        default: usage(stderr); return 2;
        }
    }
    if (optind >= argc) {
        usage(stderr);
        return 2;
    }
    if (jobs < 1) jobs = 1;
    if (!sympath) sympath = getenv("_NT_SYMBOL_PATH");
    strvec files = {0};
    for (int i = optind; i < argc; i++) expand(argv[i], 0, &files);
    size_t total = files.n;
    result *res = calloc(total ? total : 1, sizeof *res);
    slot *slots = calloc((size_t)jobs, sizeof *slots);
    struct pollfd *pfd = calloc((size_t)jobs, sizeof *pfd);
    if (!res || !slots || !pfd) {
        fprintf(stderr, "ntkd analyze: out of memory\n");
        return 1;
    }
    for (long i = 0; i < jobs; i++) slots[i].pid = 0;
    bool tty = isatty(STDERR_FILENO);
    FILE *out = stdout;
    if (fmt == FMT_CSV && !summary_only) {
        for (size_t i = 0; i < sizeof CSV_COLS / sizeof *CSV_COLS; i++)
            fprintf(out, "%s%s", i ? "," : "", CSV_COLS[i]);
        fputc('\n', out);
    }
    size_t next = 0, done = 0;
    double t0 = now_s();
    while (done < total) {
        /* start workers in free slots */
        for (long s = 0; s < jobs && next < total; s++) {
            if (slots[s].pid) continue;
            int p[2];
            if (pipe(p) != 0) break;
            fflush(NULL);
            pid_t pid = fork();
            if (pid < 0) {
                close(p[0]);
                close(p[1]);
                break;
            }
            if (pid == 0) {
                close(p[0]);
                for (long k = 0; k < jobs; k++)
                    if (slots[k].pid) close(slots[k].fd);
                worker(files.v[next], sympath, p[1]);
                close(p[1]);
                _exit(0);
            }
            close(p[1]);
            slots[s] = (slot){.pid = pid, .fd = p[0], .idx = next, .start = now_s()};
            next++;
        }
        int np = 0;
        long map[1024];
        for (long s = 0; s < jobs; s++)
            if (slots[s].pid) {
                pfd[np] = (struct pollfd){.fd = slots[s].fd, .events = POLLIN};
                map[np++] = s;
            }
        if (!np) break;
        int r = poll(pfd, (nfds_t)np, tty ? 200 : 500);
        if (r < 0 && errno != EINTR) break;
        for (int k = 0; k < np; k++) {
            slot *sl = &slots[map[k]];
            bool eof = false;
            if (r > 0 && (pfd[k].revents & (POLLIN | POLLHUP | POLLERR))) {
                char tmp[65536];
                ssize_t n = read(sl->fd, tmp, sizeof tmp);
                if (n <= 0) {
                    if (!(n < 0 && errno == EINTR)) eof = true;
                } else if (sl->len + (size_t)n < (64u << 20)) {
                    if (sl->len + (size_t)n + 1 > sl->cap) {
                        size_t nc = (sl->len + (size_t)n + 1) * 2;
                        char *nb = realloc(sl->buf, nc);
                        if (nb) {
                            sl->buf = nb;
                            sl->cap = nc;
                        }
                    }
                    if (sl->len + (size_t)n + 1 <= sl->cap) {
                        memcpy(sl->buf + sl->len, tmp, (size_t)n);
                        sl->len += (size_t)n;
                        sl->buf[sl->len] = 0;
                    }
                }
            }
            if (!eof && !sl->timed_out && now_s() - sl->start > timeout) {
                kill(sl->pid, SIGKILL);
                sl->timed_out = true;
            }
            if (!eof) continue;
            close(sl->fd);
            int status = 0;
            while (waitpid(sl->pid, &status, 0) < 0 && errno == EINTR) {}
            const char *file = files.v[sl->idx];
            json_object *msg = sl->len ? json_tokener_parse(sl->buf) : NULL;
            if (!msg || !json_object_is_type(msg, json_type_object)) {
                if (msg) json_object_put(msg);
                char e[160];
                if (sl->timed_out)
                    snprintf(e, sizeof e, "analysis timed out after %g s (worker killed)", timeout);
                else if (WIFSIGNALED(status))
                    snprintf(e, sizeof e, "worker crashed: signal %d (%s)", WTERMSIG(status),
                             strsignal(WTERMSIG(status)));
                else
                    snprintf(e, sizeof e, "worker exited with status %d and no result",
                             WIFEXITED(status) ? WEXITSTATUS(status) : -1);
                msg = json_object_new_object();
                json_object_object_add(msg, "ok", json_object_new_boolean(0));
                json_object_object_add(msg, "error", json_object_new_string(e));
            }
            result *rs = &res[sl->idx];
            json_object *okv, *ev, *a = NULL, *tv;
            rs->done = true;
            rs->ok = json_object_object_get_ex(msg, "ok", &okv) && json_object_get_boolean(okv);
            json_object_object_get_ex(msg, "analysis", &a);
            if (rs->ok) {
                const char *b = jstr(a, K_BUCKET);
                rs->bucket = strdup(*b ? b : "(no bucket)");
                if (a && json_object_object_get_ex(a, "system_time", &tv))
                    rs->systime = (uint64_t)json_object_get_int64(tv);
            } else {
                rs->error = strdup(json_object_object_get_ex(msg, "error", &ev) ? json_object_get_string(ev) : "?");
            }
            if (!summary_only) {
                if (tty) fputs("\r\033[K", stderr);
                emit_one(out, fmt, file, msg);
                fflush(out);
            }
            json_object_put(msg);
            free(sl->buf);
            *sl = (slot){0};
            done++;
        }
        if (tty) progress(done, total, t0);
    }
    if (tty) fputs("\r\033[K", stderr);
    double elapsed = now_s() - t0;

    /* summary grouped by bucket; examples are the first files in input order */
    bucket *bk = calloc(total ? total : 1, sizeof *bk);
    size_t nb = 0, nfail = 0;
    for (size_t i = 0; bk && i < total; i++) {
        if (!res[i].done || !res[i].ok) {
            nfail++;
            continue;
        }
        size_t j = 0;
        while (j < nb && strcmp(bk[j].bucket, res[i].bucket)) j++;
        if (j == nb) bk[nb++] = (bucket){.bucket = res[i].bucket, .first = UINT64_MAX};
        bucket *b = &bk[j];
        b->count++;
        if (res[i].systime) {
            if (res[i].systime < b->first) b->first = res[i].systime;
            if (res[i].systime > b->last) b->last = res[i].systime;
        }
        if (b->nex < 3) b->ex[b->nex++] = i;
    }
    if (nb) qsort(bk, nb, sizeof *bk, cmp_bucket);
    FILE *so = fmt == FMT_CSV ? stderr : stdout;
    if (fmt == FMT_JSONL) {
        json_object *s = json_object_new_object(), *arr = json_object_new_array(), *fa = json_object_new_array();
        json_object_object_add(s, "total", json_object_new_int64((int64_t)total));
        json_object_object_add(s, "analysed", json_object_new_int64((int64_t)(total - nfail)));
        json_object_object_add(s, "failed_count", json_object_new_int64((int64_t)nfail));
        for (size_t j = 0; j < nb; j++) {
            json_object *o = json_object_new_object(), *ex = json_object_new_array();
            char t1[64], t2[64];
            fmt_filetime(bk[j].first == UINT64_MAX ? 0 : bk[j].first, t1, sizeof t1);
            fmt_filetime(bk[j].last, t2, sizeof t2);
            json_object_object_add(o, "failure_bucket_id", json_object_new_string(bk[j].bucket));
            json_object_object_add(o, "count", json_object_new_int64((int64_t)bk[j].count));
            json_object_object_add(o, "first", json_object_new_string(t1));
            json_object_object_add(o, "last", json_object_new_string(t2));
            for (size_t e = 0; e < bk[j].nex; e++) json_object_array_add(ex, json_object_new_string(files.v[bk[j].ex[e]]));
            json_object_object_add(o, "examples", ex);
            json_object_array_add(arr, o);
        }
        for (size_t i = 0; i < total; i++)
            if (!res[i].ok) {
                json_object *o = json_object_new_object();
                json_object_object_add(o, "file", json_object_new_string(files.v[i]));
                json_object_object_add(o, "error", json_object_new_string(res[i].error ? res[i].error : "not analysed"));
                json_object_array_add(fa, o);
            }
        json_object_object_add(s, "buckets", arr);
        json_object_object_add(s, "failed", fa);
        json_object *w = json_object_new_object();
        json_object_object_add(w, "summary", s);
        fprintf(so, "%s\n", json_object_to_json_string_ext(w, JSON_C_TO_STRING_PLAIN));
        json_object_put(w);
    } else {
        fprintf(so, "%sSummary: %zu dumps, %zu analysed, %zu failed, %.2f s\n", summary_only ? "" : "\n",
                total, total - nfail, nfail, elapsed);
        fprintf(so, "Buckets (by count):\n");
        for (size_t j = 0; j < nb; j++) {
            char t1[64], t2[64];
            fmt_filetime(bk[j].first == UINT64_MAX ? 0 : bk[j].first, t1, sizeof t1);
            fmt_filetime(bk[j].last, t2, sizeof t2);
            fprintf(so, "  %6zu  %s\n          first: %s  last: %s\n", bk[j].count, bk[j].bucket, t1, t2);
            for (size_t e = 0; e < bk[j].nex; e++) fprintf(so, "          e.g. %s\n", files.v[bk[j].ex[e]]);
        }
        if (nfail) {
            fprintf(so, "Failed (%zu):\n", nfail);
            for (size_t i = 0; i < total; i++)
                if (!res[i].ok) fprintf(so, "  %s: %s\n", files.v[i], res[i].error ? res[i].error : "not analysed");
        }
    }
    for (size_t i = 0; i < total; i++) {
        free(res[i].bucket);
        free(res[i].error);
        free(files.v[i]);
    }
    free(files.v);
    free(res);
    free(bk);
    free(slots);
    free(pfd);
    return 0;
}
