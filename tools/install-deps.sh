#!/usr/bin/env bash
# install-deps.sh: installs the Debian packages ntkd builds, tests and fuzzes with.
# Skips apt entirely when everything is already installed.
set -euo pipefail
PKGS="build-essential cmake ninja-build pkg-config clang-14 lld-14 llvm-14 libclang-rt-14-dev
libzydis-dev libcapstone-dev libedit-dev libcmocka-dev libcurl4-openssl-dev liblzma-dev
libmspack-dev libjson-c-dev python3 xz-utils"
missing=()
for p in $PKGS; do
  dpkg -s "$p" >/dev/null 2>&1 || missing+=("$p")
done
if [ ${#missing[@]} -eq 0 ]; then
  exit 0
fi
SUDO=""
if [ "$(id -u)" -ne 0 ]; then SUDO="sudo"; fi
echo "installing: ${missing[*]}"
$SUDO apt-get update -qq
DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq "${missing[@]}" >/dev/null
