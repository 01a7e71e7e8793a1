#!/usr/bin/env bash
# test.sh: the whole test suite, as CI runs it: install dependencies, build with ASan and UBSan,
# run every unit and CLI test, then run each libFuzzer target for a short time.
# Needs ../shared/corpus beside the project. FUZZ_SECONDS (default 15) sets the time per target.
set -euo pipefail
cd "$(dirname "$0")/.."
bash tools/install-deps.sh
if [ ! -d ../shared/corpus ]; then
  echo "test.sh: ../shared/corpus is missing (the test corpus must sit beside the project)" >&2
  exit 1
fi
JOBS=$(nproc)
cmake -S . -B build-test -G Ninja -DNTKD_SANITIZE=ON -DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null
ninja -C build-test
export ASAN_OPTIONS=detect_leaks=1:abort_on_error=1
export UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1
ctest_log=$(mktemp)
ctest --test-dir build-test -j"$JOBS" --output-on-failure --timeout 600 | tee "$ctest_log"
summary=$(grep -E '^[0-9]+% tests passed' "$ctest_log" | tail -n 1)
rm -f "$ctest_log"
total=$(sed -E 's/.* out of ([0-9]+).*/\1/' <<<"$summary")
failed=$(sed -E 's/.* ([0-9]+) tests failed.*/\1/' <<<"$summary")

# Fuzzing: a short run of each container parser's target, seeded with generated dumps and the corpus.
FUZZ_SECONDS=${FUZZ_SECONDS:-15}
if [ "$FUZZ_SECONDS" -gt 0 ]; then
  CC=clang-14 cmake -S . -B build-fuzz -G Ninja -DNTKD_FUZZ=ON -DNTKD_TESTS=OFF >/dev/null
  ninja -C build-fuzz
  seeds=$(mktemp -d)
  trap 'rm -rf "$seeds"' EXIT
  gen=build-test/tests/gen/ntkd-gendump
  mkdir -p "$seeds/kdump64" "$seeds/kdump32" "$seeds/triage64" "$seeds/triage32" "$seeds/mdmp" "$seeds/raw"
  "$gen" full64 "$seeds/kdump64/full.dmp" --pages 32 >/dev/null
  "$gen" bitmap64 "$seeds/kdump64/bitmap.dmp" --pages 32 >/dev/null
  "$gen" full32 "$seeds/kdump32/full.dmp" --pages 32 >/dev/null
  "$gen" triage64 "$seeds/triage64/t.dmp" >/dev/null
  "$gen" triage32 "$seeds/triage32/t.dmp" >/dev/null
  "$gen" mdmp "$seeds/mdmp/m.dmp" >/dev/null
  "$gen" raw "$seeds/raw/r.raw" --pages 32 >/dev/null
  rm -f "$seeds"/*/*.manifest
  run_fuzz() { # target, seed dir, extra read-only corpus dirs...
    local tgt=$1 dir=$2; shift 2
    echo "fuzz: $tgt for ${FUZZ_SECONDS}s"
    "build-fuzz/fuzz/$tgt" -max_total_time="$FUZZ_SECONDS" -rss_limit_mb=2048 -max_len=262144 \
      -print_final_stats=0 -artifact_prefix="$seeds/crash-" "$dir" "$@" 2>&1 | tail -n 3
    test "${PIPESTATUS[0]}" -eq 0
  }
  run_fuzz fuzz_kdump64 "$seeds/kdump64" ../shared/corpus/dumps/kernel
  run_fuzz fuzz_kdump32 "$seeds/kdump32"
  run_fuzz fuzz_triage64 "$seeds/triage64" ../shared/corpus/dumps/kernel
  run_fuzz fuzz_triage32 "$seeds/triage32"
  run_fuzz fuzz_mdmp "$seeds/mdmp" ../shared/corpus/dumps/user
  run_fuzz fuzz_raw "$seeds/raw"
  mkdir -p "$seeds/pe"
  mkdir -p "$seeds/pdb" "$seeds/cab"
  run_fuzz fuzz_pdb "$seeds/pdb" ../shared/corpus/pdb-fixtures/dump_syms
  run_fuzz fuzz_cab "$seeds/cab"
  mkdir -p "$seeds/isf"
  printf '{"metadata":{"format":"6.2.0"},"base_types":{"int":{"kind":"int","size":4,"signed":true,"endian":"little"}},"user_types":{"_S":{"kind":"struct","size":8,"fields":{"a":{"offset":0,"type":{"kind":"base","name":"int"}}}}},"enums":{},"symbols":{"x":{"address":16}}}' > "$seeds/isf/min.json"
  run_fuzz fuzz_isf "$seeds/isf"
  mkdir -p "$seeds/isfcache"
  NTKD_FUZZ_ISFCACHE_OUT="$seeds/isfcache/min.bin" build-fuzz/fuzz/fuzz_isfcache "$seeds/isf/min.json" >/dev/null 2>&1 || true
  run_fuzz fuzz_isfcache "$seeds/isfcache"
  mkdir -p "$seeds/unwind" "$seeds/rpn" "$seeds/a64unwind"
  printf '$T0 .raSearch = $eip $T0 ^ = $esp $T0 4 + = ' > "$seeds/rpn/prog"
  run_fuzz fuzz_unwind "$seeds/unwind"
  run_fuzz fuzz_rpn "$seeds/rpn"
  run_fuzz fuzz_a64unwind "$seeds/a64unwind"
  run_fuzz fuzz_pe "$seeds/pe" ../shared/corpus/pdb-fixtures/seh/x64 ../shared/corpus/pdb-fixtures/seh/ARM64
  # the kernel-object walkers: patches into the structure pages of scene dumps, each scene giving
  # some walkers data: 9f (IRPs, device stacks; 19041), pool (tracker tables per processor and
  # session, big pool, segment heaps with session and special heaps, special and session pool;
  # 19041 and classic pool on 7), verifier (per-driver trackers), mm (PFN database, pages by
  # process), deadlock (XP PAE). The kwalk runs share twice FUZZ_SECONDS.
  mkdir -p "$seeds/kwalk"
  w19041=5278AFF86C341677D7D7835C85B7B844-1.json.xz win7=339E74133576439CBCDF7E0229DA3773-1.json.xz
  kwalk_scenes=("w19041 9f full $w19041" "w19041 pool full $w19041" "win7 pool full $win7"
    "w19041 verifier full $w19041" "w19041 mm full $w19041" "xp deadlock pae")
  all_seconds=$FUZZ_SECONDS
  FUZZ_SECONDS=$(((2 * all_seconds + ${#kwalk_scenes[@]} - 1) / ${#kwalk_scenes[@]}))
  for scene in "${kwalk_scenes[@]}"; do
    set -- $scene
    if [ "$1" = xp ]; then table=build-test/tests/gen/scene/xp/ntkrnlpa.json
    else table=../shared/corpus/isf/windows/ntkrnlmp.pdb/$4; fi
    build-test/tests/gen/scene/ntkd-genscene --table "$table" --scene "$2" --kind "$3" "$seeds/$1-$2.dmp" >/dev/null
    echo "fuzz_kwalk: scene $1 $2 $3"
    NTKD_KWALK_DUMP="$seeds/$1-$2.dmp" NTKD_KWALK_SYMPATH="../shared/corpus/isf;../shared/corpus/symstore" \
      run_fuzz fuzz_kwalk "$seeds/kwalk"
  done
  FUZZ_SECONDS=$all_seconds
  echo "fuzz: all targets ran without a crash"
fi
echo "tests: $((total - failed)) passed, $failed failed"
