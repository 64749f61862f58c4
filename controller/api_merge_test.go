package controller

import (
	"encoding/json"
	"fmt"
	"strings"
	"testing"
)

// stageAnswer renders a set stage answer of one device with n interfaces,
// as an agent's GetStage does.
func stageAnswer(dev string, n int) map[string]json.RawMessage {
	var values []string
	for i := range n {
		values = append(values, fmt.Sprintf(`{"value": %d, "properties": {"interface": "eth%d", "system_id": %q}}`, 1000+i, i, dev))
	}
	var m map[string]json.RawMessage
	_ = json.Unmarshal([]byte(`{"type": "ns", "units": "Bps", "properties": ["interface", "system_id"], "values": [`+strings.Join(values, ",")+`]}`), &m)
	return m
}

// TestMergeStageAnswers: the union of set stages in property order; for
// single-item stages the first valid value.
func TestMergeStageAnswers(t *testing.T) {
	for _, tc := range []struct {
		name  string
		parts []string
		want  string
	}{
		{"union in property order",
			[]string{`{"type": "ns", "properties": ["interface", "system_id"], "values": [{"value": 1, "properties": {"interface": "eth2", "system_id": "leaf1"}}]}`,
				`{"type": "ns", "properties": ["interface", "system_id"], "values": [{"value": 2, "properties": {"interface": "eth1", "system_id": "leaf2"}}, {"value": 3, "properties": {"interface": "eth2", "system_id": "leaf0"}}]}`},
			`{"properties":["interface","system_id"],"type":"ns","values":[{"value": 2, "properties": {"interface": "eth1", "system_id": "leaf2"}},{"value": 3, "properties": {"interface": "eth2", "system_id": "leaf0"}},{"value": 1, "properties": {"interface": "eth2", "system_id": "leaf1"}}]}`},
		{"empty sets", []string{`{"type": "ns", "properties": ["interface"], "values": []}`, `{"type": "ns", "properties": ["interface"], "values": []}`},
			`{"properties":["interface"],"type":"ns","values":[]}`},
		{"single item: first valid", []string{`{"type": "n", "value": null}`, `{"type": "n", "value": 7}`, `{"type": "n", "value": 8}`},
			`{"type":"n","value":7}`},
		{"single item: none valid", []string{`{"type": "n", "value": null}`}, `{"type":"n","value":null}`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var parts []map[string]json.RawMessage
			for _, p := range tc.parts {
				var m map[string]json.RawMessage
				if err := json.Unmarshal([]byte(p), &m); err != nil {
					t.Fatal(err)
				}
				parts = append(parts, m)
			}
			got, err := json.Marshal(mergeStageAnswers(parts))
			if err != nil {
				t.Fatal(err)
			}
			if compact(t, string(got)) != compact(t, tc.want) {
				t.Errorf("merged\n%s\nwant\n%s", got, compact(t, tc.want))
			}
		})
	}
}

func compact(t *testing.T, s string) string {
	t.Helper()
	var v any
	if err := json.Unmarshal([]byte(s), &v); err != nil {
		t.Fatal(err)
	}
	out, _ := json.Marshal(v)
	return string(out)
}

// FuzzMergeStageAnswers: whatever two agents answer, the merge does not
// panic and its result encodes; two set answers give every item of both.
func FuzzMergeStageAnswers(f *testing.F) {
	a, _ := json.Marshal(stageAnswer("leaf1", 2))
	b, _ := json.Marshal(stageAnswer("leaf2", 3))
	f.Add(a, b)
	f.Add([]byte(`{"value": null}`), []byte(`{"value": 1}`))
	f.Add([]byte(`{"values": 3, "properties": {}}`), []byte(`{"values": [1, "x", null]}`))
	f.Fuzz(func(t *testing.T, x, y []byte) {
		var px, py map[string]json.RawMessage
		if json.Unmarshal(x, &px) != nil || json.Unmarshal(y, &py) != nil || px == nil || py == nil {
			return
		}
		out := mergeStageAnswers([]map[string]json.RawMessage{px, py})
		if _, err := json.Marshal(out); err != nil {
			t.Fatalf("merged answer does not encode: %v", err)
		}
		var vx, vy []json.RawMessage
		if _, set := px["values"]; set && json.Unmarshal(px["values"], &vx) == nil && json.Unmarshal(py["values"], &vy) == nil {
			if got := out["values"].([]json.RawMessage); len(got) != len(vx)+len(vy) {
				t.Fatalf("merged %d items of %d and %d", len(got), len(vx), len(vy))
			}
		}
	})
}

// BenchmarkMergeEdgeStage merges an edge stage of 32 leaves with 48
// server ports each, as GET .../stages/{stage} does for the seed probe's
// server_tx_bytes_output on the benchmark fabric.
func BenchmarkMergeEdgeStage(b *testing.B) {
	var parts []map[string]json.RawMessage
	for i := range 32 {
		parts = append(parts, stageAnswer(fmt.Sprintf("leaf%d", i+1), 48))
	}
	b.ReportAllocs()
	for b.Loop() {
		out, err := json.Marshal(mergeStageAnswers(parts))
		if err != nil || len(out) == 0 {
			b.Fatal(err)
		}
	}
}
