package sst

import (
	"os"
	"os/exec"
	"strings"
	"time"
	"wsrep_sst_mariabackup/internal/fail"
)

// childWaitDelay is how long a child has after SIGTERM before its process
// group gets SIGKILL, like cleanup_pid's TERM-then-KILL. Every child runs
// through internal/proc.
const childWaitDelay = 10 * time.Second

// childEnv returns the environment for a child: base (nil means ours)
// without the secrets mysqld hands the script (WSREP_SST_OPT_AUTH,
// WSREP_SST_OPT_REMOTE_AUTH and any other WSREP_SST_OPT_*AUTH, any *_PSWD)
// and without MYSQL_PWD, plus extra. Only mariadb-backup gets the password,
// as an explicit MYSQL_PWD in extra.
func childEnv(base []string, extra ...string) []string {
	if base == nil {
		base = os.Environ()
	}
	env := make([]string, 0, len(base)+len(extra))
	for _, kv := range base {
		k, _, _ := strings.Cut(kv, "=")
		if k == "MYSQL_PWD" || strings.HasSuffix(k, "_PSWD") ||
			strings.HasPrefix(k, "WSREP_SST_OPT_") && strings.HasSuffix(k, "AUTH") {
			continue
		}
		env = append(env, kv)
	}
	return append(env, extra...)
}

// lookPath finds a program on PATH; a missing one is ENOENT (2) with the
// package to install.
func lookPath(prog, pkg string) (string, error) {
	p, err := exec.LookPath(prog)
	if err != nil {
		return "", fail.Errorf(fail.Missing, "'%s' not found in PATH (%s): install %s", prog, os.Getenv("PATH"), pkg)
	}
	return p, nil
}
