package probe

import (
	"fmt"
	"strings"
)

// Problem is one validation finding, located by probe, processor and field so
// that a user can go straight to the offending line of a probe document.
type Problem struct {
	Probe     string `json:"probe,omitempty"`
	Processor string `json:"processor,omitempty"`
	Field     string `json:"field,omitempty"`
	Message   string `json:"message"`
}

func (p Problem) Error() string {
	var b strings.Builder
	if p.Probe != "" {
		fmt.Fprintf(&b, "probe %q: ", p.Probe)
	}
	if p.Processor != "" {
		fmt.Fprintf(&b, "processor %q: ", p.Processor)
	}
	if p.Field != "" {
		fmt.Fprintf(&b, "%s: ", p.Field)
	}
	b.WriteString(p.Message)
	return b.String()
}

// Problems is every finding of one validation; it is an error when non-empty.
type Problems []Problem

func (ps Problems) Error() string {
	lines := make([]string, len(ps))
	for i, p := range ps {
		lines[i] = p.Error()
	}
	return strings.Join(lines, "\n")
}

// Err returns ps as an error, or nil when there are no problems.
func (ps Problems) Err() error {
	if len(ps) == 0 {
		return nil
	}
	return ps
}

// reporter collects problems for one probe, and optionally one processor.
type reporter struct {
	probe     string
	processor string
	list      *Problems
}

func (r reporter) addf(field, format string, args ...any) {
	*r.list = append(*r.list, Problem{Probe: r.probe, Processor: r.processor, Field: field, Message: fmt.Sprintf(format, args...)})
}

func (r reporter) forProcessor(name string) reporter {
	r.processor = name
	return r
}
