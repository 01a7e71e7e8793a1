#!/bin/bash
# kproc.sh: the process/thread/processor commands (!process, !thread, .process, .thread, !peb,
# !teb, !gle, !handle, !pcr, !prcb, !irql, !list) on kernel scenes from ntkd-genscene, in
# --json and in text, against the facts of the generator's manifest (process, thread, prcb, sym
# lines; list offsets from the layout's ISF table), on every layout the generator builds; hostile
# scenes (cycle/missing/badtype) must end with messages, never a crash or a hang. !gle on user
# minidumps is checked on a minidump this script writes itself (TEB with known values) and on
# the corpus minidumps, whose TEBs are not in the dump (checked here from the file).
# usage: bash kproc.sh NTKD_BIN GENDUMP CORPUS_DIR WORKDIR
set -u
source "$(dirname "$0")/scene_lib.sh" "$@"
scene_cli kproc
checked=0

cat >"$W/check.py" <<'EOF'
import json, lzma, subprocess, sys, collections
import mf as mfl
ntkd, dump, symp, tag, mode, table = sys.argv[1:7]
chk = mfl.Check(ntkd, dump, symp, tag)
fails, fail = chk.fails, chk.fail
def num(s):
    return int(s, 16) if s.lower().startswith("0x") else int(s, 0)
hexv = mfl.hexv

mf = mfl.load(dump)

def isf_offset(typ, field):
    op = lzma.open if table.endswith(".xz") else open
    with op(table, "rt") as f:
        d = json.load(f)
    return d["user_types"][typ]["fields"][field]["offset"]

def run(cmds, js):
    return chk.run(cmds, js, errors="replace")

procs = mf["process"]      # <eprocess> <pid> <ppid> <name> <dtb> <peb>
threads = mf["thread"]     # <ethread> <process> <tid> <state> <waitreason> <teb> <base> <limit> <kstack>
prcbs = mf["prcb"]         # <cpu> <prcb> <pcr> <current_thread>
pid_of = {num(p[0]): num(p[1]) for p in procs}

cmds = ["!process 0 0"]
names = sorted({p[3] for p in procs})
for n in names:
    cmds.append("!process 0 0 " + n)
for p in procs:
    cmds.append("!process %s 6" % p[0])
    if num(p[1]):
        cmds.append("!process %x 0" % num(p[1]))
