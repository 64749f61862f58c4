package aosout

import (
	"bytes"
	"encoding/json"
	"fmt"
	"sort"
	"strconv"
	"time"

	"github.com/probe-agent/probe-agent/probe"
)

// AnomalyFromJSON reads back an anomaly as the anomalies API renders it
// (probe.Anomaly.MarshalJSON, either dialect's form), which is how agents
// report their anomaly transitions to the controller. What the rendering
// leaves out is taken from the transition itself: probeID, stage, itemID
// and raised. FirstSeen is the rendering's last_modified_at (the time of
// this transition). Seed-form properties are an object, so their keys come
// back sorted.
func AnomalyFromJSON(raw []byte, probeID, stage, itemID string, raised bool) (probe.Anomaly, error) {
	var doc struct {
		ID           string          `json:"id"`
		LastModified string          `json:"last_modified_at"`
		Actual       json.RawMessage `json:"actual"`
		Expected     json.RawMessage `json:"expected"`
		Anomalous    json.RawMessage `json:"anomalous"`
		Identity     struct {
			ProbeLabel string          `json:"probe_label"`
			Properties json.RawMessage `json:"properties"`
		} `json:"identity"`
	}
	a := probe.Anomaly{ProbeID: probeID, Stage: stage, ItemID: itemID, Raised: raised}
	if err := json.Unmarshal(raw, &doc); err != nil {
		return a, fmt.Errorf("anomaly of probe %s stage %s: %w", probeID, stage, err)
	}
	if doc.ID == "" {
		return a, fmt.Errorf("anomaly of probe %s stage %s: no id", probeID, stage)
	}
	a.ID, a.ProbeLabel = doc.ID, doc.Identity.ProbeLabel
	if doc.LastModified != "" {
		t, err := time.Parse(time.RFC3339Nano, doc.LastModified)
		if err != nil {
			return a, fmt.Errorf("anomaly %s: last_modified_at: %w", a.ID, err)
		}
		a.FirstSeen, a.LastModified = t, t
	}
	if err := readProperties(doc.Identity.Properties, &a); err != nil {
		return a, fmt.Errorf("anomaly %s: identity.properties: %w", a.ID, err)
	}
	ev := &a.Evidence
	four := doc.Anomalous != nil
	actual, err := readValue(doc.Actual, four)
	if err != nil {
		return a, fmt.Errorf("anomaly %s: actual: %w", a.ID, err)
	}
	ev.Kind, ev.Actual = actual.kind, probe.Value{Num: actual.num, Str: actual.str}
	bounds := doc.Expected
	if four {
		bounds = doc.Anomalous
	}
	var b map[string]json.RawMessage
	if len(bounds) > 0 && !bytes.Equal(bounds, []byte("null")) {
		if err := json.Unmarshal(bounds, &b); err != nil {
			return a, fmt.Errorf("anomaly %s: expected: %w", a.ID, err)
		}
	}
	num := func(k string) (float64, bool, error) {
		v, ok := b[k]
		if !ok {
			return 0, false, nil
		}
		f, err := strconv.ParseFloat(string(bytes.Trim(v, `"`)), 64)
		return f, true, err
	}
	for _, k := range []string{"value_min", "value_max"} {
		f, ok, err := num(k)
		if err != nil {
			return a, fmt.Errorf("anomaly %s: %s: %w", a.ID, k, err)
		}
		if k == "value_min" {
			ev.Min, ev.HasMin = f, ok
		} else {
			ev.Max, ev.HasMax = f, ok
		}
	}
	// The seed form names only the bound the actual value crossed.
	for _, k := range []string{"value_int", "value_float"} {
		f, ok, err := num(k)
		if err != nil {
			return a, fmt.Errorf("anomaly %s: expected.%s: %w", a.ID, k, err)
		}
		if ok && ev.Kind == probe.Number {
			if ev.Actual.Num > f {
				ev.Max, ev.HasMax = f, true
			} else {
				ev.Min, ev.HasMin = f, true
			}
		}
	}
	if v, ok := b["value"]; ok {
		var s string
		if json.Unmarshal(v, &s) == nil {
			ev.State = s
		}
	}
	return a, nil
}

type jsonValue struct {
	kind probe.Kind
	num  float64
	str  string
}

// readValue reads the seed's {value_int|value_float|value} or the 4.x
// {value}. A string is text (the rendering does not tell discrete states
// apart).
func readValue(raw json.RawMessage, four bool) (jsonValue, error) {
	var m map[string]json.RawMessage
	if err := json.Unmarshal(raw, &m); err != nil {
		return jsonValue{}, err
	}
	for _, k := range []string{"value_int", "value_float"} {
		if v, ok := m[k]; ok && !four {
			f, err := strconv.ParseFloat(string(bytes.Trim(v, `"`)), 64)
			return jsonValue{kind: probe.Number, num: f}, err
		}
	}
	v, ok := m["value"]
	if !ok {
		return jsonValue{}, fmt.Errorf("no value")
	}
	var s string
	if json.Unmarshal(v, &s) == nil {
		if four {
			// 4.x renders NaN and infinities as strings too.
			if f, err := strconv.ParseFloat(s, 64); err == nil {
				return jsonValue{kind: probe.Number, num: f}, nil
			}
		}
		return jsonValue{kind: probe.Text, str: s}, nil
	}
	f, err := strconv.ParseFloat(string(v), 64)
	if err != nil {
		return jsonValue{}, fmt.Errorf("value %s is neither a number nor a string", v)
	}
	return jsonValue{kind: probe.Number, num: f}, nil
}

// readProperties reads the seed's {"key": "value"} object (keys sorted) or
// the 4.x [{"key": ..., "value": ...}] list (in order).
func readProperties(raw json.RawMessage, a *probe.Anomaly) error {
	if len(raw) == 0 || bytes.Equal(raw, []byte("null")) {
		return nil
	}
	if bytes.HasPrefix(bytes.TrimSpace(raw), []byte("[")) {
		var list []struct{ Key, Value string }
		if err := json.Unmarshal(raw, &list); err != nil {
			return err
		}
		for _, p := range list {
			a.Keys, a.Props = append(a.Keys, p.Key), append(a.Props, p.Value)
		}
		return nil
	}
	var m map[string]string
	if err := json.Unmarshal(raw, &m); err != nil {
		return err
	}
	for k := range m {
		a.Keys = append(a.Keys, k)
	}
	sort.Strings(a.Keys)
	for _, k := range a.Keys {
		a.Props = append(a.Props, m[k])
	}
	return nil
}
