#!/bin/bash
# user.sh: the user-dump commands (|, ~, ~Ns, .exr -1, .ecxr) on the corpus's calc.exe minidump
# and on generated minidumps, text and --json.
# Facts: the corpus README (calc-x64-win7.dmp: x64 Windows 7 SP1, exception 0x80000003);
# rizin's test/db/formats/mdmp for the same file (calc.exe is the first module, ntdll lies at
# 0x77720000 for 0x1aa000 bytes); the generator's manifest.
# usage: user.sh NTKD_BIN GENDUMP CORPUS_DIR WORKDIR
set -u
NTKD=$1 GEN=$2 CORPUS=$3 WORK=$4
DIR=$(mktemp -d "$WORK/user.XXXXXX")
trap 'rm -rf "$DIR"' EXIT
fails=0
fail() { echo "FAIL: $*"; fails=$((fails + 1)); }

# json FILE EXPR: a Python expression over the JSON objects of FILE, one per line, as list `js`.
json() {
    python3 -c 'import json,sys; js=[json.loads(l) for l in open(sys.argv[1]) if l.strip()]; print(eval(sys.argv[2]))' "$1" "$2"
}

CALC=$CORPUS/dumps/user/calc-x64-win7.dmp
out=$DIR/calc.txt
"$NTKD" -z "$CALC" -c "|; ~; .exr -1; .ecxr; q" >"$out" 2>"$DIR/calc.err"

# | : the process line, named after the first module
grep -qP '^\.  0\tid: [0-9a-f]+\texamine\tname: C:\\Windows\\System32\\calc\.exe$' "$out" ||
    { fail "calc: | line"; cat "$out"; }

# ~ : WinDbg's thread lines; exactly one current thread ('.'), the one the prompt names
tre='^[ .#] *[0-9]+  Id: [0-9a-f]+\.[0-9a-f]+ Suspend: [0-9]+ Teb: [0-9a-f]{8}`[0-9a-f]{8} Unfrozen$'
nthr=$(grep -cE "$tre" "$out")
[ "$nthr" -ge 1 ] || fail "calc: ~ printed no thread lines"
[ "$(grep -E "$tre" "$out" | grep -c '^\.')" = 1 ] || fail "calc: ~ has not exactly one '.' thread"
cur=$(grep -E "$tre" "$out" | grep '^\.' | sed -E 's/^\. *([0-9]+) .*/\1/')
prompt=$(grep -m1 -oE '^0:[0-9]{3}> ' "$out" | sed -E 's/^0:0*([0-9]+)> $/\1/')
[ -n "$prompt" ] && [ "$cur" = "$prompt" ] || fail "calc: current thread $cur is not the prompt's ($prompt)"

