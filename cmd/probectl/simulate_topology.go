package main

import (
	"fmt"
	"io"

	"github.com/spf13/cobra"

	"github.com/probe-agent/probe-agent/probe"
	"github.com/probe-agent/probe-agent/topology/resolve"
)

// simTopology is simulate's --topology: the probe's source items come from
// its graph queries resolved on a topology file instead of every
// (system_id, interface) of the counters file.
type simTopology struct {
	file  string
	names string
	tf    topologyFlags
	log   io.Writer
}

func addSimulateTopologyFlags(cmd *cobra.Command) *simTopology {
	st := &simTopology{}
	cmd.Flags().StringVar(&st.file, "topology", "", "resolve the probe's graph queries on this topology file (containerlab or graph JSON); counter lines are matched by system_id and interface name")
	cmd.Flags().StringVar(&st.names, "interface-names", "nos", "with --topology, which interface names the counters carry: nos (what the device's telemetry reports, e.g. ethernet-1/1) or node (the Linux name inside the node, e.g. e1-1)")
	st.tf.add(cmd)
	return st
}

// apply returns plan with its sources resolved on the topology, or plan
// itself without --topology. It prints per source processor how many items
// on how many devices the queries gave, and the queries' warnings.
func (st *simTopology) apply(plan *probe.Plan) (*probe.Plan, error) {
	if st == nil || st.file == "" {
		return plan, nil
	}
	var opts resolve.Options
	switch st.names {
	case "nos":
	case "node":
		opts.Naming = resolve.NodeNames
	default:
		return nil, fmt.Errorf("--interface-names: want nos or node, got %q", st.names)
	}
	g, err := st.tf.load(st.file, st.log)
	if err != nil {
		return nil, err
	}
	res, rep, err := resolve.Resolve(g, plan.Doc, opts)
	if err != nil {
		return nil, err
	}
	for _, p := range rep.Processors {
		fmt.Fprintf(st.log, "%s: %s: %d items on %d devices from %d query rows\n", st.file, p.Name, p.Items, p.Devices, p.Rows)
		for _, w := range p.Warnings {
			fmt.Fprintf(st.log, "%s: %s: warning: %s\n", st.file, p.Name, w)
		}
	}
	return plan.Resolve(res), nil
}
