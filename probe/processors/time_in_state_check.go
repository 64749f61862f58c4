package processors

import (
	"errors"
	"fmt"
	"sort"
	"time"

	"github.com/probe-agent/probe-agent/probe"
)

func init() {
	bound := probe.Object(map[string]*probe.Schema{
		"min": probe.Prop("number", "string").Desc("Lower bound in seconds, inclusive; a number or an expression. Missing means no lower bound."),
		"max": probe.Prop("number", "string").Desc("Upper bound in seconds, inclusive; a number or an expression. Missing means no upper bound."),
	})
	stateRange := &probe.Schema{
		Type:                 []string{"object"},
		ClosedObject:         true,
		AdditionalProperties: probe.Prop("array").Of(bound),
		Description:          "Per state, a list of duration ranges {min, max} in seconds. State keys are expressions in the 4.x dialect (\"'true'\" or \"\\\"true\\\"\") and literals in the seed dialect.",
	}
	probe.Register(&probe.Spec{
		Name:    "time_in_state_check",
		Label:   "Time in State",
		Aliases: []string{"time_in_state"},
		Description: `Time in State Check Processor.

For each input item, measures how long the item was in each state listed in
state_range during the last time_window seconds, and checks each duration
against that state's ranges {min, max} (bounds inclusive; a missing bound is
infinite; several ranges per state are alternatives). Time comes from tick
timestamps: a value observed at a tick holds until the next tick, and time
before the item was first seen, or while it had no value, counts for no state
(so a duration reaches time_window only after the item was watched that long).
The output is "true" for an anomalous item, and its meaning follows the
probe's dialect: in the 4.x dialect ({"stage", "column"} inputs) the ranges are
the anomalous durations and the output is "true" when any listed state's
duration lies inside one of its ranges; in the seed dialect (stage-name
inputs) the ranges are the expected durations and the output is "true" when
any listed state's duration lies outside all of its ranges. State keys are
expressions in the 4.x dialect, so write "'true'" or "\"true\"" for the string
true; they are literals in the seed dialect (one level of matching quotes is
removed there too). Input is DS or DSS (a time series
contributes its last value at each tick); output is DS or DSS with the input's
keys. Each item keeps at most 65536 state changes within the window. With
raise_anomaly every "true" item raises an anomaly carrying the duration and
the range.`,
		Inputs:  map[string]probe.Port{"in": {Required: true, Types: stateTypes}},
		Outputs: map[string]probe.Port{"out": {Required: true, Types: []probe.StageType{probe.DS, probe.DSS}}},
		Schema: withRequired(probe.Merge(streamingProps(), graphQueryProps(), anomalyProps(), map[string]*probe.Schema{
			"time_window": probe.Prop("integer", "string").
				Desc("Seconds of history the durations are measured over; a number or an expression such as \"60 * 15\"."),
			"state_range": stateRange,
		}), "time_window", "state_range"),
		New: newTimeInState,
	})
}

// durationRange is one {min, max} of a state; ev is the evidence template
// it produces.
type durationRange struct {
	ev probe.Evidence
}

func (r *durationRange) contains(sec float64) bool {
	return (!r.ev.HasMin || sec >= r.ev.Min) && (!r.ev.HasMax || sec <= r.ev.Max)
}

type timeInState struct {
	in     *probe.Input
	out    *probe.Stage
	window int64 // nanoseconds
	states []string
	ranges [][]durationRange // per state
	// inside is true when a duration inside a range is anomalous (4.x).
	inside   bool
	tracks   perItem[stateTrack]
	layout   uint64
	dur      []int64 // per state, reused every item
	graphErr error
}

