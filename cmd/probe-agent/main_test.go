package main

import (
	"bytes"
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/probe-agent/probe-agent/agent"
	"github.com/probe-agent/probe-agent/collectors/replay"
)

func TestCollectWritesReplayLines(t *testing.T) {
	batches, err := replay.ReadFile("../probectl/testdata/imbalance.jsonl")
	if err != nil {
		t.Fatal(err)
	}
	col, err := replay.NewCollector(batches, nil)
	if err != nil {
		t.Fatal(err)
	}
	var out bytes.Buffer
	if err := collect(context.Background(), col, 10*time.Millisecond, 3, &out); err != nil {
		t.Fatal(err)
	}
	got, err := replay.Read(&out)
	if err != nil {
		t.Fatalf("collect's output does not read back as a replay file: %v\n%s", err, out.String())
	}
	if len(got) != 3 || len(got[0].Interfaces) != 4 {
		t.Fatalf("want 3 batches of 4 interfaces, got %d", len(got))
	}
	if got[1].Interfaces[0].Counters != batches[1].Interfaces[0].Counters {
		t.Errorf("counters changed on the way: %v vs %v", got[1].Interfaces[0].Counters, batches[1].Interfaces[0].Counters)
	}
}

// binDir holds the binaries the end-to-end tests run, built once per
// package run (TestMain removes it).
var (
	binOnce sync.Once
	binDir  string
	binErr  error
)

func TestMain(m *testing.M) {
	code := m.Run()
	if binDir != "" {
		os.RemoveAll(binDir)
	}
	os.Exit(code)
}

func buildBinaries(t *testing.T) (agentBin, ctlBin string) {
	t.Helper()
	binOnce.Do(func() {
		if binDir, binErr = os.MkdirTemp("", "probe-agent-e2e-"); binErr != nil {
			return
		}
		for _, name := range []string{"probe-agent", "probectl"} {
			out, err := exec.Command("go", "build", "-tags", "grpcnotrace", "-o", filepath.Join(binDir, name), "../"+name).CombinedOutput()
			if err != nil {
				binErr = fmt.Errorf("building %s: %v\n%s", name, err, out)
				return
			}
		}
	})
	if binErr != nil {
		t.Fatal(binErr)
	}
	return filepath.Join(binDir, "probe-agent"), filepath.Join(binDir, "probectl")
}

func freeAddr(t *testing.T) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().String()
}

