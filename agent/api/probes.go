package api

import (
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/probe-agent/probe-agent/agent"
	"github.com/probe-agent/probe-agent/probe"
	"github.com/probe-agent/probe-agent/restapi"
)

// writeJSON and writeError answer JSON (restapi).
func writeJSON(w http.ResponseWriter, status int, v any) { restapi.WriteJSON(w, status, v) }

func writeError(w http.ResponseWriter, status int, detail any) {
	restapi.WriteError(w, status, detail)
}

// writeManagerError maps the Manager's errors to statuses.
func (s *Server) writeManagerError(w http.ResponseWriter, r *http.Request, id string, err error) {
	var verr *agent.ValidationError
	switch {
	case errors.As(err, &verr):
		problems := probe.Problems{}
		for _, d := range verr.Docs {
			problems = append(problems, d.Problems...)
		}
		writeError(w, http.StatusBadRequest, map[string]any{"message": "invalid probe", "problems": problems})
	case errors.Is(err, agent.ErrNotFound):
		writeError(w, http.StatusNotFound, fmt.Sprintf("probe %q not found", id))
	case errors.Is(err, agent.ErrExists):
		writeError(w, http.StatusConflict, fmt.Sprintf("probe %q already exists; PUT replaces it", id))
	case errors.Is(err, agent.ErrReadOnly):
		msg := fmt.Sprintf("probe %q is read-only: %v", id, err)
		if info, gerr := s.manager.Get(id); gerr == nil && info.Source != "" {
			msg = fmt.Sprintf("probe %q is read-only: it comes from %s (%s); change that file and send SIGHUP", id, info.Source, info.Origin)
		}
		writeError(w, http.StatusConflict, msg)
	default:
		s.log.Error("REST API request failed", "method", r.Method, "path", r.URL.Path, "err", err)
		writeError(w, http.StatusInternalServerError, err.Error())
	}
}

func (s *Server) createProbe(w http.ResponseWriter, r *http.Request) {
	body, obj, ok := restapi.ReadObject(w, r)
	if !ok {
		return
	}
	given := ""
	if raw, has := obj["id"]; has {
		id, err := restapi.ValidID(raw)
		if err != nil {
			writeError(w, http.StatusBadRequest, err.Error())
			return
		}
		given = id
	}
	id, err := s.manager.Create(body)
	if err != nil {
		s.writeManagerError(w, r, given, err)
		return
	}
	s.messages.note(id, "info", "created through the REST API")
	// The id may hold characters a URL path must not carry raw (spaces,
	// non-ASCII, ...): percent-encode it.
	w.Header().Set("Location", r.URL.EscapedPath()+"/"+url.PathEscape(id))
	writeJSON(w, http.StatusCreated, map[string]string{"id": id})
}

// probeJSON is a probe as GET answers it: the document as applied, plus
// id, state, last_error, anomaly_count, disabled and origin.
func probeJSON(info agent.ProbeInfo) (map[string]any, error) {
	doc := map[string]any{}
	if err := json.Unmarshal(info.Doc, &doc); err != nil {
		return nil, fmt.Errorf("probe %q: stored document: %w", info.ID, err)
	}
	doc["id"] = info.ID
	doc["label"] = info.Label
	doc["state"] = string(info.State)
	if info.LastError != "" {
		doc["last_error"] = map[string]string{"message": info.LastError}
	} else {
		doc["last_error"] = nil
	}
	doc["anomaly_count"] = info.AnomalyCount
	doc["disabled"] = info.Disabled
	doc["origin"] = string(info.Origin)
	return doc, nil
}

func (s *Server) listProbes(w http.ResponseWriter, r *http.Request) {
	items := []map[string]any{}
	for _, info := range s.manager.List() {
		doc, err := probeJSON(info)
		if err != nil {
			s.writeManagerError(w, r, info.ID, err)
			return
		}
		items = append(items, doc)
	}
	writeJSON(w, http.StatusOK, map[string]any{"items": items})
}

func (s *Server) getProbe(w http.ResponseWriter, r *http.Request) {
	id := r.PathValue("id")
	info, err := s.manager.Get(id)
	if err != nil {
		s.writeManagerError(w, r, id, err)
		return
	}
	doc, err := probeJSON(info)
	if err != nil {
		s.writeManagerError(w, r, id, err)
		return
	}
	writeJSON(w, http.StatusOK, doc)
}

