package swap

import (
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"strings"
)

// The journal is one small JSON document:
//
//	{
//	  "format": "wsrep_sst_mariabackup swap journal",
//	  "version": 1,
//	  "state": "aside" | "ready" | "committed",
//	  "keep": "<Plan.Keep as a Go regexp, \"\" for none>",
//	  "skip": ["<path>", ...],
//	  "dirs": ["<dir>", ...],
//	  "asides": ["<dir>/.sst-old", ...],
//	  "moves": [{"src": "<dir>/<name>", "dst": "<dir>/.sst-old/<name>"}, ...]
//	}
//
// It is written before anything is moved and rewritten at each change of
// state, always as <journal>.tmp, fsync, rename over <journal>, fsync of
// the directory: the file at the journal's path is complete or absent, and
// a crash while writing it leaves the previous version plus a temp file
// that Recover removes. Moves are listed deepest source first, the order
// Begin renames them in; undoing walks them backwards.
const (
	journalFormat  = "wsrep_sst_mariabackup swap journal"
	journalVersion = 1
)

// Journal states. The state names the step a crash interrupted.
const (
	stateAside     = "aside"     // moving old entries aside: undo
	stateReady     = "ready"     // old entries aside, new ones being moved in: undo
	stateCommitted = "committed" // new entries in place and synced, deleting old: finish
)

// ErrJournal means the journal file exists but cannot be used: it is not
// a swap journal, has an unknown version or state, or is inconsistent.
// Nothing was changed; an operator must look at it.
var ErrJournal = errors.New("swap: unusable journal")

type move struct {
	Src string `json:"src"`
	Dst string `json:"dst"`
}

type journal struct {
	Format  string   `json:"format"`
	Version int      `json:"version"`
	State   string   `json:"state"`
	Keep    string   `json:"keep"`
	Skip    []string `json:"skip"`
	Dirs    []string `json:"dirs"`
	Asides  []string `json:"asides"`
	Moves   []move   `json:"moves"`

	path string         // where the journal lives
	keep *regexp.Regexp // compiled Keep, nil for none
	skip map[string]bool
	// skipPats are the Skip entries whose last element is a pattern.
	skipPats []string
	extra    []string // Plan.Extra, absolute, existing (Begin only)
}

// write stores j at its path durably (temp file, fsync, rename, fsync dir).
func (j *journal) write() error {
	b, err := j.encode()
	if err != nil {
		return err
	}
	tmp := j.path + ".tmp"
	f, err := os.OpenFile(tmp, os.O_WRONLY|os.O_CREATE|os.O_TRUNC, 0o600)
	if err != nil {
		return fmt.Errorf("write journal: %w", err)
	}
	_, err = f.Write(b)
	if err == nil {
		err = f.Sync()
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = os.Rename(tmp, j.path)
	}
	if err != nil {
		_ = os.Remove(tmp)
		return fmt.Errorf("write journal %s: %w", j.path, err)
	}
	if err := syncDir(filepath.Dir(j.path)); err != nil {
		return fmt.Errorf("write journal %s: %w", j.path, err)
	}
	return nil
}

func (j *journal) encode() ([]byte, error) {
	b, err := json.MarshalIndent(j, "", "  ")
	if err != nil {
		return nil, fmt.Errorf("encode journal: %w", err)
	}
	return append(b, '\n'), nil
}

// setState rewrites the journal with a new state.
func (j *journal) setState(s string) error {
	old := j.State
	j.State = s
	if err := j.write(); err != nil {
		j.State = old
		return err
	}
	return nil
}

// remove deletes the journal durably; a missing journal is not an error.
func (j *journal) remove() error {
	if err := os.Remove(j.path); err != nil && !errors.Is(err, os.ErrNotExist) {
		return fmt.Errorf("remove journal: %w", err)
	}
	if err := syncDir(filepath.Dir(j.path)); err != nil {
		return fmt.Errorf("remove journal %s: %w", j.path, err)
	}
	return nil
}

