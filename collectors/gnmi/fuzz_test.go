//lint:file-ignore SA1019 the deprecated Path.Element form is fuzzed on purpose.

package gnmi

import (
	"strings"
	"testing"
	"time"

	"github.com/openconfig/gnmi/proto/gnmi"
	"google.golang.org/protobuf/proto"

	"github.com/probe-agent/probe-agent/collectors"
)

// The seed corpora live in testdata/fuzz/<name>/; `go test` runs them as
// regression cases and `go test -fuzz=<name>` explores from them.

// mapped is every counter an OpenConfig source can fill.
const mapped = allMapped

// checkDecoded pushes decoded updates through the table and a batch and
// checks what must hold for any input.
func checkDecoded(t *testing.T, ups []ifUpdate) {
	tb := newTable()
	now := time.Now()
	tb.apply(ups, now)
	var b collectors.Batch
	tb.fill(&b, "sys", now, time.Minute)
	for i, ifc := range b.Interfaces {
		if ifc.Name == "" || ifc.Valid&^mapped != 0 {
			t.Fatalf("bad interface %+v", ifc)
		}
		if i > 0 && b.Interfaces[i-1].Name >= ifc.Name {
			t.Fatalf("batch not sorted: %q then %q", b.Interfaces[i-1].Name, ifc.Name)
		}
	}
}

// FuzzDecodeNotification feeds arbitrary wire-format notifications.
func FuzzDecodeNotification(f *testing.F) {
	for _, n := range seedNotifications() {
		b, err := proto.Marshal(n)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(b)
	}
	d, err := newDecoder()
	if err != nil {
		f.Fatal(err)
	}
	slow, _ := newDecoder()
	slow.noFastPath = true
	f.Fuzz(func(t *testing.T, data []byte) {
		var n gnmi.Notification
		if proto.Unmarshal(data, &n) != nil {
			return
		}
		ups := d.decode(&n)
		checkDecoded(t, ups)
		sameUpdates(t, ups, slow.decode(&n))
	})
}

// FuzzDecodePathValue builds one update from a path string (in either path
// form) and a value of a chosen kind.
func FuzzDecodePathValue(f *testing.F) {
	f.Add("/interfaces/interface[name=eth0]/state/counters/in-octets", false, uint8(0), "", uint64(5))
	f.Add("interfaces/interface[name=eth0]/state/counters/in-fcs-errors", true, uint8(0), "", uint64(1))
	f.Add("/interfaces/interface[name=e1]/state/oper-status", false, uint8(1), "UP", uint64(0))
	f.Add("/interfaces/interface[name=e1]/state/counters", false, uint8(2), `{"in-octets":"7","in-fcs-errors":"2"}`, uint64(0))
	f.Add("/interfaces", false, uint8(2), `{"interface":[{"name":"a","state":{"counters":{"out-octets":"1"}}}]}`, uint64(0))
	f.Add("/interfaces/interface[name=e1]/ethernet/state/port-speed", false, uint8(1), "SPEED_100GB", uint64(0))
	f.Add("/interfaces/interface[name=e[1]]/state/counters/in-octets", true, uint8(3), "", uint64(1<<63))
	d, err := newDecoder()
	if err != nil {
		f.Fatal(err)
	}
	slow, _ := newDecoder()
	slow.noFastPath = true
	f.Fuzz(func(t *testing.T, path string, elementForm bool, kind uint8, s string, u uint64) {
		p := &gnmi.Path{}
		if elementForm {
			p.Element = strings.Split(strings.TrimPrefix(path, "/"), "/")
		} else {
			p = pathFromString(path)
		}
		var v *gnmi.TypedValue
		switch kind % 5 {
		case 0:
			v = &gnmi.TypedValue{Value: &gnmi.TypedValue_UintVal{UintVal: u}}
		case 1:
			v = &gnmi.TypedValue{Value: &gnmi.TypedValue_StringVal{StringVal: s}}
		case 2:
			v = &gnmi.TypedValue{Value: &gnmi.TypedValue_JsonIetfVal{JsonIetfVal: []byte(s)}}
		case 3:
			v = &gnmi.TypedValue{Value: &gnmi.TypedValue_IntVal{IntVal: int64(u)}}
		}
		n := &gnmi.Notification{Update: []*gnmi.Update{{Path: p, Val: v}}, Delete: []*gnmi.Path{p}}
		ups := d.decode(n)
		checkDecoded(t, ups)
		sameUpdates(t, ups, slow.decode(n))
	})
}

// sameUpdates fails unless the fast and the SetNode-only decodes agree.
func sameUpdates(t *testing.T, fast, slow []ifUpdate) {
	t.Helper()
	byName := map[string]ifUpdate{}
	for _, u := range slow {
		byName[u.name] = u
	}
	if len(fast) != len(slow) {
		t.Fatalf("fast path decoded %d interfaces, SetNode %d: %+v vs %+v", len(fast), len(slow), fast, slow)
	}
	for _, u := range fast {
		if byName[u.name] != u {
			t.Fatalf("fast path %+v, SetNode %+v", u, byName[u.name])
		}
	}
}

// pathFromString splits a path without ygot's parser, so that the fuzzer
// also reaches the decoder with elements that parser would refuse.
func pathFromString(s string) *gnmi.Path {
	p := &gnmi.Path{}
	for _, part := range strings.Split(strings.TrimPrefix(s, "/"), "/") {
		name, key, _ := strings.Cut(part, "[")
		e := &gnmi.PathElem{Name: name}
		if k, v, ok := strings.Cut(strings.TrimSuffix(key, "]"), "="); ok {
			e.Key = map[string]string{k: v}
		}
		p.Elem = append(p.Elem, e)
	}
	return p
}

func seedNotifications() []*gnmi.Notification {
	leaf := func(name, rel string, v *gnmi.TypedValue) *gnmi.Update {
		return &gnmi.Update{Path: pathFromString("/interfaces/interface[name=" + name + "]/" + rel), Val: v}
	}
	return []*gnmi.Notification{
		fullCounterNotification("Ethernet1"),
		{
			Prefix: &gnmi.Path{Target: "dev1", Origin: "openconfig", Element: []string{"interfaces", "interface[name=eth0]"}},
			Update: []*gnmi.Update{{Path: &gnmi.Path{Element: []string{"state", "counters", "in-octets"}}, Val: uintVal(1)}},
		},
		{Update: []*gnmi.Update{
			leaf("e1", "state/counters", jsonVal(`{"in-octets":"1","openconfig-interfaces:in-fcs-errors":"2"}`)),
			leaf("e1", "ethernet/state/port-speed", jsonVal(`"openconfig-if-ethernet:SPEED_25GB"`)),
			leaf("e1", "state/oper-status", &gnmi.TypedValue{Value: &gnmi.TypedValue_StringVal{StringVal: "LOWER_LAYER_DOWN"}}),
		}},
		{Delete: []*gnmi.Path{pathFromString("/interfaces/interface[name=e1]")}},
	}
}
