package swap

import (
	"errors"
	"io/fs"
	"path/filepath"
	"strings"

	"wsrep_sst_mariabackup/internal/ui"
)

// Filesystem is one filesystem holding some of a Plan's directories.
type Filesystem struct {
	// Path is the first of the plan's directories on it.
	Path string
	// Free is the space available on it (statfs f_bavail * f_bsize).
	Free int64
	// Moved is what Begin would move aside from its directories: the
	// allocated bytes the stock wipe would free there.
	Moved int64
	// Unreadable lists the paths under its directories whose size could
	// not be read (permission denied): Moved leaves them out.
	Unreadable []string
}

// Space measures, for each filesystem holding one of p.Dirs (in the order
// of p.Dirs, missing directories left out), its free space and the bytes
// Begin would move from it. A directory inside another of p.Dirs is
// counted with the one it is in. p.Extra is not counted. Nothing is
// changed.
func Space(p Plan) ([]Filesystem, error) {
	var out []Filesystem
	byDev := map[uint64]int{}
	for _, d := range p.Dirs {
		if d == "" {
			continue
		}
		dev, err := Device(d)
		if errors.Is(err, fs.ErrNotExist) {
			continue
		}
		if err != nil {
			return nil, err
		}
		i, ok := byDev[dev]
		if !ok {
			free, err := Free(d)
			if err != nil {
				return nil, err
			}
			i = len(out)
			byDev[dev] = i
			out = append(out, Filesystem{Path: d, Free: int64(min(free, 1<<62))})
		}
		if inAny(d, p.Dirs) {
			continue
		}
		one := p
		one.Dirs, one.Extra = []string{d}, nil
		n, unreadable, err := SizeUnreadable(one)
		if err != nil {
			return nil, err
		}
		out[i].Moved += n
		out[i].Unreadable = append(out[i].Unreadable, unreadable...)
	}
	return out, nil
}

// inAny reports whether d lies inside another of dirs.
func inAny(d string, dirs []string) bool {
	for _, o := range dirs {
		if o != "" && o != d && strings.HasPrefix(filepath.Clean(d), filepath.Clean(o)+"/") {
			return true
		}
	}
	return false
}

// Margin is the slack the joiner adds to the space it expects n bytes of
// new data to need: 5% and 64 MiB, for the estimate's error (a donor's
// total is the footprint of its datadir, not of the backup) and the logs
// written beside.
func Margin(n int64) int64 { return n/20 + 64<<20 }

// Bytes is ui.Bytes, the one byte formatter; it stays here only for the
// v2 flows' messages (internal/sst v2*.go, reference.go) until they call ui.
func Bytes(n int64) string { return ui.Bytes(n) }
