package probe

import (
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"
)

// Feed is the input of a stage whose items come from elsewhere: the stage
// updates of other devices (the centre's side of the cut) or any caller
// with stage data. Instance.Feed stores each device's latest update; the
// source processor owning the stage applies them during the next tick
// (Apply), so the stage is an ordinary stage with change tracking. Devices
// are laid out in name order and each device's items in the order it sent
// them, whatever order updates arrive in, so a merge downstream does not
// depend on arrival order.
type Feed struct {
	stage    *Stage
	devices  []*feedDevice // sorted by name
	relayout bool
}

type feedDevice struct {
	name  string
	seq   uint64
	at    time.Time // the tick time of the last update
	seen  bool
	fresh bool // an update arrived since the last Apply
	items []UpdateItem
}

// ErrDuplicateUpdate is wrapped by Instance.Feed's error for an update a
// device already sent (same or older Seq): applying it again would count
// the device's partial state twice.
var ErrDuplicateUpdate = errors.New("duplicate stage update")

// Feed declares that output stage st takes its items from stage updates
// given to Instance.Feed; the processor calls Apply on it each tick.
func (b *Build) Feed(st *Stage) *Feed {
	f := &Feed{stage: st}
	st.feed = f
	return f
}

// Fed reports whether stage name takes its items from Instance.Feed.
func (inst *Instance) Fed(name string) bool {
	st, ok := inst.stages[name]
	return ok && st.feed != nil
}

// Feed stores u as its device's latest data for the stage it names, to be
// applied at the next tick. It copies what it keeps, so the caller may
// reuse u. It refuses an update for a stage that is not fed from elsewhere,
// one whose keys or columns differ from the stage's, and (with
// ErrDuplicateUpdate) one whose Seq is not newer than the device's last.
func (inst *Instance) Feed(u *StageUpdate) error {
	st, ok := inst.stages[u.Stage]
	if !ok || st.feed == nil {
		return fmt.Errorf("probe %q: stage %q does not take stage updates", inst.Plan.Doc.Label, u.Stage)
	}
	if !slices.Equal(u.Keys, st.Keys) && st.Type.Set {
		return fmt.Errorf("probe %q: stage %q: update from device %q has keys [%s], the stage has [%s]", inst.Plan.Doc.Label, u.Stage, u.Device, strings.Join(u.Keys, ", "), strings.Join(st.Keys, ", "))
	}
	if !slices.Equal(u.Columns, st.Columns) {
		return fmt.Errorf("probe %q: stage %q: update from device %q has columns %s, the stage has %s", inst.Plan.Doc.Label, u.Stage, u.Device, columnList(u.Columns), columnList(st.Columns))
	}
	for i := range u.Items {
		if it := &u.Items[i]; len(it.Props) != len(u.Keys) || len(it.Values) != len(u.Columns) {
			return fmt.Errorf("probe %q: stage %q: update from device %q: item %d has %d key values and %d columns, want %d and %d", inst.Plan.Doc.Label, u.Stage, u.Device, i, len(it.Props), len(it.Values), len(u.Keys), len(u.Columns))
		}
	}
	f := st.feed
	d := f.device(u.Device)
	if d.seen && u.Seq <= d.seq {
		return fmt.Errorf("probe %q: stage %q: device %q tick %d (%s), last applied %d: %w", inst.Plan.Doc.Label, u.Stage, u.Device, u.Seq, u.Time.UTC().Format("2006-01-02T15:04:05Z07:00"), d.seq, ErrDuplicateUpdate)
	}
	d.seen, d.seq, d.at, d.fresh = true, u.Seq, u.Time, true
	if len(d.items) != len(u.Items) {
		f.relayout = true
		if cap(d.items) < len(u.Items) {
			d.items = slices.Grow(d.items[:0], len(u.Items))
		}
		d.items = d.items[:len(u.Items)]
	}
	for i := range u.Items {
		src, dst := &u.Items[i], &d.items[i]
		if !slices.Equal(src.Props, dst.Props) {
			f.relayout = true
			dst.Props = slices.Clone(src.Props) // new key values: the layout changes anyway
		}
		dst.Valid = src.Valid
		dst.Values = append(dst.Values[:0], src.Values...)
		dst.Samples = append(dst.Samples[:0], src.Samples...)
	}
	return nil
}

