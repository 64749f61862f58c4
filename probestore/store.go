// Package probestore keeps a daemon's applied probe set and its generation
// on disk, crash-safely: the agent's probes (pushed by a controller or
// written through the REST API) and the controller's fabric probes.
//
// The set is a snapshot file (probes.json) plus an append-only journal of
// single-probe changes (probes.journal.*). A whole-set change (Replace,
// Save) rewrites the snapshot atomically: write a temporary file, fsync it,
// rename it over the old one, fsync the directory. A single-probe change
// (Put, Delete) appends one checksummed record to the journal; Wait makes
// it durable, and concurrent waiters share one fsync (group commit), so N
// REST POSTs cost N small writes and far fewer than N fsyncs instead of N
// rewrites of the whole set. When the journal outgrows the snapshot it is
// compacted into a new snapshot in the background. A crash at any moment
// leaves a set that was, or was about to be, acknowledged; never a mix.
package probestore

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strings"
	"sync"
	"time"
)

// Set is the persisted probe set.
type Set struct {
	Generation uint64
	Probes     []json.RawMessage
	// IDs are the probes' ids, parallel to Probes; "" where the store does
	// not know it (a snapshot written before ids were stored, or by Save
	// without them).
	IDs []string
}

// Entry is one stored probe: its id and its document.
type Entry struct {
	ID  string
	Doc json.RawMessage
}

// FileName is the file in the state directory that holds the snapshot.
const FileName = "probes.json"

const storeFile = FileName

// journalPrefix names the journal files: journalPrefix + the sequence
// number of their first record, in fixed-width hex so names sort in
// sequence order.
const journalPrefix = "probes.journal."

// compactMin is the journal length (records) below which it is never
// compacted; above it, it is compacted once it holds more records than
// the set has probes, so appends cost O(1) amortised.
const compactMin = 1024

// Stats count the store's I/O, for tests and benchmarks.
type Stats struct {
	// Records counts journal records written (Put, Delete).
	Records uint64
	// Syncs counts fsyncs of journal files (each makes every record
	// written before it durable).
	Syncs uint64
	// Snapshots counts snapshot files written (Replace, Save, compaction).
	Snapshots uint64
	// Bytes counts bytes written to journal and snapshot files.
	Bytes uint64
}

// Ticket names a record written by Put or Delete, for Wait.
type Ticket struct{ seq uint64 }

// Store keeps the applied probe set and its generation in a state
// directory, so a restarted daemon comes back with what was last applied.
// Its methods are safe for concurrent use; callers order their own
// changes (the store applies them in the order of the calls).
type Store struct {
	dir string

	mu   sync.Mutex
	cond *sync.Cond // signalled when a sync or a compaction ends
	gen  uint64
	// state is the set as the journal's last record leaves it; it is what
	// a compaction writes.
	state    map[string]*entry
	order    uint64 // next entry's position
	seq      uint64 // last record written
	synced   uint64 // last record durable
	snapSeq  uint64 // last record the snapshot on disk includes
	journal  *os.File
	jname    string
	jrecords int // records since the snapshot
	// journals are the journal files, oldest first, the open one last.
	journals []string
	syncing  bool
	// compacting is set while a background compaction writes a snapshot.
	compacting bool
	// broken is set when an fsync failed: records written before it may be
	// lost, so the next change first rewrites the snapshot.
	broken  error
	failSeq uint64     // records up to this one failed to sync
	statsMu sync.Mutex // guards stats; a compaction counts without s.mu
	stats   Stats
	closed  bool
	wg      sync.WaitGroup
	// onCompactErr reports a failed background compaction.
	onCompactErr func(error)
}

type entry struct {
	doc   json.RawMessage
	order uint64
}

// Open prepares dir (creating it with mode 0700 when missing).
func Open(dir string) (*Store, error) {
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, fmt.Errorf("state_dir: %w", err)
	}
	// Temporary files of saves a crash interrupted are never read; drop them
	// so they do not pile up.
	stale, _ := filepath.Glob(filepath.Join(dir, storeFile+".tmp-*"))
	for _, f := range stale {
		_ = os.Remove(f)
	}
	s := &Store{dir: dir, state: map[string]*entry{}}
	s.cond = sync.NewCond(&s.mu)
	return s, nil
}

