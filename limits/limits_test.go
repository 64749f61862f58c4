package limits

import (
	"fmt"
	"strconv"
	"strings"
	"testing"

	"gopkg.in/yaml.v3"

	"github.com/probe-agent/probe-agent/probe"
)

// TestConfig: the keys reach the engine's budgets, sizes take binary
// units, and budgets that cannot be used are reported by key.
func TestConfig(t *testing.T) {
	var c Config
	if err := yaml.Unmarshal([]byte("samples_per_series: 600\nitems_per_stage: 5000\nprocessors_per_probe: 20\nstage_memory: 1.5GiB\n"), &c); err != nil {
		t.Fatal(err)
	}
	want := probe.Limits{SamplesPerSeries: 600, ItemsPerStage: 5000, ProcessorsPerProbe: 20, ProbesPerAgent: 7, StageMemory: 3 << 29}
	if got := c.Engine(7); got != want {
		t.Errorf("engine %+v, want %+v", got, want)
	}
	for _, tt := range []struct {
		c       Config
		key, in string
	}{
		{Config{SamplesPerSeries: 70000}, "limits.samples_per_series", "70000 is not between 1 and 65536"},
		{Config{ItemsPerStage: -1}, "limits.items_per_stage", "-1 is negative"},
		{Config{ProcessorsPerProbe: -2}, "limits.processors_per_probe", "-2 is negative"},
		{Config{StageMemory: -1}, "limits.stage_memory", "-1 is negative"},
		{Config{}, "", ""},
	} {
		var got []string
		tt.c.Check(func(key, format string, args ...any) { got = append(got, key+": "+fmt.Sprintf(format, args...)) })
		switch {
		case tt.key == "" && len(got) > 0:
			t.Errorf("%+v: %v, want no problem", tt.c, got)
		case tt.key != "" && (len(got) != 1 || !strings.HasPrefix(got[0], tt.key+": ") || !strings.Contains(got[0], tt.in)):
			t.Errorf("%+v: %v, want %s: ...%s...", tt.c, got, tt.key, tt.in)
		}
	}
	var b struct {
		M ByteSize `yaml:"m"`
	}
	if err := yaml.Unmarshal([]byte("\nm: lots\n"), &b); err == nil || !strings.Contains(err.Error(), `line 2: want a size such as 128MiB, 1GiB or a number of bytes, got "lots"`) {
		t.Errorf("bad size: %v", err)
	}
}

func TestParseByteSize(t *testing.T) {
	for s, want := range map[string]ByteSize{"4096": 4096, "512KiB": 512 << 10, "128MiB": 128 << 20, "2GiB": 2 << 30, "100B": 100, " 1.5 GiB ": 3 << 29} {
		if got, err := ParseByteSize(s); err != nil || got != want {
			t.Errorf("ParseByteSize(%q) = %d, %v, want %d", s, got, err, want)
		}
	}
	for _, s := range []string{"", "MiB", "-1MiB", "NaN", "1e30GiB", "12 MB"} {
		if got, err := ParseByteSize(s); err == nil {
			t.Errorf("ParseByteSize(%q) = %d, want an error", s, got)
		}
	}
	if got := ByteSize(512 << 10).String(); got != "512KiB" {
		t.Errorf("String() = %q", got)
	}
}

// FuzzParseByteSize: any text either is refused or gives a size that is
// not negative and reads back the same written as a number of bytes.
func FuzzParseByteSize(f *testing.F) {
	for _, s := range []string{"128MiB", "1.5GiB", "4096", "512 KiB", "0B", "-1MiB", "1e30GiB", "NaN", "MiB", ""} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		v, err := ParseByteSize(s)
		if err != nil {
			return
		}
		if v < 0 {
			t.Fatalf("%q gave %d", s, v)
		}
		back, err := ParseByteSize(strconv.FormatInt(int64(v), 10))
		if err != nil || back != v {
			t.Fatalf("%q gave %d, which reads back as %d, %v", s, v, back, err)
		}
	})
}
