package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"os/signal"
	"path/filepath"
	"sort"
	"strings"
	"syscall"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	"gopkg.in/yaml.v3"

	"github.com/probe-agent/probe-agent/agent/control"
	pb "github.com/probe-agent/probe-agent/proto/probeagent/v1"
)

// agentFlags are the connection flags of the commands that talk to an
// agent's control plane; they are persistent flags of the root command, so
// they go before or after the command name.
type agentFlags struct {
	addr      string
	ca        string
	cert      string
	key       string
	insecure  bool
	tokenFile string
	timeout   time.Duration
	// controller, when set, sends the probe commands to probe-controller's
	// REST API instead (controller.go); blueprint names the blueprint
	// there (default: the one the controller serves).
	controller string
	blueprint  string
}

// addAgentCommands adds apply, get, list, delete and watch, and the
// connection flags they share, to root.
func addAgentCommands(root *cobra.Command) {
	af := &agentFlags{}
	f := root.PersistentFlags()
	def := os.Getenv("PROBECTL_AGENT")
	if def == "" {
		def = "127.0.0.1:50051"
	}
	f.StringVar(&af.addr, "agent", def, "control plane address HOST:PORT of the agent; $PROBECTL_AGENT sets the default")
	f.StringVar(&af.ca, "ca", "", "CA file that signed the agent's certificate (default: system roots)")
	f.StringVar(&af.cert, "cert", "", "client certificate file (the agent checks it against its CA)")
	f.StringVar(&af.key, "key", "", "client key file")
	f.BoolVar(&af.insecure, "insecure", false, "plaintext, for agents with control.insecure (labs)")
	f.StringVar(&af.tokenFile, "token-file", "", "file holding the bearer token, for agents with control.token_file")
	f.DurationVar(&af.timeout, "timeout", 10*time.Second, "time limit of each call (not of watch)")
	f.StringVar(&af.controller, "controller", os.Getenv("PROBECTL_CONTROLLER"), "probe-controller REST API HOST:PORT (HTTPS with --ca/--cert) or URL: the probe commands act on the fabric's probes; $PROBECTL_CONTROLLER sets the default")
	f.StringVar(&af.blueprint, "blueprint", "", "blueprint id on the controller (default: the one it serves)")
	root.AddCommand(newApplyCmd(af), newGetCmd(af), newListCmd(af), newDeleteCmd(af), newWatchCmd(af), newControllerCmd(af))
}

// dial connects to the agent.
func (af *agentFlags) dial() (*grpc.ClientConn, pb.ProbeControlClient, error) {
	cfg := control.ClientConfig{CA: af.ca, Cert: af.cert, Key: af.key, Insecure: af.insecure}
	if af.tokenFile != "" {
		data, err := os.ReadFile(af.tokenFile)
		if err != nil {
			return nil, nil, fmt.Errorf("--token-file: %w", err)
		}
		cfg.Token = strings.TrimSpace(string(data))
	}
	return control.Dial(af.addr, cfg)
}

// call runs fn with a connected client and a per-call deadline, and adds
// the agent address to errors.
func (af *agentFlags) call(ctx context.Context, fn func(context.Context, pb.ProbeControlClient) error) error {
	conn, c, err := af.dial()
	if err != nil {
		return err
	}
	defer conn.Close()
	ctx, cancel := context.WithTimeout(ctx, af.timeout)
	defer cancel()
	return explain(af.addr, fn(ctx, c))
}

// explain words gRPC errors for a person at a terminal.
func explain(addr string, err error) error {
	if err == nil {
		return nil
	}
	var ee exitError
	if errors.As(err, &ee) {
		return err
	}
	st, ok := status.FromError(err)
	if !ok {
		return err
	}
	switch st.Code() {
	case codes.Unavailable:
		return fmt.Errorf("agent %s unreachable or refused the connection (TLS: check --ca, --cert, --key; plaintext agents need --insecure): %s", addr, st.Message())
	case codes.Unauthenticated:
		return fmt.Errorf("agent %s: not authenticated: %s", addr, st.Message())
	default:
		return fmt.Errorf("agent %s: %s: %s", addr, st.Code(), st.Message())
	}
}

// outputFlag adds -o with the given default and checks its value.
func outputFlag(cmd *cobra.Command, def string) *string {
	o := new(string)
	cmd.Flags().StringVarP(o, "output", "o", def, "output format: json, yaml or table")
	_ = cmd.RegisterFlagCompletionFunc("output", cobra.FixedCompletions([]string{"json", "yaml", "table"}, cobra.ShellCompDirectiveNoFileComp))
	return o
}

