package aosout

import (
	"bufio"
	"context"
	"fmt"
	"log/slog"
	"net"
	"strings"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"google.golang.org/protobuf/proto"

	"github.com/probe-agent/probe-agent/agent/stream"
	"github.com/probe-agent/probe-agent/collectors"
	"github.com/probe-agent/probe-agent/proto/aos"
)

// benchProbe streams one if_counter stage: the seed probe's shape, two
// properties (system_id, interface) and a float per item.
const benchProbe = `{"id": "bench", "label": "bench", "processors": [
  {"name": "rate", "type": "if_counter", "outputs": {"out": "tx"}, "properties": {"counter_type": "tx_bytes", "enable_streaming": true}}]}`

// benchRun is a probe tick of 1,000 interfaces whose every item changed;
// encoding it again emits the same 1,000 messages.
func benchRun(b *testing.B) *probeRun {
	r := newProbeRun(b, benchProbe, 1, 1000)
	for i := range r.batch.Interfaces {
		r.batch.Interfaces[i].Name = fmt.Sprintf("Ethernet%d", i%48)
		r.batch.Interfaces[i].SystemID = fmt.Sprintf("leaf%d", i/48)
	}
	for tick := range 3 {
		for i := range r.batch.Interfaces {
			ifc := &r.batch.Interfaces[i]
			ifc.Set(collectors.TxBytes, ifc.Counters[collectors.TxBytes]+uint64(1000+(i+tick)%7))
		}
		r.tick.Time = r.tick.Time.Add(time.Second)
		r.batch.Time = r.tick.Time
		if err := r.inst.Tick(&r.tick); err != nil {
			b.Fatal(err)
		}
		r.items.Advance(r.batch, r.tick.Time)
	}
	n := 0
	NewEncoder(Identity{}).ProbeBodies(r.inst, func([]byte) { n++ })
	if n != 1000 {
		b.Fatalf("%d of 1000 items changed", n)
	}
	return r
}

// BenchmarkProbeEncode is the per-message encoding of probe data: direct
// (ProbeBodies, from the stage columns into one buffer) against generic
// (ProbeMessages builds the AosMessage, proto.Marshal encodes it), in the
// same run. msgs/cpu-s is messages per second of one core.
func BenchmarkProbeEncode(b *testing.B) {
	for _, path := range []string{"direct", "generic"} {
		b.Run(path, func(b *testing.B) {
			r := benchRun(b)
			e := NewEncoder(Identity{SystemID: "leaf1", Hostname: "leaf1", BlueprintID: "dc1"})
			var buf []byte
			size, msgs := 0, 0
			direct := func(body []byte) { size += len(body); msgs++ }
			generic := func(m *aos.AosMessage) {
				var err error
				if buf, err = (proto.MarshalOptions{}).MarshalAppend(buf[:0], m); err != nil {
					b.Fatal(err)
				}
				size += len(buf)
				msgs++
			}
			b.ReportAllocs()
			cpu := startCPU()
			for b.Loop() {
				if path == "direct" {
					e.ProbeBodies(r.inst, direct)
				} else {
					e.ProbeMessages(r.inst, generic)
				}
			}
			cpu.report(b, msgs)
			b.ReportMetric(float64(size)/float64(msgs), "B/msg")
		})
	}
}

