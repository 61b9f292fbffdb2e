package sst

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
	"wsrep_sst_mariabackup/internal/fail"
)

// TestPrepareToolNamed: with [sst] prepare-tool set, the joiner prepares
// with that program and says so; when the prepare fails, the one error
// names the prepare-tool and how to find the right one (the SST then ends
// with exit 22, as any failed prepare).
func TestPrepareToolNamed(t *testing.T) {
	exe, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	// The test binary acts as mariadb-backup under that name (TestMain).
	tool := filepath.Join(t.TempDir(), "mariadb-10.6", "mariadb-backup")
	must(t, os.MkdirAll(filepath.Dir(tool), 0o755))
	must(t, os.Symlink(exe, tool))
	for _, failing := range []bool{false, true} {
		t.Run(map[bool]string{false: "ok", true: "fails"}[failing], func(t *testing.T) {
			e := newSSTEnv(t, "prepare-tool="+tool+"\n")
			ctx, cancel := context.WithTimeout(t.Context(), time.Minute)
			defer cancel()
			addr, _, jdone := e.startJoiner(t, ctx)
			if failing {
				t.Setenv("FAKE_FAIL", "prepare") // read by the joiner's prepare only
			}
			if _, err := e.runDonor(t, ctx, addr); err != nil {
				t.Fatalf("donor: %v", err)
			}
			err := <-jdone
			if !strings.Contains(e.logs.String(), "Preparing the backup at "+e.joiner+"/.sst with "+tool+" ") {
				t.Errorf("the log does not name the prepare tool %s:\n%s", tool, e.logs.String())
			}
			if !failing {
				if err != nil {
					t.Fatalf("joiner: %v", err)
				}
				return
			}
			if got := fail.ClassOf(err); got != fail.Invalid {
				t.Errorf("joiner class = %v (%v), want %v", got, err, fail.Invalid)
			}
			if msg := err.Error(); !strings.Contains(msg, "prepare-tool="+tool+" finished with errors") || !strings.Contains(msg, "check --peer-version") ||
				!strings.Contains(msg, "Corruption of an index tree") {
				t.Errorf("error = %q, want it to name the prepare-tool, the check and the tool's own message", msg)
			}
		})
	}
}
