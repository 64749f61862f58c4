package stream

import (
	"math"

	"google.golang.org/protobuf/encoding/protowire"

	"github.com/probe-agent/probe-agent/proto/aos"
)

// The receiving counterpart of fastpath.go. Decoding through the generic runtime
// allocates every string, every string pointer and every sub-message separately
// (about 30 allocations for one probe sample) and dominates a receiver's cost. For
// the probe-data shape in its canonical encoding, probeDecoder copies the payload
// into one string, slices the fields out of it, and places the messages in a
// block it owns. A Receiver keeps one probeDecoder per connection and decodes
// every message into the same block, so the only allocation per message is that
// string; DecodeFrame uses a new probeDecoder per call, so its messages are fresh.
//
// It accepts only a plain encoding: known fields with their expected wire types,
// each singular field at most once, all required fields present. Anything else
// (unknown fields, repeated singular fields that the runtime would merge, other
// message kinds) returns false and the caller falls back to proto.Unmarshal, so
// the result is always what the runtime would produce. FuzzDecodeFrames checks
// exactly that, for a fresh and for a reused decoder.

// probeBlock holds the messages of one decoded probe sample.
type probeBlock struct {
	msg       aos.AosMessage
	perfMon   aos.AosMessage_PerfMon
	perf      aos.PerfMon
	probeWrap aos.PerfMon_ProbeMessage
	probe     aos.ProbeMessage
	timestamp uint64
	timeDelta float32
	// The value oneof's wrappers, one per kind, so setting the value does
	// not allocate.
	int64Value  aos.ProbeMessage_Int64Value
	floatValue  aos.ProbeMessage_FloatValue
	stringValue aos.ProbeMessage_StringValue
}

// probeDecoder decodes probe-data messages into storage it owns: each decode
// overwrites the message the previous one returned (the strings excepted: each
// message gets its own copy of the payload, so strings taken out of a message
// stay valid). The zero value is ready to use.
type probeDecoder struct {
	blk   probeBlock
	strs  []string // the string fields, then name and value of each property
	props []aos.ProbeProperty
	ptrs  []*aos.ProbeProperty
}

// fieldSpan is where a length-delimited field's content lies in the payload.
type fieldSpan struct{ off, end int }

// Indices into the per-message table of string fields.
const (
	sOriginName = iota
	sOriginHostname
	sOriginRole
	sBlueprintLabel
	sProbeID
	sStageName
	sBlueprintID
	sItemID
	sProbeLabel
	sValue // ProbeMessage.string_value
	numStrings
)

// decodeProbePerfMon decodes b into a new message, or reports false when b is
// not probe data in the plain encoding.
func decodeProbePerfMon(b []byte) (*aos.AosMessage, bool) {
	return new(probeDecoder).decode(b)
}

// propSpans is where one ProbeProperty's name and value lie in the payload.
type propSpans struct{ name, value fieldSpan }

