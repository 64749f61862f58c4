package main

import (
	"strings"
	"testing"

	"google.golang.org/protobuf/proto"

	"github.com/probe-agent/probe-agent/agent/stream"
	"github.com/probe-agent/probe-agent/proto/aos"
)

// TestReceiveTextIsReadable: `probectl receive -o text` prints the agent's
// readable line (channel, stage, keys, plain value), not protobuf text.
func TestReceiveTextIsReadable(t *testing.T) {
	m := &aos.AosMessage{Timestamp: proto.Uint64(1700000000000000), OriginName: proto.String("dc1"),
		Data: &aos.AosMessage_PerfMon{PerfMon: &aos.PerfMon{Data: &aos.PerfMon_ProbeMessage{ProbeMessage: &aos.ProbeMessage{
			ProbeLabel: proto.String("demo"), StageName: proto.String("rx_bps"),
			Property: []*aos.ProbeProperty{{Name: proto.String("interface"), Value: proto.String("eth0")}},
			Value:    &aos.ProbeMessage_FloatValue{FloatValue: 2.5e9},
		}}}}}
	line := string(appendTextMessage(nil, stream.Received{Message: m}))
	if !strings.HasSuffix(line, " perfmon demo / rx_bps interface=eth0 value=2500000000\n") {
		t.Errorf("text line %q", line)
	}
}
