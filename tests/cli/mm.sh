#!/bin/bash
# mm.sh: the memory-manager commands (!vm, !ca addr, !ca 0, !memusage, !pte on transition,
# prototype, pagefile and outswapped-stack pages) on the "mm" scene of ntkd-genscene, on every
# layout (win7, w1809, w19041, w22000 x64; xp x86 PAE; full and bitmap dumps), in text and --json,
# against the generator's manifest (ca, capfn, pfn, pfncount, vmcounter, ptekind, outswapped
# lines), per-process pages of !memusage (procpages), !vm's Session Commit (mmsession) and its
# commit-limit warning (scene mm-commit), a mapped file's _MSUBSECTION list links on !ca
# (msubsection), the kernel lines of !memusage (driver ( name ), ( Paged
# Pool ), ( Nonpaged Pool ), ( Kernel Stacks ), ( Other kernel ): kpages). Hostile variants (--hostile cycle: a looping subsection
# chain, a prototype-PTE page naming a subsection the dump lacks, a session the dump lacks, a
# PteFrame loop) must give messages, never a crash or a hang. A manifest copy with changed
# facts must make the checks fail.
# usage: bash mm.sh NTKD_BIN GENDUMP CORPUS_DIR WORKDIR
set -u
source "$(dirname "$0")/scene_lib.sh" "$@"
scene_cli mm
checked=0

cat >"$W/check.py" <<'EOF'
import json, subprocess, sys, collections, re
import mf as mfl
ntkd, dump, symp, tag, mode = sys.argv[1:6]
chk = mfl.Check(ntkd, dump, symp, tag)
fails, fail = chk.fails, chk.fail
H = mfl.hexv

mf = mfl.load(dump)
is64 = not any(l[0] == "x86pae" for l in mf["arch"])
W = 16 if is64 else 8

def run(cmds, js):
    args = [ntkd, "-z", dump, "-y", symp]
    if js:
        args.append("--json")
    args += ["-c", "; ".join(cmds)]
    r = subprocess.run(args, capture_output=True, text=True, timeout=120)
    if r.returncode not in (0, 1):
        fail("ntkd exited %d on %s: %s" % (r.returncode, cmds, r.stderr[-400:]))
    if r.returncode < 0 or "Sanitizer" in r.stderr or "runtime error" in r.stderr:
        fail("crash on %s: %s" % (cmds, r.stderr[-600:]))
    if not js:
        return r.stdout
    out = []
    for l in r.stdout.splitlines():
        l = l.strip()
        if l.startswith("{"):
            out.append(json.loads(l))
    if len(out) != len(cmds):
        fail("expected %d JSON objects for %s, got %d" % (len(cmds), cmds, len(out)))
    return out

cas = {H(l[0]): {"kind": l[1], "name": l[2], "views": H(l[3]), "pfn_refs": H(l[4])} for l in mf["ca"]}
pfns = {H(l[0]): {"list": l[1], "share": H(l[2]), "ref": H(l[3]), "pte": H(l[4])} for l in mf["pfn"]}
capfn = [(H(l[0]), H(l[1])) for l in mf["capfn"]]
counts = {l[0]: H(l[1]) for l in mf["pfncount"]}
vmc = {l[0]: H(l[1]) for l in mf["vmcounter"]}
# per-pool usage (vmpool paged|nonpaged INDEX PAGES): JSON counters PagedPool<i>Usage /
# NonPagedPool<i>Used; WinDbg prints the nonpaged ones only when there are several pools
vmpool = {}
for l in mf["vmpool"]:
    vmpool[("PagedPool%dUsage" if l[0] == "paged" else "NonPagedPool%dUsed") % int(l[1])] = H(l[2])
ptek = [(H(l[0]), l[1], H(l[2])) for l in mf["ptekind"]]
outsw = [H(l[0]) for l in mf["outswapped"]]
hostile = collections.defaultdict(list)
for l in mf["mmhostile"]:
    hostile[l[0]].append(H(l[1]))
if len(cas) != 3 or not pfns or not ptek or not outsw or not vmc:
    fail("manifest lacks the mm facts (ca %d pfn %d ptekind %d)" % (len(cas), len(pfns), len(ptek)))
    sys.exit(1)

# ---- expected usage per control area, from the pfn lines of its pages
use = collections.defaultdict(lambda: {"valid": 0, "standby": 0, "dirty": 0})
for ca, pfn in capfn:
    lst = pfns[pfn]["list"]
    k = {"Active": "valid", "Standby": "standby", "Modified": "dirty", "ModifiedNoWrite": "dirty"}.get(lst)
    if k:
        use[ca][k] += 1

