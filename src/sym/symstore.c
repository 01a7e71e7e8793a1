/* symstore.c: symbol paths (WinDbg's _NT_SYMBOL_PATH syntax) and symbol stores.
 *
 * A lookup of (name, key) walks the path's elements in order. For a directory or cache it
 * tries, in the store layout `dir/name/KEY/name` (two-tier `dir/na/name/KEY/name` when the
 * store holds index2.txt), the file itself, its CAB-compressed form (last character '_'),
 * and a `file.ptr` redirection; a plain directory is then tried flat (`dir/name`). For a
 * server it tries its downstream cache, then GETs the three forms over http(s) with
 * libcurl into `cache/name/KEY/` through a temporary `.partial.<pid>` file that is renamed
 * into place only once the file's identity has been checked.
 *
 * Every file accepted is checked against the key: a PDB's GUID and age (the age of the PDB
 * info stream or of the DBI stream: symbol servers key public PDBs by either), an image's
 * TimeDateStamp and SizeOfImage. A candidate that does not match is skipped (local) or
 * deleted (downloaded or decompressed by us): the cache never keeps a partial or mismatched
 * file. Every location tried is logged with its outcome, as WinDbg's `!sym noisy` prints it.
 *
 * Network: libcurl is only initialised when an element names a server. Only http and https
 * are allowed, for the first request and for redirects.
 *
 * Inputs are hostile: names are single path components without '/', '\\' or "..", keys are
 * hex of the length the file kind needs, every path is bounded, file.ptr contents are capped,
 * downloads and decompression are bounded in size. */
#include "sym/sym.h"

#include <curl/curl.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <pwd.h>
#include <stdio.h>
#include <stdlib.h>
#include <strings.h>
#include <sys/stat.h>
#include <sys/types.h>
#include <time.h>
#include <unistd.h>

#include "image/pe.h"
#include "pdb/pdb.h"
#include "sym/cab.h"

#define SS_MAX_PATH 4096         /* any path or URL we build */
#define SS_MAX_NAME 255          /* a file name */
#define SS_MAX_TEXT (64 * 1024)  /* a whole symbol path */
#define SS_MAX_ELEMS 256         /* elements of a symbol path */
#define SS_MAX_PARTS 16          /* '*'-separated parts of one element */
#define SS_MAX_PTR 4096          /* bytes of a file.ptr */
#define SS_MAX_DIRSCAN 200000    /* entries read when looking a name up case-insensitively */
#define SS_MAX_DOWNLOAD ((uint64_t)4 << 30) /* bytes of one download */

#define SS_USER_AGENT "ntkd/0.1 (Microsoft-Symbol-Server compatible)"
#define SS_CONNECT_TIMEOUT 15L   /* seconds */
#define SS_LOW_SPEED_TIME 30L    /* abort when under 1 byte/s for this many seconds */

/* ---- symbol path ----------------------------------------------------------------------- */

static bool ss_is_url(const char *s)
{
    return strncasecmp(s, "http://", 7) == 0 || strncasecmp(s, "https://", 8) == 0;
}

static bool ss_is_space(char c) { return c == ' ' || c == '\t' || c == '\r' || c == '\n'; }

/* Trimmed copy of s[0..n); NULL on allocation failure. */
static char *ss_trimdup(const char *s, size_t n)
{
    while (n && ss_is_space(*s)) s++, n--;
    while (n && ss_is_space(s[n - 1])) n--;
    char *r = malloc(n + 1);
    if (!r) return NULL;
    memcpy(r, s, n);
    r[n] = 0;
    return r;
}

static bool ss_clean_text(const char *s)
{
    if (strlen(s) >= SS_MAX_PATH) return false;
    for (const unsigned char *p = (const unsigned char *)s; *p; p++)
        if (*p < 0x20 || *p == 0x7f) return false;
    return true;
}

/* A directory as written, with "~/" expanded. NULL for "" (the default cache). */
static nk_status ss_dir_dup(const char *s, char **out)
{
    *out = NULL;
    if (!*s) return NTKD_OK;
    if (!ss_clean_text(s)) return NTKD_E_ARG;
    if (s[0] == '~' && (s[1] == '/' || s[1] == 0)) {
        const char *home = getenv("HOME");
        if (home && home[0] == '/') {
            size_t n = strlen(home) + strlen(s) + 1;
            if (n >= SS_MAX_PATH) return NTKD_E_ARG;
            char *r = malloc(n);
            if (!r) return NTKD_E_NOMEM;
            snprintf(r, n, "%s%s", home, s + 1);
            *out = r;
            return NTKD_OK;
        }
    }
    *out = strdup(s);
    return *out ? NTKD_OK : NTKD_E_NOMEM;
}

static nk_status ss_add(nk_sympath *sp, nk_sympath_kind kind, char *dir, char *url)
{
    if (sp->n >= SS_MAX_ELEMS || !nk_grow((void **)&sp->elems, &sp->cap, sp->n + 1,
                                           sizeof *sp->elems)) {
        free(dir);
        free(url);
        return sp->n >= SS_MAX_ELEMS ? NTKD_E_ARG : NTKD_E_NOMEM;
    }
    sp->elems[sp->n].kind = kind;
    sp->elems[sp->n].dir = dir;
    sp->elems[sp->n].url = url;
    sp->n++;
    return NTKD_OK;
}

static nk_status ss_add_dir(nk_sympath *sp, nk_sympath_kind kind, const char *text)
{
    char *d;
    nk_status st = ss_dir_dup(text, &d);
    if (st != NTKD_OK) return st;
    if (!d && kind == NK_SP_DIR) return NTKD_OK; /* an empty store part: nothing to search */
    return ss_add(sp, kind, d, NULL);
}

/* The store parts after "srv*" (or "symsrv*dll*"): downstream stores, then a server URL or
 * a last store. "srv*url" and an empty store ("srv**url") mean the default downstream
 * store: kept as dir NULL, resolved at lookup time. */
