#!/bin/bash
# stack.sh: the stack walker, x64 unwinding, the k family, .fnent, .frame, .cxr.
# Independent oracles:
#  (1) triage-x64-19041.dmp: a Python unwinder below reads the triage header (context, call-stack
#      region at CallStackOffset/SizeOfCallStack/TopOfStack, driver list), the .pdata/.xdata of
#      amdppm.sys and Wdf01000.sys from the corpus symbol store, and unwinds on its own; every
#      frame ntkd prints up to the return into nt!IofCallDriver must match (pc and Child-SP),
#      with no guess among them; each return address must follow a call instruction in the
#      image bytes. Below, ntoskrnl has no image: frames are scan guesses or the walk stops.
#  (2) the KPRCB context (nt!KeBugCheckEx, corpus README): ntkd says the image is missing.
#  (3) .fnent on the seh x64 fixtures agrees with llvm-objdump-14 --unwind-info; on amdppm
#      functions with the Python decoder.
#  (4) a program built here with clang-cl-14/lld-link-14; a stack laid out by simulating its
#      prologues as llvm-objdump describes them; ntkd must return the known chain and the
#      nonvolatile registers the simulation saved.
#  (5) user dumps: k on every thread ends with a reason and does not crash.
# usage: stack.sh NTKD_BIN GENDUMP CORPUS_DIR WORKDIR
set -u
NTKD=$1 GEN=$2 CORPUS=$3 WORK=$4
DIR=$(mktemp -d "$WORK/stack.XXXXXX")
trap 'rm -rf "$DIR"' EXIT
fails=0
fail() { echo "FAIL: $*"; fails=$((fails + 1)); }
TRI=$CORPUS/dumps/kernel/triage-x64-19041.dmp
SYM="$CORPUS/symstore;$CORPUS/isf"

# ---- (1) triage: exact frames through amdppm and Wdf01000 --------------------------------
cat >"$DIR/tri.py" <<'EOF'
import struct, sys, os, json
dump, store = sys.argv[1], sys.argv[2]
d = open(dump, 'rb').read()
u32 = lambda b, o: struct.unpack_from('<I', b, o)[0]
u64 = lambda b, o: struct.unpack_from('<Q', b, o)[0]
assert d[:8] == b'PAGEDU64'
T = 0x2000  # TRIAGE_DUMP64 follows the first page of the 64-bit header
ctx_off, cs_off, cs_size = u32(d, T + 0xc), u32(d, T + 0x28), u32(d, T + 0x2c)
drv_off, drv_cnt, top = u32(d, T + 0x30), u32(d, T + 0x34), u64(d, T + 0x48)
rip, rsp = u64(d, ctx_off + 0xf8), u64(d, ctx_off + 0x98)       # CONTEXT.Rip / Rsp
regs = {i: u64(d, ctx_off + 0x78 + 8 * i) for i in range(16)}  # Rax.. in unwind order
def stk(va):
    if not (top <= va and va + 8 <= top + cs_size): raise KeyError(hex(va))
    return u64(d, cs_off + va - top)
mods = []
for i in range(drv_cnt):  # DUMP_DRIVER_ENTRY64: name (DUMP_STRING offset), LDR entry copy
    e = drv_off + 0x90 * i
    no = u32(d, e); n = u32(d, no)
    name = d[no + 4: no + 4 + 2 * n].decode('utf-16le').split('\\')[-1]
    mods.append((name, u64(d, e + 0x38), u32(d, e + 0x48), u32(d, e + 0x88)))
