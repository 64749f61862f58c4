package processors

import (
	"strings"
	"time"

	"github.com/probe-agent/probe-agent/collectors"
	"github.com/probe-agent/probe-agent/probe"
	"github.com/probe-agent/probe-agent/probe/expr"
)

// Output ports of traffic_monitor. Apstra's names for them are not
// documented (iba-reference §6 item 3); these are ours.
const (
	tmTxBps  = "tx_bps"
	tmRxBps  = "rx_bps"
	tmTxUtil = "tx_utilization"
	tmRxUtil = "rx_utilization"
)

var trafficPorts = [...]string{tmTxBps, tmRxBps, tmTxUtil, tmRxUtil}

func init() {
	outputs := map[string]probe.Port{}
	for _, p := range trafficPorts {
		outputs[p] = probe.Port{Types: []probe.StageType{probe.NS}}
	}
	probe.Register(&probe.Spec{
		Name:  "traffic_monitor",
		Label: "Traffic Monitor",
		Description: `Traffic Monitor Processor.

Source processor: per interface, the transmitted and received rate in bits per
second and the utilisation in percent of the port speed. One item per
interface, keyed by system_id and interface, on each connected output:
  tx_bps, rx_bps                  rate in bits/s (byte counters times 8)
  tx_utilization, rx_utilization  rate / port speed x 100
Every output is NS and optional, but at least one must be connected. (Apstra
does not document its output names; these are ours.)
port_speed is the speed in bits per second: a number or constant expression
applies to every interface; an expression over graph query variables such as
functions.speed_to_bits(link.speed) needs the graph, and until graph queries
are resolved on the device the interface's speed reported by the collector is
used instead (so is it when port_speed is null). An interface whose speed is
unknown has no utilisation value.
period is the averaging period in seconds: the rate is the bytes counted over
at least period seconds divided by the time actually elapsed, so an output
item changes about once per period; 0 (the default here; Apstra's default is
undocumented) gives the rate between consecutive samples. An item has a value
from the end of its first period. Counter wraps and resets are handled as in
if_counter: a reset or a re-created interface restarts the period without a
value instead of a spike.
Until graph queries are resolved on the device, every local interface is an
item; graph_query, system_id, interface and additional properties (extra item
keys) are kept for the controller.`,
		Outputs: outputs,
		Schema: func() *probe.Schema {
			s := probe.Merge(streamingProps(), sourceProps(), map[string]*probe.Schema{
				"port_speed": probe.Prop("number", "string", "null").Def(nil).
					Desc("Port speed in bits per second: a number, a constant expression, or an expression over graph query variables such as functions.speed_to_bits(link.speed); null uses the speed the collector reports."),
				"period": probe.Prop("number", "string").Def(0).
					Desc("Averaging period in seconds (a number or a constant expression); 0 averages over each sample interval."),
			})
			s.AdditionalProperties = probe.Prop("string").Desc("Additional item key, an expression over graph query variables.")
			return s
		}(),
		New: newTrafficMonitor,
	})
}

type trafficMonitor struct {
	out     [len(trafficPorts)]*probe.Stage // indexed like trafficPorts; nil when not connected
	primary *probe.Stage                    // the first connected output, which per-item state follows
	speed   float64                         // fixed port speed in bits/s, 0 to use the collector's
	period  time.Duration

	items interfaceItems
	state perItem[trafficState]
}

// trafficState is one interface's progress through the current period, per
// direction.
type trafficState struct {
	tx, rx directionState
}

type directionState struct {
	last  uint64 // counter at the previous sample
	bytes uint64 // bytes counted since start
	start int64  // start of the current period, Unix nanoseconds
	at    int64  // time of the previous sample, Unix nanoseconds
	gen   uint64
	ok    bool
}

