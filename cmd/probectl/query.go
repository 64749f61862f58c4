package main

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"strings"
	"text/tabwriter"

	"github.com/spf13/cobra"

	"github.com/probe-agent/probe-agent/topology/query"
)

func newQueryCmd() *cobra.Command {
	var tf topologyFlags
	var topoFile string
	cmd := &cobra.Command{
		Use:   "query --topology FILE 'QUERY' [-o json|table]",
		Short: "Run an Apstra graph query against a topology file",
		Long: `Run a graph query (the language of a probe's graph_query, e.g.
node('system', name='sys', role='leaf').out('hosted_interfaces').node('interface', name='intf'))
against a containerlab or graph JSON topology file. -o json prints one JSON
object per row, {"var": {"id", "type", ...properties}}, as Apstra's query API
returns its items; -o table prints the node ids. A query that does not parse
exits 1 with the position of the error.`,
		Args: cobra.ExactArgs(1),
	}
	out := outputFlag(cmd, "json")
	cmd.Flags().StringVar(&topoFile, "topology", "", "topology file (containerlab .clab.yml or graph JSON)")
	_ = cmd.MarkFlagRequired("topology")
	tf.add(cmd)
	cmd.RunE = func(cmd *cobra.Command, args []string) error {
		if *out != "json" && *out != "table" {
			return fmt.Errorf("-o: want json or table, got %q", *out)
		}
		stderr := cmd.ErrOrStderr()
		q, err := query.Parse(args[0])
		if err != nil {
			printQueryError(stderr, args[0], err)
			return exitError{1}
		}
		g, err := tf.load(topoFile, stderr)
		if err != nil {
			fmt.Fprintln(stderr, err)
			return exitError{1}
		}
		res, err := q.Match(g)
		if err != nil {
			fmt.Fprintln(stderr, err)
			return exitError{1}
		}
		for _, w := range res.Warnings {
			fmt.Fprintln(stderr, "warning:", w)
		}
		if *out == "table" {
			return queryTable(cmd.OutOrStdout(), res)
		}
		enc := json.NewEncoder(cmd.OutOrStdout())
		for i := 0; i < res.Len(); i++ {
			if err := enc.Encode(res.RowJSON(i)); err != nil {
				return err
			}
		}
		return nil
	}
	return cmd
}

// printQueryError shows a syntax error under the query with a caret at its
// position.
func printQueryError(w io.Writer, src string, err error) {
	fmt.Fprintln(w, err)
	var se *query.SyntaxError
	if !errors.As(err, &se) {
		return
	}
	line, col := se.LineCol()
	text := strings.Split(src, "\n")[line-1]
	fmt.Fprintf(w, "  %s\n  %s^\n", text, strings.Repeat(" ", col-1))
}

func queryTable(w io.Writer, res *query.Result) error {
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, strings.ToUpper(strings.Join(res.Vars, "\t")))
	for i := 0; i < res.Len(); i++ {
		var cells []string
		for _, n := range res.Row(i) {
			if n == nil {
				cells = append(cells, "None")
			} else {
				cells = append(cells, n.ID)
			}
		}
		fmt.Fprintln(tw, strings.Join(cells, "\t"))
	}
	return tw.Flush()
}
