package kafkabus_test

import (
	"bytes"
	"testing"

	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/probe-agent/probe-agent/bus"
	"github.com/probe-agent/probe-agent/bus/kafkabus"
	pb "github.com/probe-agent/probe-agent/proto/probeagent/v1"
)

// FuzzDecodeRecord: whatever a topic holds (anyone may write to it), the
// consumer's decoding of a record (headers, key, body) and of a
// checkpoint value returns a record or an error, never panics; what it
// accepts it writes back the same.
func FuzzDecodeRecord(f *testing.F) {
	rec := &bus.Record{Blueprint: "bp 1", Probe: "p.1", Batch: &pb.StageBatch{Device: "leaf1", Session: "s", Seq: 7,
		Anomalies: []*pb.AnomalyEvent{{ProbeId: "p.1", Stage: "st", ItemId: "i", Raised: true}}}}
	body, err := rec.Encode()
	if err != nil {
		f.Fatal(err)
	}
	kr := kafkabus.KafkaRecord("t", bus.Encoded{Rec: rec, Body: body})
	cp, _ := bus.EncodeRaised(bus.Raised{"central/a": {Origin: "central", Stage: "s", ItemID: "i"}})
	f.Add(kr.Key, body, "bp 1", "p.1", "leaf1", cp)
	f.Add([]byte("bp/p"), []byte{0x0a, 0x01, 'x'}, "bp", "p", "x", []byte(`{"version":1,"raised":{"k":{"origin":"edge"}}}`))
	f.Add([]byte{}, []byte{}, "", "", "", []byte("{"))
	f.Fuzz(func(t *testing.T, key, value []byte, bp, probe, device string, cpv []byte) {
		r := &kgo.Record{Key: key, Value: value, Headers: []kgo.RecordHeader{
			{Key: bus.HeaderBlueprint, Value: []byte(bp)}, {Key: bus.HeaderProbe, Value: []byte(probe)}, {Key: bus.HeaderDevice, Value: []byte(device)}}}
		if got, err := kafkabus.DecodeRecord(r); err == nil {
			body, err := got.Encode()
			if err != nil {
				t.Fatalf("accepted record does not encode: %v", err)
			}
			back := kafkabus.KafkaRecord("t", bus.Encoded{Rec: got, Body: body})
			again, err := kafkabus.DecodeRecord(back)
			if err != nil || !bytes.Equal(back.Key, key) || again.Probe != got.Probe || again.Device() != got.Device() {
				t.Fatalf("round trip: %v (key %q, was %q)", err, back.Key, key)
			}
		}
		if raised, err := bus.DecodeRaised(cpv); err == nil {
			data, err := bus.EncodeRaised(raised)
			if err != nil {
				t.Fatal(err)
			}
			if again, err := bus.DecodeRaised(data); err != nil || len(again) != len(raised) {
				t.Fatalf("checkpoint round trip: %v, %d of %d", err, len(again), len(raised))
			}
		}
	})
}
