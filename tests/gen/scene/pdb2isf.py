#!/usr/bin/env python3
"""pdb2isf.py: converts a PDB (MSF 7.00) into a Volatility-style ISF JSON kernel table.

Written for the Windows XP SP3 x86 PAE kernel PDB (ntkrnlpa.pdb), whose type stream uses the
old V70 version (some leaves with length-prefixed names, no IPI stream), which the generator
(ntkd-genscene) needs as its XP layout. Standard library only; shares nothing with libntkd.

usage: pdb2isf.py IN.pdb OUT.json [--check-oracle PUBLICS.txt BASE]

Output: metadata.windows.pdb {GUID, age, database, machine_type}, base_types, user_types
(structs and unions with their fields), enums and symbols (public symbols, x86 decoration
stripped, with their RVA). For x86 PDBs also "x_fpo" (not part of the ISF schema; the scene
generator lays each function's stack frame the way these records describe it):
  "x_fpo": {"fpo": [{rva, size, locals, params, regs, prolog, usebp, frame}, ...],
            "framedata": [{rva, size, locals, params, regs, prolog, flags, program}, ...],
            "programs": ["$T0 $ebp = ...", ...]}
sorted by rva; every size in BYTES (FPO_DATA's cdwLocals / cdwParams are converted from
DWORDs, cbRegs from a register count), frame the FPO frame type (0 FPO, 1 trap, 2 TSS,
3 non-FPO), program the index in "programs" of the FrameData program string (from the /names
table; a few dozen distinct strings shared by thousands of records). Sources: the DBI
optional debug header's FPO stream (16-byte FPO_DATA records) and new-FPO stream (32-byte
FrameData records), the PDB info stream's named-stream map for /names.
"""
import json
import struct
import sys

MSF_MAGIC = b"Microsoft C/C++ MSF 7.00\r\n\x1aDS\x00\x00\x00"


class PdbError(Exception):
    pass


def fail(msg):
    raise PdbError(msg)


# ------------------------------------------------------------------ MSF container
class Msf:
    def __init__(self, data):
        if len(data) < 56 or data[:32] != MSF_MAGIC:
            fail("not an MSF 7.00 file (bad magic at offset 0)")
        (self.bs, _fpm, nblocks, dir_bytes, _unk, map_addr) = struct.unpack_from("<6I", data, 32)
        if self.bs not in (512, 1024, 2048, 4096):
            fail("bad block size %d at offset 0x20" % self.bs)
        if nblocks * self.bs > len(data) + self.bs:
            fail("block count %d larger than the file" % nblocks)
        self.data = data
        self.nblocks = nblocks
        ndir = (dir_bytes + self.bs - 1) // self.bs
        map_off = self._block_off(map_addr)
        if map_off + 4 * ndir > len(data):
            fail("directory block map at 0x%x out of the file" % map_off)
        dir_blocks = struct.unpack_from("<%dI" % ndir, data, map_off)
        d = b"".join(self._block(b) for b in dir_blocks)[:dir_bytes]
        if len(d) < 4:
            fail("stream directory too short")
        nstreams = struct.unpack_from("<I", d, 0)[0]
        if nstreams > 100000 or 4 + 4 * nstreams > len(d):
            fail("bad stream count %d in the stream directory" % nstreams)
        sizes = struct.unpack_from("<%dI" % nstreams, d, 4)
        pos = 4 + 4 * nstreams
        self.streams = []
        for sz in sizes:
            if sz == 0xFFFFFFFF:
                self.streams.append(None)
                continue
            n = (sz + self.bs - 1) // self.bs
            if pos + 4 * n > len(d):
                fail("stream directory truncated")
            blocks = struct.unpack_from("<%dI" % n, d, pos)
            pos += 4 * n
            self.streams.append((sz, blocks))

    def _block_off(self, b):
        if b >= self.nblocks:
            fail("block %d beyond the %d blocks of the file" % (b, self.nblocks))
        return b * self.bs

    def _block(self, b):
        off = self._block_off(b)
        return self.data[off:off + self.bs]

    def stream(self, i):
        if i is None or i >= len(self.streams) or i == 0xFFFF or self.streams[i] is None:
            return None
        sz, blocks = self.streams[i]
        return b"".join(self._block(b) for b in blocks)[:sz]


