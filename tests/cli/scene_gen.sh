#!/bin/bash
# scene_gen.sh: every kernel scene of ntkd-genscene (basic, 9f, 133, deadlock, objects) for
# every layout (win7, w1809, w19041, w22000 full; w19041 bitmap; xp pae), checked
# with ntkd's plain generic commands (x, dp/dd/dw/db, dt, lm, ln, .bugcheck) against the
# facts the manifest states: each value is read at the offset the kernel table (the ISF, read
# here by Python, independently of both the generator and ntkd) gives for its field.
# Facts that do not come from the generator itself: the bug check codes and parameters of each
# scene (scene.h, seeds 000/003), IO_TYPE_* and DpcObject type values, the PnP devnode state
# enum of the table, the two low bits ExSetResourceOwnerPointer requires in an owner pointer,
# sixteen shared waiters (seed 003), ResourceOwnedExclusive (0x80).
# Hostile variants (--hostile all): build, state their breakage, the dropped page is unreadable,
# and ntkd survives the generic commands.
# usage: scene_gen.sh NTKD GENDUMP CORPUS WORKDIR
set -u
source "$(dirname "$0")/scene_lib.sh" "$@"
T=$(mktemp -d "$WORKDIR/scene_gen.XXXXXX")
trap '[ -n "${KEEP_T:-}" ] || rm -rf "$T"' EXIT
fails=0
fail() { echo "FAIL: $*"; fails=$((fails + 1)); }
command -v python3 >/dev/null || { echo "FAIL: no python3"; exit 1; }
[ -x "$GENSCENE" ] || { echo "FAIL: no generator at $GENSCENE"; exit 1; }

SCENES="basic 9f 133 deadlock objects"
COMBOS=()
for s in $SCENES; do
    for lk in "win7 full" "w1809 full" "w19041 full" "w22000 full" "w19041 bitmap" "xp pae"; do
        set -- $lk
        COMBOS+=("$1 $s $2")
    done
done
COMBOS+=("w19041 133 full --cpus 4" "w19041 basic full --hostile all" "xp deadlock pae --hostile all"
    "w1809 9f full --hostile cycle" "win7 objects full --hostile badtype")

# 1. build (in parallel: each scene_dump is independent; the cache makes reruns cheap)
scene_build_list "$T"

# 2. plan: the commands that read each fact, with the expected answers
cat >"$T/check.py" <<'EOF'
import json, lzma, os, re, sys

mode, listfile, workdir = sys.argv[1], sys.argv[2], sys.argv[3]
tables = {}

def load(path):
    if path not in tables:
        op = lzma.open if path.endswith(".xz") else open
        with op(path, "rt") as f:
            tables[path] = json.load(f)
    return tables[path]

class Lay:
    def __init__(self, isf):
        self.u = isf["user_types"]
        self.e = isf["enums"]
        self.b = isf["base_types"]
        self.ptr = self.b["pointer"]["size"]

    def tsize(self, t):
        k = t["kind"]
        if k == "base":
            return self.b[t["name"]]["size"]
        if k == "pointer":
            return self.ptr
        if k == "enum":
            return self.e[t["name"]]["size"]
        if k in ("struct", "union"):
            return self.u[t["name"]]["size"]
        if k == "array":
            return t["count"] * self.tsize(t["subtype"])
        if k == "bitfield":
            return self.tsize(t["type"])
        return 0

    def field(self, typ, path):
        """(offset, width, bitpos, bitlen) of a dotted path; arrays take element 0; None if absent"""
        off = 0
        cur = typ
        parts = path.split(".")
        t = None
        for i, p in enumerate(parts):
            s = self.u.get(cur)
            if s is None or p not in s["fields"]:
                return None
            f = s["fields"][p]
            off += f["offset"]
            t = f["type"]
            while t["kind"] == "array":
                t = t["subtype"]
            if i + 1 < len(parts):
                if t["kind"] not in ("struct", "union"):
                    return None
                cur = t["name"]
        if t["kind"] == "bitfield":
            return off, self.tsize(t["type"]), t["bit_position"], t["bit_length"]
        return off, self.tsize(t), 0, 0

    def first(self, typ, *paths):
        for p in paths:
            r = self.field(typ, p)
            if r:
                return r
        return None

