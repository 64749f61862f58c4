package controller

import (
	"encoding/binary"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/probe-agent/probe-agent/probestore"
)

// damagedJournal is a journal frame with a wrong checksum followed by
// more data: damage, not a torn tail (probestore/journal.go).
func damagedJournal() []byte {
	payload := []byte(`{"seq":1,"op":"put","id":"x","doc":{}}`)
	frame := binary.BigEndian.AppendUint32(nil, uint32(len(payload)))
	frame = binary.BigEndian.AppendUint32(frame, 0xdeadbeef)
	frame = append(frame, payload...)
	return append(frame, frame...)
}

// TestControllerStartsWithCorruptStore: a probes.json that does not
// parse (null, {}, truncated, empty) or a damaged journal does not stop
// the controller: the files are set aside (kept as they were), the
// probes_dir probes are in force, the corruption is counted on /metrics
// and /status, and the store loads cleanly afterwards.
func TestControllerStartsWithCorruptStore(t *testing.T) {
	const journal = "probes.journal.0000000000000001"
	for _, tc := range []struct {
		name     string
		files    map[string][]byte
		setAside []string
	}{
		{"null", map[string][]byte{probestore.FileName: []byte("null")}, []string{probestore.FileName}},
		{"empty object", map[string][]byte{probestore.FileName: []byte("{}")}, []string{probestore.FileName}},
		{"truncated", map[string][]byte{probestore.FileName: []byte(`{"generation": 7, "probes": [{"id": "a"`)}, []string{probestore.FileName}},
		{"empty file", map[string][]byte{probestore.FileName: nil}, []string{probestore.FileName}},
		{"damaged journal", map[string][]byte{probestore.FileName: []byte(`{"generation": 7, "probes": []}`), journal: damagedJournal()}, []string{journal}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			dir := t.TempDir()
			state := filepath.Join(dir, "state")
			if err := os.MkdirAll(filepath.Join(dir, "probes"), 0o755); err != nil {
				t.Fatal(err)
			}
			seed, _ := os.ReadFile("testdata/seed_probe.json")
			if err := os.WriteFile(filepath.Join(dir, "probes", "seed.json"), seed, 0o644); err != nil {
				t.Fatal(err)
			}
			if err := os.MkdirAll(state, 0o700); err != nil {
				t.Fatal(err)
			}
			for name, data := range tc.files {
				if err := os.WriteFile(filepath.Join(state, name), data, 0o600); err != nil {
					t.Fatal(err)
				}
			}
			c, _ := controllerIn(t, dir, "")
			if ps := c.Probes(); len(ps) != 1 || ps[0].ID != "server-imbalance" || ps[0].Error != "" {
				t.Errorf("probes after a corrupt store: %+v, want the probes_dir probe", ps)
			}
			st := c.Status()
			if st.StoreCorrupt != 1 || len(st.StoreSetAside) != len(tc.setAside) {
				t.Fatalf("status: store_corrupt %d, set aside %v", st.StoreCorrupt, st.StoreSetAside)
			}
			for i, name := range tc.setAside {
				moved := st.StoreSetAside[i]
				if !strings.HasPrefix(moved, filepath.Join(state, name)+".corrupt-") {
					t.Errorf("set aside as %s, want %s.corrupt-TIME", moved, name)
				}
				if kept, err := os.ReadFile(moved); err != nil || !slices.Equal(kept, tc.files[name]) {
					t.Errorf("%s not kept as it was: %q, %v", moved, kept, err)
				}
			}
			if got := metricValue(t, c.Registry(), "probe_controller_store_corrupt_total"); got != 1 {
				t.Errorf("probe_controller_store_corrupt_total = %v, want 1", got)
			}
			// What the controller saved since loads without complaint.
			s, err := probestore.Open(state)
			if err != nil {
				t.Fatal(err)
			}
			defer s.Close()
			set, err := s.Load()
			if err != nil || len(set.Probes) != 1 || set.Generation != c.Generation() {
				t.Errorf("the store after the start: %d probes, generation %d (controller %d), %v", len(set.Probes), set.Generation, c.Generation(), err)
			}
		})
	}
}
