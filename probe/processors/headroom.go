package processors

import (
	"github.com/probe-agent/probe-agent/probe"
)

// AOS 2.x's headroom processor (Apstra/iba's headroom.py builds it) took
// interface tx_bytes and rx_bytes rates and, for each configured pair of
// systems, the paths between them through the fabric: the headroom of a link
// is its capacity minus its traffic, the headroom of a path the smallest
// headroom of its links, and the processor reported the pair's smallest and
// largest path headroom and which paths they were. Paths come from the
// blueprint graph, so only a central evaluator that holds the topology could
// run it; it is accepted so that 2.x-era documents validate with their
// intent explained, and it is central-only.
func init() {
	pair := probe.Object(map[string]*probe.Schema{
		"src_system": probe.Prop("string").Desc("System id (or label) at one end."),
		"dst_system": probe.Prop("string").Desc("System id (or label) at the other end."),
	})
	probe.Register(&probe.Spec{
		Name:  "headroom",
		Label: "Headroom",
		Description: `Headroom Processor (AOS 2.x).

Inputs tx_bytes and rx_bytes: interface rates (NS, keyed by system_id and
interface). For each pair in pairs, the available bandwidth on the fabric
paths between src_system and dst_system: link_headroom is each link's speed
minus its traffic; min_headroom and max_headroom are, per pair, the smallest
and largest path headroom (a path's headroom is that of its most loaded
link); min_headroom_path and max_headroom_path name those paths (text).
Paths come from the fabric graph.
` + centralOnlyNote + `
It needs the paths between systems, which only the controller's topology
holds; AOS 3.0 and later have no headroom processor.`,
		Inputs: map[string]probe.Port{
			"tx_bytes": {Required: true, Types: []probe.StageType{probe.NS}},
			"rx_bytes": {Required: true, Types: []probe.StageType{probe.NS}},
		},
		Outputs: map[string]probe.Port{
			"min_headroom":      {Types: []probe.StageType{probe.NS}},
			"max_headroom":      {Types: []probe.StageType{probe.NS}},
			"min_headroom_path": {Types: []probe.StageType{probe.TS}},
			"max_headroom_path": {Types: []probe.StageType{probe.TS}},
			"link_headroom":     {Types: []probe.StageType{probe.NS}},
		},
		Schema: probe.Merge(streamingProps(), graphQueryProps(), map[string]*probe.Schema{
			"pairs": probe.Prop("array").Def([]any{}).Of(pair).Desc("System pairs whose paths are measured."),
		}),
		CentralOnly: true,
		New:         newHeadroom,
	})
}

func newHeadroom(b *probe.Build) (probe.Processor, error) {
	pairKeys := []string{"src_system", "dst_system"}
	b.Output("min_headroom", probe.NS, pairKeys)
	b.Output("max_headroom", probe.NS, pairKeys)
	b.Output("min_headroom_path", probe.TS, pairKeys)
	b.Output("max_headroom_path", probe.TS, pairKeys)
	b.Output("link_headroom", probe.NS, []string{"system_id", "interface"})
	return &centralOnly{name: "headroom"}, nil
}
