package gnmi

import (
	"encoding/json"
	"errors"
	"fmt"
	"reflect"
	"strconv"
	"strings"

	"github.com/openconfig/gnmi/proto/gnmi"
	"github.com/openconfig/goyang/pkg/yang"
	"github.com/openconfig/ygot/ygot"
	"github.com/openconfig/ygot/ytypes"

	"github.com/probe-agent/probe-agent/collectors"
	"github.com/probe-agent/probe-agent/collectors/gnmi/oc"
)

// ifUpdate is what one notification said about one interface. Only the
// fields whose bit (or flag) is set were present: a target may send any
// subset of the leaves in a response, and what is absent must not overwrite
// what an earlier response said.
type ifUpdate struct {
	name     string
	counters [collectors.NumCounters]uint64
	valid    collectors.CounterSet
	oper     collectors.OperStatus
	hasOper  bool
	speedBps uint64
	hasSpeed bool
	// deleted is a delete of the whole interface; delValid, delOper and
	// delSpeed are deletes of single leaves (the gnmi cache, for one, sends
	// a removed subtree as one delete per leaf).
	deleted  bool
	delValid collectors.CounterSet
	delOper  bool
	delSpeed bool
}

// present reports whether the update carries any value (not only deletes).
func (u *ifUpdate) present() bool { return u.valid != 0 || u.hasOper || u.hasSpeed }

func (u *ifUpdate) set(c collectors.Counter, v uint64) {
	u.counters[c] = v
	u.valid |= 1 << c
}

// decodeStats counts what the decoder could not use. They are separate from
// Stats so that a decoder can be exercised without a Collector.
type decodeStats struct {
	updates  uint64 // leaves (or JSON subtrees) seen
	ignored  uint64 // outside /interfaces/interface or not a leaf we map
	failures uint64 // rejected by the schema or malformed
	lastErr  error
}

// decoder turns gNMI notifications into per-interface updates. It is not
// safe for concurrent use; the stream goroutine owns one.
type decoder struct {
	root   *yang.Entry
	dev    *oc.Device
	out    []ifUpdate
	byName map[string]int // index into out
	stats  decodeStats
	// noFastPath sends every leaf through ytypes.SetNode; tests use it
	// to check that the fast path decodes the same.
	noFastPath bool
}

// The generated package unzips its schema once, at init, into
// oc.SchemaTree (oc.Schema() would unzip it again on every call).
var (
	schemaDevice   = oc.SchemaTree["Device"]
	schemaIf       = oc.SchemaTree["Interface"]
	schemaCounters = oc.SchemaTree["Interface_Counters"]
)

func newDecoder() (*decoder, error) {
	if schemaDevice == nil || schemaIf == nil || schemaCounters == nil {
		return nil, errors.New("gnmi: generated OpenConfig schema lacks Device, Interface or Interface_Counters")
	}
	return &decoder{root: schemaDevice, dev: &oc.Device{}, byName: map[string]int{}}, nil
}

var (
	errNotInterface = errors.New("path is not below /interfaces/interface[name]")
	errUnmapped     = errors.New("leaf is not one the collector maps")
)

// decode parses one notification. The returned slice is reused by the next
// call.
func (d *decoder) decode(n *gnmi.Notification) []ifUpdate {
	d.out = d.out[:0]
	clear(d.byName)
	// SetNode writes into a typed device tree; start from an empty one each
	// notification so that a leaf only shows up if this notification set it.
	clear(d.dev.Interface)

	prefix, err := pathElems(n.GetPrefix(), nil)
	if err != nil {
		d.fail(err)
		return nil
	}
	np := len(prefix)
	for _, del := range n.GetDelete() {
		elems, err := pathElems(del, prefix[:np:np])
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
			switch {
			case errors.Is(err, errNotInterface), errors.Is(err, errUnmapped):
				d.stats.ignored++
			default:
				d.fail(err)
			}
		}
	}
	for name, ifc := range d.dev.Interface {
		if name == "" || name == "*" {
			// Only reachable through JSON documents, whose list keys are
			// not checked like path keys are.
			d.fail(fmt.Errorf("interface name %q in a JSON value", name))
			continue
		}
		d.fromStruct(d.update(name), ifc)
	}
	return d.out
}