func checkOutput(o string) error {
	switch o {
	case "json", "yaml", "table":
		return nil
	}
	return fmt.Errorf("-o: want json, yaml or table, got %q", o)
}

// write prints v as indented JSON or as YAML.
func write(w io.Writer, format string, v any) error {
	if format == "yaml" {
		// Through JSON, so that field names and embedded documents read the
		// same in both formats.
		data, err := json.Marshal(v)
		if err != nil {
			return err
		}
		dec := json.NewDecoder(bytes.NewReader(data))
		dec.UseNumber()
		node, err := yamlNode(dec)
		if err != nil {
			return err
		}
		enc := yaml.NewEncoder(w)
		enc.SetIndent(2)
		if err := enc.Encode(node); err != nil {
			return err
		}
		return enc.Close()
	}
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(v)
}

// yamlNode converts the next JSON value of dec to YAML, keeping the order of
// object keys (a probe document reads as written).
func yamlNode(dec *json.Decoder) (*yaml.Node, error) {
	tok, err := dec.Token()
	if err != nil {
		return nil, err
	}
	switch tok := tok.(type) {
	case json.Delim:
		n := &yaml.Node{Kind: yaml.SequenceNode, Tag: "!!seq"}
		if tok == '{' {
			n.Kind, n.Tag = yaml.MappingNode, "!!map"
		}
		for dec.More() {
			if n.Kind == yaml.MappingNode {
				key, err := dec.Token()
				if err != nil {
					return nil, err
				}
				n.Content = append(n.Content, &yaml.Node{Kind: yaml.ScalarNode, Tag: "!!str", Value: key.(string)})
			}
			child, err := yamlNode(dec)
			if err != nil {
				return nil, err
			}
			n.Content = append(n.Content, child)
		}
		if _, err := dec.Token(); err != nil { // the closing delimiter
			return nil, err
		}
		return n, nil
	case string:
		return &yaml.Node{Kind: yaml.ScalarNode, Tag: "!!str", Value: tok}, nil
	case json.Number:
		tag := "!!int"
		if strings.ContainsAny(tok.String(), ".eE") {
			tag = "!!float"
		}
		return &yaml.Node{Kind: yaml.ScalarNode, Tag: tag, Value: tok.String()}, nil
	case bool:
		return &yaml.Node{Kind: yaml.ScalarNode, Tag: "!!bool", Value: fmt.Sprint(tok)}, nil
	default: // nil
		return &yaml.Node{Kind: yaml.ScalarNode, Tag: "!!null", Value: "null"}, nil
	}
}

// probeView is a probe as probectl prints it.
type probeView struct {
	ID           string          `json:"id"`
	Label        string          `json:"label"`
	Origin       string          `json:"origin"`
	Source       string          `json:"source,omitempty"`
	State        string          `json:"state"`
	LastError    string          `json:"last_error,omitempty"`
	AnomalyCount uint32          `json:"anomaly_count"`
	Disabled     bool            `json:"disabled,omitempty"`
	Document     json.RawMessage `json:"document,omitempty"`
}

func viewOf(p *pb.Probe) probeView {
	v := probeView{ID: p.GetId(), Label: p.GetLabel(), Origin: p.GetOrigin(), Source: p.GetSource(), State: p.GetState(),
		LastError: p.GetLastError(), AnomalyCount: p.GetAnomalyCount(), Disabled: p.GetDisabled()}
	if d := p.GetDocument(); d != "" && json.Valid([]byte(d)) {
		v.Document = json.RawMessage(d)
	}
	return v
}

func probeTable(w io.Writer, probes []*pb.Probe) error {
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "ID\tLABEL\tORIGIN\tSTATE\tANOMALIES\tERROR")
	for _, p := range probes {
		state := p.GetState()
		if p.GetDisabled() {
			state += " (disabled)"
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%d\t%s\n", p.GetId(), p.GetLabel(), p.GetOrigin(), state, p.GetAnomalyCount(), oneLine(p.GetLastError()))
	}
	return tw.Flush()
}

func oneLine(s string) string {
	s, _, _ = strings.Cut(s, "\n")
	return s
}

