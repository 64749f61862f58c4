package aosout

import (
	"math"
	"testing"
	"time"

	"google.golang.org/protobuf/proto"

	"github.com/probe-agent/probe-agent/probe"
)

// An anomaly rendered by the anomalies API and read back encodes to the
// same Alert as the original (4.x form: both bounds survive), or to the
// bound the seed form keeps.
func TestAnomalyFromJSONRoundTrip(t *testing.T) {
	t0 := time.Date(2026, 5, 1, 10, 0, 0, 123000, time.UTC)
	base := probe.Anomaly{ID: "a1", ItemID: "i1", ProbeID: "p1", ProbeLabel: "Errors", Stage: "s1",
		Keys: []string{"interface", "system_id"}, Props: []string{"eth1", "leaf1"}, Raised: true,
		FirstSeen: t0, LastModified: t0}
	enc := NewEncoder(Identity{BlueprintID: "dc1"})
	for _, tc := range []struct {
		name string
		d    probe.Dialect
		ev   probe.Evidence
		// seed: only the crossed bound survives
		want probe.Evidence
	}{
		{"4.x range ints", probe.Dialect4x, probe.Evidence{Kind: probe.Number, Actual: probe.Value{Num: 7}, HasMin: true, Min: 1, HasMax: true, Max: 5}, probe.Evidence{}},
		{"4.x float above max", probe.Dialect4x, probe.Evidence{Kind: probe.Number, Actual: probe.Value{Num: 2.5}, HasMax: true, Max: 0.5}, probe.Evidence{}},
		{"4.x NaN", probe.Dialect4x, probe.Evidence{Kind: probe.Number, Actual: probe.Value{Num: math.Inf(1)}, HasMax: true, Max: 3}, probe.Evidence{}},
		{"4.x state", probe.Dialect4x, probe.Evidence{Kind: probe.Text, Actual: probe.Value{Str: "down"}, State: "up"}, probe.Evidence{}},
		{"seed above max", probe.DialectSeed, probe.Evidence{Kind: probe.Number, Actual: probe.Value{Num: 150.5}, HasMin: true, Min: 0, HasMax: true, Max: 100},
			probe.Evidence{Kind: probe.Number, Actual: probe.Value{Num: 150.5}, HasMax: true, Max: 100}},
		{"seed below min", probe.DialectSeed, probe.Evidence{Kind: probe.Number, Actual: probe.Value{Num: 3}, HasMin: true, Min: 10},
			probe.Evidence{}},
		{"seed inside range", probe.DialectSeed, probe.Evidence{Kind: probe.Number, Actual: probe.Value{Num: 3}, HasMin: true, Min: 1, HasMax: true, Max: 5},
			probe.Evidence{}},
		{"seed text", probe.DialectSeed, probe.Evidence{Kind: probe.Text, Actual: probe.Value{Str: "false"}, State: "true"}, probe.Evidence{}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			a := base
			a.Dialect, a.Evidence = tc.d, tc.ev
			js, err := a.MarshalJSON()
			if err != nil {
				t.Fatal(err)
			}
			got, err := AnomalyFromJSON(js, a.ProbeID, a.Stage, a.ItemID, a.Raised)
			if err != nil {
				t.Fatalf("%s: %v", js, err)
			}
			want := a
			if tc.want.Kind != 0 || tc.want.HasMax {
				want.Evidence = tc.want
			}
			if tc.d == probe.DialectSeed {
				// The seed form carries no label.
				want.ProbeLabel = ""
			}
			wm, gm := enc.Alert(&want, t0), enc.Alert(&got, t0)
			if !proto.Equal(wm, gm) {
				t.Errorf("%s\n got %v\nwant %v", js, gm, wm)
			}
		})
	}
}

func TestAnomalyFromJSONErrors(t *testing.T) {
	for _, tc := range []struct{ name, in string }{
		{"not JSON", `{`},
		{"no id", `{"actual":{"value":1}}`},
		{"no actual value", `{"id":"a","actual":{}}`},
		{"bad time", `{"id":"a","last_modified_at":"yesterday","actual":{"value":1}}`},
		{"bad properties", `{"id":"a","actual":{"value":1},"identity":{"properties":7}}`},
		{"bad bound", `{"id":"a","actual":{"value":1},"anomalous":{"value_min":"x"}}`},
		{"value object", `{"id":"a","actual":{"value":{}}}`},
	} {
		if _, err := AnomalyFromJSON([]byte(tc.in), "p1", "s1", "i1", true); err == nil {
			t.Errorf("%s: no error for %s", tc.name, tc.in)
		}
	}
}

// FuzzAnomalyFromJSON: any input gives an anomaly or an error, never a
// panic, and an accepted one encodes.
func FuzzAnomalyFromJSON(f *testing.F) {
	a := probe.Anomaly{ID: "a1", ProbeID: "p", Stage: "s", Keys: []string{"k"}, Props: []string{"v"}, Dialect: probe.Dialect4x,
		Evidence: probe.Evidence{Kind: probe.Number, Actual: probe.Value{Num: 2}, HasMax: true, Max: 1}}
	js, _ := a.MarshalJSON()
	f.Add(js)
	a.Dialect = probe.DialectSeed
	js, _ = a.MarshalJSON()
	f.Add(js)
	f.Add([]byte(`{"id":"x","actual":{"value":"up"},"expected":{"value":"down"}}`))
	enc := NewEncoder(Identity{})
	f.Fuzz(func(t *testing.T, in []byte) {
		got, err := AnomalyFromJSON(in, "p", "s", "i", true)
		if err != nil {
			return
		}
		if len(got.Keys) != len(got.Props) {
			t.Fatalf("%d keys, %d props", len(got.Keys), len(got.Props))
		}
		_ = enc.Alert(&got, time.Time{})
	})
}
