package main

import (
	"bufio"
	"debug/buildinfo"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/vishvananda/netns"
)

// staticAgent builds probe-agent with CGO_ENABLED=0, as the Makefile and
// packaging/build.sh do, next to the binaries of buildBinaries (whose
// directory TestMain removes). Only such a build can change capabilities
// on every thread (syscall.AllThreadsSyscall returns ENOTSUP with cgo).
var (
	staticOnce sync.Once
	staticBin  string
	staticErr  error
)

func staticAgent(t *testing.T) string {
	t.Helper()
	agentBin, _ := buildBinaries(t)
	staticOnce.Do(func() {
		staticBin = filepath.Join(filepath.Dir(agentBin), "probe-agent-static")
		cmd := exec.Command("go", "build", "-tags", "grpcnotrace", "-o", staticBin, "../probe-agent")
		cmd.Env = append(os.Environ(), "CGO_ENABLED=0")
		if out, err := cmd.CombinedOutput(); err != nil {
			staticErr = fmt.Errorf("building probe-agent with CGO_ENABLED=0: %v\n%s", err, out)
		}
	})
	if staticErr != nil {
		t.Fatal(staticErr)
	}
	return staticBin
}

// usesCgo reports whether the binary at path was built with cgo.
func usesCgo(t *testing.T, path string) bool {
	t.Helper()
	bi, err := buildinfo.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	for _, s := range bi.Settings {
		if s.Key == "CGO_ENABLED" {
			return s.Value == "1"
		}
	}
	return false
}

func ipCmd(t *testing.T, args ...string) {
	t.Helper()
	if out, err := exec.Command("ip", args...).CombinedOutput(); err != nil {
		t.Fatalf("ip %s: %v\n%s", strings.Join(args, " "), err, out)
	}
}

// vethPair makes namespaces a and b joined by a veth pair (va in a,
// 10.203.0.1; vb in b, 10.203.0.2), all deleted when the test ends.
func vethPair(t *testing.T) (a, b string) {
	t.Helper()
	a = fmt.Sprintf("pa-cap-%d-a", os.Getpid())
	b = fmt.Sprintf("pa-cap-%d-b", os.Getpid())
	for _, ns := range []string{a, b} {
		_ = exec.Command("ip", "netns", "del", ns).Run() // a previous run's leftover
		ipCmd(t, "netns", "add", ns)
		t.Cleanup(func() { _ = exec.Command("ip", "netns", "del", ns).Run() })
	}
	ipCmd(t, "-n", a, "link", "add", "va", "type", "veth", "peer", "name", "vb", "netns", b)
	ipCmd(t, "-n", a, "addr", "add", "10.203.0.1/30", "dev", "va")
	ipCmd(t, "-n", b, "addr", "add", "10.203.0.2/30", "dev", "vb")
	ipCmd(t, "-n", a, "link", "set", "va", "up")
	ipCmd(t, "-n", b, "link", "set", "vb", "up")
	return a, b
}

// sendFrom sends a UDP datagram from namespace ns to addr every 20 ms
// until the test ends: real traffic through the veth, which the far end's
// receive counters show.
func sendFrom(t *testing.T, ns, addr string) {
	t.Helper()
	h, err := netns.GetFromName(ns)
	if err != nil {
		t.Fatal(err)
	}
	defer h.Close()
	type result struct {
		c   net.PacketConn
		err error
	}
	res := make(chan result, 1)
	go func() {
		// This thread changes namespace and is never unlocked: it ends
		// with the goroutine instead of being reused elsewhere.
		runtime.LockOSThread()
		if err := netns.Set(h); err != nil {
			res <- result{err: err}
			return
		}
		c, err := net.ListenPacket("udp4", ":0")
		res <- result{c, err}
	}()
	r := <-res
	if r.err != nil {
		t.Fatal(r.err)
	}
	dst, err := net.ResolveUDPAddr("udp4", addr)
	if err != nil {
		t.Fatal(err)
	}
	done := make(chan struct{})
	stopped := make(chan struct{})
	t.Cleanup(func() { close(done); <-stopped; r.c.Close() })
	go func() {
		defer close(stopped)
		tick := time.NewTicker(20 * time.Millisecond) // pacing, not synchronisation
		defer tick.Stop()
		payload := make([]byte, 200)
		for {
			select {
			case <-done:
				return
			case <-tick.C:
				_, _ = r.c.WriteTo(payload, dst)
			}
		}
	}()
}

