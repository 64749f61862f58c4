package agent

import (
	"crypto/sha256"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"

	"github.com/probe-agent/probe-agent/aosout"
)

// streamEntries turns cfg's streaming entries (the Apstra-format ones:
// aosEntries) into aosout entries, TLS loaded, each with the Key that
// tells a reload whether it changed.
func streamEntries(cfg Config) ([]aosout.Entry, error) {
	entries := make([]aosout.Entry, len(cfg.Streaming))
	for i, e := range cfg.Streaming {
		entries[i] = aosout.Entry{Type: e.Type, Address: e.Address, Sequenced: e.Sequenced, ReconnectMax: e.ReconnectMax.D(), QueueBytes: cfg.Queue.Bytes}
		if e.TLS != nil {
			var err error
			if entries[i].TLS, err = clientTLS(*e.TLS); err != nil {
				return nil, fmt.Errorf("line %d: streaming[%d].tls: %w", e.line, i, err)
			}
		}
		entries[i].Key = entryKey(e, cfg.Queue.Bytes)
	}
	return entries, nil
}

// entryKey is everything that configures a streaming entry's sender, the
// TLS files' contents included (a renewed certificate under the same name
// is a change), for a reload to tell unchanged entries. The line the
// entry is on is not part of it: a comment added above it changes nothing.
func entryKey(e StreamingEntry, queueBytes int) string {
	k := fmt.Sprintf("%s|%s|%t|%s|%d", e.Type, e.Address, e.Sequenced, e.ReconnectMax.D(), queueBytes)
	if e.TLS != nil {
		h := sha256.New()
		for _, f := range []string{e.TLS.CA, e.TLS.Cert, e.TLS.Key} {
			b, _ := os.ReadFile(f) // an unreadable file already failed clientTLS
			_, _ = fmt.Fprintf(h, "%s\x00%d\x00", f, len(b))
			h.Write(b)
		}
		k += fmt.Sprintf("|tls %s %t %x", e.TLS.ServerName, e.TLS.SkipVerify, h.Sum(nil))
	}
	return k
}

// reconfigureOutput builds the output of cfg for a reload from the running
// one, prev. From streaming senders, those whose entry did not change are
// carried over with their connection, queue and sequence, and a changed
// entry's new sender continues the old one's sequence
// (aosout.Senders.Reconfigure): to a sequenced receiver a reload must not
// look like a restart (a receiver once saw lost=536956537 with nothing
// dropped). retired is what the caller flushes and closes once next is in
// use: prev itself, or only the senders not carried over. To abandon next
// instead, close only startedBy(next, prev).
func reconfigureOutput(prev output, cfg Config, stdout io.Writer, log *slog.Logger) (next, retired output, err error) {
	p, ok := prev.(*senders)
	if cfg.Streaming = aosEntries(cfg.Streaming); !ok || len(cfg.Streaming) == 0 {
		n, err := newOutput(cfg, stdout, log)
		return n, prev, err
	}
	entries, err := streamEntries(cfg)
	if err != nil {
		return nil, nil, err
	}
	s, gone, err := p.Reconfigure(entries, cfg.Queue.Messages, log)
	if err != nil {
		var ee *aosout.EntryError
		if errors.As(err, &ee) {
			return nil, nil, fmt.Errorf("line %d: %w", cfg.Streaming[ee.Index].line, err)
		}
		return nil, nil, err
	}
	return &senders{s}, &senders{gone}, nil
}

// startedBy is what next holds that prev did not: the senders a reload
// started, which are all that may be closed to abandon it.
func startedBy(next, prev output) output {
	n, ok := next.(*senders)
	if !ok {
		return next
	}
	var p *aosout.Senders
	if ps, ok := prev.(*senders); ok {
		p = ps.Senders
	}
	return &senders{n.Without(p)}
}
