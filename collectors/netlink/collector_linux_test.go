package netlink

import (
	"context"
	"fmt"
	"net"
	"sync"
	"testing"
	"time"

	"github.com/probe-agent/probe-agent/collectors"
	vnl "github.com/vishvananda/netlink"
)

func newCollector(t *testing.T, ns string) *Collector {
	t.Helper()
	c, err := New(Options{Netns: ns, SystemID: "sys-" + ns})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	return c
}

func poll(t *testing.T, c *Collector, b *collectors.Batch) map[string]collectors.Interface {
	t.Helper()
	if err := c.Collect(context.Background(), b); err != nil {
		t.Fatal(err)
	}
	m := make(map[string]collectors.Interface, len(b.Interfaces))
	for _, it := range b.Interfaces {
		if _, dup := m[it.Name]; dup {
			t.Fatalf("name %q twice in one batch", it.Name)
		}
		m[it.Name] = it
	}
	return m
}

func delta(before, after collectors.Interface, c collectors.Counter) uint64 {
	return after.Counters[c] - before.Counters[c]
}

func TestVethCounters(t *testing.T) {
	requireRoot(t)
	nsA, nsB := newNetns(t), newNetns(t)
	ip(t, "-n", nsA, "link", "add", "va", "type", "veth", "peer", "name", "vb", "netns", nsB)
	ip(t, "-n", nsA, "addr", "add", "10.201.0.1/30", "dev", "va")
	ip(t, "-n", nsB, "addr", "add", "10.201.0.2/30", "dev", "vb")
	ip(t, "-n", nsA, "link", "set", "va", "up")
	ip(t, "-n", nsB, "link", "set", "vb", "up")
	// Static neighbours: no ARP on the wire during the measurement.
	hA, hB := nsHandle(t, nsA), nsHandle(t, nsB)
	mac := func(h interface{ IsOpen() bool }, name string, hnd *vnl.Handle) string {
		l, err := hnd.LinkByName(name)
		if err != nil {
			t.Fatal(err)
		}
		return l.Attrs().HardwareAddr.String()
	}
	nlA, err := vnl.NewHandleAt(hA)
	if err != nil {
		t.Fatal(err)
	}
	defer nlA.Close()
	nlB, err := vnl.NewHandleAt(hB)
	if err != nil {
		t.Fatal(err)
	}
	defer nlB.Close()
	ip(t, "-n", nsA, "neigh", "replace", "10.201.0.2", "lladdr", mac(hB, "vb", nlB), "dev", "va", "nud", "permanent")
	ip(t, "-n", nsB, "neigh", "replace", "10.201.0.1", "lladdr", mac(hA, "va", nlA), "dev", "vb", "nud", "permanent")

	var rx, tx net.PacketConn
	if err := inNetns(hB, func() (err error) {
		rx, err = net.ListenPacket("udp4", "10.201.0.2:9999")
		return err
	}); err != nil {
		t.Fatal(err)
	}
	defer rx.Close()
	if err := inNetns(hA, func() (err error) {
		tx, err = net.ListenPacket("udp4", "10.201.0.1:0")
		return err
	}); err != nil {
		t.Fatal(err)
	}
	defer tx.Close()
	// Carrier comes up asynchronously after "link set up".
	cA, cB := newCollector(t, nsA), newCollector(t, nsB)
	var bA, bB collectors.Batch
	deadline := time.Now().Add(3 * time.Second)
	for poll(t, cA, &bA)["va"].Oper != collectors.OperUp || poll(t, cB, &bB)["vb"].Oper != collectors.OperUp {
		if time.Now().After(deadline) {
			t.Fatal("veth never reported up")
		}
		time.Sleep(20 * time.Millisecond)
	}

	a0, b0 := poll(t, cA, &bA), poll(t, cB, &bB)
	for _, n := range []string{"lo", "va"} {
		if _, ok := a0[n]; !ok {
			t.Fatalf("%s missing from %v", n, bA.Interfaces)
		}
	}
	va := a0["va"]
	if va.SystemID != "sys-"+nsA {
		t.Errorf("SystemID %q", va.SystemID)
	}
	if va.SpeedBps != 10e9 {
		t.Errorf("veth speed %d bps, want 10 Gb/s from ethtool", va.SpeedBps)
	}
	for _, c := range []collectors.Counter{collectors.TxBroadcastPackets, collectors.TxMulticastPackets, collectors.RxBroadcastPackets, collectors.Runts} {
		if va.Has(c) {
			t.Errorf("%v marked valid; Linux has no such counter", c)
		}
	}

	const n, payload = 500, 100
	const wire = 14 + 20 + 8 + payload // Ethernet + IPv4 + UDP headers
	dst := &net.UDPAddr{IP: net.IPv4(10, 201, 0, 2), Port: 9999}
	buf := make([]byte, payload)
	for i := 0; i < n; i++ {
		if _, err := tx.WriteTo(buf, dst); err != nil {
			t.Fatal(err)
		}
	}
	var a1, b1 map[string]collectors.Interface
	for deadline := time.Now().Add(2 * time.Second); ; time.Sleep(10 * time.Millisecond) {
		a1, b1 = poll(t, cA, &bA), poll(t, cB, &bB)
		if delta(b0["vb"], b1["vb"], collectors.RxUnicastPackets) >= n || time.Now().After(deadline) {
			break
		}
	}
	const slack = 3 // stray packets the kernel may still send
	check := func(what string, got, want uint64, per uint64) {
		t.Helper()
		if got < want || got > want+slack*per {
			t.Errorf("%s delta %d, want %d (+%d packets of slack)", what, got, want, slack)
		}
	}
	check("va tx_unicast_packets", delta(a0["va"], a1["va"], collectors.TxUnicastPackets), n, 1)
	check("va tx_bytes", delta(a0["va"], a1["va"], collectors.TxBytes), n*wire, 200)
	check("vb rx_unicast_packets", delta(b0["vb"], b1["vb"], collectors.RxUnicastPackets), n, 1)
	check("vb rx_bytes", delta(b0["vb"], b1["vb"], collectors.RxBytes), n*wire, 200)
	check("vb rx_multicast_packets", delta(b0["vb"], b1["vb"], collectors.RxMulticastPackets), 0, 1)
	check("vb rx_discard_packets", delta(b0["vb"], b1["vb"], collectors.RxDiscardPackets), 0, 1)
	if a1["va"].Generation != a0["va"].Generation || bA.Layout == 0 {
		t.Errorf("generation or layout moved without churn: %+v", a1["va"])
	}
}

