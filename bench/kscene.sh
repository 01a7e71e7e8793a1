#!/usr/bin/env bash
# kscene.sh: the kernel-scene benchmark of issue 6. In one run, next to `cat` of the same dump
# from a warm page cache:
#  (a) `!process 0 0` over a w19041 basic scene with --procs N (default 10,000; full dump):
#      processes per second and the dump's MiB/s equivalent, ratio to cat (also with the
#      open + nt-types time of a `!pcr` run subtracted);
#  (b) `!irpfind` over a ~4 GiB w19041 scene (--fill-mb, default 4000): the physical-memory
#      scan's pages per second (its time from the JSON of `!irpfind -s`: scan.elapsed_ms, the
#      reverse page map and the scan) next to cat's pages per second; target: scan >= 50% of
#      cat's bandwidth.
# Rounds interleave cat and ntkd (a busy machine slows both alike); best of NTKD_BENCH_RUNS
# (default 3) each. (b) also compares CPU time (user + system: cat's from /usr/bin/time, the
# scan's from scan.cpu_ms), which other load on the machine does not inflate. Release build in build-bench, like bench/run.sh. Needs ~4.5 GB free in
# $TMPDIR (or /tmp).
# Usage: bash bench/kscene.sh [PROCS] [FILL_MB]
set -euo pipefail
cd "$(dirname "$0")/.."
PROCS=${1:-10000}
FILL=${2:-4000}
source bench/kscene_lib.sh kscene
TABLE=$ISF/5278AFF86C341677D7D7835C85B7B844-1.json.xz

# ---- (a) !process 0 0 over PROCS processes
a=$dir/procs.dmp
s=$(date +%s.%N)
$GEN --table "$TABLE" --scene basic --kind full --procs "$PROCS" "$a" >/dev/null
e=$(date +%s.%N)
nproc_mf=$(awk '$1 == "process"' "$a.manifest" | wc -l)
size=$(stat -c %s "$a")
python3 -c "print('(a) w19041 basic --procs $PROCS full: %d MiB, %d processes in the manifest (generated in %.1f s)' % ($size / 1048576, $nproc_mf, $e - $s))"
cat "$a" >/dev/null # warm the page cache
# baseline: `!pcr` opens the dump and loads nt's types (what !process 0 0 needs before its walk)
tc=() tp=() t0=()
for _ in $(seq "$RUNS"); do
  tc+=("$(secs cat "$a")")
  tp+=("$(secs "$NTKD" -z "$a" -y "$SYMPATH" -c "!process 0 0")")
  t0+=("$(secs "$NTKD" -z "$a" -y "$SYMPATH" -c "!pcr")")
done
tc=$(minf "${tc[@]}")
tp=$(minf "${tp[@]}")
t0=$(minf "${t0[@]}")
listed=$("$NTKD" -z "$a" -y "$SYMPATH" -c "!process 0 0" 2>/dev/null | grep -c '^PROCESS ' || true)
[ "$listed" = "$nproc_mf" ] || echo "  WARNING: !process 0 0 listed $listed processes, the manifest has $nproc_mf"
python3 -c "
size, n, tc, tp, t0 = $size, $nproc_mf, $tc, $tp, $t0
mib = size / 1048576
walk = max(tp - t0, 1e-6)
print('  cat:           %.3f s = %.0f MiB/s (best of $RUNS, warm cache)' % (tc, mib / tc))
print('  !process 0 0:  %.3f s = %.0f processes/s = %.0f MiB/s of dump (best of $RUNS; whole run: open, nt types, walk, print)' % (tp, n / tp, mib / tp))
print('  baseline (!pcr: open + nt types): %.3f s; the walk and printing: %.3f s = %.0f processes/s = %.0f MiB/s' % (t0, walk, n / walk, mib / walk))
print('  ratio to cat (cat time / ntkd time): whole run %.2f, walk alone %.2f' % (tc / tp, tc / walk))
"

# ---- (b) !irpfind over a ~4 GiB scene
b=$dir/big.dmp
s=$(date +%s.%N)
$GEN --table "$TABLE" --scene basic --kind full --fill-mb "$FILL" "$b" >/dev/null
e=$(date +%s.%N)
size=$(stat -c %s "$b")
python3 -c "print('(b) w19041 basic --fill-mb $FILL full: %d MiB (generated in %.1f s)' % ($size / 1048576, $e - $s))"
cat "$b" >/dev/null # warm the page cache
scan_field() { # FIELD of the JSON of the last `!irpfind -s` run
  python3 -c "
import json, sys
for l in open('$dir/scan.json'):
    if l.startswith('{'):
        d = json.loads(l); s = d['scan']; s['count'] = d['count']; print(s['$1']); break"
}
tc=() ts=() ta=() cc=() cs=()
for _ in $(seq "$RUNS"); do
  tc+=("$(secs cat "$b")")
  cc+=("$(cpu cat "$b")")
  s=$(date +%s.%N)
  "$NTKD" -z "$b" -y "$SYMPATH" --json -c "!irpfind -s" >"$dir/scan.json" 2>/dev/null
  e=$(date +%s.%N)
  ta+=("$(python3 -c "print($e - $s)")")
  ts+=("$(python3 -c "print($(scan_field elapsed_ms) / 1e3)")")
  cs+=("$(python3 -c "print($(scan_field cpu_ms) / 1e3)")")
done
cc=$(minf "${cc[@]}")
cs=$(minf "${cs[@]}")
tc=$(minf "${tc[@]}")
ts=$(minf "${ts[@]}")
ta=$(minf "${ta[@]}")
tall=$(secs "$NTKD" -z "$b" -y "$SYMPATH" -c "!irpfind")
dpages=$(scan_field dump_pages)
spages=$(scan_field pages_scanned)
nirps=$(scan_field count)
want=$(awk '$1 == "irp"' "$b.manifest" | wc -l)
[ "$nirps" = "$want" ] || echo "  WARNING: the scan found $nirps IRPs, the manifest has $want"
python3 -c "
size, dpages, spages, tc, ts, ta, tall, cc, cs = $size, $dpages, $spages, $tc, $ts, $ta, $tall, $cc, $cs
cat_pps = dpages / tc
scan_pps = spages / ts
print('  cat:        %.3f s = %.0f pages/s = %.0f MiB/s (best of $RUNS, warm cache; %d pages in the dump)' % (tc, cat_pps, size / 1048576 / tc, dpages))
print('  scan:       %.3f s = %.0f pages/s = %.0f MiB/s (best of $RUNS; reverse page map + scan of the %d pages the kernel maps; $nirps IRPs)' % (ts, scan_pps, spages * 4096 / 1048576 / ts, spages))
print('  whole runs: !irpfind -s %.3f s (best of $RUNS), !irpfind (scan + thread lists) %.3f s' % (ta, tall))
print('  ratio scan / cat bandwidth: %.2f (target >= 0.50); whole !irpfind -s run / cat: %.2f' % (scan_pps / cat_pps, (dpages / ta) / cat_pps))
ratio = '%.2f' % ((spages / cs) / (dpages / cc)) if cs > 0 and cc > 0 else 'not measurable (a time of 0 at this size)'
print('  CPU time (user + system, best of $RUNS; what a loaded machine does not distort): cat %.3f s, scan %.3f s; ratio %s' % (cc, cs, ratio))
"
