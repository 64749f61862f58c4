package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
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

	"gopkg.in/yaml.v3"

	"github.com/probe-agent/probe-agent/agent"
	"github.com/probe-agent/probe-agent/agent/control"
	"github.com/probe-agent/probe-agent/agent/control/controltest"
	"github.com/probe-agent/probe-agent/collectors"
	"github.com/probe-agent/probe-agent/probe"
)

// controlServer runs an in-process control plane with mutual TLS and a
// bearer token, and returns the manager and the probectl flags that reach it.
func controlServer(t *testing.T) (*agent.Manager, []string) {
	t.Helper()
	p := controltest.New(t)
	tokenFile := filepath.Join(t.TempDir(), "token")
	if err := os.WriteFile(tokenFile, []byte("tok\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	m := agent.NewManager(slog.New(slog.NewTextHandler(io.Discard, nil)), nil, nil)
	srv, err := control.NewServer(m, agent.ControlConfig{
		TLS: agent.TLSConfig{CA: p.CA, Cert: p.ServerCert, Key: p.ServerKey}, TokenFile: tokenFile,
	}, slog.New(slog.NewTextHandler(io.Discard, nil)))
	if err != nil {
		t.Fatal(err)
	}
	lis, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- srv.ServeListener(ctx, lis) }()
	t.Cleanup(func() { cancel(); <-done })
	return m, []string{"--agent", lis.Addr().String(), "--ca", p.CA, "--cert", p.ClientCert, "--key", p.ClientKey, "--token-file", tokenFile}
}

func probeFile(t *testing.T, dir, id, counter string) string {
	t.Helper()
	doc := fmt.Sprintf(`{"id": %q, "label": "L-%s", "processors": [
		{"name": "c", "type": "if_counter", "outputs": {"out": "rate"}, "properties": {"counter_type": %q}},
		{"name": "hi", "type": "range_check", "inputs": {"in": "rate"}, "outputs": {"out": "too_high"}, "properties": {"range": {"max": 50}}},
		{"name": "an", "type": "anomaly", "inputs": {"in": "too_high"}, "outputs": {"out": "anomalies"}}]}`, id, id, counter)
	name := filepath.Join(dir, id+".json")
	if err := os.WriteFile(name, []byte(doc), 0o644); err != nil {
		t.Fatal(err)
	}
	return name
}

func tickOnce(m *agent.Manager, at time.Time, v uint64) {
	b := &collectors.Batch{Time: at, Layout: 1, Interfaces: []collectors.Interface{{SystemID: "s", Name: "e1"}}}
	b.Interfaces[0].Set(collectors.TxBytes, v)
	b.Interfaces[0].Set(collectors.RxBytes, v)
	m.Each(func(inst *probe.Instance) { _ = inst.Tick(&probe.Tick{Time: at, Counters: b}) })
	m.NoteTick(at)
}

func TestAgentCommands(t *testing.T) {
	m, conn := controlServer(t)
	dir := t.TempDir()
	a, b := probeFile(t, dir, "a", "tx_bytes"), probeFile(t, dir, "b", "rx_bytes")
	with := func(args ...string) []string { return append(append([]string(nil), conn...), args...) }

	out, code := run(t, with("apply", "-f", a, "-f", b)...)
	if code != 0 || !strings.Contains(out, "a   created  created") || !strings.Contains(out, "generation 1 applied") {
		t.Fatalf("apply: exit %d\n%s", code, out)
	}
	tickOnce(m, time.Unix(100, 0), 0)
	tickOnce(m, time.Unix(101, 0), 100) // a: 100 B/s tx > 50: one anomaly

	out, code = run(t, with("list")...)
	want := "ID  LABEL  ORIGIN  STATE        ANOMALIES  ERROR\n" +
		"a   L-a    store   operational  1          \n" +
		"b   L-b    store   operational  1          \n"
	if code != 0 || out != want {
		t.Errorf("list: exit %d\n%s\nwant\n%s", code, out, want)
	}
	out, code = run(t, with("list", "-o", "json")...)
	var list struct {
		Generation uint64 `json:"generation"`
		Probes     []struct {
			ID    string `json:"id"`
			State string `json:"state"`
		} `json:"probes"`
	}
	if err := json.Unmarshal([]byte(out), &list); code != 0 || err != nil || list.Generation != 1 || len(list.Probes) != 2 {
		t.Errorf("list -o json: exit %d %v\n%s", code, err, out)
	}

	out, code = run(t, with("get", "a", "-o", "yaml")...)
	var got map[string]any
	if err := yaml.Unmarshal([]byte(out), &got); code != 0 || err != nil || got["id"] != "a" || got["anomaly_count"] != 1 {
		t.Errorf("get -o yaml: exit %d %v\n%s", code, err, out)
	}
	if doc, ok := got["document"].(map[string]any); !ok || doc["label"] != "L-a" {
		t.Errorf("get -o yaml: document not nested: %v", got["document"])
	}
	out, code = run(t, with("get", "a")...)
	if code != 0 || !json.Valid([]byte(out)) || !strings.Contains(out, `"range_check"`) {
		t.Errorf("get (json): exit %d\n%s", code, out)
	}

	// Change b, add c through an array file; the default generation is 2.
	probeFile(t, dir, "b", "tx_bytes")
	arr := filepath.Join(dir, "more.json")
	c, _ := os.ReadFile(probeFile(t, t.TempDir(), "c", "tx_bytes"))
	if err := os.WriteFile(arr, []byte("["+string(c)+"]"), 0o644); err != nil {
		t.Fatal(err)
	}
	out, code = run(t, with("apply", "-f", a, "-f", b, "-f", arr, "-o", "json")...)
	if code != 0 || !strings.Contains(out, `"generation": 2`) ||
		!strings.Contains(out, `"id": "a",
      "action": "unchanged",
      "state": "operational"`) || !strings.Contains(out, `"action": "replaced"`) || !strings.Contains(out, `"action": "created"`) {
		t.Errorf("second apply: exit %d\n%s", code, out)
	}
	if info, _ := m.Get("a"); info.AnomalyCount != 1 {
		t.Errorf("a lost its anomaly over an apply that did not change it: %+v", info)
	}

	// Invalid documents: exit 1, every problem with its file; nothing changes.
	bad := filepath.Join(dir, "bad.json")
	_ = os.WriteFile(bad, []byte(`{"label": "broken", "processors": [{"name": "x", "type": "nope", "outputs": {"out": "o"}}]}`), 0o644)
	out, code = run(t, with("apply", "-f", a, "-f", bad, "-f", "/dev/null")...)
	if code != 1 || !strings.Contains(out, "invalid probes, nothing was applied") ||
		!strings.Contains(out, bad+": probes[1].type: probe \"broken\": processor \"x\"") || !strings.Contains(out, "/dev/null: probes[2]") {
		t.Errorf("invalid apply: exit %d\n%s", code, out)
	}
	if m.Generation() != 2 || len(m.List()) != 3 {
		t.Errorf("a refused apply changed the set: generation %d, %d probes", m.Generation(), len(m.List()))
	}
	out, code = run(t, with("apply", "-f", a, "--generation", "1")...)
	if code != 2 || !strings.Contains(out, "FailedPrecondition") || !strings.Contains(out, "got 1, applied 2") {
		t.Errorf("stale generation: exit %d\n%s", code, out)
	}

	out, code = run(t, with("delete", "c")...)
	if code != 0 || out != "probe c deleted\n" {
		t.Errorf("delete: exit %d\n%s", code, out)
	}
	out, code = run(t, with("delete", "c")...)
	if code != 2 || !strings.Contains(out, "NotFound") {
		t.Errorf("delete again: exit %d\n%s", code, out)
	}

	// Completion of ids asks the agent.
	out, code = run(t, with("__complete", "get", "")...)
	if code != 0 || !strings.Contains(out, "a\tL-a") || !strings.Contains(out, "b\tL-b") {
		t.Errorf("completion: exit %d\n%s", code, out)
	}
	out, code = run(t, "completion", "bash")
	if code != 0 || !strings.Contains(out, "__start_probectl") {
		t.Errorf("completion bash: exit %d", code)
	}
}

func TestAgentCommandsRefused(t *testing.T) {
	_, conn := controlServer(t)
	addr := conn[1]
	for name, args := range map[string][]string{
		"no client certificate": {"--agent", addr, "--ca", conn[3], "--token-file", conn[9]},
		"no token":              conn[:8],
		"plaintext":             {"--agent", addr, "--insecure"},
	} {
		t.Run(name, func(t *testing.T) {
			out, code := run(t, append(args, "list", "--timeout", "3s")...)
			if code != 2 || !strings.Contains(out, "agent "+addr) {
				t.Errorf("exit %d\n%s", code, out)
			}
		})
	}
}

// lockedBuffer is written by a running command and read by the test.
type lockedBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *lockedBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *lockedBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

func TestWatchCommand(t *testing.T) {
	m, conn := controlServer(t)
	if _, err := m.Apply(1, [][]byte{[]byte(`{"id": "w", "label": "watched", "processors": [
		{"name": "c", "type": "if_counter", "outputs": {"out": "rate"}, "properties": {"counter_type": "tx_bytes"}}]}`)}); err != nil {
		t.Fatal(err)
	}
	for i, format := range []string{"table", "json"} {
		t.Run(format, func(t *testing.T) {
			cmd := newRootCmd()
			var out lockedBuffer
			cmd.SetOut(&out)
			cmd.SetErr(&out)
			cmd.SetArgs(append(append([]string(nil), conn...), "watch", "-o", format))
			ctx, cancel := context.WithCancel(context.Background())
			done := make(chan error, 1)
			go func() { done <- cmd.ExecuteContext(ctx) }()
			waitFor := func(what string) {
				t.Helper()
				deadline := time.Now().Add(5 * time.Second)
				for !strings.Contains(out.String(), what) {
					if time.Now().After(deadline) {
						t.Fatalf("watch output lacks %q:\n%s", what, out.String())
					}
					time.Sleep(5 * time.Millisecond)
				}
			}
			if format == "json" {
				waitFor(`"state":"`)
			} else {
				waitFor("w  ")
			}
			tickOnce(m, time.Now(), 0)
			waitFor("operational")
			cancel()
			if err := <-done; err != nil && !errors.Is(err, context.Canceled) {
				t.Errorf("watch: %v", err)
			}
			if format == "table" && !strings.HasPrefix(out.String(), "TIME ") {
				t.Errorf("no header:\n%s", out.String())
			}
			if format == "json" {
				for _, line := range strings.Split(strings.TrimSpace(out.String()), "\n") {
					if !json.Valid([]byte(line)) {
						t.Errorf("not a JSON line: %s", line)
					}
				}
			}
		})
		// The next subtest starts from created again.
		if _, err := m.Apply(uint64(2+i), [][]byte{[]byte(`{"id": "w", "label": "watched again", "processors": [
		{"name": "c", "type": "if_counter", "outputs": {"out": "rate"}, "properties": {"counter_type": "rx_bytes"}}]}`)}); err != nil {
			t.Fatal(err)
		}
	}
}
