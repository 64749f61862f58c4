package replay

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"io"
	"os"
	"slices"
	"sort"
	"time"

	"github.com/probe-agent/probe-agent/collectors"
)

// Read reads a whole replay file into batches, one per distinct ts in time
// order; lines keep their file order within a batch. Errors name the line.
func Read(r io.Reader) ([]collectors.Batch, error) {
	var lines lineReader
	lines.reset(r)
	// One batch per instant, however the line spells it.
	byTime := map[time.Time]int{}
	var batches []collectors.Batch
	for {
		l, ok, err := lines.next()
		if err != nil {
			return nil, err
		}
		if !ok {
			break
		}
		i, ok := byTime[l.Time.UTC()]
		if !ok {
			i = len(batches)
			byTime[l.Time.UTC()] = i
			batches = append(batches, collectors.Batch{Time: l.Time})
		}
		batches[i].Interfaces = append(batches[i].Interfaces, l.Interface)
	}
	sort.SliceStable(batches, func(i, j int) bool { return batches[i].Time.Before(batches[j].Time) })
	var pairs pairTable
	var layouts layoutTracker
	var ids []int32
	for i := range batches {
		ids = pairs.ids(ids[:0], batches[i].Interfaces)
		batches[i].Layout = layouts.next(ids)
	}
	return batches, nil
}

// ReadFile reads a replay file by name.
func ReadFile(name string) ([]collectors.Batch, error) {
	f, err := os.Open(name)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	b, err := Read(f)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", name, err)
	}
	return b, nil
}

// lineReader reads the samples of a replay file in file order, numbering
// the lines and skipping blank ones and # comments. Its memory is a read
// buffer and one copy of each system and interface name.
type lineReader struct {
	sc    *bufio.Scanner
	buf   []byte
	n     int // number of the last line read
	names nameTable
}

// reset starts reading r from its first line.
func (r *lineReader) reset(src io.Reader) {
	if r.buf == nil {
		r.buf = make([]byte, 64*1024)
	}
	if r.names == nil {
		r.names = nameTable{}
	}
	r.sc = bufio.NewScanner(src)
	r.sc.Buffer(r.buf, MaxLineBytes)
	r.n = 0
}

// next returns the next sample, or false at the end of the input. Errors
// name the line.
func (r *lineReader) next() (Line, bool, error) {
	for r.sc.Scan() {
		r.n++
		line := bytes.TrimSpace(r.sc.Bytes())
		if len(line) == 0 || line[0] == '#' {
			continue
		}
		l, err := parseLine(line, r.names)
		if err != nil {
			return l, false, fmt.Errorf("line %d: %w", r.n, err)
		}
		return l, true, nil
	}
	err := r.sc.Err()
	if errors.Is(err, bufio.ErrTooLong) {
		return Line{}, false, fmt.Errorf("line %d: longer than %d bytes", r.n+1, MaxLineBytes)
	}
	if err != nil {
		return Line{}, false, fmt.Errorf("reading replay file: %w", err)
	}
	return Line{}, false, nil
}

// nameTable keeps one copy of each system and interface name, since names
// repeat on every tick. A nil table copies every name.
type nameTable map[string]string

// bytes returns the kept copy of b, keeping one if there is none yet.
func (t nameTable) bytes(b []byte) string {
	if s, ok := t[string(b)]; ok {
		return s
	}
	s := string(b)
	if t != nil {
		t[s] = s
	}
	return s
}

// canon returns the kept copy of s, keeping s if there is none yet.
func (t nameTable) canon(s string) string {
	if c, ok := t[s]; ok {
		return c
	}
	t[s] = s
	return s
}

// pairTable numbers the (system_id, interface) pairs of a recording in the
// order they first appear. It maps each system to its interfaces rather
// than each pair to its number: for thousands of interfaces on tens of
// systems that takes a third of the memory.
type pairTable struct {
	id map[string]map[string]int32
	n  int32
}

// ids appends the number of each interface's pair to dst, numbering new
// pairs.
func (p *pairTable) ids(dst []int32, ifaces []collectors.Interface) []int32 {
	for i := range ifaces {
		dst = append(dst, p.number(&ifaces[i]))
	}
	return dst
}

// number returns the number of ifc's pair, numbering it if it is new.
func (p *pairTable) number(ifc *collectors.Interface) int32 {
	if p.id == nil {
		p.id = map[string]map[string]int32{}
	}
	names := p.id[ifc.SystemID]
	if names == nil {
		names = map[string]int32{}
		p.id[ifc.SystemID] = names
	}
	n, ok := names[ifc.Name]
	if !ok {
		n = p.n
		p.n++
		names[ifc.Name] = n
	}
	return n
}

// knownIDs is ids for a table that must not grow: it reports the first
// interface whose pair is not numbered.
func (p *pairTable) knownIDs(dst []int32, ifaces []collectors.Interface) ([]int32, error) {
	for i := range ifaces {
		n, ok := p.id[ifaces[i].SystemID][ifaces[i].Name]
		if !ok {
			return dst, fmt.Errorf("system_id %q interface %q was not in the file", ifaces[i].SystemID, ifaces[i].Name)
		}
		dst = append(dst, n)
	}
	return dst, nil
}

// layoutTracker numbers batch layouts from 1: consecutive batches with the
// same pairs in the same order get the same Layout.
type layoutTracker struct {
	prev   []int32
	layout uint64
}

// next returns the Layout of the batch whose pairs are ids.
func (t *layoutTracker) next(ids []int32) uint64 {
	if t.layout == 0 || !slices.Equal(t.prev, ids) {
		t.layout++
		t.prev = append(t.prev[:0], ids...)
	}
	return t.layout
}

// restart numbers the next batch 1 again.
func (t *layoutTracker) restart() {
	t.layout = 0
	t.prev = t.prev[:0]
}
