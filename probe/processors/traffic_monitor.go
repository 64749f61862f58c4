package processors

import (
	"math"
	"strings"
	"time"

	"github.com/probe-agent/probe-agent/collectors"
	"github.com/probe-agent/probe-agent/probe"
	"github.com/probe-agent/probe-agent/probe/expr"
)

// Output ports of traffic_monitor. Apstra 4.x names two table outputs: out
// (live rates, "Live Interface Counters") and interface_counters_average (the
// same columns averaged over period). The four single-value outputs are ours,
// from before Apstra's names were known, and are kept: a probe may use both.
const (
	tmTxBps   = "tx_bps"
	tmRxBps   = "rx_bps"
	tmTxUtil  = "tx_utilization"
	tmRxUtil  = "rx_utilization"
	tmLive    = "out"
	tmAverage = "interface_counters_average"
)

var trafficPorts = [...]string{tmTxBps, tmRxBps, tmTxUtil, tmRxUtil}

// tmColumn is one column of Apstra's traffic_monitor tables: a counter's rate
// (times scale), or a utilisation (util: the rate of column rate over the
// port speed, in percent).
type tmColumn struct {
	name    string
	counter collectors.Counter
	scale   float64
	util    bool
	rate    int // for a utilisation, the index of its rate column
}

// tmColumns are the columns of out, in Apstra's units: bits per second,
// percent, packets per second and errors per second.
// interface_counters_average has the same columns with "_average" appended.
var tmColumns = func() []tmColumn {
	c := func(name, counter string, scale float64) tmColumn {
		ctr, ok := collectors.ParseCounter(counter)
		if !ok {
			panic("traffic_monitor: unknown counter " + counter)
		}
		return tmColumn{name: name, counter: ctr, scale: scale}
	}
	return []tmColumn{
		c("tx_bps", "tx_bytes", 8),
		c("rx_bps", "rx_bytes", 8),
		{name: "tx_utilization", util: true, rate: 0},
		{name: "rx_utilization", util: true, rate: 1},
		c("tx_unicast_pps", "tx_unicast_packets", 1),
		c("rx_unicast_pps", "rx_unicast_packets", 1),
		c("tx_multicast_pps", "tx_multicast_packets", 1),
		c("rx_multicast_pps", "rx_multicast_packets", 1),
		c("tx_broadcast_pps", "tx_broadcast_packets", 1),
		c("rx_broadcast_pps", "rx_broadcast_packets", 1),
		c("tx_error_pps", "tx_error_packets", 1),
		c("rx_error_pps", "rx_error_packets", 1),
		c("tx_discard_pps", "tx_discard_packets", 1),
		c("rx_discard_pps", "rx_discard_packets", 1),
		c("alignment_errors_per_second", "alignment_errors", 1),
		c("fcs_errors_per_second", "fcs_errors", 1),
		c("symbol_errors_per_second", "symbol_errors", 1),
		c("runts_per_second", "runts", 1),
		c("giants_per_second", "giants", 1),
	}
}()

// tableColumns are the columns of a table output after "value" (which
// mirrors the first, tx_bps: every stage here has a value column).
func tableColumns(suffix string) []probe.Column {
	out := make([]probe.Column, len(tmColumns))
	for i, c := range tmColumns {
		out[i] = probe.Column{Name: c.name + suffix, Kind: probe.Number}
	}
	return out
}

