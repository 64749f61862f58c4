// Package system reads the device's own CPU and memory figures from /proc
// into a collectors.SystemSample. Reading is separate from parsing: ParseStat
// and ParseMeminfo are pure functions over file contents, tested on fixtures;
// Reader keeps its files open and its buffers, so a steady-state read does
// not allocate.
package system

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"

	"github.com/probe-agent/probe-agent/collectors"
)

// Reader reads /proc/stat and /proc/meminfo under a proc root.
type Reader struct {
	systemID string
	stat     *os.File
	meminfo  *os.File
	buf      []byte
}

// NewReader opens procRoot/stat and procRoot/meminfo (procRoot is "/proc"
// on a device, a fixture tree in tests). Samples carry systemID.
func NewReader(procRoot, systemID string) (*Reader, error) {
	stat, err := os.Open(filepath.Join(procRoot, "stat"))
	if err != nil {
		return nil, fmt.Errorf("system: %w", err)
	}
	meminfo, err := os.Open(filepath.Join(procRoot, "meminfo"))
	if err != nil {
		stat.Close()
		return nil, fmt.Errorf("system: %w", err)
	}
	return &Reader{systemID: systemID, stat: stat, meminfo: meminfo, buf: make([]byte, 0, 8192)}, nil
}

// Read fills s with the current figures. On error s.Valid is false and the
// other fields are left as they were.
func (r *Reader) Read(s *collectors.SystemSample) error {
	s.Valid = false
	data, err := r.readFrom(r.stat, true)
	if err != nil {
		return fmt.Errorf("system: read stat: %w", err)
	}
	busy, total, err := ParseStat(data)
	if err != nil {
		return fmt.Errorf("system: %w", err)
	}
	data, err = r.readFrom(r.meminfo, false)
	if err != nil {
		return fmt.Errorf("system: read meminfo: %w", err)
	}
	memTotal, memAvail, err := ParseMeminfo(data)
	if err != nil {
		return fmt.Errorf("system: %w", err)
	}
	s.SystemID = r.systemID
	s.CPUBusy, s.CPUTotal = busy, total
	s.MemTotal, s.MemAvailable = memTotal, memAvail
	s.Valid = true
	return nil
}

// Close closes the files.
func (r *Reader) Close() error {
	return errors.Join(r.stat.Close(), r.meminfo.Close())
}

// readFrom reads f from its start into the reused buffer, growing it when
// the file does not fit. With firstLine it stops as soon as the first line is
// complete: the aggregate "cpu" line is all that is needed of /proc/stat,
// whose interrupt lines can be long.
func (r *Reader) readFrom(f *os.File, firstLine bool) ([]byte, error) {
	if _, err := f.Seek(0, io.SeekStart); err != nil {
		return nil, err
	}
	buf := r.buf[:0]
	for {
		if len(buf) == cap(buf) {
			buf = append(buf, 0)[:len(buf)] // grow, keeping the buffer for next time
		}
		n, err := f.Read(buf[len(buf):cap(buf)])
		buf = buf[:len(buf)+n]
		if firstLine && bytes.IndexByte(buf, '\n') >= 0 {
			break
		}
		if err == io.EOF || (err == nil && n == 0) {
			break
		}
		if err != nil {
			return nil, err
		}
	}
	r.buf = buf[:0]
	return buf, nil
}

// ParseStat reads the aggregate "cpu" line of /proc/stat: total is the sum
// of user, nice, system, idle, iowait, irq, softirq and steal (guest time is
// already counted in user and nice), busy is total minus idle and iowait.
// Kernels that report fewer fields are handled; the line must have at least
// user, nice, system and idle.
func ParseStat(data []byte) (busy, total uint64, err error) {
	line := data
	if i := bytes.IndexByte(data, '\n'); i >= 0 {
		line = data[:i]
	}
	if !bytes.HasPrefix(line, []byte("cpu ")) {
		return 0, 0, errors.New("stat: first line is not the aggregate cpu line")
	}
	line = line[len("cpu "):]
	var idle uint64
	field := 0
	for len(line) > 0 && field < 8 {
		line = bytes.TrimLeft(line, " ")
		if len(line) == 0 {
			break
		}
		end := bytes.IndexByte(line, ' ')
		if end < 0 {
			end = len(line)
		}
		v, ok := parseUint(line[:end])
		if !ok {
			return 0, 0, fmt.Errorf("stat: cpu field %d: not a number: %q", field+1, line[:end])
		}
		if total+v < total {
			return 0, 0, errors.New("stat: cpu times overflow")
		}
		total += v
		if field == 3 || field == 4 { // idle, iowait
			idle += v
		}
		line = line[end:]
		field++
	}
	if field < 4 {
		return 0, 0, fmt.Errorf("stat: cpu line has %d fields, want at least 4", field)
	}
	return total - idle, total, nil
}

// ParseMeminfo reads MemTotal and MemAvailable (kB) from /proc/meminfo and
// returns them in bytes. Before Linux 3.14 there is no MemAvailable; it is
// then estimated as MemFree + Buffers + Cached.
func ParseMeminfo(data []byte) (total, available uint64, err error) {
	var free, buffers, cached uint64
	var haveTotal, haveAvail bool
	for len(data) > 0 {
		line := data
		if i := bytes.IndexByte(data, '\n'); i >= 0 {
			line, data = data[:i], data[i+1:]
		} else {
			data = nil
		}
		colon := bytes.IndexByte(line, ':')
		if colon < 0 {
			continue
		}
		name := line[:colon]
		var dst *uint64
		switch string(name) { // no allocation: the compiler specialises this conversion
		case "MemTotal":
			dst, haveTotal = &total, true
		case "MemAvailable":
			dst, haveAvail = &available, true
		case "MemFree":
			dst = &free
		case "Buffers":
			dst = &buffers
		case "Cached":
			dst = &cached
		default:
			continue
		}
		rest := bytes.TrimSpace(line[colon+1:])
		unit := uint64(1)
		if v, ok := bytes.CutSuffix(rest, []byte(" kB")); ok {
			rest, unit = bytes.TrimSpace(v), 1024
		}
		v, ok := parseUint(rest)
		if !ok {
			return 0, 0, fmt.Errorf("meminfo: %s: not a number: %q", name, rest)
		}
		*dst = v * unit
	}
	if !haveTotal {
		return 0, 0, errors.New("meminfo: no MemTotal")
	}
	if !haveAvail {
		available = free + buffers + cached
	}
	return total, available, nil
}

// parseUint reads a /proc number: at most 20 digits.
func parseUint(b []byte) (uint64, bool) {
	if len(b) > 20 {
		return 0, false
	}
	return collectors.ParseUint(b)
}