func (d *decoder) fail(err error) {
	d.stats.failures++
	d.stats.lastErr = err
}

// update returns the record for name in this notification, creating it.
func (d *decoder) update(name string) *ifUpdate {
	if i, ok := d.byName[name]; ok {
		return &d.out[i]
	}
	d.byName[name] = len(d.out)
	d.out = append(d.out, ifUpdate{name: name})
	return &d.out[len(d.out)-1]
}

func (d *decoder) decodeUpdate(prefix []*gnmi.PathElem, u *gnmi.Update) error {
	elems, err := pathElems(u.GetPath(), prefix)
	if err != nil {
		return err
	}
	val := u.GetVal()
	if val == nil {
		return errors.New("update without a value")
	}
	name, rel, ok := splitInterface(elems)
	if !ok {
		if js := val.GetJsonIetfVal(); js != nil && (len(elems) == 0 || (len(elems) == 1 && elems[0].GetName() == "interfaces")) {
			return d.decodeTree(elems, js)
		}
		return errNotInterface
	}
	switch {
	case matchRel(rel, "ethernet", "state", "port-speed"):
		// openconfig-if-ethernet is not in the generated model; the leaf
		// is an identityref whose name encodes the speed.
		s, err := scalarString(val)
		if err != nil {
			return err
		}
		bps, ok := portSpeedBps(s)
		if !ok && !strings.HasSuffix(s, "SPEED_UNKNOWN") {
			return fmt.Errorf("unknown port-speed %q", s)
		}
		// SPEED_UNKNOWN (down or virtual ports) is a valid report: 0.
		up := d.update(name)
		up.speedBps, up.hasSpeed = bps, true
		return nil
	case len(rel) == 4 && matchRel(rel[:3], "ethernet", "state", "counters"):
		// openconfig-if-ethernet is not in the generated model.
		c, ok := ethernetCounters[rel[3].GetName()]
		if !ok {
			return errUnmapped
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
			return errUnmapped
		}
		return nil
	case matchRel(rel, "state", "counters", "in-fcs-errors"):
		// Added to openconfig-interfaces after the revision ygot ships.
		v, err := scalarUint(val)
		if err != nil {
			return err
		}
		d.update(name).set(collectors.FCSErrors, v)
		return nil
	case len(rel) > 0 && rel[0].GetName() != "state":
		// config/, subinterfaces/, hold-time/, ethernet/...: nothing mapped.
		return errUnmapped
	}
	if iv, ok := val.GetValue().(*gnmi.TypedValue_IntVal); ok && iv.IntVal >= 0 {
		// Some targets send counters as int_val; ygot only takes uint_val
		// for uint64 leaves, and a non-negative int is unambiguous.
		val = &gnmi.TypedValue{Value: &gnmi.TypedValue_UintVal{UintVal: uint64(iv.IntVal)}}
	}
	opts := setLeafOpts
	if val.GetJsonIetfVal() != nil {
		opts = setTreeOpts
	}
	if err := d.setNode(name, elems, rel, val, opts); err != nil {
		if isUnknownLeaf(err) {
			return errUnmapped
		}
		return err
	}
	if js := val.GetJsonIetfVal(); js != nil && matchRel(rel, "state", "counters") {
		// A counters container as JSON may carry in-fcs-errors, which the
		// schema walk ignored as an extra field.
		if _, err := jsonCounters(js, fcsOnly, d.update(name)); err != nil {
			return err
		}
	}
	return nil
}

// decodeTree decodes a JSON value sent for the root or for /interfaces,
// which carries whole interfaces. SetNode does not descend from there into
// the compressed interface list, so the value is unmarshalled as a device
// document instead.
func (d *decoder) decodeTree(elems []*gnmi.PathElem, js []byte) error {
	if len(elems) == 1 {
		doc := make([]byte, 0, len(js)+40)
		doc = append(doc, `{"openconfig-interfaces:interfaces":`...)
		doc = append(append(doc, js...), '}')
		js = doc
	}
	return oc.Unmarshal(js, d.dev, &ytypes.IgnoreExtraFields{})
}

