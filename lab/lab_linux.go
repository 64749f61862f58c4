package lab

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"time"
)

// UpOptions are what Up needs besides the plan.
type UpOptions struct {
	// File is the topology file (the controller's topology.file).
	File string
	// Bin is the folder holding probe-agent and probe-controller.
	Bin string
	// NoAgents and NoController build the network only (or without the
	// controller). A missing probe-controller binary skips the controller
	// with a note; a missing probe-agent binary is an error.
	NoAgents, NoController bool
	// ReadyTimeout bounds the wait for each daemon's API to answer
	// (default 20s).
	ReadyTimeout time.Duration
	// Log receives one line per step.
	Log io.Writer
}

// Up builds the plan: namespaces, veths, addresses and routes, the lab's
// certificates and configurations in l.Dir, then starts one probe-agent
// per switch and the controller, waiting until each one's API answers.
// Everything made is recorded in state.json as it is made; on failure the
// caller runs Down.
func Up(ctx context.Context, p *Plan, l Layout, opts UpOptions) (*State, error) {
	if err := CheckPrivileges(); err != nil {
		return nil, err
	}
	logw := opts.Log
	if logw == nil {
		logw = io.Discard
	}
	if left, _ := listNamespaces(p.Prefix); len(left) > 0 {
		return nil, fmt.Errorf("lab %s has namespaces already (%s, ...): it is up, or a run crashed; run probectl lab down first", p.Lab, left[0])
	}
	if err := os.MkdirAll(l.Dir, 0o755); err != nil {
		return nil, err
	}
	st := &State{Lab: p.Lab, File: opts.File, Dir: l.Dir, Plan: p, Started: time.Now().UTC()}
	for _, n := range p.Nodes {
		if err := createNamespace(n.Netns); err != nil {
			return st, err
		}
		st.Namespaces = append(st.Namespaces, n.Netns)
	}
	if err := st.Save(l); err != nil {
		return st, err
	}
	fmt.Fprintf(logw, "namespaces: %d (%s*)\n", len(st.Namespaces), p.Prefix)
	if err := build(p); err != nil {
		return st, err
	}
	fmt.Fprintf(logw, "links: %d, routes and addresses set\n", len(p.Links))

	names := []string{"controller", "probectl"}
	for _, n := range p.Switches() {
		names = append(names, n.Name)
	}
	if err := WritePKI(l, names); err != nil {
		return st, fmt.Errorf("certificates: %w", err)
	}
	for _, n := range p.Switches() {
		for _, d := range []string{"probes.d", "state"} {
			if err := os.MkdirAll(filepath.Join(l.AgentDir(n.Name), d), 0o755); err != nil {
				return st, err
			}
		}
		if err := os.WriteFile(l.AgentConfig(n.Name), AgentConfig(p, n, l), 0o644); err != nil {
			return st, err
		}
	}
	for _, d := range []string{"state", "probes.d"} {
		if err := os.MkdirAll(filepath.Join(l.ControllerDir(), d), 0o755); err != nil {
			return st, err
		}
	}
	if err := os.WriteFile(l.ControllerConfig(), ControllerConfig(p, opts.File, l), 0o644); err != nil {
		return st, err
	}
	fmt.Fprintf(logw, "certificates and configurations in %s\n", l.Dir)

	if opts.NoAgents {
		return st, st.Save(l)
	}
	timeout := opts.ReadyTimeout
	if timeout == 0 {
		timeout = 20 * time.Second
	}
	agentBin := filepath.Join(opts.Bin, "probe-agent")
	if _, err := os.Stat(agentBin); err != nil {
		return st, fmt.Errorf("probe-agent binary: %w (make build puts it in bin/; or pass --bin DIR, or --no-agents)", err)
	}
	var ports []string
	for _, n := range p.Switches() {
		ports = append(ports, n.Agent.Control, n.Agent.API)
	}
	ctrlBin := filepath.Join(opts.Bin, "probe-controller")
	startController := !opts.NoController
	if _, err := os.Stat(ctrlBin); startController && err != nil {
		fmt.Fprintf(logw, "controller: not started: %v (its configuration is in %s)\n", err, l.ControllerConfig())
		startController = false
	}
	if startController {
		ports = append(ports, p.Controller.API)
	}
	if err := checkFree(ports); err != nil {
		return st, err
	}
	for _, n := range p.Switches() {
		proc, err := startProcess(n.Name, agentBin, l.AgentConfig(n.Name), l.Log(n.Name), "run", "--config", l.AgentConfig(n.Name))
		if err != nil {
			return st, err
		}
		proc.Ready = "http://" + n.Agent.API + "/readyz"
		st.Processes = append(st.Processes, proc)
		if err := st.Save(l); err != nil {
			return st, err
		}
	}
	if startController {
		proc, err := startProcess("controller", ctrlBin, l.ControllerConfig(), l.Log("controller"), "run", "--config", l.ControllerConfig())
		if err != nil {
			return st, err
		}
		proc.Ready = "http://" + p.Controller.API + "/readyz"
		st.Processes = append(st.Processes, proc)
		if err := st.Save(l); err != nil {
			return st, err
		}
	}
	for _, proc := range st.Processes {
		if err := waitAnswering(ctx, proc, timeout); err != nil {
			return st, err
		}
	}
	fmt.Fprintf(logw, "processes: %d started, APIs answering\n", len(st.Processes))
	return st, st.Save(l)
}

// checkFree fails on the first address something already listens on.
func checkFree(addrs []string) error {
	for _, a := range addrs {
		ln, err := net.Listen("tcp", a)
		if err != nil {
			return fmt.Errorf("port %s is taken (another lab or program?): pick other ports with --port-base: %w", a, err)
		}
		ln.Close()
	}
	return nil
}

