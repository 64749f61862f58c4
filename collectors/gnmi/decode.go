package gnmi

import (
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"slices"
	"strconv"
	"strings"

	"github.com/openconfig/gnmi/proto/gnmi"

	"github.com/probe-agent/probe-agent/collectors"
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
	failures uint64 // rejected by the model or malformed
	lastErr  error
}

// decoder turns gNMI notifications into per-interface updates. It is not
// safe for concurrent use; the stream goroutine owns one.
//
// Values are type-checked against a static table of the OpenConfig
// interfaces model (model.go), not with ygot, which is kept out of the
// daemon (see the package documentation).
type decoder struct {
	out    []ifUpdate
	byName map[string]int // index into out
	stats  decodeStats
	// prefix and elems are scratch space for the notification's prefix
	// and the full path of one update.
	prefix, elems []*gnmi.PathElem
	// badName records the JSON list entries named "" or "*" of this
	// notification, which are reported once each.
	badName [2]bool
}

func newDecoder() *decoder {
	return &decoder{byName: map[string]int{}}
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
	d.badName = [2]bool{}

	prefix, err := pathElems(n.GetPrefix(), d.prefix[:0])
	if err != nil {
		d.fail(err)
		return nil
	}
	d.prefix = prefix[:0]
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
		elems, err := pathElems(u.GetPath(), append(d.elems[:0], prefix...))
		if err == nil {
			d.elems = elems[:0]
			val := u.GetVal()
			if js := val.GetJsonVal(); js != nil {
				// Plain JSON (the fallback for targets without JSON_IETF)
				// is the same tree without module prefixes, which the
				// JSON_IETF decoding accepts too.
				val = &gnmi.TypedValue{Value: &gnmi.TypedValue_JsonIetfVal{JsonIetfVal: js}}
			}
			err = d.decodeUpdate(elems, val)
			if err != nil && !errors.Is(err, errNotInterface) && !errors.Is(err, errUnmapped) {
				err = fmt.Errorf("%s: %w", pathString(elems), err)
			}
		}
		switch {
		case err == nil:
		case errors.Is(err, errNotInterface), errors.Is(err, errUnmapped):
			d.stats.ignored++
		default:
			d.fail(err)
		}
	}
	// JSON list entries are not checked like path keys are.
	for i, name := range [2]string{"", "*"} {
		if d.badName[i] {
			d.fail(fmt.Errorf("interface name %q in a JSON value", name))
		}
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

// decodeUpdate decodes one update whose full path is elems.
func (d *decoder) decodeUpdate(elems []*gnmi.PathElem, val *gnmi.TypedValue) error {
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
		// openconfig-if-ethernet is not in the model; the leaf is an
		// identityref whose name encodes the speed.
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
		// openconfig-if-ethernet is not in the model.
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
		// Added to openconfig-interfaces after the revision in the model.
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
	// The interface is recorded even if the value turns out to be bad or
	// unknown, as it was in the typed tree ygot wrote into.
	up := d.update(name)
	if len(rel) == 0 {
		return decodeInterfaceJSON(val, up)
	}
	if err := modelInterface.setPath(rel, val, up); err != nil {
		return err
	}
	if js := val.GetJsonIetfVal(); js != nil && matchRel(rel, "state", "counters") {
		// A counters container as JSON may carry in-fcs-errors, which is
		// not in the model.
		if _, err := jsonCounters(js, fcsOnly, up); err != nil {
			return err
		}
	}
	return nil
}

// decodeInterfaceJSON decodes a value sent for a whole interface, which
// must be JSON. The fields before a bad one still count.
func decodeInterfaceJSON(val *gnmi.TypedValue, up *ifUpdate) error {
	js := val.GetJsonIetfVal()
	if js == nil {
		return errors.New("an interface takes a json_ietf_val only")
	}
	obj, err := jsonObject(js, "an interface")
	if obj == nil {
		return err
	}
	_, _, err = modelInterface.decodeJSON(obj, up)
	return err
}

// jsonObject decodes a json_ietf_val that must be a JSON object (what is
// the value for); JSON null gives nil and no error: nothing to decode.
func jsonObject(js []byte, what string) (map[string]any, error) {
	var v any
	if err := json.Unmarshal(js, &v); err != nil {
		return nil, fmt.Errorf("json_ietf_val: %w", err)
	}
	if v == nil {
		return nil, nil
	}
	obj, ok := v.(map[string]any)
	if !ok {
		return nil, fmt.Errorf("JSON %T for %s, want an object", v, what)
	}
	return obj, nil
}

// decodeTree decodes a JSON value sent for the root or for /interfaces,
// which carries whole interfaces. A value for /interfaces is wrapped into a
// document for the root, as the ygot-based decoder did. Each interface
// counts only if it decoded completely; those before a bad one still do.
func (d *decoder) decodeTree(elems []*gnmi.PathElem, js []byte) error {
	if len(elems) == 1 {
		doc := make([]byte, 0, len(js)+40)
		doc = append(doc, `{"openconfig-interfaces:interfaces":`...)
		doc = append(append(doc, js...), '}')
		js = doc
	}
	obj, err := jsonObject(js, "the root")
	if obj == nil {
		return err
	}
	list := &modelDevice.fields[0]
	ifs, err := jsonFieldValue(obj, list)
	if err != nil || ifs == nil {
		return err
	}
	return list.decodeList(ifs, func(name string, entry *ifUpdate) {
		switch name {
		case "":
			d.badName[0] = true
			return
		case "*":
			d.badName[1] = true
			return
		}
		up := d.update(name)
		for c := range collectors.Counter(collectors.NumCounters) {
			if entry.valid.Has(c) {
				up.set(c, entry.counters[c])
			}
		}
		if entry.hasOper {
			up.oper, up.hasOper = entry.oper, true
		}
	})
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

// leafCounter maps the counter leaves of /interfaces/interface/state/counters
// to Apstra counters, for deletes: the mapped leaves of the model and
// in-fcs-errors.
var leafCounter = func() map[string]collectors.Counter {
	m := maps.Clone(fcsOnly)
	for _, f := range modelCounters.fields {
		if f.hasCounter {
			m[f.paths[0][0]] = f.counter
		}
	}
	return m
}()

// pathElems returns prefix followed by p's elements, accepting both the
// structured Elem form and the deprecated string Element form. Module
// prefixes on names ("openconfig-interfaces:interfaces") are dropped because
// the model matches bare names. It allocates a new slice only when prefix
// has no spare capacity, so callers pass prefix[:n:n] (or a copy) to keep
// the prefix intact.
func pathElems(p *gnmi.Path, prefix []*gnmi.PathElem) ([]*gnmi.PathElem, error) {
	if p == nil {
		return prefix, nil
	}
	elems := p.GetElem()
	//lint:ignore SA1019 the deprecated form is still sent by real targets (and the fake one).
	if old := p.GetElement(); len(elems) == 0 && len(old) > 0 {
		var err error
		elems, err = parseElementPath("/" + strings.Join(old, "/"))
		if err != nil {
			return nil, fmt.Errorf("path element form %q: %w", old, err)
		}
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

// Counter leaves outside the model (model.go), by YANG name.
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
// them on up. It returns how many it set. Members are taken in sorted
// order, so that of two names for one counter ("x" and "module:x") the
// same one wins every time.
func jsonCounters(b []byte, want map[string]collectors.Counter, up *ifUpdate) (int, error) {
	var m map[string]json.RawMessage
	if err := json.Unmarshal(b, &m); err != nil {
		return 0, fmt.Errorf("counters JSON: %w", err)
	}
	n := 0
	for _, k := range slices.Sorted(maps.Keys(m)) {
		raw := m[k]
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
