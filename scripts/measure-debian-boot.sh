#!/usr/bin/env bash
# Measures the Debian demo guest (images/build/debian) booting under QEMU as the platform boots
# it (overlay disk, direct kernel boot, cloud-init NoCloud seed; accelerator from $ACCEL, default
# tcg; TB_SIZE_MIB bounds the TCG translation cache as CTP_TCG_TB_SIZE_MIB does for the platform):
# seconds until its SSH server answers, and the QEMU process's RSS then. One guest, user-mode
# network with a forwarded port (no bridge). Run under the host lock:
#   flock -o /tmp/ctp-host.lock bash scripts/measure-debian-boot.sh
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
img="$root/images/build/debian"
work="$(mktemp -d)"
pid=""
trap '[ -n "$pid" ] && kill "$pid" 2>/dev/null; rm -rf "$work"' EXIT
port=$((20000 + RANDOM % 20000))
qemu-img create -q -f qcow2 -b "$img/disk.qcow2" -F qcow2 "$work/disk.qcow2"
cat > "$work/meta-data" <<'YAML'
instance-id: measure-1
local-hostname: measure
YAML
cat > "$work/user-data" <<'YAML'
#cloud-config
users:
  - name: debian
    lock_passwd: false
    plain_text_passwd: measure-only
YAML
cat > "$work/network-config" <<'YAML'
version: 2
ethernets:
  nic0:
    match: { macaddress: "52:54:00:12:34:56" }
    set-name: eth0
    addresses: [10.0.2.15/24]
YAML
genisoimage -quiet -output "$work/seed.iso" -volid cidata -joliet -rock "$work/meta-data" "$work/user-data" "$work/network-config"
start=$(date +%s.%N)
qemu-system-x86_64 -machine pc -accel "${ACCEL:-tcg}${TB_SIZE_MIB:+,tb-size=$TB_SIZE_MIB}" -smp 1 -m 512 -nodefaults -no-user-config -display none \
  -kernel "$img/vmlinuz" -initrd "$img/initrd" -append "root=/dev/vda rw console=ttyS0" \
  -drive "file=$work/disk.qcow2,if=virtio,format=qcow2,cache=unsafe" \
  -drive "file=$work/seed.iso,media=cdrom,readonly=on,if=ide,index=1" \
  -netdev "user,id=n0,hostfwd=tcp:127.0.0.1:$port-:22" -device virtio-net-pci,netdev=n0,mac=52:54:00:12:34:56 \
  -serial "file:$work/serial.log" -daemonize -pidfile "$work/qemu.pid"
pid="$(cat "$work/qemu.pid")"
for _ in $(seq 1 900); do
  if timeout 2 bash -c "exec 3<>/dev/tcp/127.0.0.1/$port; head -c 7 <&3" 2>/dev/null | grep -q SSH; then
    echo "ssh_ready_seconds=$(echo "$(date +%s.%N) - $start" | bc)"
    echo "qemu_rss_mib=$(( $(ps -o rss= -p "$pid") / 1024 ))"
    exit 0
  fi
  sleep 1
done
echo "SSH did not answer within 15 minutes" >&2
exit 1
