package aosout

import (
	"math"
	"time"

	"google.golang.org/protobuf/proto"

	"github.com/probe-agent/probe-agent/probe"
	"github.com/probe-agent/probe-agent/proto/aos"
)

// Identity is what every AosMessage header carries.
type Identity struct {
	SystemID       string
	Hostname       string
	Role           string
	BlueprintID    string
	BlueprintLabel string
}

// Encoder turns the results of probe ticks into streaming messages: stage
// changes for the perfmon channel, anomaly transitions for alerts. It keeps
// each streamed stage's item ids between ticks, so it is used by one
// goroutine at a time (each daemon's tick loop).
type Encoder struct {
	id    Identity
	items map[*probe.Stage]*itemIDs
}

type itemIDs struct {
	layout uint64
	ids    []string
	// integer: the stage's numbers go out as int64_value, else as
	// float_value (wireInteger).
	integer bool
}

// integerProcessors produce counts: their number stages go out as
// int64_value. Every other number stage goes out as float_value, whatever
// its current values are, so a receiver sees one type per stage (a rate
// that happens to be whole with one collector and not with another stays a
// float). docs/streaming.md has the list.
var integerProcessors = map[string]bool{"match_count": true, "set_count": true, "tally": true}

// wireInteger decides a stage's wire value type from its definition: the
// type of the processor that produces it.
func wireInteger(inst *probe.Instance, st *probe.Stage) bool {
	for _, p := range inst.Plan.Processors() {
		if p.Name == st.Producer {
			return integerProcessors[p.Type]
		}
	}
	return false
}

// NewEncoder makes an encoder for one identity.
func NewEncoder(id Identity) *Encoder {
	return &Encoder{id: id, items: map[*probe.Stage]*itemIDs{}}
}

// Identity returns the identity the encoder stamps on messages.
func (e *Encoder) Identity() Identity { return e.id }

// SetIdentity changes the identity of the messages encoded from now on (a
// configuration reload); item ids do not depend on it.
func (e *Encoder) SetIdentity(id Identity) { e.id = id }

// Header returns a new message with the identity's header fields and
// timestamp t; callers set Data.
func (e *Encoder) Header(t time.Time) *aos.AosMessage {
	m := &aos.AosMessage{
		Timestamp:  proto.Uint64(uint64(t.UnixMicro())),
		OriginName: proto.String(e.id.BlueprintID),
	}
	if e.id.Hostname != "" {
		m.OriginHostname = proto.String(e.id.Hostname)
	}
	if e.id.Role != "" {
		m.OriginRole = proto.String(e.id.Role)
	}
	if e.id.BlueprintLabel != "" {
		m.BlueprintLabel = proto.String(e.id.BlueprintLabel)
	}
	return m
}

// ProbeMessages emits one PerfMon probe_message per item that changed in the
// last tick, for every stage whose producer has enable_streaming: for a
// time-series stage each new sample is a change.
func (e *Encoder) ProbeMessages(inst *probe.Instance, emit func(*aos.AosMessage)) {
	probeID := inst.ID()
	label := inst.Plan.Label()
	now := inst.Time()
	for _, st := range inst.Stages() {
		if !st.Streaming {
			continue
		}
		c := e.itemIDs(inst, st)
		ids := c.ids
		for i := 0; i < st.Len(); i++ {
			if !st.ChangedNow(i) {
				continue
			}
			it := st.Item(i)
			pm := &aos.ProbeMessage{
				ProbeId:     proto.String(probeID),
				StageName:   proto.String(st.Name),
				BlueprintId: proto.String(e.id.BlueprintID),
				ItemId:      proto.String(ids[i]),
				ProbeLabel:  proto.String(label),
				Property:    make([]*aos.ProbeProperty, len(st.Keys)),
			}
			for k, key := range st.Keys {
				pm.Property[k] = &aos.ProbeProperty{Name: proto.String(key), Value: proto.String(it.Props[k])}
			}
			switch {
			case st.Type.Kind != probe.Number:
				pm.Value = &aos.ProbeMessage_StringValue{StringValue: it.Value.Str}
			case c.integer:
				pm.Value = &aos.ProbeMessage_Int64Value{Int64Value: int64(math.Round(it.Value.Num))}
			default:
				pm.Value = &aos.ProbeMessage_FloatValue{FloatValue: float32(it.Value.Num)}
			}
			m := e.Header(now)
			m.Data = &aos.AosMessage_PerfMon{PerfMon: &aos.PerfMon{Data: &aos.PerfMon_ProbeMessage{ProbeMessage: pm}}}
			emit(m)
		}
	}
}

