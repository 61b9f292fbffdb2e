package config

import (
	"fmt"
	"math"
	"strconv"
	"strings"
	"time"
)

// SockOpts are the socat address options of [sst] sockopt that map onto
// the built-in pipe, parsed by Load.
type SockOpts struct {
	// Network is "tcp4" (pf=ip4), "tcp6" (pf=ip6, or an IPv6 address in
	// --address, for which get_transfer adds pf=ip6) or "" (either).
	Network string
	// SendBuffer and RecvBuffer are sndbuf and rcvbuf in bytes, 0 for
	// the system default.
	SendBuffer, RecvBuffer int
	// ConnectTimeout is connect-timeout, 0 for none.
	ConnectTimeout time.Duration
	// Retry and Interval are socat's retry count and the wait between
	// tries (0 for socat's default of one second).
	Retry    int
	Interval time.Duration
	// Ignored lists the options accepted but without effect here; the
	// caller warns about them.
	Ignored []string
}

// parseSockopt reads socat's ",opt[=value],..." syntax. Options that Go
// already does (keepalive, nodelay, reuseaddr) are accepted; options with
// no equivalent are collected in Ignored; malformed values are errors.
func parseSockopt(s string) (SockOpts, error) {
	var o SockOpts
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
			if err != nil || v < 0 || v > 1e6 || !hasVal {
				return 0, fmt.Errorf("sockopt %s=%q: want seconds", name, val)
			}
			return time.Duration(v * float64(time.Second)), nil
		}
		var err error
		switch name {
		case "pf", "protocol-family":
			switch strings.ToLower(val) {
			case "ip4", "ipv4", "inet", "2":
				o.Network = "tcp4"
			case "ip6", "ipv6", "inet6", "10":
				o.Network = "tcp6"
			default:
				return o, fmt.Errorf("sockopt pf=%q: want ip4 or ip6", val)
			}
		case "sndbuf", "so-sndbuf":
			o.SendBuffer, err = num()
		case "rcvbuf", "so-rcvbuf":
			o.RecvBuffer, err = num()
		case "connect-timeout":
			o.ConnectTimeout, err = seconds()
		case "retry":
			o.Retry, err = num()
		case "interval":
			o.Interval, err = seconds()
		case "keepalive", "so-keepalive", "nodelay", "tcp-nodelay", "reuseaddr", "so-reuseaddr":
			// Always on in the built-in pipe.
		default:
			o.Ignored = append(o.Ignored, f)
		}
		if err != nil {
			return o, err
		}
	}
	return o, nil
}

// parseRate parses [sst] rlimit in pv's -L syntax, as the script passes it
// to pv: a positive number of bytes per second with an optional suffix K,
// M, G or T (binary multiples of 1024, case-insensitive), e.g. "80M".
// Fractions such as "1.5M" are accepted (pv rounds too).
func parseRate(s string) (int64, error) {
	t := strings.TrimSpace(s)
	mult := int64(1)
	if t != "" {
		switch t[len(t)-1] {
		case 'k', 'K':
			mult = 1 << 10
		case 'm', 'M':
			mult = 1 << 20
		case 'g', 'G':
			mult = 1 << 30
		case 't', 'T':
			mult = 1 << 40
		}
		if mult > 1 {
			t = t[:len(t)-1]
		}
	}
	v, err := strconv.ParseFloat(t, 64)
	if err != nil || t == "" || strings.ContainsAny(t, "eExXpPnNiI_") {
		return 0, fmt.Errorf("want a number of bytes per second with an optional K, M, G or T suffix")
	}
	r := v * float64(mult)
	if r < 1 || r >= math.MaxInt64 {
		return 0, fmt.Errorf("must be at least 1 byte per second")
	}
	return int64(r), nil
}

// transfer resolves the options of the stream between the nodes for this
// role: sockopt, rlimit (donor), the compressor (donor) or decompressor
// (joiner), and cpat (joiner), each parsed once.
func (r *resolver) transfer() error {
	c := r.c
	role := c.Args.Role
	var err error
	if c.Sock, err = parseSockopt(c.Sockopt); err != nil {
		return fmt.Errorf("[sst] %w (from %s): %w", err, c.Sources["sockopt"], ErrInvalid)
	}
	if c.Args.IPv6 && c.Sock.Network == "" {
		c.Sock.Network = "tcp6" // get_transfer adds pf=ip6 for an IPv6 address
	}
	if c.Rlimit != "" && role == "donor" {
		if c.RateLimit, err = parseRate(c.Rlimit); err != nil {
			return fmt.Errorf("rlimit=%q (from %s): %w: %w", c.Rlimit, c.Sources["rlimit"], err, ErrInvalid)
		}
	}
	// The script runs the compressor on the donor and the decompressor
	// on the joiner (get_transfer); get trims, so blank means none.
	switch role {
	case "donor":
		c.Codec = c.Compressor
	case "joiner":
		c.Codec = c.Decompressor
	}
	if role == "joiner" {
		if c.CpatRegexp, err = emacsToGo(c.Cpat); err != nil {
			return fmt.Errorf("%w (from %s): %w", err, c.Sources["cpat"], ErrInvalid)
		}
	}
	return nil
}
