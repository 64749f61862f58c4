package controller

import (
	"context"
	"fmt"
	"os"
	"time"

	"github.com/probe-agent/probe-agent/aosout"
	"github.com/probe-agent/probe-agent/proto/aos"
	pb "github.com/probe-agent/probe-agent/proto/probeagent/v1"
	"github.com/probe-agent/probe-agent/tlsutil"
)

// streamQueue is each receiver's queue, in messages (the agent's default
// order of magnitude: a minute of central results at a few hundred items).
const streamQueue = 10000

// streamOut sends the fabric's stages with enable_streaming and every
// anomaly transition (central and edge) to the streaming receivers in the
// Apstra format, with the agent's encoder and senders (aosout). It is used
// under the controller's cmu, like the central evaluators it reads.
type streamOut struct {
	enc     *aosout.Encoder
	senders *aosout.Senders
}

// streamEntries turns the configuration's entries into aosout's.
func streamEntries(cfg Config) ([]aosout.Entry, error) {
	out := make([]aosout.Entry, len(cfg.Streaming))
	for i, s := range cfg.Streaming {
		out[i] = aosout.Entry{Type: s.Type, Address: s.Address, Sequenced: s.Sequenced, ReconnectMax: s.ReconnectMax.D()}
		if t := s.TLS; t.CA != "" || t.Cert != "" || t.Key != "" || t.ServerName != "" {
			tc, err := tlsutil.Client(tlsutil.Files{CA: t.CA, Cert: t.Cert, Key: t.Key}, t.ServerName)
			if err != nil {
				return nil, fmt.Errorf("streaming[%d].tls: %w", i, err)
			}
			out[i].TLS = tc
		}
	}
	return out, nil
}

// newStreamOut starts the senders of cfg's streaming entries; with none it
// returns nil (nothing is encoded).
func newStreamOut(c *Controller, cfg Config) (*streamOut, error) {
	if len(cfg.Streaming) == 0 {
		return nil, nil
	}
	entries, err := streamEntries(cfg)
	if err != nil {
		return nil, err
	}
	s, err := aosout.NewSenders(entries, streamQueue, c.log)
	if err != nil {
		return nil, err
	}
	host, _ := os.Hostname()
	return &streamOut{
		enc:     aosout.NewEncoder(aosout.Identity{SystemID: host, Hostname: host, Role: "controller", BlueprintID: cfg.BlueprintID}),
		senders: s,
	}, nil
}

// startStreaming sets up the receivers at start.
func (c *Controller) startStreaming(cfg Config) error {
	out, err := newStreamOut(c, cfg)
	if err != nil {
		return err
	}
	c.cmu.Lock()
	c.stream = out
	c.cmu.Unlock()
	c.log.Info("streaming", "receivers", describeStream(out))
	return nil
}

// restartStreaming replaces the receivers after a reload; the old senders
// flush in the background. Unchanged entries keep their senders (and
// sequence numbers).
func (c *Controller) restartStreaming(old, cfg Config) error {
	if streamingEqual(old.Streaming, cfg.Streaming) && old.BlueprintID == cfg.BlueprintID {
		return nil
	}
	out, err := newStreamOut(c, cfg)
	if err != nil {
		return err
	}
	c.cmu.Lock()
	prev := c.stream
	c.stream = out
	c.cmu.Unlock()
	if prev != nil {
		go func() { _ = prev.senders.Close(context.Background()) }()
	}
	c.log.Info("streaming reconfigured", "receivers", describeStream(out))
	return nil
}

func streamingEqual(a, b []StreamingConfig) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}

func describeStream(s *streamOut) string {
	if s == nil {
		return "none"
	}
	return s.senders.Describe()
}

// stopStreaming flushes the receivers' queues for up to timeout.
func (c *Controller) stopStreaming(timeout time.Duration) {
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	c.cmu.Lock()
	out := c.stream
	c.stream = nil
	c.cmu.Unlock()
	if out == nil {
		return
	}
	if err := out.senders.Close(ctx); err != nil {
		c.log.Warn("streaming: unsent messages at stop", "err", err)
	}
}

// streamCentralLocked sends what the last evaluated central tick of ce
// produced: changed items of its streaming stages (perfmon) and its anomaly
// transitions (alerts). The caller holds cmu.
func (c *Controller) streamCentralLocked(ce *central) {
	s := c.stream
	if s == nil {
		return
	}
	if s.senders.Has(aosout.ChannelPerfMon) {
		// Straight from the stage columns into the queues, as the agent does.
		s.enc.ProbeBodies(ce.inst, func(body []byte) { s.senders.SendBody(aosout.ChannelPerfMon, body) })
	}
	if s.senders.Has(aosout.ChannelAlerts) {
		s.enc.Alerts(ce.inst, s.sendAlert)
	}
}

// streamEdgeAnomalyLocked sends an anomaly transition a device reported
// (alerts), stamped with the device as origin_hostname. The caller holds
// cmu.
func (c *Controller) streamEdgeAnomalyLocked(dev string, a *pb.AnomalyEvent) {
	s := c.stream
	if s == nil || !s.senders.Has(aosout.ChannelAlerts) {
		return
	}
	an, err := aosout.AnomalyFromJSON([]byte(a.GetJson()), a.GetProbeId(), a.GetStage(), a.GetItemId(), a.GetRaised())
	if err != nil {
		c.log.Debug("edge anomaly not streamed", "device", dev, "err", err)
		return
	}
	if ce, ok := c.centrals[an.ProbeID]; ok && an.ProbeLabel == "" {
		// The seed's rendering has no label; the central part has it.
		an.ProbeLabel = ce.inst.Plan.Label()
	}
	m := s.enc.Alert(&an, an.LastModified)
	m.OriginHostname = &dev
	s.senders.Send(aosout.ChannelAlerts, m)
}

func (s *streamOut) sendAlert(m *aos.AosMessage) { s.senders.Send(aosout.ChannelAlerts, m) }
