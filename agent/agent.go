// Package agent is the probe-agent daemon: it reads interface counters from
// the configured collector at every interval, evaluates the loaded probes
// with the probe engine, and sends stage changes, anomalies and link events
// in the Apstra streaming format to receivers, or prints them.
package agent

import (
	"bytes"
	"context"
	_ "embed"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"sort"
	"sync"
	"time"

	"github.com/coreos/go-systemd/v22/daemon"

	"github.com/probe-agent/probe-agent/collectors"
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
}

// Agent is one running probe-agent.
type Agent struct {
	cfg       Config
	opts      Options
	log       *slog.Logger
	collector collectors.Collector
	out       output
	emitter   *Emitter
	batch     collectors.Batch
	tick      probe.Tick

	mu     sync.Mutex
	probes []*loadedProbe
	reload chan chan error

	collectErrs uint64
	lastErrLog  time.Time
}

// loadedProbe is a probe document and its running instance.
type loadedProbe struct {
	source string // file name, or "built-in"
	raw    []byte
	inst   *probe.Instance
	state  probe.State
}

// New builds an agent: it opens the collector and the outputs and loads the
// probes. Errors name the configuration key or file at fault.
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
		reload: make(chan chan error),
		emitter: NewEmitter(Identity{
			SystemID: cfg.SystemID, Hostname: cfg.Hostname, Role: cfg.Role,
			BlueprintID: cfg.BlueprintID, BlueprintLabel: cfg.BlueprintLabel,
		}),
	}
	probes, err := a.loadProbes()
	if err != nil {
		return nil, err
	}
	a.probes = probes
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
	return a, nil
}

// loadProbes reads the probe documents. A document that does not validate
// is logged with every problem and skipped, so one bad file does not stop
// the others; so is one that needs central-only processors.
func (a *Agent) loadProbes() ([]*loadedProbe, error) {
	var docs []*loadedProbe
	if a.opts.Demo {
		docs = append(docs, &loadedProbe{source: "built-in demo", raw: DemoProbe})
	}
	if dir := a.cfg.ProbesDir; dir != "" {
		files, err := filepath.Glob(filepath.Join(dir, "*.json"))
		if err != nil {
			return nil, fmt.Errorf("probes_dir: %w", err)
		}
		if _, err := os.Stat(dir); err != nil {
			a.log.Warn("probes_dir is not readable; no probes loaded from it", "probes_dir", dir, "err", err)
		}
		sort.Strings(files)
		for _, f := range files {
			raw, err := os.ReadFile(f)
			if err != nil {
				a.log.Error("cannot read probe file", "file", f, "err", err)
				continue
			}
			docs = append(docs, &loadedProbe{source: f, raw: raw})
		}
	}
	var out []*loadedProbe
	ids := map[string]string{}
	for _, lp := range docs {
		plan, probs := probe.CompileJSON(lp.raw)
		if len(probs) > 0 {
			a.log.Error("probe does not validate; not running it", "file", lp.source, "problems", len(probs), "detail", probs.Error())
			continue
		}
		if c := plan.CentralOnly(); len(c) > 0 {
			a.log.Error("probe needs processors that only run centrally (Apstra telemetry services); not running it on the device", "file", lp.source, "processors", c)
			continue
		}
		if other, dup := ids[plan.ID]; dup {
			a.log.Error("two probes have the same id; not running the second", "id", plan.ID, "first", other, "second", lp.source)
			continue
		}
		ids[plan.ID] = lp.source
		for _, w := range plan.Warnings {
			a.log.Warn("probe warning", "file", lp.source, "warning", w)
		}
		inst, err := probe.NewInstance(plan)
		if err != nil {
			return nil, fmt.Errorf("%s: %w", lp.source, err)
		}
		lp.inst = inst
		lp.state = probe.StateCreated
		out = append(out, lp)
		a.log.Info("probe loaded", "file", lp.source, "id", plan.ID, "label", plan.Label(), "dialect", plan.Doc.Dialect)
	}
	if len(out) == 0 {
		a.log.Warn("no probes to run; counters are read but nothing is evaluated", "probes_dir", a.cfg.ProbesDir)
	}
	return out, nil
}

