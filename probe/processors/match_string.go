package processors

import (
	"errors"
	"regexp"

	"github.com/probe-agent/probe-agent/probe"
)

func init() {
	probe.Register(&probe.Spec{
		Name:  "match_string",
		Label: "Match String",
		Description: `Match String Processor.

Outputs "true" for each input item whose value matches regexp, "false"
otherwise; "true" means anomalous in both dialects. The match is a search, as
in Apstra: the pattern may match anywhere in the value, so anchor it with ^…$
for a whole-value match. Apstra uses PCRE; this engine uses Go's RE2 syntax,
which has the same character classes, alternation, groups, repetition, flags
((?i) etc.) and named groups, but no backreferences (\1), lookahead or
lookbehind ((?=…), (?!…), (?<=…), (?<!…)), atomic groups or possessive
quantifiers ((?>…), a*+), recursion, conditionals or \Z; a pattern using them
is rejected at validation. The pattern is compiled once. In the 4.x dialect
regexp is an expression evaluated by probe/expr: a constant string expression
("\"Loop-detected\"", "'^Down$'", r'\d+' with Python escapes) gives the
pattern; an expression that reads query_result needs the graph: it is
accepted, and evaluation reports an error until the controller resolves it. In the seed dialect regexp is the pattern as written. Input is
text or discrete state (T, TS, DS, DSS), or their time-series forms, whose
last value is tested; output is DS for a single item and DSS for a set. With
raise_anomaly every "true" item raises an anomaly carrying the value and the
pattern.`,
		Inputs:  map[string]probe.Port{"in": {Required: true, Types: stringValueTypes}},
		Outputs: map[string]probe.Port{"out": {Required: true, Types: []probe.StageType{probe.DS, probe.DSS}}},
		Schema: withRequired(probe.Merge(streamingProps(), graphQueryProps(), anomalyProps(), map[string]*probe.Schema{
			"regexp": probe.Prop("string").
				Desc("The pattern (RE2 syntax, search semantics); in the 4.x dialect an expression such as \"'^(Down|Init)$'\"."),
		}), "regexp"),
		New: newMatchString,
	})
}

type matchString struct {
	in       *probe.Input
	out      *probe.Stage
	re       *regexp.Regexp
	ev       probe.Evidence
	graphErr error
	// lastSeq is the tick last evaluated; after a missed tick (an earlier
	// processor failed) every item is matched again.
	lastSeq uint64
}

func newMatchString(b *probe.Build) (probe.Processor, error) {
	var cfg struct {
		Regexp string `json:"regexp"`
		Raise  bool   `json:"raise_anomaly"`
	}
	if err := b.Decode(&cfg); err != nil {
		return nil, err
	}
	in := b.Input("in")
	p := &matchString{in: in}
	s, ok := resolveStringExpr(b, "properties.regexp", cfg.Regexp)
	switch {
	case !ok:
	case s.GraphDependent:
		p.graphErr = errors.New("regexp depends on graph query results; resolved by the controller")
	default:
		re, err := regexp.Compile(s.Value)
		if err != nil {
			b.Errorf("properties.regexp", "%v (RE2 syntax: no backreferences, lookaround, atomic groups or possessive quantifiers)", err)
			break
		}
		p.re = re
	}
	if b.Failed() {
		return nil, nil
	}
	p.ev = probe.Evidence{Kind: in.Type.Kind, State: s.Value, Anomalous: true}
	p.out = b.Output("out", checkerType(in.Type), in.Stage.Keys)
	p.out.RaisesAnomalies = cfg.Raise
	return p, nil
}

func (p *matchString) Eval(t *probe.Tick) error {
	if p.graphErr != nil {
		return p.graphErr
	}
	all := p.lastSeq+1 != t.Seq
	p.lastSeq = t.Seq
	st := p.in.Stage
	p.out.Mirror(st)
	for i := 0; i < st.Len(); i++ {
		if !st.Valid(i) {
			p.out.Invalidate(i)
			continue
		}
		// An input item that did not change this tick still has the value
		// its output was computed from, unless the output item is new.
		if !all && !st.ChangedNow(i) && p.out.Valid(i) {
			continue
		}
		v := p.in.Str(i)
		ev := p.ev
		ev.Actual.Str = v
		p.out.SetCheck(i, p.re.MatchString(v), ev)
	}
	return nil
}
