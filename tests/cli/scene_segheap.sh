#!/bin/bash
# scene_segheap.sh: the segment-heap pool ntkd-genscene writes on the 19H1+ layouts (w19041,
# w22000; contract /work/notes/SEGHEAP.md), checked by decoding the DUMP FILE itself in Python:
# the full64 dump's run list and page tables translate the addresses, the kernel table (the ISF,
# read here independently of the generator and of ntkd) gives every offset, and the encodings
# are the published ones (Yason, Black Hat USA 2016; Bayet & Fariello, SSTIC 2020):
#   segment signature = S ^ context ^ HeapKey ^ 0xA2E64EADA2E64EAD, heap signature 0xDDEEDDEE,
#   VS chunk header = decoded ^ chunk ^ HeapKey, VS subsegment signature = Size ^ 0x2BED,
#   LFH offsets = (BlockSize | FirstBlockOffset << 16) ^ (u32)LfhKey ^ ((u32)range >> 12).
# Every manifest line of the kinds heapkey segheap hpseg subseg poolblock poolpage poolbad catag
# and the hostile segheap lines is checked against what the dump holds, and the walk of the
# dump's structures must find exactly the listed subsegments and blocks. The session paged heap
# (pool scene: sessionheap <session> <heap>, read back through _MM_SESSION_SPACE.HeapState ->
# _EX_HEAP_SESSION_STATE.PagedHeap) is walked the same way: signature, contexts, its segment
# inside [PagedPoolStart, PagedPoolEnd], descriptors, chunks; its blocks must be exactly the
# sessblock lines (PoolType PagedPoolSession + 1) and their pages the sesspage lines. The checker also runs
# on a copy of a manifest with one fact changed (each of several) and must fail on each.
# usage: scene_segheap.sh NTKD GENDUMP CORPUS WORKDIR
set -u
source "$(dirname "$0")/scene_lib.sh" "$@"
T=$(mktemp -d "$WORKDIR/scene_segheap.XXXXXX")
trap '[ -n "${KEEP_T:-}" ] || rm -rf "$T"' EXIT
fails=0
fail() { echo "FAIL: $*"; fails=$((fails + 1)); }
command -v python3 >/dev/null || { echo "FAIL: no python3"; exit 1; }
[ -x "$GENSCENE" ] || { echo "FAIL: no generator at $GENSCENE"; exit 1; }

COMBOS=("w19041 pool full" "w22000 pool full" "w19041 mm full" "w22000 mm full"
    "w19041 pool full --hostile all" "w22000 pool full --hostile cycle")
scene_build_list "$T"

cat >"$T/check.py" <<'EOF'
import json, lzma, mmap, struct, sys

SEG_SIG = 0xA2E64EADA2E64EAD
HEAP_SIG = 0xDDEEDDEE
VS_SIG = 0x2BED
M64 = (1 << 64) - 1

class Lay:
    def __init__(self, path):
        op = lzma.open if path.endswith(".xz") else open
        with op(path, "rt") as f:
            d = json.load(f)
        self.u, self.b, self.syms = d["user_types"], d["base_types"], d["symbols"]

    def size(self, t):
        return self.u[t]["size"]

    def tsize(self, t):
        k = t["kind"]
        if k == "base":
            return self.b[t["name"]]["size"]
        if k == "pointer":
            return 8
        if k in ("struct", "union"):
            return self.u[t["name"]]["size"]
        if k == "array":
            return t["count"] * self.tsize(t["subtype"])
        if k == "bitfield":
            return self.tsize(t["type"])
        if k == "enum":
            return 4
        raise KeyError(k)

    def f(self, typ, path):
        """(offset, size, bitpos, bitlen) of a dotted field path"""
        off, cur, t = 0, typ, None
        for p in path.split("."):
            fl = self.u[cur]["fields"][p]
            off += fl["offset"]
            t = fl["type"]
            if t["kind"] in ("struct", "union"):
                cur = t["name"]
        if t["kind"] == "bitfield":
            return off, self.tsize(t["type"]), t["bit_position"], t["bit_length"]
        return off, self.tsize(t), 0, 0

    def off(self, typ, path):
        return self.f(typ, path)[0]

    def rva(self, name):
        return self.syms[name]["address"]

