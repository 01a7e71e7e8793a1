/* test_bugcheck.c: the bug check knowledge base against the independent list assembled from
 * Microsoft's bug check code reference (tests/data/bugcheck_codes.tsv, made by
 * tools/mk_bugcheck_tsv.py from the documentation, not from the C table), sub-code decoding
 * against facts in the seeds, parameter decoders, and `!analyze -show` on the corpus dumps. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>
#include <json-c/json.h>

#include "analysis/bugcheck.h"
#include "ntkd/ntkd.h"

/* Codes the table holds beyond the reference index, each with a reason. None so far. */
static const uint32_t additions[] = {0};
static const size_t nadditions = 0;

typedef struct tsv_row {
    uint32_t code;
    char name[96];
    int nparams; /* -1: page not read */
} tsv_row;

static char *tsv_path(void)
{
    /* The source file's directory: tests/unit/ -> tests/data/. */
    static char buf[4096];
    const char *f = __FILE__;
    const char *slash = strrchr(f, '/');
    if (!slash) snprintf(buf, sizeof buf, "../data/bugcheck_codes.tsv");
    else snprintf(buf, sizeof buf, "%.*s/../data/bugcheck_codes.tsv", (int)(slash - f), f);
    return buf;
}

static size_t load_tsv(tsv_row **out)
{
    FILE *f = fopen(tsv_path(), "r");
    assert_non_null(f);
    size_t n = 0, cap = 512;
    tsv_row *rows = calloc(cap, sizeof *rows);
    assert_non_null(rows);
    char line[512];
    while (fgets(line, sizeof line, f)) {
        if (line[0] == '#' || line[0] == '\n') continue;
        char *code = strtok(line, "\t\n"), *name = strtok(NULL, "\t\n"), *cnt = strtok(NULL, "\t\n");
        assert_non_null(code);
        assert_non_null(name);
        assert_non_null(cnt);
        assert_true(n < cap);
        rows[n].code = (uint32_t)strtoul(code, NULL, 16);
        snprintf(rows[n].name, sizeof rows[n].name, "%s", name);
        rows[n].nparams = strcmp(cnt, "-") == 0 ? -1 : atoi(cnt);
        n++;
    }
    fclose(f);
    *out = rows;
    return n;
}

/* Number of parameters with a documented meaning, counting one when any sub-code row gives it. */
static int documented(const nk_bc_info *e)
{
    int n = 0;
    for (int i = 0; i < 4; i++) {
        uint8_t k = e->p[i].kind;
        bool doc = k != NK_BCK_RESERVED && k != NK_BCK_UNDOC;
        for (uint16_t s = 0; !doc && i > 0 && s < e->nsubs; s++) {
            uint8_t sk = e->subs[s].p[i - 1].kind;
            doc = sk != NK_BCK_RESERVED && sk != NK_BCK_UNDOC && sk != NK_BCK_INHERIT;
        }
        n += doc;
    }
    return n;
}

static void test_table_sorted(void **state)
{
    (void)state;
    assert_true(nk_bc_count() > 400);
    for (size_t i = 1; i < nk_bc_count(); i++) assert_true(nk_bc_at(i - 1)->code < nk_bc_at(i)->code);
    for (size_t i = 0; i < nk_bc_count(); i++) {
        const nk_bc_info *e = nk_bc_at(i);
        assert_non_null(e->name);
        assert_non_null(e->text);
        assert_true(strlen(e->text) > 10);
        assert_ptr_equal(nk_bc_find(e->code), e);
        /* sub-code rows are unique */
        for (uint16_t a = 0; a < e->nsubs; a++)
            for (uint16_t b = a + 1; b < e->nsubs; b++) assert_true(e->subs[a].p1 != e->subs[b].p1);
    }
    assert_null(nk_bc_find(0x12345678));
}

