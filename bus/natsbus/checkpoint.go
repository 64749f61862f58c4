package natsbus

import (
	"context"
	"errors"
	"fmt"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/probe-agent/probe-agent/bus"
)

// Checkpoint keeps each probe's raised anomalies in a JetStream key-value
// bucket (bus.Checkpoint): key raised.<blueprint>.<probe>, one revision
// kept, replicated like the stream.
type Checkpoint struct {
	kv        jetstream.KeyValue
	blueprint string
}

func stateBucket(c Config) string { return c.Stream + "_state" }

// NewCheckpoint opens (creating it if needed) the state bucket.
func NewCheckpoint(ctx context.Context, js jetstream.JetStream, c Config) (*Checkpoint, error) {
	c = c.withDefaults()
	kv, err := js.CreateOrUpdateKeyValue(ctx, jetstream.KeyValueConfig{
		Bucket: stateBucket(c), Description: "probe-agent fan-in: raised anomalies per probe", History: 1,
		Storage: jetstream.FileStorage, Replicas: c.Replicas,
	})
	if err != nil {
		return nil, fmt.Errorf("key-value bucket %s: %w", stateBucket(c), err)
	}
	return &Checkpoint{kv: kv, blueprint: c.Blueprint}, nil
}

func (c *Checkpoint) key(probeID string) string {
	return "raised." + bus.Token(c.blueprint) + "." + bus.Token(probeID)
}

// Load implements bus.Checkpoint.
func (c *Checkpoint) Load(ctx context.Context, probeID string) (bus.Raised, error) {
	e, err := c.kv.Get(ctx, c.key(probeID))
	if errors.Is(err, jetstream.ErrKeyNotFound) {
		return bus.Raised{}, nil
	}
	if err != nil {
		return nil, err
	}
	return bus.DecodeRaised(e.Value())
}

// Save implements bus.Checkpoint.
func (c *Checkpoint) Save(ctx context.Context, probeID string, r bus.Raised) error {
	data, err := bus.EncodeRaised(r)
	if err != nil {
		return err
	}
	_, err = c.kv.Put(ctx, c.key(probeID), data)
	return err
}
