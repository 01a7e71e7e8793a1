#!/bin/bash
# dt.sh: `dt`, `??` and @@c++() on the real triage dump (triage-x64-19041.dmp) with the
# corpus ISF tables as the symbol path. Expected values come from the seeds (WinDbg's own
# output of _KDPC), Python's json reading of the 19041 table, and Windows facts (the System
# process has PID 4 and that name). Skips with a message while the symbol layer gives no types.
# usage: dt.sh NTKD GENDUMP CORPUS WORKDIR
set -u
NTKD=$1
CORPUS=$3
WORK=$4
DUMP=$CORPUS/dumps/kernel/triage-x64-19041.dmp
ISF=$CORPUS/isf/windows
TABLE=$ISF/ntkrnlmp.pdb/5278AFF86C341677D7D7835C85B7B844-1.json.xz
SEED=$CORPUS/../seeds/002_34e0224ca4cb6289.txt
T=$(mktemp -d "$WORK/dt.XXXXXX")
trap 'rm -rf "$T"' EXIT
fails=0
fail() { echo "FAIL: $*"; fails=$((fails + 1)); }

# Every command runs in one session; run CMD prints the output of CMD from it.
CMDS=(
    "dt nt!_LIST_ENTRY"
    "dt nt!_KDPC"
    "?? sizeof(nt!_EPROCESS)"
    "?? #FIELD_OFFSET(nt!_EPROCESS, ActiveProcessLinks)"
    "? @@c++(sizeof(nt!_EPROCESS))"
    "? @@(#FIELD_OFFSET(nt!_EPROCESS, ActiveProcessLinks)) + 1"
    "dt nt!_EPROCESS poi(nt!PsActiveProcessHead)-@@c++(#FIELD_OFFSET(nt!_EPROCESS, ActiveProcessLinks)) ImageFileName UniqueProcessId"
    "dt _LIST_ENTRY"
    "dt nt!_MMPTE_HARDWARE"
    "dt nt!_POOL_TYPE"
    "dt nt!_KP*"
    "dt nt!_NO_SUCH_TYPE"
    "?? sizeof(nt!_NO_SUCH_TYPE)"
    "dt nt!_EPROCESS 0 UniqueProcessId"
)
script=""
for c in "${CMDS[@]}"; do script+="$c; "; done
# (the symbol layer's note on which kernel table it chose is not dt's output)
"$NTKD" -z "$DUMP" -y "$ISF" -c "${script}q" 2>"$T/stderr" | sed -e 's/[[:space:]]*$//' |
    grep -v -e '^nt: kernel symbols from ' >"$T/session"
run() {
    awk -v want="$1" '
        /^[0-9]+: kd> / { cur = substr($0, index($0, "> ") + 2); next }
        cur == want { print }' "$T/session"
}

out=$(run "dt nt!_LIST_ENTRY")
if grep -q "not found" <<<"$out" || [ -z "$out" ]; then
    echo "SKIP: the symbol layer gives no types for nt (nk_sym_types returned NULL): $out"
    exit 0
fi

# 1. _LIST_ENTRY: two pointers to itself
expect=$'   +0x000 Flink            : Ptr64 _LIST_ENTRY\n   +0x008 Blink            : Ptr64 _LIST_ENTRY'
[ "$out" = "$expect" ] || fail "dt nt!_LIST_ENTRY:"$'\n'"$out"

# 2. _KDPC exactly as WinDbg printed it in seed 002 (same layout in 19041)
# (the blog's page turned the spaces into no-break spaces, U+00A0)
sed -n '/^kd> dt nt!_KDPC$/,/^$/p' "$SEED" | sed -e 's/\xc2\xa0/ /g' -e '1d' -e '/^$/d' -e 's/[[:space:]]*$//' >"$T/kdpc.seed"
[ "$(wc -l <"$T/kdpc.seed")" -eq 11 ] || fail "seed 002: _KDPC block not found"
run "dt nt!_KDPC" >"$T/kdpc.out"
diff -u "$T/kdpc.seed" "$T/kdpc.out" >"$T/kdpc.diff" || fail "dt nt!_KDPC differs from seed 002: $(cat "$T/kdpc.diff")"

