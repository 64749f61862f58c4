// Package agent is the probe-agent daemon: it reads interface counters from
// the configured collector at every interval, evaluates the loaded probes
// with the probe engine, and sends stage changes, anomalies and link events
// in the Apstra streaming format to receivers, or prints them.
package agent

import (
	"context"
	_ "embed"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"reflect"
	"sort"
	"sync"
	"time"

	"github.com/coreos/go-systemd/v22/daemon"

	"github.com/probe-agent/probe-agent/collectors"
	"github.com/probe-agent/probe-agent/collectors/system"
	"github.com/probe-agent/probe-agent/probe"
	"github.com/probe-agent/probe-agent/proto/aos"
)

// DemoProbe is the probe run when the agent starts without a configuration.
//
//go:embed demo_probe.json
var DemoProbe []byte

// Options are the parts of an agent that are not in its configuration file.
type Options struct {
	Logger *slog.Logger
	// Stdout receives printed messages when no streaming entry is
	// configured. Default os.Stdout.
	Stdout io.Writer
	// Demo adds the built-in demo probe.
	Demo bool
	// Collector overrides the configured collector (tests).
	Collector collectors.Collector
	// Ticks, when set, replaces the interval ticker (tests drive ticks).
	Ticks <-chan time.Time
	// OnTick is called after each evaluated tick (tests, metrics).
	OnTick func()
	// LogLevel, when set, is adjusted when a reloaded configuration
	// changes log_level.
	LogLevel *slog.LevelVar
}

// Agent is one running probe-agent.
type Agent struct {
	cfg       Config
	opts      Options
	log       *slog.Logger
	collector collectors.Collector
	out       output
	fanin     *fanIn // the type nats entries (fanin.go)
	emitter   *Emitter
	batch     collectors.Batch
	tick      probe.Tick
	items     probe.ItemCache
	// system reads the device's own CPU and memory for system_utilization;
	// nil with the replay collector (recordings carry no system samples).
	system       *system.Reader
	systemSample collectors.SystemSample
	manager      *Manager
	reload       chan reloadRequest
	// swapMu guards out and cfg against readers outside the run loop
	// (metrics, probe removal from the APIs) while a reload replaces them.
	swapMu sync.RWMutex

	// silenced holds probes disabled while they had raised anomalies: the
	// clears were sent, so when the probe is enabled again the ones still
	// raised after its first evaluation are sent as raises again. Guarded
	// by the manager's lock (disableProbe, and step inside Each).
	silenced map[*probe.Instance]bool

	collectErrs uint64
	lastErrLog  time.Time
	stats       runStats // for Stats (metrics.go)
}

// New builds an agent: it opens the collector and the outputs, loads the
// probes of probes_dir (and the demo), then the persisted ones. Errors name
// the configuration key or file at fault.
func New(cfg Config, opts Options) (*Agent, error) {
	if opts.Logger == nil {
		opts.Logger = slog.Default()
	}
	if opts.Stdout == nil {
		opts.Stdout = os.Stdout
	}
	a := &Agent{
		cfg:    cfg,
		opts:   opts,
		log:    opts.Logger,
		reload: make(chan reloadRequest),
		emitter: NewEmitter(Identity{
			SystemID: cfg.SystemID, Hostname: cfg.Hostname, Role: cfg.Role,
			BlueprintID: cfg.BlueprintID, BlueprintLabel: cfg.BlueprintLabel,
		}),
	}
	var store *Store
	if cfg.StateDir != "" {
		if err := cfg.CheckStateDir(); err != nil {
			return nil, err
		}
		var err error
		if store, err = OpenStore(cfg.StateDir); err != nil {
			return nil, err
		}
	}
	a.manager = NewManager(a.log, store, a.retireProbe)
	a.manager.SetProbeOptions(cfg.ProbeOptions())
	a.manager.OnDisable(a.disableProbe)
	if opts.Demo {
		a.manager.SetLocal(OriginDemo, a.validateLocal([]LocalDoc{{Source: "built-in demo", Raw: DemoProbe}}))
	}
	if err := a.loadProbesDir(); err != nil {
		return nil, err
	}
	if err := a.manager.Restore(); err != nil {
		return nil, fmt.Errorf("state_dir: %w", err)
	}
	if len(a.manager.List()) == 0 {
		a.log.Warn("no probes to run yet; counters are read but nothing is evaluated until probes are added", "probes_dir", cfg.ProbesDir)
	}
	var err error
	a.collector = opts.Collector
	if a.collector == nil {
		if a.collector, err = NewCollector(cfg, a.log); err != nil {
			return nil, err
		}
	}
	if a.out, err = newOutput(cfg, opts.Stdout, a.log); err != nil {
		a.collector.Close()
		return nil, err
	}
	if a.fanin, err = newFanIn(cfg, a.manager.Exports(), a.log); err != nil {
		a.collector.Close()
		return nil, err
	}
	if cfg.Collector.Type != "replay" {
		if a.system, err = system.NewReader("/proc", cfg.SystemID); err != nil {
			a.log.Warn("cannot read /proc; system_utilization will have no data", "err", err)
		}
	}
	return a, nil
}

