package probe

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"slices"
	"strings"
)

// Dialect is the flavour of probe JSON a document is written in. Apstra's
// probe format changed twice in ways that change what a document means, not
// only how it is spelled; see DetectDialect for how a document's dialect is
// decided.
type Dialect string

// The three dialects.
//
//   - DialectSeed, AOS 3.0 and the IBA API documentation (the seed): inputs
//     name a stage, range_check's range is the expected region, anomalies
//     come from a separate anomaly processor, string properties are literals.
//   - Dialect3x, AOS 3.1 to 3.x: inputs still name a stage, but checkers
//     carry raise_anomaly, range and state_range mark the anomalous region
//     and string properties are expressions ("'up'"), as in 4.x. Apstra's
//     own templates switch their bounds at 3.1 ({"max": 0} becomes
//     {"min": 1} for "any error is anomalous").
//   - Dialect4x, AOS 4.x and later: inputs are {"stage", "column"} objects.
const (
	DialectSeed Dialect = "seed"
	Dialect3x   Dialect = "3.x"
	Dialect4x   Dialect = "4.x"
)

// Dialects lists the dialects, oldest first.
var Dialects = []Dialect{DialectSeed, Dialect3x, Dialect4x}

// dialectAliases maps the accepted spellings of the "dialect" field (and of
// the --dialect flag and the agent's dialect key) to a dialect.
var dialectAliases = map[string]Dialect{
	"seed": DialectSeed, "3.0": DialectSeed,
	"3.x": Dialect3x, "3.1": Dialect3x, "3.2": Dialect3x, "3.3": Dialect3x,
	"4.x": Dialect4x, "4": Dialect4x, "4.0": Dialect4x, "4.1": Dialect4x, "4.2": Dialect4x,
}

// ParseDialect reads a dialect name: "seed" (or "3.0"), "3.x" (or "3.1" to
// "3.3") or "4.x" (or "4.0" to "4.2").
func ParseDialect(s string) (Dialect, error) {
	if d, ok := dialectAliases[s]; ok {
		return d, nil
	}
	return "", fmt.Errorf("unknown dialect %q (known: seed or 3.0, 3.x or 3.1-3.3, 4.x)", s)
}

// AnomalousRanges tells whether range_check's range and time_in_state_check's
// state_range mark the anomalous region (3.1 on) rather than the expected one
// (3.0), and whether state_check's output is "true" when the value is the
// state (3.1 on) rather than when it is not.
func (d Dialect) AnomalousRanges() bool { return d != DialectSeed }

// StringExpressions tells whether string-valued checker properties (state,
// state_range keys, regexp) are Python expressions ("'up'") rather than
// literals.
func (d Dialect) StringExpressions() bool { return d != DialectSeed }

// ObjectInputs tells whether inputs are {"stage", "column"} objects.
func (d Dialect) ObjectInputs() bool { return d == Dialect4x }

// AnomalyForm4x tells whether anomalies are rendered in the 3.1+ form, with
// "anomalous" instead of the seed's "expected".
func (d Dialect) AnomalyForm4x() bool { return d != DialectSeed }

// Document is a probe document as a user or controller sends it.
type Document struct {
	ID          string
	Label       string
	Description string
	Tags        []string
	Disabled    bool
	// Dialect is the dialect in force: the "dialect" field when given,
	// otherwise detected from the evidence the document carries (input
	// syntax, raise_anomaly, the processors of each era), otherwise the
	// caller's default.
	Dialect Dialect
	// DialectExplicit tells whether the document named its dialect.
	DialectExplicit bool
	// DialectReason says in words why Dialect was chosen.
	DialectReason string
	Processors    []ProcessorDoc
	Stages        []StageDoc
	// Export lists the stages a device streams to its controller after each
	// evaluation (our extension, "export": the stages of an edge part that
	// cross the cut). Non-nil, even empty, marks a part a controller pushed:
	// the device also forwards its anomalies.
	Export []string
	// Resolved gives source processors their graph query's items on this
	// device (our extension, "resolved", written by a controller):
	// {"<processor>": {"keys": [extra keys], "items": [{"system_id",
	// "interface", "values": [...]}]}}.
	Resolved Resolution
	// Raw is the document as it was received.
	Raw json.RawMessage
}

// ProcessorDoc is one processor instance of a document.
type ProcessorDoc struct {
	Name       string
	Type       string
	Inputs     map[string]InputRef
	Outputs    map[string]string
	Properties map[string]any
	// Raw is the processor as it was received, for the processors API.
	Raw json.RawMessage
}

