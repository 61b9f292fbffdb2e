package xfer

import (
	"bufio"
	"bytes"
	"errors"
	"io"
	"os"
	"os/exec"
	"strings"
	"testing"

	"wsrep_sst_mariabackup/internal/config"
)

func TestTokenRoundTrip(t *testing.T) {
	for _, r := range []Range{{1, 1}, {1, 2}, {3, 65535}, Supported} {
		tok := r.Token()
		if strings.ContainsAny(tok, " '\"`$/\t\n") {
			t.Errorf("Token(%v) = %q: has a character safe() or the address parser rejects", r, tok)
		}
		got, ok := ParseToken(tok)
		if !ok || got != r {
			t.Errorf("ParseToken(%q) = %v, %v; want %v, true", tok, got, ok, r)
		}
	}
}

func TestParseToken(t *testing.T) {
	tests := []struct {
		in   string
		want Range
		ok   bool
	}{
		{"xfer-v1.1", Range{1, 1}, true},
		{"xfer-v1.4", Range{1, 4}, true},
		{"xfer-v2.7-zstd-s8", Range{2, 7}, true}, // unknown extensions ignored
		{"", Range{}, false},
		{"1234567", Range{}, false}, // an InnoDB LSN
		{"xfer-v", Range{}, false},
		{"xfer-v1", Range{}, false},
		{"xfer-v1.", Range{}, false},
		{"xfer-v.1", Range{}, false},
		{"xfer-v0.1", Range{}, false},
		{"xfer-v01.1", Range{}, false},
		{"xfer-v2.1", Range{}, false}, // min above max
		{"xfer-v1.65536", Range{}, false},
		{"xfer-v1.1-", Range{}, false},
		{"xfer-v1.1--x", Range{}, false},
		{"xfer-v1.1-X", Range{}, false},
		{"xfer-v1.1.2", Range{}, false},
		{"XFER-v1.1", Range{}, false},
		{"xfer-v1.1" + strings.Repeat("-a", 40), Range{}, false}, // too long
	}
	for _, tt := range tests {
		got, ok := ParseToken(tt.in)
		if got != tt.want || ok != tt.ok {
			t.Errorf("ParseToken(%q) = %v, %v; want %v, %v", tt.in, got, ok, tt.want, tt.ok)
		}
	}
}

func FuzzParseToken(f *testing.F) {
	f.Add("xfer-v1.1")
	f.Add("xfer-v2.9-ab-c1")
	f.Add("123")
	f.Fuzz(func(t *testing.T, s string) {
		r, ok := ParseToken(s)
		if !ok {
			return
		}
		if r.Min == 0 || r.Min > r.Max {
			t.Fatalf("ParseToken(%q) = %v", s, r)
		}
		if r2, ok := ParseToken(r.Token()); !ok || r2 != r {
			t.Fatalf("round trip of %v via %q: %v, %v", r, r.Token(), r2, ok)
		}
	})
}

// stockAddresses are ready addresses as joiners print them: the stock
// script's (empty lsn), ours with a token, with IPv6 and without sst_ver.
var stockAddresses = []struct {
	addr string
	want Range
	ok   bool
}{
	{"127.0.0.1:4444/xtrabackup_sst//1", Range{}, false},
	{"127.0.0.1:4444/xtrabackup_sst/" + Supported.Token() + "/1", Supported, true},
	{"[::1]:4444/xtrabackup_sst/xfer-v1.3-zstd/1", Range{1, 3}, true},
	{"node2:4444/xtrabackup_sst/xfer-v1.2", Range{1, 2}, true},
	{"node2:4444/xtrabackup_sst/8388608/1", Range{}, false},
	{"node2:4444/xtrabackup_sst", Range{}, false},
}

// TestNegotiationStockAddress parses stock-style addresses with our
// argument parser, which mirrors wsrep_sst_common's --address branch.
func TestNegotiationStockAddress(t *testing.T) {
	for _, tt := range stockAddresses {
		a, err := config.ParseArgs([]string{"--role", "donor", "--address", tt.addr, "--datadir", t.TempDir()},
			func(string) string { return "" })
		if err != nil {
			t.Fatalf("ParseArgs(%q): %v", tt.addr, err)
		}
		got, ok := ParseToken(a.LSN)
		if got != tt.want || ok != tt.ok {
			t.Errorf("address %q: lsn %q: ParseToken = %v, %v; want %v, %v", tt.addr, a.LSN, got, ok, tt.want, tt.ok)
		}
	}
}

