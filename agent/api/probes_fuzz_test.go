package api

import (
	"bytes"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"path/filepath"
	"testing"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/probe-agent/probe-agent/agent"
)

// FuzzProbeBodies posts arbitrary bodies to the probe endpoints (POST,
// then PATCH and PUT of the created probe): every answer is a client
// error or a success, never a 500 or a panic, a created probe can be read
// back, and a PATCH never changes the probe's id.
func FuzzProbeBodies(f *testing.F) {
	seeds, _ := filepath.Glob("testdata/fuzz-bodies/*.json")
	for _, name := range seeds {
		data, err := os.ReadFile(name)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(data, []byte(`{"label":"patched","stages":[{"name":"rate","units":"Bps"}]}`))
	}
	f.Add([]byte(`{"id":"..","label":"x","processors":[]}`), []byte(`{"id":"other"}`))
	f.Add([]byte(`null`), []byte(`[]`))
	f.Add([]byte(`{"label":"x","processors":[{"name":"c","type":"if_counter","outputs":{"out":"rate"},"properties":{"counter_type":"tx_bytes"}}]}`), []byte(`{"stages":[null,{"name":"rate"}]}`))

	cfg := agent.Defaults()
	cfg.SystemID, cfg.BlueprintID = "leaf1", "dc1"
	cfg.StateDir = f.TempDir()
	cfg.ProbesDir = ""
	cfg.API.TokenFile = filepath.Join(cfg.StateDir, "api.token")
	if err := os.WriteFile(cfg.API.TokenFile, []byte(testToken+"\n"), 0o600); err != nil {
		f.Fatal(err)
	}
	quiet := slog.New(slog.NewTextHandler(io.Discard, nil))
	a, err := agent.New(cfg, agent.Options{Logger: quiet, Stdout: io.Discard, Collector: nopCollector{}})
	if err != nil {
		f.Fatal(err)
	}
	h := NewServer(a, cfg, prometheus.NewRegistry(), quiet).Handler()
	do := func(t *testing.T, method, path string, body []byte) (int, []byte) {
		req := httptest.NewRequest(method, path, bytes.NewReader(body))
		req.Header.Set("Content-Type", "application/json")
		req.Header.Set("Authorization", "Bearer "+testToken)
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, req)
		if rec.Code >= 500 {
			t.Fatalf("%s %s %q: %d %s", method, path, body, rec.Code, rec.Body.Bytes())
		}
		return rec.Code, rec.Body.Bytes()
	}
	const base = "/api/blueprints/dc1/probes"
	// The target reaches the handlers (no authentication in the way).
	probe := httptest.NewRequest("POST", base, bytes.NewReader([]byte(`{"id":"check","label":"x","processors":[{"name":"c","type":"if_counter","outputs":{"out":"rate"},"properties":{"counter_type":"tx_bytes"}}]}`)))
	probe.Header.Set("Content-Type", "application/json")
	probe.Header.Set("Authorization", "Bearer "+testToken)
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, probe)
	if rec.Code != http.StatusCreated || rec.Header().Get("Location") != base+"/check" {
		f.Fatalf("setup POST: %d %s", rec.Code, rec.Body)
	}
	f.Fuzz(func(t *testing.T, post, patch []byte) {
		code, body := do(t, "POST", base, post)
		if code != http.StatusCreated {
			return
		}
		var created struct {
			ID string `json:"id"`
		}
		if err := json.Unmarshal(body, &created); err != nil || created.ID == "" {
			t.Fatalf("201 without an id: %s", body)
		}
		path := base + "/" + url.PathEscape(created.ID)
		defer do(t, "DELETE", path, nil)
		if code, body := do(t, "GET", path, nil); code != http.StatusOK {
			t.Fatalf("GET of created %q: %d %s", created.ID, code, body)
		}
		if code, _ := do(t, "PATCH", path, patch); code == http.StatusOK {
			if _, err := a.Manager().Get(created.ID); err != nil {
				t.Fatalf("after PATCH %q the probe %q is gone: %v", patch, created.ID, err)
			}
		}
		do(t, "PUT", path, patch)
	})
}
