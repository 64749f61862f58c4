package controller

import (
	"bytes"
	"errors"
	"fmt"
	"slices"
	"time"

	"github.com/probe-agent/probe-agent/collectors"
	"github.com/probe-agent/probe-agent/probe"
)

// central is the centre's side of one probe: the central part's Instance,
// fed with every device's latest partial and ticked at the interval.
type central struct {
	id   string
	doc  []byte // CentralDoc, to keep the instance when a push changes nothing here
	inst *probe.Instance
	// devices are the devices a whole result hears from.
	devices []string
	// recv is when each device's latest update arrived (the controller's
	// clock: agents' clocks and replayed times need not agree with it);
	// from remembers the (session, generation) it came from, since a new
	// one restarts the device's tick numbers.
	recv map[string]time.Time
	from map[string]origin
	// fed counts, per fed stage, the items each device's latest update
	// holds and their total: what the engine stores for the stage until
	// the next update, bounded by limits.items_per_stage (feed).
	fed map[string]*fedCount

	batch collectors.Batch
	items probe.ItemCache

	status CentralStatus
}

type fedCount struct {
	total int
	by    map[string]int
}

// errStageFull refuses an update that would make a fed stage hold more
// items than limits.items_per_stage.
type errStageFull struct {
	stage        string
	items, limit int
}

func (e *errStageFull) Error() string {
	return fmt.Sprintf("stage %q would hold %d items from the devices; the budget is %d items per stage (limits.items_per_stage)", e.stage, e.items, e.limit)
}

type origin struct {
	session    string
	generation uint64
}

// CentralStatus is what the last central tick of a probe saw.
type CentralStatus struct {
	Probe string `json:"probe"`
	// Devices are the devices a whole result hears from; Fresh those whose
	// partial was recent enough to be merged; Missing the others.
	Devices []string `json:"devices"`
	Fresh   []string `json:"fresh"`
	Missing []string `json:"missing"`
	// Partial is set when Missing is not empty: the result leaves devices
	// out.
	Partial bool `json:"partial"`
	// Skipped is set when the last tick was skipped because more than
	// max_missing_share of the devices were missing; SkippedTicks counts
	// such ticks, Ticks the evaluated ones.
	Skipped      bool      `json:"skipped"`
	SkippedTicks uint64    `json:"skipped_ticks"`
	Ticks        uint64    `json:"ticks"`
	LastTick     time.Time `json:"last_tick"`
	// Duration is how long the last evaluated tick took.
	Duration  time.Duration `json:"duration_ns"`
	LastError string        `json:"last_error,omitempty"`
	// Rejected counts updates the central part refused (other keys or
	// columns, repeated ticks).
	Rejected uint64 `json:"rejected"`
	// UnknownDevices counts fan-in records from devices the probe does
	// not hear from, dropped (bus.ProbeStatus.Unknown).
	UnknownDevices uint64 `json:"unknown_devices,omitempty"`
}

func newCentral(c *compiled) (*central, error) {
	inst, err := probe.NewInstance(c.split.Central)
	if err != nil {
		return nil, err
	}
	return &central{id: c.id, doc: c.split.CentralDoc, inst: inst, devices: c.devices,
		recv: map[string]time.Time{}, from: map[string]origin{}, fed: map[string]*fedCount{},
		status: CentralStatus{Probe: c.id}}, nil
}

// sameAs reports whether c still evaluates what comp's central part says.
func (c *central) sameAs(comp *compiled) bool {
	return bytes.Equal(c.doc, comp.split.CentralDoc)
}

// feed stores one device's update. A device whose session or generation
// changed is dropped first: its tick numbers may have started again. An
// update that would make its stage hold more than limit items (all
// devices' latest updates together; 0: no bound) is refused with an
// *errStageFull before it is stored: the device is then missing from the
// result (which says so) instead of the whole central part stopping at
// its next layout.
func (c *central) feed(u *probe.StageUpdate, session string, now time.Time, limit int) error {
	o := origin{session: session, generation: u.Generation}
	if prev, ok := c.from[u.Device]; ok && prev != o {
		c.dropFed(u.Device)
	}
	c.from[u.Device] = o
	fc := c.fed[u.Stage]
	if fc == nil {
		fc = &fedCount{by: map[string]int{}}
		c.fed[u.Stage] = fc
	}
	if total := fc.total - fc.by[u.Device] + len(u.Items); limit > 0 && total > limit {
		c.status.Rejected++
		return &errStageFull{stage: u.Stage, items: total, limit: limit}
	}
	if err := c.inst.Feed(u); err != nil {
		c.status.Rejected++
		if errors.Is(err, probe.ErrDuplicateUpdate) {
			return nil // already merged: a repeat is not an error
		}
		return err
	}
	fc.total += len(u.Items) - fc.by[u.Device]
	fc.by[u.Device] = len(u.Items)
	c.recv[u.Device] = now
	return nil
}

// dropFed forgets a device's data in every fed stage.
func (c *central) dropFed(device string) {
	c.inst.DropDevice(device)
	for _, fc := range c.fed {
		fc.total -= fc.by[device]
		delete(fc.by, device)
	}
}

// drop forgets a device (its agent restarted or left the fabric).
func (c *central) drop(device string) {
	c.dropFed(device)
	delete(c.recv, device)
	delete(c.from, device)
}

// tick evaluates the central part at now on the devices heard from within
// staleAfter; devices past it are dropped from every merge. When more than
// maxMissing of the devices are missing the tick is skipped, so that no
// anomaly is raised or cleared on a result that leaves out too much. It
// reports whether the tick was evaluated.
func (c *central) tick(now time.Time, staleAfter time.Duration, maxMissing float64) bool {
	st := &c.status
	st.Devices, st.Fresh, st.Missing = c.devices, st.Fresh[:0], st.Missing[:0]
	for dev, at := range c.recv {
		if now.Sub(at) > staleAfter {
			c.dropFed(dev)
			delete(c.recv, dev)
			delete(c.from, dev)
		}
	}
	for _, dev := range c.devices {
		if _, ok := c.recv[dev]; ok {
			st.Fresh = append(st.Fresh, dev)
		} else {
			st.Missing = append(st.Missing, dev)
		}
	}
	st.Partial = len(st.Missing) > 0
	st.LastTick = now
	if len(c.devices) == 0 || float64(len(st.Missing)) > maxMissing*float64(len(c.devices)) {
		st.Skipped = true
		st.SkippedTicks++
		return false
	}
	st.Skipped = false
	start := time.Now()
	c.batch.Time = now
	if err := c.inst.Tick(&probe.Tick{Time: now, Counters: &c.batch, Items: &c.items}); err != nil {
		st.LastError = err.Error()
	} else {
		st.LastError = ""
	}
	c.items.Advance(&c.batch, now)
	st.Duration = time.Since(start)
	st.Ticks++
	return true
}

// snapshot copies the status (its slices are reused by the next tick).
func (c *central) snapshot() CentralStatus {
	s := c.status
	s.Devices, s.Fresh, s.Missing = slices.Clone(s.Devices), slices.Clone(s.Fresh), slices.Clone(s.Missing)
	if s.Missing == nil {
		s.Missing = []string{}
	}
	return s
}

func (c *central) String() string { return fmt.Sprintf("central %s", c.id) }
