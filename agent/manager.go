package agent

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"maps"
	"math"
	"slices"
	"sort"
	"strings"
	"sync"
	"sync/atomic"
	"time"
	"unicode"
	"unicode/utf8"

	"github.com/google/uuid"

	"github.com/probe-agent/probe-agent/probe"
	"github.com/probe-agent/probe-agent/probestore"
)

// Origin says where a running probe came from, which decides who may change
// it.
type Origin string

// Probe origins.
const (
	// OriginDemo is the built-in demo probe.
	OriginDemo Origin = "demo"
	// OriginFile is a document in probes_dir; it changes when the file does
	// (SIGHUP), not through the APIs.
	OriginFile Origin = "file"
	// OriginStore is a probe applied by a controller or created through the
	// REST API; it is persisted in state_dir.
	OriginStore Origin = "store"
)

// Errors of probe management.
var (
	ErrNotFound        = errors.New("no such probe")
	ErrExists          = errors.New("a probe with this id already exists")
	ErrReadOnly        = errors.New("probe comes from probes_dir or is built in; change its file and send SIGHUP instead")
	ErrStaleGeneration = errors.New("generation is older than the applied one")
	ErrGenerationRange = errors.New("generation leaves no room for later ones")
)

// DocError is the validation outcome of one document of a request.
type DocError struct {
	Index    int            `json:"index"`
	ID       string         `json:"id,omitempty"`
	Label    string         `json:"label,omitempty"`
	Problems probe.Problems `json:"problems"`
}

// ValidationError lists every problem of every invalid document of a
// request; nothing was changed.
type ValidationError struct {
	Docs []DocError
}

func (e *ValidationError) Error() string {
	var lines []string
	for _, d := range e.Docs {
		for _, p := range d.Problems {
			lines = append(lines, fmt.Sprintf("document %d: %s", d.Index, p.Error()))
		}
	}
	return "invalid probes:\n" + strings.Join(lines, "\n")
}

// ProbeInfo describes one running probe.
type ProbeInfo struct {
	ID           string
	Label        string
	Origin       Origin
	Source       string // the file, for OriginFile
	State        probe.State
	LastError    string
	AnomalyCount int
	Disabled     bool
	// Doc is the document as applied, with its id.
	Doc json.RawMessage
}

// ApplyResult is what ApplyProbes did with one probe.
type ApplyResult struct {
	ID     string
	Action string // created, replaced, unchanged, deleted
	State  probe.State
}

// StatusEvent reports a change of a probe's state or anomaly count.
type StatusEvent struct {
	ID           string
	Label        string
	State        probe.State
	LastError    string
	AnomalyCount int
	Removed      bool
	Time         time.Time
}

// Manager owns the set of running probes. The tick loop, the control plane
// and the REST API all go through it, so the probe set, its persistence and
// status notifications stay consistent.
//
// Two locks: mu guards the set as the tick loop sees it and is only ever
// held for in-memory work (never across compilation, disk writes or
// fsyncs); writeMu orders the changes (apply, create, replace, patch,
// delete, restore, probes_dir) among themselves and is held while a change
// is compiled and persisted, so the tick loop, GETs and /metrics go on
// meanwhile. A change swaps its result in under mu. Lock order: writeMu,
// then mu. Code holding writeMu may read probes and byID without mu: only
// holders of both change them.
type Manager struct {
	// exports carries what controller-pushed probes send back to it.
	exports *Exports
	// opts are how documents are read (SetProbeOptions).
	opts       atomic.Pointer[probe.Options]
	writeMu    sync.Mutex
	mu         sync.Mutex
	log        *slog.Logger
	store      *Store
	generation uint64
	// probes is the set in evaluation order; byID indexes it.
	probes   []*managedProbe
	byID     map[string]*managedProbe
	onRemove func(*probe.Instance)
	// memory is the stage-data budget all the probes share
	// (limits.stage_memory; agent/limits.go).
	memory *probe.MemoryBudget
	// onDisable is called, with mu held, when a PATCH disables a probe.
	onDisable func(*probe.Instance)
	watchers  map[chan StatusEvent]struct{}
	dropped   uint64
	// storeCorrupt counts stored files found corrupt and set aside.
	storeCorrupt atomic.Uint64
	// steps counts the per-probe work of changes to the set (index
	// lookups, entries visited): tests assert it grows as n log n, not n².
	steps atomic.Uint64
	// hook, when set (tests), is called at points of a change: "compiled"
	// once the first document of an apply is compiled, "persisted" once
	// it is stored, both without mu held.
	hook func(point string)
}

