#!/bin/bash
# verifier.sh: !verifier (level, options, counters, verified drivers, per-driver pool, the pool,
# IRP and critical-region logs), !gflag, and the 0x20 / 0xC4-0xC5 verifier diagnosis of
# !analyze -v (and 0x1 APC_INDEX_MISMATCH), on the generator's verifier/apc/iover/apcmismatch scenes of every layout (win7 w1809 w19041
# w22000 xp), text and --json, against the manifest's verifier lines (verifier_level vstat
# verified valloc vtrack vtrackpage gflag vlog* apc_thread culprit) and seed shapes (003, 004,
# 001). `!verifier 3 DRIVER` lists each verified driver's outstanding allocations from its own
# table (XP: PoolHash; Vista+: the tracker pages of _VF_TARGET_VERIFIED_DRIVER_DATA, the contract
# at the top of tests/gen/scene/verifier.c), checked against every valloc line. Hostile
# variants (a cyclic verified-driver list and AVL tree, a log index past the end, log pages
# missing, a looping tracker-page list with an absurd count, a tracker page missing) must give
# messages, never a crash or a hang.
# usage: bash verifier.sh NTKD_BIN GENDUMP CORPUS_DIR WORKDIR
set -u
source "$(dirname "$0")/scene_lib.sh" "$@"
scene_cli verifier
checked=0

cat >"$W/check.py" <<'EOF'
import json, subprocess, sys, collections
import mf as mfl
ntkd, dump, symp, tag, scene = sys.argv[1:6]
chk = mfl.Check(ntkd, dump, symp, tag)
fails, fail = chk.fails, chk.fail
hexv = mfl.hexv

mf = mfl.load(dump)

import re
_cache = {}
def run_many(cmds, js):
    args = [ntkd, "-z", dump, "-y", symp] + (["--json"] if js else []) + ["-c", "; ".join(cmds)]
    try:
        r = subprocess.run(args, capture_output=True, text=True, timeout=120)
    except subprocess.TimeoutExpired:
        fail("%s: timed out" % cmds)
        return
    if r.returncode not in (0, 1) or "AddressSanitizer" in r.stderr or "runtime error" in r.stderr:
        fail("%s: exit %d %s" % (cmds, r.returncode, r.stderr[-400:]))
    if js:
        for line in r.stdout.splitlines():
            if line.startswith("{"):
                o = json.loads(line)
                _cache[(o.get("command", ""), True)] = o
    else:
        cur = None
        for line in r.stdout.splitlines(True):
            m = re.match(r"^\d+: kd> (.*)$", line.rstrip("\n"))
            if m:
                cur = m.group(1).strip()
                _cache[(cur, False)] = ""
            elif cur is not None:
                _cache[(cur, False)] += line

def run(cmd, js):
    if (cmd, js) not in _cache:
        run_many([cmd], js)
    if (cmd, js) not in _cache:
        fail("%s: no output" % cmd)
        return None if js else ""
    return _cache[(cmd, js)]

def lm_name(f):
    return f[:-4] if f.lower().endswith(".sys") else f

# every command in two runs (JSON, text)
_cmds = ["!verifier", "!gflag", "!verifier 80", "!verifier 100", "!verifier 200"]
for _l in mf["vlog"]:
    if _l[0] == "pool":
        _cmds.append("!verifier 80 %x" % hexv(_l[2]))
        break
for _v in mf["verified"]:
    _cmds.append("!verifier 3 %s" % _v[0])
if scene in ("apc", "iover", "apcmismatch"):
    _cmds.append("!analyze -v")
run_many(_cmds, True)
run_many(_cmds, False)