// decode decodes b into d's message, or reports false when b is not probe data
// in the plain encoding (d's message is then left as it was). The message is
// valid until the next call. Tags and lengths of one byte, which is all of
// them but the timestamp's in practice, are read inline (tagAt, bytesAt), and
// the payload is walked once.
func (d *probeDecoder) decode(b []byte) (*aos.AosMessage, bool) {
	var (
		spans    [numStrings]fieldSpan
		have     [numStrings]bool
		ts       uint64
		haveTS   bool
		perfBody []byte
		perfOff  int
	)
	// AosMessage
	for i := 0; i < len(b); {
		num, typ, n := tagAt(b, i)
		if n < 0 {
			return nil, false
		}
		i += n
		switch {
		case num == aos.FnTimestamp && typ == protowire.VarintType && !haveTS:
			v, n := protowire.ConsumeVarint(b[i:])
			if n < 0 {
				return nil, false
			}
			ts, haveTS, i = v, true, i+n
		case num == aos.FnPerfMon && typ == protowire.BytesType && perfBody == nil:
			v, n := bytesAt(b, i)
			if n < 0 {
				return nil, false
			}
			perfOff = i + n - len(v)
			perfBody, i = v, i+n
			if perfBody == nil {
				perfBody = b[i:i] // present but empty
			}
		case typ == protowire.BytesType:
			k := aosStringIndex(num)
			if k < 0 || have[k] {
				return nil, false
			}
			v, n := bytesAt(b, i)
			if n < 0 {
				return nil, false
			}
			spans[k], have[k] = fieldSpan{i + n - len(v), i + n}, true
			i += n
		default:
			return nil, false
		}
	}
	if !haveTS || !have[sOriginName] || perfBody == nil {
		return nil, false
	}

	// PerfMon
	var (
		probeBody []byte
		probeOff  int
		td        uint32
		haveTD    bool
	)
	for i := 0; i < len(perfBody); {
		num, typ, n := tagAt(perfBody, i)
		if n < 0 {
			return nil, false
		}
		i += n
		switch {
		case num == aos.FnTimeDelta && typ == protowire.Fixed32Type && !haveTD:
			v, n := protowire.ConsumeFixed32(perfBody[i:])
			if n < 0 {
				return nil, false
			}
			td, haveTD, i = v, true, i+n
		case num == aos.FnProbeMessage && typ == protowire.BytesType && probeBody == nil:
			v, n := bytesAt(perfBody, i)
			if n < 0 {
				return nil, false
			}
			probeOff = perfOff + i + n - len(v)
			probeBody, i = v, i+n
			if probeBody == nil {
				probeBody = perfBody[i:i]
			}
		default:
			return nil, false
		}
	}
	if probeBody == nil {
		return nil, false
	}

	// ProbeMessage. Property spans go to an array on the stack (a heap one
	// past 8 properties).
	var (
		propBuf   [8]propSpans
		props     = propBuf[:0]
		valueKind protowire.Number // 0: no value
		valueBits uint64
	)
	for i := 0; i < len(probeBody); {
		num, typ, n := tagAt(probeBody, i)
		if n < 0 {
			return nil, false
		}
		i += n
		switch {
		case num == aos.FnProperty && typ == protowire.BytesType:
			v, n := bytesAt(probeBody, i)
			if n < 0 {
				return nil, false
			}
			ps, ok := parseProperty(v, probeOff+i+n-len(v))
			if !ok {
				return nil, false
			}
			props = append(props, ps)
			i += n
		case num == aos.FnInt64Value && typ == protowire.VarintType && valueKind == 0:
			v, n := protowire.ConsumeVarint(probeBody[i:])
			if n < 0 {
				return nil, false
			}
			valueKind, valueBits, i = num, v, i+n
		case num == aos.FnFloatValue && typ == protowire.Fixed32Type && valueKind == 0:
			v, n := protowire.ConsumeFixed32(probeBody[i:])
			if n < 0 {
				return nil, false
			}
			valueKind, valueBits, i = num, uint64(v), i+n
		case typ == protowire.BytesType:
			k := probeStringIndex(num)
			if k < 0 || have[k] || (k == sValue && valueKind != 0) {
				return nil, false
			}
			v, n := bytesAt(probeBody, i)
			if n < 0 {
				return nil, false
			}
			spans[k], have[k] = fieldSpan{probeOff + i + n - len(v), probeOff + i + n}, true
			if k == sValue {
				valueKind = aos.FnStringValue
			}
			i += n
		default:
			return nil, false
		}
	}
	if !have[sProbeID] || !have[sStageName] || !have[sBlueprintID] || !have[sItemID] {
		return nil, false
	}

	// Build. All strings share one copy of the payload.
	text := string(b)
	nProps := len(props)
	nStrs := numStrings + 2*nProps
	if cap(d.strs) < nStrs {
		d.strs = make([]string, nStrs)
	}
	strs := d.strs[:nStrs]
	clear(strs) // fields this message lacks must not keep an earlier payload alive
	ptr := func(k int) *string {
		if !have[k] {
			return nil
		}
		strs[k] = text[spans[k].off:spans[k].end]
		return &strs[k]
	}
	blk := &d.blk
	*blk = probeBlock{}
	blk.timestamp = ts
	m := &blk.msg
	m.Timestamp = &blk.timestamp
	m.OriginName = ptr(sOriginName)
	m.OriginHostname = ptr(sOriginHostname)
	m.OriginRole = ptr(sOriginRole)
	m.BlueprintLabel = ptr(sBlueprintLabel)
	blk.perfMon.PerfMon = &blk.perf
	m.Data = &blk.perfMon
	if haveTD {
		blk.timeDelta = math.Float32frombits(td)
		blk.perf.TimeDelta = &blk.timeDelta
	}
	blk.probeWrap.ProbeMessage = &blk.probe
	blk.perf.Data = &blk.probeWrap
	p := &blk.probe
	p.ProbeId = ptr(sProbeID)
	p.StageName = ptr(sStageName)
	p.BlueprintId = ptr(sBlueprintID)
	p.ItemId = ptr(sItemID)
	p.ProbeLabel = ptr(sProbeLabel)
	switch valueKind {
	case aos.FnInt64Value:
		blk.int64Value.Int64Value = int64(valueBits)
		p.Value = &blk.int64Value
	case aos.FnFloatValue:
		blk.floatValue.FloatValue = math.Float32frombits(uint32(valueBits))
		p.Value = &blk.floatValue
	case aos.FnStringValue:
		blk.stringValue.StringValue = *ptr(sValue)
		p.Value = &blk.stringValue
	}
	if nProps > 0 {
		if cap(d.props) < nProps {
			d.props = make([]aos.ProbeProperty, nProps)
			d.ptrs = make([]*aos.ProbeProperty, nProps)
		}
		// Full slice expression: a caller appending to Property gets a new
		// array rather than writing into the decoder's spare room.
		p.Property = d.ptrs[:nProps:nProps]
		for j, ps := range props {
			name, value := &strs[numStrings+2*j], &strs[numStrings+2*j+1]
			*name = text[ps.name.off:ps.name.end]
			*value = text[ps.value.off:ps.value.end]
			prop := &d.props[j]
			*prop = aos.ProbeProperty{Name: name, Value: value}
			p.Property[j] = prop
		}
	}
	return m, true
}

