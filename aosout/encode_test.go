package aosout

import (
	"bytes"
	"fmt"
	"math/rand/v2"
	"strings"
	"testing"
	"time"

	"google.golang.org/protobuf/proto"

	"github.com/probe-agent/probe-agent/collectors"
	"github.com/probe-agent/probe-agent/probe"
	_ "github.com/probe-agent/probe-agent/probe/processors"
	"github.com/probe-agent/probe-agent/proto/aos"
)

// streamingProbe streams every kind of stage ProbeBodies writes: float
// numbers with two keys (if_counter), discrete states (range_check),
// integers grouped by one key (match_count), a keyless number (sum with no
// group_by), and number and state time series (accumulate).
const streamingProbe = `{"id": "enc-%d", "label": %q, "processors": [
  {"name": "rate", "type": "if_counter", "outputs": {"out": "tx"}, "properties": {"counter_type": "tx_bytes", "enable_streaming": true}},
  {"name": "busy", "type": "range_check", "inputs": {"in": "tx"}, "outputs": {"out": "tx_busy"}, "properties": {"range": {"min": 1000}, "enable_streaming": true}},
  {"name": "count", "type": "match_count", "inputs": {"in": "tx_busy"}, "outputs": {"out": "busy_count"}, "properties": {"reference_state": "true", "group_by": ["system_id"], "enable_streaming": true}},
  {"name": "total", "type": "sum", "inputs": {"in": "tx"}, "outputs": {"out": "tx_total"}, "properties": {"group_by": [], "enable_streaming": true}},
  {"name": "hist", "type": "accumulate", "inputs": {"in": "tx"}, "outputs": {"out": "tx_hist"}, "properties": {"max_samples": 4, "enable_streaming": true}},
  {"name": "busy hist", "type": "accumulate", "inputs": {"in": "tx_busy"}, "outputs": {"out": "busy_hist"}, "properties": {"max_samples": 3, "enable_streaming": true}}
]}`

// probeRun ticks one instance of streamingProbe over generated counters.
type probeRun struct {
	inst  *probe.Instance
	batch *collectors.Batch
	items probe.ItemCache
	tick  probe.Tick
	rng   *rand.Rand
}

func newProbeRun(t testing.TB, doc string, seed uint64, interfaces int) *probeRun {
	t.Helper()
	plan, probs := probe.CompileJSON([]byte(doc))
	if len(probs) > 0 {
		t.Fatal(probs)
	}
	inst, err := probe.NewInstance(plan)
	if err != nil {
		t.Fatal(err)
	}
	r := &probeRun{inst: inst, rng: rand.New(rand.NewPCG(seed, 7)), batch: &collectors.Batch{Layout: 1}}
	for i := range interfaces {
		name := fmt.Sprintf("Ethernet%d", i)
		switch i % 5 {
		case 1: // a property longer than 127 bytes: two-byte lengths
			name = strings.Repeat("long-name-", 14) + name
		case 2:
			name = "éth/" + name
		}
		ifc := collectors.Interface{SystemID: fmt.Sprintf("leaf%d", i%3), Name: name}
		r.batch.Interfaces = append(r.batch.Interfaces, ifc)
	}
	r.tick = probe.Tick{Time: time.Unix(1700000000, 123456000), Counters: r.batch, Items: &r.items}
	return r
}

// step advances the counters (some not at all, so not every item changes)
// and ticks the probe.
func (r *probeRun) step(t testing.TB) {
	t.Helper()
	for i := range r.batch.Interfaces {
		ifc := &r.batch.Interfaces[i]
		switch r.rng.IntN(4) {
		case 0: // idle
		case 1:
			ifc.Counters[collectors.TxBytes] += uint64(r.rng.IntN(2000))
		default:
			ifc.Counters[collectors.TxBytes] += uint64(r.rng.Int64N(1 << 40))
		}
		ifc.Set(collectors.TxBytes, ifc.Counters[collectors.TxBytes])
	}
	r.tick.Time = r.tick.Time.Add(time.Second + time.Duration(r.rng.IntN(1000))*time.Microsecond)
	r.batch.Time = r.tick.Time
	if err := r.inst.Tick(&r.tick); err != nil {
		t.Fatal(err)
	}
	r.items.Advance(r.batch, r.tick.Time)
}