# ---- summary: level, counters, drivers
level = hexv(mf["verifier_level"][0][0])
j = run("!verifier", True)
t = run("!verifier", False)
if j:
    if hexv(j.get("level", "0x0")) != level:
        fail("level %s, manifest %#x" % (j.get("level"), level))
    st = j.get("statistics", {})
    for name, v in mf["vstat"]:
        if name in st and hexv(st[name]) != hexv(v):
            fail("statistic %s = %s, manifest %s" % (name, st[name], v))
        if name not in st:
            fail("statistic %s missing" % name)
    drv = {d["name"].lower(): d for d in j.get("drivers", [])}
    for f, paged, np, loads, unloads, cp, cn in mf["verified"]:
        d = drv.get(f.lower())
        if not d:
            fail("verified driver %s not listed (%s)" % (f, list(drv)))
            continue
        if not d.get("has_pool_counters"):
            fail("%s: no pool counters" % f)
            continue
        if hexv(d["paged_bytes"]) != hexv(paged) or hexv(d["nonpaged_bytes"]) != hexv(np):
            fail("%s: paged/nonpaged %s/%s, manifest %s/%s" % (f, d["paged_bytes"], d["nonpaged_bytes"], paged, np))
        if d["loads"] != int(loads) or hexv(d["current_paged_allocations"]) != int(cp) or \
           hexv(d["current_nonpaged_allocations"]) != int(cn):
            fail("%s: loads/current allocations differ from the manifest" % f)
    if len(drv) != len(mf["verified"]):
        fail("%d drivers listed, manifest %d" % (len(drv), len(mf["verified"])))
if "Verify Level %x ... enabled options are:" % level not in t:
    fail("text: no 'Verify Level %x' line" % level)
if level & 0x8 and "All pool allocations checked on unload" not in t:
    fail("text: option 0x8 not named as seed 003 does")
if level & 0x800 and "Miscellaneous checks enabled" not in t:
    fail("text: option 0x800 not named as seed 004 does")
if level & 0x10 and "Io subsystem checking enabled" not in t:
    fail("text: option 0x10 not named as seed 004 does")
for head in ("Summary of All Verifier Statistics", "Driver Verification List", "Pool Allocations Attempted"):
    if head not in t:
        fail("text: no '%s'" % head)
# seed 003's shapes: the driver list header, and the byte counts of the pool pairs in upper-case hex
if "\nEntry     State           NonPagedPool   PagedPool   Module\n" not in t:
    fail("text: the driver list header differs from seed 003's")
_vs = {n: hexv(v) for n, v in mf["vstat"]}
for label, cnt, byt in (("Current paged pool allocations", "CurrentPagedPoolAllocations", "PagedBytes"),
                        ("Peak nonpaged pool allocations", "PeakNonPagedPoolAllocations", "PeakNonPagedBytes")):
    if cnt in _vs and byt in _vs:
        want = "%-38s 0x%x for %08X bytes" % (label, _vs[cnt], _vs[byt])
        if want not in t:
            fail("text: no %r (seed 003 shape)" % want)
for f, paged, np, *_ in mf["verified"]:
    row = [l for l in t.splitlines() if l.rstrip().endswith(f) and "Loaded" in l]
    if not row or ("%08x" % hexv(np)) not in row[0] or ("%08x" % hexv(paged)) not in row[0]:
        fail("text: no Loaded row for %s with %08x/%08x: %r" % (f, hexv(np), hexv(paged), row))

# ---- !gflag
g = hexv(mf["gflag"][0][0])
j = run("!gflag", True)
t = run("!gflag", False)
if j and hexv(j.get("value", "0x1")) != g:
    fail("!gflag value %s, manifest %#x" % (j.get("value"), g))
if "Current NtGlobalFlag contents: 0x%08x" % g not in t:
    fail("!gflag text: %r" % t[:200])
if g & 0x4000 and "otl - Maintain a list of objects for each type" not in t:
    fail("!gflag: otl not named as seed 001 shows")

# ---- logs
absent = {l[0] for l in mf["vlog_absent"]}
lengths = {l[0]: hexv(l[1]) for l in mf["vlog_length"]}
logs = collections.defaultdict(list)
for l in mf["vlog"]:
    logs[l[0]].append(l[1:])
