//go:build !linux

package lab

import (
	"context"
	"errors"
	"time"
)

var errLinuxOnly = errors.New("probectl lab builds network namespaces: Linux only")

// CheckPrivileges fails: labs need Linux network namespaces.
func CheckPrivileges() error { return errLinuxOnly }

// UpOptions are what Up needs besides the plan.
type UpOptions struct {
	File, Bin              string
	NoAgents, NoController bool
	ReadyTimeout           time.Duration
	Log                    any
}

// Up fails: Linux only.
func Up(context.Context, *Plan, Layout, UpOptions) (*State, error) { return nil, errLinuxOnly }

// DownReport says what Down removed.
type DownReport struct {
	Stopped, Killed []Process
	Namespaces      []string
}

// NodeStatus is one node as Status sees it.
type NodeStatus struct {
	Name, Netns         string
	Present             bool
	Interfaces, Planned int
	Process             *ProcessStatus
}

// ProcessStatus is one daemon as Status sees it.
type ProcessStatus struct {
	Name  string
	PID   int
	Alive bool
	Ready string
}

// Status fails: Linux only.
func Status(*Plan, Layout) ([]NodeStatus, *ProcessStatus, error) { return nil, nil, errLinuxOnly }

// Down fails: Linux only.
func Down(string, Layout, time.Duration) (DownReport, error) { return DownReport{}, errLinuxOnly }

// RunFlows fails: Linux only.
func RunFlows(context.Context, *Plan, []Flow, time.Duration) ([]FlowResult, error) {
	return nil, errLinuxOnly
}
