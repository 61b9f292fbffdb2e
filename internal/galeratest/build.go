package galeratest

import (
	"os"
	"os/exec"
	"path/filepath"
	"sync"
	"testing"
)

var (
	buildOnce sync.Once
	binPath   string
	buildErr  error
)

// SSTProgram builds cmd/wsrep_sst_mariabackup once per test binary, static
// as "make build" does, and returns its path: the program the real-cluster
// tests install on their nodes.
func SSTProgram(t testing.TB) string {
	t.Helper()
	buildOnce.Do(func() {
		dir, err := os.MkdirTemp("", "sst-e2e-bin.")
		if err != nil {
			buildErr = err
			return
		}
		binPath = filepath.Join(dir, "wsrep_sst_mariabackup")
		gobin, err := exec.LookPath("go")
		if err != nil {
			gobin = "/usr/local/go/bin/go" // where .ci/run and the README install Go
		}
		cmd := exec.Command(gobin, "build", "-trimpath", "-o", binPath, "wsrep_sst_mariabackup/cmd/wsrep_sst_mariabackup")
		cmd.Env = append(os.Environ(), "CGO_ENABLED=0")
		if out, err := cmd.CombinedOutput(); err != nil {
			buildErr = err
			t.Logf("go build: %s", out)
		}
	})
	if buildErr != nil {
		t.Fatalf("build the SST program: %v", buildErr)
	}
	return binPath
}