// OnCompactError sets what reports a failed background compaction (the
// journal is kept and nothing is lost; the next compaction retries).
func (s *Store) OnCompactError(fn func(error)) {
	s.mu.Lock()
	s.onCompactErr = fn
	s.mu.Unlock()
}

// CorruptError reports stored files that cannot be read. The set Load
// returns with it is what could be read consistently: empty when the
// snapshot is corrupt, the changes up to the damaged record when a journal
// is. SetAside moves the files out of the way.
type CorruptError struct {
	Files []string
	Err   error
}

func (e *CorruptError) Error() string {
	return fmt.Sprintf("corrupt probe store (%s): %v", strings.Join(e.Files, ", "), e.Err)
}

func (e *CorruptError) Unwrap() error { return e.Err }

// snapshotFile is the snapshot's format. Generation and probes must be
// present: `null`, `{}` or a truncated file are corrupt, not empty.
type snapshotFile struct {
	Generation *uint64            `json:"generation"`
	Seq        uint64             `json:"seq,omitempty"`
	Probes     *[]json.RawMessage `json:"probes"`
	IDs        []string           `json:"ids,omitempty"`
}

// ParseSnapshot reads a snapshot file's content. It refuses anything but
// an object with a generation and a list of probe documents (objects), and
// ids, when present, that pair with the probes.
func ParseSnapshot(data []byte) (Set, uint64, error) {
	var f snapshotFile
	dec := json.NewDecoder(bytes.NewReader(data))
	if err := dec.Decode(&f); err != nil {
		return Set{}, 0, err
	}
	if dec.More() {
		return Set{}, 0, errors.New("data after the snapshot object")
	}
	if f.Generation == nil {
		return Set{}, 0, errors.New(`no "generation"`)
	}
	if f.Probes == nil {
		return Set{}, 0, errors.New(`no "probes" list`)
	}
	if f.IDs != nil && len(f.IDs) != len(*f.Probes) {
		return Set{}, 0, fmt.Errorf(`"ids" has %d entries for %d probes`, len(f.IDs), len(*f.Probes))
	}
	for i, p := range *f.Probes {
		if len(p) == 0 || p[0] != '{' {
			return Set{}, 0, fmt.Errorf("probes[%d] is not a JSON object", i)
		}
	}
	set := Set{Generation: *f.Generation, Probes: *f.Probes, IDs: f.IDs}
	if set.IDs == nil {
		set.IDs = make([]string, len(set.Probes))
	}
	return set, f.Seq, nil
}

// Load reads the stored set (snapshot, then the journal's later records);
// nothing stored is an empty set. Damaged files give a *CorruptError with
// the part that could be read. Load compacts a journal it found into a new
// snapshot, so appends start from a clean file.
func (s *Store) Load() (Set, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	for s.syncing || s.compacting {
		s.cond.Wait()
	}
	s.closeJournalLocked()
	s.state, s.order, s.gen, s.jrecords = map[string]*entry{}, 0, 0, 0
	var corrupt CorruptError
	snapName := filepath.Join(s.dir, storeFile)
	data, err := os.ReadFile(snapName)
	snapSeq := uint64(0)
	switch {
	case errors.Is(err, fs.ErrNotExist):
	case err != nil:
		return Set{}, err
	default:
		set, seq, perr := ParseSnapshot(data)
		if perr != nil {
			corrupt.Files = append(corrupt.Files, snapName)
			corrupt.Err = fmt.Errorf("%s: %w", snapName, perr)
		} else {
			s.gen, snapSeq = set.Generation, seq
			for i, doc := range set.Probes {
				id := set.IDs[i]
				if id == "" {
					id = unknownID(i)
				}
				s.putLocked(id, doc)
			}
		}
	}
	journals, err := s.journalFiles()
	if err != nil {
		return Set{}, err
	}
	s.seq = snapSeq
	if corrupt.Err != nil {
		// Journal records change the snapshot they follow; without it they
		// would make a set that never existed.
		corrupt.Files = append(corrupt.Files, journals...)
		journals = nil
	}
	for _, j := range journals {
		if corrupt.Err != nil {
			// After a damaged record the later changes cannot be applied.
			corrupt.Files = append(corrupt.Files, j)
			continue
		}
		data, err := os.ReadFile(j)
		if err != nil {
			return Set{}, err
		}
		recs, rerr := parseJournal(data)
		for _, r := range recs {
			if r.Seq <= s.seq {
				continue // in the snapshot, or a duplicate
			}
			s.seq = r.Seq
			s.applyLocked(r)
		}
		if rerr != nil {
			corrupt.Files = append(corrupt.Files, j)
			corrupt.Err = fmt.Errorf("%s: %w", j, rerr)
		}
	}
	s.synced, s.snapSeq = s.seq, snapSeq
	s.journals = journals
	set := s.setLocked()
	if corrupt.Err != nil {
		return set, &corrupt
	}
	if len(journals) > 0 {
		if err := s.snapshotLocked(); err != nil {
			return set, err
		}
	}
	return set, nil
}

