package controller

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"net/http"
	"slices"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/probe-agent/probe-agent/connlimit"
	"github.com/probe-agent/probe-agent/probe"
	pb "github.com/probe-agent/probe-agent/proto/probeagent/v1"
	"github.com/probe-agent/probe-agent/restapi"
)

// gatherTimeout bounds the calls that read an edge stage or a device's
// probe error from the agents on demand.
const gatherTimeout = 5 * time.Second

// setClient records the agent's control plane while a session is
// connected (nil when it is not): the REST API reads edge stages through
// it instead of dialling again.
func (s *session) setClient(c pb.ProbeControlClient) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.client = c
	if c == nil {
		s.results = nil
	}
}

// conn returns the connected client, or nil.
func (s *session) conn() pb.ProbeControlClient {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.client
}

// result is what the last successful push did with probe id on this
// agent ("" when the agent has not applied it).
func (s *session) result(id string) string {
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, r := range s.results {
		if r.GetId() == id {
			return r.GetState()
		}
	}
	return ""
}

// api is the controller's REST API: the seed's probe API for the
// fabric's blueprint, served from the fabric probe set, the central
// evaluators and, for stages evaluated on the devices, the agents.
type api struct {
	c    *Controller
	auth restapi.WriteAuth
}

// APIHandler serves the REST API under /api/blueprints/{bp}/... beside
// the operational endpoints of Handler (/metrics, /healthz, /readyz,
// /status). Writes are refused unless api.token_file or api.tls.ca is
// configured (restapi.WriteAuth).
func (c *Controller) APIHandler() http.Handler {
	c.mu.Lock()
	cfg := c.cfg.API
	c.mu.Unlock()
	a := &api{c: c, auth: restapi.NewWriteAuth(cfg.TokenFile, cfg.TLS.CA != "", "probe-controller")}
	ops := c.Handler()
	m := http.NewServeMux()
	for _, p := range []string{"GET /metrics", "GET /healthz", "GET /readyz", "GET /status"} {
		m.Handle(p, ops)
	}
	in := func(h http.HandlerFunc) http.HandlerFunc {
		return restapi.InBlueprint(c.BlueprintID, "this controller", h)
	}
	w := a.auth.Writer
	const bp = "/api/blueprints/{bp}"
	m.HandleFunc("POST "+bp+"/probes", in(w(a.createProbe)))
	m.HandleFunc("GET "+bp+"/probes", in(a.listProbes))
	m.HandleFunc("PUT "+bp+"/probes", in(w(a.setProbes)))
	m.HandleFunc("GET /api/blueprints", a.listBlueprints)
	m.HandleFunc("GET "+bp+"/probes/{id}", in(a.getProbe))
	m.HandleFunc("PATCH "+bp+"/probes/{id}", in(w(a.patchProbe)))
	m.HandleFunc("PUT "+bp+"/probes/{id}", in(w(a.replaceProbe)))
	m.HandleFunc("DELETE "+bp+"/probes/{id}", in(w(a.deleteProbe)))
	m.HandleFunc("GET "+bp+"/probes/{id}/stages/{stage}", in(a.getStage))
	m.HandleFunc("GET "+bp+"/probes/{id}/processors/{name}", in(a.getProcessor))
	m.HandleFunc("GET "+bp+"/anomalies", in(a.listAnomalies))
	m.HandleFunc("GET "+bp+"/agents", in(a.listAgents))
	m.HandleFunc("GET "+bp+"/telemetry/processors", in(restapi.ListProcessorTypes))
	return restapi.JSONMuxErrors(m)
}

// BlueprintID is the blueprint the controller serves.
func (c *Controller) BlueprintID() string {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.cfg.BlueprintID
}

// ListenAPI opens api.listen (HTTPS when api.tls names a certificate and
// key; client certificates asked for when it names a CA). It refuses an
// address reachable from the network when nothing authenticates writes,
// and a token file it cannot read.
func (c *Controller) ListenAPI() (net.Listener, error) {
	l, _, err := c.listenAPI()
	return l, err
}

