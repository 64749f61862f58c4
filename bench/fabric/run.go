package fabric

import (
	"bufio"
	"bytes"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"time"

	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/timestamppb"

	"github.com/probe-agent/probe-agent/agent"
	"github.com/probe-agent/probe-agent/agent/stream"
	"github.com/probe-agent/probe-agent/collectors"
	"github.com/probe-agent/probe-agent/probe"
	"github.com/probe-agent/probe-agent/proto/aos"
	pb "github.com/probe-agent/probe-agent/proto/probeagent/v1"
)

// Modes.
const (
	Pushdown = "pushdown"
	Raw      = "raw"
)

// Interval is the simulated collection interval.
const Interval = time.Second

// Rates of the synthetic traffic, in bytes per second.
const (
	// lineRate is a 25 Gb/s server port.
	lineRate = 25e9 / 8
	// serverRate is a server port's steady transmit rate (1 Gb/s).
	serverRate = 125e6
	// uplinkRate is an uplink's steady transmit rate (4 Gb/s).
	uplinkRate = 500e6
)

// Ports say which of a device's interfaces a probe's source reads, as its
// graph query would resolve them on the fabric.
type Ports int

// Port sets.
const (
	ServerPorts Ports = iota
	Uplinks
)

// Probe is one probe of the benchmark and the traffic change that should
// raise its anomaly.
type Probe struct {
	// Name is a short name for tables; Doc the probe document.
	Name string
	Doc  []byte
	// Ports is the port set its source reads.
	Ports Ports
	// Rate is the transmit rate of device d's port p at tick k, in bytes
	// per second; changed is true from the change tick on.
	Rate func(f Shape, d, p, k int, changed bool) float64
	// Prepare adjusts the document to the fabric's size (a capacity
	// limit), or is nil.
	Prepare func(doc map[string]any, f Shape) error
}

// Shape is the simulated fabric.
type Shape struct {
	Devices int `json:"devices"`
	Ports   int `json:"ports"`
	Uplinks int `json:"uplinks"`
}

// jitter is a small deterministic deviation per port and tick (within
// +-40 B/s), so balanced ports are not all identical and every rate
// changes every tick, as measured traffic does.
func jitter(d, p, k int) float64 { return float64((d*31+p*17+k*23)%81 - 40) }

// Probes are the benchmark's probes, documents read from dir (the
// repository root): the seed probe (std_dev of all server ports' rates),
// the fabric-wide ECMP imbalance (std_dev of all leaf uplinks' rates) and
// the total east/west traffic (the sum of all server ports' rates).
func Probes(root string) ([]Probe, error) {
	read := func(path string) ([]byte, error) {
		data, err := os.ReadFile(root + "/" + path)
		if err != nil {
			return nil, fmt.Errorf("benchmark probe: %w", err)
		}
		return data, nil
	}
	seed, err := read("cmd/probectl/testdata/seed_probe.json")
	if err != nil {
		return nil, err
	}
	ecmp, err := read("testdata/fabric-probes/ecmp_fabric.json")
	if err != nil {
		return nil, err
	}
	ew, err := read("testdata/fabric-probes/east_west_total.json")
	if err != nil {
		return nil, err
	}
	return []Probe{
		{
			// One server port of leaf1 runs at twice the others' rate.
			Name: "seed imbalance", Doc: seed, Ports: ServerPorts,
			Rate: func(f Shape, d, p, k int, changed bool) float64 {
				if changed && d == 0 && p == 0 {
					return 2 * serverRate
				}
				return serverRate + jitter(d, p, k)
			},
		},
		{
			// leaf1 hashes all its uplink traffic onto its first uplink.
			Name: "ECMP fabric-wide", Doc: ecmp, Ports: Uplinks,
			Rate: func(f Shape, d, p, k int, changed bool) float64 {
				if changed && d == 0 {
					if p == 0 {
						return float64(f.Uplinks) * uplinkRate
					}
					return 0
				}
				return uplinkRate + jitter(d, p, k)
			},
		},
		{
			// Every server port goes from 50% to 90% of line rate; the
			// limit is 75% of the fabric's server capacity.
			Name: "east/west total", Doc: ew, Ports: ServerPorts,
			Rate: func(f Shape, d, p, k int, changed bool) float64 {
				if changed {
					return 0.9*lineRate + jitter(d, p, k)
				}
				return 0.5*lineRate + jitter(d, p, k)
			},
			Prepare: func(doc map[string]any, f Shape) error {
				return setRangeMax(doc, "east/west capacity", 0.75*lineRate*float64(f.Devices*f.Ports))
			},
		},
	}, nil
}

