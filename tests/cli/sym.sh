#!/bin/bash
# sym.sh: modules and symbols from the command line: lm, lmvm, lm a, x, ln, expressions with
# module!symbol, .reload (the offline kernel-table match), .sympath, .symfix, !sym,
# !for_each_module, s; images as targets (-z IMAGE); minidump module lists. Text and --json.
# Facts: the corpus README (triage-x64-19041.dmp: 151 drivers, bugcheck parameter 2
# fffff8048b58334c = amdppm!WriteIoMemRawEx+0x70, kernel table 5278AFF8...-1), issue 3
# (x nt!KeBugCheckEx = fffff804`7bdf5a80), the dump header (PsLoadedModuleList from
# .dumpdebug), `strings -el` over the store's amdppm.sys, Breakpad's .sym of
# dump_syms_regtest64 (FUNC lines), and the MDMP module list of calc-x64-win7.dmp counted
# here with Python.
# usage: sym.sh NTKD_BIN GENDUMP CORPUS_DIR WORKDIR
set -u
export LC_ALL=C
NTKD=$1 GEN=$2 CORPUS=$3 WORK=$4
DIR=$(mktemp -d "$WORK/sym.XXXXXX")
trap 'rm -rf "$DIR"' EXIT
fails=0
fail() { echo "FAIL: $*"; fails=$((fails + 1)); }
: "$GEN"

TRIAGE=$CORPUS/dumps/kernel/triage-x64-19041.dmp
SP="$CORPUS/symstore;$CORPUS/isf"

# ---- triage: lm ------------------------------------------------------------------------------
out=$DIR/lm.txt
"$NTKD" -z "$TRIAGE" -y "$SP" -c "lm" >"$out" 2>"$DIR/lm.err" || fail "lm: exit status"
grep -qx 'start             end                 module name' "$out" || fail "lm: header line"
row='^[0-9a-f]{8}`[0-9a-f]{8} [0-9a-f]{8}`[0-9a-f]{8}   [A-Za-z0-9_]+ +\(deferred\) *$'
n=$(sed -n '/^start/,/^$/p' "$out" | grep -cE "$row")
[ "$n" = 151 ] || fail "lm: $n module rows, the README says 151"
grep -qx 'Unloaded modules:' "$out" || fail "lm: no unloaded-modules section"
grep -qE '^fffff804`7ba00000 fffff804`[0-9a-f]{8}   nt  ' "$out" || fail "lm: no nt row at its driver-list base"

"$NTKD" -z "$TRIAGE" -y "$SP" --json -c "lm" >"$DIR/lm.json" 2>/dev/null
python3 - "$DIR/lm.json" <<'EOF' || fail "lm --json"
import json, sys
j = json.loads(open(sys.argv[1]).readline())
mods = j["modules"]
assert len(mods) == 151, len(mods)
assert j["ok"] is True
names = {m["name"] for m in mods}
assert {"nt", "hal", "amdppm", "Wdf01000"} <= names, names
EOF

# ---- triage: the kernel table, ln, x, expressions ------------------------------------------------
out=$DIR/sym.txt
"$NTKD" -z "$TRIAGE" -y "$SP" -c '.reload; ln fffff8048b58334c; x nt!KeBugCheckEx; ? amdppm!WriteIoMemRawEx+0x70; lm a fffff804`8b58334c; .dumpdebug; dq nt!PsLoadedModuleList L1' >"$out" 2>"$DIR/sym.err"
grep -qx '  5278AFF86C341677D7D7835C85B7B844-1.json.xz: match' "$out" || fail ".reload: the 5278AFF8...-1 table is not the match"
grep -qF 'nt: kernel symbols from ISF 5278AFF86C341677D7D7835C85B7B844-1.json.xz (PsLoadedModuleList, PsActiveProcessHead, KdDebuggerDataBlock match the dump header)' "$out" ||
    fail ".reload: the reason line"
