#!/bin/bash
# kio.sh: the I/O object commands (!irp, !irpfind, !drvobj, !devobj, !devstack, !devnode,
# !object) on kernel scenes from ntkd-genscene, in text and --json, against the facts the
# generator's manifest states (irp/irpstack/driver/device/devnode/object/type lines), on every
# layout the generator builds; hostile scenes must give messages, never a crash or a hang.
# usage: bash kio.sh NTKD_BIN GENDUMP CORPUS_DIR WORKDIR
set -u
source "$(dirname "$0")/scene_lib.sh" "$@"
scene_cli kio
checked=0
hchecked=0

# The checker: runs ntkd once in JSON mode and once in text mode over every fact of the
# manifest, compares. argv: ntkd dump sympath tag mode(normal|hostile)
cat >"$W/check.py" <<'EOF'
import json, subprocess, sys, collections
import mf as mfl
ntkd, dump, symp, tag, mode = sys.argv[1:6]
chk = mfl.Check(ntkd, dump, symp, tag)
fails, fail = chk.fails, chk.fail

def num(s):
    return int(s, 0) if not s.startswith(("0x", "0X")) else int(s, 16)
hexv = mfl.hexv

mf = mfl.load(dump)

def base(name):
    return name.rsplit("\\", 1)[-1]

def run(cmds, js):
    args = [ntkd, "-z", dump, "-y", symp, "-c", "; ".join(cmds + ["q"])]
    if js:
        args.append("--json")
    try:
        p = subprocess.run(args, capture_output=True, timeout=100)
        p.stdout = p.stdout.decode("utf-8", "replace")
        p.stderr = p.stderr.decode("utf-8", "replace")
    except subprocess.TimeoutExpired:
        fail("ntkd hung (over 100 s) on: %s" % "; ".join(cmds)[:300])
        return None
    if p.returncode < 0 or p.returncode >= 124:
        fail("ntkd died (status %d) on: %s\n%s" % (p.returncode, "; ".join(cmds)[:300], p.stderr[-2000:]))
    for bad in ("AddressSanitizer", "runtime error:", "LeakSanitizer"):
        if bad in p.stderr:
            fail("sanitizer report: %s" % p.stderr[-3000:])
            break
    return p

irps = mf["irp"]
stacks = collections.defaultdict(dict)
for s in mf["irpstack"]:
    stacks[num(s[0])][num(s[1])] = s
drivers = mf["driver"]
devices = mf["device"]
nodes = mf["devnode"]
objects = mf["object"]
types = mf["type"]

# drivers: from the driver lines, and every driver a device line names
drvstr = {}
for d in drivers: drvstr[num(d[0])] = d[0]
for d in devices: drvstr.setdefault(num(d[1]), d[1])
devs_of = collections.defaultdict(set)
for d in devices: devs_of[num(d[1])].add(num(d[0]))
drvline = {num(d[0]): d for d in drivers}

cmds = []
for i in irps: cmds.append("!irp " + i[0])
cmds.append("!irpfind")
for a in drvstr.values(): cmds.append("!drvobj %s 3" % a)
for d in drivers: cmds.append("!drvobj " + d[1])
for d in devices: cmds += ["!devobj " + d[0], "!devstack " + d[0]]
if nodes: cmds.append("!devnode 0 1")
for n in nodes: cmds.append("!devnode " + n[0])
for o in objects: cmds.append("!object " + o[0])
for t in types: cmds.append("!object 0 " + t[2])
# full paths of named objects, from the manifest's directory links (root: the object named \)
oname = {num(o[0]): (o[2], num(o[3])) for o in objects}
def opath(b):
    parts = []
    for _ in range(32):
        if b not in oname: return None
        n, d = oname[b]
        if n == "\\" and d == 0: return "\\" + "\\".join(reversed(parts))
        if n == "-" or " " in n or ";" in n or '"' in n: return None
        parts.append(n)
        b = d
    return None
paths = {}
for o in objects:
    pth = opath(num(o[0]))
    if pth and pth != "\\": paths[num(o[0])] = pth
