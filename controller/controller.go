package controller

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/probe-agent/probe-agent/probe"
	// The processor catalog: the central parts run the same engine.
	_ "github.com/probe-agent/probe-agent/probe/processors"
	"github.com/probe-agent/probe-agent/probestore"
	"github.com/probe-agent/probe-agent/topology/resolve"
)

// Controller is the running core of probe-controller: fabric, probe set,
// one session per agent, and the central evaluator.
type Controller struct {
	log     *slog.Logger
	metrics *metrics
	// now is the clock of staleness (receive times) and central ticks;
	// manualTicks leaves the ticks to EvaluateCentral's caller. Tests set
	// both.
	now         func() time.Time
	manualTicks bool
	store       *probestore.Store

	// mu guards the configuration, the fabric, the probe set and the
	// sessions' set.
	mu         sync.Mutex
	cfg        Config
	fabric     *Fabric
	generation uint64
	docs       map[string]json.RawMessage // the stored set, by id
	probes     map[string]*compiled       // the probes in force, by id
	refused    map[string]error           // stored probes that do not compile on this fabric
	// memory is limits.stage_memory, shared by every central part (the
	// fan-in member's too: their plans are compiled with it).
	memory *probe.MemoryBudget
	// storeCorrupt counts stored files found corrupt at start and set
	// aside (storeMoved are their new names).
	storeCorrupt uint64
	storeMoved   []string
	sessions     map[string]*session // by device
	runCtx       context.Context
	wg           sync.WaitGroup

	// cmu guards the central evaluators and the anomalies (the ingest
	// path, apart from the configuration).
	cmu       sync.Mutex
	centrals  map[string]*central
	edgeAnoms map[string]Anomaly // by probe id + item id
	stream    *streamOut         // the streaming receivers (streaming.go)
	fanin     *fanIn             // the broker side with fanin configured (fanin.go)
	// ingest are the bounds on what agents send (limits.go); known the
	// ids of the probes in force, whose edge anomalies are kept; edgeBytes
	// what the kept edge anomalies are charged, edgeWarned when their
	// budget last refused one with a log line.
	ingest     ingestLimits
	known      map[string]bool
	edgeBytes  int64
	edgeWarned time.Time
	// centralLimits are the budgets the central parts were built with: a
	// reload that changes them builds them again.
	centralLimits probe.Limits
}

// Anomaly is an active anomaly of a fabric probe: raised by the central
// evaluator (Origin central) or by a device (Origin edge, Device set).
type Anomaly struct {
	Origin string `json:"origin"`
	Probe  string `json:"probe_id"`
	Stage  string `json:"stage"`
	ItemID string `json:"item_id"`
	Device string `json:"device,omitempty"`
	// JSON is the anomaly as the anomalies API renders it.
	JSON json.RawMessage `json:"anomaly"`
}

// ProbeStatus describes one fabric probe.
type ProbeStatus struct {
	ID    string `json:"id"`
	Label string `json:"label"`
	// EdgeOnly probes run entirely on the devices.
	EdgeOnly bool `json:"edge_only"`
	// Devices are the devices with items for the probe.
	Devices []string `json:"devices"`
	// Error is set for a stored probe that does not compile on the
	// current fabric (it is kept, not pushed).
	Error string `json:"error,omitempty"`
}