# facts from the table itself, read by Python
xz -dc "$TABLE" | python3 -c '
import json,sys
d=json.load(sys.stdin); u=d["user_types"]
ep=u["_EPROCESS"]
print("SIZE", hex(ep["size"]))
print("APL", ep["fields"]["ActiveProcessLinks"]["offset"])
print("IFN", ep["fields"]["ImageFileName"]["type"]["count"])
pf=u["_MMPTE_HARDWARE"]["fields"]["PageFrameNumber"]
print("PFN", pf["offset"], pf["type"]["bit_position"], pf["type"]["bit_length"])
print("PAGED", d["enums"]["_POOL_TYPE"]["constants"]["PagedPool"])
' >"$T/facts" || { echo "FAIL: python3 could not read $TABLE"; exit 1; }
size=$(awk '$1=="SIZE"{print $2}' "$T/facts")
apl=$(awk '$1=="APL"{print $2}' "$T/facts")
ifn=$(awk '$1=="IFN"{print $2}' "$T/facts")
read -r _ pfo pfp pfl < <(grep '^PFN' "$T/facts")
paged=$(awk '$1=="PAGED"{print $2}' "$T/facts")

# 3. ?? sizeof and #FIELD_OFFSET in WinDbg's C++ result shape
out=$(run "?? sizeof(nt!_EPROCESS)")
[ "$out" = "unsigned int64 $size" ] || fail "?? sizeof(nt!_EPROCESS): '$out', want 'unsigned int64 $size'"
out=$(run "?? #FIELD_OFFSET(nt!_EPROCESS, ActiveProcessLinks)")
[ "$out" = "long 0n$apl" ] || fail "?? #FIELD_OFFSET: '$out', want 'long 0n$apl'"

# 4. @@c++() inside a MASM expression
out=$(run "? @@c++(sizeof(nt!_EPROCESS))")
grep -q "^Evaluate expression: $((size)) = " <<<"$out" || fail "? @@c++(sizeof): '$out'"
out=$(run "? @@(#FIELD_OFFSET(nt!_EPROCESS, ActiveProcessLinks)) + 1")
grep -q "^Evaluate expression: $((apl + 1)) = " <<<"$out" || fail "? @@(#FIELD_OFFSET)+1: '$out'"

# 5. an instance: the first process on PsActiveProcessHead is System, PID 4
out=$(run "dt nt!_EPROCESS poi(nt!PsActiveProcessHead)-@@c++(#FIELD_OFFSET(nt!_EPROCESS, ActiveProcessLinks)) ImageFileName UniqueProcessId")
grep -q "^   +0x[0-9a-f]* ImageFileName   : \[$ifn\]  \"System\"$" <<<"$out" || fail "System's ImageFileName:"$'\n'"$out"
grep -q "^   +0x[0-9a-f]* UniqueProcessId : 0x00000000\`00000004 Void$" <<<"$out" || fail "System's UniqueProcessId:"$'\n'"$out"
# fields in offset order, names padded to the longest one shown
[ "$(head -1 <<<"$out" | awk '{print $2}')" = "UniqueProcessId" ] || fail "field order:"$'\n'"$out"

# 6. without a module: the header line names where the type was found
out=$(run "dt _LIST_ENTRY")
[ "$(head -1 <<<"$out")" = "nt!_LIST_ENTRY" ] || fail "dt _LIST_ENTRY header:"$'\n'"$out"

# 7. bitfields and enums
out=$(run "dt nt!_MMPTE_HARDWARE")
want=$(printf '   +0x%03x PageFrameNumber  : Pos %d, %d Bits' "$pfo" "$pfp" "$pfl")
grep -qx -- "$want" <<<"$out" || fail "PageFrameNumber: want '$want' in"$'\n'"$out"
out=$(run "dt nt!_POOL_TYPE")
grep -qx "   PagedPool = 0n$paged" <<<"$out" || fail "dt nt!_POOL_TYPE:"$'\n'"$out"

# 8. wildcard listing
out=$(run "dt nt!_KP*")
grep -qx "          nt!_KPRCB" <<<"$out" || fail "dt nt!_KP* lacks _KPRCB"
grep -qx "          nt!_KPROCESS" <<<"$out" || fail "dt nt!_KP* lacks _KPROCESS"
! grep -v "^          nt!_K[Pp]" <<<"$out" | grep -q . || fail "dt nt!_KP* lists others:"$'\n'"$out"

# 9. errors
out=$(run "dt nt!_NO_SUCH_TYPE")
[ "$out" = "Symbol nt!_NO_SUCH_TYPE not found." ] || fail "unknown type: '$out'"
out=$(run "?? sizeof(nt!_NO_SUCH_TYPE)")
grep -q "^Couldn't resolve error at 'nt!_NO_SUCH_TYPE" <<<"$out" || fail "?? unknown type: '$out'"

# 10. unreadable memory: ???? and the read error line
out=$(run "dt nt!_EPROCESS 0 UniqueProcessId")
grep -q "UniqueProcessId : ????" <<<"$out" || fail "unreadable field:"$'\n'"$out"
grep -q "^Memory read error 00000000\`00000" <<<"$out" || fail "no read error line:"$'\n'"$out"