// setRangeMax sets range.max of the range_check processor named proc.
func setRangeMax(doc map[string]any, proc string, limit float64) error {
	procs, _ := doc["processors"].([]any)
	for _, p := range procs {
		m, _ := p.(map[string]any)
		if m["name"] != proc {
			continue
		}
		props, _ := m["properties"].(map[string]any)
		if props == nil {
			return fmt.Errorf("probe processor %q has no properties", proc)
		}
		props["range"] = map[string]any{"max": limit}
		return nil
	}
	return fmt.Errorf("probe has no processor %q", proc)
}

// Config is one run of the benchmark.
type Config struct {
	Shape
	// Ticks is the number of ticks evaluated; the traffic changes at
	// ChangeAt (after the first rates exist), and the centre's CPU is the
	// mean over the ticks from 2 on.
	Ticks, ChangeAt int
}

// Result is one probe in one mode on one fabric.
type Result struct {
	Probe string `json:"probe"`
	Mode  string `json:"mode"`
	Shape
	// Items is the number of items of the probe's source stage over all
	// devices.
	Items int `json:"items"`
	// Bytes and Messages reach the centre per interval (the steady state:
	// the mean over the ticks from 2 on).
	Bytes    int `json:"bytes_per_interval"`
	Messages int `json:"messages_per_interval"`
	// CentralCPU is the centre's time per tick: decoding what arrived,
	// feeding it and evaluating the central part (pushdown) or the whole
	// probe (raw). EdgeMax is the slowest device's time for its share.
	CentralCPU time.Duration `json:"central_cpu_per_tick_ns"`
	EdgeMax    time.Duration `json:"edge_max_per_tick_ns"`
	// LatencyTicks is the number of ticks from the counter change to the
	// central anomaly when the centre ticks after the interval's updates
	// arrived; LatencyTicksEarly when it ticks just before they arrive (a
	// centre clock ahead of the devices'); -1 when never raised.
	LatencyTicks      int `json:"latency_ticks"`
	LatencyTicksEarly int `json:"latency_ticks_early"`
	// Latency is the time from the counter change to the raised anomaly
	// within the detecting interval: the slowest device's work plus the
	// centre's (network transit and interval alignment left out).
	Latency time.Duration `json:"latency_ns"`
	// Aggregate is the central value of the probe's cross-device grouping
	// (its std_dev or sum over the fabric) at the last tick: both modes
	// must agree on it.
	Aggregate float64 `json:"aggregate"`
}

// Run evaluates every probe in both modes on cfg's fabric.
func Run(cfg Config, probes []Probe) ([]Result, error) {
	if cfg.Ticks == 0 {
		cfg.Ticks = 16
	}
	if cfg.ChangeAt == 0 {
		cfg.ChangeAt = cfg.Ticks / 2
	}
	if cfg.Uplinks == 0 {
		cfg.Uplinks = 4
	}
	if cfg.Devices < 1 || cfg.Ports < 1 || cfg.ChangeAt < 2 || cfg.ChangeAt >= cfg.Ticks {
		return nil, fmt.Errorf("benchmark: want devices and ports >= 1 and 2 <= change tick < ticks, have %d devices, %d ports, change at %d of %d ticks", cfg.Devices, cfg.Ports, cfg.ChangeAt, cfg.Ticks)
	}
	var out []Result
	for _, p := range probes {
		plan, err := compile(p, cfg.Shape)
		if err != nil {
			return nil, err
		}
		for _, mode := range []string{Pushdown, Raw} {
			r, err := runMode(cfg, p, plan, mode)
			if err != nil {
				return nil, fmt.Errorf("probe %q, %s: %w", p.Name, mode, err)
			}
			out = append(out, r)
		}
	}
	return out, nil
}

func compile(p Probe, f Shape) (*probe.Plan, error) {
	data := p.Doc
	if p.Prepare != nil {
		var doc map[string]any
		if err := json.Unmarshal(data, &doc); err != nil {
			return nil, fmt.Errorf("probe %q: %w", p.Name, err)
		}
		if err := p.Prepare(doc, f); err != nil {
			return nil, fmt.Errorf("probe %q: %w", p.Name, err)
		}
		var err error
		if data, err = json.Marshal(doc); err != nil {
			return nil, err
		}
	}
	plan, probs := probe.CompileJSON(data)
	if len(probs) > 0 {
		return nil, fmt.Errorf("probe %q: %v", p.Name, probs)
	}
	return plan, nil
}