// Manager is the agent's probe set, for the control plane and the API.
func (a *Agent) Manager() *Manager { return a.manager }

// loadProbesDir reads probes_dir and makes its valid documents the running
// file probes.
func (a *Agent) loadProbesDir() error {
	dir := a.cfg.ProbesDir
	if dir == "" {
		return nil
	}
	if _, err := os.Stat(dir); err != nil {
		a.log.Warn("probes_dir is not readable; no probes loaded from it", "probes_dir", dir, "err", err)
		a.manager.SetLocal(OriginFile, nil)
		return nil
	}
	files, err := filepath.Glob(filepath.Join(dir, "*.json"))
	if err != nil {
		return fmt.Errorf("probes_dir: %w", err)
	}
	sort.Strings(files)
	var docs []LocalDoc
	for _, f := range files {
		raw, err := os.ReadFile(f)
		if err != nil {
			a.log.Error("cannot read probe file", "file", f, "err", err)
			continue
		}
		docs = append(docs, LocalDoc{Source: f, Raw: raw})
	}
	a.manager.SetLocal(OriginFile, a.validateLocal(docs))
	return nil
}

// validateLocal compiles local documents. One that does not validate, or
// needs central-only processors, is logged with every problem and left
// out, so one bad file does not stop the others.
func (a *Agent) validateLocal(docs []LocalDoc) []LocalDoc {
	var out []LocalDoc
	for _, d := range docs {
		plan, raw, probs := a.manager.compile(d.Raw, "")
		if len(probs) > 0 {
			a.log.Error("probe not run: it does not validate", "file", d.Source, "problems", len(probs), "detail", probs.Error())
			continue
		}
		for _, w := range plan.Warnings {
			a.log.Warn("probe warning", "file", d.Source, "warning", w)
		}
		a.log.Info("probe loaded", "file", d.Source, "id", plan.ID, "label", plan.Label(), "dialect", plan.Doc.Dialect)
		out = append(out, LocalDoc{Source: d.Source, Raw: raw, Plan: plan})
	}
	return out
}

type reloadRequest struct {
	cfg  *Config // nil: only re-read probes_dir
	done chan error
}

// Reload re-reads probes_dir, keeping the state (time series, raised
// anomalies) of every probe whose document did not change.
func (a *Agent) Reload(ctx context.Context) error { return a.request(ctx, nil) }

// Reconfigure applies a reloaded configuration (SIGHUP) between ticks:
// identity, interval, collector, streaming, output, log level and
// probes_dir take effect at once; state_dir, control and api need a
// restart, which is logged. On error nothing changes.
func (a *Agent) Reconfigure(ctx context.Context, cfg Config) error { return a.request(ctx, &cfg) }

func (a *Agent) request(ctx context.Context, cfg *Config) error {
	done := make(chan error, 1)
	select {
	case a.reload <- reloadRequest{cfg: cfg, done: done}:
	case <-ctx.Done():
		return ctx.Err()
	}
	select {
	case err := <-done:
		return err
	case <-ctx.Done():
		return ctx.Err()
	}
}

// retireProbe forgets a removed probe's cached ids and sends a clear for
// every anomaly it had raised, so receivers do not keep stale alerts.
func (a *Agent) retireProbe(inst *probe.Instance) {
	a.emitter.Forget(inst)
	delete(a.silenced, inst)
	a.clearAnomalies(inst)
}