static void test_table_matches_reference(void **state)
{
    (void)state;
    tsv_row *rows;
    size_t n = load_tsv(&rows);
    assert_true(n >= 400);
    for (size_t i = 0; i < n; i++) {
        const nk_bc_info *e = nk_bc_find(rows[i].code);
        if (!e) fail_msg("code 0x%08X %s missing from the table", rows[i].code, rows[i].name);
        if (strcmp(e->name, rows[i].name) != 0)
            fail_msg("0x%08X: table says %s, reference says %s", rows[i].code, e->name, rows[i].name);
        if (rows[i].nparams >= 0) {
            if (e->ndoc != rows[i].nparams)
                fail_msg("0x%08X %s: %d documented parameters in the table, %d on the page", e->code, e->name,
                         e->ndoc, rows[i].nparams);
        } else {
            /* Page not read: every parameter is marked as not documented in the index. */
            if (e->ndoc != -1) fail_msg("0x%08X: ndoc %d for a page that was not read", e->code, e->ndoc);
            for (int k = 0; k < 4; k++) {
                assert_int_equal(e->p[k].kind, NK_BCK_UNDOC);
                assert_null(e->p[k].text);
            }
        }
    }
    for (size_t i = 0; i < nk_bc_count(); i++) {
        const nk_bc_info *e = nk_bc_at(i);
        bool found = false;
        for (size_t k = 0; k < n && !found; k++) found = rows[k].code == e->code;
        for (size_t k = 0; k < nadditions && !found; k++) found = additions[k] == e->code;
        if (!found) fail_msg("table code 0x%08X %s is not in the reference list", e->code, e->name);
        /* The stated count agrees with the parameter descriptions themselves. */
        const nk_bc_info *p = nk_bc_params_of(e->code);
        if (e->ndoc >= 0 && documented(p) != e->ndoc)
            fail_msg("0x%08X: ndoc %d but %d parameters described", e->code, e->ndoc, documented(p));
    }
    free(rows);
}

static void test_dpc_watchdog_subcodes(void **state)
{
    (void)state;
    /* Seed 003: ".bugcheck" shows 133 with 0, 0x283, 0x282, 0 — a single DPC ran 0x283 ticks
     * against a limit of 0x282. */
    const uint64_t p[4] = {0, 0x283, 0x282, 0};
    nk_bc_view v;
    nk_bc_describe(0x133, p, NK_ARCH_X64, &v);
    assert_non_null(v.info);
    assert_string_equal(v.info->name, "DPC_WATCHDOG_VIOLATION");
    assert_non_null(v.sub);
    assert_non_null(strstr(v.args[0].meaning, "single DPC"));
    assert_non_null(strstr(v.args[1].meaning, "Ticks the DPC has run"));
    assert_non_null(strstr(v.args[2].meaning, "allotment"));
    assert_null(v.args[3].meaning);
    assert_int_equal(v.args[1].value, 0x283);

    const uint64_t q[4] = {1, 0x1e00, 0, 0};
    nk_bc_describe(0x133, q, NK_ARCH_X64, &v);
    assert_non_null(v.sub);
    assert_non_null(strstr(v.args[0].meaning, "DISPATCH_LEVEL"));
    assert_non_null(strstr(v.args[1].meaning, "watchdog period"));
    assert_null(v.args[2].meaning);

    const uint64_t r[4] = {7, 0, 0, 0};
    nk_bc_describe(0x133, r, NK_ARCH_X64, &v);
    assert_null(v.sub);
    assert_string_equal(v.args[0].decoded, "value not in ntkd's sub-code table");
}

static void test_power_state_failure(void **state)
{
    (void)state;
    /* Seed 000: 0x9F with Arg1 4 (power transition waiting on PnP), Arg2 0x258 seconds,
     * Arg3 the thread holding the PnP lock, Arg4 nt!TRIAGE_9F_PNP. */
    const uint64_t p[4] = {4, 0x258, 0xfffffa8007005660ull, 0xfffff800053e83d0ull};
    nk_bc_view v;
    nk_bc_describe(0x9F, p, NK_ARCH_X64, &v);
    assert_string_equal(v.info->name, "DRIVER_POWER_STATE_FAILURE");
    assert_non_null(v.sub);
    assert_non_null(strstr(v.args[0].meaning, "synchronize with the Plug and Play"));
    assert_non_null(strstr(v.args[1].meaning, "seconds"));
    assert_non_null(strstr(v.args[2].meaning, "PnP lock"));
    assert_non_null(strstr(v.args[3].meaning, "TRIAGE_9F_PNP"));
    /* Arg1 3: the blocked IRP is Arg4. */
    const uint64_t q[4] = {3, 1, 2, 3};
    nk_bc_describe(0x9F, q, NK_ARCH_X64, &v);
    assert_non_null(strstr(v.args[3].meaning, "blocked IRP"));
}

