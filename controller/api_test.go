package controller

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/probe-agent/probe-agent/agent/control/controltest"
	"github.com/probe-agent/probe-agent/tlsutil"
)

// restClient calls the controller's REST API over loopback TCP.
type restClient struct {
	t     *testing.T
	base  string
	token string
	http  *http.Client
}

// do sends a request and returns the status and the decoded JSON body
// (nil for an empty one).
func (c *restClient) do(method, path string, body string) (int, map[string]any) {
	c.t.Helper()
	var rd io.Reader
	if body != "" {
		rd = strings.NewReader(body)
	}
	req, err := http.NewRequest(method, c.base+path, rd)
	if err != nil {
		c.t.Fatal(err)
	}
	if c.token != "" {
		req.Header.Set("Authorization", "Bearer "+c.token)
	}
	hc := c.http
	if hc == nil {
		hc = http.DefaultClient
	}
	resp, err := hc.Do(req)
	if err != nil {
		c.t.Fatal(err)
	}
	defer resp.Body.Close()
	data, _ := io.ReadAll(resp.Body)
	if len(bytes.TrimSpace(data)) == 0 {
		return resp.StatusCode, nil
	}
	var m map[string]any
	if err := json.Unmarshal(data, &m); err != nil {
		c.t.Fatalf("%s %s: %d, not a JSON object: %s", method, path, resp.StatusCode, data)
	}
	return resp.StatusCode, m
}

func (c *restClient) expect(method, path, body string, want int) map[string]any {
	c.t.Helper()
	code, m := c.do(method, path, body)
	if code != want {
		c.t.Fatalf("%s %s: status %d, want %d: %v", method, path, code, want, m)
	}
	return m
}

const bp = "/api/blueprints/dc1"

// waitSeen waits until the controller has every agent's answer to the
// push of its generation (the agents apply before the controller records
// it).
func waitSeen(h *harness) {
	h.t.Helper()
	gen := h.ctl.Generation()
	waitFor(h.t, 10*time.Second, "the controller records every agent at generation "+fmt.Sprint(gen), func() bool {
		for _, a := range h.ctl.Agents() {
			if a.Generation != gen || a.State != "streaming" {
				return false
			}
		}
		return true
	})
}

// stageItems returns the values of a set stage answer by
// "system_id/interface".
func stageItems(t *testing.T, m map[string]any) map[string]float64 {
	t.Helper()
	out := map[string]float64{}
	values, _ := m["values"].([]any)
	for _, v := range values {
		it := v.(map[string]any)
		props := it["properties"].(map[string]any)
		out[props["system_id"].(string)+"/"+props["interface"].(string)] = it["value"].(float64)
	}
	return out
}