// clearAnomalies sends a clear for every anomaly inst has raised.
func (a *Agent) clearAnomalies(inst *probe.Instance) {
	a.swapMu.RLock()
	defer a.swapMu.RUnlock()
	if a.out == nil {
		return
	}
	now := time.Now()
	for _, an := range inst.Anomalies() {
		c := *an
		c.Raised = false
		c.LastModified = now
		a.out.send(chanAlerts, a.emitter.alert(&c, now))
	}
}

// disableProbe clears a disabled probe's raised anomalies towards the
// receivers: a disabled probe provides no data, so its alerts must not
// stay raised where operators look.
func (a *Agent) disableProbe(inst *probe.Instance) {
	if inst.AnomalyCount() == 0 {
		return
	}
	if a.silenced == nil {
		a.silenced = map[*probe.Instance]bool{}
	}
	a.silenced[inst] = true
	a.clearAnomalies(inst)
	a.log.Info("probe disabled; its anomalies were cleared", "id", inst.ID(), "anomalies", inst.AnomalyCount())
}

// reraise sends again, after a re-enabled probe's first evaluation, the
// anomalies still raised that were cleared when it was disabled (those the
// evaluation raised anew went out with its transitions).
func (a *Agent) reraise(inst *probe.Instance) {
	if !a.silenced[inst] || inst.Plan.Doc.Disabled {
		return
	}
	delete(a.silenced, inst)
	fresh := map[string]bool{}
	for _, t := range inst.Transitions() {
		fresh[t.ID] = true
	}
	for _, an := range inst.Anomalies() {
		if !fresh[an.ID] {
			a.sendAlert(a.emitter.alert(an, inst.Time()))
		}
	}
}

// Run collects and evaluates at every interval until ctx ends, then flushes
// the outputs for up to shutdown_timeout. It tells systemd it is ready after
// the first collection and pings the watchdog while ticks progress.
func (a *Agent) Run(ctx context.Context) error {
	defer func() {
		a.collector.Close()
		if a.system != nil {
			a.system.Close()
		}
	}()
	ticks := a.opts.Ticks
	var ticker *time.Ticker
	if ticks == nil {
		ticker = time.NewTicker(a.cfg.Interval.D())
		defer ticker.Stop()
		ticks = ticker.C
	}
	watchdog, _ := daemon.SdWatchdogEnabled(false)
	a.log.Info("agent running", "system_id", a.cfg.SystemID, "collector", a.cfg.Collector.Type, "interval", a.cfg.Interval.D(), "probes", len(a.manager.List()), "output", a.out.describe())
	first := true
	var steps uint64
	var plan releasePlan
	heap := newHeapReader()
	var lastPing time.Time
	lastSummary := time.Now()
	for {
		ok := a.step(ctx)
		if every := a.cfg.LogSummary.D(); every > 0 && time.Since(lastSummary) >= every {
			a.logSummary()
			lastSummary = time.Now()
		}
		if first {
			first = false
			if _, err := daemon.SdNotify(false, daemon.SdNotifyReady); err != nil {
				a.log.Debug("sd_notify failed", "err", err)
			}
		}
		steps++
		if r := plan.after(heap.read()); r != releaseNothing {
			// What only starting (or a burst or a rare event since the
			// last time) touched need not stay resident (pages.go).
			start := time.Now()
			if n, err := releaseUnused(r); err != nil {
				a.log.Debug("binary pages kept", "err", err)
			} else {
				a.log.Debug("unused memory released", "binary_bytes", n, "heap", r == releaseHeap, "ticks", steps, "took", time.Since(start))
			}
		}
		if ok && watchdog > 0 && time.Since(lastPing) >= watchdog/3 {
			_, _ = daemon.SdNotify(false, daemon.SdNotifyWatchdog)
			lastPing = time.Now()
		}
	wait:
		select {
		case <-ctx.Done():
			return a.shutdown()
		case req := <-a.reload:
			if req.cfg == nil {
				req.done <- a.loadProbesDir()
			} else {
				before := a.cfg.Interval
				err := a.applyConfig(*req.cfg)
				if err == nil && ticker != nil && a.cfg.Interval != before {
					ticker.Reset(a.cfg.Interval.D())
				}
				req.done <- err
			}
			// A reload is not a tick: keep waiting for the next one.
			goto wait
		case <-ticks:
		}
	}
}

