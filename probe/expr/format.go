package expr

import (
	"fmt"
	"math"
	"strconv"
	"strings"
	"unicode/utf8"
)

// printf-style formatting: str % args, as Python's str.__mod__ does it.
// A tuple right operand supplies one argument per conversion; anything else
// (a list too) is one argument. A dict right operand also serves %(name)s.
// Errors are worded as Python words them.

// fmtState walks the arguments as CPython does: a non-tuple operand is one
// argument, consumed by the first conversion.
type fmtState struct {
	args   []Value
	argIdx int
	single bool  // the operand is not a tuple: args holds it alone
	dict   Value // the operand when it is a mapping (or a list, which Python treats as one), else nil
}

func (st *fmtState) next() (Value, error) {
	if st.argIdx >= len(st.args) {
		return nil, fmt.Errorf("not enough arguments for format string")
	}
	v := st.args[st.argIdx]
	st.argIdx++
	return v, nil
}

// fmtSpec is one conversion: %[(key)][flags][width][.precision]type.
type fmtSpec struct {
	minus, plus, space, alt, zero bool
	width, prec                   int // prec < 0: not given
	conv                          byte
}

func (ev *evaluator) format(f string, operand Value) (Value, error) {
	if err := ev.weigh(f); err != nil {
		return nil, err
	}
	st := &fmtState{}
	switch x := operand.(type) {
	case Tuple:
		st.args = x
	case map[string]Value, Object, []Value:
		st.args, st.single, st.dict = []Value{operand}, true, operand
	default:
		st.args, st.single = []Value{operand}, true
	}
	var b strings.Builder
	b.Grow(len(f) + 16)
	for i := 0; i < len(f); {
		k := strings.IndexByte(f[i:], '%')
		if k < 0 {
			b.WriteString(f[i:])
			break
		}
		b.WriteString(f[i : i+k])
		i += k + 1
		if i < len(f) && f[i] == '%' {
			b.WriteByte('%')
			i++
			continue
		}
		var err error
		if i, err = ev.formatOne(&b, f, i, st); err != nil {
			return nil, err
		}
		if b.Len() > MaxStringLen {
			return nil, fmt.Errorf("string of %d bytes exceeds the limit of %d: %w", b.Len(), MaxStringLen, errLimit)
		}
	}
	if st.argIdx < len(st.args) && st.dict == nil {
		return nil, fmt.Errorf("not all arguments converted during string formatting")
	}
	if err := ev.newString(b.Len()); err != nil {
		return nil, err
	}
	return b.String(), nil
}

// formatOne formats the conversion whose spec starts at f[i] (after the
// %) and returns the index after it.
func (ev *evaluator) formatOne(b *strings.Builder, f string, i int, st *fmtState) (int, error) {
	if err := ev.step(); err != nil {
		return 0, err
	}
	var arg Value
	haveArg := false
	if i < len(f) && f[i] == '(' {
		depth, j := 1, i+1
		for ; j < len(f) && depth > 0; j++ {
			switch f[j] {
			case '(':
				depth++
			case ')':
				depth--
			}
		}
		if depth > 0 {
			return 0, fmt.Errorf("incomplete format key")
		}
		key := f[i+1 : j-1]
		i = j
		switch d := st.dict.(type) {
		case nil:
			return 0, fmt.Errorf("format requires a mapping")
		case []Value:
			return 0, fmt.Errorf("list indices must be integers or slices, not str")
		default:
			v, ok := get(d, key)
			if !ok {
				return 0, fmt.Errorf("key %q not found", key)
			}
			var err error
			if arg, err = normalize(v); err != nil {
				return 0, err
			}
			haveArg = true
			// As in CPython, the looked-up value stands in for the
			// arguments: a later unkeyed conversion finds none left.
			st.args, st.argIdx = nil, 0
		}
	}
	sp := fmtSpec{prec: -1}
flags:
	for ; i < len(f); i++ {
		switch f[i] {
		case '-':
			sp.minus = true
		case '+':
			sp.plus = true
		case ' ':
			sp.space = true
		case '#':
			sp.alt = true
		case '0':
			sp.zero = true
		default:
			break flags
		}
	}
	num := func() (int, error) {
		n := 0
		for ; i < len(f) && isDigit(f[i]); i++ {
			n = n*10 + int(f[i]-'0')
			if n > MaxStringLen {
				return 0, fmt.Errorf("width or precision in %% format exceeds the limit of %d: %w", MaxStringLen, errLimit)
			}
		}
		return n, nil
	}
	var err error
	if i < len(f) && f[i] == '*' {
		return 0, fmt.Errorf("* width or precision in %% format is not supported; write the number in the format")
	}
	if sp.width, err = num(); err != nil {
		return 0, err
	}
	if i < len(f) && f[i] == '.' {
		i++
		if i < len(f) && f[i] == '*' {
			return 0, fmt.Errorf("* width or precision in %% format is not supported; write the number in the format")
		}
		if sp.prec, err = num(); err != nil {
			return 0, err
		}
	}
	for i < len(f) && (f[i] == 'h' || f[i] == 'l' || f[i] == 'L') {
		i++
	}
	if i >= len(f) {
		return 0, fmt.Errorf("incomplete format")
	}
	sp.conv = f[i]
	// CPython takes the argument before it looks at the conversion.
	if !haveArg {
		if arg, err = st.next(); err != nil {
			return 0, err
		}
	}
	switch sp.conv {
	case 's', 'r', 'a', 'd', 'i', 'u', 'x', 'X', 'o', 'e', 'E', 'f', 'F', 'g', 'G', 'c':
	default:
		r, _ := utf8.DecodeRuneInString(f[i:])
		shown := byte('?')
		if r > 31 && r < 128 {
			shown = byte(r)
		}
		return 0, fmt.Errorf("unsupported format character '%c' (0x%x) at index %d", shown, r, utf8.RuneCountInString(f[:i]))
	}
	i++
	// Padding and digits are built before the result is measured (and %g
	// trims what it formatted), so width and precision are paid for first.
	if err := ev.charge(max(sp.width, 0) + max(sp.prec, 0)); err != nil {
		return 0, err
	}
	return i, ev.formatArg(b, sp, arg)
}

