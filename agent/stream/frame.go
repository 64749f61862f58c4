package stream

import (
	"bufio"
	"encoding/binary"
	"errors"
	"fmt"
	"io"

	"google.golang.org/protobuf/encoding/protowire"
	"google.golang.org/protobuf/proto"

	"github.com/probe-agent/probe-agent/proto/aos"
)

// MaxFrameSize is the largest protobuf payload a frame can carry: the length
// prefix is an unsigned 16-bit integer.
const MaxFrameSize = 1<<16 - 1

// Field numbers of AosSequencedMessage. The wrapper is encoded and decoded by hand
// so the inner AosMessage is marshaled once, straight into the output buffer's
// neighbourhood, and decoded without copying aos_proto.
const (
	seqNumField   protowire.Number = 1
	aosProtoField protowire.Number = 15
)

// ErrOversize reports a message whose frame payload would exceed MaxFrameSize.
var ErrOversize = errors.New("stream: message exceeds the 65535-byte frame limit")

// encoder turns AosMessages into frames. It keeps its marshal buffer between calls
// so that steady-state encoding does not allocate.
type encoder struct {
	sequenced bool
	scratch   []byte
}

// appendFrame appends one complete frame (length prefix and payload) for m to dst.
// seq is used only on a sequenced channel. On error dst is returned unchanged.
func (e *encoder) appendFrame(dst []byte, seq uint64, m *aos.AosMessage) ([]byte, error) {
	body, err := appendBody(e.scratch[:0], m)
	if err != nil {
		return dst, err
	}
	e.scratch = body[:0]
	if _, err := frameSize(len(body), seq, e.sequenced); err != nil {
		return dst, err
	}
	return appendFramed(dst, seq, body, e.sequenced), nil
}

// appendBody appends the protobuf encoding of m to dst: the hand-written
// encoder for probe data, the runtime for everything else. On error dst is
// returned unchanged.
func appendBody(dst []byte, m *aos.AosMessage) ([]byte, error) {
	if body, ok := appendProbePerfMon(dst, m); ok {
		return body, nil
	}
	body, err := proto.MarshalOptions{}.MarshalAppend(dst, m)
	if err != nil {
		return dst, fmt.Errorf("stream: marshal AosMessage: %w", err)
	}
	return body, nil
}

// frameSize is the size of the whole frame (length prefix included) of a
// bodyLen-byte AosMessage, or ErrOversize when its payload would exceed
// MaxFrameSize.
func frameSize(bodyLen int, seq uint64, sequenced bool) (int, error) {
	size := bodyLen
	if sequenced {
		size = protowire.SizeTag(seqNumField) + protowire.SizeVarint(seq) +
			protowire.SizeTag(aosProtoField) + protowire.SizeBytes(bodyLen)
	}
	if size > MaxFrameSize {
		return 0, ErrOversize
	}
	return 2 + size, nil
}

// appendFramed appends the frame of an encoded AosMessage: the length prefix
// and, on a sequenced channel, the AosSequencedMessage wrapper. The caller
// has checked the size with frameSize.
func appendFramed(dst []byte, seq uint64, body []byte, sequenced bool) []byte {
	if !sequenced {
		dst = binary.BigEndian.AppendUint16(dst, uint16(len(body)))
		return append(dst, body...)
	}
	size := protowire.SizeTag(seqNumField) + protowire.SizeVarint(seq) +
		protowire.SizeTag(aosProtoField) + protowire.SizeBytes(len(body))
	dst = binary.BigEndian.AppendUint16(dst, uint16(size))
	dst = protowire.AppendTag(dst, seqNumField, protowire.VarintType)
	dst = protowire.AppendVarint(dst, seq)
	dst = protowire.AppendTag(dst, aosProtoField, protowire.BytesType)
	return protowire.AppendBytes(dst, body)
}

// ReadFrame reads one frame from r and returns its payload, stored in buf when buf
// is large enough and in a new slice otherwise; pass the result back as buf on the
// next call to reuse it. A clean end of stream between frames returns io.EOF; one
// inside a frame returns io.ErrUnexpectedEOF.
func ReadFrame(r *bufio.Reader, buf []byte) ([]byte, error) {
	// The prefix is read a byte at a time from the bufio.Reader (concrete,
	// so nothing escapes): io.ReadFull of a [2]byte through the io.Reader
	// interface put those two bytes on the heap for every frame.
	hi, err := r.ReadByte()
	if err != nil {
		return buf[:0], err
	}
	lo, err := r.ReadByte()
	if err != nil {
		if err == io.EOF {
			err = io.ErrUnexpectedEOF
		}
		return buf[:0], err
	}
	n := int(hi)<<8 | int(lo)
	if cap(buf) < n {
		buf = make([]byte, n, max(n, 4096))
	}
	buf = buf[:n]
	if _, err := io.ReadFull(r, buf); err != nil {
		if err == io.EOF {
			err = io.ErrUnexpectedEOF
		}
		return buf[:0], err
	}
	return buf, nil
}

