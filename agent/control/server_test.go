package control

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"log/slog"
	"net"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"github.com/probe-agent/probe-agent/agent"
	"github.com/probe-agent/probe-agent/agent/control/controltest"
	"github.com/probe-agent/probe-agent/collectors"
	"github.com/probe-agent/probe-agent/probe"
	_ "github.com/probe-agent/probe-agent/probe/processors" // the processor catalog
	pb "github.com/probe-agent/probe-agent/proto/probeagent/v1"
)

// counterProbe is a probe with a time-series stage ("hist") whose sample
// count shows whether its state survived an apply.
func counterProbe(id, counter string) string {
	return fmt.Sprintf(`{"id": %q, "label": "L-%s", "processors": [
		{"name": "c", "type": "if_counter", "outputs": {"out": "rate"}, "properties": {"counter_type": %q}},
		{"name": "acc", "type": "accumulate", "inputs": {"in": "rate"}, "outputs": {"out": "hist"}}]}`, id, id, counter)
}

// rangeProbe raises an anomaly per interface whose tx rate exceeds max.
func rangeProbe(id string, max int) string {
	return fmt.Sprintf(`{"id": %q, "label": "R-%s", "processors": [
		{"name": "c", "type": "if_counter", "outputs": {"out": "rate"}, "properties": {"counter_type": "tx_bytes"}},
		{"name": "hi", "type": "range_check", "inputs": {"in": "rate"}, "outputs": {"out": "too_high"}, "properties": {"range": {"max": %d}}},
		{"name": "an", "type": "anomaly", "inputs": {"in": "too_high"}, "outputs": {"out": "anomalies"}}]}`, id, id, max)
}

// syncBuffer is a log sink tests read while the server writes.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// testServer runs a control server on a loopback port until the test ends.
type testServer struct {
	addr string
	m    *agent.Manager
	log  *syncBuffer
	pki  *controltest.PKI
	done chan error
}

// start serves m (a fresh manager when nil) with cfg; cfg.TLS is filled
// from a fresh PKI unless the server is insecure.
func start(t *testing.T, m *agent.Manager, cfg agent.ControlConfig) *testServer {
	t.Helper()
	ts := &testServer{m: m, log: &syncBuffer{}, pki: controltest.New(t), done: make(chan error, 1)}
	if ts.m == nil {
		ts.m = agent.NewManager(slog.New(slog.NewTextHandler(io.Discard, nil)), nil, nil)
	}
	if !cfg.Insecure && cfg.TLS.CA == "" {
		cfg.TLS = agent.TLSConfig{CA: ts.pki.CA, Cert: ts.pki.ServerCert, Key: ts.pki.ServerKey}
	}
	srv, err := NewServer(ts.m, cfg, slog.New(slog.NewTextHandler(ts.log, nil)))
	if err != nil {
		t.Fatal(err)
	}
	lis, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	ts.addr = lis.Addr().String()
	ctx, cancel := context.WithCancel(context.Background())
	go func() { ts.done <- srv.ServeListener(ctx, lis) }()
	t.Cleanup(func() {
		cancel()
		select {
		case err := <-ts.done:
			if err != nil {
				t.Errorf("Serve: %v", err)
			}
		case <-time.After(10 * time.Second):
			t.Error("Serve did not return after cancel")
		}
	})
	return ts
}

// client dials ts with the given configuration; CA defaults to the test CA.
func (ts *testServer) client(t *testing.T, cfg ClientConfig) pb.ProbeControlClient {
	t.Helper()
	if !cfg.Insecure && cfg.CA == "" {
		cfg.CA = ts.pki.CA
	}
	conn, c, err := Dial(ts.addr, cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { conn.Close() })
	return c
}

// trusted is a client with the test CA's client certificate.
func (ts *testServer) trusted(t *testing.T) pb.ProbeControlClient {
	return ts.client(t, ClientConfig{Cert: ts.pki.ClientCert, Key: ts.pki.ClientKey})
}

func ctxT(t *testing.T) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	t.Cleanup(cancel)
	return ctx
}