static nk_status ss_parse_srv(nk_sympath *sp, char **parts, size_t n)
{
    if (n == 0) return NTKD_E_ARG;
    const char *last = parts[n - 1];
    if (ss_is_url(last)) {
        if (!ss_clean_text(last) || strlen(last) <= 8) return NTKD_E_ARG;
        for (const char *p = last; *p; p++)
            if (ss_is_space(*p)) return NTKD_E_ARG;
        /* Intermediate stores (srv*c1*c2*url) are searched as stores before the server. */
        for (size_t i = 1; i + 1 < n; i++) {
            nk_status st = ss_add_dir(sp, NK_SP_DIR, parts[i]);
            if (st != NTKD_OK) return st;
        }
        char *dir = NULL, *url = strdup(last);
        if (!url) return NTKD_E_NOMEM;
        if (n >= 2) {
            nk_status st = ss_dir_dup(parts[0], &dir);
            if (st != NTKD_OK) {
                free(url);
                return st;
            }
        }
        size_t ul = strlen(url);
        while (ul > 8 && url[ul - 1] == '/') url[--ul] = 0;
        return ss_add(sp, NK_SP_SERVER, dir, url);
    }
    /* No server: every part is a store tree (UNC-style stores of Windows included). */
    bool any = false;
    for (size_t i = 0; i < n; i++) {
        if (!*parts[i]) continue;
        nk_status st = ss_add_dir(sp, NK_SP_DIR, parts[i]);
        if (st != NTKD_OK) return st;
        any = true;
    }
    return any ? NTKD_OK : NTKD_E_ARG;
}

static nk_status ss_parse_elem(nk_sympath *sp, const char *e)
{
    char *parts[SS_MAX_PARTS];
    size_t n = 0;
    nk_status st = NTKD_OK;
    const char *p = e;
    for (;;) {
        const char *star = strchr(p, '*');
        size_t len = star ? (size_t)(star - p) : strlen(p);
        if (n == SS_MAX_PARTS) {
            st = NTKD_E_ARG;
            goto out;
        }
        parts[n] = ss_trimdup(p, len);
        if (!parts[n]) {
            st = NTKD_E_NOMEM;
            goto out;
        }
        n++;
        if (!star) break;
        p = star + 1;
    }
    if (n == 1) {
        if (ss_is_url(parts[0])) {
            st = ss_parse_srv(sp, parts, 1);
        } else {
            st = ss_add_dir(sp, NK_SP_DIR, parts[0]);
        }
    } else if (strcasecmp(parts[0], "srv") == 0) {
        st = ss_parse_srv(sp, parts + 1, n - 1);
    } else if (strcasecmp(parts[0], "symsrv") == 0) {
        /* symsrv*symsrv.dll*stores...: the DLL part names the Windows server library. */
        if (n < 3 || !*parts[1]) st = NTKD_E_ARG;
        else st = ss_parse_srv(sp, parts + 2, n - 2);
    } else if (strcasecmp(parts[0], "cache") == 0) {
        if (n != 2) st = NTKD_E_ARG;
        else st = ss_add_dir(sp, NK_SP_CACHE, parts[1]); /* "cache*": the default cache */
    } else {
        st = NTKD_E_ARG;
    }
out:
    for (size_t i = 0; i < n; i++) free(parts[i]);
    return st;
}

nk_status nk_sympath_parse(const char *text, nk_sympath *out)
{
    memset(out, 0, sizeof *out);
    if (!text) return NTKD_OK;
    size_t tl = strnlen(text, SS_MAX_TEXT + 1);
    if (tl > SS_MAX_TEXT) return NTKD_E_ARG;
    const char *p = text;
    for (;;) {
        const char *semi = strchr(p, ';');
        size_t len = semi ? (size_t)(semi - p) : strlen(p);
        char *e = ss_trimdup(p, len);
        if (!e) {
            nk_sympath_free(out);
            return NTKD_E_NOMEM;
        }
        if (*e) {
            nk_status st = ss_parse_elem(out, e);
            if (st != NTKD_OK) {
                free(e);
                nk_sympath_free(out);
                return st;
            }
        }
        free(e);
        if (!semi) break;
        p = semi + 1;
    }
    return NTKD_OK;
}

void nk_sympath_free(nk_sympath *sp)
{
    if (!sp) return;
    for (size_t i = 0; i < sp->n; i++) {
        free(sp->elems[i].dir);
        free(sp->elems[i].url);
    }
    free(sp->elems);
    memset(sp, 0, sizeof *sp);
}

const char *ntkd_user_cache_dir(char *buf, size_t len)
{
    if (!buf || !len) return NULL;
    const char *home = getenv("HOME");
    char pwbuf[1024];
    if (!home || home[0] != '/') {
        struct passwd pw, *res = NULL;
        if (getpwuid_r(getuid(), &pw, pwbuf, sizeof pwbuf, &res) != 0 || !res || !pw.pw_dir ||
            pw.pw_dir[0] != '/')
            return NULL;
        home = pw.pw_dir;
    }
    int n = snprintf(buf, len, "%s/.cache/ntkd", home);
    if (n < 0 || (size_t)n >= len) return NULL;
    return buf;
}

const char *nk_sympath_default_cache(char *buf, size_t len)
{
    if (!ntkd_user_cache_dir(buf, len)) return NULL;
    size_t l = strlen(buf);
    int n = snprintf(buf + l, len - l, "/symbols");
    if (n < 0 || (size_t)n >= len - l) return NULL;
    return buf;
}

/* ---- lookup state ---------------------------------------------------------------------- */

typedef enum ss_vres { SS_MATCH, SS_MISMATCH, SS_UNREADABLE } ss_vres;

typedef struct ss {
    ntkd_ctx *ctx;
    nk_strbuf *log;
    const char *name, *key;
    char cname[SS_MAX_NAME + 1]; /* compressed name: last character replaced by '_' */
    bool is_pdb;
    char guid[33];               /* PDB: GUID hex from the key (upper case) */
    uint32_t age;
    uint32_t ts, size;           /* image: TimeDateStamp, SizeOfImage */
    unsigned tried, mismatches;
    CURL *curl;                  /* created on the first server element only */
    char curl_err[CURL_ERROR_SIZE];
    char *found;
} ss;

static void ss_log(ss *s, const char *who, const char *where, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));
static void ss_log(ss *s, const char *who, const char *where, const char *fmt, ...)
{
    char msg[512];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    if (s->log) nk_sb_printf(s->log, "%s  %s - %s\n", who, where, msg);
}

