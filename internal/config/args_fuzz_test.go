package config

import (
	"errors"
	"slices"
	"strings"
	"testing"
)

// FuzzParseArgs feeds NUL-separated argv lines to ParseArgs. Seeds are the
// table of args_test.go. Invariants: no panic; an error wraps ErrInvalid
// or ErrPortConflict; on success the port is set, the address is rebuilt
// from host, port and path, and a role is donor or joiner.
func FuzzParseArgs(f *testing.F) {
	for _, tc := range argvCases {
		f.Add(strings.Join(tc.argv, "\x00"))
	}
	f.Fuzz(func(t *testing.T, line string) {
		argv := strings.Split(line, "\x00")
		a := parseFuzzed(t, argv)
		if a == nil {
			return
		}
		checkArgsInvariants(t, a)
		checkWordsMatchLine(t, argv, a)
		_ = RedactArgs(a.mysqldLine)
		_ = RedactWords(a.MysqldArgs)
	})
}

// FuzzAddress fuzzes the --address and --port values.
func FuzzAddress(f *testing.F) {
	for _, tc := range argvCases {
		for i := 0; i+1 < len(tc.argv); i++ {
			if tc.argv[i] == "--address" {
				f.Add(tc.argv[i+1], "")
			}
		}
	}
	f.Add("[::1]:4444/xtrabackup_sst//1", "4444")
	f.Add("h:1", "2")
	f.Fuzz(func(t *testing.T, addr, port string) {
		argv := []string{"--role", "joiner", "--address", addr, "--datadir", "/d"}
		if port != "" {
			argv = append(argv, "--port", port)
		}
		a := parseFuzzed(t, argv)
		if a == nil {
			return
		}
		checkArgsInvariants(t, a)
		if a.AddressRaw != trimString(addr) {
			t.Errorf("AddressRaw = %q, want %q", a.AddressRaw, trimString(addr))
		}
	})
}

// FuzzRedactArgs checks that RedactArgs does not panic, is idempotent and
// hides a --wsrep_sst_auth value made of ordinary characters.
func FuzzRedactArgs(f *testing.F) {
	f.Add("'--wsrep_sst_auth=u:p' -p 'x'", "pw")
	f.Add(`"--password=a b" -vp'q'`, "s3cret")
	f.Fuzz(func(t *testing.T, s, secret string) {
		r := RedactArgs(s)
		if rr := RedactArgs(r); rr != r {
			t.Fatalf("not idempotent: %q -> %q -> %q", s, r, rr)
		}
		if secret == "" || strings.ContainsAny(secret, " \t\n'\"\\*") {
			return
		}
		line := s + " '--wsrep_sst_auth=u:" + secret + "'"
		if strings.Count(line, "'")%2 != 0 || strings.Count(line, `"`) != 0 || strings.Contains(line, `\`) {
			return
		}
		if r := RedactArgs(line); strings.HasSuffix(r, secret+"'") {
			t.Errorf("RedactArgs(%q) = %q keeps the secret", line, r)
		}
	})
}

func checkArgsInvariants(t *testing.T, a *Args) {
	t.Helper()
	if a.Port == "" {
		t.Fatalf("empty Port: %+v", a)
	}
	if a.Role != "donor" && a.Role != "joiner" {
		t.Fatalf("Role = %q", a.Role)
	}
	want := a.Host + ":" + a.Port
	if a.Path != "" {
		want += "/" + a.Path
	}
	if a.Address != want {
		t.Fatalf("Address = %q, want %q", a.Address, want)
	}
	if a.IPv6 && a.Host != "["+a.HostUnescaped+"]" {
		t.Fatalf("IPv6 host %q vs %q", a.Host, a.HostUnescaped)
	}
}

// FuzzShellWords checks the one splitter: no panic, spans inside s, and
// a round trip for NUL-separated words quoted the sh way: each word in
// single quotes, a quote inside it closed, escaped and reopened.
func FuzzShellWords(f *testing.F) {
	f.Add("--a='b c' \"--d=\\\"e\\\"\" f\\ g", "x\x00y z\x00it's")
	f.Add("'open", "")
	f.Fuzz(func(t *testing.T, s, list string) {
		ws, _ := shellWords(s)
		for _, w := range ws {
			if w.start < 0 || w.end > len(s) || w.start >= w.end {
				t.Fatalf("bad span %+v in %q", w, s)
			}
		}
		words := strings.Split(list, "\x00")
		var line []string
		for _, w := range words {
			line = append(line, "'"+strings.ReplaceAll(w, "'", `'\''`)+"'")
		}
		got, err := splitWords("test", strings.Join(line, " \t"))
		if err != nil || !slices.Equal(got, words) {
			t.Fatalf("splitWords(quoted %q) = %q, %v", words, got, err)
		}
	})
}

// parseFuzzed parses argv; a failure must wrap ErrInvalid or
// ErrPortConflict, and gives nil.
func parseFuzzed(t *testing.T, argv []string) *Args {
	t.Helper()
	a, err := ParseArgs(argv, mapGetenv(nil))
	if err != nil {
		if !errors.Is(err, ErrInvalid) && !errors.Is(err, ErrPortConflict) {
			t.Fatalf("error %v wraps no sentinel", err)
		}
		return nil
	}
	return a
}
