#!/bin/bash
# stack_kequals.sh: `k = BasePtr StackPtr InstructionPtr [count]` starts the walk from the given
# registers. On the corpus triage dump (seed 001 shows the command and its first frame) the walk
# from frame 01's (sp, pc) of the ordinary `k` must start at amdppm!WriteGenAddrEx+0x6b and then
# give exactly the rows of the ordinary `k` from frame 01 on; with a count, that many rows.
# usage: stack_kequals.sh NTKD_BIN GENDUMP CORPUS_DIR WORKDIR
set -u
NTKD=$1 CORPUS=$3 WORK=$4
DIR=$(mktemp -d "$WORK/stack_kequals.XXXXXX")
trap 'rm -rf "$DIR"' EXIT
fails=0
fail() { echo "FAIL: $*"; fails=$((fails + 1)); }

T=$CORPUS/dumps/kernel/triage-x64-19041.dmp
SYM=$CORPUS/symstore
SEED=001
# the rows of one command's output: the lines after its header up to the next prompt
rows() { C="$2" awk '$0 == "0: kd> " ENVIRON["C"] {on=1; next} /^[0-9]+: kd> /{on=0} on' "$1" | grep -E '^[0-9a-f]{8}`[0-9a-f]{8} '; }

"$NTKD" -q -z "$T" -y "$SYM" -c 'k; k = 0 ffff8504`29892150 fffff804`8b58313f; k = 0 ffff8504`29892150 fffff804`8b58313f 3; kn = 0 ffff8504`29892150 fffff804`8b58313f; q' \
    >"$DIR/out.txt" 2>"$DIR/err.txt" || fail "exit status $?"
rows "$DIR/out.txt" 'k' >"$DIR/k.rows"
rows "$DIR/out.txt" 'k = 0 ffff8504`29892150 fffff804`8b58313f' >"$DIR/ke.rows"
rows "$DIR/out.txt" 'k = 0 ffff8504`29892150 fffff804`8b58313f 3' >"$DIR/ke3.rows"
[ "$(wc -l <"$DIR/k.rows")" -gt 3 ] || { fail "k: too few rows"; cat "$DIR/out.txt"; }
# the ordinary k's frame 01 is the seed's (sp, pc): ffff8504`29892150, return into WriteGenAddrEx
sed -n 2p "$DIR/k.rows" | grep -q '^ffff8504`29892150 .* amdppm!WriteGenAddrEx+0x6b$' ||
    fail "k: frame 01 is not ffff8504\`29892150 amdppm!WriteGenAddrEx+0x6b: $(sed -n 2p "$DIR/k.rows")"
head -1 "$DIR/ke.rows" | grep -q '^ffff8504`29892150 fffff804`8b583234 amdppm!WriteGenAddrEx+0x6b$' ||
    fail "k =: first row $(head -1 "$DIR/ke.rows")"
tail -n +2 "$DIR/k.rows" >"$DIR/k1.rows"
cmp -s "$DIR/k1.rows" "$DIR/ke.rows" || { fail "k = differs from k's frames 01 on"; diff "$DIR/k1.rows" "$DIR/ke.rows" | head; }
[ "$(wc -l <"$DIR/ke3.rows")" -eq 3 ] || fail "k = ... 3: $(wc -l <"$DIR/ke3.rows") rows"
head -3 "$DIR/k1.rows" | cmp -s - "$DIR/ke3.rows" || fail "k = ... 3: not the first three rows"
# kn numbers the frames of the walk from 00
grep -A2 '> kn = ' "$DIR/out.txt" | grep -q '^00 ffff8504`29892150 ' || { fail "kn =: frame 00"; grep -A3 '> kn = ' "$DIR/out.txt"; }

# JSON: the same frames
"$NTKD" -q -z "$T" -y "$SYM" --json -c 'k; k = 0 ffff8504`29892150 fffff804`8b58313f' >"$DIR/out.json" 2>/dev/null ||
    fail "--json exit status"
python3 - "$DIR/out.json" <<'EOF' || fail "JSON: k = frames are not k's frames 01 on"
import json, sys
js = [json.loads(l) for l in open(sys.argv[1]) if l.strip()]
k, ke = js[0]['frames'], js[1]['frames']
assert int(ke[0]['pc'], 16) == 0xfffff8048b58313f and int(ke[0]['child_sp'], 16) == 0xffff850429892150, ke[0]
assert [(f['pc'], f['child_sp'], f['ret']) for f in k[1:]] == [(f['pc'], f['child_sp'], f['ret']) for f in ke], (k, ke)
EOF

# a malformed form is an error, not a walk from garbage
"$NTKD" -q -z "$T" -c 'k = 0 zzz' >"$DIR/bad.txt" 2>&1
grep -q "bad value 'zzz'" "$DIR/bad.txt" || { fail "k = 0 zzz: no error"; cat "$DIR/bad.txt"; }

[ $fails -eq 0 ] || { echo "$fails failure(s) (seed $SEED)"; exit 1; }
echo "stack_kequals: ok"
