package bus

import (
	"context"
	"encoding/json"
	"fmt"
	"sort"
	"sync"
)

// Checkpoint keeps, for each probe, the anomalies its owner has reported
// raised, where the member that takes the probe over reads them (a
// JetStream key-value bucket, a compacted Kafka topic). It is written
// after each tick that changed the set and before that tick's records are
// acknowledged, so the new owner's set is never older than the records
// it is given again.
type Checkpoint interface {
	Load(ctx context.Context, probeID string) (Raised, error)
	Save(ctx context.Context, probeID string, r Raised) error
}

// Raised is a probe's raised anomalies, by key: "central/<anomaly id>"
// for the central part's, "edge/<device>/<item id>" for those a device
// raised.
type Raised map[string]RaisedAnomaly

// RaisedAnomaly is what a clear needs of a raised anomaly.
type RaisedAnomaly struct {
	Origin string          `json:"origin"` // central or edge
	Device string          `json:"device,omitempty"`
	Stage  string          `json:"stage"`
	ItemID string          `json:"item_id"`
	JSON   json.RawMessage `json:"anomaly,omitempty"`
}

// CentralKey and EdgeKey are the keys of Raised.
func CentralKey(anomalyID string) string   { return "central/" + anomalyID }
func EdgeKey(device, itemID string) string { return "edge/" + device + "/" + itemID }

// checkpointDoc is a checkpoint's stored form: a version, so a format
// change is refused rather than misread, and the anomalies in key order.
type checkpointDoc struct {
	Version int                      `json:"version"`
	Raised  map[string]RaisedAnomaly `json:"raised"`
}

// EncodeRaised is the stored form of r (JSON, keys sorted).
func EncodeRaised(r Raised) ([]byte, error) {
	if r == nil {
		r = Raised{}
	}
	return json.Marshal(checkpointDoc{Version: 1, Raised: r})
}

// DecodeRaised reads what EncodeRaised wrote.
func DecodeRaised(data []byte) (Raised, error) {
	var d checkpointDoc
	if err := json.Unmarshal(data, &d); err != nil {
		return nil, fmt.Errorf("checkpoint: %w", err)
	}
	if d.Version != 1 {
		return nil, fmt.Errorf("checkpoint: version %d, this build reads version 1", d.Version)
	}
	if d.Raised == nil {
		d.Raised = Raised{}
	}
	for k, a := range d.Raised {
		if a.Origin != "central" && a.Origin != "edge" {
			return nil, fmt.Errorf("checkpoint: anomaly %q: origin %q, want central or edge", k, a.Origin)
		}
	}
	return d.Raised, nil
}

// Keys lists r's keys in order.
func (r Raised) Keys() []string {
	out := make([]string, 0, len(r))
	for k := range r {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}

func (r Raised) clone() Raised {
	out := make(Raised, len(r))
	for k, v := range r {
		out[k] = v
	}
	return out
}

// MemCheckpoint is a Checkpoint in memory: for a single member (nothing to
// take over from) and for tests.
type MemCheckpoint struct {
	mu sync.Mutex
	m  map[string][]byte
}

// Load returns what Save stored for probeID (nothing: an empty set).
func (c *MemCheckpoint) Load(_ context.Context, probeID string) (Raised, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	data, ok := c.m[probeID]
	if !ok {
		return Raised{}, nil
	}
	return DecodeRaised(data)
}

// Save stores r for probeID.
func (c *MemCheckpoint) Save(_ context.Context, probeID string, r Raised) error {
	data, err := EncodeRaised(r)
	if err != nil {
		return err
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.m == nil {
		c.m = map[string][]byte{}
	}
	c.m[probeID] = data
	return nil
}
