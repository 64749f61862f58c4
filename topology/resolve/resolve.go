// Package resolve turns a probe's source processors into concrete items by
// running their graph queries on a topology: what an Apstra controller does
// before a probe runs, and what a device on its own cannot do.
//
// For each source processor (a processor type with no inputs and a
// graph_query property), every query row is evaluated with the
// processor's expression properties ("system_id": "sys.system_id",
// "interface": "intf.if_name", and the extra item keys such as "group" or
// "description") by the safe expression evaluator, filtered by
// query_tag_filter, and recorded as one item per (system_id, interface);
// duplicates merge, as Apstra merges them. The result is a
// probe.Resolution, which probe.Plan.Resolve hands to the source
// processors, so each device's items are exactly the ones the query
// selects on it.
package resolve

import (
	"fmt"
	"maps"
	"slices"
	"sort"
	"strings"

	"github.com/probe-agent/probe-agent/probe"
	"github.com/probe-agent/probe-agent/probe/expr"
	"github.com/probe-agent/probe-agent/topology"
	"github.com/probe-agent/probe-agent/topology/query"
)

// Naming chooses which name of an interface an item carries.
type Naming int

const (
	// NOSNames are the names the device's own telemetry reports (gNMI,
	// SR Linux ethernet-1/1, cEOS Ethernet1): the interface's if_name.
	NOSNames Naming = iota
	// NodeNames are the Linux names inside the node (e1-1, eth1), what
	// netlink inside a containerlab node reports.
	NodeNames
)

// Options are the caller's choices.
type Options struct {
	Naming Naming
}

// Report says what resolution found, per source processor.
type Report struct {
	Processors []ProcessorReport `json:"processors"`
}

// ProcessorReport is one source processor's resolution.
type ProcessorReport struct {
	Name    string `json:"name"`
	Type    string `json:"type"`
	Queries int    `json:"queries"`
	Rows    int    `json:"rows"`
	Items   int    `json:"items"`
	Devices int    `json:"devices"`
	// Skipped counts rows whose system_id or interface evaluated to None
	// or whose query_tag_filter failed.
	Skipped  int      `json:"skipped,omitempty"`
	Warnings []string `json:"warnings,omitempty"`
}

// source is a source processor's compiled properties.
type source struct {
	queries   []*query.Query
	systemID  *expr.Expr
	iface     *expr.Expr // nil for per-system sources
	extraKeys []string
	extra     []*expr.Expr
	tags      *tagFilter
}

// Resolve resolves every source processor of doc that has a graph query.
// Errors (a query or an expression that does not parse, an expression
// that fails on a row) name the probe, the processor and the property.
func Resolve(g *topology.Graph, doc *probe.Document, opts Options) (probe.Resolution, *Report, error) {
	res := probe.Resolution{}
	rep := &Report{}
	for i := range doc.Processors {
		pd := &doc.Processors[i]
		where := fmt.Sprintf("probe %q: processor %q", doc.Label, pd.Name)
		src, err := compile(pd)
		if err != nil {
			return nil, nil, fmt.Errorf("%s: %w", where, err)
		}
		if src == nil {
			continue
		}
		items, pr, err := src.run(g, opts)
		if err != nil {
			return nil, nil, fmt.Errorf("%s: %w", where, err)
		}
		pr.Name, pr.Type = pd.Name, pd.Type
		res[pd.Name] = items
		rep.Processors = append(rep.Processors, pr)
	}
	return res, rep, nil
}

// IsSource tells whether a processor type takes its items from a graph
// query: it has no inputs and a graph_query property.
func IsSource(typ string) (*probe.Spec, bool) {
	spec, ok := probe.Lookup(typ)
	if !ok || len(spec.Inputs) > 0 || spec.Schema == nil {
		return nil, false
	}
	_, hasQuery := spec.Schema.Properties["graph_query"]
	return spec, hasQuery
}

