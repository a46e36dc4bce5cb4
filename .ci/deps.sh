#!/usr/bin/env bash
# Install the Debian 12 packages libentity needs to build, test and benchmark. Run as root.
# Used by the README's two commands and by .ci/run, so all three install the same thing.
set -euo pipefail
PKGS=(build-essential cmake pkg-config python3
      clang liblmdb-dev lmdb-utils libmsgpack-dev libjansson-dev libcunit1-dev libglib2.0-dev
      libsqlite3-dev)
SUDO=
[ "$(id -u)" = 0 ] || SUDO=sudo
export DEBIAN_FRONTEND=noninteractive
$SUDO apt-get update -qq
$SUDO apt-get install -y -qq --no-install-recommends "${PKGS[@]}" >/dev/null
echo "deps: installed ${PKGS[*]}"