// unknownID keys a snapshot entry whose id the store was not given.
func unknownID(i int) string { return fmt.Sprintf("\x00%d", i) }

// SetAside moves the files of a *CorruptError out of the way (renamed to
// NAME.corrupt-TIME, kept for inspection) and writes the part that could
// be read as the new snapshot. It returns the new names.
func (s *Store) SetAside(ce *CorruptError) ([]string, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	stamp := time.Now().UTC().Format("20060102T150405Z")
	var moved []string
	for _, f := range ce.Files {
		to := f + ".corrupt-" + stamp
		if err := os.Rename(f, to); err != nil && !errors.Is(err, fs.ErrNotExist) {
			return moved, err
		}
		moved = append(moved, to)
	}
	s.journals = slices.DeleteFunc(s.journals, func(j string) bool { return slices.Contains(ce.Files, j) })
	return moved, s.snapshotLocked()
}

func (s *Store) journalFiles() ([]string, error) {
	all, err := filepath.Glob(filepath.Join(s.dir, journalPrefix+"*"))
	if err != nil {
		return nil, err
	}
	var out []string
	for _, f := range all {
		if !strings.Contains(filepath.Base(f), ".corrupt-") {
			out = append(out, f)
		}
	}
	sort.Strings(out)
	return out, nil
}

func (s *Store) putLocked(id string, doc json.RawMessage) {
	if e, ok := s.state[id]; ok {
		e.doc = doc
		return
	}
	s.state[id] = &entry{doc: doc, order: s.order}
	s.order++
}

func (s *Store) applyLocked(r record) {
	switch r.Op {
	case opPut:
		s.putLocked(r.ID, r.Doc)
	case opDelete:
		delete(s.state, r.ID)
	}
}

// setLocked is the current state as a Set, in the order probes were added.
func (s *Store) setLocked() Set {
	type kv struct {
		id string
		e  *entry
	}
	all := make([]kv, 0, len(s.state))
	for id, e := range s.state {
		all = append(all, kv{id, e})
	}
	sort.Slice(all, func(i, j int) bool { return all[i].e.order < all[j].e.order })
	set := Set{Generation: s.gen, Probes: make([]json.RawMessage, len(all)), IDs: make([]string, len(all))}
	for i, p := range all {
		set.Probes[i] = p.e.doc
		if !strings.HasPrefix(p.id, "\x00") {
			set.IDs[i] = p.id
		}
	}
	return set
}

// Save replaces the stored set atomically and durably. Probes whose id is
// not in set.IDs are kept by position; Put and Delete need the ids (Replace).
func (s *Store) Save(set Set) error {
	entries := make([]Entry, len(set.Probes))
	for i, p := range set.Probes {
		entries[i].Doc = p
		if i < len(set.IDs) {
			entries[i].ID = set.IDs[i]
		}
	}
	return s.Replace(set.Generation, entries)
}

// Replace makes the stored set exactly entries with generation gen,
// atomically and durably (one snapshot write; earlier journal records are
// superseded).
func (s *Store) Replace(gen uint64, entries []Entry) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	for s.syncing {
		s.cond.Wait()
	}
	old, oldOrder, oldGen := s.state, s.order, s.gen
	s.state, s.order, s.gen = make(map[string]*entry, len(entries)), 0, gen
	for i, e := range entries {
		id := e.ID
		if id == "" {
			id = unknownID(i)
		}
		s.putLocked(id, e.Doc)
	}
	if err := s.snapshotLocked(); err != nil {
		s.state, s.order, s.gen = old, oldOrder, oldGen
		return err
	}
	return nil
}