static bool ss_is_hex(const char *s, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        char c = s[i];
        if (!((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F')))
            return false;
    }
    return true;
}

static uint32_t ss_hex32(const char *s, size_t n)
{
    uint32_t v = 0;
    for (size_t i = 0; i < n; i++) {
        char c = s[i];
        unsigned d = (c >= '0' && c <= '9') ? (unsigned)(c - '0')
                     : (c >= 'a' && c <= 'f') ? (unsigned)(c - 'a' + 10)
                                              : (unsigned)(c - 'A' + 10);
        v = (v << 4) | d;
    }
    return v;
}

static bool ss_ends_with(const char *s, const char *suffix)
{
    size_t a = strlen(s), b = strlen(suffix);
    return a >= b && strcasecmp(s + a - b, suffix) == 0;
}

static nk_status ss_check_args(ss *s, const char *name, const char *key)
{
    if (!name || !key) return nk_fail(s->ctx, NTKD_E_ARG, "symbol store: no file name or key");
    size_t nl = strnlen(name, SS_MAX_NAME + 1);
    if (nl == 0 || nl > SS_MAX_NAME || strcmp(name, ".") == 0 || strstr(name, "..") ||
        strchr(name, '/') || strchr(name, '\\') || strchr(name, ':'))
        return nk_fail(s->ctx, NTKD_E_ARG, "symbol store: bad file name \"%.64s\"", name);
    for (const unsigned char *p = (const unsigned char *)name; *p; p++)
        if (*p < 0x20 || *p == 0x7f || *p == '%' || *p == '?' || *p == '#')
            return nk_fail(s->ctx, NTKD_E_ARG, "symbol store: bad file name \"%.64s\"", name);
    size_t kl = strnlen(key, 64);
    s->is_pdb = ss_ends_with(name, ".pdb");
    if (s->is_pdb) {
        /* GUID (32 hex) + age (1-8 hex) */
        if (kl < 33 || kl > 40 || !ss_is_hex(key, kl))
            return nk_fail(s->ctx, NTKD_E_ARG,
                           "symbol store: %s: bad PDB key \"%.48s\" (want 32 hex GUID + hex age)",
                           name, key);
        for (int i = 0; i < 32; i++) {
            char c = key[i];
            s->guid[i] = (c >= 'a' && c <= 'f') ? (char)(c - 'a' + 'A') : c;
        }
        s->guid[32] = 0;
        s->age = ss_hex32(key + 32, kl - 32);
    } else {
        /* TimeDateStamp (8 hex) + SizeOfImage (1-8 hex) */
        if (kl < 9 || kl > 16 || !ss_is_hex(key, kl))
            return nk_fail(s->ctx, NTKD_E_ARG,
                           "symbol store: %s: bad image key \"%.48s\" (want 8 hex "
                           "TimeDateStamp + hex SizeOfImage)",
                           name, key);
        s->ts = ss_hex32(key, 8);
        s->size = ss_hex32(key + 8, kl - 8);
    }
    s->name = name;
    s->key = key;
    memcpy(s->cname, name, nl + 1);
    s->cname[nl - 1] = '_';
    return NTKD_OK;
}

/* ---- identity checks ------------------------------------------------------------------- */

/* Separate debug file header (.dbg): "DI", then TimeDateStamp at 8 and SizeOfImage at 20. */
#define DBG_SIG 0x4944
#define DBG_OFF_TS 8
#define DBG_OFF_SIZE 20

static ss_vres ss_verify(ss *s, const char *path, char *why, size_t wlen)
{
    ntkd_ctx scratch;
    scratch.errmsg[0] = 0;
    if (s->is_pdb) {
        nk_pdb *p = NULL;
        if (nk_pdb_open(&scratch, path, &p) != NTKD_OK) {
            snprintf(why, wlen, "not a readable PDB (%s)", scratch.errmsg);
            return SS_UNREADABLE;
        }
        const nk_pdb_info *in = nk_pdb_get_info(p);
        char g[33];
        nk_pdb_guid_hex(p, g);
        bool guid_ok = strcasecmp(g, s->guid) == 0;
        bool age_ok = in->age == s->age || (in->dbi_present && in->dbi_age == s->age);
        if (!guid_ok || !age_ok) {
            if (in->dbi_present && in->dbi_age != in->age)
                snprintf(why, wlen, "GUID/age mismatch (file has %s, age %X, DBI age %X)", g,
                         in->age, in->dbi_age);
            else
                snprintf(why, wlen, "GUID/age mismatch (file has %s, age %X)", g, in->age);
        }
        nk_pdb_close(p);
        return guid_ok && age_ok ? SS_MATCH : SS_MISMATCH;
    }
    nk_file f;
    if (nk_file_map(&scratch, path, &f) != NTKD_OK) {
        snprintf(why, wlen, "unreadable (%s)", scratch.errmsg);
        return SS_UNREADABLE;
    }
    uint32_t ts = 0, size = 0;
    ss_vres r = SS_UNREADABLE;
    if (f.size >= 2 && nk_le16(f.data) == DBG_SIG) {
        uint32_t a, b;
        if (nk_file_u32(&f, DBG_OFF_TS, &a) && nk_file_u32(&f, DBG_OFF_SIZE, &b)) {
            ts = a;
            size = b;
            r = SS_MISMATCH;
        } else {
            snprintf(why, wlen, "truncated .dbg header");
        }
    } else {
        nk_pe *pe = NULL;
        if (nk_pe_open_buf(&scratch, path, f.data, (size_t)f.size, &pe) == NTKD_OK) {
            const nk_pe_headers *h = nk_pe_hdr(pe);
            ts = h->timestamp;
            size = h->size_of_image;
            r = SS_MISMATCH;
            nk_pe_close(pe);
        } else {
            snprintf(why, wlen, "not a readable image (%s)", scratch.errmsg);
        }
    }
    nk_file_unmap(&f);
    if (r == SS_UNREADABLE) return r;
    if (ts == s->ts && size == s->size) return SS_MATCH;
    snprintf(why, wlen, "TimeDateStamp/SizeOfImage mismatch (file has %08X%x)", ts, size);
    return SS_MISMATCH;
}

/* ---- local files ----------------------------------------------------------------------- */

static bool ss_join(char *out, size_t len, const char *a, const char *b)
{
    size_t al = strlen(a);
    bool slash = al && a[al - 1] == '/';
    int n = snprintf(out, len, "%s%s%s", a, slash ? "" : "/", b);
    return n >= 0 && (size_t)n < len;
}

static bool ss_exists(const char *path, bool want_dir)
{
    struct stat st;
    if (stat(path, &st) != 0) return false;
    return want_dir ? S_ISDIR(st.st_mode) : S_ISREG(st.st_mode);
}

/* out = dir/comp, with comp matched case-insensitively when the exact spelling is absent
 * (Windows stores are case-insensitive; keys and names come in either case). */
static bool ss_resolve(char *out, size_t len, const char *dir, const char *comp, bool want_dir)
{
    if (!ss_join(out, len, dir, comp)) return false;
    if (ss_exists(out, want_dir)) return true;
    DIR *d = opendir(dir);
    if (!d) return false;
    bool ok = false;
    struct dirent *de;
    for (unsigned i = 0; i < SS_MAX_DIRSCAN && (de = readdir(d)) != NULL; i++) {
        if (strcasecmp(de->d_name, comp) != 0) continue;
        if (ss_join(out, len, dir, de->d_name) && ss_exists(out, want_dir)) {
            ok = true;
            break;
        }
    }
    closedir(d);
    return ok;
}

/* Creates every missing directory of `path` (mode 0755). */
static bool ss_mkdirs(const char *path)
{
    char tmp[SS_MAX_PATH];
    size_t n = strlen(path);
    if (n == 0 || n >= sizeof tmp) return false;
    memcpy(tmp, path, n + 1);
    for (size_t i = 1; i <= n; i++) {
        if (tmp[i] != '/' && tmp[i] != 0) continue;
        char c = tmp[i];
        tmp[i] = 0;
        if (mkdir(tmp, 0755) != 0 && errno != EEXIST) return false;
        tmp[i] = c;
    }
    return ss_exists(path, true);
}

/* A directory private to this user under $TMPDIR (or /tmp), used as the store for
 * decompressed copies when the path names no cache. Refused when someone else owns it, it
 * is a symbolic link, or others can write into it. */
static bool ss_private_tmp(char *out, size_t len)
{
    const char *t = getenv("TMPDIR");
    if (!t || t[0] != '/') t = "/tmp";
    char d[SS_MAX_PATH];
    int n = snprintf(d, sizeof d, "%s/ntkd-%u", t, (unsigned)geteuid());
    if (n < 0 || (size_t)n >= sizeof d) return false;
    if (mkdir(d, 0700) != 0 && errno != EEXIST) return false;
    struct stat st;
    if (lstat(d, &st) != 0 || !S_ISDIR(st.st_mode) || st.st_uid != geteuid() ||
        (st.st_mode & 077) != 0)
        return false;
    n = snprintf(out, len, "%s/symbols", d);
    return n >= 0 && (size_t)n < len;
}

/* The cache used by an element: its own directory, else the last `cache*` before it, else
 * the default cache; the private temporary store when even that is unavailable. */
static bool ss_pick_cache(const char *own, const char *cur, char *out, size_t len)
{
    const char *c = own ? own : cur;
    if (c) {
        int n = snprintf(out, len, "%s", c);
        return n >= 0 && (size_t)n < len;
    }
    if (nk_sympath_default_cache(out, len)) return true;
    return ss_private_tmp(out, len);
}

/* A Windows path ("c:\\symbols", "\\\\server\\share") given as a cache (a symbol path
 * copied from Windows) is not created in the current directory: the default cache is used. */
static bool ss_usable_cache(ss *s, const char *dir)
{
    bool win = (((dir[0] | 0x20) >= 'a' && (dir[0] | 0x20) <= 'z') && dir[1] == ':') ||
               (dir[0] == '\\' && dir[1] == '\\');
    if (win) ss_log(s, "SYMSRV:", dir, "a Windows path, the default cache is used instead");
    return !win;
}

/* Opens `final.partial.<pid>` for writing (exclusive; a stale one of the same pid goes). */
static int ss_open_partial(const char *final, char *partial, size_t len)
{
    int n = snprintf(partial, len, "%s.partial.%ld", final, (long)getpid());
    if (n < 0 || (size_t)n >= len) return -1;
    for (int i = 0; i < 2; i++) {
        int fd = open(partial, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC | O_NOFOLLOW, 0644);
        if (fd >= 0) return fd;
        if (errno != EEXIST) return -1;
        unlink(partial);
    }
    return -1;
}

/* Removes the directories name/KEY (and name/) of a cache when empty. */
static void ss_prune(const char *keydir)
{
    char tmp[SS_MAX_PATH];
    snprintf(tmp, sizeof tmp, "%s", keydir);
    if (rmdir(tmp) != 0) return;
    char *slash = strrchr(tmp, '/');
    if (slash && slash != tmp) {
        *slash = 0;
        rmdir(tmp);
    }
}

/* Verifies `partial` against the key and renames it to `final`, or deletes it. */
static bool ss_commit(ss *s, const char *partial, const char *final, const char *where,
                      const char *what_ok)
{
    char why[600];
    ss_vres v = ss_verify(s, partial, why, sizeof why);
    if (v != SS_MATCH) {
        unlink(partial);
        if (v == SS_MISMATCH) s->mismatches++;
        ss_log(s, "SYMSRV:", where, "%s, discarded", why);
        return false;
    }
    if (rename(partial, final) != 0) {
        int e = errno;
        unlink(partial);
        ss_log(s, "SYMSRV:", where, "cannot rename into the cache: %s", strerror(e));
        return false;
    }
    ss_log(s, "SYMSRV:", where, "%s", what_ok);
    s->found = strdup(final);
    return s->found != NULL;
}

/* Decompresses the cabinet file `cab_path` to `final` (through a partial file), checks it
 * and keeps it. `where` names the source in the log. */
static bool ss_decompress_file(ss *s, const char *cab_path, const char *final, const char *where)
{
    char keydir[SS_MAX_PATH];
    snprintf(keydir, sizeof keydir, "%s", final);
    char *slash = strrchr(keydir, '/');
    if (slash) *slash = 0;
    if (!ss_mkdirs(keydir)) {
        ss_log(s, "SYMSRV:", where, "cannot create %s: %s", keydir, strerror(errno));
        return false;
    }
    ntkd_ctx scratch;
    scratch.errmsg[0] = 0;
    nk_file f;
    if (nk_file_map(&scratch, cab_path, &f) != NTKD_OK) {
        ss_log(s, "SYMSRV:", where, "%s", scratch.errmsg);
        ss_prune(keydir);
        return false;
    }
    char partial[SS_MAX_PATH];
    int fd = ss_open_partial(final, partial, sizeof partial);
    if (fd < 0) {
        ss_log(s, "SYMSRV:", where, "cannot create a temporary file next to %s: %s", final,
               strerror(errno));
        nk_file_unmap(&f);
        ss_prune(keydir);
        return false;
    }
    uint64_t got = 0;
    nk_status st = nk_cab_extract_fd(&scratch, where, f.data, (size_t)f.size, s->name,
                                     NK_CAB_MAX_OUTPUT, fd, &got);
    nk_file_unmap(&f);
    if (close(fd) != 0 && st == NTKD_OK)
        st = nk_fail(&scratch, NTKD_E_IO, "%s: %s", partial, strerror(errno));
    if (st != NTKD_OK) {
        unlink(partial);
        ss_log(s, "SYMSRV:", where, "%s", scratch.errmsg);
        ss_prune(keydir);
        return false;
    }
    char okmsg[SS_MAX_PATH + 64];
    snprintf(okmsg, sizeof okmsg, "ok, decompressed to %s", final);
    bool ok = ss_commit(s, partial, final, where, okmsg);
    if (!ok) ss_prune(keydir);
    return ok;
}

/* A local file candidate: checks it and takes it. */
static bool ss_take_local(ss *s, const char *who, const char *path)
{
    char why[600];
    ss_vres v = ss_verify(s, path, why, sizeof why);
    if (v == SS_MATCH) {
        ss_log(s, who, path, "ok");
        s->found = strdup(path);
        return s->found != NULL;
    }
    if (v == SS_MISMATCH) s->mismatches++;
    ss_log(s, who, path, "%s, skipped", why);
    return false;
}

/* Reads a file.ptr (at most SS_MAX_PTR bytes) into buf, trimmed. */
static bool ss_read_small(const char *path, char *buf, size_t len)
{
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0) return false;
    size_t n = 0;
    while (n + 1 < len) {
        ssize_t r = read(fd, buf + n, len - 1 - n);
        if (r < 0 && errno == EINTR) continue;
        if (r <= 0) break;
        n += (size_t)r;
    }
    close(fd);
    buf[n] = 0;
    return true;
}

/* Splits a file.ptr's text: PATH:<p> (returns 'P') or MSG:<text> ('M'); 0 for garbage.
 * *val points into buf (trimmed, first line only). */
static char ss_parse_ptr(char *buf, const char **val)
{
    char *p = buf;
    while (ss_is_space(*p)) p++;
    char *nl = strpbrk(p, "\r\n");
    if (nl) *nl = 0;
    size_t n = strlen(p);
    while (n && ss_is_space(p[n - 1])) p[--n] = 0;
    for (char *q = p; *q; q++)
        if ((unsigned char)*q < 0x20 || *q == 0x7f) *q = '?';
    if (strncasecmp(p, "PATH:", 5) == 0) {
        *val = p + 5;
        while (ss_is_space(**val)) (*val)++;
        return **val ? 'P' : 0;
    }
    if (strncasecmp(p, "MSG:", 4) == 0) {
        *val = p + 4;
        while (ss_is_space(**val)) (*val)++;
        return 'M';
    }
    return 0;
}

/* Where the decompressed copy of a store's CAB goes: `cache/name/KEY/name`. */
static bool ss_target_in(ss *s, const char *cache, char *out, size_t len)
{
    if (!cache || !*cache) return false;
    int n = snprintf(out, len, "%s%s%s/%s/%s", cache, cache[strlen(cache) - 1] == '/' ? "" : "/",
                     s->name, s->key, s->name);
    return n >= 0 && (size_t)n < len;
}

/* A compressed file found locally: reuse an existing decompressed copy in `cache`, else
 * decompress into it. */
static bool ss_use_cab(ss *s, const char *cab_path, const char *cache)
{
    char final[SS_MAX_PATH];
    if (!cache) {
        ss_log(s, "SYMSRV:", cab_path, "no directory to decompress into, skipped");
        return false;
    }
    if (!ss_target_in(s, cache, final, sizeof final)) {
        ss_log(s, "SYMSRV:", cab_path, "cache path too long");
        return false;
    }
    if (ss_exists(final, false)) {
        char why[600];
        if (ss_verify(s, final, why, sizeof why) == SS_MATCH) {
            ss_log(s, "SYMSRV:", cab_path, "ok, decompressed copy %s", final);
            s->found = strdup(final);
            return s->found != NULL;
        }
    }
    return ss_decompress_file(s, cab_path, final, cab_path);
}

/* A store tree (dir/[na/]name/KEY/{name, nam_, file.ptr}); then, for plain directories,
 * the flat file dir/name. `cache` receives decompressed copies. */
static bool ss_local(ss *s, const char *dir, const char *cache, bool flat)
{
    char base[SS_MAX_PATH], p[SS_MAX_PATH], namedir[SS_MAX_PATH], keydir[SS_MAX_PATH];
    char shown[SS_MAX_PATH];
    if (strlen(dir) + 2 * SS_MAX_NAME + 64 >= SS_MAX_PATH) {
        ss_log(s, "SYMSRV:", dir, "path too long, skipped");
        return false;
    }
    snprintf(base, sizeof base, "%s", dir);
    /* two-tier store (symstore /3): the first two characters of the name first */
    if (ss_join(p, sizeof p, dir, "index2.txt") && ss_exists(p, false)) {
        char two[3] = { s->name[0], s->name[1] ? s->name[1] : 0, 0 };
        if (!ss_resolve(base, sizeof base, dir, two, true)) ss_join(base, sizeof base, dir, two);
    }
    bool have_keydir = ss_resolve(namedir, sizeof namedir, base, s->name, true) &&
                       ss_resolve(keydir, sizeof keydir, namedir, s->key, true);
    const char *forms[3] = { s->name, s->cname, "file.ptr" };
    for (int i = 0; i < 3; i++) {
        s->tried++;
        int n = snprintf(shown, sizeof shown, "%s%s%s/%s/%s", base,
                         base[strlen(base) - 1] == '/' ? "" : "/", s->name, s->key, forms[i]);
        if (n < 0 || (size_t)n >= sizeof shown) return false;
        if (!have_keydir || !ss_resolve(p, sizeof p, keydir, forms[i], false)) {
            ss_log(s, "SYMSRV:", shown, "not found");
            continue;
        }
        if (i == 0) {
            if (ss_take_local(s, "SYMSRV:", p)) return true;
        } else if (i == 1) {
            if (ss_use_cab(s, p, cache)) return true;
        } else {
            char buf[SS_MAX_PTR + 1];
            const char *val = NULL;
            if (!ss_read_small(p, buf, sizeof buf)) {
                ss_log(s, "SYMSRV:", p, "unreadable: %s", strerror(errno));
                continue;
            }
            char kind = ss_parse_ptr(buf, &val);
            if (kind == 'M') {
                ss_log(s, "SYMSRV:", p, "MSG: %s", val);
                continue;
            }
            if (kind != 'P') {
                ss_log(s, "SYMSRV:", p, "not a PATH: or MSG: redirection, ignored");
                continue;
            }
            char target[SS_MAX_PATH];
            if (val[0] == '/') {
                n = snprintf(target, sizeof target, "%s", val);
            } else if (strchr(val, '\\') || strchr(val, ':')) {
                ss_log(s, "SYMSRV:", p, "PATH:%s is a Windows path, not reachable", val);
                continue;
            } else {
                n = snprintf(target, sizeof target, "%s/%s", dir, val); /* relative: to the store */
            }
            if (n < 0 || (size_t)n >= sizeof target) {
                ss_log(s, "SYMSRV:", p, "PATH: too long");
                continue;
            }
            ss_log(s, "SYMSRV:", p, "PATH:%s", val);
            s->tried++;
            if (!ss_exists(target, false)) {
                ss_log(s, "SYMSRV:", target, "not found");
                continue;
            }
            size_t tl = strlen(target);
            if (tl && target[tl - 1] == '_') {
                if (ss_use_cab(s, target, cache)) return true;
            } else if (ss_take_local(s, "SYMSRV:", target)) {
                return true;
            }
        }
    }
    if (flat) {
        s->tried++;
        if (!ss_join(shown, sizeof shown, dir, s->name)) return false;
        if (ss_resolve(p, sizeof p, dir, s->name, false)) {
            if (ss_take_local(s, "DBGHELP:", p)) return true;
        } else {
            ss_log(s, "DBGHELP:", shown, "file not found");
        }
    }
    return false;
}

/* ---- downloads ------------------------------------------------------------------------- */

typedef struct ss_sink {
    int fd;            /* >= 0: write here */
    char *mem;         /* else into this buffer (file.ptr) */
    size_t mem_len, mem_cap;
    uint64_t written, max;
    bool over, io_error;
    int io_errno;
    /* progress bar */
    bool tty, shown;
    const char *label;
    struct timespec start, last;
} ss_sink;

static size_t ss_write_cb(char *data, size_t sz, size_t nm, void *user)
{
    ss_sink *k = user;
    size_t n = sz * nm;
    if ((uint64_t)n > k->max - k->written) {
        k->over = true;
        return 0;
    }
    if (k->fd >= 0) {
        size_t done = 0;
        while (done < n) {
            ssize_t w = write(k->fd, data + done, n - done);
            if (w < 0 && errno == EINTR) continue;
            if (w <= 0) {
                k->io_error = true;
                k->io_errno = w < 0 ? errno : EIO;
                return 0;
            }
            done += (size_t)w;
        }
    } else {
        if (k->mem_len + n + 1 > k->mem_cap) {
            k->over = true;
            return 0;
        }
        memcpy(k->mem + k->mem_len, data, n);
        k->mem_len += n;
        k->mem[k->mem_len] = 0;
    }
    k->written += n;
    return n;
}

static double ss_secs(const struct timespec *a, const struct timespec *b)
{
    return (double)(b->tv_sec - a->tv_sec) + (double)(b->tv_nsec - a->tv_nsec) / 1e9;
}

static void ss_human(char *buf, size_t len, double v)
{
    static const char *const units[] = { "B", "KB", "MB", "GB" };
    int u = 0;
    while (v >= 1024.0 && u < 3) v /= 1024.0, u++;
    if (u == 0) snprintf(buf, len, "%.0f %s", v, units[u]);
    else snprintf(buf, len, "%.1f %s", v, units[u]);
}

static int ss_progress_cb(void *user, curl_off_t dltotal, curl_off_t dlnow, curl_off_t ultotal,
                          curl_off_t ulnow)
{
    (void)ultotal;
    (void)ulnow;
    ss_sink *k = user;
    if (!k->tty || dlnow <= 0) return 0;
    struct timespec now;
    clock_gettime(CLOCK_MONOTONIC, &now);
    if (k->shown && ss_secs(&k->last, &now) < 0.2) return 0;
    k->last = now;
    double el = ss_secs(&k->start, &now);
    char a[32], b[32], r[40];
    ss_human(a, sizeof a, (double)dlnow);
    if (el >= 0.05) {
        ss_human(r, sizeof r - 3, (double)dlnow / el);
        strcat(r, "/s");
    } else {
        snprintf(r, sizeof r, "-- B/s");
    }
    if (dltotal > 0) {
        ss_human(b, sizeof b, (double)dltotal);
        fprintf(stderr, "\r%s: %s / %s (%3d%%) %s\033[K", k->label, a, b,
                (int)(dlnow * 100 / dltotal), r);
    } else {
        fprintf(stderr, "\r%s: %s %s\033[K", k->label, a, r);
    }
    fflush(stderr);
    k->shown = true;
    return 0;
}

typedef enum ss_get { SS_GET_OK, SS_GET_HTTP, SS_GET_FAIL, SS_GET_DEAD } ss_get;

/* GETs `url` into the sink. SS_GET_HTTP: the server answered with an error status (*code);
 * SS_GET_DEAD: the server cannot be reached (no use trying other forms); SS_GET_FAIL:
 * another failure (why says it). */
static ss_get ss_http(ss *s, const char *url, ss_sink *k, long *code, char *why, size_t wlen)
{
    CURL *c = s->curl;
    *code = 0;
    why[0] = 0;
    s->curl_err[0] = 0;
    curl_easy_setopt(c, CURLOPT_URL, url);
    curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, ss_write_cb);
    curl_easy_setopt(c, CURLOPT_WRITEDATA, k);
    curl_easy_setopt(c, CURLOPT_XFERINFOFUNCTION, ss_progress_cb);
    curl_easy_setopt(c, CURLOPT_XFERINFODATA, k);
    curl_easy_setopt(c, CURLOPT_NOPROGRESS, k->tty ? 0L : 1L);
    curl_easy_setopt(c, CURLOPT_MAXFILESIZE_LARGE, (curl_off_t)k->max);
    clock_gettime(CLOCK_MONOTONIC, &k->start);
    k->last = k->start;
    CURLcode rc = curl_easy_perform(c);
    if (k->shown) {
        fprintf(stderr, "\r\033[K");
        fflush(stderr);
        k->shown = false;
    }
    curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, code);
    if (rc == CURLE_OK) {
        if (*code >= 400) return SS_GET_HTTP; /* not reached with FAILONERROR */
        return SS_GET_OK;
    }
    if (rc == CURLE_HTTP_RETURNED_ERROR) return SS_GET_HTTP;
    if (k->over || rc == CURLE_FILESIZE_EXCEEDED) {
        snprintf(why, wlen, "larger than %llu bytes, refused", (unsigned long long)k->max);
        return SS_GET_FAIL;
    }
    if (k->io_error) {
        snprintf(why, wlen, "cannot write the cache file: %s", strerror(k->io_errno));
        return SS_GET_FAIL;
    }
    const char *msg = s->curl_err[0] ? s->curl_err : curl_easy_strerror(rc);
    if (rc == CURLE_PARTIAL_FILE)
        snprintf(why, wlen, "truncated body after %llu bytes (%s)",
                 (unsigned long long)k->written, msg);
    else
        snprintf(why, wlen, "transfer failed: %s", msg);
    switch (rc) {
    case CURLE_COULDNT_RESOLVE_HOST:
    case CURLE_COULDNT_RESOLVE_PROXY:
    case CURLE_COULDNT_CONNECT:
    case CURLE_OPERATION_TIMEDOUT:
    case CURLE_SSL_CONNECT_ERROR:
    case CURLE_PEER_FAILED_VERIFICATION:
    case CURLE_UNSUPPORTED_PROTOCOL:
        return SS_GET_DEAD;
    default:
        return SS_GET_FAIL;
    }
}

