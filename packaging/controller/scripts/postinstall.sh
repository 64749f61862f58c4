#!/bin/sh
# probe-controller post-install script: Debian postinst and RPM %post.
#
# Arguments:
#   deb: configure <previously-configured-version|empty on first install>
#        abort-upgrade|abort-remove|abort-deconfigure ... (undo a failed step)
#   rpm: <number of probe-controller packages installed after this
#        transaction> (1 on first install, 2 or more on upgrade)
#
# Unlike the agent, the controller cannot do anything useful out of the
# box: it needs the fabric's topology and the agents' certificates. A first
# install enables the service and starts it only when the configuration
# already checks out (an image build that put the files in place first);
# otherwise it says what is missing. Safe to run more than once, and where
# systemd is absent or not running.
set -e

user=probe-controller
group=probe-controller
state_dir=/var/lib/probe-controller
config=/etc/probe-controller/controller.yaml
unit=probe-controller.service

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

# System group and user the service runs as; TLS keys in /etc/probe-controller
# are given to this group (install -m 0640 -g probe-controller ...).
if ! getent group "$group" >/dev/null; then
	groupadd --system "$group"
fi
if ! getent passwd "$user" >/dev/null; then
	useradd --system --gid "$group" --home-dir "$state_dir" \
		--no-create-home --shell "$nologin" \
		--comment "probe-controller daemon" "$user"
fi

# systemd creates this too (StateDirectory=); doing it here covers a
# controller started another way.
mkdir -p "$state_dir"
chown "$user:$group" "$state_dir"
chmod 0750 "$state_dir"

if [ -d /run/systemd/system ]; then
	systemctl daemon-reload >/dev/null 2>&1 || :
fi

if [ "$upgrade" = no ]; then
	if command -v systemctl >/dev/null 2>&1; then
		systemctl enable "$unit" >/dev/null 2>&1 ||
			echo "probe-controller: could not enable $unit" >&2
	fi
	if [ -d /run/systemd/system ]; then
		if /usr/bin/probe-controller config check "$config" >/dev/null 2>&1; then
			systemctl start --no-block "$unit" ||
				echo "probe-controller: could not start $unit" >&2
		else
			echo "probe-controller: not started: put the fabric's topology and the agents' certificates in place (see $config), then: systemctl start probe-controller" >&2
		fi
	fi
elif [ -d /run/systemd/system ]; then
	# Upgrade: pick up the new binary if the service was running.
	systemctl try-restart --no-block "$unit" ||
		echo "probe-controller: could not restart $unit" >&2
fi

exit 0
