package main

import (
	"bytes"
	"encoding/json"
	"os/exec"
	"strings"
	"testing"
)

// TestFirstContact: what a new user types answers with help or the
// version and exit 0, instead of the missing --datadir error.
func TestFirstContact(t *testing.T) {
	tests := []struct {
		name string
		argv []string
		want string // in stdout
	}{
		{"bare", nil, "Subcommands:"},
		{"--help", []string{"--help"}, "Subcommands:"},
		{"-h", []string{"-h"}, "Subcommands:"},
		{"help", []string{"help"}, "Subcommands:"},
		{"--version", []string{"--version"}, "wsrep_sst_mariabackup dev\n"},
		{"version", []string{"version"}, "wsrep_sst_mariabackup dev\n"},
		{"version --help", []string{"version", "--help"}, "Usage: wsrep_sst_mariabackup version\n"},
		{"version -h", []string{"version", "-h"}, "Usage: wsrep_sst_mariabackup version\n"},
		{"help --help", []string{"help", "--help"}, "--man"},
		{"help explain", []string{"help", "explain"}, "Usage: wsrep_sst_mariabackup explain"},
		{"explain --help", []string{"explain", "--help"}, "Usage: wsrep_sst_mariabackup explain"},
		{"explain -h", []string{"explain", "-h"}, "Usage: wsrep_sst_mariabackup explain"},
		{"help --man", []string{"help", "--man"}, ".TH WSREP_SST_MARIABACKUP 1"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var stdout, stderr bytes.Buffer
			code := run(append([]string{"wsrep_sst_mariabackup"}, tt.argv...), nil, &stdout, &stderr, []string{})
			if code != 0 {
				t.Errorf("exit code = %d, want 0; stderr: %s", code, stderr.String())
			}
			if !strings.Contains(stdout.String(), tt.want) {
				t.Errorf("stdout = %q, want it to contain %q", stdout.String(), tt.want)
			}
			if stderr.Len() != 0 {
				t.Errorf("stderr = %q, want nothing", stderr.String())
			}
		})
	}
}

// TestHelpContents: the overview names every subcommand, the docs and how
// mysqld runs the program.
func TestHelpContents(t *testing.T) {
	var stdout, stderr bytes.Buffer
	run([]string{"wsrep_sst_mariabackup", "--help"}, nil, &stdout, &stderr, []string{})
	for _, want := range []string{"explain", "version", "help", docDir + "/README.md", "man wsrep_sst_mariabackup", "--role 'joiner'", "--role 'donor'", "stdout"} {
		if !strings.Contains(stdout.String(), want) {
			t.Errorf("help lacks %q:\n%s", want, stdout.String())
		}
	}
}

// TestHumanErrors: a bad option or argument of a human subcommand is one
// ERROR line and EINVAL, nothing on stdout.
func TestHumanErrors(t *testing.T) {
	tests := []struct {
		name string
		argv []string
		msg  string
	}{
		{"unknown flag", []string{"version", "--bogus"}, "unknown flag: --bogus"},
		{"stray argument", []string{"version", "extra"}, "version takes no arguments"},
		{"help unknown", []string{"help", "nope"}, `unknown subcommand "nope"`},
		{"help two", []string{"help", "explain", "version"}, "at most one subcommand"},
		{"unknown subcommand", []string{"frobnicate"}, "--help"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var stdout, stderr bytes.Buffer
			code := run(append([]string{"wsrep_sst_mariabackup"}, tt.argv...), nil, &stdout, &stderr, []string{})
			if code != 22 {
				t.Errorf("exit code = %d, want 22", code)
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

// TestMysqldArgvNotTakenForHelp: -h and --help inside a real argv (as
// mysqld passes them after --mysqld-args) still reach the parity parser.
func TestMysqldArgvNotTakenForHelp(t *testing.T) {
	var stdout, stderr bytes.Buffer
	code := run([]string{"wsrep_sst_mariabackup", "explain", "--role", "joiner", "--address", "10.0.0.1", "--datadir", t.TempDir(),
		"--mysqld-args", "-h", "/var/lib/mysql", "--help"}, nil, &stdout, &stderr, []string{})
	if code != 0 {
		t.Fatalf("explain exit %d: %s", code, stderr.String())
	}
	var got explainOut
	if err := json.Unmarshal(stdout.Bytes(), &got); err != nil {
		t.Fatalf("explain output is not JSON: %v\n%s", err, stdout.String())
	}
	if got.Role != "joiner" || !strings.Contains(got.MysqldArgs, "--help") {
		t.Errorf("role = %q, mysqld_args = %q; want joiner and the --help passed through", got.Role, got.MysqldArgs)
	}
}

// TestManPageRenders: the man page is valid roff for man(7): groff, when
// present, renders it without warnings.
func TestManPageRenders(t *testing.T) {
	groff, err := exec.LookPath("groff")
	if err != nil {
		t.Skip("groff not installed")
	}
	page := manPage()
	cmd := exec.Command(groff, "-man", "-Tutf8", "-ww", "-z")
	cmd.Stdin = strings.NewReader(page)
	out, err := cmd.CombinedOutput()
	if err != nil || len(out) != 0 {
		t.Errorf("groff: %v\n%s", err, out)
	}
	for _, s := range subcommands {
		if !strings.Contains(page, ".B "+s.name) {
			t.Errorf("man page lacks subcommand %s", s.name)
		}
	}
}
