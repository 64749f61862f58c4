package controller

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"

	"github.com/probe-agent/probe-agent/probe"
	"github.com/probe-agent/probe-agent/topology/resolve"
)

// compiled is one fabric probe made ready for the fabric: validated,
// resolved on the topology, partitioned, with each device's edge part.
type compiled struct {
	id    string
	label string
	doc   json.RawMessage // as stored, with its id
	split *probe.Split
	// edge is the document pushed to each device (its EdgeFor part), nil
	// for a probe that runs entirely in the centre.
	edge map[string][]byte
	// devices are the devices whose part has items (every agent when the
	// probe has no graph query): those a central result must hear from to
	// be whole.
	devices []string
}

// ProbeError is a probe refused before anything was pushed, with every
// problem found.
type ProbeError struct {
	Probe    string
	Problems []string
}

func (e *ProbeError) Error() string {
	return fmt.Sprintf("probe %s refused:\n  %s", e.Probe, strings.Join(e.Problems, "\n  "))
}

// compileProbe validates doc against the budgets of opts (limits:), gives
// it an id when it has none, resolves its graph queries on the fabric and
// partitions it. Nothing is pushed here: a probe that fails any step is
// refused with its problems.
func compileProbe(doc []byte, f *Fabric, naming resolve.Naming, opts probe.Options) (*compiled, error) {
	plan, probs := probe.CompileJSONWith(doc, opts)
	name := "document"
	if plan != nil {
		name = fmt.Sprintf("%q", firstNonEmpty(plan.Label(), plan.ID))
	}
	if len(probs) > 0 {
		var list []string
		for _, p := range probs {
			list = append(list, p.Error())
		}
		return nil, &ProbeError{Probe: name, Problems: list}
	}
	if plan.Doc.ID == "" {
		var m map[string]any
		if err := json.Unmarshal(doc, &m); err != nil {
			return nil, &ProbeError{Probe: name, Problems: []string{err.Error()}}
		}
		m["id"] = plan.ID
		doc, _ = json.Marshal(m)
	}
	res, _, err := resolve.Resolve(f.Graph, plan.Doc, resolve.Options{Naming: naming})
	if err != nil {
		return nil, &ProbeError{Probe: name, Problems: []string{err.Error()}}
	}
	resolved := plan
	if len(res) > 0 {
		resolved = plan.Resolve(res)
	}
	split, err := probe.Partition(resolved, nil)
	if err != nil {
		return nil, &ProbeError{Probe: name, Problems: []string{err.Error()}}
	}
	c := &compiled{id: plan.ID, label: plan.Label(), doc: doc, split: split}
	withItems := map[string]bool{}
	for _, si := range res {
		si.Each(func(sys, _ string, _ []string) { withItems[sys] = true })
	}
	if split.Edge != nil {
		c.edge = map[string][]byte{}
		for _, a := range f.Agents {
			d, _, err := split.EdgeFor(a.Device)
			if err != nil {
				return nil, &ProbeError{Probe: name, Problems: []string{err.Error()}}
			}
			c.edge[a.Device] = d
		}
	}
	for _, a := range f.Agents {
		if len(res) == 0 || withItems[a.Device] {
			c.devices = append(c.devices, a.Device)
		}
	}
	return c, nil
}

// readProbesDir reads every *.json file of dir, in name order.
func readProbesDir(dir string) ([]namedDoc, error) {
	if dir == "" {
		return nil, nil
	}
	files, err := filepath.Glob(filepath.Join(dir, "*.json"))
	if err != nil {
		return nil, fmt.Errorf("probes_dir: %w", err)
	}
	if _, err := os.Stat(dir); err != nil {
		return nil, fmt.Errorf("probes_dir: %w", err)
	}
	sort.Strings(files)
	var out []namedDoc
	for _, f := range files {
		data, err := os.ReadFile(f)
		if err != nil {
			return nil, err
		}
		out = append(out, namedDoc{source: f, doc: data})
	}
	return out, nil
}

type namedDoc struct {
	source string
	doc    []byte
}