// TestProbeBodiesMatchProto: on generated stages of every kind, with
// identities that set or leave out each optional header field, ProbeBodies
// writes exactly proto.Marshal of the messages ProbeMessages builds, in the
// same order, also after an identity change.
func TestProbeBodiesMatchProto(t *testing.T) {
	identities := []Identity{
		{SystemID: "leaf1", Hostname: "leaf1", BlueprintID: "dc1"},
		{SystemID: "s", Hostname: "h", Role: "leaf", BlueprintID: "blueprint-" + strings.Repeat("x", 200), BlueprintLabel: "Fabric Ω"},
		{BlueprintID: ""},
	}
	for n, id := range identities {
		t.Run(fmt.Sprint(n), func(t *testing.T) {
			label := []string{"label", "ü", strings.Repeat("L", 300)}[n]
			r := newProbeRun(t, fmt.Sprintf(streamingProbe, n, label), uint64(n), 23)
			e := NewEncoder(id)
			kinds := map[string]int{}
			for tick := range 12 {
				if tick == 6 {
					next := identities[(n+1)%len(identities)]
					e.SetIdentity(next)
				}
				r.step(t)
				var want [][]byte
				e.ProbeMessages(r.inst, func(m *aos.AosMessage) {
					b, err := proto.Marshal(m)
					if err != nil {
						t.Fatal(err)
					}
					want = append(want, b)
					switch m.GetPerfMon().GetProbeMessage().GetValue().(type) {
					case *aos.ProbeMessage_FloatValue:
						kinds["float"]++
					case *aos.ProbeMessage_Int64Value:
						kinds["int64"]++
					case *aos.ProbeMessage_StringValue:
						kinds["string"]++
					}
				})
				var got [][]byte
				e.ProbeBodies(r.inst, func(b []byte) { got = append(got, bytes.Clone(b)) })
				if len(got) != len(want) {
					t.Fatalf("tick %d: %d bodies, %d messages", tick, len(got), len(want))
				}
				for i := range want {
					if !bytes.Equal(got[i], want[i]) {
						var m aos.AosMessage
						err := proto.Unmarshal(got[i], &m)
						t.Fatalf("tick %d message %d differs\n got %x\nwant %x\n(got decodes to %v, err %v)", tick, i, got[i], want[i], &m, err)
					}
				}
			}
			for _, k := range []string{"float", "int64", "string"} {
				if kinds[k] == 0 {
					t.Errorf("no %s values generated: %v", k, kinds)
				}
			}
		})
	}
}

// idleProbe streams stages whose items change only when the counters move
// (no time series, which take a sample every tick).
const idleProbe = `{"id": "idle", "label": "idle", "processors": [
  {"name": "rate", "type": "if_counter", "outputs": {"out": "tx"}, "properties": {"counter_type": "tx_bytes", "enable_streaming": true}},
  {"name": "busy", "type": "range_check", "inputs": {"in": "tx"}, "outputs": {"out": "tx_busy"}, "properties": {"range": {"min": 1000}, "enable_streaming": true}},
  {"name": "count", "type": "match_count", "inputs": {"in": "tx_busy"}, "outputs": {"out": "busy_count"}, "properties": {"reference_state": "true", "group_by": ["system_id"], "enable_streaming": true}}
]}`

// TestProbeBodiesDoNotAllocate: once the stage caches are built, encoding
// a tick's changed items allocates nothing, and an idle tick (nothing
// changed) emits nothing and allocates nothing either.
func TestProbeBodiesDoNotAllocate(t *testing.T) {
	e := NewEncoder(Identity{SystemID: "leaf1", Hostname: "leaf1", BlueprintID: "dc1"})
	r := newProbeRun(t, fmt.Sprintf(streamingProbe, 1, "label"), 1, 200)
	r.step(t)
	r.step(t)
	msgs := 0
	e.ProbeBodies(r.inst, func([]byte) { msgs++ }) // builds the caches
	if msgs < 200 {
		t.Fatalf("%d messages from 200 interfaces", msgs)
	}
	size := 0
	emit := func(b []byte) { size += len(b) }
	if allocs := testing.AllocsPerRun(100, func() { e.ProbeBodies(r.inst, emit) }); allocs != 0 {
		t.Fatalf("%v allocations per tick of %d messages", allocs, msgs)
	}

	// Counters that do not move: after the first rates, nothing changes.
	idle := newProbeRun(t, idleProbe, 2, 200)
	for range 4 {
		idle.tick.Time = idle.tick.Time.Add(time.Second)
		idle.batch.Time = idle.tick.Time
		if err := idle.inst.Tick(&idle.tick); err != nil {
			t.Fatal(err)
		}
		idle.items.Advance(idle.batch, idle.tick.Time)
	}
	msgs = 0
	e.ProbeBodies(idle.inst, func([]byte) { msgs++ })
	if msgs != 0 {
		t.Fatalf("an idle tick emitted %d messages", msgs)
	}
	if allocs := testing.AllocsPerRun(100, func() { e.ProbeBodies(idle.inst, emit) }); allocs != 0 {
		t.Fatalf("%v allocations per idle tick", allocs)
	}
}
