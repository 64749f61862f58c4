package kafkabus

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sort"
	"sync"
	"time"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/probe-agent/probe-agent/bus"
)

// InputOptions are what a member's Input needs besides the connection.
type InputOptions struct {
	// Probes lists the probes with a central part the controller knows:
	// when a partition is assigned, those whose key hashes there are
	// assigned to the member at once (taking over the checkpoint even
	// if no device writes any more); a record of another probe on an
	// owned partition assigns its probe when it comes.
	Probes func() []string
	// Now is the clock ownership is started by (time.Now; tests use the
	// fleet's).
	Now func() time.Time
	// Stamp is the time a record is judged by (its age against the
	// member's staleness bound): the broker's timestamp by default. A
	// test replaying at its own pace uses the evaluation time the record
	// carries.
	Stamp func(rec *bus.Record, broker time.Time) time.Time
	// CreateTopics creates the topics when missing (EnsureTopics).
	CreateTopics bool
	// OnAssigned and OnRevoked are told the partitions (tests and status).
	OnAssigned, OnRevoked func(partitions []int32)
	// OnCommitted is called after each commit the broker accepted.
	OnCommitted func()
}

// Input is a member's reading side (bus.Input): one client in the
// consumer group Config.Group reading the records' topic. The group
// coordinator shares the topic's partitions out between the members;
// owning a partition is owning the probes whose key hashes there
// (PartitionOf). Offsets are committed by the member, never
// automatically: a partition's committed offset is its first record not
// yet acknowledged by a finished tick, so a member taking it over reads
// again exactly what the previous one had not merged.
type Input struct {
	c   Config
	opt InputOptions
	log *slog.Logger

	// own serialises the changes of ownership: partitions assigned or
	// revoked, probes added or removed (Rebalance).
	own    sync.Mutex
	member *bus.Member
	nparts int

	mu    sync.Mutex
	parts map[int32]*partState
	cl    *kgo.Client
	// committed is the last offset committed per partition (tests).
	committed map[int32]int64
	// moved is poked when acknowledgements move a partition's position:
	// the commit follows a tick at once (CommitInterval is the fallback),
	// which keeps what a crash makes the next owner read again to about
	// one tick.
	moved chan struct{}
}

// partState tracks one owned partition's records between poll and ack.
type partState struct {
	// offs are offsets of records given to the member, in order, and
	// whether each is acknowledged; acknowledged ones at the front are
	// popped, so the front is the first one still outstanding.
	offs []int64
	done map[int64]bool
	// next is the offset after the last record seen; floor the lowest
	// offset given back (Nak) while the partition is still owned: it is
	// not committed past until the partition goes to the next owner.
	next  int64
	floor int64
}

// NewInput checks the configuration; Run connects.
func NewInput(c Config, opt InputOptions) (*Input, error) {
	c = c.withDefaults()
	if err := c.Validate(); err != nil {
		return nil, err
	}
	if opt.Now == nil {
		opt.Now = time.Now
	}
	if opt.Stamp == nil {
		opt.Stamp = func(_ *bus.Record, broker time.Time) time.Time { return broker }
	}
	if opt.Probes == nil {
		opt.Probes = func() []string { return nil }
	}
	return &Input{c: c, opt: opt, log: c.Log, parts: map[int32]*partState{}, committed: map[int32]int64{}, moved: make(chan struct{}, 1)}, nil
}

