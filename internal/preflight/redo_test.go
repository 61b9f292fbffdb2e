package preflight

import (
	"path/filepath"
	"strings"
	"testing"
)

func mustPeer(t *testing.T, s string) version {
	t.Helper()
	v, err := parsePeer(s)
	if err != nil {
		t.Fatal(err)
	}
	return v
}

// TestRedoFormat: the format boundaries are 10.5.1 and 10.8.1.
func TestRedoFormat(t *testing.T) {
	tests := []struct {
		v    string
		want int
	}{
		{"10.3.39", 0}, {"10.4.34", 0}, {"10.5.0", 0}, {"10.5.1", 1}, {"10.5", 1}, {"10.6.21", 1},
		{"10.7.8", 1}, {"10.8.0", 1}, {"10.8.1", 2}, {"10.8", 2}, {"10.11.19", 2}, {"11.4.5", 2}, {"11.8.3", 2},
	}
	for _, tt := range tests {
		if got := redoFormat(mustPeer(t, tt.v)); got != tt.want {
			t.Errorf("redoFormat(%s) = %d, want %d", tt.v, got, tt.want)
		}
	}
}

// TestCanPrepare: a table of (tool, backup) pairs.
func TestCanPrepare(t *testing.T) {
	tests := []struct {
		tool, backup string
		want         bool
		change       string // redoChange(tool, backup)
	}{
		{"10.11.19", "10.11.6", true, ""},
		{"10.11.6", "10.11.19", true, ""}, // same series: patch levels do not matter
		{"10.11.19", "10.8.8", true, ""},
		{"11.8.3", "10.11.19", true, ""},  // TestMixedVersions: 10.11 -> 11.8 SST works
		{"10.11.19", "11.8.3", false, ""}, // README: 10.11 cannot prepare an 11.8 backup
		{"10.11.19", "10.6.21", false, "of 10.8.1 (MDEV-14425)"},
		{"10.6.21", "10.6.21", true, ""},
		{"10.6.21", "10.5.27", true, ""},
		{"10.7.8", "10.6.21", true, ""},
		{"10.6.21", "10.4.34", false, "of 10.5.1 (MDEV-12353)"},
		{"11.8.3", "10.4.34", false, "of 10.5.1 (MDEV-12353) and of 10.8.1 (MDEV-14425)"},
		{"10.6.21", "10.11.19", false, "of 10.8.1 (MDEV-14425)"},
		{"10.4.34", "10.3.39", true, ""},
	}
	for _, tt := range tests {
		tool, backup := mustPeer(t, tt.tool), mustPeer(t, tt.backup)
		if got := canPrepare(tool, backup); got != tt.want {
			t.Errorf("canPrepare(%s, %s) = %v, want %v", tt.tool, tt.backup, got, tt.want)
		}
		if got := redoChange(tool, backup); got != tt.change {
			t.Errorf("redoChange(%s, %s) = %q, want %q", tt.tool, tt.backup, got, tt.change)
		}
	}
}

func TestParsePeer(t *testing.T) {
	for s, want := range map[string]version{
		"10.6.21": {10, 6, 21}, "10.6": {10, 6, 1}, "11.8.3-MariaDB-log": {11, 8, 3}, "10.11.19-MariaDB-0+deb12u1": {10, 11, 19},
	} {
		if got := mustPeer(t, s); got != want {
			t.Errorf("parsePeer(%q) = %v, want %v", s, got, want)
		}
	}
	for _, s := range []string{"", "10", "ten", "10.x.1", "v10.6", "10.6.21.4", "99999.1"} {
		if _, err := parsePeer(s); err == nil {
			t.Errorf("parsePeer(%q) = nil error, want one", s)
		}
	}
}