// InputRef names the stage (and, in the 4.x dialect, the column) an input reads.
type InputRef struct {
	Stage  string `json:"stage"`
	Column string `json:"column"`
	// Object is true when the reference was written as {"stage", "column"}.
	Object bool `json:"-"`
}

// StageDoc is the metadata a document attaches to a stage.
type StageDoc struct {
	Name        string
	Description string
	Tags        []string
	Units       Units
	// Type is the 4.x "type" field ("table"); informative only.
	Type string
}

// Units is a stage's units: one string for the value, or a map per column.
type Units struct {
	Value   string
	Columns map[string]string
}

// MarshalJSON renders units the way they were given.
func (u Units) MarshalJSON() ([]byte, error) {
	if u.Columns != nil {
		return json.Marshal(u.Columns)
	}
	return json.Marshal(u.Value)
}

// For returns the unit of one column.
func (u Units) For(column string) string {
	if u.Columns != nil {
		return u.Columns[column]
	}
	if column == "value" {
		return u.Value
	}
	return ""
}

// Options are the caller's choices for parsing and validating documents.
type Options struct {
	// DefaultDialect is the dialect of a document that neither names one nor
	// carries any evidence of one; empty means DialectSeed.
	DefaultDialect Dialect
	// Limits are the budgets documents are validated and run against;
	// zero fields take the defaults (DefaultLimits).
	Limits Limits
	// Memory is the budget the stage data of every instance of the plans
	// compiled with these options shares; nil gives each instance one of
	// its own, of Limits.StageMemory bytes.
	Memory *MemoryBudget
}

func (o Options) defaultDialect() Dialect {
	if o.DefaultDialect == "" {
		return DialectSeed
	}
	return o.DefaultDialect
}

// ParseDocument decodes a probe document with the default options.
func ParseDocument(data []byte) (*Document, Problems) { return ParseDocumentWith(data, Options{}) }

// ParseDocumentWith decodes a probe document. It reports every structural
// problem at once (wrong JSON types, missing label, conflicting dialect
// evidence) and accepts, ignoring them, the fields Apstra adds on export.
// The returned document is usable for further validation even when problems
// are reported.
func ParseDocumentWith(data []byte, opts Options) (*Document, Problems) {
	var probs Problems
	doc := &Document{Raw: append(json.RawMessage(nil), bytes.TrimSpace(data)...)}
	var top map[string]json.RawMessage
	if err := json.Unmarshal(data, &top); err != nil {
		var syn *json.SyntaxError
		if errors.As(err, &syn) {
			return doc, Problems{{Message: "not valid JSON: " + JSONError(data, err).Error()}}
		}
		return doc, Problems{{Message: "not a JSON object: " + JSONError(data, err).Error()}}
	}
	rep := reporter{list: &probs}
	str := func(field string, dst *string) {
		if raw, ok := top[field]; ok && !isNull(raw) {
			if err := json.Unmarshal(raw, dst); err != nil {
				rep.addf(field, "expected a string")
			}
		}
	}
	str("label", &doc.Label)
	rep.probe = doc.Label
	str("id", &doc.ID)
	if doc.Label == "" {
		rep.probe = doc.ID
	}
	str("description", &doc.Description)
	if raw, ok := top["label"]; !ok || isNull(raw) || doc.Label == "" {
		rep.addf("label", "required")
	}
	if raw, ok := top["tags"]; ok && !isNull(raw) {
		if err := json.Unmarshal(raw, &doc.Tags); err != nil {
			rep.addf("tags", "expected a list of strings")
		}
	}
	if raw, ok := top["disabled"]; ok && !isNull(raw) {
		if err := json.Unmarshal(raw, &doc.Disabled); err != nil {
			rep.addf("disabled", "expected a boolean")
		}
	}
	if raw, ok := top["export"]; ok && !isNull(raw) {
		if err := json.Unmarshal(raw, &doc.Export); err != nil {
			rep.addf("export", "expected a list of stage names")
		}
		if doc.Export == nil {
			doc.Export = []string{}
		}
	}
	if raw, ok := top["resolved"]; ok && !isNull(raw) {
		res, err := parseResolution(raw)
		if err != nil {
			rep.addf("resolved", "%v", err)
		}
		doc.Resolved = res
	}
	var dialect string
	str("dialect", &dialect)
	if dialect != "" {
		d, err := ParseDialect(dialect)
		if err != nil {
			rep.addf("dialect", "%v", err)
		} else {
			doc.Dialect, doc.DialectExplicit = d, true
			doc.DialectReason = fmt.Sprintf("the document's \"dialect\": %q", dialect)
		}
	}

	var procs []json.RawMessage
	if raw, ok := top["processors"]; ok && !isNull(raw) {
		if err := json.Unmarshal(raw, &procs); err != nil {
			rep.addf("processors", "expected a list of processor objects")
		}
	}
	var inline []StageDoc
	for i, raw := range procs {
		p, st := parseProcessor(raw, i, rep)
		doc.Processors = append(doc.Processors, p)
		inline = append(inline, st...)
	}
	if !doc.DialectExplicit {
		d, why, err := detectDialect(collectEvidence(doc.Processors), opts.defaultDialect())
		if err != nil {
			rep.addf("processors", "%v", err)
			d, why = opts.defaultDialect(), "conflicting evidence"
		}
		doc.Dialect, doc.DialectReason = d, why
	}

	var stages []json.RawMessage
	if raw, ok := top["stages"]; ok && !isNull(raw) {
		if err := json.Unmarshal(raw, &stages); err != nil {
			rep.addf("stages", "expected a list of stage objects")
		}
	}
	for i, raw := range stages {
		doc.Stages = append(doc.Stages, parseStageDoc(raw, i, "stages", rep))
	}
	doc.Stages = mergeInlineStages(doc.Stages, inline)
	return doc, probs
}

