#!/bin/bash
# disasm.sh: the u family against an independent disassembler and the seeds.
#  1. Linear disassembly (`u <.text start> L n`, a few thousand instructions per image) of
#     real images compared with llvm-objdump-14 -d (Intel syntax, --print-imm-hex):
#     x64 (seh/x64/*.exe, dump_syms_regtest64.exe, amdppm.sys from the store), x86
#     (seh/x86/*.exe): every instruction's address, bytes (length) and branch/RIP-relative
#     target must agree; the text must agree after the documented formatting differences
#     (normalize() below: MASM "10h" vs "0x10", spacing, "int 3" vs "int3", string
#     instructions' operands, "2*rcx" vs "rcx*2", movabs vs mov, symbols around addresses,
#     sign of immediates). ARM64 (seh/ARM64/*.exe, Capstone vs llvm-objdump's own AArch64
#     disassembler): mnemonics, lengths and branch targets.
#  2. The triage dump with symbols: `u amdppm!WriteIoMemRawEx` shows the label line and,
#     at fffff804`8b58334c (bugcheck parameter 2 in the corpus README, amdppm!...+0x70), the
#     faulting "mov     dword ptr [r9+r8],edx"; ub ends just before it; continuation of u.
#  3. uf on functions of dump_syms_regtest64.exe covers exactly the extent of Breakpad's
#     FUNC lines (dump_syms_regtest64.sym), with a label for its start; uf /c lists the calls
#     whose targets the .sym names.
#  4. Seed shapes: the bytes column is 15 wide, the mnemonic 7.
# usage: disasm.sh NTKD_BIN GENDUMP CORPUS_DIR WORKDIR
set -u
export LC_ALL=C
NTKD=$1 GEN=$2 CORPUS=$3 WORK=$4
: "$GEN"
DIR=$(mktemp -d "$WORK/disasm.XXXXXX")
trap 'rm -rf "$DIR"' EXIT
fails=0
fail() { echo "FAIL: $*"; fails=$((fails + 1)); }
OBJDUMP=$(command -v llvm-objdump-14 || true)

# .text start (VA) and size of a PE image, from its section table.
text_range() {
    python3 - "$1" <<'EOF'
import struct, sys
d = open(sys.argv[1], 'rb').read()
pe = struct.unpack_from('<I', d, 0x3c)[0]
nsec = struct.unpack_from('<H', d, pe + 6)[0]
optsz = struct.unpack_from('<H', d, pe + 20)[0]
magic = struct.unpack_from('<H', d, pe + 24)[0]
base = struct.unpack_from('<Q', d, pe + 48)[0] if magic == 0x20b else struct.unpack_from('<I', d, pe + 52)[0]
sec = pe + 24 + optsz
for i in range(nsec):
    name = d[sec + 40 * i: sec + 40 * i + 8].rstrip(b'\0')
    vsize, rva, rawsize = struct.unpack_from('<III', d, sec + 40 * i + 8)
    if name == b'.text':
        print('%x %d' % (base + rva, min(vsize, rawsize)))
        break
EOF
}

