//lint:file-ignore SA1019 the deprecated Path.Element form is tested on purpose.

package gnmi

import (
	"encoding/json"
	"fmt"
	"reflect"
	"strings"
	"testing"

	"github.com/openconfig/gnmi/proto/gnmi"

	"github.com/probe-agent/probe-agent/collectors"
	"github.com/probe-agent/probe-agent/collectors/gnmi/oc"
)

// modelLeafPaths lists, by reflection over the generated structs, the path
// (relative to an interface) of every leaf and container of the model below
// oc.Interface, so that the differential tests cover the whole model
// whatever the decoder's table says.
func modelLeafPaths() []string {
	var out []string
	var walk func(t reflect.Type, prefix string)
	walk = func(t reflect.Type, prefix string) {
		for i := range t.NumField() {
			f := t.Field(i)
			for _, p := range strings.Split(f.Tag.Get("path"), "|") {
				p = prefix + p
				switch {
				case f.Type.Kind() == reflect.Pointer && f.Type.Elem().Kind() == reflect.Struct:
					out = append(out, p)
					walk(f.Type.Elem(), p+"/")
				case f.Type.Kind() == reflect.Map:
					walk(f.Type.Elem().Elem(), p+"[index=1]/")
				default:
					out = append(out, p)
				}
			}
		}
	}
	walk(reflect.TypeFor[oc.Interface](), "")
	return out
}

// Paths the model does not have, or that go on below a leaf.
var offModelPaths = []string{
	"", "state", "state/foo", "state/counters/foo", "state/counters/foo/bar",
	"state/counters/in-octets/x", "state/oper-status/x", "state/name/x", "state/counters/last-clear/x",
	"state/counters/in-fcs-errors", "state/counters/in-fcs-errors/x", "config/mtu", "name",
	"ethernet/state/port-speed", "ethernet/state/counters", "ethernet/state/counters/in-oversize-frames",
	"ethernet/state/counters/in-jabber-frames", "ethernet/state/port-speed/x",
	"state[k=v]/counters[x=y]/in-octets", "openconfig-interfaces:state/counters/a:b:in-octets",
}

func typedValues() []*gnmi.TypedValue {
	u := func(v uint64) *gnmi.TypedValue { return &gnmi.TypedValue{Value: &gnmi.TypedValue_UintVal{UintVal: v}} }
	i := func(v int64) *gnmi.TypedValue { return &gnmi.TypedValue{Value: &gnmi.TypedValue_IntVal{IntVal: v}} }
	s := func(v string) *gnmi.TypedValue {
		return &gnmi.TypedValue{Value: &gnmi.TypedValue_StringVal{StringVal: v}}
	}
	out := []*gnmi.TypedValue{
		u(0), u(7), u(1<<16 - 1), u(1 << 16), u(1<<32 - 1), u(1 << 32), u(1<<64 - 1),
		i(-1), i(0), i(9), i(1 << 40),
		s(""), s("UP"), s("DOWN"), s("TESTING"), s("DORMANT"), s("UNKNOWN"), s("NOT_PRESENT"), s("LOWER_LAYER_DOWN"),
		s("UNSET"), s("up"), s("openconfig-interfaces:DOWN"), s("a:b:UP"), s(":UP"), s("UP:"), s("12"),
		s("SPEED_100GB"), s("ethernetCsmacd"), s("no match found"),
		{Value: &gnmi.TypedValue_BoolVal{BoolVal: true}},
		{Value: &gnmi.TypedValue_DoubleVal{DoubleVal: 1.5}},
		{Value: &gnmi.TypedValue_FloatVal{FloatVal: 2}},
		{Value: &gnmi.TypedValue_DecimalVal{DecimalVal: &gnmi.Decimal64{Digits: 15, Precision: 1}}},
		{Value: &gnmi.TypedValue_BytesVal{BytesVal: []byte("x")}},
		{Value: &gnmi.TypedValue_AsciiVal{AsciiVal: "UP"}},
		{Value: &gnmi.TypedValue_JsonVal{JsonVal: []byte(`"1"`)}},
		{Value: &gnmi.TypedValue_JsonIetfVal{JsonIetfVal: nil}},
		{Value: &gnmi.TypedValue_JsonIetfVal{JsonIetfVal: []byte{}}},
		{Value: &gnmi.TypedValue_LeaflistVal{LeaflistVal: &gnmi.ScalarArray{Element: []*gnmi.TypedValue{u(1)}}}},
		{},
	}
	for _, js := range jsonValues {
		out = append(out, jsonVal(js))
	}
	return out
}

