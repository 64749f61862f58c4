package stream

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"errors"
	"math/big"
	"net"
	"strings"
	"testing"
	"time"

	"google.golang.org/protobuf/proto"
)

// checkSequence verifies that got holds messages numbered 0..n-1 (by item_id) with
// seq_num first+i, each at least once, and returns how many arrived twice. A
// duplicate must be a byte-identical resend.
func checkSequence(t *testing.T, got []Received, first uint64, n int) (dups int) {
	t.Helper()
	seen := make(map[uint64]Received, n)
	for _, r := range got {
		i := itemIndex(t, r.Message)
		if r.Seq != first+uint64(i) {
			t.Fatalf("item %d arrived with seq_num %d, want %d", i, r.Seq, first+uint64(i))
		}
		if prev, ok := seen[r.Seq]; ok {
			if !proto.Equal(prev.Message, r.Message) {
				t.Fatalf("seq_num %d reused for a different message", r.Seq)
			}
			dups++
			continue
		}
		seen[r.Seq] = r
	}
	for i := range n {
		if _, ok := seen[first+uint64(i)]; !ok {
			t.Fatalf("seq_num %d (item %d) never arrived", first+uint64(i), i)
		}
	}
	if len(seen) != n {
		t.Fatalf("%d distinct messages, want %d", len(seen), n)
	}
	return dups
}

// TestReceiverDownThenBack stops the receiver in the middle of a stream, keeps
// enqueueing while it is away, and brings it back on the same port: every message
// must arrive exactly once by seq_num, with contiguous numbers.
func TestReceiverDownThenBack(t *testing.T) {
	const first, perPhase = 5000, 1000
	out := newSink()
	ln1 := listen(t, "127.0.0.1:0")
	addr := ln1.Addr().String()
	r1 := NewReceiver(ReceiverConfig{Sequenced: true, Handle: out.handle, Logger: testLogger(t)})
	go r1.Serve(ln1)

	s := newTestSender(t, Config{Address: addr, Sequenced: true, InitialSeq: first})
	n := 0
	enqueue := func(k int) {
		for range k {
			s.Enqueue(numbered(n))
			n++
		}
	}
	enqueue(perPhase)
	out.waitFor(t, "first phase", atLeast(perPhase))

	r1.Close() // listener and connection gone
	enqueue(perPhase)

	ln2 := listen(t, addr)
	r2 := startReceiver(t, ln2, ReceiverConfig{Sequenced: true, Handle: out.handle})
	enqueue(perPhase)
	got := out.waitFor(t, "all phases", func(got []Received) bool {
		seen := map[uint64]bool{}
		for _, r := range got {
			seen[r.Seq] = true
		}
		return len(seen) == 3*perPhase
	})

	// Two Receivers each dedup their own connections; across them, only the write
	// that was in flight when the first one went away (up to flushAt bytes of
	// frames) may appear twice.
	frame, err := (&encoder{sequenced: true}).appendFrame(nil, first, numbered(0))
	if err != nil {
		t.Fatal(err)
	}
	inFlight := flushAt/len(frame) + 1
	if dups := checkSequence(t, got, first, 3*perPhase); dups > inFlight {
		t.Errorf("%d duplicates, want at most one in-flight write (%d frames)", dups, inFlight)
	}
	if st := r2.Stats(); st.Gaps != 0 || st.Lost != 0 {
		t.Errorf("receiver saw gaps: %+v", st)
	}
	if !s.Stats().Connected {
		t.Error("sender not connected")
	}
	closeSender(t, s)
	st := s.Stats()
	if st.Reconnects != 1 || st.Dropped != 0 || st.Sent != 3*perPhase {
		t.Errorf("sender stats %+v", st)
	}
}

func closeSender(t *testing.T, s *Sender) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if unsent, err := s.Close(ctx); unsent != 0 || err != nil {
		t.Fatalf("Close: %d unsent, %v", unsent, err)
	}
}