// TestStockDonorAcceptsToken runs the stock wsrep_sst_common's address
// parsing and the donor's safe() on the lsn field, as setup_ports does.
func TestStockDonorAcceptsToken(t *testing.T) {
	const common = "/usr/bin/wsrep_sst_common"
	if _, err := os.Stat(common); err != nil {
		t.Skipf("stock script not installed: %v", err)
	}
	bash, err := exec.LookPath("bash")
	if err != nil {
		t.Skip("no bash")
	}
	script := `. ` + common + `
printf 'LSN=%s\n' "$WSREP_SST_OPT_LSN"
lsn="$(safe WSREP_SST_OPT_LSN)" || exit 1
printf 'SAFE=%s\n' "$lsn"`
	for _, tt := range stockAddresses {
		if !tt.ok {
			continue
		}
		cmd := exec.CommandContext(t.Context(), bash, "-c", script, "wsrep_sst_probe",
			"--role", "donor", "--address", tt.addr, "--datadir", t.TempDir(), "--defaults-file", os.DevNull)
		out, err := cmd.CombinedOutput()
		if err != nil {
			t.Fatalf("stock parse of %q: %v\n%s", tt.addr, err, out)
		}
		var lsn, safe string
		for l := range strings.SplitSeq(string(out), "\n") {
			if v, ok := strings.CutPrefix(l, "LSN="); ok {
				lsn = v
			}
			if v, ok := strings.CutPrefix(l, "SAFE="); ok {
				safe = v
			}
		}
		if safe != lsn {
			t.Errorf("%q: safe() gave %q for lsn %q\n%s", tt.addr, safe, lsn, out)
		}
		if got, ok := ParseToken(lsn); !ok || got != tt.want {
			t.Errorf("%q: stock lsn %q parses to %v, %v; want %v", tt.addr, lsn, got, ok, tt.want)
		}
	}
}

func TestNegotiate(t *testing.T) {
	tests := []struct {
		a, b Range
		want Version
		ok   bool
	}{
		{Range{1, 1}, Range{1, 1}, 1, true},
		{Range{1, 3}, Range{1, 2}, 2, true},
		{Range{2, 5}, Range{1, 9}, 5, true},
		{Range{1, 1}, Range{2, 3}, 0, false},
		{Range{3, 4}, Range{1, 2}, 0, false},
	}
	for _, tt := range tests {
		for _, swap := range []bool{false, true} {
			a, b := tt.a, tt.b
			if swap {
				a, b = b, a
			}
			got, ok := Negotiate(a, b)
			if got != tt.want || ok != tt.ok {
				t.Errorf("Negotiate(%v, %v) = %d, %v; want %d, %v", a, b, got, ok, tt.want, tt.ok)
			}
		}
	}
}

type duplex struct {
	io.Reader
	io.Writer
}

func TestHelloExchange(t *testing.T) {
	tests := []struct {
		donor, joiner Range
		want          Version
		err           error
	}{
		{Range{1, 1}, Range{1, 1}, 1, nil},
		{Range{1, 4}, Range{1, 2}, 2, nil},
		{Range{1, 2}, Range{3, 4}, 0, ErrNoVersion},
	}
	for _, tt := range tests {
		dr, jw := io.Pipe()
		jr, dw := io.Pipe()
		type res struct {
			h   Hello
			v   Version
			err error
		}
		done := make(chan res, 1)
		go func() {
			br := bufio.NewReader(jr)
			if ok, err := IsHello(br); !ok || err != nil {
				done <- res{err: errors.Join(ErrNotHello, err)}
				return
			}
			h, v, err := Answer(duplex{br, jw}, tt.joiner)
			done <- res{h, v, err}
		}()
		sent := Hello{Versions: tt.donor, Stream: 1, Streams: 3}
		v, err := Greet(duplex{dr, dw}, sent)
		j := <-done
		if !errors.Is(err, tt.err) || !errors.Is(j.err, tt.err) {
			t.Fatalf("%v vs %v: donor error %v, joiner error %v; want %v", tt.donor, tt.joiner, err, j.err, tt.err)
		}
		if v != tt.want || j.v != tt.want {
			t.Errorf("%v vs %v: donor got %d, joiner %d; want %d", tt.donor, tt.joiner, v, j.v, tt.want)
		}
		if j.h != sent {
			t.Errorf("joiner read %+v, donor sent %+v", j.h, sent)
		}
	}
}

func TestIsHelloStockStream(t *testing.T) {
	for _, in := range []string{"XBSTCK01P\x00\x00", "\x04\x22\x4d\x18", "", "XFERHLO"} {
		br := bufio.NewReader(strings.NewReader(in))
		ok, err := IsHello(br)
		if ok || err != nil {
			t.Errorf("IsHello(%q) = %v, %v; want false, nil", in, ok, err)
		}
		// Nothing consumed: the stock path reads the stream whole.
		rest, _ := io.ReadAll(br)
		if string(rest) != in {
			t.Errorf("IsHello(%q) consumed input, left %q", in, rest)
		}
	}
}

func TestHelloMalformed(t *testing.T) {
	good, err := Hello{Versions: Range{1, 1}, Stream: 0, Streams: 1}.MarshalBinary()
	if err != nil {
		t.Fatal(err)
	}
	mod := func(i int, v byte) []byte {
		b := bytes.Clone(good)
		b[i] = v
		return b
	}
	tests := []struct {
		name string
		in   []byte
		want error
	}{
		{"magic", mod(0, 'Y'), ErrNotHello},
		{"min zero", mod(9, 0), ErrBadHello},
		{"min above max", mod(9, 2), ErrBadHello},
		{"zero streams", mod(15, 0), ErrBadHello},
		{"too many streams", mod(14, 1), ErrBadHello},
		{"stream past streams", mod(13, 1), ErrBadHello},
	}
	for _, tt := range tests {
		_, err := ReadHello(bytes.NewReader(tt.in))
		if !errors.Is(err, tt.want) {
			t.Errorf("%s: ReadHello = %v; want %v", tt.name, err, tt.want)
		}
	}
	if _, err := ReadHello(bytes.NewReader(good[:5])); !errors.Is(err, io.ErrUnexpectedEOF) {
		t.Errorf("short hello: %v; want io.ErrUnexpectedEOF", err)
	}
}
