#!/bin/bash
# trap.sh: !analyze -v switches to the trap frame a bug check names (0x8E: Arg3). On the
# generator's "trap8e" scene for every x64 layout, the analysis must report the manifest's trap
# frame, take the faulting IP and the stack from the frame's registers (the first frame's
# Child-SP is the frame's Rsp), and blame the manifest's culprit, in text and --json. .trap on
# the same address must give the same registers.
# usage: bash trap.sh NTKD_BIN GENDUMP CORPUS_DIR WORKDIR
set -u
source "$(dirname "$0")/scene_lib.sh" "$@"
SYMP=$(scene_sympath)
fails=0
fail() { echo "FAIL: $*"; fails=$((fails + 1)); }
bq() { printf '%s`%s' "${1:0:8}" "${1:8:8}"; } # 16 hex digits as WinDbg prints them
cat >"$WORKDIR/trap_check.py" <<'EOF'
import json, sys
tf, rip, mod, fn = sys.argv[1:]
a = json.load(sys.stdin)["analysis"]
assert int(a["trap_frame"], 16) == int(tf, 16), a["trap_frame"]
assert int(a["faulting_ip"], 16) == int(rip, 16), a["faulting_ip"]
assert a["module_name"] == mod, a["module_name"]
assert a["failure_bucket_id"] == "AV_%s!%s" % (mod, fn), a["failure_bucket_id"]
EOF
for layout in win7 w1809 w19041 w22000; do
  kind=full
  [ "$layout" = w22000 ] && kind=bitmap
  f=$(scene_dump "$layout" trap8e "$kind") || { fail "$layout: scene not built"; continue; }
  read -r _ tf rip rsp < <(mf_get "$f" trap)
  read -r _ img fn < <(mf_get "$f" culprit)
  mod=${img%.sys}
  tf16=$(printf '%016x' "$tf"); rip16=$(printf '%016x' "$rip"); rsp16=$(printf '%016x' "$rsp")
  out=$("$NTKD" -z "$f" -y "$SYMP" -c '!analyze -v' 2>&1)
  grep -qF "TRAP_FRAME:  $(bq "$tf16") -- (.trap $tf)" <<<"$out" || fail "$layout: TRAP_FRAME line"
  grep -qF "rip=$(bq "$rip16")" <<<"$out" || fail "$layout: the trap frame's rip in the register block"
  grep -q "^$mod!$fn+0x" <<<"$out" || fail "$layout: FAULTING_IP symbol"
  first=$(sed -n '/^STACK_TEXT:/{n;p;q}' <<<"$out")
  [[ "$first" == "$(bq "$rsp16") "* ]] || fail "$layout: the stack does not start at the trap frame's rsp ($first)"
  [[ "$first" == *": $mod!$fn+0x"* ]] || fail "$layout: first frame is not $mod!$fn ($first)"
  grep -q "^MODULE_NAME:  $mod\$" <<<"$out" || fail "$layout: MODULE_NAME"
  grep -q "^FAILURE_BUCKET_ID:  AV_$mod!$fn\$" <<<"$out" || fail "$layout: FAILURE_BUCKET_ID"
  "$NTKD" -z "$f" -y "$SYMP" --json -c '!analyze -v' 2>/dev/null |
    python3 "$WORKDIR/trap_check.py" "$tf" "$rip" "$mod" "$fn" || fail "$layout: JSON facts"
  # .trap gives the same rip and rsp
  t2=$("$NTKD" -z "$f" -y "$SYMP" -c ".trap $tf; r rip; r rsp" 2>&1)
  grep -qF "rip=$rip16" <<<"$t2" || fail "$layout: .trap rip"
  grep -qF "rsp=$rsp16" <<<"$t2" || fail "$layout: .trap rsp"
done
if [ "$fails" -eq 0 ]; then echo "trap: all checks passed"; exit 0; fi
echo "trap: $fails failures"; exit 1
