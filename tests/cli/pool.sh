#!/bin/bash
# pool.sh: !pool, !poolused and !poolfind on the "pool" scene of ntkd-genscene, in text and
# --json, against the generator's manifest (pooltag / poolblock / poolpage / poolbad / bigpool /
# module lines), on every layout (win7, w1809, w19041, w22000 full; xp pae; w1809 bitmap; w1809
# and xp again with 48 MB of filler, which the scans read ahead on helper threads), and
# the hostile variant (absurd table sizes, a missing expansion table, a page whose first header
# has BlockSize 0) which must give messages, never a crash or a hang.
# usage: bash pool.sh NTKD_BIN GENDUMP CORPUS_DIR WORKDIR
set -u
source "$(dirname "$0")/scene_lib.sh" "$@"
scene_cli pool

cat >"$W/check.py" <<'EOF'
import json, subprocess, sys, collections, re
import mf as mfl
ntkd, dump, symp, tag, mode = sys.argv[1:6]
chk = mfl.Check(ntkd, dump, symp, tag)
fails, fail, run = chk.fails, chk.fail, chk.run

mf = mfl.load(dump)
is64 = not any(l and l[0] == "x86pae" for l in mf["arch"])
def H(v): return int(v, 16)
def fmt(v): return ("%016x" if is64 else "%08x") % v

def jrun(cmds):
    return mfl.jobjs(run(cmds, True), fail)

text_sections = mfl.sections  # the output of each command, split at the prompts

if mode == "hostile":
    cmds = ["!poolused 2", "!poolfind Leak"]
    for l in mf["poolpage"]:
        cmds.append("!pool %s" % l[0])
    for l in mf["hostile"]:
        if l[0] == "pool_blocksize0":
            cmds.append("!pool %s+0x10" % l[1])
    p = run(cmds, False)
    out = p.stdout if p else ""
    if "implausible" not in out:
        fail("hostile tracker/big table sizes: no 'implausible' message:\n%s" % out[:3000])
    for l in mf["hostile"]:
        if l[0] == "pool_blocksize0":
            if "zero is invalid" not in out or fmt(H(l[1])) not in out:
                fail("hostile BlockSize 0 page %s: not reported" % l[1])
        if l[0] == "pool_expansion_missing":
            if "PoolTrackTableExpansion" not in out:
                fail("hostile missing expansion table %s: not reported" % l[1])
    js = jrun(cmds)
    if len(js) < len(cmds):
        fail("hostile --json: %d objects for %d commands" % (len(js), len(cmds)))
    sys.exit(1 if fails else 0)

mods = {l[2].lower(): H(l[0]) for l in mf["module"]}
ntmod = [l for l in mf["module"]][0][2].lower()

# ---------------------------------------------------------------- !poolused (text and JSON)
tags = {l[0]: [H(x) for x in l[1:7]] + [l[7]] for l in mf["pooltag"]}
if not tags:
    fail("no pooltag lines in the manifest")
out = lambda a, f: max(a - f, 0)

