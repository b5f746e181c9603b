#!/usr/bin/env bash
# Builds the full-OS demo guest into images/build/debian/ from Debian packages only, with
# mmdebstrap (no other download): a Debian 12 root filesystem (systemd, cloud-init,
# qemu-guest-agent, openssh-server, and the attacker tools nmap, curl, netcat-openbsd — one image
# serves both demo roles) on an ext4 disk without a partition table, stored as a standalone qcow2,
# plus the Debian cloud kernel and the initramfs made inside the image for direct kernel boot
# (root=/dev/vda). Guests are configured by cloud-init from a NoCloud seed (label "cidata") only.
# Cached by the hash of its inputs (this script, the apt sources): a re-run with the same inputs
# does nothing. Usage: build-debian-image.sh [--force]
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
out="$root/images/build/debian"

need=()
for p in mmdebstrap e2fsprogs qemu-utils; do dpkg -s "$p" >/dev/null 2>&1 || need+=("$p"); done
if [ ${#need[@]} -gt 0 ]; then
  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${need[@]}"
fi

# The machine's own apt sources (deb822 or one-line), so the build uses whatever mirror apt uses.
sources=()
for f in /etc/apt/sources.list /etc/apt/sources.list.d/*.list /etc/apt/sources.list.d/*.sources; do
  [ -s "$f" ] && grep -qE '^\s*(deb |Types:)' "$f" && sources+=("$f")
done
[ ${#sources[@]} -gt 0 ] || { echo "no apt sources found in /etc/apt" >&2; exit 1; }

packages="systemd,systemd-sysv,udev,dbus,cloud-init,qemu-guest-agent,openssh-server,sudo,iproute2,iputils-ping,netbase,ifupdown,isc-dhcp-client,linux-image-cloud-amd64,initramfs-tools,nmap,curl,netcat-openbsd,ca-certificates,less"
# Runs inside the new root before it is packed: what a cloud image would have.
customize="$(cat <<'SH'
#!/bin/sh
set -e
r="$1"
# NoCloud only: no probing of cloud metadata services that do not exist in a lab.
cat > "$r/etc/cloud/cloud.cfg.d/90-ctp.cfg" <<'CFG'
datasource_list: [ NoCloud, None ]
datasource:
  NoCloud:
    fs_label: cidata
CFG
echo 'LABEL=root / ext4 defaults,errors=remount-ro 0 1' > "$r/etc/fstab"
# No host keys or machine id shared by every guest: cloud-init and systemd make new ones.
rm -f "$r"/etc/ssh/ssh_host_*
: > "$r/etc/machine-id"
rm -f "$r/var/lib/dbus/machine-id"
echo localhost > "$r/etc/hostname"
# Network configuration comes from cloud-init (ifupdown renderer): nothing hard-wired here.
printf 'auto lo\niface lo inet loopback\nsource /etc/network/interfaces.d/*\n' > "$r/etc/network/interfaces"
# The guest agent starts whenever its virtio-serial port exists.
mkdir -p "$r/etc/systemd/system/dev-virtio\\x2dports-org.qemu.guest_agent.0.device.wants"
ln -sf /lib/systemd/system/qemu-guest-agent.service \
  "$r/etc/systemd/system/dev-virtio\\x2dports-org.qemu.guest_agent.0.device.wants/qemu-guest-agent.service"
# Faster boots under TCG: nothing waits for a network that cloud-init already configured.
chroot "$r" systemctl mask systemd-networkd-wait-online.service apt-daily.timer apt-daily-upgrade.timer e2scrub_reap.service >/dev/null 2>&1 || true
rm -rf "$r"/var/lib/apt/lists/* "$r"/var/cache/apt/*.bin "$r"/usr/share/doc/* "$r"/usr/share/man/* "$r"/usr/share/locale/*
SH
)"
# What the image is made of: the package list, the customization, the apt sources, the disk layout.
layout="ext4 4G no-partition-table qcow2 v1"
hash="$( (echo "$packages"; echo "$customize"; cat "${sources[@]}"; echo "$layout") | sha256sum | cut -c1-16)"
[ "${1:-}" = "--hash" ] && { echo "$hash"; exit 0; }
if [ -f "$out/manifest.json" ] && grep -q "\"inputHash\": \"$hash\"" "$out/manifest.json" && [ "${1:-}" != "--force" ]; then
  echo "Debian image present in $out (inputs $hash)"
  exit 0
fi
# A build with the same inputs made on this machine before (another clone, an earlier CI run):
# hard links (the files are read-only), or copies across filesystems.
cache="${CTP_IMAGE_CACHE:-/var/cache/ctp-images}/debian-$hash"
if [ -f "$cache/manifest.json" ] && [ "${1:-}" != "--force" ]; then
  rm -rf "$out" && mkdir -p "$(dirname "$out")"
  cp -al "$cache" "$out" 2>/dev/null || cp -a "$cache" "$out"
  echo "Debian image taken from the build cache $cache"
  exit 0
fi

work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT
started=$(date +%s)
printf '%s\n' "$customize" > "$work/customize.sh"
chmod +x "$work/customize.sh"
mirrors=()
for f in "${sources[@]}"; do mirrors+=("$f"); done


echo "==> mmdebstrap (Debian 12, minbase + $packages)"
mmdebstrap --variant=minbase --mode=root --quiet \
  --include="$packages" \
  --dpkgopt='path-exclude=/usr/share/doc/*' --dpkgopt='path-exclude=/usr/share/man/*' --dpkgopt='path-exclude=/usr/share/locale/*' \
  --customize-hook="$work/customize.sh \"\$1\"" \
  bookworm "$work/rootfs" "${mirrors[@]}"

rm -rf "$out.tmp"; mkdir -p "$out.tmp"
kernel="$(ls "$work"/rootfs/boot/vmlinuz-* | head -n1)"
initrd="$(ls "$work"/rootfs/boot/initrd.img-* | head -n1)"
cp "$kernel" "$out.tmp/vmlinuz"
cp "$initrd" "$out.tmp/initrd"
echo "==> ext4 disk and qcow2"
truncate -s 4G "$work/disk.raw"
mkfs.ext4 -q -L root -d "$work/rootfs" "$work/disk.raw"
qemu-img convert -f raw -O qcow2 "$work/disk.raw" "$out.tmp/disk.qcow2"
chmod 0444 "$out.tmp"/*
kver="$(basename "$kernel" | sed 's/^vmlinuz-//')"
sha() { sha256sum "$1" | cut -d' ' -f1; }
cat > "$out.tmp/manifest.json" <<JSON
{
  "inputHash": "$hash",
  "name": "debian-12",
  "osFamily": "debian",
  "kernelVersion": "$kver",
  "cmdline": "root=/dev/vda rw console=tty0 console=ttyS0 quiet",
  "defaultUser": "debian",
  "files": {
    "disk.qcow2": { "size": $(stat -c %s "$out.tmp/disk.qcow2"), "sha256": "$(sha "$out.tmp/disk.qcow2")" },
    "vmlinuz": { "size": $(stat -c %s "$out.tmp/vmlinuz"), "sha256": "$(sha "$out.tmp/vmlinuz")" },
    "initrd": { "size": $(stat -c %s "$out.tmp/initrd"), "sha256": "$(sha "$out.tmp/initrd")" }
  }
}
JSON
rm -rf "$out"
mv "$out.tmp" "$out"
if mkdir -p "$cache.tmp" 2>/dev/null; then
  (cp -al "$out/." "$cache.tmp/" 2>/dev/null || cp -a "$out/." "$cache.tmp/") && rm -rf "$cache" && mv "$cache.tmp" "$cache" || rm -rf "$cache.tmp"
fi
echo "Debian image built in $out in $(( $(date +%s) - started ))s (kernel $kver, disk $(du -h "$out/disk.qcow2" | cut -f1))"
