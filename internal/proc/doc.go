// Package proc runs child processes, the one way this program does.
//
// A child starts in its own process group, gets SIGKILL if this process
// dies (Pdeathsig, Linux only), and is stopped as a whole group: SIGTERM,
// then SIGKILL after a wait delay. Whatever is left of its group is
// SIGKILLed once the child has been waited for, so no grandchild outlives
// it holding a pipe. Waiting is bounded: os/exec gives up on copying the
// child's output the wait delay after it exits. A failure is an
// *ExitError carrying the exit status and the tail of the child's stderr.
// Reader presents a child's standard output as an io.ReadCloser whose
// Close stops the child if needed, waits for it and reports its status.
//
// Pdeathsig fires when the OS thread that forked the child exits, not
// when the process does (golang/go#27505). The rule here: a child is
// started and waited for by one goroutine locked to its thread with
// runtime.LockOSThread, which unlocks only after Wait has returned, so
// that thread lives at least as long as the child (moby/moby PR 44215
// does the same).
//
// The environment is explicit: Cmd.Env is the child's whole environment
// and nothing is inherited. The package knows nothing of Galera or MariaDB;
// which variables a child must not see is the caller's business.
package proc