static void test_apc_pending_and_verifier(void **state)
{
    (void)state;
    /* Seed 004: KERNEL_APC_PENDING_DURING_EXIT with an APC disable count of 0xffff (-1) and
     * IRQL 0; with I/O verification the same bug became 0xC4 with Arg1 0xC5. */
    const uint64_t p[4] = {0, 0xffff, 0, 1};
    nk_bc_view v;
    nk_bc_describe(0x20, p, NK_ARCH_X64, &v);
    assert_string_equal(v.info->name, "KERNEL_APC_PENDING_DURING_EXIT");
    assert_non_null(strstr(v.args[1].meaning, "APC disable count"));
    assert_int_equal(v.args[2].kind, NK_BCK_IRQL);
    assert_string_equal(v.args[2].decoded, "PASSIVE_LEVEL");

    const uint64_t q[4] = {0xc5, 0xfffff88001345610ull, 0xffff, 0};
    nk_bc_describe(0xC4, q, NK_ARCH_X64, &v);
    assert_string_equal(v.info->name, "DRIVER_VERIFIER_DETECTED_VIOLATION");
    assert_non_null(v.sub);
    assert_non_null(strstr(v.args[0].meaning, "APC disable count"));
    assert_int_equal(v.args[1].kind, NK_BCK_ADDR);
    assert_non_null(strstr(v.args[1].meaning, "dispatch routine"));
    assert_non_null(strstr(v.args[2].meaning, "APC disable count"));
    /* Common verifier sub-codes with IRQL and pool type decoding. */
    const uint64_t r[4] = {0x1, 2, 1, 0x40};
    nk_bc_describe(0xC4, r, NK_ARCH_X64, &v);
    assert_string_equal(v.args[1].decoded, "DISPATCH_LEVEL");
    assert_string_equal(v.args[2].decoded, "PagedPool");
}

static void test_m_variant_and_status(void **state)
{
    (void)state;
    /* Corpus README: triage-x64-19041 bugchecked 0x1000007E (c0000005, fffff8048b58334c,
     * ffff850429891ee8, ffff850429891720). */
    const uint64_t p[4] = {0xffffffffc0000005ull, 0xfffff8048b58334cull, 0xffff850429891ee8ull,
                           0xffff850429891720ull};
    nk_bc_view v;
    nk_bc_describe(0x1000007E, p, NK_ARCH_X64, &v);
    assert_string_equal(v.info->name, "SYSTEM_THREAD_EXCEPTION_NOT_HANDLED_M");
    assert_int_equal(v.info->same_as, 0x7E);
    assert_int_equal(v.args[0].kind, NK_BCK_STATUS);
    assert_non_null(strstr(v.args[0].decoded, "STATUS_ACCESS_VIOLATION"));
    assert_non_null(strstr(v.args[0].decoded, "access violation"));
    assert_int_equal(v.args[1].kind, NK_BCK_ADDR);
    assert_int_equal(v.args[2].kind, NK_BCK_EXR);
    assert_int_equal(v.args[3].kind, NK_BCK_CXR);
    /* 0x8E carries a trap frame; 0x3B a context record. */
    nk_bc_describe(0x1000008E, p, NK_ARCH_X64, &v);
    assert_int_equal(v.args[2].kind, NK_BCK_TRAP);
    nk_bc_describe(0x3B, p, NK_ARCH_X64, &v);
    assert_int_equal(v.args[2].kind, NK_BCK_CXR);
    /* 32-bit targets: values are 32-bit. */
    nk_bc_describe(0x1E, p, NK_ARCH_X86, &v);
    assert_int_equal(v.args[0].value, 0xc0000005u);
}

