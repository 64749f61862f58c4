package agent

import (
	"sync"
	"time"

	"github.com/probe-agent/probe-agent/agent/stream"
	"github.com/probe-agent/probe-agent/probe"
)

// TickDurationBuckets are the upper bounds, in seconds, of the tick
// duration histogram in Stats.
var TickDurationBuckets = []float64{0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10}

// Stats is a snapshot of the run loop's counters, for metrics and
// readiness. The loop only adds to plain counters; exporters read
// snapshots when they are scraped.
type Stats struct {
	// Ticks counts evaluated ticks (the collector answered).
	Ticks uint64
	// CollectorErrors counts ticks skipped because the collector failed.
	CollectorErrors uint64
	// NoDataTicks counts ticks skipped because the collector had no data
	// (collectors.ErrNoData: a gNMI stream down).
	NoDataTicks uint64
	// NoData is the collector's reason while it has no data, "" when it
	// has; NoDataSince is when that started.
	NoData      string
	NoDataSince time.Time
	// AnomaliesRaised counts anomaly raises (not clears) over all probes.
	AnomaliesRaised uint64
	// LastTick is the wall-clock time the last evaluated tick ended; zero
	// before the first.
	LastTick time.Time
	// LastProgress is LastTick, or later when the collector last said its
	// next sample was not due (a replay between recorded ticks).
	LastProgress time.Time
	// LastTickDuration is how long the last evaluated tick took, from the
	// start of collection to the end of evaluation and emission.
	LastTickDuration time.Duration
	// TickDurationCounts[i] counts ticks that took at most
	// TickDurationBuckets[i] (not cumulative); the last element counts the
	// longer ones. TickDurationSum is the total in seconds.
	TickDurationCounts []uint64
	TickDurationSum    float64
	// Interval is the configured tick interval.
	Interval time.Duration
	// Streams are the streaming senders' counters, one per configured
	// receiver; empty when messages are printed.
	Streams []StreamStats
}

// StreamStats are one streaming receiver's counters.
type StreamStats struct {
	Channel  string
	Receiver string // host:port
	stream.Stats
}

// runStats is what step records; guarded by its mutex because the API
// reads it from other goroutines.
type runStats struct {
	mu              sync.Mutex
	ticks           uint64
	collectorErrors uint64
	noDataTicks     uint64
	noDataReason    string
	noDataSince     time.Time
	noDataRun       uint64 // ticks skipped in the current run without data
	raised          uint64
	lastTick        time.Time
	lastNotDue      time.Time
	lastDuration    time.Duration
	counts          []uint64 // per bucket of TickDurationBuckets, plus +Inf
	sum             float64
}

func (s *runStats) collectorError() {
	s.mu.Lock()
	s.collectorErrors++
	s.mu.Unlock()
}

// notDue records a tick skipped because the source's next sample was not
// due: progress for readiness, not an evaluated tick.
func (s *runStats) notDue() {
	s.mu.Lock()
	s.lastNotDue = time.Now()
	s.mu.Unlock()
}

// noData records a tick skipped for want of data and reports whether it
// is the first of a run (so the caller logs the change once).
func (s *runStats) noData(reason string) (first bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.noDataTicks++
	first = s.noDataRun == 0
	if first {
		s.noDataSince = time.Now()
	}
	s.noDataRun++
	s.noDataReason = reason
	return first
}

// dataBack ends a run without data; it returns how many ticks it skipped
// and since when (0 when there was none).
func (s *runStats) dataBack() (skipped uint64, since time.Time) {
	s.mu.Lock()
	defer s.mu.Unlock()
	skipped, since = s.noDataRun, s.noDataSince
	s.noDataRun, s.noDataReason, s.noDataSince = 0, "", time.Time{}
	return skipped, since
}

// probeTicked counts the anomalies inst raised in its last tick, when that
// tick evaluated (seqBefore is inst.Seq() before Tick: a disabled probe
// keeps the transitions of its last evaluation).
func (s *runStats) probeTicked(inst *probe.Instance, seqBefore uint64) {
	if inst.Seq() == seqBefore {
		return
	}
	n := 0
	for _, t := range inst.Transitions() {
		if t.Raised {
			n++
		}
	}
	if n > 0 {
		s.mu.Lock()
		s.raised += uint64(n)
		s.mu.Unlock()
	}
}

func (s *runStats) tickDone(start time.Time) {
	now := time.Now()
	d := now.Sub(start)
	sec := d.Seconds()
	i := 0
	for i < len(TickDurationBuckets) && sec > TickDurationBuckets[i] {
		i++
	}
	s.mu.Lock()
	if s.counts == nil {
		s.counts = make([]uint64, len(TickDurationBuckets)+1)
	}
	s.ticks++
	s.lastTick, s.lastDuration = now, d
	s.counts[i]++
	s.sum += sec
	s.mu.Unlock()
}

// Stats returns a snapshot of the run loop's counters and the streaming
// senders' counters.
func (a *Agent) Stats() Stats {
	s := &a.stats
	s.mu.Lock()
	out := Stats{
		Ticks: s.ticks, CollectorErrors: s.collectorErrors, AnomaliesRaised: s.raised,
		NoDataTicks: s.noDataTicks, NoData: s.noDataReason, NoDataSince: s.noDataSince,
		LastProgress: s.lastTick,
		LastTick:     s.lastTick, LastTickDuration: s.lastDuration,
		TickDurationCounts: make([]uint64, len(TickDurationBuckets)+1), TickDurationSum: s.sum,
	}
	if s.lastNotDue.After(out.LastProgress) && !s.lastTick.IsZero() {
		out.LastProgress = s.lastNotDue
	}
	copy(out.TickDurationCounts, s.counts)
	s.mu.Unlock()
	a.swapMu.RLock()
	defer a.swapMu.RUnlock()
	out.Interval = a.cfg.Interval.D()
	if so, ok := a.out.(*senders); ok {
		for _, st := range so.Streams() {
			out.Streams = append(out.Streams, StreamStats{Channel: st.Channel, Receiver: st.Receiver, Stats: st.Sender.Stats()})
		}
	}
	if p, ok := a.out.(*printer); ok {
		out.Streams = append(out.Streams, p.stats())
	}
	return out
}

// BlueprintID is the blueprint the agent currently reports for (it can
// change on a configuration reload).
func (a *Agent) BlueprintID() string {
	a.swapMu.RLock()
	defer a.swapMu.RUnlock()
	return a.cfg.BlueprintID
}