func names(b *collectors.Batch) []string {
	var s []string
	for _, it := range b.Interfaces {
		s = append(s, it.Name)
	}
	return s
}

func TestChurn(t *testing.T) {
	requireRoot(t)
	ns := newNetns(t)
	ipBatch(t, ns, []string{"link add a1 type ifb", "link add a2 type ifb"})
	c := newCollector(t, ns)
	var b collectors.Batch
	step := func(what string, cmds []string, present, absent []string) map[string]collectors.Interface {
		t.Helper()
		before := b.Layout
		ipBatch(t, ns, cmds)
		m := poll(t, c, &b)
		for _, n := range present {
			if _, ok := m[n]; !ok {
				t.Errorf("%s: %s missing, have %v", what, n, names(&b))
			}
		}
		for _, n := range absent {
			if _, ok := m[n]; ok {
				t.Errorf("%s: stale %s still reported, have %v", what, n, names(&b))
			}
		}
		if b.Layout == before {
			t.Errorf("%s: layout unchanged (%d)", what, before)
		}
		return m
	}
	m0 := poll(t, c, &b)
	if len(m0) != 3 {
		t.Fatalf("want lo, a1, a2; have %v", names(&b))
	}
	l0 := b.Layout
	if poll(t, c, &b); b.Layout != l0 {
		t.Errorf("layout changed without churn")
	}
	m := step("add", []string{"link add a3 type ifb"}, []string{"a1", "a2", "a3"}, nil)
	gen3 := m["a3"].Generation
	step("delete", []string{"link del a1"}, []string{"a2", "a3"}, []string{"a1"})
	gen2 := m["a2"].Generation
	m = step("rename", []string{"link set a2 name a4"}, []string{"a4", "a3"}, []string{"a2"})
	if m["a4"].Generation == gen2 {
		t.Errorf("rename kept generation %d", gen2)
	}
	m = step("re-create", []string{"link del a3", "link add a3 type ifb"}, []string{"a3", "a4"}, nil)
	if m["a3"].Generation == gen3 {
		t.Errorf("re-created a3 kept generation %d", gen3)
	}
	m = step("rename then reuse name", []string{"link set a4 name a5", "link add a4 type ifb"}, []string{"a3", "a4", "a5"}, nil)
	if len(m) != 4 {
		t.Errorf("want lo a3 a4 a5, have %v", names(&b))
	}
	gens := map[string]uint64{}
	for n, it := range m {
		gens[n] = it.Generation
	}
	l := b.Layout
	m = poll(t, c, &b)
	if b.Layout != l {
		t.Errorf("layout changed on a quiet poll")
	}
	for n, it := range m {
		if gens[n] != it.Generation {
			t.Errorf("%s generation changed on a quiet poll", n)
		}
	}

	// Concurrent churn: every batch must be self-consistent and the final
	// one must match the kernel.
	ctx, cancel := context.WithCancel(context.Background())
	var wg sync.WaitGroup
	wg.Add(1)
	errc := make(chan error, 1)
	go func() {
		defer wg.Done()
		var cb collectors.Batch
		for ctx.Err() == nil {
			if err := c.Collect(ctx, &cb); err != nil {
				if ctx.Err() == nil {
					errc <- err
				}
				return
			}
			seen := map[string]bool{}
			for _, it := range cb.Interfaces {
				if seen[it.Name] {
					errc <- fmt.Errorf("duplicate %s in %v", it.Name, names(&cb))
					return
				}
				seen[it.Name] = true
			}
		}
	}()
	for i := 0; i < 30; i++ {
		ipBatch(t, ns, []string{
			fmt.Sprintf("link add c%d type ifb", i),
			fmt.Sprintf("link set c%d name r%d", i, i),
			fmt.Sprintf("link add c%d type ifb", i),
			"link del a3", "link add a3 type ifb",
		})
		if i%3 == 0 {
			ipBatch(t, ns, []string{fmt.Sprintf("link del r%d", i)})
		}
	}
	cancel()
	wg.Wait()
	select {
	case err := <-errc:
		t.Fatal(err)
	default:
	}
	h := nsHandle(t, ns)
	nh, err := vnl.NewHandleAt(h)
	if err != nil {
		t.Fatal(err)
	}
	defer nh.Close()
	list, err := nh.LinkList()
	if err != nil {
		t.Fatal(err)
	}
	m = poll(t, c, &b)
	if len(m) != len(list) {
		t.Errorf("collector has %d links, kernel %d", len(m), len(list))
	}
	for _, l := range list {
		if _, ok := m[l.Attrs().Name]; !ok {
			t.Errorf("%s missing after churn", l.Attrs().Name)
		}
	}
}

