//go:build unix

package connlimit

import "golang.org/x/sys/unix"

// RaiseNoFile raises the soft RLIMIT_NOFILE to the hard limit and returns
// the soft limit now in force. Go's runtime does the same at start on
// Linux; doing it here makes the value explicit, so listener limits can
// be sized below it (Budget).
func RaiseNoFile() (uint64, error) {
	var r unix.Rlimit
	if err := unix.Getrlimit(unix.RLIMIT_NOFILE, &r); err != nil {
		return 0, err
	}
	if r.Cur < r.Max {
		want := r
		want.Cur = r.Max
		if err := unix.Setrlimit(unix.RLIMIT_NOFILE, &want); err == nil {
			r = want
		}
	}
	return r.Cur, nil
}
