package main

import (
	"context"
	"encoding/json"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/probe-agent/probe-agent/agent/control/controltest"
	"github.com/probe-agent/probe-agent/collectors/replay"
	"github.com/probe-agent/probe-agent/controlclient"
	"github.com/probe-agent/probe-agent/controller"
	"github.com/probe-agent/probe-agent/probe"
	_ "github.com/probe-agent/probe-agent/probe/processors"
	pb "github.com/probe-agent/probe-agent/proto/probeagent/v1"
	"github.com/probe-agent/probe-agent/topology"
	"github.com/probe-agent/probe-agent/topology/resolve"
)

var (
	binOnce sync.Once
	binDir  string
	binErr  error
)

// buildBinaries builds probe-agent and probe-controller once per test run.
func buildBinaries(t *testing.T) (agentBin, ctlBin string) {
	t.Helper()
	binOnce.Do(func() {
		if binDir, binErr = os.MkdirTemp("", "probe-controller-e2e-"); binErr != nil {
			return
		}
		for _, name := range []string{"probe-agent", "probe-controller"} {
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
	return filepath.Join(binDir, "probe-agent"), filepath.Join(binDir, "probe-controller")
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

type process struct {
	cmd    *exec.Cmd
	log    string
	exited chan struct{}
}

func start(t *testing.T, log, bin string, args ...string) *process {
	t.Helper()
	f, err := os.OpenFile(log, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
	if err != nil {
		t.Fatal(err)
	}
	p := &process{cmd: exec.Command(bin, args...), log: log, exited: make(chan struct{})}
	p.cmd.Stdout, p.cmd.Stderr = f, f
	if err := p.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	f.Close()
	go func() { _ = p.cmd.Wait(); close(p.exited) }()
	t.Cleanup(func() { _ = p.cmd.Process.Kill(); <-p.exited })
	return p
}

func (p *process) signal(t *testing.T, sig os.Signal) {
	t.Helper()
	_ = p.cmd.Process.Signal(sig)
	select {
	case <-p.exited:
	case <-time.After(15 * time.Second):
		t.Fatalf("%s did not exit on %v", p.cmd.Path, sig)
	}
}

func waitUntil(t *testing.T, timeout time.Duration, what string, diag func() string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out after %s waiting for %s\n%s", timeout, what, diag())
		}
		time.Sleep(10 * time.Millisecond) // polling another process
	}
}

// recording writes a replay file for one leaf: every interface sends
// 1000 B/s, except that a heavy leaf's server ports alternate phases of
// 1000 and 5000 B/s (ticks ticks each), so the centre sees the imbalance
// come and go.
func recording(t *testing.T, file, dev string, ifaces, servers []string, heavy bool, ticks int) {
	t.Helper()
	var b strings.Builder
	total := map[string]uint64{}
	for i := 0; i < 4*ticks; i++ {
		for _, ifc := range ifaces {
			rate := uint64(1000)
			if heavy && slices.Contains(servers, ifc) && (i/ticks)%2 == 1 {
				rate = 5000
			}
			total[ifc] += rate
			fmt.Fprintf(&b, `{"ts": %d, "system_id": %q, "interface": %q, "counters": {"tx_bytes": %d}}`+"\n", 1_700_000_000+i, dev, ifc, total[ifc])
		}
	}
	if err := os.WriteFile(file, []byte(b.String()), 0o644); err != nil {
		t.Fatal(err)
	}
}

// expectedStdDev evaluates the whole seed probe in one place on the four
// recordings and returns the std_dev_output values it takes.
func expectedStdDev(t *testing.T, lab, seed string, files []string) []float64 {
	t.Helper()
	data, err := os.ReadFile(seed)
	if err != nil {
		t.Fatal(err)
	}
	plan, probs := probe.CompileJSON(data)
	if len(probs) > 0 {
		t.Fatal(probs)
	}
	g, _, err := topology.LoadFile(lab, topology.Options{})
	if err != nil {
		t.Fatal(err)
	}
	res, _, err := resolve.Resolve(g, plan.Doc, resolve.Options{})
	if err != nil {
		t.Fatal(err)
	}
	inst, err := probe.NewInstance(plan.Resolve(res))
	if err != nil {
		t.Fatal(err)
	}
	var all [][]byte
	for _, f := range files {
		d, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		all = append(all, d)
	}
	// The recordings share their timestamps: merge them tick by tick.
	batches, err := replay.Read(strings.NewReader(string(slices.Concat(all...))))
	if err != nil {
		t.Fatal(err)
	}
	var out []float64
	for i := range batches {
		if err := inst.Tick(&probe.Tick{Time: batches[i].Time, Counters: &batches[i]}); err != nil {
			t.Fatal(err)
		}
		if st, _ := inst.Stage("std_dev_output"); st.Len() == 1 && st.Valid(0) && !slices.Contains(out, st.Num(0, 0)) {
			out = append(out, st.Num(0, 0))
		}
	}
	return out
}

// TestFabricEndToEnd runs probe-controller and four probe-agent processes
// (replay collector, mutual TLS on loopback) on the leaf-spine lab with
// the seed probe from the controller's probes_dir.
func TestFabricEndToEnd(t *testing.T) {
	if testing.Short() {
		t.Skip("builds and runs the binaries")
	}
	agentBin, ctlBin := buildBinaries(t)
	dir := t.TempDir()
	pki := controltest.New(t)
	lab, _ := filepath.Abs("../../containerlab/leaf-spine-linux.clab.yml")
	seed, _ := filepath.Abs("../../controller/testdata/seed_probe.json")
	const interval = 100 * time.Millisecond
	const phase = 30 // ticks per phase of leaf4's recording

	leaves := []string{"leaf1", "leaf2", "leaf3", "leaf4"}
	ifaces := map[string][]string{"leaf1": {"eth1", "eth2", "eth3", "eth4", "eth5", "eth9"}, "leaf2": {"eth1", "eth2", "eth3", "eth4", "eth5", "eth6"},
		"leaf3": {"eth1", "eth2", "eth3", "eth4"}, "leaf4": {"eth1", "eth2", "eth3", "eth4"}}
	servers := map[string][]string{"leaf1": {"eth3", "eth4"}, "leaf2": {"eth3", "eth4", "eth6"}, "leaf3": {"eth3", "eth4"}, "leaf4": {"eth3", "eth4"}}
	addrs := map[string]string{}
	var files []string
	agentCfg := map[string]string{}
	for _, dev := range leaves {
		addrs[dev] = freeAddr(t)
		rec := filepath.Join(dir, dev+".jsonl")
		recording(t, rec, dev, ifaces[dev], servers[dev], dev == "leaf4", phase)
		files = append(files, rec)
		cfg := fmt.Sprintf(`system_id: %s
interval: %s
collector: {type: replay, replay: {file: %q, pace: interval}}
probes_dir: ""
state_dir: ""
api: {listen: ""}
log_level: info
control:
  listen: %q
  tls: {ca: %q, cert: %q, key: %q}
`, dev, interval, rec, addrs[dev], pki.CA, pki.ServerCert, pki.ServerKey)
		agentCfg[dev] = filepath.Join(dir, dev+".yaml")
		if err := os.WriteFile(agentCfg[dev], []byte(cfg), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	want := expectedStdDev(t, lab, seed, files)
	var imbalanced float64
	for _, v := range want {
		imbalanced = max(imbalanced, v)
	}
	if imbalanced <= 100 {
		t.Fatalf("the recordings never make std_dev exceed 100: %v", want)
	}

	probesDir := filepath.Join(dir, "probes")
	_ = os.MkdirAll(probesDir, 0o755)
	seedDoc, _ := os.ReadFile(seed)
	_ = os.WriteFile(filepath.Join(probesDir, "seed.json"), seedDoc, 0o644)
	apiAddr := freeAddr(t)
	var systems []string
	for _, dev := range leaves {
		systems = append(systems, fmt.Sprintf("    %s: {address: %q}", dev, addrs[dev]))
	}
	ctlCfgText := fmt.Sprintf(`blueprint_id: dc1
topology: {file: %q}
agents:
  defaults:
    tls: {ca: %q, cert: %q, key: %q}
    reconnect_max: 200ms
  systems:
%s
api: {listen: %q}
state_dir: %q
probes_dir: %%q
interval: %s
staleness: 3
max_missing_share: 0.2
`, lab, pki.CA, pki.ClientCert, pki.ClientKey, strings.Join(systems, "\n"), apiAddr, filepath.Join(dir, "ctl-state"), interval)
	ctlCfg := filepath.Join(dir, "controller.yaml")
	writeCtl := func(probes string) {
		if err := os.WriteFile(ctlCfg, []byte(fmt.Sprintf(ctlCfgText, probes)), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	writeCtl(probesDir)

	agents := map[string]*process{}
	for _, dev := range leaves {
		agents[dev] = start(t, filepath.Join(dir, dev+".log"), agentBin, "run", "--config", agentCfg[dev])
	}
	ctlLog := filepath.Join(dir, "controller.log")
	ctl := start(t, ctlLog, ctlBin, "run", "--config", ctlCfg)
	var st controller.Status
	diag := func() string {
		data, _ := os.ReadFile(ctlLog)
		js, _ := json.MarshalIndent(st, "", " ")
		return "controller log:\n" + string(data) + "\nlast status:\n" + string(js)
	}
	poll := func() bool {
		resp, err := http.Get("http://" + apiAddr + "/status")
		if err != nil {
			return false
		}
		defer resp.Body.Close()
		st = controller.Status{}
		return json.NewDecoder(resp.Body).Decode(&st) == nil
	}
	stdDev := func() (float64, bool) {
		if len(st.Central) != 1 {
			return 0, false
		}
		// A stage without group_by is one value, as the stage API renders it.
		var stage struct {
			Value *float64 `json:"value"`
		}
		if json.Unmarshal(st.Central[0].Stages["std_dev_output"], &stage) != nil || stage.Value == nil {
			return 0, false
		}
		return *stage.Value, true
	}
	anomalies := func() int { return len(st.Anomalies) }
	streaming := func(devs ...string) bool {
		n := 0
		for _, a := range st.Agents {
			if slices.Contains(devs, a.Device) && a.State == "streaming" && a.Batches > 0 {
				n++
			}
		}
		return n == len(devs)
	}
	waitUntil(t, 30*time.Second, "every agent applied and streaming", diag, func() bool { return poll() && streaming(leaves...) })
	gen := st.Generation

	// Each agent holds only its server-facing interfaces.
	for _, dev := range leaves {
		conn, c, err := controlclient.Dial(addrs[dev], controlclient.Config{CA: pki.CA, Cert: pki.ClientCert, Key: pki.ClientKey})
		if err != nil {
			t.Fatal(err)
		}
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		p, err := c.GetProbe(ctx, &pb.GetProbeRequest{Id: "server-imbalance"})
		cancel()
		conn.Close()
		if err != nil {
			t.Fatalf("%s: GetProbe: %v", dev, err)
		}
		var doc struct {
			Resolved map[string]struct {
				Items []struct {
					SystemID  string `json:"system_id"`
					Interface string `json:"interface"`
				} `json:"items"`
			} `json:"resolved"`
		}
		_ = json.Unmarshal([]byte(p.GetDocument()), &doc)
		var got []string
		for _, it := range doc.Resolved["server_tx_bytes"].Items {
			if it.SystemID == dev {
				got = append(got, it.Interface)
			}
		}
		if !slices.Equal(got, servers[dev]) || len(got) != len(doc.Resolved["server_tx_bytes"].Items) {
			t.Errorf("%s holds %v, want exactly its server ports %v", dev, doc.Resolved["server_tx_bytes"].Items, servers[dev])
		}
	}

	// The imbalance is raised centrally with the whole probe's value, then
	// cleared.
	waitUntil(t, 30*time.Second, fmt.Sprintf("central std_dev %v (the whole probe's) and the anomaly raised", imbalanced), diag, func() bool {
		v, ok := stdDev()
		return poll() && ok && v == imbalanced && anomalies() == 1 && !st.Central[0].Partial
	})
	if a := st.Anomalies[0]; a.Origin != "central" || a.Stage != "server_traffic_imbalanced" {
		t.Fatalf("anomaly %+v, want the central imbalance", a)
	}
	waitUntil(t, 30*time.Second, "the anomaly cleared with std_dev 0", diag, func() bool {
		v, ok := stdDev()
		return poll() && ok && v == 0 && anomalies() == 0
	})

	// Bytes reaching the controller per interval, against raw streaming.
	var bytes, batches uint64
	for _, a := range st.Agents {
		bytes += a.Bytes
		batches += a.Batches
	}
	items := 0
	for _, s := range servers {
		items += len(s)
	}
	t.Logf("pushdown: %.0f bytes per agent per interval (%d batches, %d bytes); raw streaming would send %d ProbeMessages per interval (one per server port)",
		float64(bytes)/float64(batches), batches, bytes, items)

	// leaf4 dies while its servers are heavy: the anomaly is up, the other
	// three leaves are balanced, so a result on them alone would clear it.
	waitUntil(t, 30*time.Second, "the anomaly raised again", diag, func() bool { return poll() && anomalies() == 1 })
	agents["leaf4"].signal(t, syscall.SIGKILL)
	waitUntil(t, 10*time.Second, "the result marked partial, leaf4 missing, ticks skipped", diag, func() bool {
		return poll() && len(st.Central) == 1 && st.Central[0].Partial && slices.Equal(st.Central[0].Missing, []string{"leaf4"}) && st.Central[0].Skipped
	})
	skipped := st.Central[0].SkippedTicks
	waitUntil(t, 10*time.Second, "ten skipped ticks", diag, func() bool {
		if !poll() {
			return false
		}
		if anomalies() != 1 {
			t.Fatalf("the anomaly was cleared on a partial result: %+v", st.Central[0].CentralStatus)
		}
		return st.Central[0].SkippedTicks >= skipped+10
	})
	var oldSession string
	for _, a := range st.Agents {
		if a.Device == "leaf4" {
			oldSession = a.Session
		}
	}

	// leaf4 restarts: it gets its part again (new session), the result is
	// whole again.
	agents["leaf4"] = start(t, filepath.Join(dir, "leaf4.log"), agentBin, "run", "--config", agentCfg["leaf4"])
	waitUntil(t, 30*time.Second, "leaf4 back with a new session and a whole result", diag, func() bool {
		if !poll() || !streaming(leaves...) || len(st.Central) != 1 || st.Central[0].Partial || st.Central[0].Skipped {
			return false
		}
		for _, a := range st.Agents {
			if a.Device == "leaf4" {
				return a.Session != oldSession && a.Session != ""
			}
		}
		return false
	})

	// The controller restarts without probes_dir: probes and generation
	// survive.
	ctl.signal(t, syscall.SIGTERM)
	writeCtl("")
	ctl = start(t, ctlLog, ctlBin, "run", "--config", ctlCfg)
	waitUntil(t, 30*time.Second, "the restarted controller streaming from every agent", diag, func() bool { return poll() && streaming(leaves...) })
	if st.Generation != gen || len(st.Probes) != 1 || st.Probes[0].ID != "server-imbalance" {
		t.Fatalf("after a restart: generation %d (want %d), probes %+v", st.Generation, gen, st.Probes)
	}
	waitUntil(t, 30*time.Second, "a whole central result after the restart", diag, func() bool {
		_, ok := stdDev()
		return poll() && ok && !st.Central[0].Partial
	})

	// mTLS: a client without a certificate is refused by the agents.
	conn, c, err := controlclient.Dial(addrs["leaf1"], controlclient.Config{CA: pki.CA})
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if _, err := c.ApplyProbes(ctx, &pb.ApplyProbesRequest{Generation: gen + 100}); err == nil {
		t.Fatal("an agent accepted ApplyProbes from a client without a certificate")
	}

	// SIGTERM stops the controller cleanly.
	ctl.signal(t, syscall.SIGTERM)
	if code := ctl.cmd.ProcessState.ExitCode(); code != 0 {
		t.Errorf("probe-controller exited with %d on SIGTERM\n%s", code, diag())
	}
}
