package sst

import (
	"bytes"
	"context"
	"errors"
	"os/exec"
	"path/filepath"
	"strconv"
	"time"

	"wsrep_sst_mariabackup/internal/mariadb"
	"wsrep_sst_mariabackup/internal/proc"
)

// versionTimeout bounds each "--version" probe of ServerVersion.
const versionTimeout = 5 * time.Second

// VersionProbe says where ServerVersion looks for the server's version.
type VersionProbe struct {
	// Parent is mysqld's pid (--parent); 0 skips the server probe.
	Parent int
	// Proc is the proc file system; "" means "/proc".
	Proc string
	// Backup names the backup tools tried in turn on $PATH; nil means
	// mariadb-backup, then mariabackup.
	Backup []string
}

// ServerVersion returns the "MAJOR.MINOR" version of the server that runs
// us, which selects the version-suffixed option groups (config.Files), and
// where it came from: "<exe> --version" of the parent mysqld
// (/proc/<Parent>/exe), else of the backup tool, else ("", "") and the
// caller keeps the default. Each probe runs with an empty environment, so
// no credential reaches it, and at most versionTimeout.
func ServerVersion(ctx context.Context, p VersionProbe) (version, source string) {
	procFS := p.Proc
	if procFS == "" {
		procFS = "/proc"
	}
	var cands []string
	if p.Parent > 0 {
		cands = append(cands, filepath.Join(procFS, strconv.Itoa(p.Parent), "exe"))
	}
	backup := p.Backup
	if backup == nil {
		backup = []string{"mariadb-backup", "mariabackup"}
	}
	for _, b := range backup {
		if path, err := exec.LookPath(b); err == nil {
			cands = append(cands, path)
			break
		}
	}
	for _, exe := range cands {
		if v, err := probeVersion(ctx, exe); err == nil {
			return v, exe + " --version"
		}
	}
	return "", ""
}

var errNoVersion = errors.New("no version in output")

func probeVersion(ctx context.Context, exe string) (string, error) {
	ctx, cancel := context.WithTimeout(ctx, versionTimeout)
	defer cancel()
	var out bytes.Buffer
	// proc.Cmd's nil Env is an empty environment: no credential reaches
	// the probe.
	err := proc.Run(ctx, proc.Cmd{
		Name: exe + " --version", Path: exe, Args: []string{"--version"},
		Stdout: &out, Stderr: &out, WaitDelay: time.Second,
	})
	if err != nil {
		return "", err
	}
	// "mariadbd  Ver 11.8.9-MariaDB-..." or "mariadb-backup based on
	// MariaDB server 10.11.19-MariaDB ...": the series, 11.8 or 10.11.
	v, ok := mariadb.FindVersion(out.String())
	if !ok {
		return "", errNoVersion
	}
	return v.Series(), nil
}
