package netlink

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"os"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/probe-agent/probe-agent/collectors"
	vnl "github.com/vishvananda/netlink"
	"golang.org/x/sys/unix"
)

// Options configures a Collector.
type Options struct {
	// Netns names a network namespace under /var/run/netns; "" collects the
	// namespace the process is in.
	Netns string
	// SystemID is copied into every Interface.
	SystemID string
	// ResyncInterval is how often the whole link list is re-read, to recover
	// from lost notifications. Default 60s.
	ResyncInterval time.Duration
	// Timeout bounds one poll when the context has no deadline. Default 5s.
	Timeout time.Duration
	Logger  *slog.Logger
}

const (
	defaultResync  = 60 * time.Second
	defaultTimeout = 5 * time.Second
	// The kernel caps one dump datagram at 32 KiB; twice that never truncates.
	recvBufSize = 64 << 10
	// Large enough for the notifications of thousands of links created at
	// once; an overflow is survivable (ENOBUFS triggers a resync) but slow.
	eventRcvBuf  = 8 << 20
	maxDumpTries = 3
)

// ErrClosed is returned by Collect after Close.
var ErrClosed = errors.New("netlink: collector closed")

// link is what the collector knows about one kernel link. Links live in a
// slice; byIndex and byName only change when the set of links changes.
type link struct {
	index int32
	name  string
	oper  collectors.OperStatus
	speed uint64
	// id identifies this (ifindex, name) incarnation for Layout tracking.
	id uint64
	// gen is the Interface.Generation; it moves on rename, re-creation and
	// counter resets.
	gen  uint64
	last [collectors.NumCounters]uint64
	// poll is the last poll that emitted this link, to drop duplicates a
	// disturbed dump can contain.
	poll uint64
	// mark is the resync pass that last saw this link.
	mark uint64
}

// Collector polls interface counters of one network namespace. Collect
// calls are serialised; Close may be called concurrently with Collect.
type Collector struct {
	opts Options
	log  *slog.Logger
	// anchor is the thread in opts.Netns every socket is created on; nil
	// means the process's own namespace.
	anchor *anchor
	h      *vnl.Handle
	eth    int // AF_INET socket in the anchor's namespace, for SIOCETHTOOL

	// Poll state, owned by whoever holds pollMu.
	pollMu   sync.Mutex
	pollCtx  context.Context // of the Collect in progress
	stats    *nlSocket
	buf      []byte
	req      []byte
	seq      uint32
	onStatFn func(int32, *rawStats)
	walkStat func([]byte) (dumpResult, error)
	st       rawStats
	cur      *collectors.Batch
	prevIDs  []uint64 // link ids of the last batch, in order
	prevPos  []int32  // where those links sat in links, to skip the map
	changed  bool
	layout   uint64
	// dirty is set when a link already placed in the batch being built was
	// renamed or found deleted: the dump straddled a change and is redone.
	dirty bool

	// Link table, guarded by mu. Lock order: pollMu before mu.
	mu       sync.Mutex
	links    []link
	byIndex  map[int32]int32
	byName   map[string]int32
	nextID   uint64
	poll     uint64
	syncMark uint64
	events   *nlSocket
	// linkSock serves the link dumps of resyncs; they read into evBuf,
	// which is free whenever mu is held outside drainEventsLocked's read.
	linkSock *nlSocket
	linkReq  []byte
	linkSeq  uint32
	onLinkFn func([]byte) error
	walkLink func([]byte) (dumpResult, error)
	evBuf    []byte
	evN      int
	evErr    error
	evReadFn func(uintptr)
	closed   bool
	// I/O of the dump in progress (stats or links), bound once so that
	// a poll allocates nothing; guarded by mu.
	rdBuf   []byte
	wrReq   []byte
	rdN     int
	rdErr   error
	readFn  func(uintptr) bool
	writeFn func(uintptr) bool

	stop chan struct{}
	wg   sync.WaitGroup
	once sync.Once
}

