// Command probectl validates, inspects and simulates IBA probes, and talks to
// probe-agent.
package main

import (
	"errors"
	"fmt"
	"os"

	"github.com/spf13/cobra"

	"github.com/probe-agent/probe-agent/probe"
	_ "github.com/probe-agent/probe-agent/probe/processors" // the processor catalog
)

// version is set at link time from `git describe` (see the Makefile).
var version = "dev"

// exitError carries an exit status without printing anything more.
type exitError struct{ code int }

func (e exitError) Error() string { return fmt.Sprintf("exit status %d", e.code) }

func main() {
	err := newRootCmd().Execute()
	var ee exitError
	switch {
	case errors.As(err, &ee):
		os.Exit(ee.code)
	case err != nil:
		fmt.Fprintln(os.Stderr, "probectl:", err)
		os.Exit(2)
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
	root.PersistentFlags().String("dialect", "seed", "dialect of probe documents that neither set \"dialect\" nor carry evidence of one: seed (AOS 3.0), 3.x or 4.x")
	root.AddCommand(newValidateCmd(), newProcessorsCmd(), newSimulateCmd(), newReceiveCmd())
	addAgentCommands(root) // apply, get, list, delete, watch: agent/control's client
	root.AddCommand(newPlanCmd())
	root.AddCommand(newTopologyCmd(), newQueryCmd()) // offline topology and graph query tools
	root.AddCommand(newLabCmd())                     // the fabric as network namespaces (lab/)
	root.AddCommand(newBenchCmd())                   // the central-load benchmark (bench/fabric)
	root.AddCommand(newVersionCmd())
	return root
}

// probeOptions are the probe parsing options the global flags set.
func probeOptions(cmd *cobra.Command) probe.Options {
	var opts probe.Options
	if f := cmd.Flag("dialect"); f != nil {
		opts.DefaultDialect, _ = probe.ParseDialect(f.Value.String())
	}
	return opts
}
