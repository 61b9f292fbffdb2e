package swap

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"syscall"
	"testing"
)

// The crash tests run a swap in a child process (this test binary,
// re-executed by TestMain) that SIGKILLs itself at one step, then Recover
// in the parent, and check that the tree is exactly the old one or exactly
// the new one.

const (
	childBase = "SWAP_TEST_CHILD_BASE" // env layout root; set: run as the child
	childFlow = "SWAP_TEST_CHILD_FLOW" // "commit" or "rollback"
	childKill = "SWAP_TEST_CHILD_KILL" // "<step>:<n>": kill at the n-th call of step
)

// stepMoveIn is the child's own step after each entry the simulated
// move-back renamed into place.
const stepMoveIn = "move-in"

func TestMain(m *testing.M) {
	if dir := os.Getenv(checkChildDir); dir != "" {
		if err := checkChild(dir); err != nil {
			fmt.Fprintln(os.Stderr, "check child:", err)
			os.Exit(1)
		}
		os.Exit(0)
	}
	if base := os.Getenv(childBase); base != "" {
		if err := child(base, os.Getenv(childFlow), os.Getenv(childKill)); err != nil {
			fmt.Fprintln(os.Stderr, "child:", err)
			os.Exit(1)
		}
		os.Exit(0)
	}
	os.Exit(m.Run())
}

// child runs one flow on the tree at base. With kill set it SIGKILLs
// itself at that step.
func child(base, flow, kill string) error {
	killStep, n, _ := strings.Cut(kill, ":")
	killN, _ := strconv.Atoi(n)
	counts := map[string]int{}
	hook := func(step string) {
		counts[step]++
		if step == killStep && counts[step] == killN {
			_ = syscall.Kill(os.Getpid(), syscall.SIGKILL)
			select {} // the signal is on its way
		}
	}
	return runFlow(context.Background(), newEnv(base), flow, hook)
}

// runFlow is the joiner's sequence: Begin, move-back, then Commit
// ("commit") or, after a partial move-back, Rollback ("rollback").
func runFlow(ctx context.Context, e env, flow string, hook func(string)) error {
	p := e.plan()
	p.Hook = hook
	sw, err := Begin(ctx, p)
	if err != nil {
		return err
	}
	n := -1
	if flow == "rollback" {
		n = 3
	}
	if err := e.moveInSteps(n, func() { hook(stepMoveIn) }); err != nil {
		return err
	}
	if flow == "rollback" {
		return sw.Rollback()
	}
	return sw.Commit(ctx)
}

type event struct {
	step string
	n    int
}

// events lists the steps a flow goes through, by running it in-process.
func events(t *testing.T, flow string) []event {
	t.Helper()
	var evs []event
	counts := map[string]int{}
	err := runFlow(t.Context(), setup(t, t.TempDir()), flow, func(step string) {
		counts[step]++
		evs = append(evs, event{step, counts[step]})
	})
	if err != nil {
		t.Fatal(err)
	}
	return evs
}

func TestCrashAtEveryStep(t *testing.T) {
	if testing.Short() {
		t.Skip("starts one process per step")
	}
	old, new := wantOld(t), wantNew(t)
	for _, flow := range []string{"commit", "rollback"} {
		evs := events(t, flow)
		committed := false
		seen := map[string]bool{}
		for _, ev := range evs {
			seen[ev.step] = true
			if ev.step == StepCommitted {
				committed = true
			}
			want, wantOut, wantName := old, Undone, "old"
			if committed {
				want, wantOut, wantName = new, Finished, "new"
			}
			t.Run(fmt.Sprintf("%s/%s-%d", flow, ev.step, ev.n), func(t *testing.T) {
				t.Parallel()
				e := setup(t, t.TempDir())
				cmd := exec.Command(os.Args[0], "-test.run=^$")
				cmd.Env = append(os.Environ(), childBase+"="+e.base, childFlow+"="+flow, fmt.Sprintf("%s=%s:%d", childKill, ev.step, ev.n))
				out, err := cmd.CombinedOutput()
				var ee *exec.ExitError
				if !errors.As(err, &ee) || ee.Sys().(syscall.WaitStatus).Signal() != syscall.SIGKILL {
					t.Fatalf("child: %v, want SIGKILL; output:\n%s", err, out)
				}
				var logged []string
				got, err := Recover(t.Context(), e.journal, func(s string) { logged = append(logged, s) })
				if err != nil || got != wantOut {
					t.Fatalf("Recover = %v, %v; want %v", got, err, wantOut)
				}
				if len(logged) != 2 {
					t.Errorf("Recover logged %q, want what it found and what it did", logged)
				}
				e.sameTree(t, want, "after Recover differs from the "+wantName+" one")
				if got, err := Recover(t.Context(), e.journal, nil); err != nil || got != Nothing {
					t.Errorf("second Recover = %v, %v; want nothing", got, err)
				}
			})
		}
		// The flows must reach every step, or the table above misses some.
		for _, s := range map[string][]string{
			"commit":   {StepJournal, StepAside, StepReady, stepMoveIn, StepSynced, StepCommitted, StepDeleted},
			"rollback": {StepJournal, StepAside, StepReady, stepMoveIn, StepRestore, StepRestored},
		}[flow] {
			if !seen[s] {
				t.Errorf("%s flow never reached step %s", flow, s)
			}
		}
	}
}

func TestChildWithoutKill(t *testing.T) {
	// The same child, not killed, ends with the stock result and no journal.
	e := setup(t, t.TempDir())
	cmd := exec.Command(os.Args[0], "-test.run=^$")
	cmd.Env = append(os.Environ(), childBase+"="+e.base, childFlow+"=commit")
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("child: %v\n%s", err, out)
	}
	if got, err := Recover(t.Context(), e.journal, nil); err != nil || got != Nothing {
		t.Errorf("Recover = %v, %v; want nothing", got, err)
	}
	if d := diff(snapshot(t, e), wantNew(t)); d != "" {
		t.Errorf("tree differs from the stock result:\n%s", d)
	}
}