// TestRunStreamsToProbectlReceive is the data path end to end with the real
// binaries: probe-agent run (replay collector, the seed probe with streaming
// enabled) to two probectl receive processes over TCP, sequenced: the stage
// values and the raise and clear of the anomaly arrive, with no gap.
func TestRunStreamsToProbectlReceive(t *testing.T) {
	if testing.Short() {
		t.Skip("builds and runs the binaries")
	}
	agentBin, ctlBin := buildBinaries(t)
	dir := t.TempDir()
	type receiver struct {
		cmd    *exec.Cmd
		stdout string // file name: read while the process writes it
		stderr *bytes.Buffer
		addr   string
	}
	n := 0
	start := func() *receiver {
		n++
		r := &receiver{addr: freeAddr(t), stdout: filepath.Join(dir, fmt.Sprintf("recv%d.jsonl", n)), stderr: &bytes.Buffer{}}
		f, err := os.Create(r.stdout)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { f.Close() })
		r.cmd = exec.Command(ctlBin, "receive", "--listen", r.addr, "--sequenced", "-o", "json")
		r.cmd.Stdout, r.cmd.Stderr = f, r.stderr
		if err := r.cmd.Start(); err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { _ = r.cmd.Process.Kill(); _ = r.cmd.Wait() })
		return r
	}
	perf, alerts := start(), start()
	abs := func(p string) string { a, _ := filepath.Abs(p); return a }
	cfg := fmt.Sprintf(`system_id: leaf1
blueprint_id: dc1
interval: 100ms
collector: {type: replay, replay: {file: %q, pace: interval}}
probes_dir: %q
state_dir: ""
api: {listen: ""}
streaming:
  - {type: perfmon, address: %q, sequenced: true}
  - {type: alerts, address: %q, sequenced: true}
`, abs("../probectl/testdata/imbalance.jsonl"), abs("../../agent/testdata"), perf.addr, alerts.addr)
	cfgFile := filepath.Join(dir, "agent.yaml")
	if err := os.WriteFile(cfgFile, []byte(cfg), 0o644); err != nil {
		t.Fatal(err)
	}
	var agentErr bytes.Buffer
	agent := exec.Command(agentBin, "run", "--config", cfgFile)
	agent.Stderr = &agentErr
	if err := agent.Start(); err != nil {
		t.Fatal(err)
	}
	// Wait for the clear of the anomaly (tick 7 of the recording).
	deadline := time.Now().Add(30 * time.Second)
	for {
		data, _ := os.ReadFile(alerts.stdout)
		if strings.Count(string(data), "\n") >= 2 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("no raise and clear within 30 s; alerts so far: %s\nagent: %s", data, agentErr.String())
		}
		time.Sleep(20 * time.Millisecond) // polling a file another process writes
	}
	if err := agent.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	if err := agent.Wait(); err != nil {
		t.Fatalf("agent exit: %v\n%s", err, agentErr.String())
	}
	for _, r := range []*receiver{perf, alerts} {
		_ = r.cmd.Process.Signal(syscall.SIGTERM)
		_ = r.cmd.Wait()
		if strings.Contains(r.stderr.String(), "sequence gap") {
			t.Errorf("receiver %s saw a gap:\n%s", r.addr, r.stderr.String())
		}
	}
	type line struct {
		Seq     uint64         `json:"seq_num"`
		Message map[string]any `json:"message"`
	}
	parse := func(s string) []line {
		var out []line
		for _, l := range strings.Split(strings.TrimSpace(s), "\n") {
			var v line
			if err := json.Unmarshal([]byte(l), &v); err != nil {
				t.Fatalf("receiver line %q: %v", l, err)
			}
			out = append(out, v)
		}
		return out
	}
	read := func(name string) string {
		data, err := os.ReadFile(name)
		if err != nil {
			t.Fatal(err)
		}
		return string(data)
	}
	var std []string
	for _, l := range parse(read(perf.stdout)) {
		pm := l.Message["perf_mon"].(map[string]any)["probe_message"].(map[string]any)
		if pm["stage_name"] == "std_dev_output" {
			std = append(std, fmt.Sprint(pm["float_value"])) // std_dev is a float stage (docs/streaming.md)
		}
	}
	if got := strings.Join(std, ","); !strings.HasPrefix(got, "0,100,150,0") {
		t.Errorf("std_dev values streamed: %s, want 0,100,150,0 first", got)
	}
	al := parse(read(alerts.stdout))
	if len(al) < 2 {
		t.Fatalf("alerts: %v", al)
	}
	a0, a1 := al[0].Message["alert"].(map[string]any), al[1].Message["alert"].(map[string]any)
	if a0["raised"] != true || a1["raised"] != false || a0["id"] != a1["id"] || al[1].Seq != al[0].Seq+1 {
		t.Errorf("want raise then clear of one anomaly with consecutive seq_num: %v", al[:2])
	}
}

// TestCollectFromADownTargetFails: `collect --collector gnmi` against a
// port nothing listens on exits with the reason, not 0 with no output.
func TestCollectFromADownTargetFails(t *testing.T) {
	var out bytes.Buffer
	cmd := newRootCmd()
	cmd.SetOut(&out)
	cmd.SetArgs([]string{"collect", "--collector", "gnmi", "--target", freeAddr(t), "--insecure", "--count", "1", "--wait", "10s"})
	err := cmd.Execute()
	if err == nil || !strings.Contains(err.Error(), "gnmi target 127.0.0.1:") || !strings.Contains(err.Error(), "connection refused") {
		t.Errorf("collect from a down target: %v, want the refused connection", err)
	}
	if out.Len() != 0 {
		t.Errorf("printed %q", out.String())
	}
}

// TestCollectEncodingFlag: --encoding reaches the gNMI collector, which
// refuses what it does not know.
func TestCollectEncodingFlag(t *testing.T) {
	cmd := newRootCmd()
	cmd.SetOut(&bytes.Buffer{})
	cmd.SetArgs([]string{"collect", "--collector", "gnmi", "--target", "127.0.0.1:1", "--insecure", "--encoding", "xml"})
	if err := cmd.Execute(); err == nil || !strings.Contains(err.Error(), `unsupported encoding "xml" (want proto, json_ietf or json)`) {
		t.Errorf("collect --encoding xml: %v", err)
	}
}

