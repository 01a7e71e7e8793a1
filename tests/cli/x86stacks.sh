#!/bin/bash
# x86stacks.sh: kernel stacks of generated scenes walk through every frame the generator laid.
#
# The generator's manifest lists each thread's stack (`stack <thread> <ret0> <ret1> ...`,
# innermost first) and the functions it generated (`func <module> <name> <va>`). For every
# waiting thread, `!thread` must show exactly those frames: frame i's call site is the function
# holding ret_i (module!name+offset) and its RetAddr is ret_{i+1} (ready threads and those running
# on other processors too). `k` on the crashing
# processor shows KeBugCheckEx then the crashing thread's stack. Layouts: XP x86 PAE (the
# stacks laid after the real ntkrnlpa.pdb's FPO/FrameData records) and two x64 layouts.
# Also: the hostile module-list cycle ends `lm` with its loop note, and !peb on user minidumps.
source "$(dirname "$0")/scene_lib.sh" "$@"
set -u
fails=0
fail() {
    echo "FAIL: $*"
    fails=$((fails + 1))
}
Y=$(scene_sympath)
T=$(mktemp -d "$WORKDIR/x86stacks.XXXXXX")
trap 'rm -rf "$T"' EXIT

# compare MANIFEST NTKD_OUTPUT: prints one line per mismatch, "ok N" at the end
compare() {
    python3 - "$1" "$2" <<'EOF'
import re, sys
man, out = sys.argv[1], sys.argv[2]
funcs, stacks, state, crash = [], {}, {}, None
for line in open(man):
    f = line.split()
    if not f:
        continue
    if f[0] == "func":
        funcs.append((int(f[3], 16), f[1], f[2]))
    elif f[0] == "stack":
        stacks[int(f[1], 16)] = [int(x, 16) for x in f[2:]]
    elif f[0] == "thread":
        state[int(f[1], 16)] = int(f[4], 16)
    elif f[0] == "header" and f[1] == "CurrentThread":
        crash = int(f[2], 16)
funcs.sort()

def site(va):
    best = None
    for fva, mod, name in funcs:
        if fva <= va:
            best = (fva, mod, name)
    if not best:
        return "?%x" % va
    return "%s!%s+0x%x" % (best[1], best[2], va - best[0])

# blocks of output per command
blocks, cur = {}, None
frame_re = re.compile(r"^([0-9a-f`]{8,17})\s+([0-9a-f`]{8,17})\s+(\S+)")
for line in open(out, errors="replace"):
    m = re.match(r"^\d+: kd> (.*)$", line.rstrip("\n"))
    if m:
        cur = m.group(1).strip()
        blocks[cur] = []
        continue
    if cur is None:
        continue
    fm = frame_re.match(line)
    if fm:
        blocks[cur].append((int(fm.group(2).replace("`", ""), 16), fm.group(3)))

bad = 0
def check(what, frames, rets, skip):
    global bad
    got = frames[skip:]
    if len(got) < len(rets):
        print("%s: %d frames shown, %d laid (%s)" % (what, len(got), len(rets),
              " ".join(s for _, s in got)))
        bad += 1
        return
    for i, r in enumerate(rets):
        want = site(r)
        if got[i][1] != want:
            print("%s: frame %d is %s, want %s" % (what, i + skip, got[i][1], want))
            bad += 1
            return
        if i + 1 < len(rets) and got[i][0] != rets[i + 1]:
            print("%s: frame %d returns to %x, want %x" % (what, i + skip, got[i][0], rets[i + 1]))
            bad += 1
            return
    if skip and frames[0][0] != rets[0]:
        print("%s: frame 0 returns to %x, want %x" % (what, frames[0][0], rets[0]))
        bad += 1

n = 0
for th, rets in stacks.items():
    if th == crash:
        continue  # checked with k below
    key = "!thread 0x%x" % th
    if key not in blocks:
        print("%s: not run" % key)
        bad += 1
        continue
    check(key, blocks[key], rets, 0)
    n += 1
if crash in stacks and "k" in blocks:
    check("k", blocks["k"], stacks[crash], 1)
    n += 1
elif crash is not None:
    print("k: crash thread %x has no stack line or k was not run" % crash)
    bad += 1
print("ok %d" % n if not bad else "bad %d" % bad)
EOF
}

check_scene() {
    local layout=$1 scene=$2 kind=$3 f
    f=$(scene_dump "$layout" "$scene" "$kind") || { fail "$layout $scene: no dump"; return; }
    local waiting cmds="k" t
    waiting=$(mf_get "$f" thread | awk '$5 == "0x5" { print $2 }')
    [ -n "$waiting" ] || fail "$layout $scene: no waiting thread in the manifest"
    [ "$(mf_get "$f" stack | wc -l)" = "$(mf_get "$f" thread | wc -l)" ] ||
        fail "$layout $scene: not one stack line per thread"
    # every thread: waiting and ready ones from their switch frame, running ones from their
    # processor's saved context; the crashing one with k
    for t in $(mf_get "$f" thread | awk '{ print $2 }'); do cmds+="; !thread $t"; done
    "$NTKD" -z "$f" -y "$Y" -c "$cmds" >"$T/out" 2>&1
    local r
    r=$(compare "$f.manifest" "$T/out")
    case "$r" in
    *"ok "*) echo "$layout $scene: $(echo "$r" | tail -1) stacks checked" ;;
    *) fail "$layout $scene:"$'\n'"$r" ;;
    esac
}

