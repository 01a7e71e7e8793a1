#!/bin/bash
# pooltrack.sh: !poolused over every pool tracker table of the "pool" scene (tests/gen/scene/
# pooltrack.c): the per-processor tables of nt!ExPoolTagTables summed with PoolTrackTable (tags
# split over processors, a tag counted on processor 1 only, a processor holding more frees than
# allocations), the note naming how many tables were summed, and !poolused 8 (the session pool
# tracker table) against the manifest's pooltag / pooltagcpu / pooltables / sesstag / session
# lines, in text and --json, on win7, w1809, w19041 (also with 4 processors), w22000 and xp
# (one table, no session table: a message). Hostile variants (a processor table in a page left
# out of the dump, an absurd ExpSessionPoolTrackTableSize) must give messages, never a crash.
# usage: bash pooltrack.sh NTKD_BIN GENDUMP CORPUS_DIR WORKDIR
set -u
source "$(dirname "$0")/scene_lib.sh" "$@"
scene_cli pooltrack

cat >"$W/check.py" <<'EOF'
import json, subprocess, sys, collections, re
import mf as mfl
ntkd, dump, symp, name, mode = sys.argv[1:6]
chk = mfl.Check(ntkd, dump, symp, name)
fails, fail, run = chk.fails, chk.fail, chk.run

mf = mfl.load(dump)
H = lambda v: int(v, 16)
M64 = (1 << 64) - 1
out = lambda a, f: max(a - f, 0)

sections = mfl.sections
def jsons(p): return mfl.jobjs(p, fail)

def rows(sec):
    r = {}
    order = []
    for line in sec:
        m = re.match(r"^ (\S{4}) +(\d+) +(\d+) +(\d+) +(\d+)\t", line)
        if m:
            r[m.group(1)] = [int(m.group(i)) for i in range(2, 6)]
            order.append(m.group(1))
    return r, order

tags = {l[0]: [H(x) for x in l[1:7]] for l in mf["pooltag"]}
cpu = collections.defaultdict(dict)   # tag -> cpu -> counts
for l in mf["pooltagcpu"]:
    cpu[l[1]][int(l[0])] = [H(x) for x in l[2:8]]
sess = {l[0]: [H(x) for x in l[1:7]] for l in mf["sesstag"]}
ntables = int(mf["pooltables"][0][0]) if mf["pooltables"] else None
hostile = {l[0]: l[1] for l in mf["hostile"]}
shown = lambda c: [out(c[0], c[1]), c[2], out(c[3], c[4]), c[5]]

if mode == "hostile":
    cmds = ["!poolused", "!poolused 8"]
    p = run(cmds, False)
    secs = sections(p)
    txt = "\n".join(sum(secs, []))
    if "pool_cpu_table_missing" in hostile:
        ncpu = int(mf["pooltables"][0][0]) if mf["pooltables"] else 0
        if not re.search(r"nt!ExPoolTagTables\[%d\]: entries from .* not in the dump" % (ncpu - 1), txt):
            fail("hostile: the processor table in a missing page (%s) is not reported:\n%s" % (hostile["pool_cpu_table_missing"], txt[:3000]))
    if "pool_session_size" in hostile:
        s8 = "\n".join(secs[1]) if len(secs) > 1 else ""
        if "ExpSessionPoolTrackTableSize" not in s8 or "implausible" not in s8:
            fail("hostile: absurd ExpSessionPoolTrackTableSize not reported:\n%s" % s8[:2000])
        r, _ = rows(secs[1] if len(secs) > 1 else [])
        for t_, c in sess.items():
            if r.get(t_) != shown(c):
                fail("hostile !poolused 8 %s: %s, manifest %s" % (t_, r.get(t_), shown(c)))
    js = jsons(run(cmds, True))
    if len(js) != len(cmds):
        fail("hostile --json: %d objects for %d commands" % (len(js), len(cmds)))
    sys.exit(1 if fails else 0)

# ---- the manifest's own arithmetic: pooltag = the sum over the processors (a generator check)
if cpu:
    for t_, per in cpu.items():
        s = [sum(v[i] for v in per.values()) & M64 for i in range(6)]
        if t_ in tags and s != tags[t_]:
            fail("manifest: pooltagcpu lines of %s sum to %s, pooltag says %s" % (t_, s, tags[t_]))
split = [t_ for t_, per in cpu.items() if any(c > 0 for c in per) and 0 in per]
only = [t_ for t_, per in cpu.items() if list(per) and 0 not in per]

# ---- !poolused, !poolused 8 and variants (text and JSON)
CM = ["!poolused", "!poolused 8", "!poolused 8 4 /t 2", "!poolused 0xa U*", "!poolused 8 2"]
p = run(CM, False)
secs = sections(p)
js = jsons(run(CM, True))
if len(secs) < len(CM) or len(js) != len(CM):
    fail("%d commands: %d text outputs, %d JSON objects" % (len(CM), len(secs), len(js)))
    sys.exit(1)

r, _ = rows(secs[0])
if sorted(r) != sorted(tags):
    fail("!poolused tags %s, manifest %s" % (sorted(r), sorted(tags)))
for t_, c in tags.items():
    if r.get(t_) != shown(c):
        fail("!poolused %s: %s, manifest sums %s%s" % (t_, r.get(t_), shown(c),
             " (processor 0 alone: %s)" % shown(cpu[t_][0]) if 0 in cpu.get(t_, {}) else ""))
