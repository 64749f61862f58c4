//go:build !linux

package agent

// releaseStartupPages is Linux only (it reads /proc/self/maps).
func releaseStartupPages() (int64, error) { return 0, nil }
