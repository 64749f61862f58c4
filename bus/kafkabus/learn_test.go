package kafkabus_test

// Tests of what the design rests on, at the kgo level against kfake:
// the idempotent producer, key partitioning, and a consumer group
// handing partitions over with their committed offsets.

import (
	"context"
	"fmt"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kfake"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/probe-agent/probe-agent/bus/kafkabus"
)

// consumeAll reads every record of topic from the start up to n records.
func consumeAll(t *testing.T, addrs []string, topic string, n int) []*kgo.Record {
	t.Helper()
	cl, err := kgo.NewClient(kgo.SeedBrokers(addrs...), kgo.ConsumeTopics(topic), kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()))
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	var out []*kgo.Record
	for len(out) < n {
		fs := cl.PollFetches(ctx)
		if ctx.Err() != nil {
			t.Fatalf("read %d of %d records", len(out), n)
		}
		fs.EachRecord(func(r *kgo.Record) { out = append(out, r) })
	}
	return out
}

// TestIdempotentProducerAcrossConnectionLoss: the broker stores a produce
// request and the connection is cut before its answer (every fifth
// request), so the client sends the same batch again on a new
// connection: every record is in the log once, in order, nothing lost.
func TestIdempotentProducerAcrossConnectionLoss(t *testing.T) {
	c := newCluster(t, kfake.SeedTopics(1, "idem"))
	cut := &cutter{}
	var mu sync.Mutex
	produces := 0
	c.Fault(kfake.Fault{Keys: []kmsg.Key{kmsg.Produce}, Count: -1, Observe: true, When: func(kmsg.Request) bool {
		mu.Lock()
		produces++
		n := produces
		mu.Unlock()
		if n%5 == 0 {
			// The request is applied; its answer has nowhere to go.
			cut.cut()
		}
		return true
	}})
	cl, err := kgo.NewClient(kgo.SeedBrokers(c.ListenAddrs()...), kgo.Dialer(cut.dial), kgo.RequiredAcks(kgo.AllISRAcks()), kgo.DefaultProduceTopic("idem"), kgo.ProducerLinger(0), kgo.MaxProduceRequestsInflightPerBroker(1))
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	const n = 400
	for i := 0; i < n; i += 10 {
		var rs []*kgo.Record
		for j := i; j < i+10; j++ {
			rs = append(rs, &kgo.Record{Value: []byte(strconv.Itoa(j))})
		}
		if err := cl.ProduceSync(context.Background(), rs...).FirstErr(); err != nil {
			t.Fatal(err)
		}
	}
	cut.mu.Lock()
	cuts := cut.cuts
	cut.mu.Unlock()
	if cuts < 5 {
		t.Fatalf("only %d connection cuts: the test did not exercise retries", cuts)
	}
	mu.Lock()
	sent := produces
	mu.Unlock()
	if sent <= n/10 {
		t.Fatalf("%d produce requests for %d batches: nothing was sent again", sent, n/10)
	}
	got := consumeAll(t, c.ListenAddrs(), "idem", n)
	for i, r := range got {
		if string(r.Value) != strconv.Itoa(i) || r.Offset != int64(i) {
			t.Fatalf("record %d at offset %d is %q: duplicate or gap", i, r.Offset, r.Value)
		}
	}
	end, err := kafkabus.EndOffset(context.Background(), cl, "idem", 0)
	if err != nil || end != n {
		t.Fatalf("log end %d (%v), want %d: duplicates stored", end, err, n)
	}
}

