package processors

import (
	"os"
	"path/filepath"
	"sort"
	"strings"
	"testing"

	"github.com/probe-agent/probe-agent/probe"
)

// corpusDir holds probes exported from Apstra 4.2.1 (Juniper-SE), read in
// place from the shared tree beside the repository.
const corpusDir = "../../../shared/corpus/apstra-4.2.1-probes"

// Processor types this file's author owns; a corpus problem naming one of
// them is a bug here, whatever else is still missing from the catalog.
var ownTypes = map[string]bool{
	"traffic_monitor": true, "system_utilization": true, "generic_graph_collector": true,
	"service_data_collector": true, "generic_data_collector": true, "extensible_data_collector": true,
	"evpn_type3": true, "evpn_type5": true, "vxlan_floodlist": true,
}

type corpusProbe struct {
	file  string
	data  []byte
	doc   *probe.Document
	types map[string]string // processor name -> type
}

func loadCorpus(t *testing.T) []corpusProbe {
	t.Helper()
	files, err := filepath.Glob(filepath.Join(corpusDir, "*.json"))
	if err != nil {
		t.Fatal(err)
	}
	if len(files) == 0 {
		if _, err := os.Stat(corpusDir); err != nil {
			t.Skipf("probe corpus %s not present (%v); it lives in the shared tree beside the repository", corpusDir, err)
		}
		t.Fatalf("no probes in %s", corpusDir)
	}
	var out []corpusProbe
	for _, f := range files {
		data, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		doc, _ := probe.ParseDocument(data)
		types := map[string]string{}
		for _, p := range doc.Processors {
			types[p.Name] = p.Type
		}
		out = append(out, corpusProbe{file: filepath.Base(f), data: data, doc: doc, types: types})
	}
	return out
}

// TestCorpusOwnProcessors checks that no problem of any corpus probe names a
// processor of a type owned here, and that the service collectors are the
// probes' central-only part.
func TestCorpusOwnProcessors(t *testing.T) {
	for _, cp := range loadCorpus(t) {
		t.Run(cp.file, func(t *testing.T) {
			plan, probs := probe.CompileJSON(cp.data)
			for _, p := range probs {
				if ownTypes[cp.types[p.Processor]] {
					t.Errorf("problem on %s processor: %v", cp.types[p.Processor], p)
				}
			}
			if plan != nil {
				checkCentralOnly(t, cp, plan)
			}
		})
	}
}

// TestCorpusValidates asserts that every corpus probe validates without a
// problem. It skips while a processor type the corpus uses is not in the
// catalog yet.
func TestCorpusValidates(t *testing.T) {
	corpus := loadCorpus(t)
	missing := map[string]bool{}
	for _, cp := range corpus {
		for _, typ := range cp.types {
			if _, ok := probe.Lookup(typ); !ok {
				missing[typ] = true
			}
		}
	}
	if len(missing) > 0 {
		names := make([]string, 0, len(missing))
		for n := range missing {
			names = append(names, n)
		}
		sort.Strings(names)
		t.Skipf("processor types not in the catalog yet: %s", strings.Join(names, ", "))
	}
	for _, cp := range corpus {
		t.Run(cp.file, func(t *testing.T) {
			plan, probs := probe.CompileJSON(cp.data)
			if len(probs) > 0 {
				t.Fatalf("%d problems:\n%v", len(probs), probs)
			}
			checkCentralOnly(t, cp, plan)
		})
	}
}

// checkCentralOnly asserts that the plan's central-only processors are
// exactly the corpus probe's service collectors.
func checkCentralOnly(t *testing.T, cp corpusProbe, plan *probe.Plan) {
	t.Helper()
	var want []string
	for name, typ := range cp.types {
		if spec, ok := probe.Lookup(typ); ok && spec.CentralOnly {
			want = append(want, name)
		}
		if strings.HasSuffix(typ, "_data_collector") {
			if spec, ok := probe.Lookup(typ); !ok || !spec.CentralOnly {
				t.Errorf("processor %q (%s) is not central-only", name, typ)
			}
		}
	}
	got := plan.CentralOnly()
	sort.Strings(want)
	sort.Strings(got)
	if strings.Join(got, "|") != strings.Join(want, "|") {
		t.Errorf("central-only processors %q, want %q", got, want)
	}
	if len(got) == 0 {
		t.Errorf("no central-only processor; every corpus probe starts with a service collector")
	}
}
