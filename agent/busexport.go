package agent

import (
	"context"
	"log/slog"

	"google.golang.org/protobuf/types/known/timestamppb"

	"github.com/probe-agent/probe-agent/bus"
	pb "github.com/probe-agent/probe-agent/proto/probeagent/v1"
)

// Records splits one evaluation's exports into fan-in records, one per
// probe (bus.Record): the probe's stage updates and anomaly transitions,
// with the batch's device, session, number, time and generation. Probes
// appear in the order of their first update or anomaly.
func (b *ExportBatch) Records(blueprint string) []*bus.Record {
	var out []*bus.Record
	byProbe := map[string]*bus.Record{}
	get := func(id string) *bus.Record {
		if r, ok := byProbe[id]; ok {
			return r
		}
		r := &bus.Record{Blueprint: blueprint, Probe: id, Batch: &pb.StageBatch{
			Device: b.Device, Session: b.Session, Seq: b.Seq, Time: timestamppb.New(b.Time), Generation: b.Generation}}
		byProbe[id] = r
		out = append(out, r)
		return r
	}
	for _, u := range b.Updates {
		_, id, err := bus.UpdateHead(u)
		if err != nil {
			continue // our own encoding: cannot happen
		}
		r := get(id)
		r.Batch.Updates = append(r.Batch.Updates, u)
	}
	for _, a := range b.Anomalies {
		r := get(a.ProbeID)
		r.Batch.Anomalies = append(r.Batch.Anomalies, &pb.AnomalyEvent{ProbeId: a.ProbeID, Stage: a.Stage, ItemId: a.ItemID, Raised: a.Raised, Json: string(a.JSON)})
	}
	return out
}

// RecordPublisher is where ForwardExports puts records (bus.Publisher).
type RecordPublisher interface {
	Publish(*bus.Record) error
}

// ForwardExports publishes every batch of sub (a subscription to the
// agent's Exports, made before the first evaluation so that none is
// missed) until ctx ends. The publisher's queue never blocks, so the
// subscription drops a batch only if this goroutine stalls.
func ForwardExports(ctx context.Context, sub *ExportStream, blueprint string, pub RecordPublisher, log *slog.Logger) {
	for {
		select {
		case <-ctx.Done():
			// What the subscription holds still goes to the publisher,
			// whose Close flushes it.
			for {
				select {
				case b := <-sub.C:
					publishBatch(b, blueprint, pub, log)
				default:
					return
				}
			}
		case b := <-sub.C:
			publishBatch(b, blueprint, pub, log)
		}
	}
}

func publishBatch(b *ExportBatch, blueprint string, pub RecordPublisher, log *slog.Logger) {
	for _, r := range b.Records(blueprint) {
		if err := pub.Publish(r); err != nil {
			log.Debug("fan-in record not queued", "probe", r.Probe, "err", err)
		}
	}
}