// BenchmarkLoopback is the whole streaming path on loopback TCP, direct
// (ProbeBodies -> Senders.SendBody) against generic (ProbeMessages ->
// Senders.Send, which encodes each message at enqueue) in the same run:
// the sender's queue and writer, the kernel, and a stream.Receiver
// decoding every message (into the AosMessage it reuses) and checking its
// sequence; the "-frames" variants end in a frame reader instead
// (readFrames). The producer stays at most a window of messages ahead of the
// receiver, so the queue neither drops nor grows without bound.
func BenchmarkLoopback(b *testing.B) {
	for _, path := range []string{"direct", "generic", "direct-frames", "generic-frames"} {
		b.Run(path, func(b *testing.B) {
			frames := strings.HasSuffix(path, "-frames")
			path := strings.TrimSuffix(path, "-frames") // b.Run calls this more than once
			r := benchRun(b)
			e := NewEncoder(Identity{SystemID: "leaf1", Hostname: "leaf1", BlueprintID: "dc1"})
			ln, err := net.Listen("tcp", "127.0.0.1:0")
			if err != nil {
				b.Fatal(err)
			}
			const window = 1 << 16
			var got, enqueued atomic.Int64
			progress := make(chan struct{}, 1)
			// Wake the producer every 1,024 messages and at the last one
			// enqueued so far.
			handled := func() {
				if n := got.Add(1); n%1024 == 0 || n == enqueued.Load() {
					select {
					case progress <- struct{}{}:
					default:
					}
				}
			}
			var rcv *stream.Receiver
			if frames {
				go readFrames(b, ln, handled)
				defer ln.Close()
			} else {
				rcv = stream.NewReceiver(stream.ReceiverConfig{Sequenced: true, Logger: slog.New(slog.DiscardHandler), Handle: func(stream.Received) { handled() }})
				go rcv.Serve(ln)
				defer rcv.Close()
			}
			s, err := NewSenders([]Entry{{Type: ChannelPerfMon, Address: ln.Addr().String(), Sequenced: true}}, window*2, slog.New(slog.DiscardHandler))
			if err != nil {
				b.Fatal(err)
			}
			sendBody := func(body []byte) { s.SendBody(ChannelPerfMon, body) }
			send := func(m *aos.AosMessage) { s.Send(ChannelPerfMon, m) }
			sent := 0
			b.ReportAllocs()
			b.ResetTimer()
			cpu := startCPU()
			for sent < b.N {
				for int64(sent)-got.Load() > window {
					<-progress
				}
				if path == "direct" {
					e.ProbeBodies(r.inst, sendBody)
				} else {
					e.ProbeMessages(r.inst, send)
				}
				sent += 1000
				enqueued.Store(int64(sent))
			}
			for got.Load() < int64(sent) {
				<-progress
			}
			b.StopTimer()
			cpu.report(b, sent)
			if rcv != nil {
				if st := rcv.Stats(); st.Gaps != 0 || st.Duplicates != 0 || st.Messages != uint64(sent) {
					b.Fatalf("receiver stats %+v, sent %d", st, sent)
				}
			}
			ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
			defer cancel()
			if err := s.Close(ctx); err != nil {
				b.Fatal(err)
			}
		})
	}
}

// readFrames is the receiving end of the "-frames" variants: it splits
// the frames and checks that seq_nums follow one another, without decoding
// the messages, so the benchmark shows what the sending side carries
// (the difference from the other variants is stream.Receiver's decode).
func readFrames(b *testing.B, ln net.Listener, handled func()) {
	c, err := ln.Accept()
	if err != nil {
		return
	}
	defer c.Close()
	br := bufio.NewReaderSize(c, 64<<10)
	var buf []byte
	var last uint64
	for {
		frame, err := stream.ReadFrame(br, buf)
		if err != nil {
			return
		}
		buf = frame
		seq, _, err := stream.SplitSequenced(frame)
		if err != nil || (last != 0 && seq != last+1) {
			b.Errorf("frame after seq %d: seq %d, err %v", last, seq, err)
			return
		}
		last = seq
		handled()
	}
}

// cpuClock measures the CPU time (user and system, all threads) the process
// used, next to wall time: on a shared machine CPU time per message is what
// says how many messages one core carries.
type cpuClock struct{ start time.Duration }

func processCPU() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

func startCPU() cpuClock { return cpuClock{start: processCPU()} }

func (c cpuClock) report(b *testing.B, msgs int) {
	cpuPerMsg := float64(processCPU()-c.start) / float64(msgs)
	b.ReportMetric(float64(msgs)/b.Elapsed().Seconds(), "msgs/s")
	b.ReportMetric(cpuPerMsg, "cpu-ns/msg")
	if cpuPerMsg > 0 {
		b.ReportMetric(1e9/cpuPerMsg, "msgs/cpu-s")
	}
}
