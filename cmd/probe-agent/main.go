// Command probe-agent is the on-device daemon: it reads interface counters,
// evaluates the edge part of IBA probes and streams the results.
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
		fmt.Fprintln(os.Stderr, "probe-agent:", err)
		os.Exit(1)
	}
}

func newRootCmd() *cobra.Command {
	root := &cobra.Command{
		Use:           "probe-agent",
		Short:         "Evaluate IBA probes on a switch or server and stream the results",
		Version:       version,
		SilenceUsage:  true,
		SilenceErrors: true,
	}
	return root
}