// docSource names where document i of an apply came from.
type docSource struct {
	file  string
	index int // within the file, -1 for a file with one document
}

func (d docSource) String() string {
	if d.index < 0 {
		return d.file
	}
	return fmt.Sprintf("%s[%d]", d.file, d.index)
}

// readDocs reads probe documents: each file (or - for stdin) holds one
// JSON document or a JSON array of them; a directory contributes its *.json
// files in name order.
func readDocs(names []string, stdin io.Reader) ([]string, []docSource, error) {
	var docs []string
	var srcs []docSource
	for _, name := range names {
		files := []string{name}
		if name != "-" {
			if st, err := os.Stat(name); err == nil && st.IsDir() {
				files, err = filepath.Glob(filepath.Join(name, "*.json"))
				if err != nil {
					return nil, nil, err
				}
				sort.Strings(files)
			}
		}
		for _, file := range files {
			var data []byte
			var err error
			if file == "-" {
				data, err = io.ReadAll(stdin)
			} else {
				data, err = os.ReadFile(file)
			}
			if err != nil {
				return nil, nil, err
			}
			trimmed := bytes.TrimSpace(data)
			if len(trimmed) > 0 && trimmed[0] == '[' {
				var list []json.RawMessage
				if err := json.Unmarshal(trimmed, &list); err != nil {
					return nil, nil, fmt.Errorf("%s: %w", file, err)
				}
				for i, d := range list {
					docs = append(docs, string(d))
					srcs = append(srcs, docSource{file, i})
				}
				continue
			}
			// Anything else goes to the agent as is: it reports what is
			// wrong with it along with the other documents' problems.
			docs = append(docs, string(data))
			srcs = append(srcs, docSource{file, -1})
		}
	}
	return docs, srcs, nil
}