// parseProperty parses a ProbeProperty that has exactly a name and a value,
// each once, and nothing else; base is v's offset in the payload, so the
// spans returned are the payload's.
func parseProperty(v []byte, base int) (propSpans, bool) {
	var (
		ps          propSpans
		name, value bool
	)
	for i := 0; i < len(v); {
		num, typ, n := tagAt(v, i)
		if n < 0 || typ != protowire.BytesType {
			return ps, false
		}
		i += n
		f, n := bytesAt(v, i)
		if n < 0 {
			return ps, false
		}
		span := fieldSpan{base + i + n - len(f), base + i + n}
		switch {
		case num == aos.FnPropName && !name:
			ps.name, name = span, true
		case num == aos.FnPropValue && !value:
			ps.value, value = span, true
		default:
			return ps, false
		}
		i += n
	}
	return ps, name && value
}

// tagAt is protowire.ConsumeTag(b[i:]) with the one-byte form inline: every
// field of these messages has a number below 16.
func tagAt(b []byte, i int) (protowire.Number, protowire.Type, int) {
	if i < len(b) && b[i] < 0x80 {
		if b[i] < 1<<3 {
			return 0, 0, -1 // field number 0, which ConsumeTag refuses too
		}
		return protowire.Number(b[i] >> 3), protowire.Type(b[i] & 7), 1
	}
	return protowire.ConsumeTag(b[i:])
}

// bytesAt is protowire.ConsumeBytes(b[i:]) with a one-byte length inline.
func bytesAt(b []byte, i int) ([]byte, int) {
	if i < len(b) && b[i] < 0x80 {
		n := 1 + int(b[i])
		if n > len(b)-i {
			return nil, -1 // truncated
		}
		return b[i+1 : i+n], n
	}
	return protowire.ConsumeBytes(b[i:])
}

func aosStringIndex(num protowire.Number) int {
	switch num {
	case aos.FnOriginName:
		return sOriginName
	case aos.FnOriginHostname:
		return sOriginHostname
	case aos.FnOriginRole:
		return sOriginRole
	case aos.FnBlueprintLabel:
		return sBlueprintLabel
	}
	return -1
}

func probeStringIndex(num protowire.Number) int {
	switch num {
	case aos.FnStringValue:
		return sValue
	case aos.FnProbeID:
		return sProbeID
	case aos.FnStageName:
		return sStageName
	case aos.FnBlueprintID:
		return sBlueprintID
	case aos.FnItemID:
		return sItemID
	case aos.FnProbeLabel:
		return sProbeLabel
	}
	return -1
}
