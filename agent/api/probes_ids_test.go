package api

import (
	"encoding/json"
	"net/http"
	"net/url"
	"strings"
	"testing"
)

const idTestProbe = `{"label":"ids","processors":[{"name":"c","type":"if_counter","outputs":{"out":"rate"},"properties":{"counter_type":"tx_bytes"}}]}`

// TestLocationIsPercentEncoded: a created probe's Location names it with
// its id percent-encoded, and that URL reaches the probe.
func TestLocationIsPercentEncoded(t *testing.T) {
	e := newEnv(t, testConfig(t))
	for _, tc := range []struct{ id, loc string }{
		{"with space", "with%20space"},
		{"ünï", "%C3%BCn%C3%AF"},
		{"a+b&c=d", "a+b&c=d"},
		{"plain-id", "plain-id"},
	} {
		body := withField(t, []byte(idTestProbe), "id", tc.id)
		r := e.do("POST", e.bp+"/probes", body)
		e.want(r, http.StatusCreated, "POST "+tc.id)
		loc := r.header.Get("Location")
		if loc != e.bp+"/probes/"+tc.loc {
			t.Errorf("id %q: Location %q, want %q", tc.id, loc, e.bp+"/probes/"+tc.loc)
		}
		if got := e.do("GET", loc, nil); got.status != http.StatusOK || got.json(t)["id"] != tc.id {
			t.Errorf("GET %s: %d %s", loc, got.status, got.body)
		}
	}
}

// TestRefusedIDs: ids that are path segments or carry control or bidi
// characters are refused with a message naming the id field.
func TestRefusedIDs(t *testing.T) {
	e := newEnv(t, testConfig(t))
	for _, id := range []string{".", "..", "a\x00b", "line\nbreak", "rlo\u202eevil"} {
		r := e.do("POST", e.bp+"/probes", withField(t, []byte(idTestProbe), "id", id))
		if r.status != http.StatusBadRequest || !strings.Contains(string(r.body), "id") {
			t.Errorf("POST with id %q: %d %s, want 400 naming the id", id, r.status, r.body)
		}
	}
}

// TestPatchKeepsDerivedIDOverREST: a probe applied without an id (its id
// derived from the content) keeps that id through a REST PATCH of its
// label; the old URL still answers and no other probe appears.
func TestPatchKeepsDerivedIDOverREST(t *testing.T) {
	e := newEnv(t, testConfig(t))
	res, err := e.agent.Manager().Apply(1, [][]byte{[]byte(idTestProbe)})
	if err != nil {
		t.Fatal(err)
	}
	id := res[0].ID
	path := e.bp + "/probes/" + url.PathEscape(id)
	r := e.do("PATCH", path, []byte(`{"label":"renamed"}`))
	e.want(r, http.StatusOK, "PATCH")
	if got := r.json(t); got["id"] != id || got["label"] != "renamed" {
		t.Errorf("PATCH answered %v, want id %s", got, id)
	}
	r = e.do("GET", e.bp+"/probes", nil)
	var list struct {
		Items []map[string]any `json:"items"`
	}
	if err := json.Unmarshal(r.body, &list); err != nil || len(list.Items) != 1 || list.Items[0]["id"] != id {
		t.Errorf("after PATCH: %s", r.body)
	}
}
