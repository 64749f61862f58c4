package probe

import (
	"encoding/binary"
	"errors"
	"fmt"
	"math"
	"slices"
	"time"
)

// StageUpdate is one stage of one probe as one device evaluated it at one
// tick: what crosses the edge/central cut. Unlike Apstra's ProbeMessage
// (one float32 value per message) it is lossless: every column of every
// item, numbers as float64, with the tick it belongs to, so the centre can
// merge partial states exactly and tell a repeated update from a new one.
type StageUpdate struct {
	Device string
	Probe  string
	Stage  string
	// Generation is the generation of the probe set the device evaluates.
	Generation uint64
	// Time is the tick's sample time; Seq the device's tick number for the
	// probe, increasing by one per tick.
	Time time.Time
	Seq  uint64
	// Type, Keys and Columns describe the stage; Columns[0] is "value".
	Type    StageType
	Keys    []string
	Columns []Column
	Items   []UpdateItem
}

// UpdateItem is one item of a StageUpdate.
type UpdateItem struct {
	// Props are the item's key values, aligned with the update's Keys.
	Props []string
	// Valid is false for an item that has no value yet.
	Valid bool
	// Values holds one value per column (Num for number columns, Str for
	// the others).
	Values []Value
	// Samples is the series of a time-series item, oldest first.
	Samples []Sample
}

// UpdateOf fills u from stage st as it is now, reusing u's slices; device,
// probe, generation and the tick are the caller's. Allocation-free once u's
// buffers have grown to the stage's size.
func UpdateOf(u *StageUpdate, st *Stage) {
	u.Stage, u.Type, u.Time, u.Seq = st.Name, st.Type, st.now, st.seq
	u.Keys = append(u.Keys[:0], st.Keys...)
	u.Columns = append(u.Columns[:0], st.Columns...)
	n := st.Len()
	if cap(u.Items) < n {
		u.Items = slices.Grow(u.Items[:0], n)
	}
	u.Items = u.Items[:n]
	for i := range n {
		it := &u.Items[i]
		it.Props = append(it.Props[:0], st.Props(i)...)
		it.Valid = st.Valid(i)
		it.Values = it.Values[:0]
		for c := range st.Columns {
			it.Values = append(it.Values, st.ValueAt(i, c))
		}
		it.Samples = it.Samples[:0]
		if st.series != nil && st.series[i] != nil {
			r := st.series[i]
			for k := 0; k < r.n; k++ {
				it.Samples = append(it.Samples, r.sample(k))
			}
		}
	}
}

// updateMagic starts every encoded StageUpdate: a format name and version.
var updateMagic = []byte("PSU1")

// AppendBinary encodes u after dst: numbers as their IEEE 754 bits (NaN
// and the sign of zero survive), times as Unix nanoseconds, strings with
// their length. DecodeStageUpdate reverses it exactly.
func (u *StageUpdate) AppendBinary(dst []byte) []byte {
	dst = append(dst, updateMagic...)
	dst = appendString(dst, u.Device)
	dst = appendString(dst, u.Probe)
	dst = appendString(dst, u.Stage)
	dst = binary.AppendUvarint(dst, u.Generation)
	dst = binary.AppendVarint(dst, u.Time.UnixNano())
	dst = binary.AppendUvarint(dst, u.Seq)
	dst = append(dst, stageTypeByte(u.Type))
	dst = binary.AppendUvarint(dst, uint64(len(u.Keys)))
	for _, k := range u.Keys {
		dst = appendString(dst, k)
	}
	dst = binary.AppendUvarint(dst, uint64(len(u.Columns)))
	for _, c := range u.Columns {
		dst = appendString(dst, c.Name)
		dst = append(dst, byte(c.Kind))
	}
	dst = binary.AppendUvarint(dst, uint64(len(u.Items)))
	for _, it := range u.Items {
		for k := range u.Keys {
			dst = appendString(dst, it.Props[k])
		}
		if it.Valid {
			dst = append(dst, 1)
		} else {
			dst = append(dst, 0)
		}
		for c, col := range u.Columns {
			dst = appendValue(dst, col.Kind, it.Values[c])
		}
		if u.Type.TimeSeries {
			dst = binary.AppendUvarint(dst, uint64(len(it.Samples)))
			for _, s := range it.Samples {
				dst = binary.AppendVarint(dst, s.Time.UnixNano())
				dst = appendValue(dst, u.Type.Kind, s.Value)
			}
		}
	}
	return dst
}

func appendString(dst []byte, s string) []byte {
	dst = binary.AppendUvarint(dst, uint64(len(s)))
	return append(dst, s...)
}

func appendValue(dst []byte, k Kind, v Value) []byte {
	if k == Number {
		return binary.LittleEndian.AppendUint64(dst, math.Float64bits(v.Num))
	}
	return appendString(dst, v.Str)
}

func stageTypeByte(t StageType) byte {
	b := byte(t.Kind)
	if t.Set {
		b |= 4
	}
	if t.TimeSeries {
		b |= 8
	}
	return b
}

// ErrTruncated is returned for an encoded update that ends early.
var ErrTruncated = errors.New("stage update: truncated")