# ------------------------------------------------------------------ byte reader
class Rd:
    def __init__(self, buf, pos=0, end=None):
        self.b = buf
        self.p = pos
        self.end = len(buf) if end is None else end

    def need(self, n):
        if self.p + n > self.end:
            fail("record truncated at offset 0x%x" % self.p)

    def u8(self):
        self.need(1)
        v = self.b[self.p]
        self.p += 1
        return v

    def u16(self):
        self.need(2)
        v = struct.unpack_from("<H", self.b, self.p)[0]
        self.p += 2
        return v

    def u32(self):
        self.need(4)
        v = struct.unpack_from("<I", self.b, self.p)[0]
        self.p += 4
        return v

    def sz(self):
        """zero-terminated name"""
        e = self.b.find(b"\0", self.p, self.end)
        if e < 0:
            e = self.end
        s = self.b[self.p:e].decode("latin-1")
        self.p = min(e + 1, self.end)
        return s

    def st(self):
        """length-prefixed (V70 _ST) name"""
        n = self.u8()
        self.need(n)
        s = self.b[self.p:self.p + n].decode("latin-1")
        self.p += n
        return s

    def num(self):
        """CodeView numeric leaf"""
        v = self.u16()
        if v < 0x8000:
            return v
        fmt = {0x8000: "<b", 0x8001: "<h", 0x8002: "<H", 0x8003: "<i", 0x8004: "<I",
               0x8009: "<q", 0x800A: "<Q"}.get(v)
        if fmt is None:
            fail("unsupported numeric leaf 0x%x at offset 0x%x" % (v, self.p - 2))
        n = struct.calcsize(fmt)
        self.need(n)
        r = struct.unpack_from(fmt, self.b, self.p)[0]
        self.p += n
        return r


# ------------------------------------------------------------------ leaves
LF_MODIFIER, LF_POINTER, LF_PROCEDURE, LF_MFUNCTION = 0x1001, 0x1002, 0x1008, 0x1009
LF_ARGLIST, LF_FIELDLIST, LF_BITFIELD, LF_METHODLIST = 0x1201, 0x1203, 0x1205, 0x1206
# V70 (_ST) aggregate leaves and their later zero-terminated forms
LF_ARRAY_ST, LF_CLASS_ST, LF_STRUCTURE_ST, LF_UNION_ST, LF_ENUM_ST = 0x1003, 0x1004, 0x1005, 0x1006, 0x1007
LF_ARRAY, LF_CLASS, LF_STRUCTURE, LF_UNION, LF_ENUM = 0x1503, 0x1504, 0x1505, 0x1506, 0x1507
# field-list sub-records
LF_ENUMERATE_ST, LF_ENUMERATE = 0x0403, 0x1502
LF_MEMBER_ST, LF_MEMBER = 0x1405, 0x150D
LF_STMEMBER_ST, LF_STMEMBER = 0x1406, 0x150E
LF_METHOD_ST, LF_METHOD = 0x1407, 0x150F
LF_NESTTYPE_ST, LF_NESTTYPE = 0x1408, 0x1510
LF_ONEMETHOD_ST, LF_ONEMETHOD = 0x140B, 0x1511
LF_BCLASS, LF_VBCLASS, LF_IVBCLASS, LF_INDEX, LF_VFUNCTAB = 0x1400, 0x1401, 0x1402, 0x1404, 0x1409