// listenAPI is ListenAPI, also returning the connection bound
// (api.max_connections) the listener enforces.
func (c *Controller) listenAPI() (net.Listener, *connlimit.Listener, error) {
	c.mu.Lock()
	cfg := c.cfg.API
	c.mu.Unlock()
	if err := restapi.CheckListen(cfg.Listen, cfg.TokenFile != "" || cfg.TLS.CA != ""); err != nil {
		return nil, nil, fmt.Errorf("api.listen: %w", err)
	}
	if a := restapi.NewWriteAuth(cfg.TokenFile, false, ""); a.LoadErr != nil {
		return nil, nil, a.LoadErr
	}
	tc, err := restapi.ServerTLS(restapi.TLSFiles{Cert: cfg.TLS.Cert, Key: cfg.TLS.Key, CA: cfg.TLS.CA})
	if err != nil {
		return nil, nil, err
	}
	maxConns, _, _ := cfg.Limits()
	return restapi.ListenLimited(cfg.Listen, tc, maxConns)
}

// writeProbeError answers a refused probe: 422 with every problem, before
// anything was pushed.
func (a *api) writeProbeError(w http.ResponseWriter, err error) {
	var pe *ProbeError
	if errors.As(err, &pe) {
		restapi.WriteError(w, http.StatusUnprocessableEntity, map[string]any{"message": "invalid probe " + pe.Probe + "; nothing was pushed", "problems": pe.Problems})
		return
	}
	var all []string
	for _, e := range unjoin(err) {
		if errors.As(e, &pe) {
			all = append(all, pe.Problems...)
		}
	}
	if len(all) > 0 {
		restapi.WriteError(w, http.StatusUnprocessableEntity, map[string]any{"message": "invalid probes; nothing was pushed", "problems": all})
		return
	}
	a.c.log.Error("REST API write failed", "err", err)
	restapi.WriteError(w, http.StatusInternalServerError, err.Error())
}

func unjoin(err error) []error {
	if j, ok := err.(interface{ Unwrap() []error }); ok {
		return j.Unwrap()
	}
	return []error{err}
}

func (a *api) createProbe(w http.ResponseWriter, r *http.Request) {
	body, obj, ok := restapi.ReadObject(w, r)
	if !ok {
		return
	}
	if raw, has := obj["id"]; has {
		id, err := restapi.ValidID(raw)
		if err != nil {
			restapi.WriteError(w, http.StatusBadRequest, err.Error())
			return
		}
		if _, exists := a.c.ProbeDocument(id); exists {
			restapi.WriteError(w, http.StatusConflict, fmt.Sprintf("probe %q already exists; PUT replaces it", id))
			return
		}
	}
	id, _, err := a.c.AddProbe(body)
	if err != nil {
		a.writeProbeError(w, err)
		return
	}
	w.Header().Set("Location", r.URL.Path+"/"+id)
	restapi.WriteJSON(w, http.StatusCreated, map[string]string{"id": id})
}

// setProbes makes the fabric probe set exactly the documents of the body
// {"probes": [...]}, atomically (probectl apply --controller): every
// document is validated and resolved first, any problem refuses the whole
// set with 422, otherwise the set is saved with a new generation and
// pushed. The answer says what happened to each probe, as ApplyProbes'.
func (a *api) setProbes(w http.ResponseWriter, r *http.Request) {
	_, obj, ok := restapi.ReadObject(w, r)
	if !ok {
		return
	}
	var docs []json.RawMessage
	if err := json.Unmarshal(obj["probes"], &docs); err != nil || obj["probes"] == nil {
		restapi.WriteError(w, http.StatusBadRequest, `the body must be {"probes": [probe documents]}`)
		return
	}
	raw := make([][]byte, len(docs))
	for i, d := range docs {
		raw[i] = d
	}
	a.c.mu.Lock()
	before := cloneDocs(a.c.docs)
	a.c.mu.Unlock()
	gen, err := a.c.SetProbes(raw)
	if err != nil {
		a.writeProbeError(w, err)
		return
	}
	a.c.mu.Lock()
	after := cloneDocs(a.c.docs)
	a.c.mu.Unlock()
	type result struct {
		ID     string `json:"id"`
		Action string `json:"action"`
	}
	results := []result{}
	for _, id := range sortedKeys(after) {
		switch old, had := before[id]; {
		case !had:
			results = append(results, result{id, "created"})
		case string(old) == string(after[id]):
			results = append(results, result{id, "unchanged"})
		default:
			results = append(results, result{id, "replaced"})
		}
	}
	for _, id := range sortedKeys(before) {
		if _, ok := after[id]; !ok {
			results = append(results, result{id, "deleted"})
		}
	}
	restapi.WriteJSON(w, http.StatusOK, map[string]any{"generation": gen, "results": results})
}

