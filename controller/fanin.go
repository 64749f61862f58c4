package controller

import (
	"context"
	"fmt"
	"os"
	"slices"
	"strings"
	"time"

	"github.com/probe-agent/probe-agent/aosout"
	"github.com/probe-agent/probe-agent/bus"
	"github.com/probe-agent/probe-agent/bus/natsbus"
	"github.com/probe-agent/probe-agent/probe"
	"github.com/probe-agent/probe-agent/tlsutil"
)

// FanInNATS is fanin.nats: the JetStream server the agents publish to
// (their streaming entries of type nats) and how this controller shares
// the probes with the other central evaluators.
type FanInNATS struct {
	URLs          []string `yaml:"urls"`
	SubjectPrefix string   `yaml:"subject_prefix"`
	Stream        string   `yaml:"stream"`
	User          string   `yaml:"user"`
	PasswordFile  string   `yaml:"password_file"`
	TokenFile     string   `yaml:"token_file"`
	CredsFile     string   `yaml:"creds_file"`
	NKeyFile      string   `yaml:"nkey_file"`
	TLS           TLSFiles `yaml:"tls"`
	// Replicas of the stream and key-value buckets (1 on one server).
	Replicas int `yaml:"replicas"`
	// LeaseTTL bounds how long the probes of a controller that died stay
	// unevaluated (default 3s); it must be shorter than the staleness
	// bound (interval x staleness).
	LeaseTTL Duration `yaml:"lease_ttl"`
}

// Enabled reports whether a broker is configured.
func (f FanInConfig) Enabled() bool { return f.NATS != nil || f.Kafka != nil }

// Pushes reports whether this controller pushes the probe set.
func (f FanInConfig) Pushes() bool { return f.PushConfig == nil || *f.PushConfig }

func (c *Config) validateFanIn(bad func(key, format string, args ...any)) {
	c.validateFanInDevices(bad)
	if c.FanIn.Kafka != nil {
		c.validateFanInKafka(bad)
		return
	}
	n := c.FanIn.NATS
	if n == nil {
		if c.FanIn.PushConfig != nil || c.FanIn.MemberID != "" {
			bad("fanin", "member_id and push_config need a broker (fanin.nats)")
		}
		return
	}
	n.validateConn(c, "fanin.nats", bad)
	ttl := n.LeaseTTL.D()
	if ttl == 0 {
		ttl = natsbus.DefaultLeaseTTL
	}
	if ttl < 100*time.Millisecond {
		bad("fanin.nats.lease_ttl", "%s is too short (at least 100ms)", ttl)
	} else if ttl >= c.StaleAfter() {
		bad("fanin.nats.lease_ttl", "%s must be shorter than the staleness bound (interval x staleness = %s): a takeover must come before the partials it reads go stale", ttl, c.StaleAfter())
	}
}

// validateFanInDevices checks fanin.devices: names, once each, and a
// broker to hear from them through.
func (c *Config) validateFanInDevices(bad func(key, format string, args ...any)) {
	devs := c.FanIn.Devices
	if devs == nil {
		return
	}
	if !c.FanIn.Enabled() {
		bad("fanin.devices", "needs a broker (fanin.nats or fanin.kafka): the devices' records come through it")
	}
	if len(devs) == 0 {
		bad("fanin.devices", "is empty: list the devices (the pods below) or leave the key out for the topology's switches")
	}
	seen := map[string]bool{}
	for i, d := range devs {
		key := fmt.Sprintf("fanin.devices[%d]", i)
		switch {
		case strings.TrimSpace(d) == "":
			bad(key, "empty device name")
		case seen[d]:
			bad(key, "%q is listed twice", d)
		}
		seen[d] = true
	}
}

