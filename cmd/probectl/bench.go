package main

import (
	"encoding/json"
	"fmt"
	"os"

	"github.com/spf13/cobra"

	"github.com/probe-agent/probe-agent/bench/fabric"
)

func newBenchCmd() *cobra.Command {
	var devices []int
	var ports, uplinks, ticks int
	var root, pngPath, format string
	cmd := &cobra.Command{
		Use:   "bench [--devices 32,256,1024] [--ports 48] [--png FILE] [-o markdown|json]",
		Short: "Measure the centre's load with pushdown against raw streaming",
		Long: `The central-load benchmark (bench/fabric): N simulated devices with M server
ports and --uplinks uplinks each, on synthetic counters, evaluate the seed probe,
the fabric-wide ECMP imbalance and the total east/west traffic
(testdata/fabric-probes) twice in the same run: with pushdown (each device
evaluates the probe's edge part and sends its partials, the centre merges) and
with raw streaming (each device sends every item of the probe's source as an
Apstra ProbeMessage, the centre evaluates the whole probe). It reports, per
probe and number of devices, the bytes and messages per interval at the centre,
the centre's CPU per tick (timed apart from the devices' work) and the latency
from the counter change at tick k to the central anomaly, in ticks and in time.
--root is the repository the probe documents are read from; --png writes the
plot of central bytes and CPU against N.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if format != "markdown" && format != "json" {
				return fmt.Errorf("-o: want markdown or json, not %q", format)
			}
			probes, err := fabric.Probes(root)
			if err != nil {
				return err
			}
			var results []fabric.Result
			for _, n := range devices {
				res, err := fabric.Run(fabric.Config{Shape: fabric.Shape{Devices: n, Ports: ports, Uplinks: uplinks}, Ticks: ticks}, probes)
				if err != nil {
					return fmt.Errorf("%d devices: %w", n, err)
				}
				results = append(results, res...)
			}
			if pngPath != "" {
				f, err := os.Create(pngPath)
				if err != nil {
					return err
				}
				if err := fabric.WritePNG(f, results); err != nil {
					f.Close()
					return fmt.Errorf("%s: %w", pngPath, err)
				}
				if err := f.Close(); err != nil {
					return err
				}
			}
			if format == "json" {
				enc := json.NewEncoder(cmd.OutOrStdout())
				enc.SetIndent("", "  ")
				return enc.Encode(results)
			}
			return fabric.WriteTable(cmd.OutOrStdout(), results)
		},
	}
	cmd.Flags().IntSliceVar(&devices, "devices", []int{32, 256, 1024}, "numbers of simulated devices, one run each")
	cmd.Flags().IntVar(&ports, "ports", 48, "server ports per device")
	cmd.Flags().IntVar(&uplinks, "uplinks", 4, "spine uplinks per device (the ECMP probe's items)")
	cmd.Flags().IntVar(&ticks, "ticks", 16, "ticks per run; the traffic changes at the middle one")
	cmd.Flags().StringVar(&root, "root", ".", "repository root holding cmd/probectl/testdata and testdata/fabric-probes")
	cmd.Flags().StringVar(&pngPath, "png", "", "write the plot of central bytes and CPU against devices to this PNG file")
	cmd.Flags().StringVarP(&format, "output", "o", "markdown", "output format: markdown or json")
	return cmd
}