// snapshotLocked writes the state as the snapshot, covering every record
// written so far, and drops the journals. Callers hold s.mu with no sync
// running.
func (s *Store) snapshotLocked() error {
	for s.compacting {
		s.cond.Wait()
	}
	data, err := s.encodeLocked()
	if err != nil {
		return err
	}
	if err := s.writeSnapshot(data); err != nil {
		return err
	}
	s.closeJournalLocked()
	for _, j := range s.journals {
		_ = os.Remove(j)
	}
	s.journals = nil
	s.snapSeq, s.synced, s.jrecords, s.broken = s.seq, s.seq, 0, nil
	return nil
}

func (s *Store) encodeLocked() ([]byte, error) {
	set := s.setLocked()
	f := snapshotFile{Generation: &set.Generation, Seq: s.seq, Probes: &set.Probes, IDs: set.IDs}
	return marshal(f)
}

func (s *Store) closeJournalLocked() {
	if s.journal != nil {
		_ = s.journal.Close()
		s.journal, s.jname = nil, ""
	}
}

// writeSnapshot replaces the snapshot file with data durably.
func (s *Store) writeSnapshot(data []byte) error {
	tmp, err := os.CreateTemp(s.dir, storeFile+".tmp-*")
	if err != nil {
		return err
	}
	defer os.Remove(tmp.Name()) // no-op after the rename
	if _, err := tmp.Write(data); err != nil {
		tmp.Close()
		return err
	}
	if err := tmp.Sync(); err != nil {
		tmp.Close()
		return err
	}
	if err := tmp.Close(); err != nil {
		return err
	}
	if err := os.Rename(tmp.Name(), filepath.Join(s.dir, storeFile)); err != nil {
		return err
	}
	if err := syncDir(s.dir); err != nil {
		return err
	}
	s.noteSnapshot(len(data))
	return nil
}

func (s *Store) noteSnapshot(n int) {
	s.statsMu.Lock()
	s.stats.Snapshots++
	s.stats.Bytes += uint64(n)
	s.statsMu.Unlock()
}

// Stats returns the store's I/O counters.
func (s *Store) Stats() Stats {
	s.statsMu.Lock()
	defer s.statsMu.Unlock()
	return s.stats
}

func syncDir(dir string) error {
	d, err := os.Open(dir)
	if err != nil {
		return err
	}
	defer d.Close()
	return d.Sync()
}

// Put stores one probe (added or replaced) by appending a journal record.
// The change is not durable until Wait returns for the ticket; the
// store's set includes it at once.
func (s *Store) Put(id string, doc json.RawMessage) (Ticket, error) {
	if id == "" {
		return Ticket{}, errors.New("probestore: Put without an id")
	}
	return s.append(record{Op: opPut, ID: id, Doc: doc})
}

// Delete removes one probe by appending a journal record (durable after
// Wait, like Put). Deleting an absent id is recorded all the same.
func (s *Store) Delete(id string) (Ticket, error) {
	return s.append(record{Op: opDelete, ID: id})
}

func (s *Store) append(r record) (Ticket, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return Ticket{}, errors.New("probestore: closed")
	}
	if s.broken != nil {
		// A failed fsync may have lost records the journal still shows;
		// write the whole set again before adding to it.
		for s.syncing {
			s.cond.Wait()
		}
		if err := s.snapshotLocked(); err != nil {
			return Ticket{}, fmt.Errorf("rewriting the probe store after a failed sync: %w", err)
		}
	}
	if s.journal == nil {
		if err := s.openJournalLocked(); err != nil {
			return Ticket{}, err
		}
	}
	r.Seq = s.seq + 1
	frame, err := encodeRecord(r)
	if err != nil {
		return Ticket{}, err
	}
	if _, err := s.journal.Write(frame); err != nil {
		// A partial record is a torn tail to the loader; start a new
		// journal so the next record does not follow it.
		s.closeJournalLocked()
		return Ticket{}, fmt.Errorf("writing the probe journal: %w", err)
	}
	s.seq = r.Seq
	s.applyLocked(r)
	s.jrecords++
	s.statsMu.Lock()
	s.stats.Records++
	s.stats.Bytes += uint64(len(frame))
	s.statsMu.Unlock()
	if s.jrecords > max(compactMin, len(s.state)) && !s.compacting {
		s.compacting = true
		s.wg.Add(1)
		go s.compact()
	}
	return Ticket{seq: r.Seq}, nil
}