// sample is one value of the rx_bytes stage for interface va.
type sample struct {
	at    time.Time
	value float64
}

// vaSamples reads the agent's JSON stdout and passes on the rx_bytes
// samples of va. Never blocks the agent: samples beyond the buffer are
// dropped (the test only needs recent ones).
func vaSamples(r io.Reader) <-chan sample {
	out := make(chan sample, 10000)
	go func() {
		defer close(out)
		sc := bufio.NewScanner(r)
		sc.Buffer(make([]byte, 64<<10), 1<<20)
		for sc.Scan() {
			var line struct {
				Channel string `json:"channel"`
				Message struct {
					Timestamp string `json:"timestamp"`
					PerfMon   struct {
						ProbeMessage struct {
							Property []struct {
								Name, Value string
							} `json:"property"`
							FloatValue float64 `json:"float_value"`
							StageName  string  `json:"stage_name"`
						} `json:"probe_message"`
					} `json:"perf_mon"`
				} `json:"message"`
			}
			if json.Unmarshal(sc.Bytes(), &line) != nil || line.Channel != "perfmon" {
				continue
			}
			pm := line.Message.PerfMon.ProbeMessage
			if pm.StageName != "rx_bytes" {
				continue
			}
			for _, p := range pm.Property {
				if p.Name == "interface" && p.Value == "va" {
					us, err := strconv.ParseInt(line.Message.Timestamp, 10, 64)
					if err != nil {
						continue
					}
					select {
					case out <- sample{time.UnixMicro(us), pm.FloatValue}:
					default:
					}
				}
			}
		}
	}()
	return out
}

// waitTraffic waits for a non-zero rx_bytes rate of va measured after t0:
// the collector reads the namespace and the counters move.
func waitTraffic(t *testing.T, samples <-chan sample, t0 time.Time, what string) {
	t.Helper()
	timeout := time.After(30 * time.Second)
	for {
		select {
		case s, ok := <-samples:
			if !ok {
				t.Fatalf("%s: the agent's stdout closed before va's counters moved", what)
			}
			if s.at.After(t0) && s.value > 0 {
				return
			}
		case <-timeout:
			t.Fatalf("%s: no rx_bytes of va above 0 after %v within 30s", what, t0)
		}
	}
}

// waitLogAny reads stderr until a line contains one of wants.
func (a *runningAgent) waitLogAny(t *testing.T, wants ...string) string {
	t.Helper()
	for line := range a.lines {
		a.seen = append(a.seen, line)
		for _, w := range wants {
			if strings.Contains(line, w) {
				return line
			}
		}
	}
	t.Fatalf("the agent exited without logging any of %q:\n%s", wants, strings.Join(a.seen, "\n"))
	return ""
}

// logTime is the time= field of a log line.
func logTime(t *testing.T, line string) time.Time {
	t.Helper()
	f, _, _ := strings.Cut(strings.TrimPrefix(line, "time="), " ")
	at, err := time.Parse(time.RFC3339Nano, f)
	if err != nil {
		t.Fatalf("no time in log line %q: %v", line, err)
	}
	return at
}

// threadCaps reads the capability sets (CapInh, CapPrm, CapEff, CapBnd,
// CapAmb) of every thread of pid.
func threadCaps(t *testing.T, pid int) map[string]map[string]uint64 {
	t.Helper()
	tasks, err := filepath.Glob(fmt.Sprintf("/proc/%d/task/*/status", pid))
	if err != nil || len(tasks) == 0 {
		t.Fatalf("no threads of %d: %v", pid, err)
	}
	all := map[string]map[string]uint64{}
	for _, f := range tasks {
		raw, err := os.ReadFile(f)
		if err != nil {
			continue // the thread exited
		}
		sets := map[string]uint64{}
		for _, line := range strings.Split(string(raw), "\n") {
			if k, v, ok := strings.Cut(line, ":\t"); ok && strings.HasPrefix(k, "Cap") {
				if sets[k], err = strconv.ParseUint(strings.TrimSpace(v), 16, 64); err != nil {
					t.Fatalf("%s: %q: %v", f, line, err)
				}
			}
		}
		all[filepath.Base(filepath.Dir(f))] = sets
	}
	return all
}

const (
	capNetBindService = 10
	capSysAdmin       = 21
)

