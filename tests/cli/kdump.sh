#!/bin/bash
# kdump.sh: the header-fact commands (.bugcheck, vertarget, .dumpdebug) through the ntkd CLI,
# on the corpus kernel dumps and on generated ones, in text and JSON, with the exit codes
# (0 ok, 2 bad usage, 3 not a dump).
# usage: bash kdump.sh NTKD_BIN GENDUMP CORPUS_DIR WORKDIR
set -u
NTKD=$1 GEN=$2 CORPUS=$3 WORK=$4/kdump-cli
mkdir -p "$WORK"
K=$CORPUS/dumps/kernel
fails=0

fail() { echo "FAIL: $*"; fails=$((fails + 1)); }

# run NAME EXPECTED_RC ARGS...: runs ntkd, keeps stdout/stderr in $WORK/NAME.{out,err}
run() {
    local name=$1 want=$2
    shift 2
    "$NTKD" "$@" >"$WORK/$name.out" 2>"$WORK/$name.err"
    local rc=$?
    [ "$rc" = "$want" ] || fail "$name: exit $rc, want $want ($(head -c 300 "$WORK/$name.err"))"
}

# has NAME TEXT: the output of NAME contains TEXT (fixed string)
has() { grep -qF -- "$2" "$WORK/$1.out" || fail "$1: no line with \"$2\""; }
has_err() { grep -qF -- "$2" "$WORK/$1.err" || fail "$1: stderr lacks \"$2\""; }

CMDS=".bugcheck; vertarget; .dumpdebug; q"

# --- the truncated full dump (corpus README: x64 full dump, marker bugcheck 0x5454414D, 5 runs)
run trunc 0 -z "$K/full-x64-19045-truncated.dmp" -c "$CMDS"
has trunc "Bugcheck code 5454414D"
has trunc "Kernel Version 19045 MP"
has trunc "Free x64"
has trunc "Kernel Complete Dump File"
has trunc "----- 64 bit Kernel Full Dump Analysis"
has trunc "DUMP_HEADER64:"
has trunc "Number of runs: 5"
has_err trunc "WARNING: full-x64-19045-truncated.dmp"

# --- the real triage dumps (corpus README facts)
run tx64 0 -z "$K/triage-x64-19041.dmp" -c "$CMDS"
has tx64 "Bugcheck code 1000007E"
has tx64 "Arguments ffffffff\`c0000005 fffff804\`8b58334c ffff8504\`29891ee8 ffff8504\`29891720"
has tx64 "Windows 10 Kernel Version 19041 MP (16 procs) Free x64"
has tx64 "Mini Kernel Dump File: Only registers and stack trace are available"
has tx64 "----- 64 bit Kernel Mini Dump Analysis"
has tx64 "MinorVersion        00004a61"

run ta64 0 -z "$K/triage-arm64-22000.dmp" -c "$CMDS"
has ta64 "Bugcheck code 000001C8"
has ta64 "Kernel Version 22000 MP (8 procs) Free ARM 64-bit (AArch64)"
has ta64 "MachineImageType    0000aa64"

# --- JSON: one object per command, fields parsed by python
run jtrunc 0 -z "$K/full-x64-19045-truncated.dmp" --json -c "$CMDS"
python3 - "$WORK/jtrunc.out" <<'EOF' || fail "jtrunc: JSON checks"
import json, sys
objs = [json.loads(l) for l in open(sys.argv[1]) if l.strip()]
by = {o["command"]: o for o in objs}
b = by[".bugcheck"]
assert b["ok"] and b["code"] == "0x5454414d", b
assert len(b["arguments"]) == 4 and b["arguments"][0] == "0x4e4f4f4d", b
v = by["vertarget"]
assert v["ok"] and v["build"] == 19045 and v["processors"] == 4 and v["arch"] == "x64", v
assert "TerminalServer" in v["suites"] and v["product"] == "WinNt", v
d = by[".dumpdebug"]
secs = {s["name"]: {f["name"]: f for f in s["fields"]} for s in d["sections"]}
assert secs["DUMP_HEADER64"]["MinorVersion"]["value"] == "0x4a65", secs["DUMP_HEADER64"]["MinorVersion"]
assert secs["DUMP_HEADER64"]["BugCheckCode"]["offset"] == "0x38"
runs = secs["Physical Memory Description"]
assert runs["NumberOfRuns"]["value"] == "0x5"
assert sum(1 for n in runs if n.endswith(".BasePage")) == 5
EOF

run jtx64 0 -z "$K/triage-x64-19041.dmp" --json -c ".bugcheck; vertarget"
python3 - "$WORK/jtx64.out" <<'EOF' || fail "jtx64: JSON checks"
import json, sys
objs = [json.loads(l) for l in open(sys.argv[1]) if l.strip()]
b, v = objs[0], objs[1]
assert b["code"] == "0x1000007e" and b["arguments"][1] == "0xfffff8048b58334c", b
assert v["processors"] == 16 and v["build"] == 19041 and v["kind"] == "Mini kernel dump", v
EOF

