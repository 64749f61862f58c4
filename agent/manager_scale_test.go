package agent

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"math"
	"math/bits"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/probe-agent/probe-agent/probe"
)

// tinyProbe is the smallest useful probe: one counter stage.
func tinyProbe(id string) []byte {
	q, _ := json.Marshal(id)
	return []byte(fmt.Sprintf(`{"id":%s,"label":"L%s","processors":[{"name":"c","type":"if_counter","outputs":{"out":"rate"},"properties":{"counter_type":"tx_bytes"}}]}`, q, q[1:len(q)-1]))
}

func tinyProbes(prefix string, n int) [][]byte {
	docs := make([][]byte, n)
	for i := range docs {
		docs[i] = tinyProbe(fmt.Sprintf("%s%d", prefix, i))
	}
	return docs
}

// TestApplyAndRestoreAreLinearithmic applies, re-applies, changes and
// restores 20,000 tiny probes and counts the manager's per-probe steps
// (index lookups and entries visited) and the store's writes: every
// operation stays within n log n steps (the former linear find inside the
// loops took n² = 4e8), one snapshot write per apply and no fsync per
// probe.
func TestApplyAndRestoreAreLinearithmic(t *testing.T) {
	n := 20000
	if testing.Short() {
		n = 2000
	}
	bound := uint64(n * bits.Len(uint(n))) // n log2 n
	dir := t.TempDir()
	store, _ := OpenStore(dir)
	m := NewManager(quietLog(), store, nil)
	m.SetLocal(OriginFile, nil)

	measure := func(what string, fn func() error) {
		t.Helper()
		before, sb := m.steps.Load(), store.Stats()
		if err := fn(); err != nil {
			t.Fatalf("%s: %v", what, err)
		}
		steps, sa := m.steps.Load()-before, store.Stats()
		t.Logf("%s of %d probes: %d steps (n log n = %d), %d snapshot(s), %d fsync(s)", what, n, steps, bound, sa.Snapshots-sb.Snapshots, sa.Syncs-sb.Syncs)
		if steps > bound {
			t.Errorf("%s of %d probes took %d steps, over n log n = %d", what, n, steps, bound)
		}
		if sa.Snapshots-sb.Snapshots > 1 || sa.Syncs != sb.Syncs || sa.Records != sb.Records {
			t.Errorf("%s wrote %d snapshots, %d journal records and %d fsyncs; want one snapshot", what, sa.Snapshots-sb.Snapshots, sa.Records-sb.Records, sa.Syncs-sb.Syncs)
		}
	}
	docs := tinyProbes("p", n)
	var res []ApplyResult
	measure("apply", func() (err error) { res, err = m.Apply(1, docs); return })
	if len(res) != n || res[n-1].Action != "created" {
		t.Fatalf("apply: %d results", len(res))
	}
	measure("re-apply", func() (err error) { res, err = m.Apply(2, docs); return })
	if res[0].Action != "unchanged" {
		t.Errorf("re-apply: %+v", res[0])
	}
	// Half the set replaced by other probes.
	half := append(docs[:n/2:n/2], tinyProbes("q", n/2)...)
	measure("half-changed apply", func() (err error) { res, err = m.Apply(3, half); return })
	if got := len(res); got != n+n/2 {
		t.Errorf("half-changed apply: %d results, want %d (n + the deleted)", got, n+n/2)
	}

	m2 := NewManager(quietLog(), store, nil)
	m = m2
	measure("restore", m2.Restore)
	if got := len(m2.List()); got != n || m2.Generation() != 3 {
		t.Errorf("restored %d probes at generation %d", got, m2.Generation())
	}
}

