package lab

import (
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"time"
)

// State is what Up made, written to LABDIR/state.json after every step so
// that Down knows it even when Up stopped halfway.
type State struct {
	Lab string `json:"lab"`
	// File is the topology file, absolute.
	File string `json:"file"`
	Dir  string `json:"dir"`
	// Namespaces Up created (Down also deletes any other with the prefix).
	Namespaces []string `json:"namespaces"`
	// Processes Up started.
	Processes []Process `json:"processes"`
	Plan      *Plan     `json:"plan"`
	Started   time.Time `json:"started"`
}

// Process is one daemon Up started.
type Process struct {
	// Name is the node name for agents, "controller" for the controller.
	Name   string `json:"name"`
	Binary string `json:"binary"`
	Config string `json:"config"`
	Log    string `json:"log"`
	PID    int    `json:"pid"`
	// StartTicks is the process's start time (field 22 of /proc/PID/stat):
	// Down only signals PID if it still names the same process.
	StartTicks uint64 `json:"start_ticks"`
	// Ready is the URL answering 200 when the process is ready.
	Ready string `json:"ready,omitempty"`
}

// Save writes the state atomically.
func (s *State) Save(l Layout) error {
	data, err := json.MarshalIndent(s, "", "  ")
	if err != nil {
		return err
	}
	tmp := l.State() + ".tmp"
	if err := os.WriteFile(tmp, append(data, '\n'), 0o644); err != nil {
		return err
	}
	return os.Rename(tmp, l.State())
}

// LoadState reads LABDIR/state.json; a missing file is (nil, nil).
func LoadState(l Layout) (*State, error) {
	data, err := os.ReadFile(l.State())
	if errors.Is(err, os.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	var s State
	if err := json.Unmarshal(data, &s); err != nil {
		return nil, fmt.Errorf("%s: %v (delete it; lab down still cleans up by name prefix)", l.State(), err)
	}
	return &s, nil
}