func columnList(cols []Column) string {
	parts := make([]string, len(cols))
	for i, c := range cols {
		parts[i] = c.Name + " (" + c.Kind.String() + ")"
	}
	return "[" + strings.Join(parts, ", ") + "]"
}

// compareDevice orders devices by name; a function, not a closure, so a
// lookup does not allocate.
func compareDevice(d *feedDevice, name string) int { return strings.Compare(d.name, name) }

func (f *Feed) device(name string) *feedDevice {
	i, found := slices.BinarySearchFunc(f.devices, name, compareDevice)
	if found {
		return f.devices[i]
	}
	d := &feedDevice{name: name}
	f.devices = slices.Insert(f.devices, i, d)
	f.relayout = true
	return d
}

// FedDevice is what a fed stage holds from one device: the tick number
// and time of its latest update and how many items it sent. A controller
// reads it to leave out devices whose data is older than its staleness
// bound (DropDevice).
type FedDevice struct {
	Device string
	Seq    uint64
	Time   time.Time
	Items  int
}

// FedDevices lists, for a stage fed from elsewhere, the devices it holds
// data from, in name order.
func (inst *Instance) FedDevices(stage string) []FedDevice {
	st, ok := inst.stages[stage]
	if !ok || st.feed == nil {
		return nil
	}
	out := make([]FedDevice, len(st.feed.devices))
	for i, d := range st.feed.devices {
		out[i] = FedDevice{Device: d.name, Seq: d.seq, Time: d.at, Items: len(d.items)}
	}
	return out
}

// DropDevice forgets a device's data in every fed stage (a device that
// left the fabric, or whose data is stale): from the next tick its items
// and partial states are no longer part of any stage or merge. A later
// update from it is accepted as new. It reports whether any stage held
// data from the device.
func (inst *Instance) DropDevice(device string) bool {
	dropped := false
	for _, st := range inst.order {
		f := st.feed
		if f == nil {
			continue
		}
		if i, found := slices.BinarySearchFunc(f.devices, device, compareDevice); found {
			f.devices = slices.Delete(f.devices, i, i+1)
			f.relayout = true
			dropped = true
		}
	}
	return dropped
}

// Apply writes the stored updates into the stage: it lays the stage out
// again when a device or an item appeared or left, then sets the items of
// the devices that sent an update since the last Apply. An item without a
// value is invalidated; a time-series item takes the samples it came with,
// or, without samples, gets its value appended at the tick's time.
func (f *Feed) Apply() {
	st := f.stage
	if f.relayout || (st.Type.Set && st.Len() != f.total()) {
		if st.Type.Set {
			props := make([][]string, 0, f.total())
			for _, d := range f.devices {
				for i := range d.items {
					props = append(props, d.items[i].Props)
				}
			}
			st.SetLayout(props)
		} else {
			st.SetSingle()
		}
		f.relayout = false
	}
	pos := 0
	for _, d := range f.devices {
		if !st.Type.Set {
			// A single-item stage holds the first device's item.
			if d.fresh && len(d.items) > 0 && pos == 0 {
				f.set(0, &d.items[0])
			}
			d.fresh = false
			pos += len(d.items)
			continue
		}
		if d.fresh {
			for i := range d.items {
				f.set(pos+i, &d.items[i])
			}
			d.fresh = false
		}
		pos += len(d.items)
	}
}

func (f *Feed) total() int {
	n := 0
	for _, d := range f.devices {
		n += len(d.items)
	}
	return n
}

func (f *Feed) set(i int, it *UpdateItem) {
	st := f.stage
	if !it.Valid {
		st.Invalidate(i)
		return
	}
	switch {
	case st.Type.TimeSeries && len(it.Samples) > 0:
		st.SetSeries(i, it.Samples)
	case st.Type.TimeSeries:
		st.Append(i, it.Values[0])
	case st.Type.Kind == Number:
		st.SetNum(i, it.Values[0].Num)
	default:
		st.SetStr(i, it.Values[0].Str)
	}
	for c := 1; c < len(it.Values); c++ {
		st.SetExtra(i, c, it.Values[c])
	}
}