compare() { # compare IMAGE ARCH(x86|arm64) COUNT
    local img=$1 arch=$2 count=$3 name
    name=$(basename "$img")
    read -r start size < <(text_range "$img")
    if [ -z "${start:-}" ]; then fail "$name: no .text"; return; fi
    "$NTKD" -z "$img" -c "u $start L0n$count" >"$DIR/ours.txt" 2>"$DIR/ours.err" || { fail "$name: ntkd u failed"; return; }
    local flags=(-d -z --print-imm-hex)
    [ "$arch" = x86 ] && flags+=(--x86-asm-syntax=intel)
    "$OBJDUMP" "${flags[@]}" --start-address=0x"$start" "$img" >"$DIR/ref.txt" 2>"$DIR/ref.err"
    if ! grep -qE '^ *[0-9a-f]+:' "$DIR/ref.txt"; then
        echo "note: llvm-objdump-14 does not disassemble $name (skipped): $(head -c 200 "$DIR/ref.err")"
        return
    fi
    python3 - "$DIR/ours.txt" "$DIR/ref.txt" "$arch" "$count" "$name" "$start" "$size" <<'EOF' || fail "$name: disassembly differs from llvm-objdump-14 (see above)"
import re, sys
ours_f, ref_f, arch, count, name = sys.argv[1], sys.argv[2], sys.argv[3], int(sys.argv[4]), sys.argv[5]
text_end = int(sys.argv[6], 16) + int(sys.argv[7])

def ours_lines():
    out = []
    for l in open(ours_f):
        m = re.match(r'^([0-9a-f]{8}(?:`[0-9a-f]{8})?) (\S+)\s+(.*)$', l.rstrip('\n'))
        if not m: continue
        addr = int(m.group(1).replace('`', ''), 16)
        b = m.group(2)
        if b == '??': continue
        if arch == 'arm64':
            w = int(b, 16); by = w.to_bytes(4, 'little')
        else:
            by = bytes.fromhex(b)
        out.append((addr, by, m.group(3)))
    return out

def ref_lines():
    out = {}
    seq = []
    for l in open(ref_f):
        m = re.match(r'^ *([0-9a-f]+):\s((?:[0-9a-f]{2} ?)+)\s*\t(.*)$', l.rstrip('\n'))
        if not m: continue
        seq.append([int(m.group(1), 16), bytes.fromhex(m.group(2).replace(' ', '')), m.group(3)])
    # LLVM prints a lock prefix as an instruction of its own; Microsoft with the instruction
    i = 0
    while i < len(seq):
        a, b, t = seq[i]
        if t.strip() == 'lock' and i + 1 < len(seq) and seq[i + 1][0] == a + len(b):
            out[a] = (b + seq[i + 1][1], 'lock ' + seq[i + 1][2])
            i += 2
            continue
        out[a] = (b, t)
        i += 1
    return out

NUM = re.compile(r'(?<![\w`!])(-?)(?:0x([0-9a-f]+)|([0-9a-f]+)h|([0-9]+))(?![\w`])')

def numval(m):
    neg, hx, masm, dec = m.group(1), m.group(2), m.group(3), m.group(4)
    v = int(hx, 16) if hx else int(masm, 16) if masm else int(dec, 16 if 'ours' else 10)
    return -v if neg else v

def norm_ours(text):
    t = text.strip().lower()
    # "sym (addr)" written for branch targets and RIP-relative operands -> the address; the
    # symbol (which may hold spaces: "operator delete") starts after '[', ',' or the mnemonic
    m = re.match(r'^((?:(?:lock|rep|repe|repne|notrack|bnd) )*\S+\s+)(.*)$', t)
    if m:
        head, ops = m.groups()
        for _ in range(4):
            a = re.search(r' \(([0-9a-f]{8}(?:`[0-9a-f]{8})?)\)', ops)
            if not a: break
            k = max(ops.rfind('[', 0, a.start()), ops.rfind(',', 0, a.start()))
            ops = ops[:k + 1] + '0x' + a.group(1).replace('`', '') + ops[a.end():]
        t = head + ops
    t = re.sub(r'\b([0-9a-f]{8})`([0-9a-f]{8})\b', r'0x\1\2', t)
    # absolute addresses printed bare ("[00403000]", "call 00401000")
    t = re.sub(r'(?<=[\[ ])([0-9a-f]{8})(?=[\],]|$)', r'0x\1', t)
    return t

def norm_ref(text):
    t = text.strip().lower()
    comment = None
    m = re.search(r'\s#\s', t)
    if m:
        t, comment = t[:m.start()], t[m.end():].strip()
    t = re.sub(r'\s*<[^>]*>', '', t).strip()
    if comment and re.match(r'^0x[0-9a-f]+', comment):
        t = re.sub(r'\[(?:rip|eip) ?[+-] ?0x[0-9a-f]+\]|\[(?:rip|eip)\]', '[' + comment.split()[0] + ']', t)
    return t

def tokens(t, ours):
    # mnemonic, then operands split on commas, spaces dropped, numbers as values
    t = t.replace('\t', ' ')
    parts = t.split(None, 1)
    mn = parts[0] if parts else ''
    ops = parts[1] if len(parts) > 1 else ''
    prefixes = []
    while mn in ('lock', 'rep', 'repe', 'repne', 'repz', 'repnz', 'notrack', 'bnd', 'data16', 'xacquire', 'xrelease') and ops:
        prefixes.append({'repz': 'repe', 'repnz': 'repne'}.get(mn, mn))
        p = ops.split(None, 1); mn = p[0]; ops = p[1] if len(p) > 1 else ''
    ops = ops.replace(' ', '')
    # LLVM writes "2*rcx", Microsoft "rcx*2"
    if not ours: ops = re.sub(r'(?<!\w)(\d)\*([a-z0-9]+)', r'\2*\1', ops)
    vals = []
    def rep(m):
        neg, hx, masm, dec = m.group(1), m.group(2), m.group(3), m.group(4)
        if hx: v = int(hx, 16)
        elif masm: v = int(masm, 16)
        else: v = int(dec, 16) if ours else int(dec, 10)
        vals.append(-v if neg else v)
        return '#'
    ops = NUM.sub(rep, ops)
    ops = ops.replace('+-#', '-#')
    return prefixes, mn, ops, vals

def same_num(a, b):
    if a == b: return True
    for bits in (8, 16, 32, 64):
        m = (1 << bits) - 1
        if (a & m) == (b & m) and (a < 0 or b < 0 or a > m or b > m): return True
    return False

# documented differences of the Microsoft style (WinDbg) from LLVM's
MN_ALIAS = {'movabs': 'mov', 'int3': 'int', 'ud1': 'ud1', 'xlatb': 'xlat', 'fwait': 'wait'}
STRING = {'movs', 'cmps', 'stos', 'lods', 'scas', 'ins', 'outs'}

ours = [x for x in ours_lines() if x[0] < text_end]
ref = ref_lines()
if len(ours) < min(count, 300):
    print('%s: only %d instructions from ntkd' % (name, len(ours))); sys.exit(1)
bad_len = bad_tgt = bad_text = 0
shown = 0
n = 0
for addr, by, text in ours:
    r = ref.get(addr)
    if r is None:
        bad_len += 1
        if shown < 10: print('%s %x: no llvm-objdump instruction starts here (ours: %s %s)' % (name, addr, by.hex(), text)); shown += 1
        continue
    rby, rtext = r
    n += 1
    if 'unknown' in rtext or text == '???':
        if not ('unknown' in rtext and text == '???'):
            bad_text += 1
            if shown < 10: print('%s %x: %r vs %r' % (name, addr, text, rtext)); shown += 1
        continue
    if rby != by:
        bad_len += 1
        if shown < 10: print('%s %x: bytes %s vs %s' % (name, addr, by.hex(), rby.hex())); shown += 1
        continue
    o = norm_ours(text); f = norm_ref(rtext)
    po, mo, oo, vo = tokens(o, True)
    pr, mr, orf, vr = tokens(f, False)
    mo = MN_ALIAS.get(mo, mo); mr = MN_ALIAS.get(mr, mr)
    if arch == 'arm64':
        # Capstone vs LLVM AArch64: mnemonics (LLVM prints some aliases: mov/movz, cmp/subs...)
        al = {'movz': 'mov', 'orr': 'mov', 'subs': 'cmp', 'adds': 'cmn', 'ands': 'tst', 'ubfm': 'lsl', 'sbfm': 'asr', 'csinc': 'cset', 'csinv': 'csetm', 'madd': 'mul', 'msub': 'mneg', 'ornn': 'mvn', 'orn': 'mvn', 'sub': 'neg', 'movn': 'mov', 'ins': 'mov', 'umov': 'mov', 'dup': 'mov', 'hint': 'nop'}
        ok = mo == mr or al.get(mo) == mr or al.get(mr) == mo or mo.split('.')[0] == mr.split('.')[0]
        if not ok:
            bad_text += 1
            if shown < 10: print('%s %x: mnemonic %r vs %r' % (name, addr, text, rtext)); shown += 1
        # branch targets
        if mo in ('b', 'bl', 'cbz', 'cbnz', 'tbz', 'tbnz') or mo.startswith('b.'):
            to = re.findall(r'0x[0-9a-f]+', o); tr = re.findall(r'0x[0-9a-f]+', f)
            if not to or not tr or int(to[-1], 16) != int(tr[-1], 16):
                bad_tgt += 1
                if shown < 10: print('%s %x: target %r vs %r' % (name, addr, text, rtext)); shown += 1
        continue
    if mo in STRING or (mr[:-1] in STRING and mr[-1] in 'bwdq'):
        # Microsoft: "rep stos dword ptr [rdi]"; LLVM: "rep stosd dword ptr es:[rdi], eax"
        ok = po == pr and (mo == mr or mo == mr[:-1])
        if not ok:
            bad_text += 1
            if shown < 10: print('%s %x: string %r vs %r' % (name, addr, text, rtext)); shown += 1
        continue
    if mo == 'int' and oo == '#' and vo == [3] and mr == 'int' and not orf: continue
    # shifts and rotates by one (D0/D1): Microsoft writes the count ",1", LLVM omits it
    if mo == mr and mo in ('shl', 'shr', 'sar', 'sal', 'rol', 'ror', 'rcl', 'rcr') and oo == orf + ',#' and vo == vr + [1]:
        continue
    ok = po == pr and mo == mr and oo == orf and len(vo) == len(vr) and all(same_num(a, b) for a, b in zip(vo, vr))
    if not ok and mo == mr and po == pr:
        # LLVM writes segment overrides Zydis folds into the default ("cs:" on nop), and "ptr" sizes
        # on a few SSE/AVX operands; compare without them
        strip = lambda s: re.sub(r'\b(byte|word|dword|qword|xmmword|ymmword|zmmword|tbyte|fword|oword|mmword)ptr', '', re.sub(r'\b[cdefgs]s:', '', s))
        ok = strip(oo) == strip(orf) and len(vo) == len(vr) and all(same_num(a, b) for a, b in zip(vo, vr))
    if not ok:
        bad_text += 1
        if shown < 10: print('%s %x: %r vs %r' % (name, addr, text, rtext)); shown += 1
    # branch targets and RIP-relative addresses are among the numbers compared above
print('%s: %d instructions compared (%s); bytes/length mismatches %d, text mismatches %d, target mismatches %d'
      % (name, n, arch, bad_len, bad_text, bad_tgt))
# lengths and targets must agree exactly; text after the documented differences too
sys.exit(1 if bad_len or bad_tgt or bad_text else 0)
EOF
}

