package main

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/probe-agent/probe-agent/agent/stream"
)

// proc is one measured process in its cgroup.
type proc struct {
	name string
	cmd  *exec.Cmd
	cg   *cgroup
	log  string
	done chan struct{}
	err  error
}

// startProc starts cmd with its output in logFile and moves it into a
// cgroup of its own named cgName.
func startProc(name, cgName, logFile string, cmd *exec.Cmd) (*proc, error) {
	f, err := os.Create(logFile)
	if err != nil {
		return nil, err
	}
	cmd.Stdout, cmd.Stderr = f, f
	// Its own process group: a Ctrl-C at the terminal reaches the harness,
	// which stops the process itself after the window's cleanup. No
	// Pdeathsig: it fires when the forking thread exits, and inNetns ends
	// threads on purpose.
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	if err := cmd.Start(); err != nil {
		f.Close()
		return nil, fmt.Errorf("starting %s: %w", name, err)
	}
	p := &proc{name: name, cmd: cmd, log: logFile, done: make(chan struct{})}
	go func() { p.err = cmd.Wait(); f.Close(); close(p.done) }()
	if p.cg, err = newCgroup(cgName, cmd.Process.Pid); err != nil {
		p.stop()
		return nil, err
	}
	return p, nil
}

func (p *proc) alive() bool {
	select {
	case <-p.done:
		return false
	default:
		return true
	}
}

// failure describes an exit before the end of the window, with the end of
// the process's log.
func (p *proc) failure() error {
	raw, _ := os.ReadFile(p.log)
	if len(raw) > 2000 {
		raw = raw[len(raw)-2000:]
	}
	return fmt.Errorf("%s exited early (%v); its log %s ends:\n%s", p.name, p.err, p.log, raw)
}

// stop ends the process (SIGTERM, then SIGKILL after 5 s) and removes its
// cgroup.
func (p *proc) stop() {
	if p.alive() {
		_ = p.cmd.Process.Signal(syscall.SIGTERM)
		select {
		case <-p.done:
		case <-time.After(5 * time.Second):
			_ = p.cmd.Process.Kill()
			<-p.done
		}
	}
	if p.cg != nil {
		p.cg.remove()
	}
}

// receiver is the streaming receiver on loopback: it decodes the agent's
// frames (so a broken stream shows) and counts bytes and messages.
type receiver struct {
	l     net.Listener
	bytes atomic.Int64
	msgs  atomic.Int64
}

func newReceiver() (*receiver, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, err
	}
	r := &receiver{l: l}
	rcv := stream.NewReceiver(stream.ReceiverConfig{
		Sequenced: true,
		Handle:    func(stream.Received) { r.msgs.Add(1) },
	})
	go func() { _ = rcv.Serve(countingListener{l, &r.bytes}) }()
	return r, nil
}

func (r *receiver) addr() string { return r.l.Addr().String() }
func (r *receiver) close()       { r.l.Close() }

type countingListener struct {
	net.Listener
	n *atomic.Int64
}

func (l countingListener) Accept() (net.Conn, error) {
	c, err := l.Listener.Accept()
	if err != nil {
		return nil, err
	}
	return countingConn{c, l.n}, nil
}

type countingConn struct {
	net.Conn
	n *atomic.Int64
}

func (c countingConn) Read(b []byte) (int, error) {
	n, err := c.Conn.Read(b)
	c.n.Add(int64(n))
	return n, err
}

// scraper fetches node_exporter's /metrics once per interval over one
// kept-alive connection opened in the namespace node_exporter listens in,
// asking for gzip as Prometheus does, and counts the bytes on the wire.
type scraper struct {
	conn    net.Conn
	rd      *bufio.Reader
	bytes   atomic.Int64
	scrapes atomic.Int64
	failed  atomic.Value
}

func dialIn(ns, addr string) (net.Conn, error) {
	var c net.Conn
	err := inNetns(ns, func() error {
		var err error
		c, err = net.DialTimeout("tcp", addr, 2*time.Second)
		return err
	})
	return c, err
}

// waitListening dials addr in ns until node_exporter accepts, up to 20 s.
func waitListening(ctx context.Context, ns, addr string, p *proc) (net.Conn, error) {
	deadline := time.Now().Add(20 * time.Second)
	for {
		c, err := dialIn(ns, addr)
		if err == nil {
			return c, nil
		}
		if !p.alive() {
			return nil, p.failure()
		}
		if time.Now().After(deadline) || ctx.Err() != nil {
			return nil, fmt.Errorf("node_exporter not listening on %s in %s: %w", addr, ns, err)
		}
		select {
		case <-ctx.Done():
		case <-time.After(200 * time.Millisecond):
		}
	}
}

func (s *scraper) scrapeOnce() error {
	req := "GET /metrics HTTP/1.1\r\nHost: node-exporter\r\nAccept-Encoding: gzip\r\nUser-Agent: probe-agent-bench\r\n\r\n"
	if _, err := io.WriteString(s.conn, req); err != nil {
		return err
	}
	resp, err := http.ReadResponse(s.rd, nil)
	if err != nil {
		return err
	}
	n, err := io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	if err != nil {
		return err
	}
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("node_exporter: %s", resp.Status)
	}
	s.bytes.Add(n)
	s.scrapes.Add(1)
	return nil
}

// run scrapes every interval until ctx ends, starting at once.
func (s *scraper) run(ctx context.Context, interval time.Duration) {
	t := time.NewTicker(interval)
	defer t.Stop()
	for {
		if err := s.scrapeOnce(); err != nil {
			s.failed.Store(err.Error())
			return
		}
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}

// countNetdev is one uncompressed scrape's node_network_receive_bytes_total
// samples: node_exporter really sees the namespace's interfaces.
func countNetdev(ns, addr string) (int, error) {
	c, err := dialIn(ns, addr)
	if err != nil {
		return 0, err
	}
	defer c.Close()
	if _, err := io.WriteString(c, "GET /metrics HTTP/1.1\r\nHost: node-exporter\r\nConnection: close\r\n\r\n"); err != nil {
		return 0, err
	}
	resp, err := http.ReadResponse(bufio.NewReader(c), nil)
	if err != nil {
		return 0, err
	}
	defer resp.Body.Close()
	n := 0
	sc := bufio.NewScanner(resp.Body)
	sc.Buffer(make([]byte, 64<<10), 1<<20)
	for sc.Scan() {
		if strings.HasPrefix(sc.Text(), "node_network_receive_bytes_total{") {
			n++
		}
	}
	return n, sc.Err()
}

// findNodeExporter is the node_exporter to run: the -node-exporter flag, else
// PATH, else where `go install` puts it.
func findNodeExporter(flag string) string {
	if flag != "" {
		return flag
	}
	if p, err := exec.LookPath("node_exporter"); err == nil {
		return p
	}
	var dirs []string
	if out, err := exec.Command("go", "env", "GOBIN", "GOPATH").Output(); err == nil {
		f := strings.Split(strings.TrimSpace(string(out)), "\n")
		if len(f) > 0 && f[0] != "" {
			dirs = append(dirs, f[0])
		}
		if len(f) > 1 && f[1] != "" {
			dirs = append(dirs, filepath.Join(strings.Split(f[1], ":")[0], "bin"))
		}
	}
	for _, d := range dirs {
		p := filepath.Join(d, "node_exporter")
		if _, err := os.Stat(p); err == nil {
			return p
		}
	}
	return ""
}
