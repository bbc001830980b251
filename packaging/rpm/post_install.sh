# mugai: create the service user and the folders; services are not started.
systemd-sysusers /usr/lib/sysusers.d/mugai.conf
systemd-tmpfiles --create /usr/lib/tmpfiles.d/mugai.conf
if [ -d /run/systemd/system ]; then systemctl daemon-reload || :; fi
