#!/bin/bash
# pte.sh: `!pte` and `!vtop` on generated dumps (x64 full, x86 PAE full, ARM64 full, raw x64),
# text and --json, checked against the generator's manifest (map / nomap / pte facts, dtb).
# usage: pte.sh NTKD_BIN GENDUMP CORPUS_DIR WORKDIR
set -u
NTKD=$1 GEN=$2 WORK=$4
DIR=$(mktemp -d "$WORK/pte.XXXXXX")
trap 'rm -rf "$DIR"' EXIT
fails=0
fail() { echo "FAIL: $*"; fails=$((fails + 1)); }

# json FILE EXPR: evaluates a Python expression on the parsed JSON object `j`.
json() { python3 -c 'import json,sys; j=json.load(open(sys.argv[1])); print(eval(sys.argv[2]))' "$1" "$2"; }

# first fact of a kind in a manifest: fact MANIFEST 'map' '4k' [VA-PREFIX]
fact() { awk -v k="$2" -v w="${3:-}" -v p="${4:-}" '$1==k && (w=="" || $NF==w) && index($2,p)==1 {print; exit}' "$1"; }

hex() { printf '%x' "$1"; }

check_dump() { # check_dump LABEL DUMP OPENFLAGS...
    local label=$1 dump=$2; shift 2
    local man=$dump.manifest out=$DIR/out.txt js=$DIR/out.json line va pa size want kp

    # a 4 KB mapping of the kernel range (not the page-table self-map, where !pte takes the
    # address as a PTE's): !vtop text and JSON, !pte JSON
    kp=0xfffff8
    grep -q '^paging \(pae\|x86\)$' "$man" && kp=0x8
    line=$(fact "$man" map 4k "$kp")
    if [ -z "$line" ]; then fail "$label: manifest has no 4k map line"; return; fi
    read -r _ va pa size <<<"$line"
    "$NTKD" "$@" "$dump" -c "!vtop $va" >"$out" 2>&1 || fail "$label: !vtop $va exited $?"
    grep -q "translates to physical address $(hex "$pa")\.$" "$out" ||
        { fail "$label: !vtop $va does not give $pa"; cat "$out"; }
    grep -q "VtoP: Virt" "$out" || fail "$label: !vtop has no VtoP header"
    "$NTKD" "$@" "$dump" --json -c "!pte $va" >"$js" 2>/dev/null || fail "$label: !pte --json exited $?"
    [ "$(json "$js" 'j["result"]')" = ok ] || fail "$label: !pte $va result is not ok"
    [ "$(json "$js" 'int(j["pa"],16)')" = "$((pa))" ] || fail "$label: !pte $va pa differs"
    [ "$(json "$js" 'len(j["levels"])')" -ge 2 ] || fail "$label: !pte $va has too few levels"
    [ "$(json "$js" 'all(l["valid"] for l in j["levels"])')" = True ] || fail "$label: !pte levels not all valid"
    "$NTKD" "$@" "$dump" --json -c "!vtop $va" >"$js" 2>/dev/null || fail "$label: !vtop --json exited $?"
    [ "$(json "$js" 'int(j["pa"],16)')" = "$((pa))" ] || fail "$label: !vtop --json pa differs"
    # text !pte: the PTE column shows the frame of the page
    "$NTKD" "$@" "$dump" -c "!pte $va" >"$out" 2>&1
    grep -q "pfn $(hex $((pa >> 12))) " "$out" || { fail "$label: !pte $va lacks pfn $(hex $((pa >> 12)))"; cat "$out"; }
    grep -q "contains " "$out" || fail "$label: !pte $va lacks the contains row"

    # a large page
    line=$(fact "$man" map 2m)
    [ -z "$line" ] && line=$(fact "$man" map 4m)
    if [ -n "$line" ]; then
        read -r _ va pa size <<<"$line"
        "$NTKD" "$@" "$dump" -c "!vtop $va" >"$out" 2>&1
        grep -q "Large page mapped phys" "$out" || { fail "$label: !vtop $va is not a large page"; cat "$out"; }
        grep -q "translates to physical address $(hex "$pa")\.$" "$out" || fail "$label: large !vtop $va pa"
        "$NTKD" "$@" "$dump" -c "!pte $va" >"$out" 2>&1
        grep -q "LARGE PAGE pfn $(hex $((pa >> 12)))" "$out" || { fail "$label: !pte $va lacks LARGE PAGE"; cat "$out"; }
    fi

    # an invalid entry and a table page the dump does not hold
    for what in invalid notindump; do
        line=$(fact "$man" nomap "$what")
        [ -z "$line" ] && continue
        read -r _ va _ <<<"$line"
        "$NTKD" "$@" "$dump" --json -c "!vtop $va" >"$js" 2>/dev/null
        [ "$(json "$js" 'j["result"]')" = "$what" ] || fail "$label: !vtop $va result is not $what"
        "$NTKD" "$@" "$dump" -c "!vtop $va" >"$out" 2>&1
        grep -q "translation fails" "$out" || fail "$label: !vtop $va does not fail"
        if [ "$what" = notindump ]; then
            grep -q "table page .* not in dump" "$out" || { fail "$label: !vtop $va lacks 'not in dump'"; cat "$out"; }
        fi
        "$NTKD" "$@" "$dump" --json -c "!pte $va" >"$js" 2>/dev/null
        [ "$(json "$js" 'j["result"]')" = "$what" ] || fail "$label: !pte $va result is not $what"
    done

    # software PTEs placed for !pte
    while read -r _ va raw kind; do
        "$NTKD" "$@" "$dump" -c "!pte $va" >"$out" 2>&1
        grep -q "not valid" "$out" || { fail "$label: !pte $va ($kind) is not 'not valid'"; cat "$out"; continue; }
        case $kind in
            transition) grep -q "Transition: " "$out" && grep -q "Protect: " "$out" ;;
            prototype) grep -q "Prototype PTE: " "$out" ;;
            pagefile) grep -q "PageFile: " "$out" && grep -q "Offset: " "$out" ;;
            demandzero) [ $((raw)) -eq 0 ] || grep -q "DemandZero" "$out" ;;
        esac || { fail "$label: !pte $va does not show $kind"; cat "$out"; }
        if [ "$kind" = transition ]; then
            # seed 002: the detail sits under the PTE column (x64: 82 blanks, x86 PAE: 28) and, on
            # a 32-bit target, an empty line follows "Transition:"
            local ind=82 nxt
            grep -q '^paging \(pae\|x86\)$' "$man" && ind=28
            grep -q "^ \{$ind\}Transition: " "$out" || { fail "$label: !pte $va: Transition not indented $ind"; cat "$out"; }
            nxt=$(grep -A1 "Transition: " "$out" | sed -n 2p)
            if [ $ind = 28 ]; then
                [ -z "$nxt" ] || fail "$label: !pte $va: no empty line after Transition (seed 002, x86)"
            else
                [ -n "$nxt" ] || fail "$label: !pte $va: an empty line after Transition (seed 002, x64)"
            fi
        fi
        "$NTKD" "$@" "$dump" --json -c "!pte $va" >"$js" 2>/dev/null
        got=$(json "$js" 'j["software"]["kind"]')
        case "$kind:$got" in
            transition:transition|prototype:prototype|pagefile:pagefile|demandzero:demandzero|demandzero:zero) ;;
            *) fail "$label: !pte --json $va software kind $got, want $kind" ;;
        esac
        [ "$(json "$js" 'j["levels"][-1]["value"]')" = "$raw" ] || fail "$label: !pte $va entry value"
    done < <(awk '$1=="pte"' "$man")

    # usage errors
    "$NTKD" "$@" "$dump" -c "!pte" >"$out" 2>&1 && fail "$label: !pte without an address succeeded"
    grep -q "usage: !pte" "$out" || fail "$label: !pte without an address gives no usage"
}