def num(s):
    return int(s, 16) if s.startswith("0x") else int(s, 0)

def rd_cmd(addr, width):
    c = {1: "db", 2: "dw", 4: "dd", 8: "dq"}[width]
    return "%s %#x L1" % (c, addr)

def plan_dump(dump, table, combo):
    L = Lay(load(table))
    P = L.ptr
    checks = []   # (cmd, kind, expected, description)
    lines = [l.split() for l in open(dump + ".manifest") if l.strip() and not l.startswith("#")]
    by = {}
    for l in lines:
        by.setdefault(l[0], []).append(l)
    hostile = "--hostile" in combo
    scene = combo.split()[1]

    def mem(typ, base, paths, expect, what):
        if isinstance(paths, str):
            paths = (paths,)
        f = L.first(typ, *paths)
        if f is None:
            return
        off, width, bp, bl = f
        if width not in (1, 2, 4, 8):
            return
        checks.append((rd_cmd(base + off, width), "mem", [expect, bp, bl, width], what))

    def mem_any(typ, base, paths, expect, what):
        cmds = []
        for p in paths:
            f = L.field(typ, p)
            if f and f[1] in (1, 2, 4, 8):
                cmds.append(rd_cmd(base + f[0], f[1]))
        if cmds:
            checks.append((cmds[0], "any", [expect, cmds], what))

    def dtstr(typ, base, field, text, what):
        if L.field(typ, field) is None:
            return
        checks.append(("dt nt!%s %#x %s" % (typ, base, field), "contains", text, what))

    # the scene's bug check (scene.h: 9f = 0x9F/3, 133 = 0x133/1, the others a manual crash)
    code, p1 = {"9f": (0x9F, 3), "133": (0x133, 1)}.get(scene, (0xE2, 0))
    checks.append((".bugcheck", "bugcheck", [code, p1], "bug check of scene %s" % scene))

    for l in by.get("sym", []):
        checks.append(("x nt!%s" % l[1], "x", num(l[2]), "sym " + l[1]))
    mods = [(num(l[1]), num(l[2]), l[3]) for l in by.get("module", [])]
    if mods:
        checks.append(("lm", "lm", [[m[0], m[0] + m[1]] for m in mods], "module list"))
    def module_of(va):
        for b, s, n in mods:
            if b <= va < b + s:
                return n
        return None

    procs = {num(l[1]): l for l in by.get("process", [])}
    heads = {num(l[2]) for l in by.get("sym", []) if l[1] == "PsActiveProcessHead"}
    heads |= {num(l[2]) for l in by.get("header", []) if l[1] == "PsActiveProcessHead"}
    apl = L.field("_EPROCESS", "ActiveProcessLinks")[0]
    for ep, l in procs.items():
        pid, ppid, name, dtb, peb = num(l[2]), num(l[3]), l[4], num(l[5]), num(l[6])
        mem("_EPROCESS", ep, "UniqueProcessId", pid, "process %s pid" % name)
        mem("_EPROCESS", ep, "InheritedFromUniqueProcessId", ppid, "process %s ppid" % name)
        mem("_EPROCESS", ep, "Pcb.DirectoryTableBase", dtb, "process %s dtb" % name)
        mem("_EPROCESS", ep, "Peb", peb, "process %s peb" % name)
        dtstr("_EPROCESS", ep, "ImageFileName", '"%s"' % name[:14], "process %s name" % name)
        if not hostile and len(procs) < 200:
            ok = [x + apl for x in procs] + list(heads)
            checks.append((rd_cmd(ep + apl, P), "oneof", ok, "process %s on the active list" % name))

    threads = {num(l[1]): l for l in by.get("thread", [])}
    for et, l in threads.items():
        proc, tid, state, why, teb, sb, sl, ks = [num(x) for x in l[2:10]]
        w = "thread %#x" % et
        if proc in procs:
            mem("_ETHREAD", et, "Cid.UniqueThread", tid, w + " tid")
            mem("_ETHREAD", et, "Cid.UniqueProcess", num(procs[proc][2]), w + " pid")
        mem("_ETHREAD", et, "Tcb.State", state, w + " state")
        mem("_ETHREAD", et, "Tcb.WaitReason", why, w + " wait reason")
        mem("_ETHREAD", et, "Tcb.Teb", teb, w + " teb")
        mem("_ETHREAD", et, "Tcb.StackBase", sb, w + " stack base")
        mem("_ETHREAD", et, "Tcb.StackLimit", sl, w + " stack limit")
        mem("_ETHREAD", et, "Tcb.KernelStack", ks, w + " kernel stack")
        mem("_ETHREAD", et, ("Tcb.Process", "Tcb.ApcState.Process"), proc, w + " process")

    for l in by.get("prcb", []):
        cpu, prcb, pcr, cur = int(l[1], 0), num(l[2]), num(l[3]), num(l[4])
        mem("_KPRCB", prcb, "CurrentThread", cur, "prcb %d current thread" % cpu)
        checks.append(("dp nt!KiProcessorBlock+%#x L1" % (cpu * P), "mem", [prcb, 0, 0, P],
                       "KiProcessorBlock[%d]" % cpu))
        mem("_KPCR", pcr, ("CurrentPrcb", "Prcb"), prcb, "pcr %d prcb" % cpu)

    types = {}
    for l in by.get("type", []):
        idx, to, name, nobj = int(l[1], 0), num(l[2]), l[3], num(l[4])
        types[name] = (idx, to)
        dtstr("_OBJECT_TYPE", to, "Name", '"%s"' % name, "type %s name" % name)
        if not hostile:
            mem("_OBJECT_TYPE", to, "TotalNumberOfObjects", nobj, "type %s object count" % name)
        mem("_OBJECT_TYPE", to, "Index", idx, "type %s index" % name)

    hdr_body = L.field("_OBJECT_HEADER", "Body")[0]
    cookie = [l for l in by.get("sym", []) if l[1] == "ObHeaderCookie"]
    badtype = {num(l[2]) for l in by.get("hostile", []) if l[1] == "badtype"}
    nameinfo = L.u["_OBJECT_HEADER_NAME_INFO"]["size"]
    creator = L.u.get("_OBJECT_HEADER_CREATOR_INFO", {}).get("size", 0)
    for l in by.get("object", [])[:60]:
        body, tname, name, d = num(l[1]), l[2], l[3], num(l[4])
        if body in badtype or tname not in types:
            continue
        hdr = body - hdr_body
        idx, to = types[tname]
        if L.field("_OBJECT_HEADER", "Type"):
            mem("_OBJECT_HEADER", hdr, "Type", to, "object %#x type" % body)
        else:
            tf = L.field("_OBJECT_HEADER", "TypeIndex")
            if cookie:
                checks.append((rd_cmd(hdr + tf[0], 1), "typeidx",
                               [idx, hdr, "db %#x L1" % num(cookie[0][2])], "object %#x type index" % body))
                checks.append(("db %#x L1" % num(cookie[0][2]), "ignore", None, ""))
            else:
                mem("_OBJECT_HEADER", hdr, "TypeIndex", idx, "object %#x type index" % body)
        if name != "-":
            cands = [hdr - creator - nameinfo, hdr - nameinfo]
            cmds = ["dt nt!_OBJECT_HEADER_NAME_INFO %#x Name" % c for c in cands]
            checks.append((cmds[0], "anycontains", ['"%s"' % name, cmds], "object %#x name %s" % (body, name)))
            for c in cmds[1:]:
                checks.append((c, "ignore", None, ""))

    drivers = {}
    for l in by.get("driver", []):
        drv, name, base = num(l[1]), l[2], num(l[3])
        drivers[drv] = name
        mem("_DRIVER_OBJECT", drv, "Type", 4, "driver %s type (IO_TYPE_DRIVER)" % name)
        mem("_DRIVER_OBJECT", drv, "DriverStart", base, "driver %s start" % name)
        dtstr("_DRIVER_OBJECT", drv, "DriverName", '"%s"' % name, "driver %s name" % name)
    devices = {}
    for l in by.get("device", []):
        dev, drv, att, ext = num(l[1]), num(l[2]), num(l[3]), num(l[4])
        devices[dev] = drv
        mem("_DEVICE_OBJECT", dev, "Type", 3, "device %#x type (IO_TYPE_DEVICE)" % dev)
        mem("_DEVICE_OBJECT", dev, "DriverObject", drv, "device %#x driver" % dev)
        if not hostile:
            mem("_DEVICE_OBJECT", dev, "DeviceExtension", ext, "device %#x extension" % dev)
        if att and not hostile:
            mem("_DEVICE_OBJECT", att, "AttachedDevice", dev, "device %#x attached above %#x" % (dev, att))
    for l in by.get("devnode", []):
        node, pdo, inst, state = num(l[1]), num(l[2]), l[3], num(l[4])
        mem("_DEVICE_NODE", node, "PhysicalDeviceObject", pdo, "devnode %s pdo" % inst)
        mem("_DEVICE_NODE", node, "State", state, "devnode %s state" % inst)
        dtstr("_DEVICE_NODE", node, "InstancePath", inst, "devnode %s instance path" % inst)
    started = L.e.get("_PNP_DEVNODE_STATE", {}).get("constants", {}).get("DeviceNodeStarted")
    if started is not None and by.get("devnode") and scene != "objects":
        if not any(num(l[4]) == started for l in by["devnode"]):
            checks.append(("", "fail", None, "no devnode in state DeviceNodeStarted (%#x)" % started))

    isz = L.u["_IRP"]["size"]
    ssz = L.u["_IO_STACK_LOCATION"]["size"]
    irps = {}
    for l in by.get("irp", []):
        irp, th, cur, cnt, maj, mnr, dev = [num(x) for x in l[1:8]]
        irps[irp] = (th, cur, cnt, maj, mnr, dev)
        mem("_IRP", irp, "Type", 6, "irp %#x type (IO_TYPE_IRP)" % irp)
        mem("_IRP", irp, "CurrentLocation", cur, "irp %#x current location" % irp)
        mem("_IRP", irp, "StackCount", cnt, "irp %#x stack count" % irp)
        mem("_IRP", irp, "Tail.Overlay.Thread", th, "irp %#x thread" % irp)
        if 1 <= cur <= cnt:
            loc = irp + isz + (cur - 1) * ssz
            mem("_IRP", irp, "Tail.Overlay.CurrentStackLocation", loc, "irp %#x current stack location" % irp)
            mem("_IO_STACK_LOCATION", loc, "MajorFunction", maj, "irp %#x major" % irp)
            mem("_IO_STACK_LOCATION", loc, "MinorFunction", mnr, "irp %#x minor" % irp)
            mem("_IO_STACK_LOCATION", loc, "DeviceObject", dev, "irp %#x device" % irp)
    tle = L.field("_IRP", "ThreadListEntry")
    irl = L.field("_ETHREAD", "IrpList")
    if tle and irl and not hostile:
        for irp, (th, *_r) in irps.items():
            if not th:
                continue
            ok = [th + irl[0]] + [i + tle[0] for i, v in irps.items() if v[0] == th]
            checks.append((rd_cmd(irp + tle[0], P), "oneof", ok, "irp %#x on thread %#x's IrpList" % (irp, th)))
    for l in by.get("irpstack", []):
        irp, ix, maj, mnr, dev, comp, ctl = [num(x) for x in l[1:8]]
        loc = irp + isz + (ix - 1) * ssz
        w = "irp %#x location %d" % (irp, ix)
        mem("_IO_STACK_LOCATION", loc, "MajorFunction", maj, w + " major")
        mem("_IO_STACK_LOCATION", loc, "MinorFunction", mnr, w + " minor")
        mem("_IO_STACK_LOCATION", loc, "DeviceObject", dev, w + " device")
        mem("_IO_STACK_LOCATION", loc, "CompletionRoutine", comp, w + " completion")
        mem("_IO_STACK_LOCATION", loc, "Control", ctl, w + " control")

    res = {}
    for l in by.get("resource", []):
        r, owner, excl, sw, xw, cont = num(l[1]), num(l[2]), int(l[3], 0), num(l[4]), num(l[5]), num(l[6])
        res[r] = (owner, excl, sw, xw)
        w = "resource %#x" % r
        mem("_ERESOURCE", r, "NumberOfSharedWaiters", sw, w + " shared waiters")
        mem("_ERESOURCE", r, "NumberOfExclusiveWaiters", xw, w + " exclusive waiters")
        mem("_ERESOURCE", r, "ContentionCount", cont, w + " contention")
        if owner:
            mem_any("_ERESOURCE", r, ("OwnerEntry.OwnerThread", "OwnerThreads.OwnerThread"),
                    owner, w + " owner")
            if L.field("_ERESOURCE", "OwnerThreads") and not L.field("_ERESOURCE", "OwnerEntry"):
                # XP: OwnerThreads[2]; the owner is in element 0 or 1
                f = L.field("_ERESOURCE", "OwnerThreads.OwnerThread")
                es = L.u["_OWNER_ENTRY"]["size"]
                checks[-1] = (rd_cmd(r + f[0], P), "any",
                              [owner, [rd_cmd(r + f[0], P), rd_cmd(r + f[0] + es, P)]], w + " owner")
                checks.append((rd_cmd(r + f[0] + es, P), "ignore", None, ""))
        f = L.field("_ERESOURCE", "Flag")
        if f and owner:
            checks.append((rd_cmd(r + f[0], f[1]), "bit", [0x80, excl], w + " ResourceOwnedExclusive flag"))
    wbl = L.field("_KTHREAD", "WaitBlockList")
    wbo = L.field("_KWAIT_BLOCK", "Object")
    sw_off = L.field("_ERESOURCE", "SharedWaiters")
    xw_off = L.field("_ERESOURCE", "ExclusiveWaiters")
    tcb = L.field("_ETHREAD", "Tcb")[0]
    for l in by.get("waiter", []):
        r, th = num(l[1]), num(l[2])
        if th in threads and num(threads[th][4]) != 5:
            checks.append(("", "fail", None, "waiter %#x of %#x is not in state Waiting" % (th, r)))
        if wbl and wbo and sw_off and xw_off and not hostile:
            # the thread's wait block waits on the resource's semaphore or event
            c1 = "dp poi(%#x)+%#x L1" % (th + tcb + wbl[0], wbo[0])
            c2 = ["dp %#x L1" % (r + sw_off[0]), "dp %#x L1" % (r + xw_off[0])]
            checks.append((c1, "sameas", c2, "waiter %#x waits on resource %#x's waiters object" % (th, r)))
            for c in c2:
                checks.append((c, "ignore", None, ""))
    for l in by.get("dpc", []):
        cpu, d, routine, ctx = int(l[1], 0), num(l[2]), num(l[3]), num(l[4])
        mem("_KDPC", d, "Type", 0x13, "dpc %#x type (DpcObject)" % d)
        mem("_KDPC", d, "DeferredRoutine", routine, "dpc %#x routine" % d)
        mem("_KDPC", d, "DeferredContext", ctx, "dpc %#x context" % d)
        m = module_of(routine)
        if m:
            checks.append(("ln %#x" % routine, "contains_ci", re.sub(r"\.[^.]*$", "", m) + "!" if m != mods[0][2] else "nt!",
                           "ln of dpc routine %#x (%s)" % (routine, m)))
    for l in by.get("timer", []):
        t, due, d = num(l[1]), num(l[2]), num(l[3])
        mem("_KTIMER", t, "Dpc", d, "timer %#x dpc" % t)
        mem("_KTIMER", t, "DueTime.QuadPart", due, "timer %#x due time" % t)

    # scene facts
    for l in by.get("blocked_irp", []):
        irp, drvname = num(l[1]), l[2]
        if irp not in irps:
            checks.append(("", "fail", None, "blocked_irp %#x has no irp line" % irp))
            continue
        th, cur, cnt, maj, mnr, dev = irps[irp]
        if (maj, mnr) != (0x16, 0x2):
            checks.append(("", "fail", None, "blocked_irp %#x is not IRP_MJ_POWER/IRP_MN_SET_POWER" % irp))
        if drivers.get(devices.get(dev)) != drvname:
            checks.append(("", "fail", None, "blocked_irp %#x: its device's driver is not %s" % (irp, drvname)))
        off = L.field("_DEVICE_OBJECT", "DriverObject")[0]
        checks.append(("dt nt!_DRIVER_OBJECT poi(%#x) DriverName" % (dev + off), "contains", drvname,
                       "blocked_irp device's driver name (poi)"))
        checks.append((".bugcheck", "bugarg", [3, irp], "0x9F parameter 4 is the blocked IRP"))
    for l in by.get("long_dpc", []):
        cpu, routine, mod = int(l[1], 0), num(l[2]), l[3]
        if not any(int(d[1], 0) == cpu and num(d[3]) == routine for d in by.get("dpc", [])):
            checks.append(("", "fail", None, "long_dpc routine %#x not queued on cpu %d" % (routine, cpu)))
        if module_of(routine) != mod:
            checks.append(("", "fail", None, "long_dpc routine %#x not inside %s" % (routine, mod)))
        checks.append(("ln %#x" % routine, "contains_ci", mod.rsplit(".", 1)[0] + "!", "ln of the long DPC routine"))
        cur = [num(p[4]) for p in by.get("prcb", []) if int(p[1], 0) == cpu]
        if cur and cur[0] in threads and num(threads[cur[0]][4]) != 2:
            checks.append(("", "fail", None, "cpu %d's current thread is not Running" % cpu))
    for l in by.get("deadlock", []):
        th, r = num(l[1]), num(l[2])
        if r not in res or th not in threads:
            checks.append(("", "fail", None, "deadlock %#x %#x: no resource/thread line" % (th, r)))
            continue
        owner, excl, sw, xw = res[r]
        sb, sl = num(threads[th][7]), num(threads[th][8])
        if owner & 3 != 3:
            checks.append(("", "fail", None, "deadlock owner %#x: low two bits not set" % owner))
        if not (sl <= (owner & ~3) < sb):
            checks.append(("", "fail", None, "deadlock owner %#x not in thread %#x's stack %#x..%#x" % (owner, th, sl, sb)))
        if excl != 1 or sw != 16:
            checks.append(("", "fail", None, "deadlock resource: exclusive %d, %d shared waiters (want 1, 16)" % (excl, sw)))
        if not any(num(w[1]) == r and num(w[2]) == th for w in by.get("waiter", [])):
            checks.append(("", "fail", None, "deadlock thread %#x is not a waiter of %#x" % (th, r)))
        mem("_ERESOURCE", r, "NumberOfSharedWaiters", 16, "deadlock resource: 16 shared waiters in the dump")
    need = {"9f": ["blocked_irp", "irp", "resource"], "133": ["long_dpc", "dpc"],
            "deadlock": ["deadlock", "resource", "waiter"], "objects": ["type", "object", "driver"],
            "basic": ["process", "thread", "driver", "device", "devnode", "irp", "resource", "dpc", "timer"]}[scene]
    for k in need + ["process", "thread", "module", "prcb"]:
        if not by.get(k):
            checks.append(("", "fail", None, "manifest has no '%s' line" % k))

    for l in by.get("hostile", []):
        if l[1] == "badtype":
            hdr = num(l[2]) - hdr_body
            idxs = sorted(i for i, _ in types.values())
            if L.field("_OBJECT_HEADER", "Type"):
                checks.append((rd_cmd(hdr + L.field("_OBJECT_HEADER", "Type")[0], P), "noneof",
                               [t for _, t in types.values()], "hostile badtype %s: Type" % l[2]))
            else:
                tf = L.field("_OBJECT_HEADER", "TypeIndex")
                ccmd = "db %#x L1" % num(cookie[0][2]) if cookie else None
                checks.append((rd_cmd(hdr + tf[0], 1), "badidx", [idxs, hdr, ccmd],
                               "hostile badtype %s: TypeIndex" % l[2]))
                if ccmd:
                    checks.append((ccmd, "ignore", None, ""))
        if l[1] == "missing_stack" and num(l[2]) in threads:
            sb = num(threads[num(l[2])][7])
            checks.append(("db %#x L1" % (sb - 0x1000), "unreadable", None, "hostile missing stack page of %s" % l[2]))
        if l[1] == "missing_page":
            checks.append(("db %#x L1" % num(l[2]), "unreadable", None, "hostile missing page %s" % l[2]))
    if hostile and not by.get("hostile"):
        checks.append(("", "fail", None, "hostile variant without 'hostile' lines"))
    return checks

