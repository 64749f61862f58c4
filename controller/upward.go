package controller

import (
	"context"
	"fmt"
	"log/slog"
	"strings"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/probe-agent/probe-agent/bus"
	"github.com/probe-agent/probe-agent/bus/kafkabus"
	"github.com/probe-agent/probe-agent/bus/natsbus"
)

// UpwardConfig is upward: a pod-level controller speaking for its pod to
// a fabric-level one (docs/controller.md, Hierarchy). After every
// evaluated tick of a probe its fan-in member owns, it publishes one
// record merging its devices' partials (bus.Member.Upward) as device As
// of blueprint Blueprint, through the agents' publisher (a bus.Publisher
// on a natsbus or kafkabus sink, same subjects and keys), so that the
// fabric level's fan-in members merge the pods as if they were devices.
// Merging partial states is associative: the fabric level's result is the
// one a single controller of every device would compute.
type UpwardConfig struct {
	// Blueprint is the fabric level's blueprint_id (required; not this
	// controller's own).
	Blueprint string `yaml:"blueprint"`
	// As is the device this controller speaks as, one of the fabric
	// level's fanin.devices (default: this controller's blueprint_id).
	As string `yaml:"as"`
	// NATS and Kafka say where the records go; with neither, they go
	// through fanin.nats' server, stream and credentials. A Kafka upward
	// is always explicit, with a topic of its own: on one topic, levels
	// left in one consumer group (the default group) would take each
	// other's partitions and skip each other's records.
	NATS  *FanInNATS  `yaml:"nats"`
	Kafka *FanInKafka `yaml:"kafka"`
	// Queue bounds the records waiting for the broker: past either bound
	// the oldest are dropped and counted (a pod's partial is its latest
	// state, so the next one supersedes a lost one).
	Queue UpwardQueue `yaml:"queue"`
}

// UpwardQueue bounds the upward publisher's queue (0: 10,000 records,
// 64 MiB).
type UpwardQueue struct {
	Messages int `yaml:"messages"`
	Bytes    int `yaml:"bytes"`
}

// device is the name this controller speaks as.
func (u *UpwardConfig) device(c *Config) string {
	if u.As != "" {
		return u.As
	}
	return c.BlueprintID
}

// validateUpward checks upward; bad names the key. Called from validate.
func (c *Config) validateUpward(bad func(key, format string, args ...any)) {
	u := c.Upward
	if u == nil {
		return
	}
	if !c.FanIn.Enabled() {
		bad("upward", "needs fanin.nats or fanin.kafka: what goes upward is the fan-in member's merge of this controller's devices")
	}
	switch {
	case u.Blueprint == "":
		bad("upward.blueprint", "must name the fabric level's blueprint_id")
	case u.Blueprint == c.BlueprintID:
		bad("upward.blueprint", "%q is this controller's own blueprint_id: the level above needs its own, or this controller's member would read its own upward records as a device's", u.Blueprint)
	}
	if strings.TrimSpace(u.device(c)) == "" {
		bad("upward.as", "must not be empty")
	}
	if u.Queue.Messages < 0 {
		bad("upward.queue.messages", "must be 0 (the default, 10000) or more, got %d", u.Queue.Messages)
	}
	if u.Queue.Bytes != 0 && u.Queue.Bytes < 1<<20 {
		bad("upward.queue.bytes", "must be 0 (the default, 64 MiB) or at least 1048576 (1 MiB), got %d", u.Queue.Bytes)
	}
	switch {
	case u.NATS != nil && u.Kafka != nil:
		bad("upward", "set one broker: nats or kafka")
	case u.NATS != nil:
		n := u.NATS
		n.validateConn(c, "upward.nats", bad)
		if n.LeaseTTL != 0 {
			bad("upward.nats.lease_ttl", "is a member's setting (fanin.nats); the upward publisher holds no lease")
		}
	case u.Kafka != nil:
		k := u.Kafka
		k.validateConn(c, "upward.kafka", bad)
		if k.Group != "" || k.Partitions != 0 || k.Replication != 0 || k.CreateTopics != nil || k.SessionTimeout != 0 {
			bad("upward.kafka", "group, partitions, replication, create_topics and session_timeout are a member's settings (the fabric level's fanin.kafka); the upward producer only writes")
		}
		if f := c.FanIn.Kafka; f != nil && topicOf(k) == topicOf(f) && sameBrokers(k.Brokers, f.Brokers) {
			bad("upward.kafka.topic", "%q is fanin.kafka's topic on the same brokers: the level above needs a topic of its own (members of both levels left in one consumer group would take each other's partitions and skip each other's records)", topicOf(k))
		}
	default:
		if c.FanIn.Kafka != nil {
			bad("upward", "with fanin.kafka, set upward.kafka with the fabric level's brokers and its own topic")
		}
	}
}

func topicOf(k *FanInKafka) string {
	if k.Topic == "" {
		return kafkabus.DefaultPrefix
	}
	return k.Topic
}

func sameBrokers(a, b []string) bool {
	seen := map[string]bool{}
	for _, x := range a {
		seen[x] = true
	}
	for _, x := range b {
		if seen[x] {
			return true
		}
	}
	return false
}

// upward is the running upward publisher.
type upward struct {
	pub       *bus.Publisher
	as        string
	blueprint string
	log       *slog.Logger
	// notSent counts ticks whose record was not published, by reason.
	notSent *prometheus.CounterVec
	unreg   []prometheus.Collector
	reg     *prometheus.Registry

	mu       sync.Mutex
	lastErrs map[string]string // per probe, to log a new error once
}