[ "$(grep -c ': match$' "$out")" = 1 ] || fail ".reload: not exactly one table matched"
grep -qE '^\(fffff804`[0-9a-f]{8}\)   amdppm!WriteIoMemRawEx\+0x70   \|  \(fffff804`[0-9a-f]{8}\)   amdppm!' "$out" ||
    fail "ln fffff8048b58334c"
grep -qE '^fffff804`7bdf5a80 nt!KeBugCheckEx ' "$out" || fail "x nt!KeBugCheckEx"
grep -qx 'Evaluate expression: -8776575339700 = fffff804`8b58334c' "$out" || fail "? amdppm!WriteIoMemRawEx+0x70"
sed -n '/kd> lm a/,/kd> /p' "$out" | grep -qE '^fffff804`8b580000 fffff804`8b5bb000   amdppm ' || fail "lm a: amdppm"
psl=$(grep -E '^PsLoadedModuleList ' "$out" | awk '{print $2}')
[ -n "$psl" ] || fail ".dumpdebug: no PsLoadedModuleList"
grep -qE "^$psl " "$out" || fail "dq nt!PsLoadedModuleList: not at the header's $psl"

# ---- triage: lmvm amdppm with the image's version strings ------------------------------------------
out=$DIR/lmv.txt
"$NTKD" -z "$TRIAGE" -y "$SP" -c 'lmvm amdppm' >"$out" 2>/dev/null
grep -qx '    Image name: amdppm.sys' "$out" || fail "lmvm: image name"
grep -qx '    ImageSize:        0003B000' "$out" || fail "lmvm: image size"
grep -q '^    Information from resource tables:$' "$out" || fail "lmvm: no version strings"
IMG=$CORPUS/symstore/amdppm.sys/c9c030003b000/amdppm.sys
strings -el "$IMG" >"$DIR/img.strings"
nv=0
while IFS= read -r l; do
    val=$(printf '%s' "$l" | sed -E 's/^        [A-Za-z]+: +//')
    case "$val" in *[![:print:]]* | "") continue ;; esac
    grep -qF -- "$val" "$DIR/img.strings" || fail "lmvm: '$val' is not a string of the image"
    nv=$((nv + 1))
done < <(sed -n '/Information from resource tables:/,$p' "$out" | grep -E '^        [A-Za-z]+: ')
[ "$nv" -ge 4 ] || fail "lmvm: only $nv version strings checked"
fv=$(grep -E '^    File version: ' "$out" | awk '{print $3}')
grep -q "^$fv" "$DIR/img.strings" || fail "lmvm: file version $fv is not in the image's strings"

# ---- !for_each_module and s -------------------------------------------------------------------
out=$DIR/fem.txt
"$NTKD" -z "$TRIAGE" -y "$SP" -c '!for_each_module s -a @#Base @#End "MZ"; lm' >"$out" 2>/dev/null
hits=$(grep -cE '^[0-9a-f]{8}`[0-9a-f]{8}  4d 5a ' "$out")
[ "$hits" -ge 2 ] || fail "!for_each_module s: $hits MZ hits"
for h in $(grep -E '^[0-9a-f]{8}`[0-9a-f]{8}  4d 5a ' "$out" | awk '{print $1}'); do
    grep -qE "^$h [0-9a-f]{8}\`[0-9a-f]{8}   " "$out" || fail "s hit $h is not a module base listed by lm"
done
grep -qE '^fffff804`8b580000  4d 5a .*  MZ' "$out" || fail "s -a: no hit at amdppm's base"

