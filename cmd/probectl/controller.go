package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"os/signal"
	"sort"
	"strings"
	"syscall"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"

	"github.com/probe-agent/probe-agent/probe"
	"github.com/probe-agent/probe-agent/tlsutil"
)

// The probe commands (apply, list, get, delete, watch) talk to an agent's
// control plane, or, with --controller, to probe-controller's REST API,
// where the same commands act on the fabric's probes.

// restClient calls probe-controller's REST API.
type restClient struct {
	base  string // scheme://host:port
	bp    string
	token string
	http  *http.Client
}

// restError is a refused request, with the API's error detail.
type restError struct {
	status int
	detail json.RawMessage
}

func (e *restError) Error() string {
	var msg string
	if json.Unmarshal(e.detail, &msg) == nil {
		return fmt.Sprintf("%d %s: %s", e.status, http.StatusText(e.status), msg)
	}
	return fmt.Sprintf("%d %s: %s", e.status, http.StatusText(e.status), e.detail)
}

// controllerClient builds the client of --controller: HOST:PORT (HTTPS
// when --ca or --cert is given) or a URL; --token-file authenticates
// writes; --blueprint, when not given, is asked from the controller.
func (af *agentFlags) controllerClient(ctx context.Context) (*restClient, error) {
	base := af.controller
	if !strings.Contains(base, "://") {
		scheme := "http"
		if af.ca != "" || af.cert != "" {
			scheme = "https"
		}
		base = scheme + "://" + base
	}
	u, err := url.Parse(base)
	if err != nil || u.Host == "" || (u.Scheme != "http" && u.Scheme != "https") {
		return nil, fmt.Errorf("--controller %q: want HOST:PORT or http(s)://HOST:PORT", af.controller)
	}
	c := &restClient{base: strings.TrimSuffix(base, "/"), bp: af.blueprint, http: &http.Client{Timeout: af.timeout}}
	if u.Scheme == "https" {
		tc, err := tlsutil.Client(tlsutil.Files{CA: af.ca, Cert: af.cert, Key: af.key}, "")
		if err != nil {
			return nil, err
		}
		c.http.Transport = &http.Transport{TLSClientConfig: tc}
	}
	if af.tokenFile != "" {
		data, err := os.ReadFile(af.tokenFile)
		if err != nil {
			return nil, fmt.Errorf("--token-file: %w", err)
		}
		c.token = strings.TrimSpace(string(data))
	}
	if c.bp == "" {
		var list struct {
			Items []struct {
				ID string `json:"id"`
			} `json:"items"`
		}
		if err := c.call(ctx, "GET", "/api/blueprints", nil, &list); err != nil {
			return nil, err
		}
		if len(list.Items) == 0 {
			return nil, fmt.Errorf("controller %s serves no blueprint", af.controller)
		}
		c.bp = list.Items[0].ID
	}
	return c, nil
}

// call sends a request with a JSON body (when body is not nil) and decodes
// a JSON answer into out (when not nil); a refused request is a
// *restError.
func (c *restClient) call(ctx context.Context, method, path string, body, out any) error {
	var rd io.Reader
	if body != nil {
		data, err := json.Marshal(body)
		if err != nil {
			return err
		}
		rd = bytes.NewReader(data)
	}
	req, err := http.NewRequestWithContext(ctx, method, c.base+path, rd)
	if err != nil {
		return err
	}
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	if c.token != "" {
		req.Header.Set("Authorization", "Bearer "+c.token)
	}
	resp, err := c.http.Do(req)
	if err != nil {
		return fmt.Errorf("controller %s unreachable (HTTPS: check --ca, --cert, --key): %w", c.base, err)
	}
	defer resp.Body.Close()
	data, err := io.ReadAll(io.LimitReader(resp.Body, 64<<20))
	if err != nil {
		return err
	}
	if resp.StatusCode >= 300 {
		var e struct {
			Errors json.RawMessage `json:"errors"`
		}
		if json.Unmarshal(data, &e) != nil || e.Errors == nil {
			e.Errors, _ = json.Marshal(strings.TrimSpace(string(data)))
		}
		return &restError{status: resp.StatusCode, detail: e.Errors}
	}
	if out == nil || len(bytes.TrimSpace(data)) == 0 {
		return nil
	}
	if err := json.Unmarshal(data, out); err != nil {
		return fmt.Errorf("controller %s: %s %s: undecodable answer: %w", c.base, method, path, err)
	}
	return nil
}

