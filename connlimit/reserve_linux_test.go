package connlimit

import (
	"bufio"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"strconv"
	"testing"

	"golang.org/x/sys/unix"
)

// TestMain doubles as the flooding client of TestReserveUnderFlood: run
// with CONNLIMIT_FLOOD=addr,count it opens count connections to addr,
// says how many it opened, and holds them until its stdin closes.
func TestMain(m *testing.M) {
	if spec := os.Getenv("CONNLIMIT_FLOOD"); spec != "" {
		flood(spec)
		return
	}
	os.Exit(m.Run())
}

func flood(spec string) {
	_, _ = RaiseNoFile()
	var addr string
	var count int
	if _, err := fmt.Sscanf(spec, "%s %d", &addr, &count); err != nil {
		fmt.Println("bad spec:", err)
		os.Exit(2)
	}
	var conns []net.Conn
	for range count {
		c, err := net.Dial("tcp", addr)
		if err != nil {
			break
		}
		conns = append(conns, c)
	}
	fmt.Println(len(conns))
	_, _ = io.Copy(io.Discard, os.Stdin)
}

func openFDs(t *testing.T) int {
	t.Helper()
	ents, err := os.ReadDir("/proc/self/fd")
	if err != nil {
		t.Skip("no /proc/self/fd:", err)
	}
	return len(ents)
}

// TestReserveUnderFlood: with the descriptor limit just above what the
// process uses, a flood of 300 clients on a listener sized by Budget
// leaves descriptors for an outgoing connection (a stream sender
// reconnecting) and for the receiving side of it. Without the limit the
// accept loop would take every descriptor (EMFILE for the sender).
func TestReserveUnderFlood(t *testing.T) {
	var saved unix.Rlimit
	if err := unix.Getrlimit(unix.RLIMIT_NOFILE, &saved); err != nil {
		t.Fatal(err)
	}
	receiver, err := net.Listen("tcp", "127.0.0.1:0") // where the sender connects
	if err != nil {
		t.Fatal(err)
	}
	defer receiver.Close()
	inner, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(os.Args[0], "-test.run=^$")
	cmd.Env = append(os.Environ(), "CONNLIMIT_FLOOD="+inner.Addr().String()+" 300")
	stdin, err := cmd.StdinPipe()
	if err != nil {
		t.Fatal(err)
	}
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	// The child is started before the limit is lowered (its own pipes).
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	defer func() { _ = stdin.Close(); _ = cmd.Wait() }()

	const headroom = 8 // what this test opens besides the listener's conns
	soft := uint64(openFDs(t) + 40)
	low := saved
	low.Cur = soft
	if err := unix.Setrlimit(unix.RLIMIT_NOFILE, &low); err != nil {
		t.Fatal(err)
	}
	defer func() { _ = unix.Setrlimit(unix.RLIMIT_NOFILE, &saved) }()
	reserve := openFDs(t) + headroom
	limits, lowered := Budget(soft, reserve, []int{20000})
	if !lowered {
		t.Fatalf("Budget(%d, %d, 20000) kept %v", soft, reserve, limits)
	}
	l := New(inner, limits[0])
	waited := make(chan struct{}, 1000)
	l.onWait = func() {
		select {
		case waited <- struct{}{}:
		default:
		}
	}
	srv := &http.Server{Handler: http.NotFoundHandler(), ConnState: l.ConnState}
	go func() { _ = srv.Serve(l) }()
	defer srv.Close()

	line, err := bufio.NewReader(stdout).ReadString('\n')
	if err != nil {
		t.Fatal(err)
	}
	if n, _ := strconv.Atoi(line[:len(line)-1]); n != 300 {
		t.Fatalf("flooding client opened %s connections, want 300", line)
	}
	<-waited // the listener is full and holding the rest
	if l.Open() != limits[0] {
		t.Fatalf("%d connections open, want the limit %d", l.Open(), limits[0])
	}
	out, err := net.Dial("tcp", receiver.Addr().String())
	if err != nil {
		t.Fatalf("sender could not connect during the flood: %v", err)
	}
	defer out.Close()
	in, err := receiver.Accept()
	if err != nil {
		t.Fatalf("receiver could not accept during the flood: %v", err)
	}
	defer in.Close()
	f, err := os.Open("/proc/self/status")
	if err != nil {
		t.Fatalf("opening a file during the flood: %v", err)
	}
	_ = f.Close()
}