// validateConn checks what connecting needs (servers, credentials, TLS),
// for fanin.nats and upward.nats alike; key is the section's.
func (n *FanInNATS) validateConn(c *Config, key string, bad func(key, format string, args ...any)) {
	nc, err := n.client(c, false)
	if err == nil {
		err = nc.Validate()
	}
	if err != nil {
		bad(key, "%v", err)
	}
	if n.PasswordFile != "" && n.User == "" {
		bad(key+".password_file", "needs user")
	}
}

// client is the natsbus configuration; with secrets, files are read.
func (n *FanInNATS) client(c *Config, secrets bool) (natsbus.Config, error) {
	nc := natsbus.Config{URLs: n.URLs, Prefix: n.SubjectPrefix, Stream: n.Stream, Blueprint: c.BlueprintID, Replicas: n.Replicas,
		User: n.User, CredsFile: n.CredsFile, NKeyFile: n.NKeyFile, Name: "probe-controller " + c.BlueprintID}
	read := func(key, file string) (string, error) {
		if file == "" {
			return "", nil
		}
		if !secrets {
			return "set", nil
		}
		b, err := os.ReadFile(file)
		if err != nil {
			return "", fmt.Errorf("%s: %w", key, err)
		}
		return strings.TrimSpace(string(b)), nil
	}
	var err error
	if nc.Password, err = read("password_file", n.PasswordFile); err != nil {
		return nc, err
	}
	if nc.Token, err = read("token_file", n.TokenFile); err != nil {
		return nc, err
	}
	if secrets && (n.TLS.CA != "" || n.TLS.Cert != "") {
		if nc.TLS, err = tlsutil.Client(tlsutil.Files{CA: n.TLS.CA, Cert: n.TLS.Cert, Key: n.TLS.Key}, n.TLS.ServerName); err != nil {
			return nc, fmt.Errorf("tls: %w", err)
		}
	}
	return nc, nil
}

// parts gives the member the fabric's central parts (bus.Parts); devices
// is fanin.devices as the member started with it (like the rest of
// fanin, a reload does not change it under a running member).
type parts struct {
	c       *Controller
	devices []string
}

// Central is a fresh central part of a fabric probe and the devices it
// hears from: fanin.devices when set (a fabric level hearing from pods),
// else the topology's switches with items for the probe.
func (ps parts) Central(id string) (*probe.Instance, []string, bool) {
	c := ps.c
	c.mu.Lock()
	p, ok := c.probes[id]
	c.mu.Unlock()
	if !ok || p.split.Central == nil {
		return nil, nil, false
	}
	inst, err := probe.NewInstance(p.split.Central)
	if err != nil {
		c.log.Error("central part does not start", "id", id, "err", err)
		return nil, nil, false
	}
	devices := p.devices
	if ps.devices != nil {
		devices = slices.Clone(ps.devices)
	}
	return inst, devices, true
}

// centralProbes lists the fabric probes with a central part.
func (c *Controller) centralProbes() []string {
	c.mu.Lock()
	defer c.mu.Unlock()
	var out []string
	for _, id := range sortedKeys(c.probes) {
		if c.probes[id].split.Central != nil {
			out = append(out, id)
		}
	}
	return out
}

// fanIn is the controller's broker side while fanin is configured.
type fanIn struct {
	member *bus.Member
	input  interface{ Rebalance() } // *natsbus.Input, *kafkabus.Input
	// up publishes the member's merged partials to the level above
	// (upward.go); nil without upward.
	up    *upward
	close func()
	// gauged are the probes whose per-probe gauges this member set (by
	// fanInTick), deleted once it no longer owns them.
	gauged map[string]bool
}

// FanInMember is the member evaluating this controller's share of the
// probes (nil without fanin).
func (c *Controller) FanInMember() *bus.Member {
	c.cmu.Lock()
	defer c.cmu.Unlock()
	if c.fanin == nil {
		return nil
	}
	return c.fanin.member
}

