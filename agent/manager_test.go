package agent

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/probe-agent/probe-agent/collectors"
	"github.com/probe-agent/probe-agent/probe"
)

func counterProbe(id, counter string) []byte {
	return []byte(fmt.Sprintf(`{"id": %q, "label": "L-%s", "processors": [
		{"name": "c", "type": "if_counter", "outputs": {"out": "rate"}, "properties": {"counter_type": %q}},
		{"name": "acc", "type": "accumulate", "inputs": {"in": "rate"}, "outputs": {"out": "hist"}}]}`, id, id, counter))
}

func quietLog() *slog.Logger { return slog.New(slog.NewTextHandler(io.Discard, nil)) }

// tickAll evaluates every probe over a one-interface batch.
func tickAll(m *Manager, at time.Time, v uint64) {
	b := &collectors.Batch{Time: at, Layout: 1, Interfaces: []collectors.Interface{{SystemID: "s", Name: "e"}}}
	b.Interfaces[0].Set(collectors.TxBytes, v)
	b.Interfaces[0].Set(collectors.RxBytes, v)
	m.Each(func(inst *probe.Instance) { _ = inst.Tick(&probe.Tick{Time: at, Counters: b}) })
}

func samples(t *testing.T, m *Manager, id string) int {
	t.Helper()
	n := -1
	if err := m.View(id, func(_ ProbeInfo, inst *probe.Instance) error {
		st, _ := inst.Stage("hist")
		n = 0
		if st.Len() > 0 {
			n = st.Item(0).SampleCount()
		}
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	return n
}

func TestApplyKeepsUnchangedProbesAndPersists(t *testing.T) {
	dir := t.TempDir()
	store, _ := OpenStore(dir)
	var removed []string
	m := NewManager(quietLog(), store, func(inst *probe.Instance) { removed = append(removed, inst.ID()) })
	res, err := m.Apply(1, [][]byte{counterProbe("a", "tx_bytes"), counterProbe("b", "rx_bytes")})
	if err != nil || len(res) != 2 || res[0].Action != "created" {
		t.Fatalf("apply 1: %v %+v", err, res)
	}
	t0 := time.Unix(1000, 0)
	for i := 0; i < 3; i++ {
		tickAll(m, t0.Add(time.Duration(i)*time.Second), uint64(100*i*i))
	}
	if samples(t, m, "a") != 2 || samples(t, m, "b") != 2 {
		t.Fatalf("history before re-apply: a=%d b=%d", samples(t, m, "a"), samples(t, m, "b"))
	}
	// b changes, a does not, c is new: a keeps its history, b restarts.
	res, err = m.Apply(2, [][]byte{counterProbe("a", "tx_bytes"), counterProbe("b", "tx_bytes"), counterProbe("c", "tx_bytes")})
	if err != nil {
		t.Fatal(err)
	}
	actions := map[string]string{}
	for _, r := range res {
		actions[r.ID] = r.Action
	}
	if actions["a"] != "unchanged" || actions["b"] != "replaced" || actions["c"] != "created" {
		t.Errorf("actions %v", actions)
	}
	if samples(t, m, "a") != 2 || samples(t, m, "b") != 0 {
		t.Errorf("after re-apply: a=%d (want 2, kept) b=%d (want 0, restarted)", samples(t, m, "a"), samples(t, m, "b"))
	}
	// An older generation is refused; the same one is fine.
	if _, err := m.Apply(1, nil); !errors.Is(err, ErrStaleGeneration) {
		t.Errorf("older generation: %v", err)
	}
	// Deleting by omission.
	res, err = m.Apply(2, [][]byte{counterProbe("a", "tx_bytes")})
	if err != nil {
		t.Fatal(err)
	}
	if len(m.List()) != 1 || len(removed) != 3 { // b (replaced), b and c (deleted)
		t.Errorf("after shrinking: %d probes, removed %v, results %+v", len(m.List()), removed, res)
	}
	// A restart restores generation and set.
	m2 := NewManager(quietLog(), store, nil)
	if err := m2.Restore(); err != nil {
		t.Fatal(err)
	}
	if m2.Generation() != 2 || len(m2.List()) != 1 || m2.List()[0].ID != "a" {
		t.Errorf("restored generation %d, probes %+v", m2.Generation(), m2.List())
	}
	if matches, _ := filepath.Glob(filepath.Join(dir, "*.tmp-*")); len(matches) != 0 {
		t.Errorf("temporary files left: %v", matches)
	}
}

func TestApplyInvalidChangesNothing(t *testing.T) {
	store, _ := OpenStore(t.TempDir())
	m := NewManager(quietLog(), store, nil)
	if _, err := m.Apply(5, [][]byte{counterProbe("a", "tx_bytes")}); err != nil {
		t.Fatal(err)
	}
	bad := []byte(`{"id": "x", "label": "bad", "processors": [{"name": "s", "type": "std_dev", "inputs": {"in": "nowhere"}, "outputs": {"out": "o"}}]}`)
	central := []byte(`{"id": "y", "label": "central", "processors": [{"name": "svc", "type": "extensible_data_collector", "outputs": {"out": "o"}, "properties": {"service_name": "x", "data_type": "number", "system_id": "system.system_id", "graph_query": []}}]}`)
	_, err := m.Apply(6, [][]byte{counterProbe("b", "tx_bytes"), bad, central})
	var verr *ValidationError
	if !errors.As(err, &verr) || len(verr.Docs) != 2 || verr.Docs[0].Index != 1 || verr.Docs[1].Index != 2 {
		t.Fatalf("want a validation error for documents 1 and 2, got %v", err)
	}
	if verr.Docs[0].Problems[0].Processor != "s" || verr.Docs[0].Problems[0].Field != "inputs.in" {
		t.Errorf("problem not located: %+v", verr.Docs[0].Problems)
	}
	if m.Generation() != 5 || len(m.List()) != 1 || m.List()[0].ID != "a" {
		t.Errorf("previous set not kept: gen %d %+v", m.Generation(), m.List())
	}
	set, _ := m.store.Load()
	if set.Generation != 5 || len(set.Probes) != 1 {
		t.Errorf("store changed: %+v", set)
	}
}

func TestCreatePatchReplaceDelete(t *testing.T) {
	m := NewManager(quietLog(), nil, nil)
	id, err := m.Create([]byte(`{"label": "no id", "processors": [{"name": "c", "type": "if_counter", "outputs": {"out": "rate"}, "properties": {"counter_type": "tx_bytes"}}]}`))
	if err != nil || len(id) != 36 {
		t.Fatalf("create: %q %v", id, err)
	}
	if _, err := m.Create(counterProbe(id, "tx_bytes")); !errors.Is(err, ErrExists) {
		t.Errorf("duplicate id: %v", err)
	}
	if err := m.Patch(id, []byte(`{"label": "renamed", "tags": ["c"], "stages": [{"name": "rate", "units": "Bps"}]}`)); err != nil {
		t.Fatal(err)
	}
	info, _ := m.Get(id)
	var doc map[string]any
	_ = json.Unmarshal(info.Doc, &doc)
	if info.Label != "renamed" || doc["tags"].([]any)[0] != "c" || doc["id"] != id {
		t.Errorf("patched: %+v %s", info, info.Doc)
	}
	if err := m.Patch(id, []byte(`{"processors": []}`)); err == nil {
		t.Error("PATCH of processors accepted")
	}
	if err := m.Replace(id, counterProbe("", "rx_bytes")); err != nil {
		t.Fatal(err)
	}
	if err := m.Delete(id); err != nil || len(m.List()) != 0 {
		t.Errorf("delete: %v %+v", err, m.List())
	}
	if err := m.Delete(id); !errors.Is(err, ErrNotFound) {
		t.Errorf("second delete: %v", err)
	}
}

func TestStoreSurvivesPartialWrites(t *testing.T) {
	dir := t.TempDir()
	store, _ := OpenStore(dir)
	if err := store.Save(StoredSet{Generation: 3, Probes: []json.RawMessage{counterProbe("a", "tx_bytes")}}); err != nil {
		t.Fatal(err)
	}
	// A crash between writing the temporary file and renaming it leaves a
	// stray temporary file; the stored set is still the old one.
	if err := os.WriteFile(filepath.Join(dir, storeFile+".tmp-123"), []byte(`{"generation": 4, "probes": [`), 0o600); err != nil {
		t.Fatal(err)
	}
	set, err := store.Load()
	if err != nil || set.Generation != 3 || len(set.Probes) != 1 {
		t.Errorf("%+v %v", set, err)
	}
	if _, err := OpenStore(dir); err != nil {
		t.Fatal(err)
	}
	if left, _ := filepath.Glob(filepath.Join(dir, "*.tmp-*")); len(left) != 0 {
		t.Errorf("reopening the store left temporary files: %v", left)
	}
}