type managedProbe struct {
	origin   Origin
	source   string
	raw      []byte
	inst     *probe.Instance
	reported StatusEvent
	// pos is the probe's index in Manager.probes.
	pos int
}

func (mp *managedProbe) info() ProbeInfo {
	state, msg := mp.inst.State()
	anomalies := mp.inst.AnomalyCount()
	if mp.inst.Plan.Doc.Disabled {
		// A disabled probe provides no data (seed): no anomalies either.
		state, anomalies = StateDisabled, 0
	}
	return ProbeInfo{
		ID: mp.inst.ID(), Label: mp.inst.Plan.Label(), Origin: mp.origin, Source: mp.source,
		State: state, LastError: msg, AnomalyCount: anomalies,
		Disabled: mp.inst.Plan.Doc.Disabled, Doc: mp.raw,
	}
}

// StateDisabled is the state the agent reports for a disabled probe; the
// engine keeps its last evaluated state, shown again once it is enabled
// and evaluated.
const StateDisabled probe.State = "disabled"

// MaxGeneration is the largest generation ApplyProbes accepts. Generations
// only grow, so a set applied at 2^64-1 would leave no room for the next
// one and every later apply would be refused for ever; half the range is
// more than any controller counting applies will use.
const MaxGeneration = math.MaxInt64

// OnDisable sets what happens when a PATCH disables a probe (the agent
// clears its anomalies towards the receivers). fn runs with the manager
// locked, between ticks.
func (m *Manager) OnDisable(fn func(*probe.Instance)) {
	m.mu.Lock()
	m.onDisable = fn
	m.mu.Unlock()
}

// NewManager makes an empty manager. store may be nil (nothing persisted);
// onRemove is called for each probe taken out of service.
func NewManager(log *slog.Logger, store *Store, onRemove func(*probe.Instance)) *Manager {
	if onRemove == nil {
		onRemove = func(*probe.Instance) {}
	}
	return &Manager{log: log, store: store, onRemove: releasing(onRemove), byID: map[string]*managedProbe{},
		watchers: map[chan StatusEvent]struct{}{}, exports: NewExports(), memory: probe.NewMemoryBudget(probe.DefaultStageMemory)}
}

// SetProbeOptions sets how documents are read from now on (the dialect of
// documents that carry no evidence of one: the configuration's dialect).
func (m *Manager) SetProbeOptions(opts probe.Options) {
	m.memory.SetLimit(opts.Limits.WithDefaults().StageMemory)
	m.opts.Store(&opts)
}

// compile is compileForDevice with the manager's probe options.
func (m *Manager) compile(raw []byte, id string) (*probe.Plan, []byte, probe.Problems) {
	var opts probe.Options
	if o := m.opts.Load(); o != nil {
		opts = *o
	}
	if opts.Memory == nil {
		opts.Memory = m.memory
	}
	return compileForDevice(opts, raw, id)
}

// compileForDevice validates one document for this device: the engine's
// checks plus the refusal of central-only processors, which a device cannot
// evaluate, and of ids the APIs and the store cannot carry safely. When id
// is not empty it is set as the document's id.
func compileForDevice(opts probe.Options, raw []byte, id string) (*probe.Plan, []byte, probe.Problems) {
	// Compact first: the store writes documents compacted, so the raw bytes
	// (and an id derived from them) must not depend on white space, or a
	// restart would change derived ids and make re-applied documents look
	// changed.
	if err := checkJSON(raw); err != nil {
		return nil, raw, probe.Problems{{Message: "not valid JSON: " + err.Error()}}
	}
	var compact bytes.Buffer
	if json.Compact(&compact, raw) == nil {
		raw = compact.Bytes()
	}
	if id != "" {
		if err := CheckID(id); err != nil {
			return nil, raw, probe.Problems{{Field: "id", Message: err.Error()}}
		}
		var m map[string]json.RawMessage
		if err := json.Unmarshal(raw, &m); err != nil {
			return nil, raw, probe.Problems{{Message: "not a JSON object: " + err.Error()}}
		}
		m["id"], _ = json.Marshal(id)
		raw, _ = json.Marshal(m)
	}
	plan, probs := probe.CompileJSONWith(raw, opts)
	if len(probs) > 0 {
		return nil, raw, probs
	}
	if err := CheckID(plan.ID); err != nil {
		return nil, raw, probe.Problems{{Probe: plan.Label(), Field: "id", Message: err.Error()}}
	}
	if c := plan.CentralOnly(); len(c) > 0 {
		return nil, raw, probe.Problems{{Probe: plan.Label(), Processor: c[0], Field: "type",
			Message: fmt.Sprintf("processors %s need Apstra telemetry services and only run centrally; a device cannot evaluate them", strings.Join(c, ", "))}}
	}
	return plan, raw, nil
}