// listBlueprints answers the one blueprint the controller serves, so that
// a client can find the paths without being told the id.
func (a *api) listBlueprints(w http.ResponseWriter, _ *http.Request) {
	restapi.WriteJSON(w, http.StatusOK, map[string]any{"items": []map[string]string{{"id": a.c.BlueprintID()}}})
}

func (a *api) listProbes(w http.ResponseWriter, _ *http.Request) {
	items := []map[string]any{}
	for _, ps := range a.c.Probes() {
		if doc, ok := a.c.probeJSON(ps.ID, false); ok {
			items = append(items, doc)
		}
	}
	restapi.WriteJSON(w, http.StatusOK, map[string]any{"items": items})
}

func (a *api) getProbe(w http.ResponseWriter, r *http.Request) {
	id := r.PathValue("id")
	doc, ok := a.c.probeJSON(id, true)
	if !ok {
		notFound(w, id)
		return
	}
	restapi.WriteJSON(w, http.StatusOK, doc)
}

func notFound(w http.ResponseWriter, id string) {
	restapi.WriteError(w, http.StatusNotFound, fmt.Sprintf("probe %q not found", id))
}

// patchProbe changes a probe's metadata, as the agent's PATCH does: label,
// description, tags and disabled. The changed document is pushed like any
// other change (disabled: true stops the devices' parts).
func (a *api) patchProbe(w http.ResponseWriter, r *http.Request) {
	id := r.PathValue("id")
	_, patch, ok := restapi.ReadObject(w, r)
	if !ok {
		return
	}
	stored, ok := a.c.ProbeDocument(id)
	if !ok {
		notFound(w, id)
		return
	}
	var doc map[string]json.RawMessage
	if err := json.Unmarshal(stored, &doc); err != nil {
		a.writeProbeError(w, fmt.Errorf("probe %q: stored document: %w", id, err))
		return
	}
	for _, k := range sortedKeys(patch) {
		switch k {
		case "label", "description", "tags", "disabled":
			doc[k] = patch[k]
		default:
			restapi.WriteError(w, http.StatusBadRequest, fmt.Sprintf("%s: PATCH changes only label, description, tags and disabled; use PUT to replace the probe", k))
			return
		}
	}
	next, _ := json.Marshal(doc)
	if _, _, err := a.c.AddProbe(next); err != nil {
		a.writeProbeError(w, err)
		return
	}
	a.getProbe(w, r)
}

func (a *api) replaceProbe(w http.ResponseWriter, r *http.Request) {
	id := r.PathValue("id")
	_, obj, ok := restapi.ReadObject(w, r)
	if !ok {
		return
	}
	if _, has := obj["id"]; has {
		restapi.WriteError(w, http.StatusBadRequest, "id is not allowed in PUT; the path names the probe")
		return
	}
	if _, ok := a.c.ProbeDocument(id); !ok {
		notFound(w, id)
		return
	}
	obj["id"], _ = json.Marshal(id)
	next, _ := json.Marshal(obj)
	if _, _, err := a.c.AddProbe(next); err != nil {
		a.writeProbeError(w, err)
		return
	}
	a.getProbe(w, r)
}

func (a *api) deleteProbe(w http.ResponseWriter, r *http.Request) {
	id := r.PathValue("id")
	if _, ok := a.c.ProbeDocument(id); !ok {
		notFound(w, id)
		return
	}
	if _, err := a.c.DeleteProbe(id); err != nil {
		a.writeProbeError(w, err)
		return
	}
	w.WriteHeader(http.StatusNoContent)
}

// DeviceState is one device's side of a fabric probe.
type DeviceState struct {
	// State is operational (the device runs the current generation's
	// part), pending (not applied yet), or error (the agent refused its
	// part, is down, or runs the part in error; Error says which).
	State      string `json:"state"`
	Generation uint64 `json:"generation"`
	Error      string `json:"error,omitempty"`
}