// TestQueueOverflow: with nobody listening, a queue of 10 keeps the 10 newest of 25
// messages, and they arrive once a receiver shows up. The 15 dropped ones leave a
// gap in seq_num, which is how receivers learn about the loss.
func TestQueueOverflow(t *testing.T) {
	addr := unusedAddr(t)
	s := newTestSender(t, Config{Address: addr, Sequenced: true, QueueSize: 10, InitialSeq: 1})
	for i := range 25 {
		s.Enqueue(numbered(i))
	}
	if st := s.Stats(); st.Enqueued != 25 || st.Dropped != 15 || st.QueueDepth != 10 || st.Connected {
		t.Fatalf("stats after overflow: %+v", st)
	}

	out := newSink()
	startReceiver(t, listen(t, addr), ReceiverConfig{Sequenced: true, Handle: out.handle})
	got := out.waitFor(t, "the 10 newest", atLeast(10))
	for j, r := range got {
		if i := itemIndex(t, r.Message); i != 15+j || r.Seq != uint64(16+j) {
			t.Fatalf("message %d: item %d seq %d, want item %d seq %d", j, i, r.Seq, 15+j, 16+j)
		}
	}
	closeSender(t, s) // the writer has stopped: counters are final
	if st := s.Stats(); st.Sent != 10 || st.QueueDepth != 0 {
		t.Errorf("stats after delivery: %+v", st)
	}
}

// TestRefusedMessages: an oversize or invalid message is counted and skipped; the
// messages around it still go through, and its seq_num shows as a gap of one.
func TestRefusedMessages(t *testing.T) {
	out := newSink()
	ln := listen(t, "127.0.0.1:0")
	var gaps []Gap // OnGap runs before Handle for the same frame, on the one connection goroutine
	r := startReceiver(t, ln, ReceiverConfig{Sequenced: true, Handle: out.handle, OnGap: func(g Gap) { gaps = append(gaps, g) }})
	s := newTestSender(t, Config{Address: ln.Addr().String(), Sequenced: true, InitialSeq: 100})

	big := numbered(1)
	big.GetPerfMon().GetProbeMessage().Property[0].Value = proto.String(strings.Repeat("v", 70000))
	invalid := numbered(3)
	invalid.OriginName = nil // required

	s.Enqueue(numbered(0))
	s.Enqueue(big)
	s.Enqueue(numbered(2))
	s.Enqueue(invalid)
	s.Enqueue(numbered(4))
	got := out.waitFor(t, "the valid messages", atLeast(3))
	for j, want := range []int{0, 2, 4} {
		if i := itemIndex(t, got[j].Message); i != want || got[j].Seq != got[0].Seq+uint64(want) {
			t.Fatalf("message %d: item %d seq %d", j, i, got[j].Seq)
		}
	}
	closeSender(t, s)
	if st := s.Stats(); st.Oversize != 1 || st.Invalid != 1 || st.Sent != 3 {
		t.Errorf("sender stats %+v", st)
	}
	if st := r.Stats(); st.Gaps != 2 || st.Lost != 2 {
		t.Errorf("receiver stats %+v", st)
	}
	want := []Gap{{"127.0.0.1", 101, 102}, {"127.0.0.1", 103, 104}}
	if len(gaps) != 2 || gaps[0] != want[0] || gaps[1] != want[1] {
		t.Errorf("gaps %+v, want %+v", gaps, want)
	}
}

func TestCloseFlushes(t *testing.T) {
	const n = 20000
	out := newSink()
	ln := listen(t, "127.0.0.1:0")
	startReceiver(t, ln, ReceiverConfig{Sequenced: true, Handle: out.handle})
	s, err := NewSender(Config{Name: ChannelPerfMon, Address: ln.Addr().String(), Sequenced: true, InitialSeq: 7, Logger: testLogger(t)})
	if err != nil {
		t.Fatal(err)
	}
	for i := range n {
		s.Enqueue(numbered(i))
	}
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	unsent, err := s.Close(ctx)
	if unsent != 0 || err != nil {
		t.Fatalf("Close: %d unsent, %v", unsent, err)
	}
	if s.Enqueue(numbered(n)) {
		t.Error("Enqueue accepted a message after Close")
	}
	checkSequence(t, out.waitFor(t, "everything", atLeast(n)), 7, n)
}

