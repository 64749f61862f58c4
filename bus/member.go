package bus

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"sort"
	"sync"
	"time"

	"github.com/probe-agent/probe-agent/collectors"
	"github.com/probe-agent/probe-agent/probe"
	pb "github.com/probe-agent/probe-agent/proto/probeagent/v1"
	"google.golang.org/protobuf/types/known/timestamppb"
)

// Parts builds the central part of a probe for a member (the controller
// compiles probes on its fabric; a test may partition a plan itself).
type Parts interface {
	// Central returns a fresh central Instance of probe id and the
	// devices a whole result hears from; ok is false for a probe that is
	// unknown or runs entirely on the devices.
	Central(id string) (inst *probe.Instance, devices []string, ok bool)
}

// Acker acknowledges one record to its broker: Ack once the tick that
// merged it (or that made it useless) is finished, Nak to have it given
// to whoever owns the probe next. Either may be called once.
type Acker interface {
	Ack() error
	Nak() error
}

// MemberOptions configure a Member.
type MemberOptions struct {
	// StaleAfter drops a device whose latest record is older from the
	// merge; a probe just taken over also waits up to StaleAfter to hear
	// from every device before its first evaluated tick.
	StaleAfter time.Duration
	// MaxMissingShare skips a tick (nothing raised or cleared) when more
	// than this share of the devices is missing.
	MaxMissingShare float64
	// OnTick is called after every tick of an owned probe, before the
	// checkpoint is written and the records acknowledged.
	OnTick func(*TickResult)
	// OnRecord is called after each record is taken (tests wait on it).
	OnRecord func(probeID, device string, seq uint64)
	// KeepPartials keeps each device's latest decoded updates, which
	// Upward merges for a higher-level controller.
	KeepPartials bool
	// Blueprint is the blueprint of the records Upward makes.
	Blueprint string
	Log       *slog.Logger
}

// TickResult is one tick of one probe at a member.
type TickResult struct {
	Probe string
	// Inst is the central instance (valid during OnTick only).
	Inst   *probe.Instance
	Status ProbeStatus
	// Central and Edge are the anomaly transitions to report, already
	// reconciled with the checkpoint: a raise of what is raised, or a
	// clear of what is not, never appears.
	Central []probe.Anomaly
	Edge    []EdgeTransition
	// Cleared are anomalies a previous owner raised (from the
	// checkpoint) that this member's first evaluation no longer holds:
	// clears to report, with the JSON the raise carried.
	Cleared []RaisedAnomaly
}

// EdgeTransition is a device's anomaly raised or cleared.
type EdgeTransition struct {
	Device string
	Event  *pb.AnomalyEvent
}

// ProbeStatus is what a member's last tick of a probe saw.
type ProbeStatus struct {
	Probe   string   `json:"probe"`
	Devices []string `json:"devices"`
	Fresh   []string `json:"fresh"`
	Missing []string `json:"missing"`
	Partial bool     `json:"partial"`
	Skipped bool     `json:"skipped"`
	// Warming is set while a probe just taken over waits to hear from
	// every device (at most StaleAfter).
	Warming      bool      `json:"warming"`
	Ticks        uint64    `json:"ticks"`
	SkippedTicks uint64    `json:"skipped_ticks"`
	LastTick     time.Time `json:"last_tick"`
	LastError    string    `json:"last_error,omitempty"`
	// Records counts records taken; Duplicates those already merged or
	// superseded when they came (a replay after a takeover or reconnect);
	// Rejected updates the central part refused.
	Records    uint64 `json:"records"`
	Duplicates uint64 `json:"duplicates"`
	Rejected   uint64 `json:"rejected"`
	// Unknown counts records from devices the probe does not hear from
	// (not in the list its central part was built with): acknowledged and
	// dropped, so that records naming arbitrary devices cannot grow the
	// member's per-device state.
	Unknown uint64 `json:"unknown_devices"`
	// Lost counts records the device's publisher dropped before the
	// broker (from the records' Dropped counter).
	Lost uint64 `json:"lost"`
}

