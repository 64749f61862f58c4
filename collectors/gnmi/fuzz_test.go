//lint:file-ignore SA1019 the deprecated Path.Element form is fuzzed on purpose.

package gnmi

import (
	"fmt"
	"maps"
	"strings"
	"testing"
	"time"

	"github.com/openconfig/gnmi/proto/gnmi"
	"github.com/openconfig/ygot/util"
	"github.com/openconfig/ygot/ygot"
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
	d := newDecoder()
	ref := newYgotDecoder()
	f.Fuzz(func(t *testing.T, data []byte) {
		var n gnmi.Notification
		if proto.Unmarshal(data, &n) != nil {
			return
		}
		sameAsYgot(t, d, ref, &n)
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
	d := newDecoder()
	ref := newYgotDecoder()
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
		sameAsYgot(t, d, ref, n)
	})
}

// sameAsYgot decodes n with the decoder and with the ygot-based reference
// and fails unless both produce the same updates (every counter value,
// oper-status, speed and delete, per interface) and the same numbers of
// updates ignored and refused. It also checks the updates against the
// table and a batch.
func sameAsYgot(t *testing.T, d *decoder, ref *ygotDecoder, n *gnmi.Notification) {
	t.Helper()
	before, refBefore := d.stats, ref.stats
	got := d.decode(n)
	checkDecoded(t, got)
	want := ref.decode(n)
	if ambiguousJSON(n) {
		return // ygot's answer is not repeatable
	}
	if msg := diffUpdates(got, want); msg != "" {
		t.Fatalf("%s\nnotification: %v", msg, n)
	}
	ds := decodeStats{d.stats.updates - before.updates, d.stats.ignored - before.ignored, d.stats.failures - before.failures, d.stats.lastErr}
	rs := decodeStats{ref.stats.updates - refBefore.updates, ref.stats.ignored - refBefore.ignored, ref.stats.failures - refBefore.failures, ref.stats.lastErr}
	if ds.updates != rs.updates || ds.ignored != rs.ignored || ds.failures != rs.failures {
		t.Fatalf("decoder: %d updates, %d ignored, %d refused (last: %v)\nygot:    %d updates, %d ignored, %d refused (last: %v)\nnotification: %v",
			ds.updates, ds.ignored, ds.failures, ds.lastErr, rs.updates, rs.ignored, rs.failures, rs.lastErr, n)
	}
}

// diffUpdates describes how the decoder's and the reference's updates
// differ, or returns "".
func diffUpdates(got, want []ifUpdate) string {
	byName := map[string]ifUpdate{}
	for _, u := range want {
		byName[u.name] = u
	}
	if len(got) != len(want) {
		return fmt.Sprintf("decoder decoded %d interfaces, ygot %d:\n%+v\n%+v", len(got), len(want), got, want)
	}
	for _, u := range got {
		if byName[u.name] != u {
			return fmt.Sprintf("decoder %+v\nygot    %+v", u, byName[u.name])
		}
	}
	return ""
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

// FuzzElementPath compares the parser of the string path notation (used for
// the deprecated Path.Element form) with ygot's StringToStructuredPath,
// which the collector used before: the same elements and keys, or an error
// from both. It also compares module prefix stripping with ygot's.
func FuzzElementPath(f *testing.F) {
	for _, s := range []string{
		"/interfaces/interface[name=et-0/0/1]/state/counters/in-octets",
		"/a[k=v][k2=v2]/b", "/a[k=v]x[y=z]", "/a\\/b/c", "/a[k=x\\]y]/b", "/a/", "/", "//", "/a//",
		"/a[k=]", "/a[=v]", "/[k=v]", "/a b", "/a[k k=v]", "/a[k=v", "/a]", "/a[k=[v]]", "/a[k=v]b",
		"/a\\", "/a[k=v\\", "/\xff/b[\xfe=\xfd]", "/a:b:c", "/a\\\\b",
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		if stripModulePrefix(s) != util.StripModulePrefix(s) {
			t.Fatalf("stripModulePrefix(%q) = %q, ygot %q", s, stripModulePrefix(s), util.StripModulePrefix(s))
		}
		path := "/" + s
		got, err := parseElementPath(path)
		want, wantErr := ygot.StringToStructuredPath(path)
		if (err != nil) != (wantErr != nil) {
			t.Fatalf("%q: error %v, ygot %v", path, err, wantErr)
		}
		if err != nil {
			return
		}
		if len(got) != len(want.GetElem()) {
			t.Fatalf("%q: %v, ygot %v", path, got, want.GetElem())
		}
		for i, e := range want.GetElem() {
			if got[i].GetName() != e.GetName() || !maps.Equal(got[i].GetKey(), e.GetKey()) {
				t.Fatalf("%q: element %d is %v, ygot %v", path, i, got[i], e)
			}
		}
	})
}
