package main

import (
	"bytes"
	"strings"
	"testing"

	"github.com/spf13/cobra"
)

// run executes probectl with args and returns stdout and the error.
func runProbectl(t *testing.T, args ...string) (string, error) {
	t.Helper()
	var out bytes.Buffer
	cmd := newRootCmd()
	cmd.SetOut(&out)
	cmd.SetErr(&bytes.Buffer{})
	cmd.SetArgs(args)
	err := cmd.Execute()
	return out.String(), err
}

func TestCLIHabits(t *testing.T) {
	tests := []struct {
		name    string
		args    []string
		wantOut string
		wantErr string
	}{
		{"version", []string{"version"}, "probectl " + version + " (go", ""},
		{"did you mean", []string{"processors", "std_deb"}, "", `unknown processor type "std_deb" (did you mean "std_dev"?)`},
		{"no suggestion when far", []string{"processors", "frobnicate"}, "", `unknown processor type "frobnicate"; probectl`},
		{"-o text", []string{"processors", "-o", "text", "std_dev"}, "std_dev                      Standard Deviation: in -> out\n", ""},
		{"-o json", []string{"processors", "-o", "json", "std_dev"}, `"name": "std_dev"`, ""},
		{"bad -o", []string{"processors", "-o", "xml"}, "", "-o: want json, text or markdown"},
		{"completes processor types", []string{"__complete", "processors", "std"}, "std_dev\n", ""},
		{"completes -o", []string{"__complete", "processors", "-o", ""}, "json\ntext\nmarkdown\n", ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			out, err := runProbectl(t, tt.args...)
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Errorf("error %v, want %q", err, tt.wantErr)
				}
				if strings.Contains(tt.wantErr, "far") && strings.Contains(err.Error(), "did you mean") {
					t.Errorf("suggestion for a name far from any: %v", err)
				}
				return
			}
			if err != nil || !strings.Contains(out, tt.wantOut) {
				t.Errorf("out %q, err %v; want %q", out, err, tt.wantOut)
			}
		})
	}
	if _, err := runProbectl(t, "processors", "frobnicate"); err == nil || strings.Contains(err.Error(), "did you mean") {
		t.Errorf("frobnicate: %v", err)
	}
}

func TestEditDistance(t *testing.T) {
	for _, tt := range []struct {
		a, b string
		want int
	}{{"", "", 0}, {"std_dev", "std_dev", 0}, {"std_deb", "std_dev", 1}, {"stddev", "std_dev", 1}, {"abc", "", 3}, {"kitten", "sitting", 3}} {
		if got := editDistance(tt.a, tt.b); got != tt.want {
			t.Errorf("editDistance(%q, %q) = %d, want %d", tt.a, tt.b, got, tt.want)
		}
	}
}

// TestHelpTextClean: no flag help shows a pflag backtick artefact or two
// defaults, in any command of probectl or of its subcommands.
func TestHelpTextClean(t *testing.T) {
	var walk func(c *cobra.Command)
	walk = func(c *cobra.Command) {
		for _, line := range strings.Split(c.LocalFlags().FlagUsages()+c.InheritedFlags().FlagUsages(), "\n") {
			if strings.Count(line, "(default") > 1 || strings.Contains(line, "`") {
				t.Errorf("%s: flag help %q", c.CommandPath(), strings.TrimSpace(line))
			}
		}
		for _, sub := range c.Commands() {
			walk(sub)
		}
	}
	walk(newRootCmd())
}