// Run joins the group and feeds m until ctx ends; then it revokes
// everything, commits what the ticks finished and leaves the group
// cleanly, so the others take over at once (not after the session
// timeout).
func (in *Input) Run(ctx context.Context, m *bus.Member) error {
	topic := bus.KafkaTopic(in.c.Prefix)
	var nparts int
	assign := func(actx context.Context, cl *kgo.Client, ps map[string][]int32) {
		in.own.Lock()
		defer in.own.Unlock()
		list := ps[topic]
		in.mu.Lock()
		for _, p := range list {
			in.parts[p] = &partState{done: map[int64]bool{}, floor: -1}
		}
		in.mu.Unlock()
		owned := map[int32]bool{}
		for _, p := range list {
			owned[p] = true
		}
		now := in.opt.Now()
		for _, id := range in.opt.Probes() {
			if owned[PartitionOf(bus.KafkaKey(in.c.Blueprint, id), nparts)] {
				if err := m.Assign(actx, id, now); err != nil && !errors.Is(err, bus.ErrNoCentralPart) {
					in.log.Warn("fan-in: kafka: assign", "probe", id, "err", err)
				}
			}
		}
		in.log.Info("fan-in: kafka partitions assigned", "partitions", list)
		if in.opt.OnAssigned != nil {
			in.opt.OnAssigned(sortedParts(list))
		}
	}
	drop := func(cl *kgo.Client, ps map[string][]int32, commit bool) {
		in.own.Lock()
		defer in.own.Unlock()
		list := ps[topic]
		gone := map[int32]bool{}
		for _, p := range list {
			gone[p] = true
		}
		for _, id := range m.Owned() {
			if gone[PartitionOf(bus.KafkaKey(in.c.Blueprint, id), nparts)] {
				m.Revoke(id) // after a tick in progress; Naks what it had not merged
			}
		}
		if commit {
			// Bounded: a broker gone must not hold a shutdown or a
			// rebalance; the next owner then reads a little more again.
			cctx, cancel := context.WithTimeout(context.Background(), max(in.c.SessionTimeout, 5*time.Second))
			err := in.commit(cctx, cl, list)
			cancel()
			if err != nil {
				in.log.Warn("fan-in: kafka: commit at revoke", "err", err)
			}
		}
		in.mu.Lock()
		for _, p := range list {
			delete(in.parts, p)
		}
		in.mu.Unlock()
		in.log.Info("fan-in: kafka partitions revoked", "partitions", list, "committed", commit)
		if in.opt.OnRevoked != nil {
			in.opt.OnRevoked(sortedParts(list))
		}
	}
	opts := append(in.c.common(),
		kgo.ConsumerGroup(in.c.Group),
		kgo.ConsumeTopics(topic),
		kgo.DisableAutoCommit(),
		kgo.BlockRebalanceOnPoll(),
		kgo.SessionTimeout(in.c.SessionTimeout),
		kgo.HeartbeatInterval(in.c.HeartbeatInterval),
		kgo.RebalanceTimeout(max(in.c.SessionTimeout, 5*time.Second)),
		kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()),
		kgo.FetchMaxWait(250*time.Millisecond),
		kgo.OnPartitionsAssigned(assign),
		kgo.OnPartitionsRevoked(func(_ context.Context, cl *kgo.Client, ps map[string][]int32) { drop(cl, ps, true) }),
		kgo.OnPartitionsLost(func(_ context.Context, cl *kgo.Client, ps map[string][]int32) { drop(cl, ps, false) }),
	)
	// Topics, then the partition count (the assign callback needs it to
	// map partitions to probes), before joining; a cluster not reachable
	// yet, or a topic not created yet, is waited for.
	for wait := 500 * time.Millisecond; ; wait = min(wait*2, 10*time.Second) {
		var err error
		if nparts, err = in.prepare(ctx, topic); err == nil {
			break
		}
		in.log.Warn("fan-in: kafka not ready; retrying", "err", err, "in", wait)
		select {
		case <-time.After(wait):
		case <-ctx.Done():
			return nil
		}
	}
	in.own.Lock()
	in.member, in.nparts = m, nparts
	in.own.Unlock()
	cl, err := kgo.NewClient(opts...)
	if err != nil {
		return fmt.Errorf("kafka consumer: %w", err)
	}
	in.mu.Lock()
	in.cl = cl
	in.mu.Unlock()
	defer cl.Close() // leaves the group: revoke (commit) runs first
	commitDone := make(chan struct{})
	cctx, cstop := context.WithCancel(ctx)
	go func() {
		defer close(commitDone)
		t := time.NewTicker(in.c.CommitInterval)
		defer t.Stop()
		for {
			select {
			case <-cctx.Done():
				return
			case <-t.C:
			case <-in.moved:
			}
			if err := in.commit(cctx, cl, nil); err != nil && cctx.Err() == nil {
				in.log.Debug("fan-in: kafka: commit", "err", err)
			}
		}
	}()
	defer func() { cstop(); <-commitDone }()
	for {
		fs := cl.PollRecords(ctx, 4096)
		if ctx.Err() != nil {
			cl.AllowRebalance()
			return nil
		}
		if fs.IsClientClosed() {
			return errors.New("kafka: client closed")
		}
		fs.EachError(func(t string, p int32, err error) {
			in.log.Warn("fan-in: kafka fetch", "topic", t, "partition", p, "err", err)
		})
		fs.EachRecord(func(r *kgo.Record) { in.offer(ctx, m, nparts, r) })
		cl.AllowRebalance()
	}
}

