package probe

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
)

// JSONError says where in data a decoding error is: encoding/json reports
// a byte offset, which in a probe file of a few hundred lines helps no
// one. Syntax and type errors get "line L, column C: "; others pass as
// they are.
func JSONError(data []byte, err error) error {
	var off int64
	var syn *json.SyntaxError
	var typ *json.UnmarshalTypeError
	switch {
	case errors.As(err, &syn):
		off = syn.Offset
	case errors.As(err, &typ):
		off = typ.Offset
	default:
		return err
	}
	line, col := LineColumn(data, off)
	return fmt.Errorf("line %d, column %d: %w", line, col, err)
}

// LineColumn turns a byte offset into a 1-based line and column; the
// column counts bytes. json errors report the offset after the byte at
// fault, which is where the column points.
func LineColumn(data []byte, offset int64) (line, col int) {
	offset = min(max(offset, 0), int64(len(data)))
	before := data[:offset]
	line = 1 + bytes.Count(before, []byte{'\n'})
	col = int(offset) - (bytes.LastIndexByte(before, '\n') + 1)
	return line, max(col, 1)
}
