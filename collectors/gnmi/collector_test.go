package gnmi

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"os"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/openconfig/gnmi/proto/gnmi"

	"github.com/probe-agent/probe-agent/collectors"
)

const waitLong = 10 * time.Second

// quietLogger discards collector logs unless GNMI_TEST_LOG is set.
func quietLogger() *slog.Logger {
	if os.Getenv("GNMI_TEST_LOG") != "" {
		return slog.New(slog.NewTextHandler(os.Stderr, nil))
	}
	return slog.New(slog.NewTextHandler(io.Discard, nil))
}

// testOptions returns options for a loopback target with fast retries.
func testOptions(addr string) Options {
	return Options{
		Target:         addr,
		Insecure:       true,
		PrefixTarget:   "dev1",
		SampleInterval: 100 * time.Millisecond,
		SystemID:       "leaf1",
		StaleAfter:     time.Hour,
		IdleTimeout:    -1,
		Logger:         quietLogger(),
		Backoff:        Backoff{Initial: 20 * time.Millisecond, Max: 200 * time.Millisecond},
	}
}

func newTestCollector(t *testing.T, o Options) *Collector {
	t.Helper()
	c, err := New(o)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := c.Close(); err != nil {
			t.Errorf("Close: %v", err)
		}
	})
	return c
}

// collect calls Collect and fails the test if it errors with anything but
// collectors.ErrNoData (no stream established), which gives an empty batch.
func collect(t *testing.T, c *Collector, b *collectors.Batch) *collectors.Batch {
	t.Helper()
	if b == nil {
		b = &collectors.Batch{}
	}
	if err := c.Collect(context.Background(), b); err != nil {
		if !errors.Is(err, collectors.ErrNoData) {
			t.Fatalf("Collect: %v", err)
		}
		if len(b.Interfaces) != 0 {
			t.Fatalf("Collect returned %d interfaces with %v", len(b.Interfaces), err)
		}
	}
	return b
}

func find(b *collectors.Batch, name string) *collectors.Interface {
	for i := range b.Interfaces {
		if b.Interfaces[i].Name == name {
			return &b.Interfaces[i]
		}
	}
	return nil
}

// hasCounter is a poll condition: interface name reports counter c == v.
func hasCounter(t *testing.T, c *Collector, name string, ctr collectors.Counter, v uint64) func() bool {
	return func() bool {
		i := find(collect(t, c, nil), name)
		return i != nil && i.Has(ctr) && i.Counters[ctr] == v
	}
}

// allMapped is every counter an OpenConfig source can fill; stateMapped
// those from /interfaces/interface/state/counters.
const (
	allMapped = collectors.CounterSet(1<<collectors.NumCounters-1) &^
		(1<<collectors.AlignmentErrors | 1<<collectors.SymbolErrors)
	stateMapped = allMapped &^ (1<<collectors.Runts | 1<<collectors.Giants)
)

