#!/usr/bin/env bash
# Builds the demo guests into images/build/ from Debian packages only (no other download):
# a Debian cloud kernel, and one busybox initramfs per role ("attacker", "target") carrying the
# virtio network and console modules and Debian's QEMU guest agent (qemu-ga from the
# qemu-guest-agent package, with the shared libraries it links), which serves the private guest
# channel (virtio-serial port org.qemu.guest_agent.0). Guests read their non-secret settings from
# the kernel command line (ctp.hostname=, ctp.ip=ADDR/BITS, ctp.lab=) and keep them in /etc/ctp/identity;
# a guest resumed from a saved state gets its lab's values later in that file; per-lab secrets arrive
# later through the guest agent, never on the command line or the console. Guests print
# "CTP-READY <role> <hostname>" on the serial console once up. Idempotent: does nothing when the
# images were built by this same recipe (this script and scripts/demo-images/); --force rebuilds.
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
out="$root/images/build"
src="$root/scripts/demo-images"
# A changed recipe rebuilds, so a checkout never boots guests built by an older one.
recipe="$(cat "$0" $(find "$src" -type f | sort) | sha256sum | cut -d' ' -f1)"
if [ -f "$out/manifest.json" ] && [ "$(cat "$out/recipe.sha256" 2>/dev/null)" = "$recipe" ] && [ "${1:-}" != "--force" ]; then
  echo "demo images present in $out"
  exit 0
fi

