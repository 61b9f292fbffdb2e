package preflight

import (
	"context"
	"strings"
	"testing"
	"time"

	"wsrep_sst_mariabackup/internal/galeratest"
)

// TestRealNode runs the checks against a real bootstrapped node: good
// settings give no finding and nothing skipped; an SST user without
// REPLICA MONITOR, or with a wrong password, is one problem that never
// shows the password.
func TestRealNode(t *testing.T) {
	galeratest.Integration(t)
	c := galeratest.NewTestCluster(t, galeratest.Options{Dir: t.TempDir(), Method: "checktest", Log: t.Logf})
	ctx, cancel := context.WithTimeout(t.Context(), 5*time.Minute)
	defer cancel()
	const password = "Chk-s3cret-pw"
	n, err := c.AddNode(galeratest.NodeConfig{Mysqld: []string{"wsrep_sst_auth=sstcheck:" + password}})
	if err != nil {
		t.Fatal(err)
	}
	galeratest.StartSynced(ctx, t, n, true)
	if _, err := n.Exec(ctx, "CREATE USER 'sstcheck'@'localhost' IDENTIFIED BY '"+password+"'; "+
		"GRANT RELOAD, PROCESS, LOCK TABLES, BINLOG MONITOR, REPLICA MONITOR ON *.* TO 'sstcheck'@'localhost'"); err != nil {
		t.Fatal(err)
	}
	// 10.11 shows these grants as "RELOAD, PROCESS, LOCK TABLES, BINLOG
	// MONITOR, SLAVE MONITOR": the alias must count.
	check := func() *Report {
		t.Helper()
		r, err := Run(ctx, Params{DefaultsFile: n.DefaultsFile(), Search: []string{}})
		if err != nil {
			t.Fatal(err)
		}
		out := findings(r) + "\n" + r.Summary()
		t.Logf("check:\n%s", out)
		if strings.Contains(out, password) {
			t.Fatalf("the password is in the output")
		}
		return r
	}

	r := check()
	if len(r.Findings) != 0 || len(r.Skipped) != 0 {
		t.Fatalf("good node: %d findings, skipped %q; want none", len(r.Findings), r.Skipped)
	}

	if _, err := n.Exec(ctx, "REVOKE REPLICA MONITOR ON *.* FROM 'sstcheck'@'localhost'"); err != nil {
		t.Fatal(err)
	}
	r = check()
	if r.Problems() != 1 || len(r.Findings) != 1 {
		t.Fatalf("no REPLICA MONITOR: got %d findings, want 1 problem", len(r.Findings))
	}
	want := "problem: the SST user 'sstcheck' lacks REPLICA MONITOR; fix: GRANT REPLICA MONITOR ON *.* TO `sstcheck`@`localhost`"
	if got := r.Findings[0].String(); got != want {
		t.Errorf("problem = %q\nwant      %q", got, want)
	}

	if _, err := n.Exec(ctx, "ALTER USER 'sstcheck'@'localhost' IDENTIFIED BY 'another-pw'"); err != nil {
		t.Fatal(err)
	}
	r = check()
	if r.Problems() != 1 || !strings.Contains(r.Findings[0].What, "cannot log in") || !strings.Contains(r.Findings[0].What, "Access denied for user 'sstcheck'@'localhost'") {
		t.Fatalf("wrong password: findings:\n%s\nwant one 'cannot log in' problem", findings(r))
	}
}
