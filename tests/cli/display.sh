#!/bin/bash
# display.sh: `r`, `dq`, `?`, `.formats` through the ntkd command line, in text and JSON, on a
# generated x64 full dump. Expected values come from the generator's manifest (registers,
# translations) and from the content pattern, recomputed here in Python.
# Usage: bash display.sh NTKD_BIN GENDUMP CORPUS_DIR WORKDIR
set -u
NTKD=$1
GEN=$2
WORK=$4
mkdir -p "$WORK"
DMP="$WORK/display_cli.dmp"
fail() { echo "FAIL: $*" >&2; exit 1; }

"$GEN" full64 "$DMP" --arch x64 --pages 64 --seed 11 >/dev/null 2>&1 || fail "the generator could not write $DMP"
MF="$DMP.manifest"
[ -f "$MF" ] || fail "no manifest"

# a 4 KB mapping onto a data page, and the expected content (the pattern is splitmix64's
# finaliser of seed ^ (pa >> 3), little-endian, per 8-byte word)
read -r VA PA < <(python3 - "$MF" <<'EOF'
import sys
data, maps = set(), []
for line in open(sys.argv[1]):
    f = line.split()
    if len(f) >= 3 and f[0] == 'phys' and f[2] == 'data':
        data.add(int(f[1], 16))
    if len(f) == 4 and f[0] == 'map' and f[3] == '4k':
        maps.append((int(f[1], 16), int(f[2], 16)))
for va, pa in maps:
    if pa >> 12 in data:
        print('%x %x' % (va + 0x100, pa + 0x100))
        break
EOF
)
[ -n "${VA:-}" ] || fail "no mapped data page in the manifest"
RIP=$(awk '$1=="reg" && $2=="rip" {print $3}' "$MF")
RSP=$(awk '$1=="reg" && $2=="rsp" {print $3}' "$MF")
[ -n "$RIP" ] && [ -n "$RSP" ] || fail "no rip/rsp in the manifest"

"$NTKD" -z "$DMP" -c "r; dq $VA L4; ? 1+2*3; .formats 0n10; q" >"$WORK/display_text.out" 2>&1 ||
    fail "ntkd exited with $?: $(cat "$WORK/display_text.out")"

python3 - "$MF" "$VA" "$PA" "$WORK/display_text.out" <<'EOF' || exit 1
import sys
mf, va, pa = sys.argv[1], int(sys.argv[2], 16), int(sys.argv[3], 16)
out = open(sys.argv[4]).read()
seed = 11
regs = {}
for line in open(mf):
    f = line.split()
    if f and f[0] == 'seed': seed = int(f[1], 16)
    if len(f) == 3 and f[0] == 'reg': regs[f[1]] = int(f[2], 16)
M = (1 << 64) - 1
def mix(z):
    z = ((z ^ (z >> 30)) * 0xbf58476d1ce4e5b9) & M
    z = ((z ^ (z >> 27)) * 0x94d049bb133111eb) & M
    return z ^ (z >> 31)
def q(a): return mix(seed ^ (a >> 3))
def w(v): return '%08x`%08x' % (v >> 32, v & 0xffffffff)
lines = out.splitlines()
def need(s):
    if s not in lines:
        print('FAIL: missing line %r in:\n%s' % (s, out)); sys.exit(1)
# r: WinDbg's register block
need('rax=%016x rbx=%016x rcx=%016x' % (regs['rax'], regs['rbx'], regs['rcx']))
need('rip=%016x rsp=%016x rbp=%016x' % (regs['rip'], regs['rsp'], regs['rbp']))
need(' r8=%016x  r9=%016x r10=%016x' % (regs['r8'], regs['r9'], regs['r10']))
need('cs=%04x  ss=%04x  ds=%04x  es=%04x  fs=%04x  gs=%04x             efl=%08x' %
     (regs['cs'], regs['ss'], regs['ds'], regs['es'], regs['fs'], regs['gs'], regs['efl']))
if not any(l.startswith(w(regs['rip']) + ' ') for l in lines):
    print('FAIL: no instruction line at rip'); sys.exit(1)
# dq: two lines of two quadwords
need('%s  %s %s' % (w(va), w(q(pa)), w(q(pa + 8))))
need('%s  %s %s' % (w(va + 16), w(q(pa + 16)), w(q(pa + 24))))
# ? and .formats
need('Evaluate expression: 7 = 00000000`00000007')
need('  Hex:     00000000`0000000a')
need('  Decimal: 10')
need('  Octal:   0000000000000000000012')
need('  Binary:  00000000 00000000 00000000 00000000 00000000 00000000 00000000 00001010')
EOF

# JSON: one object per command
"$NTKD" -z "$DMP" --json -c "r; dq $VA L4; ? 1+2*3; .formats 0n10; ? nosuchsymbol" \
    >"$WORK/display_json.out" 2>/dev/null
RC=$?
[ "$RC" -eq 1 ] || fail "a failing command should make ntkd exit 1, got $RC"
python3 - "$MF" "$VA" "$PA" "$WORK/display_json.out" <<'EOF' || exit 1
import sys, json
mf, va, pa = sys.argv[1], int(sys.argv[2], 16), int(sys.argv[3], 16)
js = open(sys.argv[4]).read()
seed = 11
regs = {}
for line in open(mf):
    f = line.split()
    if f and f[0] == 'seed': seed = int(f[1], 16)
    if len(f) == 3 and f[0] == 'reg': regs[f[1]] = int(f[2], 16)
M = (1 << 64) - 1
def mix(z):
    z = ((z ^ (z >> 30)) * 0xbf58476d1ce4e5b9) & M
    z = ((z ^ (z >> 27)) * 0x94d049bb133111eb) & M
    return z ^ (z >> 31)
def q(a): return mix(seed ^ (a >> 3))
objs = [json.loads(l) for l in js.splitlines() if l.strip()]
def check(c, msg):
    if not c:
        print('FAIL:', msg); print(js); sys.exit(1)
check(len(objs) == 5, 'five JSON objects')
r, dq, ev, fm, bad = objs
check(r['ok'] and r['command'] == 'r', 'r ok')
for name in ('rax', 'rbx', 'rip', 'rsp', 'r15', 'efl', 'cs'):
    check(int(r['registers'][name], 16) == regs[name], 'register %s' % name)
check(r['flags'] == 'nv up ei pl zr na pe nc', 'flags of efl %x' % regs['efl'])
check(int(r['instruction']['address'], 16) == regs['rip'], 'instruction address')
check(dq['ok'] and dq['unit_size'] == 8 and dq['count'] == 4, 'dq header')
vals = [int(v, 16) for l in dq['lines'] for v in l['values']]
check(vals == [q(pa + 8 * i) for i in range(4)], 'dq values')
check(int(dq['lines'][1]['address'], 16) == va + 16, 'dq second line address')
check(dq['missing'] == 0, 'nothing missing')
check(ev['ok'] and int(ev['value'], 16) == 7 and ev['decimal'] == 7, '? value')
check(fm['ok'] and fm['decimal'] == 10 and fm['hex'] == '00000000`0000000a', '.formats')
check(fm['octal'] == '0000000000000000000012', '.formats octal')
check(not bad['ok'] and bad['error'] == "Couldn't resolve error at 'nosuchsymbol'", 'error object')
EOF

rm -f "$DMP" "$MF" "$WORK/display_text.out" "$WORK/display_json.out"
echo "display.sh: ok"
