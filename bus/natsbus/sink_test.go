package natsbus_test

import (
	"context"
	"fmt"
	"github.com/probe-agent/probe-agent/bus/natsbus"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"google.golang.org/protobuf/types/known/timestamppb"

	"github.com/probe-agent/probe-agent/bus"
	pb "github.com/probe-agent/probe-agent/proto/probeagent/v1"
)

func record(dev, probeID string, seq uint64) *bus.Record {
	return &bus.Record{Blueprint: "bp-test", Probe: probeID, Batch: &pb.StageBatch{Device: dev, Session: "s1", Seq: seq,
		Generation: 1, Time: timestamppb.Now()}}
}

// storedRecords reads every record of the stream back, by stream order.
func storedRecords(t *testing.T, url string, c natsbus.Config) []*bus.Record {
	t.Helper()
	nc, err := nats.Connect(url)
	if err != nil {
		t.Fatal(err)
	}
	defer nc.Close()
	js, _ := jetstream.New(nc)
	ctx := context.Background()
	s, err := js.Stream(ctx, natsbus.DefaultStream)
	if err != nil {
		t.Fatal(err)
	}
	info, err := s.Info(ctx)
	if err != nil {
		t.Fatal(err)
	}
	var out []*bus.Record
	for seq := info.State.FirstSeq; seq <= info.State.LastSeq && info.State.Msgs > 0; seq++ {
		m, err := s.GetMsg(ctx, seq)
		if err != nil {
			t.Fatalf("stream message %d: %v", seq, err)
		}
		r, err := bus.Decode(m.Data, m.Header.Get)
		if err != nil {
			t.Fatalf("stream message %d: %v", seq, err)
		}
		out = append(out, r)
	}
	return out
}

// TestPublisherAcrossServerRestart: records published while the server
// goes away and comes back (same port, same store) are all stored, each
// once, in order: the queue holds them during the outage, retries carry
// the same Nats-Msg-Id, the stream drops any second copy.
func TestPublisherAcrossServerRestart(t *testing.T) {
	ts := startServer(t, nil)
	c := ts.config()
	c.MaxPerSubject = 10000
	ctx := context.Background()
	pub, err := natsbus.NewPublisher(ctx, c, bus.QueueOptions{Batch: 16, RetryMax: 50 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	const n = 300
	for i := 1; i <= n; i++ {
		if err := pub.Publish(record(fmt.Sprintf("leaf%d", i%4+1), "p1", uint64(i))); err != nil {
			t.Fatal(err)
		}
		if i == n/3 {
			ts.stop()
		}
		if i == 2*n/3 {
			ts.start()
		}
	}
	cctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	if err := pub.Close(cctx); err != nil {
		t.Fatal(err)
	}
	st := pub.Stats()
	if st.Sent != n || st.Dropped != 0 {
		t.Fatalf("publisher stats %+v, want %d sent and none dropped", st, n)
	}
	if st.Failures == 0 {
		t.Errorf("no failed send during the outage: the test did not test a reconnect")
	}
	got := storedRecords(t, ts.url(), c)
	if len(got) != n {
		t.Fatalf("stream holds %d records, want %d", len(got), n)
	}
	for i, r := range got {
		if r.Batch.GetSeq() != uint64(i+1) {
			t.Fatalf("stream record %d is batch %d: a gap or a duplicate", i+1, r.Batch.GetSeq())
		}
	}
}

// TestPublisherQueueBoundDuringOutage: with the server gone, the queue
// keeps its bound and counts what it drops; what is kept is stored once
// the server is back.
func TestPublisherQueueBoundDuringOutage(t *testing.T) {
	ts := startServer(t, nil)
	c := ts.config()
	c.MaxPerSubject = 10000
	ctx := context.Background()
	pub, err := natsbus.NewPublisher(ctx, c, bus.QueueOptions{Messages: 20, Batch: 4, RetryMax: 50 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	ts.stop()
	for i := 1; i <= 100; i++ {
		_ = pub.Publish(record("leaf1", "p1", uint64(i)))
	}
	st := pub.Stats()
	if st.Queued > 20 || st.Dropped < 80 {
		t.Fatalf("stats during the outage %+v: want at most 20 queued and at least 80 dropped", st)
	}
	ts.start()
	cctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	if err := pub.Close(cctx); err != nil {
		t.Fatal(err)
	}
	st = pub.Stats()
	got := storedRecords(t, ts.url(), c)
	if uint64(len(got)) != st.Sent || st.Sent+st.Dropped != 100 {
		t.Fatalf("stored %d, stats %+v: want sent+dropped = 100 and every sent one stored", len(got), st)
	}
	// The kept ones are the newest, and the last carries the drops.
	last := got[len(got)-1]
	if last.Batch.GetSeq() != 100 || last.Batch.GetDropped() == 0 {
		t.Fatalf("last stored record: batch %d, dropped %d", last.Batch.GetSeq(), last.Batch.GetDropped())
	}
}
