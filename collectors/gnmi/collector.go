package gnmi

import (
	"context"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"strings"
	"sync"
	"time"

	"github.com/openconfig/gnmi/proto/gnmi"
	"google.golang.org/grpc"
	"google.golang.org/grpc/backoff"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/status"

	"github.com/probe-agent/probe-agent/collectors"
)

// ErrClosed is returned by Collect after Close.
var ErrClosed = errors.New("gnmi: collector closed")

// Stats describes the stream's history, for logs and metrics.
type Stats struct {
	// Connected is true while a Subscribe stream is established and has
	// delivered at least one response.
	Connected bool
	// Subscribes counts Subscribe calls made; Reconnects those after the
	// first (every one of them follows a failure).
	Subscribes uint64
	Reconnects uint64
	Responses  uint64 // SubscribeResponses received
	Updates    uint64 // updates (leaves or JSON subtrees) received
	Ignored    uint64 // updates outside the mapped paths
	// DecodeErrors counts updates the schema rejected.
	DecodeErrors uint64
	// CounterResets counts Generation bumps caused by a counter that went
	// backwards.
	CounterResets uint64
	// EthernetDropped is true once the target rejected the Ethernet paths
	// (port-speed, Ethernet counters) and the collector subscribed without
	// them.
	EthernetDropped bool
	// Encoding is the encoding of the current or last subscription (it
	// moves on from the configured one when the target refuses it).
	Encoding     string
	LastError    string
	LastResponse time.Time
}

// Collector streams interface counters from one gNMI target. It implements
// collectors.Collector.
type Collector struct {
	opts   Options
	conn   *grpc.ClientConn
	cancel context.CancelFunc
	done   chan struct{}

	mu     sync.Mutex
	table  *table
	stats  Stats
	closed bool
	// first is closed when the first Subscribe attempt delivered data or
	// failed; firstErr is that failure.
	first     chan struct{}
	firstOnce sync.Once
	firstErr  error
}

var _ collectors.Collector = (*Collector)(nil)