// CheckID refuses probe ids that cannot travel safely in a URL path, a
// log line or a terminal: empty, "." and ".." (path segments that clients
// and proxies rewrite), invalid UTF-8, NUL and other control characters,
// and the bidirectional formatting characters that make an id display as
// another one.
func CheckID(id string) error {
	switch {
	case id == "":
		return errors.New("id must not be empty")
	case id == "." || id == "..":
		return fmt.Errorf("id %q is a relative path segment; choose another id", id)
	case !utf8.ValidString(id):
		return fmt.Errorf("id %q is not valid UTF-8", id)
	}
	for i, r := range id {
		switch {
		case r == 0:
			return fmt.Errorf("id %q contains a NUL character at byte %d", id, i)
		case unicode.IsControl(r):
			return fmt.Errorf("id %q contains the control character %U at byte %d", id, r, i)
		case unicode.Is(unicode.Bidi_Control, r):
			return fmt.Errorf("id %q contains the bidirectional formatting character %U at byte %d", id, r, i)
		}
	}
	return nil
}

// lookup finds a probe by id. Callers hold mu, or writeMu.
func (m *Manager) lookup(id string) *managedProbe {
	m.steps.Add(1)
	return m.byID[id]
}

// storeProbe finds a probe the APIs may change. Callers hold writeMu.
func (m *Manager) storeProbe(id string) (*managedProbe, error) {
	mp := m.lookup(id)
	switch {
	case mp == nil:
		return nil, ErrNotFound
	case mp.origin != OriginStore:
		return nil, ErrReadOnly
	}
	return mp, nil
}

// indexProbes numbers next and indexes it by id, without mu: positions
// are only read by holders of writeMu, and the index is not yet shared.
// Callers hold writeMu.
func (m *Manager) indexProbes(next []*managedProbe) map[string]*managedProbe {
	byID := make(map[string]*managedProbe, len(next))
	for i, mp := range next {
		mp.pos = i
		byID[mp.inst.ID()] = mp
	}
	m.steps.Add(uint64(len(next)))
	return byID
}

// setProbes makes next, indexed by byID (indexProbes), the probe set.
// Callers hold writeMu and mu.
func (m *Manager) setProbes(next []*managedProbe, byID map[string]*managedProbe) {
	m.probes, m.byID = next, byID
}

// Exports is what the probes a controller pushed send back to it after
// each evaluation (the control plane's StreamStages reads it).
func (m *Manager) Exports() *Exports { return m.exports }

// Generation is the generation of the last applied set.
func (m *Manager) Generation() uint64 {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.generation
}

// StoreCorrupt counts stored files found corrupt at start and set aside.
func (m *Manager) StoreCorrupt() uint64 { return m.storeCorrupt.Load() }

