#!/bin/sh
# probe-controller post-removal script: Debian postrm and RPM %postun.
#
# Arguments:
#   deb: remove | purge | upgrade ... | failed-upgrade ... | abort-install ...
#        | abort-upgrade ... | disappear ...
#   rpm: <number of probe-controller packages left after this transaction>
#
# Only a Debian purge deletes the state directory (the fabric probe set) and
# the probe-controller user and group; an RPM erase keeps them, as the
# agent's package does (docs/packaging.md).
set -e

user=probe-controller
group=probe-controller
state_dir=/var/lib/probe-controller

if [ -d /run/systemd/system ]; then
	systemctl daemon-reload >/dev/null 2>&1 || :
fi

if [ "$1" = purge ]; then
	rm -rf "$state_dir"
	if getent passwd "$user" >/dev/null; then
		userdel "$user" >/dev/null 2>&1 || :
	fi
	if getent group "$group" >/dev/null; then
		groupdel "$group" >/dev/null 2>&1 || :
	fi
fi

exit 0
