package controller

import (
	"context"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"os"
	"strings"
	"sync"
	"time"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"github.com/probe-agent/probe-agent/controlclient"
	"github.com/probe-agent/probe-agent/probe"
	pb "github.com/probe-agent/probe-agent/proto/probeagent/v1"
)

// applyTimeout bounds one ApplyProbes call.
const applyTimeout = 10 * time.Second

// minBackoff is the first wait after a failure to reach an agent.
const minBackoff = 100 * time.Millisecond

// AgentStatus is one agent's session as the controller sees it.
type AgentStatus struct {
	Name    string `json:"name"`
	Device  string `json:"device"`
	Address string `json:"address"`
	// State is connecting, streaming or down.
	State     string `json:"state"`
	LastError string `json:"last_error,omitempty"`
	// Generation is the generation the agent applied last.
	Generation uint64 `json:"generation"`
	// Session is the agent process's session id (new at every restart).
	Session   string    `json:"session"`
	Pushes    uint64    `json:"pushes"`
	Batches   uint64    `json:"batches"`
	Updates   uint64    `json:"updates"`
	Bytes     uint64    `json:"bytes"`
	Lost      uint64    `json:"lost"`
	Dropped   uint64    `json:"dropped"`
	Anomalies uint64    `json:"anomaly_events"`
	LastBatch time.Time `json:"last_batch"`
	// Rejected counts updates no central part took (unknown probe or a
	// shape the central part does not have).
	Rejected uint64 `json:"rejected"`
}

// session keeps one agent applied and streaming: push its part, open the
// stage stream, ingest; on any failure wait (capped exponential backoff
// with jitter) and start again, which is also how an agent that was down
// gets its part when it comes back.
type session struct {
	c        *Controller
	info     AgentInfo
	defaults AgentDefaults
	kickc    chan struct{}
	cancel   context.CancelFunc
	done     chan struct{}

	mu sync.Mutex
	st AgentStatus
	// lastSeq and lastDropped are the current stream's, for gaps and the
	// agent's dropped counter (cumulative per stream).
	lastSeq, lastDropped uint64
	// client is the agent's control plane while connected (the REST API
	// reads edge stages through it, api.go); results are what the last
	// successful ApplyProbes did with each probe.
	client  pb.ProbeControlClient
	results []*pb.ProbeResult
}

func newSession(c *Controller, a AgentInfo, d AgentDefaults) *session {
	return &session{c: c, info: a, defaults: d, kickc: make(chan struct{}, 1), done: make(chan struct{}),
		st: AgentStatus{Name: a.Name, Device: a.Device, Address: a.Address, State: "connecting"}}
}

func (s *session) kick() {
	select {
	case s.kickc <- struct{}{}:
	default:
	}
}

func (s *session) stop() {
	if s.cancel != nil {
		s.cancel()
	}
}

func (s *session) status() AgentStatus {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.st
}

func (s *session) setState(state string, err error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	was := s.st.State
	s.st.State = state
	if err != nil {
		s.st.LastError = err.Error()
	} else if state == "streaming" {
		s.st.LastError = ""
	}
	if was == "streaming" && state != "streaming" {
		s.c.metrics.connected.Dec()
	} else if was != "streaming" && state == "streaming" {
		s.c.metrics.connected.Inc()
	}
}

func (s *session) clientConfig() (controlclient.Config, error) {
	d := s.defaults
	cfg := controlclient.Config{CA: d.TLS.CA, Cert: d.TLS.Cert, Key: d.TLS.Key, Insecure: d.Insecure, ServerName: d.TLS.ServerName}
	if d.TokenFile != "" {
		tok, err := os.ReadFile(d.TokenFile)
		if err != nil {
			return cfg, fmt.Errorf("agents.defaults.token_file: %w", err)
		}
		cfg.Token = strings.TrimSpace(string(tok))
	}
	return cfg, nil
}

// run works until ctx ends (the caller's cancel is s.cancel).
func (s *session) run(ctx context.Context) {
	defer close(s.done)
	log := s.c.log.With("agent", s.info.Name, "device", s.info.Device, "address", s.info.Address)
	wait := minBackoff
	lastErr := ""
	for ctx.Err() == nil {
		err := s.connect(ctx)
		if ctx.Err() != nil {
			break
		}
		s.setState("down", err)
		if msg := fmt.Sprint(err); msg != lastErr {
			// Once per distinct failure, not at every retry.
			log.Warn("agent unreachable or refused; retrying", "err", err, "retry_in", wait)
			lastErr = msg
		}
		// Jitter spreads the reconnections of many agents after an outage.
		d := wait/2 + rand.N(wait/2+1)
		select {
		case <-ctx.Done():
		case <-time.After(d):
		case <-s.kickc:
		}
		wait = min(wait*2, s.defaults.ReconnectMax.D())
		if s.status().State == "streaming" {
			wait = minBackoff
		}
	}
	s.setState("down", nil)
}