// New loads the fabric and the probe set (state_dir, then probes_dir) and
// prepares the sessions; Run starts them.
func New(cfg Config, log *slog.Logger) (*Controller, error) {
	if log == nil {
		log = slog.Default()
	}
	fabric, err := LoadFabric(&cfg)
	if err != nil {
		return nil, err
	}
	for _, w := range fabric.Warnings {
		log.Warn("topology", "warning", w)
	}
	store, err := probestore.Open(cfg.StateDir)
	if err != nil {
		return nil, err
	}
	c := &Controller{log: log, metrics: newMetrics(), now: time.Now, store: store, cfg: cfg, fabric: fabric,
		docs: map[string]json.RawMessage{}, sessions: map[string]*session{},
		centrals: map[string]*central{}, edgeAnoms: map[string]Anomaly{},
		memory: probe.NewMemoryBudget(cfg.Limits.Engine().WithDefaults().StageMemory), ingest: cfg.Limits.ingest()}
	c.metrics.reg.MustRegister(limitsCollector{c})
	set, err := c.loadStore()
	if err != nil {
		return nil, err
	}
	c.generation = set.Generation
	for _, d := range set.Probes {
		var head struct {
			ID string `json:"id"`
		}
		if json.Unmarshal(d, &head) == nil && head.ID != "" {
			c.docs[head.ID] = d
		}
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if err := c.mergeProbesDirLocked(); err != nil {
		return nil, err
	}
	c.recompileLocked()
	if err := c.startStreaming(cfg); err != nil {
		return nil, err
	}
	c.log.Info("fabric loaded", "topology", cfg.Topology.File, "agents", len(fabric.Agents), "probes", len(c.probes), "generation", c.generation)
	return c, nil
}

// loadStore reads the stored probe set. A corrupt store does not stop the
// controller (under systemd that would be a restart loop, and the
// probes_dir probes would stop too): its files are moved aside
// (probes.json.corrupt-TIME), the error is logged and counted, and the
// controller starts with what could be read and the probes_dir probes.
func (c *Controller) loadStore() (probestore.Set, error) {
	set, err := c.store.Load()
	var ce *probestore.CorruptError
	if !errors.As(err, &ce) {
		return set, err
	}
	c.storeCorrupt++
	c.metrics.storeCorrupt.Inc()
	moved, aerr := c.store.SetAside(ce)
	c.storeMoved = append(c.storeMoved, moved...)
	c.log.Error("probe store is corrupt; its files were moved aside and the controller starts without the probes they held (probes_dir probes run; apply the fabric probes again through the REST API)",
		"err", ce.Err, "files", strings.Join(ce.Files, ", "), "moved_to", strings.Join(moved, ", "), "probes_recovered", len(set.Probes))
	if aerr != nil {
		return set, fmt.Errorf("moving the corrupt probe store aside: %w", aerr)
	}
	return set, nil
}

// Registry is the controller's Prometheus registry (served on /metrics).
func (c *Controller) Registry() *prometheus.Registry { return c.metrics.reg }

// naming is the interface naming of the configuration.
func (c *Controller) namingLocked() resolve.Naming {
	if c.cfg.Topology.InterfaceNames == "node" {
		return resolve.NodeNames
	}
	return resolve.NOSNames
}

// mergeProbesDirLocked adds the probes of probes_dir to the stored set,
// replacing stored probes with the same id; a probe that does not
// validate is refused (logged with its problems), the others are taken.
// A change is saved with a new generation.
func (c *Controller) mergeProbesDirLocked() error {
	files, err := readProbesDir(c.cfg.ProbesDir)
	if err != nil {
		return err
	}
	next := cloneDocs(c.docs)
	for _, f := range files {
		comp, err := compileProbe(f.doc, c.fabric, c.namingLocked(), c.optionsLocked())
		if err != nil {
			c.log.Error("probe refused", "file", f.source, "err", err)
			continue
		}
		if _, ok := next[comp.id]; !ok && len(next) >= c.probeBudgetLocked() {
			c.log.Error("probe refused", "file", f.source, "err", c.probeBudgetError(len(next)+1, comp))
			continue
		}
		next[comp.id] = comp.doc
	}
	return c.saveLocked(next)
}

// optionsLocked are the options fabric probes are compiled with.
func (c *Controller) optionsLocked() probe.Options { return c.cfg.ProbeOptions(c.memory) }

// saveLocked makes next the stored set: when it differs from the current
// one, with a new generation, written before anything is pushed.
func (c *Controller) saveLocked(next map[string]json.RawMessage) error {
	if sameDocs(c.docs, next) && c.generation > 0 {
		return nil
	}
	set := probestore.Set{Generation: c.generation + 1}
	for _, id := range sortedKeys(next) {
		set.Probes = append(set.Probes, next[id])
	}
	if err := c.store.Save(set); err != nil {
		return fmt.Errorf("saving the probe set: %w", err)
	}
	c.docs, c.generation = next, set.Generation
	c.metrics.generation.Set(float64(c.generation))
	return nil
}

func sameDocs(a, b map[string]json.RawMessage) bool {
	if len(a) != len(b) {
		return false
	}
	for id, d := range a {
		if e, ok := b[id]; !ok || string(e) != string(d) {
			return false
		}
	}
	return true
}

func cloneDocs(m map[string]json.RawMessage) map[string]json.RawMessage {
	out := make(map[string]json.RawMessage, len(m))
	for k, v := range m {
		out[k] = v
	}
	return out
}

// recompileLocked compiles every stored probe on the current fabric and
// brings the central evaluators in line: a probe whose central part did
// not change keeps its state.
func (c *Controller) recompileLocked() {
	probes := map[string]*compiled{}
	refused := map[string]error{}
	budget := c.probeBudgetLocked()
	for _, id := range sortedKeys(c.docs) {
		comp, err := compileProbe(c.docs[id], c.fabric, c.namingLocked(), c.optionsLocked())
		if err == nil && len(probes) >= budget {
			// A stored set over a lowered budget: the probes past it (in
			// id order) are kept, not run.
			err = c.probeBudgetError(len(c.docs), comp)
		}
		if err != nil {
			refused[id] = err
			c.log.Error("stored probe does not compile on this fabric; not pushed", "id", id, "err", err)
			continue
		}
		probes[id] = comp
	}
	c.probes, c.refused = probes, refused
	c.cmu.Lock()
	defer c.cmu.Unlock()
	lim := c.cfg.Limits.Engine()
	rebuild := lim != c.centralLimits
	c.centralLimits = lim
	c.ingest = c.cfg.Limits.ingest()
	c.memory.SetLimit(lim.WithDefaults().StageMemory)
	for id, ce := range c.centrals {
		if p, ok := probes[id]; !ok || p.split.Central == nil || !ce.sameAs(p) || rebuild || stoppedByBudget(ce.inst) {
			if stoppedByBudget(ce.inst) && ok {
				c.log.Warn("central part stopped by a budget starts again, empty", "id", id, "err", ce.status.LastError)
			}
			ce.inst.Release()
			delete(c.centrals, id)
			c.metrics.staleDevices.DeleteLabelValues(id)
			c.metrics.partial.DeleteLabelValues(id)
		}
	}
	for id, p := range probes {
		if p.split.Central == nil {
			continue
		}
		if ce, ok := c.centrals[id]; ok {
			ce.devices = p.devices
			continue
		}
		ce, err := newCentral(p)
		if err != nil {
			c.log.Error("central part does not start", "id", id, "err", err)
			continue
		}
		c.centrals[id] = ce
	}
	c.known = make(map[string]bool, len(probes))
	for id := range probes {
		c.known[id] = true
	}
	for key, a := range c.edgeAnoms {
		if _, ok := probes[a.Probe]; !ok {
			c.forgetEdgeAnomalyLocked(key)
		}
	}
	if c.fanin != nil {
		c.fanin.input.Rebalance()
	}
}

// partFor is what device is to apply: the generation and its edge part
// of every probe.
func (c *Controller) partFor(device string) (uint64, []string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	var docs []string
	for _, id := range sortedKeys(c.probes) {
		if d, ok := c.probes[id].edge[device]; ok {
			docs = append(docs, string(d))
		}
	}
	return c.generation, docs
}

// SetProbes makes docs the fabric probe set. Every document is validated,
// resolved and partitioned first; any problem refuses the whole set and
// nothing is saved or pushed. On success the set is saved with a new
// generation and every agent gets its part.
func (c *Controller) SetProbes(docs [][]byte) (uint64, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	next := map[string]json.RawMessage{}
	var errs []error
	var over *compiled // the first probe past limits.probes_per_fabric
	for _, d := range docs {
		comp, err := compileProbe(d, c.fabric, c.namingLocked(), c.optionsLocked())
		if err != nil {
			errs = append(errs, err)
			continue
		}
		if _, ok := next[comp.id]; !ok && len(next) == c.probeBudgetLocked() && over == nil {
			over = comp
		}
		next[comp.id] = comp.doc
	}
	if over != nil {
		errs = append(errs, c.probeBudgetError(len(next), over))
	}
	if len(errs) > 0 {
		return c.generation, errors.Join(errs...)
	}
	return c.commitLocked(next)
}

// AddProbe adds (or replaces, by id) one probe; see SetProbes.
func (c *Controller) AddProbe(doc []byte) (string, uint64, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	comp, err := compileProbe(doc, c.fabric, c.namingLocked(), c.optionsLocked())
	if err != nil {
		return "", c.generation, err
	}
	next := cloneDocs(c.docs)
	if _, ok := next[comp.id]; !ok && len(next) >= c.probeBudgetLocked() {
		return "", c.generation, c.probeBudgetError(len(next)+1, comp)
	}
	next[comp.id] = comp.doc
	gen, err := c.commitLocked(next)
	return comp.id, gen, err
}

// DeleteProbe removes a probe from the fabric.
func (c *Controller) DeleteProbe(id string) (uint64, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if _, ok := c.docs[id]; !ok {
		return c.generation, fmt.Errorf("probe %q: no such probe", id)
	}
	next := cloneDocs(c.docs)
	delete(next, id)
	return c.commitLocked(next)
}

func (c *Controller) commitLocked(next map[string]json.RawMessage) (uint64, error) {
	before := c.generation
	if err := c.saveLocked(next); err != nil {
		return c.generation, err
	}
	if c.generation != before {
		c.recompileLocked()
		c.kickLocked()
	}
	return c.generation, nil
}

// raiseGeneration moves the generation past one an agent already has (a
// controller whose state was lost), so the next push is accepted.
func (c *Controller) raiseGeneration(past uint64) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.generation > past {
		return
	}
	set := probestore.Set{Generation: past + 1}
	for _, id := range sortedKeys(c.docs) {
		set.Probes = append(set.Probes, c.docs[id])
	}
	if err := c.store.Save(set); err != nil {
		c.log.Error("raising the generation", "err", err)
		return
	}
	c.log.Warn("an agent had a newer generation than this controller's state; generation raised", "from", c.generation, "to", set.Generation)
	c.generation = set.Generation
	c.metrics.generation.Set(float64(c.generation))
	c.kickLocked()
}

