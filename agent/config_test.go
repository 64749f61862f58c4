package agent

import (
	"net"
	"os"
	"strings"
	"testing"
	"time"
)

func TestExampleConfigParses(t *testing.T) {
	cfg, err := Parse(ExampleConfig)
	if err != nil {
		t.Fatal(err)
	}
	if cfg.Interval.D() != time.Second || cfg.Collector.Type != "netlink" || cfg.Queue.Messages != 100000 {
		t.Errorf("example config values: %+v", cfg)
	}
	if cfg.SystemID == "" || cfg.BlueprintID != cfg.SystemID {
		t.Errorf("identity defaults not applied: system_id %q blueprint_id %q", cfg.SystemID, cfg.BlueprintID)
	}
}

func TestConfigErrors(t *testing.T) {
	tests := []struct {
		name, yaml, want string
	}{
		{"unknown key", "system_id: a\nintervall: 1s\n", "line 2: field intervall not found"},
		{"bad duration", "interval: fast\n", `line 1: "fast" is not a duration`},
		{"too short interval", "interval: 1ms\n", "line 1: interval: 1ms is too short"},
		{"bad collector", "collector:\n  type: snmp\n", "line 2: collector.type: want netlink, gnmi or replay"},
		{"replay needs a file", "collector: {type: replay}\n", "collector.replay.file: required"},
		{"bad stream type", "streaming:\n  - {type: perfmon, address: 'a:1'}\n  - {type: logs, address: 'a:2'}\n", "line 3: streaming[1].type: want perfmon, alerts or events"},
		{"bad stream address", "streaming:\n  - {type: alerts, address: nowhere}\n", "line 2: streaming[0].address: want host:port"},
		{"server_name on the control plane", "control: {listen: '127.0.0.1:1', tls: {ca: a, cert: b, key: c, server_name: x}}\n", "control.tls.server_name: only for connections the agent makes"},
		{"server_name on the API", "api: {listen: '127.0.0.1:1', tls: {server_name: x}}\n", "api.tls.server_name: only for connections the agent makes"},
		{"gnmi reconnect_max too small", "collector: {type: gnmi, gnmi: {target: 'a:1', reconnect_max: 100ms}}\n", "collector.gnmi.reconnect_max: must be at least 500ms"},
		{"reconnect_max too small", "streaming:\n  - {type: alerts, address: 'a:1', reconnect_max: 10ms}\n", "line 2: streaming[0].reconnect_max: must be at least 100ms"},
		{"reconnect_max not a duration", "streaming:\n  - {type: alerts, address: 'a:1', reconnect_max: soon}\n", "line 2: \"soon\" is not a duration"},
		{"unknown nested key", "collector:\n  netlink: {namespace: x}\n", "line 2: field namespace not found"},
		{"bad queue", "queue: {messages: 0}\n", "queue.messages: must be at least 1"},
		{"queue bytes too small", "queue: {bytes: 4096}\n", "queue.bytes: must be at least 1048576"},
		{"control without certificates", "control:\n  listen: ':50051'\n", "line 1: control.tls: ca, cert and key are required"},
		{"gnmi encoding", "collector:\n  type: gnmi\n  gnmi: {target: 'a:1', encoding: xml}\n", "collector.gnmi.encoding: want proto, json_ietf or json"},
		{"api bad listen", "api: {listen: 8080}\n", "api.listen: want host:port"},
		{"api on every address without auth", "api:\n  listen: ':8080'\n", `line 2: api.listen: ":8080" is reachable from the network but nothing authenticates writes`},
		{"api on a public address without auth", "api: {listen: '10.0.0.1:8080'}\n", "set api.token_file (bearer token) or api.tls.ca (client certificates), or listen on 127.0.0.1"},
		{"api on a host name without auth", "api: {listen: 'leaf1:8080'}\n", "api.listen: \"leaf1:8080\" is reachable from the network"},
		{"api client CA without HTTPS", "api: {listen: '127.0.0.1:8080', tls: {ca: ca.pem}}\n", "api.tls.ca: client certificates need HTTPS"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := Parse([]byte(tt.yaml))
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Errorf("error = %v, want it to contain %q", err, tt.want)
			}
		})
	}
}