# gen KIND ARCH: writes $DIR/KIND-ARCH.dmp and sets d to it; a generator failure fails the test.
gen() {
    d=$DIR/$1-$2.dmp
    "$GEN" "$1" "$d" --arch "$2" --pages 256 --seed 5 >/dev/null && [ -s "$d.manifest" ] ||
        { fail "generator $1 --arch $2"; return 1; }
}

if gen full64 x64; then check_dump "full64 x64" "$d" -z; fi
if gen full32 x86pae; then check_dump "full32 x86pae" "$d" -z; fi
if gen full32 x86; then check_dump "full32 x86" "$d" -z; fi
if gen full64 arm64; then check_dump "full64 arm64" "$d" -z; fi
if gen bitmap64 x64; then check_dump "bitmap64 x64" "$d" -z; fi
if gen raw x64; then
    check_dump "raw x64" "$d" --raw
    dtb=$(awk '$1=="dtb"{print $2; exit}' "$d.manifest")
    "$NTKD" --raw "$d" -c "q" >/dev/null 2>"$DIR/err.txt"
    grep -q "DTB found by self-reference scan at 0x$(hex "$dtb")$" "$DIR/err.txt" ||
        { fail "raw x64: scan did not report dtb $dtb"; cat "$DIR/err.txt"; }
fi

# the x64 self-map: !pte given the address of a PTE shows the page that PTE maps
if gen full64 x64; then
    read -r _ va pa _ <<<"$(fact "$d.manifest" map 4k 0xfffff8)"
    "$NTKD" -z "$d" --json -c "!pte $va" >"$DIR/a.json" 2>/dev/null
    pteva=$(json "$DIR/a.json" 'j["levels"][3]["entry_va"]')
    if [ "$pteva" != 0x0 ]; then
        "$NTKD" -z "$d" --json -c "!pte $pteva" >"$DIR/b.json" 2>/dev/null
        [ "$(json "$DIR/b.json" 'int(j["pa"],16)>>12')" = "$((pa >> 12))" ] || fail "!pte of a PTE address ($pteva) is not the page it maps"
    fi
fi

[ $fails -eq 0 ] && echo "pte.sh: all checks passed"
exit $((fails > 0))
