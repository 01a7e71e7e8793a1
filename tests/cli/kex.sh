#!/bin/bash
# kex.sh: the executive commands (!locks, !dpcs, !timer) and the kernel facts of !analyze -v
# (0x9F blocked IRP, 0x133 long DPC, deadlocks) on kernel scenes from ntkd-genscene, in text
# and --json, against the facts of the generator's manifest (resource/waiter/dpc/timer/
# deadlock/blocked_irp/long_dpc/thread/func lines), on every layout the generator builds.
# Hostile scenes (cycle, missing, badtype) must give messages naming the broken address,
# never a crash or a hang.
# usage: bash kex.sh NTKD_BIN GENDUMP CORPUS_DIR WORKDIR
set -u
source "$(dirname "$0")/scene_lib.sh" "$@"
scene_cli kex
checked=0
skipped=0

cat >"$W/check.py" <<'EOF'
import json, subprocess, sys, collections
import mf as mfl
ntkd, dump, symp, tag, scene, mode = sys.argv[1:7]
chk = mfl.Check(ntkd, dump, symp, tag)
fails, fail, run = chk.fails, chk.fail, chk.run
hexv = mfl.hexv

mf = mfl.load(dump)
# "arch x64|x86pae": its own line, or a field of the table line
is64 = True
for l in mf["arch"]:
    is64 = l[0] == "x64"
for l in mf["table"]:
    if "arch" in l[:-1]:
        is64 = l[l.index("arch") + 1] == "x64"

def jruns(cmds):
    p = run(cmds, True)
    out = {}
    if not p:
        return out
    for line in p.stdout.splitlines():
        line = line.strip()
        if not line.startswith("{"):
            continue
        try:
            o = json.loads(line)
        except ValueError:
            fail("bad JSON line: %s" % line[:200])
            continue
        out.setdefault(o.get("command", ""), o)
    return out

def fmt(v):
    return ("%016x" if is64 else "%08x") % v

# the thread whose kernel stack holds an address, from the manifest's thread lines
threads = {}
for l in mf["thread"]:
    threads[hexv(l[0])] = (hexv(l[6]), hexv(l[7]))   # stack_base, stack_limit
def stack_owner(addr):
    for t, (base, limit) in threads.items():
        if limit <= addr < base:
            return t
    return None

funcs = {}
for l in mf["func"]:
    mod = l[0].rsplit(".", 1)[0].lower()
    funcs[hexv(l[2])] = "%s!%s" % (mod, l[1].lower())

cmds = ["!locks", "!dpcs", "!timer"]
if scene in ("9f", "133", "deadlock"):
    cmds.append("!analyze -v")
J = jruns(cmds)
tp = run(cmds, False)
T = tp.stdout.replace("`", "") if tp else ""

if mode == "hostile":
    for c in cmds:
        if c not in J:
            fail("no JSON answer for %s" % c)
    # a broken structure the commands read must be named in their output
    for l in mf["hostile"]:
        what, addr = l[0], hexv(l[1])
        if what in ("resource_cycle", "missing_owner_table"):
            if fmt(addr) not in T:
                fail("hostile %s %s: !locks does not name the address" % (what, fmt(addr)))
    print("%s: hostile ok" % tag if not fails else "%s: %d failures" % (tag, len(fails)))
    sys.exit(1 if fails else 0)

# ---- !locks ----------------------------------------------------------------------------------
L = J.get("!locks")
if not L or not L.get("ok"):
    # a scene without resources may leave the list head out of the dump: a message naming it
    # is the right answer then
    if mf["resource"] or mf["waiter"] or "ExpSystemResourcesList" not in str(L and L.get("error")):
        fail("!locks failed: %s" % (L and L.get("error")))