for b, pth in paths.items(): cmds.append("!object " + pth)
named_dev = [d for d in devices if d[4] != "-" and num(d[0]) in paths and paths[num(d[0])].startswith("\\Device\\")]
for d in named_dev: cmds.append("!devobj " + d[4])
cmds.append("!object \\")
hostile = mf["hostile"]
for h in hostile:
    a = h[1]
    cmds += ["!object " + a, "!irp " + a, "!devobj " + a, "!devstack " + a, "!devnode %s 1" % a, "!drvobj %s 2" % a]

if mode == "hostile":
    # no crash, no hang; each command gives output or a message
    for js in (True, False):
        p = run(cmds, js)
        if p is None:
            continue
        if js:
            outs = [json.loads(l) for l in p.stdout.splitlines() if l.startswith("{")]
            if len(outs) < len(cmds):
                fail("%d JSON results for %d commands" % (len(outs), len(cmds)))
            byc = collections.defaultdict(list)
            for x in outs:
                byc[x.get("command", "").strip()].append(x)
            drv_of = {num(d[0]): d[1] for d in devices}
            ndev = {k: len(v) for k, v in devs_of.items()}
            for h in hostile:
                what, a = h[0], h[1]
                if what == "badtype":
                    # the corrupt index may still decode to another valid type: then it must
                    # at least not be shown as the object's real type
                    r = byc.get("!object " + a, [{}])[0]
                    real = [o[1] for o in objects if num(o[0]) == num(a)]
                    if "error" not in r and (not r or (real and r.get("type") == real[0])):
                        fail("!object %s (corrupt type index): no error message: %s" % (a, r))
                elif what == "device_cycle" and num(a) in drv_of:
                    dv = drv_of[num(a)]
                    r = byc.get("!drvobj %s 3" % dv, [{}])[0]
                    if "loop" not in r.get("warning", "") or r.get("device_count", 1 << 30) > ndev.get(num(dv), 0):
                        fail("!drvobj %s (device list loops at %s): %s" % (dv, a, str(r)[:300]))
                elif what == "irp_self":
                    r = byc.get("!irpfind", [{}])[0]
                    if "error" in r: fail("!irpfind (IRP list loops at %s): %s" % (a, r.get("error")))
                    if sum(1 for x in r.get("irps", []) if hexv(x["irp"]) == num(a)) > 1:
                        fail("!irpfind: IRP %s listed twice" % a)
                elif what == "missing_irp_list":
                    r = byc.get("!irpfind", [{}])[0]
                    if not r.get("warnings"): fail("!irpfind: no warning for the IRP list into missing memory at %s" % a)
    print("%s: %d hostile commands run" % (tag, len(cmds)))
    sys.exit(1 if fails else 0)

p = run(cmds, True)
if p is None:
    sys.exit(1)
res = mfl.by_command(p, fail)
def get(cmd):
    r = res.get(cmd)
    if not r:
        fail("no JSON result for %s" % cmd)
        return {}
    j = r[0]
    if "error" in j:
        fail("%s: error %s" % (cmd, j["error"]))
    return j

T = run(cmds, False)
text = T.stdout if T else ""

MJ = ["IRP_MJ_CREATE", "IRP_MJ_CREATE_NAMED_PIPE", "IRP_MJ_CLOSE", "IRP_MJ_READ", "IRP_MJ_WRITE",
      "IRP_MJ_QUERY_INFORMATION", "IRP_MJ_SET_INFORMATION", "IRP_MJ_QUERY_EA", "IRP_MJ_SET_EA",
      "IRP_MJ_FLUSH_BUFFERS", "IRP_MJ_QUERY_VOLUME_INFORMATION", "IRP_MJ_SET_VOLUME_INFORMATION",
      "IRP_MJ_DIRECTORY_CONTROL", "IRP_MJ_FILE_SYSTEM_CONTROL", "IRP_MJ_DEVICE_CONTROL",
      "IRP_MJ_INTERNAL_DEVICE_CONTROL", "IRP_MJ_SHUTDOWN", "IRP_MJ_LOCK_CONTROL", "IRP_MJ_CLEANUP",
      "IRP_MJ_CREATE_MAILSLOT", "IRP_MJ_QUERY_SECURITY", "IRP_MJ_SET_SECURITY", "IRP_MJ_POWER",
      "IRP_MJ_SYSTEM_CONTROL", "IRP_MJ_DEVICE_CHANGE", "IRP_MJ_QUERY_QUOTA", "IRP_MJ_SET_QUOTA", "IRP_MJ_PNP"]
