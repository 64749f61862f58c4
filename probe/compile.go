package probe

import (
	"crypto/sha1"
	"encoding/hex"
	"fmt"
	"maps"
	"slices"
	"sort"
	"strings"
)

// Plan is a validated probe: processors in topological order with resolved
// properties. It is immutable; NewInstance turns it into running state.
type Plan struct {
	Doc *Document
	// ID is the document's id, or one derived from its content when it has
	// none, so that simulations are reproducible.
	ID       string
	Warnings []string
	procs    []*planProc
	// resolution gives source processors their graph query's items (Resolve).
	resolution Resolution
	// opts are the options the plan was compiled with: limits its budgets
	// (defaults filled in), memory the budget its instances share (nil:
	// one each).
	opts   Options
	limits Limits
	memory *MemoryBudget
}

type planProc struct {
	doc   *ProcessorDoc
	spec  *Spec
	props map[string]any
	// invalid is set when the processor's own properties or ports have
	// problems; it is then not built, and its consumers are skipped quietly.
	invalid bool
}

// Label is the probe's label.
func (p *Plan) Label() string { return p.Doc.Label }

// Processors returns the processor documents in evaluation order.
func (p *Plan) Processors() []*ProcessorDoc {
	out := make([]*ProcessorDoc, len(p.procs))
	for i, pp := range p.procs {
		out[i] = pp.doc
	}
	return out
}

// CentralOnly lists the processors whose type can only run centrally.
func (p *Plan) CentralOnly() []string {
	var out []string
	for _, pp := range p.procs {
		if pp.spec.CentralOnly {
			out = append(out, pp.doc.Name)
		}
	}
	return out
}

// CompileJSON parses and validates a probe document with the default options.
func CompileJSON(data []byte) (*Plan, Problems) { return CompileJSONWith(data, Options{}) }

// CompileJSONWith parses and validates a probe document.
func CompileJSONWith(data []byte, opts Options) (*Plan, Problems) {
	doc, probs := ParseDocumentWith(data, opts)
	plan, more := CompileWith(doc, opts)
	probs = append(probs, more...)
	if len(probs) > 0 {
		return nil, probs
	}
	return plan, nil
}

// Compile validates a parsed document with the default options.
func Compile(doc *Document) (*Plan, Problems) { return CompileWith(doc, Options{}) }

// CompileWith validates a parsed document: processor types, properties
// against each schema, ports, stage references, cycles, stage types
// through the DAG, stage metadata and the budgets of opts.Limits. It
// reports every problem it finds.
func CompileWith(doc *Document, opts Options) (*Plan, Problems) {
	var probs Problems
	probeName := doc.Label
	if probeName == "" {
		probeName = doc.ID
	}
	rep := reporter{probe: probeName, list: &probs}
	plan := &Plan{Doc: doc, ID: doc.ID, resolution: doc.Resolved, opts: opts, limits: opts.Limits.WithDefaults(), memory: opts.Memory}
	checkProcessorBudget(doc, plan.limits, rep)
	if plan.ID == "" {
		sum := sha1.Sum(doc.Raw)
		plan.ID = hex.EncodeToString(sum[:8])
	}

	byName := map[string]*planProc{}
	var procs []*planProc
	for i := range doc.Processors {
		pd := &doc.Processors[i]
		r := rep.forProcessor(pd.Name)
		if _, dup := byName[pd.Name]; dup {
			r.addf("name", "another processor has the same name")
			continue
		}
		spec, ok := Lookup(pd.Type)
		if !ok {
			if pd.Type != "" {
				r.addf("type", "unknown processor type %q%s (probectl processors lists the catalog)", pd.Type, suggest(pd.Type, catalogNames()))
			}
			continue
		}
		pp := &planProc{doc: pd, spec: spec, props: cloneJSON(pd.Properties).(map[string]any)}
		before := len(probs)
		spec.Schema.Validate("", pp.props, func(field, msg string) {
			r.addf("properties."+field, "%s", msg)
		})
		checkPorts(pd, spec, r)
		pp.invalid = len(probs) > before
		byName[pd.Name] = pp
		procs = append(procs, pp)
	}

	// Outputs of processors that failed above still count as produced, so
	// one unknown type does not cascade into errors on every consumer.
	producer := map[string]*planProc{}
	for i := range doc.Processors {
		pd := &doc.Processors[i]
		pp := byName[pd.Name]
		if pp == nil || pp.doc != pd {
			pp = &planProc{doc: pd}
		}
		for _, port := range slices.Sorted(maps.Keys(pd.Outputs)) {
			st := pd.Outputs[port]
			if other, dup := producer[st]; dup {
				rep.forProcessor(pd.Name).addf("outputs."+port, "stage %q is already produced by processor %q", st, other.doc.Name)
				continue
			}
			producer[st] = pp
		}
	}
	for _, pp := range procs {
		for _, port := range slices.Sorted(maps.Keys(pp.doc.Inputs)) {
			in := pp.doc.Inputs[port]
			if _, ok := producer[in.Stage]; !ok {
				rep.forProcessor(pp.doc.Name).addf("inputs."+port, "stage %q is not produced by any processor%s", in.Stage, suggest(in.Stage, slices.Sorted(maps.Keys(producer))))
			}
		}
	}
	plan.procs = topoSort(procs, producer, rep)

	for i, name := range doc.Export {
		if _, ok := producer[name]; !ok {
			rep.addf(fmt.Sprintf("export[%d]", i), "stage %q, which no processor produces%s", name, suggest(name, slices.Sorted(maps.Keys(producer))))
		}
	}
	for name := range doc.Resolved {
		if _, ok := byName[name]; !ok {
			rep.addf("resolved", "items for processor %q, which the probe does not have", name)
		}
	}
	for i, sd := range doc.Stages {
		if _, ok := producer[sd.Name]; !ok && sd.Name != "" {
			rep.addf(fmt.Sprintf("stages[%d].name", i), "metadata for stage %q, which no processor produces%s", sd.Name, suggest(sd.Name, slices.Sorted(maps.Keys(producer))))
		}
	}
	if len(probs) > 0 {
		// Type inference still runs so that type errors are reported
		// together with structural ones.
		instantiate(plan, rep, nil)
		return plan, probs
	}
	inst := instantiate(plan, rep, nil)
	if inst != nil {
		plan.Warnings = inst.warnings
		checkMemoryBudget(plan, inst, rep)
	}
	return plan, probs
}