func TestMutualTLS(t *testing.T) {
	ts := start(t, nil, agent.ControlConfig{})
	ctx := ctxT(t)
	if _, err := ts.trusted(t).ListProbes(ctx, &pb.ListProbesRequest{}); err != nil {
		t.Fatalf("client with a certificate from the CA: %v", err)
	}
	for name, cfg := range map[string]ClientConfig{
		"no client certificate":            {},
		"client certificate from other CA": {Cert: ts.pki.OtherCert, Key: ts.pki.OtherKey},
		"plaintext":                        {Insecure: true},
	} {
		t.Run(name, func(t *testing.T) {
			_, err := ts.client(t, cfg).ListProbes(ctx, &pb.ListProbesRequest{})
			if err == nil {
				t.Fatal("call accepted")
			}
			// The handshake fails, so the client sees the connection
			// refused rather than a status from the server.
			if c := status.Code(err); c != codes.Unavailable && c != codes.Unauthenticated {
				t.Errorf("code %v (%v), want Unavailable or Unauthenticated", c, err)
			}
		})
	}
	// A refused client cannot watch either.
	stream, err := ts.client(t, ClientConfig{}).WatchStatus(ctx, &pb.WatchStatusRequest{})
	if err == nil {
		_, err = stream.Recv()
	}
	if err == nil {
		t.Error("watch without a client certificate accepted")
	}
}

func TestBearerToken(t *testing.T) {
	tokenFile := filepath.Join(t.TempDir(), "token")
	if err := os.WriteFile(tokenFile, []byte("  s3cret-token\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	for _, insecure := range []bool{false, true} {
		t.Run(fmt.Sprintf("insecure=%v", insecure), func(t *testing.T) {
			ts := start(t, nil, agent.ControlConfig{TokenFile: tokenFile, Insecure: insecure})
			ctx := ctxT(t)
			base := ClientConfig{Cert: ts.pki.ClientCert, Key: ts.pki.ClientKey, Insecure: insecure}
			for _, tt := range []struct {
				token string
				want  codes.Code
			}{{"", codes.Unauthenticated}, {"wrong", codes.Unauthenticated}, {"s3cret-token-and-more", codes.Unauthenticated}, {"s3cret-token", codes.OK}} {
				cfg := base
				cfg.Token = tt.token
				c := ts.client(t, cfg)
				_, err := c.ListProbes(ctx, &pb.ListProbesRequest{})
				if status.Code(err) != tt.want {
					t.Errorf("unary with token %q: %v, want %v", tt.token, err, tt.want)
				}
				stream, err := c.WatchStatus(ctx, &pb.WatchStatusRequest{})
				if err == nil && tt.want != codes.OK {
					_, err = stream.Recv()
				}
				if status.Code(err) != tt.want {
					t.Errorf("stream with token %q: %v, want %v", tt.token, err, tt.want)
				}
			}
		})
	}
}

func TestInsecureWorksAndWarns(t *testing.T) {
	ts := start(t, nil, agent.ControlConfig{Insecure: true})
	if _, err := ts.client(t, ClientConfig{Insecure: true}).ListProbes(ctxT(t), &pb.ListProbesRequest{}); err != nil {
		t.Fatal(err)
	}
	if log := ts.log.String(); !strings.Contains(log, "level=WARN") || !strings.Contains(log, "insecure") {
		t.Errorf("no insecure warning in the log:\n%s", log)
	}
}

func TestNewServerConfigErrors(t *testing.T) {
	p := controltest.New(t)
	m := agent.NewManager(slog.New(slog.NewTextHandler(io.Discard, nil)), nil, nil)
	empty := filepath.Join(t.TempDir(), "empty")
	_ = os.WriteFile(empty, []byte("\n"), 0o600)
	for name, tt := range map[string]struct {
		cfg  agent.ControlConfig
		want string
	}{
		"no tls":         {agent.ControlConfig{Listen: ":0"}, "control.tls.ca, control.tls.cert, control.tls.key must be set"},
		"no ca":          {agent.ControlConfig{TLS: agent.TLSConfig{Cert: p.ServerCert, Key: p.ServerKey}}, "control.tls.ca must be set"},
		"ca not pem":     {agent.ControlConfig{TLS: agent.TLSConfig{CA: p.ServerKey + "x", Cert: p.ServerCert, Key: p.ServerKey}}, "control.tls.ca"},
		"key mismatch":   {agent.ControlConfig{TLS: agent.TLSConfig{CA: p.CA, Cert: p.ServerCert, Key: p.ClientKey}}, "control.tls.cert/key"},
		"token missing":  {agent.ControlConfig{Insecure: true, TokenFile: empty + "x"}, "control.token_file"},
		"token is empty": {agent.ControlConfig{Insecure: true, TokenFile: empty}, "is empty"},
	} {
		t.Run(name, func(t *testing.T) {
			_, err := NewServer(m, tt.cfg, nil)
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Errorf("err %v, want %q", err, tt.want)
			}
		})
	}
}