# ---- .sympath / .symfix / !sym (no symbol loads afterwards: no network) ----------------------------
out=$DIR/path.txt
"$NTKD" -z "$TRIAGE" -y "$SP" -c ".sympath; .sympath+ $DIR/none; !sym noisy; !sym quiet; .symfix $DIR/cache; .sympath" >"$out" 2>/dev/null
grep -qxF "Symbol search path is: $SP" "$out" || fail ".sympath: show"
grep -qxF "Symbol search path is: $SP;$DIR/none" "$out" || fail ".sympath+: append"
grep -qE "^Error +$DIR/none\$" "$out" || fail ".sympath: validation of a missing directory"
grep -qx 'noisy mode - symbol prompts on' "$out" || fail "!sym noisy"
grep -qx 'quiet mode - symbol prompts on' "$out" || fail "!sym quiet"
grep -qxF "Symbol search path is: srv*$DIR/cache*https://msdl.microsoft.com/download/symbols" "$out" || fail ".symfix"

# ---- an image as a target -------------------------------------------------------------------------
DS=$CORPUS/pdb-fixtures/dump_syms
EXE=$DS/dump_syms_regtest64.exe
base=$(python3 -c '
import struct,sys
b=open(sys.argv[1],"rb").read()
pe=struct.unpack_from("<I",b,0x3c)[0]
print("%x" % struct.unpack_from("<Q",b,pe+24+24)[0])' "$EXE")
cmds=$(python3 - "$DS/dump_syms_regtest64.sym" "$base" <<'EOF'
import sys
base = int(sys.argv[2], 16)
out = []
for l in open(sys.argv[1]):
    if l.startswith("FUNC "):
        p = l.split(" ", 4)
        out.append("ln %x" % (base + int(p[1], 16)))
print(";".join(out[::7]))
EOF
)
"$NTKD" -z "$EXE" -y "$DS" --json -c "lm; $cmds; x dump_syms_regtest64!main" >"$DIR/img.json" 2>"$DIR/img.err" || fail "image target: exit status"
python3 - "$DIR/img.json" "$DS/dump_syms_regtest64.sym" "$base" <<'EOF' || fail "image target: ln/x against the .sym file"
import json, sys
js = [json.loads(l) for l in open(sys.argv[1]) if l.strip()]
base = int(sys.argv[3], 16)
funcs = {}
for l in open(sys.argv[2]):
    if l.startswith("FUNC "):
        p = l.rstrip("\n").split(" ", 4)
        name = p[4]
        if "(" in name and not name.startswith("("):
            name = name[:name.index("(")]
        funcs[base + int(p[1], 16)] = name
lm = js[0]
assert lm["modules"][0]["name"] == "dump_syms_regtest64", lm
assert int(lm["modules"][0]["start"], 16) == base
n = 0
for j in js[1:-1]:
    a = int(j["address"], 16)
    want = funcs[a]
    assert j["symbol"] == "dump_syms_regtest64!" + want, (j, want)
    n += 1
assert n > 20, n
x = js[-1]
assert [s["name"] for s in x["symbols"]] == ["main"], x
assert int(x["symbols"][0]["address"], 16) == [a for a, nm in funcs.items() if nm == "main"][0]
EOF

# ---- a minidump's module list ------------------------------------------------------------------------
CALC=$CORPUS/dumps/user/calc-x64-win7.dmp
want=$(python3 - "$CALC" <<'EOF'
import struct, sys
b = open(sys.argv[1], "rb").read()
n, rva = struct.unpack_from("<II", b, 8)
for i in range(n):
    t, size, off = struct.unpack_from("<III", b, rva + 12 * i)
    if t == 4:
        print(struct.unpack_from("<I", b, off)[0])
EOF
)
out=$DIR/calc.txt
"$NTKD" -z "$CALC" -c "lm" >"$out" 2>/dev/null
n=$(grep -cE '^[0-9a-f]{8}`[0-9a-f]{8} [0-9a-f]{8}`[0-9a-f]{8}   ' "$out")
[ -n "$want" ] && [ "$n" = "$want" ] || fail "calc: lm lists $n modules, the MDMP module list has $want"
grep -qE '^00000000`77720000 00000000`778ca000   ntdll ' "$out" || fail "calc: ntdll row"

if [ "$fails" -ne 0 ]; then
    echo "$fails failure(s)"
    exit 1
fi
echo "sym.sh: all checks passed"