func (c *restClient) probes() string { return "/api/blueprints/" + url.PathEscape(c.bp) + "/probes" }

// withController runs fn with a client of --controller and a deadline.
func (af *agentFlags) withController(ctx context.Context, fn func(context.Context, *restClient) error) error {
	ctx, cancel := context.WithTimeout(ctx, af.timeout)
	defer cancel()
	c, err := af.controllerClient(ctx)
	if err != nil {
		return err
	}
	return fn(ctx, c)
}

// fabricProbe is a probe as the controller's API answers it.
type fabricProbe map[string]any

// statusKeys are what the API adds to a stored document.
var statusKeys = []string{"state", "last_error", "anomaly_count", "generation", "devices", "device_states", "edge_only", "partial", "missing_devices"}

func (p fabricProbe) str(k string) string { s, _ := p[k].(string); return s }

func (p fabricProbe) lastError() string {
	if m, ok := p["last_error"].(map[string]any); ok {
		s, _ := m["message"].(string)
		return s
	}
	return ""
}

func (p fabricProbe) anomalies() int { n, _ := p["anomaly_count"].(float64); return int(n) }

// fabricView is a fabric probe as probectl prints it: the agent view's
// fields, the fabric's, and the document as stored.
type fabricView struct {
	ID             string          `json:"id"`
	Label          string          `json:"label"`
	Origin         string          `json:"origin"`
	State          string          `json:"state"`
	LastError      string          `json:"last_error,omitempty"`
	AnomalyCount   int             `json:"anomaly_count"`
	Disabled       bool            `json:"disabled,omitempty"`
	Devices        any             `json:"devices,omitempty"`
	DeviceStates   any             `json:"device_states,omitempty"`
	Partial        bool            `json:"partial,omitempty"`
	MissingDevices any             `json:"missing_devices,omitempty"`
	Document       json.RawMessage `json:"document,omitempty"`
}

func (p fabricProbe) view(withDoc bool) fabricView {
	v := fabricView{ID: p.str("id"), Label: p.str("label"), Origin: "controller", State: p.str("state"), LastError: p.lastError(),
		AnomalyCount: p.anomalies(), Devices: p["devices"], DeviceStates: p["device_states"], MissingDevices: p["missing_devices"]}
	v.Disabled, _ = p["disabled"].(bool)
	v.Partial, _ = p["partial"].(bool)
	if withDoc {
		doc := map[string]any{}
		for k, val := range p {
			doc[k] = val
		}
		for _, k := range statusKeys {
			delete(doc, k)
		}
		v.Document, _ = json.Marshal(doc)
	}
	return v
}

func fabricTable(w io.Writer, probes []fabricProbe) error {
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "ID\tLABEL\tSTATE\tDEVICES\tANOMALIES\tERROR")
	for _, p := range probes {
		state := p.str("state")
		if d, _ := p["disabled"].(bool); d {
			state += " (disabled)"
		}
		if partial, _ := p["partial"].(bool); partial {
			state += " (partial)"
		}
		devices, _ := p["devices"].([]any)
		fmt.Fprintf(tw, "%s\t%s\t%s\t%d\t%d\t%s\n", p.str("id"), p.str("label"), state, len(devices), p.anomalies(), oneLine(p.lastError()))
	}
	return tw.Flush()
}

// problemsOf returns the problems of a 422 answer.
func problemsOf(err error) ([]string, bool) {
	var re *restError
	if !errors.As(err, &re) || re.status != http.StatusUnprocessableEntity {
		return nil, false
	}
	var d struct {
		Problems []string `json:"problems"`
	}
	_ = json.Unmarshal(re.detail, &d)
	return d.Problems, true
}