func isNull(raw json.RawMessage) bool { return string(bytes.TrimSpace(raw)) == "null" }

// parseProcessor decodes one processor and the stage metadata written
// inside it (the 2.3+ inline form, which names stages by their label).
func parseProcessor(raw json.RawMessage, i int, rep reporter) (ProcessorDoc, []StageDoc) {
	p := ProcessorDoc{Raw: raw}
	var m map[string]json.RawMessage
	if err := json.Unmarshal(raw, &m); err != nil {
		rep.addf(fmt.Sprintf("processors[%d]", i), "expected an object")
		return p, nil
	}
	_ = json.Unmarshal(m["name"], &p.Name)
	if p.Name == "" {
		rep.addf(fmt.Sprintf("processors[%d].name", i), "required, a non-empty string")
		p.Name = fmt.Sprintf("processors[%d]", i)
	}
	r := rep.forProcessor(p.Name)
	if err := json.Unmarshal(m["type"], &p.Type); err != nil || p.Type == "" {
		r.addf("type", "required, a non-empty string")
	}
	if raw, ok := m["inputs"]; ok && !isNull(raw) {
		var ins map[string]json.RawMessage
		if err := json.Unmarshal(raw, &ins); err != nil {
			r.addf("inputs", "expected an object mapping input names to stages")
		}
		p.Inputs = make(map[string]InputRef, len(ins))
		for port, v := range ins {
			ref, err := parseInputRef(v)
			if err != nil {
				r.addf("inputs."+port, "%v", err)
				continue
			}
			p.Inputs[port] = ref
		}
	}
	if raw, ok := m["outputs"]; ok && !isNull(raw) {
		if err := json.Unmarshal(raw, &p.Outputs); err != nil {
			r.addf("outputs", "expected an object mapping output names to stage names")
		}
	}
	p.Properties = map[string]any{}
	if raw, ok := m["properties"]; ok && !isNull(raw) {
		dec := json.NewDecoder(bytes.NewReader(raw))
		dec.UseNumber()
		if err := dec.Decode(&p.Properties); err != nil {
			r.addf("properties", "expected an object")
			p.Properties = map[string]any{}
		}
	}
	return p, parseInlineStages(m["stages"], &p, r)
}

// parseInlineStages reads a processor's own "stages" list. Since Apstra 2.3
// each entry names one of the processor's output stages by its label, as the
// top-level list does; the seed discourages the form but Apstra accepts it.
// The pre-2.3 form named the processor's internal output ("out") instead:
// that is refused with a hint, as Apstra 2.3 refused it.
func parseInlineStages(raw json.RawMessage, p *ProcessorDoc, r reporter) []StageDoc {
	if raw == nil || isNull(raw) {
		return nil
	}
	var list []json.RawMessage
	if err := json.Unmarshal(raw, &list); err != nil {
		r.addf("stages", "expected a list of stage objects")
		return nil
	}
	produced := map[string]bool{}
	for _, st := range p.Outputs {
		produced[st] = true
	}
	var out []StageDoc
	for i, item := range list {
		sd := parseStageDoc(item, i, "stages", r)
		if sd.Name == "" {
			continue
		}
		if !produced[sd.Name] {
			if _, port := p.Outputs[sd.Name]; port {
				r.addf(fmt.Sprintf("stages[%d].name", i), "%q is the processor's output name, the pre-2.3 form (no longer supported since Apstra 2.3); name the stage by its label, %q, or move the entry to the probe's top-level \"stages\" list", sd.Name, p.Outputs[sd.Name])
			} else {
				r.addf(fmt.Sprintf("stages[%d].name", i), "stage %q is not an output of this processor (outputs: %s)", sd.Name, outputList(p.Outputs))
			}
			continue
		}
		out = append(out, sd)
	}
	return out
}