// TestPostsAreJournalled: REST creates, replaces, patches and deletes
// append one journal record each instead of rewriting the store; the
// snapshot is rewritten a logarithmic number of times, and a restart sees
// exactly the result.
func TestPostsAreJournalled(t *testing.T) {
	n := 3000
	if testing.Short() {
		n = 500
	}
	dir := t.TempDir()
	store, _ := OpenStore(dir)
	m := NewManager(quietLog(), store, nil)
	var wg sync.WaitGroup
	errs := make(chan error, n)
	for w := range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := w; i < n; i += 8 {
				if _, err := m.Create(tinyProbe(fmt.Sprint("r", i))); err != nil {
					errs <- err
				}
			}
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatal(err)
	}
	if err := m.Patch("r1", []byte(`{"label":"patched"}`)); err != nil {
		t.Fatal(err)
	}
	if err := m.Replace("r2", tinyProbe("")); err != nil {
		t.Fatal(err)
	}
	if err := m.Delete("r3"); err != nil {
		t.Fatal(err)
	}
	st := store.Stats()
	t.Logf("%d creates + 3 changes: %+v", n, st)
	if st.Records != uint64(n+3) || st.Snapshots > 4 || st.Syncs > st.Records {
		t.Errorf("store I/O for %d creates and 3 changes: %+v; want one record each, a few snapshots at most", n, st)
	}
	store.Close()
	store2, _ := OpenStore(dir)
	m2 := NewManager(quietLog(), store2, nil)
	if err := m2.Restore(); err != nil {
		t.Fatal(err)
	}
	if got := len(m2.List()); got != n-1 {
		t.Errorf("restored %d probes, want %d", got, n-1)
	}
	if info, err := m2.Get("r1"); err != nil || info.Label != "patched" {
		t.Errorf("patched probe after restart: %+v %v", info, err)
	}
	if _, err := m2.Get("r3"); !errors.Is(err, ErrNotFound) {
		t.Errorf("deleted probe after restart: %v", err)
	}
}

// TestTickProceedsDuringApply: while a large apply compiles and persists,
// the tick loop (Each, NoteTick), GETs and /metrics (List, StateCounts) do
// not wait for it. The apply is held at its hook points until the test has
// ticked; with the lock held across the apply, the tick would deadlock.
func TestTickProceedsDuringApply(t *testing.T) {
	store, _ := OpenStore(t.TempDir())
	m := NewManager(quietLog(), store, nil)
	if _, err := m.Apply(1, [][]byte{tinyProbe("running")}); err != nil {
		t.Fatal(err)
	}
	ticked := map[string]int{}
	m.hook = func(point string) {
		done := make(chan int)
		go func() {
			n := 0
			m.Each(func(*probe.Instance) { n++ })
			m.NoteTick(timeAt(1))
			_ = m.List()
			_ = m.StateCounts()
			done <- n
		}()
		ticked[point] = <-done
	}
	docs := append(tinyProbes("p", 2000), tinyProbe("running"))
	if _, err := m.Apply(2, docs); err != nil {
		t.Fatal(err)
	}
	m.hook = nil
	// During the apply the tick saw the old set: one probe.
	if ticked["compiled"] != 1 || ticked["persisted"] != 1 {
		t.Errorf("ticks during the apply saw %v probes, want the old set (1) at both points", ticked)
	}
	if got := len(m.List()); got != 2001 {
		t.Errorf("after the apply: %d probes", got)
	}
}

// TestPatchKeepsDerivedID: a probe applied without an id keeps the id
// derived at apply time through PATCHes and a restart.
func TestPatchKeepsDerivedID(t *testing.T) {
	dir := t.TempDir()
	store, _ := OpenStore(dir)
	m := NewManager(quietLog(), store, nil)
	res, err := m.Apply(1, [][]byte{[]byte(`{"label":"no id","processors":[{"name":"c","type":"if_counter","outputs":{"out":"rate"},"properties":{"counter_type":"tx_bytes"}}]}`)})
	if err != nil {
		t.Fatal(err)
	}
	id := res[0].ID
	for _, patch := range []string{`{"label":"renamed"}`, `{"tags":["x"],"stages":[{"name":"rate","units":"Bps"}]}`} {
		if err := m.Patch(id, []byte(patch)); err != nil {
			t.Fatalf("patch %s: %v", patch, err)
		}
		if got := m.List(); len(got) != 1 || got[0].ID != id {
			t.Fatalf("after PATCH %s the probe is %+v, want id %s", patch, got, id)
		}
	}
	m2 := NewManager(quietLog(), store, nil)
	if err := m2.Restore(); err != nil {
		t.Fatal(err)
	}
	info, err := m2.Get(id)
	if err != nil || info.Label != "renamed" {
		t.Errorf("after restart: %+v %v, want id %s kept", info, err, id)
	}
}