for s in 9f deadlock 133; do check_scene xp "$s" pae; done
check_scene w19041 9f full
check_scene w19041 deadlock full
check_scene win7 9f full

# a FrameData / FPO walk that found a frame must not silently stop early: the XP waiting
# threads' stacks end at the thread start
f=$(scene_dump xp 9f pae) && {
    t=$(mf_get "$f" thread | awk '$5 == "0x5" && $3 ~ /./ { print $2; exit }')
    "$NTKD" -z "$f" -y "$Y" -c "!thread $t" | grep -q 'nt!KiThreadStartup' ||
        fail "xp 9f: thread $t does not reach nt!KiThreadStartup"
}

# hostile module-list cycle: lm ends with its loop note, the manifest names the entry
for l in xp:pae w19041:full; do
    f=$(scene_dump "${l%%:*}" basic "${l##*:}" --hostile cycle) || { fail "$l hostile cycle: no dump"; continue; }
    mc=$(mf_get "$f" hostile | awk '$2 == "modcycle" { print $3 }')
    [ -n "$mc" ] || { fail "$l: no 'hostile modcycle' manifest line"; continue; }
    out=$("$NTKD" -z "$f" -y "$Y" -c "lm" 2>&1)
    echo "$out" | grep -qi 'loop' || fail "$l: lm shows no loop note: $(echo "$out" | tail -3)"
    n=$(echo "$out" | grep -c '^[0-9a-f]\{8\}')
    [ "$n" -lt 200 ] || fail "$l: lm printed $n module lines (cycle not stopped)"
done

# !peb on user minidumps: the PEB from the current thread's TEB, or a clear note when the dump
# does not hold its memory. The corpus dumps hold no TEB memory (their README: calc, breakpad,
# crashtest); a small x64 minidump written here holds a TEB, a PEB and process parameters with
# known values (and a variant without the PEB's page).
cat >"$T/mkmd.py" <<'PYEOF'
import struct, sys
out = sys.argv[1]
TEB, PEB, PP, LDR = 0x7ff5f000, 0x7ff5e000, 0x00581000, 0x77b57880
def u16s(s): return s.encode("utf-16le")
# memory ranges
teb = bytearray(0x1000)
struct.pack_into("<Q", teb, 0x30, TEB)          # NtTib.Self
struct.pack_into("<Q", teb, 0x60, PEB)          # ProcessEnvironmentBlock
peb = bytearray(0x1000)
peb[2] = 1                                      # BeingDebugged
struct.pack_into("<Q", peb, 0x10, 0x13f6a0000)  # ImageBaseAddress
struct.pack_into("<Q", peb, 0x18, LDR)          # Ldr (not in the dump)
struct.pack_into("<Q", peb, 0x20, PP)           # ProcessParameters
struct.pack_into("<Q", peb, 0x30, 0x2a0000)     # ProcessHeap
struct.pack_into("<I", peb, 0xbc, 0x70)         # NtGlobalFlag
pp = bytearray(0x1000)
strs = {0x60: "C:\\Tools\\pebtest.exe", 0x70: "pebtest.exe --flag", 0x38: "C:\\Tools\\"}
off = 0x400
for fo, sv in strs.items():
    b = u16s(sv)
    struct.pack_into("<HHIQ", pp, fo, len(b), len(b) + 2, 0, PP + off)
    pp[off:off + len(b)] = b
    off += len(b) + 2
LDRPAGE = LDR & ~0xfff
ldr = bytearray(0x1000)
lo = LDR - LDRPAGE
ldr[lo + 4] = 1                                 # Initialized
E1, E2, HEAD = LDRPAGE + 0x100, LDRPAGE + 0x300, LDR + 0x10
struct.pack_into("<QQ", ldr, lo + 0x10, E1, E2)  # InLoadOrderModuleList
soff = 0x600
for ent, nxt, base, stamp, name in ((E1, E2, 0x13f6a0000, 0x5a5a5a5a, "C:\\Tools\\pebtest.exe"),
                                     (E2, E1 if "loopldr" in sys.argv else HEAD, 0x77a30000,
                                      0x4ce7c8f9, "C:\\Windows\\SYSTEM32\\ntdll.dll")):
    eo = ent - LDRPAGE
    struct.pack_into("<QQ", ldr, eo, nxt, 0)
    struct.pack_into("<Q", ldr, eo + 0x30, base)
    struct.pack_into("<I", ldr, eo + 0x80, stamp)
    b = u16s(name)
    struct.pack_into("<HHIQ", ldr, eo + 0x48, len(b), len(b) + 2, 0, LDRPAGE + soff)
    ldr[soff:soff + len(b)] = b
    soff += len(b) + 2
