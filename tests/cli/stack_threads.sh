#!/bin/bash
# stack_threads.sh: `~*k`, `~* k`, `~Nk` on the corpus's three user minidumps: every thread's
# stack, each after WinDbg's thread line ("\n   0  Id: d28.d64 Suspend: 1 Teb: ... Unfrozen"),
# each ending with the walk's reason; `~0k` is thread 0's stack alone; the current thread is
# restored afterwards; exit 0.
# Facts: the minidumps' own thread lists (MINIDUMP_THREAD_LIST, read here with Python from the
# file: stream type 3, NumberOfThreads, then 48-byte MINIDUMP_THREADs whose first field is the
# ThreadId), and the JSON of the same commands.
# usage: stack_threads.sh NTKD_BIN GENDUMP CORPUS_DIR WORKDIR
set -u
NTKD=$1 CORPUS=$3 WORK=$4
DIR=$(mktemp -d "$WORK/stack_threads.XXXXXX")
trap '[ -n "${KEEP:-}" ] || rm -rf "$DIR"' EXIT
fails=0
fail() { echo "FAIL: $*"; fails=$((fails + 1)); }

# The thread ids of a minidump, in file order, one hex id per line.
thread_ids() {
    python3 - "$1" <<'EOF'
import struct, sys
b = open(sys.argv[1], 'rb').read()
sig, ver, nstreams, rva = struct.unpack_from('<IIII', b, 0)
assert sig == 0x504d444d
for i in range(nstreams):
    typ, size, loc = struct.unpack_from('<III', b, rva + 12 * i)
    if typ == 3:
        n = struct.unpack_from('<I', b, loc)[0]
        for k in range(n):
            print('%x' % struct.unpack_from('<I', b, loc + 4 + 48 * k)[0])
EOF
}

for name in calc-x64-win7 crashtest-x64-1803 breakpad-x86-xp; do
    D=$CORPUS/dumps/user/$name.dmp
    [ -f "$D" ] || { fail "$name: missing"; continue; }
    mapfile -t ids < <(thread_ids "$D")
    n=${#ids[@]}
    [ "$n" -gt 0 ] || { fail "$name: no threads in the file's thread list"; continue; }
    out=$DIR/$name.txt
    "$NTKD" -q -z "$D" -c "~; ~*k; ~; q" >"$out" 2>"$DIR/$name.err"
    rc=$?
    [ $rc -eq 0 ] || fail "$name: ~*k exit $rc"
    # the section of ~*k: from its prompt line to the next prompt
    sec=$DIR/$name.sec
    awk '/> ~\*k$/{on=1; next} /^[0-9]+:[0-9]+> /{on=0} on' "$out" >"$sec"
    # one thread line per thread, preceded by an empty line, with the file's ids in order
    hre='^[ .#] *[0-9]+  Id: [0-9a-f]+\.([0-9a-f]+) Suspend: [0-9]+ Teb: [0-9a-f`]+ Unfrozen$'
    mapfile -t got < <(grep -E "$hre" "$sec" | sed -E "s/$hre/\\1/")
    [ "${#got[@]}" -eq "$n" ] || fail "$name: ${#got[@]} thread lines in ~*k, the file lists $n threads"
    for ((i = 0; i < n && i < ${#got[@]}; i++)); do
        [ "${got[$i]}" = "${ids[$i]}" ] || fail "$name: thread $i id ${got[$i]}, the file says ${ids[$i]}"
    done
    blanks=$(grep -B1 -E "$hre" "$sec" | grep -c '^$')
    [ "$blanks" -eq "$n" ] || fail "$name: $blanks of $n thread lines follow an empty line"
    # every thread: a stack header right after its line, and a reason at the end of its stack
    heads=$(grep -A1 -E "$hre" "$sec" | grep -cE '^(Child-SP +RetAddr +Call Site|ChildEBP RetAddr  Call Site)$')
    [ "$heads" -eq "$n" ] || fail "$name: $heads of $n threads have a stack header"
    ends=$(awk -v re="$hre" '$0 ~ re {if (started && !ended) bad++; started=1; ended=0; next}
                              /^\(stack walk ended: .+\)$/ {ended=1}
                              END {if (started && !ended) bad++; print bad + 0}' "$sec")
    [ "$ends" -eq 0 ] || fail "$name: $ends threads without a '(stack walk ended: ...)' line"
    # the current thread is the same before and after (two `~` listings agree)
    cur=$(grep -E '^\. *[0-9]+  Id: ' "$out" | sort -u | wc -l)
    [ "$cur" -eq 1 ] || { fail "$name: the current thread changed across ~*k"; grep -E '^\. *[0-9]+  Id: ' "$out"; }
    # `~* k` is the same command; `~0k` is thread 0's section of `~*k`
    "$NTKD" -q -z "$D" -c "~* k; q" 2>/dev/null | awk '/> ~\* k$/{on=1; next} /^[0-9]+:[0-9]+> /{on=0} on' >"$DIR/$name.sp"
    cmp -s "$sec" "$DIR/$name.sp" || fail "$name: '~* k' differs from '~*k'"
    "$NTKD" -q -z "$D" -c "~0k; q" 2>/dev/null | awk '/> ~0k$/{on=1; next} /^[0-9]+:[0-9]+> /{on=0} on' >"$DIR/$name.t0"
    # (without the thread line: WinDbg prints it for ~* only)
    awk -v re="$hre" '$0 ~ re {k++; next} k == 2 {exit} k == 1 {print}' "$sec" | sed -e :a -e '/^\n*$/{$d;N;ba' -e '}' >"$DIR/$name.t0want"
    sed -e :a -e '/^\n*$/{$d;N;ba' -e '}' "$DIR/$name.t0" >"$DIR/$name.t0got"
    cmp -s "$DIR/$name.t0want" "$DIR/$name.t0got" ||
        { fail "$name: ~0k is not thread 0's part of ~*k"; diff "$DIR/$name.t0want" "$DIR/$name.t0got" | head; }
    # JSON: one entry per thread, with the thread id and the k result's frames and stop reason
    "$NTKD" -q -z "$D" --json -c "~*k; q" >"$DIR/$name.json" 2>/dev/null || fail "$name: --json ~*k failed"
    python3 - "$DIR/$name.json" "${ids[@]}" <<'EOF' || fail "$name: JSON of ~*k"
import json, sys
js = [json.loads(l) for l in open(sys.argv[1]) if l.strip()]
j = [x for x in js if x.get('command') == '~*k'][0]
assert j['ok'], j
th = j['threads']
ids = [int(x, 16) for x in sys.argv[2:]]
assert [int(t['id'], 16) for t in th] == ids, th
for t in th:
    r = t['result']
    assert r['ok'] and r['command'] == 'k', r
    assert any(isinstance(v, list) and v for v in r.values()), r
EOF
done

# a thread number out of range is an error
"$NTKD" -q -z "$CORPUS/dumps/user/breakpad-x86-xp.dmp" -c "~9k; q" >"$DIR/bad.txt" 2>&1
grep -q "Illegal thread" "$DIR/bad.txt" || { fail "~9k on a 2-thread dump: no error"; cat "$DIR/bad.txt"; }

[ $fails -eq 0 ] || { echo "$fails failure(s)"; exit 1; }
echo "stack_threads: ok"
