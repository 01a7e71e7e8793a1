#!/usr/bin/env bash
# batch.sh: the batch-triage benchmark of issue 5. 1,000 symlinks (in a temp dir) to the corpus
# small (triage) kernel dumps, analysed by `ntkd analyze DIR --summary-only -y <corpus symstore>`
# with --jobs 1 and --jobs 2 (Release build). Prints dumps/s per run and the peak RSS of the
# largest process of the run (/usr/bin/time -v "Maximum resident set size": the maximum over
# ntkd and its waited-for workers, i.e. the worst worker or the parent, whichever is larger).
# Each dump is analysed in a fresh forked worker: no symbol cache survives between dumps.
# Usage: bash bench/batch.sh [COUNT]   (default 1000)
set -euo pipefail
cd "$(dirname "$0")/.."
CORPUS=${NTKD_CORPUS:-$(cd ../shared/corpus && pwd)}
N=${1:-1000}
cmake -S . -B build-bench-batch -G Ninja -DCMAKE_BUILD_TYPE=Release -DNTKD_TESTS=OFF >/dev/null
ninja -C build-bench-batch ntkd >/dev/null
T=$(mktemp -d)
trap 'rm -rf "$T"' EXIT
src=("$CORPUS/dumps/kernel/triage-x64-19041.dmp" "$CORPUS/dumps/kernel/triage-arm64-22000.dmp")
mkdir "$T/dumps"
for ((i = 0; i < N; i++)); do ln -s "${src[$((i % 2))]}" "$T/dumps/d$i.dmp"; done
cat "${src[@]}" > /dev/null # warm the page cache
for jobs in 1 2; do
  s=$(date +%s.%N)
  /usr/bin/time -v -o "$T/time.$jobs" build-bench-batch/ntkd analyze "$T/dumps" --jobs "$jobs" --summary-only \
    -y "$CORPUS/symstore" > "$T/sum.$jobs"
  e=$(date +%s.%N)
  rss=$(awk -F': ' '/Maximum resident set size/{print $2}' "$T/time.$jobs")
  python3 -c "n=$N; d=$e-$s; print(f'jobs $jobs: {n} dumps in {d:.2f} s = {n/d:.0f} dumps/s ({n/d/$jobs:.0f} per job); peak RSS {$rss} KiB')"
done
grep -E '^Summary|^ +[0-9]+ ' "$T/sum.2"
