package main

import (
	"encoding/json"
	"fmt"
	"io"
	"maps"
	"os"
	"slices"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"

	"github.com/probe-agent/probe-agent/collectors"
	"github.com/probe-agent/probe-agent/collectors/replay"
	"github.com/probe-agent/probe-agent/probe"
)

func newPlanCmd() *cobra.Command {
	var countersFile string
	var deviceKeys []string
	var devices, ports int
	var topo *simTopology
	cmd := &cobra.Command{
		Use:   "plan PROBE.json [--topology FILE] [--counters FILE | --devices N --ports M] [-o json|yaml|table]",
		Short: "Show how a probe is split between the devices and the centre",
		Long: `Cut a probe between the devices and the centre as a controller does: the edge
part every device evaluates on its own items, the central part, the stages that
cross the cut with their partial state (e.g. std_dev's moments(n, mean, m2),
one item per group per device), and the fallbacks that ship items instead.

With --counters (recorded counters, as simulate reads them) or --devices and
--ports (synthetic counters: N devices with M interfaces each), the split is
evaluated and each tick reports the items that cross the cut against the raw
items a central-only evaluation would need, and their encoded size.

With --topology (a containerlab file or graph JSON) the probe's graph queries
are resolved on it first: each device's edge part has exactly the items its
queries select there, and the report lists per device its raw items and the
items it sends across the cut (on synthetic counters for those items unless
--counters is given).`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			format := cmd.Flags().Lookup("output").Value.String()
			if err := checkOutput(format); err != nil {
				return err
			}
			topo.log = cmd.ErrOrStderr()
			rep, err := planProbe(args[0], probeOptions(cmd), deviceKeys, countersFile, devices, ports, topo)
			if err != nil {
				return err
			}
			if format == "table" {
				return writePlanTable(cmd.OutOrStdout(), rep)
			}
			return write(cmd.OutOrStdout(), format, rep)
		},
	}
	outputFlag(cmd, "table")
	topo = addSimulateTopologyFlags(cmd) // --topology, --interface-names (simulate_topology.go)
	cmd.Flags().StringSliceVar(&deviceKeys, "device-keys", []string{"system_id"}, "item keys that identify a device")
	cmd.Flags().StringVar(&countersFile, "counters", "", "recorded counters (JSON lines) to measure the split on")
	cmd.Flags().IntVar(&devices, "devices", 0, "synthetic counters: number of devices")
	cmd.Flags().IntVar(&ports, "ports", 0, "synthetic counters: interfaces per device")
	return cmd
}

// planReport is what probectl plan prints.
type planReport struct {
	Probe      string          `json:"probe"`
	ID         string          `json:"id"`
	DeviceKeys []string        `json:"device_keys"`
	EdgeOnly   bool            `json:"edge_only"`
	Processors []planProcessor `json:"processors"`
	Crossings  []planCrossing  `json:"crossings"`
	Notes      []string        `json:"notes,omitempty"`
	Ticks      []planTick      `json:"ticks,omitempty"`
	// Devices is each device's share of the last tick.
	Devices []probe.DeviceTick `json:"devices,omitempty"`
	Edge    json.RawMessage    `json:"edge,omitempty"`
	// EdgePerDevice is, with --topology, the edge part as pushed to each
	// device: the same processors with the device's own resolved items.
	EdgePerDevice map[string]json.RawMessage `json:"edge_per_device,omitempty"`
	Central       json.RawMessage            `json:"central,omitempty"`
}

type planProcessor struct {
	Name    string `json:"name"`
	Type    string `json:"type"`
	Side    string `json:"side"`
	Partial string `json:"partial,omitempty"`
}

type planCrossing struct {
	Stage   string   `json:"stage"`
	Kind    string   `json:"kind"`
	From    string   `json:"from"`
	To      []string `json:"to"`
	Partial string   `json:"partial,omitempty"`
	Keys    []string `json:"keys"`
	Columns []string `json:"columns"`
	Reason  string   `json:"reason,omitempty"`
}