// Member evaluates the central parts of the probes it owns from records:
// the same logic whatever the broker. The broker's side decides ownership
// (Assign, Revoke), gives it records (Offer) and calls Tick every
// interval.
//
// Feeding is idempotent: a device's pending record is keyed by its agent
// session and batch number, so a record given again (a redelivery after a
// takeover, a reconnect, a replay of the log) replaces nothing newer and
// adds nothing. A tick merges, reports, writes the checkpoint and only then
// acknowledges the records it used.
type Member struct {
	parts Parts
	cp    Checkpoint
	opt   MemberOptions
	log   *slog.Logger

	// tickMu is held through a whole tick (merge, report, checkpoint,
	// acks) and by Assign and Revoke, so ownership never changes in the
	// middle of one.
	tickMu sync.Mutex
	mu     sync.Mutex
	owned  map[string]*owned
	// session names this member's Upward records (new at every start).
	session string
}

type owned struct {
	id      string
	inst    *probe.Instance
	devices []string
	known   map[string]bool // devices as a set; nil when the list is empty
	since   time.Time       // when it was assigned
	warm    bool
	// pending is each device's latest record not yet merged.
	pending map[string]*pendingRec
	// merged remembers, per device, the (session, seq) of the last record
	// merged and where it came from, for idempotence and restarts.
	merged map[string]recKey
	recv   map[string]time.Time
	// acks are records to acknowledge after the next tick.
	acks   []Acker
	raised Raised
	status ProbeStatus
	batch  collectors.Batch
	items  probe.ItemCache
	// latest are each fresh device's updates (KeepPartials); upSeq
	// numbers the probe's Upward records.
	latest map[string][]*probe.StageUpdate
	upSeq  uint64
}

type recKey struct {
	session    string
	seq        uint64
	generation uint64
}

type pendingRec struct {
	key       recKey
	updates   [][]byte
	anomalies []*pb.AnomalyEvent
	at        time.Time
	dropped   uint64
}

// NewMember makes a member owning nothing.
func NewMember(parts Parts, cp Checkpoint, opt MemberOptions) *Member {
	if opt.Log == nil {
		opt.Log = slog.Default()
	}
	if opt.StaleAfter <= 0 {
		opt.StaleAfter = 3 * time.Second
	}
	var b [8]byte
	_, _ = rand.Read(b[:])
	return &Member{parts: parts, cp: cp, opt: opt, log: opt.Log, owned: map[string]*owned{}, session: hex.EncodeToString(b[:])}
}

// ErrNoCentralPart is Assign's error for a probe without a central part.
var ErrNoCentralPart = errors.New("no central part")

// Assign starts evaluating probe id at now: a fresh central instance, the
// raised anomalies from the checkpoint. The probe stays warming (no tick
// evaluated) until every device was heard from or StaleAfter passed.
func (m *Member) Assign(ctx context.Context, id string, now time.Time) error {
	m.tickMu.Lock()
	defer m.tickMu.Unlock()
	m.mu.Lock()
	_, have := m.owned[id]
	m.mu.Unlock()
	if have {
		return nil
	}
	inst, devices, ok := m.parts.Central(id)
	if !ok {
		return fmt.Errorf("probe %q: %w", id, ErrNoCentralPart)
	}
	raised, err := m.cp.Load(ctx, id)
	if err != nil {
		return fmt.Errorf("probe %q: checkpoint: %w", id, err)
	}
	if raised == nil {
		raised = Raised{}
	}
	o := &owned{id: id, inst: inst, devices: devices, since: now, pending: map[string]*pendingRec{},
		merged: map[string]recKey{}, recv: map[string]time.Time{}, raised: raised, status: ProbeStatus{Probe: id},
		latest: map[string][]*probe.StageUpdate{}}
	if len(devices) > 0 {
		o.known = make(map[string]bool, len(devices))
		for _, d := range devices {
			o.known[d] = true
		}
	}
	m.mu.Lock()
	m.owned[id] = o
	m.mu.Unlock()
	m.log.Info("fan-in: probe assigned", "probe", id, "devices", len(devices), "raised", len(raised))
	return nil
}

// Revoke stops evaluating probe id after any tick in progress; records
// taken and not yet merged are given back (Nak) for the next owner.
func (m *Member) Revoke(id string) {
	m.tickMu.Lock()
	defer m.tickMu.Unlock()
	m.mu.Lock()
	o, ok := m.owned[id]
	delete(m.owned, id)
	m.mu.Unlock()
	if !ok {
		return
	}
	for _, a := range o.acks {
		_ = a.Nak()
	}
	m.log.Info("fan-in: probe revoked", "probe", id)
}

