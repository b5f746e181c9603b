#!/usr/bin/env bash
# Checks the units with `systemd-analyze verify`, installed at this checkout instead of /opt/ctp
# (verify requires the programs they start to exist). Fails on any warning.
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
root="$(cd "$here/../.." && pwd)"
tmp="$(mktemp -d)"
trap 'rm -rf "$tmp"' EXIT
for unit in "$here"/*.service "$here"/*.timer; do
  sed "s#/opt/ctp#$root#g" "$unit" >"$tmp/$(basename "$unit")"
done
out="$(cd "$tmp" && systemd-analyze verify ./*.service ./*.timer 2>&1 || true)"
if [ -n "$out" ]; then
  echo "$out" >&2
  exit 1
fi
echo "systemd units verified: $(cd "$tmp" && ls | tr '\n' ' ')"
