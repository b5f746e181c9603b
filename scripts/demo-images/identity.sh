#!/bin/sh
# Applies the identity the host wrote into /etc/ctp/identity (KEY=VALUE lines: the ctp.* values a
# booted guest reads from its kernel command line), for a guest resumed from a template's saved
# state, which was booted without its lab's values. Then the role's own hook, if it has one.
f=${1:-/etc/ctp/identity}
[ -r "$f" ] || { echo "no $f" >&2; exit 1; }
val() { sed -n "s/^$1=//p" "$f" | tail -n1; }
lab=$(val lab)
host=$(val hostname)
echo "$lab" > /etc/ctp/lab
if [ -n "$host" ]; then hostname "$host"; echo "$host" > /etc/hostname; fi
[ -x /usr/bin/ctp-on-identity ] && /usr/bin/ctp-on-identity
exit 0
