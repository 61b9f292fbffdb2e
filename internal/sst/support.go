package sst

import "fmt"

// checkSupported refuses, with a clear message and EINVAL, the options of
// the stock script this version does not implement yet, instead of
// silently ignoring them (README.md, "Not implemented yet").
func (s *session) checkSupported() error {
	c := s.cfg
	var missing []string
	if c.Encrypt != 0 {
		missing = append(missing, fmt.Sprintf("encrypt=%d", c.Encrypt))
	}
	if c.SSLMode != "DISABLED" {
		missing = append(missing, "ssl-mode="+c.SSLMode)
	}
	if c.Compressor != "" {
		missing = append(missing, "compressor")
	}
	if c.Decompressor != "" {
		missing = append(missing, "decompressor")
	}
	if c.Rlimit != "" {
		missing = append(missing, "rlimit")
	}
	if c.StreamFmt != "mbstream" && c.StreamFmt != "xbstream" {
		missing = append(missing, "streamfmt="+c.StreamFmt)
	}
	if len(missing) > 0 {
		return errorf(ExitInvalid, "[sst] options not supported by this version of %s: %v; remove them or use the stock script (see README.md, \"Not implemented yet\")", "wsrep_sst_"+c.Method, missing)
	}
	switch c.TransferFmt {
	case "socat", "nc", "":
		if c.TransferFmt != "" {
			s.log.Info(fmt.Sprintf("transferfmt=%s: replaced by the built-in TCP pipe", c.TransferFmt))
		}
	default:
		return errorf(ExitInvalid, "unknown transferfmt=%q: use socat or nc (both are replaced by the built-in pipe)", c.TransferFmt)
	}
	if c.Progress != "" && c.Progress != "none" {
		s.log.Warn(fmt.Sprintf("progress=%s: progress reporting is not implemented yet in this version; the transfer runs without it", c.Progress))
	}
	if c.Syslog == 1 {
		s.log.Warn("sst-syslog / [mysqld_safe] syslog: logging to syslog is not implemented; SST messages go to stderr (the error log) and mariadb-backup output to mariabackup.*.log in the datadir")
	}
	if c.Sockopt != "" {
		s.log.Warn(fmt.Sprintf("sockopt=%q is not applied by this version (the built-in pipe uses TCP keep-alive)", c.Sockopt))
	}
	return nil
}