// startFanIn connects to the broker and starts taking part in the
// share-out; the member is ticked by Run.
func (c *Controller) startFanIn(ctx context.Context) error {
	c.mu.Lock()
	cfg := c.cfg
	c.mu.Unlock()
	if cfg.FanIn.Kafka != nil {
		return c.startFanInKafka(ctx)
	}
	n := cfg.FanIn.NATS
	nc, err := n.client(&cfg, true)
	if err != nil {
		return fmt.Errorf("fanin.nats: %w", err)
	}
	nc.Log = c.log.With("fanin", "nats")
	conn, err := natsbus.Connect(nc)
	if err != nil {
		return fmt.Errorf("fanin.nats: %w", err)
	}
	in, err := natsbus.NewInput(ctx, conn, natsbus.InputConfig{Config: nc, MemberID: cfg.FanIn.MemberID, LeaseTTL: n.LeaseTTL.D(), Probes: c.centralProbes})
	if err != nil {
		conn.Close()
		return fmt.Errorf("fanin.nats: %w", err)
	}
	up, err := c.startUpward(ctx, &cfg)
	if err != nil {
		conn.Close()
		return err
	}
	m := bus.NewMember(parts{c, cfg.FanIn.Devices}, in.Checkpoint(), bus.MemberOptions{StaleAfter: cfg.StaleAfter(), MaxMissingShare: cfg.MaxMissingShare,
		OnTick: c.fanInTick, Log: c.log.With("fanin", "member"), Blueprint: cfg.BlueprintID, KeepPartials: up != nil})
	rctx, cancel := context.WithCancel(ctx)
	done := make(chan struct{})
	go func() {
		defer close(done)
		if err := in.Run(rctx, m); err != nil {
			c.log.Error("fan-in input stopped", "err", err)
		}
	}()
	c.cmu.Lock()
	c.fanin = &fanIn{member: m, input: in, up: up, close: func() {
		cancel()
		<-done
		if up != nil {
			up.close()
		}
		conn.Close()
	}}
	c.cmu.Unlock()
	c.log.Info("fan-in: reading partials from NATS JetStream", "member", in.MemberID(), "push_config", cfg.FanIn.Pushes())
	return nil
}

func (c *Controller) stopFanIn() {
	c.cmu.Lock()
	f := c.fanin
	c.fanin = nil
	c.cmu.Unlock()
	if f != nil {
		f.close()
	}
}

// fanInTick streams what a member's tick produced: the central stages'
// changed items (perfmon) and the anomaly transitions the member
// reconciled with the checkpoint (alerts), including the devices'.
func (c *Controller) fanInTick(r *bus.TickResult) {
	c.cmu.Lock()
	defer c.cmu.Unlock()
	if f := c.fanin; f != nil {
		if f.up != nil {
			f.up.send(f.member, r)
		}
		// The per-probe gauges and the skipped counter, as the
		// evaluator's own ticks set them.
		c.metrics.staleDevices.WithLabelValues(r.Probe).Set(float64(len(r.Status.Missing)))
		partial := 0.0
		if r.Status.Partial {
			partial = 1
		}
		c.metrics.partial.WithLabelValues(r.Probe).Set(partial)
		if r.Status.Skipped && !r.Status.Warming {
			// Too many devices missing (a probe just taken over, warming
			// up, is not counted: it waits by design).
			c.metrics.skipped.WithLabelValues(r.Probe).Inc()
		}
		if f.gauged == nil {
			f.gauged = map[string]bool{}
		}
		f.gauged[r.Probe] = true
	}
	s := c.stream
	if s == nil {
		return
	}
	if !r.Status.Skipped && s.senders.Has(aosout.ChannelPerfMon) {
		s.enc.ProbeBodies(r.Inst, func(body []byte) { s.senders.SendBody(aosout.ChannelPerfMon, body) })
	}
	if !s.senders.Has(aosout.ChannelAlerts) {
		return
	}
	for i := range r.Central {
		s.senders.Send(aosout.ChannelAlerts, s.enc.Alert(&r.Central[i], r.Central[i].LastModified))
	}
	for _, a := range r.Cleared {
		an, err := aosout.AnomalyFromJSON(a.JSON, r.Probe, a.Stage, a.ItemID, false)
		if err != nil {
			continue
		}
		an.LastModified = r.Status.LastTick
		s.senders.Send(aosout.ChannelAlerts, s.enc.Alert(&an, an.LastModified))
	}
	for _, e := range r.Edge {
		c.streamEdgeAnomalyLocked(e.Device, e.Event)
	}
}

