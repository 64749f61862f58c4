package kafkabus

import (
	"context"
	"errors"
	"fmt"

	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/probe-agent/probe-agent/bus"
)

// Sink is the agent's writing side: a bus.Sink producing each record to
// the topic with its probe's key. The producer is idempotent (the broker
// keeps a sequence number per producer and partition and drops a batch
// it already stored), with acks from all in-sync replicas, so kgo's own
// retries across a lost connection leave neither a gap nor a duplicate; it
// retries one Send's records for up to DeliveryTimeout before failing it.
// A Send the bus.Publisher retries after that is produced anew: a
// duplicate then reaches the consumer, which keeps one by the record's
// device, session and batch number.
type Sink struct {
	cl    *kgo.Client
	topic string
}

// NewSink connects a producer (the cluster need not be reachable yet).
func NewSink(c Config) (*Sink, error) {
	c = c.withDefaults()
	if err := c.Validate(); err != nil {
		return nil, err
	}
	opts := append(c.common(),
		kgo.RequiredAcks(kgo.AllISRAcks()),
		kgo.RecordPartitioner(kgo.StickyKeyPartitioner(nil)),
		kgo.RecordDeliveryTimeout(c.DeliveryTimeout),
		// The bus.Publisher is the bounded, counted queue; kgo holds one
		// Send at a time.
		kgo.MaxBufferedRecords(max(bus.DefaultQueue.Batch, 1024)),
		kgo.ProducerBatchCompression(kgo.NoCompression()),
	)
	cl, err := kgo.NewClient(opts...)
	if err != nil {
		return nil, fmt.Errorf("kafka producer: %w", err)
	}
	return &Sink{cl: cl, topic: bus.KafkaTopic(c.Prefix)}, nil
}

// Send produces recs and waits for every acknowledgement.
func (s *Sink) Send(ctx context.Context, recs []bus.Encoded) error {
	krs := make([]*kgo.Record, len(recs))
	for i, e := range recs {
		krs[i] = KafkaRecord(s.topic, e)
	}
	var errs []error
	for _, r := range s.cl.ProduceSync(ctx, krs...) {
		if r.Err != nil {
			errs = append(errs, r.Err)
			if len(errs) == 3 {
				break
			}
		}
	}
	if len(errs) > 0 {
		return fmt.Errorf("kafka produce to %s: %w", s.topic, errors.Join(errs...))
	}
	return nil
}

// Close closes the producer (Publisher.Close flushed what it could).
func (s *Sink) Close() error {
	s.cl.Close()
	return nil
}

// KafkaRecord is the Kafka record of e in topic: key <blueprint>/<probe>
// and the record's headers. Its timestamp is left to the producer (the
// time of the produce call): the member judges a record's age by it, so
// a record read back from the log after a takeover is seen as old as it
// is. (Not the batch's evaluation time: kgo fails a record whose
// timestamp is older than its delivery timeout, and a replayed
// recording's times are.)
func KafkaRecord(topic string, e bus.Encoded) *kgo.Record {
	r := &kgo.Record{Topic: topic, Key: []byte(bus.KafkaKey(e.Rec.Blueprint, e.Rec.Probe)), Value: e.Body}
	for _, h := range e.Rec.Headers() {
		r.Headers = append(r.Headers, kgo.RecordHeader{Key: h[0], Value: []byte(h[1])})
	}
	return r
}

// decodeRecord reads a consumed Kafka record back into a bus.Record: its
// headers and body (bus.Decode's checks), and its key, which must be the
// one its probe's records are written with (a record under another key
// is in a partition its probe's owner does not read).
func decodeRecord(r *kgo.Record) (*bus.Record, error) {
	rec, err := bus.Decode(r.Value, header(r))
	if err != nil {
		return nil, err
	}
	if want := bus.KafkaKey(rec.Blueprint, rec.Probe); string(r.Key) != want {
		return nil, fmt.Errorf("record of probe %q from %q: key %q, want %q", rec.Probe, rec.Device(), r.Key, want)
	}
	return rec, nil
}

// header reads a Kafka record's header.
func header(r *kgo.Record) func(string) string {
	return func(k string) string {
		for _, h := range r.Headers {
			if h.Key == k {
				return string(h.Value)
			}
		}
		return ""
	}
}