n_checks = 0

# ---- IRPs: irp <irp> <thread|0> <current_location> <stack_count> <major> <minor> <device_of_current>
for i in irps:
    irp, thr, cur, cnt, mj, mn, dev = i[0], num(i[1]), num(i[2]), num(i[3]), num(i[4]), num(i[5]), num(i[6])
    j = get("!irp " + irp)
    if not j: continue
    n_checks += 1
    if j.get("stack_count") != cnt: fail("!irp %s: stack_count %s, manifest %d" % (irp, j.get("stack_count"), cnt))
    if j.get("current_location") != cur: fail("!irp %s: current %s, manifest %d" % (irp, j.get("current_location"), cur))
    if hexv(j.get("thread", "0")) != thr: fail("!irp %s: thread %s, manifest %x" % (irp, j.get("thread"), thr))
    locs = j.get("locations", [])
    if len(locs) != cnt: fail("!irp %s: %d locations, manifest %d" % (irp, len(locs), cnt))
    if 1 <= cur <= cnt:
        if "Irp is active with %d stacks %d is current" % (cnt, cur) not in text:
            fail("!irp %s: text lacks 'Irp is active with %d stacks %d is current'" % (irp, cnt, cur))
        if len(locs) >= cur:
            L = locs[cur - 1]
            if not L.get("current"): fail("!irp %s: location %d not marked current" % (irp, cur))
            if (L.get("major"), L.get("minor")) != (mj, mn): fail("!irp %s: current (%s,%s), manifest (%x,%x)" % (irp, L.get("major"), L.get("minor"), mj, mn))
            if hexv(L.get("device", "0")) != dev: fail("!irp %s: current device %s, manifest %x" % (irp, L.get("device"), dev))
            if mj < len(MJ) and (">[%s(%x)," % (MJ[mj], mj)) not in text:
                fail("!irp %s: text lacks '>[%s(%x),'" % (irp, MJ[mj], mj))
    # irpstack indexes are 1-based, numbered like CurrentLocation (scene.h)
    for idx, s in stacks.get(num(irp), {}).items():
        if not (1 <= idx <= len(locs)):
            fail("!irp %s: no location %d" % (irp, idx)); continue
        L = locs[idx - 1]
        want = (num(s[2]), num(s[3]), num(s[4]), num(s[5]), num(s[6]))
        got = (L.get("major"), L.get("minor"), hexv(L.get("device", "0")), hexv(L.get("completion", "0")), L.get("control"))
        if got != want:
            fail("!irp %s location %d: (mj,mn,dev,completion,control) %s, manifest %s" % (irp, idx, got, want))
        ctl = want[4]
        notes = L.get("control_notes", [])
        for bit, word in ((0x40, "Success"), (0x80, "Error"), (0x20, "Cancel"), (0x01, "pending")):
            if bool(ctl & bit) != (word in notes):
                fail("!irp %s location %d: control %#x decoded as %s" % (irp, idx, ctl, notes))
        if want[3] and not L.get("completion_symbol"):
            fail("!irp %s location %d: completion routine %x has no symbol" % (irp, idx, want[3]))
        if want[3] and ("%x-" % want[3]) not in text:
            fail("!irp %s location %d: text lacks the completion routine %x" % (irp, idx, want[3]))

# ---- !irpfind: every IRP queued on a thread
thread_proc = {num(x[0]): num(x[1]) for x in mf["thread"]}
jf = get("!irpfind")
found = {hexv(x["irp"]): x for x in jf.get("irps", [])}
for i in irps:
    irp, thr = num(i[0]), num(i[1])
    if not thr: continue
    n_checks += 1
    x = found.get(irp)
    if not x:
        fail("!irpfind: IRP %x (thread %x) not found" % (irp, thr)); continue
    if hexv(x["thread"]) != thr: fail("!irpfind: IRP %x thread %s, manifest %x" % (irp, x["thread"], thr))
    cur, cnt = num(i[2]), num(i[3])
    if 1 <= cur <= cnt and (x.get("major"), x.get("minor"), hexv(x.get("device", "0"))) != (num(i[4]), num(i[5]), num(i[6])):
        fail("!irpfind: IRP %x current (%s,%s,%s), manifest %s" % (irp, x.get("major"), x.get("minor"), x.get("device"), i[4:7]))
    proc = thread_proc.get(thr)
    if proc is not None and hexv(x.get("process", "0")) != proc:
        fail("!irpfind: IRP %x process %s, manifest %x" % (irp, x.get("process"), proc))
    line = [l for l in text.splitlines() if l.startswith(("%x [%x] irpStack:" % (irp, thr), "%016x [%016x] irpStack:" % (irp, thr)))]
    if not line:
        fail("!irpfind: text lacks the line of IRP %x" % irp)
    elif 1 <= cur <= cnt and ("(%2x,%2x)" % (num(i[4]), num(i[5])) not in line[0] or (proc is not None and not line[0].endswith("%x" % proc))):
        fail("!irpfind: IRP %x: line %s" % (irp, line[0]))