// counters are the simulated devices' counters for one probe.
type counters struct {
	shape Shape
	rate  func(f Shape, d, p, k int, changed bool) float64
	per   []*collectors.Batch
}

func newCounters(f Shape, p Probe) *counters {
	c := &counters{shape: f, rate: p.Rate}
	n, first := f.Ports, 1
	if p.Ports == Uplinks {
		n, first = f.Uplinks, f.Ports+1
	}
	for d := range f.Devices {
		b := &collectors.Batch{Layout: 1}
		for i := range n {
			ifc := collectors.Interface{SystemID: DeviceName(d), Name: fmt.Sprintf("eth%d", first+i), Oper: collectors.OperUp, SpeedBps: uint64(lineRate * 8)}
			ifc.Set(collectors.TxBytes, uint64(1e12)+uint64(d*1000+i))
			b.Interfaces = append(b.Interfaces, ifc)
		}
		c.per = append(c.per, b)
	}
	return c
}

// advance moves every device's counters to tick k.
func (c *counters) advance(k int, at time.Time, changed bool) {
	for d, b := range c.per {
		b.Time = at
		for i := range b.Interfaces {
			b.Interfaces[i].Counters[collectors.TxBytes] += uint64(c.rate(c.shape, d, i, k, changed) * Interval.Seconds())
		}
	}
}

// side is one mode's devices and centre.
type side interface {
	// device evaluates device d's share of tick k and returns what it
	// sends the centre (its frames, concatenated) and how many messages.
	device(d int, k uint64, at time.Time) (wire []byte, msgs int, err error)
	// centre ingests every device's wire of tick k into the instance and
	// evaluates it.
	ingest(c *probe.Instance, wires [][]byte, k uint64, at time.Time) error
	newCentre() (*probe.Instance, error)
}

func runMode(cfg Config, p Probe, plan *probe.Plan, mode string) (Result, error) {
	res := Result{Probe: p.Name, Mode: mode, Shape: cfg.Shape, LatencyTicks: -1, LatencyTicksEarly: -1}
	cnt := newCounters(cfg.Shape, p)
	for _, b := range cnt.per {
		res.Items += len(b.Interfaces)
	}
	var s side
	var err error
	if mode == Pushdown {
		s, err = newPushdown(plan, cnt.per)
	} else {
		s, err = newRaw(plan, cnt.per)
	}
	if err != nil {
		return res, err
	}
	// The centre that ticks after the interval's updates arrived (timed),
	// and one that ticks just before (for the latency only).
	centre, err := s.newCentre()
	if err != nil {
		return res, err
	}
	early, err := s.newCentre()
	if err != nil {
		return res, err
	}
	t0 := time.Unix(1_700_000_000, 0)
	wires := make([][]byte, cfg.Devices)
	var cpu time.Duration
	var bytesSum, msgsSum, measured int
	for k := range cfg.Ticks {
		at := t0.Add(time.Duration(k) * Interval)
		cnt.advance(k, at, k >= cfg.ChangeAt)
		var edgeMax time.Duration
		msgs, size := 0, 0
		for d := range cfg.Devices {
			start := time.Now()
			w, n, err := s.device(d, uint64(k+1), at)
			if err != nil {
				return res, err
			}
			edgeMax = max(edgeMax, time.Since(start))
			wires[d] = append(wires[d][:0], w...)
			msgs += n
			size += len(w)
		}
		// The early centre ticks before this interval's updates arrive:
		// it evaluates the previous interval's.
		if err := tickCentre(early, at); err != nil {
			return res, err
		}
		if res.LatencyTicksEarly < 0 && k >= cfg.ChangeAt && len(early.Anomalies()) > 0 {
			res.LatencyTicksEarly = k - cfg.ChangeAt
		}
		if err := s.ingest(early, wires, uint64(k+1), at); err != nil {
			return res, err
		}
		start := time.Now()
		if err := s.ingest(centre, wires, uint64(k+1), at); err != nil {
			return res, err
		}
		if err := tickCentre(centre, at); err != nil {
			return res, err
		}
		took := time.Since(start)
		if k < cfg.ChangeAt && len(centre.Anomalies()) > 0 {
			return res, fmt.Errorf("anomaly raised at tick %d, before the traffic changed at %d: %v", k, cfg.ChangeAt, centre.Anomalies()[0])
		}
		if res.LatencyTicks < 0 && k >= cfg.ChangeAt && len(centre.Anomalies()) > 0 {
			res.LatencyTicks = k - cfg.ChangeAt
			res.Latency = edgeMax + took
		}
		if k >= 2 {
			cpu += took
			bytesSum += size
			msgsSum += msgs
			measured++
			res.EdgeMax = max(res.EdgeMax, edgeMax)
		}
	}
	if res.Aggregate, err = aggregate(plan, centre); err != nil {
		return res, err
	}
	res.CentralCPU = cpu / time.Duration(measured)
	res.Bytes, res.Messages = bytesSum/measured, msgsSum/measured
	return res, nil
}