cmds = ["!vm", "!ca 0", "!memusage"] + ["!ca %x" % a for a in sorted(cas)] + ["!pte %x" % v for v, _, _ in ptek]
J = run(cmds, True)
T = run(cmds, False)
if len(J) == len(cmds):
    R = dict(zip(cmds, J))
    # ---- !vm
    vm = R["!vm"]
    for name, v in vmc.items():
        if name == "CommitFailures":
            if vm.get("commit_failures") != v:
                fail("!vm commit failures %s, manifest %d" % (vm.get("commit_failures"), v))
            continue
        c = vm.get("counters", {}).get(name)
        if c is None:
            fail("!vm: no counter %s (manifest %#x)" % (name, v))
        elif c["pages"] != v or c["kb"] != 4 * v:
            fail("!vm %s = %s, manifest %#x" % (name, c, v))
    if "CommitFailures" in vmc and ("%d commit requests have failed" % vmc["CommitFailures"]) not in T:
        fail("!vm text lacks the commit-failure line for %d" % vmc["CommitFailures"])
    if "CommittedPages" in vmc:
        v = vmc["CommittedPages"]
        if not re.search(r"Committed pages:\s+%d \(\s*%d Kb\)" % (v, 4 * v), T):
            fail("!vm text lacks 'Committed pages: %d (%d Kb)'" % (v, 4 * v))
    pf = mf["pagefile"]
    jp = vm.get("page_files", [])
    if len(pf) != len(jp):
        fail("!vm: %d page files, manifest %d" % (len(jp), len(pf)))
    for l, j in zip(pf, jp):
        name, size, free, mn, mx = l[0], H(l[1]), H(l[2]), H(l[3]), H(l[4])
        if (j.get("name"), j.get("size_pages"), j.get("free_pages"), j.get("minimum_pages"), j.get("maximum_pages")) != (name, size, free, mn, mx):
            fail("!vm page file %s, manifest %s" % (j, l))
        if ("Page File: %s" % name) not in T or not re.search(r"Current:\s+%d Kb\s+Free Space:\s+%d Kb" % (4 * size, 4 * free), T):
            fail("!vm text lacks the page file lines for %s" % name)
    # ---- !vm pool / session / commit lines (seed 003's shape and order) and warnings
    for name, v in vmpool.items():
        c = vm.get("counters", {}).get(name)
        if c is None or c.get("pages") != v or c.get("kb") != 4 * v:
            fail("!vm per-pool %s = %s, manifest %#x" % (name, c, v))
    if vmpool and "PagedPoolUsage" in vmc and \
            sum(v for k, v in vmpool.items() if k.startswith("PagedPool")) != vmc["PagedPoolUsage"]:
        fail("manifest: the paged pools do not add up to PagedPoolUsage")
    vmT = T.split("kd> !vm", 1)[1].split("kd> ", 1)[0] if "kd> !vm" in T else ""
    labels = [("NonPagedPool%dUsed" % i, "NonPagedPool %d Used:" % i) for i in range(16)] + [
        ("NonPagedPoolUsage", "NonPagedPool Usage:"), ("NonPagedPoolMax", "NonPagedPool Max:")] + [
        ("PagedPool%dUsage" % i, "PagedPool %d Usage:" % i) for i in range(17)] + [
        ("PagedPoolUsage", "PagedPool Usage:"), ("PagedPoolMaximum", "PagedPool Maximum:"),
        ("SessionCommit", "Session Commit:"), ("SharedCommit", "Shared Commit:"), ("SpecialPool", "Special Pool:"),
        ("ProcessCommit", "Shared Process:"), ("PagedPoolCommit", "PagedPool Commit:"),
        ("DriverCommit", "Driver Commit:"), ("CommittedPages", "Committed pages:"), ("CommitLimit", "Commit limit:")]
    pos = []
    allc = dict(vmc)
    allc.update(vmpool)
    for key, lab in labels:
        if key not in allc:
            continue
        v = allc[key]
        mt = re.search(r"^\t%s\s+%d \(\s*%d Kb\)$" % (re.escape(lab), v, 4 * v), vmT, re.M)
        if not mt:
            fail("!vm text lacks '%s %d (%d Kb)'" % (lab, v, 4 * v))
        else:
            pos.append((mt.start(), lab))
    if [l for _, l in pos] != [l for _, l in sorted(pos)]:
        fail("!vm lines out of WinDbg's order: %s" % [l for _, l in sorted(pos)])
    if not any(k.startswith("PagedPool0") for k in vmpool) and tag.split("-")[0] in ("win7", "w1809", "xp"):
        fail("manifest lacks the per-pool counters on a classic-pool layout")
    for key in ("SessionCommit", "PagedPoolUsage", "NonPagedPoolUsage"):
        if key not in vmc and key not in vm.get("unavailable", []):
            fail("!vm: %s neither in the manifest nor reported unavailable" % key)
        if key not in vmc and not re.search(r"not kept by this build: .*%s" % key, vmT):
            fail("!vm text does not report %s as not kept" % key)
    # warnings: nonpaged pool above 80% of its maximum (seed 003 flags 81%), commit above 90%
    ws = vm.get("warnings", [])
    if "NonPagedPoolUsage" in vmc and "NonPagedPoolMax" in vmc:
        want = vmc["NonPagedPoolUsage"] * 5 > vmc["NonPagedPoolMax"] * 4
        if not want:
            fail("the scene should trigger the nonpaged-pool warning (manifest %#x of %#x)" % (vmc["NonPagedPoolUsage"], vmc["NonPagedPoolMax"]))
        got_t = re.search(r"NonPagedPool Max:.*\n\t\*{10} Excessive NonPaged Pool Usage \*{5}$", vmT, re.M) is not None
        if got_t != want or ("ExcessiveNonPagedPoolUsage" in ws) != want:
            fail("!vm nonpaged-pool warning text %s json %s, expected %s" % (got_t, ws, want))
    elif "Excessive NonPaged" in vmT or "ExcessiveNonPagedPoolUsage" in ws:
        fail("!vm warns of nonpaged pool without both counters")
    if "CommittedPages" in vmc and "CommitLimit" in vmc:
        want = vmc["CommittedPages"] * 10 > vmc["CommitLimit"] * 9
        got_t = "near the commit limit" in vmT
        if got_t != want or ("CommitNearLimit" in ws) != want:
            fail("!vm commit-limit warning text %s json %s, expected %s" % (got_t, ws, want))
    # ---- !ca 0: the file and image control areas, found through the PFN database
    c0 = R["!ca 0"]
    found = {H(c["control_area"]): c for c in c0.get("control_areas", [])}
    for a, c in cas.items():
        if c["kind"] == "pagefile":
            if a in found:
                fail("!ca 0 lists the pagefile-backed control area %x (the PFN database does not name it)" % a)
            continue
        if a not in found:
            fail("!ca 0 misses control area %x (%s)" % (a, c["name"]))
            continue
        if found[a].get("kind") != c["kind"] or found[a].get("file_name") != c["name"]:
            fail("!ca 0 %x: %s %s, manifest %s %s" % (a, found[a].get("kind"), found[a].get("file_name"), c["kind"], c["name"]))
        label = "Image" if c["kind"] == "image" else "File"
        if not re.search(r"^%0*x \d+\s+%s: %s$" % (W, a, label, re.escape(c["name"])), T, re.M):
            fail("!ca 0 text lacks the line for %x %s" % (a, c["name"]))
    # the pool-tag search (classic-pool builds: every control area in its own tagged block)
    pool = {H(c["control_area"]): c for c in c0.get("pool_control_areas", [])}
    for l in mf["catag"]:
        a, tg = H(l[0]), l[1]
        if a not in pool or pool[a].get("tag") != tg or pool[a].get("kind") != cas.get(a, {}).get("kind"):
            fail("!ca 0 pool-tag search: %x (%s) found as %s" % (a, tg, pool.get(a)))
    if len(pool) != len(mf["catag"]):
        fail("!ca 0 pool-tag search found %d control areas, manifest %d" % (len(pool), len(mf["catag"])))
    if mf["catag"] and "Pagefile-backed section" not in T:
        fail("!ca 0 text lacks the pagefile-backed control area of the pool search")
    if not hostile and (c0.get("bad_subsections") or c0.get("unreadable_entries")):
        fail("!ca 0 reports problems on a clean scene: %s" % c0)
    # ---- !ca addr
    for a, c in cas.items():
        r = R["!ca %x" % a]
        if r.get("kind") != c["kind"] or (c["kind"] != "pagefile" and r.get("file_name") != c["name"]):
            fail("!ca %x: kind %s name %s, manifest %s %s" % (a, r.get("kind"), r.get("file_name"), c["kind"], c["name"]))
        if r.get("mapped_views") != c["views"] or r.get("pfn_refs") != c["pfn_refs"]:
            fail("!ca %x: views %s pfn refs %s, manifest %d %d" % (a, r.get("mapped_views"), r.get("pfn_refs"), c["views"], c["pfn_refs"]))
        if H(r.get("segment_info", {}).get("control_area", "0x0")) != a:
            fail("!ca %x: its segment names %s" % (a, r.get("segment_info")))
        subs = r.get("subsections", [])
        if not subs or any(H(s["control_area"]) != a for s in subs):
            fail("!ca %x: subsections %s" % (a, subs))
        if a in hostile["subsection_cycle"]:
            if "loops back" not in T:
                fail("!ca %x: text lacks the looping-chain message" % a)
            if "loops" not in r.get("subsection_error", ""):
                fail("!ca %x: no message for the looping subsection chain: %s" % (a, r.get("subsection_error")))
        elif r.get("subsection_error"):
            fail("!ca %x: %s" % (a, r.get("subsection_error")))
        if not re.search(r"^ControlArea  @ %0*x$" % (W, a), T, re.M):
            fail("!ca %x: text lacks 'ControlArea  @ %0*x'" % (a, W, a))
        want = ("%s: %s" % ("Image" if c["kind"] == "image" else "File", c["name"])) if c["kind"] != "pagefile" else "Pagefile-backed section"
        if want not in T:
            fail("!ca %x: text lacks '%s'" % (a, want))
    # ---- !ca shapes (seed 001:25-43 and 001:49-74; columns counted on the seed, an NBSP being
    # one blank): two columns, "File:" flush left, no empty lines, a mapped file's subsections
    # end with "  Flink        <addr>  Blink   <addr>"
    blocks = {}
    for b in re.split(r"^\d+: kd> ", T, flags=re.M)[1:]:
        cmd, _, body = b.partition("\n")
        blocks[cmd.strip()] = body.rstrip("\n").split("\n")
    hx, num = "[0-9a-f]{%d}" % W, "[ 0-9]{%d}" % W
    for a, c in cas.items():
        bl = [l for l in blocks.get("!ca %x" % a, []) if not l.startswith("nt: symbols from")]
        r = R["!ca %x" % a]
        if a in hostile["subsection_cycle"] or not bl:
            continue
        pats = [r"ControlArea  @ %0*x" % (W, a), r"  Segment      %s  Flink      %s" % (hx, hx),
                r"  Section Ref  %s  Pfn Ref    %s" % (num, num), r"  User Ref     %s  WaitForDel [ 0-9a-f]{%d}" % (num, W),
                r"  File Object  %s  ModWriteCount[ 0-9]{%d}" % (hx, W - 2), r"  WritableRefs %s" % num, r"  Flags \([0-9a-f]+\).*"]
        for i, pt in enumerate(pats):
            if i >= len(bl) or not re.fullmatch(pt, bl[i]):
                fail("!ca %x line %d %r is not the seed's shape %r" % (a, i + 1, bl[i] if i < len(bl) else None, pt))
        if len(bl) > 2 and int(bl[2].split()[-1]) != c["pfn_refs"]:
            fail("!ca %x: Pfn Ref %s, manifest %d" % (a, bl[2].split()[-1], c["pfn_refs"]))
        want = ("%s: %s" % ("Image" if c["kind"] == "image" else "File", c["name"])) if c["kind"] != "pagefile" else "Pagefile-backed section"
        if len(bl) < 9 or bl[7] != want or not bl[8].startswith("Segment @ "):
            fail("!ca %x: '%s' not flush left right after the Flags line, followed by 'Segment @': %s" % (a, want, bl[6:9]))
        if "" in bl:
            fail("!ca %x: empty line in the output (the seed has none): %s" % (a, bl))
        subs = r.get("subsections", [])
        si = [i for i, l in enumerate(bl) if l.startswith("Subsection ")]
        if len(si) != len(subs) or (si and not bl[si[0] - 1].startswith("  Flags (")):
            fail("!ca %x: %d subsection headers for %d subsections, or not right after the segment's Flags line" % (a, len(si), len(subs)))
        for k, i in enumerate(si[:len(subs)]):
            sb = bl[i + 1:i + 5]
            sp = [r"  ControlArea  %0*x  Starting Sector [ 0-9a-f]{8}" % (W, a), r"  Base Pte     %s  Ptes In Subsect [ 0-9a-f]{8}" % hx,
                  r"  Flags        [ 0-9a-f]{%d}  Sector Offset   [ 0-9a-f]{8}" % W]
            for j, pt in enumerate(sp):
                if j >= len(sb) or not re.fullmatch(pt, sb[j]):
                    fail("!ca %x subsection %d line %r is not the seed's shape %r" % (a, k + 1, sb[j] if j < len(sb) else None, pt))
            link = len(sb) > 3 and sb[3].startswith("  Flink")
            # the x64 tables have _MSUBSECTION.DereferenceList; the xp table has no _MSUBSECTION
            if c["kind"] == "file" and is64:
                s_ = subs[k]
                if not link or sb[3] != "  Flink        %0*x  Blink   %0*x" % (W, H(s_.get("flink", "0x0")), W, H(s_.get("blink", "0x0"))) \
                        or "flink" not in s_:
                    fail("!ca %x subsection %d: no seed-shaped Flink/Blink line matching the JSON: %s / %s" % (a, k + 1, sb[3:4], s_))
            elif link:
                fail("!ca %x (%s) subsection %d: list links printed for a non-mapped-file subsection or without _MSUBSECTION" % (a, c["kind"], k + 1))
        for key in ("blink", "mapped_views", "flush_count", "system_views"):
            if key not in r:
                fail("!ca %x: JSON lost %s" % (a, key))
        for s_ in subs:
            if not all(key in s_ for key in ("full_sectors", "unused_ptes", "protection", "sector_offset")):
                fail("!ca %x: subsection JSON lost a field: %s" % (a, s_))
    # ---- a mapped data file's _MSUBSECTIONs (manifest msubsection lines, every x64 layout):
    # each subsection's Flink/Blink (_MSUBSECTION.DereferenceList) exactly as written, in text
    # and JSON; image and pagefile-backed control areas (plain _SUBSECTIONs) print no links
    msub = collections.defaultdict(dict)
    for l in mf["msubsection"]:
        msub[H(l[0])][int(l[1], 16)] = (H(l[2]), H(l[3]), H(l[4]))
    for a, c in cas.items():
        r = R["!ca %x" % a]
        subs = r.get("subsections", [])
        bl = blocks.get("!ca %x" % a, [])
        want_links = c["kind"] == "file" and is64
        if want_links and (not subs or sorted(msub.get(a, {})) != list(range(1, len(subs) + 1))):
            fail("manifest: msubsection lines %s for the %d subsections of mapped file %x" % (sorted(msub.get(a, {})), len(subs), a))
        if not want_links and msub.get(a):
            fail("manifest: msubsection lines for %s control area %x" % (c["kind"], a))
        for idx, (addr, fl, bk) in sorted(msub.get(a, {}).items()):
            s_ = subs[idx - 1] if idx <= len(subs) else {}
            if H(s_.get("address", "0x0")) != addr or H(s_.get("flink", "0x0")) != fl or H(s_.get("blink", "0x0")) != bk:
                fail("!ca %x --json subsection %d: address/flink/blink %s %s %s, msubsection %x %x %x" %
                     (a, idx, s_.get("address"), s_.get("flink"), s_.get("blink"), addr, fl, bk))
            hdr = "Subsection %d @ %0*x" % (idx, W, addr)
            at = [i for i, l in enumerate(bl) if l == hdr]
            lk = "  Flink        %0*x  Blink   %0*x" % (W, fl, W, bk)
            if len(at) != 1 or lk not in bl[at[0] + 1:at[0] + 5]:
                fail("!ca %x: no '%s' under '%s' (msubsection): %s" % (a, lk.strip(), hdr, bl[at[0] + 1:at[0] + 5] if at else None))
        if not want_links:
            if any("flink" in s_ or "blink" in s_ for s_ in subs):
                fail("!ca %x (%s) --json: subsection list links: %s" % (a, c["kind"], subs))
            if any(l.startswith("  Flink        ") for l in bl):
                fail("!ca %x (%s): a subsection Flink/Blink line in the text" % (a, c["kind"]))
    # !ca 0: the seed's "Searching NonPaged pool (start : end)" where nt has the bounds (the
    # generator's contract, tests/gen/scene/mm.c: win7 MmNonPagedPoolStart fffffa80`04000000,
    # MiNonPagedPoolEnd fffffaff`ffffffff; xp 0x85000000, MmNonPagedPoolEnd 0xb0000000); the
    # PFN-database pass after it, behind an "ntkd:" line with its count
    c0l = blocks.get("!ca 0", [])
    bounds = {"win7": (0xfffffa8004000000, 0xfffffaffffffffff), "xp": (0x85000000, 0xb0000000)}.get(tag.split("-")[0])
    if bounds and not hostile:
        for tg in ("MmCa", "MmCi"):
            if "Searching NonPaged pool (%0*x : %0*x) for Tag: %s" % (W, bounds[0], W, bounds[1], tg) not in c0l:
                fail("!ca 0: no seed-shaped 'Searching NonPaged pool (%x : %x) for Tag: %s' line" % (bounds[0], bounds[1], tg))
    xi = [i for i, l in enumerate(c0l) if l.startswith("ntkd: extra pass")]
    wi = [i for i, l in enumerate(c0l) if re.match(r"(Searching|Scanning large pool)", l)]
    if len(xi) != 1 or (wi and wi[-1] > xi[0]):
        fail("!ca 0: the PFN-database pass is not after the WinDbg-shaped part behind one 'ntkd: extra pass' line: %s" % c0l)
    elif " names %d file and image control area" % len(c0.get("control_areas", [])) not in c0l[xi[0]]:
        fail("!ca 0: the extra-pass line does not give its count %d: %s" % (len(c0.get("control_areas", [])), c0l[xi[0]]))
    else:
        for a in found:
            hit = [i for i, l in enumerate(c0l) if l.startswith("%0*x " % (W, a))]
            if hit and hit[-1] < xi[0]:
                fail("!ca 0: the PFN pass's line for %x is not after the 'ntkd:' line" % a)
    # ---- !memusage
    mu = R["!memusage"]
    lists = mu.get("lists", {})
    for name, n in counts.items():
        got = lists.get(name)
        if got is None or (name in ("Zeroed", "Active") and got < n) or (name not in ("Zeroed", "Active") and got != n):
            fail("!memusage %s: %s, manifest %d" % (name, got, n))
    if sum(v for k, v in lists.items()) != mu.get("total"):
        fail("!memusage: lists %s do not add up to the total %s" % (lists, mu.get("total")))
    mca = {H(c["control_area"]): c for c in mu.get("control_areas", [])}
    for a, c in cas.items():
        u = use[a]
        if c["kind"] == "pagefile":
            g = mu.get("pagefile_sections", {})
        else:
            g = mca.get(a)
            if g is None:
                fail("!memusage: no line for control area %x" % a)
                continue
            if not re.search(r"^%0*x .*mapped_file\( %s \)$" % (W, a, re.escape(c["name"].split("\\")[-1])), T, re.M):
                fail("!memusage text: no mapped_file line for %x" % a)
        for k in ("valid", "standby", "dirty"):
            if g.get(k) != u[k]:
                fail("!memusage %x %s: %s, manifest %d" % (a, k, g.get(k), u[k]))
    for label, name in (("Standby", "Standby"), ("Modified", "Modified"), ("Bad", "Bad")):
        n = counts.get(name, 0)
        if not re.search(r"^\s*%s:\s+%d \(\s*%d kb\)$" % (label, n, 4 * n), T, re.M):
            fail("!memusage text lacks '%s: %d (%d kb)'" % (label, n, 4 * n))
    if hostile["pfn"] and not mu.get("bad_subsections"):
        fail("!memusage: the corrupt PFN entry %x gave no message" % hostile["pfn"][0])
    if hostile["pfn"] and "unreadable subsections" not in T:
        fail("!memusage/!ca 0 text: no note on the corrupt PFN entry")
    # ---- !memusage by process: private and page-table pages through the PteFrame chains
    procp = {H(l[0]): (l[1], H(l[2]), H(l[3])) for l in mf["procpages"]}
    if not procp:
        fail("manifest lacks procpages lines")
    jproc = {H(p["eprocess"]): p for p in mu.get("processes", [])}
    for ep, (name, npriv, ntab) in procp.items():
        p = jproc.get(ep)
        if p is None:
            fail("!memusage: no process line for %x (%s)" % (ep, name))
            continue
        if name == "System":
            npriv = 0  # System's private pages are kernel pages: on the kernel lines (kpages)
        got = (p.get("name"), p.get("private_pages"), p.get("valid"), p.get("pagetable_pages"))
        if got != (name, npriv, npriv, ntab):
            fail("!memusage process %x: name/private/valid/pagetables %s, manifest %s %d %d %d" % (ep, got, name, npriv, npriv, ntab))
        if not re.search(r"^-{8}\s+%d\s+0\s+0\s+-{5}\s+-{5}\s+%d  process \( %s \) %0*x$" % (4 * npriv, 4 * ntab, re.escape(name), W, ep), T, re.M):
            fail("!memusage text lacks 'process ( %s ) %x' with %d Kb valid, %d Kb page tables" % (name, ep, 4 * npriv, 4 * ntab))
    for ep, p in jproc.items():
        if ep not in procp and p.get("private_pages"):
            fail("!memusage gives %s private pages to %x (%s), which owns none" % (p.get("private_pages"), ep, p.get("name")))
    # ---- !memusage kernel lines: driver ( name ), ( Paged Pool ), ( Nonpaged Pool ), ( Kernel Stacks )
    kp = [(l[0], H(l[1]), l[2]) for l in mf["kpages"]]
    if not any(c.startswith("driver:") for c, _, _ in kp) or not any(c == "stacks" for c, _, _ in kp):
        fail("manifest lacks kpages lines")
    jk = mu.get("kernel", {})
    if "noregions" in hostile:
        # the pool-region globals are unset: a note naming what is missing, no pool lines
        if any(c in ("pagedpool", "nonpagedpool") for c, _, _ in kp):
            fail("manifest: pool kpages lines on a scene without pool regions")
        if "( Paged Pool )" in T or "( Nonpaged Pool )" in T or "paged_pool" in jk:
            fail("!memusage prints pool lines without pool regions")
        if not re.search(r"^note: .*(MiVisibleState is 0|MmPagedPoolStart.*missing or 0).*pool", T, re.M) or not jk.get("note"):
            fail("!memusage gives no note on the missing pool regions (%s)" % jk.get("note"))
    elif tag.split("-")[0] in ("win7", "w1809", "w19041", "w22000", "xp") and not any(c == "pagedpool" for c, _, _ in kp):
        fail("manifest lacks the pool kpages lines on a layout that keeps pool ranges")
    labels = {"pagedpool": ("paged_pool", "( Paged Pool )"), "nonpagedpool": ("nonpaged_pool", "( Nonpaged Pool )"),
              "stacks": ("kernel_stacks", "( Kernel Stacks )")}
    for cls, n, how in kp:
        if cls.startswith("driver:"):
            nm = cls[7:]
            js = [d for d in jk.get("drivers", []) if d.get("name") == nm]
            got = js[0].get("pages") if js else None
            label = "driver ( %s )" % nm
            valid = js[0].get("valid") if js else None
        else:
            key, label = labels[cls]
            got = jk.get(key, {}).get("pages")
            valid = jk.get(key, {}).get("valid")
        if got is None or (how == "exact" and got != n) or (how == "min" and got < n):
            fail("!memusage %s: %s pages, manifest %s %d" % (label, got, how, n))
            continue
        if not re.search(r"^-{8}\s+%d\s+\d+\s+\d+\s+-{6}\s+\d+\s+0  %s$" % (4 * valid, re.escape(label)), T, re.M):
            fail("!memusage text lacks the line '%s' with %d Kb valid" % (label, 4 * valid))
    if kp and "( Other kernel )" not in T:
        fail("!memusage text lacks the ( Other kernel ) line")
    if kp and any(c == "pagedpool" for c, _, _ in kp) and jk.get("note"):
        fail("!memusage: a kernel-class note where the build keeps every range: %s" % jk.get("note"))
    pa = mu.get("process_attribution", {})
    if hostile["ptecycle"]:
        if not pa.get("broken_chains") or "page-table chains end in an unreadable PFN entry or loop" not in T:
            fail("!memusage: the PteFrame loop at %x gave no note (%s)" % (hostile["ptecycle"][0], pa))
    elif pa.get("broken_chains") or not pa.get("available"):
        fail("!memusage: process attribution problems on a clean scene: %s" % pa)
    # ---- !vm Session Commit: the sum over the sessions (every layout has the field)
    sess = [(H(l[0]), int(l[1]), H(l[2])) for l in mf["mmsession"]]
    if tag.split("-")[0] in ("win7", "w1809", "w19041", "w22000", "xp"):
        if "SessionCommit" not in vmc or not sess:
            fail("manifest lacks the sessions / vmcounter SessionCommit")
        elif sum(c for _, _, c in sess) != vmc["SessionCommit"]:
            fail("manifest: the sessions' CommittedPages do not add up to SessionCommit")
    sc = vm.get("session_commit", {})
    if sess and sc.get("sessions") != len(sess):
        fail("!vm summed %s sessions, manifest %d" % (sc.get("sessions"), len(sess)))
    if hostile["session"]:
        if sc.get("unreadable_sessions") != 1 or not re.search(r"Session Commit: 1 session not readable, the first at %0*x" % (W, hostile["session"][0]), vmT):
            fail("!vm: no note on the unreadable session %x (%s)" % (hostile["session"][0], sc))
    # ---- the commit-limit warning: the mm-commit scene must trigger it
    if mode == "mm-commit" and not ("CommitNearLimit" in vm.get("warnings", []) and "near the commit limit" in vmT):
        fail("mm-commit: !vm does not warn of the commit limit (manifest %s of %s)" % (vmc.get("CommittedPages"), vmc.get("CommitLimit")))
    # ---- !pte
    first_proto = {}
    for a, p in capfn:
        first_proto.setdefault(a, p)
    for va, kind, raw in ptek:
        r = R["!pte %x" % va]
        sw = r.get("software", {})
        if r.get("result") != "invalid" or sw.get("kind") != kind:
            fail("!pte %x: result %s kind %s, manifest %s" % (va, r.get("result"), sw.get("kind"), kind))
            continue
        lv = r.get("levels", [])
        if not lv or H(lv[-1].get("value", "0x0")) != raw:
            fail("!pte %x: PTE %s, manifest %#x" % (va, lv[-1].get("value") if lv else None, raw))
        if kind == "transition":
            pfn = H(sw["pfn"])
            if pfn not in pfns:
                fail("!pte %x: transition frame %x is not a manifest pfn" % (va, pfn))
            elif sw.get("pfn_list") != pfns[pfn]["list"]:
                fail("!pte %x: frame %x on %s, manifest %s" % (va, pfn, sw.get("pfn_list"), pfns[pfn]["list"]))
            if not re.search(r"^\s+Transition: %x$" % pfn, T, re.M):
                fail("!pte %x: text lacks 'Transition: %x'" % (va, pfn))
            if sw.get("protection") == 0x1f:
                # (hostile scenes also break the process list: the thread is not findable there)
                if not hostile and H(sw.get("outswapped_thread", "0x0")) not in outsw:
                    fail("!pte %x: outswapped thread %s, manifest %s" % (va, sw.get("outswapped_thread"), outsw))
                if "Protect: 1f - Outswapped kernel stack" not in T:
                    fail("!pte: text lacks 'Protect: 1f - Outswapped kernel stack'")
        elif kind == "prototype":
            data = [a for a, c in cas.items() if c["kind"] == "file"][0]
            want = pfns[first_proto[data]]["pte"]
            if H(sw.get("proto_addr", "0x0")) != want:
                fail("!pte %x: prototype PTE %s, manifest %#x" % (va, sw.get("proto_addr"), want))
        elif kind == "pagefile":
            for l in mf["ptepagefile"]:
                if H(l[0]) == va and (sw.get("pagefile") != H(l[1]) or H(sw.get("offset", "0x0")) != H(l[2])):
                    fail("!pte %x: page file %s offset %s, manifest %s %s" % (va, sw.get("pagefile"), sw.get("offset"), l[1], l[2]))
                if H(l[0]) == va and not re.search(r"^\s+PageFile:\s+%x$" % H(l[1]), T, re.M):
                    fail("!pte %x: text lacks 'PageFile:  %x'" % (va, H(l[1])))
            if H(sw.get("offset", "0x0")) != (raw >> 32):
                fail("!pte %x: page-file offset %s, raw %#x" % (va, sw.get("offset"), raw))
            if not re.search(r"^\s+Offset: %x$" % (raw >> 32), T, re.M):
                fail("!pte %x: text lacks 'Offset: %x'" % (va, raw >> 32))
    if not any(sw_k == "transition" for _, sw_k, _ in ptek):
        fail("no transition ptekind")
