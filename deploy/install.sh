#!/usr/bin/env bash
# Installs the platform from this checkout on a Debian 12 host: Debian packages, the code in
# /opt/ctp (npm ci + build), /etc/ctp/ctp.env, the systemd units; then starts it.
# Re-running it upgrades in place (see "Upgrades" in the README). Run as root.
set -euo pipefail
src="$(cd "$(dirname "$0")/.." && pwd)"
prefix="${CTP_PREFIX:-/opt/ctp}"
etc="${CTP_ETC:-/etc/ctp}"
units="${CTP_UNITS_DIR:-/etc/systemd/system}"
start="${CTP_START:-yes}"

[ "$(id -u)" = 0 ] || { echo "install.sh: run as root" >&2; exit 1; }

echo "==> Debian packages"
packages=(qemu-system-x86 qemu-utils nftables iproute2 ca-certificates postgresql-client openssl busybox-static cpio xz-utils kmod npm)
missing=()
for p in "${packages[@]}"; do dpkg -s "$p" >/dev/null 2>&1 || missing+=("$p"); done
if [ ${#missing[@]} -gt 0 ]; then
  apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${missing[@]}"
fi

echo "==> code in $prefix"
mkdir -p "$prefix"
# The checkout without its build output and local state; node_modules comes from npm ci.
tar -C "$src" --exclude=./node_modules --exclude='./apps/*/node_modules' --exclude='./packages/*/node_modules' \
  --exclude=./data --exclude=./.git -cf - . | tar -C "$prefix" -xf -
(cd "$prefix" && npm ci --no-audit --no-fund && npm run build && bash scripts/build-demo-images.sh)

echo "==> settings in $etc/ctp.env"
mkdir -p "$etc"
chmod 700 "$etc"
if [ ! -f "$etc/ctp.env" ]; then
  umask 077
  cat >"$etc/ctp.env" <<ENV
# Cyber Training Platform settings (README: Configuration). Changed? systemctl restart ctp
PORT=8080
CTP_DATA_DIR=/var/lib/ctp
CTP_IMAGES_DIR=$prefix/images/build
CTP_ADMIN_PASSWORD=$(openssl rand -base64 18)
# DATABASE_URL=postgres://ctp:secret@127.0.0.1:5432/ctp
# CTP_TLS_CERT=/etc/ctp/tls/fullchain.pem
# CTP_TLS_KEY=/etc/ctp/tls/privkey.pem
# CTP_HTTP_REDIRECT_PORT=80
# CTP_METRICS_TOKEN=
# SENTRY_DSN=
ENV
  echo "    first admin password: see CTP_ADMIN_PASSWORD in $etc/ctp.env"
fi

echo "==> systemd units"
for unit in "$src"/deploy/systemd/*.service "$src"/deploy/systemd/*.timer; do
  sed "s#/opt/ctp#$prefix#g" "$unit" >"$units/$(basename "$unit")"
done
if [ "$start" = yes ]; then
  systemctl daemon-reload
  systemctl enable --now ctp.service ctp-backup.timer
  systemctl --no-pager status ctp.service | head -5
fi
echo "==> done: http://$(hostname -f):8080 (journalctl -u ctp -f for the logs)"