// deleteLeaves records a delete of rel below an interface. Deletes of
// leaves the collector does not map are no-ops.
func deleteLeaves(up *ifUpdate, rel []*gnmi.PathElem) {
	const ethernet = collectors.CounterSet(1<<collectors.Runts | 1<<collectors.Giants)
	const state = collectors.CounterSet(1<<collectors.NumCounters-1) &^ ethernet
	switch {
	case len(rel) == 0:
		up.deleted = true
	case matchRel(rel, "state"):
		up.delValid, up.delOper = up.delValid|state, true
	case matchRel(rel, "state", "counters"):
		up.delValid |= state
	case matchRel(rel, "state", "oper-status"):
		up.delOper = true
	case matchRel(rel, "ethernet"), matchRel(rel, "ethernet", "state"):
		up.delSpeed = true
		up.delValid |= ethernet
	case matchRel(rel, "ethernet", "state", "port-speed"):
		up.delSpeed = true
	case matchRel(rel, "ethernet", "state", "counters"):
		up.delValid |= ethernet
	case len(rel) == 4 && matchRel(rel[:3], "ethernet", "state", "counters"):
		if c, ok := ethernetCounters[rel[3].GetName()]; ok {
			up.delValid |= 1 << c
		}
	case len(rel) == 3 && matchRel(rel[:2], "state", "counters"):
		if c, ok := leafCounter[rel[2].GetName()]; ok {
			up.delValid |= 1 << c
		}
	}
}

// leafCounter maps counter leaf names to Apstra counters, for deletes.
var leafCounter = map[string]collectors.Counter{
	"in-octets": collectors.RxBytes, "out-octets": collectors.TxBytes,
	"in-unicast-pkts": collectors.RxUnicastPackets, "out-unicast-pkts": collectors.TxUnicastPackets,
	"in-multicast-pkts": collectors.RxMulticastPackets, "out-multicast-pkts": collectors.TxMulticastPackets,
	"in-broadcast-pkts": collectors.RxBroadcastPackets, "out-broadcast-pkts": collectors.TxBroadcastPackets,
	"in-errors": collectors.RxErrorPackets, "out-errors": collectors.TxErrorPackets,
	"in-discards": collectors.RxDiscardPackets, "out-discards": collectors.TxDiscardPackets,
	"in-fcs-errors": collectors.FCSErrors,
}

// setNode stores val into the typed tree. Walking from the root costs most
// of the time in matching the interface list key (measured: ~60µs a leaf),
// so the walk starts at the interface's own struct, or at its counters
// container for a counter leaf, whenever the path allows.
func (d *decoder) setNode(name string, elems, rel []*gnmi.PathElem, val *gnmi.TypedValue, opts []ytypes.SetNodeOpt) error {
	if len(rel) == 0 {
		return ytypes.SetNode(d.root, d.dev, &gnmi.Path{Elem: elems}, val, opts...)
	}
	ifc := d.dev.GetOrCreateInterface(name)
	if len(rel) == 3 && rel[0].GetName() == "state" && rel[1].GetName() == "counters" {
		if u, ok := val.GetValue().(*gnmi.TypedValue_UintVal); ok && !d.noFastPath {
			if i, ok := uint64Leaves[rel[2].GetName()]; ok {
				// The common case, a uint_val for a uint64 counter leaf,
				// needs none of SetNode's schema walk: the generated
				// field was located once from its path tag, and the value
				// needs no conversion. Everything else takes SetNode.
				v := u.UintVal
				reflect.ValueOf(ifc.GetOrCreateCounters()).Elem().Field(i).Set(reflect.ValueOf(&v))
				return nil
			}
		}
		return ytypes.SetNode(schemaCounters, ifc.GetOrCreateCounters(), &gnmi.Path{Elem: rel[2:]}, val, opts...)
	}
	if sv, ok := val.GetValue().(*gnmi.TypedValue_StringVal); ok && !d.noFastPath && matchRel(rel, "state", "oper-status") {
		// Enum leaves are SetNode's slowest case (~90µs, most of a full
		// counter set's decode time); the generated enum table gives the
		// same answer directly.
		if e, ok := operStatusByName[sv.StringVal]; ok {
			ifc.OperStatus = e
			return nil
		}
	}
	return ytypes.SetNode(schemaIf, ifc, &gnmi.Path{Elem: rel}, val, opts...)
}