if [ -n "$OBJDUMP" ]; then
    for f in "$CORPUS"/pdb-fixtures/seh/x64/*.exe "$CORPUS"/pdb-fixtures/dump_syms/dump_syms_regtest64.exe \
             "$CORPUS"/symstore/amdppm.sys/*/amdppm.sys; do
        [ -f "$f" ] && compare "$f" x86 3000
    done
    for f in "$CORPUS"/pdb-fixtures/seh/x86/*.exe; do compare "$f" x86 3000; done
    for f in "$CORPUS"/pdb-fixtures/seh/ARM64/*.exe; do compare "$f" arm64 3000; done
else
    echo "note: llvm-objdump-14 not installed: the comparison is skipped"
fi

# ---- 2. triage dump with symbols ----------------------------------------------------------------
TRIAGE=$CORPUS/dumps/kernel/triage-x64-19041.dmp
SP="$CORPUS/symstore;$CORPUS/isf"
out=$DIR/triage.txt
"$NTKD" -z "$TRIAGE" -y "$SP" -c 'u amdppm!WriteIoMemRawEx L30; ub fffff804`8b58334c L3; u fffff804`8b58334c L1; u L1' >"$out" 2>"$DIR/triage.err" || fail "triage: exit status"
sed -n '/kd> u amdppm/,/kd> ub/p' "$out" >"$DIR/u1.txt"
sed -n 2p "$DIR/u1.txt" | grep -qx 'amdppm!WriteIoMemRawEx:' || fail "u: no label line amdppm!WriteIoMemRawEx:"
grep -qxF 'fffff804`8b58334c 43891401        mov     dword ptr [r9+r8],edx' "$DIR/u1.txt" ||
    fail "u: the faulting instruction at fffff804\`8b58334c"
grep -qE '^fffff804`8b5832[0-9a-f]{2} e8[0-9a-f]{8} +call    amdppm!WriteIoMemRaw \(fffff804`[0-9a-f]{8}\)$' "$DIR/u1.txt" ||
    fail "u: the call is not symbolized as amdppm!WriteIoMemRaw (addr)"
[ "$(grep -cE '^fffff804`8b5[0-9a-f]{5} ' "$DIR/u1.txt")" = 48 ] || fail "u L30: not 0x30 instructions"
sed -n '/kd> ub/,/kd> u fffff804/p' "$out" >"$DIR/ub.txt"
[ "$(grep -cE '^fffff804`' "$DIR/ub.txt")" = 3 ] || fail "ub L3: not 3 instructions"
last=$(grep -E '^fffff804`' "$DIR/ub.txt" | tail -1)
# the instruction before the faulting one ends exactly at it: address + length = ...334c
python3 - "$last" <<'EOF' || fail "ub: the last instruction does not end at fffff804\`8b58334c ($last)"
import sys
a, b = sys.argv[1].split()[:2]
assert int(a.replace('`', ''), 16) + len(b) // 2 == 0xfffff8048b58334c
EOF
grep -qE '^amdppm!WriteIoMemRawEx\+0x[0-9a-f]+:$' "$DIR/ub.txt" || fail "ub: no label line"
sed -n '/kd> u L1/,$p' "$out" | grep -qE '^fffff804`8b583350 ' || fail "u without an address does not continue after the last u"

# RIP-relative operands resolved with their symbol: amdppm's load of DevExts at ...83020. The
# address is rip + disp32 from the instruction bytes; the name is the PDB public whose
# section:offset (llvm-pdbutil-14) maps to that RVA (amdppm loads at fffff804`8b580000).
line=$("$NTKD" -z "$TRIAGE" -y "$SP" -c 'u fffff804`8b583020 L1' 2>/dev/null | grep -E '^fffff804`8b583020 ')
PDB=$(ls "$CORPUS"/symstore/amdppm.pdb/*/amdppm.pdb | head -1)
if command -v llvm-pdbutil-14 >/dev/null; then
    pub=$(llvm-pdbutil-14 dump -publics "$PDB" 2>/dev/null | grep -A1 '`DevExts`' | sed -nE 's/.*addr = ([0-9]+):([0-9]+).*/\1 \2/p')
    secs=$(llvm-pdbutil-14 dump -section-headers "$PDB" 2>/dev/null | sed -nE 's/^ *([0-9A-F]+) virtual address$/\1/p' | tr '\n' ' ')
    python3 - "$line" "$pub" "$secs" <<'EOF2' || fail "u: RIP-relative operand not resolved to amdppm!DevExts ($line)"