else:
    res = {hexv(r["address"]): r for r in L.get("resources", [])}
    held = [r for r in mf["resource"] if hexv(r[1]) != 0]
    if mf["resource"]:
        if L.get("held_locks") != len(held):
            fail("!locks: %s held, manifest %d" % (L.get("held_locks"), len(held)))
        if L.get("total_locks", 0) < len(mf["resource"]):
            fail("!locks: %s total, manifest has %d resources" % (L.get("total_locks"), len(mf["resource"])))
    if "%d total locks, %d locks currently held" % (L.get("total_locks", -1), L.get("held_locks", -1)) not in T:
        fail("!locks text: no '%d total locks, %d locks currently held'" % (L.get("total_locks", -1), L.get("held_locks", -1)))
    for r in mf["resource"]:
        addr, owner, excl, nsw, nxw, cont = hexv(r[0]), hexv(r[1]), int(r[2], 0), hexv(r[3]), hexv(r[4]), hexv(r[5])
        if not owner:
            continue
        j = res.get(addr)
        if not j:
            fail("!locks: held resource %s missing" % fmt(addr))
            continue
        if "Resource @ 0x%s" % fmt(addr) not in T and "(0x%s)" % fmt(addr) not in T:
            fail("!locks text: resource %s not shown" % fmt(addr))
        if bool(j["exclusive"]) != bool(excl):
            fail("!locks %s: exclusive %s, manifest %d" % (fmt(addr), j["exclusive"], excl))
        if j["number_of_shared_waiters"] != nsw or j["number_of_exclusive_waiters"] != nxw or j["contention_count"] != cont:
            fail("!locks %s: waiters %s/%s contention %s, manifest %d/%d/%d" % (fmt(addr),
                 j["number_of_shared_waiters"], j["number_of_exclusive_waiters"], j["contention_count"], nsw, nxw, cont))
        if nsw and "NumberOfSharedWaiters = %d" % nsw not in T:
            fail("!locks text: no 'NumberOfSharedWaiters = %d'" % nsw)
        own = [o for o in j["owners"] if hexv(o["owner"]) == owner]
        if not own:
            fail("!locks %s: owner %s not listed" % (fmt(addr), fmt(owner)))
        elif owner & 3:
            want = stack_owner(owner & ~3)
            o = own[0]
            if not o["owner_pointer"]:
                fail("!locks %s: owner %s not flagged as an owner pointer" % (fmt(addr), fmt(owner)))
            if want is None:
                fail("manifest: no thread's stack holds owner pointer %s" % fmt(owner))
            elif hexv(o.get("thread", "0")) != want:
                fail("!locks %s: owner pointer resolved to %s, the stack is thread %s's" %
                     (fmt(addr), o.get("thread"), fmt(want)))
            if "%s-" % fmt(owner) not in T or "Unknown owner" not in T:
                fail("!locks text: owner pointer %s not shown as an unknown owner" % fmt(owner))
            if want is not None and ("kernel stack of thread %s" % fmt(want)) not in T:
                fail("!locks text: owner pointer not resolved to thread %s" % fmt(want))
        else:
            if hexv(own[0].get("thread", "0")) != owner:
                fail("!locks %s: owner thread %s" % (fmt(addr), own[0].get("thread")))
            if "%s-01" % fmt(owner) not in T:
                fail("!locks text: owner %s-01 not shown" % fmt(owner))
    waiters = collections.defaultdict(set)
    for w in mf["waiter"]:
        waiters[hexv(w[0])].add(hexv(w[1]))
    for addr, ws in waiters.items():
        j = res.get(addr)
        if not j:
            continue
        got = set(hexv(x) for x in j["waiting_shared"] + j["waiting_exclusive"])
        if got != ws:
            fail("!locks %s: waiters %s, manifest %s" % (fmt(addr), sorted(map(fmt, got)), sorted(map(fmt, ws))))
        for t in ws:
            if fmt(t) not in T:
                fail("!locks text: waiter %s not shown" % fmt(t))
    # the deadlocks the manifest names
    cyc = L.get("deadlocks", [])
    for d in mf["deadlock"]:
        th, r = hexv(d[0]), hexv(d[1])
        if not any(any(hexv(s["thread"]) == th and hexv(s["resource"]) == r for s in c["steps"]) for c in cyc):
            fail("!locks: deadlock of thread %s on resource %s not found (%s)" % (fmt(th), fmt(r), cyc))
        if "thread %s waits for resource %s" % (fmt(th), fmt(r)) not in T:
            fail("!locks text: deadlock of thread %s on %s not reported" % (fmt(th), fmt(r)))
        # the owner is an ExSetResourceOwnerPointer pointer into the deadlocked thread's own stack
        j = res.get(r)
        if not j:
            fail("!locks: deadlock resource %s not shown" % fmt(r))
        else:
            op = [o for o in j["owners"] if o["owner_pointer"]]
            if not op:
                fail("!locks %s: no owner pointer among the owners %s" % (fmt(r), j["owners"]))
            for o in op:
                raw = hexv(o["owner"])
                if stack_owner(raw & ~3) != th:
                    fail("!locks %s: owner pointer %s is not in thread %s's stack (manifest)" % (fmt(r), fmt(raw), fmt(th)))
                if hexv(o.get("thread", "0")) != th:
                    fail("!locks %s: owner pointer %s resolved to %s, not %s" % (fmt(r), fmt(raw), o.get("thread"), fmt(th)))
                if "kernel stack of thread %s" % fmt(th) not in T:
                    fail("!locks text: owner pointer %s not resolved to thread %s" % (fmt(raw), fmt(th)))
    if not mf["deadlock"] and cyc:
        fail("!locks: deadlocks reported where the manifest has none: %s" % cyc)

