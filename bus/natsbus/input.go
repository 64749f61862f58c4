package natsbus

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"hash/fnv"
	"os"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/probe-agent/probe-agent/bus"
)

// InputConfig configures a central evaluator's input.
type InputConfig struct {
	Config
	// MemberID names this member among the evaluators (default: host
	// name, process id and a random suffix). Two live members must not
	// share one.
	MemberID string
	// LeaseTTL is how long a member's leases outlive its last renewal: a
	// member that dies loses its probes within LeaseTTL plus one renewal
	// period (LeaseTTL/3), and the survivors take them over then. Keep
	// it well under the controller's staleness bound.
	LeaseTTL time.Duration
	// AckWait is how long the server waits for a record's
	// acknowledgement before delivering it again; longer than a tick.
	AckWait time.Duration
	// Probes lists the probes to share out (those with a central part).
	Probes func() []string
	// OnAssign and OnRevoke are told of ownership changes, after the
	// member's Assign and Revoke.
	OnAssign, OnRevoke func(probeID string)
}

// Defaults.
const (
	DefaultLeaseTTL = 3 * time.Second
	DefaultAckWait  = 30 * time.Second
)

// Input is a member's reading side (bus.Input): it shares the probes out
// with the other members through leases, and reads each owned probe's
// records from a durable consumer.
//
// Ownership: every member heartbeats member.<blueprint>.<id> in the
// leases bucket, whose TTL is LeaseTTL, and every LeaseTTL/3 lists the
// live members of its blueprint; a probe belongs to the live member with the highest rendezvous hash of
// (member, probe), which moves only the probes of a member that comes or
// goes. The owner holds probe.<blueprint>.<probe>, created only if absent
// (so at most one holder) and renewed by compare-and-set on its revision;
// a member that cannot renew within LeaseTTL stops evaluating the probe
// even if it cannot reach the server to say so, and a member that sees
// another live member preferred releases the probe (deletes the key at
// its revision), which that member then takes.
//
// Taking a probe: the member's checkpoint is loaded (bus.Member.Assign),
// then the probe's durable consumer is made afresh starting at the last
// record of every device (DeliverLastPerSubject): each device's latest
// partial state is all a central part needs, so the new owner's first
// tick merges the same partials the old owner's next tick would have,
// with nothing counted twice (the member keys records by device, session
// and batch). The consumer stays while the member owns the probe (a
// reconnect resumes from its acknowledgements).
type Input struct {
	cfg    InputConfig
	nc     *nats.Conn
	js     jetstream.JetStream
	stream jetstream.Stream
	leases jetstream.KeyValue
	cp     *Checkpoint
	id     string

	mu   sync.Mutex
	held map[string]*holding
	kick chan struct{}
	// decodeErrors counts records refused (terminated: never delivered
	// again).
	decodeErrors uint64
}

type holding struct {
	rev     uint64
	renewed time.Time
	cc      jetstream.ConsumeContext
}

func leaseBucket(c Config) string { return c.Stream + "_leases" }

// NewInput sets up the stream and buckets on nc (which the caller closes).
func NewInput(ctx context.Context, nc *nats.Conn, c InputConfig) (*Input, error) {
	c.Config = c.Config.withDefaults()
	if c.LeaseTTL <= 0 {
		c.LeaseTTL = DefaultLeaseTTL
	}
	if c.AckWait <= 0 {
		c.AckWait = DefaultAckWait
	}
	if c.MemberID == "" {
		host, _ := os.Hostname()
		var b [4]byte
		_, _ = rand.Read(b[:])
		c.MemberID = fmt.Sprintf("%s-%d-%s", host, os.Getpid(), hex.EncodeToString(b[:]))
	}
	if c.Probes == nil {
		return nil, errors.New("natsbus input: no probe list")
	}
	js, err := jetstream.New(nc)
	if err != nil {
		return nil, err
	}
	stream, err := EnsureStream(ctx, js, c.Config)
	if err != nil {
		return nil, err
	}
	leases, err := js.CreateOrUpdateKeyValue(ctx, jetstream.KeyValueConfig{
		Bucket: leaseBucket(c.Config), Description: "probe-agent fan-in: members and probe leases", History: 1,
		TTL: c.LeaseTTL, Storage: jetstream.FileStorage, Replicas: c.Replicas,
	})
	if err != nil {
		return nil, fmt.Errorf("key-value bucket %s: %w", leaseBucket(c.Config), err)
	}
	cp, err := NewCheckpoint(ctx, js, c.Config)
	if err != nil {
		return nil, err
	}
	return &Input{cfg: c, nc: nc, js: js, stream: stream, leases: leases, cp: cp, id: c.MemberID,
		held: map[string]*holding{}, kick: make(chan struct{}, 1)}, nil
}

