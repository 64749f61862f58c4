package agent

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"math"
	"strconv"
	"time"

	"github.com/probe-agent/probe-agent/agent/stream"
	"github.com/probe-agent/probe-agent/aosout"
	"github.com/probe-agent/probe-agent/proto/aos"
	"github.com/probe-agent/probe-agent/tlsutil"
)

// The three streaming channels.
const (
	chanPerfmon = stream.ChannelPerfMon
	chanAlerts  = stream.ChannelAlerts
	chanEvents  = stream.ChannelEvents
)

// output is where messages go: streaming senders, or stdout.
type output interface {
	send(channel string, m *aos.AosMessage)
	close(ctx context.Context) error
	describe() string
}

func newOutput(cfg Config, stdout io.Writer, log *slog.Logger) (output, error) {
	if len(cfg.Streaming) == 0 {
		return newPrinter(stdout, cfg.Output == "text", log), nil
	}
	// Type nats entries carry the fan-in records (fanin.go), not these
	// channels.
	if cfg.Streaming = aosEntries(cfg.Streaming); len(cfg.Streaming) == 0 {
		return discard{}, nil
	}
	entries, err := streamEntries(cfg)
	if err != nil {
		return nil, err
	}
	s, err := aosout.NewSenders(entries, cfg.Queue.Messages, log)
	if err != nil {
		var ee *aosout.EntryError
		if errors.As(err, &ee) {
			return nil, fmt.Errorf("line %d: %w", cfg.Streaming[ee.Index].line, err)
		}
		return nil, err
	}
	return &senders{s}, nil
}

// LoadCertPool reads a PEM bundle of CA certificates; the control plane and
// the streaming connections verify peers with it (tlsutil.LoadCertPool).
func LoadCertPool(file string) (*x509.CertPool, error) { return tlsutil.LoadCertPool(file) }

// clientTLS builds the TLS configuration of a streaming connection
// (tlsutil.Client, plus the labs-only skip_verify).
func clientTLS(c TLSConfig) (*tls.Config, error) {
	tc, err := tlsutil.Client(tlsutil.Files{CA: c.CA, Cert: c.Cert, Key: c.Key}, c.ServerName)
	if err != nil {
		return nil, err
	}
	tc.InsecureSkipVerify = c.SkipVerify //nolint:gosec // labs opt in explicitly
	return tc, nil
}

// senders is the streaming output: aosout's per-channel senders.
type senders struct{ *aosout.Senders }

func (s *senders) send(channel string, m *aos.AosMessage) { s.Send(channel, m) }
func (s *senders) close(ctx context.Context) error        { return s.Close(ctx) }
func (s *senders) describe() string                       { return s.Describe() }

func compactJSON(b []byte) []byte {
	out := make([]byte, 0, len(b))
	inStr, esc := false, false
	for _, c := range b {
		switch {
		case esc:
			esc = false
		case c == '\\' && inStr:
			esc = true
		case c == '"':
			inStr = !inStr
		case !inStr && (c == ' ' || c == '\n' || c == '\t'):
			continue
		}
		out = append(out, c)
	}
	return out
}

// ChannelOf names the channel a message belongs on, from its content.
func ChannelOf(m *aos.AosMessage) string {
	switch {
	case m.GetPerfMon() != nil:
		return chanPerfmon
	case m.GetAlert() != nil:
		return chanAlerts
	case m.GetEvent() != nil:
		return chanEvents
	}
	return "unknown"
}

// AppendText renders one message as a readable line: local time, channel,
// probe and stage, item keys, the value in plain decimal (never in
// scientific notation). `probe-agent run -o text` and `probectl receive -o
// text` print it.
func AppendText(b []byte, channel string, m *aos.AosMessage) []byte {
	b = time.UnixMicro(int64(m.GetTimestamp())).Local().AppendFormat(b, "15:04:05.000 ")
	switch {
	case m.GetPerfMon().GetProbeMessage() != nil:
		pm := m.GetPerfMon().GetProbeMessage()
		b = fmt.Appendf(b, "%-7s %s / %s", channel, pm.GetProbeLabel(), pm.GetStageName())
		for _, p := range pm.GetProperty() {
			b = fmt.Appendf(b, " %s=%s", p.GetName(), p.GetValue())
		}
		switch v := pm.GetValue().(type) {
		case *aos.ProbeMessage_Int64Value:
			b = append(b, " value="...)
			b = strconv.AppendInt(b, v.Int64Value, 10)
		case *aos.ProbeMessage_FloatValue:
			b = append(b, " value="...)
			b = appendDecimal(b, float64(v.FloatValue), 32)
		case *aos.ProbeMessage_StringValue:
			b = append(b, " value="...)
			b = append(b, v.StringValue...)
		}
	case m.GetAlert().GetProbeAlert() != nil:
		a := m.GetAlert()
		pa := a.GetProbeAlert()
		what := "CLEARED"
		if a.GetRaised() {
			what = "RAISED "
		}
		b = fmt.Appendf(b, "%-7s %s %s / %s", channel, what, pa.GetProbeLabel(), pa.GetStageName())
		for _, kv := range pa.GetKeyValuePairs() {
			b = fmt.Appendf(b, " %s=%s", kv.GetKey(), kv.GetValue())
		}
		switch {
		case pa.ActualInt != nil:
			b = fmt.Appendf(b, " actual=%d", pa.GetActualInt())
		case pa.ActualFloat != nil:
			b = append(b, " actual="...)
			b = appendDecimal(b, pa.GetActualFloat(), 64)
		case pa.ActualDiscreteState != nil:
			b = fmt.Appendf(b, " actual=%s", pa.GetActualDiscreteState())
		}
	case m.GetEvent().GetLinkStatus() != nil:
		ls := m.GetEvent().GetLinkStatus()
		b = fmt.Appendf(b, "%-7s link %s on %s is %s", channel, ls.GetIfname(), ls.GetHostname(), ls.GetState())
	default:
		b = fmt.Appendf(b, "%-7s %v", channel, m)
	}
	return append(b, '\n')
}

// appendDecimal writes v in plain decimal with at most three decimals
// (rates of 1e10 bits per second read as 10000000000, not 1e+10).
func appendDecimal(b []byte, v float64, bitSize int) []byte {
	if v == math.Trunc(v) && math.Abs(v) < 1e18 {
		return strconv.AppendFloat(b, v, 'f', 0, bitSize)
	}
	n := len(b)
	b = strconv.AppendFloat(b, v, 'f', 3, bitSize)
	// Trailing zeros of the fraction say nothing.
	for len(b) > n && b[len(b)-1] == '0' {
		b = b[:len(b)-1]
	}
	if b[len(b)-1] == '.' {
		b = b[:len(b)-1]
	}
	return b
}
