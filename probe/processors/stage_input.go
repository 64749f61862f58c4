package processors

import (
	"strconv"

	"github.com/probe-agent/probe-agent/probe"
)

// stageInputKinds maps the "kind" of a declared column to a value kind.
var stageInputKinds = map[string]probe.Kind{"number": probe.Number, "discrete_state": probe.DiscreteState, "text": probe.Text}

func init() {
	types := make([]any, len(probe.AllStageTypes))
	for i, t := range probe.AllStageTypes {
		types[i] = t.String()
	}
	probe.Register(&probe.Spec{
		Name:  "stage_input",
		Label: "Stage Input",
		Description: `Stage Input Processor.

Source processor whose items come from outside the probe: stage updates from
other devices, as the central part of a split probe receives the partial
states and items that cross the edge/central cut, or from any other caller
with stage data. The output is an ordinary stage of stage_type keyed by keys,
with extra columns after "value" as listed in columns; each device's latest
update is applied at the next tick, devices in name order. An update the
device already sent (the same tick number) is refused, so a partial state is
never counted twice. source says where the data comes from; the engine does
not interpret it.`,
		Outputs: map[string]probe.Port{"out": {Required: true, Types: probe.AllStageTypes}},
		Schema: probe.Merge(streamingProps(), map[string]*probe.Schema{
			"source": probe.Prop("string").Def("").
				Desc("Where the stage's data comes from (for people and tools; not interpreted)."),
			"stage_type": probe.Prop("string").Def("ns").OneOf(types...).
				Desc("Type of the output stage."),
			"keys": probe.Prop("array").Def([]any{}).Of(probe.Prop("string")).
				Desc("Item keys of a set stage (ignored for a single-item stage)."),
			"columns": probe.Prop("array").Def([]any{}).Of(probe.Object(map[string]*probe.Schema{
				"name": probe.Prop("string").Desc("Column name."),
				"kind": probe.Prop("string").Def("number").OneOf("number", "discrete_state", "text").Desc("Value kind."),
			})).Desc("Value columns after \"value\"."),
			"possible_values": probe.Prop("array").Def([]any{}).Of(probe.Prop("string")).
				Desc("States of a discrete-state stage (default: true and false)."),
			"state_codes": probe.Prop("object").Desc("Number behind each state of a discrete-state stage, for range checks on states."),
			"max_samples": probe.Prop("integer").Def(0).Min(0).
				Desc("Samples kept per item of a time-series stage (0: the engine's bound)."),
		}),
		New: newStageInput,
	})
	probe.RegisterPlacement("stage_input", probe.PlaceWhole)
}

type stageInput struct {
	feed *probe.Feed
}

func newStageInput(b *probe.Build) (probe.Processor, error) {
	var cfg struct {
		StageType string   `json:"stage_type"`
		Keys      []string `json:"keys"`
		Columns   []struct {
			Name string `json:"name"`
			Kind string `json:"kind"`
		} `json:"columns"`
		MaxSamples     int                `json:"max_samples"`
		PossibleValues []string           `json:"possible_values"`
		StateCodes     map[string]float64 `json:"state_codes"`
	}
	if err := b.Decode(&cfg); err != nil {
		return nil, err
	}
	t, err := probe.ParseStageType(cfg.StageType)
	if err != nil {
		b.Errorf("properties.stage_type", "%v", err)
		return nil, nil
	}
	if !t.Set {
		cfg.Keys = nil // a single-item stage has no keys
	}
	var extra []probe.Column
	seen := map[string]bool{"value": true}
	for i, c := range cfg.Columns {
		if c.Name == "" || seen[c.Name] {
			b.Errorf("properties.columns["+strconv.Itoa(i)+"].name", "column names must be non-empty and distinct (and not \"value\")")
			return nil, nil
		}
		seen[c.Name] = true
		kind := c.Kind
		if kind == "" {
			kind = "number"
		}
		extra = append(extra, probe.Column{Name: c.Name, Kind: stageInputKinds[kind]})
	}
	out := b.Output("out", t, cfg.Keys, extra...)
	if out == nil {
		return nil, nil
	}
	out.MaxSamples = cfg.MaxSamples
	if t.Kind == probe.DiscreteState {
		if len(cfg.PossibleValues) > 0 {
			out.PossibleValues = cfg.PossibleValues
		}
		out.StateCodes = cfg.StateCodes
	}
	return &stageInput{feed: b.Feed(out)}, nil
}

func (p *stageInput) Eval(*probe.Tick) error {
	p.feed.Apply()
	return nil
}