ranges = [(TEB, teb), (PP, pp)] if "nopeb" in sys.argv else [(TEB, teb), (PEB, peb), (PP, pp), (LDRPAGE, ldr)]
# streams: system info (7), thread list (3), memory list (5)
blob = bytearray(32 + 3 * 12)
def add(data, align=8):
    global blob
    while len(blob) % align: blob.append(0)
    rva = len(blob); blob += data; return rva
csd = add(struct.pack("<I", 0))
si = struct.pack("<HHHBBIIIIIHH", 9, 6, 0x5e03, 4, 1, 10, 0, 19041, 2, csd, 0x100, 0) + bytes(24)
si_rva = add(si)
ctx = bytearray(0x4d0); struct.pack_into("<I", ctx, 0x30, 0x0010001f)
struct.pack_into("<Q", ctx, 0x98, 0x14fe00)     # rsp
struct.pack_into("<Q", ctx, 0xf8, 0x13f6a1234)  # rip
ctx_rva = add(bytes(ctx), 16)
stack = bytes(0x200); st_rva = add(stack)
th = struct.pack("<IIIIQQIIII", 0x1a2c, 0, 0x20, 0, TEB, 0x14fe00, len(stack), st_rva, len(ctx), ctx_rva)
tl_rva = add(struct.pack("<I", 1) + th)
descs = b""
datas = []
for va, d in ranges:
    r = add(bytes(d), 16)
    datas.append((va, len(d), r))
ml = struct.pack("<I", len(datas) + 1) + b"".join(struct.pack("<QII", va, n, r) for va, n, r in datas) \
     + struct.pack("<QII", 0x14fe00, len(stack), st_rva)
ml_rva = add(ml)
hdr = struct.pack("<IIIIIIQ", 0x504d444d, 0xa793, 3, 32, 0, 0x5f000000, 0)
dirs = struct.pack("<III", 7, len(si), si_rva) + struct.pack("<III", 3, len(th) + 4, tl_rva) + \
       struct.pack("<III", 5, len(ml), ml_rva)
blob[0:32] = hdr; blob[32:32 + 36] = dirs
open(out, "wb").write(blob)
PYEOF
if python3 "$T/mkmd.py" "$T/peb.dmp" && python3 "$T/mkmd.py" "$T/nopeb.dmp" nopeb &&
    python3 "$T/mkmd.py" "$T/loop.dmp" loopldr; then
    out=$("$NTKD" -z "$T/peb.dmp" -c '!peb' 2>&1)
    for want in 'PEB at 000000007ff5e000' 'BeingDebugged: *Yes' 'ImageBaseAddress: *000000013f6a0000' \
        "CommandLine: *'pebtest.exe --flag'" "ImageFile: *'C:.Tools.pebtest.exe'" 'ProcessHeap: *00000000002a0000' \
        'Ldr.Initialized: *Yes' '13f6a0000 5a5a5a5a .*C:.Tools.pebtest.exe' '77a30000 4ce7c8f9 .*ntdll.dll'; do
        echo "$out" | grep -q "$want" || fail "!peb (written minidump): no '$want' in: $out"
    done
    [ "$(echo "$out" | grep -c '^ *[0-9a-f]\{8,16\} [0-9a-f]\{8\} ')" = 2 ] ||
        fail "!peb: not exactly the two modules of the loader list: $out"
    out=$("$NTKD" -z "$T/loop.dmp" -c '!peb' 2>&1)
    echo "$out" | grep -q 'loops at' || fail "!peb: a looping loader list is not reported: $out"
    out=$("$NTKD" -z "$T/peb.dmp" --json -c '!peb' 2>&1)
    echo "$out" | grep -q '"image_base"' || fail "!peb --json: no image_base: $out"
    out=$("$NTKD" -z "$T/nopeb.dmp" -c '!peb' 2>&1)
    echo "$out" | grep -q 'PEB at 000000007ff5e000 is not in the dump' ||
        fail "!peb without the PEB page: $out"
else
    fail "could not write the test minidumps"
fi
U=$CORPUS/dumps/user
nd=0
for d in "$U"/*.dmp; do
    [ -f "$d" ] || continue
    nd=$((nd + 1))
    out=$("$NTKD" -z "$d" -c "!peb" 2>&1)
    echo "$out" | grep -qE 'PEB at|TEB of thread [0-9a-f]+ at [0-9a-f`]+ .*is not in the dump' ||
        fail "!peb $d: neither a PEB nor why not: $(echo "$out" | head -5)"
done
[ "$nd" -gt 0 ] || fail "no user dumps in $U"

[ "$fails" = 0 ] && echo "x86stacks: all passed"
exit $((fails > 0))
