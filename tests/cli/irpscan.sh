#!/bin/bash
# irpscan.sh: !irpfind's physical-memory scan (kobj/kscan.c) on 9f scenes: w19041 full, win7
# full, w22000 bitmap and XP PAE (and the w19041 basic scene). Every `irp` line of the generator's manifest must be found,
# including the power IRP the 9f scene keeps on no thread's list (thread 0), in text and JSON,
# by the default (scan merged with the thread lists, each IRP once) and by the scan alone (-s);
# the thread-list walk alone (-t) must not claim the thread-less one. A hostile scene (every
# hostile variant) ends with output or a message, no crash, no hang.
source "$(dirname "$0")/scene_lib.sh" "$@"
set -u
fails=0
fail() { echo "FAIL: $*"; fails=$((fails + 1)); }
SYM=$(scene_sympath)

check() { # LAYOUT KIND [SCENE]
    local layout=$1 kind=$2 scene=${3:-9f} f
    f=$(scene_dump "$layout" "$scene" "$kind") || { fail "$layout $scene $kind: no scene"; return; }
    local mf=$f.manifest
    [ -n "$(mf_get "$f" irp | awk '$3 == "0x0"')" ] || fail "$layout $kind: the scene has no thread-less irp line"
    local out=$WORKDIR/irpscan.$layout.$scene.$kind
    # the three modes in one run per output format
    local cmds='!irpfind; !irpfind -s; !irpfind -t'
    timeout 100 "$NTKD" -z "$f" -y "$SYM" --json -c "$cmds" >"$out.json" 2>"$out.err" ||
        fail "$layout $scene $kind: --json exit $? ($(head -c 300 "$out.err"))"
    timeout 100 "$NTKD" -z "$f" -y "$SYM" -c "$cmds" >"$out.txt" 2>>"$out.err" ||
        fail "$layout $scene $kind: text exit $?"
    python3 - "$mf" "$out" "$layout $scene $kind" <<'EOF' || fails=$((fails + 1))
import json, sys
mf, out, tag = sys.argv[1:4]
fails = 0
def fail(m):
    global fails
    fails += 1
    print("FAIL: %s: %s" % (tag, m))
def num(s): return int(s, 16) if s.lower().startswith("0x") else int(s, 16)
irps = [l.split()[1:] for l in open(mf) if l.startswith("irp ")]
threads = {num(l.split()[1]): num(l.split()[2]) for l in open(mf) if l.startswith("thread ")}
x86 = any(l.strip() == "arch x86pae" for l in open(mf))
import re
def load(mode):
    want = ("!irpfind " + mode).strip()
    for l in open(out + ".json"):
        if l.startswith("{"):
            j = json.loads(l)
            if j.get("command", "").strip() == want: return j
    fail("%s: no JSON" % want)
    return {}
texts, curcmd = {}, None
for l in open(out + ".txt"):
    m = re.match(r"^\d+: kd> (!irpfind.*)$", l.rstrip("\n"))
    if m:
        curcmd = m.group(1).strip(); texts[curcmd] = ""
    elif curcmd:
        texts[curcmd] += l
def fmt(v): return ("%08x" if x86 else "%016x") % v
for mode in ("", "-s", "-t"):
    j = load(mode)
    text = texts.get(("!irpfind " + mode).strip(), "")
    if not text: fail("!irpfind %s: no text output" % mode)
    got = {}
    for x in j.get("irps", []):
        a = int(x["irp"], 16) if isinstance(x["irp"], str) else x["irp"]
        if a in got: fail("!irpfind %s: IRP %x listed twice" % (mode, a))
        got[a] = x
    for i in irps:
        irp, thr, cur, cnt, mj, mn, dev = (num(v) for v in i[:7])
        if mode == "-t" and thr == 0:
            if irp in got: fail("!irpfind -t lists the thread-less IRP %x" % irp)
            continue
        x = got.get(irp)
        if not x:
            fail("!irpfind %s: IRP %x (thread %x) not found" % (mode, irp, thr)); continue
        h = lambda k: int(x.get(k, "0"), 16) if isinstance(x.get(k, 0), str) else x.get(k, 0)
        if h("thread") != thr: fail("!irpfind %s: IRP %x thread %x, manifest %x" % (mode, irp, h("thread"), thr))
        if 1 <= cur <= cnt and (x.get("major"), x.get("minor"), h("device")) != (mj, mn, dev):
            fail("!irpfind %s: IRP %x current (%s,%s,%x), manifest (%x,%x,%x)" % (mode, irp, x.get("major"), x.get("minor"), h("device"), mj, mn, dev))
        if thr and threads.get(thr) is not None and h("process") != threads[thr]:
            fail("!irpfind %s: IRP %x process %x, manifest %x" % (mode, irp, h("process"), threads[thr]))
        if mode != "-t" and not x.get("found_by_scan"):
            fail("!irpfind %s: IRP %x not found by the scan" % (mode, irp))
        if mode != "-s" and thr and not x.get("on_thread_list"):
            fail("!irpfind %s: IRP %x (thread %x) not marked on its thread's list" % (mode, irp, thr))
        line = "%s [%s] irpStack:" % (fmt(irp), fmt(thr))
        if line not in text: fail("!irpfind %s: text lacks '%s'" % (mode, line))
        elif 1 <= cur <= cnt and ("(%2x,%2x)  %s" % (mj, mn, fmt(dev))) not in text:
            fail("!irpfind %s: text line of IRP %x lacks (%2x,%2x) %s" % (mode, irp, mj, mn, fmt(dev)))
    if mode != "-t":
        s = j.get("scan", {})
        if not s.get("pages_scanned") or s.get("pages_scanned", 0) > s.get("dump_pages", 0):
            fail("!irpfind %s: scan statistics %s" % (mode, s))
        if s.get("found", 0) < len(irps):
            fail("!irpfind %s: the scan validated %s IRPs, the manifest has %d" % (mode, s.get("found"), len(irps)))
        if "pages in the dump" not in text: fail("!irpfind %s: text lacks the scan summary" % mode)
    elif "scan" in j:
        fail("!irpfind -t scanned memory")
print("%s: %d irp lines checked in 3 modes%s" % (tag, len(irps), "" if not fails else ", %d failures" % fails))
sys.exit(1 if fails else 0)
EOF
}