// applyConfig swaps in what a new configuration changes. Everything new is
// built before anything old is closed, so a bad value (an unreachable
// collector, a missing certificate) leaves the agent as it was.
func (a *Agent) applyConfig(next Config) error {
	var restart []string
	if next.StateDir != a.cfg.StateDir {
		restart, next.StateDir = append(restart, "state_dir"), a.cfg.StateDir
	}
	if next.Control != a.cfg.Control {
		restart, next.Control = append(restart, "control"), a.cfg.Control
	}
	if next.API != a.cfg.API {
		restart, next.API = append(restart, "api"), a.cfg.API
	}
	if len(restart) > 0 {
		a.log.Warn("configuration reloaded; these keys take effect at the next restart", "keys", restart)
	}
	var col collectors.Collector
	if a.opts.Collector == nil && (next.Collector != a.cfg.Collector || next.SystemID != a.cfg.SystemID || next.Interval != a.cfg.Interval) {
		var err error
		if col, err = NewCollector(next, a.log); err != nil {
			return err
		}
	}
	var out, retired output
	var fan *fanIn
	if !reflect.DeepEqual(next.Streaming, a.cfg.Streaming) || next.Queue != a.cfg.Queue || next.Output != a.cfg.Output {
		var err error
		// Unchanged streaming entries keep their senders (connection,
		// queue, sequence); retired is what the old output no longer uses.
		if out, retired, err = reconfigureOutput(a.out, next, a.opts.Stdout, a.log); err != nil {
			if col != nil {
				col.Close()
			}
			return err
		}
		if fan, err = newFanIn(next, a.manager.Exports(), a.log); err != nil {
			_ = startedBy(out, a.out).close(context.Background())
			if col != nil {
				col.Close()
			}
			return err
		}
	}
	if col != nil {
		a.collector.Close()
		a.collector = col
		a.batch = collectors.Batch{}
	}
	a.swapMu.Lock()
	if out != nil {
		a.out = out
	}
	a.cfg = next
	a.manager.SetProbeOptions(next.ProbeOptions())
	a.emitter.SetIdentity(Identity{SystemID: next.SystemID, Hostname: next.Hostname, Role: next.Role, BlueprintID: next.BlueprintID, BlueprintLabel: next.BlueprintLabel})
	a.swapMu.Unlock()
	if out != nil {
		oldFan := a.fanin
		a.fanin = fan
		go func() {
			ctx, cancel := context.WithTimeout(context.Background(), next.ShutdownTimeout.D())
			defer cancel()
			if err := oldFan.close(ctx); err != nil {
				a.log.Warn("old fan-in outputs closed with records unsent", "err", err)
			}
		}()
		// Flush what the old outputs still hold, without holding up ticks.
		go func() {
			ctx, cancel := context.WithTimeout(context.Background(), next.ShutdownTimeout.D())
			defer cancel()
			if err := retired.close(ctx); err != nil {
				a.log.Warn("old outputs closed with messages unsent", "err", err)
			}
		}()
	}
	if a.opts.LogLevel != nil {
		var l slog.Level
		if err := l.UnmarshalText([]byte(next.LogLevel)); err == nil {
			a.opts.LogLevel.Set(l)
		}
	}
	a.log.Info("configuration reloaded", "collector", next.Collector.Type, "interval", next.Interval.D(), "output", a.out.describe())
	return a.loadProbesDir()
}

func (a *Agent) shutdown() error {
	_, _ = daemon.SdNotify(false, daemon.SdNotifyStopping)
	ctx, cancel := context.WithTimeout(context.Background(), a.cfg.ShutdownTimeout.D())
	defer cancel()
	ferr := a.fanin.close(ctx)
	if err := a.out.close(ctx); err != nil {
		return err
	}
	return ferr
}

