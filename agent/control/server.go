package control

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"sync"
	"sync/atomic"
	"time"

	"google.golang.org/genproto/googleapis/rpc/errdetails"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials"
	"google.golang.org/grpc/keepalive"
	"google.golang.org/grpc/peer"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/types/known/timestamppb"

	"github.com/probe-agent/probe-agent/agent"
	"github.com/probe-agent/probe-agent/connlimit"
	pb "github.com/probe-agent/probe-agent/proto/probeagent/v1"
)

// stopTimeout bounds the graceful stop: calls still running after it are
// cut off.
const stopTimeout = 5 * time.Second

// watchBuffer is the number of status events queued per watcher; a watcher
// that falls further behind misses events (the manager counts them).
const watchBuffer = 1024

// Server serves probeagent.v1.ProbeControl over a Manager.
type Server struct {
	pb.UnimplementedProbeControlServer
	m        *agent.Manager
	cfg      agent.ControlConfig
	log      *slog.Logger
	grpc     *grpc.Server
	stopping chan struct{}
	stopOnce sync.Once
	limit    atomic.Pointer[connlimit.Listener] // the listener being served
}

// NewServer checks the configuration (certificates, CA, token file) and
// prepares the server; Serve starts it. Without control.insecure, tls.ca,
// tls.cert and tls.key are required.
func NewServer(m *agent.Manager, cfg agent.ControlConfig, log *slog.Logger) (*Server, error) {
	if log == nil {
		log = slog.Default()
	}
	auth := authenticator{insecure: cfg.Insecure}
	if cfg.TokenFile != "" {
		tok, err := readToken(cfg.TokenFile)
		if err != nil {
			return nil, err
		}
		auth.token = tok
	}
	_, handshake, idle := cfg.Limits()
	opts := []grpc.ServerOption{
		grpc.ChainUnaryInterceptor(auth.unary),
		grpc.ChainStreamInterceptor(auth.stream),
		// A connection must finish its TLS and HTTP/2 handshake within
		// control.handshake_timeout (gRPC's default keeps a silent one
		// 120s), and one without a call or stream for control.idle_timeout
		// is closed; a peer that vanished without a FIN is found by a ping
		// after pingAfter. Clients may ping, at most every pingMin.
		grpc.ConnectionTimeout(handshake),
		grpc.KeepaliveParams(keepalive.ServerParameters{MaxConnectionIdle: idle, Time: pingAfter, Timeout: pingTimeout}),
		grpc.KeepaliveEnforcementPolicy(keepalive.EnforcementPolicy{MinTime: pingMin, PermitWithoutStream: true}),
	}
	if !cfg.Insecure {
		tc, err := serverTLS(cfg.TLS)
		if err != nil {
			return nil, err
		}
		opts = append(opts, grpc.Creds(credentials.NewTLS(tc)))
	}
	s := &Server{m: m, cfg: cfg, log: log, grpc: grpc.NewServer(opts...), stopping: make(chan struct{})}
	pb.RegisterProbeControlServer(s.grpc, s)
	return s, nil
}

// Serve listens on control.listen and serves until ctx ends, then stops
// gracefully (in-flight calls finish, watch streams end).
func (s *Server) Serve(ctx context.Context) error {
	if s.cfg.Listen == "" {
		return errors.New("control.listen is empty")
	}
	lis, err := net.Listen("tcp", s.cfg.Listen)
	if err != nil {
		return fmt.Errorf("control.listen: %w", err)
	}
	return s.ServeListener(ctx, lis)
}

// Keepalive settings of the control plane's connections.
const (
	pingAfter   = 2 * time.Minute  // ping a connection silent this long
	pingTimeout = 20 * time.Second // and close it when no answer by then
	pingMin     = 30 * time.Second // a client pinging more often is disconnected
)

// ServeListener is Serve on a listener the caller opened; it closes it.
// At most control.max_connections are served at once; further clients
// wait in the kernel's accept backlog.
func (s *Server) ServeListener(ctx context.Context, lis net.Listener) error {
	maxConns, _, _ := s.cfg.Limits()
	limited := connlimit.New(lis, maxConns)
	s.limit.Store(limited)
	lis = limited
	security := "mutual TLS"
	if s.cfg.Insecure {
		security = "plaintext"
		s.log.Warn("control plane is insecure: plaintext gRPC without client authentication; use only in labs", "addr", lis.Addr().String())
	}
	s.log.Info("control plane listening", "addr", lis.Addr().String(), "security", security, "token", s.cfg.TokenFile != "", "max_connections", maxConns)
	errc := make(chan error, 1)
	go func() { errc <- s.grpc.Serve(lis) }()
	select {
	case err := <-errc:
		return fmt.Errorf("control plane: %w", err)
	case <-ctx.Done():
	}
	s.stop()
	return nil
}

// stop ends watch streams, lets unary calls finish for up to stopTimeout,
// then cuts what remains.
func (s *Server) stop() {
	s.stopOnce.Do(func() { close(s.stopping) })
	done := make(chan struct{})
	go func() { s.grpc.GracefulStop(); close(done) }()
	select {
	case <-done:
	case <-time.After(stopTimeout):
		s.grpc.Stop()
		<-done
	}
}

