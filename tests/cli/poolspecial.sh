#!/bin/bash
# poolspecial.sh: !pool on special pool and session pool addresses (scene "pool", the lines of
# tests/gen/scene/specpool.c: specialpool / specialrange / specialguard / specialnot /
# specialseg / sessionrange / sessionpool / sessblock / sessionheap / sessionseg), in text and
# --json, on win7, w1809 (full), xp (pae) and the segment-heap builds w19041 / w22000 (there the
# session pool blocks are the session paged heap's, a _SEGMENT_HEAP decoded like the pool's:
# every sessblock through !pool and !poolfind, with sesspage / sessionheap; special pool: the
# region is told, SpecialHeaps[0] is no segment heap and is reported so); hostile variants (a
# special-pool header with an absurd size, a session pool page missing from the dump) give
# messages, never a crash. On win7 and w19041 the checker also runs against mutated manifests
# (one fact changed each) and must fail every time: the assertions can fail.
# usage: bash poolspecial.sh NTKD_BIN GENDUMP CORPUS_DIR WORKDIR
set -u
source "$(dirname "$0")/scene_lib.sh" "$@"
scene_cli poolspecial

cat >"$W/check.py" <<'EOF'
import copy, re, sys
ntkd, dump, symp, tag, mode = sys.argv[1:6]

import mf as mfl
chk = mfl.Check(ntkd, dump, symp, tag)
crash = chk.fails  # hangs, crashes, sanitizer reports and bad JSON (printed as they happen)
H = lambda v: int(v, 16)
X = lambda v: int(v, 16) if isinstance(v, str) else v  # a JSON "0x..." field
cache = {}

def run(cmds, js):
    """The output of one ntkd run on the dump in `dump` now (the patched mode swaps in a copy):
    its JSON objects, or its text split at the prompts (cached)."""
    key = (dump, tuple(cmds), js)
    if key not in cache:
        chk.dump = dump
        p = chk.run(cmds, js)
        cache[key] = mfl.jobjs(p, chk.fail) if js else mfl.sections(p)
    return cache[key]