// step runs one collection and evaluation. It reports whether the tick
// progressed (the collector answered).
func (a *Agent) step(ctx context.Context) bool {
	start := time.Now()
	cctx, cancel := context.WithTimeout(ctx, max(a.cfg.Interval.D(), time.Second))
	err := a.collector.Collect(cctx, &a.batch)
	cancel()
	if err != nil {
		if ctx.Err() != nil {
			return false
		}
		if errors.Is(err, collectors.ErrNotDue) {
			// A healthy source between samples: nothing to evaluate.
			a.stats.notDue()
			return true
		}
		if errors.Is(err, collectors.ErrNoData) {
			// Nothing is evaluated: a repeated sample would report every
			// rate as 0 and clear every anomaly. Items keep their last
			// state (no raise, no clear) until data comes back.
			if a.stats.noData(err.Error()) {
				a.log.Warn("collector has no data; ticks are skipped (no values sent, anomalies neither raised nor cleared) until it has", "collector", a.cfg.Collector.Type, "reason", err)
			}
			return false
		}
		a.collectErrs++
		a.stats.collectorError()
		if time.Since(a.lastErrLog) > 10*time.Second {
			a.log.Error("collector failed; this tick is skipped", "collector", a.cfg.Collector.Type, "err", err, "failures", a.collectErrs)
			a.lastErrLog = time.Now()
		}
		return false
	}
	if n, since := a.stats.dataBack(); n > 0 {
		a.log.Info("collector has data again", "collector", a.cfg.Collector.Type, "ticks_skipped", n, "without_data_for", time.Since(since).Round(time.Second))
	}
	if a.batch.Time.IsZero() {
		a.batch.Time = time.Now()
	}
	a.batch.System = nil
	if a.system != nil {
		if err := a.system.Read(&a.systemSample); err == nil {
			a.batch.System = &a.systemSample
		}
	}
	a.tick = probe.Tick{Time: a.batch.Time, Counters: &a.batch, Items: &a.items}
	gen, exports := a.manager.Generation(), a.manager.Exports()
	a.manager.Each(func(inst *probe.Instance) {
		seq := inst.Seq()
		if err := inst.Tick(&a.tick); err != nil {
			a.log.Debug("probe tick failed", "id", inst.ID(), "err", err)
		}
		a.stats.probeTicked(inst, seq)
		a.emitter.probeMessages(inst, a.out)
		a.emitter.Alerts(inst, a.sendAlert)
		a.reraise(inst)
		exports.Add(inst, a.cfg.SystemID, gen)
	})
	exports.Flush(a.batch.Time)
	a.items.Advance(&a.batch, a.batch.Time)
	a.manager.NoteTick(a.batch.Time)
	a.emitter.LinkEvents(&a.batch, a.items.For(&a.batch), a.sendEvent)
	a.stats.tickDone(start)
	if a.opts.OnTick != nil {
		a.opts.OnTick()
	}
	return true
}

// logSummary writes the one-line Info summary that shows the agent is
// alive in the journal: probes, interfaces, anomalies, and per streaming
// channel what was sent and dropped.
func (a *Agent) logSummary() {
	st := a.Stats()
	probes, active := 0, 0
	for _, p := range a.manager.List() {
		probes++
		active += p.AnomalyCount
	}
	attrs := []any{
		"probes", probes, "interfaces", len(a.batch.Interfaces), "ticks", st.Ticks,
		"anomalies_active", active, "anomalies_raised", st.AnomaliesRaised,
	}
	if st.NoData != "" {
		attrs = append(attrs, "no_data", st.NoData)
	}
	if st.CollectorErrors > 0 || st.NoDataTicks > 0 {
		attrs = append(attrs, "collector_errors", st.CollectorErrors, "ticks_without_data", st.NoDataTicks)
	}
	for _, s := range st.Streams {
		state := "connected"
		if !s.Connected {
			state = "unreachable"
		}
		attrs = append(attrs, s.Channel, fmt.Sprintf("%s sent=%d dropped=%d queued=%d %s", s.Receiver, s.Sent, s.Dropped, s.QueueDepth, state))
	}
	a.log.Info("summary", attrs...)
}

func (a *Agent) sendAlert(m *aos.AosMessage) { a.out.send(chanAlerts, m) }
func (a *Agent) sendEvent(m *aos.AosMessage) { a.out.send(chanEvents, m) }