static bool ss_curl_init(ss *s)
{
    if (s->curl) return true;
    s->curl = curl_easy_init();
    if (!s->curl) return false;
    CURL *c = s->curl;
    curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(c, CURLOPT_FOLLOWLOCATION, 1L);
    curl_easy_setopt(c, CURLOPT_MAXREDIRS, 10L);
    curl_easy_setopt(c, CURLOPT_FAILONERROR, 1L);
    curl_easy_setopt(c, CURLOPT_CONNECTTIMEOUT, SS_CONNECT_TIMEOUT);
    curl_easy_setopt(c, CURLOPT_LOW_SPEED_LIMIT, 1L);
    curl_easy_setopt(c, CURLOPT_LOW_SPEED_TIME, SS_LOW_SPEED_TIME);
    curl_easy_setopt(c, CURLOPT_USERAGENT, SS_USER_AGENT);
    curl_easy_setopt(c, CURLOPT_ERRORBUFFER, s->curl_err);
#if LIBCURL_VERSION_NUM >= 0x075500
    curl_easy_setopt(c, CURLOPT_PROTOCOLS_STR, "http,https");
    curl_easy_setopt(c, CURLOPT_REDIR_PROTOCOLS_STR, "http,https");
#else
    curl_easy_setopt(c, CURLOPT_PROTOCOLS, (long)(CURLPROTO_HTTP | CURLPROTO_HTTPS));
    curl_easy_setopt(c, CURLOPT_REDIR_PROTOCOLS, (long)(CURLPROTO_HTTP | CURLPROTO_HTTPS));
#endif
    return true;
}

