package probestore

import (
	"bytes"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"hash/crc32"
)

// A journal is a sequence of frames: a 4-byte big-endian payload length,
// the payload's 4-byte CRC-32C, then the payload, one JSON record. A crash
// during an append leaves at most the last frame incomplete or with a bad
// checksum (its fsync never returned, so nobody was told it was stored):
// that torn tail is ignored. A bad frame followed by more data is damage.

const (
	opPut    = "put"
	opDelete = "delete"
	// maxRecord bounds one record so a damaged length cannot make the
	// loader allocate without limit.
	maxRecord = 64 << 20
	frameHead = 8
)

var castagnoli = crc32.MakeTable(crc32.Castagnoli)

type record struct {
	Seq uint64          `json:"seq"`
	Op  string          `json:"op"`
	ID  string          `json:"id"`
	Doc json.RawMessage `json:"doc,omitempty"`
}

func encodeRecord(r record) ([]byte, error) {
	payload, err := marshal(r)
	if err != nil {
		return nil, err
	}
	if len(payload) > maxRecord {
		return nil, fmt.Errorf("probe document of %d bytes is larger than the store's %d-byte record limit", len(payload), maxRecord)
	}
	frame := make([]byte, frameHead, frameHead+len(payload))
	binary.BigEndian.PutUint32(frame[0:4], uint32(len(payload)))
	binary.BigEndian.PutUint32(frame[4:8], crc32.Checksum(payload, castagnoli))
	return append(frame, payload...), nil
}

// parseJournal decodes a journal's records. It returns the records before
// the first bad frame; the error is nil when that frame is a torn tail
// (the file's last), and names the frame's offset otherwise.
func parseJournal(data []byte) ([]record, error) {
	var out []record
	var prev uint64
	for off := 0; off < len(data); {
		rest := data[off:]
		if len(rest) < frameHead {
			return out, nil // torn tail: the length itself is incomplete
		}
		n := binary.BigEndian.Uint32(rest[0:4])
		if n > maxRecord {
			return out, fmt.Errorf("record at byte %d: length %d is over the %d-byte limit", off, n, maxRecord)
		}
		end := frameHead + int(n)
		if len(rest) < end {
			return out, nil // torn tail: the payload is incomplete
		}
		payload := rest[frameHead:end]
		last := len(rest) == end
		if crc32.Checksum(payload, castagnoli) != binary.BigEndian.Uint32(rest[4:8]) {
			if last {
				return out, nil
			}
			return out, fmt.Errorf("record at byte %d: checksum mismatch", off)
		}
		r, err := decodeRecord(payload)
		if err == nil && r.Seq <= prev {
			err = fmt.Errorf("sequence %d after %d", r.Seq, prev)
		}
		if err != nil {
			return out, fmt.Errorf("record at byte %d: %w", off, err)
		}
		prev = r.Seq
		out = append(out, r)
		off += end
	}
	return out, nil
}

// marshal is json.Marshal without HTML escaping: stored documents keep
// their bytes (an id derived from them, and the comparison that finds a
// re-applied document unchanged, depend on them).
func marshal(v any) ([]byte, error) {
	var b bytes.Buffer
	enc := json.NewEncoder(&b)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(v); err != nil {
		return nil, err
	}
	return bytes.TrimSuffix(b.Bytes(), []byte("\n")), nil
}

func decodeRecord(payload []byte) (record, error) {
	var r record
	if err := json.Unmarshal(payload, &r); err != nil {
		return r, err
	}
	switch {
	case r.Seq == 0:
		return r, errors.New("no sequence number")
	case r.ID == "":
		return r, errors.New("no id")
	case r.Op == opPut && (len(r.Doc) == 0 || r.Doc[0] != '{'):
		return r, errors.New("put without a document object")
	case r.Op != opPut && r.Op != opDelete:
		return r, fmt.Errorf("unknown operation %q", r.Op)
	}
	return r, nil
}
