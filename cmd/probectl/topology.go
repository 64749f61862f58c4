package main

import (
	"fmt"
	"io"
	"os"
	"sort"
	"text/tabwriter"

	"github.com/spf13/cobra"
	"gopkg.in/yaml.v3"

	"github.com/probe-agent/probe-agent/topology"
)

// topologyFlags are the choices every command that reads a topology file
// offers.
type topologyFlags struct {
	roles string
	speed string
}

func (f *topologyFlags) add(cmd *cobra.Command) {
	cmd.Flags().StringVar(&f.roles, "roles", "", "YAML file mapping node names to roles (wins over labels, group and name)")
	cmd.Flags().StringVar(&f.speed, "default-speed", topology.DefaultLinkSpeed, "speed of links that set none in labels or vars")
}

// load reads a topology file (containerlab or plain graph JSON), printing
// its warnings to warn.
func (f *topologyFlags) load(path string, warn io.Writer) (*topology.Graph, error) {
	opts := topology.Options{DefaultSpeed: f.speed}
	if f.roles != "" {
		data, err := os.ReadFile(f.roles)
		if err != nil {
			return nil, err
		}
		if err := yaml.Unmarshal(data, &opts.Roles); err != nil {
			return nil, fmt.Errorf("%s: want a mapping of node names to roles: %v", f.roles, err)
		}
	}
	g, warnings, err := topology.LoadFile(path, opts)
	for _, w := range warnings {
		fmt.Fprintln(warn, "warning:", w.Error())
	}
	return g, err
}

func newTopologyCmd() *cobra.Command {
	var tf topologyFlags
	var check bool
	cmd := &cobra.Command{
		Use:   "topology FILE [-o json|yaml|table] [--check]",
		Short: "Show the fabric graph of a containerlab or graph JSON topology file",
		Long: `Read a containerlab topology file (.clab.yml) or a plain graph JSON file
({"nodes": {...}, "relationships": {...}}) and print its systems (role and
where the role came from, kind, system_type, system_id, interface count) and
links (ends, role, speed). --check only validates: it prints a one-line
summary, or the error with file, line and key and exits 1. Roles, interface
names and defaults: docs/topology.md.`,
		Args: cobra.ExactArgs(1),
	}
	out := outputFlag(cmd, "table")
	cmd.Flags().BoolVar(&check, "check", false, "validate only")
	tf.add(cmd)
	cmd.RunE = func(cmd *cobra.Command, args []string) error {
		if err := checkOutput(*out); err != nil {
			return err
		}
		g, err := tf.load(args[0], cmd.ErrOrStderr())
		if err != nil {
			fmt.Fprintln(cmd.ErrOrStderr(), err)
			return exitError{1}
		}
		sum := summarize(g)
		if check {
			fmt.Fprintf(cmd.OutOrStdout(), "%s: ok, %d systems, %d interfaces, %d links\n", args[0], len(sum.Systems), len(g.NodesOfType(topology.TypeInterface)), len(sum.Links))
			return nil
		}
		if *out == "table" {
			return sum.table(cmd.OutOrStdout())
		}
		return write(cmd.OutOrStdout(), *out, sum)
	}
	return cmd
}

type systemSummary struct {
	ID         string `json:"id"`
	Role       string `json:"role"`
	RoleSource string `json:"role_source,omitempty"`
	Kind       string `json:"kind,omitempty"`
	SystemType string `json:"system_type"`
	SystemID   string `json:"system_id"`
	DeployMode string `json:"deploy_mode"`
	Interfaces int    `json:"interfaces"`
}

type linkSummary struct {
	ID    string   `json:"id"`
	Ends  []string `json:"ends"`
	Role  string   `json:"role"`
	Speed string   `json:"speed"`
}

type topologySummary struct {
	Systems []systemSummary `json:"systems"`
	Links   []linkSummary   `json:"links"`
}

func summarize(g *topology.Graph) topologySummary {
	sum := topologySummary{Systems: []systemSummary{}, Links: []linkSummary{}}
	for _, n := range g.NodesOfType(topology.TypeSystem) {
		sum.Systems = append(sum.Systems, systemSummary{
			ID: n.ID, Role: n.String("role"), RoleSource: n.String("role_source"), Kind: n.String("kind"),
			SystemType: n.String("system_type"), SystemID: n.String("system_id"), DeployMode: n.String("deploy_mode"),
			Interfaces: len(topology.Neighbors(n, topology.RelHostedInterfaces, true)),
		})
	}
	for _, l := range g.NodesOfType(topology.TypeLink) {
		var ends []string
		for _, ifn := range topology.Neighbors(l, topology.RelLink, false) {
			sys := "?"
			if hosts := topology.Neighbors(ifn, topology.RelHostedInterfaces, false); len(hosts) == 1 {
				sys = hosts[0].ID
			}
			ends = append(ends, sys+":"+ifn.String("if_name"))
		}
		sort.Strings(ends)
		sum.Links = append(sum.Links, linkSummary{ID: l.ID, Ends: ends, Role: l.String("role"), Speed: l.String("speed")})
	}
	return sum
}

func (s topologySummary) table(w io.Writer) error {
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "SYSTEM\tROLE\tFROM\tKIND\tTYPE\tSYSTEM_ID\tDEPLOY\tINTERFACES")
	for _, n := range s.Systems {
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\t%s\t%d\n", n.ID, n.Role, dash(n.RoleSource), dash(n.Kind), n.SystemType, n.SystemID, n.DeployMode, n.Interfaces)
	}
	fmt.Fprintln(tw)
	fmt.Fprintln(tw, "LINK\tROLE\tSPEED")
	for _, l := range s.Links {
		a, b := "", ""
		if len(l.Ends) > 0 {
			a = l.Ends[0]
		}
		if len(l.Ends) > 1 {
			b = l.Ends[1]
		}
		fmt.Fprintf(tw, "%s <-> %s\t%s\t%s\n", a, b, l.Role, dash(l.Speed))
	}
	return tw.Flush()
}

func dash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}