func isInt64(f float64) bool {
	return f == math.Trunc(f) && f >= math.MinInt64 && f < math.MaxInt64
}

// itemIDs returns the stable item ids of a stage's items, computed again
// only when its items change, and the stage's wire value type.
func (e *Encoder) itemIDs(inst *probe.Instance, st *probe.Stage) *itemIDs {
	c := e.items[st]
	if c == nil {
		c = &itemIDs{layout: ^uint64(0), integer: wireInteger(inst, st)}
		e.items[st] = c
	}
	if c.layout != st.Layout() || len(c.ids) != st.Len() {
		c.ids = make([]string, st.Len())
		for i := range c.ids {
			c.ids[i] = probe.ItemID(inst.ID(), st.Name, st.ItemKey(i))
		}
		c.layout = st.Layout()
	}
	return c
}

// Forget drops cached state of a probe's stages (when the probe is removed).
func (e *Encoder) Forget(inst *probe.Instance) {
	for _, st := range inst.Stages() {
		delete(e.items, st)
	}
}

// Alerts emits one Alert{probe_alert} per anomaly raised or cleared by the
// last tick.
func (e *Encoder) Alerts(inst *probe.Instance, emit func(*aos.AosMessage)) {
	for _, a := range inst.Transitions() {
		emit(e.Alert(&a, inst.Time()))
	}
}

// Alert encodes one anomaly transition (raised or cleared, by a.Raised)
// observed at now.
func (e *Encoder) Alert(a *probe.Anomaly, now time.Time) *aos.AosMessage {
	pa := &aos.ProbeAlert{
		ProbeId:    proto.String(a.ProbeID),
		StageName:  proto.String(a.Stage),
		ItemId:     proto.String(a.ItemID),
		ProbeLabel: proto.String(a.ProbeLabel),
	}
	for i, k := range a.Keys {
		pa.KeyValuePairs = append(pa.KeyValuePairs, &aos.KeyValuePair{Key: proto.String(k), Value: proto.String(a.Props[i])})
	}
	ev := a.Evidence
	switch ev.Kind {
	case probe.Number:
		v := ev.Actual.Num
		if isInt64(v) {
			pa.ActualInt = proto.Int64(int64(v))
		} else {
			pa.ActualFloat = proto.Float64(v)
		}
		setRange(pa, ev)
	case probe.DiscreteState:
		pa.ActualDiscreteState = proto.String(ev.Actual.Str)
		if ev.State != "" {
			pa.ExpectedDiscreteState = proto.String(ev.State)
		}
	default:
		pa.ActualText = proto.String(ev.Actual.Str)
		if ev.State != "" {
			pa.ExpectedText = proto.String(ev.State)
		}
	}
	m := e.Header(now)
	m.Data = &aos.AosMessage_Alert{Alert: &aos.Alert{
		Severity:  aos.AlertSeverity_CRITICAL.Enum(),
		FirstSeen: proto.Uint64(uint64(a.FirstSeen.UnixMicro())),
		Id:        proto.String(a.ID),
		Raised:    proto.Bool(a.Raised),
		Data:      &aos.Alert_ProbeAlert{ProbeAlert: pa},
	}}
	return m
}

// setRange fills expected (min) and expected_*_max (max) from the checked
// range; integers go to the int fields when both bounds are integral.
func setRange(pa *aos.ProbeAlert, ev probe.Evidence) {
	ints := (!ev.HasMin || isInt64(ev.Min)) && (!ev.HasMax || isInt64(ev.Max))
	if ev.HasMin {
		if ints {
			pa.ExpectedInt = proto.Int64(int64(ev.Min))
		} else {
			pa.ExpectedFloat = proto.Float64(ev.Min)
		}
	}
	if ev.HasMax {
		if ints {
			pa.ExpectedIntMax = proto.Int64(int64(ev.Max))
		} else {
			pa.ExpectedFloatMax = proto.Float64(ev.Max)
		}
	}
}
