#!/bin/bash
# scene_lib.sh: helpers for CLI tests on kernel scenes (dumps written by ntkd-genscene).
#
#   source "$(dirname "$0")/scene_lib.sh" "$@"   # sets NTKD GENDUMP CORPUS WORKDIR GENSCENE
#   f=$(scene_dump w19041 9f full) || ...         # builds once into $WORKDIR/scenes/, echoes the path
#   f=$(scene_dump xp deadlock pae --hostile cycle)   # extra ntkd-genscene options after KIND
#   ntkd -z "$f" -y "$(scene_sympath)" -c "..."   # symbol path: corpus ISF tables + symstore
#   mf_get "$f" irp                               # the manifest lines of a kind (whole lines)
#   scene_table w22000                            # the kernel table (ISF) of a layout
#   scene_cli kex                                 # W=$WORKDIR/kex-cli, fails=0, fail(), SYMP
#   python3 check.py ...                          # may `import mf` (tests/cli/mf.py): on PYTHONPATH
#
# Layouts: win7 (7601), w1809 (17763), w19041, w22000 (x64 ISF tables of the corpus) and xp
# (Windows XP SP3 x86 PAE: ntkrnlpa.pdb converted by tests/gen/scene/pdb2isf.py, at build time
# into build*/tests/gen/scene/xp/ntkrnlpa.json, else here into $WORKDIR/scenes).
# Kinds: full, bitmap (64-bit layouts), pae (xp only).
# Run directly (ctest cli_scene_lib) it checks itself: mf_get on a known manifest, and one
# scene built, cached, and described by its manifest.

NTKD=${1:?usage: scene_lib.sh NTKD GENDUMP CORPUS WORKDIR}
GENDUMP=${2:?}
CORPUS=${3:?}
WORKDIR=${4:?}
GENSCENE=$(dirname "$GENDUMP")/scene/ntkd-genscene
SCENE_SRC=$(cd "$(dirname "${BASH_SOURCE[0]}")/../gen/scene" && pwd)
SCENE_DIR=$WORKDIR/scenes
mkdir -p "$SCENE_DIR"
# check scripts import tests/cli/mf.py (manifest reader, ntkd runner); no bytecode in the tree
PYTHONPATH=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)${PYTHONPATH:+:$PYTHONPATH}
export PYTHONPATH PYTHONDONTWRITEBYTECODE=1

# scene_cli NAME: the common start of a scene CLI test: its work directory W=$WORKDIR/NAME-cli
# (made), fails=0 and fail MSG (prints "FAIL: MSG", counts it), SYMP=$(scene_sympath).
scene_cli() {
    W=$WORKDIR/$1-cli
    mkdir -p "$W"
    fails=0
    fail() { echo "FAIL: $*"; fails=$((fails + 1)); }
    SYMP=$(scene_sympath)
}

# how many jobs the scripts run at once: the CPUs, at most 8
SCENE_JOBS=$(nproc 2>/dev/null || echo 4)
[ "$SCENE_JOBS" -gt 8 ] && SCENE_JOBS=8

# scene_check LAYOUT SCENE KIND MODE [genscene options...]: builds the scene (scene_dump) and runs
# the script's checker on it: python3 $W/check.py NTKD DUMP SYMP TAG MODE (TAG: what FAIL lines
# name; 300 s at most). A failure, of either, is printed and leaves a file $W/failed.* behind, so
# that checks run in the background can be counted after `wait`: scene_failed_count.
scene_check() {
    local layout=$1 scene=$2 kind=$3 mode=$4
    shift 4
    local id="$layout/$scene/$kind/$mode${*:+ $*}" f
    local mark="$W/failed.${id//[^A-Za-z0-9]/_}"
    if ! f=$(scene_dump "$layout" "$scene" "$kind" "$@"); then
        echo "FAIL: scene_dump $layout $scene $kind $*"
        touch "$mark"
        return
    fi
    timeout 300 python3 "$W/check.py" "$NTKD" "$f" "$SYMP" "$id" "$mode" || { echo "FAIL: $id"; touch "$mark"; }
}
scene_failed_count() { ls "$W"/failed.* 2>/dev/null | wc -l; }

