package main

import (
	"bytes"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"wsrep_sst_mariabackup/internal/galeratest"
)

// checkNode writes an option file for a stopped node with a free SST port
// and fake mariadb-backup and mariadbd of one version on PATH, plus the
// extra [sst] lines.
func checkNode(t *testing.T, sst ...string) string {
	t.Helper()
	dir := t.TempDir()
	bin := filepath.Join(dir, "bin")
	for _, d := range []string{bin, filepath.Join(dir, "data"), filepath.Join(dir, "tmp")} {
		if err := os.Mkdir(d, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	for name, line := range map[string]string{
		"mariadb-backup": "mariadb-backup based on MariaDB server 10.11.19-MariaDB debian-linux-gnu (x86_64)",
		"mariadbd":       "mariadbd  Ver 10.11.19-MariaDB-0+deb12u1 for debian-linux-gnu on x86_64 (Debian 12)",
	} {
		if err := os.WriteFile(filepath.Join(bin, name), []byte("#!/bin/sh\necho '"+line+"'\n"), 0o755); err != nil {
			t.Fatal(err)
		}
	}
	t.Setenv("PATH", bin)
	cnf := "[mysqld]\ndatadir=" + filepath.Join(dir, "data") + "\nsocket=" + filepath.Join(dir, "no.sock") +
		"\nwsrep_sst_receive_address=127.0.0.1:" + strconv.Itoa(galeratest.FreePort(t)) +
		"\n[sst]\ntmpdir=" + filepath.Join(dir, "tmp") + "\n" + strings.Join(sst, "\n") + "\n"
	f := filepath.Join(dir, "my.cnf")
	if err := os.WriteFile(f, []byte(cnf), 0o644); err != nil {
		t.Fatal(err)
	}
	return f
}

// TestCheckCommand: a good setup prints only the summary and exits 0; a
// broken one prints one line per problem with its fix and exits 22.
// --peer-version adds one line per role saying whether the two versions
// straddle a redo-log format change, and what to set on which side; a
// straddle this joiner cannot prepare exits 22.
func TestCheckCommand(t *testing.T) {
	tests := []struct {
		name  string
		sst   []string
		args  []string
		code  int
		lines []string // prefixes of the stdout lines, summary last
	}{
		{"good", nil, nil, 0, []string{"check: OK ("}},
		{"typo", []string{"rlimt=10M"}, nil, 22, []string{
			"problem: unknown [sst] option 'rlimt' (", "check: 1 problem ("}},
		{"two problems", []string{"rlimt=10M", "keep-datadir=maybe"}, nil, 22, []string{
			"problem: settings: option keep-datadir=\"maybe\"",
			"problem: unknown [sst] option 'rlimt' (", "check: 2 problems ("}},
		{"peer version/same format", nil, []string{"--peer-version", "11.8.3", "--role", "donor"}, 0, []string{
			"note: an SST from this 10.11.19 donor to the 11.8.3 joiner does not straddle an InnoDB redo-log format change; the joiner prepares this donor's backup with its own 11.8 mariadb-backup, which can: no prepare-tool needed",
			"check: OK ("}},
		{"peer version/straddle", nil, []string{"--peer-version=10.6.21"}, 22, []string{
			"warning: an SST from this 10.11.19 donor to the 10.6.21 joiner is a downgrade across the InnoDB redo-log format change of 10.8.1 (MDEV-14425)",
			"problem: an SST from the 10.6.21 donor to this 10.11.19 joiner straddles the InnoDB redo-log format change of 10.8.1 (MDEV-14425): the joiner prepares the donor's backup, and its own mariadb-backup 10.11.19 cannot prepare a 10.6 backup; fix: on this joiner set [sst] prepare-tool = /path/to/the 10.6 mariadb-backup",
			"check: 1 problem, 1 warning ("}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			lines := checkLines(t, checkNode(t, tt.sst...), tt.args, tt.code, tt.lines)
			for i, l := range lines[:len(lines)-1] {
				if strings.HasPrefix(l, "problem: ") && !strings.Contains(l, "; fix: ") {
					t.Errorf("line %d = %q has no fix", i+1, l)
				}
			}
		})
	}
}

// TestCheckFlags: --help, a bad role or --peer-version and a stray argument.
func TestCheckFlags(t *testing.T) {
	tests := []struct {
		name   string
		argv   []string
		code   int
		stdout string
		stderr string
	}{
		{"help", []string{"check", "--help"}, 0, "Usage: wsrep_sst_mariabackup check [--role donor|joiner|both] [--defaults-file F]", ""},
		{"-h", []string{"check", "-h"}, 0, "--defaults-file", ""},
		{"help check", []string{"help", "check"}, 0, "Usage: wsrep_sst_mariabackup check", ""},
		{"bad role", []string{"check", "--role", "arbitrator"}, 22, "", `--role "arbitrator": want donor, joiner or both`},
		{"stray argument", []string{"check", "now"}, 22, "", `check takes no arguments, got "now"`},
		{"unknown flag", []string{"check", "--datadir", "/x"}, 22, "", "unknown flag: --datadir"},
		{"bad peer version", []string{"check", "--peer-version", "newest"}, 22, "", `--peer-version "newest": want the other node's server version`},
		{"help peer version", []string{"check", "--help"}, 0, "--peer-version", ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var stdout, stderr bytes.Buffer
			code := run(append([]string{"wsrep_sst_mariabackup"}, tt.argv...), nil, &stdout, &stderr, []string{})
			if code != tt.code {
				t.Errorf("exit code = %d, want %d", code, tt.code)
			}
			if !strings.Contains(stdout.String(), tt.stdout) {
				t.Errorf("stdout = %q, want %q in it", stdout.String(), tt.stdout)
			}
			if !strings.Contains(stderr.String(), tt.stderr) {
				t.Errorf("stderr = %q, want %q in it", stderr.String(), tt.stderr)
			}
			if tt.stderr == "" && stderr.Len() != 0 {
				t.Errorf("stderr = %q, want nothing", stderr.String())
			}
		})
	}
}

// checkLines runs check with the option file cnf and args, and checks its
// exit code, that its stdout lines start with want (the summary last)
// and that it wrote nothing to stderr. It returns the stdout lines.
func checkLines(t *testing.T, cnf string, args []string, code int, want []string) []string {
	t.Helper()
	var stdout, stderr bytes.Buffer
	if got := run(append([]string{"wsrep_sst_mariabackup", "check", "--defaults-file", cnf}, args...), nil, &stdout, &stderr, []string{}); got != code {
		t.Errorf("exit code = %d, want %d", got, code)
	}
	lines := strings.Split(strings.TrimSuffix(stdout.String(), "\n"), "\n")
	if len(lines) != len(want) {
		t.Fatalf("stdout:\n%s\nwant %d lines", stdout.String(), len(want))
	}
	for i, l := range lines {
		if !strings.HasPrefix(l, want[i]) {
			t.Errorf("line %d = %q\nwant prefix %q", i+1, l, want[i])
		}
	}
	if stderr.Len() != 0 {
		t.Errorf("stderr = %q, want nothing", stderr.String())
	}
	return lines
}