# primitive types: low byte -> (volatility base name, size, kind, signed)
PRIMS = {
    0x03: ("void", 0, "void", True),
    0x08: ("long", 4, "int", True),            # HRESULT
    0x10: ("char", 1, "char", True),
    0x20: ("unsigned char", 1, "char", False),
    0x70: ("char", 1, "char", True),
    0x71: ("wchar", 2, "int", True),
    0x7A: ("wchar", 2, "int", True),
    0x7B: ("unsigned long", 4, "int", False),
    0x68: ("char", 1, "char", True),
    0x69: ("unsigned char", 1, "char", False),
    0x11: ("short", 2, "int", True),
    0x21: ("unsigned short", 2, "int", False),
    0x72: ("short", 2, "int", True),
    0x73: ("unsigned short", 2, "int", False),
    0x12: ("long", 4, "int", True),
    0x22: ("unsigned long", 4, "int", False),
    0x74: ("int", 4, "int", True),
    0x75: ("unsigned int", 4, "int", False),
    0x13: ("long long", 8, "int", True),
    0x23: ("unsigned long long", 8, "int", False),
    0x76: ("long long", 8, "int", True),
    0x77: ("unsigned long long", 8, "int", False),
    0x40: ("float", 4, "float", True),
    0x41: ("double", 8, "float", True),
    0x42: ("double", 8, "float", True),      # REAL80 kept as double (never used by the kernel)
    0x30: ("bool", 1, "bool", False),
    0x31: ("unsigned short", 2, "int", False),
    0x32: ("unsigned long", 4, "int", False),
}


