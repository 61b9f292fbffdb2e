package sst

import (
	"fmt"
	"strconv"
	"strings"
	"time"
)

// sockOpts are the socat address options of [sst] sockopt that map onto
// the built-in pipe.
type sockOpts struct {
	network        string // "tcp4" (pf=ip4), "tcp6" (pf=ip6) or ""
	sndbuf, rcvbuf int
	connectTimeout time.Duration
	retry          int
	interval       time.Duration
	ignored        []string // options accepted but without effect here
}

// parseSockopt reads socat's ",opt[=value],..." syntax. Options that Go
// already does (keepalive, nodelay, reuseaddr) are accepted; options with
// no equivalent are collected in ignored so the caller can warn about
// them; malformed values are errors.
func parseSockopt(s string) (sockOpts, error) {
	var o sockOpts
	for _, f := range strings.Split(s, ",") {
		f = strings.TrimSpace(f)
		if f == "" {
			continue
		}
		name, val, hasVal := strings.Cut(f, "=")
		name = strings.ToLower(strings.TrimSpace(name))
		val = strings.Trim(strings.TrimSpace(val), `'"`)
		num := func() (int, error) {
			n, err := strconv.Atoi(val)
			if err != nil || n < 0 || !hasVal {
				return 0, fmt.Errorf("sockopt %s=%q: want a non-negative integer", name, val)
			}
			return n, nil
		}
		seconds := func() (time.Duration, error) {
			v, err := strconv.ParseFloat(val, 64)
			if err != nil || v < 0 || !hasVal {
				return 0, fmt.Errorf("sockopt %s=%q: want seconds", name, val)
			}
			return time.Duration(v * float64(time.Second)), nil
		}
		var err error
		switch name {
		case "pf", "protocol-family":
			switch strings.ToLower(val) {
			case "ip4", "ipv4", "inet", "2":
				o.network = "tcp4"
			case "ip6", "ipv6", "inet6", "10":
				o.network = "tcp6"
			default:
				return o, fmt.Errorf("sockopt pf=%q: want ip4 or ip6", val)
			}
		case "sndbuf", "so-sndbuf":
			o.sndbuf, err = num()
		case "rcvbuf", "so-rcvbuf":
			o.rcvbuf, err = num()
		case "connect-timeout":
			o.connectTimeout, err = seconds()
		case "retry":
			o.retry, err = num()
		case "interval":
			o.interval, err = seconds()
		case "keepalive", "so-keepalive", "nodelay", "tcp-nodelay", "reuseaddr", "so-reuseaddr":
			// Always on in the built-in pipe.
		default:
			o.ignored = append(o.ignored, f)
		}
		if err != nil {
			return o, err
		}
	}
	return o, nil
}

// dialBudgetFor is the donor's connect budget: dialBudget, or socat's
// retry × interval when sockopt asks for longer.
func (o sockOpts) dialBudgetFor() time.Duration {
	if o.retry > 0 {
		iv := o.interval
		if iv <= 0 {
			iv = time.Second // socat's default interval
		}
		if b := time.Duration(o.retry) * iv; b > dialBudget {
			return b
		}
	}
	return dialBudget
}
