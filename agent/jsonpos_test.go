package agent

import (
	"strings"
	"testing"

	"github.com/probe-agent/probe-agent/probe"
)

// TestJSONErrorsHaveLineAndColumn: a broken probe file says where.
func TestJSONErrorsHaveLineAndColumn(t *testing.T) {
	for _, tt := range []struct {
		name, doc, want string
	}{
		{"missing comma", "{\n  \"label\": \"x\"\n  \"processors\": []\n}", "line 3, column 3: invalid character '\"' after object key:value pair"},
		{"trailing comma", "{\"label\": \"x\",\n}", "line 2, column 1: invalid character '}'"},
		{"truncated", "{\"label\": ", "line 1, column 10: unexpected end of JSON input"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			_, _, probs := compileForDevice(probe.Options{}, []byte(tt.doc), "")
			if len(probs) != 1 || !strings.Contains(probs[0].Message, tt.want) {
				t.Errorf("problems %v, want one containing %q", probs, tt.want)
			}
		})
	}
}

func TestLineColumn(t *testing.T) {
	data := []byte("ab\ncd\n\nef")
	for _, tt := range []struct {
		off       int64
		line, col int
	}{{0, 1, 1}, {2, 1, 2}, {3, 2, 1}, {5, 2, 2}, {7, 4, 1}, {9, 4, 2}, {99, 4, 2}, {-1, 1, 1}} {
		if l, c := LineColumn(data, tt.off); l != tt.line || c != tt.col {
			t.Errorf("LineColumn(%d) = %d:%d, want %d:%d", tt.off, l, c, tt.line, tt.col)
		}
	}
}

func FuzzLineColumn(f *testing.F) {
	f.Add([]byte("a\nb"), int64(2))
	f.Fuzz(func(t *testing.T, data []byte, off int64) {
		l, c := LineColumn(data, off)
		if l < 1 || c < 1 || l > len(data)+1 {
			t.Fatalf("LineColumn(%q, %d) = %d:%d", data, off, l, c)
		}
	})
}