func TestCacheTargetExactValuesAndMerge(t *testing.T) {
	tg := newCacheTarget(t)
	o := testOptions(tg.addr)
	o.Username, o.Password = "alice", "s3cret"
	c := newTestCollector(t, o)

	// Every leaf is its own notification with its own timestamp; the
	// collector must merge them into one interface.
	leaves := map[string]uint64{
		"in-octets": 1001, "out-octets": 2002, "in-unicast-pkts": 11, "out-unicast-pkts": 22,
		"in-multicast-pkts": 3, "out-multicast-pkts": 4, "in-broadcast-pkts": 5, "out-broadcast-pkts": 6,
		"in-errors": 7, "out-errors": 8, "in-discards": 9, "out-discards": 10, "in-fcs-errors": 12,
		"in-unknown-protos": 99, // in the model, not mapped
	}
	names := slices.Sorted(func(yield func(string) bool) {
		for k := range leaves {
			if !yield(k) {
				return
			}
		}
	})
	for _, leaf := range names {
		tg.counter("Ethernet2", leaf, leaves[leaf])
	}
	tg.oper("Ethernet2", "UP")
	tg.set("Ethernet2", &gnmi.TypedValue{Value: &gnmi.TypedValue_StringVal{StringVal: "openconfig-if-ethernet:SPEED_100GB"}},
		"ethernet", "state", "port-speed")
	for leaf, v := range map[string]uint64{"in-undersize-frames": 13, "in-oversize-frames": 14, "in-jabber-frames": 15} {
		tg.set("Ethernet2", uintVal(v), "ethernet", "state", "counters", leaf)
	}
	tg.counter("Ethernet1", "in-octets", 5)
	tg.oper("Ethernet1", "DOWN")

	waitFor(t, "all leaves merged", waitLong, func() bool {
		i := find(collect(t, c, nil), "Ethernet2")
		e1 := find(collect(t, c, nil), "Ethernet1")
		return i != nil && i.Valid == allMapped &&
			i.SpeedBps != 0 && i.Oper != collectors.OperUnknown && e1 != nil && e1.Oper != collectors.OperUnknown
	})

	b := collect(t, c, nil)
	if got := []string{b.Interfaces[0].Name, b.Interfaces[1].Name}; len(b.Interfaces) != 2 || got[0] != "Ethernet1" || got[1] != "Ethernet2" {
		t.Fatalf("interfaces = %+v, want Ethernet1, Ethernet2 in that order", b.Interfaces)
	}
	want := collectors.Interface{SystemID: "leaf1", Name: "Ethernet2", Oper: collectors.OperUp, SpeedBps: 100_000_000_000}
	want.Set(collectors.RxBytes, 1001)
	want.Set(collectors.TxBytes, 2002)
	want.Set(collectors.RxUnicastPackets, 11)
	want.Set(collectors.TxUnicastPackets, 22)
	want.Set(collectors.RxMulticastPackets, 3)
	want.Set(collectors.TxMulticastPackets, 4)
	want.Set(collectors.RxBroadcastPackets, 5)
	want.Set(collectors.TxBroadcastPackets, 6)
	want.Set(collectors.RxErrorPackets, 7)
	want.Set(collectors.TxErrorPackets, 8)
	want.Set(collectors.RxDiscardPackets, 9)
	want.Set(collectors.TxDiscardPackets, 10)
	want.Set(collectors.FCSErrors, 12)
	want.Set(collectors.Runts, 13)
	want.Set(collectors.Giants, 14)
	if got := b.Interfaces[1]; got != want {
		t.Errorf("Ethernet2 =\n %+v\nwant\n %+v", got, want)
	}
	e1 := b.Interfaces[0]
	if e1.Oper != collectors.OperDown || e1.Valid != 1<<collectors.RxBytes || e1.Counters[collectors.RxBytes] != 5 || e1.SpeedBps != 0 {
		t.Errorf("Ethernet1 = %+v", e1)
	}

	// The layout holds while the set is the same and changes with it; the
	// batch's backing array is reused.
	b = &collectors.Batch{Interfaces: make([]collectors.Interface, 0, 8)}
	base := &b.Interfaces[:1][0]
	collect(t, c, b)
	layout := b.Layout
	collect(t, c, b)
	if b.Layout != layout || layout == 0 {
		t.Errorf("layout changed without a change of interfaces: %x → %x", layout, b.Layout)
	}
	tg.counter("Ethernet0", "out-octets", 1)
	waitFor(t, "Ethernet0", waitLong, hasCounter(t, c, "Ethernet0", collectors.TxBytes, 1))
	collect(t, c, b)
	if b.Layout == layout || len(b.Interfaces) != 3 || b.Interfaces[0].Name != "Ethernet0" {
		t.Errorf("after adding Ethernet0: layout %x (was %x), %+v", b.Layout, layout, b.Interfaces)
	}
	if &b.Interfaces[0] != base {
		t.Errorf("Collect did not reuse the batch's backing array")
	}

	// A later value for one leaf updates it and carries the others forward.
	tg.counter("Ethernet2", "in-octets", 5000)
	waitFor(t, "in-octets update", waitLong, hasCounter(t, c, "Ethernet2", collectors.RxBytes, 5000))
	if i := find(collect(t, c, nil), "Ethernet2"); i.Counters[collectors.TxBytes] != 2002 || i.Generation != 0 {
		t.Errorf("carry-forward: %+v", i)
	}

	if creds := tg.credentials(); len(creds) == 0 || creds[0] != "alice/s3cret" {
		t.Errorf("server saw credentials %q, want alice/s3cret", creds)
	}
	st := c.Stats()
	if !st.Connected || st.Subscribes != 1 || st.Reconnects != 0 || st.DecodeErrors != 0 {
		t.Errorf("stats = %+v", st)
	}
}