// operStatusByName inverts the generated enum table for oper-status.
var operStatusByName = func() map[string]oc.E_Interface_OperStatus {
	m := map[string]oc.E_Interface_OperStatus{}
	for v, def := range oc.ΛEnum["E_Interface_OperStatus"] {
		m[def.Name] = oc.E_Interface_OperStatus(v)
	}
	return m
}()

// uint64Leaves maps the YANG name of every uint64 leaf of
// oc.Interface_Counters to its struct field index, read from the generated
// path tags.
var uint64Leaves = func() map[string]int {
	m := map[string]int{}
	t := reflect.TypeFor[oc.Interface_Counters]()
	for i := range t.NumField() {
		f := t.Field(i)
		if p := f.Tag.Get("path"); p != "" && !strings.ContainsAny(p, "/|") && f.Type == reflect.TypeFor[*uint64]() {
			m[p] = i
		}
	}
	return m
}()

// For a single leaf, an unknown name must be an error so it is counted as
// ignored; in a JSON subtree, unknown members (vendor augments, leaves newer
// than the model) are skipped so that the known ones still decode.
var (
	setLeafOpts = []ytypes.SetNodeOpt{&ytypes.InitMissingElements{}}
	setTreeOpts = []ytypes.SetNodeOpt{&ytypes.InitMissingElements{}, &ytypes.IgnoreExtraFields{}}
)

// isUnknownLeaf tells a leaf the model does not have (vendor augments,
// newer revisions) from a value that does not fit a known leaf.
func isUnknownLeaf(err error) bool {
	s := err.Error()
	return strings.Contains(s, "no match found") || strings.Contains(s, "does not exist")
}

// fromStruct copies the leaves the schema walk set into the update.
func (d *decoder) fromStruct(up *ifUpdate, ifc *oc.Interface) {
	if ifc == nil {
		return
	}
	if ifc.OperStatus != oc.Interface_OperStatus_UNSET {
		up.oper, up.hasOper = operStatus(ifc.OperStatus), true
	}
	c := ifc.Counters
	if c == nil {
		return
	}
	for _, m := range counterMap {
		if p := m.field(c); p != nil {
			up.set(m.counter, *p)
		}
	}
}

