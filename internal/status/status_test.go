package status

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// clock is a fake time source that moves only when told.
type clock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *clock) now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *clock) add(d time.Duration) {
	c.mu.Lock()
	c.t = c.t.Add(d)
	c.mu.Unlock()
}

func newClock() *clock { return &clock{t: time.Date(2026, 12, 1, 9, 0, 0, 0, time.UTC)} }

func readDoc(t *testing.T, path string) map[string]any {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	var m map[string]any
	if err := json.Unmarshal(b, &m); err != nil {
		t.Fatalf("status file is not JSON: %v\n%s", err, b)
	}
	return m
}

var schemaKeys = []string{"version", "role", "stage", "stages", "bytes_done", "bytes_total",
	"rate_bytes_per_second", "eta_seconds", "peer", "pid", "started", "updated"}

func keys(m map[string]any) []string {
	var k []string
	for key := range m {
		k = append(k, key)
	}
	slices.Sort(k)
	return k
}

// TestSchemaAndStageOrder walks a joiner through every stage and checks
// the document after each: the members, the current stage and the stage
// list in order.
func TestSchemaAndStageOrder(t *testing.T) {
	path := filepath.Join(t.TempDir(), "sst_status.json")
	c := newClock()
	w := start(t.Context(), path, Fields{Role: "joiner", Interval: time.Hour}, c.now, nil)
	var done atomic.Int64
	w.Bytes(func() (int64, int64) { return done.Load(), 5000 })

	want := []string{StageListening, StageGTID, StageReceiving, StagePreparing, StageSwapping}
	for i, st := range want {
		c.add(time.Second)
		done.Add(1000)
		if st == StageGTID {
			w.SetPeer("10.0.0.1:4444")
		}
		w.Stage(st)
		m := readDoc(t, path)
		wantKeys := slices.Clone(schemaKeys)
		slices.Sort(wantKeys)
		if got := keys(m); !reflect.DeepEqual(got, wantKeys) {
			t.Fatalf("after %s: members = %v, want %v", st, got, wantKeys)
		}
		if m["stage"] != st {
			t.Errorf("stage = %v, want %s", m["stage"], st)
		}
		var names []string
		for _, e := range m["stages"].([]any) {
			names = append(names, e.(map[string]any)["name"].(string))
		}
		if !reflect.DeepEqual(names, want[:i+1]) {
			t.Errorf("stages = %v, want %v", names, want[:i+1])
		}
	}
	c.add(time.Second)
	w.Done()

	var d Document
	b, _ := os.ReadFile(path)
	if err := json.Unmarshal(b, &d); err != nil {
		t.Fatal(err)
	}
	if d.Version != SchemaVersion || d.Role != "joiner" || d.Stage != StageDone || d.Peer != "10.0.0.1:4444" || d.PID != os.Getpid() || d.Error != "" {
		t.Errorf("final document = %+v", d)
	}
	if d.Started != "2026-12-01T09:00:00.000Z" || d.Updated != "2026-12-01T09:00:06.000Z" {
		t.Errorf("started, updated = %s, %s; want 09:00:00.000Z, 09:00:06.000Z", d.Started, d.Updated)
	}
	if d.BytesDone != 5000 || d.BytesTotal == nil || *d.BytesTotal != 5000 {
		t.Errorf("bytes = %d of %v, want 5000 of 5000", d.BytesDone, d.BytesTotal)
	}
	if len(d.Stages) != 6 || d.Stages[5].Name != StageDone || d.Stages[2].Started != "2026-12-01T09:00:03.000Z" {
		t.Errorf("stages = %+v", d.Stages)
	}
	// Retention: the final document stays, and nothing else is left.
	ents, _ := os.ReadDir(filepath.Dir(path))
	if len(ents) != 1 || ents[0].Name() != "sst_status.json" {
		t.Errorf("directory holds %v, want only sst_status.json", ents)
	}
	// After Done, stage changes are ignored.
	w.Stage(StageReceiving)
	if m := readDoc(t, path); m["stage"] != StageDone {
		t.Errorf("stage after Done = %v, want done", m["stage"])
	}
}

