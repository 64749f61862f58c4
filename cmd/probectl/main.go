// Command probectl validates, inspects and simulates IBA probes, and talks to
// probe-agent.
package main

import (
	"fmt"
	"os"

	"github.com/spf13/cobra"
)

// version is set at link time from `git describe` (see the Makefile).
var version = "dev"

func main() {
	if err := newRootCmd().Execute(); err != nil {
		fmt.Fprintln(os.Stderr, "probectl:", err)
		os.Exit(1)
	}
}

func newRootCmd() *cobra.Command {
	root := &cobra.Command{
		Use:           "probectl",
		Short:         "Validate, inspect and simulate IBA probes",
		Version:       version,
		SilenceUsage:  true,
		SilenceErrors: true,
	}
	return root
}