import sys
line, pub, secs = sys.argv[1], sys.argv[2].split(), sys.argv[3].split()
addr, hexb = line.split()[:2]
ip = int(addr.replace('`', ''), 16)
b = bytes.fromhex(hexb)
assert b[:3] == bytes.fromhex('488b05'), hexb
target = ip + len(b) + int.from_bytes(b[3:7], 'little', signed=True)
rva = int(secs[int(pub[0]) - 1], 16) + int(pub[1])
assert target == 0xfffff8048b580000 + rva, (hex(target), hex(rva))
want = 'mov     rax,qword ptr [amdppm!DevExts (%08x`%08x)]' % (target >> 32, target & 0xffffffff)
assert line.split(None, 2)[2] == want, (line, want)
EOF2
fi
"$NTKD" -z "$TRIAGE" -y "$SP" -c 'uf amdppm!WriteIoMemRawEx' >"$DIR/uf_amd.txt" 2>/dev/null
grep -qx 'amdppm!WriteIoMemRawEx:' "$DIR/uf_amd.txt" || fail "uf: label of the entry block"
grep -qxF 'fffff804`8b58334c 43891401        mov     dword ptr [r9+r8],edx' "$DIR/uf_amd.txt" || fail "uf: the faulting instruction"

# ---- 3. uf extents against Breakpad's FUNC lines ---------------------------------------------------
EXE=$CORPUS/pdb-fixtures/dump_syms/dump_syms_regtest64.exe
SYM=$CORPUS/pdb-fixtures/dump_syms/dump_syms_regtest64.sym
if [ -f "$EXE" ] && [ -f "$SYM" ]; then
    # the ten largest functions of the .sym
    python3 - "$SYM" >"$DIR/funcs.txt" <<'EOF'
