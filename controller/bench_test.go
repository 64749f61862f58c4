package controller

import (
	"fmt"
	"os"
	"testing"
	"time"

	"google.golang.org/protobuf/proto"

	"github.com/probe-agent/probe-agent/bench/fabric"
	"github.com/probe-agent/probe-agent/collectors"
	"github.com/probe-agent/probe-agent/probe"
	"github.com/probe-agent/probe-agent/proto/aos"
)

const (
	benchLeaves = 32
	benchPorts  = 48
)

func seedSplit(tb testing.TB) (*probe.Plan, *probe.Split) {
	tb.Helper()
	data, err := os.ReadFile("testdata/seed_probe.json")
	if err != nil {
		tb.Fatal(err)
	}
	plan, probs := probe.CompileJSON(data)
	if len(probs) > 0 {
		tb.Fatal(probs)
	}
	split, err := probe.Partition(plan, nil)
	if err != nil {
		tb.Fatal(err)
	}
	return plan, split
}

// encodedPartials evaluates the edge part on every leaf for ticks ticks and
// returns, per tick, every leaf's encoded partial (what the agents stream).
func encodedPartials(tb testing.TB, split *probe.Split, per []*collectors.Batch, ticks int) [][][]byte {
	tb.Helper()
	edges := make([]*probe.Instance, len(per))
	for i := range edges {
		inst, err := probe.NewInstance(split.Edge)
		if err != nil {
			tb.Fatal(err)
		}
		edges[i] = inst
	}
	t0 := time.Unix(1_700_000_000, 0)
	out := make([][][]byte, ticks)
	var u probe.StageUpdate
	for k := range ticks {
		at := t0.Add(time.Duration(k) * time.Second)
		for i, b := range per {
			fabric.Advance(b, at)
			if err := edges[i].Tick(&probe.Tick{Time: at, Counters: b}); err != nil {
				tb.Fatal(err)
			}
			st, _ := edges[i].Stage(split.Crossings[0].Stage)
			probe.UpdateOf(&u, st)
			u.Device, u.Probe, u.Generation = fmt.Sprintf("leaf%d", i+1), split.Probe.ID, 1
			out[k] = append(out[k], u.AppendBinary(nil))
		}
	}
	return out
}

// BenchmarkCentralIngest is the centre's hot path: decode every leaf's
// PSU1 partial, feed it (Instance.Feed through the controller's central
// part, with its session/generation and staleness bookkeeping) and run the
// central tick, for 32 leaves. partials/s counts decoded and merged
// partials per second on one core.
func BenchmarkCentralIngest(b *testing.B) {
	_, split := seedSplit(b)
	per, _ := fabric.Batches(benchLeaves, benchPorts)
	const ticks = 64
	enc := encodedPartials(b, split, per, ticks)
	ce, err := newCentral(&compiled{id: split.Probe.ID, split: split})
	if err != nil {
		b.Fatal(err)
	}
	// Partials are replayed round after round: a new session each round
	// keeps the tick numbers new (a repeat would be refused as a duplicate).
	now := time.Unix(1_800_000_000, 0)
	b.ReportAllocs()
	b.ResetTimer()
	n := 0
	for i := 0; b.Loop(); i++ {
		k := i % ticks
		session := fmt.Sprint(i / ticks)
		for _, raw := range enc[k] {
			u, err := probe.DecodeStageUpdate(raw)
			if err != nil {
				b.Fatal(err)
			}
			if err := ce.feed(u, session, now, probe.DefaultItemsPerStage); err != nil {
				b.Fatal(err)
			}
			n++
		}
		ce.tick(now, time.Hour, 0.5)
	}
	b.ReportMetric(float64(n)/b.Elapsed().Seconds(), "partials/s")
}

// BenchmarkPushdownVsRaw measures side by side, for the seed probe on 32
// leaves x 48 server ports at 1 s: the bytes that reach the centre per
// tick with pushdown (one PSU1 std_dev partial per leaf) against raw
// per-interface streaming (one Apstra ProbeMessage per port), and the
// centre's CPU per tick: ingesting and merging the partials and the
// central tick, against evaluating the whole probe centrally on the raw
// counters of all 1,536 ports.
func BenchmarkPushdownVsRaw(b *testing.B) {
	plan, split := seedSplit(b)
	per, all := fabric.Batches(benchLeaves, benchPorts)
	const ticks = 64
	enc := encodedPartials(b, split, per, ticks)
	pushBytes := 0
	for _, raw := range enc[1] {
		pushBytes += len(raw)
	}
	rawBytes := 0
	for _, ifc := range all.Interfaces {
		// Raw per-interface streaming: one framed Apstra ProbeMessage per port.
		rawBytes += proto.Size(fabric.RawMessage(plan.ID, plan.Label(), "server_tx_bytes_output", ifc.SystemID, ifc.Name, 1_000_000)) + fabric.FrameOverhead
	}
	b.Logf("bytes per tick reaching the centre: pushdown %d, raw %d (%.0fx fewer)", pushBytes, rawBytes, float64(rawBytes)/float64(pushBytes))

	b.Run("pushdown/central", func(b *testing.B) {
		ce, err := newCentral(&compiled{id: split.Probe.ID, split: split})
		if err != nil {
			b.Fatal(err)
		}
		now := time.Unix(1_800_000_000, 0)
		b.ReportAllocs()
		for i := 0; b.Loop(); i++ {
			session := fmt.Sprint(i / ticks)
			for _, raw := range enc[i%ticks] {
				u, err := probe.DecodeStageUpdate(raw)
				if err != nil {
					b.Fatal(err)
				}
				if err := ce.feed(u, session, now, probe.DefaultItemsPerStage); err != nil {
					b.Fatal(err)
				}
			}
			ce.tick(now, time.Hour, 0.5)
		}
		b.ReportMetric(float64(pushBytes), "bytes/tick")
	})
	// Raw streaming: the centre decodes one message per port and evaluates
	// the whole probe on all of them ("engine only" leaves the decoding
	// out, to show where the difference lies).
	rawMsgs := make([][]byte, len(all.Interfaces))
	for i, ifc := range all.Interfaces {
		m := fabric.RawMessage(plan.ID, plan.Label(), "server_tx_bytes_output", ifc.SystemID, ifc.Name, int64(ifc.Counters[collectors.TxBytes]))
		rawMsgs[i], _ = proto.Marshal(m)
	}
	for _, decode := range []bool{true, false} {
		name := "raw/central"
		if !decode {
			name = "raw/engine-only"
		}
		b.Run(name, func(b *testing.B) {
			inst, err := probe.NewInstance(plan)
			if err != nil {
				b.Fatal(err)
			}
			at := time.Unix(1_700_000_000, 0)
			var m aos.AosMessage
			b.ReportAllocs()
			for b.Loop() {
				at = at.Add(time.Second)
				if decode {
					for i, raw := range rawMsgs {
						if err := proto.Unmarshal(raw, &m); err != nil {
							b.Fatal(err)
						}
						v := m.GetPerfMon().GetProbeMessage().GetInt64Value()
						all.Interfaces[i].Counters[collectors.TxBytes] += uint64(v%7) + 1000
					}
					all.Time = at
				} else {
					fabric.Advance(all, at)
				}
				if err := inst.Tick(&probe.Tick{Time: at, Counters: all}); err != nil {
					b.Fatal(err)
				}
			}
			b.ReportMetric(float64(rawBytes), "bytes/tick")
		})
	}
}