# ---- !dpcs -----------------------------------------------------------------------------------
D = J.get("!dpcs")
if not D or not D.get("ok"):
    fail("!dpcs failed: %s" % (D and D.get("error")))
else:
    got = set((d["cpu"], hexv(d["kdpc"]), hexv(d["routine"])) for d in D.get("dpcs", []))
    want = set((int(l[0], 0), hexv(l[1]), hexv(l[2])) for l in mf["dpc"])
    if got != want:
        fail("!dpcs: %d DPCs, manifest %d; missing %s extra %s" % (len(got), len(want),
             sorted(want - got)[:4], sorted(got - want)[:4]))
    for d in D.get("dpcs", []):
        r = hexv(d["routine"])
        if r in funcs and d.get("symbol", "").lower() != funcs[r]:
            fail("!dpcs: routine %s shown as %s, manifest %s" % (fmt(r), d.get("symbol"), funcs[r]))
    for c, k, r in want:
        if "%2d: " % c not in T or "0x%s 0x%s" % (fmt(k), fmt(r)) not in T:
            fail("!dpcs text: cpu %d KDPC %s routine %s not shown" % (c, fmt(k), fmt(r)))
    if want and "CPU Type      KDPC       Function" not in T:
        fail("!dpcs text: no header")
    # the running DPC, where the build records it (KPRCB.CurrentDpcRoutine: 19041 and later)
    for l in mf["long_dpc"]:
        cpu, routine = int(l[0], 0), hexv(l[1])
        pc = [p for p in D.get("processors", []) if p["cpu"] == cpu]
        act = hexv(pc[0]["active_routine"]) if pc and "active_routine" in pc[0] else None
        if act is not None and act != routine:
            fail("!dpcs: cpu %d runs %s, manifest %s" % (cpu, fmt(act), fmt(routine)))
        if act is None and tag.split("-")[0] in ("w19041", "w22000"):
            fail("!dpcs: cpu %d: no running DPC shown (the build has KPRCB.CurrentDpcRoutine)" % cpu)
        if act is not None and "Running DPCs:" not in T:
            fail("!dpcs text: no 'Running DPCs:' section")

# ---- !timer ----------------------------------------------------------------------------------
M = J.get("!timer")
if not M or not M.get("ok"):
    fail("!timer failed: %s" % (M and M.get("error")))
else:
    tm = {hexv(x["timer"]): x for x in M.get("timers", [])}
    for l in mf["timer"]:
        a, due, dpc = hexv(l[0]), hexv(l[1]), hexv(l[2])
        x = tm.get(a)
        if not x:
            fail("!timer: timer %s missing" % fmt(a))
            continue
        if hexv(x["due_time"]) != due:
            fail("!timer %s: due %s, manifest %#x" % (fmt(a), x["due_time"], due))
        if hexv(x.get("dpc", "0")) != dpc:
            fail("!timer %s: dpc %s, manifest %#x" % (fmt(a), x.get("dpc"), dpc))
        if fmt(a) not in T:
            fail("!timer text: timer %s not shown" % fmt(a))
    if M.get("total_timers") != len(mf["timer"]):
        fail("!timer: %s timers, manifest %d" % (M.get("total_timers"), len(mf["timer"])))