// Owned lists the probes this member evaluates, sorted.
func (m *Member) Owned() []string {
	m.mu.Lock()
	defer m.mu.Unlock()
	out := make([]string, 0, len(m.owned))
	for id := range m.owned {
		out = append(out, id)
	}
	sort.Strings(out)
	return out
}

// Owns reports whether this member evaluates probe id.
func (m *Member) Owns(id string) bool {
	m.mu.Lock()
	defer m.mu.Unlock()
	_, ok := m.owned[id]
	return ok
}

// Offer takes one record, written to the broker at at (the broker's
// timestamp: what staleness is judged by, so that a device's last record
// read back from the log after a takeover is not mistaken for a fresh
// one). ack may be nil for a record read without a consumer (the latest
// per device at takeover). A record of a probe this member does not own
// is given back.
func (m *Member) Offer(rec *Record, at time.Time, ack Acker) {
	b := rec.Batch
	dev := b.GetDevice()
	k := recKey{session: b.GetSession(), seq: b.GetSeq(), generation: b.GetGeneration()}
	m.mu.Lock()
	o, ok := m.owned[rec.Probe]
	if !ok {
		m.mu.Unlock()
		if ack != nil {
			_ = ack.Nak()
		}
		return
	}
	o.status.Records++
	if o.known != nil && !o.known[dev] {
		o.status.Unknown++
		first := o.status.Unknown == 1
		if ack != nil {
			o.acks = append(o.acks, ack)
		}
		m.mu.Unlock()
		if first {
			m.log.Warn("fan-in: records from a device the probe does not hear from are dropped (counted in the probe's unknown_devices)", "probe", rec.Probe, "device", dev)
		}
		m.notify(rec.Probe, dev, k.seq)
		return
	}
	stale := false
	if last, ok := o.merged[dev]; ok && last.session == k.session && k.seq <= last.seq {
		stale = true
	}
	if p, ok := o.pending[dev]; ok && p.key.session == k.session && k.seq <= p.key.seq {
		stale = true
	}
	if stale {
		o.status.Duplicates++
		if ack != nil {
			o.acks = append(o.acks, ack)
		}
		m.mu.Unlock()
		m.notify(rec.Probe, dev, k.seq)
		return
	}
	p := o.pending[dev]
	if p == nil {
		p = &pendingRec{}
		o.pending[dev] = p
	} else if p.key.session != k.session {
		// A new agent session: the previous one's events are still
		// reported (they happened), its partial is not merged.
		p.updates = nil
	}
	p.key, p.updates, p.at, p.dropped = k, b.GetUpdates(), at, b.GetDropped()
	p.anomalies = append(p.anomalies, b.GetAnomalies()...)
	if ack != nil {
		o.acks = append(o.acks, ack)
	}
	m.mu.Unlock()
	m.notify(rec.Probe, dev, k.seq)
}

func (m *Member) notify(id, dev string, seq uint64) {
	if m.opt.OnRecord != nil {
		m.opt.OnRecord(id, dev, seq)
	}
}

// Status is the last tick's status of an owned probe.
func (m *Member) Status(id string) (ProbeStatus, bool) {
	m.mu.Lock()
	defer m.mu.Unlock()
	o, ok := m.owned[id]
	if !ok {
		return ProbeStatus{}, false
	}
	s := o.status
	s.Devices = append([]string(nil), s.Devices...)
	s.Fresh = append([]string(nil), s.Fresh...)
	s.Missing = append([]string(nil), s.Missing...)
	return s, true
}

// Pending reports, for an owned probe, the batch number of each device's
// record waiting for the next tick.
func (m *Member) Pending(id string) map[string]uint64 {
	m.mu.Lock()
	defer m.mu.Unlock()
	o, ok := m.owned[id]
	if !ok {
		return nil
	}
	out := make(map[string]uint64, len(o.pending))
	for dev, p := range o.pending {
		if p.updates != nil {
			out[dev] = p.key.seq
		}
	}
	return out
}

