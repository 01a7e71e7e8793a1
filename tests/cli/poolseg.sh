#!/bin/bash
# poolseg.sh: the segment-heap pool of 19H1+ builds (layouts w19041 and w22000; reader
# src/kobj/kpool_seg.c, contract /work/notes/SEGHEAP.md) through !pool, !poolfind and !ca 0,
# in text and --json, against the manifest of ntkd-genscene's "pool" and "mm" scenes
# (segheap / subseg / poolblock / poolpage / poolbad / bigpool / catag lines):
#  - !pool inside every manifest block marks that block with '*', its size, Allocated/Free and
#    tag, under "Pool page X region is Nonpaged|Paged pool"; a block of a corrupt subsegment
#    also names the bad chunk header;
#  - !pool on every manifest page lists exactly the manifest's blocks whose header is in it;
#  - !pool inside the bad chunk header says it lies in the corrupt region;
#  - !poolfind TAG lists exactly the manifest's allocated blocks of that tag (segment heap and
#    big-pool table), also with pooltype 1 (paged only);
#  - !ca 0 on the mm scene finds every catag control area in the segment heaps;
#  - the hostile variant (--hostile all: a segment list that loops, an absurd LFH BlockCount)
#    gives messages naming them, no crash, no hang.
# usage: bash poolseg.sh NTKD_BIN GENDUMP CORPUS_DIR WORKDIR
set -u
source "$(dirname "$0")/scene_lib.sh" "$@"
scene_cli poolseg

cat >"$W/check.py" <<'EOF'
import json, subprocess, sys, collections, re
import mf as mfl
ntkd, dump, symp, tag, mode = sys.argv[1:6]
chk = mfl.Check(ntkd, dump, symp, tag)
fails, fail, run = chk.fails, chk.fail, chk.run

mf = mfl.load(dump)
def H(v): return int(v, 16)
def fmt(v): return "%016x" % v
def bq(v): return "%08x`%08x" % (v >> 32, v & 0xffffffff)

sections = mfl.sections
def jobjs(p): return mfl.jobjs(p, fail)

def both(cmds):
    t = sections(run(cmds, False))
    j = jobjs(run(cmds, True))
    if len(t) < len(cmds) or len(j) != len(cmds):
        fail("%d commands gave %d text outputs and %d JSON objects" % (len(cmds), len(t), len(j)))
    t += [[]] * (len(cmds) - len(t))
    j += [{}] * (len(cmds) - len(j))
    return t, j

if not mf["segheap"] or not mf["subseg"]:
    fail("the manifest has no segheap/subseg lines: the generator wrote no segment heap")
    sys.exit(1)

if mode == "mm":
    cas = {H(l[0]): l[1] for l in mf["catag"]}
    if not cas:
        fail("the mm scene lists no catag control area")
    t, j = both(["!ca 0"])
    pool = {H(c["control_area"]): c for c in j[0].get("pool_control_areas", [])}
    for a, tg in cas.items():
        c = pool.get(a)
        if not c or c.get("tag") != tg or c.get("source") != "segment_heap":
            fail("!ca 0: control area %x (%s) not found in the segment heaps: %s" % (a, tg, c))
    extra = [hex(a) for a in pool if a not in cas]
    if extra:
        fail("!ca 0: pool-tag search lists control areas the manifest does not: %s" % extra)
    txt = "\n".join(t[0])
    for a in cas:
        if not re.search(r"^%s \d+" % fmt(a), txt, re.M):
            fail("!ca 0 text lacks the line of %x" % a)
    sys.exit(1 if fails else 0)

blocks = [(H(b[0]), H(b[1]), b[2], b[3] == "1", b[4] == "1") for b in mf["poolblock"]]
pages = {H(p[0]): (p[1], p[2] == "1") for p in mf["poolpage"]}
bad = {H(l[0]): H(l[1]) for l in mf["poolbad"]}
bigs = [(H(b[0]), H(b[1]), b[2]) for b in mf["bigpool"]]