txt0 = "\n".join(secs[0])
if ntables is not None:
    want = "ntkd: %d tracker table%s summed" % (ntables, "" if ntables == 1 else "s")
    if want not in txt0:
        fail("!poolused: no note '%s':\n%s" % (want, txt0[-1500:]))
j0 = js[0]
if ntables is not None and j0.get("tracker_tables") != ntables:
    fail("--json !poolused tracker_tables %s, manifest pooltables %s" % (j0.get("tracker_tables"), ntables))
jt = {x["tag"]: x for x in j0.get("tags", [])}
for t_, c in tags.items():
    x = jt.get(t_)
    got = x and [x["nonpaged_allocs"] & M64, x["nonpaged_frees"] & M64, x["nonpaged_bytes"] & M64,
                 x["paged_allocs"] & M64, x["paged_frees"] & M64, x["paged_bytes"] & M64]
    if got != c:
        fail("--json !poolused %s: %s, manifest sums %s" % (t_, got, c))
if mf["pooltagcpu"]:
    if not split or not only:
        fail("manifest: no tag split over processors (%s) or counted on a processor other than 0 only (%s)" % (split, only))

if not sess:
    # no per-tag session table on this build (XP): a message, no rows
    s8 = "\n".join(secs[1])
    if "no per-tag session pool table" not in s8 or rows(secs[1])[0]:
        fail("!poolused 8 on a build without session table:\n%s" % s8[:1500])
    if "error" not in js[1] and not any("session" in str(v) for v in js[1].values()):
        fail("--json !poolused 8 without session table: %s" % js[1])
else:
    r8, o8 = rows(secs[1])
    if sorted(r8) != sorted(sess):
        fail("!poolused 8 tags %s, manifest sesstag %s" % (sorted(r8), sorted(sess)))
    for t_, c in sess.items():
        if r8.get(t_) != shown(c):
            fail("!poolused 8 %s: %s, manifest %s" % (t_, r8.get(t_), shown(c)))
    if o8 != sorted(o8):
        fail("!poolused 8 not sorted by tag: %s" % o8)
    for t_ in sess:
        if t_ in r:
            fail("!poolused (standard pool) lists session tag %s" % t_)
    sid, ssp = (H(mf["session"][0][0]), H(mf["session"][0][1])) if mf["session"] else (None, None)
    s8 = "\n".join(secs[1])
    if sid is not None and not re.search(r"Session %d \(_MM_SESSION_SPACE %s`%s\)" % (sid, "%08x" % (ssp >> 32), "%08x" % (ssp & 0xffffffff)), s8):
        fail("!poolused 8: no 'Session %d (_MM_SESSION_SPACE %x)' line:\n%s" % (sid, ssp, s8[:800]))
    tot = [sum(shown(c)[i] for c in sess.values()) for i in range(4)]
    tl = [l for l in secs[1] if l.startswith(" TOTAL")]
    if not tl or [int(x) for x in tl[0].split()[1:5]] != tot:
        fail("!poolused 8 TOTAL %s, manifest sums %s" % (tl, tot))
    j8 = js[1]
    if j8.get("pool") != "session" or (sid is not None and (j8.get("session", {}).get("id") != sid or int(j8["session"].get("session_space", "0x0"), 16) != ssp)):
        fail("--json !poolused 8 session: %s" % j8.get("session"))
    jt8 = {x["tag"]: x for x in j8.get("tags", [])}
    for t_, c in sess.items():
        x = jt8.get(t_)
        got = x and [x["nonpaged_allocs"], x["nonpaged_frees"], x["nonpaged_bytes"], x["paged_allocs"], x["paged_frees"], x["paged_bytes"]]
        if got != c:
            fail("--json !poolused 8 %s: %s, manifest %s" % (t_, got, c))
    # !poolused 8 4 /t 2: the two tags with the most paged bytes
    want = sorted(sess, key=lambda k: (-sess[k][5], k))[:2]
    got = rows(secs[2])[1]
    if got != want or "Sorting by Paged Pool Consumed" not in "\n".join(secs[2]):
        fail("!poolused 8 4 /t 2: %s, manifest gives %s" % (got, want))
    # !poolused 0xa U*: session pool (8|2), sorted by nonpaged bytes, U* tags only
    want = sorted([k for k in sess if k.startswith("U")], key=lambda k: (-sess[k][2], k))
    got = rows(secs[3])[1]
    if got != want:
        fail("!poolused 0xa U*: %s, manifest gives %s" % (got, want))
    if [x["tag"] for x in js[3].get("tags", [])] != want:
        fail("--json !poolused 0xa U*: %s" % [x["tag"] for x in js[3].get("tags", [])])
    want = sorted(sess, key=lambda k: (-sess[k][2], k))
    if rows(secs[4])[1] != want:
        fail("!poolused 8 2: %s, manifest gives %s" % (rows(secs[4])[1], want))
sys.exit(1 if fails else 0)
EOF

rm -f "$W"/failed.*
scene_check win7 pool full normal &
scene_check w1809 pool full normal &
scene_check w19041 pool full normal &
scene_check w22000 pool full normal &
wait
scene_check xp pool pae normal &
scene_check w19041 pool full normal --cpus 4 &
scene_check win7 pool full hostile --hostile cycle &
scene_check w1809 pool full hostile --hostile all &
scene_check w22000 pool full hostile --hostile all &
wait
fails=$((fails + $(scene_failed_count)))
[ "$fails" = 0 ] && echo "pooltrack: all checks passed"
exit $((fails > 0))
