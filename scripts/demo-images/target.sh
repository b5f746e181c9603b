#!/bin/sh
# The target: a web server, a telnet server and a service that prints a banner on port 4444.
# Per-lab content arrives after boot over the guest agent, never on the command line:
#   /var/www/flag.txt  served as http://<target>/flag.txt (absent until written: 404)
#   /etc/ctp/banner    what port 4444 prints, read again at every connection
mkdir -p /var/www /etc/ctp
# The home page names the guest and its lab, read at every request: a guest resumed from a saved
# state learns its lab after it resumed (/etc/ctp/identity), and nothing has to run then.
mkdir -p /var/www/cgi-bin
cat > /var/www/cgi-bin/index.cgi <<'SH'
#!/bin/sh
lab=$(sed -n 's/^lab=//p' /etc/ctp/identity 2>/dev/null)
printf 'Content-Type: text/html\r\n\r\n'
printf '%s\n' "<html><body><h1>Welcome to $(hostname)</h1><p>Lab ${lab:-none}</p><p>Nothing to see here. Or is there? Try port 4444.</p></body></html>"
SH
chmod 755 /var/www/cgi-bin/index.cgi
cat > /usr/bin/ctp-banner <<'SH'
#!/bin/sh
cat /etc/ctp/banner 2>/dev/null || echo "SecretService 1.0 ready."
SH
chmod 755 /usr/bin/ctp-banner
httpd -p 80 -h /var/www
telnetd -p 23 -l /bin/sh
nc -ll -p 4444 -e /usr/bin/ctp-banner >/dev/null 2>&1 &
