package api

import (
	"bytes"
	"encoding/json"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"reflect"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/probe-agent/probe-agent/probe"
)

// TestSeedWorkflow follows the seed's own request examples: POST the seed
// probe (as printed, and with a chosen id), GET it, evaluate the imbalance
// recording, GET its stages and the raised anomaly, PATCH its metadata,
// PUT (refused with an id, accepted without), DELETE.
func TestSeedWorkflow(t *testing.T) {
	e := newEnv(t, testConfig(t))
	seed := readFile(t, "testdata/seed_probe.json")

	r := e.do("GET", "/readyz", nil)
	e.want(r, http.StatusServiceUnavailable, "readyz before the first tick")

	// POST exactly the seed body: a UUID comes back.
	r = e.do("POST", e.bp+"/probes", seed)
	e.want(r, http.StatusCreated, "POST seed probe")
	uuidID, _ := r.json(t)["id"].(string)
	if !regexp.MustCompile(`^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$`).MatchString(uuidID) {
		t.Fatalf("POST without id answered id %q, want a UUID", uuidID)
	}
	if loc := r.header.Get("Location"); loc != e.bp+"/probes/"+uuidID {
		t.Errorf("Location = %q", loc)
	}

	// POST with an "id" (2.3): the id is kept; a second POST conflicts.
	const id = "my_tx_bytes_probe"
	withID := withField(t, seed, "id", id)
	r = e.do("POST", e.bp+"/probes", withID)
	e.want(r, http.StatusCreated, "POST with id")
	if got := r.json(t)["id"]; got != id {
		t.Fatalf("POST with id answered %v", got)
	}
	r = e.do("POST", e.bp+"/probes", withID)
	e.want(r, http.StatusConflict, "POST of an existing id")
	if !strings.Contains(string(r.body), id) {
		t.Errorf("409 does not name the id: %s", r.body)
	}

	// GET: the document as posted plus id, state, last_error.
	r = e.do("GET", e.bp+"/probes/"+id, nil)
	e.want(r, http.StatusOK, "GET probe")
	got := r.json(t)
	var posted map[string]any
	if err := json.Unmarshal(seed, &posted); err != nil {
		t.Fatal(err)
	}
	for k, v := range posted {
		if !reflect.DeepEqual(got[k], v) {
			t.Errorf("GET %s = %s, posted %s", k, mustJSON(t, got[k]), mustJSON(t, v))
		}
	}
	if got["id"] != id || got["state"] != "created" || got["last_error"] != nil || got["origin"] != "store" || got["anomaly_count"] != 0.0 {
		t.Errorf("GET before a tick: id=%v state=%v last_error=%v origin=%v anomaly_count=%v", got["id"], got["state"], got["last_error"], got["origin"], got["anomaly_count"])
	}

	r = e.do("GET", e.bp+"/probes", nil)
	e.want(r, http.StatusOK, "GET probes")
	var list struct {
		Items []map[string]any `json:"items"`
	}
	if err := json.Unmarshal(r.body, &list); err != nil || len(list.Items) != 2 {
		t.Fatalf("GET probes: %s", r.body)
	}

	e.steps(1)
	e.want(e.do("GET", "/readyz", nil), http.StatusOK, "readyz after the first tick")
	if st := e.do("GET", e.bp+"/probes/"+id, nil).json(t)["state"]; st != "operational" {
		t.Errorf("state after a tick = %v", st)
	}

	// Stages in the seed's shapes; rates need a second sample.
	e.steps(1)
	r = e.do("GET", e.bp+"/probes/"+id+"/stages/server_tx_bytes_output", nil)
	e.want(r, http.StatusOK, "GET NS stage")
	var ns struct {
		Properties []string `json:"properties"`
		Type       string   `json:"type"`
		Units      string   `json:"units"`
		Values     []struct {
			Properties map[string]string `json:"properties"`
			Value      *float64          `json:"value"`
		} `json:"values"`
	}
	if err := json.Unmarshal(r.body, &ns); err != nil {
		t.Fatal(err)
	}
	if ns.Type != "ns" || ns.Units != "Bps" || !reflect.DeepEqual(ns.Properties, []string{"interface", "system_id"}) || len(ns.Values) != 4 {
		t.Fatalf("NS stage: %s", r.body)
	}
	for _, v := range ns.Values {
		if v.Value == nil || v.Properties["interface"] == "" || v.Properties["system_id"] == "" {
			t.Errorf("NS item without value or properties: %s", r.body)
		}
	}
	r = e.do("GET", e.bp+"/probes/"+id+"/stages/std_dev_output", nil)
	e.want(r, http.StatusOK, "GET N stage")
	if got := string(bytes.TrimSpace(r.body)); got != `{"type":"n","units":"","value":0}` {
		t.Errorf("N stage = %s, want the seed's {type, units, value}", got)
	}
	r = e.do("GET", e.bp+"/probes/"+id+"/stages/server_traffic_imbalanced", nil)
	e.want(r, http.StatusOK, "GET DS stage")
	ds := r.json(t)
	if ds["type"] != "ds" || mustJSON(t, ds["possible_values"]) != `["true","false"]` {
		t.Errorf("DS stage: %s", r.body)
	}
	r = e.do("GET", e.bp+"/probes/"+id+"/stages/nope", nil)
	e.want(r, http.StatusNotFound, "GET missing stage")
	if !strings.Contains(string(r.body), "std_dev_output") {
		t.Errorf("404 for a stage does not list the stages: %s", r.body)
	}

	// Processors as posted.
	r = e.do("GET", e.bp+"/probes/"+id+"/processors/std", nil)
	e.want(r, http.StatusOK, "GET processor")
	if want := mustJSON(t, posted["processors"].([]any)[1]); mustJSON(t, r.json(t)) != want {
		t.Errorf("processor std = %s, posted %s", r.body, want)
	}
	e.want(e.do("GET", e.bp+"/probes/"+id+"/processors/nope", nil), http.StatusNotFound, "GET missing processor")

	// The recording's imbalance: std_dev 150 > 100 on the fifth evaluation.
	e.steps(3)
	r = e.do("GET", e.bp+"/anomalies?type=probe", nil)
	e.want(r, http.StatusOK, "GET anomalies")
	var anomalies struct {
		Items []map[string]any `json:"items"`
	}
	if err := json.Unmarshal(r.body, &anomalies); err != nil {
		t.Fatal(err)
	}
	if len(anomalies.Items) != 2 {
		t.Fatalf("anomalies?type=probe: want one per probe, got %s", r.body)
	}
	var mine map[string]any
	for _, a := range anomalies.Items {
		if a["identity"].(map[string]any)["probe_id"] == id {
			mine = a
		}
	}
	if mine == nil {
		t.Fatalf("no anomaly of %s: %s", id, r.body)
	}
	wantIdentity := `{"anomaly_type":"probe","probe_id":"my_tx_bytes_probe","properties":{},"stage_id":"server_traffic_imbalanced"}`
	if mustJSON(t, mine["identity"]) != wantIdentity || mine["anomaly_type"] != "probe" || mine["severity"] != "critical" ||
		mustJSON(t, mine["actual"]) != `{"value_int":150}` || mustJSON(t, mine["expected"]) != `{"value_int":100}` {
		t.Errorf("anomaly = %s, want the seed's form", mustJSON(t, mine))
	}
	for _, q := range []string{"", "?type=all"} {
		if n := len(e.do("GET", e.bp+"/anomalies"+q, nil).json(t)["items"].([]any)); n != 2 {
			t.Errorf("anomalies%s: %d items, want 2", q, n)
		}
	}
	if r := e.do("GET", e.bp+"/anomalies?type=bgp", nil); string(bytes.TrimSpace(r.body)) != `{"items":[]}` {
		t.Errorf("anomalies?type=bgp = %s, want an empty list", r.body)
	}
	if got := e.do("GET", e.bp+"/probes/"+id, nil).json(t)["anomaly_count"]; got != 1.0 {
		t.Errorf("anomaly_count = %v", got)
	}

	// Messages: oldest first, the creation, the first evaluation and the
	// raised anomaly.
	msgs := e.waitMessages(id, func(m []Message) bool { return len(m) >= 3 })
	if msgs[0].Message != "created through the REST API" || msgs[1].State != "operational" || msgs[2].Level != "warning" {
		t.Errorf("messages = %s", mustJSON(t, msgs))
	}
	for i := 1; i < len(msgs); i++ {
		if msgs[i].Timestamp.Before(msgs[i-1].Timestamp) {
			t.Errorf("messages not oldest first: %s", mustJSON(t, msgs))
		}
	}

	// PATCH. The seed's example names stage "server_tx_bytes", which no
	// processor of its probe produces (its output stage is
	// server_tx_bytes_output): refused with the reason.
	seedPatch := readFile(t, "testdata/seed_patch.json")
	r = e.do("PATCH", e.bp+"/probes/"+id, seedPatch)
	e.want(r, http.StatusBadRequest, "PATCH naming an unknown stage")
	if !strings.Contains(string(r.body), `server_tx_bytes\"`) {
		t.Errorf("PATCH refusal does not name the stage: %s", r.body)
	}
	fixed := bytes.Replace(seedPatch, []byte(`"name": "server_tx_bytes"`), []byte(`"name": "server_tx_bytes_output"`), 1)
	r = e.do("PATCH", e.bp+"/probes/"+id, fixed)
	e.want(r, http.StatusOK, "PATCH metadata")
	got = r.json(t)
	if got["label"] != "new server_tx_bytes" || got["description"] != "some better probe description" || mustJSON(t, got["tags"]) != `["production"]` {
		t.Errorf("after PATCH: label=%v description=%v tags=%v (tags are replaced whole)", got["label"], got["description"], got["tags"])
	}
	if got["state"] != "operational" || got["anomaly_count"] != 1.0 {
		t.Errorf("PATCH must keep the state: state=%v anomaly_count=%v", got["state"], got["anomaly_count"])
	}
	stage := e.do("GET", e.bp+"/probes/"+id+"/stages/server_tx_bytes_output", nil).json(t)
	if stage["units"] != "bps" || stage["description"] != "updated stage description" || mustJSON(t, stage["tags"]) != `["server traffic"]` {
		t.Errorf("stage after PATCH: %s", mustJSON(t, stage))
	}
	r = e.do("PATCH", e.bp+"/probes/"+id, []byte(`{"processors": []}`))
	e.want(r, http.StatusBadRequest, "PATCH of processors")
	if !strings.Contains(string(r.body), "PUT") {
		t.Errorf("PATCH refusal does not point to PUT: %s", r.body)
	}

	// PUT: an id in the body is refused; without one the probe is replaced
	// and starts over.
	r = e.do("PUT", e.bp+"/probes/"+id, withID)
	e.want(r, http.StatusBadRequest, "PUT with id")
	if !strings.Contains(string(r.body), "id is not allowed in PUT") {
		t.Errorf("PUT with id: %s", r.body)
	}
	r = e.do("PUT", e.bp+"/probes/"+id, withField(t, seed, "label", "replaced"))
	e.want(r, http.StatusOK, "PUT")
	got = r.json(t)
	if got["id"] != id || got["label"] != "replaced" || got["state"] != "created" || mustJSON(t, got["tags"]) != `["server","imbalance"]` {
		t.Errorf("after PUT: %s", r.body)
	}
	e.want(e.do("PUT", e.bp+"/probes/nope", seed), http.StatusNotFound, "PUT of a missing probe")

	// DELETE, then 404.
	r = e.do("DELETE", e.bp+"/probes/"+id, nil)
	e.want(r, http.StatusNoContent, "DELETE")
	if len(r.body) != 0 {
		t.Errorf("DELETE body: %s", r.body)
	}
	for _, p := range []string{"", "/messages", "/stages/std_dev_output", "/processors/std"} {
		r = e.do("GET", e.bp+"/probes/"+id+p, nil)
		e.want(r, http.StatusNotFound, "GET after DELETE "+p)
		if !strings.Contains(string(r.body), `"errors"`) {
			t.Errorf("404 body: %s", r.body)
		}
	}
	e.want(e.do("DELETE", e.bp+"/probes/"+id, nil), http.StatusNotFound, "DELETE again")
}

