package gnmi

import (
	"context"
	"net"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/openconfig/gnmi/cache"
	"github.com/openconfig/gnmi/proto/gnmi"
	"github.com/openconfig/gnmi/subscribe"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/proto"
)

// cacheTarget is a real gNMI server built from the gnmi cache and subscribe
// packages, whose content the test writes. It can be stopped and started
// again on the same port to simulate a target restart.
type cacheTarget struct {
	t    *testing.T
	name string
	addr string
	c    *cache.Cache
	sub  *subscribe.Server

	mu     sync.Mutex
	srv    *grpc.Server
	synced bool
	// ts makes every write newer than the last: the cache drops updates
	// that are older than what it holds.
	ts atomic.Int64
	// creds records the username/password metadata of Subscribe calls.
	creds   []string
	streams atomic.Int64
	// rejectSpeed makes the server refuse subscriptions that include
	// port-speed, as targets without openconfig-if-ethernet do.
	rejectSpeed atomic.Bool
	rejected    atomic.Int64
	// rejectProto makes the server refuse the PROTO encoding, as many
	// real targets do; encodings records what each Subscribe asked for.
	rejectProto atomic.Bool
	encodings   []gnmi.Encoding
}

func newCacheTarget(t *testing.T) *cacheTarget {
	t.Helper()
	return newCacheTargetAt(t, "127.0.0.1:0")
}

func newCacheTargetAt(t *testing.T, addr string) *cacheTarget {
	t.Helper()
	ct := &cacheTarget{t: t, name: "dev1"}
	ct.c = cache.New([]string{ct.name})
	sub, err := subscribe.NewServer(ct.c)
	if err != nil {
		t.Fatal(err)
	}
	ct.sub = sub
	ct.c.SetClient(sub.Update)
	ct.ts.Store(time.Now().UnixNano())
	ct.start(addr)
	t.Cleanup(ct.stop)
	return ct
}

func (ct *cacheTarget) start(addr string) {
	ct.t.Helper()
	var lis net.Listener
	var err error
	// Rebinding the port just released can race with the kernel; retry on
	// a deadline rather than sleeping a fixed time.
	deadline := time.Now().Add(5 * time.Second)
	for {
		lis, err = net.Listen("tcp", addr)
		if err == nil || time.Now().After(deadline) {
			break
		}
		time.Sleep(10 * time.Millisecond)
	}
	if err != nil {
		ct.t.Fatal(err)
	}
	srv := grpc.NewServer(grpc.StreamInterceptor(ct.intercept))
	gnmi.RegisterGNMIServer(srv, ct.sub)
	ct.mu.Lock()
	ct.srv, ct.addr = srv, lis.Addr().String()
	ct.mu.Unlock()
	go srv.Serve(lis) //nolint:errcheck // returns when stopped
}

func (ct *cacheTarget) intercept(srv any, ss grpc.ServerStream, info *grpc.StreamServerInfo, h grpc.StreamHandler) error {
	md, _ := metadata.FromIncomingContext(ss.Context())
	ct.mu.Lock()
	ct.creds = append(ct.creds, first(md, "username")+"/"+first(md, "password"))
	ct.mu.Unlock()
	ct.streams.Add(1)
	if !ct.rejectSpeed.Load() && !ct.rejectProto.Load() {
		return h(srv, ss)
	}
	req := new(gnmi.SubscribeRequest)
	if err := ss.RecvMsg(req); err != nil {
		return err
	}
	enc := req.GetSubscribe().GetEncoding()
	ct.mu.Lock()
	ct.encodings = append(ct.encodings, enc)
	ct.mu.Unlock()
	if ct.rejectProto.Load() && enc == gnmi.Encoding_PROTO {
		return status.Error(codes.Unimplemented, "unsupported encoding: PROTO")
	}
	for _, sub := range req.GetSubscribe().GetSubscription() {
		for _, e := range sub.GetPath().GetElem() {
			if e.GetName() == "port-speed" && ct.rejectSpeed.Load() {
				ct.rejected.Add(1)
				return status.Error(codes.InvalidArgument, "unsupported path port-speed")
			}
		}
	}
	return h(srv, &replayStream{ServerStream: ss, first: req})
}

// replayStream hands the handler the request the interceptor already read.
type replayStream struct {
	grpc.ServerStream
	first *gnmi.SubscribeRequest
}

func (r *replayStream) RecvMsg(m any) error {
	if r.first != nil {
		proto.Merge(m.(*gnmi.SubscribeRequest), r.first)
		r.first = nil
		return nil
	}
	return r.ServerStream.RecvMsg(m)
}

func first(md metadata.MD, k string) string {
	if v := md.Get(k); len(v) > 0 {
		return v[0]
	}
	return ""
}

// stop kills the gRPC server abruptly, as a crashing target would.
func (ct *cacheTarget) stop() {
	ct.mu.Lock()
	srv := ct.srv
	ct.srv = nil
	ct.mu.Unlock()
	if srv != nil {
		srv.Stop()
	}
}

func (ct *cacheTarget) credentials() []string {
	ct.mu.Lock()
	defer ct.mu.Unlock()
	return append([]string(nil), ct.creds...)
}

// set writes one leaf below /interfaces/interface[name=ifname] as its own
// notification with its own timestamp, the way per-leaf targets send data.
func (ct *cacheTarget) set(ifname string, val *gnmi.TypedValue, rel ...string) {
	ct.t.Helper()
	elems := []*gnmi.PathElem{{Name: "interfaces"}, {Name: "interface", Key: map[string]string{"name": ifname}}}
	for _, r := range rel {
		elems = append(elems, &gnmi.PathElem{Name: r})
	}
	n := &gnmi.Notification{
		Timestamp: ct.ts.Add(1000),
		Prefix:    &gnmi.Path{Target: ct.name},
		Update:    []*gnmi.Update{{Path: &gnmi.Path{Elem: elems}, Val: val}},
	}
	if err := ct.c.GnmiUpdate(n); err != nil {
		ct.t.Fatalf("cache update: %v", err)
	}
	ct.mu.Lock()
	defer ct.mu.Unlock()
	if !ct.synced {
		ct.synced = true
		ct.c.GetTarget(ct.name).Sync()
	}
}

func (ct *cacheTarget) counter(ifname, leaf string, v uint64) {
	ct.t.Helper()
	ct.set(ifname, &gnmi.TypedValue{Value: &gnmi.TypedValue_UintVal{UintVal: v}}, "state", "counters", leaf)
}

func (ct *cacheTarget) oper(ifname, s string) {
	ct.t.Helper()
	ct.set(ifname, &gnmi.TypedValue{Value: &gnmi.TypedValue_StringVal{StringVal: s}}, "state", "oper-status")
}

// waitFor polls cond until it holds or the deadline passes. The collector's
// state changes asynchronously with no event to wait on from outside, so a
// bounded poll is the synchronisation here.
func waitFor(t *testing.T, what string, d time.Duration, cond func() bool) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), d)
	defer cancel()
	tick := time.NewTicker(5 * time.Millisecond)
	defer tick.Stop()
	for !cond() {
		select {
		case <-ctx.Done():
			t.Fatalf("timed out after %v waiting for %s", d, what)
		case <-tick.C:
		}
	}
}
