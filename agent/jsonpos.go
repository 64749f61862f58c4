package agent

import (
	"encoding/json"

	"github.com/probe-agent/probe-agent/probe"
)

// JSONError says where in data a decoding error is (probe.JSONError).
func JSONError(data []byte, err error) error { return probe.JSONError(data, err) }

// LineColumn turns a byte offset into a 1-based line and column
// (probe.LineColumn).
func LineColumn(data []byte, offset int64) (line, col int) { return probe.LineColumn(data, offset) }

// checkJSON reports a syntax error in a probe document with its position.
func checkJSON(data []byte) error {
	var v any
	if err := json.Unmarshal(data, &v); err != nil {
		return JSONError(data, err)
	}
	return nil
}