/* url/name/KEY/<form>, the name parts percent-escaped. */
static bool ss_url(ss *s, const char *base, const char *form, char *out, size_t len)
{
    char *en = curl_easy_escape(s->curl, s->name, 0);
    char *ef = curl_easy_escape(s->curl, form, 0);
    bool ok = false;
    if (en && ef) {
        int n = snprintf(out, len, "%s/%s/%s/%s", base, en, s->key, ef);
        ok = n >= 0 && (size_t)n < len;
    }
    curl_free(en);
    curl_free(ef);
    return ok;
}

/* Downloads `url` to `final` (compressed: through the CAB decompressor) and keeps it when
 * its identity matches. *dead is set when the server is unreachable. */
static bool ss_fetch(ss *s, const char *url, bool compressed, const char *final, bool *dead,
                     bool *http404)
{
    *dead = false;
    if (http404) *http404 = false;
    char keydir[SS_MAX_PATH];
    snprintf(keydir, sizeof keydir, "%s", final);
    char *slash = strrchr(keydir, '/');
    if (slash) *slash = 0;
    if (!ss_mkdirs(keydir)) {
        ss_log(s, "SYMSRV:", url, "cannot create %s: %s", keydir, strerror(errno));
        return false;
    }
    /* the compressed download goes next to the final file, as name_.partial.<pid> */
    char dlfinal[SS_MAX_PATH], partial[SS_MAX_PATH];
    int n = snprintf(dlfinal, sizeof dlfinal, "%s/%s", keydir, compressed ? s->cname : s->name);
    if (n < 0 || (size_t)n >= sizeof dlfinal) return false;
    int fd = ss_open_partial(dlfinal, partial, sizeof partial);
    if (fd < 0) {
        ss_log(s, "SYMSRV:", url, "cannot create a temporary file in %s: %s", keydir,
               strerror(errno));
        ss_prune(keydir);
        return false;
    }
    ss_sink k;
    memset(&k, 0, sizeof k);
    k.fd = fd;
    k.max = SS_MAX_DOWNLOAD;
    k.tty = isatty(STDERR_FILENO) == 1;
    k.label = compressed ? s->cname : s->name;
    long code = 0;
    char why[CURL_ERROR_SIZE + 128];
    ss_get g = ss_http(s, url, &k, &code, why, sizeof why);
    if (close(fd) != 0 && g == SS_GET_OK) {
        g = SS_GET_FAIL;
        snprintf(why, sizeof why, "cannot write the cache file: %s", strerror(errno));
    }
    if (g != SS_GET_OK) {
        unlink(partial);
        ss_prune(keydir);
        if (g == SS_GET_HTTP) {
            if (code == 404 && http404) *http404 = true;
            ss_log(s, "SYMSRV:", url, "HTTP %ld", code);
        } else {
            ss_log(s, "SYMSRV:", url, "%s", why);
        }
        if (g == SS_GET_DEAD) *dead = true;
        return false;
    }
    bool ok;
    if (compressed) {
        /* the downloaded cabinet -> final (verified), then the cabinet goes */
        ok = ss_decompress_file(s, partial, final, url);
        unlink(partial);
    } else {
        ok = ss_commit(s, partial, final, url, "ok");
    }
    if (!ok) ss_prune(keydir);
    return ok;
}

