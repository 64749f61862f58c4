package query

import (
	"errors"
	"testing"

	"github.com/probe-agent/probe-agent/topology"
)

// FuzzParse: any input parses or fails with a SyntaxError whose position is
// inside the input; a query that parses runs on a small graph without
// panicking and every row binds only nodes of that graph.
func FuzzParse(f *testing.F) {
	for _, q := range factQueries {
		f.Add(q)
	}
	f.Add(`match(match(node('system', name='a'), node('system', name='b')).ensure_different('a', 'b'), optional(node(name='a').out('part_of_rack').node('rack', name='r'))).distinct(names=['a'])`)
	f.Add(`node('system', name='s').having(node(name='s').out('hosted_interfaces').node('interface'), at_most=0).where(lambda s: s.role in ['leaf'] and s.system_id)`)
	f.Add(`node('interface', name='i', loopback_id=ge(-1), if_name=not_in(["a", 'b\'c']))`)
	g, err := topology.ParseGraphJSON([]byte(featureGraph), "feature.json")
	if err != nil {
		f.Fatal(err)
	}
	f.Fuzz(func(t *testing.T, src string) {
		q, err := Parse(src)
		if err != nil {
			var se *SyntaxError
			if !errors.As(err, &se) {
				t.Fatalf("error %v is not a SyntaxError", err)
			}
			if se.Pos < 0 || se.Pos > len(src) {
				t.Fatalf("position %d outside the input of %d bytes", se.Pos, len(src))
			}
			return
		}
		res, err := q.Match(g)
		if err != nil {
			return
		}
		for i := 0; i < res.Len() && i < 100; i++ {
			for _, n := range res.Row(i) {
				if n != nil && g.Node(n.ID) != n {
					t.Fatalf("row %d binds a node not in the graph", i)
				}
			}
		}
	})
}