// DecodeStageUpdate decodes what AppendBinary wrote. It refuses anything
// else with an error naming the field, never panics, and bounds every
// length by the bytes that remain, so a corrupt length cannot make it
// allocate more than the message's size.
func DecodeStageUpdate(data []byte) (*StageUpdate, error) {
	d := decoder{buf: data}
	if len(data) < len(updateMagic) || string(data[:len(updateMagic)]) != string(updateMagic) {
		return nil, fmt.Errorf("stage update: not a stage update (want the %q header)", updateMagic)
	}
	d.buf = d.buf[len(updateMagic):]
	u := &StageUpdate{}
	u.Device = d.str("device")
	u.Probe = d.str("probe")
	u.Stage = d.str("stage")
	u.Generation = d.uvarint("generation")
	u.Time = time.Unix(0, d.varint("time")).UTC()
	u.Seq = d.uvarint("seq")
	tb := d.byte("type")
	if tb&^byte(15) != 0 || Kind(tb&3) > Text {
		d.fail("type", "unknown stage type byte %#x", tb)
	}
	u.Type = StageType{Kind: Kind(tb & 3), Set: tb&4 != 0, TimeSeries: tb&8 != 0}
	nk := d.count("keys", 1)
	for range nk {
		u.Keys = append(u.Keys, d.str("keys"))
	}
	nc := d.count("columns", 2)
	for range nc {
		c := Column{Name: d.str("columns"), Kind: Kind(d.byte("columns"))}
		if c.Kind > Text {
			d.fail("columns", "unknown column kind %d", c.Kind)
		}
		u.Columns = append(u.Columns, c)
	}
	if d.err == nil && (len(u.Columns) == 0 || u.Columns[0].Name != "value") {
		d.fail("columns", "the first column must be \"value\"")
	}
	ni := d.count("items", 1+nk+nc)
	for i := 0; i < ni && d.err == nil; i++ {
		it := UpdateItem{Props: make([]string, nk), Values: make([]Value, nc)}
		for k := range it.Props {
			it.Props[k] = d.str("items.props")
		}
		switch d.byte("items.valid") {
		case 0:
		case 1:
			it.Valid = true
		default:
			d.fail("items.valid", "expected 0 or 1")
		}
		for c := range it.Values {
			it.Values[c] = d.value("items.values", u.Columns[c].Kind)
		}
		if u.Type.TimeSeries {
			ns := d.count("items.samples", 2)
			for range ns {
				s := Sample{Time: time.Unix(0, d.varint("items.samples")).UTC()}
				s.Value = d.value("items.samples", u.Type.Kind)
				it.Samples = append(it.Samples, s)
			}
		}
		u.Items = append(u.Items, it)
	}
	if d.err == nil && len(d.buf) > 0 {
		d.fail("end", "%d bytes after the last item", len(d.buf))
	}
	if d.err != nil {
		return nil, d.err
	}
	return u, nil
}

type decoder struct {
	buf []byte
	err error
}

func (d *decoder) fail(field, format string, args ...any) {
	if d.err == nil {
		d.err = fmt.Errorf("stage update: %s: %s", field, fmt.Sprintf(format, args...))
	}
}

func (d *decoder) uvarint(field string) uint64 {
	if d.err != nil {
		return 0
	}
	v, n := binary.Uvarint(d.buf)
	if n <= 0 {
		d.err = fmt.Errorf("%w (%s)", ErrTruncated, field)
		return 0
	}
	if n != uvarintLen(v) {
		// One value, one encoding: what decodes re-encodes identically.
		d.fail(field, "overlong varint")
		return 0
	}
	d.buf = d.buf[n:]
	return v
}

func uvarintLen(v uint64) int {
	n := 1
	for v >= 0x80 {
		v >>= 7
		n++
	}
	return n
}

func (d *decoder) varint(field string) int64 {
	if d.err != nil {
		return 0
	}
	v, n := binary.Varint(d.buf)
	if n <= 0 {
		d.err = fmt.Errorf("%w (%s)", ErrTruncated, field)
		return 0
	}
	if ux := uint64(v) << 1; n != uvarintLen(ux^uint64(v>>63)) {
		d.fail(field, "overlong varint")
		return 0
	}
	d.buf = d.buf[n:]
	return v
}

// count reads a length and refuses one that the remaining bytes cannot
// hold at minBytes bytes per entry.
func (d *decoder) count(field string, minBytes int) int {
	n := d.uvarint(field)
	if d.err == nil && n > uint64(len(d.buf)/max(minBytes, 1)) {
		d.fail(field, "%d entries do not fit in the %d bytes left", n, len(d.buf))
		return 0
	}
	return int(n)
}

func (d *decoder) byte(field string) byte {
	if d.err != nil {
		return 0
	}
	if len(d.buf) == 0 {
		d.err = fmt.Errorf("%w (%s)", ErrTruncated, field)
		return 0
	}
	b := d.buf[0]
	d.buf = d.buf[1:]
	return b
}

func (d *decoder) str(field string) string {
	n := d.uvarint(field)
	if d.err != nil {
		return ""
	}
	if n > uint64(len(d.buf)) {
		d.err = fmt.Errorf("%w (%s)", ErrTruncated, field)
		return ""
	}
	s := string(d.buf[:n])
	d.buf = d.buf[n:]
	return s
}

func (d *decoder) value(field string, k Kind) Value {
	if k != Number {
		return Value{Str: d.str(field)}
	}
	if d.err != nil {
		return Value{}
	}
	if len(d.buf) < 8 {
		d.err = fmt.Errorf("%w (%s)", ErrTruncated, field)
		return Value{}
	}
	v := math.Float64frombits(binary.LittleEndian.Uint64(d.buf))
	d.buf = d.buf[8:]
	return Value{Num: v}
}