table_types = {"irp": "_IOV_IRP_TRACE"}
for kind, flag, key, word in (("pool", 0x80, "pool_log", "pool"), ("irp", 0x100, "irp_log", "IRP"),
                              ("crit", 0x200, "critical_region_log", "critical-region")):
    j = run("!verifier %x" % flag, True)
    if not j:
        continue
    jl = j.get(key, {})
    if kind in absent:
        err = jl.get("error", "")
        if word + " log" not in err:
            fail("%s log absent from the table, message %r" % (kind, err))
        continue
    if "error" in jl:
        fail("%s log: %s" % (kind, jl["error"]))
        continue
    if hexv(jl.get("length", "0x0")) != lengths[kind]:
        fail("%s log length %s, manifest %#x" % (kind, jl.get("length"), lengths[kind]))
    got = {e["slot"]: e for e in jl.get("entries", [])}
    if len(got) != len(logs[kind]):
        fail("%s log: %d entries, manifest %d" % (kind, len(got), len(logs[kind])))
    for m in logs[kind]:
        e = got.get(hexv(m[0]))
        if not e:
            fail("%s log: slot %s missing" % (kind, m[0]))
            continue
        if kind == "pool":
            if hexv(e["address"]) != hexv(m[1]) or hexv(e["size"]) != hexv(m[2]) or hexv(e["thread"]) != hexv(m[3]):
                fail("pool slot %s: %s" % (m[0], e))
            if e["operation"] != {"alloc": "allocate", "free": "free"}[m[4]]:
                fail("pool slot %s: operation %s, manifest %s" % (m[0], e["operation"], m[4]))
            if not any(f["symbol"].lower().startswith(lm_name(m[5]).lower() + "!") for f in e["stack"]):
                fail("pool slot %s: no %s frame" % (m[0], m[5]))
        elif kind == "irp":
            if hexv(e["irp"]) != hexv(m[1]) or hexv(e["thread"]) != hexv(m[2]) or \
               e["kernel_apc_disable"] != int(m[3]) or e["special_apc_disable"] != int(m[4]):
                fail("irp slot %s: %s vs %s" % (m[0], e, m))
        else:
            if hexv(e["thread"]) != hexv(m[1]) or e["operation"] != m[2] or \
               e.get("module", "").lower() != lm_name(m[3]).lower():
                fail("crit slot %s: %s vs %s" % (m[0], {k: e.get(k) for k in ("thread", "operation", "module")}, m))
    # the text shapes of the seeds
    t = run("!verifier %x" % flag, False)
    if kind == "pool" and logs[kind]:
        a = logs[kind][0]
        line = "Pool block %s, Size %s, Thread %s" % tuple(
            ("%016x" if len(mf["arch"]) == 0 or mf["arch"][0][0] == "x64" else "%08x") % hexv(x) for x in (a[1], a[2], a[3]))
        if line not in t:
            fail("pool log text lacks %r" % line)
        if "There are up to 0x%x entries in the log." % lengths[kind] not in t:
            fail("pool log text: no entry count line")
    if kind == "crit" and ("Enter/Leave Critical Region log:" not in t or
                           "There are up to 0x%x entries in the log." % lengths[kind] not in t):
        fail("critical-region log text shape (seed 004)")
    if kind == "crit" and logs[kind] and \
            "entries in the log.\n\nDisplaying all the log entries.\n\n\nThread " not in t:
        fail("critical-region log: blank lines differ from seed 004's")
    if kind == "irp" and logs[kind]:
        m = logs[kind][0]
        if "KernelApcDisable = %d, SpecialApcDisable = %d" % (int(m[3]), int(m[4])) not in t:
            fail("IRP log text shape (seed 003)")

# a log whose enters and leaves balance says so
if scene == "verifier" and logs["crit"]:
    t = run("!verifier 200", False)
    if "every critical region in the log is balanced" not in t:
        fail("!verifier 200 on a balanced log: no verdict")

# the pool log for one address (seed 001: !verifier 80 ADDR)
if logs["pool"]:
    addr = logs["pool"][0][1]
    j = run("!verifier 80 %x" % hexv(addr), True)
    if j:
        ents = j.get("pool_log", {}).get("entries", [])
        want = [m for m in logs["pool"] if hexv(m[1]) == hexv(addr)]
        if len(ents) != len(want) or any(hexv(e["address"]) != hexv(addr) for e in ents):
            fail("!verifier 80 %s: %d entries, manifest %d" % (addr, len(ents), len(want)))