// tick evaluates every probe of m over a two-interface batch whose tx
// counters grow by step per second.
func tick(m *agent.Manager, at time.Time, v uint64) {
	b := &collectors.Batch{Time: at, Layout: 1, Interfaces: []collectors.Interface{{SystemID: "s", Name: "e1"}, {SystemID: "s", Name: "e2"}}}
	for i := range b.Interfaces {
		b.Interfaces[i].Set(collectors.TxBytes, v)
		b.Interfaces[i].Set(collectors.RxBytes, v/2)
	}
	m.Each(func(inst *probe.Instance) { _ = inst.Tick(&probe.Tick{Time: at, Counters: b}) })
	m.NoteTick(at)
}

func samples(t *testing.T, m *agent.Manager, id string) int {
	t.Helper()
	n := -1
	if err := m.View(id, func(_ agent.ProbeInfo, inst *probe.Instance) error {
		st, _ := inst.Stage("hist")
		n = 0
		if st.Len() > 0 {
			n = st.Item(0).SampleCount()
		}
		return nil
	}); err != nil {
		t.Fatalf("probe %s: %v", id, err)
	}
	return n
}

func ids(t *testing.T, c pb.ProbeControlClient) (uint64, string) {
	t.Helper()
	resp, err := c.ListProbes(ctxT(t), &pb.ListProbesRequest{})
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	for _, p := range resp.GetProbes() {
		out = append(out, p.GetId())
	}
	return resp.GetGeneration(), strings.Join(out, ",")
}

func TestApplyEvaluateChangeDelete(t *testing.T) {
	ts := start(t, nil, agent.ControlConfig{})
	c := ts.trusted(t)
	ctx := ctxT(t)
	resp, err := c.ApplyProbes(ctx, &pb.ApplyProbesRequest{Generation: 1, Probes: []string{
		counterProbe("a", "tx_bytes"), counterProbe("b", "rx_bytes"), counterProbe("c", "tx_bytes")}})
	if err != nil {
		t.Fatal(err)
	}
	if resp.GetGeneration() != 1 || len(resp.GetResults()) != 3 || resp.GetResults()[0].GetAction() != "created" || resp.GetResults()[0].GetState() != "created" {
		t.Fatalf("apply 1: %v", resp)
	}
	t0 := time.Unix(1000, 0)
	for i := range 4 {
		tick(ts.m, t0.Add(time.Duration(i)*time.Second), uint64(1000*i*i)) // changing rates: a sample each tick
	}
	for _, id := range []string{"a", "b", "c"} {
		if n := samples(t, ts.m, id); n != 3 {
			t.Fatalf("%s: %d samples after 4 ticks, want 3", id, n)
		}
	}
	// Change b only: a and c keep their time series, b restarts.
	resp, err = c.ApplyProbes(ctx, &pb.ApplyProbesRequest{Generation: 2, Probes: []string{
		counterProbe("a", "tx_bytes"), counterProbe("b", "tx_bytes"), counterProbe("c", "tx_bytes")}})
	if err != nil {
		t.Fatal(err)
	}
	actions := map[string]string{}
	for _, r := range resp.GetResults() {
		actions[r.GetId()] = r.GetAction() + "/" + r.GetState()
	}
	if actions["a"] != "unchanged/operational" || actions["b"] != "replaced/created" || actions["c"] != "unchanged/operational" {
		t.Errorf("apply 2 results %v", actions)
	}
	if a, b, cc := samples(t, ts.m, "a"), samples(t, ts.m, "b"), samples(t, ts.m, "c"); a != 3 || b != 0 || cc != 3 {
		t.Errorf("after changing b: samples a=%d b=%d c=%d, want 3 0 3", a, b, cc)
	}
	tick(ts.m, t0.Add(4*time.Second), 100000)
	// Delete c through DeleteProbe, then drop b by applying without it.
	if _, err := c.DeleteProbe(ctx, &pb.DeleteProbeRequest{Id: "c"}); err != nil {
		t.Fatal(err)
	}
	if a, b := samples(t, ts.m, "a"), samples(t, ts.m, "b"); a != 4 || b != 0 {
		t.Errorf("after deleting c: a=%d b=%d, want 4 0 (b's first tick only primes the rate)", a, b)
	}
	resp, err = c.ApplyProbes(ctx, &pb.ApplyProbesRequest{Generation: 3, Probes: []string{counterProbe("a", "tx_bytes")}})
	if err != nil {
		t.Fatal(err)
	}
	if len(resp.GetResults()) != 2 || resp.GetResults()[1].GetId() != "b" || resp.GetResults()[1].GetAction() != "deleted" {
		t.Errorf("apply 3 results %v", resp.GetResults())
	}
	if n := samples(t, ts.m, "a"); n != 4 {
		t.Errorf("a has %d samples after deletes, want 4", n)
	}
	if gen, set := ids(t, c); gen != 3 || set != "a" {
		t.Errorf("list: generation %d probes %s, want 3 a", gen, set)
	}
	got, err := c.GetProbe(ctx, &pb.GetProbeRequest{Id: "a"})
	if err != nil {
		t.Fatal(err)
	}
	if got.GetLabel() != "L-a" || got.GetOrigin() != "store" || got.GetState() != "operational" || !strings.Contains(got.GetDocument(), `"accumulate"`) {
		t.Errorf("get a: %v", got)
	}
}