type planTick struct {
	Time          time.Time `json:"time"`
	Devices       int       `json:"devices"`
	RawItems      int       `json:"raw_items"`
	CrossingItems int       `json:"crossing_items"`
	CrossingBytes int       `json:"crossing_bytes"`
}

func planProbe(file string, opts probe.Options, deviceKeys []string, countersFile string, devices, ports int, topo *simTopology) (*planReport, error) {
	data, err := os.ReadFile(file)
	if err != nil {
		return nil, err
	}
	plan, probs := probe.CompileJSONWith(data, opts)
	if len(probs) > 0 {
		return nil, fmt.Errorf("%s: invalid probe:\n%s", file, probs.Error())
	}
	if plan, err = topo.apply(plan); err != nil {
		return nil, err
	}
	split, err := probe.Partition(plan, deviceKeys)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", file, err)
	}
	rep := &planReport{Probe: plan.Label(), ID: plan.ID, DeviceKeys: split.DeviceKeys, EdgeOnly: split.EdgeOnly(),
		Processors: []planProcessor{}, Crossings: []planCrossing{}, Notes: split.Notes, Edge: split.EdgeDoc, Central: split.CentralDoc}
	for _, pd := range plan.Processors() {
		pp := planProcessor{Name: pd.Name, Type: pd.Type, Side: string(split.Sides[pd.Name])}
		if pp.Side == string(probe.SplitSide) {
			if ps, ok := probe.PartialOf(pd.Type); ok {
				pp.Partial = ps.String()
			}
		}
		rep.Processors = append(rep.Processors, pp)
	}
	for _, c := range split.Crossings {
		pc := planCrossing{Stage: c.Stage, Kind: c.Kind, From: c.From, To: c.To, Keys: c.Keys, Reason: c.Reason}
		if pc.Keys == nil {
			pc.Keys = []string{}
		}
		if c.Partial != nil {
			pc.Partial = c.Partial.String()
		}
		for _, col := range c.Columns {
			pc.Columns = append(pc.Columns, col.Name)
		}
		rep.Crossings = append(rep.Crossings, pc)
	}
	var batches []collectors.Batch
	switch {
	case countersFile != "" && devices > 0:
		return nil, fmt.Errorf("--counters and --devices: choose one")
	case countersFile != "":
		if batches, err = replay.ReadFile(countersFile); err != nil {
			return nil, err
		}
	case devices > 0 || ports > 0:
		if devices <= 0 || ports <= 0 {
			return nil, fmt.Errorf("--devices and --ports: both must be positive")
		}
		if plan.Resolution() != nil {
			return nil, fmt.Errorf("--devices and --ports make up interfaces; with --topology the probe's graph queries give them")
		}
		batches = syntheticCounters(syntheticInterfaces(devices, ports), 3)
	case plan.Resolution() != nil:
		batches = syntheticCounters(resolvedInterfaces(plan.Resolution()), 3)
	}
	if len(batches) > 0 {
		if c := plan.CentralOnly(); len(c) > 0 {
			return nil, fmt.Errorf("%s: processors %v need Apstra telemetry services and cannot be evaluated from interface counters", file, c)
		}
		run, err := probe.NewSplitRun(split)
		if err != nil {
			return nil, err
		}
		if err := run.AddDevicesOf(batches); err != nil {
			return nil, err
		}
		for i := range batches {
			if err := run.Tick(batches[i].Time, &batches[i]); err != nil {
				return nil, err
			}
			rep.Ticks = append(rep.Ticks, planTick{Time: batches[i].Time.UTC(), Devices: len(run.Devices()),
				RawItems: run.Raw, CrossingItems: run.Crossed, CrossingBytes: run.CrossedBytes})
		}
		if plan.Resolution() != nil {
			rep.Devices = run.DeviceTicks()
			if split.Edge != nil {
				rep.EdgePerDevice = map[string]json.RawMessage{}
				for _, d := range run.Devices() {
					doc, _, err := split.EdgeFor(d)
					if err != nil {
						return nil, err
					}
					rep.EdgePerDevice[d] = doc
				}
			}
		}
	}
	return rep, nil
}