# per-driver outstanding allocations (seed 003: !verifier 3 DRIVER): XP's PoolHash, the tracker
# pages of later builds (manifest valloc / vtrack / vtrackpage), every driver of every scene
is64 = not mf["arch"] or mf["arch"][0][0] == "x64"
hx = "%016x" if is64 else "%08x"
tracks = {v[0].lower(): v for v in mf["vtrack"]}
for f0 in [v[0] for v in mf["verified"]]:
    want = sorted((hexv(v[1]), hexv(v[2]), hexv(v[3]), hexv(v[4])) for v in mf["valloc"] if v[0].lower() == f0.lower())
    j = run("!verifier 3 %s" % f0, True)
    if j:
        ds = j.get("drivers", [])
        if len(ds) != 1 or ds[0]["name"].lower() != f0.lower():
            fail("!verifier 3 %s: drivers %s" % (f0, [d["name"] for d in ds]))
        else:
            d = ds[0]
            if "allocations_error" in d:
                fail("!verifier 3 %s: %s" % (f0, d["allocations_error"]))
            got = sorted((hexv(a["address"]), hexv(a["size"]), int.from_bytes(a["tag"].encode(), "little"),
                          hexv(a["caller"])) for a in d.get("allocations", []))
            if got != want:
                fail("!verifier 3 %s: allocations %s, manifest %s" % (f0, [tuple(map(hex, g)) for g in got],
                                                                      [tuple(map(hex, w)) for w in want]))
            src = "PoolTrackers" if tracks else "PoolHash"
            if d.get("allocations_source") != src:
                fail("!verifier 3 %s: source %s, expected %s" % (f0, d.get("allocations_source"), src))
            tr = tracks.get(f0.lower())
            if tr:
                jt = d.get("trackers", {})
                if hexv(jt.get("pages", "0x0")) != int(tr[1]) or hexv(jt.get("free", "0x0")) != int(tr[3]) or \
                   not jt.get("complete"):
                    fail("!verifier 3 %s: trackers %s, manifest pages %s free %s" % (f0, jt, tr[1], tr[3]))
    t = run("!verifier 3 %s" % f0, False)
    if want and "PoolAddress  SizeInBytes    Tag       CallersAddress" not in t:
        fail("!verifier 3 %s text: no seed-003 allocation header" % f0)
    for va, size, tg, caller in want:
        row = "%s     0x%08x     %s      %s" % (hx % va, size, tg.to_bytes(4, "little").decode("latin-1"), hx % caller)
        if row not in t:
            fail("!verifier 3 %s text: no row %r" % (f0, row))
    if tracks and len(tracks) != len(mf["verified"]):
        fail("manifest: vtrack lines for %d of %d drivers" % (len(tracks), len(mf["verified"])))