def session_split(path):
    out = {}
    cur = None
    for line in open(path, errors="replace"):
        line = line.rstrip("\n")
        m = re.match(r"^\d+: kd> (.*)$", line)
        if m:
            cur = m.group(1).strip()
            out.setdefault(cur, [])
            continue
        if cur is not None and not line.startswith("nt: "):
            out[cur].append(line)
    return out

def first_val(lines):
    for l in lines:
        p = l.split()
        if len(p) >= 2 and re.fullmatch(r"[0-9a-fA-F`]+", p[0]) and re.fullmatch(r"[0-9a-fA-F`]+", p[1]):
            return int(p[1].replace("`", ""), 16)
    return None

def check_dump(idx, dump, combo, checks, sess):
    bad = []
    S = session_split(sess)
    def out(c):
        return S.get(c)
    for cmd, kind, exp, what in checks:
        if kind == "ignore":
            continue
        if kind == "fail":
            bad.append(what)
            continue
        o = out(cmd)
        if o is None:
            bad.append("%s: no output for '%s'" % (what, cmd))
            continue
        text = "\n".join(o)
        if kind == "mem":
            v = first_val(o)
            e, bp, bl, width = exp
            if v is not None and bl:
                v = (v >> bp) & ((1 << bl) - 1)
            elif v is not None:
                e &= (1 << (8 * width)) - 1
            if v != e:
                bad.append("%s: '%s' gave %s, manifest %#x" % (what, cmd, "nothing" if v is None else hex(v), e))
        elif kind == "any":
            e, cmds = exp
            vals = [first_val(out(c) or []) for c in cmds]
            if e not in vals:
                bad.append("%s: %s gave %s, manifest %#x" % (what, cmds, vals, e))
        elif kind == "oneof":
            v = first_val(o)
            if v not in exp:
                bad.append("%s: '%s' gave %s" % (what, cmd, v))
        elif kind == "x":
            p = text.split()
            v = int(p[0].replace("`", ""), 16) if p and re.fullmatch(r"[0-9a-fA-F`]+", p[0]) else None
            if v != exp:
                bad.append("%s: '%s' gave %s, manifest %#x" % (what, cmd, text[:80], exp))
        elif kind == "contains":
            if exp not in text:
                bad.append("%s: '%s' does not show %s: %s" % (what, cmd, exp, text[:200]))
        elif kind == "contains_ci":
            if exp.lower() not in text.lower():
                bad.append("%s: '%s' does not show %s: %s" % (what, cmd, exp, text[:200]))
        elif kind == "anycontains":
            e, cmds = exp
            if not any(e in "\n".join(out(c) or []) for c in cmds):
                bad.append("%s: %s do not show %s" % (what, cmds, e))
        elif kind == "typeidx":
            idx, hdr, ccmd = exp
            v = first_val(o)
            ck = first_val(out(ccmd) or [])
            if v is None or ck is None or (v ^ ((hdr >> 8) & 0xff) ^ ck) != idx:
                bad.append("%s: TypeIndex %s cookie %s header %#x, want index %#x" % (what, v, ck, hdr, idx))
        elif kind == "sameas":
            v = first_val(o)
            others = [first_val(out(c) or []) for c in exp]
            if not v or v not in others:
                bad.append("%s: '%s' gave %s, the resource's are %s" % (what, cmd, v, others))
        elif kind == "noneof":
            v = first_val(o)
            if v is None or v in exp:
                bad.append("%s: '%s' gave %s" % (what, cmd, v))
        elif kind == "badidx":
            idxs, hdr, ccmd = exp
            v = first_val(o)
            ck = first_val(out(ccmd) or []) if ccmd else 0
            if v is None or ck is None:
                bad.append("%s: unreadable" % what)
            else:
                d = v ^ ((hdr >> 8) & 0xff) ^ ck if ccmd else v
                if d in idxs:
                    bad.append("%s: decodes to %#x, a valid type index" % (what, d))
        elif kind == "bit":
            v = first_val(o)
            m, want = exp
            if v is None or bool(v & m) != bool(want):
                bad.append("%s: '%s' gave %s" % (what, cmd, v))
        elif kind == "lm":
            starts = {}
            for l in o:
                p = l.split()
                if len(p) >= 2 and re.fullmatch(r"[0-9a-fA-F`]+", p[0]) and re.fullmatch(r"[0-9a-fA-F`]+", p[1]):
                    starts[int(p[0].replace("`", ""), 16)] = int(p[1].replace("`", ""), 16)
            for b, e in exp:
                if starts.get(b) != e:
                    bad.append("%s: lm has no module %#x-%#x" % (what, b, e))
        elif kind in ("bugcheck", "bugarg"):
            m = re.search(r"Bugcheck code ([0-9A-Fa-f]+)", text)
            a = re.search(r"Arguments (.*)", text)
            args = [int(x.replace("`", ""), 16) for x in a.group(1).split()] if a else []
            if kind == "bugcheck":
                if not m or int(m.group(1), 16) != exp[0] or not args or args[0] != exp[1]:
                    bad.append("%s: %s" % (what, text[:160]))
            elif len(args) <= exp[0] or args[exp[0]] != exp[1]:
                bad.append("%s: %s" % (what, text[:160]))
        elif kind == "unreadable":
            if first_val(o) is not None:
                bad.append("%s: '%s' read a value: %s" % (what, cmd, text[:100]))
    return bad

