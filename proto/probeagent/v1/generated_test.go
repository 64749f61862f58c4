package probeagentv1

import (
	"os"
	"strings"
	"testing"
)

// TestGeneratedWithPinnedTools guards against generated files regenerated with
// other tool versions than proto/gen.sh pins.
func TestGeneratedWithPinnedTools(t *testing.T) {
	for file, wants := range map[string][]string{
		"control.pb.go": {
			"// \tprotoc-gen-go v1.36.12\n",
			"// \tprotoc        v3.21.12\n",
			"// source: probeagent/v1/control.proto\n",
		},
		"control_grpc.pb.go": {
			"// - protoc-gen-go-grpc v1.6.2\n",
			"// - protoc             v3.21.12\n",
			"// source: probeagent/v1/control.proto\n",
		},
	} {
		src, err := os.ReadFile(file)
		if err != nil {
			t.Fatal(err)
		}
		for _, want := range wants {
			if !strings.Contains(string(src), want) {
				t.Errorf("%s header lacks %q; regenerate with proto/gen.sh", file, want)
			}
		}
	}
}

// TestServiceName pins the full method names controllers call.
func TestServiceName(t *testing.T) {
	if ProbeControl_ApplyProbes_FullMethodName != "/probeagent.v1.ProbeControl/ApplyProbes" ||
		ProbeControl_WatchStatus_FullMethodName != "/probeagent.v1.ProbeControl/WatchStatus" {
		t.Errorf("method names changed: %s %s", ProbeControl_ApplyProbes_FullMethodName, ProbeControl_WatchStatus_FullMethodName)
	}
}
