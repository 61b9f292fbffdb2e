package galeratest

import (
	"regexp"
	"strings"
	"time"
)

var (
	localStateRE     = regexp.MustCompile(`(?m)^\s*Local state: (\S+)`)
	installedStateRE = regexp.MustCompile(`WSREP: Installed new state from SST: (\S+)`)
)

// StateTransfer tells from a joiner's error log of one run (see
// Node.LogSinceStart) how it caught up with the cluster: "SST", "IST", or
// "" if the log shows no state transfer.
//
// It relies on Galera's and mysqld's own lines, not on the SST program's,
// so it works for any program: mysqld runs the SST program in both cases
// (for an IST the donor runs it with --bypass), then logs "Installed new
// state from SST: uuid:seqno". If that position equals the joiner's own
// position before the transfer ("Local state: uuid:seqno" under "state
// transfer needed: yes"), the program delivered no snapshot and everything
// came by IST ("Receiving IST: N writesets"); otherwise a snapshot was
// installed.
func StateTransfer(log string) string {
	local := localStateRE.FindStringSubmatch(log)
	installed := installedStateRE.FindStringSubmatch(log)
	if local == nil || installed == nil {
		return ""
	}
	if local[1] == installed[1] {
		return "IST"
	}
	return "SST"
}

// sstStampRE matches the timestamp the stock script (wsrep_log in
// wsrep_sst_common) and our program put at the end of every line:
// "WSREP_SST: [INFO] message (20240101 12:00:00.123)".
var sstStampRE = regexp.MustCompile(`^WSREP_SST: .*\((\d{8} \d{2}:\d{2}:\d{2}\.\d{3})\)$`)

// sstStampLayout is that timestamp's layout, in local time.
const sstStampLayout = "20060102 15:04:05.000"

// LastSSTStamp returns the time stamped on the last WSREP_SST line of log
// that holds mark, and whether there is one.
func LastSSTStamp(log, mark string) (time.Time, bool) {
	lines := strings.Split(log, "\n")
	for i := len(lines) - 1; i >= 0; i-- {
		l := strings.TrimSpace(lines[i])
		if !strings.Contains(l, mark) {
			continue
		}
		if m := sstStampRE.FindStringSubmatch(l); m != nil {
			if ts, err := time.ParseInLocation(sstStampLayout, m[1], time.Local); err == nil {
				return ts, true
			}
		}
	}
	return time.Time{}, false
}

// SSTDuration returns the time between the first and the last WSREP_SST
// line in log, i.e. roughly how long the SST program ran, and whether at
// least two such lines were found.
func SSTDuration(log string) (time.Duration, bool) {
	var first, last time.Time
	n := 0
	for _, l := range strings.Split(log, "\n") {
		m := sstStampRE.FindStringSubmatch(strings.TrimSpace(l))
		if m == nil {
			continue
		}
		ts, err := time.ParseInLocation(sstStampLayout, m[1], time.Local)
		if err != nil {
			continue
		}
		if n == 0 {
			first = ts
		}
		last = ts
		n++
	}
	if n < 2 {
		return 0, false
	}
	return last.Sub(first), true
}
