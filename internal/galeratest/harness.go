package galeratest

import (
	"context"
	"os"
	"testing"
	"time"
)

// Integration skips t unless SST_INTEGRATION=1 and the programs a
// cluster needs are installed (Available): the gate of every test that
// starts real nodes.
func Integration(t testing.TB) {
	t.Helper()
	if os.Getenv("SST_INTEGRATION") != "1" {
		t.Skip("set SST_INTEGRATION=1 (make test does) to run tests that start real Galera nodes")
	}
	if err := Available(); err != nil {
		t.Skip(err)
	}
}

// NewTestCluster is New for a test: it fails t on error and closes the
// cluster in a cleanup, failing t if Close fails; if t failed, the
// cleanup first logs the SST lines of every node's error log. Registered
// after the t.TempDir holding opts.Dir, the cleanup runs first: mariadbd
// must be gone, and volumes unmounted, before the files are removed.
func NewTestCluster(t testing.TB, opts Options) *Cluster {
	t.Helper()
	c, err := New(opts)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if t.Failed() {
			for _, n := range c.Nodes() {
				if l, err := n.ErrorLog(); err == nil {
					t.Logf("%s error log (SST lines):\n%s", n.Name(), Grep(l, "WSREP_SST", "SST", "ERROR"))
				}
			}
		}
		if err := c.Close(); err != nil {
			t.Error(err)
		}
	})
	return c
}

// StartSynced starts n, bootstrapping the cluster if bootstrap, and
// waits until it is Synced, failing t otherwise; it returns how long
// that took.
func StartSynced(ctx context.Context, t testing.TB, n *Node, bootstrap bool) time.Duration {
	t.Helper()
	t0 := time.Now()
	if err := n.Start(ctx, bootstrap); err != nil {
		t.Fatal(err)
	}
	if err := n.WaitSynced(ctx); err != nil {
		t.Fatal(err)
	}
	return time.Since(t0)
}