// aggregate is the value of the output of the probe's first grouping
// processor (std_dev, sum, ...) in the centre.
func aggregate(plan *probe.Plan, centre *probe.Instance) (float64, error) {
	for _, p := range plan.Processors() {
		if probe.PlacementOf(p.Type) != probe.PlaceGrouping {
			continue
		}
		st, ok := centre.Stage(p.Outputs["out"])
		if !ok || st.Len() != 1 || !st.Valid(0) {
			return 0, fmt.Errorf("the centre has no single valid item in stage %q of processor %q", p.Outputs["out"], p.Name)
		}
		return st.Item(0).Value.Num, nil
	}
	return 0, fmt.Errorf("probe %q has no grouping processor", plan.Label())
}

func tickCentre(c *probe.Instance, at time.Time) error {
	return c.Tick(&probe.Tick{Time: at, Counters: &collectors.Batch{Time: at}})
}

// pushdown: every device evaluates the probe's edge part and sends the
// crossing stages as the agent exports them (PSU1 StageUpdates in a
// StageBatch on the control stream); the centre decodes, feeds and
// evaluates the central part, as the controller does.
type pushdown struct {
	split *probe.Split
	edges []*probe.Instance
	items []probe.ItemCache
	per   []*collectors.Batch
	upd   probe.StageUpdate
	buf   []byte
	sb    pb.StageBatch
}

func newPushdown(plan *probe.Plan, per []*collectors.Batch) (*pushdown, error) {
	split, err := probe.Partition(plan, nil)
	if err != nil {
		return nil, err
	}
	if split.Edge == nil || split.Central == nil {
		return nil, fmt.Errorf("probe %q does not split between devices and the centre", plan.Label())
	}
	s := &pushdown{split: split, per: per, items: make([]probe.ItemCache, len(per))}
	for range per {
		inst, err := probe.NewInstance(split.Edge)
		if err != nil {
			return nil, err
		}
		s.edges = append(s.edges, inst)
	}
	return s, nil
}

func (s *pushdown) newCentre() (*probe.Instance, error) { return probe.NewInstance(s.split.Central) }

func (s *pushdown) device(d int, k uint64, at time.Time) ([]byte, int, error) {
	b, inst := s.per[d], s.edges[d]
	if err := inst.Tick(&probe.Tick{Time: at, Counters: b, Items: &s.items[d]}); err != nil {
		return nil, 0, err
	}
	s.items[d].Advance(b, at)
	m := &pb.StageBatch{Device: DeviceName(d), Session: "bench", Seq: k, Time: timestamppb.New(at), Generation: 1}
	for _, c := range s.split.Crossings {
		st, ok := inst.Stage(c.Stage)
		if !ok {
			return nil, 0, fmt.Errorf("edge part has no stage %q", c.Stage)
		}
		probe.UpdateOf(&s.upd, st)
		s.upd.Device, s.upd.Probe, s.upd.Generation = DeviceName(d), s.split.Probe.ID, 1
		m.Updates = append(m.Updates, s.upd.AppendBinary(nil))
	}
	body, err := proto.Marshal(m)
	if err != nil {
		return nil, 0, err
	}
	s.buf = binary.BigEndian.AppendUint32(append(s.buf[:0], 0), uint32(len(body)))
	return append(s.buf, body...), 1, nil
}