static void test_decoders(void **state)
{
    (void)state;
    const char *desc;
    assert_string_equal(nk_ntstatus_name(0xc0000005, &desc), "STATUS_ACCESS_VIOLATION");
    assert_non_null(desc);
    assert_string_equal(nk_ntstatus_name(0xc0000094, NULL), "STATUS_INTEGER_DIVIDE_BY_ZERO");
    assert_string_equal(nk_ntstatus_name(0xc000001d, NULL), "STATUS_ILLEGAL_INSTRUCTION");
    assert_string_equal(nk_ntstatus_name(0x80000003, NULL), "STATUS_BREAKPOINT");
    assert_string_equal(nk_ntstatus_name(0x80000004, NULL), "STATUS_SINGLE_STEP");
    assert_string_equal(nk_ntstatus_name(0xc0000409, NULL), "STATUS_STACK_BUFFER_OVERRUN");
    assert_string_equal(nk_ntstatus_name(0xc0000374, NULL), "STATUS_HEAP_CORRUPTION");
    assert_string_equal(nk_ntstatus_name(0xc00000fd, NULL), "STATUS_STACK_OVERFLOW");
    assert_string_equal(nk_ntstatus_name(0xc0000420, NULL), "STATUS_ASSERTION_FAILURE");
    assert_string_equal(nk_ntstatus_name(0xc000009a, NULL), "STATUS_INSUFFICIENT_RESOURCES");
    assert_string_equal(nk_ntstatus_name(0xc0000006, NULL), "STATUS_IN_PAGE_ERROR");
    assert_null(nk_ntstatus_name(0xc0dedbad, NULL));

    char b[96];
    assert_true(nk_irql_name(0, NK_ARCH_X64, b, sizeof b));
    assert_string_equal(b, "PASSIVE_LEVEL");
    assert_true(nk_irql_name(1, NK_ARCH_ARM64, b, sizeof b));
    assert_string_equal(b, "APC_LEVEL");
    assert_true(nk_irql_name(2, NK_ARCH_X86, b, sizeof b));
    assert_string_equal(b, "DISPATCH_LEVEL");
    assert_true(nk_irql_name(15, NK_ARCH_X64, b, sizeof b));
    assert_non_null(strstr(b, "HIGH_LEVEL"));
    assert_true(nk_irql_name(13, NK_ARCH_X64, b, sizeof b));
    assert_string_equal(b, "CLOCK_LEVEL");
    assert_true(nk_irql_name(31, NK_ARCH_X86, b, sizeof b));
    assert_string_equal(b, "HIGH_LEVEL");
    assert_false(nk_irql_name(16, NK_ARCH_X64, b, sizeof b));

    assert_true(nk_pool_type_name(0, b, sizeof b));
    assert_string_equal(b, "NonPagedPool");
    assert_true(nk_pool_type_name(1, b, sizeof b));
    assert_string_equal(b, "PagedPool");
    assert_true(nk_pool_type_name(512, b, sizeof b));
    assert_string_equal(b, "NonPagedPoolNx");
    assert_true(nk_pool_type_name(1 | 8, b, sizeof b));
    assert_string_equal(b, "PagedPool | POOL_QUOTA_FAIL_INSTEAD_OF_RAISE");
    assert_false(nk_pool_type_name(0x1234567, b, sizeof b));

    assert_true(nk_bc_decode(NK_BCK_ACCESS, 1, NK_ARCH_X64, b, sizeof b));
    assert_string_equal(b, "write");
    assert_true(nk_bc_decode(NK_BCK_ACCESS, 8, NK_ARCH_X64, b, sizeof b));
    assert_string_equal(b, "execute");
    assert_true(nk_bc_decode(NK_BCK_TRAPNO, 8, NK_ARCH_X64, b, sizeof b));
    assert_string_equal(b, "double fault");
    assert_true(nk_bc_decode(NK_BCK_POOLTAG, 0x656e6f4e, NK_ARCH_X64, b, sizeof b)); /* "None" */
    assert_string_equal(b, "'None'");
    assert_false(nk_bc_decode(NK_BCK_POOLTAG, 0x01020304, NK_ARCH_X64, b, sizeof b));

    /* 0x7F: the trap number selects the description. */
    const uint64_t p[4] = {8, 0, 0, 0};
    nk_bc_view v;
    nk_bc_describe(0x7F, p, NK_ARCH_X64, &v);
    assert_non_null(v.sub);
    assert_string_equal(v.args[0].decoded, "double fault");
    nk_bc_describe(0x1000007F, p, NK_ARCH_X64, &v);
    assert_non_null(v.sub);
}