// New opens the sockets, lists the links and starts following link changes.
func New(opts Options) (*Collector, error) {
	if opts.ResyncInterval <= 0 {
		opts.ResyncInterval = defaultResync
	}
	if opts.Timeout <= 0 {
		opts.Timeout = defaultTimeout
	}
	c := &Collector{
		opts:    opts,
		log:     opts.Logger,
		eth:     -1,
		buf:     make([]byte, recvBufSize),
		evBuf:   make([]byte, recvBufSize),
		byIndex: make(map[int32]int32),
		byName:  make(map[string]int32),
		// Random starts keep generations and layouts of two collectors, or
		// of one agent before and after a restart, from colliding.
		nextID: rand.Uint64() | 1,
		layout: rand.Uint64() | 1,
		stop:   make(chan struct{}),
	}
	if c.log == nil {
		c.log = slog.Default()
	}
	c.log = c.log.With("collector", "netlink", "netns", opts.Netns)
	c.readFn = c.doRead
	c.writeFn = c.doWrite
	c.onStatFn = c.onStats
	c.walkStat = c.walkStats
	c.walkLink = c.walkLinks
	c.evReadFn = c.doEvRead
	c.onLinkFn = c.onLink
	c.req = appendStatsRequest(nil, 0)

	if err := c.open(); err != nil {
		c.release()
		return nil, err
	}
	c.wg.Add(2)
	go c.eventLoop()
	go c.resyncLoop()
	return c, nil
}

// nsError names the namespace in an error of entering it, and says what
// a permission error needs: setns(2) into another network namespace takes
// CAP_SYS_ADMIN (and the namespace file must be readable).
func nsError(name, what string, err error) error {
	if name == "" || err == nil {
		return err
	}
	if permissionDenied(err) {
		return fmt.Errorf("netlink: %s in network namespace %q: permission denied: entering another namespace needs root or CAP_SYS_ADMIN (the packaged service gets it from the drop-in probe-agent-netns.conf, see docs/packaging.md): %w", what, name, err)
	}
	return fmt.Errorf("netlink: %s in network namespace %q: %w", what, name, err)
}

// permissionDenied recognises EPERM and EACCES, also inside the netlink
// library's errors, which carry them as text only ("failed to set into
// network namespace 5 ...: operation not permitted").
func permissionDenied(err error) bool {
	if errors.Is(err, unix.EPERM) || errors.Is(err, unix.EACCES) {
		return true
	}
	msg := err.Error()
	return strings.Contains(msg, unix.EPERM.Error()) || strings.Contains(msg, unix.EACCES.Error())
}

func (c *Collector) open() error {
	err := c.openIn()
	if c.opts.Netns != "" && err != nil && permissionDenied(err) && !strings.Contains(err.Error(), "CAP_SYS_ADMIN") {
		return nsError(c.opts.Netns, "open", err)
	}
	return err
}

