package restapi

import (
	"crypto/subtle"
	"crypto/tls"
	"fmt"
	"net"
	"net/http"
	"os"
	"strings"

	"github.com/probe-agent/probe-agent/connlimit"
	"github.com/probe-agent/probe-agent/tlsutil"
)

// WriteAuth decides who may change probes. An API is read-only unless
// api.token_file (a bearer token) or api.tls.ca (client certificates) is
// configured: a configuration file alone must not open a write-capable
// API to every local user.
type WriteAuth struct {
	token []byte // nil: no token configured
	mtls  bool   // api.tls.ca set: writes need a verified client certificate
	// LoadErr is set when the token file could not be read: every write
	// is refused, and a daemon should refuse to start.
	LoadErr error
	realm   string
}

// NewWriteAuth reads tokenFile (when set); mtls says that api.tls.ca is
// set. realm goes into WWW-Authenticate ("probe-agent").
func NewWriteAuth(tokenFile string, mtls bool, realm string) WriteAuth {
	a := WriteAuth{mtls: mtls, realm: realm}
	if tokenFile == "" {
		return a
	}
	data, err := os.ReadFile(tokenFile)
	if err != nil {
		a.LoadErr = fmt.Errorf("api.token_file: %w", err)
		return a
	}
	tok := strings.TrimSpace(string(data))
	if tok == "" {
		a.LoadErr = fmt.Errorf("api.token_file: %s is empty", tokenFile)
		return a
	}
	a.token = []byte(tok)
	return a
}

// ReadOnly reports whether no write authentication is configured.
func (a WriteAuth) ReadOnly() bool { return a.token == nil && !a.mtls && a.LoadErr == nil }

// Allow checks one write request and answers it when it is refused.
func (a WriteAuth) Allow(w http.ResponseWriter, r *http.Request) bool {
	switch {
	case a.LoadErr != nil:
		WriteError(w, http.StatusServiceUnavailable, "writes are refused: "+a.LoadErr.Error())
		return false
	case a.ReadOnly():
		WriteError(w, http.StatusForbidden, "the REST API is read-only: set api.token_file (a bearer token) or api.tls.ca (client certificates) in the configuration to allow "+r.Method)
		return false
	}
	if a.mtls && (r.TLS == nil || len(r.TLS.VerifiedChains) == 0) {
		WriteError(w, http.StatusUnauthorized, r.Method+" needs a client certificate signed by api.tls.ca")
		return false
	}
	if a.token != nil {
		got, ok := strings.CutPrefix(r.Header.Get("Authorization"), "Bearer ")
		if !ok || subtle.ConstantTimeCompare([]byte(strings.TrimSpace(got)), a.token) != 1 {
			w.Header().Set("WWW-Authenticate", fmt.Sprintf("Bearer realm=%q", a.realm))
			WriteError(w, http.StatusUnauthorized, r.Method+" needs the header Authorization: Bearer <the token in api.token_file>")
			return false
		}
	}
	return true
}

// Writer wraps a handler that changes probes with the write check.
func (a WriteAuth) Writer(h http.HandlerFunc) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		if !a.Allow(w, r) {
			return
		}
		h(w, r)
	}
}

// Describe names the write policy for the start-up log line.
func (a WriteAuth) Describe() string {
	switch {
	case a.ReadOnly():
		return "refused (read-only: no api.token_file or api.tls.ca)"
	case a.token != nil && a.mtls:
		return "client certificate and bearer token"
	case a.mtls:
		return "client certificate"
	default:
		return "bearer token"
	}
}

// IsLoopback reports whether a listen host only accepts local connections.
// An empty host (":8080") listens on every address.
func IsLoopback(host string) bool {
	if host == "localhost" {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}

// CheckListen refuses a listen address reachable from the network when
// nothing authenticates writes (authenticated: api.token_file or
// api.tls.ca set). An address that is not HOST:PORT is left to the caller.
func CheckListen(listen string, authenticated bool) error {
	host, _, err := net.SplitHostPort(listen)
	if err != nil || IsLoopback(host) || authenticated {
		return nil
	}
	return fmt.Errorf("%q is reachable from the network but nothing authenticates writes: set api.token_file (bearer token) or api.tls.ca (client certificates), or listen on 127.0.0.1", listen)
}

// TLSFiles are the api.tls files: a certificate and key make the API
// HTTPS; a CA makes it ask for client certificates (verified when given).
type TLSFiles struct{ Cert, Key, CA string }

// ServerTLS builds the API's TLS configuration, nil without a
// certificate. Reads stay open without a client certificate (scrapers,
// health checks); writes need a verified one (WriteAuth).
func ServerTLS(f TLSFiles) (*tls.Config, error) {
	if f.Cert == "" && f.Key == "" {
		return nil, nil
	}
	cert, err := tls.LoadX509KeyPair(f.Cert, f.Key)
	if err != nil {
		return nil, fmt.Errorf("api.tls: %w", err)
	}
	tc := &tls.Config{MinVersion: tls.VersionTLS12, Certificates: []tls.Certificate{cert}}
	if f.CA != "" {
		pool, err := tlsutil.LoadCertPool(f.CA)
		if err != nil {
			return nil, fmt.Errorf("api.tls.ca: %w", err)
		}
		tc.ClientCAs, tc.ClientAuth = pool, tls.VerifyClientCertIfGiven
	}
	return tc, nil
}

// ListenLimited opens listen with at most maxConns connections served at
// once (connlimit: the TLS handshake happens inside the limit, so a flood
// of clients that never finish it holds no more than maxConns
// descriptors), with TLS when tc is set. The connlimit.Listener's
// ConnState goes into the http.Server so idle keep-alive connections give
// way to new clients.
func ListenLimited(listen string, tc *tls.Config, maxConns int) (net.Listener, *connlimit.Listener, error) {
	l, err := net.Listen("tcp", listen)
	if err != nil {
		return nil, nil, fmt.Errorf("api.listen: %w", err)
	}
	limited := connlimit.New(l, maxConns)
	var out net.Listener = limited
	if tc != nil {
		out = tls.NewListener(limited, tc)
	}
	return out, limited, nil
}

// Listen opens listen, with TLS when tc is set.
func Listen(listen string, tc *tls.Config) (net.Listener, error) {
	l, err := net.Listen("tcp", listen)
	if err != nil {
		return nil, fmt.Errorf("api.listen: %w", err)
	}
	if tc != nil {
		l = tls.NewListener(l, tc)
	}
	return l, nil
}