// TestRateAndETA: the rate averages over the last ten seconds, the ETA
// follows from it and the total, and both are null when unknown.
func TestRateAndETA(t *testing.T) {
	path := filepath.Join(t.TempDir(), "s.json")
	c := newClock()
	w := start(t.Context(), path, Fields{Role: "donor", Interval: time.Hour}, c.now, nil)
	defer w.Done()
	var done, total int64
	w.Bytes(func() (int64, int64) { return done, total })
	tests := []struct {
		step        time.Duration
		done, total int64
		rate        int64
		eta         any // float64 or nil (JSON null)
	}{
		{0, 0, 1000, 0, nil},
		{time.Second, 100, 1000, 100, 9.0},
		{time.Second, 300, 1000, 150, 5.0},    // 700 / 150 = 4.67
		{time.Second, 400, 0, 133, nil},       // total unknown
		{10 * time.Second, 400, 1000, 0, nil}, // stalled for the whole window
		{time.Second, 500, 1000, 9, 55.0},     // (500-400) / 11s since the kept sample
	}
	for i, tt := range tests {
		c.add(tt.step)
		done, total = tt.done, tt.total
		w.update(false)
		m := readDoc(t, path)
		if got := int64(m["rate_bytes_per_second"].(float64)); got != tt.rate {
			t.Errorf("step %d: rate = %d, want %d", i, got, tt.rate)
		}
		if m["eta_seconds"] != tt.eta {
			t.Errorf("step %d: eta = %v, want %v", i, m["eta_seconds"], tt.eta)
		}
		if tt.total == 0 && m["bytes_total"] != nil {
			t.Errorf("step %d: bytes_total = %v, want null", i, m["bytes_total"])
		}
	}
}

// TestFail: the error is recorded with stage failed; when ctx ends first
// an "interrupted" document is written, and Fail replaces it.
func TestFail(t *testing.T) {
	t.Run("fail", func(t *testing.T) {
		path := filepath.Join(t.TempDir(), "s.json")
		w := start(t.Context(), path, Fields{Role: "donor", Interval: time.Hour}, newClock().now, nil)
		w.Stage(StageReceiving)
		w.Fail(errors.New("mariadb-backup exited with status 1"))
		w.Done() // ignored: the first of Done and Fail counts
		m := readDoc(t, path)
		if m["stage"] != StageFailed || m["error"] != "mariadb-backup exited with status 1" {
			t.Errorf("stage, error = %v, %v", m["stage"], m["error"])
		}
	})
	t.Run("interrupted", func(t *testing.T) {
		path := filepath.Join(t.TempDir(), "s.json")
		ctx, cancel := context.WithCancel(t.Context())
		wrote := make(chan struct{}, 16)
		w := start(ctx, path, Fields{Role: "joiner", Interval: time.Hour}, newClock().now, wrote)
		<-wrote
		w.Stage(StageListening)
		<-wrote
		cancel()
		<-wrote // the ctx path's final document
		m := readDoc(t, path)
		if m["stage"] != StageFailed || !strings.Contains(m["error"].(string), "interrupted: context canceled") {
			t.Errorf("after cancel: stage, error = %v, %v", m["stage"], m["error"])
		}
		w.Fail(errors.New("joiner: signal 15"))
		m = readDoc(t, path)
		if m["stage"] != StageFailed || m["error"] != "joiner: signal 15" {
			t.Errorf("after Fail: stage, error = %v, %v", m["stage"], m["error"])
		}
		if n := len(m["stages"].([]any)); n != 2 {
			t.Errorf("stages = %v, want listening, failed", m["stages"])
		}
	})
}

// TestAtomicUnderConcurrentReader: a reader polling the file while it is
// rewritten as fast as possible always finds it, and always finds a
// complete document. The document is made larger than a page so that an
// in-place rewrite would be caught half-written.
func TestAtomicUnderConcurrentReader(t *testing.T) {
	path := filepath.Join(t.TempDir(), "s.json")
	w := start(t.Context(), path, Fields{Role: "donor", Peer: strings.Repeat("p", 16<<10), Interval: time.Hour}, time.Now, nil)
	stop := make(chan struct{})
	var reads atomic.Int64
	errc := make(chan error, 1)
	go func() {
		defer close(errc)
		for {
			select {
			case <-stop:
				return
			default:
			}
			b, err := os.ReadFile(path)
			if err != nil {
				errc <- err
				return
			}
			var d Document
			if err := json.Unmarshal(b, &d); err != nil {
				errc <- errors.New("partial document: " + err.Error())
				return
			}
			reads.Add(1)
		}
	}()
	for i := range 30 {
		if i%5 == 0 {
			w.Stage([]string{StageReceiving, StagePreparing}[i/5%2])
		} else {
			w.update(false) // a tick: no directory fsync
		}
	}
	close(stop)
	if err := <-errc; err != nil {
		t.Fatalf("reader after %d good reads: %v", reads.Load(), err)
	}
	if reads.Load() == 0 {
		t.Fatal("the reader never ran")
	}
	w.Done()
}

