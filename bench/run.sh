#!/usr/bin/env bash
# run.sh: the container benchmark of issue 2. Generates a 2 GiB bitmap dump, then in one run
# measures `cat` of it from the page cache and ntkd's open time and full physical read, and
# prints the ratios. Usage: bash bench/run.sh [pages]   (default 524288 pages = 2 GiB)
set -euo pipefail
cd "$(dirname "$0")/.."
PAGES=${1:-524288}
cmake -S . -B build-bench -G Ninja -DCMAKE_BUILD_TYPE=Release -DNTKD_TESTS=OFF >/dev/null
ninja -C build-bench ntkd-gendump bench_phys >/dev/null
dir=$(mktemp -d /tmp/ntkd-bench.XXXXXX)
trap 'rm -rf "$dir"' EXIT
dump="$dir/bitmap.dmp"
build-bench/tests/gen/ntkd-gendump bitmap64 "$dump" --pages "$PAGES" >/dev/null
size=$(stat -c %s "$dump")
cat "$dump" >/dev/null   # warm the page cache
best_cat=1e9
for i in 1 2 3; do
  s=$(date +%s.%N); cat "$dump" >/dev/null; e=$(date +%s.%N)
  best_cat=$(python3 -c "print(min($best_cat, $e - $s))")
done
cat_mib=$(python3 -c "print($size / 1048576 / $best_cat)")
echo "file: $((size / 1048576)) MiB, $PAGES data pages"
printf 'cat:              %.1f MiB/s (best of 3)\n' "$cat_mib"
for mode in copy ptr; do
  best=""
  for i in 1 2 3; do
    line=$(build-bench/bench/bench_phys "$dump" $mode)
    r=$(sed -E 's/.*read_mib_s=([0-9.]+).*/\1/' <<<"$line")
    if [ -z "$best" ] || python3 -c "import sys; sys.exit(0 if $r > $best else 1)"; then best=$r; bestline=$line; fi
  done
  echo "ntkd read ($mode): $bestline"
  python3 -c "print('  ratio to cat: %.2f' % ($best / $cat_mib))"
done