func (c *Collector) openIn() error {
	var err error
	if c.opts.Netns != "" {
		// Entered once per namespace and process (see anchor); a reload
		// on the same namespace reuses the thread.
		if c.anchor, err = acquireAnchor(c.opts.Netns); err != nil {
			if errors.Is(err, unix.ENOENT) {
				return fmt.Errorf("netlink: network namespace %q does not exist (see ip netns list): %w", c.opts.Netns, err)
			}
			if errors.Is(err, ErrNeedsRestart) {
				return fmt.Errorf("netlink: %w", err)
			}
			return nsError(c.opts.Netns, "open", err)
		}
	}
	// The library's handle opens its sockets in the namespace of the
	// thread that makes it: NewHandle on the anchor, where NewHandleAt
	// would enter the namespace again itself.
	if err := c.anchor.run(func() (err error) {
		c.h, err = vnl.NewHandle()
		return err
	}); err != nil {
		if c.opts.Netns != "" {
			return nsError(c.opts.Netns, "netlink handle", err)
		}
		return fmt.Errorf("netlink: handle: %w", err)
	}
	if err := c.anchor.run(func() error {
		var err error
		c.eth, err = unix.Socket(unix.AF_INET, unix.SOCK_DGRAM|unix.SOCK_CLOEXEC, 0)
		return err
	}); err != nil {
		c.eth = -1
		c.log.Warn("no ethtool socket, speeds will be unknown", "err", err)
	}
	if c.stats, err = openBlockingNetlink(c.anchor); err != nil {
		return fmt.Errorf("netlink: stats socket: %w", err)
	}
	if c.linkSock, err = openNetlink(c.anchor, 0, 0); err != nil {
		return fmt.Errorf("netlink: link socket: %w", err)
	}
	// Subscribe before listing so no change falls between the two.
	if c.events, err = openNetlink(c.anchor, 1<<(unix.RTNLGRP_LINK-1), eventRcvBuf); err != nil {
		return fmt.Errorf("netlink: link notifications: %w", err)
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.resyncLocked()
}

// release closes whatever open() managed to open.
func (c *Collector) release() {
	if c.events != nil {
		c.events.Close()
	}
	if c.stats != nil {
		c.stats.Close()
	}
	if c.linkSock != nil {
		c.linkSock.Close()
		c.linkSock = nil
	}
	if c.eth >= 0 {
		unix.Close(c.eth)
		c.eth = -1
	}
	if c.h != nil {
		c.h.Close()
	}
	c.anchor.release()
	c.anchor = nil
}

// Close stops following link changes and releases the sockets.
func (c *Collector) Close() error {
	c.once.Do(func() {
		close(c.stop)
		c.mu.Lock()
		c.closed = true
		c.mu.Unlock()
		c.events.Close() // wakes eventLoop
		c.wg.Wait()
		c.pollMu.Lock()
		defer c.pollMu.Unlock()
		c.mu.Lock()
		defer c.mu.Unlock()
		c.stats.Close()
		c.stats = nil
		c.events = nil
		c.release()
	})
	return nil
}

// Collect fills b with one poll of the namespace's interface counters.
func (c *Collector) Collect(ctx context.Context, b *collectors.Batch) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	c.pollMu.Lock()
	defer c.pollMu.Unlock()
	if c.stats == nil {
		return ErrClosed
	}
	deadline, ok := ctx.Deadline()
	if !ok {
		deadline = time.Now().Add(c.opts.Timeout)
	}
	if err := c.stats.setReadTimeout(deadline); err != nil {
		return err
	}
	// The stats socket is blocking (see openBlockingNetlink): a dump's
	// next datagram is always queued by the time it is read, so the poll
	// checks the context between datagrams instead of being woken. A poll
	// given up mid-dump fails, and a failed poll replaces the socket (the
	// kernel would answer the next request on it with EBUSY).
	c.pollCtx = ctx
	defer func() { c.pollCtx = nil }()

	c.mu.Lock()
	defer c.mu.Unlock()
	c.drainEventsLocked()
	b.Time = time.Now()
	var err error
	for try := 0; ; try++ {
		var interrupted bool
		interrupted, err = c.dumpLocked(b)
		if err != nil || !(interrupted || c.dirty) {
			break
		}
		if try+1 == maxDumpTries {
			if c.dirty {
				c.dropStaleLocked(b)
			}
			break
		}
		c.drainEventsLocked()
	}
	c.cur = nil
	if err != nil {
		c.replaceStatsSocket()
		if cerr := ctx.Err(); cerr != nil {
			err = cerr
		}
		b.Interfaces = b.Interfaces[:0]
		return fmt.Errorf("netlink: stats dump: %w", err)
	}
	if len(b.Interfaces) != len(c.prevIDs) {
		c.changed = true
		c.prevIDs = c.prevIDs[:len(b.Interfaces)]
		c.prevPos = c.prevPos[:len(b.Interfaces)]
	}
	if c.changed {
		c.layout++
		if c.layout == 0 {
			c.layout++
		}
		c.changed = false
	}
	b.Layout = c.layout
	return nil
}