// TestCloseGivesUp: with no receiver, Close returns when its context expires and
// reports what was left.
func TestCloseGivesUp(t *testing.T) {
	s, err := NewSender(Config{Name: ChannelAlerts, Address: unusedAddr(t), BackoffMin: time.Millisecond, BackoffMax: 5 * time.Millisecond, Logger: testLogger(t)})
	if err != nil {
		t.Fatal(err)
	}
	for i := range 42 {
		s.Enqueue(numbered(i))
	}
	ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
	defer cancel()
	unsent, err := s.Close(ctx)
	if unsent != 42 || !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("Close: %d unsent, %v", unsent, err)
	}
}

// TestCloseUnblocksStalledWrite: a receiver that accepts and never reads fills the
// socket buffers; Close must still return when its context expires.
func TestCloseUnblocksStalledWrite(t *testing.T) {
	ln := listen(t, "127.0.0.1:0")
	defer ln.Close()
	accepted := make(chan net.Conn, 1)
	go func() {
		c, err := ln.Accept()
		if err == nil {
			accepted <- c
		}
	}()
	s, err := NewSender(Config{Name: ChannelPerfMon, Address: ln.Addr().String(), QueueSize: 1 << 20, Logger: testLogger(t)})
	if err != nil {
		t.Fatal(err)
	}
	c := <-accepted
	defer c.Close()
	big := numbered(0)
	big.GetPerfMon().GetProbeMessage().Property[0].Value = proto.String(strings.Repeat("v", 30000))
	for range 1000 { // 30 MB, more than loopback socket buffers hold
		s.Enqueue(big)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 200*time.Millisecond)
	defer cancel()
	unsent, err := s.Close(ctx)
	if unsent == 0 || !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("Close: %d unsent, %v", unsent, err)
	}
}

func TestTLS(t *testing.T) {
	serverCfg, clientCfg := testTLSConfigs(t)
	out := newSink()
	ln := listen(t, "127.0.0.1:0")
	startReceiver(t, tls.NewListener(ln, serverCfg), ReceiverConfig{Handle: out.handle})
	s := newTestSender(t, Config{Name: ChannelAlerts, Address: ln.Addr().String(), TLS: clientCfg})
	s.Enqueue(probeAlert())
	got := out.waitFor(t, "the alert", atLeast(1))
	if !proto.Equal(got[0].Message, probeAlert()) {
		t.Fatalf("got %v", got[0].Message)
	}
}

func TestNewSenderRejectsBadConfig(t *testing.T) {
	for _, cfg := range []Config{
		{Name: "metrics", Address: "127.0.0.1:1"},
		{Name: ChannelEvents, Address: "no-port"},
		{Name: ChannelEvents, Address: "127.0.0.1:1", QueueSize: -1},
	} {
		if _, err := NewSender(cfg); err == nil {
			t.Errorf("NewSender(%+v) succeeded", cfg)
		}
	}
}

func TestBackoff(t *testing.T) {
	lo, hi := 100*time.Millisecond, 2*time.Second
	for n := range 70 {
		want := min(hi, lo<<min(n, 20))
		if d := backoff(lo, hi, n); d < want/2 || d > want {
			t.Errorf("attempt %d: %v outside [%v, %v]", n, d, want/2, want)
		}
	}
}

// testTLSConfigs makes a throwaway CA-less self-signed certificate for 127.0.0.1.
func testTLSConfigs(t *testing.T) (server, client *tls.Config) {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(1),
		Subject:      pkix.Name{CommonName: "receiver"},
		NotBefore:    time.Now().Add(-time.Hour),
		NotAfter:     time.Now().Add(time.Hour),
		IPAddresses:  []net.IP{net.ParseIP("127.0.0.1")},
		KeyUsage:     x509.KeyUsageDigitalSignature,
		ExtKeyUsage:  []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	cert, err := x509.ParseCertificate(der)
	if err != nil {
		t.Fatal(err)
	}
	pool := x509.NewCertPool()
	pool.AddCert(cert)
	server = &tls.Config{Certificates: []tls.Certificate{{Certificate: [][]byte{der}, PrivateKey: key}}}
	client = &tls.Config{RootCAs: pool}
	return server, client
}