var update = flag.Bool("update", false, "rewrite docs/cli.md")

// TestCLIReferenceUpToDate: docs/cli.md is what `probe-agent docs markdown`
// prints; -update rewrites it.
func TestCLIReferenceUpToDate(t *testing.T) {
	var b bytes.Buffer
	if err := writeMarkdownReference(&b, newRootCmd()); err != nil {
		t.Fatal(err)
	}
	const path = "../../docs/cli.md"
	if *update {
		if err := os.WriteFile(path, b.Bytes(), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(want, b.Bytes()) {
		t.Error("docs/cli.md is stale: go test ./cmd/probe-agent -run TestCLIReference -update")
	}
	host, _ := os.Hostname()
	for _, bad := range []string{"`probe-agent config", "(default " + host + ")"} {
		if strings.Contains(b.String(), bad) {
			t.Errorf("reference contains %q (a pflag artefact or a host-dependent default)", bad)
		}
	}
}

// TestManPage: the man page names every documented command and escapes
// its dashes for roff.
func TestManPage(t *testing.T) {
	var b bytes.Buffer
	root := newRootCmd()
	if err := writeManPage(&b, root); err != nil {
		t.Fatal(err)
	}
	page := b.String()
	if !strings.HasPrefix(page, ".TH PROBE-AGENT 1") {
		t.Errorf("no .TH header: %.40q", page)
	}
	for _, c := range documented(root)[1:] {
		if !strings.Contains(page, ".SS "+roff(c.CommandPath())+"\n") {
			t.Errorf("man page lacks %s", c.CommandPath())
		}
	}
	if strings.Contains(page, " --config") {
		t.Error("unescaped dashes in the man page")
	}
}

// TestVersionCommand: `probe-agent version` prints the version.
func TestVersionCommand(t *testing.T) {
	var out bytes.Buffer
	cmd := newRootCmd()
	cmd.SetOut(&out)
	cmd.SetArgs([]string{"version"})
	if err := cmd.Execute(); err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(out.String(), "probe-agent "+version+" (go") {
		t.Errorf("version: %q", out.String())
	}
}

// TestREADMETourMatches: the README's streaming tour config loads, sends
// all three channels sequenced to the addresses the README's receivers
// listen on, and those receivers run with --sequenced.
func TestREADMETourMatches(t *testing.T) {
	cfg, err := agent.Load("../../docs/examples/tour.yaml")
	if err != nil {
		t.Fatal(err)
	}
	readme, err := os.ReadFile("../../README.md")
	if err != nil {
		t.Fatal(err)
	}
	channels := map[string]bool{}
	for _, s := range cfg.Streaming {
		channels[s.Type] = true
		if !s.Sequenced {
			t.Errorf("tour: %s is not sequenced", s.Type)
		}
		if want := "probectl receive --listen " + s.Address + " --sequenced"; !strings.Contains(string(readme), want) {
			t.Errorf("README lacks %q", want)
		}
	}
	if len(channels) != 3 {
		t.Errorf("tour streams %v, want perfmon, alerts and events", channels)
	}
	if !strings.Contains(string(readme), "probe-agent run --config docs/examples/tour.yaml --demo") {
		t.Error("README does not run the tour config with the demo probe")
	}
	for _, cmd := range []string{"make run", "make test"} {
		if !strings.Contains(string(readme), cmd) {
			t.Errorf("README lost %q", cmd)
		}
	}
}

// TestHelpTextClean: flag help names its value plainly (no text pulled in
// from backticks) and shows one default.
func TestHelpTextClean(t *testing.T) {
	root := newRootCmd()
	run, _, err := root.Find([]string{"run"})
	if err != nil {
		t.Fatal(err)
	}
	usage := run.LocalFlags().FlagUsages()
	if !strings.Contains(usage, "--config FILE ") {
		t.Errorf("run --config help:\n%s", usage)
	}
	for _, c := range documented(root) {
		for _, line := range strings.Split(c.LocalFlags().FlagUsages(), "\n") {
			if strings.Count(line, "(default") > 1 {
				t.Errorf("%s: two defaults in %q", c.CommandPath(), line)
			}
		}
	}
}
