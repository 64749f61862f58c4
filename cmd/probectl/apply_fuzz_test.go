package main

import (
	"bytes"
	"encoding/json"
	"os"
	"path/filepath"
	"testing"
)

// FuzzApplyFileParsing: `probectl apply -f -` reads any input without
// panicking; every document it returns is named by a source, and a JSON
// array input yields its elements in order.
func FuzzApplyFileParsing(f *testing.F) {
	names, _ := filepath.Glob("testdata/*.json")
	for _, n := range names {
		if data, err := os.ReadFile(n); err == nil {
			f.Add(data)
		}
	}
	f.Add([]byte(`[{"label":"a"},{"label":"b"}]`))
	f.Add([]byte(` [ ] `))
	f.Add([]byte(`[1, "x", null]`))
	f.Add([]byte(`{"label":"one"}`))
	f.Fuzz(func(t *testing.T, data []byte) {
		docs, srcs, err := readDocs([]string{"-"}, bytes.NewReader(data))
		if err != nil {
			return
		}
		if len(docs) != len(srcs) {
			t.Fatalf("%d documents, %d sources", len(docs), len(srcs))
		}
		trimmed := bytes.TrimSpace(data)
		if len(trimmed) > 0 && trimmed[0] == '[' {
			var list []json.RawMessage
			if json.Unmarshal(trimmed, &list) != nil || len(list) != len(docs) {
				t.Fatalf("array input gave %d documents", len(docs))
			}
			for i, s := range srcs {
				if s.index != i || s.file != "-" {
					t.Fatalf("source %d is %v", i, s)
				}
			}
			return
		}
		if len(docs) != 1 || docs[0] != string(data) || srcs[0].index != -1 {
			t.Fatalf("a single document came back as %d documents", len(docs))
		}
	})
}