func newTrafficMonitor(b *probe.Build) (probe.Processor, error) {
	p := &trafficMonitor{}
	if v := b.Props["port_speed"]; v != nil {
		speed, ok := 0.0, false
		if s, isStr := v.(string); isStr {
			if e, err := expr.Parse(s); err != nil {
				b.Errorf("properties.port_speed", "%v", err)
			} else if !e.Constant() {
				b.Warn("port_speed %q needs the graph (%s); until graph queries are resolved on the device, the speed reported by the collector is used", s, strings.Join(e.Names(), ", "))
			} else {
				speed, ok = numberProp(b, "port_speed", s)
			}
		} else {
			speed, ok = numberProp(b, "port_speed", v)
		}
		if ok && speed <= 0 {
			b.Errorf("properties.port_speed", "must be positive, got %v", speed)
		}
		p.speed = speed
	}
	period, _ := numberProp(b, "period", b.Props["period"])
	if period < 0 {
		b.Errorf("properties.period", "must not be negative, got %v", period)
	}
	p.period = time.Duration(period * float64(time.Second))
	checkExpressions(b, "system_id", "interface")
	for _, k := range extraKeys(b) {
		b.Warn("property %q is an expression over graph query variables; it becomes an item key once graph queries are resolved and is ignored until then", k)
	}
	if b.Failed() {
		return nil, nil
	}
	for i, port := range trafficPorts {
		p.out[i] = b.Output(port, probe.NS, []string{"interface", "system_id"})
		if p.out[i] != nil && p.primary == nil {
			p.primary = p.out[i]
		}
	}
	if p.primary == nil {
		b.Errorf("outputs", "traffic_monitor needs at least one output (%s)", strings.Join(trafficPorts[:], ", "))
		return nil, nil
	}
	return p, nil
}

func (p *trafficMonitor) Eval(t *probe.Tick) error {
	batch := t.Counters
	if batch == nil {
		return nil
	}
	p.items.sync(t, p.out[:]...)
	state := p.state.sync(p.primary)
	now := t.Time.UnixNano()
	for i := range batch.Interfaces {
		ifc := &batch.Interfaces[i]
		slot := p.items.slot[i]
		if slot < 0 {
			continue
		}
		speed := p.speed
		if speed == 0 {
			speed = float64(ifc.SpeedBps)
		}
		st := &state[slot]
		if ifc.Has(collectors.TxBytes) {
			if bps, ok := st.tx.update(ifc.Counters[collectors.TxBytes], ifc.Generation, now, p.period); ok {
				p.set(0, 2, int(slot), bps, speed)
			}
		}
		if ifc.Has(collectors.RxBytes) {
			if bps, ok := st.rx.update(ifc.Counters[collectors.RxBytes], ifc.Generation, now, p.period); ok {
				p.set(1, 3, int(slot), bps, speed)
			}
		}
	}
	return nil
}

// set writes a rate and its utilisation; the utilisation item loses its
// value while the speed is unknown.
func (p *trafficMonitor) set(rateOut, utilOut, slot int, bps, speed float64) {
	if st := p.out[rateOut]; st != nil {
		st.SetNum(slot, bps)
	}
	if st := p.out[utilOut]; st != nil {
		if speed > 0 {
			st.SetNum(slot, bps/speed*100)
		} else {
			st.Invalidate(slot)
		}
	}
}

// update adds a counter sample and returns the rate in bits per second when
// a period ended with it.
func (d *directionState) update(cur, gen uint64, now int64, period time.Duration) (float64, bool) {
	if !d.ok || d.gen != gen {
		*d = directionState{last: cur, start: now, at: now, gen: gen, ok: true}
		return 0, false
	}
	if now <= d.at {
		return 0, false
	}
	delta, ok := CounterDelta(d.last, cur)
	d.last, d.at = cur, now
	if !ok { // reset: the bytes of this period are unknown
		d.bytes, d.start = 0, now
		return 0, false
	}
	d.bytes += delta
	elapsed := time.Duration(now - d.start)
	if elapsed < period || elapsed <= 0 {
		return 0, false
	}
	bps := float64(d.bytes) * 8 / elapsed.Seconds()
	d.bytes, d.start = 0, now
	return bps, true
}