// Tick evaluates every owned probe at now: merge the pending records,
// tick the central part, report (OnTick), write the checkpoint when the
// raised set changed, then acknowledge the records. A checkpoint that
// cannot be written leaves the records unacknowledged (they come again)
// and is reported in the returned error.
func (m *Member) Tick(ctx context.Context, now time.Time) error {
	m.tickMu.Lock()
	defer m.tickMu.Unlock()
	m.mu.Lock()
	ids := make([]string, 0, len(m.owned))
	for id := range m.owned {
		ids = append(ids, id)
	}
	m.mu.Unlock()
	sort.Strings(ids)
	var errs []error
	for _, id := range ids {
		m.mu.Lock()
		o := m.owned[id]
		res, acks, changed := m.tickLocked(o, now)
		res.Status = o.status
		res.Status.Fresh = append([]string(nil), o.status.Fresh...)
		res.Status.Missing = append([]string(nil), o.status.Missing...)
		var snapshot Raised
		if changed {
			snapshot = o.raised.clone()
		}
		m.mu.Unlock()
		if m.opt.OnTick != nil && res != nil {
			m.opt.OnTick(res)
		}
		if changed {
			if err := m.cp.Save(ctx, id, snapshot); err != nil {
				errs = append(errs, fmt.Errorf("probe %q: checkpoint: %w", id, err))
				for _, a := range acks {
					_ = a.Nak()
				}
				continue
			}
		}
		for _, a := range acks {
			if err := a.Ack(); err != nil {
				errs = append(errs, fmt.Errorf("probe %q: ack: %w", id, err))
			}
		}
	}
	return errors.Join(errs...)
}

// tickLocked merges and ticks one probe; it returns the result to report,
// the records to acknowledge and whether the raised set changed.
func (m *Member) tickLocked(o *owned, now time.Time) (*TickResult, []Acker, bool) {
	st := &o.status
	res := &TickResult{Probe: o.id, Inst: o.inst}
	changed := false
	// Merge: every device's latest record.
	for dev, p := range o.pending {
		for _, ev := range p.anomalies {
			key := EdgeKey(dev, ev.GetItemId())
			_, was := o.raised[key]
			switch {
			case ev.GetRaised() && !was:
				o.raised[key] = RaisedAnomaly{Origin: "edge", Device: dev, Stage: ev.GetStage(), ItemID: ev.GetItemId(), JSON: []byte(ev.GetJson())}
				res.Edge = append(res.Edge, EdgeTransition{Device: dev, Event: ev})
				changed = true
			case !ev.GetRaised() && was:
				delete(o.raised, key)
				res.Edge = append(res.Edge, EdgeTransition{Device: dev, Event: ev})
				changed = true
			}
		}
		p.anomalies = nil
		if p.dropped > st.Lost {
			st.Lost = p.dropped
		}
		if p.updates == nil {
			continue
		}
		if last, ok := o.merged[dev]; ok && (last.session != p.key.session || last.generation != p.key.generation) {
			o.inst.DropDevice(dev)
		}
		if m.opt.KeepPartials {
			o.latest[dev] = o.latest[dev][:0]
		}
		for _, raw := range p.updates {
			u, err := probe.DecodeStageUpdate(raw)
			if err != nil {
				st.Rejected++
				continue
			}
			if m.opt.KeepPartials && u.Device == dev {
				o.latest[dev] = append(o.latest[dev], u)
			}
			if err := o.inst.Feed(u); err != nil {
				if errors.Is(err, probe.ErrDuplicateUpdate) {
					st.Duplicates++
				} else {
					st.Rejected++
					m.log.Debug("fan-in: stage update refused", "probe", o.id, "device", dev, "err", err)
				}
			}
		}
		o.merged[dev] = p.key
		o.recv[dev] = p.at
		p.updates = nil
	}
	for dev := range o.pending {
		delete(o.pending, dev)
	}
	acks := o.acks
	o.acks = nil
	// Staleness.
	for dev, at := range o.recv {
		if now.Sub(at) > m.opt.StaleAfter {
			o.inst.DropDevice(dev)
			delete(o.recv, dev)
			delete(o.merged, dev)
			delete(o.latest, dev)
		}
	}
	st.Devices, st.Fresh, st.Missing = o.devices, st.Fresh[:0], st.Missing[:0]
	for _, dev := range o.devices {
		if _, ok := o.recv[dev]; ok {
			st.Fresh = append(st.Fresh, dev)
		} else {
			st.Missing = append(st.Missing, dev)
		}
	}
	st.Partial = len(st.Missing) > 0
	st.LastTick = now
	if !o.warm {
		if len(st.Missing) > 0 && now.Sub(o.since) < m.opt.StaleAfter {
			st.Warming, st.Skipped = true, true
			st.SkippedTicks++
			return res, acks, changed
		}
		o.warm = true
	}
	st.Warming = false
	if len(o.devices) == 0 || float64(len(st.Missing)) > m.opt.MaxMissingShare*float64(len(o.devices)) {
		st.Skipped = true
		st.SkippedTicks++
		return res, acks, changed
	}
	st.Skipped = false
	o.batch.Time = now
	if err := o.inst.Tick(&probe.Tick{Time: now, Counters: &o.batch, Items: &o.items}); err != nil {
		st.LastError = err.Error()
	} else {
		st.LastError = ""
	}
	o.items.Advance(&o.batch, now)
	first := st.Ticks == 0
	st.Ticks++
	for _, t := range o.inst.Transitions() {
		key := CentralKey(t.ID)
		_, was := o.raised[key]
		switch {
		case t.Raised && !was:
			js, _ := t.MarshalJSON()
			o.raised[key] = RaisedAnomaly{Origin: "central", Stage: t.Stage, ItemID: t.ItemID, JSON: js}
			res.Central = append(res.Central, t)
			changed = true
		case !t.Raised && was:
			delete(o.raised, key)
			res.Central = append(res.Central, t)
			changed = true
		}
	}
	if first {
		// Taken over: what the previous owner raised and this first
		// evaluation does not hold any more is cleared now.
		active := map[string]bool{}
		for _, a := range o.inst.Anomalies() {
			active[CentralKey(a.ID)] = true
		}
		for _, key := range o.raised.Keys() {
			a := o.raised[key]
			if a.Origin != "central" || active[key] {
				continue
			}
			delete(o.raised, key)
			res.Cleared = append(res.Cleared, a)
			changed = true
		}
	}
	return res, acks, changed
}