def check(mf):
    fails = []
    fail = fails.append
    is64 = not any(l and l[0] == "x86pae" for l in mf["arch"])
    fmt = lambda v: ("%016x" if is64 else "%08x") % v
    F = " 80000000"  # no owner search (fast); the tag line is pool.sh's business
    C = []           # (command, checker(text_lines, json))
    for sp in mf["specialpool"]:
        data, size, tg, paged, page, free = H(sp[0]), H(sp[1]), sp[2], sp[3] == "1", H(sp[4]), sp[5] == "1"
        a = data + 4
        def ck(sec, j, data=data, size=size, tg=tg, paged=paged, page=page, free=free, a=a):
            state = ("Free, " if free else "") + ("Paged" if paged else "NonPaged")
            want0 = "Pool page %s region is Special pool" % fmt(a)
            want1 = "*%s size: %4x data: %s (%s) *%s" % (fmt(page), size, fmt(data), state, tg)
            if sec[:2] != [want0, want1]:
                fail("!pool %x: %s, expected %s" % (a, sec[:3], [want0, want1]))
            if free and not any(("data was at %s" % fmt(data)) in l and ("%d bytes requested" % size) in l for l in sec):
                fail("!pool %x: freed page not reported with its data and size: %s" % (a, sec))
            s = j.get("special_pool", {})
            got = (j.get("region"), X(s.get("header")), X(s.get("data")), s.get("size"), s.get("paged"), s.get("tag"), s.get("free"))
            exp = ("Special pool", page, data, size, paged, tg, free)
            if got != exp:
                fail("--json !pool %x: %s, expected %s" % (a, got, exp))
        C.append(("!pool %x%s" % (a, F), ck))
    for ov in mf["specialoverrun"]:
        pg, first, nb = H(ov[0]), H(ov[1]), H(ov[2])
        def ck(sec, j, pg=pg, first=first, nb=nb):
            t = "\n".join(sec)
            want = "%d bytes differ, the first at %s (after the data: an overrun)" % (nb, fmt(first))
            s = j.get("special_pool", {})
            if want not in t or s.get("pattern_bad_bytes") != nb or X(s.get("first_bad_byte")) != first:
                fail("!pool on the overrun page %x: no '%s' in %s / %s" % (pg, want, t, s))
        C.append(("!pool %x%s" % (pg + 0x10, F), ck))
    seg = bool(mf["sesspage"])  # segment-heap build: the session blocks are the session heap's
    for t_ in sorted(set(b[2] for b in mf["sessblock"] if b[3] == "0")):
        def ck(sec, j, t_=t_):
            got = sorted(X(x["address"]) for x in j.get("small", []))
            exp = sorted(H(b[0]) for b in mf["sessblock"] if b[2] == t_ and b[3] == "0")
            if not set(exp) <= set(got):
                fail("--json !poolfind %s: small %s lacks the session blocks %s" % (t_, [hex(x) for x in got], [hex(x) for x in exp]))
            if seg:
                # every block of the session heap listed with its size and region, text and JSON
                t = "\n".join(sec)
                sj = {X(x["address"]): x for x in j.get("small", []) if x.get("region") == "Paged session pool"}
                ws = {H(b[0]): H(b[1]) for b in mf["sessblock"] if b[2] == t_ and b[3] == "0"}
                if {a: x.get("size") for a, x in sj.items()} != ws:
                    fail("--json !poolfind %s: session heap blocks %s, manifest %s" % (
                        t_, sorted((hex(a), x.get("size")) for a, x in sj.items()), sorted((hex(a), s) for a, s in ws.items())))
                for a, s in ws.items():
                    if ("%s : tag %s, size %#10x, Paged session pool" % (fmt(a), t_, s)) not in t:
                        fail("!poolfind %s: text lacks the session block %x (size %#x)" % (t_, a, s))
        C.append(("!poolfind %s" % t_, ck))
    for g in mf["specialguard"]:
        def ck(sec, j, g=H(g[0])):
            t = "\n".join(sec)
            if "region is Special pool" not in t or "not in the dump" not in t:
                fail("!pool guard %x: %s" % (g, t))
            if j.get("region") != "Special pool" or j.get("special_pool", {}).get("present") is not False:
                fail("--json !pool guard %x: %s" % (g, j))
        C.append(("!pool %x%s" % (H(g[0]), F), ck))
    ends = []
    for r in mf["specialrange"]:
        s, e = H(r[0]), H(r[1])
        ends.append(e)
        for a in (s + 0x10, e - 0x10):
            def ck(sec, j, a=a):
                if not sec or sec[0] != "Pool page %s region is Special pool" % fmt(a) or j.get("region") != "Special pool":
                    fail("!pool %x (special range %s): %s / %s" % (a, r, sec[:2], j.get("region")))
            C.append(("!pool %x%s" % (a, F), ck))
    nots = [H(n[0]) for n in mf["specialnot"]] + ([max(ends) + 0x10] if ends else [])
    for a in nots:
        def ck(sec, j, a=a):
            if "Special pool" in "\n".join(sec) or j.get("region") == "Special pool":
                fail("!pool %x (not special pool) says Special pool: %s" % (a, sec[:2]))
        C.append(("!pool %x%s" % (a, F), ck))
    sess = {l[0]: l for l in mf["sessionrange"]}
    for r in mf["sessionrange"]:
        s, e = H(r[1]), H(r[2])
        for a, inside in ((s, True), (e, True), (e + 1, False)):
            def ck(sec, j, a=a, inside=inside):
                said = bool(sec) and sec[0] == "Pool page %s region is Paged session pool" % fmt(a)
                if said != inside or (j.get("region") == "Paged session pool") != inside:
                    fail("!pool %x (session range %s..%s, inside=%s): %s / %s" % (a, r[1], r[2], inside, sec[:2], j.get("region")))
            C.append(("!pool %x%s" % (a, F), ck))
    sheap = {l[0]: H(l[1]) for l in mf["sessionheap"]}
    spage = {H(p[0]): p[1] for p in mf["sessionpool"]}
    spage.update({H(p[0]): p[1] for p in mf["sesspage"]})
    for b in mf["sessblock"]:
        addr, size, tg, free = H(b[0]), H(b[1]), b[2], b[3] == "1"
        a = addr + 8
        def ck(sec, j, addr=addr, size=size, tg=tg, free=free, a=a):
            sid = sess.get(spage.get(addr & ~0xfff, ""))
            if not sec or sec[0] != "Pool page %s region is Paged session pool" % fmt(a):
                fail("!pool %x (session block): first line %s" % (a, sec[:1]))
            st = "(Free)     " if free else "(Allocated)"
            want = "*%s size: %4x previous size:" % (fmt(addr), size)
            line = [l for l in sec if l.startswith(want)]
            etag = "" if tg == "-" else tg  # a free chunk of the session heap has no pool header
            if not line or st not in line[0] or not line[0].rstrip().endswith("*" + etag):
                fail("!pool %x: no line '%s ... %s *%s' in %s" % (a, want, st, etag, sec))
            if seg:
                # the session heap's page: exactly the manifest's blocks whose header is in it
                pg = addr & ~0xfff
                got = sorted((X(x["address"]), x["size"], x["free"]) for x in j.get("blocks", []) if X(x["address"]) & ~0xfff == pg)
                exp = sorted((H(x[0]), H(x[1]), x[3] == "1") for x in mf["sessblock"] if H(x[0]) & ~0xfff == pg)
                if got != exp or j.get("heap_source") != "session" or X(j.get("heap")) != sheap.get(sid[0] if sid else ""):
                    fail("--json !pool %x (session heap): blocks %s heap %s %s, manifest %s heap %s" % (
                        a, got, j.get("heap_source"), j.get("heap"), exp, sheap.get(sid[0] if sid else "")))
            hit = [x for x in j.get("blocks", []) if x.get("holds_address")]
            se = j.get("session", {})
            if (not sid or j.get("region") != "Paged session pool" or len(hit) != 1 or
                    int(hit[0]["address"], 16) != addr or hit[0]["size"] != size or
                    hit[0]["free"] != free or X(se.get("session_space")) != H(sid[0]) or
                    hit[0]["tag"] != etag or
                    se.get("session_id") != H(sid[3])):
                fail("--json !pool %x (session block): region %s block %s session %s, manifest %s" % (a, j.get("region"), hit, se, (b, sid)))
        C.append(("!pool %x%s" % (a, F), ck))
    for s in mf["specialseg"]:
        va, heap = H(s[0]), H(s[1])
        def ck(sec, j, va=va, heap=heap):
            t = "\n".join(sec)
            if "region is Special pool" not in t or ("SpecialHeaps: %s" % fmt(heap)) not in t and heap:
                fail("!pool %x (segment-heap special pool): %s" % (va, t))
            sp = j.get("special_pool", {})
            if not sp.get("segment_heap") or heap not in [X(x.get("heap")) for x in sp.get("special_heaps", [])]:
                fail("--json !pool %x (segment-heap special pool): %s" % (va, sp))
        C.append(("!pool %x" % (va + 8), ck))
    for s in mf["sessionseg"]:
        va = H(s[0])
        def ck(sec, j, va=va):
            t = "\n".join(sec)
            ph = list(sheap.values())[0] if sheap else None
            if not sec or sec[0] != "Pool page %s region is Paged session pool" % fmt(va + 8) or \
                    (ph is not None and ("PagedHeap %s" % fmt(ph)) not in t):
                fail("!pool %x (segment-heap session pool): %s" % (va, t))
            if j.get("region") != "Paged session pool" or (ph is not None and X(j.get("session", {}).get("paged_heap")) != ph):
                fail("--json !pool %x (segment-heap session pool): %s" % (va, j))
            # the page is in no segment of the session heap: told, no block listed
            if ph is not None and ("is in no segment" not in t or j.get("blocks") or "error" not in j):
                fail("!pool %x (session pool page outside the session heap's segment): %s / %s" % (va, t, j))
        C.append(("!pool %x" % (va + 8), ck))
    for h in mf["hostile"]:
        if h[0] == "specialpool_badsize":
            def ck(sec, j, pg=H(h[1])):
                t = "\n".join(sec)
                if "region is Special pool" not in t or "0x7ff8 is larger than a page can hold" not in t or \
                        not j.get("special_pool", {}).get("bad_header"):
                    fail("hostile special-pool header %x: %s / %s" % (pg, t, j.get("special_pool")))
            C.append(("!pool %x" % (H(h[1]) + 0xf80), ck))
        if h[0] == "sessionpool_missing":
            def ck(sec, j, pg=H(h[1])):
                t = "\n".join(sec)
                if "region is Paged session pool" not in t or "not in the dump" not in t or "error" not in j:
                    fail("hostile missing session page %x: %s / %s" % (pg, t, j))
            C.append(("!pool %x" % (H(h[1]) + 0x10), ck))
    if not C:
        fail("no special/session pool lines in the manifest")
    cmds = [c for c, _ in C]
    T, J = run(cmds, False), run(cmds, True)
    if len(T) < len(cmds) or len(J) != len(cmds):
        fail("%d commands: %d text outputs, %d JSON objects" % (len(cmds), len(T), len(J)))
    for (c, ck), sec, j in zip(C, T, J):
        ck(sec, j)
    return fails