func TestValidationProblemsInDetails(t *testing.T) {
	ts := start(t, nil, agent.ControlConfig{})
	c := ts.trusted(t)
	ctx := ctxT(t)
	if _, err := c.ApplyProbes(ctx, &pb.ApplyProbesRequest{Generation: 1, Probes: []string{counterProbe("a", "tx_bytes")}}); err != nil {
		t.Fatal(err)
	}
	badType := `{"id": "x", "label": "bad type", "processors": [{"name": "p1", "type": "no_such_processor", "outputs": {"out": "o"}}]}`
	badProp := strings.Replace(counterProbe("y", "tx_bytes"), `"counter_type": "tx_bytes"`, `"counter_type": "no_such_counter"`, 1)
	_, err := c.ApplyProbes(ctx, &pb.ApplyProbesRequest{Generation: 2, Probes: []string{counterProbe("b", "tx_bytes"), badType, badProp, "not json"}})
	if status.Code(err) != codes.InvalidArgument {
		t.Fatalf("apply with invalid documents: %v, want InvalidArgument", err)
	}
	v := FieldViolations(err)
	var lines []string
	for _, fv := range v {
		lines = append(lines, fv.GetField()+" | "+fv.GetDescription())
	}
	all := strings.Join(lines, "\n")
	t.Logf("violations:\n%s", all)
	for _, want := range []string{
		`probes[1].`, `probe "bad type"`, `processor "p1"`, `no_such_processor`,
		`probes[2].`, `probe "L-y"`, `processor "c"`, `no_such_counter`,
		`probes[3]`,
	} {
		if !strings.Contains(all, want) {
			t.Errorf("violations lack %q", want)
		}
	}
	if strings.Contains(all, "probes[0]") {
		t.Errorf("the valid document is reported")
	}
	if !strings.Contains(status.Convert(err).Message(), "nothing was applied") {
		t.Errorf("message %q", status.Convert(err).Message())
	}
	if gen, set := ids(t, c); gen != 1 || set != "a" {
		t.Errorf("after a refused apply: generation %d probes %s, want 1 a", gen, set)
	}
}

func TestGenerations(t *testing.T) {
	ts := start(t, nil, agent.ControlConfig{})
	c := ts.trusted(t)
	ctx := ctxT(t)
	if _, err := c.ApplyProbes(ctx, &pb.ApplyProbesRequest{Generation: 5, Probes: []string{counterProbe("a", "tx_bytes")}}); err != nil {
		t.Fatal(err)
	}
	_, err := c.ApplyProbes(ctx, &pb.ApplyProbesRequest{Generation: 4, Probes: []string{counterProbe("b", "tx_bytes")}})
	if status.Code(err) != codes.FailedPrecondition || !strings.Contains(err.Error(), "got 4, applied 5") {
		t.Errorf("older generation: %v, want FailedPrecondition", err)
	}
	resp, err := c.ApplyProbes(ctx, &pb.ApplyProbesRequest{Generation: 5, Probes: []string{counterProbe("a", "tx_bytes")}})
	if err != nil || resp.GetResults()[0].GetAction() != "unchanged" {
		t.Errorf("same generation re-applied: %v %v", resp, err)
	}
	resp, err = c.ApplyProbes(ctx, &pb.ApplyProbesRequest{Generation: 5, Probes: []string{counterProbe("a", "tx_bytes"), counterProbe("b", "tx_bytes")}})
	if err != nil || len(resp.GetResults()) != 2 {
		t.Errorf("same generation with another set: %v %v", resp, err)
	}
	if gen, set := ids(t, c); gen != 5 || set != "a,b" {
		t.Errorf("generation %d probes %s, want 5 a,b", gen, set)
	}
}

