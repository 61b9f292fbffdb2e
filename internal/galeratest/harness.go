package galeratest

import (
	"os"
	"testing"
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
// cluster in a cleanup, failing t if Close fails. Registered after the
// t.TempDir holding opts.Dir, the cleanup runs first: mariadbd must be
// gone, and volumes unmounted, before the files are removed.
func NewTestCluster(t testing.TB, opts Options) *Cluster {
	t.Helper()
	c, err := New(opts)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := c.Close(); err != nil {
			t.Error(err)
		}
	})
	return c
}