import sys
fs = []
for l in open(sys.argv[1]):
    p = l.split()
    if p and p[0] == 'FUNC':
        if p[1] == 'm': p = p[1:]
        fs.append((int(p[2], 16), int(p[1], 16), ' '.join(p[4:])))
fs.sort(reverse=True)
for size, rva, nm in fs[:10]:
    print('%x %x %s' % (rva, size, nm))
EOF
    base=$(python3 -c 'import struct,sys; d=open(sys.argv[1],"rb").read(); pe=struct.unpack_from("<I",d,0x3c)[0]; print("%x" % struct.unpack_from("<Q",d,pe+48)[0])' "$EXE")
    cmds=""
    while read -r rva size _; do cmds+="uf $(printf '%x' $((0x$base + 0x$rva))); "; done <"$DIR/funcs.txt"
    "$NTKD" -z "$EXE" -y "$CORPUS/pdb-fixtures/dump_syms" -c "$cmds" >"$DIR/uf.txt" 2>"$DIR/uf.err" || fail "uf: exit status"
    python3 - "$DIR/uf.txt" "$DIR/funcs.txt" "$base" <<'EOF' || fail "uf: extents differ from the .sym FUNC lines"
import re, sys
txt = open(sys.argv[1]).read()
base = int(sys.argv[3], 16)
funcs = [l.split(None, 2) for l in open(sys.argv[2])]
chunks = re.split(r'^\S+> uf ', txt, flags=re.M)[1:]
assert len(chunks) == len(funcs), (len(chunks), len(funcs))
bad = 0
for ch, (rva, size, nm) in zip(chunks, funcs):
    lo = base + int(rva, 16); hi = lo + int(size, 16)
    insns = []
    for l in ch.splitlines()[1:]:
        m = re.match(r'^([0-9a-f]{8}`[0-9a-f]{8}) (\S+) ', l)
        if m: insns.append((int(m.group(1).replace('`', ''), 16), len(m.group(2)) // 2))
    insns.sort()
    covered = sum(n for a, n in insns)
    ok = insns and insns[0][0] == lo and insns[-1][0] + insns[-1][1] == hi and covered == hi - lo and all(lo <= a < hi for a, n in insns)
    if not ok:
        bad += 1
        print('uf %x (%s): instructions cover %x-%x (%d bytes), FUNC says %x-%x' % (lo, nm.strip(), insns[0][0] if insns else 0, insns[-1][0] + insns[-1][1] if insns else 0, covered, lo, hi))
    first_label = ch.splitlines()[1] if len(ch.splitlines()) > 1 else ''
    if not first_label.endswith(':') or '+0x' in first_label:
        bad += 1
        print('uf %x: first line %r is not the function label' % (lo, first_label))
print('uf: %d functions checked against FUNC extents, %d bad' % (len(funcs), bad))
sys.exit(1 if bad else 0)
EOF
    # uf /c of main: every direct call it makes, with the callee's name from the .sym
    main_rva=$(awk '$1=="FUNC" && $NF=="main" {print $2}' "$SYM")
    if [ -n "$main_rva" ]; then
        "$NTKD" -z "$EXE" -y "$CORPUS/pdb-fixtures/dump_syms" -c "uf /c $(printf '%x' $((0x$base + 0x$main_rva)))" >"$DIR/ufc.txt" 2>/dev/null
        grep -qE '^dump_syms_regtest64!main \(00000001`[0-9a-f]{8}\)$' "$DIR/ufc.txt" || fail "uf /c: header line"
        n=$(grep -cE '^    call to dump_syms_regtest64!google_breakpad::C::(C|set_member|f|g|h) \(' "$DIR/ufc.txt")
        [ "$n" -ge 5 ] || fail "uf /c main: $n calls to google_breakpad::C members (the .sym's main calls C::C, set_member, f, g, h)"
    fi
else
    fail "dump_syms_regtest64 fixtures missing"
fi

# ---- 4. column shapes and JSON ------------------------------------------------------------------
"$NTKD" -z "$TRIAGE" -y "$SP" --json -c 'u fffff804`8b58334c L2' >"$DIR/u.json" 2>/dev/null
python3 - "$DIR/u.json" <<'EOF' || fail "u --json"
import json, sys
j = json.loads(open(sys.argv[1]).readline())
ins = j["instructions"]
assert len(ins) == 2, ins
assert ins[0]["address"] == "0xfffff8048b58334c" and ins[0]["bytes"] == "43891401", ins[0]
assert ins[0]["text"] == "mov     dword ptr [r9+r8],edx", ins[0]
assert ins[0]["label"] == "amdppm!WriteIoMemRawEx+0x70", ins[0]
EOF

[ "$fails" = 0 ] && echo "disasm: all checks passed"
exit $((fails > 0))
