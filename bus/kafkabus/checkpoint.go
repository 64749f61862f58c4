package kafkabus

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/probe-agent/probe-agent/bus"
)

// Checkpoint is a bus.Checkpoint on a compacted topic: Save produces the
// probe's raised set keyed <blueprint>/<probe> (bus.KafkaKey; the bare
// probe id without a blueprint), so that blueprints sharing the topic, the
// pods of a hierarchy, keep their own checkpoints of one probe. It waits
// for acks from all in-sync replicas, so a member acknowledges a tick's
// records only once its checkpoint is durable. A reader tails the topic
// from its start into memory, and Load first waits until the reader has
// reached the end the topic had when Load was called, so it returns every
// Save acknowledged before it, whichever member made it. Compaction keeps
// the last value per key, so reading the topic at start costs one record
// per probe.
type Checkpoint struct {
	cl        *kgo.Client
	topic     string
	blueprint string
	log       interface{ Warn(string, ...any) }

	mu      sync.Mutex
	latest  map[string][]byte
	next    int64         // offset of the next record to read
	advance chan struct{} // closed (and replaced) when next moves
	err     error         // the reader's last error

	stop context.CancelFunc
	done chan struct{}
}

// NewCheckpoint connects the checkpoint's producer and reader; the topic
// must exist (EnsureTopics).
func NewCheckpoint(c Config) (*Checkpoint, error) {
	c = c.withDefaults()
	if err := c.Validate(); err != nil {
		return nil, err
	}
	topic := CheckpointTopic(c.Prefix)
	opts := append(c.common(),
		kgo.RequiredAcks(kgo.AllISRAcks()),
		kgo.RecordPartitioner(kgo.StickyKeyPartitioner(nil)),
		kgo.RecordDeliveryTimeout(c.DeliveryTimeout),
		kgo.ConsumePartitions(map[string]map[int32]kgo.Offset{topic: {0: kgo.NewOffset().AtStart()}}),
		kgo.FetchMaxWait(c.HeartbeatInterval),
	)
	cl, err := kgo.NewClient(opts...)
	if err != nil {
		return nil, fmt.Errorf("kafka checkpoint client: %w", err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	cp := &Checkpoint{cl: cl, topic: topic, blueprint: c.Blueprint, log: c.Log, latest: map[string][]byte{}, advance: make(chan struct{}), stop: cancel, done: make(chan struct{})}
	go cp.read(ctx)
	return cp, nil
}

func (cp *Checkpoint) read(ctx context.Context) {
	defer close(cp.done)
	for {
		fs := cp.cl.PollFetches(ctx)
		if ctx.Err() != nil {
			return
		}
		var ferr error
		fs.EachError(func(_ string, _ int32, err error) { ferr = err })
		cp.mu.Lock()
		moved := false
		fs.EachRecord(func(r *kgo.Record) {
			if r.Partition != 0 {
				return
			}
			if r.Value == nil {
				delete(cp.latest, string(r.Key))
			} else {
				cp.latest[string(r.Key)] = r.Value
			}
			cp.next, moved = r.Offset+1, true
		})
		fs.EachPartition(func(p kgo.FetchTopicPartition) {
			// Past compacted-away offsets and control records: the high
			// watermark is as far as there is anything to read.
			if p.Partition == 0 && p.Err == nil && len(p.Records) == 0 && p.HighWatermark > cp.next {
				cp.next, moved = p.HighWatermark, true
			}
		})
		cp.err = ferr
		if moved {
			close(cp.advance)
			cp.advance = make(chan struct{})
		}
		cp.mu.Unlock()
		if ferr != nil {
			cp.log.Warn("kafka: checkpoint reader", "topic", cp.topic, "err", ferr)
		}
	}
}

// key is probeID's record key on the checkpoint topic.
func (cp *Checkpoint) key(probeID string) string {
	if cp.blueprint == "" {
		return probeID
	}
	return bus.KafkaKey(cp.blueprint, probeID)
}

// Load returns probeID's raised set as last saved by any member. A
// probe with no checkpoint under its key yet but one under its bare id
// (written before keys had the blueprint) gets that one: an upgrade
// keeps what was raised.
func (cp *Checkpoint) Load(ctx context.Context, probeID string) (bus.Raised, error) {
	key := cp.key(probeID)
	end, err := cp.end(ctx)
	if err != nil {
		return nil, err
	}
	for refreshed := false; ; refreshed = true {
		cp.mu.Lock()
		next, ch, have := cp.next, cp.advance, false
		var data []byte
		if next >= end {
			data, have = cp.latest[key]
			if !have {
				data, have = cp.latest[probeID]
			}
		}
		cp.mu.Unlock()
		if next >= end {
			if !have {
				return bus.Raised{}, nil
			}
			r, err := bus.DecodeRaised(data)
			if err != nil {
				return nil, fmt.Errorf("topic %s key %q: %w", cp.topic, key, err)
			}
			return r, nil
		}
		if !refreshed {
			// A topic created after the reader started is only read
			// once the reader's metadata has it.
			cp.cl.ForceMetadataRefresh()
		}
		select {
		case <-ch:
		case <-ctx.Done():
			return nil, fmt.Errorf("kafka: checkpoint of %q: read %d of %d records of %s: %w", probeID, next, end, cp.topic, ctx.Err())
		case <-cp.done:
			return nil, errors.New("kafka: checkpoint closed")
		}
	}
}

// end is the checkpoint topic's end offset. A topic created moments ago
// (by this or another member) may not be in the client's metadata yet:
// that is refreshed and asked again, for a few seconds.
func (cp *Checkpoint) end(ctx context.Context) (int64, error) {
	for wait := 50 * time.Millisecond; ; wait *= 2 {
		end, err := endOffset(ctx, cp.cl, cp.topic, 0)
		if err == nil || !errors.Is(err, kerr.UnknownTopicOrPartition) || wait > 3*time.Second {
			return end, err
		}
		cp.cl.ForceMetadataRefresh()
		select {
		case <-time.After(wait):
		case <-ctx.Done():
			return 0, ctx.Err()
		}
	}
}

// Save writes probeID's raised set and waits until it is stored.
func (cp *Checkpoint) Save(ctx context.Context, probeID string, r bus.Raised) error {
	data, err := bus.EncodeRaised(r)
	if err != nil {
		return err
	}
	rec := &kgo.Record{Topic: cp.topic, Partition: 0, Key: []byte(cp.key(probeID)), Value: data}
	if err := cp.cl.ProduceSync(ctx, rec).FirstErr(); err != nil {
		return fmt.Errorf("kafka: checkpoint of %q to %s: %w", probeID, cp.topic, err)
	}
	return nil
}

// Close stops the reader and the client.
func (cp *Checkpoint) Close() error {
	cp.stop()
	<-cp.done
	cp.cl.Close()
	return nil
}
