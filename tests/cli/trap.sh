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

# Bug check 0xD1 (scene "trapd1"): no parameter names the trap frame; !analyze -v must find it
# by unwinding the crash stack through nt!KiPageFault's machine frame (its unwind info:
# UWOP_PUSH_MACHFRAME with the error code). As WinDbg shows it: STACK_TEXT is the whole crash
# stack (nt!KeBugCheckEx, nt!KiBugCheckDispatch, nt!KiPageFault whose Child-SP is the
# KTRAP_FRAME), then the driver routine the trap frame names, at Child-SP = the frame's Rsp;
# TRAP_FRAME, the registers and FAULTING_IP from the frame; the driver blamed, bucket
# AV_<module>!<function> (WinDbg buckets 0xA/0xD1 page faults as access violations).
cat >"$WORKDIR/trapd1_check.py" <<'EOF2'
import json, sys
tf, rip, rsp, mod, img, fn, code = sys.argv[1:]
a = json.load(sys.stdin)["analysis"]
assert int(a["bugcheck_code"], 16) == int(code, 16), a["bugcheck_code"]
assert int(a["trap_frame"], 16) == int(tf, 16), a.get("trap_frame")
assert int(a["faulting_ip"], 16) == int(rip, 16), a["faulting_ip"]
assert a["faulting_ip_symbol"].startswith("%s!%s+0x" % (mod, fn)), a["faulting_ip_symbol"]
assert a["module_name"] == mod, a["module_name"]
assert a["image_name"].lower() == img.lower(), a.get("image_name")
assert a["failure_bucket_id"] == "AV_%s!%s" % (mod, fn), a["failure_bucket_id"]
lines = [l for l in a["stack_text"].splitlines() if " : " in l]
assert lines[0].endswith(": nt!KeBugCheckEx"), lines[0]
kpf = [i for i, l in enumerate(lines) if ": nt!KiPageFault+0x" in l]
assert kpf, "no nt!KiPageFault frame"
i = kpf[0]
assert int(lines[i].split()[0].replace("`", ""), 16) == int(tf, 16), lines[i]
nxt = lines[i + 1]
assert int(nxt.split()[0].replace("`", ""), 16) == int(rsp, 16), nxt
assert (": %s!%s+0x" % (mod, fn)) in nxt, nxt
EOF2
for layout in win7 w1809 w19041 w22000; do
  kind=full
  [ "$layout" = w19041 ] && kind=bitmap
  f=$(scene_dump "$layout" trapd1 "$kind") || { fail "$layout d1: scene not built"; continue; }
  read -r _ tf rip rsp < <(mf_get "$f" trap)
  read -r _ img fn < <(mf_get "$f" culprit)
  code=$(mf_get "$f" header | awk '$2 == "BugCheckCode" {print $3}')
  p4=$(mf_get "$f" header | awk '$2 == "BugCheckParameter4" {print $3}')
  mod=${img%.sys}
  tf16=$(printf '%016x' "$tf"); rip16=$(printf '%016x' "$rip"); rsp16=$(printf '%016x' "$rsp")
  [ "$((code))" -eq $((0xd1)) ] && [ "$((p4))" -eq "$((rip))" ] || fail "$layout d1: manifest bug check $code P4 $p4"
  out=$("$NTKD" -z "$f" -y "$SYMP" -c '!analyze -v' 2>&1)
  grep -q "^DRIVER_IRQL_NOT_LESS_OR_EQUAL (d1)" <<<"$out" || fail "$layout d1: bug check name"
  grep -qF "TRAP_FRAME:  $(bq "$tf16") -- (.trap $tf)" <<<"$out" || fail "$layout d1: TRAP_FRAME line"
  grep -qF "rip=$(bq "$rip16")" <<<"$out" || fail "$layout d1: the trap frame's rip in the register block"
  grep -qF "rsp=$(bq "$rsp16")" <<<"$out" || fail "$layout d1: the trap frame's rsp in the register block"
  grep -q "^$mod!$fn+0x" <<<"$out" || fail "$layout d1: FAULTING_IP symbol"
  st=$(sed -n '/^STACK_TEXT:/,/^$/p' <<<"$out" | grep ' : ')
  [[ "$(head -1 <<<"$st")" == *": nt!KeBugCheckEx" ]] || fail "$layout d1: STACK_TEXT does not start at nt!KeBugCheckEx"
  grep -q ": nt!KiBugCheckDispatch+0x" <<<"$st" || fail "$layout d1: no nt!KiBugCheckDispatch frame"
  kpf=$(grep ": nt!KiPageFault+0x" <<<"$st")
  [[ "$kpf" == "$(bq "$tf16") $(bq "$rip16") "* ]] ||
    fail "$layout d1: nt!KiPageFault's frame is not at the trap frame returning to rip ($kpf)"
  after=$(grep -A1 ": nt!KiPageFault+0x" <<<"$st" | sed -n 2p)
  [[ "$after" == "$(bq "$rsp16") "* ]] || fail "$layout d1: the frame after the trap is not at its rsp ($after)"
  [[ "$after" == *": $mod!$fn+0x"* ]] || fail "$layout d1: the frame after the trap is not $mod!$fn ($after)"
  grep -q "^MODULE_NAME:  $mod\$" <<<"$out" || fail "$layout d1: MODULE_NAME"
  grep -qi "^IMAGE_NAME:  $img\$" <<<"$out" || fail "$layout d1: IMAGE_NAME"
  grep -q "^FAILURE_BUCKET_ID:  AV_$mod!$fn\$" <<<"$out" || fail "$layout d1: FAILURE_BUCKET_ID"
  "$NTKD" -z "$f" -y "$SYMP" --json -c '!analyze -v' 2>/dev/null |
    python3 "$WORKDIR/trapd1_check.py" "$tf" "$rip" "$rsp" "$mod" "$img" "$fn" "$code" || fail "$layout d1: JSON facts"
  # k on the crashing thread: through the machine frame (kv names the trap frame)
  kv=$("$NTKD" -z "$f" -y "$SYMP" -c 'kv' 2>&1)
  grep -qF "nt!KiPageFault+0x" <<<"$kv" || fail "$layout d1: k shows no nt!KiPageFault frame"
  grep -qF "(TrapFrame @ $(bq "$tf16"))" <<<"$kv" || fail "$layout d1: kv does not name the trap frame"
  kaft=$(grep -A1 "nt!KiPageFault+0x" <<<"$kv" | sed -n 2p)
  [[ "$kaft" == "$(bq "$rsp16") "*"$mod!$fn+0x"* ]] || fail "$layout d1: k after the trap ($kaft)"
  "$NTKD" -z "$f" -y "$SYMP" --json -c 'k' 2>/dev/null | python3 -c '
