package bus_test

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"sync"
	"testing"
	"time"

	"google.golang.org/protobuf/proto"

	"github.com/probe-agent/probe-agent/bus"
	"github.com/probe-agent/probe-agent/bus/bustest"
	pb "github.com/probe-agent/probe-agent/proto/probeagent/v1"
)

const seedFile = "../cmd/probectl/testdata/seed_probe.json"

var quiet = slog.New(slog.NewTextHandler(io.Discard, nil))

// ackLog is a broker's acknowledgements as a member makes them.
type ackLog struct {
	mu    sync.Mutex
	acked []string
	naked []string
}

type ack struct {
	log *ackLog
	id  string
}

func (a ack) Ack() error {
	a.log.mu.Lock()
	a.log.acked = append(a.log.acked, a.id)
	a.log.mu.Unlock()
	return nil
}
func (a ack) Nak() error {
	a.log.mu.Lock()
	a.log.naked = append(a.log.naked, a.id)
	a.log.mu.Unlock()
	return nil
}

// orderCheckpoint records, at every Save, how many acks had been made.
type orderCheckpoint struct {
	bus.MemCheckpoint
	log   *ackLog
	saves []int
}

func (c *orderCheckpoint) Save(ctx context.Context, id string, r bus.Raised) error {
	c.log.mu.Lock()
	c.saves = append(c.saves, len(c.log.acked))
	c.log.mu.Unlock()
	return c.MemCheckpoint.Save(ctx, id, r)
}

type collected struct {
	mu  sync.Mutex
	got map[string][]string // per probe: transitions as bustest.Transition
	val map[string]float64
	// tick maps the member's tick time to the fleet's tick number.
	tick func(time.Time) int
}

func (c *collected) onTick(r *bus.TickResult) {
	c.mu.Lock()
	defer c.mu.Unlock()
	k := c.tick(r.Status.LastTick)
	for _, a := range r.Central {
		c.got[r.Probe] = append(c.got[r.Probe], bustest.Transition(k, a.Raised, a.Stage, a.ItemID))
	}
	for _, a := range r.Cleared {
		c.got[r.Probe] = append(c.got[r.Probe], bustest.Transition(k, false, a.Stage, a.ItemID))
	}
	if v, ok := bustest.Result(r.Inst); ok && !r.Status.Skipped {
		c.val[r.Probe] = v
	}
}

func newCollected() *collected {
	return &collected{got: map[string][]string{}, val: map[string]float64{}, tick: func(at time.Time) int { return int(at.Sub(bustest.T0) / time.Second) }}
}

func at(k int) time.Time { return bustest.T0.Add(time.Duration(k) * time.Second) }

// TestMemberMatchesReference: records fed to a member, some of them twice
// and out of order, give the reference's results and transitions; the
// checkpoint is written before any record of the tick is acknowledged.
func TestMemberMatchesReference(t *testing.T) {
	f, err := bustest.NewFleet(seedFile, 4, []string{"p1"}, nil)
	if err != nil {
		t.Fatal(err)
	}
	log := &ackLog{}
	cp := &orderCheckpoint{log: log}
	col := newCollected()
	m := bus.NewMember(f, cp, bus.MemberOptions{StaleAfter: 3 * time.Second, MaxMissingShare: 0, OnTick: col.onTick, Log: quiet})
	if err := m.Assign(context.Background(), "p1", at(0)); err != nil {
		t.Fatal(err)
	}
	rates := []bustest.Rate{bustest.Balanced, bustest.Balanced, bustest.Heavy("leaf2", 5), bustest.Heavy("leaf2", 5), bustest.Balanced, bustest.Balanced}
	var prev []*bus.Record
	n := 0
	for k, rate := range rates {
		recs, err := f.Tick(rate)
		if err != nil {
			t.Fatal(err)
		}
		// Every record twice, the previous tick's again as well (a replay).
		for i := len(recs) - 1; i >= 0; i-- {
			for range 2 {
				n++
				m.Offer(recs[i], at(k), ack{log, fmt.Sprint(n)})
			}
		}
		for _, r := range prev {
			n++
			m.Offer(r, at(k), ack{log, fmt.Sprint(n)})
		}
		prev = recs
		if err := m.Tick(context.Background(), at(k)); err != nil {
			t.Fatal(err)
		}
		if ref, ok := f.RefResult("p1"); ok {
			if got := col.val["p1"]; got != ref {
				t.Fatalf("tick %d: result %v, reference %v", k, got, ref)
			}
		}
	}
	if got, want := bustest.Summary(col.got["p1"]), bustest.Summary(f.RefTransitions["p1"]); got != want || want == "" {
		t.Fatalf("transitions:\n%s\nreference:\n%s", got, want)
	}
	st, _ := m.Status("p1")
	// Per tick after the first: 4 new records, 4 repeats, 4 replays.
	if st.Records != uint64(n) || st.Duplicates < uint64(n/3*2) {
		t.Errorf("status %+v: records %d, want %d; duplicates at least %d", st, st.Records, n, n/3*2)
	}
	if len(log.acked) != n || len(log.naked) != 0 {
		t.Errorf("acked %d, naked %d, want %d and 0", len(log.acked), len(log.naked), n)
	}
	if len(cp.saves) != 2 {
		t.Fatalf("checkpoint saves %v, want 2 (raise and clear)", cp.saves)
	}
	// The raise was tick 2's: its save came before tick 2's records were
	// acknowledged (acks of ticks 0 and 1 only).
	if ticks01 := 4*2 + 4*2 + 4; cp.saves[0] != ticks01 {
		t.Errorf("first save after %d acks, want %d (the raising tick's records not yet acknowledged)", cp.saves[0], ticks01)
	}
}

