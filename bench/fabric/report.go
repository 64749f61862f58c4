package fabric

import (
	"fmt"
	"io"
	"time"
)

// Pair is one probe on one fabric in both modes.
type Pair struct {
	Push, Raw Result
}

// BytesRatio is how many times more bytes raw streaming brings to the
// centre per interval; MessagesRatio and CPURatio likewise.
func (p Pair) BytesRatio() float64    { return ratio(p.Raw.Bytes, p.Push.Bytes) }
func (p Pair) MessagesRatio() float64 { return ratio(p.Raw.Messages, p.Push.Messages) }
func (p Pair) CPURatio() float64      { return ratio(p.Raw.CentralCPU, p.Push.CentralCPU) }

func ratio[T int | time.Duration](a, b T) float64 {
	if b == 0 {
		return 0
	}
	return float64(a) / float64(b)
}

// Pairs matches every pushdown result with the raw result of the same
// probe and fabric, in results' order.
func Pairs(results []Result) ([]Pair, error) {
	var out []Pair
	for _, r := range results {
		if r.Mode != Pushdown {
			continue
		}
		found := false
		for _, q := range results {
			if q.Mode == Raw && q.Probe == r.Probe && q.Shape == r.Shape {
				out, found = append(out, Pair{Push: r, Raw: q}), true
				break
			}
		}
		if !found {
			return nil, fmt.Errorf("probe %q on %d devices: no raw-streaming result", r.Probe, r.Devices)
		}
	}
	return out, nil
}

// WriteTable writes the results as a Markdown table, pushdown and raw
// side by side.
func WriteTable(w io.Writer, results []Result) error {
	pairs, err := Pairs(results)
	if err != nil {
		return err
	}
	fmt.Fprintln(w, "| probe | N x M | items | bytes/interval pushdown | raw | raw/push | messages/interval pushdown | raw | central CPU/tick pushdown | raw | raw/push | latency pushdown | raw | latency, centre ticking early |")
	fmt.Fprintln(w, "|---|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---|")
	for _, p := range pairs {
		fmt.Fprintf(w, "| %s | %d x %d | %d | %s | %s | %.0fx | %d | %d | %s | %s | %.1fx | %s | %s | %s |\n",
			p.Push.Probe, p.Push.Devices, p.Push.Ports, p.Push.Items,
			bytesCell(p.Push.Bytes), bytesCell(p.Raw.Bytes), p.BytesRatio(),
			p.Push.Messages, p.Raw.Messages,
			durCell(p.Push.CentralCPU), durCell(p.Raw.CentralCPU), p.CPURatio(),
			latencyCell(p.Push), latencyCell(p.Raw),
			fmt.Sprintf("%s / %s", ticksCell(p.Push.LatencyTicksEarly), ticksCell(p.Raw.LatencyTicksEarly)))
	}
	return nil
}

func bytesCell(n int) string {
	switch {
	case n >= 1e6:
		return fmt.Sprintf("%.2f MB", float64(n)/1e6)
	case n >= 1e3:
		return fmt.Sprintf("%.1f kB", float64(n)/1e3)
	}
	return fmt.Sprintf("%d B", n)
}

func durCell(d time.Duration) string {
	switch {
	case d >= time.Millisecond:
		return fmt.Sprintf("%.2f ms", float64(d)/1e6)
	}
	return fmt.Sprintf("%.0f µs", float64(d)/1e3)
}

func ticksCell(t int) string {
	if t < 0 {
		return "never"
	}
	return fmt.Sprintf("k+%d", t)
}

func latencyCell(r Result) string {
	if r.LatencyTicks < 0 {
		return "never"
	}
	return fmt.Sprintf("k+%d, %s", r.LatencyTicks, durCell(r.Latency))
}