/* GETs a file.ptr into memory and follows a PATH: that is an http(s) URL. */
static bool ss_fetch_ptr(ss *s, const char *url, const char *final, bool *dead)
{
    char buf[SS_MAX_PTR + 1];
    ss_sink k;
    memset(&k, 0, sizeof k);
    k.fd = -1;
    k.mem = buf;
    k.mem_cap = sizeof buf;
    k.max = SS_MAX_PTR;
    buf[0] = 0;
    long code = 0;
    char why[CURL_ERROR_SIZE + 128];
    ss_get g = ss_http(s, url, &k, &code, why, sizeof why);
    *dead = g == SS_GET_DEAD;
    if (g == SS_GET_HTTP) {
        ss_log(s, "SYMSRV:", url, "HTTP %ld", code);
        return false;
    }
    if (g != SS_GET_OK) {
        ss_log(s, "SYMSRV:", url, "%s", why);
        return false;
    }
    const char *val = NULL;
    char kind = ss_parse_ptr(buf, &val);
    if (kind == 'M') {
        ss_log(s, "SYMSRV:", url, "MSG: %s", val);
        return false;
    }
    if (kind != 'P') {
        ss_log(s, "SYMSRV:", url, "not a PATH: or MSG: redirection, ignored");
        return false;
    }
    if (!ss_is_url(val) || strlen(val) >= SS_MAX_PATH) {
        ss_log(s, "SYMSRV:", url, "PATH:%.200s is not reachable from here (only http/https "
               "redirections of a server are followed)", val);
        return false;
    }
    ss_log(s, "SYMSRV:", url, "PATH:%s", val);
    char target[SS_MAX_PATH];
    snprintf(target, sizeof target, "%s", val);
    s->tried++;
    size_t tl = strlen(target);
    bool d2 = false;
    bool ok = ss_fetch(s, target, tl && target[tl - 1] == '_', final, &d2, NULL);
    return ok;
}

