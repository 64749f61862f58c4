package agent

import (
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/probe-agent/probe-agent/collectors"
	"github.com/probe-agent/probe-agent/probe"
	"github.com/probe-agent/probe-agent/proto/aos"
)

// TestLinkEvents: an oper-state change becomes one Event{link_status}; the
// first sight of an interface does not; an interface that leaves and comes
// back is compared with how it left, across layout changes.
func TestLinkEvents(t *testing.T) {
	e := NewEmitter(Identity{SystemID: "leaf1", Hostname: "leaf1.dc", BlueprintID: "bp"})
	var cache probe.ItemCache
	steps := []struct {
		name   string
		layout uint64
		ifaces string // name=up|down, in batch order
		want   []string
	}{
		{"first sight", 1, "a=up b=down", nil},
		{"b comes up", 1, "a=up b=up", []string{"b UP"}},
		{"steady", 1, "a=up b=up", nil},
		{"a leaves, c arrives down", 2, "b=up c=down", nil},
		{"a is back, down now; order changed", 3, "c=down a=down b=up", []string{"a DOWN"}},
		{"c and b flap", 3, "c=up a=down b=down", []string{"c UP", "b DOWN"}},
	}
	for n, step := range steps {
		b := &collectors.Batch{Time: time.Unix(int64(1000+n), 0), Layout: step.layout}
		for _, f := range strings.Fields(step.ifaces) {
			name, state, _ := strings.Cut(f, "=")
			oper := collectors.OperDown
			if state == "up" {
				oper = collectors.OperUp
			}
			b.Interfaces = append(b.Interfaces, collectors.Interface{SystemID: "leaf1", Name: name, Oper: oper})
		}
		var got []string
		e.LinkEvents(b, cache.For(b), func(m *aos.AosMessage) {
			ls := m.GetEvent().GetLinkStatus()
			if m.GetOriginName() != "leaf1" || ls.GetHostname() != "leaf1.dc" || m.GetEvent().GetId() == "" {
				t.Errorf("%s: event header %v", step.name, m)
			}
			if m.GetTimestamp() != uint64(b.Time.UnixMicro()) {
				t.Errorf("%s: timestamp %d, want the batch's", step.name, m.GetTimestamp())
			}
			got = append(got, ls.GetIfname()+" "+ls.GetState().String())
		})
		if fmt.Sprint(got) != fmt.Sprint(step.want) {
			t.Errorf("%s: events %v, want %v", step.name, got, step.want)
		}
	}
}
