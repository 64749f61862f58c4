package gnmi

import (
	"errors"
	"fmt"
	"maps"
	"slices"
	"strings"

	"github.com/openconfig/gnmi/proto/gnmi"
)

// parseElementPath parses a path in the gNMI string notation
// ("/interfaces/interface[name=et-0/0/1]/state") into elements. It exists
// for the deprecated Path.Element form, whose strings are joined with "/"
// and parsed as one path, and it accepts and refuses exactly what ygot's
// StringToStructuredPath does, which the collector used before
// (FuzzElementPath compares the two):
//
//   - "/" separates elements, except inside [...] or after a backslash;
//     a leading "/" and a trailing one are dropped;
//   - an element is a name followed by [key=value] predicates; a
//     backslash escapes the next character in names, keys and values;
//   - a name or key with a space, an empty name, key or value, an
//     unterminated or stray bracket and text after the predicates are
//     errors.
//
// Like ygot it goes through the string by runes, so invalid UTF-8 becomes
// U+FFFD.
func parseElementPath(path string) ([]*gnmi.PathElem, error) {
	parts := splitElementPath(path)
	if len(parts) > 0 && parts[0] == "" {
		parts = parts[1:]
	}
	if len(parts) > 0 && path[len(path)-1] == '/' {
		parts = parts[:len(parts)-1]
	}
	elems := make([]*gnmi.PathElem, 0, len(parts))
	for _, p := range parts {
		e, err := parseElement(p)
		if err != nil {
			return nil, fmt.Errorf("error parsing path %s: %w", path, err)
		}
		elems = append(elems, e)
	}
	return elems, nil
}

// splitElementPath cuts path at the slashes that separate elements. A
// backslash outside brackets escapes the next character (and is dropped);
// inside brackets it is kept for parseElement, and a "]" still closes them.
func splitElementPath(path string) []string {
	var parts []string
	var b strings.Builder
	inKey, escaped := false, false
	var last rune
	for _, r := range path {
		last = r
		if !escaped {
			switch {
			case r == '[':
				inKey = true
			case r == ']':
				inKey = false
			case r == '\\' && !inKey:
				escaped = true
				continue
			case r == '/' && !inKey:
				parts = append(parts, b.String())
				b.Reset()
				continue
			}
		}
		b.WriteRune(r)
		escaped = false
	}
	// A path ending in "/" has an empty last element (removed again by
	// the caller), except the path "/" itself.
	if b.Len() != 0 || (len(path) != 1 && last == '/') {
		parts = append(parts, b.String())
	}
	return parts
}

// parseElement parses name[k1=v1][k2=v2].
func parseElement(s string) (*gnmi.PathElem, error) {
	var (
		name, key         string
		b                 strings.Builder
		inKey, inValue    bool
		escaped           bool
		keys              = map[string]string{}
		errStrayBracket   = errors.New("unescaped [ in a key")
		errNoNameForKey   = errors.New("key predicate without an element name")
		errUnopenedClosed = errors.New("unescaped ] outside a key")
	)
	for _, r := range s {
		if escaped {
			b.WriteRune(r)
			escaped = false
			continue
		}
		switch {
		case r == '[' && inKey && !inValue:
			return nil, fmt.Errorf("element %s: %w", name, errStrayBracket)
		case r == '[' && !inKey:
			inKey = true
			// Only the first predicate ends the name; text between
			// predicates ends up in the next key's name.
			if len(keys) == 0 {
				if b.Len() == 0 {
					return nil, errNoNameForKey
				}
				name = b.String()
				b.Reset()
			}
			continue
		case r == ']' && !inKey:
			return nil, fmt.Errorf("element %s: %w", b.String(), errUnopenedClosed)
		case r == ']':
			inKey, inValue = false, false
			if err := checkKey(name, key, b.String()); err != nil {
				return nil, err
			}
			keys[key] = b.String()
			b.Reset()
			key = ""
			continue
		case r == '\\':
			escaped = true
			continue
		case r == '=' && inKey && !inValue:
			key = b.String()
			b.Reset()
			inValue = true
			continue
		}
		b.WriteRune(r)
	}
	switch {
	case inKey:
		return nil, fmt.Errorf("unterminated key in element %s", s)
	case escaped:
		return nil, fmt.Errorf("trailing escape character in element %s", s)
	}
	if len(keys) == 0 {
		name = b.String()
	} else if b.Len() != 0 {
		return nil, fmt.Errorf("text after the keys of element %s: %q", name, b.String())
	}
	if strings.Contains(name, " ") {
		return nil, fmt.Errorf("space in element name %q", name)
	}
	return &gnmi.PathElem{Name: name, Key: keys}, nil
}

func checkKey(elem, key, value string) error {
	switch {
	case strings.Contains(key, " "):
		return fmt.Errorf("space in key name %q of element %s", key, elem)
	case elem == "":
		return fmt.Errorf("key %s=%s without an element name", key, value)
	case key == "":
		return fmt.Errorf("empty key name in element %s", elem)
	case value == "":
		return fmt.Errorf("empty value for key %s of element %s", key, elem)
	}
	return nil
}

// pathString formats elems for error messages, keys sorted.
func pathString(elems []*gnmi.PathElem) string {
	if len(elems) == 0 {
		return "/"
	}
	var b strings.Builder
	for _, e := range elems {
		b.WriteByte('/')
		b.WriteString(e.GetName())
		for _, k := range slices.Sorted(maps.Keys(e.GetKey())) {
			fmt.Fprintf(&b, "[%s=%s]", k, e.GetKey()[k])
		}
	}
	return b.String()
}
