#!/bin/sh
# Entry point of the lab image. PROBE_LAB_ROLE selects what the node runs:
#   agent       probe-agent on this node's own interfaces (netlink), its
#               control plane on 0.0.0.0:50051 with mutual TLS from the lab
#               CA bind-mounted at $PKI (probectl lab certs writes it)
#   controller  probe-controller on the topology file at $TOPOLOGY, dialling
#               every switch on its mgmt-ipv4:50051, API on 0.0.0.0:8443
#   none        sleep (a plain node)
# PROBE_LAB_CONFIG_ONLY=1 writes the configuration and prints its path
# instead of starting the daemon (used to check the configurations).
set -eu

role=${PROBE_LAB_ROLE:-agent}
PKI=${PKI:-/etc/probe-lab/pki}
TOPOLOGY=${TOPOLOGY:-/etc/probe-lab/fabric.clab.yml}
CONF_DIR=${CONF_DIR:-/etc/probe-lab}
name=${PROBE_SYSTEM_ID:-$(hostname)}
mkdir -p "$CONF_DIR"

case "$role" in
agent)
	conf=$CONF_DIR/agent.yaml
	mkdir -p /var/lib/probe-agent "$CONF_DIR/probes.d"
	cat >"$conf" <<CONF
system_id: "$name"
hostname: "$name"
interval: 1s
collector: {type: netlink}
probes_dir: "$CONF_DIR/probes.d"
state_dir: /var/lib/probe-agent
control:
  listen: "0.0.0.0:50051"
  tls: {ca: "$PKI/ca.pem", cert: "$PKI/$name.pem", key: "$PKI/$name.key"}
api:
  listen: "127.0.0.1:8080"
output: json
log_summary: 1m
CONF
	cmd="probe-agent run --config $conf"
	;;
controller)
	conf=$CONF_DIR/controller.yaml
	mkdir -p /var/lib/probe-controller "$CONF_DIR/controller-probes.d"
	cat >"$conf" <<CONF
blueprint_id: "${BLUEPRINT_ID:-lab}"
topology: {file: "$TOPOLOGY", roles: {}, interface_names: node}
agents:
  defaults:
    port: 50051
    tls: {ca: "$PKI/ca.pem", cert: "$PKI/controller.pem", key: "$PKI/controller.key", server_name: probe-agent}
    reconnect_max: 2s
api: {listen: "${CONTROLLER_API:-0.0.0.0:8443}"}
state_dir: /var/lib/probe-controller
probes_dir: "$CONF_DIR/controller-probes.d"
interval: 1s
staleness: 3
streaming: []
CONF
	cmd="probe-controller run --config $conf"
	;;
none)
	exec sleep infinity
	;;
*)
	echo "PROBE_LAB_ROLE=$role: want agent, controller or none" >&2
	exit 2
	;;
esac

if [ "${PROBE_LAB_CONFIG_ONLY:-}" = 1 ]; then
	echo "$conf"
	exit 0
fi
exec $cmd