// TestMemberTakeover: a second member takes a probe over mid-anomaly from
// the checkpoint: the anomaly is not raised again, and its clear is
// reported once, by the new owner; a clear that happened while nobody
// owned the probe is reported at the first evaluation.
func TestMemberTakeover(t *testing.T) {
	f, err := bustest.NewFleet(seedFile, 4, []string{"p1", "p2"}, nil)
	if err != nil {
		t.Fatal(err)
	}
	cp := &bus.MemCheckpoint{}
	col := newCollected()
	opt := bus.MemberOptions{StaleAfter: 3 * time.Second, OnTick: col.onTick, Log: quiet}
	a, b := bus.NewMember(f, cp, opt), bus.NewMember(f, cp, opt)
	for _, id := range f.Probes {
		if err := a.Assign(context.Background(), id, at(0)); err != nil {
			t.Fatal(err)
		}
	}
	rates := []bustest.Rate{bustest.Balanced, bustest.Balanced, bustest.Heavy("leaf2", 5), bustest.Heavy("leaf2", 5),
		bustest.Heavy("leaf2", 5), bustest.Heavy("leaf2", 5), bustest.Balanced, bustest.Balanced}
	var last []*bus.Record
	owner := a
	for k, rate := range rates {
		recs, err := f.Tick(rate)
		if err != nil {
			t.Fatal(err)
		}
		switch k {
		case 4:
			// a dies: b takes p1 over and is given each device's latest
			// record again (what the log holds), then this tick's.
			owner = b
			for _, id := range f.Probes {
				if err := b.Assign(context.Background(), id, at(k)); err != nil {
					t.Fatal(err)
				}
			}
			for _, r := range last {
				b.Offer(r, at(k-1), nil)
			}
		case 6:
			// b dies; the balanced tick 6 is nobody's; a comes back at 7.
			owner = nil
			for _, id := range f.Probes {
				b.Revoke(id)
				a.Revoke(id)
			}
		case 7:
			owner = a
			for _, id := range f.Probes {
				if err := a.Assign(context.Background(), id, at(k)); err != nil {
					t.Fatal(err)
				}
			}
		}
		last = recs
		if owner == nil {
			continue
		}
		for _, r := range recs {
			owner.Offer(r, at(k), nil)
		}
		if err := owner.Tick(context.Background(), at(k)); err != nil {
			t.Fatal(err)
		}
	}
	for _, id := range f.Probes {
		// The reference clears at tick 6; the members, which did not
		// evaluate tick 6, at tick 7: otherwise the same.
		var want []string
		for _, tr := range f.RefTransitions[id] {
			if tr[:2] == "6:" {
				tr = "7:" + tr[2:]
			}
			want = append(want, tr)
		}
		if got := bustest.Summary(col.got[id]); got != bustest.Summary(want) || len(want) != 2 {
			t.Errorf("%s: transitions:\n%s\nwant:\n%s", id, got, bustest.Summary(want))
		}
	}
}

// TestMemberDropsUnknownDevices: records naming devices the probe does not
// hear from (a misconfigured or hostile publisher on the stream) are
// acknowledged, counted and dropped; they leave no per-device state behind
// and do not change the result.
func TestMemberDropsUnknownDevices(t *testing.T) {
	f, err := bustest.NewFleet(seedFile, 4, []string{"p1"}, nil)
	if err != nil {
		t.Fatal(err)
	}
	log := &ackLog{}
	col := newCollected()
	m := bus.NewMember(f, &bus.MemCheckpoint{}, bus.MemberOptions{StaleAfter: 3 * time.Second, OnTick: col.onTick, Log: quiet})
	if err := m.Assign(context.Background(), "p1", at(0)); err != nil {
		t.Fatal(err)
	}
	const intruders = 500
	n := 0
	for k := range 3 {
		recs, err := f.Tick(bustest.Balanced)
		if err != nil {
			t.Fatal(err)
		}
		for _, r := range recs {
			n++
			m.Offer(r, at(k), ack{log, fmt.Sprint(n)})
		}
		for i := range intruders {
			fake := &bus.Record{Blueprint: recs[0].Blueprint, Probe: recs[0].Probe, Batch: proto.Clone(recs[0].Batch).(*pb.StageBatch)}
			fake.Batch.Device = fmt.Sprintf("intruder%d-%d", k, i)
			n++
			m.Offer(fake, at(k), ack{log, fmt.Sprint(n)})
		}
		if got := len(m.Pending("p1")); got > 4 {
			t.Fatalf("tick %d: %d devices pending, want at most the probe's 4", k, got)
		}
		if err := m.Tick(context.Background(), at(k)); err != nil {
			t.Fatal(err)
		}
		if ref, ok := f.RefResult("p1"); ok {
			if got := col.val["p1"]; got != ref {
				t.Fatalf("tick %d: result %v, reference %v", k, got, ref)
			}
		}
	}
	st, _ := m.Status("p1")
	if st.Unknown != 3*intruders {
		t.Errorf("unknown_devices %d, want %d", st.Unknown, 3*intruders)
	}
	if len(log.acked) != n || len(log.naked) != 0 {
		t.Errorf("acked %d, naked %d, want %d and 0", len(log.acked), len(log.naked), n)
	}
}
