package main

import (
	"bytes"
	"strings"
	"testing"
)

// The man page the package installs covers every command and flag an
// operator uses, escaped for roff.
func TestManPage(t *testing.T) {
	root := newRootCmd()
	var out bytes.Buffer
	root.SetOut(&out)
	root.SetArgs([]string{"docs", "man"})
	if err := root.Execute(); err != nil {
		t.Fatal(err)
	}
	page := out.String()
	for _, want := range []string{
		".TH PROBE-CONTROLLER 1 ",
		".SS probe\\-controller run\n",
		".SS probe\\-controller config example\n",
		".SS probe\\-controller config check\n",
		".SS probe\\-controller version\n",
		".B \\-c, \\-\\-config \\fIstring\\fR\n",
		"/etc/probe\\-controller/controller.yaml",
	} {
		if !strings.Contains(page, want) {
			t.Errorf("man page lacks %q", want)
		}
	}
	for _, hidden := range []string{"probe\\-controller docs", "probe\\-controller completion"} {
		if strings.Contains(page, ".SS "+hidden) {
			t.Errorf("man page documents %s", hidden)
		}
	}
	for i, line := range strings.Split(page, "\n") {
		// A body line starting with a quote or a dot that is not a macro
		// would be read by roff as a request.
		if strings.HasPrefix(line, "'") {
			t.Errorf("line %d starts with a quote: %q", i+1, line)
		}
	}
}
