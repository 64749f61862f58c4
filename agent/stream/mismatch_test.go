package stream

import (
	"log/slog"
	"strings"
	"testing"
)

// TestSequencedMismatchIsExplained: a sender and a receiver that disagree on
// sequenced, either way round, get one Error line per connection saying
// which side to change, not one cryptic line per frame; the frames are
// counted as mismatched and not delivered.
func TestSequencedMismatchIsExplained(t *testing.T) {
	for _, tt := range []struct {
		name             string
		sender, receiver bool
		want             string
	}{
		{"unsequenced sender, sequenced receiver", false, true, "the sender is unsequenced but this receiver expects sequenced frames: set sequenced: true"},
		{"sequenced sender, unsequenced receiver", true, false, "the sender is sequenced but this receiver expects unsequenced frames: run the receiver with --sequenced"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			logs := &lockedBuffer{notify: make(chan struct{}, 1)}
			got := newSink()
			ln := listen(t, "127.0.0.1:0")
			r := startReceiver(t, ln, ReceiverConfig{Sequenced: tt.receiver, Handle: got.handle,
				Logger: slog.New(slog.NewTextHandler(logs, &slog.HandlerOptions{Level: slog.LevelDebug}))})
			s := newTestSender(t, Config{Name: ChannelPerfMon, Address: ln.Addr().String(), Sequenced: tt.sender})
			for i := range 5 {
				s.Enqueue(numbered(i))
			}
			logs.waitCount(t, "sequenced setting differs", 4) // the frames after the first
			if out := logs.String(); strings.Count(out, "level=ERROR") != 1 || !strings.Contains(out, tt.want) {
				t.Errorf("log:\n%s\nwant one Error containing %q", out, tt.want)
			}
			if st := r.Stats(); st.Mismatched != 5 || st.Messages != 0 || len(got.snapshot()) != 0 {
				t.Errorf("stats %+v, %d delivered", st, len(got.snapshot()))
			}
		})
	}
}