// Restore loads the persisted set (at start, after probes_dir). A corrupt
// store does not stop the agent: its files are moved aside
// (probes.json.corrupt-TIME), the error is logged and counted, and the
// agent starts with the probes_dir probes and whatever could be read.
func (m *Manager) Restore() error {
	if m.store == nil {
		return nil
	}
	m.writeMu.Lock()
	defer m.writeMu.Unlock()
	set, err := m.store.Load()
	var ce *probestore.CorruptError
	if errors.As(err, &ce) {
		m.storeCorrupt.Add(1)
		moved, aerr := m.store.SetAside(ce)
		m.log.Error("probe store is corrupt; its files were moved aside and the agent starts without the probes they held (probes_dir probes run; re-apply from the controller or the REST API)",
			"err", ce.Err, "moved_to", strings.Join(moved, ", "), "probes_recovered", len(set.Probes))
		if aerr != nil {
			return fmt.Errorf("moving the corrupt probe store aside: %w", aerr)
		}
	} else if err != nil {
		return err
	}
	// Compile without mu: a large store must not hold up anything else.
	var add []*managedProbe
	var entries []probestore.Entry
	rekey := false
	seen := make(map[string]bool, len(set.Probes))
	for i, raw := range set.Probes {
		plan, raw, probs := m.compile(raw, "")
		m.steps.Add(1)
		if len(probs) > 0 {
			m.log.Error("stored probe no longer validates; not running it (it is removed from the store)", "index", i, "id", set.IDs[i], "detail", probs.Error())
			rekey = true
			continue
		}
		if mp := m.lookup(plan.ID); mp != nil || seen[plan.ID] {
			m.log.Error("stored probe has the id of another probe; not running it (it is removed from the store)", "id", plan.ID)
			rekey = true
			continue
		}
		inst, err := probe.NewInstance(plan)
		if err != nil {
			return err
		}
		seen[plan.ID] = true
		rekey = rekey || set.IDs[i] != plan.ID
		add = append(add, &managedProbe{origin: OriginStore, raw: raw, inst: inst})
		entries = append(entries, probestore.Entry{ID: plan.ID, Doc: raw})
	}
	if rekey {
		// The store keys journal records by id: it must know every id
		// (snapshots before ids were stored) and only the running probes.
		if err := m.store.Replace(set.Generation, entries); err != nil {
			return fmt.Errorf("rewriting the probe store: %w", err)
		}
	}
	all := append(slices.Clip(m.probes), add...)
	byID := m.indexProbes(all)
	m.mu.Lock()
	m.generation = set.Generation
	m.setProbes(all, byID)
	m.mu.Unlock()
	m.log.Info("probe store loaded", "generation", set.Generation, "probes", len(add))
	return nil
}

// wait makes a journalled change durable. The change is already in
// effect; a failed fsync is reported, and the store rewrites itself whole
// at the next change.
func (m *Manager) wait(t probestore.Ticket) error {
	if m.store == nil {
		return nil
	}
	if err := m.store.Wait(t); err != nil {
		return fmt.Errorf("the change is in effect but persisting it failed (it is retried with the next change): %w", err)
	}
	return nil
}

