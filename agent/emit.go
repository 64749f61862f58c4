package agent

import (
	"math"
	"time"

	"github.com/google/uuid"
	"google.golang.org/protobuf/proto"

	"github.com/probe-agent/probe-agent/collectors"
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

// eventNamespace derives link event ids from the interface and the time of
// the change, so a resent event keeps its id.
var eventNamespace = uuid.MustParse("5d3c1f0e-8b7a-4c1e-9f25-3a6b7c8d9e01")

// Emitter turns the results of probe ticks and collector batches into
// streaming messages: stage changes for the perfmon channel, anomaly
// transitions for alerts, link state changes for events.
type Emitter struct {
	id    Identity
	items map[*probe.Stage]*itemIDs
	links linkStates
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

// NewEmitter makes an emitter for one agent identity.
func NewEmitter(id Identity) *Emitter {
	return &Emitter{id: id, items: map[*probe.Stage]*itemIDs{}}
}

func (e *Emitter) header(t time.Time) *aos.AosMessage {
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
func (e *Emitter) ProbeMessages(inst *probe.Instance, emit func(*aos.AosMessage)) {
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
			m := e.header(now)
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
func (e *Emitter) itemIDs(inst *probe.Instance, st *probe.Stage) *itemIDs {
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
func (e *Emitter) Forget(inst *probe.Instance) {
	for _, st := range inst.Stages() {
		delete(e.items, st)
	}
}

// Alerts emits one Alert{probe_alert} per anomaly raised or cleared by the
// last tick.
func (e *Emitter) Alerts(inst *probe.Instance, emit func(*aos.AosMessage)) {
	for _, a := range inst.Transitions() {
		emit(e.alert(&a, inst.Time()))
	}
}

func (e *Emitter) alert(a *probe.Anomaly, now time.Time) *aos.AosMessage {
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
	m := e.header(now)
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

// linkStates remembers each interface's last oper status so that only
// changes become events. It follows the agent's shared interface mapping
// (probe.ItemCache) instead of keeping its own copy of the names.
type linkStates struct {
	items *probe.InterfaceItems
	last  []collectors.OperStatus // by item of items
	// gone holds the last status of interfaces that left the batch, so
	// that one coming back is compared with how it left.
	gone map[string]collectors.OperStatus
}

// LinkEvents emits an Event{link_status} for each interface whose oper
// status changed since the previous batch; items is b's interface mapping.
// The first sight of an interface is not a change.
func (e *Emitter) LinkEvents(b *collectors.Batch, items *probe.InterfaceItems, emit func(*aos.AosMessage)) {
	ls := &e.links
	if items != ls.items {
		if ls.gone == nil {
			ls.gone = map[string]collectors.OperStatus{}
		}
		was := items.PositionsIn(ls.items, nil)
		stayed := make([]bool, len(ls.last))
		last := make([]collectors.OperStatus, items.Len())
		for i := range b.Interfaces {
			s := items.Slot[i]
			if s < 0 {
				continue
			}
			k := items.Key(int(s))
			if j := was[s]; j >= 0 {
				last[s], stayed[j] = ls.last[j], true
			} else if prev, ok := ls.gone[k]; ok {
				last[s] = prev
				delete(ls.gone, k)
			} else {
				last[s] = b.Interfaces[i].Oper
			}
		}
		for j, st := range ls.last {
			if !stayed[j] {
				ls.gone[ls.items.Key(j)] = st
			}
		}
		ls.items, ls.last = items, last
	}
	for i := range b.Interfaces {
		ifc := &b.Interfaces[i]
		s := items.Slot[i]
		if s < 0 || ifc.Oper == ls.last[s] {
			continue
		}
		ls.last[s] = ifc.Oper
		state := aos.LinkState_UNKNOWN
		switch ifc.Oper {
		case collectors.OperUp:
			state = aos.LinkState_UP
		case collectors.OperDown:
			state = aos.LinkState_DOWN
		}
		m := e.header(b.Time)
		m.OriginName = proto.String(e.id.SystemID)
		m.Data = &aos.AosMessage_Event{Event: &aos.Event{
			Id: proto.String(uuid.NewSHA1(eventNamespace, []byte(ifc.SystemID+"\x00"+ifc.Name+"\x00"+b.Time.String())).String()),
			Data: &aos.Event_LinkStatus{LinkStatus: &aos.LinkStatusEvent{
				Hostname: proto.String(e.id.Hostname),
				Ifname:   proto.String(ifc.Name),
				State:    state.Enum(),
			}},
		}}
		emit(m)
	}
}