// probeJSON is a fabric probe as GET answers it: the document as stored,
// plus id, label, state, last_error, anomaly_count and disabled as the
// agent's API has them, and the fabric's view: the generation, the
// devices with items, each device's state, and the central part's
// partial marking. state is error when the probe does not compile on the
// fabric, when a device refused its part or runs it in error, or when the
// central part fails; last_error then names the devices and why. With
// details, the reasons of devices that run their part in error are asked
// from those agents.
func (c *Controller) probeJSON(id string, details bool) (map[string]any, bool) {
	c.mu.Lock()
	stored, ok := c.docs[id]
	comp := c.probes[id]
	refused := c.refused[id]
	gen := c.generation
	sessions := map[string]*session{}
	if comp != nil {
		for dev := range comp.edge {
			if s, ok := c.sessions[dev]; ok {
				sessions[dev] = s
			}
		}
	}
	c.mu.Unlock()
	if !ok {
		return nil, false
	}
	doc := map[string]any{}
	_ = json.Unmarshal(stored, &doc)
	doc["id"] = id
	if _, has := doc["disabled"]; !has {
		doc["disabled"] = false
	}
	doc["generation"] = gen
	anomalies := 0
	for _, an := range c.Anomalies() {
		if an.Probe == id {
			anomalies++
		}
	}
	doc["anomaly_count"] = anomalies
	var problems []string
	state := "operational"
	if refused != nil {
		state, problems = "error", []string{refused.Error()}
	}
	if comp != nil {
		doc["label"], doc["edge_only"], doc["devices"] = comp.label, comp.split.EdgeOnly(), nonNil(comp.devices)
		devices := map[string]DeviceState{}
		for _, dev := range sortedKeys(comp.edge) {
			ds := DeviceState{State: "pending"}
			s := sessions[dev]
			if s == nil {
				devices[dev] = ds
				continue
			}
			st := s.status()
			ds.Generation = st.Generation
			switch {
			case st.State == "down":
				// Refused its part, or unreachable: either way the device
				// does not run it now.
				ds.State, ds.Error = "error", firstNonEmpty(st.LastError, "the agent is down")
			case st.Generation >= gen && s.result(id) == "error":
				ds.State, ds.Error = "error", "the probe is in error on the device"
				if details {
					ds.Error = c.deviceProbeError(s, id, ds.Error)
				}
			case st.Generation >= gen:
				ds.State = "operational"
			}
			devices[dev] = ds
		}
		pending := false
		for _, dev := range sortedKeys(devices) {
			switch devices[dev].State {
			case "error":
				state = "error"
				problems = append(problems, dev+": "+devices[dev].Error)
			case "pending":
				pending = true
			}
		}
		if pending && state != "error" {
			state = "created"
		}
		doc["device_states"] = devices
		c.Central(id, func(_ *probe.Instance, cs CentralStatus) {
			doc["partial"], doc["missing_devices"] = cs.Partial, cs.Missing
			if cs.LastError != "" {
				state = "error"
				problems = append(problems, "central: "+cs.LastError)
			}
		})
		if n := len(problems); n > 0 && refused == nil {
			problems = append([]string{fmt.Sprintf("failed on %d of %d devices", countDevices(problems), len(devices))}, problems...)
		}
	}
	doc["state"] = state
	if len(problems) > 0 {
		doc["last_error"] = map[string]string{"message": strings.Join(problems, "; ")}
	} else {
		doc["last_error"] = nil
	}
	return doc, true
}

func countDevices(problems []string) int {
	n := 0
	for _, p := range problems {
		if !strings.HasPrefix(p, "central: ") {
			n++
		}
	}
	return n
}

func nonNil(s []string) []string {
	if s == nil {
		return []string{}
	}
	return s
}

// deviceProbeError asks the agent why its part of probe id is in error.
func (c *Controller) deviceProbeError(s *session, id, fallback string) string {
	client := s.conn()
	if client == nil {
		return fallback
	}
	ctx, cancel := context.WithTimeout(context.Background(), gatherTimeout)
	defer cancel()
	p, err := client.GetProbe(ctx, &pb.GetProbeRequest{Id: id})
	if err != nil || p.GetLastError() == "" {
		return fallback
	}
	return p.GetLastError()
}

