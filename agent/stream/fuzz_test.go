package stream

import (
	"bufio"
	"bytes"
	"errors"
	"io"
	"math/rand/v2"
	"testing"

	"google.golang.org/protobuf/proto"

	"github.com/probe-agent/probe-agent/proto/aos"
)

// FuzzDecodeFrames feeds arbitrary bytes to the receiving side: frame splitting,
// the hand-written AosSequencedMessage decoder (checked against the generated
// one) and AosMessage decoding in both channel modes. Seeds live in
// testdata/fuzz/FuzzDecodeFrames.
//
//	go test -run '^$' -fuzz FuzzDecodeFrames -fuzztime 60s ./agent/stream/
func FuzzDecodeFrames(f *testing.F) {
	f.Add(readGolden(f, "probe_message_sequenced.golden"))
	f.Add(readGolden(f, "probe_alert_unsequenced.golden"))
	f.Add(mixedFrames(f, 8)) // several shapes through one reused decoder
	f.Fuzz(func(t *testing.T, data []byte) {
		br := bufio.NewReader(bytes.NewReader(data))
		peek := newFrameReader(bytes.NewReader(data)) // the Receiver's reader
		var buf []byte
		var dec probeDecoder // one for the whole input, as a connection has
		for {
			frame, err := ReadFrame(br, buf)
			peeked, peekErr := peekFrame(peek)
			if err != peekErr || !bytes.Equal(frame, peeked) {
				t.Fatalf("ReadFrame %x, %v; peekFrame %x, %v", frame, err, peeked, peekErr)
			}
			if err != nil {
				if !errors.Is(err, io.EOF) && !errors.Is(err, io.ErrUnexpectedEOF) {
					t.Fatalf("ReadFrame: unexpected error %v", err)
				}
				return
			}
			buf = frame
			checkSplitSequenced(t, frame)
			for _, sequenced := range []bool{true, false} {
				checkDecodeFrame(t, &dec, frame, sequenced)
			}
		}
	})
}

// mixedFrames is n unsequenced frames of random probe messages, different in
// their number of properties, value kind and optional fields, with an alert
// in the middle.
func mixedFrames(tb testing.TB, n int) []byte {
	r := rand.New(rand.NewPCG(3, 4))
	e := encoder{}
	var out []byte
	for i := range n {
		m := randomProbeMessage(r)
		if i == n/2 {
			m = probeAlert()
		}
		var err error
		if out, err = e.appendFrame(out, 0, m); err != nil {
			tb.Fatal(err)
		}
	}
	return out
}

// checkSplitSequenced compares SplitSequenced with proto.Unmarshal of the
// generated AosSequencedMessage type.
func checkSplitSequenced(t *testing.T, frame []byte) {
	seq, inner, err := SplitSequenced(frame)
	var w aos.AosSequencedMessage
	werr := proto.Unmarshal(frame, &w)
	if (err == nil) != (werr == nil) {
		t.Fatalf("SplitSequenced err %v, proto.Unmarshal err %v", err, werr)
	}
	if err == nil && (seq != w.GetSeqNum() || !bytes.Equal(inner, w.GetAosProto())) {
		t.Fatalf("SplitSequenced (%d, %x) != proto.Unmarshal (%d, %x)", seq, inner, w.GetSeqNum(), w.GetAosProto())
	}
}

// checkDecodeFrame: whatever decodes must encode again, the re-encoding must be a
// fixed point, and the probe-data fast path must agree with the runtime, both
// fresh and through dec, the decoder reused for every frame of the input.
func checkDecodeFrame(t *testing.T, dec *probeDecoder, frame []byte, sequenced bool) {
	body := frame
	if sequenced {
		var err error
		if _, body, err = SplitSequenced(frame); err != nil {
			return
		}
	}
	opts := proto.MarshalOptions{Deterministic: true}
	// The reused decoder's message is encoded at once: the next decode
	// overwrites it.
	reused, reusedOK := dec.decode(body)
	var br []byte
	if reusedOK {
		var err error
		if br, err = opts.Marshal(reused); err != nil {
			t.Fatalf("reused decoder's message does not marshal: %v", err)
		}
	}
	fast, fastOK := decodeProbePerfMon(body)
	if fastOK != reusedOK {
		t.Fatalf("fresh decoder ok=%v, reused decoder ok=%v", fastOK, reusedOK)
	}
	m, err := decodeGeneric(body)
	if err != nil {
		if fastOK {
			t.Fatalf("fast path accepted what the runtime rejects (%v): %v", err, fast)
		}
		return
	}
	b1, err := opts.Marshal(m)
	if err != nil {
		t.Fatalf("decoded message does not marshal: %v", err)
	}
	if fastOK {
		bf, err := opts.Marshal(fast)
		if err != nil || !bytes.Equal(bf, b1) {
			t.Fatalf("fast path decoded differently from the runtime (%v):\nfast    %v\nruntime %v", err, fast, m)
		}
		if !bytes.Equal(br, b1) {
			t.Fatalf("reused decoder decoded differently from the runtime:\nreused  %x\nruntime %x", br, b1)
		}
	}
	var m2 aos.AosMessage
	if err := proto.Unmarshal(b1, &m2); err != nil {
		t.Fatalf("re-encoded message does not decode: %v", err)
	}
	b2, err := opts.Marshal(&m2)
	if err != nil || !bytes.Equal(b1, b2) {
		t.Fatalf("encoding is not stable: %v", err)
	}
}