// dropStaleLocked removes from b the interfaces whose link was renamed or
// deleted while the dump ran, when redoing the dump did not help. Those
// interfaces are missing from one batch, which is better than reporting one
// name twice. Rare, so it may allocate.
func (c *Collector) dropStaleLocked(b *collectors.Batch) {
	current := make(map[uint64]int32, len(c.links))
	for i := range c.links {
		current[c.links[i].id] = int32(i)
	}
	n := 0
	for k := range b.Interfaces {
		p, ok := current[c.prevIDs[k]]
		if !ok {
			continue
		}
		b.Interfaces[n] = b.Interfaces[k]
		c.prevIDs[n] = c.prevIDs[k]
		c.prevPos[n] = p
		n++
	}
	if n != len(b.Interfaces) {
		c.changed = true
	}
	b.Interfaces = b.Interfaces[:n]
	c.prevIDs = c.prevIDs[:n]
	c.prevPos = c.prevPos[:n]
}

// replaceStatsSocket drops a socket that may hold a half-read dump. Called
// with pollMu held.
func (c *Collector) replaceStatsSocket() {
	s, err := openBlockingNetlink(c.anchor)
	if err != nil {
		c.log.Warn("reopening stats socket", "err", err)
		return // keep the old one: better than none
	}
	c.stats.Close()
	c.stats = s
}

func (c *Collector) doRead(fd uintptr) bool {
	c.rdN, c.rdErr = unix.Read(int(fd), c.rdBuf)
	return c.rdErr != unix.EAGAIN
}

func (c *Collector) doWrite(fd uintptr) bool {
	c.rdN, c.rdErr = unix.Write(int(fd), c.wrReq)
	return c.rdErr != unix.EAGAIN
}

// dumpLocked runs one RTM_GETSTATS dump into b. It reports whether the
// kernel flagged the dump as disturbed by concurrent link changes.
func (c *Collector) dumpLocked(b *collectors.Batch) (bool, error) {
	c.seq++
	c.poll++
	c.dirty = false
	c.req = appendStatsRequest(c.req[:0], c.seq)
	if cap(b.Interfaces) < len(c.links) {
		// Sized once to the link table: growing by appends would leave
		// several times the batch's size as garbage on a big device.
		b.Interfaces = make([]collectors.Interface, 0, len(c.links)+len(c.links)/16)
	}
	b.Interfaces = b.Interfaces[:0]
	c.cur = b
	return c.runDumpLocked(c.stats, c.req, c.buf, c.walkStat)
}

func (c *Collector) walkStats(data []byte) (dumpResult, error) {
	return walkDump(data, c.seq, &c.st, c.onStatFn)
}

// runDumpLocked sends the dump request req on s and hands every datagram of
// the reply, read into buf, to walk until the dump is done. It reports
// whether the kernel flagged the dump as disturbed by concurrent changes.
func (c *Collector) runDumpLocked(s *nlSocket, req, buf []byte, walk func([]byte) (dumpResult, error)) (bool, error) {
	if s.blocking {
		return c.runBlockingDumpLocked(s, req, buf, walk)
	}
	c.wrReq, c.rdBuf = req, buf
	if err := s.rc.Write(c.writeFn); err != nil {
		return false, err
	}
	if c.rdErr != nil {
		return false, c.rdErr
	}
	interrupted := false
	for {
		if err := s.rc.Read(c.readFn); err != nil {
			return false, err
		}
		if c.rdErr != nil {
			return false, c.rdErr
		}
		r, err := walk(buf[:c.rdN])
		if err != nil {
			var e errnoError
			if errors.As(err, &e) {
				err = syscall.Errno(-e)
			}
			return false, err
		}
		interrupted = interrupted || r.interrupted
		if r.done {
			return interrupted, nil
		}
	}
}

