package fabric

import (
	"testing"

	_ "github.com/probe-agent/probe-agent/probe/processors"
)

func TestRunTiny(t *testing.T) {
	probes, err := Probes("../..")
	if err != nil {
		t.Fatal(err)
	}
	res, err := Run(Config{Shape: Shape{Devices: 4, Ports: 4}}, probes)
	if err != nil {
		t.Fatal(err)
	}
	for _, r := range res {
		t.Logf("%+v", r)
	}
}
