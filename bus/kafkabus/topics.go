package kafkabus

import (
	"context"
	"errors"
	"fmt"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"
)

// EnsureTopics creates the records' topic (c.Partitions partitions) and
// the compacted checkpoint topic (one partition: a few hundred bytes per
// probe) unless they exist. A topic that exists is left as it is (its
// partition count is read, not changed: adding partitions would move
// probes between partitions under running members).
func EnsureTopics(ctx context.Context, cl *kgo.Client, c Config) error {
	c = c.withDefaults()
	req := kmsg.NewPtrCreateTopicsRequest()
	req.TimeoutMillis = 10000
	add := func(name string, parts int32, configs map[string]string) {
		t := kmsg.NewCreateTopicsRequestTopic()
		t.Topic, t.NumPartitions, t.ReplicationFactor = name, parts, int16(c.Replication)
		for k, v := range configs {
			tc := kmsg.NewCreateTopicsRequestTopicConfig()
			tc.Name, tc.Value = k, kmsg.StringPtr(v)
			t.Configs = append(t.Configs, tc)
		}
		req.Topics = append(req.Topics, t)
	}
	add(c.Prefix, int32(c.Partitions), nil)
	add(CheckpointTopic(c.Prefix), 1, map[string]string{"cleanup.policy": "compact"})
	resp, err := req.RequestWith(ctx, cl)
	if err != nil {
		return fmt.Errorf("kafka: create topics: %w", err)
	}
	for _, t := range resp.Topics {
		if err := kerr.ErrorForCode(t.ErrorCode); err != nil && !errors.Is(err, kerr.TopicAlreadyExists) {
			return fmt.Errorf("kafka: create topic %s: %w", t.Topic, err)
		}
	}
	return nil
}

// CreateTopics connects to c's cluster and runs EnsureTopics.
func CreateTopics(ctx context.Context, c Config) error {
	c = c.withDefaults()
	if err := c.Validate(); err != nil {
		return err
	}
	cl, err := kgo.NewClient(c.common()...)
	if err != nil {
		return fmt.Errorf("kafka: %w", err)
	}
	defer cl.Close()
	return EnsureTopics(ctx, cl, c)
}

// partitionCount is how many partitions topic has.
func partitionCount(ctx context.Context, cl *kgo.Client, topic string) (int, error) {
	req := kmsg.NewPtrMetadataRequest()
	t := kmsg.NewMetadataRequestTopic()
	t.Topic = kmsg.StringPtr(topic)
	req.Topics = append(req.Topics, t)
	resp, err := req.RequestWith(ctx, cl)
	if err != nil {
		return 0, fmt.Errorf("kafka: metadata of %s: %w", topic, err)
	}
	for _, rt := range resp.Topics {
		if rt.Topic != nil && *rt.Topic == topic {
			if err := kerr.ErrorForCode(rt.ErrorCode); err != nil {
				return 0, fmt.Errorf("kafka: topic %s: %w", topic, err)
			}
			if len(rt.Partitions) == 0 {
				return 0, fmt.Errorf("kafka: topic %s has no partitions", topic)
			}
			return len(rt.Partitions), nil
		}
	}
	return 0, fmt.Errorf("kafka: topic %s not in the metadata", topic)
}

// endOffset is the offset the next record of a partition will get.
func endOffset(ctx context.Context, cl *kgo.Client, topic string, partition int32) (int64, error) {
	req := kmsg.NewPtrListOffsetsRequest()
	req.ReplicaID = -1
	t := kmsg.NewListOffsetsRequestTopic()
	t.Topic = topic
	p := kmsg.NewListOffsetsRequestTopicPartition()
	p.Partition, p.Timestamp = partition, -1 // latest
	t.Partitions = append(t.Partitions, p)
	req.Topics = append(req.Topics, t)
	resp, err := req.RequestWith(ctx, cl)
	if err != nil {
		return 0, fmt.Errorf("kafka: end offset of %s/%d: %w", topic, partition, err)
	}
	for _, rt := range resp.Topics {
		for _, rp := range rt.Partitions {
			if rp.Partition == partition {
				if err := kerr.ErrorForCode(rp.ErrorCode); err != nil {
					return 0, fmt.Errorf("kafka: end offset of %s/%d: %w", topic, partition, err)
				}
				return rp.Offset, nil
			}
		}
	}
	return 0, fmt.Errorf("kafka: end offset of %s/%d: not in the answer", topic, partition)
}
