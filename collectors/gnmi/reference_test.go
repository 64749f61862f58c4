//lint:file-ignore SA1019 the deprecated Path.Element form is decoded on purpose.

package gnmi

import (
	"encoding/json"
	"errors"
	"fmt"
	"reflect"
	"strconv"
	"strings"

	"github.com/openconfig/gnmi/proto/gnmi"
	"github.com/openconfig/ygot/util"
	"github.com/openconfig/ygot/ygot"
	"github.com/openconfig/ygot/ytypes"
	"google.golang.org/grpc/status"

	"github.com/probe-agent/probe-agent/collectors"
	"github.com/probe-agent/probe-agent/collectors/gnmi/oc"
)

// ygotDecoder is the decoder as it was while the daemon linked ygot: every
// value of the OpenConfig interfaces model goes through ytypes.SetNode (or
// oc.Unmarshal for whole trees) into the generated structs, and the
// collector's fields are read back from them. Paths in the Element form are
// parsed with ygot's parser. The leaves outside the generated model
// (in-fcs-errors, openconfig-if-ethernet) are decoded with the same helpers
// as the real decoder, since ygot has no say about them.
//
// It is the reference for the differential tests and fuzz targets: for any
// notification the real decoder must produce the same updates and the same
// counts of ignored and refused updates.
type ygotDecoder struct {
	dev    *oc.Device
	out    []ifUpdate
	byName map[string]int
	stats  decodeStats
}

func newYgotDecoder() *ygotDecoder {
	return &ygotDecoder{dev: &oc.Device{}, byName: map[string]int{}}
}

var (
	refSchemaDevice    = oc.SchemaTree["Device"]
	refSchemaIf        = oc.SchemaTree["Interface"]
	refSetLeafOpts     = []ytypes.SetNodeOpt{&ytypes.InitMissingElements{}}
	refSetTreeOpts     = []ytypes.SetNodeOpt{&ytypes.InitMissingElements{}, &ytypes.IgnoreExtraFields{}}
	errRefUnmapped     = errors.New("unmapped")
	errRefNotInterface = errors.New("not an interface")
)

func (d *ygotDecoder) decode(n *gnmi.Notification) []ifUpdate {
	d.out = d.out[:0]
	clear(d.byName)
	clear(d.dev.Interface)

	prefix, err := refPathElems(n.GetPrefix(), nil)
	if err != nil {
		d.fail(err)
		return nil
	}
	np := len(prefix)
	for _, del := range n.GetDelete() {
		elems, err := refPathElems(del, prefix[:np:np])
		if err != nil {
			d.fail(err)
			continue
		}
		if name, rel, ok := splitInterface(elems); ok {
			deleteLeaves(d.update(name), rel)
		}
	}
	for _, u := range n.GetUpdate() {
		d.stats.updates++
		if err := d.decodeUpdate(prefix[:np:np], u); err != nil {
			if errors.Is(err, errRefUnmapped) || errors.Is(err, errRefNotInterface) {
				d.stats.ignored++
			} else {
				d.fail(err)
			}
		}
	}
	for name, ifc := range d.dev.Interface {
		if name == "" || name == "*" {
			d.fail(fmt.Errorf("interface name %q in a JSON value", name))
			continue
		}
		up := d.update(name)
		if ifc.OperStatus != oc.Interface_OperStatus_UNSET {
			up.oper, up.hasOper = refOperStatus(ifc.OperStatus), true
		}
		if c := ifc.Counters; c != nil {
			for _, m := range refCounterMap {
				if p := m.field(c); p != nil {
					up.set(m.counter, *p)
				}
			}
		}
	}
	return d.out
}

func (d *ygotDecoder) fail(err error) {
	d.stats.failures++
	d.stats.lastErr = err
}

func (d *ygotDecoder) update(name string) *ifUpdate {
	if i, ok := d.byName[name]; ok {
		return &d.out[i]
	}
	d.byName[name] = len(d.out)
	d.out = append(d.out, ifUpdate{name: name})
	return &d.out[len(d.out)-1]
}