# --- generated dumps: the manifest states the facts
gen_check() { # name kind args...
    local name=$1 kind=$2
    shift 2
    "$GEN" "$kind" "$WORK/$name.dmp" "$@" >/dev/null 2>&1 || { fail "$name: generator failed"; return; }
    local m="$WORK/$name.dmp.manifest"
    run "$name" 0 -z "$WORK/$name.dmp" -c "$CMDS"
    run "j$name" 0 -z "$WORK/$name.dmp" --json -c "$CMDS"
    python3 - "$m" "$WORK/$name.out" "$WORK/j$name.out" <<'EOF' || fail "$name: manifest checks"
import json, sys
facts = {}
for line in open(sys.argv[1]):
    line = line.split("#")[0].strip()
    if line:
        k, _, rest = line.partition(" ")
        facts.setdefault(k, rest)
text = open(sys.argv[2]).read()
objs = {o["command"]: o for o in (json.loads(l) for l in open(sys.argv[3]) if l.strip())}
is64 = facts.get("arch", "x64") in ("x64", "arm64")
if "bugcheck" in facts:
    v = [int(x, 0) for x in facts["bugcheck"].split()]
    assert "Bugcheck code %08X" % v[0] in text, "bugcheck code"
    def fmt(x):
        return "%08x`%08x" % (x >> 32, x & 0xffffffff) if is64 else "%08x" % (x & 0xffffffff)
    assert "Arguments " + " ".join(fmt(x) for x in v[1:]) in text, "arguments"
    assert int(objs[".bugcheck"]["code"], 16) == v[0]
    assert [int(a, 16) for a in objs[".bugcheck"]["arguments"]] == [x if is64 else x & 0xffffffff for x in v[1:]]
if "build" in facts:
    assert "Kernel Version %d " % int(facts["build"], 0) in text, "build"
    assert objs["vertarget"]["build"] == int(facts["build"], 0)
if "nprocs" in facts:
    assert objs["vertarget"]["processors"] == int(facts["nprocs"], 0)
hdr = {}
for s in objs[".dumpdebug"]["sections"]:
    for f in s["fields"]:
        hdr.setdefault(f["name"], f)
for line in open(sys.argv[1]):
    p = line.split("#")[0].split()
    if len(p) == 3 and p[0] == "header":
        if p[1] in ("KernBase", "SelfMapIndex", "PteBase", "PdeBase", "CodeVa", "ExceptionCode"):
            continue  # facts about the memory image and the exception, not header fields
        f = hdr.get(p[1])
        assert f is not None, "field %s missing from .dumpdebug" % p[1]
        if "value" in f:
            assert int(f["value"], 16) == int(p[2], 0), "field %s" % p[1]
banner = "----- %d bit " % (64 if is64 else 32)
assert banner in text, "banner"
EOF
}
gen_check g_full64 full64 --pages 64
gen_check g_full64a full64 --arch arm64 --pages 64
gen_check g_sum64 summary64 --pages 64
gen_check g_bmp5 bitmap64 --dump-type 5 --pages 64
gen_check g_bmp6 bitmap64 --dump-type 6 --pages 64
gen_check g_full32 full32 --pages 64
gen_check g_full32n full32 --arch x86 --pages 64
gen_check g_sum32 summary32 --pages 64
has g_full64 "Kernel Complete Dump File: Full address space is available"
has g_sum64 "Kernel Summary Dump File: Only kernel address space is available"
has g_bmp5 "Kernel Bitmap Dump File"
has g_full32 "Free x86 compatible"
has g_full32 "Physical Memory Description:"

# --- user dumps (corpus README: calc.exe x64 Windows 7 SP1; Breakpad x86 Windows XP SP2)
U=$CORPUS/dumps/user
run ucalc 0 -z "$U/calc-x64-win7.dmp" -c "vertarget; q"
has ucalc "User Mini Dump File: Only registers, stack and portions of memory are available"
has ucalc "Windows 7 Version 7601 (Service Pack 1)"
has ucalc "Free x64"
run uxp 0 -z "$U/breakpad-x86-xp.dmp" -c "vertarget; q"
has uxp "Windows XP Version 2600 (Service Pack 2)"
has uxp "Free x86 compatible"
# no bug check in a user dump: the command fails (exit 1) with a message
run ubug 1 -z "$U/calc-x64-win7.dmp" -c ".bugcheck; q"
has ubug "No bug check information"

# --- exit codes
printf 'this is not a crash dump\n' >"$WORK/notadump.txt"
run notdump 3 -z "$WORK/notadump.txt" -c "q"
has_err notdump "not a Windows dump"
run missing 3 -z "$WORK/does-not-exist.dmp" -c "q"
head -c 100 "$K/full-x64-19045-truncated.dmp" >"$WORK/short.dmp"
run short 3 -z "$WORK/short.dmp" -c "q"
has_err short "DUMP_HEADER64 truncated at 0x64: need 0x2000 bytes, file has 0x64"
run usage1 2
run usage2 2 --no-such-option -z "$K/triage-x64-19041.dmp"
run usage3 2 -z "$K/triage-x64-19041.dmp" extra-argument
# a failing command gives 1 (unknown command)
run badcmd 1 -z "$K/triage-x64-19041.dmp" -c "nosuchcommand; q"

if [ "$fails" -ne 0 ]; then
    echo "$fails check(s) failed"
    exit 1
fi
echo "kdump.sh: all checks passed"