# ---- !analyze -v -----------------------------------------------------------------------------
if scene in ("9f", "133", "deadlock"):
    A = J.get("!analyze -v", {}).get("analysis")
    if not A:
        fail("!analyze -v: no analysis object")
        A = {}
    kf = A.get("kernel_facts", {})
    if scene == "9f":
        for l in mf["blocked_irp"]:
            irp, drv = hexv(l[0]), l[1]
            if hexv(kf.get("IRP_ADDRESS", "0").split()[0] if kf.get("IRP_ADDRESS") else "0") != irp:
                fail("!analyze 9f: IRP_ADDRESS %s, manifest %s" % (kf.get("IRP_ADDRESS"), fmt(irp)))
            if drv.lower() not in kf.get("BLOCKING_DRIVER", "").lower():
                fail("!analyze 9f: BLOCKING_DRIVER %r, manifest %s" % (kf.get("BLOCKING_DRIVER"), drv))
            name = drv.rsplit("\\", 1)[-1].lower()
            if A.get("module_name", "").lower() != name:
                fail("!analyze 9f: MODULE_NAME %r, the blocking driver is %s" % (A.get("module_name"), name))
            if not A.get("failure_bucket_id", "").lower().startswith("0x9f_3_" + name):
                fail("!analyze 9f: bucket %r" % A.get("failure_bucket_id"))
            if "IRP_ADDRESS:  %s" % fmt(irp) not in T or "BLOCKING_DRIVER:" not in T:
                fail("!analyze 9f text: no IRP_ADDRESS %s / BLOCKING_DRIVER" % fmt(irp))
            if "DEVICE_STACK" not in kf:
                fail("!analyze 9f: no DEVICE_STACK fact")
    if scene == "133":
        for l in mf["long_dpc"]:
            cpu, routine, img = int(l[0], 0), hexv(l[1]), l[2]
            mod = img.rsplit(".", 1)[0].lower()
            sym = funcs.get(routine, mod)
            run_ = kf.get("DPC_RUNNING", "").lower()
            if not run_.startswith(sym) or ("processor %d" % cpu) not in run_:
                fail("!analyze 133: DPC_RUNNING %r, manifest %s on cpu %d" % (kf.get("DPC_RUNNING"), sym, cpu))
            if mod not in kf.get("DPC_DRIVER", "").lower():
                fail("!analyze 133: DPC_DRIVER %r, manifest %s" % (kf.get("DPC_DRIVER"), img))
            if A.get("module_name", "").lower() != mod or A.get("image_name", "").lower() != img.lower():
                fail("!analyze 133: MODULE_NAME %r IMAGE_NAME %r, manifest %s" % (A.get("module_name"), A.get("image_name"), img))
            if "DPC_RUNNING:" not in T or "DPC_QUEUES:" not in T:
                fail("!analyze 133 text: no DPC_RUNNING / DPC_QUEUES")
        q = kf.get("DPC_QUEUES", "").replace("`", "")
        for l in mf["dpc"]:
            if ("0x%s" % fmt(hexv(l[1]))) not in q and fmt(hexv(l[1])) not in q:
                fail("!analyze 133: DPC_QUEUES lacks KDPC %s" % l[1])
    if scene == "deadlock":
        dl = " ".join(v for k, v in kf.items() if k.startswith("DEADLOCK") and k != "DEADLOCK_DRIVER")
        for d in mf["deadlock"]:
            if fmt(hexv(d[0])) not in dl or fmt(hexv(d[1])) not in dl:
                fail("!analyze deadlock: DEADLOCK fact %r lacks thread %s / resource %s" % (dl, d[0], d[1]))
        if "DEADLOCK:" not in T and "DEADLOCK_1:" not in T:
            fail("!analyze deadlock text: no DEADLOCK fact")

print("%s: ok" % tag if not fails else "%s: %d failures" % (tag, len(fails)))
sys.exit(1 if fails else 0)
EOF