func outputList(outs map[string]string) string {
	if len(outs) == 0 {
		return "none"
	}
	var s []string
	for _, port := range slices.Sorted(maps.Keys(outs)) {
		s = append(s, fmt.Sprintf("%s: %q", port, outs[port]))
	}
	return strings.Join(s, ", ")
}

// mergeInlineStages adds the metadata given inside processors to the
// top-level list. A stage described in both places keeps the top-level
// entry's fields and takes from the inline entry only what it leaves empty.
func mergeInlineStages(top, inline []StageDoc) []StageDoc {
	for _, in := range inline {
		i := slices.IndexFunc(top, func(sd StageDoc) bool { return sd.Name == in.Name })
		if i < 0 {
			top = append(top, in)
			continue
		}
		t := &top[i]
		if t.Description == "" {
			t.Description = in.Description
		}
		if t.Tags == nil {
			t.Tags = in.Tags
		}
		if t.Units.Value == "" && t.Units.Columns == nil {
			t.Units = in.Units
		}
		if t.Type == "" {
			t.Type = in.Type
		}
	}
	return top
}

func parseInputRef(raw json.RawMessage) (InputRef, error) {
	var s string
	if err := json.Unmarshal(raw, &s); err == nil {
		if s == "" {
			return InputRef{}, fmt.Errorf("empty stage name")
		}
		return InputRef{Stage: s, Column: "value"}, nil
	}
	var obj map[string]json.RawMessage
	if err := json.Unmarshal(raw, &obj); err != nil {
		return InputRef{}, fmt.Errorf("expected a stage name or a {\"stage\": ..., \"column\": ...} object")
	}
	ref := InputRef{Object: true}
	for k, v := range obj {
		switch k {
		case "stage":
			if err := json.Unmarshal(v, &ref.Stage); err != nil {
				return ref, fmt.Errorf("stage: expected a string")
			}
		case "column":
			if err := json.Unmarshal(v, &ref.Column); err != nil {
				return ref, fmt.Errorf("column: expected a string")
			}
		default:
			return ref, fmt.Errorf("unknown field %q in input reference (known: stage, column)", k)
		}
	}
	if ref.Stage == "" {
		return ref, fmt.Errorf("stage: required")
	}
	if ref.Column == "" {
		ref.Column = "value"
	}
	return ref, nil
}

func parseStageDoc(raw json.RawMessage, i int, list string, rep reporter) StageDoc {
	var s StageDoc
	var m map[string]json.RawMessage
	field := fmt.Sprintf("%s[%d]", list, i)
	if err := json.Unmarshal(raw, &m); err != nil {
		rep.addf(field, "expected an object")
		return s
	}
	if err := json.Unmarshal(m["name"], &s.Name); err != nil || s.Name == "" {
		rep.addf(field+".name", "required, a non-empty string")
	} else {
		field = fmt.Sprintf("%s[%q]", list, s.Name)
	}
	if v, ok := m["description"]; ok && !isNull(v) && json.Unmarshal(v, &s.Description) != nil {
		rep.addf(field+".description", "expected a string")
	}
	if v, ok := m["tags"]; ok && !isNull(v) && json.Unmarshal(v, &s.Tags) != nil {
		rep.addf(field+".tags", "expected a list of strings")
	}
	if v, ok := m["type"]; ok && !isNull(v) && json.Unmarshal(v, &s.Type) != nil {
		rep.addf(field+".type", "expected a string")
	}
	if v, ok := m["units"]; ok && !isNull(v) {
		if json.Unmarshal(v, &s.Units.Value) != nil {
			if json.Unmarshal(v, &s.Units.Columns) != nil {
				rep.addf(field+".units", "expected a string or an object mapping columns to units")
			}
		}
	}
	return s
}
