package processors

import (
	"math"
	"sort"
	"strings"

	"github.com/probe-agent/probe-agent/collectors"
	"github.com/probe-agent/probe-agent/probe"
)

func init() {
	names := append(collectors.CounterNames(), "tx_bps", "rx_bps", "tx_bits", "rx_bits")
	enum := make([]any, len(names))
	for i, n := range names {
		enum[i] = n
	}
	probe.Register(&probe.Spec{
		Name:  "if_counter",
		Label: "Interface Counters",
		Description: `Interface Counters Processor.

Source processor: the per-second rate (first time-derivative) of one interface
counter, one item per interface, keyed by system_id and interface. Output is NS.
counter_type is an Apstra counter name; tx_bps and rx_bps, and their Apstra
3.x spellings tx_bits and rx_bits, are the byte counters times 8 (bits per
second). Additional properties (e.g. "group", "description") are item keys
whose values are expressions over the graph query's variables, as in Apstra:
they can be grouped on downstream; on a device whose graph queries the
controller has not resolved they are empty. An item has a value from its second sample on. A counter that goes
backwards is a 32-bit wrap when the previous value was in the upper half of the
32-bit range, a 64-bit wrap when it was in the upper half of the 64-bit range,
and otherwise a reset: the rate is then re-based on the next sample instead of
reporting a negative or spiked value; so is a re-created interface.
Until graph queries are resolved on the device, every local interface is an
item; graph_query, system_id and interface are kept for the controller.`,
		Outputs: map[string]probe.Port{"out": {Required: true, Types: []probe.StageType{probe.NS}}},
		Schema: func() *probe.Schema {
			s := probe.Merge(streamingProps(), sourceProps(), map[string]*probe.Schema{
				"counter_type": probe.Prop("string").OneOf(enum...).Desc("Counter whose rate is computed."),
			})
			s.Required = []string{"counter_type"}
			s.AdditionalProperties = probe.Prop("string").Desc("Additional item key, an expression over graph query variables.")
			return s
		}(),
		New: newIfCounter,
	})
}

// sourceProps are the graph-related properties of source processors.
func sourceProps() map[string]*probe.Schema {
	return map[string]*probe.Schema{
		"graph_query": probe.Prop("string", "array").Def("").Of(probe.Prop("string")).
			Desc("Graph query selecting the interfaces; resolved by the controller."),
		"system_id": probe.Prop("string").Def("system.system_id").
			Desc("Expression giving the system id of a query match."),
		"interface": probe.Prop("string").Def("intf.if_name").
			Desc("Expression giving the interface name of a query match."),
		"query_group_by":   probe.Prop("array", "null").Def(nil).Of(probe.Prop("string")).Desc("Group query matches by these names."),
		"query_tag_filter": probe.Prop("object").Desc("Filter matches by tags on named nodes."),
		"query_expansion":  probe.Prop("object").Desc("Multiply matches by generated values."),
	}
}

type ifCounter struct {
	counter collectors.Counter
	scale   float64
	out     *probe.Stage

	items interfaceItems
}

func newIfCounter(b *probe.Build) (probe.Processor, error) {
	var cfg struct {
		CounterType string `json:"counter_type"`
	}
	if err := b.Decode(&cfg); err != nil {
		return nil, err
	}
	p := &ifCounter{scale: 1}
	name := cfg.CounterType
	for _, suffix := range []string{"_bps", "_bits"} {
		if strings.HasSuffix(name, suffix) {
			name, p.scale = strings.TrimSuffix(name, suffix)+"_bytes", 8
		}
	}
	c, ok := collectors.ParseCounter(name)
	if !ok {
		b.Errorf("properties.counter_type", "unknown counter %q", cfg.CounterType)
		return nil, nil
	}
	p.counter = c
	checkExpressions(b, "system_id", "interface")
	p.items.keys = newSourceKeys(b, "interface", "system_id")
	warnExtraKeys(b)
	p.out = b.Output("out", probe.NS, p.items.outputKeys())
	return p, nil
}

// warnExtraKeys says, on a device whose graph queries are not resolved,
// that a source's additional properties are item keys without values yet.
func warnExtraKeys(b *probe.Build) {
	if b.Resolved != nil {
		return
	}
	for _, k := range extraKeys(b) {
		b.Warn("processor %q: property %q is an item key whose value comes from the graph query; until the controller resolves it, it is empty on a device", b.Name, k)
	}
}

// extraKeys lists the properties a source processor's schema does not
// define: Apstra turns them into additional item keys.
func extraKeys(b *probe.Build) []string {
	spec, _ := probe.Lookup(b.Type)
	var out []string
	for k := range b.Props {
		if _, known := spec.Schema.Properties[k]; !known {
			out = append(out, k)
		}
	}
	sort.Strings(out)
	return out
}

// Eval computes each rate against the previous tick's counters, which all
// counter sources share (probe.ItemCache), so the processor keeps no
// per-interface state of its own.
func (p *ifCounter) Eval(t *probe.Tick) error {
	batch := t.Counters
	if batch == nil {
		return nil
	}
	p.items.sync(t, p.out)
	t.Items.Want(p.counter)
	prev, at, ok := t.Items.Previous(p.items.current)
	if !ok || !t.Time.After(at) {
		return nil
	}
	dt := t.Time.Sub(at).Seconds()
	for i := range batch.Interfaces {
		ifc := &batch.Interfaces[i]
		slot, o := p.items.slot[i], p.items.out[i]
		if slot < 0 || o < 0 || !ifc.Has(p.counter) {
			continue
		}
		was, ok := prev.Counter(int(slot), p.counter, ifc.Generation)
		if !ok {
			continue
		}
		delta, ok := CounterDelta(was, ifc.Counters[p.counter])
		if !ok {
			continue
		}
		p.out.SetNum(int(o), float64(delta)/dt*p.scale)
	}
	return nil
}

// CounterDelta is the increase of a cumulative counter from prev to cur,
// telling wraps from resets: ok is false for a reset, whose delta is unknown.
func CounterDelta(prev, cur uint64) (delta uint64, ok bool) {
	switch {
	case cur >= prev:
		return cur - prev, true
	case prev <= math.MaxUint32 && prev >= 1<<31 && cur <= math.MaxUint32:
		return (1<<32 - prev) + cur, true
	case prev >= 1<<63:
		return (math.MaxUint64 - prev) + cur + 1, true
	}
	return 0, false
}
