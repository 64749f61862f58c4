package gnmi

import (
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"strings"
	"time"

	"google.golang.org/grpc/credentials"
	"google.golang.org/grpc/credentials/insecure"
)

// Options configures a Collector. Only Target and either Insecure or TLS
// settings are needed; everything else has a default.
type Options struct {
	// Target is the gNMI server's host:port.
	Target string
	// Insecure selects plaintext gRPC (no TLS at all). For lab targets only.
	Insecure bool
	TLS      TLSOptions
	// Username and Password, when set, are sent as the "username" and
	// "password" gRPC metadata on the Subscribe call, the convention most
	// gNMI targets use for password authentication.
	Username string
	Password string
	// PasswordFile, when set, holds the password (its first line, white
	// space trimmed), read once by New, so the configuration need not
	// carry the secret. Errors name the file, never its content.
	PasswordFile string
	// PrefixTarget goes into the subscription prefix's target field. Targets
	// that multiplex devices (and the gnmi cache-based server) require it.
	PrefixTarget string
	// Origin goes into the subscription prefix's origin field; leave empty
	// (or "openconfig") for OpenConfig paths.
	Origin string
	// Encoding requested from the target: "proto" (the default; counters
	// arrive as uint_val), "json_ietf" or "json". A target that refuses
	// the encoding is asked again with the next one of proto, json_ietf,
	// json (many real targets implement only the JSON ones).
	Encoding string
	// SampleInterval is the SAMPLE subscription's interval. Default 10s.
	SampleInterval time.Duration
	// NoEthernet leaves the openconfig-if-ethernet paths
	// (/interfaces/interface/ethernet/state/port-speed and .../counters)
	// out of the subscription. Without it the collector asks for them and
	// drops them by itself if the target rejects the subscription because
	// of them.
	NoEthernet bool
	// SystemID is copied into every collectors.Interface.
	SystemID string
	// StaleAfter drops an interface from batches once nothing was heard
	// about it for this long. Default 3 × SampleInterval.
	StaleAfter time.Duration
	// IdleTimeout restarts a stream on which nothing arrived for this long,
	// which catches connections that died without the TCP stack noticing.
	// Default StaleAfter; negative disables.
	IdleTimeout time.Duration
	// Logger receives connection events. Default slog.Default().
	Logger *slog.Logger
	// Backoff controls the delay between reconnect attempts.
	Backoff Backoff
}

// TLSOptions selects the certificates used for TLS.
type TLSOptions struct {
	// CAFile is a PEM bundle that verifies the target's certificate; empty
	// uses the system roots.
	CAFile string
	// CertFile and KeyFile are the client certificate for mutual TLS.
	CertFile string
	KeyFile  string
	// ServerName overrides the name checked in the target's certificate.
	ServerName string
	// InsecureSkipVerify accepts any target certificate. For labs only.
	InsecureSkipVerify bool
}

// Backoff is exponential backoff with jitter: the n-th consecutive failed
// attempt waits min(Max, Initial × Multiplier^n) scaled by a random factor
// in [1-Jitter, 1+Jitter]. A stream that delivered data resets n.
type Backoff struct {
	Initial    time.Duration // default 500ms
	Max        time.Duration // default 30s
	Multiplier float64       // default 2
	Jitter     float64       // default 0.2, in [0, 1]
}

// readPasswordFile reads a password file: its first line without
// surrounding white space. The error never quotes the content.
func readPasswordFile(path string) (string, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return "", fmt.Errorf("gnmi: password_file: %w", err)
	}
	line, _, _ := strings.Cut(string(data), "\n")
	pw := strings.TrimSpace(line)
	if pw == "" {
		return "", fmt.Errorf("gnmi: password_file %s: the first line is empty", path)
	}
	return pw, nil
}

func (o *Options) setDefaults() error {
	if o.Target == "" {
		return errors.New("gnmi: Options.Target is required")
	}
	if o.SampleInterval <= 0 {
		o.SampleInterval = 10 * time.Second
	}
	if o.StaleAfter <= 0 {
		o.StaleAfter = 3 * o.SampleInterval
	}
	if o.IdleTimeout == 0 {
		o.IdleTimeout = o.StaleAfter
	}
	if o.Logger == nil {
		o.Logger = slog.Default()
	}
	if o.PasswordFile != "" {
		if o.Password != "" {
			return errors.New("gnmi: set Password or PasswordFile, not both")
		}
		pw, err := readPasswordFile(o.PasswordFile)
		if err != nil {
			return err
		}
		o.Password = pw
	}
	switch o.Encoding {
	case "", "proto", "json_ietf", "json":
	default:
		return fmt.Errorf("gnmi: unsupported encoding %q (want proto, json_ietf or json)", o.Encoding)
	}
	b := &o.Backoff
	if b.Initial <= 0 {
		b.Initial = 500 * time.Millisecond
	}
	if b.Max <= 0 {
		b.Max = 30 * time.Second
	}
	if b.Max < b.Initial {
		b.Max = b.Initial
	}
	if b.Multiplier < 1 {
		b.Multiplier = 2
	}
	if b.Jitter < 0 || b.Jitter > 1 {
		return fmt.Errorf("gnmi: Backoff.Jitter %v not in [0, 1]", b.Jitter)
	}
	if b.Jitter == 0 {
		b.Jitter = 0.2
	}
	return nil
}

// delay returns the wait before attempt n (0-based); rnd is uniform in [0,1).
func (b Backoff) delay(n int, rnd float64) time.Duration {
	d := float64(b.Initial)
	for i := 0; i < n && d < float64(b.Max); i++ {
		d *= b.Multiplier
	}
	d = min(d, float64(b.Max))
	// Jitter spreads many agents reconnecting to one restarted target.
	return time.Duration(d * (1 - b.Jitter + 2*b.Jitter*rnd))
}

func (o *Options) transportCredentials() (credentials.TransportCredentials, error) {
	if o.Insecure {
		return insecure.NewCredentials(), nil
	}
	cfg := &tls.Config{
		MinVersion:         tls.VersionTLS12,
		ServerName:         o.TLS.ServerName,
		InsecureSkipVerify: o.TLS.InsecureSkipVerify, //nolint:gosec // opt-in for labs
	}
	if o.TLS.CAFile != "" {
		pem, err := os.ReadFile(o.TLS.CAFile)
		if err != nil {
			return nil, fmt.Errorf("gnmi: reading CA file: %w", err)
		}
		pool := x509.NewCertPool()
		if !pool.AppendCertsFromPEM(pem) {
			return nil, fmt.Errorf("gnmi: no PEM certificate in %s", o.TLS.CAFile)
		}
		cfg.RootCAs = pool
	}
	if o.TLS.CertFile != "" || o.TLS.KeyFile != "" {
		cert, err := tls.LoadX509KeyPair(o.TLS.CertFile, o.TLS.KeyFile)
		if err != nil {
			return nil, fmt.Errorf("gnmi: loading client certificate: %w", err)
		}
		cfg.Certificates = []tls.Certificate{cert}
	}
	return credentials.NewTLS(cfg), nil
}
