package main

import (
	"encoding/json"
	"fmt"

	"github.com/spf13/cobra"

	"github.com/probe-agent/probe-agent/probe"
)

func newProcessorsCmd() *cobra.Command {
	return &cobra.Command{
		Use:   "processors [TYPE]",
		Short: "Print the processor catalog in the introspection API's JSON format",
		Args:  cobra.MaximumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			var v any = probe.Catalog()
			if len(args) == 1 {
				spec, ok := probe.Lookup(args[0])
				if !ok {
					return fmt.Errorf("unknown processor type %q", args[0])
				}
				v = spec
			}
			enc := json.NewEncoder(cmd.OutOrStdout())
			enc.SetIndent("", "  ")
			return enc.Encode(v)
		},
	}
}
