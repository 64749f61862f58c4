package topology

import (
	"slices"
	"strings"
)

// System roles, with Apstra's names (two_stage_l3clos) and the 2.x/3.x
// server roles older probe templates filter on.
const (
	RoleSuperspine     = "superspine"
	RoleSpine          = "spine"
	RoleLeaf           = "leaf"
	RoleAccess         = "access"
	RoleGeneric        = "generic"
	RoleExternalRouter = "external_router"
	RoleL2Server       = "l2_server"
	RoleL3Server       = "l3_server"
)

// ServerRoleAliases are the role values a server answers to besides its own
// role "generic": the seed's role='server' (not an Apstra value; the IBA
// documentation's example uses it) and the 2.x/3.x role='l2_server' that
// Apstra's older templates use for servers attached to leaves. A system
// answers to them when it is a generic system with system_type 'server'.
var ServerRoleAliases = []string{"server", RoleL2Server}

// RoleAliases returns the extra role values n answers to in a query
// (ServerRoleAliases for a generic server), nil for anything else.
func RoleAliases(n *Node) []string {
	if n.Type != TypeSystem || n.String("system_type") != "server" || n.String("role") != RoleGeneric {
		return nil
	}
	return ServerRoleAliases
}

// roleWords maps the words labs use for roles (role labels, graph-icon,
// group, node names) to Apstra roles.
var roleWords = map[string]string{
	"superspine": RoleSuperspine, "super-spine": RoleSuperspine, "super_spine": RoleSuperspine,
	"spine": RoleSpine, "spines": RoleSpine,
	"leaf": RoleLeaf, "leaves": RoleLeaf, "leafs": RoleLeaf, "border-leaf": RoleLeaf, "border_leaf": RoleLeaf,
	"switch": RoleLeaf, "tor": RoleLeaf,
	"access": RoleAccess,
	"server": RoleGeneric, "servers": RoleGeneric, "client": RoleGeneric, "clients": RoleGeneric,
	"host": RoleGeneric, "hosts": RoleGeneric, "generic": RoleGeneric,
	"l2_server": RoleL2Server, "l3_server": RoleL3Server,
	"external_router": RoleExternalRouter, "router": RoleExternalRouter, "routers": RoleExternalRouter,
	"dcgw": RoleExternalRouter, "dc-gw": RoleExternalRouter, "pe": RoleExternalRouter, "rgw": RoleExternalRouter,
	"remote_gateway": "remote_gateway",
}

// roleFromWord reads a role word; ok is false for words that name no role.
func roleFromWord(w string) (string, bool) {
	r, ok := roleWords[strings.ToLower(strings.TrimSpace(w))]
	return r, ok
}

// roleFromName guesses a role from a node name: superspine1, spine1,
// leaf1 (also dc1-leaf1, border-leaf1), access1, server1, client1, host1.
func roleFromName(name string) (string, bool) {
	n := strings.ToLower(name)
	switch {
	case strings.Contains(n, "superspine"), strings.Contains(n, "super-spine"), strings.Contains(n, "super_spine"):
		return RoleSuperspine, true
	case strings.Contains(n, "spine"):
		return RoleSpine, true
	case strings.Contains(n, "leaf"):
		return RoleLeaf, true
	case strings.Contains(n, "access"):
		return RoleAccess, true
	case strings.Contains(n, "server"), strings.Contains(n, "client"), strings.Contains(n, "host"), strings.HasPrefix(n, "srv"):
		return RoleGeneric, true
	case strings.Contains(n, "router"), strings.Contains(n, "dcgw"):
		return RoleExternalRouter, true
	}
	return "", false
}

// RoleSource says where a system's role came from.
type RoleSource string

// Role sources, in the order they are consulted.
const (
	RoleFromConfig    RoleSource = "config"
	RoleFromLabel     RoleSource = "label"
	RoleFromGraphIcon RoleSource = "graph-icon"
	RoleFromGroup     RoleSource = "group"
	RoleFromName      RoleSource = "name"
	RoleFromDefault   RoleSource = "default"
)

// DeriveRole decides a system's role from, in order: the caller's roles map
// (by node name), a "role" label, the "graph-icon" label, the node's group,
// its name; a node none of these name is "generic". Explicit values (the
// map and the role label) may be any Apstra role; the seed's "server" is
// read as generic.
func DeriveRole(name string, explicit map[string]string, labels map[string]string, group string) (string, RoleSource) {
	if r, ok := explicit[name]; ok && r != "" {
		return explicitRole(r), RoleFromConfig
	}
	if r, ok := labels["role"]; ok && r != "" {
		return explicitRole(r), RoleFromLabel
	}
	if r, ok := roleFromWord(labels["graph-icon"]); ok {
		return r, RoleFromGraphIcon
	}
	if r, ok := roleFromWord(group); ok {
		return r, RoleFromGroup
	}
	if r, ok := roleFromName(name); ok {
		return r, RoleFromName
	}
	return RoleGeneric, RoleFromDefault
}

// explicitRole keeps an explicit role as written unless it is one of the
// lab words for a role ("server", "router").
func explicitRole(r string) string {
	if w, ok := roleFromWord(r); ok {
		return w
	}
	return r
}

// IsServerRole tells whether a role is one of a server.
func IsServerRole(role string) bool {
	return role == RoleGeneric || role == RoleL2Server || role == RoleL3Server || role == "server"
}

// roleRank orders roles from the top of the fabric down, for link roles.
var roleRank = []string{RoleSuperspine, RoleSpine, RoleLeaf, RoleAccess, RoleExternalRouter, RoleL2Server, RoleL3Server, RoleGeneric}

// LinkRole derives a link's role from the roles of its two ends, with
// Apstra's link role names; peers tells whether the two ends are the two
// members of one redundancy group (an MLAG peer link).
func LinkRole(a, b string, peers bool) string {
	ra, rb := slices.Index(roleRank, a), slices.Index(roleRank, b)
	if ra < 0 {
		ra = len(roleRank)
	}
	if rb < 0 {
		rb = len(roleRank)
	}
	if rb < ra {
		a, b = b, a
	}
	switch {
	case a == RoleSuperspine && b == RoleSpine:
		return "spine_superspine"
	case a == RoleSpine && b == RoleLeaf:
		return "spine_leaf"
	case a == RoleLeaf && b == RoleLeaf:
		if peers {
			return "leaf_peer_link"
		}
		return "leaf_leaf"
	case a == RoleLeaf && b == RoleAccess:
		return "leaf_access"
	case a == RoleLeaf && b == RoleL2Server:
		return "leaf_l2_server"
	case a == RoleLeaf && b == RoleL3Server:
		return "leaf_l3_server"
	case a == RoleAccess && (b == RoleL2Server || b == RoleGeneric):
		return "access_server"
	case a == RoleExternalRouter || b == RoleExternalRouter:
		return "to_external_router"
	}
	return "to_generic"
}
