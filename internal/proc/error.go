package proc

import (
	"io"
	"os"
	"strings"
	"sync"
	"syscall"
)

const (
	// tailBytes and tailLines bound the stderr an ExitError quotes.
	tailBytes = 1024
	tailLines = 3
)

// ExitError reports a child that failed: it exited with a non-zero status,
// was killed by a signal, or os/exec could not finish copying its output.
type ExitError struct {
	// Name is the child's name (Cmd.Name).
	Name string
	// Code is the exit status, -1 when the child was killed by a signal.
	Code int
	// Signal is the signal that killed the child, 0 if none did.
	Signal syscall.Signal
	// LogFile is the file its output went to (Cmd.LogFile), or "".
	LogFile string
	// Stderr is the last lines of its standard error (or of LogFile),
	// trimmed and joined by "; ".
	Stderr string
	// Err is the cause, usually an *exec.ExitError.
	Err error
}

// Error returns e.g. "zstd -d finished with error: exit status 1: zstd:
// /*stdin*\: unsupported format", followed by ". Check '<LogFile>' for
// details" when there is a log file.
func (e *ExitError) Error() string {
	msg := e.Name + " finished with error: " + e.Err.Error()
	if e.Stderr != "" {
		msg += ": " + e.Stderr
	}
	if e.LogFile != "" {
		msg += ". Check '" + e.LogFile + "' for details"
	}
	return msg
}

func (e *ExitError) Unwrap() error { return e.Err }

// tailBuffer keeps the last tailBytes written to it. It is safe for
// concurrent use (os/exec writes from its copying goroutines).
type tailBuffer struct {
	mu  sync.Mutex
	buf []byte
}

func (t *tailBuffer) Write(p []byte) (int, error) {
	t.mu.Lock()
	defer t.mu.Unlock()
	t.buf = append(t.buf, p...)
	if len(t.buf) > tailBytes {
		t.buf = append(t.buf[:0], t.buf[len(t.buf)-tailBytes:]...)
	}
	return len(p), nil
}

func (t *tailBuffer) String() string {
	t.mu.Lock()
	defer t.mu.Unlock()
	return lastLines(t.buf)
}

// fileTail returns the last lines of the file at path, "" if it cannot
// be read.
func fileTail(path string) string {
	f, err := os.Open(path)
	if err != nil {
		return ""
	}
	defer f.Close()
	if st, err := f.Stat(); err == nil && st.Size() > tailBytes {
		if _, err := f.Seek(st.Size()-tailBytes, io.SeekStart); err != nil {
			return ""
		}
	}
	b, _ := io.ReadAll(io.LimitReader(f, tailBytes))
	return lastLines(b)
}

// lastLines returns the last tailLines non-blank lines of b, trimmed and
// joined by "; ".
func lastLines(b []byte) string {
	var lines []string
	for l := range strings.SplitSeq(string(b), "\n") {
		if l = strings.TrimSpace(strings.ReplaceAll(l, "\r", " ")); l != "" {
			lines = append(lines, l)
		}
	}
	if len(lines) > tailLines {
		lines = lines[len(lines)-tailLines:]
	}
	return strings.Join(lines, "; ")
}
