#!/bin/bash
# analyze_show.sh: `!analyze -show` and `.bugcheck` on the corpus's triage dumps, text and --json.
# Facts: the corpus README (triage-x64-19041: bugcheck 0x1000007E with c0000005,
# fffff8048b58334c, ffff850429891ee8, ffff850429891720, an access violation in amdppm.sys;
# triage-arm64-22000: 0x1C8 MANUALLY_INITIATED_POWER_BUTTON_HOLD); WinDbg's output shapes from
# Microsoft's bug check pages (".bugcheck" prints two lines, "!analyze" prints "NAME (code)",
# "Arguments:" and "ArgN: <16 hex digits>, meaning"); seed 003 (0x133 with 0, 0x283, 0x282, 0).
# usage: analyze_show.sh NTKD_BIN GENDUMP CORPUS_DIR WORKDIR
set -u
NTKD=$1 CORPUS=$3 WORK=$4
DIR=$(mktemp -d "$WORK/analyze.XXXXXX")
trap 'rm -rf "$DIR"' EXIT
fails=0
fail() { echo "FAIL: $*"; fails=$((fails + 1)); }
json() {
    python3 -c 'import json,sys; js=[json.loads(l) for l in open(sys.argv[1]) if l.strip()]; print(eval(sys.argv[2]))' "$1" "$2"
}

X64=$CORPUS/dumps/kernel/triage-x64-19041.dmp
ARM=$CORPUS/dumps/kernel/triage-arm64-22000.dmp

"$NTKD" -q -z "$X64" -c '.bugcheck' >"$DIR/bc.txt" 2>&1 || fail ".bugcheck exit status"
[ "$(grep -vc 'kd>' "$DIR/bc.txt")" = 2 ] || fail ".bugcheck should print exactly two lines"
grep -q '^Bugcheck code 1000007E$' "$DIR/bc.txt" || fail ".bugcheck code line"

"$NTKD" -q -z "$X64" -c '!analyze -show' >"$DIR/x64.txt" 2>&1 || fail "!analyze -show exit status (x64)"
grep -q '^SYSTEM_THREAD_EXCEPTION_NOT_HANDLED_M (1000007e)$' "$DIR/x64.txt" || fail "x64 name line"
grep -q '^Arguments:$' "$DIR/x64.txt" || fail "Arguments: line"
grep -q '^Arg1: ffffffffc0000005, .*' "$DIR/x64.txt" || fail "Arg1 line"
grep -q 'STATUS_ACCESS_VIOLATION' "$DIR/x64.txt" || fail "exception code not decoded"
grep -q '^Arg2: fffff8048b58334c, ' "$DIR/x64.txt" || fail "Arg2 line"
grep -q '^Arg3: ffff850429891ee8, ' "$DIR/x64.txt" || fail "Arg3 line"
grep -q '^Arg4: ffff850429891720, ' "$DIR/x64.txt" || fail "Arg4 line"

"$NTKD" -q -z "$ARM" -c '!analyze -show' >"$DIR/arm.txt" 2>&1 || fail "!analyze -show exit status (arm64)"
grep -q '^MANUALLY_INITIATED_POWER_BUTTON_HOLD (1c8)$' "$DIR/arm.txt" || fail "arm64 name line"
grep -q '^Arg1: [0-9a-f]\{16\}, .*milliseconds' "$DIR/arm.txt" || fail "arm64 Arg1 meaning"

"$NTKD" -q -z "$ARM" -c '!analyze -show 133 0 283 282 0' >"$DIR/133.txt" 2>&1 || fail "-show 133 exit status"
grep -q '^DPC_WATCHDOG_VIOLATION (133)$' "$DIR/133.txt" || fail "133 name line"
grep -q '^Arg1: 0000000000000000, A single DPC' "$DIR/133.txt" || fail "133 Arg1 sub-code meaning"
grep -q '^Arg2: 0000000000000283, ' "$DIR/133.txt" || fail "133 Arg2"
grep -q '^Arg4: 0000000000000000$' "$DIR/133.txt" || fail "133 Arg4 (reserved: value only)"

"$NTKD" -q --json -z "$X64" -c '!analyze -show; .bugcheck' >"$DIR/x64.json" 2>&1 || fail "--json exit status"
[ "$(json "$DIR/x64.json" 'js[0]["name"]')" = SYSTEM_THREAD_EXCEPTION_NOT_HANDLED_M ] || fail "json name"
[ "$(json "$DIR/x64.json" 'js[0]["code"]')" = 0x1000007e ] || fail "json code"
[ "$(json "$DIR/x64.json" 'len(js[0]["args"])')" = 4 ] || fail "json args"
json "$DIR/x64.json" 'js[0]["args"][0]["decoded"]' | grep -q STATUS_ACCESS_VIOLATION || fail "json decoded status"
[ "$(json "$DIR/x64.json" 'js[1]["name"]')" = SYSTEM_THREAD_EXCEPTION_NOT_HANDLED_M ] || fail ".bugcheck json name"

# !analyze -v is implemented now (issue 5; its facts are checked in analyze.sh)
"$NTKD" -q -z "$X64" -c '!analyze -v' >"$DIR/v.txt" 2>&1 || fail "!analyze -v exit status"
grep -q 'Bugcheck Analysis' "$DIR/v.txt" || fail "!analyze -v banner"
if "$NTKD" -q -z "$X64" -c '!analyze -show zzz_no_such_symbol' >"$DIR/bad.txt" 2>&1; then fail "bad code accepted"; fi

[ $fails = 0 ] && echo "analyze_show: all passed"
exit $fails