func TestCacheTargetRestartRecovers(t *testing.T) {
	tg := newCacheTarget(t)
	c := newTestCollector(t, testOptions(tg.addr))

	tg.counter("eth0", "in-octets", 100)
	tg.oper("eth0", "UP")
	waitFor(t, "first value", waitLong, hasCounter(t, c, "eth0", collectors.RxBytes, 100))

	// Kill the server mid-stream. Collect must not repeat the last state
	// as a new sample (every rate would read 0): it reports no data, with
	// the reason.
	tg.stop()
	var err error
	waitFor(t, "disconnect noticed", waitLong, func() bool {
		err = c.Collect(context.Background(), &collectors.Batch{})
		return err != nil
	})
	if !errors.Is(err, collectors.ErrNoData) || !strings.Contains(err.Error(), "gnmi stream to "+tg.addr+" lost") {
		t.Errorf("Collect while the target is down: %v, want ErrNoData naming the lost stream", err)
	}
	if c.Stats().Connected {
		t.Error("Connected while Collect reports no data")
	}
	// Let a few reconnect attempts fail against the closed port.
	waitFor(t, "failed reconnects", waitLong, func() bool {
		collect(t, c, nil)
		return c.Stats().Subscribes >= 3
	})

	tg.start(tg.addr)
	tg.counter("eth0", "in-octets", 250)
	waitFor(t, "data after restart", waitLong, hasCounter(t, c, "eth0", collectors.RxBytes, 250))
	st := c.Stats()
	if st.Reconnects < 1 || !st.Connected || st.CounterResets != 0 {
		t.Errorf("stats after restart: %+v", st)
	}
	if i := find(collect(t, c, nil), "eth0"); i.Generation != 0 || i.Oper != collectors.OperUp {
		t.Errorf("after restart: %+v", i)
	}
}

func TestDeviceRebootBumpsGeneration(t *testing.T) {
	tg := newCacheTarget(t)
	c := newTestCollector(t, testOptions(tg.addr))
	tg.counter("eth0", "in-octets", 1_000_000)
	tg.counter("eth0", "out-octets", 2_000_000)
	waitFor(t, "first values", waitLong, hasCounter(t, c, "eth0", collectors.TxBytes, 2_000_000))

	// The device reboots: a new target (empty cache) on the same port whose
	// counters start from small values again.
	addr := tg.addr
	tg.stop()
	tg2 := newCacheTargetAt(t, addr)
	tg2.counter("eth0", "in-octets", 10)
	waitFor(t, "new generation", waitLong, func() bool {
		i := find(collect(t, c, nil), "eth0")
		return i != nil && i.Generation == 1
	})
	i := find(collect(t, c, nil), "eth0")
	// Values from before the reboot must not be mixed into the new
	// generation: out-octets is invalid until the device sends it again.
	if i.Counters[collectors.RxBytes] != 10 || i.Has(collectors.TxBytes) {
		t.Errorf("after reboot: %+v", i)
	}
	tg2.counter("eth0", "out-octets", 20)
	waitFor(t, "out-octets again", waitLong, hasCounter(t, c, "eth0", collectors.TxBytes, 20))
	if st := c.Stats(); st.CounterResets != 1 || st.Reconnects < 1 {
		t.Errorf("stats: %+v", st)
	}
}

