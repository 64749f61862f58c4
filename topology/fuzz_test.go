package topology

import (
	"encoding/json"
	"os"
	"path/filepath"
	"testing"
)

// FuzzParseContainerlab: any input either fails with an error or gives a
// graph whose links all join two interfaces of systems, and which survives
// the graph JSON round trip.
func FuzzParseContainerlab(f *testing.F) {
	files, _ := filepath.Glob("../containerlab/*.clab.yml")
	for _, file := range files {
		if data, err := os.ReadFile(file); err == nil {
			f.Add(data)
		}
	}
	f.Add([]byte("name: x\ntopology:\n  nodes:\n    a: {kind: srl}\n    b:\n  links:\n    - endpoints: [\"a:e1-1\", \"host:x\"]\n"))
	f.Add([]byte("name: x\ntopology: {defaults: {kind: ceos}, nodes: {a: , b: }, links: [{type: veth, endpoints: [{node: a, interface: et1}, {node: b, interface: Ethernet1}]}]}"))
	f.Add([]byte("a: &x {b: *x}"))
	f.Fuzz(func(t *testing.T, data []byte) {
		g, _, _, err := ParseContainerlab(data, "fuzz.clab.yml", Options{})
		if err != nil {
			return
		}
		for _, l := range g.NodesOfType(TypeLink) {
			ends := Neighbors(l, RelLink, false)
			if len(ends) != 2 {
				t.Fatalf("link %s has %d ends", l.ID, len(ends))
			}
			for _, e := range ends {
				if len(Neighbors(e, RelHostedInterfaces, false)) != 1 {
					t.Fatalf("interface %s is not hosted by one system", e.ID)
				}
			}
		}
		raw, err := json.Marshal(g)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := ParseGraphJSON(raw, "roundtrip"); err != nil {
			t.Fatalf("round trip: %v", err)
		}
	})
}

func FuzzParseGraphJSON(f *testing.F) {
	f.Add([]byte(`{"nodes": {"a": {"type": "system", "n": 1.5, "l": [1, {"x": 2}]}}, "relationships": {"r": {"type": "t", "source_id": "a", "target_id": "a"}}}`))
	f.Add([]byte(`{"nodes": {"a": {"type": "system"}, "a": {"type": "x"}}}`))
	f.Fuzz(func(t *testing.T, data []byte) {
		g, err := ParseGraphJSON(data, "fuzz.json")
		if err != nil {
			return
		}
		for _, r := range g.Relationships() {
			if g.Node(r.From.ID) != r.From || g.Node(r.To.ID) != r.To {
				t.Fatalf("relationship %s joins nodes not in the graph", r.ID)
			}
		}
	})
}