class Dump:
    def __init__(self, path):
        self.fh = open(path, "rb")
        self.m = mmap.mmap(self.fh.fileno(), 0, access=mmap.ACCESS_READ)
        m = self.m
        if m[0:8] != b"PAGEDU64":
            raise SystemExit("%s: not a 64-bit dump" % path)
        if struct.unpack_from("<I", m, 0xf98)[0] != 1:
            raise SystemExit("%s: not a full dump" % path)
        self.dtb = struct.unpack_from("<Q", m, 0x10)[0]
        nruns = struct.unpack_from("<I", m, 0x88)[0]
        self.runs, fo = [], 0x2000
        for r in range(nruns):
            base, cnt = struct.unpack_from("<QQ", m, 0x98 + 16 * r)
            self.runs.append((base, cnt, fo))
            fo += cnt * 0x1000

    def phys(self, pa, n):
        pfn = pa >> 12
        for base, cnt, fo in self.runs:
            if base <= pfn < base + cnt:
                o = fo + (pfn - base) * 0x1000 + (pa & 0xfff)
                if (pa & 0xfff) + n > 0x1000 or o + n > len(self.m):
                    return None
                return self.m[o:o + n]
        return None

    def v2p(self, va):
        t = self.dtb & ~0xfff
        for lvl, sh in enumerate((39, 30, 21, 12)):
            e = self.phys(t + ((va >> sh) & 0x1ff) * 8, 8)
            if e is None:
                return None
            e = struct.unpack("<Q", e)[0]
            if not e & 1:
                return None
            if lvl in (1, 2) and e & 0x80:
                return (e & 0x000fffffffffe000 & ~((1 << sh) - 1)) | (va & ((1 << sh) - 1))
            t = e & 0x000ffffffffff000
        return t | (va & 0xfff)

    def present(self, va):
        p = self.v2p(va)
        return p is not None and self.phys(p & ~0xfff, 1) is not None

    def read(self, va, n):
        out = b""
        while n:
            k = min(n, 0x1000 - (va & 0xfff))
            p = self.v2p(va)
            d = None if p is None else self.phys(p, k)
            if d is None:
                raise LookupError("%#x not in the dump" % va)
            out += d
            va += k
            n -= k
        return out

    def u(self, va, n):
        return int.from_bytes(self.read(va, n), "little")

def num(s):
    return int(s, 16) if s.startswith("0x") else int(s, 0)

