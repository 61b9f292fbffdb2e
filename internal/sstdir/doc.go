// Package sstdir names the files and directories an SST keeps in the
// datadir while it runs: the pid file of wait_previous_sst, the
// in-progress marker, the staging directory and the swap's journal. The
// SST flows (internal/sst) write them; the check (internal/preflight)
// looks for them. It holds names only, no code: what each file contains
// stays with the package that writes it.
package sstdir

// Names in the datadir.
const (
	// PidFile is the pid file of the script's wait_previous_sst, held
	// with a flock while an SST runs (sst/lock.go).
	PidFile = "wsrep_sst.pid"
	// InProgress marks a datadir an SST is changing (sst/datadir.go).
	InProgress = "sst_in_progress"
	// Staging is the directory the joiner receives and prepares in,
	// in the datadir unless --sst-temp-dir names another parent.
	Staging = ".sst"
	// SwapJournal is the keep-the-datadir journal (sst/keep.go,
	// internal/swap/journal.go).
	SwapJournal = "sst_swap.journal"
)