// TestMtimeAdvances is the liveness contract: while the writer is alive
// the file's mtime moves on every interval, with or without progress.
func TestMtimeAdvances(t *testing.T) {
	path := filepath.Join(t.TempDir(), "s.json")
	wrote := make(chan struct{}, 16)
	w := start(t.Context(), path, Fields{Role: "joiner", Interval: 20 * time.Millisecond}, time.Now, wrote)
	<-wrote
	st, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	first := st.ModTime()
	for range 3 { // ticks only: no stage change, no bytes
		<-wrote
	}
	st, err = os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	if !st.ModTime().After(first) {
		t.Errorf("mtime %v did not advance from %v over three ticks", st.ModTime(), first)
	}
	if st.Mode().Perm() != 0o644 {
		t.Errorf("mode = %v, want 0644 (probes may run as another user)", st.Mode().Perm())
	}
	go func() { // keep the ticker from blocking on the test channel
		for range wrote {
		}
	}()
	w.Done()
	select {
	case <-w.done:
	default:
		t.Error("ticker goroutine still running after Done")
	}
}

// TestNilAndUnwritable: an empty path gives a nil Writer whose methods do
// nothing; an unwritable path logs one warning and never fails.
func TestNilAndUnwritable(t *testing.T) {
	w := Start(t.Context(), "", Fields{})
	if w != nil {
		t.Fatalf("Start with empty path = %v, want nil", w)
	}
	w.Stage(StageListening)
	w.Bytes(nil)
	w.SetPeer("x")
	w.Fail(errors.New("x"))
	w.Done()

	var logs bytes.Buffer
	log := slog.New(slog.NewTextHandler(&logs, nil))
	path := filepath.Join(t.TempDir(), "missing", "s.json")
	w = start(t.Context(), path, Fields{Role: "donor", Interval: time.Hour, Log: log}, time.Now, nil)
	w.Stage(StageReceiving)
	w.Stage(StagePreparing)
	w.Done()
	if n := strings.Count(logs.String(), "level=WARN"); n != 1 || !strings.Contains(logs.String(), "missing") {
		t.Errorf("want one warning naming the directory, got %d:\n%s", n, logs.String())
	}
}

// TestRedact: with Fields.Redact set, a secret learnt after Start (as the
// joiner learns its VERIFY_* secret) never appears in the file, in the
// error or any other text member, and the raw file bytes are checked, not
// just the parsed document.
func TestRedact(t *testing.T) {
	var mu sync.Mutex
	var secrets []string
	redact := func(s string) string {
		mu.Lock()
		defer mu.Unlock()
		for _, sec := range secrets {
			s = strings.ReplaceAll(s, sec, "***")
		}
		return s
	}
	path := filepath.Join(t.TempDir(), "s.json")
	w := start(t.Context(), path, Fields{Role: "joiner", Interval: time.Hour, Redact: redact}, newClock().now, nil)
	const secret = "s3cr3t-Pa55"
	mu.Lock()
	secrets = append(secrets, secret)
	mu.Unlock()
	w.SetPeer("10.0.0.1 " + secret)
	w.Stage(StageReceiving)
	w.Fail(fmt.Errorf("mariadb-backup exited with status 1: last lines of its output: Access denied for user 'sst'@'localhost' (password %s)", secret))
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if bytes.Contains(b, []byte(secret)) {
		t.Fatalf("the status file holds the secret:\n%s", b)
	}
	m := readDoc(t, path)
	if e, _ := m["error"].(string); !strings.Contains(e, "(password ***)") {
		t.Errorf("error = %q, want the secret replaced by ***", e)
	}
	if m["stage"] != StageFailed {
		t.Errorf("stage = %v, want failed", m["stage"])
	}
}