import json, sys
tf, rsp, mod, fn = sys.argv[1:]
def frames(o):
    if isinstance(o, dict):
        if "frames" in o: return o["frames"]
        for v in o.values():
            r = frames(v)
            if r is not None: return r
    if isinstance(o, list):
        for v in o:
            r = frames(v)
            if r is not None: return r
fr = frames(json.load(sys.stdin))
i = [n for n, x in enumerate(fr) if x["call_site"].startswith("nt!KiPageFault+")][0]
assert fr[i]["how"] == "machframe", fr[i]
assert int(fr[i]["machine_frame"], 16) - int(tf, 16) == 0x168, fr[i]   # _KTRAP_FRAME.Rip
assert int(fr[i + 1]["child_sp"], 16) == int(rsp, 16), fr[i + 1]
assert fr[i + 1]["call_site"].startswith("%s!%s+" % (mod, fn)), fr[i + 1]
' "$tf" "$rsp" "$mod" "$fn" || fail "$layout d1: k --json"
  # .trap gives the same rip and rsp, and k from there starts in the driver
  t2=$("$NTKD" -z "$f" -y "$SYMP" -c ".trap $tf; r rip; r rsp; k" 2>&1)
  grep -qF "rip=$rip16" <<<"$t2" || fail "$layout d1: .trap rip"
  grep -qF "rsp=$rsp16" <<<"$t2" || fail "$layout d1: .trap rsp"
  first=$(grep -A1 '^Child-SP' <<<"$t2" | tail -1)
  [[ "$first" == "$(bq "$rsp16") "*"$mod!$fn+0x"* ]] || fail "$layout d1: k after .trap ($first)"
done
# xp (x86 PAE): the same crash through nt!KiTrap0E, which keeps ebp at its KTRAP_FRAME (a
# kernel-mode trap pushed no esp: the interrupted esp is where HardwareEsp would be). STACK_TEXT
# and k show ChildEBP: KiTrap0E's is the trap frame, its RetAddr the faulting eip, the driver
# routine next; kv names the trap frame; k --json gives the driver frame's stack pointer.
f=$(scene_dump xp trapd1 pae)
if [ -z "$f" ]; then
  fail "xp d1: scene not built"
