#!/bin/bash
# fltkd.sh: !fltkd.filters / .frames / .volumes / .volume / .instance and the legacy-filter
# altitude diagnosis (seed 003) on the scenes "fltmgr" and "fltmgr-split" of ntkd-genscene.
#
# The filter manager's structures in these dumps follow a SYNTHETIC stand-in layout
# (tests/fltmgr/fltmgr_standin.h), not the real fltmgr's: its fltmgr.pdb is built by
# tests/fltmgr (clang-cl + lld-link) into <build>/tests/fltmgr/sym, the generator lays the
# structures out from the JSON computed with offsetof() over the same header (it never reads
# the PDB), and ntkd reads them through the PDB it finds by the image's CodeView identity.
# So this checks the commands' logic and their independence from built-in offsets, not a real
# fltmgr layout. Facts asserted come from the generator's manifest (fltframe, fltfilter,
# fltinstance, fltvolume, legacy, altitude_problem) and the seed (which filter is where).
source "$(dirname "$0")/scene_lib.sh" "$@"
set -u
fails=0
fail() { echo "FAIL: $*"; fails=$((fails + 1)); }

FLTDIR=$(cd "$(dirname "$GENDUMP")/../fltmgr" 2>/dev/null && pwd)
if [ -z "$FLTDIR" ] || [ ! -s "$FLTDIR/fltmgr.json" ] || [ ! -d "$FLTDIR/sym" ]; then
    echo "FAIL: the stand-in filter-manager symbols are not built ($(dirname "$GENDUMP")/../fltmgr:" \
        "tests/fltmgr needs clang-cl-14 and lld-link-14)"
    exit 1
