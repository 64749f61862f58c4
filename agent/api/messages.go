package api

import (
	"fmt"
	"sync"
	"time"

	"github.com/probe-agent/probe-agent/agent"
	"github.com/probe-agent/probe-agent/probe"
)

// MessagesPerProbe bounds each probe's message log; older messages are
// discarded first.
const MessagesPerProbe = 256

// watchBuffer is the status-event buffer of the message log's watch. The
// follower only appends to memory, so it keeps up; an overflow loses
// messages, never blocks the tick loop.
const watchBuffer = 1024

// Message is one entry of GET .../probes/{id}/messages: a state change, an
// error, a change of the number of raised anomalies, or a change made
// through the REST API.
type Message struct {
	Timestamp    time.Time `json:"timestamp"`
	Level        string    `json:"level"` // info, warning or error
	Message      string    `json:"message"`
	State        string    `json:"state,omitempty"`
	AnomalyCount *int      `json:"anomaly_count,omitempty"`
}

// messageLog keeps a bounded ring of messages per probe, built from the
// Manager's status events and from the API's own changes.
type messageLog struct {
	mu    sync.Mutex
	limit int
	rings map[string]*ring
	now   func() time.Time
}

type ring struct {
	msgs []Message // oldest first, at most limit
	last agent.StatusEvent
	seen bool
}

func newMessageLog(limit int) *messageLog {
	return &messageLog{limit: limit, rings: map[string]*ring{}, now: func() time.Time { return time.Now().UTC() }}
}

// follow turns status events into messages until events is closed.
func (l *messageLog) follow(events <-chan agent.StatusEvent) {
	for ev := range events {
		l.event(ev)
	}
}

// event records what changed since the probe's previous event. Messages
// carry the time they were recorded, so the log stays in order whatever
// clock the collector's batches use.
func (l *messageLog) event(ev agent.StatusEvent) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if ev.Removed {
		l.dropBefore(ev.ID, ev.Time)
		return
	}
	r := l.ring(ev.ID)
	prev, seen := r.last, r.seen
	r.last, r.seen = ev, true
	now := l.now()
	count := ev.AnomalyCount
	add := func(level, text string) {
		l.add(r, Message{Timestamp: now, Level: level, Message: text, State: string(ev.State), AnomalyCount: &count})
	}
	switch {
	case !seen:
		if ev.State == probe.StateError {
			add("error", "probe in error state: "+ev.LastError)
		} else {
			add("info", "probe is "+string(ev.State))
		}
	case ev.State == probe.StateError && (prev.State != probe.StateError || ev.LastError != prev.LastError):
		add("error", ev.LastError)
	case ev.State != prev.State:
		add("info", fmt.Sprintf("state %s -> %s", prev.State, ev.State))
	}
	if seen && ev.AnomalyCount != prev.AnomalyCount {
		level := "info"
		if ev.AnomalyCount > prev.AnomalyCount {
			level = "warning"
		}
		add(level, fmt.Sprintf("raised anomalies: %d -> %d", prev.AnomalyCount, ev.AnomalyCount))
	} else if !seen && ev.AnomalyCount > 0 {
		add("warning", fmt.Sprintf("raised anomalies: %d", ev.AnomalyCount))
	}
}

// note records a change made through the API.
func (l *messageLog) note(id, level, text string) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.add(l.ring(id), Message{Timestamp: l.now(), Level: level, Message: text})
}

// forget drops a deleted probe's messages.
func (l *messageLog) forget(id string) {
	l.mu.Lock()
	defer l.mu.Unlock()
	delete(l.rings, id)
}

// dropBefore forgets a removed probe's messages up to its removal; a probe
// created again with the same id right after keeps its new messages.
func (l *messageLog) dropBefore(id string, t time.Time) {
	r := l.rings[id]
	if r == nil {
		return
	}
	keep := r.msgs[:0]
	for _, m := range r.msgs {
		if m.Timestamp.After(t) {
			keep = append(keep, m)
		}
	}
	if len(keep) == 0 {
		delete(l.rings, id)
		return
	}
	r.msgs = keep
	r.seen = false
}

// list returns a probe's messages, oldest first.
func (l *messageLog) list(id string) []Message {
	l.mu.Lock()
	defer l.mu.Unlock()
	out := []Message{}
	if r := l.rings[id]; r != nil {
		out = append(out, r.msgs...)
	}
	return out
}

func (l *messageLog) ring(id string) *ring {
	r := l.rings[id]
	if r == nil {
		r = &ring{}
		l.rings[id] = r
	}
	return r
}

func (l *messageLog) add(r *ring, m Message) {
	if len(r.msgs) >= l.limit {
		copy(r.msgs, r.msgs[1:])
		r.msgs = r.msgs[:len(r.msgs)-1]
	}
	r.msgs = append(r.msgs, m)
}
