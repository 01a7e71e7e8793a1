#!/bin/bash
# pdb2isf.sh: tests/gen/scene/pdb2isf.py (the XP kernel table of the scene generator) against
# independent statements of the same PDB:
#  - Microsoft's dbghelp list of its publics (corpus oracle, image based at 0x804D7000): every
#    symbol the ISF holds must have the oracle's address, and nearly all must be there;
#  - the symstore key of the PDB (GUID + age);
#  - widely published Windows XP SP3 x86 PAE layout facts: sizeof(_EPROCESS) 0x260,
#    _KTHREAD 0x1c0, _ETHREAD 0x258, _MMPTE 8 (PAE), _OBJECT_HEADER 0x20 with Body at 0x18,
#    _EPROCESS UniqueProcessId 0x84 / ActiveProcessLinks 0x88 / ImageFileName 0x174,
#    _ETHREAD Cid 0x1ec, the PAE PTE's 26-bit PageFrameNumber at bit 12, _POOL_TYPE values;
#  - hostile inputs: a truncated PDB and a non-PDB file end with a one-line error, exit 1.
# usage: pdb2isf.sh NTKD GENDUMP CORPUS WORKDIR
set -u
CORPUS=$3
WORK=$4
HERE=$(cd "$(dirname "$0")" && pwd)
PY=$HERE/../gen/scene/pdb2isf.py
PDB=$CORPUS/symstore/ntkrnlpa.pdb/30B5FB31AE7E4ACAABA750AA241FF3312/ntkrnlpa.pdb
ORACLE=$CORPUS/oracles/ntkrnlpa/publics-dbghelp-base-804d7000.txt
T=$(mktemp -d "$WORK/pdb2isf.XXXXXX")
trap 'rm -rf "$T"' EXIT
fails=0
fail() { echo "FAIL: $*"; fails=$((fails + 1)); }

command -v python3 >/dev/null || { echo "FAIL: no python3"; exit 1; }
python3 "$PY" "$PDB" "$T/xp.json" 2>"$T/err" || fail "pdb2isf.py failed: $(cat "$T/err")"
[ -s "$T/err" ] && fail "pdb2isf.py warned on the real PDB: $(head -3 "$T/err")"

if [ -s "$T/xp.json" ]; then
    python3 - "$T/xp.json" "$ORACLE" <<'EOF' || fails=$((fails + 1))
import json, sys
isf = json.load(open(sys.argv[1]))
bad = []
def want(what, got, exp):
    if got != exp:
        bad.append("%s: got %r, expected %r" % (what, got, exp))

pdb = isf["metadata"]["windows"]["pdb"]
want("GUID", pdb["GUID"], "30B5FB31AE7E4ACAABA750AA241FF331")   # symstore key ...3312 = GUID + age 2
want("age", pdb["age"], 2)
want("database", pdb["database"], "ntkrnlpa.pdb")
want("machine_type", pdb["machine_type"], 332)
want("pointer size", isf["base_types"]["pointer"]["size"], 4)
u = isf["user_types"]
def size(t):
    return u[t]["size"] if t in u else None
def off(t, f):
    return u.get(t, {}).get("fields", {}).get(f, {}).get("offset")
for t, s in (("_EPROCESS", 0x260), ("_KTHREAD", 0x1c0), ("_ETHREAD", 0x258), ("_MMPTE", 8),
             ("_OBJECT_HEADER", 0x20), ("_LIST_ENTRY", 8), ("_UNICODE_STRING", 8)):
    want("sizeof(%s)" % t, size(t), s)
for t, f, o in (("_OBJECT_HEADER", "Body", 0x18), ("_EPROCESS", "UniqueProcessId", 0x84),
                ("_EPROCESS", "ActiveProcessLinks", 0x88), ("_EPROCESS", "ImageFileName", 0x174),
                ("_ETHREAD", "Cid", 0x1ec), ("_KPROCESS", "DirectoryTableBase", 0x18),
                ("_LIST_ENTRY", "Blink", 4)):
    want("%s.%s" % (t, f), off(t, f), o)
# type descriptors in Volatility's shapes
want("_LIST_ENTRY.Flink type", u["_LIST_ENTRY"]["fields"]["Flink"]["type"],
     {"kind": "pointer", "subtype": {"kind": "struct", "name": "_LIST_ENTRY"}})
want("_EPROCESS.ImageFileName type", u["_EPROCESS"]["fields"]["ImageFileName"]["type"],
     {"count": 16, "kind": "array", "subtype": {"kind": "base", "name": "unsigned char"}})
want("_KPROCESS.DirectoryTableBase type", u["_KPROCESS"]["fields"]["DirectoryTableBase"]["type"],
     {"count": 2, "kind": "array", "subtype": {"kind": "base", "name": "unsigned long"}})
pfn = u["_MMPTE_HARDWARE"]["fields"]["PageFrameNumber"]["type"]
want("_MMPTE_HARDWARE.PageFrameNumber", (pfn["kind"], pfn["bit_position"], pfn["bit_length"]),
     ("bitfield", 12, 26))
