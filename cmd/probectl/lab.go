package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"os/signal"
	"path/filepath"
	"syscall"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"

	"github.com/probe-agent/probe-agent/lab"
	"github.com/probe-agent/probe-agent/topology"
)

// labFlags are the options every lab command shares.
type labFlags struct {
	dir      string
	portBase int
}

func (f *labFlags) add(cmd *cobra.Command) {
	cmd.Flags().StringVar(&f.dir, "dir", "", "lab folder: configurations, certificates, logs, state.json (default ./lab-<name>)")
	cmd.Flags().IntVar(&f.portBase, "port-base", 0, "first 127.0.0.1 port of the agents' control planes and APIs and the controller (default: from the lab name, 20000-32699, below the ephemeral ports)")
}

// load parses a containerlab file into a plan and the lab's folder.
func (f *labFlags) load(file string, warn io.Writer) (*lab.Plan, lab.Layout, string, error) {
	abs, err := filepath.Abs(file)
	if err != nil {
		return nil, lab.Layout{}, "", err
	}
	data, err := os.ReadFile(abs)
	if err != nil {
		return nil, lab.Layout{}, "", err
	}
	g, l, warnings, err := topology.ParseContainerlab(data, file, topology.Options{})
	for _, w := range warnings {
		fmt.Fprintln(warn, "warning:", w.Error())
	}
	if err != nil {
		return nil, lab.Layout{}, "", err
	}
	p, err := lab.Build(g, l, lab.Options{PortBase: f.portBase})
	if err != nil {
		return nil, lab.Layout{}, "", fmt.Errorf("%s: %w", file, err)
	}
	dir := f.dir
	if dir == "" {
		dir = "lab-" + p.Lab
	}
	if dir, err = filepath.Abs(dir); err != nil {
		return nil, lab.Layout{}, "", err
	}
	return p, lab.Layout{Dir: dir}, abs, nil
}

func newLabCmd() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "lab",
		Short: "Run a containerlab topology as network namespaces: agents, controller, traffic (root)",
		Long: `Build a containerlab topology on this host without Docker: one network
namespace per node, one veth pair per link under the topology's interface
names, addresses (a /31 per fabric link, a /24 per switch-server link),
static ECMP routes so servers reach each other through the fabric, one
probe-agent per switch (in the root namespace, its netlink collector in the
switch's namespace, control plane and API on 127.0.0.1, mutual TLS from a
lab CA) and one probe-controller. Everything is written into the lab folder
(--dir, default ./lab-<name>). See containerlab/README.md.`,
	}
	cmd.AddCommand(newLabUpCmd(), newLabDownCmd(), newLabStatusCmd(), newLabPlanCmd(), newLabTrafficCmd(), newLabCertsCmd())
	return cmd
}

func newLabPlanCmd() *cobra.Command {
	var (
		lf     labFlags
		output string
	)
	cmd := &cobra.Command{
		Use:   "plan FILE.clab.yml [-o json|commands]",
		Short: "Print what lab up would build, without building it",
		Long: `Print the lab's plan: namespaces, veths, addresses, routes, ports (-o json),
or (-o commands) the addresses, sysctls and routes as one
"docker exec clab-<lab>-<node> sh -c '...'" line per node, to configure a
fabric containerlab deployed (containerlab/README.md).`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			p, _, _, err := lf.load(args[0], cmd.ErrOrStderr())
			if err != nil {
				return err
			}
			switch output {
			case "commands":
				for _, line := range lab.NodeCommands(p) {
					fmt.Fprintln(cmd.OutOrStdout(), line)
				}
				return nil
			case "json":
			default:
				return fmt.Errorf("-o %q: want json or commands", output)
			}
			enc := json.NewEncoder(cmd.OutOrStdout())
			enc.SetIndent("", "  ")
			return enc.Encode(p)
		},
	}
	lf.add(cmd)
	cmd.Flags().StringVarP(&output, "output", "o", "json", "json or commands")
	return cmd
}

func newLabCertsCmd() *cobra.Command {
	var lf labFlags
	cmd := &cobra.Command{
		Use:   "certs FILE.clab.yml [--dir LABDIR]",
		Short: "Write the lab's CA and certificates (every switch, controller, probectl) into LABDIR/pki",
		Long: `Write a fresh CA and an ECDSA certificate per switch node, for the
controller and for probectl into LABDIR/pki: what lab up does, for a
containerlab deployment that bind-mounts the folder into its nodes. Every
certificate also names "` + lab.SharedServerName + `", the server_name a
controller dialling agents by management address checks.`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			p, layout, _, err := lf.load(args[0], cmd.ErrOrStderr())
			if err != nil {
				return err
			}
			names := []string{"controller", "probectl"}
			for _, n := range p.Switches() {
				names = append(names, n.Name)
			}
			if err := lab.WritePKI(layout, names); err != nil {
				return err
			}
			fmt.Fprintf(cmd.OutOrStdout(), "CA and %d certificates in %s\n", len(names), filepath.Dir(layout.CA()))
			return nil
		},
	}
	lf.add(cmd)
	return cmd
}