# ---- bug check 0x1 (apcmismatch): the parameters Microsoft documents, against the manifest
if scene == "apcmismatch":
    hdr = {l[0]: hexv(l[1]) for l in mf["header"] if len(l) == 2 and l[0].startswith("BugCheck")}
    funcs = {l[1]: hexv(l[2]) for l in mf["func"] if len(l) == 3 and l[0] == "nt"}
    th, kad, sad = mf["apc_thread"][0]
    if not mf["apc_index"]:
        fail("manifest has no apc_index line")
    want = [funcs.get("NtDeviceIoControlFile", -1), int((mf["apc_index"] or [["-1"]])[0][0]), None, 0]
    if hdr.get("BugCheckCode") != 0x1:
        fail("manifest bug check %s, not 0x1" % hdr.get("BugCheckCode"))
    j = run("!analyze -v", True)
    a = (j or {}).get("analysis", {})
    if hexv(a.get("bugcheck_code", "0x0")) != 0x1 or a.get("bugcheck_name") != "APC_INDEX_MISMATCH":
        fail("bug check %s %s, expected 0x1 APC_INDEX_MISMATCH" % (a.get("bugcheck_code"), a.get("bugcheck_name")))
    ps = [hexv(p) for p in a.get("bugcheck_params", [])]
    if len(ps) != 4:
        fail("bugcheck_params %s" % ps)
    else:
        for i in range(4):
            if ps[i] != hdr.get("BugCheckParameter%d" % (i + 1)):
                fail("P%d %#x, manifest %s" % (i + 1, ps[i], hdr.get("BugCheckParameter%d" % (i + 1))))
            if want[i] is not None and ps[i] != want[i]:
                fail("P%d %#x, expected %#x (%s)" % (i + 1, ps[i], want[i],
                     ["nt!NtDeviceIoControlFile", "apc_index", "", "0: a system call"][i]))
        # P3: the (Special)KernelApcDisable value: its low 16 bits the KernelApcDisable
        if ps[2] & 0xffff != int(kad) & 0xffff or (ps[2] >> 16) & 0xffff not in (int(sad) & 0xffff, 0xffff):
            fail("P3 %#x does not hold KernelApcDisable %s / SpecialApcDisable %s" % (ps[2], kad, sad))
    kf = a.get("kernel_facts", {})
    if "NtDeviceIoControlFile" not in kf.get("SYSTEM_FUNCTION", "") or "system call" not in kf.get("SYSTEM_FUNCTION", ""):
        fail("SYSTEM_FUNCTION %r" % kf.get("SYSTEM_FUNCTION"))
    t = run("!analyze -v", False)
    if "APC_INDEX_MISMATCH (1)" not in t or "BUGCHECK_CODE:  1\n" not in t:
        fail("!analyze -v text: no APC_INDEX_MISMATCH (1) / BUGCHECK_CODE 1")
    if mf["culprit"]:
        c = lm_name(mf["culprit"][0][0])
        if not re.search(r"^CRITICAL_REGION_CULPRIT:  %s entered a critical region on the crashing thread" % re.escape(c), t, re.M):
            fail("text: CRITICAL_REGION_CULPRIT does not name %s on the crashing thread" % c)
        if not re.search(r"^MODULE_NAME:  %s$" % re.escape(c), t, re.M):
            fail("text: MODULE_NAME is not %s" % c)
        if not re.search(r"^FAILURE_BUCKET_ID:  0x1_CRITICAL_REGION_%s!" % re.escape(c), t, re.M):
            fail("text: FAILURE_BUCKET_ID does not name %s" % c)
        if not a.get("failure_bucket_id", "").startswith("0x1_CRITICAL_REGION_%s!" % c):
            fail("json: bucket %r" % a.get("failure_bucket_id"))

