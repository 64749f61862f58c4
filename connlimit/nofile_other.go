//go:build !unix

package connlimit

// RaiseNoFile has no descriptor limit to raise here; it reports 0 (no
// known limit), and Budget then leaves the listener limits as configured.
func RaiseNoFile() (uint64, error) { return 0, nil }