print("%s: %d failures" % (tag, len(fails)))
sys.exit(1 if fails else 0)
EOF

check() { # layout kind [genscene options]
    local layout=$1 kind=$2
    shift 2
    local f
    f=$(scene_dump "$layout" "${SCENE:-mm}" "$kind" "$@") || {
        fail "scene $layout ${SCENE:-mm} $kind $*"
        return
    }
    checked=$((checked + 1))
    python3 "$W/check.py" "$NTKD" "$f" "$SYMP" "$layout-$kind$*" "${SCENE:-mm}" || fail "$layout $kind $* ${SCENE:-mm}"
}

check win7 bitmap
check win7 full
check w1809 full
check w19041 full
check w19041 bitmap
check w22000 full
check xp pae
check w19041 full --hostile cycle
check xp pae --hostile cycle
SCENE=mm-commit check w19041 full
SCENE=mm-commit check xp pae
SCENE=mm-commit check win7 bitmap

# the checks fail when a manifest fact changes: a copy of a scene's manifest with a process's
# private and page-table counts, the Session Commit sum, the committed pages (to a value above
# 90% of the commit limit: the warning it then expects is absent) and the Blink of the mapped
# file's second _MSUBSECTION altered
f=$(scene_dump w19041 mm full) && {
    ln -sf "$f" "$W/mut.dmp"
    python3 - "$f.manifest" "$W/mut.dmp.manifest" <<'EOF'
import sys
out = []
lim = None
for l in open(sys.argv[1]):
    p = l.split()
    if p and p[0] == "vmcounter" and p[1] == "CommitLimit":
        lim = int(p[2], 16)
for l in open(sys.argv[1]):
    p = l.split()
    if p and p[0] == "procpages" and p[2] == "csrss.exe":
        l = "procpages %s %s %#x %#x\n" % (p[1], p[2], int(p[3], 16) + 1, int(p[4], 16) + 1)
    elif p and p[0] == "kpages" and p[1].startswith("driver:"):
        l = "kpages %s %#x %s\n" % (p[1], int(p[2], 16) + 1, p[3])
    elif p and p[0] == "kpages" and p[1] in ("pagedpool", "nonpagedpool", "stacks"):
        l = "kpages %s %#x %s\n" % (p[1], int(p[2], 16) * 1000, p[3])
    elif p and p[0] == "vmcounter" and p[1] == "SessionCommit":
        l = "vmcounter SessionCommit %#x\n" % (int(p[2], 16) + 1)
    elif p and p[0] == "vmcounter" and p[1] == "CommittedPages":
        l = "vmcounter CommittedPages %#x\n" % (lim - 1)
    elif p and p[0] == "msubsection" and int(p[2], 16) == 2:
        l = "msubsection %s %s %s %s %#x\n" % (p[1], p[2], p[3], p[4], int(p[5], 16) + 0x10)
    out.append(l)
open(sys.argv[2], "w").writelines(out)
EOF
    mut=$(python3 "$W/check.py" "$NTKD" "$W/mut.dmp" "$SYMP" "w19041-mutated" mm 2>&1)
    for want in "process [0-9a-f]*: name/private/valid/pagetables" "process ( csrss.exe )" "!vm SessionCommit" \
        "sessions' CommittedPages do not add up" "commit-limit warning text False" \
        "!memusage driver ( ntoskrnl.exe )" "!memusage ( Paged Pool )" "!memusage ( Nonpaged Pool )" \
        "!memusage ( Kernel Stacks )" "--json subsection 2: address/flink/blink" "Blink   [0-9a-f]*' under 'Subsection 2 @"; do
        echo "$mut" | grep -qF -- "$want" || echo "$mut" | grep -q -- "$want" ||
            fail "a changed manifest fact went unnoticed: no '$want' in: $(echo "$mut" | head -5)"
    done
}