if mode == "hostile":
    hs = {l[0]: H(l[1]) for l in mf["hostile"]}
    cmds = ["!poolfind Leak"] + ["!pool %x" % (a + s // 2) for a, s, _, _, _ in blocks[:40]]
    if "lfh_count" in hs:
        cmds.append("!pool %x" % (hs["lfh_count"] + 0x100))
    t, j = both(cmds)
    txt = "\n".join(sum(t, []))
    if "segheap_cycle" not in hs or "lfh_count" not in hs:
        fail("the hostile manifest lacks segheap_cycle / lfh_count: %s" % sorted(hs))
    if "segheap_cycle" in hs and not re.search(r"segment list: .*(cycle|leads back)", txt):
        fail("hostile segment-list cycle (segment %x): not reported:\n%s" % (hs["segheap_cycle"], txt[-3000:]))
    if "lfh_count" in hs and ("Bad LFH subsegment @%s" % bq(hs["lfh_count"])) not in txt:
        fail("hostile LFH BlockCount (subsegment %x): not reported" % hs["lfh_count"])
    # the blocks stay readable
    for (a, s, tg, fr, _), sec in zip(blocks[:40], t[1:]):
        if not [l for l in sec if l.startswith("*%s size: %4x" % (fmt(a), s))]:
            fail("hostile: !pool in block %x no longer finds it" % a)
    sys.exit(1 if fails else 0)

if mode == "patched":
    # a chunk header overwritten in a copy of the dump (16 bytes of 0x41): the walk reports it
    # and resumes at the next chunk; the other blocks of the subsegment stay listed
    import os
    subs = [(H(l[0]), H(l[3])) for l in mf["subseg"] if l[1] == "vs"]
    cand = None
    for R, n in subs:
        inside = [b for b in blocks if R <= b[0] < R + n]
        if len(inside) >= 3 and not any(b[4] for b in inside):
            cand = (R, n, inside)
            break
    if not cand:
        fail("no clean VS subsegment with 3 blocks in the manifest")
        sys.exit(1)
    R, n, inside = cand
    a, s = inside[1][0], inside[1][1]
    chunk = a - 0x10
    p = run(["db %x L10" % chunk], False)
    m = re.search(r"^[0-9a-f`]+  ((?:[0-9a-f]{2}[ -]){15}[0-9a-f]{2})", p.stdout if p else "", re.M)
    if not m:
        fail("db %x: no bytes" % chunk)
        sys.exit(1)
    hb = bytes.fromhex(m.group(1).replace("-", " ").replace(" ", ""))
    data = bytearray(open(dump, "rb").read())
    at = data.find(hb)
    if at < 0 or data.find(hb, at + 1) >= 0:
        fail("the chunk header bytes of %x are not unique in the dump" % chunk)
        sys.exit(1)
    data[at:at + 16] = b"\x41" * 16
    pd = "%s.patched.%d.dmp" % (dump, os.getpid())
    open(pd, "wb").write(data)
    dump = chk.dump = pd  # the runs below read the patched copy
    try:
        t, j = both(["!pool %x" % (chunk + 8), "!pool %x" % (inside[-1][0] + inside[-1][1] // 2)])
    finally:
        os.unlink(pd)
    for sec, js in zip(t, j):
        txt = "\n".join(sec)
        if ("Bad VS chunk header @%s" % bq(chunk)) not in txt or int(js.get("bad_header", "0x0"), 16) != chunk:
            fail("patched chunk header %x: not reported:\n%s" % (chunk, txt))
        if ("[ %s --> %s" % (fmt(chunk), fmt(a + s))) not in txt or int(js.get("resync_at", "0x0"), 16) != a + s:
            fail("patched chunk header %x: corrupt region / resync at %x not reported:\n%s" % (chunk, a + s, txt))
    got = sorted((int(x["address"], 16), x["size"]) for x in j[0].get("blocks", []) if int(x["address"], 16) >> 12 == chunk >> 12)
    want = sorted((b[0], b[1]) for b in inside if b[0] != a and b[0] >> 12 == chunk >> 12)
    if got != want:
        fail("patched: blocks of page %x: %s, expected %s" % (chunk & ~0xfff, [(hex(x), hex(y)) for x, y in got], [(hex(x), hex(y)) for x, y in want]))
    if "lies in the corrupt region" not in "\n".join(t[0]):
        fail("patched: !pool %x (in the overwritten header) is not said to be in the corrupt region" % (chunk + 8))
    star = [x for x in j[1].get("blocks", []) if x.get("holds_address")]
    if len(star) != 1 or int(star[0]["address"], 16) != inside[-1][0]:
        fail("patched: the last block %x of the subsegment is not found after the resync: %s" % (inside[-1][0], star))
    sys.exit(1 if fails else 0)

if not blocks or not pages:
    fail("no poolblock / poolpage lines")
G_blk = ["!pool %x" % (a + s // 2) for a, s, _, _, _ in blocks]
G_page = ["!pool %x" % p for p in sorted(pages)]
G_bad = ["!pool %x" % (c + 8) for c in bad.values()]
ftags = sorted(set([b[2] for b in blocks if not b[3]] + [b[2] for b in bigs]))
G_find = ["!poolfind %s" % x for x in ftags] + ["!poolfind Leak 1", "!poolfind Toke 0"]
ALL = G_blk + G_page + G_bad + G_find
T, J = both(ALL)
def part(g):
    i = ALL.index(g[0])
    return T[i:i + len(g)], J[i:i + len(g)]

def region_of(a):
    p = pages.get(a & ~0xfff)
    return None if p is None else ("Paged pool" if p[0] == "paged" else "Nonpaged pool")

# !pool inside every block
t, j = part(G_blk)
for (a, s, tg, fr, corrupt), sec, js in zip(blocks, t, j):
    inside = a + s // 2
    state = "(Free)     " if fr else "(Allocated)"
    lines = [l for l in sec if l.startswith("*%s size: %4x previous size:    0  %s *" % (fmt(a), s, state))]
    if not lines or (not fr and not lines[0].endswith("*" + tg)):
        fail("!pool %x: no line '*%s size: %4x ... %s *%s' in\n%s" % (inside, fmt(a), s, state, "" if fr else tg, "\n".join(sec)))
    want = "Pool page %s region is %s" % (fmt(inside), region_of(a))
    if not sec or sec[0] != want:
        fail("!pool %x: first line '%s', expected '%s'" % (inside, sec[0] if sec else "", want))
    if corrupt:
        pg = a & ~0xfff
        bc = [c for p, c in bad.items() if p == pg] or list(bad.values())
        txt = "\n".join(sec)
        if not bc or ("[ %s -->" % fmt(bc[0])) not in txt or ("Bad VS chunk header @%s" % bq(bc[0])) not in txt:
            fail("!pool %x in a corrupt subsegment: bad chunk %s not reported:\n%s" % (inside, [hex(x) for x in bc], txt))
        if int(js.get("bad_header", "0x0"), 16) not in bc or not js.get("corrupt"):
            fail("--json !pool %x: corrupt %s bad_header %s" % (inside, js.get("corrupt"), js.get("bad_header")))
    elif js.get("corrupt") or "__inVALID" in "\n".join(sec):
        fail("!pool %x: a block of a clean page is reported in a corrupt subsegment" % inside)
    hb = [x for x in js.get("blocks", []) if x.get("holds_address")]
    if len(hb) != 1 or int(hb[0]["address"], 16) != a or hb[0]["size"] != s or hb[0]["free"] != fr or (not fr and hb[0]["tag"] != tg):
        fail("--json !pool %x: %s (manifest %x %x %s free=%s)" % (inside, hb, a, s, tg, fr))
    if js.get("region") != region_of(a) or not js.get("segment_heap"):
        fail("--json !pool %x: region %s segment_heap %s" % (inside, js.get("region"), js.get("segment_heap")))

# !pool on every page: exactly the manifest's blocks whose header is in the page
t, j = part(G_page)
for p, sec, js in zip(sorted(pages), t, j):
    got = sorted((int(x["address"], 16), x["size"], x["free"]) for x in js.get("blocks", []) if int(x["address"], 16) & ~0xfff == p)
    want = sorted((a, s, fr) for a, s, _, fr, _ in blocks if a & ~0xfff == p)
    if got != want:
        fail("--json !pool %x: blocks %s, manifest %s" % (p, [(hex(a), hex(s), f) for a, s, f in got], [(hex(a), hex(s), f) for a, s, f in want]))
    tl = sorted(H(m.group(1)) for m in (re.match(r"^[ *]([0-9a-f]{16}) size:", l) for l in sec) if m and H(m.group(1)) & ~0xfff == p)
    if tl != [a for a, _, _ in want]:
        fail("!pool %x: text lists %s, manifest %s" % (p, [hex(x) for x in tl], [hex(a) for a, _, _ in want]))
    if pages[p][1] != bool(js.get("corrupt")):
        fail("--json !pool %x: corrupt %s, manifest %s" % (p, js.get("corrupt"), pages[p][1]))

# inside the bad chunk header
if not bad:
    fail("no poolbad line")
t, j = part(G_bad) if G_bad else ([], [])
for c, sec, js in zip(bad.values(), t, j):
    txt = "\n".join(sec)
    if "lies in the corrupt region" not in txt or ("Bad VS chunk header @%s" % bq(c)) not in txt:
        fail("!pool %x (in the bad chunk header): not reported:\n%s" % (c + 8, txt))
    if int(js.get("bad_header", "0x0"), 16) != c or not js.get("address_in_corrupt_region"):
        fail("--json !pool %x: bad_header %s in_region %s" % (c + 8, js.get("bad_header"), js.get("address_in_corrupt_region")))

# !poolfind
t, j = part(G_find)
paged_of = lambda a: region_of(a) == "Paged pool"
for g, sec, js in zip(G_find, t, j):
    w = g.split()
    tg = w[1]
    want_paged = None if len(w) < 3 else w[2] == "1"
    small = sorted((int(x["address"], 16), x["size"]) for x in js.get("small", []))
    ws = sorted((a, s) for a, s, bt, fr, _ in blocks if bt == tg and not fr and (want_paged is None or paged_of(a) == want_paged))
    if small != ws:
        fail("--json %s: small %s, manifest %s" % (g, [(hex(a), hex(s)) for a, s in small], [(hex(a), hex(s)) for a, s in ws]))
    if want_paged is None:
        large = sorted((int(x["va"], 16), int(x["bytes"], 16)) for x in js.get("large", []))
        wl = sorted((a, s) for a, s, bt in bigs if bt == tg)
        if large != wl:
            fail("--json %s: large %s, manifest %s" % (g, large, wl))
    txt = "\n".join(sec)
    for a, s in ws:
        if ("%s : tag %s, size %#10x, %s" % (fmt(a), tg, s, "Paged pool" if paged_of(a) else "Nonpaged pool")) not in txt:
            fail("%s: text lacks block %x" % (g, a))
    m = re.search(r"^(\d+) allocations with tag %s \((\d+) large, (\d+) small\)" % re.escape(tg), txt, re.M)
    if not m or int(m.group(3)) != len(ws):
        fail("%s: summary %s, manifest %d small" % (g, m and m.group(0), len(ws)))
sys.exit(1 if fails else 0)
EOF

rm -f "$W"/failed.*

scene_check w19041 pool full normal &
scene_check w22000 pool full normal &
scene_check w19041 pool bitmap normal &
scene_check w19041 pool full patched &
wait
scene_check w19041 mm full mm &
scene_check w22000 mm full mm &
scene_check w22000 pool full hostile --hostile all &
scene_check w19041 pool full hostile --hostile cycle &
wait
fails=$((fails + $(scene_failed_count)))
[ "$fails" = 0 ] && echo "poolseg: all checks passed"
exit $((fails > 0))