fi
SYM="$(scene_sympath);$FLTDIR/sym"
# cached scene dumps older than the stand-in layouts are stale
for m in "$SCENE_DIR"/*-fltmgr*.dmp.manifest; do
    [ -e "$m" ] || continue
    stale=0
    for l in "$FLTDIR"/fltmgr*.json; do [ "$m" -nt "$l" ] || stale=1; done
    [ $stale = 0 ] || rm -f "$m" "${m%.manifest}"
done
T=$(mktemp -d "$WORKDIR/fltkd.XXXXXX")
trap 'rm -rf "$T"' EXIT

nk() { "$NTKD" -z "$1" -y "$2" --json -c "$3" 2>/dev/null; }
nkt() { "$NTKD" -z "$1" -y "$2" -c "$3" 2>&1; }
lc() { tr 'A-Z' 'a-z'; }

# All the JSON answers for one dump in one run (one object per command); cmd picks one.
cmd() { jq -c --arg c "$1" 'select(.command == $c)' <<<"$J"; }

LAST=
check_scene() { # layout scene kind; sets LAST to the dump
    local lay=$1 sc=$2 kind=$3 f
    LAST=
    f=$(scene_dump "$lay" "$sc" "$kind") || { fail "$lay $sc: no dump"; return; }
    LAST=$f
    local tag="$lay/$sc/$kind" SYM=$SYM
    [ "$lay" = xp ] && SYM="$(scene_sympath);$FLTDIR/sym-x86" # the 32-bit stand-in
    # the filter manager's device attached to Ntfs's volume device (frame 0's)
    local fltdrv ntfsdrv fdev v0
    fltdrv=$(mf_get "$f" driver | awk '$3 == "\\FileSystem\\FltMgr" {print $2}')
    ntfsdrv=$(mf_get "$f" driver | awk '$3 == "\\FileSystem\\Ntfs" {print $2}')
    fdev=$(mf_get "$f" device | awk -v d="$fltdrv" -v n="$ntfsdrv" '
        $3 == n {ntfs[$2] = 1} $3 == d && $4 != "0" && $4 != "0x0" {cand[$2] = $4}
        END {for (c in cand) if (cand[c] in ntfs) print c}')
    v0=$(mf_get "$f" fltvolume | awk '$4 == 0 {print $2}')
    [ -n "$fdev" ] || fail "$tag: no FltMgr device attached to Ntfs in the manifest"
    local cmds='!fltkd.frames; !fltkd.filters; !fltkd.volumes' va ia
    for va in $(mf_get "$f" fltvolume | awk '{print $2}'); do cmds+="; !fltkd.volume $va"; done
    for ia in $(mf_get "$f" fltinstance | awk '{print $2}'); do cmds+="; !fltkd.instance $ia"; done
    [ -n "$fdev" ] && cmds+="; !fltkd.volume $fdev"
    J=$(nk "$f" "$SYM" "$cmds")
    # ---- frames
    local j want got
    j=$(cmd '!fltkd.frames')
    want=$(mf_get "$f" fltframe | awk '{print $2, $3, $4, $5}' | lc | sort)
    got=$(jq -r '.frames[] | "\(.addr) \(.id) \(.altitude_low) \(.altitude_high)"' <<<"$j" | lc | sort)
    [ -n "$want" ] && [ "$want" = "$got" ] || fail "$tag frames: want [$want] got [$got] ($(jq -c .error <<<"$j"))"
    # ---- filters: address, name, altitude, frame; each filter's instances
    j=$(cmd '!fltkd.filters')
    want=$(mf_get "$f" fltfilter | awk '{print $2, $3, $4, $5}' | lc | sort)
    got=$(jq -r '.frames[].filters[] | "\(.addr) \(.name) \(.altitude) \(.frame)"' <<<"$j" | lc | sort)
    [ -n "$want" ] && [ "$want" = "$got" ] || fail "$tag filters: want [$want] got [$got]"
    want=$(mf_get "$f" fltinstance | awk '{print $2, $3, $5}' | lc | sort)
    got=$(jq -r '.frames[].filters[] | .name as $n | .instances[] | "\(.addr) \($n) \(.altitude)"' <<<"$j" | lc | sort)
    [ "$want" = "$got" ] || fail "$tag filter instances: want [$want] got [$got]"
    local n cnt
    for n in $(mf_get "$f" fltfilter | awk '{print $3}'); do
        cnt=$(mf_get "$f" fltinstance | awk -v n="$n" '$3 == n' | wc -l)
        [ "$(jq -r --arg n "$n" '.frames[].filters[] | select(.name == $n) | .instance_count' <<<"$j")" = "$cnt" ] ||
            fail "$tag: instance count of $n"
    done
    # ---- the diagnosis: legacy devices and the altitude problems
    want=$(mf_get "$f" legacy | awk '{print $2, $3}' | lc | sort)
    got=$(jq -r '.legacy_filters[] | "\(.device) \(.driver)"' <<<"$j" | lc | sort)
    [ -n "$want" ] && [ "$want" = "$got" ] || fail "$tag legacy devices: want [$want] got [$got]"
    want=$(mf_get "$f" altitude_problem | awk '{print $2, $3}' | sort)
    got=$(jq -r '.warnings[] | "\(.legacy_driver) \(.minifilter)"' <<<"$j" | sort)
    [ "$want" = "$got" ] || fail "$tag altitude problems: want [$want] got [$got]"
    local txt a rest leg mini
    txt=$(nkt "$f" "$SYM" '!fltkd.filters')
    for n in $(mf_get "$f" fltfilter | awk '{print $2 "|" $3 "|" $4}'); do
        a=${n%%|*} rest=${n#*|}
        grep -q "FLT_FILTER: ${a#0x} \"${rest%%|*}\" \"${rest#*|}\"" <<<"$txt" || fail "$tag text: no FLT_FILTER line for $n"
    done
    if [ -n "$(mf_get "$f" altitude_problem)" ]; then
        while read -r _ leg mini; do
            grep -q "^WARNING: legacy filter ${leg##*\\} (altitude [0-9.]*) is attached above frame 0, which holds minifilter $mini" <<<"$txt" ||
                fail "$tag text: no warning for $leg above $mini"
        done < <(mf_get "$f" altitude_problem)
        grep -q "Remedy: have a new frame created above" <<<"$txt" || fail "$tag text: no remedy"
        grep -q "dummy minifilter" <<<"$txt" || fail "$tag text: the remedy does not name the dummy minifilter"
    else
        ! grep -q "^WARNING" <<<"$txt" || fail "$tag text: a warning where the manifest has no altitude problem"
    fi
    # ---- volumes
    j=$(cmd '!fltkd.volumes')
    want=$(mf_get "$f" fltvolume | awk '{print $2, $3}' | lc | sort)
    got=$(jq -r '.frames[].volumes[] | "\(.addr) \(.name)"' <<<"$j" | lc | sort)
    [ -n "$want" ] && [ "$want" = "$got" ] || fail "$tag volumes: want [$want] got [$got]"
    local vn fid jv
    while read -r _ va vn fid; do
        want=$(mf_get "$f" fltinstance | awk -v v="$va" '$4 == v {print $2}' | lc | sort)
        got=$(jq -r --arg v "$va" '.frames[].volumes[] | select(.addr == $v) | .instances[].addr' <<<"$j" | lc | sort)
        [ "$want" = "$got" ] || fail "$tag volume $va instances: want [$want] got [$got]"
        jv=$(cmd "!fltkd.volume $va")
        [ "$(jq -r '"\(.addr) \(.name) \(.frame_id) \(.file_system)"' <<<"$jv" | lc)" = "$(echo "$va $vn $fid flt_fstype_ntfs" | lc)" ] ||
            fail "$tag !fltkd.volume $va: $(jq -c '{addr,name,frame_id,file_system,error}' <<<"$jv")"
        got=$(jq -r '.instances[].addr' <<<"$jv" | lc | sort)
        [ "$want" = "$got" ] || fail "$tag !fltkd.volume $va instances"
        # seed 004: the member lines (Callbacks ... NameCacheCtrl) give each member's address,
        # the volume plus the member's offset in the layout the generator used (fltlayout)
        local lay mem off
        lay=$(mf_get "$f" fltlayout | awk '{print $2}')
        for mem in Callbacks ContextLock VolumeContexts StreamListCtrls FileListCtrls NameCacheCtrl; do
            off=$(jq -r --arg m "$mem" '.user_types._FLT_VOLUME.fields[$m].offset' "$lay")
            [ "$(jq -r --arg m "$mem" '.members[$m].addr' <<<"$jv" | lc)" = "$(printf '0x%x' $((va + off)))" ] ||
                fail "$tag !fltkd.volume $va: $mem at $(jq -c --arg m "$mem" '.members[$m]' <<<"$jv"), layout offset $off"
        done
    done < <(mf_get "$f" fltvolume)
    # !fltkd.volume by the frame-0 device object
    [ -z "$fdev" ] || [ "$(cmd "!fltkd.volume $fdev" | jq -r .addr | lc)" = "$(echo "$v0" | lc)" ] ||
        fail "$tag: !fltkd.volume $fdev (the frame-0 device object) does not give volume $v0"
    # ---- instances
    local fname alt ji
    while read -r _ ia fname va alt; do
        ji=$(cmd "!fltkd.instance $ia")
        [ "$(jq -r '"\(.addr) \(.filter_name) \(.volume) \(.altitude) \(.name)"' <<<"$ji" | lc)" = \
            "$(echo "$ia $fname $va $alt $fname Instance" | lc)" ] ||
            fail "$tag !fltkd.instance $ia: $(jq -c . <<<"$ji")"
    done < <(mf_get "$f" fltinstance)
}

# the seed's case on every layout (x64 full and bitmap dumps, XP x86 PAE), the split on three
check_scene win7 fltmgr full
f7=$LAST
check_scene w1809 fltmgr bitmap
check_scene w19041 fltmgr full
check_scene w22000 fltmgr bitmap
check_scene win7 fltmgr-split full
s7=$LAST
check_scene w22000 fltmgr-split bitmap
if [ -s "$FLTDIR/fltmgr-x86.json" ]; then
    check_scene xp fltmgr pae
    check_scene xp fltmgr-split pae
else
    fail "the 32-bit stand-in ($FLTDIR/fltmgr-x86.json) is not built"
fi

# the seed's facts, independently of the generator's own bookkeeping
if [ -s "$f7" ]; then
    [ "$(mf_get "$f7" fltframe | awk '{print $3, $4, $5}')" = "0 0 329998.99" ] || fail "seed 003: frame 0 stretched to 0..329998.99"
    [ "$(mf_get "$f7" altitude_problem | awk '{print $2, $3}')" = "\\Driver\\EncryptionLegacy AVMiniFilter" ] ||
        fail "seed 003: EncryptionLegacy above AVMiniFilter"
    j=$(nk "$f7" "$SYM" '!fltkd.filters')
    [ "$(jq -r '.warnings[0].legacy_altitude + " " + .warnings[0].minifilter_altitude' <<<"$j")" = "149998.99 328000" ] ||
        fail "seed 003: the warning's altitudes: $(jq -c .warnings <<<"$j")"
fi
if [ -s "$s7" ]; then
    [ "$(mf_get "$s7" fltframe | awk '{print $3, $4, $5}' | sort)" = "$(printf '0 0 149998.99\n1 149998.99 329998.99')" ] ||
        fail "seed 003 split: frames 0..149998.99 and 149998.99..329998.99"
    [ "$(mf_get "$s7" fltfilter | awk '$3 == "NullFilter" || $3 == "AVMiniFilter" {print $5}' | sort -u)" = 1 ] ||
        fail "seed 003 split: NullFilter and AVMiniFilter in frame 1"
fi

# ---- without fltmgr.pdb on the symbol path: the message the commands give
if [ -s "$f7" ]; then
    for c in '!fltkd.filters' '!fltkd.frames' '!fltkd.volumes' '!fltkd.volume 0xfffffa8000000000' '!fltkd.instance 0xfffffa8000000000'; do
        out=$(nkt "$f7" "$(scene_sympath)" "$c")
        grep -q "fltmgr's types are unavailable: !fltkd needs fltmgr.pdb on the symbol path" <<<"$out" ||
            fail "$c without fltmgr.pdb: $out"
    done
    out=$(nkt "$f7" "$SYM" '!fltkd.volume 0x1234')
    grep -q "neither a filter-manager volume nor the device object of one" <<<"$out" || fail "!fltkd.volume 0x1234: $out"
    out=$(nkt "$f7" "$SYM" '!fltkd.instance 0x10')
    grep -q "is not in the dump" <<<"$out" || fail "!fltkd.instance 0x10: $out"
fi

# ---- types without legacy-filter records (as the real fltmgr's): altitudes from the frame bounds
if [ -s "$FLTDIR/fltmgr-nolegacy.json" ]; then
    for sc in fltmgr fltmgr-split; do
        d=$T/nl-$sc.dmp
        table=$(scene_table w19041)
        NTKD_FLTMGR_LAYOUT=$FLTDIR/fltmgr-nolegacy.json "$GENSCENE" --table "$table" --scene $sc --kind full "$d" >/dev/null 2>&1 ||
            { fail "nolegacy $sc: generator failed"; continue; }
        j=$(nk "$d" "$(scene_sympath);$FLTDIR/sym-nolegacy" '!fltkd.filters')
        av=$(jq -r '.legacy_filters[] | select(.driver == "\\Driver\\AVLegacy") | .altitude' <<<"$j")
        [ "$av" = 329998.99 ] || fail "nolegacy $sc: AVLegacy's altitude from the top frame's bound: '$av'"
        en=$(jq -r '.legacy_filters[] | select(.driver == "\\Driver\\EncryptionLegacy") | .altitude' <<<"$j")
        if [ $sc = fltmgr-split ]; then
            [ "$en" = 149998.99 ] || fail "nolegacy split: EncryptionLegacy's altitude from frame 1's low bound: '$en'"
            [ "$(jq '.warnings | length' <<<"$j")" = 0 ] || fail "nolegacy split: warnings"
        else
            [ -z "$en" ] || fail "nolegacy: EncryptionLegacy's altitude cannot be known from the frames: '$en'"
            jq -r .diagnosis_note <<<"$j" | grep -q "altitude of legacy filter .Driver.EncryptionLegacy .* is unknown" ||
                fail "nolegacy: no note on the unknown altitude: $(jq -c .diagnosis_note <<<"$j")"
        fi
    done
fi

# ---- hostile: frame 0's link turned into a cycle that does not return to the list head
if [ -s "$f7" ]; then
    cp "$f7" "$T/cyc.dmp"
    fr=$(mf_get "$f7" fltframe | awk '{print $2}')
    head=$(nk "$f7" "$SYM" '!fltkd.frames' | jq -r .frame_list)
    if python3 - "$T/cyc.dmp" "$fr" "$head" <<'EOF'
import struct, sys
path, frame, head = sys.argv[1], int(sys.argv[2], 16), int(sys.argv[3], 16)
data = bytearray(open(path, "rb").read())
# the frame's Links = {Flink, Blink} both at the list's rList (single frame): find them by
# value next to the frame's FrameID; point Flink back at the frame's own Links
rlist = None
for off in range(0, 0x100, 8):
    cand = head + off
    pat = struct.pack("<QQ", cand, cand)
    if data.count(pat) == 1:
        rlist = cand
        break
if rlist is None:
    sys.exit(1)
i = data.index(struct.pack("<QQ", rlist, rlist))
links = None
for off in range(0, 0x40, 8):  # the Links field's offset inside the frame is not known here
    if data.count(struct.pack("<QQ", frame + off, frame + off)) == 1:
        links = frame + off
        break
if links is None:
    sys.exit(1)
data[i:i + 8] = struct.pack("<Q", links)
open(path, "wb").write(data)
EOF
    then
        out=$(timeout 20 "$NTKD" -z "$T/cyc.dmp" -y "$SYM" -c '!fltkd.frames; !fltkd.filters' 2>&1)
        rc=$?
        [ $rc -lt 124 ] || fail "hostile cycle: ntkd hung or crashed (rc $rc)"
        grep -q "cycle that does not return to the head" <<<"$out" || fail "hostile cycle: no message: $(head -5 <<<"$out")"
    else
        fail "hostile cycle: could not patch the frame link"
    fi
fi

# ---- hostile: random words around the filter manager's objects overwritten (12 variants); every
# command must end (no hang, no crash, no sanitizer report)
if [ -s "$f7" ]; then
    fr=$(mf_get "$f7" fltframe | awk '{print $2}')
    for i in $(seq 1 12); do
        python3 - "$f7" "$T/mut.dmp" "$fr" "$i" <<'EOF2' || { fail "mutation $i: could not write"; break; }
import random, struct, sys
src, dst, frame, seed = sys.argv[1], sys.argv[2], int(sys.argv[3], 16), int(sys.argv[4])
data = bytearray(open(src, "rb").read())
# the frame's page in the file: its FrameID/Links area is found by the address values pointing at it
pat = struct.pack("<Q", frame)[:6]
hits = [i for i in range(0, len(data) - 8, 8) if data[i:i + 6] == pat] or [len(data) // 2]
rnd = random.Random(seed)
base = hits[0] & ~0xfff
for _ in range(48):
    off = base + rnd.randrange(-0x1000, 0x2000) // 8 * 8
    if 0 <= off < len(data) - 8:
        data[off:off + 8] = struct.pack("<Q", rnd.choice([0, 0xffffffffffffffff, rnd.getrandbits(64),
                                                          frame + rnd.randrange(0, 0x1000)]))
open(dst, "wb").write(data)
EOF2
        out=$(timeout 30 "$NTKD" -z "$T/mut.dmp" -y "$SYM" -c '!fltkd.filters; !fltkd.frames; !fltkd.volumes' 2>&1)
        rc=$?
        if [ $rc -ge 124 ] || grep -q "AddressSanitizer\|runtime error" <<<"$out"; then
            fail "mutation $i: rc $rc: $(grep -m3 "ERROR\|error" <<<"$out")"
        fi
    done
fi

[ $fails -eq 0 ] && echo "fltkd: all checks passed"
exit $((fails > 0))