func TestStaleInterfacesAreDropped(t *testing.T) {
	tg := newCacheTarget(t)
	o := testOptions(tg.addr)
	o.StaleAfter = 300 * time.Millisecond
	c := newTestCollector(t, o)
	tg.counter("eth0", "in-octets", 1)
	waitFor(t, "value", waitLong, hasCounter(t, c, "eth0", collectors.RxBytes, 1))
	// The cache target sends on change only: without new writes nothing
	// arrives on the open stream, so the interface must go stale.
	waitFor(t, "stale", waitLong, func() bool { return len(collect(t, c, nil).Interfaces) == 0 })
}

func TestInterfaceDeleteStartsNewGeneration(t *testing.T) {
	tg := newCacheTarget(t)
	c := newTestCollector(t, testOptions(tg.addr))
	tg.counter("eth0", "in-octets", 500)
	tg.counter("eth1", "in-octets", 1)
	waitFor(t, "values", waitLong, hasCounter(t, c, "eth0", collectors.RxBytes, 500))
	if err := tg.c.GnmiUpdate(&gnmi.Notification{
		Timestamp: tg.ts.Add(1000),
		Prefix:    &gnmi.Path{Target: tg.name},
		Delete:    []*gnmi.Path{{Elem: []*gnmi.PathElem{{Name: "interfaces"}, {Name: "interface", Key: map[string]string{"name": "eth0"}}}}},
	}); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "deleted", waitLong, func() bool { return find(collect(t, c, nil), "eth0") == nil })
	tg.counter("eth0", "in-octets", 900)
	waitFor(t, "re-created", waitLong, hasCounter(t, c, "eth0", collectors.RxBytes, 900))
	if i := find(collect(t, c, nil), "eth0"); i.Generation != 1 {
		t.Errorf("re-created interface generation = %d, want 1", i.Generation)
	}
}

func TestEthernetPathsDroppedWhenRejected(t *testing.T) {
	tg := newCacheTarget(t)
	tg.rejectSpeed.Store(true)
	c := newTestCollector(t, testOptions(tg.addr))
	tg.counter("eth0", "in-octets", 3)
	waitFor(t, "data without port-speed", waitLong, hasCounter(t, c, "eth0", collectors.RxBytes, 3))
	if st := c.Stats(); !st.EthernetDropped || tg.rejected.Load() != 1 || st.Subscribes != 2 {
		t.Errorf("stats %+v, rejected %d", st, tg.rejected.Load())
	}
}

func TestIdleStreamIsRestarted(t *testing.T) {
	tg := newCacheTarget(t)
	o := testOptions(tg.addr)
	o.IdleTimeout = 100 * time.Millisecond
	c := newTestCollector(t, o)
	tg.counter("eth0", "in-octets", 3)
	waitFor(t, "value", waitLong, hasCounter(t, c, "eth0", collectors.RxBytes, 3))
	// The cache target sends on change only: with nothing written, the
	// stream goes quiet and the watchdog must resubscribe.
	waitFor(t, "resubscribe after silence", waitLong, func() bool { return tg.streams.Load() >= 3 })
	if st := c.Stats(); st.Reconnects < 2 || !strings.Contains(st.LastError, "no data for") {
		t.Errorf("stats %+v", st)
	}
	tg.counter("eth0", "in-octets", 4)
	waitFor(t, "value after resubscribe", waitLong, hasCounter(t, c, "eth0", collectors.RxBytes, 4))
}

func TestCollectAfterClose(t *testing.T) {
	c, err := New(testOptions("127.0.0.1:1"))
	if err != nil {
		t.Fatal(err)
	}
	if err := c.Collect(context.Background(), &collectors.Batch{}); !errors.Is(err, collectors.ErrNoData) {
		t.Fatalf("Collect before any data: %v, want ErrNoData", err)
	}
	if err := c.Close(); err != nil {
		t.Fatal(err)
	}
	if err := c.Collect(context.Background(), &collectors.Batch{}); err != ErrClosed {
		t.Fatalf("Collect after Close = %v, want ErrClosed", err)
	}
	if err := c.Close(); err != nil {
		t.Fatalf("second Close: %v", err)
	}
}