mf = mfl.load(dump)
is64_ = not any(l and l[0] == "x86pae" for l in mf["arch"])  # (used in a mutation lambda)
if mode == "patched":
    # segment-heap builds: a session heap chunk header overwritten (16 bytes of 0x41) in a copy
    # of the dump: !pool names the bad header under the session region and resumes at the next
    # chunk; the blocks after it stay listed
    import os
    sb = [(H(b[0]), H(b[1]), b[2]) for b in mf["sessblock"]]
    fails = []
    if len(sb) < 3 or not mf["sesspage"]:
        fails.append("no session heap blocks (sessblock / sesspage) in the manifest")
    else:
        a, s = sb[1][0], sb[1][1]
        chunk = a - 0x10
        out = run(["db %x L10" % chunk], False)
        m = re.match(r"^[0-9a-f`]+  ((?:[0-9a-f]{2}[ -]){15}[0-9a-f]{2})", out[0][0] if out and out[0] else "")
        data = bytearray(open(dump, "rb").read())
        hb = bytes.fromhex(m.group(1).replace("-", " ").replace(" ", "")) if m else b""
        at = data.find(hb) if hb else -1
        if at < 0 or data.find(hb, at + 1) >= 0:
            fails.append("the chunk header bytes of %x are not unique in the dump" % chunk)
        else:
            data[at:at + 16] = b"\x41" * 16
            pd = "%s.patched.%d.dmp" % (dump, os.getpid())
            open(pd, "wb").write(data)
            dump = pd
            try:
                cmds = ["!pool %x 80000000" % (chunk + 8), "!pool %x 80000000" % (sb[-1][0] + 8)]
                T, J = run(cmds, False), run(cmds, True)
            finally:
                os.unlink(pd)
            bq = lambda v: "%08x`%08x" % (v >> 32, v & 0xffffffff)
            for sec, j in zip(T, J):
                t = "\n".join(sec)
                if not sec or not sec[0].endswith("region is Paged session pool") or \
                        ("Bad VS chunk header @%s" % bq(chunk)) not in t or X(j.get("bad_header", "0x0")) != chunk or \
                        X(j.get("resync_at", "0x0")) != a + s or j.get("region") != "Paged session pool":
                    fails.append("patched session chunk %x: not reported under the session region:\n%s\n%s" % (chunk, t, j))
            if "lies in the corrupt region" not in "\n".join(T[0] if T else []):
                fails.append("patched: !pool %x is not said to be in the corrupt region" % (chunk + 8))
            star = [x for x in (J[1] if len(J) > 1 else {}).get("blocks", []) if x.get("holds_address")]
            if len(star) != 1 or X(star[0]["address"]) != sb[-1][0] or star[0]["tag"] != sb[-1][2]:
                fails.append("patched: the last session block %x is not found after the resync: %s" % (sb[-1][0], star))
    for f in fails:
        print("FAIL: %s: %s" % (tag, f))
    sys.exit(1 if fails or crash else 0)
