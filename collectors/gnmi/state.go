package gnmi

import (
	"slices"
	"time"

	"github.com/probe-agent/probe-agent/collectors"
)

// ifState is the latest known state of one interface, merged from however
// many responses the target split it into.
type ifState struct {
	counters [collectors.NumCounters]uint64
	valid    collectors.CounterSet
	oper     collectors.OperStatus
	speedBps uint64
	gen      uint64
	// seen is the local (monotonic) time of the last update. Staleness is
	// judged on it rather than on the device's timestamps, whose clock we
	// do not control.
	seen    time.Time
	deleted bool
}

// table holds every interface the target has reported. Entries are kept
// after they go stale or are deleted so that the Generation of a name that
// comes back keeps increasing.
type table struct {
	ifs   map[string]*ifState
	names []string // sorted keys of ifs
	// resets counts generation bumps caused by counters going backwards.
	resets uint64
}

func newTable() *table { return &table{ifs: map[string]*ifState{}} }

// apply merges one notification's updates. A leaf that is absent keeps its
// previous value: targets that suppress unchanged values, or that send one
// leaf per response, rely on the receiver to carry values forward.
func (t *table) apply(ups []ifUpdate, now time.Time) {
	for i := range ups {
		u := &ups[i]
		s := t.ifs[u.name]
		if s == nil {
			if !u.present() {
				continue // a delete of something never seen
			}
			s = &ifState{}
			t.ifs[u.name] = s
			i, _ := slices.BinarySearch(t.names, u.name)
			t.names = slices.Insert(t.names, i, u.name)
		}
		// gNMI applies a notification's deletes before its updates.
		s.valid &^= u.delValid
		if u.delOper {
			s.oper = collectors.OperUnknown
		}
		if u.delSpeed {
			s.speedBps = 0
		}
		empty := s.valid == 0 && s.oper == collectors.OperUnknown && s.speedBps == 0
		if u.deleted || (empty && !u.present()) {
			// Gone, whether deleted whole or leaf by leaf. The next time the
			// name appears it is a new object: start a new generation then
			// and forget the old values now.
			s.deleted = true
			s.valid, s.oper, s.speedBps = 0, collectors.OperUnknown, 0
			continue
		}
		if !u.present() {
			continue
		}
		if s.deleted {
			s.deleted = false
			s.gen++
		}
		s.seen = now
		for c := collectors.Counter(0); c < collectors.NumCounters; c++ {
			if !u.valid.Has(c) {
				continue
			}
			v := u.counters[c]
			if s.valid.Has(c) && v < s.counters[c] {
				// A cumulative counter never decreases on its own (the
				// 64-bit ones do not wrap in practice): the device was
				// reloaded or the counters cleared. Values carried forward
				// from before belong to the old generation, so drop them
				// rather than mix them with new ones in one Interface.
				s.gen++
				s.valid = 0
				t.resets++
			}
			s.counters[c] = v
			s.valid |= 1 << c
		}
		if u.hasOper {
			s.oper = u.oper
		}
		if u.hasSpeed {
			s.speedBps = u.speedBps
		}
	}
}

// fill copies the fresh interfaces into b in name order and returns their
// layout hash.
func (t *table) fill(b *collectors.Batch, systemID string, now time.Time, staleAfter time.Duration) {
	b.Interfaces = b.Interfaces[:0]
	h := fnvString(fnvOffset, systemID)
	for _, name := range t.names {
		s := t.ifs[name]
		if s.deleted || now.Sub(s.seen) > staleAfter {
			continue
		}
		b.Interfaces = append(b.Interfaces, collectors.Interface{
			SystemID:   systemID,
			Name:       name,
			Counters:   s.counters,
			Valid:      s.valid,
			Oper:       s.oper,
			SpeedBps:   s.speedBps,
			Generation: s.gen,
		})
		// 0xff never occurs in UTF-8, so it separates names unambiguously.
		h = fnvString((h^0xff)*fnvPrime, name)
	}
	// The layout is a hash of the (system, name) sequence: equal sequences
	// give equal layouts across calls without keeping history, and a
	// different sequence changes it except with probability 2^-64. Zero is
	// reserved for "unknown".
	b.Layout = h
	if b.Layout == 0 {
		b.Layout = 1
	}
}

// FNV-1a, written out so that hashing names does not allocate.
const (
	fnvOffset = 14695981039346656037
	fnvPrime  = 1099511628211
)

func fnvString(h uint64, s string) uint64 {
	for i := 0; i < len(s); i++ {
		h ^= uint64(s[i])
		h *= fnvPrime
	}
	return h
}
