package main

import (
	"encoding/json"
	"fmt"
	"io"
	"os"
	"strings"

	"github.com/spf13/cobra"

	"github.com/probe-agent/probe-agent/probe"
)

// validation is one file's result in validate -o json.
type validation struct {
	File        string          `json:"file"`
	Valid       bool            `json:"valid"`
	Probe       string          `json:"probe,omitempty"`
	Dialect     string          `json:"dialect,omitempty"`
	Reason      string          `json:"dialect_reason,omitempty"`
	Problems    []probe.Problem `json:"problems,omitempty"`
	Error       string          `json:"error,omitempty"`
	Warnings    []string        `json:"warnings,omitempty"`
	CentralOnly []string        `json:"central_only,omitempty"`
}

func validateFile(name string, opts probe.Options) validation {
	v := validation{File: name}
	data, err := os.ReadFile(name)
	if err != nil {
		v.Error = err.Error()
		return v
	}
	plan, probs := probe.CompileJSONWith(data, opts)
	if len(probs) > 0 {
		v.Problems = probs
		return v
	}
	v.Valid, v.Probe = true, plan.Label()
	v.Dialect, v.Reason = string(plan.Doc.Dialect), plan.Doc.DialectReason
	v.Warnings, v.CentralOnly = plan.Warnings, plan.CentralOnly()
	return v
}

func newValidateCmd() *cobra.Command {
	var output string
	cmd := &cobra.Command{
		Use:   "validate FILE...",
		Short: "Validate probe documents (seed, 3.x or 4.x dialect)",
		Long: `Validate probe documents. For each valid file, prints the dialect used and
why (the evidence the document carries, or --dialect when it carries none), any
warnings, and names the processors that only a central evaluator can run.
For an invalid file, prints every problem, each naming the probe, processor
and field. Exits 1 if any file is invalid. -o json prints one JSON array with
an object per file.`,
		Args: cobra.MinimumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			out := cmd.OutOrStdout()
			var results []validation
			bad := false
			for _, name := range args {
				v := validateFile(name, probeOptions(cmd))
				bad = bad || !v.Valid
				results = append(results, v)
			}
			switch output {
			case "json":
				enc := json.NewEncoder(out)
				enc.SetIndent("", "  ")
				if err := enc.Encode(results); err != nil {
					return err
				}
			case "text":
				for _, v := range results {
					printValidation(out, v)
				}
			default:
				return fmt.Errorf("-o %q: want text or json", output)
			}
			if bad {
				return exitError{1}
			}
			return nil
		},
	}
	cmd.Flags().StringVarP(&output, "output", "o", "text", "output format: text or json")
	return cmd
}

func printValidation(out io.Writer, v validation) {
	switch {
	case v.Error != "":
		fmt.Fprintf(out, "%s: %s\n", v.File, v.Error)
	case !v.Valid:
		fmt.Fprintf(out, "%s: invalid, %d problem(s):\n", v.File, len(v.Problems))
		for _, p := range v.Problems {
			fmt.Fprintf(out, "  %s\n", p.Error())
		}
	default:
		fmt.Fprintf(out, "%s: valid (dialect %s: %s)\n", v.File, v.Dialect, v.Reason)
		if len(v.CentralOnly) > 0 {
			fmt.Fprintf(out, "  central-only processors (need Apstra telemetry services, not evaluated on a device): %s\n", strings.Join(v.CentralOnly, ", "))
		}
		for _, w := range v.Warnings {
			fmt.Fprintf(out, "  warning: %s\n", w)
		}
	}
}
