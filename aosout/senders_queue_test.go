package aosout

import (
	"context"
	"io"
	"log/slog"
	"testing"
)

// TestReconfigureQueueBytes: a reload that changes queue.bytes gets a new
// sender (with the new bound); one that does not keeps the running one.
func TestReconfigureQueueBytes(t *testing.T) {
	log := slog.New(slog.NewTextHandler(io.Discard, nil))
	tests := []struct {
		name      string
		bytes     int
		wantKept  bool
		wantBound int
	}{
		{"unchanged", 4 << 20, true, 4 << 20},
		{"changed", 8 << 20, false, 8 << 20},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			entry := Entry{Type: ChannelPerfMon, Address: "127.0.0.1:9", Key: "perf", QueueBytes: 4 << 20}
			s, err := NewSenders([]Entry{entry}, 1000, log)
			if err != nil {
				t.Fatal(err)
			}
			entry.QueueBytes = tt.bytes
			next, retired, err := s.Reconfigure([]Entry{entry}, 1000, log)
			if err != nil {
				t.Fatal(err)
			}
			ctx, cancel := context.WithCancel(context.Background())
			cancel()
			defer func() { _ = next.Close(ctx) }()
			_ = retired.Close(ctx)
			if kept := next.Streams()[0].Sender == s.Streams()[0].Sender; kept != tt.wantKept {
				t.Fatalf("sender kept %v, want %v", kept, tt.wantKept)
			}
			if got := next.Streams()[0].queueBytes; got != tt.wantBound {
				t.Fatalf("queue bytes %d, want %d", got, tt.wantBound)
			}
		})
	}
}
