package replay

import (
	"unicode/utf8"

	"github.com/probe-agent/probe-agent/collectors"
)

// scanLine decodes, without allocating, a line in the plain form that
// AppendLine writes: one object with each field at most once, names in lower
// case, strings without escapes, numbers as plain literals, and known
// counters. Whitespace and field order are free. It reports false for
// anything else, valid or not, and leaves that line to decodeLine, so that
// decodeLine alone decides what the format accepts and how errors read;
// FuzzScanLineAgreesWithDecodeLine holds the two together.
func scanLine(data []byte, names nameTable) (Line, bool) {
	s := lineScanner{b: data}
	var (
		l                         Line
		ts, system, name, oper    []byte
		seenTS, seenSys, seenName bool
		seenCounters, seenOper    bool
		seenSpeed                 bool
	)
	if !s.skip('{') {
		return l, false
	}
	if !s.skip('}') {
		for {
			key, ok := s.str()
			if !ok || !s.skip(':') {
				return l, false
			}
			switch string(key) {
			case "ts":
				if seenTS {
					return l, false
				}
				seenTS = true
				if ts, ok = s.tsValue(); !ok {
					return l, false
				}
			case "system_id":
				if seenSys {
					return l, false
				}
				seenSys = true
				if system, ok = s.str(); !ok {
					return l, false
				}
			case "interface":
				if seenName {
					return l, false
				}
				seenName = true
				if name, ok = s.str(); !ok {
					return l, false
				}
			case "counters":
				if seenCounters || !s.counters(&l.Interface) {
					return l, false
				}
				seenCounters = true
			case "oper_status":
				if seenOper {
					return l, false
				}
				seenOper = true
				if oper, ok = s.str(); !ok {
					return l, false
				}
			case "speed":
				if seenSpeed {
					return l, false
				}
				seenSpeed = true
				if l.Interface.SpeedBps, ok = s.uint(); !ok {
					return l, false
				}
			default:
				return l, false
			}
			if s.skip('}') {
				break
			}
			if !s.skip(',') {
				return l, false
			}
		}
	}
	if s.ws(); s.i != len(s.b) {
		return l, false
	}
	var err error
	if l.Time, err = parseTS(ts); err != nil || len(name) == 0 {
		return l, false
	}
	st, ok := parseOperStatus(oper)
	if !ok {
		return l, false
	}
	l.Interface.Oper = st
	l.Interface.SystemID, l.Interface.Name = names.bytes(system), names.bytes(name)
	return l, true
}

// parseOperStatus is collectors.ParseOperStatus(string(b)) without the
// string.
func parseOperStatus(b []byte) (collectors.OperStatus, bool) {
	switch string(b) {
	case "up":
		return collectors.OperUp, true
	case "down":
		return collectors.OperDown, true
	case "", "unknown":
		return collectors.OperUnknown, true
	}
	return collectors.OperUnknown, false
}

// lineScanner walks one line for scanLine.
type lineScanner struct {
	b []byte
	i int
}

// ws skips JSON whitespace.
func (s *lineScanner) ws() {
	for s.i < len(s.b) {
		switch s.b[s.i] {
		case ' ', '\t', '\n', '\r':
			s.i++
		default:
			return
		}
	}
}

// skip consumes c after whitespace if it comes next.
func (s *lineScanner) skip(c byte) bool {
	s.ws()
	if s.i < len(s.b) && s.b[s.i] == c {
		s.i++
		return true
	}
	return false
}

// str consumes a string without escapes or control characters, in valid
// UTF-8, and returns its contents.
func (s *lineScanner) str() ([]byte, bool) {
	if !s.skip('"') {
		return nil, false
	}
	start, ascii := s.i, true
	for ; s.i < len(s.b); s.i++ {
		switch c := s.b[s.i]; {
		case c == '"':
			v := s.b[start:s.i]
			s.i++
			return v, ascii || utf8.Valid(v)
		case c == '\\' || c < 0x20:
			return nil, false
		case c >= utf8.RuneSelf:
			ascii = false
		}
	}
	return nil, false
}

// number consumes a JSON number literal.
func (s *lineScanner) number() ([]byte, bool) {
	s.ws()
	start := s.i
	if s.i < len(s.b) && s.b[s.i] == '-' {
		s.i++
	}
	switch {
	case s.i < len(s.b) && s.b[s.i] == '0':
		s.i++
	case s.digits() == 0:
		return nil, false
	}
	if s.i < len(s.b) && s.b[s.i] == '.' {
		s.i++
		if s.digits() == 0 {
			return nil, false
		}
	}
	if s.i < len(s.b) && (s.b[s.i] == 'e' || s.b[s.i] == 'E') {
		s.i++
		if s.i < len(s.b) && (s.b[s.i] == '+' || s.b[s.i] == '-') {
			s.i++
		}
		if s.digits() == 0 {
			return nil, false
		}
	}
	return s.b[start:s.i], true
}

func (s *lineScanner) digits() int {
	start := s.i
	for s.i < len(s.b) && s.b[s.i] >= '0' && s.b[s.i] <= '9' {
		s.i++
	}
	return s.i - start
}

// uint consumes a number literal that is an unsigned 64-bit integer.
func (s *lineScanner) uint() (uint64, bool) {
	n, ok := s.number()
	if !ok {
		return 0, false
	}
	return collectors.ParseUint(n)
}

// tsValue consumes the value of ts, a number or a string, and returns it as
// raw JSON for parseTS.
func (s *lineScanner) tsValue() ([]byte, bool) {
	s.ws()
	if s.i < len(s.b) && s.b[s.i] == '"' {
		start := s.i
		if _, ok := s.str(); !ok {
			return nil, false
		}
		return s.b[start:s.i], true
	}
	return s.number()
}

// counters consumes the counters object into ifc.
func (s *lineScanner) counters(ifc *collectors.Interface) bool {
	if !s.skip('{') {
		return false
	}
	if s.skip('}') {
		return true
	}
	for {
		key, ok := s.str()
		if !ok || !s.skip(':') {
			return false
		}
		c, ok := counterByName(key)
		if !ok || ifc.Has(c) {
			return false
		}
		v, ok := s.uint()
		if !ok {
			return false
		}
		ifc.Set(c, v)
		if s.skip('}') {
			return true
		}
		if !s.skip(',') {
			return false
		}
	}
}

// counterByName is collectors.ParseCounter(string(b)) without the string.
func counterByName(b []byte) (collectors.Counter, bool) {
	for c := collectors.Counter(0); c < collectors.NumCounters; c++ {
		if c.String() == string(b) {
			return c, true
		}
	}
	return 0, false
}