// Checkpoint is the checkpoint the member must be made with.
func (in *Input) Checkpoint() *Checkpoint { return in.cp }

// MemberID is this member's id.
func (in *Input) MemberID() string { return in.id }

// Held lists the probes whose lease this member holds.
func (in *Input) Held() []string {
	in.mu.Lock()
	defer in.mu.Unlock()
	out := make([]string, 0, len(in.held))
	for id := range in.held {
		out = append(out, id)
	}
	sort.Strings(out)
	return out
}

// DecodeErrors counts records refused as undecodable.
func (in *Input) DecodeErrors() uint64 {
	in.mu.Lock()
	defer in.mu.Unlock()
	return in.decodeErrors
}

// Rebalance asks for a round now (the probe set changed).
func (in *Input) Rebalance() {
	select {
	case in.kick <- struct{}{}:
	default:
	}
}

// memberKey is this member's heartbeat: member.<blueprint>.<id>. The
// blueprint keeps the members of different blueprints sharing one stream
// (a pod level and the fabric level above it) out of each other's
// share-out: each blueprint's probes are shared among its own members.
func (in *Input) memberKey() string { return in.memberPrefix() + bus.Token(in.id) }

func (in *Input) memberPrefix() string { return "member." + bus.Token(in.cfg.Blueprint) + "." }
func (in *Input) probeKey(id string) string {
	return "probe." + bus.Token(in.cfg.Blueprint) + "." + bus.Token(id)
}

// Run implements bus.Input.
func (in *Input) Run(ctx context.Context, m *bus.Member) error {
	period := in.cfg.LeaseTTL / 3
	t := time.NewTicker(period)
	defer t.Stop()
	for {
		in.round(ctx, m)
		select {
		case <-ctx.Done():
			in.releaseAll(m)
			return nil
		case <-t.C:
		case <-in.kick:
		}
	}
}

// rendezvous is the weight of member for probe; the highest wins.
func rendezvous(member, probeID string) uint64 {
	h := fnv.New64a()
	_, _ = h.Write([]byte(member))
	_, _ = h.Write([]byte{0})
	_, _ = h.Write([]byte(probeID))
	return h.Sum64()
}

// Owner is the member, among the live members, that owns probeID: the
// highest rendezvous weight (ties to the smaller id).
func Owner(members []string, probeID string) string {
	best, bw := "", uint64(0)
	for _, mem := range members {
		if w := rendezvous(mem, probeID); best == "" || w > bw || w == bw && mem < best {
			best, bw = mem, w
		}
	}
	return best
}

// round renews, lists the members and moves probes to where they belong.
func (in *Input) round(ctx context.Context, m *bus.Member) {
	now := time.Now()
	rctx, cancel := context.WithTimeout(ctx, in.cfg.LeaseTTL/3)
	defer cancel()
	log := in.cfg.Log
	if _, err := in.leases.Put(rctx, in.memberKey(), []byte(in.id)); err != nil {
		log.Warn("fan-in: member heartbeat failed", "member", in.id, "err", err)
	}
	// Renew what is held; give up what cannot be renewed in time.
	for _, id := range in.Held() {
		in.mu.Lock()
		h := in.held[id]
		in.mu.Unlock()
		rev, err := in.leases.Update(rctx, in.probeKey(id), []byte(in.id), h.rev)
		if err == nil {
			h.rev, h.renewed = rev, now
			continue
		}
		lost := errors.Is(err, jetstream.ErrKeyNotFound) || errors.Is(err, jetstream.ErrKeyExists) || now.Sub(h.renewed) >= in.cfg.LeaseTTL
		var apiErr *jetstream.APIError
		if errors.As(err, &apiErr) && apiErr.ErrorCode == jetstream.JSErrCodeStreamWrongLastSequence {
			lost = true
		}
		if lost {
			log.Warn("fan-in: lease lost", "probe", id, "member", in.id, "err", err)
			in.drop(m, id)
		}
	}
	keys, err := in.leases.Keys(rctx)
	if err != nil && !errors.Is(err, jetstream.ErrNoKeysFound) {
		log.Warn("fan-in: listing members failed", "err", err)
		return
	}
	var members []string
	for _, k := range keys {
		if tok, ok := strings.CutPrefix(k, in.memberPrefix()); ok {
			if id, err := bus.Untoken(tok); err == nil {
				members = append(members, id)
			}
		}
	}
	if len(members) == 0 {
		members = []string{in.id} // our own heartbeat not visible yet
	}
	want := map[string]bool{}
	for _, id := range in.cfg.Probes() {
		if Owner(members, id) == in.id {
			want[id] = true
		}
	}
	for _, id := range in.Held() {
		if !want[id] {
			in.release(rctx, m, id)
		}
	}
	for id := range want {
		in.mu.Lock()
		_, have := in.held[id]
		in.mu.Unlock()
		if have {
			continue
		}
		rev, err := in.leases.Create(rctx, in.probeKey(id), []byte(in.id))
		if err != nil {
			if !errors.Is(err, jetstream.ErrKeyExists) {
				log.Warn("fan-in: taking a lease failed", "probe", id, "err", err)
			}
			continue // held by another (it expires or is released)
		}
		if err := in.take(ctx, m, id, rev, now); err != nil {
			log.Warn("fan-in: probe not taken", "probe", id, "err", err)
			_ = in.leases.Delete(rctx, in.probeKey(id), jetstream.LastRevision(rev))
		}
	}
}

