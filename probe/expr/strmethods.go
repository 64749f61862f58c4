package expr

import (
	"fmt"
	"slices"
	"strings"
	"unicode"
	"unicode/utf8"
)

// The string methods added for real probes (partition, find, title, ...);
// split, join, replace, strip, lower, upper, startswith and endswith are in
// eval.go.

// moreMethod evaluates the method name on s, reporting false when name is
// not one of the methods here.
func (ev *evaluator) moreMethod(name, s string, args []Value) (Value, bool, error) {
	str := func(i int) (string, error) {
		a, ok := args[i].(string)
		if !ok {
			return "", fmt.Errorf("%s(): argument %d must be a string, not %s", name, i+1, typeName(args[i]))
		}
		return a, nil
	}
	switch name {
	case "partition", "rpartition":
		sep, err := str(0)
		if err != nil {
			return nil, true, err
		}
		if sep == "" {
			return nil, true, fmt.Errorf("%s(): empty separator", name)
		}
		if err := ev.newList(3); err != nil {
			return nil, true, err
		}
		var k int
		if name == "partition" {
			k = strings.Index(s, sep)
		} else {
			k = strings.LastIndex(s, sep)
		}
		switch {
		case k >= 0:
			return Tuple{s[:k], sep, s[k+len(sep):]}, true, nil
		case name == "partition":
			return Tuple{s, "", ""}, true, nil
		}
		return Tuple{"", "", s}, true, nil
	case "find", "rfind", "count":
		sub, err := str(0)
		if err != nil {
			return nil, true, err
		}
		v, err := findIn(name, s, sub, args[1:])
		return v, true, err
	case "lstrip", "rstrip":
		if len(args) == 0 || args[0] == nil {
			if name == "lstrip" {
				return strings.TrimLeftFunc(s, unicode.IsSpace), true, nil
			}
			return strings.TrimRightFunc(s, unicode.IsSpace), true, nil
		}
		chars, err := str(0)
		if err != nil {
			return nil, true, err
		}
		if name == "lstrip" {
			return strings.TrimLeft(s, chars), true, nil
		}
		return strings.TrimRight(s, chars), true, nil
	case "rsplit":
		v, err := ev.splitStr(name, s, args, true)
		return v, true, err
	case "title", "capitalize":
		var b strings.Builder
		prevCased := false
		for i, r := range s {
			switch {
			case name == "capitalize" && i == 0:
				r = unicode.ToTitle(r)
			case name == "capitalize":
				r = unicode.ToLower(r)
			case unicode.IsUpper(r) || unicode.IsTitle(r):
				if prevCased {
					r = unicode.ToLower(r)
				}
				prevCased = true
			case unicode.IsLower(r):
				if !prevCased {
					r = unicode.ToTitle(r)
				}
				prevCased = true
			default:
				prevCased = false
			}
			b.WriteRune(r)
		}
		if err := ev.newString(b.Len()); err != nil {
			return nil, true, err
		}
		return b.String(), true, nil
	case "isdigit":
		if s == "" {
			return false, true, nil
		}
		for _, r := range s {
			if !unicode.IsDigit(r) {
				return false, true, nil
			}
		}
		return true, true, nil
	}
	return nil, false, nil
}

