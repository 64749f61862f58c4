package topology

import (
	"fmt"
	"regexp"
	"strconv"
	"strings"
)

// InterfaceNames is one interface under the three names a containerlab lab
// gives it: the name in the topology file (which may be an alias), the
// Linux name inside the node's container, and the name the device's own
// NOS and telemetry (gNMI, CLI) report. An agent reading netlink inside the
// container sees Node; one reading the device's gNMI server sees NOS.
type InterfaceNames struct {
	Topology string `json:"topology"`
	Node     string `json:"node"`
	NOS      string `json:"nos"`
}

// kindAliases maps containerlab's short and legacy kind names to the
// canonical ones.
var kindAliases = map[string]string{
	"srl":             "nokia_srlinux",
	"ceos":            "arista_ceos",
	"crpd":            "juniper_crpd",
	"cvx":             "cumulus_cvx",
	"vr-vjunosswitch": "juniper_vjunosswitch",
	"vr-vjunosrouter": "juniper_vjunosrouter",
	"vr-n9kv":         "cisco_n9kv",
	"vr-cisco_n9kv":   "cisco_n9kv",
	"cumulus_vx":      "nvidia_cumulusvx",
}

// CanonicalKind returns the canonical name of a containerlab kind
// ("srl" -> "nokia_srlinux"); unknown kinds are returned lower-cased.
func CanonicalKind(kind string) string {
	k := strings.ToLower(strings.TrimSpace(kind))
	if c, ok := kindAliases[k]; ok {
		return c
	}
	return k
}

// hostKinds are the kinds whose nodes are hosts rather than switches when
// nothing else tells their role.
var hostKinds = map[string]bool{"linux": true, "host": true, "k8s-kind": true, "ext-container": true}

// IsHostKind tells whether a kind runs a plain host (linux) rather than a
// network OS.
func IsHostKind(kind string) bool { return hostKinds[CanonicalKind(kind)] }

var (
	srlShort  = regexp.MustCompile(`^e(\d+)-(\d+)(?:-(\d+))?$`)
	srlLong   = regexp.MustCompile(`^ethernet-(\d+)/(\d+)(?:/(\d+))?$`)
	ethN      = regexp.MustCompile(`^eth(\d+)$`)
	ceosShort = regexp.MustCompile(`^(?:eth|et)(\d+)(?:_(\d+))?$`)
	ceosLong  = regexp.MustCompile(`^Ethernet(\d+)(?:/(\d+))?$`)
	sonicLong = regexp.MustCompile(`^Ethernet(\d+)$`)
	swpN      = regexp.MustCompile(`^swp(\d+)$`)
	junosGE   = regexp.MustCompile(`^(ge|xe|et)-0/0/(\d+)$`)
	nxosEth   = regexp.MustCompile(`^Ethernet1/(\d+)$`)
)

// sonicLanes is the number of lanes per front-panel port in SONiC's virtual
// switch port map: eth1 is Ethernet0, eth2 Ethernet4.
const sonicLanes = 4

// MapInterface gives the three names of an interface named name in the
// topology file on a node of the given kind. Kinds without a mapping (linux,
// juniper_crpd, cumulus_cvx, and any kind not listed in docs/topology.md)
// use one name everywhere. A name that does not fit the kind's pattern is an
// error naming both.
func MapInterface(kind, name string) (InterfaceNames, error) {
	same := InterfaceNames{Topology: name, Node: name, NOS: name}
	bad := func(want string) (InterfaceNames, error) {
		return InterfaceNames{}, fmt.Errorf("interface %q is not a %s interface name (want %s)", name, CanonicalKind(kind), want)
	}
	switch CanonicalKind(kind) {
	case "nokia_srlinux":
		if name == "mgmt0" {
			return same, nil
		}
		m := srlShort.FindStringSubmatch(name)
		if m == nil {
			m = srlLong.FindStringSubmatch(name)
		}
		if m == nil {
			return bad("e1-1, e1-3-1 or ethernet-1/1")
		}
		node, nos := "e"+m[1]+"-"+m[2], "ethernet-"+m[1]+"/"+m[2]
		if m[3] != "" {
			node, nos = node+"-"+m[3], nos+"/"+m[3]
		}
		return InterfaceNames{Topology: name, Node: node, NOS: nos}, nil
	case "arista_ceos":
		if m := ceosShort.FindStringSubmatch(name); m != nil {
			node, nos := "eth"+m[1], "Ethernet"+m[1]
			if m[2] != "" {
				node, nos = node+"_"+m[2], nos+"/"+m[2]
			}
			return InterfaceNames{Topology: name, Node: node, NOS: nos}, nil
		}
		if m := ceosLong.FindStringSubmatch(name); m != nil {
			node := "eth" + m[1]
			if m[2] != "" {
				node += "_" + m[2]
			}
			return InterfaceNames{Topology: name, Node: node, NOS: name}, nil
		}
		return bad("eth1, et1, eth1_1 or Ethernet1")
	case "sonic-vs", "sonic-vm":
		if m := ethN.FindStringSubmatch(name); m != nil {
			n, _ := strconv.Atoi(m[1])
			if n < 1 {
				return bad("eth1 or higher")
			}
			return InterfaceNames{Topology: name, Node: name, NOS: "Ethernet" + strconv.Itoa((n-1)*sonicLanes)}, nil
		}
		if m := sonicLong.FindStringSubmatch(name); m != nil {
			n, _ := strconv.Atoi(m[1])
			if n%sonicLanes != 0 {
				return bad(fmt.Sprintf("ethN or EthernetN with N a multiple of %d", sonicLanes))
			}
			return InterfaceNames{Topology: name, Node: "eth" + strconv.Itoa(n/sonicLanes+1), NOS: name}, nil
		}
		return bad("eth1 or Ethernet0")
	case "nvidia_cumulusvx":
		if m := swpN.FindStringSubmatch(name); m != nil {
			return InterfaceNames{Topology: name, Node: "eth" + m[1], NOS: name}, nil
		}
		if m := ethN.FindStringSubmatch(name); m != nil {
			return InterfaceNames{Topology: name, Node: name, NOS: "swp" + m[1]}, nil
		}
		return bad("swp1 or eth1")
	case "juniper_vjunosswitch", "juniper_vjunosrouter", "juniper_vjunosevolved":
		prefix := "ge"
		if CanonicalKind(kind) == "juniper_vjunosevolved" {
			prefix = "et"
		}
		if m := junosGE.FindStringSubmatch(name); m != nil {
			n, _ := strconv.Atoi(m[2])
			return InterfaceNames{Topology: name, Node: "eth" + strconv.Itoa(n+1), NOS: name}, nil
		}
		if m := ethN.FindStringSubmatch(name); m != nil {
			n, _ := strconv.Atoi(m[1])
			if n < 1 {
				return bad("eth1 or higher")
			}
			return InterfaceNames{Topology: name, Node: name, NOS: prefix + "-0/0/" + strconv.Itoa(n-1)}, nil
		}
		return bad(prefix + "-0/0/0 or eth1")
	case "cisco_n9kv":
		if m := nxosEth.FindStringSubmatch(name); m != nil {
			return InterfaceNames{Topology: name, Node: "eth" + m[1], NOS: name}, nil
		}
		if m := ethN.FindStringSubmatch(name); m != nil {
			return InterfaceNames{Topology: name, Node: name, NOS: "Ethernet1/" + m[1]}, nil
		}
		return bad("Ethernet1/1 or eth1")
	}
	if name == "" {
		return InterfaceNames{}, fmt.Errorf("empty interface name")
	}
	return same, nil
}