// syntheticInterfaces names devices x ports interfaces.
func syntheticInterfaces(devices, ports int) [][2]string {
	var out [][2]string
	for d := range devices {
		for p := range ports {
			out = append(out, [2]string{fmt.Sprintf("leaf%02d", d+1), fmt.Sprintf("eth%d", p+1)})
		}
	}
	return out
}

// resolvedInterfaces lists every (system_id, interface) some source's graph
// query selected, in resolution order.
func resolvedInterfaces(r probe.Resolution) [][2]string {
	var out [][2]string
	seen := map[[2]string]bool{}
	for _, name := range slices.Sorted(maps.Keys(r)) {
		r[name].Each(func(sys, intf string, _ []string) {
			if k := [2]string{sys, intf}; !seen[k] {
				seen[k] = true
				out = append(out, k)
			}
		})
	}
	return out
}

// syntheticCounters makes ticks 10 s apart of the given interfaces, every
// counter moving.
func syntheticCounters(ifaces [][2]string, ticks int) []collectors.Batch {
	t0 := time.Unix(1700000000, 0).UTC()
	out := make([]collectors.Batch, ticks)
	for k := range out {
		b := &out[k]
		b.Time, b.Layout = t0.Add(time.Duration(k)*10*time.Second), 1
		for i, id := range ifaces {
			ifc := collectors.Interface{SystemID: id[0], Name: id[1], SpeedBps: 1e10, Generation: 1}
			for c := range collectors.NumCounters {
				ifc.Set(c, uint64(k*(1000+i)*(int(c)+1)))
			}
			b.Interfaces = append(b.Interfaces, ifc)
		}
	}
	return out
}

func writePlanTable(w io.Writer, rep *planReport) error {
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintf(tw, "probe %q (id %s), devices identified by %s\n", rep.Probe, rep.ID, strings.Join(rep.DeviceKeys, ", "))
	if rep.EdgeOnly {
		fmt.Fprintln(tw, "nothing crosses the cut: the probe runs entirely on the devices; the centre only collects their anomalies")
	}
	fmt.Fprintln(tw, "\nPROCESSOR\tTYPE\tSIDE")
	for _, p := range rep.Processors {
		side := p.Side
		if p.Partial != "" {
			side = "split: edge partial " + p.Partial + " per device, central merge"
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\n", p.Name, p.Type, side)
	}
	if len(rep.Crossings) > 0 {
		fmt.Fprintln(tw, "\nCROSSING STAGE\tKIND\tKEYS\tFROM -> TO")
		for _, c := range rep.Crossings {
			kind := c.Kind
			if c.Partial != "" {
				kind += " " + c.Partial
			}
			fmt.Fprintf(tw, "%s\t%s\t[%s]\t%s -> %s\n", c.Stage, kind, strings.Join(c.Keys, ", "), c.From, strings.Join(c.To, ", "))
		}
	}
	for _, n := range rep.Notes {
		fmt.Fprintf(tw, "\nnote: %s\n", n)
	}
	if len(rep.Devices) > 0 {
		fmt.Fprintln(tw, "\nDEVICE\tRAW ITEMS\tCROSSING ITEMS")
		for _, d := range rep.Devices {
			fmt.Fprintf(tw, "%s\t%d\t%d\n", d.Device, d.RawItems, d.CrossedItems)
		}
	}
	if len(rep.Ticks) > 0 {
		fmt.Fprintln(tw, "\nTICK\tDEVICES\tRAW ITEMS\tCROSSING ITEMS\tCROSSING BYTES")
		for _, t := range rep.Ticks {
			fmt.Fprintf(tw, "%s\t%d\t%d\t%d\t%d\n", t.Time.Format(time.RFC3339), t.Devices, t.RawItems, t.CrossingItems, t.CrossingBytes)
		}
	}
	return tw.Flush()
}
