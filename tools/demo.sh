#!/usr/bin/env bash
# demo.sh: install what ntkd needs, build it, and run it on the demo dump the build generates
# (a small full kernel dump made by the project's own generator: no third-party data).
set -euo pipefail
cd "$(dirname "$0")/.."
bash tools/install-deps.sh
cmake -S . -B build -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null
ninja -C build ntkd demo_dump
demo=build/demo/demo.dmp
va=$(awk '$1=="header" && $2=="DemoVa" {print $3}' "$demo.manifest")
set -x
./build/ntkd -z "$demo" -c ".bugcheck; vertarget; r; dq $va L8; !pte $va; q"