// readJournal loads the journal at path. It returns (nil, nil) when there
// is none.
func readJournal(path string) (*journal, error) {
	b, err := os.ReadFile(path)
	if errors.Is(err, os.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("read journal: %w", err)
	}
	return parseJournal(b, path)
}

// JournalState reads the swap journal at path without acting on it and
// returns its state: "aside" and "ready" (Recover undoes the swap),
// "committed" (Recover finishes it). An unusable journal is an ErrJournal;
// none at all is "" and no error. It is how a check tells an operator what
// the next SST will do.
func JournalState(path string) (string, error) {
	j, err := readJournal(path)
	if err != nil || j == nil {
		return "", err
	}
	return j.State, nil
}

// parseJournal decodes and checks the journal b read from path.
func parseJournal(b []byte, path string) (*journal, error) {
	j := &journal{}
	if err := json.Unmarshal(b, j); err != nil {
		return nil, fmt.Errorf("%w %s: %w", ErrJournal, path, err)
	}
	j.path = path
	if err := j.check(); err != nil {
		return nil, fmt.Errorf("%w %s: %w", ErrJournal, path, err)
	}
	return j, nil
}

// check validates a decoded journal and fills its derived fields.
func (j *journal) check() error {
	if j.Format != journalFormat {
		return fmt.Errorf("format %q is not %q", j.Format, journalFormat)
	}
	if j.Version != journalVersion {
		return fmt.Errorf("version %d, want %d", j.Version, journalVersion)
	}
	switch j.State {
	case stateAside, stateReady, stateCommitted:
	default:
		return fmt.Errorf("unknown state %q", j.State)
	}
	if j.Keep != "" {
		re, err := regexp.Compile(j.Keep)
		if err != nil {
			return fmt.Errorf("keep pattern: %w", err)
		}
		j.keep = re
	}
	asides := map[string]bool{}
	for _, a := range j.Asides {
		if !filepath.IsAbs(a) || filepath.Base(a) != AsideName {
			return fmt.Errorf("aside directory %q is not <absolute dir>/%s", a, AsideName)
		}
		asides[a] = true
	}
	for _, d := range j.Dirs {
		if !filepath.IsAbs(d) {
			return fmt.Errorf("directory %q is not absolute", d)
		}
	}
	// Every move must be <p>/<name> -> <p>/.sst-old/<name> with <p>/.sst-old
	// listed: Recover never renames anything the journal could point
	// elsewhere.
	for _, m := range j.Moves {
		p, name := filepath.Split(m.Src)
		want := filepath.Join(p, AsideName, name)
		if !filepath.IsAbs(m.Src) || name == "" || m.Dst != want || !asides[filepath.Dir(m.Dst)] {
			return fmt.Errorf("move %q -> %q is not <dir>/<name> -> <dir>/%s/<name>", m.Src, m.Dst, AsideName)
		}
	}
	j.initSkip()
	return nil
}

// skipped reports whether p (absolute, its directory resolved) is never
// moved nor removed: listed in Skip, matched by a Skip pattern, an aside
// directory or the journal.
func (j *journal) skipped(p string) bool {
	if j.skip[p] {
		return true
	}
	for _, pat := range j.skipPats {
		if filepath.Dir(pat) != filepath.Dir(p) {
			continue
		}
		if ok, _ := filepath.Match(filepath.Base(pat), filepath.Base(p)); ok {
			return true
		}
	}
	return false
}

// initSkip builds the set of paths never moved nor removed: the plan's
// skip list, the aside directories and the journal itself.
func (j *journal) initSkip() {
	j.skip = map[string]bool{j.path: true, j.path + ".tmp": true}
	j.skipPats = nil
	for _, s := range j.Skip {
		if strings.Contains(filepath.Base(s), "*") {
			j.skipPats = append(j.skipPats, s)
			continue
		}
		j.skip[s] = true
	}
	for _, a := range j.Asides {
		j.skip[a] = true
	}
}