func init() {
	outputs := map[string]probe.Port{}
	for _, p := range trafficPorts {
		outputs[p] = probe.Port{Types: []probe.StageType{probe.NS}}
	}
	outputs[tmLive] = probe.Port{Types: []probe.StageType{probe.NS}}
	outputs[tmAverage] = probe.Port{Types: []probe.StageType{probe.NS}}
	names := make([]string, len(tmColumns))
	for i, c := range tmColumns {
		names[i] = c.name
	}
	probe.Register(&probe.Spec{
		Name:  "traffic_monitor",
		Label: "Traffic Monitor",
		Description: `Traffic Monitor Processor.

Source processor: per interface, traffic rates and utilisation. One item per
interface, keyed by system_id and interface (plus any additional properties,
which are item keys as in if_counter). Outputs, all NS and optional, at least
one connected:
  out                         Apstra 4.x's live table ("Live Interface
                              Counters"), rates between consecutive samples,
                              columns: ` + strings.Join(names, ", ") + `
                              (bits/s, percent of the port speed, packets/s,
                              errors/s)
  interface_counters_average  the same columns, each named with "_average",
                              averaged over period
  tx_bps, rx_bps              rate in bits/s over period (ours)
  tx_utilization, rx_utilization  rate / port speed x 100 over period (ours)
The table outputs also have a value column, equal to tx_bps, because every
stage here has one; Apstra's tables have only the named columns.
speed (Apstra 4.x's name) or port_speed is the speed in bits per second: a
number or constant expression applies to every interface; an expression over
graph query variables such as functions.speed_to_bits(link.speed) needs the
graph, and until graph queries are resolved on the device the interface's
speed reported by the collector is used instead (so is it when null). A
utilisation column of an interface whose speed is unknown is null.
period is the averaging period in seconds: periods end at multiples of period
since the Unix epoch (so every device closes them at the same moments), and an
average is the count over the period divided by the time actually elapsed
between its samples, so an averaged item changes once per period; 0 (the
default here; Apstra's export shows 120) averages over each sample interval. An averaged item has a value from
the end of its first period, a live one from its second sample. Counter wraps
and resets are handled as in if_counter: a reset or a re-created interface
restarts without a value instead of a spike.
Until graph queries are resolved on the device, every local interface is an
item; graph_query, system_id and interface are kept for the controller.`,
		Outputs: outputs,
		Schema: func() *probe.Schema {
			speed := func() *probe.Schema {
				return probe.Prop("number", "string", "null").Def(nil).
					Desc("Port speed in bits per second: a number, a constant expression, or an expression over graph query variables such as functions.speed_to_bits(link.speed); null uses the speed the collector reports.")
			}
			s := probe.Merge(streamingProps(), sourceProps(), map[string]*probe.Schema{
				"port_speed": speed(),
				"speed":      speed(),
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
	live    *probe.Stage                    // Apstra's out table
	average *probe.Stage                    // Apstra's interface_counters_average table
	primary *probe.Stage                    // the first connected output, which per-item state follows
	speed   float64                         // fixed port speed in bits/s, 0 to use the collector's
	period  time.Duration

	items interfaceItems
	state perItem[trafficState]
	rates []float64 // one item's live rates, reused
}

// trafficState is one interface's progress through the current period, per
// direction, and per counter of the average table.
type trafficState struct {
	tx, rx directionState
	avg    []directionState // per tmColumns entry; nil without interface_counters_average
}

type directionState struct {
	last  uint64 // counter at the previous sample
	bytes uint64 // counted since start (bytes, packets or errors)
	start int64  // start of the current period, Unix nanoseconds
	at    int64  // time of the previous sample, Unix nanoseconds
	end   int64  // end of the current period (periodEnd), Unix nanoseconds
	gen   uint64
	ok    bool
}

func newTrafficMonitor(b *probe.Build) (probe.Processor, error) {
	p := &trafficMonitor{}
	speedProp := "port_speed"
	if b.Props["port_speed"] == nil && b.Props["speed"] != nil {
		speedProp = "speed"
	}
	if v := b.Props[speedProp]; v != nil {
		speed, ok := 0.0, false
		if s, isStr := v.(string); isStr {
			if e, err := expr.Parse(s); err != nil {
				b.Errorf("properties."+speedProp, "%v", err)
			} else if !e.Constant() {
				b.Warn("%s %q needs the graph (%s); until graph queries are resolved on the device, the speed reported by the collector is used", speedProp, s, strings.Join(e.Names(), ", "))
			} else {
				speed, ok = numberProp(b, speedProp, s)
			}
		} else {
			speed, ok = numberProp(b, speedProp, v)
		}
		if ok && speed <= 0 {
			b.Errorf("properties."+speedProp, "must be positive, got %v", speed)
		}
		p.speed = speed
	}
	period, _ := numberProp(b, "period", b.Props["period"])
	if period < 0 {
		b.Errorf("properties.period", "must not be negative, got %v", period)
	}
	p.period = time.Duration(period * float64(time.Second))
	checkExpressions(b, "system_id", "interface")
	p.items.keys = newSourceKeys(b, "interface", "system_id")
	warnExtraKeys(b)
	if b.Failed() {
		return nil, nil
	}
	keys := p.items.outputKeys()
	for i, port := range trafficPorts {
		p.out[i] = b.Output(port, probe.NS, keys)
	}
	p.live = b.Output(tmLive, probe.NS, keys, tableColumns("")...)
	p.average = b.Output(tmAverage, probe.NS, keys, tableColumns("_average")...)
	for _, st := range append(p.out[:], p.live, p.average) {
		if st != nil && p.primary == nil {
			p.primary = st
		}
	}
	if p.primary == nil {
		b.Errorf("outputs", "traffic_monitor needs at least one output (%s, %s, %s)", tmLive, tmAverage, strings.Join(trafficPorts[:], ", "))
		return nil, nil
	}
	p.rates = make([]float64, len(tmColumns))
	return p, nil
}

func (p *trafficMonitor) Eval(t *probe.Tick) error {
	batch := t.Counters
	if batch == nil {
		return nil
	}
	p.items.sync(t, append(p.out[:], p.live, p.average)...)
	state := p.state.sync(p.primary)
	now := t.Time.UnixNano()
	var prev probe.Previous
	var dt float64
	haveLive := false
	if p.live != nil {
		for _, c := range tmColumns {
			if !c.util {
				t.Items.Want(c.counter)
			}
		}
		pr, at, ok := t.Items.Previous(p.items.current)
		if ok && t.Time.After(at) {
			prev, dt, haveLive = pr, t.Time.Sub(at).Seconds(), true
		}
	}
	for i := range batch.Interfaces {
		ifc := &batch.Interfaces[i]
		slot, o := p.items.slot[i], p.items.out[i]
		if slot < 0 || o < 0 {
			continue
		}
		speed := p.speed
		if speed == 0 {
			speed = float64(ifc.SpeedBps)
		}
		st := &state[o]
		if p.out != [len(trafficPorts)]*probe.Stage{} {
			if ifc.Has(collectors.TxBytes) {
				if bps, ok := st.tx.update(ifc.Counters[collectors.TxBytes], ifc.Generation, now, p.period); ok {
					p.set(0, 2, int(o), bps*8, speed)
				}
			}
			if ifc.Has(collectors.RxBytes) {
				if bps, ok := st.rx.update(ifc.Counters[collectors.RxBytes], ifc.Generation, now, p.period); ok {
					p.set(1, 3, int(o), bps*8, speed)
				}
			}
		}
		if haveLive {
			p.setLive(ifc, int(slot), int(o), prev, dt, speed)
		}
		if p.average != nil {
			p.setAverage(ifc, st, int(o), now, speed)
		}
	}
	return nil
}

// setLive writes one interface's row of the live table: each rate against
// the previous tick's counters. A row is written whole or not at all, so
// that its columns always describe the same interval.
func (p *trafficMonitor) setLive(ifc *collectors.Interface, slot, o int, prev probe.Previous, dt, speed float64) {
	got := false
	for c, col := range tmColumns {
		p.rates[c] = math.NaN()
		if col.util || !ifc.Has(col.counter) {
			continue
		}
		was, ok := prev.Counter(slot, col.counter, ifc.Generation)
		if !ok {
			continue
		}
		delta, ok := CounterDelta(was, ifc.Counters[col.counter])
		if !ok {
			continue
		}
		p.rates[c], got = float64(delta)/dt*col.scale, true
	}
	if !got {
		return
	}
	writeRow(p.live, o, p.rates, speed)
}

// setAverage adds one interface's sample to each column's period and writes
// the row of the average table when the period ended.
func (p *trafficMonitor) setAverage(ifc *collectors.Interface, st *trafficState, o int, now int64, speed float64) {
	if st.avg == nil {
		st.avg = make([]directionState, len(tmColumns))
	}
	ended := false
	for c, col := range tmColumns {
		if col.util {
			continue
		}
		if !ifc.Has(col.counter) {
			p.rates[c] = math.NaN()
			continue
		}
		r, ok := st.avg[c].update(ifc.Counters[col.counter], ifc.Generation, now, p.period)
		if ok {
			p.rates[c], ended = r*col.scale, true
		} else {
			p.rates[c] = math.NaN()
		}
	}
	if ended {
		writeRow(p.average, o, p.rates, speed)
	}
}

// writeRow sets a table row from rates (aligned with tmColumns; NaN for no
// value), computing the utilisation columns from their rates and the speed.
func writeRow(st *probe.Stage, o int, rates []float64, speed float64) {
	for c, col := range tmColumns {
		if col.util {
			rates[c] = math.NaN()
			if speed > 0 && !math.IsNaN(rates[col.rate]) {
				rates[c] = rates[col.rate] / speed * 100
			}
		}
		st.SetExtra(o, c+1, probe.Value{Num: rates[c]})
	}
	if math.IsNaN(rates[0]) {
		st.Invalidate(o)
		return
	}
	st.SetNum(o, rates[0])
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

// update adds a counter sample and returns the rate per second (of bytes,
// packets or errors) when a period ended with it.
func (d *directionState) update(cur, gen uint64, now int64, period time.Duration) (float64, bool) {
	if !d.ok || d.gen != gen {
		*d = directionState{last: cur, start: now, at: now, end: periodEnd(now, period), gen: gen, ok: true}
		return 0, false
	}
	if now <= d.at {
		return 0, false
	}
	delta, ok := CounterDelta(d.last, cur)
	d.last, d.at = cur, now
	if !ok { // reset: the bytes of this period are unknown
		d.bytes, d.start, d.end = 0, now, periodEnd(now, period)
		return 0, false
	}
	d.bytes += delta
	elapsed := time.Duration(now - d.start)
	if now < d.end || elapsed <= 0 {
		return 0, false
	}
	rate := float64(d.bytes) / elapsed.Seconds()
	d.bytes, d.start, d.end = 0, now, periodEnd(now, period)
	return rate, true
}

// periodEnd is the end of the averaging period holding now: the next
// multiple of period since the Unix epoch, so that every device (and a
// device that got its probe later) closes its periods at the same moments
// and a split probe's partials describe the same interval. With no period
// every sample ends one.
func periodEnd(now int64, period time.Duration) int64 {
	p := int64(period)
	if p <= 0 {
		return now
	}
	return (now/p + 1) * p
}
