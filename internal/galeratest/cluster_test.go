package galeratest

import (
	"context"
	"os"
	"strings"
	"testing"
	"time"
)

// TestStockSSTThenIST runs a real 2-node cluster with the stock script on
// both nodes: node2 joins by SST, leaves, misses some writes and rejoins by
// IST. It takes about 30 s (the stock donor sleeps 10 s).
func TestStockSSTThenIST(t *testing.T) {
	Integration(t)
	dir := t.TempDir()
	c := NewTestCluster(t, Options{Dir: dir, Method: "stocktest", Log: t.Logf})
	ctx, cancel := context.WithTimeout(t.Context(), 5*time.Minute)
	defer cancel()

	n1, err := c.AddNode(NodeConfig{StockScript: true})
	if err != nil {
		t.Fatal(err)
	}
	n2, err := c.AddNode(NodeConfig{StockScript: true})
	if err != nil {
		t.Fatal(err)
	}

	startSynced(ctx, t, n1, true, "node1 bootstrapped and Synced")
	loadRows(ctx, t, n1, 5000) // about 5 MB
	startSynced(ctx, t, n2, false, "node2 joined by SST and Synced")
	assertJoinedBy(t, n2, "SST")
	AssertSameData(ctx, t, n1, n2)

	t0 := time.Now()
	if err := n2.Stop(ctx); err != nil {
		t.Fatal(err)
	}
	t.Logf("node2 stopped in %v", time.Since(t0).Round(time.Millisecond))
	if err := InsertRows(ctx, n1, "sbtest", 1000); err != nil {
		t.Fatal(err)
	}
	if _, err := n1.Exec(ctx, "CREATE TABLE sbtest.t4 (id INT PRIMARY KEY, v TEXT) ENGINE=InnoDB; INSERT INTO sbtest.t4 SELECT seq, MD5(seq) FROM sbtest.seq_1_to_100"); err != nil {
		t.Fatal(err)
	}

	startSynced(ctx, t, n2, false, "node2 rejoined by IST and Synced")
	log := assertJoinedBy(t, n2, "IST")
	// The stock joiner's own account of the same fact.
	if want := "'xtrabackup_ist' received from donor: Running IST"; !strings.Contains(log, want) {
		t.Errorf("rejoin: joiner log lacks %q", want)
	}
	AssertSameData(ctx, t, n1, n2)
}

// TestJoinerFailureIsReported checks the harness itself: a joiner whose SST
// program fails makes mariadbd exit, and WaitSynced says so promptly with
// the error log's tail instead of waiting for its context.
func TestJoinerFailureIsReported(t *testing.T) {
	Integration(t)
	dir := t.TempDir()
	failing := dir + "/failing_sst"
	if err := os.WriteFile(failing, []byte("#!/bin/sh\necho 'failing SST program ran' >&2\nexit 22\n"), 0o755); err != nil {
		t.Fatal(err)
	}
	c := NewTestCluster(t, Options{Dir: dir, Method: "failtest", Log: t.Logf})
	ctx, cancel := context.WithTimeout(t.Context(), 2*time.Minute)
	defer cancel()

	n1, err := c.AddNode(NodeConfig{StockScript: true})
	if err != nil {
		t.Fatal(err)
	}
	n2, err := c.AddNode(NodeConfig{SSTProgram: failing})
	if err != nil {
		t.Fatal(err)
	}
	StartSynced(ctx, t, n1, true)
	t0 := time.Now()
	if err := n2.Start(ctx, false); err != nil {
		t.Fatal(err)
	}
	err = n2.WaitSynced(ctx)
	if err == nil {
		t.Fatal("WaitSynced() = nil for a joiner whose SST program fails")
	}
	if ctx.Err() != nil {
		t.Fatalf("WaitSynced() returned only when its context ended: %v", err)
	}
	if !strings.Contains(err.Error(), "failing SST program ran") {
		t.Errorf("WaitSynced() error lacks the log tail: %v", err)
	}
	t.Logf("failure reported after %v", time.Since(t0).Round(time.Millisecond))
	if n2.Running() {
		t.Error("node2 still running")
	}
}

// startSynced starts n, bootstrapping the cluster if bootstrap, waits
// until it is Synced and logs how long that took: "<what> in <d>".
func startSynced(ctx context.Context, t *testing.T, n *Node, bootstrap bool, what string) {
	t.Helper()
	d := StartSynced(ctx, t, n, bootstrap)
	t.Logf("%s in %v", what, d.Round(time.Millisecond))
}

// loadRows loads rows rows into n's sbtest and logs how long that took.
func loadRows(ctx context.Context, t *testing.T, n *Node, rows int) {
	t.Helper()
	t0 := time.Now()
	if err := LoadData(ctx, n, "sbtest", rows); err != nil {
		t.Fatal(err)
	}
	t.Logf("loaded %d rows in %v", rows, time.Since(t0).Round(time.Millisecond))
}

// assertJoinedBy checks that n's last start joined by want (SST or IST)
// and logs how long its SST program ran; it returns n's log since that
// start.
func assertJoinedBy(t *testing.T, n *Node, want string) string {
	t.Helper()
	log, err := n.LogSinceStart()
	if err != nil {
		t.Fatal(err)
	}
	if got := StateTransfer(log); got != want {
		t.Errorf("%s: state transfer = %q, want %s; log lines:\n%s", n.Name(), got, want, Grep(log, "IST", "SST"))
	}
	if d, ok := SSTDuration(log); ok {
		t.Logf("SST program on the joiner ran %v", d.Round(time.Millisecond))
	}
	return log
}
