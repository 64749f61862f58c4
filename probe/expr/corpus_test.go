package expr

import (
	"encoding/json"
	"io/fs"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"testing"
)

// sharedCorpus holds real probe documents (Apstra 4.2.1 exports and
// third-party collections), read in place from the shared tree beside the
// repository.
const sharedCorpus = "../../../shared/corpus"

// literalKeys are processor properties whose strings are not expressions
// in Apstra: graph queries, names of services, types, stages and keys, and
// the maps and filters whose entries are plain values.
var literalKeys = map[string]bool{
	"graph_query": true, "service_name": true, "data_type": true, "counter_type": true,
	"group_by": true, "operation": true, "property": true, "reference_state": true,
	"significant_keys": true, "keys": true, "value_map": true, "query_tag_filter": true,
}

type corpusString struct {
	where string // file: processor (type) property path
	src   string
}

// corpusStrings returns every string property of every processor of every
// probe document under the shared corpus that Apstra evaluates as an
// expression.
func corpusStrings(t *testing.T) []corpusString {
	t.Helper()
	if _, err := os.Stat(sharedCorpus); err != nil {
		t.Skipf("probe corpus %s not present (%v); it lives in the shared tree beside the repository", sharedCorpus, err)
	}
	var out []corpusString
	files := 0
	err := filepath.WalkDir(sharedCorpus, func(path string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() || !strings.HasSuffix(path, ".json") {
			return err
		}
		files++
		data, err := os.ReadFile(path)
		if err != nil {
			return err
		}
		var doc struct {
			Processors []struct {
				Name       string         `json:"name"`
				Type       string         `json:"type"`
				Properties map[string]any `json:"properties"`
			} `json:"processors"`
		}
		if err := json.Unmarshal(data, &doc); err != nil {
			t.Errorf("%s: %v", path, err)
			return nil
		}
		rel, _ := filepath.Rel(sharedCorpus, path)
		for _, p := range doc.Processors {
			var walk func(prefix string, v any)
			walk = func(prefix string, v any) {
				switch x := v.(type) {
				case string:
					out = append(out, corpusString{where: rel + ": processor " + p.Name + " (" + p.Type + ") " + prefix, src: x})
				case []any:
					for _, e := range x {
						walk(prefix+"[]", e)
					}
				case map[string]any:
					keys := make([]string, 0, len(x))
					for k := range x {
						keys = append(keys, k)
					}
					sort.Strings(keys)
					for _, k := range keys {
						if !literalKeys[k] {
							walk(strings.TrimPrefix(prefix+"."+k, "."), x[k])
						}
					}
				}
			}
			walk("", p.Properties)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if files < 21 {
		t.Fatalf("found %d probe documents under %s, want the 21 of the shared corpus at least", files, sharedCorpus)
	}
	return out
}

// TestCorpusStringsParse checks that every expression-valued property of
// the shared corpus parses: the tuple keys, the % formatting, partition().
func TestCorpusStringsParse(t *testing.T) {
	strs := corpusStrings(t)
	seen := map[string]bool{}
	for _, cs := range strs {
		seen[cs.src] = true
		if _, err := Parse(cs.src); err != nil {
			t.Errorf("%s: %v", cs.where, err)
		}
	}
	// Guard against the walk silently finding nothing.
	for _, want := range []string{
		"(intf.ipv4_addr.split('/')[0], d1.domain_id, other_intf.ipv4_addr.split('/')[0], d2.domain_id, 'default', 'ipv4')",
		"'%s|%s' % (interface.if_name, 'rx_power')",
		"'%s_bum_to_total_percentage' % logical_vtep.ipv4_addr.partition('/')[0]",
		"iface.if_name",
	} {
		if !seen[want] {
			t.Errorf("the corpus walk did not find %q", want)
		}
	}
	if len(strs) < 200 {
		t.Errorf("found %d expression strings, want the 200 or more of the shared corpus", len(strs))
	}
}
