package probestore

import (
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
)

func doc(id string, v int) json.RawMessage {
	return json.RawMessage(fmt.Sprintf(`{"id":%q,"label":"<L&%d>","processors":[]}`, id, v))
}

func open(t *testing.T, dir string) *Store {
	t.Helper()
	s, err := Open(dir)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = s.Close() })
	return s
}

func load(t *testing.T, dir string) Set {
	t.Helper()
	set, err := open(t, dir).Load()
	if err != nil {
		t.Fatalf("load: %v", err)
	}
	return set
}

func ids(set Set) string { return strings.Join(set.IDs, ",") }

func mustPut(t *testing.T, s *Store, id string, v int) Ticket {
	t.Helper()
	tk, err := s.Put(id, doc(id, v))
	if err != nil {
		t.Fatal(err)
	}
	return tk
}

func TestJournalRoundTrip(t *testing.T) {
	dir := t.TempDir()
	s := open(t, dir)
	if _, err := s.Load(); err != nil {
		t.Fatal(err)
	}
	if err := s.Replace(7, []Entry{{ID: "a", Doc: doc("a", 1)}, {ID: "b", Doc: doc("b", 1)}}); err != nil {
		t.Fatal(err)
	}
	mustPut(t, s, "c", 1)
	mustPut(t, s, "a", 2) // replaced in place: keeps its position
	tk, err := s.Delete("b")
	if err != nil {
		t.Fatal(err)
	}
	if err := s.Wait(tk); err != nil {
		t.Fatal(err)
	}
	set := load(t, dir)
	if set.Generation != 7 || ids(set) != "a,c" || string(set.Probes[0]) != string(doc("a", 2)) {
		t.Fatalf("reloaded %d %s %s", set.Generation, ids(set), set.Probes)
	}
	// The reload compacted the journal into the snapshot.
	if js, _ := filepath.Glob(filepath.Join(dir, journalPrefix+"*")); len(js) != 0 {
		t.Errorf("journals left after load: %v", js)
	}
	if set2 := load(t, dir); ids(set2) != "a,c" || set2.Generation != 7 {
		t.Errorf("second reload %s", ids(set2))
	}
}

// TestGroupCommit: records written before a sync are made durable by it,
// so waiters share fsyncs.
func TestGroupCommit(t *testing.T) {
	s := open(t, t.TempDir())
	var tickets []Ticket
	for i := range 200 {
		tickets = append(tickets, mustPut(t, s, fmt.Sprint("p", i), i))
	}
	var wg sync.WaitGroup
	for _, tk := range tickets {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if err := s.Wait(tk); err != nil {
				t.Error(err)
			}
		}()
	}
	wg.Wait()
	st := s.Stats()
	if st.Records != 200 || st.Syncs != 1 || st.Snapshots != 0 {
		t.Errorf("200 records waited for concurrently: %+v, want 200 records, 1 sync, no snapshot", st)
	}
}

// TestCompactionIsAmortised: many single-probe changes rewrite the
// snapshot a logarithmic number of times, and the bytes written stay
// proportional to the changes, not to changes x set size.
func TestCompactionIsAmortised(t *testing.T) {
	dir := t.TempDir()
	s := open(t, dir)
	const n = 20000
	for i := range n {
		tk := mustPut(t, s, fmt.Sprint("p", i), i)
		if i%100 == 99 {
			if err := s.Wait(tk); err != nil {
				t.Fatal(err)
			}
		}
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	st := s.Stats()
	per := len(doc("p10000", 10000)) + 64
	if st.Bytes > uint64(8*n*per) {
		t.Errorf("%d puts wrote %d bytes, more than 8x their size (%d)", n, st.Bytes, n*per)
	}
	if st.Snapshots > 8 {
		t.Errorf("%d puts wrote %d snapshots", n, st.Snapshots)
	}
	set := load(t, dir)
	if len(set.Probes) != n || set.IDs[0] != "p0" || set.IDs[n-1] != fmt.Sprint("p", n-1) {
		t.Errorf("reloaded %d probes", len(set.Probes))
	}
}

func TestTornTailIgnored(t *testing.T) {
	dir := t.TempDir()
	s := open(t, dir)
	mustPut(t, s, "a", 1)
	if err := s.Wait(mustPut(t, s, "b", 1)); err != nil {
		t.Fatal(err)
	}
	s.Close()
	js, _ := filepath.Glob(filepath.Join(dir, journalPrefix+"*"))
	frame, _ := encodeRecord(record{Seq: 3, Op: opPut, ID: "c", Doc: doc("c", 1)})
	for _, torn := range [][]byte{frame[:5], frame[:len(frame)-3], append(frame[:len(frame)-1:len(frame)-1], 'x')} {
		data, _ := os.ReadFile(js[0])
		if err := os.WriteFile(js[0], append(slices.Clone(data), torn...), 0o600); err != nil {
			t.Fatal(err)
		}
		s2 := open(t, dir)
		set, err := s2.Load()
		if err != nil || ids(set) != "a,b" {
			t.Fatalf("torn tail %q: %s %v", torn, ids(set), err)
		}
		// The load compacted; start again from a journal for the next case.
		s2.Delete("none")
		s2.Close()
		js, _ = filepath.Glob(filepath.Join(dir, journalPrefix+"*"))
		if len(js) != 1 {
			t.Fatalf("journals %v", js)
		}
	}
}

func TestCorruptFilesAreSetAsideNotEmpty(t *testing.T) {
	for _, tc := range []struct {
		name, snapshot string
		want           string
	}{
		{"null", `null`, `no "generation"`},
		{"empty object", `{}`, `no "generation"`},
		{"no probes", `{"generation": 3}`, `no "probes"`},
		{"truncated", `{"generation": 3, "probes": [`, "unexpected EOF"},
		{"empty file", ``, "EOF"},
		{"probe not an object", `{"generation": 3, "probes": [3]}`, "probes[0] is not a JSON object"},
		{"ids do not pair", `{"generation": 3, "probes": [{}], "ids": []}`, `"ids" has 0 entries for 1 probes`},
		{"two objects", `{"generation": 3, "probes": []} {}`, "data after"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			dir := t.TempDir()
			snap := filepath.Join(dir, FileName)
			if err := os.WriteFile(snap, []byte(tc.snapshot), 0o600); err != nil {
				t.Fatal(err)
			}
			s := open(t, dir)
			set, err := s.Load()
			var ce *CorruptError
			if !errors.As(err, &ce) || !strings.Contains(err.Error(), tc.want) || !strings.Contains(err.Error(), snap) {
				t.Fatalf("want a corrupt-store error naming %s and %q, got %v", snap, tc.want, err)
			}
			if len(set.Probes) != 0 {
				t.Errorf("set from a corrupt snapshot: %+v", set)
			}
			moved, err := s.SetAside(ce)
			if err != nil || len(moved) != 1 || !strings.HasPrefix(moved[0], snap+".corrupt-") {
				t.Fatalf("set aside: %v %v", moved, err)
			}
			if kept, _ := os.ReadFile(moved[0]); string(kept) != tc.snapshot {
				t.Errorf("the corrupt file was not kept as it was: %q", kept)
			}
			if set := load(t, dir); len(set.Probes) != 0 {
				t.Errorf("after set aside: %+v", set)
			}
		})
	}
}

