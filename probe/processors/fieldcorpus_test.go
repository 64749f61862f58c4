package processors

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/probe-agent/probe-agent/probe"
)

// sharedCorpus is the root of the real probe documents, read in place from
// the shared tree beside the repository (never copied in: third-party data).
const sharedCorpus = "../../../shared/corpus"

// fieldDialects is the dialect each known document must be read in, and why
// in a word: the evidence it carries. Documents added to the corpus later
// must validate too; they are checked for the dialect only once listed here.
var fieldDialects = map[string]probe.Dialect{
	"apstra-4.2.1-probes/ddos-protection-protocols.json":                                                   probe.Dialect4x,
	"apstra-4.2.1-probes/device-uptime.json":                                                               probe.Dialect4x,
	"apstra-4.2.1-probes/interface-flap.json":                                                              probe.Dialect4x,
	"apstra-4.2.1-probes/loop-detect_probe.json":                                                           probe.Dialect4x,
	"apstra-4.2.1-probes/os-version-compliance.json":                                                       probe.Dialect4x,
	"apstra-4.2.1-probes/ospf-neighbour-check.json":                                                        probe.Dialect4x,
	"apstra-4.2.1-probes/ping-mesh.json":                                                                   probe.Dialect4x,
	"apstra-4.2.1-probes/systems-alarms.json":                                                              probe.Dialect4x,
	"third-party/Apstra+iba/templates__bandwidth_utilization_history.j2.json":                              probe.DialectSeed, // string inputs, no checker: 3.0 by default
	"third-party/Apstra+iba/templates__bum_to_total_traffic_anomalies.j2.json":                             probe.Dialect3x,   // raise_anomaly
	"third-party/Apstra+iba/templates__counters_error_anomalies.j2.json":                                   probe.Dialect3x,
	"third-party/Apstra+iba/templates__fabric_bgp_anomalies.j2.json":                                       probe.Dialect3x,
	"third-party/Apstra+iba/templates__interface_bandwidth_anomalies.j2.json":                              probe.Dialect3x,
	"third-party/Apstra+iba/templates__lag_link_fault_tolerance.j2.json":                                   probe.Dialect3x,
	"third-party/Apstra+iba/templates__mroute_count_anomalies.j2.json":                                     probe.Dialect3x,
	"third-party/Apstra+iba/templates__sfp.j2.json":                                                        probe.Dialect3x,
	"third-party/Apstra+iba/templates__virtual_infra_vlan_mismatch.j2.json":                                probe.Dialect3x,
	"third-party/Juniper+apstrahub-configpack-loop-detection/pack__tofu__probe.tf@heredoc0.json":           probe.Dialect4x,
	"third-party/Juniper+terraform-provider-apstra/apstra__resource_blueprint_iba_probe_test.go@raw2.json": probe.Dialect4x,
	"third-party/kimcharli+ck-apstra-api/docs__probes__BFD-Sessions-Probe.json":                            probe.Dialect4x,
	"third-party/kimcharli+ck-apstra-api/docs__probes__asn-list.json":                                      probe.Dialect4x, // query_tag_filter
}

// TestFieldCorpusValidates asserts that every real probe document in the
// shared corpus validates, in the dialect listed for it: a change that makes
// one of them fail again fails here, naming the problems.
func TestFieldCorpusValidates(t *testing.T) {
	var files []string
	for _, pattern := range []string{"*/*.json", "third-party/*/*.json"} {
		m, err := filepath.Glob(filepath.Join(sharedCorpus, pattern))
		if err != nil {
			t.Fatal(err)
		}
		files = append(files, m...)
	}
	if len(files) == 0 {
		if _, err := os.Stat(sharedCorpus); err != nil {
			t.Skipf("probe corpus %s not present (%v); it lives in the shared tree beside the repository", sharedCorpus, err)
		}
		t.Fatalf("no probes under %s", sharedCorpus)
	}
	seen := 0
	for _, f := range files {
		rel, _ := filepath.Rel(sharedCorpus, f)
		rel = filepath.ToSlash(rel)
		t.Run(rel, func(t *testing.T) {
			data, err := os.ReadFile(f)
			if err != nil {
				t.Fatal(err)
			}
			plan, probs := probe.CompileJSON(data)
			if len(probs) > 0 {
				t.Fatalf("does not validate:\n%s", probs.Error())
			}
			if want, ok := fieldDialects[rel]; ok {
				seen++
				if plan.Doc.Dialect != want {
					t.Errorf("dialect %s (%s), want %s", plan.Doc.Dialect, plan.Doc.DialectReason, want)
				}
			}
			if plan.Doc.DialectReason == "" || strings.Contains(plan.Doc.DialectReason, "conflicting") {
				t.Errorf("dialect reason %q", plan.Doc.DialectReason)
			}
		})
	}
	if seen != len(fieldDialects) {
		t.Errorf("found %d of the %d documents listed in fieldDialects", seen, len(fieldDialects))
	}
}
