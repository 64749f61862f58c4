package gnmi

import (
	"testing"
	"time"

	"github.com/probe-agent/probe-agent/collectors"
)

// modelIf is the reference for one interface of FuzzTableState: what the
// subscription state must be after any sequence of updates, deletes,
// sync responses and time passing.
type modelIf struct {
	vals    [collectors.NumCounters]uint64
	valid   collectors.CounterSet
	oper    collectors.OperStatus
	seen    time.Time
	deleted bool
	gen     uint64
}

var fuzzNames = [...]string{"Ethernet0", "Ethernet1", "Ethernet10", "Port-Channel1"}

// FuzzTableState drives the subscription state (table.apply, table.fill)
// with a byte-coded sequence of operations and checks every batch against
// a reference model: values carried forward between updates, leaf and
// whole deletes, a delete that empties an interface, a counter that goes
// backwards starting a new generation, a name that returns after a delete
// getting a new generation, sync responses (no updates) changing nothing,
// staleness by the time of the last update; batches sorted, generations
// never decreasing, layouts equal for equal name sequences.
func FuzzTableState(f *testing.F) {
	f.Add([]byte{0, 0, 0, 10, 0, 0, 0, 5, 4, 3, 0, 1, 2, 9})
	f.Add([]byte{0, 1, 1, 1, 1, 1, 1, 0, 0, 1, 1, 7, 2, 1, 0, 0, 1, 1, 3})
	f.Add([]byte{3, 2, 1, 0, 2, 2, 200, 5, 5, 4, 4, 0, 2, 2, 1})
	f.Fuzz(func(t *testing.T, ops []byte) {
		const staleAfter = 30 * time.Second
		tb := newTable()
		model := map[string]*modelIf{}
		now := time.Unix(1700000000, 0)
		lastGen := map[string]uint64{}
		layouts := map[string]uint64{}
		var b collectors.Batch
		for len(ops) >= 2 {
			kind, arg := ops[0]%6, ops[1]
			ops = ops[2:]
			name := fuzzNames[int(arg)%len(fuzzNames)]
			c := collectors.Counter(int(arg/4) % int(collectors.NumCounters))
			var val uint8
			if len(ops) > 0 {
				val, ops = ops[0], ops[1:]
			}
			m := model[name]
			var up ifUpdate
			up.name = name
			switch kind {
			case 0: // counter update
				up.set(c, uint64(val))
			case 1: // leaf delete
				up.delValid = 1 << c
			case 2: // whole interface delete
				up.deleted = true
			case 3: // oper status
				up.oper, up.hasOper = collectors.OperStatus(1+val%2), true
			case 4: // time passes
				now = now.Add(time.Duration(val%8) * 10 * time.Second)
			case 5: // a sync response: no updates
			}
			if kind <= 3 {
				tb.apply([]ifUpdate{up}, now)
				// The model.
				if m == nil && up.present() {
					m = &modelIf{}
					model[name] = m
				}
				if m != nil {
					m.valid &^= up.delValid
					empty := m.valid == 0 && m.oper == collectors.OperUnknown
					switch {
					case up.deleted || (empty && !up.present()):
						m.deleted, m.valid, m.oper = true, 0, collectors.OperUnknown
					case up.present():
						if m.deleted {
							m.deleted = false
							m.gen++
						}
						m.seen = now
						if up.valid != 0 {
							if m.valid.Has(c) && uint64(val) < m.vals[c] {
								m.gen++
								m.valid = 0
							}
							m.vals[c] = uint64(val)
							m.valid |= 1 << c
						}
						if up.hasOper {
							m.oper = up.oper
						}
					}
				}
			} else if kind == 5 {
				tb.apply(nil, now)
			}

			tb.fill(&b, "sys", now, staleAfter)
			var want []string
			for _, n := range []string{"Ethernet0", "Ethernet1", "Ethernet10", "Port-Channel1"} {
				if m := model[n]; m != nil && !m.deleted && now.Sub(m.seen) <= staleAfter {
					want = append(want, n)
				}
			}
			if len(b.Interfaces) != len(want) {
				t.Fatalf("batch has %d interfaces, want %v: %+v", len(b.Interfaces), want, b.Interfaces)
			}
			key := ""
			for i, ifc := range b.Interfaces {
				m := model[ifc.Name]
				if ifc.Name != want[i] {
					t.Fatalf("interface %d is %q, want %q (sorted, fresh, not deleted)", i, ifc.Name, want[i])
				}
				if ifc.Valid != m.valid || ifc.Oper != m.oper || ifc.Generation != m.gen || ifc.SystemID != "sys" {
					t.Fatalf("%s: valid %b oper %v gen %d, want %b %v %d", ifc.Name, ifc.Valid, ifc.Oper, ifc.Generation, m.valid, m.oper, m.gen)
				}
				for c := collectors.Counter(0); c < collectors.NumCounters; c++ {
					if m.valid.Has(c) && ifc.Counters[c] != m.vals[c] {
						t.Fatalf("%s counter %d = %d, want %d", ifc.Name, c, ifc.Counters[c], m.vals[c])
					}
				}
				if g, ok := lastGen[ifc.Name]; ok && ifc.Generation < g {
					t.Fatalf("%s: generation went back from %d to %d", ifc.Name, g, ifc.Generation)
				}
				lastGen[ifc.Name] = ifc.Generation
				key += ifc.Name + "\x00"
			}
			if b.Layout == 0 {
				t.Fatal("layout 0 is reserved for unknown")
			}
			if l, ok := layouts[key]; ok && l != b.Layout {
				t.Fatalf("layout %x for names %q, earlier %x", b.Layout, key, l)
			}
			layouts[key] = b.Layout
		}
	})
}
