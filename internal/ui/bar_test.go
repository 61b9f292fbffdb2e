package ui

import (
	"fmt"
	"strings"
	"testing"
	"time"
)

// TestProgressBar: the total and the bytes done drive the bar; the rate comes from
// the recent samples, the ETA from the rate; log lines go above it.
func TestProgressBar(t *testing.T) {
	var out strings.Builder
	b := NewProgressBar(&out)
	t0 := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	clock := t0
	b.now = func() time.Time { return clock }
	b.SetTotal(1 << 30)
	b.Update(0)
	if got := out.String(); !strings.HasSuffix(got, "  0 B / 1.0 GiB  --/s  ETA --:--") {
		t.Errorf("first bar = %q, want no rate or ETA yet", got)
	}
	clock = t0.Add(4 * time.Second)
	b.Update(268435456) // 256 MiB in 4 s: 64 MiB/s, 768 MiB left: 12 s
	got := out.String()
	want := "\r\033[K[=======>                      ]  25%  256.0 MiB / 1.0 GiB  64.0 MiB/s  ETA 0:12"
	if !strings.HasSuffix(got, want) {
		t.Errorf("bar = %q, want it to end in %q", got, want)
	}
	out.Reset()
	fmt.Fprint(b, "WSREP_SST: [INFO] hello\n")
	if got := out.String(); got != "\r\033[KWSREP_SST: [INFO] hello\n" {
		t.Errorf("log line over the bar = %q, want the bar cleared, then the line", got)
	}
	out.Reset()
	clock = t0.Add(4*time.Second + 100*time.Millisecond)
	b.Update(300000000) // drawn again at once after a log line
	if got := out.String(); !strings.HasPrefix(got, "\r\033[K[=") {
		t.Errorf("update after a log line = %q, want the bar drawn", got)
	}
	out.Reset()
	clock = t0.Add(5 * time.Second)
	b.Update(1200000000) // over the estimate
	b.Finish()
	if got := out.String(); !strings.HasSuffix(got, "] 100%  1.1 GiB / 1.0 GiB  228.9 MiB/s  ETA --:--\n") {
		t.Errorf("final bar = %q", got)
	}
	out.Reset()
	fmt.Fprint(b, "after\n")
	b.Finish()
	if out.String() != "after\n" {
		t.Errorf("after Finish, log lines are plain and Finish draws nothing: got %q", out.String())
	}
	var nilBar *ProgressBar
	nilBar.Finish()
}
