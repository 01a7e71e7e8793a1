#!/usr/bin/env bash
# pdb.sh: the PDB reader benchmark of issue 3. In one run: ntkd's open-to-first-`ln` and
# open-to-first-`dt` times, `ln` lookups per second and resident memory (bench_pdb), next to
# `llvm-pdbutil-14 dump -publics` on the same files, with the ratios.
# Usage: bash bench/pdb.sh            (basic32.pdb and ntkrnlpa.pdb of the corpus)
set -euo pipefail
cd "$(dirname "$0")/.."
CORPUS=${NTKD_CORPUS:-../shared/corpus}
cmake -S . -B build-bench -G Ninja -DCMAKE_BUILD_TYPE=Release -DNTKD_TESTS=OFF >/dev/null
ninja -C build-bench bench/bench_pdb >/dev/null
files=(
  "$CORPUS/pdb-fixtures/dump_syms/basic32.pdb:_EXCEPTION_RECORD"
  "$CORPUS/symstore/ntkrnlpa.pdb/30B5FB31AE7E4ACAABA750AA241FF3312/ntkrnlpa.pdb:_EPROCESS"
  "$CORPUS/symstore/ntdll.pdb/CCC0E36120F424BE044DE630C3BD80C43/ntdll.pdb:_EPROCESS"
)
best_of3() { # prints the best wall time in seconds of 3 runs of "$@", or "fail"
  local best=""
  for _ in 1 2 3; do
    local s e
    s=$(date +%s.%N)
    if ! "$@" >/dev/null 2>&1; then echo fail; return; fi
    e=$(date +%s.%N)
    best=$(python3 -c "b='$best'; d=$e-$s; print(d if not b else min(float(b), d))")
  done
  echo "$best"
}
for spec in "${files[@]}"; do
  file=${spec%:*}
  cat "$file" >/dev/null # warm the page cache
  line=$(build-bench/bench/bench_pdb "$spec")
  echo "ntkd: $line"
  ln_ms=$(sed -E 's/.*first_ln_ms=([0-9.]+).*/\1/' <<<"$line")
  dt_ms=$(sed -E 's/.*first_dt_ms=([0-9.]+).*/\1/' <<<"$line")
  if command -v llvm-pdbutil-14 >/dev/null; then
    t=$(best_of3 llvm-pdbutil-14 dump -publics "$file")
    if [ "$t" = fail ]; then
      echo "  llvm-pdbutil-14 dump -publics: fails on this file (no ratio)"
    else
      python3 -c "t=$t*1e3; print('  llvm-pdbutil-14 dump -publics: %.1f ms (best of 3); ratio to ntkd first ln: %.0fx, to first dt: %.0fx' % (t, t/$ln_ms, t/$dt_ms))"
    fi
  else
    echo "  llvm-pdbutil-14 not installed: no ratio"
  fi
done
echo "targets: first ln (index ready) < 20 ms; > 5 M ln/s; rss_ratio < 2"
