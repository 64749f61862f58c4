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
type DownReport struct{ Stopped, Killed []Process }

// Down fails: Linux only.
func Down(string, Layout, time.Duration) (DownReport, error) { return DownReport{}, errLinuxOnly }

// RunFlows fails: Linux only.
func RunFlows(context.Context, *Plan, []Flow, time.Duration) ([]FlowResult, error) {
	return nil, errLinuxOnly
}
