package agent

import (
	"fmt"
	"log/slog"

	"github.com/probe-agent/probe-agent/collectors"
	"github.com/probe-agent/probe-agent/collectors/gnmi"
	"github.com/probe-agent/probe-agent/collectors/replay"
)

// gnmiOptions maps the configuration onto the gNMI collector's options.
func gnmiOptions(cfg Config, log *slog.Logger) gnmi.Options {
	c := cfg.Collector.GNMI
	return gnmi.Options{
		Target:       c.Target,
		Insecure:     c.Insecure,
		Username:     c.Username,
		Password:     c.Password,
		PasswordFile: c.PasswordFile,
		PrefixTarget: c.PrefixTarget,
		Origin:       c.Origin,
		TLS: gnmi.TLSOptions{
			CAFile:             c.TLS.CA,
			CertFile:           c.TLS.Cert,
			KeyFile:            c.TLS.Key,
			ServerName:         c.TLS.ServerName,
			InsecureSkipVerify: c.TLS.SkipVerify,
		},
		Encoding:       c.Encoding,
		StaleAfter:     c.StaleAfter.D(),
		SampleInterval: cfg.Interval.D(),
		Backoff:        gnmi.Backoff{Max: c.ReconnectMax.D()},
		SystemID:       cfg.SystemID,
		Logger:         log,
	}
}

// NewCollector opens the collector the configuration names.
func NewCollector(cfg Config, log *slog.Logger) (collectors.Collector, error) {
	c := cfg.Collector
	switch c.Type {
	case "netlink":
		col, err := newNetlink(cfg, log)
		if err != nil {
			return nil, fmt.Errorf("collector.netlink: %w", err)
		}
		return col, nil
	case "gnmi":
		col, err := gnmi.New(gnmiOptions(cfg, log))
		if err != nil {
			return nil, fmt.Errorf("collector.gnmi: %w", err)
		}
		return col, nil
	case "replay":
		// Streamed: memory does not grow with the recording's length.
		col, err := replay.NewFileCollector(c.Replay.File, nil)
		if err != nil {
			return nil, fmt.Errorf("collector.replay.file: %w", err)
		}
		if c.Replay.Pace != "interval" {
			col.Paced()
		}
		return col, nil
	}
	return nil, fmt.Errorf("collector.type: unknown collector %q", c.Type)
}
