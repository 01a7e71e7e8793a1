#!/bin/bash
# analyze.sh: `!analyze -v` (text and --json) on the corpus dumps.
# Facts asserted come from outside ntkd: the corpus README (triage-x64-19041: bugcheck
# 0x1000007E with c0000005 at fffff8048b58334c, exception record ffff850429891ee8, context
# record ffff850429891720, access violation in amdppm.sys while the PnP manager starts a device;
# the header context is amdppm!WriteIoMemRawEx+0x70 with rsp ffff850429892120;
# triage-arm64-22000: 0x1C8 MANUALLY_INITIATED_POWER_BUTTON_HOLD; calc: exception 0x80000003),
# issue 5 (the faulting instruction "mov dword ptr [r9+r8],edx" (bytes 43 89 14 01 at the
# faulting address), process System, bucket AV_amdppm!WriteIoMemRawEx, frames nt!Pnp* through
# Wdf01000), and WinDbg's !analyze layout (the seeds and public outputs: the asterisk banner with
# "Bugcheck Analysis", BUGCHECK_CODE, FAILURE_BUCKET_ID ...).
# usage: analyze.sh NTKD_BIN GENDUMP CORPUS_DIR WORKDIR
set -u
NTKD=$1 CORPUS=$3 WORK=$4
DIR=$(mktemp -d "$WORK/analyzev.XXXXXX")
trap 'rm -rf "$DIR"' EXIT
fails=0
fail() { echo "FAIL: $*"; fails=$((fails + 1)); }
SYM="$CORPUS/symstore;$CORPUS/isf"
X64=$CORPUS/dumps/kernel/triage-x64-19041.dmp
ARM=$CORPUS/dumps/kernel/triage-arm64-22000.dmp

"$NTKD" -q -z "$X64" -y "$SYM" -c '!analyze -v' >"$DIR/x64.txt" 2>&1 || fail "x64 exit status"
T=$DIR/x64.txt
grep -q '^\*  *Bugcheck Analysis  *\*$' "$T" || fail "banner"
grep -q '^SYSTEM_THREAD_EXCEPTION_NOT_HANDLED_M (1000007e)$' "$T" || fail "name line"
grep -q '^Arg4: ffff850429891720, ' "$T" || fail "Arg4 line"
grep -q '^BUGCHECK_CODE:  1000007e$' "$T" || fail "BUGCHECK_CODE"
grep -q '^BUGCHECK_P1: ffffffffc0000005$' "$T" || fail "BUGCHECK_P1"
grep -q '^PROCESS_NAME:  System$' "$T" || fail "PROCESS_NAME System"
grep -q '^EXCEPTION_RECORD:  ffff8504`29891ee8 -- (.exr 0xffff850429891ee8)$' "$T" || fail "EXCEPTION_RECORD"
grep -q '^CONTEXT:  ffff8504`29891720 -- (.cxr 0xffff850429891720)$' "$T" || fail "CONTEXT line"
grep -q '^rip=fffff804`8b58334c rsp=ffff8504`29892120 ' "$T" || fail "context registers (rip/rsp)"
grep -q '^fffff804`8b58334c 43891401 *mov *dword ptr \[r9+r8\],edx' "$T" || fail "faulting instruction"
grep -q '^amdppm!WriteIoMemRawEx+0x70$' "$T" || fail "FAULTING_IP symbol"
grep -q '^EXCEPTION_CODE_STR:  c0000005' "$T" || fail "EXCEPTION_CODE_STR"
grep -q '^STACK_TEXT:' "$T" || fail "STACK_TEXT"
sed -n '/^STACK_TEXT:/,/^$/p' "$T" >"$DIR/stack.txt"
head -2 "$DIR/stack.txt" | grep -q '^ffff8504`29892120 .* : amdppm!WriteIoMemRawEx+0x70$' || fail "first frame"
grep -q ': Wdf01000' "$DIR/stack.txt" || fail "no Wdf01000 frame"
grep -q ': nt!Pnp' "$DIR/stack.txt" || fail "no nt!Pnp* frame"
# Wdf01000 frames come before (above) the PnP manager's
wl=$(grep -n ': Wdf01000' "$DIR/stack.txt" | head -1 | cut -d: -f1)
pl=$(grep -n ': nt!Pnp' "$DIR/stack.txt" | head -1 | cut -d: -f1)
[ -n "$wl" ] && [ -n "$pl" ] && [ "$wl" -lt "$pl" ] || fail "Wdf01000 should be above nt!Pnp*"
grep -q '^SYMBOL_NAME:  amdppm!WriteIoMemRawEx+70$' "$T" || fail "SYMBOL_NAME"
grep -q '^MODULE_NAME:  amdppm$' "$T" || fail "MODULE_NAME"
grep -q '^IMAGE_NAME:  amdppm.sys$' "$T" || fail "IMAGE_NAME"
grep -q '^FAILURE_BUCKET_ID:  AV_amdppm!WriteIoMemRawEx$' "$T" || fail "FAILURE_BUCKET_ID"
grep -q '^FAILURE_ID_HASH:  {[0-9a-f]\{8\}-[0-9a-f]\{4\}-[0-9a-f]\{4\}-[0-9a-f]\{4\}-[0-9a-f]\{12\}} (ntkd' "$T" ||
    fail "FAILURE_ID_HASH shape"