# ---- the diagnosis (apc, iover, apcmismatch)
if scene in ("apc", "iover", "apcmismatch"):
    j = run("!analyze -v", True)
    a = (j or {}).get("analysis", {})
    kf = a.get("kernel_facts", {})
    th, kad, sad = mf["apc_thread"][0]
    v = kf.get("THREAD_APC_DISABLE", "")
    if ("KernelApcDisable %d" % int(kad)) not in v or ("%x" % hexv(th)) not in v:
        fail("THREAD_APC_DISABLE %r, manifest %s %s" % (v, th, kad))
    if "APC_DISABLE_COUNT" not in kf:
        fail("no APC_DISABLE_COUNT fact")
    if mf["culprit"]:
        c = mf["culprit"][0][0]
        if a.get("image_name", "").lower() != c.lower() or a.get("module_name", "").lower() != lm_name(c).lower():
            fail("blamed %s/%s, culprit %s" % (a.get("module_name"), a.get("image_name"), c))
        if lm_name(c).lower() not in a.get("failure_bucket_id", "").lower():
            fail("bucket %r does not name %s" % (a.get("failure_bucket_id"), c))
        if lm_name(c) not in kf.get("CRITICAL_REGION_CULPRIT", ""):
            fail("CRITICAL_REGION_CULPRIT %r" % kf.get("CRITICAL_REGION_CULPRIT"))
        j2 = run("!verifier 200", True)
        ub = (j2 or {}).get("critical_region_log", {}).get("unbalanced", [])
        if not any(hexv(u["thread"]) == hexv(th) and u["module"].lower() == lm_name(c).lower() and
                   u["enters"] > u["leaves"] for u in ub):
            fail("!verifier 200: no unbalanced %s on thread %s: %s" % (c, th, ub))
    elif "crit" in absent:
        t = run("!analyze -v", False)
        if "keeps no critical-region log" not in t:
            fail("!analyze -v on a build without the log does not say so")
    if mf["culprit"]:
        # the summary's notes name it too
        j3 = run("!verifier", True) or {}
        ub = j3.get("critical_region_balance", {}).get("unbalanced", [])
        if not any(u["module"].lower() == lm_name(mf["culprit"][0][0]).lower() for u in ub):
            fail("!verifier summary: no note on the unbalanced culprit: %s" % ub)
    if scene == "iover":
        if "DISPATCH_ROUTINE" not in kf or "FltpDispatch" not in kf.get("DISPATCH_ROUTINE", ""):
            fail("DISPATCH_ROUTINE %r" % kf.get("DISPATCH_ROUTINE"))
    t = run("!analyze -v", False)
    if "THREAD_APC_DISABLE:" not in t:
        fail("!analyze -v text lacks THREAD_APC_DISABLE")

print("CHECKED %s" % tag)
sys.exit(1 if fails else 0)
EOF

for layout in win7 w1809 w19041 w22000 xp; do
    kind=full
    [ "$layout" = xp ] && kind=pae
    for scene in verifier apc iover apcmismatch; do
        f=$(scene_dump "$layout" "$scene" "$kind") || { fail "$layout $scene: generator failed"; continue; }
        checked=$((checked + 1))
        python3 "$W/check.py" "$NTKD" "$f" "$SYMP" "$layout/$scene" "$scene" || fails=$((fails + 1))
    done
done

# a bitmap dump of one layout reads the same
f=$(scene_dump w19041 verifier bitmap) || fail "w19041 verifier bitmap: generator failed"
if [ -n "${f:-}" ]; then
    checked=$((checked + 1))
    python3 "$W/check.py" "$NTKD" "$f" "$SYMP" "w19041/verifier/bitmap" verifier || fails=$((fails + 1))
fi

# hostile: cyclic lists and tree, index past the end, missing log pages
for layout in w19041 xp; do
    kind=full
    [ "$layout" = xp ] && kind=pae
    f=$(scene_dump "$layout" iover "$kind" --hostile all) || { fail "$layout hostile: generator failed"; continue; }
    out=$W/$layout-hostile.txt
    : >"$out"
    cmds="!verifier; !verifier 3; !verifier 80; !verifier 100; !verifier 200; !verifier 380 0; !gflag; !analyze -v"
    timeout 120 "$NTKD" -z "$f" -y "$SYMP" -c "$cmds" >"$out" 2>&1
    rc=$?
    if [ $rc -ge 124 ] || grep -q "AddressSanitizer\|runtime error" "$out"; then
        fail "$layout hostile: exit $rc"
    fi
    timeout 120 "$NTKD" -z "$f" -y "$SYMP" --json -c "$cmds" >"$out.json" 2>&1
    rc=$?
    if [ $rc -ge 124 ] || grep -q "AddressSanitizer\|runtime error" "$out.json"; then
        fail "$layout hostile --json: exit $rc"
    fi
    checked=$((checked + 1))
    grep -q "cycle that does not return to the head" "$out" ||
        fail "$layout hostile: the cyclic verified-driver list is not reported"
    if [ "$layout" = w19041 ]; then
        node=$(mf_get "$f" hostile | awk '$2 == "vavl_cycle" {print $3}')
        grep -q "ViTargetDriversAvl: the link at node .*(a cycle)" "$out" ||
            fail "$layout hostile: the AVL cycle is not reported"
        short=$(printf '%x' $((node & 0xffffffff)))
        grep "ViTargetDriversAvl" "$out" | grep -q "$short" ||
            fail "$layout hostile: the AVL message does not name node $node"
        grep -q "index 0xfffffff0 is past its 0x80 entries" "$out" ||
            fail "$layout hostile: the critical-region index past the end is not reported"
        grep -q "pool log entries are not in the dump" "$out" ||
            fail "$layout hostile: the missing pool log pages are not reported"
        grep -q "entered and not left by BadDriver" "$out" ||
            fail "$layout hostile: the critical-region log is no longer read"
    else
        grep -q "this build keeps no critical-region log" "$out" ||
            fail "$layout hostile: XP's missing log is not reported"
    fi
