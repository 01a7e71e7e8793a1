/* test_analyze.c: nk_analyze / nk_analysis_json.
 * Facts asserted come from outside ntkd: the corpus README (triage-x64-19041: bugcheck
 * 0x1000007E, c0000005 at fffff8048b58334c, exception record ffff850429891ee8, context record
 * ffff850429891720, access violation in amdppm.sys; triage-arm64-22000: 0x1C8; calc: 0x80000003),
 * issue 5 (faulting instruction, process System, bucket AV_amdppm!WriteIoMemRawEx), and the
 * generator's manifest for synthetic dumps (their bugcheck line). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "analysis/analyze.h"

#define SYMPATH NTKD_CORPUS "/symstore;" NTKD_CORPUS "/isf"

static ntkd_target *open_dump(ntkd_ctx *ctx, const char *path)
{
    ntkd_target *t = NULL;
    ntkd_open_opts o = {.sympath = SYMPATH};
    if (ntkd_open(ctx, path, &o, &t) != NTKD_OK) fail_msg("ntkd_open(%s): %s", path, ntkd_ctx_error(ctx));
    return t;
}

static const char *jstr(json_object *o, const char *k)
{
    json_object *v;
    return json_object_object_get_ex(o, k, &v) ? json_object_get_string(v) : NULL;
}

static void test_x64_triage(void **state)
{
    (void)state;
    ntkd_ctx *ctx = ntkd_ctx_new();
    ntkd_target *t = open_dump(ctx, NTKD_CORPUS "/dumps/kernel/triage-x64-19041.dmp");
    nk_analysis *a = calloc(1, sizeof *a);
    assert_non_null(a);
    assert_int_equal(nk_analyze(t, a), NTKD_OK);
    assert_int_equal(a->code, 0x1000007e);
    assert_string_equal(a->name, "SYSTEM_THREAD_EXCEPTION_NOT_HANDLED_M");
    assert_true(a->has_exception);
    assert_int_equal(a->exception_code, 0xc0000005u);
    assert_int_equal(a->exception_address, 0xfffff8048b58334cull);
    assert_int_equal(a->exception_record, 0xffff850429891ee8ull);
    assert_int_equal(a->context_record, 0xffff850429891720ull);
    assert_int_equal(a->faulting_ip, 0xfffff8048b58334cull);
    assert_string_equal(a->faulting_ip_sym, "amdppm!WriteIoMemRawEx+0x70");
    assert_non_null(strstr(a->faulting_insn, "mov     dword ptr [r9+r8],edx"));
    assert_string_equal(a->process_name, "System");
    assert_string_equal(a->module_name, "amdppm");
    assert_string_equal(a->image_name, "amdppm.sys");
    assert_string_equal(a->symbol_name, "amdppm!WriteIoMemRawEx+70");
    assert_string_equal(a->bucket, "AV_amdppm!WriteIoMemRawEx");
    assert_non_null(strstr(a->stack_text, "Wdf01000"));
    assert_non_null(strstr(a->stack_text, "nt!Pnp"));
    assert_int_equal(strlen(a->bucket_hash), 38);
    assert_true(a->bucket_hash[0] == '{' && a->bucket_hash[37] == '}');

    /* stable: a second analysis gives the same bucket and hash */
    nk_analysis *b = calloc(1, sizeof *b);
    assert_non_null(b);
    assert_int_equal(nk_analyze(t, b), NTKD_OK);
    assert_string_equal(a->bucket_hash, b->bucket_hash);
    assert_string_equal(a->stack_text, b->stack_text);

    json_object *j = nk_analysis_json(a);
    assert_non_null(j);
    assert_string_equal(jstr(j, "failure_bucket_id"), "AV_amdppm!WriteIoMemRawEx");
    assert_string_equal(jstr(j, "bugcheck_code"), "0x1000007e");
    assert_string_equal(jstr(j, "exception_code"), "c0000005");
    assert_string_equal(jstr(j, "module_name"), "amdppm");
    assert_string_equal(jstr(j, "process_name"), "System");
    json_object_put(j);
    free(a);
    free(b);
    ntkd_close(t);
    ntkd_ctx_free(ctx);
}