# ---- drivers: driver <drvobj> <name> <nt_base_of_image> <ndevices>, and the device lines
for drv, a in drvstr.items():
    j = get("!drvobj %s 3" % a)
    if not j: continue
    n_checks += 1
    got = [hexv(v) for v in j.get("devices", [])]
    if set(got) != devs_of[drv] or len(got) != len(devs_of[drv]):
        fail("!drvobj %x: devices %s, manifest %s" % (drv, sorted(map(hex, got)), sorted(map(hex, devs_of[drv]))))
    if len(j.get("dispatch", [])) != 28: fail("!drvobj %x 3: %d dispatch routines, IRP_MJ_MAXIMUM_FUNCTION+1 is 28" % (drv, len(j.get("dispatch", []))))
    if "Driver object (%x) is for:" % drv not in text and "Driver object (%016x) is for:" % drv not in text and "Driver object (%08x) is for:" % drv not in text:
        fail("!drvobj %x: text lacks the 'Driver object (...) is for:' line" % drv)
    d = drvline.get(drv)
    if not d: continue
    name, ndev = d[1], num(d[3])
    if j.get("name", "").lower() != name.lower(): fail("!drvobj %x: name %s, manifest %s" % (drv, j.get("name"), name))
    if len(got) != ndev: fail("!drvobj %x: %d devices, manifest %d" % (drv, len(got), ndev))
    if not any(l.strip().lower() == name.lower() for l in text.splitlines()):
        fail("!drvobj %x: text lacks the name line %s" % (drv, name))
    j2 = get("!drvobj " + name)
    if j2 and hexv(j2.get("driver", "0")) != drv: fail("!drvobj %s: resolved to %s, manifest %x" % (name, j2.get("driver"), drv))

# ---- devices: device <devobj> <driver> <attached_to|0> <devext> <name|->
lower = {num(d[0]): num(d[2]) for d in devices}
devstr = {num(d[0]): d[0] for d in devices}
upper = {}
for dv, lo in lower.items():
    if lo: upper[lo] = dv
for d in devices:
    dev, drv, att, ext, name = num(d[0]), num(d[1]), num(d[2]), num(d[3]), d[4]
    j = get("!devobj " + d[0])
    if j:
        n_checks += 1
        if hexv(j.get("driver", "0")) != drv: fail("!devobj %x: driver %s, manifest %x" % (dev, j.get("driver"), drv))
        if hexv(j.get("attached_to", "0")) != att: fail("!devobj %x: attached_to %s, manifest %x" % (dev, j.get("attached_to"), att))
        if hexv(j.get("device_extension", "0")) != ext: fail("!devobj %x: devext %s, manifest %x" % (dev, j.get("device_extension"), ext))
        if name != "-" and base(j.get("name", "")) != base(name): fail("!devobj %x: name %s, manifest %s" % (dev, j.get("name"), name))
        if hexv(j.get("attached_device", "0")) != upper.get(dev, 0): fail("!devobj %x: attached_device %s, manifest %x" % (dev, j.get("attached_device"), upper.get(dev, 0)))
    # the stack: up through the devices attached on top, down through attached_to
    top = dev
    for _ in range(64):
        if top not in upper: break
        top = upper[top]
    want = [top]
    for _ in range(64):
        nx = lower.get(want[-1], 0)
        if not nx: break
        want.append(nx)
    j = get("!devstack " + d[0])
    if not j: continue
    n_checks += 1
    got = [hexv(x["device"]) for x in j.get("stack", [])]
    if got != want: fail("!devstack %x: %s, manifest %s" % (dev, [hex(x) for x in got], [hex(x) for x in want]))
    sel = [hexv(x["device"]) for x in j.get("stack", []) if x.get("selected")]
    if sel != [dev]: fail("!devstack %x: selected %s" % (dev, sel))
    node_of_pdo = {num(n[1]): num(n[0]) for n in nodes}
    if want[-1] in node_of_pdo and hexv(j.get("devnode", "0")) != node_of_pdo[want[-1]]:
        fail("!devstack %x: devnode %s, manifest %x (the node of the bottom device %x)" % (dev, j.get("devnode"), node_of_pdo[want[-1]], want[-1]))
    if ("> %016x  " % dev) not in text and ("> %08x  " % dev) not in text:
        fail("!devstack %x: text lacks the '> %x' row" % (dev, dev))

