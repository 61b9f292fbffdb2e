package galeratest

import (
	"context"
	"strings"
	"testing"
)

// AssertSameData fails t unless the sbtest tables of a and b have equal
// checksums (and a has some).
func AssertSameData(ctx context.Context, t testing.TB, a, b *Node) {
	t.Helper()
	sa, err := a.Checksums(ctx, "sbtest")
	if err != nil {
		t.Fatal(err)
	}
	sb, err := b.Checksums(ctx, "sbtest")
	if err != nil {
		t.Fatal(err)
	}
	if len(sa) == 0 {
		t.Fatalf("no tables checksummed on %s", a.Name())
	}
	if d := DiffChecksums(sa, sb); d != nil {
		t.Errorf("%s and %s differ:\n%s", a.Name(), b.Name(), strings.Join(d, "\n"))
	}
	t.Logf("%d tables equal on %s and %s", len(sa), a.Name(), b.Name())
}

// Grep returns the lines of s that contain any of words, at most the last
// 80 of them.
func Grep(s string, words ...string) string {
	var out []string
	for _, l := range strings.Split(s, "\n") {
		for _, w := range words {
			if strings.Contains(l, w) {
				out = append(out, l)
				break
			}
		}
	}
	if len(out) > 80 {
		out = out[len(out)-80:]
	}
	return strings.Join(out, "\n")
}
