package probe

import (
	"strings"
	"testing"

	"github.com/google/uuid"
)

// TestNameUUIDMatchesNewSHA1: ids must not change, so nameUUID gives what
// uuid.NewSHA1 gives for the same name, short or long (past the stack
// buffer), and allocates nothing.
func TestNameUUIDMatchesNewSHA1(t *testing.T) {
	tests := []struct {
		name  string
		parts []string
	}{
		{"empty", nil},
		{"item", []string{"probe1", "\x00", "stage", "\x00", "leaf1\x1fEthernet1"}},
		{"anomaly", []string{"anomaly\x00", "5b6f2a1e-8c3d-4f7a-9b2e-1d4c6a8f0e3b"}},
		{"just under the buffer", []string{strings.Repeat("k", 256-16)}},
		{"just over the buffer", []string{strings.Repeat("k", 256-15)}},
		{"long key", []string{"p", "\x00", "s", "\x00", strings.Repeat("Ethernet1/1\x1f", 100)}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			want := uuid.NewSHA1(anomalyNamespace, []byte(strings.Join(tt.parts, "")))
			if got := nameUUID(anomalyNamespace, tt.parts...); got != want {
				t.Fatalf("nameUUID = %s, uuid.NewSHA1 = %s", got, want)
			}
		})
	}
	if allocs := testing.AllocsPerRun(100, func() { nameUUID(anomalyNamespace, "probe1", "\x00", "stage", "\x00", "leaf1\x1fEthernet1") }); allocs != 0 {
		t.Errorf("%v allocations per id", allocs)
	}
}
