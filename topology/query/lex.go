package query

import (
	"fmt"
	"strings"
)

type tokKind int

const (
	tkEOF tokKind = iota
	tkIdent
	tkString
	tkInt
	tkFloat
	tkPunct
)

func (k tokKind) String() string {
	switch k {
	case tkEOF:
		return "end of query"
	case tkIdent:
		return "name"
	case tkString:
		return "string"
	case tkInt, tkFloat:
		return "number"
	}
	return "punctuation"
}

type token struct {
	kind tokKind
	text string // identifier, punctuation, or the decoded string
	pos  int    // byte offset
	end  int
}

func (t token) describe() string {
	switch t.kind {
	case tkEOF:
		return "end of query"
	case tkString:
		return fmt.Sprintf("string %q", t.text)
	}
	return fmt.Sprintf("%q", t.text)
}

// lex splits a query into tokens. Strings are Python literals in single or
// double quotes with backslash escapes; numbers are decimal, optionally
// negative.
func lex(src string) ([]token, error) {
	var toks []token
	i := 0
	for i < len(src) {
		c := src[i]
		switch {
		case c == ' ' || c == '\t' || c == '\n' || c == '\r':
			i++
		case isIdentStart(c):
			j := i + 1
			for j < len(src) && isIdentPart(src[j]) {
				j++
			}
			toks = append(toks, token{kind: tkIdent, text: src[i:j], pos: i, end: j})
			i = j
		case c == '\'' || c == '"':
			s, j, err := lexString(src, i)
			if err != nil {
				return nil, err
			}
			toks = append(toks, token{kind: tkString, text: s, pos: i, end: j})
			i = j
		case isDigit(c) || (c == '-' && i+1 < len(src) && isDigit(src[i+1])):
			j := i + 1
			float := false
			for j < len(src) && (isDigit(src[j]) || src[j] == '.' || src[j] == '_') {
				if src[j] == '.' {
					float = true
				}
				j++
			}
			k := tkInt
			if float {
				k = tkFloat
			}
			toks = append(toks, token{kind: k, text: src[i:j], pos: i, end: j})
			i = j
		case strings.IndexByte("()[],=.:", c) >= 0:
			toks = append(toks, token{kind: tkPunct, text: string(c), pos: i, end: i + 1})
			i++
		default:
			// Anything else may only occur inside a lambda body, which the
			// parser takes as raw text; record it as punctuation.
			j := i + 1
			for j < len(src) && !isASCII(src[j]) {
				j++
			}
			toks = append(toks, token{kind: tkPunct, text: src[i:j], pos: i, end: j})
			i = j
		}
	}
	toks = append(toks, token{kind: tkEOF, pos: len(src), end: len(src)})
	return toks, nil
}

func isASCII(c byte) bool        { return c < 0x80 }
func isDigit(c byte) bool        { return c >= '0' && c <= '9' }
func isIdentStart(c byte) bool   { return c == '_' || (c|0x20 >= 'a' && c|0x20 <= 'z') }
func isIdentPart(c byte) bool    { return isIdentStart(c) || isDigit(c) }
func unterminated(pos int) error { return &SyntaxError{Pos: pos, Msg: "unterminated string"} }

func lexString(src string, i int) (string, int, error) {
	q := src[i]
	var b strings.Builder
	j := i + 1
	for j < len(src) {
		c := src[j]
		switch {
		case c == q:
			return b.String(), j + 1, nil
		case c == '\n':
			return "", 0, unterminated(i)
		case c == '\\' && j+1 < len(src):
			j++
			switch e := src[j]; e {
			case 'n':
				b.WriteByte('\n')
			case 't':
				b.WriteByte('\t')
			case '\\', '\'', '"':
				b.WriteByte(e)
			default:
				b.WriteByte('\\')
				b.WriteByte(e)
			}
			j++
		default:
			b.WriteByte(c)
			j++
		}
	}
	return "", 0, unterminated(i)
}
