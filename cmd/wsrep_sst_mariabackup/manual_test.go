package main

import (
	"bytes"
	"path/filepath"
	"strings"
	"testing"
)

// TestManualArgErrors: a wrong or missing argument of receive or send is
// one ERROR line naming it, exit 22 (EINVAL), and nothing is started.
func TestManualArgErrors(t *testing.T) {
	dir := t.TempDir()
	tests := []struct {
		name string
		argv []string
		msg  string
	}{
		{"receive without --datadir", []string{"receive"}, "--datadir is required"},
		{"receive --datadir without value", []string{"receive", "--datadir"}, "flag needs an argument: --datadir"},
		{"receive unknown flag", []string{"receive", "--datadir", dir, "--to", "x:1"}, "unknown flag: --to"},
		{"receive stray argument", []string{"receive", "--datadir", dir, "extra"}, `receive takes no arguments, got "extra"`},
		{"receive --listen with a path", []string{"receive", "--datadir", dir, "--listen", "10.0.0.2:4444/xtrabackup_sst"}, "want ADDR[:PORT]"},
		{"receive --listen bad port", []string{"receive", "--datadir", dir, "--listen", "10.0.0.2:99999"}, "port must be 1-65535"},
		{"receive --listen no host", []string{"receive", "--datadir", dir, "--listen", ":4444"}, "no address"},
		{"send without --to", []string{"send"}, "--to HOST:PORT is required"},
		{"send --to without port", []string{"send", "--to", "10.0.0.2"}, "want HOST:PORT"},
		{"send --to an SST address", []string{"send", "--to", "10.0.0.2:4444/xtrabackup_sst//1"}, "want HOST:PORT"},
		{"send unknown flag", []string{"send", "--to", "10.0.0.2:4444", "--listen", "x"}, "unknown flag: --listen"},
		{"send no datadir known", []string{"send", "--to", "10.0.0.2:4444"}, "datadir is not in the option files"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var stdout, stderr bytes.Buffer
			code := run(append([]string{"wsrep_sst_mariabackup"}, tt.argv...), nil, &stdout, &stderr, []string{})
			if code != 22 {
				t.Errorf("exit code = %d, want 22; stderr: %s", code, stderr.String())
			}
			if stdout.Len() != 0 {
				t.Errorf("stdout = %q, want nothing", stdout.String())
			}
			lines := strings.Split(strings.TrimSpace(stderr.String()), "\n")
			if len(lines) != 1 || !errorLine.MatchString(lines[0]) || !strings.Contains(lines[0], tt.msg) {
				t.Errorf("want one ERROR line naming %q, got:\n%s", tt.msg, stderr.String())
			}
		})
	}
}

// TestManualMissingDefaultsFile: an option file that is not there is
// ENOENT (2), as for an SST, named in one ERROR line.
func TestManualMissingDefaultsFile(t *testing.T) {
	missing := filepath.Join(t.TempDir(), "my.cnf")
	for _, argv := range [][]string{
		{"receive", "--datadir", t.TempDir(), "--listen", "127.0.0.1:1", "--defaults-file", missing},
		{"send", "--to", "127.0.0.1:1", "--defaults-file", missing},
	} {
		var stdout, stderr bytes.Buffer
		code := run(append([]string{"wsrep_sst_mariabackup"}, argv...), nil, &stdout, &stderr, []string{})
		lines := strings.Split(strings.TrimSpace(stderr.String()), "\n")
		if code != 2 || len(lines) != 1 || !strings.Contains(lines[0], missing) {
			t.Errorf("%s: exit %d, stderr:\n%s\nwant exit 2 and one line naming %s", argv[0], code, stderr.String(), missing)
		}
	}
}

// TestManualHelp: each subcommand's --help lists its options.
func TestManualHelp(t *testing.T) {
	for cmd, opts := range map[string][]string{
		"receive": {"--datadir", "--listen", "--defaults-file"},
		"send":    {"--to", "--defaults-file", "--socket", "--datadir"},
	} {
		var stdout, stderr bytes.Buffer
		if code := run([]string{"wsrep_sst_mariabackup", cmd, "--help"}, nil, &stdout, &stderr, []string{}); code != 0 {
			t.Errorf("%s --help: exit %d: %s", cmd, code, stderr.String())
		}
		for _, o := range append(opts, "Usage: wsrep_sst_mariabackup "+cmd) {
			if !strings.Contains(stdout.String(), o) {
				t.Errorf("%s --help lacks %q:\n%s", cmd, o, stdout.String())
			}
		}
	}
}