// Apply makes the store probes exactly docs, as one atomic change: every
// document is validated first and any problem refuses the whole request;
// probes whose document did not change keep their state. A generation older
// than the applied one is refused; the same generation may be re-applied.
// Documents without an id get one derived from their content.
//
// Its work is linear in the number of probes (index lookups), and the
// documents are compiled and stored without the lock the tick loop takes.
func (m *Manager) Apply(gen uint64, docs [][]byte) ([]ApplyResult, error) {
	m.writeMu.Lock()
	defer m.writeMu.Unlock()
	if gen > MaxGeneration {
		return nil, fmt.Errorf("%w: %d is over %d", ErrGenerationRange, gen, uint64(MaxGeneration))
	}
	if applied := m.Generation(); gen < applied {
		return nil, fmt.Errorf("%w: got %d, applied %d", ErrStaleGeneration, gen, applied)
	}
	var verr ValidationError
	plans := make([]*probe.Plan, len(docs))
	raws := make([][]byte, len(docs))
	seen := make(map[string]int, len(docs))
	for i, raw := range docs {
		plan, canon, probs := m.compile(raw, "")
		if i == 0 && m.hook != nil {
			m.hook("compiled")
		}
		if len(probs) == 0 {
			m.steps.Add(1)
			if j, dup := seen[plan.ID]; dup {
				probs = probe.Problems{{Probe: plan.Label(), Field: "id", Message: fmt.Sprintf("id %q is also used by document %d", plan.ID, j)}}
			} else if mp := m.lookup(plan.ID); mp != nil && mp.origin != OriginStore {
				probs = probe.Problems{{Probe: plan.Label(), Field: "id", Message: fmt.Sprintf("id %q is taken by %s probe %s", plan.ID, mp.origin, mp.source)}}
			}
		}
		if len(probs) > 0 {
			d := DocError{Index: i, Problems: probs}
			if plan != nil {
				d.ID, d.Label = plan.ID, plan.Label()
			}
			verr.Docs = append(verr.Docs, d)
			continue
		}
		seen[plan.ID] = i
		plans[i], raws[i] = plan, canon
	}
	if len(verr.Docs) > 0 {
		return nil, &verr
	}
	next := make([]*managedProbe, 0, len(m.probes)+len(docs))
	results := make([]ApplyResult, 0, len(docs))
	kept := make(map[*managedProbe]bool, len(docs))
	for _, mp := range m.probes {
		if mp.origin != OriginStore {
			next = append(next, mp)
		}
	}
	if err := m.admitProbes(len(next), plans); err != nil {
		return nil, err
	}
	m.steps.Add(uint64(len(m.probes)))
	entries := make([]probestore.Entry, len(plans))
	for i, plan := range plans {
		entries[i] = probestore.Entry{ID: plan.ID, Doc: raws[i]}
		old := m.lookup(plan.ID)
		if old != nil && bytes.Equal(old.raw, raws[i]) {
			next = append(next, old)
			kept[old] = true
			results = append(results, ApplyResult{ID: plan.ID, Action: "unchanged"})
			continue
		}
		inst, err := probe.NewInstance(plan)
		if err != nil {
			return nil, err
		}
		action := "created"
		if old != nil {
			action = "replaced"
		}
		next = append(next, &managedProbe{origin: OriginStore, raw: raws[i], inst: inst})
		results = append(results, ApplyResult{ID: plan.ID, Action: action})
	}
	var removed []*managedProbe
	for _, mp := range m.probes {
		if mp.origin == OriginStore && !kept[mp] {
			removed = append(removed, mp)
			if _, still := seen[mp.inst.ID()]; !still {
				results = append(results, ApplyResult{ID: mp.inst.ID(), Action: "deleted"})
			}
		}
	}
	m.steps.Add(uint64(len(m.probes)))
	if m.store != nil {
		if err := m.store.Replace(gen, entries); err != nil {
			return nil, fmt.Errorf("persisting probes: %w", err)
		}
	}
	if m.hook != nil {
		m.hook("persisted")
	}
	byID := m.indexProbes(next)
	m.mu.Lock()
	defer m.mu.Unlock()
	m.generation = gen
	m.setProbes(next, byID)
	for _, mp := range removed {
		m.retire(mp)
	}
	for i := range results {
		if mp := m.lookup(results[i].ID); mp != nil {
			results[i].State, _ = mp.inst.State()
		}
	}
	return results, nil
}

// retire takes a probe out of service. Callers hold m.mu.
func (m *Manager) retire(mp *managedProbe) {
	m.onRemove(mp.inst)
	m.publish(StatusEvent{ID: mp.inst.ID(), Label: mp.inst.Plan.Label(), Removed: true, Time: time.Now()})
}

// Create adds one store probe (REST POST). The document's id is kept; a
// document without one gets a UUID. It is persisted as one journal record;
// concurrent creates share fsyncs.
func (m *Manager) Create(raw []byte) (string, error) {
	m.writeMu.Lock()
	var head struct {
		ID string `json:"id"`
	}
	_ = json.Unmarshal(raw, &head)
	id := head.ID
	if id == "" {
		id = uuid.NewString()
	}
	if mp := m.lookup(id); mp != nil {
		m.writeMu.Unlock()
		return "", fmt.Errorf("%w: %s", ErrExists, id)
	}
	plan, canon, probs := m.compile(raw, id)
	if len(probs) > 0 {
		m.writeMu.Unlock()
		return "", &ValidationError{Docs: []DocError{{ID: id, Problems: probs}}}
	}
	if err := m.admitProbes(len(m.probes), []*probe.Plan{plan}); err != nil {
		m.writeMu.Unlock()
		return "", err
	}
	inst, err := probe.NewInstance(plan)
	if err != nil {
		m.writeMu.Unlock()
		return "", err
	}
	t, err := m.journalPut(id, canon)
	if err != nil {
		m.writeMu.Unlock()
		return "", err
	}
	mp := &managedProbe{origin: OriginStore, raw: canon, inst: inst}
	m.mu.Lock()
	mp.pos = len(m.probes)
	m.probes = append(m.probes, mp)
	m.byID[id] = mp
	m.mu.Unlock()
	m.writeMu.Unlock()
	return id, m.wait(t)
}

