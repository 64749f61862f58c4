package gnmi

import (
	"maps"
	"reflect"
	"slices"
	"strings"
	"testing"

	"github.com/openconfig/goyang/pkg/yang"
	"github.com/openconfig/ygot/util"
	"github.com/openconfig/ygot/ygot"

	"github.com/probe-agent/probe-agent/collectors"
	"github.com/probe-agent/probe-agent/collectors/gnmi/oc"
)

// The model is the ygot-generated package oc (see gen.sh); the decoder's
// static table must say the same. These tests fail when they drift apart,
// e.g. after regenerating oc from newer YANG.

// documentedExtraLeaves are the leaves the decoder reads that the generated
// model lacks (docs/collectors-gnmi.md lists them). If the model gains one,
// TestModelLacksExtraLeaves fails: move it into the table then.
var documentedExtraLeaves = []string{
	"state/counters/in-fcs-errors",
	"ethernet/state/port-speed",
	"ethernet/state/counters/in-undersize-frames",
	"ethernet/state/counters/in-oversize-frames",
}

// TestCounterTableMatchesModel walks the path tags of oc.Interface_Counters:
// every leaf the model has must be in the table, every leaf the table names
// must be in the model, and the counter leaves map to the documented Apstra
// counters.
func TestCounterTableMatchesModel(t *testing.T) {
	wantMapped := map[string]string{ // leaf -> Apstra counter, as in docs/collectors-gnmi.md
		"in-octets": "rx_bytes", "out-octets": "tx_bytes",
		"in-unicast-pkts": "rx_unicast_packets", "out-unicast-pkts": "tx_unicast_packets",
		"in-multicast-pkts": "rx_multicast_packets", "out-multicast-pkts": "tx_multicast_packets",
		"in-broadcast-pkts": "rx_broadcast_packets", "out-broadcast-pkts": "tx_broadcast_packets",
		"in-errors": "rx_error_packets", "out-errors": "tx_error_packets",
		"in-discards": "rx_discard_packets", "out-discards": "tx_discard_packets",
	}
	model := map[string]reflect.Type{}
	rt := reflect.TypeFor[oc.Interface_Counters]()
	for i := range rt.NumField() {
		model[rt.Field(i).Tag.Get("path")] = rt.Field(i).Type
	}
	table := map[string]*modelField{}
	for i := range modelCounters.fields {
		f := &modelCounters.fields[i]
		table[pathTag(f)] = f
	}
	for leaf, typ := range model {
		f, ok := table[leaf]
		switch {
		case !ok:
			t.Errorf("the model has counters leaf %s (%v), the decoder's table does not", leaf, typ)
		case wantMapped[leaf] == "" && f.hasCounter:
			t.Errorf("leaf %s is mapped to %v; the documentation does not map it", leaf, f.counter)
		case wantMapped[leaf] != "" && (!f.hasCounter || f.counter.String() != wantMapped[leaf]):
			t.Errorf("leaf %s maps to %v (mapped %v), want %s", leaf, f.counter, f.hasCounter, wantMapped[leaf])
		}
	}
	for leaf := range table {
		if _, ok := model[leaf]; !ok {
			t.Errorf("the decoder's table has counters leaf %s, the model does not", leaf)
		}
	}
	for leaf := range wantMapped {
		if _, ok := model[leaf]; !ok {
			t.Errorf("documented leaf %s is not in the model", leaf)
		}
	}
	// Deletes know the same leaves, plus in-fcs-errors.
	wantDelete := maps.Clone(wantMapped)
	wantDelete["in-fcs-errors"] = "fcs_errors"
	gotDelete := map[string]string{}
	for leaf, c := range leafCounter {
		gotDelete[leaf] = c.String()
	}
	if !maps.Equal(gotDelete, wantDelete) {
		t.Errorf("counters known for deletes: %v, want %v", gotDelete, wantDelete)
	}
}

// TestOperStatusTableMatchesModel compares the oper-status names with the
// generated enumeration and checks their mapping.
func TestOperStatusTableMatchesModel(t *testing.T) {
	var model []string
	for _, v := range slices.Sorted(maps.Keys(oc.ΛEnum["E_Interface_OperStatus"])) {
		model = append(model, oc.ΛEnum["E_Interface_OperStatus"][v].Name)
	}
	if !slices.Equal(model, operStatusNames) {
		t.Errorf("oper-status names: model %v, decoder %v", model, operStatusNames)
	}
	want := map[string]collectors.OperStatus{
		"UP": collectors.OperUp, "DOWN": collectors.OperDown, "LOWER_LAYER_DOWN": collectors.OperDown,
		"NOT_PRESENT": collectors.OperDown, "TESTING": collectors.OperUnknown, "DORMANT": collectors.OperUnknown,
		"UNKNOWN": collectors.OperUnknown,
	}
	for _, name := range model {
		if got, ok := want[name]; !ok || operStatusOf(name) != got {
			t.Errorf("oper-status %s maps to %v, want %v (documented: %v)", name, operStatusOf(name), got, ok)
		}
	}
}

