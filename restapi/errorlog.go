package restapi

import (
	"log"
	"log/slog"
	"strings"
	"sync"
	"time"
)

// errorLogEvery is how often a flood of connection errors is summed up.
const errorLogEvery = time.Minute

// ErrorLog is an http.Server ErrorLog for l. net/http logs one line per
// failed TLS handshake and per broken connection; a flood of hostile or
// silent clients (each cut at api.read_header_timeout) would turn that
// into a flood of Warn lines. Those lines are a Warn at most once per
// minute, saying how many were left out since, and Debug otherwise;
// anything else the server logs is a Warn as it comes.
func ErrorLog(l *slog.Logger) *log.Logger {
	return log.New(&errorLogWriter{log: l, now: time.Now}, "", 0)
}

type errorLogWriter struct {
	log *slog.Logger
	now func() time.Time

	mu       sync.Mutex
	lastWarn time.Time
	skipped  int
}

func (w *errorLogWriter) Write(p []byte) (int, error) {
	msg := strings.TrimSpace(string(p))
	if !isConnectionNoise(msg) {
		w.log.Warn("http server", "err", msg)
		return len(p), nil
	}
	w.mu.Lock()
	now := w.now()
	warn := w.lastWarn.IsZero() || now.Sub(w.lastWarn) >= errorLogEvery
	skipped := w.skipped
	if warn {
		w.lastWarn, w.skipped = now, 0
	} else {
		w.skipped++
	}
	w.mu.Unlock()
	if warn {
		w.log.Warn("http connection failed (more within a minute are logged at debug)", "err", msg, "not_logged_since_last", skipped)
	} else {
		w.log.Debug("http connection failed", "err", msg)
	}
	return len(p), nil
}

// isConnectionNoise tells the per-connection errors a client can cause at
// will from the server's own.
func isConnectionNoise(msg string) bool {
	for _, s := range []string{"TLS handshake error", "http2: server: error reading preface", "i/o timeout", "connection reset by peer", "broken pipe"} {
		if strings.Contains(msg, s) {
			return true
		}
	}
	return false
}