// TestKeyPartition: a Sink writes each key to the partition PartitionOf
// names (Kafka's murmur2: kgo's default), every record of a key in one.
func TestKeyPartition(t *testing.T) {
	// Kafka's reference values of murmur2 (the Java client's test).
	for _, tc := range []struct {
		in   string
		want int32
	}{{"21", -973932308}, {"foobar", -790332482}, {"a-little-bit-long-string", -985981536}, {"a-little-bit-longer-string", -1486304829}, {"lkjh234lh9fiuh90y23oiuhsafujhadof229phr9h19h89h8", -58897971}, {"abc", 479470107}} {
		if got := int32(kafkabus.Murmur2([]byte(tc.in))); got != tc.want {
			t.Errorf("murmur2(%q) = %d, want %d", tc.in, got, tc.want)
		}
	}
	const parts = 6
	c := newCluster(t, kfake.SeedTopics(parts, "keys"))
	cl, err := kgo.NewClient(kgo.SeedBrokers(c.ListenAddrs()...), kgo.DefaultProduceTopic("keys"), kgo.RecordPartitioner(kgo.StickyKeyPartitioner(nil)))
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	var rs []*kgo.Record
	for i := range 200 {
		rs = append(rs, &kgo.Record{Key: []byte(fmt.Sprintf("bp/probe-%d", i%40)), Value: []byte(strconv.Itoa(i))})
	}
	if err := cl.ProduceSync(context.Background(), rs...).FirstErr(); err != nil {
		t.Fatal(err)
	}
	seen := map[int32]bool{}
	for _, r := range consumeAll(t, c.ListenAddrs(), "keys", len(rs)) {
		if want := kafkabus.PartitionOf(string(r.Key), parts); r.Partition != want {
			t.Fatalf("key %s in partition %d, PartitionOf says %d", r.Key, r.Partition, want)
		}
		seen[r.Partition] = true
	}
	if len(seen) != parts {
		t.Errorf("40 keys reached %d of %d partitions", len(seen), parts)
	}
}

// groupMember is one consumer of TestGroupHandover: it commits what it
// processed after each poll except once told to hold (records taken and
// not finished when it goes away).
type groupMember struct {
	cl    *kgo.Client
	cut   *cutter
	mu    sync.Mutex
	owned map[int32]bool
	first map[int32]int64 // first offset read after each assignment
	seen  map[int32][]int64
	hold  bool
	sig   *signal
}

func newGroupMember(t *testing.T, c *kfake.Cluster, session time.Duration, sig *signal) *groupMember {
	g := &groupMember{cut: &cutter{}, owned: map[int32]bool{}, first: map[int32]int64{}, seen: map[int32][]int64{}, sig: sig}
	cl, err := kgo.NewClient(kgo.SeedBrokers(c.ListenAddrs()...), kgo.Dialer(g.cut.dial),
		kgo.ConsumerGroup("g"), kgo.ConsumeTopics("grp"), kgo.DisableAutoCommit(), kgo.BlockRebalanceOnPoll(),
		kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()),
		kgo.SessionTimeout(session), kgo.HeartbeatInterval(50*time.Millisecond), kgo.RebalanceTimeout(5*time.Second),
		kgo.OnPartitionsAssigned(func(_ context.Context, _ *kgo.Client, ps map[string][]int32) {
			g.mu.Lock()
			for _, p := range ps["grp"] {
				g.owned[p] = true
				delete(g.first, p)
			}
			g.mu.Unlock()
			sig.poke()
		}),
		kgo.OnPartitionsRevoked(func(ctx context.Context, cl *kgo.Client, ps map[string][]int32) {
			// A clean leave commits what was finished (CommitUncommitted
			// would commit held records too: not what we want).
			g.mu.Lock()
			for _, p := range ps["grp"] {
				delete(g.owned, p)
			}
			g.mu.Unlock()
			sig.poke()
		}),
	)
	if err != nil {
		t.Fatal(err)
	}
	g.cl = cl
	go func() {
		for {
			fs := cl.PollFetches(context.Background())
			if fs.IsClientClosed() {
				return
			}
			var done []*kgo.Record
			g.mu.Lock()
			fs.EachRecord(func(r *kgo.Record) {
				if _, ok := g.first[r.Partition]; !ok {
					g.first[r.Partition] = r.Offset
				}
				g.seen[r.Partition] = append(g.seen[r.Partition], r.Offset)
				if !g.hold {
					done = append(done, r)
				}
			})
			g.mu.Unlock()
			if len(done) > 0 {
				_ = cl.CommitRecords(context.Background(), done...)
			}
			cl.AllowRebalance()
			sig.poke()
		}
	}()
	return g
}

