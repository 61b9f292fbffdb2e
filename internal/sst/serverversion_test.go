package sst

import (
	"context"
	"os"
	"path/filepath"
	"testing"

	"wsrep_sst_mariabackup/internal/mariadb"
)

func writeScript(t *testing.T, name, body string) {
	t.Helper()
	if err := os.MkdirAll(filepath.Dir(name), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(name, []byte("#!/bin/sh\n"+body+"\n"), 0o755); err != nil {
		t.Fatal(err)
	}
}

func TestServerVersion(t *testing.T) {
	if _, err := os.Stat("/bin/sh"); err != nil {
		t.Skip("no /bin/sh")
	}
	// The probes must not see our environment (credentials live there).
	t.Setenv("WSREP_SST_OPT_AUTH", "root:secret")
	bin := t.TempDir()
	t.Setenv("PATH", bin)
	writeScript(t, filepath.Join(bin, "fake-backup"),
		`[ -z "$WSREP_SST_OPT_AUTH" ] || exit 1; echo "fake-backup based on MariaDB server 10.11.19-MariaDB debian-linux-gnu (x86_64)" >&2`)
	proc := t.TempDir()
	writeScript(t, filepath.Join(proc, "42", "exe"),
		`[ -z "$WSREP_SST_OPT_AUTH" ] || exit 1; [ "$1" = --version ] || exit 1; echo "/usr/sbin/mariadbd  Ver 11.8.9-MariaDB-0+deb13u1 from Debian for debian-linux-gnu on x86_64"`)
	writeScript(t, filepath.Join(proc, "43", "exe"), `echo "no version here"`)
	writeScript(t, filepath.Join(proc, "44", "exe"), `echo "mariadbd  Ver 11.8.9-MariaDB"; exit 1`)

	backup := []string{"missing-backup", "fake-backup"}
	for _, tc := range []struct {
		name        string
		p           VersionProbe
		wantVersion string
		wantSource  string
	}{
		{"parent", VersionProbe{Parent: 42, Proc: proc, Backup: backup}, "11.8", filepath.Join(proc, "42", "exe") + " --version"},
		{"parent gone", VersionProbe{Parent: 41, Proc: proc, Backup: backup}, "10.11", filepath.Join(bin, "fake-backup") + " --version"},
		{"parent without version", VersionProbe{Parent: 43, Proc: proc, Backup: backup}, "10.11", filepath.Join(bin, "fake-backup") + " --version"},
		{"parent fails", VersionProbe{Parent: 44, Proc: proc, Backup: backup}, "10.11", filepath.Join(bin, "fake-backup") + " --version"},
		{"no parent", VersionProbe{Proc: proc, Backup: backup}, "10.11", filepath.Join(bin, "fake-backup") + " --version"},
		{"nothing", VersionProbe{Parent: 41, Proc: proc, Backup: []string{"missing-backup"}}, "", ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			v, src := ServerVersion(context.Background(), tc.p)
			if v != tc.wantVersion || src != tc.wantSource {
				t.Errorf("ServerVersion = %q, %q; want %q, %q", v, src, tc.wantVersion, tc.wantSource)
			}
		})
	}
}

// TestServerVersionReal probes the installed mariadb-backup, as a run
// without --parent does.
func TestServerVersionReal(t *testing.T) {
	v, src := ServerVersion(context.Background(), VersionProbe{})
	if src == "" {
		t.Skip("no mariadb-backup on PATH")
	}
	if mv, ok := mariadb.ParseVersion(v); !ok || mv.Patch != -1 || mv.Series() != v {
		t.Errorf("ServerVersion = %q from %s, want MAJOR.MINOR", v, src)
	}
}
