package probe

import (
	"encoding/json"
	"sort"
	"time"
)

// MarshalJSON renders the stage in the shape of the stage API
// (GET .../probes/{id}/stages/{name}): "type", "units", and either "value"
// for single-item stages or "properties" and "values" for sets; discrete
// states add "possible_values". Items without a value yet are left out.
// Extra columns appear beside "value"; time-series items add "samples".
func (s *Stage) MarshalJSON() ([]byte, error) {
	m := map[string]any{
		"type":  s.Type.String(),
		"units": s.units(),
	}
	if s.Meta.Description != "" {
		m["description"] = s.Meta.Description
	}
	if len(s.Meta.Tags) > 0 {
		m["tags"] = s.Meta.Tags
	}
	if s.Type.Kind == DiscreteState {
		m["possible_values"] = s.PossibleValues
	}
	if !s.Type.Set {
		if s.Len() == 1 && s.Valid(0) {
			for k, v := range s.itemJSON(0) {
				m[k] = v
			}
		} else {
			m["value"] = nil
		}
		return json.Marshal(m)
	}
	m["properties"] = append([]string{}, s.Keys...)
	idx := make([]int, 0, s.Len())
	for i := range s.Len() {
		if s.Valid(i) {
			idx = append(idx, i)
		}
	}
	sort.Slice(idx, func(a, b int) bool { return lessProps(s.Props(idx[a]), s.Props(idx[b])) })
	values := make([]map[string]any, 0, len(idx))
	for _, i := range idx {
		v := s.itemJSON(i)
		props := make(map[string]string, len(s.Keys))
		for k, name := range s.Keys {
			props[name] = s.Props(i)[k]
		}
		v["properties"] = props
		values = append(values, v)
	}
	m["values"] = values
	return json.Marshal(m)
}

func (s *Stage) units() any {
	if s.Meta.Units.Columns != nil {
		return s.Meta.Units.Columns
	}
	return s.Meta.Units.Value
}

func (s *Stage) itemJSON(i int) map[string]any {
	it := s.Item(i)
	v := map[string]any{"value": jsonValue(it.Value, s.Type.Kind)}
	for c := 1; c < len(s.Columns); c++ {
		v[s.Columns[c].Name] = jsonValue(s.ValueAt(i, c), s.Columns[c].Kind)
	}
	if s.Type.TimeSeries {
		samples := make([]map[string]any, 0, it.SampleCount())
		it.Samples(func(smp Sample) {
			samples = append(samples, map[string]any{
				"timestamp": smp.Time.UTC().Format(time.RFC3339Nano),
				"value":     jsonValue(smp.Value, s.Type.Kind),
			})
		})
		v["samples"] = samples
	}
	return v
}

func lessProps(a, b []string) bool {
	for i := range a {
		if i >= len(b) {
			return false
		}
		if a[i] != b[i] {
			return a[i] < b[i]
		}
	}
	return len(a) < len(b)
}