if mode == "plan":
    plans = []
    for i, line in enumerate(open(listfile)):
        dump, table, combo = line.rstrip("\n").split("\t")
        checks = plan_dump(dump, table, combo)
        cmds = []
        seen = set()
        for c in checks:
            if c[0] and c[0] not in seen:
                seen.add(c[0])
                cmds.append(c[0])
        with open(os.path.join(workdir, "cmds.%d" % i), "w") as f:
            f.write("; ".join(cmds + ["q"]))
        plans.append([dump, combo, checks])
    json.dump(plans, open(os.path.join(workdir, "plans.json"), "w"))
else:
    plans = json.load(open(os.path.join(workdir, "plans.json")))
    total = nbad = 0
    for i, (dump, combo, checks) in enumerate(plans):
        bad = check_dump(i, dump, combo, [tuple(c) for c in checks], os.path.join(workdir, "sess.%d" % i))
        total += len(checks)
        for b in bad[:15]:
            print("FAIL: %s: %s" % (combo, b))
        if len(bad) > 15:
            print("FAIL: %s: ... %d more" % (combo, len(bad) - 15))
        nbad += len(bad)
    print("scene_gen: %d dumps, %d checks, %d failed" % (len(plans), total, nbad))
    sys.exit(1 if nbad else 0)