// New validates opts, dials lazily and starts the background stream. It
// fails only on configuration errors: an unreachable target is retried in
// the background.
func New(opts Options) (*Collector, error) {
	if err := opts.setDefaults(); err != nil {
		return nil, err
	}
	creds, err := opts.transportCredentials()
	if err != nil {
		return nil, err
	}
	if opts.Insecure && opts.Password != "" {
		opts.Logger.Warn("gnmi: sending a password over plaintext gRPC", "target", opts.Target)
	}
	dec := newDecoder()
	// gRPC's own reconnect backoff defaults to a 120s ceiling; keep it
	// within ours so a restarted target is picked up as soon as we retry.
	bc := backoff.DefaultConfig
	bc.BaseDelay = opts.Backoff.Initial
	bc.MaxDelay = opts.Backoff.Max
	conn, err := grpc.NewClient(opts.Target,
		grpc.WithTransportCredentials(creds),
		grpc.WithConnectParams(grpc.ConnectParams{Backoff: bc, MinConnectTimeout: 10 * time.Second}),
		// Counter notifications for large boxes exceed the 4 MiB default.
		grpc.WithDefaultCallOptions(grpc.MaxCallRecvMsgSize(64<<20)),
	)
	if err != nil {
		return nil, fmt.Errorf("gnmi: %w", err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	c := &Collector{opts: opts, conn: conn, cancel: cancel, done: make(chan struct{}), table: newTable(), first: make(chan struct{})}
	go c.run(ctx, dec)
	return c, nil
}

// Collect copies the current state of every interface heard from within
// StaleAfter into b, sorted by name. It never blocks on the network. While
// no stream is established (the target is down, or not up yet) and the last
// response is older than one sample interval, it returns
// an error wrapping collectors.ErrNoData with the reason: the values it
// holds are old, and repeating them as a new sample would report every
// rate as 0.
func (c *Collector) Collect(_ context.Context, b *collectors.Batch) error {
	now := time.Now()
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.closed {
		return ErrClosed
	}
	// A stream that just dropped still leaves the last sample fresh for one
	// sample interval (a reconnect usually fits in it); after that the
	// values are a repeat.
	if !c.stats.Connected && now.Sub(c.stats.LastResponse) > c.opts.SampleInterval {
		b.Interfaces = b.Interfaces[:0]
		reason := "not connected yet"
		if c.stats.LastError != "" {
			reason = c.stats.LastError
		}
		if !c.stats.LastResponse.IsZero() {
			return fmt.Errorf("%w: gnmi stream to %s lost %s ago: %s", collectors.ErrNoData, c.opts.Target, now.Sub(c.stats.LastResponse).Round(time.Second), reason)
		}
		return fmt.Errorf("%w: gnmi target %s: %s", collectors.ErrNoData, c.opts.Target, reason)
	}
	c.table.fill(b, c.opts.SystemID, now, c.opts.StaleAfter)
	b.Time = now
	return nil
}

// WaitConnected waits for the outcome of the first Subscribe attempt: nil
// once the target sent data, the target's error when the attempt failed
// (refused connection, TLS, authentication, a rejected subscription), or
// ctx's error. `probe-agent collect` uses it to fail with the reason
// instead of printing nothing.
func (c *Collector) WaitConnected(ctx context.Context) error {
	select {
	case <-c.first:
		if c.firstErr != nil {
			return fmt.Errorf("gnmi target %s: %w", c.opts.Target, c.firstErr)
		}
		return nil
	case <-ctx.Done():
		c.mu.Lock()
		last := c.stats.LastError
		c.mu.Unlock()
		if last != "" {
			return fmt.Errorf("gnmi target %s: no data within the wait (%w): %s", c.opts.Target, ctx.Err(), last)
		}
		return fmt.Errorf("gnmi target %s: no data within the wait: %w", c.opts.Target, ctx.Err())
	}
}

func (c *Collector) firstOutcome(err error) {
	c.firstOnce.Do(func() {
		c.firstErr = err
		close(c.first)
	})
}

// Stats returns a snapshot of the stream counters.
func (c *Collector) Stats() Stats {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.stats
}

// Close stops the stream and waits for the background goroutine.
func (c *Collector) Close() error {
	c.mu.Lock()
	if c.closed {
		c.mu.Unlock()
		return nil
	}
	c.closed = true
	c.mu.Unlock()
	c.cancel()
	<-c.done
	return c.conn.Close()
}

func (c *Collector) run(ctx context.Context, dec *decoder) {
	defer close(c.done)
	log := c.opts.Logger.With("target", c.opts.Target)
	withEthernet := !c.opts.NoEthernet
	encodings := fallbackEncodings(c.opts.Encoding)
	enc := 0
	failures := 0
	for attempt := 0; ; attempt++ {
		if attempt > 0 {
			d := c.opts.Backoff.delay(failures-1, rand.Float64())
			log.Info("gnmi: reconnecting", "in", d, "failures", failures)
			t := time.NewTimer(d)
			select {
			case <-ctx.Done():
				t.Stop()
				return
			case <-t.C:
			}
		}
		c.mu.Lock()
		c.stats.Subscribes++
		if attempt > 0 {
			c.stats.Reconnects++
		}
		c.mu.Unlock()

		start := time.Now()
		got, err := c.stream(ctx, dec, withEthernet, encodings[enc])
		if ctx.Err() != nil {
			return
		}
		retryNow := false
		switch {
		case got || !rejectedPath(err):
		case encodingRefused(err) && enc+1 < len(encodings):
			// Real targets often implement only the JSON encodings and
			// refuse PROTO; that is not a path problem.
			log.Warn("gnmi: target refused the encoding; subscribing with the next one", "encoding", encodings[enc], "next", encodings[enc+1], "err", err)
			enc++
			retryNow = true
		case withEthernet:
			// Many targets refuse a whole subscription for one path they do
			// not implement; the openconfig-if-ethernet ones are optional.
			log.Warn("gnmi: target rejected the subscription; retrying without the Ethernet paths", "err", err)
			withEthernet = false
			c.mu.Lock()
			c.stats.EthernetDropped = true
			c.mu.Unlock()
			retryNow = true
		case enc+1 < len(encodings):
			// Without the optional paths it still refuses: some targets
			// say "invalid argument" for an encoding they lack.
			log.Warn("gnmi: target rejected the subscription without the Ethernet paths too; trying the next encoding", "encoding", encodings[enc], "next", encodings[enc+1], "err", err)
			enc++
			retryNow = true
		default:
			err = fmt.Errorf("target rejected the subscription with every encoding (%s) and without the Ethernet paths: %w", strings.Join(encodings, ", "), err)
		}
		c.mu.Lock()
		c.stats.Encoding = encodings[enc]
		c.mu.Unlock()
		if !got && !retryNow {
			// The first attempt failed for a reason another request will
			// not fix.
			c.firstOutcome(err)
		}
		if got && time.Since(start) >= c.opts.Backoff.Max {
			// Only a stream that stayed up for a while counts as a success:
			// a target that accepts, sends a little and drops the stream
			// every time must still be backed off from.
			failures = 0
		}
		failures++
		c.mu.Lock()
		c.stats.Connected = false
		if err != nil {
			c.stats.LastError = err.Error()
		}
		c.mu.Unlock()
		log.Warn("gnmi: stream ended", "err", err, "had_data", got)
	}
}

// fallbackEncodings is the order encodings are tried in, from the
// configured one.
func fallbackEncodings(configured string) []string {
	all := []string{"proto", "json_ietf", "json"}
	for i, e := range all {
		if e == configured {
			return all[i:]
		}
	}
	return all
}

// encodingRefused tells a refusal of the requested encoding from one of
// paths, by the words targets use for it.
func encodingRefused(err error) bool {
	msg := strings.ToLower(status.Convert(err).Message())
	return strings.Contains(msg, "encoding") || strings.Contains(msg, "proto")
}

func rejectedPath(err error) bool {
	switch status.Code(err) {
	case codes.InvalidArgument, codes.NotFound, codes.Unimplemented:
		return true
	}
	return false
}

func (c *Collector) request(withEthernet bool, encoding string) *gnmi.SubscribeRequest {
	enc := gnmi.Encoding_PROTO
	switch encoding {
	case "json_ietf":
		enc = gnmi.Encoding_JSON_IETF
	case "json":
		enc = gnmi.Encoding_JSON
	}
	sub := func(elems ...string) *gnmi.Subscription {
		p := &gnmi.Path{}
		for _, e := range elems {
			pe := &gnmi.PathElem{Name: e}
			if e == "interface" {
				// An explicit wildcard: the spec treats an absent key the
				// same way, but not every server (the gnmi cache among
				// them) does.
				pe.Key = map[string]string{"name": "*"}
			}
			p.Elem = append(p.Elem, pe)
		}
		return &gnmi.Subscription{Path: p, Mode: gnmi.SubscriptionMode_SAMPLE,
			SampleInterval: uint64(c.opts.SampleInterval.Nanoseconds())}
	}
	subs := []*gnmi.Subscription{
		sub("interfaces", "interface", "state", "counters"),
		sub("interfaces", "interface", "state", "oper-status"),
	}
	if withEthernet {
		subs = append(subs,
			sub("interfaces", "interface", "ethernet", "state", "port-speed"),
			sub("interfaces", "interface", "ethernet", "state", "counters"))
	}
	return &gnmi.SubscribeRequest{Request: &gnmi.SubscribeRequest_Subscribe{Subscribe: &gnmi.SubscriptionList{
		Prefix:       &gnmi.Path{Target: c.opts.PrefixTarget, Origin: c.opts.Origin},
		Subscription: subs,
		Mode:         gnmi.SubscriptionList_STREAM,
		Encoding:     enc,
	}}}
}

// stream runs one Subscribe call until it fails. got reports whether any
// response arrived, which separates a target that is down from one that
// dropped an established stream.
func (c *Collector) stream(parent context.Context, dec *decoder, withEthernet bool, encoding string) (got bool, err error) {
	ctx, cancel := context.WithCancel(parent)
	defer cancel()
	if c.opts.Username != "" || c.opts.Password != "" {
		ctx = metadata.AppendToOutgoingContext(ctx, "username", c.opts.Username, "password", c.opts.Password)
	}
	cl, err := gnmi.NewGNMIClient(c.conn).Subscribe(ctx)
	if err != nil {
		return false, err
	}
	if err := cl.Send(c.request(withEthernet, encoding)); err != nil {
		// The real reason comes from Recv.
		_, rerr := cl.Recv()
		return false, errors.Join(err, rerr)
	}

	// Watchdog: a SAMPLE stream should deliver at least every interval, so
	// silence longer than IdleTimeout means a dead connection.
	var idle *time.Timer
	if c.opts.IdleTimeout > 0 {
		idle = time.AfterFunc(c.opts.IdleTimeout, cancel)
		defer idle.Stop()
	}
	for {
		resp, err := cl.Recv()
		if err != nil {
			if err == io.EOF {
				err = errors.New("target closed the stream")
			} else if idle != nil && parent.Err() == nil && ctx.Err() != nil {
				err = fmt.Errorf("no data for %v: %w", c.opts.IdleTimeout, err)
			}
			return got, err
		}
		if idle != nil {
			idle.Reset(c.opts.IdleTimeout)
		}
		now := time.Now()
		firstResponse := !got
		if !got {
			got = true
			c.opts.Logger.Info("gnmi: streaming", "target", c.opts.Target, "encoding", encoding, "ethernet_paths", withEthernet)
		}
		var ups []ifUpdate
		n := resp.GetUpdate()
		if n != nil {
			ups = dec.decode(n)
		}
		c.mu.Lock()
		c.stats.Connected = true
		c.stats.Responses++
		c.stats.LastResponse = now
		before := c.table.resets
		c.table.apply(ups, now)
		bumped := c.table.resets - before
		c.stats.CounterResets = c.table.resets
		ds := dec.stats
		c.stats.Updates, c.stats.Ignored, c.stats.DecodeErrors = ds.updates, ds.ignored, ds.failures
		if ds.lastErr != nil {
			c.stats.LastError = ds.lastErr.Error()
		}
		c.mu.Unlock()
		if firstResponse {
			c.firstOutcome(nil)
		}
		if bumped > 0 {
			c.opts.Logger.Info("gnmi: counters went backwards (device reload or clear); new generation",
				"target", c.opts.Target, "interfaces", bumped)
		}
		//lint:ignore SA1019 old targets still report errors this way.
		if e := resp.GetError(); e != nil {
			c.opts.Logger.Warn("gnmi: target reported an error", "code", e.GetCode(), "message", e.GetMessage())
		}
	}
}