func TestDamagedJournalKeepsPrefix(t *testing.T) {
	dir := t.TempDir()
	s := open(t, dir)
	for i, id := range []string{"a", "b", "c"} {
		mustPut(t, s, id, i)
	}
	if err := s.Wait(mustPut(t, s, "d", 0)); err != nil {
		t.Fatal(err)
	}
	s.Close()
	js, _ := filepath.Glob(filepath.Join(dir, journalPrefix+"*"))
	data, _ := os.ReadFile(js[0])
	recs, _ := parseJournal(data)
	if len(recs) != 4 {
		t.Fatalf("%d records", len(recs))
	}
	// Flip a byte inside the second record's payload.
	f1, _ := encodeRecord(recs[0])
	data[len(f1)+frameHead+3] ^= 0xff
	if err := os.WriteFile(js[0], data, 0o600); err != nil {
		t.Fatal(err)
	}
	s2 := open(t, dir)
	set, err := s2.Load()
	var ce *CorruptError
	if !errors.As(err, &ce) || !strings.Contains(err.Error(), "checksum mismatch") || ids(set) != "a" {
		t.Fatalf("want the prefix a and a checksum error, got %s %v", ids(set), err)
	}
	if _, err := s2.SetAside(ce); err != nil {
		t.Fatal(err)
	}
	if set := load(t, dir); ids(set) != "a" {
		t.Errorf("after set aside: %s", ids(set))
	}
}

// TestInterruptedCompaction: the files a crash can leave during a
// compaction (new snapshot renamed, old journal not yet removed) load as
// the set, without applying old records twice or losing new ones.
func TestInterruptedCompaction(t *testing.T) {
	dir := t.TempDir()
	write := func(name string, recs ...record) {
		var b []byte
		for _, r := range recs {
			f, _ := encodeRecord(r)
			b = append(b, f...)
		}
		if err := os.WriteFile(filepath.Join(dir, name), b, 0o600); err != nil {
			t.Fatal(err)
		}
	}
	// Snapshot at seq 3: a, c (b was deleted at 3).
	if err := os.WriteFile(filepath.Join(dir, FileName), []byte(`{"generation":2,"seq":3,"probes":[{"id":"a"},{"id":"c"}],"ids":["a","c"]}`), 0o600); err != nil {
		t.Fatal(err)
	}
	write(journalPrefix+"0000000000000001",
		record{Seq: 1, Op: opPut, ID: "b", Doc: json.RawMessage(`{"id":"b"}`)},
		record{Seq: 2, Op: opPut, ID: "c", Doc: json.RawMessage(`{"id":"c"}`)},
		record{Seq: 3, Op: opDelete, ID: "b"})
	write(journalPrefix+"0000000000000004",
		record{Seq: 4, Op: opPut, ID: "d", Doc: json.RawMessage(`{"id":"d"}`)})
	set := load(t, dir)
	if ids(set) != "a,c,d" || set.Generation != 2 {
		t.Errorf("got %d %s, want 2 a,c,d", set.Generation, ids(set))
	}
}

// TestOldSnapshotWithoutIDs: a snapshot written before ids were stored
// loads with ids unknown ("").
func TestOldSnapshotWithoutIDs(t *testing.T) {
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, FileName), []byte(`{"generation":4,"probes":[{"label":"x"},{"id":"y"}]}`), 0o600); err != nil {
		t.Fatal(err)
	}
	set := load(t, dir)
	if set.Generation != 4 || len(set.Probes) != 2 || set.IDs[0] != "" || set.IDs[1] != "" {
		t.Errorf("%+v", set)
	}
}

func TestSaveKeepsBytes(t *testing.T) {
	dir := t.TempDir()
	s := open(t, dir)
	d := json.RawMessage(`{"label":"a<b & c>d"}`)
	if err := s.Save(Set{Generation: 1, Probes: []json.RawMessage{d}}); err != nil {
		t.Fatal(err)
	}
	if set := load(t, dir); string(set.Probes[0]) != string(d) {
		t.Errorf("stored %s, want the bytes %s", set.Probes[0], d)
	}
}
