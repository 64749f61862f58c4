package agent

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"sync"
	"syscall"
	"time"

	"google.golang.org/protobuf/encoding/protojson"

	"github.com/probe-agent/probe-agent/proto/aos"
)

// Bounds of the printer's queue: lines past either are dropped, oldest
// first, like the streaming queues.
const (
	printQueueLines = 10000
	printQueueBytes = 4 << 20
	// printWarnEvery bounds how often drops are logged at Warn.
	printWarnEvery = time.Minute
)

// printer writes messages to stdout: protobuf JSON per line, or a readable
// line per message.
//
// The tick loop evaluates probes with the manager locked and sends as it
// goes, so a send must never wait on the reader of stdout (`probe-agent run
// | sleep 45` would stop ticks, the APIs and /metrics). When stdout is a
// file descriptor, lines go through a bounded queue that a goroutine
// writes; a full queue drops its oldest lines, counted (the metrics'
// stdout "stream") and logged at Warn at most once a minute. A reader that
// goes away (EPIPE: the agent handles SIGPIPE, so the write fails instead
// of killing the process) is logged once; the agent keeps running and
// later lines are dropped and counted. Other writers (in-process buffers,
// in tests) are written directly.
type printer struct {
	text bool
	log  *slog.Logger

	mu       sync.Mutex
	queue    [][]byte
	head     int // queue[head:] is pending
	bytes    int
	sent     uint64
	dropped  uint64
	warned   uint64 // dropped when last logged
	lastWarn time.Time
	broken   error // the reader went away
	closed   bool
	wake     chan struct{}
	done     chan struct{}
	inflight int // lines the writer took and is writing
	// inflightBytes are their bytes: the bounds cover what is being
	// written as well as what waits, so the queue's memory never exceeds
	// printQueueLines / printQueueBytes.
	inflightBytes int

	// direct is set for writers that cannot block (not a file descriptor).
	direct *bufio.Writer
	buf    []byte
}

var printJSON = protojson.MarshalOptions{UseProtoNames: true}

func newPrinter(w io.Writer, text bool, log *slog.Logger) *printer {
	p := &printer{text: text, log: log}
	if p.log == nil {
		p.log = slog.New(slog.DiscardHandler)
	}
	if _, isFile := w.(*os.File); !isFile {
		p.direct = bufio.NewWriter(w)
		return p
	}
	p.wake, p.done = make(chan struct{}, 1), make(chan struct{})
	go p.run(w)
	return p
}

func (p *printer) render(b []byte, channel string, m *aos.AosMessage) ([]byte, bool) {
	if p.text {
		return AppendText(b, channel, m), true
	}
	body, err := printJSON.Marshal(m)
	if err != nil {
		return b, false
	}
	b = append(b, `{"channel":"`...)
	b = append(b, channel...)
	b = append(b, `","message":`...)
	b = append(b, compactJSON(body)...)
	return append(b, "}\n"...), true
}

func (p *printer) send(channel string, m *aos.AosMessage) {
	if p.direct != nil {
		p.mu.Lock()
		defer p.mu.Unlock()
		var ok bool
		if p.buf, ok = p.render(p.buf[:0], channel, m); ok {
			_, _ = p.direct.Write(p.buf)
			_ = p.direct.Flush()
			p.sent++
		}
		return
	}
	line, ok := p.render(nil, channel, m)
	if !ok {
		return
	}
	p.mu.Lock()
	if p.broken != nil || p.closed {
		p.dropped++
		p.mu.Unlock()
		return
	}
	p.queue = append(p.queue, line)
	p.bytes += len(line)
	for p.head < len(p.queue) && (len(p.queue)-p.head+p.inflight > printQueueLines || p.bytes+p.inflightBytes > printQueueBytes) {
		p.bytes -= len(p.queue[p.head])
		p.queue[p.head] = nil
		p.head++
		p.dropped++
	}
	warn := p.dropped > p.warned && time.Since(p.lastWarn) >= printWarnEvery
	var dropped uint64
	if warn {
		dropped, p.warned, p.lastWarn = p.dropped, p.dropped, time.Now()
	}
	p.mu.Unlock()
	select {
	case p.wake <- struct{}{}:
	default:
	}
	if warn {
		p.log.Warn("stdout is not read fast enough; printed messages were dropped (oldest first)", "dropped_total", dropped, "queue_lines", printQueueLines, "queue_bytes", printQueueBytes)
	}
}

// run writes queued lines, a batch per wake-up, until close.
func (p *printer) run(w io.Writer) {
	defer close(p.done)
	bw := bufio.NewWriterSize(w, 64<<10)
	for {
		p.mu.Lock()
		batch := p.queue[p.head:]
		p.inflight, p.inflightBytes = len(batch), p.bytes
		p.queue, p.head, p.bytes = nil, 0, 0
		closed := p.closed
		p.mu.Unlock()
		if len(batch) == 0 {
			if closed {
				return
			}
			<-p.wake
			continue
		}
		var err error
		for _, line := range batch {
			if _, err = bw.Write(line); err != nil {
				break
			}
		}
		if err == nil {
			err = bw.Flush()
		}
		p.mu.Lock()
		p.inflight, p.inflightBytes = 0, 0
		if err != nil {
			p.dropped += uint64(len(batch)) // how many of the batch made it is unknown
			if p.broken == nil {
				p.broken = err
				p.dropped += uint64(len(p.queue) - p.head)
				p.queue, p.head, p.bytes = nil, 0, 0
			}
		} else {
			p.sent += uint64(len(batch))
		}
		p.mu.Unlock()
		if err != nil {
			if errors.Is(err, syscall.EPIPE) {
				p.log.Error("stdout was closed by its reader (broken pipe); the agent keeps running, printed messages are dropped from now on (probe_agent_stream_dropped_total{receiver=\"stdout\"})")
			} else {
				p.log.Error("cannot write to stdout; the agent keeps running, printed messages are dropped from now on", "err", err)
			}
			// Drain until close: everything sent from now on is counted as
			// dropped by send.
			for {
				p.mu.Lock()
				closed := p.closed
				p.mu.Unlock()
				if closed {
					return
				}
				<-p.wake
			}
		}
	}
}

func (p *printer) close(ctx context.Context) error {
	if p.direct != nil {
		p.mu.Lock()
		defer p.mu.Unlock()
		return p.direct.Flush()
	}
	p.mu.Lock()
	already := p.closed
	p.closed = true
	p.mu.Unlock()
	if !already {
		select {
		case p.wake <- struct{}{}:
		default:
		}
	}
	select {
	case <-p.done:
		return nil
	case <-ctx.Done():
		p.mu.Lock()
		defer p.mu.Unlock()
		return fmt.Errorf("stdout: %d messages unsent: %w", len(p.queue)-p.head+p.inflight, ctx.Err())
	}
}

func (p *printer) describe() string {
	if p.text {
		return "stdout (text)"
	}
	return "stdout (json)"
}

// stats are the printer's counters in the shape of a streaming receiver's,
// so metrics and the summary line show stdout next to the streams.
func (p *printer) stats() StreamStats {
	p.mu.Lock()
	defer p.mu.Unlock()
	st := StreamStats{Channel: "all", Receiver: "stdout"}
	st.Sent, st.Dropped = p.sent, p.dropped
	st.Enqueued = p.sent + p.dropped + uint64(len(p.queue)-p.head+p.inflight)
	st.QueueDepth = len(p.queue) - p.head + p.inflight
	st.Connected = p.broken == nil
	if p.broken != nil {
		st.LastError = p.broken.Error()
	}
	return st
}