// Reload re-reads the probe files, keeping the state (time series, raised
// anomalies) of every probe whose document did not change.
func (a *Agent) Reload(ctx context.Context) error {
	done := make(chan error, 1)
	select {
	case a.reload <- done:
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

func (a *Agent) doReload() error {
	fresh, err := a.loadProbes()
	if err != nil {
		return err
	}
	a.mu.Lock()
	defer a.mu.Unlock()
	old := map[string]*loadedProbe{}
	for _, lp := range a.probes {
		old[lp.inst.ID()] = lp
	}
	for i, lp := range fresh {
		if prev, ok := old[lp.inst.ID()]; ok && bytes.Equal(prev.raw, lp.raw) {
			fresh[i] = prev
			delete(old, lp.inst.ID())
		}
	}
	for _, gone := range old {
		a.emitter.Forget(gone.inst)
		a.clearAnomalies(gone)
	}
	a.probes = fresh
	a.log.Info("probes reloaded", "running", len(fresh))
	return nil
}

// clearAnomalies sends a clear for every anomaly a removed probe had
// raised, so receivers do not keep stale alerts.
func (a *Agent) clearAnomalies(lp *loadedProbe) {
	for _, an := range lp.inst.Anomalies() {
		c := *an
		c.Raised = false
		c.LastModified = time.Now()
		a.out.send(chanAlerts, a.emitter.alert(&c, c.LastModified))
	}
}

// Run collects and evaluates at every interval until ctx ends, then flushes
// the outputs for up to shutdown_timeout. It tells systemd it is ready after
// the first collection and pings the watchdog while ticks progress.
func (a *Agent) Run(ctx context.Context) error {
	defer a.collector.Close()
	ticks := a.opts.Ticks
	if ticks == nil {
		t := time.NewTicker(a.cfg.Interval.D())
		defer t.Stop()
		ticks = t.C
	}
	watchdog, _ := daemon.SdWatchdogEnabled(false)
	a.log.Info("agent running", "system_id", a.cfg.SystemID, "collector", a.cfg.Collector.Type, "interval", a.cfg.Interval.D(), "probes", len(a.probes), "output", a.out.describe())
	first := true
	var lastPing time.Time
	for {
		ok := a.step(ctx)
		if first {
			first = false
			if _, err := daemon.SdNotify(false, daemon.SdNotifyReady); err != nil {
				a.log.Debug("sd_notify failed", "err", err)
			}
		}
		if ok && watchdog > 0 && time.Since(lastPing) >= watchdog/3 {
			_, _ = daemon.SdNotify(false, daemon.SdNotifyWatchdog)
			lastPing = time.Now()
		}
		select {
		case <-ctx.Done():
			return a.shutdown()
		case done := <-a.reload:
			done <- a.doReload()
		case <-ticks:
		}
	}
}

func (a *Agent) shutdown() error {
	_, _ = daemon.SdNotify(false, daemon.SdNotifyStopping)
	ctx, cancel := context.WithTimeout(context.Background(), a.cfg.ShutdownTimeout.D())
	defer cancel()
	return a.out.close(ctx)
}

// step runs one collection and evaluation. It reports whether the tick
// progressed (the collector answered).
func (a *Agent) step(ctx context.Context) bool {
	cctx, cancel := context.WithTimeout(ctx, max(a.cfg.Interval.D(), time.Second))
	err := a.collector.Collect(cctx, &a.batch)
	cancel()
	if err != nil {
		if ctx.Err() != nil {
			return false
		}
		a.collectErrs++
		if time.Since(a.lastErrLog) > 10*time.Second {
			a.log.Error("collector failed; this tick is skipped", "collector", a.cfg.Collector.Type, "err", err, "failures", a.collectErrs)
			a.lastErrLog = time.Now()
		}
		return false
	}
	if a.batch.Time.IsZero() {
		a.batch.Time = time.Now()
	}
	a.mu.Lock()
	defer a.mu.Unlock()
	a.tick = probe.Tick{Time: a.batch.Time, Counters: &a.batch}
	for _, lp := range a.probes {
		err := lp.inst.Tick(&a.tick)
		state, msg := lp.inst.State()
		if state != lp.state {
			if err != nil {
				a.log.Error("probe failed", "id", lp.inst.ID(), "err", msg)
			} else if lp.state == probe.StateError {
				a.log.Info("probe recovered", "id", lp.inst.ID())
			}
			lp.state = state
		}
		a.emitter.ProbeMessages(lp.inst, a.sendPerfmon)
		a.emitter.Alerts(lp.inst, a.sendAlert)
	}
	a.emitter.LinkEvents(&a.batch, a.sendEvent)
	if a.opts.OnTick != nil {
		a.opts.OnTick()
	}
	return true
}

func (a *Agent) sendPerfmon(m *aos.AosMessage) { a.out.send(chanPerfmon, m) }
func (a *Agent) sendAlert(m *aos.AosMessage)   { a.out.send(chanAlerts, m) }
func (a *Agent) sendEvent(m *aos.AosMessage)   { a.out.send(chanEvents, m) }

// Probes lists the running probe instances (for APIs and tests).
func (a *Agent) Probes() []*probe.Instance {
	a.mu.Lock()
	defer a.mu.Unlock()
	out := make([]*probe.Instance, len(a.probes))
	for i, lp := range a.probes {
		out[i] = lp.inst
	}
	return out
}
