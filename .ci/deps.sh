#!/usr/bin/env bash
# Install the Debian 12 packages libentity needs to build, test and benchmark. Run as root.
# Used by the README's two commands and by .ci/run, so all three install the same thing.
set -euo pipefail
PKGS=(build-essential cmake pkg-config python3
      clang libclang-rt-14-dev liblmdb-dev lmdb-utils libmsgpack-dev libjansson-dev libxxhash-dev libcunit1-dev libbsd-dev
      libsqlite3-dev
      libmicrohttpd-dev curl chromium   # entity serve; its tests use curl and headless Chromium
      nats-server libnats-dev           # the NATS component (libentity/nats) and its tests
      libssl-dev openssl                # an NKey seed's public key (libcrypto); the TLS test's certificates
      locales)                          # charmaps for localedef: tests build a host's locale (a comma decimal point)
# Every package there already (a machine that ran this before, as CI's): nothing to do, and no
# apt at all. apt-get update needs the network and the mirrors, and fails (exit 100) when an index
# cannot be fetched: a run with nothing to install failed on a mirror's hiccup.
missing=()
for p in "${PKGS[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q ' installed$' || missing+=("$p")
done
if [ ${#missing[@]} -eq 0 ]; then
  echo "deps: already installed: ${PKGS[*]}"
  exit 0
fi
SUDO=
[ "$(id -u)" = 0 ] || SUDO=sudo
export DEBIAN_FRONTEND=noninteractive
# Wait for another apt (an unattended upgrade, a parallel job) instead of failing at once.
# Downloads retried: one dropped connection to a mirror is not a failed run.
APT=(apt-get -o DPkg::Lock::Timeout=600 -o Acquire::Retries=3)
$SUDO "${APT[@]}" update -qq
$SUDO "${APT[@]}" install -y -qq --no-install-recommends "${PKGS[@]}" >/dev/null
echo "deps: installed ${PKGS[*]}"