// startUpward makes the publisher (nil, nil without upward).
func (c *Controller) startUpward(ctx context.Context, cfg *Config) (*upward, error) {
	u := cfg.Upward
	if u == nil {
		return nil, nil
	}
	q := bus.QueueOptions{Messages: u.Queue.Messages, Bytes: u.Queue.Bytes}
	log := c.log.With("upward", u.Blueprint)
	var sink bus.Sink
	var where string
	switch {
	case u.Kafka != nil:
		kc, err := u.Kafka.client(cfg, true)
		if err != nil {
			return nil, fmt.Errorf("upward.kafka: %w", err)
		}
		kc.Blueprint, kc.Log = u.Blueprint, log
		kc.ClientID = "probe-controller-" + cfg.BlueprintID + "-upward"
		s, err := kafkabus.NewSink(kc)
		if err != nil {
			return nil, fmt.Errorf("upward.kafka: %w", err)
		}
		sink, where = s, fmt.Sprintf("kafka %v topic %s", kc.Brokers, topicOf(u.Kafka))
	default:
		n, key := u.NATS, "upward.nats"
		if n == nil {
			n, key = cfg.FanIn.NATS, "upward (fanin.nats)"
		}
		nc, err := n.client(cfg, true)
		if err != nil {
			return nil, fmt.Errorf("%s: %w", key, err)
		}
		nc.Blueprint, nc.Log = u.Blueprint, log
		nc.Name = "probe-controller " + cfg.BlueprintID + " upward"
		// Its own connection even on fanin's server: the member's
		// consumers and the publisher's acknowledgements do not queue
		// behind each other.
		s, err := natsbus.NewSink(ctx, nc)
		if err != nil {
			return nil, fmt.Errorf("%s: %w", key, err)
		}
		sink, where = s, fmt.Sprintf("nats %v", n.URLs)
	}
	up := &upward{pub: bus.NewPublisher(sink, q, log), as: u.device(cfg), blueprint: u.Blueprint, log: log,
		reg: c.metrics.reg, lastErrs: map[string]string{}}
	const ns = "probe_controller"
	stat := func(f func(bus.PublisherStats) uint64) func() float64 {
		return func() float64 { return float64(f(up.pub.Stats())) }
	}
	up.notSent = prometheus.NewCounterVec(prometheus.CounterOpts{Namespace: ns, Name: "upward_ticks_not_sent_total",
		Help: "Owned probes' ticks that sent nothing upward, by reason (skipped: the tick was skipped or warming; error: no record could be made)."}, []string{"reason"})
	up.unreg = []prometheus.Collector{
		prometheus.NewCounterFunc(prometheus.CounterOpts{Namespace: ns, Name: "upward_records_published_total",
			Help: "Records sent upward that the broker acknowledged."}, stat(func(s bus.PublisherStats) uint64 { return s.Sent })),
		prometheus.NewCounterFunc(prometheus.CounterOpts{Namespace: ns, Name: "upward_records_dropped_total",
			Help: "Records sent upward dropped before the broker: the queue was full, or unsent at stop."}, stat(func(s bus.PublisherStats) uint64 { return s.Dropped })),
		prometheus.NewCounterFunc(prometheus.CounterOpts{Namespace: ns, Name: "upward_publish_failures_total",
			Help: "Failed attempts to send the upward queue to the broker (retried with the same records)."}, stat(func(s bus.PublisherStats) uint64 { return s.Failures })),
		prometheus.NewGaugeFunc(prometheus.GaugeOpts{Namespace: ns, Name: "upward_records_queued",
			Help: "Records waiting to be sent upward."}, stat(func(s bus.PublisherStats) uint64 { return s.Queued })),
		up.notSent,
	}
	for _, col := range up.unreg {
		if err := c.metrics.reg.Register(col); err != nil {
			up.close()
			return nil, fmt.Errorf("upward: metrics: %w", err)
		}
	}
	c.log.Info("upward: publishing this controller's merged partials to the level above", "as", up.as, "blueprint", up.blueprint, "to", where)
	return up, nil
}

// send publishes the upward record of one owned probe's tick. A skipped
// (or warming) tick sends nothing: the level above then sees this pod go
// stale, as a single level sees a device whose partials stop, rather than
// a merge of the few devices that were heard from.
func (up *upward) send(m *bus.Member, r *bus.TickResult) {
	if r.Status.Skipped {
		up.notSent.WithLabelValues("skipped").Inc()
		return
	}
	rec, err := m.Upward(r.Probe, up.as, r.Status.LastTick)
	if err == nil {
		rec.Blueprint = up.blueprint
		err = up.pub.Publish(rec)
	}
	up.mu.Lock()
	defer up.mu.Unlock()
	if err != nil {
		up.notSent.WithLabelValues("error").Inc()
		if up.lastErrs[r.Probe] != err.Error() {
			up.lastErrs[r.Probe] = err.Error()
			up.log.Warn("upward: tick not sent", "probe", r.Probe, "err", err)
		}
		return
	}
	delete(up.lastErrs, r.Probe)
}

// close flushes what is queued (for up to 2 s) and unregisters the
// metrics.
func (up *upward) close() {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	if err := up.pub.Close(ctx); err != nil {
		up.log.Warn("upward: publisher closed", "err", err)
	}
	for _, col := range up.unreg {
		up.reg.Unregister(col)
	}
}

// UpwardStats are the upward publisher's counters (false without upward
// or before Run started it).
func (c *Controller) UpwardStats() (bus.PublisherStats, bool) {
	c.cmu.Lock()
	defer c.cmu.Unlock()
	if c.fanin == nil || c.fanin.up == nil {
		return bus.PublisherStats{}, false
	}
	return c.fanin.up.pub.Stats(), true
}
