package sst

import (
	"fmt"
	"strings"
)

// checkSupported refuses, with a clear message and EINVAL, the options of
// the stock script this version does not implement, and logs those it
// accepts but replaces or ignores (README.md, "Not implemented yet").
func (s *session) checkSupported() error {
	c := s.cfg
	if c.StreamFmt != "mbstream" && c.StreamFmt != "xbstream" {
		return errorf(ExitInvalid, "streamfmt=%s is not supported by this version of %s: use mbstream (the default) or remove the option (see README.md, \"Not implemented yet\")", c.StreamFmt, "wsrep_sst_"+c.Method)
	}
	switch c.TransferFmt {
	case "socat", "nc", "":
		if c.TransferFmt != "" {
			s.log.Info(fmt.Sprintf("transferfmt=%s: replaced by the built-in TCP pipe", c.TransferFmt))
		}
	default:
		return errorf(ExitInvalid, "unknown transferfmt=%q: use socat or nc (both are replaced by the built-in pipe)", c.TransferFmt)
	}
	so, err := parseSockopt(c.Sockopt)
	if err != nil {
		return errorf(ExitInvalid, "[sst] %w", err)
	}
	if len(so.ignored) > 0 {
		s.log.Warn(fmt.Sprintf("sockopt: %s not applicable to the built-in pipe, ignored", strings.Join(so.ignored, ",")))
	}
	if s.args.IPv6 && so.network == "" {
		so.network = "tcp6" // get_transfer adds pf=ip6 for an IPv6 address
	}
	s.sock = so
	return nil
}
