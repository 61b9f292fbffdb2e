package config

import (
	"context"
	"errors"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"
)

type secretList []string

func (s *secretList) AddSecret(v string) { *s = append(*s, v) }

// openStdin returns a pipe that has text written to it and stays open
// until the test ends, like the stdin of a donor whose mysqld keeps it.
func openStdin(t *testing.T, text string) io.Reader {
	t.Helper()
	pr, pw := io.Pipe()
	t.Cleanup(func() { pw.Close() })
	go pw.Write([]byte(text))
	return pr
}

func loadStdin(t *testing.T, ctx context.Context, stdin io.Reader, timeout time.Duration, secrets *secretList, argv ...string) (*Config, error) {
	t.Helper()
	p := LoadParams{
		Argv:         argv,
		Getenv:       func(string) string { return "" },
		Search:       []string{},
		Stdin:        stdin,
		StdinTimeout: timeout,
	}
	if secrets != nil {
		p.Secrets = secrets
	}
	return Load(ctx, p)
}

// TestStdinCredentials: credentials on a stdin that stays open were
// dropped after the 2 s wait for the end of the stream. They are read
// line by line, and reading stops at the last expected key.
func TestStdinCredentials(t *testing.T) {
	stdin := openStdin(t, "sst_user=sst\nsst_password=p w=1\nsst_remote_user=CN\nsst_remote_password=rsecret\n")
	var secrets secretList
	var c *Config
	var err error
	withTimeout(t, 10*time.Second, func() {
		// An hour: only stopping at the last key lets this return.
		c, err = loadStdin(t, t.Context(), stdin, time.Hour, &secrets, donorArgv...)
	})
	if err != nil {
		t.Fatal(err)
	}
	if c.User != "sst" || c.Password.Reveal() != "p w=1" || c.AuthSource != "stdin" || c.RemoteUser != "CN" || c.RemotePassword.Reveal() != "rsecret" {
		t.Errorf("credentials %q/%q (%s), remote %q/%q", c.User, c.Password.Reveal(), c.AuthSource, c.RemoteUser, c.RemotePassword.Reveal())
	}
	if len(c.Warnings) != 0 {
		t.Errorf("Warnings = %q, want none", c.Warnings)
	}
	if !slices.Contains(secrets, "p w=1") || !slices.Contains(secrets, "rsecret") {
		t.Errorf("secrets registered: %q", secrets)
	}
}

func TestStdinTimeout(t *testing.T) {
	stdin := openStdin(t, "sst_user=sst\nsst_password=pw\n")
	c, err := loadStdin(t, t.Context(), stdin, 50*time.Millisecond, nil, donorArgv...)
	if err != nil {
		t.Fatal(err)
	}
	if c.User != "sst" || c.Password.Reveal() != "pw" {
		t.Errorf("credentials %q/%q, want those read before the timeout", c.User, c.Password.Reveal())
	}
	if len(c.Warnings) != 1 || !strings.Contains(c.Warnings[0], "sst_remote_user, sst_remote_password") || strings.Contains(c.Warnings[0], "sst_password") {
		t.Errorf("Warnings = %q, want one naming the missing keys", c.Warnings)
	}
}

func TestStdinEnd(t *testing.T) {
	for _, tt := range []struct {
		name, text string
		user, pass string
		warn       string
	}{
		{"two lines", "sst_user=u\nsst_password=p\n", "u", "p", ""},
		{"no newline at the end", "sst_user=u\nsst_password=p", "u", "p", ""},
		{"empty", "", "", "", ""},
		{"unknown key", "sst_user=u\nsst_pasword=typo-secret\nsst_password=p\n", "u", "p", "unexpected key 'sst_pasword'"},
		{"not key=value", "sst_user=u\njunk-secret\n", "u", "", "line 2 is not key=value"},
		{"password first", "sst_password=p\nsst_user=u\n", "u", "p", ""},
	} {
		t.Run(tt.name, func(t *testing.T) {
			c, err := loadStdin(t, t.Context(), strings.NewReader(tt.text), time.Hour, nil, donorArgv...)
			if err != nil {
				t.Fatal(err)
			}
			if c.User != tt.user || c.Password.Reveal() != tt.pass {
				t.Errorf("credentials %q/%q, want %q/%q", c.User, c.Password.Reveal(), tt.user, tt.pass)
			}
			got := strings.Join(c.Warnings, "\n")
			if tt.warn == "" && got != "" || !strings.Contains(got, tt.warn) {
				t.Errorf("Warnings = %q, want %q", got, tt.warn)
			}
			if strings.Contains(got, "secret") {
				t.Errorf("a warning shows a value: %q", got)
			}
		})
	}
}

func TestStdinNotRead(t *testing.T) {
	// The joiner never reads stdin, and a donor skips character devices.
	c, err := loadStdin(t, t.Context(), strings.NewReader("sst_user=u\n"), time.Hour, nil, joinerArgv...)
	if err != nil || c.User != "" {
		t.Errorf("joiner read stdin: user %q, %v", c.User, err)
	}
	null, err := os.Open(os.DevNull)
	if err != nil {
		t.Fatal(err)
	}
	defer null.Close()
	if c, err = loadStdin(t, t.Context(), null, time.Hour, nil, donorArgv...); err != nil || len(c.Warnings) != 0 {
		t.Errorf("donor with /dev/null: %v, %q", err, c.Warnings)
	}
	// A regular file is read.
	name := filepath.Join(t.TempDir(), "stdin")
	os.WriteFile(name, []byte("sst_user=f\n"), 0o600)
	f, _ := os.Open(name)
	defer f.Close()
	if c, err = loadStdin(t, t.Context(), f, time.Hour, nil, donorArgv...); err != nil || c.User != "f" {
		t.Errorf("donor with a file: %v, user %q", err, c.User)
	}
}

func TestStdinCancelled(t *testing.T) {
	ctx, cancel := context.WithCancelCause(t.Context())
	stop := errors.New("SIGTERM")
	stdin := openStdin(t, "sst_user=u\n")
	// Whether the first line was taken or not, the wait for the next
	// one must end with the context.
	time.AfterFunc(20*time.Millisecond, func() { cancel(stop) })
	withTimeout(t, 10*time.Second, func() {
		if _, err := loadStdin(t, ctx, stdin, time.Hour, nil, donorArgv...); !errors.Is(err, stop) {
			t.Errorf("error = %v, want the context's cause", err)
		}
	})
}
