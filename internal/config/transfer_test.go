package config

import (
	"reflect"
	"testing"
	"time"
)

func TestParseSockopt(t *testing.T) {
	tests := []struct {
		in   string
		want SockOpts
	}{
		{"", SockOpts{}},
		{",pf=ip6", SockOpts{Network: "tcp6"}},
		{"pf=ip4,keepalive,nodelay", SockOpts{Network: "tcp4"}},
		{",sndbuf=1048576,rcvbuf=2097152", SockOpts{SendBuffer: 1 << 20, RecvBuffer: 2 << 20}},
		{",connect-timeout=5,retry=60,interval=0.5", SockOpts{ConnectTimeout: 5 * time.Second, Retry: 60, Interval: 500 * time.Millisecond}},
		{",cipher=AES256,dhparam=/x.pem", SockOpts{Ignored: []string{"cipher=AES256", "dhparam=/x.pem"}}},
	}
	for _, tt := range tests {
		got, err := parseSockopt(tt.in)
		if err != nil || !reflect.DeepEqual(got, tt.want) {
			t.Errorf("parseSockopt(%q) = %+v, %v; want %+v", tt.in, got, err, tt.want)
		}
	}
	for _, bad := range []string{"pf=ipx", "sndbuf=-1", "rcvbuf=big", "connect-timeout=soon", "retry", "interval=1e300"} {
		if _, err := parseSockopt(bad); err == nil {
			t.Errorf("parseSockopt(%q) accepted", bad)
		}
	}
}

func TestParseRate(t *testing.T) {
	for _, tt := range []struct {
		in   string
		want int64
	}{{"1", 1}, {"80M", 80 << 20}, {"1.5k", 1536}, {" 2G ", 2 << 30}, {"1t", 1 << 40}} {
		if got, err := parseRate(tt.in); err != nil || got != tt.want {
			t.Errorf("parseRate(%q) = %d, %v; want %d", tt.in, got, err, tt.want)
		}
	}
	for _, bad := range []string{"", "M", "0", "-1M", "1e3", "0x10", "inf", "NaN", "1_000", "80MB"} {
		if got, err := parseRate(bad); err == nil {
			t.Errorf("parseRate(%q) = %d, want an error", bad, got)
		}
	}
}

func TestDefaultCpat(t *testing.T) {
	re, err := emacsToGo(DefaultCpat)
	if err != nil {
		t.Fatal(err)
	}
	keep := []string{"/d/server-key.pem", "/d/galera.cache", "/d/sst_in_progress", "/d/.sst",
		"/d/gvwstate.dat", "/d/grastate.dat", "/d/host.err", "/d/mariabackup.prepare.log", "/d/RPM_UPGRADE_MARKER"}
	drop := []string{"/d/ibdata1", "/d/ib_logfile0", "/d/mysql", "/d/test", "/d/mysql-bin.000001", "/d/aria_log.00000001", "/d/grastate.dat.bak", "/d/wsrep_sst.pid"}
	for _, p := range keep {
		if !re.MatchString(p) {
			t.Errorf("default cpat drops %s, want kept", p)
		}
	}
	for _, p := range drop {
		if re.MatchString(p) {
			t.Errorf("default cpat keeps %s, want removed", p)
		}
	}
}

func TestEmacsToGo(t *testing.T) {
	tests := []struct {
		pat, path string
		want      bool
	}{
		{`.*\.pem$`, "/a/b.pem", true},
		{`.*a|b`, "/x/a|b", true}, // bare | is a literal in emacs syntax
		{`.*a|b`, "/x/a", false},
		{`.*\(foo\|bar\)$`, "/x/bar", true},
		{`.*[0-9]+$`, "/x/log.12", true},
		{`.*(x)$`, "/x/(x)", true},
	}
	for _, tt := range tests {
		re, err := emacsToGo(tt.pat)
		if err != nil {
			t.Fatalf("emacsToGo(%q): %v", tt.pat, err)
		}
		if got := re.MatchString(tt.path); got != tt.want {
			t.Errorf("%q matches %q = %v, want %v (go: %s)", tt.pat, tt.path, got, tt.want, re)
		}
	}
	if _, err := emacsToGo(`.*[abc`); err == nil {
		t.Error("unterminated bracket accepted")
	}
}