// ApplyProbes implements pb.ProbeControlServer.
func (s *Server) ApplyProbes(_ context.Context, req *pb.ApplyProbesRequest) (*pb.ApplyProbesResponse, error) {
	docs := make([][]byte, len(req.GetProbes()))
	for i, d := range req.GetProbes() {
		docs[i] = []byte(d)
	}
	results, err := s.m.Apply(req.GetGeneration(), docs)
	if err != nil {
		s.log.Info("apply refused", "generation", req.GetGeneration(), "probes", len(docs), "err", firstLine(err))
		if errors.Is(err, agent.ErrGenerationRange) {
			return nil, generationStatus(err)
		}
		return nil, toStatus(err)
	}
	resp := &pb.ApplyProbesResponse{Generation: req.GetGeneration()}
	counts := map[string]int{}
	for _, r := range results {
		counts[r.Action]++
		resp.Results = append(resp.Results, &pb.ProbeResult{Id: r.ID, Action: r.Action, State: string(r.State)})
	}
	s.log.Info("probes applied", "generation", req.GetGeneration(), "created", counts["created"],
		"replaced", counts["replaced"], "unchanged", counts["unchanged"], "deleted", counts["deleted"])
	return resp, nil
}

// generationStatus refuses a generation that would leave no room for later
// applies: InvalidArgument with a field violation on "generation".
func generationStatus(err error) error {
	st := status.New(codes.InvalidArgument, fmt.Sprintf("generation: %v (at most %d)", err, uint64(agent.MaxGeneration)))
	if d, derr := st.WithDetails(&errdetails.BadRequest{FieldViolations: []*errdetails.BadRequest_FieldViolation{{
		Field: "generation", Description: err.Error(),
	}}}); derr == nil {
		st = d
	}
	return st.Err()
}

// ListProbes implements pb.ProbeControlServer.
func (s *Server) ListProbes(context.Context, *pb.ListProbesRequest) (*pb.ListProbesResponse, error) {
	gen, probes := s.m.Snapshot()
	resp := &pb.ListProbesResponse{Generation: gen}
	for _, p := range probes {
		resp.Probes = append(resp.Probes, probeMessage(p, false))
	}
	return resp, nil
}

// GetProbe implements pb.ProbeControlServer.
func (s *Server) GetProbe(_ context.Context, req *pb.GetProbeRequest) (*pb.Probe, error) {
	p, err := s.m.Get(req.GetId())
	if err != nil {
		return nil, toStatus(fmt.Errorf("%w: %q", err, req.GetId()))
	}
	return probeMessage(p, true), nil
}

// DeleteProbe implements pb.ProbeControlServer.
func (s *Server) DeleteProbe(_ context.Context, req *pb.DeleteProbeRequest) (*pb.DeleteProbeResponse, error) {
	if err := s.m.Delete(req.GetId()); err != nil {
		return nil, toStatus(fmt.Errorf("%w: %q", err, req.GetId()))
	}
	s.log.Info("probe deleted", "id", req.GetId())
	return &pb.DeleteProbeResponse{}, nil
}

// WatchStatus implements pb.ProbeControlServer.
func (s *Server) WatchStatus(_ *pb.WatchStatusRequest, stream pb.ProbeControl_WatchStatusServer) error {
	events, cancel := s.m.Watch(watchBuffer)
	defer cancel()
	ctx := stream.Context()
	for {
		select {
		case <-ctx.Done():
			return nil
		case <-s.stopping:
			return nil
		case ev, ok := <-events:
			if !ok {
				return nil
			}
			if err := stream.Send(eventMessage(ev)); err != nil {
				return err
			}
		}
	}
}

func probeMessage(p agent.ProbeInfo, withDoc bool) *pb.Probe {
	m := &pb.Probe{
		Id: p.ID, Label: p.Label, Origin: string(p.Origin), State: string(p.State),
		LastError: p.LastError, AnomalyCount: uint32(p.AnomalyCount), Disabled: p.Disabled, Source: p.Source,
	}
	if withDoc {
		m.Document = string(p.Doc)
	}
	return m
}

func eventMessage(ev agent.StatusEvent) *pb.StatusEvent {
	return &pb.StatusEvent{
		Id: ev.ID, Label: ev.Label, State: string(ev.State), LastError: ev.LastError,
		AnomalyCount: uint32(ev.AnomalyCount), Removed: ev.Removed, Time: timestamppb.New(ev.Time),
	}
}

// exportBuffer is the number of batches queued per StreamStages stream; a
// controller that falls further behind loses the oldest (counted in
// StageBatch.dropped).
const exportBuffer = 64

// StreamStages implements pb.ProbeControlServer: every evaluation's
// exports, until the controller goes away or the agent stops.
func (s *Server) StreamStages(_ *pb.StreamStagesRequest, stream pb.ProbeControl_StreamStagesServer) error {
	sub, cancel := s.m.Exports().Subscribe(exportBuffer)
	defer cancel()
	ctx := stream.Context()
	if p, ok := peer.FromContext(ctx); ok {
		s.log.Info("controller streaming stages", "peer", p.Addr.String())
	}
	for {
		select {
		case <-ctx.Done():
			return nil
		case <-s.stopping:
			return nil
		case b := <-sub.C:
			if err := stream.Send(batchMessage(b, sub.Dropped())); err != nil {
				return err
			}
		}
	}
}

func batchMessage(b *agent.ExportBatch, dropped uint64) *pb.StageBatch {
	m := &pb.StageBatch{
		Device: b.Device, Session: b.Session, Seq: b.Seq, Dropped: dropped,
		Time: timestamppb.New(b.Time), Generation: b.Generation, Updates: b.Updates,
	}
	for _, a := range b.Anomalies {
		m.Anomalies = append(m.Anomalies, &pb.AnomalyEvent{ProbeId: a.ProbeID, Stage: a.Stage, ItemId: a.ItemID, Raised: a.Raised, Json: string(a.JSON)})
	}
	return m
}
