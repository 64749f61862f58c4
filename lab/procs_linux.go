package lab

import (
	"bytes"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"
)

// startProcess starts bin with args in its own session (it outlives
// probectl), output appended to logPath, and returns it with its start
// time. A goroutine reaps it should it exit while this process lives (the
// tests' case), so that a dead daemon is not a zombie that looks alive.
func startProcess(name, bin, config, logPath string, args ...string) (Process, error) {
	if err := os.MkdirAll(filepath.Dir(logPath), 0o755); err != nil {
		return Process{}, err
	}
	logf, err := os.OpenFile(logPath, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
	if err != nil {
		return Process{}, err
	}
	defer logf.Close()
	cmd := exec.Command(bin, args...)
	cmd.Stdout, cmd.Stderr = logf, logf
	cmd.SysProcAttr = &syscall.SysProcAttr{Setsid: true}
	if err := cmd.Start(); err != nil {
		return Process{}, fmt.Errorf("%s: %w", name, err)
	}
	go func() { _ = cmd.Wait() }()
	ticks, _ := startTicks(cmd.Process.Pid)
	return Process{Name: name, Binary: bin, Config: config, Log: logPath, PID: cmd.Process.Pid, StartTicks: ticks}, nil
}

// procStat returns the state letter and start time of a process.
func procStat(pid int) (state byte, ticks uint64, err error) {
	data, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return 0, 0, err
	}
	// The command name (field 2) is in parentheses and may hold spaces.
	i := bytes.LastIndexByte(data, ')')
	if i < 0 {
		return 0, 0, fmt.Errorf("/proc/%d/stat: no command name", pid)
	}
	fields := strings.Fields(string(data[i+1:]))
	if len(fields) < 20 {
		return 0, 0, fmt.Errorf("/proc/%d/stat: %d fields", pid, len(fields))
	}
	ticks, err = strconv.ParseUint(fields[19], 10, 64) // field 22 overall
	return fields[0][0], ticks, err
}

func startTicks(pid int) (uint64, error) {
	_, t, err := procStat(pid)
	return t, err
}

// Alive tells whether the recorded process still runs (not a zombie, and
// the PID not reused by another process).
func (p Process) Alive() bool {
	state, ticks, err := procStat(p.PID)
	if err != nil || state == 'Z' || state == 'X' {
		return false
	}
	return p.StartTicks == 0 || ticks == p.StartTicks
}

// labProcesses finds running processes whose command line names a file in
// dir: the lab's daemons even when state.json is gone.
func labProcesses(dir string) []Process {
	entries, err := os.ReadDir("/proc")
	if err != nil {
		return nil
	}
	prefix := filepath.Clean(dir) + string(filepath.Separator)
	self := os.Getpid()
	var out []Process
	for _, e := range entries {
		pid, err := strconv.Atoi(e.Name())
		if err != nil || pid == self {
			continue
		}
		raw, err := os.ReadFile(filepath.Join("/proc", e.Name(), "cmdline"))
		if err != nil || len(raw) == 0 {
			continue
		}
		args := strings.Split(strings.TrimRight(string(raw), "\x00"), "\x00")
		base := filepath.Base(args[0])
		if base != "probe-agent" && base != "probe-controller" {
			continue
		}
		for _, a := range args[1:] {
			a = strings.TrimPrefix(a, "--config=")
			if strings.HasPrefix(a, prefix) {
				ticks, _ := startTicks(pid)
				out = append(out, Process{Name: base, Binary: args[0], Config: a, PID: pid, StartTicks: ticks})
				break
			}
		}
	}
	return out
}

// stopProcesses sends SIGTERM to every live process, waits up to grace for
// them to exit, then SIGKILLs the rest and waits for those too. It returns
// the ones it had to kill.
func stopProcesses(procs []Process, grace time.Duration) (killed []Process, err error) {
	var live []Process
	for _, p := range procs {
		if p.Alive() {
			if err := syscall.Kill(p.PID, syscall.SIGTERM); err == nil {
				live = append(live, p)
			}
		}
	}
	waitGone := func(ps []Process, d time.Duration) []Process {
		deadline := time.Now().Add(d)
		for {
			var still []Process
			for _, p := range ps {
				if p.Alive() {
					still = append(still, p)
				}
			}
			if len(still) == 0 || time.Now().After(deadline) {
				return still
			}
			time.Sleep(20 * time.Millisecond) // polling /proc: there is no wait for a non-child
		}
	}
	rest := waitGone(live, grace)
	for _, p := range rest {
		_ = syscall.Kill(p.PID, syscall.SIGKILL)
	}
	if still := waitGone(rest, 5*time.Second); len(still) > 0 {
		var names []string
		for _, p := range still {
			names = append(names, fmt.Sprintf("%s (pid %d)", p.Name, p.PID))
		}
		return rest, errors.New("still running after SIGKILL: " + strings.Join(names, ", "))
	}
	return rest, nil
}