// lowPort returns a loopback address with a free port below 1024.
func lowPort(t *testing.T) string {
	t.Helper()
	for p := 980; p < 1024; p++ {
		addr := fmt.Sprintf("127.0.0.1:%d", p)
		if l, err := net.Listen("tcp", addr); err == nil {
			l.Close()
			return addr
		}
	}
	t.Skip("no free port in 980-1023")
	return ""
}

// TestRunDropsCapSysAdminAfterEnteringNetns runs probe-agent against a
// veth pair in a network namespace (collector.netlink.netns) with
// CAP_SYS_ADMIN: as root, and as an unprivileged user holding only that
// capability as an ambient one, which is what the packaged unit with the
// probe-agent-netns.conf drop-in gives it. Once the collector is open no
// thread holds the capability any more, the counters of real traffic still
// move, also after a SIGHUP that changes the interval and so builds a new
// collector on the same namespace, and a SIGHUP naming another namespace
// is refused, saying a restart is needed, while the agent keeps running.
// A cgo build cannot drop it: it says so at Warn and keeps it.
func TestRunDropsCapSysAdminAfterEnteringNetns(t *testing.T) {
	if testing.Short() {
		t.Skip("builds and runs the binary")
	}
	if os.Geteuid() != 0 {
		t.Skip("needs root: creates network namespaces and a veth pair")
	}
	if _, err := exec.LookPath("ip"); err != nil {
		t.Skip("needs the ip command (iproute2)")
	}
	static := staticAgent(t)
	if usesCgo(t, static) {
		t.Fatal("the CGO_ENABLED=0 build uses cgo")
	}
	cgoBin, _ := buildBinaries(t)
	cases := []struct {
		name string
		bin  string
		// Run as uid 65534 with CAP_SYS_ADMIN and CAP_NET_BIND_SERVICE
		// ambient (both drop-ins), the API on a port below 1024.
		nobody   bool
		wantDrop bool
	}{
		{"static as root", static, false, true},
		{"static as nobody with ambient CAP_SYS_ADMIN and CAP_NET_BIND_SERVICE", static, true, true},
	}
	if usesCgo(t, cgoBin) {
		cases = append(cases, struct {
			name     string
			bin      string
			nobody   bool
			wantDrop bool
		}{"cgo as root", cgoBin, false, false})
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			a, b := vethPair(t)
			sendFrom(t, b, "10.203.0.1:9")
			// Readable by nobody: the binary, the configuration, the probe.
			dir, err := os.MkdirTemp("", "pa-capdrop-")
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() { os.RemoveAll(dir) })
			bin := filepath.Join(dir, "probe-agent")
			raw, err := os.ReadFile(tc.bin)
			if err != nil {
				t.Fatal(err)
			}
			if err := os.WriteFile(bin, raw, 0o755); err != nil {
				t.Fatal(err)
			}
			probes := filepath.Join(dir, "probes.d")
			if err := os.Mkdir(probes, 0o755); err != nil {
				t.Fatal(err)
			}
			if err := os.WriteFile(filepath.Join(probes, "rx.json"), []byte(`{"label": "rx bytes", "processors": [
  {"name": "rx", "type": "if_counter", "inputs": {}, "outputs": {"out": "rx_bytes"},
   "properties": {"counter_type": "rx_bytes", "enable_streaming": true}}]}`), 0o644); err != nil {
				t.Fatal(err)
			}
			if err := os.Chmod(dir, 0o755); err != nil {
				t.Fatal(err)
			}
			cfgFile := filepath.Join(dir, "agent.yaml")
			api := ""
			if tc.nobody {
				// Bound after the drop: CAP_NET_BIND_SERVICE must stay.
				api = lowPort(t)
			}
			writeCfg := func(ns, interval string) {
				t.Helper()
				cfg := fmt.Sprintf("system_id: leaf1\ninterval: %s\ncollector: {type: netlink, netlink: {netns: %q}}\nprobes_dir: %q\nstate_dir: \"\"\napi: {listen: %q}\noutput: json\nshutdown_timeout: 200ms\n", interval, ns, probes, api)
				if err := os.WriteFile(cfgFile, []byte(cfg), 0o644); err != nil {
					t.Fatal(err)
				}
			}
			writeCfg(a, "100ms")
			cmd := exec.Command(bin, "run", "--config", cfgFile)
			if tc.nobody {
				cmd.SysProcAttr = &syscall.SysProcAttr{
					Credential:  &syscall.Credential{Uid: 65534, Gid: 65534},
					AmbientCaps: []uintptr{capSysAdmin, capNetBindService},
				}
			}
			ag := startCmd(t, cmd)
			samples := vaSamples(ag.stdout)
			pid := ag.cmd.Process.Pid

			if !tc.wantDrop {
				line := ag.waitLogAny(t, "CAP_SYS_ADMIN kept", "agent running")
				if !strings.Contains(line, "CAP_SYS_ADMIN kept for the life of the process") || !strings.Contains(line, "CGO_ENABLED=0") {
					t.Errorf("a cgo build does not say it kept the capability and why: %s", line)
				}
				for tid, sets := range threadCaps(t, pid) {
					if sets["CapEff"]&(1<<capSysAdmin) == 0 {
						t.Errorf("thread %s lacks CAP_SYS_ADMIN though it was kept", tid)
					}
				}
				waitTraffic(t, samples, time.Time{}, "cgo build")
				if logs, err := ag.stop(t); err != nil {
					t.Fatalf("exit after SIGTERM: %v\n%s", err, logs)
				}
				return
			}

			line := ag.waitLogAny(t, "CAP_SYS_ADMIN", "agent running")
			if !strings.Contains(line, "gave up CAP_SYS_ADMIN after entering the network namespace") || !strings.Contains(line, "netns="+a) {
				t.Errorf("no Info line about the dropped capability before the agent ran: %s", line)
			}
			// Read the threads while the agent runs its collector, after
			// the drop: every one, the anchor in the namespace included.
			waitTraffic(t, samples, time.Time{}, "at start")
			threads := threadCaps(t, pid)
			if len(threads) < 2 {
				t.Errorf("%d threads: expected the runtime's and the anchor's", len(threads))
			}
			t.Logf("%d threads after the drop", len(threads))
			for tid, sets := range threads {
				for _, k := range []string{"CapEff", "CapPrm", "CapInh", "CapAmb"} {
					if sets[k]&(1<<capSysAdmin) != 0 {
						t.Errorf("thread %s still holds CAP_SYS_ADMIN in %s (%016x)", tid, k, sets[k])
					}
				}
				if tc.nobody {
					for _, k := range []string{"CapEff", "CapPrm", "CapAmb"} {
						if sets[k] != 1<<capNetBindService {
							t.Errorf("thread %s of the unprivileged agent: %s %016x, want CAP_NET_BIND_SERVICE alone", tid, k, sets[k])
						}
					}
				}
				if !tc.nobody && sets["CapEff"] == 0 {
					t.Errorf("thread %s of the root agent lost every capability; only CAP_SYS_ADMIN should go", tid)
				}
			}

			if api != "" {
				resp, err := http.Get("http://" + api + "/healthz")
				if err != nil {
					t.Fatalf("the API on %s, bound after the drop: %v", api, err)
				}
				resp.Body.Close()
			}

			// A new collector on the same namespace: opened on the anchor,
			// without the capability.
			writeCfg(a, "150ms")
			if err := ag.cmd.Process.Signal(syscall.SIGHUP); err != nil {
				t.Fatal(err)
			}
			line = ag.waitLogAny(t, "configuration reloaded", "reload failed")
			if !strings.Contains(line, "configuration reloaded") || !strings.Contains(line, "interval=150ms") {
				t.Fatalf("the reload on the same namespace failed: %s", line)
			}
			waitTraffic(t, samples, logTime(t, line), "after the reload on the same namespace")

			// Another namespace cannot be entered any more.
			writeCfg(b, "150ms")
			if err := ag.cmd.Process.Signal(syscall.SIGHUP); err != nil {
				t.Fatal(err)
			}
			line = ag.waitLogAny(t, "configuration reloaded", "reload failed")
			want := fmt.Sprintf(`network namespace \"%s\": needs a restart: probe-agent gave up CAP_SYS_ADMIN after entering namespace \"%s\" at start`, b, a)
			if !strings.Contains(line, "reload failed; the running configuration is unchanged") || !strings.Contains(line, want) {
				t.Fatalf("a reload naming another namespace: %s\nwant it refused with %s", line, want)
			}
			waitTraffic(t, samples, logTime(t, line), "after the refused reload")
			if logs, err := ag.stop(t); err != nil {
				t.Fatalf("exit after SIGTERM: %v\n%s", err, logs)
			}
		})
	}
}