// prepare creates the topics (CreateTopics) and reads the records'
// topic's partition count.
func (in *Input) prepare(ctx context.Context, topic string) (int, error) {
	if in.opt.CreateTopics {
		if err := CreateTopics(ctx, in.c); err != nil {
			return 0, err
		}
	}
	meta, err := kgo.NewClient(in.c.common()...)
	if err != nil {
		return 0, fmt.Errorf("kafka: %w", err)
	}
	defer meta.Close()
	return partitionCount(ctx, meta, topic)
}

// Rebalance brings the member's probes in line with Probes after the
// probe set changed: a new probe whose key hashes to an owned partition
// is assigned, a probe no longer listed is revoked. (Partitions move
// only with the group's membership.)
func (in *Input) Rebalance() {
	in.own.Lock()
	defer in.own.Unlock()
	m := in.member
	if m == nil {
		return
	}
	in.mu.Lock()
	owned := map[int32]bool{}
	for p := range in.parts {
		owned[p] = true
	}
	in.mu.Unlock()
	known := map[string]bool{}
	now := in.opt.Now()
	for _, id := range in.opt.Probes() {
		known[id] = true
		if !m.Owns(id) && owned[PartitionOf(bus.KafkaKey(in.c.Blueprint, id), in.nparts)] {
			if err := m.Assign(context.Background(), id, now); err != nil && !errors.Is(err, bus.ErrNoCentralPart) {
				in.log.Warn("fan-in: kafka: assign", "probe", id, "err", err)
			}
		}
	}
	for _, id := range m.Owned() {
		if !known[id] {
			m.Revoke(id)
		}
	}
}

// offer gives one record to the member with an acker tracking its offset.
func (in *Input) offer(ctx context.Context, m *bus.Member, nparts int, r *kgo.Record) {
	in.mu.Lock()
	ps := in.parts[r.Partition]
	if ps == nil {
		in.mu.Unlock()
		return // revoked between fetch and now
	}
	ps.offs = append(ps.offs, r.Offset)
	ps.next = r.Offset + 1
	a := &acker{in: in, ps: ps, off: r.Offset}
	in.mu.Unlock()
	rec, err := decodeRecord(r)
	if err != nil {
		in.log.Warn("fan-in: kafka: record refused", "partition", r.Partition, "offset", r.Offset, "err", err)
		_ = a.Ack()
		return
	}
	if in.c.Blueprint != "" && rec.Blueprint != in.c.Blueprint {
		_ = a.Ack() // another blueprint's, sharing the topic
		return
	}
	in.own.Lock()
	defer in.own.Unlock()
	if !m.Owns(rec.Probe) {
		if PartitionOf(bus.KafkaKey(rec.Blueprint, rec.Probe), nparts) != r.Partition {
			in.log.Warn("fan-in: kafka: record in the wrong partition for its key", "probe", rec.Probe, "partition", r.Partition)
			_ = a.Ack()
			return
		}
		if err := m.Assign(ctx, rec.Probe, in.opt.Now()); err != nil {
			if !errors.Is(err, bus.ErrNoCentralPart) {
				in.log.Warn("fan-in: kafka: assign", "probe", rec.Probe, "err", err)
				return // not acknowledged: read again by the next owner
			}
			_ = a.Ack()
			return
		}
	}
	m.Offer(rec, in.opt.Stamp(rec, r.Timestamp), a)
}