done

# hostile tracker pages (Vista+ contract, verifier.c): a page list that loops back with an
# absurd Depth, and a tracker page left out of the dump; the allocations of the pages that are
# there are still listed
for h in cycle missing; do
    f=$(scene_dump w19041 verifier full --hostile $h) || { fail "w19041 verifier --hostile $h: generator failed"; continue; }
    checked=$((checked + 1))
    d0=$(mf_get "$f" verified | awk 'NR == 1 {print $2}')
    page=$(mf_get "$f" hostile | awk -v w="vtrack_$h" '$2 == w {print $3}')
    [ -n "$page" ] || { fail "hostile $h: no vtrack_$h line in the manifest"; continue; }
    out=$W/trk-$h.txt
    timeout 60 "$NTKD" -z "$f" -y "$SYMP" -c "!verifier 3 $d0" >"$out" 2>&1
    rc=$?
    if [ $rc -ge 124 ] || grep -q "AddressSanitizer\|runtime error" "$out"; then
        fail "hostile $h: exit $rc"
        continue
    fi
    timeout 60 "$NTKD" -z "$f" -y "$SYMP" --json -c "!verifier 3 $d0" >"$out.json" 2>/dev/null
    tick() { printf '%08x`%08x' $(($1 >> 32 & 0xffffffff)) $(($1 & 0xffffffff)); } # nk_fmt_addr64
    short=$(tick $((page)))
    first=$(mf_get "$f" vtrackpage | awk -v d="$d0" '$2 == d {print $3; exit}')
    if [ $h = cycle ]; then
        grep -q "$d0: the tracker page list leads back to page $(tick $((first)))" "$out" ||
            fail "hostile cycle: the looping page list is not reported: $(grep -i track "$out")"
        grep -q "$d0: PoolPageHeaders claims 0xffff tracker pages, 2 found" "$out" ||
            fail "hostile cycle: the absurd page count is not reported"
        want=$(mf_get "$f" valloc | awk -v d="$d0" '$2 == d {print $3}' | sort)
    else
        grep -q "$d0: tracker page $short is not in the dump" "$out" ||
            fail "hostile missing: the missing page $short is not reported: $(grep -i track "$out")"
        grep -q "free tracker entry .* is not in the dump: the free list is cut there" "$out" ||
            fail "hostile missing: the cut free list is not reported"
        # the allocations whose entry lies on the pages that are there
        want=$(mf_get "$f" valloc | python3 -c 'import sys
d, p = sys.argv[1], int(sys.argv[2], 16)
for l in sys.stdin:
    v = l.split()
    if v[1] == d and len(v) > 6 and not p <= int(v[6], 16) < p + 4096: print(v[2])' "$d0" "$page")
    fi
    got=$(jq -r '.drivers[0].allocations[]?.address' "$out.json" | sort)
    norm() { while read -r x; do [ -n "$x" ] && printf '0x%x\n' $((x)); done | sort; }
    [ "$(norm <<<"$got")" = "$(norm <<<"$want")" ] ||
        fail "hostile $h: allocations $(echo $got), expected $(echo $want)"
    [ "$(jq -r '.drivers[0].trackers.complete' "$out.json")" = false ] ||
        fail "hostile $h: trackers.complete is not false"
done

echo "verifier.sh: $checked checks, $fails failures"
[ $fails -eq 0 ]