// Reload reads the topology file and probes_dir again under cfg (which
// may differ from the running configuration: SIGHUP reloads both). A
// topology that does not load leaves everything as it was. Every agent
// gets its part again, with a new generation when anything changed;
// sessions of agents that left the fabric or moved stop, new ones start.
func (c *Controller) Reload(cfg Config) error {
	fabric, err := LoadFabric(&cfg)
	if err != nil {
		return err
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	old := c.cfg
	c.cfg, c.fabric = cfg, fabric
	if err := c.mergeProbesDirLocked(); err != nil {
		c.cfg = old
		return err
	}
	// A new topology may resolve the same documents to other items: a new
	// generation tells the agents (and the centre) that parts changed.
	set := probestore.Set{Generation: c.generation + 1}
	for _, id := range sortedKeys(c.docs) {
		set.Probes = append(set.Probes, c.docs[id])
	}
	if err := c.store.Save(set); err != nil {
		return err
	}
	c.generation = set.Generation
	c.metrics.generation.Set(float64(c.generation))
	c.recompileLocked()
	if c.runCtx != nil {
		c.syncSessionsLocked(old)
	}
	c.kickLocked()
	if err := c.restartStreaming(old, cfg); err != nil {
		c.log.Error("streaming not reconfigured; keeping the previous receivers", "err", err)
	}
	c.log.Info("reloaded", "topology", cfg.Topology.File, "agents", len(fabric.Agents), "probes", len(c.probes), "generation", c.generation)
	return nil
}

// Run starts a session per agent and the central evaluator, and runs
// until ctx ends.
func (c *Controller) Run(ctx context.Context) error {
	if c.cfg.FanIn.Enabled() {
		if err := c.startFanIn(ctx); err != nil {
			return err
		}
		defer c.stopFanIn()
	}
	c.mu.Lock()
	c.runCtx = ctx
	c.syncSessionsLocked(c.cfg)
	interval := c.cfg.Interval.D()
	c.mu.Unlock()
	t := time.NewTicker(interval)
	defer t.Stop()
	if c.manualTicks {
		t.Stop()
	}
	for {
		select {
		case <-ctx.Done():
			c.mu.Lock()
			for dev, s := range c.sessions {
				s.stop()
				delete(c.sessions, dev)
			}
			c.mu.Unlock()
			c.wg.Wait()
			c.stopStreaming(5 * time.Second)
			return nil
		case <-t.C:
			c.evaluate(c.now())
			c.mu.Lock()
			if d := c.cfg.Interval.D(); d != interval && !c.manualTicks {
				interval = d
				t.Reset(d)
			}
			c.mu.Unlock()
		}
	}
}

// syncSessionsLocked starts a session for every agent without one, and
// restarts those whose address or credentials changed.
func (c *Controller) syncSessionsLocked(old Config) {
	if !c.cfg.FanIn.Pushes() {
		return // another controller pushes this fabric's probes (fanin)
	}
	want := map[string]AgentInfo{}
	for _, a := range c.fabric.Agents {
		want[a.Device] = a
	}
	for dev, s := range c.sessions {
		a, ok := want[dev]
		if !ok || a.Address != s.info.Address || old.Agents.Defaults != c.cfg.Agents.Defaults {
			s.stop()
			delete(c.sessions, dev)
		}
	}
	for _, a := range c.fabric.Agents {
		if _, ok := c.sessions[a.Device]; ok {
			continue
		}
		s := newSession(c, a, c.cfg.Agents.Defaults)
		ctx, cancel := context.WithCancel(c.runCtx)
		s.cancel = cancel
		c.sessions[a.Device] = s
		c.wg.Add(1)
		go func() { defer c.wg.Done(); s.run(ctx) }()
	}
	c.metrics.agents.Set(float64(len(c.fabric.Agents)))
}

// kickLocked asks every session to apply the current generation.
func (c *Controller) kickLocked() {
	for _, s := range c.sessions {
		s.kick()
	}
}

// EvaluateCentral runs one central tick of every probe with a central
// part at now. Run calls it every interval.
func (c *Controller) EvaluateCentral(now time.Time) {
	c.mu.Lock()
	staleAfter, maxMissing := c.cfg.StaleAfter(), c.cfg.MaxMissingShare
	c.mu.Unlock()
	start := time.Now()
	c.cmu.Lock()
	defer c.cmu.Unlock()
	active := 0
	for _, id := range sortedKeys(c.centrals) {
		ce := c.centrals[id]
		before := ce.status.Skipped
		evaluated := ce.tick(now, staleAfter, maxMissing)
		if evaluated {
			c.streamCentralLocked(ce)
		}
		c.metrics.staleDevices.WithLabelValues(id).Set(float64(len(ce.status.Missing)))
		partial := 0.0
		if ce.status.Partial {
			partial = 1
		}
		c.metrics.partial.WithLabelValues(id).Set(partial)
		if !evaluated {
			c.metrics.skipped.WithLabelValues(id).Inc()
			if !before {
				c.log.Warn("central ticks skipped: too many devices missing, no anomaly is raised or cleared", "probe", id,
					"missing", ce.status.Missing, "devices", len(ce.devices), "max_missing_share", maxMissing)
			}
		} else if before {
			c.log.Info("central ticks resumed", "probe", id, "missing", ce.status.Missing)
		}
		active += ce.inst.AnomalyCount()
	}
	c.metrics.tickSeconds.Observe(time.Since(start).Seconds())
	c.metrics.anomaliesActive.WithLabelValues("central").Set(float64(active))
	c.metrics.anomaliesActive.WithLabelValues("edge").Set(float64(len(c.edgeAnoms)))
}

// Generation is the generation of the fabric probe set.
func (c *Controller) Generation() uint64 {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.generation
}

// Probes describes the fabric probes, by id.
func (c *Controller) Probes() []ProbeStatus {
	c.mu.Lock()
	defer c.mu.Unlock()
	var out []ProbeStatus
	for _, id := range sortedKeys(c.docs) {
		ps := ProbeStatus{ID: id}
		if p, ok := c.probes[id]; ok {
			ps.Label, ps.EdgeOnly, ps.Devices = p.label, p.split.EdgeOnly(), slices.Clone(p.devices)
		} else if err := c.refused[id]; err != nil {
			ps.Error = err.Error()
		}
		out = append(out, ps)
	}
	return out
}

// ProbeDocument is a fabric probe's document as stored.
func (c *Controller) ProbeDocument(id string) (json.RawMessage, bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	d, ok := c.docs[id]
	return d, ok
}

// Central calls fn with the central Instance of a probe and the status of
// its last tick, under the evaluator's lock (fn must not keep inst). It
// reports false for a probe without a central part.
func (c *Controller) Central(id string, fn func(inst *probe.Instance, st CentralStatus)) bool {
	c.cmu.Lock()
	defer c.cmu.Unlock()
	if c.fanin != nil {
		return c.fanInCentralLocked(id, fn)
	}
	ce, ok := c.centrals[id]
	if !ok {
		return false
	}
	fn(ce.inst, ce.snapshot())
	return true
}

// CentralStatuses lists the status of every central part.
func (c *Controller) CentralStatuses() []CentralStatus {
	c.cmu.Lock()
	defer c.cmu.Unlock()
	if c.fanin != nil {
		return c.fanInStatusesLocked()
	}
	var out []CentralStatus
	for _, id := range sortedKeys(c.centrals) {
		out = append(out, c.centrals[id].snapshot())
	}
	return out
}

// Anomalies lists every active anomaly of the fabric probes: the central
// evaluator's and those the devices raised, sorted by probe and item.
func (c *Controller) Anomalies() []Anomaly {
	c.cmu.Lock()
	defer c.cmu.Unlock()
	var out []Anomaly
	for _, id := range c.centralIDsLocked() {
		if c.fanin != nil {
			out = append(out, c.fanInAnomaliesLocked(id)...)
			continue
		}
		for _, a := range c.centrals[id].inst.Anomalies() {
			js, _ := a.MarshalJSON()
			out = append(out, Anomaly{Origin: "central", Probe: id, Stage: a.Stage, ItemID: a.ItemID, JSON: js})
		}
	}
	for _, key := range sortedKeys(c.edgeAnoms) {
		out = append(out, c.edgeAnoms[key])
	}
	sort.SliceStable(out, func(i, j int) bool {
		if out[i].Probe != out[j].Probe {
			return out[i].Probe < out[j].Probe
		}
		return out[i].ItemID < out[j].ItemID
	})
	return out
}

// Agents describes every agent's session.
func (c *Controller) Agents() []AgentStatus {
	c.mu.Lock()
	sessions := make([]*session, 0, len(c.sessions))
	for _, dev := range sortedKeys(c.sessions) {
		sessions = append(sessions, c.sessions[dev])
	}
	c.mu.Unlock()
	out := make([]AgentStatus, len(sessions))
	for i, s := range sessions {
		out[i] = s.status()
	}
	return out
}
