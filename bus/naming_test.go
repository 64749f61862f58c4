package bus

import (
	"strings"
	"testing"
)

func TestToken(t *testing.T) {
	for _, tc := range []struct{ in, want string }{
		{"leaf1", "leaf1"},
		{"6f1c2d3e-0a1b-4c5d-8e9f-a0b1c2d3e4f5", "6f1c2d3e-0a1b-4c5d-8e9f-a0b1c2d3e4f5"},
		{"", "="},
		{"a.b", "a=2Eb"},
		{"*", "=2A"},
		{">", "=3E"},
		{"my device", "my=20device"},
		{"x=y", "x=3Dy"},
		{"sw/1", "sw=2F1"},
		{"é", "=C3=A9"},
	} {
		got := Token(tc.in)
		if got != tc.want {
			t.Errorf("Token(%q) = %q, want %q", tc.in, got, tc.want)
		}
		if strings.ContainsAny(got, ".*> \t") {
			t.Errorf("Token(%q) = %q holds a subject metacharacter", tc.in, got)
		}
		back, err := Untoken(got)
		if err != nil || back != tc.in {
			t.Errorf("Untoken(%q) = %q, %v; want %q", got, back, err, tc.in)
		}
	}
}

func TestUntokenRefuses(t *testing.T) {
	for _, in := range []string{"", "a.b", "=2", "=zz", "=41", "a b", "=2e"} {
		if _, err := Untoken(in); err == nil {
			t.Errorf("Untoken(%q): no error", in)
		}
	}
}

func TestSubjectAndKey(t *testing.T) {
	if got, want := Subject("pa", "bp 1", "p.1", "leaf*1"), "pa.bp=201.p=2E1.leaf=2A1"; got != want {
		t.Errorf("Subject = %q, want %q", got, want)
	}
	if got, want := ProbeFilter("dc1.pa", "bp", "p"), "dc1.pa.bp.p.*"; got != want {
		t.Errorf("ProbeFilter = %q, want %q", got, want)
	}
	if got, want := KafkaKey("bp/x", "p"), "bp=2Fx/p"; got != want {
		t.Errorf("KafkaKey = %q, want %q", got, want)
	}
	for _, tc := range []struct {
		prefix string
		ok     bool
	}{{"probeagent", true}, {"dc1.probe-agent", true}, {"", false}, {"a..b", false}, {"a.*", false}, {"a b", false}, {"a.", false}} {
		if err := ValidPrefix(tc.prefix); (err == nil) != tc.ok {
			t.Errorf("ValidPrefix(%q) = %v, want ok=%v", tc.prefix, err, tc.ok)
		}
	}
}
