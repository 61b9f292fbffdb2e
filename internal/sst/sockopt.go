package sst

import (
	"time"

	"wsrep_sst_mariabackup/internal/config"
)

// dialBudgetFor is the donor's connect budget: dialBudget, or socat's
// retry × interval when [sst] sockopt asks for longer.
func dialBudgetFor(o config.SockOpts) time.Duration {
	if o.Retry > 0 {
		iv := o.Interval
		if iv <= 0 {
			iv = time.Second // socat's default interval
		}
		if b := time.Duration(o.Retry) * iv; b > dialBudget {
			return b
		}
	}
	return dialBudget
}

// dialTimeout is the donor's connect budget for this run.
func (s *session) dialTimeout() time.Duration {
	if s.dialBudget > 0 {
		return s.dialBudget
	}
	return dialBudgetFor(s.sock)
}
