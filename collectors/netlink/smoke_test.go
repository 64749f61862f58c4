package netlink

import (
	"context"
	"testing"

	"github.com/probe-agent/probe-agent/collectors"
)

func TestSmoke(t *testing.T) {
	c, err := New(Options{SystemID: "s"})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	var b collectors.Batch
	for i := 0; i < 2; i++ {
		if err := c.Collect(context.Background(), &b); err != nil {
			t.Fatal(err)
		}
		for _, it := range b.Interfaces {
			t.Logf("%d %+v", b.Layout, it)
		}
	}
}
