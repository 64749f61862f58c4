package control

import (
	"bufio"
	"bytes"
	"context"
	"fmt"
	"io"
	"math/rand/v2"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	pb "github.com/probe-agent/probe-agent/proto/probeagent/v1"
)

var restLine = regexp.MustCompile(`msg="REST API listening" addr=(\S+)`)

// startAgentREST is startAgent that also waits for the REST API's address.
func startAgentREST(t *testing.T, bin, cfgFile string) (*agentProcess, string) {
	t.Helper()
	p := &agentProcess{cmd: exec.Command(bin, "run", "--config", cfgFile), stderr: &syncBuffer{}, exited: make(chan struct{})}
	pipe, err := p.cmd.StderrPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := p.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	ctl, rest := make(chan string, 1), make(chan string, 1)
	go func() {
		sc := bufio.NewScanner(pipe)
		for sc.Scan() {
			line := sc.Text()
			fmt.Fprintln(p.stderr, line)
			if m := listenLine.FindStringSubmatch(line); m != nil {
				ctl <- m[1]
			}
			if m := restLine.FindStringSubmatch(line); m != nil {
				rest <- m[1]
			}
		}
		_, _ = io.Copy(p.stderr, pipe)
	}()
	go func() { _ = p.cmd.Wait(); close(p.exited) }()
	var restAddr string
	for range 2 {
		select {
		case p.addr = <-ctl:
		case restAddr = <-rest:
		case <-p.exited:
			t.Fatalf("probe-agent exited at start:\n%s", p.stderr)
		case <-time.After(20 * time.Second):
			p.kill()
			t.Fatalf("probe-agent did not start listening:\n%s", p.stderr)
		}
	}
	return p, restAddr
}

// TestCrashSafetyREST kills the agent with SIGKILL while REST clients
// create and delete probes concurrently (journal records, group-committed
// fsyncs) and checks after each restart that every acknowledged create is
// there, every acknowledged delete is gone, and the store loaded cleanly.
func TestCrashSafetyREST(t *testing.T) {
	if testing.Short() {
		t.Skip("builds and runs the agent binary")
	}
	bin := buildAgent(t)
	dir := t.TempDir()
	replayFile, err := filepath.Abs("../../cmd/probectl/testdata/imbalance.jsonl")
	if err != nil {
		t.Fatal(err)
	}
	tokenFile := filepath.Join(dir, "token")
	if err := os.WriteFile(tokenFile, []byte("crash-token\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	cfgFile := filepath.Join(dir, "agent.yaml")
	cfg := fmt.Sprintf(`system_id: leaf1
blueprint_id: dc1
interval: 20ms
collector: {type: replay, replay: {file: %q}}
state_dir: %q
control: {listen: "127.0.0.1:0", insecure: true}
api: {listen: "127.0.0.1:0", token_file: %q}
output: json
log_level: info
`, replayFile, filepath.Join(dir, "state"), tokenFile)
	if err := os.WriteFile(cfgFile, []byte(cfg), 0o644); err != nil {
		t.Fatal(err)
	}
	seed := uint64(time.Now().UnixNano())
	rng := rand.New(rand.NewPCG(seed, 0xc0ffee))
	t.Logf("seed %d", seed)

	present := map[string]bool{} // acknowledged state: true created, false deleted
	// inflight are changes sent without an answer when the kill landed:
	// either outcome is right; the restart tells which one it was.
	inflight := map[string]bool{}
	next := 0
	const iterations = 12
	var acked int
	for iter := range iterations + 1 {
		p, restAddr := startAgentREST(t, bin, cfgFile)
		if strings.Contains(p.stderr.String(), "corrupt") {
			t.Fatalf("iteration %d: the store was corrupt after a kill:\n%s", iter, p.stderr)
		}
		conn, c, err := Dial(p.addr, ClientConfig{Insecure: true})
		if err != nil {
			t.Fatal(err)
		}
		ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
		resp, err := c.ListProbes(ctx, &pb.ListProbesRequest{})
		if err != nil {
			t.Fatalf("iteration %d: list: %v\n%s", iter, err, p.stderr)
		}
		running := map[string]bool{}
		for _, pr := range resp.GetProbes() {
			running[pr.GetId()] = true
		}
		for id := range inflight {
			present[id] = running[id]
		}
		clear(inflight)
		for id, want := range present {
			if running[id] != want {
				t.Fatalf("iteration %d: probe %s running=%v after restart, but its last acknowledged change says %v\n%s", iter, id, running[id], want, p.stderr)
			}
		}
		cancel()
		conn.Close()
		if iter == iterations {
			p.kill()
			break
		}
		// Eight clients create (and some delete) until the kill lands.
		base := "http://" + restAddr + "/api/blueprints/dc1/probes"
		var mu sync.Mutex
		var wg sync.WaitGroup
		stop := make(chan struct{})
		for w := range 8 {
			wg.Add(1)
			go func() {
				defer wg.Done()
				for {
					select {
					case <-stop:
						return
					default:
					}
					mu.Lock()
					id := fmt.Sprintf("r%05d", next)
					next++
					var victim string
					if w == 0 {
						for v, ok := range present {
							if ok && !inflight[v] {
								victim = v
								break
							}
						}
					}
					if victim != "" {
						inflight[victim] = true
					} else {
						inflight[id] = true
					}
					mu.Unlock()
					method, url, body, okStatus := "POST", base, []byte(counterProbe(id, "tx_bytes")), http.StatusCreated
					if victim != "" {
						method, url, body, okStatus, id = "DELETE", base+"/"+victim, nil, http.StatusNoContent, victim
					}
					req, _ := http.NewRequest(method, url, bytes.NewReader(body))
					req.Header.Set("Authorization", "Bearer crash-token")
					req.Header.Set("Content-Type", "application/json")
					r, err := http.DefaultClient.Do(req)
					if err != nil {
						return // the kill
					}
					_, _ = io.Copy(io.Discard, r.Body)
					r.Body.Close()
					if r.StatusCode != okStatus {
						t.Errorf("%s %s: %d", method, url, r.StatusCode)
						return
					}
					mu.Lock()
					present[id] = method == "POST"
					delete(inflight, id)
					acked++
					mu.Unlock()
				}
			}()
		}
		time.Sleep(time.Duration(5+rng.IntN(60)) * time.Millisecond) // a random moment for the kill
		p.kill()
		close(stop)
		wg.Wait()
	}
	t.Logf("%d restarts, %d acknowledged REST changes checked", iterations, acked)
	if acked == 0 {
		t.Fatal("no REST change was acknowledged")
	}
}
