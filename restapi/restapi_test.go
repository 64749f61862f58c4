package restapi

import (
	"bytes"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestWriteAuth: read-only without configuration, the token checked when
// set, every write refused when the token file cannot be read, client
// certificates required with mtls.
func TestWriteAuth(t *testing.T) {
	dir := t.TempDir()
	tok := filepath.Join(dir, "token")
	empty := filepath.Join(dir, "empty")
	if err := os.WriteFile(tok, []byte("s3cret\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(empty, []byte("  \n"), 0o600); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name      string
		tokenFile string
		mtls      bool
		header    string
		want      int
		wantMsg   string
	}{
		{"read-only", "", false, "", 403, "read-only"},
		{"token missing", tok, false, "", 401, "Authorization: Bearer"},
		{"token wrong", tok, false, "Bearer nope", 401, "Authorization: Bearer"},
		{"token right", tok, false, "Bearer s3cret", 200, ""},
		{"token file missing", filepath.Join(dir, "none"), false, "Bearer s3cret", 503, "api.token_file"},
		{"token file empty", empty, false, "Bearer s3cret", 503, "is empty"},
		{"mtls without certificate", "", true, "", 401, "client certificate"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			a := NewWriteAuth(tc.tokenFile, tc.mtls, "test")
			h := a.Writer(func(w http.ResponseWriter, _ *http.Request) { w.WriteHeader(200) })
			r := httptest.NewRequest("POST", "/x", nil)
			if tc.header != "" {
				r.Header.Set("Authorization", tc.header)
			}
			w := httptest.NewRecorder()
			h(w, r)
			if w.Code != tc.want || !strings.Contains(w.Body.String(), tc.wantMsg) {
				t.Errorf("status %d body %s; want %d with %q", w.Code, w.Body, tc.want, tc.wantMsg)
			}
			if tc.want == 401 && tc.tokenFile != "" && w.Header().Get("WWW-Authenticate") != `Bearer realm="test"` {
				t.Errorf("WWW-Authenticate %q", w.Header().Get("WWW-Authenticate"))
			}
		})
	}
}

func TestCheckListen(t *testing.T) {
	for _, tc := range []struct {
		listen string
		auth   bool
		ok     bool
	}{
		{"127.0.0.1:8443", false, true},
		{"[::1]:8443", false, true},
		{"localhost:8443", false, true},
		{"0.0.0.0:8443", false, false},
		{":8443", false, false},
		{"10.0.0.1:8443", false, false},
		{"10.0.0.1:8443", true, true},
		{":8443", true, true},
	} {
		err := CheckListen(tc.listen, tc.auth)
		if (err == nil) != tc.ok {
			t.Errorf("CheckListen(%q, %v) = %v, want ok %v", tc.listen, tc.auth, err, tc.ok)
		}
		if err != nil && !strings.Contains(err.Error(), "api.token_file") {
			t.Errorf("%q: error %v does not say how to fix it", tc.listen, err)
		}
	}
}

// TestMuxAndBodies: the mux's 404 and 405 come as JSON errors, bodies are
// checked (content type, size, one object), and blueprints scoped.
func TestMuxAndBodies(t *testing.T) {
	mux := http.NewServeMux()
	mux.HandleFunc("POST /api/blueprints/{bp}/probes", InBlueprint(func() string { return "dc1" }, "this test", func(w http.ResponseWriter, r *http.Request) {
		if _, _, ok := ReadObject(w, r); ok {
			WriteJSON(w, 201, map[string]string{"ok": "yes"})
		}
	}))
	h := JSONMuxErrors(mux)
	for _, tc := range []struct {
		name, method, path, ctype string
		body                      []byte
		want                      int
		wantMsg                   string
	}{
		{"created", "POST", "/api/blueprints/dc1/probes", "application/json", []byte(`{"a": 1}`), 201, `"ok"`},
		{"no such endpoint", "GET", "/nope", "", nil, 404, "no such endpoint"},
		{"method", "GET", "/api/blueprints/dc1/probes", "", nil, 405, "allowed: POST"},
		{"other blueprint", "POST", "/api/blueprints/dc2/probes", "", []byte(`{}`), 404, `this test serves blueprint \"dc1\"`},
		{"not json", "POST", "/api/blueprints/dc1/probes", "text/plain", []byte(`{}`), 415, "not JSON"},
		{"too large", "POST", "/api/blueprints/dc1/probes", "", bytes.Repeat([]byte(" "), MaxBodyBytes+1), 413, "exceeds"},
		{"array", "POST", "/api/blueprints/dc1/probes", "", []byte(`[1]`), 400, "bad JSON"},
		{"null", "POST", "/api/blueprints/dc1/probes", "", []byte(`null`), 400, "JSON object"},
		{"syntax", "POST", "/api/blueprints/dc1/probes", "", []byte("{\n\"a\": }"), 400, "line 2"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := httptest.NewRequest(tc.method, tc.path, bytes.NewReader(tc.body))
			if tc.ctype != "" {
				r.Header.Set("Content-Type", tc.ctype)
			}
			w := httptest.NewRecorder()
			h.ServeHTTP(w, r)
			if w.Code != tc.want || !strings.Contains(w.Body.String(), tc.wantMsg) || w.Header().Get("Content-Type") != "application/json" {
				t.Errorf("status %d (%s) body %s; want %d with %q", w.Code, w.Header().Get("Content-Type"), w.Body, tc.want, tc.wantMsg)
			}
		})
	}
}

func TestValidIDAndProcessor(t *testing.T) {
	for raw, ok := range map[string]bool{`"a-b"`: true, `""`: false, `"a/b"`: false, `" a"`: false, `3`: false} {
		if _, err := ValidID(json.RawMessage(raw)); (err == nil) != ok {
			t.Errorf("ValidID(%s) = %v, want ok %v", raw, err, ok)
		}
	}
	doc := []byte(`{"processors": [{"name": "b", "type": "x"}, {"name": "a", "type": "y"}]}`)
	raw, _, err := Processor(doc, "a")
	if err != nil || !strings.Contains(string(raw), `"y"`) {
		t.Errorf("Processor a = %s, %v", raw, err)
	}
	raw, names, err := Processor(doc, "c")
	if err != nil || raw != nil || strings.Join(names, ",") != "a,b" {
		t.Errorf("Processor c = %s %v %v, want the sorted names", raw, names, err)
	}
}