// connect dials, pushes the agent's part, streams and ingests until the
// stream or a later push fails. Each attempt dials afresh, so the wait
// between attempts is ours (not gRPC's own reconnect backoff).
func (s *session) connect(ctx context.Context) error {
	cfg, err := s.clientConfig()
	if err != nil {
		return err
	}
	conn, client, err := controlclient.Dial(s.info.Address, cfg)
	if err != nil {
		return err
	}
	defer conn.Close()
	s.setClient(client)
	defer s.setClient(nil)
	s.setState("connecting", nil)
	applied, err := s.apply(ctx, client)
	if err != nil {
		return err
	}
	sctx, scancel := context.WithCancel(ctx)
	defer scancel()
	stream, err := client.StreamStages(sctx, &pb.StreamStagesRequest{})
	if err != nil {
		return fmt.Errorf("StreamStages: %w", err)
	}
	s.mu.Lock()
	s.lastSeq, s.lastDropped = 0, 0
	s.mu.Unlock()
	errc := make(chan error, 1)
	go func() {
		for {
			b, err := stream.Recv()
			if err != nil {
				errc <- err
				return
			}
			s.ingest(b)
		}
	}()
	s.setState("streaming", nil)
	s.c.log.Info("agent streaming", "agent", s.info.Name, "device", s.info.Device, "generation", applied)
	for {
		select {
		case <-ctx.Done():
			scancel()
			<-errc
			return ctx.Err()
		case err := <-errc:
			if errors.Is(err, io.EOF) {
				err = errors.New("the agent ended the stage stream")
			}
			return fmt.Errorf("stage stream: %w", err)
		case <-s.kickc:
			if gen, _ := s.c.partFor(s.info.Device); gen == applied {
				continue
			}
			if applied, err = s.apply(ctx, client); err != nil {
				scancel()
				<-errc
				return err
			}
		}
	}
}

// apply pushes the agent's part of every probe with the current
// generation. An agent that already has a newer generation (this
// controller's state was lost) makes the controller move past it.
func (s *session) apply(ctx context.Context, client pb.ProbeControlClient) (uint64, error) {
	for attempt := 0; ; attempt++ {
		gen, docs := s.c.partFor(s.info.Device)
		actx, cancel := context.WithTimeout(ctx, applyTimeout)
		resp, err := client.ApplyProbes(actx, &pb.ApplyProbesRequest{Generation: gen, Probes: docs})
		cancel()
		s.mu.Lock()
		s.st.Pushes++
		s.mu.Unlock()
		if err == nil {
			s.c.metrics.pushes.WithLabelValues("ok").Inc()
			s.mu.Lock()
			s.st.Generation = resp.GetGeneration()
			s.results = resp.GetResults()
			s.mu.Unlock()
			s.c.log.Info("part applied", "agent", s.info.Name, "generation", gen, "probes", len(docs))
			return gen, nil
		}
		s.c.metrics.pushes.WithLabelValues("error").Inc()
		if status.Code(err) == codes.FailedPrecondition && attempt == 0 {
			lctx, cancel := context.WithTimeout(ctx, applyTimeout)
			list, lerr := client.ListProbes(lctx, &pb.ListProbesRequest{})
			cancel()
			if lerr == nil && list.GetGeneration() >= gen {
				s.c.raiseGeneration(list.GetGeneration())
				continue
			}
		}
		if v := controlclient.FieldViolations(err); len(v) > 0 {
			var parts []string
			for _, fv := range v {
				parts = append(parts, fv.GetField()+": "+fv.GetDescription())
			}
			return 0, fmt.Errorf("ApplyProbes refused: %s", strings.Join(parts, "; "))
		}
		return 0, fmt.Errorf("ApplyProbes: %w", err)
	}
}

