// Package replay reads and writes recorded interface counters as JSON lines,
// one interface sample per line:
//
//	{"ts": 1700000000.5, "system_id": "leaf1", "interface": "eth0",
//	 "counters": {"tx_bytes": 123, "rx_bytes": 456}, "oper_status": "up", "speed": 10000000000}
//
// ts is Unix seconds (integer or decimal) or an RFC 3339 time; counters use
// the Apstra names and are cumulative unsigned 64-bit values; oper_status and
// speed (bits per second) are optional. Lines with the same ts form one
// batch, one evaluation tick. probe-agent collect writes this format and
// probectl simulate and the agent's replay collector read it.
package replay

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/probe-agent/probe-agent/collectors"
)

// MaxLineBytes bounds one line of a replay file.
const MaxLineBytes = 1 << 20

// Line is one decoded line.
type Line struct {
	Time      time.Time
	Interface collectors.Interface
}

type wireLine struct {
	TS         json.RawMessage            `json:"ts"`
	SystemID   string                     `json:"system_id"`
	Interface  string                     `json:"interface"`
	Counters   map[string]json.RawMessage `json:"counters"`
	OperStatus string                     `json:"oper_status,omitempty"`
	Speed      json.RawMessage            `json:"speed,omitempty"`
}

// ParseLine decodes one line.
func ParseLine(data []byte) (Line, error) {
	var w wireLine
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&w); err != nil {
		return Line{}, fmt.Errorf("not a sample object: %v", err)
	}
	if dec.More() {
		return Line{}, fmt.Errorf("more than one JSON value on the line")
	}
	var l Line
	var err error
	if l.Time, err = parseTS(w.TS); err != nil {
		return l, err
	}
	if w.Interface == "" {
		return l, fmt.Errorf("interface: required")
	}
	l.Interface.SystemID, l.Interface.Name = w.SystemID, w.Interface
	names := make([]string, 0, len(w.Counters))
	for name := range w.Counters {
		names = append(names, name)
	}
	sort.Strings(names)
	for _, name := range names {
		c, ok := collectors.ParseCounter(name)
		if !ok {
			return l, fmt.Errorf("counters.%s: unknown counter (known: %s)", name, strings.Join(collectors.CounterNames(), ", "))
		}
		v, err := strconv.ParseUint(string(w.Counters[name]), 10, 64)
		if err != nil {
			return l, fmt.Errorf("counters.%s: want a non-negative integer below 2^64, got %s", name, w.Counters[name])
		}
		l.Interface.Set(c, v)
	}
	if st, ok := collectors.ParseOperStatus(w.OperStatus); ok {
		l.Interface.Oper = st
	} else {
		return l, fmt.Errorf("oper_status: want up, down or unknown, got %q", w.OperStatus)
	}
	if len(w.Speed) > 0 {
		if l.Interface.SpeedBps, err = strconv.ParseUint(string(w.Speed), 10, 64); err != nil {
			return l, fmt.Errorf("speed: want bits per second as a non-negative integer, got %s", w.Speed)
		}
	}
	return l, nil
}

func parseTS(raw json.RawMessage) (time.Time, error) {
	if len(raw) == 0 {
		return time.Time{}, fmt.Errorf("ts: required")
	}
	var s string
	if json.Unmarshal(raw, &s) == nil {
		t, err := time.Parse(time.RFC3339Nano, s)
		if err != nil {
			return t, fmt.Errorf("ts: not an RFC 3339 time: %q", s)
		}
		return t, nil
	}
	num := string(raw)
	intPart, frac, _ := strings.Cut(num, ".")
	sec, err := strconv.ParseInt(intPart, 10, 64)
	if err != nil || len(frac) > 9 || strings.ContainsAny(num, "eE") {
		return time.Time{}, fmt.Errorf("ts: want Unix seconds or an RFC 3339 string, got %s", num)
	}
	var nsec int64
	if frac != "" {
		if nsec, err = strconv.ParseInt((frac + "000000000")[:9], 10, 64); err != nil {
			return time.Time{}, fmt.Errorf("ts: bad fraction in %s", num)
		}
	}
	if sec < 0 {
		return time.Time{}, fmt.Errorf("ts: negative time %s", num)
	}
	return time.Unix(sec, nsec).UTC(), nil
}