# the hostile scene without pool regions: a manifest claiming paged pool pages must fail
f=$(scene_dump w19041 mm full --hostile cycle) && {
    ln -sf "$f" "$W/mut2.dmp"
    { cat "$f.manifest"; echo "kpages pagedpool 0x3 exact"; } >"$W/mut2.dmp.manifest"
    mut=$(python3 "$W/check.py" "$NTKD" "$W/mut2.dmp" "$SYMP" "w19041-hostile-mutated" mm 2>&1)
    for want in "pool kpages lines on a scene without pool regions" "!memusage ( Paged Pool ): None pages"; do
        echo "$mut" | grep -qF "$want" ||
            fail "a changed manifest fact went unnoticed: no '$want' in: $(echo "$mut" | head -5)"
    done
}

# outside a kernel dump / bad arguments: messages, not crashes
f=$(scene_dump w19041 mm full)
out=$("$NTKD" -z "$f" -y "$SYMP" -c "!ca 1234; !ca; !vm zz" 2>&1)
echo "$out" | grep -q "usage: !ca" || fail "!ca without an address: $out"
echo "$out" | grep -qi "not in the dump\|not readable\|error" || fail "!ca 1234: $out"

# the outswapped kernel stack: !thread says it is not resident instead of walking it
for spec in "w19041 full" "win7 full" "xp pae"; do
    set -- $spec
    f=$(scene_dump "$1" mm "$2") || { fail "$1 mm not built"; continue; }
    for th in $(mf_get "$f" outswapped | awk '{print $2}'); do
        "$NTKD" -z "$f" -y "$SYMP" -c "!thread $th" 2>&1 | grep -q "^Kernel stack not resident\.$" ||
            fail "$1: !thread $th does not say its kernel stack is not resident"
        "$NTKD" -z "$f" -y "$SYMP" --json -c "!thread $th" 2>/dev/null |
            python3 -c '
import json, sys
def find(o):
    if isinstance(o, dict):
        if o.get("kernel_stack_resident") is False: return True
        return any(find(v) for v in o.values())
    if isinstance(o, list): return any(find(v) for v in o)
    return False
assert find(json.load(sys.stdin))' ||
            fail "$1: !thread $th --json lacks kernel_stack_resident false"
    done
done

echo "mm: $checked scenes checked, $fails failures"
[ "$fails" = 0 ]