# .exr -1: a breakpoint (README: 0x80000003) inside ntdll (rizin: 0x77720000 + 0x1aa000)
grep -qx '   ExceptionCode: 80000003 (Break instruction exception)' "$out" || fail "calc: .exr code line"
grep -qx '  ExceptionFlags: 00000000' "$out" || fail "calc: .exr flags line"
grep -qx 'NumberParameters: 1' "$out" || fail "calc: .exr NumberParameters"
grep -qx '   Parameter\[0\]: 0000000000000000' "$out" || fail "calc: .exr Parameter[0]"
line=$(grep -E '^ExceptionAddress: ' "$out")
if [[ "$line" =~ ^ExceptionAddress:\ ([0-9a-f]{8})\`([0-9a-f]{8})\ \(ntdll\+0x([0-9a-f]+)\)$ ]]; then
    addr=$((0x${BASH_REMATCH[1]}${BASH_REMATCH[2]}))
    off=$((0x${BASH_REMATCH[3]}))
    [ $((addr - 0x77720000)) = "$off" ] || fail "calc: ExceptionAddress offset $off does not match ntdll's base"
    [ "$off" -lt $((0x1aa000)) ] || fail "calc: ExceptionAddress outside ntdll"
else
    fail "calc: ExceptionAddress line: $line"
    addr=0
fi

# .ecxr: the exception context's registers; a breakpoint's context points at the int 3
if grep -q 'not implemented yet' "$out"; then
    echo "NOTE: .ecxr register display waits for cmd_r (r is not implemented yet)"
else
    ripw=$(printf '%016x' "$addr")
    grep -q "rip=$ripw" "$out" || { fail ".ecxr: no rip=$ripw"; cat "$out"; }
fi

# ~Ns switches the thread: the prompt follows, ~ moves the '.'
"$NTKD" -z "$CALC" -c "~0s; ~" >"$out" 2>&1 || fail "calc: ~0s exited $?"
grep -qE '^0:000> ~$' "$out" || { fail "calc: prompt after ~0s"; cat "$out"; }
grep -qE '^\.  0  Id: ' "$out" || fail "calc: thread 0 not current after ~0s"
"$NTKD" -z "$CALC" -c "~99s" >"$out" 2>&1 && fail "calc: ~99s succeeded"
grep -q 'Illegal thread' "$out" || fail "calc: ~99s message"

# --json: one object per command
js=$DIR/calc.json
"$NTKD" -z "$CALC" --json -c "|; ~; .exr -1" >"$js" 2>/dev/null
[ "$(json "$js" 'len(js)')" = 3 ] || fail "calc --json: not 3 objects"
[ "$(json "$js" 'js[0]["processes"][0]["name"]')" = 'C:\Windows\System32\calc.exe' ] || fail "calc --json: | name"
[ "$(json "$js" 'js[0]["ok"]')" = True ] || fail "calc --json: | not ok"
[ "$(json "$js" 'len(js[1]["threads"])')" = "$nthr" ] || fail "calc --json: ~ thread count"
[ "$(json "$js" 'sum(1 for t in js[1]["threads"] if t["current"])')" = 1 ] || fail "calc --json: current threads"
[ "$(json "$js" 'js[2]["code"]')" = 0x80000003 ] || fail "calc --json: .exr code"
[ "$(json "$js" 'js[2]["code_name"]')" = 'Break instruction exception' ] || fail "calc --json: .exr code name"
[ "$(json "$js" 'int(js[2]["address"],16)')" = "$addr" ] || fail "calc --json: .exr address"
[ "$(json "$js" 'js[2]["thread_id"] == [t for t in js[1]["threads"] if t["exception"] or t["current"]][0]["id"]')" = True ] ||
    fail "calc --json: exception thread"

# the user commands refuse nothing on kernel dumps except | and ~, which are user-only
# (checked on a generated kernel dump when the generator writes one)
if "$GEN" full64 "$DIR/k.dmp" >/dev/null 2>&1; then
    "$NTKD" -z "$DIR/k.dmp" -c "~" >"$out" 2>&1 && fail "kernel: ~ succeeded"
    grep -q 'only for user-mode targets' "$out" || fail "kernel: ~ message"
fi

# generated minidumps: the manifest's process facts through the commands
for arch in x64 x86; do
    d=$DIR/gen-$arch.dmp
    if ! "$GEN" mdmp "$d" --arch "$arch" >/dev/null 2>&1; then
        echo "NOTE: the generator does not write $arch minidumps (yet)"
        continue
    fi
    man=$d.manifest
    "$NTKD" -z "$d" --json -c "~; .exr -1" >"$js" 2>/dev/null
    want=$(awk '$1=="thread"{printf "%d ", $2}' "$man")
    got=$(json "$js" '" ".join(str(int(t["id"],16)) for t in js[0]["threads"])')
    [ "$got " = "$want" ] || fail "gen $arch: thread ids '$got' != manifest '$want'"
    exc=$(awk '$1=="exception"{print $2, $3; exit}' "$man")
    if [ -n "$exc" ]; then
        read -r code eaddr <<<"$exc"
        [ "$(json "$js" 'int(js[1]["code"],16)')" = "$((code))" ] || fail "gen $arch: .exr code"
        [ "$(json "$js" 'int(js[1]["address"],16)')" = "$((eaddr))" ] || fail "gen $arch: .exr address"
    fi
    "$NTKD" -z "$d" -c "~" >"$out" 2>&1 || fail "gen $arch: ~ exited $?"
    if [ "$arch" = x86 ]; then
        grep -qE 'Teb: [0-9a-f]{8} Unfrozen$' "$out" || fail "gen x86: 32-bit Teb format"
    else
        grep -qE 'Teb: [0-9a-f]{8}`[0-9a-f]{8} Unfrozen$' "$out" || fail "gen x64: 64-bit Teb format"
    fi
done

if [ "$fails" -ne 0 ]; then
    echo "$fails failure(s)"
    exit 1
fi
echo "user.sh: all checks passed"
