package kafkabus

import (
	"context"
	"log/slog"
	"os"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/probe-agent/probe-agent/bus"
	pb "github.com/probe-agent/probe-agent/proto/probeagent/v1"
	"google.golang.org/protobuf/types/known/timestamppb"
)

func TestDebugSink(t *testing.T) {
	c := newCluster(t)
	cfg := Config{Brokers: c.ListenAddrs(), Partitions: 4, Log: slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelDebug})), DeliveryTimeout: 3 * time.Second}
	admin, _ := kgo.NewClient(cfg.withDefaults().common()...)
	if err := EnsureTopics(context.Background(), admin, cfg); err != nil {
		t.Fatal(err)
	}
	s, err := NewSink(cfg)
	if err != nil {
		t.Fatal(err)
	}
	rec := &bus.Record{Blueprint: "bp", Probe: "p", Batch: &pb.StageBatch{Device: "d", Session: "s", Seq: 1, Time: timestamppb.New(time.Unix(1_700_000_000, 0))}}
	body, _ := rec.Encode()
	t.Log(s.Send(context.Background(), []bus.Encoded{{Rec: rec, Body: body}}))
}