// controllerApply makes the fabric's probe set exactly docs (PUT
// .../probes): validated and resolved first by the controller, any
// problem refuses the whole set.
func controllerApply(cmd *cobra.Command, af *agentFlags, docs []string, srcs []docSource, output string) error {
	raw := make([]json.RawMessage, len(docs))
	var bad []string
	for i, d := range docs {
		var v any
		if err := json.Unmarshal([]byte(d), &v); err != nil {
			bad = append(bad, fmt.Sprintf("%s: %v", srcs[i], probe.JSONError([]byte(d), err)))
			continue
		}
		raw[i] = json.RawMessage(d)
	}
	w := cmd.ErrOrStderr()
	if len(bad) > 0 {
		fmt.Fprintf(w, "invalid probes, nothing was applied (%d problem(s)):\n", len(bad))
		for _, b := range bad {
			fmt.Fprintf(w, "  %s\n", b)
		}
		return exitError{1}
	}
	return af.withController(cmd.Context(), func(ctx context.Context, c *restClient) error {
		var resp struct {
			Generation uint64 `json:"generation"`
			Results    []struct {
				ID     string `json:"id"`
				Action string `json:"action"`
			} `json:"results"`
		}
		err := c.call(ctx, "PUT", c.probes(), map[string]any{"probes": raw}, &resp)
		if problems, ok := problemsOf(err); ok {
			fmt.Fprintf(w, "invalid probes, nothing was applied (%d problem(s)):\n", len(problems))
			for _, p := range problems {
				fmt.Fprintf(w, "  %s\n", p)
			}
			return exitError{1}
		}
		if err != nil {
			return err
		}
		if output != "table" {
			return write(cmd.OutOrStdout(), output, resp)
		}
		tw := tabwriter.NewWriter(cmd.OutOrStdout(), 0, 4, 2, ' ', 0)
		fmt.Fprintln(tw, "ID\tACTION")
		for _, r := range resp.Results {
			fmt.Fprintf(tw, "%s\t%s\n", r.ID, r.Action)
		}
		if err := tw.Flush(); err != nil {
			return err
		}
		_, err = fmt.Fprintf(cmd.OutOrStdout(), "generation %d applied to the fabric\n", resp.Generation)
		return err
	})
}

func (c *restClient) list(ctx context.Context) ([]fabricProbe, error) {
	var list struct {
		Items []fabricProbe `json:"items"`
	}
	err := c.call(ctx, "GET", c.probes(), nil, &list)
	return list.Items, err
}

func controllerList(cmd *cobra.Command, af *agentFlags, output string) error {
	return af.withController(cmd.Context(), func(ctx context.Context, c *restClient) error {
		items, err := c.list(ctx)
		if err != nil {
			return err
		}
		if output == "table" {
			return fabricTable(cmd.OutOrStdout(), items)
		}
		out := struct {
			Generation uint64       `json:"generation"`
			Probes     []fabricView `json:"probes"`
		}{Probes: []fabricView{}}
		for _, p := range items {
			g, _ := p["generation"].(float64)
			out.Generation = uint64(g)
			out.Probes = append(out.Probes, p.view(false))
		}
		return write(cmd.OutOrStdout(), output, out)
	})
}

func controllerGet(cmd *cobra.Command, af *agentFlags, id, output string) error {
	return af.withController(cmd.Context(), func(ctx context.Context, c *restClient) error {
		var p fabricProbe
		if err := c.call(ctx, "GET", c.probes()+"/"+url.PathEscape(id), nil, &p); err != nil {
			return err
		}
		if output == "table" {
			return fabricTable(cmd.OutOrStdout(), []fabricProbe{p})
		}
		return write(cmd.OutOrStdout(), output, p.view(true))
	})
}

func controllerDelete(cmd *cobra.Command, af *agentFlags, id string) error {
	return af.withController(cmd.Context(), func(ctx context.Context, c *restClient) error {
		if err := c.call(ctx, "DELETE", c.probes()+"/"+url.PathEscape(id), nil, nil); err != nil {
			return err
		}
		_, err := fmt.Fprintf(cmd.OutOrStdout(), "probe %s deleted from the fabric\n", id)
		return err
	})
}

