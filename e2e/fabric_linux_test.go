package e2e

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"math"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/probe-agent/probe-agent/agent/stream"
	"github.com/probe-agent/probe-agent/controller"
	"github.com/probe-agent/probe-agent/lab"
	"github.com/probe-agent/probe-agent/topology"
)

// The traffic. Every server receives one base flow from the other rack
// (so it crosses the spines), at baseRate; the hot phase adds hotRate more
// to server5. Rates are UDP payload bits per second; a leaf's tx_bytes on
// the server port also counts each datagram's UDP, IP and Ethernet headers.
const (
	baseRate   = 2e6
	hotRate    = 8e6
	datagram   = 1200
	wireHeader = 8 + 20 + 14
	hotServer  = "server5"
	hotPort    = 6001
	interval   = "500ms"
	// hotDuration is how long server5 is hot.
	hotDuration = 8 * time.Second
	// threshold is the range max of the seed's range_check, in bytes per
	// second of std_dev across the 8 server ports. Balanced, the ports
	// differ only by pacing and sampling jitter (a few kB/s); with
	// server5 hot, std_dev = (hot port - other ports) * sqrt(7)/8, about
	// 342 kB/s at these rates. 100 kB/s sits far from both, so neither
	// jitter raises the anomaly nor does a sample taken while the hot flow
	// ramps up delay it by more than a tick.
	threshold = 100000
	// tolerance is how far the controller's std_dev may be from the one
	// computed from the bytes the sinks received: a tick's rate covers
	// 500ms of paced traffic, the sinks' count the whole phase.
	tolerance = 0.10
)

var baseFlows = []lab.Flow{
	{From: "server1", To: "server5"}, {From: "server2", To: "server6"},
	{From: "server3", To: "server7"}, {From: "server4", To: "server8"},
	{From: "server5", To: "server1"}, {From: "server6", To: "server2"},
	{From: "server7", To: "server3"}, {From: "server8", To: "server4"},
}

// wire turns a payload rate in bytes per second into what the leaf's
// tx_bytes counts.
func wire(payloadBps float64) float64 {
	return payloadBps * float64(datagram+wireHeader) / datagram
}

// median is the middle value of xs.
func median(xs []float64) float64 {
	s := slices.Clone(xs)
	slices.Sort(s)
	return s[len(s)/2]
}

// stdDev is the population standard deviation (the seed's ddof 0).
func stdDev(xs []float64) float64 {
	var mean float64
	for _, x := range xs {
		mean += x
	}
	mean /= float64(len(xs))
	var m2 float64
	for _, x := range xs {
		m2 += (x - mean) * (x - mean)
	}
	return math.Sqrt(m2 / float64(len(xs)))
}

// fabric is one lab of containerlab/leaf-spine-probe.clab.yml under a name
// of its own (a lab a user has up is not touched).
type fabric struct {
	t     *testing.T
	plan  *lab.Plan
	dir   lab.Layout
	file  string
	state *lab.State
	api   string
	// token authenticates writes to the controller's REST API.
	token string
	// st is the last /status the test read.
	st controller.Status
}

