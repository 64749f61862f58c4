package agent

import (
	"bytes"
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"slices"
	"testing"
)

// fuzzSeedDocs are the seed documents of the manager's fuzz targets:
// testdata/fuzz-apply/*.json and the seed streaming probe.
func fuzzSeedDocs(f *testing.F) [][]byte {
	names, _ := filepath.Glob("testdata/fuzz-apply/*.json")
	names = append(names, "testdata/seed_streaming.json")
	var out [][]byte
	for _, n := range names {
		data, err := os.ReadFile(n)
		if err != nil {
			f.Fatal(err)
		}
		out = append(out, data)
	}
	return out
}

// FuzzPatch merges arbitrary PATCH bodies into probe documents: no panic;
// an accepted PATCH keeps the id, compiles, and applying it again changes
// nothing (PATCH is idempotent).
func FuzzPatch(f *testing.F) {
	for _, d := range fuzzSeedDocs(f) {
		f.Add(d, []byte(`{"label":"renamed","tags":["a"],"stages":[{"name":"rate","units":"Bps"}]}`))
		f.Add(d, []byte(`{"stages":[{"name":"new"},{"name":"new","description":"twice"}]}`))
		f.Add(d, []byte(`{"stages":[null]}`))
		f.Add(d, []byte(`{"disabled":true,"id":"x"}`))
	}
	m := NewManager(quietLog(), nil, nil)
	f.Fuzz(func(t *testing.T, doc, patch []byte) {
		plan, canon, probs := m.compile(doc, "")
		if len(probs) > 0 {
			return
		}
		once, p1, err := patchDoc(m.compile, plan.ID, canon, patch)
		if err != nil {
			var verr *ValidationError
			if !errors.As(err, &verr) {
				t.Fatalf("PATCH %q: error %v is not a validation error", patch, err)
			}
			return
		}
		if p1.ID != plan.ID {
			t.Fatalf("PATCH %q changed the id %q to %q", patch, plan.ID, p1.ID)
		}
		twice, p2, err := patchDoc(m.compile, plan.ID, once, patch)
		if err != nil || p2.ID != plan.ID {
			t.Fatalf("PATCH %q applied twice: %v", patch, err)
		}
		if !bytes.Equal(once, twice) {
			t.Fatalf("PATCH %q is not idempotent:\n%s\n%s", patch, once, twice)
		}
	})
}

// FuzzApply drives ApplyProbes semantics with arbitrary documents and
// generations: no panic; a refused apply changes nothing; an accepted one
// runs exactly its documents' ids (explicit or derived, no duplicates) at
// its generation, and re-applying it leaves every probe unchanged.
func FuzzApply(f *testing.F) {
	docs := fuzzSeedDocs(f)
	for _, d := range docs {
		f.Add(uint64(1), d, []byte(`[]`), uint64(2))
		f.Add(uint64(3), d, d, uint64(3))
	}
	f.Add(uint64(1), []byte(`{"label":"derived","processors":[]}`), []byte(`[{"label":"derived","processors":[]}]`), uint64(0))
	f.Add(uint64(1<<63), []byte(`{}`), []byte(`[]`), uint64(1<<64-1))
	f.Fuzz(func(t *testing.T, gen1 uint64, doc, more []byte, gen2 uint64) {
		m := NewManager(quietLog(), nil, nil)
		var extra []json.RawMessage
		_ = json.Unmarshal(more, &extra)
		set := [][]byte{doc}
		for _, e := range extra {
			set = append(set, e)
		}
		for _, gen := range []uint64{gen1, gen2} {
			beforeGen, before := m.Snapshot()
			res, err := m.Apply(gen, set)
			afterGen, after := m.Snapshot()
			if err != nil {
				if afterGen != beforeGen || len(after) != len(before) {
					t.Fatalf("refused apply (%v) changed the set: %d->%d probes, generation %d->%d", err, len(before), len(after), beforeGen, afterGen)
				}
				if gen < beforeGen && !errors.Is(err, ErrStaleGeneration) {
					t.Fatalf("apply of generation %d after %d: %v, want stale", gen, beforeGen, err)
				}
				continue
			}
			if gen > MaxGeneration || gen < beforeGen || afterGen != gen {
				t.Fatalf("apply of generation %d (applied %d) accepted, now %d", gen, beforeGen, afterGen)
			}
			var ids, want []string
			for _, p := range after {
				ids = append(ids, p.ID)
			}
			for _, r := range res {
				if r.Action != "deleted" {
					want = append(want, r.ID)
				}
			}
			slices.Sort(want)
			if !slices.Equal(ids, want) || len(want) != len(set) {
				t.Fatalf("after apply: %v, want %v (%d documents)", ids, want, len(set))
			}
			again, err := m.Apply(gen, set)
			if err != nil {
				t.Fatalf("re-apply: %v", err)
			}
			for _, r := range again {
				if r.Action != "unchanged" {
					t.Fatalf("re-apply: %s %s", r.ID, r.Action)
				}
			}
		}
	})
}
