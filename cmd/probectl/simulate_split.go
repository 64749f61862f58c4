package main

import (
	"encoding/json"
	"io"

	"github.com/probe-agent/probe-agent/collectors"
	"github.com/probe-agent/probe-agent/probe"
)

// simulateSplit is simulate --split: the probe (its sources resolved on
// --topology, if given) cut by probe.Partition and evaluated by a
// probe.SplitRun, printed like the whole evaluation.
func simulateSplit(out io.Writer, opts probe.Options, probeFile, countersFile string, eachTick bool, topo *simTopology) error {
	plan, batches, err := loadSimulation(opts, probeFile, countersFile, topo)
	if err != nil {
		return err
	}
	return simulateSplitPlan(out, plan, batches, eachTick)
}

// simulateSplitPlan evaluates a compiled (possibly graph-query resolved)
// plan split, printing what simulate prints.
func simulateSplitPlan(out io.Writer, plan *probe.Plan, batches []collectors.Batch, eachTick bool) error {
	split, err := probe.Partition(plan, nil)
	if err != nil {
		return err
	}
	run, err := probe.NewSplitRun(split)
	if err != nil {
		return err
	}
	if err := run.AddDevicesOf(batches); err != nil {
		return err
	}
	enc := json.NewEncoder(out)
	if !eachTick {
		enc.SetIndent("", "  ")
	}
	for i := range batches {
		if err := run.Tick(batches[i].Time, &batches[i]); err != nil {
			return err
		}
		if eachTick {
			if err := enc.Encode(splitSnapshot(run)); err != nil {
				return err
			}
		}
	}
	if !eachTick {
		return enc.Encode(splitSnapshot(run))
	}
	return nil
}

func splitSnapshot(run *probe.SplitRun) simulationResult {
	res := simulationResult{Stages: map[string]*probe.Stage{}, Anomalies: run.Anomalies()}
	for _, st := range run.Stages() {
		res.Stages[st.Name] = st
	}
	return res
}