func compile(pd *probe.ProcessorDoc) (*source, error) {
	spec, ok := IsSource(pd.Type)
	if !ok {
		return nil, nil
	}
	qsrc, err := graphQueries(pd.Properties["graph_query"])
	if err != nil || len(qsrc) == 0 {
		return nil, err
	}
	s := &source{}
	for i, text := range qsrc {
		q, err := query.Parse(text)
		if err != nil {
			field := "graph_query"
			if len(qsrc) > 1 {
				field = fmt.Sprintf("graph_query[%d]", i)
			}
			return nil, fmt.Errorf("%s: %w", field, err)
		}
		s.queries = append(s.queries, q)
	}
	prop := func(name string) (*expr.Expr, error) {
		v, ok := pd.Properties[name]
		if !ok {
			def, _ := spec.Schema.Properties[name].Default.(string)
			v = def
		}
		text, ok := v.(string)
		if !ok {
			return nil, fmt.Errorf("%s: expected a string expression, found %T", name, v)
		}
		e, err := expr.Parse(text)
		if err != nil {
			return nil, fmt.Errorf("%s: %w", name, err)
		}
		return e, nil
	}
	if s.systemID, err = prop("system_id"); err != nil {
		return nil, err
	}
	if _, ok := spec.Schema.Properties["interface"]; ok {
		if s.iface, err = prop("interface"); err != nil {
			return nil, err
		}
	}
	for _, k := range slices.Sorted(maps.Keys(pd.Properties)) {
		if _, known := spec.Schema.Properties[k]; known {
			continue
		}
		e, err := prop(k)
		if err != nil {
			return nil, err
		}
		s.extraKeys = append(s.extraKeys, k)
		s.extra = append(s.extra, e)
	}
	if s.tags, err = parseTagFilter(pd.Properties["query_tag_filter"]); err != nil {
		return nil, fmt.Errorf("query_tag_filter: %w", err)
	}
	return s, nil
}

// graphQueries reads graph_query: a string or a list of strings; empty
// ones are left out.
func graphQueries(v any) ([]string, error) {
	switch x := v.(type) {
	case nil:
		return nil, nil
	case string:
		if strings.TrimSpace(x) == "" {
			return nil, nil
		}
		return []string{x}, nil
	case []any:
		var out []string
		for i, e := range x {
			s, ok := e.(string)
			if !ok {
				return nil, fmt.Errorf("graph_query[%d]: expected a string", i)
			}
			if strings.TrimSpace(s) != "" {
				out = append(out, s)
			}
		}
		return out, nil
	}
	return nil, fmt.Errorf("graph_query: expected a string or a list of strings")
}

func (s *source) run(g *topology.Graph, opts Options) (*probe.SourceItems, ProcessorReport, error) {
	items := probe.NewSourceItems(s.extraKeys)
	pr := ProcessorReport{Queries: len(s.queries)}
	devices := map[string]bool{}
	values := make([]string, len(s.extra))
	for _, q := range s.queries {
		res, err := q.Match(g)
		if err != nil {
			return nil, pr, err
		}
		pr.Warnings = append(pr.Warnings, res.Warnings...)
		pr.Rows += res.Len()
		for i := 0; i < res.Len(); i++ {
			if s.tags != nil && !s.tags.keep(res, i) {
				pr.Skipped++
				continue
			}
			env := res.Env(i)
			sys, err := evalKey(s.systemID, env, "system_id")
			if err != nil {
				return nil, pr, err
			}
			var ifName string
			if s.iface != nil {
				v, err := evalKey(s.iface, env, "interface")
				if err != nil {
					return nil, pr, err
				}
				ifName = v
				if opts.Naming == NodeNames {
					ifName = nodeName(res, i, ifName)
				}
			}
			if sys == "" || (s.iface != nil && ifName == "") {
				pr.Skipped++
				continue
			}
			vals := values[:0]
			for j, e := range s.extra {
				v, err := evalKey(e, env, s.extraKeys[j])
				if err != nil {
					return nil, pr, err
				}
				vals = append(vals, v)
			}
			if _, dup := items.Lookup(sys, ifName); dup {
				continue
			}
			items.Add(sys, ifName, slices.Clone(vals))
			devices[sys] = true
		}
	}
	pr.Items, pr.Devices = items.Len(), len(devices)
	return items, pr, nil
}

