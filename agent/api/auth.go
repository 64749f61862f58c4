package api

import "net/http"

// writer wraps a handler that changes probes with the write check
// (restapi.WriteAuth: read-only unless api.token_file or api.tls.ca).
func (s *Server) writer(h http.HandlerFunc) http.HandlerFunc { return s.auth.Writer(h) }