# ---- device nodes: devnode <node> <pdo> <instance_path> <state>
if nodes:
    jt = get("!devnode 0 1")
    tree = {hexv(x["node"]): x for x in jt.get("nodes", [])}
    for n in nodes:
        node, pdo, inst, state = num(n[0]), num(n[1]), n[2], num(n[3])
        n_checks += 1
        x = tree.get(node)
        if not x:
            fail("!devnode 0 1: node %x not in the tree" % node); continue
        if hexv(x["pdo"]) != pdo: fail("!devnode 0 1: node %x pdo %s, manifest %x" % (node, x["pdo"], pdo))
        if x["instance_path"] != inst: fail("!devnode 0 1: node %x instance %s, manifest %s" % (node, x["instance_path"], inst))
        if x["state"] != state: fail("!devnode 0 1: node %x state %#x, manifest %#x" % (node, x["state"], state))
        if 'InstancePath is "%s"' % inst not in text: fail("!devnode: text lacks InstancePath %s" % inst)
        if "(%#x)" % state not in text: fail("!devnode: text lacks the state (%#x)" % state)
        j = get("!devnode " + n[0])
        if j and (j.get("node", {}).get("state") != state or hexv(j.get("node", {}).get("pdo", "0")) != pdo):
            fail("!devnode %x: %s" % (node, j.get("node")))

# ---- objects: object <body> <type> <name|-> <directory|0>
entries_of = collections.defaultdict(set)
for o in objects:
    body, typ, name, d = num(o[0]), o[1], o[2], num(o[3])
    if d: entries_of[o[3]].add(body)
    j = get("!object " + o[0])
    if not j: continue
    n_checks += 1
    if j.get("type") != typ: fail("!object %x: type %s, manifest %s" % (body, j.get("type"), typ))
    if name != "-" and j.get("name") != name: fail("!object %x: name %s, manifest %s" % (body, j.get("name"), name))
    if hexv(j.get("directory", "0")) != d: fail("!object %x: directory %s, manifest %x" % (body, j.get("directory"), d))
    if "Object: %016x  Type: (" % body not in text and "Object: %08x  Type: (" % body not in text:
        fail("!object %x: text lacks the Object line" % body)
for d, want in entries_of.items():
    j = res.get("!object " + d)
    if not j: continue
    got = {hexv(e["object"]) for e in j[0].get("entries", [])}
    n_checks += 1
    if not want <= got: fail("!object %s: entries lack %s" % (d, sorted(hex(x) for x in want - got)))

# ---- paths: \Dir\Name resolves to the object (and !devobj NAME to \Device\NAME)
for b, pth in paths.items():
    j = get("!object " + pth)
    n_checks += 1
    if j and hexv(j.get("object", "0")) != b: fail("!object %s: %s, manifest %x" % (pth, j.get("object"), b))
for d in named_dev:
    j = get("!devobj " + d[4])
    n_checks += 1
    if j and hexv(j.get("device", "0")) != num(d[0]): fail("!devobj %s: %s, manifest %s" % (d[4], j.get("device"), d[0]))

