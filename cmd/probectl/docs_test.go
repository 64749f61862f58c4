package main

import (
	"bytes"
	"os"
	"testing"

	"github.com/probe-agent/probe-agent/probe"
)

// TestProcessorDocsUpToDate fails when docs/processors.md no longer matches
// the catalog: run `make docs`.
func TestProcessorDocsUpToDate(t *testing.T) {
	var b bytes.Buffer
	if err := writeMarkdown(&b, probe.Catalog()); err != nil {
		t.Fatal(err)
	}
	path := "../../docs/processors.md"
	if *update {
		if err := os.WriteFile(path, b.Bytes(), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(want, b.Bytes()) {
		t.Errorf("docs/processors.md is stale: run `make docs`")
	}
}