else
  read -r _ tf eip esp < <(mf_get "$f" trap)
  read -r _ img fn < <(mf_get "$f" culprit)
  mod=${img%.sys}
  tf8=$(printf '%08x' "$tf"); eip8=$(printf '%08x' "$eip"); esp8=$(printf '%08x' "$esp")
  out=$("$NTKD" -z "$f" -y "$SYMP" -c '!analyze -v' 2>&1)
  grep -q "^DRIVER_IRQL_NOT_LESS_OR_EQUAL (d1)" <<<"$out" || fail "xp d1: bug check name"
  grep -qF "TRAP_FRAME:  $tf8 -- (.trap $tf)" <<<"$out" || fail "xp d1: TRAP_FRAME line"
  grep -qF "eip=$eip8" <<<"$out" || fail "xp d1: the trap frame's eip in the register block"
  grep -qF "esp=$esp8" <<<"$out" || fail "xp d1: the trap frame's esp in the register block"
  grep -q "^$mod!$fn+0x" <<<"$out" || fail "xp d1: FAULTING_IP symbol"
  st=$(sed -n '/^STACK_TEXT:/,/^$/p' <<<"$out" | sed '1d;/^$/d;/^(stack walk/d')
  [[ "$(head -1 <<<"$st")" == *" nt!KeBugCheckEx"* ]] || fail "xp d1: STACK_TEXT does not start at nt!KeBugCheckEx"
  ktr=$(grep " nt!KiTrap0E+0x" <<<"$st")
  [[ "$ktr" == "$tf8 $eip8 "* ]] || fail "xp d1: nt!KiTrap0E's frame is not the trap frame returning to eip ($ktr)"
  after=$(grep -A1 " nt!KiTrap0E+0x" <<<"$st" | sed -n 2p)
  [[ "$after" == *" $mod!$fn+0x"* ]] || fail "xp d1: the frame after the trap is not $mod!$fn ($after)"
  grep -q "^MODULE_NAME:  $mod\$" <<<"$out" || fail "xp d1: MODULE_NAME"
  grep -qi "^IMAGE_NAME:  $img\$" <<<"$out" || fail "xp d1: IMAGE_NAME"
  grep -q "^FAILURE_BUCKET_ID:  AV_$mod!$fn\$" <<<"$out" || fail "xp d1: FAILURE_BUCKET_ID"
  "$NTKD" -z "$f" -y "$SYMP" --json -c '!analyze -v' 2>/dev/null | python3 -c '
import json, sys
tf, eip, mod, img, fn = sys.argv[1:]
a = json.load(sys.stdin)["analysis"]
assert int(a["trap_frame"], 16) == int(tf, 16), a.get("trap_frame")
assert int(a["faulting_ip"], 16) == int(eip, 16), a["faulting_ip"]
assert a["module_name"] == mod and a["image_name"].lower() == img.lower(), a
assert a["failure_bucket_id"] == "AV_%s!%s" % (mod, fn), a["failure_bucket_id"]
' "$tf" "$eip" "$mod" "$img" "$fn" || fail "xp d1: JSON facts"
  kv=$("$NTKD" -z "$f" -y "$SYMP" -c 'kv' 2>&1)
  grep -qF "nt!KiTrap0E+0x" <<<"$kv" && grep -qF "(TrapFrame @ $tf8)" <<<"$kv" || fail "xp d1: kv does not name the trap frame"
  "$NTKD" -z "$f" -y "$SYMP" --json -c 'k' 2>/dev/null | python3 -c '
import json, sys
tf, esp, mod, fn = sys.argv[1:]
fr = json.load(sys.stdin)["frames"]
i = [n for n, x in enumerate(fr) if x["call_site"].startswith("nt!KiTrap0E+")][0]
assert fr[i]["how"] == "trap" and int(fr[i]["machine_frame"], 16) == int(tf, 16), fr[i]
assert int(fr[i + 1]["child_sp"], 16) == int(esp, 16), fr[i + 1]
assert fr[i + 1]["call_site"].startswith("%s!%s+" % (mod, fn)), fr[i + 1]
' "$tf" "$esp" "$mod" "$fn" || fail "xp d1: k --json"
  t2=$("$NTKD" -z "$f" -y "$SYMP" -c ".trap $tf; r eip; r esp; k" 2>&1)
  grep -qF "eip=$eip8" <<<"$t2" || fail "xp d1: .trap eip"
  grep -qF "esp=$esp8" <<<"$t2" || fail "xp d1: .trap esp"
  first=$(grep -A1 '^ChildEBP' <<<"$t2" | tail -1)
  [[ "$first" == *" $mod!$fn+0x"* ]] || fail "xp d1: k after .trap ($first)"
fi
if [ "$fails" -eq 0 ]; then echo "trap: all checks passed"; exit 0; fi
echo "trap: $fails failures"; exit 1
