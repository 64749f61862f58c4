package topology

import (
	"strings"
	"testing"
)

func TestMapInterface(t *testing.T) {
	cases := []struct {
		kind, name string
		want       InterfaceNames
	}{
		{"linux", "eth1", InterfaceNames{"eth1", "eth1", "eth1"}},
		{"srl", "e1-1", InterfaceNames{"e1-1", "e1-1", "ethernet-1/1"}},
		{"nokia_srlinux", "ethernet-1/49", InterfaceNames{"ethernet-1/49", "e1-49", "ethernet-1/49"}},
		{"nokia_srlinux", "e1-3-1", InterfaceNames{"e1-3-1", "e1-3-1", "ethernet-1/3/1"}},
		{"nokia_srlinux", "mgmt0", InterfaceNames{"mgmt0", "mgmt0", "mgmt0"}},
		{"ceos", "eth1", InterfaceNames{"eth1", "eth1", "Ethernet1"}},
		{"arista_ceos", "et2", InterfaceNames{"et2", "eth2", "Ethernet2"}},
		{"arista_ceos", "eth1_1", InterfaceNames{"eth1_1", "eth1_1", "Ethernet1/1"}},
		{"arista_ceos", "Ethernet3", InterfaceNames{"Ethernet3", "eth3", "Ethernet3"}},
		{"sonic-vs", "eth1", InterfaceNames{"eth1", "eth1", "Ethernet0"}},
		{"sonic-vs", "eth3", InterfaceNames{"eth3", "eth3", "Ethernet8"}},
		{"sonic-vs", "Ethernet4", InterfaceNames{"Ethernet4", "eth2", "Ethernet4"}},
		{"cvx", "swp1", InterfaceNames{"swp1", "swp1", "swp1"}},
		{"nvidia_cumulusvx", "swp2", InterfaceNames{"swp2", "eth2", "swp2"}},
		{"nvidia_cumulusvx", "eth3", InterfaceNames{"eth3", "eth3", "swp3"}},
		{"juniper_vjunosswitch", "eth1", InterfaceNames{"eth1", "eth1", "ge-0/0/0"}},
		{"juniper_vjunosrouter", "ge-0/0/4", InterfaceNames{"ge-0/0/4", "eth5", "ge-0/0/4"}},
		{"juniper_crpd", "eth1", InterfaceNames{"eth1", "eth1", "eth1"}},
		{"cisco_n9kv", "Ethernet1/3", InterfaceNames{"Ethernet1/3", "eth3", "Ethernet1/3"}},
	}
	for _, tc := range cases {
		t.Run(tc.kind+"/"+tc.name, func(t *testing.T) {
			got, err := MapInterface(tc.kind, tc.name)
			if err != nil {
				t.Fatal(err)
			}
			if got != tc.want {
				t.Errorf("got %+v, want %+v", got, tc.want)
			}
			// The in-node and NOS names map back to the same interface.
			for _, alt := range []string{got.Node, got.NOS} {
				back, err := MapInterface(tc.kind, alt)
				if err != nil {
					t.Fatalf("%s: %v", alt, err)
				}
				if back.Node != got.Node || back.NOS != got.NOS {
					t.Errorf("%s maps to %+v, want node %s nos %s", alt, back, got.Node, got.NOS)
				}
			}
		})
	}
	for _, bad := range []struct{ kind, name, msg string }{
		{"srl", "eth1", "want e1-1"},
		{"ceos", "ge-0/0/0", "want eth1"},
		{"sonic-vs", "Ethernet5", "multiple of 4"},
		{"juniper_vjunosswitch", "eth0", "eth1 or higher"},
	} {
		_, err := MapInterface(bad.kind, bad.name)
		if err == nil || !strings.Contains(err.Error(), bad.msg) {
			t.Errorf("%s %s: error %v, want %q", bad.kind, bad.name, err, bad.msg)
		}
	}
}

func TestDeriveRole(t *testing.T) {
	cases := []struct {
		name     string
		explicit map[string]string
		labels   map[string]string
		group    string
		role     string
		source   RoleSource
	}{
		{"leaf1", map[string]string{"leaf1": "spine"}, map[string]string{"role": "leaf"}, "", "spine", RoleFromConfig},
		{"x", nil, map[string]string{"role": "external_router", "graph-icon": "leaf"}, "", "external_router", RoleFromLabel},
		{"x", nil, map[string]string{"role": "server"}, "", "generic", RoleFromLabel},
		{"x", nil, map[string]string{"graph-icon": "dcgw"}, "spine", "external_router", RoleFromGraphIcon},
		{"x", nil, map[string]string{"graph-icon": "unknown"}, "spine", "spine", RoleFromGroup},
		{"spine9", nil, nil, "10", "spine", RoleFromName},
		{"superspine1", nil, nil, "", "superspine", RoleFromName},
		{"super-spine2", nil, nil, "", "superspine", RoleFromName},
		{"dc1-leaf3", nil, nil, "", "leaf", RoleFromName},
		{"client1", nil, nil, "", "generic", RoleFromName},
		{"gnmic", nil, nil, "", "generic", RoleFromDefault},
	}
	for _, tc := range cases {
		role, src := DeriveRole(tc.name, tc.explicit, tc.labels, tc.group)
		if role != tc.role || src != tc.source {
			t.Errorf("%s %v %v %q: got %s from %s, want %s from %s", tc.name, tc.explicit, tc.labels, tc.group, role, src, tc.role, tc.source)
		}
	}
}

func TestLinkRole(t *testing.T) {
	cases := []struct {
		a, b  string
		peers bool
		want  string
	}{
		{"leaf", "spine", false, "spine_leaf"},
		{"spine", "superspine", false, "spine_superspine"},
		{"leaf", "leaf", true, "leaf_peer_link"},
		{"leaf", "leaf", false, "leaf_leaf"},
		{"generic", "leaf", false, "to_generic"},
		{"leaf", "l2_server", false, "leaf_l2_server"},
		{"access", "leaf", false, "leaf_access"},
		{"spine", "external_router", false, "to_external_router"},
	}
	for _, tc := range cases {
		if got := LinkRole(tc.a, tc.b, tc.peers); got != tc.want {
			t.Errorf("%s-%s: %s, want %s", tc.a, tc.b, got, tc.want)
		}
	}
}
