package swap

import (
	"context"
	"errors"
	"fmt"
	"os"
)

// Outcome says what Recover did.
type Outcome int

const (
	// Nothing means there was no journal: no swap was interrupted.
	Nothing Outcome = iota
	// Undone means the swap was interrupted before the new data was
	// complete: the old entries are back and the new ones removed.
	Undone
	// Finished means the swap was interrupted after the new data was
	// complete and synced: the old entries are deleted.
	Finished
)

func (o Outcome) String() string {
	switch o {
	case Nothing:
		return "nothing"
	case Undone:
		return "undone"
	case Finished:
		return "finished"
	}
	return fmt.Sprintf("Outcome(%d)", int(o))
}

// Recover reads the journal a crashed swap left at path and finishes or
// undoes that swap: state "committed" is finished (the aside directories
// are deleted), anything earlier is undone as Rollback does. It then
// removes the journal; a leftover <path>.tmp is removed too. With no
// journal it returns Nothing and changes nothing else. logf, if not nil,
// gets one line saying what was found and one saying what was done.
//
// Each step is safe to repeat, so a crash during Recover is handled by the
// next Recover. An error leaves the journal in place; ErrJournal means the
// journal is unreadable and nothing was touched. ctx is checked before any
// change; once started, Recover runs to the end.
func Recover(ctx context.Context, path string, logf func(string)) (Outcome, error) {
	if logf == nil {
		logf = func(string) {}
	}
	path, err := resolveParent(path)
	if err != nil {
		return Nothing, err
	}
	// A crash while a journal version was being written leaves its temp
	// file; the journal itself, if any, is the previous complete version.
	if err := os.Remove(path + ".tmp"); err != nil && !errors.Is(err, os.ErrNotExist) {
		return Nothing, fmt.Errorf("swap: remove %s.tmp: %w", path, err)
	}
	j, err := readJournal(path)
	if err != nil || j == nil {
		return Nothing, err
	}
	if err := ctx.Err(); err != nil {
		return Nothing, fmt.Errorf("swap: %w", context.Cause(ctx))
	}
	s := &Swap{j: j, rename: os.Rename}
	switch j.State {
	case stateAside:
		logf(fmt.Sprintf("Found swap journal %s: interrupted while moving %d old entries aside; undoing", path, len(j.Moves)))
		err = s.undo(false)
	case stateReady:
		logf(fmt.Sprintf("Found swap journal %s: interrupted while the new data was being moved in; undoing", path))
		err = s.undo(true)
	case stateCommitted:
		logf(fmt.Sprintf("Found swap journal %s: interrupted while deleting the old entries after the new data was in place; finishing", path))
		if err = s.finish(); err == nil {
			logf("Swap finished: the new data is in place and the old entries are deleted")
			return Finished, nil
		}
		return Nothing, err
	}
	if err != nil {
		return Nothing, err
	}
	logf("Swap undone: the old entries are back in place")
	return Undone, nil
}
