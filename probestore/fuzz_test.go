package probestore

import (
	"encoding/json"
	"os"
	"path/filepath"
	"testing"
)

// FuzzLoad: whatever the state directory holds, Load returns a set or an
// error and never panics; a set it returns without error is stable (a
// second load gives the same set) and an error is a *CorruptError that
// SetAside clears.
func FuzzLoad(f *testing.F) {
	seeds, _ := filepath.Glob("testdata/load/*.json")
	for _, name := range seeds {
		data, err := os.ReadFile(name)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(data, []byte(nil))
	}
	frame, _ := encodeRecord(record{Seq: 1, Op: opPut, ID: "a", Doc: json.RawMessage(`{"id":"a"}`)})
	del, _ := encodeRecord(record{Seq: 2, Op: opDelete, ID: "a"})
	f.Add([]byte(`{"generation":1,"probes":[]}`), append(frame, del...))
	f.Add([]byte(nil), frame[:len(frame)-2])
	f.Fuzz(func(t *testing.T, snapshot, journal []byte) {
		dir := t.TempDir()
		if snapshot != nil {
			if err := os.WriteFile(filepath.Join(dir, FileName), snapshot, 0o600); err != nil {
				t.Fatal(err)
			}
		}
		if journal != nil {
			if err := os.WriteFile(filepath.Join(dir, journalPrefix+"0000000000000001"), journal, 0o600); err != nil {
				t.Fatal(err)
			}
		}
		s, err := Open(dir)
		if err != nil {
			t.Fatal(err)
		}
		defer s.Close()
		set, err := s.Load()
		if err != nil {
			ce, ok := err.(*CorruptError)
			if !ok {
				t.Fatalf("load error is not a CorruptError: %v", err)
			}
			if _, err := s.SetAside(ce); err != nil {
				t.Fatal(err)
			}
		}
		if len(set.IDs) != len(set.Probes) {
			t.Fatalf("%d ids for %d probes", len(set.IDs), len(set.Probes))
		}
		again, err := s.Load()
		if err != nil {
			t.Fatalf("second load: %v", err)
		}
		if again.Generation != set.Generation || len(again.Probes) != len(set.Probes) {
			t.Fatalf("second load differs: %d/%d probes, gen %d/%d", len(again.Probes), len(set.Probes), again.Generation, set.Generation)
		}
		for i := range set.Probes {
			if string(again.Probes[i]) != string(set.Probes[i]) || again.IDs[i] != set.IDs[i] {
				t.Fatalf("probe %d differs after reload: %s %q / %s %q", i, again.Probes[i], again.IDs[i], set.Probes[i], set.IDs[i])
			}
		}
	})
}