// TestRESTAPIWithAgents drives the controller's REST API over loopback
// against four real agent control planes: CRUD with write authentication,
// 422 for a probe refused before anything is pushed, the central stage
// (whole, then partial with the missing device), the edge stage gathered
// from the agents and merged, anomalies, PATCH disabled pushed to the
// agents, the probe's fabric-wide state naming a device that is down.
func TestRESTAPIWithAgents(t *testing.T) {
	pki := controltest.New(t)
	dir := t.TempDir()
	h := &harness{t: t, pki: pki, agents: map[string]*fakeAgent{}, clock: &fakeClock{now: time.Unix(1_800_000_000, 0)},
		cnt: counters{total: map[string]uint64{}}}
	leaves := []string{"leaf1", "leaf2", "leaf3", "leaf4"}
	for _, dev := range leaves {
		h.agents[dev] = startAgent(t, pki, dev, "")
	}
	cfg := writeConfig(t, dir, pki, h.agents, "", pki.ClientCert, pki.ClientKey)
	tokenFile := filepath.Join(dir, "token")
	if err := os.WriteFile(tokenFile, []byte("s3cret\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	cfg.API.TokenFile = tokenFile
	h.startController(cfg)
	srv := httptest.NewServer(h.ctl.APIHandler())
	defer srv.Close()
	api := &restClient{t: t, base: srv.URL, token: "s3cret"}
	anon := &restClient{t: t, base: srv.URL}
	seed, err := os.ReadFile("testdata/seed_probe.json")
	if err != nil {
		t.Fatal(err)
	}

	// Writes need the token; a read-only controller refuses them all.
	if code, m := anon.do("POST", bp+"/probes", string(seed)); code != 401 || !strings.Contains(m["errors"].(string), "Bearer") {
		t.Fatalf("POST without the token: %d %v", code, m)
	}
	roCfg := cfg
	roCfg.API.TokenFile = ""
	ro := &Controller{cfg: roCfg, metrics: newMetrics()}
	roSrv := httptest.NewServer(ro.APIHandler())
	defer roSrv.Close()
	for _, m := range []string{"POST", "PUT", "PATCH", "DELETE"} {
		path := bp + "/probes"
		if m != "POST" {
			path += "/server-imbalance"
		}
		if code, body := (&restClient{t: t, base: roSrv.URL, token: "s3cret"}).do(m, path, "{}"); code != 403 || !strings.Contains(body["errors"].(string), "read-only") {
			t.Errorf("%s on a read-only controller: %d %v", m, code, body)
		}
	}
	if g := h.ctl.Generation(); g != 1 {
		t.Fatalf("generation %d before any write, want 1", g)
	}

	// A probe that does not validate: 422 with its problems, nothing
	// saved or pushed.
	m := api.expect("POST", bp+"/probes", `{"id": "bad", "label": "bad", "processors": [{"name": "x", "type": "no_such_processor", "outputs": {"out": "o"}}]}`, 422)
	problems, _ := m["errors"].(map[string]any)["problems"].([]any)
	if len(problems) == 0 || !strings.Contains(problems[0].(string), "no_such_processor") {
		t.Errorf("422 body %v: want the problem naming the processor type", m)
	}
	if g := h.ctl.Generation(); g != 1 {
		t.Fatalf("generation %d after a refused probe, want 1", g)
	}

	// Create: every leaf gets its part.
	m = api.expect("POST", bp+"/probes", string(seed), 201)
	if m["id"] != "server-imbalance" {
		t.Fatalf("POST: %v", m)
	}
	api.expect("POST", bp+"/probes", string(seed), 409)
	h.waitApplied(leaves...)
	waitSeen(h)
	m = api.expect("GET", bp+"/probes/server-imbalance", "", 200)
	if m["state"] != "operational" || m["last_error"] != nil || m["label"] != "server_tx_bytes" || len(m["devices"].([]any)) != 4 || m["generation"] != float64(2) {
		t.Errorf("GET probe after the push: %v", m)
	}
	if list := api.expect("GET", bp+"/probes", "", 200)["items"].([]any); len(list) != 1 {
		t.Errorf("list: %v", list)
	}

	// Balanced ticks: the central stage equals the whole probe, whole.
	t0 := time.Unix(1_700_000_000, 0)
	at := func(i int) time.Time { return t0.Add(time.Duration(i) * time.Second) }
	b0 := h.tickAll(at(0), balanced, leaves...)
	h.clock.Add(time.Second)
	b1 := h.tickAll(at(1), balanced, leaves...)
	h.central()
	m = api.expect("GET", bp+"/probes/server-imbalance/stages/std_dev_output", "", 200)
	if want := wholeStdDev(t, b0, b1); m["value"] != want || m["partial"] != false || m["missing_devices"] != nil {
		t.Errorf("central stage: %v, want value %v, whole", m, want)
	}

	// The edge stage: gathered from the four agents, the union of their
	// server ports, each at 1000 B/s.
	m = api.expect("GET", bp+"/probes/server-imbalance/stages/server_tx_bytes_output", "", 200)
	want := map[string]float64{}
	for _, dev := range leaves {
		for _, p := range serverPorts[dev] {
			want[dev+"/"+p] = 1000
		}
	}
	if got := stageItems(t, m); !mapsEqual(got, want) || m["partial"] != false || m["units"] != "Bps" {
		t.Errorf("edge stage: %v\nitems %v, want %v", m, got, want)
	}
	values := m["values"].([]any)
	if first := values[0].(map[string]any)["properties"].(map[string]any); first["system_id"] != "leaf1" || first["interface"] != "eth3" {
		t.Errorf("edge stage items not in property order: first %v", first)
	}
	api.expect("GET", bp+"/probes/server-imbalance/stages/nope", "", 404)

	// Imbalance: the central anomaly is listed with its origin.
	h.clock.Add(time.Second)
	h.tickAll(at(2), leaf4Heavy, leaves...)
	h.central()
	items := api.expect("GET", bp+"/anomalies?type=probe", "", 200)["items"].([]any)
	if len(items) != 1 || items[0].(map[string]any)["origin"] != "central" || items[0].(map[string]any)["anomaly_type"] != "probe" {
		t.Errorf("anomalies: %v", items)
	}
	if items := api.expect("GET", bp+"/anomalies?type=bgp", "", 200)["items"].([]any); len(items) != 0 {
		t.Errorf("anomalies of another type: %v", items)
	}
	if m := api.expect("GET", bp+"/probes/server-imbalance", "", 200); m["anomaly_count"] != float64(1) {
		t.Errorf("anomaly_count %v, want 1", m["anomaly_count"])
	}

	// leaf4 goes down: the central result is partial and names it, the
	// edge stage leaves its items out and says so, the probe's state says
	// which device fails and why.
	h.agents["leaf4"].stop()
	waitFor(t, 10*time.Second, "the controller sees leaf4 down", func() bool {
		for _, a := range h.ctl.Agents() {
			if a.Device == "leaf4" {
				return a.State == "down"
			}
		}
		return false
	})
	h.clock.Add(4 * time.Second)
	h.tickAll(at(3), balanced, "leaf1", "leaf2", "leaf3")
	h.central()
	m = api.expect("GET", bp+"/probes/server-imbalance/stages/std_dev_output", "", 200)
	if m["partial"] != true || !slices.Equal(toStrings(m["missing_devices"]), []string{"leaf4"}) {
		t.Errorf("central stage with leaf4 down: %v", m)
	}
	m = api.expect("GET", bp+"/probes/server-imbalance/stages/server_tx_bytes_output", "", 200)
	for k := range want {
		if strings.HasPrefix(k, "leaf4/") {
			delete(want, k)
		}
	}
	if got := stageItems(t, m); !mapsEqual(got, want) || m["partial"] != true || !slices.Equal(toStrings(m["missing_devices"]), []string{"leaf4"}) {
		t.Errorf("edge stage with leaf4 down: %v", m)
	}
	m = api.expect("GET", bp+"/probes/server-imbalance", "", 200)
	msg, _ := m["last_error"].(map[string]any)["message"].(string)
	if m["state"] != "error" || !strings.Contains(msg, "failed on 1 of 4 devices") || !strings.Contains(msg, "leaf4: ") {
		t.Errorf("probe with leaf4 down: state %v last_error %v", m["state"], m["last_error"])
	}
	h.agents["leaf4"] = startAgent(t, pki, "leaf4", h.agents["leaf4"].addr)
	h.waitApplied("leaf4")

	// PATCH disabled reaches every agent, and back.
	for _, disabled := range []bool{true, false} {
		body, _ := json.Marshal(map[string]bool{"disabled": disabled})
		m = api.expect("PATCH", bp+"/probes/server-imbalance", string(body), 200)
		if m["disabled"] != disabled {
			t.Errorf("PATCH disabled %v: %v", disabled, m["disabled"])
		}
		h.waitApplied(leaves...)
		waitSeen(h)
		for _, dev := range leaves {
			info, err := h.agents[dev].m.Get("server-imbalance")
			if err != nil || info.Disabled != disabled {
				t.Errorf("%s after PATCH disabled %v: %+v %v", dev, disabled, info.Disabled, err)
			}
		}
	}
	api.expect("PATCH", bp+"/probes/server-imbalance", `{"processors": []}`, 400)
	api.expect("PATCH", bp+"/probes/nope", `{"label": "x"}`, 404)

	// PUT replaces (the path names the probe); processors and catalog.
	var doc map[string]any
	_ = json.Unmarshal(seed, &doc)
	delete(doc, "id")
	doc["label"] = "renamed"
	put, _ := json.Marshal(doc)
	if m := api.expect("PUT", bp+"/probes/server-imbalance", string(put), 200); m["label"] != "renamed" {
		t.Errorf("PUT: label %v", m["label"])
	}
	api.expect("PUT", bp+"/probes/server-imbalance", string(seed), 400) // id in the body
	api.expect("PUT", bp+"/probes/nope", string(put), 404)
	if m := api.expect("GET", bp+"/probes/server-imbalance/processors/std", "", 200); m["type"] != "std_dev" {
		t.Errorf("processor std: %v", m)
	}
	if m := api.expect("GET", bp+"/probes/server-imbalance/processors/nope", "", 404); !strings.Contains(m["errors"].(string), "server_imbalance_anomaly, server_tx_bytes, std") {
		t.Errorf("unknown processor: %v", m)
	}
	if items := api.expect("GET", bp+"/telemetry/processors", "", 200)["items"].([]any); len(items) < 10 {
		t.Errorf("processor catalog: %d types", len(items))
	}
	if m := api.expect("GET", bp+"/agents", "", 200); len(m["items"].([]any)) != 4 {
		t.Errorf("agents: %v", m)
	}
	api.expect("GET", "/api/blueprints/other/probes", "", 404)
	if resp, err := http.Get(srv.URL + "/metrics"); err != nil || resp.StatusCode != 200 {
		t.Errorf("/metrics beside the API: %v %v", resp, err)
	} else {
		resp.Body.Close()
	}

	// DELETE: gone from the controller and from every agent.
	api.expect("DELETE", bp+"/probes/server-imbalance", "", 204)
	api.expect("DELETE", bp+"/probes/server-imbalance", "", 404)
	api.expect("GET", bp+"/probes/server-imbalance", "", 404)
	h.waitApplied(leaves...)
	for _, dev := range leaves {
		if _, err := h.agents[dev].m.Get("server-imbalance"); err == nil {
			t.Errorf("%s still runs the deleted probe", dev)
		}
	}

	// PUT .../probes sets the whole set atomically and says what it did.
	set := func(docs ...string) string { return `{"probes": [` + strings.Join(docs, ",") + `]}` }
	for _, tc := range []struct {
		body, want string
	}{
		{set(string(seed)), "server-imbalance:created"},
		{set(string(seed)), "server-imbalance:unchanged"},
		{set(string(put)), "server-imbalance:deleted"}, // no id: one derived from the document
	} {
		m := api.expect("PUT", bp+"/probes", tc.body, 200)
		var got []string
		for _, r := range m["results"].([]any) {
			got = append(got, r.(map[string]any)["id"].(string)+":"+r.(map[string]any)["action"].(string))
		}
		if !slices.Contains(got, tc.want) {
			t.Errorf("PUT probes: results %v, want %s", got, tc.want)
		}
	}
	gen := h.ctl.Generation()
	api.expect("PUT", bp+"/probes", set(string(seed), `{"label": "x", "processors": [{"name": "x", "type": "nope", "outputs": {"out": "o"}}]}`), 422)
	api.expect("PUT", bp+"/probes", `{"items": []}`, 400)
	if h.ctl.Generation() != gen {
		t.Error("a refused set changed the generation")
	}
	if m := api.expect("GET", "/api/blueprints", "", 200); m["items"].([]any)[0].(map[string]any)["id"] != "dc1" {
		t.Errorf("blueprints: %v", m)
	}
}

func mapsEqual(a, b map[string]float64) bool {
	if len(a) != len(b) {
		return false
	}
	for k, v := range a {
		if w, ok := b[k]; !ok || w != v {
			return false
		}
	}
	return true
}

func toStrings(v any) []string {
	list, _ := v.([]any)
	var out []string
	for _, x := range list {
		s, _ := x.(string)
		out = append(out, s)
	}
	return out
}

// TestListenAPIRefusals: the API does not listen on the network without
// write authentication, nor with a token file it cannot read; over HTTPS
// with api.tls.ca, reads need no certificate and writes a verified one.
func TestListenAPIRefusals(t *testing.T) {
	pki := controltest.New(t)
	dir := t.TempDir()
	for _, tc := range []struct {
		name string
		api  APIConfig
		want string
	}{
		{"network without auth", APIConfig{Listen: "0.0.0.0:0"}, "nothing authenticates writes"},
		{"all addresses without auth", APIConfig{Listen: ":0"}, "nothing authenticates writes"},
		{"unreadable token", APIConfig{Listen: "127.0.0.1:0", TokenFile: filepath.Join(dir, "none")}, "api.token_file"},
		{"bad certificate", APIConfig{Listen: "127.0.0.1:0", TLS: TLSFiles{Cert: filepath.Join(dir, "none"), Key: filepath.Join(dir, "none")}}, "api.tls"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c := &Controller{cfg: Config{API: tc.api}}
			l, err := c.ListenAPI()
			if err == nil {
				l.Close()
				t.Fatal("listening, want a refusal")
			}
			if !strings.Contains(err.Error(), tc.want) {
				t.Errorf("error %v, want %q", err, tc.want)
			}
		})
	}

	c := &Controller{cfg: Config{BlueprintID: "dc1", API: APIConfig{Listen: "127.0.0.1:0",
		TLS: TLSFiles{CA: pki.CA, Cert: pki.ServerCert, Key: pki.ServerKey}}}, metrics: newMetrics(), docs: map[string]json.RawMessage{}}
	l, err := c.ListenAPI()
	if err != nil {
		t.Fatal(err)
	}
	srv := &http.Server{Handler: c.APIHandler(), ReadHeaderTimeout: 5 * time.Second}
	go func() { _ = srv.Serve(l) }()
	defer srv.Close()
	base := "https://" + l.Addr().String()
	client := func(cert, key string) *http.Client {
		tc, err := tlsutil.Client(tlsutil.Files{CA: pki.CA, Cert: cert, Key: key}, "")
		if err != nil {
			t.Fatal(err)
		}
		return &http.Client{Transport: &http.Transport{TLSClientConfig: tc}}
	}
	noCert := &restClient{t: t, base: base, http: client("", "")}
	withCert := &restClient{t: t, base: base, http: client(pki.ClientCert, pki.ClientKey)}
	noCert.expect("GET", bp+"/probes", "", 200)
	if m := noCert.expect("DELETE", bp+"/probes/x", "", 401); !strings.Contains(m["errors"].(string), "client certificate") {
		t.Errorf("write without a certificate: %v", m)
	}
	withCert.expect("DELETE", bp+"/probes/x", "", 404) // through authentication, to the handler
}