EOF
python3 "$T/check.py" plan "$T/list" "$T" || fail "planning the checks failed"

# 3. one ntkd session per dump (in parallel)
i=0
while IFS=$'\t' read -r dump table combo; do
    (
        timeout 120 "$NTKD" -z "$dump" -y "$(scene_sympath)" -c "$(cat "$T/cmds.$i")" \
            >"$T/sess.$i" 2>"$T/stderr.$i"
        echo $? >"$T/rc.$i"
    ) &
    i=$((i + 1))
    while [ "$(jobs -rp | wc -l)" -ge "$SCENE_JOBS" ]; do sleep 0.05; done
done <"$T/list"
wait
i=0
while IFS=$'\t' read -r dump table combo; do
    rc=$(cat "$T/rc.$i" 2>/dev/null || echo none)
    # ntkd may report errors (exit 1) but must not crash, hang or trip the sanitizers
    case "$rc" in
    0 | 1) ;;
    *) fail "$combo: ntkd exited $rc: $(tail -5 "$T/stderr.$i")" ;;
    esac
    grep -q "AddressSanitizer\|runtime error" "$T/stderr.$i" && fail "$combo: sanitizer: $(grep -m2 'ERROR\|runtime error' "$T/stderr.$i")"
    i=$((i + 1))
done <"$T/list"
python3 "$T/check.py" check "$T/list" "$T" || fails=$((fails + 1))

[ $fails = 0 ] && echo "scene_gen: all checks passed"
exit $((fails > 0))
