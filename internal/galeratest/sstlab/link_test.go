package main

import (
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
)

func TestRotate(t *testing.T) {
	s := []int{1, 2, 3}
	for _, tt := range []struct {
		r    int
		want []int
	}{{0, []int{1, 2, 3}}, {1, []int{2, 3, 1}}, {2, []int{3, 1, 2}}, {4, []int{2, 3, 1}}} {
		if got := rotate(s, tt.r); !reflect.DeepEqual(got, tt.want) {
			t.Errorf("rotate(%v, %d) = %v, want %v", s, tt.r, got, tt.want)
		}
	}
	if !reflect.DeepEqual(s, []int{1, 2, 3}) {
		t.Errorf("rotate changed its input: %v", s)
	}
}

func TestMedian(t *testing.T) {
	r := &result{ms: []measure{{secs: 5}, {secs: 1}, {secs: 3}, {secs: 9}}}
	// The lower middle of an even count: a value that was measured.
	if got := r.secs(); got != 3 {
		t.Errorf("median of 5,1,3,9 = %v, want 3", got)
	}
	r.ms = r.ms[:3]
	if got := r.secs(); got != 3 {
		t.Errorf("median of 5,1,3 = %v, want 3", got)
	}
}

func TestSSTArgv(t *testing.T) {
	const dir = "/tmp/lab/node2/data"
	for _, tt := range []struct {
		argv string
		want bool
	}{
		// Ours, as sh -c execs it from mysqld's command line.
		{"wsrep_sst_sstlab --role joiner --address 127.0.0.1:4444 --datadir /tmp/lab/node2/data/ --parent 1", true},
		// The stock script, run by its interpreter.
		{"/bin/bash -ue /tmp/lab/node2/bin/wsrep_sst_sstlab --role joiner --datadir /tmp/lab/node2/data/", true},
		{"wsrep_sst_sstlab --role joiner --datadir=/tmp/lab/node2/data", true},
		{"wsrep_sst_sstlab --role donor --datadir /tmp/lab/node2/data/", false},
		{"wsrep_sst_sstlab --role joiner --datadir /tmp/lab/node1/data/", false},
		{"mariadb-backup --backup --datadir=/tmp/lab/node2/data --role joiner", false},
	} {
		if got := sstArgv(strings.Fields(tt.argv), "joiner", dir); got != tt.want {
			t.Errorf("sstArgv(%q) = %v, want %v", tt.argv, got, tt.want)
		}
	}
	// The shell mysqld starts the program with, before it execs it.
	sh := []string{"sh", "-c", "wsrep_sst_sstlab --role 'joiner' --datadir '/tmp/lab/node2/data/'"}
	if sstArgv(sh, "joiner", dir) {
		t.Errorf("sstArgv(%q) = true, want false", sh)
	}
}

func TestForceSST(t *testing.T) {
	d := t.TempDir()
	p := filepath.Join(d, "grastate.dat")
	in := "# GALERA saved state\nversion: 2.1\nuuid:    10ff9bd8-ed82-11f1-a355-27114a48456b\nseqno:   31\nsafe_to_bootstrap: 0\n"
	if err := os.WriteFile(p, []byte(in), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := forceSST(d); err != nil {
		t.Fatal(err)
	}
	b, _ := os.ReadFile(p)
	if want := strings.Replace(in, "seqno:   31", "seqno:   -1", 1); string(b) != want {
		t.Errorf("grastate.dat:\n%s\nwant:\n%s", b, want)
	}
	if err := os.WriteFile(p, []byte("version: 2.1\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := forceSST(d); err == nil {
		t.Error("no error for a grastate.dat without seqno")
	}
}

func TestStatusProgress(t *testing.T) {
	p := filepath.Join(t.TempDir(), "status.json")
	if f, err := statusProgress(p, 100); err != nil || f != 0 {
		t.Errorf("missing file: %v, %v; want 0, nil", f, err)
	}
	write := func(s string) {
		t.Helper()
		if err := os.WriteFile(p, []byte(s), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	write(`{"version":1,"bytes_done":30,"bytes_total":60}`)
	if f, err := statusProgress(p, 100); err != nil || f != 0.5 {
		t.Errorf("with a total: %v, %v; want 0.5, nil", f, err)
	}
	write(`{"version":1,"bytes_done":30,"bytes_total":null}`)
	if f, err := statusProgress(p, 100); err != nil || f != 0.3 {
		t.Errorf("without a total: %v, %v; want 0.3, nil", f, err)
	}
	write(`{"bytes_done":`)
	if _, err := statusProgress(p, 100); err == nil {
		t.Error("no error for a broken document")
	}
}

func TestBlockDiff(t *testing.T) {
	before, after := t.TempDir(), t.TempDir()
	page := func(b byte) []byte { return []byte(strings.Repeat(string(b), blockSize)) }
	files := func(dir string, t1 [][]byte, extra map[string][]byte) {
		t.Helper()
		if err := os.MkdirAll(filepath.Join(dir, schema), 0o755); err != nil {
			t.Fatal(err)
		}
		var b []byte
		for _, p := range t1 {
			b = append(b, p...)
		}
		if err := os.WriteFile(filepath.Join(dir, schema, "t1.ibd"), b, 0o644); err != nil {
			t.Fatal(err)
		}
		for name, data := range extra {
			if err := os.WriteFile(filepath.Join(dir, name), data, 0o644); err != nil {
				t.Fatal(err)
			}
		}
	}
	files(before, [][]byte{page('a'), page('b'), page('c'), page('d')}, map[string][]byte{
		"ibdata1": page('x'), "galera.cache": page('g'), "ib_logfile0": page('l'),
	})
	// Page 2 of t1 changed and one appended; ibdata1 grew by half a
	// block; galera.cache (volatile) and the redo log changed.
	files(after, [][]byte{page('a'), page('B'), page('c'), page('d'), page('e')}, map[string][]byte{
		"ibdata1": append(page('x'), []byte("more")...), "galera.cache": page('G'), "ib_logfile0": page('L'),
		"ibtmp1": page('t'),
	})
	b, err := blockSums(before)
	if err != nil {
		t.Fatal(err)
	}
	a, err := blockSums(after)
	if err != nil {
		t.Fatal(err)
	}
	d := diffBlocks(b, a)
	if d.t1Changed != 2 || d.t1Total != 5 || d.changed != 3 || d.total != 7 || d.logChanged != 1 {
		t.Errorf("diff = %+v, want t1 2 of 5, all 3 of 7, log 1", d)
	}
	if want := []fileDiff{{filepath.Join(schema, "t1.ibd"), 2}, {"ibdata1", 1}}; !reflect.DeepEqual(d.files, want) {
		t.Errorf("files = %v, want %v", d.files, want)
	}
}