// runBlockingDumpLocked is runDumpLocked on a blocking socket: plain
// system calls, retried when a signal interrupts them (the runtime's
// preemption signals do), a receive timeout reported as
// os.ErrDeadlineExceeded, and the poll's context looked at between
// datagrams.
func (c *Collector) runBlockingDumpLocked(s *nlSocket, req, buf []byte, walk func([]byte) (dumpResult, error)) (bool, error) {
	var err error
	for {
		if _, err = unix.Write(s.fd, req); err != unix.EINTR {
			break
		}
	}
	if err != nil {
		return false, blockingErr(err)
	}
	interrupted := false
	for {
		var n int
		for {
			if n, err = unix.Read(s.fd, buf); err != unix.EINTR {
				break
			}
		}
		if err != nil {
			return false, blockingErr(err)
		}
		r, err := walk(buf[:n])
		if err != nil {
			var e errnoError
			if errors.As(err, &e) {
				err = syscall.Errno(-e)
			}
			return false, err
		}
		interrupted = interrupted || r.interrupted
		if r.done {
			return interrupted, nil
		}
		if c.pollCtx != nil {
			if err := c.pollCtx.Err(); err != nil {
				return false, err
			}
		}
	}
}

// blockingErr turns the receive timeout of a blocking socket (EAGAIN) into
// the error a poller deadline gives.
func blockingErr(err error) error {
	if err == unix.EAGAIN {
		return os.ErrDeadlineExceeded
	}
	return err
}

// onStats places one link's counters into the batch being built. It is the
// per-interface hot path: no allocation unless the batch or the layout
// slices grow, and no map lookup while links sit where they sat last poll.
func (c *Collector) onStats(ifindex int32, st *rawStats) {
	b := c.cur
	k := len(b.Interfaces)
	pos := int32(-1)
	if k < len(c.prevPos) {
		if p := c.prevPos[k]; int(p) < len(c.links) && c.links[p].index == ifindex {
			pos = p
		}
	}
	if pos < 0 {
		p, ok := c.byIndex[ifindex]
		if !ok {
			if p, ok = c.resolveLocked(ifindex); !ok {
				return
			}
		}
		pos = p
	}
	l := &c.links[pos]
	if l.poll == c.poll {
		return
	}
	l.poll = c.poll

	b.Interfaces = append(b.Interfaces, collectors.Interface{})
	it := &b.Interfaces[k]
	it.SystemID = c.opts.SystemID
	it.Name = l.name
	it.Oper = l.oper
	it.SpeedBps = l.speed
	it.Valid = validCounters
	fillCounters(&it.Counters, st)
	for i := range it.Counters {
		if it.Counters[i] < l.last[i] {
			l.gen = c.newID()
			break
		}
	}
	l.last = it.Counters
	it.Generation = l.gen

	if k < len(c.prevIDs) {
		if c.prevIDs[k] != l.id {
			c.prevIDs[k] = l.id
			c.changed = true
		}
		c.prevPos[k] = pos
	} else {
		c.prevIDs = append(c.prevIDs, l.id)
		c.prevPos = append(c.prevPos, pos)
		c.changed = true
	}
}

func (c *Collector) newID() uint64 {
	c.nextID++
	if c.nextID == 0 {
		c.nextID++
	}
	return c.nextID
}

func operStatus(s vnl.LinkOperState) collectors.OperStatus {
	switch s {
	case vnl.OperUp:
		return collectors.OperUp
	case vnl.OperUnknown:
		return collectors.OperUnknown
	}
	return collectors.OperDown
}

// upsertLocked records the current name and state of a link, starting a new
// incarnation when the link is new or was renamed.
func (c *Collector) upsertLocked(index int32, name string, oper collectors.OperStatus, speed uint64) int32 {
	if p, ok := c.byIndex[index]; ok {
		l := &c.links[p]
		if l.name != name {
			if c.cur != nil && l.poll == c.poll {
				c.dirty = true
			}
			c.log.Debug("link renamed", "ifindex", index, "from", l.name, "to", name)
			if q, ok := c.byName[l.name]; ok && q == p {
				delete(c.byName, l.name)
			}
			l.name = name
			l.id = c.newID()
			l.gen = l.id
			c.byName[name] = p
		}
		l.oper, l.speed, l.mark = oper, speed, c.syncMark
		return p
	}
	id := c.newID()
	p := int32(len(c.links))
	c.links = append(c.links, link{index: index, name: name, oper: oper, speed: speed, id: id, gen: id, mark: c.syncMark})
	c.byIndex[index] = p
	c.byName[name] = p
	return p
}

