#!/bin/sh
# The attacker: a shell with busybox's network tools (ping, wget, nc, telnet, traceroute, ip).
echo "attacker ready: try 'wget -qO- http://10.0.0.20/' or 'nc 10.0.0.20 4444'" > /etc/motd
