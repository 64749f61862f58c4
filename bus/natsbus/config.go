package natsbus

import (
	"crypto/tls"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"strings"
	"time"

	"github.com/nats-io/nats.go"

	"github.com/probe-agent/probe-agent/bus"
)

// Config is a connection to a NATS server and the JetStream layout.
type Config struct {
	// URLs are the servers (nats://host:4222, tls://host:4222), tried in
	// order and kept for reconnects.
	URLs []string
	// Name is the connection's name as the server's monitoring shows it.
	Name string
	// Credentials: at most one of User/Password, Token, CredsFile (a
	// decentralised-auth .creds file: JWT and NKey seed) and NKeyFile (a
	// file holding an NKey seed).
	User, Password string
	Token          string
	CredsFile      string
	NKeyFile       string
	// TLS, when set, is used for the connection (tls:// URLs need it or
	// the system roots).
	TLS *tls.Config

	// Stream is the JetStream stream's name; Prefix the subjects' prefix.
	Stream string
	Prefix string
	// Blueprint is the blueprint the records belong to.
	Blueprint string
	// Replicas of the stream and buckets (1 for a single server).
	Replicas int
	// MaxAge bounds how long records are kept; MaxPerSubject how many per
	// device and probe (a takeover needs only the last one).
	MaxAge        time.Duration
	MaxPerSubject int64
	// Duplicates is the stream's de-duplication window: a record
	// published again within it (same Nats-Msg-Id) is stored once.
	Duplicates time.Duration
	// PublishTimeout bounds the wait for a batch's acknowledgements.
	PublishTimeout time.Duration
	// ReconnectWait is the pause between reconnect attempts.
	ReconnectWait time.Duration

	Log *slog.Logger
}

// Defaults of the zero fields.
const (
	DefaultStream         = "PROBEAGENT"
	DefaultPrefix         = "probeagent"
	DefaultMaxAge         = time.Hour
	DefaultMaxPerSubject  = 16
	DefaultDuplicates     = 2 * time.Minute
	DefaultPublishTimeout = 5 * time.Second
)

func (c Config) withDefaults() Config {
	if c.Stream == "" {
		c.Stream = DefaultStream
	}
	if c.Prefix == "" {
		c.Prefix = DefaultPrefix
	}
	if c.Replicas <= 0 {
		c.Replicas = 1
	}
	if c.MaxAge <= 0 {
		c.MaxAge = DefaultMaxAge
	}
	if c.MaxPerSubject <= 0 {
		c.MaxPerSubject = DefaultMaxPerSubject
	}
	if c.Duplicates <= 0 {
		c.Duplicates = DefaultDuplicates
	}
	if c.PublishTimeout <= 0 {
		c.PublishTimeout = DefaultPublishTimeout
	}
	if c.ReconnectWait <= 0 {
		c.ReconnectWait = 500 * time.Millisecond
	}
	if c.Log == nil {
		c.Log = slog.Default()
	}
	return c
}

// Validate checks what a configuration file sets, naming the field.
func (c Config) Validate() error {
	if len(c.URLs) == 0 {
		return fmt.Errorf("urls: at least one server URL is required")
	}
	for i, u := range c.URLs {
		if !strings.Contains(u, "://") {
			return fmt.Errorf("urls[%d]: %q: want nats://host:port or tls://host:port", i, u)
		}
	}
	n := 0
	if c.User != "" || c.Password != "" {
		n++
		if c.User == "" {
			return fmt.Errorf("password without user")
		}
	}
	for _, s := range []string{c.Token, c.CredsFile, c.NKeyFile} {
		if s != "" {
			n++
		}
	}
	if n > 1 {
		return fmt.Errorf("credentials: set one of user/password, token, creds_file and nkey_file")
	}
	if c.Prefix != "" {
		if err := bus.ValidPrefix(c.Prefix); err != nil {
			return fmt.Errorf("subject_prefix: %w", err)
		}
	}
	if c.Stream != "" && strings.ContainsAny(c.Stream, ".*> \t/\\") {
		return fmt.Errorf("stream: %q: no '.', '*', '>', '/', '\\' or spaces", c.Stream)
	}
	return nil
}

// Connect opens the connection: a server that refuses it (credentials,
// TLS) is an error; one not reachable yet is retried in the background and
// the caller starts anyway. Reconnects go on for ever (every
// ReconnectWait, with jitter); nothing is buffered in the client while
// disconnected (ReconnectBufSize -1): the bus.Publisher's queue, bounded
// and counted, is the only buffer, so a publish during an outage fails at
// once and is retried with the same Nats-Msg-Id.
func Connect(c Config) (*nats.Conn, error) {
	c = c.withDefaults()
	if err := c.Validate(); err != nil {
		return nil, err
	}
	log := c.Log
	opts := []nats.Option{
		nats.Name(c.Name),
		nats.MaxReconnects(-1),
		nats.ReconnectWait(c.ReconnectWait),
		nats.ReconnectJitter(c.ReconnectWait/4, c.ReconnectWait/4),
		nats.ReconnectBufSize(-1),
		nats.DisconnectErrHandler(func(_ *nats.Conn, err error) {
			if err != nil {
				log.Warn("nats: disconnected", "err", err)
			}
		}),
		nats.ReconnectHandler(func(nc *nats.Conn) { log.Info("nats: reconnected", "server", nc.ConnectedUrlRedacted()) }),
		nats.ErrorHandler(func(_ *nats.Conn, _ *nats.Subscription, err error) { log.Warn("nats: error", "err", err) }),
	}
	switch {
	case c.User != "":
		opts = append(opts, nats.UserInfo(c.User, c.Password))
	case c.Token != "":
		opts = append(opts, nats.Token(c.Token))
	case c.CredsFile != "":
		if _, err := os.Stat(c.CredsFile); err != nil {
			return nil, fmt.Errorf("creds_file: %w", err)
		}
		opts = append(opts, nats.UserCredentials(c.CredsFile))
	case c.NKeyFile != "":
		o, err := nats.NkeyOptionFromSeed(c.NKeyFile)
		if err != nil {
			return nil, fmt.Errorf("nkey_file: %w", err)
		}
		opts = append(opts, o)
	}
	if c.TLS != nil {
		opts = append(opts, nats.Secure(c.TLS))
	}
	urls := strings.Join(c.URLs, ",")
	// A first attempt without retrying tells a refusal (credentials, TLS:
	// a configuration error, reported at once) from a server that is not
	// there yet (retried in the background).
	nc, err := nats.Connect(urls, opts...)
	if err == nil {
		return nc, nil
	}
	if !errors.Is(err, nats.ErrNoServers) {
		return nil, fmt.Errorf("nats %s: %w", urls, err)
	}
	nc, err = nats.Connect(urls, append(opts, nats.RetryOnFailedConnect(true))...)
	if err != nil {
		return nil, fmt.Errorf("nats %s: %w", urls, err)
	}
	c.Log.Warn("nats: server not reachable yet; retrying in the background", "urls", urls)
	return nc, nil
}
