package bus

import (
	"bytes"
	"strings"
	"testing"
	"time"

	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/timestamppb"

	"github.com/probe-agent/probe-agent/probe"
	pb "github.com/probe-agent/probe-agent/proto/probeagent/v1"
)

func testUpdate(dev, probeID string, seq uint64) []byte {
	u := probe.StageUpdate{Device: dev, Probe: probeID, Stage: "s", Generation: 1, Time: time.Unix(100, 0), Seq: seq,
		Type: probe.StageType{Kind: probe.Number}, Columns: []probe.Column{{Name: "value", Kind: probe.Number}},
		Items: []probe.UpdateItem{{Valid: true, Values: []probe.Value{{Num: 1}}}}}
	return u.AppendBinary(nil)
}

func testRecord(dev, probeID string, seq uint64) *Record {
	return &Record{Blueprint: "bp", Probe: probeID, Batch: &pb.StageBatch{Device: dev, Session: "s1", Seq: seq, Generation: 1,
		Time: timestamppb.New(time.Unix(100, 0)), Updates: [][]byte{testUpdate(dev, probeID, seq)},
		Anomalies: []*pb.AnomalyEvent{{ProbeId: probeID, Stage: "a", ItemId: "i", Raised: true, Json: "{}"}}}}
}

func headerFunc(r *Record) func(string) string {
	m := map[string]string{}
	for _, h := range r.Headers() {
		m[h[0]] = h[1]
	}
	return func(k string) string { return m[k] }
}

func TestRecordRoundTrip(t *testing.T) {
	r := testRecord("leaf1", "p1", 7)
	body, err := r.Encode()
	if err != nil {
		t.Fatal(err)
	}
	got, err := Decode(body, headerFunc(r))
	if err != nil {
		t.Fatal(err)
	}
	if got.Blueprint != "bp" || got.Probe != "p1" || !proto.Equal(got.Batch, r.Batch) {
		t.Fatalf("decoded %+v, want %+v", got, r)
	}
	if got, want := r.ID(), "leaf1/s1/7/p1"; got != want {
		t.Errorf("ID = %q, want %q", got, want)
	}
}

func TestDecodeRefuses(t *testing.T) {
	good := testRecord("leaf1", "p1", 7)
	enc := func(r *Record) []byte { b, _ := r.Encode(); return b }
	for _, tc := range []struct {
		name   string
		body   []byte
		header func(string) string
		want   string
	}{
		{"no probe header", enc(good), func(string) string { return "" }, "no Probe-Agent-Probe header"},
		{"not protobuf", []byte{0xff, 0xff}, headerFunc(good), "body"},
		{"device mismatch", enc(good), func(k string) string {
			if k == HeaderDevice {
				return "leaf2"
			}
			return headerFunc(good)(k)
		}, `header Probe-Agent-Device is "leaf2"`},
		{"other probe's update", func() []byte {
			r := testRecord("leaf1", "p1", 7)
			r.Batch.Updates[0] = testUpdate("leaf1", "p2", 7)
			return enc(r)
		}(), headerFunc(good), `update 0 is device "leaf1"'s of probe "p2"`},
		{"other device's update", func() []byte {
			r := testRecord("leaf1", "p1", 7)
			r.Batch.Updates[0] = testUpdate("leaf9", "p1", 7)
			return enc(r)
		}(), headerFunc(good), `device "leaf9"`},
		{"bad update", func() []byte {
			r := testRecord("leaf1", "p1", 7)
			r.Batch.Updates[0] = []byte("PSU1\xff")
			return enc(r)
		}(), headerFunc(good), "update 0: stage update: device: bad length"},
		{"other probe's anomaly", func() []byte {
			r := testRecord("leaf1", "p1", 7)
			r.Batch.Anomalies[0].ProbeId = "p3"
			return enc(r)
		}(), headerFunc(good), `anomaly 0 is of probe "p3"`},
		{"no seq", func() []byte {
			r := testRecord("leaf1", "p1", 7)
			r.Batch.Seq = 0
			return enc(r)
		}(), headerFunc(good), "no session or batch number"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := Decode(tc.body, tc.header)
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("err = %v, want it to contain %q", err, tc.want)
			}
		})
	}
}

func FuzzDecode(f *testing.F) {
	r := testRecord("leaf1", "p1", 7)
	body, _ := r.Encode()
	f.Add(body, "p1", "leaf1")
	f.Add([]byte{}, "p1", "")
	f.Add([]byte("\x0a\x05leaf1\x12\x02s1\x18\x01\x3a\x04PSU1"), "p1", "leaf1")
	f.Fuzz(func(t *testing.T, body []byte, probeID, device string) {
		h := func(k string) string {
			switch k {
			case HeaderProbe:
				return probeID
			case HeaderDevice:
				return device
			}
			return ""
		}
		rec, err := Decode(body, h)
		if err != nil {
			return
		}
		// What decodes encodes to a body that decodes to the same record.
		again, err := rec.Encode()
		if err != nil {
			t.Fatal(err)
		}
		rec2, err := Decode(again, h)
		if err != nil {
			t.Fatalf("re-encoded record refused: %v", err)
		}
		if !proto.Equal(rec.Batch, rec2.Batch) {
			t.Fatal("re-encoded record differs")
		}
		b3, _ := rec2.Encode()
		if !bytes.Equal(again, b3) {
			t.Fatal("encoding is not stable")
		}
	})
}

func TestCheckpointEncoding(t *testing.T) {
	r := Raised{CentralKey("a1"): {Origin: "central", Stage: "s", ItemID: "i", JSON: []byte(`{"x":1}`)},
		EdgeKey("leaf1", "i2"): {Origin: "edge", Device: "leaf1", Stage: "e", ItemID: "i2"}}
	data, err := EncodeRaised(r)
	if err != nil {
		t.Fatal(err)
	}
	got, err := DecodeRaised(data)
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != 2 || got[CentralKey("a1")].ItemID != "i" || string(got[CentralKey("a1")].JSON) != `{"x":1}` || got[EdgeKey("leaf1", "i2")].Device != "leaf1" {
		t.Fatalf("round trip: %+v", got)
	}
	for _, bad := range []string{`{"version":2,"raised":{}}`, `{"version":1,"raised":{"k":{"origin":"x"}}}`, `[`} {
		if _, err := DecodeRaised([]byte(bad)); err == nil {
			t.Errorf("DecodeRaised(%s): no error", bad)
		}
	}
}
