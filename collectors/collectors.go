// Package collectors defines what a counter source hands to the probe engine:
// one Batch of cumulative interface counters per interval, named with the
// Apstra counter names. The sources themselves live in the sub-packages
// (netlink, gnmi, replay); they all fill the same Batch, so what one records
// another can replay.
package collectors

import (
	"context"
	"errors"
	"fmt"
	"time"
)

// Counter indexes one Apstra interface counter inside Interface.Counters.
type Counter uint8

// The Apstra counter names, in the order of the InterfaceCounters streaming
// message. They are also the if_counter processor's counter_type values.
const (
	TxUnicastPackets Counter = iota
	TxBroadcastPackets
	TxMulticastPackets
	TxBytes
	RxUnicastPackets
	RxBroadcastPackets
	RxMulticastPackets
	RxBytes
	TxErrorPackets
	TxDiscardPackets
	RxErrorPackets
	RxDiscardPackets
	AlignmentErrors
	FCSErrors
	SymbolErrors
	Runts
	Giants
	NumCounters // number of counters; not a counter
)

var counterNames = [NumCounters]string{
	"tx_unicast_packets", "tx_broadcast_packets", "tx_multicast_packets", "tx_bytes",
	"rx_unicast_packets", "rx_broadcast_packets", "rx_multicast_packets", "rx_bytes",
	"tx_error_packets", "tx_discard_packets", "rx_error_packets", "rx_discard_packets",
	"alignment_errors", "fcs_errors", "symbol_errors", "runts", "giants",
}

// String returns the Apstra name of the counter.
func (c Counter) String() string {
	if c < NumCounters {
		return counterNames[c]
	}
	return fmt.Sprintf("counter(%d)", uint8(c))
}

// CounterNames lists every Apstra counter name, in Counter order.
func CounterNames() []string { return append([]string(nil), counterNames[:]...) }

// ParseCounter maps an Apstra counter name to its Counter.
func ParseCounter(name string) (Counter, bool) {
	for i, n := range counterNames {
		if n == name {
			return Counter(i), true
		}
	}
	return 0, false
}

// OperStatus is an interface's operational state.
type OperStatus uint8

// Operational states, numbered like the streaming LinkStatusEvent's state
// plus one, so that the zero value means "not reported".
const (
	OperUnknown OperStatus = iota
	OperUp
	OperDown
)

func (s OperStatus) String() string {
	switch s {
	case OperUp:
		return "up"
	case OperDown:
		return "down"
	}
	return "unknown"
}

// ParseOperStatus accepts "up", "down" and "unknown" (or "").
func ParseOperStatus(s string) (OperStatus, bool) {
	switch s {
	case "up":
		return OperUp, true
	case "down":
		return OperDown, true
	case "", "unknown":
		return OperUnknown, true
	}
	return OperUnknown, false
}

// Interface is one interface's cumulative counters at the batch's time.
type Interface struct {
	SystemID string
	Name     string
	// Counters holds cumulative counter values; only those whose bit is set
	// in Valid were reported by the source.
	Counters [NumCounters]uint64
	Valid    CounterSet
	Oper     OperStatus
	// SpeedBps is the link speed in bits per second, 0 when unknown.
	SpeedBps uint64
	// Generation changes when the object behind the name changed (the
	// interface was deleted and re-created, the device rebooted): consumers
	// must not compute a rate across two generations.
	Generation uint64
}

// Has reports whether the source reported counter c.
func (i *Interface) Has(c Counter) bool { return i.Valid.Has(c) }

// Set stores a counter value and marks it valid.
func (i *Interface) Set(c Counter, v uint64) {
	i.Counters[c] = v
	i.Valid |= 1 << c
}

// CounterSet is a bit set of counters.
type CounterSet uint32

// Has reports whether c is in the set.
func (s CounterSet) Has(c Counter) bool { return s&(1<<c) != 0 }

// Batch is one interval's worth of counters.
type Batch struct {
	Time       time.Time
	Interfaces []Interface
	// Layout identifies the set and order of (SystemID, Name) pairs in
	// Interfaces. A producer keeps it unchanged while the pairs and their
	// order stay the same, and changes it otherwise, so consumers can keep
	// per-interface state in slices indexed like Interfaces instead of
	// looking every interface up by name each tick. Zero means unknown: the
	// consumer must look pairs up.
	Layout uint64
	// System is the device's own CPU and memory sample, or nil when the
	// source does not provide one.
	System *SystemSample
}

// ErrNoData is wrapped by Collect when the source has nothing new to say
// (a gNMI stream that is down or not up yet): the counters it still holds
// are not a new sample, and handing them out again would turn every rate
// into 0 and clear every anomaly. Callers skip the tick instead, so items
// go stale rather than report values that are not true.
var ErrNoData = errors.New("no data from the collector")

// ErrNotDue is wrapped by Collect when the source's next sample is not due
// yet (a recording replayed at its own pace, polled more often than it was
// recorded): the tick is skipped quietly, the source is healthy.
var ErrNotDue = errors.New("next sample not due yet")

// Collector is a counter source. Collect fills b with the current counters,
// reusing b's slices where it can; it must not keep b after returning.
type Collector interface {
	Collect(ctx context.Context, b *Batch) error
	Close() error
}

// ParseUint parses the decimal digits of b as an unsigned 64-bit number,
// without converting b to a string: collectors parse /proc files and
// recordings with it on every tick. Anything but digits, an empty b and a
// value above 2^64-1 are refused.
func ParseUint(b []byte) (uint64, bool) {
	if len(b) == 0 {
		return 0, false
	}
	var v uint64
	for _, c := range b {
		if c < '0' || c > '9' {
			return 0, false
		}
		d := uint64(c - '0')
		if v > (1<<64-1-d)/10 {
			return 0, false
		}
		v = v*10 + d
	}
	return v, true
}