func (c *Collector) removeLocked(index int32) {
	p, ok := c.byIndex[index]
	if !ok {
		return
	}
	if c.cur != nil && c.links[p].poll == c.poll {
		c.dirty = true
	}
	if q, ok := c.byName[c.links[p].name]; ok && q == p {
		delete(c.byName, c.links[p].name)
	}
	delete(c.byIndex, index)
	last := int32(len(c.links) - 1)
	if p != last {
		c.links[p] = c.links[last]
		c.byIndex[c.links[p].index] = p
		if q, ok := c.byName[c.links[p].name]; ok && q == last {
			c.byName[c.links[p].name] = p
		}
	}
	c.links[last] = link{}
	c.links = c.links[:last]
}

// resolveLocked looks up a link the stats dump returned before any
// notification about it was read. If its name is still held by another
// link, that link's notification is also not in yet (it was renamed or
// deleted), so it is looked up too rather than report one name twice.
func (c *Collector) resolveLocked(index int32) (int32, bool) {
	lk, err := c.h.LinkByIndex(int(index))
	if err != nil {
		return -1, false // gone again, or unreadable: skip this poll
	}
	a := lk.Attrs()
	if q, ok := c.byName[a.Name]; ok && c.links[q].index != index {
		other := c.links[q].index
		if ol, err := c.h.LinkByIndex(int(other)); err != nil {
			c.removeLocked(other)
		} else {
			oa := ol.Attrs()
			c.upsertLocked(other, oa.Name, operStatus(oa.OperState), linkSpeed(c.eth, oa.Name))
		}
	}
	return c.upsertLocked(index, a.Name, operStatus(a.OperState), linkSpeed(c.eth, a.Name)), true
}

// resyncLocked replaces the link table with a fresh listing. Links keep
// their incarnation when index and name are unchanged.
func (c *Collector) resyncLocked() error {
	c.syncMark++
	var err error
	for try := 0; try < maxDumpTries; try++ {
		var interrupted bool
		if interrupted, err = c.dumpLinksLocked(); err == nil && !interrupted {
			break
		}
		if err != nil {
			// A failed dump may leave the kernel mid-dump on this socket.
			if s, oerr := openNetlink(c.anchor, 0, 0); oerr == nil {
				c.linkSock.Close()
				c.linkSock = s
			}
		}
	}
	if err != nil {
		return fmt.Errorf("netlink: list links: %w", err)
	}
	for i := len(c.links) - 1; i >= 0; i-- {
		if c.links[i].mark != c.syncMark {
			c.removeLocked(c.links[i].index)
		}
	}
	c.fitLinksLocked()
	return nil
}

// fitLinksLocked gives back the link table's spare capacity when it is
// loose: the first listing grows it link by link, which at 4,000 links
// left room for about 1,000 more (216 bytes each) and the copies of the
// growth as garbage. A sixteenth is kept for links added later.
func (c *Collector) fitLinksLocked() {
	n := len(c.links)
	if want := n + n/16 + 16; cap(c.links) > want {
		c.links = append(make([]link, 0, want), c.links...)
	}
}

// dumpLinksLocked lists the links with one RTM_GETLINK dump read into a
// reused buffer, keeping only index, name and operational state: the
// library's LinkList decodes every attribute of every link, about 7 KB of
// garbage per link (30 MB for 4,000 links, every resync).
func (c *Collector) dumpLinksLocked() (bool, error) {
	s := c.linkSock
	if err := s.f.SetDeadline(time.Now().Add(c.opts.Timeout)); err != nil {
		return false, err
	}
	c.linkSeq++
	c.linkReq = appendLinkRequest(c.linkReq[:0], c.linkSeq)
	return c.runDumpLocked(s, c.linkReq, c.evBuf, c.walkLink)
}