class PE:
    def __init__(s, path):
        b = open(path, 'rb').read(); s.b = b
        pe = u32(b, 0x3c); nsec = struct.unpack_from('<H', b, pe + 6)[0]; opt = struct.unpack_from('<H', b, pe + 20)[0]
        oh = pe + 24
        s.pdata, s.pdsize = u32(b, oh + 112 + 24), u32(b, oh + 112 + 28)
        s.secs = []
        for k in range(nsec):
            sh = oh + opt + 40 * k
            s.secs.append((u32(b, sh + 12), max(u32(b, sh + 8), u32(b, sh + 16)), u32(b, sh + 20), u32(b, sh + 16)))
    def rd(s, rva, n):
        for va, vs, ro, rs in s.secs:
            if va <= rva < va + vs:
                o = rva - va
                return (s.b[ro + o: ro + min(o + n, rs)] + b'\0' * n)[:n]
        raise KeyError(hex(rva))
    def funcs(s):
        return [struct.unpack('<III', s.rd(s.pdata + 12 * k, 12)) for k in range(s.pdsize // 12)]
    def func(s, rva):
        for bg, en, ui in s.funcs():
            if bg <= rva < en: return bg, en, ui
        return None
images = {}
for name, base, size, ts in mods:
    key = '%08X%x' % (ts, size)
    ps = [os.path.join(store, name, k, name) for k in (key, key.lower())]
    ps = [p for p in ps if os.path.exists(p)]
    if ps: images[name] = (base, size, PE(ps[0]))
def mod_of(va):
    for name, base, size, ts in mods:
        if base <= va < base + size: return name, base
    return None, None
def follows_call(pe, rva):
    # e8 rel32; ff d0+r / 41 ff d0+r (call reg); ff 15 disp32 (call [rip+d]); an import call
    # the loader rewrites through the dynamic value relocation table leaves `ff 15` one byte
    # later in the file than the call it becomes in memory (ret at ff15 + 5)
    b = pe.rd(rva - 8, 8)
    return b[3] == 0xe8 or (b[6] == 0xff and b[7] & 0xf8 == 0xd0) or (b[2] == 0xff and b[3] == 0x15) or \
        (b[3] == 0xff and b[4] == 0x15)
frames, calls = [], []
for _ in range(64):
    name, base = mod_of(rip)
    frames.append((rip, rsp))
    if name not in images: break
    pe = images[name][2]
    f = pe.func(rip - base)
    if f is None:
        rip = stk(rsp); rsp += 8; continue
    bg, en, ui = f
    off = rip - base - bg
    first = True
    while True:
        h = pe.rd(ui, 4); ver, flags, cnt, fr = h[0] & 7, h[0] >> 3, h[2], h[3]
        codes = pe.rd(ui + 4, 2 * cnt)
        fbase = rsp
        if fr & 15: fbase = regs[fr & 15] - 16 * (fr >> 4)
        i = 0
        while i < cnt:
            co, op, info = codes[2 * i], codes[2 * i + 1] & 15, codes[2 * i + 1] >> 4
            n = {0: 1, 1: 2 if info == 0 else 3, 2: 1, 3: 1, 4: 2, 5: 3, 6: 1, 8: 2, 9: 3, 10: 1}[op]
            live = ((not first) or co <= off) and op != 6
            if live:
                if op == 0: regs[info] = stk(rsp); rsp += 8
                elif op == 1: rsp += (struct.unpack_from('<H', codes, 2 * i + 2)[0] * 8) if info == 0 else u32(codes, 2 * i + 2)
                elif op == 2: rsp += 8 * info + 8
                elif op == 3: rsp = regs[fr & 15] - 16 * (fr >> 4)
                elif op == 4: regs[info] = stk(fbase + 8 * struct.unpack_from('<H', codes, 2 * i + 2)[0])
                elif op == 5: regs[info] = stk(fbase + u32(codes, 2 * i + 2))
                elif op == 10: raise SystemExit('machine frame not expected here')
            i += n
        if flags & 4:
            bg, en, ui = struct.unpack('<III', pe.rd(ui + 4 + 2 * (cnt + (cnt & 1)), 12)); first = False
            continue
        break
    rip = stk(rsp); rsp += 8
    cm, cb = mod_of(rip)
    calls.append(follows_call(images[cm][2], rip - cb) if cm in images else None)
amd = images['amdppm.sys']
chained = []  # (begin, parent begin, parent end, parent unwind, primary begin)
for bg, en, ui in amd[2].funcs():
    if ui & 1 or not (amd[2].rd(ui, 1)[0] >> 3) & 4: continue
    cnt = amd[2].rd(ui + 2, 1)[0]
    par = struct.unpack('<III', amd[2].rd(ui + 4 + 2 * (cnt + (cnt & 1)), 12))
    p = par
    for _ in range(32):
        h = amd[2].rd(p[2], 4)
        if not (h[0] >> 3) & 4: break
        p = struct.unpack('<III', amd[2].rd(p[2] + 4 + 2 * (h[2] + (h[2] & 1)), 12))
    chained.append([bg, par[0], par[1], par[2], p[0]])
json.dump({'amdppm_chained': chained[:5], 'frames': [[a, b] for a, b in frames], 'calls': calls,
           'amdppm_base': amd[0], 'amdppm_funcs': amd[2].funcs()[:40],
           'amdppm_hdr': [list(amd[2].rd(ui & ~1, 4)) for _, _, ui in amd[2].funcs()[:40]]}, sys.stdout)
EOF
python3 "$DIR/tri.py" "$TRI" "$CORPUS/symstore" >"$DIR/oracle.json" || fail "triage oracle failed"
"$NTKD" --json -y "$SYM" -z "$TRI" -c "k 100" >"$DIR/k.json" 2>"$DIR/k.err" || fail "k --json exit status"
"$NTKD" -y "$SYM" -z "$TRI" -c "kn 100" >"$DIR/k.txt" 2>&1
python3 - "$DIR/oracle.json" "$DIR/k.json" <<'EOF' || fail "triage frames differ from the independent unwind"
import json, sys
o = json.load(open(sys.argv[1]))
k = [json.loads(l) for l in open(sys.argv[2]) if l.strip()][-1]
fr = k['frames']
exp = o['frames']
assert len(exp) >= 17, exp
# the oracle ends at the first frame outside amdppm/Wdf01000: nt!IofCallDriver
ok = True
for i, (pc, sp) in enumerate(exp):
    f = fr[i]
    if int(f['pc'], 16) != pc or int(f['child_sp'], 16) != sp:
        print('frame %d: ntkd pc %s sp %s, oracle %x %x' % (i, f['pc'], f['child_sp'], pc, sp)); ok = False
    if i < len(exp) - 1 and int(f['ret'], 16) != exp[i + 1][0]:
        print('frame %d: ret %s, oracle %x' % (i, f['ret'], exp[i + 1][0])); ok = False
    if f['guess']:
        print('frame %d is a guess' % i); ok = False
assert all(c for c in o['calls'][:-1] if c is not None), o['calls']
last = fr[len(exp) - 1]
assert last['call_site'].startswith('nt!IofCallDriver+'), last
assert 'image not in dump or symbol store' in last.get('note', ''), last
# frames below nt!IofCallDriver: guesses found by scanning, never certain
for f in fr[len(exp):]:
    assert f['guess'], f
assert k['stop'], k
sys.exit(0 if ok else 1)
EOF
# the text shape (seed 002): header, numbered rows, the trapping frame first
grep -q '^ # Child-SP          RetAddr           Call Site$' "$DIR/k.txt" || fail "kn header"
grep -q '^00 ffff8504`29892120 fffff804`8b58313f amdppm!WriteIoMemRawEx+0x70$' "$DIR/k.txt" || { fail "kn frame 00"; head -5 "$DIR/k.txt"; }
grep -q '(stack scan: guess)' "$DIR/k.txt" || fail "scan frames not marked"
grep -q '^(stack walk ended: ' "$DIR/k.txt" || fail "no stop reason"
# kc: call sites only; kb: the args columns (seed 000); k 3 limits frames
"$NTKD" -y "$SYM" -z "$TRI" -c "kc 2; kb 1; k 3" >"$DIR/kc.txt" 2>&1
grep -qx 'amdppm!WriteIoMemRawEx' "$DIR/kc.txt" || fail "kc"
grep -q '^Child-SP          RetAddr           : Args to Child                                                           : Call Site$' "$DIR/kc.txt" || fail "kb header"
grep -qE '^ffff8504`29892120 fffff804`8b58313f : ([0-9a-f]{8}`[0-9a-f]{8} ){4}: amdppm!WriteIoMemRawEx\+0x70$' "$DIR/kc.txt" || fail "kb row"
[ "$(grep -c '^ffff8504`2989' "$DIR/kc.txt")" = 4 ] || fail "k 3 / kb 1 counts"
# .frame /r: frame 1's rsp is frame 1's Child-SP (oracle: ffff8504`29892150); r follows .frame
"$NTKD" -y "$SYM" -z "$TRI" -c ".frame /r 1; r rsp; .frame 0; r rsp" >"$DIR/frame.txt" 2>&1
grep -q '^01 ffff8504`29892150 ' "$DIR/frame.txt" || fail ".frame 1 line"
grep -q 'rsp=ffff850429892150' "$DIR/frame.txt" || fail ".frame /r registers"
[ "$(grep -c '^rsp=' "$DIR/frame.txt")" = 2 ] && grep -q '^rsp=ffff850429892120$' "$DIR/frame.txt" || fail "r after .frame 0"
# k = BasePtr StackPtr InstructionPtr from frame 1's values gives frame 1 first
"$NTKD" -y "$SYM" -z "$TRI" -c 'k = 0 ffff8504`29892150 fffff804`8b58313f 2' >"$DIR/keq.txt" 2>&1
grep -q '^ffff8504`29892150 fffff804`8b583234 amdppm!WriteGenAddrEx+0x6b$' "$DIR/keq.txt" || { fail "k = bp sp ip"; cat "$DIR/keq.txt"; }

# .cxr: bug check 0x1000007E's fourth parameter is the CONTEXT record's address (corpus README:
# ffff850429891720); switching to it gives the trapping frame; .cxr alone goes back
"$NTKD" -y "$SYM" -z "$TRI" -c ".cxr ffff850429891720; k 1; .cxr; k 1" >"$DIR/cxr.txt" 2>&1
grep -q '^rip=fffff8048b58334c rsp=ffff850429892120 ' "$DIR/cxr.txt" || fail ".cxr registers"
[ "$(grep -c '^ffff8504`29892120 fffff804`8b58313f amdppm!WriteIoMemRawEx+0x70$' "$DIR/cxr.txt")" = 2 ] || fail ".cxr k"

# ---- (2) the KPRCB context: nt!KeBugCheckEx, no ntoskrnl image ---------------------------
"$NTKD" --json -y "$SYM" -z "$TRI" -c ".cxr /c 1; k 30" >"$DIR/prcb.json" 2>&1
python3 - "$DIR/prcb.json" <<'EOF' || fail "KPRCB context walk"
import json, sys
js = [json.loads(l) for l in open(sys.argv[1]) if l.strip()]
k = js[-1]
f = k['frames']
assert f[0]['call_site'] == 'nt!KeBugCheckEx', f[0]
assert 'nt image not in dump or symbol store' in f[0].get('note', '') or \
       'nt image not in dump or symbol store' in k['stop'], (f[0], k['stop'])
assert all(x['guess'] for x in f[1:]), f
assert k['stop']
EOF

# ---- (3) .fnent against llvm-objdump (fixtures) and the Python decoder (amdppm) -----------
for exe in "$CORPUS"/pdb-fixtures/seh/x64/*.exe; do
    [ -f "$exe" ] || continue
    n=$(basename "$exe")
    llvm-objdump-14 --unwind-info "$exe" >"$DIR/$n.llvm" 2>/dev/null || { fail "$n: llvm-objdump"; continue; }
    python3 - "$DIR/$n.llvm" "$NTKD" "$exe" <<'EOF' || fail "$n: .fnent differs from llvm-objdump"
import json, re, subprocess, sys
txt = open(sys.argv[1]).read()
ents = txt.split('Function Table:')[1:]
names = {'UOP_PushNonVol': 0, 'UOP_AllocLarge': 1, 'UOP_AllocSmall': 2, 'UOP_SetFPReg': 3, 'UOP_SaveNonVol': 4,
         'UOP_SaveNonVolBig': 5, 'UOP_SaveXMM128': 8, 'UOP_SaveXMM128Big': 9, 'UOP_PushMachFrame': 10}
regs = ['RAX', 'RCX', 'RDX', 'RBX', 'RSP', 'RBP', 'RSI', 'RDI'] + ['R%d' % i for i in range(8, 16)]
want, cmds = [], []
for e in ents[:60]:
    g = lambda k: re.search(k + r': (\S+)', e).group(1)
    start = int(g('Start Address'), 16)
    if re.search(r'Flags: \d+ UNW_ChainInfo', e) and 'Chained' not in e: pass
    codes = re.findall(r'0x([0-9a-f]+): (UOP_\w+)(?: (\S+))?', e.split('Unwind Codes:')[1].split('\n\n')[0] if 'Unwind Codes:' in e else '')
    want.append((start, int(g('End Address'), 16), int(g('Unwind Info Address'), 16), int(g('Version')),
                 int(g('Flags')), int(g('Size of prolog')), int(g('Number of Codes')), codes))
    cmds.append('.fnent 0x%x' % (0x140000000 + start))
out = subprocess.run([sys.argv[2], '--json', '-z', sys.argv[3], '-c', '; '.join(cmds)], capture_output=True, text=True).stdout
js = [json.loads(l) for l in out.splitlines() if l.strip()]
assert len(js) == len(want), (len(js), len(want))
bad = 0
for w, j in zip(want, js):
    f = j.get('function')
    if not f: print('no entry', w[0]); bad += 1; continue
    got = (int(f['begin'], 16), int(f['end'], 16), int(f['unwind_info'], 16), f['version'], f['flags'], f['prolog'], f['codes'])
    if got != w[:7]: print('header', got, w[:7]); bad += 1
    ours = [(c['offset'], c['op'], c['info'], c['value']) for c in f['unwind_codes'] if c['op'] != 6]
    theirs = [(int(o, 16), names[n], a) for o, n, a in w[7]]
    if len(ours) != len(theirs): print('codes', ours, theirs); bad += 1; continue
    for (oo, op, info, val), (to, top, arg) in zip(ours, theirs):
        ok = oo == to and op == top
        if op in (0, 4, 5) and arg is not None: ok = ok and regs[info] == arg
        if op == 2 and arg is not None: ok = ok and val == int(arg)
        # llvm-objdump prints UOP_AllocLarge's stored field: 8-byte units for op info 0
        if op == 1 and arg is not None: ok = ok and val == int(arg) * (8 if info == 0 else 1)
        if not ok: print('code', (oo, op, info, val), (to, top, arg)); bad += 1
sys.exit(1 if bad else 0)
EOF
done
# amdppm: .fnent on the first functions of its .pdata agrees with the Python decoder
python3 - "$DIR/oracle.json" "$NTKD" "$TRI" "$SYM" <<'EOF' || fail "amdppm .fnent"
import json, subprocess, sys
o = json.load(open(sys.argv[1]))
base = o['amdppm_base']
cmds = ['.fnent 0x%x' % (base + bg) for bg, en, ui in o['amdppm_funcs']]
out = subprocess.run([sys.argv[2], '--json', '-y', sys.argv[4], '-z', sys.argv[3], '-c', '; '.join(cmds)],
                     capture_output=True, text=True).stdout
js = [json.loads(l) for l in out.splitlines() if l.strip()]
assert len(js) == len(cmds)
for (bg, en, ui), h, j in zip(o['amdppm_funcs'], o['amdppm_hdr'], js):
    f = j['function']
    assert (int(f['begin'], 16), int(f['end'], 16), int(f['unwind_info'], 16)) == (bg, en, ui), (f, bg)
    if not ui & 1:
        assert (f['version'], f['flags'], f['prolog'], f['codes']) == (h[0] & 7, h[0] >> 3, h[1], h[2]), (f, h)
EOF
# chained entries: "Chained info:" with the parent entry, and the primary function named
python3 - "$DIR/oracle.json" "$NTKD" "$TRI" "$SYM" <<'EOF' || fail "amdppm chained .fnent"
import json, re, subprocess, sys
o = json.load(open(sys.argv[1]))
base = o['amdppm_base']
assert o['amdppm_chained'], 'amdppm has chained entries'
for bg, pb, pe, pu, prim in o['amdppm_chained']:
    out = subprocess.run([sys.argv[2], '-y', sys.argv[4], '-z', sys.argv[3], '-c', '.fnent 0x%x' % (base + bg)],
                         capture_output=True, text=True).stdout
    ch = out.split('Chained info:\n')
    assert len(ch) >= 2, out
    assert 'BeginAddress      = 00000000`%08x' % pb in ch[1] and 'EndAddress        = 00000000`%08x' % pe in ch[1] \
        and 'UnwindInfoAddress = 00000000`%08x' % pu in ch[1], (bg, ch[1])
    m = re.search(r'Primary function \(through \d+ chain links?\): (\S+) \((\S+)\)', out)
    assert m and int(m.group(2).replace('`', ''), 16) == base + prim, (bg, out)
    assert m.group(1).startswith('amdppm!'), m.group(1)
EOF
# .fnent text shape (seeds 002/003)
"$NTKD" -y "$SYM" -z "$TRI" -c ".fnent amdppm!InitAcpiCpc" >"$DIR/fnent.txt" 2>&1
for re in '^Debugger function entry [0-9a-f]{8}`[0-9a-f]{8} for:$' '^BeginAddress      = 00000000`[0-9a-f]{8}$' \
          '^EndAddress        = 00000000`[0-9a-f]{8}$' '^UnwindInfoAddress = 00000000`[0-9a-f]{8}$' \
          '^Unwind info at fffff804`8b5[0-9a-f]{5}, [0-9a-f]+ bytes$' '^  version [12], flags [0-9a-f]+, prolog [0-9a-f]+, codes [0-9a-f]+$' \
          '^  [0-9a-f]{2}: offs [0-9a-f]+, unwind op [0-9], op info [0-9a-f]	UWOP_PUSH_NONVOL reg: r[a-z0-9]+\.$'; do
    grep -qE "$re" "$DIR/fnent.txt" || { fail ".fnent shape: $re"; }
done

# ---- (4) a program built here, a stack laid out by simulating its prologues ---------------
if command -v clang-cl-14 >/dev/null && command -v lld-link-14 >/dev/null; then
cat >"$DIR/prog.c" <<'EOF'
/* call chain with known prologue shapes: large allocation, frame pointer (alloca), many
   nonvolatile registers */
typedef unsigned long long u64;
__declspec(allocate(".data")) char ntkd_stack[0x10000] = "NTKDSTACKMARKER!";
volatile u64 sink;
void *_alloca(unsigned long long);
void __chkstk(void) {}
__declspec(noinline) u64 f3(u64 a, u64 b)
{
    volatile char big[0x3000];
    big[a & 0xfff] = (char)b;
    u64 x = a, y = b, z = a ^ b, w = a + b;
    for (int i = 0; i < (int)a; i++) { x = x * 3 + y; y ^= z; z += w; w -= x; sink = big[i & 0xff]; }
    return x + y + z + w;
}
__declspec(noinline) u64 f2(u64 a)
{
    volatile char *p = _alloca(a + 16);
    p[0] = 1;
    return f3(a, (u64)p) + p[0];
}
__declspec(noinline) u64 f1(u64 a, u64 b, u64 c)
{
    u64 r1 = a * 7, r2 = b * 11, r3 = c * 13, r4 = a ^ c, r5 = b ^ c, r6 = a + b + c;
    for (int i = 0; i < (int)a; i++) { sink = r1; r1 += r2; r2 += r3; r3 += r4; r4 += r5; r5 += r6; r6 += r1; }
    u64 v = f2(a + r1);
    return v + r1 + r2 + r3 + r4 + r5 + r6;
}
int mainCRTStartup(void)
{
    return (int)f1(sink, sink + 1, sink + 2) + ntkd_stack[0];
}
EOF
cat >"$DIR/gen.py" <<'EOF'
import json, re, struct, sys
exe, out, unw, dis = sys.argv[1:5]
b = bytearray(open(exe, 'rb').read())
u32 = lambda o: struct.unpack_from('<I', b, o)[0]
pe = u32(0x3c); nsec = struct.unpack_from('<H', b, pe + 6)[0]; opt = struct.unpack_from('<H', b, pe + 20)[0]
base = struct.unpack_from('<Q', b, pe + 24 + 24)[0]
secs = [(u32(pe + 24 + opt + 40 * k + 12), u32(pe + 24 + opt + 40 * k + 16), u32(pe + 24 + opt + 40 * k + 20)) for k in range(nsec)]
def va2off(va):
    for v, rs, ro in secs:
        if base + v <= va < base + v + rs: return ro + va - base - v
    raise KeyError(hex(va))
mk = b.index(b'NTKDSTACKMARKER!')
region = None
for v, rs, ro in secs:
    if ro <= mk < ro + rs: region = base + v + mk - ro
funcs = {}
for e in open(unw).read().split('Function Table:')[1:]:
    st = int(re.search(r'Start Address: (\S+)', e).group(1), 16)
    fr = re.search(r'Frame register: (\w+)', e); fo = re.search(r'Frame offset: (\d+)', e)
    codes = re.findall(r'0x([0-9a-f]+): (UOP_\w+) ?(\S*)', e)
    funcs[base + st] = dict(prolog=int(re.search(r'Size of prolog: (\d+)', e).group(1)), codes=codes,
                            fr=fr.group(1) if fr else None, fo=int(fo.group(1)) if fo else 0)
ins = [(int(m.group(1), 16), m.group(2)) for m in re.finditer(r'^\s*([0-9a-f]+):\s+(.*)$', open(dis).read(), re.M)]
calls = {}
for i, (a, t) in enumerate(ins):
    m = re.match(r'callq\s+0x([0-9a-f]+)', t)
    if m and int(m.group(1), 16) in funcs: calls[int(m.group(1), 16)] = (a, ins[i + 1][0])  # target -> (call, ret)
REG = ['RAX', 'RCX', 'RDX', 'RBX', 'RSP', 'RBP', 'RSI', 'RDI'] + ['R%d' % i for i in range(8, 16)]
entry = base + u32(pe + 24 + 16)
chain = [entry]
while True:  # follow the first call to a known function
    nxt = [t for t, (c, r) in sorted(calls.items(), key=lambda kv: kv[1]) if funcs.get(chain[-1]) and
           chain[-1] <= c < chain[-1] + 0x1000 and t not in chain and c > chain[-1]]
    nxt = [t for t in nxt if max(f for f in funcs if f <= calls[t][0]) == chain[-1]]
    if not nxt: break
    chain.append(nxt[0])
mem = {}
regs = {i: 0x1000000000000000 * (i % 8 + 1) + i for i in range(16)}
rsp = region + 0xf000
mem[rsp] = 0; rsp -= 0; frames = []
retaddr = 0
for depth, fn in enumerate(chain):
    rsp -= 8; mem[rsp] = retaddr
    caller_regs = dict(regs)
    f = funcs[fn]
    fp = None
    for off, op, arg in reversed(f['codes']):
        if op == 'UOP_PushNonVol':
            r = REG.index(arg); rsp -= 8; mem[rsp] = regs[r]; regs[r] = 0x5a5a000000000000 + depth * 0x100 + r
        elif op == 'UOP_AllocSmall': rsp -= int(arg)
        elif op == 'UOP_AllocLarge': rsp -= int(arg) * 8
        elif op == 'UOP_SetFPReg':
            r = REG.index(f['fr']); regs[r] = rsp + 16 * f['fo']; fp = regs[r]
        elif op in ('UOP_SaveNonVol',):
            r = REG.index(arg.split()[0]) if arg else None
            raise SystemExit('save_nonvol not simulated')
    body_rsp = rsp
    frames.append(dict(fn=fn, sp=body_rsp, caller_regs=caller_regs))
    if depth + 1 < len(chain):
        retaddr = calls[chain[depth + 1]][1]
        frames[-1]['pc'] = calls[chain[depth + 1]][0]  # at the call (its return address is what the walker shows)
pc = chain[-1] + funcs[chain[-1]]['prolog']
frames[-1]['pc'] = pc
for a, v in mem.items():
    o = va2off(a); b[o:o + 8] = struct.pack('<Q', v)
def put_ctx(ctx, pc, rsp):
    c = va2off(ctx)
    b[c:c + 0x4d0] = bytes(0x4d0)
    struct.pack_into('<I', b, c + 0x30, 0x10001f)
    struct.pack_into('<HHHHHH', b, c + 0x38, 0x33, 0x2b, 0x2b, 0x53, 0x2b, 0x2b)
    struct.pack_into('<I', b, c + 0x44, 0x246)
    for i in range(16): struct.pack_into('<Q', b, c + 0x78 + 8 * i, regs[i])
    struct.pack_into('<Q', b, c + 0x98, rsp); struct.pack_into('<Q', b, c + 0xf8, pc)
ctx = region + 0x100
put_ctx(ctx, pc, rsp)
# the innermost function's epilog: at its `add rsp, N` and at the first pop after it
inner = chain[-1]
epi = [(a, t) for a, t in ins if inner <= a < inner + 0x1000 and re.match(r'addq\s+\$(\d+), %rsp', t)]
epi_ctx = []
if epi:
    a, t = epi[0]
    n = int(re.match(r'addq\s+\$(\d+), %rsp', t).group(1))
    nxt = [x for x, _ in ins if x > a][0]
    put_ctx(region + 0x600, a, rsp)
    put_ctx(region + 0xb00, nxt, rsp + n)
    epi_ctx = [[region + 0x600, rsp], [region + 0xb00, rsp + n]]
open(out, 'wb').write(b)
# walker order: innermost first; frame k's return address is frame k+1's return site
fr = list(reversed(frames))
exp = []
for k, f in enumerate(fr):
    ret = calls[fr[k - 1]['fn']][1] if False else None
    exp.append(dict(sp=f['sp'], fn=f['fn']))
rets = [calls[fr[k]['fn']][1] for k in range(len(fr) - 1)] + [0]
json.dump(dict(ctx=ctx, epi=epi_ctx, chain=chain, frames=[dict(sp=f['sp'], fn=f['fn'], ret=r, caller_regs=f['caller_regs'])
                                             for f, r in zip(fr, rets)]), sys.stdout)
EOF
( cd "$DIR" && clang-cl-14 /nologo /c /O2 /Gs999999 /GS- prog.c /Foprog.obj >/dev/null &&
  lld-link-14 /NODEFAULTLIB /ENTRY:mainCRTStartup /SUBSYSTEM:CONSOLE /OUT:prog.exe prog.obj >/dev/null ) ||
    fail "building the test program"
llvm-objdump-14 --unwind-info "$DIR/prog.exe" >"$DIR/unw.txt"
llvm-objdump-14 -d --no-show-raw-insn "$DIR/prog.exe" >"$DIR/dis.txt"
python3 "$DIR/gen.py" "$DIR/prog.exe" "$DIR/stk.exe" "$DIR/unw.txt" "$DIR/dis.txt" >"$DIR/gen.json" || fail "stack simulation"
python3 - "$DIR/gen.json" "$NTKD" "$DIR/stk.exe" <<'EOF' || fail "generated stack: ntkd's chain differs from the simulation"
import json, subprocess, sys
g = json.load(open(sys.argv[1]))
fr = g['frames']
assert len(fr) >= 4, fr  # entry -> f1 -> f2 (frame pointer, alloca) -> f3 (0x3000-byte frame)
cmds = ['.cxr 0x%x' % g['ctx'], 'k'] + ['.frame /r %d' % k for k in range(1, len(fr))]
out = subprocess.run([sys.argv[2], '--json', '-z', sys.argv[3], '-c', '; '.join(cmds)], capture_output=True, text=True).stdout
js = [json.loads(l) for l in out.splitlines() if l.strip()]
k = js[1]['frames']
assert len(k) == len(fr), (len(k), len(fr))
assert js[1]['stop'] == 'return address 0', js[1]['stop']
for i, (a, b) in enumerate(zip(k, fr)):
    assert int(a['child_sp'], 16) == b['sp'], (i, a, b)
    assert int(a['ret'], 16) == b['ret'], (i, a, b)
    assert not a['guess'] and a['how'] in ('unwind', 'leaf'), a
    if i: assert int(a['pc'], 16) == fr[i - 1]['ret'], (i, a)
names = ['rax', 'rcx', 'rdx', 'rbx', 'rsp', 'rbp', 'rsi', 'rdi'] + ['r%d' % i for i in range(8, 16)]
for i in range(1, len(fr)):
    regs = js[1 + i]['registers']
    want = fr[i - 1]['caller_regs']  # what frame i held when it called frame i-1
    for r in (3, 5, 6, 7, 12, 13, 14, 15):
        assert int(regs[names[r]], 16) == want[str(r)], ('frame', i, names[r], regs[names[r]], hex(want[str(r)]))
# the same chain from inside the innermost function's epilog (emulated: add rsp / pops / ret)
assert g['epi'], 'no epilog found in the innermost function'
for ctx, sp0 in g['epi']:
    out = subprocess.run([sys.argv[2], '--json', '-z', sys.argv[3], '-c', '.cxr 0x%x; k' % ctx], capture_output=True, text=True).stdout
    k2 = [json.loads(l) for l in out.splitlines() if l.strip()][1]['frames']
    assert len(k2) == len(fr), k2
    assert int(k2[0]['child_sp'], 16) == sp0 and int(k2[0]['ret'], 16) == fr[0]['ret'], k2[0]
    for a, b in zip(k2[1:], k[1:]):
        assert (a['child_sp'], a['ret'], a['pc']) == (b['child_sp'], b['ret'], b['pc']), (a, b)
EOF
else
    fail "clang-cl-14 / lld-link-14 not found"
fi

# ---- (5) user dumps: k on every thread ----------------------------------------------------
for dmp in "$CORPUS"/dumps/user/*.dmp; do
    n=$(basename "$dmp")
    nthr=$("$NTKD" --json -z "$dmp" -c "~" 2>/dev/null | python3 -c 'import json,sys; j=json.loads(sys.stdin.readline()); print(len(j.get("threads", [])))' 2>/dev/null)
    [ -n "$nthr" ] && [ "$nthr" -gt 0 ] || { fail "$n: no threads"; continue; }
    cmds=""
    for ((i = 0; i < nthr && i < 64; i++)); do cmds="$cmds~${i}s; k 200; "; done
    "$NTKD" -z "$dmp" -c "$cmds" >"$DIR/$n.k" 2>"$DIR/$n.err"
    rc=$?
    [ $rc -le 1 ] || fail "$n: ntkd exit $rc"
    ! grep -qi sanitizer "$DIR/$n.err" || { fail "$n: sanitizer report"; head -20 "$DIR/$n.err"; }
    ends=$(grep -c '^(stack walk ended: ' "$DIR/$n.k")
    [ "$ends" = "$nthr" ] || [ "$nthr" -gt 64 ] || { fail "$n: $ends stop reasons for $nthr threads"; tail -5 "$DIR/$n.k"; }
done

# generated dumps (no code, arbitrary stacks): every k ends with a reason, nothing crashes
for kind in full64 triage64 mdmp full32 triage32; do
    for arch in x64 arm64 x86; do
        case "$kind:$arch" in *32:x64|*32:arm64|full64:x86|triage64:x86) continue ;; esac
        "$GEN" "$kind" "$DIR/g.dmp" --arch "$arch" --seed 7 >/dev/null 2>&1 || continue
        "$NTKD" -z "$DIR/g.dmp" -c "k; kb; kv; .frame /r 1; kc" >"$DIR/g.k" 2>"$DIR/g.err"
        rc=$?
        [ $rc -le 1 ] && ! grep -qi sanitizer "$DIR/g.err" || { fail "generated $kind $arch: rc $rc"; head -20 "$DIR/g.err"; }
        grep -q '^(stack walk ended: ' "$DIR/g.k" || grep -qi 'no register context' "$DIR/g.k" || fail "generated $kind $arch: no stop reason"
    done
done

[ $fails = 0 ] && echo "stack: all passed"
exit $((fails > 0))