func checkPorts(pd *ProcessorDoc, spec *Spec, r reporter) {
	_, variadic := spec.Inputs["*"]
	for _, port := range slices.Sorted(maps.Keys(pd.Inputs)) {
		if _, ok := spec.Inputs[port]; !ok && !variadic {
			r.addf("inputs."+port, "%s has no input %q (inputs: %s)", spec.Name, port, portList(spec.Inputs))
		}
	}
	for _, port := range slices.Sorted(maps.Keys(spec.Inputs)) {
		if port == "*" {
			if spec.Inputs[port].Required && len(pd.Inputs) == 0 {
				r.addf("inputs", "%s needs at least one input", spec.Name)
			}
			continue
		}
		if _, ok := pd.Inputs[port]; !ok && spec.Inputs[port].Required {
			r.addf("inputs."+port, "required input missing")
		}
	}
	for _, port := range slices.Sorted(maps.Keys(pd.Outputs)) {
		if _, ok := spec.Outputs[port]; !ok {
			r.addf("outputs."+port, "%s has no output %q (outputs: %s)", spec.Name, port, portList(spec.Outputs))
		} else if pd.Outputs[port] == "" {
			r.addf("outputs."+port, "empty stage name")
		}
	}
	for _, port := range slices.Sorted(maps.Keys(spec.Outputs)) {
		if _, ok := pd.Outputs[port]; !ok && spec.Outputs[port].Required {
			r.addf("outputs."+port, "required output missing")
		}
	}
}

func portList(m map[string]Port) string {
	if len(m) == 0 {
		return "none"
	}
	return strings.Join(slices.Sorted(maps.Keys(m)), ", ")
}

// topoSort orders processors so that producers come before consumers and
// reports each cycle it finds.
func topoSort(procs []*planProc, producer map[string]*planProc, rep reporter) []*planProc {
	indeg := map[*planProc]int{}
	users := map[*planProc][]*planProc{}
	for _, pp := range procs {
		indeg[pp] = 0
	}
	for _, pp := range procs {
		for _, port := range slices.Sorted(maps.Keys(pp.doc.Inputs)) {
			up, ok := producer[pp.doc.Inputs[port].Stage]
			if _, known := indeg[up]; ok && known {
				indeg[pp]++
				users[up] = append(users[up], pp)
			}
		}
	}
	var order, ready []*planProc
	for _, pp := range procs {
		if indeg[pp] == 0 {
			ready = append(ready, pp)
		}
	}
	for len(ready) > 0 {
		pp := ready[0]
		ready = ready[1:]
		order = append(order, pp)
		for _, u := range users[pp] {
			if indeg[u]--; indeg[u] == 0 {
				ready = append(ready, u)
			}
		}
	}
	if len(order) < len(procs) {
		var stuck []string
		for _, pp := range procs {
			if indeg[pp] > 0 {
				stuck = append(stuck, pp.doc.Name)
			}
		}
		sort.Strings(stuck)
		rep.forProcessor(stuck[0]).addf("inputs", "cycle among processors %s", strings.Join(quoteAll(stuck), ", "))
	}
	return order
}

func quoteAll(ss []string) []string {
	out := make([]string, len(ss))
	for i, s := range ss {
		out[i] = fmt.Sprintf("%q", s)
	}
	return out
}

// suggest offers the closest known name, for typos in stage references.
func suggest(name string, known []string) string {
	best, bestD := "", 4
	for _, k := range known {
		if d := editDistance(strings.ToLower(name), strings.ToLower(k)); d < bestD {
			best, bestD = k, d
		}
	}
	if best == "" {
		return ""
	}
	return fmt.Sprintf(" (did you mean %q?)", best)
}

// EditDistance is the Levenshtein distance between a and b, in bytes: what
// the did-you-mean hints of validation and of probectl measure.
func EditDistance(a, b string) int { return editDistance(a, b) }

func editDistance(a, b string) int {
	prev := make([]int, len(b)+1)
	cur := make([]int, len(b)+1)
	for j := range prev {
		prev[j] = j
	}
	for i := 1; i <= len(a); i++ {
		cur[0] = i
		for j := 1; j <= len(b); j++ {
			cost := 1
			if a[i-1] == b[j-1] {
				cost = 0
			}
			cur[j] = min(prev[j]+1, cur[j-1]+1, prev[j-1]+cost)
		}
		prev, cur = cur, prev
	}
	return prev[len(b)]
}

// catalogNames lists the registered processor types and aliases.
func catalogNames() []string {
	var out []string
	for _, s := range Catalog() {
		out = append(out, s.Name)
		out = append(out, s.Aliases...)
	}
	return out
}