/* Runs `!analyze -show` in JSON mode on a corpus dump and returns the parsed object. */
static json_object *analyze_json(const char *dump, const char *cmd, uint32_t *code_out)
{
    char path[4096];
    snprintf(path, sizeof path, "%s/dumps/kernel/%s", NTKD_CORPUS, dump);
    ntkd_ctx *ctx = ntkd_ctx_new();
    ntkd_target *t = NULL;
    if (ntkd_open(ctx, path, NULL, &t) != NTKD_OK) fail_msg("open %s: %s", path, ntkd_ctx_error(ctx));
    char *buf = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&buf, &len);
    bool quit = false;
    assert_int_equal(ntkd_execute(t, cmd, f, NTKD_OUT_JSON, &quit), NTKD_OK);
    fclose(f);
    json_object *j = json_tokener_parse(buf);
    assert_non_null(j);
    json_object *c;
    assert_true(json_object_object_get_ex(j, "code", &c));
    *code_out = (uint32_t)strtoul(json_object_get_string(c), NULL, 16);
    free(buf);
    ntkd_close(t);
    ntkd_ctx_free(ctx);
    return j;
}

static const char *jstr(json_object *o, const char *k)
{
    json_object *v;
    if (!json_object_object_get_ex(o, k, &v)) return NULL;
    return json_object_get_string(v);
}

static void test_corpus_triage_x64(void **state)
{
    (void)state;
    uint32_t code;
    json_object *j = analyze_json("triage-x64-19041.dmp", "!analyze -show", &code);
    assert_int_equal(code, 0x1000007E);
    assert_string_equal(jstr(j, "name"), "SYSTEM_THREAD_EXCEPTION_NOT_HANDLED_M");
    json_object *args;
    assert_true(json_object_object_get_ex(j, "args", &args));
    assert_int_equal(json_object_array_length(args), 4);
    json_object *a1 = json_object_array_get_idx(args, 0);
    assert_int_equal(strtoull(jstr(a1, "value"), NULL, 16) & 0xffffffffu, 0xc0000005u);
    assert_non_null(strstr(jstr(a1, "decoded"), "STATUS_ACCESS_VIOLATION"));
    /* Arg2 lies in amdppm (README: access violation in amdppm.sys). */
    json_object *a2 = json_object_array_get_idx(args, 1);
    assert_int_equal(strtoull(jstr(a2, "value"), NULL, 16), 0xfffff8048b58334cull);
    const char *d2 = jstr(a2, "decoded");
    if (d2) assert_non_null(strstr(d2, "amdppm"));
    json_object_put(j);
}

static void test_corpus_triage_arm64(void **state)
{
    (void)state;
    uint32_t code;
    json_object *j = analyze_json("triage-arm64-22000.dmp", "!analyze -show", &code);
    assert_int_equal(code, 0x1C8);
    assert_string_equal(jstr(j, "name"), "MANUALLY_INITIATED_POWER_BUTTON_HOLD");
    json_object *args;
    assert_true(json_object_object_get_ex(j, "args", &args));
    assert_non_null(strstr(jstr(json_object_array_get_idx(args, 0), "meaning"), "milliseconds"));
    assert_non_null(strstr(jstr(json_object_array_get_idx(args, 1), "meaning"), "POP_POWER_BUTTON_TRIAGE_BLOCK"));
    assert_string_equal(jstr(json_object_array_get_idx(args, 2), "meaning"), "reserved");
    json_object_put(j);
    /* An explicit code needs no bugcheck of its own. */
    j = analyze_json("triage-arm64-22000.dmp", "!analyze -show 0x20 0 ffff 0 1", &code);
    assert_int_equal(code, 0x20);
    assert_string_equal(jstr(j, "name"), "KERNEL_APC_PENDING_DURING_EXIT");
    json_object_put(j);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_table_sorted),
        cmocka_unit_test(test_table_matches_reference),
        cmocka_unit_test(test_dpc_watchdog_subcodes),
        cmocka_unit_test(test_power_state_failure),
        cmocka_unit_test(test_apc_pending_and_verifier),
        cmocka_unit_test(test_m_variant_and_status),
        cmocka_unit_test(test_decoders),
        cmocka_unit_test(test_corpus_triage_x64),
        cmocka_unit_test(test_corpus_triage_arm64),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