// counterMap is the OpenConfig → Apstra counter table (documented in
// docs/collectors-gnmi.md).
var counterMap = [...]struct {
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

func operStatus(s oc.E_Interface_OperStatus) collectors.OperStatus {
	switch s {
	case oc.Interface_OperStatus_UP:
		return collectors.OperUp
	case oc.Interface_OperStatus_DOWN, oc.Interface_OperStatus_LOWER_LAYER_DOWN,
		oc.Interface_OperStatus_NOT_PRESENT:
		return collectors.OperDown
	}
	// TESTING, DORMANT and UNKNOWN are neither: Apstra has no state for them.
	return collectors.OperUnknown
}

// pathElems returns prefix followed by p's elements, accepting both the
// structured Elem form and the deprecated string Element form. Module
// prefixes on names ("openconfig-interfaces:interfaces") are dropped because
// the generated schema matches bare names. It allocates a new slice only
// when prefix has no spare capacity, so callers pass prefix[:n:n] to keep
// the prefix intact.
func pathElems(p *gnmi.Path, prefix []*gnmi.PathElem) ([]*gnmi.PathElem, error) {
	if p == nil {
		return prefix, nil
	}
	elems := p.GetElem()
	//lint:ignore SA1019 the deprecated form is still sent by real targets (and the fake one).
	if old := p.GetElement(); len(elems) == 0 && len(old) > 0 {
		sp, err := ygot.StringToStructuredPath("/" + strings.Join(old, "/"))
		if err != nil {
			return nil, fmt.Errorf("path element form %q: %w", old, err)
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

// splitInterface finds interfaces/interface[name=X] at the start of elems
// and returns X and the elements after it.
func splitInterface(elems []*gnmi.PathElem) (name string, rel []*gnmi.PathElem, ok bool) {
	if len(elems) < 2 || elems[0].GetName() != "interfaces" || elems[1].GetName() != "interface" {
		return "", nil, false
	}
	name = elems[1].GetKey()["name"]
	if name == "" || name == "*" {
		return "", nil, false
	}
	return name, elems[2:], true
}

func matchRel(rel []*gnmi.PathElem, names ...string) bool {
	if len(rel) != len(names) {
		return false
	}
	for i, n := range names {
		if rel[i].GetName() != n {
			return false
		}
	}
	return true
}

// scalarUint reads an unsigned value from the encodings targets use for
// counters.
func scalarUint(v *gnmi.TypedValue) (uint64, error) {
	switch x := v.GetValue().(type) {
	case *gnmi.TypedValue_UintVal:
		return x.UintVal, nil
	case *gnmi.TypedValue_IntVal:
		if x.IntVal >= 0 {
			return uint64(x.IntVal), nil
		}
	case *gnmi.TypedValue_JsonIetfVal:
		// RFC 7951 encodes 64-bit integers as strings; accept a bare
		// number too.
		var s string
		if err := json.Unmarshal(x.JsonIetfVal, &s); err == nil {
			return strconv.ParseUint(s, 10, 64)
		}
		var n uint64
		if err := json.Unmarshal(x.JsonIetfVal, &n); err == nil {
			return n, nil
		}
	}
	return 0, fmt.Errorf("not an unsigned counter value: %v", v)
}

func scalarString(v *gnmi.TypedValue) (string, error) {
	switch x := v.GetValue().(type) {
	case *gnmi.TypedValue_StringVal:
		return x.StringVal, nil
	case *gnmi.TypedValue_JsonIetfVal:
		var s string
		if err := json.Unmarshal(x.JsonIetfVal, &s); err != nil {
			return "", fmt.Errorf("port-speed JSON: %w", err)
		}
		return s, nil
	}
	return "", fmt.Errorf("not a string value: %v", v)
}

// Counter leaves outside the generated model, by YANG name.
var (
	fcsOnly = map[string]collectors.Counter{"in-fcs-errors": collectors.FCSErrors}
	// The Ethernet MAC counters of openconfig-if-ethernet that have an
	// Apstra counterpart: undersize frames (shorter than 64 bytes, FCS
	// good) are runts, oversize frames (longer than the maximum, FCS good)
	// are giants.
	ethernetCounters = map[string]collectors.Counter{
		"in-undersize-frames": collectors.Runts,
		"in-oversize-frames":  collectors.Giants,
	}
)

// jsonCounters picks the members named in want out of a JSON object (an
// RFC 7951 container, member names optionally module-qualified) and sets
// them on up. It returns how many it set.
func jsonCounters(b []byte, want map[string]collectors.Counter, up *ifUpdate) (int, error) {
	var m map[string]json.RawMessage
	if err := json.Unmarshal(b, &m); err != nil {
		return 0, fmt.Errorf("counters JSON: %w", err)
	}
	n := 0
	for k, raw := range m {
		if i := strings.LastIndexByte(k, ':'); i >= 0 {
			k = k[i+1:]
		}
		c, ok := want[k]
		if !ok {
			continue
		}
		v, err := scalarUint(&gnmi.TypedValue{Value: &gnmi.TypedValue_JsonIetfVal{JsonIetfVal: raw}})
		if err != nil {
			return n, fmt.Errorf("counters JSON member %s: %w", k, err)
		}
		up.set(c, v)
		n++
	}
	return n, nil
}

// portSpeedBps maps an openconfig-if-ethernet ETHERNET_SPEED identity
// ("SPEED_100GB", optionally module-qualified) to bits per second.
func portSpeedBps(s string) (uint64, bool) {
	if i := strings.LastIndexByte(s, ':'); i >= 0 {
		s = s[i+1:]
	}
	num, ok := strings.CutPrefix(s, "SPEED_")
	if !ok {
		return 0, false
	}
	var mult uint64
	switch {
	case strings.HasSuffix(num, "GB"):
		mult, num = 1_000_000_000, num[:len(num)-2]
	case strings.HasSuffix(num, "MB"):
		mult, num = 1_000_000, num[:len(num)-2]
	default:
		// SPEED_UNKNOWN and anything not of the form <n>{MB,GB}.
		return 0, false
	}
	// Identities like SPEED_2500MB are integers; none has a fraction.
	n, err := strconv.ParseUint(num, 10, 32)
	if err != nil || n == 0 {
		return 0, false
	}
	return n * mult, true
}
