/* cmd_eval.c: `?` and `.formats`, in WinDbg's shapes.
 *
 *   ? fffffa804b729790 + 0xa0
 *   Evaluate expression: -6046048151504 = fffffa80`4b729830
 *
 * 32-bit targets show 32-bit values ("Evaluate expression: 5507486 = 0054099e"); the value is
 * then treated as sign-extended from 32 bits where WinDbg does so (the signed decimal, and the
 * high half that `.formats` shows as a float). Times are printed in UTC (WinDbg uses the
 * debugger machine's local time zone). */
#include <math.h>
#include <stdlib.h>
#include <stdio.h>
#include <time.h>

#include "cmd/cmd.h"
#include "expr/expr.h"

/* Evaluates the whole argument as one expression; prints the error otherwise. */
static bool eval_all(nk_cmd_env *e, const char *a, uint64_t *v)
{
    char err[256];
    const char *end;
    const char *s = nk_skip_ws(a);
    if (!*s) {
        nk_cmd_error(e->o, "%s: an expression is needed (%s expression)", e->name, e->name);
        return false;
    }
    if (nk_eval(e->t, s, &end, v, err, sizeof err) != NTKD_OK) {
        nk_cmd_error(e->o, "%s", err);
        return false;
    }
    end = nk_skip_ws(end);
    if (*end) {
        nk_cmd_error(e->o, "Syntax error at '%s'", end);
        return false;
    }
    return true;
}

nk_status cmd_eval(nk_cmd_env *e, const char *a)
{
    uint64_t v;
    if (!eval_all(e, a, &v)) return NTKD_E_ARG;
    char hex[24];
    int64_t sv;
    if (e->t->d.is64) {
        sv = (int64_t)v;
        nk_fmt_addr64(hex, v);
    } else {
        sv = (int32_t)(uint32_t)v;
        snprintf(hex, sizeof hex, "%08x", (unsigned)v);
    }
    nk_printf(e->o, "Evaluate expression: %lld = %s\n", (long long)sv, hex);
    nk_json_u64(e->o, NULL, "value", e->t->d.is64 ? v : (uint32_t)v);
    nk_json_int(e->o, NULL, "decimal", sv);
    nk_json_str(e->o, NULL, "hex", hex);
    return NTKD_OK;
}

/* ---- .formats ------------------------------------------------------------------------- */

/* %g with the three-digit exponent and the NaN/infinity spellings of Microsoft's C runtime,
 * as WinDbg prints them: "6.36908e-022", "-1.#QNAN", "1.#INF". */
static void fmt_float(char *buf, size_t len, double d, bool quiet_nan)
{
    if (isnan(d)) {
        snprintf(buf, len, "%s1.#%s", signbit(d) ? "-" : "", quiet_nan ? "QNAN" : "SNAN");
        return;
    }
    if (isinf(d)) {
        snprintf(buf, len, "%s1.#INF", d < 0 ? "-" : "");
        return;
    }
    char tmp[40];
    snprintf(tmp, sizeof tmp, "%g", d);
    char *ep = strchr(tmp, 'e');
    if (!ep) {
        snprintf(buf, len, "%s", tmp);
        return;
    }
    /* e-22 -> e-022 */
    char sign = ep[1];
    const char *digits = ep + 2;
    *ep = 0;
    snprintf(buf, len, "%se%c%03d", tmp, sign, atoi(digits));
}

static float f32_of(uint32_t bits)
{
    float f;
    memcpy(&f, &bits, sizeof f);
    return f;
}

static bool f32_quiet(uint32_t bits) { return (bits >> 22) & 1; }

/* "Thu Jan  1 05:30:34 1970" for a time_t; false when out of range. */
static bool fmt_ctime(char *buf, size_t len, int64_t secs, const char *frac)
{
    time_t tt = (time_t)secs;
    struct tm tm;
    if ((int64_t)tt != secs || !gmtime_r(&tt, &tm)) return false;
    static const char *const days[] = {"Sun", "Mon", "Tue", "Wed", "Thu", "Fri", "Sat"};
    static const char *const mons[] = {"Jan", "Feb", "Mar", "Apr", "May", "Jun",
                                       "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"};
    if (tm.tm_wday < 0 || tm.tm_wday > 6 || tm.tm_mon < 0 || tm.tm_mon > 11) return false;
    snprintf(buf, len, "%s %s %2d %02d:%02d:%02d%s %lld", days[tm.tm_wday], mons[tm.tm_mon],
             tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec, frac, (long long)tm.tm_year + 1900);
    return true;
}

