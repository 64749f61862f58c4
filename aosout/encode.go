package aosout

import (
	"math"
	"time"

	"google.golang.org/protobuf/encoding/protowire"
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
	id Identity
	// idGen counts identity changes: stage headers embed the blueprint id.
	idGen uint64
	// header is the encoding of the identity's AosMessage fields
	// (origin_name to blueprint_label), the same in every message.
	header []byte
	items  map[*probe.Stage]*itemIDs
	// body is ProbeBodies' buffer, reused for every message.
	body []byte
}

type itemIDs struct {
	layout uint64
	ids    []string
	// integer: the stage's numbers go out as int64_value, else as
	// float_value (wireInteger).
	integer bool

	// What every probe_message of the stage repeats, encoded once
	// (ProbeBodies): built for the identity of idGen and the probe id and
	// label below.
	idGen      uint64
	built      bool
	probeID    string
	label      string
	propNames  [][]byte // per key: the name field of a ProbeProperty
	fixed      []byte   // probe_id, stage_name and blueprint_id fields
	labelField []byte   // probe_label field
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
	e := &Encoder{items: map[*probe.Stage]*itemIDs{}}
	e.SetIdentity(id)
	return e
}

// Identity returns the identity the encoder stamps on messages.
func (e *Encoder) Identity() Identity { return e.id }

// SetIdentity changes the identity of the messages encoded from now on (a
// configuration reload); item ids do not depend on it.
func (e *Encoder) SetIdentity(id Identity) {
	e.id = id
	e.idGen++
	h := appendStringField(e.header[:0], aos.FnOriginName, id.BlueprintID)
	// Header leaves the optional fields out when empty.
	for _, f := range []struct {
		num protowire.Number
		v   string
	}{{aos.FnOriginHostname, id.Hostname}, {aos.FnOriginRole, id.Role}, {aos.FnBlueprintLabel, id.BlueprintLabel}} {
		if f.v != "" {
			h = appendStringField(h, f.num, f.v)
		}
	}
	e.header = h
}

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

// ProbeBodies is ProbeMessages without the messages: for each item that
// changed in the last tick, of every stage whose producer has
// enable_streaming, it calls emit with the AosMessage encoding of the
// message ProbeMessages would build (the same bytes proto.Marshal gives;
// TestProbeBodiesMatchProto checks). It writes straight from the stage's
// columns into one reused buffer, so it allocates nothing per message:
// body is valid only until emit returns.
func (e *Encoder) ProbeBodies(inst *probe.Instance, emit func(body []byte)) {
	ts := uint64(inst.Time().UnixMicro())
	for _, st := range inst.Stages() {
		if !st.Streaming {
			continue
		}
		c := e.itemIDs(inst, st)
		ready := false // an idle stage costs the scan of its change marks only
		for i := 0; i < st.Len(); i++ {
			if !st.ChangedNow(i) {
				continue
			}
			if !ready {
				e.stageBytes(inst, st, c)
				ready = true
			}
			e.body = e.appendProbeBody(e.body[:0], ts, st, c, i)
			emit(e.body)
		}
	}
}

// stageBytes (re)builds the stage's constant fields when the identity, the
// probe id or its label changed since they were built.
func (e *Encoder) stageBytes(inst *probe.Instance, st *probe.Stage, c *itemIDs) {
	id, label := inst.ID(), inst.Plan.Label()
	if c.built && c.idGen == e.idGen && c.probeID == id && c.label == label && len(c.propNames) == len(st.Keys) {
		return
	}
	c.propNames = c.propNames[:0]
	for _, k := range st.Keys {
		c.propNames = append(c.propNames, appendStringField(nil, aos.FnPropName, k))
	}
	c.fixed = appendStringField(c.fixed[:0], aos.FnProbeID, id)
	c.fixed = appendStringField(c.fixed, aos.FnStageName, st.Name)
	c.fixed = appendStringField(c.fixed, aos.FnBlueprintID, e.id.BlueprintID)
	c.labelField = appendStringField(c.labelField[:0], aos.FnProbeLabel, label)
	c.idGen, c.built, c.probeID, c.label = e.idGen, true, id, label
}

// appendProbeBody appends the AosMessage{perf_mon{probe_message}} of item i
// in the runtime's field order: numbers ascending, the oneof member last
// (perf_mon after blueprint_label, the value after probe_label).
func (e *Encoder) appendProbeBody(dst []byte, ts uint64, st *probe.Stage, c *itemIDs, i int) []byte {
	props := st.Props(i)
	probeSize := len(c.fixed) + len(c.labelField) + aos.TagSize + protowire.SizeBytes(len(c.ids[i]))
	for k, v := range props {
		probeSize += aos.TagSize + protowire.SizeBytes(len(c.propNames[k])+aos.TagSize+protowire.SizeBytes(len(v)))
	}
	var (
		str string
		num int64
		f32 float32
	)
	kind := 0 // 0 string, 1 integer, 2 float
	switch {
	case st.Type.Kind != probe.Number:
		str = st.Str(i, 0)
		probeSize += aos.TagSize + protowire.SizeBytes(len(str))
	case c.integer:
		kind, num = 1, int64(math.Round(st.Num(i, 0)))
		probeSize += aos.TagSize + protowire.SizeVarint(uint64(num))
	default:
		kind, f32 = 2, float32(st.Num(i, 0))
		probeSize += aos.TagSize + 4
	}
	perfSize := aos.TagSize + protowire.SizeBytes(probeSize)

	dst = append(dst, byte(aos.FnTimestamp)<<3|byte(protowire.VarintType))
	dst = protowire.AppendVarint(dst, ts)
	dst = append(dst, e.header...)
	dst = append(dst, byte(aos.FnPerfMon)<<3|byte(protowire.BytesType))
	dst = protowire.AppendVarint(dst, uint64(perfSize))
	dst = append(dst, byte(aos.FnProbeMessage)<<3|byte(protowire.BytesType))
	dst = protowire.AppendVarint(dst, uint64(probeSize))
	for k, v := range props {
		name := c.propNames[k]
		dst = append(dst, byte(aos.FnProperty)<<3|byte(protowire.BytesType))
		dst = protowire.AppendVarint(dst, uint64(len(name)+aos.TagSize+protowire.SizeBytes(len(v))))
		dst = append(dst, name...)
		dst = appendStringField(dst, aos.FnPropValue, v)
	}
	dst = append(dst, c.fixed...)
	dst = appendStringField(dst, aos.FnItemID, c.ids[i])
	dst = append(dst, c.labelField...)
	switch kind {
	case 0:
		dst = appendStringField(dst, aos.FnStringValue, str)
	case 1:
		dst = append(dst, byte(aos.FnInt64Value)<<3|byte(protowire.VarintType))
		dst = protowire.AppendVarint(dst, uint64(num))
	default:
		dst = append(dst, byte(aos.FnFloatValue)<<3|byte(protowire.Fixed32Type))
		dst = protowire.AppendFixed32(dst, math.Float32bits(f32))
	}
	return dst
}

func appendStringField(dst []byte, num protowire.Number, v string) []byte {
	dst = append(dst, byte(num)<<3|byte(protowire.BytesType))
	return protowire.AppendString(dst, v)
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
