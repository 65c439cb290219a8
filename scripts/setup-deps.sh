#!/usr/bin/env bash
# Installs every Debian 12 package ipfixkit needs to build, test, fuzz and benchmark.
# Idempotent; run as root (or with sudo available). Used by the README commands and .ci/run.
set -euo pipefail

PACKAGES=(
  build-essential cmake pkg-config python3
  libcmocka-dev libpcap-dev libssl-dev openssl   # openssl: test certificates
  clang libclang-rt-dev                 # libFuzzer + sanitizers
  tshark libfixbuf-tools nfdump softflowd   # interop peers (tests and benchmarks)
  tcpdump time
  libusrsctp-dev                        # IPFIX over SCTP (src/transport/sctp.c)
  iproute2 nftables                     # PR-SCTP loss test: netns + nft drop rule
)

SUDO=""
if [ "$(id -u)" -ne 0 ]; then SUDO="sudo"; fi

missing=()
for p in "${PACKAGES[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ ${#missing[@]} -eq 0 ]; then
  exit 0
fi
echo "setup-deps: installing ${missing[*]}" >&2
export DEBIAN_FRONTEND=noninteractive
# tshark asks whether non-root users may capture; answer no without a prompt.
echo "wireshark-common wireshark-common/install-setuid boolean false" | $SUDO debconf-set-selections
$SUDO apt-get update -qq
$SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
