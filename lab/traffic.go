package lab

import (
	"fmt"
	"strconv"
	"strings"
	"time"
)

// Flow is one UDP flow between two nodes of a lab: From and To are a node
// ("server1", its first addressed interface) or "node:interface".
type Flow struct {
	From, To string
	// Rate is the UDP payload rate in bits per second.
	Rate float64
	// Port is the destination UDP port (default 5001 + the flow's index):
	// distinct ports make distinct 5-tuples, which ECMP hashes apart.
	Port int
	// Size is the UDP payload per datagram (default 1200 bytes).
	Size int
}

// FlowResult is what one flow sent and what its sink received.
type FlowResult struct {
	Flow          Flow          `json:"flow"`
	Src           string        `json:"src"`
	Dst           string        `json:"dst"`
	Duration      time.Duration `json:"duration"`
	SentBytes     int64         `json:"sent_bytes"`
	SentPackets   int64         `json:"sent_packets"`
	RecvBytes     int64         `json:"received_bytes"`
	RecvPackets   int64         `json:"received_packets"`
	SendErrors    int64         `json:"send_errors"`
	LastSendError string        `json:"last_send_error,omitempty"`
}

// ParseRate reads a bit rate: a number with an optional unit bps, Kbps,
// Mbps or Gbps (decimal multiples; "k", "M", "G" alone and lower case
// work too): "10Mbps", "500k", "1.5G", "64000".
func ParseRate(s string) (float64, error) {
	t := strings.TrimSpace(s)
	l := strings.ToLower(t)
	l = strings.TrimSuffix(l, "ps")
	l = strings.TrimSuffix(l, "b")
	mult := 1.0
	switch {
	case strings.HasSuffix(l, "k"):
		mult, l = 1e3, strings.TrimSuffix(l, "k")
	case strings.HasSuffix(l, "m"):
		mult, l = 1e6, strings.TrimSuffix(l, "m")
	case strings.HasSuffix(l, "g"):
		mult, l = 1e9, strings.TrimSuffix(l, "g")
	}
	v, err := strconv.ParseFloat(strings.TrimSpace(l), 64)
	if err != nil || !(v > 0 && v*mult <= 100e9) { // also refuses NaN
		return 0, fmt.Errorf("rate %q: want a positive bit rate up to 100Gbps such as 10Mbps, 500Kbps or 1Gbps", s)
	}
	return v * mult, nil
}

// ParseFlow reads "FROM,TO,RATE[,PORT]" (the --flow flag).
func ParseFlow(s string) (Flow, error) {
	parts := strings.Split(s, ",")
	if len(parts) < 3 || len(parts) > 4 {
		return Flow{}, fmt.Errorf("flow %q: want FROM,TO,RATE[,PORT], e.g. server1,server3,10Mbps", s)
	}
	f := Flow{From: strings.TrimSpace(parts[0]), To: strings.TrimSpace(parts[1])}
	if f.From == "" || f.To == "" {
		return Flow{}, fmt.Errorf("flow %q: FROM and TO are node names (or node:interface)", s)
	}
	var err error
	if f.Rate, err = ParseRate(parts[2]); err != nil {
		return Flow{}, fmt.Errorf("flow %q: %w", s, err)
	}
	if len(parts) == 4 {
		if f.Port, err = strconv.Atoi(strings.TrimSpace(parts[3])); err != nil || f.Port <= 0 || f.Port > 65535 {
			return Flow{}, fmt.Errorf("flow %q: port %q: want 1-65535", s, parts[3])
		}
	}
	return f, nil
}

// header is the sender's mark at the start of every datagram: a magic
// word, the flow index and a sequence number, so the sink counts only its
// own flow's packets.
const (
	headerLen   = 16
	headerMagic = 0x706c6162 // "plab"
)