func TestClosedAndCancelled(t *testing.T) {
	requireRoot(t)
	c := newCollector(t, newNetns(t))
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	var b collectors.Batch
	if err := c.Collect(ctx, &b); err == nil {
		t.Error("Collect with a cancelled context succeeded")
	}
	ctx, cancel = context.WithTimeout(context.Background(), time.Second)
	defer cancel()
	if err := c.Collect(ctx, &b); err != nil || len(b.Interfaces) != 1 || b.Interfaces[0].Name != "lo" {
		t.Errorf("Collect after a cancelled one: %v %v", err, names(&b))
	}
	c.Close()
	if err := c.Collect(context.Background(), &b); err != ErrClosed {
		t.Errorf("Collect after Close: %v", err)
	}
}

func TestMissingNetns(t *testing.T) {
	if _, err := New(Options{Netns: "pa-nl-does-not-exist"}); err == nil {
		t.Error("New with a missing namespace succeeded")
	}
}

// TestResyncAllocatesLittle: re-listing 300 known links reads them into a
// reused buffer and allocates a fixed handful of times (deadline, closures),
// not per link (the library's LinkList made about 18 allocations and 7 KB
// per link), while
// still noticing a link that disappeared behind the notifications' back,
// and keeps no more room in its link table than a sixteenth.
func TestResyncAllocatesLittle(t *testing.T) {
	requireRoot(t)
	ns := newNetns(t)
	var lines []string
	for i := 0; i < 300; i++ {
		lines = append(lines, fmt.Sprintf("link add r%d type ifb", i), fmt.Sprintf("link set r%d up", i))
	}
	ipBatch(t, ns, lines)
	c := newCollector(t, ns)
	var b collectors.Batch
	if got := len(poll(t, c, &b)); got != 301 { // and lo
		t.Fatalf("%d interfaces, want 301", got)
	}
	c.mu.Lock()
	allocs := testing.AllocsPerRun(5, func() {
		if err := c.resyncLocked(); err != nil {
			t.Fatal(err)
		}
	})
	n := len(c.links)
	// A link forgotten behind the collector's back (a lost notification)
	// comes back with the next resync.
	c.removeLocked(c.links[n-1].index)
	if err := c.resyncLocked(); err != nil {
		t.Fatal(err)
	}
	back := len(c.links)
	room := cap(c.links)
	c.mu.Unlock()
	// The table holds its links and a sixteenth more, not the room that
	// growing it link by link left.
	if want := back + back/16 + 16; room > want {
		t.Errorf("link table of %d links has room for %d, want at most %d", back, room, want)
	}
	if allocs > 30 {
		t.Errorf("a resync of %d links made %.0f allocations, want a fixed few (at most 30)", n, allocs)
	}
	if n != 301 || back != 301 {
		t.Errorf("links after resyncs: %d then %d, want 301", n, back)
	}
}
