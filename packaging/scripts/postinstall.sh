#!/bin/sh
# probe-agent post-install script: Debian postinst and RPM %post.
#
# Arguments:
#   deb: configure <previously-configured-version|empty on first install>
#        abort-upgrade|abort-remove|abort-deconfigure ... (undo a failed step)
#   rpm: <number of probe-agent packages installed after this transaction>
#        (1 on first install, 2 or more on upgrade)
#
# Safe to run more than once, and where systemd is absent or not running
# (chroots, containers, image builds): service operations are then skipped.
set -e

user=probe-agent
group=probe-agent
state_dir=/var/lib/probe-agent
unit=probe-agent.service

upgrade=no
case "$1" in
	configure)
		[ -z "$2" ] || upgrade=yes
		;;
	abort-upgrade|abort-remove|abort-deconfigure)
		upgrade=yes
		;;
	[0-9]*)
		[ "$1" -lt 2 ] || upgrade=yes
		;;
	*)
		exit 0
		;;
esac

nologin=/bin/false
for s in /usr/sbin/nologin /sbin/nologin; do
	if [ -x "$s" ]; then
		nologin=$s
		break
	fi
done

# System group and user the service runs as. getent asks NSS, so an account
# provided by LDAP or similar is reused rather than shadowed. groupadd and
# useradd (shadow-utils) exist on every Debian, Ubuntu, SONiC and RHEL-like
# system.
if ! getent group "$group" >/dev/null; then
	groupadd --system "$group"
fi
if ! getent passwd "$user" >/dev/null; then
	useradd --system --gid "$group" --home-dir "$state_dir" \
		--no-create-home --shell "$nologin" \
		--comment "probe-agent daemon" "$user"
fi

# agent.yaml may hold the gNMI password (or name the password and token
# files): readable by the service's group, not by every local user. It is
# packaged root:root 0640 (the group does not exist when the package is
# unpacked), and dpkg and rpm reinstate that owner whenever they install a
# new version of the file, so the group is set on every run. The mode is
# left as it is: an administrator's stricter choice stays.
conf=/etc/probe-agent/agent.yaml
if [ -f "$conf" ]; then
	chown "root:$group" "$conf"
fi

# systemd also creates this (StateDirectory=); doing it here covers hosts
# where the agent is started another way.
mkdir -p "$state_dir"
chown "$user:$group" "$state_dir"
chmod 0750 "$state_dir"

if [ -d /run/systemd/system ]; then
	systemctl daemon-reload >/dev/null 2>&1 || :
fi

if [ "$upgrade" = no ]; then
	# First install: enable at boot. systemctl can do this without a
	# running systemd (it only writes symlinks), so image builds get an
	# enabled service too. On upgrade the administrator's choice is kept.
	if command -v systemctl >/dev/null 2>&1; then
		systemctl enable "$unit" >/dev/null 2>&1 ||
			echo "probe-agent: could not enable $unit" >&2
	fi
	if [ -d /run/systemd/system ]; then
		systemctl start --no-block "$unit" ||
			echo "probe-agent: could not start $unit" >&2
	fi
elif [ -d /run/systemd/system ]; then
	# Upgrade: pick up the new binary if the service was running.
	systemctl try-restart --no-block "$unit" ||
		echo "probe-agent: could not restart $unit" >&2
fi

exit 0
