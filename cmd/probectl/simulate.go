package main

import (
	"encoding/json"
	"fmt"
	"io"
	"os"

	"github.com/spf13/cobra"

	"github.com/probe-agent/probe-agent/collectors"
	"github.com/probe-agent/probe-agent/collectors/replay"
	"github.com/probe-agent/probe-agent/probe"
)

func newSimulateCmd() *cobra.Command {
	var probeFile, countersFile string
	var eachTick, split bool
	var topo *simTopology
	cmd := &cobra.Command{
		Use:   "simulate --probe FILE --counters FILE [--each-tick]",
		Short: "Evaluate a probe against recorded counters",
		Long: `Evaluate a probe against a JSON-lines file of recorded cumulative counters
(the replay format that probe-agent collect writes), one evaluation tick per
distinct timestamp. Prints {"stages": {...}, "anomalies": [...]} after the last
tick, or one such line per tick with --each-tick. Anomalies are those raised at
that point. Until graph queries are resolved, every (system_id, interface) in
the file is an item of every if_counter.

With --split the probe is cut as probectl plan shows: every system_id of the
file evaluates the edge part on its own counters, the centre evaluates the
central part on the stages that cross, and the same document is printed from
the union of both.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			topo.log = cmd.ErrOrStderr()
			if split {
				return simulateSplit(cmd.OutOrStdout(), probeOptions(cmd), probeFile, countersFile, eachTick, topo)
			}
			return simulate(cmd.OutOrStdout(), probeOptions(cmd), probeFile, countersFile, eachTick, topo)
		},
	}
	topo = addSimulateTopologyFlags(cmd) // --topology: items from the probe's graph queries (simulate_topology.go)
	cmd.Flags().StringVar(&probeFile, "probe", "", "probe document (JSON)")
	cmd.Flags().StringVar(&countersFile, "counters", "", "recorded counters (JSON lines)")
	cmd.Flags().BoolVar(&eachTick, "each-tick", false, "print the state after every tick, one JSON document per line")
	cmd.Flags().BoolVar(&split, "split", false, "evaluate the edge part per system_id and the central part on what crosses the cut")
	_ = cmd.MarkFlagRequired("probe")
	_ = cmd.MarkFlagRequired("counters")
	return cmd
}

// simulationResult is what simulate prints per tick.
type simulationResult struct {
	Stages    map[string]*probe.Stage `json:"stages"`
	Anomalies []*probe.Anomaly        `json:"anomalies"`
}

// loadSimulation reads what simulate evaluates: the probe (validated, with
// its sources resolved on the topology when one is given) and the counters.
func loadSimulation(opts probe.Options, probeFile, countersFile string, topo *simTopology) (*probe.Plan, []collectors.Batch, error) {
	data, err := os.ReadFile(probeFile)
	if err != nil {
		return nil, nil, err
	}
	plan, probs := probe.CompileJSONWith(data, opts)
	if len(probs) > 0 {
		return nil, nil, fmt.Errorf("%s: invalid probe:\n%s", probeFile, probs.Error())
	}
	if c := plan.CentralOnly(); len(c) > 0 {
		return nil, nil, fmt.Errorf("%s: processors %v need Apstra telemetry services and cannot be simulated from interface counters", probeFile, c)
	}
	if plan, err = topo.apply(plan); err != nil {
		return nil, nil, err
	}
	batches, err := replay.ReadFile(countersFile)
	if err != nil {
		return nil, nil, err
	}
	return plan, batches, nil
}

func simulate(out io.Writer, opts probe.Options, probeFile, countersFile string, eachTick bool, topo *simTopology) error {
	plan, batches, err := loadSimulation(opts, probeFile, countersFile, topo)
	if err != nil {
		return err
	}
	inst, err := probe.NewInstance(plan)
	if err != nil {
		return err
	}
	enc := json.NewEncoder(out)
	if !eachTick {
		enc.SetIndent("", "  ")
	}
	var items probe.ItemCache
	for i := range batches {
		if err := inst.Tick(&probe.Tick{Time: batches[i].Time, Counters: &batches[i], Items: &items}); err != nil {
			return err
		}
		items.Advance(&batches[i], batches[i].Time)
		if eachTick {
			if err := enc.Encode(snapshot(inst)); err != nil {
				return err
			}
		}
	}
	if !eachTick {
		return enc.Encode(snapshot(inst))
	}
	return nil
}

func snapshot(inst *probe.Instance) simulationResult {
	res := simulationResult{Stages: map[string]*probe.Stage{}, Anomalies: inst.Anomalies()}
	for _, st := range inst.Stages() {
		res.Stages[st.Name] = st
	}
	return res
}