// Upward is what this member sends a higher-level controller for probe id
// after a tick (KeepPartials): one record speaking for device as (a pod),
// whose updates merge the latest partials of every fresh device
// (MergeUpdates). A higher-level member evaluates it like any device's
// record, and since merging partial states is associative its result is
// the one a single level would compute. The record goes out through a
// Publisher like an agent's.
func (m *Member) Upward(id, as string, now time.Time) (*Record, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	o, ok := m.owned[id]
	if !ok {
		return nil, fmt.Errorf("probe %q: not owned", id)
	}
	if !m.opt.KeepPartials {
		return nil, fmt.Errorf("probe %q: partials not kept (MemberOptions.KeepPartials)", id)
	}
	var ups []*probe.StageUpdate
	for _, dev := range o.devices {
		if _, fresh := o.recv[dev]; fresh {
			ups = append(ups, o.latest[dev]...)
		}
	}
	if len(ups) == 0 {
		return nil, fmt.Errorf("probe %q: no fresh partial to send", id)
	}
	o.upSeq++
	merged, err := MergeUpdates(as, o.upSeq, now, ups)
	if err != nil {
		return nil, fmt.Errorf("probe %q: %w", id, err)
	}
	b := &pb.StageBatch{Device: as, Session: m.session, Seq: o.upSeq, Time: timestamppb.New(now)}
	for _, u := range merged {
		b.Generation = max(b.Generation, u.Generation)
		b.Updates = append(b.Updates, u.AppendBinary(nil))
	}
	return &Record{Blueprint: m.opt.Blueprint, Probe: id, Batch: b}, nil
}

// Raised is a copy of an owned probe's raised anomalies as of its last
// tick, the devices' (Origin edge) and the central part's: what a REST
// API lists, since a device's anomalies reach the member only inside its
// records. false when the probe is not owned.
func (m *Member) Raised(id string) (Raised, bool) {
	m.mu.Lock()
	defer m.mu.Unlock()
	o, ok := m.owned[id]
	if !ok {
		return nil, false
	}
	return o.raised.clone(), true
}

// Inspect calls fn with an owned probe's central instance and its last
// status, under the member's lock (fn must not keep inst); false when the
// probe is not owned.
func (m *Member) Inspect(id string, fn func(inst *probe.Instance, st ProbeStatus)) bool {
	m.mu.Lock()
	defer m.mu.Unlock()
	o, ok := m.owned[id]
	if !ok {
		return false
	}
	fn(o.inst, o.status)
	return true
}