class Types:
    def __init__(self, tpi, ptr_size):
        if len(tpi) < 56:
            fail("TPI stream shorter than its header")
        (self.version, hdr_size, self.tbeg, self.tend, rec_bytes) = struct.unpack_from("<5I", tpi, 0)
        if hdr_size < 20 or hdr_size > len(tpi) or self.tend < self.tbeg or self.tend - self.tbeg > 2000000:
            fail("bad TPI header (version %d, size %d, types 0x%x..0x%x)"
                 % (self.version, hdr_size, self.tbeg, self.tend))
        self.ptr_size = ptr_size
        self.recs = {}
        pos = hdr_size
        end = min(len(tpi), hdr_size + rec_bytes)
        ti = self.tbeg
        while pos + 4 <= end and ti < self.tend:
            ln, kind = struct.unpack_from("<HH", tpi, pos)
            if ln < 2 or pos + 2 + ln > end:
                fail("type record 0x%x at TPI offset 0x%x overruns the stream" % (ti, pos))
            self.recs[ti] = (kind, pos + 4, pos + 2 + ln)
            pos += 2 + ln
            ti += 1
        self.tpi = tpi
        self.parsed = {}
        self.by_name = {}     # complete (non-forward) aggregate by name
        self.unnamed = set()
        for ti, (kind, s, e) in self.recs.items():
            if kind in (LF_STRUCTURE, LF_CLASS, LF_UNION, LF_ENUM, LF_STRUCTURE_ST, LF_CLASS_ST,
                        LF_UNION_ST, LF_ENUM_ST):
                a = self.leaf(ti)
                if not a["fwd"]:
                    self.by_name.setdefault((a["agg"], a["name"]), ti)

    def leaf(self, ti):
        if ti in self.parsed:
            return self.parsed[ti]
        if ti not in self.recs:
            fail("type index 0x%x not in the TPI stream" % ti)
        kind, s, e = self.recs[ti]
        r = Rd(self.tpi, s, e)
        v = {"leaf": kind}
        if kind == LF_MODIFIER:
            v["type"] = r.u32()
            v["attr"] = r.u16()
        elif kind == LF_POINTER:
            v["type"] = r.u32()
            attr = r.u32()
            v["size"] = (attr >> 13) & 0x3F or self.ptr_size
        elif kind == LF_PROCEDURE or kind == LF_MFUNCTION:
            pass
        elif kind == LF_BITFIELD:
            v["type"] = r.u32()
            v["len"] = r.u8()
            v["pos"] = r.u8()
        elif kind in (LF_ARRAY, LF_ARRAY_ST):
            v["elem"] = r.u32()
            v["index"] = r.u32()
            v["size"] = r.num()
        elif kind in (LF_STRUCTURE, LF_CLASS, LF_STRUCTURE_ST, LF_CLASS_ST):
            r.u16()
            prop = r.u16()
            v["fields"] = r.u32()
            r.u32()
            r.u32()
            v["size"] = r.num()
            v["name"] = r.st() if kind in (LF_STRUCTURE_ST, LF_CLASS_ST) else r.sz()
            v["fwd"] = bool(prop & 0x80)
            v["agg"] = "struct"
        elif kind in (LF_UNION, LF_UNION_ST):
            r.u16()
            prop = r.u16()
            v["fields"] = r.u32()
            v["size"] = r.num()
            v["name"] = r.st() if kind == LF_UNION_ST else r.sz()
            v["fwd"] = bool(prop & 0x80)
            v["agg"] = "union"
        elif kind in (LF_ENUM, LF_ENUM_ST):
            r.u16()
            prop = r.u16()
            v["utype"] = r.u32()
            v["fields"] = r.u32()
            v["name"] = r.st() if kind == LF_ENUM_ST else r.sz()
            v["fwd"] = bool(prop & 0x80)
            v["agg"] = "enum"
        self.parsed[ti] = v
        if "name" in v and v["name"] in ("<unnamed-tag>", "__unnamed", "<anonymous-tag>"):
            v["name"] = "__unnamed_%x" % ti
            self.unnamed.add(ti)
        return v

    def pointer_mode(self):
        """64 when most LF_POINTER records are 64-bit pointers (ptrtype 0x0c), else 32"""
        n32 = n64 = 0
        for kind, st, e in self.recs.values():
            if kind == LF_POINTER and e - st >= 8:
                ptype = struct.unpack_from("<I", self.tpi, st + 4)[0] & 0x1F
                if ptype == 0x0C:
                    n64 += 1
                elif ptype == 0x0A:
                    n32 += 1
        return 64 if n64 > n32 else 32

    def resolve(self, ti):
        """forward references to their definition (by name)"""
        if ti < 0x1000:
            return ti
        v = self.leaf(ti)
        if v.get("fwd"):
            return self.by_name.get((v["agg"], v["name"]), ti)
        return ti

    def fieldlist(self, ti, depth=0):
        """sub-records of a field list: [(leaf, dict)]"""
        out = []
        if ti == 0 or depth > 64:
            return out
        if ti not in self.recs:
            fail("field list 0x%x not in the TPI stream" % ti)
        kind, s, e = self.recs[ti]
        if kind != LF_FIELDLIST:
            fail("type 0x%x is leaf 0x%x, not a field list" % (ti, kind))
        r = Rd(self.tpi, s, e)
        guard = 0
        while r.p < e and guard < 100000:
            guard += 1
            b = self.tpi[r.p]
            if b >= 0xF0:        # LF_PADn: skip n bytes (low nibble)
                r.p += max(1, b & 0x0F)
                continue
            sub = r.u16()
            if sub in (LF_MEMBER, LF_MEMBER_ST):
                r.u16()
                t = r.u32()
                off = r.num()
                name = r.st() if sub == LF_MEMBER_ST else r.sz()
                out.append(("member", {"type": t, "offset": off, "name": name}))
            elif sub in (LF_ENUMERATE, LF_ENUMERATE_ST):
                r.u16()
                val = r.num()
                name = r.st() if sub == LF_ENUMERATE_ST else r.sz()
                out.append(("enumerate", {"value": val, "name": name}))
            elif sub in (LF_NESTTYPE, LF_NESTTYPE_ST):
                r.u16()
                r.u32()
                r.st() if sub == LF_NESTTYPE_ST else r.sz()
            elif sub in (LF_STMEMBER, LF_STMEMBER_ST):
                r.u16()
                r.u32()
                r.st() if sub == LF_STMEMBER_ST else r.sz()
            elif sub in (LF_METHOD, LF_METHOD_ST):
                r.u16()
                r.u32()
                r.st() if sub == LF_METHOD_ST else r.sz()
            elif sub in (LF_ONEMETHOD, LF_ONEMETHOD_ST):
                attr = r.u16()
                r.u32()
                if ((attr >> 2) & 7) in (4, 6):
                    r.u32()
                r.st() if sub == LF_ONEMETHOD_ST else r.sz()
            elif sub == LF_BCLASS:
                r.u16()
                r.u32()
                r.num()
            elif sub in (LF_VBCLASS, LF_IVBCLASS):
                r.u16()
                r.u32()
                r.u32()
                r.num()
                r.num()
            elif sub == LF_VFUNCTAB:
                r.u16()
                r.u32()
            elif sub == LF_INDEX:
                r.u16()
                out.extend(self.fieldlist(r.u32(), depth + 1))
            else:
                sys.stderr.write("pdb2isf: warning: field list 0x%x: unknown sub-record 0x%x at "
                                 "TPI offset 0x%x, rest of the list skipped\n" % (ti, sub, r.p - 2))
                break
        return out

    # --- sizes and descriptors
    def size_of(self, ti, depth=0):
        if depth > 64:
            fail("type 0x%x: reference chain too deep" % ti)
        if ti < 0x1000:
            if (ti >> 8) & 0x0F:
                return self.ptr_size
            p = PRIMS.get(ti & 0xFF)
            return p[1] if p else 0
        ti = self.resolve(ti)
        v = self.leaf(ti)
        k = v["leaf"]
        if k == LF_MODIFIER:
            return self.size_of(v["type"], depth + 1)
        if k == LF_POINTER:
            return v["size"]
        if k == LF_BITFIELD:
            return self.size_of(v["type"], depth + 1)
        if "agg" in v and v["agg"] == "enum":
            return self.size_of(v["utype"], depth + 1)
        if "size" in v:
            return v["size"]
        return 0

    def desc(self, ti, depth=0):
        if depth > 64:
            fail("type 0x%x: reference chain too deep" % ti)
        if ti < 0x1000:
            mode = (ti >> 8) & 0x0F
            p = PRIMS.get(ti & 0xFF)
            base = {"kind": "base", "name": p[0] if p else "void"}
            if mode:
                return {"kind": "pointer", "subtype": base}
            return base
        ti = self.resolve(ti)
        v = self.leaf(ti)
        k = v["leaf"]
        if k == LF_MODIFIER:
            return self.desc(v["type"], depth + 1)
        if k == LF_POINTER:
            return {"kind": "pointer", "subtype": self.desc(v["type"], depth + 1)}
        if k in (LF_PROCEDURE, LF_MFUNCTION):
            return {"kind": "function"}
        if k == LF_BITFIELD:
            return {"bit_length": v["len"], "bit_position": v["pos"], "kind": "bitfield",
                    "type": self.desc(v["type"], depth + 1)}
        if k in (LF_ARRAY, LF_ARRAY_ST):
            es = self.size_of(v["elem"])
            return {"count": (v["size"] // es) if es else 0, "kind": "array",
                    "subtype": self.desc(v["elem"], depth + 1)}
        if "agg" in v:
            return {"kind": v["agg"], "name": v["name"]}
        return {"kind": "base", "name": "void"}

    def user_types_and_enums(self):
        users, enums = {}, {}
        for ti in sorted(self.recs):
            kind = self.recs[ti][0]
            if kind not in (LF_STRUCTURE, LF_CLASS, LF_UNION, LF_ENUM, LF_STRUCTURE_ST,
                            LF_CLASS_ST, LF_UNION_ST, LF_ENUM_ST):
                continue
            v = self.leaf(ti)
            if v["fwd"]:
                continue
            if self.by_name.get((v["agg"], v["name"])) != ti and ti not in self.unnamed:
                continue     # a second definition of the same name: the first wins
            if v["agg"] == "enum":
                base = self.desc(v["utype"])
                consts = {}
                for kind2, f in self.fieldlist(v["fields"]):
                    if kind2 == "enumerate":
                        consts[f["name"]] = f["value"]
                enums[v["name"]] = {"base": base.get("name", "int"), "constants": consts,
                                    "size": self.size_of(v["utype"])}
                continue
            fields = {}
            for kind2, f in self.fieldlist(v["fields"]):
                if kind2 != "member":
                    continue
                fields[f["name"]] = {"offset": f["offset"], "type": self.desc(f["type"])}
            users[v["name"]] = {"fields": fields, "kind": v["agg"], "size": v["size"]}
        return users, enums


# ------------------------------------------------------------------ DBI, sections, publics
def strip_x86(name):
    """volatility-style undecoration of x86 C names: _Name, _Name@12, @Name@8 -> Name"""
    n = name
    if n[:1] in ("_", "@", "\x7f"):
        n = n[1:]
    parts = n.split("@")
    if len(parts) == 2 and parts[1].isdigit() and parts[0] and parts[0][0] != "?":
        return parts[0]
    if len(parts) == 1:
        return n
    return name


def sections_from(buf):
    """IMAGE_SECTION_HEADER array -> [(va, vsize)]"""
    out = []
    if buf is None:
        return out
    for i in range(len(buf) // 40):
        _name, vsize, va = struct.unpack_from("<8sII", buf, i * 40)
        out.append((va, vsize))
    return out


def omap_from(buf):
    if buf is None:
        return None
    n = len(buf) // 8
    return [struct.unpack_from("<II", buf, i * 8) for i in range(n)]


def omap_map(omap, rva):
    """OMAP lookup: the last entry with from <= rva; to==0 means no mapping"""
    lo, hi = 0, len(omap) - 1
    best = -1
    while lo <= hi:
        mid = (lo + hi) // 2
        if omap[mid][0] <= rva:
            best = mid
            lo = mid + 1
        else:
            hi = mid - 1
    if best < 0:
        return None
    frm, to = omap[best]
    if to == 0:
        return None
    return to + (rva - frm)


def read_dbi(msf):
    dbi = msf.stream(3)
    if dbi is None or len(dbi) < 64:
        fail("no DBI stream (stream 3)")
    (_sig, _ver, age, _gsi, _bld, _psi, _pdbver, symrec, _rbld, modi, secc, secm, fileinfo,
     tsmap, _mfc, dbghdr, ec, _flags, machine) = struct.unpack_from("<iIIHHHHHHIIIIIIIIHH", dbi, 0)
    off = 64 + modi + secc + secm + fileinfo + tsmap + ec
    if off + dbghdr > len(dbi) or min(modi, secc, secm, fileinfo, tsmap, ec, dbghdr) < 0:
        fail("DBI substream sizes overrun the DBI stream (%d bytes)" % len(dbi))
    dbg = [struct.unpack_from("<H", dbi, off + 2 * i)[0] for i in range(dbghdr // 2)]
    return {"age": age, "symrec": symrec, "machine": machine, "dbg": dbg}


def publics(msf, dbi):
    secs = None
    omap = None
    dbg = dbi["dbg"]

    def dbg_stream(i):
        if i < len(dbg) and dbg[i] != 0xFFFF:
            return msf.stream(dbg[i])
        return None
    omap_from_src = omap_from(dbg_stream(4))
    if omap_from_src:
        # publics are in the pre-optimisation address space: original sections + OMAP
        secs = sections_from(dbg_stream(10))
        omap = omap_from_src
    if not secs:
        secs = sections_from(dbg_stream(5))
        omap = None
    if not secs:
        fail("no section headers in the DBI optional debug header")
    syms = {}
    rec = msf.stream(dbi["symrec"])
    if rec is None:
        fail("no symbol record stream")
    pos = 0
    n = 0
    while pos + 4 <= len(rec) and n < 5000000:
        n += 1
        ln, kind = struct.unpack_from("<HH", rec, pos)
        if ln < 2:
            break
        end = min(pos + 2 + ln, len(rec))
        if kind in (0x110E, 0x1009) and end - pos >= 14:   # S_PUB32 / S_PUB32_ST
            _flags, off, seg = struct.unpack_from("<IIH", rec, pos + 4)
            r = Rd(rec, pos + 14, end)
            name = r.sz() if kind == 0x110E else r.st()
            if 1 <= seg <= len(secs):
                rva = secs[seg - 1][0] + off
                if omap is not None:
                    rva = omap_map(omap, rva)
                if rva is not None:
                    syms.setdefault(name, rva)
        pos = end
    return syms


def names_stream(msf):
    """the /names string table (stream named in the PDB info stream's named-stream map)"""
    info = msf.stream(1)
    if info is None or len(info) < 32:
        return None
    r = Rd(info, 28)
    nbytes = r.u32()
    r.need(nbytes)
    strs = info[r.p:r.p + nbytes]
    r.p += nbytes
    _size = r.u32()
    cap = r.u32()
    if cap > 100000:
        fail("named-stream map capacity %d too large" % cap)
    nwords = r.u32()
    if nwords > 100000:
        fail("named-stream map bit vector of %d words" % nwords)
    present = [r.u32() for _ in range(nwords)]
    ndel = r.u32()
    if ndel > 100000:
        fail("named-stream map deleted vector of %d words" % ndel)
    r.need(4 * ndel)
    r.p += 4 * ndel
    stream = None
    for i in range(cap):
        if i // 32 < len(present) and (present[i // 32] >> (i % 32)) & 1:
            key = r.u32()
            val = r.u32()
            e = strs.find(b"\0", key)
            if key < len(strs) and e >= 0 and strs[key:e] == b"/names":
                stream = val
    data = msf.stream(stream) if stream is not None else None
    if data is None or len(data) < 12:
        return None
    if struct.unpack_from("<I", data, 0)[0] != 0xEFFEEFFE:
        fail("/names stream: bad signature")
    size = struct.unpack_from("<I", data, 8)[0]
    if 12 + size > len(data):
        fail("/names stream: string buffer of %d bytes overruns the stream" % size)
    return data[12:12 + size]


def fpo_records(msf, dbi):
    """FPO and FrameData records of an x86 PDB (see the module comment)"""
    dbg = dbi["dbg"]

    def dbg_stream(i):
        if i < len(dbg) and dbg[i] != 0xFFFF:
            return msf.stream(dbg[i])
        return None
    fpo = []
    raw = dbg_stream(0)
    if raw:
        if len(raw) % 16:
            fail("FPO stream: %d bytes is not a whole number of 16-byte records" % len(raw))
        for i in range(len(raw) // 16):
            start, size, locals_, params, attr = struct.unpack_from("<IIIHH", raw, i * 16)
            fpo.append({"rva": start, "size": size, "locals": locals_ * 4, "params": params * 4,
                        "prolog": attr & 0xFF, "regs": ((attr >> 8) & 7) * 4,
                        "usebp": (attr >> 12) & 1, "frame": (attr >> 14) & 3})
    fd = []
    programs, pindex = [], {}
    raw = dbg_stream(9)
    if raw:
        if len(raw) % 32:
            fail("FrameData stream: %d bytes is not a whole number of 32-byte records" % len(raw))
        names = names_stream(msf)
        for i in range(len(raw) // 32):
            (rva, size, locals_, params, _maxstack, prog, prolog, sregs,
             flags) = struct.unpack_from("<IIIIIIHHI", raw, i * 32)
            program = ""
            if names is not None and prog < len(names):
                e = names.find(b"\0", prog)
                program = names[prog:e if e >= 0 else len(names)].decode("latin-1")
            if program not in pindex:
                pindex[program] = len(programs)
                programs.append(program)
            fd.append({"rva": rva, "size": size, "locals": locals_, "params": params,
                       "prolog": prolog, "regs": sregs, "flags": flags,
                       "program": pindex[program]})
    fpo.sort(key=lambda r: r["rva"])
    fd.sort(key=lambda r: r["rva"])
    return {"fpo": fpo, "framedata": fd, "programs": programs}


def convert(path):
    with open(path, "rb") as f:
        data = f.read()
    msf = Msf(data)
    info = msf.stream(1)
    if info is None or len(info) < 28:
        fail("%s: no PDB info stream" % path)
    _ver, _sig, age = struct.unpack_from("<III", info, 0)
    g = info[12:28]
    d1, d2, d3 = struct.unpack_from("<IHH", g, 0)
    guid = "%08X%04X%04X%s" % (d1, d2, d3, g[8:].hex().upper())
    dbi = read_dbi(msf)
    machine = dbi["machine"]
    tpi = msf.stream(2)
    if tpi is None:
        fail("%s: no TPI stream" % path)
    if machine == 0:
        # old PDBs leave the DBI machine field 0: the pointer kind of the type stream decides
        machine = 0x8664 if Types(tpi, 8).pointer_mode() == 64 else 0x14C
    ptr = 8 if machine in (0x8664, 0xAA64) else 4
    types = Types(tpi, ptr)
    users, enums = types.user_types_and_enums()
    base_types = {}
    for name, size, kind, signed in PRIMS.values():
        base_types[name] = {"endian": "little", "kind": kind, "signed": signed, "size": size}
    base_types["pointer"] = {"endian": "little", "kind": "int", "signed": False, "size": ptr}
    symbols = {}
    for raw, rva in publics(msf, dbi).items():
        name = strip_x86(raw) if machine == 0x14C else raw
        symbols.setdefault(name, {"address": rva})
    db = path.replace("\\", "/").rsplit("/", 1)[-1]
    extra = {}
    if machine == 0x14C:
        extra["x_fpo"] = fpo_records(msf, dbi)
    return dict(extra, **{
        "base_types": base_types,
        "enums": enums,
        "metadata": {
            "format": "6.1.0",
            "producer": {"name": "ntkd-pdb2isf", "version": "1"},
            "windows": {"pdb": {"GUID": guid, "age": age, "database": db, "machine_type": machine}},
        },
        "symbols": symbols,
        "user_types": users,
    })


def main(argv):
    if len(argv) < 3:
        sys.stderr.write("usage: pdb2isf.py IN.pdb OUT.json\n")
        return 2
    try:
        isf = convert(argv[1])
    except (PdbError, OSError) as e:
        sys.stderr.write("pdb2isf: %s: %s\n" % (argv[1], e))
        return 1
    except (struct.error, ValueError, IndexError, KeyError, RecursionError) as e:
        sys.stderr.write("pdb2isf: %s: malformed PDB (%s: %s)\n" % (argv[1], type(e).__name__, e))
        return 1
    tmp = argv[2] + ".tmp"
    with open(tmp, "w") as f:
        # x_fpo (some 17000 small records) on one line each, the rest as before
        x = isf.pop("x_fpo", None)
        text = json.dumps(isf, indent=1, sort_keys=True)
        if x is not None:
            rows = lambda recs: ",\n".join(json.dumps(r, sort_keys=True, separators=(",", ":"))
                                           for r in recs)
            text = (text[:-2] + ',\n "x_fpo": {\n"fpo": [\n' + rows(x["fpo"]) +
                    '\n],\n"framedata": [\n' + rows(x["framedata"]) + '\n],\n"programs": ' +
                    json.dumps(x["programs"], indent=0) + '}\n}')
        f.write(text)
    import os
    os.replace(tmp, argv[2])
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
