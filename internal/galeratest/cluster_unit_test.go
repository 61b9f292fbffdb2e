package galeratest

import (
	"strings"
	"testing"
)

func TestNewRejectsBadMethod(t *testing.T) {
	dir := t.TempDir()
	for _, tc := range []struct {
		method string
		ok     bool
	}{
		{"gotest", true},
		{"stock.test-1_x", true},
		{"", false},
		{"a b", false},
		{"x;rm", false},
		{"../x", false},
		{"mariabackup", false}, // /usr/bin/wsrep_sst_mariabackup would win on PATH
	} {
		t.Run(tc.method, func(t *testing.T) {
			if tc.method == "mariabackup" && !fileExists("/usr/bin/wsrep_sst_mariabackup") {
				t.Skip("stock script not installed")
			}
			_, err := New(Options{Dir: dir, Method: tc.method})
			if got := err == nil; got != tc.ok {
				t.Errorf("New(Method: %q) error = %v, want ok = %v", tc.method, err, tc.ok)
			}
		})
	}
}

func TestNewRejectsMissingDir(t *testing.T) {
	_, err := New(Options{Dir: t.TempDir() + "/nope", Method: "gotest"})
	if err == nil || !strings.Contains(err.Error(), "base dir") {
		t.Errorf("New() with a missing dir: error = %v, want a base dir error", err)
	}
}

func TestDiffChecksums(t *testing.T) {
	a := map[string]string{"s.t1": "1", "s.t2": "2", "s.t3": "3"}
	b := map[string]string{"s.t1": "1", "s.t2": "9", "s.t4": "4"}
	got := strings.Join(DiffChecksums(a, b), "\n")
	want := "s.t2: 2 != 9\ns.t3: only on first (3)\ns.t4: only on second (4)"
	if got != want {
		t.Errorf("DiffChecksums() =\n%s\nwant\n%s", got, want)
	}
	if d := DiffChecksums(a, a); d != nil {
		t.Errorf("DiffChecksums(a, a) = %q, want nil", d)
	}
}
