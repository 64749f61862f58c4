package expr

import (
	"fmt"
	"strconv"
	"strings"
	"unicode/utf8"
)

type tokKind int

const (
	tkEOF tokKind = iota
	tkName
	tkInt
	tkFloat
	tkString
	tkOp
)

type token struct {
	kind tokKind
	pos  int    // byte offset in the source
	text string // operator or name; decoded value for strings
	ival int64
	fval float64
}

func (t token) String() string {
	switch t.kind {
	case tkEOF:
		return "end of expression"
	case tkName:
		return fmt.Sprintf("name %q", t.text)
	case tkInt, tkFloat:
		return "number"
	case tkString:
		return "string"
	}
	return fmt.Sprintf("%q", t.text)
}

// operators, longest first so that "//" wins over "/".
var operators = []string{
	"**", "//", "==", "!=", "<=", ">=", ":=", "<<", ">>", "->",
	"+", "-", "*", "/", "%", "<", ">", "(", ")", "[", "]", "{", "}",
	",", ".", ":", "=", ";", "@", "&", "|", "^", "~",
}

// lex splits src into tokens.
func lex(src string) ([]token, error) {
	var toks []token
	i := 0
	for i < len(src) {
		c := src[i]
		switch {
		case c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\f':
			i++
			continue
		case c == '#':
			return nil, &SyntaxError{Src: src, Pos: i, Msg: "comments are not allowed"}
		case c == '\'' || c == '"':
			s, n, err := lexString(src, i, false)
			if err != nil {
				return nil, err
			}
			toks = append(toks, token{kind: tkString, pos: i, text: s})
			i += n
			continue
		case (c == 'r' || c == 'R') && i+1 < len(src) && (src[i+1] == '\'' || src[i+1] == '"'):
			s, n, err := lexString(src, i+1, true)
			if err != nil {
				return nil, err
			}
			toks = append(toks, token{kind: tkString, pos: i, text: s})
			i += 1 + n
			continue
		case isDigit(c) || (c == '.' && i+1 < len(src) && isDigit(src[i+1])):
			t, n, err := lexNumber(src, i)
			if err != nil {
				return nil, err
			}
			toks = append(toks, t)
			i += n
			continue
		case isNameStart(c):
			j := i
			for j < len(src) && (isNameStart(src[j]) || isDigit(src[j])) {
				j++
			}
			if j < len(src) && (src[j] == '\'' || src[j] == '"') {
				return nil, &SyntaxError{Src: src, Pos: i, Msg: fmt.Sprintf("string prefix %q is not supported", src[i:j])}
			}
			toks = append(toks, token{kind: tkName, pos: i, text: src[i:j]})
			i = j
			continue
		}
		matched := false
		for _, op := range operators {
			if strings.HasPrefix(src[i:], op) {
				toks = append(toks, token{kind: tkOp, pos: i, text: op})
				i += len(op)
				matched = true
				break
			}
		}
		if !matched {
			r, _ := utf8.DecodeRuneInString(src[i:])
			return nil, &SyntaxError{Src: src, Pos: i, Msg: fmt.Sprintf("unexpected character %q", r)}
		}
	}
	toks = append(toks, token{kind: tkEOF, pos: len(src)})
	return toks, nil
}