// evalKey evaluates an item key expression: None is "" (the row has no
// value), anything else its str().
func evalKey(e *expr.Expr, env expr.Env, field string) (string, error) {
	v, err := e.Eval(env)
	if err != nil {
		return "", fmt.Errorf("%s: %w", field, err)
	}
	if v == nil {
		return "", nil
	}
	return expr.Str(v), nil
}

// nodeName maps a NOS interface name to the name inside the node, through
// the row's interface node that has it.
func nodeName(res *query.Result, i int, name string) string {
	for _, n := range res.Row(i) {
		if n != nil && n.Type == topology.TypeInterface && n.String("if_name") == name {
			if alt := n.String("node_if_name"); alt != "" {
				return alt
			}
		}
	}
	return name
}

// tagFilter is query_tag_filter: {"filter": {"<var>": {"is_in": [tags]}},
// "operation": "and"|"or"}, tested on the tags of the nodes the variables
// bind.
type tagFilter struct {
	or    bool
	conds []tagCond
}

type tagCond struct {
	name string
	op   string
	tags []string
}

func parseTagFilter(v any) (*tagFilter, error) {
	m, ok := v.(map[string]any)
	if v == nil || (ok && len(m) == 0) {
		return nil, nil
	}
	if !ok {
		return nil, fmt.Errorf("expected an object {\"filter\": ..., \"operation\": ...}")
	}
	f := &tagFilter{}
	switch op, _ := m["operation"].(string); op {
	case "", "and":
	case "or":
		f.or = true
	default:
		return nil, fmt.Errorf("operation: %q is neither \"and\" nor \"or\"", op)
	}
	filter, _ := m["filter"].(map[string]any)
	for _, name := range slices.Sorted(maps.Keys(filter)) {
		ops, ok := filter[name].(map[string]any)
		if !ok {
			return nil, fmt.Errorf("filter.%s: expected an object such as {\"is_in\": [\"tag\"]}", name)
		}
		for _, op := range slices.Sorted(maps.Keys(ops)) {
			if op != "is_in" && op != "not_in" && op != "has_all" {
				return nil, fmt.Errorf("filter.%s: unknown operator %q (known: is_in, not_in, has_all)", name, op)
			}
			list, _ := ops[op].([]any)
			c := tagCond{name: name, op: op}
			for _, t := range list {
				s, ok := t.(string)
				if !ok {
					return nil, fmt.Errorf("filter.%s.%s: expected a list of tag strings", name, op)
				}
				c.tags = append(c.tags, s)
			}
			f.conds = append(f.conds, c)
		}
	}
	if len(f.conds) == 0 {
		return nil, nil
	}
	return f, nil
}

func (f *tagFilter) keep(res *query.Result, i int) bool {
	for _, c := range f.conds {
		ok := c.holds(res.Get(i, c.name))
		if f.or && ok {
			return true
		}
		if !f.or && !ok {
			return false
		}
	}
	return !f.or
}

func (c tagCond) holds(n *topology.Node) bool {
	var tags []string
	if n != nil {
		if list, ok := n.Get("tags").([]any); ok {
			for _, t := range list {
				if s, ok := t.(string); ok {
					tags = append(tags, s)
				}
			}
		}
	}
	switch c.op {
	case "is_in":
		for _, t := range c.tags {
			if slices.Contains(tags, t) {
				return true
			}
		}
		return false
	case "not_in":
		for _, t := range c.tags {
			if slices.Contains(tags, t) {
				return false
			}
		}
		return true
	}
	for _, t := range c.tags { // has_all
		if !slices.Contains(tags, t) {
			return false
		}
	}
	return true
}

// ByDevice lists the interfaces of each device in a source's items, sorted.
func ByDevice(items *probe.SourceItems) map[string][]string {
	out := map[string][]string{}
	items.Each(func(sys, iface string, _ []string) {
		out[sys] = append(out[sys], iface)
	})
	for _, l := range out {
		sort.Strings(l)
	}
	return out
}
