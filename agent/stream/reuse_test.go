package stream

import (
	"bytes"
	"math/rand/v2"
	"strconv"
	"testing"

	"google.golang.org/protobuf/proto"

	"github.com/probe-agent/probe-agent/proto/aos"
)

// TestReusedDecoderMatchesRuntime decodes messages of every probe-data shape
// (and alerts, which take the generic path) one after another with one
// decoder, as a connection does: each must come out as what was sent, whatever
// the message before it held. Strings taken out of a message and Clones of
// it must survive the decodes that follow.
func TestReusedDecoderMatchesRuntime(t *testing.T) {
	r := rand.New(rand.NewPCG(5, 6))
	var sent []*aos.AosMessage
	for i := range 2000 {
		m := randomProbeMessage(r)
		if i%97 == 0 {
			m = probeAlert()
		}
		sent = append(sent, m)
	}
	for _, sequenced := range []bool{false, true} {
		t.Run("sequenced="+strconv.FormatBool(sequenced), func(t *testing.T) {
			var (
				dec    frameDecoder
				e      = encoder{sequenced: sequenced}
				frame  []byte
				kept   []Received
				origin []string
			)
			for i, want := range sent {
				var err error
				if frame, err = e.appendFrame(frame[:0], uint64(i+1), want); err != nil {
					t.Fatal(err)
				}
				seq, got, err := dec.decode(frame[2:], sequenced)
				if err != nil {
					t.Fatalf("message %d: %v", i, err)
				}
				if wantSeq := uint64(i + 1); sequenced && seq != wantSeq {
					t.Fatalf("message %d: seq %d, want %d", i, seq, wantSeq)
				}
				if !proto.Equal(got, want) {
					t.Fatalf("message %d decoded as\n%v\nwant\n%v", i, got, want)
				}
				kept = append(kept, Received{Seq: seq, Message: got}.Clone())
				origin = append(origin, got.GetOriginName())
			}
			for i, want := range sent {
				if !proto.Equal(kept[i].Message, want) {
					t.Fatalf("clone of message %d changed to\n%v", i, kept[i].Message)
				}
				if origin[i] != want.GetOriginName() {
					t.Fatalf("origin_name of message %d changed to %q", i, origin[i])
				}
			}
		})
	}
}

// TestReceiverReusesMessages: the Receiver's per-message work (read the frame,
// decode it, check its sequence, call Handle) allocates at most once per probe
// message, the copy of its strings; decoding into a fresh message tree took 6.
// The messages differ in item, value and seq_num, as a tick's do.
func TestReceiverReusesMessages(t *testing.T) {
	const n = 3000
	e := encoder{sequenced: true}
	var stream []byte
	for i := range n {
		m := benchMessage()
		p := m.GetPerfMon().GetProbeMessage()
		p.ItemId = proto.String("eth" + strconv.Itoa(i))
		p.Value = &aos.ProbeMessage_Int64Value{Int64Value: int64(i) * 1000}
		var err error
		if stream, err = e.appendFrame(stream, uint64(i+1), m); err != nil {
			t.Fatal(err)
		}
	}
	var handled int
	rcv := NewReceiver(ReceiverConfig{Sequenced: true, Logger: discardLogger, Handle: func(m Received) {
		// What the test checks is that each message is the one sent; the
		// values and seq_nums are the frame's index.
		if want := "eth" + strconv.Itoa(handled); m.Message.GetPerfMon().GetProbeMessage().GetItemId() != want ||
			m.Seq != uint64(handled+1) {
			t.Fatalf("message %d: seq %d item %q", handled, m.Seq, m.Message.GetPerfMon().GetProbeMessage().GetItemId())
		}
		handled++
	}})
	cr := &connReader{r: rcv, br: newFrameReader(bytes.NewReader(stream)), sender: "192.0.2.1", log: discardLogger}
	allocs := testing.AllocsPerRun(n-1, func() {
		if err := cr.next(); err != nil {
			t.Fatal(err)
		}
	})
	if handled != n {
		t.Fatalf("handled %d messages, want %d", handled, n)
	}
	t.Logf("%v allocations per message", allocs)
	if allocs > 1 {
		t.Fatalf("%v allocations per received message, want at most 1", allocs)
	}
}
