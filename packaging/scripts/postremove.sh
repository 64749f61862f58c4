#!/bin/sh
# probe-agent post-removal script: Debian postrm and RPM %postun.
#
# Arguments:
#   deb: remove | purge | upgrade ... | failed-upgrade ... | abort-install ...
#        | abort-upgrade ... | disappear ...
#   rpm: <number of probe-agent packages left after this transaction>
#
# Only a Debian purge deletes the state directory and the probe-agent
# user and group. RPM has no purge: an erase ($1 = 0) is treated like a
# Debian remove and keeps them (see docs/packaging.md for the manual
# clean-up). Works where systemd is absent or not running.
set -e

user=probe-agent
group=probe-agent
state_dir=/var/lib/probe-agent

if [ -d /run/systemd/system ]; then
	systemctl daemon-reload >/dev/null 2>&1 || :
fi

if [ "$1" = purge ]; then
	rm -rf "$state_dir"
	# userdel usually drops the user's private group too; groupdel covers
	# systems where it does not.
	if getent passwd "$user" >/dev/null; then
		userdel "$user" >/dev/null 2>&1 || :
	fi
	if getent group "$group" >/dev/null; then
		groupdel "$group" >/dev/null 2>&1 || :
	fi
fi

exit 0