// Read reads a whole replay file into batches, one per distinct ts in time
// order; lines keep their file order within a batch. Errors name the line.
func Read(r io.Reader) ([]collectors.Batch, error) {
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 64*1024), MaxLineBytes)
	byTime := map[time.Time]int{}
	var batches []collectors.Batch
	// Names repeat on every tick: keep one copy of each.
	intern := map[string]string{}
	canon := func(s string) string {
		if c, ok := intern[s]; ok {
			return c
		}
		intern[s] = s
		return s
	}
	for n := 1; sc.Scan(); n++ {
		line := bytes.TrimSpace(sc.Bytes())
		if len(line) == 0 || line[0] == '#' {
			continue
		}
		l, err := ParseLine(line)
		if err != nil {
			return nil, fmt.Errorf("line %d: %w", n, err)
		}
		l.Interface.SystemID, l.Interface.Name = canon(l.Interface.SystemID), canon(l.Interface.Name)
		i, ok := byTime[l.Time]
		if !ok {
			i = len(batches)
			byTime[l.Time] = i
			batches = append(batches, collectors.Batch{Time: l.Time})
		}
		batches[i].Interfaces = append(batches[i].Interfaces, l.Interface)
	}
	if err := sc.Err(); err != nil {
		return nil, fmt.Errorf("reading replay file: %w", err)
	}
	sort.SliceStable(batches, func(i, j int) bool { return batches[i].Time.Before(batches[j].Time) })
	assignLayouts(batches)
	return batches, nil
}

// ReadFile reads a replay file by name.
func ReadFile(name string) ([]collectors.Batch, error) {
	f, err := os.Open(name)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	b, err := Read(f)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", name, err)
	}
	return b, nil
}

// assignLayouts gives consecutive batches with the same interfaces in the
// same order the same Layout.
func assignLayouts(batches []collectors.Batch) {
	var layout uint64
	for i := range batches {
		if i == 0 || !sameLayout(&batches[i-1], &batches[i]) {
			layout++
		}
		batches[i].Layout = layout
	}
}

func sameLayout(a, b *collectors.Batch) bool {
	if len(a.Interfaces) != len(b.Interfaces) {
		return false
	}
	for i := range a.Interfaces {
		if a.Interfaces[i].Name != b.Interfaces[i].Name || a.Interfaces[i].SystemID != b.Interfaces[i].SystemID {
			return false
		}
	}
	return true
}

// WriteBatch writes a batch as replay lines.
func WriteBatch(w io.Writer, b *collectors.Batch) error {
	bw := bufio.NewWriter(w)
	var buf []byte
	for i := range b.Interfaces {
		buf = AppendLine(buf[:0], b.Time, &b.Interfaces[i])
		if _, err := bw.Write(buf); err != nil {
			return err
		}
	}
	return bw.Flush()
}

// AppendLine appends one replay line, newline included, for ifc at t.
func AppendLine(buf []byte, t time.Time, ifc *collectors.Interface) []byte {
	buf = append(buf, `{"ts":`...)
	buf = strconv.AppendInt(buf, t.Unix(), 10)
	if ns := t.Nanosecond(); ns != 0 {
		frac := strconv.AppendInt(nil, int64(ns)+1e9, 10)[1:]
		buf = append(buf, '.')
		buf = append(buf, bytes.TrimRight(frac, "0")...)
	}
	buf = append(buf, `,"system_id":`...)
	buf = strconv.AppendQuote(buf, ifc.SystemID)
	buf = append(buf, `,"interface":`...)
	buf = strconv.AppendQuote(buf, ifc.Name)
	buf = append(buf, `,"counters":{`...)
	first := true
	for c := collectors.Counter(0); c < collectors.NumCounters; c++ {
		if !ifc.Has(c) {
			continue
		}
		if !first {
			buf = append(buf, ',')
		}
		first = false
		buf = strconv.AppendQuote(buf, c.String())
		buf = append(buf, ':')
		buf = strconv.AppendUint(buf, ifc.Counters[c], 10)
	}
	buf = append(buf, '}')
	if ifc.Oper != collectors.OperUnknown {
		buf = append(buf, `,"oper_status":"`...)
		buf = append(buf, ifc.Oper.String()...)
		buf = append(buf, '"')
	}
	if ifc.SpeedBps != 0 {
		buf = append(buf, `,"speed":`...)
		buf = strconv.AppendUint(buf, ifc.SpeedBps, 10)
	}
	return append(buf, "}\n"...)
}

// Collector replays batches as a live source: each Collect returns the next
// batch with its time shifted so the first batch is "now", looping at the
// end with counters continuing from where the recording ended, so rates stay
// as recorded instead of dropping to a reset. It keeps the recording
// compactly (interface metadata once per distinct set of interfaces, then
// only the counters the source reported), so a long recording of thousands
// of interfaces does not dominate the agent's memory.
type Collector struct {
	frames    []frame
	templates []template
	// inc is each (interface, counter)'s growth over one pass of the
	// recording plus one interval, indexed pair*NumCounters+counter.
	inc    []uint64
	next   int
	loops  uint64
	offset time.Duration
	now    func() time.Time
	span   time.Duration
	gap    time.Duration
}