type acker struct {
	in  *Input
	ps  *partState
	off int64
}

func (a *acker) Ack() error { a.in.settle(a.ps, a.off, false); return nil }
func (a *acker) Nak() error { a.in.settle(a.ps, a.off, true); return nil }

func (in *Input) settle(ps *partState, off int64, nak bool) {
	in.mu.Lock()
	defer in.mu.Unlock()
	if nak && (ps.floor < 0 || off < ps.floor) {
		ps.floor = off
	}
	ps.done[off] = true
	popped := false
	for len(ps.offs) > 0 && ps.done[ps.offs[0]] {
		delete(ps.done, ps.offs[0])
		ps.offs = ps.offs[1:]
		popped = true
	}
	if popped {
		select {
		case in.moved <- struct{}{}:
		default:
		}
	}
}

// position is where a partition's next owner starts: its first record
// not acknowledged (or given back).
func (ps *partState) position() int64 {
	pos := ps.next
	if len(ps.offs) > 0 {
		pos = ps.offs[0]
	}
	if ps.floor >= 0 && ps.floor < pos {
		pos = ps.floor
	}
	return pos
}

// commit commits the position of the given partitions (every owned one
// when nil) that moved since the last commit, and waits for the answer.
func (in *Input) commit(ctx context.Context, cl *kgo.Client, list []int32) error {
	topic := bus.KafkaTopic(in.c.Prefix)
	in.mu.Lock()
	if list == nil {
		for p := range in.parts {
			list = append(list, p)
		}
	}
	offs := map[int32]kgo.EpochOffset{}
	for _, p := range list {
		ps := in.parts[p]
		if ps == nil || ps.next == 0 {
			continue
		}
		pos := ps.position()
		if c, ok := in.committed[p]; ok && c == pos {
			continue
		}
		offs[p] = kgo.EpochOffset{Epoch: -1, Offset: pos}
	}
	in.mu.Unlock()
	if len(offs) == 0 {
		return nil
	}
	var cerr error
	done := make(chan struct{})
	cl.CommitOffsetsSync(ctx, map[string]map[int32]kgo.EpochOffset{topic: offs}, func(_ *kgo.Client, _ *kmsg.OffsetCommitRequest, resp *kmsg.OffsetCommitResponse, err error) {
		defer close(done)
		if err != nil {
			cerr = err
			return
		}
		in.mu.Lock()
		defer in.mu.Unlock()
		for _, t := range resp.Topics {
			for _, p := range t.Partitions {
				if e := kerr.ErrorForCode(p.ErrorCode); e != nil {
					cerr = fmt.Errorf("partition %d: %w", p.Partition, e)
					continue
				}
				in.committed[p.Partition] = offs[p.Partition].Offset
			}
		}
	})
	<-done
	if cerr == nil && in.opt.OnCommitted != nil {
		in.opt.OnCommitted()
	}
	return cerr
}

// Committed is the last offset this input committed per partition.
func (in *Input) Committed() map[int32]int64 {
	in.mu.Lock()
	defer in.mu.Unlock()
	out := make(map[int32]int64, len(in.committed))
	for p, o := range in.committed {
		out[p] = o
	}
	return out
}

// Partitions lists the partitions this input owns now.
func (in *Input) Partitions() []int32 {
	in.mu.Lock()
	defer in.mu.Unlock()
	out := make([]int32, 0, len(in.parts))
	for p := range in.parts {
		out = append(out, p)
	}
	return sortedParts(out)
}

func sortedParts(ps []int32) []int32 {
	out := append([]int32(nil), ps...)
	sort.Slice(out, func(i, j int) bool { return out[i] < out[j] })
	return out
}