// evaluate runs the central tick: the member's share with fanin, every
// central part otherwise.
func (c *Controller) evaluate(now time.Time) {
	if m := c.FanInMember(); m != nil {
		if err := m.Tick(context.Background(), now); err != nil {
			c.log.Warn("fan-in tick", "err", err)
		}
		// A probe gone to another member is that member's to gauge.
		owned := map[string]bool{}
		for _, id := range m.Owned() {
			owned[id] = true
		}
		c.cmu.Lock()
		if f := c.fanin; f != nil {
			for id := range f.gauged {
				if !owned[id] {
					c.metrics.staleDevices.DeleteLabelValues(id)
					c.metrics.partial.DeleteLabelValues(id)
					delete(f.gauged, id)
				}
			}
		}
		c.cmu.Unlock()
		return
	}
	c.EvaluateCentral(now)
}

// With fanin, the REST API's central stages, statuses and anomalies are
// those of the probes this controller's member owns (the others are
// another member's to show).

// centralIDsLocked lists the probes whose central anomalies are shown.
func (c *Controller) centralIDsLocked() []string {
	if c.fanin != nil {
		return c.fanin.member.Owned()
	}
	return sortedKeys(c.centrals)
}

func centralStatusOf(st bus.ProbeStatus) CentralStatus {
	missing := append([]string{}, st.Missing...)
	return CentralStatus{Probe: st.Probe, Devices: append([]string(nil), st.Devices...), Fresh: append([]string(nil), st.Fresh...),
		Missing: missing, Partial: st.Partial, Skipped: st.Skipped, SkippedTicks: st.SkippedTicks, Ticks: st.Ticks,
		LastTick: st.LastTick, LastError: st.LastError, Rejected: st.Rejected, UnknownDevices: st.Unknown}
}

func (c *Controller) fanInCentralLocked(id string, fn func(inst *probe.Instance, st CentralStatus)) bool {
	return c.fanin.member.Inspect(id, func(inst *probe.Instance, st bus.ProbeStatus) { fn(inst, centralStatusOf(st)) })
}

func (c *Controller) fanInStatusesLocked() []CentralStatus {
	var out []CentralStatus
	for _, id := range c.fanin.member.Owned() {
		c.fanin.member.Inspect(id, func(_ *probe.Instance, st bus.ProbeStatus) { out = append(out, centralStatusOf(st)) })
	}
	return out
}

// fanInAnomaliesLocked lists an owned probe's active anomalies: its
// central part's, and those its devices raised, which reach the member
// inside their records (bus.EdgeTransition) and stay in its raised set
// (and checkpoint) until a device's record clears them.
func (c *Controller) fanInAnomaliesLocked(id string) []Anomaly {
	var out []Anomaly
	c.fanin.member.Inspect(id, func(inst *probe.Instance, _ bus.ProbeStatus) {
		for _, a := range inst.Anomalies() {
			js, _ := a.MarshalJSON()
			out = append(out, Anomaly{Origin: "central", Probe: id, Stage: a.Stage, ItemID: a.ItemID, JSON: js})
		}
	})
	raised, _ := c.fanin.member.Raised(id)
	for _, key := range raised.Keys() {
		if a := raised[key]; a.Origin == "edge" {
			out = append(out, Anomaly{Origin: "edge", Probe: id, Stage: a.Stage, ItemID: a.ItemID, Device: a.Device, JSON: a.JSON})
		}
	}
	return out
}