# ---- types: type <index> <type_object> <name> <nobjects>
for t in types:
    tobj, name, cnt = num(t[1]), t[2], num(t[3])
    j = get("!object 0 " + name)
    if not j: continue
    n_checks += 1
    if hexv(j.get("type_object", "0")) != tobj: fail("!object 0 %s: type object %s, manifest %x" % (name, j.get("type_object"), tobj))
    if j.get("count") != cnt: fail("!object 0 %s: %s objects, manifest %d" % (name, j.get("count"), cnt))
    if "Scanning %d objects of type '%s'" % (cnt, name) not in text: fail("!object 0 %s: text lacks 'Scanning %d objects'" % (name, cnt))

print("%s: %d facts checked, %d failures" % (tag, n_checks, len(fails)))
if n_checks == 0:
    fail("the manifest has no I/O facts")
sys.exit(1 if fails else 0)
EOF

# ---- every layout and kind the generator builds
for spec in "win7 full" "w1809 full" "w19041 full" "w22000 bitmap" "xp pae"; do
    set -- $spec
    lay=$1 kind=$2
    for scene in 9f objects; do
        f=$(scene_dump "$lay" "$scene" "$kind" 2>"$W/gen.err")
        if [ -z "$f" ] || [ ! -f "$f" ] || [ ! -f "$f.manifest" ]; then
            echo "SKIP: $lay $scene $kind: the generator did not build it ($(head -c 300 "$W/gen.err"))"
            continue
        fi
        checked=$((checked + 1))
        timeout 150 python3 "$W/check.py" "$NTKD" "$f" "$SYMP" "$lay-$scene-$kind" normal || fail "$lay $scene $kind"
    done
done
[ "$checked" -gt 0 ] || fail "no scene could be built: nothing was checked"

# ---- hostile scenes: messages, no crash, no hang
for spec in "w19041 9f" "w19041 objects" "win7 9f" "xp objects"; do
    set -- $spec
    lay=$1 scene=$2
    kind=full
    [ "$lay" = xp ] && kind=pae
    for h in cycle missing badtype; do
        {
            out=$(scene_dump "$lay" "$scene" "$kind" --hostile "$h" 2>"$W/gen.err")
            if [ -z "$out" ]; then
                echo "SKIP: hostile $lay $scene $h: $(head -c 300 "$W/gen.err")"
                continue
            fi
            hchecked=$((hchecked + 1))
            timeout 150 python3 "$W/check.py" "$NTKD" "$out" "$SYMP" "$lay-$scene-$h" hostile || fail "hostile $lay $scene $h"
        }
    done
done
[ "$hchecked" -gt 0 ] || fail "no hostile scene could be built"

# ---- !drvobj flag 4: every device of every driver in detail (devices, extensions, lower device
# as the manifest's `device <dev> <driver> <attached_to> <devext> <name>` lines state)
for spec in "w19041 9f full" "xp 9f pae"; do
    set -- $spec
    f=$(scene_dump "$1" "$2" "$3") || { fail "drvobj 4: $1 $2 not built"; continue; }
    grep '^driver ' "$f.manifest" | while read -r _ drv _; do
        "$NTKD" -z "$f" -y "$SYMP" --json -c "!drvobj $drv 4" 2>/dev/null |
            python3 -c '
import json, sys
drv, mf = int(sys.argv[1], 16), sys.argv[2]
want = {}
for line in open(mf):
    w = line.split()
    if w and w[0] == "device" and int(w[2], 16) == drv:
        want[int(w[1], 16)] = (int(w[3], 16), int(w[4], 16))
d = json.load(sys.stdin)
got = {int(x["device"], 16): x for x in d.get("device_details", [])}
assert set(got) == set(want), (sorted(got), sorted(want))
for dev, (lower, ext) in want.items():
    x = got[dev]
    if ext: assert int(x["device_extension"], 16) == ext, (hex(dev), x.get("device_extension"))
    if lower: assert int(x["attached_to"], 16) == lower, (hex(dev), x.get("attached_to"))
' "$drv" "$f.manifest" || echo "FAIL: drvobj $drv 4 on $1 $2"
    done > "$W/drvobj4.out"
    if grep -q FAIL "$W/drvobj4.out"; then cat "$W/drvobj4.out"; fail "!drvobj flag 4 on $1 $2"; fi
done

[ "$fails" = 0 ] && echo "kio: all checks passed ($checked scenes)"
[ "$fails" = 0 ]