func newLabUpCmd() *cobra.Command {
	var (
		lf                     labFlags
		bin                    string
		noAgents, noController bool
		timeout                time.Duration
	)
	cmd := &cobra.Command{
		Use:   "up FILE.clab.yml [--dir LABDIR] [--bin DIR]",
		Short: "Build the lab and start its agents and controller",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			p, layout, file, err := lf.load(args[0], cmd.ErrOrStderr())
			if err != nil {
				return err
			}
			if err := lab.CheckPrivileges(); err != nil {
				return err
			}
			if bin == "" {
				exe, err := os.Executable()
				if err != nil {
					return err
				}
				bin = filepath.Dir(exe)
			}
			ctx, stop := signal.NotifyContext(cmd.Context(), os.Interrupt, syscall.SIGTERM)
			defer stop()
			out := cmd.OutOrStdout()
			st, err := lab.Up(ctx, p, layout, lab.UpOptions{File: file, Bin: bin, NoAgents: noAgents, NoController: noController, ReadyTimeout: timeout, Log: out})
			if err != nil {
				fmt.Fprintf(cmd.ErrOrStderr(), "probectl: lab up: %v\nremoving what was made...\n", err)
				if _, derr := lab.Down(p.Lab, layout, 5*time.Second); derr != nil {
					fmt.Fprintf(cmd.ErrOrStderr(), "probectl: lab down: %v\n", derr)
				}
				return exitError{1}
			}
			fmt.Fprintf(out, "lab %s is up: %d nodes, %d processes; state in %s\n", p.Lab, len(p.Nodes), len(st.Processes), layout.State())
			for _, n := range p.Switches() {
				fmt.Fprintf(out, "  %-12s control %s  api http://%s\n", n.Name, n.Agent.Control, n.Agent.API)
			}
			fmt.Fprintf(out, "  %-12s api http://%s (config %s)\n", "controller", p.Controller.API, layout.ControllerConfig())
			return nil
		},
	}
	lf.add(cmd)
	cmd.Flags().StringVar(&bin, "bin", "", "folder with probe-agent and probe-controller (default: probectl's own folder, bin/ after make build)")
	cmd.Flags().BoolVar(&noAgents, "no-agents", false, "build the network only: no agents, no controller")
	cmd.Flags().BoolVar(&noController, "no-controller", false, "start the agents but not the controller")
	cmd.Flags().DurationVar(&timeout, "ready-timeout", 20*time.Second, "how long each daemon may take to answer on its API")
	return cmd
}

func newLabDownCmd() *cobra.Command {
	var (
		lf    labFlags
		grace time.Duration
	)
	cmd := &cobra.Command{
		Use:   "down FILE.clab.yml [--dir LABDIR]",
		Short: "Stop the lab's processes and delete its namespaces (also after a crash)",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			p, layout, _, err := lf.load(args[0], cmd.ErrOrStderr())
			if err != nil {
				return err
			}
			rep, err := lab.Down(p.Lab, layout, grace)
			out := cmd.OutOrStdout()
			fmt.Fprintf(out, "stopped %d processes (%d needed SIGKILL), deleted %d namespaces\n", len(rep.Stopped), len(rep.Killed), len(rep.Namespaces))
			return err
		},
	}
	lf.add(cmd)
	cmd.Flags().DurationVar(&grace, "grace", 5*time.Second, "how long processes get after SIGTERM before SIGKILL")
	return cmd
}

func newLabStatusCmd() *cobra.Command {
	var lf labFlags
	cmd := &cobra.Command{
		Use:   "status FILE.clab.yml [--dir LABDIR]",
		Short: "Show the lab's namespaces, interfaces, processes and their readiness",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			p, layout, _, err := lf.load(args[0], cmd.ErrOrStderr())
			if err != nil {
				return err
			}
			if err := lab.CheckPrivileges(); err != nil {
				return err
			}
			nodes, ctrl, err := lab.Status(p, layout)
			if err != nil {
				return err
			}
			tw := tabwriter.NewWriter(cmd.OutOrStdout(), 0, 4, 2, ' ', 0)
			fmt.Fprintln(tw, "NODE\tTYPE\tNETNS\tINTERFACES\tPID\tALIVE\tREADY")
			down := 0
			for i, n := range nodes {
				present := "absent"
				if n.Present {
					present = "present"
				} else {
					down++
				}
				pid, alive, ready := "-", "-", "-"
				if n.Process != nil {
					pid, alive, ready = fmt.Sprint(n.Process.PID), fmt.Sprint(n.Process.Alive), n.Process.Ready
					if !n.Process.Alive {
						down++
					}
				}
				fmt.Fprintf(tw, "%s\t%s\t%s %s\t%d/%d\t%s\t%s\t%s\n", n.Name, p.Nodes[i].SystemType, n.Netns, present, n.Interfaces, n.Planned, pid, alive, ready)
			}
			if ctrl != nil {
				fmt.Fprintf(tw, "controller\t-\t-\t-\t%d\t%v\t%s\n", ctrl.PID, ctrl.Alive, ctrl.Ready)
			}
			tw.Flush()
			if down > 0 {
				return exitError{1}
			}
			return nil
		},
	}
	lf.add(cmd)
	return cmd
}

