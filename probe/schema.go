package probe

import (
	"encoding/json"
	"fmt"
	"maps"
	"math"
	"slices"
	"sort"
	"strings"
)

// Schema is the JSON schema of a processor's properties. It serialises to the
// form the introspection API serves and validates documents itself: the
// subset of JSON schema processors need (types, enums, defaults, minimum,
// nested objects and arrays) does not justify a general validator.
type Schema struct {
	Type                 []string           `json:"-"`
	Description          string             `json:"description,omitempty"`
	Title                string             `json:"title,omitempty"`
	Default              any                `json:"default,omitempty"`
	Enum                 []any              `json:"enum,omitempty"`
	Minimum              *float64           `json:"minimum,omitempty"`
	Items                *Schema            `json:"items,omitempty"`
	Properties           map[string]*Schema `json:"properties,omitempty"`
	Required             []string           `json:"required,omitempty"`
	AdditionalProperties *Schema            `json:"-"`
	// ClosedObject marks an object schema with additionalProperties: false.
	ClosedObject bool `json:"-"`
	// HasDefault distinguishes a nil or false default from no default.
	HasDefault bool `json:"-"`
}

// MarshalJSON renders the schema with "type" as a string or list and
// "additionalProperties" as false or a schema.
func (s *Schema) MarshalJSON() ([]byte, error) {
	type plain Schema
	m := map[string]any{}
	raw, err := json.Marshal((*plain)(s))
	if err != nil {
		return nil, err
	}
	if err := json.Unmarshal(raw, &m); err != nil {
		return nil, err
	}
	switch len(s.Type) {
	case 0:
	case 1:
		m["type"] = s.Type[0]
	default:
		m["type"] = s.Type
	}
	if s.HasDefault {
		m["default"] = s.Default
	}
	if s.AdditionalProperties != nil {
		m["additionalProperties"] = s.AdditionalProperties
	} else if s.ClosedObject {
		m["additionalProperties"] = false
	}
	return json.Marshal(m)
}

// Prop starts a property schema of the given JSON types ("integer",
// "number", "string", "boolean", "array", "object", "null").
func Prop(types ...string) *Schema { return &Schema{Type: types} }

// Desc sets the description.
func (s *Schema) Desc(d string) *Schema { s.Description = d; return s }

// Titled sets the title.
func (s *Schema) Titled(t string) *Schema { s.Title = t; return s }

// Def sets the default value.
func (s *Schema) Def(v any) *Schema { s.Default = v; s.HasDefault = true; return s }

// OneOf restricts the value to an enumeration.
func (s *Schema) OneOf(vals ...any) *Schema { s.Enum = vals; return s }

// Min sets an inclusive minimum for numbers.
func (s *Schema) Min(v float64) *Schema { s.Minimum = &v; return s }

// Of sets the item schema of an array.
func (s *Schema) Of(items *Schema) *Schema { s.Items = items; return s }

// Object builds a closed object schema (additionalProperties: false).
func Object(props map[string]*Schema) *Schema {
	return &Schema{Type: []string{"object"}, Properties: props, ClosedObject: true}
}

// Merge returns a closed object schema holding the properties of all parts;
// processors compose their schema from shared fragments this way.
func Merge(parts ...map[string]*Schema) *Schema {
	all := map[string]*Schema{}
	for _, p := range parts {
		for k, v := range p {
			all[k] = v
		}
	}
	return Object(all)
}

// Validate checks v against the schema, applies defaults to objects in
// place, and reports each problem with its field path.
func (s *Schema) Validate(path string, v any, report func(field, msg string)) any {
	if v == nil && s.HasDefault && path != "" {
		return s.Default
	}
	if !s.typeMatches(v) {
		report(path, fmt.Sprintf("expected %s, got %s", strings.Join(s.Type, " or "), jsonTypeName(v)))
		return v
	}
	if len(s.Enum) > 0 && !enumContains(s.Enum, v) {
		report(path, fmt.Sprintf("%s is not one of %s", compactJSON(v), compactJSON(s.Enum)))
	}
	if s.Minimum != nil {
		if f, ok := toFloat(v); ok && f < *s.Minimum {
			report(path, fmt.Sprintf("%v is below the minimum %v", f, *s.Minimum))
		}
	}
	switch x := v.(type) {
	case []any:
		if s.Items != nil {
			for i := range x {
				x[i] = s.Items.Validate(fmt.Sprintf("%s[%d]", path, i), x[i], report)
			}
		}
	case map[string]any:
		if s.Properties == nil && s.AdditionalProperties == nil && !s.ClosedObject {
			return v
		}
		keys := make([]string, 0, len(x))
		for k := range x {
			keys = append(keys, k)
		}
		sort.Strings(keys)
		for _, k := range keys {
			sub := s.Properties[k]
			if sub == nil {
				sub = s.AdditionalProperties
			}
			if sub == nil {
				report(join(path, k), fmt.Sprintf("unknown property (known: %s)", strings.Join(slices.Sorted(maps.Keys(s.Properties)), ", ")))
				continue
			}
			x[k] = sub.Validate(join(path, k), x[k], report)
		}
		for _, r := range s.Required {
			if _, ok := x[r]; !ok {
				report(join(path, r), "required property missing")
			}
		}
		for k, sub := range s.Properties {
			if _, ok := x[k]; !ok && sub.HasDefault {
				x[k] = cloneJSON(sub.Default)
			}
		}
	}
	return v
}

func join(path, k string) string {
	if path == "" {
		return k
	}
	return path + "." + k
}

func (s *Schema) typeMatches(v any) bool {
	if len(s.Type) == 0 {
		return true
	}
	for _, t := range s.Type {
		switch t {
		case "null":
			if v == nil {
				return true
			}
		case "boolean":
			if _, ok := v.(bool); ok {
				return true
			}
		case "string":
			if _, ok := v.(string); ok {
				return true
			}
		case "number":
			if _, ok := toFloat(v); ok {
				return true
			}
		case "integer":
			if f, ok := toFloat(v); ok && f == math.Trunc(f) {
				return true
			}
		case "array":
			if _, ok := v.([]any); ok {
				return true
			}
		case "object":
			if _, ok := v.(map[string]any); ok {
				return true
			}
		}
	}
	return false
}

func jsonTypeName(v any) string {
	switch x := v.(type) {
	case nil:
		return "null"
	case bool:
		return "boolean"
	case string:
		return fmt.Sprintf("string %q", x)
	case json.Number, float64, int:
		return fmt.Sprintf("number %v", x)
	case []any:
		return "array"
	case map[string]any:
		return "object"
	}
	return fmt.Sprintf("%T", v)
}

func toFloat(v any) (float64, bool) {
	switch x := v.(type) {
	case json.Number:
		f, err := x.Float64()
		return f, err == nil
	case float64:
		return x, true
	case int:
		return float64(x), true
	}
	return 0, false
}

func enumContains(enum []any, v any) bool {
	for _, e := range enum {
		if compactJSON(e) == compactJSON(v) {
			return true
		}
	}
	return false
}

func compactJSON(v any) string {
	b, err := json.Marshal(v)
	if err != nil {
		return fmt.Sprint(v)
	}
	return string(b)
}

func cloneJSON(v any) any {
	switch x := v.(type) {
	case []any:
		c := make([]any, len(x))
		for i := range x {
			c[i] = cloneJSON(x[i])
		}
		return c
	case []string:
		c := make([]any, len(x))
		for i := range x {
			c[i] = x[i]
		}
		return c
	case map[string]any:
		c := make(map[string]any, len(x))
		for k, e := range x {
			c[k] = cloneJSON(e)
		}
		return c
	}
	return v
}