// openJournalLocked starts a journal file for the records after s.seq and
// makes its directory entry durable.
func (s *Store) openJournalLocked() error {
	name := filepath.Join(s.dir, fmt.Sprintf("%s%016x", journalPrefix, s.seq+1))
	f, err := os.OpenFile(name, os.O_WRONLY|os.O_CREATE|os.O_TRUNC|os.O_APPEND, 0o600)
	if err != nil {
		return err
	}
	if err := syncDir(s.dir); err != nil {
		f.Close()
		return err
	}
	s.journal, s.jname = f, name
	s.journals = append(s.journals, name)
	return nil
}

// Wait returns once the record of t is durable (or was superseded by a
// snapshot). Concurrent callers share fsyncs: one runs while the others
// wait, and it covers every record written before it started.
func (s *Store) Wait(t Ticket) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	for s.synced < t.seq {
		if s.broken != nil && t.seq <= s.failSeq {
			return fmt.Errorf("probe journal fsync: %w", s.broken)
		}
		if s.syncing {
			s.cond.Wait()
			continue
		}
		f, target := s.journal, s.seq
		if f == nil {
			// The journal was closed by a snapshot, which covered it.
			s.synced = target
			break
		}
		s.syncing = true
		s.mu.Unlock()
		err := f.Sync()
		s.mu.Lock()
		s.syncing = false
		s.statsMu.Lock()
		s.stats.Syncs++
		s.statsMu.Unlock()
		if err != nil {
			s.broken, s.failSeq = err, target
		} else if target > s.synced {
			s.synced = target
		}
		s.cond.Broadcast()
	}
	return nil
}

// compact writes the state as a new snapshot without holding up appends:
// later records go to a new journal, and the old journals are removed once
// the snapshot is durable.
func (s *Store) compact() {
	defer s.wg.Done()
	s.mu.Lock()
	for s.syncing {
		s.cond.Wait()
	}
	done := func() {
		s.compacting = false
		s.cond.Broadcast()
		s.mu.Unlock()
	}
	if s.closed || s.journal == nil {
		done()
		return
	}
	// Everything up to seq must be durable before the journal holding it
	// is superseded: fsync it now (rare; amortised over the records).
	if s.synced < s.seq {
		if err := s.journal.Sync(); err != nil {
			s.broken, s.failSeq = err, s.seq
			done()
			return
		}
		s.synced = s.seq
	}
	data, err := s.encodeLocked()
	seq := s.seq
	old := slices.Clone(s.journals)
	s.closeJournalLocked()
	jrecords := s.jrecords
	s.jrecords = 0
	report := s.onCompactErr
	s.mu.Unlock()

	if err == nil {
		err = s.writeSnapshot(data)
	}

	s.mu.Lock()
	if err != nil {
		// The old journals still hold everything; keep them.
		s.jrecords += jrecords
		if report != nil {
			report(fmt.Errorf("compacting the probe journal: %w", err))
		}
		done()
		return
	}
	for _, j := range old {
		_ = os.Remove(j)
	}
	s.journals = slices.DeleteFunc(s.journals, func(j string) bool { return slices.Contains(old, j) })
	if seq > s.snapSeq {
		s.snapSeq = seq
	}
	done()
}

// Close stops background work and closes the journal. Records not yet
// waited for may be lost.
func (s *Store) Close() error {
	s.mu.Lock()
	s.closed = true
	s.mu.Unlock()
	s.wg.Wait()
	s.mu.Lock()
	defer s.mu.Unlock()
	for s.syncing {
		s.cond.Wait()
	}
	s.closeJournalLocked()
	return nil
}