// journalPut appends a store probe's document to the journal. Callers
// hold writeMu.
func (m *Manager) journalPut(id string, doc []byte) (probestore.Ticket, error) {
	if m.store == nil {
		return probestore.Ticket{}, nil
	}
	t, err := m.store.Put(id, doc)
	if err != nil {
		return t, fmt.Errorf("persisting probe %q: %w", id, err)
	}
	return t, nil
}

// Replace swaps a store probe's document (REST PUT); its state restarts.
// The id stays the probe's.
func (m *Manager) Replace(id string, raw []byte) error {
	m.writeMu.Lock()
	old, err := m.storeProbe(id)
	if err != nil {
		m.writeMu.Unlock()
		return err
	}
	plan, canon, probs := m.compile(raw, id)
	if len(probs) > 0 {
		m.writeMu.Unlock()
		return &ValidationError{Docs: []DocError{{ID: id, Problems: probs}}}
	}
	inst, err := probe.NewInstance(plan)
	if err != nil {
		m.writeMu.Unlock()
		return err
	}
	t, err := m.journalPut(id, canon)
	if err != nil {
		m.writeMu.Unlock()
		return err
	}
	mp := &managedProbe{origin: OriginStore, raw: canon, inst: inst, pos: old.pos}
	m.mu.Lock()
	m.probes[old.pos] = mp
	m.byID[id] = mp
	m.onRemove(old.inst)
	m.mu.Unlock()
	m.writeMu.Unlock()
	return m.wait(t)
}

// Patch changes a store probe's metadata (REST PATCH): label, description,
// tags (replaced whole), disabled, and the listed stages' description, tags
// and units. Processors cannot change; state is kept, and so is the id
// (also one derived from the document's content: it is written into the
// document, so the changed content does not derive another).
func (m *Manager) Patch(id string, patch []byte) error {
	m.writeMu.Lock()
	mp, err := m.storeProbe(id)
	if err != nil {
		m.writeMu.Unlock()
		return err
	}
	canon, plan, err := patchDoc(m.compile, id, mp.raw, patch)
	if err != nil {
		m.writeMu.Unlock()
		return err
	}
	t, err := m.journalPut(id, canon)
	if err != nil {
		m.writeMu.Unlock()
		return err
	}
	m.mu.Lock()
	next := &managedProbe{origin: OriginStore, raw: canon, inst: mp.inst, reported: mp.reported, pos: mp.pos}
	wasDisabled := mp.inst.Plan.Doc.Disabled
	mp.inst.UpdateMetadata(plan.Doc)
	m.probes[mp.pos] = next
	m.byID[id] = next
	if plan.Doc.Disabled && !wasDisabled && m.onDisable != nil {
		m.onDisable(mp.inst)
	}
	m.mu.Unlock()
	m.writeMu.Unlock()
	return m.wait(t)
}

// patchDoc applies a PATCH body to a stored document and compiles the
// result with id kept.
func patchDoc(compile func([]byte, string) (*probe.Plan, []byte, probe.Problems), id string, current, patch []byte) ([]byte, *probe.Plan, error) {
	var p map[string]json.RawMessage
	if err := json.Unmarshal(patch, &p); err != nil || p == nil {
		msg := "not a JSON object"
		if err != nil {
			msg += ": " + err.Error()
		}
		return nil, nil, &ValidationError{Docs: []DocError{{ID: id, Problems: probe.Problems{{Message: msg}}}}}
	}
	var doc map[string]json.RawMessage
	if err := json.Unmarshal(current, &doc); err != nil || doc == nil {
		return nil, nil, fmt.Errorf("probe %q: stored document is not an object", id)
	}
	for _, k := range slices.Sorted(maps.Keys(p)) {
		v := p[k]
		switch k {
		case "label", "description", "tags", "disabled":
			doc[k] = v
		case "stages":
			merged, err := mergeStages(doc["stages"], v)
			if err != nil {
				return nil, nil, &ValidationError{Docs: []DocError{{ID: id, Problems: probe.Problems{{Field: "stages", Message: err.Error()}}}}}
			}
			doc["stages"] = merged
		default:
			return nil, nil, &ValidationError{Docs: []DocError{{ID: id, Problems: probe.Problems{{Field: k, Message: "PATCH changes only label, description, tags, disabled and stages; use PUT to replace the probe"}}}}}
		}
	}
	raw, err := json.Marshal(doc)
	if err != nil {
		return nil, nil, &ValidationError{Docs: []DocError{{ID: id, Problems: probe.Problems{{Message: err.Error()}}}}}
	}
	plan, canon, probs := compile(raw, id)
	if len(probs) > 0 {
		return nil, nil, &ValidationError{Docs: []DocError{{ID: id, Problems: probs}}}
	}
	return canon, plan, nil
}