// waitMessages polls a probe's messages until ok (they are recorded from
// status events asynchronously).
func (e *testEnv) waitMessages(id string, ok func([]Message) bool) []Message {
	e.t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for {
		r := e.do("GET", e.bp+"/probes/"+id+"/messages", nil)
		e.want(r, http.StatusOK, "GET messages")
		var body struct {
			Items []Message `json:"items"`
		}
		if err := json.Unmarshal(r.body, &body); err != nil {
			e.t.Fatal(err)
		}
		if ok(body.Items) {
			return body.Items
		}
		if time.Now().After(deadline) {
			e.t.Fatalf("messages: %s", r.body)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// TestErrors: every refusal is JSON with the right status.
func TestErrors(t *testing.T) {
	e := newEnv(t, testConfig(t))
	seed := readFile(t, "testdata/seed_probe.json")
	var badProc map[string]any
	_ = json.Unmarshal(seed, &badProc)
	badProc["processors"].([]any)[1].(map[string]any)["properties"].(map[string]any)["ddof"] = "zero"
	invalid, _ := json.Marshal(badProc)

	for _, tc := range []struct {
		name, method, path string
		body               []byte
		contentType        string
		status             int
		contains           string
	}{
		{"wrong blueprint", "GET", "/api/blueprints/other/probes", nil, "", 404, `this agent serves blueprint \"dc1\"`},
		{"wrong blueprint on POST", "POST", "/api/blueprints/other/probes", seed, "", 404, `blueprint \"other\" not found`},
		{"bad JSON", "POST", "/api/blueprints/dc1/probes", []byte(`{"label": `), "", 400, "bad JSON"},
		{"not an object", "POST", "/api/blueprints/dc1/probes", []byte(`[1]`), "", 400, "bad JSON"},
		{"null body", "POST", "/api/blueprints/dc1/probes", []byte(`null`), "", 400, "must be a JSON object"},
		{"id not a string", "POST", "/api/blueprints/dc1/probes", withField(t, seed, "id", 7), "", 400, "must be a string"},
		{"id with a slash", "POST", "/api/blueprints/dc1/probes", withField(t, seed, "id", "a/b"), "", 400, "without /"},
		{"form body", "POST", "/api/blueprints/dc1/probes", []byte("label=x"), "application/x-www-form-urlencoded", 415, "Content-Type: application/json"},
		{"too large", "POST", "/api/blueprints/dc1/probes", bytes.Repeat([]byte(" "), MaxBodyBytes+1), "", 413, "exceeds"},
		{"no label", "POST", "/api/blueprints/dc1/probes", []byte(`{"processors": []}`), "", 400, "problems"},
		{"unknown endpoint", "GET", "/api/blueprints/dc1/nothing", nil, "", 404, "no such endpoint"},
		{"trailing slash", "GET", "/api/blueprints/dc1/probes/x/", nil, "", 404, "no such endpoint"},
		{"method not allowed", "DELETE", "/api/blueprints/dc1/probes", nil, "", 405, "allowed: GET, HEAD, POST"},
		{"missing probe", "GET", "/api/blueprints/dc1/probes/nope", nil, "", 404, `probe \"nope\" not found`},
		{"patch missing probe", "PATCH", "/api/blueprints/dc1/probes/nope", []byte(`{"label":"x"}`), "", 404, "not found"},
		{"delete missing probe", "DELETE", "/api/blueprints/dc1/probes/nope", nil, "", 404, "not found"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var r response
			if tc.contentType != "" {
				r = e.do(tc.method, tc.path, tc.body, tc.contentType)
			} else {
				r = e.do(tc.method, tc.path, tc.body)
			}
			e.want(r, tc.status, tc.name)
			if _, ok := r.json(t)["errors"]; !ok || !strings.Contains(string(r.body), tc.contains) {
				t.Errorf("body %s, want errors containing %q", r.body, tc.contains)
			}
		})
	}

	t.Run("validation problems name probe, processor and field", func(t *testing.T) {
		r := e.do("POST", e.bp+"/probes", invalid)
		e.want(r, http.StatusBadRequest, "invalid processor property")
		var body struct {
			Errors struct {
				Problems []probe.Problem `json:"problems"`
			} `json:"errors"`
		}
		if err := json.Unmarshal(r.body, &body); err != nil || len(body.Errors.Problems) == 0 {
			t.Fatalf("body %s", r.body)
		}
		p := body.Errors.Problems[0]
		if p.Probe != "server_tx_bytes" || p.Processor != "std" || !strings.Contains(p.Field, "ddof") || p.Message == "" {
			t.Errorf("problem = %+v", p)
		}
		if n := len(e.do("GET", e.bp+"/probes", nil).json(t)["items"].([]any)); n != 0 {
			t.Errorf("an invalid probe was created: %d probes", n)
		}
	})
}

// TestReadOnlyProbes: probes from probes_dir are refused to PATCH, PUT and
// DELETE with 409 naming the file.
func TestReadOnlyProbes(t *testing.T) {
	cfg := testConfig(t)
	cfg.ProbesDir = t.TempDir()
	file := filepath.Join(cfg.ProbesDir, "seed.json")
	seed := readFile(t, "testdata/seed_probe.json")
	if err := os.WriteFile(file, withField(t, seed, "id", "from_file"), 0o644); err != nil {
		t.Fatal(err)
	}
	e := newEnv(t, cfg)
	if got := e.do("GET", e.bp+"/probes/from_file", nil).json(t)["origin"]; got != "file" {
		t.Fatalf("origin = %v", got)
	}
	for _, m := range []struct {
		method string
		body   []byte
	}{{"PATCH", []byte(`{"label": "x"}`)}, {"PUT", seed}, {"DELETE", nil}} {
		r := e.do(m.method, e.bp+"/probes/from_file", m.body)
		e.want(r, http.StatusConflict, m.method+" of a file probe")
		if !strings.Contains(string(r.body), "read-only") || !strings.Contains(string(r.body), "seed.json") {
			t.Errorf("%s: %s", m.method, r.body)
		}
	}
}

// TestIntrospection: telemetry/processors lists the whole catalog.
func TestIntrospection(t *testing.T) {
	e := newEnv(t, testConfig(t))
	r := e.do("GET", e.bp+"/telemetry/processors", nil)
	e.want(r, http.StatusOK, "GET telemetry/processors")
	var body struct {
		Items []struct {
			Name    string         `json:"name"`
			Label   string         `json:"label"`
			Inputs  map[string]any `json:"inputs"`
			Outputs map[string]any `json:"outputs"`
			Schema  map[string]any `json:"schema"`
		} `json:"items"`
	}
	if err := json.Unmarshal(r.body, &body); err != nil {
		t.Fatal(err)
	}
	var got, want []string
	for _, it := range body.Items {
		got = append(got, it.Name)
		if it.Name == "std_dev" && (it.Inputs["in"] == nil || it.Outputs["out"] == nil || it.Schema["properties"] == nil) {
			t.Errorf("std_dev introspection incomplete: %+v", it)
		}
	}
	for _, s := range probe.Catalog() {
		want = append(want, s.Name)
	}
	if len(want) < 10 || !reflect.DeepEqual(got, want) {
		t.Errorf("introspection lists %v, catalog has %v", got, want)
	}
}

// TestMessageLogBound: the per-probe log keeps the newest messages, oldest
// first, and a removal drops only what came before it.
func TestMessageLogBound(t *testing.T) {
	l := newMessageLog(3)
	clock := time.Date(2025, 1, 1, 0, 0, 0, 0, time.UTC)
	l.now = func() time.Time { clock = clock.Add(time.Second); return clock }
	for i := 0; i < 5; i++ {
		l.note("p", "info", fmt.Sprint(i))
	}
	var texts []string
	for _, m := range l.list("p") {
		texts = append(texts, m.Message)
	}
	if strings.Join(texts, ",") != "2,3,4" {
		t.Errorf("kept %v, want the newest three, oldest first", texts)
	}
	removedAt := clock
	l.note("p", "info", "after")
	l.event(agentRemoved("p", removedAt))
	if got := l.list("p"); len(got) != 1 || got[0].Message != "after" {
		t.Errorf("after removal: %+v", got)
	}
	l.event(agentRemoved("p", clock))
	if got := l.list("p"); len(got) != 0 {
		t.Errorf("after a later removal: %+v", got)
	}
}
