package config

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"os"
	"strings"
	"time"
)

// stdinKeys are the keys newer servers write to the donor's stdin, in the
// order they write them (MDEV-31809; read_variables_from_stdin of the
// MariaDB 11.x script and of PXC). The remote pair is only sent when the
// joiner's address carried one.
var stdinKeys = []string{"sst_user", "sst_password", "sst_remote_user", "sst_remote_password"}

// Limits on what is read from stdin: mysqld writes four short lines.
const (
	maxStdinLine  = 64 << 10
	maxStdinLines = 64
	// defaultStdinTimeout is how long to wait for the next line: mysqld
	// writes all its lines at once, right after starting the script.
	defaultStdinTimeout = 2 * time.Second
)

// stdinCredentials reads the "key=value" lines mysqld writes to a donor's
// stdin, line by line, until all of stdinKeys were read, the stream ends,
// or no line came for timeout (0 means 2s). A terminal, /dev/null or any
// *os.File that is neither a pipe nor a regular file is not read. Unknown
// keys and malformed lines are ignored with a warning that never shows
// their value; a timeout after some lines warns naming the keys still
// missing. Credentials read override those from argv, the environment and
// [sst] wsrep-sst-auth. It returns an error only when ctx is done.
func (r *resolver) stdinCredentials(ctx context.Context, in io.Reader, timeout time.Duration) error {
	if f, ok := in.(*os.File); ok {
		st, err := f.Stat()
		if err != nil || (st.Mode()&os.ModeNamedPipe == 0 && !st.Mode().IsRegular()) {
			return nil
		}
	}
	if timeout <= 0 {
		timeout = defaultStdinTimeout
	}
	c := r.c
	lines := make(chan string)
	done := make(chan struct{})
	defer close(done)
	go func() {
		// On a timeout this goroutine may stay blocked in Read; it
		// holds nothing but stdin.
		defer close(lines)
		sc := bufio.NewScanner(in)
		sc.Buffer(make([]byte, 0, 4096), maxStdinLine)
		for n := 0; n < maxStdinLines && sc.Scan(); n++ {
			select {
			case lines <- sc.Text():
			case <-done:
				return
			}
		}
		if sc.Err() != nil {
			select {
			case lines <- "\x00" + sc.Err().Error():
			case <-done:
			}
		}
	}()
	got := map[string]string{}
	timer := time.NewTimer(timeout)
	defer timer.Stop()
	lineNo := 0
read:
	for len(got) < len(stdinKeys) {
		select {
		case <-ctx.Done():
			return fmt.Errorf("read credentials from stdin: %w", context.Cause(ctx))
		case <-timer.C:
			if w := stdinTimeoutWarning(got, timeout, c.User != ""); w != "" {
				c.Warnings = append(c.Warnings, w)
			}
			break read
		case line, ok := <-lines:
			if !ok {
				break read
			}
			lineNo++
			if msg, isErr := strings.CutPrefix(line, "\x00"); isErr {
				c.Warnings = append(c.Warnings, fmt.Sprintf("stdin: line %d: %s; credentials after it ignored", lineNo, msg))
				break read
			}
			timer.Reset(timeout)
			k, v, ok := strings.Cut(line, "=")
			k = strings.TrimSpace(k)
			switch {
			case !ok:
				if strings.TrimSpace(line) != "" {
					c.Warnings = append(c.Warnings, fmt.Sprintf("stdin: line %d is not key=value, ignored", lineNo))
				}
			case !isStdinKey(k):
				c.Warnings = append(c.Warnings, fmt.Sprintf("stdin: unexpected key '%s' ignored (expected %s)", k, strings.Join(stdinKeys, ", ")))
			default:
				got[k] = v
			}
		}
	}
	// In mysqld's order, whatever order the lines came in.
	if u, ok := got["sst_user"]; ok {
		c.User, c.Password, c.AuthSource = u, "", "stdin"
	}
	if p, ok := got["sst_password"]; ok {
		c.Password = Secret(p)
		switch c.AuthSource {
		case "stdin":
		case "":
			c.AuthSource = "stdin"
		default:
			c.AuthSource += " + stdin password"
		}
	}
	if u, ok := got["sst_remote_user"]; ok {
		c.RemoteUser = u
	}
	if p, ok := got["sst_remote_password"]; ok {
		c.RemotePassword = Secret(p)
	}
	return nil
}

func isStdinKey(k string) bool {
	for _, s := range stdinKeys {
		if k == s {
			return true
		}
	}
	return false
}

// stdinTimeoutWarning is the warning for a stdin that stayed open without
// sending every key, or "" when it sent nothing and the credentials came
// from elsewhere, as with servers before 11.x whose stdin may be any
// pipe.
func stdinTimeoutWarning(got map[string]string, timeout time.Duration, haveUser bool) string {
	var missing []string
	for _, k := range stdinKeys {
		if _, ok := got[k]; !ok {
			missing = append(missing, k)
		}
	}
	if len(got) == 0 && haveUser {
		return ""
	}
	return fmt.Sprintf("stdin: no line within %v, going on without %s", timeout, strings.Join(missing, ", "))
}