static void test_arm64_triage(void **state)
{
    (void)state;
    ntkd_ctx *ctx = ntkd_ctx_new();
    ntkd_target *t = open_dump(ctx, NTKD_CORPUS "/dumps/kernel/triage-arm64-22000.dmp");
    nk_analysis *a = calloc(1, sizeof *a);
    assert_non_null(a);
    assert_int_equal(nk_analyze(t, a), NTKD_OK);
    assert_int_equal(a->code, 0x1c8);
    assert_string_equal(a->name, "MANUALLY_INITIATED_POWER_BUTTON_HOLD");
    assert_false(a->has_exception);
    assert_true(!strncmp(a->bucket, "0x1C8_", 6));
    free(a);
    ntkd_close(t);
    ntkd_ctx_free(ctx);
}

static void test_user_calc(void **state)
{
    (void)state;
    ntkd_ctx *ctx = ntkd_ctx_new();
    ntkd_target *t = open_dump(ctx, NTKD_CORPUS "/dumps/user/calc-x64-win7.dmp");
    nk_analysis *a = calloc(1, sizeof *a);
    assert_non_null(a);
    assert_int_equal(nk_analyze(t, a), NTKD_OK);
    assert_true(a->has_exception);
    assert_int_equal(a->exception_code, 0x80000003u);
    assert_string_equal(a->process_name, "calc.exe");
    assert_true(!strncmp(a->bucket, "BREAKPOINT_80000003_", 20));
    free(a);
    ntkd_close(t);
    ntkd_ctx_free(ctx);
}

/* Synthetic dumps from the generator: the analysis never fails and reports the manifest's
 * bug check (kernel kinds). */
static void test_generated(void **state)
{
    (void)state;
    if (access(NTKD_GENDUMP, X_OK) != 0) skip();
    static const char *const kinds[][2] = {{"demo", "x64"},      {"full64", "x64"},  {"triage64", "x64"},
                                           {"full64", "arm64"},  {"full32", "x86pae"}, {"mdmp", "x64"},
                                           {"mdmp", "x86"}};
    char dir[] = "/tmp/ntkd-analyze-XXXXXX";
    assert_non_null(mkdtemp(dir));
    for (size_t k = 0; k < sizeof kinds / sizeof kinds[0]; k++) {
        char path[256], cmd[512], man[300];
        snprintf(path, sizeof path, "%s/g%zu.dmp", dir, k);
        snprintf(cmd, sizeof cmd, "'%s' %s '%s' --arch %s >/dev/null 2>&1", NTKD_GENDUMP, kinds[k][0], path, kinds[k][1]);
        if (system(cmd) != 0) {
            print_message("generator could not write %s %s; skipped\n", kinds[k][0], kinds[k][1]);
            continue;
        }
        unsigned long long code = 0;
        bool have_code = false;
        snprintf(man, sizeof man, "%s.manifest", path);
        FILE *f = fopen(man, "r");
        if (f) {
            char line[512];
            while (fgets(line, sizeof line, f))
                if (sscanf(line, "bugcheck %llx", &code) == 1) have_code = true;
            fclose(f);
        }
        ntkd_ctx *ctx = ntkd_ctx_new();
        ntkd_target *t = NULL;
        ntkd_open_opts o = {0};
        if (ntkd_open(ctx, path, &o, &t) != NTKD_OK) {
            print_message("%s %s: %s\n", kinds[k][0], kinds[k][1], ntkd_ctx_error(ctx));
            ntkd_ctx_free(ctx);
            continue;
        }
        nk_analysis *a = calloc(1, sizeof *a);
        assert_non_null(a);
        assert_int_equal(nk_analyze(t, a), NTKD_OK);
        if (have_code) assert_int_equal(a->code, (uint32_t)code);
        assert_true(a->bucket[0] != 0);
        json_object *j = nk_analysis_json(a);
        assert_non_null(j);
        assert_string_equal(jstr(j, "failure_bucket_id"), a->bucket);
        json_object_put(j);
        free(a);
        ntkd_close(t);
        ntkd_ctx_free(ctx);
        unlink(path);
        unlink(man);
    }
    rmdir(dir);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_x64_triage),
        cmocka_unit_test(test_arm64_triage),
        cmocka_unit_test(test_user_calc),
        cmocka_unit_test(test_generated),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
