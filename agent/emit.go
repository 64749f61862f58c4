package agent

import (
	"time"

	"github.com/google/uuid"
	"google.golang.org/protobuf/proto"

	"github.com/probe-agent/probe-agent/aosout"
	"github.com/probe-agent/probe-agent/collectors"
	"github.com/probe-agent/probe-agent/probe"
	"github.com/probe-agent/probe-agent/proto/aos"
)

// Identity is what every AosMessage header carries.
type Identity = aosout.Identity

// eventNamespace derives link event ids from the interface and the time of
// the change, so a resent event keeps its id.
var eventNamespace = uuid.MustParse("5d3c1f0e-8b7a-4c1e-9f25-3a6b7c8d9e01")

// Emitter turns the results of probe ticks and collector batches into
// streaming messages: stage changes for the perfmon channel and anomaly
// transitions for alerts (aosout.Encoder, shared with the controller), link
// state changes for events.
type Emitter struct {
	*aosout.Encoder
	links linkStates
}

// NewEmitter makes an emitter for one agent identity.
func NewEmitter(id Identity) *Emitter {
	return &Emitter{Encoder: aosout.NewEncoder(id)}
}

func (e *Emitter) alert(a *probe.Anomaly, now time.Time) *aos.AosMessage { return e.Alert(a, now) }

// probeMessages sends the perfmon messages of inst's last tick to out. To
// streaming receivers they are encoded straight from the stages into the
// senders' queues (Encoder.ProbeBodies: no message objects, no
// allocation); nothing is encoded when no receiver takes perfmon. The
// printer gets messages.
func (e *Emitter) probeMessages(inst *probe.Instance, out output) {
	if s, ok := out.(*senders); ok {
		if s.Has(chanPerfmon) {
			e.ProbeBodies(inst, func(body []byte) { s.SendBody(chanPerfmon, body) })
		}
		return
	}
	e.ProbeMessages(inst, func(m *aos.AosMessage) { out.send(chanPerfmon, m) })
}

// linkStates remembers each interface's last oper status so that only
// changes become events. It follows the agent's shared interface mapping
// (probe.ItemCache) instead of keeping its own copy of the names.
type linkStates struct {
	items *probe.InterfaceItems
	last  []collectors.OperStatus // by item of items
	// gone holds the last status of interfaces that left the batch, so
	// that one coming back is compared with how it left. It is bounded
	// (hosts with random veth names would grow it for ever): when it
	// reaches goneLimit entries it becomes older and a new gone starts, so
	// an interface is remembered for at least goneLimit departures after
	// its own and the two hold at most twice that.
	gone, older map[string]collectors.OperStatus
}

// goneMin is the least number of departed interfaces remembered; a batch
// that loses more than that at once (a collector that briefly saw none)
// remembers them all.
const goneMin = 4096

func (ls *linkStates) goneLimit() int { return max(goneMin, len(ls.last)) }

// forget records that key left with status st.
func (ls *linkStates) forget(key string, st collectors.OperStatus, limit int) {
	if len(ls.gone) >= limit {
		ls.older, ls.gone = ls.gone, make(map[string]collectors.OperStatus, limit/4)
	}
	ls.gone[key] = st
}

// recall returns and forgets how key left, if it is remembered.
func (ls *linkStates) recall(key string) (collectors.OperStatus, bool) {
	if st, ok := ls.gone[key]; ok {
		delete(ls.gone, key)
		return st, true
	}
	if st, ok := ls.older[key]; ok {
		delete(ls.older, key)
		return st, true
	}
	return 0, false
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
			} else if prev, ok := ls.recall(k); ok {
				last[s] = prev
			} else {
				last[s] = b.Interfaces[i].Oper
			}
		}
		limit := ls.goneLimit()
		for j, st := range ls.last {
			if !stayed[j] {
				ls.forget(ls.items.Key(j), st, limit)
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
		id := e.Identity()
		m := e.Header(b.Time)
		m.OriginName = proto.String(id.SystemID)
		m.Data = &aos.AosMessage_Event{Event: &aos.Event{
			Id: proto.String(uuid.NewSHA1(eventNamespace, []byte(ifc.SystemID+"\x00"+ifc.Name+"\x00"+b.Time.String())).String()),
			Data: &aos.Event_LinkStatus{LinkStatus: &aos.LinkStatusEvent{
				Hostname: proto.String(id.Hostname),
				Ifname:   proto.String(ifc.Name),
				State:    state.Enum(),
			}},
		}}
		emit(m)
	}
}
