package sst

import (
	"bytes"
	"slices"
	"strconv"
	"testing"
)

// TestProtocolEvents: every protocol line still reaches stdout as before,
// and the caller's Events get its values: the ready address, the total
// and progress as numbers, the final position of either role.
func TestProtocolEvents(t *testing.T) {
	var stdout bytes.Buffer
	var got []string
	p := &protocol{w: &stdout, events: Events{
		Ready:    func(addr string) { got = append(got, "ready="+addr) },
		Total:    func(n int64) { got = append(got, "total="+itoa(n)) },
		Progress: func(n int64) { got = append(got, "progress="+itoa(n)) },
		Position: func(pos string) { got = append(got, "position="+pos) },
	}}
	const uuid = "0ab161ca-ed72-11f1-a409-8b473c53336a"
	for _, l := range []struct {
		format string
		args   []any
	}{
		{"ready %s%s:%s/%s/%s/1", []any{"cn:secret@", "10.0.0.2", "4444", "xtrabackup_sst", ""}},
		{"total %d", []any{int64(1 << 30)}},
		{"complete %d", []any{int64(512)}},
		{"continue", nil},
		{"done %s", []any{uuid + ":5"}},
		{"%s", []any{uuid + ":7 0"}},
	} {
		if err := p.line(l.format, l.args...); err != nil {
			t.Fatal(err)
		}
	}
	wantOut := "ready cn:secret@10.0.0.2:4444/xtrabackup_sst//1\ntotal 1073741824\ncomplete 512\ncontinue\ndone " + uuid + ":5\n" + uuid + ":7 0\n"
	if stdout.String() != wantOut {
		t.Errorf("stdout = %q, want %q", stdout.String(), wantOut)
	}
	want := []string{"ready=cn:secret@10.0.0.2:4444/xtrabackup_sst//1", "total=1073741824", "progress=512",
		"position=" + uuid + ":5", "position=" + uuid + ":7 0"}
	if !slices.Equal(got, want) {
		t.Errorf("events = %q, want %q", got, want)
	}
	// No Events: lines only.
	stdout.Reset()
	q := &protocol{w: &stdout}
	if err := q.line("total %d", int64(3)); err != nil || stdout.String() != "total 3\n" {
		t.Errorf("without events: %q, %v", stdout.String(), err)
	}
}

func itoa(n int64) string { return strconv.FormatInt(n, 10) }
