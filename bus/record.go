package bus

import (
	"encoding/binary"
	"errors"
	"fmt"
	"strconv"

	"google.golang.org/protobuf/proto"

	pb "github.com/probe-agent/probe-agent/proto/probeagent/v1"
)

// Headers carried by every record besides its body, so that a broker's
// tooling (and a consumer that only routes) sees whose record it is
// without decoding it.
const (
	HeaderBlueprint = "Probe-Agent-Blueprint"
	HeaderProbe     = "Probe-Agent-Probe"
	HeaderDevice    = "Probe-Agent-Device"
	// HeaderSession and HeaderSeq name the agent process and its batch:
	// with the device and probe they are the record's identity (ID).
	HeaderSession = "Probe-Agent-Session"
	HeaderSeq     = "Probe-Agent-Seq"
)

// maxRecordBytes bounds a record's body on decode: a probe's partial of a
// 4,000-interface device is a few hundred KB, and brokers' own message
// limits (NATS' max_payload, 1 MB by default) are lower still.
const maxRecordBytes = 64 << 20

// Record is what crosses the cut through a broker: one device's exports of
// one probe for one evaluation, a pb.StageBatch restricted to that probe
// (its PSU1 stage updates and its anomaly transitions), with the blueprint
// it belongs to. Batch.Dropped is the publisher's count of records it lost
// before they reached the broker (bounded queue full), cumulative per
// session.
type Record struct {
	Blueprint string
	Probe     string
	Batch     *pb.StageBatch
}

// Device is the device the record speaks for.
func (r *Record) Device() string { return r.Batch.GetDevice() }

// ID identifies the record among every record ever written for its
// blueprint: device, agent session, batch number and probe. A broker that
// de-duplicates (JetStream's Nats-Msg-Id, a consumer keeping the last ID
// per key) drops a record published twice, after a reconnect or a
// retried publish, by it.
func (r *Record) ID() string {
	return Token(r.Batch.GetDevice()) + "/" + Token(r.Batch.GetSession()) + "/" + strconv.FormatUint(r.Batch.GetSeq(), 10) + "/" + Token(r.Probe)
}

// Headers lists the record's headers as key/value pairs.
func (r *Record) Headers() [][2]string {
	return [][2]string{
		{HeaderBlueprint, r.Blueprint},
		{HeaderProbe, r.Probe},
		{HeaderDevice, r.Batch.GetDevice()},
		{HeaderSession, r.Batch.GetSession()},
		{HeaderSeq, strconv.FormatUint(r.Batch.GetSeq(), 10)},
	}
}

// Encode is the record's body: the StageBatch's protobuf encoding (the
// blueprint and probe travel in the headers and the subject or key).
func (r *Record) Encode() ([]byte, error) {
	if r.Batch == nil {
		return nil, errors.New("record without a batch")
	}
	return proto.Marshal(r.Batch)
}

// Decode reads a record from its body and headers (header returns a
// header's value, "" when absent). It checks what a consumer relies on:
// the body is a StageBatch of the device the headers name, with a session
// and a batch number, and every stage update and anomaly in it belongs to
// the probe the headers name (an update's probe and device are read from
// its PSU1 header; the member decodes the rest). Anything else is refused
// with an error naming the field, never a panic.
func Decode(body []byte, header func(string) string) (*Record, error) {
	if len(body) > maxRecordBytes {
		return nil, fmt.Errorf("record: %d bytes, more than the %d allowed", len(body), maxRecordBytes)
	}
	r := &Record{Blueprint: header(HeaderBlueprint), Probe: header(HeaderProbe), Batch: &pb.StageBatch{}}
	if r.Probe == "" {
		return nil, fmt.Errorf("record: no %s header", HeaderProbe)
	}
	if err := proto.Unmarshal(body, r.Batch); err != nil {
		return nil, fmt.Errorf("record of probe %q: body: %w", r.Probe, err)
	}
	b := r.Batch
	if b.GetDevice() == "" {
		return nil, fmt.Errorf("record of probe %q: body: no device", r.Probe)
	}
	if d := header(HeaderDevice); d != b.GetDevice() {
		return nil, fmt.Errorf("record of probe %q: header %s is %q, the body's device is %q", r.Probe, HeaderDevice, d, b.GetDevice())
	}
	if b.GetSession() == "" || b.GetSeq() == 0 {
		return nil, fmt.Errorf("record of probe %q from %q: body: no session or batch number", r.Probe, b.GetDevice())
	}
	for i, u := range b.GetUpdates() {
		dev, probeID, err := UpdateHead(u)
		if err != nil {
			return nil, fmt.Errorf("record of probe %q from %q: update %d: %w", r.Probe, b.GetDevice(), i, err)
		}
		if dev != b.GetDevice() || probeID != r.Probe {
			return nil, fmt.Errorf("record of probe %q from %q: update %d is device %q's of probe %q", r.Probe, b.GetDevice(), i, dev, probeID)
		}
	}
	for i, a := range b.GetAnomalies() {
		if a.GetProbeId() != r.Probe {
			return nil, fmt.Errorf("record of probe %q from %q: anomaly %d is of probe %q", r.Probe, b.GetDevice(), i, a.GetProbeId())
		}
	}
	return r, nil
}

// psu1 is the magic of probe.StageUpdate's binary encoding.
const psu1 = "PSU1"

// UpdateHead reads the device and probe of an encoded probe.StageUpdate
// without decoding the rest: the magic, then two length-prefixed strings
// (probe.StageUpdate.AppendBinary's layout). Splitting an agent's batch by
// probe needs no more.
func UpdateHead(u []byte) (device, probeID string, err error) {
	if len(u) < len(psu1) || string(u[:len(psu1)]) != psu1 {
		return "", "", fmt.Errorf("not a stage update (want the %q header)", psu1)
	}
	rest := u[len(psu1):]
	var out [2]string
	for i, field := range [2]string{"device", "probe"} {
		n, k := binary.Uvarint(rest)
		if k <= 0 || n > uint64(len(rest)-k) {
			return "", "", fmt.Errorf("stage update: %s: bad length", field)
		}
		out[i] = string(rest[k : k+int(n)])
		rest = rest[k+int(n):]
	}
	return out[0], out[1], nil
}