// findIn is find, rfind and count with Python's optional start and end,
// counted in characters like slice bounds.
func findIn(name, s, sub string, bounds []Value) (Value, error) {
	n := len(s)
	ascii := isASCII(s)
	if !ascii {
		n = utf8.RuneCountInString(s)
	}
	lo, hi := 0, n
	for i, b := range bounds {
		if b == nil {
			continue
		}
		k, ok := b.(int64)
		if v, isBool := b.(bool); isBool {
			k, ok = 0, true
			if v {
				k = 1
			}
		}
		if !ok {
			return nil, fmt.Errorf("%s(): slice indices must be integers or None, not %s", name, typeName(b))
		}
		if k < 0 {
			k = max(k+int64(n), 0)
		}
		// As in CPython only the end is clamped: a start past the end
		// finds nothing, not even the empty string.
		if i == 0 {
			lo = int(min(k, int64(n)+1))
		} else {
			hi = int(min(k, int64(n)))
		}
	}
	subLen := len(sub)
	if !ascii {
		subLen = utf8.RuneCountInString(sub)
	}
	if hi-lo < subLen {
		if name == "count" {
			return int64(0), nil
		}
		return int64(-1), nil
	}
	loB, hiB := lo, hi
	if !ascii {
		loB, hiB = byteOffset(s, lo), byteOffset(s, hi)
	}
	part := s[loB:hiB]
	switch name {
	case "count":
		if sub == "" {
			return int64(hi - lo + 1), nil
		}
		return int64(strings.Count(part, sub)), nil
	case "find":
		k := strings.Index(part, sub)
		if k < 0 {
			return int64(-1), nil
		}
		return int64(lo + utf8.RuneCountInString(part[:k])), nil
	}
	k := strings.LastIndex(part, sub)
	if k < 0 {
		return int64(-1), nil
	}
	return int64(lo + utf8.RuneCountInString(part[:k])), nil
}

// byteOffset returns the byte offset of the n-th character of s.
func byteOffset(s string, n int) int {
	for i := range s {
		if n == 0 {
			return i
		}
		n--
	}
	return len(s)
}

// splitStr is split and rsplit: by a separator, or by runs of whitespace
// when it is absent or None, at most maxsplit times from the left (split)
// or the right (rsplit).
func (ev *evaluator) splitStr(name, s string, args []Value, right bool) (Value, error) {
	maxSplit := -1
	if len(args) == 2 {
		m, ok := args[1].(int64)
		if !ok {
			return nil, fmt.Errorf("%s(): maxsplit must be an int, not %s", name, typeName(args[1]))
		}
		if m >= 0 && m < int64(MaxListLen) {
			maxSplit = int(m)
		}
	}
	var parts []string
	if len(args) == 0 || args[0] == nil {
		switch {
		case maxSplit < 0:
			parts = strings.Fields(s)
		case right:
			// Python keeps the rest of the string, trailing space removed.
			rest := s
			for {
				rest = strings.TrimRightFunc(rest, unicode.IsSpace)
				if rest == "" {
					break
				}
				k := strings.LastIndexFunc(rest, unicode.IsSpace)
				if len(parts) == maxSplit || k < 0 {
					parts = append(parts, rest)
					break
				}
				_, size := utf8.DecodeRuneInString(rest[k:])
				parts = append(parts, rest[k+size:])
				rest = rest[:k]
			}
			slices.Reverse(parts)
		default:
			parts = strings.Fields(s)
			if len(parts) > maxSplit+1 {
				// Python keeps the rest of the string, leading space removed.
				rest := s
				for range maxSplit {
					rest = strings.TrimLeftFunc(rest, unicode.IsSpace)
					if k := strings.IndexFunc(rest, unicode.IsSpace); k >= 0 {
						rest = rest[k:]
					}
				}
				parts = append(parts[:maxSplit], strings.TrimLeftFunc(rest, unicode.IsSpace))
			}
		}
	} else {
		sep, ok := args[0].(string)
		if !ok {
			return nil, fmt.Errorf("%s(): separator must be a string or None, not %s", name, typeName(args[0]))
		}
		if sep == "" {
			return nil, fmt.Errorf("%s(): empty separator", name)
		}
		switch {
		case maxSplit < 0:
			parts = strings.Split(s, sep)
		case right:
			rest := s
			for len(parts) < maxSplit {
				k := strings.LastIndex(rest, sep)
				if k < 0 {
					break
				}
				parts = append(parts, rest[k+len(sep):])
				rest = rest[:k]
			}
			parts = append(parts, rest)
			slices.Reverse(parts)
		default:
			parts = strings.SplitN(s, sep, maxSplit+1)
		}
	}
	if err := ev.newList(len(parts)); err != nil {
		return nil, err
	}
	out := make([]Value, len(parts))
	for i, p := range parts {
		out[i] = p
	}
	return out, nil
}
