package fabric

import (
	"fmt"
	"image"
	"image/color"
	"image/png"
	"io"
	"math"
	"slices"
)

// Plot colours: one per mode; probes are told apart by their markers.
var (
	colPushdown = color.RGBA{0x1f, 0x77, 0xb4, 0xff}
	colRaw      = color.RGBA{0xd6, 0x27, 0x28, 0xff}
	colAxis     = color.RGBA{0x33, 0x33, 0x33, 0xff}
	colGrid     = color.RGBA{0xdd, 0xdd, 0xdd, 0xff}
)

// panel is one chart: a value of the results against the number of
// devices, both axes logarithmic.
type panel struct {
	title string
	unit  func(float64) string
	value func(Result) float64
}

// WritePNG plots central bytes per interval and central CPU per tick
// against the number of devices, for both modes and every probe of
// results, as a PNG.
func WritePNG(w io.Writer, results []Result) error {
	const pw, ph, gap = 520, 420, 20
	panels := []panel{
		{"central bytes per interval", humanBytes, func(r Result) float64 { return float64(r.Bytes) }},
		{"central cpu per tick", humanDuration, func(r Result) float64 { return float64(r.CentralCPU.Nanoseconds()) }},
	}
	legendH := 40 + 18*len(probeNames(results))
	img := image.NewRGBA(image.Rect(0, 0, len(panels)*pw+gap, ph+legendH))
	for i := range img.Pix {
		img.Pix[i] = 0xff
	}
	for i, p := range panels {
		if err := drawPanel(img, image.Rect(i*pw+gap, 0, (i+1)*pw, ph), p, results); err != nil {
			return err
		}
	}
	// Legend: modes by colour, probes by marker.
	y := ph + 8
	x := gap + 60
	for _, m := range []struct {
		name string
		c    color.Color
	}{{"pushdown", colPushdown}, {"raw streaming", colRaw}} {
		line(img, x, y+5, x+30, y+5, m.c)
		line(img, x, y+6, x+30, y+6, m.c)
		drawText(img, x+38, y, m.name, colAxis)
		x += 38 + textWidth(m.name) + 40
	}
	for i, name := range probeNames(results) {
		yy := y + 24 + 18*i
		marker(img, gap+75, yy+5, i, colAxis)
		drawText(img, gap+98, yy, name, colAxis)
	}
	return png.Encode(w, img)
}

func probeNames(results []Result) []string {
	var out []string
	for _, r := range results {
		if !slices.Contains(out, r.Probe) {
			out = append(out, r.Probe)
		}
	}
	return out
}