func TestGenerationRange(t *testing.T) {
	m := NewManager(quietLog(), nil, nil)
	for _, tc := range []struct {
		gen  uint64
		want error
	}{
		{math.MaxUint64, ErrGenerationRange},
		{MaxGeneration + 1, ErrGenerationRange},
		{5, nil},
		{MaxGeneration, nil},
		{MaxGeneration, nil}, // the same generation may be re-applied
		{5, ErrStaleGeneration},
	} {
		_, err := m.Apply(tc.gen, [][]byte{tinyProbe("a")})
		if !errors.Is(err, tc.want) {
			t.Errorf("apply at %d: %v, want %v", tc.gen, err, tc.want)
		}
		if tc.want == ErrGenerationRange && !strings.Contains(fmt.Sprint(err), "generation") {
			t.Errorf("error does not name the generation: %v", err)
		}
	}
	if m.Generation() != MaxGeneration {
		t.Errorf("generation %d", m.Generation())
	}
}

// TestCorruptStoreStartsWithProbesDir: a corrupt probes.json (or one that
// is null or {}) does not stop the manager: probes_dir probes run, the
// file is moved aside and counted, and a later apply persists again.
func TestCorruptStoreStartsWithProbesDir(t *testing.T) {
	for name, content := range map[string]string{"garbage": `{"generation": 3, "probes": [{"id"`, "null": `null`, "empty object": `{}`} {
		t.Run(name, func(t *testing.T) {
			dir := t.TempDir()
			if err := os.WriteFile(filepath.Join(dir, storeFile), []byte(content), 0o600); err != nil {
				t.Fatal(err)
			}
			store, _ := OpenStore(dir)
			var logged strings.Builder
			m := NewManager(logTo(&logged), store, nil)
			plan, _ := probe.CompileJSON(tinyProbe("from-file"))
			m.SetLocal(OriginFile, []LocalDoc{{Source: "probes.d/f.json", Raw: tinyProbe("from-file"), Plan: plan}})
			if err := m.Restore(); err != nil {
				t.Fatalf("restore: %v", err)
			}
			if got := m.List(); len(got) != 1 || got[0].ID != "from-file" {
				t.Errorf("running %+v, want the probes_dir probe", got)
			}
			if m.StoreCorrupt() != 1 {
				t.Errorf("corrupt count %d", m.StoreCorrupt())
			}
			aside, _ := filepath.Glob(filepath.Join(dir, storeFile+".corrupt-*"))
			if len(aside) != 1 || !strings.Contains(logged.String(), "level=ERROR") || !strings.Contains(logged.String(), aside[0]) {
				t.Errorf("moved aside %v; log:\n%s", aside, logged.String())
			}
			if _, err := m.Apply(4, [][]byte{tinyProbe("a")}); err != nil {
				t.Fatal(err)
			}
			set, err := store.Load()
			if err != nil || len(set.Probes) != 1 || set.Generation != 4 {
				t.Errorf("store after apply: %+v %v", set, err)
			}
		})
	}
}

func TestProbeIDsRefused(t *testing.T) {
	for _, id := range []string{".", "..", "a\x00b", "a\nb", "tab\there", "\x7f", "rlo\u202eevil", "iso\u2066late", "lrm\u200e"} {
		m := NewManager(quietLog(), nil, nil)
		_, err := m.Apply(1, [][]byte{tinyProbe(id)})
		var verr *ValidationError
		if !errors.As(err, &verr) || verr.Docs[0].Problems[0].Field != "id" {
			t.Errorf("apply of id %q: %v, want a problem on field id", id, err)
			continue
		}
		if _, err := m.Create(tinyProbe(id)); !errors.As(err, &verr) || !strings.Contains(err.Error(), "id") {
			t.Errorf("create of id %q: %v", id, err)
		}
	}
	m := NewManager(quietLog(), nil, nil)
	for _, id := range []string{"a.b", "...", "ünïcode", "with space", "a/b"} {
		if _, err := m.Apply(1, [][]byte{tinyProbe(id)}); err != nil {
			t.Errorf("id %q refused: %v", id, err)
		}
	}
}

func timeAt(s int64) time.Time { return time.Unix(1000+s, 0) }

// logTo is a logger writing text lines to w.
func logTo(w io.Writer) *slog.Logger { return slog.New(slog.NewTextHandler(w, nil)) }