func (g *groupMember) partitions() []int32 {
	g.mu.Lock()
	defer g.mu.Unlock()
	var out []int32
	for p := range g.owned {
		out = append(out, p)
	}
	return kafkabus.SortedParts(out)
}

func (g *groupMember) read(p int32) int {
	g.mu.Lock()
	defer g.mu.Unlock()
	return len(g.seen[p])
}

// TestGroupHandover: two members share a topic's partitions; one goes
// away, by crashing (connections dead, no leave: the coordinator notices
// at the session timeout) or by leaving the group (at once: the session
// timeout is five minutes there, longer than the test waits); its
// partitions move to the other, which starts each at the offset the
// first one committed: the records it had read and not finished are read
// again, none before them.
func TestGroupHandover(t *testing.T) {
	for _, tc := range []struct {
		name    string
		session time.Duration
		crash   bool
	}{
		{"crash", 500 * time.Millisecond, true},
		{"leave", 5 * time.Minute, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			const parts = 4
			c := newCluster(t, kfake.SeedTopics(parts, "grp"))
			prod, err := kgo.NewClient(kgo.SeedBrokers(c.ListenAddrs()...), kgo.DefaultProduceTopic("grp"), kgo.RecordPartitioner(kgo.ManualPartitioner()))
			if err != nil {
				t.Fatal(err)
			}
			defer prod.Close()
			produce := func(per int) {
				var rs []*kgo.Record
				for p := range int32(parts) {
					for range per {
						rs = append(rs, &kgo.Record{Partition: p, Value: []byte("x")})
					}
				}
				if err := prod.ProduceSync(context.Background(), rs...).FirstErr(); err != nil {
					t.Fatal(err)
				}
			}
			sig := newSignal()
			a := newGroupMember(t, c, tc.session, sig)
			b := newGroupMember(t, c, tc.session, sig)
			defer b.cl.Close()
			waitFor(t, sig.ch, "both members to own two partitions", func() bool { return len(a.partitions()) == 2 && len(b.partitions()) == 2 })
			aParts := a.partitions()
			produce(10)
			waitFor(t, sig.ch, "the first ten records of every partition to be read", func() bool {
				for p := range int32(parts) {
					if a.read(p)+b.read(p) < 10 {
						return false
					}
				}
				return true
			})
			// a's commits of the first ten are synchronous within its
			// poll loop; the next records it reads it holds.
			a.mu.Lock()
			a.hold = true
			a.mu.Unlock()
			produce(5)
			waitFor(t, sig.ch, "a to read the next five", func() bool {
				for _, p := range aParts {
					if a.read(p) < 15 {
						return false
					}
				}
				return true
			})
			if tc.crash {
				a.cut.kill()
				defer func() { go a.cl.Close() }()
			} else {
				a.cl.Close()
			}
			waitFor(t, sig.ch, "b to own every partition", func() bool { return len(b.partitions()) == parts })
			waitFor(t, sig.ch, "b to read a's partitions", func() bool {
				for _, p := range aParts {
					if b.read(p) < 5 {
						return false
					}
				}
				return true
			})
			b.mu.Lock()
			defer b.mu.Unlock()
			for _, p := range aParts {
				if got := b.first[p]; got != 10 {
					t.Errorf("partition %d: b started at offset %d, want 10 (a's commit)", p, got)
				}
				if got := b.seen[p]; len(got) != 5 || got[4] != 14 {
					t.Errorf("partition %d: b read offsets %v, want 10..14", p, got)
				}
			}
		})
	}
}