// TestPeerVerdicts: the level and the words of the line for each pair and
// role; a joiner that cannot prepare is a problem, a donor's peer needing
// a setting on its side is a warning.
func TestPeerVerdicts(t *testing.T) {
	tests := []struct {
		name     string
		local    string
		prepare  string   // prepare-tool's version, "" for unset
		peer     string   // peer server version
		role     string   // joiner or donor (this node's role)
		level    Level    // of the finding
		contains []string // in its line
	}{
		{"same series joiner", "10.11.19", "", "10.11.6", "joiner", Note,
			[]string{"does not straddle", "its own mariadb-backup 10.11.19, which can: no prepare-tool needed"}},
		{"same series donor", "10.11.19", "", "10.11.6", "donor", Note,
			[]string{"does not straddle", "its own 10.11 mariadb-backup, which can"}},
		{"upgrade no straddle joiner", "11.8.3", "", "10.11.19", "joiner", Note,
			[]string{"from the 10.11.19 donor to this 11.8.3 joiner does not straddle", "no prepare-tool needed"}},
		{"straddle joiner without tool", "10.11.19", "", "10.6.21", "joiner", Problem,
			[]string{"straddles the InnoDB redo-log format change of 10.8.1 (MDEV-14425)", "the joiner prepares the donor's backup",
				"its own mariadb-backup 10.11.19 cannot prepare a 10.6 backup", "fix: on this joiner set [sst] prepare-tool = /path/to/the 10.6 mariadb-backup"}},
		{"straddle joiner with right tool", "10.11.19", "10.6.21", "10.6.21", "joiner", Note,
			[]string{"straddles", "prepare-tool=/opt/mb/mariadb-backup (mariadb-backup 10.6.21), which can prepare a 10.6 backup"}},
		{"straddle joiner with newer same-format tool", "10.11.19", "10.7.8", "10.6.21", "joiner", Note,
			[]string{"(mariadb-backup 10.7.8), which can prepare a 10.6 backup"}},
		{"straddle joiner with wrong tool", "10.11.19", "10.11.19", "10.6.21", "joiner", Problem,
			[]string{"is mariadb-backup 10.11.19 and cannot prepare a backup across the redo-log format change of 10.8.1", "fix: on this joiner set [sst] prepare-tool = /path/to/the 10.6"}},
		{"straddle joiner with older tool", "10.11.19", "10.5.27", "10.6.21", "joiner", Problem,
			[]string{"is mariadb-backup 10.5.27 and cannot prepare a newer major version's backup"}},
		{"needless tool is checked too", "10.11.19", "10.6.21", "10.11.6", "joiner", Problem,
			[]string{"does not straddle", "prepare-tool=/opt/mb/mariadb-backup, which is mariadb-backup 10.6.21 and cannot prepare a backup across", "or remove prepare-tool"}},
		{"straddle donor", "10.6.21", "", "10.11.19", "donor", Warning,
			[]string{"from this 10.6.21 donor to the 10.11.19 joiner straddles the InnoDB redo-log format change of 10.8.1", "fix: on the joiner set [sst] prepare-tool = /path/to/the 10.6 mariadb-backup"}},
		{"two changes", "11.8.3", "", "10.4.34", "joiner", Problem,
			[]string{"of 10.5.1 (MDEV-12353) and of 10.8.1 (MDEV-14425)", "prepare-tool = /path/to/the 10.4 mariadb-backup"}},
		{"downgrade joiner", "10.11.19", "", "11.8.3", "joiner", Problem,
			[]string{"from the 11.8.3 donor to this 10.11.19 joiner is a downgrade:", "fix: let a 10.11 node be this node's donor"}},
		{"downgrade joiner across format", "10.6.21", "10.11.19", "10.11.19", "joiner", Problem,
			[]string{"is a downgrade across the InnoDB redo-log format change of 10.8.1", "upgrade this node to 10.11"}},
		{"downgrade donor", "10.11.19", "", "10.6.21", "donor", Warning,
			[]string{"from this 10.11.19 donor to the 10.6.21 joiner is a downgrade across", "fix: let the 10.6 joiner take a 10.6 donor"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			local := mustPeer(t, tt.local)
			me := peerSide{server: local, backup: local}
			if tt.prepare != "" {
				pv := mustPeer(t, tt.prepare)
				me.prepareTool, me.prepareVersion = "/opt/mb/mariadb-backup", &pv
			}
			peer := mustPeer(t, tt.peer)
			var f Finding
			if tt.role == "joiner" {
				f = peerJoiner(me, peer, tt.peer)
			} else {
				f = peerDonor(me, peer, tt.peer)
			}
			if f.Level != tt.level {
				t.Errorf("level = %v, want %v: %s", f.Level, tt.level, f)
			}
			for _, w := range tt.contains {
				if !strings.Contains(f.String(), w) {
					t.Errorf("line %q\nlacks %q", f, w)
				}
			}
			if f.Level != Note && f.Fix == "" {
				t.Errorf("a %v without a fix: %s", f.Level, f)
			}
		})
	}
}