// controllerWatch polls the controller's probes (its API has no stream)
// every --poll and prints what changed: the status of every probe first,
// then each change of state, error or anomaly count, and removals, as
// watch does for an agent.
func controllerWatch(cmd *cobra.Command, af *agentFlags, output string, poll time.Duration) error {
	ctx, stop := signal.NotifyContext(cmd.Context(), syscall.SIGTERM, syscall.SIGINT)
	defer stop()
	c, err := af.controllerClient(ctx)
	if err != nil {
		return err
	}
	w := cmd.OutOrStdout()
	if output == "table" {
		fmt.Fprintf(w, eventFormat, "TIME", "ID", "STATE", "ANOMALIES", "LABEL / ERROR")
	}
	last := map[string]eventView{}
	t := time.NewTicker(poll)
	defer t.Stop()
	for {
		cctx, cancel := context.WithTimeout(ctx, af.timeout)
		items, err := c.list(cctx)
		cancel()
		if ctx.Err() != nil {
			return nil
		}
		if err != nil {
			return err
		}
		now := time.Now()
		seen := map[string]bool{}
		var events []eventView
		for _, p := range items {
			v := eventView{Time: now, ID: p.str("id"), Label: p.str("label"), State: p.str("state"), AnomalyCount: uint32(p.anomalies()), LastError: p.lastError()}
			seen[v.ID] = true
			if old, ok := last[v.ID]; !ok || old.State != v.State || old.LastError != v.LastError || old.AnomalyCount != v.AnomalyCount || old.Label != v.Label {
				events = append(events, v)
			}
			last[v.ID] = v
		}
		for _, id := range sortedKeysOf(last) {
			if !seen[id] {
				events = append(events, eventView{Time: now, ID: id, Label: last[id].Label, Removed: true})
				delete(last, id)
			}
		}
		for _, v := range events {
			if err := printEvent(w, output, v); err != nil {
				return err
			}
		}
		select {
		case <-ctx.Done():
			return nil
		case <-t.C:
		}
	}
}

func sortedKeysOf[V any](m map[string]V) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}

// newControllerCmd is probectl controller: commands about the controller
// itself (the probe commands reach it with --controller).
func newControllerCmd(af *agentFlags) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "controller",
		Short: "Ask probe-controller about the fabric (with --controller)",
	}
	var output *string
	agents := &cobra.Command{
		Use:   "agents",
		Short: "List the controller's agents: state, generation, last partial, counts",
		Long: `List every agent the controller pushes to: its session state (connecting,
streaming, down), the generation it applied, when its last partial arrived,
and the batches, updates, bytes, lost and dropped batches counted since the
controller started, with the last error of an agent that is down.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if err := checkOutput(*output); err != nil {
				return err
			}
			if af.controller == "" {
				return errors.New("--controller HOST:PORT is required (or $PROBECTL_CONTROLLER)")
			}
			return af.withController(cmd.Context(), func(ctx context.Context, c *restClient) error {
				var list struct {
					Generation uint64           `json:"generation"`
					Items      []map[string]any `json:"items"`
				}
				if err := c.call(ctx, "GET", "/api/blueprints/"+url.PathEscape(c.bp)+"/agents", nil, &list); err != nil {
					return err
				}
				if *output != "table" {
					return write(cmd.OutOrStdout(), *output, map[string]any{"generation": list.Generation, "agents": list.Items})
				}
				tw := tabwriter.NewWriter(cmd.OutOrStdout(), 0, 4, 2, ' ', 0)
				fmt.Fprintln(tw, "NAME\tADDRESS\tSTATE\tGENERATION\tLAST PARTIAL\tBATCHES\tUPDATES\tBYTES\tLOST\tDROPPED\tERROR")
				for _, a := range list.Items {
					str := func(k string) string { s, _ := a[k].(string); return s }
					num := func(k string) uint64 { n, _ := a[k].(float64); return uint64(n) }
					lastPartial := "never"
					if t, err := time.Parse(time.RFC3339Nano, str("last_batch")); err == nil && !t.IsZero() && t.Year() > 1 {
						lastPartial = t.Local().Format("2006-01-02T15:04:05.000")
					}
					fmt.Fprintf(tw, "%s\t%s\t%s\t%d\t%s\t%d\t%d\t%d\t%d\t%d\t%s\n", str("name"), str("address"), str("state"), num("generation"),
						lastPartial, num("batches"), num("updates"), num("bytes"), num("lost"), num("dropped"), oneLine(str("last_error")))
				}
				if err := tw.Flush(); err != nil {
					return err
				}
				_, err := fmt.Fprintf(cmd.OutOrStdout(), "fabric generation %d\n", list.Generation)
				return err
			})
		},
	}
	output = outputFlag(agents, "table")
	cmd.AddCommand(agents)
	return cmd
}
