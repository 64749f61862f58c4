package api

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/probe-agent/probe-agent/agent"
	"github.com/probe-agent/probe-agent/collectors/replay"

	_ "github.com/probe-agent/probe-agent/probe/processors"
)

// testEnv is an agent over the seed imbalance recording, with ticks driven
// by the test, and its API served on a loopback listener.
type testEnv struct {
	t       *testing.T
	agent   *agent.Agent
	server  *Server
	base    string // http://127.0.0.1:port
	bp      string // "/api/blueprints/dc1"
	ticks   chan time.Time
	ticked  chan struct{}
	ctx     context.Context
	running bool
	started bool
	done    chan error
	token   string // sent as a bearer token with every request when set
}

func testConfig(t *testing.T) agent.Config {
	cfg := agent.Defaults()
	cfg.SystemID, cfg.Hostname, cfg.Role = "leaf1", "leaf1", "leaf"
	cfg.BlueprintID, cfg.BlueprintLabel = "dc1", "DC 1"
	cfg.ShutdownTimeout = agent.Duration(5 * time.Second)
	cfg.StateDir = t.TempDir()
	cfg.ProbesDir = ""
	cfg.API.TokenFile = filepath.Join(cfg.StateDir, "api.token")
	if err := os.WriteFile(cfg.API.TokenFile, []byte(testToken+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	return cfg
}

// testToken is the bearer token testConfig configures for writes.
const testToken = "s3cret-test-token"

// newEnv builds the agent and serves its API; the agent's loop starts with
// run (so tests can look at the API before the first tick).
func newEnv(t *testing.T, cfg agent.Config) *testEnv {
	t.Helper()
	batches, err := replay.ReadFile("../../cmd/probectl/testdata/imbalance.jsonl")
	if err != nil {
		t.Fatal(err)
	}
	col, err := replay.NewCollector(batches, nil)
	if err != nil {
		t.Fatal(err)
	}
	e := &testEnv{t: t, bp: "/api/blueprints/" + cfg.BlueprintID, ticks: make(chan time.Time), ticked: make(chan struct{}, 100), done: make(chan error, 1)}
	if cfg.API.TokenFile != "" {
		e.token = testToken
	}
	log := slog.New(slog.NewTextHandler(testWriter{t}, nil))
	e.agent, err = agent.New(cfg, agent.Options{
		Logger: log, Stdout: io.Discard, Collector: col, Ticks: e.ticks,
		OnTick: func() { e.ticked <- struct{}{} },
	})
	if err != nil {
		t.Fatal(err)
	}
	e.server = NewServer(e.agent, cfg, prometheus.NewRegistry(), log)
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	e.base = "http://" + l.Addr().String()
	ctx, cancel := context.WithCancel(context.Background())
	e.ctx = ctx
	served := make(chan error, 1)
	go func() { served <- e.server.ServeListener(ctx, l) }()
	t.Cleanup(func() {
		cancel()
		if e.running {
			if err := <-e.done; err != nil {
				t.Errorf("agent: %v", err)
			}
		}
		if err := <-served; err != nil {
			t.Errorf("serve: %v", err)
		}
	})
	return e
}

func (e *testEnv) run() {
	e.running = true
	go func() { e.done <- e.agent.Run(e.ctx) }()
}

// steps drives n evaluations; the agent's first one happens at start.
func (e *testEnv) steps(n int) {
	e.t.Helper()
	if !e.running {
		e.run()
	}
	for i := 0; i < n; i++ {
		if e.started {
			e.ticks <- time.Now()
		}
		e.started = true
		select {
		case <-e.ticked:
		case <-time.After(10 * time.Second):
			e.t.Fatalf("tick %d did not complete", i)
		}
	}
}

// response is one HTTP answer.
type response struct {
	status int
	header http.Header
	body   []byte
}

// json decodes the body into a generic value.
func (r response) json(t *testing.T) map[string]any {
	t.Helper()
	var m map[string]any
	if err := json.Unmarshal(r.body, &m); err != nil {
		t.Fatalf("answer is not a JSON object (%d): %s", r.status, r.body)
	}
	return m
}

// do sends a request; a non-nil body is sent as application/json unless
// contentType says otherwise.
func (e *testEnv) do(method, path string, body []byte, contentType ...string) response {
	e.t.Helper()
	var rd io.Reader
	if body != nil {
		rd = bytes.NewReader(body)
	}
	req, err := http.NewRequest(method, e.base+path, rd)
	if err != nil {
		e.t.Fatal(err)
	}
	if body != nil {
		ct := "application/json"
		if len(contentType) > 0 {
			ct = contentType[0]
		}
		req.Header.Set("Content-Type", ct)
	}
	if e.token != "" {
		req.Header.Set("Authorization", "Bearer "+e.token)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		e.t.Fatal(err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		e.t.Fatal(err)
	}
	return response{status: resp.StatusCode, header: resp.Header, body: b}
}

// want checks the status and that the answer is JSON (except 204).
func (e *testEnv) want(r response, status int, what string) {
	e.t.Helper()
	if r.status != status {
		e.t.Fatalf("%s: status %d, want %d: %s", what, r.status, status, r.body)
	}
	if status != http.StatusNoContent && !strings.HasPrefix(r.header.Get("Content-Type"), "application/json") && !strings.HasPrefix(r.header.Get("Content-Type"), "text/plain; version") {
		e.t.Errorf("%s: Content-Type %q", what, r.header.Get("Content-Type"))
	}
}

func readFile(t *testing.T, name string) []byte {
	t.Helper()
	b, err := os.ReadFile(name)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// withField returns the JSON object doc with key set to v.
func withField(t *testing.T, doc []byte, key string, v any) []byte {
	t.Helper()
	var m map[string]any
	if err := json.Unmarshal(doc, &m); err != nil {
		t.Fatal(err)
	}
	m[key] = v
	b, err := json.Marshal(m)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

type testWriter struct{ t *testing.T }

func (w testWriter) Write(p []byte) (int, error) {
	w.t.Log(strings.TrimSpace(string(p)))
	return len(p), nil
}

func mustJSON(t *testing.T, v any) string {
	t.Helper()
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

func agentRemoved(id string, at time.Time) agent.StatusEvent {
	return agent.StatusEvent{ID: id, Removed: true, Time: at}
}
