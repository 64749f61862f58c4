//lint:file-ignore SA1019 the deprecated Path.Element form is tested on purpose.

package gnmi

import (
	"strings"
	"testing"
	"time"

	"github.com/openconfig/gnmi/proto/gnmi"
	"github.com/openconfig/ygot/ygot"

	"github.com/probe-agent/probe-agent/collectors"
)

func mustPath(t testing.TB, s string) *gnmi.Path {
	t.Helper()
	p, err := ygot.StringToStructuredPath(s)
	if err != nil {
		t.Fatal(err)
	}
	return p
}

func uintVal(v uint64) *gnmi.TypedValue {
	return &gnmi.TypedValue{Value: &gnmi.TypedValue_UintVal{UintVal: v}}
}

func jsonVal(s string) *gnmi.TypedValue {
	return &gnmi.TypedValue{Value: &gnmi.TypedValue_JsonIetfVal{JsonIetfVal: []byte(s)}}
}

func decodeOne(t *testing.T, n *gnmi.Notification) (map[string]ifUpdate, decodeStats) {
	t.Helper()
	d := newDecoder()
	out := map[string]ifUpdate{}
	for _, u := range d.decode(n) {
		out[u.name] = u
	}
	return out, d.stats
}

func TestDecodeForms(t *testing.T) {
	counters := `/interfaces/interface[name=et-0/0/1]/state/counters`
	for _, tc := range []struct {
		name string
		n    *gnmi.Notification
		want func(u ifUpdate) bool
	}{{
		name: "elem form, uint_val",
		n:    &gnmi.Notification{Update: []*gnmi.Update{{Path: mustPath(t, counters+"/in-octets"), Val: uintVal(42)}}},
		want: func(u ifUpdate) bool { return u.valid == 1<<collectors.RxBytes && u.counters[collectors.RxBytes] == 42 },
	}, {
		name: "deprecated element form, split between prefix and path",
		n: &gnmi.Notification{
			Prefix: &gnmi.Path{Element: []string{"interfaces", "interface[name=et-0/0/1]"}},
			Update: []*gnmi.Update{{Path: &gnmi.Path{Element: []string{"state", "counters", "out-octets"}}, Val: uintVal(7)}},
		},
		want: func(u ifUpdate) bool { return u.counters[collectors.TxBytes] == 7 },
	}, {
		name: "json_ietf_val leaf (64-bit as a string)",
		n:    &gnmi.Notification{Update: []*gnmi.Update{{Path: mustPath(t, counters+"/in-errors"), Val: jsonVal(`"18446744073709551615"`)}}},
		want: func(u ifUpdate) bool { return u.counters[collectors.RxErrorPackets] == 1<<64-1 },
	}, {
		name: "json_ietf_val counters container with a leaf newer than the model",
		n: &gnmi.Notification{Update: []*gnmi.Update{{Path: mustPath(t, counters),
			Val: jsonVal(`{"in-octets":"1","out-octets":"2","openconfig-interfaces:in-fcs-errors":"3","carrier-transitions":"9"}`)}}},
		want: func(u ifUpdate) bool {
			return u.valid == 1<<collectors.RxBytes|1<<collectors.TxBytes|1<<collectors.FCSErrors &&
				u.counters[collectors.FCSErrors] == 3 && u.counters[collectors.TxBytes] == 2
		},
	}, {
		name: "json_ietf_val whole interface list at /interfaces",
		n: &gnmi.Notification{Update: []*gnmi.Update{{Path: mustPath(t, "/interfaces"),
			Val: jsonVal(`{"interface":[{"name":"et-0/0/1","state":{"oper-status":"DOWN","counters":{"in-discards":"5"}}}]}`)}}},
		want: func(u ifUpdate) bool {
			return u.hasOper && u.oper == collectors.OperDown && u.counters[collectors.RxDiscardPackets] == 5
		},
	}, {
		name: "module-qualified names, int_val",
		n: &gnmi.Notification{Update: []*gnmi.Update{{
			Path: mustPath(t, "/openconfig-interfaces:interfaces/interface[name=et-0/0/1]/state/counters/out-discards"),
			Val:  &gnmi.TypedValue{Value: &gnmi.TypedValue_IntVal{IntVal: 11}}}}},
		want: func(u ifUpdate) bool { return u.counters[collectors.TxDiscardPackets] == 11 },
	}, {
		name: "oper-status string and port-speed identity",
		n: &gnmi.Notification{Update: []*gnmi.Update{
			{Path: mustPath(t, "/interfaces/interface[name=et-0/0/1]/state/oper-status"), Val: &gnmi.TypedValue{Value: &gnmi.TypedValue_StringVal{StringVal: "UP"}}},
			{Path: mustPath(t, "/interfaces/interface[name=et-0/0/1]/ethernet/state/port-speed"), Val: jsonVal(`"openconfig-if-ethernet:SPEED_2500MB"`)},
		}},
		want: func(u ifUpdate) bool {
			return u.oper == collectors.OperUp && u.hasSpeed && u.speedBps == 2_500_000_000
		},
	}, {
		name: "ethernet counters, leaf and JSON container",
		n: &gnmi.Notification{Update: []*gnmi.Update{
			{Path: mustPath(t, "/interfaces/interface[name=et-0/0/1]/ethernet/state/counters/in-oversize-frames"), Val: uintVal(4)},
			{Path: mustPath(t, "/interfaces/interface[name=et-0/0/1]/ethernet/state/counters"),
				Val: jsonVal(`{"openconfig-if-ethernet:in-undersize-frames":"2","in-jabber-frames":"1"}`)},
		}},
		want: func(u ifUpdate) bool {
			return u.valid == 1<<collectors.Runts|1<<collectors.Giants && u.counters[collectors.Runts] == 2 && u.counters[collectors.Giants] == 4
		},
	}} {
		t.Run(tc.name, func(t *testing.T) {
			got, st := decodeOne(t, tc.n)
			u, ok := got["et-0/0/1"]
			if len(got) != 1 || !ok || !tc.want(u) {
				t.Fatalf("decoded %+v (stats %+v, last error %v)", got, st, st.lastErr)
			}
			if st.failures != 0 {
				t.Errorf("failures: %v", st.lastErr)
			}
		})
	}
}