func newApplyCmd(af *agentFlags) *cobra.Command {
	var files []string
	var generation uint64
	var output *string
	cmd := &cobra.Command{
		Use:   "apply -f FILE [-f FILE...] [--generation N]",
		Short: "Make the agent's applied probes exactly the given documents",
		Long: `Send the full desired set of probe documents to an agent's control plane
(ApplyProbes). The agent validates every document first; any problem refuses
the whole request and the previous set stays in force. Otherwise it creates,
replaces and deletes probes atomically: applied probes not in the files are
deleted, probes whose document did not change keep their state and time
series. Probes from the agent's probes_dir are not affected.

Each -f names a JSON file holding one probe document or an array of them, a
directory (its *.json files), or - for stdin. Without --generation the next
generation (the applied one + 1) is used; an older generation than the
applied one is refused. Exits 1 when documents do not validate, printing
every problem with the file, probe, processor and field it concerns.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if err := checkOutput(*output); err != nil {
				return err
			}
			if len(files) == 0 {
				return errors.New("-f: name at least one probe file")
			}
			docs, srcs, err := readDocs(files, cmd.InOrStdin())
			if err != nil {
				return err
			}
			if af.controller != "" {
				if cmd.Flags().Changed("generation") {
					return errors.New("--generation applies to agents only: the controller numbers its generations itself")
				}
				return controllerApply(cmd, af, docs, srcs, *output)
			}
			return af.call(cmd.Context(), func(ctx context.Context, c pb.ProbeControlClient) error {
				gen := generation
				if !cmd.Flags().Changed("generation") {
					list, err := c.ListProbes(ctx, &pb.ListProbesRequest{})
					if err != nil {
						return err
					}
					gen = list.GetGeneration() + 1
				}
				resp, err := c.ApplyProbes(ctx, &pb.ApplyProbesRequest{Generation: gen, Probes: docs})
				if v := control.FieldViolations(err); len(v) > 0 {
					w := cmd.ErrOrStderr()
					fmt.Fprintf(w, "invalid probes, nothing was applied (%d problem(s)):\n", len(v))
					for _, fv := range v {
						fmt.Fprintf(w, "  %s%s: %s\n", sourceOf(fv.GetField(), srcs), fv.GetField(), fv.GetDescription())
					}
					return exitError{1}
				}
				if err != nil {
					return err
				}
				if *output != "table" {
					type result struct {
						ID     string `json:"id"`
						Action string `json:"action"`
						State  string `json:"state,omitempty"`
					}
					out := struct {
						Generation uint64   `json:"generation"`
						Results    []result `json:"results"`
					}{Generation: resp.GetGeneration(), Results: []result{}}
					for _, r := range resp.GetResults() {
						out.Results = append(out.Results, result{r.GetId(), r.GetAction(), r.GetState()})
					}
					return write(cmd.OutOrStdout(), *output, out)
				}
				tw := tabwriter.NewWriter(cmd.OutOrStdout(), 0, 4, 2, ' ', 0)
				fmt.Fprintln(tw, "ID\tACTION\tSTATE")
				for _, r := range resp.GetResults() {
					fmt.Fprintf(tw, "%s\t%s\t%s\n", r.GetId(), r.GetAction(), r.GetState())
				}
				if err := tw.Flush(); err != nil {
					return err
				}
				_, err = fmt.Fprintf(cmd.OutOrStdout(), "generation %d applied\n", resp.GetGeneration())
				return err
			})
		},
	}
	cmd.Flags().StringArrayVarP(&files, "file", "f", nil, "probe document file, directory or - (repeatable)")
	_ = cmd.MarkFlagFilename("file", "json")
	cmd.Flags().Uint64Var(&generation, "generation", 0, "generation to apply (default: the applied one + 1)")
	output = outputFlag(cmd, "table")
	return cmd
}

// sourceOf names the file of a field violation "probes[i]...", followed by
// ": ", or "" when it cannot tell.
func sourceOf(field string, srcs []docSource) string {
	var i int
	if _, err := fmt.Sscanf(field, "probes[%d]", &i); err != nil || i < 0 || i >= len(srcs) {
		return ""
	}
	return srcs[i].String() + ": "
}

// completeIDs completes probe ids from the agent's list.
func completeIDs(af *agentFlags) cobra.CompletionFunc {
	return func(cmd *cobra.Command, args []string, toComplete string) ([]cobra.Completion, cobra.ShellCompDirective) {
		if len(args) > 0 {
			return nil, cobra.ShellCompDirectiveNoFileComp
		}
		var out []cobra.Completion
		_ = af.call(cmd.Context(), func(ctx context.Context, c pb.ProbeControlClient) error {
			list, err := c.ListProbes(ctx, &pb.ListProbesRequest{})
			for _, p := range list.GetProbes() {
				if strings.HasPrefix(p.GetId(), toComplete) {
					out = append(out, cobra.CompletionWithDesc(p.GetId(), p.GetLabel()))
				}
			}
			return err
		})
		return out, cobra.ShellCompDirectiveNoFileComp
	}
}

func newGetCmd(af *agentFlags) *cobra.Command {
	var output *string
	cmd := &cobra.Command{
		Use:               "get ID",
		Short:             "Show one probe of the agent: status and document",
		Args:              cobra.ExactArgs(1),
		ValidArgsFunction: completeIDs(af),
		RunE: func(cmd *cobra.Command, args []string) error {
			if err := checkOutput(*output); err != nil {
				return err
			}
			if af.controller != "" {
				return controllerGet(cmd, af, args[0], *output)
			}
			return af.call(cmd.Context(), func(ctx context.Context, c pb.ProbeControlClient) error {
				p, err := c.GetProbe(ctx, &pb.GetProbeRequest{Id: args[0]})
				if err != nil {
					return err
				}
				if *output == "table" {
					return probeTable(cmd.OutOrStdout(), []*pb.Probe{p})
				}
				return write(cmd.OutOrStdout(), *output, viewOf(p))
			})
		},
	}
	output = outputFlag(cmd, "json")
	return cmd
}

func newListCmd(af *agentFlags) *cobra.Command {
	var output *string
	cmd := &cobra.Command{
		Use:   "list",
		Short: "List the agent's probes and the applied generation",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if err := checkOutput(*output); err != nil {
				return err
			}
			if af.controller != "" {
				return controllerList(cmd, af, *output)
			}
			return af.call(cmd.Context(), func(ctx context.Context, c pb.ProbeControlClient) error {
				list, err := c.ListProbes(ctx, &pb.ListProbesRequest{})
				if err != nil {
					return err
				}
				if *output == "table" {
					return probeTable(cmd.OutOrStdout(), list.GetProbes())
				}
				out := struct {
					Generation uint64      `json:"generation"`
					Probes     []probeView `json:"probes"`
				}{Generation: list.GetGeneration(), Probes: []probeView{}}
				for _, p := range list.GetProbes() {
					out.Probes = append(out.Probes, viewOf(p))
				}
				return write(cmd.OutOrStdout(), *output, out)
			})
		},
	}
	output = outputFlag(cmd, "table")
	return cmd
}

func newDeleteCmd(af *agentFlags) *cobra.Command {
	return &cobra.Command{
		Use:               "delete ID",
		Short:             "Delete one applied probe from the agent (the generation does not change)",
		Args:              cobra.ExactArgs(1),
		ValidArgsFunction: completeIDs(af),
		RunE: func(cmd *cobra.Command, args []string) error {
			if af.controller != "" {
				return controllerDelete(cmd, af, args[0])
			}
			return af.call(cmd.Context(), func(ctx context.Context, c pb.ProbeControlClient) error {
				if _, err := c.DeleteProbe(ctx, &pb.DeleteProbeRequest{Id: args[0]}); err != nil {
					return err
				}
				fmt.Fprintf(cmd.OutOrStdout(), "probe %s deleted\n", args[0])
				return nil
			})
		},
	}
}

func newWatchCmd(af *agentFlags) *cobra.Command {
	var output *string
	var poll time.Duration
	cmd := &cobra.Command{
		Use:   "watch",
		Short: "Stream the agent's probe status changes until interrupted",
		Long: `Print the current status of every probe, then every change of a probe's
state, error or anomaly count, and removals, until interrupted. Table lines
are printed as events arrive; json prints one object per line; yaml one
document per event. With --controller, the fabric's probes are polled
every --poll (the REST API has no stream).`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if err := checkOutput(*output); err != nil {
				return err
			}
			if af.controller != "" {
				return controllerWatch(cmd, af, *output, poll)
			}
			conn, c, err := af.dial()
			if err != nil {
				return err
			}
			defer conn.Close()
			ctx, stop := signal.NotifyContext(cmd.Context(), syscall.SIGTERM, syscall.SIGINT)
			defer stop()
			stream, err := c.WatchStatus(ctx, &pb.WatchStatusRequest{})
			if err != nil {
				return explain(af.addr, err)
			}
			return explain(af.addr, printEvents(ctx, stream, *output, cmd.OutOrStdout()))
		},
	}
	output = outputFlag(cmd, "table")
	cmd.Flags().DurationVar(&poll, "poll", time.Second, "with --controller: how often to ask for the probes")
	return cmd
}

// eventView is a status event as probectl prints it.
type eventView struct {
	Time         time.Time `json:"time"`
	ID           string    `json:"id"`
	Label        string    `json:"label"`
	State        string    `json:"state,omitempty"`
	AnomalyCount uint32    `json:"anomaly_count"`
	LastError    string    `json:"last_error,omitempty"`
	Removed      bool      `json:"removed,omitempty"`
}

const eventFormat = "%-24s  %-36s  %-11s  %9v  %s\n"

func printEvents(ctx context.Context, stream grpc.ServerStreamingClient[pb.StatusEvent], output string, w io.Writer) error {
	if output == "table" {
		fmt.Fprintf(w, eventFormat, "TIME", "ID", "STATE", "ANOMALIES", "LABEL / ERROR")
	}
	for {
		ev, err := stream.Recv()
		if err != nil {
			if ctx.Err() != nil || errors.Is(err, io.EOF) {
				return nil
			}
			return err
		}
		v := eventView{Time: ev.GetTime().AsTime().Local(), ID: ev.GetId(), Label: ev.GetLabel(), State: ev.GetState(),
			AnomalyCount: ev.GetAnomalyCount(), LastError: ev.GetLastError(), Removed: ev.GetRemoved()}
		if err := printEvent(w, output, v); err != nil {
			return err
		}
	}
}

// printEvent prints one status event in the output format.
func printEvent(w io.Writer, output string, v eventView) error {
	switch output {
	case "json":
		data, err := json.Marshal(v)
		if err != nil {
			return err
		}
		fmt.Fprintf(w, "%s\n", data)
	case "yaml":
		fmt.Fprintln(w, "---")
		return write(w, "yaml", v)
	default:
		state, anomalies, text := v.State, any(v.AnomalyCount), v.Label
		if v.Removed {
			state, anomalies = "removed", "-"
		}
		if v.LastError != "" {
			text += ": " + oneLine(v.LastError)
		}
		fmt.Fprintf(w, eventFormat, v.Time.Format("2006-01-02T15:04:05.000"), v.ID, state, anomalies, text)
	}
	return nil
}