// TestModelLacksExtraLeaves checks that the leaves decoded outside the
// table are indeed not in the model.
func TestModelLacksExtraLeaves(t *testing.T) {
	for _, leaf := range documentedExtraLeaves {
		if modelHasPath(reflect.TypeFor[oc.Interface](), strings.Split(leaf, "/")) {
			t.Errorf("the model now has %s: decode it through the table", leaf)
		}
	}
}

func modelHasPath(t reflect.Type, path []string) bool {
	for i := range t.NumField() {
		f := t.Field(i)
		for _, p := range strings.Split(f.Tag.Get("path"), "|") {
			ps := strings.Split(p, "/")
			if len(ps) > len(path) || !slices.Equal(ps, path[:len(ps)]) {
				continue
			}
			if len(ps) == len(path) {
				return true
			}
			if f.Type.Kind() == reflect.Pointer && f.Type.Elem().Kind() == reflect.Struct && modelHasPath(f.Type.Elem(), path[len(ps):]) {
				return true
			}
		}
	}
	return false
}

// TestModelMatchesGenerated compares the whole table with the generated
// structs, field by field in order: names, path tags, containers and lists
// (and list keys), and each leaf's type as the YANG schema gives it (after
// leafrefs), which is what ytypes decoded by, and enumeration names.
func TestModelMatchesGenerated(t *testing.T) {
	compareContainer(t, modelDevice, reflect.TypeFor[oc.Device](), "")
}

func compareContainer(t *testing.T, c *modelContainer, rt reflect.Type, where string) {
	t.Helper()
	where += "/" + rt.Name()
	if c.goName != rt.Name() {
		t.Errorf("%s: table container is %s", where, c.goName)
	}
	schema := oc.SchemaTree[rt.Name()]
	if schema == nil {
		t.Fatalf("%s: no schema", where)
	}
	if len(c.fields) != rt.NumField() {
		t.Errorf("%s: table has %d fields, the struct %d", where, len(c.fields), rt.NumField())
	}
	for i := range min(len(c.fields), rt.NumField()) {
		f, sf := &c.fields[i], rt.Field(i)
		at := where + "." + sf.Name
		if f.goName != sf.Name || pathTag(f) != sf.Tag.Get("path") {
			t.Errorf("%s: table has %s %q, the struct %s %q", at, f.goName, pathTag(f), sf.Name, sf.Tag.Get("path"))
			continue
		}
		cs, err := util.ChildSchema(schema, sf)
		if err != nil || cs == nil {
			t.Errorf("%s: no child schema: %v", at, err)
			continue
		}
		switch {
		case sf.Type.Kind() == reflect.Map:
			if !f.list || f.child == nil {
				t.Errorf("%s: a list in the model, not in the table", at)
				continue
			}
			entry := sf.Type.Elem().Elem()
			compareContainer(t, f.child, entry, where)
			keys := 0
			for _, kf := range f.child.fields {
				if kf.key {
					keys++
					if last := kf.paths[0][len(kf.paths[0])-1]; last != cs.Key {
						t.Errorf("%s: table keys the list by %s, the schema by %s", at, last, cs.Key)
					}
				}
			}
			if keys != 1 {
				t.Errorf("%s: %d key leaves in the table", at, keys)
			}
		case sf.Type.Kind() == reflect.Pointer && sf.Type.Elem().Kind() == reflect.Struct:
			if f.list || f.child == nil {
				t.Errorf("%s: a container in the model, not in the table", at)
				continue
			}
			compareContainer(t, f.child, sf.Type.Elem(), where)
		default:
			if f.child != nil {
				t.Errorf("%s: a leaf in the model, not in the table", at)
				continue
			}
			leaf, err := util.ResolveIfLeafRef(cs)
			if err != nil {
				t.Errorf("%s: %v", at, err)
				continue
			}
			want, ok := map[yang.TypeKind]leafType{
				yang.Yuint64: typeUint64, yang.Yuint32: typeUint32, yang.Yuint16: typeUint16,
				yang.Ystring: typeString, yang.Ybool: typeBool, yang.Yenum: typeEnum, yang.Yidentityref: typeEnum,
			}[leaf.Type.Kind]
			if !ok || f.leaf != want {
				t.Errorf("%s: YANG type %v, table %v", at, leaf.Type.Kind, f.leaf)
			}
			if want == typeEnum {
				e, ok := reflect.New(sf.Type).Elem().Interface().(ygot.GoEnum)
				if !ok {
					t.Errorf("%s: %v is not a generated enumeration", at, sf.Type)
					continue
				}
				defs := e.ΛMap()[sf.Type.Name()]
				var names []string
				for _, v := range slices.Sorted(maps.Keys(defs)) {
					names = append(names, defs[v].Name)
				}
				if !slices.Equal(names, f.enum) {
					t.Errorf("%s: enumeration %v in the model, %v in the table", at, names, f.enum)
				}
			}
		}
	}
}
