package control

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"syscall"
	"testing"
	"time"

	pb "github.com/probe-agent/probe-agent/proto/probeagent/v1"
)

// buildAgent compiles cmd/probe-agent into a temporary directory.
func buildAgent(t *testing.T) string {
	t.Helper()
	goTool, err := exec.LookPath("go")
	if err != nil {
		t.Skip("go tool not on PATH")
	}
	bin := filepath.Join(t.TempDir(), "probe-agent")
	cmd := exec.Command(goTool, "build", "-o", bin, "github.com/probe-agent/probe-agent/cmd/probe-agent")
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	return bin
}

var listenLine = regexp.MustCompile(`msg="control plane listening" addr=(\S+)`)

// agentProcess is a running probe-agent binary.
type agentProcess struct {
	cmd    *exec.Cmd
	addr   string
	stderr *syncBuffer
	exited chan struct{}
}

// startAgent runs bin with cfgFile and waits until its control plane listens.
func startAgent(t *testing.T, bin, cfgFile string) *agentProcess {
	t.Helper()
	p := &agentProcess{cmd: exec.Command(bin, "run", "--config", cfgFile), stderr: &syncBuffer{}, exited: make(chan struct{})}
	pipe, err := p.cmd.StderrPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := p.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	addr := make(chan string, 1)
	go func() {
		sc := bufio.NewScanner(pipe)
		for sc.Scan() {
			line := sc.Text()
			fmt.Fprintln(p.stderr, line)
			if m := listenLine.FindStringSubmatch(line); m != nil {
				addr <- m[1]
			}
		}
		_, _ = io.Copy(p.stderr, pipe)
	}()
	go func() { _ = p.cmd.Wait(); close(p.exited) }()
	select {
	case p.addr = <-addr:
	case <-p.exited:
		t.Fatalf("probe-agent exited at start:\n%s", p.stderr)
	case <-time.After(10 * time.Second):
		p.kill()
		t.Fatalf("probe-agent did not start listening:\n%s", p.stderr)
	}
	return p
}

func (p *agentProcess) kill() {
	_ = p.cmd.Process.Signal(syscall.SIGKILL)
	<-p.exited
}

// probeSet is an applied (or being applied) set of probes.
type probeSet struct {
	gen  uint64
	ids  []string // sorted
	docs []string
}

func (s probeSet) String() string { return fmt.Sprintf("gen %d %v", s.gen, s.ids) }

