package agent

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"sort"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/google/uuid"

	"github.com/probe-agent/probe-agent/probe"
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
type Manager struct {
	// exports carries what controller-pushed probes send back to it.
	exports *Exports
	// opts are how documents are read (SetProbeOptions).
	opts       atomic.Pointer[probe.Options]
	mu         sync.Mutex
	log        *slog.Logger
	store      *Store
	generation uint64
	probes     []*managedProbe
	onRemove   func(*probe.Instance)
	// onDisable is called, with mu held, when a PATCH disables a probe.
	onDisable func(*probe.Instance)
	watchers  map[chan StatusEvent]struct{}
	dropped   uint64
}

type managedProbe struct {
	origin   Origin
	source   string
	raw      []byte
	inst     *probe.Instance
	reported StatusEvent
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
	return &Manager{log: log, store: store, onRemove: onRemove, watchers: map[chan StatusEvent]struct{}{}, exports: NewExports()}
}

// SetProbeOptions sets how documents are read from now on (the dialect of
// documents that carry no evidence of one: the configuration's dialect).
func (m *Manager) SetProbeOptions(opts probe.Options) { m.opts.Store(&opts) }

// compile is compileForDevice with the manager's probe options.
func (m *Manager) compile(raw []byte, id string) (*probe.Plan, []byte, probe.Problems) {
	var opts probe.Options
	if o := m.opts.Load(); o != nil {
		opts = *o
	}
	return compileForDevice(opts, raw, id)
}

// compileForDevice validates one document for this device: the engine's
// checks plus the refusal of central-only processors, which a device cannot
// evaluate. When id is not empty it is set as the document's id.
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
	if c := plan.CentralOnly(); len(c) > 0 {
		return nil, raw, probe.Problems{{Probe: plan.Label(), Processor: c[0], Field: "type",
			Message: fmt.Sprintf("processors %s need Apstra telemetry services and only run centrally; a device cannot evaluate them", strings.Join(c, ", "))}}
	}
	return plan, raw, nil
}

// storeProbe finds a probe the APIs may change. Callers hold m.mu.
func (m *Manager) storeProbe(id string) (int, *managedProbe, error) {
	i, mp := m.find(id)
	switch {
	case mp == nil:
		return -1, nil, ErrNotFound
	case mp.origin != OriginStore:
		return -1, nil, ErrReadOnly
	}
	return i, mp, nil
}