want("_MMPTE_HARDWARE.Valid", u["_MMPTE_HARDWARE"]["fields"]["Valid"]["type"]["bit_position"], 0)
want("union kind", u["_LARGE_INTEGER"]["kind"], "union")
want("_POOL_TYPE.PagedPool", isf["enums"]["_POOL_TYPE"]["constants"].get("PagedPool"), 1)
want("_POOL_TYPE.NonPagedPool", isf["enums"]["_POOL_TYPE"]["constants"].get("NonPagedPool"), 0)
# forward references resolved: pointers name the complete type, which exists
ptr = u["_EPROCESS"]["fields"]["ActiveProcessLinks"]["type"]
want("embedded struct", ptr, {"kind": "struct", "name": "_LIST_ENTRY"})
missing_targets = set()
def walk(t):
    if t.get("kind") in ("struct", "union") and t["name"] not in u:
        missing_targets.add(t["name"])
    for k in ("subtype", "type"):
        if k in t:
            walk(t[k])
for s in u.values():
    for f in s["fields"].values():
        walk(f["type"])
if len(missing_targets) > 5:
    bad.append("%d referenced structs not defined, e.g. %s" % (len(missing_targets), sorted(missing_targets)[:5]))

# publics against dbghelp
syms = isf["symbols"]
oracle = {}
for line in open(sys.argv[2]):
    p = line.split()
    if len(p) >= 2:
        oracle.setdefault(p[1], set()).add(int(p[0], 16))
agree = disagree = 0
for name, addrs in oracle.items():
    if name in syms:
        if 0x804D7000 + syms[name]["address"] in addrs:
            agree += 1
        else:
            disagree += 1
            if disagree <= 5:
                bad.append("symbol %s: ISF %#x, dbghelp %s" % (name, 0x804D7000 + syms[name]["address"],
                                                               [hex(a) for a in addrs]))
if disagree:
    bad.append("%d symbols disagree with dbghelp" % disagree)
if agree < 0.99 * len(oracle):
    bad.append("only %d of the %d dbghelp publics in the ISF" % (agree, len(oracle)))
for n, rva in (("PsActiveProcessHead", 0x8055a158 - 0x804D7000), ("KiProcessorBlock", 0x80552e40 - 0x804D7000),
               ("KeBugCheckEx", 0x804f8c9a - 0x804D7000)):
    want("symbol " + n, syms.get(n, {}).get("address"), rva)
for b in bad:
    print("FAIL: " + b)
print("pdb2isf: %d types, %d enums, %d symbols; %d of %d dbghelp publics agree" %
      (len(u), len(isf["enums"]), len(syms), agree, len(oracle)))
sys.exit(1 if bad else 0)
EOF
fi

# the build-time table (when this test runs from a build tree) is the same conversion
BUILT=$(dirname "$2")/scene/xp/ntkrnlpa.json
if [ -s "$BUILT" ] && [ -s "$T/xp.json" ]; then
    cmp -s "$BUILT" "$T/xp.json" || fail "$BUILT differs from a fresh conversion"
fi

# hostile inputs
head -c 70000 "$PDB" >"$T/trunc.pdb"
python3 "$PY" "$T/trunc.pdb" "$T/t.json" 2>"$T/err1"
rc=$?
[ $rc = 1 ] || fail "truncated PDB: exit $rc, expected 1"
[ "$(wc -l <"$T/err1")" = 1 ] && grep -q "trunc.pdb" "$T/err1" || fail "truncated PDB message: $(cat "$T/err1")"
[ -e "$T/t.json" ] && fail "truncated PDB: an output file was written"
printf 'not a pdb at all\n' >"$T/text.pdb"
python3 "$PY" "$T/text.pdb" "$T/t2.json" 2>"$T/err2"
rc=$?
[ $rc = 1 ] && grep -q "MSF" "$T/err2" || fail "non-PDB: exit $rc, message $(cat "$T/err2")"
# a PDB whose stream directory is corrupt (block map address beyond the file)
python3 - "$PDB" "$T/bad.pdb" <<'EOF'
import sys, struct
b = bytearray(open(sys.argv[1], "rb").read())
struct.pack_into("<I", b, 52, 0x7fffffff)
open(sys.argv[2], "wb").write(b)
EOF
python3 "$PY" "$T/bad.pdb" "$T/t3.json" 2>"$T/err3"
rc=$?
[ $rc = 1 ] && [ "$(wc -l <"$T/err3")" = 1 ] || fail "corrupt block map: exit $rc, message $(cat "$T/err3")"

# mutated PDBs (fixed seed): a clean exit 0 or a one-line error with exit 1, never a traceback
python3 - "$PY" "$PDB" "$T" <<'EOF' || fails=$((fails + 1))
import random, subprocess, sys
py, pdb, tmp = sys.argv[1:4]
src = open(pdb, "rb").read()
rng = random.Random(1234)
bad = 0
for i in range(12):
    b = bytearray(src)
    for _ in range(rng.choice((1, 16, 256))):
        b[rng.randrange(len(b))] = rng.randrange(256)
    path = "%s/mut%d.pdb" % (tmp, i)
    open(path, "wb").write(b)
    r = subprocess.run(["python3", py, path, path + ".json"], capture_output=True, text=True, timeout=120)
    if r.returncode not in (0, 1) or "Traceback" in r.stderr or (r.returncode == 1 and not r.stderr.strip()):
        bad += 1
        print("FAIL: mutation %d: exit %d: %s" % (i, r.returncode, r.stderr.strip()[-300:]))
sys.exit(1 if bad else 0)
EOF

[ $fails = 0 ] && echo "pdb2isf: all checks passed"
exit $((fails > 0))