fails = check(mf)
for f in fails:
    print("FAIL: %s: %s" % (tag, f))
if mode == "mutate" and not fails and not crash:
    # every assertion must be able to fail: change one fact at a time
    muts = []
    def mut(kind, i, col, fn, what):
        m = copy.deepcopy(mf)
        if len(m[kind]) > i:
            m[kind][i][col] = fn(m[kind][i][col])
            muts.append((what, m))
    flip = lambda v: "0" if v == "1" else "1"
    for i in range(len(mf["specialpool"])):
        mut("specialpool", i, 1, lambda v: hex(H(v) + 8), "specialpool %d size" % i)
        mut("specialpool", i, 2, lambda v: "Xxxx", "specialpool %d tag" % i)
        mut("specialpool", i, 3, flip, "specialpool %d paged" % i)
        mut("specialpool", i, 5, flip, "specialpool %d free" % i)
    mut("specialpool", 0, 4, lambda v: hex(H(v) + 0x1000), "specialpool 0 page")
    mut("specialpool", 0, 0, lambda v: hex(H(v) + 0x10), "specialpool 0 data")
    mut("specialoverrun", 0, 1, lambda v: hex(H(v) + 1), "specialoverrun first")
    mut("specialoverrun", 0, 2, lambda v: hex(H(v) + 1), "specialoverrun count")
    mut("sessblock", 0, 0, lambda v: hex(H(v) + 0x2000), "sessblock 0 address (poolfind)")
    mut("specialguard", 0, 0, lambda v: hex(H(v) - 0x1000), "specialguard")
    if mf["specialpool"]:
        mut("specialnot", 0, 0, lambda v: hex(H(mf["specialpool"][0][0])), "specialnot")
    mut("specialrange", 0, 0, lambda v: hex(H(v) - 0x80000000000 if is64_ else H(v) - 0x1000000), "specialrange start")
    for i in range(len(mf["sessblock"])):
        mut("sessblock", i, 1, lambda v: hex(H(v) + 0x10), "sessblock %d size" % i)
        mut("sessblock", i, 2, lambda v: "Yyyy", "sessblock %d tag" % i)
        mut("sessblock", i, 3, flip, "sessblock %d free" % i)
    mut("sessionrange", 0, 3, lambda v: hex(H(v) + 1), "sessionrange id")
    mut("sessionrange", 0, 2, lambda v: hex(H(v) + 0x10000), "sessionrange end")
    mut("sessionrange", 0, 0, lambda v: hex(H(v) + 0x1000), "sessionrange session")
    mut("sesspage", 0, 1, lambda v: hex(H(v) + 0x1000), "sesspage session")
    mut("sessionheap", 0, 1, lambda v: hex(H(v) + 0x1000), "sessionheap heap")
    mut("specialseg", 0, 1, lambda v: hex(H(v) + 0x1000), "specialseg heap")
    undetected = [w for w, m in muts if not check(m)]
    print("%s: %d mutated manifests, %d undetected" % (tag, len(muts), len(undetected)))
    for w in undetected:
        print("FAIL: %s: changing %s went unnoticed" % (tag, w))
    fails += undetected
sys.exit(1 if fails or crash else 0)
EOF

rm -f "$W"/failed.*
scene_check win7 pool full mutate &
scene_check w1809 pool full normal &
scene_check xp pool pae normal &
scene_check w19041 pool full mutate &
scene_check w22000 pool full normal &
wait
scene_check win7 pool full hostile --hostile cycle &
scene_check xp pool pae hostile --hostile missing &
scene_check w22000 pool full hostile --hostile all &
scene_check w19041 pool full patched &
scene_check w1809 pool full hostile --hostile all &
wait
fails=$((fails + $(scene_failed_count)))
[ "$fails" = 0 ] && echo "poolspecial: all checks passed"
exit $((fails > 0))
