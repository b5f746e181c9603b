#!/usr/bin/env bash
# Takes a fresh clone on a fresh Debian 12 machine to a built platform: system packages
# (QEMU, nftables, the demo images' inputs), Node 24 via npm, dependencies, demo VM images, build.
# Run as root (or with sudo): it installs Debian packages and lab networks need CAP_NET_ADMIN.
set -euo pipefail
cd "$(dirname "$0")/.."

# libglib2.0-0 libnuma1 liburing2 libudev1: the libraries of qemu-ga, copied into the demo guests.
# postgresql: its binaries (initdb, pg_ctl) run the private server of the database-restart test.
packages=(qemu-system-x86 qemu-utils nftables iproute2 busybox-static cpio xz-utils lz4 zstd kmod libglib2.0-0 libnuma1 liburing2 libudev1 mmdebstrap e2fsprogs genisoimage dnsmasq-base ovmf dosfstools mtools ca-certificates prometheus postgresql postgresql-client openssl systemd)
command -v npm >/dev/null || packages+=(nodejs npm)
missing=()
for p in "${packages[@]}"; do dpkg -s "$p" >/dev/null 2>&1 || missing+=("$p"); done
if [ ${#missing[@]} -gt 0 ]; then
  echo "==> installing Debian packages: ${missing[*]}"
  apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${missing[@]}"
fi

echo "==> installing npm dependencies (Node 24 comes with them, as the npm package node@24)"
npm ci --no-audit --no-fund

if [ -f scripts/build-demo-images.sh ]; then
  echo "==> building the demo VM images from Debian packages"
  bash scripts/build-demo-images.sh
fi
if [ -f scripts/build-debian-image.sh ]; then
  echo "==> building the full-OS demo guest (Debian 12 disk, mmdebstrap; ~10 min the first time, cached after)"
  bash scripts/build-debian-image.sh
fi

echo "==> building"
npm run build

echo "==> done. Start the platform with: npm start"
