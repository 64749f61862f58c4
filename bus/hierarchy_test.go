package bus_test

import (
	"context"
	"math"
	"testing"
	"time"

	"github.com/probe-agent/probe-agent/bus"
	"github.com/probe-agent/probe-agent/bus/bustest"
	"github.com/probe-agent/probe-agent/probe"
)

// subset is a fleet's central parts hearing from other devices: a pod's
// devices, or the pods at the fabric level.
type subset struct {
	f       *bustest.Fleet
	devices []string
}

func (s subset) Central(id string) (*probe.Instance, []string, bool) {
	inst, _, ok := s.f.Central(id)
	return inst, s.devices, ok
}

// TestHierarchy: two pod-level members each merge four devices' partials
// and send one record upward (Member.Upward); the fabric-level member,
// fed only those, gives the single-level result and the same anomalies.
func TestHierarchy(t *testing.T) {
	f, err := bustest.NewFleet(seedFile, 8, []string{"p1"}, nil)
	if err != nil {
		t.Fatal(err)
	}
	pods := map[string][]string{"pod-a": f.Devices[:4], "pod-b": f.Devices[4:]}
	podOf := map[string]string{}
	members := map[string]*bus.Member{}
	ctx := context.Background()
	for pod, devs := range pods {
		for _, d := range devs {
			podOf[d] = pod
		}
		members[pod] = bus.NewMember(subset{f, devs}, &bus.MemCheckpoint{}, bus.MemberOptions{StaleAfter: time.Hour, KeepPartials: true, Blueprint: f.Blueprint, Log: quiet})
		if err := members[pod].Assign(ctx, "p1", at(0)); err != nil {
			t.Fatal(err)
		}
	}
	col := newCollected()
	fabric := bus.NewMember(subset{f, []string{"pod-a", "pod-b"}}, &bus.MemCheckpoint{}, bus.MemberOptions{StaleAfter: time.Hour, OnTick: col.onTick, Log: quiet})
	if err := fabric.Assign(ctx, "p1", at(0)); err != nil {
		t.Fatal(err)
	}
	rates := []bustest.Rate{bustest.Balanced, bustest.Balanced, bustest.Heavy("leaf6", 3), bustest.Heavy("leaf6", 3), bustest.Balanced}
	for k, rate := range rates {
		recs, err := f.Tick(rate)
		if err != nil {
			t.Fatal(err)
		}
		for _, r := range recs {
			members[podOf[r.Device()]].Offer(r, at(k), nil)
		}
		for _, pod := range []string{"pod-a", "pod-b"} {
			if err := members[pod].Tick(ctx, at(k)); err != nil {
				t.Fatal(err)
			}
			up, err := members[pod].Upward("p1", pod, at(k))
			if err != nil {
				t.Fatal(err)
			}
			// Through its encoding, as a broker carries it.
			body, _ := up.Encode()
			hdr := map[string]string{}
			for _, h := range up.Headers() {
				hdr[h[0]] = h[1]
			}
			rec, err := bus.Decode(body, func(k string) string { return hdr[k] })
			if err != nil {
				t.Fatal(err)
			}
			fabric.Offer(rec, at(k), nil)
		}
		if err := fabric.Tick(ctx, at(k)); err != nil {
			t.Fatal(err)
		}
		ref, ok := f.RefResult("p1")
		got, have := col.val["p1"]
		if ok != have || math.Abs(got-ref) > 1e-9*math.Max(1, math.Abs(ref)) {
			t.Fatalf("tick %d: two levels give %v (%v), one level %v (%v)", k, got, have, ref, ok)
		}
	}
	if got, want := bustest.Summary(col.got["p1"]), bustest.Summary(f.RefTransitions["p1"]); got != want || len(f.RefTransitions["p1"]) != 2 {
		t.Fatalf("transitions:\n%s\nreference:\n%s", got, want)
	}
}

// TestMergeUpdatesRefuses: devices whose partials differ in shape are not
// merged.
func TestMergeUpdatesRefuses(t *testing.T) {
	a := &probe.StageUpdate{Device: "d1", Probe: "p", Stage: "s.partial", Keys: []string{"system_id"}, Columns: []probe.Column{{Name: "value", Kind: probe.Number}}}
	b := &probe.StageUpdate{Device: "d2", Probe: "p", Stage: "s.partial", Keys: []string{"system_id"}, Columns: []probe.Column{{Name: "value", Kind: probe.Number}, {Name: "mean", Kind: probe.Number}}}
	if _, err := bus.MergeUpdates("pod", 1, at(0), []*probe.StageUpdate{a, b}); err == nil {
		t.Fatal("no error")
	}
}

// BenchmarkUpward: a pod member of 32 devices (the seed probe) makes its
// upward record after a tick. It reports the record's bytes and the sum
// of the 32 device records it replaces (the fabric level reads one
// instead of 32).
func BenchmarkUpward(b *testing.B) {
	const n = 32
	f, err := bustest.NewFleet(seedFile, n, []string{"p1"}, nil)
	if err != nil {
		b.Fatal(err)
	}
	m := bus.NewMember(f, &bus.MemCheckpoint{}, bus.MemberOptions{StaleAfter: time.Hour, KeepPartials: true, Blueprint: f.Blueprint, Log: quiet})
	ctx := context.Background()
	if err := m.Assign(ctx, "p1", at(0)); err != nil {
		b.Fatal(err)
	}
	in := 0
	for k := range 2 {
		recs, err := f.Tick(bustest.Balanced)
		if err != nil {
			b.Fatal(err)
		}
		in = 0
		for _, r := range recs {
			body, _ := r.Encode()
			in += len(body)
			m.Offer(r, at(k), nil)
		}
		if err := m.Tick(ctx, at(k)); err != nil {
			b.Fatal(err)
		}
	}
	out := 0
	b.ReportAllocs()
	for b.Loop() {
		up, err := m.Upward("p1", "pod", at(1))
		if err != nil {
			b.Fatal(err)
		}
		body, _ := up.Encode()
		out = len(body)
	}
	b.ReportMetric(float64(out), "B/record")
	b.ReportMetric(float64(in), "B/devices'")
}