func newTimeInState(b *probe.Build) (probe.Processor, error) {
	var cfg struct {
		Raise bool `json:"raise_anomaly"`
	}
	if err := b.Decode(&cfg); err != nil {
		return nil, err
	}
	in := b.Input("in")
	p := &timeInState{in: in, inside: b.Dialect.AnomalousRanges()}
	if w, ok := numberProp(b, "time_window", b.Props["time_window"]); ok {
		if w <= 0 {
			b.Errorf("properties.time_window", "must be positive, got %v", w)
		}
		p.window = int64(w * float64(time.Second))
	}
	sr, _ := b.Props["state_range"].(map[string]any)
	if sr != nil && len(sr) == 0 {
		b.Errorf("properties.state_range", "needs at least one state")
	}
	keys := make([]string, 0, len(sr))
	for k := range sr {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, key := range keys {
		field := "properties.state_range." + key
		s, ok := resolveStringExpr(b, field, key)
		if !ok {
			continue
		}
		if !b.Dialect.StringExpressions() {
			s.Value = unquoteOnce(key) // old templates sometimes quote keys too
		}
		if s.GraphDependent {
			p.graphErr = errors.New("state_range depends on graph query results; resolved by the controller")
		}
		idx := -1
		for k, existing := range p.states {
			if existing == s.Value {
				idx = k
			}
		}
		if idx < 0 {
			idx = len(p.states)
			p.states = append(p.states, s.Value)
			p.ranges = append(p.ranges, nil)
		}
		list, _ := sr[key].([]any)
		if len(list) == 0 {
			b.Errorf(field, "needs at least one range {min, max}")
		}
		for j, raw := range list {
			obj, _ := raw.(map[string]any)
			rf := fmt.Sprintf("state_range.%s[%d]", key, j)
			r := durationRange{ev: probe.Evidence{Kind: probe.Number, State: s.Value, Anomalous: p.inside}}
			r.ev.Min, r.ev.HasMin = numberProp(b, rf+".min", obj["min"])
			r.ev.Max, r.ev.HasMax = numberProp(b, rf+".max", obj["max"])
			switch {
			case !r.ev.HasMin && !r.ev.HasMax && !b.Failed():
				b.Errorf("properties."+rf, "needs min, max or both")
			case r.ev.HasMin && r.ev.HasMax && r.ev.Min > r.ev.Max:
				b.Errorf("properties."+rf, "min %v is greater than max %v", r.ev.Min, r.ev.Max)
			}
			p.ranges[idx] = append(p.ranges[idx], r)
		}
	}
	if b.Failed() || len(p.states) == 0 {
		return nil, nil
	}
	p.dur = make([]int64, len(p.states))
	p.out = b.Output("out", checkerType(in.Type), in.Stage.Keys)
	p.out.RaisesAnomalies = cfg.Raise
	return p, nil
}

func (p *timeInState) Eval(t *probe.Tick) error {
	if p.graphErr != nil {
		return p.graphErr
	}
	st := p.in.Stage
	p.out.Mirror(st)
	tracks := p.tracks.sync(p.out)
	if p.layout != p.out.Layout() {
		p.layout = p.out.Layout()
		giveSpanStorage(tracks)
	}
	now := t.Time.UnixNano()
	from := now - p.window
	for i := range tracks {
		tr := &tracks[i]
		valid := st.Valid(i)
		state := int32(-1)
		if valid {
			v := p.in.Str(i)
			for k, s := range p.states {
				if v == s {
					state = int32(k)
					break
				}
			}
		}
		tr.observe(now, state)
		tr.trim(from)
		if !valid {
			p.out.Invalidate(i)
			continue
		}
		tr.durations(from, now, p.dur)
		bad, ev := p.check()
		p.out.SetCheck(i, bad, ev)
	}
	return nil
}

// check decides one item from the durations in p.dur. The evidence is the
// range that decided, or the first range of the first state.
func (p *timeInState) check() (bool, probe.Evidence) {
	for k, ranges := range p.ranges {
		sec := float64(p.dur[k]) / float64(time.Second)
		in := -1
		for j := range ranges {
			if ranges[j].contains(sec) {
				in = j
				break
			}
		}
		switch {
		case p.inside && in >= 0:
			ev := ranges[in].ev
			ev.Actual.Num = sec
			return true, ev
		case !p.inside && in < 0:
			ev := ranges[0].ev
			ev.Actual.Num = sec
			return true, ev
		}
	}
	ev := p.ranges[0][0].ev
	ev.Actual.Num = float64(p.dur[0]) / float64(time.Second)
	return false, ev
}

// stateSpan is a stretch of time an item spent in one state, from start to
// the start of the next span (or now). state indexes the listed states; -1
// stands for any other value or no value.
type stateSpan struct {
	start int64
	state int32
}

// stateTrack is a ring of an item's state spans covering the time window.
type stateTrack struct {
	spans   []stateSpan
	head, n int
}

const initialSpans = 4

// giveSpanStorage gives every track without storage a few spans cut from
// one shared block, so new items cost one allocation per layout change, not
// one each. A track that outgrows them gets its own.
func giveSpanStorage(tracks []stateTrack) {
	need := 0
	for i := range tracks {
		if tracks[i].spans == nil {
			need++
		}
	}
	if need == 0 {
		return
	}
	block := make([]stateSpan, need*initialSpans)
	for i := range tracks {
		if tracks[i].spans == nil {
			tracks[i].spans, block = block[:initialSpans:initialSpans], block[initialSpans:]
		}
	}
}

func (r *stateTrack) at(j int) *stateSpan { return &r.spans[(r.head+j)%len(r.spans)] }

// observe records the state seen at time now, starting a span when it
// differs from the current one.
func (r *stateTrack) observe(now int64, state int32) {
	if r.n > 0 && r.at(r.n-1).state == state {
		return
	}
	if r.n == len(r.spans) {
		if r.n >= probe.HardMaxSamples {
			r.head = (r.head + 1) % len(r.spans)
			r.n--
		} else {
			grown := make([]stateSpan, max(initialSpans, 2*r.n))
			for j := 0; j < r.n; j++ {
				grown[j] = *r.at(j)
			}
			r.spans, r.head = grown, 0
		}
	}
	*r.at(r.n) = stateSpan{start: now, state: state}
	r.n++
}

// trim drops the spans that ended at or before from.
func (r *stateTrack) trim(from int64) {
	for r.n >= 2 && r.at(1).start <= from {
		r.head = (r.head + 1) % len(r.spans)
		r.n--
	}
}

// durations sets dur[k] to the time spent in listed state k within
// [from, now].
func (r *stateTrack) durations(from, now int64, dur []int64) {
	clear(dur)
	for j := 0; j < r.n; j++ {
		s := r.at(j)
		end := now
		if j+1 < r.n {
			end = r.at(j + 1).start
		}
		start := max(s.start, from)
		if s.state >= 0 && end > start {
			dur[s.state] += end - start
		}
	}
}