func drawPanel(img *image.RGBA, area image.Rectangle, p panel, results []Result) error {
	var xs []int
	lo, hi := math.Inf(1), math.Inf(-1)
	for _, r := range results {
		if !slices.Contains(xs, r.Devices) {
			xs = append(xs, r.Devices)
		}
		if v := p.value(r); v > 0 {
			lo, hi = math.Min(lo, v), math.Max(hi, v)
		}
	}
	if len(xs) == 0 || math.IsInf(lo, 1) {
		return fmt.Errorf("plot %q: no results", p.title)
	}
	slices.Sort(xs)
	// Decades around the values.
	ylo, yhi := math.Floor(math.Log10(lo)), math.Ceil(math.Log10(hi))
	if yhi == ylo {
		yhi++
	}
	xlo, xhi := math.Log2(float64(xs[0])), math.Log2(float64(xs[len(xs)-1]))
	if xhi == xlo {
		xlo, xhi = xlo-1, xhi+1
	}
	plot := image.Rect(area.Min.X+70, area.Min.Y+40, area.Max.X-20, area.Max.Y-50)
	px := func(n int) int {
		return plot.Min.X + int(math.Round((math.Log2(float64(n))-xlo)/(xhi-xlo)*float64(plot.Dx())))
	}
	py := func(v float64) int {
		return plot.Max.Y - int(math.Round((math.Log10(v)-ylo)/(yhi-ylo)*float64(plot.Dy())))
	}
	drawText(img, area.Min.X+(area.Dx()-textWidth(p.title))/2, area.Min.Y+12, p.title, colAxis)
	for d := ylo; d <= yhi; d++ {
		y := py(math.Pow(10, d))
		line(img, plot.Min.X, y, plot.Max.X, y, colGrid)
		label := p.unit(math.Pow(10, d))
		drawText(img, plot.Min.X-8-textWidth(label), y-5, label, colAxis)
	}
	for _, n := range xs {
		x := px(n)
		line(img, x, plot.Min.Y, x, plot.Max.Y, colGrid)
		label := fmt.Sprint(n)
		drawText(img, x-textWidth(label)/2, plot.Max.Y+8, label, colAxis)
	}
	title := "devices (n, 48 ports each)"
	if len(results) > 0 {
		title = fmt.Sprintf("devices (n, %d ports each)", results[0].Ports)
	}
	drawText(img, plot.Min.X+(plot.Dx()-textWidth(title))/2, plot.Max.Y+28, title, colAxis)
	line(img, plot.Min.X, plot.Min.Y, plot.Min.X, plot.Max.Y, colAxis)
	line(img, plot.Min.X, plot.Max.Y, plot.Max.X, plot.Max.Y, colAxis)
	for pi, name := range probeNames(results) {
		for _, mode := range []string{Pushdown, Raw} {
			c := colPushdown
			if mode == Raw {
				c = colRaw
			}
			var pts []image.Point
			for _, r := range results {
				if r.Probe == name && r.Mode == mode && p.value(r) > 0 {
					pts = append(pts, image.Pt(px(r.Devices), py(p.value(r))))
				}
			}
			slices.SortFunc(pts, func(a, b image.Point) int { return a.X - b.X })
			for i := 1; i < len(pts); i++ {
				line(img, pts[i-1].X, pts[i-1].Y, pts[i].X, pts[i].Y, c)
				line(img, pts[i-1].X, pts[i-1].Y+1, pts[i].X, pts[i].Y+1, c)
			}
			for _, pt := range pts {
				marker(img, pt.X, pt.Y, pi, c)
			}
		}
	}
	return nil
}

// line draws a straight line (Bresenham).
func line(img *image.RGBA, x0, y0, x1, y1 int, c color.Color) {
	dx, dy := abs(x1-x0), -abs(y1-y0)
	sx, sy := 1, 1
	if x0 > x1 {
		sx = -1
	}
	if y0 > y1 {
		sy = -1
	}
	for e := dx + dy; ; {
		img.Set(x0, y0, c)
		if x0 == x1 && y0 == y1 {
			return
		}
		if e2 := 2 * e; e2 >= dy {
			e += dy
			x0 += sx
		} else {
			e += dx
			y0 += sy
		}
	}
}

func abs(v int) int {
	if v < 0 {
		return -v
	}
	return v
}

// marker draws marker shape i (square, triangle, diamond, ...) at (x, y).
func marker(img *image.RGBA, x, y, i int, c color.Color) {
	const r = 5
	for dy := -r; dy <= r; dy++ {
		for dx := -r; dx <= r; dx++ {
			in := false
			switch i % 3 {
			case 0: // square
				in = true
			case 1: // triangle
				in = dy >= -r && abs(dx)*2 <= dy+r
			case 2: // diamond
				in = abs(dx)+abs(dy) <= r
			}
			if in {
				img.Set(x+dx, y+dy, c)
			}
		}
	}
}

func humanBytes(v float64) string {
	switch {
	case v >= 1e9:
		return fmt.Sprintf("%gGB", v/1e9)
	case v >= 1e6:
		return fmt.Sprintf("%gMB", v/1e6)
	case v >= 1e3:
		return fmt.Sprintf("%gKB", v/1e3)
	}
	return fmt.Sprintf("%gB", v)
}

func humanDuration(ns float64) string {
	switch {
	case ns >= 1e9:
		return fmt.Sprintf("%gS", ns/1e9)
	case ns >= 1e6:
		return fmt.Sprintf("%gMS", ns/1e6)
	case ns >= 1e3:
		return fmt.Sprintf("%gUS", ns/1e3)
	}
	return fmt.Sprintf("%gNS", ns)
}