func TestDecodeRejectsAndIgnores(t *testing.T) {
	n := &gnmi.Notification{Update: []*gnmi.Update{
		{Path: mustPath(t, "/system/state/hostname"), Val: &gnmi.TypedValue{Value: &gnmi.TypedValue_StringVal{StringVal: "x"}}},
		{Path: mustPath(t, "/interfaces/interface[name=e1]/state/counters/vendor-thing"), Val: uintVal(1)},
		{Path: mustPath(t, "/interfaces/interface[name=e1]/config/mtu"), Val: uintVal(1500)},
		{Path: mustPath(t, "/interfaces/interface[name=e1]/state/counters/in-octets"), Val: &gnmi.TypedValue{Value: &gnmi.TypedValue_StringVal{StringVal: "lots"}}},
		{Path: mustPath(t, "/interfaces/interface[name=e1]/state/oper-status"), Val: &gnmi.TypedValue{Value: &gnmi.TypedValue_StringVal{StringVal: "SIDEWAYS"}}},
		{Path: mustPath(t, "/interfaces/interface[name=e1]/state/counters/out-octets"), Val: nil},
		{Path: mustPath(t, "/interfaces/interface[name=e1]/state/counters/out-octets"), Val: uintVal(3)},
	}}
	got, st := decodeOne(t, n)
	if st.ignored != 3 || st.failures != 3 {
		t.Errorf("ignored %d, failures %d (last %v); want 3, 3", st.ignored, st.failures, st.lastErr)
	}
	if u := got["e1"]; u.valid != 1<<collectors.TxBytes || u.counters[collectors.TxBytes] != 3 || u.hasOper {
		t.Errorf("a bad leaf spoiled the good one: %+v", u)
	}
}

func TestDecodeDeletes(t *testing.T) {
	n := &gnmi.Notification{Delete: []*gnmi.Path{
		mustPath(t, "/interfaces/interface[name=a]"),
		mustPath(t, "/interfaces/interface[name=b]/state/counters/in-octets"),
		mustPath(t, "/interfaces/interface[name=b]/state/oper-status"),
	}}
	got, _ := decodeOne(t, n)
	if !got["a"].deleted || got["b"].deleted || got["b"].delValid != 1<<collectors.RxBytes || !got["b"].delOper {
		t.Errorf("deletes: %+v", got)
	}
}

func TestPortSpeedUnknownIsNotAnError(t *testing.T) {
	d := newDecoder()
	ups := d.decode(&gnmi.Notification{Update: []*gnmi.Update{{
		Path: mustPath(t, "/interfaces/interface[name=e1]/ethernet/state/port-speed"),
		Val:  &gnmi.TypedValue{Value: &gnmi.TypedValue_StringVal{StringVal: "openconfig-if-ethernet:SPEED_UNKNOWN"}}}}})
	if d.stats.failures != 0 || len(ups) != 1 || !ups[0].hasSpeed || ups[0].speedBps != 0 {
		t.Errorf("SPEED_UNKNOWN: %+v, %+v", ups, d.stats)
	}
}