func (s *pushdown) ingest(c *probe.Instance, wires [][]byte, k uint64, at time.Time) error {
	for _, w := range wires {
		if len(w) < GRPCOverhead {
			return fmt.Errorf("short message")
		}
		s.sb.Reset()
		if err := proto.Unmarshal(w[GRPCOverhead:], &s.sb); err != nil {
			return err
		}
		for _, raw := range s.sb.GetUpdates() {
			u, err := probe.DecodeStageUpdate(raw)
			if err != nil {
				return err
			}
			if err := c.Feed(u); err != nil {
				return err
			}
		}
	}
	return nil
}

// raw: every device evaluates only the probe's sources, with streaming,
// and sends one ProbeMessage per item (the agent's Emitter, unsequenced
// streaming frames); the centre decodes every frame and evaluates the
// whole probe, its sources replaced by stage inputs of the same items.
type raw struct {
	devPlan, centralPlan *probe.Plan
	devs                 []*probe.Instance
	emitters             []*agent.Emitter
	items                []probe.ItemCache
	per                  []*collectors.Batch
	buf, scratch         []byte
	opts                 proto.MarshalOptions
	// latest is the centre's table of every device's items per stage:
	// the last value each item sent (a device streams only the items that
	// changed), fed whole each tick.
	latest []map[string]*deviceStage
	rd     *bufio.Reader
}

func newRaw(plan *probe.Plan, per []*collectors.Batch) (*raw, error) {
	devPlan, centralPlan, err := RawParts(plan)
	if err != nil {
		return nil, err
	}
	s := &raw{devPlan: devPlan, centralPlan: centralPlan, per: per, items: make([]probe.ItemCache, len(per)),
		latest: make([]map[string]*deviceStage, len(per)), rd: bufio.NewReaderSize(nil, 64<<10)}
	for d := range per {
		inst, err := probe.NewInstance(devPlan)
		if err != nil {
			return nil, err
		}
		s.devs = append(s.devs, inst)
		s.emitters = append(s.emitters, agent.NewEmitter(agent.Identity{SystemID: DeviceName(d), BlueprintID: "dc1"}))
	}
	return s, nil
}

// RawParts are a probe as raw streaming evaluates it: on each device only
// its source processors, every one streaming, and centrally the whole
// probe with each source replaced by a stage input of the same stage.
func RawParts(plan *probe.Plan) (device, central *probe.Plan, err error) {
	var doc map[string]any
	if err := json.Unmarshal(plan.Doc.Raw, &doc); err != nil {
		return nil, nil, fmt.Errorf("probe %q: %w", plan.Label(), err)
	}
	info := map[string]probe.StageInfo{}
	for _, si := range plan.StageGraph() {
		info[si.Name] = si
	}
	procs, _ := doc["processors"].([]any)
	var devProcs, centralProcs []any
	for _, p := range procs {
		m, _ := p.(map[string]any)
		if ins, _ := m["inputs"].(map[string]any); len(ins) > 0 {
			centralProcs = append(centralProcs, m)
			continue
		}
		props, _ := m["properties"].(map[string]any)
		dp := map[string]any{}
		for k, v := range m {
			dp[k] = v
		}
		dprops := map[string]any{}
		for k, v := range props {
			dprops[k] = v
		}
		dprops["enable_streaming"] = true
		dp["properties"] = dprops
		devProcs = append(devProcs, dp)
		outs, _ := m["outputs"].(map[string]any)
		for port, st := range outs {
			name, _ := st.(string)
			si, ok := info[name]
			if !ok {
				return nil, nil, fmt.Errorf("probe %q: processor %v output %q: no stage %q", plan.Label(), m["name"], port, name)
			}
			keys := []any{}
			for _, k := range si.Keys {
				keys = append(keys, k)
			}
			centralProcs = append(centralProcs, map[string]any{
				"name": name, "type": "stage_input", "outputs": map[string]any{"out": name},
				"properties": map[string]any{"source": "raw ProbeMessages from every device", "stage_type": si.Type.String(), "keys": keys, "columns": []any{}},
			})
		}
	}
	part := func(ps []any) (*probe.Plan, error) {
		d := map[string]any{}
		for k, v := range doc {
			d[k] = v
		}
		d["id"], d["dialect"], d["processors"] = plan.ID, string(plan.Doc.Dialect), ps
		// Stage metadata only for the stages this part produces.
		produced := map[string]bool{}
		for _, p := range ps {
			outs, _ := p.(map[string]any)["outputs"].(map[string]any)
			for _, st := range outs {
				name, _ := st.(string)
				produced[name] = true
			}
		}
		var stages []any
		sts, _ := doc["stages"].([]any)
		for _, st := range sts {
			if m, _ := st.(map[string]any); produced[fmt.Sprint(m["name"])] {
				stages = append(stages, st)
			}
		}
		d["stages"] = stages
		data, err := json.Marshal(d)
		if err != nil {
			return nil, err
		}
		pl, probs := probe.CompileJSON(data)
		if len(probs) > 0 {
			return nil, fmt.Errorf("probe %q: raw-streaming part: %v", plan.Label(), probs)
		}
		return pl, nil
	}
	if device, err = part(devProcs); err != nil {
		return nil, nil, err
	}
	if central, err = part(centralProcs); err != nil {
		return nil, nil, err
	}
	return device, central, nil
}