func (c *Collector) walkLinks(data []byte) (dumpResult, error) {
	return walkMessages(data, c.linkSeq, rtmNewLink, c.onLinkFn)
}

// onLink records one link of a dump. A link whose index and name are known
// costs no allocation.
func (c *Collector) onLink(body []byte) error {
	m, err := parseLinkMsg(body)
	if err != nil {
		return err
	}
	oper := operStatus(vnl.LinkOperState(m.oper))
	if p, ok := c.byIndex[m.index]; ok && c.links[p].name == string(m.name) {
		l := &c.links[p]
		l.oper, l.speed, l.mark = oper, linkSpeed(c.eth, l.name), c.syncMark
		return nil
	}
	name := string(m.name)
	c.upsertLocked(m.index, name, oper, linkSpeed(c.eth, name))
	return nil
}

func (c *Collector) resyncLoop() {
	defer c.wg.Done()
	t := time.NewTicker(c.opts.ResyncInterval)
	defer t.Stop()
	for {
		select {
		case <-c.stop:
			return
		case <-t.C:
		}
		c.mu.Lock()
		if !c.closed {
			c.drainEventsLocked()
			if err := c.resyncLocked(); err != nil {
				c.log.Warn("periodic resync", "err", err)
			}
		}
		c.mu.Unlock()
	}
}

// eventLoop applies link notifications as they arrive, so the table is
// current even between polls. It only waits on the socket; reading happens
// under mu (also from Collect), which keeps notifications in order.
func (c *Collector) eventLoop() {
	defer c.wg.Done()
	for {
		armed := false
		err := c.events.rc.Read(func(uintptr) bool {
			if armed {
				return true
			}
			armed = true
			return false
		})
		if err != nil {
			return // socket closed by Close
		}
		c.mu.Lock()
		if c.closed {
			c.mu.Unlock()
			return
		}
		c.drainEventsLocked()
		c.mu.Unlock()
	}
}

func (c *Collector) doEvRead(fd uintptr) {
	c.evN, c.evErr = unix.Read(int(fd), c.evBuf)
}

// drainEventsLocked applies every queued link notification. Control rather
// than Read is used so it never waits behind eventLoop's blocked Read.
func (c *Collector) drainEventsLocked() {
	for {
		if err := c.events.rc.Control(c.evReadFn); err != nil {
			return
		}
		switch {
		case c.evErr == unix.EAGAIN:
			return
		case c.evErr == unix.ENOBUFS:
			c.log.Info("link notifications overflowed, resyncing")
			if err := c.resyncLocked(); err != nil {
				c.log.Warn("resync after overflow", "err", err)
			}
			continue
		case c.evErr != nil:
			c.log.Warn("reading link notifications", "err", c.evErr)
			return
		}
		msgs, err := syscall.ParseNetlinkMessage(c.evBuf[:c.evN])
		if err != nil {
			c.log.Warn("parsing link notification", "err", err)
			continue
		}
		for i := range msgs {
			c.applyLocked(&msgs[i])
		}
	}
}

func (c *Collector) applyLocked(m *syscall.NetlinkMessage) {
	typ := m.Header.Type
	if typ != unix.RTM_NEWLINK && typ != unix.RTM_DELLINK {
		return
	}
	if len(m.Data) < unix.SizeofIfInfomsg {
		return
	}
	// Bridge port events use AF_BRIDGE; their DELLINK means "left the
	// bridge", not "deleted".
	if m.Data[0] != unix.AF_UNSPEC {
		return
	}
	hdr := unix.NlMsghdr(m.Header)
	lk, err := vnl.LinkDeserialize(&hdr, m.Data)
	if err != nil {
		c.log.Debug("undecodable link notification", "err", err)
		return
	}
	a := lk.Attrs()
	if typ == unix.RTM_DELLINK {
		c.removeLocked(int32(a.Index))
		return
	}
	c.upsertLocked(int32(a.Index), a.Name, operStatus(a.OperState), linkSpeed(c.eth, a.Name))
}

var _ collectors.Collector = (*Collector)(nil)
