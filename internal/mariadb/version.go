package mariadb

import (
	"fmt"
	"regexp"
	"strconv"
)

// Version is a MariaDB server version, 10.11.19 as {10, 11, 19}.
type Version struct{ Major, Minor, Patch int }

// String is "major.minor.patch".
func (v Version) String() string { return fmt.Sprintf("%d.%d.%d", v.Major, v.Minor, v.Patch) }

// Series is "major.minor", the major version in MariaDB's sense: what
// selects the version-suffixed option groups ([mariadb-10.11]).
func (v Version) Series() string { return fmt.Sprintf("%d.%d", v.Major, v.Minor) }

// maxPart bounds each number of a version: no real version comes near,
// and the bound keeps the arithmetic of callers far from overflow.
const maxPart = 9999

// serverRE finds the server version in "mariadb-backup based on MariaDB
// server 10.11.19-MariaDB ..." and "mariadbd  Ver 10.11.19-MariaDB-0+deb12u1 ...":
// MariaDB appends "-MariaDB" to every server version it prints.
var serverRE = regexp.MustCompile(`\b(\d+)\.(\d+)\.(\d+)-MariaDB`)

// writtenRE is a version as a person writes it: 10.6.21, 10.6, or a
// server's whole version string (10.6.21-MariaDB-log).
var writtenRE = regexp.MustCompile(`^(\d+)\.(\d+)(?:\.(\d+))?(?:-.*)?$`)

// FindVersion returns the first server version in out, the output of a
// MariaDB program's --version, and false when there is none.
func FindVersion(out string) (Version, bool) {
	m := serverRE.FindStringSubmatch(out)
	if m == nil {
		return Version{}, false
	}
	return atoi(m[1], m[2], m[3])
}

// ParseVersion parses all of s as a version a person writes: "10.6.21",
// "10.6" or a server's whole version string ("10.6.21-MariaDB-log").
// Without a patch level, Patch is -1: what stands for it is the caller's
// choice. It returns false when s is none of these.
func ParseVersion(s string) (Version, bool) {
	m := writtenRE.FindStringSubmatch(s)
	if m == nil {
		return Version{}, false
	}
	if m[3] == "" {
		v, ok := atoi(m[1], m[2], "0")
		if !ok {
			return Version{}, false
		}
		v.Patch = -1
		return v, true
	}
	return atoi(m[1], m[2], m[3])
}

func atoi(major, minor, patch string) (Version, bool) {
	var v Version
	var err error
	for _, f := range []struct {
		s string
		p *int
	}{{major, &v.Major}, {minor, &v.Minor}, {patch, &v.Patch}} {
		if *f.p, err = strconv.Atoi(f.s); err != nil || *f.p > maxPart {
			return Version{}, false
		}
	}
	return v, true
}