# layouts: every one the generator builds (one bitmap dump too); one background job per
# layout (the dumps are built once per name by scene_dump, so jobs never share one)
LAYOUTS="win7:full w1809:full w19041:full w19041:bitmap w22000:full xp:pae"
SCENES="basic deadlock 9f 133"
layout_job() {
    local l=$1 k=$2 s h f n=0 bad=0 skip=0
    local out=$W/job-$l-$k
    for s in $SCENES; do
        [ "$k" = bitmap ] && [ "$s" != deadlock ] && continue
        f=$(scene_dump "$l" "$s" "$k" 2>"$out.gen")
        if [ -z "$f" ]; then
            echo "SKIP: $l $s $k: the generator failed: $(head -3 "$out.gen" | tr '\n' ' ')"
            skip=$((skip + 1))
            continue
        fi
        n=$((n + 1))
        python3 "$W/check.py" "$NTKD" "$f" "$SYMP" "$l-$s-$k" "$s" normal || { echo "FAIL: $l $s $k"; bad=$((bad + 1)); }
    done
    # hostile variants on one layout of each family (old LIST_ENTRY forms, 10+ forms, x86)
    if [ "$l" = win7 ] || [ "$l" = w22000 ] || [ "$l" = xp ]; then
        for h in cycle missing badtype all; do
            f=$(scene_dump "$l" basic "$k" --hostile "$h" 2>"$out.gen")
            if [ -z "$f" ]; then
                echo "SKIP: $l basic $k --hostile $h: the generator failed: $(head -3 "$out.gen" | tr '\n' ' ')"
                skip=$((skip + 1))
                continue
            fi
            n=$((n + 1))
            python3 "$W/check.py" "$NTKD" "$f" "$SYMP" "$l-hostile-$h" basic hostile || { echo "FAIL: $l hostile $h"; bad=$((bad + 1)); }
        done
    fi
    echo "$n $bad $skip" >"$out.count"
}
for lk in $LAYOUTS; do
    rm -f "$W/job-${lk%%:*}-${lk##*:}.count"
    layout_job "${lk%%:*}" "${lk##*:}" >"$W/job-${lk%%:*}-${lk##*:}.log" 2>&1 &
done
wait
for lk in $LAYOUTS; do
    j=$W/job-${lk%%:*}-${lk##*:}
    cat "$j.log"
    if [ ! -s "$j.count" ]; then
        fail "the job for $lk ended without a count"
        continue
    fi
    read -r n bad skip <"$j.count"
    checked=$((checked + n))
    fails=$((fails + bad))
    skipped=$((skipped + skip))
done

# a target without kernel scenes: the commands refuse user dumps cleanly
out=$("$NTKD" -z "$CORPUS/dumps/user/calc-x64-win7.dmp" -c '!locks; !dpcs; !timer; q' 2>&1)
rc=$?
[ $rc -lt 124 ] || fail "ntkd died on a user dump (status $rc)"
echo "$out" | grep -qi "kernel" || fail "!locks on a user dump: no message about kernel dumps: $out"

# the real triage dump (19041): PRCB copy only, KiWaitNever/KiWaitAlways absent: messages, no crash
tri=$CORPUS/dumps/kernel/triage-x64-19041.dmp
out=$(timeout 100 "$NTKD" -z "$tri" -y "$SYMP" -c '!locks; !dpcs; !timer; !analyze -v; q' 2>&1)
rc=$?
[ $rc -lt 124 ] || fail "ntkd died or hung on the triage dump (status $rc)"
echo "$out" | grep -q "AddressSanitizer\|runtime error:" && fail "sanitizer report on the triage dump"
echo "$out" | grep -q "^!locks: .*ExpSystemResourcesList" || fail "!locks on the triage dump: no message naming the list"
echo "$out" | grep -q "FAILURE_BUCKET_ID:  AV_amdppm!WriteIoMemRawEx" ||
    fail "!analyze -v on the triage dump lost its bucket (corpus README: amdppm)"

echo "kex: $checked dumps checked, $skipped skipped, $fails failures"
[ "$checked" -gt 0 ] || fail "no scene could be built"
[ $fails = 0 ]