# 11. JSON: the fields with names, offsets, types and values
"$NTKD" -z "$DUMP" -y "$ISF" --json -c "dt nt!_LIST_ENTRY poi(nt!PsActiveProcessHead)" 2>/dev/null >"$T/json"
python3 - "$T/json" <<'EOF' || fail "dt --json: $(cat "$T/json")"
import json, sys
docs = [json.loads(l) for l in open(sys.argv[1]) if l.strip()]
d = [x for x in docs if x.get("command", "").startswith("dt ")][0]
assert d["ok"] and d["type"] == "nt!_LIST_ENTRY" and d["size"] == 16, d
f = d["fields"]
assert [x["name"] for x in f] == ["Flink", "Blink"], f
assert [x["offset"] for x in f] == [0, 8], f
assert all(x["type"] == "Ptr64 _LIST_ENTRY" for x in f), f
assert all(x["value"].startswith("0xffff") and x["value"].endswith(" _LIST_ENTRY") for x in f), f
EOF

# 12. counted strings and function pointers on a real object: the driver object of amdppm.
# Python finds "\Driver\AmdPPM" (UTF-16) in the dump's triage data blocks (TRIAGE_DATA_BLOCK:
# u64 Address, u32 Offset, u32 Size; table from the header fields .dumpdebug shows), then the
# pointer to it: a UNICODE_STRING's Buffer, 8 bytes into the UNICODE_STRING.
dbg=$("$NTKD" -z "$DUMP" -c ".dumpdebug; q" 2>/dev/null)
dbo=$(awk '$1=="DataBlocksOffset"{print $2}' <<<"$dbg")
dbc=$(awk '$1=="DataBlocksCount"{print $2}' <<<"$dbg")
us=$(python3 -c '
import struct, sys
data = open(sys.argv[1], "rb").read()
off, cnt = int(sys.argv[2], 16), int(sys.argv[3], 16)
blocks = [struct.unpack_from("<QII", data, off + 16 * i) for i in range(cnt)]
def va_of(fo):
    for a, o, n in blocks:
        if o <= fo < o + n:
            return a + fo - o
s = data.find("\\Driver\\AmdPPM".encode("utf-16-le"))
p = data.find(struct.pack("<Q", va_of(s)))
print(hex(va_of(p) - 8))
' "$DUMP" "$dbo" "$dbc")
if [ -z "$us" ]; then
    fail "python could not locate the UNICODE_STRING of \\Driver\\AmdPPM"
else
    "$NTKD" -z "$DUMP" -y "$ISF" -c "dt nt!_UNICODE_STRING $us; dt nt!_DRIVER_OBJECT $us-@@c++(#FIELD_OFFSET(nt!_DRIVER_OBJECT, DriverName)) Type DriverName DriverStart DriverUnload; q" 2>/dev/null |
        sed -e 's/[[:space:]]*$//' >"$T/drv"
    grep -qx "   +0x000 Length           : 0x1c" "$T/drv" || fail "UNICODE_STRING Length: $(cat "$T/drv")"
    grep -q '^   +0x008 Buffer           : 0xffff[0-9a-f]*`[0-9a-f]*  "\\Driver\\AmdPPM' "$T/drv" || fail "UNICODE_STRING Buffer: $(cat "$T/drv")"
    # IO_TYPE_DRIVER is 4; the name prints as WinDbg prints counted strings
    grep -q '^   +0x000 Type         : 0n4$' "$T/drv" || fail "DRIVER_OBJECT Type: $(cat "$T/drv")"
    grep -q '^   +0x[0-9a-f]* DriverName   : _UNICODE_STRING "\\Driver\\AmdPPM"$' "$T/drv" || fail "DriverName: $(cat "$T/drv")"
    # DriverStart is amdppm's base in the driver list; DriverUnload a function pointer into it
    base=$("$NTKD" -z "$DUMP" -c "lm; q" 2>/dev/null | awk '$3=="amdppm"{print $1}')
    if [ -n "$base" ]; then
        grep -q "DriverStart  : 0x$base Void\$" "$T/drv" || fail "DriverStart is not amdppm's base $base: $(cat "$T/drv")"
    else
        fail "lm does not list amdppm"
    fi
    grep -q '^   +0x[0-9a-f]* DriverUnload : 0xfffff804`[0-9a-f]*     void  amdppm' "$T/drv" || fail "DriverUnload: $(cat "$T/drv")"
fi

if [ $fails -ne 0 ]; then
    echo "$fails check(s) failed"
    exit 1
fi
echo "dt: all checks passed"