func (d *ygotDecoder) decodeUpdate(prefix []*gnmi.PathElem, u *gnmi.Update) error {
	elems, err := refPathElems(u.GetPath(), prefix)
	if err != nil {
		return err
	}
	val := u.GetVal()
	if val == nil {
		return errors.New("update without a value")
	}
	if js := val.GetJsonVal(); js != nil {
		// The JSON encoding is decoded as JSON_IETF (a fallback for
		// targets that have only JSON).
		val = &gnmi.TypedValue{Value: &gnmi.TypedValue_JsonIetfVal{JsonIetfVal: js}}
	}
	name, rel, ok := splitInterface(elems)
	if !ok {
		if js := val.GetJsonIetfVal(); js != nil && (len(elems) == 0 || (len(elems) == 1 && elems[0].GetName() == "interfaces")) {
			if len(elems) == 1 {
				js = append(append([]byte(`{"openconfig-interfaces:interfaces":`), js...), '}')
			}
			return oc.Unmarshal(js, d.dev, &ytypes.IgnoreExtraFields{})
		}
		return errRefNotInterface
	}
	switch {
	case matchRel(rel, "ethernet", "state", "port-speed"):
		s, err := scalarString(val)
		if err != nil {
			return err
		}
		bps, ok := portSpeedBps(s)
		if !ok && !strings.HasSuffix(s, "SPEED_UNKNOWN") {
			return fmt.Errorf("unknown port-speed %q", s)
		}
		up := d.update(name)
		up.speedBps, up.hasSpeed = bps, true
		return nil
	case len(rel) == 4 && matchRel(rel[:3], "ethernet", "state", "counters"):
		c, ok := ethernetCounters[rel[3].GetName()]
		if !ok {
			return errRefUnmapped
		}
		v, err := scalarUint(val)
		if err != nil {
			return err
		}
		d.update(name).set(c, v)
		return nil
	case matchRel(rel, "ethernet", "state", "counters"):
		js := val.GetJsonIetfVal()
		if js == nil {
			return errors.New("ethernet counters container without a JSON value")
		}
		n, err := jsonCounters(js, ethernetCounters, d.update(name))
		if err != nil {
			return err
		}
		if n == 0 {
			return errRefUnmapped
		}
		return nil
	case matchRel(rel, "state", "counters", "in-fcs-errors"):
		v, err := scalarUint(val)
		if err != nil {
			return err
		}
		d.update(name).set(collectors.FCSErrors, v)
		return nil
	case len(rel) > 0 && rel[0].GetName() != "state":
		return errRefUnmapped
	}
	if iv, ok := val.GetValue().(*gnmi.TypedValue_IntVal); ok && iv.IntVal >= 0 {
		val = &gnmi.TypedValue{Value: &gnmi.TypedValue_UintVal{UintVal: uint64(iv.IntVal)}}
	}
	opts := refSetLeafOpts
	if val.GetJsonIetfVal() != nil {
		opts = refSetTreeOpts
	}
	unsetBefore := refUnsetCounters(d.dev.Interface[name])
	if len(rel) == 0 {
		err = ytypes.SetNode(refSchemaDevice, d.dev, &gnmi.Path{Elem: elems}, val, opts...)
	} else {
		err = ytypes.SetNode(refSchemaIf, d.dev.GetOrCreateInterface(name), &gnmi.Path{Elem: rel}, val, opts...)
	}
	if err != nil && val.GetJsonIetfVal() != nil && (len(rel) == 0 || matchRel(rel, "state", "counters")) {
		refUndoZeroedCounter(d.dev.Interface[name], unsetBefore, val.GetJsonIetfVal(), len(rel) == 0)
	}
	if err != nil {
		// SetNode reports a path outside the model with this message. (The
		// decoder of old looked for the phrase anywhere in the message,
		// which also matched bad values that happened to contain it.)
		if strings.HasPrefix(status.Convert(err).Message(), "no match found in ") {
			return errRefUnmapped
		}
		return err
	}
	if js := val.GetJsonIetfVal(); js != nil && matchRel(rel, "state", "counters") {
		if _, err := jsonCounters(js, fcsOnly, d.update(name)); err != nil {
			return err
		}
	}
	return nil
}

// When ytypes unmarshals a JSON container into a struct, it allocates a
// leaf's field before checking the leaf's value, so a refused counter value
// left the counter set to 0. The decoder of old passed that 0 on, which
// looked like a counter reset (a new generation, rates broken); the
// decoder does not. refUnsetCounters and refUndoZeroedCounter take exactly
// that artifact out of the reference: a counter that was unset before a
// failed JSON decode, is 0 after it, and whose value in the document is
// not a valid counter.

func refUnsetCounters(ifc *oc.Interface) map[string]bool {
	unset := map[string]bool{}
	for _, name := range refCounterLeaves() {
		unset[name] = ifc == nil || ifc.Counters == nil || refCounterField(ifc.Counters, name).IsNil()
	}
	return unset
}

func refUndoZeroedCounter(ifc *oc.Interface, unsetBefore map[string]bool, js []byte, wholeInterface bool) {
	if ifc == nil || ifc.Counters == nil {
		return
	}
	var doc any
	if json.Unmarshal(js, &doc) != nil {
		return
	}
	if wholeInterface {
		doc = refMember(refMember(doc, "state"), "counters")
	}
	for _, name := range refCounterLeaves() {
		f := refCounterField(ifc.Counters, name)
		if !unsetBefore[name] || f.IsNil() || f.Elem().Uint() != 0 {
			continue
		}
		if s, ok := refMember(doc, name).(string); ok {
			if _, err := strconv.ParseUint(s, 10, 64); err == nil {
				continue // a real 0
			}
		}
		f.Set(reflect.Zero(f.Type()))
	}
}

// refMember returns the member of a JSON object by name without module
// prefix (the documents compared are not ambiguous).
func refMember(v any, name string) any {
	m, _ := v.(map[string]any)
	for k, c := range m {
		if util.StripModulePrefix(k) == name {
			return c
		}
	}
	return nil
}