// newFrameReader returns a reader for peekFrame: its buffer holds the largest
// frame, length prefix included.
func newFrameReader(r io.Reader) *bufio.Reader { return bufio.NewReaderSize(r, 2+MaxFrameSize) }

// peekFrame is ReadFrame for a reader from newFrameReader: the payload returned
// lies in r's buffer, with no copy, and stays valid until the next read from r.
func peekFrame(r *bufio.Reader) ([]byte, error) {
	prefix, err := r.Peek(2)
	if err != nil {
		if err == io.EOF && len(prefix) == 1 {
			err = io.ErrUnexpectedEOF
		}
		return nil, err
	}
	n := 2 + (int(prefix[0])<<8 | int(prefix[1]))
	frame, err := r.Peek(n)
	if err != nil {
		if err == io.EOF {
			err = io.ErrUnexpectedEOF
		}
		return nil, err
	}
	// Discard moves the read position only: the bytes stay in the buffer
	// until the next read fills it.
	_, _ = r.Discard(n)
	return frame[2:], nil
}

// SplitSequenced extracts seq_num and the serialized AosMessage from an
// AosSequencedMessage payload. aosProto aliases frame. Unknown fields are skipped,
// as protobuf requires; a repeated field keeps its last value, as proto.Unmarshal
// would.
func SplitSequenced(frame []byte) (seq uint64, aosProto []byte, err error) {
	for b := frame; len(b) > 0; {
		num, typ, n := protowire.ConsumeTag(b)
		if n < 0 {
			return 0, nil, fmt.Errorf("stream: AosSequencedMessage: %w", protowire.ParseError(n))
		}
		if num > protowire.MaxValidNumber {
			// ConsumeTag checks only the lower bound; the runtime rejects these too.
			return 0, nil, fmt.Errorf("stream: AosSequencedMessage: field number %d out of range", num)
		}
		b = b[n:]
		switch {
		case num == seqNumField && typ == protowire.VarintType:
			v, n := protowire.ConsumeVarint(b)
			if n < 0 {
				return 0, nil, fmt.Errorf("stream: AosSequencedMessage seq_num: %w", protowire.ParseError(n))
			}
			seq, b = v, b[n:]
		case num == aosProtoField && typ == protowire.BytesType:
			v, n := protowire.ConsumeBytes(b)
			if n < 0 {
				return 0, nil, fmt.Errorf("stream: AosSequencedMessage aos_proto: %w", protowire.ParseError(n))
			}
			aosProto, b = v, b[n:]
		default:
			n := protowire.ConsumeFieldValue(num, typ, b)
			if n < 0 {
				return 0, nil, fmt.Errorf("stream: AosSequencedMessage field %d: %w", num, protowire.ParseError(n))
			}
			b = b[n:]
		}
	}
	return seq, aosProto, nil
}

// DecodeFrame decodes one frame payload into a new AosMessage. On a sequenced
// channel it also returns the frame's seq_num; on an unsequenced one seq is 0.
// Required fields are checked, so a message a strict receiver would reject is an
// error here too.
func DecodeFrame(frame []byte, sequenced bool) (seq uint64, m *aos.AosMessage, err error) {
	var d frameDecoder
	return d.decode(frame, sequenced)
}

// frameDecoder decodes the frames of one connection. Probe data, nearly all of
// what arrives, is decoded into the probeDecoder's reused message, valid until
// the next call; other messages are new.
type frameDecoder struct {
	probe probeDecoder
}

// decode is DecodeFrame with d's storage.
func (d *frameDecoder) decode(frame []byte, sequenced bool) (seq uint64, m *aos.AosMessage, err error) {
	body := frame
	if sequenced {
		if seq, body, err = SplitSequenced(frame); err != nil {
			return 0, nil, err
		}
	}
	if m, ok := d.probe.decode(body); ok {
		return seq, m, nil
	}
	m, err = decodeGeneric(body)
	return seq, m, err
}

// decodeGeneric decodes any AosMessage through the protobuf runtime.
func decodeGeneric(body []byte) (*aos.AosMessage, error) {
	m := new(aos.AosMessage)
	// The required-field check is done as a separate pass: the runtime's tracking
	// during Unmarshal accepts a required field sent with the wrong wire type as
	// present (found by FuzzDecodeFrames), whereas strict receivers reject it.
	if err := (proto.UnmarshalOptions{AllowPartial: true}).Unmarshal(body, m); err != nil {
		return nil, fmt.Errorf("stream: AosMessage: %w", err)
	}
	if err := proto.CheckInitialized(m); err != nil {
		return nil, fmt.Errorf("stream: AosMessage: %w", err)
	}
	return m, nil
}
