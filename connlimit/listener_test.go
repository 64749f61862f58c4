package connlimit

import (
	"bufio"
	"fmt"
	"io"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"
)

// serve runs an HTTP server on a Listener of max connections and returns
// the listener, its address and a channel that receives once per Accept
// that found every slot taken. idled, when set, receives each time a
// connection becomes idle (after the listener has recorded it).
func serve(t *testing.T, max int, idled ...chan struct{}) (*Listener, string, <-chan struct{}) {
	t.Helper()
	inner, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	l := New(inner, max)
	waited := make(chan struct{}, 64)
	l.onWait = func() { waited <- struct{}{} }
	srv := &http.Server{
		Handler: http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) { _, _ = io.WriteString(w, "ok") }),
		ConnState: func(c net.Conn, st http.ConnState) {
			l.ConnState(c, st)
			if st == http.StateIdle && len(idled) > 0 {
				idled[0] <- struct{}{}
			}
		},
		IdleTimeout: time.Hour, // idle connections leave only when reclaimed
	}
	go func() { _ = srv.Serve(l) }()
	t.Cleanup(func() { _ = srv.Close() })
	return l, inner.Addr().String(), waited
}

// get sends one keep-alive request on c and reads the response.
func get(t *testing.T, c net.Conn) {
	t.Helper()
	if _, err := io.WriteString(c, "GET / HTTP/1.1\r\nHost: x\r\n\r\n"); err != nil {
		t.Fatal(err)
	}
	_ = c.SetReadDeadline(time.Now().Add(30 * time.Second)) // a guard, not a timing assertion
	resp, err := http.ReadResponse(bufio.NewReader(c), nil)
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	_ = resp.Body.Close()
	if string(body) != "ok" {
		t.Fatalf("body %q", body)
	}
}

func dial(t *testing.T, addr string) net.Conn {
	t.Helper()
	c, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = c.Close() })
	return c
}

// TestIdleKeepAliveGivesWay: with every slot held by idle keep-alive
// connections (the 20,000-connection exhaustion in small), a new client is
// served: the longest-idle connection is closed for it.
func TestIdleKeepAliveGivesWay(t *testing.T) {
	const max = 3
	idled := make(chan struct{}, 16)
	l, addr, _ := serve(t, max, idled)
	var idle []net.Conn
	for range max {
		c := dial(t, addr)
		get(t, c)
		<-idled // recorded idle before the next one is: a known order
		idle = append(idle, c)
	}
	fresh := dial(t, addr)
	get(t, fresh)
	if got := l.Reclaimed(); got != 1 {
		t.Fatalf("reclaimed %d idle connections, want 1", got)
	}
	// The first idle connection was the one closed: it reads EOF.
	_ = idle[0].SetReadDeadline(time.Now().Add(30 * time.Second))
	if _, err := idle[0].Read(make([]byte, 1)); err != io.EOF {
		t.Fatalf("longest-idle connection: read %v, want EOF", err)
	}
	if open := l.Open(); open > max {
		t.Fatalf("%d connections open, limit %d", open, max)
	}
}

// TestHeldUntilOneCloses: connections that are not idle keep-alive ones
// (here: silent, before any request) are never closed for a newcomer; the
// newcomer waits in the backlog and is served as soon as one closes.
func TestHeldUntilOneCloses(t *testing.T) {
	const max = 2
	l, addr, waited := serve(t, max)
	var silent []net.Conn
	for range max {
		silent = append(silent, dial(t, addr))
	}
	late := dial(t, addr) // TCP handshake done by the kernel, not accepted
	if _, err := io.WriteString(late, "GET / HTTP/1.1\r\nHost: x\r\n\r\n"); err != nil {
		t.Fatal(err)
	}
	<-waited // the accept loop found every slot taken
	if open := l.Open(); open != max {
		t.Fatalf("%d connections open while full, want %d", open, max)
	}
	if l.Reclaimed() != 0 {
		t.Fatal("a connection that was not idle was closed")
	}
	_ = silent[0].Close()
	_ = late.SetReadDeadline(time.Now().Add(30 * time.Second))
	resp, err := http.ReadResponse(bufio.NewReader(late), nil)
	if err != nil {
		t.Fatalf("held client after a slot freed: %v", err)
	}
	_ = resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("status %d", resp.StatusCode)
	}
}

// TestCloseWakesWaitingAccept: closing a full listener ends an Accept
// waiting for a slot (shutdown must not hang on a flood).
func TestCloseWakesWaitingAccept(t *testing.T) {
	inner, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	l := New(inner, 1)
	waited := make(chan struct{}, 1)
	l.onWait = func() { waited <- struct{}{} }
	c := dial(t, inner.Addr().String())
	first, err := l.Accept()
	if err != nil {
		t.Fatal(err)
	}
	defer first.Close()
	_ = c
	second := dial(t, inner.Addr().String()) // waits for a slot inside Accept
	_ = second
	errc := make(chan error, 1)
	go func() { _, err := l.Accept(); errc <- err }()
	<-waited
	_ = l.Close()
	if err := <-errc; err == nil || !strings.Contains(err.Error(), net.ErrClosed.Error()) {
		t.Fatalf("Accept after Close: %v, want %v", err, net.ErrClosed)
	}
	// Closing a connection twice gives its slot back once.
	_ = first.Close()
	_ = first.Close()
	if l.Open() != 0 {
		t.Fatalf("open %d after close, want 0", l.Open())
	}
}

func TestBudget(t *testing.T) {
	for _, tc := range []struct {
		nofile  uint64
		reserve int
		in      []int
		want    []int
		lowered bool
	}{
		{0, 256, []int{512, 64}, []int{512, 64}, false},
		{^uint64(0), 256, []int{512, 64}, []int{512, 64}, false}, // RLIM_INFINITY
		{1 << 20, 256, []int{512, 64}, []int{512, 64}, false},
		{1024, 256, []int{512, 256}, []int{512, 256}, false},
		{1024, 256, []int{1024, 512}, []int{512, 256}, true},
		{300, 256, []int{1000, 1000}, []int{22, 22}, true},
		{100, 256, []int{10, 10}, []int{1, 1}, true},
	} {
		t.Run(fmt.Sprint(tc.nofile, tc.in), func(t *testing.T) {
			got, lowered := Budget(tc.nofile, tc.reserve, tc.in)
			if fmt.Sprint(got) != fmt.Sprint(tc.want) || lowered != tc.lowered {
				t.Fatalf("Budget(%d, %d, %v) = %v, %v; want %v, %v", tc.nofile, tc.reserve, tc.in, got, lowered, tc.want, tc.lowered)
			}
		})
	}
}
