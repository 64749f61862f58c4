package replay

import (
	"context"
	"fmt"
	"io"
	"os"
	"slices"
	"time"

	"github.com/probe-agent/probe-agent/collectors"
)

// FileCollector replays a replay file as a live source, tick for tick like
// Collector over the file's batches (times shifted so the first tick is
// "now", looping at the end as a reset), but it streams the file instead of
// holding it: it keeps the current tick's lines, a read buffer and, per
// interface, its names, so its memory does not grow with the length of the
// recording. A loop seeks back
// to the start of the file.
//
// The lines must be in time order (the lines of one ts together), as
// probe-agent collect writes them; Read also accepts other orders. The whole
// file is checked when the collector is made, so a bad line is reported at
// start. If the file changes afterwards (its size or modification time, or
// what it holds), Collect fails from then on instead of replaying something
// else.
type FileCollector struct {
	name    string
	f       *os.File
	size    int64
	modTime time.Time
	ticks   int // ticks in one pass
	width   int // interfaces in the widest tick

	lines      lineReader
	pending    Line // first line of the next tick, read ahead
	hasPending bool
	pairs      pairTable
	ids        []int32 // pair numbers of the current tick's interfaces
	layouts    layoutTracker
	clock      timeline
	tick       int // ticks of this pass already collected
	loops      uint64
	err        error // once set, every Collect returns it
	// paced hands out each tick once the wall clock reaches its replayed
	// time (Paced).
	paced bool
}

// Paced makes the collector replay at the recording's own pace instead of
// one recorded tick per Collect: a tick is handed out once the clock has
// reached its replayed time, Collect wraps collectors.ErrNotDue before
// that, and a caller slower than the recording skips to the latest due
// tick. Batch times then stay true (never ahead of the clock, at most one
// recorded step behind it) whatever the caller's interval.
func (c *FileCollector) Paced() *FileCollector {
	c.paced = true
	return c
}

// NewFileCollector opens a replay file and checks it, streaming, so that a
// bad line is an error now rather than an hour into the replay. now is the
// clock the first tick is shifted to; nil means time.Now. Errors name the
// file and, for a bad line, the line.
func NewFileCollector(name string, now func() time.Time) (*FileCollector, error) {
	f, err := os.Open(name)
	if err != nil {
		return nil, err
	}
	c := &FileCollector{name: name, f: f}
	if err := c.scan(now); err != nil {
		f.Close()
		return nil, err
	}
	return c, nil
}

// scan reads the whole file once for what replaying it needs: the number of
// ticks, the first and last times, each interface's number and growth.
func (c *FileCollector) scan(now func() time.Time) error {
	fi, err := c.f.Stat()
	if err != nil {
		return err
	}
	c.size, c.modTime = fi.Size(), fi.ModTime()
	c.lines.reset(c.f)
	var first, prev time.Time
	prevLine, width := 0, 0
	for {
		l, ok, err := c.lines.next()
		if err != nil {
			return fmt.Errorf("%s: %w", c.name, err)
		}
		if !ok {
			break
		}
		if c.ticks == 0 || !l.Time.Equal(prev) {
			width = 0
			if c.ticks > 0 && l.Time.Before(prev) {
				return fmt.Errorf("%s: line %d: ts %s is before ts %s on line %d: the replay collector needs the lines in time order, as probe-agent collect writes them",
					c.name, c.lines.n, l.Time.Format(time.RFC3339Nano), prev.Format(time.RFC3339Nano), prevLine)
			}
			if c.ticks == 0 {
				first = l.Time
			}
			c.ticks++
			prev = l.Time
		}
		prevLine = c.lines.n
		width++
		c.width = max(c.width, width)
		c.pairs.number(&l.Interface)
	}
	if c.ticks == 0 {
		return fmt.Errorf("%s: no samples", c.name)
	}
	c.clock = newTimeline(first, prev, c.ticks, now)
	if err := c.checkUnchanged(); err != nil {
		return err
	}
	return c.rewind()
}

