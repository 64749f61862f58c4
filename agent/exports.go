package agent

import (
	"crypto/rand"
	"encoding/hex"
	"sync"
	"sync/atomic"
	"time"

	"github.com/probe-agent/probe-agent/probe"
)

// Exports gathers, after each evaluation, what this device's probes send to
// a controller: the stages listed in the "export" field of a part the
// controller pushed (the stages that cross the edge/central cut, encoded
// losslessly as probe.StageUpdate) and the anomalies those probes raised and
// cleared. Each evaluation becomes one ExportBatch handed to every
// subscribed stream (the control plane's StreamStages). A stream that falls
// behind loses its oldest batches, counted, rather than slowing the tick:
// partial states are the latest state, so the next batch supersedes a lost
// one.
type Exports struct {
	session string

	mu      sync.Mutex
	pending ExportBatch
	upd     probe.StageUpdate // reused between stages
	subs    map[*ExportStream]struct{}
	seq     uint64
}

// ExportBatch is one evaluation's exports.
type ExportBatch struct {
	Device, Session string
	// Seq numbers the batches of this agent process from 1.
	Seq        uint64
	Time       time.Time
	Generation uint64
	// Updates are StageUpdates in their binary encoding.
	Updates   [][]byte
	Anomalies []ExportedAnomaly
}

// ExportedAnomaly is one anomaly transition of an exporting probe.
type ExportedAnomaly struct {
	ProbeID, Stage, ItemID string
	Raised                 bool
	JSON                   []byte
}

// ExportStream is one subscriber's view of the batches.
type ExportStream struct {
	C       <-chan *ExportBatch
	c       chan *ExportBatch
	dropped atomic.Uint64
}

// Dropped is the number of batches this stream lost to a slow reader.
func (s *ExportStream) Dropped() uint64 { return s.dropped.Load() }

// NewExports makes an exporter with a fresh session id, which tells a
// controller that tick numbers started again.
func NewExports() *Exports {
	var b [8]byte
	_, _ = rand.Read(b[:])
	return &Exports{session: hex.EncodeToString(b[:]), subs: map[*ExportStream]struct{}{}}
}

// Session is this process's session id.
func (e *Exports) Session() string { return e.session }

// Subscribe starts a stream holding up to buffer batches.
func (e *Exports) Subscribe(buffer int) (*ExportStream, func()) {
	c := make(chan *ExportBatch, max(buffer, 1))
	s := &ExportStream{C: c, c: c}
	e.mu.Lock()
	e.subs[s] = struct{}{}
	e.mu.Unlock()
	return s, func() {
		e.mu.Lock()
		delete(e.subs, s)
		e.mu.Unlock()
	}
}

// Subscribers is the number of streams.
func (e *Exports) Subscribers() int {
	e.mu.Lock()
	defer e.mu.Unlock()
	return len(e.subs)
}

// Add records inst's exports after its evaluation, for device evaluating
// the probe set of generation: nothing for a probe that no controller
// pushed. Nothing is encoded while no stream listens.
func (e *Exports) Add(inst *probe.Instance, device string, generation uint64) {
	export := inst.Plan.Doc.Export
	if export == nil {
		return
	}
	e.mu.Lock()
	defer e.mu.Unlock()
	if len(e.subs) == 0 {
		return
	}
	for _, name := range export {
		st, ok := inst.Stage(name)
		if !ok {
			continue
		}
		probe.UpdateOf(&e.upd, st)
		e.upd.Probe, e.upd.Device, e.upd.Generation = inst.ID(), device, generation
		e.pending.Device, e.pending.Generation = device, generation
		e.pending.Updates = append(e.pending.Updates, e.upd.AppendBinary(nil))
	}
	for _, t := range inst.Transitions() {
		js, _ := t.MarshalJSON()
		e.pending.Anomalies = append(e.pending.Anomalies, ExportedAnomaly{ProbeID: inst.ID(), Stage: t.Stage, ItemID: t.ItemID, Raised: t.Raised, JSON: js})
		e.pending.Device, e.pending.Generation = device, generation
	}
}

// Flush hands the evaluation's batch to every stream and starts the next
// batch. An evaluation with nothing to export sends nothing.
func (e *Exports) Flush(at time.Time) {
	e.mu.Lock()
	defer e.mu.Unlock()
	b := e.pending
	e.pending = ExportBatch{}
	if len(e.subs) == 0 || (len(b.Updates) == 0 && len(b.Anomalies) == 0) {
		return
	}
	e.seq++
	b.Session, b.Seq, b.Time = e.session, e.seq, at
	for s := range e.subs {
		batch := b
		select {
		case s.c <- &batch:
		default:
			// Full: drop the oldest so the stream carries the latest state.
			select {
			case <-s.c:
				s.dropped.Add(1)
			default:
			}
			select {
			case s.c <- &batch:
			default:
				s.dropped.Add(1)
			}
		}
	}
}