check w19041 full
check win7 full
check w22000 bitmap
check xp pae
check w19041 full basic   # the port driver's held IRP (in its device extension, no thread)

# usage errors
"$NTKD" -z "$(scene_dump w19041 9f full)" -y "$SYM" -c '!irpfind -q' 2>&1 | grep -q "usage: !irpfind" ||
    fail "!irpfind -q: no usage message"

# hostile: cyclic lists, pointers into missing pages, corrupt type indexes; the thread-list walk
# warns, the scan still runs; each IRP at most once
for spec in "w19041 full" "xp pae"; do
    set -- $spec
    h=$(scene_dump "$1" 9f "$2" --hostile all) || { fail "$1 hostile scene"; continue; }
    timeout 100 "$NTKD" -z "$h" -y "$SYM" --json -c '!irpfind; !irpfind -s; !irpfind -t' >"$WORKDIR/irpscan.hostile.json" 2>&1
    rc=$?
    [ $rc -lt 2 ] || fail "$1 hostile: !irpfind exit $rc (crash or hang)"
    python3 - "$WORKDIR/irpscan.hostile.json" "$1 hostile" <<'EOF' || fails=$((fails + 1))
import json, sys
js = [json.loads(l) for l in open(sys.argv[1]) if l.startswith("{")]
bad = 0
if len(js) != 3: print("FAIL: %s: %d JSON results for 3 commands" % (sys.argv[2], len(js))); bad = 1
for j in js:
    c = j.get("command", "?")
    if "error" not in j and "irps" not in j: print("FAIL: %s %s: neither IRPs nor a message: %s" % (sys.argv[2], c, str(j)[:300])); bad = 1
    seen = [x["irp"] for x in j.get("irps", [])]
    if len(seen) != len(set(seen)): print("FAIL: %s %s: an IRP listed twice" % (sys.argv[2], c)); bad = 1
sys.exit(bad)
EOF
    # the thread-less IRP is no list's: the scan still finds it in the hostile dump
    want=$(mf_get "$h" irp | awk '$3 == "0x0" {print $2}' | head -1)
    if [ -n "$want" ]; then
        timeout 60 "$NTKD" -z "$h" -y "$SYM" -c '!irpfind' 2>&1 | grep -qi "^0*${want#0x} \[0*\]" ||
            fail "$1 hostile: !irpfind does not find the thread-less IRP $want"
    fi
done

# a dump without page tables (triage): the scan reports why, the thread walk still answers
tri=$CORPUS/dumps/kernel/triage-x64-19041.dmp
if [ -f "$tri" ]; then
    out=$(timeout 60 "$NTKD" -z "$tri" -y "$CORPUS/symstore" -c '!irpfind -s' 2>&1)
    rc=$?
    [ $rc -lt 2 ] || fail "triage: !irpfind -s exit $rc"
    grep -qiE "scan|page|not" <<<"$out" || fail "triage: !irpfind -s gives no message: $out"
fi

[ $fails = 0 ] && echo "irpscan: all checks passed"
exit $((fails > 0))
