#!/bin/sh
# probe-controller pre-removal script: Debian prerm and RPM %preun.
#
# Arguments:
#   deb: remove | upgrade <new-version> | deconfigure ... | failed-upgrade ...
#   rpm: <number of probe-controller packages left after this transaction>
#        (0 on erase, 1 or more when an upgrade removes the old version)
#
# On upgrade nothing happens here: the new package's post-install restarts
# the service. Works where systemd is absent or not running.
set -e

unit=probe-controller.service

case "$1" in
	remove|deconfigure|0)
		;;
	*)
		exit 0
		;;
esac

if [ -d /run/systemd/system ]; then
	systemctl stop "$unit" >/dev/null 2>&1 || :
fi

if [ "$1" != deconfigure ] && command -v systemctl >/dev/null 2>&1; then
	systemctl disable "$unit" >/dev/null 2>&1 || :
fi

exit 0
