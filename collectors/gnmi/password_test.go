package gnmi

import (
	"bytes"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"github.com/probe-agent/probe-agent/collectors"
)

type syncLog struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *syncLog) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *syncLog) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

// TestPasswordFile: the password is read from password_file and sent as
// Subscribe metadata; it appears in no log line, connected or through a
// target restart, even at Debug.
func TestPasswordFile(t *testing.T) {
	const secret = "pw-from-file-7f3a"
	file := filepath.Join(t.TempDir(), "gnmi.password")
	if err := os.WriteFile(file, []byte("  "+secret+"  \nsecond line ignored\n"), 0o640); err != nil {
		t.Fatal(err)
	}
	tg := newCacheTarget(t)
	logs := &syncLog{}
	o := testOptions(tg.addr)
	o.Username, o.PasswordFile = "alice", file
	o.Logger = slog.New(slog.NewTextHandler(logs, &slog.HandlerOptions{Level: slog.LevelDebug}))
	c := newTestCollector(t, o)
	tg.counter("eth0", "in-octets", 100)
	waitFor(t, "first value", waitLong, hasCounter(t, c, "eth0", collectors.RxBytes, 100))
	if creds := tg.credentials(); len(creds) == 0 || creds[0] != "alice/"+secret {
		t.Fatalf("target saw credentials %q, want alice/%s", creds, secret)
	}
	// A restart makes the collector log its reconnection.
	addr := tg.addr
	tg.stop()
	tg2 := newCacheTargetAt(t, addr)
	tg2.counter("eth0", "in-octets", 200)
	waitFor(t, "value after the restart", waitLong, hasCounter(t, c, "eth0", collectors.RxBytes, 200))
	if strings.Contains(logs.String(), secret) {
		t.Fatalf("the password is in the log:\n%s", logs.String())
	}
	if logs.String() == "" {
		t.Fatal("nothing was logged: the check above proves nothing")
	}
}

func TestPasswordFileErrors(t *testing.T) {
	dir := t.TempDir()
	empty := filepath.Join(dir, "empty")
	if err := os.WriteFile(empty, []byte("\n\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name string
		o    func(*Options)
		want string
	}{
		{"missing", func(o *Options) { o.PasswordFile = filepath.Join(dir, "none") }, "password_file: open " + dir},
		{"empty", func(o *Options) { o.PasswordFile = empty }, "password_file " + empty + ": the first line is empty"},
		{"both", func(o *Options) { o.PasswordFile, o.Password = empty, "inline-secret" }, "set Password or PasswordFile, not both"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			o := testOptions("127.0.0.1:1")
			tc.o(&o)
			c, err := New(o)
			if err == nil {
				_ = c.Close()
				t.Fatal("accepted")
			}
			if !strings.Contains(err.Error(), tc.want) || strings.Contains(err.Error(), "inline-secret") {
				t.Fatalf("error %q, want %q and no secret", err, tc.want)
			}
		})
	}
}
