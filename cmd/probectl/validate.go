package main

import (
	"fmt"
	"os"
	"strings"

	"github.com/spf13/cobra"

	"github.com/probe-agent/probe-agent/probe"
)

func newValidateCmd() *cobra.Command {
	return &cobra.Command{
		Use:   "validate FILE...",
		Short: "Validate probe documents (seed, 3.x or 4.x dialect)",
		Long: `Validate probe documents. For each valid file, prints the dialect used and
why (the evidence the document carries, or --dialect when it carries none), any
warnings, and names the processors that only a central evaluator can run.
For an invalid file, prints every problem, each naming the probe, processor
and field. Exits 1 if any file is invalid.`,
		Args: cobra.MinimumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			out := cmd.OutOrStdout()
			bad := false
			for _, name := range args {
				data, err := os.ReadFile(name)
				if err != nil {
					fmt.Fprintf(out, "%s: %v\n", name, err)
					bad = true
					continue
				}
				plan, probs := probe.CompileJSONWith(data, probeOptions(cmd))
				if len(probs) > 0 {
					bad = true
					fmt.Fprintf(out, "%s: invalid, %d problem(s):\n", name, len(probs))
					for _, p := range probs {
						fmt.Fprintf(out, "  %s\n", p.Error())
					}
					continue
				}
				fmt.Fprintf(out, "%s: valid (dialect %s: %s)\n", name, plan.Doc.Dialect, plan.Doc.DialectReason)
				if c := plan.CentralOnly(); len(c) > 0 {
					fmt.Fprintf(out, "  central-only processors (need Apstra telemetry services, not evaluated on a device): %s\n", strings.Join(c, ", "))
				}
				for _, w := range plan.Warnings {
					fmt.Fprintf(out, "  warning: %s\n", w)
				}
			}
			if bad {
				return exitError{1}
			}
			return nil
		},
	}
}