def check(dump_path, table, combo, manifest):
    bad = []
    def F(msg):
        bad.append(msg)
    L = Lay(table)
    D = Dump(dump_path)
    lines = [l.split() for l in open(manifest) if l.strip() and not l.startswith("#")]
    by = {}
    for l in lines:
        by.setdefault(l[0], []).append(l)
    hostile = "--hostile" in combo
    scene = combo.split()[1]

    def rf(typ, base, field):
        o, sz, bp, bl = L.f(typ, field)
        v = D.u(base + o, sz)
        return (v >> bp) & ((1 << bl) - 1) if bl else v

    kb = num([l for l in by["header"] if l[1] == "KernBase"][0][2])
    # ---- globals
    g = kb + L.rva("RtlpHpHeapGlobals")
    hk, lk = rf("_RTLP_HP_HEAP_GLOBALS", g, "HeapKey"), rf("_RTLP_HP_HEAP_GLOBALS", g, "LfhKey")
    if len(by.get("heapkey", [])) != 1:
        return ["want one heapkey line, have %d" % len(by.get("heapkey", []))]
    if (hk, lk) != (num(by["heapkey"][0][1]), num(by["heapkey"][0][2])) or not hk or not lk:
        F("heapkey: the dump holds %#x %#x" % (hk, lk))
    if D.u(kb + L.rva("KeNumberNodes"), 2) != 1:
        F("KeNumberNodes is not 1")
    ps = kb + L.rva("ExPoolState")
    node0 = ps + L.off("_EX_POOL_HEAP_MANAGER_STATE", "PoolNode")
    hoff = L.off("_EX_HEAP_POOL_NODE", "Heaps")
    heaps = {}
    for idx in range(4):
        h = D.u(node0 + hoff + 8 * idx, 8)
        if idx == 3:
            if h:
                F("PoolNode[0].Heaps[3] is %#x, not NULL" % h)
        elif h:
            heaps[h] = idx
    listed = {num(l[1]): (num(l[2]), num(l[3])) for l in by.get("segheap", [])}
    if listed != {h: (0, i) for h, i in heaps.items()} or len(heaps) != 3:
        F("segheap lines %s, ExPoolState says %s" % (listed, heaps))
    # the session paged heap: _MM_SESSION_SPACE.HeapState -> _EX_HEAP_SESSION_STATE.PagedHeap
    sess_of = {}      # session heap -> (session, PagedPoolStart, PagedPoolEnd)
    for l in by.get("sessionheap", []):
        S, ph = num(l[1]), num(l[2])
        hs = rf("_MM_SESSION_SPACE", S, "HeapState")
        got = rf("_EX_HEAP_SESSION_STATE", hs, "PagedHeap") if hs else 0
        if got != ph:
            F("sessionheap %#x %#x: the dump's HeapState %#x -> PagedHeap is %#x" % (S, ph, hs, got))
            continue
        sess_of[ph] = (S, rf("_MM_SESSION_SPACE", S, "PagedPoolStart"), rf("_MM_SESSION_SPACE", S, "PagedPoolEnd"))
        heaps[ph] = "session"
    if scene == "pool" and not sess_of and by.get("sessblock"):
        F("sessblock lines without a sessionheap line")
    ctxsz = L.size("_HEAP_SEG_CONTEXT")
    ctxoff = L.off("_SEGMENT_HEAP", "SegContexts")
    lhead = L.off("_HEAP_SEG_CONTEXT", "SegmentListHead")
    le_off = L.off("_HEAP_PAGE_SEGMENT", "ListEntry")
    segs = {}   # segment -> (heap, ctx address)
    cyc = {num(l[2]) for l in by.get("hostile", []) if l[1] == "segheap_cycle"}
    for h, idx in heaps.items():
        if rf("_SEGMENT_HEAP", h, "Signature") != HEAP_SIG:
            F("heap %#x: Signature %#x" % (h, rf("_SEGMENT_HEAP", h, "Signature")))
        for c, (mask, us, ppu, fdi) in enumerate(((0xFFFFFFFFFFF00000, 12, 0, 2), (0xFFFFFFFFFF000000, 16, 4, 1))):
            C = h + ctxoff + c * ctxsz
            got = tuple(rf("_HEAP_SEG_CONTEXT", C, x) for x in
                        ("SegmentMask", "UnitShift", "PagesPerUnitShift", "FirstDescriptorIndex", "Heap"))
            if got != (mask, us, ppu, fdi, h):
                F("heap %#x context %d: %s" % (h, c, [hex(x) for x in got]))
            head = C + lhead
            e, seen = D.u(head, 8), []
            while e != head and len(seen) < 16:
                if e in seen:
                    break
                seen.append(e)
                e = D.u(e, 8)
            if e != head:
                if not (hostile and seen and seen[-1] - le_off in cyc):
                    F("heap %#x context %d: segment list does not return to its head" % (h, c))
            want = sorted(num(l[1]) for l in by.get("hpseg", []) if num(l[2]) == h and num(l[3]) == c)
            found = sorted(x - le_off for x in seen)
            if found != want:
                F("heap %#x context %d: segments in the dump %s, hpseg lines %s" %
                  (h, c, [hex(x) for x in found], [hex(x) for x in want]))
            if rf("_HEAP_SEG_CONTEXT", C, "SegmentCount") != len(want):
                F("heap %#x context %d: SegmentCount %d, %d listed" % (h, c, rf("_HEAP_SEG_CONTEXT", C, "SegmentCount"), len(want)))
            for s in found:
                segs[s] = (h, C)
                if s & 0xFFFFF:
                    F("segment %#x not aligned on 1 MiB" % s)
                if h in sess_of and not (sess_of[h][1] <= s and s + 0xFFFFF <= sess_of[h][2]):
                    F("session heap %#x: segment %#x is outside its session's paged pool %#x..%#x" %
                      (h, s, sess_of[h][1], sess_of[h][2]))
                sig = rf("_HEAP_PAGE_SEGMENT", s, "Signature")
                if sig != s ^ C ^ hk ^ SEG_SIG:
                    F("segment %#x: Signature %#x does not decode to its context %#x" % (s, sig, C))
    for l in by.get("hostile", []):
        if l[1] == "segheap_cycle":
            s = num(l[2])
            if D.u(s + le_off, 8) != s + le_off:
                F("hostile segheap_cycle %#x: its Flink is not itself" % s)
    if not hostile and cyc:
        F("segheap_cycle without --hostile")

    # ---- descriptors, subsegments
    dsz = L.size("_HEAP_PAGE_RANGE_DESCRIPTOR")
    dao = L.off("_HEAP_PAGE_SEGMENT", "DescArray")
    subs = {num(l[1]): (l[2], num(l[3]), num(l[4])) for l in by.get("subseg", [])}
    ranges = {}
    for s in segs:
        k = 2
        while k < 256:
            d = s + dao + k * dsz
            fl = rf("_HEAP_PAGE_RANGE_DESCRIPTOR", d, "RangeFlags")
            if fl == 0:
                k += 1
                continue
            if fl & 3 != 3:
                F("segment %#x unit %d: RangeFlags %#x, not the first unit of an allocated range" % (s, k, fl))
                k += 1
                continue
            n = rf("_HEAP_PAGE_RANGE_DESCRIPTOR", d, "UnitSize")
            if n == 0 or k + n > 256:
                F("segment %#x unit %d: UnitSize %d" % (s, k, n))
                break
            if rf("_HEAP_PAGE_RANGE_DESCRIPTOR", d, "CommittedPageCount") != n:
                F("segment %#x unit %d: CommittedPageCount" % (s, k))
            for j in range(1, n):
                dj = d + j * dsz
                fj = rf("_HEAP_PAGE_RANGE_DESCRIPTOR", dj, "RangeFlags")
                if fj != (fl & ~2) or rf("_HEAP_PAGE_RANGE_DESCRIPTOR", dj, "UnitOffset") != j:
                    F("segment %#x unit %d: descriptor %d of the range (flags %#x)" % (s, k, j, fj))
            R = s + (k << 12)
            kind = {0x08: "lfh", 0x0C: "vs"}.get(fl & 0x0C, "large")
            ranges[R] = (kind, s, n << 12)
            for j in range(n):
                if not D.present(R + j * 0x1000):
                    F("range %#x: page %d not in the dump" % (R, j))
            k += n
    if ranges != subs:
        F("subsegments the descriptors give %s != subseg lines %s" % (
            sorted((hex(r), v[0], hex(v[2])) for r, v in ranges.items()),
            sorted((hex(r), v[0], hex(v[2])) for r, v in subs.items())))
    for R, (kind, s, nb) in subs.items():
        if s not in segs:
            F("subseg %#x: segment %#x is on no heap's list" % (R, s))

    # ---- walk the subsegments
    hs = L.size("_POOL_HEADER")
    chs = L.size("_HEAP_VS_CHUNK_HEADER")
    hb = L.off("_HEAP_VS_CHUNK_HEADER", "Sizes.HeaderBits")
    def bp(field):
        o, _, b, _l = L.f("_HEAP_VS_CHUNK_HEADER_SIZE", field)
        return o * 8 + b
    p_size, p_prev, p_alloc = bp("UnsafeSize"), bp("UnsafePrevSize"), bp("Allocated")
    blocks = {}       # addr -> (size, tag, free, corrupt)
    pages = {}        # page -> (kind, corrupt)
    walked_bad = set()
    lfh_bad = {num(l[2]) for l in by.get("hostile", []) if l[1] == "lfh_count"}
    def tagstr(v):
        return v.to_bytes(4, "little").decode("latin-1")
    sblocks, spages = {}, {}   # the session heap's blocks (sessblock) and pages (sesspage)
    def pool_block(p, size, heap_idx, what):
        bs = rf("_POOL_HEADER", p, "BlockSize")
        pt = rf("_POOL_HEADER", p, "PoolType")
        if bs * 16 != size:
            F("%s: _POOL_HEADER %#x BlockSize %#x, block of %#x bytes" % (what, p, bs, size))
        if pt != (34 if heap_idx == "session" else 2 if heap_idx == 2 else 1):
            F("%s: _POOL_HEADER %#x PoolType %d in heap %d" % (what, p, pt, heap_idx))
        return tagstr(rf("_POOL_HEADER", p, "PoolTag"))
    for R, (kind, s, nbytes) in sorted(subs.items()):
        if s not in segs:
            continue
        h, C = segs[s]
        hidx = heaps[h]
        hkind = "paged" if hidx == 2 else "nonpaged"
        if kind == "vs":
            size = rf("_HEAP_VS_SUBSEGMENT", R, "Size")
            if size * 16 != nbytes:
                F("vs %#x: Size %#x, subseg says %#x bytes" % (R, size, nbytes))
            if rf("_HEAP_VS_SUBSEGMENT", R, "Signature") != (size ^ VS_SIG) & 0x7fff:
                F("vs %#x: Signature does not match Size ^ 0x2BED" % R)
            if rf("_HEAP_VS_SUBSEGMENT", R, "FullCommit") != 1:
                F("vs %#x: FullCommit" % R)
            c = R + ((L.size("_HEAP_VS_SUBSEGMENT") + 15) & ~15)
            end = R + size * 16
            prev, found, corrupt = 0, [], False
            for _ in range(4096):
                if c >= end:
                    break
                dec = D.u(c + hb, 8) ^ c ^ hk
                us = (dec >> p_size) & 0xffff
                up = (dec >> p_prev) & 0xffff
                al = (dec >> p_alloc) & 0xff
                if us == 0 or c + us * 16 > end or al > 1:
                    F("vs %#x: chunk %#x decodes to size %#x alloc %d" % (R, c, us, al))
                    break
                epo = rf("_HEAP_VS_CHUNK_HEADER", c, "EncodedSegmentPageOffset")
                if epo != (((c - s) >> 12) ^ (c & 0xff)) & 0xff:
                    F("vs %#x: chunk %#x EncodedSegmentPageOffset %#x" % (R, c, epo))
                if up != prev:
                    walked_bad.add((c & ~0xfff, c))
                    corrupt = True
                else:
                    p = c + chs
                    bsz = us * 16 - chs
                    tag = pool_block(p, bsz, hidx, "vs %#x" % R) if al else "-"
                    found.append((p, bsz, tag, 0 if al else 1))
                prev = us
                c += us * 16
            if c != end:
                F("vs %#x: the chunks end at %#x, not %#x" % (R, c, end))
            if hidx == "session":
                if corrupt:
                    F("session heap vs %#x: a chunk's UnsafePrevSize is inconsistent" % R)
                for p, bsz, tag, fr in found:
                    sblocks[p] = (bsz, tag, fr)
                    spages[p & ~0xfff] = sess_of[h][0]
                continue
            for p, bsz, tag, fr in found:
                blocks[p] = (bsz, tag, fr, 1 if corrupt else 0)
                pages[p & ~0xfff] = (hkind, 1 if corrupt else 0)
        elif kind == "lfh":
            enc = rf("_HEAP_LFH_SUBSEGMENT", R, "BlockOffsets.EncodedData")
            dec = enc ^ (lk & 0xffffffff) ^ ((R & 0xffffffff) >> 12)
            bsz, first = dec & 0xffff, dec >> 16
            cnt = rf("_HEAP_LFH_SUBSEGMENT", R, "BlockCount")
            if bsz == 0 or bsz % 16 or first < L.off("_HEAP_LFH_SUBSEGMENT", "BlockBitmap") or first >= nbytes:
                F("lfh %#x: offsets decode to BlockSize %#x FirstBlockOffset %#x" % (R, bsz, first))
                continue
            if R in lfh_bad:
                if cnt != 0xffff:
                    F("hostile lfh_count %#x: BlockCount %#x" % (R, cnt))
                continue
            if first + cnt * bsz > nbytes:
                F("lfh %#x: %d blocks of %#x do not fit" % (R, cnt, bsz))
                continue
            bm = R + L.off("_HEAP_LFH_SUBSEGMENT", "BlockBitmap")
            nfree = 0
            for i in range(cnt):
                busy = (D.u(bm + (2 * i // 64) * 8, 8) >> (2 * i % 64)) & 1
                p = R + first + i * bsz
                if busy:
                    blocks[p] = (bsz, pool_block(p, bsz, hidx, "lfh %#x" % R), 0, 0)
                else:
                    nfree += 1
                    blocks[p] = (bsz, "-", 1, 0)
                pages[p & ~0xfff] = (hkind, 0)
            if nfree != rf("_HEAP_LFH_SUBSEGMENT", R, "FreeCount"):
                F("lfh %#x: FreeCount %d, %d clear busy bits" % (R, rf("_HEAP_LFH_SUBSEGMENT", R, "FreeCount"), nfree))
    for R in lfh_bad:
        if R not in subs or subs[R][0] != "lfh":
            F("hostile lfh_count %#x: not an LFH subseg line" % R)

    msb = {num(l[1]): (num(l[2]), l[3], int(l[4])) for l in by.get("sessblock", [])}
    if sess_of and msb != sblocks:
        diff = sorted(set(msb.items()) ^ set(sblocks.items()))
        F("sessblock lines differ from the walk of the session heap: %s" % ["%#x %#x %s %d" % ((a,) + v) for a, v in diff[:6]])
    msp = {num(l[1]): num(l[2]) for l in by.get("sesspage", [])}
    if msp != spages:
        F("sesspage lines %s, the walk of the session heap %s" % (sorted((hex(a), hex(v)) for a, v in msp.items()),
                                                                 sorted((hex(a), hex(v)) for a, v in spages.items())))
    if scene == "pool" and sess_of and not any(fr == 1 for _, _, fr in sblocks.values()):
        F("pool scene: the session heap has no free chunk")
    mblocks = {num(l[1]): (num(l[2]), l[3], int(l[4]), int(l[5])) for l in by.get("poolblock", [])}
    if len(mblocks) != len(by.get("poolblock", [])):
        F("duplicate poolblock lines")
    if mblocks != blocks:
        diff = sorted(set(mblocks.items()) ^ set(blocks.items()))
        F("poolblock lines differ from the walk of the dump: %s" %
          ["%#x %#x %s %d %d" % ((a,) + v) for a, v in diff[:6]])
    mpages = {num(l[1]): (l[2], int(l[3])) for l in by.get("poolpage", [])}
    if mpages != pages:
        F("poolpage lines %s, the walk %s" % (sorted((hex(a), v) for a, v in mpages.items()),
                                               sorted((hex(a), v) for a, v in pages.items())))
    mbad = {(num(l[1]), num(l[2])) for l in by.get("poolbad", [])}
    if mbad != walked_bad:
        F("poolbad lines %s, the walk finds %s" % (mbad, walked_bad))
    if scene == "pool":
        if not any(v[0] == "lfh" for v in subs.values()) or sum(v[0] == "vs" for v in subs.values()) < 3:
            F("pool scene: want an LFH and three VS subsegments")
        if len(mbad) != 1:
            F("pool scene: want one poolbad line")
        if not any(v[1] == "Leak" for a, v in blocks.items() if subs.get(a & ~0xfff, ("",))[0] == "lfh"):
            F("pool scene: no Leak block in an LFH subsegment")
        if not any(v[0] == "paged" for v in pages.values()):
            F("pool scene: no paged page")
    for l in by.get("catag", []):
        ca, tag, page = num(l[1]), l[2], num(l[3])
        p = ca - hs
        if p & ~0xfff != page:
            F("catag %#x: pool page %#x does not hold its header %#x" % (ca, page, p))
        if blocks.get(p, (0, None))[1] != tag:
            F("catag %#x %s: the walk gives block %s" % (ca, tag, blocks.get(p)))
    if scene == "mm" and len(by.get("catag", [])) < 2:
        F("mm scene: fewer than two catag lines")
    if hostile and not (lfh_bad and cyc):
        F("hostile: want hostile segheap_cycle and lfh_count lines")
    return bad

mode = sys.argv[1]
nbad = 0
if mode == "check":
    for line in open(sys.argv[2]):
        dump, table, combo = line.rstrip("\n").split("\t")
        bad = check(dump, table, combo, dump + ".manifest")
        for b in bad[:12]:
            print("FAIL: %s: %s" % (combo, b))
        nbad += len(bad)
    sys.exit(1 if nbad else 0)
else:   # mutate: the checker must reject each changed manifest
    dump, table, combo, work = sys.argv[2:6]
    src = [l for l in open(dump + ".manifest")]
    def flip_hex(s, x):
        return hex(int(s, 16) ^ x)
    muts = []
    def mut(kind, fn, what):
        for i, l in enumerate(src):
            p = l.split()
            if p and p[0] == kind:
                q = fn(p)
                if q:
                    muts.append((what, src[:i] + [" ".join(q) + "\n"] + src[i + 1:]))
                    return
    mut("heapkey", lambda p: [p[0], flip_hex(p[1], 0x100), p[2]], "heapkey changed")
    mut("poolblock", lambda p: p[:3] + ["Lea" + ("x" if p[3] != "Leax" else "y")] + p[4:] if p[3] != "-" else None, "a block's tag")
    mut("poolblock", lambda p: [p[0], p[1], hex(int(p[2], 16) + 0x10)] + p[3:], "a block's size")
    mut("subseg", lambda p: [p[0], p[1], "vs" if p[2] == "lfh" else "lfh"] + p[3:], "a subsegment's kind")
    mut("poolbad", lambda p: [p[0], p[1], flip_hex(p[2], 0x10)], "the bad chunk")
    mut("hpseg", lambda p: [p[0], flip_hex(p[1], 0x100000)] + p[2:], "a segment")
    mut("segheap", lambda p: p[:3] + [str((int(p[3]) + 1) % 3)], "a heap index")
    mut("poolpage", lambda p: [p[0], p[1], "paged" if p[2] == "nonpaged" else "nonpaged", p[3]], "a page kind")
    mut("sessblock", lambda p: p[:3] + ["Gfnx"] + p[4:] if p[3] != "-" else None, "a session block's tag")
    mut("sessblock", lambda p: [p[0], p[1], hex(int(p[2], 16) + 0x10)] + p[3:], "a session block's size")
    mut("sessblock", lambda p: p[:4] + ["0"] if p[4] == "1" else None, "the session heap's free chunk")
    mut("sesspage", lambda p: [p[0], p[1], flip_hex(p[2], 0x1000)], "a session page's session")
    mut("sessionheap", lambda p: [p[0], p[1], flip_hex(p[2], 0x1000)], "the session heap")
    ok = 0
    for i, (what, lines) in enumerate(muts):
        m = "%s/mut%d.manifest" % (work, i)
        open(m, "w").writelines(lines)
        if not check(dump, table, combo, m):
            print("FAIL: the checker accepts a manifest with %s" % what)
            nbad += 1
        else:
            ok += 1
    if len(muts) < 13:
        print("FAIL: only %d mutations applied" % len(muts))
        nbad += 1
    print("scene_segheap: %d changed manifests rejected" % ok)
    sys.exit(1 if nbad else 0)
EOF
python3 "$T/check.py" check "$T/list" || fail "the dumps do not match their manifests"
first=$(head -1 "$T/list")
if [ -n "$first" ]; then
    IFS=$'\t' read -r d t c <<<"$first"
    python3 "$T/check.py" mutate "$d" "$t" "$c" "$T" || fail "the checker accepted a changed manifest"
fi
[ $fails = 0 ] && echo "scene_segheap: all checks passed"
exit $((fails > 0))