func isDigit(c byte) bool     { return c >= '0' && c <= '9' }
func isNameStart(c byte) bool { return c == '_' || c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' }

// lexNumber reads a decimal int or float literal at src[i:].
func lexNumber(src string, i int) (token, int, error) {
	j := i
	isFloat := false
	for j < len(src) && (isDigit(src[j]) || src[j] == '_') {
		j++
	}
	if j < len(src) && src[j] == '.' {
		isFloat = true
		j++
		for j < len(src) && (isDigit(src[j]) || src[j] == '_') {
			j++
		}
	}
	if j < len(src) && (src[j] == 'e' || src[j] == 'E') {
		k := j + 1
		if k < len(src) && (src[k] == '+' || src[k] == '-') {
			k++
		}
		if k < len(src) && isDigit(src[k]) {
			isFloat = true
			for k < len(src) && isDigit(src[k]) {
				k++
			}
			j = k
		}
	}
	if j < len(src) && (isNameStart(src[j]) || isDigit(src[j])) {
		return token{}, 0, &SyntaxError{Src: src, Pos: i, Msg: fmt.Sprintf("invalid number %q", src[i:j+1])}
	}
	lit := src[i:j]
	clean := strings.ReplaceAll(lit, "_", "")
	if strings.HasPrefix(lit, "_") || strings.HasSuffix(lit, "_") || strings.Contains(lit, "__") {
		return token{}, 0, &SyntaxError{Src: src, Pos: i, Msg: fmt.Sprintf("invalid number %q", lit)}
	}
	if isFloat {
		f, err := strconv.ParseFloat(clean, 64)
		if err != nil {
			return token{}, 0, &SyntaxError{Src: src, Pos: i, Msg: fmt.Sprintf("invalid number %q", lit)}
		}
		return token{kind: tkFloat, pos: i, text: lit, fval: f}, j - i, nil
	}
	if len(clean) > 1 && clean[0] == '0' && strings.Trim(clean, "0") != "" {
		return token{}, 0, &SyntaxError{Src: src, Pos: i, Msg: fmt.Sprintf("leading zeros in %q are not allowed", lit)}
	}
	n, err := strconv.ParseInt(clean, 10, 64)
	if err != nil {
		return token{}, 0, &SyntaxError{Src: src, Pos: i, Msg: fmt.Sprintf("integer %q is out of range (64-bit)", lit)}
	}
	return token{kind: tkInt, pos: i, text: lit, ival: n}, j - i, nil
}

// lexString reads a quoted literal whose opening quote is at src[i]. It
// returns the decoded value and the length consumed. Escapes follow Python:
// unknown escapes keep their backslash ('\.' is backslash-dot).
func lexString(src string, i int, raw bool) (string, int, error) {
	q := src[i]
	if strings.HasPrefix(src[i:], string([]byte{q, q, q})) {
		return "", 0, &SyntaxError{Src: src, Pos: i, Msg: "triple-quoted strings are not supported"}
	}
	var b strings.Builder
	j := i + 1
	for {
		if j >= len(src) || src[j] == '\n' {
			return "", 0, &SyntaxError{Src: src, Pos: i, Msg: "unterminated string literal"}
		}
		c := src[j]
		if c == q {
			return b.String(), j + 1 - i, nil
		}
		if c != '\\' {
			b.WriteByte(c)
			j++
			continue
		}
		if j+1 >= len(src) {
			return "", 0, &SyntaxError{Src: src, Pos: i, Msg: "unterminated string literal"}
		}
		e := src[j+1]
		if raw {
			// A raw string keeps the backslash, but \' still does not end it.
			b.WriteByte('\\')
			b.WriteByte(e)
			j += 2
			continue
		}
		switch e {
		case '\\', '\'', '"':
			b.WriteByte(e)
		case 'n':
			b.WriteByte('\n')
		case 't':
			b.WriteByte('\t')
		case 'r':
			b.WriteByte('\r')
		case 'a':
			b.WriteByte('\a')
		case 'b':
			b.WriteByte('\b')
		case 'f':
			b.WriteByte('\f')
		case 'v':
			b.WriteByte('\v')
		case '0':
			b.WriteByte(0)
		case '\n':
		case 'x', 'u', 'U':
			n := map[byte]int{'x': 2, 'u': 4, 'U': 8}[e]
			if j+2+n > len(src) {
				return "", 0, &SyntaxError{Src: src, Pos: j, Msg: fmt.Sprintf("truncated \\%c escape", e)}
			}
			v, err := strconv.ParseUint(src[j+2:j+2+n], 16, 32)
			if err != nil || v > utf8.MaxRune {
				return "", 0, &SyntaxError{Src: src, Pos: j, Msg: fmt.Sprintf("invalid \\%c escape", e)}
			}
			b.WriteRune(rune(v))
			j += n
		default:
			b.WriteByte('\\')
			b.WriteByte(e)
		}
		j += 2
	}
}