// TestCrashSafety kills the agent with SIGKILL at random moments, sometimes
// while an apply is in flight, and checks after each restart that the
// probes are exactly the last acknowledged set or the one being applied,
// with its generation; never a mix.
func TestCrashSafety(t *testing.T) {
	if testing.Short() {
		t.Skip("builds and runs the agent binary")
	}
	bin := buildAgent(t)
	dir := t.TempDir()
	replayFile, err := filepath.Abs("../../cmd/probectl/testdata/imbalance.jsonl")
	if err != nil {
		t.Fatal(err)
	}
	probesDir := filepath.Join(dir, "probes.d")
	if err := os.Mkdir(probesDir, 0o755); err != nil {
		t.Fatal(err)
	}
	cfgFile := filepath.Join(dir, "agent.yaml")
	cfg := fmt.Sprintf(`system_id: leaf1
interval: 20ms
collector: {type: replay, replay: {file: %q}}
probes_dir: %q
state_dir: %q
control: {listen: "127.0.0.1:0", insecure: true}
api: {listen: ""}
output: json
log_level: info
`, replayFile, probesDir, filepath.Join(dir, "state"))
	if err := os.WriteFile(cfgFile, []byte(cfg), 0o644); err != nil {
		t.Fatal(err)
	}

	// A pool of documents; each apply picks a random subset. Some ids come
	// in two versions so that applies also replace probes.
	pool := map[string][]string{}
	for i := range 10 {
		id := fmt.Sprintf("p%02d", i)
		pool[id] = []string{counterProbe(id, "tx_bytes"), rangeProbe(id, 1000*(i+1))}
	}
	poolIDs := slices.Sorted(func(yield func(string) bool) {
		for id := range pool {
			if !yield(id) {
				return
			}
		}
	})

	seed := uint64(time.Now().UnixNano())
	rng := rand.New(rand.NewPCG(seed, 0x5eed))
	t.Logf("seed %d", seed)
	randomSet := func(gen uint64) (probeSet, []string) {
		s := probeSet{gen: gen}
		var docs []string
		for _, id := range poolIDs {
			if rng.IntN(2) == 0 {
				s.ids = append(s.ids, id)
				docs = append(docs, pool[id][rng.IntN(2)])
			}
		}
		s.docs = docs
		return s, docs
	}

	const iterations = 60
	var acked probeSet
	var inflight *probeSet
	var midApply, oldKept, newKept, ackedBeforeKill int
	started := time.Now()
	for iter := range iterations + 1 {
		p := startAgent(t, bin, cfgFile)
		conn, c, err := Dial(p.addr, ClientConfig{Insecure: true})
		if err != nil {
			t.Fatal(err)
		}
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		resp, err := c.ListProbes(ctx, &pb.ListProbesRequest{})
		if err != nil {
			t.Fatalf("iteration %d: list after restart: %v\n%s", iter, err, p.stderr)
		}
		got := probeSet{gen: resp.GetGeneration()}
		for _, pr := range resp.GetProbes() {
			got.ids = append(got.ids, pr.GetId())
			if pr.GetOrigin() != "store" {
				t.Errorf("iteration %d: probe %s has origin %s", iter, pr.GetId(), pr.GetOrigin())
			}
		}
		same := func(a, b probeSet) bool { return a.gen == b.gen && slices.Equal(a.ids, b.ids) }
		switch {
		case same(got, acked):
			if inflight != nil {
				oldKept++
			}
		case inflight != nil && same(got, *inflight):
			newKept++
			acked = *inflight
		default:
			t.Fatalf("iteration %d: after restart %v; want the acknowledged %v or the in-flight %v\n%s", iter, got, acked, inflight, p.stderr)
		}
		inflight = nil
		// A controller re-applying what it last applied changes nothing.
		if acked.gen > 0 {
			resp, err := c.ApplyProbes(ctx, &pb.ApplyProbesRequest{Generation: acked.gen, Probes: acked.docs})
			if err != nil {
				t.Fatalf("iteration %d: re-apply %v: %v", iter, acked, err)
			}
			for _, r := range resp.GetResults() {
				if r.GetAction() != "unchanged" {
					t.Errorf("iteration %d: re-apply after restart: %s %s, want unchanged", iter, r.GetId(), r.GetAction())
				}
			}
		}
		if iter == iterations { // the last start only checks
			cancel()
			conn.Close()
			p.kill()
			break
		}

		// One to three applies; the last is sometimes cut by the kill.
		n := 1 + rng.IntN(3)
		killed := false
		for j := range n {
			next, docs := randomSet(acked.gen + 1)
			req := &pb.ApplyProbesRequest{Generation: next.gen, Probes: docs}
			if j == n-1 && rng.IntN(2) == 0 {
				midApply++
				inflight = &next
				done := make(chan error, 1)
				go func() { _, err := c.ApplyProbes(ctx, req); done <- err }()
				time.Sleep(time.Duration(500+rng.IntN(3000)) * time.Microsecond) // around the apply's duration
				p.kill()
				killed = true
				if err := <-done; err == nil {
					// Acknowledged before the kill: it must have been kept.
					ackedBeforeKill++
					acked, inflight = next, nil
				}
				break
			}
			if _, err := c.ApplyProbes(ctx, req); err != nil {
				t.Fatalf("iteration %d: apply %v: %v\n%s", iter, next, err, p.stderr)
			}
			acked = next
		}
		if !killed {
			time.Sleep(time.Duration(rng.IntN(30)) * time.Millisecond) // let some ticks run
			p.kill()
		}
		cancel()
		conn.Close()
	}
	t.Logf("%d restarts in %v: %d kills during an apply (%d acknowledged before the kill landed; after restart: %d old set, %d new set)",
		iterations, time.Since(started).Round(time.Millisecond), midApply, ackedBeforeKill, oldKept, newKept)
	if leftovers, _ := filepath.Glob(filepath.Join(dir, "state", "*.tmp-*")); len(leftovers) > 0 {
		t.Logf("temporary files left by kills (harmless, never read): %s", strings.Join(leftovers, " "))
	}
}
