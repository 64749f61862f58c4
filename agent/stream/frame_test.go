package stream

import (
	"bufio"
	"bytes"
	"context"
	"encoding/hex"
	"errors"
	"io"
	"strings"
	"testing"
	"time"

	"google.golang.org/protobuf/proto"

	"github.com/probe-agent/probe-agent/proto/aos"
)

func contextWithTimeout(d time.Duration) (context.Context, context.CancelFunc) {
	return context.WithTimeout(context.Background(), d)
}

// TestGoldenFrames checks what the Sender puts on a real loopback connection
// against frames written out by hand from the field numbers, so a wrong field
// number, wire type or framing detail shows up as a byte difference.
func TestGoldenFrames(t *testing.T) {
	tests := []struct {
		golden    string
		sequenced bool
		seq       uint64
		msg       *aos.AosMessage
	}{
		{"probe_message_sequenced.golden", true, 1000, probeMessage()},
		{"probe_alert_unsequenced.golden", false, 0, probeAlert()},
	}
	for _, tt := range tests {
		t.Run(tt.golden, func(t *testing.T) {
			want := readGolden(t, tt.golden)
			ln := listen(t, "127.0.0.1:0")
			defer ln.Close()
			s := newTestSender(t, Config{Address: ln.Addr().String(), Sequenced: tt.sequenced, InitialSeq: tt.seq})
			s.Enqueue(tt.msg)

			c, err := ln.Accept()
			if err != nil {
				t.Fatal(err)
			}
			defer c.Close()
			c.SetReadDeadline(time.Now().Add(10 * time.Second))
			got := make([]byte, len(want))
			if _, err := io.ReadFull(c, got); err != nil {
				t.Fatal(err)
			}
			if !bytes.Equal(got, want) {
				t.Fatalf("frame differs from %s\n got: %s\nwant: %s", tt.golden, hex.EncodeToString(got), hex.EncodeToString(want))
			}

			// And the decoder reads the golden frame back into the same message.
			frame, err := ReadFrame(bufio.NewReader(bytes.NewReader(want)), nil)
			if err != nil {
				t.Fatal(err)
			}
			seq, m, err := DecodeFrame(frame, tt.sequenced)
			if err != nil {
				t.Fatal(err)
			}
			if seq != tt.seq || !proto.Equal(m, tt.msg) {
				t.Fatalf("decoded seq %d %v, want %d %v", seq, m, tt.seq, tt.msg)
			}
		})
	}
}

func TestReadFrame(t *testing.T) {
	tests := []struct {
		name    string
		in      []byte
		want    [][]byte
		wantErr error
	}{
		{"empty stream", nil, nil, io.EOF},
		{"two frames", []byte{0, 1, 'a', 0, 2, 'b', 'c'}, [][]byte{[]byte("a"), []byte("bc")}, io.EOF},
		{"zero-length frame", []byte{0, 0}, [][]byte{{}}, io.EOF},
		{"cut in header", []byte{0}, nil, io.ErrUnexpectedEOF},
		{"cut in payload", []byte{0, 3, 'a'}, nil, io.ErrUnexpectedEOF},
	}
	// Both readers: ReadFrame into a buffer, and the Receiver's peekFrame.
	readers := map[string]func(*bufio.Reader) func() ([]byte, error){
		"ReadFrame": func(br *bufio.Reader) func() ([]byte, error) {
			var buf []byte
			return func() ([]byte, error) {
				frame, err := ReadFrame(br, buf)
				buf = frame
				return frame, err
			}
		},
		"peekFrame": func(br *bufio.Reader) func() ([]byte, error) {
			return func() ([]byte, error) { return peekFrame(br) }
		},
	}
	for name, reader := range readers {
		for _, tt := range tests {
			t.Run(name+"/"+tt.name, func(t *testing.T) {
				next := reader(newFrameReader(bytes.NewReader(tt.in)))
				for i := 0; ; i++ {
					frame, err := next()
					if err != nil {
						if !errors.Is(err, tt.wantErr) || i != len(tt.want) {
							t.Fatalf("after %d frames: err %v, want %v after %d", i, err, tt.wantErr, len(tt.want))
						}
						return
					}
					if i >= len(tt.want) || !bytes.Equal(frame, tt.want[i]) {
						t.Fatalf("frame %d = %q", i, frame)
					}
				}
			})
		}
	}
}

func TestMaxFrame(t *testing.T) {
	// The largest payload the length prefix can express still goes through.
	in := append([]byte{0xff, 0xff}, bytes.Repeat([]byte{'x'}, MaxFrameSize)...)
	frame, err := ReadFrame(bufio.NewReader(bytes.NewReader(in)), nil)
	if err != nil || len(frame) != MaxFrameSize {
		t.Fatalf("len %d, err %v", len(frame), err)
	}
	// And through the Receiver's reader, whose buffer must hold it whole.
	frame, err = peekFrame(newFrameReader(bytes.NewReader(in)))
	if err != nil || len(frame) != MaxFrameSize {
		t.Fatalf("peekFrame: len %d, err %v", len(frame), err)
	}

	// A message whose frame would not fit is refused and leaves dst untouched.
	big := probeMessage()
	big.GetPerfMon().GetProbeMessage().Property[0].Value = proto.String(strings.Repeat("v", MaxFrameSize))
	for _, sequenced := range []bool{false, true} {
		e := encoder{sequenced: sequenced}
		dst, err := e.appendFrame([]byte("keep"), 7, big)
		if !errors.Is(err, ErrOversize) || string(dst) != "keep" {
			t.Errorf("sequenced=%v: err %v, dst %q", sequenced, err, dst)
		}
	}
}

func TestSplitSequencedMatchesProto(t *testing.T) {
	inner, err := proto.Marshal(probeMessage())
	if err != nil {
		t.Fatal(err)
	}
	w := &aos.AosSequencedMessage{SeqNum: proto.Uint64(1 << 40), AosProto: inner}
	b, err := proto.Marshal(w)
	if err != nil {
		t.Fatal(err)
	}
	// An unknown field ahead of the known ones must be skipped.
	b = append([]byte{0x18, 0x05}, b...)
	seq, got, err := SplitSequenced(b)
	if err != nil || seq != 1<<40 || !bytes.Equal(got, inner) {
		t.Fatalf("seq %d, err %v, aos_proto equal %v", seq, err, bytes.Equal(got, inner))
	}
}

// TestReadFrameDoesNotAllocate: with a buffer large enough, reading a frame
// allocates nothing (the receiver reads one per message).
func TestReadFrameDoesNotAllocate(t *testing.T) {
	frame := append([]byte{0, 3}, "abc"...)
	r := bytes.NewReader(nil)
	br := bufio.NewReader(r)
	buf := make([]byte, 0, 64)
	allocs := testing.AllocsPerRun(1000, func() {
		r.Reset(frame)
		br.Reset(r)
		var err error
		if buf, err = ReadFrame(br, buf); err != nil || string(buf) != "abc" {
			t.Fatalf("frame %q, err %v", buf, err)
		}
	})
	if allocs != 0 {
		t.Fatalf("%v allocations per frame", allocs)
	}
}