func TestPortSpeed(t *testing.T) {
	for in, want := range map[string]uint64{
		"SPEED_10MB": 10e6, "openconfig-if-ethernet:SPEED_400GB": 400e9, "oc-eth:SPEED_2500MB": 2.5e9,
		"SPEED_UNKNOWN": 0, "SPEED_": 0, "SPEED_0GB": 0, "10GB": 0, "SPEED_99999999999GB": 0,
	} {
		got, ok := portSpeedBps(in)
		if got != want || ok != (want != 0) {
			t.Errorf("portSpeedBps(%q) = %d, %v", in, got, ok)
		}
	}
}

func TestTableResetAndDelete(t *testing.T) {
	tb := newTable()
	now := time.Now()
	up := func(name string, c collectors.Counter, v uint64) []ifUpdate {
		u := ifUpdate{name: name}
		u.set(c, v)
		return []ifUpdate{u}
	}
	tb.apply(up("x", collectors.RxBytes, 10), now)
	tb.apply(up("x", collectors.TxBytes, 10), now)
	tb.apply(up("x", collectors.RxBytes, 5), now) // went back
	s := tb.ifs["x"]
	if s.gen != 1 || s.valid != 1<<collectors.RxBytes || tb.resets != 1 {
		t.Fatalf("after decrease: %+v resets %d", s, tb.resets)
	}
	tb.apply(up("x", collectors.TxBytes, 1), now) // new generation's first value: no second bump
	if s.gen != 1 {
		t.Fatalf("second bump: %+v", s)
	}
	tb.apply([]ifUpdate{{name: "x", deleted: true}}, now)
	tb.apply([]ifUpdate{{name: "never-seen", deleted: true}}, now)
	if _, ok := tb.ifs["never-seen"]; ok || !s.deleted {
		t.Fatalf("delete: %+v %v", s, tb.names)
	}
	tb.apply(up("x", collectors.TxBytes, 100), now)
	if s.gen != 2 || s.deleted {
		t.Fatalf("re-created: %+v", s)
	}
	if strings.Join(tb.names, ",") != "x" {
		t.Fatalf("names %v", tb.names)
	}
}

// TestDecodeErrorsNameThePath checks that a refused value is reported with
// the full path of the update and, inside JSON, the leaf.
func TestDecodeErrorsNameThePath(t *testing.T) {
	str := func(s string) *gnmi.TypedValue {
		return &gnmi.TypedValue{Value: &gnmi.TypedValue_StringVal{StringVal: s}}
	}
	for _, tc := range []struct {
		path string
		val  *gnmi.TypedValue
		want string
	}{
		{"/interfaces/interface[name=e1]/state/counters/in-octets", str("lots"),
			`/interfaces/interface[name=e1]/state/counters/in-octets: string_val "lots" for a uint64 leaf`},
		{"/interfaces/interface[name=e1]/state/oper-status", str("SIDEWAYS"),
			`/interfaces/interface[name=e1]/state/oper-status: "SIDEWAYS" is not one of [UP DOWN TESTING UNKNOWN DORMANT NOT_PRESENT LOWER_LAYER_DOWN]`},
		{"/interfaces/interface[name=e1]/state/counters", jsonVal(`{"in-octets":5}`),
			`/interfaces/interface[name=e1]/state/counters: in-octets: JSON float64 for a uint64 leaf, want a string`},
		{"/interfaces", jsonVal(`{"interface":[{"name":"a","state":{"mtu":70000}}]}`),
			`/interfaces: state/mtu: JSON number 70000 out of range for a uint16 leaf`},
		{"/interfaces/interface[name=e1]/state/counters/in-fcs-errors", jsonVal(`"x"`),
			`/interfaces/interface[name=e1]/state/counters/in-fcs-errors: strconv.ParseUint: parsing "x": invalid syntax`},
	} {
		_, st := decodeOne(t, &gnmi.Notification{Update: []*gnmi.Update{{Path: mustPath(t, tc.path), Val: tc.val}}})
		if st.failures != 1 || st.lastErr == nil || st.lastErr.Error() != tc.want {
			t.Errorf("%s: %d failures, last error\n%v\nwant\n%s", tc.path, st.failures, st.lastErr, tc.want)
		}
	}
}