// TestAPIListenAuthenticated: loopback needs no authentication (the API is
// read-only there without it); any other address needs a token or client
// certificates.
func TestAPIListenAuthenticated(t *testing.T) {
	for _, y := range []string{
		"api: {listen: '127.0.0.1:8080'}\n",
		"api: {listen: 'localhost:8080'}\n",
		"api: {listen: '[::1]:8080'}\n",
		"api: {listen: '127.0.0.2:8080'}\n",
		"api: {listen: '0.0.0.0:8080', token_file: /etc/probe-agent/api.token}\n",
		"api: {listen: ':8080', tls: {ca: ca.pem, cert: c.pem, key: c.key}}\n",
		"api: {listen: ''}\n",
	} {
		cfg, err := Parse([]byte(y))
		if err != nil {
			t.Errorf("%q: %v", y, err)
			continue
		}
		if cfg.API.WritesAuthenticated() != (cfg.API.TokenFile != "" || cfg.API.TLS.CA != "") {
			t.Errorf("%q: WritesAuthenticated %v", y, cfg.API.WritesAuthenticated())
		}
	}
	if Defaults().API.WritesAuthenticated() {
		t.Error("the default API authenticates writes: it must be read-only")
	}
}

func TestEmptyConfigGetsDefaults(t *testing.T) {
	cfg, err := Parse(nil)
	if err != nil {
		t.Fatal(err)
	}
	if cfg.Collector.Type != "netlink" || cfg.Output != "json" || cfg.ShutdownTimeout.D() != 5*time.Second {
		t.Errorf("%+v", cfg)
	}
}

// TestPackagedConfigParses keeps the config file shipped in the packages
// loadable by the agent.
func TestPackagedConfigParses(t *testing.T) {
	if _, err := Load("../packaging/agent.yaml"); err != nil {
		t.Fatal(err)
	}
}

// FuzzParseConfig: any input gives a config or an error, never a panic, and
// a config that parses is valid.
func FuzzParseConfig(f *testing.F) {
	f.Add(ExampleConfig)
	f.Add([]byte("interval: 1s\nstreaming:\n  - {type: perfmon, address: 'a:1'}\n"))
	f.Add([]byte("collector: {type: replay}\n"))
	f.Add([]byte("control: {listen: ':1', insecure: true}\n"))
	f.Fuzz(func(t *testing.T, data []byte) {
		cfg, err := Parse(data)
		if err != nil {
			return
		}
		if cfg.Interval.D() < 10*time.Millisecond || cfg.Queue.Messages < 1 {
			t.Fatalf("invalid config accepted: %+v", cfg)
		}
	})
}

// TestConnectionSettingsReachTheClients: server_name and reconnect_max of
// the configuration end up in the TLS and backoff settings of the
// connections the agent makes.
func TestConnectionSettingsReachTheClients(t *testing.T) {
	cfg, err := Parse([]byte("collector: {type: gnmi, gnmi: {target: 'sw1:6030', reconnect_max: 5s, tls: {server_name: sw1.mgmt}}}\n"))
	if err != nil {
		t.Fatal(err)
	}
	o := gnmiOptions(cfg, nil)
	if o.TLS.ServerName != "sw1.mgmt" || o.Backoff.Max != 5*time.Second || o.Target != "sw1:6030" {
		t.Errorf("gnmi options: server name %q, backoff max %s, target %q", o.TLS.ServerName, o.Backoff.Max, o.Target)
	}
	tc, err := clientTLS(TLSConfig{ServerName: "collector.dc1"})
	if err != nil {
		t.Fatal(err)
	}
	if tc.ServerName != "collector.dc1" {
		t.Errorf("streaming TLS server name %q, want collector.dc1", tc.ServerName)
	}
}

// TestShippedConfigsAreSafe: the example and the packaged configuration
// parse, serve the API on loopback only, read-only, and say how to allow
// writes.
func TestShippedConfigsAreSafe(t *testing.T) {
	packaged, err := os.ReadFile("../packaging/agent.yaml")
	if err != nil {
		t.Fatal(err)
	}
	for name, data := range map[string][]byte{"example.yaml": ExampleConfig, "packaging/agent.yaml": packaged} {
		cfg, err := Parse(data)
		if err != nil {
			t.Errorf("%s: %v", name, err)
			continue
		}
		host, _, _ := net.SplitHostPort(cfg.API.Listen)
		if !isLoopback(host) || cfg.API.WritesAuthenticated() {
			t.Errorf("%s: api %+v, want loopback and read-only", name, cfg.API)
		}
		for _, want := range []string{"api:", "token_file", "read-only", "loopback"} {
			if !strings.Contains(string(data), want) {
				t.Errorf("%s does not mention %q", name, want)
			}
		}
	}
}