# scene_build_list DIR: builds every scene of the array COMBOS ("LAYOUT SCENE KIND [options]"
# each) with scene_dump, in parallel (SCENE_JOBS at once), and writes DIR/list:
# one line per built dump, "PATH<TAB>TABLE<TAB>COMBO". A scene that does not build is reported
# with fail (the caller's) and left out.
scene_build_list() {
    local dir=$1 i n=${#COMBOS[@]}
    for ((i = 0; i < n; i++)); do
        (set -- ${COMBOS[$i]}; scene_dump "$@" >"$dir/path.$i" 2>"$dir/err.$i") &
        while [ "$(jobs -rp | wc -l)" -ge "$SCENE_JOBS" ]; do sleep 0.05; done
    done
    wait
    : >"$dir/list"
    for ((i = 0; i < n; i++)); do
        set -- ${COMBOS[$i]}
        local p
        p=$(cat "$dir/path.$i")
        if [ -z "$p" ]; then
            fail "build ${COMBOS[$i]}: $(cat "$dir/err.$i")"
            continue
        fi
        printf '%s\t%s\t%s\n' "$p" "$(scene_table "$1")" "${COMBOS[$i]}" >>"$dir/list"
    done
}

# The kernel table of a layout (echoes its path; 1 when unknown or not obtainable).
scene_table() {
    local isf=$CORPUS/isf/windows/ntkrnlmp.pdb
    case "$1" in
    win7) echo "$isf/339E74133576439CBCDF7E0229DA3773-1.json.xz" ;;
    w1809) echo "$isf/8B11040A5928757B11390AC78F6B6925-1.json.xz" ;;
    w19041) echo "$isf/5278AFF86C341677D7D7835C85B7B844-1.json.xz" ;;
    w22000) echo "$isf/32C1A669D5FFEFD41091F636CFDB6E99-1.json.xz" ;;
    xp)
        local built
        built=$(dirname "$GENSCENE")/xp/ntkrnlpa.json
        if [ -s "$built" ]; then
            echo "$built"
            return 0
        fi
        local mine=$SCENE_DIR/xp-ntkrnlpa.json
        if [ ! -s "$mine" ]; then
            python3 "$SCENE_SRC/pdb2isf.py" \
                "$CORPUS/symstore/ntkrnlpa.pdb/30B5FB31AE7E4ACAABA750AA241FF3312/ntkrnlpa.pdb" \
                "$mine.$$" >&2 && mv -f "$mine.$$" "$mine" || { rm -f "$mine.$$"; return 1; }
        fi
        echo "$mine"
        ;;
    *)
        echo "scene_table: unknown layout '$1' (win7 w1809 w19041 w22000 xp)" >&2
        return 1
        ;;
    esac
}

# scene_dump LAYOUT SCENE KIND [ntkd-genscene options...]: builds the dump once (cached by
# name in $WORKDIR/scenes, rebuilt when the generator or the table is newer; concurrent
# callers build into private files and rename), echoes
# its path. On failure: the generator's message on stderr, nothing on stdout, status 1.
scene_dump() {
    local layout=$1 scene=$2 kind=$3
    shift 3 || { echo "usage: scene_dump LAYOUT SCENE KIND [options]" >&2; return 1; }
    case "$layout:$kind" in
    xp:pae | win7:full | win7:bitmap | w1809:full | w1809:bitmap | w19041:full | w19041:bitmap | \
        w22000:full | w22000:bitmap) ;;
    *)
        echo "scene_dump: no $kind dump for layout $layout (x64 layouts: full|bitmap; xp: pae)" >&2
        return 1
        ;;
    esac
    local table
    table=$(scene_table "$layout") || return 1
    local extra="" a
    for a in "$@"; do extra+="_${a//[^A-Za-z0-9]/}"; done
    local out=$SCENE_DIR/$layout-$scene-$kind$extra.dmp
    # cached when both files exist and are newer than the generator and the table
    if [ -s "$out" ] && [ -s "$out.manifest" ] && [ "$out.manifest" -nt "$GENSCENE" ] &&
        [ "$out.manifest" -nt "$table" ]; then
        echo "$out"
        return 0
    fi
    if [ ! -x "$GENSCENE" ]; then
        echo "scene_dump: no generator at $GENSCENE" >&2
        return 1
    fi
    local tmp=$SCENE_DIR/.tmp.$$.$RANDOM
    mkdir -p "$tmp"
    if ! "$GENSCENE" --table "$table" --scene "$scene" --kind "$kind" "$tmp/s.dmp" "$@" \
        >"$tmp/log" 2>&1; then
        echo "scene_dump: ntkd-genscene --table $table --scene $scene --kind $kind $* failed:" >&2
        sed -e 's/^/  /' "$tmp/log" | head -20 >&2
        rm -rf "$tmp"
        return 1
    fi
    if [ ! -s "$tmp/s.dmp" ] || [ ! -f "$tmp/s.dmp.manifest" ]; then
        echo "scene_dump: ntkd-genscene wrote no dump or manifest for $layout $scene $kind" >&2
        rm -rf "$tmp"
        return 1
    fi
    mv -f "$tmp/s.dmp" "$out"
    mv -f "$tmp/s.dmp.manifest" "$out.manifest"
    rm -rf "$tmp"
    echo "$out"
}

