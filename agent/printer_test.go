package agent

import (
	"bufio"
	"context"
	"encoding/json"
	"log/slog"
	"os"
	"strings"
	"sync"
	"testing"

	"google.golang.org/protobuf/proto"

	"github.com/probe-agent/probe-agent/proto/aos"
)

// logWatch is a log destination that signals when a line containing one
// of its patterns is written.
type logWatch struct {
	mu    sync.Mutex
	lines []string
	want  map[string]chan struct{}
}

func newLogWatch(patterns ...string) *logWatch {
	w := &logWatch{want: map[string]chan struct{}{}}
	for _, p := range patterns {
		w.want[p] = make(chan struct{})
	}
	return w
}

func (w *logWatch) Write(b []byte) (int, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	line := string(b)
	w.lines = append(w.lines, line)
	for p, ch := range w.want {
		if strings.Contains(line, p) {
			close(ch)
			delete(w.want, p)
		}
	}
	return len(b), nil
}

func (w *logWatch) wait(t *testing.T, pattern string, ch chan struct{}) {
	t.Helper()
	select {
	case <-ch:
	case <-t.Context().Done():
		t.Fatalf("no log line with %q", pattern)
	}
}

// TestPrinterDoesNotBlockOnAStalledPipe: with stdout a real pipe whose
// reader stops reading, sends return at once (the tick loop sends under
// the manager lock), the queue stays within its bounds, drops are counted
// and logged at Warn; when the reader goes away, the broken pipe is
// logged once and the agent's printer keeps accepting (and counting)
// messages.
func TestPrinterDoesNotBlockOnAStalledPipe(t *testing.T) {
	r, w, err := os.Pipe()
	if err != nil {
		t.Fatal(err)
	}
	defer w.Close()
	logs := newLogWatch("printed messages were dropped", "broken pipe")
	warned, broken := logs.want["printed messages were dropped"], logs.want["broken pipe"]
	p := newPrinter(w, false, slog.New(slog.NewTextHandler(logs, nil)))
	msg := &aos.AosMessage{Timestamp: proto.Uint64(1), OriginName: proto.String(strings.Repeat("x", 400))}

	// Read the first line, then stop reading: the pipe (64 KiB) and the
	// queue (4 MiB) fill; 20,000 lines of ~450 bytes are 9 MB.
	p.send(chanPerfmon, msg)
	first, err := bufio.NewReader(r).ReadString('\n')
	if err != nil {
		t.Fatal(err)
	}
	var line struct {
		Channel string          `json:"channel"`
		Message json.RawMessage `json:"message"`
	}
	if err := json.Unmarshal([]byte(first), &line); err != nil || line.Channel != chanPerfmon {
		t.Fatalf("first line %q: %v", first, err)
	}
	const n = 20000
	for range n {
		p.send(chanPerfmon, msg) // would block here with a synchronous write
	}
	logs.wait(t, "dropped", warned)
	st := p.stats()
	if st.Dropped == 0 || st.QueueDepth > printQueueLines || st.Receiver != "stdout" || !st.Connected {
		t.Errorf("stats with a stalled reader: %+v", st)
	}
	if st.Sent+st.Dropped+uint64(st.QueueDepth) != n+1 {
		t.Errorf("sent %d + dropped %d + queued %d != %d sent", st.Sent, st.Dropped, st.QueueDepth, n+1)
	}

	// The reader exits: the write fails with EPIPE (the agent catches
	// SIGPIPE; a test binary does for pipes other than stdout).
	r.Close()
	logs.wait(t, "broken pipe", broken)
	before := p.stats()
	p.send(chanPerfmon, msg)
	after := p.stats()
	if before.Connected || after.Dropped != before.Dropped+1 || !strings.Contains(after.LastError, "broken pipe") {
		t.Errorf("after the reader left: %+v then %+v", before, after)
	}
	if err := p.close(context.Background()); err != nil {
		t.Errorf("close: %v", err)
	}
	times := 0
	for _, l := range logs.lines {
		if strings.Contains(l, "broken pipe") {
			times++
		}
	}
	if times != 1 {
		t.Errorf("broken pipe logged %d times, want once:\n%s", times, strings.Join(logs.lines, ""))
	}
}

// TestPrinterFlushesAtClose: queued lines are written before close returns.
func TestPrinterFlushesAtClose(t *testing.T) {
	f, err := os.CreateTemp(t.TempDir(), "stdout")
	if err != nil {
		t.Fatal(err)
	}
	p := newPrinter(f, true, nil)
	for i := range 100 {
		p.send(chanAlerts, &aos.AosMessage{Timestamp: proto.Uint64(uint64(i))})
	}
	if err := p.close(context.Background()); err != nil {
		t.Fatal(err)
	}
	data, _ := os.ReadFile(f.Name())
	if got := strings.Count(string(data), "\n"); got != 100 {
		t.Errorf("%d lines written, want 100", got)
	}
	if st := p.stats(); st.Sent != 100 || st.Dropped != 0 {
		t.Errorf("%+v", st)
	}
}