func newLabTrafficCmd() *cobra.Command {
	var (
		from, to, rate, output string
		flows                  []string
		duration               time.Duration
		size                   int
	)
	cmd := &cobra.Command{
		Use:   "traffic LABDIR (--from NODE --to NODE --rate 10Mbps | --flow FROM,TO,RATE[,PORT]...) [--duration 5s]",
		Short: "Send UDP flows between the lab's servers at given rates and report bytes sent and received",
		Long: `Send real UDP flows between nodes of a lab that is up: for each flow a
paced sender in the source's namespace and a sink in the destination's.
NODE is a node name (its first addressed interface) or node:interface,
which makes that one port hot. RATE is UDP payload bits per second (bps,
Kbps, Mbps, Gbps). Flows run at the same time; each gets destination port
5001+index unless PORT is given, so ECMP spreads them.`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			if err := lab.CheckPrivileges(); err != nil {
				return err
			}
			dir, err := filepath.Abs(args[0])
			if err != nil {
				return err
			}
			st, err := lab.LoadState(lab.Layout{Dir: dir})
			if err != nil {
				return err
			}
			if st == nil || st.Plan == nil {
				return fmt.Errorf("%s: no state.json: is the lab up (probectl lab up FILE --dir %s)?", dir, args[0])
			}
			var fs []lab.Flow
			if from != "" || to != "" {
				if from == "" || to == "" || rate == "" {
					return fmt.Errorf("--from, --to and --rate go together")
				}
				f, err := lab.ParseFlow(from + "," + to + "," + rate)
				if err != nil {
					return err
				}
				fs = append(fs, f)
			}
			for _, s := range flows {
				f, err := lab.ParseFlow(s)
				if err != nil {
					return err
				}
				fs = append(fs, f)
			}
			if len(fs) == 0 {
				return fmt.Errorf("no flow: give --from, --to and --rate, or --flow FROM,TO,RATE")
			}
			for i := range fs {
				fs[i].Size = size
			}
			ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
			defer stop()
			res, err := lab.RunFlows(ctx, st.Plan, fs, duration)
			if err != nil {
				return err
			}
			if output == "json" {
				enc := json.NewEncoder(cmd.OutOrStdout())
				enc.SetIndent("", "  ")
				return enc.Encode(res)
			}
			tw := tabwriter.NewWriter(cmd.OutOrStdout(), 0, 4, 2, ' ', 0)
			fmt.Fprintln(tw, "FROM\tTO\tRATE\tSENT BYTES\tRECEIVED BYTES\tLOSS\tRECEIVED RATE\tSEND ERRORS")
			for _, r := range res {
				loss := 0.0
				if r.SentPackets > 0 {
					loss = 100 * float64(r.SentPackets-r.RecvPackets) / float64(r.SentPackets)
				}
				fmt.Fprintf(tw, "%s %s\t%s %s\t%s\t%d\t%d\t%.2f%%\t%s\t%d %s\n", r.Flow.From, r.Src, r.Flow.To, r.Dst, formatRate(r.Flow.Rate),
					r.SentBytes, r.RecvBytes, loss, formatRate(float64(r.RecvBytes*8)/duration.Seconds()), r.SendErrors, r.LastSendError)
			}
			return tw.Flush()
		},
	}
	cmd.Flags().StringVar(&from, "from", "", "source node (or node:interface)")
	cmd.Flags().StringVar(&to, "to", "", "destination node (or node:interface)")
	cmd.Flags().StringVar(&rate, "rate", "", "UDP payload rate, e.g. 10Mbps")
	cmd.Flags().StringArrayVar(&flows, "flow", nil, "a flow FROM,TO,RATE[,PORT]; repeat for several at once")
	cmd.Flags().DurationVar(&duration, "duration", 5*time.Second, "how long every flow sends")
	cmd.Flags().IntVar(&size, "size", 1200, "UDP payload bytes per datagram")
	cmd.Flags().StringVarP(&output, "output", "o", "table", "table or json")
	return cmd
}

func formatRate(bps float64) string {
	switch {
	case bps >= 1e9:
		return fmt.Sprintf("%.2fGbps", bps/1e9)
	case bps >= 1e6:
		return fmt.Sprintf("%.2fMbps", bps/1e6)
	case bps >= 1e3:
		return fmt.Sprintf("%.2fKbps", bps/1e3)
	}
	return fmt.Sprintf("%.0fbps", bps)
}