// mergeStages updates stage entries by name: listed stages change, the
// others stay; a listed stage the document does not have is added.
func mergeStages(current, patch json.RawMessage) (json.RawMessage, error) {
	var cur, upd []map[string]json.RawMessage
	if len(current) > 0 {
		if err := json.Unmarshal(current, &cur); err != nil {
			return nil, fmt.Errorf("the probe's stages are not a list of objects: %v", err)
		}
	}
	if err := json.Unmarshal(patch, &upd); err != nil {
		return nil, fmt.Errorf("expected a list of stage objects")
	}
	byName := make(map[string][]int, len(cur))
	for i, c := range cur {
		if c == nil {
			cur[i] = map[string]json.RawMessage{}
			continue
		}
		var cn string
		_ = json.Unmarshal(c["name"], &cn)
		byName[cn] = append(byName[cn], i)
	}
	for n, u := range upd {
		var name string
		if err := json.Unmarshal(u["name"], &name); err != nil || name == "" {
			return nil, fmt.Errorf("stages[%d]: every stage needs a name", n)
		}
		idx, found := byName[name]
		for _, i := range idx {
			for k, v := range u {
				cur[i][k] = v
			}
		}
		if !found {
			byName[name] = []int{len(cur)}
			cur = append(cur, u)
		}
	}
	return json.Marshal(cur)
}

// Delete removes a store probe.
func (m *Manager) Delete(id string) error {
	m.writeMu.Lock()
	mp, err := m.storeProbe(id)
	if err != nil {
		m.writeMu.Unlock()
		return err
	}
	var t probestore.Ticket
	if m.store != nil {
		if t, err = m.store.Delete(id); err != nil {
			m.writeMu.Unlock()
			return fmt.Errorf("persisting the deletion of probe %q: %w", id, err)
		}
	}
	next := slices.Delete(slices.Clone(m.probes), mp.pos, mp.pos+1)
	byID := m.indexProbes(next)
	m.mu.Lock()
	m.setProbes(next, byID)
	m.retire(mp)
	m.mu.Unlock()
	m.writeMu.Unlock()
	return m.wait(t)
}

// SetLocal replaces the probes of one local origin (probes_dir files, or the
// demo), keeping the state of those whose document did not change.
func (m *Manager) SetLocal(origin Origin, docs []LocalDoc) {
	m.writeMu.Lock()
	defer m.writeMu.Unlock()
	var next []*managedProbe
	kept := map[*managedProbe]bool{}
	for _, mp := range m.probes {
		if mp.origin != origin {
			next = append(next, mp)
		}
	}
	taken := make(map[string]bool, len(docs))
	for _, d := range docs {
		old := m.lookup(d.Plan.ID)
		if (old != nil && old.origin != origin) || taken[d.Plan.ID] {
			m.log.Error("probe id already used by another probe; not running this one", "id", d.Plan.ID, "file", d.Source)
			continue
		}
		taken[d.Plan.ID] = true
		if old != nil && bytes.Equal(old.raw, d.Raw) {
			next = append(next, old)
			kept[old] = true
			continue
		}
		inst, err := probe.NewInstance(d.Plan)
		if err != nil {
			m.log.Error("probe does not instantiate", "file", d.Source, "err", err)
			continue
		}
		next = append(next, &managedProbe{origin: origin, source: d.Source, raw: d.Raw, inst: inst})
	}
	byID := m.indexProbes(next)
	m.mu.Lock()
	defer m.mu.Unlock()
	for _, mp := range m.probes {
		if mp.origin == origin && !kept[mp] {
			m.retire(mp)
		}
	}
	m.setProbes(next, byID)
}

// LocalDoc is a validated document from a local origin.
type LocalDoc struct {
	Source string
	Raw    []byte
	Plan   *probe.Plan
}

// List describes every probe, sorted by id.
func (m *Manager) List() []ProbeInfo {
	_, out := m.Snapshot()
	return out
}

