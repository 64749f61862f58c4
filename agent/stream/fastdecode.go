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

// decode decodes b into d's message, or reports false when b is not probe data
// in the plain encoding (d's message is then left as it was). The message is
// valid until the next call.
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
		num, typ, n := protowire.ConsumeTag(b[i:])
		if n < 0 {
			return nil, false
		}
		i += n
		switch {
		case num == fnTimestamp && typ == protowire.VarintType && !haveTS:
			v, n := protowire.ConsumeVarint(b[i:])
			if n < 0 {
				return nil, false
			}
			ts, haveTS, i = v, true, i+n
		case num == fnPerfMon && typ == protowire.BytesType && perfBody == nil:
			v, n := protowire.ConsumeBytes(b[i:])
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
			v, n := protowire.ConsumeBytes(b[i:])
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
		num, typ, n := protowire.ConsumeTag(perfBody[i:])
		if n < 0 {
			return nil, false
		}
		i += n
		switch {
		case num == fnTimeDelta && typ == protowire.Fixed32Type && !haveTD:
			v, n := protowire.ConsumeFixed32(perfBody[i:])
			if n < 0 {
				return nil, false
			}
			td, haveTD, i = v, true, i+n
		case num == fnProbeMessage && typ == protowire.BytesType && probeBody == nil:
			v, n := protowire.ConsumeBytes(perfBody[i:])
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

	// ProbeMessage: one pass to validate and count properties.
	var (
		nProps    int
		valueKind protowire.Number // 0: no value
		valueBits uint64
	)
	for i := 0; i < len(probeBody); {
		num, typ, n := protowire.ConsumeTag(probeBody[i:])
		if n < 0 {
			return nil, false
		}
		i += n
		switch {
		case num == fnProperty && typ == protowire.BytesType:
			v, n := protowire.ConsumeBytes(probeBody[i:])
			if n < 0 || !validProperty(v) {
				return nil, false
			}
			nProps++
			i += n
		case num == fnInt64Value && typ == protowire.VarintType && valueKind == 0:
			v, n := protowire.ConsumeVarint(probeBody[i:])
			if n < 0 {
				return nil, false
			}
			valueKind, valueBits, i = num, v, i+n
		case num == fnFloatValue && typ == protowire.Fixed32Type && valueKind == 0:
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
			v, n := protowire.ConsumeBytes(probeBody[i:])
			if n < 0 {
				return nil, false
			}
			spans[k], have[k] = fieldSpan{probeOff + i + n - len(v), probeOff + i + n}, true
			if k == sValue {
				valueKind = fnStringValue
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
	case fnInt64Value:
		blk.int64Value.Int64Value = int64(valueBits)
		p.Value = &blk.int64Value
	case fnFloatValue:
		blk.floatValue.FloatValue = math.Float32frombits(uint32(valueBits))
		p.Value = &blk.floatValue
	case fnStringValue:
		blk.stringValue.StringValue = *ptr(sValue)
		p.Value = &blk.stringValue
	}
	if nProps > 0 {
		if cap(d.props) < nProps {
			d.props = make([]aos.ProbeProperty, nProps)
			d.ptrs = make([]*aos.ProbeProperty, nProps)
		}
		props := d.props[:nProps]
		// Full slice expression: a caller appending to Property gets a new
		// array rather than writing into the decoder's spare room.
		p.Property = d.ptrs[:nProps:nProps]
		j := 0
		for i := 0; i < len(probeBody); {
			num, typ, n := protowire.ConsumeTag(probeBody[i:])
			i += n
			if num != fnProperty {
				i += protowire.ConsumeFieldValue(num, typ, probeBody[i:])
				continue
			}
			v, n := protowire.ConsumeBytes(probeBody[i:])
			base := probeOff + i + n - len(v)
			i += n
			prop := &props[j]
			*prop = aos.ProbeProperty{}
			for pi := 0; pi < len(v); {
				pnum, _, pn := protowire.ConsumeTag(v[pi:])
				pi += pn
				pv, pn := protowire.ConsumeBytes(v[pi:])
				s := &strs[numStrings+2*j]
				if pnum == fnPropValue {
					s = &strs[numStrings+2*j+1]
				}
				*s = text[base+pi+pn-len(pv) : base+pi+pn]
				if pnum == fnPropName {
					prop.Name = s
				} else {
					prop.Value = s
				}
				pi += pn
			}
			p.Property[j] = prop
			j++
		}
	}
	return m, true
}

// validProperty reports whether b is a ProbeProperty with exactly a name and a
// value, each once, and nothing else.
func validProperty(b []byte) bool {
	var name, value bool
	for i := 0; i < len(b); {
		num, typ, n := protowire.ConsumeTag(b[i:])
		if n < 0 || typ != protowire.BytesType {
			return false
		}
		i += n
		switch {
		case num == fnPropName && !name:
			name = true
		case num == fnPropValue && !value:
			value = true
		default:
			return false
		}
		_, n = protowire.ConsumeBytes(b[i:])
		if n < 0 {
			return false
		}
		i += n
	}
	return name && value
}

func aosStringIndex(num protowire.Number) int {
	switch num {
	case fnOriginName:
		return sOriginName
	case fnOriginHostname:
		return sOriginHostname
	case fnOriginRole:
		return sOriginRole
	case fnBlueprintLabel:
		return sBlueprintLabel
	}
	return -1
}

func probeStringIndex(num protowire.Number) int {
	switch num {
	case fnStringValue:
		return sValue
	case fnProbeID:
		return sProbeID
	case fnStageName:
		return sStageName
	case fnBlueprintID:
		return sBlueprintID
	case fnItemID:
		return sItemID
	case fnProbeLabel:
		return sProbeLabel
	}
	return -1
}
