package resolve

import (
	"fmt"
	"strings"
	"testing"

	"github.com/probe-agent/probe-agent/topology"
)

// fabricLab writes a containerlab file for a leaf-spine fabric: every leaf
// on every spine, servers single-homed to leaves.
func fabricLab(leaves, spines, serversPerLeaf int) []byte {
	var b strings.Builder
	b.WriteString("name: bench\ntopology:\n  defaults: {kind: linux}\n  nodes:\n")
	for s := 1; s <= spines; s++ {
		fmt.Fprintf(&b, "    spine%d:\n", s)
	}
	for l := 1; l <= leaves; l++ {
		fmt.Fprintf(&b, "    leaf%d:\n", l)
		for h := 1; h <= serversPerLeaf; h++ {
			fmt.Fprintf(&b, "    server%d-%d:\n", l, h)
		}
	}
	b.WriteString("  links:\n")
	for l := 1; l <= leaves; l++ {
		for s := 1; s <= spines; s++ {
			fmt.Fprintf(&b, "    - endpoints: [\"leaf%d:eth%d\", \"spine%d:eth%d\"]\n", l, s, s, l)
		}
		for h := 1; h <= serversPerLeaf; h++ {
			fmt.Fprintf(&b, "    - endpoints: [\"leaf%d:eth%d\", \"server%d-%d:eth1\"]\n", l, spines+h, l, h)
		}
	}
	return []byte(b.String())
}

func fabric(tb testing.TB, leaves, spines, servers int) *topology.Graph {
	g, _, _, err := topology.ParseContainerlab(fabricLab(leaves, spines, servers), "bench.clab.yml", topology.Options{})
	if err != nil {
		tb.Fatal(err)
	}
	return g
}

// TestFabricSeedItems checks what the benchmark resolves: exactly the
// 3,072 server-facing leaf ports of the 64 x 8 x 48 fabric.
func TestFabricSeedItems(t *testing.T) {
	if testing.Short() {
		t.Skip("builds a 3,656-link fabric")
	}
	doc := docFile(t, seedProbe)
	res, rep, err := Resolve(fabric(t, 64, 8, 48), doc, Options{})
	if err != nil {
		t.Fatal(err)
	}
	si := res["server_tx_bytes"]
	if si.Len() != 64*48 || rep.Processors[0].Devices != 64 {
		t.Fatalf("%d items on %d devices, want 3072 on 64", si.Len(), rep.Processors[0].Devices)
	}
	if _, ok := si.Lookup("leaf7", "eth9"); !ok {
		t.Error("leaf7 eth9 (its first server port) is not an item")
	}
	if _, ok := si.Lookup("leaf7", "eth8"); ok {
		t.Error("leaf7 eth8 (an uplink) is an item")
	}
}

// BenchmarkResolveSeed resolves the seed probe's query on fabrics of 16,
// 32 and 64 leaves (8 spines, 48 servers per leaf): the time should grow
// linearly with the number of links.
func BenchmarkResolveSeed(b *testing.B) {
	doc := docFile(b, seedProbe)
	for _, leaves := range []int{16, 32, 64} {
		g := fabric(b, leaves, 8, 48)
		b.Run(fmt.Sprintf("leaves=%d/links=%d", leaves, leaves*(8+48)), func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				if _, _, err := Resolve(g, doc, Options{}); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

// BenchmarkLoadFabric is the cost of reading the 64-leaf fabric's
// containerlab file into a graph.
func BenchmarkLoadFabric(b *testing.B) {
	data := fabricLab(64, 8, 48)
	b.SetBytes(int64(len(data)))
	b.ReportAllocs()
	for b.Loop() {
		if _, _, _, err := topology.ParseContainerlab(data, "bench.clab.yml", topology.Options{}); err != nil {
			b.Fatal(err)
		}
	}
}
