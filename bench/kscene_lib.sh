# kscene_lib.sh: what the kernel-scene benchmarks (kscene.sh, kpool.sh) share; sourced from the
# project root. Sets CORPUS, ISF, SYMPATH, RUNS, NTKD, GEN (Release build in build-bench) and a
# temporary $dir removed on exit (NAME: its prefix) holding NTKD_CACHE_DIR; defines secs, cpu and
# minf.
# usage: source bench/kscene_lib.sh NAME
RUNS=${NTKD_BENCH_RUNS:-3}
CORPUS=${NTKD_CORPUS:-$(cd ../shared/corpus && pwd)}
ISF=$CORPUS/isf/windows/ntkrnlmp.pdb
SYMPATH="$CORPUS/isf;$CORPUS/symstore"
cmake -S . -B build-bench -G Ninja -DCMAKE_BUILD_TYPE=Release -DNTKD_TESTS=OFF >/dev/null
ninja -C build-bench ntkd ntkd-genscene >/dev/null
NTKD=build-bench/ntkd
GEN=build-bench/tests/gen/scene/ntkd-genscene
dir=$(mktemp -d "${TMPDIR:-/tmp}/ntkd-$1.XXXXXX")
trap 'rm -rf "$dir"' EXIT
# ntkd keeps parsed type tables in a cache (README); the benchmarks use their own, filled by the
# first run, so that every timed run is a warm one and nothing is written to $HOME
export NTKD_CACHE_DIR=$dir/table-cache

secs() { # wall time in seconds of "$@" (output discarded); exits on failure
  local s e
  s=$(date +%s.%N)
  "$@" >/dev/null 2>&1 || { echo "failed: $*" >&2; exit 1; }
  e=$(date +%s.%N)
  python3 -c "print($e - $s)"
}
cpu() { # CPU time (user + system) in seconds of "$@" (output discarded)
  /usr/bin/time -f "%U %S" -o "$dir/cpu" "$@" >/dev/null 2>&1 || { echo "failed: $*" >&2; exit 1; }
  awk '{print $1 + $2}' "$dir/cpu"
}
minf() { python3 -c "import sys; print(min(float(x) for x in sys.argv[1:]))" "$@"; }
