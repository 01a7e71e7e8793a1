#!/usr/bin/env bash
# disasm.sh: the disassembly benchmark of issue 4. In one run: ntkd's disassembly throughput
# (bench_disasm: linear sweep over .text, WinDbg-style text lines written to /dev/null) next
# to `llvm-objdump-14 -d` over the same .text (Intel syntax for x86/x64, output to /dev/null),
# with the ratio. Target: ntkd at least as fast (ratio >= 1). Images whose .text llvm-objdump
# handles in under 20 ms beyond its start-up get no ratio (the timing would be noise).
# Usage: bash bench/disasm.sh [IMAGE...]   (default: Wdf01000.sys, amdppm.sys, user32.dll,
#                                            dump_syms_regtest64.exe, seh/x86 and ARM64 xcpt4.exe)
set -euo pipefail
cd "$(dirname "$0")/.."
CORPUS=${NTKD_CORPUS:-../shared/corpus}
cmake -S . -B build-bench -G Ninja -DCMAKE_BUILD_TYPE=Release -DNTKD_TESTS=OFF >/dev/null
ninja -C build-bench bench/bench_disasm >/dev/null
if [ $# -gt 0 ]; then
  files=("$@")
else
  files=(
    "$CORPUS"/symstore/Wdf01000.sys/*/Wdf01000.sys
    "$CORPUS"/symstore/amdppm.sys/*/amdppm.sys
    "$CORPUS/pdb-fixtures/rizin/user32.dll"
    "$CORPUS/pdb-fixtures/dump_syms/dump_syms_regtest64.exe"
    "$CORPUS/pdb-fixtures/seh/x86/xcpt4.exe"
    "$CORPUS/pdb-fixtures/seh/ARM64/xcpt4.exe"
  )
fi
best_of3() { # prints the best wall time in seconds of 3 runs of "$@" (output discarded), or "fail"
  local best=""
  for _ in 1 2 3; do
    local s e
    s=$(date +%s.%N)
    "$@" >/dev/null 2>&1 || true
    e=$(date +%s.%N)
    best=$(python3 -c "b='$best'; d=$e-$s; print(d if not b else min(float(b), d))")
  done
  echo "$best"
}
for file in "${files[@]}"; do
  [ -f "$file" ] || { echo "missing: $file"; continue; }
  cat "$file" >/dev/null # warm the page cache
  line=$(build-bench/bench/bench_disasm "$file")
  echo "ntkd: $line"
  rate=$(sed -E 's/.*bytes_per_s=([0-9.]+).*/\1/' <<<"$line")
  bytes=$(sed -E 's/.*text_bytes=([0-9]+).*/\1/' <<<"$line")
  arch=$(sed -E 's/.*arch=([A-Za-z0-9]+).*/\1/' <<<"$line")
  if command -v llvm-objdump-14 >/dev/null; then
    flags=(-d --section=.text)
    [ "$arch" != ARM64 ] && [ "$arch" != arm64 ] && flags+=(--x86-asm-syntax=intel)
    # llvm-objdump's process start-up, measured on an empty run, is not counted against it
    t=$(best_of3 llvm-objdump-14 "${flags[@]}" "$file")
    t0=$(best_of3 llvm-objdump-14 --version)
    python3 -c "
t=$t-$t0; b=$bytes; r=$rate
if t < 0.02:
    print('  llvm-objdump-14: %.1f ms over its %.1f ms start-up: too small an image for a meaningful ratio' % ($t*1e3, $t0*1e3)); raise SystemExit
print('  llvm-objdump-14 %s: %.1f ms (best of 3, start-up %.1f ms subtracted) = %.1f MB/s; ntkd %.1f MB/s; ratio ntkd/llvm-objdump = %.2fx' % (' '.join('''${flags[*]}'''.split()), t*1e3, $t0*1e3, b/t/1e6, r/1e6, r/(b/t)))"
  else
    echo "  llvm-objdump-14 not installed: no ratio"
  fi
done
echo "target: ratio >= 1 (at least as fast as llvm-objdump-14)"