func (m *Manager) find(id string) (int, *managedProbe) {
	for i, mp := range m.probes {
		if mp.inst.ID() == id {
			return i, mp
		}
	}
	return -1, nil
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

// Restore loads the persisted set (at start, after probes_dir).
func (m *Manager) Restore() error {
	if m.store == nil {
		return nil
	}
	set, err := m.store.Load()
	if err != nil {
		return err
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	m.generation = set.Generation
	for i, raw := range set.Probes {
		plan, raw, probs := m.compile(raw, "")
		if len(probs) > 0 {
			m.log.Error("stored probe no longer validates; not running it", "index", i, "detail", probs.Error())
			continue
		}
		if _, dup := m.find(plan.ID); dup != nil {
			m.log.Error("stored probe has the id of a probe from probes_dir; not running it", "id", plan.ID)
			continue
		}
		inst, err := probe.NewInstance(plan)
		if err != nil {
			return err
		}
		m.probes = append(m.probes, &managedProbe{origin: OriginStore, raw: raw, inst: inst})
	}
	m.log.Info("probe store loaded", "generation", set.Generation, "probes", len(set.Probes))
	return nil
}

// persist writes the store set as it would be with next in place of the
// current store probes. Callers hold m.mu.
func (m *Manager) persist(gen uint64, next []*managedProbe) error {
	if m.store == nil {
		return nil
	}
	set := StoredSet{Generation: gen, Probes: []json.RawMessage{}}
	for _, mp := range next {
		if mp.origin == OriginStore {
			set.Probes = append(set.Probes, mp.raw)
		}
	}
	if err := m.store.Save(set); err != nil {
		return fmt.Errorf("persisting probes: %w", err)
	}
	return nil
}

// Apply makes the store probes exactly docs, as one atomic change: every
// document is validated first and any problem refuses the whole request;
// probes whose document did not change keep their state. A generation older
// than the applied one is refused; the same generation may be re-applied.
// Documents without an id get one derived from their content.
func (m *Manager) Apply(gen uint64, docs [][]byte) ([]ApplyResult, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if gen < m.generation {
		return nil, fmt.Errorf("%w: got %d, applied %d", ErrStaleGeneration, gen, m.generation)
	}
	var verr ValidationError
	plans := make([]*probe.Plan, len(docs))
	raws := make([][]byte, len(docs))
	seen := map[string]int{}
	for i, raw := range docs {
		plan, canon, probs := m.compile(raw, "")
		if len(probs) == 0 {
			if j, dup := seen[plan.ID]; dup {
				probs = probe.Problems{{Probe: plan.Label(), Field: "id", Message: fmt.Sprintf("id %q is also used by document %d", plan.ID, j)}}
			} else if _, mp := m.find(plan.ID); mp != nil && mp.origin != OriginStore {
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
	var next []*managedProbe
	var results []ApplyResult
	kept := map[string]bool{}
	for _, mp := range m.probes {
		if mp.origin != OriginStore {
			next = append(next, mp)
		}
	}
	for i, plan := range plans {
		_, old := m.find(plan.ID)
		switch {
		case old != nil && bytes.Equal(old.raw, raws[i]):
			next = append(next, old)
			kept[plan.ID] = true
			results = append(results, ApplyResult{ID: plan.ID, Action: "unchanged"})
		default:
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
	}
	var removed []*managedProbe
	for _, mp := range m.probes {
		if mp.origin == OriginStore && !kept[mp.inst.ID()] {
			removed = append(removed, mp)
			if _, still := seen[mp.inst.ID()]; !still {
				results = append(results, ApplyResult{ID: mp.inst.ID(), Action: "deleted"})
			}
		}
	}
	if err := m.persist(gen, next); err != nil {
		return nil, err
	}
	m.generation = gen
	m.probes = next
	for _, mp := range removed {
		m.retire(mp)
	}
	for i := range results {
		if _, mp := m.find(results[i].ID); mp != nil {
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
// document without one gets a UUID.
func (m *Manager) Create(raw []byte) (string, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	var head struct {
		ID string `json:"id"`
	}
	_ = json.Unmarshal(raw, &head)
	id := head.ID
	if id == "" {
		id = uuid.NewString()
	}
	if _, mp := m.find(id); mp != nil {
		return "", fmt.Errorf("%w: %s", ErrExists, id)
	}
	plan, canon, probs := m.compile(raw, id)
	if len(probs) > 0 {
		return "", &ValidationError{Docs: []DocError{{Problems: probs}}}
	}
	inst, err := probe.NewInstance(plan)
	if err != nil {
		return "", err
	}
	next := append(append([]*managedProbe(nil), m.probes...), &managedProbe{origin: OriginStore, raw: canon, inst: inst})
	if err := m.persist(m.generation, next); err != nil {
		return "", err
	}
	m.probes = next
	return id, nil
}

// Replace swaps a store probe's document (REST PUT); its state restarts.
func (m *Manager) Replace(id string, raw []byte) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	i, old, err := m.storeProbe(id)
	if err != nil {
		return err
	}
	plan, canon, probs := m.compile(raw, id)
	if len(probs) > 0 {
		return &ValidationError{Docs: []DocError{{ID: id, Problems: probs}}}
	}
	inst, err := probe.NewInstance(plan)
	if err != nil {
		return err
	}
	next := append([]*managedProbe(nil), m.probes...)
	next[i] = &managedProbe{origin: OriginStore, raw: canon, inst: inst}
	if err := m.persist(m.generation, next); err != nil {
		return err
	}
	m.probes = next
	m.onRemove(old.inst)
	return nil
}

// Patch changes a store probe's metadata (REST PATCH): label, description,
// tags (replaced whole), disabled, and the listed stages' description, tags
// and units. Processors cannot change; state is kept.
func (m *Manager) Patch(id string, patch []byte) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	i, mp, err := m.storeProbe(id)
	if err != nil {
		return err
	}
	var p map[string]json.RawMessage
	if err := json.Unmarshal(patch, &p); err != nil {
		return &ValidationError{Docs: []DocError{{ID: id, Problems: probe.Problems{{Message: "not a JSON object: " + err.Error()}}}}}
	}
	var doc map[string]json.RawMessage
	_ = json.Unmarshal(mp.raw, &doc)
	for k, v := range p {
		switch k {
		case "label", "description", "tags", "disabled":
			doc[k] = v
		case "stages":
			merged, err := mergeStages(doc["stages"], v)
			if err != nil {
				return &ValidationError{Docs: []DocError{{ID: id, Problems: probe.Problems{{Field: "stages", Message: err.Error()}}}}}
			}
			doc["stages"] = merged
		default:
			return &ValidationError{Docs: []DocError{{ID: id, Problems: probe.Problems{{Field: k, Message: "PATCH changes only label, description, tags, disabled and stages; use PUT to replace the probe"}}}}}
		}
	}
	raw, _ := json.Marshal(doc)
	plan, canon, probs := m.compile(raw, "")
	if len(probs) > 0 {
		return &ValidationError{Docs: []DocError{{ID: id, Problems: probs}}}
	}
	next := append([]*managedProbe(nil), m.probes...)
	next[i] = &managedProbe{origin: OriginStore, raw: canon, inst: mp.inst, reported: mp.reported}
	if err := m.persist(m.generation, next); err != nil {
		return err
	}
	wasDisabled := mp.inst.Plan.Doc.Disabled
	mp.inst.UpdateMetadata(plan.Doc)
	m.probes = next
	if plan.Doc.Disabled && !wasDisabled && m.onDisable != nil {
		m.onDisable(mp.inst)
	}
	return nil
}

// mergeStages updates stage entries by name: listed stages change, the
// others stay.
func mergeStages(current, patch json.RawMessage) (json.RawMessage, error) {
	var cur, upd []map[string]json.RawMessage
	if len(current) > 0 {
		if err := json.Unmarshal(current, &cur); err != nil {
			return nil, err
		}
	}
	if err := json.Unmarshal(patch, &upd); err != nil {
		return nil, fmt.Errorf("expected a list of stage objects")
	}
	for _, u := range upd {
		var name string
		if err := json.Unmarshal(u["name"], &name); err != nil || name == "" {
			return nil, fmt.Errorf("every stage needs a name")
		}
		found := false
		for _, c := range cur {
			var cn string
			_ = json.Unmarshal(c["name"], &cn)
			if cn == name {
				for k, v := range u {
					c[k] = v
				}
				found = true
			}
		}
		if !found {
			cur = append(cur, u)
		}
	}
	return json.Marshal(cur)
}

// Delete removes a store probe.
func (m *Manager) Delete(id string) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	i, mp, err := m.storeProbe(id)
	if err != nil {
		return err
	}
	next := append(append([]*managedProbe(nil), m.probes[:i]...), m.probes[i+1:]...)
	if err := m.persist(m.generation, next); err != nil {
		return err
	}
	m.probes = next
	m.retire(mp)
	return nil
}

// SetLocal replaces the probes of one local origin (probes_dir files, or the
// demo), keeping the state of those whose document did not change.
func (m *Manager) SetLocal(origin Origin, docs []LocalDoc) {
	m.mu.Lock()
	defer m.mu.Unlock()
	var next []*managedProbe
	kept := map[*managedProbe]bool{}
	for _, mp := range m.probes {
		if mp.origin != origin {
			next = append(next, mp)
		}
	}
	for _, d := range docs {
		_, old := m.find(d.Plan.ID)
		if old != nil && old.origin != origin {
			m.log.Error("probe id already used by another probe; not running this one", "id", d.Plan.ID, "file", d.Source)
			continue
		}
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
	for _, mp := range m.probes {
		if mp.origin == origin && !kept[mp] {
			m.retire(mp)
		}
	}
	m.probes = next
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
	_, mp := m.find(id)
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
	_, mp := m.find(id)
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