// Snapshot returns the applied generation and every probe, taken together
// so that a concurrent apply cannot pair one set with another's generation.
func (m *Manager) Snapshot() (uint64, []ProbeInfo) {
	m.mu.Lock()
	defer m.mu.Unlock()
	out := make([]ProbeInfo, len(m.probes))
	for i, mp := range m.probes {
		out[i] = mp.info()
	}
	sort.Slice(out, func(i, j int) bool { return out[i].ID < out[j].ID })
	return m.generation, out
}

// Get describes one probe.
func (m *Manager) Get(id string) (ProbeInfo, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	mp := m.byID[id]
	if mp == nil {
		return ProbeInfo{}, ErrNotFound
	}
	return mp.info(), nil
}

// View calls fn with a probe's running instance, holding the lock that the
// tick loop takes, so fn sees a consistent tick. fn must not keep inst.
func (m *Manager) View(id string, fn func(ProbeInfo, *probe.Instance) error) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	mp := m.byID[id]
	if mp == nil {
		return ErrNotFound
	}
	return fn(mp.info(), mp.inst)
}

// Each calls fn for every running instance under the lock, in evaluation
// order. The tick loop evaluates through it.
func (m *Manager) Each(fn func(*probe.Instance)) {
	m.mu.Lock()
	defer m.mu.Unlock()
	for _, mp := range m.probes {
		fn(mp.inst)
	}
}

// Anomalies lists the raised anomalies of every probe.
func (m *Manager) Anomalies() []*probe.Anomaly {
	m.mu.Lock()
	defer m.mu.Unlock()
	var out []*probe.Anomaly
	for _, mp := range m.probes {
		if mp.inst.Plan.Doc.Disabled {
			continue // cleared when it was disabled
		}
		out = append(out, mp.inst.Anomalies()...)
	}
	return out
}

// Watch subscribes to status changes; cancel unsubscribes. Events for a
// watcher that does not keep up are dropped and counted.
func (m *Manager) Watch(buffer int) (events <-chan StatusEvent, cancel func()) {
	ch := make(chan StatusEvent, buffer)
	m.mu.Lock()
	m.watchers[ch] = struct{}{}
	current := make([]StatusEvent, 0, len(m.probes))
	for _, mp := range m.probes {
		current = append(current, statusOf(mp, time.Now()))
	}
	m.mu.Unlock()
	for _, ev := range current {
		select {
		case ch <- ev:
		default:
		}
	}
	return ch, func() {
		m.mu.Lock()
		defer m.mu.Unlock()
		if _, ok := m.watchers[ch]; ok {
			delete(m.watchers, ch)
			close(ch)
		}
	}
}

func statusOf(mp *managedProbe, now time.Time) StatusEvent {
	state, msg := mp.inst.State()
	return StatusEvent{ID: mp.inst.ID(), Label: mp.inst.Plan.Label(), State: state, LastError: msg, AnomalyCount: mp.inst.AnomalyCount(), Time: now}
}

// publish sends an event to every watcher. Callers hold m.mu.
func (m *Manager) publish(ev StatusEvent) {
	for ch := range m.watchers {
		select {
		case ch <- ev:
		default:
			m.dropped++
		}
	}
}

// NoteTick publishes status changes after a tick. Callers hold no lock.
func (m *Manager) NoteTick(now time.Time) {
	m.mu.Lock()
	defer m.mu.Unlock()
	for _, mp := range m.probes {
		ev := statusOf(mp, now)
		r := mp.reported
		if ev.State != r.State || ev.LastError != r.LastError || ev.AnomalyCount != r.AnomalyCount {
			switch {
			case ev.State == probe.StateError && ev.LastError != r.LastError:
				m.log.Error("probe in error state", "id", ev.ID, "label", ev.Label, "err", ev.LastError)
			case r.State == probe.StateError && ev.State != probe.StateError:
				m.log.Info("probe recovered", "id", ev.ID, "label", ev.Label)
			}
			mp.reported = ev
			m.publish(ev)
		}
	}
}

// StateCounts counts probes per state, for metrics.
func (m *Manager) StateCounts() map[probe.State]int {
	m.mu.Lock()
	defer m.mu.Unlock()
	out := map[probe.State]int{}
	for _, mp := range m.probes {
		out[mp.info().State]++
	}
	return out
}