// jsonValues are JSON texts of every type, in and out of the ranges of the
// model's leaf types.
var jsonValues = []string{
	`"5"`, `5`, `5.7`, `-0.5`, `-1`, `4294967295`, `4294967296`, `65535`, `65536`, `1e300`, `1e400`,
	`"18446744073709551615"`, `"18446744073709551616"`, `"-1"`, `"+5"`, `" 5"`, `"05"`, `""`, `"1.0"`,
	`null`, `true`, `false`, `"UP"`, `"openconfig-interfaces:DOWN"`, `"a:b:UP"`, `"UNSET"`, `"up"`,
	`{}`, `[]`, `[null]`, `"ethernetCsmacd"`, `{"in-octets":"3"}`, `garbage`, `"SPEED_10GB"`,
	`"no match found"`,
}

// TestDecoderMatchesYgot is the differential test: each leaf and container
// of the generated model, and paths beside it, with values of every kind,
// in both path forms, decoded by the decoder and by the ygot-based
// reference, must give the same updates and the same accept/refuse
// decisions.
func TestDecoderMatchesYgot(t *testing.T) {
	d := newDecoder()
	ref := newYgotDecoder()
	paths := append(modelLeafPaths(), offModelPaths...)
	values := typedValues()
	for _, rel := range paths {
		for _, v := range values {
			full := "/interfaces/interface[name=e1]"
			if rel != "" {
				full += "/" + rel
			}
			// Elem form, with a counter before it in the same notification
			// (so that a value spoiling the interface's record would show).
			sameAsYgot(t, d, ref, &gnmi.Notification{Update: []*gnmi.Update{
				{Path: pathFromString("/interfaces/interface[name=e1]/state/counters/out-octets"), Val: uintVal(1)},
				{Path: pathFromString(full), Val: v},
			}})
			// Element form, split between prefix and path.
			sameAsYgot(t, d, ref, &gnmi.Notification{
				Prefix: &gnmi.Path{Element: []string{"interfaces", "interface[name=e2]"}},
				Update: []*gnmi.Update{{Path: &gnmi.Path{Element: strings.Split(rel, "/")}, Val: v}},
			})
		}
	}
}

// jsonDoc builds a JSON object with raw values at slash-separated paths.
func jsonDoc(kv ...string) string {
	root := map[string]any{}
	for i := 0; i+1 < len(kv); i += 2 {
		m := root
		parts := strings.Split(kv[i], "/")
		for _, p := range parts[:len(parts)-1] {
			next, ok := m[p].(map[string]any)
			if !ok {
				next = map[string]any{}
				m[p] = next
			}
			m = next
		}
		m[parts[len(parts)-1]] = json.RawMessage(kv[i+1])
	}
	b, err := json.Marshal(root)
	if err != nil {
		panic(err)
	}
	return string(b)
}

