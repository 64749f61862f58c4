package agent

import (
	"fmt"
	"log/slog"

	"github.com/probe-agent/probe-agent/collectors"
	"github.com/probe-agent/probe-agent/collectors/gnmi"
	"github.com/probe-agent/probe-agent/collectors/replay"
)

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
		col, err := gnmi.New(gnmi.Options{
			Target:       c.GNMI.Target,
			Insecure:     c.GNMI.Insecure,
			Username:     c.GNMI.Username,
			Password:     c.GNMI.Password,
			PrefixTarget: c.GNMI.PrefixTarget,
			Origin:       c.GNMI.Origin,
			TLS: gnmi.TLSOptions{
				CAFile:             c.GNMI.TLS.CA,
				CertFile:           c.GNMI.TLS.Cert,
				KeyFile:            c.GNMI.TLS.Key,
				InsecureSkipVerify: c.GNMI.TLS.SkipVerify,
			},
			Encoding:       c.GNMI.Encoding,
			StaleAfter:     c.GNMI.StaleAfter.D(),
			SampleInterval: cfg.Interval.D(),
			SystemID:       cfg.SystemID,
			Logger:         log,
		})
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
		return col, nil
	}
	return nil, fmt.Errorf("collector.type: unknown collector %q", c.Type)
}
