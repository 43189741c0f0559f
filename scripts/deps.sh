#!/usr/bin/env bash
# Installs what promo needs to build and test, from Debian 12's packages only.
# Idempotent: asks apt only when something is missing.
set -euo pipefail

PKGS=(build-essential cmake pkg-config re2c bison
      libxxhash-dev libjemalloc-dev libcriterion-dev libbenchmark-dev libsimdjson-dev
      nats-server libnats-dev libzstd-dev curl
      clang libclang-rt-14-dev jq python3 liblmdb-dev ninja-build)

missing=()
for p in "${PKGS[@]}"; do
  if [ "$(dpkg-query -W -f='${Status}' "$p" 2>/dev/null)" != "install ok installed" ]; then
    missing+=("$p")
  fi
done
# Node.js and npm are needed only by the editor-grammar test; any installed node will do.
if ! command -v node >/dev/null 2>&1 || ! command -v npm >/dev/null 2>&1; then
  missing+=(nodejs npm)
fi

if [ ${#missing[@]} -gt 0 ]; then
  echo "deps: installing ${missing[*]}"
  SUDO=""
  if [ "$(id -u)" != 0 ]; then SUDO=sudo; fi
  export DEBIAN_FRONTEND=noninteractive
  $SUDO apt-get update -qq
  $SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi
echo "deps: all present"
