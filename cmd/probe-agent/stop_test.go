package main

import (
	"bufio"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"syscall"
	"testing"
)

// runningAgent is probe-agent run with its stderr scanned for lines.
type runningAgent struct {
	cmd    *exec.Cmd
	stdout io.ReadCloser
	lines  chan string // stderr, line by line; closed at exit
	seen   []string
}

func startRun(t *testing.T, cfg string) *runningAgent {
	t.Helper()
	agentBin, _ := buildBinaries(t)
	cfgFile := filepath.Join(t.TempDir(), "agent.yaml")
	if err := os.WriteFile(cfgFile, []byte(cfg), 0o644); err != nil {
		t.Fatal(err)
	}
	return startCmd(t, exec.Command(agentBin, "run", "--config", cfgFile))
}

// startCmd starts a prepared probe-agent run command, scanning its stderr.
func startCmd(t *testing.T, cmd *exec.Cmd) *runningAgent {
	t.Helper()
	a := &runningAgent{cmd: cmd, lines: make(chan string, 1000)}
	var err error
	if a.stdout, err = a.cmd.StdoutPipe(); err != nil {
		t.Fatal(err)
	}
	stderr, err := a.cmd.StderrPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := a.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = a.cmd.Process.Kill() })
	go func() {
		sc := bufio.NewScanner(stderr)
		for sc.Scan() {
			a.lines <- sc.Text()
		}
		close(a.lines)
	}()
	return a
}

// waitLog reads stderr until a line contains want.
func (a *runningAgent) waitLog(t *testing.T, want string) string {
	t.Helper()
	for line := range a.lines {
		a.seen = append(a.seen, line)
		if strings.Contains(line, want) {
			return line
		}
	}
	t.Fatalf("the agent exited without logging %q:\n%s", want, strings.Join(a.seen, "\n"))
	return ""
}

// stop sends SIGTERM and returns the rest of stderr with the exit error.
func (a *runningAgent) stop(t *testing.T) (string, error) {
	t.Helper()
	if err := a.cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	for line := range a.lines {
		a.seen = append(a.seen, line)
	}
	err := a.cmd.Wait()
	return strings.Join(a.seen, "\n"), err
}

func agentConfig(t *testing.T, extra string) string {
	abs := func(p string) string { a, _ := filepath.Abs(p); return a }
	return fmt.Sprintf(`system_id: leaf1
interval: 20ms
collector: {type: replay, replay: {file: %q}}
probes_dir: %q
state_dir: ""
api: {listen: ""}
shutdown_timeout: 200ms
%s`, abs("../probectl/testdata/imbalance.jsonl"), abs("../../agent/testdata"), extra)
}

// TestStdoutReaderExits: `probe-agent run | head -1`: when the reader of
// stdout exits, the agent is not killed by SIGPIPE; it logs the broken
// pipe once, keeps ticking, and a SIGTERM then stops it normally (exit 0,
// "stopped" logged).
func TestStdoutReaderExits(t *testing.T) {
	if testing.Short() {
		t.Skip("builds and runs the binary")
	}
	a := startRun(t, agentConfig(t, "output: json\n"))
	first, err := bufio.NewReader(a.stdout).ReadString('\n')
	if err != nil || !strings.HasPrefix(first, `{"channel":`) {
		t.Fatalf("first stdout line %q: %v", first, err)
	}
	a.stdout.Close() // the reader exits
	a.waitLog(t, "broken pipe")
	// Still alive and ticking after the pipe broke: the summary of a later
	// tick is not needed, the SIGTERM answer is the proof.
	logs, err := a.stop(t)
	if err != nil {
		t.Fatalf("exit after SIGTERM: %v\n%s", err, logs)
	}
	if !strings.Contains(logs, `msg=stopped`) || strings.Count(logs, "broken pipe") != 1 {
		t.Errorf("want one broken-pipe line and a stopped line:\n%s", logs)
	}
}

// TestSIGTERMWithUnsentMessagesExitsZero: a receiver that is down at stop
// leaves messages unsent; that is logged, and the exit is still 0.
func TestSIGTERMWithUnsentMessagesExitsZero(t *testing.T) {
	if testing.Short() {
		t.Skip("builds and runs the binary")
	}
	addr := freeAddr(t) // nothing listens there
	a := startRun(t, agentConfig(t, fmt.Sprintf("log_summary: 20ms\nstreaming:\n  - {type: perfmon, address: %q}\n  - {type: alerts, address: %q}\n", addr, addr)))
	go func() { _, _ = io.Copy(io.Discard, a.stdout) }()
	// The summary line shows messages queued for the receiver.
	for !regexp.MustCompile(`perfmon="\S+ sent=0 dropped=\d+ queued=[1-9]`).MatchString(a.waitLog(t, "msg=summary")) {
	}
	logs, err := a.stop(t)
	if err != nil {
		t.Fatalf("exit after SIGTERM with messages unsent: %v, want 0\n%s", err, logs)
	}
	if !strings.Contains(logs, "stopped with messages unsent") || !strings.Contains(logs, "unsent") {
		t.Errorf("the unsent messages are not logged:\n%s", logs)
	}
}
