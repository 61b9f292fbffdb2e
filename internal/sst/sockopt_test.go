package sst

import (
	"reflect"
	"testing"
	"time"
)

func TestParseSockopt(t *testing.T) {
	tests := []struct {
		in   string
		want sockOpts
	}{
		{"", sockOpts{}},
		{",pf=ip6", sockOpts{network: "tcp6"}},
		{"pf=ip4,keepalive,nodelay", sockOpts{network: "tcp4"}},
		{",sndbuf=1048576,rcvbuf=2097152", sockOpts{sndbuf: 1 << 20, rcvbuf: 2 << 20}},
		{",connect-timeout=5,retry=60,interval=0.5", sockOpts{connectTimeout: 5 * time.Second, retry: 60, interval: 500 * time.Millisecond}},
		{",cipher=AES256,dhparam=/x.pem", sockOpts{ignored: []string{"cipher=AES256", "dhparam=/x.pem"}}},
	}
	for _, tt := range tests {
		got, err := parseSockopt(tt.in)
		if err != nil || !reflect.DeepEqual(got, tt.want) {
			t.Errorf("parseSockopt(%q) = %+v, %v; want %+v", tt.in, got, err, tt.want)
		}
	}
	for _, bad := range []string{"pf=ipx", "sndbuf=-1", "rcvbuf=big", "connect-timeout=soon", "retry"} {
		if _, err := parseSockopt(bad); err == nil {
			t.Errorf("parseSockopt(%q) accepted", bad)
		}
	}
	if got := (sockOpts{retry: 100, interval: time.Second}).dialBudgetFor(); got != 100*time.Second {
		t.Errorf("dial budget with retry=100 = %v, want 100s", got)
	}
	if got := (sockOpts{retry: 2}).dialBudgetFor(); got != dialBudget {
		t.Errorf("dial budget with retry=2 = %v, want the default %v", got, dialBudget)
	}
}