static bool ss_server(ss *s, const char *url, const char *cache, bool cache_searched)
{
    /* the downstream store first (unless its cache* element was just searched) */
    if (!cache_searched && ss_local(s, cache, cache, false)) return true;
    if (!ss_curl_init(s)) {
        ss_log(s, "SYMSRV:", url, "cannot initialise libcurl");
        return false;
    }
    char final[SS_MAX_PATH], u[SS_MAX_PATH];
    if (!ss_target_in(s, cache, final, sizeof final)) {
        ss_log(s, "SYMSRV:", cache, "cache path too long");
        return false;
    }
    bool dead = false, nf = false;
    s->tried++;
    if (!ss_url(s, url, s->name, u, sizeof u)) return false;
    if (ss_fetch(s, u, false, final, &dead, &nf)) return true;
    if (dead) return false;
    s->tried++;
    if (!ss_url(s, url, s->cname, u, sizeof u)) return false;
    if (ss_fetch(s, u, true, final, &dead, &nf)) return true;
    if (dead) return false;
    s->tried++;
    if (!ss_url(s, url, "file.ptr", u, sizeof u)) return false;
    return ss_fetch_ptr(s, u, final, &dead);
}

nk_status nk_symstore_find(ntkd_ctx *ctx, const nk_sympath *sp, const char *name,
                           const char *key, char **path, nk_strbuf *log)
{
    ss s;
    memset(&s, 0, sizeof s);
    s.ctx = ctx;
    s.log = log;
    if (path) *path = NULL;
    if (!sp || !path) return nk_fail(ctx, NTKD_E_ARG, "symbol store: no symbol path");
    nk_status st = ss_check_args(&s, name, key);
    if (st != NTKD_OK) return st;
    if (sp->n == 0)
        return nk_fail(ctx, NTKD_E_NOTFOUND, "%s (%s): the symbol path is empty", name, key);

    const char *cur_cache = NULL;   /* the last cache*dir seen */
    char defcache[SS_MAX_PATH];
    bool have_def = false;
    for (size_t i = 0; i < sp->n && i < SS_MAX_ELEMS && !s.found; i++) {
        const nk_sympath_elem *e = &sp->elems[i];
        char cache[SS_MAX_PATH];
        switch (e->kind) {
        case NK_SP_CACHE:
            if (e->dir && ss_usable_cache(&s, e->dir)) {
                cur_cache = e->dir;
            } else {
                if (!have_def) have_def = ss_pick_cache(NULL, NULL, defcache, sizeof defcache);
                if (!have_def) {
                    if (log) nk_sb_printf(log, "SYMSRV:  cache* - no default cache directory\n");
                    break;
                }
                cur_cache = defcache;
            }
            ss_local(&s, cur_cache, cur_cache, false);
            break;
        case NK_SP_DIR:
            if (!e->dir) break;
            if (cur_cache) {
                ss_local(&s, e->dir, cur_cache, true);
            } else {
                /* decompressed copies of CABs: a private temporary store */
                char tmpstore[SS_MAX_PATH];
                bool have_tmp = ss_private_tmp(tmpstore, sizeof tmpstore);
                ss_local(&s, e->dir, have_tmp ? tmpstore : NULL, true);
            }
            break;
        case NK_SP_SERVER:
            if (!e->url) break;
            if (!ss_pick_cache(e->dir && ss_usable_cache(&s, e->dir) ? e->dir : NULL, cur_cache,
                               cache, sizeof cache)) {
                if (log) nk_sb_printf(log, "SYMSRV:  %s - no cache directory to download into\n",
                                      e->url);
                break;
            }
            ss_server(&s, e->url, cache, cur_cache && strcmp(cache, cur_cache) == 0);
            break;
        }
    }
    if (s.curl) curl_easy_cleanup(s.curl);
    if (s.found) {
        *path = s.found;
        return NTKD_OK;
    }
    if (s.mismatches)
        return nk_fail(ctx, NTKD_E_NOTFOUND,
                       "%s (%s): not found on the symbol path (%u locations tried, %u "
                       "candidates with another identity)",
                       name, key, s.tried, s.mismatches);
    return nk_fail(ctx, NTKD_E_NOTFOUND, "%s (%s): not found on the symbol path (%u locations tried)",
                   name, key, s.tried);
}
