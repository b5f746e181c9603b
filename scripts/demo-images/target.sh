#!/bin/sh
# The target: a web server, a telnet server and a service that prints a banner on port 4444.
flag=${CTP_FLAG:-CTP{demo-flag}}
mkdir -p /var/www
cat > /var/www/index.html <<HTML
<html><body><h1>Welcome to $(hostname)</h1><p>Lab ${CTP_LAB:-none}</p><p>Nothing to see here. Or is there? Try port 4444.</p></body></html>
HTML
echo "$flag" > /var/www/.secret
httpd -p 80 -h /var/www
telnetd -p 23 -l /bin/sh
(while true; do echo "SecretService 1.0 ready. Flag: $flag" | nc -l -p 4444 >/dev/null 2>&1; done) &
