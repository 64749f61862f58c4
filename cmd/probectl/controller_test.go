package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/probe-agent/probe-agent/agent"
	"github.com/probe-agent/probe-agent/agent/control"
	"github.com/probe-agent/probe-agent/agent/control/controltest"
	"github.com/probe-agent/probe-agent/controller"
)

// startFabric runs probe-controller's core with its REST API on loopback
// (bearer token) and four real agent control planes (mutual TLS) on the
// leaf-spine lab, and returns the controller, the agents' managers and
// the probectl flags that reach the API.
func startFabric(t *testing.T) (*controller.Controller, map[string]*agent.Manager, []string) {
	t.Helper()
	pki := controltest.New(t)
	dir := t.TempDir()
	quiet := slog.New(slog.NewTextHandler(io.Discard, nil))
	managers := map[string]*agent.Manager{}
	var systems []string
	for _, dev := range []string{"leaf1", "leaf2", "leaf3", "leaf4"} {
		m := agent.NewManager(quiet, nil, nil)
		srv, err := control.NewServer(m, agent.ControlConfig{TLS: agent.TLSConfig{CA: pki.CA, Cert: pki.ServerCert, Key: pki.ServerKey}}, quiet)
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
		managers[dev] = m
		systems = append(systems, fmt.Sprintf("    %s: {address: %q}", dev, lis.Addr().String()))
	}
	lab, _ := filepath.Abs("../../containerlab/leaf-spine-linux.clab.yml")
	tokenFile := filepath.Join(dir, "token")
	if err := os.WriteFile(tokenFile, []byte("tok\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	yml := fmt.Sprintf(`blueprint_id: dc1
topology: {file: %q}
agents:
  defaults:
    tls: {ca: %q, cert: %q, key: %q}
    reconnect_max: 200ms
  systems:
%s
api: {listen: "127.0.0.1:0", token_file: %q}
state_dir: %q
interval: 1s
`, lab, pki.CA, pki.ClientCert, pki.ClientKey, strings.Join(systems, "\n"), tokenFile, filepath.Join(dir, "state"))
	cfg, err := controller.ParseConfig([]byte(yml), "controller.yaml")
	if err != nil {
		t.Fatal(err)
	}
	ctl, err := controller.New(cfg, quiet)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- ctl.Run(ctx) }()
	t.Cleanup(func() { cancel(); <-done })
	srv := httptest.NewServer(ctl.APIHandler())
	t.Cleanup(srv.Close)
	return ctl, managers, []string{"--controller", strings.TrimPrefix(srv.URL, "http://"), "--token-file", tokenFile}
}

// waitFabric waits until every agent streams and the controller has seen
// each apply its generation.
func waitFabric(t *testing.T, ctl *controller.Controller) {
	t.Helper()
	gen := ctl.Generation()
	deadline := time.Now().Add(10 * time.Second)
	for {
		ok := len(ctl.Agents()) == 4
		for _, a := range ctl.Agents() {
			ok = ok && a.State == "streaming" && a.Generation == gen
		}
		if ok {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("agents never all streaming at generation %d: %+v", gen, ctl.Agents())
		}
		time.Sleep(5 * time.Millisecond) // polling the controller's sessions
	}
}

// TestControllerCommands drives the probe commands with --controller and
// probectl controller agents against a running controller and four
// agents.
func TestControllerCommands(t *testing.T) {
	ctl, managers, conn := startFabric(t)
	with := func(args ...string) []string { return append(append([]string(nil), conn...), args...) }
	seed := "../../controller/testdata/seed_probe.json"
	dir := t.TempDir()

	// An invalid probe: exit 1 with the controller's problems, nothing
	// pushed.
	bad := filepath.Join(dir, "bad.json")
	_ = os.WriteFile(bad, []byte(`{"label": "broken", "processors": [{"name": "x", "type": "nope", "outputs": {"out": "o"}}]}`), 0o644)
	out, code := run(t, with("apply", "-f", seed, "-f", bad)...)
	if code != 1 || !strings.Contains(out, "invalid probes, nothing was applied") || !strings.Contains(out, `processor "x"`) {
		t.Errorf("invalid apply: exit %d\n%s", code, out)
	}
	if g := ctl.Generation(); g != 1 {
		t.Errorf("generation %d after a refused apply, want 1", g)
	}
	out, code = run(t, with("apply", "-f", seed, "--generation", "5")...)
	if code != 2 || !strings.Contains(out, "--generation applies to agents only") {
		t.Errorf("apply --generation: exit %d\n%s", code, out)
	}
	// Without the token the controller refuses the write.
	out, code = run(t, "--controller", conn[1], "apply", "-f", seed)
	if code != 2 || !strings.Contains(out, "401") {
		t.Errorf("apply without a token: exit %d\n%s", code, out)
	}

	out, code = run(t, with("apply", "-f", seed)...)
	if code != 0 || !strings.Contains(out, "server-imbalance  created") || !strings.Contains(out, "generation 2 applied to the fabric") {
		t.Fatalf("apply: exit %d\n%s", code, out)
	}
	waitFabric(t, ctl)
	for dev, m := range managers {
		if _, err := m.Get("server-imbalance"); err != nil {
			t.Errorf("%s did not get its part: %v", dev, err)
		}
	}
	out, code = run(t, with("apply", "-f", seed, "-o", "json")...)
	if code != 0 || !strings.Contains(out, `"action": "unchanged"`) || !strings.Contains(out, `"generation": 2`) {
		t.Errorf("apply again: exit %d\n%s", code, out)
	}

	out, code = run(t, with("list")...)
	want := "ID                LABEL            STATE        DEVICES  ANOMALIES  ERROR\n" +
		"server-imbalance  server_tx_bytes  operational  4        0          \n"
	if code != 0 || out != want {
		t.Errorf("list: exit %d\n%q\nwant\n%q", code, out, want)
	}
	out, code = run(t, with("get", "server-imbalance")...)
	var got struct {
		ID           string                    `json:"id"`
		Origin       string                    `json:"origin"`
		State        string                    `json:"state"`
		DeviceStates map[string]map[string]any `json:"device_states"`
		Document     map[string]any            `json:"document"`
	}
	if err := json.Unmarshal([]byte(out), &got); code != 0 || err != nil || got.ID != "server-imbalance" || got.Origin != "controller" ||
		len(got.DeviceStates) != 4 || got.DeviceStates["leaf2"]["state"] != "operational" || got.Document["description"] != "Server traffic imbalance" || got.Document["state"] != nil {
		t.Errorf("get: exit %d %v\n%s", code, err, out)
	}

	// controller agents: every agent streaming at the fabric generation.
	out, code = run(t, with("controller", "agents")...)
	lines := strings.Split(strings.TrimSpace(out), "\n")
	if code != 0 || len(lines) != 6 || !strings.HasPrefix(lines[0], "NAME") || !strings.Contains(lines[0], "LAST PARTIAL") || lines[5] != "fabric generation 2" {
		t.Fatalf("controller agents: exit %d\n%s", code, out)
	}
	for i, dev := range []string{"leaf1", "leaf2", "leaf3", "leaf4"} {
		f := strings.Fields(lines[i+1])
		if f[0] != dev || f[2] != "streaming" || f[3] != "2" || f[4] != "never" {
			t.Errorf("agents line %d: %q", i+1, lines[i+1])
		}
	}
	out, code = run(t, with("controller", "agents", "-o", "json")...)
	var agents struct {
		Generation uint64 `json:"generation"`
		Agents     []struct {
			Device     string `json:"device"`
			State      string `json:"state"`
			Generation uint64 `json:"generation"`
			Pushes     uint64 `json:"pushes"`
		} `json:"agents"`
	}
	if err := json.Unmarshal([]byte(out), &agents); code != 0 || err != nil || agents.Generation != 2 || len(agents.Agents) != 4 || agents.Agents[0].Pushes == 0 {
		t.Errorf("controller agents -o json: exit %d %v\n%s", code, err, out)
	}
	if out, code := run(t, "controller", "agents"); code != 2 || !strings.Contains(out, "--controller HOST:PORT is required") {
		t.Errorf("controller agents without --controller: exit %d\n%s", code, out)
	}

	out, code = run(t, with("delete", "server-imbalance")...)
	if code != 0 || out != "probe server-imbalance deleted from the fabric\n" {
		t.Errorf("delete: exit %d\n%s", code, out)
	}
	out, code = run(t, with("delete", "server-imbalance")...)
	if code != 2 || !strings.Contains(out, "404") || !strings.Contains(out, "not found") {
		t.Errorf("delete again: exit %d\n%s", code, out)
	}
	waitFabric(t, ctl)
	for dev, m := range managers {
		if _, err := m.Get("server-imbalance"); err == nil {
			t.Errorf("%s still runs the deleted probe", dev)
		}
	}
	out, code = run(t, "--controller", "127.0.0.1:1", "list")
	if code != 2 || !strings.Contains(out, "unreachable") {
		t.Errorf("unreachable controller: exit %d\n%s", code, out)
	}
}

// TestControllerWatch: watch --controller prints the fabric probes'
// status, then their changes, until its context ends.
func TestControllerWatch(t *testing.T) {
	ctl, _, conn := startFabric(t)
	seed := "../../controller/testdata/seed_probe.json"
	if out, code := run(t, append(append([]string(nil), conn...), "apply", "-f", seed)...); code != 0 {
		t.Fatalf("apply: %s", out)
	}
	waitFabric(t, ctl)
	cmd := newRootCmd()
	buf := &lockedBuffer{}
	cmd.SetOut(buf)
	cmd.SetErr(buf)
	cmd.SetArgs(append(append([]string(nil), conn...), "watch", "-o", "json", "--poll", "10ms"))
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- cmd.ExecuteContext(ctx) }()
	waitOut := func(what string) {
		t.Helper()
		deadline := time.Now().Add(10 * time.Second)
		for !strings.Contains(buf.String(), what) {
			if time.Now().After(deadline) {
				t.Fatalf("watch never printed %s:\n%s", what, buf.String())
			}
			time.Sleep(5 * time.Millisecond) // polling the command's output
		}
	}
	waitOut(`"id":"server-imbalance","label":"server_tx_bytes","state":"operational"`)
	if _, err := ctl.DeleteProbe("server-imbalance"); err != nil {
		t.Fatal(err)
	}
	waitOut(`"removed":true`)
	cancel()
	if err := <-done; err != nil {
		t.Errorf("watch: %v", err)
	}
	if n := strings.Count(buf.String(), `"state":"operational"`); n != 1 {
		t.Errorf("watch printed the unchanged status %d times, want once:\n%s", n, buf.String())
	}
}
