package connlimit

import "math"

// Reserve is the number of descriptors kept out of every listener's reach
// for what the daemon opens itself: stream senders and their reconnects,
// the gNMI subscription, netlink sockets, state and probe files, the Go
// runtime's own (epoll, pipes), plus headroom.
const Reserve = 256

// Budget fits the listeners' connection limits under nofile (the soft
// RLIMIT_NOFILE) minus reserve: when the limits together ask for more,
// each is scaled down in proportion (to at least 1 each), so a flood of
// clients on every listener at once still leaves reserve descriptors
// free. nofile 0 (unknown) or RLIM_INFINITY: the limits are returned as
// given.
// It reports whether any limit was lowered.
func Budget(nofile uint64, reserve int, limits []int) ([]int, bool) {
	out := append([]int(nil), limits...)
	if nofile == 0 || nofile > math.MaxInt32 {
		// No known limit, or RLIM_INFINITY: nothing to fit under.
		return out, false
	}
	total := 0
	for _, n := range limits {
		total += n
	}
	avail := int64(nofile) - int64(reserve)
	if int64(total) <= avail {
		return out, false
	}
	for i, n := range limits {
		scaled := int64(n) * avail / int64(total)
		if scaled < 1 {
			scaled = 1
		}
		out[i] = int(scaled)
	}
	return out, true
}