func TestOptionsValidation(t *testing.T) {
	for _, o := range []Options{
		{},
		{Target: "x:1", Insecure: true, Encoding: "xml"},
		{Target: "x:1", Insecure: true, Backoff: Backoff{Jitter: 2}},
		{Target: "x:1", TLS: TLSOptions{CAFile: "/nonexistent"}},
		{Target: "x:1", TLS: TLSOptions{CertFile: "/nonexistent", KeyFile: "/nonexistent"}},
	} {
		if c, err := New(o); err == nil {
			c.Close()
			t.Errorf("New(%+v) succeeded", o)
		}
	}
}

func TestBackoffDelay(t *testing.T) {
	b := Backoff{Initial: 100 * time.Millisecond, Max: time.Second, Multiplier: 2, Jitter: 0.5}
	for n, want := range []time.Duration{100, 200, 400, 800, 1000, 1000} {
		want *= time.Millisecond
		lo, hi := b.delay(n, 0), b.delay(n, 0.999999)
		if lo != want/2 || hi < want*3/2-time.Millisecond || hi > want*3/2 {
			t.Errorf("delay(%d) in [%v, %v], want [%v, %v]", n, lo, hi, want/2, want*3/2)
		}
	}
	if d := b.delay(1000, 0.5); d != time.Second {
		t.Errorf("delay(1000) = %v", d)
	}
}

// TestWaitConnected: the first attempt's outcome, so `probe-agent collect`
// against a target that is down fails with the reason.
func TestWaitConnected(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), waitLong)
	defer cancel()

	down := newTestCollector(t, testOptions("127.0.0.1:1"))
	err := down.WaitConnected(ctx)
	if err == nil || !strings.Contains(err.Error(), "gnmi target 127.0.0.1:1") || !strings.Contains(err.Error(), "connection refused") {
		t.Errorf("WaitConnected on a closed port: %v, want the refused connection", err)
	}
	err = down.Collect(ctx, &collectors.Batch{})
	if !errors.Is(err, collectors.ErrNoData) || !strings.Contains(err.Error(), "connection refused") {
		t.Errorf("Collect on a closed port: %v", err)
	}

	tg := newCacheTarget(t)
	tg.counter("eth0", "in-octets", 7)
	up := newTestCollector(t, testOptions(tg.addr))
	if err := up.WaitConnected(ctx); err != nil {
		t.Fatalf("WaitConnected on a live target: %v", err)
	}
	if err := up.Collect(ctx, &collectors.Batch{}); err != nil {
		t.Errorf("Collect once connected: %v", err)
	}
}

// TestProtoRefusedFallsBackToJSON: a target that refuses PROTO is asked
// again with JSON_IETF, keeping the Ethernet paths (the refusal is not
// about paths), and its data arrives.
func TestProtoRefusedFallsBackToJSON(t *testing.T) {
	tg := newCacheTarget(t)
	tg.rejectProto.Store(true)
	c := newTestCollector(t, testOptions(tg.addr))
	tg.counter("eth0", "in-octets", 5)
	waitFor(t, "data with JSON_IETF", waitLong, hasCounter(t, c, "eth0", collectors.RxBytes, 5))
	st := c.Stats()
	tg.mu.Lock()
	encs := append([]gnmi.Encoding(nil), tg.encodings...)
	tg.mu.Unlock()
	if st.Encoding != "json_ietf" || st.EthernetDropped || len(encs) < 2 || encs[0] != gnmi.Encoding_PROTO || encs[1] != gnmi.Encoding_JSON_IETF {
		t.Errorf("stats %+v, encodings asked %v; want PROTO then JSON_IETF with the Ethernet paths kept", st, encs)
	}
}

func TestFallbackEncodings(t *testing.T) {
	for _, tt := range []struct{ configured, want string }{
		{"", "proto json_ietf json"}, {"proto", "proto json_ietf json"}, {"json_ietf", "json_ietf json"}, {"json", "json"},
	} {
		if got := strings.Join(fallbackEncodings(tt.configured), " "); got != tt.want {
			t.Errorf("fallbackEncodings(%q) = %q, want %q", tt.configured, got, tt.want)
		}
	}
}
