package api

import (
	"crypto/subtle"
	"fmt"
	"net/http"
	"os"
	"strings"
)

// writeAuth decides who may change probes. The API is read-only unless
// api.token_file (a bearer token) or api.tls.ca (client certificates) is
// configured: a configuration file alone must not open a write-capable
// API to every local user.
type writeAuth struct {
	token   []byte // nil: no token configured
	mtls    bool   // api.tls.ca set: writes need a verified client certificate
	loadErr error  // the token file could not be read: every write is refused
}

func newWriteAuth(tokenFile string, mtls bool) writeAuth {
	a := writeAuth{mtls: mtls}
	if tokenFile == "" {
		return a
	}
	data, err := os.ReadFile(tokenFile)
	if err != nil {
		a.loadErr = fmt.Errorf("api.token_file: %w", err)
		return a
	}
	tok := strings.TrimSpace(string(data))
	if tok == "" {
		a.loadErr = fmt.Errorf("api.token_file: %s is empty", tokenFile)
		return a
	}
	a.token = []byte(tok)
	return a
}

// readOnly reports whether no write authentication is configured.
func (a writeAuth) readOnly() bool { return a.token == nil && !a.mtls && a.loadErr == nil }

// allow checks one write request and answers it when it is refused.
func (a writeAuth) allow(w http.ResponseWriter, r *http.Request) bool {
	switch {
	case a.loadErr != nil:
		writeError(w, http.StatusServiceUnavailable, "writes are refused: "+a.loadErr.Error())
		return false
	case a.readOnly():
		writeError(w, http.StatusForbidden, "the REST API is read-only: set api.token_file (a bearer token) or api.tls.ca (client certificates) in the configuration to allow "+r.Method)
		return false
	}
	if a.mtls && (r.TLS == nil || len(r.TLS.VerifiedChains) == 0) {
		writeError(w, http.StatusUnauthorized, r.Method+" needs a client certificate signed by api.tls.ca")
		return false
	}
	if a.token != nil {
		got, ok := strings.CutPrefix(r.Header.Get("Authorization"), "Bearer ")
		if !ok || subtle.ConstantTimeCompare([]byte(strings.TrimSpace(got)), a.token) != 1 {
			w.Header().Set("WWW-Authenticate", `Bearer realm="probe-agent"`)
			writeError(w, http.StatusUnauthorized, r.Method+" needs the header Authorization: Bearer <the token in api.token_file>")
			return false
		}
	}
	return true
}

// writer wraps a handler that changes probes with the write check.
func (s *Server) writer(h http.HandlerFunc) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		if !s.auth.allow(w, r) {
			return
		}
		h(w, r)
	}
}

// describe names the write policy for the start-up log line.
func (a writeAuth) describe() string {
	switch {
	case a.readOnly():
		return "refused (read-only: no api.token_file or api.tls.ca)"
	case a.token != nil && a.mtls:
		return "client certificate and bearer token"
	case a.mtls:
		return "client certificate"
	default:
		return "bearer token"
	}
}