// TestDecoderMatchesYgotJSON does the same for JSON documents: containers,
// whole interfaces and the /interfaces tree, with each leaf of the model in
// turn given each JSON value between good ones (a bad value must spoil
// exactly what it spoiled in ygot), plus list keys, duplicates and
// conflicting values.
func TestDecoderMatchesYgotJSON(t *testing.T) {
	d := newDecoder()
	ref := newYgotDecoder()
	check := func(path, doc string) {
		t.Helper()
		sameAsYgot(t, d, ref, &gnmi.Notification{Update: []*gnmi.Update{{Path: pathFromString(path), Val: jsonVal(doc)}}})
		// The same once more after leaves set one by one.
		sameAsYgot(t, d, ref, &gnmi.Notification{Update: []*gnmi.Update{
			{Path: pathFromString("/interfaces/interface[name=e1]/state/oper-status"), Val: &gnmi.TypedValue{Value: &gnmi.TypedValue_StringVal{StringVal: "DOWN"}}},
			{Path: pathFromString("/interfaces/interface[name=e1]/state/counters/in-octets"), Val: uintVal(100)},
			{Path: pathFromString(path), Val: jsonVal(doc)},
		}})
	}
	for _, rel := range modelLeafPaths() {
		for _, v := range jsonValues {
			if !json.Valid([]byte(v)) {
				continue
			}
			// Relative to the interface, with good counters sorted before
			// and after the leaf in the generated struct's field order.
			ifDoc := jsonDoc("state/counters/in-broadcast-pkts", `"1"`, "state/counters/out-unicast-pkts", `"2"`,
				"state/admin-status", `"UP"`, "state/type", `null`, rel, v)
			check("/interfaces/interface[name=e1]", ifDoc)
			if c, ok := strings.CutPrefix(rel, "state/counters/"); ok {
				check("/interfaces/interface[name=e1]/state/counters", jsonDoc("in-broadcast-pkts", `"1"`, "out-unicast-pkts", `"2"`, c, v))
			}
			named := jsonDoc("name", `"e1"`, "state/counters/in-octets", `"1"`, rel, v)
			list := fmt.Sprintf(`{"interface":[{"name":"e0","state":{"oper-status":"UP"}},%s,{"name":"e2","state":{"counters":{"out-octets":"3"}}}]}`, named)
			check("/interfaces", list)
			check("/", `{"openconfig-interfaces:interfaces":`+list+`}`)
		}
	}
	for _, doc := range []string{
		`{"name":"e1","state":{"name":"e1","counters":{"in-octets":"1"}}}`,
		`{"name":"e1","state":{"name":"e9","counters":{"in-octets":"1"}}}`,
		`{"name":null,"state":{"name":"e1"}}`,
		`{"name":"e1","state":{"name":null}}`,
		`{"name":5,"state":{"name":5}}`,
		`{"state":{"oper-status":"UP"},"subinterfaces":{"subinterface":[{"index":0,"state":{"counters":{"in-octets":"1"}}}]}}`,
		`{"state":{"oper-status":"UP"},"subinterfaces":{"subinterface":[{"state":{"index":1}},{"index":2}]}}`,
		`{"state":{"oper-status":"UP"},"subinterfaces":{"subinterface":[{"config":{"index":1}}]}}`,
		`{"state":{"oper-status":"UP"},"subinterfaces":{"subinterface":[{"index":1,"state":{"index":2}}]}}`,
		`{"state":{"oper-status":"UP"},"subinterfaces":{"subinterface":[{"index":1.5,"state":{"index":1.5}}]}}`,
		`{"state":{"oper-status":"UP"},"subinterfaces":{"subinterface":{}}}`,
		`{"state":{"oper-status":"UP"},"subinterfaces":{"subinterface":[5]}}`,
		`{"state":{"oper-status":"UP"},"hold-time":{"state":{"up":1,"down":-3}}}`,
		`{"state":{"oper-status":"UP"},"hold-time":{"config":{"up":"x"}}}`,
		`{"state":{"oper-status":"UP"},"config":{"mtu":"x","type":"bad"}}`,
		`{"state":5}`, `{"state":{"counters":5}}`, `{"state":{"counters":[]}}`, `{"state":{"counters":null}}`,
		`{"openconfig-interfaces:state":{"openconfig-interfaces:counters":{"openconfig-interfaces:in-octets":"1"}}}`,
		`{"x:y:state":{"counters":{"in-octets":"1"}}}`,
		`[]`, `5`, `null`, `"x"`,
	} {
		check("/interfaces/interface[name=e1]", doc)
	}
	for _, doc := range []string{
		`{"interface":[{"name":"a","state":{"counters":{"in-octets":"1"}}},{"name":"a","state":{"oper-status":"UP","counters":{"out-octets":"2"}}}]}`,
		`{"interface":[{"name":"a"},{"state":{"oper-status":"UP"}},{"name":"b"}]}`,
		`{"interface":[{"name":""},{"name":"*","state":{"oper-status":"UP"}},{"name":""}]}`,
		`{"interface":[{"name":"a","state":{"oper-status":"UP"}},{"name":"b","state":{"oper-status":"SIDEWAYS"}}]}`,
		`{"interface":{"name":"a"}}`, `{"interface":null}`, `{"interface":[null]}`, `{"interface":[]}`,
		`{"interface":[{"name":"a"}]}, "openconfig-interfaces:other": 1`,
		`null`, `[]`, `{}`, `5`,
	} {
		check("/interfaces", doc)
		check("/", `{"interfaces":`+doc+`}`)
	}
}

// TestAmbiguousJSONIsDeterministic covers what the differential tests
// leave out: a document with one member under two names. ygot takes either;
// the decoder must always take the same one.
func TestAmbiguousJSONIsDeterministic(t *testing.T) {
	n := &gnmi.Notification{Update: []*gnmi.Update{{
		Path: pathFromString("/interfaces/interface[name=e1]/state/counters"),
		Val:  jsonVal(`{"in-octets":"1","openconfig-interfaces:in-octets":"2","b:in-octets":"3","in-fcs-errors":"4","a:in-fcs-errors":"5"}`),
	}}}
	if !ambiguousJSON(n) {
		t.Fatal("not recognised as ambiguous")
	}
	d := newDecoder()
	for range 50 {
		ups := d.decode(n)
		if len(ups) != 1 || ups[0].counters[collectors.RxBytes] != 1 || ups[0].counters[collectors.FCSErrors] != 4 || d.stats.failures != 0 {
			t.Fatalf("got %+v, %+v", ups, d.stats)
		}
	}
}
