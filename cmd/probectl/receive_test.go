package main

import (
	"bytes"
	"context"
	"encoding/json"
	"net"
	"strings"
	"sync"
	"testing"
	"time"

	"google.golang.org/protobuf/proto"

	"github.com/probe-agent/probe-agent/proto/aos"
)

type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// TestReceivePrintsAndReportsGaps streams sequenced messages with a hole in
// seq_num to `probectl receive` and checks the JSON lines and the loss report.
func TestReceivePrintsAndReportsGaps(t *testing.T) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	var stdout, stderr syncBuffer
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- receive(ctx, l, true, "json", &stdout, &stderr) }()

	conn, err := net.Dial("tcp", l.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	for _, seq := range []uint64{7, 8, 11} {
		inner, _ := proto.Marshal(&aos.AosMessage{
			Timestamp: proto.Uint64(1), OriginName: proto.String("dc1"),
			Data: &aos.AosMessage_PerfMon{PerfMon: &aos.PerfMon{Data: &aos.PerfMon_ProbeMessage{ProbeMessage: &aos.ProbeMessage{
				ProbeId: proto.String("p"), StageName: proto.String("s"), BlueprintId: proto.String("dc1"), ItemId: proto.String("i"),
				Value: &aos.ProbeMessage_Int64Value{Int64Value: int64(seq)},
			}}}},
		})
		outer, _ := proto.Marshal(&aos.AosSequencedMessage{SeqNum: proto.Uint64(seq), AosProto: inner})
		frame := append([]byte{byte(len(outer) >> 8), byte(len(outer))}, outer...)
		if _, err := conn.Write(frame); err != nil {
			t.Fatal(err)
		}
	}
	conn.Close()
	deadline := time.Now().Add(10 * time.Second)
	for strings.Count(stdout.String(), "\n") < 3 && time.Now().Before(deadline) {
		time.Sleep(10 * time.Millisecond) // polling the output; the receiver has no completion signal
	}
	cancel()
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	lines := strings.Split(strings.TrimSpace(stdout.String()), "\n")
	if len(lines) != 3 {
		t.Fatalf("want 3 lines, got %q", stdout.String())
	}
	var first map[string]any
	if err := json.Unmarshal([]byte(lines[0]), &first); err != nil || first["seq_num"] != 7.0 {
		t.Errorf("first line %s (%v)", lines[0], err)
	}
	if !strings.Contains(stderr.String(), "expected seq 9, got 11: 2 message(s) lost") {
		t.Errorf("gap not reported: %s", stderr.String())
	}
}
