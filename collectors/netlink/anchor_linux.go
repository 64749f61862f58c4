package netlink

import (
	"errors"
	"fmt"
	"maps"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"

	"github.com/vishvananda/netns"
	"golang.org/x/sys/unix"
)

// ErrNeedsRestart is wrapped by the error of opening a collector on a
// network namespace the process can no longer enter: it gave up
// CAP_SYS_ADMIN (DropNamespaceCapability) after entering the namespaces it
// had at start, and this one is new or was re-created since.
var ErrNeedsRestart = errors.New("needs a restart")

// anchor is one network namespace entered once, for the life of a
// goroutine locked to its OS thread. Every socket of the namespace (the
// collector's raw netlink sockets, the ethtool socket, the netlink
// library's handle) is created by a function run on that thread: socket(2)
// in the thread's namespace needs no capability, so once the namespaces are
// anchored the process can give up CAP_SYS_ADMIN, which only setns(2)
// needs. Sockets keep the namespace they were created in, so only their
// creation runs there; reads and writes run on any thread.
//
// The thread never returns to the scheduler: its goroutine holds
// runtime.LockOSThread until it exits, and a goroutine that exits locked
// takes its thread with it. Its namespace does not leak into threads the
// runtime starts later either: a new M is cloned from the thread that asks
// for it, except when that thread is locked, where the runtime hands the
// clone to its template thread, which the first LockOSThread of the
// process starts before locking, from a thread still in the process's own
// namespace. The only code that runs on an anchor thread is the functions
// run sends it.
type anchor struct {
	name string
	id   nsID
	work chan func()
	refs int // guarded by registry.mu
}

// nsID identifies a namespace: the device and inode of its nsfs file.
// /run/netns/NAME is a bind mount of it; a namespace deleted and re-created
// under the same name has a new inode.
type nsID struct{ dev, ino uint64 }

func (id nsID) String() string { return fmt.Sprintf("%d:%d", id.dev, id.ino) }

// setnsCalls counts the setns(2) calls of anchors, for tests.
var setnsCalls atomic.Int64

// registry holds the anchored namespaces by name, for the whole process, so
// that a collector built on reload for the same namespace reuses the
// thread of the one it replaces instead of entering again.
var registry struct {
	mu     sync.Mutex
	byName map[string]*anchor
	// dropped is set once the process gave up CAP_SYS_ADMIN: no namespace
	// can be entered any more, and anchors are kept even when no
	// collector uses them (a later reload may need them again).
	dropped bool
}

// run calls fn on the anchor's thread, in its namespace, and returns its
// error. A nil anchor is the process's own namespace: fn runs on the
// caller's goroutine.
func (a *anchor) run(fn func() error) error {
	if a == nil {
		return fn()
	}
	errc := make(chan error, 1)
	a.work <- func() { errc <- fn() }
	return <-errc
}

// nsIdentity returns the identity of the namespace h refers to.
func nsIdentity(h netns.NsHandle) (nsID, error) {
	var st unix.Stat_t
	if err := unix.Fstat(int(h), &st); err != nil {
		return nsID{}, err
	}
	return nsID{dev: st.Dev, ino: st.Ino}, nil
}

// acquireAnchor returns the anchor of the named namespace (one of
// /run/netns, as ip netns lists them), entering it if no anchor has it yet
// or if the namespace was deleted and re-created since it was anchored. The
// caller releases it when it has closed its sockets.
func acquireAnchor(name string) (*anchor, error) {
	// Opening the name needs no capability (the bind mount is readable);
	// it tells which namespace the name means now.
	h, err := netns.GetFromName(name)
	if err != nil {
		return nil, err
	}
	defer h.Close()
	id, err := nsIdentity(h)
	if err != nil {
		return nil, fmt.Errorf("stat /run/netns/%s: %w", name, err)
	}
	registry.mu.Lock()
	defer registry.mu.Unlock()
	old := registry.byName[name]
	if old != nil && old.id == id {
		old.refs++
		return old, nil
	}
	if registry.dropped {
		if old != nil {
			return nil, fmt.Errorf("network namespace %q was deleted and re-created since probe-agent entered it: %w: probe-agent gave up CAP_SYS_ADMIN after entering namespace %s at start", name, ErrNeedsRestart, anchoredLocked())
		}
		if entered := anchoredLocked(); entered != "" {
			return nil, fmt.Errorf("network namespace %q: %w: probe-agent gave up CAP_SYS_ADMIN after entering namespace %s at start", name, ErrNeedsRestart, entered)
		}
		return nil, fmt.Errorf("network namespace %q: %w: probe-agent gave up CAP_SYS_ADMIN at start, having entered no other network namespace", name, ErrNeedsRestart)
	}
	a, err := startAnchor(name, h, id)
	if err != nil {
		return nil, err
	}
	// An anchor of the namespace the name used to mean stays with the
	// collectors that still use it; release ends it.
	if registry.byName == nil {
		registry.byName = make(map[string]*anchor)
	}
	registry.byName[name] = a
	a.refs = 1
	return a, nil
}

// startAnchor enters h on a new locked thread.
func startAnchor(name string, h netns.NsHandle, id nsID) (*anchor, error) {
	a := &anchor{name: name, id: id, work: make(chan func())}
	errc := make(chan error, 1)
	go func() {
		// Never unlocked: see anchor. On an error the thread has not
		// changed, but exiting locked costs nothing and keeps one path.
		runtime.LockOSThread()
		setnsCalls.Add(1)
		if err := unix.Setns(int(h), unix.CLONE_NEWNET); err != nil {
			errc <- fmt.Errorf("setns: %w", err)
			return
		}
		errc <- nil
		for fn := range a.work {
			fn()
		}
	}()
	if err := <-errc; err != nil {
		return nil, err
	}
	return a, nil
}

// release gives back a reference from acquireAnchor. The last one ends the
// thread, unless the process can no longer enter namespaces and this is
// still the name's anchor.
func (a *anchor) release() {
	if a == nil {
		return
	}
	registry.mu.Lock()
	defer registry.mu.Unlock()
	a.refs--
	current := registry.byName[a.name] == a
	if a.refs > 0 || (registry.dropped && current) {
		return
	}
	if current {
		delete(registry.byName, a.name)
	}
	close(a.work)
}

// anchoredLocked names the anchored namespaces, quoted, for messages.
func anchoredLocked() string {
	names := slices.Sorted(maps.Keys(registry.byName))
	for i, n := range names {
		names[i] = strconv.Quote(n)
	}
	return strings.Join(names, ", ")
}

// AnchoredNamespaces lists the network namespaces the process has entered
// and keeps a thread in, sorted.
func AnchoredNamespaces() []string {
	registry.mu.Lock()
	defer registry.mu.Unlock()
	return slices.Sorted(maps.Keys(registry.byName))
}
