package main

import (
	"bufio"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
)

// cgroup is one measured process's control group: cgroup v2 where the
// unified hierarchy is mounted at /sys/fs/cgroup, else the v1 cpuacct and
// memory hierarchies, else none (CPU then comes from /proc/PID/stat, at
// clock-tick resolution). The groups are made below the harness's own, so
// limits the machine puts on the harness still hold; a v1 memory group is
// only made when the harness is in the root one.
type cgroup struct {
	kind string   // "v2", "v1" or "proc"
	dirs []string // made by us, removed by remove
	cpu  string   // v2: cpu.stat; v1: cpuacct.usage
	mem  string   // v2: memory.current; v1: memory.usage_in_bytes; "" = none
	pid  int
}

// newCgroup makes the group name for the process pid and moves it in.
func newCgroup(name string, pid int) (*cgroup, error) {
	g := &cgroup{kind: "proc", pid: pid}
	if ctrl, err := os.ReadFile("/sys/fs/cgroup/cgroup.controllers"); err == nil {
		own := selfCgroup("")
		dir := filepath.Join("/sys/fs/cgroup", own, name)
		if err := os.Mkdir(dir, 0o755); err != nil {
			return nil, fmt.Errorf("cgroup v2 %s: %w", dir, err)
		}
		g.dirs = append(g.dirs, dir)
		if err := os.WriteFile(filepath.Join(dir, "cgroup.procs"), []byte(strconv.Itoa(pid)), 0o644); err != nil {
			g.remove()
			return nil, fmt.Errorf("moving %d into %s: %w", pid, dir, err)
		}
		g.kind, g.cpu = "v2", filepath.Join(dir, "cpu.stat")
		if strings.Contains(string(ctrl), "memory") {
			g.mem = filepath.Join(dir, "memory.current")
		}
		return g, nil
	}
	for _, h := range []struct{ hier, ctl, file string }{
		{"cpuacct", "cpuacct", "cpuacct.usage"},
		{"memory", "memory", "memory.usage_in_bytes"},
	} {
		base := filepath.Join("/sys/fs/cgroup", h.hier)
		if _, err := os.Stat(filepath.Join(base, h.file)); err != nil {
			continue
		}
		own := selfCgroup(h.ctl)
		if h.hier == "memory" && own != "/" {
			// A memory group someone else made for this process (a
			// container, a session): stay out of it; VmRSS still tells.
			continue
		}
		dir := filepath.Join(base, own, name)
		if err := os.Mkdir(dir, 0o755); err != nil {
			g.remove()
			return nil, fmt.Errorf("cgroup v1 %s: %w", dir, err)
		}
		g.dirs = append(g.dirs, dir)
		if err := os.WriteFile(filepath.Join(dir, "cgroup.procs"), []byte(strconv.Itoa(pid)), 0o644); err != nil {
			g.remove()
			return nil, fmt.Errorf("moving %d into %s: %w", pid, dir, err)
		}
		if h.hier == "cpuacct" {
			g.kind, g.cpu = "v1", filepath.Join(dir, h.file)
		} else {
			g.mem = filepath.Join(dir, h.file)
		}
	}
	return g, nil
}

// selfCgroup is the harness's own group in the hierarchy of controller ctl
// ("" = the unified one), from /proc/self/cgroup.
func selfCgroup(ctl string) string {
	f, err := os.Open("/proc/self/cgroup")
	if err != nil {
		return "/"
	}
	defer f.Close()
	s := bufio.NewScanner(f)
	for s.Scan() {
		parts := strings.SplitN(s.Text(), ":", 3)
		if len(parts) != 3 {
			continue
		}
		for _, c := range strings.Split(parts[1], ",") {
			if c == ctl {
				return parts[2]
			}
		}
	}
	return "/"
}

// cpuMicros is the CPU time the group's processes have used, in µs.
func (g *cgroup) cpuMicros() (int64, error) {
	switch g.kind {
	case "v2":
		raw, err := os.ReadFile(g.cpu)
		if err != nil {
			return 0, err
		}
		for _, line := range strings.Split(string(raw), "\n") {
			if v, ok := strings.CutPrefix(line, "usage_usec "); ok {
				return strconv.ParseInt(v, 10, 64)
			}
		}
		return 0, fmt.Errorf("%s: no usage_usec", g.cpu)
	case "v1":
		raw, err := os.ReadFile(g.cpu)
		if err != nil {
			return 0, err
		}
		ns, err := strconv.ParseInt(strings.TrimSpace(string(raw)), 10, 64)
		return ns / 1000, err
	}
	return procCPUMicros(g.pid)
}

// memBytes is the group's memory charge (anonymous memory plus page cache
// it faulted in), or -1 without a memory controller.
func (g *cgroup) memBytes() int64 {
	if g.mem == "" {
		return -1
	}
	raw, err := os.ReadFile(g.mem)
	if err != nil {
		return -1
	}
	v, err := strconv.ParseInt(strings.TrimSpace(string(raw)), 10, 64)
	if err != nil {
		return -1
	}
	return v
}

// remove deletes the groups; the processes in them must have exited (their
// pids leave the group when reaped).
func (g *cgroup) remove() {
	for i := len(g.dirs) - 1; i >= 0; i-- {
		_ = os.Remove(g.dirs[i])
	}
	g.dirs = nil
}

// procCPUMicros is utime+stime of pid from /proc/PID/stat.
func procCPUMicros(pid int) (int64, error) {
	raw, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return 0, err
	}
	s := string(raw)
	f := strings.Fields(s[strings.LastIndexByte(s, ')')+2:])
	if len(f) < 13 {
		return 0, fmt.Errorf("/proc/%d/stat: %d fields", pid, len(f))
	}
	ut, _ := strconv.ParseInt(f[11], 10, 64)
	st, _ := strconv.ParseInt(f[12], 10, 64)
	// USER_HZ is 100 on every Linux the agent targets.
	return (ut + st) * 10000, nil
}

// procStatus is /proc/PID/status's kB fields (VmRSS, RssAnon, RssFile, ...).
func procStatus(pid int) map[string]int64 {
	raw, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	out := map[string]int64{}
	if err != nil {
		return out
	}
	for _, line := range strings.Split(string(raw), "\n") {
		if f := strings.Fields(line); len(f) == 3 && f[2] == "kB" {
			out[strings.TrimSuffix(f[0], ":")], _ = strconv.ParseInt(f[1], 10, 64)
		}
	}
	return out
}