func (ev *evaluator) formatArg(b *strings.Builder, sp fmtSpec, arg Value) error {
	switch sp.conv {
	case 's', 'r', 'a':
		s, isStr := arg.(string)
		if !isStr || sp.conv != 's' {
			var r strings.Builder
			if !writeRepr(&r, arg, MaxStringLen) {
				return fmt.Errorf("string of more than %d bytes exceeds the limit: %w", MaxStringLen, errLimit)
			}
			s = r.String()
		}
		if sp.conv == 'a' {
			s = asciiEscape(s)
		}
		if sp.prec >= 0 {
			s = firstRunes(s, sp.prec)
		}
		padText(b, s, sp)
		return nil
	case 'c':
		var s string
		switch x := arg.(type) {
		case string:
			if utf8.RuneCountInString(x) != 1 {
				return fmt.Errorf("%%c requires int or char")
			}
			s = x
		case bool, int64:
			n, _, _, _ := number(x)
			if n < 0 || n > utf8.MaxRune {
				return fmt.Errorf("%%c arg not in range(0x110000)")
			}
			s = string(rune(n))
		default:
			return fmt.Errorf("%%c requires int or char")
		}
		padText(b, s, sp)
		return nil
	case 'd', 'i', 'u':
		n, isInt, f, ok := numArg(arg)
		if !ok {
			return fmt.Errorf("%%%c format: a real number is required, not %s", sp.conv, typeName(arg))
		}
		if !isInt {
			v, err := floatToInt(f)
			if err != nil {
				return err
			}
			n = v
		}
		padNumber(b, n < 0, "", intDigits(n, 10, sp.prec), sp)
		return nil
	case 'x', 'X', 'o':
		n, isInt, _, ok := numArg(arg)
		if !ok || !isInt {
			return fmt.Errorf("%%%c format: an integer is required, not %s", sp.conv, typeName(arg))
		}
		base, prefix := 16, "0x"
		if sp.conv == 'o' {
			base, prefix = 8, "0o"
		}
		digits := intDigits(n, base, sp.prec)
		if sp.conv == 'X' {
			digits, prefix = strings.ToUpper(digits), "0X"
		}
		if !sp.alt {
			prefix = ""
		}
		padNumber(b, n < 0, prefix, digits, sp)
		return nil
	}
	// e E f F g G
	_, _, f, ok := numArg(arg)
	if !ok {
		return fmt.Errorf("must be real number, not %s", typeName(arg))
	}
	padNumber(b, math.Signbit(f) && !math.IsNaN(f), "", floatDigits(math.Abs(f), sp), sp)
	return nil
}

// numArg reads a number for a numeric conversion; bools are ints.
func numArg(v Value) (n int64, isInt bool, f float64, ok bool) {
	n, f, isInt, ok = number(v)
	return n, isInt, f, ok
}