// getStage answers one stage of a fabric probe. A stage of the central
// part comes from the central evaluator; a stage evaluated on the devices
// is gathered now from the agents that hold items of it (GetStage) and
// merged into one answer, the union of their items. Either answer says
// "partial": true and names the missing devices when it leaves devices
// out.
func (a *api) getStage(w http.ResponseWriter, r *http.Request) {
	id, name := r.PathValue("id"), r.PathValue("stage")
	c := a.c
	c.mu.Lock()
	_, stored := c.docs[id]
	comp := c.probes[id]
	refused := c.refused[id]
	var sessions []*session
	if comp != nil {
		for _, dev := range comp.devices {
			if s, ok := c.sessions[dev]; ok {
				sessions = append(sessions, s)
			}
		}
	}
	c.mu.Unlock()
	switch {
	case !stored:
		notFound(w, id)
		return
	case comp == nil:
		restapi.WriteError(w, http.StatusConflict, fmt.Sprintf("probe %q does not run on this fabric: %v", id, refused))
		return
	}
	if comp.split.Edge != nil && hasStage(comp.split.Edge, name) {
		body, err := a.gatherEdgeStage(r.Context(), id, name, comp.devices, sessions)
		if err != nil {
			restapi.WriteError(w, http.StatusBadGateway, err.Error())
			return
		}
		restapi.WriteJSON(w, http.StatusOK, body)
		return
	}
	var body map[string]any
	c.Central(id, func(inst *probe.Instance, cs CentralStatus) {
		st, ok := inst.Stage(name)
		if !ok {
			return
		}
		js, err := json.Marshal(st)
		if err != nil || json.Unmarshal(js, &body) != nil {
			return
		}
		body["partial"] = cs.Partial
		if cs.Partial {
			body["missing_devices"] = cs.Missing
		}
		if cs.Skipped {
			body["skipped"] = true
		}
	})
	if body == nil {
		var names []string
		for _, si := range comp.split.Probe.StageGraph() {
			names = append(names, si.Name)
		}
		sort.Strings(names)
		restapi.WriteError(w, http.StatusNotFound, fmt.Sprintf("probe %q has no stage %q; its stages: %s", id, name, strings.Join(names, ", ")))
		return
	}
	restapi.WriteJSON(w, http.StatusOK, body)
}

func hasStage(p *probe.Plan, name string) bool {
	for _, si := range p.StageGraph() {
		if si.Name == name {
			return true
		}
	}
	return false
}

// gatherEdgeStage asks every device of the probe for the stage at once
// and merges the answers; a device that is not connected or does not
// answer is left out and named.
func (a *api) gatherEdgeStage(ctx context.Context, id, name string, devices []string, sessions []*session) (map[string]any, error) {
	ctx, cancel := context.WithTimeout(ctx, gatherTimeout)
	defer cancel()
	type answer struct {
		dev  string
		body map[string]json.RawMessage
		err  error
	}
	answers := make([]answer, len(sessions))
	var wg sync.WaitGroup
	for i, s := range sessions {
		answers[i].dev = s.info.Device
		client := s.conn()
		if client == nil {
			answers[i].err = errors.New("not connected")
			continue
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			resp, err := client.GetStage(ctx, &pb.GetStageRequest{ProbeId: id, Stage: name})
			if err != nil {
				answers[i].err = err
				return
			}
			answers[i].err = json.Unmarshal([]byte(resp.GetJson()), &answers[i].body)
		}()
	}
	wg.Wait()
	var parts []map[string]json.RawMessage
	missing := []string{}
	deviceErrors := map[string]string{}
	heard := map[string]bool{}
	for _, an := range answers {
		if an.err != nil {
			missing = append(missing, an.dev)
			deviceErrors[an.dev] = an.err.Error()
			continue
		}
		heard[an.dev] = true
		parts = append(parts, an.body)
	}
	for _, dev := range devices {
		if !heard[dev] && !slices.Contains(missing, dev) {
			missing = append(missing, dev)
			deviceErrors[dev] = "no session"
		}
	}
	sort.Strings(missing)
	if len(parts) == 0 {
		if len(devices) == 0 {
			return nil, fmt.Errorf("probe %q: no device holds items of stage %q", id, name)
		}
		return nil, fmt.Errorf("probe %q stage %q: no device answered: %s", id, name, joinErrors(deviceErrors))
	}
	out := mergeStageAnswers(parts)
	out["partial"] = len(missing) > 0
	if len(missing) > 0 {
		out["missing_devices"] = missing
		out["device_errors"] = deviceErrors
	}
	return out, nil
}