func (in *Input) consumerName(id string) string {
	return bus.Token(in.cfg.Blueprint) + "_" + bus.Token(id)
}

// take starts evaluating probe id: Assign, then its consumer afresh from
// every device's last record.
func (in *Input) take(ctx context.Context, m *bus.Member, id string, rev uint64, now time.Time) error {
	if err := m.Assign(ctx, id, now); err != nil {
		return err
	}
	name := in.consumerName(id)
	if err := in.stream.DeleteConsumer(ctx, name); err != nil && !errors.Is(err, jetstream.ErrConsumerNotFound) {
		m.Revoke(id)
		return fmt.Errorf("consumer %s: %w", name, err)
	}
	cons, err := in.stream.CreateOrUpdateConsumer(ctx, jetstream.ConsumerConfig{
		Durable:           name,
		Description:       "probe-agent fan-in: probe " + id,
		FilterSubject:     bus.ProbeFilter(in.cfg.Prefix, in.cfg.Blueprint, id),
		DeliverPolicy:     jetstream.DeliverLastPerSubjectPolicy,
		AckPolicy:         jetstream.AckExplicitPolicy,
		AckWait:           in.cfg.AckWait,
		MaxDeliver:        -1,
		MaxAckPending:     1 << 16,
		InactiveThreshold: 24 * time.Hour,
	})
	if err != nil {
		m.Revoke(id)
		return fmt.Errorf("consumer %s: %w", name, err)
	}
	cc, err := cons.Consume(func(msg jetstream.Msg) { in.handle(m, msg) }, jetstream.PullMaxMessages(1024))
	if err != nil {
		m.Revoke(id)
		return fmt.Errorf("consumer %s: %w", name, err)
	}
	in.mu.Lock()
	in.held[id] = &holding{rev: rev, renewed: now, cc: cc}
	in.mu.Unlock()
	in.cfg.Log.Info("fan-in: probe taken", "probe", id, "member", in.id)
	if in.cfg.OnAssign != nil {
		in.cfg.OnAssign(id)
	}
	return nil
}

func (in *Input) handle(m *bus.Member, msg jetstream.Msg) {
	h := msg.Headers()
	rec, err := bus.Decode(msg.Data(), h.Get)
	if err != nil {
		in.mu.Lock()
		in.decodeErrors++
		in.mu.Unlock()
		in.cfg.Log.Warn("fan-in: record refused", "subject", msg.Subject(), "err", err)
		_ = msg.Term()
		return
	}
	at := time.Now()
	if md, err := msg.Metadata(); err == nil {
		at = md.Timestamp
	}
	m.Offer(rec, at, acker{msg})
}

type acker struct{ msg jetstream.Msg }

func (a acker) Ack() error { return a.msg.Ack() }
func (a acker) Nak() error { return a.msg.Nak() }

// drop stops evaluating a probe whose lease is gone (nothing to delete).
func (in *Input) drop(m *bus.Member, id string) {
	in.mu.Lock()
	h, ok := in.held[id]
	delete(in.held, id)
	in.mu.Unlock()
	if !ok {
		return
	}
	h.cc.Stop()
	m.Revoke(id)
	if in.cfg.OnRevoke != nil {
		in.cfg.OnRevoke(id)
	}
}

// release hands a probe back: stop, revoke (after any tick in progress),
// then delete the lease at our revision so the preferred member takes it.
func (in *Input) release(ctx context.Context, m *bus.Member, id string) {
	in.mu.Lock()
	h, ok := in.held[id]
	in.mu.Unlock()
	if !ok {
		return
	}
	in.drop(m, id)
	if err := in.leases.Delete(ctx, in.probeKey(id), jetstream.LastRevision(h.rev)); err != nil {
		in.cfg.Log.Debug("fan-in: releasing a lease", "probe", id, "err", err)
	}
	in.cfg.Log.Info("fan-in: probe released", "probe", id, "member", in.id)
}

// releaseAll leaves cleanly: every probe released, the heartbeat deleted,
// so the others take over at their next round rather than after LeaseTTL.
func (in *Input) releaseAll(m *bus.Member) {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	for _, id := range in.Held() {
		in.release(ctx, m, id)
	}
	_ = in.leases.Delete(ctx, in.memberKey())
}