func (s *Server) patchProbe(w http.ResponseWriter, r *http.Request) {
	id := r.PathValue("id")
	body, _, ok := restapi.ReadObject(w, r)
	if !ok {
		return
	}
	if err := s.manager.Patch(id, body); err != nil {
		s.writeManagerError(w, r, id, err)
		return
	}
	s.messages.note(id, "info", "metadata updated (PATCH)")
	s.getProbe(w, r)
}

func (s *Server) replaceProbe(w http.ResponseWriter, r *http.Request) {
	id := r.PathValue("id")
	body, obj, ok := restapi.ReadObject(w, r)
	if !ok {
		return
	}
	if _, has := obj["id"]; has {
		writeError(w, http.StatusBadRequest, "id is not allowed in PUT; the path names the probe")
		return
	}
	if err := s.manager.Replace(id, body); err != nil {
		s.writeManagerError(w, r, id, err)
		return
	}
	s.messages.note(id, "info", "replaced (PUT); state and time series restart")
	s.getProbe(w, r)
}

// deleteProbe answers 204 No Content.
func (s *Server) deleteProbe(w http.ResponseWriter, r *http.Request) {
	id := r.PathValue("id")
	if err := s.manager.Delete(id); err != nil {
		s.writeManagerError(w, r, id, err)
		return
	}
	s.messages.forget(id)
	w.WriteHeader(http.StatusNoContent)
}

func (s *Server) getStage(w http.ResponseWriter, r *http.Request) {
	id, name := r.PathValue("id"), r.PathValue("stage")
	var body []byte
	var names []string
	err := s.manager.View(id, func(_ agent.ProbeInfo, inst *probe.Instance) error {
		st, ok := inst.Stage(name)
		if !ok {
			names = inst.StageNames()
			return nil
		}
		var err error
		body, err = json.Marshal(st)
		return err
	})
	switch {
	case err != nil:
		s.writeManagerError(w, r, id, err)
	case body == nil:
		writeError(w, http.StatusNotFound, fmt.Sprintf("probe %q has no stage %q; its stages: %s", id, name, strings.Join(names, ", ")))
	default:
		if st := s.agent.Stats(); st.NoData != "" {
			body = withoutValues(body, st)
		}
		writeJSON(w, http.StatusOK, json.RawMessage(body))
	}
}

// withoutValues takes the items out of a stage answer while the collector
// has no data: missing data is missing, not its last value. The answer
// says why instead.
func withoutValues(body []byte, st agent.Stats) []byte {
	var m map[string]json.RawMessage
	if json.Unmarshal(body, &m) != nil {
		return body
	}
	_, single := m["value"]
	delete(m, "value")
	if !single {
		m["values"] = json.RawMessage("[]")
	}
	m["no_data"], _ = json.Marshal(map[string]any{
		"reason": "collector has no data: " + st.NoData,
		"since":  st.NoDataSince.UTC().Format(time.RFC3339),
	})
	out, err := json.Marshal(m)
	if err != nil {
		return body
	}
	return out
}

// getProcessor answers a processor's configuration as it was posted.
func (s *Server) getProcessor(w http.ResponseWriter, r *http.Request) {
	id, name := r.PathValue("id"), r.PathValue("name")
	info, err := s.manager.Get(id)
	if err != nil {
		s.writeManagerError(w, r, id, err)
		return
	}
	raw, names, err := restapi.Processor(info.Doc, name)
	switch {
	case err != nil:
		s.writeManagerError(w, r, id, err)
	case raw == nil:
		writeError(w, http.StatusNotFound, fmt.Sprintf("probe %q has no processor %q; its processors: %s", id, name, strings.Join(names, ", ")))
	default:
		writeJSON(w, http.StatusOK, raw)
	}
}

func (s *Server) getMessages(w http.ResponseWriter, r *http.Request) {
	id := r.PathValue("id")
	if _, err := s.manager.Get(id); err != nil {
		s.writeManagerError(w, r, id, err)
		return
	}
	writeJSON(w, http.StatusOK, map[string]any{"items": s.messages.list(id)})
}

// listAnomalies answers the raised anomalies. The agent raises only probe
// anomalies: ?type=probe (or no type, or type=all) lists them, any other
// type an empty list.
func (s *Server) listAnomalies(w http.ResponseWriter, r *http.Request) {
	items := []*probe.Anomaly{}
	switch t := r.URL.Query().Get("type"); t {
	case "", "probe", "all":
		items = append(items, s.manager.Anomalies()...)
	}
	writeJSON(w, http.StatusOK, map[string]any{"items": items})
}