// waitAnswering polls a daemon's /healthz (the sibling of its Ready URL)
// until it answers, the process exits, or the timeout passes.
func waitAnswering(ctx context.Context, proc Process, timeout time.Duration) error {
	url := strings.TrimSuffix(proc.Ready, "/readyz") + "/healthz"
	client := &http.Client{Timeout: time.Second}
	deadline := time.Now().Add(timeout)
	for {
		resp, err := client.Get(url)
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return nil
			}
		}
		if !proc.Alive() {
			return fmt.Errorf("%s exited at start; its log %s ends:\n%s", proc.Name, proc.Log, tail(proc.Log, 10))
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("%s: %s did not answer within %s (log %s)", proc.Name, url, timeout, proc.Log)
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(100 * time.Millisecond): // polling a process we do not control
		}
	}
}

func tail(path string, lines int) string {
	data, err := os.ReadFile(path)
	if err != nil {
		return err.Error()
	}
	all := strings.Split(strings.TrimRight(string(data), "\n"), "\n")
	if len(all) > lines {
		all = all[len(all)-lines:]
	}
	return strings.Join(all, "\n")
}

// DownReport says what Down removed.
type DownReport struct {
	Stopped    []Process
	Killed     []Process
	Namespaces []string
}

// Down stops the lab's processes (SIGTERM, SIGKILL after grace) and
// deletes its namespaces (their veths go with them), from state.json and
// also by name: processes whose command line names a file in l.Dir, and
// namespaces with the lab's prefix, so it works after a crash, a kill -9
// or a lost state.json. Running it again does nothing.
func Down(labName string, l Layout, grace time.Duration) (DownReport, error) {
	var rep DownReport
	if err := CheckPrivileges(); err != nil {
		return rep, err
	}
	st, err := LoadState(l)
	if err != nil {
		return rep, err
	}
	procs := labProcesses(l.Dir)
	namespaces := map[string]bool{}
	if st != nil {
		seen := map[int]bool{}
		for _, p := range procs {
			seen[p.PID] = true
		}
		for _, p := range st.Processes {
			if !seen[p.PID] {
				procs = append(procs, p)
			}
		}
		for _, ns := range st.Namespaces {
			namespaces[ns] = true
		}
	}
	for _, p := range procs {
		if p.Alive() {
			rep.Stopped = append(rep.Stopped, p)
		}
	}
	rep.Killed, err = stopProcesses(rep.Stopped, grace)
	if err != nil {
		return rep, err
	}
	prefix := NetnsPrefix + labName + "."
	byPrefix, err := listNamespaces(prefix)
	if err != nil {
		return rep, err
	}
	for _, ns := range byPrefix {
		namespaces[ns] = true
	}
	var errs []error
	for ns := range namespaces {
		if !namespaceExists(ns) {
			continue
		}
		if err := deleteNamespace(ns); err != nil {
			errs = append(errs, err)
			continue
		}
		rep.Namespaces = append(rep.Namespaces, ns)
	}
	if len(errs) > 0 {
		return rep, errors.Join(errs...)
	}
	if err := os.Remove(l.State()); err != nil && !errors.Is(err, os.ErrNotExist) {
		return rep, err
	}
	return rep, nil
}

// NodeStatus is one node as Status sees it.
type NodeStatus struct {
	Name       string
	Netns      string
	Present    bool
	Interfaces int // veths and dummies found in the namespace
	Planned    int // interfaces the plan has for it
	Process    *ProcessStatus
}

// ProcessStatus is one daemon as Status sees it.
type ProcessStatus struct {
	Name  string
	PID   int
	Alive bool
	// Ready is the HTTP status of its /readyz with the reason it gave, or
	// why it could not be read.
	Ready string
}

// Status reports each node's namespace and interfaces, and each daemon's
// liveness and readiness.
func Status(p *Plan, l Layout) ([]NodeStatus, *ProcessStatus, error) {
	st, err := LoadState(l)
	if err != nil {
		return nil, nil, err
	}
	procs := map[string]Process{}
	if st != nil {
		for _, pr := range st.Processes {
			procs[pr.Name] = pr
		}
	}
	client := &http.Client{Timeout: 2 * time.Second}
	check := func(pr Process) *ProcessStatus {
		ps := &ProcessStatus{Name: pr.Name, PID: pr.PID, Alive: pr.Alive()}
		if !ps.Alive {
			ps.Ready = "-"
			return ps
		}
		resp, err := client.Get(pr.Ready)
		if err != nil {
			ps.Ready = err.Error()
			return ps
		}
		body, _ := io.ReadAll(io.LimitReader(resp.Body, 512))
		resp.Body.Close()
		ps.Ready = fmt.Sprintf("%d %s", resp.StatusCode, strings.TrimSpace(string(body)))
		return ps
	}
	var out []NodeStatus
	for _, n := range p.Nodes {
		ns := NodeStatus{Name: n.Name, Netns: n.Netns, Present: namespaceExists(n.Netns), Planned: len(n.Interfaces)}
		if ns.Present {
			if links, err := NamespaceLinks(n.Netns); err == nil {
				ns.Interfaces = len(links)
			}
		}
		if pr, ok := procs[n.Name]; ok {
			ns.Process = check(pr)
		}
		out = append(out, ns)
	}
	var ctrl *ProcessStatus
	if pr, ok := procs["controller"]; ok {
		ctrl = check(pr)
	}
	return out, ctrl, nil
}