# every command of the checks below, run once in text and once in --json
bigs = mf["bigpool"]
blocks = mf["poolblock"]
pages = mf["poolpage"]
classic = bool(pages) and not mf["segheap"]  # segment-heap builds (19H1+): poolseg.sh checks the details
bad = {H(l[0]): H(l[1]) for l in mf["poolbad"]}
G_used = ["!poolused 2", "!poolused 4", "!poolused /t 3 2", "!poolused 2 Nf*"]
G_big = ["!pool %s+0x18" % b[0] for b in bigs]
G_blocks = ["!pool %x" % (H(bl[0]) + H(bl[1]) // 2) for bl in blocks]
G_bad = ["!pool %x" % (bh + 8) for _, bh in bad.items()]
G_seg = []
ftags = sorted(set([b[2] for b in bigs] + [b[2] for b in blocks]) - {"-"})  # "-": a free chunk (no tag)
G_find = ["!poolfind %s" % t_ for t_ in ftags]
ALL = G_used + G_big + G_blocks + G_bad + G_seg + G_find
_ps = text_sections(run(ALL, False))
_pj = jrun(ALL)
if len(_ps) < len(ALL) or len(_pj) != len(ALL):
    fail("%d commands gave %d text outputs and %d JSON objects" % (len(ALL), len(_ps), len(_pj)))
def _slice(v, cmds):
    for i in range(len(ALL) - len(cmds) + 1):
        if ALL[i:i + len(cmds)] == cmds:
            r = v[i:i + len(cmds)]
            return r + [[] if v is _ps else {}] * (len(cmds) - len(r))
    raise AssertionError("commands not pre-run: %s" % cmds)
T = lambda cmds: _slice(_ps, cmds)
J = lambda cmds: _slice(_pj, cmds)

secs = T(G_used)
if len(secs) < 4:
    fail("!poolused: %d command outputs" % len(secs))
else:
    def rows(sec):
        r = []
        for line in sec:
            m = re.match(r"^ (\S{4}) +(\d+) +(\d+) +(\d+) +(\d+)\t(.*)$", line)
            if m:
                r.append((m.group(1), [int(m.group(i)) for i in range(2, 6)], m.group(6)))
        return r
    r2 = rows(secs[0])
    if "Sorting by NonPaged Pool Consumed" not in "\n".join(secs[0]):
        fail("!poolused 2: no 'Sorting by NonPaged Pool Consumed' line")
    if sorted(x[0] for x in r2) != sorted(tags):
        fail("!poolused 2 tags %s != manifest %s" % ([x[0] for x in r2], sorted(tags)))
    for t_, v, own in r2:
        if t_ not in tags:
            continue
        m = tags[t_]
        want = [out(m[0], m[1]), m[2], out(m[3], m[4]), m[5]]
        if v != want:
            fail("!poolused 2 %s: %s, manifest gives %s" % (t_, v, want))
        if m[6] == "-":
            if "UNKNOWN" not in own:
                fail("!poolused %s: owner '%s', the manifest says none" % (t_, own))
        elif not own.lower().startswith(m[6].lower()):
            fail("!poolused %s: owner '%s', manifest %s" % (t_, own, m[6]))
    npb = [v[1] for _, v, _ in r2]
    if npb != sorted(npb, reverse=True):
        fail("!poolused 2 not sorted by nonpaged bytes: %s" % npb)
    tot = [sum(out(m[0], m[1]) for m in tags.values()), sum(m[2] for m in tags.values()),
           sum(out(m[3], m[4]) for m in tags.values()), sum(m[5] for m in tags.values())]
    tl = [l for l in secs[0] if l.startswith(" TOTAL")]
    if not tl or [int(x) for x in tl[0].split()[1:5]] != tot:
        fail("!poolused TOTAL line %s, manifest sums %s" % (tl, tot))
    # seed 003:1880 / 004:1649: "TOTAL" + the first number right-aligned in 10 columns, the
    # others in 13, 11, 13 (one column right of the rows' 4-char tag + 10)
    if not re.match(r"^ TOTAL[ 0-9]{10}[ 0-9]{13}[ 0-9]{11}[ 0-9]{13}$", tl[0]) or tl[0][15] == " " \
            or tl[0][16] != " ":
        fail("!poolused TOTAL line not in the seed's columns (TOTAL + 10, 13, 11, 13): %r" % tl[0])
    top = max(tags, key=lambda k: (tags[k][2], k))
    diag = "\n".join(secs[0])
    if "Tag %s holds most of the nonpaged pool: %s" % (top, tags[top][6]) not in diag:
        fail("!poolused 2: no diagnosis naming %s and %s" % (top, tags[top][6]))
    r4 = rows(secs[1])
    pb = [v[3] for _, v, _ in r4]
    if pb != sorted(pb, reverse=True) or (r4 and r4[0][0] != max(tags, key=lambda k: (tags[k][5], k))):
        fail("!poolused 4 not sorted by paged bytes: %s" % [(x[0], x[1][3]) for x in r4])
    r3 = rows(secs[2])
    if [x[0] for x in r3] != [x[0] for x in r2][:3]:
        fail("!poolused /t 3 2: %s, expected the first three of %s" % ([x[0] for x in r3], [x[0] for x in r2]))
    rn = rows(secs[3])
    if sorted(x[0] for x in rn) != sorted(t_ for t_ in tags if t_.startswith("Nf")):
        fail("!poolused 2 Nf*: %s" % [x[0] for x in rn])
js = J(G_used)[:1]
if js:
    j = js[0]
    got = {x["tag"]: x for x in j.get("tags", [])}
    for t_, m in tags.items():
        x = got.get(t_)
        if not x:
            fail("--json !poolused: no tag %s" % t_)
            continue
        if [x["nonpaged_allocs"], x["nonpaged_frees"], x["nonpaged_bytes"], x["paged_allocs"], x["paged_frees"], x["paged_bytes"]] != m[:6]:
            fail("--json !poolused %s: %s, manifest %s" % (t_, x, m))
        owners = [(o["module"].lower(), int(o["base"], 16)) for o in x.get("owners", [])]
        if m[6] == "-":
            if owners:
                fail("--json !poolused %s: owners %s, manifest none" % (t_, owners))
        elif (m[6].lower(), mods.get(m[6].lower())) not in owners:
            fail("--json !poolused %s: owners %s lack %s at %s" % (t_, owners, m[6], mods.get(m[6].lower())))
    d = j.get("dominant", [])
    if not d or d[0]["tag"] != max(tags, key=lambda k: (tags[k][2], k)):
        fail("--json !poolused: dominant %s" % d)

# ---------------------------------------------------------------- !pool on big allocations
if not bigs:
    fail("no bigpool lines")
cmds = G_big
secs = T(cmds)
for b, sec in zip(bigs, secs):
    want = "*%s : large page allocation, tag %s, size 0x%x bytes" % (fmt(H(b[0])), b[2], H(b[1]))
    if not sec or sec[0] != want:
        fail("!pool %s: '%s', expected '%s'" % (b[0], sec[0] if sec else "", want))
for b, j in zip(bigs, J(cmds)):
    la = j.get("large_allocation", {})
    if int(la.get("va", "0x0"), 16) != H(b[0]) or int(la.get("bytes", "0x0"), 16) != H(b[1]) or la.get("tag") != b[2] or la.get("free"):
        fail("--json !pool %s: %s" % (b[0], la))

# ---------------------------------------------------------------- !pool on small blocks
if classic:
    cmds = G_blocks
    secs = T(cmds)
    for bl, sec in zip(blocks, secs):
        a = H(bl[0])
        state = "(Free)     " if bl[3] == "1" else "(Allocated)"
        want = "*%s size: %4x previous size:" % (fmt(a), H(bl[1]))
        line = [l for l in sec if l.startswith(want)]
        if not line or state not in line[0] or not line[0].endswith("*" + bl[2]):
            fail("!pool in block %s (%s %s free=%s): no line '%s ... %s *%s' in\n%s" % (bl[0], bl[1], bl[2], bl[3], want, state, bl[2], "\n".join(sec)))
        page = a & ~0xfff
        region = [pg[1] for pg in pages if H(pg[0]) == page]
        rl = "Pool page %s region is %s" % (fmt(a + H(bl[1]) // 2), "Nonpaged pool" if region and region[0] == "nonpaged" else "Paged pool")
        if not sec or sec[0] != rl:
            fail("!pool in block %s: first line '%s', expected '%s'" % (bl[0], sec[0] if sec else "", rl))
        if bl[4] == "1":
            txt = "\n".join(sec)
            if page not in bad or ("@" not in txt) or ("[ %s -->" % fmt(bad[page])) not in txt or "__inVALID" not in txt:
                fail("!pool in block %s of a corrupt page: the bad header %s is not reported:\n%s" % (bl[0], hex(bad.get(page, 0)), txt))
    bl_ = list(bad.items())
    for (pg, bh), sec in zip(bl_, T(G_bad)):
        txt = "\n".join(sec)
        if "lies in the corrupt region" not in txt:
            fail("!pool inside the smashed header %x: not said to be in the corrupt region:\n%s" % (bh, txt))
    js = J(cmds)
    for bl, j in zip(blocks, js):
        hitb = [x for x in j.get("blocks", []) if x.get("holds_address")]
        if len(hitb) != 1 or int(hitb[0]["address"], 16) != H(bl[0]) or hitb[0]["size"] != H(bl[1]) or hitb[0]["tag"] != bl[2] or hitb[0]["free"] != (bl[3] == "1"):
            fail("--json !pool in block %s: %s" % (bl[0], hitb))
        page = H(bl[0]) & ~0xfff
        if bl[4] == "1" and (not j.get("corrupt") or int(j.get("bad_header", "0x0"), 16) != bad.get(page)):
            fail("--json !pool in corrupt-page block %s: corrupt=%s bad_header=%s" % (bl[0], j.get("corrupt"), j.get("bad_header")))
else:
    # segment-heap builds (19H1+): the block holding the address is decoded from its VS / LFH
    # subsegment (free chunks carry no pool header, so no tag); pages, corruption: poolseg.sh
    if not blocks:
        fail("segment-heap build: no poolblock lines")
    for bl, sec, j in zip(blocks, T(G_blocks), J(G_blocks)):
        a, fr = H(bl[0]), bl[3] == "1"
        want = "*%s size: %4x previous size:    0  %s *%s" % (fmt(a), H(bl[1]), "(Free)     " if fr else "(Allocated)", "" if fr else bl[2])
        if not [l for l in sec if l.rstrip() == want.rstrip()]:
            fail("segment heap: !pool in block %s: no line '%s' in\n%s" % (bl[0], want, "\n".join(sec)))
        hitb = [x for x in j.get("blocks", []) if x.get("holds_address")]
        if len(hitb) != 1 or int(hitb[0]["address"], 16) != a or hitb[0]["size"] != H(bl[1]) or hitb[0]["free"] != fr:
            fail("segment heap: --json !pool in block %s: %s" % (bl[0], hitb))

# ---------------------------------------------------------------- !poolfind
fjs = J(G_find)
if len(fjs) != len(ftags):
    fail("--json !poolfind: %d results for %d tags" % (len(fjs), len(ftags)))
for t_, j in zip(ftags, fjs):
    large = sorted((int(x["va"], 16), int(x["bytes"], 16)) for x in j.get("large", []))
    wl = sorted((H(b[0]), H(b[1])) for b in bigs if b[2] == t_)
    if large != wl:
        fail("--json !poolfind %s: large %s, manifest %s" % (t_, [(hex(a), hex(b)) for a, b in large], [(hex(a), hex(b)) for a, b in wl]))
    small = sorted((int(x["address"], 16), x["size"], x["free"]) for x in j.get("small", []))
    ws = sorted((H(b[0]), H(b[1]), b[3] == "1") for b in blocks if b[2] == t_)
    if small != ws:
        fail("--json !poolfind %s: small %s, manifest %s" % (t_, small, ws))
txt = "\n".join(T(["!poolfind Leak"])[0])
if "Scanning large pool allocation table for tag 0x6b61654c (Leak)" not in txt:
    fail("!poolfind Leak: no 'Scanning large pool allocation table' line")
for b in bigs:
    if b[2] == "Leak" and ("%s : tag Leak, size %#10x" % (fmt(H(b[0])), H(b[1]))) not in txt:
        fail("!poolfind Leak: big allocation %s missing" % b[0])
for b in blocks:
    if b[2] == "Leak" and ("%s : tag Leak, size %#10x" % (fmt(H(b[0])), H(b[1]))) not in txt:
        fail("!poolfind Leak: block %s missing" % b[0])
sys.exit(1 if fails else 0)
EOF

rm -f "$W"/failed.*

scene_check win7 pool full normal &
scene_check w1809 pool full normal &
scene_check w19041 pool full normal &
wait
scene_check w22000 pool full normal &
scene_check xp pool pae normal &
scene_check w1809 pool bitmap normal &
wait
scene_check win7 pool full hostile --hostile cycle &
scene_check xp pool pae hostile --hostile missing &
scene_check w22000 pool full hostile --hostile all &
wait
# 48 MB of filler pages: the page scans go through the read-ahead helper threads (over 32 MB of
# kernel pages, src/base/prefetch.c) and must find exactly the manifest's blocks again
scene_check w1809 pool full normal --fill-mb 48 &
scene_check xp pool pae normal --fill-mb 48 &
wait
# a scene that sets up no pool (9f): the big-pool table's globals are not in the dump, and
# !poolfind says so (not a stale or empty error)
if f=$(scene_dump w19041 9f full); then
    out=$("$NTKD" -z "$f" -y "$SYMP" -c '!poolfind Leak' 2>&1)
    grep -q "^The large pool allocation table could not be read: .*PoolBigPageTable" <<<"$out" ||
        fail "9f scene: !poolfind does not name the big-pool problem: $(grep -i 'large pool' <<<"$out")"
else
    fail "scene_dump w19041 9f full"
fi
# hostile (the module list loops): each warning of !poolused is a line of its own, the module
# walk's included
if f=$(scene_dump w22000 pool full --hostile all); then
    out=$("$NTKD" -z "$f" -y "$SYMP" -c '!poolused' 2>&1)
    grep -q "^WARNING: list at .*after [0-9]* entries$" <<<"$out" ||
        fail "w22000 hostile: !poolused: the module walk's warning is not a line of its own: $(grep '^WARNING: list' <<<"$out")"
fi
fails=$((fails + $(scene_failed_count)))
[ $fails = 0 ] && echo "pool: all checks passed"
exit $((fails > 0))
