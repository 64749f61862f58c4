package topology

import (
	"bytes"
	"os"
)

// LoadFile reads a topology file: a plain graph JSON document when its
// first non-space byte is '{', a containerlab topology file otherwise.
func LoadFile(path string, opts Options) (*Graph, []Warning, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, nil, err
	}
	return Parse(data, path, opts)
}

// Parse reads a topology from bytes, choosing the format as LoadFile does.
func Parse(data []byte, file string, opts Options) (*Graph, []Warning, error) {
	if t := bytes.TrimSpace(data); len(t) > 0 && t[0] == '{' {
		g, err := ParseGraphJSON(data, file)
		return g, nil, err
	}
	g, _, warnings, err := ParseContainerlab(data, file, opts)
	return g, warnings, err
}