grep -q '^BLAME_RULE:  ' "$T" || fail "BLAME_RULE"

# JSON: the same facts as fields
"$NTKD" -q --json -z "$X64" -y "$SYM" -c '!analyze -v' >"$DIR/x64.json" 2>"$DIR/x64.err" || fail "json exit status"
python3 - "$DIR/x64.json" <<'EOF' || fail "json fields"
import json, sys
objs = [json.loads(l) for l in open(sys.argv[1]) if l.strip()]
a = [o for o in objs if o.get("command") == "!analyze -v"][0]["analysis"]
want = {"bugcheck_code": "0x1000007e", "bugcheck_name": "SYSTEM_THREAD_EXCEPTION_NOT_HANDLED_M",
        "exception_code": "c0000005", "faulting_ip_symbol": "amdppm!WriteIoMemRawEx+0x70",
        "module_name": "amdppm", "image_name": "amdppm.sys", "process_name": "System",
        "failure_bucket_id": "AV_amdppm!WriteIoMemRawEx", "context_record": "0xffff850429891720"}
bad = [k for k, v in want.items() if a.get(k) != v]
if "mov     dword ptr [r9+r8],edx" not in a.get("faulting_instruction", ""): bad.append("faulting_instruction")
if "nt!Pnp" not in a.get("stack_text", "") or "Wdf01000" not in a.get("stack_text", ""): bad.append("stack_text")
if bad:
    print("bad fields:", bad, {k: a.get(k) for k in bad})
    sys.exit(1)
EOF

# ARM64: the bug check and its parameters explained (no ARM64 kernel symbols in the corpus)
"$NTKD" -q -z "$ARM" -y "$SYM" -c '!analyze -v' >"$DIR/arm.txt" 2>&1 || fail "arm64 exit status"
grep -q '^MANUALLY_INITIATED_POWER_BUTTON_HOLD (1c8)$' "$DIR/arm.txt" || fail "arm64 name"
grep -q '^Arg1: [0-9a-f]\{16\}, .*milliseconds' "$DIR/arm.txt" || fail "arm64 Arg1 meaning"
grep -q '^BUGCHECK_CODE:  1c8$' "$DIR/arm.txt" || fail "arm64 BUGCHECK_CODE"
grep -q '^FAILURE_BUCKET_ID:  0x1C8_' "$DIR/arm.txt" || fail "arm64 bucket"

# every corpus dump: no crash, a bucket
for f in "$CORPUS"/dumps/kernel/*.dmp "$CORPUS"/dumps/user/*.dmp; do
    [ -f "$f" ] || continue
    out=$DIR/all.txt
    "$NTKD" -q -z "$f" -y "$SYM" -c '!analyze -v' >"$out" 2>&1
    rc=$?
    [ $rc -lt 128 ] || fail "$(basename "$f"): crashed (status $rc)"
    grep -q 'AddressSanitizer\|runtime error' "$out" && fail "$(basename "$f"): sanitizer report"
    grep -q '^FAILURE_BUCKET_ID:  ' "$out" || fail "$(basename "$f"): no FAILURE_BUCKET_ID"
done
"$NTKD" -q -z "$CORPUS/dumps/user/calc-x64-win7.dmp" -y "$SYM" -c '!analyze -v' >"$DIR/calc.txt" 2>&1
grep -q '^EXCEPTION_CODE_STR:  80000003' "$DIR/calc.txt" || fail "calc exception code"
grep -q '^FAILURE_BUCKET_ID:  BREAKPOINT_80000003_' "$DIR/calc.txt" || fail "calc bucket"
grep -q '^PROCESS_NAME:  calc.exe$' "$DIR/calc.txt" || fail "calc process name"

# breakpad-x86-xp: rust-minidump's test data documents this crash as an access violation writing
# address 0x45 in test_app.exe: WinDbg's user-mode class for that is NULL_POINTER_WRITE
"$NTKD" -q -z "$CORPUS/dumps/user/breakpad-x86-xp.dmp" -y "$SYM" -c '!analyze -v' >"$DIR/bp.txt" 2>&1
grep -q '^   Parameter\[1\]: 00000045$' "$DIR/bp.txt" || fail "breakpad exception parameter 1"
grep -q '^FAILURE_BUCKET_ID:  NULL_POINTER_WRITE_c0000005_test_app.exe' "$DIR/bp.txt" || fail "breakpad bucket"

[ $fails = 0 ] && echo "analyze.sh: all checks passed"
exit $((fails > 0))
