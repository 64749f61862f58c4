package lab

import (
	"strings"
	"testing"
)

func TestParseRate(t *testing.T) {
	tests := []struct {
		in   string
		want float64
		err  bool
	}{
		{"10Mbps", 10e6, false},
		{"10mbps", 10e6, false},
		{"500Kbps", 500e3, false},
		{"500k", 500e3, false},
		{"1.5G", 1.5e9, false},
		{"1Gbps", 1e9, false},
		{"64000", 64000, false},
		{"64000bps", 64000, false},
		{"0", 0, true},
		{"-5M", 0, true},
		{"fast", 0, true},
		{"", 0, true},
		{"200Gbps", 0, true},
		{"NaN", 0, true},
		{"inf", 0, true},
	}
	for _, tc := range tests {
		got, err := ParseRate(tc.in)
		if tc.err {
			if err == nil || !strings.Contains(err.Error(), tc.in) {
				t.Errorf("%q: %v %v, want an error naming it", tc.in, got, err)
			}
			continue
		}
		if err != nil || got != tc.want {
			t.Errorf("%q: %v %v, want %v", tc.in, got, err, tc.want)
		}
	}
}

func TestParseFlow(t *testing.T) {
	tests := []struct {
		in   string
		want Flow
		err  string
	}{
		{"server1,server3,10Mbps", Flow{From: "server1", To: "server3", Rate: 10e6}, ""},
		{"server1:eth2, server3 ,1M,6000", Flow{From: "server1:eth2", To: "server3", Rate: 1e6, Port: 6000}, ""},
		{"server1,server3", Flow{}, "want FROM,TO,RATE"},
		{",server3,1M", Flow{}, "FROM and TO"},
		{"a,b,1M,70000", Flow{}, "port"},
		{"a,b,x", Flow{}, "rate"},
	}
	for _, tc := range tests {
		got, err := ParseFlow(tc.in)
		if tc.err != "" {
			if err == nil || !strings.Contains(err.Error(), tc.err) {
				t.Errorf("%q: %v, want an error containing %q", tc.in, err, tc.err)
			}
			continue
		}
		if err != nil || got != tc.want {
			t.Errorf("%q: %+v %v, want %+v", tc.in, got, err, tc.want)
		}
	}
}

// FuzzParseFlow: any input gives a flow with a positive rate and a valid
// port, or an error; never a panic.
func FuzzParseFlow(f *testing.F) {
	for _, s := range []string{"server1,server3,10Mbps", "a:eth1,b,1.5G,5001", "a,b,1k,0", ",,,", "a,b,1e400"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		fl, err := ParseFlow(s)
		if err != nil {
			return
		}
		if fl.Rate <= 0 || fl.Port < 0 || fl.Port > 65535 || fl.From == "" || fl.To == "" {
			t.Errorf("%q: accepted %+v", s, fl)
		}
	})
}
