package sst

import (
	"fmt"
	"strings"
	"wsrep_sst_mariabackup/internal/fail"
)

// checkSupported refuses, with a clear message and EINVAL, the options of
// the stock script this version does not implement, and logs those it
// accepts but replaces or ignores (README.md, "Not implemented yet").
func (s *session) checkSupported() error {
	c := s.cfg
	if c.StreamFmt != "mbstream" && c.StreamFmt != "xbstream" {
		return fail.Errorf(fail.Invalid, "streamfmt=%s is not supported by this version of %s: use mbstream (the default) or remove the option (see README.md, \"Not implemented yet\")", c.StreamFmt, "wsrep_sst_"+c.Method)
	}
	switch c.TransferFmt {
	case "socat", "nc", "":
		if c.TransferFmt != "" {
			s.log.Info(fmt.Sprintf("transferfmt=%s: replaced by the built-in TCP pipe", c.TransferFmt))
		}
	default:
		return fail.Errorf(fail.Invalid, "unknown transferfmt=%q: use socat or nc (both are replaced by the built-in pipe)", c.TransferFmt)
	}
	if len(c.Sock.Ignored) > 0 {
		s.log.Warn(fmt.Sprintf("sockopt: %s not applicable to the built-in pipe, ignored", strings.Join(c.Sock.Ignored, ",")))
	}
	s.sock = c.Sock
	return nil
}
