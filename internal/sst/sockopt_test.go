package sst

import (
	"testing"
	"time"

	"wsrep_sst_mariabackup/internal/config"
)

func TestDialBudgetFor(t *testing.T) {
	if got := dialBudgetFor(config.SockOpts{Retry: 100, Interval: time.Second}); got != 100*time.Second {
		t.Errorf("dial budget with retry=100 = %v, want 100s", got)
	}
	if got := dialBudgetFor(config.SockOpts{Retry: 2}); got != dialBudget {
		t.Errorf("dial budget with retry=2 = %v, want the default %v", got, dialBudget)
	}
}