func TestNotFoundAndReadOnly(t *testing.T) {
	m := agent.NewManager(slog.New(slog.NewTextHandler(io.Discard, nil)), nil, nil)
	raw := []byte(counterProbe("from-file", "tx_bytes"))
	plan, probs := probe.CompileJSON(raw)
	if len(probs) > 0 {
		t.Fatal(probs)
	}
	m.SetLocal(agent.OriginFile, []agent.LocalDoc{{Source: "/etc/probe-agent/probes.d/f.json", Raw: raw, Plan: plan}})
	ts := start(t, m, agent.ControlConfig{})
	c := ts.trusted(t)
	ctx := ctxT(t)
	if _, err := c.GetProbe(ctx, &pb.GetProbeRequest{Id: "nope"}); status.Code(err) != codes.NotFound {
		t.Errorf("get unknown: %v", err)
	}
	if _, err := c.DeleteProbe(ctx, &pb.DeleteProbeRequest{Id: "nope"}); status.Code(err) != codes.NotFound {
		t.Errorf("delete unknown: %v", err)
	}
	if _, err := c.DeleteProbe(ctx, &pb.DeleteProbeRequest{Id: "from-file"}); status.Code(err) != codes.FailedPrecondition {
		t.Errorf("delete a probes_dir probe: %v, want FailedPrecondition", err)
	}
	p, err := c.GetProbe(ctx, &pb.GetProbeRequest{Id: "from-file"})
	if err != nil || p.GetOrigin() != "file" || p.GetSource() != "/etc/probe-agent/probes.d/f.json" {
		t.Errorf("get file probe: %v %v", p, err)
	}
	// Applying an id a file probe holds is a validation problem.
	_, err = c.ApplyProbes(ctx, &pb.ApplyProbesRequest{Generation: 1, Probes: []string{counterProbe("from-file", "rx_bytes")}})
	if v := FieldViolations(err); status.Code(err) != codes.InvalidArgument || len(v) != 1 || v[0].GetField() != "probes[0].id" {
		t.Errorf("apply over a file probe: %v %v", err, v)
	}
}

func TestWatchStatusStreamsChanges(t *testing.T) {
	ts := start(t, nil, agent.ControlConfig{})
	c := ts.trusted(t)
	ctx := ctxT(t)
	if _, err := c.ApplyProbes(ctx, &pb.ApplyProbesRequest{Generation: 1, Probes: []string{rangeProbe("r", 50)}}); err != nil {
		t.Fatal(err)
	}
	stream, err := c.WatchStatus(ctx, &pb.WatchStatusRequest{})
	if err != nil {
		t.Fatal(err)
	}
	next := func() *pb.StatusEvent {
		t.Helper()
		ev, err := stream.Recv()
		if err != nil {
			t.Fatal(err)
		}
		return ev
	}
	if ev := next(); ev.GetId() != "r" || ev.GetState() != "created" || ev.GetLabel() != "R-r" {
		t.Fatalf("initial event %v", ev)
	}
	t0 := time.Unix(2000, 0)
	tick(ts.m, t0, 0) // primes the rates
	if ev := next(); ev.GetState() != "operational" || ev.GetAnomalyCount() != 0 {
		t.Errorf("after the first tick: %v", ev)
	}
	tick(ts.m, t0.Add(time.Second), 100) // 100 B/s > 50 on both interfaces
	if ev := next(); ev.GetAnomalyCount() != 2 || !ev.GetTime().AsTime().Equal(t0.Add(time.Second)) {
		t.Errorf("after rates above the range: %v", ev)
	}
	tick(ts.m, t0.Add(2*time.Second), 110) // 10 B/s: cleared
	if ev := next(); ev.GetAnomalyCount() != 0 {
		t.Errorf("after rates back in range: %v", ev)
	}
	if _, err := c.DeleteProbe(ctx, &pb.DeleteProbeRequest{Id: "r"}); err != nil {
		t.Fatal(err)
	}
	if ev := next(); ev.GetId() != "r" || !ev.GetRemoved() {
		t.Errorf("after delete: %v", ev)
	}
}
