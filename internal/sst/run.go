package sst

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"math"
	"path/filepath"
	"runtime/debug"
	"strings"
	"sync"
	"time"

	"wsrep_sst_mariabackup/internal/config"
	"wsrep_sst_mariabackup/internal/fail"
	"wsrep_sst_mariabackup/internal/status"
)

// Secrets is where Run registers secrets it makes or reads at run time
// (the joiner's VERIFY_* secret, the encrypt=1 key), so the logger can
// scrub them. *logx.Handler implements it.
type Secrets interface {
	AddSecret(s string)
}

// Params are the inputs of Run.
type Params struct {
	Config *config.Config
	// Stdout is the protocol channel to mysqld; only protocol lines are
	// written to it.
	Stdout io.Writer
	// Log receives every log line (stderr in production).
	Log *slog.Logger
	// Redact learns secrets read at run time; may be nil.
	Redact Secrets
	// Env is the environment for child processes; nil means os.Environ().
	Env []string
	// ParentPoll is how often the --parent pid is checked; 0 means 100ms.
	ParentPoll time.Duration
	// DialBudget replaces the donor's 30 s connect budget when positive
	// (tests).
	DialBudget time.Duration
	// Events, when set, receive as values what Run tells mysqld on
	// Stdout; Stdout still gets every line.
	Events Events
}

// Events are what Run tells mysqld on stdout, as typed values, for a
// caller that runs it in-process (the operator commands) and must not
// parse its stdout back. Every field may be nil. Run calls them after the
// line has been written to Stdout, one at a time, from its own
// goroutines: they must return quickly.
type Events struct {
	// Ready is the joiner's address as its "ready" line gives it to the
	// donor, without "ready ": "[cn:secret@]host:port/module/token/1".
	Ready func(addr string)
	// Total is the size of the data stage in bytes, as the donor
	// estimates it (only with --progress 1, the "total" line).
	Total func(bytes int64)
	// Progress is the bytes of the data stage moved so far, about once a
	// second (only with --progress 1, the "complete" lines).
	Progress func(done int64)
	// Position is the Galera position of the final line: the joiner's
	// coordinates of the received data ("uuid:seqno[ domain]"), the
	// donor's --gtid on its "done" line.
	Position func(pos string)
}

// MemoryLimit is the Go heap limit the program sets for itself
// (runtime/debug.SetMemoryLimit, unless GOMEMLIMIT says otherwise): a soft
// bound that makes the collector return memory instead of letting the
// heap double, so that an SST program stays within 64 MiB of RSS per side
// with 4 zstd streams. A v2 manifest larger than a few MiB (more than a
// TiB of reference data) raises it by twice its size (raiseMemoryLimit).
const MemoryLimit = 48 << 20

// raiseMemoryLimit adds room for n bytes of long-lived data to a memory
// limit set by MemoryLimit; without a limit it does nothing.
func raiseMemoryLimit(n int64) {
	if cur := debug.SetMemoryLimit(-1); cur != math.MaxInt64 && n > 0 {
		debug.SetMemoryLimit(max(cur, MemoryLimit+2*n))
	}
}

// Run performs one SST or IST in the role the configuration names. It
// returns nil only after the final protocol line has been printed; any
// error carries its class (package fail), which cmd maps to the exit code.
func Run(ctx context.Context, p Params) (err error) {
	if p.Redact == nil {
		p.Redact = nopSecrets{}
	}
	a := p.Config.Args
	ctx, cancel := context.WithCancelCause(ctx)
	defer cancel(nil)
	if a.Parent > 0 {
		stop := watchParent(ctx, a.Parent, p.ParentPoll, cancel)
		defer stop()
	}
	defer func() {
		// A cancelled context turns into context.Canceled deep down;
		// report the reason it was cancelled instead.
		if err != nil && ctx.Err() != nil {
			if cause := context.Cause(ctx); cause != nil && !errors.Is(err, cause) {
				err = fmt.Errorf("%w (%w)", cause, err)
			}
		}
	}()
	s := &session{
		cfg:        p.Config,
		args:       a,
		log:        p.Log,
		redact:     p.Redact,
		env:        p.Env,
		dialBudget: p.DialBudget,
		proto:      &protocol{w: p.Stdout, events: p.Events},
	}
	switch a.Role {
	case "joiner", "donor":
	default:
		return fail.Errorf(fail.Invalid, "unrecognized role: '%s'", a.Role)
	}
	sf := status.Fields{Role: a.Role, Log: s.log}
	if r, ok := p.Redact.(redactor); ok {
		// The status file is scrubbed as the log is: an error may quote
		// a child's stderr, which may quote a secret.
		sf.Redact = r.Redact
	}
	s.status = status.Start(ctx, s.cfg.StatusFile, sf)
	defer func() {
		if err != nil {
			s.status.Fail(err)
		} else {
			s.status.Done()
		}
	}()
	if a.Role == "joiner" {
		return s.joiner(ctx)
	}
	return s.donor(ctx)
}