need=()
# The libraries qemu-ga links are copied from this host (the same Debian release as the agent).
for p in busybox-static cpio xz-utils lz4 zstd kmod libglib2.0-0 libnuma1 liburing2 libudev1; do dpkg -s "$p" >/dev/null 2>&1 || need+=("$p"); done
if [ ${#need[@]} -gt 0 ]; then
  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${need[@]}"
fi

work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT
cd "$work"
kpkg="$(apt-cache depends linux-image-cloud-amd64 2>/dev/null | awk '/Depends: linux-image-/ {print $2; exit}')"
if [ -z "$kpkg" ]; then apt-get update -qq; kpkg="$(apt-cache depends linux-image-cloud-amd64 | awk '/Depends: linux-image-/ {print $2; exit}')"; fi
apt-get download "$kpkg" >/dev/null 2>&1 || { apt-get update -qq; apt-get download "$kpkg"; }
dpkg-deb -x ./*.deb kernel
kver="$(ls kernel/lib/modules | head -n1)"
mkdir -p "$out"
cp kernel/boot/vmlinuz-"$kver" "$out/vmlinuz.tmp"
# The same kernel uncompressed (an ELF with a PVH entry point), which the demo guests boot from:
# QEMU maps an ELF kernel from its file where it copies a bzImage into its own heap and keeps it
# there (14 MiB more host memory per VM); the bzImage stays for UEFI boots (EFI stub).
extract_vmlinux() { # bzImage -> the first ELF found after a compression magic number
  local magic tool offset
  for pair in '\x02\x21\x4c\x18:lz4 -dc' '\x28\xb5\x2f\xfd:zstd -dcq' '\xfd\x37\x7a\x58\x5a\x00:xz -dcq' '\x1f\x8b\x08:gzip -dcq'; do
    magic="${pair%%:*}" tool="${pair#*:}"
    for offset in $(LC_ALL=C grep -obUaP "$magic" "$1" | cut -d: -f1); do
      tail -c +"$((offset + 1))" "$1" | $tool > "$2" 2>/dev/null || true
      if [ "$(head -c 4 "$2" | od -An -tx1 | tr -d ' ')" = 7f454c46 ]; then return 0; fi
    done
  done
  echo "no ELF kernel found in $1" >&2
  return 1
}
extract_vmlinux kernel/boot/vmlinuz-"$kver" "$out/vmlinux.tmp"
# PVH entry point (Xen ELF note 18, XEN_ELFNOTE_PHYS32_ENTRY): QEMU boots such an ELF directly.
LC_ALL=C grep -qaP '\x04\x00\x00\x00[\x04\x08]\x00\x00\x00\x12\x00\x00\x00Xen\x00' "$out/vmlinux.tmp" || { echo "the kernel has no PVH entry point" >&2; exit 1; }

apt-get download qemu-guest-agent >/dev/null 2>&1 || { apt-get update -qq; apt-get download qemu-guest-agent; }
dpkg-deb -x ./qemu-guest-agent_*.deb qga
qga_libs="$(ldd qga/usr/sbin/qemu-ga | awk '/=> \// {print $3} /^[ \t]*\/lib/ {print $1}')"
if ldd qga/usr/sbin/qemu-ga | grep -q 'not found'; then
  echo "qemu-ga needs libraries this host lacks:" >&2; ldd qga/usr/sbin/qemu-ga | grep 'not found' >&2; exit 1
fi

# Load order that works for Debian's cloud kernel (virtio is built as modules there).
modules="virtio_ring virtio virtio_pci_legacy_dev virtio_pci_modern_dev virtio_pci failover net_failover virtio_net virtio_console"
for role in attacker target; do
  rd="$work/rd-$role"
  mkdir -p "$rd"/{bin,sbin,etc,proc,sys,dev,tmp,root,lib/modules,var/www,usr/bin,usr/sbin}
  cp /bin/busybox "$rd/bin/busybox"
  for m in $modules; do
    f="$(find kernel/lib/modules/"$kver" -name "$m.ko*" | head -n1)"
    [ -n "$f" ] || { echo "module $m not found" >&2; exit 1; }
    case "$f" in
      *.xz) xz -dc "$f" > "$rd/lib/modules/$m.ko" ;;
      *.zst) zstd -dqc "$f" > "$rd/lib/modules/$m.ko" ;;
      *) cp "$f" "$rd/lib/modules/$m.ko" ;;
    esac
  done
  echo "$modules" > "$rd/lib/modules/order"
  cp qga/usr/sbin/qemu-ga "$rd/usr/sbin/qemu-ga"
  for lib in $qga_libs; do
    mkdir -p "$rd$(dirname "$lib")"
    cp -L "$lib" "$rd$lib"
  done
  cp "$src/init" "$rd/init"
  cp "$src/$role.sh" "$rd/role.sh"
  cp "$src/guest-agent.sh" "$rd/sbin/guest-agent"
  chmod +x "$rd/sbin/guest-agent"
  echo "$role" > "$rd/etc/role"
  # Accounts, so that files delivered over the guest agent can be given an owner (chown user:group).
  printf 'root:x:0:0:root:/root:/bin/sh\nwww-data:x:33:33:www-data:/var/www:/bin/false\nnobody:x:65534:65534:nobody:/nonexistent:/bin/false\n' > "$rd/etc/passwd"
  printf 'root:x:0:\nwww-data:x:33:\nnogroup:x:65534:\n' > "$rd/etc/group"
  chmod +x "$rd/init" "$rd/role.sh"
  (cd "$rd" && find . | cpio -o -H newc --quiet | gzip -9) > "$out/$role.initrd.tmp"
done

for f in vmlinuz vmlinux attacker.initrd target.initrd; do mv "$out/$f.tmp" "$out/$f"; done
chmod 0444 "$out/vmlinuz" "$out/vmlinux" "$out/attacker.initrd" "$out/target.initrd"
sha() { sha256sum "$1" | cut -d' ' -f1; }
size() { stat -c %s "$1"; }
cat > "$out/manifest.json" <<JSON
{
  "kernelVersion": "$kver",
  "kernelPackage": "$kpkg",
  "cmdline": "console=ttyS0 quiet panic=-1",
  "files": {
    "vmlinuz": { "size": $(size "$out/vmlinuz"), "sha256": "$(sha "$out/vmlinuz")" },
    "vmlinux": { "size": $(size "$out/vmlinux"), "sha256": "$(sha "$out/vmlinux")" },
    "attacker.initrd": { "size": $(size "$out/attacker.initrd"), "sha256": "$(sha "$out/attacker.initrd")" },
    "target.initrd": { "size": $(size "$out/target.initrd"), "sha256": "$(sha "$out/target.initrd")" }
  }
}
JSON
echo "$recipe" > "$out/recipe.sha256"
echo "demo images built in $out (kernel $kver)"