// ingest takes one batch: counters, a new session (the agent restarted:
// its tick numbers start again, so the device is dropped from every
// central part before its updates are fed), the updates into their
// probes' central parts, and the device's anomaly transitions.
func (s *session) ingest(b *pb.StageBatch) {
	now := s.c.now()
	dev := s.info.Device
	m := s.c.metrics
	s.mu.Lock()
	newSession := s.st.Session != "" && s.st.Session != b.GetSession()
	s.st.Session = b.GetSession()
	s.st.Batches++
	s.st.Updates += uint64(len(b.GetUpdates()))
	var size int
	for _, u := range b.GetUpdates() {
		size += len(u)
	}
	s.st.Bytes += uint64(size)
	if s.lastSeq != 0 && b.GetSeq() > s.lastSeq+1 {
		gap := b.GetSeq() - s.lastSeq - 1
		s.st.Lost += gap
		m.lost.WithLabelValues(dev).Add(float64(gap))
	}
	s.lastSeq = b.GetSeq()
	if d := b.GetDropped(); d > s.lastDropped {
		s.st.Dropped += d - s.lastDropped
		m.dropped.WithLabelValues(dev).Add(float64(d - s.lastDropped))
		s.lastDropped = d
	}
	s.st.Anomalies += uint64(len(b.GetAnomalies()))
	s.st.LastBatch = now
	s.mu.Unlock()
	m.batches.WithLabelValues(dev).Inc()
	m.partials.WithLabelValues(dev).Add(float64(len(b.GetUpdates())))
	m.bytes.WithLabelValues(dev).Add(float64(size))

	rejected := s.c.ingestBatch(dev, b, newSession, now)
	if rejected > 0 {
		s.mu.Lock()
		s.st.Rejected += uint64(rejected)
		s.mu.Unlock()
	}
}

// ingestBatch feeds a batch's updates and anomalies; it returns how many
// updates were refused.
func (c *Controller) ingestBatch(dev string, b *pb.StageBatch, newSession bool, now time.Time) int {
	c.cmu.Lock()
	defer c.cmu.Unlock()
	if c.fanin != nil {
		return 0 // the partials come through the broker (fanin.go)
	}
	if newSession {
		for _, ce := range c.centrals {
			ce.drop(dev)
		}
		for key, a := range c.edgeAnoms {
			if a.Device == dev {
				// The restarted agent forgot it: clear it where receivers
				// look (it is raised again if still anomalous).
				c.streamEdgeAnomalyLocked(dev, &pb.AnomalyEvent{ProbeId: a.Probe, Stage: a.Stage, ItemId: a.ItemID, Raised: false, Json: string(a.JSON)})
				c.forgetEdgeAnomalyLocked(key)
			}
		}
		c.log.Info("agent restarted: its partials start again", "device", dev, "session", b.GetSession())
	}
	rejected := 0
	for _, raw := range b.GetUpdates() {
		u, err := probe.DecodeStageUpdate(raw)
		if err != nil {
			rejected++
			c.log.Debug("undecodable stage update", "device", dev, "err", err)
			continue
		}
		if u.Device != dev {
			// An agent speaks only for itself.
			rejected++
			continue
		}
		if !c.admitUpdateLocked(u) {
			rejected++
			c.log.Debug("stage update refused", "device", dev, "probe", u.Probe, "stage", u.Stage, "items", len(u.Items), "budget", "limits.items_per_device")
			continue
		}
		ce, ok := c.centrals[u.Probe]
		if !ok {
			rejected++
			continue
		}
		if err := ce.feed(u, b.GetSession(), now, c.ingest.itemsPerStage); err != nil {
			rejected++
			var full *errStageFull
			if errors.As(err, &full) {
				c.metrics.refused.WithLabelValues("limits.items_per_stage").Inc()
			}
			c.log.Debug("stage update refused", "device", dev, "probe", u.Probe, "err", err)
		}
	}
	for _, a := range b.GetAnomalies() {
		c.streamEdgeAnomalyLocked(dev, a)
		key := a.GetProbeId() + "\x00" + a.GetItemId()
		switch {
		case !a.GetRaised():
			c.forgetEdgeAnomalyLocked(key)
		case !c.known[a.GetProbeId()]:
			// Not a probe in force (one just deleted, or made up): nothing
			// would ever clear it here.
		case !c.keepEdgeAnomalyLocked(key, Anomaly{Origin: "edge", Probe: a.GetProbeId(), Stage: a.GetStage(), ItemID: a.GetItemId(), Device: dev, JSON: []byte(a.GetJson())}):
			// Over limits.edge_anomaly_memory: streamed above, not kept;
			// a clear that no longer finds the key just does nothing.
		}
	}
	return rejected
}