// prologue is what both roles do first: the datadir argument is required,
// unsupported options are refused, and the datadir is made absolute.
func (s *session) prologue() (datadir string, err error) {
	if s.args.Datadir == "" {
		return "", fail.Errorf(fail.Missing, "the '--datadir' parameter must be passed to the SST program")
	}
	if err := s.checkSupported(); err != nil {
		return "", err
	}
	datadir, err = filepath.Abs(s.args.Datadir)
	if err != nil {
		return "", fail.Errorf(fail.Missing, "datadir: %w", err)
	}
	return datadir, nil
}

// redactor is a Secrets that also scrubs text, as *logx.Handler does.
type redactor interface {
	Redact(s string) string
}

var _ redactor = (*LogHandler)(nil) // what main passes as Params.Redact

type nopSecrets struct{}

func (nopSecrets) AddSecret(string) {}

// session is the state of one run shared by the joiner and donor code.
type session struct {
	cfg    *config.Config
	args   *config.Args
	log    *slog.Logger
	redact Secrets
	env    []string // base environment of children (nil: ours)
	proto  *protocol
	// tr is the transport, set up once the configuration is checked.
	tr *transport
	// sock holds the [sst] sockopt options that apply to the pipe.
	sock config.SockOpts
	// dialBudget, when positive, replaces dialBudgetFor's result.
	dialBudget time.Duration
	// status is the [sst] status-file writer (nil: none; its methods do
	// nothing then).
	status *status.Writer
	// total is the donor's size estimate (the "total" of the gtid stage).
	total int64
	// ref is the joiner's reference data for a v2 transfer, nil when the
	// joiner does not offer one.
	ref *reference
	// resumeAtStream: the interrupted attempt's data does not fit beside
	// the new data, but a delta in place builds on it (inplace.go); the
	// data stage removes it if the donor cannot do one.
	resumeAtStream bool
	// reflinkKeep: the previous data is kept because its blocks are
	// shared (reflinkFits); running out of space then marks reflinkShort.
	reflinkKeep bool
	// donorHost is the address the joiner admitted the gtid stage from;
	// data connections must come from it (gate.go).
	donorHost string
	// refused logs the connections the joiner's gate turned away.
	refused *refusals
	// handover holds connections accepted while the gtid stage was read,
	// not read yet: the first data connection may be among them.
	handover []*pendingConn
	// stageDir is the checked --sst-temp-dir, the staging directory's
	// parent; "" means the datadir (tempdir.go).
	stageDir string
}

// protocol writes the lines mysqld reads on our stdout (SPEC §A.5, §A.6).
// It is the only writer of stdout, and the only caller of Events.
type protocol struct {
	mu     sync.Mutex
	w      io.Writer
	events Events
}

func (p *protocol) line(format string, args ...any) error {
	p.mu.Lock()
	defer p.mu.Unlock()
	if _, err := fmt.Fprintf(p.w, format+"\n", args...); err != nil {
		// mysqld reads the other end; if it is gone, so is the SST.
		return fail.Errorf(fail.Transfer, "write to mysqld (stdout): %w", err)
	}
	p.notify(format, args)
	return nil
}

// notify hands a line just written to the caller's Events, by the
// line's verb (the first word of its format) and its typed arguments:
// "ready ...", "total %d", "complete %d", "done %s", and "%s" for the
// joiner's final coordinates; "continue" has no event.
func (p *protocol) notify(format string, args []any) {
	e := p.events
	verb, _, _ := strings.Cut(format, " ")
	switch {
	case verb == "ready" && e.Ready != nil:
		e.Ready(strings.TrimPrefix(fmt.Sprintf(format, args...), "ready "))
	case verb == "total" && e.Total != nil:
		if n, ok := int64Arg(args); ok {
			e.Total(n)
		}
	case verb == "complete" && e.Progress != nil:
		if n, ok := int64Arg(args); ok {
			e.Progress(n)
		}
	case (verb == "done" || verb == "%s") && e.Position != nil:
		e.Position(fmt.Sprint(args...))
	}
}

// int64Arg is a protocol line's one integer argument.
func int64Arg(args []any) (int64, bool) {
	if len(args) != 1 {
		return 0, false
	}
	switch n := args[0].(type) {
	case int64:
		return n, true
	case int:
		return int64(n), true
	}
	return 0, false
}
