package logx

import (
	"slices"
	"strings"
	"testing"
	"testing/iotest"
)

// TestLineWriter: lines come out whole however the writes are cut, "\r\n"
// ends a line too, an unfinished line is handed on at the bound, and
// Close hands on the unterminated rest.
func TestLineWriter(t *testing.T) {
	tests := []struct {
		name   string
		chunks []string
		limit  int
		want   []string
	}{
		{"whole lines", []string{"a\nb\n"}, 64, []string{"a", "b"}},
		{"cut writes", []string{"he", "llo\nwor", "ld\r\n"}, 64, []string{"hello", "world"}},
		{"empty line", []string{"\n"}, 64, []string{""}},
		{"unterminated rest", []string{"a\nrest"}, 64, []string{"a", "rest"}},
		{"bound", []string{"0123", "4567", "89\n"}, 4, []string{"0123", "4567", "89"}},
		{"long write", []string{"0123456789"}, 4, []string{"0123456789"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var got []string
			w := NewLineWriter(tt.limit, func(l string) { got = append(got, l) })
			for _, c := range tt.chunks {
				if n, err := w.Write([]byte(c)); n != len(c) || err != nil {
					t.Fatalf("Write(%q) = %d, %v", c, n, err)
				}
			}
			w.Close()
			if !slices.Equal(got, tt.want) {
				t.Errorf("lines = %q, want %q", got, tt.want)
			}
		})
	}
}

// TestLineWriterOneByte: one byte per write gives the same lines.
func TestLineWriterOneByte(t *testing.T) {
	var got []string
	w := NewLineWriter(1<<10, func(l string) { got = append(got, l) })
	r := iotest.OneByteReader(strings.NewReader("one\ntwo\r\nthree"))
	buf := make([]byte, 8)
	for {
		n, err := r.Read(buf)
		w.Write(buf[:n])
		if err != nil {
			break
		}
	}
	w.Close()
	if want := []string{"one", "two", "three"}; !slices.Equal(got, want) {
		t.Errorf("lines = %q, want %q", got, want)
	}
}

// TestLineWriterKeepsNoBigBuffer: after one big write the writer holds
// no more than its bound.
func TestLineWriterKeepsNoBigBuffer(t *testing.T) {
	w := NewLineWriter(16, func(string) {})
	w.Write([]byte(strings.Repeat("x", 1<<20) + "\nrest"))
	if c := cap(w.buf); c > 32 {
		t.Errorf("buffer capacity %d after a 1 MiB write, want at most 32", c)
	}
	if string(w.buf) != "rest" {
		t.Errorf("unfinished line = %q, want %q", w.buf, "rest")
	}
}
