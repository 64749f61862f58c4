package restapi

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"mime"
	"net/http"
	"sort"
	"strings"

	"github.com/probe-agent/probe-agent/probe"
)

// MaxBodyBytes bounds request bodies; larger ones are refused with 413.
const MaxBodyBytes = 4 << 20

// WriteJSON answers v as JSON with the status.
func WriteJSON(w http.ResponseWriter, status int, v any) {
	body, err := json.Marshal(v)
	if err != nil {
		status = http.StatusInternalServerError
		body, _ = json.Marshal(map[string]string{"errors": "encoding the answer: " + err.Error()})
	}
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("X-Content-Type-Options", "nosniff")
	w.WriteHeader(status)
	_, _ = w.Write(append(body, '\n'))
}

// WriteError answers {"errors": detail}: a message string, or an object
// for validation problems.
func WriteError(w http.ResponseWriter, status int, detail any) {
	WriteJSON(w, status, map[string]any{"errors": detail})
}

// ReadObject reads a JSON object body: 415 for a declared non-JSON content
// type, 413 over MaxBodyBytes, 400 for anything but one JSON object (a
// syntax error says line and column). It reports false after answering.
func ReadObject(w http.ResponseWriter, r *http.Request) ([]byte, map[string]json.RawMessage, bool) {
	if ct := r.Header.Get("Content-Type"); ct != "" {
		mt, _, err := mime.ParseMediaType(ct)
		if err != nil || (mt != "application/json" && !strings.HasSuffix(mt, "+json")) {
			WriteError(w, http.StatusUnsupportedMediaType, fmt.Sprintf("content type %q is not JSON; send Content-Type: application/json", ct))
			return nil, nil, false
		}
	}
	body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, MaxBodyBytes))
	if err != nil {
		var tooBig *http.MaxBytesError
		if errors.As(err, &tooBig) {
			WriteError(w, http.StatusRequestEntityTooLarge, fmt.Sprintf("request body exceeds %d bytes", MaxBodyBytes))
			return nil, nil, false
		}
		WriteError(w, http.StatusBadRequest, "reading the request body: "+err.Error())
		return nil, nil, false
	}
	var obj map[string]json.RawMessage
	if err := json.Unmarshal(body, &obj); err != nil || obj == nil {
		msg := "the body must be a JSON object"
		if err != nil {
			msg = "bad JSON: " + probe.JSONError(body, err).Error()
		}
		WriteError(w, http.StatusBadRequest, msg)
		return nil, nil, false
	}
	return body, obj, true
}

// ValidID checks an id given in a POST body: a string usable as one path
// segment.
func ValidID(raw json.RawMessage) (string, error) {
	var id string
	if err := json.Unmarshal(raw, &id); err != nil {
		return "", errors.New(`"id" must be a string`)
	}
	if id == "" || strings.ContainsAny(id, "/?#%") || strings.TrimSpace(id) != id {
		return "", fmt.Errorf(`"id" %q must be non-empty, without surrounding spaces and without / ? # %%`, id)
	}
	return id, nil
}

// JSONMuxErrors turns the mux's own plain-text 404 and 405 answers into
// JSON errors, keeping their status and Allow header.
func JSONMuxErrors(mux *http.ServeMux) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		h, pattern := mux.Handler(r)
		if pattern != "" {
			mux.ServeHTTP(w, r) // sets the path values
			return
		}
		rec := &recorder{header: http.Header{}}
		h.ServeHTTP(rec, r)
		if allow := rec.header.Get("Allow"); allow != "" {
			w.Header().Set("Allow", allow)
		}
		switch rec.status {
		case http.StatusMethodNotAllowed:
			WriteError(w, rec.status, fmt.Sprintf("method %s is not allowed on %s; allowed: %s", r.Method, r.URL.Path, rec.header.Get("Allow")))
		case http.StatusNotFound, 0:
			WriteError(w, http.StatusNotFound, fmt.Sprintf("no such endpoint: %s %s", r.Method, r.URL.Path))
		default:
			// Redirects (e.g. path cleaning) and anything else pass as they are.
			for k, v := range rec.header {
				w.Header()[k] = v
			}
			w.WriteHeader(rec.status)
			_, _ = w.Write(rec.body.Bytes())
		}
	})
}

// recorder captures a response of the mux's built-in handlers.
type recorder struct {
	header http.Header
	status int
	body   bytes.Buffer
}

func (r *recorder) Header() http.Header { return r.header }
func (r *recorder) WriteHeader(code int) {
	if r.status == 0 {
		r.status = code
	}
}
func (r *recorder) Write(b []byte) (int, error) {
	if r.status == 0 {
		r.status = http.StatusOK
	}
	return r.body.Write(b)
}

// InBlueprint refuses paths whose {bp} is not the blueprint want returns
// (read at every request: a reload may rename it); who names the server
// in the error ("this agent", "this controller").
func InBlueprint(want func() string, who string, h http.HandlerFunc) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		if bp, want := r.PathValue("bp"), want(); bp != want {
			WriteError(w, http.StatusNotFound, fmt.Sprintf("blueprint %q not found: %s serves blueprint %q", bp, who, want))
			return
		}
		h(w, r)
	}
}

// ListProcessorTypes answers the processor catalog (introspection,
// GET .../telemetry/processors).
func ListProcessorTypes(w http.ResponseWriter, _ *http.Request) {
	WriteJSON(w, http.StatusOK, map[string]any{"items": probe.Catalog()})
}

// Processor finds processor name in a probe document as it was posted;
// without it, it returns the names there are, sorted.
func Processor(doc []byte, name string) (json.RawMessage, []string, error) {
	var d struct {
		Processors []json.RawMessage `json:"processors"`
	}
	if err := json.Unmarshal(doc, &d); err != nil {
		return nil, nil, err
	}
	var names []string
	for _, raw := range d.Processors {
		var head struct {
			Name string `json:"name"`
		}
		_ = json.Unmarshal(raw, &head)
		if head.Name == name {
			return raw, nil, nil
		}
		names = append(names, head.Name)
	}
	sort.Strings(names)
	return nil, names, nil
}
