package lab

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"sync"
	"sync/atomic"
	"time"

	"github.com/vishvananda/netns"
)

// openIn opens a UDP socket inside a named namespace: the socket stays in
// that namespace whatever thread uses it afterwards.
func openIn(nsName string, open func() (*net.UDPConn, error)) (*net.UDPConn, error) {
	h, err := netns.GetFromName(nsName)
	if err != nil {
		return nil, fmt.Errorf("namespace %s: %w (is the lab up?)", nsName, err)
	}
	defer h.Close()
	var conn *net.UDPConn
	err = inNamespace(h, func() error {
		var err error
		conn, err = open()
		return err
	})
	return conn, err
}

type sink struct {
	conn           *net.UDPConn
	bytes, packets atomic.Int64
	done           chan struct{}
}

func (s *sink) run(flow uint32) {
	defer close(s.done)
	buf := make([]byte, 65536)
	for {
		n, err := s.conn.Read(buf)
		if err != nil {
			return // closed
		}
		if n >= headerLen && binary.BigEndian.Uint32(buf) == headerMagic && binary.BigEndian.Uint32(buf[4:]) == flow {
			s.bytes.Add(int64(n))
			s.packets.Add(1)
		}
	}
}

// RunFlows sends every flow for duration, all at once: a paced UDP sender
// in the source node's namespace and a sink in the destination's, and
// returns per flow the bytes and packets sent and received (UDP payload).
// Senders stop at duration or when ctx ends; sinks then keep counting
// until nothing more arrives (at most 2s).
func RunFlows(ctx context.Context, p *Plan, flows []Flow, duration time.Duration) ([]FlowResult, error) {
	results := make([]FlowResult, len(flows))
	sinks := make([]*sink, len(flows))
	senders := make([]*net.UDPConn, len(flows))
	defer func() {
		for i := range flows {
			if senders[i] != nil {
				senders[i].Close()
			}
			if sinks[i] != nil {
				sinks[i].conn.Close()
			}
		}
	}()
	for i, f := range flows {
		if f.Port == 0 {
			f.Port = 5001 + i
		}
		if f.Size == 0 {
			f.Size = 1200
		}
		if f.Size < headerLen || f.Size > 65000 {
			return nil, fmt.Errorf("flow %d: datagram size %d: want %d to 65000 bytes", i, f.Size, headerLen)
		}
		src, err := p.Address(f.From)
		if err != nil {
			return nil, fmt.Errorf("flow %d from: %w", i, err)
		}
		dst, err := p.Address(f.To)
		if err != nil {
			return nil, fmt.Errorf("flow %d to: %w", i, err)
		}
		srcNode, dstNode := p.Node(nodeOf(f.From)), p.Node(nodeOf(f.To))
		dstAddr := net.UDPAddrFromAddrPort(netip.AddrPortFrom(dst, uint16(f.Port)))
		conn, err := openIn(dstNode.Netns, func() (*net.UDPConn, error) { return net.ListenUDP("udp4", dstAddr) })
		if err != nil {
			return nil, fmt.Errorf("flow %d: sink on %s: %w", i, dstAddr, err)
		}
		_ = conn.SetReadBuffer(4 << 20)
		sinks[i] = &sink{conn: conn, done: make(chan struct{})}
		go sinks[i].run(uint32(i))
		srcAddr := net.UDPAddrFromAddrPort(netip.AddrPortFrom(src, 0))
		if senders[i], err = openIn(srcNode.Netns, func() (*net.UDPConn, error) { return net.DialUDP("udp4", srcAddr, dstAddr) }); err != nil {
			return nil, fmt.Errorf("flow %d: sender from %s: %w", i, srcAddr, err)
		}
		flows[i] = f
		results[i] = FlowResult{Flow: f, Src: srcAddr.String(), Dst: dstAddr.String()}
	}

	var wg sync.WaitGroup
	start := time.Now()
	for i := range flows {
		wg.Add(1)
		go func(i int) {
			defer wg.Done()
			send(ctx, senders[i], uint32(i), flows[i], duration, &results[i])
		}(i)
	}
	wg.Wait()
	elapsed := time.Since(start)
	// Drain: wait until every sink has what was sent, or its count stops
	// moving for 200ms (lost datagrams never come), at most 2s.
	deadline := time.Now().Add(2 * time.Second)
	last, still := int64(-1), 0
	for time.Now().Before(deadline) {
		var got, want int64
		for i := range flows {
			got += sinks[i].packets.Load()
			want += results[i].SentPackets
		}
		if got >= want {
			break
		}
		if got == last {
			if still++; still >= 4 {
				break
			}
		} else {
			last, still = got, 0
		}
		time.Sleep(50 * time.Millisecond) // waiting for datagrams in flight
	}
	for i := range flows {
		sinks[i].conn.Close()
		<-sinks[i].done
		results[i].RecvBytes, results[i].RecvPackets = sinks[i].bytes.Load(), sinks[i].packets.Load()
		results[i].Duration = elapsed
	}
	return results, nil
}

func nodeOf(spec string) string {
	for i := 0; i < len(spec); i++ {
		if spec[i] == ':' {
			return spec[:i]
		}
	}
	return spec
}

// send paces datagrams at the flow's rate: every millisecond or so it
// sends as many as are due since the start, so the average rate holds
// whatever the timer's granularity.
func send(ctx context.Context, conn *net.UDPConn, flow uint32, f Flow, duration time.Duration, r *FlowResult) {
	buf := make([]byte, f.Size)
	binary.BigEndian.PutUint32(buf, headerMagic)
	binary.BigEndian.PutUint32(buf[4:], flow)
	perPacket := float64(f.Size*8) / f.Rate // seconds
	start := time.Now()
	var seq uint64
	for {
		if ctx.Err() != nil {
			return
		}
		elapsed := time.Since(start)
		finished := elapsed >= duration
		if finished {
			elapsed = duration
		}
		due := int64(elapsed.Seconds() / perPacket)
		for int64(seq) < due {
			binary.BigEndian.PutUint64(buf[8:], seq)
			seq++
			if _, err := conn.Write(buf); err != nil {
				r.SendErrors++
				r.LastSendError = err.Error()
				if errors.Is(err, net.ErrClosed) {
					return
				}
				continue
			}
			r.SentBytes += int64(len(buf))
			r.SentPackets++
		}
		if finished {
			return
		}
		next := time.Duration(float64(seq+1)*perPacket*float64(time.Second)) - time.Since(start)
		if next > time.Millisecond {
			next = time.Millisecond
		}
		if next > 0 {
			time.Sleep(next) // pacing
		}
	}
}