nk_status cmd_formats(nk_cmd_env *e, const char *a)
{
    uint64_t v;
    if (!eval_all(e, a, &v)) return NTKD_E_ARG;
    nk_out *o = e->o;
    bool is64 = e->t->d.is64;
    /* 32-bit targets: a 32-bit value, sign-extended where WinDbg shows 64 bits of it */
    uint64_t full = is64 ? v : (uint64_t)(int64_t)(int32_t)(uint32_t)v;
    unsigned nbytes = is64 ? 8 : 4;

    char hex[24], oct[32], bin[80], chars[9], tbuf[80], flo[80], fhi[80], dbl[80];
    int64_t sdec;
    uint64_t udec;
    if (is64) {
        nk_fmt_addr64(hex, v);
        sdec = (int64_t)v;
        udec = v;
        snprintf(oct, sizeof oct, "%022llo", (unsigned long long)v);
    } else {
        snprintf(hex, sizeof hex, "%08x", (unsigned)v);
        sdec = (int32_t)(uint32_t)v;
        udec = (uint32_t)v;
        snprintf(oct, sizeof oct, "%011o", (unsigned)v);
    }
    size_t bn = 0;
    for (int byte = (int)nbytes - 1; byte >= 0; byte--) {
        uint8_t b = (uint8_t)(v >> (8 * byte));
        for (int bit = 7; bit >= 0; bit--) bin[bn++] = (char)('0' + ((b >> bit) & 1));
        if (byte) bin[bn++] = ' ';
    }
    bin[bn] = 0;
    for (unsigned i = 0; i < nbytes; i++) {
        uint8_t b = (uint8_t)(v >> (8 * (nbytes - 1 - i)));
        chars[i] = b >= 0x20 && b < 0x7f ? (char)b : '.';
    }
    chars[nbytes] = 0;

    /* Time: a 32-bit value is a C runtime time_t; a wider one is a FILETIME. */
    if (!is64 || v <= 0xffffffffull) {
        int64_t secs = is64 ? (int64_t)v : (int64_t)(int32_t)(uint32_t)v;
        if (secs < 0 || !fmt_ctime(tbuf, sizeof tbuf, secs, ""))
            snprintf(tbuf, sizeof tbuf, "***** Invalid");
    } else if ((int64_t)v < 0) {
        snprintf(tbuf, sizeof tbuf, "***** Invalid FILETIME");
    } else {
        int64_t secs = (int64_t)(v / 10000000ull) - 11644473600ll;
        char frac[8];
        snprintf(frac, sizeof frac, ".%03u", (unsigned)((v / 10000ull) % 1000));
        if (fmt_ctime(tbuf, sizeof tbuf, secs, frac)) {
            size_t n = strlen(tbuf);
            snprintf(tbuf + n, sizeof tbuf - n, " (UTC + 0:00)");
        } else {
            snprintf(tbuf, sizeof tbuf, "***** Invalid FILETIME");
        }
    }

    uint32_t lo = (uint32_t)full, hi = (uint32_t)(full >> 32);
    fmt_float(flo, sizeof flo, f32_of(lo), f32_quiet(lo));
    fmt_float(fhi, sizeof fhi, f32_of(hi), f32_quiet(hi));
    double d;
    memcpy(&d, &full, sizeof d);
    fmt_float(dbl, sizeof dbl, d, (full >> 51) & 1);

    nk_printf(o, "Evaluate expression:\n");
    nk_printf(o, "  Hex:     %s\n", hex);
    nk_printf(o, "  Decimal: %lld\n", (long long)sdec);
    nk_printf(o, "  Decimal (unsigned) : %llu\n", (unsigned long long)udec);
    nk_printf(o, "  Octal:   %s\n", oct);
    nk_printf(o, "  Binary:  %s\n", bin);
    nk_printf(o, "  Chars:   %s\n", chars);
    nk_printf(o, "  Time:    %s\n", tbuf);
    nk_printf(o, "  Float:   low %s high %s\n", flo, fhi);
    nk_printf(o, "  Double:  %s\n", dbl);

    nk_json_u64(o, NULL, "value", is64 ? v : (uint32_t)v);
    nk_json_str(o, NULL, "hex", hex);
    nk_json_int(o, NULL, "decimal", sdec);
    char ubuf[24];
    snprintf(ubuf, sizeof ubuf, "%llu", (unsigned long long)udec);
    nk_json_str(o, NULL, "unsigned", ubuf);
    nk_json_str(o, NULL, "octal", oct);
    nk_json_str(o, NULL, "binary", bin);
    nk_json_str(o, NULL, "chars", chars);
    nk_json_str(o, NULL, "time", tbuf);
    nk_json_str(o, NULL, "float_low", flo);
    nk_json_str(o, NULL, "float_high", fhi);
    nk_json_str(o, NULL, "double", dbl);
    return NTKD_OK;
}
