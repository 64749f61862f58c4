// Package replay reads and writes recorded interface counters as JSON lines,
// one interface sample per line:
//
//	{"ts": 1700000000.5, "system_id": "leaf1", "interface": "eth0",
//	 "counters": {"tx_bytes": 123, "rx_bytes": 456}, "oper_status": "up", "speed": 10000000000}
//
// ts is Unix seconds (any JSON number, exponents included, to the nanosecond) or an RFC 3339 time; counters use
// the Apstra names and are cumulative unsigned 64-bit values; oper_status and
// speed (bits per second) are optional. Lines with the same ts form one
// batch, one evaluation tick. probe-agent collect writes this format;
// probectl simulate reads it whole (Read), and the agent's replay collector
// streams it (FileCollector), which needs the lines in time order, as
// collect writes them.
package replay

import (
	"bufio"
	"bytes"
	"encoding/json"
	"fmt"
	"io"
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

// ParseLine decodes one line.
func ParseLine(data []byte) (Line, error) { return parseLine(data, nil) }

// parseLine decodes one line, taking the system and interface names from
// names when it is not nil. Lines in the form probe-agent collect writes
// are scanned without allocating (scanLine); anything else, errors
// included, is decoded by decodeLine, which defines the format.
func parseLine(data []byte, names nameTable) (Line, error) {
	if l, ok := scanLine(data, names); ok {
		return l, nil
	}
	l, err := decodeLine(data)
	if err == nil && names != nil {
		l.Interface.SystemID, l.Interface.Name = names.canon(l.Interface.SystemID), names.canon(l.Interface.Name)
	}
	return l, err
}

type wireLine struct {
	TS         json.RawMessage            `json:"ts"`
	SystemID   string                     `json:"system_id"`
	Interface  string                     `json:"interface"`
	Counters   map[string]json.RawMessage `json:"counters"`
	OperStatus string                     `json:"oper_status,omitempty"`
	Speed      json.RawMessage            `json:"speed,omitempty"`
}

// decodeLine decodes one line with encoding/json.
func decodeLine(data []byte) (Line, error) {
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

// parseTS decodes the raw JSON value of ts. It allocates only for RFC 3339
// strings and errors.
func parseTS(raw []byte) (time.Time, error) {
	if len(raw) == 0 {
		return time.Time{}, fmt.Errorf("ts: required")
	}
	// A number cannot be decoded as a string; anything else (a string,
	// null) is tried as one.
	if c := raw[0]; c != '-' && (c < '0' || c > '9') {
		var s string
		if json.Unmarshal(raw, &s) == nil {
			t, err := time.Parse(time.RFC3339Nano, s)
			if err != nil {
				return t, fmt.Errorf("ts: not an RFC 3339 time: %q", s)
			}
			return t, nil
		}
	}
	intPart, frac, ok := splitDecimal(raw)
	var sec int64
	if ok {
		sec, ok = parseInt64(intPart)
	}
	if !ok || len(frac) > 9 {
		return time.Time{}, fmt.Errorf("ts: want Unix seconds (at most nanosecond precision) or an RFC 3339 string, got %s", raw)
	}
	var nsec int64
	if len(frac) > 0 {
		for i := 0; i < 9; i++ {
			nsec *= 10
			if i < len(frac) {
				d := frac[i]
				if d < '0' || d > '9' {
					return time.Time{}, fmt.Errorf("ts: bad fraction in %s", raw)
				}
				nsec += int64(d - '0')
			}
		}
	}
	if sec < 0 {
		return time.Time{}, fmt.Errorf("ts: negative time %s", raw)
	}
	return time.Unix(sec, nsec).UTC(), nil
}

// splitDecimal splits a JSON number into its integer digits (with the sign)
// and its fraction digits, applying an exponent exactly: 1.7e+09 is
// "1700000000" and "", 17e-1 is "1" and "7". Trailing zeros of the fraction
// are dropped. It allocates only for an exponent.
func splitDecimal(raw []byte) (intPart, frac []byte, ok bool) {
	mant, exp, hasExp := bytes.Cut(raw, []byte("e"))
	if !hasExp {
		mant, exp, hasExp = bytes.Cut(raw, []byte("E"))
	}
	intPart, frac, _ = bytes.Cut(mant, []byte("."))
	if !hasExp {
		return intPart, bytes.TrimRight(frac, "0"), true
	}
	e, ok := parseInt64(exp)
	if !ok || len(exp) == 0 || e > 30 || e < -30 {
		return nil, nil, false
	}
	sign := []byte(nil)
	if len(intPart) > 0 && (intPart[0] == '-' || intPart[0] == '+') {
		sign, intPart = intPart[:1], intPart[1:]
	}
	digits := append(append([]byte(nil), intPart...), frac...)
	point := len(intPart) + int(e)
	switch {
	case point <= 0:
		frac = append(bytes.Repeat([]byte("0"), -point), digits...)
		intPart = []byte("0")
	case point >= len(digits):
		intPart = append(digits, bytes.Repeat([]byte("0"), point-len(digits))...)
		frac = nil
	default:
		intPart, frac = digits[:point], digits[point:]
	}
	return append(sign, intPart...), bytes.TrimRight(frac, "0"), true
}

// parseInt64 is strconv.ParseInt(string(b), 10, 64) without the string.
func parseInt64(b []byte) (int64, bool) {
	neg := false
	if len(b) > 0 && (b[0] == '-' || b[0] == '+') {
		neg = b[0] == '-'
		b = b[1:]
	}
	u, ok := collectors.ParseUint(b)
	if !ok {
		return 0, false
	}
	if neg {
		if u > 1<<63 {
			return 0, false
		}
		return -int64(u), true
	}
	if u > 1<<63-1 {
		return 0, false
	}
	return int64(u), true
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