func (s *raw) newCentre() (*probe.Instance, error) { return probe.NewInstance(s.centralPlan) }

func (s *raw) device(d int, k uint64, at time.Time) ([]byte, int, error) {
	b, inst := s.per[d], s.devs[d]
	if err := inst.Tick(&probe.Tick{Time: at, Counters: b, Items: &s.items[d]}); err != nil {
		return nil, 0, err
	}
	s.items[d].Advance(b, at)
	s.buf = s.buf[:0]
	n := 0
	var ferr error
	s.emitters[d].ProbeMessages(inst, func(m *aos.AosMessage) {
		body, err := s.opts.MarshalAppend(s.scratch[:0], m)
		if err != nil || len(body) > stream.MaxFrameSize {
			ferr = fmt.Errorf("encode ProbeMessage: %v (%d bytes)", err, len(body))
			return
		}
		s.scratch = body
		s.buf = binary.BigEndian.AppendUint16(s.buf, uint16(len(body)))
		s.buf = append(s.buf, body...)
		n++
	})
	return s.buf, n, ferr
}

// deviceStage is one device's items of one stage at the centre.
type deviceStage struct {
	upd probe.StageUpdate
	// index finds an item by its item id.
	index map[string]int
}

// ingest is the centre's work for raw streaming: read and decode every
// frame, update the item's latest value, and feed every device's items.
// The latest-value table is shared by the two centres of a run (the timed
// one and the early one), which receive the same frames.
func (s *raw) ingest(c *probe.Instance, wires [][]byte, k uint64, at time.Time) error {
	var frame []byte
	for d, w := range wires {
		if s.latest[d] == nil {
			s.latest[d] = map[string]*deviceStage{}
		}
		tables := s.latest[d]
		s.rd.Reset(bytes.NewReader(w))
		for {
			var err error
			frame, err = stream.ReadFrame(s.rd, frame)
			if err != nil {
				if errors.Is(err, io.EOF) {
					break
				}
				return err
			}
			_, m, err := stream.DecodeFrame(frame, false)
			if err != nil {
				return err
			}
			pm := m.GetPerfMon().GetProbeMessage()
			ds := tables[pm.GetStageName()]
			if ds == nil {
				st, ok := c.Stage(pm.GetStageName())
				if !ok || !c.Fed(st.Name) {
					return fmt.Errorf("ProbeMessage for stage %q, which the centre does not take", pm.GetStageName())
				}
				ds = &deviceStage{upd: probe.StageUpdate{Probe: s.centralPlan.ID, Stage: st.Name, Type: st.Type, Keys: st.Keys, Columns: st.Columns}, index: map[string]int{}}
				tables[st.Name] = ds
			}
			v := float64(pm.GetFloatValue())
			if _, ok := pm.GetValue().(*aos.ProbeMessage_Int64Value); ok {
				v = float64(pm.GetInt64Value())
			}
			i, ok := ds.index[pm.GetItemId()]
			if !ok {
				it := probe.UpdateItem{Props: make([]string, len(ds.upd.Keys)), Valid: true, Values: make([]probe.Value, 1)}
				for _, prop := range pm.GetProperty() {
					for j, key := range ds.upd.Keys {
						if key == prop.GetName() {
							it.Props[j] = prop.GetValue()
						}
					}
				}
				i = len(ds.upd.Items)
				ds.index[pm.GetItemId()] = i
				ds.upd.Items = append(ds.upd.Items, it)
			}
			ds.upd.Items[i].Values[0].Num = v
		}
		for _, ds := range tables {
			ds.upd.Device, ds.upd.Seq, ds.upd.Time, ds.upd.Generation = DeviceName(d), k, at, 1
			if err := c.Feed(&ds.upd); err != nil {
				return err
			}
		}
	}
	return nil
}
