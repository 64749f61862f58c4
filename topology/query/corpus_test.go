package query

import (
	"encoding/json"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
)

// The shared tree beside the repository holds real probes and the facts
// document; they are read in place, never copied.
const (
	corpusDir = "../../../shared/corpus"
	factsDoc  = "../../../shared/docs/graph-and-topology.md"
)

// corpusQueries returns every graph_query string of every processor of
// every probe in the corpus, by "file: processor".
func corpusQueries(t *testing.T) map[string]string {
	t.Helper()
	var files []string
	err := filepath.WalkDir(corpusDir, func(path string, d os.DirEntry, err error) error {
		if err == nil && !d.IsDir() && strings.HasSuffix(path, ".json") {
			files = append(files, path)
		}
		return err
	})
	if err != nil {
		t.Skipf("probe corpus %s not present (%v); it lives in the shared tree beside the repository", corpusDir, err)
	}
	out := map[string]string{}
	for _, f := range files {
		data, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		var doc struct {
			Processors []struct {
				Name       string         `json:"name"`
				Properties map[string]any `json:"properties"`
			} `json:"processors"`
		}
		if err := json.Unmarshal(data, &doc); err != nil {
			t.Fatalf("%s: %v", f, err)
		}
		for _, p := range doc.Processors {
			var qs []string
			switch v := p.Properties["graph_query"].(type) {
			case string:
				qs = []string{v}
			case []any:
				for _, x := range v {
					if s, ok := x.(string); ok {
						qs = append(qs, s)
					}
				}
			}
			for i, q := range qs {
				if strings.TrimSpace(q) == "" {
					continue
				}
				key := filepath.Base(f) + ": " + p.Name
				if len(qs) > 1 {
					key += "[" + string(rune('0'+i)) + "]"
				}
				out[key] = q
			}
		}
	}
	if len(out) == 0 {
		t.Fatalf("no graph queries found under %s", corpusDir)
	}
	return out
}

// factsDocQueries returns the verbatim queries of the facts document's
// section 1.5 (the counter-probe shapes).
func factsDocQueries(t *testing.T) []string {
	data, err := os.ReadFile(factsDoc)
	if err != nil {
		t.Skipf("facts document %s not present: %v", factsDoc, err)
	}
	text := string(data)
	start := strings.Index(text, "### 1.5")
	end := strings.Index(text, "## 2.")
	if start < 0 || end < start {
		t.Fatalf("%s: section 1.5 not found", factsDoc)
	}
	var out []string
	for _, m := range regexp.MustCompile("`((?:node|match)\\([^`]*)`").FindAllStringSubmatch(text[start:end], -1) {
		out = append(out, m[1])
	}
	return out
}

// TestCorpusQueriesParse: every graph query of the real probes parses. A
// where() body the expression evaluator cannot run is reported by the
// query (Unsupported) rather than failing the parse; the test logs them.
func TestCorpusQueriesParse(t *testing.T) {
	qs := corpusQueries(t)
	for key, src := range qs {
		q, err := Parse(src)
		if err != nil {
			t.Errorf("%s: %v\n%s", key, err, src)
			continue
		}
		for _, u := range q.Unsupported() {
			t.Logf("%s: where body not runnable: %v", key, u)
		}
		if len(q.Vars()) == 0 {
			t.Errorf("%s: no variables parsed", key)
		}
	}
	t.Logf("%d corpus queries parsed", len(qs))
}

func TestFactsDocQueriesParse(t *testing.T) {
	qs := factsDocQueries(t)
	if len(qs) < 5 {
		t.Fatalf("found %d queries in section 1.5, want at least 5", len(qs))
	}
	for _, src := range qs {
		if _, err := Parse(src); err != nil {
			t.Errorf("%v\n%s", err, src)
		}
	}
	for name, src := range factQueries {
		if _, err := Parse(src); err != nil {
			t.Errorf("%s: %v", name, err)
		}
	}
}