func joinErrors(m map[string]string) string {
	var parts []string
	for _, dev := range sortedKeys(m) {
		parts = append(parts, dev+": "+m[dev])
	}
	return strings.Join(parts, "; ")
}

// mergeStageAnswers makes one stage answer of the same stage as several
// devices render it: a set stage holds the union of their items, sorted
// by properties as the engine sorts them; a single-item stage the first
// device's valid value.
func mergeStageAnswers(parts []map[string]json.RawMessage) map[string]any {
	out := map[string]any{}
	for k, v := range parts[0] {
		out[k] = v
	}
	if _, set := parts[0]["values"]; !set {
		for _, p := range parts {
			if v, ok := p["value"]; ok && string(v) != "null" {
				for k, v := range p {
					out[k] = v
				}
				break
			}
		}
		return out
	}
	var keys []string
	_ = json.Unmarshal(parts[0]["properties"], &keys)
	type item struct {
		props []string
		raw   json.RawMessage
	}
	var items []item
	for _, p := range parts {
		var values []json.RawMessage
		_ = json.Unmarshal(p["values"], &values)
		for _, v := range values {
			var head struct {
				Properties map[string]string `json:"properties"`
			}
			_ = json.Unmarshal(v, &head)
			props := make([]string, len(keys))
			for i, k := range keys {
				props[i] = head.Properties[k]
			}
			items = append(items, item{props, v})
		}
	}
	sort.SliceStable(items, func(i, j int) bool { return slices.Compare(items[i].props, items[j].props) < 0 })
	values := make([]json.RawMessage, len(items))
	for i, it := range items {
		values[i] = it.raw
	}
	out["values"] = values
	return out
}

func (a *api) getProcessor(w http.ResponseWriter, r *http.Request) {
	id, name := r.PathValue("id"), r.PathValue("name")
	doc, ok := a.c.ProbeDocument(id)
	if !ok {
		notFound(w, id)
		return
	}
	raw, names, err := restapi.Processor(doc, name)
	switch {
	case err != nil:
		restapi.WriteError(w, http.StatusInternalServerError, fmt.Sprintf("probe %q: stored document: %v", id, err))
	case raw == nil:
		restapi.WriteError(w, http.StatusNotFound, fmt.Sprintf("probe %q has no processor %q; its processors: %s", id, name, strings.Join(names, ", ")))
	default:
		restapi.WriteJSON(w, http.StatusOK, raw)
	}
}

// listAnomalies answers the fabric's active anomalies, central and edge,
// each as the anomaly API renders it plus "origin" (central or edge) and,
// for an edge anomaly, the "device" that raised it. As on the agent, only
// probe anomalies exist: ?type=probe (or none, or all) lists them, any
// other type an empty list.
func (a *api) listAnomalies(w http.ResponseWriter, r *http.Request) {
	items := []map[string]any{}
	switch r.URL.Query().Get("type") {
	case "", "probe", "all":
		for _, an := range a.c.Anomalies() {
			m := map[string]any{}
			if json.Unmarshal(an.JSON, &m) != nil {
				m = map[string]any{"probe_id": an.Probe, "stage": an.Stage, "item_id": an.ItemID}
			}
			m["origin"] = an.Origin
			if an.Device != "" {
				m["device"] = an.Device
			}
			items = append(items, m)
		}
	}
	restapi.WriteJSON(w, http.StatusOK, map[string]any{"items": items})
}

// listAgents answers every agent's session (probectl controller agents).
func (a *api) listAgents(w http.ResponseWriter, _ *http.Request) {
	agents := a.c.Agents()
	if agents == nil {
		agents = []AgentStatus{}
	}
	restapi.WriteJSON(w, http.StatusOK, map[string]any{"generation": a.c.Generation(), "items": agents})
}
