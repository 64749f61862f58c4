package probe

import (
	"bytes"
	"encoding/json"
	"fmt"
	"maps"
	"slices"
)

// Dialect is the flavour of probe JSON a document is written in.
type Dialect string

// The two dialects. Seed: inputs name a stage, range_check's range is the
// expected region. 4.x: inputs are {"stage", "column"}, ranges are the
// anomalous region.
const (
	DialectSeed Dialect = "seed"
	Dialect4x   Dialect = "4.x"
)

// Document is a probe document as a user or controller sends it.
type Document struct {
	ID          string
	Label       string
	Description string
	Tags        []string
	Disabled    bool
	// Dialect is the dialect in force: the "dialect" field when given,
	// otherwise detected from the input syntax.
	Dialect Dialect
	// DialectExplicit tells whether the document named its dialect.
	DialectExplicit bool
	Processors      []ProcessorDoc
	Stages          []StageDoc
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

// ParseDocument decodes a probe document. It reports every structural
// problem at once (wrong JSON types, missing label, mixed dialects) and
// accepts, ignoring them, the fields Apstra adds on export. The returned
// document is usable for further validation even when problems are reported.
func ParseDocument(data []byte) (*Document, Problems) {
	var probs Problems
	doc := &Document{Raw: append(json.RawMessage(nil), bytes.TrimSpace(data)...)}
	var top map[string]json.RawMessage
	if err := json.Unmarshal(data, &top); err != nil {
		return doc, Problems{{Message: "not a JSON object: " + err.Error()}}
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
	var dialect string
	str("dialect", &dialect)
	switch Dialect(dialect) {
	case "":
	case DialectSeed, Dialect4x:
		doc.Dialect, doc.DialectExplicit = Dialect(dialect), true
	default:
		rep.addf("dialect", "must be %q or %q, got %q", DialectSeed, Dialect4x, dialect)
	}

	var procs []json.RawMessage
	if raw, ok := top["processors"]; ok && !isNull(raw) {
		if err := json.Unmarshal(raw, &procs); err != nil {
			rep.addf("processors", "expected a list of processor objects")
		}
	}
	sawString, sawObject := "", ""
	for i, raw := range procs {
		p := parseProcessor(raw, i, rep)
		for _, port := range slices.Sorted(maps.Keys(p.Inputs)) {
			in := p.Inputs[port]
			if in.Object && sawObject == "" {
				sawObject = fmt.Sprintf("processor %q input %q", p.Name, port)
			}
			if !in.Object && sawString == "" {
				sawString = fmt.Sprintf("processor %q input %q", p.Name, port)
			}
		}
		doc.Processors = append(doc.Processors, p)
	}
	if sawString != "" && sawObject != "" && !doc.DialectExplicit {
		rep.addf("processors", "mixed dialects: %s names a stage (seed dialect) but %s is a {\"stage\", \"column\"} object (4.x dialect); use one form, or set \"dialect\"", sawString, sawObject)
	}
	if !doc.DialectExplicit {
		doc.Dialect = DialectSeed
		if sawObject != "" {
			doc.Dialect = Dialect4x
		}
	}

	var stages []json.RawMessage
	if raw, ok := top["stages"]; ok && !isNull(raw) {
		if err := json.Unmarshal(raw, &stages); err != nil {
			rep.addf("stages", "expected a list of stage objects")
		}
	}
	for i, raw := range stages {
		doc.Stages = append(doc.Stages, parseStageDoc(raw, i, rep))
	}
	return doc, probs
}

func isNull(raw json.RawMessage) bool { return string(bytes.TrimSpace(raw)) == "null" }

func parseProcessor(raw json.RawMessage, i int, rep reporter) ProcessorDoc {
	p := ProcessorDoc{Raw: raw}
	var m map[string]json.RawMessage
	if err := json.Unmarshal(raw, &m); err != nil {
		rep.addf(fmt.Sprintf("processors[%d]", i), "expected an object")
		return p
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
	if _, ok := m["stages"]; ok {
		r.addf("stages", "stage definitions inside a processor are no longer supported (Apstra 2.3); move them to the probe's top-level \"stages\" list, named by stage name")
	}
	return p
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

func parseStageDoc(raw json.RawMessage, i int, rep reporter) StageDoc {
	var s StageDoc
	var m map[string]json.RawMessage
	field := fmt.Sprintf("stages[%d]", i)
	if err := json.Unmarshal(raw, &m); err != nil {
		rep.addf(field, "expected an object")
		return s
	}
	if err := json.Unmarshal(m["name"], &s.Name); err != nil || s.Name == "" {
		rep.addf(field+".name", "required, a non-empty string")
	} else {
		field = fmt.Sprintf("stages[%q]", s.Name)
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
