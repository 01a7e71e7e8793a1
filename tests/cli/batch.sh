#!/usr/bin/env bash
# batch.sh: `ntkd analyze FILE|DIR ...` (batch triage, issue 5).
# A temp directory holds symlinks to the corpus kernel dumps (several copies of each, one copy
# in a subdirectory), generated dumps (copies), and corrupt files (a truncated corpus dump,
# random bytes, an empty file, a generator manifest). Checks: the run finishes with exit 0,
# every valid copy is analysed with the bugcheck code the corpus README / generator manifest
# states, all copies of one dump land in one bucket and the summary counts equal the number of
# copies, corrupt files are listed as failed with an error, --format jsonl parses as JSON and
# --format csv with python's csv module, --jobs 1 and --jobs 2 give the same summary, a worker
# crash (test hook NTKD_TEST_CRASH_ON) and a hang (NTKD_TEST_HANG_ON with --timeout) are
# reported as failed and the run continues, bad usage exits 2.
# Usage: bash batch.sh NTKD_BIN GENDUMP CORPUS_DIR WORKDIR
set -euo pipefail
NTKD=$1 GEN=$2 CORPUS=$3 WORK=$4
mkdir -p "$WORK"
T=$(mktemp -d "$WORK/batch.XXXXXX")
trap 'rm -rf "$T"' EXIT
D=$T/dumps
mkdir -p "$D/sub" "$T/gen"
K=$CORPUS/dumps/kernel
# expected: file basename -> bugcheck code (corpus README: x64 0x1000007E, arm64 0x1C8)
: > "$T/expect"
for i in 1 2 3; do
  ln -s "$K/triage-x64-19041.dmp" "$D/x64_$i.dmp"; echo "x64_$i.dmp x64 0x1000007e" >> "$T/expect"
done
ln -s "$K/triage-x64-19041.dmp" "$D/sub/x64_4.dmp"; echo "x64_4.dmp x64 0x1000007e" >> "$T/expect"
for i in 1 2; do
  ln -s "$K/triage-arm64-22000.dmp" "$D/arm64_$i.dmp"; echo "arm64_$i.dmp arm64 0x1c8" >> "$T/expect"
done
# generated dumps: code from the manifest's "bugcheck" line
"$GEN" demo "$T/gen/demo.dmp" >/dev/null
"$GEN" triage64 "$T/gen/tri.dmp" --seed 3 >/dev/null
for g in demo tri; do
  code=$(awk '$1=="bugcheck"{print $2; exit}' "$T/gen/$g.dmp.manifest")
  for i in 1 2 3; do
    cp "$T/gen/$g.dmp" "$D/${g}_$i.dmp"; echo "${g}_$i.dmp $g $code" >> "$T/expect"
  done
done
# corrupt inputs
head -c 5000 "$K/triage-x64-19041.dmp" > "$D/trunc.dmp"
head -c 4096 /dev/urandom > "$D/random.bin"
: > "$D/empty.dmp"
cp "$T/gen/demo.dmp.manifest" "$D/notes.txt"
printf '%s\n' trunc.dmp random.bin empty.dmp notes.txt > "$T/bad"

fail() { echo "FAIL: $*" >&2; exit 1; }

"$NTKD" analyze "$D" --format jsonl --jobs 2 > "$T/out2.jsonl" || fail "jobs 2 exit $?"
"$NTKD" analyze "$D" --format jsonl --jobs 1 > "$T/out1.jsonl" || fail "jobs 1 exit $?"
"$NTKD" analyze "$D" --format csv --jobs 2 > "$T/out.csv" 2>/dev/null || fail "csv exit $?"
"$NTKD" analyze "$D" --jobs 3 > "$T/out.txt" || fail "text exit $?"

python3 - "$T" <<'PY'
import csv, json, os, sys
T = sys.argv[1]
expect = {}
for line in open(os.path.join(T, "expect")):
    f, src, code = line.split()
    expect[f] = (src, int(code, 16))
bad = set(open(os.path.join(T, "bad")).read().split())
def load(p):
    dumps, summ = [], None
    for line in open(p):
        o = json.loads(line)
        if "summary" in o: summ = o["summary"]
        else: dumps.append(o)
    assert summ is not None, p + ": no summary line"
    return dumps, summ
