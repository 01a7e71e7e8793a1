#!/bin/bash
# fltanalyze.sh: the filter-manager finding of `!analyze -v` (src/analysis/kdiag_fltmgr.c, over
# !fltkd's check nk_flt_diagnose): on the "fltmgr" scenes (seed 003: legacy EncryptionLegacy,
# altitude 149998.99, attached above frame 0 which holds AVMiniFilter, altitude 328000) the
# analysis names both filters, both altitudes and the seed's remedy (a boot-start dummy
# minifilter that makes the filter manager create a frame above the legacy filter), in the text
# (FILTER_ALTITUDE_PROBLEM fact, NTKD_NOTES) and in --json (kernel_facts, notes), whatever the
# bug check (the scenes' own, from the manifest header). On "fltmgr-split" (the seed's fix:
# NullFilter forces frame 1) and without fltmgr's symbols there is no finding.
# The filter manager's layout in these dumps is the SYNTHETIC stand-in of tests/fltmgr (see
# fltkd.sh). usage: bash fltanalyze.sh NTKD_BIN GENDUMP CORPUS_DIR WORKDIR
source "$(dirname "$0")/scene_lib.sh" "$@"
set -u
fails=0
checked=0
fail() { echo "FAIL: $*"; fails=$((fails + 1)); }

FLTDIR=$(cd "$(dirname "$GENDUMP")/../fltmgr" 2>/dev/null && pwd)
if [ -z "$FLTDIR" ] || [ ! -s "$FLTDIR/fltmgr.json" ] || [ ! -d "$FLTDIR/sym" ]; then
    echo "FAIL: the stand-in filter-manager symbols are not built ($(dirname "$GENDUMP")/../fltmgr)"
    exit 1
fi

check() { # layout scene kind
    local lay=$1 sc=$2 kind=$3 f sym tag=$1/$2/$3
    f=$(scene_dump "$lay" "$sc" "$kind") || { fail "$tag: no dump"; return; }
    sym="$(scene_sympath);$FLTDIR/sym"
    [ "$lay" = xp ] && sym="$(scene_sympath);$FLTDIR/sym-x86"
    checked=$((checked + 1))
    local j t code
    j=$("$NTKD" -z "$f" -y "$sym" --json -c '!analyze -v' 2>/dev/null)
    t=$("$NTKD" -z "$f" -y "$sym" -c '!analyze -v' 2>&1)
    if grep -q "AddressSanitizer\|runtime error" <<<"$t"; then
        fail "$tag: sanitizer report"
        return
    fi
    # any bug check: the scene's own
    code=$(mf_get "$f" header | awk '$2 == "BugCheckCode" {print $3}')
    [ -n "$code" ] && [ $((code)) = $(($(jq -r '.analysis.bugcheck_code' <<<"$j"))) ] ||
        fail "$tag: bug check $(jq -r '.analysis.bugcheck_code' <<<"$j"), manifest $code"
    local fact notes
    fact=$(jq -r '.analysis.kernel_facts.FILTER_ALTITUDE_PROBLEM // ""' <<<"$j")
    notes=$(jq -r '.analysis.notes // ""' <<<"$j")
    if [ -z "$(mf_get "$f" altitude_problem)" ]; then
        [ -z "$fact" ] || fail "$tag: a finding where the manifest has no altitude problem: $fact"
        ! grep -q "FILTER_ALTITUDE" <<<"$t" || fail "$tag text: a finding where the manifest has none"
        return
    fi
    local leg mini malt
    while read -r _ leg mini; do
        leg=${leg##*\\}
        malt=$(mf_get "$f" fltfilter | awk -v m="$mini" '$3 == m {print $4}')
        [ -n "$malt" ] || { fail "$tag: manifest has no fltfilter line for $mini"; continue; }
        # the legacy filter's altitude: the seed's (EncryptionLegacy 149998.99)
        local lalt=""
        [ "$leg" = EncryptionLegacy ] && lalt=149998.99
        grep -q "legacy filter $leg (altitude ${lalt:-[0-9.]*}) is attached above frame [0-9]*, which holds minifilter $mini of higher altitude $malt" <<<"$fact" ||
            fail "$tag json: FILTER_ALTITUDE_PROBLEM does not name $leg ($lalt) above $mini ($malt): $fact"
        grep -q "Remedy: load a boot-start dummy minifilter, in a load order group loading after $leg, with an altitude between ${lalt:-[0-9.]*} and $malt" <<<"$fact" ||
            fail "$tag json: no remedy (seed 003: a dummy minifilter creating a frame above $leg): $fact"
        grep -q "FILTER_ALTITUDE_PROBLEM: legacy filter $leg (altitude ${lalt:-[0-9.]*}) above minifilter $mini (altitude $malt)" <<<"$notes" ||
            fail "$tag json: notes lack the finding: $notes"
        grep -q "^FILTER_ALTITUDE_PROBLEM:  legacy filter $leg (altitude ${lalt:-[0-9.]*}) is attached above frame" <<<"$t" ||
            fail "$tag text: no FILTER_ALTITUDE_PROBLEM line for $leg"
        grep -q "^FILTER_ALTITUDE_PROBLEM: legacy filter $leg .* above minifilter $mini (altitude $malt)" <<<"$t" ||
            fail "$tag text: NTKD_NOTES lack the finding for $leg"
    done < <(mf_get "$f" altitude_problem)
    # one finding per manifest line
    [ "$(grep -c '^FILTER_ALTITUDE_PROBLEM: legacy filter' <<<"$t")" = "$(mf_get "$f" altitude_problem | wc -l)" ] ||
        fail "$tag text: $(grep -c '^FILTER_ALTITUDE_PROBLEM: legacy filter' <<<"$t") findings, manifest $(mf_get "$f" altitude_problem | wc -l)"
    # without fltmgr's symbols: silent
    t=$("$NTKD" -z "$f" -y "$(scene_sympath)" -c '!analyze -v' 2>&1)
    ! grep -q "FILTER_ALTITUDE" <<<"$t" || fail "$tag: a finding without fltmgr's symbols"
}

check win7 fltmgr full
check w19041 fltmgr full
check w22000 fltmgr bitmap
check win7 fltmgr-split full
check w22000 fltmgr-split bitmap
if [ -s "$FLTDIR/fltmgr-x86.json" ]; then
    check xp fltmgr pae
    check xp fltmgr-split pae
fi

echo "fltanalyze.sh: $checked dumps checked, $fails failures"
[ $fails -eq 0 ]