// floatToInt truncates as int() does, with Python's errors for NaN and
// infinities.
func floatToInt(f float64) (int64, error) {
	switch {
	case math.IsNaN(f):
		return 0, fmt.Errorf("cannot convert float NaN to integer")
	case math.IsInf(f, 0):
		return 0, fmt.Errorf("cannot convert float infinity to integer")
	}
	t := math.Trunc(f)
	if t < math.MinInt64 || t >= math.MaxInt64 {
		return 0, fmt.Errorf("%v is out of the 64-bit integer range", f)
	}
	return int64(t), nil
}

// intDigits renders |n| in base, zero-padded to prec digits.
func intDigits(n int64, base, prec int) string {
	mag := uint64(n)
	if n < 0 {
		mag = -mag
	}
	s := strconv.FormatUint(mag, base)
	if prec > len(s) {
		s = strings.Repeat("0", prec-len(s)) + s
	}
	return s
}

// floatDigits renders a non-negative float for e E f F g G.
func floatDigits(f float64, sp fmtSpec) string {
	upper := sp.conv == 'E' || sp.conv == 'F' || sp.conv == 'G'
	var s string
	switch {
	case math.IsNaN(f):
		s = "nan"
	case math.IsInf(f, 0):
		s = "inf"
	default:
		prec := sp.prec
		if prec < 0 {
			prec = 6
		}
		switch sp.conv {
		case 'f', 'F':
			s = strconv.FormatFloat(f, 'f', prec, 64)
			if sp.alt && prec == 0 {
				s += "."
			}
		case 'e', 'E':
			s = strconv.FormatFloat(f, 'e', prec, 64)
			if sp.alt && prec == 0 {
				k := strings.IndexByte(s, 'e')
				s = s[:k] + "." + s[k:]
			}
		default: // g G: %e or %f by the exponent, then trailing zeros dropped
			if prec == 0 {
				prec = 1
			}
			s = strconv.FormatFloat(f, 'e', prec-1, 64)
			k := strings.IndexByte(s, 'e')
			exp, _ := strconv.Atoi(s[k+1:])
			mant, tail := s[:k], s[k:]
			if exp >= -4 && exp < prec {
				mant, tail = strconv.FormatFloat(f, 'f', prec-1-exp, 64), ""
			}
			if sp.alt {
				if !strings.Contains(mant, ".") {
					mant += "."
				}
			} else if strings.Contains(mant, ".") {
				mant = strings.TrimRight(strings.TrimRight(mant, "0"), ".")
			}
			s = mant + tail
		}
	}
	if upper {
		s = strings.ToUpper(s)
	}
	return s
}

// padNumber writes sign, prefix and digits padded to the width: spaces on
// the left, on the right with -, zeros after the sign and prefix with 0.
func padNumber(b *strings.Builder, neg bool, prefix, digits string, sp fmtSpec) {
	sign := ""
	switch {
	case neg:
		sign = "-"
	case sp.plus:
		sign = "+"
	case sp.space:
		sign = " "
	}
	pad := sp.width - len(sign) - len(prefix) - len(digits)
	switch {
	case pad <= 0:
		b.WriteString(sign + prefix + digits)
	case sp.minus:
		b.WriteString(sign + prefix + digits)
		b.WriteString(strings.Repeat(" ", pad))
	case sp.zero:
		b.WriteString(sign + prefix)
		b.WriteString(strings.Repeat("0", pad))
		b.WriteString(digits)
	default:
		b.WriteString(strings.Repeat(" ", pad))
		b.WriteString(sign + prefix + digits)
	}
}

// padText pads a string to the width in characters; the 0 flag does not
// apply to text.
func padText(b *strings.Builder, s string, sp fmtSpec) {
	pad := sp.width - utf8.RuneCountInString(s)
	if pad > 0 && !sp.minus {
		b.WriteString(strings.Repeat(" ", pad))
	}
	b.WriteString(s)
	if pad > 0 && sp.minus {
		b.WriteString(strings.Repeat(" ", pad))
	}
}

// firstRunes returns the first n characters of s.
func firstRunes(s string, n int) string {
	for i := range s {
		if n == 0 {
			return s[:i]
		}
		n--
	}
	return s
}

// asciiEscape escapes the non-ASCII characters of a repr, as ascii() does.
func asciiEscape(s string) string {
	if isASCII(s) {
		return s
	}
	var b strings.Builder
	for _, r := range s {
		switch {
		case r < utf8.RuneSelf:
			b.WriteRune(r)
		case r <= 0xff:
			fmt.Fprintf(&b, `\x%02x`, r)
		case r <= 0xffff:
			fmt.Fprintf(&b, `\u%04x`, r)
		default:
			fmt.Fprintf(&b, `\U%08x`, r)
		}
	}
	return b.String()
}