// TestPeerVersionRun: --peer-version through Run with fake tools: one line
// per role, the prepare-tool's version found by running it, and the exit
// level (problems) as check computes it.
func TestPeerVersionRun(t *testing.T) {
	tests := []struct {
		name     string
		peer     string
		tool     string // prepare-tool's --version line, "" for none
		role     string
		problems int
		lines    []string // prefixes, one per finding, in order
	}{
		{"same", "10.11.6", "", "both", 0, []string{
			"note: an SST from this 10.11.19 donor to the 10.11.6 joiner does not straddle",
			"note: an SST from the 10.11.6 donor to this 10.11.19 joiner does not straddle"}},
		{"older donor without tool", "10.6.21", "", "joiner", 1, []string{
			"problem: an SST from the 10.6.21 donor to this 10.11.19 joiner straddles"}},
		{"older donor with tool", "10.6", "mariadb-backup based on MariaDB server 10.6.21-MariaDB debian-linux-gnu (x86_64)", "both", 0, []string{
			"warning: an SST from this 10.11.19 donor to the 10.6 joiner is a downgrade across",
			"note: an SST from the 10.6 donor to this 10.11.19 joiner straddles the InnoDB redo-log format change of 10.8.1 (MDEV-14425); the joiner prepares the donor's backup with [sst] prepare-tool="}},
		{"no peer, tool set", "", "mariadb-backup based on MariaDB server 10.6.21-MariaDB debian-linux-gnu (x86_64)", "joiner", 0, []string{
			"note: [sst] prepare-tool=", // "... is mariadb-backup 10.6.21"
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			n := newNode(t)
			if tt.tool != "" {
				n.tool("mb106", tt.tool)
				n.sst = append(n.sst, "prepare-tool="+filepath.Join(n.bin, "mb106"))
			}
			r, err := Run(t.Context(), Params{Role: tt.role, DefaultsFile: n.cnf(), Search: []string{}, PeerVersion: tt.peer,
				Getenv: func(string) string { return "" }, Path: n.bin})
			if err != nil {
				t.Fatal(err)
			}
			if len(r.Findings) != len(tt.lines) {
				t.Fatalf("findings:\n%s\nwant %d", findings(r), len(tt.lines))
			}
			for i, f := range r.Findings {
				if !strings.HasPrefix(f.String(), tt.lines[i]) {
					t.Errorf("finding %d = %q\nwant prefix %q", i+1, f, tt.lines[i])
				}
			}
			if tt.tool != "" && !strings.Contains(findings(r), "mariadb-backup 10.6.21") {
				t.Errorf("the prepare-tool's version is not reported:\n%s", findings(r))
			}
			if got := r.Problems(); got != tt.problems {
				t.Errorf("problems = %d, want %d", got, tt.problems)
			}
		})
	}
	if _, err := Run(t.Context(), Params{PeerVersion: "latest", Search: []string{}}); err == nil || !strings.Contains(err.Error(), `--peer-version "latest"`) {
		t.Errorf("Run with a bad peer version: err = %v", err)
	}
}