// Collect implements collectors.Collector: it returns the next tick (when
// paced, the latest tick due).
func (c *FileCollector) Collect(_ context.Context, b *collectors.Batch) error {
	if c.err != nil {
		return c.err
	}
	if !c.paced || (c.tick == 0 && c.loops == 0) {
		c.err = c.collect(b)
		return c.err
	}
	now := c.clock.now()
	if due := c.nextDue(); now.Before(due) {
		return fmt.Errorf("%w: the recording's next tick is due at %s", collectors.ErrNotDue, due.Format(time.RFC3339Nano))
	}
	for {
		if c.err = c.collect(b); c.err != nil {
			return c.err
		}
		if now.Before(c.nextDue()) {
			return nil
		}
	}
}

// nextDue is the replayed time of the tick the next collect returns.
func (c *FileCollector) nextDue() time.Time {
	if c.tick == c.ticks {
		// The next pass starts one recorded interval after this one ended.
		return c.clock.at(c.clock.first, c.loops+1)
	}
	return c.clock.at(c.pending.Time, c.loops)
}

func (c *FileCollector) collect(b *collectors.Batch) error {
	if err := c.checkUnchanged(); err != nil {
		return err
	}
	if c.tick == c.ticks {
		if err := c.rewind(); err != nil {
			return err
		}
		c.tick = 0
		c.loops++
	}
	if c.tick == 0 && c.loops == 0 {
		c.clock.start()
	}
	l, ok := c.pending, c.hasPending
	c.hasPending = false
	if !ok {
		var err error
		if l, ok, err = c.lines.next(); err != nil {
			return c.changed(err)
		}
		if !ok {
			return c.changed(fmt.Errorf("it ends after %d of its %d ticks", c.tick, c.ticks))
		}
	}
	rec := l.Time
	b.Interfaces = slices.Grow(b.Interfaces[:0], c.width)
	for {
		b.Interfaces = append(b.Interfaces, l.Interface)
		var err error
		if l, ok, err = c.lines.next(); err != nil {
			return c.changed(err)
		}
		if !ok {
			if c.tick+1 < c.ticks {
				return c.changed(fmt.Errorf("it ends after %d of its %d ticks", c.tick+1, c.ticks))
			}
			break
		}
		if !l.Time.Equal(rec) {
			if c.tick+1 == c.ticks {
				return c.changed(fmt.Errorf("line %d: more than its %d ticks", c.lines.n, c.ticks))
			}
			if l.Time.Before(rec) {
				return c.changed(fmt.Errorf("line %d: ts out of time order", c.lines.n))
			}
			c.pending, c.hasPending = l, true
			break
		}
	}
	var err error
	if c.ids, err = c.pairs.knownIDs(slices.Grow(c.ids[:0], c.width), b.Interfaces); err != nil {
		return c.changed(err)
	}
	for i := range b.Interfaces {
		newPass(&b.Interfaces[i], c.loops)
	}
	b.Layout = c.layouts.next(c.ids)
	b.Time = c.clock.at(rec, c.loops)
	c.tick++
	return nil
}

// checkUnchanged fails if the file's size or modification time changed
// since it was opened.
func (c *FileCollector) checkUnchanged() error {
	fi, err := c.f.Stat()
	if err != nil {
		return err
	}
	if fi.Size() != c.size || !fi.ModTime().Equal(c.modTime) {
		return c.changed(fmt.Errorf("size %d bytes, modified %s; now %d bytes, modified %s",
			c.size, c.modTime.Format(time.RFC3339Nano), fi.Size(), fi.ModTime().Format(time.RFC3339Nano)))
	}
	return nil
}

func (c *FileCollector) changed(err error) error {
	return fmt.Errorf("%s: changed since it was opened (reopen it to replay what it holds now): %w", c.name, err)
}

// rewind goes back to the start of the file for the next pass.
func (c *FileCollector) rewind() error {
	if _, err := c.f.Seek(0, io.SeekStart); err != nil {
		return err
	}
	c.lines.reset(c.f)
	c.hasPending = false
	c.layouts.restart()
	return nil
}

// Close implements collectors.Collector.
func (c *FileCollector) Close() error { return c.f.Close() }