for t in threads:
    cmds.append("!thread " + t[0])
    base, limit = num(t[6]), num(t[7])
    if base > limit:
        cmds.append("!thread 0x%x" % (limit + (base - limit) // 2))
for c in prcbs:
    cmds += ["!prcb " + c[0], "!pcr " + c[0], "!irql " + c[0]]
# resource owners set to a stack address (ExSetResourceOwnerPointer): the thread whose stack holds it
thread_addrs = {num(t[0]) for t in threads}
stack_owner = {}
for r in mf["resource"]:
    o = num(r[1])
    if o and o not in thread_addrs:
        for t in threads:
            if num(t[7]) <= o < num(t[6]):
                stack_owner[o] = num(t[0])
                cmds.append("!thread 0x%x" % o)
cmds += ["!process", "!thread", "!gle", "!peb", "!teb", "!process 0 17", "!gle -all", "!handle", "!pcr", "!prcb", "!irql"]
head = [s for s in mf["sym"] if s[0] == "PsActiveProcessHead"]
SEEDLIST = ('!list "-e -x \\"dt nt!_EPROCESS @$extret-@@(#FIELD_OFFSET(nt!_EPROCESS, ActiveProcessLinks)) '
            'ImageFileName UniqueProcessId\\" nt!PsActiveProcessHead"')
if head:
    cmds.append('!list "-x \\"? @$extret\\"" ' + head[0][1])
    cmds.append(SEEDLIST)
sel_threads = [t for t in threads if num(t[5])][:4] + [t for t in threads if not num(t[5])][:1]
for t in sel_threads:
    cmds += [".thread " + t[0], "!teb", "!gle", ".thread"]
for p in procs[:4]:
    cmds += [".process " + p[0], "!peb", "!handle", ".process 0"]
for h in mf["hostile"]:
    a = h[1]
    cmds += ["!thread " + a, "!process %s 7" % a, "!list \"-x \\\"? @$extret\\\"\" " + a]

if mode == "hostile":
    for js in (True, False):
        p = run(cmds, js)
        if p is None:
            continue
        if js:
            outs = [l for l in p.stdout.splitlines() if l.startswith("{")]
            if len(outs) < len(cmds):
                fail("%d JSON results for %d commands" % (len(outs), len(cmds)))
            for l in outs:
                try:
                    j = json.loads(l)
                except ValueError:
                    fail("bad JSON line: %s" % l[:200])
                    continue
                if not j.get("ok") and not j.get("error"):
                    fail("%s failed without a message" % j.get("command"))
    print("%s: %d hostile commands run" % (tag, len(cmds)))
    sys.exit(1 if fails else 0)

p = run(cmds, True)
if p is None:
    sys.exit(1)
res = mfl.by_command(p, fail)
def get(cmd, quiet=False):
    r = res.get(cmd)
    if not r:
        fail("no JSON result for %s" % cmd)
        return {}
    if "error" in r[0] and not quiet:
        fail("%s: error %s" % (cmd, r[0]["error"]))
    return r[0]
pt = run(cmds, False)
text = pt.stdout if pt else ""
n = 0

def same_image(img, name):
    return img == name or (len(img) >= 14 and name.startswith(img))

# ---- every process: pid, parent, image, DirBase, PEB
j = get("!process 0 0")
got = {hexv(x["address"]): x for x in j.get("processes", [])}
for pr in procs:
    a, pid, ppid, name, dtb, peb = num(pr[0]), num(pr[1]), num(pr[2]), pr[3], num(pr[4]), num(pr[5])
    x = got.get(a)
    n += 1
    if not x:
        fail("!process 0 0 lacks %x (%s)" % (a, name))
        continue
    if x.get("pid") != pid or x.get("parent_pid") != ppid:
        fail("process %x: pid %s ppid %s, manifest %x %x" % (a, x.get("pid"), x.get("parent_pid"), pid, ppid))
    if not same_image(x.get("image", ""), name):
        fail("process %x: image %s, manifest %s" % (a, x.get("image"), name))
    if hexv(x.get("dirbase", "0")) & ~0xfff != dtb & ~0xfff:
        fail("process %x: DirBase %s, manifest %x" % (a, x.get("dirbase"), dtb))
    if hexv(x.get("peb", "0")) != peb:
        fail("process %x: Peb %s, manifest %x" % (a, x.get("peb"), peb))
    if ("Cid: %04x    Peb: %08x  ParentCid: %04x" % (pid, peb, ppid)) not in text:
        fail("text lacks the Cid line of process %x" % a)
if len(got) != len(procs):
    fail("!process 0 0: %d processes, manifest %d" % (len(got), len(procs)))
if "**** NT ACTIVE PROCESS DUMP ****" not in text:
    fail("text lacks the NT ACTIVE PROCESS DUMP banner")
for nm in names:
    j = get("!process 0 0 " + nm)
    want = {num(p[0]) for p in procs if p[3] == nm}
    have = {hexv(x["address"]) for x in j.get("processes", [])}
    n += 1
    if want != have:
        fail("!process 0 0 %s: %s, manifest %s" % (nm, sorted(map(hex, have)), sorted(map(hex, want))))

# ---- a process by its id
for pr in procs:
    if not num(pr[1]):
        continue
    j = get("!process %x 0" % num(pr[1]))
    have = [hexv(x["address"]) for x in j.get("processes", [])]
    n += 1
    if have != [num(pr[0])]:
        fail("!process %x 0 (by id): %s, manifest %s" % (num(pr[1]), list(map(hex, have)), pr[0]))

# ---- threads of each process (!process addr 6) and each thread (!thread addr)
by_proc = collections.defaultdict(dict)
for t in threads:
    by_proc[num(t[1])][num(t[0])] = t
for pr in procs:
    j = get("!process %s 6" % pr[0])
    have = {hexv(x["address"]): x for x in j.get("process", {}).get("threads", [])}
    want = by_proc.get(num(pr[0]), {})
    n += 1
    if set(have) != set(want):
        fail("!process %s 6: threads %s, manifest %s" % (pr[0], sorted(map(hex, have)), sorted(map(hex, want))))
for t in threads:
    a, proc, tid, state, wr, teb = num(t[0]), num(t[1]), num(t[2]), num(t[3]), num(t[4]), num(t[5])
    base, limit, ks = num(t[6]), num(t[7]), num(t[8])
    x = get("!thread " + t[0]).get("thread", {})
    n += 1
    if hexv(x.get("address", "0")) != a:
        fail("!thread %x: address %s" % (a, x.get("address")))
        continue
    if x.get("tid") != tid or x.get("pid") != pid_of.get(proc, 0):
        fail("!thread %x: Cid %s.%s, manifest %x.%x" % (a, x.get("pid"), x.get("tid"), pid_of.get(proc, 0), tid))
    if hexv(x.get("owning_process", "0")) != proc:
        fail("!thread %x: owning process %s, manifest %x" % (a, x.get("owning_process"), proc))
    if x.get("state") != state:
        fail("!thread %x: state %s, manifest %d" % (a, x.get("state"), state))
    if state == 5 and x.get("wait_reason") != wr:
        fail("!thread %x: wait reason %s, manifest %d" % (a, x.get("wait_reason"), wr))
    if hexv(x.get("teb", "0")) != teb:
        fail("!thread %x: Teb %s, manifest %x" % (a, x.get("teb"), teb))
    if hexv(x.get("stack_base", "0")) != base or hexv(x.get("stack_limit", "0")) != limit:
        fail("!thread %x: stack %s-%s, manifest %x-%x" % (a, x.get("stack_limit"), x.get("stack_base"), limit, base))
    if hexv(x.get("kernel_stack", "0")) != ks:
        fail("!thread %x: kernel stack %s, manifest %x" % (a, x.get("kernel_stack"), ks))
    if not x.get("frames") and "stack_error" not in x:
        fail("!thread %x: neither frames nor a stack error" % a)
    if ("THREAD %016x  Cid %04x.%04x" % (a, pid_of.get(proc, 0), tid)) not in text and \
       ("THREAD %08x  Cid %04x.%04x" % (a, pid_of.get(proc, 0), tid)) not in text:
        fail("text lacks the THREAD line of %x" % a)
    # a stack address finds its thread
    if base > limit:
        sa = limit + (base - limit) // 2
        js = get("!thread 0x%x" % sa)
        n += 1
        if not js.get("stack_address") or hexv(js.get("thread", {}).get("address", "0")) != a:
            fail("!thread 0x%x (inside %x's stack): %s" % (sa, a, str(js)[:300]))
        if ("%016x is not a thread object, interpreting as stack value..." % sa) not in text and \
           ("%08x is not a thread object, interpreting as stack value..." % sa) not in text:
            fail("text lacks 'interpreting as stack value' for %x" % sa)

for o, th in stack_owner.items():
    js = get("!thread 0x%x" % o)
    n += 1
    if not js.get("stack_address") or hexv(js.get("thread", {}).get("address", "0")) != th:
        fail("!thread 0x%x (resource owner inside %x's stack): %s" % (o, th, str(js)[:300]))

# ---- processors
for c in prcbs:
    cpu, prcb, pcr, cur = num(c[0]), num(c[1]), num(c[2]), num(c[3])
    j = get("!prcb " + c[0])
    n += 1
    if hexv(j.get("prcb", "0")) != prcb or hexv(j.get("current_thread", "0")) != cur:
        fail("!prcb %d: prcb %s current %s, manifest %x %x" % (cpu, j.get("prcb"), j.get("current_thread"), prcb, cur))
    if hexv(j.get("pcr", "0")) != pcr:
        fail("!prcb %d: pcr %s, manifest %x" % (cpu, j.get("pcr"), pcr))
    j = get("!pcr " + c[0])
    if hexv(j.get("pcr", "0")) != pcr or hexv(j.get("prcb", "0")) != prcb or hexv(j.get("current_thread", "0")) != cur:
        fail("!pcr %d: %s" % (cpu, str(j)[:300]))
    if ("KPCR for Processor %d at %016x:" % (cpu, pcr)) not in text and ("KPCR for Processor %d at %08x:" % (cpu, pcr)) not in text:
        fail("text lacks the KPCR line of processor %d" % cpu)
    j = get("!irql " + c[0])
    if not isinstance(j.get("irql"), int) or not 0 <= j["irql"] <= 31:
        fail("!irql %d: %s" % (cpu, j))
    if ("Debugger saved IRQL for processor 0x%x -- " % cpu) not in text:
        fail("text lacks the !irql line of processor %d" % cpu)

# ---- !list over PsActiveProcessHead: the head, then every process's ActiveProcessLinks, in order
if head:
    off = isf_offset("_EPROCESS", "ActiveProcessLinks")
    want = [num(head[0][1])] + [num(p[0]) + off for p in procs]
    j = get('!list "-x \\"? @$extret\\"" ' + head[0][1])
    have = [hexv(e.get("value", "0")) for e in j.get("entries", [])]
    n += 1
    if have != want:
        fail("!list PsActiveProcessHead: %s, want %s" % (list(map(hex, have)), list(map(hex, want))))
    # seed 000's form: the address inside the quotes, dt per entry, -e echoing the command
    j = get(SEEDLIST)
    n += 1
    if len(j.get("entries", [])) != len(procs) + 1:
        fail("%s: %d entries, want %d" % (SEEDLIST, len(j.get("entries", [])), len(procs) + 1))
    echo = "dt nt!_EPROCESS @$extret-@@(#FIELD_OFFSET(nt!_EPROCESS, ActiveProcessLinks)) ImageFileName UniqueProcessId"
    if text.count(echo + "\n") != len(procs) + 1:
        fail("!list -e: the command is echoed %d times, want %d" % (text.count(echo + "\n"), len(procs) + 1))
    for pr in procs:
        if '"%s"' % pr[3][:14] not in text:
            fail("!list ... dt: no ImageFileName \"%s\" in the text" % pr[3])
# ---- .thread then !teb: the TEB of that thread, its ClientId the thread's Cid
tebs = {hexv(x["thread"]): x for x in res.get("!teb", []) if "thread" in x}
gles = {hexv(x["thread"]): x for x in res.get("!gle", []) if "thread" in x}
for t in sel_threads:
    r = get(".thread " + t[0])
    if hexv(r.get("thread", "0")) != num(t[0]):
        fail(".thread %s: %s" % (t[0], r))
    if not r.get("context") and not r.get("warning"):
        fail(".thread %s: no context and no warning" % t[0])
    a, proc, tid, teb = num(t[0]), num(t[1]), num(t[2]), num(t[5])
    g = gles.get(a)
    if not g:
        fail(".thread %s; !gle: no result for that thread" % t[0])
    elif teb and hexv(g.get("teb", "0")) != teb:
        fail(".thread %s; !gle: Teb %s, manifest %x" % (t[0], g.get("teb"), teb))
    elif not teb and "error" not in g:
        fail(".thread %s; !gle: a thread without TEB gave %s" % (t[0], g))
    a, proc, tid, teb = num(t[0]), num(t[1]), num(t[2]), num(t[5])
    x = tebs.get(a)
    n += 1
    if not x:
        fail(".thread %s; !teb: no !teb result for that thread" % t[0])
    elif teb == 0:
        if "error" not in x:
            fail(".thread %s; !teb: a thread without TEB gave %s" % (t[0], x))
    elif hexv(x.get("teb", "0")) != teb:
        fail(".thread %s; !teb: Teb %s, manifest %x" % (t[0], x.get("teb"), teb))
    elif hexv(x.get("client_tid", "0")) not in (0, tid) or hexv(x.get("client_pid", "0")) not in (0, pid_of.get(proc, 0)):
        fail(".thread %s; !teb: ClientId %s.%s, manifest %x.%x" % (t[0], x.get("client_pid"), x.get("client_tid"), pid_of.get(proc, 0), tid))
# ---- .process then !peb: that process's PEB
pebs = {hexv(x["process"]): x for x in res.get("!peb", []) if "process" in x}
for pr in procs[:4]:
    a, peb = num(pr[0]), num(pr[5])
    n += 1
    x = pebs.get(a)
    if peb == 0:
        if x and "error" not in x:
            fail(".process %s; !peb: a process without PEB gave %s" % (pr[0], x))
    elif not x or hexv(x.get("peb", "0")) != peb:
        fail(".process %s; !peb: %s, manifest Peb %x" % (pr[0], x, peb))
# every thread of every process, with stacks, in one command
j = get("!process 0 17")
have = {hexv(t["address"]) for pr in j.get("processes", []) for t in pr.get("threads", [])}
want = {a for pa, ts in by_proc.items() if pa in pid_of for a in ts}
n += 1
if have != want:
    fail("!process 0 17: threads %s, manifest %s" % (sorted(map(hex, have - want)), sorted(map(hex, want - have))))
print("%s: %d facts checked, %d failures" % (tag, n, len(fails)))
if n == 0:
    fail("the manifest has no process facts")
sys.exit(1 if fails else 0)
EOF

# ---- every layout and kind the generator builds
for spec in "win7 full" "w1809 full" "w19041 full" "w19041 bitmap" "w22000 full" "xp pae"; do
    set -- $spec
    lay=$1 kind=$2
    for scene in basic deadlock; do
        f=$(scene_dump "$lay" "$scene" "$kind" 2>"$W/gen.err")
        if [ -z "$f" ] || [ ! -f "$f" ] || [ ! -f "$f.manifest" ]; then
            echo "SKIP: $lay $scene $kind: the generator did not build it ($(head -c 300 "$W/gen.err"))"
            continue
        fi
        checked=$((checked + 1))
        timeout 150 python3 "$W/check.py" "$NTKD" "$f" "$SYMP" "$lay-$scene-$kind" normal "$(scene_table "$lay")" ||
            fail "$lay $scene $kind"
    done
done
[ "$checked" -gt 0 ] || fail "no scene could be built: nothing was checked"
# ---- hostile scenes: messages, no crash, no hang
for lay in w19041 win7; do
    for h in cycle missing badtype; do
        f=$(scene_dump "$lay" basic full --hostile "$h" 2>"$W/gen.err")
        if [ -z "$f" ] || [ ! -f "$f.manifest" ]; then
            echo "SKIP: hostile $lay $h: $(head -c 300 "$W/gen.err")"
            continue
        fi
        timeout 150 python3 "$W/check.py" "$NTKD" "$f" "$SYMP" "$lay-basic-$h" hostile "$(scene_table "$lay")" ||
            fail "hostile $lay $h"
    done
done

# ---- !gle on user minidumps
# A minidump written here: one x64 thread whose TEB (in the memory list) holds LastErrorValue 2
# at +0x68 and LastStatusValue 0xc0000034 at +0x1250 (the x64 TEB layout), as in seed 003.
python3 - "$W/gle.dmp" <<'EOF' || fail "could not write the !gle minidump"
import struct, sys
teb = 0x7ff5f000
ctx = bytearray(0x4d0)
struct.pack_into("<I", ctx, 0x30, 0x10000b)          # ContextFlags: CONTROL|INTEGER|SEGMENTS
tebmem = bytearray(0x2000)
struct.pack_into("<Q", tebmem, 0x30, teb)            # NtTib.Self
struct.pack_into("<QQ", tebmem, 0x8, 0x7ff00000, 0x7fefc000)  # NtTib.StackBase, StackLimit
struct.pack_into("<QQ", tebmem, 0x40, 0x1870, 0x1234)  # ClientId
struct.pack_into("<Q", tebmem, 0x60, 0x7ff5e000)     # ProcessEnvironmentBlock
struct.pack_into("<I", tebmem, 0x68, 2)
struct.pack_into("<I", tebmem, 0x1250, 0xc0000034)
sysinfo = struct.pack("<HHHBBIIIIIHH", 9, 6, 0x3a09, 8, 1, 6, 1, 7601, 2, 0, 0, 0) + bytes(24)
streams = []
off = 32 + 3 * 12
blobs = b""
def add(kind, data):
    global blobs
    streams.append((kind, len(data), off + len(blobs)))
    blobs += data
ctx_rva = off + 56 + 4 + 48 + 4 + 16
thr = struct.pack("<IIIIQQII", 0x1234, 0, 0x20, 0, teb, teb - 0x1000, 0, 0) + struct.pack("<II", len(ctx), ctx_rva)
add(7, sysinfo)
add(3, struct.pack("<I", 1) + thr)
mem_rva = ctx_rva + len(ctx)
add(5, struct.pack("<I", 1) + struct.pack("<QII", teb, len(tebmem), mem_rva))
assert off + len(blobs) == ctx_rva, (off + len(blobs), ctx_rva)
hdr = struct.pack("<IIIIIIQ", 0x504d444d, 0xa793, 3, 32, 0, 0x5f000000, 0)
dirs = b"".join(struct.pack("<III", *s) for s in streams)
open(sys.argv[1], "wb").write(hdr + dirs + blobs + bytes(ctx) + bytes(tebmem))
EOF
if [ -s "$W/gle.dmp" ]; then
    out=$("$NTKD" -z "$W/gle.dmp" -c '!gle; q' 2>&1)
    echo "$out" | grep -qx 'LastErrorValue: (Win32) 0x2 (2) - The system cannot find the file specified.' ||
        fail "!gle on gle.dmp: $out"
    echo "$out" | grep -qx 'LastStatusValue: (NTSTATUS) 0xc0000034 - Object Name not found.' ||
        fail "!gle on gle.dmp (status): $out"
    out=$("$NTKD" -z "$W/gle.dmp" -c '!teb; q' 2>&1)
    for l in 'TEB at 000000007ff5f000' '    StackBase:            000000007ff00000' \
        '    StackLimit:           000000007fefc000' '    Self:                 000000007ff5f000' \
        '    ClientId:             0000000000001870 . 0000000000001234' '    PEB Address:          000000007ff5e000' \
        '    LastErrorValue:       2' '    LastStatusValue:      c0000034'; do
        echo "$out" | grep -qxF "$l" || fail "!teb on gle.dmp lacks '$l': $out"
    done
    js=$("$NTKD" -z "$W/gle.dmp" --json -c '!gle; q' 2>&1 | grep '"!gle"')
    python3 -c 'import json,sys; j=json.loads(sys.argv[1]); assert j["ok"] and j["last_error"]==2 and int(j["last_status"],16)==0xc0000034, j' "$js" ||
        fail "!gle --json on gle.dmp: $js"
fi
# The corpus minidumps do not hold their TEBs (checked here from the memory lists): !gle says so.
for d in calc-x64-win7 crashtest-x64-1803 breakpad-x86-xp; do
    f=$CORPUS/dumps/user/$d.dmp
    [ -f "$f" ] || continue
    missing=$(python3 - "$f" <<'EOF'
import struct, sys
d = open(sys.argv[1], "rb").read()
n, rva = struct.unpack_from("<II", d, 8)
mem, teb = [], None
for i in range(n):
    t, sz, r = struct.unpack_from("<III", d, rva + 12 * i)
    if t == 5:
        for k in range(struct.unpack_from("<I", d, r)[0]):
            s, z, _ = struct.unpack_from("<QII", d, r + 4 + 16 * k)
            mem.append((s, z))
    elif t == 9:
        cnt = struct.unpack_from("<Q", d, r)[0]
        for k in range(cnt):
            mem.append(struct.unpack_from("<QQ", d, r + 16 + 16 * k))
    elif t == 3 and teb is None:
        teb = struct.unpack_from("<Q", d, r + 4 + 16)[0]
print("yes" if teb is not None and not any(s <= teb + 0x68 < s + z for s, z in mem) else "no")
EOF
)
    out=$("$NTKD" -z "$f" -c '~0s; !gle; q' 2>&1)
    if [ "$missing" = yes ]; then
        echo "$out" | grep -q 'is not in the dump' || fail "!gle on $d (TEB not in the dump): $out"
    else
        echo "$out" | grep -q '^LastErrorValue: (Win32) ' || fail "!gle on $d: $out"
    fi
done

[ "$fails" = 0 ] && echo "kproc: all checks passed ($checked scenes)"
[ "$fails" = 0 ]
