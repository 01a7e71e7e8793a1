#!/usr/bin/env bash
# kpool.sh: the pool benchmark of issue 7. `!poolused`, `!poolfind Leak` and `!ca 0` over a
# ~4 GiB kernel scene (ntkd-genscene --fill-mb), next to `cat` of the same dump from a warm page
# cache, in the same run; rounds interleave cat and ntkd (a busy machine slows both alike), best
# of NTKD_BENCH_RUNS (default 3) each.
#  - w1809 `pool` scene (classic pool: !poolfind scans every present kernel page for pool-header
#    chains after the big-pool table);
#  - w1809 `mm` scene (!ca 0: the MmCa/MmCi pool-tag search plus one pass over the PFN database,
#    one entry per physical page of the dump);
#  - w19041 `pool` scene (segment heap: !poolfind walks the heaps' segments, not memory).
# Reported: each command's whole-run time, the same minus the time to open the dump and load nt's
# types (a `!pcr` run; nt's types come from the type-table cache, warm after the first run; the
# cold time, parsing the xz ISF, is shown beside it), and the dump's pages per second next to
# cat's; target: >= 50% of cat's bandwidth. The page scans map the dump's pages on helper threads
# ahead of the scan (src/base/prefetch.c). Release build in build-bench, like bench/kscene.sh.
# Needs ~9 GB free in $TMPDIR.
# Usage: bash bench/kpool.sh [FILL_MB]
set -euo pipefail
cd "$(dirname "$0")/.."
FILL=${1:-4000}
source bench/kscene_lib.sh kpool
W1809=$ISF/8B11040A5928757B11390AC78F6B6925-1.json.xz
W19041=$ISF/5278AFF86C341677D7D7835C85B7B844-1.json.xz

bench_one() { # LABEL TABLE SCENE CMD...
  local label=$1 table=$2 scene=$3
  shift 3
  local d=$dir/$scene.dmp s e
  rm -f "$dir"/*.dmp "$dir"/*.manifest
  s=$(date +%s.%N)
  $GEN --table "$table" --scene "$scene" --kind full --fill-mb "$FILL" "$d" >/dev/null
  e=$(date +%s.%N)
  local size
  size=$(stat -c %s "$d")
  python3 -c "print('%s: %s scene --fill-mb $FILL, full dump of %d MiB (generated in %.1f s)' % ('$label', '$scene', $size / 1048576, $e - $s))"
  cat "$d" >/dev/null # warm the page cache
  local tc=() t0=() tcold=()
  for _ in $(seq "$RUNS"); do
    tc+=("$(secs cat "$d")")
    tcold+=("$(NTKD_CACHE_DIR=off secs "$NTKD" -z "$d" -y "$SYMPATH" -c "!pcr")")
    t0+=("$(secs "$NTKD" -z "$d" -y "$SYMPATH" -c "!pcr")")
  done
  tc=$(minf "${tc[@]}")
  t0=$(minf "${t0[@]}")
  tcold=$(minf "${tcold[@]}")
  python3 -c "
size, tc, t0, tcold = $size, $tc, $t0, $tcold
print('  cat:                  %.3f s = %.0f pages/s (best of $RUNS, warm cache)' % (tc, size / 4096 / tc))
print('  open + nt types (!pcr): %.3f s (%.3f s without the type-table cache: the xz ISF parsed)' % (t0, tcold))"
  local cmd
  for cmd in "$@"; do
    local tt=()
    for _ in $(seq "$RUNS"); do
      secs cat "$d" >/dev/null # interleaved with cat, as the rounds above
      tt+=("$(secs "$NTKD" -z "$d" -y "$SYMPATH" -c "$cmd")")
    done
    local t
    t=$(minf "${tt[@]}")
    python3 -c "
size, tc, t0, t = $size, $tc, $t0, $t
pages = size / 4096
work = t - t0
rest = ('without the open: %.3f s, ratio %.2f' % (work, tc / work)) if work > 0.005 else 'the work itself is within the open time (does not grow with the dump)'
print('  %-22s whole run %.3f s = %.0f pages/s, ratio to cat %.2f; %s' % ('$cmd', t, pages / t, tc / t, rest))"
  done
}

bench_one "(1) w1809" "$W1809" pool '!poolused' '!poolfind Leak'
bench_one "(2) w1809" "$W1809" mm '!ca 0' '!memusage'
bench_one "(3) w19041" "$W19041" pool '!poolused' '!poolfind Leak'
echo "target: >= 0.50 of cat's bandwidth"