// frame is one recorded batch: its time, its interfaces' template, and the
// valid counters of each interface in order.
type frame struct {
	time   time.Time
	layout uint64
	tmpl   int
	values []uint64
}

// template is the interfaces of a batch without their counters.
type template struct {
	ifaces []collectors.Interface
	pair   []int // index of each interface's (system, name) pair
}

// NewCollector makes a replaying collector over a file's batches; the
// caller may drop the batches afterwards.
func NewCollector(batches []collectors.Batch, now func() time.Time) (*Collector, error) {
	if len(batches) == 0 {
		return nil, fmt.Errorf("replay: no samples")
	}
	if now == nil {
		now = time.Now
	}
	c := &Collector{now: now}
	c.span = batches[len(batches)-1].Time.Sub(batches[0].Time)
	c.gap = time.Second
	if len(batches) > 1 {
		c.gap = c.span / time.Duration(len(batches)-1)
	}
	pairs := map[[2]string]int{}
	first := map[int][collectors.NumCounters]uint64{}
	last := map[int][collectors.NumCounters]uint64{}
	for bi := range batches {
		b := &batches[bi]
		if len(c.templates) == 0 || !sameTemplate(c.templates[len(c.templates)-1].ifaces, b.Interfaces) {
			t := template{ifaces: make([]collectors.Interface, len(b.Interfaces)), pair: make([]int, len(b.Interfaces))}
			for i, ifc := range b.Interfaces {
				ifc.Counters = [collectors.NumCounters]uint64{}
				t.ifaces[i] = ifc
				k := [2]string{ifc.SystemID, ifc.Name}
				p, ok := pairs[k]
				if !ok {
					p = len(pairs)
					pairs[k] = p
				}
				t.pair[i] = p
			}
			c.templates = append(c.templates, t)
		}
		f := frame{time: b.Time, layout: b.Layout, tmpl: len(c.templates) - 1}
		t := &c.templates[f.tmpl]
		for i := range b.Interfaces {
			ifc := &b.Interfaces[i]
			for ci := collectors.Counter(0); ci < collectors.NumCounters; ci++ {
				if ifc.Has(ci) {
					f.values = append(f.values, ifc.Counters[ci])
				}
			}
			p := t.pair[i]
			if _, ok := first[p]; !ok {
				first[p] = ifc.Counters
			}
			last[p] = ifc.Counters
		}
		f.values = f.values[:len(f.values):len(f.values)]
		c.frames = append(c.frames, f)
	}
	// One interval's worth more than the pass, so the jump from the last
	// sample back to the first looks like an ordinary interval.
	c.inc = make([]uint64, len(pairs)*int(collectors.NumCounters))
	steps := uint64(len(batches) - 1)
	for p, l := range last {
		f := first[p]
		for i := range l {
			if l[i] >= f[i] && steps > 0 {
				d := l[i] - f[i]
				c.inc[p*int(collectors.NumCounters)+i] = d + d/steps
			}
		}
	}
	return c, nil
}

// sameTemplate reports whether b has the same interfaces as t, apart from
// their counter values.
func sameTemplate(t, b []collectors.Interface) bool {
	if len(t) != len(b) {
		return false
	}
	for i := range t {
		x, y := t[i], b[i]
		x.Counters, y.Counters = [collectors.NumCounters]uint64{}, [collectors.NumCounters]uint64{}
		if x != y {
			return false
		}
	}
	return true
}

// Collect implements collectors.Collector.
func (c *Collector) Collect(_ context.Context, b *collectors.Batch) error {
	if c.next == 0 && c.loops == 0 {
		c.offset = c.now().Sub(c.frames[0].time)
	}
	f := &c.frames[c.next]
	t := &c.templates[f.tmpl]
	b.Time = f.time.Add(c.offset + time.Duration(c.loops)*(c.span+c.gap))
	b.Layout = f.layout
	b.Interfaces = append(b.Interfaces[:0], t.ifaces...)
	k := 0
	for i := range b.Interfaces {
		ifc := &b.Interfaces[i]
		base := t.pair[i] * int(collectors.NumCounters)
		for ci := collectors.Counter(0); ci < collectors.NumCounters; ci++ {
			if ifc.Has(ci) {
				ifc.Counters[ci] = f.values[k] + c.inc[base+int(ci)]*c.loops
				k++
			}
		}
	}
	c.next++
	if c.next == len(c.frames) {
		c.next = 0
		c.loops++
	}
	return nil
}

// Close implements collectors.Collector.
func (c *Collector) Close() error { return nil }