// refCounterLeaves are the YANG names of the uint64 leaves of the
// generated counters struct.
func refCounterLeaves() []string {
	var out []string
	t := reflect.TypeFor[oc.Interface_Counters]()
	for i := range t.NumField() {
		if t.Field(i).Type == reflect.TypeFor[*uint64]() {
			out = append(out, t.Field(i).Tag.Get("path"))
		}
	}
	return out
}

func refCounterField(c *oc.Interface_Counters, name string) reflect.Value {
	v := reflect.ValueOf(c).Elem()
	for i := range v.NumField() {
		if v.Type().Field(i).Tag.Get("path") == name {
			return v.Field(i)
		}
	}
	panic("no counter leaf " + name)
}

// refPathElems is pathElems with ygot's path parser.
func refPathElems(p *gnmi.Path, prefix []*gnmi.PathElem) ([]*gnmi.PathElem, error) {
	if p == nil {
		return prefix, nil
	}
	elems := p.GetElem()
	if old := p.GetElement(); len(elems) == 0 && len(old) > 0 {
		sp, err := ygot.StringToStructuredPath("/" + strings.Join(old, "/"))
		if err != nil {
			return nil, err
		}
		elems = sp.GetElem()
	}
	out := prefix
	for _, e := range elems {
		if e == nil || e.Name == "" {
			return nil, errors.New("empty path element")
		}
		if i := strings.IndexByte(e.Name, ':'); i >= 0 {
			e = &gnmi.PathElem{Name: e.Name[i+1:], Key: e.Key}
		}
		out = append(out, e)
	}
	return out, nil
}

// refCounterMap is the counter mapping written against the generated
// struct's Go fields, independently of the decoder's table.
var refCounterMap = [...]struct {
	counter collectors.Counter
	field   func(*oc.Interface_Counters) *uint64
}{
	{collectors.RxBytes, func(c *oc.Interface_Counters) *uint64 { return c.InOctets }},
	{collectors.TxBytes, func(c *oc.Interface_Counters) *uint64 { return c.OutOctets }},
	{collectors.RxUnicastPackets, func(c *oc.Interface_Counters) *uint64 { return c.InUnicastPkts }},
	{collectors.TxUnicastPackets, func(c *oc.Interface_Counters) *uint64 { return c.OutUnicastPkts }},
	{collectors.RxMulticastPackets, func(c *oc.Interface_Counters) *uint64 { return c.InMulticastPkts }},
	{collectors.TxMulticastPackets, func(c *oc.Interface_Counters) *uint64 { return c.OutMulticastPkts }},
	{collectors.RxBroadcastPackets, func(c *oc.Interface_Counters) *uint64 { return c.InBroadcastPkts }},
	{collectors.TxBroadcastPackets, func(c *oc.Interface_Counters) *uint64 { return c.OutBroadcastPkts }},
	{collectors.RxErrorPackets, func(c *oc.Interface_Counters) *uint64 { return c.InErrors }},
	{collectors.TxErrorPackets, func(c *oc.Interface_Counters) *uint64 { return c.OutErrors }},
	{collectors.RxDiscardPackets, func(c *oc.Interface_Counters) *uint64 { return c.InDiscards }},
	{collectors.TxDiscardPackets, func(c *oc.Interface_Counters) *uint64 { return c.OutDiscards }},
}

func refOperStatus(s oc.E_Interface_OperStatus) collectors.OperStatus {
	switch s {
	case oc.Interface_OperStatus_UP:
		return collectors.OperUp
	case oc.Interface_OperStatus_DOWN, oc.Interface_OperStatus_LOWER_LAYER_DOWN,
		oc.Interface_OperStatus_NOT_PRESENT:
		return collectors.OperDown
	}
	return collectors.OperUnknown
}

// ambiguousJSON reports whether a notification carries a JSON value in
// which some object has two members with the same name once module
// prefixes are dropped ("in-octets" and "openconfig-interfaces:in-octets").
// ygot then reads whichever its map iteration meets first, so its result is
// not repeatable and cannot be compared.
func ambiguousJSON(n *gnmi.Notification) bool {
	for _, u := range n.GetUpdate() {
		js := u.GetVal().GetJsonIetfVal()
		if js == nil {
			js = u.GetVal().GetJsonVal()
		}
		if js == nil {
			continue
		}
		for _, doc := range [][]byte{js, append(append([]byte(`{"openconfig-interfaces:interfaces":`), js...), '}')} {
			var v any
			if json.Unmarshal(doc, &v) == nil && hasDuplicateMembers(v) {
				return true
			}
		}
	}
	return false
}

func hasDuplicateMembers(v any) bool {
	switch x := v.(type) {
	case map[string]any:
		seen := map[string]bool{}
		for k, c := range x {
			s := util.StripModulePrefix(k)
			if seen[s] || hasDuplicateMembers(c) {
				return true
			}
			seen[s] = true
		}
	case []any:
		for _, c := range x {
			if hasDuplicateMembers(c) {
				return true
			}
		}
	}
	return false
}
