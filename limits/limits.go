// Package limits is the limits: section both daemons read: the engine's
// resource budgets as probe-agent and probe-controller write them in
// YAML (docs/probes.md, "Limits"), and the ByteSize type sizes are written
// with. Each daemon adds its own keys next to these (the agent
// probes_per_agent, the controller probes_per_fabric and the bounds of
// what agents send it); the budgets themselves are probe.Limits, which
// this package only reads and writes.
package limits

import (
	"fmt"
	"strconv"
	"strings"

	"gopkg.in/yaml.v3"

	"github.com/probe-agent/probe-agent/probe"
)

// Config is the engine's budgets every daemon evaluating probes has; 0 or
// absent takes the engine's default. A daemon's limits section embeds it
// inline (`yaml:",inline"`), so the keys sit directly under limits:.
type Config struct {
	// SamplesPerSeries bounds every time series (accumulate max_samples);
	// default 4096.
	SamplesPerSeries int `yaml:"samples_per_series"`
	// ItemsPerStage bounds the items of one stage; default 65536.
	ItemsPerStage int `yaml:"items_per_stage"`
	// ProcessorsPerProbe bounds the processors of one probe; default 64.
	ProcessorsPerProbe int `yaml:"processors_per_probe"`
	// StageMemory bounds the memory all probes' stage data holds
	// ("128MiB", "1GiB" or bytes); default 128MiB.
	StageMemory ByteSize `yaml:"stage_memory"`
}

// Engine returns the budgets as the engine takes them, with probes the
// daemon's bound on how many probes it runs (zero fields stay zero: the
// engine's defaults).
func (c Config) Engine(probes int) probe.Limits {
	return probe.Limits{
		SamplesPerSeries:   c.SamplesPerSeries,
		ItemsPerStage:      c.ItemsPerStage,
		ProcessorsPerProbe: c.ProcessorsPerProbe,
		ProbesPerAgent:     probes,
		StageMemory:        int64(c.StageMemory),
	}
}

// Check reports, through bad, the first budget that cannot be used, by
// its key under limits: ("limits.samples_per_series"). The probe count is
// the daemon's to check: it has its own key.
func (c Config) Check(bad func(key, format string, args ...any)) {
	if err := c.Engine(0).Check(); err != nil {
		key, msg, _ := strings.Cut(err.Error(), ": ")
		bad(key, "%s", msg)
	}
}

// ByteSize is a size in bytes written as a number of bytes or with a
// binary unit: "512KiB", "128MiB", "1GiB".
type ByteSize int64

var byteUnits = []struct {
	suffix string
	mult   int64
}{{"KiB", 1 << 10}, {"MiB", 1 << 20}, {"GiB", 1 << 30}, {"B", 1}}

// ParseByteSize reads a ByteSize.
func ParseByteSize(s string) (ByteSize, error) {
	s = strings.TrimSpace(s)
	mult := int64(1)
	num := s
	for _, u := range byteUnits {
		if strings.HasSuffix(s, u.suffix) {
			mult, num = u.mult, strings.TrimSpace(strings.TrimSuffix(s, u.suffix))
			break
		}
	}
	f, err := strconv.ParseFloat(num, 64)
	if err != nil || !(f >= 0 && f*float64(mult) <= 1<<62) { // NaN fails both
		return 0, fmt.Errorf("want a size such as 128MiB, 1GiB or a number of bytes, got %q", s)
	}
	return ByteSize(f * float64(mult)), nil
}

// UnmarshalYAML accepts an integer or a string with a unit.
func (b *ByteSize) UnmarshalYAML(n *yaml.Node) error {
	v, err := ParseByteSize(n.Value)
	if err != nil {
		return fmt.Errorf("line %d: %v", n.Line, err)
	}
	*b = v
	return nil
}

// String writes the size as limits.stage_memory is written.
func (b ByteSize) String() string { return probe.FormatBytes(int64(b)) }