def code_of(o):
    c = o.get("bugcheck_code", o.get("code"))
    return int(c, 0) if isinstance(c, str) else int(c)
def bucket_of(o):
    return o.get("failure_bucket_id") or o.get("FAILURE_BUCKET_ID") or o.get("bucket") or "(no bucket)"
results = {}
for jobs in ("1", "2"):
    dumps, summ = load(os.path.join(T, "out%s.jsonl" % jobs))
    names = sorted(os.path.basename(o["file"]) for o in dumps)
    assert names == sorted(list(expect) + list(bad)), ("files", names)
    src_bucket = {}
    for o in dumps:
        b = os.path.basename(o["file"])
        if b in bad:
            assert o["ok"] is False and o["error"], ("corrupt file not failed", o)
            continue
        assert o["ok"] is True, ("valid dump failed", o)
        src, code = expect[b]
        assert code_of(o) == code, ("bugcheck code", b, hex(code_of(o)), hex(code))
        src_bucket.setdefault(src, set()).add(bucket_of(o))
    copies = {}
    for f, (src, _) in expect.items(): copies[src] = copies.get(src, 0) + 1
    want = {}
    for src, bs in src_bucket.items():
        assert len(bs) == 1, ("copies of one dump in several buckets", src, bs)
        b = next(iter(bs)); want[b] = want.get(b, 0) + copies[src]
    got = {x["failure_bucket_id"]: x["count"] for x in summ["buckets"]}
    assert got == want, ("bucket counts", got, want)
    assert summ["total"] == len(expect) + len(bad) and summ["failed_count"] == len(bad), summ
    failed = {os.path.basename(x["file"]): x["error"] for x in summ["failed"]}
    assert set(failed) == bad and all(failed.values()), failed
    counts = [x["count"] for x in summ["buckets"]]
    assert counts == sorted(counts, reverse=True), "buckets not sorted by count"
    for x in summ["buckets"]:
        assert 1 <= len(x["examples"]) <= 3
    results[jobs] = summ
assert json.dumps(results["1"], sort_keys=True) == json.dumps(results["2"], sort_keys=True), "jobs 1 != jobs 2"
rows = list(csv.DictReader(open(os.path.join(T, "out.csv"), newline="")))
assert len(rows) == len(expect) + len(bad), len(rows)
for r in rows:
    b = os.path.basename(r["file"])
    if b in bad: assert r["ok"] == "false" and r["error"], r
    else: assert r["ok"] == "true" and int(r["bugcheck_code"], 0) == expect[b][1], r
PY
grep -q '^Failed (4):' "$T/out.txt" || fail "text summary has no failed section"
grep -q 'trunc.dmp: .*truncated' "$T/out.txt" || fail "truncated dump error not shown"

# crash isolation and the time limit (test hooks read only by the batch worker)
NTKD_TEST_CRASH_ON=x64_2.dmp "$NTKD" analyze "$D" --jobs 2 --format jsonl > "$T/crash.jsonl" || fail "crash run exit"
python3 - "$T/crash.jsonl" <<'PY'
import json, sys
lines = [json.loads(l) for l in open(sys.argv[1])]
d = {l["file"].rsplit("/", 1)[-1]: l for l in lines if "file" in l}
assert d["x64_2.dmp"]["ok"] is False and "signal 11" in d["x64_2.dmp"]["error"], d["x64_2.dmp"]
assert d["x64_1.dmp"]["ok"] is True and d["x64_3.dmp"]["ok"] is True
PY
NTKD_TEST_HANG_ON=arm64_1.dmp timeout 60 "$NTKD" analyze "$D" --jobs 2 --timeout 1 > "$T/hang.txt" || fail "hang run exit"
grep -q 'arm64_1.dmp: .*timed out' "$T/hang.txt" || fail "hung worker not reported"

# usage errors
set +e
"$NTKD" analyze > /dev/null 2>&1; [ $? -eq 2 ] || fail "no inputs: want exit 2"
"$NTKD" analyze "$D" --jobs 0 > /dev/null 2>&1; [ $? -eq 2 ] || fail "--jobs 0: want exit 2"
"$NTKD" analyze "$D" --format xml > /dev/null 2>&1; [ $? -eq 2 ] || fail "--format xml: want exit 2"
set -e
echo "batch: ok"
