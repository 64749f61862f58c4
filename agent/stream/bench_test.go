package stream

import (
	"log/slog"
	"net"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"google.golang.org/protobuf/proto"

	"github.com/probe-agent/probe-agent/proto/aos"
)

// benchMessage is a typical perfmon message: a ProbeMessage with two properties.
func benchMessage() *aos.AosMessage {
	m := probeMessage()
	m.GetPerfMon().GetProbeMessage().ProbeLabel = nil
	return m
}

// BenchmarkEncodeFrame measures the Sender's per-message encoding work: marshal
// into the reused buffer and frame it as an AosSequencedMessage.
func BenchmarkEncodeFrame(b *testing.B) {
	m := benchMessage()
	e := encoder{sequenced: true}
	out := make([]byte, 0, 2*flushAt)
	seq := uint64(1)
	b.ReportAllocs()
	cpu := startCPU()
	for b.Loop() {
		var err error
		if out, err = e.appendFrame(out, seq, m); err != nil {
			b.Fatal(err)
		}
		seq++
		if len(out) >= flushAt {
			out = out[:0]
		}
	}
	cpu.report(b)
	b.SetBytes(int64(proto.Size(m)))
}

// BenchmarkMarshalGeneric is the same message through the generic runtime, as
// every message other than probe data is encoded: the baseline for the fast path.
func BenchmarkMarshalGeneric(b *testing.B) {
	m := benchMessage()
	opts := proto.MarshalOptions{}
	buf := make([]byte, 0, 1024)
	b.ReportAllocs()
	cpu := startCPU()
	for b.Loop() {
		var err error
		if buf, err = opts.MarshalAppend(buf[:0], m); err != nil {
			b.Fatal(err)
		}
	}
	cpu.report(b)
}

// BenchmarkDecodeFrame is the Receiver's per-message work: split the sequenced
// wrapper and decode the AosMessage into a fresh message, checking required fields.
func BenchmarkDecodeFrame(b *testing.B) {
	e := encoder{sequenced: true}
	frame, err := e.appendFrame(nil, 1, benchMessage())
	if err != nil {
		b.Fatal(err)
	}
	frame = frame[2:]
	b.ReportAllocs()
	cpu := startCPU()
	for b.Loop() {
		if _, _, err := DecodeFrame(frame, true); err != nil {
			b.Fatal(err)
		}
	}
	cpu.report(b)
}

// BenchmarkDecodeFrameReused is the same decode into the Receiver's reused
// message, as each connection does it: the copy of the strings is the one
// allocation.
func BenchmarkDecodeFrameReused(b *testing.B) {
	e := encoder{sequenced: true}
	frame, err := e.appendFrame(nil, 1, benchMessage())
	if err != nil {
		b.Fatal(err)
	}
	frame = frame[2:]
	var d frameDecoder
	b.ReportAllocs()
	cpu := startCPU()
	for b.Loop() {
		if _, _, err := d.decode(frame, true); err != nil {
			b.Fatal(err)
		}
	}
	cpu.report(b)
}

// BenchmarkLoopback measures the whole path on loopback TCP: Enqueue, the Sender's
// writer, the kernel, and a Receiver decoding every message (into its reused
// AosMessage) and checking its sequence. The producer stays at most a window of
// messages ahead of the receiver, so the bounded queue never drops (a drop would
// leave the receiver short of b.N for ever) and holds a few MB at most.
func BenchmarkLoopback(b *testing.B) {
	m := benchMessage()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		b.Fatal(err)
	}
	const window = 1 << 16
	var got atomic.Int64
	progress := make(chan struct{}, 1)
	target := int64(b.N)
	r := NewReceiver(ReceiverConfig{Sequenced: true, Logger: discardLogger, Handle: func(Received) {
		if n := got.Add(1); n%1024 == 0 || n == target {
			select {
			case progress <- struct{}{}:
			default:
			}
		}
	}})
	go r.Serve(ln)
	defer r.Close()

	s, err := NewSender(Config{Name: ChannelPerfMon, Address: ln.Addr().String(), Sequenced: true,
		QueueSize: 2 * window, Logger: discardLogger})
	if err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	b.ResetTimer()
	cpu := startCPU()
	for i := range b.N {
		for int64(i)-got.Load() > window {
			<-progress
		}
		s.Enqueue(m)
	}
	for got.Load() < target {
		<-progress
	}
	b.StopTimer()
	cpu.report(b)
	if st := r.Stats(); st.Gaps != 0 || st.Duplicates != 0 {
		b.Fatalf("receiver stats %+v", st)
	}
	if st := s.Stats(); st.Dropped != 0 {
		b.Fatalf("sender dropped %d", st.Dropped)
	}
	ctx, cancel := contextWithTimeout(5e9)
	defer cancel()
	s.Close(ctx)
}

var discardLogger = slog.New(slog.DiscardHandler)

// cpuClock measures the CPU time (user and system, all threads) the process used,
// next to wall time. On a shared machine wall-clock rates swing with other load;
// CPU time per message is what decides how many messages one core can carry.
type cpuClock struct{ start time.Duration }

func processCPU() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

func startCPU() cpuClock { return cpuClock{start: processCPU()} }

func (c cpuClock) report(b *testing.B) {
	cpuPerMsg := float64(processCPU()-c.start) / float64(b.N)
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "msgs/s")
	b.ReportMetric(cpuPerMsg, "cpu-ns/msg")
	if cpuPerMsg > 0 {
		b.ReportMetric(1e9/cpuPerMsg, "msgs/cpu-s")
	}
}