func TestFabricEndToEnd(t *testing.T) {
	if testing.Short() {
		t.Skip("builds a lab fabric of network namespaces and runs the binaries; not in -short")
	}
	if err := lab.CheckPrivileges(); err != nil {
		t.Skipf("skipping the end-to-end fabric test (run it as root, e.g. sudo go test ./e2e/): %v", err)
	}
	bin := buildBinaries(t)
	f := newFabric(t)

	// The independent receiver of the controller's streaming output: the
	// receiver probectl receive runs, on loopback.
	alerts := &alertLog{}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	recv := stream.NewReceiver(stream.ReceiverConfig{Sequenced: true, Handle: alerts.handle})
	go func() { _ = recv.Serve(ln) }()
	t.Cleanup(func() { _ = recv.Close() })

	ctx := context.Background()
	// The agents as lab up starts them; the controller once its
	// configuration has what the test needs (below).
	st, err := lab.Up(ctx, f.plan, f.dir, lab.UpOptions{File: f.file, Bin: bin, NoController: true, Log: testWriter{t}})
	f.state = st
	if err != nil {
		t.Fatal(err)
	}
	if len(st.Processes) != len(f.plan.Switches()) {
		t.Fatalf("%d processes started, want an agent per switch (%d)", len(st.Processes), len(f.plan.Switches()))
	}

	// A short interval everywhere; the controller's REST API writable with
	// a token and its streaming entry to the receiver. The agents reload
	// the configurations lab up wrote; the controller starts on its own,
	// as lab up would have started it (it reads its API's write policy
	// and streaming entries at start).
	for _, n := range f.plan.Switches() {
		f.edit(f.dir.AgentConfig(n.Name), "interval: 1s\n", "interval: "+interval+"\n")
	}
	f.edit(f.dir.ControllerConfig(), "interval: 1s\n", "interval: "+interval+"\n")
	tokenFile := filepath.Join(f.dir.ControllerDir(), "api.token")
	if err := os.WriteFile(tokenFile, []byte(f.token+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	f.edit(f.dir.ControllerConfig(), fmt.Sprintf("api: {listen: %q}\n", f.api), fmt.Sprintf("api: {listen: %q, token_file: %q}\n", f.api, tokenFile))
	f.edit(f.dir.ControllerConfig(), "streaming: []\n",
		fmt.Sprintf("streaming:\n  - {type: alerts, address: %q, sequenced: true, reconnect_max: 1s}\n", ln.Addr()))
	for _, n := range f.plan.Switches() {
		f.signal(n.Name, syscall.SIGHUP)
	}
	f.startController(bin)
	f.waitUntil(20*time.Second, "every agent reloaded with interval "+interval, func() bool {
		for _, n := range f.plan.Switches() {
			if !logHas(f.dir.Log(n.Name), "configuration reloaded", interval) {
				return false
			}
		}
		return true
	})

	// Push the seed probe with streaming on its central stages.
	probeID := f.pushSeed()
	f.waitUntil(30*time.Second, "every agent streaming its part and a whole central std_dev", func() bool {
		if !f.poll() || len(f.st.Central) != 1 || f.st.Central[0].Partial || f.st.Central[0].Ticks == 0 {
			return false
		}
		for _, a := range f.st.Agents {
			if a.State != "streaming" || a.Batches == 0 {
				return false
			}
		}
		_, ok := f.stdDev()
		return ok
	})

	// Balanced: every server port at the base rate on its leaf's own
	// stage, then no anomaly for several central ticks.
	baseCtx, stopBase := context.WithCancel(ctx)
	defer stopBase()
	type flowsDone struct {
		res []lab.FlowResult
		err error
	}
	baseDone := make(chan flowsDone, 1)
	flows := slices.Clone(baseFlows)
	for i := range flows {
		flows[i].Rate, flows[i].Size = baseRate, datagram
	}
	go func() {
		res, err := lab.RunFlows(baseCtx, f.plan, flows, 2*time.Minute)
		baseDone <- flowsDone{res, err}
	}()
	wantBase := wire(baseRate / 8)
	f.waitUntil(20*time.Second, fmt.Sprintf("every leaf's server ports at %.0f B/s (the base rate) on the agents' own stage", wantBase), func() bool {
		for _, leaf := range []string{"leaf1", "leaf2", "leaf3", "leaf4"} {
			vals, err := f.agentStage(leaf, probeID, "server_tx_bytes_output")
			if err != nil || len(vals) != 2 {
				return false
			}
			for _, v := range vals {
				if math.Abs(v-wantBase) > 0.2*wantBase {
					return false
				}
			}
		}
		return true
	})
	// The controller merges each leaf's latest partial, and one may still
	// be from before that leaf's traffic started: a real imbalance, for a
	// tick. The balanced window starts at the first central tick after
	// the leaves' stages showed the base rate that has no anomaly.
	f.poll()
	seen := f.st.Central[0].Ticks
	f.waitUntil(10*time.Second, "a central tick on balanced traffic without an anomaly", func() bool {
		if !f.poll() || f.st.Central[0].Ticks <= seen || len(f.st.Anomalies) != 0 {
			return false
		}
		v, ok := f.stdDev()
		return ok && v < threshold
	})
	from := f.st.Central[0].Ticks
	var balancedMax float64
	f.waitUntil(20*time.Second, "six central ticks on balanced traffic", func() bool {
		if !f.poll() {
			return false
		}
		if len(f.st.Anomalies) != 0 {
			t.Fatalf("balanced traffic raised %s", f.diag())
		}
		if v, ok := f.stdDev(); ok {
			balancedMax = max(balancedMax, v)
		}
		return f.st.Central[0].Ticks >= from+6
	})
	if balancedMax >= threshold {
		t.Fatalf("balanced std_dev reached %.0f, not below the threshold %d", balancedMax, threshold)
	}
	t.Logf("balanced: std_dev at most %.0f B/s over 6 ticks (threshold %d)", balancedMax, threshold)

	// One server port hot: the controller raises the imbalance.
	hot := []lab.Flow{{From: "server2", To: hotServer, Rate: hotRate, Size: datagram, Port: hotPort}}
	mark := alerts.count() // the streamed alerts of the hot phase come after
	hotDone := make(chan flowsDone, 1)
	go func() {
		res, err := lab.RunFlows(ctx, f.plan, hot, hotDuration)
		hotDone <- flowsDone{res, err}
	}()
	others := wire(baseRate / 8)
	aPriori := stdDev([]float64{others, others, others, others, wire((baseRate + hotRate) / 8), others, others, others})
	var raised controller.Anomaly
	f.waitUntil(10*time.Second, "the central imbalance anomaly", func() bool {
		if !f.poll() || len(f.st.Anomalies) != 1 {
			return false
		}
		raised = f.st.Anomalies[0]
		return true
	})
	if raised.Origin != "central" || raised.Stage != "server_traffic_imbalanced" || raised.Probe != probeID {
		t.Errorf("anomaly %+v, want the central server_traffic_imbalanced of %s", raised, probeID)
	}
	// The tick that raised it may cover the hot flow's start: two ticks
	// later every leaf's rate covers hot traffic only. Then the anomaly's
	// actual, the central std_dev and the std_dev of the rates the four
	// agents' own stages show are sampled on five central ticks; their
	// medians are compared below (one tick's rate can be off by its
	// sampling jitter on a loaded host).
	raisedAt := f.st.Central[0].Ticks
	var actuals, centrals, fromLeaves []float64
	var expected map[string]float64
	lastTick := raisedAt + 1
	f.waitUntil(10*time.Second, "five central ticks of the hot phase", func() bool {
		if !f.poll() || len(f.st.Central) != 1 || f.st.Central[0].Ticks <= lastTick {
			return false
		}
		lastTick = f.st.Central[0].Ticks
		if len(f.st.Anomalies) != 1 {
			t.Fatalf("the anomaly went away with server5 still hot\n%s", f.diag())
		}
		var doc struct {
			Actual, Expected map[string]float64
		}
		if err := json.Unmarshal(f.st.Anomalies[0].JSON, &doc); err != nil {
			t.Fatalf("anomaly %s: %v", f.st.Anomalies[0].JSON, err)
		}
		v, ok := number(doc.Actual)
		c, cok := f.stdDev()
		if !ok || !cok {
			t.Fatalf("anomaly actual %v, central std_dev present %v\n%s", doc.Actual, cok, f.diag())
		}
		expected = doc.Expected
		var leafRates []float64
		for _, leaf := range []string{"leaf1", "leaf2", "leaf3", "leaf4"} {
			vals, err := f.agentStage(leaf, probeID, "server_tx_bytes_output")
			if err != nil || len(vals) != 2 {
				t.Fatalf("%s: server_tx_bytes_output %v %v, want its 2 server ports", leaf, vals, err)
			}
			leafRates = append(leafRates, vals...)
		}
		actuals, centrals, fromLeaves = append(actuals, v), append(centrals, c), append(fromLeaves, stdDev(leafRates))
		return len(actuals) == 5
	})
	if e, ok := number(expected); !ok || e != threshold {
		t.Errorf("anomaly expected %v, want the range max %d it crossed", expected, threshold)
	}
	actual, centralStd, leavesStd := median(actuals), median(centrals), median(fromLeaves)
	if math.Abs(centralStd-leavesStd) > tolerance*leavesStd {
		t.Errorf("central std_dev %.0f (median of %v), the leaves' own rates give %.0f (median of %v): not within %.0f%%", centralStd, centrals, leavesStd, fromLeaves, tolerance*100)
	}
	wired := recv.Stats().Connections > 0
	if wired {
		f.waitUntil(10*time.Second, "the receiver getting the raised alert", func() bool { return alerts.find(mark, probeID, true) > 0 })
	}

	hotRes := <-hotDone
	if hotRes.err != nil {
		t.Fatal(hotRes.err)
	}
	// Balanced again: it clears.
	f.waitUntil(10*time.Second, "the anomaly cleared after the hot flow stopped", func() bool {
		if !f.poll() || len(f.st.Anomalies) != 0 {
			return false
		}
		v, ok := f.stdDev()
		return ok && v < threshold
	})
	if wired = wired || recv.Stats().Connections > 0; wired {
		f.waitUntil(10*time.Second, "the receiver getting the clear", func() bool {
			return alerts.find(alerts.find(mark, probeID, true), probeID, false) > 0
		})
	}

	// One agent dies: the result is marked partial, leaf4 missing, and
	// still evaluated (1 of 4 devices is under max_missing_share).
	leaf4 := f.plan.Node("leaf4").SystemID
	f.signal("leaf4", syscall.SIGKILL)
	f.waitUntil(10*time.Second, "the central result partial with "+leaf4+" missing", func() bool {
		return f.poll() && len(f.st.Central) == 1 && f.st.Central[0].Partial &&
			slices.Equal(f.st.Central[0].Missing, []string{leaf4}) && !f.st.Central[0].Skipped
	})

	stopBase()
	baseRes := <-baseDone
	if baseRes.err != nil {
		t.Fatal(baseRes.err)
	}
	// The expected std_dev from what the sinks received: each server's
	// base rate over the whole run, plus the hot flow's over its own.
	rates := map[string]float64{}
	for i, r := range baseRes.res {
		if r.SendErrors > 0 {
			t.Errorf("%s -> %s: %d send errors, last %s", r.Src, r.Dst, r.SendErrors, r.LastSendError)
		}
		rates[flows[i].To] += wire(float64(r.RecvBytes) / r.Duration.Seconds())
	}
	h := hotRes.res[0]
	if want := hotRate / 8 * hotDuration.Seconds(); float64(h.RecvBytes) < 0.9*want {
		t.Errorf("hot flow: %d bytes received in %s, want at least 90%% of %.0f", h.RecvBytes, h.Duration, want)
	}
	rates[hotServer] += wire(float64(h.RecvBytes) / h.Duration.Seconds())
	var ports []float64
	for _, r := range rates {
		ports = append(ports, r)
	}
	want := stdDev(ports)
	if math.Abs(want-aPriori) > tolerance*aPriori {
		t.Errorf("the sinks' rates give std_dev %.0f, the asked rates %.0f: the lab did not carry the traffic asked for", want, aPriori)
	}
	t.Logf("hot: anomaly actual %.0f B/s (median of %.0f), central std_dev %.0f, from the leaves' stages %.0f, from the sinks' bytes %.0f (server port rates %v)", actual, actuals, centralStd, leavesStd, want, rates)
	if math.Abs(actual-want) > tolerance*want {
		t.Errorf("anomaly actual %.0f, want %.0f (std_dev of the received rates) within %.0f%%", actual, want, tolerance*100)
	}
	if math.Abs(centralStd-want) > tolerance*want {
		t.Errorf("central std_dev %.0f, want %.0f within %.0f%%", centralStd, want, tolerance*100)
	}

	// Down leaves nothing: no namespace with the lab's prefix, no process.
	rep, err := lab.Down(f.plan.Lab, f.dir, 5*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	if len(rep.Namespaces) != len(f.plan.Nodes) {
		t.Errorf("down deleted %d namespaces, want %d", len(rep.Namespaces), len(f.plan.Nodes))
	}
	if left := leftovers(f.plan.Prefix, f.dir.Dir); len(left) > 0 {
		t.Errorf("left after down: %v", left)
	}

	t.Run("streaming receiver gets the alert", func(t *testing.T) {
		if !wired {
			t.Skip("the controller never connected to its streaming entry: Apstra-format streaming out of probe-controller (`streaming:` receivers) is not wired yet")
		}
		raise := alerts.find(mark, probeID, true)
		if raise == 0 || alerts.find(raise, probeID, false) == 0 {
			t.Errorf("receiver got %v (the hot phase from #%d), want the raise and then the clear of %s", alerts.seen(), mark, probeID)
		}
	})
}

// newFabric plans leaf-spine-probe as lab e2e<pid> with ports of its own
// and registers a down for the end of the test, whatever happens.
func newFabric(t *testing.T) *fabric {
	t.Helper()
	src, err := filepath.Abs("../containerlab/leaf-spine-probe.clab.yml")
	if err != nil {
		t.Fatal(err)
	}
	data, err := os.ReadFile(src)
	if err != nil {
		t.Fatal(err)
	}
	name := fmt.Sprintf("e2e%d", os.Getpid())
	data = []byte(strings.Replace(string(data), "name: leaf-spine-probe", "name: "+name, 1))
	root := t.TempDir()
	file := filepath.Join(root, name+".clab.yml")
	if err := os.WriteFile(file, data, 0o644); err != nil {
		t.Fatal(err)
	}
	g, tl, _, err := topology.ParseContainerlab(data, file, topology.Options{})
	if err != nil {
		t.Fatal(err)
	}
	// 10000-19999: below the ephemeral range (32768 and up), where any
	// outgoing connection of a test running beside this one can take a
	// port, and apart from lab's own root tests (20000-32699).
	p, err := lab.Build(g, tl, lab.Options{PortBase: 10000 + os.Getpid()%100*100})
	if err != nil {
		t.Fatal(err)
	}
	f := &fabric{t: t, plan: p, dir: lab.Layout{Dir: filepath.Join(root, "lab")}, file: file, api: p.Controller.API, token: fmt.Sprintf("e2e-%d", os.Getpid())}
	t.Cleanup(func() {
		if t.Failed() {
			t.Logf("controller log:\n%s", tail(f.dir.Log("controller"), 30))
		}
		if _, err := lab.Down(p.Lab, f.dir, time.Second); err != nil {
			t.Errorf("cleanup: %v", err)
		}
	})
	return f
}

// pushSeed adds cmd/probectl/testdata/seed_probe.json with the range max
// set to threshold and enable_streaming on the central processors, with
// the controller's REST API, and returns the probe's id.
func (f *fabric) pushSeed() string {
	t := f.t
	data, err := os.ReadFile("../cmd/probectl/testdata/seed_probe.json")
	if err != nil {
		t.Fatal(err)
	}
	var doc map[string]any
	if err := json.Unmarshal(data, &doc); err != nil {
		t.Fatal(err)
	}
	for _, p := range doc["processors"].([]any) {
		proc := p.(map[string]any)
		props, _ := proc["properties"].(map[string]any)
		if props == nil {
			props = map[string]any{}
			proc["properties"] = props
		}
		switch proc["type"] {
		case "range_check":
			props["range"] = map[string]any{"max": threshold}
			props["enable_streaming"] = true
		case "std_dev", "anomaly":
			props["enable_streaming"] = true
		}
	}
	out, _ := json.Marshal(doc)
	req, _ := http.NewRequest(http.MethodPost, fmt.Sprintf("http://%s/api/blueprints/%s/probes", f.api, f.plan.Lab), bytes.NewReader(out))
	req.Header.Set("Authorization", "Bearer "+f.token)
	req.Header.Set("Content-Type", "application/json")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	var created struct {
		ID string `json:"id"`
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != http.StatusCreated || json.Unmarshal(body, &created) != nil || created.ID == "" {
		t.Fatalf("POST the seed probe: %s: %s, want 201 and its id", resp.Status, body)
	}
	f.waitUntil(20*time.Second, "the controller holding the seed probe", func() bool {
		return f.poll() && len(f.st.Probes) == 1 && f.st.Probes[0].ID == created.ID && f.st.Probes[0].Error == ""
	})
	return created.ID
}

// startController starts probe-controller as lab up does (own session,
// log in the lab folder, reaped when it exits), records it in state.json
// so lab down stops it, and waits until its API answers.
func (f *fabric) startController(bin string) {
	t := f.t
	logf, err := os.OpenFile(f.dir.Log("controller"), os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
	if err != nil {
		t.Fatal(err)
	}
	defer logf.Close()
	cmd := exec.Command(filepath.Join(bin, "probe-controller"), "run", "--config", f.dir.ControllerConfig())
	cmd.Stdout, cmd.Stderr = logf, logf
	cmd.SysProcAttr = &syscall.SysProcAttr{Setsid: true}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	exited := make(chan struct{})
	go func() { _ = cmd.Wait(); close(exited) }()
	f.state.Processes = append(f.state.Processes, lab.Process{Name: "controller", Binary: cmd.Path,
		Config: f.dir.ControllerConfig(), Log: f.dir.Log("controller"), PID: cmd.Process.Pid})
	if err := f.state.Save(f.dir); err != nil {
		t.Fatal(err)
	}
	f.waitUntil(20*time.Second, "the controller's API answering", func() bool {
		select {
		case <-exited:
			t.Fatalf("probe-controller exited at start:\n%s", tail(f.dir.Log("controller"), 20))
		default:
		}
		return f.poll()
	})
}

// edit replaces one line of a configuration file lab up wrote.
func (f *fabric) edit(file, old, new string) {
	data, err := os.ReadFile(file)
	if err != nil {
		f.t.Fatal(err)
	}
	if !strings.Contains(string(data), old) {
		f.t.Fatalf("%s has no %q to replace", file, old)
	}
	if err := os.WriteFile(file, []byte(strings.Replace(string(data), old, new, 1)), 0o644); err != nil {
		f.t.Fatal(err)
	}
}

// signal sends sig to the lab process of a node ("controller" for the
// controller).
func (f *fabric) signal(name string, sig syscall.Signal) {
	for _, p := range f.state.Processes {
		if p.Name == name {
			if err := syscall.Kill(p.PID, sig); err != nil {
				f.t.Fatalf("%s (pid %d): %v", name, p.PID, err)
			}
			return
		}
	}
	f.t.Fatalf("no lab process %s", name)
}

// poll reads the controller's /status into f.st.
func (f *fabric) poll() bool {
	resp, err := http.Get("http://" + f.api + "/status")
	if err != nil {
		return false
	}
	defer resp.Body.Close()
	f.st = controller.Status{}
	return resp.StatusCode == http.StatusOK && json.NewDecoder(resp.Body).Decode(&f.st) == nil
}

// stdDev is the central std_dev_output in the last status.
func (f *fabric) stdDev() (float64, bool) {
	if len(f.st.Central) != 1 {
		return 0, false
	}
	var stage struct {
		Value *float64 `json:"value"`
	}
	if json.Unmarshal(f.st.Central[0].Stages["std_dev_output"], &stage) != nil || stage.Value == nil {
		return 0, false
	}
	return *stage.Value, true
}

// agentStage reads a stage's values from one switch's agent REST API.
func (f *fabric) agentStage(node, probeID, stage string) ([]float64, error) {
	url := fmt.Sprintf("http://%s/api/blueprints/%s/probes/%s/stages/%s", f.plan.Node(node).Agent.API, f.plan.Lab, probeID, stage)
	resp, err := http.Get(url)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return nil, fmt.Errorf("%s: %s", url, resp.Status)
	}
	var doc struct {
		Values []struct {
			Value float64 `json:"value"`
		} `json:"values"`
	}
	if err := json.NewDecoder(resp.Body).Decode(&doc); err != nil {
		return nil, err
	}
	var out []float64
	for _, v := range doc.Values {
		out = append(out, v.Value)
	}
	return out, nil
}

func (f *fabric) diag() string {
	js, _ := json.MarshalIndent(f.st, "", " ")
	return "last controller status:\n" + string(js)
}

// waitUntil polls cond (another process's state) until it holds or the
// timeout passes.
func (f *fabric) waitUntil(timeout time.Duration, what string, cond func() bool) {
	f.t.Helper()
	deadline := time.Now().Add(timeout)
	for !cond() {
		if time.Now().After(deadline) {
			f.t.Fatalf("timed out after %s waiting for %s\n%s", timeout, what, f.diag())
		}
		time.Sleep(50 * time.Millisecond) // polling other processes
	}
}

// number reads an Apstra typed value: value_int or value_float.
func number(m map[string]float64) (float64, bool) {
	if v, ok := m["value_int"]; ok {
		return v, true
	}
	v, ok := m["value_float"]
	return v, ok
}

// alertLog keeps the probe alerts a receiver got.
type alertLog struct {
	mu  sync.Mutex
	got []string // "probe raised|cleared"
}

func (a *alertLog) handle(m stream.Received) {
	al := m.Message.GetAlert()
	pa := al.GetProbeAlert()
	if pa == nil {
		return
	}
	a.mu.Lock()
	defer a.mu.Unlock()
	a.got = append(a.got, pa.GetProbeId()+" "+strconv.FormatBool(al.GetRaised()))
}

// find returns 1 + the index of the first alert at or after from that
// is probeID's raise (or clear), 0 when there is none.
func (a *alertLog) find(from int, probeID string, raised bool) int {
	want := probeID + " " + strconv.FormatBool(raised)
	got := a.seen()
	for i := from; i < len(got); i++ {
		if got[i] == want {
			return i + 1
		}
	}
	return 0
}

func (a *alertLog) count() int { return len(a.seen()) }

func (a *alertLog) seen() []string {
	a.mu.Lock()
	defer a.mu.Unlock()
	return slices.Clone(a.got)
}

// buildBinaries builds probe-agent and probe-controller into a temporary
// folder.
func buildBinaries(t *testing.T) string {
	t.Helper()
	bin := t.TempDir()
	cmd := exec.Command("go", "build", "-tags", "grpcnotrace", "-o", bin+"/", "../cmd/probe-agent", "../cmd/probe-controller")
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	return bin
}

// logHas reports whether one line of a log holds every word.
func logHas(path string, words ...string) bool {
	data, _ := os.ReadFile(path)
	for _, line := range strings.Split(string(data), "\n") {
		all := true
		for _, w := range words {
			all = all && strings.Contains(line, w)
		}
		if all {
			return true
		}
	}
	return false
}

func tail(path string, n int) string {
	data, err := os.ReadFile(path)
	if err != nil {
		return err.Error()
	}
	lines := strings.Split(strings.TrimRight(string(data), "\n"), "\n")
	return strings.Join(lines[max(0, len(lines)-n):], "\n")
}

// leftovers lists namespaces with the lab's prefix and probe-agent or
// probe-controller processes whose command line names the lab folder.
func leftovers(prefix, dir string) []string {
	var out []string
	entries, _ := os.ReadDir("/var/run/netns")
	for _, e := range entries {
		if strings.HasPrefix(e.Name(), prefix) {
			out = append(out, "netns "+e.Name())
		}
	}
	procs, _ := os.ReadDir("/proc")
	for _, e := range procs {
		if _, err := strconv.Atoi(e.Name()); err != nil {
			continue
		}
		raw, err := os.ReadFile(filepath.Join("/proc", e.Name(), "cmdline"))
		if err != nil {
			continue
		}
		cmd := strings.ReplaceAll(string(raw), "\x00", " ")
		if (strings.Contains(cmd, "probe-agent") || strings.Contains(cmd, "probe-controller")) && strings.Contains(cmd, dir+string(filepath.Separator)) {
			out = append(out, "pid "+e.Name()+": "+cmd)
		}
	}
	return out
}

type testWriter struct{ t *testing.T }

func (w testWriter) Write(b []byte) (int, error) {
	w.t.Log(strings.TrimRight(string(b), "\n"))
	return len(b), nil
}