# The -y value for scene dumps: the corpus ISF tables (found by the RSDS record nt carries)
# and the symstore (XP's real ntkrnlpa.pdb).
scene_sympath() {
    echo "$CORPUS/isf;$CORPUS/symstore"
}

# mf_get DUMP KIND: the manifest lines of that kind ("irp 0x... ..."), in manifest order.
mf_get() {
    local m=$1
    [ -f "$m" ] && [ "${m%.manifest}" = "$m" ] && m=$m.manifest
    [ -f "$m" ] || { echo "mf_get: no manifest $m" >&2; return 1; }
    awk -v k="$2" '$1 == k' "$m"
}

# ------------------------------------------------------------------ self-check
if [ "${BASH_SOURCE[0]}" = "$0" ]; then
    set -u
    fails=0
    fail() { echo "FAIL: $*"; fails=$((fails + 1)); }
    T=$(mktemp -d "$WORKDIR/scene_lib.XXXXXX")
    trap 'rm -rf "$T"' EXIT
    printf '# c\nirp 0x10 0 0x2 0x3 0x16 0x2 0x20\nirpstack 0x10 0x1 0x16\nirp 0x30 0x5 1 1 3 0 0x40\n' \
        >"$T/x.dmp.manifest"
    : >"$T/x.dmp"
    [ "$(mf_get "$T/x.dmp" irp | wc -l)" = 2 ] || fail "mf_get irp: $(mf_get "$T/x.dmp" irp)"
    [ "$(mf_get "$T/x.dmp.manifest" irpstack)" = "irpstack 0x10 0x1 0x16" ] || fail "mf_get irpstack"
    [ -z "$(mf_get "$T/x.dmp" process)" ] || fail "mf_get: lines of a kind not present"
    [ "$(scene_sympath)" = "$CORPUS/isf;$CORPUS/symstore" ] || fail "scene_sympath: $(scene_sympath)"
    for l in win7 w1809 w19041 w22000; do
        t=$(scene_table $l) && [ -s "$t" ] || fail "scene_table $l: $t"
    done
    t=$(scene_table xp) || fail "scene_table xp"
    python3 -c 'import json,sys; d=json.load(open(sys.argv[1])); assert d["metadata"]["windows"]["pdb"]["GUID"]=="30B5FB31AE7E4ACAABA750AA241FF331"' "$t" ||
        fail "scene_table xp: $t is not the XP table"
    scene_dump w19041 basic pae >/dev/null 2>&1 && fail "scene_dump accepted pae for an x64 layout"
    scene_dump nosuch basic full >/dev/null 2>&1 && fail "scene_dump accepted an unknown layout"
    if [ ! -x "$GENSCENE" ]; then
        fail "no generator at $GENSCENE"
    else
        f=$(scene_dump w19041 basic full) || fail "scene_dump w19041 basic full"
        if [ -n "${f:-}" ]; then
            [ -s "$f" ] || fail "$f empty"
            grep -q "^table 5278AFF86C341677D7D7835C85B7B844-1" "$f.manifest" ||
                fail "manifest of $f names another table: $(grep ^table "$f.manifest")"
            grep -q "^scene basic" "$f.manifest" || fail "manifest of $f: no 'scene basic' line"
            m1=$(stat -c %Y "$f")
            sleep 1
            f2=$(scene_dump w19041 basic full)
            [ "$f2" = "$f" ] && [ "$(stat -c %Y "$f")" = "$m1" ] || fail "scene_dump rebuilt a cached dump"
            [ -n "$(mf_get "$f" process)" ] || fail "no process line in $f.manifest"
        fi
    fi
    [ $fails = 0 ] && echo "scene_lib: all checks passed"
    exit $((fails > 0))
fi
