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
	if os.Getenv("SST_INTEGRATION") != "1" {
		t.Skip("set SST_INTEGRATION=1 to run tests that start real Galera nodes")
	}
	if err := Available(); err != nil {
		t.Skip(err)
	}
	dir := t.TempDir()
	c, err := New(Options{Dir: dir, Method: "stocktest", Log: t.Logf})
	if err != nil {
		t.Fatal(err)
	}
	// Registered after TempDir, so it runs first: mariadbd must be gone
	// before its files are removed.
	t.Cleanup(func() {
		if err := c.Close(); err != nil {
			t.Error(err)
		}
	})
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

	t0 := time.Now()
	if err := n1.Start(ctx, true); err != nil {
		t.Fatal(err)
	}
	if err := n1.WaitSynced(ctx); err != nil {
		t.Fatal(err)
	}
	t.Logf("node1 bootstrapped and Synced in %v", time.Since(t0).Round(time.Millisecond))

	t0 = time.Now()
	const rows = 5000 // about 5 MB
	if err := LoadData(ctx, n1, "sbtest", rows); err != nil {
		t.Fatal(err)
	}
	t.Logf("loaded %d rows in %v", rows, time.Since(t0).Round(time.Millisecond))

	t0 = time.Now()
	if err := n2.Start(ctx, false); err != nil {
		t.Fatal(err)
	}
	if err := n2.WaitSynced(ctx); err != nil {
		t.Fatal(err)
	}
	t.Logf("node2 joined by SST and Synced in %v", time.Since(t0).Round(time.Millisecond))
	log, err := n2.LogSinceStart()
	if err != nil {
		t.Fatal(err)
	}
	if got := StateTransfer(log); got != "SST" {
		t.Errorf("first join: state transfer = %q, want SST", got)
	}
	if d, ok := SSTDuration(log); ok {
		t.Logf("SST program on the joiner ran %v", d.Round(time.Millisecond))
	}
	AssertSameData(ctx, t, n1, n2)

	t0 = time.Now()
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

	t0 = time.Now()
	if err := n2.Start(ctx, false); err != nil {
		t.Fatal(err)
	}
	if err := n2.WaitSynced(ctx); err != nil {
		t.Fatal(err)
	}
	t.Logf("node2 rejoined by IST and Synced in %v", time.Since(t0).Round(time.Millisecond))
	log, err = n2.LogSinceStart()
	if err != nil {
		t.Fatal(err)
	}
	if got := StateTransfer(log); got != "IST" {
		t.Errorf("rejoin: state transfer = %q, want IST; log lines:\n%s", got, Grep(log, "IST", "SST"))
	}
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
	if os.Getenv("SST_INTEGRATION") != "1" {
		t.Skip("set SST_INTEGRATION=1 to run tests that start real Galera nodes")
	}
	if err := Available(); err != nil {
		t.Skip(err)
	}
	dir := t.TempDir()
	failing := dir + "/failing_sst"
	if err := os.WriteFile(failing, []byte("#!/bin/sh\necho 'failing SST program ran' >&2\nexit 22\n"), 0o755); err != nil {
		t.Fatal(err)
	}
	c, err := New(Options{Dir: dir, Method: "failtest", Log: t.Logf})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := c.Close(); err != nil {
			t.Error(err)
		}
	})
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
	if err := n1.Start(ctx, true); err != nil {
		t.Fatal(err)
	}
	if err := n1.WaitSynced(ctx); err != nil {
		t.Fatal(err)
	}
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
